"""Partial results: a defect local to one part of a debug file skips that part.

Each test builds a normal C program (``good.c``: a function with two levels of inlined
code, and ``main``) beside a broken part (``victim.c``, or a hand-written section), then
damages that part: by assembling it with ``as`` or by patching bytes of the linked file.
Every line-table address of ``good.c``'s functions must resolve exactly as
llvm-symbolizer resolves it in the same damaged file (llvm-symbolizer 19 where installed,
else 14); the build must say what it skipped (``SymCache.warnings``). Before this, pysym
refused each of these files whole.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

import pysym

GCC = shutil.which("gcc")
AS = shutil.which("as")
CLANG = shutil.which("clang-14") or shutil.which("clang")
# llvm-symbolizer 19 is the oracle where the LLVM versions differ (README).
SYMBOLIZER = shutil.which("llvm-symbolizer-19") or shutil.which("llvm-symbolizer") or shutil.which("llvm-symbolizer-14")
DWARFDUMP = shutil.which("llvm-dwarfdump") or shutil.which("llvm-dwarfdump-14")

pytestmark = pytest.mark.skipif(None in (GCC, AS, SYMBOLIZER, DWARFDUMP),
                                reason="gcc, as, llvm-symbolizer and llvm-dwarfdump are needed")

GOOD_C = r"""
#include <stdio.h>
static inline int sq(int x) { return x * x; }
static inline int dist2(int a, int b) { return sq(a) + sq(b); }
__attribute__((noinline)) int nearest(int n, const int *xs) {
  int best = 1 << 30;
  for (int i = 0; i < n; i++) { int d = dist2(xs[i], i); if (d < best) best = d; }
  return best;
}
int victim_a(int); int victim_b(int);
int main(int argc, char **argv) {
  int xs[4] = {argc, 2, 3, 4};
  printf("%d %d %d\n", nearest(argc + 3, xs), victim_a(argc), victim_b(argc));
  return 0;
}
"""

VICTIM_C = r"""
static inline int cube(int x) { return x * x * x; }
__attribute__((noinline)) int victim_a(int v) { int s = 0; for (int i = 0; i < v; i++) s += cube(i + v); return s; }
__attribute__((noinline)) int victim_b(int v) { return cube(v) - victim_a(v - 1); }
"""

GOOD_FUNCTIONS = ("nearest", "main")

# A compilation unit with a header and no DIEs (unit_length 7), as in Xcode 8-era dSYMs.
HEADER_ONLY_S = """
.section .debug_info,"",@progbits
.long 7
.short 4
.long 0
.byte 8
.section .note.GNU-stack,"",@progbits
"""


def _run(cmd: Sequence[str], cwd: str) -> str:
    return subprocess.run(list(cmd), cwd=cwd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True).stdout


def build(tmp: str, *extra: str, flags: Sequence[str] = ("-O2", "-g")) -> str:
    """good.c + the extra objects + victim.c, linked into ``prog``. victim.c has a section
    per function: its unit's ranges are a list, its line program a sequence per function."""
    for name, text, more in (("good.c", GOOD_C, []), ("victim.c", VICTIM_C, ["-ffunction-sections"])):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
        _run([GCC, *flags, *more, "-c", name, "-o", name[:-2] + ".o"], tmp)
    _run([GCC, *flags, "good.o", *extra, "victim.o", "-o", "prog"], tmp)
    return os.path.join(tmp, "prog")


def section(path: str, name: str) -> Tuple[int, int]:
    """File offset and size of an ELF section (readelf)."""
    out = subprocess.run(["readelf", "-SW", path], check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    m = re.search(r"\]\s+%s\s+\S+\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)" % re.escape(name), out)
    assert m, name
    return int(m.group(1), 16), int(m.group(2), 16)


def dump(path: str, *args: str) -> str:
    return subprocess.run([DWARFDUMP, *args, path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          universal_newlines=True).stdout


def units(path: str) -> Dict[str, Tuple[int, str]]:
    """Per compilation unit name: its .debug_info offset and its llvm-dwarfdump text."""
    out = dump(path, "--debug-info")
    found = {}
    for block in re.split(r"\n(?=0x[0-9a-f]+: Compile Unit)", out):
        m = re.match(r"(0x[0-9a-f]+): Compile Unit", block.strip())
        name = re.search(r'DW_AT_name\s+\("([^"]+)"\)', block)
        if m and name:
            found[name.group(1)] = (int(m.group(1), 16), block)
    return found


def patch(path: str, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def good_addresses(path: str) -> List[int]:
    """The line-table addresses inside good.c's functions (ranges from the symbol table)."""
    nm = subprocess.run(["nm", "-S", path], check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    ranges = []
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] in GOOD_FUNCTIONS:
            lo = int(parts[0], 16)
            ranges.append((lo, lo + int(parts[1], 16)))
    assert len(ranges) == len(GOOD_FUNCTIONS)
    out = dump(path, "--debug-line")
    addrs = set()
    for m in re.finditer(r"^0x([0-9a-f]{16})((?:[ \t]+\d+){5,6})[ \t]*(.*)$", out, re.M):
        a = int(m.group(1), 16)
        if "end_sequence" not in m.group(3) and any(lo <= a < hi for lo, hi in ranges):
            addrs.add(a)
    assert len(addrs) > 10
    return sorted(addrs)


def symbolizer(path: str, addrs: List[int]) -> List[List[Tuple[str, str, int]]]:
    """llvm-symbolizer's frames (function, file, line), innermost first; its warnings about
    the damage go to stderr."""
    text = "".join("0x%x\n" % a for a in addrs)
    out = subprocess.run([SYMBOLIZER, "--obj=" + path, "--inlining", "--demangle", "--output-style=LLVM"],
                         input=text, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True).stdout
    result = []
    for block in out.split("\n\n")[: len(addrs)]:
        lines = block.strip("\n").split("\n")
        frames = []
        for i in range(0, len(lines) - 1, 2):
            loc = lines[i + 1].split(":")
            frames.append((lines[i], loc[0], int(loc[1]) if len(loc) > 1 else 0))
        result.append(frames)
    return result


def check_good_part(path: str, cache: pysym.SymCache) -> int:
    """Every line-table address of good.c's functions as llvm-symbolizer says; gives the
    number of addresses checked."""
    addrs = good_addresses(path)
    want = symbolizer(path, addrs)
    got = cache.lookup_many(addrs)
    for a, w, g in zip(addrs, want, got):
        mine = [(f.function or "??", f.file or "??", f.line or 0) for f in g]
        assert mine == w, hex(a)
    assert any(len(w) >= 3 for w in want)  # the two inline levels are among them
    return len(addrs)


def victim_symbols(path: str) -> Dict[str, int]:
    nm = subprocess.run(["nm", path], check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    return {p[2]: int(p[0], 16) for p in (line.split() for line in nm.splitlines())
            if len(p) == 3 and p[2] in ("victim_a", "victim_b")}


def build_partial(path: str) -> pysym.SymCache:
    cache = pysym.SymCache.from_object(path)
    assert cache.warnings, "a damaged file must say what was skipped"
    # The broken part still answers from the symbol table: its functions are named.
    for name, addr in victim_symbols(path).items():
        frames = cache.lookup(addr - cache.image_base)
        assert frames and frames[-1].function == name
    return cache


# -- DWARF ---------------------------------------------------------------------------


def test_header_only_units(engine: str, tmp_path: "os.PathLike[str]") -> None:
    tmp = str(tmp_path)
    for name in ("hdr1", "hdr2"):
        with open(os.path.join(tmp, name + ".s"), "w") as f:
            f.write(HEADER_ONLY_S)
        _run([AS, name + ".s", "-o", name + ".o"], tmp)
    path = build(tmp, "hdr1.o", "hdr2.o")
    cache = build_partial(path)
    good_len = struct.unpack_from("<I", open(path, "rb").read(), section(path, ".debug_info")[0])[0]
    first = good_len + 4
    assert cache.warnings == ("2 units skipped: missing top-level DIE at .debug_info+%#x (the first)" % first,)
    check_good_part(path, cache)
    # The victim unit after them is read whole.
    addr = victim_symbols(path)["victim_b"]
    assert any(f.function == "cube" and f.inlined for f in cache.lookup(addr + 4)) or \
        any(f.function == "victim_b" and f.file and f.file.endswith("victim.c") for f in cache.lookup(addr))


def test_malformed_unit(engine: str, tmp_path: "os.PathLike[str]") -> None:
    path = build(str(tmp_path))
    offset, _ = units(path)["victim.c"]
    # An unknown DWARF version: the unit is skipped whole, the next one found by its length.
    patch(path, section(path, ".debug_info")[0] + offset + 4, struct.pack("<H", 99))
    cache = build_partial(path)
    assert len(cache.warnings) == 1 and cache.warnings[0].startswith("1 unit skipped:")
    assert cache.warnings[0].endswith("at .debug_info+%#x" % offset)
    check_good_part(path, cache)
    # A length that cannot hold a unit header: what follows is not units.
    info = section(path, ".debug_info")[0]
    patch(path, info + offset, struct.pack("<I", 0))
    cache = build_partial(path)
    assert cache.warnings == ("1 trailing part of .debug_info skipped: unexpected end of input at .debug_info+%#x"
                              % offset,)
    check_good_part(path, cache)
    # Where that is the first unit, nothing of the DWARF is trusted: the file is refused.
    patch(path, info, struct.pack("<I", 0))
    with pytest.raises(pysym.InvalidInputError, match="malformed DWARF"):
        pysym.SymCache.from_object(path)


def test_bad_abbreviation_code(engine: str, tmp_path: "os.PathLike[str]") -> None:
    path = build(str(tmp_path))
    offset, text = units(path)["victim.c"]
    # The first subprogram DIE of the victim unit gets a code its abbreviations lack.
    die = int(re.search(r"\n(0x[0-9a-f]+):\s+DW_TAG_subprogram", text).group(1), 16)
    patch(path, section(path, ".debug_info")[0] + die, b"\x7f")
    cache = build_partial(path)
    assert cache.warnings == ("1 unit tail skipped: unknown abbreviation code at .debug_info+%#x" % die,)
    check_good_part(path, cache)


def _line_program_offset(text: str) -> int:
    return int(re.search(r"DW_AT_stmt_list\s+\((0x[0-9a-f]+)\)", text).group(1), 16)


def test_truncated_line_program(engine: str, tmp_path: "os.PathLike[str]") -> None:
    path = build(str(tmp_path))
    offset, text = units(path)["victim.c"]
    # The victim's line program claims more bytes than the section has.
    patch(path, section(path, ".debug_line")[0] + _line_program_offset(text), struct.pack("<I", 0xFFFFFF00))
    cache = build_partial(path)
    assert cache.warnings == ("1 line program skipped: unexpected end of input at the unit at .debug_info+%#x"
                              % offset,)
    check_good_part(path, cache)
    # Its functions are still known from its DIEs, without lines.
    frames = cache.lookup(victim_symbols(path)["victim_a"])
    assert frames[-1].function == "victim_a" and frames[-1].line is None


def test_garbled_line_program(engine: str, tmp_path: "os.PathLike[str]") -> None:
    path = build(str(tmp_path))
    offset, text = units(path)["victim.c"]
    start = section(path, ".debug_line")[0] + _line_program_offset(text)
    data = open(path, "rb").read()
    (unit_length,) = struct.unpack_from("<I", data, start)
    (header_length,) = struct.unpack_from("<I", data, start + 4 + 2 + 2)  # DWARF 5: address/segment sizes
    program = start + 4 + 2 + 2 + 4 + header_length
    # The second sequence's DW_LNE_set_address becomes an extended opcode whose length runs
    # past the program: the first sequence is kept, the rest skipped.
    first = data.index(b"\x00\x09\x02", program, start + 4 + unit_length)
    second = data.index(b"\x00\x09\x02", first + 11, start + 4 + unit_length)
    patch(path, second, b"\x00\xff\xff\x03")
    cache = build_partial(path)
    assert cache.warnings == ("1 line program skipped: unexpected end of input at .debug_line+%#x"
                              % _line_program_offset(text),)
    check_good_part(path, cache)
    # The first sequence (one function) still has its lines, the other function has none.
    lines = [cache.lookup(a)[-1].line for a in victim_symbols(path).values()]
    assert sorted(x is None for x in lines) == [False, True], lines


def test_bad_range_list(engine: str, tmp_path: "os.PathLike[str]") -> None:
    path = build(str(tmp_path))
    offset, text = units(path)["victim.c"]
    # A section per function: the unit's ranges are a list (DW_AT_ranges of its root DIE).
    root = re.split(r"\n(?=0x[0-9a-f]+:\s+DW_TAG_)", text)[1]
    m = re.search(r"DW_TAG_compile_unit.*?DW_AT_ranges\s+\((0x[0-9a-f]+)", root, re.S)
    assert m, "the victim unit has no range list"
    rnglists, size = section(path, ".debug_rnglists")
    target = int(m.group(1), 16)
    # Entries of an unknown kind from there on.
    patch(path, rnglists + target, b"\x7f" * min(16, size - target))
    cache = build_partial(path)
    assert cache.warnings and all(w.startswith("1 unit address range skipped:") for w in cache.warnings), cache.warnings
    check_good_part(path, cache)


def test_bad_location_list(engine: str, tmp_path: "os.PathLike[str]") -> None:
    """Location lists are not read for symbolication: a garbled one changes nothing."""
    path = build(str(tmp_path))
    before = pysym.SymCache.from_object(path).to_bytes()
    loclists, size = section(path, ".debug_loclists")
    patch(path, loclists + 12, b"\x7f" * (size - 12))
    cache = pysym.SymCache.from_object(path)
    assert cache.warnings == ()
    assert cache.to_bytes() == before
    check_good_part(path, cache)


def test_abstract_origin_outside_its_unit(engine: str, tmp_path: "os.PathLike[str]") -> None:
    path = build(str(tmp_path))
    offset, text = units(path)["victim.c"]
    info = section(path, ".debug_info")[0]
    data = open(path, "rb").read()
    # Every DW_AT_abstract_origin of the victim's inlined subroutines points past the section.
    patched = 0
    for m in re.finditer(r"\n(0x[0-9a-f]+):\s+DW_TAG_inlined_subroutine\s*\n\s+DW_AT_abstract_origin\s+\((0x[0-9a-f]+)",
                         text):
        die, target = int(m.group(1), 16), int(m.group(2), 16)
        ref = struct.pack("<I", target - offset)  # DW_FORM_ref4: relative to the unit
        at = data.index(ref, info + die + 1, info + die + 16)
        patch(path, at, struct.pack("<I", 0x7FFFFFF0))
        patched += 1
    assert patched
    cache = build_partial(path)
    assert len(cache.warnings) == 1 and cache.warnings[0].startswith("1 name reference skipped:"), cache.warnings
    check_good_part(path, cache)


# -- Breakpad ------------------------------------------------------------------------

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "native", "prog.sym"), encoding="utf-8") as _f:
    BREAKPAD_SYM = _f.read()


def test_breakpad_malformed_record_line(engine: str) -> None:
    """The oracle is the undamaged file (llvm-symbolizer does not read Breakpad)."""
    good = pysym.SymCache.from_object(BREAKPAD_SYM.encode())
    bad = BREAKPAD_SYM.replace("11d0 10 25 0", "11d0 10 zz 0").replace("PUBLIC 1200 0 _start", "PUBLIC 12x0 0 _start")
    cache = pysym.SymCache.from_object(bad.encode())
    assert cache.warnings == ("1 line skipped: bad address at line 25", "1 line skipped: bad line number at line 24")
    assert pysym.Object.from_bytes(bad.encode()).warnings == ("1 line skipped: bad address at line 25",)
    # Everything but main's last row and _start answers as before.
    addrs = [a for a in range(0x1100, 0x1300) if not 0x11d0 <= a < 0x11e0 and a < 0x1200]
    assert cache.lookup_many(addrs) == good.lookup_many(addrs)
    assert good.lookup(0x1210) and not cache.lookup(0x1210) or cache.lookup(0x1210) != good.lookup(0x1210)
    # No MODULE line: nothing is trustworthy.
    with pytest.raises(pysym.InvalidInputError):
        pysym.SymCache.from_object(b"MODULE Linux x86_64 nothex prog\n" + BREAKPAD_SYM.encode().split(b"\n", 1)[1])


# -- WebAssembly ---------------------------------------------------------------------

WASM_C = r"""
static inline int sq(int x) { return x * x; }
int f(int a) { return sq(a) + 1; }
int g(int a) { return f(a) * sq(a + 1); }
"""


def _leb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def custom(name: bytes, body: bytes, name_len: Optional[int] = None) -> bytes:
    payload = _leb(len(name) if name_len is None else name_len) + name + body
    return b"\0" + _leb(len(payload)) + payload


def wasm_sections(data: bytes) -> List[Tuple[int, int, int]]:
    """(id, contents offset, length) of each section."""
    out, pos = [], 8
    while pos < len(data):
        sid = data[pos]
        n, shift, pos = 0, 0, pos + 1
        while True:
            b = data[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        out.append((sid, pos, n))
        pos += n
    return out


@pytest.mark.skipif(CLANG is None, reason="clang is needed for wasm32")
def test_wasm_custom_sections(engine: str, tmp_path: "os.PathLike[str]") -> None:
    tmp = str(tmp_path)
    with open(os.path.join(tmp, "w.c"), "w") as f:
        f.write(WASM_C)
    _run([CLANG, "--target=wasm32", "-nostdlib", "-Wl,--no-entry", "-Wl,--export-all", "-O2", "-g",
          "w.c", "-o", "w.wasm"], tmp)
    path = os.path.join(tmp, "w.wasm")
    data = open(path, "rb").read()
    code = [s for s in wasm_sections(data) if s[0] == 10][0]
    uuid = bytes(range(0x20, 0x30))
    # A malformed custom section (its name runs past it), a name that is not UTF-8, an id
    # as wasm-split writes it (16 raw bytes), and where the DWARF is.
    damaged = (data + custom(b"x", b"", name_len=50) + custom(b"\xff\xfe", b"?")
               + custom(b"build_id", uuid) + custom(b"external_debug_info", _leb(16) + b"w.debug.wasm#abc"))
    o = pysym.Object.from_bytes(damaged)
    assert (o.code_id, o.debug_file, o.code_offset) == (uuid.hex(), "w.debug.wasm#abc", code[1])
    assert o.debug_id == "20212223-2425-2627-2829-2a2b2c2d2e2f"
    assert o.warnings == (
        "1 custom section skipped: name runs past the section at custom section at offset %#x" % (len(data) + 2),
        "1 custom section skipped: name is not UTF-8 at custom section at offset %#x" % (len(data) + 4 + 2))
    cache = pysym.SymCache.from_object(damaged)
    assert cache.warnings == o.warnings
    # The code answers as llvm-symbolizer answers the undamaged module (LLVM refuses the
    # damaged one: it has no partial reading of wasm sections).
    rows = re.finditer(r"^0x([0-9a-f]{16})((?:[ \t]+\d+){5,6})[ \t]*(.*)$", dump(path, "--debug-line"), re.M)
    addrs = sorted({int(m.group(1), 16) for m in rows if "end_sequence" not in m.group(3)})
    assert len(addrs) > 3
    want = symbolizer(path, addrs)
    got = cache.lookup_many(addrs)
    assert [[(f.function or "??", f.file or "??", f.line or 0) for f in g] for g in got] == want
    # A length-prefixed id (the tool conventions) reads the same.
    vec = pysym.Object.from_bytes(data + custom(b"build_id", _leb(16) + uuid))
    assert (vec.code_id, vec.debug_file, vec.warnings) == (uuid.hex(), None, ())


WASM_EXPORTS_C = r"""
__attribute__((noinline)) int g(int x) { return x * 7 + 1; }
__attribute__((noinline)) static int hidden(int x) { return g(x) ^ x; }
int f(int x) { return hidden(x) + g(x + 1); }
"""


WASM_OBJDUMP = shutil.which("llvm-objdump-14") or shutil.which("llvm-objdump")


@pytest.mark.skipif(CLANG is None or WASM_OBJDUMP is None, reason="clang and llvm-objdump are needed for wasm32")
def test_wasm_without_a_name_section_is_named_by_its_exports(engine: str, tmp_path: "os.PathLike[str]") -> None:
    """A stripped module (no `name` section, as release builds ship) answers its exported
    functions by their export names over the same ranges as llvm-objdump gives the
    functions of the unstripped twin; an unexported function stays unnamed.
    (llvm-symbolizer 19 answers ?? for wasm code without DWARF, so it cannot be the oracle.)"""
    tmp = str(tmp_path)
    with open(os.path.join(tmp, "w.c"), "w") as f:
        f.write(WASM_EXPORTS_C)
    flags = [CLANG, "--target=wasm32", "-nostdlib", "-Wl,--no-entry", "-Wl,--export=f", "-Wl,--export=g", "-O1"]
    _run(flags + ["w.c", "-o", "named.wasm"], tmp)
    _run(flags + ["-Wl,--strip-all", "w.c", "-o", "stripped.wasm"], tmp)
    named, stripped = os.path.join(tmp, "named.wasm"), os.path.join(tmp, "stripped.wasm")
    sections = wasm_sections(open(stripped, "rb").read())
    assert not any(sec[0] == 0 for sec in sections)  # no custom sections at all
    code_len = [sec for sec in sections if sec[0] == 10][0][2]
    starts = [(int(m.group(1), 16), m.group(2)) for m in re.finditer(r"^([0-9a-f]+) <([^>]+)>:$",
                                                                      _run([WASM_OBJDUMP, "-d", named], tmp), re.M)
              if m.group(2) != "CODE"]
    assert {n for _, n in starts} == {"f", "g", "hidden"}
    ends = [a for a, _ in starts[1:]] + [code_len]
    o = pysym.Object.from_path(stripped)
    assert (o.has_symbols, o.warnings) == (True, ())
    cache = pysym.SymCache.from_object(stripped)
    for (lo, name), hi in zip(starts, ends):
        got = cache.lookup_many(list(range(lo, hi)))
        want = [[name]] * (hi - lo) if name in ("f", "g") else [[]] * (hi - lo)
        assert [[fr.function for fr in g] for g in got] == want, name


# -- Mach-O subtypes -----------------------------------------------------------------

LIPO = shutil.which("llvm-lipo-14") or shutil.which("llvm-lipo")

MACHO_TARGETS = {
    "armv7": "armv7-apple-ios9", "armv7s": "armv7s-apple-ios9", "armv7k": "armv7k-apple-watchos2",
    "arm64": "arm64-apple-ios9", "arm64e": "arm64e-apple-ios14", "x86_64h": "x86_64h-apple-macos11",
    "x86_64": "x86_64-apple-macos11", "x86": "i386-apple-macos10.12",
}


@pytest.mark.skipif(CLANG is None or LIPO is None, reason="clang and llvm-lipo are needed for Mach-O")
def test_macho_subtypes(engine: str, tmp_path: "os.PathLike[str]") -> None:
    """Architectures as symbolic names them; the family names (and i386) still pick a slice."""
    tmp = str(tmp_path)
    with open(os.path.join(tmp, "m.c"), "w") as f:
        f.write("int f(int x) { return x + 1; }\n")
    objs = {}
    for arch, target in MACHO_TARGETS.items():
        objs[arch] = os.path.join(tmp, arch + ".o")
        _run([CLANG, "-target", target, "-g", "-c", "m.c", "-o", objs[arch]], tmp)
        o = pysym.Object.from_path(objs[arch])
        assert (o.kind, o.arch, o.warnings) == ("macho", arch, ())
        assert pysym.SymCache.from_object(objs[arch]).arch == arch
    fat = os.path.join(tmp, "fat.o")
    _run([LIPO, "-create", *(objs[a] for a in ("x86", "x86_64h", "armv7", "armv7s", "arm64e")), "-output", fat], tmp)
    picks = {"armv7s": "armv7s", "armv7": "armv7", "arm": "armv7", "arm64e": "arm64e", "arm64": "arm64e",
             "i386": "x86", "x86": "x86", "x86_64h": "x86_64h", "x86_64": "x86_64h", None: "x86_64h"}
    for want, got in picks.items():
        assert pysym.Object.from_path(fat, arch=want).arch == got, want
        assert pysym.SymCache.from_object(fat, arch=want).arch == got, want
    with pytest.raises(pysym.InvalidInputError, match="no armv7k slice"):
        pysym.Object.from_path(fat, arch="armv7k")


# -- Mach-O load commands ------------------------------------------------------------

MACHO_C = r"""
static inline int sq(int x) { return x * x; }
__attribute__((noinline)) int sum_sq(int n) { int s = 0; for (int i = 0; i < n; i++) s += sq(i); return s; }
int main(int argc, char **argv) { return sum_sq(argc) + sq(argc); }
"""


def load_commands(data: bytes) -> List[Tuple[int, int, int]]:
    """(offset, cmd, cmdsize) of a 64-bit little-endian Mach-O file's load commands."""
    ncmds = struct.unpack_from("<I", data, 16)[0]
    out, pos = [], 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, pos)
        out.append((pos, cmd, size))
        pos += size
    return out


@pytest.mark.skipif(CLANG is None, reason="clang is needed for Mach-O")
def test_macho_bad_load_command(engine: str, tmp_path: "os.PathLike[str]") -> None:
    tmp = str(tmp_path)
    with open(os.path.join(tmp, "m.c"), "w") as f:
        f.write(MACHO_C)
    _run([CLANG, "-target", "x86_64-apple-macos11", "-g", "-O1", "-c", "m.c", "-o", "m.o"], tmp)
    path = os.path.join(tmp, "m.o")
    data = open(path, "rb").read()
    rows = re.finditer(r"^0x([0-9a-f]{16})((?:[ \t]+\d+){5,6})[ \t]*(.*)$", dump(path, "--debug-line"), re.M)
    addrs = sorted({int(m.group(1), 16) for m in rows if "end_sequence" not in m.group(3)})
    assert len(addrs) > 5
    # The oracle is the undamaged object: LLVM refuses a Mach-O file with a bad load command.
    want = symbolizer(path, addrs)
    cmds = load_commands(data)
    symtab = [c for c in cmds if c[1] == 0x2][0]
    # The symbol table's offset past the end of the file: that command is skipped.
    bad = bytearray(data)
    struct.pack_into("<I", bad, symtab[0] + 8, len(data) + 0x1000)
    # A command whose size leaves the commands area: it and those after it are skipped
    # (the segment with the DWARF sections comes first).
    last = bytearray(data)
    struct.pack_into("<I", last, cmds[-1][0] + 4, 0x7FFFFFF0)
    for damaged, warning in ((bad, "1 load command skipped: symbol table past the end of the file at offset %#x"
                              % symtab[0]),
                             (last, "1 load command skipped: a size runs past the load commands at offset %#x"
                              % cmds[-1][0])):
        o = pysym.Object.from_bytes(bytes(damaged))
        assert (o.kind, o.arch, o.has_debug_info, o.warnings) == ("macho", "x86_64", True, (warning,))
        cache = pysym.SymCache.from_object(bytes(damaged))
        assert cache.warnings == (warning,)
        got = cache.lookup_many(addrs)
        assert [[(f.function or "??", f.file or "??", f.line or 0) for f in g] for g in got] == want
    assert pysym.Object.from_bytes(data).warnings == ()


def test_cli_prints_warnings(engine: str, tmp_path: "os.PathLike[str]") -> None:
    """`pysym object info` and `pysym symcache build` tell what was skipped on stderr."""
    import contextlib
    import io

    from pysym._cli import main

    path = os.path.join(str(tmp_path), "bad.sym")
    with open(path, "w") as f:
        f.write(BREAKPAD_SYM.replace("11d0 10 25 0", "11d0 10 zz 0")
                .replace("PUBLIC 1200 0 _start", "PUBLIC 12x0 0 _start"))
    for argv, lines in ((["object", "info", path], ["1 line skipped: bad address at line 25"]),
                        (["symcache", "build", path, "-o", os.path.join(str(tmp_path), "bad.symc")],
                         ["1 line skipped: bad address at line 25", "1 line skipped: bad line number at line 24"])):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert main(argv) == 0
        assert err.getvalue().splitlines() == ["pysym: warning: %s: %s" % (path, w) for w in lines], err.getvalue()
        assert out.getvalue()
