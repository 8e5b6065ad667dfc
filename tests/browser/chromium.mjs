// Drives Debian's /usr/bin/chromium (headless, through playwright-core) against the
// devtools page, the module inside the page, the worker timeout and the extension.
//
//   node tests/browser/chromium.mjs --golden DIR --artifacts DIR [--only page,module,worker,extension]
//
// Prints one JSON object per check ({"check", "ok", "detail"}) and exits 1 if any failed.
// The golden directory is written by tests/browser/golden.py (Python side, same run).
import { chromium } from "playwright-core";
import { createHash } from "node:crypto";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { startServer } from "../../browser/devtools/serve.mjs";
import { hostileDump } from "./lib/pathological.mjs";
import { buildExtension } from "../../browser/extension/build.mjs";

const ROOT = resolve(fileURLToPath(new URL("../../", import.meta.url)));
const { values: opts } = parseArgs({
  options: {
    golden: { type: "string" }, artifacts: { type: "string" }, only: { type: "string" },
    chromium: { type: "string", default: process.env.PYSYM_CHROMIUM || "/usr/bin/chromium" },
  },
});
if (!opts.golden || !opts.artifacts) {
  console.error("usage: node tests/browser/chromium.mjs --golden DIR --artifacts DIR");
  process.exit(2);
}
const GOLDEN = resolve(opts.golden);
const ARTIFACTS = resolve(opts.artifacts);
await mkdir(ARTIFACTS, { recursive: true });
const ONLY = opts.only ? new Set(opts.only.split(",")) : null;
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-quic"];

const results = [];
function report(check, ok, detail = "") {
  const r = { check, ok: Boolean(ok), detail };
  results.push(r);
  console.log(JSON.stringify(r));
}

async function launch(extraArgs = [], ignoreDefaultArgs = []) {
  const userDataDir = await mkdtemp(join(tmpdir(), "pysym-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opts.chromium, headless: false, args: [...FLAGS, ...extraArgs], ignoreDefaultArgs,
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(60000);
  return { context, close: async () => { await context.close(); await rm(userDataDir, { recursive: true, force: true }); } };
}

function watch(page) {
  const problems = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  return problems;
}

const golden = (p) => readFile(join(GOLDEN, p), "utf8");
const index = JSON.parse(await golden("index.json"));
const EXAMPLES = ["examples/app.min.js", "examples/app.min.js.map"].map((p) => join(ROOT, p));

/** Symbolicates a trace through the page's UI; returns the output text. */
async function symbolicateInPage(page, trace, context) {
  await page.fill("#trace", await readFile(join(ROOT, trace), "utf8"));
  await page.selectOption("#context", context);
  await page.evaluate(() => { document.body.dataset.state = "ready"; });
  await page.click("#symbolicate");
  await page.waitForSelector("body[data-state=done], body[data-state=error]");
  const state = await page.getAttribute("body", "data-state");
  if (state !== "done") throw new Error(await page.textContent("#status"));
  return page.textContent("#output");
}

/** The devtools page flow: load under CSP, add files, symbolicate every golden trace. */
async function checkPageFlow(page, label) {
  const problems = watch(page);
  await page.waitForSelector("body[data-state=ready], body[data-state=error]");
  const status = await page.textContent("#status");
  report(`${label}: page starts the module`, (await page.getAttribute("body", "data-state")) === "ready", status);
  await page.setInputFiles("#files", EXAMPLES);
  const listed = await page.textContent("#file-list");
  report(`${label}: files listed`, listed.includes("app.min.js.map"), listed);
  const kinds = { default: "0", context2: "2", nocontext: "none" };
  for (const [trace, files] of Object.entries(index.traces)) {
    for (const [kind, ctx] of Object.entries(kinds)) {
      const want = await golden(files[kind]);
      let got;
      try {
        got = await symbolicateInPage(page, trace, ctx);
      } catch (e) {
        got = `ERROR ${e.message}`;
      }
      report(`${label}: ${trace} (${kind}) identical to the Python CLI`, got === want, got === want ? "" : { want, got });
    }
  }
  if (index.native && !index.native.skipped) {
    // native tab: addresses + the debug file (symcache built in the page) or the symcache
    await page.click("#tab-native");
    const want = await golden(index.native.lookup);
    const addrs = index.native.addrs.map((a, i) => (i % 2 ? `#${i} 0x${a} in f` : a)).join("\n");
    for (const [what, file] of [["debug file", index.native.exe], ["symcache", index.native.symcache]]) {
      await page.setInputFiles("#native-file", join(GOLDEN, file));
      await page.fill("#trace", addrs);
      await page.evaluate(() => { document.body.dataset.state = "ready"; });
      await page.click("#symbolicate");
      await page.waitForSelector("body[data-state=done], body[data-state=error]");
      const got = await page.textContent("#output");
      report(`${label}: native addresses with the ${what} identical to pysym symcache lookup`, got === want,
        got === want ? await page.textContent("#status") : { status: await page.textContent("#status"), got: got.slice(0, 500) });
    }
    await page.click("#tab-js");
  }
  const cspProblems = problems.filter((p) => /Content Security Policy|Refused/.test(p));
  report(`${label}: no CSP violations or page errors`, problems.length === 0, problems);
  return cspProblems;
}

/** The other ways in: a chosen folder (webkitdirectory) and files dropped on the page. */
async function checkFolderAndDrop(page) {
  const want = await golden(index.traces["examples/trace.txt"].default);
  await page.click("#clear-files");
  await page.setInputFiles("#folder", join(ROOT, "examples"));
  const listed = await page.textContent("#file-list");
  const got = await symbolicateInPage(page, "examples/trace.txt", "0");
  report("devtools page: a chosen folder (examples/) symbolicates like the CLI's --maps examples",
    got === want && /app\.min\.js\.map/.test(listed) && !/examples\//.test(listed), { listed: listed.slice(0, 300) });
  await page.click("#clear-files");
  const files = [];
  for (const name of ["app.min.js", "app.min.js.map"]) {
    files.push({ name, b64: (await readFile(join(ROOT, "examples", name))).toString("base64") });
  }
  const dt = await page.evaluateHandle((files) => {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name));
    return dt;
  }, files);
  await page.dispatchEvent("html", "drop", { dataTransfer: dt });
  await page.waitForFunction(() => document.getElementById("file-list").children.length === 2);
  const dropped = await symbolicateInPage(page, "examples/trace.txt", "0");
  report("devtools page: dropped files symbolicate like the CLI", dropped === want);
}

const DUMPS = join(ROOT, "tests", "data", "minidump");

/** The golden response's crashing thread as the Crash tab shows its frames: function or (status). */
function expectedFrames(response) {
  const st = response.stacktraces.find((t) => t.is_requesting || t.crashed) || response.stacktraces[0];
  return st.frames.map((f) => (f.status === "symbolicated" ? f.function || f.symbol || "??" : `(${f.status})`));
}

async function runCrash(page) {
  await page.evaluate(() => { document.body.dataset.state = "ready"; });
  await page.click("#symbolicate");
  await page.waitForSelector("body[data-state=done], body[data-state=error]", { timeout: 120000 });
  return { state: await page.getAttribute("body", "data-state"), status: await page.textContent("#status") };
}

/**
 * The Crash tab: a minidump and a folder of symbols give the Python response's frames,
 * crashing thread first and open; a hostile dump shows its typed error and the page
 * recovers; a pasted crash request with its store's files; a screenshot artifact.
 */
async function checkCrashTab(page, label, { screenshot = null, full = true } = {}) {
  const crash = index.crash;
  await page.click("#tab-crash");
  await page.click("#crash-clear-files");
  await page.setInputFiles("#crash-symbols-folder", join(DUMPS, "symbols"));
  const listed = await page.textContent("#crash-file-list");
  report(`${label}: crash tab lists the symbol folder`, listed.includes("crash-client.sym") && listed.includes("test_app.sym"), listed.slice(0, 300));
  const dumps = full ? ["pipeline-inlines-macos-segv.dmp", "test.dmp"] : ["test.dmp"];
  for (const name of dumps) {
    await page.setInputFiles("#crash-dump", join(DUMPS, name));
    const r = await runCrash(page);
    const want = JSON.parse(await golden(`crash/${name}.json`));
    const shown = await page.evaluate(() => {
      const first = document.querySelector("#crash-view details.thread");
      return {
        firstOpen: first ? first.open : null,
        firstCrashed: first ? first.classList.contains("crashed") : null,
        threads: document.querySelectorAll("#crash-view details.thread:not(.modules)").length,
        frames: first ? [...first.querySelectorAll("li.frame .fn")].map((e) => e.textContent.replace(/^\((.*)\)$/, "($1)")) : [],
        inlined: first ? first.querySelectorAll("li.frame.inlined").length : 0,
        summary: document.querySelector("#crash-view dl.summary")?.textContent || "",
      };
    });
    const frames = expectedFrames(want);
    const inlined = want.stacktraces.find((t) => t.is_requesting).frames.filter((f, i, a) => i > 0 && a[i - 1].original_index === f.original_index).length;
    const ok = r.state === "done" && shown.firstOpen && shown.firstCrashed && shown.threads === want.stacktraces.length
      && JSON.stringify(shown.frames) === JSON.stringify(frames) && shown.inlined === inlined
      && shown.summary.includes(want.crash_reason) && shown.summary.includes(want.crash_address);
    report(`${label}: crash tab shows ${name} as the Python response (crashing thread first, open, ${frames.length} frames)`, ok,
      ok ? r.status : { r, shown, frames, inlined });
  }
  if (full) {
    // source context: a dropped file whose path ends like the frame's abs_path
    // (c:\test_app.cc) is shown around the frame's line on click
    const src = join(ARTIFACTS, "test_app.cc");
    await writeFile(src, Array.from({ length: 100 }, (_, i) => `// source line ${i + 1}`).join("\n"));
    await page.setInputFiles("#crash-symbols", src);
    await runCrash(page);
    await page.click("#crash-view li.frame");
    // the dropped file is read asynchronously after the click
    await page.waitForSelector("#crash-view .frame-detail .current", { timeout: 15000 }).catch(() => null);
    const ctx = await page.evaluate(() => {
      const d = document.querySelector("#crash-view .frame-detail");
      return { current: d?.querySelector(".current")?.textContent || "", lines: d ? d.querySelectorAll("span").length : 0 };
    });
    const line = JSON.parse(await golden("crash/test.dmp.json")).stacktraces[0].frames[0].lineno;
    report(`${label}: a frame's click shows its source lines from a dropped file`,
      ctx.current.includes(`// source line ${line}`) && ctx.lines === 11, { ctx, line });
    await page.click("#crash-view li.frame");  // closes it again
  }
  if (screenshot) {
    await page.click("#crash-view li.frame");  // a frame's detail on click
    const detail = await page.textContent("#crash-view .frame-detail");
    report(`${label}: a frame click shows its detail`, /instruction_addr: 0x/.test(detail), detail.slice(0, 200));
    const png = await page.screenshot({ fullPage: true });
    await writeFile(join(ARTIFACTS, screenshot), png);
    const stats = await nonBlank(page.context(), png);
    report(`${label}: screenshot of the crash tab (${screenshot}) is not blank`, stats.colors > 20 && stats.differing > 0.05, stats);
  }
  // a hostile dump: the typed error, then the page still works
  const garbage = join(ARTIFACTS, "garbage.dmp");
  await writeFile(garbage, Buffer.alloc(64, 0x41));
  await page.setInputFiles("#crash-dump", garbage);
  const bad = await runCrash(page);
  report(`${label}: a hostile dump shows its typed error`, bad.state === "error" && /^InvalidInputError: /.test(bad.status), bad);
  await page.setInputFiles("#crash-dump", join(DUMPS, "test.dmp"));
  const after = await runCrash(page);
  report(`${label}: the page works after the hostile dump`, after.state === "done", after);
  if (full) {
    // a runaway dump (65536 threads at the walker's limits: 3.5-7 s here, `make runaway-bench`)
    // stopped at the tab's time limit (1 s; the real dump above takes ~20 ms); the page recovers
    const runaway = join(ARTIFACTS, "runaway.dmp");
    await writeFile(runaway, hostileDump());
    await page.fill("#crash-timeout", "1");
    const quick = await runCrash(page); // test.dmp again, under the limit
    await page.setInputFiles("#crash-dump", runaway);
    const stopped = await runCrash(page);
    await page.fill("#crash-timeout", "30");
    await page.setInputFiles("#crash-dump", join(DUMPS, "test.dmp"));
    const recovered = await runCrash(page);
    report(`${label}: a runaway dump is stopped at the tab's time limit (TimeLimitError) and the page recovers`,
      quick.state === "done" && stopped.state === "error" && /^TimeLimitError: /.test(stopped.status) && recovered.state === "done",
      { quick, stopped, recovered });
  }
  if (full) {
    // the IndexedDB cache: built once; the same files again: kept by the worker; the same
    // symbols chosen again (new File objects): taken from the browser; the clear button
    // empties it (and what the worker kept)
    await page.check("#crash-cache");
    await page.click("#crash-clear-cache");
    await page.waitForFunction(() => /cache is empty/.test(document.getElementById("status").textContent));
    const built = await runCrash(page);
    const kept = await runCrash(page);
    await page.setInputFiles("#crash-symbols-folder", join(DUMPS, "symbols"));
    const cached = await runCrash(page);
    await page.click("#crash-clear-cache");
    await page.waitForFunction(() => /cache is empty/.test(document.getElementById("status").textContent));
    const rebuilt = await runCrash(page);
    await page.uncheck("#crash-cache");
    report(`${label}: the crash tab's IndexedDB symcache cache is used and cleared; the worker keeps its symbolicator`,
      /1 symcache\(s\) built, 0 from/.test(built.status) && /0 symcache\(s\) built, 0 from the browser's cache, 1 kept/.test(kept.status)
      && /0 symcache\(s\) built, 1 from/.test(cached.status)
      && /1 symcache\(s\) built, 0 from/.test(rebuilt.status), { built, kept, cached, rebuilt });
  }
  if (full && crash.requests.length) {
    // a pasted crash request, its store's files as the symbol folder (layout and casing
    // chosen in the tab; the wrong casing finds nothing)
    for (const [name, casing] of [["layout symstore-default", null], ["layout symstore-uppercase", null],
      ["layout symstore-uppercase", "default"]]) {
      const spec = crash.requests.find((q) => q.name === name);
      const { request, response } = JSON.parse(await golden(spec.file));
      const store = crash.stores[spec.stores[0]];
      await page.setInputFiles("#crash-dump", []);
      await page.click("#crash-clear-files");
      await page.setInputFiles("#crash-symbols-folder", join(GOLDEN, store.root));
      await page.selectOption("#crash-layout", store.layout);
      await page.selectOption("#crash-casing", casing || store.casing);
      await page.fill("#trace", JSON.stringify(request));
      const r = await runCrash(page);
      const shown = await page.evaluate(() => [...document.querySelectorAll("#crash-view details.thread:not(.modules) li.frame .fn")].map((e) => e.textContent));
      const want = casing ? request.stacktraces[0].frames.map(() => "(missing)") : expectedFrames(response);
      report(`${label}: a pasted crash request with a ${store.layout} folder in casing ${casing || store.casing} shows ${casing ? "no frames found (wrong casing)" : "the Python frames"}`,
        r.state === "done" && JSON.stringify(shown) === JSON.stringify(want) && want.length > 0, { r, shown, want });
    }
    await page.selectOption("#crash-layout", "native");
    await page.selectOption("#crash-casing", "default");
    await page.fill("#trace", "");
  }
  await page.click("#tab-js");
}

async function nonBlank(context, png) {
  // decode the screenshot with the browser itself: no image library needed
  const page = await context.newPage();
  const stats = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = "data:image/png;base64," + b64;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext("2d");
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const colors = new Set();
    let differing = 0;
    const [r0, g0, b0] = [d[0], d[1], d[2]];
    for (let i = 0; i < d.length; i += 4) {
      colors.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      if (Math.abs(d[i] - r0) + Math.abs(d[i + 1] - g0) + Math.abs(d[i + 2] - b0) > 30) differing++;
    }
    return { width: c.width, height: c.height, colors: colors.size, differing: differing / (d.length / 4) };
  }, png.toString("base64"));
  await page.close();
  return stats;
}

const server = await startServer(0, "127.0.0.1", { "/golden/": GOLDEN });
const base = `http://127.0.0.1:${server.address().port}`;
try {
  if (!ONLY || ONLY.has("page") || ONLY.has("module") || ONLY.has("worker") || ONLY.has("crash")) {
    const { context, close } = await launch();
    try {
      const page = await context.newPage();
      const response = await page.goto(`${base}/browser/devtools/`);
      const csp = response.headers()["content-security-policy"] || "";
      report("page served with the strict CSP", csp.includes("script-src 'self' 'wasm-unsafe-eval'"), csp);
      const blocked = await page.evaluate(async () => {
        // an inline script inserted into the DOM must not run under script-src 'self'
        let violations = 0;
        document.addEventListener("securitypolicyviolation", () => { violations += 1; });
        const s = document.createElement("script");
        s.textContent = "window.__pysymInline = 1;";
        document.head.append(s);
        await new Promise((r) => setTimeout(r, 100));
        return { ran: window.__pysymInline === 1, violations };
      });
      report("inline scripts are refused in the page (CSP enforced)", !blocked.ran && blocked.violations > 0, blocked);
      if (!ONLY || ONLY.has("page")) {
        await checkPageFlow(page, "devtools page");
        await checkFolderAndDrop(page);
        await symbolicateInPage(page, "examples/trace.txt", "2");
        const png = await page.screenshot({ fullPage: true });
        await writeFile(join(ARTIFACTS, "devtools-page.png"), png);
        const stats = await nonBlank(context, png);
        report("screenshot of the symbolicated trace is not blank", stats.colors > 20 && stats.differing > 0.05, stats);
      }
      if (!ONLY || ONLY.has("crash")) {
        await checkCrashTab(page, "devtools page", { screenshot: "devtools-crash.png" });
        const r = await page.evaluate(async (spec) => {
          const P = await import("/browser/index.js");
          const G = await import("/tests/browser/lib/golden.mjs");
          await P.init();
          // store files as Blobs: read by the ranges the module asks for (NEED_DATA)
          const read = async (s, path) => (await fetch((s.in === "repo" ? "/" : "/golden/") + path)).blob();
          const readGolden = async (p) => (await fetch("/golden/" + p)).text();
          return G.compareCrash(P, spec, read, readGolden);
        }, index.crash);
        report(`crash module in Chromium: ${r.checked} minidump and crash request responses identical to Python's`,
          r.checked >= 10 + index.crash.requests.length && r.mismatches.length === 0, r.mismatches.length ? r.mismatches : `${r.ms} ms`);
        const db = await page.evaluate(async () => {
          const P = await import("/browser/index.js");
          await P.init();
          const dump = await (await fetch("/tests/data/minidump/test.dmp")).blob();
          const path = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym";
          const files = new Map([[path, await (await fetch("/tests/data/minidump/symbols/" + path)).blob()]]);
          const cache = new P.SymcacheDB({ name: "pysym-test-" + Math.random() });
          await cache.clear();
          const first = new P.Symbolicator([new P.FileSetResolver(files)], { cache });
          const a = await first.processMinidump(dump);
          const usage = await cache.usage();
          const second = new P.Symbolicator([new P.FileSetResolver(files)], { cache });
          const b = await second.processMinidump(dump);
          await cache.clear();
          const small = new P.SymcacheDB({ name: "pysym-test-small-" + Math.random(), maxBytes: 1000 });
          await new P.Symbolicator([new P.FileSetResolver(files)], { cache: small }).processMinidump(dump);
          return { first: first.stats, second: second.stats, usage, same: JSON.stringify(a) === JSON.stringify(b),
            cleared: (await cache.usage()).entries, small: (await small.usage()).entries,
            version: await P.symcacheVersion() };
        });
        report("crash module in Chromium: SymcacheDB keeps the symcache in IndexedDB (reused by a new Symbolicator, bounded, cleared)",
          db.first.builds === 1 && db.second.builds === 0 && db.second.cacheHits === 1 && db.same && db.usage.entries === 1
          && db.usage.bytes > 1000 && db.cleared === 0 && db.small === 0, db);
        const http = await page.evaluate(async () => {
          const P = await import("/browser/index.js");
          const G = await import("/tests/browser/lib/golden.mjs");
          await P.init();
          // the page's own server as a symbol server (Breakpad layout): found by fetch()
          const sym = new P.Symbolicator([new P.HttpStore(location.origin + "/tests/data/minidump/symbols/", { id: "dumpsyms" })]);
          const out = {};
          for (const name of ["test.dmp"]) {
            const dump = await (await fetch("/tests/data/minidump/" + name)).blob();
            const want = await (await fetch(`/golden/crash/${name}.json`)).json();
            out[name] = G.canonical(await sym.processMinidump(dump)) === G.canonical(want);
          }
          // a server that is not there (fetch() rejects): fetching_failed, not missing
          const down = new P.Symbolicator([new P.HttpStore("http://127.0.0.1:1/")]);
          const mods = (await down.processMinidump(await (await fetch("/tests/data/minidump/test.dmp")).blob())).modules;
          out.down = mods.find((m) => m.code_file.endsWith("test_app.exe")).debug_status;
          return out;
        });
        report("crash module in Chromium: an HttpStore over fetch() gives Python's responses; a server down is fetching_failed",
          http["test.dmp"] === true && http.down === "fetching_failed", http);
        const w = await page.evaluate(async () => {
          const { PysymWorker } = await import("/browser/worker-client.js");
          const dump = await (await fetch("/tests/data/minidump/test.dmp")).blob();
          const path = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym";
          const stores = [{ files: new Map([[path, await (await fetch("/tests/data/minidump/symbols/" + path)).blob()]]) }];
          const w = new PysymWorker({ timeout: 60000 });
          const out = {};
          try {
            try {
              await w.processMinidump(dump, { stores, timeout: 5 });
              out.slow = "finished";
            } catch (e) {
              out.slow = e.name;
            }
            out.after = (await w.processMinidump(dump, { stores })).value.crash_reason;
            out.restarts = w.restarts;
          } finally {
            w.terminate();
          }
          return out;
        });
        report("crash worker in Chromium: a minidump call past its timeout is stopped, the next call answers",
          w.slow === "TimeLimitError" && w.after === "EXCEPTION_ACCESS_VIOLATION_WRITE" && w.restarts === 1, w);
      }
      if (!ONLY || ONLY.has("module")) {
        const r = await page.evaluate(async () => {
          const P = await import("/browser/index.js");
          const G = await import("/tests/browser/lib/golden.mjs");
          await P.init();
          const bytes = async (p) => new Uint8Array(await (await fetch("/" + p)).arrayBuffer());
          const blobs = async (p) => (p.endsWith(".map") ? new Blob([await bytes(p)]) : bytes(p));
          const a = await G.compareAll(P, bytes, async (p, binary = false) => {
            const r = await fetch("/golden/" + p);
            return binary ? new Uint8Array(await r.arrayBuffer()) : r.text();
          });
          // the same with the example files as Blobs: the file table's NEED_DATA path
          const files = new Map([["app.min.js", await bytes("examples/app.min.js")], ["app.min.js.map", await blobs("examples/app.min.js.map")]]);
          const viaBlob = await G.cliSymbolicate(P, await (await fetch("/examples/trace.txt")).text(), files, "default");
          return { ...a, viaBlob };
        });
        report(`module in Chromium: ${r.checked} results identical to the Python API/CLI`, r.checked > 100 && r.mismatches.length === 0, r.mismatches);
        const want = await golden(index.traces["examples/trace.txt"].default);
        report("module in Chromium: maps from Blobs (NEED_DATA retry) give the same trace", r.viaBlob === want);
      }
      if (!ONLY || ONLY.has("worker")) {
        const r = await page.evaluate(async () => {
          const { PysymWorker } = await import("/browser/worker-client.js");
          const { pathologicalMap } = await import("/tests/browser/lib/pathological.mjs");
          const map = new Uint8Array(await (await fetch("/examples/app.min.js.map")).arrayBuffer());
          const w = new PysymWorker({ timeout: 20000 });
          const out = {};
          try {
            const sm = await w.loadSourceMap(map);
            out.before = (await sm.lookup(0, 647)).src;
            const t0 = performance.now();
            try {
              const big = await w.loadSourceMap(pathologicalMap(), { timeout: 5 });
              await big.lookupMany([0], [1], 0, { timeout: 5 });
              out.runaway = "finished";
            } catch (e) {
              out.runaway = e.name;
            }
            out.stoppedAfterMs = performance.now() - t0;
            out.after = (await sm.lookup(0, 647)).src;
            out.restarts = w.restarts;
          } finally {
            w.terminate();
          }
          return out;
        });
        report("worker in Chromium: a runaway call is stopped by the timeout, the next call succeeds",
          r.runaway === "TimeLimitError" && r.after === "app/src/pricing.js" && r.before === r.after && r.restarts === 1, r);
      }
      await page.close();
    } finally {
      await close();
    }
  }
  if (!ONLY || ONLY.has("extension")) {
    const extDir = await buildExtension(await mkdtemp(join(tmpdir(), "pysym-ext-")));
    // an unpacked extension's id: sha256 of its path, first 32 hex digits mapped to a-p
    const id = [...createHash("sha256").update(extDir).digest("hex").slice(0, 32)]
      .map((c) => String.fromCharCode(97 + parseInt(c, 16))).join("");
    const { context, close } = await launch([`--disable-extensions-except=${extDir}`, `--load-extension=${extDir}`],
      ["--disable-extensions"]);
    try {
      const page = await context.newPage();
      await page.goto(`chrome-extension://${id}/browser/extension/devtools.html`);
      const hasPanelsApi = await page.evaluate(() => typeof chrome !== "undefined" && !!chrome.runtime && chrome.runtime.id);
      report("extension loads (--load-extension)", hasPanelsApi === id, { id, runtimeId: hasPanelsApi });
      await page.goto(`chrome-extension://${id}/browser/devtools/index.html`);
      await checkPageFlow(page, "extension panel page");
      await checkCrashTab(page, "extension panel page", { full: false });
      await page.close();
    } finally {
      await close();
      await rm(extDir, { recursive: true, force: true });
    }
  }
} finally {
  server.close();
}
const failed = results.filter((r) => !r.ok);
console.log(JSON.stringify({ summary: true, checks: results.length, failed: failed.length }));
process.exit(failed.length ? 1 : 0);
