"""SourceMapCache on React Native maps: Metro's ``x_facebook_sources`` function maps,
Hermes' ``x_hermes_function_offsets``, and the other map fields ``SourceMap`` answers from.

The oracle is ``SourceMap`` on the same map (itself checked against metro-symbolicate in
tests/test_react_native.py): a cache built from the map (and, for the JavaScript bundle,
optionally its generated file) must give the very same token and ``function_name`` at
every mapped position (both biases, and between segments), the same Hermes frame
positions, and the same fields, whether it is read from bytes or by pages from a file.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from cache_damage import answered_and_refused, bit_flips

import pysym
from pysym._stacktrace import Frame, parse_stacktrace

DATA = Path(__file__).parent / "data" / "react_native"
BYTECODE_MAP = DATA / "index.android.bundle.map"
BUNDLE_MAP = DATA / "index.android.bundle.js.map"
BUNDLE_JS = DATA / "index.android.bundle.js"
V1_CACHE = Path(__file__).parent / "data" / "js_names" / "cart.v1.smcache"


def _positions(sm: pysym.SourceMap, line_ends: List[int]) -> Tuple[List[int], List[int]]:
    """Every segment start, one column before and after it, each line's end and past it,
    and the Hermes trace's frame positions (bytecode offsets on line 0)."""
    pairs = set()
    for t in sm.tokens:
        for c in (t.dst_col, t.dst_col + 1, max(0, t.dst_col - 1)):
            pairs.add((t.dst_line, c))
    for line, end in enumerate(line_ends):
        pairs.update({(line, end), (line, end + 5)})
    for f in parse_stacktrace((DATA / "trace_bytecode.txt").read_text("utf-8")):
        if isinstance(f, Frame) and f.has_position and f.col is not None:
            pairs.add((0, f.col))
    ordered = sorted(pairs)
    return [p[0] for p in ordered], [p[1] for p in ordered]


def _want_functions(sm: pysym.SourceMap, lines: List[int], cols: List[int]) -> List[Optional[str]]:
    try:
        return sm.function_names(lines, cols)
    except ValueError:  # nothing names functions: the cache answers None
        return [None] * len(lines)


def _same_as_map(sm: pysym.SourceMap, cache: pysym.SourceMapCache, line_ends: List[int]) -> int:
    """Asserts every lookup of ``cache`` is ``sm``'s; returns how many named a function."""
    assert len(cache) == len(sm) and cache.sources == sm.sources and cache.names == sm.names
    assert (cache.file, cache.debug_id, cache.ignore_list, cache.is_index_map) == (
        sm.file, sm.debug_id, sm.ignore_list, sm.is_index_map)
    assert (cache.has_function_maps, cache.has_scopes, cache.function_maps_problem) == (
        sm.has_function_maps, sm.has_scopes, sm.function_maps_problem)
    lines, cols = _positions(sm, line_ends)
    functions = _want_functions(sm, lines, cols)
    if cache.has_function_names:
        # the kinds too (top level, anonymous, named, no answer), as the trace naming reads them
        assert cache._enclosing(lines, cols) == sm._enclosing(lines, cols)
    named = 0
    for bias in (pysym.GREATEST_LOWER_BOUND, pysym.LEAST_UPPER_BOUND):
        want = sm.lookup_many(lines, cols, bias)
        got = cache.lookup_many(lines, cols, bias)
        for i, (w, g) in enumerate(zip(want, got)):
            at = (lines[i], cols[i], bias)
            if w is None:
                assert g is None, at
                continue
            assert g == pysym.Token(w.dst_line, w.dst_col, w.src, w.src_line, w.src_col, w.name,
                                    functions[i]), at
            assert cache.lookup(lines[i], cols[i], bias) == g, at
            named += g.function_name is not None
    assert list(cache) == list(sm)
    return named


def _line_ends(js: Optional[bytes]) -> List[int]:
    return [len(t) for t in js.split(b"\n")] if js is not None else [1100]


CASES = {
    "bytecode": (BYTECODE_MAP, None),
    "bundle": (BUNDLE_MAP, None),
    "bundle+js": (BUNDLE_MAP, BUNDLE_JS),
}


def _check(map_bytes: bytes, js: Optional[bytes], tmp_path: Path) -> int:
    """The cache from bytes and from a file (paged) against the map; function names found."""
    cache = pysym.SourceMapCache.from_sourcemap(map_bytes, js)
    path = tmp_path / "metro.smcache"
    cache.write(path)
    with pysym.SourceMap.from_bytes(map_bytes) as sm:
        if js is not None:
            sm.set_generated_source(js)
        named = _same_as_map(sm, cache, _line_ends(js))
        with pysym.SourceMapCache.from_path(path) as paged:
            assert _same_as_map(sm, paged, _line_ends(js)) == named
    cache.close()
    return named


@pytest.mark.parametrize("case", sorted(CASES))
def test_metro_cache_equals_sourcemap(engine: str, case: str, tmp_path: Path) -> None:
    map_path, js_path = CASES[case]
    js = js_path.read_bytes() if js_path is not None else None
    named = _check(map_path.read_bytes(), js, tmp_path)
    # the function maps name (nearly) every mapped position of these bundles
    assert named > 100, named
    with pysym.SourceMapCache.from_sourcemap(map_path.read_bytes(), js) as cache:
        assert cache.has_function_maps and cache.has_function_names
        if case == "bytecode":
            assert cache.lookup(0, 962).function_name == "items.reduce$argument_0"  # type: ignore[union-attr]


def test_hermes_positions_equal_sourcemap(engine: str, tmp_path: Path) -> None:
    map_bytes = BYTECODE_MAP.read_bytes()
    starts = json.loads(map_bytes)["x_hermes_function_offsets"]["0"]
    path = tmp_path / "hermes.smcache"
    pysym.SourceMapCache.from_sourcemap(map_bytes).write(path)
    with pysym.SourceMap.from_bytes(map_bytes) as sm, pysym.SourceMapCache.from_path(path) as paged, \
            pysym.SourceMapCache.from_bytes(path.read_bytes()) as cache:
        asked = 0
        for segment in (0, 1, 7):
            for fid in range(len(starts) + 2):
                for offset in (0, 1, 17, 0xFFFFFFFE):
                    want = sm.hermes_position(fid, offset, segment)
                    assert cache.hermes_position(fid, offset, segment) == want, (segment, fid, offset)
                    assert paged.hermes_position(fid, offset, segment) == want
                    asked += want is not None
        assert asked > 3 * len(starts)
        with pytest.raises(ValueError):
            cache.hermes_position(-1, 0)
    # a map without the field: no positions
    with pysym.SourceMapCache.from_sourcemap(BUNDLE_MAP.read_bytes()) as c:
        assert c.hermes_position(0, 0) is None


def _edited(path: Path, **fields: Any) -> bytes:
    m = json.loads(path.read_text("utf-8"))
    for k, v in fields.items():
        if v is None:
            m.pop(k, None)
        else:
            m[k] = v
    return json.dumps(m).encode()


def test_malformed_function_maps_behave_as_in_sourcemap(engine: str, tmp_path: Path) -> None:
    good = json.loads(BYTECODE_MAP.read_text("utf-8"))["x_facebook_sources"]
    bad_cart = [{"names": ["x"], "mappings": "AAA;ACA"}]  # name index 1 of 1 name
    cases = [
        _edited(BYTECODE_MAP, x_facebook_sources=[good[0], bad_cart]),
        _edited(BYTECODE_MAP, x_facebook_sources={"not": "an array"}),
        _edited(BYTECODE_MAP, x_facebook_sources=[None, [{"names": "x", "mappings": "AAA"}]]),
        _edited(BYTECODE_MAP, x_hermes_function_offsets={"0": "not offsets"}),
    ]
    problems = []
    for data in cases:
        with pytest.warns(UserWarning):
            cache = pysym.SourceMapCache.from_sourcemap(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sm = pysym.SourceMap.from_bytes(data)
        with sm, cache:
            assert cache.function_maps_problem is not None
            problems.append(cache.function_maps_problem)
            _same_as_map(sm, cache, [1100])
            assert cache.hermes_position(3, 1) == sm.hermes_position(3, 1)
            # opening the bytes again keeps the problem, without a warning per open
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                with pysym.SourceMapCache.from_bytes(cache.to_bytes()) as again:
                    assert again.function_maps_problem == sm.function_maps_problem
    assert "name index 1 out of range" in problems[0] and "expected an array" in problems[1]
    assert "x_hermes_function_offsets" in problems[3]


def test_scopes_field_wins_over_function_maps(engine: str, tmp_path: Path) -> None:
    from test_js_scopes_field import GENERATED
    from test_js_scopes_field import _map as scopes_map

    m = scopes_map()
    m["x_facebook_sources"] = [[{"names": ["fromMetro"], "mappings": "AAA"}]]
    data = json.dumps(m).encode()
    for js in (None, GENERATED.encode()):
        with pysym.SourceMap.from_bytes(data) as sm:
            if js is not None:
                sm.set_generated_source(js)
            cache = pysym.SourceMapCache.from_sourcemap(data, js)
            assert cache.has_scopes and cache.has_function_maps
            _same_as_map(sm, cache, [40] * 6)
            assert [cache.lookup(3, 2).function_name, cache.lookup(0, 4).function_name] == [  # type: ignore[union-attr]
                "z", None]
            cache.close()
    del m["scopes"]
    data = json.dumps(m).encode()
    with pysym.SourceMap.from_bytes(data) as sm:
        sm.set_generated_source(GENERATED)
        with pysym.SourceMapCache.from_sourcemap(data, GENERATED) as cache:
            assert not cache.has_scopes
            _same_as_map(sm, cache, [40] * 6)
            assert cache.lookup(3, 2).function_name == "fromMetro"  # type: ignore[union-attr]


def _index_map(inner: Dict[str, Any], js_lines: int) -> bytes:
    """The map as two sections of an index map: itself, then again below its lines."""
    return json.dumps({"version": 3, "file": "index.bundle", "sections": [
        {"offset": {"line": 0, "column": 0}, "map": inner},
        {"offset": {"line": js_lines + 2, "column": 0}, "map": inner},
    ]}).encode()


def test_index_map_sections_with_function_maps(engine: str, tmp_path: Path) -> None:
    inner = json.loads(BUNDLE_MAP.read_text("utf-8"))
    js = BUNDLE_JS.read_bytes()
    n = js.count(b"\n") + 1
    data = _index_map(inner, n)
    with pysym.SourceMap.from_bytes(data) as sm:
        assert sm.is_index_map and sm.has_function_maps
        with pysym.SourceMapCache.from_sourcemap(data) as cache:
            ends = _line_ends(js) + [0, 0] + _line_ends(js)
            assert _same_as_map(sm, cache, ends) > 100
            # the second section's sources carry their function maps too
            second = [t for t in sm.tokens if t.dst_line >= n + 2 and t.src is not None]
            got = cache.lookup_many([t.dst_line for t in second], [t.dst_col for t in second])
            assert sum(g is not None and g.function_name is not None for g in got) > len(second) // 2


def test_other_fields_equal_sourcemap(engine: str, tmp_path: Path) -> None:
    """ignoreList / x_google_ignoreList, debugId / debug_id, file: as SourceMap answers."""
    variants = [
        {"ignoreList": [0], "debugId": "85314830-023f-4cf1-a267-535f4e37bb17", "file": "a.bundle"},
        {"x_google_ignoreList": [1], "debug_id": "00000000-0000-0000-0000-000000000001"},
        {"ignoreList": [1], "x_google_ignoreList": [0]},
    ]
    for fields in variants:
        data = _edited(BYTECODE_MAP, **fields)  # type: ignore[arg-type]
        with pysym.SourceMap.from_bytes(data) as sm, pysym.SourceMapCache.from_sourcemap(data) as cache:
            assert sm.ignore_list and bool(sm.debug_id) == any("ebug" in k for k in fields)
            _same_as_map(sm, cache, [1100])


def test_version_1_caches_are_refused_with_a_typed_error(engine: str) -> None:
    """Format 1 had no function maps: its answers for Metro maps were wrong, so a
    version-1 cache is refused (rebuild it from the map), never read."""
    old = V1_CACHE.read_bytes()
    assert old[:8] == b"PYSYMSMC" and old[8:12] == b"\x01\x00\x00\x00"
    with pytest.raises(pysym.InvalidInputError, match=r"version 1, this reader reads 2.*rebuild"):
        pysym.SourceMapCache.from_bytes(old)


def test_build_is_deterministic_and_matches_the_browser_fixtures(engine: str) -> None:
    # tests/browser/node/smcache-metro.test.mjs opens these files and builds the same
    # bytes in Node
    for map_path, js_path, fixture in ((BYTECODE_MAP, None, "bytecode.smcache"),
                                       (BUNDLE_MAP, BUNDLE_JS, "bundle.smcache")):
        js = js_path.read_bytes() if js_path is not None else None
        with pysym.SourceMapCache.from_sourcemap(map_path.read_bytes(), js) as c:
            assert c.to_bytes() == (DATA / fixture).read_bytes(), fixture


def test_hostile_metro_cache_bytes_give_typed_errors(engine: str) -> None:
    """Damage anywhere in a Metro cache (header, function maps, Hermes offsets, tables):
    answers or InvalidInputError, and the runtime keeps working."""
    good = (DATA / "bytecode.smcache").read_bytes()
    lines, cols = [0] * 40, list(range(0, 1200, 30))

    def use(c: Any) -> None:
        c.lookup_many(lines, cols)
        c.lookup_many(lines, cols, pysym.LEAST_UPPER_BOUND)
        c.lookup(0, 962)
        for fid in (0, 3, 18, 19):
            c.hermes_position(fid, 1)
        if c.has_function_names:
            c.function_names(lines, cols)

    answered, refused = answered_and_refused(bit_flips(good), use)
    assert refused > 20 and answered > 20
    with pysym.SourceMapCache.from_bytes(good) as c:
        assert c.lookup(0, 962).function_name == "items.reduce$argument_0"  # type: ignore[union-attr]


def test_a_cache_in_a_trace_resolver_names_as_the_map(engine: str) -> None:
    """symbolicate_trace with a SourceMapCache for the bundle: the frames the map gives,
    named by the function maps (tests/test_smcache_trace.py compares every frame)."""
    from pysym._stacktrace import symbolicate_trace

    text = (DATA / "trace_bytecode.txt").read_text("utf-8")
    with pysym.SourceMapCache.from_sourcemap(BYTECODE_MAP.read_bytes()) as cache, \
            pysym.SourceMap.from_bytes(BYTECODE_MAP.read_bytes()) as sm:
        assert cache.has_function_maps and cache.has_function_names
        out = symbolicate_trace(text, lambda url: cache if url == "index.android.bundle" else None, context=None)
        want = symbolicate_trace(text, lambda url: sm if url == "index.android.bundle" else None, context=None)
    assert out == want
    assert "src/cart.js:11:22" in out
