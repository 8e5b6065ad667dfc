"""Windows x64 unwinding from PE images built here (``.pdata`` / ``.xdata``).

Three images: C built by clang-14 for the MSVC target and by mingw-w64 gcc (``-O2
-fomit-frame-pointer``: stack allocations, pushed non-volatile registers, a frame pointer
where ``alloca`` needs one), and assembly whose SEH directives give the codes compilers
rarely emit (SAVE_NONVOL, SAVE_NONVOL_FAR, SAVE_XMM128, a frame offset, PUSH_MACHFRAME)
plus hand-written chained unwind info.

The oracle is the code itself, not the unwind codes: a synthetic crash runs each
function's real prologue instructions (from ``llvm-objdump-14``'s disassembly) on a
simulated stack, calls through the real call sites, stops the innermost function after
every prologue instruction in turn, and puts that stack and those registers into a
minidump. The walk must give every caller's pc and stack pointer. ``llvm-readobj-14
--unwind`` gives the function bounds and prologue sizes and shows the images use every
code kind the test claims to cover.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
from stackwalk_helpers import windows_dump

import pysym
from pysym._host import get_runtime
from pysym._symbolicate._minidump import build_cfi, walk_minidump

TOOLS = ("clang-14", "lld-link-14", "llvm-readobj-14", "llvm-objdump-14", "x86_64-w64-mingw32-gcc")

C_PROGRAM = r"""
__attribute__((noinline)) void crash(volatile int *p) { *p = 1; }
__attribute__((noinline)) long leafish(long a, long b) {
    volatile long buf[40];
    for (int i = 0; i < 40; i++) buf[i] = a * i + b;
    crash((int *)0);
    return buf[a & 31] + buf[b & 31];
}
__attribute__((noinline)) long many(long a, long b, long c, long d) {
    long x1 = a * 3, x2 = b * 5, x3 = c * 7, x4 = d * 11, x5 = a ^ b, x6 = c ^ d, x7 = a + d;
    volatile char big[600];
    big[a & 511] = (char)b;
    long r = leafish(x1 + big[b & 511], x2);
    return r + x1 * x2 + x3 * x4 + x5 * x6 + x7 + x3 + x4 + x5 + x6;
}
__attribute__((noinline)) long withfp(long n) {
    volatile char *p = __builtin_alloca(n);
    p[0] = 1;
    return many(n, n + 1, n + 2, n + 3) + p[0];
}
int mainCRTStartup(void) { return (int)withfp(32); }
"""

ASM_PROGRAM = r"""
    .text
crash_target:
    movl $1, (%rcx)
    retq

    .def f_save; .scl 2; .type 32; .endef
    .seh_proc f_save
f_save:
    pushq %rbp
    .seh_pushreg %rbp
    subq $0x80010, %rsp
    .seh_stackalloc 0x80010
    leaq 0x80(%rsp), %rbp
    .seh_setframe %rbp, 0x80
    movq %rbx, 0x10(%rsp)
    .seh_savereg %rbx, 0x10
    movq %rsi, 0x80000(%rsp)
    .seh_savereg %rsi, 0x80000
    movaps %xmm6, 0x20(%rsp)
    .seh_savexmm %xmm6, 0x20
    .seh_endprologue
    subq $0x40, %rsp
    callq crash_target
    leaq -0x80(%rbp), %rsp
    movq 0x10(%rsp), %rbx
    movq 0x80000(%rsp), %rsi
    addq $0x80010, %rsp
    popq %rbp
    retq
    .seh_endproc

    .def f_mach; .scl 2; .type 32; .endef
    .seh_proc f_mach
f_mach:
    .seh_pushframe @code
    pushq %rbx
    .seh_pushreg %rbx
    subq $0x28, %rsp
    .seh_stackalloc 0x28
    .seh_endprologue
    callq crash_target
    addq $0x28, %rsp
    popq %rbx
    addq $8, %rsp
    iretq
    .seh_endproc

chain_parent:
    pushq %rbx
    subq $0x20, %rsp
    jmp chain_child
chain_parent_end:
chain_child:
    pushq %rsi
    callq crash_target
    popq %rsi
    addq $0x20, %rsp
    popq %rbx
    retq
chain_child_end:

    .globl mainCRTStartup
mainCRTStartup:
    subq $0x28, %rsp
    callq f_save
    addq $0x28, %rsp
    retq

    # chain_child's info chains to chain_parent's (UNW_FLAG_CHAININFO)
    .section .xdata,"dr"
    .p2align 2
parent_info:
    .byte 1, 5, 2, 0
    .byte 5, 0x32
    .byte 1, 0x30
child_info:
    .byte 0x21, 1, 1, 0
    .byte 1, 0x60
    .byte 0, 0
    .rva chain_parent, chain_parent_end, parent_info
    .section .pdata,"dr"
    .p2align 2
    .rva chain_parent, chain_parent_end, parent_info
    .rva chain_child, chain_child_end, child_info
"""

GPRS = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"] + ["r%d" % i for i in range(8, 16)]
NONVOL = ["rbx", "rbp", "rsi", "rdi", "r12", "r13", "r14", "r15"]
TOP = 0x7FF0_0000_0000


def _need_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        msg = "%s needed (tools/provision.sh test-tools)" % ", ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


def _run(cmd: List[str], cwd: Path) -> str:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, "%s failed:\n%s" % (" ".join(cmd), r.stderr[-2000:])
    return r.stdout


class Func:
    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end
        self.prolog = 0
        self.frame_reg: Optional[str] = None
        self.codes: List[str] = []
        self.chained: Optional[int] = None


class Image:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = path.read_bytes()
        pe = struct.unpack_from("<I", self.data, 0x3C)[0]
        self.base = struct.unpack_from("<Q", self.data, pe + 24 + 24)[0]
        self.size = struct.unpack_from("<I", self.data, pe + 24 + 56)[0]
        self.funcs: Dict[int, Func] = {}
        fn: Optional[Func] = None
        in_chain = False
        for line in _run(["llvm-readobj-14", "--unwind", str(path)], path.parent).splitlines():
            line = line.strip()
            m = re.match(r"StartAddress: .*\(0x([0-9A-F]+)\)", line)
            if m and in_chain and fn is not None:
                fn.chained = int(m.group(1), 16)
                continue
            if m:
                fn = Func(int(m.group(1), 16), 0)
                self.funcs[fn.start] = fn
                in_chain = False
                continue
            assert fn is not None or not line.startswith(("EndAddress", "PrologSize")), line
            if fn is None:
                continue
            m = re.match(r"EndAddress: .*\(0x([0-9A-F]+)\)", line)
            if m and not in_chain:
                fn.end = int(m.group(1), 16)
            elif line.startswith("PrologSize:"):
                fn.prolog = int(line.split()[1])
            elif line.startswith("FrameRegister:") and "(" in line:
                fn.frame_reg = line.split()[1].lower()
            elif re.match(r"0x[0-9A-F]{2}: ", line):
                fn.codes.append(line.split()[1])
            elif line.startswith("Chained {"):
                in_chain = True
        self.insns: List[Tuple[int, str]] = []
        for line in _run(["llvm-objdump-14", "-d", "--no-show-raw-insn", str(path)], path.parent).splitlines():
            m = re.match(r"\s*([0-9a-f]+):\s+(\S.*?)\s*(#.*)?$", line)
            if m:
                self.insns.append((int(m.group(1), 16), m.group(2)))

    def func(self, addr: int) -> Func:
        return next(f for f in self.funcs.values() if f.start <= addr < f.end)

    def prologue(self, f: Func) -> List[Tuple[int, str]]:
        own = [i for i in self.insns if f.start <= i[0] < f.start + f.prolog]
        if f.chained is not None:
            parent = self.funcs[f.chained]
            return self.prologue(parent) + own
        return own

    def call_site(self, f: Func) -> int:
        """The return address of the first call after the prologue."""
        body = [i for i in self.insns if f.start + f.prolog <= i[0] < f.end]
        for k, (_, text) in enumerate(body):
            if text.startswith("callq"):
                return body[k + 1][0]
        raise AssertionError("no call in the function at %#x" % f.start)


class Machine:
    """Runs prologue instructions on a simulated stack."""

    def __init__(self, seed: int) -> None:
        self.regs = {r: 0x5A5A_0000_0000_0000 + seed * 0x100 + i for i, r in enumerate(GPRS)}
        self.regs["rsp"] = TOP - 8
        self.mem: Dict[int, int] = {TOP - 8: 0}
        self.serial = seed

    def clobber(self, keep: Optional[str]) -> None:
        self.serial += 1
        for i, r in enumerate(NONVOL):
            if r != keep:
                self.regs[r] = 0x5A5A_0000_0000_0000 + self.serial * 0x100 + i

    def push(self, v: int) -> None:
        self.regs["rsp"] -= 8
        self.mem[self.regs["rsp"]] = v

    def run(self, text: str) -> None:
        ops = text.split(None, 1)
        args = [a.strip() for a in ops[1].split(",")] if len(ops) > 1 else []
        imm = lambda s: int(s.lstrip("$"), 0)  # noqa: E731
        mem_rsp = lambda s: re.fullmatch(r"(-?\w*)\(%rsp\)", s)  # noqa: E731
        if ops[0] == "pushq":
            self.push(self.regs[args[0][1:]])
        elif ops[0] == "subq" and args[1] == "%rsp" and args[0].startswith("$"):
            self.regs["rsp"] -= imm(args[0])
        elif ops[0] == "movq" and args == ["%rsp", "%rbp"]:
            self.regs["rbp"] = self.regs["rsp"]
        elif ops[0] == "leaq" and mem_rsp(args[0]):
            self.regs[args[1][1:]] = self.regs["rsp"] + int(mem_rsp(args[0]).group(1) or "0", 0)  # type: ignore[union-attr]
        elif ops[0] == "movq" and args[0][1:] in self.regs and mem_rsp(args[1]):
            self.mem[self.regs["rsp"] + int(mem_rsp(args[1]).group(1) or "0", 0)] = self.regs[args[0][1:]]  # type: ignore[union-attr]
        elif ops[0] in ("movaps", "nop", "nopw", "nopl") or (ops[0] == "jmp"):
            pass  # vector registers are not walked; the jmp enters a chained part
        else:
            raise AssertionError("prologue instruction the simulator does not know: %s" % text)


def _minidump(img: Image, m: Machine, pc: int) -> bytes:
    """A Windows x64 dump of one thread: its context and its stack (with the image's
    timestamp and CodeView record, so stores find the image and its PDB)."""
    low = min(min(m.mem), m.regs["rsp"]) - 64
    stack = bytearray(TOP - low)
    for addr, v in m.mem.items():
        struct.pack_into("<Q", stack, addr - low, v & (2**64 - 1))
    ctx = bytearray(1232)
    struct.pack_into("<I", ctx, 48, 0x10000F)
    for i, r in enumerate(GPRS):
        struct.pack_into("<Q", ctx, 120 + 8 * i, m.regs[r] & (2**64 - 1))
    struct.pack_into("<Q", ctx, 248, pc)
    pe = struct.unpack_from("<I", img.data, 0x3C)[0]
    cv = b""
    if b"RSDS" in img.data:
        at = img.data.index(b"RSDS")
        cv = img.data[at: img.data.index(b"\0", at + 24) + 1]
    return windows_dump(9, (img.base, img.size, img.path.name), bytes(ctx), low, bytes(stack),
                        struct.unpack_from("<I", img.data, pe + 8)[0], cv)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Image]:
    _need_tools()
    tmp = tmp_path_factory.mktemp("pe_unwind")
    (tmp / "prog.c").write_text(C_PROGRAM)
    (tmp / "seh.s").write_text(ASM_PROGRAM)
    link = ["lld-link-14", "/nodefaultlib", "/entry:mainCRTStartup", "/subsystem:console"]
    # (no stack probes: the images link without a C runtime to provide __chkstk)
    _run(["clang-14", "--target=x86_64-pc-windows-msvc", "-g", "-gcodeview", "-O2", "-fomit-frame-pointer",
          "-mno-stack-arg-probe", "-c", "prog.c", "-o", "clang.obj"], tmp)
    _run(link + ["/debug", "/pdb:clang.pdb", "/out:clang.exe", "clang.obj"], tmp)
    _run(["x86_64-w64-mingw32-gcc", "-O2", "-fomit-frame-pointer", "-mno-stack-arg-probe", "-nostdlib",
          "-e", "mainCRTStartup", "prog.c", "-o", "mingw.exe"], tmp)
    _run(["clang-14", "--target=x86_64-pc-windows-msvc", "-c", "seh.s", "-o", "seh.obj"], tmp)
    _run(link + ["/out:seh.exe", "seh.obj"], tmp)
    return {n: Image(tmp / (n + ".exe")) for n in ("clang", "mingw", "seh")}


Frames = List[Tuple[int, int]]


def _walk(img: Image, cache: bytes, chain: List[Func], machframe: bool, k: int) -> Tuple[Frames, Frames]:
    """Runs ``chain`` (outermost first), stops the innermost after ``k`` prologue
    instructions: (expected frames, walked frames), each (pc, sp), innermost first."""
    m = Machine(len(chain) * 100 + k)
    expected: List[Tuple[int, int]] = []
    for i, f in enumerate(chain):
        pro = img.prologue(f)
        last = i == len(chain) - 1
        for _, text in (pro[:k] if last else pro):
            m.run(text)
        if last:
            pc = pro[k][0] if k < len(pro) else f.start + f.prolog
            break
        if f.frame_reg is not None:
            m.regs["rsp"] -= 0x40  # the body's own allocation (alloca): the frame register covers it
        m.clobber(f.frame_reg)
        ret, caller_sp = img.call_site(f), m.regs["rsp"]
        expected.append((ret, caller_sp))
        if machframe and i == len(chain) - 2:
            # An interrupt: the machine frame (error code, rip, cs, rflags, rsp, ss) lands on
            # an aligned stack below, not next to the interrupted frame.
            m.regs["rsp"] = (m.regs["rsp"] - 0x100) & ~15
            for v in reversed([0xE, ret, 0x33, 0x246, caller_sp, 0x2B]):
                m.push(v)
        else:
            m.push(ret)
    dump = _minidump(img, m, pc)
    doc = walk_minidump(dump, [(0, cache)], get_runtime())
    frames = [(int(f["pc"], 16), int(f["sp"], 16)) for f in doc["threads"][0]["frames"]]
    return [(pc, m.regs["rsp"])] + expected[::-1], frames


SCENARIOS = {
    # image: chains of function names (outermost first) by the order of their starts
    "clang": [["withfp", "many", "leafish"]],
    "mingw": [["withfp", "many", "leafish"]],
    "seh": [["f_save", "chain_child"], ["f_save", "f_mach"]],
}
# The C functions in address order (crash, leafish, many, withfp) and the assembly's
# RUNTIME_FUNCTIONs (f_save, f_mach, chain_parent, chain_child).
ORDER = {"clang": ["leafish", "many", "withfp"], "mingw": ["crash", "leafish", "many", "withfp", "mainCRTStartup"],
         "seh": ["f_save", "f_mach", "chain_parent", "chain_child"]}


def _named(img: Image, name: str, which: str) -> Func:
    funcs = sorted(img.funcs.values(), key=lambda f: f.start)
    return funcs[ORDER[name].index(which)]


def test_images_cover_the_codes(images: Dict[str, Image]) -> None:
    seen = {c for img in images.values() for f in img.funcs.values() for c in f.codes}
    assert {"PUSH_NONVOL", "ALLOC_SMALL", "ALLOC_LARGE", "SET_FPREG", "SAVE_NONVOL", "SAVE_NONVOL_FAR",
            "SAVE_XMM128", "PUSH_MACHFRAME"} <= seen, seen
    assert any(f.chained is not None for f in images["seh"].funcs.values())
    assert len(images["clang"].funcs) == 3 and len(images["mingw"].funcs) == 5, \
        {n: [hex(f.start) for f in i.funcs.values()] for n, i in images.items()}


@pytest.mark.parametrize("name", ["clang", "mingw", "seh"])
def test_synthetic_crash_walks_through_every_prologue_step(images: Dict[str, Image], name: str, engine: str) -> None:
    img = images[name]
    obj = pysym.Object.from_path(img.path)
    assert obj.features["has_unwind_info"] is True
    cache, rows, warnings = build_cfi(str(img.path))
    assert cache[:8] == b"PYCF\x02\0\0\0" and rows > 0 and warnings == []
    walks = 0
    for chain_names in SCENARIOS[name]:
        chain = [_named(img, name, n) for n in chain_names]
        machframe = chain_names[-1] == "f_mach"
        for depth in range(2, len(chain) + 1):
            sub = chain[:depth]
            for k in range(len(img.prologue(sub[-1])) + 1):
                expected, frames = _walk(img, cache, sub, machframe and depth == len(chain), k)
                assert frames[: len(expected)] == expected, (name, chain_names[:depth], k,
                                                             [(hex(a), hex(b)) for a, b in expected],
                                                             [(hex(a), hex(b)) for a, b in frames])
                walks += 1
    assert walks >= 4


def test_process_minidump_unwinds_by_the_image_from_a_store(images: Dict[str, Image], engine: str,
                                                            tmp_path: Path) -> None:
    """End to end: the dump's module found in a symbol-server store (image and PDB), its
    CFI cache built from the image's .pdata, the frames named by the PDB."""
    img = images["clang"]
    chain = [_named(img, "clang", n) for n in ("withfp", "many", "leafish")]
    m = Machine(1)
    for f in chain[:-1]:
        for _, text in img.prologue(f):
            m.run(text)
        if f.frame_reg is not None:
            m.regs["rsp"] -= 0x40
        m.clobber(f.frame_reg)
        m.push(img.call_site(f))
    pc = chain[-1].start + chain[-1].prolog
    for _, text in img.prologue(chain[-1]):
        m.run(text)
    dump = _minidump(img, m, pc)
    md = pysym.Minidump.from_bytes(dump)
    mod = md.modules[0]
    assert mod.codeview == "pdb70" and mod.debug_id
    exe_dir = tmp_path / "store" / "clang.exe" / mod.code_id.upper()
    exe_dir.mkdir(parents=True)
    shutil.copy(img.path, exe_dir / "clang.exe")
    bp = mod.debug_id.replace("-", "").upper()
    pdb_dir = tmp_path / "store" / "clang.pdb" / bp
    pdb_dir.mkdir(parents=True)
    shutil.copy(img.path.with_suffix(".pdb"), pdb_dir / "clang.pdb")
    r = pysym.Symbolicator([pysym.FilesystemStore(tmp_path / "store", layout="symstore")],
                           cache_dir=tmp_path / "cache").process_minidump(dump)
    (module,) = r["modules"]
    assert (module["unwind_status"], module["debug_status"]) == ("found", "found"), module
    assert module["features"]["has_unwind_info"] is True
    frames = r["stacktraces"][0]["frames"]
    assert [(f["function"], f["trust"]) for f in frames] == [("leafish", "context"), ("many", "cfi"),
                                                             ("withfp", "cfi")], frames
