// Parsing and symbolicating JavaScript stack traces (V8, SpiderMonkey, JavaScriptCore).
// A port of pysym/_stacktrace.py: the same input gives the same output (the browser
// tests compare with the Python CLI). Positions in traces are 1-based lines and columns
// (UTF-16 code units); the SourceMap API is 0-based; the conversion happens here.
//
// JavaScript strings are indexed in UTF-16 code units, the unit of source-map columns,
// so the Python side's astral-character bookkeeping is not needed here.

import { decodeDataUrl, findDebugId, findLinks, findSourcemapUrl, unquote } from "./sourcemap-url.js";
import { DEFAULT_NEGATIVE_TTL, casedLocations, checkLayout, safePath, storeFilter } from "./stores.js";
import * as abi from "./abi.js";
import { PysymError } from "./errors.js";
import * as wire from "./wire.js";
import { getRuntime } from "./runtime.js";

export { decodeDataUrl, findDebugId, findSourcemapUrl };

/**
 * One parsed stack frame. `line`/`col` are 1-based as printed (null without a position).
 * @returns {object}
 */
function makeFrame(raw, style, fn, url, line, col, isAsync = false, isConstructor = false,
  alias = null, evalOrigin = null, prefix = "", isBytecode = false) {
  // isBytecode: Hermes `address at url:1:N`, `col` is a 0-based bytecode offset
  return Object.freeze({
    raw, style, function: fn, url, line, col, isAsync, isConstructor, alias, evalOrigin, prefix, isBytecode,
  });
}

export function hasPosition(f) {
  return f.url !== null && f.line !== null && f.col !== null;
}

/** Longer lines (in code points, as in Python) are not frames; they stay text. */
export const MAX_FRAME_LINE = 65536;
/** How many nested `eval at` origins are parsed (the module's bound). */
export const MAX_EVAL_DEPTH = 8;
const GECKO_ASYNC = "async*";
const PARSE_BATCH = 1 << 22; // characters of trace text handed to the module per call
const RECORD_WORDS = wire.TRACE_WORDS;
const NO_SPAN = abi.NONE;
const UNITS_UTF16 = abi.UNITS_UTF16;

function codePoints(text) {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i += 1;
    }
    n += 1;
  }
  return n;
}

/** The frame (and its `eval at` origins) of `count` trace records at `w[at]` (ABI.md). */
function frameOf(line, w, at, count) {
  const span = (i) => (w[i] === NO_SPAN ? null : line.slice(w[i], w[i + 1]));
  let frame = null;
  for (let k = count - 1; k >= 0; k--) {
    const r = at + k * RECORD_WORDS;
    const style = w[r + wire.TRACE_STYLE];
    const flags = w[r + wire.TRACE_FLAGS];
    const rawStart = w[r + wire.TRACE_RAW_START];
    let raw = line.slice(rawStart, w[r + wire.TRACE_RAW_END]);
    if (flags & abi.TRACE_FLAG_AT_PREFIX) raw = "at " + raw;
    const fn = span(r + wire.TRACE_FUNCTION_START);
    if (style === abi.TRACE_STYLE_EVAL_ORIGIN) {
      frame = makeFrame(raw, "v8", fn, null, null, null); // an origin kept as text
      continue;
    }
    const ln = span(r + wire.TRACE_LINE_START);
    const col = span(r + wire.TRACE_COLUMN_START);
    frame = makeFrame(raw, style === abi.TRACE_STYLE_AT ? "v8" : "gecko", fn || null,
      span(r + wire.TRACE_LOCATION_START), ln === null ? null : parseInt(ln, 10),
      col === null ? null : parseInt(col, 10), (flags & abi.TRACE_FLAG_ASYNC) !== 0,
      (flags & abi.TRACE_FLAG_NEW) !== 0, span(r + wire.TRACE_ALIAS_START), frame,
      line.slice(rawStart, w[r + wire.TRACE_PREFIX]), (flags & abi.TRACE_FLAG_BYTECODE) !== 0);
  }
  return frame;
}

/**
 * `parseLine` for many lines, parsed by the module (wasm/core/src/js/trace.rs, shared with
 * the Python host) in few calls; needs `await init()` first.
 */
export function parseLines(lines, maxLine = MAX_FRAME_LINE) {
  const rt = getRuntime();
  const out = [];
  const encoder = new TextEncoder();
  let start = 0;
  while (start < lines.length) {
    // lines that cannot be frames are sent empty: the text stays small and one-line
    const batch = [];
    let size = 0;
    while (start + batch.length < lines.length && (batch.length === 0 || size < PARSE_BATCH)) {
      let line = lines[start + batch.length];
      if ((line.length > maxLine && codePoints(line) > maxLine) || line.includes("\n") || line.includes("\r")) line = "";
      batch.push(line);
      size += line.length + 1;
    }
    const data = encoder.encode(batch.join("\n")); // (a lone surrogate: one U+FFFD)
    const ptr = rt.inputBuffer(data);
    const cap = maxLine >= 0xffffffff ? -1 : maxLine;
    rt.check(rt.call("pysym_js_parse_trace", ptr, data.length, cap, UNITS_UTF16, rt.outSlot));
    const w = wire.decodeTraceWords(rt.resultBytes()).words;
    let at = 0;
    for (const line of batch) {
      const count = w[at];
      at += 1;
      out.push(count ? frameOf(line, w, at, count) : null);
      at += count * RECORD_WORDS;
    }
    start += batch.length;
  }
  return out;
}

/**
 * Parses one stack-trace line (without its line ending); null if not a frame, or if the
 * line is longer than `maxLine` code points (MAX_FRAME_LINE; tests measure without it).
 */
export function parseLine(line, maxLine = MAX_FRAME_LINE) {
  return parseLines([line], maxLine)[0];
}

// Python's str.splitlines() boundaries (control characters included, on purpose).
// eslint-disable-next-line no-control-regex
const SPLITLINES = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

/** Python's str.splitlines(keepends). */
export function splitlines(text, keepends = false) {
  const out = [];
  let last = 0;
  SPLITLINES.lastIndex = 0;
  let m;
  while ((m = SPLITLINES.exec(text)) !== null) {
    out.push(text.slice(last, keepends ? m.index + m[0].length : m.index));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Parses a whole trace: a frame object per frame line, the raw string otherwise. */
export function parseStacktrace(text) {
  const raws = splitlines(text);
  return parseLines(raws).map((f, i) => f || raws[i]);
}

// ---------------------------------------------------------------------------------------
// Symbolication

/**
 * What a map resolver returns for a frame URL: the map, and the generated JS when known
 * (frames then take their function names from its scopes).
 */
export class ResolvedMap {
  constructor(sourcemap, generated = null) {
    this.sourcemap = sourcemap;
    this.generated = generated;
    this._bytes = null; // the generated text as given to the map
    this._failed = false;
  }

  /**
   * Hands the generated text to the map (a no-op when it has it already: two generated
   * files may share one map); false without scope names.
   */
  scopesReady() {
    const sm = this.sourcemap;
    // a map whose `scopes` field or function maps name positions needs no generated file;
    // a SourceMapCache names what it was built with (it takes no generated file)
    const namesItself = Boolean(sm.hasScopes || sm.hasFunctionMaps || sm.hasFunctionNames)
      && typeof sm.functionNames === "function";
    if (this.generated === null || this.generated === undefined || this._failed) return namesItself;
    if (typeof sm.setGeneratedSource !== "function") return namesItself;
    if (this._bytes === null) this._bytes = new TextEncoder().encode(this.generated);
    try {
      sm.setGeneratedSource(this._bytes);
    } catch (e) {
      if (!(e instanceof PysymError)) throw e;
      this._failed = true; // (e.g. nesting too deep): the frames keep the other rules
      return namesItself;
    }
    return true;
  }
}

function asResolved(obj) {
  if (obj === null || obj === undefined) return null;
  if (obj instanceof ResolvedMap) return obj;
  return new ResolvedMap(obj);
}

export function bisectRight(arr, x) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x < arr[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The function name a frame prints, from its scope's name (symbolic's answer). */
function scopeFunction(f, scope) {
  if (scope === null) return null; // top-level code: the printed name is kept
  if (scope === "<anonymous>") return f.function ? scope : null;
  if (f.isConstructor && scope.startsWith("new ")) return scope.slice(4);
  return scope;
}

function positionOf(f) {
  if (f.evalOrigin !== null) {
    let o = f.evalOrigin;
    while (o.evalOrigin !== null) o = o.evalOrigin;
    return hasPosition(o) ? o : null;
  }
  return hasPosition(f) ? f : null;
}

/**
 * Symbolicates parsed lines; non-frames stay strings, every frame gets a result object
 * {frame, source, line, col, function, nameAtPosition, functionFrom, context, mapped}.
 * `resolver(url)` returns a ResolvedMap, a bare SourceMap or null (synchronously).
 * `context`: source lines around the frame line from sourcesContent (null: none).
 */
export function symbolicateFrames(lines, resolver, context = null) {
  const frames = lines.filter((x) => typeof x !== "string");
  const maps = new Map();
  const tokens = new Map();
  // frame index -> the innermost function scope's name ("<anonymous>", null: top level)
  const scopeNames = new Map();
  const byMap = new Map();
  frames.forEach((f, idx) => {
    const pos = positionOf(f);
    if (pos === null || pos.line < 1 || pos.col < (pos.isBytecode ? 0 : 1)) return;
    const rm = asResolved(resolver(pos.url));
    maps.set(idx, rm);
    if (rm !== null) {
      let entry = byMap.get(rm.sourcemap);
      if (!entry) byMap.set(rm.sourcemap, (entry = [rm, []]));
      entry[1].push(idx);
    }
  });
  for (const [rm, idxs] of byMap.values()) {
    const lines0 = idxs.map((i) => positionOf(frames[i]).line - 1);
    // a Hermes bytecode offset is 0-based already
    const cols0 = idxs.map((i) => { const p = positionOf(frames[i]); return p.isBytecode ? p.col : p.col - 1; });
    const found = typeof rm.sourcemap.lookupMany === "function"
      ? rm.sourcemap.lookupMany(lines0, cols0)
      : lines0.map((ln, k) => rm.sourcemap.lookup(ln, cols0[k]));
    idxs.forEach((i, k) => tokens.set(i, found[k]));
    if (rm.scopesReady()) {
      // the eval frames' positions are their origins: not named by scopes
      const named = [];
      idxs.forEach((i, k) => { if (frames[i].evalOrigin === null) named.push(k); });
      const ls = named.map((k) => lines0[k]);
      const cs = named.map((k) => cols0[k]);
      const sm = rm.sourcemap;
      // a cache's lookups carry the answers already (SourceMapCache._enclosingOf)
      const answers = typeof sm._enclosingOf === "function" ? sm._enclosingOf(named.map((k) => found[k]))
        : typeof sm._enclosing === "function" ? sm._enclosing(ls, cs) : sm.functionNames(ls, cs).map((n) => [0, n]);
      // no answer: no function map answers here and there are no scopes (the other rules apply)
      named.forEach((k, j) => { if (answers[j][0] !== abi.FUNCTION_KIND_NO_ANSWER) scopeNames.set(idxs[k], answers[j][1]); });
    }
  }

  const results = [];
  frames.forEach((f, idx) => {
    const tok = tokens.get(idx);
    const rm = maps.get(idx);
    if (!tok || !rm || tok.src === null) {
      results.push(unmapped(f));
      return;
    }
    let fn = null;
    let how = null;
    if (scopeNames.has(idx)) {
      const scope = scopeNames.get(idx);
      fn = scopeFunction(f, scope);
      how = scope !== null ? "scope" : null;
    } else if (f.evalOrigin === null && idx + 1 < frames.length) {
      // Without the generated file (Node's fallback): the caller's call site (the next
      // frame, same map) names the function it called, this frame's.
      const caller = frames[idx + 1];
      const ctok = tokens.get(idx + 1);
      const cmap = maps.get(idx + 1);
      if (ctok && ctok.name && caller.url === f.url && cmap && cmap.sourcemap === rm.sourcemap) {
        fn = String(ctok.name);
        how = "caller";
      }
    }
    if (fn === null && f.function) {
      fn = f.function;
      how = "unchanged";
    }
    let ctx = null;
    if (context !== null && context !== undefined) {
      try {
        const c = rm.sourcemap.sourceContext(tok.src, tok.srcLine, context);
        ctx = c ? [c.preLines, c.line, c.postLines] : null;
      } catch (e) {
        ctx = null;
      }
    }
    results.push({
      frame: f, source: String(tok.src), line: tok.srcLine + 1, col: tok.srcCol + 1,
      function: fn, nameAtPosition: tok.name, functionFrom: how, context: ctx, mapped: true,
    });
  });
  let k = 0;
  return lines.map((x) => (typeof x === "string" ? x : results[k++]));
}

function unmapped(f) {
  return {
    frame: f, source: null, line: null, col: null, function: null, nameAtPosition: null,
    functionFrom: null, context: null, mapped: false,
  };
}

/** The frame line in the input's style, with original positions and names. */
export function renderFrame(sf) {
  const f = sf.frame;
  if (!sf.mapped) return f.raw;
  const loc = `${sf.source}:${sf.line}:${sf.col}`;
  if (f.evalOrigin !== null) {
    let o = f.evalOrigin;
    while (o.evalOrigin !== null) o = o.evalOrigin;
    const old = `${o.url}:${o.line}:${o.col}`;
    const at = f.raw.lastIndexOf(old);
    if (at < 0) return f.raw;
    return f.raw.slice(0, at) + loc + f.raw.slice(at + old.length);
  }
  const fn = sf.function;
  if (f.style === "v8") {
    const words = (f.isAsync ? "async " : "") + (f.isConstructor ? "new " : "");
    if (fn) {
      const alias = f.alias ? ` [as ${f.alias}]` : "";
      return `${f.prefix}at ${words}${fn}${alias} (${loc})`;
    }
    return `${f.prefix}at ${words}${loc}`;
  }
  return `${f.prefix}${f.isAsync ? GECKO_ASYNC : ""}${fn || ""}@${loc}`;
}

/** Source lines to print under a frame: the line alone, or numbered with context. */
export function renderContext(sf, context) {
  if (sf.context === null || sf.line === null) return [];
  const [pre, line, post] = sf.context;
  const indent = (sf.frame.style === "v8" ? sf.frame.prefix : "") + "    ";
  if (context <= 0) {
    const text = line.trim();
    return text ? [indent + text] : [];
  }
  const first = sf.line - pre.length;
  const last = sf.line + post.length;
  const width = String(last).length;
  return [...pre, line, ...post].map((text, i) => {
    const n = first + i;
    const mark = n === sf.line ? ">" : " ";
    return `${indent}${mark} ${String(n).padStart(width)} | ${text}`.trimEnd();
  });
}

/**
 * Symbolicates a whole trace text, keeping every other line and line ending as is.
 * `context`: null prints no source, 0 the frame's source line under it, N a numbered
 * excerpt with N lines either side.
 */
export function symbolicateTrace(text, resolver, context = 0) {
  const chunks = splitlines(text, true);
  const bodies = chunks.map((c) => c.replace(/[\r\n]+$/, ""));
  const endings = chunks.map((c, i) => c.slice(bodies[i].length));
  const newline = endings.find((e) => e) || "\n";
  const parsed = parseLines(bodies).map((f, i) => f || bodies[i]);
  const done = symbolicateFrames(parsed, resolver, context);
  const out = [];
  done.forEach((item, i) => {
    const end = endings[i];
    if (typeof item === "string") {
      out.push(bodies[i] + end);
      return;
    }
    const group = [renderFrame(item)];
    if (context !== null && context !== undefined) group.push(...renderContext(item, context));
    out.push(group.join(end || newline) + end);
  });
  return out.join("");
}

/** The JSON object `pysym symbolicate-js --json` prints for one input line. */
export function frameJson(item) {
  if (typeof item === "string") return { raw: item, frame: null, original: null };
  const f = item.frame;
  const frame = {
    style: f.style, function: f.function, url: f.url, line: f.line, column: f.col,
    async: f.isAsync, constructor: f.isConstructor,
  };
  if (f.evalOrigin !== null) {
    const o = f.evalOrigin;
    frame.eval_origin = { function: o.function, url: o.url, line: o.line, column: o.col };
  }
  let original = null;
  if (item.mapped) {
    original = {
      source: item.source, line: item.line, column: item.col, function: item.function,
      function_from: item.functionFrom, name_at_position: item.nameAtPosition,
    };
    if (item.context !== null) {
      const [pre, line, post] = item.context;
      original.context = { pre: [...pre], line, post: [...post] };
    }
  }
  return { raw: f.raw, frame, original };
}

/** `pysym symbolicate-js --json` for a whole trace: one object per line. */
export function symbolicateTraceJson(text, resolver, context = 0) {
  const raws = splitlines(text);
  const parsed = parseLines(raws).map((f, i) => f || raws[i]);
  return symbolicateFrames(parsed, resolver, context).map(frameJson);
}

// ---------------------------------------------------------------------------------------
// Finding maps in a set of files (the page's dropped files or folder)

/** The file name of a frame URL's path (`https://x/static/app.js?v=1` -> `app.js`). */
export function urlBasename(url) {
  let path;
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url);
  if (m && m[1].length > 1) {
    let rest = url.slice(m[0].length);
    if (rest.startsWith("//")) {
      const cut = rest.slice(2).search(/[/?#]/);
      rest = cut < 0 ? "" : rest.slice(2 + cut);
    }
    path = rest.split("#")[0].split("?")[0];
  } else {
    path = url.split(/[?#]/)[0];
  }
  const parts = unquote(path).split(/[/\\]/);
  const name = parts[parts.length - 1];
  if (name === "" || name === "." || name === "..") return null;
  return name;
}

function normalizePath(path) {
  const out = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (!out.length) return null; // outside the file set
      out.pop();
    } else {
      out.push(part);
    }
  }
  return out.join("/");
}

function dirname(path) {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

/**
 * A map resolver over a set of files, the browser's MapDirectory (pysym/_stacktrace.py):
 * `files` maps paths relative to the set's root ("app.min.js", "sub/x.js.map") to a
 * Blob/File, bytes or a string. For a frame URL, take the file name of its path; if the
 * set has that file at its root, follow its sourceMappingURL (data: URL, a relative path
 * inside the set, or an absolute URL's file name); else `<name>.map`; with a debugId and
 * no (matching) map, the *.map with that debugId.
 *
 * Loading is asynchronous (Blobs): `await resolver.prepare(urls)` first, then
 * `resolver.resolve` is a synchronous resolver for symbolicateFrames/symbolicateTrace.
 *
 * The same set is also a symbol store for native crashes (Symbolicator): `locations`,
 * `fetch` and `describe` over `layout` (one of the Python stores' layouts, default
 * "native": Breakpad `name/ID/name.sym`, `.build-id/`, symstore paths) and `casing`. A
 * location is the file at that path, or at a path ending in "/" + that path (a dropped
 * folder keeps its own top directories).
 */
export class FileSetResolver {
  /**
   * @param {Map<string, any>|Object<string, any>} files
   * @param {{loadMap?: (data: any) => Promise<any>, onError?: (path: string, e: Error) => void,
   *   layout?: string, casing?: string, id?: string, negativeTtl?: number, filters?: object}} options
   */
  constructor(files, { loadMap = null, onError = null, layout = "native", casing = "default", id = null, negativeTtl = DEFAULT_NEGATIVE_TTL, filters = null } = {}) {
    checkLayout(layout, casing);
    this._allowed = storeFilter(filters);
    this.files = files instanceof Map ? files : new Map(Object.entries(files));
    this.loadMap = loadMap;
    this.onError = onError;
    this.layout = layout;
    this.casing = casing;
    this.id = id || `${layout}:files`;
    this.negativeTtl = negativeTtl;
    this._bySuffix = null;
    this._byName = new Map();
    this._maps = new Map();
    this._failed = new Set();
    this._byDebugId = null;
    this.resolve = (url) => {
      const name = urlBasename(url);
      return name === null ? null : this._byName.get(name) || null;
    };
  }

  async _text(path) {
    const data = this.files.get(path);
    if (typeof data === "string") return data;
    if (typeof Blob !== "undefined" && data instanceof Blob) return new TextDecoder().decode(await data.arrayBuffer());
    return new TextDecoder().decode(data);
  }

  async _loadPath(path) {
    if (this._maps.has(path)) return this._maps.get(path);
    if (this._failed.has(path)) return null;
    try {
      const sm = await this.loadMap(this.files.get(path));
      this._maps.set(path, sm);
      return sm;
    } catch (e) {
      this._failed.add(path);
      if (this.onError) this.onError(path, e);
      return null;
    }
  }

  async _loadDataUrl(jsPath, url) {
    const key = "data:" + jsPath;
    if (this._maps.has(key)) return this._maps.get(key);
    if (this._failed.has(key)) return null;
    try {
      const sm = await this.loadMap(decodeDataUrl(url));
      this._maps.set(key, sm);
      return sm;
    } catch (e) {
      this._failed.add(key);
      if (this.onError) this.onError(jsPath + " (inline source map)", e);
      return null;
    }
  }

  async _debugIdIndex() {
    if (this._byDebugId === null) {
      const index = new Map();
      for (const path of [...this.files.keys()].sort()) {
        if (!path.endsWith(".map")) continue;
        const sm = await this._loadPath(path);
        const did = sm ? sm.debugId : null;
        if (did && !index.has(String(did).toLowerCase())) index.set(String(did).toLowerCase(), path);
      }
      this._byDebugId = index;
    }
    return this._byDebugId;
  }

  async _resolveName(name) {
    let sm = null;
    let generated = null;
    let debugId = null;
    if (this.files.has(name) && !name.endsWith(".map")) {
      try {
        generated = await this._text(name);
      } catch (e) {
        if (this.onError) this.onError(name, e);
      }
      let url = null;
      if (generated !== null) [url, debugId] = findLinks(generated);
      if (url) {
        if (url.slice(0, 5).toLowerCase() === "data:") {
          sm = await this._loadDataUrl(name, url);
        } else {
          let path = null;
          if (/^[A-Za-z][A-Za-z0-9+.-]+:/.test(url) || url.startsWith("//")) {
            const target = urlBasename(url);
            path = target && this.files.has(target) ? target : null;
          } else {
            const rel = unquote(url.split(/[?#]/)[0]);
            path = rel ? normalizePath((dirname(name) ? dirname(name) + "/" : "") + rel) : null;
            if (path !== null && !this.files.has(path)) path = null;
          }
          if (path !== null) sm = await this._loadPath(path);
        }
      }
    }
    if (sm === null && this.files.has(name + ".map")) sm = await this._loadPath(name + ".map");
    if (debugId !== null) {
      const foundId = sm ? sm.debugId : null;
      if (sm === null || (foundId && String(foundId).toLowerCase() !== debugId)) {
        const path = (await this._debugIdIndex()).get(debugId);
        const other = path !== undefined ? await this._loadPath(path) : null;
        if (other !== null) sm = other;
      }
    }
    return sm === null ? null : new ResolvedMap(sm, generated);
  }

  /** Loads the maps for these frame URLs (or every frame URL of a trace text). */
  async prepare(urlsOrTrace) {
    let urls = urlsOrTrace;
    if (typeof urlsOrTrace === "string") {
      urls = [];
      for (const item of parseStacktrace(urlsOrTrace)) {
        if (typeof item === "string") continue;
        const pos = positionOf(item);
        if (pos !== null) urls.push(pos.url);
      }
    }
    for (const url of urls) {
      const name = urlBasename(url);
      if (name !== null && !this._byName.has(name)) this._byName.set(name, await this._resolveName(name));
    }
    return this;
  }

  // -- the native store (see the class comment) ----------------------------------------

  locations(module) {
    return casedLocations(this.layout, this.casing, module).filter((l) => this._allowed(module, l));
  }

  describe(location) {
    return this._path(location.path) || location.path;
  }

  /** The file (Blob/File or bytes) at a location, or null. */
  async fetch(location) {
    const path = this._path(location.path);
    if (path === null) return null;
    const data = this.files.get(path);
    return typeof data === "string" ? new TextEncoder().encode(data) : data;
  }

  _path(rel) {
    if (!safePath(rel)) return null;
    if (this.files.has(rel)) return rel;
    if (this._bySuffix === null) {
      this._bySuffix = new Map(); // file name -> paths, shortest first
      for (const p of [...this.files.keys()].sort((a, b) => a.length - b.length || (a < b ? -1 : 1))) {
        const n = p.slice(p.lastIndexOf("/") + 1);
        if (!this._bySuffix.has(n)) this._bySuffix.set(n, []);
        this._bySuffix.get(n).push(p);
      }
    }
    const n = rel.slice(rel.lastIndexOf("/") + 1);
    for (const p of this._bySuffix.get(n) || []) if (p.endsWith("/" + rel)) return p;
    return null;
  }

  close() {
    for (const sm of this._maps.values()) if (sm && sm.close) sm.close();
    this._maps.clear();
    this._byName.clear();
  }
}
