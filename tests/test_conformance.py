"""The ECMA-426 (TC39-TG4) source map conformance suite, run strictly on every engine.

Data: ``tests/conformance/tc39-source-map-tests`` (unmodified copy, see its PROVENANCE
and LICENSE.md). One pytest case per suite test per engine:

* ``sourceMapIsValid: false``: loading must raise :class:`pysym.InvalidInputError`.
* ``sourceMapIsValid: true``: loading must succeed, and every test action must hold:
  - ``checkMapping``: ``lookup(generatedLine, generatedColumn)`` (GREATEST_LOWER_BOUND)
    gives ``originalSource/originalLine/originalColumn/mappedName``; an expected
    ``originalLine`` of null means "no mapping" (``lookup`` returns None);
  - ``checkMappingTransitive``: the same, following the original position through each
    of ``intermediateMaps`` in order; the name is the last map's;
  - ``checkIgnoreList``: ``sm.ignore_list`` holds exactly the ``present`` sources.

``SKIP`` lists suite tests that cannot be run, with the reason. It must stay empty
unless something truly cannot be done; ``test_score`` asserts the total.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import pysym

SUITE = Path(__file__).parent / "conformance" / "tc39-source-map-tests"
RESOURCES = SUITE / "resources"
SPEC_TESTS: List[Dict[str, Any]] = json.loads((SUITE / "source-map-spec-tests.json").read_text("utf-8"))["tests"]
TOTAL = len(SPEC_TESTS)

# name -> reason. Keep empty unless a test truly cannot be run.
SKIP: Dict[str, str] = {}

pytestmark = pytest.mark.usefixtures("engine")


def _expected(action: Dict[str, Any]) -> Optional[Tuple[Any, ...]]:
    if action["originalLine"] is None:
        return None
    return (action["originalSource"], action["originalLine"], action["originalColumn"], action["mappedName"])


def _got(tok: Optional[pysym.Token]) -> Optional[Tuple[Any, ...]]:
    if tok is None:
        return None
    return (tok.src, tok.src_line, tok.src_col, tok.name)


def _check_mapping(sm: pysym.SourceMap, action: Dict[str, Any]) -> None:
    line, col = action["generatedLine"], action["generatedColumn"]
    tok = sm.lookup(line, col, pysym.GREATEST_LOWER_BOUND)
    assert _got(tok) == _expected(action), "lookup(%d, %d) in %s" % (line, col, action)
    # the batched path must agree with the single one
    assert sm.lookup_many([line], [col]) == [tok]


def _check_transitive(sm: pysym.SourceMap, action: Dict[str, Any]) -> None:
    line, col = action["generatedLine"], action["generatedColumn"]
    tok = sm.lookup(line, col, pysym.GREATEST_LOWER_BOUND)
    steps = [(sm.file, line, col, _got(tok))]
    for name in action["intermediateMaps"]:
        if tok is None:
            break
        assert tok.src_line is not None and tok.src_col is not None
        with pysym.SourceMap.from_path(RESOURCES / name) as inner:
            tok = inner.lookup(tok.src_line, tok.src_col, pysym.GREATEST_LOWER_BOUND)
            steps.append((name, None, None, _got(tok)))
    assert _got(tok) == _expected(action), "transitive lookup(%d, %d): %s; steps %s" % (line, col, action, steps)


def _check_ignore_list(sm: pysym.SourceMap, action: Dict[str, Any]) -> None:
    assert sorted(sm.ignore_list) == sorted(action["present"]), action


ACTIONS = {
    "checkMapping": _check_mapping,
    "checkMappingTransitive": _check_transitive,
    "checkIgnoreList": _check_ignore_list,
}


def run_case(case: Dict[str, Any]) -> None:
    """Runs one suite test; raises AssertionError (or pysym's error) when it fails."""
    path = RESOURCES / case["sourceMapFile"]
    if not case["sourceMapIsValid"]:
        try:
            sm = pysym.SourceMap.from_path(path)
        except pysym.InvalidInputError as e:
            assert isinstance(e.code, int) and e.code < 0, "InvalidInputError without a status code: %r" % e
            return
        sm.close()
        raise AssertionError("invalid map %s was accepted" % case["sourceMapFile"])
    with pysym.SourceMap.from_path(path) as sm:
        # the same bytes through the other entry point must load too
        pysym.SourceMap.from_bytes(path.read_bytes()).close()
        for action in case.get("testActions", []):
            ACTIONS[action["actionType"]](sm, action)


def _param(case: Dict[str, Any]) -> Any:
    marks = [pytest.mark.skip(reason=SKIP[case["name"]])] if case["name"] in SKIP else []
    return pytest.param(case, id=case["name"], marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in SPEC_TESTS])
def test_spec(case: Dict[str, Any]) -> None:
    run_case(case)


def test_suite_shape() -> None:
    """Guards the copy of the suite: every action type is handled, names are unique."""
    names = [c["name"] for c in SPEC_TESTS]
    assert len(set(names)) == len(names)
    assert TOTAL == 99, "the pinned suite has 99 tests; update TOTAL checks if it was re-pinned"
    for c in SPEC_TESTS:
        assert (RESOURCES / c["sourceMapFile"]).is_file(), c["sourceMapFile"]
        for a in c.get("testActions", []):
            assert a["actionType"] in ACTIONS, a["actionType"]
    assert set(SKIP) <= set(names), "SKIP names a test that is not in the suite"


def test_score(engine: str, summary: List[str]) -> None:
    """Runs the whole suite again and reports ``conformance: N/99`` for this engine."""
    failed = []
    passed = 0
    for case in SPEC_TESTS:
        if case["name"] in SKIP:
            continue
        try:
            run_case(case)
        except Exception as e:  # any failure, including an unexpected exception type
            failed.append("%s: %s: %s" % (case["name"], type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
        else:
            passed += 1
    line = "conformance: %d/%d on %s (skipped %d)" % (passed, TOTAL, engine, len(SKIP))
    print(line)
    summary.append(line)
    assert not failed, "%s; failing:\n  %s" % (line, "\n  ".join(failed))
    assert passed == TOTAL - len(SKIP)
