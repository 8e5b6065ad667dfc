// eslint for the JavaScript of pysym (browser/, the browser tests, the benchmarks):
// the recommended rules; code runs in browsers, workers and Node (ES2024 modules).
// Run by `make check`: tools/lint/node_modules/.bin/eslint --config tools/lint/eslint.config.mjs ...
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "module",
      // chrome: the DevTools extension's API (browser/extension, and the Chromium driver's
      // page code)
      globals: { ...globals.browser, ...globals.worker, ...globals.node, chrome: "readonly" },
    },
    rules: {
      // `_x`: deliberately unused (kept for a signature or documentation)
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
];
