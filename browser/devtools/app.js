// The devtools symbolication page: paste a trace, drop files, symbolicate in a worker.
// No inline scripts, no eval: runs under script-src 'self' 'wasm-unsafe-eval'.
import { PysymWorker } from "../worker-client.js";

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
  addFiles(out);
}

let nativeMode = false;

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
  if (nativeMode) {
    await symbolicateNative(text);
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
  for (const [tab, native] of [["tab-js", false], ["tab-native", true]]) {
    $(tab).addEventListener("click", () => {
      nativeMode = native;
      $("tab-js").classList.toggle("active", !native);
      $("tab-native").classList.toggle("active", native);
      $("tab-js").setAttribute("aria-selected", String(!native));
      $("tab-native").setAttribute("aria-selected", String(native));
      $("native").hidden = !native;
      $("drop").hidden = native;
      $("context").disabled = native;
      $("trace").placeholder = native ? "Paste addresses, e.g.\n#0 0x1139 in main\n0x1150" : TRACE_PLACEHOLDER;
    });
  }
  // start the worker now, so the first click is fast and a broken setup shows at once
  worker.call({ op: "init" }).then(
    () => setState("ready", "Ready. Paste a trace, add the .js and .map files, press Symbolicate."),
    (e) => setState("error", `Cannot start pysym: ${e.name}: ${e.message}`, true),
  );
}

main();
