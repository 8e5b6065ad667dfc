// SourceMap (mirrors pysym/_api.py): a parsed source map held inside the wasm sandbox.

import * as abi from "./abi.js";
import * as wire from "./wire.js";
import { HandleOwner, toBytes } from "./host.js";
import { getRuntime } from "./runtime.js";
import { MemoryLimitError, PysymError, SandboxError } from "./errors.js";

/** Bias: the segment with the greatest generated column <= the asked column. */
export const GREATEST_LOWER_BOUND = abi.BIAS_GREATEST_LOWER_BOUND;
/** Bias: the segment with the smallest generated column >= the asked column. */
export const LEAST_UPPER_BOUND = abi.BIAS_LEAST_UPPER_BOUND;

const NONE = abi.NONE;
const U32_MAX = 0xffffffff;
const BATCH = 1 << 20; // positions per boundary crossing; bounds the module's result buffer
const LINE_BREAK = /\r\n|\r|\n|\u2028|\u2029/;

function makeToken(dstLine, dstCol, src, srcLine, srcCol, name) {
  return Object.freeze({ dstLine, dstCol, src, srcLine, srcCol, name });
}

function checkPosition(line, col) {
  if (!Number.isInteger(line) || !Number.isInteger(col)) throw new TypeError("line and column must be integers");
  if (line < 0 || col < 0) throw new RangeError("line and column are 0-based and must not be negative");
  return line <= U32_MAX && col <= U32_MAX;
}

function indexable(values) {
  // arrays and typed arrays are read by index; other iterables are copied once
  return Array.isArray(values) || ArrayBuffer.isView(values) ? values : Array.from(values);
}

/**
 * [kind, name] at each (line, col) of a SourceMap or a SourceMapCache (`owner`), through
 * `exportName` (the **function_names** result; kind `abi.FUNCTION_KIND_*`).
 */
export function functionAnswers(owner, exportName, lines, cols) {
  const out = [];
  const rt = owner._rt;
  const decoder = new TextDecoder();
  SourceMap.prototype._pairBatches.call(owner, lines, cols, exportName, [], (start, count) => {
    const { records, text } = wire.decodeFunctionNames(rt.resultView(), count);
    for (let i = 0, r = 0; i < count; i++, r += wire.FUNCTION_NAME_WORDS) {
      const kind = records[r + wire.FUNCTION_NAME_KIND];
      const off = records[r + wire.FUNCTION_NAME_OFFSET];
      const len = records[r + wire.FUNCTION_NAME_LENGTH];
      out[start + i] = [kind, kind === abi.FUNCTION_KIND_NAMED ? decoder.decode(text.subarray(off, off + len))
        : kind === abi.FUNCTION_KIND_ANONYMOUS ? "<anonymous>" : null];
    }
  });
  return out;
}

/** `hermesPosition` of a SourceMap or a SourceMapCache (`owner`), through `exportName`. */
export function hermesPosition(owner, exportName, functionId, offset, segment) {
  for (const v of [functionId, offset, segment]) {
    if (!Number.isInteger(v) || v < 0 || v > 0xfffffffe) throw new RangeError(`hermesPosition: ${v} is not in 0..2**32-2`);
  }
  const rt = owner._rt;
  const found = owner._call(exportName, segment, functionId, offset, rt.outSlot);
  return found ? [segment, rt.out(1)[0]] : null;
}

/**
 * A parsed source map (regular or index map), held inside the wasm sandbox.
 * Create one with SourceMap.fromBytes / fromBlob / fromUrl; call close() when done
 * (or `using sm = ...` where Symbol.dispose is supported).
 */
export class SourceMap extends HandleOwner {
  /** @private */
  constructor(source, runtime) {
    super(runtime || getRuntime(), "SourceMap", "pysym_sourcemap_free");
    this._source = source; // Uint8Array: kept so the map can be rebuilt after a trap
    this._names = null;
    this._tokenCache = new Map();
    this._fast = null;
    this._generated = null; // the generated file, once given (setGeneratedSource)
  }

  /** Loads a map from bytes (Uint8Array, ArrayBuffer, any typed array) or a string. */
  static fromBytes(data, { runtime } = {}) {
    const sm = new SourceMap(toBytes(data), runtime);
    sm._load();
    sm._readMetadata();
    return sm;
  }

  /**
   * Loads a map from a Blob or File (or bytes) through the host's file table: the module
   * reads it with file_read, the host serves reads it cannot serve synchronously through
   * the ABI's NEED_DATA retry.
   */
  static async fromBlob(blob, { runtime } = {}) {
    const rt = runtime || getRuntime();
    const fh = rt.files.add(blob);
    let status;
    try {
      status = await rt.withData(() => rt.call("pysym_sourcemap_from_file", fh, rt.outSlot));
      const bytes = rt.files.bytes(fh);
      const sm = new SourceMap(bytes, rt);
      rt.check(status);
      sm._handles.set(rt.current().serial, rt.out(wire.HANDLE_OUT_WORDS)[wire.HANDLE_OUT_HANDLE]);
      sm._readMetadata();
      return sm;
    } finally {
      rt.files.remove(fh);
    }
  }

  /** Fetches a map (a URL or a Request) and loads it. */
  static async fromUrl(url, { runtime, fetchOptions } = {}) {
    const response = await fetch(url, fetchOptions);
    if (!response.ok) throw new PysymError(`cannot fetch ${url}: HTTP ${response.status}`);
    return SourceMap.fromBytes(new Uint8Array(await response.arrayBuffer()), { runtime });
  }

  _load() {
    const rt = this._rt;
    const live = rt.current();
    const data = this._source;
    const ptr = rt.putInput(data);
    rt.check(rt.call("pysym_sourcemap_from_bytes", ptr, data.length, rt.outSlot));
    const handle = rt.out(wire.HANDLE_OUT_WORDS)[wire.HANDLE_OUT_HANDLE];
    this._handles.set(live.serial, handle);
    if (this._generated) {
      // a fresh instance gets the generated file again (its scopes live in the module)
      const g = this._generated;
      rt.check(rt.call("pysym_sourcemap_set_generated", handle, rt.putInput(g), g.length, rt.outSlot));
    }
    return handle;
  }

  /**
   * Gives the map its generated (minified) JavaScript file: the module extracts its
   * function scopes and names them through the map, for `functionNames`.
   */
  setGeneratedSource(source) {
    const data = typeof source === "string" ? new TextEncoder().encode(source) : new Uint8Array(source);
    if (sameBytes(this._generated, data)) return; // the scopes are built already
    const rt = this._rt;
    const h = this._h();
    rt.check(rt.call("pysym_sourcemap_set_generated", h, rt.putInput(data), data.length, rt.outSlot));
    this._generated = data;
  }

  /**
   * The function enclosing each generated position: its original name, "<anonymous>",
   * or null for top-level code. Needs `setGeneratedSource` first, unless the map's
   * `scopes` field names positions (`hasScopes`): its names are then preferred; or unless
   * the map has Metro's `x_facebook_sources` function maps (`hasFunctionMaps`): they name a
   * position by its original source, as metro-symbolicate does, after the `scopes` field
   * and before the generated file's scopes (null also where none answers).
   */
  functionNames(lines, cols) {
    return this._enclosing(lines, cols).map((e) => e[1]);
  }

  /**
   * The generated position [line, column] (0-based) of a Hermes crash frame: function
   * `functionId` of bytecode segment `segment`, `offset` bytes into it, from the map's
   * `x_hermes_function_offsets` (metro-symbolicate --hermes-crash); null when not listed.
   */
  hermesPosition(functionId, offset, segment = 0) {
    return hermesPosition(this, "pysym_sourcemap_hermes_column", functionId, offset, segment);
  }

  /** `functionNames` with each answer's kind (`abi.FUNCTION_KIND_*`). */
  _enclosing(lines, cols) {
    if (!this._generated && !this.hasScopes && !this.hasFunctionMaps) {
      throw new PysymError("functionNames needs the generated file: call setGeneratedSource first");
    }
    return functionAnswers(this, "pysym_sourcemap_function_names", lines, cols);
  }

  /**
   * `exportName(h, pairs, count, ...args, out)` over (line, col) pairs, one call per batch;
   * `done(start, count)` reads each batch's result before the next call.
   */
  _pairBatches(lines, cols, exportName, args, done) {
    const la = indexable(lines);
    const ca = indexable(cols);
    const n = la.length;
    if (ca.length !== n) throw new RangeError(`lines and cols differ in length (${n} and ${ca.length})`);
    const rt = this._rt;
    for (let start = 0; start < n; start += BATCH) {
      const stop = Math.min(n, start + BATCH);
      const count = stop - start;
      const h = this._h();
      // the pairs are written straight into the module's input area
      const ptr = rt.call("pysym_input_buffer", 8 * count) >>> 0;
      if (ptr === 0) throw new MemoryLimitError(`the module cannot allocate ${8 * count} bytes for arguments`);
      const w = rt.current().u32();
      let j = ptr >>> 2;
      for (let i = start; i < stop; i++) {
        const l = la[i];
        const c = ca[i];
        if (!(l >= 0 && l <= U32_MAX && c >= 0 && c <= U32_MAX && Number.isInteger(l) && Number.isInteger(c))) {
          throw new RangeError("lines and cols must be integers in 0..2**32-1");
        }
        w[j++] = l;
        w[j++] = c;
      }
      rt.check(rt.call(exportName, h, ptr, count, ...args, rt.outSlot));
      done(start, count);
    }
  }

  _call(name, ...args) {
    return this._rt.check(this._rt.call(name, this._h(), ...args));
  }

  _readMetadata() {
    const rt = this._rt;
    this._call("pysym_sourcemap_info", rt.outSlot);
    const info = rt.out(wire.SOURCEMAP_INFO_WORDS);
    this._nTokens = info[wire.SOURCEMAP_INFO_TOKENS];
    this._nLines = info[wire.SOURCEMAP_INFO_LINES];
    this._nNames = info[wire.SOURCEMAP_INFO_NAMES];
    this.isIndexMap = Boolean(info[wire.SOURCEMAP_INFO_FLAGS] & abi.SOURCEMAP_FLAG_INDEX_MAP);
    // the map's `scopes` field (ECMA-426 scopes proposal) names generated positions
    this.hasScopes = Boolean(info[wire.SOURCEMAP_INFO_FLAGS] & abi.SOURCEMAP_FLAG_SCOPES);
    /** The map has Metro's `x_facebook_sources` function maps (React Native). */
    this.hasFunctionMaps = Boolean(info[wire.SOURCEMAP_INFO_FLAGS] & abi.SOURCEMAP_FLAG_FUNCTION_MAPS);
    this._call("pysym_sourcemap_strings", abi.STRINGS_SOURCES, rt.outSlot);
    this._sources = rt.stringTable(rt.resultBytes());
    this._call("pysym_sourcemap_strings", abi.STRINGS_META, rt.outSlot);
    // the third entry: a malformed x_facebook_sources part (ignored), or null
    [this._file, this._debugId, this.functionMapsProblem] = rt.stringTable(rt.resultBytes());
    this._call("pysym_sourcemap_ignore_list", rt.outSlot);
    this._ignoreList = Array.from(wire.decodeU32List(rt.resultView()).values, (i) => this._sources[i]);
  }

  /** Frees the map inside the module; calling it again does nothing. */
  close() {
    super.close();
    this._source = null;
  }

  /** Source URLs after sourceRoot resolution (null for null entries). */
  get sources() {
    return this._sources.slice();
  }

  /** The names table. */
  get names() {
    return this._nameTable().slice();
  }

  /** The file field. */
  get file() {
    return this._file;
  }

  /** The debugId field (also read from debug_id). */
  get debugId() {
    return this._debugId;
  }

  /** Sources listed in ignoreList (or x_google_ignoreList). */
  get ignoreList() {
    return this._ignoreList.slice();
  }

  /** Number of mapping segments (Python's len(sm)). */
  get length() {
    return this._nTokens;
  }

  toString() {
    return `<SourceMap file=${JSON.stringify(this._file)} sources=${this._sources.length} tokens=${this._nTokens}${this._closed ? " closed" : ""}>`;
  }

  _nameTable() {
    if (this._names === null) {
      const rt = this._rt;
      this._call("pysym_sourcemap_strings", abi.STRINGS_NAMES, rt.outSlot);
      this._names = rt.stringTable(rt.resultBytes());
    }
    return this._names;
  }

  _sourceIndex(source) {
    if (typeof source === "number") return Number.isInteger(source) && source >= 0 && source < this._sources.length ? source : null;
    const i = this._sources.indexOf(source);
    return i < 0 ? null : i;
  }

  /** The source's text from sourcesContent (by URL or index), or null. */
  sourceContent(source) {
    const idx = this._sourceIndex(source);
    if (idx === null) return null;
    const rt = this._rt;
    if (this._call("pysym_sourcemap_source_content", idx, rt.outSlot) === 0) return null;
    return new TextDecoder().decode(rt.resultBytes());
  }

  /** Line `line` (0-based) of a source with up to `context` lines around it, or null. */
  sourceContext(source, line, context = 5) {
    const text = this.sourceContent(source);
    if (text === null || line < 0) return null;
    const lines = text.split(LINE_BREAK);
    if (line >= lines.length) return null;
    context = Math.max(0, context);
    return {
      preLines: lines.slice(Math.max(0, line - context), line),
      line: lines[line],
      postLines: lines.slice(line + 1, line + 1 + context),
    };
  }

  _make(w, i) {
    const src = w[i + wire.TOKEN_SRC];
    if (src === NONE) return null;
    const name = w[i + wire.TOKEN_NAME];
    return makeToken(w[i + wire.TOKEN_DST_LINE], w[i + wire.TOKEN_DST_COL], this._sources[src],
      w[i + wire.TOKEN_SRC_LINE], w[i + wire.TOKEN_SRC_COL], name === NONE ? null : this._nameTable()[name]);
  }

  /**
   * The mapping for a generated position (0-based line and UTF-16 column), or null.
   * Never crosses to another line; a segment without an original position gives null.
   */
  lookup(line, col, bias = GREATEST_LOWER_BOUND) {
    if (!checkPosition(line, col)) return null;
    // The hot path of single lookups: the bound export, handle and out slot are cached
    // for the current instance; one call and a 28-byte read.
    const rt = this._rt;
    let fast = this._fast;
    if (fast === undefined || fast === null || fast.live !== rt.live || this._closed) {
      const h = this._h();
      const cur = rt.current();
      fast = this._fast = { live: cur, fn: cur.exports.pysym_sourcemap_lookup, h, slot: cur.outSlot };
    }
    const live = fast.live;
    let found;
    try {
      found = fast.fn(fast.h, line, col, bias, fast.slot);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
        rt.discard();
        throw new SandboxError(`the wasm module trapped in pysym_sourcemap_lookup: ${e.message}`);
      }
      throw e;
    }
    if (found !== 1) {
      if (found === 0) return null;
      rt.check(found);
    }
    const w = live.u32();
    const base = live.outSlot >>> 2;
    const idx = w[base + wire.LOOKUP_OUT_INDEX]; // the record starts with a token record (_make)
    let tok = this._tokenCache.get(idx);
    if (tok === undefined) {
      tok = this._make(w, base);
      this._tokenCache.set(idx, tok);
    }
    return tok;
  }

  /** Many lookups in one boundary crossing per batch (`lines`, `cols`: equal-length). */
  lookupMany(lines, cols, bias = GREATEST_LOWER_BOUND) {
    const out = [];
    const rt = this._rt;
    if (this._nNames) this._nameTable(); // fetched first: decoding must not call the module
    this._pairBatches(lines, cols, "pysym_sourcemap_lookup_many", [bias], (start, count) => {
      this._decodeLookups(rt, count, out, start);
    });
    return out;
  }

  _decodeLookups(rt, count, out, at) {
    // Read in place from linear memory: nothing is called between the export and here.
    const { indices, records } = wire.decodeLookups(rt.resultView(), count);
    const cache = this._tokenCache;
    for (let i = 0; i < count; i++) {
      const idx = indices[i];
      if (idx === NONE) {
        out[at + i] = null;
        continue;
      }
      let tok = cache.get(idx);
      if (tok === undefined) {
        tok = this._make(records, wire.TOKEN_WORDS * i);
        cache.set(idx, tok);
      }
      out[at + i] = tok;
    }
  }

  /**
   * Every generated position mapped from an original position, in generated order.
   * With `col`: the mappings at exactly that column, or if none, those at the nearest
   * greater column on the same line. Without (null/undefined): the whole line.
   */
  generatedPositions(source, line, col = null) {
    const idx = this._sourceIndex(source);
    if (idx === null || line < 0 || line > U32_MAX) return [];
    if (col !== null && col !== undefined && (col < 0 || col >= U32_MAX)) return [];
    const rt = this._rt;
    this._call("pysym_sourcemap_generated_positions", idx, line,
      col === null || col === undefined ? NONE : col, rt.outSlot);
    return this._records(wire.decodeTokenRecords(rt.resultBytes()).records);
  }

  _records(words) {
    const out = [];
    const names = this._nNames ? this._nameTable() : [];
    for (let j = 0; j < words.length; j += wire.TOKEN_WORDS) {
      const src = words[j + wire.TOKEN_SRC];
      const name = words[j + wire.TOKEN_NAME];
      if (src === NONE) out.push(makeToken(words[j], words[j + 1], null, null, null, null));
      else out.push(makeToken(words[j], words[j + 1], this._sources[src], words[j + 3], words[j + 4],
        name === NONE ? null : names[name]));
    }
    return out;
  }

  /** All segments in generated order, including those without an original position. */
  *[Symbol.iterator]() {
    const step = 1 << 16;
    for (let start = 0; start < this._nTokens; start += step) {
      this._call("pysym_sourcemap_tokens", start, step, this._rt.outSlot);
      yield* this._records(wire.decodeTokenRecords(this._rt.resultBytes()).records);
    }
  }

  /** All segments as an array. */
  tokens() {
    return [...this];
  }
}

function sameBytes(a, b) {
  if (a === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
