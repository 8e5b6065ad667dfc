// Whole native crashes in the browser (mirrors pysym/_symbolicate/: _request.py, _symbolicator.py
// and _minidump.py): Symbolicator's /symbolicate and /minidump request and response shapes,
// field for field what the Python Symbolicator answers (tests/browser compares them).
//
//   const sym = new Symbolicator([new FileSetResolver(files), new HttpStore(url)]);
//   const response = await sym.symbolicate(request);        // a /symbolicate request object
//   const crash = await sym.processMinidump(blobOrBytes);   // a /minidump response
//
// Differences from Python, all from the platform: addresses are BigInt inside (JSON numbers
// above 2**53 lose their low bits in JSON.parse: read requests with parseJson); source
// context (`local_sources`) and the paths a request names (SystemStore) come from files
// handed over by their absolute paths, not from a disk.

import { InvalidInputError, PysymError, RequestTooLargeError } from "./errors.js";
import { Minidump, buildCfi, walkMinidump } from "./minidump.js";
import { NativeObject, SymCache } from "./native.js";
import { getRuntime } from "./runtime.js";
import { bisectRight, splitlines } from "./stacktrace.js";
import { crc32, debugIdFromBuildId, formatDebugId, normalizeCodeId, parseDebugId } from "./stores.js";

/** Frames in one request (all stack traces together); more raise RequestTooLargeError. */
export const MAX_FRAMES = 100000;
/** Modules in one request. */
export const MAX_MODULES = 10000;
export const MODULE_TYPES = Object.freeze(["elf", "macho", "pe", "wasm", "breakpad"]);

const MAX64 = (1n << 64n) - 1n;
const RANK_DEBUG = 3;
const RANK_SYMBOLS = 2;
const RANK_BREAKPAD = 1;
const MEMO_ENTRIES = 4096;
const HEXNUM = /^0[xX][0-9a-fA-F]+$/;
const DECIMAL = /^[0-9]+$/;

const hex = (n) => "0x" + n.toString(16);
const isMap = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const get = (o, k) => (has(o, k) ? o[k] : undefined);

// Python's truth value of a JSON value (the request's options are read as Python reads them).
function truthy(v) {
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

// Python's repr() of a JSON value, for the messages Python writes with %r.
function pyRepr(v) {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (typeof v === "string") {
    const q = v.includes("'") && !v.includes('"') ? '"' : "'";
    let out = q;
    for (const ch of v) {
      const c = ch.codePointAt(0);
      if (ch === "\\") out += "\\\\";
      else if (ch === q) out += "\\" + q;
      else if (ch === "\n") out += "\\n";
      else if (ch === "\r") out += "\\r";
      else if (ch === "\t") out += "\\t";
      else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
      else out += ch;
    }
    return out + q;
  }
  if (Array.isArray(v)) return "[" + v.map(pyRepr).join(", ") + "]";
  return "{" + Object.entries(v).map(([k, x]) => pyRepr(k) + ": " + pyRepr(x)).join(", ") + "}";
}

function short(v) {
  return typeof v === "string" && [...v].length > 60 ? [...v].slice(0, 60).join("") + "..." : v;
}

function oneLine(e) {
  return String((e && e.message) || (e && e.name) || e).split(/\s+/).filter(Boolean).join(" ");
}

// Errors of the platform's own making (bugs) are not a candidate's failure.
function isBug(e) {
  return e instanceof TypeError || e instanceof ReferenceError || e instanceof SyntaxError;
}

/** An address of a request ("0x...", a decimal string or an integer) as BigInt, null if invalid. */
export function parseAddress(value) {
  if (typeof value === "boolean") return null;
  if (typeof value === "bigint") return value >= 0n && value <= MAX64 ? value : null;
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 && value <= 2 ** 64 - 1 ? BigInt(value) : null;
  if (typeof value !== "string") return null;
  const v = value.trim();
  if (v.length > 40) return null;
  let n;
  if (HEXNUM.test(v)) n = BigInt("0x" + v.slice(2));
  else if (DECIMAL.test(v)) n = BigInt(v);
  else return null;
  return n <= MAX64 ? n : null;
}

/** The address looked up for a return address (pysym/_symbolicate/_request.py). */
export function callerAddress(addr, arch) {
  const a = (arch || "").toLowerCase();
  const max0 = (n) => (n < 0n ? 0n : n);
  if (["arm64", "aarch64", "arm64e", "arm64_32"].includes(a)) return max0((addr & ~3n) - 4n);
  if (a.startsWith("arm") || a.startsWith("thumb")) return max0((addr & ~1n) - 2n);
  return max0(addr - 1n);
}

/** A module (image) of a request: Python's pysym.Module, in camelCase. */
export class Module {
  constructor({ type, imageAddr, imageSize, debugId = null, codeId = null, debugFile = null, codeFile = null, arch = null }) {
    Object.assign(this, { type, imageAddr: BigInt(imageAddr), imageSize: BigInt(imageSize), debugId, codeId, debugFile, codeFile, arch });
    Object.freeze(this);
  }

  /** [guid hex, age] of the debug id, derived from the build id for ELF and wasm. */
  ids() {
    let parsed = parseDebugId(this.debugId);
    if (parsed === null && (this.type === "elf" || this.type === "wasm")) {
      const code = normalizeCodeId(this.codeId);
      if (code) parsed = debugIdFromBuildId(code);
    }
    return parsed;
  }

  normalizedCodeId() {
    return normalizeCodeId(this.codeId);
  }
}

/** [module, null] or [null, why it cannot be used]; never throws. */
export function parseModule(raw) {
  if (!isMap(raw)) return [null, "a module must be a JSON object"];
  const t = get(raw, "type");
  if (!MODULE_TYPES.includes(t)) return [null, `unknown module type ${pyRepr(t ?? null)} (one of ${MODULE_TYPES.join(", ")})`];
  if (get(raw, "image_addr") === undefined || raw.image_addr === null) return [null, "image_addr is missing"];
  const addr = parseAddress(raw.image_addr);
  if (addr === null) return [null, `image_addr is not an address: ${pyRepr(short(raw.image_addr))}`];
  if (get(raw, "image_size") === undefined || raw.image_size === null) return [null, "image_size is missing"];
  const size = parseAddress(raw.image_size);
  if (size === null || size === 0n) return [null, `image_size is not a positive size: ${pyRepr(short(raw.image_size))}`];
  if (addr + size > MAX64 + 1n) return [null, "image_addr + image_size is beyond the 64-bit address space"];
  const text = (key) => {
    const v = get(raw, key);
    return typeof v === "string" && v ? v : null;
  };
  const m = new Module({
    type: t, imageAddr: addr, imageSize: size, debugId: text("debug_id"), codeId: text("code_id"),
    debugFile: text("debug_file"), codeFile: text("code_file"), arch: text("arch"),
  });
  if (text("debug_id") && parseDebugId(m.debugId) === null) return [null, `debug_id is not a debug id: ${pyRepr(short(raw.debug_id))}`];
  if (text("code_id") && ["elf", "wasm", "macho"].includes(m.type) && normalizeCodeId(m.codeId) === null) {
    return [null, `code_id is not hexadecimal: ${pyRepr(short(raw.code_id))}`];
  }
  return [m, null];
}

function checkOverlaps(modules, errors) {
  const spans = [];
  modules.forEach((m, i) => { if (m) spans.push([m.imageAddr, m.imageAddr + m.imageSize, i]); });
  spans.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[2] - b[2]));
  let endMax = -1n;
  let owner = -1;
  for (const [start, end, i] of spans) {
    if (start < endMax) {
      errors[i] = `image range ${hex(start)}..${hex(end)} overlaps module ${owner}`;
      if (errors[owner] === null) errors[owner] = `image range overlaps module ${i}`;
    }
    if (end > endMax) {
      endMax = end;
      owner = i;
    }
  }
  errors.forEach((e, i) => { if (e !== null) modules[i] = null; });
}

/** null when the file (a NativeObject) is the module's, else why not. */
function matches(module, obj) {
  const wantCode = module.normalizedCodeId();
  const haveCode = (obj.codeId || "").toLowerCase() || null;
  if (module.type === "elf" && wantCode && haveCode) return wantCode === haveCode ? null : `build id ${haveCode}, not ${wantCode}`;
  const ids = module.ids();
  if (ids === null) return "the module has no debug_id or code_id to match";
  const have = parseDebugId(obj.debugId);
  if (have === null) return "the file has no debug id";
  if (have[0] !== ids[0] || have[1] !== ids[1]) return `debug id ${formatDebugId(...have)}, not ${formatDebugId(...ids)}`;
  return null;
}

function features(obj) {
  return { has_debug_info: obj.hasDebugInfo, has_symbols: obj.hasSymbols, has_unwind_info: Boolean(obj.hasUnwindInfo), has_sources: false };
}

function rank(obj) {
  if (obj.kind === "breakpad") return RANK_BREAKPAD;
  if (obj.hasDebugInfo) return RANK_DEBUG;
  if (obj.hasSymbols) return RANK_SYMBOLS;
  return 0;
}

function memoKey(m) {
  return JSON.stringify([m.type, m.ids(), m.normalizedCodeId(), m.debugFile, m.codeFile, m.arch]);
}

function relModule(mode, count) {
  if (typeof mode !== "string" || !mode.startsWith("rel:")) return null;
  const n = mode.slice(4);
  if (!/^[0-9]+$/.test(n) || n.length > 9) return null;
  const i = Number(n);
  return i < count ? i : null;
}

/** Lines of context around a frame's line (Python's _CONTEXT_LINES), and the largest source read. */
const CONTEXT_LINES = 5;
const MAX_SOURCE_BYTES = 10 << 20;

function template(f, imageAddr, pkg, sources = null) {
  const d = pkg ? { package: pkg } : {};
  d.status = "symbolicated";
  if (f.function !== null) d.function = f.function;
  if (f.rawFunction !== null) {
    d.raw_function = f.rawFunction;
    d.symbol = f.rawFunction;
  }
  d.sym_addr = hex(imageAddr + BigInt(f.symAddr));
  if (f.file) {
    d.abs_path = f.file;
    d.filename = f.file.replaceAll("\\", "/").split("/").pop();
  }
  if (f.line) d.lineno = f.line;
  if (f.column) d.colno = f.column;
  const lines = sources && f.file && f.line ? sources.get(f.file) : null;
  if (lines && f.line >= 1 && f.line <= lines.length) {
    const i = f.line - 1;
    d.pre_context = lines.slice(Math.max(0, i - CONTEXT_LINES), i);
    d.context_line = lines[i];
    d.post_context = lines.slice(i + 1, i + 1 + CONTEXT_LINES);
  }
  return d;
}

/** The lines of the local source files the frames name (Python's local_sources): path -> lines. */
async function readSources(localSources, paths) {
  const out = new Map();
  for (const path of paths) {
    let data = localSources.get(path);
    if (data === undefined || data === null) continue;
    try {
      if (typeof data !== "string") {
        const blob = typeof Blob !== "undefined" && data instanceof Blob;
        if ((blob ? data.size : data.byteLength) > MAX_SOURCE_BYTES) continue;
        // (Python reads with errors="replace" and keeps a byte-order mark)
        data = new TextDecoder("utf-8", { ignoreBOM: true }).decode(blob ? await data.arrayBuffer() : data);
      }
      out.set(path, splitlines(data));
    } catch (e) {
      if (isBug(e)) throw e; // an unreadable file has no context, as in Python
    }
  }
  return out;
}

/**
 * Symbolicates native crashes: `symbolicate(request)` and `processMinidump(dump)` give
 * the Python Symbolicator's responses. `stores`: FileSetResolver, HttpStore or any object
 * with locations/fetch/describe/id (see stores.js). Options: `runtime`, `maxFrames`,
 * `maxModules`, `memoryCacheBytes` (symcaches and CFI caches kept), `cache` (a persistent
 * symcache cache such as SymcacheDB: async get(key) / put(key, bytes)), `onProgress`
 * ({stage: "symcache"|"cfi"|"walk", module, done} while building).
 */
export class Symbolicator {
  constructor(stores = [], { runtime = null, maxFrames = MAX_FRAMES, maxModules = MAX_MODULES, memoryCacheBytes = 512 << 20, cache = null, onProgress = null, localSources = null } = {}) {
    this.stores = [...stores];
    // Python's local_sources: here the files themselves, by the absolute path the debug info names
    this.localSources = localSources === null ? null : localSources instanceof Map ? localSources : new Map(Object.entries(localSources));
    this._runtime = runtime;
    this.maxFrames = maxFrames;
    this.maxModules = maxModules;
    this.memoryCacheBytes = memoryCacheBytes;
    this.cache = cache;
    this.onProgress = onProgress;
    this._memo = new Map(); // memo key -> resolved (a found module keeps its symcache)
    this._unwindMemo = new Map();
    this._unwindBytes = 0;
    this._idents = new Map(); // file -> Map(arch -> NativeObject)
    this._fileIds = new WeakMap();
    this._nextFile = 1;
    this._bytes = 0;
    /** symcaches built, loaded from `cache`, reused from memory (for tests and the page). */
    this.stats = { builds: 0, cacheHits: 0, memoryHits: 0, cfiBuilds: 0 };
  }

  get runtime() {
    return this._runtime || getRuntime();
  }

  _progress(event) {
    if (this.onProgress) {
      try {
        this.onProgress(event);
      } catch {
        // a failing progress callback must not break symbolication
      }
    }
  }

  async _ident(data, arch) {
    let per = this._idents.get(data);
    if (!per) {
      per = new Map();
      this._idents.set(data, per);
    }
    const key = arch || "";
    if (!per.has(key)) per.set(key, await NativeObject.fromBlob(data, { arch, runtime: this.runtime }));
    return per.get(key);
  }

  _fileId(data) {
    if (!this._fileIds.has(data)) this._fileIds.set(data, this._nextFile++);
    return this._fileIds.get(data);
  }

  /** Drops every module found, missing or built (the memory caches). */
  clear() {
    for (const r of this._memo.values()) if (r.symcache) r.symcache.close();
    this._memo.clear();
    this._unwindMemo.clear();
    this._unwindBytes = 0;
    this._idents.clear();
    this._bytes = 0;
  }

  _remember(key, res, ttl) {
    if (res.status === "missing" && !(ttl > 0)) return;
    if (res.status === "malformed" || res.status === "fetching_failed") return;
    const old = this._memo.get(key);
    if (old && old.symcache && old.symcache !== res.symcache) old.symcache.close();
    this._memo.delete(key);
    this._memo.set(key, { ...res, expires: Date.now() + 1000 * ttl });
    if (res.symcache) this._bytes += res.size;
    // the oldest go first: by count, and by the bytes of the symcaches kept
    for (const [k, r] of this._memo) {
      if (this._memo.size <= MEMO_ENTRIES && this._bytes <= this.memoryCacheBytes) break;
      if (k === key) continue;
      this._memo.delete(k);
      if (r.symcache) {
        this._bytes -= r.size;
        r.symcache.close();
      }
    }
  }

  /** The symcache of a module: {status, symcache, arch, features, candidates, error}. */
  async resolve(module) {
    const key = memoKey(module);
    const hit = this._memo.get(key);
    if (hit && (hit.status !== "missing" || Date.now() < hit.expires)) {
      if (hit.symcache) this.stats.memoryHits += 1;
      return hit;
    }
    const res = await this._find(module);
    const ttl = this.stores.length ? Math.min(...this.stores.map((s) => s.negativeTtl ?? 300)) : 0;
    this._remember(key, res, ttl);
    return res;
  }

  async _find(module) {
    const found = [];
    const reports = [];
    const transient = []; // candidates that failed to download: neither found nor missing
    const seen = new Map();
    for (const store of this.stores) {
      for (const loc of await store.locations(module)) {
        const report = { source: store.id, location: store.describe(loc) };
        reports.push(report);
        let data;
        try {
          data = await store.fetch(loc);
        } catch (e) {
          if (isBug(e)) throw e;
          report.download = { status: "error", details: String((e && e.message) || e) };
          transient.push(report.download.details);
          continue;
        }
        if (data === null || data === undefined) {
          report.download = { status: "notfound" };
          continue;
        }
        if (loc.crc !== undefined && loc.crc !== null) {
          const have = await crc32(data);
          if (have !== loc.crc) {
            const h8 = (n) => n.toString(16).padStart(8, "0");
            report.download = { status: "rejected", details: `debuglink CRC mismatch: 0x${h8(have)}, the binary expects 0x${h8(loc.crc)}` };
            continue;
          }
        }
        const same = seen.get(data);
        if (same !== undefined) {
          report.download = { ...same.download };
          report.debug = { status: "unused", details: "same file as another candidate" };
          continue;
        }
        seen.set(data, report);
        let obj;
        try {
          obj = await this._ident(data, module.type === "macho" ? module.arch : null);
        } catch (e) {
          if (isBug(e)) throw e;
          report.download = { status: "malformed", details: oneLine(e) };
          continue;
        }
        const why = matches(module, obj);
        if (why !== null) {
          report.download = { status: "rejected", details: "id mismatch: " + why };
          continue;
        }
        const r = rank(obj);
        report.download = { status: "ok", features: features(obj) };
        if (r === 0) {
          report.debug = { status: "unused", details: "no debug info and no symbols" };
          continue;
        }
        found.push([-r, found.length, data, obj, report]);
      }
    }
    found.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const res = { status: "missing", symcache: null, arch: null, features: {}, candidates: reports, error: null, size: 0 };
    const errors = [];
    for (const [, , data, obj, report] of found) {
      if (res.status === "found") {
        report.debug = { status: "unused", details: "a better candidate was used" };
        continue;
      }
      let sc;
      try {
        sc = await this._symcache(data, obj, module);
      } catch (e) {
        if (isBug(e)) throw e;
        report.debug = { status: "malformed", details: oneLine(e) };
        errors.push(oneLine(e));
        continue;
      }
      report.debug = { status: "ok" };
      Object.assign(res, { status: "found", symcache: sc, arch: obj.arch || null, features: features(obj), size: sc._data.length });
    }
    if (res.status !== "found" && errors.length) Object.assign(res, { status: "malformed", error: errors[0] });
    // a store down is not "missing": not remembered, the next request looks again
    else if (res.status !== "found" && transient.length) Object.assign(res, { status: "fetching_failed", error: transient[0] });
    return res;
  }

  async _symcache(data, obj, module) {
    const rt = this.runtime;
    const name = module.codeFile || module.debugFile || obj.debugId;
    let key = null;
    if (this.cache) {
      key = await this.cache.keyFor(data, obj.debugId, rt);
      const bytes = await this.cache.get(key);
      if (bytes) {
        try {
          const sc = SymCache.fromBytes(bytes, { runtime: rt });
          this.stats.cacheHits += 1;
          return sc;
        } catch (e) {
          if (!(e instanceof PysymError)) throw e;
          await this.cache.delete(key); // a damaged entry: built again
        }
      }
    }
    this._progress({ stage: "symcache", module: name, done: 0 });
    const sc = await SymCache.fromObject(obj, { runtime: rt, progress: (done) => this._progress({ stage: "symcache", module: name, done }) });
    this.stats.builds += 1;
    this._progress({ stage: "symcache", module: name, done: 1 });
    if (this.cache) await this.cache.put(key, sc.toBytes());
    return sc;
  }

  /** Symbolicates a request (Symbolicator's /symbolicate JSON as an object). */
  async symbolicate(request) {
    if (!isMap(request)) throw new InvalidInputError("a symbolication request must be a JSON object");
    let traces = has(request, "stacktraces") ? request.stacktraces : get(request, "threads");
    if (traces === undefined || traces === null) traces = [];
    if (!Array.isArray(traces)) throw new InvalidInputError("'stacktraces' must be a list");
    let rawModules = has(request, "modules") ? request.modules : [];
    if (rawModules === null) rawModules = [];
    if (!Array.isArray(rawModules)) throw new InvalidInputError("'modules' must be a list");
    if (rawModules.length > this.maxModules) {
      throw new RequestTooLargeError(`the request has ${rawModules.length} modules; at most ${this.maxModules} are allowed`);
    }
    let total = 0;
    for (const t of traces) {
      if (!isMap(t) || !Array.isArray(get(t, "frames"))) throw new InvalidInputError("each stack trace must be an object with a 'frames' list");
      total += t.frames.length;
    }
    if (total > this.maxFrames) throw new RequestTooLargeError(`the request has ${total} frames; at most ${this.maxFrames} are allowed`);
    const options = truthy(get(request, "options")) ? request.options : {};
    if (!isMap(options)) throw new InvalidInputError("'options' must be an object");
    const order = has(options, "frame_order") ? options.frame_order : "callee_first";
    if (order !== "callee_first" && order !== "caller_first") {
      throw new InvalidInputError("options.frame_order must be 'callee_first' or 'caller_first'");
    }
    const callerFirst = order === "caller_first";
    const wantContext = this.localSources !== null && (has(options, "apply_source_context") ? truthy(options.apply_source_context) : true);
    const wantCandidates = truthy(get(options, "dif_candidates") ?? false);

    const modules = [];
    const errors = [];
    for (const raw of rawModules) {
      const [m, err] = parseModule(raw);
      modules.push(m);
      errors.push(err);
    }
    checkOverlaps(modules, errors);
    const usable = [];
    modules.forEach((m, i) => { if (m) usable.push([m.imageAddr, i]); });
    usable.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
    const starts = usable.map(([s]) => s);
    const owners = usable.map(([, i]) => i);
    const ends = usable.map(([s, i]) => s + modules[i].imageSize);

    // Pass 1: place every frame; group lookups by module.
    const plan = [];
    const wanted = new Map(); // module index -> [[ti, fi, addr, adjust]]
    traces.forEach((t, ti) => {
      const frames = t.frames;
      const first = callerFirst ? frames.length - 1 : 0;
      const row = [];
      plan.push(row);
      frames.forEach((frame, fi) => {
        if (!isMap(frame)) {
          row.push({ status: "malformed", addr: null });
          return;
        }
        let addr = parseAddress(get(frame, "instruction_addr"));
        if (addr === null) {
          row.push({ status: "malformed", addr: null });
          return;
        }
        const mode = get(frame, "addr_mode");
        if (truthy(mode) && mode !== "abs") {
          const rel = relModule(mode, rawModules.length);
          if (rel === null) {
            row.push({ status: "malformed", addr });
            return;
          }
          const relMod = modules[rel];
          if (relMod === null) {
            row.push({ status: "unknown_image", addr });
            return;
          }
          addr = relMod.imageAddr + addr;
          if (addr > MAX64) {
            row.push({ status: "malformed", addr });
            return;
          }
        }
        const slot = bisectRight(starts, addr) - 1;
        if (slot < 0 || addr >= ends[slot]) {
          row.push({ status: "unknown_image", addr });
          return;
        }
        const mi = owners[slot];
        let adjust = get(frame, "adjust_instruction_addr");
        if (adjust !== true && adjust !== false) adjust = fi !== first && get(frame, "trust") !== "context";
        if (!wanted.has(mi)) wanted.set(mi, []);
        wanted.get(mi).push([ti, fi, addr, adjust]);
        row.push({ addr, mi });
      });
    });

    // Pass 2: resolve each referenced module, look its addresses up in one batch.
    const resolved = new Map();
    const results = new Map(); // "ti:fi" -> frames
    for (const mi of wanted.keys()) resolved.set(mi, await this.resolve(modules[mi]));
    for (const [mi, items] of wanted) {
      const m = modules[mi];
      const res = resolved.get(mi);
      if (!res.symcache) continue;
      const arch = m.arch || res.arch;
      let rels;
      if (["x86_64", "x86", "amd64", "i386", "i686", ""].includes((arch || "").toLowerCase())) {
        rels = items.map(([, , a, adj]) => a - m.imageAddr - (adj ? 1n : 0n));
      } else {
        rels = items.map(([, , a, adj]) => (adj ? callerAddress(a, arch) : a) - m.imageAddr);
      }
      const looked = res.symcache.lookupMany(rels.map((r) => (r >= 0n ? r : MAX64)));
      items.forEach(([ti, fi], k) => results.set(`${ti}:${fi}`, looked[k]));
    }
    let sources = null;
    if (wantContext) {
      const paths = new Set();
      for (const found of results.values()) for (const f of found) if (f.file && f.line) paths.add(f.file);
      sources = await readSources(this.localSources, paths);
    }

    const outTraces = traces.map((t, ti) => {
      const outFrames = [];
      plan[ti].forEach((placed, fi) => {
        const frame = t.frames[fi];
        const trust = isMap(frame) ? get(frame, "trust") ?? null : null;
        if (placed.mi === undefined) {
          const d = { status: placed.status, original_index: fi };
          if (placed.addr !== null) d.instruction_addr = hex(placed.addr);
          else if (isMap(frame) && has(frame, "instruction_addr")) d.instruction_addr = frame.instruction_addr;
          if (trust !== null) d.trust = trust;
          outFrames.push(d);
          return;
        }
        const { addr, mi } = placed;
        const m = modules[mi];
        const found = results.get(`${ti}:${fi}`);
        if (found && found.length) {
          const group = found.map((f) => {
            const tmpl = template(f, m.imageAddr, m.codeFile, sources);
            if (trust === null) return { original_index: fi, instruction_addr: hex(addr), ...tmpl };
            const g = { original_index: fi, instruction_addr: hex(addr), package: null, trust, ...tmpl };
            if (!has(tmpl, "package")) delete g.package;
            return g;
          });
          if (callerFirst) group.reverse();
          outFrames.push(...group);
          return;
        }
        const res = resolved.get(mi);
        const base = { original_index: fi, instruction_addr: hex(addr) };
        if (m.codeFile) base.package = m.codeFile;
        if (trust !== null) base.trust = trust;
        if (!res.symcache) base.status = res.status === "malformed" ? "malformed" : "missing";
        else base.status = "missing_symbol";
        outFrames.push(base);
      });
      const st = { frames: outFrames };
      for (const k of ["registers", "is_requesting", "crashed", "thread_id", "thread_name"]) if (has(t, k)) st[k] = t[k];
      return st;
    });

    const outModules = rawModules.map((raw, i) => {
      const d = isMap(raw) ? { ...raw } : { raw };
      const m = modules[i];
      if (m === null) {
        d.debug_status = "malformed";
        d.debug_error = errors[i];
      } else if (!resolved.has(i)) {
        d.debug_status = "unused";
      } else {
        const res = resolved.get(i);
        d.debug_status = res.status;
        if (Object.keys(res.features).length) d.features = { ...res.features };
        if (res.arch && !has(d, "arch")) d.arch = res.arch;
        if (res.error) d.debug_error = res.error;
        if (wantCandidates) d.candidates = res.candidates.map((c) => ({ ...c }));
      }
      if (m !== null) d.image_addr = hex(m.imageAddr);
      return d;
    });
    return { status: "completed", stacktraces: outTraces, modules: outModules };
  }

  /** The CFI cache of a module: the first file in the stores that matches it and has unwind information. */
  async _resolveUnwind(module) {
    const key = memoKey(module);
    const hit = this._unwindMemo.get(key);
    if (hit) return hit;
    let res = { status: "missing", cache: null, error: null };
    const errors = [];
    const seen = new Set();
    outer: for (const store of this.stores) {
      for (const loc of await store.locations(module)) {
        let data;
        try {
          data = await store.fetch(loc);
        } catch (e) {
          if (isBug(e)) throw e;
          continue;
        }
        if (data === null || data === undefined || seen.has(data)) continue;
        seen.add(data);
        let obj;
        try {
          obj = await this._ident(data, module.type === "macho" ? module.arch : null);
        } catch (e) {
          if (isBug(e)) throw e;
          continue;
        }
        if (matches(module, obj) !== null || !obj.hasUnwindInfo) continue;
        try {
          const name = module.codeFile || module.debugFile || obj.debugId;
          this._progress({ stage: "cfi", module: name, done: 0 });
          const built = await buildCfi(data, { arch: obj.kind === "macho" ? obj.arch : null, runtime: this.runtime });
          this.stats.cfiBuilds += 1;
          this._progress({ stage: "cfi", module: name, done: 1 });
          res = { status: "found", cache: built.cache, error: null };
        } catch (e) {
          if (isBug(e)) throw e;
          errors.push(oneLine(e));
          continue;
        }
        break outer;
      }
    }
    if (res.status !== "found" && errors.length) res = { status: "malformed", cache: null, error: errors[0] };
    if (res.status === "found") {
      this._unwindMemo.set(key, res);
      this._unwindBytes += res.cache.length;
      // bounded by count and by the bytes of the CFI caches kept, the oldest first
      for (const [k, r] of this._unwindMemo) {
        if (this._unwindMemo.size <= MEMO_ENTRIES && this._unwindBytes <= this.memoryCacheBytes) break;
        if (k === key) continue;
        this._unwindMemo.delete(k);
        this._unwindBytes -= r.cache.length;
      }
    }
    return res;
  }

  /**
   * Walks and symbolicates a minidump (bytes, or a Blob/File read by ranges): the Python
   * Symbolicator.process_minidump response (Symbolicator's /minidump shape).
   */
  async processMinidump(dump) {
    const rt = this.runtime;
    const md = dump instanceof Minidump ? dump : await Minidump.fromBlob(dump, { runtime: rt });
    const rawModules = minidumpModules(md);
    const unwinds = [];
    const caches = [];
    for (let i = 0; i < rawModules.length; i++) {
      const [m] = parseModule(rawModules[i]);
      if (m === null) {
        unwinds.push(null);
        continue;
      }
      const u = await this._resolveUnwind(m);
      unwinds.push(u);
      if (u.cache) caches.push([i, u.cache]);
    }
    this._progress({ stage: "walk", module: null, done: 0 });
    const walked = await walkMinidump(md._source, caches, { runtime: rt });
    this._progress({ stage: "walk", module: null, done: 1 });
    const traces = [];
    md.threads.forEach((thread, ti) => {
      const tw = walked.threads[ti];
      if (!tw) return;
      const st = {
        thread_id: thread.id, is_requesting: ti === md.crashedThread,
        frames: tw.frames.map((f) => ({ instruction_addr: f.pc, trust: f.trust })),
        registers: Object.fromEntries(tw.registers),
      };
      if (thread.name) st.thread_name = thread.name;
      traces.push(st);
    });
    const response = await this.symbolicate({ modules: rawModules, stacktraces: traces });
    response.stacktraces.forEach((st, i) => {
      const tw = walked.threads[i];
      if (tw && tw.stop !== "end") st.walk_stopped = tw.stop;
    });
    response.modules.forEach((d, i) => {
      const uw = i < unwinds.length ? unwinds[i] : null;
      d.unwind_status = uw === null ? "unused" : uw.status;
      if (!has(d, "features")) d.features = { has_debug_info: false, has_symbols: false, has_unwind_info: false, has_sources: false };
      d.features.has_unwind_info = Boolean(uw && uw.cache);
      if (uw && uw.error) d.unwind_error = uw.error;
    });
    const si = md.systemInfo;
    const exc = md.exception;
    return {
      status: "completed",
      timestamp: md.document.timestamp ?? null,
      system_info: {
        os_name: si ? OS_NAMES[si.os] || si.os : "",
        os_version: si ? si.osVersion.join(".") : "",
        os_build: si ? si.csdVersion || "" : "",
        cpu_arch: si ? si.cpu : "unknown",
        device_model: "",
      },
      crashed: exc !== null,
      crash_reason: exc ? exc.reason : null,
      crash_details: crashDetails(md),
      crash_address: exc ? hex(crashAddress(md)) : null,
      assertion: assertion(md),
      stacktraces: response.stacktraces,
      modules: response.modules,
      warnings: [...md.warnings, ...(walked.warnings || [])],
    };
  }
}

const OS_NAMES = {
  windows: "Windows", linux: "Linux", android: "Android", macos: "macOS", ios: "iOS", solaris: "Solaris", fuchsia: "Fuchsia",
};
const DUMP_MODULE_TYPES = { windows: "pe", macos: "macho", ios: "macho", linux: "elf", android: "elf" };

/** A minidump's modules as /symbolicate request modules (pysym's minidump_modules). */
export function minidumpModules(md) {
  const osName = md.systemInfo ? md.systemInfo.os : "unknown";
  const arch = md.systemInfo ? md.systemInfo.cpu : null;
  return md.modules.map((m) => {
    const t = DUMP_MODULE_TYPES[osName] || ({ pdb70: "pe", pdb20: "pe" }[m.codeview] || "elf");
    let size = m.extent > BigInt(m.size) ? m.extent : BigInt(m.size);
    if (size < 1n) size = 1n;
    const d = { type: t, image_addr: hex(m.base), image_size: Number(size), code_file: m.codeFile, debug_file: m.debugFile };
    if (m.codeId) d.code_id = m.codeId;
    if (m.debugId) d.debug_id = m.debugId;
    if (arch && arch !== "unknown") d.arch = arch;
    return d;
  });
}

function crashAddress(md) {
  const exc = md.exception;
  // Access violations carry the address touched in their second parameter.
  const windows = md.systemInfo !== null && md.systemInfo.os === "windows";
  if (windows && exc.code === 0xC0000005 && exc.parameters.length > 1) return exc.parameters[1];
  return exc.address;
}

const ACCESS = { 0: "read from", 1: "write to", 8: "execute at" };

/** What the dump says beyond the reason and the address (pysym's _crash_details). */
function crashDetails(md) {
  const a = md.document.assertion;
  if (a && (a.expression || a.function)) {
    return `assertion failed: ${a.expression || "?"} in ${a.function || "?"} (${a.file || "?"}:${a.line || 0})`;
  }
  const exc = md.exception;
  if (exc === null || md.systemInfo === null || md.systemInfo.os !== "windows") return null;
  const p = exc.parameters.map((v) => BigInt(v));
  if ((exc.code === 0xC0000005 || exc.code === 0xC0000006) && p.length > 1) {
    const kind = Number(p[0]);
    let text = `attempted ${ACCESS[kind] || `access (kind ${kind}) to`} 0x${p[1].toString(16)}`;
    if (exc.code === 0xC0000006 && p.length > 2) text += `, status 0x${p[2].toString(16).padStart(8, "0")}`;
    return text;
  }
  if (exc.code === 0xC0000409 && p.length) return `fast fail code ${p[0]}`;
  return null;
}

function assertion(md) {
  const a = md.document.assertion;
  if (!a) return null;
  const text = [a.expression || "", a.function || "", a.file || ""].filter((p) => p).join(" ");
  return text || null;
}
