"""Resource limits (SECURITY.md): typed errors, and the object still works afterwards."""

from __future__ import annotations

import json
import threading
import time

import pytest

import pysym
from pysym import _host
from pysym._limits import Limits


def big_map(lines: int = 2000, segs: int = 200) -> bytes:
    line = ",".join(["CAAC"] * segs)
    return json.dumps(
        {"version": 3, "sources": ["a.js"], "names": [], "mappings": ";".join(["AAAA," + line] * lines)}
    ).encode()


SMALL = json.dumps({"version": 3, "sources": ["a.js"], "names": ["n"], "mappings": "AAAAA"}).encode()


def test_error_hierarchy():
    for cls in (pysym.MemoryLimitError, pysym.TimeLimitError, pysym.InputTooLargeError):
        assert issubclass(cls, pysym.ResourceLimitError)
        assert issubclass(cls, pysym.PysymError)
        assert cls.__name__ in pysym.__all__


def test_limits_validation():
    with pytest.raises(ValueError):
        Limits(memory=5 << 30)  # never 4 GiB or more
    with pytest.raises(ValueError):
        Limits(timeout=0)
    assert Limits().memory == 1 << 30


def test_input_too_large_before_any_copy(engine):
    rt = _host.Runtime(engine, limits=Limits(max_input_size=200))
    with pytest.raises(pysym.InputTooLargeError):
        pysym.SourceMap.from_bytes(big_map(20, 20), runtime=rt)
    # nothing went into the module: no instance had to grow for it
    sm = pysym.SourceMap.from_bytes(SMALL, runtime=rt)
    assert sm.lookup(0, 0).name == "n"


def test_input_too_large_file(engine, tmp_path):
    p = tmp_path / "x.map"
    p.write_bytes(big_map(20, 20))
    rt = _host.Runtime(engine, limits=Limits(max_input_size=200))
    with pytest.raises(pysym.InputTooLargeError):
        pysym.SourceMap.from_path(p, runtime=rt)


def test_configure_process_wide(engine):
    old = _host.get_runtime().limits
    try:
        lim = pysym.configure(max_input_size=10)
        assert lim.max_input_size == 10
        with pytest.raises(pysym.InputTooLargeError):
            pysym.SourceMap.from_bytes(SMALL)
    finally:
        pysym.configure(old)
    assert pysym.SourceMap.from_bytes(SMALL).lookup(0, 0).name == "n"


def _wasmtime_only(engine):
    if engine != "wasmtime":
        pytest.skip("fuel, deadlines and per-store memory caps are wasmtime's (wasmer: watchdog mode)")


def test_fuel_exhaustion_is_time_limit_and_object_recovers(engine):
    _wasmtime_only(engine)
    rt = _host.Runtime(engine)
    sm = pysym.SourceMap.from_bytes(big_map(200, 50), runtime=rt)
    expected = sm.lookup(150, 40)
    rt.set_limits(rt.limits.replace(fuel_base=1000, fuel_per_byte=0))
    with pytest.raises(pysym.TimeLimitError):
        sm.lookup_many([150], [40])  # the reload under a tiny budget runs out of fuel
    rt.set_limits(Limits())
    assert sm.lookup(150, 40) == expected  # rebuilt transparently in a fresh instance


def test_deadline_is_time_limit(engine):
    _wasmtime_only(engine)
    rt = _host.Runtime(engine, limits=Limits(timeout=0.02, fuel_base=None))
    rt.current()  # (code without fuel checks is compiled on first use: not part of the deadline)
    t = time.monotonic()
    with pytest.raises(pysym.TimeLimitError):
        pysym.SourceMap.from_bytes(big_map(20000, 400), runtime=rt)
    assert time.monotonic() - t < 5
    rt.set_limits(Limits())
    assert pysym.SourceMap.from_bytes(SMALL, runtime=rt).lookup(0, 0).name == "n"


def test_limits_without_fuel_run_code_that_does_not_count_it(engine):
    _wasmtime_only(engine)
    rt = _host.Runtime(engine, limits=Limits(fuel_base=None))
    assert not rt.engine.counts_fuel and rt.engine.artifact_settings() == "epoch fixed-memory"
    assert pysym.SourceMap.from_bytes(SMALL, runtime=rt).lookup(0, 0).name == "n"
    data = big_map(200, 50)
    rt.set_limits(Limits(fuel_base=1000, fuel_per_byte=0))
    assert rt.engine.counts_fuel
    with pytest.raises(pysym.TimeLimitError):
        pysym.SourceMap.from_bytes(data, runtime=rt)
    rt.limits = Limits(fuel_base=None)  # a plain assignment switches the code too
    assert not rt.engine.counts_fuel
    assert pysym.SourceMap.from_bytes(data, runtime=rt).lookup(150, 40) is not None
    rt.limits = Limits(fuel_base=1000, fuel_per_byte=0)  # and back: the fuel is enforced again
    with pytest.raises(pysym.TimeLimitError):
        pysym.SourceMap.from_bytes(data, runtime=rt)


def test_memory_cap_is_memory_limit(engine):
    _wasmtime_only(engine)
    rt = _host.Runtime(engine, limits=Limits(memory=4 << 20))
    with pytest.raises(pysym.MemoryLimitError) as info:
        pysym.SourceMap.from_bytes(big_map(2000, 300), runtime=rt)
    assert "memory" in str(info.value)
    assert pysym.SourceMap.from_bytes(SMALL, runtime=rt).lookup(0, 0).name == "n"


def test_other_threads_run_during_a_long_call(engine):
    _wasmtime_only(engine)
    data = big_map(20000, 200)
    ticks = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    try:
        rt = _host.Runtime(engine)
        t0 = time.monotonic()
        n0 = len(ticks)
        pysym.SourceMap.from_bytes(data, runtime=rt)
        elapsed = time.monotonic() - t0
        n = len(ticks) - n0
    finally:
        stop.set()
        t.join()
    # the GIL is released while wasm runs: the other thread keeps ticking
    assert n >= max(3, int(elapsed * 1000 * 0.1)), (n, elapsed)


def test_wasmer_watchdog_mode(engine, tmp_path):
    if engine != "wasmer":
        pytest.skip("watchdog mode is for engines without fuel and deadlines (wasmer)")
    rt = _host.Runtime(engine, limits=Limits(timeout=60, watchdog=True))
    # inputs that finish in time work as usual (the child starts here, outside any deadline)
    sm = pysym.SourceMap.from_bytes(SMALL, runtime=rt)
    assert sm.lookup(0, 0).name == "n"
    with pytest.raises(pysym.InvalidInputError):
        pysym.SourceMap.from_bytes(b"{", runtime=rt)
    slow = big_map(20000, 400)  # 40 MB: ~0.4 s of parsing on wasmer
    rt.limits = rt.limits.replace(timeout=0.05)
    t = time.monotonic()
    with pytest.raises(pysym.TimeLimitError):
        pysym.SourceMap.from_bytes(slow, runtime=rt)
    assert time.monotonic() - t < 5
    p = tmp_path / "slow.map"
    p.write_bytes(slow)
    with pytest.raises(pysym.TimeLimitError):
        pysym.SourceMap.from_path(p, runtime=rt)
    rt.limits = rt.limits.replace(timeout=60)
    assert sm.lookup(0, 0).name == "n"  # the object survived the killed children


def test_deadline_in_forked_child(engine):
    _wasmtime_only(engine)
    import os

    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    rt = _host.Runtime(engine, limits=Limits(timeout=0.02, fuel_base=None))
    pysym.SourceMap.from_bytes(SMALL, runtime=rt)  # the ticker runs in the parent
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            pysym.SourceMap.from_bytes(big_map(20000, 400), runtime=rt)
        except pysym.TimeLimitError:
            code = 0
        except BaseException:
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
