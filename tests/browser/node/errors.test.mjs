// One exception tree in both hosts: browser/errors.js has the classes of pysym/_errors.py
// with the same parents (the JS twin of the Python tree, read from its source).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as errors from "../../../browser/errors.js";
import * as P from "../../../browser/index.js";

const PY = readFileSync(new URL("../../../pysym/_errors.py", import.meta.url), "utf8");

function pythonTree() {
  const tree = {};
  for (const m of PY.matchAll(/^class (\w+)\(([^)]*)\):/gm)) {
    const bases = m[2].split(",").map((b) => b.trim());
    tree[m[1]] = bases.find((b) => b.endsWith("Error") && b !== "ValueError") || null;
  }
  return tree;
}

test("the JS classes are Python's, with the same parents", () => {
  const py = pythonTree();
  assert.ok(Object.keys(py).length >= 9, JSON.stringify(py));
  const js = {};
  for (const [name, value] of Object.entries(errors)) {
    if (typeof value !== "function" || !(value.prototype instanceof Error) || value.name !== name) continue;
    const parent = Object.getPrototypeOf(value);
    js[name] = parent === Error ? null : parent.name;
  }
  assert.deepEqual(js, py);
  for (const name of Object.keys(py)) assert.equal(P[name], errors[name], `index.js exports ${name}`);
});

test("TimeoutError is a deprecated alias of TimeLimitError", () => {
  assert.equal(P.TimeoutError, P.TimeLimitError);
  const e = new P.TimeoutError("late");
  assert.ok(e instanceof P.ResourceLimitError && !(e instanceof P.SandboxError));
  assert.equal(e.name, "TimeLimitError");
});

test("errors cross postMessage as the same class", () => {
  for (const cls of [P.TimeLimitError, P.InputTooLargeError, P.FileChangedError, P.MemoryLimitError]) {
    const back = errors.deserializeError(errors.serializeError(new cls("m", -6)));
    assert.ok(back instanceof cls && back.message === "m" && back.code === -6, cls.name);
  }
  assert.ok(errors.deserializeError({ kind: "TimeoutError", message: "old" }) instanceof P.TimeLimitError);
  assert.ok(!(errors.deserializeError({ kind: "toString", message: "x" }) instanceof P.PysymError));
});
