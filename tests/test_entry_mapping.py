"""A disk cache entry of 64 KiB or more is mapped over the module's memory instead of read
into it, where the engine's memory never moves (wasmtime) on Linux
(``pysym/_engine/_pagemap.py``): a warm request then faults in only the pages its
look-ups touch. These tests hold it to the copy's answers, and check that no file stays
mapped once the module may reuse the memory, that a changed file is refused, and that the
module's heap stays whole around every path (a load that fails, a collected SymCache, a
discarded instance).
"""

from __future__ import annotations

import gc
import os
import sys
import zlib
from typing import Any, List

import pytest

import pysym
from pysym import _host
from pysym._engine import _pagemap
from pysym._limits import Limits
from pysym._symbolicate._cache import DiskCache

MAPS = sys.platform.startswith("linux")


def _local(path: Any) -> bool:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        return _pagemap._on_local_fs(fd)
    finally:
        os.close(fd)
FUNCS = 4000  # a symcache of ~100 KB: over the 64 KiB from which inputs own whole pages


def _sym(name: str) -> bytes:
    """A Breakpad file of FUNCS functions ``<name>_<i>`` (same size for same-length names)."""
    lines = ["MODULE Linux x86_64 6EDC6ACDB282125843FD59DA9C81BD830 prog", "FILE 0 /src/%s.c" % name]
    for i in range(FUNCS):
        addr = 0x1000 + 0x40 * i
        lines += ["FUNC %x 40 0 %s_%05d" % (addr, name, i), "%x 40 %d 0" % (addr, i + 1)]
    return ("\n".join(lines) + "\n").encode()


ADDRS = [0x1000 + 0x40 * i + 3 for i in range(0, FUNCS, 7)] + [0x10, 0x1000 + 0x40 * FUNCS]


def _symcache(name: str, rt: Any) -> bytes:
    with pysym.SymCache.from_object(_sym(name), runtime=rt) as sc:
        data = sc.to_bytes()
    assert len(data) >= 64 * 1024
    return data


def _entry(path: Any, rt: Any) -> Any:
    """Opened as the disk cache opens its entries: vouched for by stamp and CRC-32."""
    data = open(path, "rb").read()
    return pysym.SymCache._from_cache_entry(str(path), len(data), zlib.crc32(data), DiskCache.stamp(os.stat(path)),
                                            runtime=rt)


def _mappings(path: Any) -> List[str]:
    """This process's mappings of ``path`` (deleted or not)."""
    with open("/proc/self/maps") as f:
        return [ln for ln in f if str(path) in ln]


def _answers(sc: Any) -> List[Any]:
    return [[(f.function, f.line, f.file) for f in frames] for frames in sc.lookup_many(ADDRS)]


def _expected(name: str) -> List[Any]:
    out: List[Any] = []
    for a in ADDRS:
        i = (a - 0x1000) // 0x40
        out.append([("%s_%05d" % (name, i), i + 1, "/src/%s.c" % name)] if 0x1000 <= a and i < FUNCS else [])
    return out


def _alpha_entry(tmp_path: Any, rt: Any) -> Any:
    """The path of a large entry of "alpha" functions, and the entry opened."""
    p = tmp_path / "a.symcache"
    p.write_bytes(_symcache("alpha", rt))
    return p, _entry(p, rt)


def _runtime(engine: str) -> Any:
    return _host.Runtime(engine, limits=Limits(memory=64 << 20))


def test_mapped_where_the_memory_never_moves(engine, tmp_path):
    rt = _runtime(engine)
    p = tmp_path / "a.symcache"
    p.write_bytes(_symcache("alpha", rt))
    sc = _entry(p, rt)
    assert _answers(sc) == _expected("alpha")
    if engine == "wasmtime" and MAPS and _local(p):
        assert _mappings(p), "the entry was copied, not mapped"
    else:  # (wasmer's memory may move: its entries are read in)
        assert not _mappings(p)
    sc.close()
    assert not _mappings(p)


def test_mapped_and_copied_entries_answer_alike(engine, tmp_path, monkeypatch):
    rt = _runtime(engine)
    p = tmp_path / "a.symcache"
    data = _symcache("alpha", rt)
    p.write_bytes(data)
    mapped = _entry(p, rt)
    monkeypatch.setattr(_pagemap, "_mmap", False)
    copied = _entry(p, rt)
    assert _answers(mapped) == _answers(copied) == _expected("alpha")
    assert mapped.to_bytes() == copied.to_bytes() == data
    mapped.close()
    copied.close()


@pytest.fixture
def tmp_path(tmp_path: Any) -> Any:
    if MAPS and not _local(tmp_path):
        pytest.fail("%s is not on a local file system pysym maps files from" % tmp_path)
    return tmp_path


@pytest.mark.skipif(not MAPS, reason="file mapping is Linux only")
def test_freed_memory_is_the_allocator_s_again(tmp_path):
    # Closing puts anonymous pages back *before* the module frees the memory; many rounds
    # of open, look up, close, with other allocations in between, keep every answer.
    rt = _runtime("wasmtime")
    names = ["alpha", "gamma", "omega"]
    paths = []
    for n in names:
        p = tmp_path / (n + ".symcache")
        p.write_bytes(_symcache(n, rt))
        paths.append(p)
    for round_ in range(6):
        held = [_entry(p, rt) for p in paths]
        for n, sc in zip(names, held):
            assert _answers(sc) == _expected(n)
        scratch = pysym.SymCache.from_object(_sym("beta"), runtime=rt)  # reuses freed memory
        for sc in held[round_ % 3:]:
            sc.close()
        assert _answers(scratch) == _expected("beta")
        scratch.close()
        for sc in held[: round_ % 3]:
            sc.close()
        for p in paths:
            assert not _mappings(p)


@pytest.mark.skipif(not MAPS, reason="file mapping is Linux only")
def test_collected_symcache_is_unmapped_at_the_next_call(tmp_path):
    rt = _runtime("wasmtime")
    p, sc = _alpha_entry(tmp_path, rt)
    assert _answers(sc) == _expected("alpha") and _mappings(p)
    del sc
    gc.collect()
    assert _mappings(p)  # (finalisers do not call into the module)
    other = pysym.SymCache.from_object(_sym("beta"), runtime=rt)
    assert not _mappings(p)
    assert _answers(other) == _expected("beta")
    other.close()


@pytest.mark.skipif(not MAPS, reason="file mapping is Linux only")
def test_reload_in_a_new_instance_maps_again(tmp_path):
    rt = _runtime("wasmtime")
    p, sc = _alpha_entry(tmp_path, rt)
    assert _answers(sc) == _expected("alpha")
    serial = rt.current().serial
    rt.set_limits(rt.limits.replace(timeout=30))  # throws the instance away
    assert rt.current().serial != serial
    assert _answers(sc) == _expected("alpha")
    assert len(_mappings(p)) >= 1
    sc.close()
    assert not _mappings(p)


@pytest.mark.skipif(not MAPS, reason="file mapping is Linux only")
def test_entry_changed_since_vouched_for_is_refused(tmp_path):
    rt = _runtime("wasmtime")
    old, new = _symcache("alpha", rt), _symcache("omega", rt)
    assert len(old) == len(new) and old != new
    p = tmp_path / "a.symcache"
    p.write_bytes(old)
    sc = _entry(p, rt)
    assert _answers(sc) == _expected("alpha")
    st = os.stat(p)
    with open(p, "r+b") as f:  # rewritten in place, mtime put back: only the ctime tells
        f.write(new)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    rt.set_limits(rt.limits.replace(timeout=30))
    with pytest.raises(pysym.FileChangedError):
        sc.lookup_many(ADDRS)
    assert not _mappings(p)  # the refused read left nothing mapped
    sc.close()
    assert _answers(_entry(p, rt)) == _expected("omega")


@pytest.mark.skipif(not MAPS, reason="file mapping is Linux only")
def test_entry_the_module_refuses_leaves_the_heap_whole(tmp_path):
    # A load that fails frees the memory inside the module: the host must not put pages
    # back over it afterwards (they hold the allocator's records by then).
    rt = _runtime("wasmtime")
    p = tmp_path / "bad.symcache"
    data = bytearray(_symcache("alpha", rt))
    data[0:4] = b"XXXX"
    p.write_bytes(bytes(data))
    for _ in range(3):
        with pytest.raises(pysym.InvalidInputError):
            _entry(p, rt)
    good = tmp_path / "good.symcache"
    good.write_bytes(_symcache("omega", rt))
    for _ in range(3):
        sc = _entry(good, rt)
        assert _answers(sc) == _expected("omega")
        sc.close()
    gc.collect()
    scratch = pysym.SymCache.from_object(_sym("beta"), runtime=rt)
    assert _answers(scratch) == _expected("beta")
    scratch.close()


def test_small_entries_are_read_in(engine, tmp_path):
    rt = _runtime(engine)
    small = b"MODULE Linux x86_64 6EDC6ACDB282125843FD59DA9C81BD830 prog\nFILE 0 /s.c\nFUNC 1000 40 0 f\n1000 40 7 0\n"
    p = tmp_path / "s.symcache"
    with pysym.SymCache.from_object(small, runtime=rt) as built:
        p.write_bytes(built.to_bytes())
    sc = _entry(p, rt)
    assert [(f.function, f.line) for f in sc.lookup(0x1010)] == [("f", 7)]
    assert not _mappings(p)
    sc.close()


@pytest.mark.skipif(not MAPS, reason="file systems by statfs type: Linux only")
def test_only_files_on_local_file_systems_are_mapped(tmp_path):
    assert _local(tmp_path)
    assert not _local("/proc/self/status")  # (procfs: not in the list of local disks)
