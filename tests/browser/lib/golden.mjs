// The JavaScript twin of tests/browser/golden.py: the same objects from browser/, and a
// comparison with the Python side's golden files. Runs in Node and in Chromium (the
// browser test imports it into the page); `read(path)` returns a repository file's bytes.

const MAX_TOKENS = 300;

function tok(t) {
  return t === null ? null : [t.dstLine, t.dstCol, t.src, t.srcLine, t.srcCol, t.name];
}

export function dumpMap(P, data) {
  let sm;
  try {
    sm = P.SourceMap.fromBytes(data);
  } catch (e) {
    if (e instanceof P.PysymError) return { error: e.name, code: e.code };
    throw e;
  }
  try {
    const tokens = sm.tokens();
    const lines = [];
    const cols = [];
    for (const t of tokens.slice(0, MAX_TOKENS)) {
      for (const [dl, dc] of [[t.dstLine, t.dstCol], [t.dstLine, t.dstCol + 1], [t.dstLine + 1, 0]]) {
        lines.push(dl);
        cols.push(dc);
      }
    }
    lines.push(0, 0, 5, 1000000);
    cols.push(0, 1000000, 3, 0);
    const generated = [];
    for (const t of tokens.slice(0, MAX_TOKENS)) {
      if (t.src !== null) {
        generated.push([t.src, t.srcLine, t.srcCol,
          sm.generatedPositions(t.src, t.srcLine, t.srcCol).map(tok),
          sm.generatedPositions(t.src, t.srcLine).map(tok)]);
      }
    }
    return {
      error: null,
      sources: sm.sources,
      names: sm.names,
      file: sm.file,
      debugId: sm.debugId,
      ignoreList: sm.ignoreList,
      isIndexMap: sm.isIndexMap,
      length: sm.length,
      tokens: tokens.map(tok),
      queries: [lines, cols],
      glb: sm.lookupMany(lines, cols, P.GREATEST_LOWER_BOUND).map(tok),
      lub: sm.lookupMany(lines, cols, P.LEAST_UPPER_BOUND).map(tok),
      single: lines.slice(0, 50).map((ln, i) => tok(sm.lookup(ln, cols[i]))),
      generated,
      content: sm.sources.map((_, i) => sm.sourceContent(i)),
    };
  } finally {
    sm.close();
  }
}

/** JSON with sorted keys, for order-insensitive comparison of objects. */
export function canonical(x) {
  return JSON.stringify(x, (k, v) => (typeof v === "bigint" ? `bigint:${v}` : v && typeof v === "object" && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((key) => [key, v[key]])) : v));
}

/** `pysym sourcemap lookup` output (JSON lines as objects) for 1-based LINE:COL strings. */
export function cliLookup(P, data, positions, bias) {
  const sm = P.SourceMap.fromBytes(data);
  try {
    const ps = positions.map((p) => p.split(":").map(Number));
    const toks = sm.lookupMany(ps.map((p) => p[0] - 1), ps.map((p) => p[1] - 1),
      bias === "lub" ? P.LEAST_UPPER_BOUND : P.GREATEST_LOWER_BOUND);
    return ps.map(([line, column], i) => {
      const t = toks[i];
      return {
        generated: { line, column },
        original: t === null ? null : { source: t.src, line: t.srcLine + 1, column: t.srcCol + 1, name: t.name },
      };
    });
  } finally {
    sm.close();
  }
}

export const CONTEXTS = { default: 0, context2: 2, nocontext: null };
export const EXAMPLE_FILES = ["app.min.js", "app.min.js.map"];

/** `pysym symbolicate-js --maps examples` with the browser module; kind: a CONTEXTS key or "json". */
export async function cliSymbolicate(P, trace, files, kind) {
  const resolver = new P.FileSetResolver(files, { loadMap: async (d) => (d instanceof Blob ? P.SourceMap.fromBlob(d) : P.SourceMap.fromBytes(d)) });
  try {
    await resolver.prepare(trace);
    if (kind === "json") return P.symbolicateTraceJson(trace, resolver.resolve, 0);
    return P.symbolicateTrace(trace, resolver.resolve, CONTEXTS[kind]);
  } finally {
    resolver.close();
  }
}

/**
 * Compares everything in the golden directory with what browser/ gives.
 * `read(path)`: bytes of a repository file; `readGolden(path)`: text of a golden file.
 * Returns {checked, mismatches: [description]}.
 */
export async function compareAll(P, read, readGolden) {
  const mismatches = [];
  let checked = 0;
  const text = (b) => new TextDecoder().decode(b);
  const maps = JSON.parse(await readGolden("maps.json"));
  for (const [path, want] of Object.entries(maps)) {
    const got = dumpMap(P, await read(path));
    checked += 1;
    if (canonical(got) !== canonical(want)) {
      const keys = Object.keys(want).filter((k) => canonical(got[k]) !== canonical(want[k]));
      mismatches.push(`${path}: differs in ${keys.join(", ") || "(keys)"}`);
    }
  }
  const index = JSON.parse(await readGolden("index.json"));
  const files = new Map();
  for (const name of EXAMPLE_FILES) files.set(name, await read("examples/" + name));
  for (const [trace, kinds] of Object.entries(index.traces)) {
    const traceText = text(await read(trace));
    for (const [kind, file] of Object.entries(kinds)) {
      const want = await readGolden(file);
      const got = await cliSymbolicate(P, traceText, files, kind);
      checked += 1;
      if (kind === "json") {
        const wantObjs = want.split("\n").filter((l) => l).map((l) => JSON.parse(l));
        if (canonical(got) !== canonical(wantObjs)) mismatches.push(`${trace} --json differs`);
      } else if (got !== want) {
        mismatches.push(`${trace} ${kind} differs:\n--- python\n${want}\n--- js\n${got}`);
      }
    }
  }
  for (const [bias, spec] of Object.entries(index.lookup)) {
    const want = (await readGolden(spec.file)).split("\n").filter((l) => l).map((l) => JSON.parse(l));
    const got = cliLookup(P, await read(spec.map), spec.positions, bias);
    checked += 1;
    if (canonical(got) !== canonical(want)) mismatches.push(`sourcemap lookup --bias ${bias} differs`);
  }
  if (index.native && !index.native.skipped) {
    const r = await compareNative(P, index.native, readGolden);
    checked += r.checked;
    mismatches.push(...r.mismatches);
  }
  return { checked, mismatches };
}

/**
 * The native fixture: object info, the symcache built from the program (byte for byte),
 * and `symcache lookup` text, from bytes and from a Blob (ranged NEED_DATA reads).
 * `readGolden(path, true)` returns bytes.
 */
export async function compareNative(P, spec, readGolden) {
  const mismatches = [];
  let checked = 0;
  const exe = await readGolden(spec.exe, true);
  const pySymcache = await readGolden(spec.symcache, true);
  const info = JSON.parse(await readGolden(spec.info));
  const o = P.NativeObject.fromBytes(exe);
  const got = {
    kind: o.kind, arch: o.arch, debug_id: o.debugId, code_id: o.codeId,
    image_base: "0x" + o.imageBase.toString(16), has_debug_info: o.hasDebugInfo, has_symbols: o.hasSymbols,
  };
  checked += 1;
  if (canonical(got) !== canonical(info)) mismatches.push(`object info differs: ${canonical(got)} vs ${canonical(info)}`);
  const want = await readGolden(spec.lookup);
  const addrs = spec.addrs.map((a) => BigInt("0x" + a));
  for (const [label, make] of [
    ["built from bytes", () => P.SymCache.fromObject(exe)],
    ["built from a Blob", () => P.SymCache.fromObject(new Blob([exe]))],
    ["loaded from the Python symcache", async () => P.SymCache.fromBytes(pySymcache)],
  ]) {
    const sc = await make();
    try {
      checked += 2;
      const bytes = sc.toBytes();
      const same = bytes.length === pySymcache.length && bytes.every((b, i) => b === pySymcache[i]);
      if (!same) mismatches.push(`symcache ${label}: bytes differ from pysym symcache build`);
      const text = P.renderNativeLookup(sc.lookupMany(addrs));
      if (text !== want) mismatches.push(`symcache ${label}: lookup differs from pysym symcache lookup`);
    } finally {
      sc.close();
    }
  }
  return { checked, mismatches };
}

/**
 * The crash golden files (tests/browser/golden.py write_crash): every minidump and crash
 * request through P.Symbolicator over FileSetResolvers of the same store files, compared
 * with the Python Symbolicator's response (or its error class). `readFile(spec, path)`
 * returns a store file's bytes or Blob (`spec.in` is "repo" or "golden"); `readGolden(path,
 * binary)` as in compareAll. Returns {checked, mismatches, ms}.
 */
export async function compareCrash(P, spec, readFile, readGolden) {
  const mismatches = [];
  let checked = 0;
  const started = Date.now();
  // One object per file (two stores over one directory share them, as the Python side's
  // stores share inodes: "same file as another candidate").
  const files = new Map();
  const storeFiles = async (name) => {
    const s = spec.stores[name];
    const m = new Map();
    if (s.kind === "system") {
      // [absolute path, copy]: one object per copy (one inode on the Python side)
      for (const [path, copy] of s.files) {
        const key = `golden:${copy}`;
        if (!files.has(key)) files.set(key, await readFile({ in: "golden" }, copy));
        m.set(path, files.get(key));
      }
      return m;
    }
    for (const f of s.files) {
      const key = `${s.in}:${s.root}/${f}`;
      if (!files.has(key)) files.set(key, await readFile(s, `${s.root}/${f}`));
      m.set(f, files.get(key));
    }
    return m;
  };
  const symbolicator = async (names, options = {}) => {
    const stores = [];
    for (const n of names) {
      const s = spec.stores[n];
      if (s.kind === "system") stores.push(new P.SystemStore(await storeFiles(n), { debugDirs: s.debug_dirs, moduleFiles: s.module_files, id: n }));
      else stores.push(new P.FileSetResolver(await storeFiles(n), { layout: s.layout, casing: s.casing, id: n, filters: s.filters }));
    }
    return new P.Symbolicator(stores, options);
  };
  const outcome = async (fn) => {
    try {
      // (integers beyond 2**53 stay exact both ways: parseJson/stringifyJson)
      return P.parseJson(P.stringifyJson(await fn()));
    } catch (e) {
      if (!(e instanceof P.PysymError)) throw e;
      return { error: e.name };
    }
  };
  const compare = (label, got, want) => {
    checked += 1;
    if (canonical(got) !== canonical(want)) {
      mismatches.push(`${label}: differs\n--- python\n${JSON.stringify(want).slice(0, 3000)}\n--- js\n${JSON.stringify(got).slice(0, 3000)}`);
    }
  };
  for (const md of spec.minidumps) {
    let dump = await readFile({ in: md.in || "repo" }, md.dump);
    const cut = md.cut !== undefined && md.cut !== null;
    if (cut) dump = dump.slice(0, md.cut);
    const sym = await symbolicator(md.stores);
    const got = await outcome(() => sym.processMinidump(dump));
    compare(`minidump ${md.dump}${cut ? ` cut at ${md.cut}` : ""}${md.stores.length ? "" : " (no stores)"}`, got,
      P.parseJson(await readGolden(md.response)));
  }
  for (const r of spec.requests || []) {
    const { request, response } = P.parseJson(await readGolden(r.file));
    const options = {};
    if (r.options.maxFrames) options.maxFrames = r.options.maxFrames;
    if (r.options.maxModules) options.maxModules = r.options.maxModules;
    if (r.options.localSources) {
      options.localSources = new Map();
      for (const [path, copy] of r.options.localSources) options.localSources.set(path, await readFile({ in: "golden" }, copy));
    }
    const sym = await symbolicator(r.stores, options);
    compare(`request ${r.name}`, await outcome(() => sym.symbolicate(request)), response);
    if (!response.error) {
      // asked again: the symbolicator's memory gives the same answer
      compare(`request ${r.name} (again)`, await outcome(() => sym.symbolicate(request)), response);
    }
  }
  return { checked, mismatches, ms: Date.now() - started };
}
