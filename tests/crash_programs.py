"""The crash test program of tests/crash (main, libone.so, libtwo.so) built with -g -O2,
and what tests and benchmarks read from ELF files with binutils: build ids, load spans,
function symbols, detached debug files in a ``.build-id`` store.

Used by tests/test_crash.py, tests/test_batch.py and bench/bench_crash.py."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import List, Tuple

SOURCES = Path(__file__).resolve().parent / "crash"
PROGRAMS = ("main", "libone.so", "libtwo.so")


def run(cmd: List[str], cwd: Path) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


def build_programs(src: Path) -> Path:
    """Copies tests/crash to ``src`` and builds its three programs there (``$ORIGIN`` rpath,
    so ``main`` runs from ``src``); returns ``src``."""
    shutil.copytree(SOURCES, src)
    run(["g++", "-g", "-O2", "-fPIC", "-shared", "two.cpp", "-o", "libtwo.so"], src)
    run(["gcc", "-g", "-O2", "-fPIC", "-shared", "one.c", "-o", "libone.so", "-L.", "-ltwo",
         "-Wl,-rpath,$ORIGIN"], src)
    run(["gcc", "-g", "-O2", "main.c", "-o", "main", "-L.", "-lone", "-ltwo", "-Wl,-rpath,$ORIGIN"], src)
    return src


def build_id(path: "Path | str") -> str:
    m = re.search(r"Build ID: ([0-9a-f]+)", run(["readelf", "-nW", str(path)], Path("/")))
    if not m:
        raise RuntimeError("no build id in %s" % path)
    return m.group(1)


def store_path(store: Path, bid: str) -> Path:
    """Where a ``.build-id`` store keeps the debug file of a build id."""
    return store / ".build-id" / bid[:2] / (bid[2:] + ".debug")


def keep_debug(binary: "Path | str", store: Path) -> Path:
    """Moves a copy of ``binary``'s debug information into ``store`` (objcopy
    --only-keep-debug), under its build id; returns the debug file."""
    dst = store_path(store, build_id(binary))
    dst.parent.mkdir(parents=True, exist_ok=True)
    run(["objcopy", "--only-keep-debug", str(binary), str(dst)], Path("/"))
    return dst


def load_span(path: "Path | str") -> Tuple[int, int]:
    """(virtual address the image starts at, its size) from the LOAD segments: non-PIE
    executables (Debian's python3.11) start at 0x400000, and a load address maps that, not 0."""
    start, end = None, 0
    for line in run(["readelf", "-lW", str(path)], Path("/")).splitlines():
        p = line.split()
        if p and p[0] == "LOAD":
            v = int(p[2], 16)
            start = v if start is None else min(start, v)
            end = max(end, v + int(p[5], 16))
    s = (start or 0) & ~0xFFF
    return s, end - s


def functions(path: "Path | str") -> List[Tuple[int, int]]:
    """(address, size) of every defined function symbol longer than one byte (nm -S)."""
    out = []
    for line in run(["nm", "-S", "--defined-only", str(path)], Path("/")).splitlines():
        p = line.split()
        if len(p) == 4 and p[2] in "tTwW" and int(p[1], 16) > 1:
            out.append((int(p[0], 16), int(p[1], 16)))
    return out
