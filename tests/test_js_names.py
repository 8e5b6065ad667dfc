"""Function names of JavaScript frames from the generated file's scopes (ABI 9).

``SourceMap.set_generated_source`` hands the minified file to the module, which extracts
its function scopes and maps their name tokens through the map; ``function_names`` gives
the innermost one at generated positions. The oracle is symbolic 13.9.0's SourceMapCache:
its answers at every mapped position are stored next to the bundles
(``tests/data/js_names/*.names.json``, written by ``bench/js_names.py --golden``; the
live comparison on larger bundles is ``make js-names``). See tests/data/js_names/README.md
for where the bundles come from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

import pysym

DATA = Path(__file__).parent / "data" / "js_names"


def _load(name: str) -> Tuple[pysym.SourceMap, List[List[object]]]:
    sm = pysym.SourceMap.from_path(DATA / (name + ".min.js.map"))
    sm.set_generated_source((DATA / (name + ".min.js")).read_bytes())
    golden = json.loads((DATA / (name + ".names.json")).read_text("utf-8"))["names"]
    return sm, golden


def _ours(sm: pysym.SourceMap, golden: List[List[object]]) -> List[Optional[str]]:
    return sm.function_names([int(r[0]) for r in golden], [int(r[1]) for r in golden])  # type: ignore[call-overload]


def test_uglifyjs_build_names_equal_symbolic(engine: str) -> None:
    # cart.min.js: UglifyJS 3.19.3 --mangle of cart.js; every mapped position
    sm, golden = _load("cart")
    with sm:
        ours = _ours(sm, golden)
    diff = [(r, o) for r, o in zip(golden, ours) if r[2] != o]
    assert len(golden) > 80
    assert not diff, diff[:10]
    assert {"Cart", "Cart.prototype.total", "priceOf", "checkout", "handlers.reportError",
            "handlers.retry", "<anonymous>", "shop"} <= set(ours)


def test_preact_names_agree_with_symbolic(engine: str) -> None:
    sm, golden = _load("preact")
    with sm:
        ours = _ours(sm, golden)
    same = sum(1 for r, o in zip(golden, ours) if r[2] == o)
    assert len(golden) > 2500
    assert same == len(golden), [(r, o) for r, o in zip(golden, ours) if r[2] != o][:10]


def test_name_segment_one_column_before_the_identifier(engine: str) -> None:
    # `function e(){...}` whose name segment sits on the space before `e` (UglifyJS style):
    # the name is still found, as symbolic finds it.
    js = "var x=1;function e(){return 1}"
    # segments: col 0 -> a.js 0:0; col 16 (the space before `e`) -> 1:9 named onFailure;
    # col 19 -> 1:9
    mapping = {"version": 3, "sources": ["a.js"], "names": ["onFailure"],
               "mappings": "AAAA,gBACSA,GAAA"}
    with pysym.SourceMap.from_bytes(json.dumps(mapping)) as sm:
        sm.set_generated_source(js)
        tok = sm.lookup(0, 16)
        assert tok is not None and tok.dst_col == 16 and tok.name == "onFailure"
        assert js[16:18] == " e"
        assert sm.function_name(0, 22) == "onFailure"
        assert sm.function_name(0, 2) is None


def test_without_generated_source_is_an_error(engine: str) -> None:
    with pysym.SourceMap.from_path(DATA / "cart.min.js.map") as sm:
        with pytest.raises(ValueError):
            sm.function_names([0], [0])


def test_hostile_source_gives_a_typed_error(engine: str) -> None:
    with pysym.SourceMap.from_path(DATA / "cart.min.js.map") as sm:
        with pytest.raises(pysym.ResourceLimitError):
            sm.set_generated_source("(" * 100_000)
        # the map is intact, and a good file still works after the refusal
        assert sm.lookup(0, 42) is not None
        sm.set_generated_source((DATA / "cart.min.js").read_bytes())
        assert sm.function_name(0, 50) == "Cart"
