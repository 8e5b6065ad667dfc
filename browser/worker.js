// The worker side of PysymWorker (worker-client.js): runs pysym calls off the main thread.
// Works as a browser module Worker and as a Node worker_threads Worker.
//
// Requests: {id, op, ...}; replies: {id, ok: true, value} or {id, ok: false, error}.

import {
  FileSetResolver, HttpStore, MAX_FRAMES, MAX_MODULES, SourceMap, SymCache, Symbolicator, SystemStore, init, parseAddresses,
  renderNativeLookup, symbolicateTrace, symbolicateTraceJson,
} from "./index.js";
import { SymcacheDB } from "./symcache-db.js";
import { serializeError } from "./errors.js";

const isNode = typeof process !== "undefined" && process.versions && process.versions.node
  && typeof WorkerGlobalScope === "undefined";
let port;
if (isNode) {
  const { parentPort } = await import("node:worker_threads");
  port = {
    post: (msg) => parentPort.postMessage(msg),
    listen: (fn) => parentPort.on("message", fn),
  };
} else {
  port = {
    post: (msg) => self.postMessage(msg),
    listen: (fn) => self.addEventListener("message", (e) => fn(e.data)),
  };
}

const maps = new Map(); // id -> SourceMap
let nextId = 1;

function info(sm) {
  return {
    sources: sm.sources, file: sm.file, debugId: sm.debugId, ignoreList: sm.ignoreList,
    length: sm.length, isIndexMap: sm.isIndexMap,
  };
}

async function loadMap(data) {
  if (typeof Blob !== "undefined" && data instanceof Blob) return SourceMap.fromBlob(data);
  return SourceMap.fromBytes(data);
}

const METHODS = new Set(["lookup", "lookupMany", "generatedPositions", "sourceContent", "sourceContext", "tokens", "names"]);

/** Stores from their descriptions (worker-client.js storeSpec). */
function makeStores(specs) {
  return (specs || []).map((s) => {
    const files = () => new Map((s.files || []).map(([p, d]) => [p, d]));
    if (s.kind === "http") return new HttpStore(s.url, { layout: s.layout, casing: s.casing, id: s.id, headers: s.headers, filters: s.filters });
    if (s.kind === "system") return new SystemStore(files(), { debugDirs: s.debugDirs, moduleFiles: s.moduleFiles, id: s.id, filters: s.filters });
    return new FileSetResolver(files(), { layout: s.layout, casing: s.casing, id: s.id, filters: s.filters });
  });
}

let symcacheDB = null;

// Symbolicators kept across calls (their symcaches and CFI caches with them), by the
// stores they were made for: the same stores (same URLs, same Blobs by id) reuse one.
// Bounded: KEPT symbolicators of KEPT_BYTES each at most, the oldest dropped first.
const KEPT = 3;
const KEPT_BYTES = 128 << 20;
const kept = new Map();

function storesKey(specs, cache, sources) {
  const ids = (files) => (files || []).map(([p, , id]) => [p, id]);
  const shape = (specs || []).map((s) => ({ ...s, files: ids(s.files) }));
  return JSON.stringify([shape, Boolean(cache), sources ? ids(sources) : null]);
}

function crashSymbolicator({ stores, cache, maxFrames, maxModules, localSources }, progress) {
  if (cache && !symcacheDB && typeof indexedDB !== "undefined") symcacheDB = new SymcacheDB(cache === true ? {} : cache);
  const key = storesKey(stores, cache && symcacheDB, localSources);
  let sym = kept.get(key);
  if (sym) {
    kept.delete(key); // re-inserted last: the oldest go first
  } else {
    const options = { memoryCacheBytes: KEPT_BYTES };
    if (localSources) options.localSources = new Map(localSources.map(([p, d]) => [p, d]));
    if (cache && symcacheDB) options.cache = symcacheDB;
    sym = new Symbolicator(makeStores(stores), options);
  }
  kept.set(key, sym);
  while (kept.size > KEPT) {
    const [oldKey, old] = kept.entries().next().value;
    kept.delete(oldKey);
    old.clear();
  }
  sym.onProgress = progress;
  sym.maxFrames = maxFrames || MAX_FRAMES;
  sym.maxModules = maxModules || MAX_MODULES;
  return sym;
}

// Crash calls (and clearing the cache) run one after the other: a kept symbolicator is
// never shared by two calls nor dropped while one uses it (the work is on one thread anyway).
let crashQueue = Promise.resolve();
function queued(fn) {
  const run = crashQueue.then(fn);
  crashQueue = run.catch(() => {});
  return run;
}

/** One call on a kept symbolicator: its answer and this call's share of the stats. */
function crashCall(msg, progress, fn) {
  return queued(async () => {
    const sym = crashSymbolicator(msg, progress);
    const before = { ...sym.stats };
    try {
      const value = await fn(sym);
      return { value, stats: Object.fromEntries(Object.entries(sym.stats).map(([k, v]) => [k, v - (before[k] || 0)])) };
    } finally {
      sym.onProgress = null;
    }
  });
}

const ops = {
  async init({ wasm }) {
    const rt = await init(wasm === undefined || wasm === null ? {} : { wasm });
    return { abiVersion: rt.current().exports.pysym_abi_version() };
  },
  async loadSourceMap({ data }) {
    const sm = await loadMap(data);
    const id = nextId++;
    maps.set(id, sm);
    return { id, info: info(sm) };
  },
  async callSourceMap({ mapId, method, args }) {
    const sm = maps.get(mapId);
    if (!sm) throw new Error(`no source map ${mapId} in this worker`);
    if (!METHODS.has(method)) throw new Error(`unknown SourceMap method ${method}`);
    if (method === "names") return sm.names;
    return sm[method](...args);
  },
  async closeSourceMap({ mapId }) {
    const sm = maps.get(mapId);
    maps.delete(mapId);
    if (sm) sm.close();
    return null;
  },
  async symbolicate({ text, files, context, json }) {
    const errors = [];
    const resolver = new FileSetResolver(new Map(files), {
      loadMap,
      onError: (path, e) => errors.push({ path, message: String(e && e.message) }),
    });
    try {
      await resolver.prepare(text);
      const ctx = context === undefined ? 0 : context;
      const value = json ? symbolicateTraceJson(text, resolver.resolve, ctx) : symbolicateTrace(text, resolver.resolve, ctx);
      return { value, errors };
    } finally {
      resolver.close();
    }
  },
  async processMinidump(msg, progress) {
    return crashCall(msg, progress, (sym) => sym.processMinidump(msg.dump));
  },
  async symbolicateCrash(msg, progress) {
    return crashCall(msg, progress, (sym) => sym.symbolicate(msg.request));
  },
  async symcacheCache({ action, cache }) {
    if (typeof indexedDB === "undefined") return { available: false };
    if (!symcacheDB) symcacheDB = new SymcacheDB(cache === true || !cache ? {} : cache);
    if (action === "clear") {
      await queued(async () => {
        await symcacheDB.clear();
        for (const sym of kept.values()) sym.clear(); // "clear" means no symcache is kept anywhere
        kept.clear();
      });
    }
    return { available: true, ...(await symcacheDB.usage()) };
  },
  async symbolicateNative({ text, file }) {
    // a built symcache (magic PYSYMCCH) or a debug file to build one from
    const head = typeof Blob !== "undefined" && file instanceof Blob
      ? new Uint8Array(await file.slice(0, 8).arrayBuffer()) : new Uint8Array(file.buffer || file, file.byteOffset || 0, 8);
    const isCache = new TextDecoder().decode(head) === "PYSYMCCH";
    const sc = isCache ? await SymCache.fromBlob(file) : await SymCache.fromObject(file);
    try {
      const addrs = parseAddresses(text);
      return {
        value: renderNativeLookup(sc.lookupMany(addrs)),
        addresses: addrs.length,
        info: { kind: sc.kind, arch: sc.arch, debugId: sc.debugId, fromSymcache: isCache },
      };
    } finally {
      sc.close();
    }
  },
};

port.listen(async (msg) => {
  const { id, op } = msg;
  try {
    const fn = ops[op];
    if (!fn) throw new Error(`unknown operation ${op}`);
    const value = await fn(msg, (progress) => port.post({ id, progress }));
    port.post({ id, ok: true, value });
  } catch (e) {
    port.post({ id, ok: false, error: serializeError(e) });
  }
});
port.post({ ready: true });
