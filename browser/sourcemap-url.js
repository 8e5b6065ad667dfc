// Finding the source map of generated JavaScript: sourceMappingURL, debugId, data URLs.
// A port of pysym/_sourcemap_url.py (same results for the same input).

import { InvalidInputError } from "./errors.js";

// ECMAScript LineTerminatorSequence: CRLF, LF, CR, LS, PS.
const LINE_SPLIT = /\r\n|[\n\r\u2028\u2029]/;
const PATTERN = /^[@#]\s*sourceMappingURL=(\S*?)\s*$/;
const DEBUG_ID = /^\/\/# debugId=([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\s*$/;
const DEBUG_ID_LINES = 5;
const KEEP = Symbol("keep");
const JS_WHITESPACE = /^[\t\v\f\ufeff\p{Zs}]$/u;

function text(js) {
  if (typeof js === "string") return js;
  return new TextDecoder("utf-8").decode(js);
}

function match(comment) {
  const m = PATTERN.exec(comment);
  return m ? m[1] : null;
}

function scanLine(line, last) {
  let pos = 0;
  const n = line.length;
  while (pos < n) {
    const first = line[pos];
    pos += 1;
    if (first === "/" && pos < n) {
      const second = line[pos];
      pos += 1;
      if (second === "/") {
        const url = match(line.slice(pos));
        if (url !== null) last = url;
        pos = n;
      } else if (second === "*") {
        const end = line.indexOf("*/", pos);
        if (end < 0) {
          pos = n; // an unclosed multi-line comment: the rest of the line is comment
        } else {
          const url = match(line.slice(pos, end));
          if (url !== null) last = url;
          pos = end + 2;
        }
      } else {
        last = null;
      }
    } else if (!JS_WHITESPACE.test(first)) {
      last = null; // a code character: an annotation is only valid at the end of the code
    }
  }
  return last;
}

/** The source map URL annotated in JavaScript source (as written), or null. */
export function findSourcemapUrl(js) {
  const lines = text(js).split(LINE_SPLIT);
  for (let i = lines.length - 1; i >= 0; i--) {
    const effect = scanLine(lines[i], KEEP);
    if (effect !== KEEP) return effect;
  }
  return null;
}

/** The `//# debugId=<UUID>` of generated JavaScript, lower-cased, or null. */
export function findDebugId(js) {
  const lines = text(js).split(LINE_SPLIT);
  while (lines.length && !lines[lines.length - 1].trim()) lines.pop();
  const tail = lines.slice(-DEBUG_ID_LINES).reverse();
  for (const line of tail) {
    const m = DEBUG_ID.exec(line.trim());
    if (m) return m[1].toLowerCase();
  }
  return null;
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

function forgivingBase64(data) {
  let s = "";
  for (const b of data) s += String.fromCharCode(b);
  s = s.replace(/[\t\n\f\r ]/g, "");
  if (s.length % 4 === 0) {
    if (s.endsWith("==")) s = s.slice(0, -2);
    else if (s.endsWith("=")) s = s.slice(0, -1);
  }
  if (s.length % 4 === 1 || !/^[A-Za-z0-9+/]*$/.test(s)) throw new InvalidInputError("data URL: invalid base64 payload");
  s += "=".repeat((4 - (s.length % 4)) % 4);
  let bin;
  try {
    bin = atob(s);
  } catch (e) {
    throw new InvalidInputError("data URL: invalid base64 payload");
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Decodes a data: URL (as used for inline source maps) to its bytes (WHATWG fetch). */
export function decodeDataUrl(url) {
  if (typeof url !== "string") throw new InvalidInputError("data URL must be a string");
  const stripped = url.replace(/^[ \t\n\f\r]+|[ \t\n\f\r]+$/g, "");
  if (stripped.slice(0, 5).toLowerCase() !== "data:") throw new InvalidInputError("not a data: URL");
  let rest = stripped.slice(5);
  const hashAt = rest.indexOf("#");
  if (hashAt >= 0) rest = rest.slice(0, hashAt);
  const comma = rest.indexOf(",");
  if (comma < 0) throw new InvalidInputError("data URL has no ',' before its payload");
  const mime = rest.slice(0, comma).replace(/^[ \t\n\f\r]+|[ \t\n\f\r]+$/g, "");
  const body = unquoteToBytes(rest.slice(comma + 1));
  if (/;[ \t]*base64[ \t]*$/i.test(mime)) return forgivingBase64(body);
  return body;
}
