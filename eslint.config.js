import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "build/", "node_modules/", "release/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
      // node:test's test/describe/it return promises the runner itself tracks; awaiting them at top level is not how they are used
      "@typescript-eslint/no-floating-promises": [
        "error",
        { ignoreVoid: false, allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] }] },
      ],
    },
  },
  {
    // plain JS outside tsconfig (the browser page, fixture tools): no type information to check with
    files: ["**/*.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // the web page's script runs in the browser (plain JS, no build step)
    files: ["src/api/page/**/*.js"],
    languageOptions: {
      sourceType: "script",
      globals: Object.fromEntries(["document", "window", "Node", "fetch", "EventSource", "setTimeout", "setInterval", "clearTimeout", "requestAnimationFrame"].map((g) => [g, "readonly"])),
    },
  },
);
