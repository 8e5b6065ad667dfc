// Reference answers for tests/test_react_native.py from metro-symbolicate (React Native's
// symbolicator), through its library API: the position details it prints for a frame.
//
//   node tests/reference/metro.mjs REQUEST.json ANSWERS.json
//
// REQUEST: {"map": "path/to/map", "inputColumnStart": 0 | 1,
//           "positions": [[line, column], ...],   // as the trace prints them (line 1-based)
//           "trace": "text",                      // optional: also run its text symbolicator
//           "crash": {"callstack": [...]}}        // optional: its --hermes-crash mode
// ANSWERS: {"frames": [{source, line, column, functionName, name} ...],   // line 1-based,
//           "text": "symbolicated trace",                                   // column 0-based
//           "crash": [{source, line, column, functionName, name} ...]}
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const Symbolication = require("metro-symbolicate/private/Symbolication");
const { SourceMapConsumer } = require("source-map");

const [requestPath, answersPath] = process.argv.slice(2);
if (!requestPath || !answersPath) {
  console.error("usage: node metro.mjs REQUEST.json ANSWERS.json");
  process.exit(2);
}
const request = JSON.parse(readFileSync(requestPath, "utf8"));
const context = Symbolication.createContext(SourceMapConsumer, readFileSync(request.map, "utf8"), {
  inputColumnStart: request.inputColumnStart ?? 0,
});
const frames = request.positions.map(([line, column]) => {
  const d = context.getOriginalPositionDetailsFor(line, column);
  return { source: d.source, line: d.line, column: d.column, functionName: d.functionName, name: d.name };
});
const answers = { frames };
if (request.trace != null) answers.text = context.symbolicate(request.trace);
if (request.crash != null) answers.crash = context.symbolicateHermesMinidumpTrace(request.crash);
writeFileSync(answersPath, JSON.stringify(answers));
