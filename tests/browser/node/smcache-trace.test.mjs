// Stack traces through a SourceMapCache in Node give exactly the frames the SourceMap it
// was built from gives (mirrors tests/test_smcache_trace.py): every frame compared whole
// (file, line, column, function and how it was named, name at the position, context), on
// the UglifyJS/preact builds, jQuery's npm map, the example app, the React Native /
// Hermes maps and traces, a map with the ECMA-426 `scopes` field and the tc39 scopes
// fixtures; functionNames with its kinds at every position.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import * as P from "../../../browser/index.js";
import * as abi from "../../../browser/abi.js";

const ROOT = new URL("../../../", import.meta.url);
const read = (path) => readFileSync(new URL(path, ROOT));
const URL_ = "https://cdn.example.com/js/bundle.min.js";

/** A V8 trace with a frame at each 0-based [line, col] (named, constructor, anonymous), then gecko frames. */
function makeTrace(positions, url = URL_, bytecode = false) {
  const out = ["Error: boom"];
  positions.forEach(([line, col], k) => {
    const where = bytecode ? `address at ${url}:${line + 1}:${col}` : `${url}:${line + 1}:${col + 1}`;
    if (k % 2) out.push(`    at ${k % 4 === 1 ? `new f${k}` : `f${k}`} (${where})`);
    else out.push(`    at ${where}`);
  });
  if (!bytecode) positions.forEach(([line, col], k) => out.push(`${k % 3 ? "" : "g"}@${url}:${line + 1}:${col + 1}`));
  return out.join("\n");
}

function frames(text, target, url = URL_, context = null) {
  return P.symbolicateFrames(P.parseStacktrace(text), (u) => (u === url ? target : null), context)
    .filter((x) => typeof x !== "string");
}

/** Asserts every frame through the cache (bare, or with the generated text) is the map's; counts how they were named. */
function sameFrames(mapBytes, js, text, { url = URL_, context = null } = {}) {
  const sm = P.SourceMap.fromBytes(mapBytes);
  const cache = P.SourceMapCache.fromSourceMap(mapBytes, js, { sourcesContent: context !== null });
  try {
    const generated = js === null ? null : new TextDecoder().decode(js);
    const want = frames(text, new P.ResolvedMap(sm, generated), url, context);
    for (const target of [cache, new P.ResolvedMap(cache, generated)]) {
      const got = frames(text, target, url, context);
      assert.equal(got.length, want.length);
      want.forEach((w, i) => assert.deepEqual(got[i], w, w.frame.raw));
    }
    const how = {};
    for (const w of want) how[w.functionFrom] = (how[w.functionFrom] || 0) + 1;
    return how;
  } finally {
    cache.close();
    sm.close();
  }
}

function segments(mapBytes, every = 1) {
  const sm = P.SourceMap.fromBytes(mapBytes);
  const out = [];
  let k = 0;
  for (const t of sm) if (k++ % every === 0) out.push([t.dstLine, t.dstCol]);
  sm.close();
  return out;
}

const BUNDLES = [
  // [label, map, minified file, every n-th segment, context]
  ["cart (UglifyJS)", "tests/data/js_names/cart.min.js.map", "tests/data/js_names/cart.min.js", 1, 1],
  ["preact", "tests/data/js_names/preact.min.js.map", "tests/data/js_names/preact.min.js", 1, null],
  ["jquery", "tests/reference/node_modules/jquery/dist/jquery.min.map",
    "tests/reference/node_modules/jquery/dist/jquery.min.js", 7, null],
  ["example app", "examples/app.min.js.map", "examples/app.min.js", 1, 2],
];

for (const [label, mapPath, jsPath, every, context] of BUNDLES) {
  test(`${label}: frames through the cache are the map's`, async () => {
    await P.init();
    const map = read(mapPath);
    const js = read(jsPath);
    const positions = segments(map, every);
    positions.push(...positions.filter((_, i) => i % 5 === 0).map(([l, c]) => [l, c + 2]));
    let how = sameFrames(map, js, makeTrace(positions), { context });
    assert.ok(how.scope > positions.length, JSON.stringify(how));
    // without the minified file: the caller rule for both
    how = sameFrames(map, null, makeTrace(positions.slice(0, 400)));
    assert.ok(!how.scope && how.caller > 0, JSON.stringify(how));
  });
}

test("example app: the printed traces", async () => {
  await P.init();
  const map = read("examples/app.min.js.map");
  const js = read("examples/app.min.js");
  const url = "https://example.com/static/app.min.js";
  for (const name of ["examples/trace.txt", "examples/trace-firefox.txt"]) {
    const how = sameFrames(map, js, read(name).toString("utf-8"), { url, context: 1 });
    assert.ok(how.scope >= 5, `${name} ${JSON.stringify(how)}`);
  }
});

test("the guard is gone: a cache's own scopes name the frames", async () => {
  await P.init();
  const map = read("tests/data/js_names/cart.min.js.map");
  const cache = P.SourceMapCache.fromSourceMap(map, read("tests/data/js_names/cart.min.js"));
  assert.ok(cache.hasFunctionNames && !cache.hasScopes && !cache.hasFunctionMaps);
  assert.ok(new P.ResolvedMap(cache).scopesReady());
  const got = frames(makeTrace(segments(map)), cache);
  const how = got.map((f) => f.functionFrom);
  assert.ok(how.filter((h) => h === "scope").length > 80 && !how.includes("caller"), JSON.stringify(how));
  const names = new Set(got.map((f) => f.function));
  for (const n of ["Cart.prototype.total", "handlers.retry", "<anonymous>"]) assert.ok(names.has(n), n);
  cache.close();
});

const RN = [
  // [label, map, minified, printed trace, its url]
  ["bytecode", "index.android.bundle.map", null, "trace_bytecode.txt", "index.android.bundle"],
  ["bundle", "index.android.bundle.js.map", null, "trace_source.txt", "index.android.bundle.js"],
  ["bundle+js", "index.android.bundle.js.map", "index.android.bundle.js", "trace_source.txt", "index.android.bundle.js"],
];

for (const [label, mapName, jsName, traceName, url] of RN) {
  test(`React Native ${label}: frames through the cache are the map's`, async () => {
    await P.init();
    const dir = "tests/data/react_native/";
    const map = read(dir + mapName);
    const js = jsName === null ? null : read(dir + jsName);
    let how = sameFrames(map, js, read(dir + traceName).toString("utf-8"), { url, context: 2 });
    assert.ok(how.scope >= 3, JSON.stringify(how));
    how = sameFrames(map, js, makeTrace(segments(map), URL_, label === "bytecode"));
    assert.ok(how.scope > 50, JSON.stringify(how));
  });
}

// the example of the scopes proposal (tests/test_js_scopes_field.py)
const SCOPES_MAP = {
  version: 3, file: "app.js", sources: ["file.js"],
  sourcesContent: ['var x = 1;\nfunction z(message) {\n  let y = 2;\n  console.log(message + y);\n}\nz("Hello World");\n'],
  names: ["x", "z", "message", "y", "_x", "_z", "_m", "_y", '"Hello World"', "2", "global", "function"],
  mappings: "AAAA;AACA;AACA;EACE;AACF;AACA",
  scopes: "BCAAU,DAC,BHBKCC,DCC,CDB,CBR,ECAA,GFG,EHBQC,GHI,FDB,EDBAA,GJK,IAFA,Fc,FA",
};
const SCOPES_GENERATED = 'var _x = 1;\nfunction _z(_m) {\n  let _y = 2;\n  console.log(_m + _y);\n}\nconsole.log("Hello World2");\n';

test("the scopes field (and with function maps): frames through the cache are the map's", async () => {
  await P.init();
  const grid = [];
  for (let line = 0; line < 7; line++) for (let col = 0; col < 30; col += 2) grid.push([line, col]);
  const url = "https://example.com/app.js";
  for (const extra of [{}, { x_facebook_sources: [[{ names: ["fromMetro"], mappings: "AAA" }]] }]) {
    const map = new TextEncoder().encode(JSON.stringify({ ...SCOPES_MAP, ...extra }));
    for (const js of [null, new TextEncoder().encode(SCOPES_GENERATED)]) {
      const how = sameFrames(map, js, makeTrace(grid, url), { url, context: 0 });
      assert.ok(how.scope > 10, JSON.stringify(how));
    }
  }
});

test("tc39 scopes fixtures: the map and the cache agree", async () => {
  await P.init();
  const dir = "tests/conformance/tc39-source-map-tests/decoding/scopes/";
  const names = readdirSync(new URL(dir, ROOT)).filter((n) => n.endsWith(".map"));
  assert.ok(names.length >= 8);
  const grid = [];
  for (let line = 0; line < 4; line++) for (let col = 0; col < 40; col += 3) grid.push([line, col]);
  for (const name of names) {
    const map = read(dir + name);
    const sm = P.SourceMap.fromBytes(map);
    const cache = P.SourceMapCache.fromSourceMap(map);
    assert.equal(cache.hasScopes, sm.hasScopes, name);
    const [ls, cs] = [grid.map((p) => p[0]), grid.map((p) => p[1])];
    if (sm.hasScopes) assert.deepEqual(cache._enclosing(ls, cs), sm._enclosing(ls, cs), name);
    else assert.throws(() => cache.functionNames(ls, cs), P.PysymError);
    cache.close();
    sm.close();
    sameFrames(map, null, makeTrace(grid));
  }
});

test("functionNames and its kinds equal the map's at every position", async () => {
  await P.init();
  const cases = [
    ["tests/data/js_names/cart.min.js.map", "tests/data/js_names/cart.min.js"],
    ["tests/data/js_names/preact.min.js.map", "tests/data/js_names/preact.min.js"],
    ["tests/data/react_native/index.android.bundle.map", null],
    ["tests/data/react_native/index.android.bundle.js.map", null],
    ["tests/data/react_native/index.android.bundle.js.map", "tests/data/react_native/index.android.bundle.js"],
  ];
  for (const [mapPath, jsPath] of cases) {
    const map = read(mapPath);
    const js = jsPath === null ? null : read(jsPath);
    const sm = P.SourceMap.fromBytes(map);
    if (js !== null) sm.setGeneratedSource(js);
    const cache = P.SourceMapCache.fromSourceMap(map, js);
    const ls = [];
    const cs = [];
    for (const [l, c] of segments(map)) for (const d of [0, 1, -1]) { ls.push(l); cs.push(Math.max(0, c + d)); }
    for (let l = 0; l < 3; l++) { ls.push(l, l); cs.push(5000, 9000); }
    const want = sm._enclosing(ls, cs);
    assert.deepEqual(cache._enclosing(ls, cs), want, mapPath);
    assert.deepEqual(cache.functionNames(ls, cs), want.map((e) => e[1]));
    // what a trace reads: the answers its lookups carry, where a token is found
    const tokens = cache.lookupMany(ls, cs);
    const carried = cache._enclosingOf(tokens);
    const none = abi.FUNCTION_KIND_NO_ANSWER;
    tokens.forEach((t, i) => {
      if (t !== null) assert.deepEqual([carried[i][0] === none, carried[i][1]], [want[i][0] === none, want[i][1]]);
    });
    const kinds = new Set(want.map((e) => e[0]));
    assert.ok(kinds.has(abi.FUNCTION_KIND_NAMED));
    assert.equal(kinds.has(abi.FUNCTION_KIND_NO_ANSWER), js === null && mapPath.includes("react_native"), mapPath);
    cache.close();
    sm.close();
  }
});

test("hostile cache bytes: functionNames answers or throws InvalidInputError", async () => {
  await P.init();
  const good = P.SourceMapCache.fromSourceMap(read("tests/data/js_names/cart.min.js.map"),
    read("tests/data/js_names/cart.min.js")).toBytes();
  const ls = [];
  const cs = [];
  for (let i = 0; i < 120; i++) { ls.push(i % 4); cs.push(10 * i); }
  let refused = 0;
  let answered = 0;
  const step = Math.max(1, Math.floor(good.length / 300));
  const at = [];
  for (let i = 12; i < 216; i += 4) at.push(i);
  for (let i = 216; i < good.length; i += step) at.push(i);
  for (const i of at) {
    for (const flip of [0x01, 0x80]) {
      const b = good.slice();
      b[i] ^= flip;
      try {
        const c = P.SourceMapCache.fromBytes(b);
        try {
          if (c.hasFunctionNames) {
            c.functionNames(ls, cs);
            frames(makeTrace(ls.slice(0, 40).map((l, k) => [l, cs[k]])), c);
          }
        } finally {
          c.close();
        }
        answered++;
      } catch (e) {
        assert.ok(e instanceof P.InvalidInputError, String(e));
        refused++;
      }
    }
  }
  assert.ok(refused > 20 && answered > 20, `${refused} refused, ${answered} answered`);
});
