#!/usr/bin/env python3
"""Source map cache benchmark: what loading a ``pysym.SourceMapCache`` costs beside parsing
the map (``pysym.SourceMap``) and symbolic's parse, on every installed engine.

    python bench/bench_smcache.py [--maps babylon,jquery,rxjs,index] [--repeat 5]
    python bench/bench_smcache.py --maps babylon,babylon+metro,rxjs,rxjs+metro

``KEY+metro``: the same map with Metro's ``x_facebook_sources`` function maps added by
Metro's own generateFunctionMap over its ``sourcesContent`` (bench/metro_function_maps.mjs,
node and tests/reference needed): the cache's size and load with function maps beside
the same map without.

A program, not a test (numbers are noisy on a loaded machine; nothing is asserted).
Per map and engine: the JSON parse of the map (full decode), the cache build (parse +
scopes of the minified file + serialization, once), the cache's size, the cache load
(one crossing: the header page checked, the rest read by pages when a call needs it; the goal is
<= 1 ms for babylon.js's map), the load from a path (the same, pages read from the file),
the load plus one lookup (the pages a first lookup reads), one memcpy of the cache's size
(the floor of a load that would copy the bytes once),
25,000 lookups on the loaded cache and on the same bytes copied into the module
(``pysym_smcache_from_bytes``, the browser's way: the baseline of the paged lookups), and
symbolic 13.9.0's ``SourceMapView`` parse and
``SourceMapCache`` build (symbolic's Python binding cannot load a serialized cache).
The maps are the npm maps of tests/reference (``realmaps``), as bench_sourcemap.py.
Columns marked "cpu" are this process's CPU time (``time.process_time``), the fairer
figure on a loaded machine; the others are wall-clock.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "reference"))
sys.path.insert(0, str(ROOT))
import realmaps  # noqa: E402
from bench_sourcemap import best_of  # noqa: E402  (the same timing as the source-map bench)

N_LOOKUPS = 25_000


def cpu_per_call(fn: Callable[[], Any], calls: int, repeat: int) -> float:
    """CPU seconds per call of ``fn``: the best of ``repeat`` runs of ``calls`` calls."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            t0 = time.process_time()
            for _ in range(calls):
                fn()
            best = min(best, (time.process_time() - t0) / calls)
        finally:
            gc.enable()
    return best


def in_memory(blob: bytes) -> Any:
    """A ``SourceMapCache`` whose bytes are copied into the module (pysym_smcache_from_bytes,
    as the browser host opens caches): what the paged cache's lookups are compared with."""
    import pysym
    from pysym import _wire

    class InMemory(pysym.SourceMapCache):
        def _load(self) -> int:
            rt = self._rt
            live = rt.current()
            ptr = rt.put_input(blob)
            rt.check(rt.call("pysym_smcache_from_bytes", ptr, len(blob), live.out_slot))
            handle = live.instance.read_u32(live.out_slot, 1)[0]
            self._handles[live.serial] = handle
            rt.check(rt.call("pysym_smcache_info", handle, live.out_slot))
            info = live.instance.read_u32(live.out_slot, _wire.SMCACHE_INFO_WORDS)
            rt.check(rt.call("pysym_smcache_strings", handle, 2, live.out_slot))
            self._take_info((handle,) + info, rt.string_table(rt.result_bytes()))
            return handle

    return InMemory(blob)


def fmt(s: float) -> str:
    return "%.2f s" % s if s >= 1 else "%.1f ms" % (s * 1e3) if s >= 1e-3 else "%.0f us" % (s * 1e6)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--maps", default="babylon,jquery,rxjs,index")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    gone = realmaps.missing_files()
    if gone:
        print("missing %s; run %s" % (gone[0], realmaps.INSTALL_COMMAND), file=sys.stderr)
        return 2
    import pysym
    from pysym import _host
    from pysym._engine import available_engines

    print("load average: %.2f on %d cores (noisy above ~0.5 per core)" % (os.getloadavg()[0], os.cpu_count() or 0))
    head = ("map", "engine", "parse", "build", "cache MB", "load", "load cpu", "load path", "path cpu",
            "load+lookup", "memcpy", "load/parse", "25k lookups", "25k cpu", "25k mem cpu", "paged/mem", "sym parse",
            "sym cache build")
    print("  ".join("%-14s" % h for h in head))
    with tempfile.TemporaryDirectory() as td:
        for key in args.maps.split(","):
            if key == "index":
                data, _, segs = realmaps.build_index_map()
                map_bytes = json.dumps(data).encode()
                js = None
            else:
                m = realmaps.BY_KEY[key.split("+")[0]]
                map_path = m.map_path
                if key.endswith("+metro"):
                    map_path = Path(td) / ("%s.metro.map" % key)
                    node = shutil.which("node")
                    if node is None:
                        print("node is needed for %s" % key, file=sys.stderr)
                        return 2
                    subprocess.run([node, "--max-old-space-size=3000", str(ROOT / "bench" / "metro_function_maps.mjs"),
                                    str(m.map_path), str(map_path)], check=True)
                map_bytes = map_path.read_bytes()
                js = m.js_path.read_bytes()
                segs = realmaps.segment_positions(json.loads(map_bytes)["mappings"])
            step = max(1, len(segs) // N_LOOKUPS)
            pos = segs[::step][:N_LOOKUPS]
            lines = [p[0] for p in pos]
            cols = [p[1] + 1 for p in pos]
            sym: Dict[str, float] = {}
            try:
                from symbolic.sourcemap import SourceMapView
                from symbolic.sourcemapcache import SourceMapCache as SymbolicCache

                sym["parse"] = best_of(lambda mb=map_bytes: SourceMapView.from_json_bytes(mb), args.repeat)
                if js is not None:
                    sym["build"] = best_of(lambda j=js, mb=map_bytes: SymbolicCache.from_bytes(j, mb),
                                           max(1, args.repeat // 2))
            except ImportError:
                pass
            for eng in available_engines():
                _host.use_engine(eng)
                pysym.SourceMap.from_bytes(map_bytes).close()  # compile + warm
                parse = best_of(lambda mb=map_bytes: pysym.SourceMap.from_bytes(mb).close(), args.repeat)
                t0 = time.perf_counter()
                built = pysym.SourceMapCache.from_sourcemap(map_bytes, js)
                build = time.perf_counter() - t0
                path = Path(td) / ("%s.smcache" % key)
                built.write(path)
                built.close()
                blob = path.read_bytes()
                pysym.SourceMapCache.from_bytes(blob).close()
                load = best_of(lambda b=blob: pysym.SourceMapCache.from_bytes(b).close(), args.repeat * 4)
                load_path = best_of(lambda p=path: pysym.SourceMapCache.from_path(p).close(), args.repeat * 4)
                load_cpu = cpu_per_call(lambda b=blob: pysym.SourceMapCache.from_bytes(b).close(), 200, args.repeat)
                path_cpu = cpu_per_call(lambda p=path: pysym.SourceMapCache.from_path(p).close(), 200, args.repeat)

                def first_lookup(b: bytes = blob, line: int = lines[len(lines) // 2],
                                 col: int = cols[len(cols) // 2]) -> None:
                    with pysym.SourceMapCache.from_bytes(b) as c:
                        c.lookup(line, col)

                load_lookup = best_of(first_lookup, args.repeat * 4)
                # the floor of any load that copies the cache once: a memcpy of its size
                room = memoryview(bytearray(len(blob)))
                memcpy = best_of(lambda r=room, b=blob: r.__setitem__(slice(None), b), args.repeat * 4)
                with pysym.SourceMapCache.from_bytes(blob) as cache:
                    lookups = best_of(lambda c=cache, ls=lines, cs=cols: c.lookup_many(ls, cs), args.repeat)
                    lookups_cpu = cpu_per_call(lambda c=cache, ls=lines, cs=cols: c.lookup_many(ls, cs), 1, args.repeat)
                with in_memory(blob) as cache:
                    memory_cpu = cpu_per_call(lambda c=cache, ls=lines, cs=cols: c.lookup_many(ls, cs), 1, args.repeat)
                row: List[str] = [key, eng, fmt(parse), fmt(build), "%.1f" % (len(blob) / 1e6), fmt(load),
                                  fmt(load_cpu), fmt(load_path), fmt(path_cpu), fmt(load_lookup), fmt(memcpy),
                                  "%.4fx" % (load / parse), fmt(lookups), fmt(lookups_cpu), fmt(memory_cpu),
                                  "%.2fx" % (lookups_cpu / memory_cpu),
                                  fmt(sym["parse"]) if "parse" in sym else "-",
                                  fmt(sym["build"]) if "build" in sym else "-"]
                print("  ".join("%-14s" % c for c in row), flush=True)
    print("\nload = SourceMapCache.from_bytes of the written cache (pysym_smcache_load: one crossing); "
          "load path = SourceMapCache.from_path (the same from the file); load+lookup = a load and one lookup "
          "(the pages it reads); 25k = lookup_many of 25,000 positions on a paged cache (cpu: CPU time), "
          "25k mem = the same on the bytes copied into the module, paged/mem their ratio; "
          "memcpy = one copy of the cache's bytes in Python (what a load copying the "
          "cache would cost at least); target <= 1 ms on babylon.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
