#!/usr/bin/env python3
"""The Python figures for bench/bench_browser.mjs's minidump row: the same dumps, the same
Breakpad symbols, the same cold/warm protocol as bench/browser_bench_minidump.mjs
(``Symbolicator.process_minidump``, no disk cache). Prints one JSON list.

    python bench/minidump_python_rows.py [--repeat 5] [--cold 2]
"""

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pysym import FilesystemStore, Symbolicator  # noqa: E402

DATA = os.path.join(ROOT, "tests", "data", "minidump")
DUMPS = ["test.dmp", "pipeline-inlines-macos-segv.dmp", "linux-mini.dmp", "simple-crashpad.dmp"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cold", type=int, default=2)
    args = ap.parse_args()
    store = FilesystemStore(os.path.join(DATA, "symbols"))
    rows = []
    for name in DUMPS:
        with open(os.path.join(DATA, name), "rb") as f:
            data = f.read()
        colds = []
        frames = 0
        for _ in range(args.cold):
            t = time.perf_counter()
            r = Symbolicator([store]).process_minidump(data)
            colds.append((time.perf_counter() - t) * 1000)
            frames = sum(len(st["frames"]) for st in r["stacktraces"])
        sym = Symbolicator([store])
        sym.process_minidump(data)
        warms = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            sym.process_minidump(data)
            warms.append((time.perf_counter() - t) * 1000)
        rows.append({"dump": name, "frames": frames, "coldMs": statistics.median(colds),
                     "warmMs": statistics.median(warms)})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
