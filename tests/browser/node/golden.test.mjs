// browser/ in Node gives exactly what the Python side gives (golden files written by
// tests/browser/golden.py into $PYSYM_GOLDEN, see test_browser.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as P from "../../../browser/index.js";
import { compareAll } from "../lib/golden.mjs";

const ROOT = new URL("../../../", import.meta.url);
const GOLDEN = process.env.PYSYM_GOLDEN;

test("results are identical to the Python API's and CLI's", { skip: !GOLDEN && "PYSYM_GOLDEN not set (run through pytest)" }, async () => {
  await P.init();
  const { checked, mismatches } = await compareAll(
    P,
    async (path) => new Uint8Array(await readFile(new URL(path, ROOT))),
    async (path, binary = false) => (binary ? new Uint8Array(await readFile(join(GOLDEN, path))) : readFile(join(GOLDEN, path), "utf8")),
  );
  assert.ok(checked > 100, `only ${checked} comparisons`);
  assert.deepEqual(mismatches, []);
});
