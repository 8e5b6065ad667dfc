// The ES module's API in Node: loading, lookups, errors, the file table's NEED_DATA path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as P from "../../../browser/index.js";

const ROOT = new URL("../../../", import.meta.url);
const WASM = new URL("pysym/_wasm/pysym.wasm", ROOT);
const MAP = readFileSync(new URL("examples/app.min.js.map", ROOT));

test("init accepts a URL, bytes, a Response and a compiled Module", async () => {
  const bytes = readFileSync(WASM);
  for (const wasm of [WASM, WASM.href, bytes, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
    new Response(bytes, { headers: { "content-type": "application/wasm" } }), await WebAssembly.compile(bytes)]) {
    const rt = await P.init({ wasm });
    const sm = P.SourceMap.fromBytes(MAP, { runtime: rt });
    assert.equal(sm.lookup(0, 647).src, "app/src/pricing.js");
    sm.close();
  }
  await P.init();
});

test("lookups, metadata and sources content", async () => {
  await P.init();
  const sm = P.SourceMap.fromBytes(MAP);
  assert.deepEqual(sm.lookup(0, 647), { dstLine: 0, dstCol: 647, src: "app/src/pricing.js", srcLine: 8, srcCol: 17, name: null });
  assert.equal(sm.lookup(0, 647), sm.lookup(0, 647), "tokens are cached by index");
  assert.equal(sm.lookup(100, 0), null);
  assert.throws(() => sm.lookup(-1, 0), RangeError);
  assert.equal(sm.lookup(2 ** 32, 0), null);
  const many = sm.lookupMany([0, 0, 7], [647, 673, 0]);
  assert.equal(many.length, 3);
  assert.equal(many[1].name, "priceOf");
  assert.equal(many[2], null);
  assert.ok(sm.sources.includes("app/src/cart.js"));
  assert.ok(sm.sourceContent("app/src/pricing.js").includes("product.price"));
  assert.equal(sm.sourceContent("nope.js"), null);
  assert.equal(sm.sourceContext("app/src/pricing.js", 8, 1).line, "  return product.price;");
  assert.ok(sm.length > 10);
  assert.equal(sm.tokens().length, sm.length);
  const gen = sm.generatedPositions("app/src/pricing.js", 8, 17);
  assert.ok(gen.some((t) => t.dstLine === 0 && t.dstCol === 647));
  sm.close();
  sm.close(); // idempotent
  assert.throws(() => sm.lookup(0, 0), P.PysymError);
});

test("invalid input raises InvalidInputError with the module's message", async () => {
  await P.init();
  assert.throws(() => P.SourceMap.fromBytes("{"), (e) => e instanceof P.InvalidInputError && e.code === -16 && e.message.length > 0);
  assert.throws(() => P.SourceMap.fromBytes('{"version":3,"sources":[],"names":[],"mappings":"!"}'), P.InvalidInputError);
  assert.throws(() => P.SourceMap.fromBytes("[]"), P.InvalidInputError);
});

test("a Blob is read through file_read with the NEED_DATA retry", async () => {
  await P.init();
  const sm = await P.SourceMap.fromBlob(new Blob([MAP]));
  assert.equal(sm.lookup(0, 647).src, "app/src/pricing.js");
  sm.close();
  const direct = await P.SourceMap.fromBlob(new Uint8Array(MAP));
  assert.equal(direct.lookup(0, 647).srcLine, 8);
  direct.close();
  await assert.rejects(P.SourceMap.fromBlob(new Blob(["{"])), P.InvalidInputError);
});

test("a map rebuilds itself in a fresh instance after the old one is thrown away", async () => {
  const rt = await P.init();
  const sm = P.SourceMap.fromBytes(MAP);
  const before = rt.current().serial;
  rt.discard(); // what a trap does
  assert.equal(sm.lookup(0, 647).srcLine, 8);
  assert.notEqual(rt.current().serial, before);
  sm.close();
});

test("a module speaking another ABI version is refused", async () => {
  const { Runtime } = await import("../../../browser/host.js");
  const module = await WebAssembly.compile(readFileSync(WASM));
  const rt = new Runtime(module);
  const orig = WebAssembly.Instance;
  rt.current();
  rt.discard();
  // patch the version export through a proxy instance
  globalThis.WebAssembly.Instance = function (m, i) {
    const inst = new orig(m, i);
    return { exports: { ...inst.exports, pysym_abi_version: () => 999 } };
  };
  try {
    assert.throws(() => rt.current(), (e) => e instanceof P.SandboxError && /version 999/.test(e.message));
  } finally {
    globalThis.WebAssembly.Instance = orig;
  }
});

test("native: a damaged file gives partial answers and says what was skipped", async () => {
  await P.init();
  const sym = readFileSync(new URL("tests/native/prog.sym", ROOT), "utf8");
  const bad = new TextEncoder().encode(sym.replace("11d0 10 25 0", "11d0 10 zz 0").replace("PUBLIC 1200 0 _start", "PUBLIC 12x0 0 _start"));
  const good = await P.SymCache.fromObject(new TextEncoder().encode(sym));
  assert.deepEqual(good.warnings, []);
  for (const source of [bad, new Blob([bad])]) {
    const sc = await P.SymCache.fromObject(source);
    assert.deepEqual(sc.warnings, ["1 line skipped: bad address at line 25", "1 line skipped: bad line number at line 24"]);
    assert.deepEqual(sc.lookup(0x1195), good.lookup(0x1195));
    const obj = source instanceof Blob ? await P.NativeObject.fromBlob(source) : P.NativeObject.fromBytes(source);
    assert.deepEqual([obj.kind, obj.debugFile, obj.codeOffset, obj.warnings], ["breakpad", null, null, ["1 line skipped: bad address at line 25"]]);
    sc.close();
  }
  // Loaded from bytes: no build, no warnings.
  assert.deepEqual(P.SymCache.fromBytes(good.toBytes()).warnings, []);
  good.close();
});

test("native: a large debug file in a Blob is read by ranges, not in full", { skip: !process.env.PYSYM_GOLDEN && "PYSYM_GOLDEN not set" }, async () => {
  await P.init();
  const { readFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const index = JSON.parse(await readFile(join(process.env.PYSYM_GOLDEN, "index.json"), "utf8"));
  if (index.native.skipped) return;
  const exe = new Uint8Array(await readFile(join(process.env.PYSYM_GOLDEN, index.native.exe)));
  // 16 MiB of trailing data that no section refers to
  const padded = new Blob([exe, new Uint8Array(16 << 20)]);
  let read = 0;
  const counting = {
    __proto__: padded, size: padded.size,
    slice: (a, b) => { read += b - a; return padded.slice(a, b); },
    arrayBuffer: () => { read += padded.size; return padded.arrayBuffer(); },
  };
  Object.setPrototypeOf(counting, Blob.prototype);
  const sc = await P.SymCache.fromObject(counting);
  const seen = [];
  const direct = await P.SymCache.fromObject(exe, { progress: (f) => seen.push(f) });
  assert.ok(seen.length >= 2 && seen.at(-1) === 1, `progress ${seen}`);
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
  assert.deepEqual(sc.toBytes(), direct.toBytes());
  assert.ok(read > 0 && read < padded.size / 4, `read ${read} of ${padded.size} bytes`);
  const obj = await P.NativeObject.fromBlob(new Blob([exe]));
  assert.equal(obj.kind, "elf");
  assert.throws(() => P.SymCache.fromBytes(new Uint8Array(64)), P.InvalidInputError);
  await assert.rejects(P.SymCache.fromObject(new Uint8Array(100)), P.InvalidInputError);
  sc.close();
  sc.close();
  assert.throws(() => sc.lookup(0), P.PysymError);
  direct.close();
});

test("native: a build streams its output once, after the NEED_DATA retries; a failed output leaves the runtime usable", { skip: !process.env.PYSYM_GOLDEN && "PYSYM_GOLDEN not set" }, async () => {
  const rt = await P.init();
  const { BuildOutput } = await import("../../../browser/host.js");
  const { readFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const index = JSON.parse(await readFile(join(process.env.PYSYM_GOLDEN, "index.json"), "utf8"));
  if (index.native.skipped) return;
  const exe = new Uint8Array(await readFile(join(process.env.PYSYM_GOLDEN, index.native.exe)));
  const want = new Uint8Array(await readFile(join(process.env.PYSYM_GOLDEN, index.native.symcache)));
  const { begin, write } = BuildOutput.prototype;
  let begun = 0;
  let builds = 0;
  const call = rt.call.bind(rt);
  rt.call = (name, ...args) => {
    if (name === "pysym_symcache_build") builds += 1;
    return call(name, ...args);
  };
  BuildOutput.prototype.begin = function (size) {
    begun += 1;
    return begin.call(this, size);
  };
  try {
    // A Blob is read through NEED_DATA: the build is called again after each load, and
    // only the last call (every read served) writes output.
    const sc = await P.SymCache.fromObject(new Blob([exe]));
    assert.ok(builds > 1, `${builds} build calls`);
    assert.equal(begun, 1);
    assert.deepEqual(sc.toBytes(), want);
    sc.close();
    // A refused or throwing output: HOST_IO, nothing kept, the same instance goes on.
    const serial = rt.current().serial;
    BuildOutput.prototype.write = () => -5;
    await assert.rejects(P.SymCache.fromObject(exe), (e) => e instanceof P.PysymError && e.code === -5);
    BuildOutput.prototype.write = function () {
      throw new Error("disk on fire");
    };
    await assert.rejects(P.SymCache.fromObject(exe), (e) => e instanceof P.PysymError && e.code === -5);
    assert.equal(rt.current().serial, serial);
  } finally {
    BuildOutput.prototype.begin = begin;
    BuildOutput.prototype.write = write;
    rt.call = call;
  }
  const again = await P.SymCache.fromObject(exe);
  assert.deepEqual(again.toBytes(), want);
  again.close();
});

test("stack traces parse like the Python side", () => {
  const f = P.parseLine("    at async new Foo.bar [as baz] (https://x.test/a.js:3:14)");
  assert.equal(f.function, "Foo.bar");
  assert.equal(f.alias, "baz");
  assert.ok(f.isAsync && f.isConstructor);
  assert.deepEqual([f.url, f.line, f.col], ["https://x.test/a.js", 3, 14]);
  const g = P.parseLine("async*h@https://example.com/static/app.min.js:1:1197");
  assert.deepEqual([g.style, g.function, g.isAsync, g.col], ["gecko", "h", true, 1197]);
  assert.equal(P.parseLine("at the moment (not sure)"), null);
  assert.equal(P.urlBasename("https://x/static/app.js?v=1#f"), "app.js");
  assert.equal(P.findSourcemapUrl("x;\n//# sourceMappingURL=a.js.map\n"), "a.js.map");
  assert.deepEqual([...P.decodeDataUrl("data:application/json;base64,e30=")], [123, 125]);
});

test("fromUrl fetches a map; a missing one raises PysymError", async () => {
  await P.init();
  const { startServer } = await import("../../../browser/devtools/serve.mjs");
  const server = await startServer(0);
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    const sm = await P.SourceMap.fromUrl(`${base}/examples/app.min.js.map`);
    assert.equal(sm.lookup(0, 647).src, "app/src/pricing.js");
    sm.close();
    await assert.rejects(P.SourceMap.fromUrl(`${base}/examples/nope.map`), P.PysymError);
    const rt = await P.init({ wasm: `${base}/pysym/_wasm/pysym.wasm` }); // fetch + compileStreaming
    assert.ok(rt.current().serial >= 1);
  } finally {
    server.close();
    await P.init();
  }
});

test("function names from the generated file's scopes (the same answers as Python)", async () => {
  await P.init();
  const dir = new URL("tests/data/js_names/", ROOT);
  const sm = P.SourceMap.fromBytes(readFileSync(new URL("cart.min.js.map", dir)));
  assert.throws(() => sm.functionNames([0], [0]), P.PysymError);
  sm.setGeneratedSource(readFileSync(new URL("cart.min.js", dir)));
  const golden = JSON.parse(readFileSync(new URL("cart.names.json", dir), "utf-8")).names;
  const names = sm.functionNames(golden.map((r) => r[0]), golden.map((r) => r[1]));
  assert.deepEqual(names, golden.map((r) => r[2]));
  sm.close();
});

test("React Native: Hermes bytecode frames named by x_facebook_sources (as in Python)", async () => {
  await P.init();
  const dir = new URL("tests/data/react_native/", ROOT);
  const sm = P.SourceMap.fromBytes(readFileSync(new URL("index.android.bundle.map", dir)));
  assert.ok(sm.hasFunctionMaps);
  assert.equal(sm.functionNames([0], [962])[0], "items.reduce$argument_0");
  const trace = readFileSync(new URL("trace_bytecode.txt", dir), "utf-8");
  const frame = P.parseLine("    at foo (address at index.android.bundle:1:962)");
  assert.equal(frame.isBytecode, true);
  assert.equal(frame.col, 962);
  const lines = P.symbolicateTrace(trace, (url) => (url === "index.android.bundle" ? sm : null), null).split("\n");
  assert.equal(lines[2], "    at items.reduce$argument_0 (src/cart.js:11:22)");
  assert.equal(lines[4], "    at Cart.prototype.total (src/cart.js:9:27)");
  assert.ok(lines.includes("    at report (src/App.js:7:7)"));
  assert.ok(lines.includes("    at __r (address at index.android.bundle:1:199)"));
  sm.close();
});

test("React Native: a Hermes crash frame's position from x_hermes_function_offsets", async () => {
  await P.init();
  const sm = P.SourceMap.fromBytes(readFileSync(new URL("tests/data/react_native/index.android.bundle.map", ROOT)));
  // function 17 starts at bytecode offset 972 (the map's x_hermes_function_offsets)
  assert.deepEqual(sm.hermesPosition(17, 51), [0, 1023]);
  assert.equal(sm.hermesPosition(1000, 0), null);
  assert.throws(() => sm.hermesPosition(-1, 0), RangeError);
  sm.close();
});
