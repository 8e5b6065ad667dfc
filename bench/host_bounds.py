"""Host-side costs on hostile inputs (issue: the host side is part of the sandbox).

Prints one row per class: time, peak RSS of a child (VmHWM) and the answer. Run it on
two checkouts (PYTHONPATH) to compare before and after; PYSYM_ENGINE picks the engine.

    python bench/host_bounds.py [--quick] [--no-1mb-line]

(``--no-1mb-line`` for the old parser, which needs about 45 minutes for it.)
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap

QUICK = "--quick" in sys.argv


def child(script: str) -> "tuple[float, int, str]":
    """Runs ``script`` in a child; its time (wall, in the child), peak RSS and answer."""
    code = textwrap.dedent(script) + textwrap.dedent("""
        for _l in open("/proc/self/status"):
            if _l.startswith("VmHWM:"):
                print("PEAK", int(_l.split()[1]) * 1024)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        return float("nan"), 0, "error: " + out.stderr.strip().splitlines()[-1][:80]
    lines = out.stdout.strip().splitlines()
    peak = int(lines[-1].split()[1])
    t = float(lines[-2].split()[1])
    return t, peak, lines[-3][:70]


def row(name: str, script: str) -> None:
    t, peak, answer = child(script)
    print("%-34s %9.2f s %8.0f MB   %s" % (name, t, peak / 2**20, answer), flush=True)


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="pysym-bounds-")
    # 2. quadratic patterns: 'at a' + N spaces + 'x'
    sizes = [10_000, 20_000] if QUICK else [10_000, 20_000, 40_000]
    if "--no-1mb-line" not in sys.argv:
        sizes.append(1_000_000)
    for n in sizes:
        row("parse_line at a+%d spaces" % n, """
            import time
            from pysym._stacktrace import parse_line
            line = "at a" + " " * %d + "x"
            t0 = time.perf_counter(); r = parse_line(line); t = time.perf_counter() - t0
            print("frame" if r else "not a frame"); print("T", t)
        """ % n)
    # 3a. source_context per frame on a large source
    lines = 20_000 if QUICK else 100_000
    src = "\n".join(("line %d " % i).ljust(90, "x") for i in range(lines))
    path = os.path.join(tmp, "big.map")
    with open(path, "w") as f:
        json.dump({"version": 3, "sources": ["big.js"], "sourcesContent": [src], "names": [],
                   "mappings": "AAAA"}, f)
    row("source_context x1000 (%d MB src)" % (len(src) >> 20), """
        import time
        from pysym import SourceMap
        sm = SourceMap.from_path(%r)
        t0 = time.perf_counter()
        for i in range(1000):
            ctx = sm.source_context("big.js", (i * 37) %% %d, 3)
        t = time.perf_counter() - t0
        print(repr(ctx[1][:20])); print("T", t)
    """ % (path, lines))
    # 3b. many short sources
    count = 500_000 if QUICK else 2_000_000
    path = os.path.join(tmp, "many.map")
    with open(path, "w") as f:
        json.dump({"version": 3, "sources": ["s%x" % i for i in range(count)], "names": [],
                   "mappings": "AAAA", "ignoreList": list(range(0, count, 2))}, f)
    row("open map, %d sources (%d MB)" % (count, os.path.getsize(path) >> 20), """
        import time
        from pysym import SourceMap
        t0 = time.perf_counter()
        sm = SourceMap.from_path(%r)
        tok = sm.lookup(0, 0)
        t = time.perf_counter() - t0
        print(tok.src); print("T", t)
    """ % path)
    # 3c. symcache: one lookup at the largest location id
    funcs = 50_000 if QUICK else 400_000
    sym = os.path.join(tmp, "big.sym")
    with open(sym, "w") as f:
        f.write("MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 big\nFILE 0 /src/a.c\n")
        for i in range(funcs):
            f.write("FUNC %x 10 0 f%d\n%x 10 %d 0\n" % (i * 16, i, i * 16, i + 1))
    cache = os.path.join(tmp, "big.symcache")
    subprocess.run([sys.executable, "-m", "pysym", "symcache", "build", sym, "-o", cache], check=True,
                   capture_output=True)
    row("symcache lookup, last of %d locs" % funcs, """
        import time
        from pysym import SymCache
        sc = SymCache.from_path(%r)
        t0 = time.perf_counter()
        fr = sc.lookup(%d)
        t = time.perf_counter() - t0
        print(fr[0].function, "chains held:", len(sc._chains)); print("T", t)
    """ % (cache, (funcs - 1) * 16))
    # 3d. CLI on a long trace
    frames = 100_000 if QUICK else 1_000_000
    maps = os.path.join(tmp, "maps")
    os.mkdir(maps)
    with open(os.path.join(maps, "app.min.js.map"), "w") as f:
        json.dump({"version": 3, "sources": ["src/app.js"], "names": ["f"],
                   "sourcesContent": ["function f() {\n  throw new Error('x');\n}\n"],
                   "mappings": "AAAAA,CACAA,CACA"}, f)
    trace = os.path.join(tmp, "trace.txt")
    with open(trace, "w") as f:
        f.write("Error: x\n")
        for i in range(frames):
            f.write("    at f (https://example.com/app.min.js:1:%d)\n" % (1 + i % 7))
    row("CLI trace %d frames (%d MB)" % (frames, os.path.getsize(trace) >> 20), """
        import sys, time
        import pysym._cli as c
        sys.stdout = open(%r, "w")
        t0 = time.perf_counter()
        rc = c.main(["symbolicate-js", %r, "--maps", %r])
        t = time.perf_counter() - t0
        sys.stdout.close(); sys.stdout = sys.__stdout__
        print("exit", rc, open(%r).readlines()[1].strip()); print("T", t)
    """ % (os.path.join(tmp, "out.txt"), trace, maps, os.path.join(tmp, "out.txt")))
    # 4. symcache build: sequential vs random names of the same lengths
    n = 50_000 if QUICK else 200_000
    rng = random.Random(1)
    for kind in ("sequential", "random"):
        path = os.path.join(tmp, "%s.sym" % kind)
        with open(path, "w") as f:
            f.write("MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 m\nFILE 0 /src/a.c\n")
            for i in range(n):
                name = "f%d" % i
                if kind == "random":
                    name = "f" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in name[1:])
                f.write("FUNC %x 10 0 %s\n%x 10 %d 0\n" % (i * 16, name, i * 16, i + 1))
        row("symcache build, %d %s names" % (n, kind), """
            import time
            from pysym import SymCache
            t0 = time.perf_counter()
            try:
                sc = SymCache.from_object(%r); answer = "built, %%d ranges" %% sc.range_count
            except Exception as e:
                answer = type(e).__name__
            t = time.perf_counter() - t0
            print(answer); print("T", t)
        """ % path)


if __name__ == "__main__":
    main()
