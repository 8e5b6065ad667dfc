import type { Bias, Casing, CrashProgress, CrashResponse, FileData, Layout, SourceContext, StoreFilters, Token, WasmSource } from "./index.js";

/**
 * A store as it crosses into the worker: its files, a SystemStore's files by absolute path
 * (`kind: "system"` or `debugDirs`/`moduleFiles` given), or a symbol server's URL.
 */
export type WorkerStore =
  | { files: Map<string, FileData> | Record<string, FileData>; layout?: Layout; casing?: Casing; id?: string | null; filters?: StoreFilters | null }
  | { kind?: "system"; files: Map<string, FileData> | Record<string, FileData>; debugDirs?: string[]; moduleFiles?: boolean; id?: string | null; filters?: StoreFilters | null }
  | { url: string | URL; layout?: Layout; casing?: Casing; id?: string | null; headers?: Record<string, string> | null; filters?: StoreFilters | null };

export interface CrashCallOptions {
  stores?: WorkerStore[];
  /** Keep symcaches in IndexedDB (true, or SymcacheDB options). */
  cache?: boolean | { name?: string; maxBytes?: number };
  onProgress?: ((event: CrashProgress) => void) | null;
  timeout?: number;
  /** Source files by the absolute path the debug info names: frames get source context. */
  localSources?: Map<string, FileData> | Record<string, FileData> | null;
}
export type CrashStats = { builds: number; cacheHits: number; memoryHits: number; cfiBuilds: number };

export interface CallOptions { timeout?: number }

export declare class PysymWorker {
  constructor(options?: { wasm?: WasmSource | null; timeout?: number; startTimeout?: number; workerUrl?: string | URL });
  readonly generation: number;
  /** How many times a call ran past its timeout (each restarted the worker). */
  readonly restarts: number;
  loadSourceMap(data: FileData, options?: CallOptions): Promise<WorkerSourceMap>;
  symbolicate(text: string, files: Map<string, FileData> | Record<string, FileData>,
    options?: { context?: number | null; json?: boolean; timeout?: number }): Promise<{ value: string | object[]; errors: { path: string; message: string }[] }>;
  symbolicateNative(text: string, file: Blob | ArrayBuffer | ArrayBufferView, options?: CallOptions): Promise<{
    value: string; addresses: number; info: { kind: string; arch: string; debugId: string; fromSymcache: boolean };
  }>;
  processMinidump(dump: Blob | ArrayBuffer | ArrayBufferView, options?: CrashCallOptions): Promise<{ value: CrashResponse; stats: CrashStats }>;
  symbolicateCrash(request: object, options?: CrashCallOptions & { maxFrames?: number; maxModules?: number }): Promise<{ value: CrashResponse; stats: CrashStats }>;
  symcacheCache(options?: { clear?: boolean; cache?: boolean | { name?: string; maxBytes?: number }; timeout?: number }): Promise<{ available: boolean; entries?: number; bytes?: number; maxBytes?: number }>;
  terminate(): void;
}

export declare class WorkerSourceMap {
  readonly sources: (string | null)[];
  readonly file: string | null;
  readonly debugId: string | null;
  readonly ignoreList: (string | null)[];
  readonly length: number;
  readonly isIndexMap: boolean;
  lookup(line: number, col: number, bias?: Bias, options?: CallOptions): Promise<Token | null>;
  lookupMany(lines: number[], cols: number[], bias?: Bias, options?: CallOptions): Promise<(Token | null)[]>;
  generatedPositions(source: string | number, line: number, col?: number | null, options?: CallOptions): Promise<Token[]>;
  sourceContent(source: string | number, options?: CallOptions): Promise<string | null>;
  sourceContext(source: string | number, line: number, context?: number, options?: CallOptions): Promise<SourceContext | null>;
  tokens(options?: CallOptions): Promise<Token[]>;
  names(options?: CallOptions): Promise<(string | null)[]>;
  close(): Promise<void>;
}
