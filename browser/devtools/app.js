// The devtools symbolication page: paste a trace, drop files, symbolicate in a worker.
// No inline scripts, no eval: runs under script-src 'self' 'wasm-unsafe-eval'.
import { PysymWorker } from "../worker-client.js";
import { parseJson } from "../json64.js";

const $ = (id) => document.getElementById(id);
const files = new Map(); // path relative to the dropped root -> File
const worker = new PysymWorker({ timeout: 30000 });

function setState(state, message, isError = false) {
  document.body.dataset.state = state;
  $("status").textContent = message;
  $("status").classList.toggle("error", isError);
}

function listFiles() {
  const ul = $("file-list");
  ul.replaceChildren();
  for (const [path, f] of [...files].sort()) {
    const li = document.createElement("li");
    li.textContent = `${path} (${f.size} bytes)`;
    ul.append(li);
  }
}

function stripRoot(paths) {
  // a dropped/chosen folder: make its top level the root of the file set
  const firsts = new Set(paths.map((p) => p.split("/")[0]));
  const allNested = paths.every((p) => p.includes("/"));
  return allNested && firsts.size === 1 ? (p) => p.slice(p.indexOf("/") + 1) : (p) => p;
}

function addFiles(entries) {
  const strip = stripRoot(entries.map(([p]) => p));
  for (const [path, file] of entries) files.set(strip(path), file);
  listFiles();
}

async function readEntry(entry, prefix, out) {
  if (entry.isFile) {
    const file = await new Promise((res, rej) => entry.file(res, rej));
    out.push([prefix + entry.name, file]);
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
      if (!batch.length) break;
      for (const e of batch) await readEntry(e, prefix + entry.name + "/", out);
    }
  }
}

async function onDrop(event) {
  event.preventDefault();
  $("drop").classList.remove("over");
  const out = [];
  const items = [...(event.dataTransfer.items || [])];
  const entries = items.map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
  if (entries.length && entries.every((e) => e)) {
    for (const e of entries) await readEntry(e, "", out);
  } else {
    for (const f of event.dataTransfer.files) out.push([f.name, f]);
  }
  if (mode === "crash") {
    const dumps = out.filter(([p]) => /\.(dmp|mdmp)$/i.test(p));
    if (dumps.length) {
      const dt = new DataTransfer();
      dt.items.add(dumps[0][1]);
      $("crash-dump").files = dt.files;
    }
    addCrashFiles(out.filter(([p]) => !/\.(dmp|mdmp)$/i.test(p)));
    return;
  }
  addFiles(out);
}

let mode = "js"; // the tab: "js", "native" or "crash"

// -- the Crash tab ----------------------------------------------------------------------

const crashFiles = new Map(); // symbol files: path relative to the dropped root -> File

function listCrashFiles() {
  const ul = $("crash-file-list");
  ul.replaceChildren();
  const paths = [...crashFiles.keys()].sort();
  for (const path of paths.slice(0, 200)) {
    const li = document.createElement("li");
    li.textContent = `${path} (${crashFiles.get(path).size} bytes)`;
    ul.append(li);
  }
  if (paths.length > 200) {
    const li = document.createElement("li");
    li.textContent = `… and ${paths.length - 200} more`;
    ul.append(li);
  }
}

function addCrashFiles(entries) {
  const strip = stripRoot(entries.map(([p]) => p));
  for (const [path, file] of entries) crashFiles.set(strip(path), file);
  listCrashFiles();
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = v;
    else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const basename = (p) => (p ? String(p).replaceAll("\\", "/").split("/").pop() : "");

function frameText(f) {
  const idx = el("span", { class: "idx", textContent: `#${f.original_index}` });
  const mod = basename(f.package);
  if (f.status === "symbolicated") {
    const where = f.filename ? ` [${f.filename} : ${f.lineno ?? "?"}]` : "";
    return [idx, `${mod ? mod + "!" : ""}`, el("span", { class: "fn", textContent: f.function || f.symbol || "??" }), where];
  }
  return [idx, `${f.instruction_addr ?? "?"} `, el("span", { class: "fn", textContent: `(${f.status})` }), mod ? ` ${mod}` : ""];
}

/** The dropped file a frame's abs_path names (the longest matching path suffix), or null. */
function sourceFile(absPath) {
  if (!absPath) return null;
  const parts = absPath.replaceAll("\\", "/").split("/").filter(Boolean);
  for (let k = 0; k < parts.length; k++) {
    const suffix = parts.slice(k).join("/");
    for (const [path, file] of crashFiles) if (path === suffix || path.endsWith("/" + suffix)) return file;
  }
  return null;
}

async function frameDetail(f, box) {
  const fields = ["instruction_addr", "status", "trust", "function", "raw_function", "sym_addr", "abs_path", "lineno", "colno", "package"];
  box.append(fields.filter((k) => f[k] !== undefined && f[k] !== null).map((k) => `${k}: ${f[k]}`).join("\n"));
  const file = f.lineno ? sourceFile(f.abs_path) : null;
  if (file && file.size < 10 << 20) {
    const lines = (await file.text()).split(/\r\n|\r|\n/);
    const i = f.lineno - 1;
    if (i < lines.length) {
      box.append("\n\n");
      for (let n = Math.max(0, i - 5); n <= Math.min(lines.length - 1, i + 5); n++) {
        const line = el("span", { textContent: `${String(n + 1).padStart(6)}  ${lines[n]}\n` });
        if (n === i) line.className = "current";
        box.append(line);
      }
    }
  } else if (f.lineno) {
    box.append("\n\n(no source context: add the source files to the symbol files to see it)");
  }
}

function renderThread(st, index, crashed) {
  const label = `Thread ${index}` + (st.thread_id !== undefined ? ` (id ${st.thread_id})` : "")
    + (st.thread_name ? ` "${st.thread_name}"` : "") + (crashed ? " — crashed" : "")
    + ` · ${new Set(st.frames.map((f) => f.original_index)).size} frames` + (st.walk_stopped ? ` · walk stopped: ${st.walk_stopped}` : "");
  const details = el("details", { class: "thread" + (crashed ? " crashed" : ""), open: crashed }, el("summary", { textContent: label }));
  const ol = el("ol", { class: "frames" });
  let last = -1;
  for (const f of st.frames) {
    const inlined = f.original_index === last;
    last = f.original_index;
    const li = el("li", { class: "frame" + (inlined ? " inlined" : "") + (f.status === "symbolicated" ? "" : " unresolved"), tabIndex: 0 },
      ...frameText(f), f.trust ? el("span", { class: "trust", textContent: inlined ? "inlined" : f.trust }) : inlined ? el("span", { class: "trust", textContent: "inlined" }) : null);
    const toggle = async () => {
      const next = li.nextElementSibling;
      if (next && next.classList.contains("frame-detail-row")) {
        next.remove();
        return;
      }
      // the row goes in at once, so a second click before the source file is read closes it
      const box = el("div", { class: "frame-detail" });
      li.after(el("li", { class: "frame-detail-row" }, box));
      await frameDetail(f, box);
    };
    li.addEventListener("click", toggle);
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(); });
    ol.append(li);
  }
  details.append(ol);
  return details;
}

function renderCrash(r) {
  const view = $("crash-view");
  view.replaceChildren();
  const dl = el("dl", { class: "summary" });
  const row = (k, v) => { if (v !== null && v !== undefined && v !== "") dl.append(el("dt", { textContent: k }), el("dd", { textContent: String(v) })); };
  if (r.system_info) {
    const si = r.system_info;
    row("System", [si.os_name, si.os_version, si.os_build].filter(Boolean).join(" "));
    row("CPU", si.cpu_arch);
  }
  if (r.crashed !== undefined) row("Crashed", r.crashed ? "yes" : "no");
  row("Crash reason", r.crash_reason);
  row("Crash address", r.crash_address);
  row("Assertion", r.assertion);
  const mods = r.modules || [];
  const found = mods.filter((m) => m.debug_status === "found").length;
  row("Modules", `${mods.length} (${found} with symbols)`);
  view.append(dl);
  const traces = (r.stacktraces || []).map((st, i) => [st, i]);
  const isCrashed = (st) => Boolean(st.is_requesting || st.crashed);
  traces.sort((a, b) => Number(isCrashed(b[0])) - Number(isCrashed(a[0])) || a[1] - b[1]);
  traces.forEach(([st, i], k) => view.append(renderThread(st, i, isCrashed(st) || (k === 0 && !traces.some(([t]) => isCrashed(t))))));
  if (mods.length) {
    const list = el("ol", { class: "frames" });
    for (const m of mods) {
      list.append(el("li", { textContent: `${m.image_addr} ${basename(m.code_file || m.debug_file) || "?"} ${m.debug_id || m.code_id || ""}`
        + ` debug: ${m.debug_status}${m.unwind_status ? `, unwind: ${m.unwind_status}` : ""}${m.debug_error ? ` (${m.debug_error})` : ""}` }));
    }
    view.append(el("details", { class: "thread modules" }, el("summary", { textContent: `Modules (${mods.length})` }), list));
  }
  if (r.warnings && r.warnings.length) view.append(el("p", { class: "warnings", textContent: `Warnings: ${r.warnings.join("; ")}` }));
}

function crashStores() {
  const stores = [];
  const layout = $("crash-layout").value;
  const casing = $("crash-casing").value;
  if (crashFiles.size) stores.push({ files: crashFiles, layout, casing, id: "dropped files" });
  const server = $("crash-server").value.trim();
  if (server) stores.push({ url: server, layout, casing, id: server });
  return stores;
}

function onProgress(e) {
  const bar = $("progress");
  bar.hidden = false;
  const what = { symcache: "Building the symcache of", cfi: "Reading the unwind info of", walk: "Walking the stacks" }[e.stage] || e.stage;
  if (e.stage === "symcache" && e.done < 1) bar.value = e.done;
  else bar.removeAttribute("value");
  $("status").textContent = `${what}${e.module ? " " + basename(e.module) : ""}${e.stage === "symcache" && e.done < 1 ? ` ${(100 * e.done).toFixed(0)}%` : ""}…`;
}

async function symbolicateCrash(text) {
  const dump = $("crash-dump").files[0];
  let request = null;
  if (!dump) {
    if (!text.trim()) {
      setState("ready", "Choose a minidump or paste a crash request (JSON) first.");
      return;
    }
    try {
      request = parseJson(text); // (addresses given as integers past 2**53 stay exact)
    } catch (e) {
      setState("error", `InvalidInputError: the pasted text is not JSON: ${e.message}`, true);
      return;
    }
  }
  setState("busy", "Processing…");
  $("output").hidden = true;
  $("crash-view").hidden = false;
  $("crash-view").replaceChildren();
  const started = performance.now();
  // a dump that runs away (or is made to) is stopped at the limit; the worker is replaced
  const limit = Number($("crash-timeout").value);
  const timeout = Number.isFinite(limit) && limit > 0 ? Math.min(limit, 3600) * 1000 : 30000;
  const options = { stores: crashStores(), cache: $("crash-cache").checked, onProgress, timeout };
  try {
    const { value, stats } = dump ? await worker.processMinidump(dump, options) : await worker.symbolicateCrash(request, options);
    renderCrash(value);
    const ms = (performance.now() - started).toFixed(0);
    const frames = (value.stacktraces || []).reduce((n, st) => n + st.frames.length, 0);
    setState("done", `${dump ? dump.name : "Request"}: ${(value.stacktraces || []).length} thread(s), ${frames} frame(s) in ${ms} ms`
      + ` (${stats.builds} symcache(s) built, ${stats.cacheHits} from the browser's cache, ${stats.memoryHits} kept from earlier,`
      + ` ${crashFiles.size} symbol file(s)).`);
  } catch (e) {
    setState("error", `${e.name}: ${e.message}`, true);
  } finally {
    $("progress").hidden = true;
  }
}

async function symbolicateNative(text) {
  const file = $("native-file").files[0];
  if (!file) {
    setState("ready", "Choose a symcache or a debug file first.");
    return;
  }
  setState("busy", "Symbolicating…");
  const started = performance.now();
  try {
    const { value, addresses, info } = await worker.symbolicateNative(text, file);
    $("output").textContent = value;
    const ms = (performance.now() - started).toFixed(0);
    setState("done", `${addresses} address(es) in ${ms} ms: ${info.kind} ${info.arch} ${info.debugId}`
      + (info.fromSymcache ? " (symcache)" : " (symcache built from the debug file)"));
  } catch (e) {
    setState("error", `${e.name}: ${e.message}`, true);
  }
}

async function symbolicate() {
  const text = $("trace").value;
  if (mode === "native") {
    await symbolicateNative(text);
    return;
  }
  if (mode === "crash") {
    await symbolicateCrash(text);
    return;
  }
  if (!text.trim()) {
    setState("ready", "Paste a stack trace first.");
    return;
  }
  const ctxValue = $("context").value;
  const context = ctxValue === "none" ? null : Number(ctxValue);
  setState("busy", "Symbolicating…");
  const started = performance.now();
  try {
    const { value, errors } = await worker.symbolicate(text, files, { context });
    $("output").textContent = value;
    const ms = (performance.now() - started).toFixed(0);
    const warn = errors.map((e) => `cannot use ${e.path}: ${e.message}`).join("; ");
    setState("done", `Symbolicated in ${ms} ms with ${files.size} file(s).${warn ? " Warning: " + warn : ""}`);
  } catch (e) {
    setState("error", `${e.name}: ${e.message}`, true);
  }
}

let TRACE_PLACEHOLDER = "";

function main() {
  TRACE_PLACEHOLDER = $("trace").placeholder;
  $("files").addEventListener("change", (e) => addFiles([...e.target.files].map((f) => [f.name, f])));
  $("folder").addEventListener("change", (e) => addFiles([...e.target.files].map((f) => [f.webkitRelativePath || f.name, f])));
  $("clear-files").addEventListener("click", () => { files.clear(); listFiles(); });
  $("symbolicate").addEventListener("click", symbolicate);
  const drop = document.documentElement;
  drop.addEventListener("dragover", (e) => { e.preventDefault(); $("drop").classList.add("over"); });
  drop.addEventListener("dragleave", () => $("drop").classList.remove("over"));
  drop.addEventListener("drop", onDrop);
  const placeholders = {
    native: "Paste addresses, e.g.\n#0 0x1139 in main\n0x1150",
    crash: "Choose a minidump on the left, or paste a native crash request (Symbolicator's /symbolicate JSON: modules and stacktraces)",
  };
  for (const tab of ["js", "native", "crash"]) {
    $(`tab-${tab}`).addEventListener("click", () => {
      mode = tab;
      for (const t of ["js", "native", "crash"]) {
        $(`tab-${t}`).classList.toggle("active", t === tab);
        $(`tab-${t}`).setAttribute("aria-selected", String(t === tab));
      }
      $("native").hidden = tab !== "native";
      $("crash").hidden = tab !== "crash";
      $("drop").hidden = tab !== "js";
      $("context").disabled = tab !== "js";
      $("output").hidden = tab === "crash";
      $("crash-view").hidden = tab !== "crash";
      $("trace").placeholder = placeholders[tab] || TRACE_PLACEHOLDER;
    });
  }
  $("crash-symbols").addEventListener("change", (e) => addCrashFiles([...e.target.files].map((f) => [f.name, f])));
  $("crash-symbols-folder").addEventListener("change", (e) => addCrashFiles([...e.target.files].map((f) => [f.webkitRelativePath || f.name, f])));
  $("crash-clear-files").addEventListener("click", () => { crashFiles.clear(); listCrashFiles(); });
  $("crash-clear-cache").addEventListener("click", async () => {
    try {
      const u = await worker.symcacheCache({ clear: true });
      setState(document.body.dataset.state === "error" ? "ready" : document.body.dataset.state,
        u.available ? "The browser's symcache cache is empty." : "IndexedDB is not available here.");
    } catch (e) {
      setState("error", `${e.name}: ${e.message}`, true);
    }
  });
  // start the worker now, so the first click is fast and a broken setup shows at once
  worker.call({ op: "init" }).then(
    () => setState("ready", "Ready. Paste a trace, add the .js and .map files, press Symbolicate."),
    (e) => setState("error", `Cannot start pysym: ${e.name}: ${e.message}`, true),
  );
}

main();
