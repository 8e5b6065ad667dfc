"""Property tests (hypothesis): VLQ, lookups vs a brute-force model, robustness.

Example counts come from the hypothesis profile (``tests/conftest.py``: ``ci`` when $CI
is set, else ``dev``; override with HYPOTHESIS_PROFILE).
"""

from __future__ import annotations

import array
import json
from typing import Any, List, Optional, Tuple

import pytest
from hypothesis import assume, example, given, note
from hypothesis import strategies as st
from strategies import (
    GLB,
    I32_MAX,
    LUB,
    MapModel,
    Segment,
    decode_mappings,
    encode_mappings,
    model_generated_positions,
    model_lookup,
    mutate,
    positions,
    source_maps,
    structural_mutations,
    vlq_decode,
    vlq_decode_all,
    vlq_encode,
)

import pysym

pytestmark = pytest.mark.usefixtures("engine")

BIASES = [pysym.GREATEST_LOWER_BOUND, pysym.LEAST_UPPER_BOUND]


def test_bias_constants() -> None:
    # the model (strategies.GLB/LUB) uses the ABI's numbers
    assert (pysym.GREATEST_LOWER_BOUND, pysym.LEAST_UPPER_BOUND) == (GLB, LUB)


def tup(t: Optional[pysym.Token]) -> Optional[Tuple[Any, ...]]:
    return None if t is None else (t.dst_line, t.dst_col, t.src, t.src_line, t.src_col, t.name)


# -- VLQ (test-only codec, then pysym reading extreme values) ---------------------------

vlq_values = st.one_of(
    st.integers(-I32_MAX, I32_MAX),
    st.sampled_from([0, 1, -1, 15, 16, -16, 31, 32, -32, 1023, 1024, I32_MAX, -I32_MAX, 2**30, -(2**30)]),
)


@given(vlq_values)
@example(I32_MAX)
@example(-I32_MAX)
@example(0)
def test_vlq_round_trip(value: int) -> None:
    text = vlq_encode(value)
    assert vlq_decode(text) == (value, len(text))
    assert len(text) <= 7


@given(st.lists(vlq_values, min_size=1, max_size=5))
def test_vlq_sequence_round_trip(values: List[int]) -> None:
    assert vlq_decode_all("".join(vlq_encode(v) for v in values)) == values


def test_vlq_known_values() -> None:
    # from the spec's examples and the conformance suite
    assert vlq_encode(0) == "A" and vlq_encode(1) == "C" and vlq_encode(-1) == "D"
    assert vlq_encode(16) == "gB" and vlq_encode(I32_MAX) == "+/////D"
    assert vlq_decode("+/////D") == (I32_MAX, 7)
    assert vlq_decode("//////D") == (-I32_MAX, 7)


@given(
    st.integers(0, I32_MAX), st.integers(0, I32_MAX), st.integers(0, I32_MAX),
    st.integers(0, 2), st.integers(0, 2),
)
@example(I32_MAX, I32_MAX, I32_MAX, 2, 2)
@example(0, 0, 0, 0, 0)
def test_pysym_reads_extreme_values(col: int, sline: int, scol: int, src: int, name: int) -> None:
    """One segment with fields up to 2**31-1 reads back exactly (pysym's VLQ decoder)."""
    m = MapModel([[Segment(0, col, src, sline, scol, name)]], ["a.js", "b.js", "c.js"], ["x", "y", "z"])
    with pysym.SourceMap.from_bytes(m.to_bytes()) as sm:
        assert tup(sm.lookup(0, col)) == (0, col, ["a.js", "b.js", "c.js"][src], sline, scol, "xyz"[name])
        assert tup(sm.lookup(0, 0, pysym.LEAST_UPPER_BOUND)) == (0, col, ["a.js", "b.js", "c.js"][src], sline,
                                                                   scol, "xyz"[name])


# -- lookups vs the brute-force model -------------------------------------------------


def _expected(m: MapModel, sm: pysym.SourceMap, line: int, col: int, bias: int) -> Optional[Tuple[Any, ...]]:
    seg = model_lookup(m.lines, line, col, bias)
    return None if seg is None else m.token(seg, sm.sources)


def _check_metadata(m: MapModel, sm: pysym.SourceMap) -> None:
    assert len(sm.sources) == len(m.sources)
    for raw, resolved in zip(m.sources, sm.sources):
        if raw is None:
            assert resolved is None
        elif not m.source_root:
            assert resolved == raw
        else:
            # sourceRoot is prepended (with one "/" between); URL normalisation aside,
            # the resolved URL must end with the source and start with the root.
            assert resolved is not None and resolved.endswith(raw), (m.source_root, raw, resolved)
            assert resolved.startswith(m.source_root.rstrip("/")), (m.source_root, raw, resolved)
            assert "//" not in resolved.replace("://", ""), (m.source_root, raw, resolved)
    assert sm.names == m.names
    assert sm.file == m.file
    assert len(sm) == sum(len(s) for s in m.lines)
    if m.sources_content is not None:
        resolved = sm.sources
        for i, content in enumerate(m.sources_content):
            if resolved[i] is not None and resolved.index(resolved[i]) == i:
                assert sm.source_content(resolved[i]) == content
            assert sm.source_content(i) == content


@given(data=st.data(), m=source_maps())
def test_lookup_matches_model(m: MapModel, data: st.DataObject) -> None:
    raw = m.to_bytes()
    note(raw.decode())
    with pysym.SourceMap.from_bytes(raw) as sm:
        _check_metadata(m, sm)
        pos = data.draw(st.lists(positions(m), min_size=1, max_size=30), label="positions")
        for bias in BIASES:
            for line, col in pos:
                assert tup(sm.lookup(line, col, bias)) == _expected(m, sm, line, col, bias), (line, col, bias)
        # bias is a keyword too; the default is GREATEST_LOWER_BOUND
        line, col = pos[0]
        assert sm.lookup(line, col) == sm.lookup(line, col, bias=pysym.GREATEST_LOWER_BOUND)


@given(data=st.data(), m=source_maps(max_lines=5, max_segments=6, wide_values=True))
def test_lookup_matches_model_wide_values(m: MapModel, data: st.DataObject) -> None:
    with pysym.SourceMap.from_bytes(m.to_bytes()) as sm:
        for line, col in data.draw(st.lists(positions(m), min_size=1, max_size=20)):
            for bias in BIASES:
                assert tup(sm.lookup(line, col, bias)) == _expected(m, sm, line, col, bias), (line, col, bias)


@given(data=st.data(), m=source_maps(max_lines=10, max_segments=10))
def test_lookup_many_matches_model(m: MapModel, data: st.DataObject) -> None:
    pos = data.draw(st.lists(positions(m), min_size=0, max_size=200), label="positions")
    lines = [p[0] for p in pos]
    cols = [p[1] for p in pos]
    kind = data.draw(st.sampled_from(["list", "tuple", "array", "memoryview"]), label="container")
    with pysym.SourceMap.from_bytes(m.to_bytes()) as sm:
        for bias in BIASES:
            expected = [_expected(m, sm, line, col, bias) for line, col in pos]
            if kind == "list":
                args: Tuple[Any, Any] = (lines, cols)
            elif kind == "tuple":
                args = (tuple(lines), tuple(cols))
            elif kind == "array":
                args = (array.array("I", lines), array.array("I", cols))
            else:
                args = (memoryview(array.array("I", lines)), memoryview(array.array("I", cols)))
            got = sm.lookup_many(*args, bias=bias)
            assert [tup(t) for t in got] == expected
            # the single and batched paths return equal tokens
            assert got == [sm.lookup(line, col, bias) for line, col in pos]


def test_lookup_many_containers() -> None:
    m = MapModel([[Segment(0, 0, 0, 0, 0), Segment(0, 5, 0, 1, 0)], [Segment(1, 2, 0, 2, 2, 0)]],
                 ["a.js"], ["n"])
    with pysym.SourceMap.from_bytes(m.to_bytes()) as sm:
        want = [sm.lookup(0, 0), sm.lookup(0, 1), sm.lookup(1, 2)]
        assert [tup(t) for t in want] == [(0, 0, "a.js", 0, 0, None), (0, 0, "a.js", 0, 0, None),
                                          (1, 2, "a.js", 2, 2, "n")]
        assert sm.lookup_many([0, 0, 1], [0, 1, 2]) == want
        assert sm.lookup_many(array.array("i", [0, 0, 1]), array.array("q", [0, 1, 2])) == want
        assert sm.lookup_many(memoryview(array.array("I", [0, 0, 1]).tobytes()).cast("I"),
                              bytearray([0, 1, 2])) == want
        assert sm.lookup_many(range(0, 2), range(5, 7)) == [sm.lookup(0, 5), sm.lookup(1, 6)]
        assert sm.lookup_many([], []) == []
        with pytest.raises(ValueError):
            sm.lookup_many([0, 1], [0])


@given(data=st.data(), m=source_maps(max_lines=6, max_segments=8))
def test_generated_positions_match_model(m: MapModel, data: st.DataObject) -> None:
    named = [i for i, s in enumerate(m.sources) if s is not None]
    assume(named)
    with pysym.SourceMap.from_bytes(m.to_bytes()) as sm:
        for _ in range(5):
            src = data.draw(st.sampled_from(named), label="source")
            used = [(s.src_line, s.src_col) for s in m.segments() if s.src == src]
            line, col = data.draw(st.one_of(
                st.sampled_from(used) if used else st.tuples(st.integers(0, 5), st.integers(0, 5)),
                st.tuples(st.integers(0, 45), st.integers(0, 45)),
            ), label="original position")
            col_arg = data.draw(st.one_of(st.none(), st.just(col)), label="col")
            expected = [m.token(s, sm.sources) for s in model_generated_positions(m.lines, src, line, col_arg)]
            got = [tup(t) for t in sm.generated_positions(sm.sources[src], line, col_arg)]
            # sorted by generated position; the order among equal positions is not part of the contract
            assert [g[:2] for g in got] == sorted(g[:2] for g in got)
            assert sorted(got, key=repr) == sorted(expected, key=repr), (src, line, col_arg)
        assert sm.generated_positions("no-such-source.js", 0) == []


@given(m=source_maps())
def test_iteration_matches_model(m: MapModel) -> None:
    """``iter(sm)``: every segment in generated order, including those without a source."""
    with pysym.SourceMap.from_bytes(m.to_bytes()) as sm:
        got = [tup(t) for t in sm]
        assert got == [m.token(s, sm.sources) for s in m.segments()]
        assert len(got) == len(sm)


def test_equal_columns_follow_trace_mapping() -> None:
    """Three segments at one column and two at another: which one each bias picks.

    Checked against @jridgewell/trace-mapping 0.3.31 (tests/reference): GLB exact -> first
    of the run, GLB between -> last of the run below, LUB exact -> last, LUB between ->
    first of the run above.
    """
    segs = [Segment(0, 4, 0, 1, 0), Segment(0, 4, 0, 2, 0), Segment(0, 4, 0, 3, 0),
            Segment(0, 9, 0, 4, 0), Segment(0, 9, 0, 5, 0)]
    m = MapModel([segs], ["a.js"], [])
    with pysym.SourceMap.from_bytes(m.to_bytes()) as sm:
        g = lambda c, b: sm.lookup(0, c, b).src_line  # noqa: E731
        assert [g(4, GLB), g(6, GLB), g(9, GLB), g(20, GLB)] == [1, 3, 4, 5]
        assert [g(0, LUB), g(4, LUB), g(6, LUB), g(9, LUB)] == [1, 3, 4, 5]
        assert sm.lookup(0, 3, GLB) is None and sm.lookup(0, 10, LUB) is None
        assert sm.lookup(1, 0, GLB) is None and sm.lookup(1, 0, LUB) is None


def test_single_field_segment_hides_earlier_one() -> None:
    # GLB lands on the 1-field segment at column 5: no answer, no fallback to column 0
    m = MapModel([[Segment(0, 0, 0, 0, 0), Segment(0, 5)]], ["a.js"], [])
    with pysym.SourceMap.from_bytes(m.to_bytes()) as sm:
        assert sm.lookup(0, 4) is not None
        assert sm.lookup(0, 5) is None and sm.lookup(0, 7) is None
        assert sm.lookup(0, 1, pysym.LEAST_UPPER_BOUND) is None
        assert [tup(t) for t in sm] == [(0, 0, "a.js", 0, 0, None), (0, 5, None, None, None, None)]


def test_negative_position_is_rejected() -> None:
    m = MapModel([[Segment(0, 0, 0, 0, 0)]], ["a.js"], [])
    with pysym.SourceMap.from_bytes(m.to_bytes()) as sm:
        with pytest.raises(ValueError):
            sm.lookup(-1, 0)
        with pytest.raises(ValueError):
            sm.lookup(0, -1)


# -- robustness: any input -> only PysymError, and the API still works ------------------

GOOD = MapModel([[Segment(0, 0, 0, 0, 0), Segment(0, 9, 0, 0, 9, 0)], [], [Segment(2, 1, 1, 3, 4)]],
                ["a.js", "b.js"], ["foo"], sources_content=["x", None])


def _good_map_still_works() -> None:
    with pysym.SourceMap.from_bytes(GOOD.to_bytes()) as sm:
        assert tup(sm.lookup(0, 10)) == (0, 9, "a.js", 0, 9, "foo")
        assert tup(sm.lookup(2, 1)) == (2, 1, "b.js", 3, 4, None)
        assert [tup(t) for t in sm.lookup_many([0, 2], [0, 5])] == [(0, 0, "a.js", 0, 0, None),
                                                                    (2, 1, "b.js", 3, 4, None)]


def _exercise(data: bytes) -> None:
    """Loads ``data``; when it loads, uses every read API. Only PysymError may escape."""
    try:
        sm = pysym.SourceMap.from_bytes(data)
    except pysym.SandboxError as e:  # a trap is a bug in the module (DESIGN.md), not bad input
        raise AssertionError("module trapped on input %r: %r" % (data[:200], e)) from e
    except pysym.PysymError as e:
        assert isinstance(e, (pysym.InvalidInputError, pysym.ResourceLimitError)), repr(e)
        return
    try:
        with sm:
            n = len(sm)
            toks = list(sm)
            assert len(toks) == n
            for src in sm.sources:
                sm.source_content(src) if src is not None else None
            assert isinstance(sm.names, list) and isinstance(sm.ignore_list, list)
            assert sm.file is None or isinstance(sm.file, str)
            assert sm.debug_id is None or isinstance(sm.debug_id, str)
            lines = [0, 0, 1, 2, 5, 2**31 - 1]
            cols = [0, 3, 1, 2**31 - 1, 7, 0]
            for bias in BIASES:
                assert sm.lookup_many(lines, cols, bias) == [sm.lookup(a, b, bias) for a, b in zip(lines, cols)]
            for t in toks[:20]:
                if t.src is not None:
                    sm.generated_positions(t.src, t.src_line, t.src_col)
    except pysym.SandboxError as e:
        raise AssertionError("module trapped while reading a loaded map %r: %r" % (data[:200], e)) from e
    except pysym.PysymError as e:
        assert isinstance(e, (pysym.InvalidInputError, pysym.ResourceLimitError)), repr(e)


@given(st.binary(max_size=300))
@example(b"")
@example(b"{}")
@example(b"\xef\xbb\xbf{}")
@example(b")]}'\n{\"version\":3,\"sources\":[],\"names\":[],\"mappings\":\"\"}")
@example(b"[" * 100000)
@example(b"{\"a\":" * 50000)
@example(b"\"" + b"\\" * 1001)
@example(b"\xff\xfe{\x00}\x00")
def test_arbitrary_bytes(data: bytes) -> None:
    _exercise(data)
    _good_map_still_works()


@given(data=st.data(), m=source_maps(max_lines=4, max_segments=5))
def test_mutated_maps_bytes(m: MapModel, data: st.DataObject) -> None:
    mutated = mutate(m.to_bytes(), data.draw)
    note(repr(mutated))
    _exercise(mutated)
    _good_map_still_works()


@given(data=st.data(), m=source_maps(max_lines=4, max_segments=5))
def test_mutated_maps_json(m: MapModel, data: st.DataObject) -> None:
    mutated = json.dumps(structural_mutations(m.to_json(), data.draw)).encode()
    note(mutated.decode())
    _exercise(mutated)
    _good_map_still_works()


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/,;=!-", max_size=80))
@example("AAAA,AAAAA")  # name index into an empty names table
@example("AAAA;;;;" + "A" * 200)
@example("gggggggggggggggggggggA")  # VLQ overflow
@example("AAgBC")
def test_random_mappings_strings(mappings: str) -> None:
    raw = json.dumps({"version": 3, "sources": ["a.js", None], "names": ["n"], "mappings": mappings}).encode()
    _exercise(raw)


def test_many_bad_then_good() -> None:
    """A long run of failures (and closed maps) leaves the runtime usable."""
    for i in range(1, 201):
        with pytest.raises(pysym.InvalidInputError):
            pysym.SourceMap.from_bytes(b'{"version":3,"sources":[],"names":[],"mappings":"' + b"!" * i + b'"}')
    _good_map_still_works()


def test_close_is_idempotent() -> None:
    sm = pysym.SourceMap.from_bytes(GOOD.to_bytes())
    sm.close()
    sm.close()
    with pytest.raises(pysym.PysymError):
        sm.lookup(0, 0)
    with sm:  # re-entering a closed map and leaving it must not raise either
        pass
    _good_map_still_works()


def test_decode_mappings_matches_encode() -> None:
    lines = GOOD.lines
    assert decode_mappings(encode_mappings(lines)) == lines


# -- metadata ---------------------------------------------------------------------------

_LINE_BREAKS = ("\r\n", "\r", "\n", "\u2028", "\u2029")


def _split_lines(text: str) -> List[str]:
    import re

    return re.split("\r\n|\r|\n|\u2028|\u2029", text)


@given(st.lists(st.text(alphabet="ab \t\u00e9\U0001f600", max_size=6), min_size=1, max_size=12),
       st.lists(st.sampled_from(_LINE_BREAKS), min_size=11, max_size=11), st.integers(0, 14), st.integers(0, 4))
def test_source_context_matches_model(lines: List[str], breaks: List[str], line: int, context: int) -> None:
    text = "".join(s + (breaks[i] if i < len(lines) - 1 else "") for i, s in enumerate(lines))
    m = MapModel([[Segment(0, 0, 0, 0, 0)]], ["a.js", "b.js"], [], sources_content=[text, None])
    with pysym.SourceMap.from_bytes(m.to_bytes()) as sm:
        assert sm.source_content("a.js") == text
        assert sm.source_content("b.js") is None and sm.source_context("b.js", 0) is None
        assert sm.source_content("nope.js") is None
        ctx = sm.source_context("a.js", line, context=context)
        all_lines = _split_lines(text)
        if line >= len(all_lines):
            assert ctx is None
        else:
            assert ctx is not None
            assert list(ctx.pre_lines) == all_lines[max(0, line - context):line]
            assert ctx.line == all_lines[line]
            assert list(ctx.post_lines) == all_lines[line + 1:line + 1 + context]


def test_debug_id_file_ignore_list() -> None:
    base = {"version": 3, "sources": ["a.js", "b.js", None], "names": [], "mappings": "AAAA"}
    uuid = "85314830-023f-4cf1-a267-535f4e37bb17"
    cases = [
        ({"debugId": uuid, "file": "out.js", "ignoreList": [1]}, uuid, "out.js", ["b.js"]),
        ({"debug_id": uuid, "x_google_ignoreList": [0, 1]}, uuid, None, ["a.js", "b.js"]),
        ({"ignoreList": [], "x_google_ignoreList": [0]}, None, None, []),  # ignoreList wins
        ({}, None, None, []),
    ]
    for extra, debug_id, file, ignored in cases:
        with pysym.SourceMap.from_bytes(json.dumps(dict(base, **extra)).encode()) as sm:
            assert (sm.debug_id, sm.file, sorted(sm.ignore_list)) == (debug_id, file, ignored), extra
            assert sm.sources == ["a.js", "b.js", None]


def test_from_path_and_bytes_agree(tmp_path: Any) -> None:
    raw = GOOD.to_bytes()
    p = tmp_path / "m.js.map"
    p.write_bytes(raw)
    with pysym.SourceMap.from_path(p) as a, pysym.SourceMap.from_path(str(p)) as b, \
            pysym.SourceMap.from_bytes(raw) as c, pysym.SourceMap.from_bytes(bytearray(raw)) as d, \
            pysym.SourceMap.from_bytes(memoryview(raw)) as e:
        ref = list(a)
        for sm in (b, c, d, e):
            assert list(sm) == ref and sm.sources == a.sources and sm.names == a.names
    with pytest.raises(OSError):
        pysym.SourceMap.from_path(tmp_path / "missing.map")


def test_token_is_frozen() -> None:
    with pysym.SourceMap.from_bytes(GOOD.to_bytes()) as sm:
        tok = sm.lookup(0, 0)
        assert tok is not None
        with pytest.raises(AttributeError):
            tok.src_line = 5  # type: ignore[misc]
        assert tok == pysym.Token(0, 0, "a.js", 0, 0, None)
        assert hash(tok) == hash(pysym.Token(0, 0, "a.js", 0, 0, None))
