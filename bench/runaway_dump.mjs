// How long the slowest hostile minidump found takes to process (tests/browser/lib/
// pathological.mjs hostileDump: threads sharing one context and a frame-pointer stack at
// the walker's limits), in Node and in Python, one run per size: the figures behind the
// worker time limits of the browser tests.
//   node bench/runaway_dump.mjs [--python PYTHON] [--threads 1,1024,16384,65536]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as P from "../browser/index.js";
import { hostileDump } from "../tests/browser/lib/pathological.mjs";

const ROOT = new URL("../", import.meta.url).pathname;
const { values: opts } = parseArgs({ options: {
  python: { type: "string", default: process.env.PYSYM_PYTHON || "python3" },
  threads: { type: "string", default: "1,1024,16384,65536" },
} });

const PY = `import sys, time, pysym
d = open(sys.argv[1], "rb").read()
t = time.perf_counter(); r = pysym.Symbolicator([]).process_minidump(d)
print(round(1000 * (time.perf_counter() - t)), sum(len(s["frames"]) for s in r["stacktraces"]))`;

await P.init();
const dir = mkdtempSync(join(tmpdir(), "pysym-runaway-"));
try {
  console.log("threads   bytes   frames   node ms   python ms   node/python");
  for (const threads of opts.threads.split(",").map(Number)) {
    const dump = hostileDump({ threads });
    const t = performance.now();
    const r = await new P.Symbolicator([]).processMinidump(dump);
    const ms = performance.now() - t;
    const frames = r.stacktraces.reduce((n, s) => n + s.frames.length, 0);
    const path = join(dir, `${threads}.dmp`);
    writeFileSync(path, dump);
    const py = spawnSync(opts.python, ["-c", PY, path], { env: { ...process.env, PYTHONPATH: ROOT }, encoding: "utf8" });
    const pyMs = py.status === 0 ? Number(py.stdout.trim().split(" ")[0]) : NaN;
    console.log(`${String(threads).padStart(7)} ${String(dump.length).padStart(8)} ${String(frames).padStart(8)} ${ms.toFixed(0).padStart(9)}`
      + ` ${Number.isNaN(pyMs) ? "failed".padStart(11) : String(pyMs).padStart(11)} ${Number.isNaN(pyMs) ? "-" : (ms / pyMs).toFixed(2) + "x"}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
