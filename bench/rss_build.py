#!/usr/bin/env python3
"""Where a symcache build's peak RSS is: one build in this process on wasmtime, sampled.

    python bench/rss_build.py FILE [--wasm MODULE]

A program for optimising builds' memory, not a test. Reads ``/proc/self/status``
(VmRSS, RssAnon, RssFile) and the linear memory's resident pages (``mincore``) at every
progress report and output chunk of the build, and from a thread every half millisecond
(the module runs with the GIL released), and prints the largest of each with where it was
seen, and VmHWM at the end. A build's RSS is the engine's start, the module's linear
memory (every page it touched and did not give back: ``discard``), the file-backed pages
of the compiled module's code it ran, and the host's copy of the output.

The engine compiles a module it has not cached (its compile then sits in VmHWM): run it
twice after changing modules, or point ``PYSYM_CACHE_DIR`` at a directory of your own.
Linux only.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pysym  # noqa: E402
from pysym import _host  # noqa: E402

_FIELDS = ("VmRSS", "RssAnon", "RssFile", "VmHWM")


def status() -> Dict[str, float]:
    """The process's memory figures in MB."""
    out: Dict[str, float] = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in _FIELDS:
                out[k] = int(v.split()[0]) / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--wasm", help="another build of the module (default: the committed one)")
    args = ap.parse_args()
    if args.wasm:
        _host._WASM_PATH = args.wasm
    rt = _host.Runtime("wasmtime", limits=pysym.Limits(timeout=None))
    mem: Any = rt.current().instance._mem  # (wasmtime adapter: base and size of the memory)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]

    def wasm_resident() -> float:
        mem.refresh()
        n = (mem.size + 4095) // 4096
        vec = ctypes.create_string_buffer(n)
        if libc.mincore(ctypes.c_void_p(mem.base), n * 4096, vec) != 0:
            return -1.0
        return sum(b & 1 for b in vec.raw) * 4096 / 2**20

    lock = threading.Lock()
    peak: Dict[str, Tuple[float, str, Dict[str, float]]] = {}

    def sample(where: str) -> None:
        s = status()
        s["wasm"] = wasm_resident()
        with lock:
            for k in ("VmRSS", "RssAnon", "RssFile", "wasm"):
                if k not in peak or s[k] > peak[k][0]:
                    peak[k] = (s[k], where, s)

    files = rt.files
    real_progress = type(files).progress
    real_begin, real_write = _host.BuildOutput.begin, _host.BuildOutput.write

    def progress(self: Any, done: int, total: int) -> None:
        sample("progress %d/%d" % (done, total))
        real_progress(self, done, total)

    def begin(self: _host.BuildOutput, size: int) -> int:
        sample("output_begin (before)")
        return real_begin(self, size)

    def write(self: _host.BuildOutput, offset: int, data: memoryview) -> int:
        r = real_write(self, offset, data)
        sample("output at %d" % (offset + len(data)))
        return r

    type(files).progress = progress  # type: ignore[method-assign]
    _host.BuildOutput.begin, _host.BuildOutput.write = begin, write  # type: ignore[method-assign]
    stop = threading.Event()

    def sampler() -> None:
        while not stop.is_set():
            sample("thread")
            time.sleep(0.0005)

    start = status()
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    sc = pysym.SymCache.from_object(args.file, runtime=rt)
    sample("built")
    size = len(sc.to_bytes())
    stop.set()
    th.join()
    end = status()
    # (no CPU figure: the sampler's is in it; bench/ab_build.py measures that)
    print("%s (%d-byte symcache, linear memory %.1f MB)" % (os.path.basename(args.file), size, mem.size / 2**20))
    print("  RSS at start %.1f MB, VmHWM %.1f MB (+%.1f), at the end %.1f MB"
          % (start["VmRSS"], end["VmHWM"], end["VmHWM"] - start["VmRSS"], end["VmRSS"]))
    for k, (v, where, s) in peak.items():
        print("  largest %-7s %6.1f MB at %-24s (RSS %.1f, anon %.1f, file %.1f, wasm resident %.1f)"
              % (k, v, where, s["VmRSS"], s["RssAnon"], s["RssFile"], s["wasm"]))


if __name__ == "__main__":
    main()
