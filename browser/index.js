// pysym in JavaScript: the same wasm module and the same API as the Python package,
// as an ES module for browsers, Web Workers and Node >= 20. This file is the face (like
// pysym/__init__.py): it only re-exports the public API from the modules below.
//
//   import { init, SourceMap } from "./browser/index.js";
//   await init();                        // or init({ wasm: url | Response | bytes | Module })
//   const sm = SourceMap.fromBytes(mapBytes);
//   sm.lookup(0, 647);                   // 0-based line and UTF-16 column, like Python
//   sm.close();
//
// Names follow Python's in JavaScript spelling (lookup_many -> lookupMany, debug_id ->
// debugId); Token fields are dstLine, dstCol, src, srcLine, srcCol, name.
//
// Modules: runtime.js (init, getRuntime), sourcemap.js (SourceMap), native.js
// (NativeObject, SymCache), minidump.js (Minidump), symbolicator.js (Symbolicator: whole
// native crashes and minidumps), stores.js (symbol store layouts, HttpStore),
// symcache-db.js (SymcacheDB: symcaches kept in IndexedDB), json64.js (JSON with exact 64-bit integers),
// stacktrace.js (stack traces; FileSetResolver), sourcemap-url.js, errors.js;
// host.js (Runtime, file table, HandleOwner) and abi.js (the ABI's tables) are internal.

export { ABI_VERSION } from "./abi.js";
export { DEFAULT_WASM_URL, getRuntime, init } from "./runtime.js";
export { GREATEST_LOWER_BOUND, LEAST_UPPER_BOUND, SourceMap } from "./sourcemap.js";
export { SourceMapCache } from "./smcache.js";
export { NativeObject, SymCache, parseAddresses, renderNativeLookup } from "./native.js";
export { Minidump, buildCfi, walkMinidump } from "./minidump.js";
export {
  MAX_FRAMES, MAX_MODULES, MODULE_TYPES, Module, Symbolicator, callerAddress, minidumpModules, parseAddress, parseModule,
} from "./symbolicator.js";
export { parseJson, stringifyJson } from "./json64.js";
export { CASINGS, FILETYPES, HttpStore, LAYOUTS, SystemStore, crc32, layoutLocations } from "./stores.js";
export { SymcacheDB, symcacheVersion } from "./symcache-db.js";
export {
  FileChangedError, InputTooLargeError, InvalidInputError, MemoryLimitError, PysymError, RequestTooLargeError,
  ResourceLimitError, SandboxError, TimeLimitError, TimeoutError,
} from "./errors.js";
export {
  FileSetResolver, MAX_EVAL_DEPTH, MAX_FRAME_LINE, ResolvedMap, decodeDataUrl, findDebugId, findSourcemapUrl,
  frameJson, parseLine, parseLines, parseStacktrace, renderContext, renderFrame, splitlines, symbolicateFrames,
  symbolicateTrace, symbolicateTraceJson, urlBasename,
} from "./stacktrace.js";
