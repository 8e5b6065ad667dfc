#!/usr/bin/env python3
"""Where a cold batch's read goes: CPU time per phase of reading every frame.

    python bench/lookup_phases.py CACHE.symc ADDRS.txt

``ADDRS.txt``: hexadecimal addresses relative to the image base, one per line (what
``bench/bench_native.py`` samples). The same steps as ``bench_native.py``'s lookup child
(a fresh symcache, one ``lookup_many``, then every frame read), with the library's own
functions wrapped by CPU timers (``time.process_time``): each module export, the result
decoding, the location rows, the frames and chains; "the rest" is what no wrapper covers
(rows of the addresses, a list per address, the reading loop). A program, not a test:
it prints, it asserts nothing. The module side of the same batch, natively:
``wasm/core/tests/lookup_bench.rs``.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any, Callable, Dict

import pysym
from pysym import _native, _wire
from pysym._host import Runtime, get_runtime

SPENT: Dict[str, float] = {}


def timed(owner: Any, name: str, label: str) -> None:
    """Wraps ``owner.name`` so that its CPU time adds up under ``label``."""
    inner: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            SPENT[label] = SPENT.get(label, 0.0) + time.process_time() - t

    setattr(owner, name, wrapper)


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    cache, addr_file = sys.argv[1:]
    with open(addr_file) as f:
        addrs = [int(x, 16) for x in f.read().split()]
    pysym.configure(timeout=None)
    get_runtime().current()
    call = Runtime.call

    def call_timed(self: Runtime, name: str, *args: int) -> int:
        t = time.process_time()
        try:
            return call(self, name, *args)
        finally:
            SPENT["module " + name] = SPENT.get("module " + name, 0.0) + time.process_time() - t

    Runtime.call = call_timed  # type: ignore[method-assign]
    timed(Runtime, "result_bytes", "copy of the result")
    timed(_wire, "decode_locations", "decode: records and name ids")
    timed(_native.StringTable, "to_list", "decode: strings")
    timed(_native.SymCache, "_decode_locations", "location rows (incl. module, decode)")
    timed(_native.SymCache, "_chains_upto", "frames and chains")
    sc = pysym.SymCache.from_path(cache)
    gc.collect()
    c0 = time.process_time()
    res = sc.lookup_many(addrs)
    c1 = time.process_time()
    SPENT.clear()
    frames = 0
    for fs in res:
        for _f in fs:
            frames += 1
    c2 = time.process_time()
    print("engine %s: %d addresses, %d frames, %d locations decoded" % (
        os.environ.get("PYSYM_ENGINE", "default"), len(addrs), frames, len(sc._cols[0]) - 1))
    print("  lookup_many                              %.3f s CPU" % (c1 - c0))
    print("  reading every frame                      %.3f s CPU  (%.0f frames/CPU s)" % (
        c2 - c1, frames / (c2 - c1)))
    rows = SPENT.get("location rows (incl. module, decode)", 0.0)
    inside = sum(v for k, v in SPENT.items() if k.startswith(("module pysym_symcache_locations", "copy", "decode")))
    for k, v in sorted(SPENT.items(), key=lambda kv: -kv[1]):
        print("    %-38s %.3f" % (k, v))
    print("    %-38s %.3f" % ("location rows, Python only", rows - inside))
    print("    %-38s %.3f" % ("the rest", c2 - c1 - rows - SPENT.get("frames and chains", 0.0)))
    print("  load average: %s" % " ".join("%.2f" % x for x in os.getloadavg()))


if __name__ == "__main__":
    main()
