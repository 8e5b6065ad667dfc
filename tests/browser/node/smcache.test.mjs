// SourceMapCache in Node: the cache Python wrote (tests/data/js_names/cart.smcache, which
// tests/test_smcache.py checks is what Python builds today) opens here and answers as
// SourceMap does at every mapped position, with the scope function names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as P from "../../../browser/index.js";

const DIR = new URL("../../../tests/data/js_names/", import.meta.url);
const MAP = readFileSync(new URL("cart.min.js.map", DIR));
const JS = readFileSync(new URL("cart.min.js", DIR));
const PYTHON_CACHE = readFileSync(new URL("cart.smcache", DIR));

function positions() {
  const lines = [];
  const cols = [];
  JS.toString("utf8").split("\n").forEach((text, line) => {
    for (let col = 0; col <= text.length + 2; col++) {
      lines.push(line);
      cols.push(col);
    }
  });
  return [lines, cols];
}

test("a cache written by Python answers as SourceMap does, with function names", async () => {
  await P.init();
  const sm = P.SourceMap.fromBytes(MAP);
  sm.setGeneratedSource(JS);
  const cache = P.SourceMapCache.fromBytes(PYTHON_CACHE);
  assert.ok(cache.hasFunctionNames);
  assert.equal(cache.length, sm.length);
  assert.deepEqual(cache.sources, sm.sources);
  assert.deepEqual(cache.names, sm.names);
  const [lines, cols] = positions();
  const names = sm.functionNames(lines, cols);
  for (const bias of [P.GREATEST_LOWER_BOUND, P.LEAST_UPPER_BOUND]) {
    const want = sm.lookupMany(lines, cols, bias);
    const got = cache.lookupMany(lines, cols, bias);
    let mapped = 0;
    for (let i = 0; i < lines.length; i++) {
      if (want[i] === null) {
        assert.equal(got[i], null);
        continue;
      }
      mapped++;
      assert.deepEqual(got[i], { ...want[i], functionName: names[i] }, `${lines[i]}:${cols[i]}`);
    }
    assert.ok(mapped > lines.length / 2);
  }
  assert.deepEqual(cache.lookup(lines[50], cols[50]), cache.lookupMany([lines[50]], [cols[50]])[0]);
  assert.ok(new Set(names).has("Cart.prototype.total"));
  assert.equal([...cache].length, sm.length);
  cache.close();
  sm.close();
});

test("the browser builds the very bytes Python built", async () => {
  await P.init();
  const cache = P.SourceMapCache.fromSourceMap(MAP, JS);
  assert.deepEqual(Buffer.from(cache.toBytes()), PYTHON_CACHE);
  cache.close();
});

test("hostile cache bytes give InvalidInputError and leave the runtime working", async () => {
  await P.init();
  assert.throws(() => P.SourceMapCache.fromBytes(new Uint8Array(300)), P.InvalidInputError);
  const bad = Uint8Array.from(PYTHON_CACHE);
  bad[8] = 7; // version
  assert.throws(() => P.SourceMapCache.fromBytes(bad), /version 7/);
  const cache = P.SourceMapCache.fromBytes(PYTHON_CACHE);
  assert.notEqual(cache.lookup(0, 30), null);
  cache.close();
});
