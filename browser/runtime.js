// The default runtime (mirrors pysym/_host.py get_runtime): init() compiles and starts
// the module once, getRuntime() hands it to SourceMap, NativeObject and SymCache.

import { Runtime, compileModule } from "./host.js";
import { PysymError } from "./errors.js";

/** Where the module lives next to this file in the repository / in a copy of it. */
export const DEFAULT_WASM_URL = new URL("../pysym/_wasm/pysym.wasm", import.meta.url);

let defaultRuntime = null;
let initializing = null;

/**
 * Compiles and starts the module; call (and await) once before using the API.
 * `wasm`: a URL (string or URL), a Response, an ArrayBuffer / typed array, or a compiled
 * WebAssembly.Module. Without it, pysym.wasm is loaded from DEFAULT_WASM_URL.
 * Calling it again returns the same runtime unless `wasm` is given.
 */
export async function init(options = {}) {
  const wasm = options.wasm;
  if (wasm === undefined && defaultRuntime) return defaultRuntime;
  if (wasm === undefined && initializing) return initializing;
  const p = (async () => {
    const module = await compileModule(wasm === undefined ? DEFAULT_WASM_URL : wasm);
    const rt = new Runtime(module);
    rt.current(); // start now: a module of another ABI version fails here
    defaultRuntime = rt;
    return rt;
  })();
  if (wasm === undefined) initializing = p;
  try {
    return await p;
  } finally {
    if (wasm === undefined) initializing = null;
  }
}

/** The runtime `init()` made (throws if init() was not awaited). */
export function getRuntime() {
  if (!defaultRuntime) throw new PysymError("pysym is not initialised: await init() first");
  return defaultRuntime;
}
