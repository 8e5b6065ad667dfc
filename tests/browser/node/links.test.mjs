// sourceMappingURL / debugId scanning and data: URLs in the browser host: the module's
// (wasm/core/src/js/links.rs), cut out of the host's own strings in UTF-16 units.
// tests/test_sourcemap_url.py compares these answers with Python's on random texts.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { init } from "../../../browser/runtime.js";
import { bestPerCall } from "./timing.mjs";
import { InvalidInputError } from "../../../browser/errors.js";
import { decodeDataUrl, findDebugId, findLinks, findSourcemapUrl } from "../../../browser/sourcemap-url.js";

before(() => init());

const DID = "85314830-023F-4cf1-a267-535f4e37bb17";

test("annotations", () => {
  const found = [
    ["a();\n//# sourceMappingURL=a.js.map\n", "a.js.map"],
    ["a();\r\n//@ sourceMappingURL=legacy.map\r\n", "legacy.map"],
    ["a();\n/*# sourceMappingURL=block.map */\n", "block.map"],
    ["a(); //# sourceMappingURL=same-line.map", "same-line.map"],
    ["a();\u2028//# sourceMappingURL=ls.map", "ls.map"],
    ["a();\n\ufeff\u00a0//# sourceMappingURL=ws.map\n", "ws.map"],
    ["a();\n//# sourceMappingURL=a.map\n/* unclosed\n", "a.map"],
    ["a();\n//# sourceMappingURL=\n", ""],
  ];
  for (const [js, url] of found) {
    assert.equal(findSourcemapUrl(js), url, JSON.stringify(js));
    assert.equal(findSourcemapUrl(new TextEncoder().encode(js)), url, JSON.stringify(js));
  }
  for (const js of ["", "a();\n", "a();\n//# sourceMappingURL=a.map\nb();\n", "a();\n//# sourceMappingURL=a b.map\n",
    "a();\n//# sourceMappingURL=a.map\n/"]) {
    assert.equal(findSourcemapUrl(js), null, JSON.stringify(js));
  }
});

test("offsets are UTF-16 units of the caller's string", () => {
  const js = `\u{1f600}\ud800;\n//# sourceMappingURL=\u{1f600}\ud800.map\n//# debugId=${DID}`;
  assert.deepEqual(findLinks(js), ["\u{1f600}\ud800.map", DID.toLowerCase()]);
  // bytes: a BOM, and a sequence that is not UTF-8 read as U+FFFD
  const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("//# sourceMappingURL=x"), 0xff]);
  assert.equal(findSourcemapUrl(bytes), "x\ufffd");
});

test("debug ids", () => {
  assert.equal(findDebugId(`a();\n//# debugId=${DID}\n//# sourceMappingURL=a.map\n\n`), DID.toLowerCase());
  assert.equal(findDebugId(`//# debugId=${DID}\n1\n2\n3\n4\n5\n`), null);
  assert.equal(findDebugId(`a(); //# debugId=${DID}\n`), null);
});

test("data URLs", () => {
  const dec = (u) => new TextDecoder().decode(decodeDataUrl(u));
  assert.equal(dec("data:application/json;base64,eyJhIjoxfQ"), '{"a":1}');
  assert.equal(dec("DATA:application/json;charset=utf-8;BASE64,eyJh\n IjoxfQ=="), '{"a":1}');
  assert.equal(dec('data:application/json,{"a":"%C3%A9"}'), '{"a":"\u00e9"}');
  for (const bad of ["https://x/a.map", "data:;base64", "data:;base64,e", "data:;base64,e3$=", "data:;base64,e30==="]) {
    assert.throws(() => decodeDataUrl(bad), InvalidInputError, bad);
  }
  assert.throws(() => decodeDataUrl(7), InvalidInputError);
});

test("hostile inputs: answers in linear time", () => {
  const big = "x".repeat(4 << 20);
  assert.deepEqual(findLinks(big + "//# sourceMappingURL=big.map"), ["big.map", null]);
  assert.deepEqual(findLinks("/*".repeat(1 << 20) + "\n//# sourceMappingURL=a.map"), ["a.map", null]);
  const garbage = new Uint8Array(4 << 20);
  let s = 23;
  for (let i = 0; i < garbage.length; i++) garbage[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
  assert.equal(findLinks(garbage)[1], null);
  // a ratio per character (2 MB against 32 KB), never a wall clock
  for (const make of [(n) => "x".repeat(n), (n) => "\n".repeat(n) + "//# sourceMappingURL=a"]) {
    const small = make(32 << 10);
    const large = make(2 << 20);
    const perChar = (bestPerCall(() => findLinks(large), 1) / large.length) / (bestPerCall(() => findLinks(small), 20) / small.length);
    assert.ok(perChar < 25, `${perChar.toFixed(1)}x per character`);
  }
});
