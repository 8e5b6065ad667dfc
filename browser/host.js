// The host side of the ABI (wasm/ABI.md) in JavaScript: one wasm instance, its file
// table, calls and error mapping. Mirrors pysym/_host.py.
//
// A Runtime owns a compiled WebAssembly.Module and, lazily, an instance of it. Objects
// such as SourceMap hold handles keyed by the instance's `serial`: when a trap throws the
// instance away, they rebuild their state in the fresh instance the next time they are
// used. Views over linear memory are re-made whenever `memory.buffer` changed (memory
// growth detaches the old ArrayBuffer), i.e. after any call.

import * as abi from "./abi.js";
import * as wire from "./wire.js";
import * as errors from "./errors.js";
import { MemoryLimitError, PysymError, ResourceLimitError, SandboxError } from "./errors.js";

// status -> exception class, as wasm/abi.toml names it (the same map as pysym/_host.py)
const STATUS_ERRORS = Object.fromEntries(Object.entries(abi.STATUS_ERRORS).map(([code, name]) => [code, errors[name]]));

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new PysymError("pysym's JavaScript host needs a little-endian platform");
}

const utf8 = new TextDecoder("utf-8", { fatal: false });
const utf8Strict = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Bytes of a string / ArrayBuffer / typed array / DataView, without copying when possible. */
export function toBytes(data) {
  if (typeof data === "string") return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (typeof SharedArrayBuffer !== "undefined" && data instanceof SharedArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("expected a string, an ArrayBuffer or a typed array");
}

function isBlob(x) {
  return typeof Blob !== "undefined" && x instanceof Blob;
}

/**
 * The capabilities the module may read: only files the host put here.
 *
 * A file is bytes (served synchronously) or a Blob/File. A Blob cannot be read
 * synchronously on the main thread, so a read of a range not loaded yet returns NEED_DATA
 * and records the range; the host awaits `fill()` and repeats the call (ABI.md). `fill()`
 * loads the missing ranges (at least CHUNK bytes each, so that headers and small sections
 * come in one piece); after MAX_MISSES retries on one file it loads the whole file, which
 * bounds the number of repeated calls. Debug files of hundreds of MB are thus read by
 * the ranges the module needs, not in full.
 */
const CHUNK = 1 << 20;
const MAX_MISSES = 16;

export class FileTable {
  constructor() {
    this._files = new Map(); // fh -> {blob, bytes, chunks: [{start, data}], want: [[off, len]], misses}
    this._next = 1;
    this.pending = new Set(); // file handles with a NEED_DATA outstanding
  }

  add(source) {
    const fh = this._next++;
    if (isBlob(source)) this._files.set(fh, { blob: source, bytes: null, chunks: [], want: [], misses: 0 });
    else this._files.set(fh, { blob: null, bytes: toBytes(source), chunks: [], want: [], misses: 0 });
    return fh;
  }

  remove(fh) {
    this._files.delete(fh);
    this.pending.delete(fh);
  }

  /** The whole file's bytes when they are loaded (bytes given, or a Blob read in full). */
  bytes(fh) {
    const f = this._files.get(fh);
    return f ? f.bytes : null;
  }

  size(fh) {
    const f = this._files.get(fh);
    if (!f) return null;
    return f.bytes ? f.bytes.length : f.blob.size;
  }

  /** Copies up to `dst.length` bytes at `offset` into `dst`; the count or a status. */
  read(fh, offset, dst) {
    const f = this._files.get(fh);
    if (!f) return abi.BAD_HANDLE;
    const size = f.bytes ? f.bytes.length : f.blob.size;
    const start = Math.min(offset, size);
    const end = Math.min(size, start + dst.length);
    if (f.bytes) {
      dst.set(f.bytes.subarray(start, end));
      return end - start;
    }
    for (const c of f.chunks) {
      if (c.start <= start && end <= c.start + c.data.length) {
        dst.set(c.data.subarray(start - c.start, end - c.start));
        return end - start;
      }
    }
    f.want.push([start, end - start]);
    this.pending.add(fh);
    return abi.NEED_DATA;
  }

  /** Loads what the module asked for since the last fill; the number of files served. */
  async fill() {
    const fhs = [...this.pending];
    this.pending.clear();
    await Promise.all(fhs.map(async (fh) => {
      const f = this._files.get(fh);
      if (!f || f.bytes) return;
      f.misses += 1;
      const want = f.want;
      f.want = [];
      if (f.misses >= MAX_MISSES || f.blob.size <= 4 * CHUNK) {
        f.bytes = new Uint8Array(await f.blob.arrayBuffer());
        f.chunks = [];
        return;
      }
      for (const [off, len] of want) {
        const end = Math.min(f.blob.size, off + Math.max(len, CHUNK));
        const data = new Uint8Array(await f.blob.slice(off, end).arrayBuffer());
        if (off === 0 && end === f.blob.size) f.bytes = data; // the whole file (a source map)
        else f.chunks.push({ start: off, data });
      }
    }));
    return fhs.length;
  }
}

/** The most a symcache build may write (the module's memory cap: it could not load more back). */
export const MAX_OUTPUT = 2 ** 30;

/**
 * Receives the symcache a build streams out (ABI output_begin / output_write) into one
 * buffer of the size the module announced, filled in order. A failure is kept in `error`
 * (the import answers the module with a status; the caller throws after the call).
 */
export class BuildOutput {
  constructor(limit = MAX_OUTPUT) {
    this.limit = limit;
    this.bytes = null;
    this.filled = 0;
    this.error = null;
  }

  begin(size) {
    // A call repeated after NEED_DATA begins again: nothing of an earlier attempt is kept.
    this.bytes = null;
    this.filled = 0;
    if (size > this.limit) {
      this.error = new ResourceLimitError(`the symcache built is ${size} bytes, more than the ${this.limit} bytes it could be loaded in`, abi.LIMIT_EXCEEDED);
      return abi.LIMIT_EXCEEDED;
    }
    this.error = null;
    this.bytes = new Uint8Array(size);
    return abi.OK;
  }

  write(offset, data) {
    const bytes = this.bytes;
    if (!bytes || offset !== this.filled || data.length > bytes.length - offset) {
      this.error = new PysymError(`the module wrote ${data.length} output bytes at ${offset}, expected them at ${this.filled} of ${bytes ? bytes.length : 0}`);
      return abi.HOST_IO;
    }
    bytes.set(data, offset);
    this.filled += data.length;
    return abi.OK;
  }

  /** The bytes, once all `size` of them (as the export reported) arrived. */
  take(size) {
    const bytes = this.bytes;
    this.bytes = null;
    if (!bytes || this.filled !== bytes.length || size !== bytes.length) {
      throw new PysymError(`the module reported a ${size}-byte symcache but wrote ${this.filled} of ${bytes ? bytes.length : 0} bytes`);
    }
    return bytes;
  }
}

class Live {
  constructor(instance, serial) {
    this.instance = instance;
    this.exports = instance.exports;
    this.memory = instance.exports.memory;
    this.serial = serial;
    this.outSlot = 0;
    this._buf = null;
    this._u8 = null;
    this._u32 = null;
  }

  /** Uint8Array over the whole memory, re-made when the memory grew. */
  u8() {
    const buf = this.memory.buffer;
    if (buf !== this._buf) this._remake(buf);
    return this._u8;
  }

  /** Uint32Array over the whole memory, re-made when the memory grew. */
  u32() {
    const buf = this.memory.buffer;
    if (buf !== this._buf) this._remake(buf);
    return this._u32;
  }

  _remake(buf) {
    this._buf = buf;
    this._u8 = new Uint8Array(buf);
    this._u32 = new Uint32Array(buf, 0, buf.byteLength >>> 2);
  }
}

// The smallest module that uses a v128 (`i32.const 0; i8x16.splat`): an engine that
// validates it has WebAssembly SIMD, which pysym.wasm is built with (simd128).
export const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 8, 1, 6, 0, 65, 0, 253, 15, 11,
]);

export const SIMD_REQUIRED = "this WebAssembly engine lacks SIMD (simd128), which pysym.wasm needs: "
  + "Chrome/Edge 91+, Firefox 89+, Safari 16.4+, Node 16.4+";

/**
 * Throws a PysymError naming SIMD when the engine rejects `probe` (default SIMD_PROBE);
 * called after a CompileError, whose own message ("invalid value type 0x7b") says little.
 */
export function checkSimd(probe = SIMD_PROBE) {
  if (!WebAssembly.validate(probe)) throw new PysymError(SIMD_REQUIRED);
}

/** Normalises what `init({ wasm })` accepts into a compiled WebAssembly.Module. */
export async function compileModule(wasm) {
  try {
    return await compileAny(wasm);
  } catch (e) {
    if (e instanceof WebAssembly.CompileError) checkSimd();
    throw e;
  }
}

async function compileAny(wasm) {
  if (wasm instanceof WebAssembly.Module) return wasm;
  if (typeof Response !== "undefined" && wasm instanceof Response) {
    if (typeof WebAssembly.compileStreaming === "function") {
      try {
        return await WebAssembly.compileStreaming(wasm.clone());
      } catch (e) {
        // wrong MIME type (file servers without application/wasm): compile the bytes
      }
    }
    return WebAssembly.compile(await wasm.arrayBuffer());
  }
  if (wasm instanceof ArrayBuffer || ArrayBuffer.isView(wasm)) return WebAssembly.compile(wasm);
  if (isBlob(wasm)) return WebAssembly.compile(await wasm.arrayBuffer());
  if (typeof wasm === "string" || wasm instanceof URL) {
    const url = new URL(String(wasm), typeof location !== "undefined" ? location.href : undefined);
    if (url.protocol === "file:") {
      // Node: fetch() does not read file: URLs
      const { readFile } = await import("node:fs/promises");
      return WebAssembly.compile(await readFile(url));
    }
    const response = await fetch(url);
    if (!response.ok) throw new PysymError(`cannot fetch ${url}: HTTP ${response.status}`);
    return compileAny(response);
  }
  throw new TypeError("wasm: expected a URL, a Response, an ArrayBuffer/typed array or a WebAssembly.Module");
}

function isTrap(e) {
  return e instanceof WebAssembly.RuntimeError || e instanceof RangeError
    || (e instanceof Error && /call stack|out of memory/i.test(e.message) && !(e instanceof PysymError));
}

/** One compiled module and, lazily, its instance. Calls are synchronous. */
export class Runtime {
  /** @param {WebAssembly.Module} module */
  constructor(module) {
    this.module = module;
    this.files = new FileTable();
    this._serial = 0;
    this.live = null;
    this.onProgress = null;
    /** The BuildOutput of the build being called, if any; without one output is refused. */
    this.output = null;
  }

  current() {
    return this.live || this._start();
  }

  _start() {
    const files = this.files;
    let live = null;
    const imports = {
      pysym_host: {
        file_size: (fh, out) => {
          const size = files.size(fh);
          if (size === null) return abi.BAD_HANDLE;
          const view = new DataView(live.memory.buffer);
          view.setBigUint64(out >>> 0, BigInt(size), true);
          return abi.OK;
        },
        progress: (done, total) => {
          if (this.onProgress) {
            try {
              this.onProgress(done >>> 0, total >>> 0);
            } catch {
              // a failing progress callback must not break the build
            }
          }
          return 0;
        },
        file_read: (fh, offset, dst, len) => {
          dst >>>= 0;
          len >>>= 0;
          const off = Number(BigInt.asUintN(64, offset));
          const mem = new Uint8Array(live.memory.buffer);
          if (dst + len > mem.length) return abi.BAD_ARGUMENT;
          return files.read(fh, off, mem.subarray(dst, dst + len));
        },
        // Advisory (ABI discard): a browser cannot give pages of a WebAssembly.Memory back.
        discard: () => 0,
        // An exception must not unwind through the module (it would stop half way, its
        // state unknown): it is kept for the caller and the module told HOST_IO.
        output_begin: (size) => {
          const out = this.output;
          if (!out) return abi.HOST_IO;
          try {
            return out.begin(Number(BigInt.asUintN(64, size)));
          } catch (e) {
            out.error = e;
            return abi.HOST_IO;
          }
        },
        output_write: (offset, src, len) => {
          const out = this.output;
          if (!out) return abi.HOST_IO;
          src >>>= 0;
          len >>>= 0;
          const mem = new Uint8Array(live.memory.buffer);
          if (src + len > mem.length) return abi.HOST_IO;
          try {
            return out.write(Number(BigInt.asUintN(64, offset)), mem.subarray(src, src + len));
          } catch (e) {
            out.error = e;
            return abi.HOST_IO;
          }
        },
      },
    };
    let instance;
    try {
      instance = new WebAssembly.Instance(this.module, imports);
    } catch (e) {
      throw new SandboxError(`cannot start the wasm module: ${e && e.message}`);
    }
    this._serial += 1;
    live = new Live(instance, this._serial);
    const version = live.exports.pysym_abi_version();
    if (version !== abi.ABI_VERSION) {
      throw new SandboxError(`pysym.wasm speaks ABI version ${version}, this host speaks ${abi.ABI_VERSION}`);
    }
    live.outSlot = live.exports.pysym_out_slot() >>> 0;
    this.live = live;
    return live;
  }

  /** Throws the instance away; objects rebuild in a fresh one on next use. */
  discard() {
    this.live = null;
  }

  get outSlot() {
    return this.current().outSlot;
  }

  /** Calls an export; a trap discards the instance and throws SandboxError. */
  call(name, ...args) {
    const live = this.current();
    const fn = live.exports[name];
    if (typeof fn !== "function") throw new PysymError(`the module has no export ${name}`);
    try {
      return fn(...args);
    } catch (e) {
      if (isTrap(e)) {
        this.discard();
        throw new SandboxError(`the wasm module trapped in ${name}: ${e.message}`);
      }
      throw e;
    }
  }

  /** Throws the error for a negative status, with the module's message. */
  check(status) {
    if (status >= 0) return status;
    const message = this.lastError();
    const cls = STATUS_ERRORS[status] || PysymError;
    throw new cls(message, status);
  }

  lastError() {
    const status = this.call("pysym_last_error", this.outSlot);
    const text = utf8.decode(this.resultBytes());
    return text || abi.STATUS_NAMES[status] || `status ${status}`;
  }

  /** out[0..count] as a plain array of u32. */
  out(count) {
    const live = this.current();
    const w = live.u32();
    const base = live.outSlot >>> 2;
    return Array.from(w.subarray(base, base + count));
  }

  /** A copy of the result buffer published in the out slot (its result_out record). */
  resultBytes() {
    const live = this.current();
    const w = live.u32();
    const ptr = w[(live.outSlot >>> 2) + wire.RESULT_OUT_PTR];
    const len = w[(live.outSlot >>> 2) + wire.RESULT_OUT_LEN];
    return len ? live.u8().slice(ptr, ptr + len) : new Uint8Array(0);
  }

  /** The result buffer in place (no copy): valid until the next call into the module. */
  resultView() {
    const live = this.current();
    const w = live.u32();
    const ptr = w[(live.outSlot >>> 2) + wire.RESULT_OUT_PTR];
    const len = w[(live.outSlot >>> 2) + wire.RESULT_OUT_LEN];
    return live.u8().subarray(ptr, ptr + len);
  }

  /** The result buffer as u32 words (a copy). */
  resultWords() {
    const live = this.current();
    const w = live.u32();
    const ptr = w[(live.outSlot >>> 2) + wire.RESULT_OUT_PTR];
    const len = w[(live.outSlot >>> 2) + wire.RESULT_OUT_LEN];
    return w.slice(ptr >>> 2, (ptr + len) >>> 2);
  }

  /** Copies bytes into a fresh module allocation (for exports that take ownership). */
  putInput(bytes) {
    const ptr = this.call("pysym_alloc", bytes.length) >>> 0;
    if (ptr === 0) throw new MemoryLimitError(`the module cannot allocate ${bytes.length} bytes for the input`);
    this.current().u8().set(bytes, ptr);
    return ptr;
  }

  /** Copies batch arguments into the module's reusable input area. */
  inputBuffer(bytes) {
    const ptr = this.call("pysym_input_buffer", bytes.length) >>> 0;
    if (ptr === 0) throw new MemoryLimitError(`the module cannot allocate ${bytes.length} bytes for arguments`);
    this.current().u8().set(bytes, ptr);
    return ptr;
  }

  /**
   * Runs `attempt()` (which makes one export call and returns its status) until it does
   * not return NEED_DATA, loading the file data the module asked for in between.
   */
  async withData(attempt) {
    for (;;) {
      const status = attempt();
      if (status !== abi.NEED_DATA) return status;
      if ((await this.files.fill()) === 0) return abi.HOST_IO; // asked for nothing we can load
    }
  }

  /** Decodes a string table result (ABI.md "String table"). */
  stringTable(data) {
    const { n: count, entries, text } = wire.decodeStringTable(data);
    const out = new Array(count);
    for (let i = 0, e = 0; i < count; i++, e += wire.STRING_ENTRY_WORDS) {
      const off = entries[e + wire.STRING_ENTRY_OFFSET];
      const n = entries[e + wire.STRING_ENTRY_LEN];
      out[i] = n === abi.NONE ? null : utf8Strict.decode(text.subarray(off, off + n));
    }
    return out;
  }
}

/**
 * An object living inside the module (mirrors pysym/_host.py HandleOwner): handles keyed
 * by instance serial, and a life cycle. Subclasses implement `_load()`, which (re)creates
 * the object in the current instance, records and returns its handle; after a trap the
 * next use loads it again in the fresh instance.
 */
export class HandleOwner {
  constructor(rt, kind, freeExport) {
    this._rt = rt;
    this._kind = kind; // for messages: "this SourceMap is closed"
    this._freeExport = freeExport;
    this._handles = new Map(); // instance serial -> handle
    this._closed = false;
  }

  _load() {
    throw new Error(`${this._kind} does not implement _load()`);
  }

  /** The live handle, rebuilding the object if its instance was thrown away. */
  _h() {
    if (this._closed) throw new PysymError(`this ${this._kind} is closed`);
    const handle = this._handles.get(this._rt.current().serial);
    return handle === undefined ? this._load() : handle;
  }

  /** Frees the object inside the module; calling it again does nothing. */
  close() {
    if (this._closed) return;
    this._closed = true;
    const live = this._rt.live;
    const handle = live ? this._handles.get(live.serial) : undefined;
    this._handles.clear();
    if (handle !== undefined) this._rt.call(this._freeExport, handle);
  }

  get closed() {
    return this._closed;
  }

  [Symbol.dispose]() {
    this.close();
  }
}
