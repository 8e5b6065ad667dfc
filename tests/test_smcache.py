"""The persisted source map cache (``pysym.SourceMapCache``, ABI 10; read by pages, ABI 11).

The oracle is ``SourceMap`` on the same map: a cache must give the very same tokens at
every mapped position (both biases, and between segments) and, built with the minified
file, the same function names as ``SourceMap.function_names``. Bundles: the UglifyJS and
preact builds of tests/data/js_names and jQuery's npm map (tests/reference,
installed by tools/provision.sh; missing files FAIL, never skip).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, List, Tuple

import pytest
from cache_damage import answered_and_refused, bit_flips

import pysym

DATA = Path(__file__).parent / "data" / "js_names"
sys.path.insert(0, str(Path(__file__).parent / "reference"))
import realmaps  # noqa: E402


def _bundle(name: str) -> Tuple[bytes, bytes]:
    if name in ("cart", "preact"):
        return (DATA / (name + ".min.js.map")).read_bytes(), (DATA / (name + ".min.js")).read_bytes()
    gone = realmaps.missing_files()
    if gone:
        pytest.fail("missing %s: run %s" % (gone[0], realmaps.INSTALL_COMMAND), pytrace=False)
    m = realmaps.BY_KEY[name]
    return m.map_path.read_bytes(), m.js_path.read_bytes()


def _positions(map_bytes: bytes, js: bytes, dense: bool) -> Tuple[List[int], List[int]]:
    """Every segment start (``dense``: and one column before and after each), and past
    each line's end."""
    segs = realmaps.segment_positions(json.loads(map_bytes)["mappings"])
    lines: List[int] = []
    cols: List[int] = []
    for line, col in segs:
        for c in (col, col + 1, max(0, col - 1)) if dense else (col,):
            lines.append(line)
            cols.append(c)
    for line, text in enumerate(js.split(b"\n")):
        lines.append(line)
        cols.append(len(text) + 5)
    return lines, cols


@pytest.mark.parametrize("name", ["cart", "preact", "jquery"])
def test_lookups_equal_sourcemap_everywhere(engine: str, name: str, tmp_path: Path) -> None:
    map_bytes, js = _bundle(name)
    # the small bundles between segments too; the large ones at every segment (CI time)
    small = name in ("cart", "preact")
    lines, cols = _positions(map_bytes, js, small)
    built = pysym.SourceMapCache.from_sourcemap(map_bytes, js)
    path = tmp_path / "cache.bin"
    built.write(path)
    built.close()
    with pysym.SourceMap.from_bytes(map_bytes) as sm, pysym.SourceMapCache.from_path(path) as cache:
        assert cache.has_function_names and not cache.has_sources_content
        sm.set_generated_source(js)
        assert len(cache) == len(sm) and cache.sources == sm.sources and cache.names == sm.names
        assert (cache.file, cache.debug_id, cache.ignore_list) == (sm.file, sm.debug_id, sm.ignore_list)
        functions = sm.function_names(lines, cols)
        assert cache._enclosing(lines, cols) == sm._enclosing(lines, cols)
        for bias in (pysym.GREATEST_LOWER_BOUND, pysym.LEAST_UPPER_BOUND):
            want = sm.lookup_many(lines, cols, bias)
            got = cache.lookup_many(lines, cols, bias)
            assert sum(t is not None for t in want) > (len(lines) // 3 if small else len(lines) * 0.9)
            for i, (w, g) in enumerate(zip(want, got)):
                if w is None:
                    assert g is None, (lines[i], cols[i])
                    continue
                assert g is not None
                assert g.function_name == functions[i], (lines[i], cols[i])
                assert g == pysym.Token(w.dst_line, w.dst_col, w.src, w.src_line, w.src_col, w.name,
                                        functions[i]), (lines[i], cols[i])
        # single lookups take the same path as the batch: a sample of them
        for i in range(0, len(lines), max(1, len(lines) // 300)):
            assert cache.lookup(lines[i], cols[i]) == cache.lookup_many([lines[i]], [cols[i]])[0]
        if small:
            assert list(cache) == list(sm)


def test_without_minified_source_and_with_contents(engine: str) -> None:
    map_bytes, _ = _bundle("cart")
    with pysym.SourceMap.from_bytes(map_bytes) as sm:
        cache = pysym.SourceMapCache.from_sourcemap(map_bytes, sources_content=True)
        assert not cache.has_function_names and cache.has_sources_content
        tok = cache.lookup(0, 30)
        assert tok is not None and tok.function_name is None
        assert tok == sm.lookup(0, 30)
        assert sm.sources and all(cache.source_content(s) == sm.source_content(s) for s in sm.sources)
        assert cache.source_content(sm.sources[0])
        again = pysym.SourceMapCache.from_bytes(cache.to_bytes())
        assert again.to_bytes() == cache.to_bytes() and again.lookup(0, 30) == tok
        without = pysym.SourceMapCache.from_sourcemap(map_bytes)
        assert without.source_content(0) is None and len(without.to_bytes()) < len(cache.to_bytes())


def _hostile(good: bytes) -> List[bytes]:
    out = [b"", b"PYSYMSMC", good[:100], good[:-4], b"X" + good[1:]]
    version = bytearray(good)
    version[8] = 9
    out.append(bytes(version))
    out.extend(bit_flips(good, header=16, spread=400))
    return out


def test_hostile_cache_bytes_give_typed_errors(engine: str) -> None:
    map_bytes, js = _bundle("cart")
    good = pysym.SourceMapCache.from_sourcemap(map_bytes, js).to_bytes()
    with pytest.raises(pysym.InvalidInputError, match="not a valid source map cache"):
        pysym.SourceMapCache.from_bytes(b"not a cache at all, not a cache at all" * 10)
    with pytest.raises(pysym.InvalidInputError, match="version 9"):
        bad = bytearray(good)
        bad[8] = 9
        pysym.SourceMapCache.from_bytes(bytes(bad))

    def use(c: Any) -> None:
        c.lookup_many([0, 1, 2, 3] * 20, list(range(0, 800, 10)))
        c.lookup(1, 5)
        if c.has_function_names:
            c.function_names([0, 1, 2, 3] * 20, list(range(0, 800, 10)))
        assert len(list(c)) == len(c)
        assert len(c.names) >= 0 and len(c.ignore_list) >= 0

    answered, refused = answered_and_refused(_hostile(good), use)
    assert refused > 20 and answered > 20
    # the runtime is intact: a good cache still answers
    with pysym.SourceMapCache.from_bytes(good) as c, pysym.SourceMap.from_bytes(map_bytes) as sm:
        assert c.lookup(0, 30) is not None
        assert c.lookup(0, 30).src == sm.lookup(0, 30).src  # type: ignore[union-attr]


def test_build_is_deterministic_and_matches_the_browser_fixture(engine: str) -> None:
    # tests/browser/node/smcache.test.mjs opens this file and builds the same bytes in Node
    map_bytes, js = _bundle("cart")
    with pysym.SourceMapCache.from_sourcemap(map_bytes, js) as c:
        assert c.to_bytes() == (DATA / "cart.smcache").read_bytes()


def test_from_path_reads_pages_and_checks_reloads(engine: str, tmp_path: Path) -> None:
    """from_path keeps no bytes object: the module reads pages of the file; a reload in a
    fresh instance reads the same file again and refuses other tables."""
    from pysym import _host
    from pysym._limits import Limits

    rt = _host.Runtime(engine, limits=Limits(memory=64 << 20))
    map_bytes, js = _bundle("cart")
    data = pysym.SourceMapCache.from_sourcemap(map_bytes, js, runtime=rt).to_bytes()
    path = tmp_path / "cart.smcache"
    path.write_bytes(data)
    cache = pysym.SourceMapCache.from_path(path, runtime=rt)
    assert cache._data is None and cache.to_bytes() == data
    want = list(cache)
    assert len(want) > 100 and any(t.function_name for t in cache.lookup_many(
        [t.dst_line for t in want], [t.dst_col for t in want]))
    copy = tmp_path / "copy.smcache"
    cache.write(copy)
    assert copy.read_bytes() == data
    # a discard (configure) makes the next use load the file again: same answers
    serial = rt.current().serial
    rt.set_limits(rt.limits.replace(timeout=30))
    assert list(cache) == want and rt.current().serial != serial
    # rewritten in place (same size, mtime put back) with other sources: refused
    other = data.replace(b"cart.js", b"kart.js")
    assert other != data and len(other) == len(data)
    st = path.stat()
    with open(path, "r+b") as f:
        f.write(other)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    rt.set_limits(rt.limits.replace(timeout=31))
    for _ in range(2):  # refused every time, nothing half loaded left behind
        with pytest.raises(pysym.FileChangedError, match="other tables"):
            cache.lookup(0, 0)
        assert rt.current().serial not in cache._handles
    with pytest.raises(pysym.FileChangedError):
        cache.to_bytes()
    cache.close()
    # a fresh open of the rewritten file is fine
    with pysym.SourceMapCache.from_path(path, runtime=rt) as fresh:
        assert any(s and "kart.js" in s for s in fresh.sources)


def test_bad_sources_content_fails_only_that_source(engine: str) -> None:
    """sourcesContent strings are checked when asked for (the parse only skips them)."""
    doc = (b'{"version":3,"sources":["a.js","b.js"],"sourcesContent":["fine \\"q\\"","bad \\x"],'
           b'"names":[],"mappings":"AAAA;ACAA"}')
    with pysym.SourceMap.from_bytes(doc) as sm:
        assert len(sm) == 2 and sm.source_content(0) == 'fine "q"'
        with pytest.raises(pysym.InvalidInputError, match=r"sourcesContent\[1\]: invalid JSON"):
            sm.source_content(1)
        assert sm.lookup(1, 0).src == "b.js"
    with pytest.raises(pysym.InvalidInputError):
        pysym.SourceMapCache.from_sourcemap(doc, sources_content=True)
    with pysym.SourceMapCache.from_sourcemap(doc) as cache:
        assert len(cache) == 2


def _big_map(lines: int, per_line: int) -> bytes:
    """A generated map of ``lines * per_line`` segments: 4 bytes per segment per column make
    its cache several MiB, more than the pages a cache keeps (1 MiB)."""
    seg = ",".join(["GACA"] * (per_line - 1))
    mappings = ";".join("AAAA," + seg for _ in range(lines))
    return json.dumps({"version": 3, "sources": ["a.js"], "names": [], "mappings": mappings}).encode()


def test_open_reads_pages_not_the_cache(engine: str, tmp_path: Path) -> None:
    """Opening a cache copies its header, not its bytes: 24 opens of a 4 MB cache grow
    the module's memory by far less than one copy each would (the bytes stay with the host,
    registered in its file table until the cache is closed); lookups on pages equal the
    map's."""
    from pysym import _host

    rt = _host.Runtime(engine)
    map_bytes = _big_map(200, 1000)
    with pysym.SourceMap.from_bytes(map_bytes, runtime=rt) as sm:
        lines = [line for line in range(0, 200, 3) for _ in range(4)]
        cols = [c for _ in range(0, 200, 3) for c in (0, 1499, 1500, 5000)]
        want = sm.lookup_many(lines, cols)
        data = pysym.SourceMapCache.from_sourcemap(map_bytes, runtime=rt).to_bytes()
    assert len(data) > 3_500_000 and sum(t is not None for t in want) > 200
    path = tmp_path / "big.smcache"
    path.write_bytes(data)
    pysym.SourceMapCache.from_bytes(data, runtime=rt).close()
    before = rt.current().instance.memory_size()
    opened = [pysym.SourceMapCache.from_bytes(data, runtime=rt) for _ in range(12)]
    opened += [pysym.SourceMapCache.from_path(path, runtime=rt) for _ in range(12)]
    grown = rt.current().instance.memory_size() - before
    assert grown < 3 * len(data), "%d bytes more for %d opens of %d bytes" % (grown, len(opened), len(data))
    assert len(rt.files._files) == 24 and rt.files.total_size() == 0  # kept, not any call's input
    for cache in opened[::6]:
        # a batch with a position per 16 KiB of lookup sections reads them at once
        assert cache.lookup_many(lines * 20, cols * 20) == want * 20
        assert cache.lookup_many(lines, cols) == want
        assert cache.lookup(lines[5], cols[5]) == want[5]
        # batches too small for that read their pages
        assert [t for i in range(0, len(lines), 4) for t in cache.lookup_many(lines[i:i + 4], cols[i:i + 4])] == want
    for cache in opened:
        cache.close()
    assert not rt.files._files
    with pytest.raises(pysym.InvalidInputError):
        pysym.SourceMapCache.from_bytes(data[:1000], runtime=rt)
    assert not rt.files._files, "a refused cache leaves nothing in the file table"


def test_load_is_one_crossing(engine: str, tmp_path: Path) -> None:
    """Opening a cache (bytes or path) is one export call that reads two pages at most,
    with no size asked of the host (ABI 12, pysym_smcache_load); a path is stat'ed once."""
    from pysym import _host

    rt = _host.Runtime(engine)
    map_bytes, js = _bundle("preact")
    data = pysym.SourceMapCache.from_sourcemap(map_bytes, js, runtime=rt).to_bytes()
    path = tmp_path / "preact.smcache"
    path.write_bytes(data)
    with pysym.SourceMap.from_bytes(map_bytes, runtime=rt) as sm:
        want = (sm.file, sm.debug_id, len(sm), sm.sources)
    calls: List[str] = []
    imports: List[Tuple[str, int]] = []
    real_call, files = rt.call, rt.files
    real_size, real_read, real_read_into = files.file_size, files.file_read, files.file_read_into
    stats: List[int] = []
    real_fstat = os.fstat

    def fstat(fd: int) -> os.stat_result:
        stats.append(fd)
        return real_fstat(fd)

    def call(name: str, *args: int) -> int:
        calls.append(name)
        return real_call(name, *args)

    def file_size(fh: int) -> int:
        imports.append(("size", 0))
        return real_size(fh)

    inside = []

    def file_read(fh: int, offset: int, length: int) -> Any:
        if not inside:
            imports.append(("read", length))
        return real_read(fh, offset, length)

    def file_read_into(fh: int, offset: int, dst: memoryview) -> int:
        # (wasmtime reads files straight into linear memory, some through file_read)
        imports.append(("read", len(dst)))
        inside.append(1)
        try:
            return real_read_into(fh, offset, dst)
        finally:
            inside.pop()

    rt.call, files.file_size = call, file_size  # type: ignore[method-assign]
    files.file_read, files.file_read_into = file_read, file_read_into  # type: ignore[method-assign]
    try:
        for opener, arg in ((pysym.SourceMapCache.from_bytes, data), (pysym.SourceMapCache.from_path, path)):
            del calls[:], imports[:], stats[:]
            os.fstat = fstat
            try:
                cache = opener(arg, runtime=rt)  # type: ignore[arg-type]
            finally:
                os.fstat = real_fstat
            assert calls == ["pysym_smcache_load"], calls
            # the header page and the page of [file, debugId]; no file_size
            assert imports and len(imports) <= 2 and all(k == "read" and n <= 16384 for k, n in imports), imports
            if cache._pinned is not None:
                assert stats.count(cache._pinned.fd) == 1, stats
            assert (cache.file, cache.debug_id, len(cache), cache.sources) == want
            cache.close()
    finally:
        del rt.call, files.file_size, files.file_read, files.file_read_into


def test_truncated_file_after_open_fails_that_call_only(engine: str, tmp_path: Path) -> None:
    map_bytes, js = _bundle("cart")
    path = tmp_path / "cart.smcache"
    with pysym.SourceMapCache.from_sourcemap(map_bytes, js) as built:
        built.write(path)
    cache = pysym.SourceMapCache.from_path(path)
    tok = cache.lookup(0, 30)
    assert tok is not None
    with open(path, "r+b") as f:
        f.truncate(200)
    with pytest.raises(pysym.FileChangedError):
        cache.lookup(0, 30)
    with pysym.SourceMapCache.from_bytes((DATA / "cart.smcache").read_bytes()) as other:
        assert other.lookup(0, 30) == tok
    cache.close()


def test_token_arrays_equal_iteration(engine: str) -> None:
    """SourceMap.token_arrays / SourceMapCache.token_arrays: the same segments as iterating
    the map, field by field, with NONE where a Token has None."""
    map_bytes, js = _bundle("preact")
    with pysym.SourceMap.from_bytes(map_bytes) as sm, pysym.SourceMapCache.from_sourcemap(map_bytes, js) as cache:
        want = list(sm)
        for owner in (sm, cache):
            t = owner.token_arrays()
            assert isinstance(t, pysym.TokenArrays)
            assert len(t.dst_line) == len(t.name) == len(want) > 1000
            assert t.sources == sm.sources and t.names == sm.names
            assert [t.token(i) for i in range(len(want))] == want
            none = 0xFFFFFFFF
            for i, tok in enumerate(want):
                assert (t.dst_line[i], t.dst_col[i]) == (tok.dst_line, tok.dst_col)
                assert t.src[i] == none if tok.src is None else t.sources[t.src[i]] == tok.src
                assert t.name[i] == none if tok.name is None else t.names[t.name[i]] == tok.name
    unmapped = b'{"version":3,"sources":["a.js"],"names":["n"],"mappings":"A,CAAAA,C"}'
    with pysym.SourceMap.from_bytes(unmapped) as sm:
        t = sm.token_arrays()
        assert list(t.src) == [0xFFFFFFFF, 0, 0xFFFFFFFF] and list(t.name) == [0xFFFFFFFF, 0, 0xFFFFFFFF]
        assert [t.token(i) for i in range(3)] == list(sm)


def test_token_arrays_of_a_paged_cache_in_steps(engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache read from its file (pages through the file table) gives the map's columns,
    also when token_arrays takes several calls (pysym_smcache_token_columns per step)."""
    map_bytes, js = _bundle("preact")
    path = tmp_path / "preact.smcache"
    pysym.SourceMapCache.from_sourcemap(map_bytes, js).write(str(path))
    monkeypatch.setattr(pysym.SourceMapCache, "_ARRAYS_STEP", 777)
    with pysym.SourceMap.from_bytes(map_bytes) as sm, pysym.SourceMapCache.from_path(str(path)) as cache:
        want, got = sm.token_arrays(), cache.token_arrays()
        assert len(got.dst_line) == len(sm) > 3 * 777
        assert got == want


def test_single_lookup_reads_one_name(engine: str) -> None:
    """A single lookup on a fresh cache reads its name and function name by themselves
    (pysym_smcache_string), not the whole tables; the answers are the batch's."""
    map_bytes, js = _bundle("preact")
    data = pysym.SourceMapCache.from_sourcemap(map_bytes, js).to_bytes()
    lines, cols = _positions(map_bytes, js, False)
    with pysym.SourceMapCache.from_bytes(data) as batch:
        want = batch.lookup_many(lines, cols)
    named = [i for i, t in enumerate(want) if t is not None and t.name and t.function_name][:20]
    assert len(named) == 20
    with pysym.SourceMapCache.from_bytes(data) as cache:
        for i in named:
            assert cache.lookup(lines[i], cols[i]) == want[i]
        assert cache._names is None and cache._functions is None
        assert cache._single(1, 10**6) is None and cache._single(2, 0) == cache.file
        with pytest.raises(pysym.PysymError, match="kind must be 0 to 3"):
            cache._single(7, 0)
        assert cache.names[cache.names.index(want[named[0]].name)] == want[named[0]].name
