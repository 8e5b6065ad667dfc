#!/usr/bin/env python3
"""Real debug files from outside the tests: pysym (an older tree and this one) against
``llvm-symbolizer-19``.

    python bench/real_files.py [--before TREE] [--samples 400] [--what "where from"] FILE[:ARCH] ...

A program, not a test. For each file it prints one row: what pysym at ``--before`` (the
root of an older checkout, e.g. ``git archive REV | tar -x -C DIR``) said, and what this
tree says: the object's kind and arch, its warnings, or the error that refused it, and,
at up to ``--samples`` addresses (function symbols from ``llvm-nm-19``, 2 bytes in), how
many innermost frames have the same function name as ``llvm-symbolizer-19 --demangle``
(``> >`` read as ``>>``: pysym prints C++ names as LLVM 14 does, LLVM 15 dropped the space),
and, of those where LLVM has a line, how many the same ``file:line``. A Breakpad file is
compared with its own FUNC records (no LLVM tool reads it). ``--show N`` prints the first
N differing addresses of each file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYMBOLIZER = shutil.which("llvm-symbolizer-19") or "/usr/lib/llvm-19/bin/llvm-symbolizer"
NM = shutil.which("llvm-nm-19") or "/usr/lib/llvm-19/bin/llvm-nm"


def worker(path: str, arch: Optional[str], addrs: List[int]) -> Dict[str, Any]:
    """Runs in the tree under test (PYTHONPATH): identity, warnings and frames."""
    import pysym
    out: Dict[str, Any] = {}
    try:
        obj = pysym.Object.from_path(path, arch=arch)
        out["kind"], out["arch"] = obj.kind, obj.arch
        out["warnings"] = list(getattr(obj, "warnings", ()))
        base = obj.image_base
        sc = pysym.SymCache.from_object(path, arch=arch)
        out["warnings"] += list(getattr(sc, "warnings", ()))
        frames = sc.lookup_many([a - base for a in addrs])
        out["frames"] = [[(f.function, f.file, f.line) for f in fs][:1] for fs in frames]
    except Exception as e:  # the row reports a refusal as what it is
        out["error"] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:120] if str(e) else "")
    return out


def run_tree(tree: str, path: str, arch: Optional[str], addrs: List[int]) -> Dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=tree)
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps([path, arch, addrs])],
                       capture_output=True, text=True, env=env, cwd=tree)
    if p.returncode != 0:
        return {"error": "crashed: " + (p.stderr.strip().splitlines() or ["?"])[-1][:120]}
    return json.loads(p.stdout)  # type: ignore[no-any-return]


def breakpad_funcs(path: str) -> List[Tuple[int, str]]:
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("FUNC "):
                parts = line.rstrip("\n").split(" ", 4)
                if parts[1] == "m":
                    parts = parts[:1] + line.rstrip("\n").split(" ", 5)[2:]
                out.append((int(parts[1], 16), parts[4]))
    return out


def nm_addresses(path: str, arch: Optional[str]) -> List[int]:
    cmd = [NM, "-n", "--defined-only"] + (["--arch=" + arch] if arch else []) + [path]
    text = subprocess.run(cmd, capture_output=True, text=True).stdout
    addrs = sorted({int(m.group(1), 16) for m in re.finditer(r"^([0-9a-f]+) [TtWw] ", text, re.M)})
    return [a + 2 for a in addrs if a]


def sample(xs: List[Any], n: int) -> List[Any]:
    if len(xs) <= n:
        return xs
    return [xs[i * len(xs) // n] for i in range(n)]


def llvm_frames(path: str, arch: Optional[str], addrs: List[int]) -> List[Tuple[str, str, int]]:
    cmd = [SYMBOLIZER, "--obj=" + path, "--demangle", "--inlines", "--output-style=JSON"]
    if arch:
        cmd.append("--default-arch=" + arch)
    text = subprocess.run(cmd, input="\n".join("0x%x" % a for a in addrs) + "\n", capture_output=True,
                          text=True).stdout
    out = []
    for line in text.splitlines():
        rec = json.loads(line)
        fr = (rec.get("Symbol") or [{}])[0]
        out.append((fr.get("FunctionName", ""), fr.get("FileName", ""), fr.get("Line", 0)))
    return out


def norm(name: str) -> str:
    return re.sub(r">\s+(?=>)", ">", name)


def summary(res: Dict[str, Any], ref: List[Tuple[str, str, int]], names_only: bool,
            show: int, label: str) -> str:
    if "error" in res:
        return "refused (%s)" % res["error"]
    got = [(f[0] if f else ("", "", 0)) for f in res["frames"]]
    n = len(ref)
    # LLVM 15 dropped the C++03 space in `> >`; pysym prints names as LLVM 14 does
    fn = sum(1 for g, r in zip(got, ref) if norm(g[0] or "") == norm(r[0]))
    # where llvm has a line (without one it names the symbol table's STT_FILE, line 0)
    lined = [(g, r) for g, r in zip(got, ref) if r[2]]
    line = sum(1 for g, r in lined if (g[1] or "", g[2] or 0) == (r[1], r[2]))
    shown = 0
    for a, g, r in zip(res.get("addrs", []), got, ref):
        bad_line = not names_only and r[2] and (g[1] or "", g[2] or 0) != (r[1], r[2])
        if shown < show and (norm(g[0] or "") != norm(r[0]) or bad_line):
            print("   %s 0x%x pysym %r\n%s          llvm  %r" % (label, a, g, " " * len(label), r), file=sys.stderr)
            shown += 1
    s = "%s %s; names %d/%d" % (res.get("kind"), res.get("arch"), fn, n)
    if not names_only:
        s += ", file:line %d/%d" % (line, len(lined))
    if res.get("warnings"):
        s += "; %d warning(s): %s" % (len(res["warnings"]), res["warnings"][0][:80])
    return s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker")
    ap.add_argument("--before")
    ap.add_argument("--samples", type=int, default=400)
    ap.add_argument("--show", type=int, default=0)
    ap.add_argument("--what", action="append", default=[], help="where each file comes from, in order")
    ap.add_argument("files", nargs="*")
    a = ap.parse_intermixed_args()
    if a.worker:
        path, arch, addrs = json.loads(a.worker)
        print(json.dumps(worker(path, arch, addrs)))
        return
    print("| file | from | before | now |")
    print("|---|---|---|---|")
    for i, spec in enumerate(a.files):
        path, _, arch = spec.partition(":") if not os.path.exists(spec) else (spec, "", "")
        arch_opt = arch or None
        breakpad = open(path, "rb").read(7) == b"MODULE "
        if breakpad:
            funcs = sample(breakpad_funcs(path), a.samples)
            addrs = [f[0] for f in funcs]
            ref = [(f[1], "", 0) for f in funcs]
        else:
            addrs = sample(nm_addresses(path, arch_opt), a.samples)
            ref = llvm_frames(path, arch_opt, addrs)
        cells = []
        for label, tree in (("before", a.before), ("now", HERE)):
            if tree is None:
                cells.append("-")
                continue
            res = run_tree(tree, path, arch_opt, addrs)
            res["addrs"] = addrs
            cells.append(summary(res, ref, breakpad, a.show, label))
        what = a.what[i] if i < len(a.what) else ""
        label = os.path.basename(path) + (":" + arch if arch else "")
        print("| %s | %s | %s | %s |" % (label, what, cells[0], cells[1]))


if __name__ == "__main__":
    main()
