"""PE images and PDB files built here (clang-14 for the MSVC target with lld-link-14; the
mingw-w64 clang line for C++), read through the wasm module on every engine and compared
with llvm-symbolizer 19 (it reads the PDB natively) at every byte of ``.text``.

Function names of C++ frames are compared with ``> >`` written ``>>``: the Itanium
demangler prints templates as LLVM 14 does (tests/test_demangle.py), LLVM 19 closes them
without the space. That is the only normalisation.
"""

from __future__ import annotations

import bisect
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

import pysym

ROOT = Path(__file__).resolve().parent.parent
SYMBOLIZER19 = "/usr/lib/llvm-19/bin/llvm-symbolizer"
OBJDUMP19 = "/usr/lib/llvm-19/bin/llvm-objdump"
HAVE_MSVC_LINE = all(shutil.which(t) for t in ("clang-14", "lld-link-14"))
HAVE_ORACLE = os.path.exists(SYMBOLIZER19)

C_PROGRAM = r"""
struct point { int x, y; };
static inline int sq(int v) { return v * v; }
static inline int dist2(struct point a, struct point b) {
    int dx = a.x - b.x;
    int dy = a.y - b.y;
    return sq(dx) + sq(dy);
}
static int table[64];
__attribute__((noinline)) int fill(int n) {
    int s = 0;
    for (int i = 0; i < n && i < 64; i++) {
        struct point p = { i, i * 2 }, q = { n, 3 };
        table[i] = dist2(p, q);
        s += table[i];
    }
    return s;
}
__attribute__((noinline)) static int mix(int a, int b) {
    if (a > b) return sq(a - b) + fill(a);
    return sq(b - a) * 3 + fill(b);
}
__declspec(dllexport) int api_entry(int a) { return mix(a, 7) + fill(a & 15); }
/* 32-bit x86 decorates C names by calling convention (_f@8, @f@8, f@@8, _f) */
__attribute__((noinline)) int __stdcall std_step(int a, int b) { return table[a & 63] + b; }
__attribute__((noinline)) int __fastcall fast_step(int a, int b) { return std_step(b, a) * 3; }
__attribute__((noinline)) int __vectorcall vec_step(int a, int b) { return fast_step(a, b) - 1; }
__declspec(dllexport) int __stdcall api_std(int a, int b) { return vec_step(a, b) + 1; }
__declspec(dllexport) int __fastcall api_fast(int a) { return api_std(a, 2); }
int mainCRTStartup(void) { return api_entry(11) + api_fast(3); }
"""

CPP_PROGRAM = r"""
#include <vector>
#include <string>
#include <algorithm>
#include <map>
namespace geo {
struct Vec { double x, y; Vec operator+(const Vec& o) const { return {x + o.x, y + o.y}; }
             double dot(const Vec& o) const { return x * o.x + y * o.y; } };
template <typename T> class Acc { public: T total{}; void add(const T& v) { total = total + v; }
                                  T get() const { return total; } };
namespace { int hidden(int v) { return v * 7 % 13; } }
double length2(const std::vector<Vec>& vs) {
    Acc<Vec> a; for (auto& v : vs) a.add(v); Vec t = a.get(); return t.dot(t) + hidden((int)vs.size()); }
}
struct Counter { std::map<std::string, int> m; void bump(const std::string& k) { m[k]++; }
                 int get(const std::string& k) const { auto it = m.find(k); return it == m.end() ? 0 : it->second; } };
int work(int n) {
    std::vector<geo::Vec> vs;
    for (int i = 0; i < n; i++) vs.push_back({double(i), double(n - i)});
    std::sort(vs.begin(), vs.end(), [](const geo::Vec& a, const geo::Vec& b) { return a.x * b.y < b.x * a.y; });
    Counter c; for (int i = 0; i < n; i++) c.bump(std::to_string(i % 5));
    return (int)geo::length2(vs) + c.get("3");
}
int main(int argc, char** argv) { return work(argc * 10); }
"""


def _run(cmd: List[str], cwd: str) -> None:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, "%s failed:\n%s" % (" ".join(cmd), r.stderr[-2000:])


def _mingw_dir(triple: str) -> Optional[str]:
    base = "/usr/lib/gcc/%s" % triple
    if not os.path.isdir(base):
        return None
    for v in sorted(os.listdir(base), reverse=True):
        if v.endswith("-win32") and os.path.isdir(os.path.join(base, v, "include", "c++")):
            return os.path.join(base, v)
    return None


def build_c(tmp: str, arch: str, opt: str) -> Tuple[str, str]:
    """The image and its PDB; beside them the same object linked without debug information
    (``*_nodebug.exe``: only its exports name code)."""
    name = "prog_%s_%s" % (arch, opt)
    with open(os.path.join(tmp, "prog.c"), "w") as f:
        f.write(C_PROGRAM)
    # (with columns: clang writes CodeView columns only when asked)
    _run(["clang-14", "--target=%s-pc-windows-msvc" % arch, "-g", "-gcodeview", "-gcolumn-info", "-" + opt, "-c",
          "prog.c", "-o", name + ".obj"], tmp)
    link = ["lld-link-14", "/nodefaultlib", "/entry:mainCRTStartup", "/subsystem:console"]
    _run(link + ["/debug", "/out:%s.exe" % name, "/pdb:%s.pdb" % name, name + ".obj"], tmp)
    _run(link + ["/out:%s_nodebug.exe" % name, name + ".obj"], tmp)
    return os.path.join(tmp, name + ".exe"), os.path.join(tmp, name + ".pdb")


def build_cpp(tmp: str, arch: str, opt: str) -> Optional[Tuple[str, str]]:
    """A mingw C++ program with its PDB, and the image without the DWARF the mingw CRT
    brings (llvm-symbolizer reads DWARF, not the PDB, when an image has any)."""
    triple = "%s-w64-mingw32" % arch
    gcc = _mingw_dir(triple)
    lld = shutil.which("ld.lld-14") or shutil.which("ld.lld")
    if gcc is None or lld is None or not shutil.which("llvm-objcopy-14"):
        return None
    name = "cpp_%s_%s" % (arch, opt)
    with open(os.path.join(tmp, "cpp.cpp"), "w") as f:
        f.write(CPP_PROGRAM)
    _run(["clang++-14", "--target=" + triple, "-g", "-gcodeview", "-" + opt, "-fuse-ld=" + lld,
          "-isystem", gcc + "/include/c++", "-isystem", "%s/include/c++/%s" % (gcc, triple), "-L" + gcc,
          "-Wl,--pdb=%s.pdb" % name, "cpp.cpp", "-o", name + "_dwarf.exe"], tmp)
    _run(["llvm-objcopy-14", "--strip-debug", name + "_dwarf.exe", name + ".exe"], tmp)
    return os.path.join(tmp, name + ".exe"), os.path.join(tmp, name + ".pdb")


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Tuple[str, str]]:
    if not HAVE_MSVC_LINE:
        pytest.skip("clang-14 and lld-link-14 are needed (make test-tools)")
    tmp = str(tmp_path_factory.mktemp("pdb"))
    out: Dict[str, Tuple[str, str]] = {}
    for arch in C_ARCHS:
        for opt in ("O0", "O2"):
            out["c_%s_%s" % (arch, opt)] = build_c(tmp, arch, opt)
            cpp = build_cpp(tmp, arch, opt) if arch in CPP_ARCHS else None
            if cpp is not None:
                out["cpp_%s_%s" % (arch, opt)] = cpp
    return out


# (no mingw-w64 toolchain for arm64 in Debian: arm64 is C with lld-link only)
C_ARCHS = ("x86_64", "i686", "aarch64")
CPP_ARCHS = ("x86_64", "i686")
CASES = ["%s_%s_%s" % (lang, arch, opt) for lang, archs in (("c", C_ARCHS), ("cpp", CPP_ARCHS))
         for arch in archs for opt in ("O0", "O2")]
ARCH_NAMES = {"x86_64": "x86_64", "i686": "x86", "aarch64": "arm64"}


# Addresses compared per build: a sample keeps the suite quick; `make pdb-oracle` compares
# every byte of `.text` (PYSYM_PDB_ADDRESSES=0).
SAMPLE = int(os.environ.get("PYSYM_PDB_ADDRESSES", "3000")) or None


def _text_addresses(exe: str, limit: Optional[int] = SAMPLE) -> List[int]:
    out = subprocess.run([OBJDUMP19, "-h", exe], capture_output=True, text=True, check=True).stdout
    addrs: List[int] = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4 and f[1] == ".text":
            size, vma = int(f[2], 16), int(f[3], 16)
            addrs = list(range(vma, vma + size))
    if limit is not None and len(addrs) > limit:
        addrs = sorted(random.Random(1).sample(addrs, limit))
    return addrs


Frames = List[List[Tuple[str, str, int, int]]]
_ORACLE: Dict[Tuple[str, Tuple[int, ...]], Frames] = {}


def _oracle(exe: str, addrs: List[int]) -> Frames:
    """llvm-symbolizer 19's frames at `addrs` (asked once per image and addresses: each
    engine's run of a test compares with the same answers)."""
    key = (exe, tuple(addrs))
    if key not in _ORACLE:
        _ORACLE[key] = _run_oracle(exe, addrs)
    return _ORACLE[key]


def _run_oracle(exe: str, addrs: List[int]) -> Frames:
    # (run beside the image: the PDB path it names is the one lld wrote)
    r = subprocess.run([SYMBOLIZER19, "--obj=" + exe, "--inlines", "--demangle", "--output-style=JSON"],
                       input="\n".join(hex(a) for a in addrs), capture_output=True, text=True,
                       cwd=os.path.dirname(exe), check=True)
    out = []
    for line in r.stdout.splitlines():
        frames = [(s["FunctionName"], s["FileName"], s["Line"], s["Column"]) for s in json.loads(line)["Symbol"]]
        out.append([] if frames == [("", "", 0, 0)] else frames)
    return out


def _llvm19_style(name: str) -> str:
    return re.sub(r"> (?=>)", ">", name)


@pytest.mark.skipif(not HAVE_ORACLE, reason="llvm-symbolizer 19 is needed (make test-tools installs llvm-19)")
@pytest.mark.parametrize("case", CASES)
def test_agrees_with_llvm_symbolizer_19(case: str, built: Dict[str, Tuple[str, str]], engine: str,
                                        summary: List[str]) -> None:
    if case not in built:
        pytest.skip("mingw-w64 C++ toolchain not installed (make test-tools)")
    exe, pdb = built[case]
    image = pysym.Object.from_path(exe)
    sc = pysym.SymCache.from_object(pdb)
    addrs = _text_addresses(exe)
    ref = _oracle(exe, addrs)
    got = sc.lookup_many([a - image.image_base for a in addrs])
    n = len(addrs)
    assert n > 50
    same_line = same_depth = same_names = 0
    bad = []
    for a, r, g in zip(addrs, ref, got):
        gf = [(f.function or "", f.file or "", f.line or 0, f.column or 0) for f in g]
        if (r[0][1:] if r else None) == (gf[0][1:] if gf else None):
            same_line += 1
        elif len(bad) < 5:
            bad.append("%#x: llvm %s, pysym %s" % (a, r, gf))
        same_depth += len(r) == len(gf)
        same_names += [_llvm19_style(x[0]) for x in r] == [_llvm19_style(x[0]) for x in gf]
    summary.append("pdb %s on %s: %d addresses, file:line:column %.4f, depth %.4f, names %.4f"
                   % (case, engine, n, same_line / n, same_depth / n, same_names / n))
    assert same_line / n >= 0.995, "\n".join(bad)
    assert same_depth / n >= 0.995
    assert same_names / n >= 0.99
    if case.endswith("O2"):
        assert any(len(r) > 1 for r in ref), "no inlined code at -O2: the check checks nothing"
    if case.startswith("c_"):
        assert any(r and r[0][3] for r in ref), "no columns in the C build: the check checks nothing"
    if case.startswith("c_i686"):
        # the C decoration of 32-bit x86 (publics `_std_step@8`, `@fast_step@8`,
        # `vec_step@@8`) is taken off as llvm-symbolizer takes it off
        assert {"std_step", "fast_step", "vec_step", "api_std"} <= {f[0] for r in ref for f in r}


def _pdbutil_summary(pdb: str) -> Dict[str, str]:
    out = subprocess.run(["llvm-pdbutil-14", "dump", "-summary", pdb],
                         capture_output=True, text=True, check=True).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines()) if v}


def test_identities(built: Dict[str, Tuple[str, str]], engine: str) -> None:
    for case, (exe, pdb) in built.items():
        image, debug = pysym.Object.from_path(exe), pysym.Object.from_path(pdb)
        assert image.kind == "pe" and debug.kind == "pdb"
        arch = next(v for k, v in ARCH_NAMES.items() if "_%s_" % k in case)
        assert image.arch == debug.arch == arch
        s = _pdbutil_summary(pdb)
        guid = s["GUID"].strip("{}").lower()
        want = "%s-%x" % (guid, int(s["Age"]))
        assert debug.debug_id == image.debug_id == want, case
        assert image.debug_file is not None and image.debug_file.endswith(os.path.basename(pdb))
        with open(exe, "rb") as f:
            data = f.read()
        nt = struct.unpack_from("<I", data, 0x3C)[0]
        stamp = struct.unpack_from("<I", data, nt + 8)[0]
        size = struct.unpack_from("<I", data, nt + 24 + 56)[0]
        assert image.code_id == "%08x%x" % (stamp, size)
        assert image.image_base == (0x400000 if arch == "x86" else 0x140000000)
        assert debug.image_base == 0 and debug.code_id in (None, "")
        assert debug.has_debug_info and debug.has_symbols


@pytest.mark.skipif(not HAVE_ORACLE, reason="llvm-symbolizer 19 is needed (make test-tools installs llvm-19)")
@pytest.mark.parametrize("arch", C_ARCHS)
def test_pe_exports_without_pdb(arch: str, built: Dict[str, Tuple[str, str]], engine: str) -> None:
    """An MSVC-style image without debug information names its code by its exports (lld-link
    writes no COFF symbol table), as llvm-symbolizer 19 names it at every byte of `.text`:
    on 32-bit x86 without the C decoration of the export names (`_api_std@8`, `@api_fast@4`)."""
    exe = built["c_%s_O2" % arch][0].replace(".exe", "_nodebug.exe")
    image = pysym.Object.from_path(exe)
    assert image.has_symbols and not image.has_debug_info
    sc = pysym.SymCache.from_object(exe)
    out = subprocess.run([OBJDUMP19, "-p", exe], capture_output=True, text=True).stdout
    exports = re.findall(r"^\s*\d+\s+0x[0-9a-f]+\s+(\S+)$", out, re.M)
    want_exports = {"x86_64": {"api_entry", "api_std", "api_fast"}, "aarch64": {"api_entry", "api_std", "api_fast"},
                    "i686": {"api_entry", "_api_std@8", "@api_fast@4"}}[arch]
    assert set(exports) == want_exports, out[-2000:]
    addrs = _text_addresses(exe)
    ref = _oracle(exe, addrs)
    got = sc.lookup_many([a - image.image_base for a in addrs])
    pairs = [([f[0] for f in r], [f.function for f in g]) for r, g in zip(ref, got)]
    assert {"api_entry", "api_std", "api_fast"} <= {n for r, _ in pairs for n in r}
    bad = [(hex(a), r, g) for a, (r, g) in zip(addrs, pairs) if r != g]
    assert not bad, bad[:5]


# -- OMAP ---------------------------------------------------------------------------------

def _streams(data: bytes) -> List[Optional[bytes]]:
    bs, _, sizes, blocks = _msf(data)
    return [None if n == 0xFFFFFFFF else b"".join(data[b * bs:(b + 1) * bs] for b in bl)[:n]
            for n, bl in zip(sizes, blocks)]


def _with_streams(data: bytes, changed: Dict[int, bytes]) -> bytes:
    """The MSF file with streams replaced or added: their blocks, a new directory and its
    block map appended after the old blocks (the old ones stay, unreferenced)."""
    bs, _, sizes, blocks = _msf(data)
    out = bytearray(data)

    def alloc(payload: bytes) -> List[int]:
        got = []
        for i in range(0, len(payload), bs):
            while (len(out) // bs) % bs in (1, 2):  # free page map blocks
                out.extend(bytes(bs))
            got.append(len(out) // bs)
            out.extend(payload[i:i + bs].ljust(bs, b"\0"))
        return got

    sizes, blocks = list(sizes), list(blocks)
    for k, v in sorted(changed.items()):
        while len(sizes) <= k:
            sizes.append(0xFFFFFFFF)
            blocks.append([])
        sizes[k], blocks[k] = len(v), alloc(v)
    d = struct.pack("<%dI" % (len(sizes) + 1), len(sizes), *sizes)
    d += b"".join(struct.pack("<%dI" % len(b), *b) for b in blocks)
    dir_blocks = alloc(d)
    (map_block,) = alloc(struct.pack("<%dI" % len(dir_blocks), *dir_blocks))
    struct.pack_into("<II", out, 40, len(out) // bs, len(d))
    struct.pack_into("<I", out, 52, map_block)
    return bytes(out)


def _add_omap(pdb: bytes, to_src: List[Tuple[int, int]], from_src: List[Tuple[int, int]]) -> bytes:
    """The PDB with OMAP to and from source streams and original section headers (the
    image's: the rewrite moved code inside sections) named by the DBI optional debug header
    (entries 3, 4 and 10)."""
    streams = _streams(pdb)
    dbi = streams[3]
    assert dbi is not None
    n = struct.unpack_from("<i", dbi, 48)[0] // 2
    dbg = list(struct.unpack_from("<%dH" % n, dbi, len(dbi) - 2 * n)) + [0xFFFF] * max(0, 11 - n)
    headers = streams[dbg[5]]
    assert headers is not None
    k = len(streams)
    dbg[3], dbg[4], dbg[10] = k, k + 1, k + 2
    new_dbi = bytearray(dbi[:len(dbi) - 2 * n] + struct.pack("<%dH" % len(dbg), *dbg))
    struct.pack_into("<i", new_dbi, 48, 2 * len(dbg))

    def table(t: List[Tuple[int, int]]) -> bytes:
        return b"".join(struct.pack("<II", a, b) for a, b in t)

    return _with_streams(pdb, {3: bytes(new_dbi), k: table(to_src), k + 1: table(from_src), k + 2: headers})


def _swapped_pieces(text_rva: int, size: int, piece: int) -> List[Tuple[int, int]]:
    """OMAP to source of an image whose `.text` was rewritten by swapping neighbouring
    pieces of `piece` bytes: (image RVA, source RVA) from RVA 0; the tail stays."""
    m = size // piece - (size // piece) % 2
    out = [(0, 0)] + [(text_rva + j * piece, text_rva + (j ^ 1) * piece) for j in range(m)]
    return out + [(text_rva + m * piece, text_rva + m * piece)]


@pytest.mark.skipif(not HAVE_ORACLE, reason="llvm-symbolizer 19 is needed (make test-tools installs llvm-19)")
@pytest.mark.parametrize("case", ["c_x86_64_O2", "c_i686_O0"])
def test_omap(case: str, built: Dict[str, Tuple[str, str]], engine: str, tmp_path: "os.PathLike[str]") -> None:
    """No toolchain here writes OMAP, so a real PDB gets one: the image's `.text` is said to
    have been rewritten with neighbouring 16-byte pieces swapped (most functions are cut).
    At each image address pysym answers what llvm-symbolizer 19 answers for the original
    build at the source address OMAP to source gives. (llvm-symbolizer 19 itself ignores
    OMAP: on the rewritten PDB it answers as if there were none, so it cannot be the
    oracle on that file.) The same with the OMAP from source table out of order: sorted,
    with a warning."""
    exe, pdb = built[case]
    image = pysym.Object.from_path(exe)
    with open(pdb, "rb") as f:
        data = f.read()
    out = subprocess.run([OBJDUMP19, "-h", exe], capture_output=True, text=True, check=True).stdout
    (text_rva, size), = [(int(f[3], 16) - image.image_base, int(f[2], 16)) for f in map(str.split, out.splitlines())
                         if len(f) >= 4 and f[1] == ".text"]
    to_src = _swapped_pieces(text_rva, size, 16)
    from_src = sorted((s, i) for i, s in to_src)
    starts = [i for i, _ in to_src]

    def source(rva: int) -> int:
        i, s = to_src[bisect.bisect_right(starts, rva) - 1]
        return s + rva - i

    rvas = [a - image.image_base for a in _text_addresses(exe)]
    moved = [source(r) for r in rvas]
    want = [[(_llvm19_style(n), f, line, col) for n, f, line, col in w]
            for w in _oracle(exe, [image.image_base + m for m in moved])]
    same_place = _oracle(exe, [image.image_base + r for r in rvas])
    assert sum(a != b for a, b in zip(want, same_place)) > len(rvas) // 4, "the OMAP moves too little to check"
    swapped = list(from_src)
    swapped[1], swapped[2] = swapped[2], swapped[1]
    for name, table in (("omap.pdb", from_src), ("unordered.pdb", swapped)):
        path = os.path.join(str(tmp_path), name)
        with open(path, "wb") as f:
            f.write(_add_omap(data, to_src, table))
        sc = pysym.SymCache.from_object(path)
        assert any("out of order" in w for w in sc.warnings) == (table is swapped), sc.warnings
        got = [[(f.function or "", f.file or "", f.line or 0, f.column or 0) for f in g] for g in sc.lookup_many(rvas)]
        bad = [(hex(r), hex(m), w, g) for r, m, w, g in zip(rvas, moved, want, got) if w != g]
        assert not bad, bad[:5]


# -- bad inputs ---------------------------------------------------------------------------

def _msf(data: bytes) -> Tuple[int, int, List[int], List[List[int]]]:
    """(block size, directory offset in the file of its first block, stream sizes, blocks)."""
    bs, _, _, dir_bytes, _, map_addr = struct.unpack_from("<6I", data, 32)
    nblocks = (dir_bytes + bs - 1) // bs
    dir_blocks = struct.unpack_from("<%dI" % nblocks, data, map_addr * bs)
    d = b"".join(data[b * bs:(b + 1) * bs] for b in dir_blocks)[:dir_bytes]
    n = struct.unpack_from("<I", d, 0)[0]
    sizes = list(struct.unpack_from("<%dI" % n, d, 4))
    at = 4 + 4 * n
    blocks = []
    for s in sizes:
        k = 0 if s == 0xFFFFFFFF else (s + bs - 1) // bs
        blocks.append(list(struct.unpack_from("<%dI" % k, d, at)))
        at += 4 * k
    return bs, dir_blocks[0] * bs, sizes, blocks


def _module_stream(data: bytes) -> Tuple[int, int]:
    """(file offset of the first block, stream size) of the program's module stream (the
    first module with symbols)."""
    bs, _, sizes, blocks = _msf(data)
    dbi = b"".join(data[b * bs:(b + 1) * bs] for b in blocks[3])
    at = 64
    while True:
        stream = struct.unpack_from("<H", dbi, at + 34)[0]
        if stream != 0xFFFF and sizes[stream] > 64:
            return blocks[stream][0] * bs, sizes[stream]
        name_end = dbi.index(b"\0", at + 64)
        obj_end = dbi.index(b"\0", name_end + 1)
        at = (obj_end + 1 + 3) & ~3


def _records(data: bytes, start: int, limit: int) -> List[Tuple[int, int, int]]:
    """(offset, length, kind) of the symbol records at the start of a module stream block."""
    out = []
    at = start + 4
    while at + 4 <= start + limit:
        length, kind = struct.unpack_from("<HH", data, at)
        if length < 2:
            break
        out.append((at, length, kind))
        at += 2 + length
    return out


def _expect_error_or_partial(data: bytes, tmp: str, name: str) -> Optional[pysym.SymCache]:
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    try:
        return pysym.SymCache.from_object(path)
    except pysym.PysymError as e:
        assert not isinstance(e, pysym.SandboxError), e
        return None


def test_bad_msf(built: Dict[str, Tuple[str, str]], engine: str, tmp_path: "os.PathLike[str]") -> None:
    _, pdb = built["c_x86_64_O2"]
    with open(pdb, "rb") as f:
        good = f.read()
    tmp = str(tmp_path)
    bs, dir_at, sizes, blocks = _msf(good)
    # a block map past the end of the file
    bad = bytearray(good)
    struct.pack_into("<I", bad, 52, len(good) // bs + 100)
    with pytest.raises(pysym.InvalidInputError, match="past the end"):
        pysym.Object.from_bytes(bytes(bad))
    # a directory claiming 2^31 streams
    bad = bytearray(good)
    struct.pack_into("<I", bad, dir_at, 1 << 31)
    with pytest.raises(pysym.InvalidInputError, match="2147483648 streams"):
        pysym.Object.from_bytes(bytes(bad))
    # a stream whose blocks all name one block (a loop): bounded, typed or partial
    bad = bytearray(good)
    at = dir_at + 4 + 4 * len(sizes)
    for bl in blocks[:3]:
        at += 4 * len(bl)
    for i in range(len(blocks[3])):
        struct.pack_into("<I", bad, at + 4 * i, blocks[3][0])
    _expect_error_or_partial(bytes(bad), tmp, "loop.pdb")
    # a block number past the end in a stream's list
    bad = bytearray(good)
    struct.pack_into("<I", bad, at, 0x7FFFFFFF)
    with pytest.raises(pysym.InvalidInputError):
        pysym.Object.from_bytes(bytes(bad))
    # truncated files
    for n in (24, 40, 56, bs, 3 * bs, len(good) // 2):
        _expect_error_or_partial(good[:n], tmp, "cut%d.pdb" % n)


def test_bad_symbol_records(built: Dict[str, Tuple[str, str]], engine: str, tmp_path: "os.PathLike[str]") -> None:
    _, pdb = built["c_x86_64_O2"]
    with open(pdb, "rb") as f:
        good = f.read()
    tmp = str(tmp_path)
    start, size = _module_stream(good)
    bs = struct.unpack_from("<I", good, 32)[0]
    recs = _records(good, start, min(size, bs))
    procs = [r for r in recs if r[2] in (0x1110, 0x110F)]
    sites = [r for r in recs if r[2] == 0x114D]
    assert procs and sites, recs
    # a record of length 0 after the first procedure: the rest of the module is skipped
    bad = bytearray(good)
    struct.pack_into("<H", bad, procs[1][0] if len(procs) > 1 else sites[0][0], 0)
    sc = _expect_error_or_partial(bytes(bad), tmp, "zero.pdb")
    assert sc is not None and any("length 0" in w for w in sc.warnings), sc and sc.warnings
    # a record running past its stream
    bad = bytearray(good)
    struct.pack_into("<H", bad, sites[0][0], 0xFFF0)
    sc = _expect_error_or_partial(bytes(bad), tmp, "long.pdb")
    assert sc is not None and any("runs past" in w for w in sc.warnings), sc and sc.warnings
    # inline annotations running off the end: 0xC0 opens a 4-byte number
    bad = bytearray(good)
    at, length, _ = sites[0]
    for i in range(at + 16, at + 2 + length):
        bad[i] = 0xC0
    sc = _expect_error_or_partial(bytes(bad), tmp, "ann.pdb")
    assert sc is not None


def test_pe_module_symbolicated_from_a_symstore_of_pdbs(built: Dict[str, Tuple[str, str]], engine: str,
                                                       tmp_path: "os.PathLike[str]") -> None:
    """A Windows crash: a `pe` module (debug id and PDB name as the PE's RSDS record gives
    them) finds its PDB in a symstore tree (`app.pdb/<GUIDAGE>/app.pdb`) and answers as
    llvm-symbolizer 19 answers the image, at an image address of the crash's choosing."""
    if not HAVE_ORACLE:
        pytest.skip("llvm-symbolizer 19 is needed (make test-tools installs llvm-19)")
    exe, pdb = built["c_x86_64_O2"]
    pe = pysym.Object.from_path(exe)
    name = os.path.basename(pdb)
    store = os.path.join(str(tmp_path), "symstore")
    sig = pe.debug_id.replace("-", "").upper()  # GUID then age, as symstore names the folder
    os.makedirs(os.path.join(store, name, sig))
    shutil.copy(pdb, os.path.join(store, name, sig, name))
    sample = _text_addresses(exe, 400)
    addrs = [a for a, w in zip(sample, _oracle(exe, sample)) if w][::7][:40]
    assert len(addrs) >= 10
    want = _oracle(exe, addrs)
    image_addr = 0x7FF600000000
    request = {"modules": [{"type": "pe", "code_file": "C:\\app\\" + os.path.basename(exe), "debug_id": pe.debug_id,
                            "debug_file": pe.debug_file, "code_id": pe.code_id, "image_addr": hex(image_addr),
                            "image_size": 1 << 20}],
               # one thread per address: a thread's first frame is looked up at its own address
               "stacktraces": [{"frames": [{"instruction_addr": hex(image_addr + a - pe.image_base)}]} for a in addrs]}
    sym = pysym.Symbolicator([pysym.FilesystemStore(store, "symstore")], cache_dir=None)
    resp = sym.symbolicate(request)
    assert resp["modules"][0]["debug_status"] == "found", resp["modules"][0]
    got = [[(f.get("function"), f.get("lineno") or 0) for f in t["frames"]] for t in resp["stacktraces"]]
    assert got == [[(_llvm19_style(n), line) for n, _, line, _ in w] for w in want]
    assert {f["status"] for t in resp["stacktraces"] for f in t["frames"]} == {"symbolicated"}


def test_addr2line_finds_the_pdb_of_an_image(built: Dict[str, Tuple[str, str]], tmp_path: "os.PathLike[str]") -> None:
    """`pysym addr2line -e app.exe` answers from app.pdb beside the image, or found by debug
    id in a --store symstore when the image is alone, as llvm-symbolizer answers the image."""
    if not HAVE_ORACLE:
        pytest.skip("llvm-symbolizer 19 is needed (make test-tools installs llvm-19)")
    exe, pdb = built["c_x86_64_O2"]
    sample = _text_addresses(exe, 400)
    addrs = [a for a, w in zip(sample, _oracle(exe, sample)) if w][::9][:25]
    want = ["%s\n%s" % (_llvm19_style(w[0][0]), w[0][2]) for w in _oracle(exe, addrs)]

    def a2l(image: str, *extra: str) -> Tuple[List[str], str]:
        r = subprocess.run([sys.executable, "-m", "pysym", "addr2line", "-f", "-e", image, *extra,
                            *(hex(a) for a in addrs)], capture_output=True, text=True, check=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)))
        lines = r.stdout.splitlines()
        return ["%s\n%s" % (lines[i], lines[i + 1].rsplit(":", 1)[1].split()[0]) for i in range(0, len(lines), 2)], \
            r.stderr

    beside, err = a2l(exe)
    assert (beside, err) == (want, "")
    alone = os.path.join(str(tmp_path), "alone")
    os.makedirs(alone)
    shutil.copy(exe, alone)
    pe = pysym.Object.from_path(exe)
    store = os.path.join(str(tmp_path), "symstore")
    os.makedirs(os.path.join(store, os.path.basename(pdb), pe.debug_id.replace("-", "").upper()))
    shutil.copy(pdb, os.path.join(store, os.path.basename(pdb), pe.debug_id.replace("-", "").upper()))
    image = os.path.join(alone, os.path.basename(exe))
    stored, err = a2l(image, "--store", store + ":symstore")
    assert (stored, err) == (want, "")
    # an image naming a PDB that is nowhere (its RSDS path renamed): a warning, and the
    # exports answer
    data = open(exe, "rb").read()
    stem = os.path.basename(pdb).encode()
    assert data.count(stem) == 1
    with open(image, "wb") as f:
        f.write(data.replace(stem, b"z" * len(stem)))
    _, err = a2l(image)
    assert "no PDB" in err and "answering from its exports" in err
