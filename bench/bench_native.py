#!/usr/bin/env python3
"""Native benchmark: pysym (every installed engine) vs symbolic vs llvm-symbolizer.

    python bench/bench_native.py [--files a.so,b.so] [--lookups 100000] [--repeat 3]
    python bench/bench_native.py --quick          # builds only, one round, files < 50 MB
    python bench/bench_native.py --fetch          # first download the Debian -dbg inputs

A program, not a test: it measures, with the same inputs on the same machine, and prints
one table per file with ratios against PyPI ``symbolic`` (Sentry's Rust-native
``symbolic.debuginfo.Archive`` / ``make_symcache`` / ``SymCache.lookup``), then one summary
table of every file. Nothing is asserted; the "targets" column says whether pysym's goals
(issue 22) are met:

* symcache build time <= 1.0x symbolic's, build peak RSS <= 0.8x symbolic's (absolute
  peak of the build process, as a service sees it),
* batched lookups (``SymCache.lookup_many``) >= 1 M addresses/s.

Inputs (``--files`` to pick others), looked up under ``$PYSYM_BENCH_DIR`` (default
``/tmp/bigsrc``), every file described in the output:

* Debian's detached debug files (``-dbg`` packages, GCC 12, DWARF 5, sections
  zlib-compressed): the largest ``.debug`` of ``libc6-dbg`` (libc.so.6, 4 MB) and of
  ``python3.11-dbg`` (11 MB), from the installed package or from ``debian/<package>`` under
  the bench directory, and the largest of ``openjdk-17-dbg`` (``libjvm.so``'s, 156 MB,
  heavily inlined C++), which ``--fetch`` puts in ``debian/openjdk-17-dbg``
  (``apt-get download`` + ``dpkg-deb -x``; nothing is installed).
* DuckDB 0.9.2 from the PyPI sdist built with ``g++ -g -O2`` (190 TUs, 234 MB), as in::

    pip download --no-binary :all: --no-deps duckdb==0.9.2 && tar xzf duckdb-0.9.2.tar.gz
    cd duckdb-0.9.2 && mkdir obj && grep '^duckdb_build' sources.list | grep -v extension \
      | head -190 | xargs -P2 -I{} sh -c 'g++ -std=c++11 -g -O2 -fPIC -w \
        $(sed "s/^/-I/" includes.list | tr "\n" " ") -c {} -o obj/$(echo {} | tr / _).o'
    g++ -shared -o /tmp/bigsrc/libduckdb-190tu-g-O2.so obj/*.o

* The same sources built with clang 14, once with DWARF 4 and once with DWARF 5 (another
  producer: different abbreviations, forms, line-table header, ``.debug_rnglists``/
  ``.debug_str_offsets`` in 5): the core's unity files (``duckdb_build/ub_src_*``, in
  ``sources.list`` order; as many as were built, the count is in the file name)::

    for f in $(grep '^duckdb_build/ub_src' sources.list | head -N); do for v in 4 5; do
      clang++-14 -std=c++11 -g -gdwarf-$v -O2 -fPIC -w $(sed "s/^/-I/" includes.list | tr "\n" " ") \
        -c $f -o o$v/$(echo $f | tr / _).o; done; done
    clang++-14 -shared -o /tmp/bigsrc/libduckdb-clang14-dwarf4-NNub.so o4/*.o   # and 5

* symbolic's own ``_lowlevel__lib.so`` (Rust, 78 MB, shipped with DWARF).
* PDBs: ``generated-<N>tu.pdb`` (with its ``.exe``) under the bench directory, made by
  ``--make-pdb N``: N generated C++ files (recursive class templates, 400 instantiations
  each, with always-inline members: procedures, inline sites, classes and member function
  ids in the type streams) built with ``clang++-14 --target=x86_64-pc-windows-msvc -g
  -gcodeview -O2`` and linked by ``lld-link-14 /debug`` (no headers or libraries needed);
  about 0.7 MB of PDB per file (``--make-pdb 150``: 104 MB). Two files are compiled; the
  others are the first one's object renamed (see ``make_pdb``: it differs from compiling
  the file only in the COFF time stamp and section checksums, which the linker ignores).
  Lookups of a PDB are RVAs sampled from the image's
  ``.text``; llvm-symbolizer 19 (``--obj=`` the image) reads the PDB beside it.

Build: each build runs in a fresh interpreter, started by a small wrapper process that
waits for it and reads ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the peak RSS of
that one child). The build time is measured inside the child (open + build, not the
interpreter start nor the engine's; ``start s`` is the engine start-up of the same child:
compiled-module cache load and instantiation; ``cpu s`` is the build's CPU time, user +
system of the child's threads, which a loaded machine disturbs less). The tools take turns (symbolic, then each
engine, ``--repeat`` rounds), so a load change on the machine hits all of them alike; the
median time and the largest peak RSS are reported. The RSS is also reported minus a
baseline child that only imports the library (and, for pysym, starts the engine and
instantiates the module). The load average is printed with the results: on a shared
machine only the ratios of the same run mean anything. Every child reads its Python
bytecode from a cache of the bench's own (``PYTHONPYCACHEPREFIX``, filled by warm-up
children that import what the build children import), as installed packages have theirs,
even where ``PYTHONDONTWRITEBYTECODE`` is set.

Lookups (in another child, from the symcache file the build child wrote): 100,000
addresses sampled (seeded) from the file's line table
(``llvm-dwarfdump --debug-line``), relative to the image base. pysym: one
``lookup_many`` call, then every frame of its results read (``Frame`` objects, inlinees
included; results are lazy, so both are timed: "cold/s" and "frames/s" below; "frames/s run"
is the same read of another fresh symcache's cold batch later in the same process, as a
service reads a new file's first batch); symbolic: a loop of
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
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent

SYMBOLIZER = shutil.which("llvm-symbolizer") or shutil.which("llvm-symbolizer-14")
DWARFDUMP = shutil.which("llvm-dwarfdump") or shutil.which("llvm-dwarfdump-14")
# (PDBs: LLVM 19's native PDB reader; its llvm-objdump finds an image's .text)
SYMBOLIZER19 = "/usr/lib/llvm-19/bin/llvm-symbolizer"
PDB_ORACLE_LOOKUPS = 2000

BENCH_DIR = os.environ.get("PYSYM_BENCH_DIR") or "/tmp/bigsrc"
# Debian packages of detached debug files: the largest .debug of each is an input.
DEBIAN_DBG = ["libc6-dbg", "python3.11-dbg", "openjdk-17-dbg"]
QUICK_MAX = 50 << 20


def candidates() -> List[str]:
    """Inputs present here: Debian debug files, DuckDB builds, Debian's libLLVM."""
    out = [largest_debug(pkg) for pkg in DEBIAN_DBG]
    out += [os.path.join(BENCH_DIR, "libduckdb-190tu-g-O2.so"), os.path.join(BENCH_DIR, "libduckdb-g-O2.so")]
    out += sorted(str(p) for p in Path(BENCH_DIR).glob("libduckdb-clang14-dwarf*.so"))
    out.append("/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1")
    out += sorted((str(p) for p in Path(BENCH_DIR).glob("generated-*tu.pdb")), key=os.path.getsize)
    return [p for p in out if p]


PDB_TEMPLATE = """namespace tu%(k)05d {
template <int N> struct Node {
  int v[4]; const char* tag;
  __attribute__((always_inline)) inline int get(int i) const { return v[i & 3] * N + tag[i & 1]; }
  inline int sum(int x) const { int s = x; for (int i = 0; i < 4; i++) s += get(i + x); return s; }
  __attribute__((noinline)) int work(int x);
  __attribute__((noinline)) static int mix(int a, int b) { return a > b ? (a - b) * N : (b - a) ^ N; }
};
template <> struct Node<0> { int v[4]; const char* tag; int work(int x) { return x + v[0]; } };
template <int N> int Node<N>::work(int x) {
  Node<N - 1> c{{x, x + 1, x + 2, N}, "ab"};
  int r = sum(x) + mix(x, N);
  if (x & 1) r += c.work(x >> 1);
  return r;
}
}
int entry%(k)05d(int x) { tu%(k)05d::Node<400> n{{x, 1, 2, 3}, "cd"}; return n.work(x); }
"""
# Files compiled for real; the others are copies of the first with every name renamed.
PDB_COMPILED = 2


def make_pdb(n: int) -> str:
    """Builds ``generated-<n>tu.exe`` and its PDB in the bench directory; the objects are
    kept in ``pdbgen/`` so a larger ``n`` builds only the rest.

    Compiling a file costs ~8.5 s of CPU for 0.7 MB of PDB, so only the first
    ``PDB_COMPILED`` are compiled; file ``k`` beyond them is file 0's object with
    ``tu00000`` and ``entry00000`` (namespace, names, source file name) renamed ``tu<k>``,
    ``entry<k>`` (the same length) and the source's MD5 in the file checksums replaced by file ``k``'s: what the
    compiler makes of file ``k``'s source, without compiling it."""
    import hashlib

    work = os.path.join(BENCH_DIR, "pdbgen")
    os.makedirs(work, exist_ok=True)
    cc = ["clang++-14", "--target=x86_64-pc-windows-msvc", "-std=c++14", "-ftemplate-depth=2000", "-g",
          "-gcodeview", "-O2", "-c"]
    todo = []
    for k in range(n):
        src = os.path.join(work, "tu%05d.cpp" % k)
        with open(src, "w") as f:
            f.write(PDB_TEMPLATE % {"k": k})
        if k < PDB_COMPILED and not os.path.exists(os.path.join(work, "tu%05d.obj" % k)):
            todo.append(cc + ["tu%05d.cpp" % k, "-o", "tu%05d.obj" % k])
    calls = "".join("s += entry%05d(s);\n" % k for k in range(n))
    with open(os.path.join(work, "main.cpp"), "w") as f:
        f.write("".join("int entry%05d(int);\n" % k for k in range(n))
                + "int mainCRTStartup(void) { int s = 1;\n" + calls + "return s; }\n")
    todo.append(cc + ["main.cpp", "-o", "main.obj"])
    running: List[subprocess.Popen] = []
    for cmd in todo:
        while len(running) >= 2:
            running.pop(0).wait()
        running.append(subprocess.Popen(cmd, cwd=work))
    for p in running:
        p.wait()
    with open(os.path.join(work, "tu00000.obj"), "rb") as f:
        first = f.read()
    md5_0 = hashlib.md5((PDB_TEMPLATE % {"k": 0}).encode()).digest()
    if first.count(md5_0) != 1:
        raise SystemExit("tu00000.obj: the source checksum is not found once; cannot derive copies")
    for k in range(PDB_COMPILED, n):
        obj = os.path.join(work, "tu%05d.obj" % k)
        if not os.path.exists(obj):
            md5_k = hashlib.md5((PDB_TEMPLATE % {"k": k}).encode()).digest()
            with open(obj, "wb") as f:
                f.write(first.replace(b"tu00000", b"tu%05d" % k).replace(b"entry00000", b"entry%05d" % k)
                        .replace(md5_0, md5_k))
    name = os.path.join(BENCH_DIR, "generated-%dtu" % n)
    subprocess.run(["lld-link-14", "/debug", "/nodefaultlib", "/entry:mainCRTStartup", "/subsystem:console",
                    "/out:%s.exe" % name, "/pdb:%s.pdb" % name, "main.obj"] + ["tu%05d.obj" % k for k in range(n)],
                   cwd=work, check=True)
    print("made %s.pdb (%.1f MB)" % (name, os.path.getsize(name + ".pdb") / 1e6))
    return name + ".pdb"


def pdb_image(path: str) -> Optional[str]:
    """The image beside a PDB (same stem, ``.exe``), or None."""
    exe = os.path.splitext(path)[0] + ".exe"
    return exe if path.endswith(".pdb") and os.path.exists(exe) else None


def largest_debug(pkg: str) -> str:
    """The largest ``.debug`` file of a Debian package: installed, or extracted in the bench
    directory (``debian/<pkg>``, see ``--fetch``); "" when neither."""
    paths: List[str] = []
    try:
        listed = subprocess.run(["dpkg", "-L", pkg], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if listed.returncode == 0:
            paths = [p for p in listed.stdout.decode().split("\n") if p.endswith(".debug")]
    except OSError:
        pass
    if not paths:
        paths = [str(p) for p in Path(BENCH_DIR, "debian", pkg).glob("usr/lib/debug/**/*.debug")]
    paths = [p for p in paths if os.path.isfile(p)]
    return max(paths, key=os.path.getsize) if paths else ""


def fetch_debian() -> None:
    """Downloads and extracts (without installing) the -dbg packages not installed here."""
    for pkg in DEBIAN_DBG:
        if largest_debug(pkg):
            continue
        dest = os.path.join(BENCH_DIR, "debian", pkg)
        os.makedirs(dest, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["apt-get", "download", pkg], cwd=tmp, check=True)
            for deb in Path(tmp).glob("*.deb"):
                subprocess.run(["dpkg-deb", "-x", str(deb), dest], check=True)
        print("fetched %s into %s" % (pkg, dest))


# -- child side ----------------------------------------------------------------------


def _child(args: argparse.Namespace) -> None:
    """Runs in a fresh interpreter; prints one JSON line."""
    out: Dict[str, Any] = {}
    if args.tool == "pysym":
        import pysym
        from pysym._host import get_runtime

        # No wall-clock cap: on a loaded machine libjvm's build can pass the default 60 s.
        pysym.configure(timeout=None)
        t0 = time.perf_counter()
        get_runtime().current()  # compile + instantiate the module before timing
        out["start"] = time.perf_counter() - t0
        if args.what == "build":
            t0, c0 = time.perf_counter(), time.process_time()
            sc = pysym.SymCache.from_object(args.file)
            out["time"] = time.perf_counter() - t0
            out["cpu"] = time.process_time() - c0
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
                t0, c0 = time.perf_counter(), time.process_time()
                obj = _symbolic_object(Archive, args.file)
                sc = obj.make_symcache()
                out["time"] = time.perf_counter() - t0
                out["cpu"] = time.process_time() - c0
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
    t0, c0 = time.perf_counter(), time.process_time()
    frames = 0
    for fs in res:
        for _f in fs:
            frames += 1
    out["iterate"] = time.perf_counter() - t0
    out["iterate_cpu"] = time.process_time() - c0  # the same, in CPU time (a loaded machine)
    out["frames"] = frames
    # Columns and JSON on fresh symcaches: a bulk reader that needs no Frame object. Then
    # the first measure again on a fresh symcache: a service's cold batch, in a process that
    # has read one before (the first batch of a new interpreter also pays for its allocator's
    # first large blocks: fresh pages from the kernel).
    for what in ("columns", "json", "iterate_running"):
        fresh = pysym.SymCache.from_path(cache)
        gc.collect()
        t0 = time.perf_counter()
        r = fresh.lookup_many(addrs)
        if what == "columns":
            _ = (r.functions, r.files, r.lines)
        elif what == "json":
            _ = r.to_json()
        else:
            t0, c0 = time.perf_counter(), time.process_time()
            for fs in r:
                for _f in fs:
                    pass
            out["iterate_running_cpu"] = time.process_time() - c0
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


def builds(cmds: Dict[str, Tuple[List[str], Dict[str, str]]], repeat: int) -> Dict[str, Dict[str, Any]]:
    """``repeat`` rounds of one build child (a fresh process) per tool, the tools taking
    turns: per tool the median time and start-up, the largest peak RSS."""
    runs: Dict[str, List[Dict[str, Any]]] = {name: [] for name in cmds}
    for _ in range(max(1, repeat)):
        for name, (cmd, env) in cmds.items():
            runs[name].append(measure(cmd, env))
    out = {}
    for name, rs in runs.items():
        times = sorted(r["time"] for r in rs)
        starts = sorted(r.get("start", 0.0) for r in rs)
        cpus = sorted(r.get("cpu", 0.0) for r in rs)
        out[name] = {"time": times[len(times) // 2], "start": starts[len(starts) // 2], "cpu": cpus[len(cpus) // 2],
                     "rss_mb": max(r["rss_mb"] for r in rs)}
    return out


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


def find_inputs(quick: bool) -> List[str]:
    found = []
    seen = set()
    for c in candidates():
        if os.path.exists(c) and os.path.realpath(c) not in seen and (debug_info_size(c) > 0 or pdb_image(c)):
            found.append(c)
            seen.add(os.path.realpath(c))
    # symbolic's own library (Rust).
    try:
        import symbolic

        lib = next(iter(sorted(Path(symbolic.__file__).parent.glob("_lowlevel*.so"))), None)
        if lib is not None and os.path.realpath(lib) not in seen and debug_info_size(str(lib)) > 0:
            found.append(str(lib))
    except ImportError:
        pass
    if quick:
        found = [f for f in found if os.path.getsize(f) < QUICK_MAX]
    found.sort(key=os.path.getsize)
    return found


def sample_addresses(path: str, n: int, base: int, workdir: str) -> str:
    """Writes ``n`` seeded samples of line-table addresses (relative to ``base``) to a file."""
    exe = pdb_image(path)
    if exe is not None:
        return sample_image_text(exe, n, workdir)
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


def sample_image_text(exe: str, n: int, workdir: str) -> str:
    """``n`` seeded RVAs in a PE image's ``.text`` (the file of RVAs; ``.abs`` beside it
    holds the same as image addresses, for llvm-symbolizer)."""
    import pysym

    image = pysym.Object.from_path(exe)
    out = subprocess.run([SYMBOLIZER19.replace("symbolizer", "objdump"), "-h", exe], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    vma, size = next((int(f[3], 16), int(f[2], 16)) for f in map(str.split, out.splitlines())
                     if len(f) >= 4 and f[1] == ".text")
    rng = random.Random(0x5EED)
    picked = [vma + rng.randrange(size) for _ in range(n)]
    rel = os.path.join(workdir, "addrs-%x.txt" % zlib.crc32(exe.encode()))
    with open(rel, "w") as f:
        f.write("\n".join("%x" % (a - image.image_base) for a in picked))
    with open(rel + ".abs", "w") as f:
        f.write("\n".join("0x%x" % a for a in picked) + "\n")
    return rel


def fmt_mb(x: float) -> str:
    return "%.0f MB" % x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", default="")
    ap.add_argument("--lookups", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=None, help="rounds (default 3, 1 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="builds only (no lookups), one round unless --repeat, inputs under 50 MB")
    ap.add_argument("--fetch", action="store_true",
                    help="first download and extract the Debian -dbg packages that are not installed")
    ap.add_argument("--make-pdb", type=int, default=0, metavar="N",
                    help="first build generated-<N>tu.exe and its PDB from N generated C++ files")
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
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.fetch:
        fetch_debian()
    if args.make_pdb:
        make_pdb(args.make_pdb)

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

    files = [f for f in args.files.split(",") if f] or find_inputs(args.quick)
    if not files:
        raise SystemExit("no ELF file with DWARF found; pass --files")

    base_env = dict(os.environ)
    base_env["PYTHONPATH"] = str(ROOT) + os.pathsep + base_env.get("PYTHONPATH", "")
    # A compiled-module cache of the bench's own (filled by the baseline children), so that
    # start-up is the steady state's and not a recompile after another checkout evicted it.
    own_cache = None
    if "PYSYM_CACHE_DIR" not in base_env:
        own_cache = tempfile.TemporaryDirectory()
        os.chmod(own_cache.name, 0o700)
        base_env["PYSYM_CACHE_DIR"] = own_cache.name
    # Bytecode of the bench's own for every child (filled by the first ones): installed
    # packages come with theirs (pip compiles them: wasmtime's, symbolic's), while a
    # checkout run with PYTHONDONTWRITEBYTECODE=1 compiled pysym's sources in every child,
    # ~2.3 MB of peak RSS that an installed pysym does not pay. Nothing is written in the
    # checkout or in site-packages.
    pycache = tempfile.TemporaryDirectory()
    base_env.pop("PYTHONDONTWRITEBYTECODE", None)
    base_env["PYTHONPYCACHEPREFIX"] = pycache.name

    print("pysym native benchmark — python %s, engines: %s, symbolic: %s, llvm-symbolizer: %s"
          % (sys.version.split()[0], ", ".join(engines) or "none",
             _version("symbolic") if have_symbolic else "absent", SYMBOLIZER or "absent"))
    print("RSS = peak RSS of the build child (absolute / minus the baseline child that only "
          "imports the library and, for pysym, starts the engine); load average at start: %s" % _load())
    print()

    # The bytecode of what every build child imports besides the tool (this script's own
    # modules: argparse, subprocess...) and of the tools' build modules: else the first
    # build child of a tool compiles them, ~1.3 MB of its peak RSS, which the largest of
    # the rounds reports.
    measure(child_cmd("none", "none", "", ""), base_env)  # a child of this script that does nothing
    if have_symbolic:
        measure([sys.executable, "-c", "import symbolic.debuginfo, symbolic.symcache; print('{}')"], base_env)

    # Baselines: a child that imports and starts, nothing else.
    baselines: Dict[str, float] = {}
    for eng in engines:
        env = dict(base_env, PYSYM_ENGINE=eng)
        start = [sys.executable, "-c",
                 "import pysym; from pysym._host import get_runtime; get_runtime().current(); print('{}')"]
        measure(start, env)  # fills the compiled-module cache (compiling takes far more memory)
        baselines["pysym/" + eng] = measure(start, env)["rss_mb"]
    if have_symbolic:
        start = [sys.executable, "-c", "from symbolic.debuginfo import Archive; print('{}')"]
        measure(start, base_env)  # fills the bytecode cache
        baselines["symbolic"] = measure(start, base_env)["rss_mb"]

    summary = []
    with tempfile.TemporaryDirectory() as work:
        for path in files:
            size = os.path.getsize(path)
            obj = pysym.Object.from_path(path)
            print("%s — %s, %.1f MB, .debug_info %.1f MB in the file, %s %s"
                  % (path, describe(path), size / 1e6, debug_info_size(path) / 1e6, obj.kind, obj.arch))
            cmds: Dict[str, Tuple[List[str], Dict[str, str]]] = {}
            lookups: List[Any] = []
            if have_symbolic:
                cmds["symbolic"] = (child_cmd("symbolic", "build", path, os.path.join(work, "symbolic.symc")),
                                    base_env)
            for eng in engines:
                cmds["pysym/" + eng] = (child_cmd("pysym", "build", path, os.path.join(work, "pysym-%s.symc" % eng)),
                                        dict(base_env, PYSYM_ENGINE=eng))
            built = builds(cmds, args.repeat)
            looked: Dict[str, Dict[str, Any]] = {}
            if not args.quick:
                addrs = sample_addresses(path, args.lookups, obj.image_base, work)
                for name, (cmd, env) in cmds.items():
                    tool = "symbolic" if name == "symbolic" else "pysym"
                    looked[name] = measure(child_cmd(tool, "lookup", path, cmd[cmd.index("--cache") + 1], addrs,
                                                     args.repeat), env)
                    if name != "symbolic":
                        lookups.append((name.split("/", 1)[1], looked[name]))
                exe = pdb_image(path)
                if exe is not None and os.path.exists(SYMBOLIZER19):
                    # (its PDB reader answers ~150 addresses/s here: a slice of the sample)
                    with open(addrs + ".abs") as f:
                        head = f.read().split()[:PDB_ORACLE_LOOKUPS]
                    with open(addrs + ".head", "w") as f:
                        f.write("\n".join(head) + "\n")
                    s = measure([SYMBOLIZER19, "--obj=" + exe, "--inlining"], base_env, stdin=addrs + ".head")
                    looked["llvm-symbolizer"] = {"time": s["wall"], "rss_mb": s["rss_mb"], "n": len(head)}
                elif SYMBOLIZER and exe is None:
                    s = measure([SYMBOLIZER, "--obj=" + path, "--inlining"], base_env, stdin=addrs + ".abs")
                    looked["llvm-symbolizer"] = {"time": s["wall"], "rss_mb": s["rss_mb"]}
            for cmd, _ in cmds.values():
                cache = cmd[cmd.index("--cache") + 1]
                if os.path.exists(cache):
                    os.unlink(cache)
            obj._source.close()

            sym = built.get("symbolic")
            hdr = "  %-16s %8s %7s %7s %7s %7s %9s %7s %9s %8s %12s %7s %12s %8s  %s" % (
                "tool", "build s", "start s", "x sym", "cpu s", "x sym", "peak RSS", "x sym", "-base", "x sym",
                "lookups/s", "x sym", "warm/s", "frames", "targets")
            print(hdr)
            ratios: Dict[str, Tuple[Optional[float], Optional[float], Optional[float]]] = {}
            for name in list(cmds) + (["llvm-symbolizer"] if "llvm-symbolizer" in looked else []):
                b = built.get(name)
                lk = looked.get(name)
                is_pysym = name.startswith("pysym")
                tx = b["time"] / sym["time"] if (b and sym) else None
                cx = b["cpu"] / sym["cpu"] if (b and sym and sym["cpu"]) else None
                rx = b["rss_mb"] / sym["rss_mb"] if (b and sym) else None
                net = b["rss_mb"] - baselines[name] if b else None
                nx = net / (sym["rss_mb"] - baselines["symbolic"]) if (net is not None and sym) else None
                rate = lk.get("n", args.lookups) / lk["time"] if lk else None
                warm = args.lookups / lk["warm"] if (lk and "warm" in lk) else None
                sym_rate = args.lookups / looked["symbolic"]["time"] if "symbolic" in looked else None
                lx = rate / sym_rate if (rate and sym_rate) else None
                marks = []
                if is_pysym:
                    ratios[name] = (tx, rx, cx)
                    if tx is not None:
                        marks.append("build %s" % ("ok" if tx <= 1.0 else "MISS"))
                    if rx is not None:
                        marks.append("rss %s" % ("ok" if rx <= 0.8 else "MISS"))
                    if rate is not None:
                        marks.append("lookups cold %s warm %s" % (
                            "ok" if rate >= 1e6 else "MISS", "ok" if (warm or 0) >= 3e6 else "MISS"))
                rss = b["rss_mb"] if b else (lk or {}).get("rss_mb")
                print("  %-16s %8s %7s %7s %7s %7s %9s %7s %9s %8s %12s %7s %12s %8s  %s" % (
                    name,
                    "%.2f" % b["time"] if b else "-",
                    "%.2f" % b["start"] if (b and is_pysym) else "-",
                    "%.2fx" % tx if tx is not None else "-",
                    "%.2f" % b["cpu"] if b else "-",
                    "%.2fx" % cx if cx is not None else "-",
                    fmt_mb(rss) if rss is not None else "-",
                    "%.2fx" % rx if rx is not None else "-",
                    fmt_mb(net) if net is not None else "-",
                    "%.2fx" % nx if nx is not None else "-",
                    "{:,.0f}".format(rate) if rate is not None else "-",
                    "%.1fx" % lx if lx is not None else "-",
                    "{:,.0f}".format(warm) if warm is not None else "-",
                    (lk or {}).get("frames", "-"),
                    ", ".join(marks)))
            if "llvm-symbolizer" in looked:
                print("  (llvm-symbolizer: one process, %d addresses on stdin, wall time incl. loading)"
                      % looked["llvm-symbolizer"].get("n", args.lookups))
            print("  load average now: %s" % _load())
            print_lookups(lookups, args.lookups)
            print()
            summary.append((path, size, ratios))

    print("Summary: build time and peak RSS of pysym / symbolic's (median of %d alternating runs; targets "
          "<= 1.00x time, <= 0.80x RSS)" % args.repeat)
    names = ["pysym/" + e for e in engines]
    print("  %-44s %9s  %s" % ("file", "size", "  ".join("%-31s" % n for n in names)))
    for path, size, ratios in summary:
        cells = []
        for n in names:
            tx, rx, cx = ratios.get(n, (None, None, None))
            cells.append("%-31s" % ("time %s cpu %s rss %s" % tuple("%.2fx" % x if x is not None else "-"
                                                                 for x in (tx, cx, rx))))
        print("  %-44s %7.1f MB  %s" % (short(path), size / 1e6, "  ".join(cells)))
    print("load average at the end: %s" % _load())
    pycache.cleanup()
    if own_cache is not None:
        own_cache.cleanup()


def _load() -> str:
    try:
        return " ".join("%.2f" % x for x in os.getloadavg())
    except OSError:
        return "?"


def short(path: str) -> str:
    """A file's name as the table shows it (Debian debug files by what they are)."""
    d = describe(path)
    name = os.path.basename(path)
    return "%s (%s)" % (d.split(":")[0], name[:10]) if name.endswith(".debug") else name[:44]


def print_lookups(lookups: List[Any], n: int) -> None:
    """pysym's lookup results (LookupResults): what reading them costs, by way of reading."""
    if not lookups:
        return
    print("  %-16s %13s %13s %13s %13s %13s %13s %13s %8s  %s" % (
        "pysym lookups", "cold/s", "frames/s", "frames/cpu s", "frames/s run", "columns/s", "json/s",
        "warm/s", "gc", "targets"))
    for eng, lk in lookups:
        cold, fps, warm = n / lk["time"], lk["frames"] / lk["iterate"], n / lk["warm"]
        fps_running = lk["frames"] / lk["iterate_running"]
        marks = "cold %s, frames %s (run %s), warm %s, gc %s" % (
            "ok" if cold >= 1e6 else "MISS", "ok" if fps >= 1e6 else "MISS", "ok" if fps_running >= 1e6 else "MISS",
            "ok" if warm >= 3e6 else "MISS", "ok" if lk["gc_share"] < 0.10 else "MISS")
        print("  %-16s %13s %13s %13s %13s %13s %13s %13s %7.1f%%  %s" % (
            "pysym/" + eng, "{:,.0f}".format(cold), "{:,.0f}".format(fps),
            "{:,.0f}".format(lk["frames"] / lk["iterate_cpu"]), "{:,.0f}".format(fps_running),
            "{:,.0f}".format(n / lk["columns"]), "{:,.0f}".format(n / lk["json"]), "{:,.0f}".format(warm),
            100 * lk["gc_share"], marks))
    print("  (cold: lookup_many on a fresh symcache, nothing decoded; frames/s: then reading every "
          "frame of it, the first batch of the process (frames/cpu s: the same in CPU time); "
          "frames/s run: the same on another fresh symcache, in the process that has read one "
          "(a service's cold batch); columns/json: a cold batch read as "
          "functions+files+lines / to_json(); gc: the collector's share of a loop of "
          "warm batches read as .functions, collector on)")


def describe(path: str) -> str:
    name = os.path.basename(path)
    for pkg in DEBIAN_DBG:
        if name.endswith(".debug") and os.path.realpath(path) == os.path.realpath(largest_debug(pkg) or "/"):
            return "%s: the largest debug file of Debian's %s (GCC, DWARF 5, compressed sections)" % (
                {"libc6-dbg": "libc", "python3.11-dbg": "python3.11", "openjdk-17-dbg": "libjvm"}[pkg], pkg)
    m = re.match(r"libduckdb-clang14-dwarf(\d)-(\d+)ub\.so$", name)
    if m:
        return "DuckDB 0.9.2 core, the first %s unity files built here with clang++-14 -g -gdwarf-%s -O2" % (
            m.group(2), m.group(1))
    if "duckdb" in name:
        return "DuckDB 0.9.2 core (C++, PyPI sdist), 190 TUs built here with g++ -g -O2, linked as a .so"
    if "_lowlevel" in name:
        return "symbolic's own Rust library (PyPI wheel, shipped with DWARF)"
    if "LLVM" in name:
        return "Debian libLLVM"
    m = re.match(r"generated-(\d+)tu\.pdb$", name)
    if m:
        return "PDB of %s generated C++ files (--make-pdb), clang++-14 -gcodeview -O2 + lld-link-14" % m.group(1)
    return "PDB" if name.endswith(".pdb") else "ELF"


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "?"


if __name__ == "__main__":
    main()
