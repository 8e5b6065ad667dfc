// Minidumps and crash requests inside PysymWorker (a Node worker thread): the same response
// as the Python side's golden file, progress while caches build, a call past its timeout
// stopped (TimeLimitError) and a hostile dump refused with its typed error, the worker
// usable afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PysymWorker } from "../../../browser/worker-client.js";
import { canonical } from "../lib/golden.mjs";

const ROOT = new URL("../../../", import.meta.url);
const GOLDEN = process.env.PYSYM_GOLDEN;
const D = "tests/data/minidump/";
const SYM = "crash-client/509C0610949836F7B70BD88BCF03E5400/crash-client.sym";
const WIN = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym";
const bytes = async (p) => new Uint8Array(await readFile(new URL(p, ROOT)));

test("processMinidump in the worker: Python's response, progress, timeout and bad dumps", { skip: !GOLDEN && "PYSYM_GOLDEN not set (run through pytest)" }, async () => {
  const w = new PysymWorker({ timeout: 60000 });
  try {
    const files = new Map([[SYM, new Blob([await bytes(D + "symbols/" + SYM)])]]);
    const macos = await bytes(D + "pipeline-inlines-macos-segv.dmp");
    const events = [];
    const r = await w.processMinidump(new Blob([macos]), { stores: [{ files, id: "dumpsyms" }], onProgress: (e) => events.push(e) });
    const want = JSON.parse(await readFile(join(GOLDEN, "crash", "pipeline-inlines-macos-segv.dmp.json"), "utf8"));
    assert.equal(canonical(r.value), canonical(want));
    assert.deepEqual(r.stats, { builds: 1, cacheHits: 0, memoryHits: 0, cfiBuilds: 1 });
    assert.deepEqual([...new Set(events.map((e) => e.stage))].sort(), ["cfi", "symcache", "walk"]);
    assert.ok(events.some((e) => e.stage === "symcache" && e.done === 1));

    // a call past its timeout (a dump with 5 ms) is stopped, the worker replaced
    const win = await bytes(D + "test.dmp");
    await assert.rejects(w.processMinidump(win, { timeout: 5 }), { name: "TimeLimitError" });
    assert.equal(w.restarts, 1);
    // hostile input: a typed error, the worker stays
    await assert.rejects(w.processMinidump(new Uint8Array(64).fill(0x41)), { name: "InvalidInputError" });
    const cut = await bytes(D + "linux-mini.dmp");
    const bad = await w.processMinidump(cut.slice(0, 1000)).catch((e) => e);
    const wantCut = JSON.parse(await readFile(join(GOLDEN, "crash", "linux-mini-1000.json"), "utf8"));
    assert.equal(canonical(bad instanceof Error ? { error: bad.name } : bad.value), canonical(wantCut));
    // and the next call answers as Python does
    const winFiles = new Map([[WIN, await bytes(D + "symbols/" + WIN)]]);
    const again = await w.processMinidump(win, { stores: [{ files: winFiles }] });
    const wantWin = JSON.parse(await readFile(join(GOLDEN, "crash", "test.dmp.json"), "utf8"));
    assert.equal(canonical(again.value), canonical(wantWin));
    assert.equal(w.restarts, 1);
  } finally {
    w.terminate();
  }
});
