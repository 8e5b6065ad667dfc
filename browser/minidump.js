// Minidumps (mirrors pysym/_minidump.py) and the stack walk's two calls (pysym/_symbolicate/
// _minidump.py build_cfi, walk_minidump). The dump is parsed inside the module, read by
// ranges through the file table (a Blob is not read in full: its saved memory stays in the
// file); the module hands back one JSON document (ABI.md "Minidump document").
//
// 64-bit values (addresses, register values) are BigInt here, where Python has int;
// attribute names are Python's in camelCase (system_info -> systemInfo).

import { toBytes } from "./host.js";
import * as wire from "./wire.js";
import { archArgs, callFile } from "./native.js";
import { getRuntime } from "./runtime.js";

const x = (v) => BigInt(v);

function isBlob(v) {
  return typeof Blob !== "undefined" && v instanceof Blob;
}

function source(data) {
  return isBlob(data) ? data : toBytes(data);
}

function registers(ctx) {
  return ctx ? Object.fromEntries(ctx.registers.map(([n, v]) => [n, x(v)])) : {};
}

const region = (r) => Object.freeze({ base: x(r.base), size: x(r.size), fileOffset: x(r.file_offset) });

/** A parsed minidump (Windows, Breakpad, Crashpad or lldb writers): see pysym.Minidump. */
export class Minidump {
  constructor(data, doc) {
    this._source = data;
    this.document = doc;
    const si = doc.system_info;
    this.systemInfo = si === null ? null : Object.freeze({
      os: si.os, cpu: si.cpu, osVersion: si.os_version, csdVersion: si.csd_version, cpuVendor: si.cpu_vendor,
      processorCount: si.processor_count, processorArchitecture: si.processor_architecture, platformId: si.platform_id,
    });
    this.modules = doc.modules.map((m) => Object.freeze({
      base: x(m.base), size: m.size, extent: x(m.extent), codeFile: m.code_file, codeId: m.code_id || null,
      debugFile: m.debug_file, debugId: m.debug_id || null, codeview: m.codeview, version: m.version,
    }));
    this.threads = doc.threads.map((t) => Object.freeze({
      id: t.id, name: t.name, stack: t.stack ? region(t.stack) : null, registers: registers(t.context),
      contextLayout: t.context ? t.context.layout : null,
    }));
    const e = doc.exception;
    this.exception = e === null ? null : Object.freeze({
      threadId: e.thread_id, code: e.code, flags: e.flags, address: x(e.address), parameters: e.parameters.map(x),
      reason: e.reason, registers: registers(e.context),
    });
    this.crashedThread = doc.crashed_thread;
    this.memoryRegions = doc.memory.map(region);
    this.crashpadAnnotations = doc.crashpad_info ? Object.fromEntries(doc.crashpad_info.simple_annotations) : {};
    this.warnings = [...doc.warnings];
  }

  /** Parses a minidump: bytes, or a Blob/File (only its structures are read). */
  static async fromBlob(data, { runtime = null } = {}) {
    const rt = runtime || getRuntime();
    const src = source(data);
    const raw = await callFile(rt, src, "pysym_minidump_parse", () => [rt.outSlot], () => rt.resultBytes());
    return new Minidump(src, JSON.parse(new TextDecoder().decode(raw)));
  }

  /** Parses a minidump in memory (synchronously; init() first). */
  static fromBytes(data, { runtime = null } = {}) {
    const rt = runtime || getRuntime();
    const src = toBytes(data);
    const fh = rt.files.add(src);
    try {
      rt.check(rt.call("pysym_minidump_parse", fh, rt.outSlot));
    } finally {
      rt.files.remove(fh);
    }
    return new Minidump(src, JSON.parse(new TextDecoder().decode(rt.resultBytes())));
  }

  /** The module whose image (its extent) holds `addr`. */
  moduleAt(addr) {
    const a = BigInt(addr);
    return this.modules.find((m) => m.base <= a && a < m.base + m.extent) || null;
  }

  toString() {
    const si = this.systemInfo;
    return `<Minidump ${si ? si.os : "?"} ${si ? si.cpu : "?"}, ${this.modules.length} modules, ${this.threads.length} threads`
      + `${this.exception ? ", " + this.exception.reason : ""}>`;
  }
}

/** Builds the CFI cache of a debug file in the sandbox: {cache, rows, warnings}. */
export async function buildCfi(data, { arch = null, runtime = null } = {}) {
  const rt = runtime || getRuntime();
  const [raw, rows] = await callFile(rt, source(data), "pysym_unwind_build", () => [...archArgs(rt, arch), rt.outSlot],
    () => [rt.resultBytes(), rt.out(wire.UNWIND_OUT_WORDS)[wire.UNWIND_OUT_ROWS]]);
  const decoded = wire.decodeUnwind(raw);
  const cache = decoded.cache.slice();
  const warnings = rt.stringTable(decoded.warnings).map((w) => w || "");
  return { cache, rows, warnings };
}

function walkInput(caches) {
  let size = 4;
  for (const [, data] of caches) size += 8 + ((data.length + 3) & ~3);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, caches.length, true);
  let k = 4;
  for (const [index, data] of caches) {
    view.setUint32(k, index, true);
    view.setUint32(k + 4, data.length, true);
    out.set(data, k + 8);
    k += 8 + ((data.length + 3) & ~3);
  }
  return out;
}

/** The stack walk document (ABI.md) of a dump, with `caches` as [module index, CFI cache bytes]. */
export async function walkMinidump(data, caches, { runtime = null } = {}) {
  const rt = runtime || getRuntime();
  const input = walkInput(caches);
  // The module takes the input whatever the outcome: a repeated call (NEED_DATA) copies it again.
  const raw = await callFile(rt, source(data), "pysym_minidump_walk", () => [rt.putInput(input), input.length, rt.outSlot],
    () => rt.resultBytes());
  return JSON.parse(new TextDecoder().decode(raw));
}
