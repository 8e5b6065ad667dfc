"""Stack walking and ``process_minidump`` on real dumps.

- A multi-threaded program (tests/stackwalk: main with frame pointers, libwork.so with
  ``-fomit-frame-pointer``, worker threads parked in libc) crashed under lldb-14, which
  saves a minidump; lldb's own ``bt all`` of that dump is the oracle for the frames, and
  llvm-symbolizer-19 for the names of the inline chains (lldb 14 mislabels gcc's inlined
  frames).
- The Windows x86 dump of rust-minidump's test data with its Breakpad symbols
  (``STACK WIN``/``STACK CFI``) and the macOS x86_64 dump with its ``.sym``; expected
  answers read from the ``.sym`` files themselves (tests/data/minidump/PROVENANCE).
- Bad input: damaged CFI caches, walk inputs past their end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from stackwalk_helpers import LLDB, SYMBOLIZER, build_and_dump, lldb_backtraces, symbolizer, windows_dump

import pysym
from pysym import FilesystemStore, Symbolicator, SystemStore, _abi
from pysym._cli import main as cli_main
from pysym._symbolicate._minidump import CFI_VERSION, _OpenDump, build_cfi, walk_minidump

DATA = Path(__file__).parent / "data" / "minidump"

needs_lldb = pytest.mark.skipif(
    LLDB is None or SYMBOLIZER is None or shutil.which("gcc") is None,
    reason="needs lldb-14, llvm-19 and gcc (installed by `make test-tools`)")


class Dumped:
    def __init__(self, root: Path) -> None:
        self.dump = build_and_dump(root, threads=3)
        self.src = root / "src"
        self.lldb = lldb_backtraces(self.dump, self.src / "main")


@pytest.fixture(scope="module")
def dumped(tmp_path_factory: pytest.TempPathFactory) -> Dumped:
    if LLDB is None or shutil.which("gcc") is None:
        pytest.skip("needs lldb-14 and gcc")
    return Dumped(tmp_path_factory.mktemp("stackwalk"))


def _physical(frames: List[Dict[str, Any]]) -> List[List[Dict[str, Any]]]:
    groups: List[List[Dict[str, Any]]] = []
    for f in frames:
        if groups and groups[-1][0]["original_index"] == f["original_index"]:
            groups[-1].append(f)
        else:
            groups.append([f])
    return groups


def _alias(name: str) -> str:
    return re.sub(r"^(__GI_)?_*", "", name.split("@")[0])


def _compare(response: Dict[str, Any], lldb: List[List[Dict[str, Any]]]) -> Tuple[int, int, int]:
    """(lldb frames, of them found in pysym's frames in order with the same file and
    line, of them on the crashing thread and not found). Also checks every symbolicated
    inline chain of pysym against llvm-symbolizer-19."""
    traces = response["stacktraces"]
    assert len(traces) == len(lldb)
    mods = {m["image_addr"]: m for m in response["modules"]}
    starts = sorted((int(a, 16), m) for a, m in mods.items())
    total = found = crashed_missing = 0
    for st, ref in zip(traces, lldb):
        mine = st["frames"]
        for gi, group in enumerate(_physical(mine)):
            if group[0]["status"] != "symbolicated":
                continue
            addr = int(group[0]["instruction_addr"], 16)
            base, m = [s for s in starts if s[0] <= addr][-1]
            rel = addr - base - (0 if gi == 0 else 1)
            # libc's aliases: pysym may name the symbol (__GI___clone3,
            # pthread_barrier_wait@GLIBC_2.2.5) where llvm-symbolizer names the exported
            # alias (clone3): compared without the prefix and version.
            oracle = [(_alias(n), None if f == "??" else f, ln or None)
                      for n, f, ln in symbolizer(m["code_file"], rel) or []]
            got = [(_alias(f["function"]), f.get("filename"), f.get("lineno")) for f in group]
            assert got == oracle, (got, oracle)
        k = 0
        for r in ref:
            total += 1
            if r["line"] is None:
                key: Any = r["function"].split(" + ")[0]
                have = [f.get("function") for f in mine]
            else:
                key = (os.path.basename(r["file"]), r["line"])
                have = [(f.get("filename"), f.get("lineno")) for f in mine]
            j = k
            while j < len(mine) and have[j] != key:
                j += 1
            if j < len(mine):
                found += 1
                k = j + 1
            elif st.get("is_requesting"):
                crashed_missing += 1
    return total, found, crashed_missing


@needs_lldb
def test_lldb_dump_walk_matches_lldb(dumped: Dumped, engine: str, tmp_path: Path) -> None:
    sym = Symbolicator([SystemStore()], cache_dir=tmp_path / "cache")
    r = sym.process_minidump(str(dumped.dump))
    total, found, crashed_missing = _compare(r, dumped.lldb)
    assert crashed_missing == 0
    assert found >= 0.99 * total, (found, total)
    assert total >= 30
    assert r["crashed"] is True and r["crash_reason"] == "SIGSEGV"
    assert r["system_info"]["cpu_arch"] == "x86_64" and r["system_info"]["os_name"] == "Linux"
    crashed = [st for st in r["stacktraces"] if st["is_requesting"]]
    assert len(crashed) == 1
    frames = crashed[0]["frames"]
    # libwork.so has no frame pointers: its callers come from its CFI.
    names = [(f.get("function"), f.get("trust")) for f in frames]
    assert names[:6] == [("leaf_crash", "context"), ("middle", "cfi"), ("middle", "cfi"), ("middle", "cfi"),
                         ("middle", "cfi"), ("crash_via_work", "cfi")], names
    assert frames[6]["function"] == "main" and frames[6]["trust"] == "cfi"
    # _start's CFI marks the return address undefined: the walk ends there.
    assert frames[-1]["function"] == "_start" and frames[-1]["trust"] == "cfi"
    assert crashed[0]["registers"]["rip"] == frames[0]["instruction_addr"]
    by_file = {os.path.basename(m["code_file"]): m for m in r["modules"]}
    work = by_file["libwork.so"]
    assert (work["debug_status"], work["unwind_status"]) == ("found", "found")
    assert work["features"]["has_unwind_info"] is True
    libc = by_file["libc.so.6"]
    assert libc["unwind_status"] == "found"
    # Worker threads: parked in libc, reached through libc's CFI.
    for st in r["stacktraces"]:
        if st["is_requesting"]:
            continue
        fn = [f.get("function") for f in st["frames"]]
        # (in the barrier before park(), or in park(): the crash does not wait for them)
        assert "wait_deep" in fn and "worker" in fn and "start_thread" in fn, fn
        assert st["frames"][-1]["function"] == "__GI___clone3", fn
    # The CFI caches are in the cache directory, and a second Symbolicator reuses them.
    entries = list((tmp_path / "cache" / "cficaches" / ("v%d" % CFI_VERSION)).glob("*"))
    assert len([e for e in entries if e.is_file()]) >= 3
    again = Symbolicator([SystemStore()], cache_dir=tmp_path / "cache").process_minidump(dumped.dump.read_bytes())
    assert again["stacktraces"] == r["stacktraces"]


@needs_lldb
def test_without_debug_files_frame_pointers_and_scan(dumped: Dumped, engine: str) -> None:
    """No stores: every module is missing; the walk goes on by frame pointers and scanning,
    and frames keep their module and trust."""
    r = Symbolicator([]).process_minidump(str(dumped.dump))
    assert all(m["unwind_status"] == "missing" for m in r["modules"])
    crashed = [st for st in r["stacktraces"] if st["is_requesting"]][0]
    frames = crashed["frames"]
    assert frames[0]["trust"] == "context" and frames[0]["status"] == "missing"
    assert {f["trust"] for f in frames[1:]} <= {"fp", "scan"} and len(frames) > 2
    # libwork.so keeps main's frame pointer in rbp: the chain goes from leaf_crash to
    # main's caller in libc (the frames without a frame pointer are lost, and main's
    # with them: its return address is in main's own frame record).
    ref = dumped.lldb[0]
    libc_ret = [f["addr"] for f in ref if f["function"].startswith("__libc_start_call_main")]
    assert libc_ret and (frames[1]["instruction_addr"], frames[1]["trust"]) == ("0x%x" % libc_ret[0], "fp")
    assert all(f.get("package") for f in frames if f["status"] == "missing")


@needs_lldb
def test_cli_stackwalk(dumped: Dumped, engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["minidump", "stackwalk", str(dumped.dump), "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Operating system: Linux\n")
    assert "Crash reason:  SIGSEGV\n" in out
    assert re.search(r"Thread 0 \(crashed\)\n 0  libwork.so!leaf_crash \[work.c : 11 \+ 0x[0-9a-f]+\]\n"
                     r"    rax = 0x[0-9a-f]{16}", out), out
    assert "    Found by: given as instruction pointer in context\n" in out
    assert " 1  libwork.so!middle [work.c : 20 + " in out
    assert "    Found by: call frame info\n" in out
    assert cli_main(["minidump", "stackwalk", str(dumped.dump), "--brief", "--cache", str(tmp_path)]) == 0
    brief = capsys.readouterr().out
    assert "Thread 0 (crashed)" in brief and "Thread 1" not in brief and "Found by" not in brief
    assert cli_main(["minidump", "stackwalk", str(dumped.dump), "--json", "--cache", str(tmp_path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["stacktraces"][0]["frames"][0]["function"] == "leaf_crash"


def test_crash_details_and_32_bit_registers(engine: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """crash_details from what the dump holds: test.dmp's access violation parameters
    (kind 1 = write, then the address), invalid-parameter.dmp's assertion stream; the
    human output prints x86 registers 8 digits wide."""
    md = pysym.Minidump.from_path(DATA / "test.dmp")
    assert md.exception is not None and md.exception.parameters == [1, 0x45]
    r = Symbolicator([]).process_minidump(DATA / "test.dmp")
    assert r["crash_details"] == "attempted write to 0x45"
    a = pysym.Minidump.from_path(DATA / "invalid-parameter.dmp").document["assertion"]
    r = Symbolicator([]).process_minidump(DATA / "invalid-parameter.dmp")
    assert r["crash_details"] == "assertion failed: %s in %s (%s:%d)" % (
        a["expression"], a["function"], a["file"], a["line"]) and a["line"] == 32
    assert r["assertion"].startswith("format != nullptr common_vfprintf")
    linux = Symbolicator([]).process_minidump(DATA / "linux-mini.dmp")
    assert (linux["crash_reason"], linux["crash_details"]) == ("SIGSEGV", None)
    assert cli_main(["minidump", "stackwalk", str(DATA / "test.dmp"), "--store", str(DATA / "symbols"),
                     "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Crash details: attempted write to 0x45\n" in out
    eip, esp = md.exception.registers["eip"], md.exception.registers["esp"]  # the crashed thread's context
    assert "\n    eip = 0x%08x  esp = 0x%08x  ebp = " % (eip, esp) in out, out
    assert not re.search(r" = 0x[0-9a-f]{16}", out), out


def test_object_features_report_unwind_info(engine: str, tmp_path: Path) -> None:
    src = tmp_path / "f.c"
    src.write_text("int f(int x) { return x * 3; }\n")
    os.system("gcc -c -O2 -fasynchronous-unwind-tables %s -o %s" % (src, tmp_path / "with.o"))
    os.system("gcc -c -O2 -fno-asynchronous-unwind-tables -fno-unwind-tables %s -o %s" % (src, tmp_path / "without.o"))
    assert pysym.Object.from_path(tmp_path / "with.o").features["has_unwind_info"] is True
    assert pysym.Object.from_path(tmp_path / "without.o").has_unwind_info is False
    cache, rows, warnings = build_cfi(str(tmp_path / "with.o"))
    assert cache[:4] == b"PYCF" and rows >= 1 and warnings == []


def test_walk_input_checked(engine: str) -> None:
    dump = DATA / "linux-mini.dmp"
    if not dump.is_file():
        pytest.skip("fixture missing")
    with pytest.raises(pysym.PysymError, match="not a CFI cache"):
        walk_minidump(str(dump), [(0, b"garbage!" * 8)], pysym._host.get_runtime())
    with pytest.raises(pysym.PysymError, match="not in the dump"):
        walk_minidump(str(dump), [(10_000, build_cfi_empty())], pysym._host.get_runtime())
    # A cache of an older format (v1 has no .pdata rows) is refused, never misread.
    old = b"PYCF" + (1).to_bytes(4, "little") + build_cfi_empty()[8:]
    with pytest.raises(pysym.PysymError, match="format version 1"):
        walk_minidump(str(dump), [(0, old)], pysym._host.get_runtime())


def test_kept_dump_walks_as_a_fresh_parse(engine: str) -> None:
    """pysym_minidump_open keeps the parsed dump: walking it gives the document a walk that
    parses the dump again gives; another file, a stale handle and a double free are refused."""
    data = (DATA / "test.dmp").read_bytes()
    rt = pysym._host.get_runtime()
    opened = _OpenDump(data, rt)
    try:
        assert opened.md.document == pysym.Minidump.from_bytes(data).document
        assert opened.walk([]) == walk_minidump(data, [], rt)
        other = _OpenDump(data[:-1], rt)  # a dump cut by one byte still parses
        other.src, opened.src = opened.src, other.src
        with pytest.raises(pysym.PysymError, match="parsed from %d bytes" % len(data)):
            opened.walk([])
        opened.src, other.src = other.src, opened.src
        other.close()
        handle = opened.handle
    finally:
        opened.close()
    assert rt.call("pysym_minidump_free", handle) == _abi.BAD_HANDLE
    fh = rt.files.add(data)
    try:
        with pytest.raises(pysym.PysymError, match="no minidump with handle"):
            rt.check(rt.call("pysym_minidump_walk_open", fh, handle, rt.put_input(bytes(4)), 4, rt.out_slot))
    finally:
        rt.files.remove(fh)


class _CountingStore(FilesystemStore):
    def __init__(self, path: Path, negative_ttl: float) -> None:
        super().__init__(path, negative_ttl=negative_ttl)
        self.asked: List[str] = []

    def locations(self, module: Any) -> List[Any]:
        self.asked.append(module.code_file or "")
        return list(super().locations(module))


def test_missing_unwind_info_is_remembered_for_negative_ttl(engine: str, tmp_path: Path) -> None:
    """A module with no unwind file in the stores is not searched again on the next dump
    while the store's negative_ttl lasts (as debug files are); with a ttl of 0 it is."""
    data = (DATA / "linux-mini.dmp").read_bytes()
    for ttl in (300.0, 0.0):
        store = _CountingStore(tmp_path, negative_ttl=ttl)
        sym = Symbolicator([store])
        counts = []
        for _ in range(3):
            sym.process_minidump(data)
            counts.append(len(store.asked))
        first = counts[0]  # every module once for its debug file, once for unwind info
        assert first >= len(pysym.Minidump.from_bytes(data).modules) > 0
        assert counts == ([first] * 3 if ttl else [first, 2 * first, 3 * first]), (ttl, counts)


def build_cfi_empty() -> bytes:
    # The 48-byte header of an empty cache (FORMAT.md), arch x86_64.
    return b"PYCF" + CFI_VERSION.to_bytes(4, "little") + (2).to_bytes(4, "little") + bytes(36)


def _word(md: pysym.Minidump, data: bytes, addr: int, size: int) -> int:
    for r in md.memory_regions:
        if r.base <= addr and addr + size <= r.base + r.size:
            return int.from_bytes(data[r.file_offset + addr - r.base:][:size], "little")
    raise AssertionError("0x%x not saved in the dump" % addr)


def _sym_record(sym: Path, prefix: str, rel: int) -> str:
    """The ``prefix`` record of a .sym (``FUNC``, ``STACK WIN 4``, ``STACK CFI INIT``)
    covering module offset ``rel``."""
    for line in sym.read_text().splitlines():
        if line.startswith(prefix + " "):
            f = line[len(prefix) + 1:].split(" ")
            start, size = int(f[0], 16), int(f[1], 16)
            if start <= rel < start + size:
                return line
    raise AssertionError("no %s record at 0x%x" % (prefix, rel))


def test_windows_x86_dump_walks_by_stack_win(engine: str, tmp_path: Path) -> None:
    """test.dmp (Windows XP x86) with test_app.sym: its STACK WIN programs unwind
    test_app.exe; the expected frames are read off the .sym and the saved stack."""
    sym_path = DATA / "symbols" / "test_app.pdb" / "5A9832E5287241C1838ED98914E9B7FF1" / "test_app.sym"
    data = (DATA / "test.dmp").read_bytes()
    md = pysym.Minidump.from_bytes(data)
    r = Symbolicator([FilesystemStore(DATA / "symbols")], cache_dir=tmp_path).process_minidump(data)
    assert (r["crashed"], r["crash_reason"], r["crash_address"]) == (True, "EXCEPTION_ACCESS_VIOLATION_WRITE", "0x45")
    assert r["system_info"] == {"os_name": "Windows", "os_version": "5.1.2600", "os_build": "Service Pack 2",
                                "cpu_arch": "x86", "device_model": ""}
    st = r["stacktraces"][md.crashed_thread]  # type: ignore[index]
    assert st["is_requesting"]
    frames = st["frames"]
    regs = md.exception.registers  # type: ignore[union-attr]
    eip, ebp = regs["eip"], regs["ebp"]
    # Frame 0: the FUNC holding eip.
    func0 = _sym_record(sym_path, "FUNC", eip - 0x400000).split(" ", 4)[4]
    assert (frames[0]["function"], frames[0]["trust"]) == (func0, "context")
    assert frames[0]["instruction_addr"] == "0x%x" % eip
    # Frame 1: CrashFunction's STACK WIN 4 program sets $eip to [$ebp + 4] and $ebp to [$ebp].
    win = _sym_record(sym_path, "STACK WIN 4", eip - 0x400000)
    assert win.endswith("$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + = $L $T0 .cbSavedRegs - = "
                        "$P $T0 8 + .cbParams + =")
    ret1 = _word(md, data, ebp + 4, 4)
    assert (frames[1]["instruction_addr"], frames[1]["trust"]) == ("0x%x" % ret1, "cfi")
    assert frames[1]["function"] == _sym_record(sym_path, "FUNC", ret1 - 1 - 0x400000).split(" ", 4)[4] == "main"
    ebp1 = _word(md, data, ebp, 4)
    ret2 = _word(md, data, ebp1 + 4, 4)
    assert (frames[2]["instruction_addr"], frames[2]["function"], frames[2]["trust"]) == (
        "0x%x" % ret2, "__tmainCRTStartup", "cfi")
    # Frame 3 is in kernel32.dll, for which there are no symbols: found, but missing.
    assert frames[3]["status"] == "missing" and frames[3]["package"].lower().endswith("kernel32.dll")
    ebp2 = _word(md, data, ebp1, 4)
    assert frames[3]["instruction_addr"] == "0x%x" % _word(md, data, ebp2 + 4, 4)
    # Its frame pointer points at a zero frame pointer and a zero return address: the
    # thread's first frame. Nothing is scanned past it (it used to add three stale frames).
    ebp3 = _word(md, data, ebp2, 4)
    assert (_word(md, data, ebp3, 4), _word(md, data, ebp3 + 4, 4)) == (0, 0)
    assert len(frames) == 4 and "walk_stopped" not in st
    mods = {m["code_file"]: m for m in r["modules"]}
    assert (mods["c:\\test_app.exe"]["unwind_status"], mods["c:\\test_app.exe"]["debug_status"]) == ("found", "found")
    assert mods["C:\\WINDOWS\\system32\\kernel32.dll"]["unwind_status"] == "missing"


def test_macos_dump_walks_by_stack_cfi(engine: str, tmp_path: Path) -> None:
    """pipeline-inlines-macos-segv.dmp with crash-client.sym: STACK CFI unwinds the Rust
    program; INLINE records give the inline chains."""
    sym_path = DATA / "symbols" / "crash-client" / "509C0610949836F7B70BD88BCF03E5400" / "crash-client.sym"
    data = (DATA / "pipeline-inlines-macos-segv.dmp").read_bytes()
    md = pysym.Minidump.from_bytes(data)
    r = Symbolicator([FilesystemStore(DATA / "symbols")]).process_minidump(data)
    assert r["crash_reason"] == "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS"
    st = r["stacktraces"][md.crashed_thread]  # type: ignore[index]
    assert st["thread_name"] == "main"
    groups = _physical(st["frames"])
    assert md.exception is not None and md.exception.registers
    regs = md.exception.registers
    base = md.module_at(regs["rip"]).base  # type: ignore[union-attr]
    rel = regs["rip"] - base
    cfi = _sym_record(sym_path, "STACK CFI INIT", rel)
    assert ".cfa: $rbp 16 + $rbp: .cfa -16 + ^ .ra: .cfa -8 + ^" in cfi
    ret1 = _word(md, data, regs["rbp"] + 8, 8)
    assert groups[1][0]["instruction_addr"] == "0x%x" % ret1 and groups[1][0]["trust"] == "cfi"
    # The innermost frame: raise_segfault with write_volatile inlined into it (INLINE records).
    assert [f["function"] for f in groups[0]] == ["core::ptr::write_volatile::<u8>",
                                                  "sadness_generator::raise_segfault"]
    assert groups[1][-1]["function"] == "crash_client::main"
    assert [g[-1]["function"] for g in groups[2:6]] == [
        "std::sys_common::backtrace::__rust_begin_short_backtrace::<fn(), ()>",
        "std::rt::lang_start::<()>::{closure#0}", "std::rt::lang_start_internal", "main"]
    assert all(g[0]["trust"] == "cfi" for g in groups[1:6])
    mod = [m for m in r["modules"] if m["code_file"].endswith("/crash-client")][0]
    assert (mod["debug_status"], mod["unwind_status"], mod["features"]["has_unwind_info"]) == ("found", "found", True)
    # main returns into libdyld's start, the outermost frame: no scanned copy after it.
    # Above main's return address dyld left its local holding the same address, then its
    # first frame record (`pushq $0`) over argc; main saved that record's address as rbp.
    idx = [i for i, m in enumerate(md.modules) if m.code_file.endswith("/crash-client")][0]
    doc = walk_minidump(data, [(idx, build_cfi(str(sym_path))[0])], pysym._host.get_runtime())
    walked = doc["threads"][md.crashed_thread]
    last = walked["frames"][-1]
    pc, sp = int(last["pc"], 16), int(last["sp"], 16)
    dyld = md.module_at(pc)
    assert dyld is not None and dyld.code_file.endswith("/libdyld.dylib") and last["trust"] == "cfi"
    assert _word(md, data, sp - 8, 8) == pc and _word(md, data, sp - 16, 8) == sp + 8
    assert (_word(md, data, sp, 8), _word(md, data, sp + 8, 8), _word(md, data, sp + 16, 8)) == (pc, 0, 5)
    assert walked["stop"] == "end" and len(groups) == 7 and groups[-1][0]["trust"] == "cfi"


def test_crashpad_macos_walk_ends_at_libdyld_start(engine: str) -> None:
    """simple-crashpad.dmp (no unwind files: frame pointers): the same dyld layout as the
    macOS dump above main's return address (a stale copy of it, then dyld's zero frame
    record over argc): the walk ends at libdyld's start, no scanned copy after it."""
    data = (DATA / "simple-crashpad.dmp").read_bytes()
    md = pysym.Minidump.from_bytes(data)
    walked = walk_minidump(data, [], pysym._host.get_runtime())["threads"][0]
    last = walked["frames"][-1]
    pc, sp = int(last["pc"], 16), int(last["sp"], 16)
    dyld = md.module_at(pc)
    assert dyld is not None and dyld.code_file.endswith("/libdyld.dylib") and last["trust"] == "fp"
    assert _word(md, data, sp - 8, 8) == pc and _word(md, data, sp - 16, 8) == sp + 8
    assert (_word(md, data, sp, 8), _word(md, data, sp + 8, 8), _word(md, data, sp + 16, 8)) == (pc, 0, 1)
    assert walked["stop"] == "end" and len(walked["frames"]) == 4


@pytest.mark.parametrize("name", ["invalid-range.dmp", "invalid-record-count.dmp", "invalid-parameter.dmp",
                                  "linux-mini.dmp", "simple-crashpad.dmp"])
def test_other_dumps_give_partial_results(engine: str, name: str) -> None:
    """Malformed and symbol-less dumps: a response (frames by context, fp and scan, or
    none), or a typed error; never anything else."""
    data = (DATA / name).read_bytes()
    try:
        r = Symbolicator([]).process_minidump(data)
    except pysym.PysymError:
        return
    md = pysym.Minidump.from_bytes(data)
    assert len(r["stacktraces"]) == len(md.threads)
    for st, t in zip(r["stacktraces"], md.threads):
        frames = st["frames"]
        assert len({f["original_index"] for f in frames}) <= 256
        if frames:
            assert frames[0]["trust"] == "context"
            assert all(f["trust"] in ("cfi", "fp", "scan") for f in frames[1:])
        else:
            assert not t.registers or st.get("walk_stopped") in ("no_context", "unsupported_cpu")


def test_truncated_dump(engine: str) -> None:
    """Every prefix of a dump: a partial response or a typed error."""
    data = (DATA / "linux-mini.dmp").read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 23)):
        try:
            Symbolicator([]).process_minidump(data[:cut])
        except pysym.PysymError:
            pass


def test_watchdog_guards_the_walk_unwind_and_generated_file_exports(engine: str) -> None:
    """Watchdog mode (wasmer): building a CFI cache, walking a dump (parsed again or kept)
    and giving a map its generated file run first in the child, killed at the timeout."""
    if engine != "wasmer":
        pytest.skip("watchdog mode is for engines without fuel and deadlines (wasmer)")
    from pysym import _host, _watchdog

    guarded = {"pysym_unwind_build", "pysym_minidump_walk", "pysym_minidump_walk_open", "pysym_sourcemap_set_generated"}
    assert guarded <= _watchdog.HEAVY
    rt = _host.Runtime(engine, limits=pysym.Limits(timeout=60, watchdog=True))
    sym = DATA / "symbols" / "test_app.pdb" / "5A9832E5287241C1838ED98914E9B7FF1" / "test_app.sym"
    dump = str(DATA / "test.dmp")
    # In time: the same results as without the watchdog.
    cache, rows, _ = build_cfi(str(sym), runtime=rt)
    assert rows > 0 and rt._watchdog_proc is not None
    md = pysym.Minidump.from_path(dump)
    caches = [(next(i for i, m in enumerate(md.modules) if m.code_file.endswith("test_app.exe")), cache)]
    walked = walk_minidump(dump, caches, rt)
    assert walked == walk_minidump(dump, caches, pysym._host.get_runtime())
    assert len(walked["threads"][md.crashed_thread]["frames"]) == 4  # type: ignore[index]
    kept = _OpenDump(dump, rt)
    smap = json.dumps({"version": 3, "sources": ["a.js"], "names": ["run"], "mappings": "AAAA,SAASA"})
    sm = pysym.SourceMap.from_bytes(smap.encode(), runtime=rt)
    try:
        assert kept.walk(caches) == walked
        sm.set_generated_source("function run() { return 1 }\n")
        assert sm.function_names([0], [20]) == ["run"]
        # A timeout no child can meet: each call is stopped in the child, never run here.
        rt.limits = rt.limits.replace(timeout=1e-5)
        for name, call in [("pysym_unwind_build", lambda: build_cfi(str(sym), runtime=rt)),
                           ("pysym_minidump_walk", lambda: walk_minidump(dump, caches, rt)),
                           ("pysym_minidump_walk_open", lambda: kept.walk(caches)),
                           ("pysym_sourcemap_set_generated",
                            lambda: sm.set_generated_source("function other() { return 2 }\n"))]:
            with pytest.raises(pysym.TimeLimitError, match=name):
                call()
        rt.limits = rt.limits.replace(timeout=60)
        assert kept.walk(caches) == walked and sm.function_names([0], [20]) == ["run"]
    finally:
        kept.close()
        sm.close()


def _x86_walk(sym: str, eip: int, esp: int, stack: List[int]) -> List[Tuple[int, int, str]]:
    """Walks a one-thread x86 dump of module app.exe (0x400000) with ``sym`` as its
    unwind information: frames (pc, sp, trust)."""
    ctx = bytearray(716)
    struct.pack_into("<I", ctx, 0, 0x10007)
    struct.pack_into("<II", ctx, 184, eip, 0x1B)
    struct.pack_into("<II", ctx, 196, esp, 0x23)
    dump = windows_dump(0, (0x400000, 0x10000, "app.exe"), bytes(ctx), esp, struct.pack("<%dI" % len(stack), *stack))
    cache, _, warnings = build_cfi(sym.encode())
    assert warnings == []
    doc = walk_minidump(dump, [(0, cache)], pysym._host.get_runtime())
    return [(int(f["pc"], 16), int(f["sp"], 16), f["trust"]) for f in doc["threads"][0]["frames"]]


def test_stack_win_return_address_search(engine: str) -> None:
    """.raSearchStart / .raSearch: the first plausible return address within three words
    above esp + callee parameters + locals + saved registers (the sizes miss the padding
    of an aligned stack)."""
    real = DATA / "symbols" / "test_app.pdb" / "5A9832E5287241C1838ED98914E9B7FF1" / "test_app.sym"
    # test_app.sym's most common program (726 records)
    program = "$T2 $esp .cbLocals + .cbSavedRegs + = $T0 .raSearchStart = $eip $T0 ^ = $esp $T0 4 + ="
    assert sum(1 for ln in real.read_text().splitlines() if ln.endswith(" 1 " + program)) == 726
    head = ("MODULE windows x86 0123456789ABCDEF0123456789ABCDEF1 app.pdb\n"
            "FUNC 1000 100 0 inner\nFUNC 2000 100 0 outer\n")
    esp = 0x10000
    # locals (4 bytes), saved registers (8), a padding word, then the return address into outer
    stack = [0x11111111, 0x22222222, 0x33333333, 0x44444444, 0x402010] + [0] * 8
    for prog in (program, "$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + ="):
        sym = head + "STACK WIN 4 1000 100 0 0 0 8 4 0 1 %s\nSTACK WIN 4 2000 100 0 0 0 0 0 0 1 %s\n" % (prog, prog)
        frames = _x86_walk(sym, 0x401010, esp, stack)
        # (without the search: eip 0x44444444, not plausible, and the caller only found by scanning)
        assert frames == [(0x401010, esp, "context"), (0x402010, esp + 20, "cfi")], (prog, frames)
    # An FPO record (no program) in the first frame whose top word is the context's eip (a
    # call just pushed it): that word is skipped.
    sym = head + "STACK WIN 0 1000 100 0 0 0 0 0 0 0 0\nSTACK WIN 4 2000 100 0 0 0 0 0 0 1 %s\n" % program
    frames = _x86_walk(sym, 0x401010, esp, [0x401010, 0x402010] + [0] * 8)
    assert frames == [(0x401010, esp, "context"), (0x402010, esp + 8, "cfi")], frames
