// Adds Metro's `x_facebook_sources` function maps to a source map, computed by Metro's own
// generateFunctionMap (npm metro-source-map, tests/reference) on each source's
// sourcesContent, as Metro computes them on a module's AST: a large "Metro map" for
// bench/bench_smcache.py (--metro), from a real bundle's map.
//   node bench/metro_function_maps.mjs IN.map OUT.map
// Sources without content, or that @babel/parser cannot parse, get null (no function map).
import {createRequire} from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../tests/reference/package.json'));
const parser = require('@babel/parser');
const {generateFunctionMap} = require('metro-source-map/private/generateFunctionMap');

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node bench/metro_function_maps.mjs IN.map OUT.map');
  process.exit(2);
}
const map = JSON.parse(fs.readFileSync(input, 'utf8'));
const contents = map.sourcesContent || [];
let made = 0;
map.x_facebook_sources = map.sources.map((name, i) => {
  const text = contents[i];
  if (typeof text !== 'string') return null;
  const ts = /\.tsx?$/.test(name);
  try {
    const ast = parser.parse(text, {
      sourceType: 'unambiguous',
      errorRecovery: true,
      plugins: ts ? ['typescript', 'decorators-legacy'] : ['jsx', 'flow'],
    });
    made++;
    return [generateFunctionMap(ast, {filename: name})];
  } catch {
    return null;
  }
});
fs.writeFileSync(output, JSON.stringify(map));
console.error(`${made} of ${map.sources.length} sources have a function map`);
