// The browser's stack-trace parser on hostile lines: linear time (a ratio per character,
// 1 MB against 10 KB, never a wall clock) and the line-length cap, as in Python.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { init } from "../../../browser/runtime.js";
import { bestPerCall } from "./timing.mjs";
import { MAX_EVAL_DEPTH, MAX_FRAME_LINE, parseLine } from "../../../browser/stacktrace.js";

before(() => init()); // the parser is the module's

const HOSTILE = {
  "v8 trailing spaces": (n) => "at a" + " ".repeat(n) + "x",
  "alias repeated": (n) => "at f" + " [as g".repeat(n / 6) + "] (a.js:1:2)",
  "gecko trailing spaces": (n) => "f@a" + " ".repeat(n) + "x",
  "location colons": (n) => "at " + ":1".repeat(n / 2) + "x",
  "parens": (n) => "at f " + "(".repeat(n / 2) + ")".repeat(n / 2),
  "nested eval": (n) => "at f (" + "eval at g (".repeat(n / 11) + "a.js:1:2" + "), x:1:1".repeat(n / 11) + ")",
};

for (const [kind, make] of Object.entries(HOSTILE)) {
  test(`linear on hostile lines: ${kind}`, () => {
    const small = make(10_000);
    const big = make(1_000_000);
    const tSmall = bestPerCall(() => parseLine(small, Infinity), 50);
    const tBig = bestPerCall(() => parseLine(big, Infinity), 1);
    const perChar = (tBig / big.length) / (tSmall / small.length);
    assert.ok(perChar < 25, `${kind}: ${perChar.toFixed(1)}x per character`);
  });
}

test("lines longer than the cap are not frames", () => {
  const frame = (fn) => `    at ${fn} (https://cdn.example.com/app.min.js:1:7)`;
  const base = frame("").length;
  const atCap = frame("r".repeat(MAX_FRAME_LINE - base));
  assert.equal(atCap.length, MAX_FRAME_LINE);
  assert.equal(parseLine(atCap).col, 7);
  assert.equal(parseLine(frame("r".repeat(MAX_FRAME_LINE - base + 1))), null);
  // the cap counts code points, as Python does: astral characters count once
  const astral = frame("\u{1F600}".repeat(MAX_FRAME_LINE - base));
  assert.ok(astral.length > MAX_FRAME_LINE);
  assert.equal(parseLine(astral).line, 1);
});

test("eval origins are followed to a bounded depth", () => {
  const nested = (d) => "at f (" + "eval at g (".repeat(d) + "a.js:1:2" + "), x:1:1".repeat(d) + ")";
  let o = parseLine(nested(MAX_EVAL_DEPTH + 5)).evalOrigin;
  let levels = 0;
  while (o.evalOrigin !== null) {
    o = o.evalOrigin;
    levels += 1;
  }
  assert.equal(levels, MAX_EVAL_DEPTH);
  assert.equal(o.line, null);
  assert.notEqual(parseLine(nested(3000)), null);
});
