// The measurements of bench/bench_browser.mjs, the same code in Node and in Chromium.
// `libs`: {pysym (browser/index.js namespace), traceMapping ({TraceMap, originalPositionFor}),
// sourceMap ({SourceMapConsumer})}; `maps`: [{key, bytes: Uint8Array}].
// Returns rows of plain numbers; nothing is asserted (a program, not a test).

function mulberry32(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const now = () => performance.now();

async function bestOf(repeat, fn) {
  let best = Infinity;
  for (let i = 0; i < repeat; i++) {
    const t0 = now();
    await fn();
    best = Math.min(best, now() - t0);
  }
  return best;
}

/** Positions: half on or next to real segments, half random within and past line ends. */
function positions(decoded, count, seed = 42) {
  const rnd = mulberry32(seed);
  const lines = [];
  const cols = [];
  const nonEmpty = [];
  decoded.forEach((segs, i) => { if (segs.length) nonEmpty.push(i); });
  for (let i = 0; i < count; i++) {
    const line = nonEmpty[Math.floor(rnd() * nonEmpty.length)];
    const segs = decoded[line];
    if (i % 2 === 0) {
      const seg = segs[Math.floor(rnd() * segs.length)];
      lines.push(line);
      cols.push(seg[0] + (rnd() < 0.5 ? 0 : 1));
    } else {
      const maxCol = segs[segs.length - 1][0] + 50;
      lines.push(line);
      cols.push(Math.floor(rnd() * maxCol));
    }
  }
  return { lines, cols };
}

export async function runBench({ pysym, traceMapping, sourceMap }, maps, { lookups = 100000, repeat = 5 } = {}) {
  const { TraceMap, originalPositionFor, decodedMappings } = traceMapping;
  const { SourceMapConsumer } = sourceMap;
  const rows = [];
  for (const { key, bytes } of maps) {
    const text = new TextDecoder().decode(bytes);
    const row = { map: key, mb: bytes.length / 1e6 };
    // parse = construct + the first lookup (every library decodes lazily, to a different extent)
    row.parse_pysym = await bestOf(repeat, () => {
      const sm = pysym.SourceMap.fromBytes(bytes);
      sm.lookup(0, 0);
      sm.close();
    });
    row.parse_tm = await bestOf(repeat, () => {
      const tm = new TraceMap(text);
      originalPositionFor(tm, { line: 1, column: 0 });
    });
    row.parse_sm = await bestOf(Math.min(repeat, 3), async () => {
      const c = await new SourceMapConsumer(text);
      c.originalPositionFor({ line: 1, column: 0 });
      c.destroy();
    });
    // lookups on warm maps (all lines decoded by a first pass)
    const tm = new TraceMap(text);
    const { lines, cols } = positions(decodedMappings(tm), lookups);
    const n = lines.length;
    const sm = pysym.SourceMap.fromBytes(bytes);
    sm.lookupMany(lines, cols);
    const tSingle = await bestOf(repeat, () => {
      for (let i = 0; i < n; i++) sm.lookup(lines[i], cols[i]);
    });
    const tBatch = await bestOf(repeat, () => sm.lookupMany(lines, cols));
    sm.close();
    for (let i = 0; i < n; i++) originalPositionFor(tm, { line: lines[i] + 1, column: cols[i] });
    const tTm = await bestOf(repeat, () => {
      for (let i = 0; i < n; i++) originalPositionFor(tm, { line: lines[i] + 1, column: cols[i] });
    });
    const consumer = await new SourceMapConsumer(text);
    const smN = Math.min(n, 20000);
    for (let i = 0; i < smN; i++) consumer.originalPositionFor({ line: lines[i] + 1, column: cols[i] });
    const tSm = await bestOf(Math.min(repeat, 3), () => {
      for (let i = 0; i < smN; i++) consumer.originalPositionFor({ line: lines[i] + 1, column: cols[i] });
    });
    consumer.destroy();
    row.lps_pysym = n / (tSingle / 1000);
    row.lps_pysym_batch = n / (tBatch / 1000);
    row.lps_tm = n / (tTm / 1000);
    row.lps_sm = smN / (tSm / 1000);
    rows.push(row);
  }
  return rows;
}

export function formatRows(rows, title) {
  const f = (x, d = 2) => x.toFixed(d);
  const k = (x) => (x >= 1e6 ? `${f(x / 1e6)}M` : `${f(x / 1e3, 0)}k`);
  const out = [title,
    "map        MB    parse ms: pysym  trace-map  source-map   pysym/tm  | lookups/s: pysym  batch   trace-map  source-map  pysym/tm  batch/tm | targets"];
  for (const r of rows) {
    const pr = r.parse_pysym / r.parse_tm;
    const lr = r.lps_pysym / r.lps_tm;
    const br = r.lps_pysym_batch / r.lps_tm;
    const ok = `parse ${pr <= 1 ? "ok" : "MISS"}, lookups ${Math.max(lr, br) >= 1 ? "ok" : "MISS"}`;
    out.push(`${r.map.padEnd(10)} ${f(r.mb, 1).padStart(5)}   ${f(r.parse_pysym, 1).padStart(12)} ${f(r.parse_tm, 1).padStart(10)} ${f(r.parse_sm, 1).padStart(11)}   ${(f(pr) + "x").padStart(8)}  | ${k(r.lps_pysym).padStart(15)} ${k(r.lps_pysym_batch).padStart(7)} ${k(r.lps_tm).padStart(10)} ${k(r.lps_sm).padStart(11)} ${(f(lr) + "x").padStart(9)} ${(f(br) + "x").padStart(9)} | ${ok}`);
  }
  return out.join("\n");
}
