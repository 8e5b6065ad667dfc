"""Mach-O compact unwind (``__unwind_info``) through the module, on Mach-O files built here
with clang-14 and ld64.lld-19 (x86_64 and arm64). The decoding itself is checked in the
core's tests (wasm/core/src/unwind/compact_tests.rs: every encoding against
llvm-objdump-14 --unwind-info, and a synthetic stack laid out by the binaries' own
prologues walked frame by frame)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Dict

import pytest

import pysym
from pysym._symbolicate._minidump import build_cfi

TOOLS = ("clang-14", "ld64.lld-19", "llvm-objdump-14")
SOURCE = """
long g(long a) { return a * 3; }
long h(long a) { volatile char b[64]; b[0] = (char)a; return g(a) + b[0]; }
"""


def _need_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs %s (tools/provision.sh test-tools)" % missing)
        pytest.skip("needs %s" % missing)


def _build(tmp: Path, arch: str, unwind: bool) -> Path:
    src = tmp / "t.c"
    src.write_text(SOURCE)
    flags = [] if unwind else ["-fno-unwind-tables", "-fno-asynchronous-unwind-tables"]
    obj, out = tmp / ("%s-%d.o" % (arch, unwind)), tmp / ("%s-%d.dylib" % (arch, unwind))
    subprocess.run(["clang-14", "-target", "%s-apple-macos11" % arch, "-O2", *flags, "-c", str(src), "-o", str(obj)],
                   check=True)
    subprocess.run(["ld64.lld-19", "-arch", arch, "-platform_version", "macos", "11.0", "11.0", "-dylib",
                    "-o", str(out), str(obj)], check=True)
    return out


def _sections(path: Path) -> Dict[str, int]:
    """Section name → size, read from the Mach-O's load commands (64-bit, little-endian)."""
    data = path.read_bytes()
    assert struct.unpack_from("<I", data, 0)[0] == 0xFEEDFACF
    ncmds = struct.unpack_from("<I", data, 16)[0]
    at, out = 32, {}
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, at)
        if cmd == 0x19:  # LC_SEGMENT_64
            nsects = struct.unpack_from("<I", data, at + 64)[0]
            for i in range(nsects):
                s = at + 72 + 80 * i
                out[data[s:s + 16].rstrip(b"\0").decode()] = struct.unpack_from("<Q", data, s + 40)[0]
        at += size
    return out


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_unwind_info_is_unwind_information(engine: str, tmp_path: Path, arch: str) -> None:
    _need_tools()
    lib = _build(tmp_path, arch, unwind=True)
    secs = _sections(lib)
    assert secs.get("__unwind_info", 0) > 0
    obj = pysym.Object.from_path(lib)
    assert (obj.kind, obj.arch, obj.features["has_unwind_info"]) == ("macho", arch, True)
    cache, rows, warnings = build_cfi(str(lib), arch)
    # No FDEs here (__eh_frame holds a CIE only): one row per function entry with an encoding (the linker merges
    # neighbours with the same one), as llvm-objdump lists them.
    dump = subprocess.run(["llvm-objdump-14", "--unwind-info", str(lib)], check=True, capture_output=True,
                          text=True).stdout.split("Second level indices:")[1]
    encodings = [int(line.rsplit("=", 1)[1], 16) for line in dump.splitlines() if "encoding" in line]
    assert encodings
    assert cache[:4] == b"PYCF" and rows == len([e for e in encodings if e]) and warnings == []

    bare = _build(tmp_path, arch, unwind=False)
    assert "__unwind_info" not in _sections(bare) and "__eh_frame" not in _sections(bare)
    assert pysym.Object.from_path(bare).has_unwind_info is False


def test_damaged_unwind_info_keeps_the_rest(engine: str, tmp_path: Path) -> None:
    """An __unwind_info whose index count runs far past the section: a warning, and a cache
    all the same (the build does not fail)."""
    _need_tools()
    lib = _build(tmp_path, "x86_64", unwind=True)
    data = bytearray(lib.read_bytes())
    # The section's file offset from its header (offset field at +48 of the section_64).
    ncmds, at, off = struct.unpack_from("<I", data, 16)[0], 32, None
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, at)
        if cmd == 0x19:
            for i in range(struct.unpack_from("<I", data, at + 64)[0]):
                s = at + 72 + 80 * i
                if data[s:s + 16].rstrip(b"\0") == b"__unwind_info":
                    off = struct.unpack_from("<I", data, s + 48)[0]
        at += size
    assert off is not None
    struct.pack_into("<I", data, off + 24, 0x10000000)  # index count
    bad = tmp_path / "bad.dylib"
    bad.write_bytes(bytes(data))
    cache, rows, warnings = build_cfi(str(bad), "x86_64")
    assert cache[:4] == b"PYCF"
    assert any("__unwind_info" in w and "past the section" in w for w in warnings), warnings
