// Symbolicator in Node gives the Python Symbolicator's response JSON for every minidump and
// crash request of the golden set (tests/browser/golden.py write_crash).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as P from "../../../browser/index.js";
import { compareCrash } from "../lib/golden.mjs";

const ROOT = new URL("../../../", import.meta.url);
const GOLDEN = process.env.PYSYM_GOLDEN;
const skip = !GOLDEN && "PYSYM_GOLDEN not set (run through pytest)";

async function spec() {
  return JSON.parse(await readFile(join(GOLDEN, "index.json"), "utf8")).crash;
}
const readGolden = (path) => readFile(join(GOLDEN, path), "utf8");
const bytes = async (s, path) => new Uint8Array(await readFile(s.in === "repo" ? new URL(path, ROOT) : join(GOLDEN, path)));

// (Chromium runs the same comparison with every file as a Blob.)
test("minidumps and crash requests give Python's responses", { skip }, async () => {
  await P.init();
  const s = await spec();
  assert.ok(s.requests.length >= 20 || s.requests_skipped, "the golden set has its crash requests");
  // the lldb-made dump and tests/test_crash.py's requests (SystemStore included)
  assert.ok(s.lldb_skipped || (s.requests.filter((r) => r.name.startsWith("lldb")).length >= 25
    && s.minidumps.some((m) => m.in === "golden")), "the golden set has the lldb cases");
  const { checked, mismatches } = await compareCrash(P, s, bytes, readGolden);
  assert.ok(checked >= 10 + (s.requests.length || 0), `only ${checked} comparisons`);
  assert.deepEqual(mismatches, []);
});
