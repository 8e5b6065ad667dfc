#!/usr/bin/env python3
"""Where a source map parse spends its CPU time: pysym's phases against symbolic.

    python bench/sm_phases.py [--maps babylon,index] [--engines wasmtime,wasmer]
                              [--repeat 5] [--lookups 25000]

A program for optimising, not a test. CPU time (``time.process_time``, best of N, GC
off) of each host-visible phase of ``SourceMap.from_bytes`` and of what follows:

* ``copy in``   the map's bytes into module memory (``pysym_alloc`` + write);
* ``parse``     the ``pysym_sourcemap_from_bytes`` call: UTF-8 check, JSON scan, every
  segment decoded into the module's columns, the line index;
* ``tables``    info, the sources / metadata / ignore-list tables copied out;
* ``names``     the names table (read on first use);
* ``from_bytes`` all of the above through the public API;
* ``arrays``    ``token_arrays()`` on an open map (every segment handed to Python);
* ``25k``       ``from_bytes`` + ``lookup_many`` of N positions, end to end.

symbolic: ``SourceMapView.from_json_bytes`` (serde + rust-sourcemap: every segment decoded
into a token vector, every ``sourcesContent`` string unescaped), and the same N positions
looked up one call each after it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "reference"))
import realmaps  # noqa: E402
from bench_smcache import cpu_per_call  # noqa: E402  (the cache bench's CPU timer)


def cpu_best(fn: Callable[[], Any], repeat: int) -> float:
    """Least CPU time of ``repeat`` runs, in seconds."""
    return cpu_per_call(fn, 1, repeat)


def load_map(key: str, tmp: Path, n: int) -> Dict[str, Any]:
    if key == "index":
        data, lengths, segs = realmaps.build_index_map()
        raw = json.dumps(data).encode("utf-8")
    else:
        m = realmaps.BY_KEY[key]
        raw = m.map_path.read_bytes()
        lengths = realmaps.line_lengths(m.js_path)
        segs = realmaps.segment_positions(json.loads(raw)["mappings"])
    lines, cols = realmaps.sample_positions(segs, lengths, n, seed=sum(map(ord, key)))
    return {"key": key, "data": raw, "lines": lines, "cols": cols}


def pysym_phases(engine: str, w: Dict[str, Any], repeat: int) -> Dict[str, float]:
    import pysym
    from pysym import _host, _wire

    _host.use_engine(engine)
    data, lines, cols = w["data"], w["lines"], w["cols"]
    pysym.SourceMap.from_bytes(data).close()  # warm up: compile, instantiate, grow memory
    rt = _host.get_runtime()
    r: Dict[str, float] = {}
    # copy in + parse, split: the parse takes ownership of the copied bytes
    best_copy, best_parse, best_tables, best_names = (float("inf"),) * 4
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            with rt.lock:
                t0 = time.process_time()
                ptr = rt.put_input(data)
                t1 = time.process_time()
                rt.check(rt.call("pysym_sourcemap_from_bytes", ptr, len(data), rt.out_slot))
                t2 = time.process_time()
                live = rt.current()
                h = live.instance.read_u32(live.out_slot, _wire.HANDLE_OUT_WORDS)[_wire.HANDLE_OUT_HANDLE]
                rt.call("pysym_sourcemap_info", h, rt.out_slot)
                for kind in (0, 2):
                    rt.call("pysym_sourcemap_strings", h, kind, rt.out_slot)
                    rt.result_bytes()
                rt.call("pysym_sourcemap_ignore_list", h, rt.out_slot)
                rt.result_bytes()
                t3 = time.process_time()
                rt.call("pysym_sourcemap_strings", h, 1, rt.out_slot)
                rt.result_bytes()
                t4 = time.process_time()
                rt.call("pysym_sourcemap_free", h)
        finally:
            gc.enable()
        best_copy = min(best_copy, t1 - t0)
        best_parse = min(best_parse, t2 - t1)
        best_tables = min(best_tables, t3 - t2)
        best_names = min(best_names, t4 - t3)
    r.update({"copy in": best_copy, "parse": best_parse, "tables": best_tables, "names": best_names})
    r["from_bytes"] = cpu_best(lambda: pysym.SourceMap.from_bytes(data).close(), repeat)
    with pysym.SourceMap.from_bytes(data) as sm:
        sm.token_arrays()
        r["arrays"] = cpu_best(sm.token_arrays, repeat)

    def decode() -> None:
        with pysym.SourceMap.from_bytes(data) as sm:
            sm.token_arrays()

    r["decode+arrays"] = cpu_best(decode, repeat)

    def parse_lookups() -> None:
        with pysym.SourceMap.from_bytes(data) as sm:
            sm.lookup_many(lines, cols)

    r["parse+25k"] = cpu_best(parse_lookups, repeat)
    return r


def symbolic_phases(w: Dict[str, Any], repeat: int) -> Dict[str, float]:
    from symbolic.sourcemap import SourceMapView

    data, pairs = w["data"], list(zip(w["lines"], w["cols"]))
    SourceMapView.from_json_bytes(data)
    r = {"parse": cpu_best(lambda: SourceMapView.from_json_bytes(data), repeat)}
    view = SourceMapView.from_json_bytes(data)

    def lookups(v: Any) -> None:
        lookup = v.lookup
        for line, col in pairs:
            lookup(line, col)

    r["25k lookups"] = cpu_best(lambda: lookups(view), repeat)
    r["parse+25k"] = cpu_best(lambda: lookups(SourceMapView.from_json_bytes(data)), repeat)
    return r


def ms(s: float) -> str:
    return "%.1f" % (s * 1e3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--maps", default="babylon,index")
    ap.add_argument("--engines", default="wasmtime,wasmer")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--lookups", type=int, default=25000)
    args = ap.parse_args()
    print("uptime:", os.popen("uptime").read().strip())
    print("CPU ms, best of %d (time.process_time)" % args.repeat)
    with tempfile.TemporaryDirectory() as td:
        for key in args.maps.split(","):
            w = load_map(key, Path(td), args.lookups)
            sym = symbolic_phases(w, args.repeat)
            print("\n%s (%.1f MB): symbolic parse %s, %d lookups %s, parse+lookups %s"
                  % (key, len(w["data"]) / 1e6, ms(sym["parse"]), args.lookups, ms(sym["25k lookups"]),
                     ms(sym["parse+25k"])))
            for engine in args.engines.split(","):
                r = pysym_phases(engine, w, args.repeat)
                cells = ", ".join("%s %s" % (k, ms(v)) for k, v in r.items())
                print("  pysym/%s: %s" % (engine, cells))
                print("    from_bytes / symbolic parse %.2fx; decode+arrays %.2fx; parse+%dk %.2fx"
                      % (r["from_bytes"] / sym["parse"], r["decode+arrays"] / sym["parse"], args.lookups // 1000,
                         r["parse+25k"] / sym["parse+25k"]))
    print("uptime:", os.popen("uptime").read().strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
