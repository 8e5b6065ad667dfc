// SourceMapCache (mirrors pysym/_smcache.py): a source map, and the function names of its
// generated file, in the portable binary form of wasm/core/src/sourcemap/CACHE_FORMAT.md.
// The module reads the bytes in place: the same bytes as Python's, the same answers.

import { HandleOwner, toBytes } from "./host.js";
import { PysymError } from "./errors.js";
import { getRuntime } from "./runtime.js";
import { GREATEST_LOWER_BOUND, SourceMap, functionAnswers, hermesPosition } from "./sourcemap.js";
import * as abi from "./abi.js";
import * as wire from "./wire.js";

const NONE = abi.NONE;
const ANONYMOUS = abi.FUNCTION_ANONYMOUS;
const U32_MAX = 0xffffffff;

function makeToken(dstLine, dstCol, src, srcLine, srcCol, name, functionName) {
  return Object.freeze({ dstLine, dstCol, src, srcLine, srcCol, name, functionName });
}

/**
 * A source map cache: build one with SourceMapCache.fromSourceMap(mapBytes, minified),
 * keep toBytes(), open it later with SourceMapCache.fromBytes. Lookups give SourceMap's
 * tokens plus `functionName` as SourceMap.functionNames names the position (the map's
 * `scopes` field, Metro's function maps, the minified file's scopes: the enclosing
 * function's original name, "<anonymous>", or null for top-level code or no answer).
 * The browser hands the whole cache to the module (pysym_smcache_from_bytes): Python's host
 * opens it by pages instead (pysym_smcache_load, ABI 12), which needs a synchronous
 * file_read of the bytes; in memory is fine here, where the bytes are in memory anyway.
 */
export class SourceMapCache extends HandleOwner {
  /** @private */
  constructor(bytes, runtime) {
    super(runtime || getRuntime(), "SourceMapCache", "pysym_smcache_free");
    this._bytes = bytes;
    this._names = null;
    this._functions = null;
  }

  /** Builds a cache from a map (and optionally its minified file; `sourcesContent` kept on request). */
  static fromSourceMap(mapBytes, minifiedSource = null, { sourcesContent = false, runtime } = {}) {
    const sm = SourceMap.fromBytes(mapBytes, { runtime });
    let bytes;
    try {
      if (minifiedSource !== null && minifiedSource !== undefined) sm.setGeneratedSource(minifiedSource);
      const rt = sm._rt;
      rt.check(rt.call("pysym_smcache_build", sm._h(), sourcesContent ? 1 : 0, rt.outSlot));
      bytes = rt.resultBytes().slice();
    } finally {
      sm.close();
    }
    return SourceMapCache.fromBytes(bytes, { runtime });
  }

  /** Opens a cache from its bytes (Uint8Array, ArrayBuffer, any typed array). */
  static fromBytes(data, { runtime } = {}) {
    const c = new SourceMapCache(toBytes(data), runtime);
    c._load();
    c._readMetadata();
    return c;
  }

  /** The cache's bytes (what fromBytes opens; the same bytes Python reads). */
  toBytes() {
    return this._bytes;
  }

  _load() {
    const rt = this._rt;
    const live = rt.current();
    const ptr = rt.putInput(this._bytes);
    rt.check(rt.call("pysym_smcache_from_bytes", ptr, this._bytes.length, rt.outSlot));
    const handle = rt.out(1)[0];
    this._handles.set(live.serial, handle);
    return handle;
  }

  _call(name, ...args) {
    return this._rt.check(this._rt.call(name, this._h(), ...args));
  }

  _readMetadata() {
    const rt = this._rt;
    this._call("pysym_smcache_info", rt.outSlot);
    const info = rt.out(wire.SMCACHE_INFO_WORDS);
    const flags = info[wire.SMCACHE_INFO_FLAGS];
    this._nTokens = info[wire.SMCACHE_INFO_TOKENS];
    this._nNames = info[wire.SMCACHE_INFO_NAMES];
    this.isIndexMap = Boolean(flags & abi.SMCACHE_FLAG_INDEX_MAP);
    this.hasFunctionNames = Boolean(flags & (abi.SMCACHE_FLAG_SCOPES | abi.SMCACHE_FLAG_FUNCTION_MAPS));
    this._scopeNames = Boolean(flags & abi.SMCACHE_FLAG_SCOPES);
    this.hasFunctionMaps = Boolean(flags & abi.SMCACHE_FLAG_FUNCTION_MAPS);
    this.hasScopes = Boolean(flags & abi.SMCACHE_FLAG_SCOPES_FIELD);
    this.hasSourcesContent = Boolean(flags & abi.SMCACHE_FLAG_CONTENTS);
    this._call("pysym_smcache_strings", 0, rt.outSlot);
    this._sources = rt.stringTable(rt.resultBytes());
    this._call("pysym_smcache_strings", 2, rt.outSlot);
    [this._file, this._debugId, this.functionMapsProblem] = rt.stringTable(rt.resultBytes());
    this._call("pysym_smcache_strings", 4, rt.outSlot);
    this._ignoreList = Array.from(wire.decodeU32List(rt.resultView()).values, (i) => this._sources[i]);
  }

  _table(kind) {
    const rt = this._rt;
    this._call("pysym_smcache_strings", kind, rt.outSlot);
    return rt.stringTable(rt.resultBytes());
  }

  _nameTable() {
    if (this._names === null) this._names = this._table(1);
    return this._names;
  }

  _functionTable() {
    if (this._functions === null) this._functions = this._table(3);
    return this._functions;
  }

  _function(word) {
    if (word === NONE) return null;
    if (word === ANONYMOUS) return "<anonymous>";
    return this._functionTable()[word];
  }

  get sources() { return this._sources.slice(); }
  get names() { return this._nameTable().slice(); }
  get file() { return this._file; }
  get debugId() { return this._debugId; }
  get ignoreList() { return this._ignoreList.slice(); }
  get length() { return this._nTokens; }

  /** A source's text (by URL or index) if the cache was built with sourcesContent, or null. */
  sourceContent(source) {
    const idx = typeof source === "number" ? source : this._sources.indexOf(source);
    if (!Number.isInteger(idx) || idx < 0 || idx >= this._sources.length) return null;
    const rt = this._rt;
    if (this._call("pysym_smcache_source_content", idx, rt.outSlot) === 0) return null;
    return new TextDecoder().decode(rt.resultBytes());
  }

  /** SourceMap.sourceContext from the cache (built with sourcesContent), or null. */
  sourceContext(source, line, context = 5) {
    return SourceMap.prototype.sourceContext.call(this, source, line, context);
  }

  /**
   * SourceMap.functionNames for the map the cache was built from (with the minified file
   * it was given): the original name, "<anonymous>", or null (top-level code, and where no
   * function map answers and the cache has no scopes). Needs `hasFunctionNames`.
   */
  functionNames(lines, cols) {
    return this._enclosing(lines, cols).map((e) => e[1]);
  }

  /** `functionNames` with each answer's kind, as SourceMap's `_enclosing` (the trace naming reads it). */
  _enclosing(lines, cols) {
    if (!this.hasFunctionNames) {
      throw new PysymError("functionNames needs a cache built with the minified file, a map with a `scopes` "
        + "field or Metro function maps");
    }
    return functionAnswers(this, "pysym_smcache_function_names", lines, cols);
  }

  /**
   * `_enclosing` at the positions `tokens` came from (lookupMany, greatest lower bound),
   * from their functionName: the module computed it with the token, so a trace names its
   * frames without a second crossing. Kinds: no answer (also for a null token), top-level
   * code, or a name (FUNCTION_KIND_NAMED, anonymous included).
   */
  _enclosingOf(tokens) {
    // the cache's flags tell top-level code (it has scopes) from no answer
    const noneKind = this._scopeNames ? abi.FUNCTION_KIND_TOP_LEVEL : abi.FUNCTION_KIND_NO_ANSWER;
    return tokens.map((t) => (t === null || t === undefined ? [abi.FUNCTION_KIND_NO_ANSWER, null]
      : t.functionName === null ? [noneKind, null] : [abi.FUNCTION_KIND_NAMED, t.functionName]));
  }

  /** SourceMap.hermesPosition from the cache: [line, column] of a Hermes crash frame, or null. */
  hermesPosition(functionId, offset, segment = 0) {
    return hermesPosition(this, "pysym_smcache_hermes_column", functionId, offset, segment);
  }

  /** SourceMap.lookup's token for a generated position, with functionName; or null. */
  lookup(line, col, bias = GREATEST_LOWER_BOUND) {
    if (!Number.isInteger(line) || !Number.isInteger(col)) throw new TypeError("line and column must be integers");
    if (line < 0 || col < 0) throw new RangeError("line and column are 0-based and must not be negative");
    if (line > U32_MAX || col > U32_MAX) return null;
    const rt = this._rt;
    if (this._call("pysym_smcache_lookup", line, col, bias, rt.outSlot) === 0) return null;
    const w = rt.out(wire.LOOKUP_OUT_WORDS);
    // tables are fetched after reading the out slot (fetching calls the module)
    const name = w[wire.LOOKUP_OUT_NAME];
    const names = name === NONE ? null : this._nameTable();
    return makeToken(w[wire.LOOKUP_OUT_DST_LINE], w[wire.LOOKUP_OUT_DST_COL], this._sources[w[wire.LOOKUP_OUT_SRC]],
      w[wire.LOOKUP_OUT_SRC_LINE], w[wire.LOOKUP_OUT_SRC_COL], names === null ? null : names[name],
      this._function(w[wire.LOOKUP_OUT_FUNCTION]));
  }

  /** Many lookups in one boundary crossing per batch (`lines`, `cols`: equal-length). */
  lookupMany(lines, cols, bias = GREATEST_LOWER_BOUND) {
    const out = [];
    const rt = this._rt;
    const names = this._nNames ? this._nameTable() : [];
    const functions = this.hasFunctionNames ? this._functionTable() : [];
    SourceMap.prototype._pairBatches.call(this, lines, cols, "pysym_smcache_lookup_many", [bias], (start, count) => {
      const { indices, functions: words, records: w } = wire.decodeCacheLookups(rt.resultView(), count);
      for (let i = 0; i < count; i++) {
        if (indices[i] === NONE) {
          out[start + i] = null;
          continue;
        }
        const j = wire.TOKEN_WORDS * i;
        const f = words[i];
        out[start + i] = makeToken(w[j], w[j + 1], this._sources[w[j + 2]], w[j + 3], w[j + 4],
          w[j + 5] === NONE ? null : names[w[j + 5]], f === NONE ? null : f === ANONYMOUS ? "<anonymous>" : functions[f]);
      }
    });
    return out;
  }

  /** All segments in generated order (without functionName). */
  *[Symbol.iterator]() {
    const step = 1 << 16;
    for (let start = 0; start < this._nTokens; start += step) {
      this._call("pysym_smcache_tokens", start, step, this._rt.outSlot);
      const words = wire.decodeTokenRecords(this._rt.resultBytes()).records;
      const names = this._nNames ? this._nameTable() : [];
      for (let j = 0; j < words.length; j += wire.TOKEN_WORDS) {
        const src = words[j + wire.TOKEN_SRC];
        if (src === NONE) yield makeToken(words[j], words[j + 1], null, null, null, null, null);
        else yield makeToken(words[j], words[j + 1], this._sources[src], words[j + 3], words[j + 4],
          words[j + 5] === NONE ? null : names[words[j + 5]], null);
      }
    }
  }

  close() {
    super.close();
  }
}
