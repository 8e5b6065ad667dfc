"""Shared by tests/test_stackwalk.py and bench/bench_minidump.py: build the multi-threaded
crash program of tests/stackwalk (main with frame pointers, libwork.so without), crash
it under lldb-14, save a minidump, and read lldb's own ``bt all`` of that dump."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).parent / "stackwalk"
LLDB = shutil.which("lldb-14")
SYMBOLIZER = shutil.which("llvm-symbolizer-19")


def _string(s: str) -> bytes:
    b = s.encode("utf-16-le")
    return struct.pack("<I", len(b)) + b + b"\0\0"


def windows_dump(cpu: int, module: Tuple[int, int, str], context: bytes, stack_base: int, stack: bytes,
                 timestamp: int = 0, codeview: bytes = b"") -> bytes:
    """A minimal Windows minidump: system info (``cpu``: 0 x86, 9 x86_64), one module
    (base, size, file name; its PE ``timestamp`` and CodeView record) and one thread with
    ``context`` and its stack memory."""
    out = bytearray(32 + 3 * 12)
    streams = []

    def add(blob: bytes) -> int:
        out.extend(b"\0" * (-len(out) % 8))
        at = len(out)
        out.extend(blob)
        return at

    empty = add(_string(""))
    sysinfo = struct.pack("<HHHBBIIIIIHH24x", cpu, 6, 0, 2, 1, 10, 0, 19041, 2, empty, 0, 0)
    streams.append((7, len(sysinfo), add(sysinfo)))
    name = add(_string("C:\\app\\" + module[2]))
    cv = add(codeview) if codeview else 0
    modules = struct.pack("<I", 1) + struct.pack("<QIIII52xII8x16x", module[0], module[1], 0, timestamp, name,
                                                 len(codeview), cv)
    streams.append((4, len(modules), add(modules)))
    ctx_at = add(context)
    stack_at = add(stack)
    threads = struct.pack("<I", 1) + struct.pack("<IIIIQQIIII", 1, 0, 0, 0, 0, stack_base, len(stack), stack_at,
                                                 len(context), ctx_at)
    streams.append((3, len(threads), add(threads)))
    struct.pack_into("<IIIIIIQ", out, 0, 0x504D444D, 0xA793, len(streams), 32, 0, 0, 0)
    for i, s in enumerate(streams):
        struct.pack_into("<III", out, 32 + 12 * i, *s)
    return bytes(out)


def _run(cmd: List[str], cwd: Path) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


def build_and_dump(root: Path, threads: int) -> Path:
    """Builds the program in ``root`` and returns the minidump lldb saved at its crash."""
    src = root / "src"
    shutil.copytree(HERE, src)
    _run(["gcc", "-g", "-O2", "-fomit-frame-pointer", "-fPIC", "-shared", "work.c", "-o", "libwork.so"], src)
    _run(["gcc", "-g", "-O1", "-fno-omit-frame-pointer", "main.c", "-o", "main", "-L.", "-lwork", "-lpthread",
          "-Wl,-rpath,$ORIGIN"], src)
    dmp = root / "crash.dmp"
    assert LLDB is not None
    out = subprocess.run([LLDB, "-b", "-o", "run", "-k",
                          "process save-core --plugin-name=minidump --style stack %s" % dmp, "-k", "kill",
                          "--", "./main", str(threads)], cwd=src, capture_output=True, text=True, timeout=300).stdout
    assert dmp.is_file(), out
    return dmp


def lldb_backtraces(dump: Path, program: Path) -> List[List[Dict[str, Any]]]:
    """lldb's ``bt all`` of ``dump``: per thread, frames ``{addr, module, function, file,
    line}`` (``file``/``line`` ``None`` where lldb knows a symbol only)."""
    assert LLDB is not None
    out = subprocess.run([LLDB, "-b", "-c", str(dump), str(program), "-o", "bt all"],
                         capture_output=True, text=True, timeout=300).stdout
    threads: List[List[Dict[str, Any]]] = []
    for line in out[out.index("(lldb) bt all"):].splitlines():
        if re.match(r"^[* ] thread #\d+", line):
            threads.append([])
            continue
        m = re.search(r"frame #\d+: 0x([0-9a-f]+) (\S+?)`(.*?)(?: at ([^\s:]+):(\d+)(?::\d+)?)?$", line)
        if m and threads:
            addr, module, func, file, ln = m.groups()
            threads[-1].append({"addr": int(addr, 16), "module": module, "function": func, "file": file,
                                "line": int(ln) if ln else None})
    return threads


def symbolizer(path: str, rel: int) -> Optional[List[Any]]:
    """llvm-symbolizer-19's inline chain ``[(function, file name, line)]`` at a module offset."""
    if SYMBOLIZER is None:
        return None
    out = subprocess.run([SYMBOLIZER, "--inlining", "--relative-address", "-e", path, hex(rel)],
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()
    res = []
    for name, loc in zip(out[0::2], out[1::2]):
        file, line = loc.rsplit(":", 2)[0], loc.rsplit(":", 2)[1]
        res.append((name, file.rsplit("/", 1)[-1], int(line)))
    return res
