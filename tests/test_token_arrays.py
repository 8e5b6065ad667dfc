"""SourceMap.token_arrays through the column export (pysym_sourcemap_token_columns): the
same segments as iterating the map, also when a call's range starts or ends inside a line
or on empty lines, and on index maps."""

from __future__ import annotations

import json

import pytest

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
