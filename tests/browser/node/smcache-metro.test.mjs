// SourceMapCache on React Native maps in Node: the caches Python wrote
// (tests/data/react_native/*.smcache, which tests/test_smcache_metro.py checks are what
// Python builds today) answer as SourceMap does at every mapped position, with Metro's
// function map names, the same Hermes frame positions and the same fields.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as P from "../../../browser/index.js";

const DIR = new URL("../../../tests/data/react_native/", import.meta.url);
const read = (name) => readFileSync(new URL(name, DIR));
const CASES = [
  // [label, map, generated file or null, cache Python wrote]
  ["bytecode", read("index.android.bundle.map"), null, read("bytecode.smcache")],
  ["bundle+js", read("index.android.bundle.js.map"), read("index.android.bundle.js"), read("bundle.smcache")],
];

function positions(sm) {
  const lines = [];
  const cols = [];
  for (const t of sm) {
    for (const c of [t.dstCol, t.dstCol + 1, Math.max(0, t.dstCol - 1)]) {
      lines.push(t.dstLine);
      cols.push(c);
    }
  }
  for (let line = 0; line < 3; line++) {
    lines.push(line, line);
    cols.push(1200, 5000);
  }
  return [lines, cols];
}

for (const [label, map, js, pythonCache] of CASES) {
  test(`${label}: a Metro cache written by Python answers as SourceMap does`, async () => {
    await P.init();
    const sm = P.SourceMap.fromBytes(map);
    if (js) sm.setGeneratedSource(js);
    const cache = P.SourceMapCache.fromBytes(pythonCache);
    assert.ok(cache.hasFunctionMaps && cache.hasFunctionNames && !cache.hasScopes);
    assert.equal(sm.hasFunctionMaps, cache.hasFunctionMaps);
    assert.equal(cache.functionMapsProblem, null);
    assert.equal(cache.functionMapsProblem, sm.functionMapsProblem);
    assert.equal(cache.length, sm.length);
    assert.deepEqual(cache.sources, sm.sources);
    assert.deepEqual(cache.names, sm.names);
    assert.deepEqual([cache.file, cache.debugId, cache.ignoreList], [sm.file, sm.debugId, sm.ignoreList]);
    const [lines, cols] = positions(sm);
    const names = sm.functionNames(lines, cols);
    let named = 0;
    for (const bias of [P.GREATEST_LOWER_BOUND, P.LEAST_UPPER_BOUND]) {
      const want = sm.lookupMany(lines, cols, bias);
      const got = cache.lookupMany(lines, cols, bias);
      for (let i = 0; i < lines.length; i++) {
        if (want[i] === null) {
          assert.equal(got[i], null, `${lines[i]}:${cols[i]}`);
          continue;
        }
        assert.deepEqual(got[i], { ...want[i], functionName: names[i] }, `${lines[i]}:${cols[i]}`);
        assert.deepEqual(cache.lookup(lines[i], cols[i], bias), got[i]);
        if (got[i].functionName !== null) named++;
      }
    }
    assert.ok(named > 100, `${named} named`);
    for (let fid = 0; fid < 22; fid++) {
      for (const offset of [0, 1, 17]) {
        assert.deepEqual(cache.hermesPosition(fid, offset), sm.hermesPosition(fid, offset), `${fid}+${offset}`);
      }
    }
    assert.throws(() => cache.hermesPosition(-1, 0), RangeError);
    if (label === "bytecode") {
      assert.deepEqual(cache.hermesPosition(3, 1), sm.hermesPosition(3, 1));
      assert.notEqual(cache.hermesPosition(3, 1), null);
      assert.equal(cache.lookup(0, 962).functionName, "items.reduce$argument_0");
    }
    cache.close();
    sm.close();
  });

  test(`${label}: the browser builds the very bytes Python built`, async () => {
    await P.init();
    const cache = P.SourceMapCache.fromSourceMap(map, js);
    assert.deepEqual(Buffer.from(cache.toBytes()), pythonCache);
    cache.close();
  });
}

test("a malformed function map: the same problem and answers as SourceMap's", async () => {
  await P.init();
  const m = JSON.parse(read("index.android.bundle.map").toString("utf8"));
  m.x_facebook_sources = [m.x_facebook_sources[0], [{ names: ["x"], mappings: "AAA;ACA" }]];
  const bytes = new TextEncoder().encode(JSON.stringify(m));
  const sm = P.SourceMap.fromBytes(bytes);
  const cache = P.SourceMapCache.fromSourceMap(bytes);
  assert.match(cache.functionMapsProblem, /name index 1 out of range/);
  assert.equal(cache.functionMapsProblem, sm.functionMapsProblem);
  const again = P.SourceMapCache.fromBytes(cache.toBytes());
  assert.equal(again.functionMapsProblem, sm.functionMapsProblem);
  const [lines, cols] = positions(sm);
  const names = sm.functionNames(lines, cols);
  const got = again.lookupMany(lines, cols);
  sm.lookupMany(lines, cols).forEach((w, i) => {
    assert.deepEqual(got[i], w === null ? null : { ...w, functionName: names[i] });
  });
  assert.equal(again.lookup(0, 313).functionName, "report");
  for (const c of [sm, cache, again]) c.close();
});

test("a version-1 cache is refused with InvalidInputError", async () => {
  await P.init();
  const old = readFileSync(new URL("../../../tests/data/js_names/cart.v1.smcache", import.meta.url));
  assert.throws(() => P.SourceMapCache.fromBytes(old), (e) => e instanceof P.InvalidInputError && /version 1.*rebuild/.test(e.message));
});
