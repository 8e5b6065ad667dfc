"""Stack traces symbolicated through a ``SourceMapCache`` give exactly the frames they give
through the ``SourceMap`` the cache was built from (ABI 15: ``pysym_smcache_function_names``).

Every frame is compared whole (``SymbolicatedFrame``: original file, line, column, the
function name and how it was found, the name at the position, the context lines): the
map is given the generated file when the cache was built with it. Bundles: the UglifyJS
and preact builds of tests/data/js_names, jQuery's and rxjs' npm maps (tests/reference),
the example app's printed traces, the React Native / Hermes maps of
tests/data/react_native (traces printed by Hermes, and a frame at every segment), a map
with the ECMA-426 ``scopes`` field, and the tc39 scopes fixtures of tests/conformance.
The caches are read from bytes and by pages from a file.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple

import pytest
from cache_damage import answered_and_refused, bit_flips

import pysym
from pysym import _abi
from pysym._stacktrace import ResolvedMap, SymbolicatedFrame, parse_stacktrace, symbolicate_frames

TESTS = Path(__file__).parent
NAMES = TESTS / "data" / "js_names"
RN = TESTS / "data" / "react_native"
TC39_SCOPES = TESTS / "conformance" / "tc39-source-map-tests" / "decoding" / "scopes"
sys.path.insert(0, str(TESTS / "reference"))
import realmaps  # noqa: E402

URL = "https://cdn.example.com/js/bundle.min.js"


def _trace(positions: List[Tuple[int, int]], url: str = URL, bytecode: bool = False) -> str:
    """A V8 trace with a frame at each 0-based (line, col), every other one printed with a
    name and every fourth one as a constructor, then the same frames in gecko style."""
    out = ["Error: boom"]
    for k, (line, col) in enumerate(positions):
        c = col if bytecode else col + 1
        where = "address at %s:%d:%d" % (url, line + 1, c) if bytecode else "%s:%d:%d" % (url, line + 1, c)
        if k % 2:
            out.append("    at %s (%s)" % ("new f%d" % k if k % 4 == 1 else "f%d" % k, where))
        else:
            out.append("    at " + where)
    if not bytecode:
        out.extend("%s@%s:%d:%d" % ("" if k % 3 else "g", url, line + 1, col + 1)
                   for k, (line, col) in enumerate(positions))
    return "\n".join(out)


def _frames(text: str, target: Any, url: str = URL, context: Optional[int] = None) -> List[SymbolicatedFrame]:
    lines = parse_stacktrace(text)
    done = symbolicate_frames(lines, lambda u: target if u == url else None, context)
    return [f for f in done if isinstance(f, SymbolicatedFrame)]


def _same_frames(text: str, sm: pysym.SourceMap, generated: Optional[str], caches: List[pysym.SourceMapCache],
                 url: str = URL, context: Optional[int] = None) -> Counter:  # type: ignore[type-arg]
    """Asserts every frame through each cache is the map's; how the map's were named."""
    want = _frames(text, ResolvedMap(sm, generated), url, context)
    for cache in caches:
        # the resolver may give the cache bare, or with the generated text (ignored)
        for target in (cache, ResolvedMap(cache, generated)):
            got = _frames(text, target, url, context)
            assert len(got) == len(want)
            diff = [(w.frame.raw, w, g) for w, g in zip(want, got) if w != g]
            assert not diff, diff[:3]
    return Counter(f.function_from for f in want)


def _caches(map_bytes: bytes, js: Optional[bytes], tmp_path: Path, contents: bool = False) -> Iterator[
        pysym.SourceMapCache]:
    built = pysym.SourceMapCache.from_sourcemap(map_bytes, js, sources_content=contents)
    path = tmp_path / "trace.smcache"
    built.write(path)
    yield built
    yield pysym.SourceMapCache.from_path(path)


def _check(map_bytes: bytes, js: Optional[bytes], text: str, tmp_path: Path, url: str = URL,
           context: Optional[int] = None) -> Counter:  # type: ignore[type-arg]
    caches = list(_caches(map_bytes, js, tmp_path, context is not None))
    try:
        with pysym.SourceMap.from_bytes(map_bytes) as sm:
            return _same_frames(text, sm, js.decode("utf-8") if js is not None else None, caches, url, context)
    finally:
        for c in caches:
            c.close()


def _segments(map_bytes: bytes, every: int = 1) -> List[Tuple[int, int]]:
    segs = realmaps.segment_positions(json.loads(map_bytes)["mappings"])
    return segs[::every]


def _bundle(name: str) -> Tuple[bytes, bytes]:
    if name in ("cart", "preact"):
        return (NAMES / (name + ".min.js.map")).read_bytes(), (NAMES / (name + ".min.js")).read_bytes()
    gone = realmaps.missing_files()
    if gone:
        pytest.fail("missing %s: run %s" % (gone[0], realmaps.INSTALL_COMMAND), pytrace=False)
    m = realmaps.BY_KEY[name]
    return m.map_path.read_bytes(), m.js_path.read_bytes()


# -- bundles minified by UglifyJS and terser, and npm's real maps ----------------------------

#: bundle -> frames from every n-th segment (CI time on the large ones)
BUNDLES = {"cart": 1, "preact": 1, "jquery": 7, "rxjs-min": 9}


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_bundle_frames_equal_the_maps(engine: str, name: str, tmp_path: Path) -> None:
    map_bytes, js = _bundle(name)
    positions = _segments(map_bytes, BUNDLES[name])
    # around the segments too: a frame between two segments takes the earlier one
    positions += [(line, col + 2) for line, col in positions[::5]]
    how = _check(map_bytes, js, _trace(positions), tmp_path, context=1 if name == "cart" else None)
    # the generated file's scopes name the frames of every bundle
    assert how["scope"] > len(positions), how
    # without the generated file: the caller rule for both (the cache has no scopes)
    how = _check(map_bytes, None, _trace(positions[:400]), tmp_path)
    assert how["scope"] == 0 and how["caller"] > 0, how


def test_example_app_traces(engine: str, tmp_path: Path) -> None:
    """examples/: the traces Chrome and Firefox printed for the example app."""
    root = TESTS.parent / "examples"
    map_bytes, js = (root / "app.min.js.map").read_bytes(), (root / "app.min.js").read_bytes()
    for name in ("trace.txt", "trace-firefox.txt"):
        how = _check(map_bytes, js, (root / name).read_text("utf-8"), tmp_path,
                     url="https://example.com/static/app.min.js", context=1)
        assert how["scope"] >= 5, (name, how)


def test_uglifyjs_names_come_from_the_cache(engine: str, tmp_path: Path) -> None:
    """The guard that kept caches off the scopes path (their flags without
    ``function_names``) is gone: the cache's own scopes name these frames, which the
    caller rule names otherwise (a test that fails if the guard comes back)."""
    map_bytes, js = _bundle("cart")
    text = _trace(_segments(map_bytes))
    with pysym.SourceMapCache.from_sourcemap(map_bytes, js) as cache:
        assert cache.has_function_names and not cache.has_scopes and not cache.has_function_maps
        assert ResolvedMap(cache).scopes_ready()
        got = _frames(text, cache)
    how = Counter(f.function_from for f in got)
    assert how["scope"] > 80 and how["caller"] == 0, how
    assert {"Cart.prototype.total", "handlers.retry", "<anonymous>"} <= {f.function for f in got}


# -- React Native: Metro function maps, Hermes bytecode maps --------------------------------

RN_CASES = {
    "bytecode": ("index.android.bundle.map", None, "trace_bytecode.txt"),
    "bundle": ("index.android.bundle.js.map", None, "trace_source.txt"),
    "bundle+js": ("index.android.bundle.js.map", "index.android.bundle.js", "trace_source.txt"),
}


@pytest.mark.parametrize("case", sorted(RN_CASES))
def test_react_native_frames_equal_the_maps(engine: str, case: str, tmp_path: Path) -> None:
    map_name, js_name, trace_name = RN_CASES[case]
    map_bytes = (RN / map_name).read_bytes()
    js = (RN / js_name).read_bytes() if js_name is not None else None
    printed = (RN / trace_name).read_text("utf-8")
    # the traces Hermes printed (frames of `index.android.bundle`, or of the `.js` bundle)
    url = "index.android.bundle" if case == "bytecode" else "index.android.bundle.js"
    how = _check(map_bytes, js, printed, tmp_path, url=url, context=2)
    assert how["scope"] >= 3, how
    # a frame at every segment: Hermes bytecode frames on the bytecode map
    positions = _segments(map_bytes)
    bytecode = case == "bytecode"
    how = _check(map_bytes, js, _trace(positions, bytecode=bytecode), tmp_path)
    assert how["scope"] > 50, how


def test_index_map_with_function_maps(engine: str, tmp_path: Path) -> None:
    inner = json.loads((RN / "index.android.bundle.js.map").read_text("utf-8"))
    n = (RN / "index.android.bundle.js").read_bytes().count(b"\n") + 1
    data = json.dumps({"version": 3, "sections": [
        {"offset": {"line": 0, "column": 0}, "map": inner},
        {"offset": {"line": n + 2, "column": 0}, "map": inner},
    ]}).encode()
    with pysym.SourceMap.from_bytes(data) as sm:
        positions = [(t.dst_line, t.dst_col) for t in sm.tokens][::3]
    how = _check(data, None, _trace(positions), tmp_path)
    assert how["scope"] > len(positions), how


# -- the ECMA-426 `scopes` field ------------------------------------------------------------


def _scopes_map(**extra: Any) -> bytes:
    from test_js_scopes_field import _map

    m = _map()
    m.update(extra)
    return json.dumps(m).encode()


def test_scopes_field_frames_equal_the_maps(engine: str, tmp_path: Path) -> None:
    from test_js_scopes_field import GENERATED

    grid = [(line, col) for line in range(7) for col in range(0, 30, 2)]
    for data in (_scopes_map(), _scopes_map(x_facebook_sources=[[{"names": ["fromMetro"], "mappings": "AAA"}]])):
        for js in (None, GENERATED.encode()):
            how = _check(data, js, _trace(grid, url="https://example.com/app.js"), tmp_path,
                         url="https://example.com/app.js", context=0)
            assert how["scope"] > 10, how


def _tc39_scopes_maps() -> List[Path]:
    found = sorted(TC39_SCOPES.glob("*.map"))
    assert len(found) >= 8, TC39_SCOPES
    return found


@pytest.mark.parametrize("path", _tc39_scopes_maps(), ids=lambda p: p.stem)
def test_tc39_scopes_fixtures(engine: str, path: Path, tmp_path: Path) -> None:
    """The conformance suite's scopes maps (original scopes, no generated ranges, no
    mappings): the map and the cache agree on every answer and every frame."""
    data = path.read_bytes()
    grid = [(line, col) for line in range(4) for col in range(0, 40, 3)]
    lines, cols = [p[0] for p in grid], [p[1] for p in grid]
    with pysym.SourceMap.from_bytes(data) as sm, pysym.SourceMapCache.from_sourcemap(data) as cache:
        assert (cache.has_scopes, cache.has_function_names) == (sm.has_scopes, sm.has_scopes)
        if sm.has_scopes:
            assert cache._enclosing(lines, cols) == sm._enclosing(lines, cols)
        else:
            with pytest.raises(ValueError):
                sm.function_names(lines, cols)
            with pytest.raises(ValueError):
                cache.function_names(lines, cols)
    _check(data, None, _trace(grid), tmp_path)


# -- function_names itself: kinds at every position ----------------------------------------


def _all_positions(map_bytes: bytes, js: Optional[bytes]) -> Tuple[List[int], List[int]]:
    lines: List[int] = []
    cols: List[int] = []
    for line, col in _segments(map_bytes):
        for c in (col, col + 1, max(0, col - 1)):
            lines.append(line)
            cols.append(c)
    ends = [len(t) for t in js.split(b"\n")] if js is not None else [1200]
    for line, end in enumerate(ends):
        lines += [line, line]
        cols += [end, end + 9]
    return lines, cols


CASES: List[Tuple[str, Callable[[], Tuple[bytes, Optional[bytes]]]]] = [
    ("cart", lambda: _bundle("cart")),
    ("preact", lambda: _bundle("preact")),
    ("metro-bytecode", lambda: ((RN / "index.android.bundle.map").read_bytes(), None)),
    ("metro-bundle", lambda: ((RN / "index.android.bundle.js.map").read_bytes(), None)),
    ("metro-bundle+js", lambda: ((RN / "index.android.bundle.js.map").read_bytes(),
                                 (RN / "index.android.bundle.js").read_bytes())),
    ("scopes-field", lambda: (_scopes_map(), None)),
]


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_function_names_and_kinds_equal_the_maps(engine: str, case: str, tmp_path: Path) -> None:
    """``SourceMapCache._enclosing`` is ``SourceMap._enclosing`` at every position, mapped
    or not: top-level code, anonymous, named, and no answer (a Metro map without scopes)."""
    map_bytes, js = dict(CASES)[case]()
    lines, cols = _all_positions(map_bytes, js)
    with pysym.SourceMap.from_bytes(map_bytes) as sm:
        if js is not None:
            sm.set_generated_source(js)
        want = sm._enclosing(lines, cols)
        caches = list(_caches(map_bytes, js, tmp_path))
        for cache in caches:
            with cache:
                assert cache._enclosing(lines, cols) == want
                assert cache.function_names(lines[:50], cols[:50]) == [n for _, n in want[:50]]
                assert cache.function_name(lines[7], cols[7]) == want[7][1]
                # what a trace reads: the answers its lookups carry, where a token is found
                tokens = cache.lookup_many(lines, cols)
                for t, (kind, name), (k2, n2) in zip(tokens, want, cache._enclosing_of(tokens)):
                    if t is not None:
                        assert (k2 == _abi.FUNCTION_KIND_NO_ANSWER, n2) == (kind == _abi.FUNCTION_KIND_NO_ANSWER, name)
    kinds = Counter(k for k, _ in want)
    assert kinds[_abi.FUNCTION_KIND_NAMED] > (5 if case == "scopes-field" else 50), kinds
    if case.startswith("metro") and js is None:
        assert kinds[_abi.FUNCTION_KIND_NO_ANSWER] > 0, kinds
    else:
        assert kinds[_abi.FUNCTION_KIND_NO_ANSWER] == 0, kinds


def test_without_function_names_is_an_error(engine: str) -> None:
    map_bytes, _ = _bundle("cart")
    with pysym.SourceMapCache.from_sourcemap(map_bytes) as cache:
        assert not cache.has_function_names and not ResolvedMap(cache).scopes_ready()
        with pytest.raises(ValueError):
            cache.function_names([0], [0])


def test_hostile_cache_bytes_give_typed_errors_for_function_names(engine: str) -> None:
    """Damage anywhere in a cache with scopes or function maps: function_names answers
    or raises InvalidInputError, and the runtime keeps working."""
    lines, cols = [0, 1, 2, 3] * 30, list(range(0, 1200, 10))

    def use(c: Any) -> None:
        if c.has_function_names:
            c._enclosing(lines, cols)
            _frames(_trace(list(zip(lines, cols))[:40]), c)

    answered = refused = 0
    for good in (pysym.SourceMapCache.from_sourcemap(*_bundle("cart")).to_bytes(),
                 (RN / "bytecode.smcache").read_bytes()):
        a, r = answered_and_refused(bit_flips(good), use)
        answered, refused = answered + a, refused + r
    assert refused > 20 and answered > 20
    with pysym.SourceMapCache.from_bytes((RN / "bytecode.smcache").read_bytes()) as c:
        assert c.function_name(0, 962) == "items.reduce$argument_0"
