"""Objects opened from a path answer from the bytes they were opened with (issue 13, part 1).

An object is rebuilt in a fresh instance whenever the runtime throws its instance away (a
trap or a limit in *any* object, ``configure()``, a new thread on wasmer), while its
host-side tables (sources, names, decoded frames, ``debug_id``) stay. These tests replace
or rewrite the file, force such a discard through *another* object, and look up again:
the answer is the one of the original bytes, or :class:`pysym.FileChangedError`.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Callable, List

import pytest

import pysym
from pysym import _host
from pysym._limits import Limits


def _map(src: str, name: str, line: int) -> bytes:
    # One segment at generated 0:0 -> src:line:0, name; maps of equal size for equal
    # lengths of src and name (so that a rewrite in place keeps the size).
    mappings = "AA" + "ACEGIKMO"[line] + "AA"  # VLQ of line (< 8): one character
    return json.dumps({"version": 3, "file": "gen.js", "sources": [src], "names": [name],
                       "mappings": mappings, "debugId": "%08d-0000-0000-0000-000000000000" % line}).encode()


OLD_MAP = _map("old.js", "alpha", 3)
NEW_MAP = _map("new.js", "gamma", 5)
assert len(OLD_MAP) == len(NEW_MAP)


def _sym(name: str, line: int) -> bytes:
    return ("MODULE Linux x86_64 6EDC6ACDB282125843FD59DA9C81BD830 prog\n"
            "FILE 0 /src/%s.c\n"
            "FUNC 1000 40 0 %s\n"
            "1000 40 %d 0\n" % (name, name, line)).encode()


def _symcache(name: str, line: int, rt: Any) -> bytes:
    with pysym.SymCache.from_object(_sym(name, line), runtime=rt) as sc:
        return sc.to_bytes()


def _replace(path: Any, data: bytes) -> None:
    """A deploy: the new file is written beside and renamed over the old one."""
    tmp = str(path) + ".new"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _rewrite(path: Any, data: bytes, keep_mtime: bool) -> None:
    """The same inode rewritten in place (optionally with its mtime put back)."""
    st = os.stat(path)
    with open(path, "r+b") as f:
        f.write(data)
        f.truncate()
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert os.stat(path).st_mtime_ns == st.st_mtime_ns


# -- ways to make the runtime throw its instance away, through another object --------

def _discard_by_memory_limit(rt: Any, engine: str) -> None:
    if engine != "wasmtime":
        pytest.skip("only wasmtime enforces Limits.memory (wasmer 1.1 has no limiter)")
    big = json.dumps({"version": 3, "sources": ["a.js"], "names": [],
                      "mappings": ";".join(["AAAA," + ",".join(["CAAC"] * 300)] * 4000)}).encode()
    with pytest.raises(pysym.MemoryLimitError):
        pysym.SourceMap.from_bytes(big, runtime=rt)


def _discard_by_interrupted_call(rt: Any, engine: str) -> None:
    # A BaseException out of a host import abandons the call: its instance is discarded
    # (the same path as a trap, on every engine).
    def stop(fraction: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pysym.SymCache.from_object(_sym("other", 1), runtime=rt, progress=stop)


def _discard_by_configure(rt: Any, engine: str) -> None:
    rt.set_limits(rt.limits.replace(timeout=30))


DISCARDS: List[Callable[[Any, str], None]] = [
    _discard_by_memory_limit, _discard_by_interrupted_call, _discard_by_configure]


def _runtime(engine: str) -> Any:
    # 16 MiB: enough for these objects, too little for _discard_by_memory_limit's map.
    return _host.Runtime(engine, limits=Limits(memory=16 << 20))


def _serial(rt: Any) -> int:
    return rt.current().serial


@pytest.mark.parametrize("discard", DISCARDS, ids=lambda f: f.__name__[9:])
def test_sourcemap_replaced_file_answers_from_old_bytes(engine, tmp_path, discard):
    rt = _runtime(engine)
    p = tmp_path / "app.js.map"
    p.write_bytes(OLD_MAP)
    sm = pysym.SourceMap.from_path(p, runtime=rt)
    before = sm.lookup(0, 0)
    assert (before.src, before.src_line, before.name) == ("old.js", 3, "alpha")
    serial = _serial(rt)
    _replace(p, NEW_MAP)
    discard(rt, engine)
    assert _serial(rt) != serial  # the instance really is a new one
    after = sm.lookup(0, 0)
    assert after == before
    assert serial not in sm._handles or len(sm._handles) > 1  # it was loaded again
    assert sm.debug_id == "00000003-0000-0000-0000-000000000000"
    assert sm.lookup_many([0], [0]) == [before]
    # a new object sees the new file
    assert pysym.SourceMap.from_path(p, runtime=rt).lookup(0, 0).src_line == 5
    sm.close()


@pytest.mark.parametrize("keep_mtime", [False, True], ids=["mtime", "same-mtime"])
@pytest.mark.parametrize("discard", DISCARDS, ids=lambda f: f.__name__[9:])
def test_sourcemap_rewritten_in_place_is_refused(engine, tmp_path, discard, keep_mtime):
    rt = _runtime(engine)
    p = tmp_path / "app.js.map"
    p.write_bytes(OLD_MAP)
    sm = pysym.SourceMap.from_path(p, runtime=rt)
    assert sm.lookup(0, 0).name == "alpha"
    _rewrite(p, NEW_MAP, keep_mtime)
    discard(rt, engine)
    with pytest.raises(pysym.FileChangedError) as info:
        sm.lookup(0, 0)
    assert str(p) in str(info.value)
    if keep_mtime:
        assert "other bytes" in str(info.value)
    # refused every time, nothing half loaded is left behind
    with pytest.raises(pysym.FileChangedError):
        sm.lookup_many([0], [0])
    assert sm._handles.get(_serial(rt)) is None
    # other objects are unaffected; the file as it is now opens normally
    fresh = pysym.SourceMap.from_path(p, runtime=rt)
    assert fresh.lookup(0, 0).name == "gamma"
    # putting the original bytes back makes the old object usable again (same digest)
    _rewrite(p, OLD_MAP, keep_mtime=False)
    os.utime(p, ns=(sm._pinned.ident[3], sm._pinned.ident[3]))
    assert sm.lookup(0, 0).name == "alpha"


@pytest.mark.parametrize("discard", DISCARDS, ids=lambda f: f.__name__[9:])
def test_symcache_replaced_and_rewritten(engine, tmp_path, discard):
    rt = _runtime(engine)
    old = _symcache("alpha", 10, rt)
    new = _symcache("omega", 20, rt)
    assert len(old) == len(new) and old != new
    p = tmp_path / "prog.symc"
    p.write_bytes(old)
    sc = pysym.SymCache.from_path(p, runtime=rt)
    (frame,) = sc.lookup(0x1000)
    assert (frame.function, frame.line, frame.file) == ("alpha", 10, "/src/alpha.c")
    _replace(p, new)
    discard(rt, engine)
    # frames not decoded yet come from the old bytes too (not from the new module state)
    assert sc.lookup_many([0x1000, 0x1010, 0x2000]) == [[frame], [frame], []]
    q = tmp_path / "other.symc"
    q.write_bytes(old)
    sc2 = pysym.SymCache.from_path(q, runtime=rt)
    sc2.lookup(0x1000)
    _rewrite(q, new, keep_mtime=True)
    discard(rt, engine)
    with pytest.raises(pysym.FileChangedError):
        sc2.lookup(0x1010)
    assert pysym.SymCache.from_path(q, runtime=rt).lookup(0x1000)[0].function == "omega"


def _entry(path: Any, rt: Any) -> Any:
    """The disk cache's way of opening its own entry: straight into the module, vouched
    for by its stamp (and CRC-32 for reloads)."""
    import zlib

    from pysym._symbolicate._cache import DiskCache

    data = open(path, "rb").read()
    stamp = DiskCache.stamp(os.stat(path))
    return pysym.SymCache._from_cache_entry(str(path), len(data), zlib.crc32(data), stamp, runtime=rt)


@pytest.mark.parametrize("discard", DISCARDS, ids=lambda f: f.__name__[9:])
def test_symcache_cache_entry_replaced_and_rewritten(engine, tmp_path, discard):
    # A disk cache entry read straight into the module (no host copy): a reload reads the
    # file again through its descriptor and checks the CRC-32 the cache recorded.
    rt = _runtime(engine)
    old = _symcache("alpha", 10, rt)
    new = _symcache("omega", 20, rt)
    assert len(old) == len(new) and old != new
    p = tmp_path / "k.symcache"
    p.write_bytes(old)
    sc = _entry(p, rt)
    assert sc._unchecked and sc._data is None
    (frame,) = sc.lookup(0x1000)
    assert (frame.function, frame.line, frame.file) == ("alpha", 10, "/src/alpha.c")
    serial = _serial(rt)
    _replace(p, new)  # (eviction then a rebuild: the descriptor still reads the old file)
    discard(rt, engine)
    assert _serial(rt) != serial
    assert sc.lookup_many([0x1000, 0x1010, 0x2000]) == [[frame], [frame], []]
    assert sc.to_bytes() == old
    q = tmp_path / "q.symcache"
    q.write_bytes(old)
    sc2 = _entry(q, rt)
    sc2.lookup(0x1000)
    _rewrite(q, new, keep_mtime=True)  # same size, same mtime: only the CRC-32 tells
    discard(rt, engine)
    with pytest.raises(pysym.FileChangedError):
        sc2.lookup(0x1010)
    # The stamp is checked after the first read: a file changed since it was vouched for
    # (same bytes even: its ctime moved) is refused.
    import zlib

    from pysym._symbolicate._cache import DiskCache

    stamp_then = DiskCache.stamp(os.stat(q))
    _rewrite(q, new, keep_mtime=True)
    with pytest.raises(pysym.FileChangedError):
        pysym.SymCache._from_cache_entry(str(q), len(new), zlib.crc32(new), stamp_then, runtime=rt)
    assert _entry(q, rt).lookup(0x1000)[0].function == "omega"
    sc.close()
    sc2.close()


def test_deleted_file_still_reloads(engine, tmp_path):
    rt = _runtime(engine)
    p = tmp_path / "app.js.map"
    p.write_bytes(OLD_MAP)
    sm = pysym.SourceMap.from_path(p, runtime=rt)
    os.unlink(p)
    _discard_by_configure(rt, engine)
    assert sm.lookup(0, 0).name == "alpha"


def test_wasmer_new_thread_loads_the_old_bytes(engine, tmp_path):
    # wasmer: each thread has its own instance, so a first use from another thread loads
    # the object again (the discard the issue names for wasmer); on wasmtime the thread
    # shares the instance and nothing is reloaded: both must give the old answer.
    rt = _runtime(engine)
    p = tmp_path / "app.js.map"
    p.write_bytes(OLD_MAP)
    sm = pysym.SourceMap.from_path(p, runtime=rt)
    before = sm.lookup(0, 0)
    _replace(p, NEW_MAP)
    q = tmp_path / "in-place.js.map"
    q.write_bytes(OLD_MAP)
    sm2 = pysym.SourceMap.from_path(q, runtime=rt)
    _rewrite(q, NEW_MAP, keep_mtime=False)
    seen: List[Any] = []

    def use() -> None:
        seen.append(sm.lookup(0, 0))
        try:
            seen.append(sm2.lookup(0, 0))
        except pysym.FileChangedError as e:
            seen.append(e)

    t = threading.Thread(target=use)
    t.start()
    t.join()
    assert seen[0] == before
    if engine == "wasmer":
        assert isinstance(seen[1], pysym.FileChangedError)
    else:
        assert seen[1].name == "alpha"  # still loaded in the shared instance: no reload


def test_close_releases_the_descriptor(engine, tmp_path):
    p = tmp_path / "app.js.map"
    p.write_bytes(OLD_MAP)
    sm = pysym.SourceMap.from_path(p)
    fd = sm._pinned.fd
    assert os.fstat(fd)
    sm.close()
    assert sm._pinned.fd == -1
    with pytest.raises(OSError):
        os.fstat(fd)
    with pytest.raises(pysym.InvalidInputError, match="not a regular file"):
        pysym.SourceMap.from_path("/dev/null")
    with pytest.raises(IsADirectoryError):
        pysym.SourceMap.from_path(tmp_path)
    with pytest.raises(FileNotFoundError):
        pysym.SymCache.from_path(tmp_path / "missing")


def test_descriptors_are_bounded(engine, tmp_path, monkeypatch):
    # A resolver may hold thousands of maps: at most PINNED_FDS descriptors stay open; an
    # object whose descriptor was closed reopens its path, and must find the same file.
    monkeypatch.setattr(_host, "PINNED_FDS", 3)
    rt = _runtime(engine)
    paths = []
    for i in range(8):
        p = tmp_path / ("m%d.map" % i)
        p.write_bytes(_map("s%d.js" % i, "alpha", i % 8))
        paths.append(p)
    maps = [pysym.SourceMap.from_path(p, runtime=rt) for p in paths]
    assert sum(m._pinned.fd >= 0 for m in maps) == 3
    _discard_by_configure(rt, engine)
    for i, m in enumerate(maps):
        assert m.lookup(0, 0).src == "s%d.js" % i  # reloaded, by path where evicted
    assert sum(m._pinned.fd >= 0 for m in maps) == 3
    victim = next(i for i, m in enumerate(maps) if m._pinned.fd < 0)
    _replace(paths[victim], _map("xx.js", "alpha", victim % 8))
    kept = next(i for i, m in enumerate(maps) if m._pinned.fd >= 0)
    _replace(paths[kept], _map("yy.js", "alpha", kept % 8))
    _discard_by_configure(rt, engine)
    with pytest.raises(pysym.FileChangedError, match="another file is at its path"):
        maps[victim].lookup(0, 0)
    if maps[kept]._pinned.fd >= 0:  # still open (not evicted by the reopen above): old bytes
        assert maps[kept].lookup(0, 0).src == "s%d.js" % kept
    os.unlink(paths[victim])
    maps[victim]._pinned.close()
    maps[victim]._pinned.closed = False  # as if evicted: its path is gone now
    with pytest.raises(pysym.FileChangedError, match="removed"):
        maps[victim].lookup(0, 0)
    for m in maps:
        m.close()
    assert not any(id(m._pinned) in _host._pinned_open for m in maps)
    assert all(m._pinned.fd == -1 for m in maps)


def test_collected_objects_are_freed_at_the_next_call(engine):
    # A finaliser must not call into the module (the collector may have finalised the
    # engine's store already): the handle is queued and freed by the next call.
    import gc

    rt = _runtime(engine)
    sm = pysym.SourceMap.from_bytes(OLD_MAP, runtime=rt)
    handle = sm._handles[_serial(rt)]
    del sm
    gc.collect()
    assert rt._free_later == [(_serial(rt), "pysym_sourcemap_free", handle, None)]
    other = pysym.SourceMap.from_bytes(NEW_MAP, runtime=rt)  # a call: drains the queue
    assert rt._free_later == []
    if other._handles[_serial(rt)] != handle:  # the slot may be reused at once
        with pytest.raises(pysym.PysymError):
            rt.check(rt.call("pysym_sourcemap_info", handle, rt.out_slot))
    assert other.lookup(0, 0).name == "gamma"


def test_object_then_symcache_from_the_same_bytes(engine, tmp_path):
    p = tmp_path / "prog.sym"
    p.write_bytes(_sym("alpha", 10))
    obj = pysym.Object.from_path(p)
    _replace(p, _sym("omega", 20).replace(b"6EDC6ACD", b"00000000"))
    with pysym.SymCache.from_object(obj) as sc:  # built from what obj identified
        assert sc.debug_id == obj.debug_id
        assert sc.lookup(0x1000)[0].function == "alpha"
    q = tmp_path / "other.sym"
    q.write_bytes(_sym("alpha", 10))
    obj2 = pysym.Object.from_path(q)
    _rewrite(q, _sym("omega", 20) + b"\n", keep_mtime=False)
    with pytest.raises(pysym.FileChangedError):
        pysym.SymCache.from_object(obj2)
