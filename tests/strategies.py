"""Test-only helpers: a Base64 VLQ codec, a source map model and hypothesis strategies.

Nothing here is used by pysym itself. The model is deliberately naive (a list of
segments and linear scans) so that it is obviously right; pysym's binary searches are
checked against it.

Lookup semantics modelled (those of @jridgewell/trace-mapping 0.3.x, which pysym
follows, see ``model_lookup``):

* GREATEST_LOWER_BOUND at column c on line l: if segments sit exactly at c, the FIRST of
  them (in mappings order); otherwise the LAST segment of the run with the greatest
  column < c; none -> no answer.
* LEAST_UPPER_BOUND: if segments sit exactly at c, the LAST of them; otherwise the
  FIRST segment with the smallest column > c; none -> no answer.
* Never crosses lines; the chosen segment having no original position (1 field) gives
  no answer (trace-mapping does not fall back to another segment either).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from hypothesis import strategies as st

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {c: i for i, c in enumerate(B64)}
I32_MAX = 2**31 - 1

GLB = 0  # numeric values of pysym.GREATEST_LOWER_BOUND / LEAST_UPPER_BOUND (ABI.md)
LUB = 1


# -- Base64 VLQ --------------------------------------------------------------------------


def vlq_encode(value: int) -> str:
    """One signed integer as Base64 VLQ (sign in the lowest bit, 5 bits per digit)."""
    v = (-value << 1) | 1 if value < 0 else value << 1
    out = []
    while True:
        digit = v & 31
        v >>= 5
        if v:
            digit |= 32
        out.append(B64[digit])
        if not v:
            return "".join(out)


def vlq_decode(text: str, pos: int = 0) -> Tuple[int, int]:
    """Decodes one VLQ at ``text[pos:]``; returns (value, position after it)."""
    result = shift = 0
    while True:
        if pos >= len(text):
            raise ValueError("VLQ: missing continuation digit")
        digit = _B64_VALUE.get(text[pos])
        if digit is None:
            raise ValueError("VLQ: %r is not a Base64 digit" % text[pos])
        pos += 1
        result |= (digit & 31) << shift
        shift += 5
        if not digit & 32:
            break
    negative = result & 1
    result >>= 1
    return (-result if negative else result), pos


def vlq_decode_all(text: str) -> List[int]:
    """All VLQ values in one segment's text."""
    values = []
    pos = 0
    while pos < len(text):
        value, pos = vlq_decode(text, pos)
        values.append(value)
    return values


# -- segments and mappings ---------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One decoded segment with absolute values; ``src is None`` for 1-field segments."""

    line: int
    col: int
    src: Optional[int] = None
    src_line: Optional[int] = None
    src_col: Optional[int] = None
    name: Optional[int] = None


def encode_mappings(lines: Sequence[Sequence[Segment]]) -> str:
    """Encodes absolute segments (grouped per generated line) as a ``mappings`` string."""
    out_lines = []
    prev_src = prev_src_line = prev_src_col = prev_name = 0
    for segs in lines:
        prev_col = 0
        parts = []
        for s in segs:
            p = vlq_encode(s.col - prev_col)
            prev_col = s.col
            if s.src is not None:
                assert s.src_line is not None and s.src_col is not None
                p += vlq_encode(s.src - prev_src) + vlq_encode(s.src_line - prev_src_line)
                p += vlq_encode(s.src_col - prev_src_col)
                prev_src, prev_src_line, prev_src_col = s.src, s.src_line, s.src_col
                if s.name is not None:
                    p += vlq_encode(s.name - prev_name)
                    prev_name = s.name
            parts.append(p)
        out_lines.append(",".join(parts))
    return ";".join(out_lines)


def decode_mappings(mappings: str) -> List[List[Segment]]:
    """Decodes a ``mappings`` string into absolute segments per generated line.

    Strict enough for tests on known-good maps; fast enough for a 6 MB string (a few s).
    """
    result: List[List[Segment]] = []
    src = src_line = src_col = name = 0
    value_of = _B64_VALUE
    for line_no, line in enumerate(mappings.split(";")):
        segs: List[Segment] = []
        col = 0
        if line:
            for seg in line.split(","):
                # inline VLQ decoding: this loop runs for every segment of large maps
                vals = []
                acc = shift = 0
                for ch in seg:
                    d = value_of[ch]
                    acc |= (d & 31) << shift
                    if d & 32:
                        shift += 5
                    else:
                        vals.append(-(acc >> 1) if acc & 1 else acc >> 1)
                        acc = shift = 0
                col += vals[0]
                if len(vals) == 1:
                    segs.append(Segment(line_no, col))
                    continue
                src += vals[1]
                src_line += vals[2]
                src_col += vals[3]
                if len(vals) >= 5:
                    name += vals[4]
                    segs.append(Segment(line_no, col, src, src_line, src_col, name))
                else:
                    segs.append(Segment(line_no, col, src, src_line, src_col))
        result.append(segs)
    return result


# -- the model -----------------------------------------------------------------------------

ModelToken = Tuple[int, int, Optional[str], Optional[int], Optional[int], Optional[str]]


@dataclass
class MapModel:
    """A source map as the test built it: the JSON text plus the segments it encodes."""

    lines: List[List[Segment]]
    sources: List[Optional[str]]
    names: List[str]
    source_root: Optional[str] = None
    sources_content: Optional[List[Optional[str]]] = None
    file: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"version": 3}
        if self.file is not None:
            d["file"] = self.file
        if self.source_root is not None:
            d["sourceRoot"] = self.source_root
        d["sources"] = list(self.sources)
        if self.sources_content is not None:
            d["sourcesContent"] = list(self.sources_content)
        d["names"] = list(self.names)
        d["mappings"] = encode_mappings(self.lines)
        d.update(self.extra)
        return d

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json()).encode("utf-8")

    def segments(self) -> Iterator[Segment]:
        for segs in self.lines:
            yield from segs

    def token(self, s: Segment, resolved_sources: Sequence[Optional[str]]) -> ModelToken:
        """The token pysym should return for segment ``s`` (sources resolved by pysym)."""
        if s.src is None:
            return (s.line, s.col, None, None, None, None)
        return (s.line, s.col, resolved_sources[s.src], s.src_line, s.src_col,
                None if s.name is None else self.names[s.name])


def model_lookup(lines: Sequence[Sequence[Segment]], line: int, col: int, bias: int) -> Optional[Segment]:
    """trace-mapping's ``originalPositionFor`` on a brute-force list (see module doc)."""
    if line >= len(lines):
        return None
    segs = lines[line]
    exact = [s for s in segs if s.col == col]
    if exact:
        chosen = exact[0] if bias == GLB else exact[-1]
    elif bias == GLB:
        below = [s for s in segs if s.col < col]
        if not below:
            return None
        chosen = below[-1]  # segments are in non-decreasing column order
    else:
        above = [s for s in segs if s.col > col]
        if not above:
            return None
        chosen = above[0]
    return chosen if chosen.src is not None else None


def model_generated_positions(lines: Sequence[Sequence[Segment]], src: int, line: int,
                              col: Optional[int]) -> List[Segment]:
    """All segments mapped from ``src:line:col``, in generated order.

    ``col=None``: the whole original line. With ``col``: the segments at exactly that
    original column, else at the nearest greater column on that line (trace-mapping's
    ``allGeneratedPositionsFor`` with its default LEAST_UPPER_BOUND bias).
    """
    on_line = [s for segs in lines for s in segs if s.src == src and s.src_line == line]
    if col is not None:
        cols = [s.src_col for s in on_line if s.src_col is not None and s.src_col >= col]
        if not cols:
            return []
        target = min(cols)
        on_line = [s for s in on_line if s.src_col == target]
    return sorted(on_line, key=lambda s: (s.line, s.col))  # stable: mappings order on ties


# -- hypothesis strategies ---------------------------------------------------------------

# Source names: unique non-null ones (so a source can be named in generated_positions),
# plus null entries, which ECMA-426 allows.
_source_name = st.from_regex(r"[a-z]{1,6}(/[a-z]{1,6}){0,2}\.js", fullmatch=True)
_name = st.text(alphabet="abcdefxyz_$\u00e9\u4e2d", min_size=0, max_size=6)
_small = st.integers(min_value=0, max_value=40)
_wide = st.one_of(_small, st.integers(min_value=0, max_value=I32_MAX))


@st.composite
def source_maps(draw: Any, max_lines: int = 8, max_segments: int = 8, wide_values: bool = False) -> MapModel:
    """A random *valid* regular source map with its decoded model.

    Covers: empty lines, empty maps, 1-, 4- and 5-field segments, several segments at
    the same generated column, null sources, sourceRoot, sourcesContent, names.
    """
    uniq = draw(st.lists(_source_name, min_size=0, max_size=4, unique=True))
    sources: List[Optional[str]] = list(uniq)
    if draw(st.booleans()):
        # null entries at random places
        for _ in range(draw(st.integers(1, 2))):
            sources.insert(draw(st.integers(0, len(sources))), None)
    names = draw(st.lists(_name, min_size=0, max_size=4))
    values = _wide if wide_values else _small
    n_lines = draw(st.integers(0, max_lines))
    lines: List[List[Segment]] = []
    for line_no in range(n_lines):
        segs: List[Segment] = []
        col = 0
        for _ in range(draw(st.integers(0, max_segments))):
            # a delta of 0 puts several segments at one generated column
            step = draw(st.one_of(st.just(0), st.integers(1, 12)))
            if wide_values and draw(st.integers(0, 9)) == 0:
                step = draw(st.integers(0, I32_MAX - col))
            if col + step > I32_MAX:
                step = 0
            col += step
            kind = draw(st.sampled_from([1, 4, 4, 5, 5])) if sources else 1
            if kind == 1:
                segs.append(Segment(line_no, col))
                continue
            src = draw(st.integers(0, len(sources) - 1))
            sline = draw(values)
            scol = draw(values)
            name = draw(st.integers(0, len(names) - 1)) if kind == 5 and names else None
            segs.append(Segment(line_no, col, src, sline, scol, name))
        lines.append(segs)
    source_root = draw(st.sampled_from([None, None, "", "root", "root/", "http://example.com/src/"]))
    content: Optional[List[Optional[str]]] = None
    if draw(st.booleans()):
        content = [draw(st.one_of(st.none(), st.text(max_size=30))) for _ in sources]
    file = draw(st.one_of(st.none(), _source_name))
    return MapModel(lines, sources, names, source_root, content, file)


def positions(model: MapModel, max_extra_lines: int = 3) -> st.SearchStrategy[Tuple[int, int]]:
    """(line, col) positions: on segments, between them, past line ends and past the map."""
    cols = sorted({s.col for s in model.segments()})
    max_col = cols[-1] if cols else 0
    n_lines = len(model.lines)
    line_st = st.integers(0, n_lines + max_extra_lines)
    on_seg = (st.sampled_from([(s.line, s.col) for s in model.segments()])
              if cols else st.tuples(line_st, st.just(0)))
    near = st.tuples(line_st, st.integers(0, max_col + 20))
    huge = st.tuples(st.one_of(line_st, st.just(I32_MAX), st.just(2**32 - 1)),
                     st.one_of(st.just(I32_MAX), st.just(2**32 - 1), st.integers(0, 2**32 - 1)))
    return st.one_of(on_seg, on_seg, near, near, huge)


def mutate(data: bytes, draw: Any) -> bytes:
    """A few random byte-level edits (flip, insert, delete, truncate, splice)."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup", "set"]))
        if not buf:
            buf.extend(draw(st.binary(min_size=1, max_size=8)))
            continue
        i = draw(st.integers(0, len(buf) - 1))
        if op == "flip":
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            buf[i:i] = draw(st.sampled_from([b"{", b"}", b"[", b"]", b",", b":", b"\"", b"\\", b";",
                                             b"-", b"1e999", b"null", b"\xff", b"\x00", b"\\u0000",
                                             b"\\ud800", b"gggggggggggggg", b"9999999999999999999"]))
        elif op == "delete":
            del buf[i:i + draw(st.integers(1, 16))]
        elif op == "truncate":
            del buf[i:]
        elif op == "dup":
            j = draw(st.integers(i, min(len(buf), i + 64)))
            buf[j:j] = buf[i:j]
        else:
            buf[i] = draw(st.integers(0, 255))
    return bytes(buf)


def structural_mutations(d: Dict[str, Any], draw: Any) -> Dict[str, Any]:
    """JSON-level mutations of a map: wrong types, bad indices, odd fields."""
    inner = json.loads(json.dumps(d))
    d = json.loads(json.dumps(d))
    key = draw(st.sampled_from(["version", "sources", "names", "mappings", "sourceRoot", "file",
                                "sourcesContent", "ignoreList", "sections", "x_google_ignoreList",
                                "debugId"]))
    value = draw(st.one_of(
        st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False),
        st.text(max_size=10), st.lists(st.one_of(st.none(), st.integers(-3, 10), st.text(max_size=3)), max_size=4),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.just([{"offset": {"line": 0, "column": 0}, "map": inner}]),
        st.just([{"offset": {"line": 0, "column": 0}, "map": {"version": 3, "sections": []}}]),
        st.just([{"offset": {"line": -1, "column": 0}, "map": inner}]),
        st.just("A" * 1000 + "gggggggggggg"),
        st.just("AAAA,AAAA;" * 3 + "AAAAA"),  # name index into an empty names table
    ))
    if draw(st.booleans()):
        d.pop(key, None)
    else:
        d[key] = value
    return d


def iter_tokens(lines: Iterable[Sequence[Segment]]) -> Iterator[Segment]:
    for segs in lines:
        yield from segs
