// browser/index.d.ts and worker-client.d.ts compile (tsc --strict) and type the API as
// tests/browser/types-check.ts uses it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const HERE = fileURLToPath(new URL("../", import.meta.url));
const require = createRequire(HERE + "x.js");

test("the .d.ts files type-check", () => {
  const tsc = require.resolve("typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "nodenext",
    "--moduleResolution", "nodenext", "--lib", "es2022,dom,esnext.disposable", "--skipLibCheck", "false",
    HERE + "types-check.ts"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
