// browser/abi.js against the contract, wasm/ABI.md (the JS twin of tests/test_abi.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as abi from "../../../browser/abi.js";

const ROOT = new URL("../../../", import.meta.url);
const DOC = readFileSync(new URL("wasm/ABI.md", ROOT), "utf8");
const SHIM = readFileSync(new URL("wasm/abi/src/lib.rs", ROOT), "utf8");
const HOST_SOURCES = ["browser/host.js", "browser/sourcemap.js", "browser/native.js"].map((p) => readFileSync(new URL(p, ROOT), "utf8"));

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
  assert.equal(SHIM.match(/pub const ABI_VERSION: i32 = (\d+);/)[1], String(abi.ABI_VERSION));
});

test("the module reports the version browser/abi.js speaks", async () => {
  const bytes = readFileSync(new URL("pysym/_wasm/pysym.wasm", ROOT));
  const module = await WebAssembly.compile(bytes);
  const inst = new WebAssembly.Instance(module, { pysym_host: { file_size: () => -5, file_read: () => -5, progress: () => 0, output_begin: () => -5, output_write: () => -5 } });
  assert.equal(inst.exports.pysym_abi_version(), abi.ABI_VERSION);
});

test("every export the JS host calls is documented", () => {
  const documented = new Set([...DOC.matchAll(/^\| `(pysym_[a-z_0-9]+)` \|/gm)].map((m) => m[1]));
  const used = new Set();
  for (const src of HOST_SOURCES) for (const m of src.matchAll(/"(pysym_[a-z_0-9]+)"/g)) used.add(m[1]);
  assert.ok(used.size > 10);
  for (const name of used) assert.ok(documented.has(name), `${name} is not in ABI.md`);
});

test("the imports the host provides are the documented ones", async () => {
  const bytes = readFileSync(new URL("pysym/_wasm/pysym.wasm", ROOT));
  const imports = WebAssembly.Module.imports(await WebAssembly.compile(bytes));
  // Rows of the imports table: names without the exports' `pysym_` prefix.
  const docImports = [...DOC.matchAll(/^\| `((?!pysym_)[a-z_]+)` \| `\(/gm)].map((m) => m[1]).sort();
  assert.deepEqual(imports.map((i) => i.name).sort(), docImports);
  for (const i of imports) assert.equal(i.module, "pysym_host");
});
