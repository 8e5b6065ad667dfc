"""Golden outputs of the Python side, for the browser tests (tests/browser/test_browser.py).

Writes, into a directory given on the command line (or called from pytest):

* ``maps.json``: for each fixture map (examples/ and the ECMA-426 conformance resources),
  what the Python API gives: the error class for a map it rejects, else metadata, every
  token, lookups (both biases) around every token, generated positions and sources
  content (:func:`dump_map`; ``tests/browser/lib/golden.mjs`` makes the same object in JS);
* ``cli/*.txt`` / ``cli/*.jsonl``: ``python -m pysym symbolicate-js`` and
  ``sourcemap lookup`` output for the example traces;
* ``native/``: a small C program compiled here (``gcc -O2 -g``; skipped without gcc, noted
  in ``index.json``), the symcache ``pysym symcache build`` makes of it, ``object info
  --json`` and ``symcache lookup`` at a range of addresses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFORMANCE = os.path.join(ROOT, "tests", "conformance", "tc39-source-map-tests", "resources")
MAX_TOKENS = 300  # tokens whose neighbourhood is looked up, per map


def fixture_maps() -> List[str]:
    """Repository-relative paths of the fixture maps, sorted."""
    out = ["examples/app.min.js.map"]
    for name in sorted(os.listdir(CONFORMANCE)):
        if name.endswith(".map"):
            out.append(os.path.relpath(os.path.join(CONFORMANCE, name), ROOT).replace(os.sep, "/"))
    return out


def _tok(t: Any) -> Optional[List[Any]]:
    if t is None:
        return None
    return [t.dst_line, t.dst_col, t.src, t.src_line, t.src_col, t.name]


def dump_map(data: bytes) -> Dict[str, Any]:
    import pysym

    try:
        sm = pysym.SourceMap.from_bytes(data)
    except pysym.PysymError as e:
        return {"error": type(e).__name__, "code": e.code}
    with sm:
        tokens = sm.tokens
        lines: List[int] = []
        cols: List[int] = []
        for t in tokens[:MAX_TOKENS]:
            for dl, dc in ((t.dst_line, t.dst_col), (t.dst_line, t.dst_col + 1), (t.dst_line + 1, 0)):
                lines.append(dl)
                cols.append(dc)
        lines += [0, 0, 5, 1000000]
        cols += [0, 1000000, 3, 0]
        generated = []
        for t in tokens[:MAX_TOKENS]:
            if t.src is not None:
                generated.append([t.src, t.src_line, t.src_col,
                                  [_tok(g) for g in sm.generated_positions(t.src, t.src_line, t.src_col)],
                                  [_tok(g) for g in sm.generated_positions(t.src, t.src_line)]])
        return {
            "error": None,
            "sources": sm.sources,
            "names": sm.names,
            "file": sm.file,
            "debugId": sm.debug_id,
            "ignoreList": sm.ignore_list,
            "isIndexMap": sm.is_index_map,
            "length": len(sm),
            "tokens": [_tok(t) for t in tokens],
            "queries": [lines, cols],
            "glb": [_tok(t) for t in sm.lookup_many(lines, cols, pysym.GREATEST_LOWER_BOUND)],
            "lub": [_tok(t) for t in sm.lookup_many(lines, cols, pysym.LEAST_UPPER_BOUND)],
            "single": [_tok(sm.lookup(ln, c)) for ln, c in zip(lines[:50], cols[:50])],
            "generated": generated,
            "content": [sm.source_content(i) for i in range(len(sm.sources))],
        }


TRACES = ["examples/trace.txt", "examples/trace-firefox.txt"]
CONTEXTS = {"default": [], "context2": ["--context", "2"], "nocontext": ["--no-context"]}
LOOKUP_POSITIONS = ["1:1", "1:648", "1:674", "1:879", "1:863", "1:951", "1:1131", "1:1197", "1:1255", "1:5000", "2:1"]


def _cli(args: List[str]) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "pysym"] + args, cwd=ROOT, env=env, check=True,
                          stdout=subprocess.PIPE).stdout.decode("utf-8")


NATIVE_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
struct point { int x, y; };
static inline int sq(int x) { return x * x; }
static inline int dist2(struct point a, struct point b) { return sq(a.x - b.x) + sq(a.y - b.y); }
__attribute__((noinline)) int nearest(struct point *ps, int n, struct point q) {
    int best = -1, bd = 0x7fffffff;
    for (int i = 0; i < n; i++) { int d = dist2(ps[i], q); if (d < bd) { bd = d; best = i; } }
    return best;
}
int main(int argc, char **argv) {
    struct point *ps = malloc(sizeof *ps * 64);
    for (int i = 0; i < 64; i++) { ps[i].x = i * 7 % 13; ps[i].y = i * 5 % 11; }
    struct point q = { argc, 4 };
    printf("%d %s\n", nearest(ps, 64, q), argv[0]);
    free(ps);
    return 0;
}
"""
NATIVE_ADDRS = ["%x" % a for a in range(0x1000, 0x1400, 3)]


def write_native(outdir: str) -> Dict[str, Any]:
    gcc = shutil.which("gcc")
    if gcc is None:
        return {"skipped": "gcc is not installed"}
    d = os.path.join(outdir, "native")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "prog.c"), "w") as f:
        f.write(NATIVE_SOURCE)
    subprocess.run([gcc, "-O2", "-g", "prog.c", "-o", "prog"], cwd=d, check=True)
    _cli(["symcache", "build", os.path.join(d, "prog"), "-o", os.path.join(d, "prog.symc")])
    with open(os.path.join(d, "info.json"), "w", encoding="utf-8") as f:
        f.write(_cli(["object", "info", "--json", os.path.join(d, "prog")]))
    with open(os.path.join(d, "lookup.txt"), "w", encoding="utf-8") as f:
        f.write(_cli(["symcache", "lookup", os.path.join(d, "prog.symc")] + NATIVE_ADDRS))
    return {"exe": "native/prog", "symcache": "native/prog.symc", "info": "native/info.json",
            "lookup": "native/lookup.txt", "addrs": NATIVE_ADDRS}


def write(outdir: str) -> None:
    os.makedirs(os.path.join(outdir, "cli"), exist_ok=True)
    maps = {}
    for path in fixture_maps():
        with open(os.path.join(ROOT, path), "rb") as f:
            maps[path] = dump_map(f.read())
    with open(os.path.join(outdir, "maps.json"), "w", encoding="utf-8") as f:
        json.dump(maps, f, ensure_ascii=False)
    index = {"traces": {}, "lookup": {}}  # type: Dict[str, Any]
    for trace in TRACES:
        base = os.path.basename(trace)
        for key, extra in CONTEXTS.items():
            name = "%s.%s.txt" % (base, key)
            with open(os.path.join(outdir, "cli", name), "w", encoding="utf-8") as f:
                f.write(_cli(["symbolicate-js", "--maps", "examples"] + extra + [trace]))
            index["traces"].setdefault(trace, {})[key] = "cli/" + name
        name = "%s.json.jsonl" % base
        with open(os.path.join(outdir, "cli", name), "w", encoding="utf-8") as f:
            f.write(_cli(["symbolicate-js", "--maps", "examples", "--json", trace]))
        index["traces"][trace]["json"] = "cli/" + name
    for bias in ("glb", "lub"):
        name = "lookup.%s.jsonl" % bias
        with open(os.path.join(outdir, "cli", name), "w", encoding="utf-8") as f:
            f.write(_cli(["sourcemap", "lookup", "--bias", bias, "examples/app.min.js.map"] + LOOKUP_POSITIONS))
        index["lookup"][bias] = {"map": "examples/app.min.js.map", "positions": LOOKUP_POSITIONS, "file": "cli/" + name}
    index["native"] = write_native(outdir)
    with open(os.path.join(outdir, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)


if __name__ == "__main__":
    write(sys.argv[1])
