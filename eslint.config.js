import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "build/", "node_modules/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
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
