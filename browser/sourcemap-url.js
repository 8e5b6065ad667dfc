// Finding the source map of generated JavaScript: sourceMappingURL, debugId, data URLs.
// The scanning and decoding are the module's (wasm/core/src/js/links.rs, shared with the
// Python host, pysym/_sourcemap_url.py); needs `await init()` first. Percent-decoding of
// relative paths (`unquote`) is URL resolution and stays here.

import * as abi from "./abi.js";
import { InvalidInputError } from "./errors.js";
import { getRuntime } from "./runtime.js";
import * as wire from "./wire.js";

/** [findSourcemapUrl(js), findDebugId(js)] with one pass of the module. */
export function findLinks(js) {
  const isText = typeof js === "string";
  // a string goes as UTF-8 with offsets in UTF-16 units (a lone surrogate becomes one
  // U+FFFD: one unit, code either way); bytes go as they are with offsets in bytes
  const data = isText ? new TextEncoder().encode(js) : js;
  if (!data.length) return [null, null];
  const rt = getRuntime();
  const ptr = rt.putInput(data);
  rt.check(rt.call("pysym_js_find_links", ptr, data.length, isText ? abi.UNITS_UTF16 : abi.UNITS_UTF8, rt.outSlot));
  const w = rt.out(wire.LINKS_OUT_WORDS);
  const cut = (start, end) => {
    if (start === abi.NONE) return null;
    return isText ? js.slice(start, end) : new TextDecoder("utf-8").decode(data.subarray(start, end));
  };
  const url = cut(w[wire.LINKS_OUT_URL_START], w[wire.LINKS_OUT_URL_END]);
  const debugId = cut(w[wire.LINKS_OUT_DEBUG_ID_START], w[wire.LINKS_OUT_DEBUG_ID_END]);
  return [url, debugId === null ? null : debugId.toLowerCase()];
}

/** The source map URL annotated in JavaScript source (as written), or null. */
export function findSourcemapUrl(js) {
  return findLinks(js)[0];
}

/** The `//# debugId=<UUID>` of generated JavaScript, lower-cased, or null. */
export function findDebugId(js) {
  return findLinks(js)[1];
}

/** Percent-decoding to bytes (Python's urllib.parse.unquote_to_bytes of a str). */
export function unquoteToBytes(s) {
  const src = new TextEncoder().encode(s);
  const out = new Uint8Array(src.length);
  let n = 0;
  const hex = (c) => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);
  for (let i = 0; i < src.length; i++) {
    if (src[i] === 37 && i + 2 < src.length) {
      const a = hex(src[i + 1]);
      const b = hex(src[i + 2]);
      if (a >= 0 && b >= 0) {
        out[n++] = a * 16 + b;
        i += 2;
        continue;
      }
    }
    out[n++] = src[i];
  }
  return out.subarray(0, n);
}

/** Percent-decoding to text (Python's urllib.parse.unquote: UTF-8, errors replaced). */
export function unquote(s) {
  if (!s.includes("%")) return s;
  return new TextDecoder("utf-8").decode(unquoteToBytes(s));
}

/** Decodes a data: URL (as used for inline source maps) to its bytes (WHATWG fetch). */
export function decodeDataUrl(url) {
  if (typeof url !== "string") throw new InvalidInputError("data URL must be a string");
  const data = new TextEncoder().encode(url);
  const rt = getRuntime();
  const ptr = rt.putInput(data);
  rt.check(rt.call("pysym_decode_data_url", ptr, data.length, rt.outSlot));
  return rt.resultBytes();
}
