"""Shared by tests/test_stackwalk.py and bench/bench_minidump.py: build the multi-threaded
crash program of tests/stackwalk (main with frame pointers, libwork.so without), crash
it under lldb-14, save a minidump, and read lldb's own ``bt all`` of that dump."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

HERE = Path(__file__).parent / "stackwalk"
LLDB = shutil.which("lldb-14")
SYMBOLIZER = shutil.which("llvm-symbolizer-19")


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
