#!/usr/bin/env python3
"""Instructions a symcache build executes in the module: wasmtime fuel of one build.

    python bench/fuel_build.py FILE [--wasm MODULE] [--out OUT.symc]

A program for optimising builds, not a test. Fuel (about one unit per wasm instruction)
does not depend on machine load the way wall time does, so two modules can be compared on
a busy machine: run it with the committed module and with ``--wasm`` pointing at another
build of ``wasm/`` (e.g. ``wasm/target/wasm32-unknown-unknown/release/pysym_abi.wasm``).

Prints the fuel in total and per phase of the progress reports: for DWARF, pass 1 (line
programs, 2/7 of the reported progress), pass 2 (the DIE walk per unit, up to 6/7), and the
rest (writing the symcache).
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pysym  # noqa: E402
from pysym import _host  # noqa: E402
from pysym._engine import _wasmtime  # noqa: E402

BUDGET = 1 << 60  # never runs out: only the count matters


def fuel_meter() -> Tuple[Dict[str, Any], Callable[[], int]]:
    """Wraps the wasmtime adapter's arming: ``(armed, used)``, ``armed`` the context of
    the last armed call and the fuel it was given, ``used()`` the fuel that call has used
    so far (also bench/fuel_sourcemap.py's counter)."""
    armed: Dict[str, Any] = {}
    arm = _wasmtime._arm

    def arm_and_keep(ctx: Any, fuel: Optional[int], timeout: Optional[float], counts_fuel: bool = True) -> None:
        arm(ctx, fuel, timeout, counts_fuel)
        armed["ctx"], armed["fuel"] = ctx, fuel

    _wasmtime._arm = arm_and_keep

    def used() -> int:
        left = ctypes.c_uint64()
        _wasmtime._lib.wasmtime_context_get_fuel(armed["ctx"], ctypes.byref(left))
        return int(armed["fuel"]) - left.value
    return armed, used


def fuel_runtime() -> _host.Runtime:
    """A wasmtime runtime whose calls never run out of fuel, compiled and instantiated."""
    rt = _host.Runtime(engine="wasmtime", limits=pysym.Limits(fuel_base=BUDGET, fuel_per_byte=0, timeout=None))
    rt.current()  # compile and instantiate before counting
    return rt


def fuel_per_export(rt: _host.Runtime, used: Callable[[], int]) -> Dict[str, int]:
    """Counts the fuel of ``rt``'s calls (``used`` from :func:`fuel_meter`): the dict
    returned sums it per export name (clear it before the calls to measure)."""
    fuel: Dict[str, int] = {}
    call = rt.call

    def counted_call(name: str, *a: int) -> Any:
        try:
            return call(name, *a)
        finally:
            fuel[name] = fuel.get(name, 0) + used()

    rt.call = counted_call  # type: ignore[method-assign]
    return fuel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--wasm", help="a module other than pysym/_wasm/pysym.wasm")
    ap.add_argument("--out", help="write the symcache here (to compare outputs)")
    args = ap.parse_args()
    if args.wasm:
        _host._WASM_PATH = args.wasm

    armed, used = fuel_meter()

    marks: List[Tuple[float, int]] = []

    def progress(frac: float) -> None:
        if "ctx" in armed:
            marks.append((frac, used()))

    rt = fuel_runtime()
    total = fuel_per_export(rt, used)
    t0 = time.perf_counter()
    cache = pysym.SymCache.from_object(args.file, runtime=rt, progress=progress)
    wall = time.perf_counter() - t0
    fuel = total["pysym_symcache_build"]

    def at(x: float) -> int:
        return max([f for p, f in marks if p <= x] or [0])

    p1, p2 = at(2 / 7 - 1e-9), at(6 / 7 - 1e-9)
    print("%s: fuel %.3f G (pass 1 %.2f G, pass 2 %.2f G, rest %.2f G), %.2f s wall, symcache %d bytes"
          % (args.file, fuel / 1e9, p1 / 1e9, (p2 - p1) / 1e9, (fuel - p2) / 1e9, wall, len(cache.to_bytes())))
    if args.out:
        cache.write(args.out)


if __name__ == "__main__":
    main()
