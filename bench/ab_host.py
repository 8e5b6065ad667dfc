#!/usr/bin/env python3
"""Peak RSS and start-up of two checkouts' host code, with bench_native.py's own children.

    python bench/ab_host.py --before DIR [--after DIR] [--engine wasmtime] [--files a,b] [--repeat 3]

A program for optimising the host (what ``import pysym`` and starting the engine cost),
not a test. ``--before`` is another checkout of pysym (e.g. ``git archive main | tar -x -C
DIR``), ``--after`` this one by default. For each checkout, in fresh processes started
by that checkout's ``bench/bench_native.py`` (same wrapper, same ``ru_maxrss``): the
baseline child (``import pysym`` + engine + instance) and one build child per file and
round, the checkouts taking turns; symbolic's baseline and build children once per round
for the ratio. Every checkout gets its own compiled-module and bytecode caches, filled
before anything is measured. Prints MB to 0.1 (bench_native.py rounds to 1 MB) and the
median ``start s`` (engine start-up inside the build child).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parent.parent
FILES = ["/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1",
         "/usr/lib/debug/.build-id/10/b95e5dc3f172ed1bf7b05cfe25ffaa434d4bf5.debug"]
START = "import pysym; from pysym._host import get_runtime; get_runtime().current(); print('{}')"


def _bench(tree: str, n: int) -> Any:
    spec = importlib.util.spec_from_file_location("bench_native_%d" % n, os.path.join(tree, "bench", "bench_native.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", required=True, help="another checkout of pysym")
    ap.add_argument("--after", default=str(ROOT), help="default: this checkout")
    ap.add_argument("--engine", default="wasmtime")
    ap.add_argument("--files", default=",".join(FILES))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    trees = [os.path.abspath(args.before), os.path.abspath(args.after)]
    files = [f for f in args.files.split(",") if f]

    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # a child's "-c" puts its cwd first on sys.path: not a checkout's
        benches = [_bench(t, i) for i, t in enumerate(trees)]
        envs: List[Dict[str, str]] = []
        for i, (tree, bench) in enumerate(zip(trees, benches)):
            env = dict(os.environ, PYTHONPATH=tree, PYSYM_ENGINE=args.engine)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            for var in ("PYSYM_CACHE_DIR", "PYTHONPYCACHEPREFIX"):
                env[var] = os.path.join(scratch, "%s-%d" % (var, i))
                os.mkdir(env[var], 0o700)
            bench.measure([sys.executable, "-c", START], env)  # compiles the module into the cache
            bench.measure(bench.child_cmd("none", "none", "", ""), env)  # the bench's own bytecode
            envs.append(env)
        sym_env = dict(envs[0])
        sym_env.pop("PYSYM_ENGINE")
        ref = benches[0]
        sym_start = [sys.executable, "-c", "from symbolic.debuginfo import Archive; print('{}')"]
        ref.measure([sys.executable, "-c", "import symbolic.debuginfo, symbolic.symcache; print('{}')"], sym_env)

        base: List[List[float]] = [[], []]
        sym_base: List[float] = []
        for _ in range(args.repeat):
            sym_base.append(ref.measure(sym_start, sym_env)["rss_mb"])
            for i, bench in enumerate(benches):
                base[i].append(bench.measure([sys.executable, "-c", START], envs[i])["rss_mb"])
        print("load average %s; engine %s" % (" ".join("%.2f" % x for x in os.getloadavg()), args.engine))
        print("baseline child (import + engine + instance), peak RSS MB: symbolic %s" % _mbs(sym_base))
        for tree, b in zip(trees, base):
            print("  %-40s %s" % (tree, _mbs(b)))
        out = os.path.join(scratch, "out.symc")
        for path in files:
            sym: List[float] = []
            rss: List[List[float]] = [[], []]
            starts: List[List[float]] = [[], []]
            for _ in range(args.repeat):
                sym.append(ref.measure(ref.child_cmd("symbolic", "build", path, out), sym_env)["rss_mb"])
                for i, bench in enumerate(benches):
                    r = bench.measure(bench.child_cmd("pysym", "build", path, out), envs[i])
                    rss[i].append(r["rss_mb"])
                    starts[i].append(r["start"])
            print("%s: symbolic build child %.1f MB %s" % (path, max(sym), _mbs(sym)))
            for i, tree in enumerate(trees):
                print("  %-40s %.1f MB = %.3fx symbolic's  %s  start s median %.4f"
                      % (tree, max(rss[i]), max(rss[i]) / max(sym), _mbs(rss[i]), statistics.median(starts[i])))


def _mbs(values: List[float]) -> str:
    return "[%s]" % ", ".join("%.1f" % v for v in values)


if __name__ == "__main__":
    main()
