"""Where a warm crash request's CPU time goes: bench_crash.py's request (8 x 64 frames over
10 modules), its symcaches on disk, a new process per measurement; the CPU time
(``time.process_time``) of each phase of pysym's first request, median over ``--runs``
processes, beside symbolic's (the reference of bench_crash.py: opening its archives and
symcaches, then the lookups).

    python bench/crash_phases.py [--runs 5] [--engine wasmtime]

Phases are timed by wrapping the functions that do them; a phase's time excludes the
wrapped phases it calls ("request" is the rest of ``symbolicate``: decoding the frames
of the answers, making the response's frames). A program for finding what to cut, not a
test; the wrapping adds a little to each phase.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

ROOT = Path(__file__).resolve().parent.parent

# (module, owner attribute path, function, phase)
_PHASES = [
    ("pysym._symbolicate._symbolicator", "Symbolicator", "plan", "plan the request"),
    ("pysym._symbolicate._symbolicator", "Symbolicator", "_find", "find files (stores, memos)"),
    ("pysym._symbolicate._cache", "DiskCache", "get_or_build", "disk cache look-up"),
    ("pysym._symbolicate._cache", "", "symcache_version", "symcache format version"),
    ("pysym._symbolicate._cache", "DiskCache", "read_entry", "read the entry file"),
    ("pysym._host", "Runtime", "put_input", "copy into wasm memory"),
    ("pysym._native", "SymCache", "_read_entry", "read the entry into wasm memory"),
    ("pysym._native", "SymCache", "_load", "load in the module (checks)"),
    ("pysym._native", "SymCache", "_read_info", "symcache identity"),
    ("pysym._symbolicate._symbolicator", "", "lookup_items", "batch look-ups"),
    ("pysym._symbolicate._symbolicator", "", "layout", "lay out the response"),
    ("pysym._symbolicate._symbolicator", "Symbolicator", "symbolicate", "request (the rest)"),
]


def _pysym_phases(spec: Dict[str, Any], cache: str) -> Dict[str, float]:
    sys.path.insert(0, str(ROOT))
    import importlib

    from pysym._host import get_runtime

    acc: Dict[str, float] = collections.Counter()
    stack: List[float] = []

    def wrap(fn: Callable[..., Any], phase: str) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*a: Any, **k: Any) -> Any:
            t = time.process_time()
            stack.append(0.0)
            try:
                return fn(*a, **k)
            finally:
                dt = time.process_time() - t
                inner = stack.pop()
                acc[phase] += dt - inner
                if stack:
                    stack[-1] += dt
        return timed

    for mod_name, owner_name, fn_name, phase in _PHASES:
        owner: Any = importlib.import_module(mod_name)
        if owner_name:
            owner = getattr(owner, owner_name)
        setattr(owner, fn_name, wrap(getattr(owner, fn_name), phase))
    import pysym

    get_runtime().current()  # the engine is ready before timing, as in bench_crash
    sym = pysym.Symbolicator(spec["stores"], cache_dir=cache)
    t = time.process_time()
    sym.symbolicate(spec["request"])
    out = {k: v * 1e3 for k, v in acc.items()}
    out["TOTAL"] = (time.process_time() - t) * 1e3
    return out


def _symbolic_phases(spec: Dict[str, Any], cache: str) -> Dict[str, float]:
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_crash
    from symbolic.debuginfo import Archive
    from symbolic.symcache import SymCache

    acc: Dict[str, float] = collections.Counter()

    def timed(fn: Callable[..., Any], phase: str) -> Callable[..., Any]:
        def call(*a: Any, **k: Any) -> Any:
            t = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                acc[phase] += time.process_time() - t
        return call

    open_archive, open_symcache, lookup = Archive.open, SymCache.open, SymCache.lookup
    Archive.open = staticmethod(timed(open_archive, "open archives"))  # type: ignore[method-assign]
    SymCache.open = staticmethod(timed(open_symcache, "open symcaches"))  # type: ignore[method-assign]
    SymCache.lookup = timed(lookup, "look-ups")  # type: ignore[method-assign]
    total: List[float] = []

    def first_request_only(request: Callable[[], Any], _repeat: int) -> Any:
        t = time.process_time()
        request()
        total.append(time.process_time() - t)
        return None, {}

    bench_crash._timed = first_request_only
    bench_crash._symbolic_worker(spec, cache, 0)
    out = {k: v * 1e3 for k, v in acc.items()}
    out["TOTAL"] = total[0] * 1e3
    return out


def _run(tool: str, engine: str, spec: str, cache: str) -> Dict[str, float]:
    env = dict(os.environ)
    if engine:
        env["PYSYM_ENGINE"] = engine
    p = subprocess.run([sys.executable, __file__, "--worker", tool, spec, cache], env=env,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s %s failed:\n%s" % (tool, engine, p.stderr[-2000:]))
    return json.loads(p.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        tool, spec_path, cache = sys.argv[2:]
        with open(spec_path) as f:
            spec = json.load(f)
        fn = _pysym_phases if tool == "pysym" else _symbolic_phases
        print(json.dumps(fn(spec, cache)))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="warm processes per tool (median; default 5)")
    ap.add_argument("--engine", action="append", help="pysym engine (repeatable; default: every installed one)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_crash

    from pysym._engine import available_engines

    work = Path(tempfile.mkdtemp(prefix="pysym-crash-phases-"))
    try:
        spec = bench_crash.prepare(work)
        spec_path = work / "spec.json"
        spec_path.write_text(json.dumps(spec))
        print("load average at start: %.1f %.1f %.1f" % os.getloadavg())
        tools = [("pysym", e) for e in (args.engine or available_engines())]
        try:
            import symbolic  # noqa: F401

            tools.append(("symbolic", ""))
        except ImportError:
            print("symbolic is not installed: no reference column (pip install symbolic)")
        for tool, engine in tools:
            cache = str(work / ("cache-%s-%s" % (tool, engine)))
            _run(tool, engine, str(spec_path), cache)  # cold: fills the cache
            runs = [_run(tool, engine, str(spec_path), cache) for _ in range(args.runs)]
            print("\n%s%s: CPU ms of the first request of a new process (median of %d)" % (
                tool, "/" + engine if engine else "", len(runs)))
            phases = sorted({k for r in runs for k in r if k != "TOTAL"},
                            key=lambda k: -statistics.median(r.get(k, 0.0) for r in runs))
            for k in phases + ["TOTAL"]:
                print("  %-30s %8.2f" % (k, statistics.median(r.get(k, 0.0) for r in runs)))
        print("\nload average at end: %.1f %.1f %.1f" % os.getloadavg())
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
