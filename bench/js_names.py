"""Function names from scopes: pysym against symbolic's SourceMapCache (the oracle).

For each minified bundle and its map, every mapped generated position (each segment's
start) is named by pysym (``SourceMap.set_generated_source`` + ``function_names``) and by
PyPI ``symbolic``'s ``SourceMapCache`` (``function_name`` of the lookup); symbolic's
``<unknown>`` (top-level code) is pysym's ``None``. Prints the agreement per bundle and
the most frequent differences, grouped by (pysym, symbolic) answer.

    python bench/js_names.py [--engine wasmtime] JS MAP [JS MAP ...]
    python bench/js_names.py --reference   # the bundles of tests/reference/node_modules
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REFERENCE = Path(__file__).resolve().parent.parent / "tests" / "reference" / "node_modules"
REFERENCE_BUNDLES = [
    ("jquery/dist/jquery.min.js", "jquery/dist/jquery.min.map"),
    ("rxjs/dist/bundles/rxjs.umd.min.js", "rxjs/dist/bundles/rxjs.umd.min.js.map"),
    ("rxjs/dist/bundles/rxjs.umd.js", "rxjs/dist/bundles/rxjs.umd.js.map"),
    ("babylonjs/babylon.js", "babylonjs/babylon.js.map"),
]


Pair = Tuple[Optional[str], Optional[str]]


def compare(js: bytes, map_bytes: bytes) -> Tuple[int, int, "collections.Counter[Pair]", Dict[Pair, Tuple[int, int]]]:
    """(positions, agreeing, difference counts, one example position per difference)."""
    from symbolic.sourcemapcache import SourceMapCache as SymbolicCache

    import pysym

    sm = pysym.SourceMap.from_bytes(map_bytes)
    sm.set_generated_source(js)
    seen = set()
    lines: List[int] = []
    cols: List[int] = []
    for tok in sm:
        if tok.src is None or (tok.dst_line, tok.dst_col) in seen:
            continue
        seen.add((tok.dst_line, tok.dst_col))
        lines.append(tok.dst_line)
        cols.append(tok.dst_col)
    ours = sm.function_names(lines, cols)
    cache = SymbolicCache.from_bytes(js, map_bytes)
    diffs: "collections.Counter[Tuple[Optional[str], Optional[str]]]" = collections.Counter()
    examples: Dict[Tuple[Optional[str], Optional[str]], Tuple[int, int]] = {}
    same = 0
    for line, col, mine in zip(lines, cols, ours):
        t = cache.lookup(line + 1, col + 1, 0)
        theirs = t.function_name if t is not None else None
        if theirs == "<unknown>":
            theirs = None
        if mine == theirs:
            same += 1
        else:
            diffs[(mine, theirs)] += 1
            examples.setdefault((mine, theirs), (line, col))
    sm.close()
    return len(lines), same, diffs, examples


def write_golden(js: Path, mp: Path, out: Path) -> None:
    """symbolic's function name at every mapped generated position: [[line, col, name], ...]."""
    import json

    from symbolic.sourcemapcache import SourceMapCache as SymbolicCache

    import pysym

    cache = SymbolicCache.from_bytes(js.read_bytes(), mp.read_bytes())
    rows = []
    seen = set()
    with pysym.SourceMap.from_bytes(mp.read_bytes()) as sm:
        for tok in sm:
            if tok.src is None or (tok.dst_line, tok.dst_col) in seen:
                continue
            seen.add((tok.dst_line, tok.dst_col))
            t = cache.lookup(tok.dst_line + 1, tok.dst_col + 1, 0)
            name = t.function_name if t is not None else None
            rows.append([tok.dst_line, tok.dst_col, None if name == "<unknown>" else name])
    doc = {"oracle": "symbolic 13.9.0 SourceMapCache", "names": rows}
    out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", help="pairs: minified.js map.json")
    ap.add_argument("--reference", action="store_true", help="the bundles under tests/reference/node_modules")
    ap.add_argument("--show", type=int, default=12, help="differences listed per bundle")
    ap.add_argument("--golden", metavar="OUT", help="write symbolic's names for the first pair as JSON (test data)")
    args = ap.parse_args(argv)
    if args.golden:
        write_golden(Path(args.files[0]), Path(args.files[1]), Path(args.golden))
        return 0
    pairs = [(Path(a), Path(b)) for a, b in zip(args.files[0::2], args.files[1::2])]
    if args.reference:
        pairs += [(REFERENCE / a, REFERENCE / b) for a, b in REFERENCE_BUNDLES]
    if not pairs:
        ap.error("give JS MAP pairs or --reference")
    total = agree = sep_total = 0
    print("| bundle | positions | agree | % | + separator class | % |")
    print("|---|---:|---:|---:|---:|---:|")
    details = []
    for js, mp in pairs:
        n, same, diffs, examples = compare(js.read_bytes(), mp.read_bytes())
        # symbolic drops the "." between a member-expression target and an object key
        # (`a.b = {c: function(){}}` gives `a.bc`): counted apart
        sep = sum(c for (m, t), c in diffs.items()
                  if m is not None and t is not None and m.replace(".", "") == t.replace(".", ""))
        total += n
        agree += same
        sep_total += sep
        print("| %s | %d | %d | %.2f%% | %d | %.2f%% |"
              % (js.name, n, same, 100.0 * same / max(n, 1), sep, 100.0 * (same + sep) / max(n, 1)))
        details.append((js, diffs, examples))
    print("| all | %d | %d | %.2f%% | %d | %.2f%% |"
          % (total, agree, 100.0 * agree / max(total, 1), sep_total, 100.0 * (agree + sep_total) / max(total, 1)))
    for js, diffs, examples in details:
        if not diffs:
            continue
        print("\n%s: differences (pysym | symbolic | count | first at line:col, 0-based)" % js.name)
        for (mine, theirs), count in diffs.most_common(args.show):
            line, col = examples[(mine, theirs)]
            print("  %r | %r | %d | %d:%d" % (mine, theirs, count, line, col))
    return 0


if __name__ == "__main__":
    sys.exit(main())
