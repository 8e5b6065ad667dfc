#!/usr/bin/env python3
"""Source map benchmark: pysym (every installed engine) vs symbolic vs sourcemap.

    python bench/bench_sourcemap.py [--quick] [--maps jquery,rxjs-min,babylon,index]
                                    [--peer-python /path/to/python]

A program, not a test: it measures everything in one run on the same machine with the
same inputs and prints one table with ratios against symbolic (Sentry's Rust-native
``symbolic.sourcemap.SourceMapView.from_json_bytes``, ``.lookup``); PyPI ``sourcemap`` (pure Python) is the second
peer. Nothing is asserted; the "targets" column says whether pysym's goals are met:

* parse time <= 1.0x symbolic's,
* batched lookups (``lookup_many``) >= 10x symbolic's per-call lookup rate,
* a single ``lookup`` <= 10 us on wasmtime and <= 2 us on wasmer.

Maps: the real npm maps of tests/reference (install with
``npm ci --prefix tests/reference --ignore-scripts --no-audit --no-fund``), plus an index
(sectioned) map built from three of them. Positions: the same for every library, half on
or next to real segments, half random within and past line ends (both biases for pysym
batches; GREATEST_LOWER_BOUND everywhere else, the peers' only mode).

Timing: ``time.perf_counter``, best of N repeats, GC disabled while timing. If symbolic or
sourcemap cannot be imported here, ``--peer-python`` runs them in another interpreter
(where they install) and the numbers are merged into the same table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "reference"))
import realmaps  # noqa: E402

DEFAULT_MAPS = ["jquery", "rxjs-min", "rxjs", "babylon", "index"]


# -- timing helpers ------------------------------------------------------------------


def best_of(fn: Callable[[], Any], repeat: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Fastest of ``repeat`` runs of ``fn`` in seconds (GC off while timing)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            t0 = clock()
            fn()
            dt = clock() - t0
        finally:
            gc.enable()
        best = min(best, dt)
    return best


def cpu_of(fn: Callable[[], Any], repeat: int) -> float:
    """Least CPU time (this process, ``time.process_time``) of ``repeat`` runs: steadier
    than wall time on a loaded machine."""
    return best_of(fn, repeat, time.process_time)


class Workload:
    """One map's bytes and the positions every library is asked."""

    def __init__(self, key: str, tmp: Path, n_batch: int, n_single: int) -> None:
        self.key = key
        if key == "index":
            data, lengths, segs = realmaps.build_index_map()
            self.path = tmp / "index.js.map"
            self.path.write_text(json.dumps(data), "utf-8")
            self.label = "index map (%s)" % "+".join(realmaps.INDEX_PARTS)
        else:
            m = realmaps.BY_KEY[key]
            self.path = m.map_path
            lengths = realmaps.line_lengths(m.js_path)
            segs = realmaps.segment_positions(json.loads(m.map_path.read_text("utf-8"))["mappings"])
            self.label = "%s %s" % (m.package, Path(m.map_rel).name)
        self.data = self.path.read_bytes()
        self.lines, self.cols = realmaps.sample_positions(segs, lengths, n_batch, seed=sum(map(ord, key)))
        self.single = list(zip(self.lines[:n_single], self.cols[:n_single]))
        self.size_mb = len(self.data) / 1e6

    def spec(self) -> Dict[str, Any]:
        return {"key": self.key, "path": str(self.path), "lines": self.lines, "cols": self.cols,
                "single": self.single}


# -- the libraries -------------------------------------------------------------------------
# Each bench_* returns {"parse": s, "single": s per lookup, "batch": lookups per s} or an
# {"error": text}. "batch" for the peers is their per-call rate (they have no batch API).


def bench_pysym(engine: str, w: Workload, repeat: int) -> Dict[str, Any]:
    import pysym
    from pysym import _host

    _host.use_engine(engine)

    def parse() -> None:
        pysym.SourceMap.from_bytes(w.data).close()

    parse()  # warm up: compiles the module, instantiates, grows memory
    r: Dict[str, Any] = {"parse": best_of(parse, repeat)}
    with pysym.SourceMap.from_bytes(w.data) as sm:
        lookup = sm.lookup
        single = w.single

        def singles() -> None:
            for line, col in single:
                lookup(line, col)

        singles()
        r["single"] = best_of(singles, repeat) / len(single)
        lines, cols = w.lines, w.cols

        def batch() -> None:
            sm.lookup_many(lines, cols)
            sm.lookup_many(lines, cols, pysym.LEAST_UPPER_BOUND)

        batch()
        r["batch"] = 2 * len(lines) / best_of(batch, repeat)
        r["found"] = sum(t is not None for t in sm.lookup_many(lines, cols))
        n = len(sm)
        # every segment: as Token objects, and as columns (SourceMap.token_arrays)
        # CPU time, as the parse columns: a wall clock on a shared machine counts others' work
        r["iter_tokens"] = n / cpu_of(lambda: sum(1 for _ in sm), max(2, repeat // 2))
        r["iter_arrays"] = n / cpu_of(sm.token_arrays, repeat)

        def walk() -> None:  # columns, then a Python loop touching every field of every segment
            t = sm.token_arrays()
            for _ in zip(t.dst_line, t.dst_col, t.src, t.src_line, t.src_col, t.name):
                pass

        r["iter_walk"] = n / cpu_of(walk, max(2, repeat // 2))

    def decode() -> None:  # parse + every line's mappings out of the module
        with pysym.SourceMap.from_bytes(w.data) as m:
            m.token_arrays()

    r["decode"] = best_of(decode, repeat)
    r["decode_cpu"] = cpu_of(decode, repeat)
    r["parse_cpu"] = cpu_of(parse, repeat)

    def end_to_end() -> None:  # a fresh map answering the batch: parse + lookups
        with pysym.SourceMap.from_bytes(w.data) as m:
            m.lookup_many(lines, cols)

    r["e2e_cpu"] = cpu_of(end_to_end, repeat)
    return r


def bench_symbolic(spec: Dict[str, Any], data: bytes, repeat: int) -> Dict[str, Any]:
    from symbolic.sourcemap import SourceMapView

    # from_json_bytes since symbolic 10; from_json_slice before
    load = getattr(SourceMapView, "from_json_bytes", None) or SourceMapView.from_json_slice

    def parse() -> Any:
        return load(data)

    parse()
    r: Dict[str, Any] = {"parse": best_of(parse, repeat)}
    view = parse()
    lookup = view.lookup
    single = spec["single"]

    def singles() -> None:
        for line, col in single:
            lookup(line, col)

    singles()
    r["single"] = best_of(singles, repeat) / len(single)
    pairs = list(zip(spec["lines"], spec["cols"]))

    def per_call() -> None:
        for line, col in pairs:
            lookup(line, col)

    r["batch"] = len(pairs) / best_of(per_call, max(1, repeat // 2))
    r["found"] = sum(lookup(line, col) is not None for line, col in pairs)
    r["parse_cpu"] = cpu_of(parse, repeat)

    def end_to_end() -> None:
        one = parse().lookup
        for line, col in pairs:
            one(line, col)

    r["e2e_cpu"] = cpu_of(end_to_end, repeat)
    return r


def bench_sourcemap_pkg(spec: Dict[str, Any], data: bytes, repeat: int) -> Dict[str, Any]:
    import sourcemap

    text = data.decode("utf-8")

    def parse() -> Any:
        return sourcemap.loads(text)

    t0 = time.perf_counter()
    index = parse()
    first = time.perf_counter() - t0
    # pure Python: a 30 MB map takes many seconds; repeat only what is quick
    r: Dict[str, Any] = {"parse": min(first, best_of(parse, repeat - 1)) if first < 2 and repeat > 1 else first}

    def lookup(line: int, col: int) -> Any:
        try:
            return index.lookup(line, col)
        except IndexError:
            return None

    single = spec["single"]

    def singles() -> None:
        for line, col in single:
            lookup(line, col)

    r["single"] = best_of(singles, max(1, repeat // 2)) / len(single)
    r["batch"] = 1 / r["single"]
    return r


def bench_peers(spec: Dict[str, Any], repeat: int, skip_slow: bool) -> Dict[str, Dict[str, Any]]:
    data = Path(spec["path"]).read_bytes()
    out: Dict[str, Dict[str, Any]] = {}
    for name, fn in (("symbolic", bench_symbolic), ("sourcemap", bench_sourcemap_pkg)):
        if name == "sourcemap" and skip_slow and len(data) > 5_000_000:
            out[name] = {"error": "skipped (--quick, pure Python on %.0f MB)" % (len(data) / 1e6)}
            continue
        try:
            out[name] = fn(spec, data, repeat)
        except ImportError as e:
            out[name] = {"error": "not installed here (%s)" % e}
        except Exception as e:  # a peer that cannot read the map (e.g. index maps)
            out[name] = {"error": "%s: %s" % (type(e).__name__, str(e)[:60])}
    return out


def peers_in_subprocess(python: str, spec: Dict[str, Any], repeat: int, skip_slow: bool,
                        tmp: Path) -> Dict[str, Dict[str, Any]]:
    spec_path = tmp / ("%s.spec.json" % spec["key"])
    out_path = tmp / ("%s.peers.json" % spec["key"])
    spec_path.write_text(json.dumps(spec), "utf-8")
    cmd = [python, __file__, "--peers-only", str(spec_path), str(out_path), "--repeat", str(repeat)]
    if skip_slow:
        cmd.append("--quick")
    subprocess.run(cmd, check=True)
    result: Dict[str, Dict[str, Any]] = json.loads(out_path.read_text("utf-8"))
    version = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True).stdout.strip()
    for r in result.values():
        r["where"] = "python " + version
    return result


# -- the table -----------------------------------------------------------------------------


def fmt_time(s: Optional[float]) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return "%.2f s" % s
    if s >= 1e-3:
        return "%.1f ms" % (s * 1e3)
    return "%.2f us" % (s * 1e6)


def fmt_rate(r: Optional[float]) -> str:
    if r is None:
        return "-"
    if r >= 1e6:
        return "%.2f M/s" % (r / 1e6)
    return "%.0f k/s" % (r / 1e3)


def ratio(a: Optional[float], b: Optional[float]) -> str:
    if not a or not b:
        return "-"
    return "%.2fx" % (a / b)


SINGLE_TARGET_US = {"wasmtime": 10.0, "wasmer": 2.0}


def print_table(rows: List[Tuple[str, str, Dict[str, Any]]]) -> None:
    head = ("map", "library", "parse", "vs sym", "lookup", "vs sym", "batched", "vs sym", "targets")
    widths = (42, 24, 9, 7, 9, 7, 10, 8, 30)
    line = "  ".join(h.ljust(wd) for h, wd in zip(head, widths))
    print(line)
    print("-" * len(line))
    by_map: Dict[str, Dict[str, Dict[str, Any]]] = {}
    for m, lib, r in rows:
        by_map.setdefault(m, {})[lib] = r
    for m, lib, r in rows:
        sym = by_map[m].get("symbolic", {})
        if "error" in r:
            cells = (m, lib + (" (%s)" % r["where"] if "where" in r else ""), r["error"])
            print("  ".join(c.ljust(wd) for c, wd in zip(cells, widths[:2] + (80,))))
            continue
        targets = ""
        if lib.startswith("pysym/") and "parse" in sym:
            eng = lib.split("/", 1)[1]
            checks = [
                ("parse", r["parse"] <= sym["parse"]),
                ("batch>=10x", r["batch"] >= 10 * sym["batch"]),
                ("1-lookup<=%gus" % SINGLE_TARGET_US.get(eng, 10.0),
                 r["single"] * 1e6 <= SINGLE_TARGET_US.get(eng, 10.0)),
            ]
            targets = " ".join(("ok:" if ok else "MISS:") + name for name, ok in checks)
        cells = (m, lib + (" (%s)" % r["where"] if "where" in r else ""), fmt_time(r.get("parse")),
                 ratio(r.get("parse"), sym.get("parse")), fmt_time(r.get("single")),
                 ratio(r.get("single"), sym.get("single")), fmt_rate(r.get("batch")),
                 ratio(r.get("batch"), sym.get("batch")), targets)
        print("  ".join(c.ljust(wd) for c, wd in zip(cells, widths)))
    print()
    print("parse/lookup 'vs sym' < 1 is faster than symbolic; batched 'vs sym' > 1 is faster. "
          "Peers have no batch API: their 'batched' is the per-call rate.")
    print()
    head2 = ("map", "library", "decode", "vs sym parse", "iter Token", "token_arrays", "arrays+zip loop")
    print("  ".join(h.ljust(16) for h in head2))
    for m, lib, r in rows:
        if not lib.startswith("pysym/") or "decode" not in r:
            continue
        sym = by_map[m].get("symbolic", {})
        cells = (m[:16], lib, fmt_time(r["decode"]), ratio(r["decode"], sym.get("parse")),
                 fmt_rate(r["iter_tokens"]), fmt_rate(r["iter_arrays"]), fmt_rate(r["iter_walk"]))
        print("  ".join(c.ljust(16) for c in cells))
    print("decode = SourceMap.from_bytes + token_arrays() (every segment decoded and handed out); iteration "
          "rates in segments per CPU second of this process (target >= 3 M/s).")
    print()
    head3 = ("map", "library", "parse CPU", "vs sym", "decode CPU", "vs sym parse", "parse+lookups", "vs sym")
    print("  ".join(h.ljust(16) for h in head3))
    for m, lib, r in rows:
        if "parse_cpu" not in r:
            continue
        sym = by_map[m].get("symbolic", {})
        cells = (m[:16], lib, fmt_time(r["parse_cpu"]), ratio(r["parse_cpu"], sym.get("parse_cpu")),
                 fmt_time(r.get("decode_cpu")), ratio(r.get("decode_cpu"), sym.get("parse_cpu")),
                 fmt_time(r["e2e_cpu"]), ratio(r["e2e_cpu"], sym.get("e2e_cpu")))
        print("  ".join(c.ljust(16) for c in cells))
    print("CPU time of this process (time.process_time), best of N. pysym's parse decodes every segment into "
          "the module, as symbolic's does into its token vector: full decode target parse <= 0.5x symbolic's "
          "parse; decode adds token_arrays() (every segment handed to Python, which symbolic's parse does "
          "not); parse+lookups = a fresh map answering the batch positions (lookup_many; symbolic: one call "
          "each), target <= 0.3x.")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--maps", default=",".join(DEFAULT_MAPS), help="comma-separated: %s" % ",".join(DEFAULT_MAPS))
    ap.add_argument("--repeat", type=int, default=5, help="best of N (default 5)")
    ap.add_argument("--positions", type=int, default=20000, help="positions per batch (default 20000)")
    ap.add_argument("--single", type=int, default=2000, help="positions asked one at a time (default 2000)")
    ap.add_argument("--quick", action="store_true", help="fewer repeats; skip pure-Python sourcemap on big maps")
    ap.add_argument("--peer-python", help="run symbolic/sourcemap in this interpreter instead")
    ap.add_argument("--engines", help="comma-separated subset of pysym's engines")
    ap.add_argument("--peers-only", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    repeat = 2 if args.quick else args.repeat

    if args.peers_only:
        spec = json.loads(Path(args.peers_only[0]).read_text("utf-8"))
        Path(args.peers_only[1]).write_text(json.dumps(bench_peers(spec, repeat, args.quick)), "utf-8")
        return 0

    gone = realmaps.missing_files()
    if gone:
        print("missing %s\ninstall the maps first, from the repository root:\n    %s"
              % (gone[0], realmaps.INSTALL_COMMAND), file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    import pysym
    from pysym._engine import available_engines

    engines = available_engines()
    if args.engines:
        engines = [e for e in engines if e in args.engines.split(",")]
    peer_python = args.peer_python
    if peer_python is None:
        try:
            import symbolic.sourcemap  # noqa: F401
        except ImportError:
            print("note: symbolic is not importable on this Python; use --peer-python to run it elsewhere",
                  file=sys.stderr)

    print("pysym %s on Python %d.%d, engines: %s; best of %d; %d batched positions (x2 biases), %d single"
          % (pysym.__version__, sys.version_info[0], sys.version_info[1], ", ".join(engines) or "none",
             repeat, args.positions, args.single))
    if hasattr(os, "getloadavg"):
        print("load average before: %.2f (%d cores): numbers are noisy when it is above ~0.5 per core"
              % (os.getloadavg()[0], os.cpu_count() or 0))
    rows: List[Tuple[str, str, Dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        for key in args.maps.split(","):
            w = Workload(key, tmp, args.positions, args.single)
            label = "%s %.1f MB" % (w.label, w.size_mb)
            print("... %s" % label, file=sys.stderr, flush=True)
            if peer_python:
                peers = peers_in_subprocess(peer_python, w.spec(), repeat, args.quick, tmp)
            else:
                peers = bench_peers(w.spec(), repeat, args.quick)
            for eng in engines:
                try:
                    r = bench_pysym(eng, w, repeat)
                except Exception as e:
                    r = {"error": "%s: %s" % (type(e).__name__, str(e)[:70])}
                rows.append((label, "pysym/" + eng, r))
            for name in ("symbolic", "sourcemap"):
                rows.append((label, name, peers[name]))
    print()
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
