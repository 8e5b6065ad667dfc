// The minidump row of bench/bench_browser.mjs: Symbolicator.processMinidump (parse, CFI,
// walk, symbolicate) on the shared dumps of tests/data/minidump with their Breakpad
// symbols, the same code in Node and in Chromium. "cold": a new Symbolicator per run
// (symcache and CFI cache built from the .sym); "warm": one Symbolicator, caches in memory.

export const DUMPS = ["test.dmp", "pipeline-inlines-macos-segv.dmp", "linux-mini.dmp", "simple-crashpad.dmp"];
export const SYMBOLS = [
  "crash-client/509C0610949836F7B70BD88BCF03E5400/crash-client.sym",
  "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym",
];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** {dump, frames, coldMs, warmMs} per dump; `files`: Map of SYMBOLS paths to bytes or Blobs. */
export async function runMinidumpBench(P, dumps, files, { repeat = 5, cold = 2 } = {}) {
  const rows = [];
  for (const [name, bytes] of dumps) {
    const colds = [];
    let frames = 0;
    for (let i = 0; i < cold; i++) {
      const t = performance.now();
      const r = await new P.Symbolicator([new P.FileSetResolver(files)]).processMinidump(bytes);
      colds.push(performance.now() - t);
      frames = r.stacktraces.reduce((n, st) => n + st.frames.length, 0);
    }
    const sym = new P.Symbolicator([new P.FileSetResolver(files)]);
    await sym.processMinidump(bytes);
    const warms = [];
    for (let i = 0; i < repeat; i++) {
      const t = performance.now();
      await sym.processMinidump(bytes);
      warms.push(performance.now() - t);
    }
    sym.clear();
    rows.push({ dump: name, frames, coldMs: median(colds), warmMs: median(warms) });
  }
  return rows;
}

/** The table: one line per dump, the Python figures beside (when given) with ratios. */
export function formatMinidumpRows(rows, python, title) {
  const py = new Map((python || []).map((r) => [r.dump, r]));
  const out = [title, "dump                              frames   cold ms   warm ms | python cold  warm | js/py cold  warm"];
  for (const r of rows) {
    const p = py.get(r.dump);
    const ratio = (a, b) => (b ? (a / b).toFixed(2) + "x" : "-");
    out.push(`${r.dump.padEnd(33)} ${String(r.frames).padStart(6)} ${r.coldMs.toFixed(1).padStart(9)} ${r.warmMs.toFixed(1).padStart(9)} |`
      + ` ${p ? p.coldMs.toFixed(1).padStart(10) : "-".padStart(10)} ${p ? p.warmMs.toFixed(1).padStart(5) : "    -"} |`
      + ` ${p ? ratio(r.coldMs, p.coldMs).padStart(10) : "-".padStart(10)} ${p ? ratio(r.warmMs, p.warmMs).padStart(5) : "    -"}`);
  }
  return out.join("\n");
}
