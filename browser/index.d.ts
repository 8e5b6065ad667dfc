// Types of pysym's browser module (browser/index.js, worker-client.js).

export declare const ABI_VERSION: number;
export declare const GREATEST_LOWER_BOUND: 0;
export declare const LEAST_UPPER_BOUND: 1;
export type Bias = 0 | 1;
export declare const DEFAULT_WASM_URL: URL;

export type WasmSource = string | URL | Response | ArrayBuffer | ArrayBufferView | Blob | WebAssembly.Module;
export type Bytes = ArrayBuffer | ArrayBufferView | string;

export declare class PysymError extends Error {
  constructor(message: string, code?: number | null);
  /** The ABI status code (wasm/ABI.md), when there is one. */
  readonly code: number | null;
}
// The same tree as Python's (pysym/_errors.py).
export declare class InvalidInputError extends PysymError {}
export declare class ResourceLimitError extends PysymError {}
export declare class MemoryLimitError extends ResourceLimitError {}
export declare class TimeLimitError extends ResourceLimitError {}
export declare class InputTooLargeError extends ResourceLimitError {}
export declare class RequestTooLargeError extends ResourceLimitError {}
export declare class SandboxError extends PysymError {}
export declare class FileChangedError extends PysymError {}
/** @deprecated The old name of TimeLimitError. */
export declare const TimeoutError: typeof TimeLimitError;
/** @deprecated The old name of TimeLimitError. */
export type TimeoutError = TimeLimitError;

/** The host side of one module instance (see browser/host.js). */
export interface Runtime {
  readonly module: WebAssembly.Module;
  discard(): void;
}

export declare function init(options?: { wasm?: WasmSource }): Promise<Runtime>;
export declare function getRuntime(): Runtime;

/** One mapping; positions 0-based, columns in UTF-16 code units. */
export interface Token {
  readonly dstLine: number;
  readonly dstCol: number;
  /** null only for segments without an original position (from tokens()). */
  readonly src: string | null;
  readonly srcLine: number | null;
  readonly srcCol: number | null;
  readonly name: string | null;
}

export interface SourceContext {
  preLines: string[];
  line: string;
  postLines: string[];
}

export declare class SourceMap implements Iterable<Token> {
  private constructor();
  static fromBytes(data: Bytes, options?: { runtime?: Runtime }): SourceMap;
  static fromBlob(blob: Blob | Bytes, options?: { runtime?: Runtime }): Promise<SourceMap>;
  static fromUrl(url: string | URL | Request, options?: { runtime?: Runtime; fetchOptions?: RequestInit }): Promise<SourceMap>;
  readonly sources: (string | null)[];
  readonly names: (string | null)[];
  readonly file: string | null;
  readonly debugId: string | null;
  readonly ignoreList: (string | null)[];
  readonly isIndexMap: boolean;
  /** The map's `scopes` field (ECMA-426 scopes proposal) names generated positions. */
  readonly hasScopes: boolean;
  /** The map has Metro's `x_facebook_sources` function maps (React Native). */
  readonly hasFunctionMaps: boolean;
  /** A malformed `x_facebook_sources` / `x_hermes_function_offsets` part (ignored), or null. */
  readonly functionMapsProblem: string | null;
  /** Number of mapping segments. */
  readonly length: number;
  readonly closed: boolean;
  lookup(line: number, col: number, bias?: Bias): Token | null;
  lookupMany(lines: ArrayLike<number> | Iterable<number>, cols: ArrayLike<number> | Iterable<number>, bias?: Bias): (Token | null)[];
  /** Gives the map its generated (minified) file, for `functionNames`. */
  setGeneratedSource(source: string | Uint8Array | ArrayBuffer): void;
  /** The enclosing function of each generated position: original name, "<anonymous>", or null (top level). */
  functionNames(lines: ArrayLike<number> | Iterable<number>, cols: ArrayLike<number> | Iterable<number>): (string | null)[];
  /** A Hermes crash frame (function id, offset in it, segment) as a generated [line, column], from `x_hermes_function_offsets`; null when not listed. */
  hermesPosition(functionId: number, offset: number, segment?: number): [number, number] | null;
  generatedPositions(source: string | number, line: number, col?: number | null): Token[];
  sourceContent(source: string | number): string | null;
  sourceContext(source: string | number, line: number, context?: number): SourceContext | null;
  tokens(): Token[];
  [Symbol.iterator](): Iterator<Token>;
  close(): void;
  [Symbol.dispose](): void;
}

/** A SourceMapCache lookup: SourceMap's token plus the enclosing function's original name. */
export interface CacheToken extends Token {
  /** Original name, "<anonymous>", or null (top-level code, or a cache built without the minified file). */
  readonly functionName: string | null;
}

/** A source map in the portable binary cache form (smcache.js; mirrors pysym.SourceMapCache). */
export declare class SourceMapCache implements Iterable<CacheToken> {
  private constructor();
  static fromSourceMap(mapBytes: Bytes, minifiedSource?: string | Uint8Array | ArrayBuffer | null,
    options?: { sourcesContent?: boolean; runtime?: Runtime }): SourceMapCache;
  static fromBytes(data: Bytes, options?: { runtime?: Runtime }): SourceMapCache;
  toBytes(): Uint8Array;
  readonly sources: (string | null)[];
  readonly names: (string | null)[];
  readonly file: string | null;
  readonly debugId: string | null;
  readonly ignoreList: (string | null)[];
  readonly isIndexMap: boolean;
  /** Lookups name functions (scopes of the generated file or `scopes` field, or Metro function maps). */
  readonly hasFunctionNames: boolean;
  /** As SourceMap's: the map's `scopes` field names positions. */
  readonly hasScopes: boolean;
  /** As SourceMap's: the map has Metro's function maps. */
  readonly hasFunctionMaps: boolean;
  /** As SourceMap's. */
  readonly functionMapsProblem: string | null;
  readonly hasSourcesContent: boolean;
  readonly length: number;
  readonly closed: boolean;
  lookup(line: number, col: number, bias?: Bias): CacheToken | null;
  lookupMany(lines: ArrayLike<number> | Iterable<number>, cols: ArrayLike<number> | Iterable<number>, bias?: Bias): (CacheToken | null)[];
  sourceContent(source: string | number): string | null;
  sourceContext(source: string | number, line: number, context?: number): SourceContext | null;
  /** SourceMap.functionNames for the map the cache was built from (needs `hasFunctionNames`). */
  functionNames(lines: ArrayLike<number> | Iterable<number>, cols: ArrayLike<number> | Iterable<number>): (string | null)[];
  /** SourceMap.hermesPosition from the cache. */
  hermesPosition(functionId: number, offset: number, segment?: number): [number, number] | null;
  [Symbol.iterator](): Iterator<CacheToken>;
  close(): void;
  [Symbol.dispose](): void;
}

// -- native (native.js; mirrors pysym/_native.py) ---------------------------------------

export type FileSource = Blob | ArrayBuffer | ArrayBufferView;
export type Address = number | bigint;

/** Identity of a native debug file (Python's pysym.Object). */
export declare class NativeObject {
  private constructor();
  static fromBytes(data: ArrayBuffer | ArrayBufferView, options?: { arch?: string | null; runtime?: Runtime | null }): NativeObject;
  static fromBlob(data: FileSource, options?: { arch?: string | null; runtime?: Runtime | null }): Promise<NativeObject>;
  readonly kind: string;
  readonly arch: string;
  readonly debugId: string;
  readonly codeId: string | null;
  /** Exact below 2**53. */
  readonly imageBase: number;
  readonly hasDebugInfo: boolean;
  readonly hasSymbols: boolean;
  /** `.eh_frame`/`.debug_frame` with contents, or Breakpad STACK records. */
  readonly hasUnwindInfo: boolean;
  /** A wasm module's `external_debug_info` (where its DWARF is), else null. */
  readonly debugFile: string | null;
  /** ELF `.gnu_debuglink`: the separate debug file's name and the CRC-32 of its contents. */
  readonly debuglink: { readonly name: string; readonly crc: number } | null;
  /** wasm: file offset of the code section's contents (module offset - codeOffset = address). */
  readonly codeOffset: number | null;
  /** What reading the headers skipped (one short line per kind of defect). */
  readonly warnings: readonly string[];
}

/** One frame of a native lookup; innermost (inlined) first. */
export interface NativeFrame {
  readonly function: string | null;
  readonly rawFunction: string | null;
  readonly file: string | null;
  readonly line: number | null;
  readonly column: number | null;
  readonly symAddr: number;
  readonly inlined: boolean;
}

export declare class SymCache {
  private constructor();
  /** Builds a symcache from a debug file; a Blob is read by the ranges the module needs. */
  /** `progress` receives the fraction done (0 to 1) while the module builds. */
  static fromObject(source: FileSource | NativeObject, options?: { arch?: string | null; runtime?: Runtime | null; progress?: ((fraction: number) => void) | null }): Promise<SymCache>;
  static fromBytes(data: ArrayBuffer | ArrayBufferView, options?: { runtime?: Runtime | null }): SymCache;
  static fromBlob(data: FileSource, options?: { runtime?: Runtime | null }): Promise<SymCache>;
  readonly kind: string;
  readonly arch: string;
  readonly debugId: string;
  readonly codeId: string | null;
  readonly imageBase: number;
  readonly hasDebugInfo: boolean;
  readonly hasSymbols: boolean;
  readonly rangeCount: number;
  readonly closed: boolean;
  /** What a fromObject build skipped of a damaged debug file; empty otherwise. */
  readonly warnings: readonly string[];
  toBytes(): Uint8Array;
  lookup(addr: Address): NativeFrame[];
  lookupMany(addrs: Iterable<Address>): NativeFrame[][];
  close(): void;
  [Symbol.dispose](): void;
}

/** Hex addresses in a native stack text (`0x...` tokens, or bare hex lines). */
export declare function parseAddresses(text: string): bigint[];
/** `pysym symcache lookup` text for lookup results. */
export declare function renderNativeLookup(results: NativeFrame[][]): string;

// -- stack traces (stacktrace.js; the port of pysym/_stacktrace.py) ---------------------

export interface Frame {
  readonly raw: string;
  readonly style: "v8" | "gecko";
  readonly function: string | null;
  readonly url: string | null;
  /** 1-based, as printed. */
  readonly line: number | null;
  readonly col: number | null;
  readonly isAsync: boolean;
  readonly isConstructor: boolean;
  readonly alias: string | null;
  readonly evalOrigin: Frame | null;
  readonly prefix: string;
  /** Hermes `address at url:1:N`: `col` is a 0-based bytecode offset. */
  readonly isBytecode: boolean;
}

export interface SymbolicatedFrame {
  frame: Frame;
  source: string | null;
  line: number | null;
  col: number | null;
  function: string | null;
  nameAtPosition: string | null;
  functionFrom: "scope" | "caller" | "unchanged" | null;
  context: [string[], string, string[]] | null;
  mapped: boolean;
}

export interface MapLike {
  lookup(line: number, col: number, bias?: Bias): Token | null;
  lookupMany?(lines: number[], cols: number[], bias?: Bias): (Token | null)[];
  sourceContent(source: string | number): string | null;
  sourceContext(source: string | number, line: number, context?: number): SourceContext | null;
}

export declare class ResolvedMap {
  constructor(sourcemap: MapLike, generated?: string | null);
  sourcemap: MapLike;
  generated: string | null;
}

export type Resolver = (url: string) => ResolvedMap | MapLike | null;

/** Lines longer than this many code points are not frames (they stay text). */
export declare const MAX_FRAME_LINE: number;
/** How many nested `eval at` origins are parsed. */
export declare const MAX_EVAL_DEPTH: number;
/** Parses a stack-trace line with the module's parser (needs `await init()` first). */
export declare function parseLine(line: string, maxLine?: number): Frame | null;
/** `parseLine` for many lines, in few module calls (needs `await init()` first). */
export declare function parseLines(lines: string[], maxLine?: number): (Frame | null)[];
/** Needs `await init()` first (the module parses the lines). */
export declare function parseStacktrace(text: string): (Frame | string)[];
export declare function splitlines(text: string, keepends?: boolean): string[];
export declare function symbolicateFrames(lines: (Frame | string)[], resolver: Resolver, context?: number | null): (SymbolicatedFrame | string)[];
export declare function renderFrame(sf: SymbolicatedFrame): string;
export declare function renderContext(sf: SymbolicatedFrame, context: number): string[];
export declare function symbolicateTrace(text: string, resolver: Resolver, context?: number | null): string;
export declare function symbolicateTraceJson(text: string, resolver: Resolver, context?: number | null): object[];
export declare function frameJson(item: SymbolicatedFrame | string): object;
export declare function urlBasename(url: string): string | null;
/** Needs `await init()` first (the module scans the file). */
export declare function findSourcemapUrl(js: string | Uint8Array): string | null;
/** Needs `await init()` first (the module scans the file). */
export declare function findDebugId(js: string | Uint8Array): string | null;
/** Needs `await init()` first (the module decodes the URL). */
export declare function decodeDataUrl(url: string): Uint8Array;

export type FileData = Blob | ArrayBuffer | ArrayBufferView | string;

export declare class FileSetResolver implements Store {
  constructor(files: Map<string, FileData> | Record<string, FileData>, options?: {
    loadMap?: ((data: FileData) => Promise<MapLike>) | null;
    onError?: (path: string, error: Error) => void;
    /** As a native store: one of LAYOUTS (default "native"), one of CASINGS. */
    layout?: Layout; casing?: Casing; id?: string | null; negativeTtl?: number; filters?: StoreFilters | null;
  });
  prepare(urlsOrTrace: string[] | string): Promise<this>;
  readonly resolve: Resolver;
  readonly id: string;
  readonly layout: Layout;
  readonly casing: Casing;
  readonly negativeTtl: number;
  locations(module: Module): StoreLocation[];
  fetch(location: StoreLocation): Promise<Blob | Uint8Array | ArrayBufferView | null>;
  describe(location: StoreLocation): string;
  close(): void;
}

// -- native crashes (symbolicator.js, minidump.js, stores.js, symcache-db.js) -----------

export type Layout = "native" | "symstore" | "symstore_index2" | "ssqp" | "unified" | "debuginfod";
export type Casing = "default" | "lowercase" | "uppercase";
export declare const LAYOUTS: readonly Layout[];
export declare const CASINGS: readonly Casing[];
export declare const MAX_FRAMES: number;
export declare const MAX_MODULES: number;
export declare const MODULE_TYPES: readonly string[];

/** `crc`: a `.gnu_debuglink`'s CRC-32 the file must have (SystemStore's debuglink places). */
export interface StoreLocation { readonly path: string; readonly filetype: string; readonly crc?: number }
/** Symbolicator's source filters: file types (FILETYPES) and fnmatch patterns on the module's paths. */
export interface StoreFilters { filetypes?: string[] | null; path_patterns?: string[] | null }
export declare const FILETYPES: readonly string[];

/** What a Symbolicator asks of a symbol store. */
export interface Store {
  readonly id: string;
  readonly negativeTtl?: number;
  locations(module: Module): StoreLocation[] | Promise<StoreLocation[]>;
  fetch(location: StoreLocation): Promise<Blob | Uint8Array | ArrayBufferView | null>;
  describe(location: StoreLocation): string;
}

/** Python's SystemStore over files handed by their absolute paths (see stores.js). */
export declare class SystemStore implements Store {
  constructor(files: Map<string, FileData> | Record<string, FileData>, options?: {
    debugDirs?: string[]; moduleFiles?: boolean; id?: string; filters?: StoreFilters | null; negativeTtl?: number;
    runtime?: Runtime | null;
  });
  readonly id: string;
  readonly debugDirs: string[];
  readonly moduleFiles: boolean;
  readonly negativeTtl: number;
  locations(module: Module): Promise<StoreLocation[]>;
  fetch(location: StoreLocation): Promise<Blob | Uint8Array | ArrayBufferView | null>;
  describe(location: StoreLocation): string;
}
/** JSON.parse keeping integers past 2**53 exact (as BigInt), as Python reads a request. */
export declare function parseJson(text: string): any;
/** JSON.stringify writing BigInt as the exact integer. */
export declare function stringifyJson(value: unknown, space?: string | number): string;
/** CRC-32 (zlib's polynomial) of bytes or a Blob. */
export declare function crc32(data: Blob | Uint8Array): Promise<number>;

export declare class HttpStore implements Store {
  constructor(url: string | URL, options?: { layout?: Layout; casing?: Casing; id?: string | null; headers?: Record<string, string> | null; negativeTtl?: number; maxBytes?: number; filters?: StoreFilters | null });
  readonly id: string;
  readonly url: string;
  locations(module: Module): StoreLocation[];
  fetch(location: StoreLocation): Promise<Blob | null>;
  describe(location: StoreLocation): string;
}

export declare function layoutLocations(layout: Layout, module: Module): StoreLocation[];

export declare class Module {
  constructor(fields: { type: string; imageAddr: Address; imageSize: Address; debugId?: string | null; codeId?: string | null; debugFile?: string | null; codeFile?: string | null; arch?: string | null });
  readonly type: string;
  readonly imageAddr: bigint;
  readonly imageSize: bigint;
  readonly debugId: string | null;
  readonly codeId: string | null;
  readonly debugFile: string | null;
  readonly codeFile: string | null;
  readonly arch: string | null;
  ids(): [string, number] | null;
  normalizedCodeId(): string | null;
}
export declare function parseModule(raw: unknown): [Module, null] | [null, string];
export declare function parseAddress(value: unknown): bigint | null;
export declare function callerAddress(addr: bigint, arch: string | null): bigint;

export interface CrashProgress { stage: "symcache" | "cfi" | "walk"; module: string | null; done: number }

/** A persistent symcache cache (SymcacheDB, or your own). */
export interface SymcacheCache {
  keyFor(data: Blob | Uint8Array | ArrayBufferView, debugId: string, runtime?: Runtime | null): Promise<string>;
  get(key: string): Promise<Uint8Array | null>;
  put(key: string, bytes: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
}

export declare class SymcacheDB implements SymcacheCache {
  constructor(options?: { name?: string; maxBytes?: number });
  keyFor(data: Blob | Uint8Array | ArrayBufferView, debugId: string, runtime?: Runtime | null): Promise<string>;
  get(key: string): Promise<Uint8Array | null>;
  put(key: string, bytes: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  usage(): Promise<{ entries: number; bytes: number; maxBytes: number }>;
  clear(): Promise<void>;
}
export declare function symcacheVersion(runtime?: Runtime | null): Promise<number>;

/** Symbolicator's /symbolicate and /minidump JSON (the Python Symbolicator's field names). */
export type CrashResponse = { status: string; stacktraces: Record<string, any>[]; modules: Record<string, any>[]; [key: string]: any };

export declare class Symbolicator {
  constructor(stores?: Store[], options?: {
    runtime?: Runtime | null; maxFrames?: number; maxModules?: number; memoryCacheBytes?: number;
    cache?: SymcacheCache | null; onProgress?: ((event: CrashProgress) => void) | null;
    /** Python's local_sources: the source files by the absolute path the debug info names. */
    localSources?: Map<string, FileData> | Record<string, FileData> | null;
  });
  readonly stores: Store[];
  readonly stats: { builds: number; cacheHits: number; memoryHits: number; cfiBuilds: number };
  symbolicate(request: object): Promise<CrashResponse>;
  processMinidump(dump: Blob | ArrayBuffer | ArrayBufferView | Minidump): Promise<CrashResponse>;
  clear(): void;
}

export interface MemoryRegion { readonly base: bigint; readonly size: bigint; readonly fileOffset: bigint }

export declare class Minidump {
  private constructor();
  static fromBlob(data: Blob | ArrayBuffer | ArrayBufferView, options?: { runtime?: Runtime | null }): Promise<Minidump>;
  static fromBytes(data: ArrayBuffer | ArrayBufferView, options?: { runtime?: Runtime | null }): Minidump;
  readonly systemInfo: {
    readonly os: string; readonly cpu: string; readonly osVersion: [number, number, number]; readonly csdVersion: string | null;
    readonly cpuVendor: string | null; readonly processorCount: number; readonly processorArchitecture: number; readonly platformId: number;
  } | null;
  readonly modules: readonly {
    readonly base: bigint; readonly size: number; readonly extent: bigint; readonly codeFile: string; readonly codeId: string | null;
    readonly debugFile: string; readonly debugId: string | null; readonly codeview: string; readonly version: string | null;
  }[];
  readonly threads: readonly {
    readonly id: number; readonly name: string | null; readonly stack: MemoryRegion | null;
    readonly registers: Record<string, bigint>; readonly contextLayout: string | null;
  }[];
  readonly exception: {
    readonly threadId: number; readonly code: number; readonly flags: number; readonly address: bigint;
    readonly parameters: bigint[]; readonly reason: string; readonly registers: Record<string, bigint>;
  } | null;
  readonly crashedThread: number | null;
  readonly memoryRegions: readonly MemoryRegion[];
  readonly crashpadAnnotations: Record<string, string>;
  readonly warnings: string[];
  /** The module's minidump document (ABI.md). */
  readonly document: Record<string, any>;
  moduleAt(addr: Address): Minidump["modules"][number] | null;
}
export declare function minidumpModules(md: Minidump): Record<string, any>[];
export declare function buildCfi(data: Blob | ArrayBuffer | ArrayBufferView, options?: { arch?: string | null; runtime?: Runtime | null }): Promise<{ cache: Uint8Array; rows: number; warnings: string[] }>;
export declare function walkMinidump(data: Blob | ArrayBuffer | ArrayBufferView, caches: [number, Uint8Array][], options?: { runtime?: Runtime | null }): Promise<Record<string, any>>;
