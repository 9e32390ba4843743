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
      // a promise nobody awaits must end in a rejection handler (`void` alone is not enough: an
      // unhandled rejection ends the daemon). node:test's test/describe/it are tracked by the runner.
      "@typescript-eslint/no-floating-promises": ["error", {
        ignoreVoid: false,
        allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] }],
      }],
      // passing on a caught value (`catch (err) { reject(err) }`) is as fine as rethrowing it
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingUnknown: true }],
    },
  },
  {
    // tests and benchmarks read untyped JSON (API answers, hook output, `ip -j`, busctl) and print
    // it in assertion messages: a wrong shape fails the assertion, typing every answer buys nothing
    files: ["test/**", "bench/**"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/restrict-template-expressions": "off",
      "@typescript-eslint/restrict-plus-operands": "off",
      "@typescript-eslint/no-base-to-string": "off",
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
