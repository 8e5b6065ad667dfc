// Symbol stores for the browser (mirrors pysym/_symbolicate/_stores.py and _ids.py): where
// the debug file of a module may be, in the same layouts as the Python stores, and how to
// get it. A store answers:
//
//   locations(module) -> [{path, filetype}]   the places to try, in order; no I/O
//   fetch(location)   -> Blob | Uint8Array | null   (async) the file there, or null
//   describe(location) -> string              as reported in candidates[].location
//
// FileSetResolver (stacktrace.js) is the store over dropped files or a folder; HttpStore
// reads a symbol server with fetch() (it must send CORS headers to a page of another origin).

import { PysymError } from "./errors.js";
import { NativeObject } from "./native.js";

export const LAYOUTS = Object.freeze(["native", "symstore", "symstore_index2", "ssqp", "unified", "debuginfod"]);
export const CASINGS = Object.freeze(["default", "lowercase", "uppercase"]);
/** Seconds a store's "not found" is remembered (as Python's DEFAULT_NEGATIVE_TTL). */
export const DEFAULT_NEGATIVE_TTL = 300;

const HEX = /^[0-9a-f]+$/;

// -- ids (pysym/_symbolicate/_ids.py) ----------------------------------------------------

/** [guid as 32 lowercase hex digits, age], or null when `text` is not a debug id. */
export function parseDebugId(text) {
  if (typeof text !== "string") return null;
  const t = text.trim().toLowerCase().replaceAll("-", "");
  if (t.length < 32 || !HEX.test(t)) return null;
  const guid = t.slice(0, 32);
  const age = t.slice(32);
  if (age.length > 8) return null;
  return [guid, age ? parseInt(age, 16) : 0];
}

export function formatDebugId(guid, age) {
  const s = `${guid.slice(0, 8)}-${guid.slice(8, 12)}-${guid.slice(12, 16)}-${guid.slice(16, 20)}-${guid.slice(20, 32)}`;
  return age === 0 ? s : `${s}-${age.toString(16)}`;
}

export function breakpadId(guid, age) {
  return (guid + age.toString(16)).toUpperCase();
}

export function normalizeCodeId(text) {
  if (typeof text !== "string") return null;
  const t = text.trim().toLowerCase().replaceAll("-", "");
  if (!t || t.length % 2 || !HEX.test(t)) return null;
  return t;
}

// The first three GUID fields byte-swapped, on hex text.
function swapGuid(hex) {
  const b = hex.match(/../g);
  return [b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], ...b.slice(8)].join("");
}

export function debugIdFromBuildId(buildId) {
  if (!buildId) return null;
  return [swapGuid((buildId + "0".repeat(32)).slice(0, 32)), 0];
}

export function buildIdFromDebugId(guid) {
  return swapGuid(guid);
}

// -- layouts ------------------------------------------------------------------------------

function name(path) {
  if (!path) return null;
  const base = path.replaceAll("\\", "/").replace(/\/+$/, "").split("/").pop();
  return base || null;
}

/** [key (build id or UUID, lowercase), Breakpad debug id, GUID] of a module (see Module.ids). */
function moduleIds(module) {
  const ident = module.ids();
  const code = module.normalizedCodeId();
  const bp = ident ? breakpadId(ident[0], ident[1]) : null;
  const guid = ident ? ident[0] : null;
  let key;
  if (module.type === "elf" || module.type === "wasm") key = code || (guid ? buildIdFromDebugId(guid) : null);
  else if (module.type === "macho") key = guid || code;
  else key = guid;
  return [key, bp, guid];
}

const loc = (path, filetype) => ({ path, filetype });

function breakpadPaths(module, bp) {
  const n = name(module.debugFile) || name(module.codeFile);
  if (!n || !bp) return [];
  const sym = (n.toLowerCase().endsWith(".pdb") ? n.slice(0, -4) : n) + ".sym";
  return [loc(`${n}/${bp}/${sym}`, "breakpad")];
}

function symstorePe(module, bp) {
  const out = [];
  const pdb = name(module.debugFile);
  if (pdb && bp) out.push(loc(`${pdb}/${bp}/${pdb}`, "pdb"));
  const exe = name(module.codeFile);
  if (exe && typeof module.codeId === "string" && module.codeId) out.push(loc(`${exe}/${module.codeId.toUpperCase()}/${exe}`, "pe"));
  return out;
}

/** The relative paths of `module`'s files in a store of `layout` (default casing). */
export function layoutLocations(layout, module) {
  const [key, bp, guid] = moduleIds(module);
  const t = module.type;
  let out = [];
  if (layout === "native") {
    if ((t === "elf" || t === "wasm") && key) {
      const ft = t === "elf" ? "elf" : "wasm";
      out.push(loc(`.build-id/${key.slice(0, 2)}/${key.slice(2)}.debug`, ft + "_debug"));
      out.push(loc(`.build-id/${key.slice(0, 2)}/${key.slice(2)}`, ft + "_code"));
    } else if (t === "macho" && key) {
      const u = key.toUpperCase();
      out.push(loc([u.slice(0, 4), u.slice(4, 8), u.slice(8, 12), u.slice(12, 16), u.slice(16, 20), u.slice(20)].join("/"), "mach_debug"));
    } else if (t === "pe") {
      out.push(...symstorePe(module, bp));
    }
    if (t !== "breakpad" || bp) out.push(...breakpadPaths(module, bp));
  } else if (layout === "symstore" || layout === "symstore_index2" || layout === "ssqp") {
    if ((t === "elf" || t === "wasm") && key) {
      const n = name(module.codeFile) || name(module.debugFile);
      if (n) out.push(loc(`${n}/elf-buildid-${key}/${n}`, "elf_code"));
      out.push(loc(`_.debug/elf-buildid-sym-${key}/_.debug`, "elf_debug"));
    } else if (t === "macho" && key) {
      const n = name(module.codeFile) || name(module.debugFile);
      if (n) out.push(loc(`${n}/mach-uuid-${key}/${n}`, "mach_code"));
      out.push(loc(`_.dwarf/mach-uuid-sym-${key}/_.dwarf`, "mach_debug"));
    } else if (t === "pe") {
      out.push(...symstorePe(module, bp));
    }
    out.push(...breakpadPaths(module, bp));
    if (layout === "symstore_index2") out = out.map((l) => loc(`${l.path.split("/", 1)[0].slice(0, 2)}/${l.path}`, l.filetype));
    else if (layout === "ssqp") out = out.map((l) => loc(l.path.toLowerCase(), l.filetype));
  } else if (layout === "unified") {
    let k = t === "elf" || t === "wasm" || t === "macho" ? key : guid ? guid + module.ids()[1].toString(16) : null;
    if (k) {
      k = k.toLowerCase();
      const debugFt = { elf: "elf_debug", macho: "mach_debug", wasm: "wasm_debug" }[t] || "pdb";
      const codeFt = { elf: "elf_code", macho: "mach_code", wasm: "wasm_code" }[t] || "pe";
      out.push(loc(`${k.slice(0, 2)}/${k.slice(2)}/debuginfo`, debugFt));
      out.push(loc(`${k.slice(0, 2)}/${k.slice(2)}/executable`, codeFt));
      out.push(loc(`${k.slice(0, 2)}/${k.slice(2)}/breakpad`, "breakpad"));
    }
  } else if (layout === "debuginfod") {
    if (t === "elf" && key) {
      out.push(loc(`buildid/${key}/debuginfo`, "elf_debug"));
      out.push(loc(`buildid/${key}/executable`, "elf_code"));
    }
  } else {
    throw new PysymError(`unknown store layout ${JSON.stringify(layout)} (one of ${LAYOUTS.join(", ")})`);
  }
  return out;
}

/** layoutLocations with a store's casing applied. */
export function casedLocations(layout, casing, module) {
  const out = layoutLocations(layout, module);
  if (casing === "lowercase") return out.map((l) => loc(l.path.toLowerCase(), l.filetype));
  if (casing === "uppercase") return out.map((l) => loc(l.path.toUpperCase(), l.filetype));
  return out;
}

export function checkLayout(layout, casing) {
  if (!LAYOUTS.includes(layout)) throw new PysymError(`unknown store layout ${JSON.stringify(layout)} (one of ${LAYOUTS.join(", ")})`);
  if (!CASINGS.includes(casing)) throw new PysymError(`unknown casing ${JSON.stringify(casing)} (one of ${CASINGS.join(", ")})`);
}

/** File types as Symbolicator's source filters name them. */
export const FILETYPES = Object.freeze(["elf_code", "elf_debug", "mach_code", "mach_debug", "pe", "pdb", "breakpad", "wasm_debug", "wasm_code"]);

// Python's fnmatch.fnmatchcase as a regular expression ("*" also crosses "/").
function globRegExp(pattern) {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") out += ".*";
    else if (c === "?") out += ".";
    else if (c === "[") {
      let j = i + 1;
      if (pattern[j] === "!") j++;
      if (pattern[j] === "]") j++; // a "]" first is a member, not the end
      j = pattern.indexOf("]", j);
      if (j < 0) {
        out += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, j).replaceAll("\\", "\\\\");
      if (body.startsWith("!")) body = "^" + body.slice(1);
      else if (body.startsWith("^")) body = "\\" + body;
      out += `[${body}]`;
      i = j;
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^(?:${out})$`, "s");
}

/**
 * A store's `filters` ({filetypes, path_patterns}, as the Python stores take them) as a
 * predicate (module, location) -> allowed; unknown keys or file types are errors.
 */
export function storeFilter(filters) {
  const f = filters || {};
  const unknown = Object.keys(f).filter((k) => k !== "filetypes" && k !== "path_patterns").sort();
  if (unknown.length) throw new PysymError(`unknown store filter(s): ${unknown.join(", ")}`);
  const types = f.filetypes === undefined || f.filetypes === null ? null : new Set(f.filetypes);
  if (types) {
    const bad = [...types].filter((t) => !FILETYPES.includes(t));
    if (bad.length) throw new PysymError(`unknown file type(s) in filters: ${bad.join(", ")}`);
  }
  const patterns = (f.path_patterns || []).map((p) => globRegExp(String(p).toLowerCase()));
  return (module, location) => {
    if (types && !types.has(location.filetype)) return false;
    if (patterns.length) {
      const names = [module.codeFile, module.debugFile].filter(Boolean);
      return names.some((n) => patterns.some((re) => re.test(n.toLowerCase())));
    }
    return true;
  };
}

/** A relative path a store may serve: ids come from the request, so no escapes. */
export function safePath(path) {
  return !path.split("/").some((p) => p === "" || p === "." || p === "..");
}

/**
 * A symbol server over fetch(): `new HttpStore(url, {layout, casing, id, headers})`.
 * A 404 (or 403/410) is "not found"; other failures are a candidate's error. The page's
 * origin must be allowed by the server's CORS headers.
 */
export class HttpStore {
  constructor(url, { layout = "native", casing = "default", id = null, headers = null, negativeTtl = DEFAULT_NEGATIVE_TTL, maxBytes = 1 << 30, filters = null } = {}) {
    checkLayout(layout, casing);
    this._allowed = storeFilter(filters);
    this.url = String(url).replace(/\/+$/, "") + "/";
    this.layout = layout;
    this.casing = casing;
    this.id = id || `${layout}:${this.url}`;
    this.headers = headers || {};
    this.negativeTtl = negativeTtl;
    this.maxBytes = maxBytes;
    // Files fetched, by URL: one download per file, and the same Blob for the same file
    // (a symbolicator reads each file's identity once).
    this._fetched = new Map();
  }

  locations(module) {
    return casedLocations(this.layout, this.casing, module).filter((l) => this._allowed(module, l));
  }

  describe(location) {
    return this.url + location.path;
  }

  async fetch(location) {
    if (!safePath(location.path)) return null;
    const url = this.describe(location);
    if (!this._fetched.has(url)) {
      const p = this._download(url);
      this._fetched.set(url, p);
      p.catch(() => this._fetched.delete(url)); // failures are asked again
      while (this._fetched.size > 256) this._fetched.delete(this._fetched.keys().next().value);
    }
    return this._fetched.get(url);
  }

  async _download(url) {
    // fetch() rejects with a TypeError when the server is down or refuses CORS: a download
    // error (the module is "fetching_failed"), not a bug of ours
    const failed = (e) => new PysymError(`${url}: ${String((e && e.message) || e || "download failed")}`);
    let response;
    try {
      response = await fetch(url, { headers: this.headers });
    } catch (e) {
      throw failed(e);
    }
    if ([404, 403, 410].includes(response.status)) return null;
    if (!response.ok) throw new PysymError(`${url}: HTTP ${response.status}`);
    const length = Number(response.headers.get("content-length") || 0);
    if (length > this.maxBytes) throw new PysymError(`${url}: ${length} bytes, more than maxBytes (${this.maxBytes})`);
    let blob;
    try {
      blob = await response.blob();
    } catch (e) {
      throw failed(e);
    }
    if (blob.size > this.maxBytes) throw new PysymError(`${url}: ${blob.size} bytes, more than maxBytes (${this.maxBytes})`);
    return blob;
  }
}

// -- the system store (pysym/_symbolicate/_stores.py SystemStore) -------------------------

// Python's os.path on POSIX paths, for the places SystemStore names.
function pathJoin(...parts) {
  let out = "";
  for (const p of parts) {
    if (p.startsWith("/")) out = p;
    else if (out === "" || out.endsWith("/")) out += p;
    else out += "/" + p;
  }
  return out;
}

function pathDirname(p) {
  let head = p.slice(0, p.lastIndexOf("/") + 1);
  if (head && head !== "/".repeat(head.length)) head = head.replace(/\/+$/, "");
  return head;
}

const pathBasename = (p) => p.slice(p.lastIndexOf("/") + 1);

let crcTable = null;

/** The CRC-32 a `.gnu_debuglink` records (zlib's polynomial) of bytes or a Blob, read by 1 MiB. */
export async function crc32(data) {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  const blob = typeof Blob !== "undefined" && data instanceof Blob;
  const size = blob ? data.size : data.length;
  for (let at = 0; at < size; at += 1 << 20) {
    const chunk = blob ? new Uint8Array(await data.slice(at, at + (1 << 20)).arrayBuffer()) : data.subarray(at, at + (1 << 20));
    for (let i = 0; i < chunk.length; i++) crc = crcTable[(crc ^ chunk[i]) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * The local system's conventions over files handed to the page by their absolute paths
 * (the browser has no file system to look into): `new SystemStore(files, {debugDirs,
 * moduleFiles, id, filters, negativeTtl, runtime})`, `files` a Map of absolute path ->
 * Blob/bytes (a dropped copy of a machine's /usr/lib/debug and binaries, say). Searched as
 * Python's SystemStore searches the disk: `debugDirs` by build id
 * (`.build-id/B[:2]/B[2:].debug`); with `moduleFiles` (default true) the paths the request
 * names, a Mach-O's `.dSYM`, and an ELF binary's `.gnu_debuglink` (beside it, in `.debug/`
 * beside it, under each debug directory), its CRC checked. The same file under two paths
 * must be the same object (Python sees one inode: "same file as another candidate").
 */
export class SystemStore {
  constructor(files, { debugDirs = ["/usr/lib/debug"], moduleFiles = true, id = "system", filters = null, negativeTtl = DEFAULT_NEGATIVE_TTL, runtime = null } = {}) {
    this._allowed = storeFilter(filters);
    this.files = files instanceof Map ? files : new Map(Object.entries(files));
    this.debugDirs = [...debugDirs].map(String);
    this.moduleFiles = moduleFiles;
    this.id = id;
    this.negativeTtl = negativeTtl;
    this._runtime = runtime;
  }

  /** The places to try (async: a binary's debuglink is read from it). */
  async locations(module) {
    const [key] = moduleIds(module);
    const t = module.type;
    const out = [];
    if (t === "elf" && key) for (const d of this.debugDirs) out.push(loc(pathJoin(d, ".build-id", key.slice(0, 2), key.slice(2) + ".debug"), "elf_debug"));
    if (this.moduleFiles) {
      const code = typeof module.codeFile === "string" ? module.codeFile : null;
      const debug = typeof module.debugFile === "string" ? module.debugFile : null;
      const codeFt = { elf: "elf_code", macho: "mach_code", pe: "pe", wasm: "wasm_code" }[t] || "breakpad";
      const debugFt = { elf: "elf_debug", macho: "mach_debug", pe: "pdb", wasm: "wasm_debug" }[t] || "breakpad";
      if (debug && debug !== code && debug.startsWith("/")) out.push(loc(debug, debugFt));
      if (t === "macho" && code && code.startsWith("/")) out.push(loc(pathJoin(code + ".dSYM", "Contents", "Resources", "DWARF", pathBasename(code)), "mach_debug"));
      if (code && code.startsWith("/")) {
        out.push(loc(code, codeFt));
        if (t === "elf") out.push(...(await this._debuglink(code)));
      }
    }
    return out.filter((l) => this._allowed(module, l));
  }

  async _debuglink(code) {
    const data = this.files.get(code);
    if (data === undefined) return [];
    let link;
    try {
      link = (await NativeObject.fromBlob(data, { runtime: this._runtime })).debuglink;
    } catch (e) {
      if (!(e instanceof PysymError)) throw e;
      return [];
    }
    if (!link) return [];
    const { name: n, crc } = link;
    if (n.includes("/") || n === "." || n === "..") return []; // a name, never a path
    const d = pathDirname(code);
    const places = [pathJoin(d, n), pathJoin(d, ".debug", n), ...this.debugDirs.map((g) => pathJoin(g, d.replace(/^\/+/, ""), n))];
    return places.map((p) => ({ path: p, filetype: "elf_debug", crc }));
  }

  describe(location) {
    return location.path;
  }

  async fetch(location) {
    const data = this.files.get(location.path);
    if (data === undefined || data === null) return null;
    return typeof data === "string" ? new TextEncoder().encode(data) : data;
  }
}
