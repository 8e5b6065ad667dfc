"""Issue 13 parts 1 and 5: each hazard run in a child process, with its time, peak RSS and answer.

    PYTHONPATH=. python bench/host_hazards.py [wasmtime,wasmer]

Run it on two trees (PYTHONPATH pointing at each) to get a before/after table. A child
that does not finish within its bound is killed by its pid and reported as "hung".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import List, Optional, Tuple

PRELUDE = """
import json, os, sys, threading, time
import pysym
from pysym import _host
from pysym._limits import Limits

def smap(src, name, line):
    return json.dumps({"version": 3, "sources": [src], "names": [name],
                       "mappings": "AA" + "ACEGIKMO"[line] + "AA,CAAAA"}).encode()

def sym(name, line, n=1):
    return ("MODULE Linux x86_64 6EDC6ACDB282125843FD59DA9C81BD830 prog\\nFILE 0 /src/%s.c\\n" % name
            + "".join("FUNC %x 10 0 %s%d\\n%x 10 %d 0\\n" % (0x1000 + 16 * i, name, i, 0x1000 + 16 * i, line + i)
                      for i in range(n))).encode()

def discard(rt):
    # another object's limit: MemoryLimitError on wasmtime; an abandoned build on wasmer
    if rt.engine.name == "wasmtime":
        big = json.dumps({"version": 3, "sources": ["a"], "names": [],
                          "mappings": ";".join(["AAAA," + ",".join(["CAAC"] * 300)] * 4000)}).encode()
        try:
            pysym.SourceMap.from_bytes(big, runtime=rt)
        except pysym.MemoryLimitError:
            return
        raise AssertionError("no MemoryLimitError")
    def stop(f):
        raise KeyboardInterrupt
    try:
        pysym.SymCache.from_object(sym("zz", 1), runtime=rt, progress=stop)
    except KeyboardInterrupt:
        return

def answer(f):
    try:
        return repr(f())
    except Exception as e:
        return "%s: %s" % (type(e).__name__, str(e)[:70])

rt = _host.Runtime(limits=Limits(memory=16 << 20))
d = sys.argv[1]
"""

CASES = {
    # part 1: a file renamed over (a deploy), or rewritten in place, then a discard
    "1 map renamed over": """
        p = os.path.join(d, "m.map"); open(p, "wb").write(smap("old.js", "alpha", 3))
        sm = pysym.SourceMap.from_path(p, runtime=rt); sm.lookup(0, 0)
        open(p + ".n", "wb").write(smap("brandnew.js", "gamma", 5)); os.replace(p + ".n", p)
        discard(rt)
        t = sm.lookup(0, 1)  # a token not decoded before
        print(answer(lambda: (t.src, t.src_line, t.name)))
    """,
    "1 map rewritten in place": """
        p = os.path.join(d, "m.map"); open(p, "wb").write(smap("old.js", "alpha", 3))
        sm = pysym.SourceMap.from_path(p, runtime=rt); sm.lookup(0, 0)
        open(p, "r+b").write(smap("new.js", "gamma", 5))
        discard(rt)
        print(answer(lambda: (lambda t: (t.src, t.src_line, t.name))(sm.lookup(0, 1))))
    """,
    "1 symcache renamed over": """
        p = os.path.join(d, "c.symc")
        open(p, "wb").write(pysym.SymCache.from_object(sym("alpha", 10, 2), runtime=rt).to_bytes())
        sc = pysym.SymCache.from_path(p, runtime=rt); sc.lookup(0x1000)
        open(p + ".n", "wb").write(pysym.SymCache.from_object(sym("omega", 50, 3), runtime=rt).to_bytes())
        os.replace(p + ".n", p)
        discard(rt)
        print(answer(lambda: [(fs[0].function, fs[0].line) for fs in sc.lookup_many([0x1000, 0x1010])]))
    """,
    # part 5
    "5 fork, thread inside a call": """
        SYMB = sym("fn", 1, 2000)
        inside, release = threading.Event(), threading.Event()
        def hold(f):
            inside.set(); release.wait(60)
        t = threading.Thread(target=lambda: pysym.SymCache.from_object(SYMB, progress=hold), daemon=True)
        t.start(); inside.wait(60)
        pid = os.fork()
        if pid == 0:
            pysym.SymCache.from_object(SYMB).lookup(0x1010); os._exit(0)
        end = time.monotonic() + 30
        while not os.waitpid(pid, os.WNOHANG)[0]:
            if time.monotonic() > end:
                os.kill(pid, 9); os.waitpid(pid, 0); print("child deadlocked (killed after 30 s)"); break
            time.sleep(0.02)
        else:
            print("child answered")
        release.set()
    """,
    "5 exit, daemon thread in a call": """
        p = os.path.join(d, "big.sym")
        open(p, "wb").write(sym("fn", 1, 20000))
        inside = threading.Event()
        def work():
            while True:
                try:
                    pysym.SymCache.from_object(p, progress=lambda f: inside.set())
                except pysym.PysymError:
                    pass
        threading.Thread(target=work, daemon=True).start()
        inside.wait(60); time.sleep(0.03)
        print("exiting")
    """,
    "5 FIFO compile-cache entry": """
        from pysym._engine import _cache, load_engine
        os.environ["PYSYM_CACHE_DIR"] = os.path.join(d, "cache")
        eng = load_engine(None)
        wasm = open(_host._WASM_PATH, "rb").read()
        _cache.compile_module(eng, wasm)
        (name,) = [n for n in os.listdir(os.path.join(d, "cache")) if not n.startswith(".")]
        e = os.path.join(d, "cache", name); os.unlink(e); os.mkfifo(e)
        _cache.compile_module(eng, wasm)
        print("compiled again")
    """,
    "5 cut compiled entry, digest recomputed": """
        import hashlib
        from pysym._engine import _cache, load_engine
        os.environ["PYSYM_CACHE_DIR"] = os.path.join(d, "cache")
        eng = load_engine(None)
        wasm = open(_host._WASM_PATH, "rb").read()
        _cache.compile_module(eng, wasm)
        (name,) = [n for n in os.listdir(os.path.join(d, "cache")) if not n.startswith(".")]
        e = os.path.join(d, "cache", name); payload = _cache._load(e)[: -4096]
        open(e, "wb").write(payload + _cache._MAGIC + hashlib.sha256(payload).digest())
        print(answer(lambda: type(_cache.compile_module(eng, wasm)).__name__))
    """,
    "5 SymCache.write under RLIMIT_FSIZE": """
        import resource
        p = os.path.join(d, "out.symc"); open(p, "wb").write(b"x" * 100)
        sc = pysym.SymCache.from_object(sym("fn", 1, 500), runtime=rt)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        r = answer(lambda: sc.write(p))
        print(r[:40], "| file:", os.path.getsize(p), "bytes, entries:", len(os.listdir(d)))
    """,
    "5 start under RLIMIT_FSIZE=100": """
        import resource
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))
        r = _host.Runtime()
        print(answer(lambda: pysym.SourceMap.from_bytes(smap("a.js", "n", 1), runtime=r).lookup(0, 0).src))
    """,
}


def run(name: str, engine: str, bound: float = 120) -> Tuple[str, float, float, str]:
    code = textwrap.dedent(PRELUDE) + textwrap.dedent(CASES[name])
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, PYSYM_ENGINE=engine)
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", code, d], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        hung = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > bound:
                os.kill(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                hung = True
                break
            time.sleep(0.01)
        elapsed = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out = proc.stdout.read().decode("utf-8", "replace").strip() if proc.stdout else ""
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if hung:
        out = "hung (killed after %d s)" % bound
    elif proc.returncode != 0:
        fatal = [ln for ln in err.splitlines() if "Fatal" in ln or "Error" in ln][:1]
        out = "%s; exit %d %s" % (out.splitlines()[-1] if out else "", proc.returncode, fatal[0][:80] if fatal else "")
    return name, elapsed, usage.ru_maxrss / 1024.0, out.splitlines()[-1] if out else ""


def main(argv: Optional[List[str]] = None) -> int:
    engines = (argv or sys.argv[1:] or ["wasmtime,wasmer"])[0].split(",")
    print("| engine | case | time s | peak RSS MB | answer |")
    print("|---|---|---|---|---|")
    for engine in engines:
        for name in CASES:
            if "wasmer entry" in name and engine != "wasmer":
                continue
            bound = 60 if "FIFO" in name or "fork" in name else 120
            n, t, rss, ans = run(name, engine, bound)
            print("| %s | %s | %.2f | %.0f | %s |" % (engine, n, t, rss, ans.replace("|", "/")))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
