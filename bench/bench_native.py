#!/usr/bin/env python3
"""Native benchmark: pysym (every installed engine) vs symbolic vs llvm-symbolizer.

    python bench/bench_native.py [--files a.so,b.so] [--lookups 100000] [--repeat 3]

A program, not a test: it measures, with the same inputs on the same machine, and prints
one table with ratios against PyPI ``symbolic`` (Sentry's Rust-native
``symbolic.debuginfo.Archive`` / ``make_symcache`` / ``SymCache.lookup``). Nothing is
asserted; the "target" column says whether pysym's goals are met:

* symcache build time <= 1.5x symbolic's, build peak RSS <= 1.0x symbolic's,
* batched lookups (``SymCache.lookup_many``) >= 1 M addresses/s.

Inputs: the largest real ELF files with DWARF found on this machine (``--files`` to pick
others). Every file is described (size, size of ``.debug_info``) in the output.

No file on the dev image has >= 100 MB of DWARF (libLLVM-14 is not installed; node has
~1 MB). The inputs used: symbolic's own ``_lowlevel__lib.so`` (78 MB, 26 MB .debug_info)
and, when present, ``/tmp/bigsrc/libduckdb-190tu-g-O2.so``: DuckDB 0.9.2 from the PyPI
sdist, 190 core translation units (the file measured here: 190 of the first 193 in
``sources.list`` order; the recipe takes the first 190) built with
``g++ -g -O2`` and linked as a shared library (234 MB: 118 MB .debug_info, 42 MB
.debug_loclists, 30 MB .debug_str, 15 MB .debug_line; ~50 min on 2 cores)::

    pip download --no-binary :all: --no-deps duckdb==0.9.2 && tar xzf duckdb-0.9.2.tar.gz
    cd duckdb-0.9.2 && mkdir obj && grep '^duckdb_build' sources.list | grep -v extension \
      | head -190 | xargs -P2 -I{} sh -c 'g++ -std=c++11 -g -O2 -fPIC -w \
        $(sed "s/^/-I/" includes.list | tr "\n" " ") -c {} -o obj/$(echo {} | tr / _).o'
    g++ -shared -o /tmp/bigsrc/libduckdb-190tu-g-O2.so obj/*.o

Build: each build runs in a fresh interpreter, started by a small wrapper process that
waits for it and reads ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the peak RSS of
that one child). The build time is measured inside the child (open + build, not the
interpreter start). Each build is run ``--repeat`` times, each in its own child: the
median time and the largest peak RSS are reported (one cold build per process is noisy:
±30 % between runs on these machines). The RSS is reported absolute and minus a baseline
child that only imports the library (and, for pysym, starts the engine and instantiates
the module).

Lookups (in another child, from the symcache file the build child wrote): 100,000
addresses sampled (seeded) from the file's line table
(``llvm-dwarfdump --debug-line``), relative to the image base. pysym: one
``lookup_many`` call, then every frame of its results read (``Frame`` objects, inlinees
included; results are lazy, so both are timed: "cold/s" and "frames/s" below); symbolic: a loop of
``lookup`` (its only API) materialising every frame's name/file/line; llvm-symbolizer:
one process ``--obj=FILE --inlining`` fed all addresses on stdin, timed from start to
exit (so it includes loading the file). pysym's "lookups/s" is the first (cold) batch on a
freshly loaded symcache, which decodes every location it meets; "warm/s" the best of
``--repeat`` further batches (locations already decoded: a service's steady state).
symbolic has no such cache: both columns are its best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent

SYMBOLIZER = shutil.which("llvm-symbolizer") or shutil.which("llvm-symbolizer-14")
DWARFDUMP = shutil.which("llvm-dwarfdump") or shutil.which("llvm-dwarfdump-14")

# Candidate inputs, largest-first after filtering: real files with DWARF seen on the
# dev/CI images. A duckdb build (see bench/README or the report) is used when present.
CANDIDATES = [
    "/tmp/bigsrc/libduckdb-190tu-g-O2.so",
    "/tmp/bigsrc/libduckdb-g-O2.so",
    "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1",
]


# -- child side ----------------------------------------------------------------------


def _child(args: argparse.Namespace) -> None:
    """Runs in a fresh interpreter; prints one JSON line."""
    out: Dict[str, Any] = {}
    if args.tool == "pysym":
        import pysym
        from pysym._host import get_runtime

        get_runtime().current()  # compile + instantiate the module before timing
        if args.what == "build":
            t0 = time.perf_counter()
            sc = pysym.SymCache.from_object(args.file)
            out["time"] = time.perf_counter() - t0
            out["bytes"] = len(sc.to_bytes())
            if args.cache:
                sc.write(args.cache)
        elif args.what == "lookup":
            addrs = _load_addrs(args.addrs)
            out.update(_pysym_lookups(pysym, args.cache, addrs, args.repeat))
    elif args.tool == "symbolic":
        from symbolic.debuginfo import Archive
        from symbolic.symcache import SymCache

        if args.what in ("build", "lookup"):
            if args.what == "build":
                t0 = time.perf_counter()
                obj = _symbolic_object(Archive, args.file)
                sc = obj.make_symcache()
                out["time"] = time.perf_counter() - t0
                if args.cache:
                    with open(args.cache, "wb") as f:
                        sc.dump_into(f)
            else:
                sc = SymCache.open(args.cache)
                addrs = _load_addrs(args.addrs)
                lookup = sc.lookup
                best = float("inf")
                frames = 0
                for _ in range(args.repeat):
                    gc.collect()
                    gc.disable()
                    t0 = time.perf_counter()
                    n = 0
                    for a in addrs:
                        for f in lookup(a):
                            _ = (f.symbol, f.full_path, f.line)  # materialise like pysym's Frame
                            n += 1
                    dt = time.perf_counter() - t0
                    gc.enable()
                    best = min(best, dt)
                    frames = n
                out["time"] = best
                out["warm"] = best  # no cache: every batch costs the same
                out["frames"] = frames
    print(json.dumps(out))


def _pysym_lookups(pysym: Any, cache: str, addrs: List[int], repeat: int) -> Dict[str, Any]:
    """Cold batch (fresh symcache: the crossing, nothing decoded), then reading every frame
    of it (decodes every location it holds), columns and JSON of a cold batch, the best
    of ``repeat`` warm batches, and the collector's share of a loop of warm batches."""
    out: Dict[str, Any] = {}
    sc = pysym.SymCache.from_path(cache)
    gc.collect()
    t0 = time.perf_counter()
    res = sc.lookup_many(addrs)
    out["time"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    frames = 0
    for fs in res:
        for _f in fs:
            frames += 1
    out["iterate"] = time.perf_counter() - t0
    out["frames"] = frames
    # Columns and JSON on fresh symcaches: a bulk reader that needs no Frame object.
    for what in ("columns", "json"):
        fresh = pysym.SymCache.from_path(cache)
        gc.collect()
        t0 = time.perf_counter()
        r = fresh.lookup_many(addrs)
        if what == "columns":
            _ = (r.functions, r.files, r.lines)
        else:
            _ = r.to_json()
        out[what] = time.perf_counter() - t0
        fresh.close()
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        res = sc.lookup_many(addrs)
        times.append(time.perf_counter() - t0)
    out["warm"] = min(times)
    # A service's steady state: warm batches whose results are read (innermost function),
    # the collector left on; its share is the time between its start and stop callbacks.
    spent = [0.0, 0.0]

    def on_gc(phase: str, _info: Dict[str, Any]) -> None:
        if phase == "start":
            spent[1] = time.perf_counter()
        else:
            spent[0] += time.perf_counter() - spent[1]

    gc.collect()
    gc.callbacks.append(on_gc)
    t0 = time.perf_counter()
    loops = max(5, repeat * 3)
    for _ in range(loops):
        res = sc.lookup_many(addrs)
        _ = res.functions
    total = time.perf_counter() - t0
    gc.callbacks.remove(on_gc)
    out["gc_share"] = spent[0] / total
    out["loop"] = loops * len(addrs) / total
    return out


def _symbolic_object(Archive: Any, path: str) -> Any:
    archive = Archive.open(path)
    for obj in archive.iter_objects():
        return obj
    raise RuntimeError("symbolic found no object in %s" % path)


def _load_addrs(path: str) -> List[int]:
    with open(path) as f:
        return [int(x, 16) for x in f.read().split()]


# -- parent side ---------------------------------------------------------------------

_WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[2:], stdin=open(sys.argv[1], 'rb') if sys.argv[1] else None,\n"
    "                   stdout=subprocess.PIPE)\n"
    "wall = time.perf_counter() - t0\n"
    "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "out = p.stdout.decode('utf-8', 'replace').strip().splitlines()\n"
    "print(json.dumps({'rc': p.returncode, 'maxrss_kb': ru.ru_maxrss, 'wall': wall,\n"
    "                  'last': out[-1] if out and sys.argv[1] == '' else ''}))\n"
)


def measure(cmd: List[str], env: Optional[Dict[str, str]] = None, stdin: str = "") -> Dict[str, Any]:
    """Runs ``cmd`` under a wrapper; returns its JSON output plus peak RSS and wall time."""
    p = subprocess.run([sys.executable, "-c", _WRAPPER, stdin] + cmd, env=env,
                       stdout=subprocess.PIPE, check=True)
    w = json.loads(p.stdout.decode().strip().splitlines()[-1])
    if w["rc"] != 0:
        raise RuntimeError("%s exited with %s" % (" ".join(cmd), w["rc"]))
    res: Dict[str, Any] = json.loads(w["last"]) if w["last"] else {}
    res["rss_mb"] = w["maxrss_kb"] / 1024.0
    res["wall"] = w["wall"]
    return res


def build(cmd: List[str], env: Dict[str, str], repeat: int) -> Dict[str, Any]:
    """``repeat`` build children (each a fresh process): the median time, the largest peak RSS."""
    runs = [measure(cmd, env) for _ in range(max(1, repeat))]
    times = sorted(r["time"] for r in runs)
    return {"time": times[len(times) // 2], "rss_mb": max(r["rss_mb"] for r in runs)}


def child_cmd(tool: str, what: str, file: str, cache: str, addrs: str = "", repeat: int = 1) -> List[str]:
    return [sys.executable, os.path.abspath(__file__), "--child", "--tool", tool, "--what", what,
            "--file", file, "--cache", cache, "--addrs", addrs, "--repeat", str(repeat)]


def debug_info_size(path: str) -> int:
    """Size of ``.debug_info`` (0 when absent or not ELF)."""
    try:
        out = subprocess.run(["readelf", "-SW", path], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout.decode()
    except OSError:
        return 0
    for line in out.splitlines():
        parts = line.replace("[ ", "[").split()
        if ".debug_info" in parts:
            i = parts.index(".debug_info")
            return int(parts[i + 4], 16)
    return 0


def find_inputs() -> List[str]:
    found = []
    seen = set()
    for c in CANDIDATES:
        if os.path.exists(c) and debug_info_size(c) > 0:
            found.append(c)
            seen.add(os.path.realpath(c))
    # The largest other ELF files with DWARF here (symbolic's own library is one).
    try:
        import symbolic

        lib = next(iter(sorted(Path(symbolic.__file__).parent.glob("_lowlevel*.so"))), None)
        if lib is not None and os.path.realpath(lib) not in seen and debug_info_size(str(lib)) > 0:
            found.append(str(lib))
    except ImportError:
        pass
    found.sort(key=lambda p: -os.path.getsize(p))
    return found[:2]


def sample_addresses(path: str, n: int, base: int, workdir: str) -> str:
    """Writes ``n`` seeded samples of line-table addresses (relative to ``base``) to a file."""
    st = os.stat(path)
    cache = os.path.join(tempfile.gettempdir(), "pysym-bench-lines-%x-%x-%x.txt"
                         % (zlib.crc32(os.path.realpath(path).encode()), st.st_size, int(st.st_mtime)))
    if not os.path.exists(cache):
        if DWARFDUMP is None:
            raise SystemExit("llvm-dwarfdump is needed to sample line-table addresses")
        row = re.compile(rb"^0x([0-9a-f]{16})\s+(\d+)\s")
        addrs = set()
        p = subprocess.Popen([DWARFDUMP, "--debug-line", path], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        assert p.stdout is not None
        for line in p.stdout:
            m = row.match(line)
            if m and b"end_sequence" not in line:
                a = int(m.group(1), 16)
                if a:
                    addrs.add(a)
        p.wait()
        with open(cache + ".tmp", "w") as f:
            f.write("\n".join("%x" % a for a in sorted(addrs)))
        os.replace(cache + ".tmp", cache)
    with open(cache) as f:
        all_addrs = [int(x, 16) for x in f.read().split()]
    rng = random.Random(0x5EED)
    picked = [rng.choice(all_addrs) for _ in range(n)]
    rel = os.path.join(workdir, "addrs-%x.txt" % zlib.crc32(path.encode()))
    with open(rel, "w") as f:
        f.write("\n".join("%x" % (a - base) for a in picked))
    absf = rel + ".abs"
    with open(absf, "w") as f:
        f.write("\n".join("0x%x" % a for a in picked) + "\n")
    return rel


def fmt_mb(x: float) -> str:
    return "%.0f MB" % x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", default="")
    ap.add_argument("--lookups", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tool", help=argparse.SUPPRESS)
    ap.add_argument("--what", help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--addrs", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return

    sys.path.insert(0, str(ROOT))
    import pysym
    from pysym._engine import available_engines

    engines = [e for e in available_engines() if e in ("wasmtime", "wasmer")]
    try:
        import symbolic  # noqa: F401

        have_symbolic = True
    except ImportError:
        have_symbolic = False
        print("note: PyPI symbolic is not installed here (pip install symbolic); no ratios")

    files = [f for f in args.files.split(",") if f] or find_inputs()
    if not files:
        raise SystemExit("no ELF file with DWARF found; pass --files")

    base_env = dict(os.environ)
    base_env["PYTHONPATH"] = str(ROOT) + os.pathsep + base_env.get("PYTHONPATH", "")

    print("pysym native benchmark — python %s, engines: %s, symbolic: %s, llvm-symbolizer: %s"
          % (sys.version.split()[0], ", ".join(engines) or "none",
             _version("symbolic") if have_symbolic else "absent", SYMBOLIZER or "absent"))
    print("RSS = peak RSS of the build child (absolute / minus the baseline child that only "
          "imports the library and, for pysym, starts the engine)")
    print()

    # Baselines: a child that imports and starts, nothing else.
    baselines: Dict[str, float] = {}
    for eng in engines:
        env = dict(base_env, PYSYM_ENGINE=eng)
        baselines["pysym/" + eng] = measure(
            [sys.executable, "-c",
             "import pysym; from pysym._host import get_runtime; get_runtime().current(); print('{}')"],
            env)["rss_mb"]
    if have_symbolic:
        baselines["symbolic"] = measure(
            [sys.executable, "-c", "from symbolic.debuginfo import Archive; print('{}')"], base_env)["rss_mb"]

    with tempfile.TemporaryDirectory() as work:
        for path in files:
            size = os.path.getsize(path)
            obj = pysym.Object.from_path(path)
            print("%s — %s, %.1f MB, .debug_info %.1f MB, %s %s"
                  % (path, describe(path), size / 1e6, debug_info_size(path) / 1e6, obj.kind, obj.arch))
            addrs = sample_addresses(path, args.lookups, obj.image_base, work)
            rows = []
            lookups: List[Any] = []
            sym_build = sym_rss = sym_rate = None
            if have_symbolic:
                cache = os.path.join(work, "symbolic.symc")
                b = build(child_cmd("symbolic", "build", path, cache), base_env, args.repeat)
                lk = measure(child_cmd("symbolic", "lookup", path, cache, addrs, args.repeat), base_env)
                os.unlink(cache)
                sym_build, sym_rss = b["time"], b["rss_mb"]
                sym_rate = args.lookups / lk["time"]
                rows.append(("symbolic", b["time"], b["rss_mb"], b["rss_mb"] - baselines["symbolic"],
                             sym_rate, args.lookups / lk["warm"], lk["frames"]))
            for eng in engines:
                env = dict(base_env, PYSYM_ENGINE=eng)
                cache = os.path.join(work, "pysym-%s.symc" % eng)
                b = build(child_cmd("pysym", "build", path, cache), env, args.repeat)
                lk = measure(child_cmd("pysym", "lookup", path, cache, addrs, args.repeat), env)
                os.unlink(cache)
                rows.append(("pysym/" + eng, b["time"], b["rss_mb"], b["rss_mb"] - baselines["pysym/" + eng],
                             args.lookups / lk["time"], args.lookups / lk["warm"], lk["frames"]))
                lookups.append((eng, lk))
            if SYMBOLIZER:
                s = measure([SYMBOLIZER, "--obj=" + path, "--inlining"], base_env, stdin=addrs + ".abs")
                rows.append(("llvm-symbolizer", None, s["rss_mb"], None, args.lookups / s["wall"], None, None))

            hdr = "  %-16s %9s %7s %10s %9s %8s %13s %8s %13s %8s  %s" % (
                "tool", "build s", "x sym", "peak RSS", "-base", "x sym", "lookups/s", "x sym", "warm/s",
                "frames", "targets")
            print(hdr)
            for name, bt, rss, rss_net, rate, warm, frames in rows:
                is_pysym = name.startswith("pysym")
                tx = bt / sym_build if (bt is not None and sym_build) else None
                rx = (rss_net / (sym_rss - baselines["symbolic"])) if (rss_net is not None and sym_rss) else None
                lx = rate / sym_rate if sym_rate else None
                targets = ""
                if is_pysym:
                    marks = []
                    if tx is not None:
                        marks.append("build %s" % ("ok" if tx <= 1.5 else "MISS"))
                    if rx is not None:
                        marks.append("rss %s" % ("ok" if rx <= 1.0 else "MISS"))
                    marks.append("lookups cold %s warm %s" % (
                        "ok" if rate >= 1e6 else "MISS", "ok" if (warm or 0) >= 3e6 else "MISS"))
                    targets = ", ".join(marks)
                print("  %-16s %9s %7s %10s %9s %8s %13s %8s %13s %8s  %s" % (
                    name,
                    "%.2f" % bt if bt is not None else "-",
                    "%.2fx" % tx if tx is not None else "-",
                    fmt_mb(rss),
                    fmt_mb(rss_net) if rss_net is not None else "-",
                    "%.2fx" % rx if rx is not None else "-",
                    "{:,.0f}".format(rate),
                    "%.1fx" % lx if lx is not None else "-",
                    "{:,.0f}".format(warm) if warm is not None else "-",
                    frames if frames is not None else "-",
                    targets))
            print("  (llvm-symbolizer: one process, %d addresses on stdin, wall time incl. loading; "
                  "x sym RSS is net of baselines)" % args.lookups)
            print_lookups(lookups, args.lookups)
            print()


def print_lookups(lookups: List[Any], n: int) -> None:
    """pysym's lookup results (LookupResults): what reading them costs, by way of reading."""
    if not lookups:
        return
    print("  %-16s %13s %13s %13s %13s %13s %8s  %s" % (
        "pysym lookups", "cold/s", "frames/s", "columns/s", "json/s", "warm/s", "gc", "targets"))
    for eng, lk in lookups:
        cold, fps, warm = n / lk["time"], lk["frames"] / lk["iterate"], n / lk["warm"]
        marks = "cold %s, frames %s, warm %s, gc %s" % (
            "ok" if cold >= 1e6 else "MISS", "ok" if fps >= 1e6 else "MISS",
            "ok" if warm >= 3e6 else "MISS", "ok" if lk["gc_share"] < 0.10 else "MISS")
        print("  %-16s %13s %13s %13s %13s %13s %7.1f%%  %s" % (
            "pysym/" + eng, "{:,.0f}".format(cold), "{:,.0f}".format(fps), "{:,.0f}".format(n / lk["columns"]),
            "{:,.0f}".format(n / lk["json"]), "{:,.0f}".format(warm), 100 * lk["gc_share"], marks))
    print("  (cold: lookup_many on a fresh symcache, nothing decoded; frames/s: then reading every "
          "frame of it; columns/json: a cold batch read as functions+files+lines / to_json(); gc: the "
          "collector's share of a loop of warm batches read as .functions, collector on)")


def describe(path: str) -> str:
    name = os.path.basename(path)
    if "duckdb" in name:
        return "DuckDB 0.9.2 core (C++, PyPI sdist), 190 TUs built here with g++ -g -O2, linked as a .so"
    if "_lowlevel" in name:
        return "symbolic's own Rust library (PyPI wheel, shipped with DWARF)"
    if "LLVM" in name:
        return "Debian libLLVM"
    return "ELF"


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "?"


if __name__ == "__main__":
    main()
