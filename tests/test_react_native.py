"""React Native: Metro's ``x_facebook_sources`` function maps and Hermes bytecode traces.

Fixtures: tests/data/react_native (README there: a Metro-style bundle written by
metro-source-map 0.87.1, its Hermes bytecode map from hermesc 0.12.0 composed with it, and
real traces printed by the Hermes VM). Oracle: npm ``metro-symbolicate`` 0.87.1
(tests/reference/metro.mjs, its library API) on the same maps and frame positions: the
source, line, column and function of every frame must agree. metro-symbolicate's name is
the function map's name at the original position, else the mapping's identifier name;
pysym takes the same function map name and otherwise keeps its own rules (module docstring
of pysym/_stacktrace.py), which the fixture never needs (every mapped position of it lies
in a source with a function map).

metro-symbolicate reads a trace's column as 0-based by default (``--input-column-start``
0), which is what a Hermes bytecode address is (``address at index.android.bundle:1:N``:
segment 1, bytecode offset N); JavaScript frames print 1-based columns, so the oracle is
asked with ``inputColumnStart`` 1 for them. Its output columns are 0-based, pysym's 1-based.

If tests/reference/node_modules or node is missing the tests FAIL with the command to run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import pysym
from pysym._stacktrace import Frame, parse_stacktrace, symbolicate_frames, symbolicate_trace

DATA = Path(__file__).parent / "data" / "react_native"
REFERENCE = Path(__file__).parent / "reference"
BYTECODE_MAP = DATA / "index.android.bundle.map"
BUNDLE_MAP = DATA / "index.android.bundle.js.map"


def _oracle(tmp: Path, map_path: Path, positions: List[Tuple[int, int]], column_start: int,
            trace: Any = None, crash: Any = None) -> Dict[str, Any]:
    if not (REFERENCE / "node_modules" / "metro-symbolicate").is_dir():
        pytest.fail("metro-symbolicate is not installed. Run from the repository root:\n"
                    "    npm ci --prefix tests/reference --ignore-scripts", pytrace=False)
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (apt-get install nodejs npm), needed for metro-symbolicate",
                    pytrace=False)
    req, ans = tmp / "metro-request.json", tmp / "metro-answers.json"
    req.write_text(json.dumps({"map": str(map_path), "inputColumnStart": column_start,
                               "positions": positions, "trace": trace, "crash": crash}),
                   "utf-8")
    subprocess.run([node, str(REFERENCE / "metro.mjs"), str(req), str(ans)], check=True, timeout=120)
    answers: Dict[str, Any] = json.loads(ans.read_text("utf-8"))
    return answers


def _frames(name: str) -> List[Frame]:
    text = (DATA / name).read_text("utf-8")
    return [f for f in parse_stacktrace(text) if isinstance(f, Frame) and f.has_position]


def _compare(tmp: Path, map_path: Path, frames: List[Frame], column_start: int) -> int:
    """pysym vs metro-symbolicate on every frame; returns how many were mapped."""
    ref = _oracle(tmp, map_path, [(f.line, f.col) for f in frames], column_start)["frames"]  # type: ignore[misc]
    with pysym.SourceMap.from_path(map_path) as sm:
        done = symbolicate_frames(frames, lambda url: sm)
    mapped = 0
    for f, ours, theirs in zip(frames, done, ref):
        assert not isinstance(ours, str)
        if theirs["source"] is None:
            assert not ours.mapped, f.raw
            continue
        mapped += 1
        got = (ours.source, ours.line, (ours.col or 0) - 1, ours.function)
        want = (theirs["source"], theirs["line"], theirs["column"], theirs["functionName"] or theirs["name"])
        assert got == want, f.raw
        assert ours.function_from == "scope"
    return mapped


def test_hermes_bytecode_trace_matches_metro_symbolicate(engine: str, tmp_path: Path) -> None:
    frames = _frames("trace_bytecode.txt")
    assert frames and all(f.is_bytecode for f in frames)
    assert (frames[0].url, frames[0].line, frames[0].col) == ("index.android.bundle", 1, 962)
    # 23 frames with an address; the prelude's __r and global (6) are unmapped for both tools
    assert _compare(tmp_path, BYTECODE_MAP, frames, 0) == 17


def test_hermes_source_trace_matches_metro_symbolicate(engine: str, tmp_path: Path) -> None:
    frames = _frames("trace_source.txt")
    assert frames and not any(f.is_bytecode for f in frames)
    assert _compare(tmp_path, BUNDLE_MAP, frames, 1) == 17


def test_every_bytecode_offset_matches_metro_symbolicate(engine: str, tmp_path: Path) -> None:
    """Beyond the trace: each mapped offset of the bytecode map, and the one after it."""
    with pysym.SourceMap.from_path(BYTECODE_MAP) as sm:
        offsets = sorted({t.dst_col + d for t in sm.tokens for d in (0, 1)})
        ours_tok = sm.lookup_many([0] * len(offsets), offsets)
        ours_fn = sm.function_names([0] * len(offsets), offsets)
    ref = _oracle(tmp_path, BYTECODE_MAP, [(1, c) for c in offsets], 0)["frames"]
    assert len(offsets) > 150
    for off, tok, fn, theirs in zip(offsets, ours_tok, ours_fn, ref):
        if theirs["source"] is None:
            assert tok is None or tok.src is None, off
            continue
        assert tok is not None
        assert (tok.src, tok.src_line + 1, tok.src_col, fn) == (
            theirs["source"], theirs["line"], theirs["column"], theirs["functionName"]), off


def test_rendered_hermes_trace(engine: str) -> None:
    text = (DATA / "trace_bytecode.txt").read_text("utf-8")
    with pysym.SourceMap.from_path(BYTECODE_MAP) as sm:
        out = symbolicate_trace(text, lambda url: sm if url == "index.android.bundle" else None, context=None)
    lines = out.splitlines()
    assert lines[2] == "    at items.reduce$argument_0 (src/cart.js:11:22)"
    assert lines[4] == "    at Cart.prototype.total (src/cart.js:9:27)"
    assert "    at report (src/App.js:7:7)" in lines
    assert "    at pricing.discount (src/cart.js:21:27)" in lines
    # unmapped frames stay as they came
    assert "    at __r (address at index.android.bundle:1:199)" in lines
    assert "    at reduce (native)" in lines


def test_function_maps_without_the_generated_file(engine: str) -> None:
    with pysym.SourceMap.from_path(BYTECODE_MAP) as sm:
        assert sm.has_function_maps and not sm.has_scopes
        assert sm.function_maps_problem is None
        assert sm.function_name(0, 962) == "items.reduce$argument_0"
    with pysym.SourceMap.from_bytes(b'{"version":3,"sources":[],"names":[],"mappings":""}') as sm:
        assert not sm.has_function_maps
        with pytest.raises(ValueError):
            sm.function_name(0, 0)


def _edited(fb: Any) -> bytes:
    m = json.loads(BYTECODE_MAP.read_text("utf-8"))
    m["x_facebook_sources"] = fb
    return json.dumps(m).encode()


def test_a_malformed_function_map_is_ignored_with_a_warning(engine: str) -> None:
    good = json.loads(BYTECODE_MAP.read_text("utf-8"))["x_facebook_sources"]
    bad_cart = [{"names": ["x"], "mappings": "AAA;ACA"}]  # name index 1 of 1 name
    with pytest.warns(UserWarning, match=r"x_facebook_sources\[1\]: mappings: name index 1 out of range"):
        sm = pysym.SourceMap.from_bytes(_edited([good[0], bad_cart]))
    with sm:
        assert sm.function_maps_problem is not None
        assert sm.has_function_maps  # App.js's map still works
        assert sm.function_name(0, 313) == "report"
        # cart.js has none now: no answer, and the lookups are unchanged
        assert sm.function_name(0, 962) is None
        assert sm.lookup(0, 962) is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.warns(UserWarning, match="expected an array"):
            pysym.SourceMap.from_bytes(_edited({"not": "an array"})).close()
        pysym.SourceMap.from_bytes(_edited(None)).close()  # null: no function maps, no warning


def test_the_scopes_field_wins_over_function_maps(engine: str) -> None:
    """A map with both: the ECMA-426 ``scopes`` field (exact generated ranges) names."""
    from test_js_scopes_field import _map as scopes_map

    m = scopes_map()
    m["x_facebook_sources"] = [[{"names": ["fromMetro"], "mappings": "AAA"}]]
    with pysym.SourceMap.from_bytes(json.dumps(m).encode()) as sm:
        assert sm.has_function_maps and sm.has_scopes
        assert sm.function_names([3, 0], [2, 4]) == ["z", None]
    del m["scopes"]
    with pysym.SourceMap.from_bytes(json.dumps(m).encode()) as sm:
        assert sm.function_names([3, 0], [2, 4]) == ["fromMetro", "fromMetro"]


def test_hermes_crash_frames_match_metro_symbolicate(engine: str, tmp_path: Path) -> None:
    """A Hermes crash's call stack names a frame by function id and offset in the function
    (metro-symbolicate --hermes-crash): x_hermes_function_offsets gives the column."""
    starts = json.loads(BYTECODE_MAP.read_text("utf-8"))["x_hermes_function_offsets"]["0"]
    stack = []
    for f in _frames("trace_bytecode.txt"):
        fid = max(i for i, s in enumerate(starts) if s <= f.col)  # type: ignore[operator]
        stack.append({"FunctionID": fid, "ByteCodeOffset": f.col - starts[fid], "SegmentID": 0,  # type: ignore[operator]
                      "SourceURL": "index.android.bundle", "StackFrameRegOffs": "0"})
    ref = _oracle(tmp_path, BYTECODE_MAP, [], 0, crash={"callstack": stack})["crash"]
    with pysym.SourceMap.from_path(BYTECODE_MAP) as sm:
        assert sm.hermes_position(len(starts), 0) is None  # no such function
        mapped = 0
        for frame, theirs in zip(stack, ref):
            pos = sm.hermes_position(frame["FunctionID"], frame["ByteCodeOffset"])
            assert pos is not None and pos[0] == 0
            tok = sm.lookup(*pos)
            if theirs["source"] is None:
                assert tok is None
                continue
            mapped += 1
            assert tok is not None
            assert (tok.src, tok.src_line + 1, tok.src_col, sm.function_name(*pos)) == (
                theirs["source"], theirs["line"], theirs["column"], theirs["functionName"])
    assert mapped == 17
    bad = json.loads(BYTECODE_MAP.read_text("utf-8"))
    bad["x_hermes_function_offsets"] = {"0": "not offsets"}
    with pytest.warns(UserWarning, match="x_hermes_function_offsets"):
        sm = pysym.SourceMap.from_bytes(json.dumps(bad).encode())
    with sm:
        assert sm.hermes_position(0, 0) is None
        assert sm.function_name(0, 962) == "items.reduce$argument_0"
