#!/usr/bin/env python3
"""Instructions a cold lookup batch executes in the module: wasmtime fuel of the
``pysym_symcache_locations_at`` call that decodes a fresh symcache's batch.

    python bench/fuel_lookup.py CACHE.symc ADDRS.txt [--wasm MODULE]

``ADDRS.txt``: hex addresses relative to the image base, one per line (what
bench/bench_native.py samples). A program for optimising the module's side of
``LookupResults`` (decoding locations, demangling names), not a test: fuel does not depend
on machine load the way CPU time does, so two modules can be compared on a busy machine
(see bench/fuel_build.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuel_build  # noqa: E402

import pysym  # noqa: E402
from pysym import _host  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cache")
    ap.add_argument("addrs")
    ap.add_argument("--wasm", help="a module other than pysym/_wasm/pysym.wasm")
    args = ap.parse_args()
    if args.wasm:
        _host._WASM_PATH = args.wasm
    _armed, used = fuel_build.fuel_meter()
    rt = fuel_build.fuel_runtime()
    with open(args.addrs) as f:
        addrs = [int(x, 16) for x in f.read().split()]
    fuel = fuel_build.fuel_per_export(rt, used)
    cache = pysym.SymCache.from_path(args.cache, runtime=rt)
    results = cache.lookup_many(addrs)
    fuel.clear()
    frames = sum(map(len, results))  # decodes the batch: one locations_at call
    print("%s: %d addresses, %d frames, locations_at fuel %.1f M"
          % (args.cache, len(addrs), frames, fuel.get("pysym_symcache_locations_at", 0) / 1e6))


if __name__ == "__main__":
    main()
