"""zstd-compressed ELF debug sections (``SHF_COMPRESSED`` with ``ELFCOMPRESS_ZSTD``, issue 14).

Programs built here with ``gcc -g`` have their debug sections compressed by ``objcopy
--compress-debug-sections=zstd`` and ``=zlib``, and by ``ld --compress-debug-sections=zstd``
and ``=zlib`` (what ``gcc -gz=zstd`` asks the linker for; gcc 12 itself only knows zlib).
Every variant must give the same frames at every line-table address and the same
``Object`` identity as the uncompressed file, on every engine; the objcopy ones the same
symcache bytes too (the linked ones differ in their build ID only). The limits are the
zlib ones (``test_bad_inputs.py``): declared size, memory cap, a frame that produces more
or less than it declares. The decoder itself is compared with the ``zstd`` command in the
core's Rust tests (``wasm/core/src/zstd/tests.rs``).
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
from typing import Dict, List, Tuple

import pytest
from test_bad_inputs import TYPED, assert_alive, elf_sections
from test_native import C_SOURCE, CXX_SOURCE, DWARFDUMP, line_table_addresses

import pysym
from pysym import _host
from pysym._limits import Limits

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(os.path.dirname(HERE), "wasm", "fuzz", "corpus", "object")
OBJCOPY = shutil.which("objcopy")
ELFCOMPRESS_ZLIB, ELFCOMPRESS_ZSTD = 1, 2


def compression_types(path: str) -> Dict[str, int]:
    """``ch_type`` of every ``SHF_COMPRESSED`` section of a 64-bit little-endian ELF file."""
    data = open(path, "rb").read()
    return {s[5]: struct.unpack_from("<I", data, s[3])[0] for s in elf_sections(data) if s[2] & 0x800}


def _run(cmd: List[str], cwd: str) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Tuple[str, Dict[str, str]]]:
    """name -> {"plain", "zlib", "zstd", "ld-zstd"} -> path, for a C and a C++ program."""
    if OBJCOPY is None:
        pytest.fail("objcopy (binutils) is needed")
    tmp = str(tmp_path_factory.mktemp("zstd"))
    out: Dict[str, Tuple[str, Dict[str, str]]] = {}
    for name, src, compiler, flags in (
        ("c-O2", C_SOURCE, "gcc", ["-O2", "-g"]),
        ("cxx-O2", CXX_SOURCE, "g++", ["-O2", "-g", "-std=c++17"]),
    ):
        ext = ".c" if compiler == "gcc" else ".cc"
        with open(os.path.join(tmp, name + ext), "w") as f:
            f.write(src)
        plain = os.path.join(tmp, name)
        _run([compiler] + flags + ["-o", plain, name + ext], tmp)
        files = {"plain": plain}
        for kind in ("zlib", "zstd"):
            files[kind] = plain + "." + kind
            _run([OBJCOPY, "--compress-debug-sections=" + kind, plain, files[kind]], tmp)
        for kind in ("zlib", "zstd"):
            files["ld-" + kind] = plain + ".ld-" + kind
            link = "-Wl,--compress-debug-sections=" + kind
            _run([compiler] + flags + [link, "-o", files["ld-" + kind], name + ext], tmp)
        assert compression_types(plain) == {}
        for kind, want in (("zlib", ELFCOMPRESS_ZLIB), ("zstd", ELFCOMPRESS_ZSTD),
                           ("ld-zlib", ELFCOMPRESS_ZLIB), ("ld-zstd", ELFCOMPRESS_ZSTD)):
            types = compression_types(files[kind])
            assert ".debug_info" in types and ".debug_line" in types, (kind, types)
            assert set(types.values()) == {want}, (kind, types)
        out[name] = (plain, files)
    return out


def _frames(sc: pysym.SymCache, addrs: List[int]) -> List[List[Tuple[object, ...]]]:
    return [[(f.function, f.raw_function, f.file, f.line, f.column, f.sym_addr, f.inlined) for f in fs]
            for fs in sc.lookup_many(addrs)]


def _info(o: pysym.Object) -> Tuple[object, ...]:
    return (o.kind, o.arch, o.debug_id, o.code_id, o.image_base, o.has_debug_info, o.has_symbols)


@pytest.mark.skipif(DWARFDUMP is None, reason="llvm-dwarfdump missing (it lists the line-table addresses)")
@pytest.mark.parametrize("name", ["c-O2", "cxx-O2"])
def test_zstd_sections_answer_as_zlib(engine: str, variants: Dict[str, Tuple[str, Dict[str, str]]], name: str) -> None:
    plain, files = variants[name]
    addrs = line_table_addresses(plain)
    assert len(addrs) > 50
    want_info = _info(pysym.Object.from_path(plain))
    want_cache = pysym.SymCache.from_object(plain).to_bytes()
    want_frames = _frames(pysym.SymCache.from_bytes(want_cache), addrs)
    assert sum(1 for fs in want_frames if fs and fs[0][3]) > 0.9 * len(addrs)  # lines found
    ld_ids = set()
    for kind, path in files.items():
        data = open(path, "rb").read()
        info = _info(pysym.Object.from_path(path))
        assert _info(pysym.Object.from_bytes(data)) == info, kind
        if kind.startswith("ld-"):
            # Linked again: the build ID hashes the compressed sections, so it differs
            # from the plain file's (and between the two); nothing else may.
            assert info[:2] + info[4:] == want_info[:2] + want_info[4:], kind
            ld_ids.add(info[2:4])
        else:
            assert info == want_info, kind  # objcopy keeps the build ID
        # from a path: ranged reads; from bytes: the file in memory
        for source in (path, data):
            cache = pysym.SymCache.from_object(source)
            if not kind.startswith("ld-"):
                assert cache.to_bytes() == want_cache, kind
            assert _frames(cache, addrs) == want_frames, kind
    assert len(ld_ids) == 2 and want_info[2:4] not in ld_ids


# -- limits (the zlib bomb tests of test_bad_inputs.py, for zstd) ---------------------------


@pytest.fixture(scope="module")
def elf_zst() -> bytes:
    """``o0gz`` (the zlib seed) recompressed by ``objcopy --compress-debug-sections=zstd``."""
    return open(os.path.join(SEEDS, "o0zst"), "rb").read()


def rle_frame(size: int, byte: int = 0, declared: bool = True) -> bytes:
    """A zstd frame of RLE blocks (4 bytes per 128 KiB): a compression bomb."""
    if declared:
        head = struct.pack("<IBQ", 0xFD2FB528, 0xE0, size)  # single segment, 8-byte size
    else:
        head = struct.pack("<IBB", 0xFD2FB528, 0x00, 7 << 3)  # 128 KiB window, no size
    blocks = []
    while size > 0:
        n = min(size, 128 << 10)
        size -= n
        h = (1 if size == 0 else 0) | (1 << 1) | (n << 3)
        blocks.append(struct.pack("<I", h)[:3] + bytes([byte]))
    return head + b"".join(blocks)


def with_section(elf: bytes, name: str, declared: int, frame: bytes) -> bytes:
    """``elf`` with section ``name`` replaced by a zstd-compressed one appended at the end."""
    s = [s for s in elf_sections(elf) if s[5] == name][0]
    payload = struct.pack("<IIQQ", ELFCOMPRESS_ZSTD, 0, declared, 1) + frame
    data = bytearray(elf) + payload
    struct.pack_into("<QQ", data, s[0] + 8, s[2] | 0x800, 0)  # sh_flags |= SHF_COMPRESSED, sh_addr
    struct.pack_into("<QQ", data, s[0] + 24, len(elf), len(payload))
    return bytes(data)


def refused(data: bytes, cls: type) -> Exception:
    """``data`` must be refused with ``cls`` (never a trap); the runtime keeps working."""
    with pytest.raises(cls) as info:
        pysym.SymCache.from_object(data)
    assert not isinstance(info.value, pysym.SandboxError), info.value
    assert_alive()
    return info.value


def test_zstd_seed(engine: str, elf_zst: bytes) -> None:
    """The committed seed is zstd-compressed and answers as its zlib twin."""
    types = {s[5]: struct.unpack_from("<I", elf_zst, s[3])[0] for s in elf_sections(elf_zst) if s[2] & 0x800}
    assert types and set(types.values()) == {ELFCOMPRESS_ZSTD}
    gz = open(os.path.join(SEEDS, "o0gz"), "rb").read()
    assert pysym.SymCache.from_object(elf_zst).to_bytes() == pysym.SymCache.from_object(gz).to_bytes()


# -- the decoder in the module against the zstd command ----------------------------------

ZSTD = shutil.which("zstd")


def zstd_cli(data: bytes, *args: str) -> bytes:
    if ZSTD is None:  # a test dependency (Makefile APT_PACKAGES): never a silent pass
        pytest.fail("the zstd command is needed (apt-get install zstd)")
    return subprocess.run([ZSTD, *args, "-q", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout


def text(n: int, seed: int) -> bytes:
    """Compressible bytes: words with a skewed distribution, a few random bytes."""
    rng = random.Random(seed)
    words = [b"the ", b"DW_TAG_subprogram ", b"0x", b"\n", b"struct ", b"{ ", b"} ", b"int ", b"_Z3foo", b"a", b"e"]
    out = bytearray()
    while len(out) < n:
        out += words[min(rng.randrange(len(words)), rng.randrange(len(words)))]
        if rng.random() < 0.1:
            out.append(rng.randrange(256))
    return bytes(out[:n])


def payloads() -> List[Tuple[str, bytes, List[List[str]]]]:
    """(name, data, zstd argument lists: one frame each, concatenated)."""
    noise = random.Random(5).getrandbits(8 << 20).to_bytes(1 << 20, "little")
    mixed = b"".join(text(50_000, i) if i % 3 else noise[:50_000] for i in range(12))
    module = open(os.path.join(os.path.dirname(HERE), "pysym", "_wasm", "pysym.wasm"), "rb").read()
    return [
        ("text-1", text(1 << 20, 1), [["-1"]]),
        ("text-3-no-check", text(1 << 20, 2), [["-3", "--no-check"]]),
        ("text-19", text(300_000, 3), [["-19"]]),
        ("text-fast", text(500_000, 4), [["--fast=5"]]),
        ("long", text(3 << 20, 5), [["-3", "--long=25"]]),
        ("ultra-long", text(400_000, 6) * 3, [["--ultra", "-22", "--long=27"]]),
        ("incompressible", noise, [["-3"]]),
        ("zeros", bytes(4 << 20), [["-3"]]),
        ("mixed", mixed, [["-3"], ["-19"], ["-1", "--no-check"], ["-9"]]),
        ("module", module, [["-3"], ["-19", "--long=21"]]),
        ("threads", text(3 << 20, 7), [["-3", "-T2", "-B1048576"]]),
        ("tiny", b"x", [["-1"], ["-19"], ["-3"]]),
    ]


@pytest.fixture(scope="module")
def debug_str(elf_zst: bytes) -> Tuple[bytes, Tuple[int, int, int]]:
    """The seed's decompressed ``.debug_str`` (by the zstd command) and its section row."""
    s = [s for s in elf_sections(elf_zst) if s[5] == ".debug_str"][0]
    frame = elf_zst[s[3] + 24:s[3] + s[4]]
    return subprocess.run([ZSTD or "zstd", "-d", "-q", "-c"], input=frame, stdout=subprocess.PIPE,
                          check=True).stdout, (s[0], s[2], s[4])


def test_module_decoder_against_the_command(engine: str, elf_zst: bytes, debug_str: Tuple[bytes, object]) -> None:
    """The seed's ``.debug_str`` with megabytes appended (text, noise, zeros, the module
    itself), compressed by the zstd command at levels -5..22, --long, -T2, in one or many
    frames (every frame with its XXH64 checksum unless --no-check): the module decodes it
    to the declared size, the checksums match, and the symcache is the seed's, so the
    strings the DWARF uses came out right."""
    original = debug_str[0]
    want = pysym.SymCache.from_object(elf_zst).to_bytes()
    for name, payload, frames in payloads():
        plain = original + payload
        # split the section over the frames (the first frame holds the original strings)
        cuts = [0] + [len(original) + len(payload) * (i + 1) // len(frames) for i in range(len(frames))]
        z = b"".join(zstd_cli(plain[a:b], *args) for (a, b), args in zip(zip(cuts, cuts[1:]), frames))
        data = with_section(elf_zst, ".debug_str", len(plain), z)
        assert pysym.SymCache.from_object(data).to_bytes() == want, name
        # one byte short of the declared size: refused
        short = with_section(elf_zst, ".debug_str", len(plain) - 1, z)
        with pytest.raises(pysym.InvalidInputError):
            pysym.SymCache.from_object(short)


def test_zstd_bomb_declared_size(engine: str, elf_zst: bytes) -> None:
    comp = [s for s in elf_sections(elf_zst) if s[2] & 0x800]
    bad = bytearray(elf_zst)
    for s in comp:
        struct.pack_into("<Q", bad, s[3] + 8, 2 ** 40)  # Elf64_Chdr.ch_size
    refused(bytes(bad), pysym.ResourceLimitError)


def test_zstd_bomb_real(engine: str, elf_zst: bytes) -> None:
    """A section that really inflates past the memory cap: a typed limit error, before
    anything is decoded (the declared size is reserved first)."""
    size = 256 << 20
    data = with_section(elf_zst, ".debug_info", size, rle_frame(size))
    assert len(data) < len(elf_zst) + (16 << 10)
    rt = _host.Runtime(engine, limits=Limits(memory=64 << 20))
    # wasmer has no per-store memory cap (SECURITY.md): only the module's 1 GiB, under
    # which 256 MiB decodes; the zeros are then refused as DWARF.
    with pytest.raises(pysym.ResourceLimitError if engine == "wasmtime" else TYPED) as info:
        pysym.SymCache.from_object(data, runtime=rt)
    assert not isinstance(info.value, pysym.SandboxError), info.value
    assert_alive(rt)


def test_zstd_bomb_within_the_cap(engine: str, elf_zst: bytes) -> None:
    """A 64 MiB section of zeros from 2 KiB: decoded within the limits, then refused as
    DWARF (or read as nothing): a typed answer, and the runtime keeps working."""
    size = 64 << 20
    data = with_section(elf_zst, ".debug_str", size, rle_frame(size))
    rt = _host.Runtime(engine, limits=Limits(memory=256 << 20))
    try:
        pysym.SymCache.from_object(data, runtime=rt)
    except TYPED:
        pass
    assert_alive(rt)


@pytest.mark.parametrize("declared,produced,frame_says", [
    (1000, 2000, False),  # no content size in the frame: stopped at the declared size
    (1000, 2000, True),  # the frame says 2000: refused before decoding
    (2000, 1000, True),  # fewer bytes than the section header declares
    (2000, 1000, False),
])
def test_zstd_size_disagrees(engine: str, elf_zst: bytes, declared: int, produced: int, frame_says: bool) -> None:
    data = with_section(elf_zst, ".debug_info", declared, rle_frame(produced, declared=frame_says))
    err = refused(data, pysym.InvalidInputError)
    assert "decompress section .debug_info" in str(err)


def test_zstd_corrupt_frame(engine: str, elf_zst: bytes) -> None:
    """Every section's frame with one byte changed: a typed error or a result, never a
    trap; the runtime keeps working."""
    comp = [s for s in elf_sections(elf_zst) if s[2] & 0x800]
    for s in comp:
        for at in (24, 28, 30, s[4] // 2, s[4] - 5, s[4] - 1):
            if at >= s[4]:
                continue
            bad = bytearray(elf_zst)
            bad[s[3] + at] ^= 0x5A
            try:
                pysym.SymCache.from_object(bytes(bad))
            except TYPED:
                pass
    assert_alive()
