#!/usr/bin/env python3
"""Two modules give the same answers: symcaches of the same files built by an older module
and by this tree's, compared at every range start (and the byte before it).

    python bench/same_answers.py --before OLD.wasm [--after NEW.wasm] FILE ...

A program for changes of the build (e.g. ``git show REV:pysym/_wasm/pysym.wasm >
old.wasm``), not a test: it builds each FILE's symcache with both modules, says whether
the symcache bytes are identical, and compares ``LookupResults.to_json()`` of both at
every range start of either symcache and one byte before each (the addresses where an
answer changes). Prints one line per file; exits 1 if any answer differs.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
from pathlib import Path
from typing import List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pysym  # noqa: E402
from pysym import _host  # noqa: E402


def range_starts(symcache: bytes) -> List[int]:
    """The range starts of a symcache (FORMAT.md: `n_ranges` at 24, `w_start` at 64)."""
    n = struct.unpack_from("<I", symcache, 24)[0]
    w = symcache[64]
    at = 72
    return [int.from_bytes(symcache[at + i * w: at + (i + 1) * w], "little") for i in range(n)]


def runtime(module: str) -> _host.Runtime:
    _host._WASM_PATH = module
    # (compiled modules are shared per engine: without this both runtimes run the first)
    _host._compiled.clear()
    rt = _host.Runtime()
    rt.current()  # compiled now, with this module
    return rt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", required=True, help="the older module")
    ap.add_argument("--after", default=_host._WASM_PATH, help="the newer module (default: this tree's)")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    rts = [runtime(args.before), runtime(args.after)]
    bad = 0
    for path in args.files:
        t0 = time.perf_counter()
        caches = [pysym.SymCache.from_object(path, runtime=rt) for rt in rts]
        raw = [c.to_bytes() for c in caches]
        starts = sorted(set(range_starts(raw[0])) | set(range_starts(raw[1])))
        addrs = sorted(set(starts) | {a - 1 for a in starts if a > 0})
        answers = [c.lookup_many(addrs) for c in caches]
        differ = 0
        step = 20000
        for i in range(0, len(addrs), step):
            if answers[0][i:i + step].to_json() != answers[1][i:i + step].to_json():
                differ += sum(1 for j in range(i, min(i + step, len(addrs)))
                              if answers[0][j:j + 1].to_json() != answers[1][j:j + 1].to_json())
        bad += differ
        print("%s: symcache %s (%d / %d bytes); %d addresses, %d answers differ (%.1f s)" % (
            path, "identical" if raw[0] == raw[1] else "differs", len(raw[0]), len(raw[1]),
            len(addrs), differ, time.perf_counter() - t0))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
