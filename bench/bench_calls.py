"""Micro-benchmark of the engine adapters: microseconds per export call.

    python bench/bench_calls.py [--module path/to.wasm] [-n N]

For every engine importable on this Python it prints, per operation, the engine
package's ordinary API next to pysym's adapter ("fast"):

* ``call5``     -- one export call with 5 i32 args (the test module's ``five``, which
  stores 6 u32 like a token lookup does)
* ``read_u32``  -- reading 6 little-endian u32 from linear memory
* ``call5*``    -- wasmer only: "ordinary" = the wasmer Function object kept in a
  variable (no ``exports`` lookup); the difference is the adapter's Trap-mapping frame
* ``lookup``    -- both, i.e. what one ``Token`` lookup costs at the boundary
* ``import``    -- an export call whose wasm code calls the ``file_read`` host import
  once (16 bytes); pysym only (the ordinary column is not measured)

Targets (docs): lookup <= 10 us on wasmtime, <= 2 us on wasmer.  Best of 15 runs (the
minimum filters out noise from other processes).
This is a program, not a test: nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TESTMOD = os.path.join(ROOT, "tests", "engine", "testmod.wat")  # the engine tests' module
sys.path.insert(0, ROOT)

from pysym._engine import HostImports, available_engines, load_engine  # noqa: E402


def _wat_to_wasm(text: str) -> bytes:
    """WAT compiled by whichever engine package is installed."""
    try:
        import wasmtime

        return bytes(wasmtime.wat2wasm(text))
    except ImportError:
        import wasmer

        return bytes(wasmer.wat2wasm(text))


class NoFiles(HostImports):
    data = b"0123456789abcdef" * 4

    def file_size(self, fh):
        return len(self.data)

    def file_read(self, fh, offset, length):
        return self.data[offset : offset + length]


def best(fn, n, repeat=15):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(n)
        times.append(time.perf_counter() - t0)
    return min(times) / n * 1e6


def bench_engine(name, wasm, n):
    engine = load_engine(name)
    inst = engine.instantiate(engine.compile(wasm), NoFiles(), 1 << 30)
    five = inst.func("five")
    read_u32 = inst.read_u32
    out = 64
    rows = []

    # --- ordinary engine API -------------------------------------------------------
    unpack6 = struct.Struct("<6I").unpack_from
    if name == "wasmtime":
        # wasmtime-py's own API on the same module (the adapter does not use it)
        import wasmtime

        engine_py = wasmtime.Engine()
        module_py = wasmtime.Module(engine_py, wasm)
        store = wasmtime.Store(engine_py)
        linker = wasmtime.Linker(engine_py)
        linker.define_unknown_imports_as_traps(module_py)
        exports_py = linker.instantiate(store, module_py).exports(store)
        raw = exports_py["five"]
        mem = exports_py["memory"]

        def ord_call(k):
            for _ in range(k):
                raw(store, 1, 2, 3, 4, out)

        def ord_read(k):
            for _ in range(k):
                unpack6(mem.read(store, out, out + 24))

        def ord_lookup(k):
            for _ in range(k):
                raw(store, 1, 2, 3, 4, out)
                unpack6(mem.read(store, out, out + 24))

        n_ord = max(n // 30, 100)
    else:
        exports = inst._instance.exports
        mem = exports.memory

        def ord_call(k):
            for _ in range(k):
                exports.five(1, 2, 3, 4, out)

        def ord_read(k):
            for _ in range(k):
                unpack6(memoryview(mem.buffer), out)

        def ord_lookup(k):
            for _ in range(k):
                exports.five(1, 2, 3, 4, out)
                unpack6(memoryview(mem.buffer), out)

        n_ord = n
        cached = exports.five

        def ord_call_cached(k):
            for _ in range(k):
                cached(1, 2, 3, 4, out)

    # --- pysym adapter ---------------------------------------------------------------
    def fast_call(k):
        for _ in range(k):
            five(1, 2, 3, 4, out)

    def fast_read(k):
        for _ in range(k):
            read_u32(out, 6)

    def fast_lookup(k):
        for _ in range(k):
            five(1, 2, 3, 4, out)
            read_u32(out, 6)

    assert five(1, 2, 3, 4, out) == 1 and read_u32(out, 6) == (1, 2, 3, 4, out, 3)
    for label, o, f in (
        ("call5", ord_call, fast_call),
        ("read_u32", ord_read, fast_read),
        ("lookup", ord_lookup, fast_lookup),
    ):
        t_ord = best(o, n_ord)
        t_fast = best(f, n)
        rows.append((label, t_ord, t_fast))
    # an export that calls the file_read import once (16 bytes copied into memory)
    read = inst.func("read")

    def fast_import(k):
        for _ in range(k):
            read(1, 0, 256, 16)

    assert read(1, 0, 256, 16) == 16 and inst.read(256, 16) == NoFiles.data[:16]
    rows.append(("import", float("nan"), best(fast_import, n)))
    if name == "wasmer":
        # wasmer's Function object held in a variable (no Exports lookup, no Trap mapping)
        rows.insert(1, ("call5*", best(ord_call_cached, n), rows[0][2]))
    return engine, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=30000, help="iterations per run")
    ap.add_argument(
        "--module", help="a .wasm exporting five(i32 x5)->i32 (default: tests/engine/testmod.wat)"
    )
    args = ap.parse_args()
    if args.module:
        with open(args.module, "rb") as f:
            wasm = f.read()
    else:
        with open(TESTMOD) as f:
            wasm = bytes(_wat_to_wasm(f.read()))
    print("Python %s" % sys.version.split()[0])
    names = available_engines()
    if not names:
        print("no engine installed")
        return 1
    print("%-22s %-9s %12s %12s %8s" % ("engine", "op", "ordinary us", "pysym us", "speedup"))
    for name in names:
        engine, rows = bench_engine(name, wasm, args.n)
        for label, t_ord, t_fast in rows:
            if t_ord != t_ord:  # not measured
                ordinary, ratio = "-", "-"
            else:
                ordinary, ratio = "%.2f" % t_ord, "%.1fx" % (t_ord / t_fast)
            print(
                "%-22s %-9s %12s %12.2f %8s"
                % ("%s %s" % (engine.name, engine.version), label, ordinary, t_fast, ratio)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
