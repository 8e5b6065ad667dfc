// Symcaches kept in IndexedDB (the browser's counterpart of pysym/_symbolicate/_cache.py's
// disk cache): keyed like the Python cache — the debug id, the first 40 hex digits of the
// debug file's SHA-256, and the symcache format version the module writes — bounded in
// bytes (least recently used entries go first), with clear() for the page's button.
//
//   const db = new SymcacheDB({ maxBytes: 256 << 20 });
//   new Symbolicator(stores, { cache: db });

import { toBytes } from "./host.js";
import { SymCache } from "./native.js";

const TINY_BREAKPAD = "MODULE Linux x86_64 000000000000000000000000000000000 v\nPUBLIC 1000 0 v\n";
const STORE = "symcaches";

let formatVersion = null;

/** The symcache format version the module writes (header offset 8), read from a tiny build once. */
export async function symcacheVersion(runtime = null) {
  if (formatVersion === null) {
    const sc = await SymCache.fromObject(new TextEncoder().encode(TINY_BREAKPAD), { runtime });
    const bytes = sc.toBytes();
    sc.close();
    formatVersion = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  }
  return formatVersion;
}

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export class SymcacheDB {
  constructor({ name = "pysym-symcaches", maxBytes = 256 << 20 } = {}) {
    this.name = name;
    this.maxBytes = maxBytes;
    this._db = null;
    this._digests = new WeakMap(); // Blob/bytes -> hex SHA-256 (a File's bytes do not change under it)
  }

  async _open() {
    if (!this._db) {
      const open = indexedDB.open(this.name, 1);
      open.onupgradeneeded = () => open.result.createObjectStore(STORE, { keyPath: "key" });
      this._db = await request(open);
    }
    return this._db;
  }

  async _tx(mode, fn) {
    const db = await this._open();
    const tx = db.transaction(STORE, mode);
    const done = new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    const result = await fn(tx.objectStore(STORE));
    await done;
    return result;
  }

  /** The key of a debug file's symcache: "<debug id>-<sha256[:40]>-v<format>". */
  async keyFor(data, debugId, runtime = null) {
    let digest = this._digests.get(data);
    if (!digest) {
      const bytes = typeof Blob !== "undefined" && data instanceof Blob ? await data.arrayBuffer() : toBytes(data);
      const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
      digest = Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
      this._digests.set(data, digest);
    }
    const id = (debugId || "nodebugid").replaceAll("-", "");
    return `${id}-${digest.slice(0, 40)}-v${await symcacheVersion(runtime)}`;
  }

  /** The bytes kept under `key` (and marks them used), or null. */
  async get(key) {
    return this._tx("readwrite", async (store) => {
      const entry = await request(store.get(key));
      if (!entry) return null;
      entry.used = Date.now();
      store.put(entry);
      return new Uint8Array(entry.bytes);
    });
  }

  async put(key, bytes) {
    if (bytes.length > this.maxBytes) return;
    await this._tx("readwrite", async (store) => {
      store.put({ key, bytes: bytes.slice().buffer, size: bytes.length, used: Date.now() });
    });
    await this._evict();
  }

  async delete(key) {
    await this._tx("readwrite", async (store) => request(store.delete(key)));
  }

  async _evict() {
    await this._tx("readwrite", async (store) => {
      const entries = [];
      await new Promise((resolve, reject) => {
        const cursor = store.openCursor();
        cursor.onsuccess = () => {
          const c = cursor.result;
          if (!c) return resolve();
          entries.push({ key: c.value.key, size: c.value.size, used: c.value.used });
          c.continue();
        };
        cursor.onerror = () => reject(cursor.error);
      });
      let total = entries.reduce((n, e) => n + e.size, 0);
      entries.sort((a, b) => a.used - b.used);
      for (const e of entries) {
        if (total <= this.maxBytes) break;
        store.delete(e.key);
        total -= e.size;
      }
    });
  }

  /** {entries, bytes} kept now. */
  async usage() {
    return this._tx("readonly", async (store) => {
      const all = await request(store.getAll());
      return { entries: all.length, bytes: all.reduce((n, e) => n + e.size, 0), maxBytes: this.maxBytes };
    });
  }

  /** Drops every entry. */
  async clear() {
    await this._tx("readwrite", async (store) => request(store.clear()));
  }
}
