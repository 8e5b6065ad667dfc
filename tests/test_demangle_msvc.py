"""The Microsoft C++ demangler in the wasm module, compared with ``llvm-undname-14``.

Names: every decorated name of C++ compiled here with ``clang-14
--target={x86_64,i686,aarch64}-pc-windows-msvc -c`` at ``-O0`` and ``-O2``
(``tests/data/msvc_demangle_*.cpp``: templates, operators, lambdas, namespaces, classes,
thunks, RTTI, string literals; listed with ``llvm-nm-14``), and the hand-written classic
cases of ``tests/data/msvc_names.txt``.

A frame's ``function`` is the short form llvm-symbolizer prints (``llvm-undname``'s
``--no-calling-convention --no-return-type --no-access-specifier --no-member-type``): the
names go through a Breakpad file's FUNC records, the way a name reaches the demangler from
the Python API. The full form (``demangle_msvc(name, false)`` in the core) is checked
against ``tests/data/msvc_names.expected`` by the core's unit test; here that file is
checked against llvm-undname-14 itself, so it cannot drift from the oracle.

Differences allowed (none seen so far; the test lists them): names LLVM 14 reads
leniently when they are malformed (an unknown calling-convention letter, a parameter list
that does not end) are not part of the corpus; the module demangles every name of it.

``python tests/test_demangle_msvc.py`` prints the agreement for both forms.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from typing import List, Sequence, Tuple

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_demangle import pysym_demangle  # noqa: E402

UNDNAME = shutil.which("llvm-undname-14") or shutil.which("llvm-undname")
CLANG = shutil.which("clang-14")
NM = shutil.which("llvm-nm-14") or shutil.which("llvm-nm")
DATA = os.path.join(HERE, "data")
SHORT_FLAGS = ["--no-calling-convention", "--no-return-type", "--no-access-specifier", "--no-member-type"]
TARGETS = ("x86_64", "i686", "aarch64")

needs_tools = pytest.mark.skipif(not (UNDNAME and CLANG and NM),
                                 reason="llvm-undname-14, clang-14 or llvm-nm is missing")


def undname(names: Sequence[str], short: bool) -> List[str]:
    """llvm-undname's output per name; the name itself where it refuses it (the error goes
    to stderr: the name's block has no output line)."""
    assert UNDNAME
    out = subprocess.run([UNDNAME] + (SHORT_FLAGS if short else []), input="\n".join(names) + "\n",
                         capture_output=True, text=True).stdout.split("\n")  # exit 1 if any fails
    res = []
    i = 0
    for n in names:
        assert out[i] == n, (out[i], n)
        if out[i + 1] == "":
            res.append(n)
            i += 2
        else:
            res.append(out[i + 1])
            i += 3
    return res


def hand_names() -> List[str]:
    with open(os.path.join(DATA, "msvc_names.txt"), encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def compiled_names(tmp: str) -> List[str]:
    assert CLANG and NM
    objs = []
    for src in sorted(os.listdir(DATA)):
        if not (src.startswith("msvc_demangle_") and src.endswith(".cpp")):
            continue
        for target in TARGETS:
            for opt in ("-O0", "-O2"):
                obj = os.path.join(tmp, "%s.%s%s.obj" % (src, target, opt))
                subprocess.run([CLANG, "--target=%s-pc-windows-msvc" % target, "-std=c++20", opt, "-w", "-c",
                                os.path.join(DATA, src), "-o", obj], check=True)
                objs.append(obj)
    out = subprocess.run([NM] + objs, capture_output=True, text=True, check=True).stdout
    return sorted({line.split()[-1] for line in out.splitlines() if line.split() and line.split()[-1].startswith("?")})


def compare(names: Sequence[str], got: Sequence[str], short: bool) -> Tuple[int, List[Tuple[str, str, str]]]:
    ref = undname(names, short)
    diff = [(n, r, g) for n, r, g in zip(names, ref, got) if r != g]
    return len(names) - len(diff), diff


@pytest.fixture(scope="module")
def corpus() -> List[str]:
    with tempfile.TemporaryDirectory() as tmp:
        built = compiled_names(tmp)
    # the builds hold every kind the issue names
    kinds = ["??0", "??1", "??_7", "??_R0", "??_R4", "??_C@", "<lambda_", "?A0x", "??$", "??_G", "??H", "??R"]
    missing = [k for k in kinds if not any(k in n for n in built)]
    assert not missing, missing
    assert len(built) > 350, len(built)
    return built + hand_names()


@needs_tools
def test_short_form_in_frames(engine: str, corpus: List[str]) -> None:
    """Frames carry the name as llvm-symbolizer prints it: all identical."""
    got = pysym_demangle(corpus)
    same, diff = compare(corpus, got, short=True)
    assert not diff, (same, len(corpus), diff[:5])
    # not a no-op: most names demangle (the corpus's malformed ones do not)
    assert sum(g != n for g, n in zip(got, corpus)) >= len(corpus) - 10


@needs_tools
def test_expected_full_forms_are_llvm_undname() -> None:
    """``msvc_names.expected`` (name, full form, short form per line; read by the core's
    unit test) is what llvm-undname-14 prints for ``msvc_names.txt``."""
    names = hand_names()
    with open(os.path.join(DATA, "msvc_names.expected"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    assert [r[0] for r in rows] == names
    assert [r[1] for r in rows] == undname(names, short=False)
    assert [r[2] for r in rows] == undname(names, short=True)


def test_msvc_names_survive_hostile_input(engine: str) -> None:
    """Malformed and deeply nested decorated names stay as they are, without a trap."""
    inner = "P6AXXZ"
    for _ in range(3000):
        inner = "P6AX" + inner + "@Z"
    bad = ["?", "?f@@YAX", "?f@@YAXHH", "??_A", "?f@@YAX" + inner + "@Z",
           "??$f@" + "V?$A@" * 3000 + "H" + "@@" * 3000 + "@@YAXXZ", "?x@" + "?1??f@" * 3000 + "@YAXXZ@4HA",
           "?f@@YAX" + "PEA" * 20000 + "H@Z", "??_C@_0" + "?$AA" * 5000 + "@"]
    assert pysym_demangle(bad) == bad


def write_expected() -> None:
    names = hand_names()
    full, short = undname(names, False), undname(names, True)
    with open(os.path.join(DATA, "msvc_names.expected"), "w", encoding="utf-8") as f:
        for row in zip(names, full, short):
            f.write("\t".join(row) + "\n")


def main(argv: List[str]) -> None:
    if argv[:1] == ["--write-expected"]:
        write_expected()
        return
    with tempfile.TemporaryDirectory() as tmp:
        built = compiled_names(tmp)
    for label, names in (("compiled here", built), ("hand-written", hand_names())):
        got = pysym_demangle(names)
        same, diff = compare(names, got, short=True)
        print("%s: short form identical %d/%d" % (label, same, len(names)))
        for n, r, g in diff[:10]:
            print("  %s\n    llvm:  %s\n    pysym: %s" % (n, r, g))


if __name__ == "__main__":
    main(sys.argv[1:])
