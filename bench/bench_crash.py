"""Crash symbolication benchmark: pysym.Symbolicator (every installed engine) vs a
reference built on PyPI ``symbolic`` (Archive + SymCache), measured in the same run.

The request: 8 threads x 64 frames over 10 modules -- the test program of
tests/crash (main, libone.so, libtwo.so, built here with -g -O2 and their debug files
moved into a ``.build-id`` tree) plus system libraries whose detached debug files are in
``/usr/lib/debug/.build-id`` (libc6-dbg, libstdc++6-12-dbg, python3.11-dbg). Addresses
are random (seeded) inside the modules' functions; modules sit at made-up load addresses.

Both sides find debug files the same way (by build id, ``.build-id/ab/cdef.debug`` in the
two stores) and keep symcaches in a cache directory:

* cold: empty cache: stores -> symcaches -> response (in a fresh process, timed after
  the engine is ready);
* warm: the cache on disk, a new process (first request, after the engine is ready);
* hot: the same process, the request again (p50 of repeated requests).

Prints one table with each engine's times and the ratios to symbolic's (targets: hot
<= 0.5x, warm <= 1.0x, cold <= 1.2x), and a second with the CPU time of the same
requests (``time.process_time`` of the worker plus the CPU of the children it waited for,
pysym's build processes: on a shared machine a better before/after measure than wall
clock).  The pysym responses of every engine and round
must be the same JSON (the run fails otherwise). (Their SHA-256 is printed, but differs
between runs: the test programs are built anew in a temporary directory, whose path and
build ids are in the response; to compare two trees, run both on one request.)
Needs ``pip install symbolic`` for the reference.

    python bench/bench_crash.py [--repeat N] [--rounds N] [--in-process]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_LIBS = [
    "/lib/x86_64-linux-gnu/libc.so.6",
    # libstdc++6-12-dbg ships a debug build of the library (not detached symbols):
    # its debug info is moved into the local store like the test libraries'
    "/usr/lib/x86_64-linux-gnu/debug/libstdc++.so.6",
    "/usr/bin/python3.11",
    "/lib/x86_64-linux-gnu/libm.so.6",
    "/lib64/ld-linux-x86-64.so.2",
    "/lib/x86_64-linux-gnu/libresolv.so.2",
    "/lib/x86_64-linux-gnu/libmvec.so.1",
    "/lib/x86_64-linux-gnu/libnss_dns.so.2",
]
THREADS, FRAMES, MODULES = 8, 64, 10

sys.path.insert(0, str(ROOT / "tests"))
from crash_programs import PROGRAMS, build_id, build_programs, functions, keep_debug, load_span, run, store_path  # noqa: E402


def prepare(work: Path) -> Dict[str, Any]:
    """Builds the test libraries and their store; returns the request and the stores."""
    src = build_programs(work / "src")
    store = work / "store"
    binaries = [str(src / n) for n in PROGRAMS]
    for b in binaries:
        keep_debug(b, store)
    for lib in SYSTEM_LIBS:
        if len(binaries) == MODULES:
            break
        real = os.path.realpath(lib)
        if not os.path.exists(real):
            continue
        if store_path(Path("/usr/lib/debug"), build_id(real)).exists():
            binaries.append(real)
        elif ".debug_info" in run(["readelf", "-SW", real], Path("/")):
            keep_debug(real, store)
            binaries.append(real)
    if len(binaries) < MODULES:
        sys.stderr.write("note: only %d modules have debug files (install libc6-dbg, libstdc++6-12-dbg, "
                         "python3.11-dbg)\n" % len(binaries))
    rng = random.Random(15)
    modules, per_module = [], []
    for i, b in enumerate(binaries):
        bid = build_id(b)
        base = 0x7F0000000000 + i * 0x10000000
        vbase, size = load_span(b)
        modules.append({"type": "elf", "code_id": bid, "code_file": b, "debug_file": b,
                        "image_addr": hex(base), "image_size": size})
        local = store_path(store, bid)
        funcs = functions(local if local.exists() else store_path(Path("/usr/lib/debug"), bid))
        per_module.append([base + a - vbase + rng.randrange(s) for a, s in rng.sample(funcs, min(len(funcs), 400))])
    threads = []
    for _t in range(THREADS):
        frames = []
        for _f in range(FRAMES):
            frames.append({"instruction_addr": hex(rng.choice(rng.choice(per_module)))})
        threads.append({"frames": frames})
    request = {"modules": modules, "stacktraces": threads}
    return {"request": request, "stores": [str(store), "/usr/lib/debug"]}


# -- workers (one process per measurement) -----------------------------------------


def _pysym_worker(spec: Dict[str, Any], cache: str, repeat: int, in_process: bool = False) -> Dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import pysym
    from pysym._host import get_runtime

    get_runtime().current()  # the engine is ready (compiled module loaded) before timing
    options = {"build_processes": 0} if in_process else {}
    sym = pysym.Symbolicator(spec["stores"], cache_dir=cache, **options)
    resp, out = _timed(lambda: sym.symbolicate(spec["request"]), repeat)
    out["answers"] = hashlib.sha256(json.dumps(resp, sort_keys=True).encode()).hexdigest()
    out["stats"] = sym.stats
    return out


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (pysym's build
    processes end within the request that started them)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + r.ru_utime + r.ru_stime


def _timed(request: Any, repeat: int) -> Tuple[Any, Dict[str, Any]]:
    """The first response of ``request()`` and its wall and CPU times, then the median
    of ``repeat`` more (hot)."""
    c0, t0 = _cpu(), time.perf_counter()
    resp = request()
    first, first_cpu = time.perf_counter() - t0, _cpu() - c0
    hot, hot_cpu = [], []
    for _ in range(repeat):
        c0, t0 = _cpu(), time.perf_counter()
        request()
        hot.append(time.perf_counter() - t0)
        hot_cpu.append(_cpu() - c0)
    ok = sum(f["status"] == "symbolicated" for st in resp["stacktraces"] for f in st["frames"])
    return resp, {"first": first, "hot": statistics.median(hot), "first_cpu": first_cpu,
                  "hot_cpu": statistics.median(hot_cpu), "symbolicated": ok}


def symbolic_symcache(stores: List[str], cache: str, code_id: str) -> Any:
    """symbolic's symcache of the debug file with ``code_id`` in ``stores`` (``.build-id``
    layout), built once into ``cache`` (shared by processes); None when no store has it."""
    from symbolic.debuginfo import Archive
    from symbolic.symcache import SymCache

    for store in stores:
        p = os.path.join(store, ".build-id", code_id[:2], code_id[2:] + ".debug")
        if not os.path.exists(p):
            continue
        obj = next(iter(Archive.open(p).iter_objects()))
        if obj.code_id is not None and obj.code_id.lower() != code_id:
            continue
        entry = os.path.join(cache, code_id + ".symc")
        if os.path.exists(entry):
            return SymCache.open(entry)
        sc = obj.make_symcache()
        tmp = "%s.%d.tmp" % (entry, os.getpid())
        with open(tmp, "wb") as f:
            sc.dump_into(f)
        os.replace(tmp, entry)
        return sc
    return None


def _symbolic_worker(spec: Dict[str, Any], cache: str, repeat: int) -> Dict[str, Any]:
    """The reference: the same discovery by build id, symbolic's symcaches on disk."""
    os.makedirs(cache, exist_ok=True)
    loaded: Dict[str, Any] = {}

    def symcache(code_id: str) -> Any:
        sc = loaded.get(code_id)
        if sc is None:
            sc = symbolic_symcache(spec["stores"], cache, code_id)
            if sc is not None:
                loaded[code_id] = sc
        return sc

    def symbolicate(req: Dict[str, Any]) -> Dict[str, Any]:
        mods = sorted((int(m["image_addr"], 16), m) for m in req["modules"])
        starts = [a for a, _ in mods]
        import bisect

        out = []
        for st in req["stacktraces"]:
            frames = []
            for i, fr in enumerate(st["frames"]):
                addr = int(fr["instruction_addr"], 16)
                k = bisect.bisect_right(starts, addr) - 1
                base, m = mods[k]
                sc = symcache(m["code_id"])
                rel = addr - base - (1 if i else 0)
                locs = sc.lookup(rel) if sc is not None else []
                for loc in locs:
                    # (symbolic 13's Python API has no demangler: names as stored, while
                    # pysym's "function" is demangled -- the reference does less work here)
                    frames.append({"status": "symbolicated", "original_index": i, "function": loc.symbol,
                                   "abs_path": loc.full_path, "lineno": loc.line,
                                   "sym_addr": hex(base + loc.sym_addr)})
                if not locs:
                    frames.append({"status": "missing_symbol", "original_index": i})
            out.append({"frames": frames})
        return {"stacktraces": out}

    return _timed(lambda: symbolicate(spec["request"]), repeat)[1]


def _worker_main(argv: List[str]) -> None:
    tool, spec_path, cache, repeat = argv
    with open(spec_path) as f:
        spec = json.load(f)
    if tool == "symbolic":
        print(json.dumps(_symbolic_worker(spec, cache, int(repeat))))
    else:
        print(json.dumps(_pysym_worker(spec, cache, int(repeat), in_process=tool == "pysym-inproc")))


def _measure(tool: str, engine: str, spec: str, cache: str, repeat: int) -> Dict[str, Any]:
    env = dict(os.environ)
    if engine:
        env["PYSYM_ENGINE"] = engine
    p = subprocess.run([sys.executable, __file__, "--worker", tool, spec, cache, str(repeat)],
                       env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s %s failed:\n%s" % (tool, engine, p.stderr[-2000:]))
    return json.loads(p.stdout)  # type: ignore[no-any-return]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=30, help="hot requests per process (default 30)")
    ap.add_argument("--rounds", type=int, default=3, help="cold/warm processes per tool (median; default 3)")
    ap.add_argument("--in-process", action="store_true",
                    help="also a row per engine that builds in child processes by default (wasmer) with "
                         "build_processes=0: the builds of a request one after another, in-process")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from pysym._engine import available_engines

    work = Path(tempfile.mkdtemp(prefix="pysym-bench-crash-"))
    try:
        spec = prepare(work)
        spec_path = work / "spec.json"
        spec_path.write_text(json.dumps(spec))
        n_frames = sum(len(t["frames"]) for t in spec["request"]["stacktraces"])
        print("request: %d threads x %d frames = %d frames over %d modules" % (
            THREADS, FRAMES, n_frames, len(spec["request"]["modules"])))
        # (the machine's load is part of the result: ratios hold better than times)
        print("load average at start: %.1f %.1f %.1f, %d CPUs" % (os.getloadavg() + (os.cpu_count() or 0,)))
        tools: List[Tuple[str, str]] = [("pysym", e) for e in available_engines()]
        if args.in_process:
            from pysym._engine import load_engine

            tools += [("pysym-inproc", e) for e in available_engines() if not load_engine(e).parallel]
        try:
            import symbolic  # noqa: F401

            tools.append(("symbolic", ""))
        except ImportError:
            print("symbolic is not installed: no reference column (pip install symbolic)")
        rows: Dict[str, Dict[str, float]] = {}
        answers = set()
        for tool, engine in tools:
            name = tool if not engine else "pysym/%s" % engine + (" inproc" if tool == "pysym-inproc" else "")
            row: Dict[str, List[float]] = {k: [] for k in ("cold", "warm", "hot", "cold_cpu", "warm_cpu", "hot_cpu")}
            ok = 0
            for r in range(args.rounds):
                cache = str(work / ("cache-%s-%d" % (name.replace("/", "-").replace(" ", "-"), r)))
                c = _measure(tool, engine, str(spec_path), cache, args.repeat)
                w = _measure(tool, engine, str(spec_path), cache, args.repeat)
                for suffix in ("", "_cpu"):
                    row["cold" + suffix].append(c["first" + suffix])
                    row["warm" + suffix].append(w["first" + suffix])
                    row["hot" + suffix].extend([c["hot" + suffix], w["hot" + suffix]])
                ok = c["symbolicated"]
                answers.update(x["answers"] for x in (c, w) if "answers" in x)
            rows[name] = {k: statistics.median(v) for k, v in row.items()}
            rows[name]["ok"] = ok
        ref = rows.get("symbolic")
        for title, suffix in (("wall", ""), ("CPU", "_cpu")):
            print("%-18s %10s %10s %10s %8s   %s" % (title, "cold ms", "warm ms", "hot ms", "frames",
                                                     "ratio to symbolic"))
            for name, r in rows.items():
                cold, warm, hot = r["cold" + suffix], r["warm" + suffix], r["hot" + suffix]
                ratio = ""
                if ref and name != "symbolic":
                    ratio = "cold %.2fx  warm %.2fx  hot %.2fx" % (
                        cold / ref["cold" + suffix], warm / ref["warm" + suffix], hot / ref["hot" + suffix])
                print("%-18s %10.1f %10.2f %10.3f %8d   %s" % (name, cold * 1e3, warm * 1e3, hot * 1e3, r["ok"], ratio))
        print("targets: hot <= 0.5x, warm <= 1.0x, cold <= 1.2x (frames: output frames symbolicated, "
              "inlinees included)")
        if len(answers) == 1:
            print("pysym answers: the same on every engine and round (sha256 %s)" % answers.pop()[:16])
        elif answers:
            print("pysym answers DIFFER between engines or rounds: %s" % sorted(a[:16] for a in answers))
            sys.exit(1)
        print("load average at end: %.1f %.1f %.1f" % os.getloadavg())
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
