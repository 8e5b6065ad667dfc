// PysymWorker: pysym in a Web Worker (or a Node worker thread), with a timeout per call.
// A call that runs past its timeout (a runaway input) terminates the worker and rejects
// with TimeLimitError; the next call starts a fresh worker and reloads the source maps it
// needs (their bytes are kept here), like the Python host rebuilds objects after a trap.
//
//   const w = new PysymWorker({ timeout: 5000 });
//   const sm = await w.loadSourceMap(bytes);
//   await sm.lookup(0, 647);
//   await w.symbolicate(traceText, { "app.min.js": file, "app.min.js.map": file2 });
//   w.terminate();

import { PysymError, TimeLimitError, deserializeError } from "./errors.js";

const isNode = typeof process !== "undefined" && process.versions && process.versions.node
  && typeof window === "undefined" && typeof WorkerGlobalScope === "undefined";

const WORKER_URL = new URL("./worker.js", import.meta.url);

async function spawn(url) {
  if (isNode) {
    const { Worker } = await import("node:worker_threads");
    const w = new Worker(url);
    return {
      post: (msg) => w.postMessage(msg),
      onMessage: (fn) => w.on("message", fn),
      onError: (fn) => w.on("error", fn),
      terminate: () => w.terminate(),
    };
  }
  const w = new Worker(url, { type: "module" });
  return {
    post: (msg) => w.postMessage(msg),
    onMessage: (fn) => w.addEventListener("message", (e) => fn(e.data)),
    onError: (fn) => w.addEventListener("error", (e) => fn(new Error(e.message || "worker failed to start"))),
    terminate: () => w.terminate(),
  };
}

export class PysymWorker {
  /**
   * @param {{wasm?: any, timeout?: number, startTimeout?: number, workerUrl?: string|URL}} [options]
   * `wasm`: anything init() takes that can be posted (URL string, bytes, WebAssembly.Module);
   * `timeout`: default milliseconds per call; `startTimeout`: for starting a worker.
   */
  constructor({ wasm = null, timeout = 10000, startTimeout = 30000, workerUrl = WORKER_URL } = {}) {
    this.wasm = wasm instanceof URL ? wasm.href : wasm;
    this.timeout = timeout;
    this.startTimeout = startTimeout;
    this.workerUrl = workerUrl;
    this._worker = null;
    this._starting = null;
    this._generation = 0;
    this._pending = new Map();
    this._nextId = 1;
    this.restarts = 0;
  }

  /** The generation of the running worker (increases with every restart). */
  get generation() {
    return this._generation;
  }

  _start() {
    if (this._starting) return this._starting;
    this._starting = (async () => {
      const w = await spawn(this.workerUrl);
      const generation = ++this._generation;
      const ready = new Promise((resolve, reject) => {
        w.onMessage((msg) => {
          if (msg && msg.ready) {
            resolve();
            return;
          }
          const p = this._pending.get(msg.id);
          if (!p) return;
          if (msg.progress) {
            if (p.onProgress) {
              try {
                p.onProgress(msg.progress);
              } catch {
                // a failing progress callback must not break the call
              }
            }
            return;
          }
          if (performance.now() > p.deadline) {
            // past the limit though the timer has not fired yet (a busy event loop runs
            // timers late; CI saw a 6.6 s call answered under a 4 s limit): still too long
            this._timedOut(w, p.op, p.timeout);
            return;
          }
          this._pending.delete(msg.id);
          clearTimeout(p.timer);
          if (msg.ok) p.resolve(msg.value);
          else p.reject(deserializeError(msg.error));
        });
        w.onError((e) => {
          reject(e);
          this._fail(w, new PysymError(`pysym worker failed: ${e.message}`));
        });
      });
      this._worker = w;
      try {
        await ready;
        await this._send(w, { op: "init", wasm: this.wasm }, this.startTimeout);
      } catch (e) {
        this._fail(w, e);
        throw e;
      }
      return { w, generation };
    })();
    this._starting.catch(() => {}).finally(() => {});
    return this._starting;
  }

  _timedOut(w, op, timeout) {
    this.restarts += 1;
    this._fail(w, new TimeLimitError(`pysym call ${op} ran past its ${timeout} ms timeout; the worker was restarted`));
  }

  _fail(w, error) {
    if (this._worker !== w) return;
    w.terminate();
    this._worker = null;
    this._starting = null;
    for (const [id, p] of this._pending) {
      if (p.worker === w) {
        clearTimeout(p.timer);
        this._pending.delete(id);
        p.reject(error);
      }
    }
  }

  _send(w, msg, timeout, onProgress = null) {
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      const limited = timeout > 0 && Number.isFinite(timeout);
      const timer = limited ? setTimeout(() => this._timedOut(w, msg.op, timeout), timeout) : null;
      const deadline = limited ? performance.now() + timeout : Infinity;
      this._pending.set(id, { resolve, reject, timer, deadline, op: msg.op, timeout, worker: w, onProgress });
      w.post({ ...msg, id });
    });
  }

  /** Runs one operation in the worker (started if needed) with a timeout in ms. */
  async call(msg, timeout = this.timeout, onProgress = null) {
    const { w } = await this._start();
    return this._send(w, msg, timeout, onProgress);
  }

  /** Loads a source map (bytes, string, Blob/File) in the worker; returns a proxy. */
  async loadSourceMap(data, { timeout } = {}) {
    const proxy = new WorkerSourceMap(this, data);
    await proxy._ensure(timeout);
    return proxy;
  }

  /**
   * Symbolicates a trace with a set of files ({path: data} or a Map: generated .js files
   * and .map files, paths relative to the set's root). `json`: objects like
   * `pysym symbolicate-js --json`, else the trace text. Returns {value, errors}.
   */
  async symbolicate(text, files, { context = 0, json = false, timeout } = {}) {
    const entries = files instanceof Map ? [...files] : Object.entries(files);
    return this.call({ op: "symbolicate", text, files: entries, context, json }, timeout);
  }

  /**
   * Native symbolication: the hex addresses in `text` (relative to the image base) looked
   * up in `file` (a built symcache, or a debug file to build one from). Returns
   * {value: `pysym symcache lookup` text, addresses, info}.
   */
  async symbolicateNative(text, file, { timeout } = {}) {
    return this.call({ op: "symbolicateNative", text, file }, timeout);
  }

  /**
   * Walks and symbolicates a minidump (bytes or a Blob/File) in the worker: the Python
   * Symbolicator.process_minidump response. `stores`: FileSetResolver / HttpStore objects or
   * their descriptions ({files, layout, casing, id} / {url, layout, casing, id, headers});
   * `onProgress({stage, module, done})` while caches build; `cache`: keep symcaches in
   * IndexedDB (true, or SymcacheDB options). Returns {value, stats}.
   */
  async processMinidump(dump, { stores = [], cache = false, onProgress = null, timeout, localSources = null } = {}) {
    return this.call({ op: "processMinidump", dump, stores: stores.map(storeSpec), cache, localSources: sourcesSpec(localSources) },
      timeout, onProgress);
  }

  /** A /symbolicate request (an object) in the worker; options as processMinidump's. */
  async symbolicateCrash(request, { stores = [], cache = false, onProgress = null, timeout, maxFrames, maxModules, localSources = null } = {}) {
    return this.call({ op: "symbolicateCrash", request, stores: stores.map(storeSpec), cache, maxFrames, maxModules,
      localSources: sourcesSpec(localSources) }, timeout, onProgress);
  }

  /** The IndexedDB symcache cache: {available, entries, bytes}; `clear: true` empties it first. */
  async symcacheCache({ clear = false, cache = true, timeout } = {}) {
    return this.call({ op: "symcacheCache", action: clear ? "clear" : "usage", cache }, timeout);
  }

  /** Stops the worker; a later call starts a fresh one. */
  terminate() {
    if (this._worker) this._fail(this._worker, new PysymError("the pysym worker was terminated"));
  }
}

// Blobs are immutable: the same Blob handed again is the same file, so the worker may keep
// what it built from it. Other data (bytes, strings) gets a new id each call.
const blobIds = new WeakMap();
let nextFileId = 1;
function fileId(data) {
  if (typeof Blob !== "undefined" && data instanceof Blob) {
    if (!blobIds.has(data)) blobIds.set(data, nextFileId++);
    return blobIds.get(data);
  }
  return nextFileId++;
}

/** Local source files ({absolute path: data} or a Map) with their ids, or null. */
function sourcesSpec(files) {
  if (!files) return null;
  return (files instanceof Map ? [...files] : Object.entries(files)).map(([p, d]) => [p, d, fileId(d)]);
}

/**
 * What a store becomes to cross into the worker (its files with their ids, or its URL).
 * `{files, debugDirs, moduleFiles}` (or `kind: "system"`) is a SystemStore's.
 */
function storeSpec(s) {
  const filters = s.filters || null;
  if (s.url !== undefined) {
    return { kind: "http", url: String(s.url), layout: s.layout || "native", casing: s.casing || "default", id: s.id || null, headers: s.headers || null, filters };
  }
  const files = (s.files instanceof Map ? [...s.files] : Object.entries(s.files || {})).map(([p, d]) => [p, d, fileId(d)]);
  if (s.kind === "system" || s.debugDirs !== undefined || s.moduleFiles !== undefined) {
    return { kind: "system", files, debugDirs: s.debugDirs || ["/usr/lib/debug"], moduleFiles: s.moduleFiles !== false, id: s.id || "system", filters };
  }
  return { kind: "files", files, layout: s.layout || "native", casing: s.casing || "default", id: s.id || null, filters };
}

/** A SourceMap living in a PysymWorker: the same methods, returning promises. */
export class WorkerSourceMap {
  constructor(worker, data) {
    this._worker = worker;
    this._data = data;
    this._id = null;
    this._generation = -1;
    this.info = null;
    this._closed = false;
  }

  async _ensure(timeout) {
    if (this._closed) throw new PysymError("this SourceMap is closed");
    const { generation } = await this._worker._start();
    if (this._generation !== generation) {
      const r = await this._worker.call({ op: "loadSourceMap", data: this._data }, timeout);
      this._id = r.id;
      this.info = r.info;
      this._generation = generation;
    }
    return this._id;
  }

  async _call(method, args, timeout) {
    const mapId = await this._ensure(timeout);
    return this._worker.call({ op: "callSourceMap", mapId, method, args }, timeout);
  }

  get sources() { return this.info.sources; }
  get file() { return this.info.file; }
  get debugId() { return this.info.debugId; }
  get ignoreList() { return this.info.ignoreList; }
  get length() { return this.info.length; }
  get isIndexMap() { return this.info.isIndexMap; }

  lookup(line, col, bias = 0, { timeout } = {}) { return this._call("lookup", [line, col, bias], timeout); }
  lookupMany(lines, cols, bias = 0, { timeout } = {}) { return this._call("lookupMany", [lines, cols, bias], timeout); }
  generatedPositions(source, line, col = null, { timeout } = {}) { return this._call("generatedPositions", [source, line, col], timeout); }
  sourceContent(source, { timeout } = {}) { return this._call("sourceContent", [source], timeout); }
  sourceContext(source, line, context = 5, { timeout } = {}) { return this._call("sourceContext", [source, line, context], timeout); }
  tokens({ timeout } = {}) { return this._call("tokens", [], timeout); }
  names({ timeout } = {}) { return this._call("names", [], timeout); }

  async close() {
    if (this._closed) return;
    this._closed = true;
    if (this._id !== null && this._generation === this._worker.generation && this._worker._worker) {
      await this._worker.call({ op: "closeSourceMap", mapId: this._id });
    }
  }
}
