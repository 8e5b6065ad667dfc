// A pathological input for the worker-timeout tests: a map whose single generated line
// holds millions of segments, so that parsing and the first lookup on that line take
// far longer than a tiny timeout.
export function pathologicalMap(segments = 3_000_000) {
  return JSON.stringify({ version: 3, sources: ["a.js"], names: [], mappings: "AAAA," + Array(segments).fill("CAAC").join(",") });
}
