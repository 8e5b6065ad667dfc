#!/usr/bin/env node
// Browser-module benchmark: pysym's ES module (browser/) vs @jridgewell/trace-mapping and
// Mozilla source-map 0.8, on the real maps of bench/bench_sourcemap.py, in one run:
//
//   node bench/bench_browser.mjs [--chromium /usr/bin/chromium] [--maps jquery,rxjs] [--quick]
//
// Without --chromium it measures in Node; with it, in headless Chromium (the same code,
// bench/browser_bench_core.mjs, in a page served with the strict CSP; the peers bundled
// for the browser with esbuild). Prints parse time and lookups/s side by side with ratios
// against trace-mapping. Targets: parse <= 1.0x trace-mapping, lookups >= trace-mapping.
// Then the minidump row (bench/browser_bench_minidump.mjs): processMinidump on the shared
// dumps with their Breakpad symbols, cold and warm, beside the Python figures of the same
// run (bench/minidump_python_rows.py through --python, default $PYSYM_PYTHON or python3).
// Needs: npm ci --prefix tests/browser; npm ci --prefix tests/reference (the maps).
import { readFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { formatRows, runBench } from "./browser_bench_core.mjs";
import { DUMPS, SYMBOLS, formatMinidumpRows, runMinidumpBench } from "./browser_bench_minidump.mjs";

const ROOT = resolve(fileURLToPath(new URL("../", import.meta.url)));
const DEPS = join(ROOT, "tests/browser/node_modules");
const require = createRequire(join(DEPS, "x.js"));
const MAPS = {
  jquery: "jquery/dist/jquery.min.map",
  "rxjs-min": "rxjs/dist/bundles/rxjs.umd.min.js.map",
  rxjs: "rxjs/dist/bundles/rxjs.umd.js.map",
  babylon: "babylonjs/babylon.js.map",
};
const { values: opts } = parseArgs({ options: {
  chromium: { type: "string" }, maps: { type: "string" }, quick: { type: "boolean", default: false },
  python: { type: "string", default: process.env.PYSYM_PYTHON || "python3" }, "no-minidump": { type: "boolean", default: false },
} });
const dumpSettings = opts.quick ? { repeat: 3, cold: 1 } : { repeat: 7, cold: 3 };

/** The Python figures for the minidump row, measured now (null if Python fails). */
function pythonMinidumpRows() {
  const r = spawnSync(opts.python, [join(ROOT, "bench/minidump_python_rows.py"), "--repeat", String(dumpSettings.repeat),
    "--cold", String(dumpSettings.cold)], { encoding: "utf8", env: { ...process.env, PYTHONPATH: ROOT } });
  if (r.status !== 0) {
    console.error(`python minidump figures failed: ${r.stderr || r.error}`);
    return null;
  }
  return JSON.parse(r.stdout);
}

const MINIDUMPS = join(ROOT, "tests/data/minidump");
const keys = opts.maps ? opts.maps.split(",") : Object.keys(MAPS);
const settings = opts.quick ? { lookups: 20000, repeat: 2 } : { lookups: 100000, repeat: 5 };

async function loadMaps() {
  const out = [];
  for (const key of keys) {
    const path = join(ROOT, "tests/reference/node_modules", MAPS[key]);
    try {
      out.push({ key, bytes: new Uint8Array(await readFile(path)) });
    } catch (e) {
      console.error(`missing ${path}: npm ci --prefix tests/reference --ignore-scripts`);
      process.exit(2);
    }
  }
  return out;
}

async function inNode() {
  const pysym = await import("../browser/index.js");
  await pysym.init();
  const traceMapping = require("@jridgewell/trace-mapping");
  const sourceMap = require("source-map");
  const rows = await runBench({ pysym, traceMapping, sourceMap }, await loadMaps(), settings);
  console.log(formatRows(rows, `Node ${process.version}: pysym browser module vs trace-mapping vs source-map 0.8`));
  if (!opts["no-minidump"]) {
    const dumps = [];
    for (const d of DUMPS) dumps.push([d, new Uint8Array(await readFile(join(MINIDUMPS, d)))]);
    const files = new Map();
    for (const s of SYMBOLS) files.set(s, new Uint8Array(await readFile(join(MINIDUMPS, "symbols", s))));
    const mrows = await runMinidumpBench(pysym, dumps, files, dumpSettings);
    console.log("\n" + formatMinidumpRows(mrows, pythonMinidumpRows(), `Node ${process.version}: processMinidump (parse + CFI + walk + symbolicate), median ms, beside Python (same run)`));
  }
}

async function inChromium() {
  const { chromium } = require("playwright-core");
  const esbuild = require("esbuild");
  const { startServer } = await import("../browser/devtools/serve.mjs");
  const work = await mkdtemp(join(tmpdir(), "pysym-bench-"));
  try {
    // the peers as browser ES modules (source-map's "browser" field reads mappings.wasm by URL)
    await writeFile(join(work, "entry.mjs"),
      `export * as traceMapping from "@jridgewell/trace-mapping";\nimport sm from "source-map";\nexport const sourceMap = sm;\n`);
    await esbuild.build({ entryPoints: [join(work, "entry.mjs")], bundle: true, format: "esm", platform: "browser",
      outfile: join(work, "peers.mjs"), nodePaths: [DEPS], logLevel: "error",
      external: ["url", "fs", "path"] }); // never reached in a browser (URL and fetch exist)
    await writeFile(join(work, "mappings.wasm"), await readFile(join(DEPS, "source-map/lib/mappings.wasm")));
    const server = await startServer(0, "127.0.0.1", { "/bench-work/": work });
    const base = `http://127.0.0.1:${server.address().port}`;
    const browser = await chromium.launch({ executablePath: opts.chromium, headless: false, args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-quic"] });
    try {
      const page = await browser.newPage();
      await page.goto(`${base}/browser/devtools/`);
      const mapPaths = keys.map((k) => `/tests/reference/node_modules/${MAPS[k]}`);
      const rows = await page.evaluate(async ({ mapPaths, keys, settings }) => {
        const pysym = await import("/browser/index.js");
        const core = await import("/bench/browser_bench_core.mjs");
        const peers = await import("/bench-work/peers.mjs");
        peers.sourceMap.SourceMapConsumer.initialize({ "lib/mappings.wasm": "/bench-work/mappings.wasm" });
        await pysym.init();
        const maps = [];
        for (let i = 0; i < keys.length; i++) {
          maps.push({ key: keys[i], bytes: new Uint8Array(await (await fetch(mapPaths[i])).arrayBuffer()) });
        }
        return core.runBench({ pysym, traceMapping: peers.traceMapping, sourceMap: peers.sourceMap }, maps, settings);
      }, { mapPaths, keys, settings });
      const version = browser.version();
      console.log(formatRows(rows, `Chromium ${version}: pysym browser module vs trace-mapping vs source-map 0.8`));
      if (!opts["no-minidump"]) {
        const mrows = await page.evaluate(async ({ DUMPS, SYMBOLS, dumpSettings }) => {
          const pysym = await import("/browser/index.js");
          const core = await import("/bench/browser_bench_minidump.mjs");
          const dumps = [];
          for (const d of DUMPS) dumps.push([d, new Uint8Array(await (await fetch(`/tests/data/minidump/${d}`)).arrayBuffer())]);
          const files = new Map();
          for (const s of SYMBOLS) files.set(s, await (await fetch(`/tests/data/minidump/symbols/${s}`)).blob());
          return core.runMinidumpBench(pysym, dumps, files, dumpSettings);
        }, { DUMPS, SYMBOLS, dumpSettings });
        console.log("\n" + formatMinidumpRows(mrows, pythonMinidumpRows(), `Chromium ${version}: processMinidump (parse + CFI + walk + symbolicate; symbols as Blobs), median ms, beside Python (same run)`));
      }
    } finally {
      await browser.close();
      server.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (opts.chromium) await inChromium();
else await inNode();
