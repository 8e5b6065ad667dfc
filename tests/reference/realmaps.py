"""Real source maps from npm packages, shared by tests/test_differential.py and
bench/bench_sourcemap.py.

The packages are pinned in tests/reference/package.json (devDependencies) and installed
with ``INSTALL_COMMAND`` (from the repository root). Nothing here needs pysym.
"""

from __future__ import annotations

import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

REFERENCE = Path(__file__).resolve().parent
NODE_MODULES = REFERENCE / "node_modules"
TRACE_SCRIPT = REFERENCE / "trace.mjs"
INSTALL_COMMAND = "npm ci --prefix tests/reference --ignore-scripts --no-audit --no-fund"

_LINE_BREAK = re.compile("\r\n|\r|\n|\u2028|\u2029")


@dataclass(frozen=True)
class RealMap:
    """A minified (or bundled) file and its map, as shipped in an npm package."""

    key: str
    package: str
    map_rel: str  # relative to node_modules
    js_rel: str
    note: str

    @property
    def map_path(self) -> Path:
        return NODE_MODULES / self.map_rel

    @property
    def js_path(self) -> Path:
        return NODE_MODULES / self.js_rel


REAL_MAPS: List[RealMap] = [
    RealMap("jquery", "jquery@3.7.1", "jquery/dist/jquery.min.map", "jquery/dist/jquery.min.js",
            "135 KB, uglify-js, 1 source, 1227 names, 2 lines"),
    RealMap("rxjs-min", "rxjs@7.8.2", "rxjs/dist/bundles/rxjs.umd.min.js.map", "rxjs/dist/bundles/rxjs.umd.min.js",
            "224 KB, terser, 185 lines, 1243 names"),
    RealMap("rxjs", "rxjs@7.8.2", "rxjs/dist/bundles/rxjs.umd.js.map", "rxjs/dist/bundles/rxjs.umd.js",
            "549 KB, rollup (unminified), 238 sources with sourcesContent, 6849 lines"),
    RealMap("babylon", "babylonjs@9.35.0", "babylonjs/babylon.js.map", "babylonjs/babylon.js",
            "30.9 MB, rollup+terser, 2176 sources with sourcesContent, 39390 names, 863k segments on 1 line, "
            "x_google_ignoreList"),
]
BY_KEY = {m.key: m for m in REAL_MAPS}

# The index map is built from these, in this order (see build_index_map).
INDEX_PARTS = ("jquery", "rxjs-min", "rxjs")


def missing_files() -> List[Path]:
    """Files of REAL_MAPS (and the reference library) that are not installed."""
    need = [NODE_MODULES / "@jridgewell" / "trace-mapping" / "package.json"]
    for m in REAL_MAPS:
        need += [m.map_path, m.js_path]
    return [p for p in need if not p.is_file()]


def require_installed() -> None:
    """Raises with the install command when node_modules is incomplete."""
    gone = missing_files()
    if gone:
        raise RuntimeError(
            "the reference maps / trace-mapping are not installed (missing %s). From the repository "
            "root run:\n    %s" % (", ".join(str(p) for p in gone[:3]), INSTALL_COMMAND))


def line_lengths(js_path: Path) -> List[int]:
    """Generated lines' lengths in UTF-16 code units (ECMAScript line terminators)."""
    text = js_path.read_text("utf-8")
    return [len(line.encode("utf-16-le")) // 2 for line in _LINE_BREAK.split(text)]


# -- decoding (pure Python; mirrors tests/strategies.decode_mappings, kept separate so the
# bench does not need hypothesis) ----------------------------------------------------------

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def segment_positions(mappings: str) -> List[Tuple[int, int]]:
    """(line, col) of every segment of a ``mappings`` string."""
    out: List[Tuple[int, int]] = []
    append = out.append
    value_of = _B64
    for line_no, line in enumerate(mappings.split(";")):
        if not line:
            continue
        col = 0
        for seg in line.split(","):
            acc = shift = 0
            for ch in seg:
                d = value_of[ch]
                acc |= (d & 31) << shift
                if d & 32:
                    shift += 5
                else:
                    break
            col += -(acc >> 1) if acc & 1 else acc >> 1
            append((line_no, col))
    return out


# -- the index map --------------------------------------------------------------------------


def build_index_map(parts: Sequence[RealMap] = ()) -> Tuple[Dict[str, Any], List[int], List[Tuple[int, int]]]:
    """An index (sectioned) map over several real maps, as a bundler concatenating them.

    Section 0 at (0, 0); section 1 starts on the LAST line of section 0, past that line's
    end and past its last segment (a column offset); section 2 on a fresh line. Sections
    never overlap, so no reader has to clip a section at the next one.

    Returns (the map as a dict, line lengths of the concatenated file, the (line, col) of
    every segment in the concatenated file).
    """
    parts = list(parts) or [BY_KEY[k] for k in INDEX_PARTS]
    sections = []
    lengths: List[int] = []
    segs: List[Tuple[int, int]] = []
    line_off = col_off = 0
    for i, part in enumerate(parts):
        data = json.loads(part.map_path.read_text("utf-8"))
        own = line_lengths(part.js_path)
        if len(own) > 1 and own[-1] == 0:
            own.pop()  # the file ends with a line break: no empty last line in the bundle
        own_segs = segment_positions(data["mappings"])
        sections.append({"offset": {"line": line_off, "column": col_off}, "map": data})
        segs += [(line_off + ln, (col_off if ln == 0 else 0) + c) for ln, c in own_segs]
        if lengths:
            lengths[-1] = col_off + own[0]
            lengths += own[1:]
        else:
            lengths = list(own)
        if i == 0:
            # next section: same line as our last line, past its end and its segments
            last = len(own) - 1
            last_cols = [c for ln, c in own_segs if ln == last]
            line_off = line_off + last
            col_off = (col_off if last == 0 else 0) + max([own[-1]] + [c + 1 for c in last_cols]) + 7
        else:
            line_off = line_off + len(own)
            col_off = 0
    return {"version": 3, "file": "bundle.js", "sections": sections}, lengths, segs


def sample_positions(segs: Sequence[Tuple[int, int]], lengths: Sequence[int], n: int,
                     seed: int) -> Tuple[List[int], List[int]]:
    """``n`` positions: half on/around real segments, half random within and past line ends
    (and a few past the last line)."""
    rnd = random.Random(seed)
    lines: List[int] = []
    cols: List[int] = []
    for i in range(n):
        kind = i % 4
        if kind < 2 and segs:
            ln, c = segs[rnd.randrange(len(segs))]
            c = c if kind == 0 else max(0, c + rnd.choice((-1, 1, 2)))
        else:
            ln = rnd.randrange(len(lengths) + 2)
            width = lengths[ln] if ln < len(lengths) else 10
            c = rnd.randrange(width + 40) if kind == 2 else width + rnd.randrange(0, 3)
        lines.append(ln)
        cols.append(c)
    return lines, cols


def map_info(path: Path) -> Dict[str, Any]:
    """Size and a few counts, for reports."""
    data = json.loads(path.read_text("utf-8"))
    return {"bytes": path.stat().st_size, "sources": len(data.get("sources", [])),
            "names": len(data.get("names", []))}


if __name__ == "__main__":  # list the maps and whether they are installed
    for m in REAL_MAPS:
        print("%-9s %-18s %-45s %s" % (m.key, m.package, m.map_rel,
                                       "%.1f MB" % (m.map_path.stat().st_size / 1e6) if m.map_path.is_file()
                                       else "MISSING: " + INSTALL_COMMAND))
    sys.exit(1 if missing_files() else 0)
