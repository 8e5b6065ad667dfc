// browser/abi.js (generated from wasm/abi.toml by tools/abigen.py) against the real module
// (the JS twin of tests/test_abi.py, which also checks the generated files for drift).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import * as abi from "../../../browser/abi.js";
import * as errors from "../../../browser/errors.js";
import * as wire from "../../../browser/wire.js";

const ROOT = new URL("../../../", import.meta.url);
const DOC = readFileSync(new URL("wasm/ABI.md", ROOT), "utf8");
const SHIM = readFileSync(new URL("wasm/abi/src/lib.rs", ROOT), "utf8");
// the shim's version is generated into status.rs and re-exported by lib.rs
const SHIM_STATUS = readFileSync(new URL("wasm/abi/src/status.rs", ROOT), "utf8");
const HOST_SOURCES = readdirSync(new URL("browser/", ROOT)).filter((p) => p.endsWith(".js"))
  .map((p) => readFileSync(new URL(`browser/${p}`, ROOT), "utf8"));
const MODULE = WebAssembly.compile(readFileSync(new URL("pysym/_wasm/pysym.wasm", ROOT)));

function docStatusTable() {
  const out = {};
  for (const m of DOC.matchAll(/^\| (-?\d+) \| ([A-Z_]+) \|/gm)) out[Number(m[1])] = m[2];
  return out;
}

test("status codes match the document's table", () => {
  const table = docStatusTable();
  assert.ok(Object.keys(table).length > 0, "no status table in ABI.md");
  assert.deepEqual({ ...abi.STATUS_NAMES }, table);
  for (const [code, name] of Object.entries(table)) assert.equal(abi[name], Number(code), name);
});

test("ABI version matches the document and the shim", () => {
  assert.match(DOC, new RegExp(`ABI — version ${abi.ABI_VERSION}\\b`));
  assert.match(SHIM, /^pub use status::ABI_VERSION;$/m);
  assert.equal(SHIM_STATUS.match(/pub const ABI_VERSION: i32 = (\d+);/)[1], String(abi.ABI_VERSION));
});

test("the module reports the version browser/abi.js speaks", async () => {
  const inst = new WebAssembly.Instance(await MODULE, { pysym_host: { file_size: () => -5, file_read: () => -5, progress: () => 0, output_begin: () => -5, output_write: () => -5, discard: () => 0 } });
  assert.equal(inst.exports.pysym_abi_version(), abi.ABI_VERSION);
});

test("the module's exports are the described ones, in order", async () => {
  const exports = WebAssembly.Module.exports(await MODULE);
  assert.deepEqual(exports.filter((e) => e.kind === "function").map((e) => e.name), abi.EXPORTS.map((e) => e[0]));
  assert.ok(exports.some((e) => e.name === "memory" && e.kind === "memory"));
});

test("every export the JS host calls is described", () => {
  const described = new Set(abi.EXPORTS.map((e) => e[0]));
  const used = new Set();
  for (const src of HOST_SOURCES) for (const m of src.matchAll(/"(pysym_[a-z_0-9]+)"/g)) used.add(m[1]);
  assert.ok(used.size > 10);
  for (const name of used) assert.ok(described.has(name), `${name} is not in wasm/abi.toml`);
});

test("the imports the host provides are the described ones", async () => {
  const imports = WebAssembly.Module.imports(await MODULE);
  assert.deepEqual(imports.map((i) => i.name).sort(), abi.IMPORTS.map((i) => i[0]).sort());
  for (const i of imports) assert.equal(i.module, "pysym_host");
});

test("every status error is a class of the one exception tree", () => {
  assert.ok(Object.keys(abi.STATUS_ERRORS).length >= 8);
  for (const [code, name] of Object.entries(abi.STATUS_ERRORS)) {
    const cls = errors[name];
    assert.ok(cls === errors.PysymError || (cls && cls.prototype instanceof errors.PysymError), `${code}: ${name}`);
  }
  assert.equal(abi.STATUS_ERRORS[abi.OK], undefined);
  assert.equal(abi.STATUS_ERRORS[abi.NEED_DATA], undefined);
});

test("the generated decoders read the layouts and refuse short buffers", () => {
  const words = new Uint32Array([7, 1, 2, 3, 4, 5, 6, abi.NONE, 9, 10, 11, 12, 13, 14]);
  const bytes = new Uint8Array(words.buffer);
  const found = wire.decodeLookups(bytes.subarray(4), 1);
  assert.deepEqual([...found.indices], [1]);
  assert.deepEqual([...found.records], [2, 3, 4, 5, 6, abi.NONE]);
  // unaligned: copied, same words
  const odd = new Uint8Array(bytes.length + 1);
  odd.set(bytes.subarray(4), 1);
  assert.deepEqual([...wire.decodeTokenRecords(odd.subarray(1, 49)).records], [...words.subarray(1, 13)]);
  assert.throws(() => wire.decodeLookups(bytes.subarray(4), 3), RangeError);
  assert.throws(() => wire.decodeLocations(new Uint8Array([5, 0, 0, 0])), RangeError);
  const table = wire.decodeStringTable(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 104, 105]));
  assert.equal(table.n, 1);
  assert.deepEqual([...table.entries], [0, 2]);
  assert.deepEqual([...table.text], [104, 105]);
});
