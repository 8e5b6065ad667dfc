// The crash side's stores and worker beyond the golden set: a symbol server that fails
// (fetching_failed, not remembered, as Python's stores), the worker keeping its
// Symbolicator across calls (bounded), and integers past 2**53 read exactly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import * as P from "../../../browser/index.js";
import { PysymWorker } from "../../../browser/worker-client.js";

const ROOT = new URL("../../../", import.meta.url);
const D = "tests/data/minidump/";
const WIN = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym";
const bytes = async (p) => new Uint8Array(await readFile(new URL(p, ROOT)));

/** A loopback symbol server serving WIN; `mode.fail`: "500" answers 500, "reset" drops the connection. */
async function server(mode) {
  const sym = await bytes(D + "symbols/" + WIN);
  const s = createServer((req, res) => {
    if (mode.fail === "reset") return req.socket.destroy();
    if (mode.fail === "500") return res.writeHead(500).end("down");
    if (req.url === "/" + WIN) return res.writeHead(200, { "content-length": sym.length }).end(sym);
    return res.writeHead(404).end();
  });
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  return s;
}

const module = (m) => m.find((x) => (x.code_file || "").endsWith("test_app.exe"));

test("a failing symbol server is fetching_failed, not missing, and asked again", async () => {
  await P.init();
  const mode = { fail: "500" };
  const s = await server(mode);
  try {
    const url = `http://127.0.0.1:${s.address().port}/`;
    const sym = new P.Symbolicator([new P.HttpStore(url, { id: "server" })]);
    const dump = await bytes(D + "test.dmp");
    const crashed = (r) => r.stacktraces.find((t) => t.is_requesting);
    for (const fail of ["500", "reset"]) {
      mode.fail = fail;
      const r = await sym.processMinidump(dump);
      const m = module(r.modules);
      assert.equal(m.debug_status, "fetching_failed", JSON.stringify(m));
      assert.ok(m.debug_error.startsWith(url + "test_app.pdb/"), m.debug_error);
      if (fail === "500") assert.match(m.debug_error, /HTTP 500$/);
      assert.equal(crashed(r).frames[0].status, "missing");
    }
    // a closed port: fetch() rejects with a TypeError, still a download error
    const closed = new P.Symbolicator([new P.HttpStore("http://127.0.0.1:1/")]);
    assert.equal(module((await closed.processMinidump(dump)).modules).debug_status, "fetching_failed");
    // not remembered: the server back, the same symbolicator finds the file
    mode.fail = null;
    const ok = await sym.processMinidump(dump);
    assert.equal(module(ok.modules).debug_status, "found");
    assert.equal(crashed(ok).frames[0].function, "`anonymous namespace'::CrashFunction");
    // a 404 is a clean "missing"
    const missing = await new P.Symbolicator([new P.HttpStore(url + "nothing/")]).processMinidump(dump);
    assert.equal(module(missing.modules).debug_status, "missing");
  } finally {
    s.close();
  }
});

test("the worker keeps its symbolicator for the same stores, bounded", async () => {
  const w = new PysymWorker({ timeout: 60000 });
  try {
    const sym = await bytes(D + "symbols/" + WIN);
    const dump = new Blob([await bytes(D + "test.dmp")]);
    const files = new Map([[WIN, new Blob([sym])]]);
    const first = await w.processMinidump(dump, { stores: [{ files }] });
    assert.deepEqual(first.stats, { builds: 1, cacheHits: 0, memoryHits: 0, cfiBuilds: 1 });
    const again = await w.processMinidump(dump, { stores: [{ files }] });
    assert.deepEqual(again.stats, { builds: 0, cacheHits: 0, memoryHits: 1, cfiBuilds: 0 }); // nothing rebuilt
    assert.deepEqual(again.value, first.value);
    // the same bytes in a new Blob: another file set, built again
    const other = await w.processMinidump(dump, { stores: [{ files: new Map([[WIN, new Blob([sym])]]) }] });
    assert.equal(other.stats.builds, 1);
    // three store sets are kept: a fourth drops the oldest (the first)
    for (const id of ["b", "c"]) await w.processMinidump(dump, { stores: [{ files, id }] });
    assert.equal((await w.processMinidump(dump, { stores: [{ files }] })).stats.builds, 1);
    // calls at the same time on one kept symbolicator: each its own answer and stats
    const together = await Promise.all([1, 2, 3].map(() => w.processMinidump(dump, { stores: [{ files }] })));
    assert.ok(together.every((r) => JSON.stringify(r.value) === JSON.stringify(first.value) && r.stats.builds === 0 && r.stats.memoryHits === 1));
    // a request through the kept symbolicator of a layout's files
    const r = await w.symbolicateCrash({ modules: [], stacktraces: [] }, { stores: [{ files }] });
    assert.deepEqual(r.value, { status: "completed", stacktraces: [], modules: [] });
  } finally {
    w.terminate();
  }
});

test("integers past 2**53 stay exact through parseJson, Symbolicator and stringifyJson", async () => {
  await P.init();
  const text = '{"modules": [{"type": "elf", "image_addr": 18446744071562067968, "image_size": 4096, "tag": 18446744073709551615}],'
    + ' "stacktraces": [{"frames": [{"instruction_addr": 18446744071562067969}, {"instruction_addr": 9007199254740993}], "thread_id": 9223372036854775807}]}';
  const req = P.parseJson(text);
  assert.equal(req.modules[0].image_addr, 18446744071562067968n);
  assert.equal(req.stacktraces[0].frames[1].instruction_addr, 9007199254740993n);
  const out = await new P.Symbolicator([]).symbolicate(req);
  assert.equal(out.modules[0].image_addr, "0xffffffff80000000");
  assert.deepEqual(out.stacktraces[0].frames.map((f) => [f.instruction_addr, f.status]),
    [["0xffffffff80000001", "missing"], ["0x20000000000001", "unknown_image"]]);
  const json = P.stringifyJson(out);
  assert.ok(json.includes('"tag":18446744073709551615') && json.includes('"thread_id":9223372036854775807'), json);
  // JSON.parse alone would have moved the address to another one
  assert.notEqual(BigInt(JSON.parse(text).stacktraces[0].frames[1].instruction_addr), 9007199254740993n);
  // strings that look like big numbers, floats and small integers are left alone
  assert.deepEqual(P.parseJson('["18446744073709551615", 1.5e300, -3, "\\"9007199254740993"]'), ["18446744073709551615", 1.5e300, -3, '"9007199254740993']);
  assert.throws(() => P.parseJson("{bad"), SyntaxError);
});

test("the worker: a SystemStore's files and local sources cross into it", { skip: !process.env.PYSYM_GOLDEN && "PYSYM_GOLDEN not set (run through pytest)" }, async () => {
  const { join } = await import("node:path");
  const G = process.env.PYSYM_GOLDEN;
  const spec = JSON.parse(await readFile(join(G, "index.json"), "utf8")).crash;
  const r = spec.requests.find((q) => q.name === "lldb crash: local sources");
  if (!r) {
    assert.ok(spec.lldb_skipped, "the lldb cases are in the golden set");
    return;
  }
  const { request, response } = P.parseJson(await readFile(join(G, r.file), "utf8"));
  const blob = async (p) => new Blob([await readFile(join(G, p))]);
  const s = spec.stores["lldb-system"];
  const system = { kind: "system", files: new Map(), debugDirs: s.debug_dirs, moduleFiles: s.module_files, id: "lldb-system" };
  for (const [path, copy] of s.files) system.files.set(path, await blob(copy));
  const tree = spec.stores["lldb-buildid"];
  const files = new Map();
  for (const f of tree.files) files.set(f, await blob(`${tree.root}/${f}`));
  const localSources = new Map();
  for (const [path, copy] of r.options.localSources) localSources.set(path, await blob(copy));
  const w = new PysymWorker({ timeout: 120000 });
  try {
    const got = await w.symbolicateCrash(request, { stores: [{ files, id: "lldb-buildid" }], localSources });
    assert.deepEqual(got.value, response);
    // the system store (libc by build id) in the worker: the same answer as the golden one's
    const full = spec.requests.find((q) => q.name === "lldb crash: build-id tree + system");
    const want = P.parseJson(await readFile(join(G, full.file), "utf8"));
    const both = await w.symbolicateCrash(want.request, { stores: [{ files, id: "lldb-buildid" }, system] });
    assert.deepEqual(both.value, want.response);
  } finally {
    w.terminate();
  }
});
