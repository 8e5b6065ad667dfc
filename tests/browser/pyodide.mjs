// pysym (the Python package, from its built wheel) inside Pyodide in Node, on the
// "pyodide" engine adapter (pysym/_engine/_pyodide.py, the JS WebAssembly API):
//
//   node tests/browser/pyodide.mjs --wheel dist/pysym-*.whl [--golden DIR]
//
// Runs the source-map checks of tools/smoke.py there, and the CLI's symbolicate-js
// in-process (compared with the golden text of the Python side when --golden is given);
// with --golden, also symcache build/lookup of the golden C program.
// Prints one JSON object per check and exits 1 if any failed.
import { loadPyodide } from "pyodide";
import { readFile, readdir } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("../../", import.meta.url)));
const { values: opts } = parseArgs({ options: { wheel: { type: "string" }, golden: { type: "string" } } });
if (!opts.wheel) {
  console.error("usage: node tests/browser/pyodide.mjs --wheel WHEEL [--golden DIR]");
  process.exit(2);
}

const results = [];
const report = (check, ok, detail = "") => {
  results.push({ check, ok });
  console.log(JSON.stringify({ check, ok: Boolean(ok), detail }));
};

const py = await loadPyodide({ stdout: () => {}, stderr: () => {} });
report("pyodide starts", true, py.version);
py.FS.mkdirTree("/work/examples");
for (const name of await readdir(join(ROOT, "examples"))) {
  if (/\.(js|map|txt)$/.test(name)) py.FS.writeFile(`/work/examples/${name}`, await readFile(join(ROOT, "examples", name)));
}
py.FS.writeFile("/work/smoke.py", await readFile(join(ROOT, "tools/smoke.py")));
const wheelName = basename(opts.wheel);
py.FS.writeFile(`/work/${wheelName}`, await readFile(opts.wheel));

const out = py.runPython(`
import io, json, site, sys, zipfile, contextlib
zipfile.ZipFile("/work/${wheelName}").extractall(site.getsitepackages()[0])
sys.path.insert(0, "/work")
import smoke
import pysym
from pysym._engine import available_engines
checks = []
checks.append(["installed from the wheel", pysym.__file__.startswith(site.getsitepackages()[0]), pysym.__file__])
checks.append(["engines available in Pyodide", available_engines() == ["pyodide"], available_engines()])
smoke.check_engine("pyodide")
smoke.check_sourcemap("/work/examples")
smoke.check_errors("/work/examples")
for name, ok, seconds, detail in smoke.RESULTS:
    checks.append(["smoke: " + name, ok, detail])
from pysym._cli import main
texts = {}
for trace in ("trace.txt", "trace-firefox.txt"):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(["symbolicate-js", "--maps", "/work/examples", "/work/examples/" + trace])
    texts[trace] = [status, buf.getvalue()]
json.dumps({"checks": checks, "texts": texts})
`);
const { checks, texts } = JSON.parse(out);
for (const [check, ok, detail] of checks) report(`pyodide: ${check}`, ok, detail);
for (const [trace, [status, text]] of Object.entries(texts)) {
  if (opts.golden) {
    const want = await readFile(join(opts.golden, "cli", `${trace}.default.txt`), "utf8");
    report(`pyodide: symbolicate-js ${trace} identical to CPython's`, status === 0 && text === want, text === want ? "" : { text, want });
  } else {
    report(`pyodide: symbolicate-js ${trace}`, status === 0 && text.includes("pricing.js:9:18"), text);
  }
}
// native: build a symcache from the golden C program inside Pyodide, look up, compare
if (opts.golden) {
  const index = JSON.parse(await readFile(join(opts.golden, "index.json"), "utf8"));
  if (index.native && !index.native.skipped) {
    py.FS.writeFile("/work/prog", await readFile(join(opts.golden, index.native.exe)));
    py.globals.set("native_addrs", py.toPy(index.native.addrs));
    const r = JSON.parse(py.runPython(`
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    s1 = main(["symcache", "build", "/work/prog", "-o", "/work/prog.symc"])
out = io.StringIO()
with contextlib.redirect_stdout(out):
    s2 = main(["symcache", "lookup", "/work/prog.symc"] + list(native_addrs))
json.dumps({"status": [s1, s2], "lookup": out.getvalue(), "symcache": open("/work/prog.symc", "rb").read().hex()})
`));
    const want = await readFile(join(opts.golden, index.native.lookup), "utf8");
    const wantBytes = (await readFile(join(opts.golden, index.native.symcache))).toString("hex");
    report("pyodide: symcache build gives CPython's bytes", r.status[0] === 0 && r.symcache === wantBytes);
    report("pyodide: symcache lookup identical to CPython's", r.status[1] === 0 && r.lookup === want,
      r.lookup === want ? "" : r.lookup.slice(0, 300));
  }
}
const failed = results.filter((r) => !r.ok).length;
console.log(JSON.stringify({ summary: true, checks: results.length, failed }));
process.exit(failed ? 1 : 0);
