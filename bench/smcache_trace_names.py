#!/usr/bin/env python3
"""How many stack frames a ``SourceMapCache`` names as the ``SourceMap`` it was built from.

    python bench/smcache_trace_names.py

A program, not a test (tests/test_smcache_trace.py asserts equality): per bundle, a trace
with a frame at every segment (every n-th on the large npm maps; Hermes bytecode frames on
the bytecode map) and the traces printed for the fixtures, symbolicated through the map
(given the minified file) and through a cache built from both. Prints the frames, how many
are equal (the whole frame: file, line, column, function and how it was named), how the
map named them (``scope``: the function around the position; ``caller``: the next frame's
call site), and how the cache named the ones that differ.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "reference"))
sys.path.insert(0, str(ROOT))
import realmaps  # noqa: E402

import pysym  # noqa: E402
from pysym._stacktrace import ResolvedMap, parse_stacktrace, symbolicate_frames  # noqa: E402

URL = "https://cdn.example.com/js/bundle.min.js"
NAMES = ROOT / "tests" / "data" / "js_names"
RN = ROOT / "tests" / "data" / "react_native"


def trace(positions: List[Tuple[int, int]], bytecode: bool = False) -> str:
    out = ["Error: boom"]
    for k, (line, col) in enumerate(positions):
        where = "address at %s:%d:%d" % (URL, line + 1, col) if bytecode else "%s:%d:%d" % (URL, line + 1, col + 1)
        out.append("    at f%d (%s)" % (k, where) if k % 2 else "    at " + where)
    return "\n".join(out)


def frames(text: str, target: Any, url: str) -> List[Any]:
    done = symbolicate_frames(parse_stacktrace(text), lambda u: target if u == url else None, None)
    return [f for f in done if not isinstance(f, str)]


def compare(label: str, map_bytes: bytes, js: Optional[bytes], text: str, url: str = URL) -> Tuple[int, int]:
    with pysym.SourceMap.from_bytes(map_bytes) as sm, pysym.SourceMapCache.from_sourcemap(map_bytes, js) as cache:
        want = frames(text, ResolvedMap(sm, js.decode("utf-8") if js is not None else None), url)
        got = frames(text, cache, url)
    equal = sum(1 for w, g in zip(want, got) if w == g)
    how = Counter(str(w.function_from) for w in want)
    diff = Counter("%s->%s" % (w.function_from, g.function_from) for w, g in zip(want, got) if w != g)
    print("%-28s %7d %7d %7d   %-40s %s" % (label, len(want), sum(w.mapped for w in want), equal,
                                           " ".join("%s:%d" % kv for kv in sorted(how.items())),
                                           " ".join("%s:%d" % kv for kv in sorted(diff.items())) or "-"))
    return len(want), equal


def segments(map_bytes: bytes, every: int = 1) -> List[Tuple[int, int]]:
    return realmaps.segment_positions(json.loads(map_bytes)["mappings"])[::every]


def main() -> None:
    print("%-28s %7s %7s %7s   %-40s %s" % ("bundle", "frames", "mapped", "equal", "map named by",
                                           "differing (map->cache)"))
    total = equal = 0

    def add(r: Tuple[int, int]) -> None:
        nonlocal total, equal
        total += r[0]
        equal += r[1]

    for name in ("cart", "preact"):
        m, js = (NAMES / (name + ".min.js.map")).read_bytes(), (NAMES / (name + ".min.js")).read_bytes()
        add(compare(name, m, js, trace(segments(m))))
    gone = realmaps.missing_files()
    if gone:
        print("missing %s: run %s (npm bundles skipped)" % (gone[0], realmaps.INSTALL_COMMAND))
    else:
        for key, every in (("jquery", 7), ("rxjs-min", 9)):
            rm = realmaps.BY_KEY[key]
            m, js = rm.map_path.read_bytes(), rm.js_path.read_bytes()
            add(compare(key, m, js, trace(segments(m, every))))
    ex = ROOT / "examples"
    m, js = (ex / "app.min.js.map").read_bytes(), (ex / "app.min.js").read_bytes()
    for t in ("trace.txt", "trace-firefox.txt"):
        add(compare("example " + t, m, js, (ex / t).read_text("utf-8"), "https://example.com/static/app.min.js"))
    for label, map_name, js_name, printed, url in (
            ("RN bytecode", "index.android.bundle.map", None, "trace_bytecode.txt", "index.android.bundle"),
            ("RN bundle", "index.android.bundle.js.map", None, "trace_source.txt", "index.android.bundle.js"),
            ("RN bundle+js", "index.android.bundle.js.map", "index.android.bundle.js", "trace_source.txt",
             "index.android.bundle.js")):
        m = (RN / map_name).read_bytes()
        js = (RN / js_name).read_bytes() if js_name else None
        add(compare(label + " (printed)", m, js, (RN / printed).read_text("utf-8"), url))
        add(compare(label + " (segments)", m, js, trace(segments(m), bytecode=label == "RN bytecode")))
    tc39 = ROOT / "tests" / "conformance" / "tc39-source-map-tests" / "decoding" / "scopes"
    grid = [(line, col) for line in range(7) for col in range(0, 30, 2)]
    sys.path.insert(0, str(ROOT / "tests"))
    from test_js_scopes_field import GENERATED, _map

    scoped = json.dumps(_map()).encode()
    add(compare("scopes field", scoped, None, trace(grid)))
    add(compare("scopes field + generated", scoped, GENERATED.encode(), trace(grid)))
    for p in sorted(tc39.glob("*.map")):
        add(compare("tc39 " + p.stem[:23], p.read_bytes(), None, trace(grid)))
    print("all: %d of %d frames equal (%.2f%%)" % (equal, total, 100.0 * equal / max(1, total)))


if __name__ == "__main__":
    main()
