#!/usr/bin/env python3
"""CPU of symcache builds by two modules, taking turns in one process: an A/B for a busy machine.

    python bench/ab_build.py FILE --old OLD.wasm [--new NEW.wasm] [--engine wasmtime] [--rounds 10]

A program for optimising builds, not a test. Both modules are compiled and instantiated
first, each in its own runtime with pysym's default limits (so wasmtime runs code that
counts fuel, as a default build does; ``--no-fuel`` for code that does not), then built
from ``FILE`` in turns (old, new, then new, old, ...), so that a change of load on the
machine hits both alike. Prints the median and the least CPU time (user + system of the
process) per build of each. ``--new`` defaults to the committed module.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pysym  # noqa: E402
from pysym import _host  # noqa: E402


def runtime(wasm: str, engine: str, fuel: bool) -> _host.Runtime:
    """A runtime on its own compile of `wasm` (runtimes share compiled modules by engine)."""
    _host._WASM_PATH = wasm
    _host._compiled.clear()
    limits = pysym.Limits(timeout=None) if fuel else pysym.Limits(timeout=None, fuel_base=None)
    rt = _host.Runtime(engine=engine, limits=limits)
    rt.current()
    return rt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--old", required=True, help="the module to compare against")
    ap.add_argument("--new", default=_host._WASM_PATH, help="default: the committed module")
    ap.add_argument("--engine", default="wasmtime")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--no-fuel", action="store_true", help="limits without fuel (wasmtime)")
    args = ap.parse_args()
    committed = _host._WASM_PATH
    try:
        rts = {k: runtime(p, args.engine, not args.no_fuel) for k, p in (("old", args.old), ("new", args.new))}
    finally:
        _host._WASM_PATH = committed
        _host._compiled.clear()
    cpu: Dict[str, List[float]] = {"old": [], "new": []}
    for rt in rts.values():
        pysym.SymCache.from_object(args.file, runtime=rt)  # first touch of memory, page cache
    for i in range(args.rounds):
        for k in ("old", "new") if i % 2 == 0 else ("new", "old"):
            c0 = time.process_time()
            pysym.SymCache.from_object(args.file, runtime=rts[k])
            cpu[k].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in cpu.items()}
    low = {k: min(v) for k, v in cpu.items()}
    print("%s, %s%s, %d rounds: CPU s per build median old %.3f new %.3f (%+.1f%%), least old %.3f new %.3f (%+.1f%%); "
          "load %.2f %.2f %.2f" % (
              os.path.basename(args.file), args.engine, " (no fuel)" if args.no_fuel else "", args.rounds,
              med["old"], med["new"], 100 * (med["new"] / med["old"] - 1),
              low["old"], low["new"], 100 * (low["new"] / low["old"] - 1), *os.getloadavg()))


if __name__ == "__main__":
    main()
