"""SourceMap.token_arrays through the column export (pysym_sourcemap_token_columns): the
same segments as iterating the map, also when a call's range starts or ends inside a line
or on empty lines, and on index maps."""

from __future__ import annotations

import json

import pytest
from strategies import vlq_encode

import pysym
from pysym import _api

NONE = 0xFFFFFFFF


def _fields(t: pysym.TokenArrays) -> list:
    return [list(c) for c in (t.dst_line, t.dst_col, t.src, t.src_line, t.src_col, t.name)]


def _want(sm: pysym.SourceMap) -> list:
    toks = list(sm)
    return [
        [t.dst_line for t in toks],
        [t.dst_col for t in toks],
        [NONE if t.src is None else sm.sources.index(t.src) for t in toks],
        [NONE if t.src_line is None else t.src_line for t in toks],
        [NONE if t.src_col is None else t.src_col for t in toks],
        [NONE if t.name is None else sm.names.index(t.name) for t in toks],
    ]


MAP = {"version": 3, "sources": ["a.js", "b.js"], "names": ["x", "y", "z"],
       "mappings": ";;A,CAAAA;;;EACA,GAAE,CAAC;A;;" + ";".join("AAAA,CAAAC,EAAAD" for _ in range(40))}

INDEX = {"version": 3, "sections": [
    {"offset": {"line": 0, "column": 5}, "map": dict(MAP)},
    {"offset": {"line": 200, "column": 0}, "map": {"version": 3, "sources": ["c.js"], "names": [],
                                                   "mappings": "AAAA;;CAAC,CAAC"}},
]}


@pytest.mark.parametrize("doc", [MAP, INDEX], ids=["regular", "index"])
@pytest.mark.parametrize("step", [1, 3, 7, 1 << 20])
def test_columns_equal_iteration(engine: str, doc: dict, step: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_api.SourceMap, "_ARRAYS_STEP", step)
    with pysym.SourceMap.from_bytes(json.dumps(doc).encode()) as sm:
        t = sm.token_arrays()
        assert len(t.dst_line) == len(sm) > 100
        assert _fields(t) == _want(sm)
        assert [t.token(i) for i in range(len(sm))] == list(sm)


def test_empty_map(engine: str) -> None:
    with pysym.SourceMap.from_bytes(b'{"version":3,"sources":[],"mappings":";;"}') as sm:
        t = sm.token_arrays()
        assert _fields(t) == [[]] * 6


def _mixed_mappings() -> str:
    """30 lines of 8 segments: some without a source (one field), the others cycling
    through the three sources, every second one with a name."""
    lines = []
    src = src_line = src_col = name = 0
    for i in range(30):
        col, segs = 0, []
        for j in range(8):
            col_delta, col = 1 + j, col + 1 + j
            if (i * 7 + j) % 11 == 0:
                segs.append(vlq_encode(col_delta))
                continue
            fields = [col_delta, (i + j) % 3 - src, 1, 2]
            src, src_line, src_col = (i + j) % 3, src_line + 1, src_col + 2
            if j % 2:
                fields.append((i + j) % 2 - name)
                name = (i + j) % 2
            segs.append("".join(map(vlq_encode, fields)))
        lines.append(",".join(segs))
    return ";".join(lines)


# Segments without a source in some of iteration's lists and not in others, a null
# sources entry (src None with a position), segments without names.
MIXED = {"version": 3, "sources": ["a.js", None, "c.js"], "names": ["x", "y"], "mappings": _mixed_mappings()}


@pytest.mark.parametrize("rows,step", [(1, 1 << 16), (2, 5), (3, 7), (8, 64), (1 << 11, 1 << 16)])
def test_iteration_lists_with_and_without_sources(engine: str, rows: int, step: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_api, "_ROWS", rows)
    monkeypatch.setattr(_api, "_ITER_STEP", step)
    with pysym.SourceMap.from_bytes(json.dumps(MIXED).encode()) as sm:
        t = sm.token_arrays()
        toks = list(sm)
        assert len(toks) == len(sm) == 240
        assert [t.token(i) for i in range(len(sm))] == toks
        assert all(type(tok) is pysym.Token for tok in toks)
        sourceless = [tok for tok in toks if tok.src_line is None]
        assert sourceless and all(tok.src is None and tok.src_col is None and tok.name is None
                                  for tok in sourceless)
        assert any(tok.src is None and tok.src_line is not None for tok in toks)  # null entry
        assert {tok.src for tok in toks} == {"a.js", None, "c.js"}
        assert {tok.name for tok in toks} == {"x", "y", None}
