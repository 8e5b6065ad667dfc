// The native API (mirrors pysym/_native.py): NativeObject (Python's pysym.Object: the
// identity of an ELF / Mach-O debug file), SymCache and its frames.
//
// Debug files are read by the module through the file table by ranges; a Blob/File is
// served through the ABI's NEED_DATA retry, one missing range at a time (host.js), so a
// large debug file is not read in full. Addresses are numbers (exact below 2**53; BigInt
// accepted on input), relative to the image base.

import * as abi from "./abi.js";
import * as wire from "./wire.js";
import { BuildOutput, HandleOwner, toBytes } from "./host.js";
import { PysymError } from "./errors.js";
import { getRuntime } from "./runtime.js";

const NONE = abi.NONE;
const BATCH = 1 << 16; // addresses per boundary crossing
const encoder = new TextEncoder();

function isBlob(x) {
  return typeof Blob !== "undefined" && x instanceof Blob;
}

function u64(lo, hi) {
  return hi * 4294967296 + lo;
}

/**
 * Calls `name(fh, ...args())` on a file (bytes or Blob), repeated after NEED_DATA, and
 * returns `read()` of its answer. Errors and results are read right after the call that
 * made them: other calls may run on the runtime while a Blob's data loads.
 */
export async function callFile(rt, data, name, args, read) {
  const fh = rt.files.add(data);
  let result;
  try {
    const status = await rt.withData(() => {
      const st = rt.call(name, fh, ...args());
      if (st === abi.NEED_DATA) return st;
      rt.check(st);
      result = read();
      return st;
    });
    rt.check(status); // HOST_IO: data the host could not load
  } finally {
    rt.files.remove(fh);
  }
  return result;
}

function withFileSync(rt, bytes, name, args) {
  const fh = rt.files.add(bytes);
  try {
    return rt.call(name, fh, ...args());
  } finally {
    rt.files.remove(fh);
  }
}

export function archArgs(rt, arch) {
  if (!arch) return [0, 0];
  const raw = encoder.encode(arch);
  return [rt.inputBuffer(raw), raw.length];
}

function identity(rt) {
  const [kind, arch, debugId, codeId] = rt.stringTable(rt.resultBytes());
  const w = rt.out(wire.IDENTITY_WORDS);
  const flags = w[wire.IDENTITY_FLAGS];
  return {
    kind: kind || "", arch: arch || "", debugId: debugId || "", codeId: codeId || null,
    imageBase: u64(w[wire.IDENTITY_BASE_LO], w[wire.IDENTITY_BASE_HI]), hasDebugInfo: Boolean(flags & abi.IDENTITY_FLAG_DEBUG_INFO),
    hasSymbols: Boolean(flags & abi.IDENTITY_FLAG_SYMBOLS),
    hasUnwindInfo: Boolean(flags & abi.IDENTITY_FLAG_UNWIND), extra: w[wire.IDENTITY_EXTRA],
  };
}

/** pysym_object_info's answer: the identity, debugFile, debuglink, codeOffset and warnings (ABI 7). */
function objectIdentity(rt) {
  const info = identity(rt);
  const table = rt.stringTable(rt.resultBytes());
  const w = rt.out(wire.IDENTITY_WORDS);
  const [lo, hi] = [w[wire.IDENTITY_CODE_OFFSET_LO], w[wire.IDENTITY_CODE_OFFSET_HI]];
  info.debugFile = table[4] ?? null;
  info.codeOffset = lo === NONE && hi === NONE ? null : u64(lo, hi);
  info.debuglink = table[5] ? Object.freeze({ name: table[5], crc: w[wire.IDENTITY_EXTRA] >>> 0 }) : null;
  info.warnings = Object.freeze(table.slice(6).map((x) => x || ""));
  return info;
}

/** Identity of a native debug file (ELF, Mach-O; a universal Mach-O slice by `arch`). */
export class NativeObject {
  constructor(source, arch, info) {
    this._source = source;
    this._arch = arch || null;
    Object.assign(this, info);
    delete this.extra;
  }

  /** Reads the identity of a debug file (bytes, or a Blob/File: only the headers are read). */
  static async fromBlob(source, { arch = null, runtime = null } = {}) {
    const rt = runtime || getRuntime();
    const data = isBlob(source) ? source : toBytes(source);
    const info = await callFile(rt, data, "pysym_object_info", () => [...archArgs(rt, arch), rt.outSlot], () => objectIdentity(rt));
    return new NativeObject(data, arch, info);
  }

  /** Reads the identity of a debug file in memory (synchronously; init() first). */
  static fromBytes(source, { arch = null, runtime = null } = {}) {
    const rt = runtime || getRuntime();
    const data = toBytes(source);
    rt.check(withFileSync(rt, data, "pysym_object_info", () => [...archArgs(rt, arch), rt.outSlot]));
    return new NativeObject(data, arch, objectIdentity(rt));
  }

  toString() {
    return `<NativeObject ${this.kind} ${this.arch} debugId=${this.debugId}>`;
  }
}

/** A symcache inside the wasm sandbox; addresses are relative to the image base. */
export class SymCache extends HandleOwner {
  constructor(rt, data, handle) {
    super(rt, "SymCache", "pysym_symcache_free");
    this._data = data; // Uint8Array: kept to rebuild after a trap and for toBytes()
    // Frozen frame chains per location id (stable for these bytes: they survive a reload).
    this._chains = new Map([[NONE, []]]);
    this._strings = new Map([[NONE, null]]);
    // What the build skipped of a damaged debug file (fromObject only).
    this.warnings = Object.freeze([]);
    if (handle) this._handles.set(handle[0], handle[1]);
    else this._load();
    this._readInfo();
  }

  /** Builds a symcache from a debug file (bytes, Blob/File or NativeObject). */
  static async fromObject(source, { arch = null, runtime = null, progress = null } = {}) {
    const rt = runtime || getRuntime();
    if (source instanceof NativeObject) {
      arch = arch || source._arch;
      source = source._source;
    }
    const data = isBlob(source) ? source : toBytes(source);
    const onProgress = progress ? (done, total) => progress(total ? done / total : 1) : null;
    // The module streams the symcache out as it frees the build; the bytes are kept here
    // (toBytes(), rebuilding after a trap) and loaded back into the memory the build freed.
    const output = new BuildOutput();
    let size = 0;
    let warnings = [];
    const fh = rt.files.add(data);
    let status;
    try {
      // Each attempt (another one after NEED_DATA) sets the build's state and reads its
      // answer synchronously: other calls may run on this runtime while data loads.
      status = await rt.withData(() => {
        rt.onProgress = onProgress;
        rt.output = output;
        try {
          const st = rt.call("pysym_symcache_build", fh, ...archArgs(rt, arch), rt.outSlot);
          if (st === abi.OK) {
            const w = rt.out(wire.BUILD_OUT_WORDS);
            size = u64(w[wire.BUILD_OUT_SIZE_LO], w[wire.BUILD_OUT_SIZE_HI]);
            const live = rt.current();
            const at = w[wire.BUILD_OUT_WARNINGS_PTR];
            warnings = rt.stringTable(live.u8().slice(at, at + w[wire.BUILD_OUT_WARNINGS_LEN])).map((x) => x || "");
          }
          return st;
        } finally {
          rt.onProgress = null;
          rt.output = null;
        }
      });
    } finally {
      rt.files.remove(fh);
    }
    if (status < 0 && output.error instanceof PysymError) throw output.error;
    rt.check(status);
    const cache = new SymCache(rt, output.take(size), null);
    cache.warnings = Object.freeze(warnings);
    return cache;
  }

  /** Loads a built symcache from bytes (synchronously; init() first). */
  static fromBytes(data, { runtime = null } = {}) {
    return new SymCache(runtime || getRuntime(), toBytes(data), null);
  }

  /** Loads a built symcache from a Blob/File (or bytes). */
  static async fromBlob(blob, { runtime = null } = {}) {
    const rt = runtime || getRuntime();
    const data = isBlob(blob) ? new Uint8Array(await blob.arrayBuffer()) : toBytes(blob);
    return new SymCache(rt, data, null);
  }

  _load() {
    const rt = this._rt;
    const live = rt.current();
    const ptr = rt.putInput(this._data);
    rt.check(rt.call("pysym_symcache_from_bytes", ptr, this._data.length, rt.outSlot));
    const handle = rt.out(1)[0];
    this._handles.set(live.serial, handle);
    return handle;
  }

  _readInfo() {
    const rt = this._rt;
    rt.check(rt.call("pysym_symcache_info", this._h(), rt.outSlot));
    const info = identity(rt);
    this.rangeCount = info.extra;
    delete info.extra;
    Object.assign(this, info);
  }

  /** The symcache's bytes (a copy). */
  toBytes() {
    return this._data.slice();
  }

  /** Frames at `addr` (relative to the image base), innermost first; [] if none. */
  lookup(addr) {
    return this.lookupMany([addr])[0];
  }

  /** Frames for many addresses, one boundary crossing per 65,536 addresses. */
  lookupMany(addrs) {
    const values = Array.from(addrs, (a) => {
      const b = typeof a === "bigint" ? a : Number.isInteger(a) && a >= 0 ? BigInt(a) : -1n;
      if (b < 0n || b >= 1n << 64n) throw new RangeError("addresses must be integers in 0..2**64-1");
      return b;
    });
    const out = [];
    const rt = this._rt;
    for (let start = 0; start < values.length; start += BATCH) {
      const chunk = values.slice(start, start + BATCH);
      const raw = new BigUint64Array(chunk);
      const h = this._h();
      const ptr = rt.inputBuffer(new Uint8Array(raw.buffer));
      rt.check(rt.call("pysym_symcache_lookup_many", h, ptr, chunk.length, rt.outSlot));
      const ids = wire.decodeU32List(rt.resultBytes()).values;
      const locs = new Array(chunk.length);
      const missing = new Set();
      for (let i = 0; i < chunk.length; i++) {
        locs[i] = ids[i];
        if (!this._chains.has(locs[i])) missing.add(locs[i]);
      }
      if (missing.size) this._decodeLocations(h, missing);
      for (const loc of locs) out.push(this._chains.get(loc).slice());
    }
    return out;
  }

  /** Asks the module for locations (and their callers) and keeps their frame chains. */
  _decodeLocations(h, wanted) {
    const rt = this._rt;
    const ids = Uint32Array.from([...wanted].sort((a, b) => a - b));
    const ptr = rt.inputBuffer(new Uint8Array(ids.buffer));
    rt.check(rt.call("pysym_symcache_locations", h, ptr, ids.length, rt.outSlot));
    const { n, records: w, m, nameIds, strings } = wire.decodeLocations(rt.resultBytes());
    const table = rt.stringTable(strings);
    for (let k = 0; k < m; k++) this._strings.set(nameIds[k], table[k]);
    const s = (i) => this._strings.get(i);
    for (let r = 0, k = 0; r < n; r++, k += wire.LOCATION_WORDS) {
      const caller = w[k + wire.LOCATION_CALLER];
      if (this._chains.has(w[k + wire.LOCATION_LOCATION])) continue;
      const frame = Object.freeze({
        function: s(w[k + wire.LOCATION_FUNCTION]), rawFunction: s(w[k + wire.LOCATION_RAW_FUNCTION]),
        file: s(w[k + wire.LOCATION_FILE]), line: w[k + wire.LOCATION_LINE] || null,
        column: w[k + wire.LOCATION_COLUMN] || null,
        symAddr: u64(w[k + wire.LOCATION_SYM_ADDR_LO], w[k + wire.LOCATION_SYM_ADDR_HI]), inlined: caller !== NONE,
      });
      // Callers come first in the result, so their chains are known.
      this._chains.set(w[k + wire.LOCATION_LOCATION], Object.freeze([frame, ...this._chains.get(caller)]));
    }
  }

  toString() {
    return `<SymCache ${this.kind} ${this.arch} debugId=${this.debugId}>`;
  }
}

/** `pysym symcache lookup` output for these addresses (llvm-symbolizer --inlining style). */
export function renderNativeLookup(results) {
  const out = [];
  for (const frames of results) {
    if (!frames.length) out.push("??\n??:0:0\n");
    for (const f of frames) out.push(`${f.function || "??"}\n${f.file || "??"}:${f.line || 0}:${f.column || 0}\n`);
    out.push("\n");
  }
  return out.join("");
}

/** Hex addresses in a native stack text: `0x...` tokens, or lines that are a bare hex number. */
export function parseAddresses(text) {
  const out = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const m = /\b0x([0-9a-fA-F]{1,16})\b/.exec(trimmed) || /^([0-9a-fA-F]{1,16})$/.exec(trimmed);
    if (m) out.push(BigInt("0x" + m[1]));
  }
  return out;
}

