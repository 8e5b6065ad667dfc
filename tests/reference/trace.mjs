// Reference answers for pysym's differential tests (tests/test_differential.py) from
// @jridgewell/trace-mapping, the source-map consumer used by Babel, Vite, Jest, ...
//
//   node tests/reference/trace.mjs REQUEST.json ANSWERS.json
//
// REQUEST: {"map": "path/to/map",            // regular or index (sectioned) map
//           "queries": [{"lines": [..], "cols": [..], "bias": 0|1}],   // 0-based; 0 = GLB
//           "generated": [[source, line, col], ...],                    // 0-based
//           "generatedSample": N,   // also ask allGeneratedPositionsFor for the original
//                                   // positions of N pseudo-random segments, at their
//                                   // column and the next one (appended to "generated")
//           "tokens": true|false}
// ANSWERS: {"sources", "rawSources", "names", "file", "ignoreList": [source indices],
//           "answers": [[[source, line, col, name] | null, ...] per query],
//           "generatedRequests": [[source, line, col], ...],
//           "generated": [[[line, col], ...] per request],
//           "tokens": [[genLine, genCol, source, line, col, name], ...]}
// All positions in and out are 0-based (trace-mapping's lines are 1-based: converted here).
import { readFileSync, writeFileSync } from "node:fs";
import {
  TraceMap, FlattenMap, originalPositionFor, allGeneratedPositionsFor, eachMapping,
  GREATEST_LOWER_BOUND, LEAST_UPPER_BOUND,
} from "@jridgewell/trace-mapping";

const [requestPath, answersPath] = process.argv.slice(2);
if (!requestPath || !answersPath) {
  console.error("usage: node trace.mjs REQUEST.json ANSWERS.json");
  process.exit(2);
}
const request = JSON.parse(readFileSync(requestPath, "utf8"));
const raw = JSON.parse(readFileSync(request.map, "utf8"));
const map = "sections" in raw ? new FlattenMap(raw) : new TraceMap(raw);

const answers = [];
for (const q of request.queries || []) {
  const bias = q.bias === 1 ? LEAST_UPPER_BOUND : GREATEST_LOWER_BOUND;
  const out = new Array(q.lines.length);
  for (let i = 0; i < q.lines.length; i++) {
    const r = originalPositionFor(map, { line: q.lines[i] + 1, column: q.cols[i], bias });
    out[i] = r.line == null ? null : [r.source, r.line - 1, r.column, r.name];
  }
  answers.push(out);
}

const generatedRequests = [...(request.generated || [])];
if (request.generatedSample) {
  const all = [];
  eachMapping(map, (m) => { if (m.source != null) all.push(m); });
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let i = 0; i < request.generatedSample && all.length; i++) {
    const m = all[next() % all.length];
    generatedRequests.push([m.source, m.originalLine - 1, m.originalColumn]);
    generatedRequests.push([m.source, m.originalLine - 1, m.originalColumn + 1]);
  }
}
const generated = [];
for (const [source, line, column] of generatedRequests) {
  const r = allGeneratedPositionsFor(map, { source, line: line + 1, column });
  generated.push(r.map((g) => [g.line - 1, g.column]));
}

const tokens = [];
if (request.tokens) {
  eachMapping(map, (m) => {
    tokens.push([m.generatedLine - 1, m.generatedColumn, m.source,
      m.originalLine == null ? null : m.originalLine - 1, m.originalColumn, m.name]);
  });
}

writeFileSync(answersPath, JSON.stringify({
  sources: map.resolvedSources,
  rawSources: map.sources,
  names: map.names,
  file: map.file ?? null,
  ignoreList: map.ignoreList ?? [],
  answers,
  generatedRequests,
  generated,
  tokens,
}));
