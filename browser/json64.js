// JSON with 64-bit integers: Symbolicator requests may give addresses as JSON integers,
// which Python reads exactly and JSON.parse rounds past 2**53. A module of its own, so the
// devtools page can read a pasted request without loading the rest.

const BIG = "\u0000bigint:";

/**
 * JSON.parse for requests: integer literals beyond 2**53 become BigInt, exact (JSON.parse
 * alone rounds them; Python reads them exactly), so an address given as a number stays the
 * address. Everything else is JSON.parse's.
 */
export function parseJson(text) {
  let out = "";
  let last = 0;
  const number = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) { // a string: skip it, escapes included
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      number.lastIndex = i;
      const m = number.exec(text);
      if (!m) continue;
      if (!m[1] && !m[2] && m[0].replace("-", "").length > 15 && !Number.isSafeInteger(Number(m[0]))) {
        out += text.slice(last, i) + JSON.stringify(BIG + m[0]);
        last = i + m[0].length;
      }
      i += m[0].length - 1;
    }
  }
  if (last === 0) return JSON.parse(text);
  // (a NUL cannot be in a JSON string unescaped, so no string of the text looks like ours)
  return JSON.parse(out + text.slice(last), (_k, v) => (typeof v === "string" && v.startsWith(BIG) ? BigInt(v.slice(BIG.length)) : v));
}

/** JSON.stringify that writes BigInt as the exact integer (as Python's json.dumps writes an int). */
export function stringifyJson(value, space) {
  const text = JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? BIG + v.toString() : v), space);
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, "$1");
}
