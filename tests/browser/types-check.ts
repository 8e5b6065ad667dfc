// Compiled (not run) by tests/browser/node/types.test.mjs: browser/index.d.ts and
// worker-client.d.ts describe the API as used here.
import {
  init, SourceMap, SymCache, InvalidInputError, PysymError, TimeoutError, GREATEST_LOWER_BOUND, LEAST_UPPER_BOUND,
  FileSetResolver, symbolicateTrace, parseStacktrace, type Token, Symbolicator, HttpStore, SymcacheDB, Minidump,
  parseModule, layoutLocations, SystemStore,
} from "../../browser/index.js";
import { PysymWorker } from "../../browser/worker-client.js";

export async function example(bytes: Uint8Array, blob: Blob): Promise<string> {
  await init({ wasm: new URL("https://example.com/pysym.wasm") });
  const sm = SourceMap.fromBytes(bytes);
  const t: Token | null = sm.lookup(0, 1, LEAST_UPPER_BOUND);
  const many: (Token | null)[] = sm.lookupMany([0], new Uint32Array([1]), GREATEST_LOWER_BOUND);
  const sources: (string | null)[] = sm.sources;
  const text: string | null = sm.sourceContent(0);
  const n: number = sm.length + sm.generatedPositions("a.js", 0).length + many.length;
  for (const tok of sm) void tok.dstLine;
  sm.close();
  const fromBlob = await SourceMap.fromBlob(blob);
  fromBlob.close();
  try {
    const sc = await SymCache.fromObject(blob);
    const frames = sc.lookupMany([0x1000, 0x1004n]);
    const fn: string | null = frames[0][0]?.function ?? null;
    void fn;
    SymCache.fromBytes(sc.toBytes()).close();
    sc.close();
  } catch (e) {
    if (e instanceof InvalidInputError || e instanceof PysymError) void e.code;
  }
  const resolver = new FileSetResolver({ "a.js.map": blob }, { loadMap: async (d) => SourceMap.fromBlob(d as Blob) });
  await resolver.prepare("at f (https://x/a.js:1:2)");
  const out: string = symbolicateTrace("trace", resolver.resolve, 2);
  void parseStacktrace(out).length;
  const w = new PysymWorker({ timeout: 100 });
  try {
    const wsm = await w.loadSourceMap(bytes);
    await wsm.lookup(0, 0);
    const r = await w.symbolicate("trace", new Map([["a.js.map", blob]]), { context: null });
    void r.errors.length;
  } catch (e) {
    if (e instanceof TimeoutError) void w.restarts;
  }
  // native crashes
  const sym = new Symbolicator([new FileSetResolver({ "a/B/a.sym": blob }, { layout: "native" }), new HttpStore("https://symbols.example/", { layout: "symstore" }),
    new SystemStore(new Map([["/usr/lib/debug/.build-id/ab/cd.debug", blob]]), { debugDirs: ["/usr/lib/debug"], moduleFiles: false })],
    { cache: new SymcacheDB({ maxBytes: 1 << 20 }), onProgress: (e) => void e.done });
  const crash = await sym.processMinidump(blob);
  const resp = await sym.symbolicate({ modules: [], stacktraces: [] });
  const frames: number = crash.stacktraces.length + resp.modules.length + sym.stats.builds;
  const md = await Minidump.fromBlob(blob);
  const pc: bigint | undefined = md.threads[0]?.registers["rip"];
  void pc;
  void md.systemInfo?.osVersion[0];
  const m = parseModule({ type: "elf", image_addr: "0x1000", image_size: 4096 })[0];
  if (m) void layoutLocations("unified", m).map((l) => l.path);
  const wr = await w.processMinidump(blob, { stores: [{ files: new Map([["x.sym", blob]]), layout: "native" }, { url: "https://s/" }], cache: true, timeout: 1000 });
  void wr.value.modules.length;
  return `${t?.src}${sources.length}${text}${n}${frames}`;
}
