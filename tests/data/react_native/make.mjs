// Builds the React Native fixtures of tests/test_react_native.py (see README.md):
//   node tests/data/react_native/make.mjs HERMES_BIN_DIR
// HERMES_BIN_DIR holds `hermes` and `hermesc` (npm hermes-engine-cli@0.12.0,
// linux64-bin/). The JavaScript side uses Metro's own code from tests/reference
// (metro-source-map: generateFunctionMap, fromRawMappings, composeSourceMaps).
import {createRequire} from 'node:module';
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../reference/package.json'));
const parser = require('@babel/parser');
const traverse = require('@babel/traverse').default;
const generate = require('@babel/generator').default;
const t = require('@babel/types');
const msm = require('metro-source-map');
const {generateFunctionMap} = require('metro-source-map/private/generateFunctionMap');

const bin = process.argv[2];
if (!bin) {
  console.error('usage: node make.mjs HERMES_BIN_DIR');
  process.exit(2);
}

// Module ids as Metro numbers them; App requires cart by id.
const modules = [
  {id: 0, file: 'src/App.js'},
  {id: 1, file: 'src/cart.js'},
];

// A short generated name per binding, as a minifier would give.
let counter = 0;
const short = () => String.fromCharCode(97 + (counter++ % 26)) + (counter > 26 ? counter : '');

const prelude =
  'var __m={},__c={};function __d(f,i){__m[i]=f}' +
  'function __r(i){if(!(i in __c)){var m={exports:{}};__c[i]=m;__m[i](globalThis,__r,m,m.exports)}return __c[i].exports}';

const rawModules = [{code: prelude, map: [], functionMap: null, path: '__prelude__', source: prelude, isIgnored: false}];
for (const mod of modules) {
  const source = fs.readFileSync(path.join(here, mod.file), 'utf8');
  const ast = parser.parse(source, {sourceType: 'script', sourceFilename: mod.file});
  // Metro computes the function map on the module's own AST, before wrapping.
  const functionMap = generateFunctionMap(ast, {filename: mod.file});
  // Rename the module's own bindings (declarations and parameters), as a minifier does.
  traverse(ast, {
    Scope(p) {
      for (const name of Object.keys(p.scope.bindings)) {
        if (name !== 'module' && name !== 'require') {
          p.scope.rename(name, short());
        }
      }
    },
  });
  // Metro's module wrapper: __d(function (global, require, module, exports) {...}, id);
  const wrapper = t.expressionStatement(
    t.callExpression(t.identifier('__d'), [
      t.functionExpression(
        null,
        ['global', 'require', 'module', 'exports'].map(n => t.identifier(n)),
        t.blockStatement(ast.program.body),
      ),
      t.numericLiteral(mod.id),
    ]),
  );
  const out = generate(t.file(t.program([wrapper])), {sourceMaps: true, compact: true, comments: false}, {
    [mod.file]: source,
  });
  rawModules.push({
    code: out.code,
    map: msm.tuplesFromBabelDecodedMap(out.decodedMap),
    functionMap,
    path: mod.file,
    source,
    isIgnored: false,
  });
}
const run = '__r(0);';
rawModules.push({code: run, map: [], functionMap: null, path: '__run__', source: run, isIgnored: false});

// Metro joins the modules with newlines; fromRawMappings offsets each by its lines.
const bundle = rawModules.map(m => m.code).join('\n') + '\n';
const metroMap = msm.fromRawMappings(rawModules).toMap('index.android.bundle.js', {excludeSource: false});
fs.writeFileSync(path.join(here, 'index.android.bundle.js'), bundle);
fs.writeFileSync(path.join(here, 'index.android.bundle.js.map'), JSON.stringify(metroMap));

// Hermes: bytecode plus its map (bytecode offsets -> bundle positions), composed with
// Metro's map the way react-native's compose-source-maps.js does.
const tmp = fs.mkdtempSync(path.join(here, '.build-'));
try {
  const hbc = path.join(tmp, 'index.android.bundle');
  execFileSync(path.join(bin, 'hermesc'), [
    '-O', '-emit-binary', '-output-source-map', '-out', hbc, path.join(here, 'index.android.bundle.js'),
  ]);
  const hermesMap = JSON.parse(fs.readFileSync(hbc + '.map', 'utf8'));
  const composed = msm.composeSourceMaps([metroMap, hermesMap]);
  fs.writeFileSync(path.join(here, 'index.android.bundle.map'), JSON.stringify(composed));
  // Real traces: the bytecode run by the Hermes VM, then the JavaScript bundle itself.
  const opts = {cwd: tmp, encoding: 'utf8'};
  fs.writeFileSync(path.join(here, 'trace_bytecode.txt'), execFileSync(path.join(bin, 'hermes'), ['-b', 'index.android.bundle'], opts));
  fs.copyFileSync(path.join(here, 'index.android.bundle.js'), path.join(tmp, 'index.android.bundle.js'));
  fs.writeFileSync(path.join(here, 'trace_source.txt'), execFileSync(path.join(bin, 'hermes'), ['index.android.bundle.js'], opts));
} finally {
  fs.rmSync(tmp, {recursive: true, force: true});
}
