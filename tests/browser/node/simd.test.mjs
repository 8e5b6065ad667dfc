// pysym.wasm is built with simd128: an engine without WebAssembly SIMD must get an error
// naming SIMD, not V8's "invalid value type 0x7b". Node 20 has SIMD and no flag to turn it
// off, so the message path is driven with probes the engine must reject.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SIMD_PROBE, SIMD_REQUIRED, checkSimd, compileModule } from "../../../browser/host.js";
import { PysymError } from "../../../browser/errors.js";

const MODULE = readFileSync(new URL("../../../pysym/_wasm/pysym.wasm", import.meta.url));

// SIMD_PROBE with its one SIMD instruction (0xfd 0x0f, i8x16.splat) replaced by an
// opcode no proposal assigns: what an engine without SIMD sees in the real probe.
function rejectedProbe() {
  const bytes = Uint8Array.from(SIMD_PROBE);
  const at = bytes.findIndex((b, i) => b === 0xfd && bytes[i + 1] === 0x0f);
  assert.ok(at > 0, "SIMD_PROBE has no i8x16.splat");
  bytes[at + 1] = 0x7f; // 0xfd 0x7f: unassigned SIMD opcode
  return bytes;
}

test("the probe is a SIMD module and this engine runs it", () => {
  assert.ok(WebAssembly.validate(SIMD_PROBE));
  const v128 = SIMD_PROBE.indexOf(0x7b); // result type of the probe's one function type
  assert.ok(v128 > 8, "no v128 type in SIMD_PROBE");
  const noV128 = Uint8Array.from(SIMD_PROBE);
  noV128[v128] = 0x7f; // i32: the splat's v128 no longer matches the result, invalid
  assert.equal(WebAssembly.validate(noV128), false);
  checkSimd(); // does not throw here
});

test("an engine that rejects the probe gets an error naming SIMD and the versions", () => {
  const probe = rejectedProbe();
  assert.equal(WebAssembly.validate(probe), false);
  assert.throws(() => checkSimd(probe), (e) => {
    assert.ok(e instanceof PysymError, String(e));
    assert.equal(e.message, SIMD_REQUIRED);
    assert.match(e.message, /SIMD \(simd128\)/);
    for (const v of ["Chrome/Edge 91+", "Firefox 89+", "Safari 16.4+", "Node 16.4+"]) assert.ok(e.message.includes(v), v);
    return true;
  });
});

test("the shipped module compiles; a broken one keeps its CompileError when SIMD is there", async () => {
  assert.ok((await compileModule(MODULE)) instanceof WebAssembly.Module);
  const broken = Uint8Array.from(MODULE.subarray(0, 64));
  await assert.rejects(compileModule(broken), (e) => e instanceof WebAssembly.CompileError);
});
