"""Whole native crashes: a real program crashed under lldb-14, symbolicated from stores.

The program (tests/crash: main -> libone.so -> libtwo.so, C and C++, -g -O2) crashes in
libtwo.so inside two inlined calls.  lldb-14 runs it in batch mode and records the
loaded modules and its own backtrace; the binaries are then stripped and their debug
info moved into a GDB ``.build-id`` tree and a symstore tree.  The request built from
lldb's module list is symbolicated by pysym and compared frame by frame with lldb's
file and line; function names are compared with llvm-symbolizer-19 (lldb 14 drops the
namespace of gcc's inlined C++ frames), and libc frames resolve through Debian's
libc6-dbg ``/usr/lib/debug/.build-id``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import pytest
from crash_programs import PROGRAMS, build_id, build_programs, load_span, run

import pysym
from pysym import FilesystemStore, InvalidInputError, Module, RequestTooLargeError, Symbolicator, SystemStore
from pysym._cli import main as cli_main
from pysym._symbolicate import caller_address, symcache_version
from pysym._symbolicate._stores import layout_locations

ROOT = Path(__file__).resolve().parent.parent
LLDB = shutil.which("lldb-14")
SYMBOLIZER = shutil.which("llvm-symbolizer-19")

needs_lldb = pytest.mark.skipif(
    LLDB is None or SYMBOLIZER is None or not Path("/usr/lib/debug/.build-id").is_dir(),
    reason="needs lldb-14, llvm-19 and libc6-dbg (installed by `make test-tools`)")


class Crash:
    """The built program, lldb's record of its crash, and the stores."""

    def __init__(self, root: Path) -> None:
        self.root = root
        src = self.src = build_programs(root / "src")
        self.ids = {n: build_id(src / n) for n in PROGRAMS}
        out = subprocess.run([LLDB, "-b", "-o", "run", "-k", "image list", "-k", "bt", "--", "./main"],  # type: ignore[list-item]
                             cwd=src, capture_output=True, text=True, timeout=120).stdout
        self.lldb_output = out
        self.modules, self.frames = self._parse_lldb(out)
        # Stripped binaries; debug info in a .build-id tree and a symstore tree.
        self.bin = root / "bin"
        self.bin.mkdir()
        self.buildid = root / "buildid"
        self.symstore = root / "symstore"
        for n in PROGRAMS:
            b = self.ids[n]
            dbg = self.buildid / ".build-id" / b[:2] / (b[2:] + ".debug")
            dbg.parent.mkdir(parents=True, exist_ok=True)
            run(["objcopy", "--only-keep-debug", n, str(dbg)], src)
            run(["strip", "--strip-all", n, "-o", str(self.bin / n)], src)
            run(["objcopy", "--add-gnu-debuglink=" + str(dbg), str(self.bin / n)], src)
            ss = self.symstore / "_.debug" / ("elf-buildid-sym-" + b) / "_.debug"
            ss.parent.mkdir(parents=True)
            shutil.copy(dbg, ss)

    def _parse_lldb(self, out: str) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
        modules = []
        for m in re.finditer(r"^\[\s*\d+\] ([0-9A-F-]+) 0x([0-9a-f]+) (\S+)", out, re.M):
            uuid, addr, path = m.groups()
            if not path.startswith("/"):
                continue  # [vdso]
            modules.append({
                "type": "elf", "code_id": uuid.replace("-", "").lower(), "image_addr": "0x" + addr,
                "image_size": load_span(path)[1], "code_file": path, "debug_file": path,
            })
        frames = []
        bt = out[out.index("(lldb) bt"):]
        for m in re.finditer(r"frame #(\d+): 0x([0-9a-f]+) (\S+?)`(.*?)(?: at ([^\s:]+):(\d+)(?::\d+)?)?$", bt, re.M):
            _n, addr, module, func, file, line = m.groups()
            if "[artificial]" in func:
                continue  # a tail call's frame, not a return address (lldb and gdb show them)
            frames.append({"addr": int(addr, 16), "module": module, "function": func,
                           "file": file, "line": int(line) if line else None,
                           "inlined": "[inlined]" in func})
        return modules, frames

    def request(self, **options: Any) -> Dict[str, Any]:
        addrs: List[int] = []
        for f in self.frames:
            if not addrs or addrs[-1] != f["addr"] or not f["inlined"] and not self._same_chain(f):
                addrs.append(f["addr"])
        return {
            "stacktraces": [{"frames": [{"instruction_addr": hex(a)} for a in addrs], "crashed": True}],
            "modules": [dict(m) for m in self.modules],
            "options": options,
        }

    def _same_chain(self, f: Dict[str, Any]) -> bool:
        # lldb repeats the address for each inline level: the non-inlined frame closes it.
        i = self.frames.index(f)
        return i > 0 and self.frames[i - 1]["addr"] == f["addr"] and self.frames[i - 1]["inlined"]

    def lldb_groups(self) -> List[List[Dict[str, Any]]]:
        groups: List[List[Dict[str, Any]]] = []
        for f in self.frames:
            if groups and groups[-1][-1]["addr"] == f["addr"] and groups[-1][-1]["inlined"]:
                groups[-1].append(f)
            else:
                groups.append([f])
        return groups


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Crash:
    if LLDB is None:
        pytest.skip("lldb-14 is not installed")
    c = Crash(tmp_path_factory.mktemp("crash"))
    assert c.frames, c.lldb_output
    assert "SIGSEGV" in c.lldb_output
    return c


def _symbolizer(path: Path, addr: int) -> List[Tuple[str, str, int]]:
    out = subprocess.run([SYMBOLIZER, "--inlining", "--relative-address", "-e", str(path), hex(addr)],  # type: ignore[list-item]
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()
    res = []
    for name, loc in zip(out[0::2], out[1::2]):
        file, line = loc.rsplit(":", 2)[0], loc.rsplit(":", 2)[1]
        res.append((name, os.path.basename(file), int(line)))
    return res


def _groups(response: Dict[str, Any]) -> List[List[Dict[str, Any]]]:
    groups: List[List[Dict[str, Any]]] = []
    for f in response["stacktraces"][0]["frames"]:
        if groups and groups[-1][0]["original_index"] == f["original_index"]:
            groups[-1].append(f)
        else:
            groups.append([f])
    return groups


def _check_against_lldb(c: Crash, response: Dict[str, Any]) -> int:
    """Asserts every frame lldb symbolicates; returns how many lldb frames were compared.

    Per input address: pysym's whole chain (function, file, line per inline level) must
    equal llvm-symbolizer-19's, and lldb's frames must be in it, in order, with the same
    file and line (a subsequence: lldb 14 can drop an inline level).  Artificial
    (tail-call) frames of lldb are not return addresses and were left out when parsing.
    """
    ours = _groups(response)
    theirs = c.lldb_groups()
    assert len(ours) == len(theirs)
    by_name = {os.path.basename(m["code_file"]): m for m in c.modules}
    compared = 0
    for gi, (mine, ref) in enumerate(zip(ours, theirs)):
        assert all(f["status"] == "symbolicated" for f in mine), mine
        module = by_name[ref[0]["module"]]
        if ref[0]["line"] is None:
            # lldb knows the symbol only (_start): the name must agree.
            assert [f["function"] for f in mine] == [r["function"].split(" + ")[0] for r in ref]
            compared += len(ref)
            continue
        rel = ref[0]["addr"] - int(module["image_addr"], 16)
        oracle = _symbolizer(Path(module["code_file"]), rel if gi == 0 else rel - 1)
        # libc's symbol table names versioned aliases (__libc_start_main@GLIBC_2.2.5),
        # which pysym reports as stored and llvm-symbolizer without the version.
        assert [(f["function"].split("@")[0], f["filename"], f["lineno"]) for f in mine] == oracle, (mine, oracle)
        k = 0
        for r in ref:
            want = (os.path.basename(r["file"]), r["line"])
            while k < len(mine) and (mine[k]["filename"], mine[k]["lineno"]) != want:
                k += 1
            assert k < len(mine), ("lldb frame not in pysym's chain", r, mine)
            # lldb's label: "outer [inlined] inner(args)" or "name(args)"; its short name
            # (no namespace for gcc's inlined C++ frames) is the tail of ours, except where
            # lldb takes the DWARF name of an aliased libc function (__libc_start_main_impl)
            # and llvm-symbolizer and pysym the symbol (__libc_start_main).
            label = r["function"].split("[inlined] ")[-1]
            short = re.sub(r"\(.*$", "", label).lstrip(":").split("<")[0].split("::")[-1]
            if short not in mine[k]["function"]:
                assert r["module"] == "libc.so.6" and short.startswith(oracle[k][0]), (short, mine[k])
            k += 1
            compared += 1
    return compared


@needs_lldb
def test_crash_matches_lldb(crash: Crash, engine: str, tmp_path: Path) -> None:
    for store in (FilesystemStore(crash.buildid), FilesystemStore(crash.symstore, "symstore")):
        sym = Symbolicator([store, SystemStore(module_files=False)], cache_dir=tmp_path / "cache")
        response = sym.symbolicate(crash.request(dif_candidates=True))
        assert response["status"] == "completed"
        compared = _check_against_lldb(crash, response)
        assert compared == len(crash.frames) >= 10
        mods = {os.path.basename(m["code_file"]): m for m in response["modules"]}
        for n in ("main", "libone.so", "libtwo.so", "libc.so.6"):
            assert mods[n]["debug_status"] == "found", mods[n]
            assert mods[n]["features"]["has_debug_info"]
            assert mods[n]["features"]["has_sources"] is False  # no source bundles yet
        assert mods["ld-linux-x86-64.so.2"]["debug_status"] == "unused"
        # The crashing frame is inside two inlined calls: three frames, one index.
        first = _groups(response)[0]
        # (poke is static inline: its DWARF name has no namespace, as llvm-symbolizer shows too)
        assert [f["function"] for f in first] == ["poke", "int two::twice<int>(two::Box&, int)", "two::deep(int)"]
        libc = [f for f in response["stacktraces"][0]["frames"] if f.get("package", "").endswith("libc.so.6")]
        assert libc and all(f["status"] == "symbolicated" and f["lineno"] for f in libc)


@needs_lldb
def test_cli_symbolicate_native(crash: Crash, engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps(crash.request()))
    assert cli_main(["symbolicate", "native", str(req), "--store", "%s:native" % crash.buildid,
                     "--cache", str(tmp_path / "c")]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == "Thread 0 (crashed)"
    assert lines[1] == "  0  (inlined) libtwo.so!poke [two.cpp : 6]"
    assert lines[2].startswith("       (inlined) libtwo.so!int two::twice<int>")
    assert lines[3] == "       libtwo.so!two::deep(int) [two.cpp : 18]"
    assert "libone.so!one_step [one.c : 3]" in text
    assert cli_main(["symbolicate", "native", str(req), "--store", "%s:symstore" % crash.symstore,
                     "--no-system", "--json"]) == 0
    response = json.loads(capsys.readouterr().out)
    libc = [m for m in response["modules"] if m["code_file"].endswith("libc.so.6")][0]
    assert libc["debug_status"] == "missing"  # --no-system: not looked up in /usr/lib/debug


@needs_lldb
def test_cli_addr2line_build_id(crash: Crash, engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    b = crash.ids["libtwo.so"]
    rel = crash.frames[0]["addr"] - int(
        [m for m in crash.modules if m["code_file"].endswith("libtwo.so")][0]["image_addr"], 16)
    ref = subprocess.run(["addr2line", "-f", "-i", "-C", "-e", str(crash.src / "libtwo.so"), hex(rel)],
                         capture_output=True, text=True, check=True).stdout
    assert cli_main(["addr2line", "-f", "-i", "-C", "--build-id", b, "--store", str(crash.buildid), hex(rel)]) == 0
    out = capsys.readouterr().out.splitlines()
    # Locations as binutils prints them; names as llvm-symbolizer-19 does (binutils names
    # the innermost inlined frame after its caller).
    assert out[1::2] == ref.splitlines()[1::2]
    assert out[0::2] == [n for n, _f, _l in _symbolizer(crash.src / "libtwo.so", rel)]
    assert cli_main(["addr2line", "-f", "--store", "%s:symstore" % crash.symstore, "BUILDID:" + b, hex(rel)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == ref.splitlines()[1]


# -- layouts, ranking, rejected candidates -----------------------------------------


def _module(c: Crash, name: str) -> Dict[str, Any]:
    return dict([m for m in c.modules if os.path.basename(m["code_file"]) == name][0])


def _one_frame(c: Crash, name: str = "libtwo.so") -> Dict[str, Any]:
    m = _module(c, name)
    addr = [f["addr"] for f in c.frames if f["module"] == name][0]
    return {"modules": [m], "stacktraces": [{"frames": [{"instruction_addr": hex(addr)}]}],
            "options": {"dif_candidates": True}}


@needs_lldb
@pytest.mark.parametrize("layout,casing", [
    ("native", "default"), ("symstore", "default"), ("symstore", "uppercase"), ("symstore_index2", "default"),
    ("ssqp", "default"), ("unified", "default"), ("debuginfod", "default"), ("native", "lowercase")])
def test_every_layout(crash: Crash, engine: str, tmp_path: Path, layout: str, casing: str) -> None:
    m = Module(type="elf", image_addr=0, image_size=1, code_id=crash.ids["libtwo.so"],
               code_file="/somewhere/libtwo.so")
    debug_locs = [loc for loc in layout_locations(layout, m) if loc.filetype == "elf_debug"]
    assert debug_locs
    path = debug_locs[0].path
    path = path.lower() if casing == "lowercase" else path.upper() if casing == "uppercase" else path
    dst = tmp_path / "store" / path
    dst.parent.mkdir(parents=True)
    b = crash.ids["libtwo.so"]
    shutil.copy(crash.buildid / ".build-id" / b[:2] / (b[2:] + ".debug"), dst)
    expected = {
        "native": ".build-id/%s/%s.debug" % (b[:2], b[2:]),
        "symstore": "_.debug/elf-buildid-sym-%s/_.debug" % b,
        "symstore_index2": "_./_.debug/elf-buildid-sym-%s/_.debug" % b,
        "ssqp": "_.debug/elf-buildid-sym-%s/_.debug" % b,
        "unified": "%s/%s/debuginfo" % (b[:2], b[2:]),
        "debuginfod": "buildid/%s/debuginfo" % b,
    }[layout]
    assert debug_locs[0].path == expected
    sym = Symbolicator([FilesystemStore(tmp_path / "store", layout, casing=casing)])
    resp = sym.symbolicate(_one_frame(crash))
    assert resp["modules"][0]["debug_status"] == "found"
    assert resp["stacktraces"][0]["frames"][-1]["function"] == "two::deep(int)"
    used = [cand for cand in resp["modules"][0]["candidates"] if cand.get("debug", {}).get("status") == "ok"]
    assert len(used) == 1 and used[0]["location"] == str(dst)
    # The wrong casing finds nothing (a case-sensitive file system).
    if casing == "uppercase":
        resp = Symbolicator([FilesystemStore(tmp_path / "store", layout)]).symbolicate(_one_frame(crash))
        assert resp["modules"][0]["debug_status"] == "missing"


def test_breakpad_and_macho_paths() -> None:
    m = Module(type="elf", image_addr=0, image_size=1, code_id="b7dc60e91588d8a54c4c44442c1b53a7",
               debug_file="/usr/lib/libfoo.so")
    paths = [loc.path for loc in layout_locations("native", m)]
    assert "libfoo.so/E960DCB78815A5D84C4C44442C1B53A70/libfoo.so.sym" in paths
    mac = Module(type="macho", image_addr=0, image_size=1, debug_id="67e9247c-814e-392b-a027-dbde6748fcbf",
                 code_file="/Applications/App.app/App")
    assert [loc.path for loc in layout_locations("native", mac)][0] == "67E9/247C/814E/392B/A027/DBDE6748FCBF"
    assert "_.dwarf/mach-uuid-sym-67e9247c814e392ba027dbde6748fcbf/_.dwarf" in [
        loc.path for loc in layout_locations("symstore", mac)]
    pdb = Module(type="pe", image_addr=0, image_size=1, debug_id="3249d99d-0c40-4931-8610-f4e4fb0b6936-1",
                 debug_file="C:\\build\\crash.pdb", code_file="C:\\build\\crash.exe", code_id="5AB380779000")
    assert [loc.path for loc in layout_locations("symstore", pdb)][:2] == [
        "crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb", "crash.exe/5AB380779000/crash.exe"]
    assert [loc.path for loc in layout_locations("ssqp", pdb)][0] == \
        "crash.pdb/3249d99d0c4049318610f4e4fb0b69361/crash.pdb"
    assert [loc.path for loc in layout_locations("symstore", pdb)][2] == \
        "crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.sym"


def _breakpad_sym(c: Crash, name: str) -> str:
    """A minimal Breakpad file for the module: the symbol of its crashing function only."""
    b = c.ids[name]
    guid = bytes.fromhex(b)[:16]
    bp = (guid[3::-1] + guid[5:3:-1] + guid[7:5:-1] + guid[8:]).hex().upper() + "0"
    nm = run(["nm", "--defined-only", str(c.src / name)], c.src)
    addr = [int(line.split()[0], 16) for line in nm.splitlines() if line.endswith(" _ZN3two4deepEi")][0]
    return "MODULE Linux x86_64 %s %s\nINFO CODE_ID %s\nPUBLIC %x 0 breakpad_deep\n" % (bp, name, b.upper(), addr)


@needs_lldb
def test_ranking_debug_info_then_symbols_then_breakpad(crash: Crash, engine: str, tmp_path: Path) -> None:
    b = crash.ids["libtwo.so"]
    store = tmp_path / "store"
    # executable (stripped: symbol table only), the Breakpad file, and the debug file
    exe = store / ".build-id" / b[:2] / b[2:]
    exe.parent.mkdir(parents=True)
    shutil.copy(crash.src / "libtwo.so", exe)
    run(["strip", "--strip-debug", str(exe)], tmp_path)
    sym_file = store / "libtwo.so" / _breakpad_sym(crash, "libtwo.so").split()[3] / "libtwo.so.sym"
    sym_file.parent.mkdir(parents=True)
    sym_file.write_text(_breakpad_sym(crash, "libtwo.so"))
    dbg = store / ".build-id" / b[:2] / (b[2:] + ".debug")

    def ranked() -> Tuple[str, List[Dict[str, Any]], Dict[str, Any]]:
        resp = Symbolicator([FilesystemStore(store)]).symbolicate(_one_frame(crash))
        frames = resp["stacktraces"][0]["frames"]
        return frames[-1].get("function", frames[-1]["status"]), resp["modules"][0]["candidates"], resp

    fn, cands, _ = ranked()  # symbol table beats Breakpad
    assert fn == "two::deep(int)"
    states = {os.path.basename(cd["location"]): cd.get("debug", {}).get("status") for cd in cands}
    assert states == {b[2:] + ".debug": None, b[2:]: "ok", "libtwo.so.sym": "unused"}
    shutil.copy(crash.buildid / ".build-id" / b[:2] / (b[2:] + ".debug"), dbg)
    fn, cands, resp = ranked()  # debug info beats both: inlined frames appear
    assert len(resp["stacktraces"][0]["frames"]) == 3
    states = {os.path.basename(cd["location"]): cd["debug"]["status"] for cd in cands}
    assert states == {b[2:] + ".debug": "ok", b[2:]: "unused", "libtwo.so.sym": "unused"}
    os.unlink(dbg)
    os.unlink(exe)
    fn, cands, resp = ranked()  # Breakpad alone
    assert fn == "breakpad_deep"
    assert resp["modules"][0]["debug_status"] == "found"


@needs_lldb
def test_rejected_candidate_reported(crash: Crash, engine: str, tmp_path: Path) -> None:
    b = crash.ids["libtwo.so"]
    wrong = tmp_path / "store" / ".build-id" / b[:2] / (b[2:] + ".debug")
    wrong.parent.mkdir(parents=True)
    o = crash.ids["libone.so"]
    shutil.copy(crash.buildid / ".build-id" / o[:2] / (o[2:] + ".debug"), wrong)
    resp = Symbolicator([FilesystemStore(tmp_path / "store")]).symbolicate(_one_frame(crash))
    mod = resp["modules"][0]
    assert mod["debug_status"] == "missing"
    assert resp["stacktraces"][0]["frames"][0]["status"] == "missing"
    rejected = [cd for cd in mod["candidates"] if cd["download"]["status"] == "rejected"]
    assert len(rejected) == 1 and rejected[0]["location"] == str(wrong)
    assert "build id %s, not %s" % (o, b) in rejected[0]["download"]["details"]
    assert {cd["download"]["status"] for cd in mod["candidates"]} == {"rejected", "notfound"}


@needs_lldb
def test_system_store_module_files_and_missing_symbol(crash: Crash, engine: str) -> None:
    # The request's own paths (unstripped binaries) are found by the system store.
    req = _one_frame(crash)
    resp = Symbolicator([SystemStore(debug_dirs=())]).symbolicate(req)
    assert resp["modules"][0]["debug_status"] == "found"
    # An address inside the image that no function covers (the ELF header).
    req["stacktraces"][0]["frames"] = [{"instruction_addr": req["modules"][0]["image_addr"]}]
    resp = Symbolicator([SystemStore(debug_dirs=())]).symbolicate(req)
    assert resp["stacktraces"][0]["frames"][0]["status"] == "missing_symbol"


# -- request rules and bad input ---------------------------------------------------


def test_caller_address_rules() -> None:
    assert caller_address(0x1005, "x86_64") == 0x1004
    assert caller_address(0x1005, "x86") == 0x1004
    assert caller_address(0x1008, "arm64") == 0x1004
    assert caller_address(0x100B, "aarch64") == 0x1004  # aligned down first
    assert caller_address(0x1009, "arm") == 0x1006
    assert caller_address(0x1005, None) == 0x1004


@needs_lldb
def test_address_adjustment_and_modes(crash: Crash, engine: str) -> None:
    m = _module(crash, "libtwo.so")
    base = int(m["image_addr"], 16)
    ret = [f["addr"] for f in crash.frames if f["module"] == "libtwo.so" and not f["inlined"]][-1]
    sym = Symbolicator([FilesystemStore(crash.buildid)])
    frames = [{"instruction_addr": hex(ret)}, {"instruction_addr": hex(ret)},
              {"instruction_addr": hex(ret), "trust": "context"},
              {"instruction_addr": ret - base, "addr_mode": "rel:0"},
              {"instruction_addr": hex(ret), "adjust_instruction_addr": False}]
    resp = sym.symbolicate({"modules": [m], "stacktraces": [{"frames": frames}]})
    out = {f["original_index"]: f for f in resp["stacktraces"][0]["frames"]}
    lldb_line = [f["line"] for f in crash.frames if f["addr"] == ret][0]
    assert out[1]["lineno"] == out[3]["lineno"] == lldb_line  # caller frames: addr - 1
    assert out[0]["lineno"] == out[2]["lineno"] == out[4]["lineno"]  # not adjusted
    assert out[3]["instruction_addr"] == hex(ret)
    assert out[2]["trust"] == "context" and "trust" not in out[0]
    assert out[2]["package"] == out[0]["package"] == m["code_file"]
    # frame templates are reused by the next request; the frames are new dicts
    again = sym.symbolicate({"modules": [m], "stacktraces": [{"frames": frames}]})
    assert again == resp
    assert again["stacktraces"][0]["frames"][0] is not resp["stacktraces"][0]["frames"][0]
    # caller_first: the crashing frame is the last one
    resp2 = sym.symbolicate({"modules": [m], "stacktraces": [{"frames": frames[:2][::-1]}],
                             "options": {"frame_order": "caller_first"}})
    f2 = resp2["stacktraces"][0]["frames"]
    assert f2[0]["lineno"] == lldb_line and f2[-1]["lineno"] == out[0]["lineno"]


@needs_lldb
def test_bad_inputs(crash: Crash, engine: str) -> None:
    sym = Symbolicator([FilesystemStore(crash.buildid)])
    good = _module(crash, "libtwo.so")
    base = int(good["image_addr"], 16)
    addr = hex([f["addr"] for f in crash.frames if f["module"] == "libtwo.so"][0])
    overlap = dict(_module(crash, "libone.so"), image_addr=hex(base + 16))
    req = {
        "modules": [good, {"type": "coff", "image_addr": "0x10", "image_size": 16}, overlap,
                    dict(good, image_addr=None), dict(good, image_addr="0x1", image_size=None),
                    dict(good, image_addr="0xZZ")],
        "threads": [{"frames": [{"instruction_addr": addr}, {"instruction_addr": "0xZZ"},
                                {"instruction_addr": -5}, {"instruction_addr": "0x" + "f" * 17},
                                {"instruction_addr": addr, "addr_mode": "rel:99"}, "frame",
                                {"instruction_addr": "0x12"}]}],
    }
    resp = sym.symbolicate(req)
    mods = resp["modules"]
    assert [m["debug_status"] for m in mods] == ["malformed", "malformed", "malformed", "malformed",
                                                "malformed", "malformed"]
    assert "overlaps module 2" in mods[0]["debug_error"] and "overlaps module 0" in mods[2]["debug_error"]
    assert "unknown module type 'coff'" in mods[1]["debug_error"]
    assert mods[3]["debug_error"] == "image_addr is missing"
    assert mods[4]["debug_error"] == "image_size is missing"
    assert "image_addr is not an address" in mods[5]["debug_error"]
    st = [f["status"] for f in resp["stacktraces"][0]["frames"]]
    assert st == ["unknown_image", "malformed", "malformed", "malformed", "malformed", "malformed",
                  "unknown_image"]
    for bad in (None, [], "x", {"stacktraces": {}}, {"stacktraces": [{"frames": 1}]}, {"modules": "x"},
                {"options": {"frame_order": "sideways"}}):
        with pytest.raises(InvalidInputError):
            sym.symbolicate(bad)  # type: ignore[arg-type]
    huge = {"modules": [good], "stacktraces": [{"frames": [{"instruction_addr": addr}] * 10**6}]}
    t0 = time.perf_counter()
    with pytest.raises(RequestTooLargeError, match="1000000 frames; at most 100000"):
        sym.symbolicate(huge)
    assert isinstance(RequestTooLargeError("x"), pysym.ResourceLimitError)
    del t0
    # The symbolicator is intact afterwards.
    ok = sym.symbolicate(_one_frame(crash))
    assert ok["stacktraces"][0]["frames"][-1]["status"] == "symbolicated"


# -- caches and concurrency --------------------------------------------------------


@needs_lldb
def test_disk_cache_entry_and_reuse(crash: Crash, engine: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    sym = Symbolicator([FilesystemStore(crash.buildid)], cache_dir=cache)
    first = sym.symbolicate(_one_frame(crash))
    entries = list((cache / "symcaches" / ("v%d" % symcache_version())).glob("*.symcache"))
    assert len(entries) == 1
    assert entries[0].read_bytes()[:8] == b"PYSYMCCH"
    assert int.from_bytes(entries[0].read_bytes()[8:12], "little") == symcache_version()
    assert oct(os.stat(cache).st_mode & 0o777) == "0o700"
    assert oct(os.stat(entries[0]).st_mode & 0o777) == "0o600"
    assert sym.stats["builds"] == 1
    again = Symbolicator([FilesystemStore(crash.buildid)], cache_dir=cache)
    assert again.symbolicate(_one_frame(crash)) == first
    assert again.stats == {"builds": 0, "disk_hits": 1, "memory_hits": 0}
    again.symbolicate(_one_frame(crash))
    assert again.stats == {"builds": 0, "disk_hits": 1, "memory_hits": 1}


def _sections(data: bytes) -> Dict[str, Tuple[int, int]]:
    """(offset, size) of a format-4 symcache's first sections (FORMAT.md)."""
    n_ranges, n_locs = int.from_bytes(data[24:28], "little"), int.from_bytes(data[28:32], "little")
    widths = data[64:71]
    pad8 = lambda n: (n + 7) & ~7  # noqa: E731
    starts = (72, pad8(n_ranges * widths[0]))
    ranges = (starts[0] + starts[1], pad8(n_ranges * 4))
    locations = (ranges[0] + ranges[1], pad8(n_locs * sum(widths[1:7])))
    return {"starts": starts, "ranges": ranges, "locations": locations}


def _opened_unchecked(sym: Symbolicator) -> List[bool]:
    return [sc._unchecked for sc, _size in sym.memory._items.values()]


@needs_lldb
@pytest.mark.parametrize("where", ["after the header", "locations", "string data", "appended"])
def test_disk_cache_changed_entry_is_built_again(crash: Crash, engine: str, tmp_path: Path, where: str) -> None:
    # An entry pysym wrote is opened cheaply by a new process (header and geometry
    # checked only) while its .checked record vouches for it; an entry changed since
    # (same size or not) is dropped and built again, never answered from.
    cache = tmp_path / "cache"
    req = crash.request()
    first = Symbolicator([FilesystemStore(crash.buildid), SystemStore()], cache_dir=cache).symbolicate(req)
    entry = sorted((cache / "symcaches").rglob("*.symcache"), key=lambda p: p.stat().st_size)[0]
    record = entry.with_suffix(".checked")
    assert record.is_file() and oct(record.stat().st_mode & 0o777) == "0o600"
    warm = Symbolicator([FilesystemStore(crash.buildid), SystemStore()], cache_dir=cache)
    assert warm.symbolicate(req) == first and warm.stats["builds"] == 0
    assert _opened_unchecked(warm) and all(_opened_unchecked(warm))
    data = bytearray(entry.read_bytes())
    sec = _sections(bytes(data))
    at = {"after the header": 72, "locations": sec["locations"][0], "string data": len(data) - 12}.get(where)
    with open(entry, "r+b") as f:
        if at is None:
            f.seek(0, 2)
            f.write(b"\0" * 8)
        else:
            f.seek(at)
            f.write(bytes(b ^ 0x5A for b in data[at:at + 4]))
    again = Symbolicator([FilesystemStore(crash.buildid), SystemStore()], cache_dir=cache)
    assert again.symbolicate(req) == first
    assert again.stats["builds"] == 1
    assert entry.read_bytes() == bytes(data)  # the same symcache, written again
    later = Symbolicator([FilesystemStore(crash.buildid), SystemStore()], cache_dir=cache)
    assert later.symbolicate(req) == first and later.stats["builds"] == 0
    assert all(_opened_unchecked(later))  # the rebuilt entry is vouched for again


@needs_lldb
def test_disk_cache_entry_changed_under_a_loaded_symcache(crash: Crash, engine: str, tmp_path: Path) -> None:
    # An entry is read straight into the module, no copy kept: a reload in a fresh
    # instance reads its file again. Rewritten in place meanwhile (same size), the
    # reload refuses it (CRC-32), and the request is answered from an entry built again.
    cache = tmp_path / "cache"
    one = _one_frame(crash)
    first = Symbolicator([FilesystemStore(crash.buildid)], cache_dir=cache).symbolicate(one)
    [entry] = (cache / "symcaches").rglob("*.symcache")
    good = entry.read_bytes()
    sym = Symbolicator([FilesystemStore(crash.buildid)], cache_dir=cache)
    assert sym.symbolicate(one) == first and sym.stats["disk_hits"] == 1
    [(sc, _size)] = sym.memory._items.values()
    assert sc._data is None and sc._unchecked  # read straight into the module
    with open(entry, "r+b") as f:
        f.seek(len(good) // 2)
        f.write(bytes(b ^ 0xFF for b in good[len(good) // 2:len(good) // 2 + 16]))
    sym.runtime.set_limits(sym.runtime.limits.replace(timeout=30))  # a fresh instance
    assert sym.symbolicate(one) == first
    assert sym.stats["builds"] == 1 and entry.read_bytes() == good


@needs_lldb
@pytest.mark.parametrize("section", ["ranges", "locations"])
def test_disk_cache_forged_record_of_damaged_entry(crash: Crash, engine: str, tmp_path: Path, section: str) -> None:
    # What a writer of the cache directory (this user) could do: damage an entry's body
    # and forge its .checked record to vouch for it. The unchecked open takes it; the
    # look-ups meet the damage (ranges naming missing locations, records naming missing
    # files and functions) as an error, never a crash or a hang, and the request is
    # answered from a symcache checked in full and built again.
    cache = tmp_path / "cache"
    one = _one_frame(crash)
    first = Symbolicator([FilesystemStore(crash.buildid)], cache_dir=cache).symbolicate(one)
    [entry] = (cache / "symcaches").rglob("*.symcache")
    good = entry.read_bytes()
    at, size = _sections(good)[section]
    damaged = good[:at] + b"\xfe" * size + good[at + size:]
    entry.write_bytes(damaged)
    with pytest.raises(InvalidInputError):
        pysym.SymCache.from_bytes(damaged)  # the full checks refuse it
    st = entry.stat()
    import zlib
    stamp = "%d %d %d %d %d" % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    entry.with_suffix(".checked").write_text("%x %x\n%s\n" % (zlib.crc32(damaged), len(damaged), stamp))
    sym = Symbolicator([FilesystemStore(crash.buildid)], cache_dir=cache)
    assert sym.symbolicate(one) == first
    assert sym.stats["builds"] == 1 and entry.read_bytes() == good
    # The damaged bytes opened unchecked: look-ups report the damage, bounded.
    sc = pysym.SymCache._from_checked_bytes(damaged)
    with pytest.raises(InvalidInputError, match="damaged"):
        [f.function for frames in sc.lookup_many(list(range(0, 1 << 16, 97))) for f in frames]
    sc.close()


@needs_lldb
def test_disk_cache_group_writable_dir_is_not_used(crash: Crash, engine: str, tmp_path: Path) -> None:
    cache = tmp_path / "shared"
    cache.mkdir(mode=0o777)
    os.chmod(cache, 0o777)
    sym = Symbolicator([FilesystemStore(crash.buildid)], cache_dir=cache)
    assert sym.symbolicate(_one_frame(crash))["modules"][0]["debug_status"] == "found"
    assert not list(cache.rglob("*.symcache"))


@needs_lldb
def test_disk_cache_lru_bound(crash: Crash, engine: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    sym = Symbolicator([FilesystemStore(crash.buildid)], cache_dir=cache, disk_cache_bytes=1)
    for name in ("libtwo.so", "libone.so", "main"):
        sym.symbolicate(_one_frame(crash, name))
        time.sleep(0.02)
    entries = list(cache.rglob("*.symcache"))
    assert len(entries) == 1  # each write evicts all older ones past a 1-byte bound
    assert sym.stats["builds"] == 3


_WORKER = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, sys.argv[1])
    import pysym
    from pysym import FilesystemStore, Symbolicator
    req = json.loads(sys.argv[3])
    if sys.argv[4] == "hang":
        import pysym._symbolicate._cache as c
        c.os.fsync = lambda fd: time.sleep(600)  # stop after writing, before the rename
    while not os.path.exists(sys.argv[5]):
        time.sleep(0.005)
    sym = Symbolicator([FilesystemStore(sys.argv[2])], cache_dir=sys.argv[6])
    resp = sym.symbolicate(req)
    print(json.dumps({"stats": sym.stats, "frames": resp["stacktraces"][0]["frames"]}))
""")


def _worker(c: Crash, tmp_path: Path, mode: str, go: Path, cache: Path) -> "subprocess.Popen[str]":
    env = dict(os.environ)
    return subprocess.Popen([sys.executable, "-c", _WORKER, str(ROOT), str(c.buildid),
                             json.dumps(_one_frame(c)), mode, str(go), str(cache)],
                            stdout=subprocess.PIPE, text=True, env=env)


@needs_lldb
def test_processes_build_one_symcache(crash: Crash, engine: str, tmp_path: Path) -> None:
    cache, go = tmp_path / "cache", tmp_path / "go"
    procs = [_worker(crash, tmp_path, "normal", go, cache) for _ in range(4)]
    go.touch()
    outs = []
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0
        outs.append(json.loads(out))
    assert sum(o["stats"]["builds"] for o in outs) == 1
    assert sum(o["stats"]["disk_hits"] for o in outs) == 3
    assert all(o["frames"] == outs[0]["frames"] for o in outs)
    assert outs[0]["frames"][-1]["function"] == "two::deep(int)"
    assert len(list(cache.rglob("*.symcache"))) == 1
    assert not list(cache.rglob(".tmp-*"))


@needs_lldb
def test_process_killed_mid_write_leaves_no_entry(crash: Crash, engine: str, tmp_path: Path) -> None:
    cache, go = tmp_path / "cache", tmp_path / "go"
    go.touch()
    p = _worker(crash, tmp_path, "hang", go, cache)
    try:
        deadline = time.monotonic() + 120

        def written() -> Set[Path]:
            found = set()
            for t in cache.rglob(".tmp-*"):
                with contextlib.suppress(FileNotFoundError):
                    if t.stat().st_size > 0:
                        found.add(t)
            return found

        # Written and flushed, stopped before the rename: a .tmp- file that stays (the
        # format and digest memos also pass through .tmp- files, renamed at once).
        before: Set[Path] = set()
        while time.monotonic() < deadline:
            assert p.poll() is None
            now = written()
            if now & before:
                break
            before = now
            time.sleep(0.05)
        tmp = sorted(written() & before)
        assert tmp and tmp[0].stat().st_size > 0
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate()
    assert not list(cache.rglob("*.symcache"))
    # The lock died with the process: the next one builds at once, and cleans up later.
    sym = Symbolicator([FilesystemStore(crash.buildid)], cache_dir=cache, lock_timeout=5)
    t0 = time.monotonic()
    resp = sym.symbolicate(_one_frame(crash))
    assert time.monotonic() - t0 < 60
    assert resp["stacktraces"][0]["frames"][-1]["function"] == "two::deep(int)"
    assert sym.stats["builds"] == 1 and len(list(cache.rglob("*.symcache"))) == 1


@needs_lldb
def test_malformed_debug_file_remembered(crash: Crash, engine: str, tmp_path: Path) -> None:
    b = crash.ids["libtwo.so"]
    good = crash.buildid / ".build-id" / b[:2] / (b[2:] + ".debug")
    data = bytearray(good.read_bytes())
    # Damage what a partial result cannot skip (the first unit's length: nothing after it can
    # be found), keep the headers (the identity still reads).
    out = run(["readelf", "-SW", str(good)], tmp_path)
    sec = [line for line in out.splitlines() if " .debug_info " in line][0].split("]")[1].split()
    off = int(sec[3], 16)
    data[off : off + 4] = b"\0\0\0\0"
    bad = tmp_path / "store" / ".build-id" / b[:2] / (b[2:] + ".debug")
    bad.parent.mkdir(parents=True)
    bad.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    sym = Symbolicator([FilesystemStore(tmp_path / "store")], cache_dir=cache, malformed_ttl=3600)
    resp = sym.symbolicate(_one_frame(crash))
    mod = resp["modules"][0]
    if mod["debug_status"] == "found":
        pytest.fail("the damaged file built: the test no longer damages it enough")
    assert mod["debug_status"] == "malformed" and mod["debug_error"]
    assert resp["stacktraces"][0]["frames"][0]["status"] == "malformed"
    assert list(cache.rglob("*.malformed"))
    again = Symbolicator([FilesystemStore(tmp_path / "store")], cache_dir=cache, malformed_ttl=3600)
    assert again.symbolicate(_one_frame(crash))["modules"][0]["debug_status"] == "malformed"
    assert again.stats["builds"] == 0


@needs_lldb
def test_missing_module_remembered_for_the_store_ttl(crash: Crash, engine: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    remembering = Symbolicator([{"type": "filesystem", "path": str(store), "negative_ttl": 3600}])
    asking = Symbolicator([{"type": "filesystem", "path": str(store), "negative_ttl": 0}])
    short = Symbolicator([{"type": "filesystem", "path": str(store), "negative_ttl": 3600},
                          FilesystemStore(tmp_path / "other", negative_ttl=0.2)])
    for sym in (remembering, asking, short):
        assert sym.symbolicate(_one_frame(crash))["modules"][0]["debug_status"] == "missing"
    shutil.copytree(crash.buildid / ".build-id", store / ".build-id")
    # the memo answers until the TTL ends; a store with TTL 0 is asked every time
    resp = remembering.symbolicate(_one_frame(crash))
    assert resp["modules"][0]["debug_status"] == "missing"
    assert resp["stacktraces"][0]["frames"][0]["status"] == "missing"
    assert asking.symbolicate(_one_frame(crash))["modules"][0]["debug_status"] == "found"
    time.sleep(0.3)  # the smallest TTL of a symbolicator's stores decides
    assert short.symbolicate(_one_frame(crash))["modules"][0]["debug_status"] == "found"
    assert FilesystemStore(store).negative_ttl == pysym._symbolicate._stores.DEFAULT_NEGATIVE_TTL
    for bad in (-1, float("nan"), "soon"):
        with pytest.raises((ValueError, TypeError)):
            Symbolicator([{"type": "filesystem", "path": str(store), "negative_ttl": bad}])


@needs_lldb
def test_file_memos_skip_parsing_and_stay_bounded(crash: Crash, engine: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    sym = Symbolicator([FilesystemStore(crash.buildid)], cache_dir=cache)
    first = [sym.symbolicate(_one_frame(crash, n)) for n in ("libtwo.so", "libone.so", "main")]
    memos = sorted((cache / "symcaches" / ("v%d" % symcache_version()) / "digests").iterdir())
    assert len(memos) == 3
    memo = json.loads(memos[0].read_text())
    assert len(memo["sha256"]) == 64 and memo["ident:"]["kind"] == "elf"
    # a new process's view: the memos answer, the sandbox reads no identity again, the
    # response is the same
    again = Symbolicator([FilesystemStore(crash.buildid)], cache_dir=cache)
    calls: List[str] = []
    real = pysym.Object.from_path

    def counted(*a: Any, **k: Any) -> Any:
        calls.append(str(a[0]))
        return real(*a, **k)

    pysym._symbolicate._symbolicator.Object.from_path = counted  # type: ignore[method-assign]
    try:
        assert [again.symbolicate(_one_frame(crash, n)) for n in ("libtwo.so", "libone.so", "main")] == first
    finally:
        pysym._symbolicate._symbolicator.Object.from_path = real  # type: ignore[method-assign]
    assert calls == [] and again.stats["disk_hits"] == 3
    # a file changed in place (same size, mtime put back) is not matched to its old memo
    b = crash.ids["libtwo.so"]
    debug = tmp_path / "copy" / ".build-id" / b[:2] / (b[2:] + ".debug")
    shutil.copytree(crash.buildid, tmp_path / "copy")
    Symbolicator([FilesystemStore(tmp_path / "copy")], cache_dir=cache).symbolicate(_one_frame(crash))
    st = debug.stat()
    data = bytearray(debug.read_bytes())
    data[-1] ^= 0xFF
    debug.write_bytes(bytes(data))
    os.utime(debug, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert pysym._symbolicate.DiskCache(str(cache)).memo(str(debug)) == {}
    # bounded: past max_memos the least recently used go
    small = pysym._symbolicate.DiskCache(str(cache), max_memos=2)
    memo_dir = Path(small.memo_dir)
    files = sorted(memo_dir.iterdir())
    assert len(files) == 4
    old = time.time() - 1000
    for i, m in enumerate(files):
        os.utime(m, (old + i, old + i))
    small.evict()
    assert sorted(memo_dir.iterdir()) == files[-2:]


def test_symcache_version_comes_from_the_module(engine: str) -> None:
    core = Path(__file__).resolve().parent.parent / "wasm" / "core" / "src" / "symcache" / "mod.rs"
    m = re.search(r"pub const VERSION: u32 = (\d+);", core.read_text())
    assert m is not None
    assert symcache_version() == int(m.group(1))



def test_symcache_version_is_remembered_by_module_file(engine: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A new process learns the format from ``symcaches/format-*`` (no tiny build) while the
    module file keeps its stamp; a record of another stamp or a damaged one is not used."""
    from pysym._symbolicate import _cache

    real = symcache_version()
    monkeypatch.setattr(_cache, "_version", None)  # as in a new process
    DiskCache = pysym._symbolicate.DiskCache
    assert DiskCache(str(tmp_path / "c")).version == real
    (record,) = (tmp_path / "c" / "symcaches").glob("format-*")
    assert record.read_text().split("\n")[0] == str(real)
    assert oct(record.stat().st_mode & 0o777) == "0o600"
    # the record is what a new process goes by (a made-up number shows it is read)
    monkeypatch.setattr(_cache, "_version", None)
    stamp = record.read_text().split("\n")[1]
    record.write_text("%d\n%s\n" % (real + 7, stamp))
    assert DiskCache(str(tmp_path / "c")).version == real + 7
    # another module file (stamp), a damaged record: the module is asked again
    for text in ("%d\n0 0 0 0 0\n" % (real + 7), "x\n%s\n" % stamp, ""):
        monkeypatch.setattr(_cache, "_version", None)
        record.write_text(text)
        assert DiskCache(str(tmp_path / "c")).version == real
        assert record.read_text() == "%d\n%s\n" % (real, stamp)

@needs_lldb
def test_threads_share_one_symbolicator(crash: Crash, engine: str, tmp_path: Path) -> None:
    sym = Symbolicator([FilesystemStore(crash.buildid), SystemStore(module_files=False)],
                       cache_dir=tmp_path / "cache")
    req = crash.request()
    results: List[Optional[Dict[str, Any]]] = [None] * 6
    errors: List[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(3):
                results[i] = sym.symbolicate(req)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == results[0] for r in results)
    assert _check_against_lldb(crash, results[0]) == len(crash.frames)  # type: ignore[arg-type]
    assert sym.stats["builds"] == 4  # main, libone, libtwo, libc: once each


@needs_lldb
@pytest.mark.parametrize("workers", [1, 3])
def test_build_workers(crash: Crash, engine: str, tmp_path: Path, workers: int) -> None:
    """Modules are found and built by worker threads, each with a runtime of its own: the
    answer is the one of a single worker, every symcache is built once."""
    req = crash.request(dif_candidates=True)
    stores = [FilesystemStore(crash.buildid), SystemStore(module_files=False)]
    one = Symbolicator(stores, build_workers=1, build_processes=0).symbolicate(req)
    # (threads only: build_processes, wasmer's default, is tests/test_build_processes.py's)
    sym = Symbolicator(stores, cache_dir=tmp_path / "cache", build_workers=workers, build_processes=0)
    assert sym.build_workers == workers
    assert sym.symbolicate(req) == one
    assert sym.stats["builds"] == 4
    # workers' runtimes, kept for the next request: one per thread the pool started, which
    # depends on scheduling (a thread that finishes early takes the next build)
    assert len(sym._spare) == 0 if workers == 1 else 1 <= len(sym._spare) <= min(workers, 4)
    assert sym.symbolicate(req) == one and sym.stats["builds"] == 4
    # A new process's view: symcaches on disk load in the calling thread (no worker
    # runtime is started for them); only what must be built goes to the workers.
    warm = Symbolicator(stores, cache_dir=tmp_path / "cache", build_workers=workers, build_processes=0)
    assert warm.symbolicate(req) == one
    assert warm.stats == {"builds": 0, "disk_hits": 4, "memory_hits": 0} and warm._spare == []
    entries = sorted((tmp_path / "cache").rglob("*.symcache"))
    assert len(entries) == 4
    for e in entries[:2]:
        e.unlink()
    mixed = Symbolicator(stores, cache_dir=tmp_path / "cache", build_workers=workers, build_processes=0)
    assert mixed.symbolicate(req) == one
    assert mixed.stats == {"builds": 2, "disk_hits": 2, "memory_hits": 0}
    assert len(mixed._spare) == 0 if workers == 1 else 1 <= len(mixed._spare) <= 2
    default = Symbolicator(stores)
    assert default.build_workers == (min(2, os.cpu_count() or 1) if engine == "wasmtime" else 1)


@needs_lldb
def test_symbolicate_frames_typed(crash: Crash, engine: str) -> None:
    mods = [Module(type="elf", image_addr=int(m["image_addr"], 16), image_size=m["image_size"],
                   code_id=m["code_id"], code_file=m["code_file"]) for m in crash.modules]
    addrs = [int(f["instruction_addr"], 16) for f in crash.request()["stacktraces"][0]["frames"]]
    out = pysym.symbolicate_frames(mods, addrs, stores=[FilesystemStore(crash.buildid), SystemStore()])
    assert len(out) == len(addrs)
    assert [f.function for f in out[0]][-1] == "two::deep(int)"
    assert isinstance(out[0][0], pysym.StackFrame) and out[0][0].lineno == 6
    assert all(fr[0].status == "symbolicated" for fr in out)


@needs_lldb
@pytest.mark.parametrize("where", ["beside", ".debug", "debug_dir"])
def test_debuglink_with_crc(crash: Crash, engine: str, tmp_path: Path, where: str) -> None:
    b = crash.ids["libtwo.so"]
    bindir = tmp_path / "bin"
    shutil.copytree(crash.bin, bindir)
    binary = bindir / "libtwo.so"
    link = b[2:] + ".debug"  # objcopy --add-gnu-debuglink names the file it was given
    assert pysym.Object.from_path(binary).debuglink[0] == link  # type: ignore[index]
    gdebug = tmp_path / "gdebug"
    dst = {"beside": bindir / link, ".debug": bindir / ".debug" / link,
           "debug_dir": gdebug / str(bindir).lstrip("/") / link}[where]
    dst.parent.mkdir(parents=True, exist_ok=True)
    good = (crash.buildid / ".build-id" / b[:2] / link).read_bytes()
    req = _one_frame(crash)
    req["modules"][0].update(code_file=str(binary), debug_file=str(binary))
    store = SystemStore(debug_dirs=[str(gdebug)])

    dst.write_bytes(good)
    resp = Symbolicator([store]).symbolicate(req)
    used = [c for c in resp["modules"][0]["candidates"] if c.get("debug", {}).get("status") == "ok"]
    assert [c["location"] for c in used] == [str(dst)]
    assert [f["function"] for f in resp["stacktraces"][0]["frames"]][-1] == "two::deep(int)"
    assert len(resp["stacktraces"][0]["frames"]) == 3  # inlined frames: the debug info was used

    dst.write_bytes(good + b"\0")  # same build id, other contents: only the CRC tells
    resp = Symbolicator([store]).symbolicate(req)
    cands = {c["location"]: c for c in resp["modules"][0]["candidates"]}
    assert cands[str(dst)]["download"]["status"] == "rejected"
    assert "debuglink CRC mismatch" in cands[str(dst)]["download"]["details"]
    # the stripped binary's own symbol table is what is left
    assert resp["modules"][0]["features"]["has_debug_info"] is False
    assert len(resp["stacktraces"][0]["frames"]) == 1


@needs_lldb
def test_memory_cache_bound_by_bytes(crash: Crash, engine: str, tmp_path: Path) -> None:
    sym = Symbolicator([FilesystemStore(crash.buildid)], cache_dir=tmp_path / "cache", memory_cache_bytes=1)
    names = ("libtwo.so", "libone.so", "main")
    first = [sym.symbolicate(_one_frame(crash, n)) for n in names]
    assert len(sym.memory) == 1  # the newest only: the others were dropped
    again = [sym.symbolicate(_one_frame(crash, n)) for n in names]
    assert again == first
    assert sym.stats["builds"] == 3 and sym.stats["disk_hits"] >= 2  # reloaded from disk, not rebuilt
    big = Symbolicator([FilesystemStore(crash.buildid)], cache_dir=tmp_path / "cache")
    for n in names * 2:
        big.symbolicate(_one_frame(crash, n))
    assert len(big.memory) == 3 and big.stats["memory_hits"] == 3 and big.stats["disk_hits"] == 3


def test_cli_bad_requests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"stacktraces": 5}')
    assert cli_main(["symbolicate", "native", str(bad), "--no-system"]) == 1
    assert capsys.readouterr().err == "pysym: error: 'stacktraces' must be a list\n"
    bad.write_text("nope")
    assert cli_main(["symbolicate", "native", str(bad)]) == 1
    assert "is not JSON" in capsys.readouterr().err
    assert cli_main(["addr2line", "0x10"]) == 1
    assert "give the file with -e FILE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["addr2line", "--build-id", "xyz", "0x10"])
    assert "not a hexadecimal build id" in capsys.readouterr().err


@needs_lldb
def test_cli_addr2line_stdin_lines(crash: Crash, engine: str, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    import io

    b = crash.ids["libtwo.so"]
    rel = crash.frames[0]["addr"] - int(_module(crash, "libtwo.so")["image_addr"], 16)
    monkeypatch.setattr(sys, "stdin", io.StringIO("BUILDID:%s 0x%x\nBUILDID:%s 0x%x\n" % (b, rel, "ab" * 20, rel)))
    assert cli_main(["addr2line", "--store", str(crash.buildid)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].endswith("two.cpp:6")
    assert captured.out.splitlines()[1] == "??:0"
    assert "no debug file with build id " + "ab" * 20 in captured.err
