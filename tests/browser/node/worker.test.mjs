// PysymWorker: calls off the main thread; a runaway call is stopped by the timeout and
// the next call succeeds in a fresh worker.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { PysymWorker } from "../../../browser/worker-client.js";
import { TimeoutError, InvalidInputError } from "../../../browser/index.js";
import { pathologicalMap } from "../lib/pathological.mjs";

const ROOT = new URL("../../../", import.meta.url);
const MAP = readFileSync(new URL("examples/app.min.js.map", ROOT));

test("a runaway call is stopped by the timeout and the next call succeeds", async () => {
  const w = new PysymWorker({ timeout: 20000 });
  try {
    const sm = await w.loadSourceMap(MAP);
    assert.equal((await sm.lookup(0, 647)).src, "app/src/pricing.js");
    const generation = w.generation;
    const big = pathologicalMap();
    await assert.rejects(w.loadSourceMap(big, { timeout: 5 }).then((m) => m.lookupMany([0], [1], 0, { timeout: 5 })), TimeoutError);
    assert.equal(w.restarts, 1);
    // the next call works, in a fresh worker; the old map reloads itself there
    assert.equal((await sm.lookup(0, 647)).srcLine, 8);
    assert.ok(w.generation > generation);
    const out = await w.symbolicate(readFileSync(new URL("examples/trace.txt", ROOT), "utf8"), {
      "app.min.js": readFileSync(new URL("examples/app.min.js", ROOT)), "app.min.js.map": MAP,
    });
    assert.match(out.value, /at priceOf \(app\/src\/pricing\.js:9:18\)/);
    await assert.rejects(w.loadSourceMap("{"), InvalidInputError);
  } finally {
    w.terminate();
  }
});
