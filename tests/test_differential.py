"""Differential test: pysym vs @jridgewell/trace-mapping on real npm bundles and maps.

Maps (pinned in tests/reference/package.json, listed in tests/reference/realmaps.py):
jquery 3.7.1 (jquery.min.map), rxjs 7.8.2 (rxjs.umd.min.js.map and rxjs.umd.js.map),
babylonjs 9.35.0 (babylon.js.map, 30.9 MB), and an index (sectioned) map built here
from the first three (no npm package ships one), read by trace-mapping's FlattenMap.

Per map and engine: >= 10,000 lookups in all (on exact segment positions, next to them,
at random columns within and past line ends, past the last line; both biases), through
``lookup_many`` and a sample through ``lookup``; answers must be identical (source,
line, column, name; trace-mapping's null <-> None). Also ``generated_positions`` vs
``allGeneratedPositionsFor`` and ``iter(sm)`` vs ``eachMapping``.

Documented differences (not bugs, handled below):
* Source URLs: trace-mapping normalises with resolve-uri (e.g. drops "./" segments,
  resolves ".."), and turns a null source into "". Answers are compared through the
  source *index* (pysym's ``sources[i]`` <-> trace-mapping's ``resolvedSources[i]``);
  ``test_sources_agree`` checks the lists themselves, where both leave them unchanged.
* ``generated_positions(source, line)`` without a column has no trace-mapping
  counterpart; with a column both use "exact column, else the nearest greater column on
  that line" (trace-mapping's default LEAST_UPPER_BOUND for allGeneratedPositionsFor).

If node_modules is missing the tests FAIL with the command to run (never skip).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest

import pysym

sys.path.insert(0, str(Path(__file__).parent / "reference"))
import realmaps  # noqa: E402

N_POSITIONS = 6000  # per bias and map: 12,000 lookups per map and engine, 60,000 in all
N_SINGLE = 400  # of those, also asked one at a time through lookup()
N_GENERATED = 300


def _require() -> None:
    gone = realmaps.missing_files()
    if gone:
        pytest.fail(
            "reference maps not installed (missing %s). Run from the repository root:\n    %s"
            % (gone[0], realmaps.INSTALL_COMMAND), pytrace=False)
    if shutil.which("node") is None:
        pytest.fail("node is not installed (apt-get install nodejs npm), needed for the reference answers",
                    pytrace=False)


class Case:
    """One map: where it is, positions to ask, and trace-mapping's answers."""

    def __init__(self, key: str, tmp: Path) -> None:
        self.key = key
        if key == "index":
            data, self.lengths, self.segs = realmaps.build_index_map()
            self.path = tmp / "index.js.map"
            self.path.write_text(json.dumps(data), "utf-8")
        else:
            m = realmaps.BY_KEY[key]
            self.path = m.map_path
            self.lengths = realmaps.line_lengths(m.js_path)
            self.segs = realmaps.segment_positions(json.loads(m.map_path.read_text("utf-8"))["mappings"])
        seed = sum(map(ord, key))
        self.lines, self.cols = realmaps.sample_positions(self.segs, self.lengths, N_POSITIONS, seed)
        self.with_tokens = key != "babylon"  # 863k tokens: compared by count only
        self.ref: Dict[str, Any] = {}

    def ask_reference(self, tmp: Path) -> None:
        req = {"map": str(self.path),
               "queries": [{"lines": self.lines, "cols": self.cols, "bias": 0},
                           {"lines": self.lines, "cols": self.cols, "bias": 1}],
               "generatedSample": N_GENERATED, "tokens": self.with_tokens}
        req_path = tmp / ("%s.request.json" % self.key)
        ans_path = tmp / ("%s.answers.json" % self.key)
        req_path.write_text(json.dumps(req), "utf-8")
        proc = subprocess.run(["node", str(realmaps.TRACE_SCRIPT), str(req_path), str(ans_path)],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        self.ref = json.loads(ans_path.read_text("utf-8"))


KEYS = [m.key for m in realmaps.REAL_MAPS] + ["index"]


@pytest.fixture(scope="module")
def tmp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("differential")


_CASES: Dict[str, Case] = {}


@pytest.fixture(scope="module", params=KEYS)
def case(request: pytest.FixtureRequest, tmp_dir: Path) -> Case:
    """The map and trace-mapping's answers (computed once, shared by every engine)."""
    _require()
    key = request.param
    if key not in _CASES:
        c = Case(key, tmp_dir)
        c.ask_reference(tmp_dir)
        _CASES[key] = c
    return _CASES[key]


@pytest.fixture(scope="module")
def sm(case: Case, engine: str) -> Any:
    with pysym.SourceMap.from_path(case.path) as s:
        yield s


class SourceTranslator:
    """pysym source URL -> trace-mapping source URL, through the index in ``sources``."""

    def __init__(self, ours: Sequence[Optional[str]], theirs: Sequence[str]) -> None:
        assert len(ours) == len(theirs), (len(ours), len(theirs))
        self.map: Dict[Optional[str], set] = {}
        for a, b in zip(ours, theirs):
            self.map.setdefault(a, set()).add(b)

    def same(self, ours: Optional[str], theirs: Optional[str]) -> bool:
        return theirs in self.map.get(ours, ())


def _agree(tok: Optional[pysym.Token], ans: Optional[list], tr: SourceTranslator) -> bool:
    if tok is None or ans is None:
        return tok is None and ans is None
    return (tr.same(tok.src, ans[0]) and tok.src_line == ans[1] and tok.src_col == ans[2]
            and tok.name == ans[3])


def test_lookups_agree(case: Case, sm: pysym.SourceMap, engine: str, summary: List[str]) -> None:
    ref = case.ref
    tr = SourceTranslator(sm.sources, ref["sources"])
    total = agree = 0
    mismatches = []
    for q, bias in enumerate((pysym.GREATEST_LOWER_BOUND, pysym.LEAST_UPPER_BOUND)):
        got = sm.lookup_many(case.lines, case.cols, bias)
        assert len(got) == len(case.lines)
        for i, (tok, ans) in enumerate(zip(got, ref["answers"][q])):
            total += 1
            line, col = case.lines[i], case.cols[i]
            ok = _agree(tok, ans, tr)
            if ok and tok is not None:
                # the token's generated position is the segment the bias picked
                ok = tok.dst_line == line and (tok.dst_col <= col if bias == 0 else tok.dst_col >= col)
            if ok:
                agree += 1
            elif len(mismatches) < 10:
                mismatches.append("bias=%d (%d, %d): pysym %s, trace-mapping %s" % (bias, line, col, tok, ans))
        # lookup() one at a time agrees with lookup_many on a sample
        for i in range(0, len(case.lines), max(1, len(case.lines) // N_SINGLE)):
            assert sm.lookup(case.lines[i], case.cols[i], bias) == got[i], (bias, case.lines[i], case.cols[i])
    line = "differential %s on %s: %d/%d lookups agree with trace-mapping" % (case.key, engine, agree, total)
    summary.append(line)
    assert not mismatches, line + "\n" + "\n".join(mismatches)
    assert total >= 10_000


def test_generated_positions_agree(case: Case, sm: pysym.SourceMap) -> None:
    ref = case.ref
    tr = SourceTranslator(sm.sources, ref["sources"])
    back = {}
    for ours, theirs in zip(sm.sources, ref["sources"]):
        back.setdefault(theirs, ours)
    requests = ref["generatedRequests"]
    assert requests or not case.segs
    bad = []
    for (src, line, col), want in zip(requests, ref["generated"]):
        ours = back[src]
        assert tr.same(ours, src)
        got = sm.generated_positions(ours, line, col)
        got_pos = sorted((t.dst_line, t.dst_col) for t in got)
        if got_pos != sorted(map(tuple, want)):
            bad.append("%s:%d:%d pysym %s, trace-mapping %s" % (src, line, col, got_pos[:5], want[:5]))
        for t in got:
            assert t.src == ours and t.src_line == line
        # the whole line holds at least the positions of every column on it
        if col == 0 or len(bad) < 1:
            whole = {(t.dst_line, t.dst_col) for t in sm.generated_positions(ours, line)}
            assert set(got_pos) <= whole
    assert not bad, "%d of %d differ:\n%s" % (len(bad), len(requests), "\n".join(bad[:10]))


def test_tokens_agree(case: Case, sm: pysym.SourceMap) -> None:
    ref = case.ref
    if not case.with_tokens:
        assert len(sm) == len(case.segs)
        return
    tr = SourceTranslator(sm.sources, ref["sources"])
    toks = list(sm)
    assert len(toks) == len(sm) == len(ref["tokens"]) == len(case.segs)
    for t, r in zip(toks, ref["tokens"]):
        assert (t.dst_line, t.dst_col) == (r[0], r[1])
        if r[3] is None:
            assert (t.src, t.src_line, t.src_col, t.name) == (None, None, None, None)
        else:
            assert tr.same(t.src, r[2]) and (t.src_line, t.src_col, t.name) == (r[3], r[4], r[5]), (t, r)


def test_metadata_agree(case: Case, sm: pysym.SourceMap) -> None:
    ref = case.ref
    assert sm.names == ref["names"]
    assert sm.file == ref["file"] or (case.key == "rxjs-min" and sm.file in ("", None))
    assert sorted(sm.ignore_list) == sorted(sm.sources[i] for i in ref["ignoreList"])
    if case.key == "babylon":
        assert sm.ignore_list, "babylon.js.map has an x_google_ignoreList"


def test_sources_agree(case: Case, sm: pysym.SourceMap) -> None:
    """Where trace-mapping leaves a source URL as written, pysym must give the same URL."""
    ref = case.ref
    for ours, raw, theirs in zip(sm.sources, ref["rawSources"], ref["sources"]):
        if raw is not None and raw == theirs:
            assert ours == theirs


def test_source_content(case: Case, sm: pysym.SourceMap) -> None:
    if case.key == "index":
        datas = [json.loads(realmaps.BY_KEY[k].map_path.read_text("utf-8")) for k in realmaps.INDEX_PARTS]
        contents = [c for d in datas for c in (d.get("sourcesContent") or [None] * len(d["sources"]))]
    else:
        d = json.loads(case.path.read_text("utf-8"))
        contents = d.get("sourcesContent") or [None] * len(d["sources"])
    assert len(contents) == len(sm.sources)
    rnd = random.Random(3)
    for i in sorted(rnd.sample(range(len(contents)), min(40, len(contents)))):
        assert sm.source_content(i) == contents[i]
    if contents and contents[-1] is not None:
        ctx = sm.source_context(len(contents) - 1, 0, context=2)
        assert ctx is not None and ctx.pre_lines == [] and ctx.line == contents[-1].splitlines()[0]


def test_model_matches_trace_mapping(tmp_dir: Path) -> None:
    """Keeps the brute-force model of test_properties honest: on random maps (equal
    columns, 1-field segments, null sources...) ``strategies.model_lookup`` and
    ``model_generated_positions`` give trace-mapping's answers. Touches no wasm."""
    _require()
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from strategies import GLB, LUB, model_generated_positions, model_lookup, positions, source_maps

    counter = [0]

    @settings(max_examples=12, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(m=source_maps(), data=st.data())
    def check(m: Any, data: Any) -> None:
        counter[0] += 1
        pos = [p for p in data.draw(st.lists(positions(m), min_size=1, max_size=40)) if p[1] < 2**31]
        named = [i for i, s in enumerate(m.sources) if s is not None]
        gen = []
        for src in named:
            for s in list(m.segments())[:6]:
                if s.src == src:
                    gen += [(src, s.src_line, s.src_col), (src, s.src_line, s.src_col + 1)]
        path = tmp_dir / ("model%d.map" % counter[0])
        path.write_bytes(m.to_bytes())
        c = Case.__new__(Case)
        c.key, c.path, c.with_tokens = "model%d" % counter[0], path, False
        c.lines, c.cols = [p[0] for p in pos], [p[1] for p in pos]
        req = {"map": str(path), "queries": [{"lines": c.lines, "cols": c.cols, "bias": 0},
                                             {"lines": c.lines, "cols": c.cols, "bias": 1}],
               "generated": [[m.sources[s], ln, col] for s, ln, col in gen]}
        (tmp_dir / "model.req").write_text(json.dumps(req))
        subprocess.run(["node", str(realmaps.TRACE_SCRIPT), str(tmp_dir / "model.req"), str(tmp_dir / "model.ans")],
                       check=True)
        ans = json.loads((tmp_dir / "model.ans").read_text())
        for q, bias in enumerate((GLB, LUB)):
            for (ln, col), a in zip(pos, ans["answers"][q]):
                s = model_lookup(m.lines, ln, col, bias)
                exp = None if s is None else [ans["sources"][s.src], s.src_line, s.src_col,
                                              None if s.name is None else m.names[s.name]]
                assert exp == a, (ln, col, bias, m.to_json())
        for (src, ln, col), a in zip(gen, ans["generated"]):
            exp = [[s.line, s.col] for s in model_generated_positions(m.lines, src, ln, col)]
            assert sorted(exp) == sorted(a), (src, ln, col, m.to_json())

    check()
