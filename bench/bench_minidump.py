#!/usr/bin/env python3
"""Minidump benchmark: parse, and parse + walk + symbolicate, on every installed engine.

    python bench/bench_minidump.py [--repeat 20] [dump.dmp ...]
    python bench/bench_minidump.py --walk [--threads 30] [--repeat 10]

A program, not a test: it prints, per dump and engine, the median milliseconds of a warm
``Minidump.from_bytes`` (the module parses the dump and returns its JSON document; the
host decodes it) and microseconds per thread. When PyPI ``minidump`` (pure Python) is
importable it is measured on the same dumps as a parse-speed reference, with the ratio.
``--walk``: ``Symbolicator.process_minidump`` (parse, find CFI, walk every thread in the
sandbox, symbolicate), warm caches (CFI caches and symcaches in memory and on disk), for
the shared dumps with their Breakpad symbols and a dump lldb-14 saves of a crashed
``threads``-thread program (tests/stackwalk; needs lldb-14 and gcc): median ms per dump
and microseconds per frame per engine. Target: the 30-thread dump in <= 50 ms.

Default inputs: the fixtures in tests/data/minidump, and a synthetic 30-thread Linux
x86_64 dump (full contexts, 8 KiB stacks, 40 modules with build ids).
"""

import argparse
import os
import statistics
import struct
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import pysym  # noqa: E402
from pysym import _host  # noqa: E402
from pysym._engine import available_engines  # noqa: E402

DATA = os.path.join(ROOT, "tests", "data", "minidump")


def synthetic(threads: int = 30, modules: int = 40) -> bytes:
    """A Linux x86_64 dump shaped like Breakpad's: system info, modules, threads."""
    streams = []
    si = struct.pack("<HHHBBIIIII", 9, 6, 0, 8, 0, 0, 0, 0, 0x8201, 0).ljust(56, b"\0")
    streams.append((7, si))
    blobs = bytearray()  # names, CodeView records, contexts, stacks: after the streams
    mods = struct.pack("<I", modules)
    for i in range(modules):
        mods += struct.pack("<QIIII", 0x7F0000000000 + i * 0x100000, 0x80000, 0, 0, 0) + bytes(52)
        mods += struct.pack("<IIQQ", 0, 0, 0, 0) + bytes(8)  # cv / misc filled below
    streams.append((4, mods))
    tl = struct.pack("<I", threads) + bytes(48 * threads)
    streams.append((3, tl))
    head = 32 + 12 * len(streams)
    offsets = []
    at = head
    for _, s in streams:
        offsets.append(at)
        at += len(s)
    base = at
    mods = bytearray(mods)
    for i in range(modules):
        name = ("/usr/lib/x86_64-linux-gnu/libexample%d.so.1" % i).encode("utf-16-le")
        rva = base + len(blobs)
        blobs += struct.pack("<I", len(name)) + name + b"\0\0"
        cv = base + len(blobs)
        blobs += b"LEpB" + bytes(range(i, i + 20))
        m = 4 + 108 * i
        struct.pack_into("<I", mods, m + 20, rva)
        struct.pack_into("<II", mods, m + 76, 24, cv)
    tl = bytearray(tl)
    for i in range(threads):
        ctx = bytearray(1232)
        struct.pack_into("<I", ctx, 48, 0x10000F)
        struct.pack_into("<QQ", ctx, 152, 0x7FFC00000000 + i * 0x10000, 0)
        struct.pack_into("<Q", ctx, 248, 0x7F0000001000 + i)
        crva = base + len(blobs)
        blobs += ctx
        srva = base + len(blobs)
        blobs += bytes(8192)
        struct.pack_into("<I", tl, 4 + 48 * i, 1000 + i)
        struct.pack_into("<QII", tl, 4 + 48 * i + 24, 0x7FFC00000000 + i * 0x10000, 8192, srva)
        struct.pack_into("<II", tl, 4 + 48 * i + 40, 1232, crva)
    streams[1] = (4, bytes(mods))
    streams[2] = (3, bytes(tl))
    out = struct.pack("<IIIIIIQ", 0x504D444D, 0xA793, len(streams), 32, 0, 0, 0)
    for (kind, s), off in zip(streams, offsets):
        out += struct.pack("<III", kind, len(s), off)
    for _, s in streams:
        out += s
    return out + bytes(blobs)


def median_ms(fn, repeat: int) -> float:
    fn()  # warm: compile, caches
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def walk_bench(args: argparse.Namespace) -> None:
    import tempfile
    from pathlib import Path

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from stackwalk_helpers import LLDB, build_and_dump  # noqa: E402

    tmp = tempfile.mkdtemp(prefix="bench-minidump-")
    symbols = os.path.join(DATA, "symbols")
    cases = [("test.dmp (Windows x86, Breakpad)", os.path.join(DATA, "test.dmp"), [symbols]),
             ("pipeline-inlines-macos-segv.dmp", os.path.join(DATA, "pipeline-inlines-macos-segv.dmp"), [symbols]),
             ("linux-mini.dmp", os.path.join(DATA, "linux-mini.dmp"), [])]
    if LLDB is not None:
        dmp = build_and_dump(Path(tmp), threads=args.threads)
        cases.append(("lldb %d threads (+main)" % args.threads, str(dmp), [pysym.SystemStore()]))
    engines = list(available_engines())
    cols = ["dump", "threads", "frames"] + ["%s ms" % e for e in engines] + ["%s us/frame" % e for e in engines]
    print(" | ".join(cols))
    for name, path, stores in cases:
        data = open(path, "rb").read()
        ms = []
        frames = threads = 0
        for e in engines:
            _host.use_engine(e)
            sym = pysym.Symbolicator(stores, cache_dir=os.path.join(tmp, "cache"))
            r = sym.process_minidump(data)
            threads = len(r["stacktraces"])
            frames = sum(len({f["original_index"] for f in st["frames"]}) for st in r["stacktraces"])
            ms.append(median_ms(lambda d=data, s=sym: s.process_minidump(d), args.repeat))
        row = [name, str(threads), str(frames)] + ["%.1f" % m for m in ms]
        row += ["%.0f" % (m * 1e3 / max(frames, 1)) for m in ms]
        print(" | ".join(row))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--walk", action="store_true", help="parse + walk + symbolicate (process_minidump)")
    ap.add_argument("--threads", type=int, default=30, help="threads of the lldb-made dump (--walk)")
    ap.add_argument("dumps", nargs="*")
    args = ap.parse_args()
    if args.walk:
        walk_bench(args)
        return
    inputs = [(os.path.basename(p), open(p, "rb").read()) for p in args.dumps]
    if not inputs:
        for name in ("test.dmp", "linux-mini.dmp", "simple-crashpad.dmp", "pipeline-inlines-macos-segv.dmp",
                     "invalid-parameter.dmp"):
            inputs.append((name, open(os.path.join(DATA, name), "rb").read()))
        inputs.append(("synthetic-30-threads", synthetic()))
    try:
        import minidump.minidumpfile as pypi  # type: ignore[import-not-found]
    except ImportError:
        pypi = None
    engines = list(available_engines())
    cols = ["dump", "KB", "threads"] + ["%s ms" % e for e in engines] + ["%s us/thread" % e for e in engines]
    if pypi is not None:
        cols += ["PyPI minidump ms", "ratio (PyPI / %s)" % engines[0]]
    print(" | ".join(cols))
    for name, data in inputs:
        row = [name, "%.0f" % (len(data) / 1024)]
        ms = []
        threads = 0
        for e in engines:
            _host.use_engine(e)
            threads = len(pysym.Minidump.from_bytes(data).threads)
            ms.append(median_ms(lambda d=data: pysym.Minidump.from_bytes(d), args.repeat))
        row.append(str(threads))
        row += ["%.2f" % m for m in ms] + ["%.0f" % (m * 1e3 / max(threads, 1)) for m in ms]
        if pypi is not None:
            ref = median_ms(lambda d=data: pypi.MinidumpFile.parse_bytes(d), args.repeat)
            row += ["%.2f" % ref, "%.1f" % (ref / ms[0])]
        print(" | ".join(row))


if __name__ == "__main__":
    main()
