"""Compiling in a child process made by ``fork()``.

Both engines compile with a pool of worker threads (rayon) made at the first compile and
kept for the life of the process. ``fork()`` copies only the thread that called it, so in
the child of a process that has compiled, or was compiling, a compile waits forever for
workers that do not exist (both wasmtime 50 and wasmer 1.1 hang there). Such a child
compiles in a fresh interpreter instead and loads the serialized result, which uses no
pool (~20 ms).
"""

from __future__ import annotations

import os
import sys
from typing import Optional

#: the process whose engines compile in-process; set before the first compile starts
_compiler_pid: Optional[int] = None
#: seconds a compile in a fresh process may take (2-4 s when the machine is idle)
COMPILE_TIMEOUT = 600.0

_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from pysym._engine._fork import _compile_to_stdout; _compile_to_stdout(sys.argv[2], sys.argv[3] == 'fuel')"
)


def may_compile_here() -> bool:
    """Whether this process may compile in-process; call right before compiling."""
    global _compiler_pid
    pid = os.getpid()
    if _compiler_pid is None:
        _compiler_pid = pid
    return _compiler_pid == pid


def compile_elsewhere(engine_name: str, wasm: bytes, counts_fuel: bool = False) -> bytes:
    """``wasm`` compiled by ``engine_name`` in a fresh interpreter: its serialized module
    (with code that counts fuel when ``counts_fuel``, see ``Engine.without_fuel``)."""
    from . import EngineUnavailable

    if not sys.executable:
        raise EngineUnavailable(
            "cannot compile the module in this forked process (the engine's compiler threads "
            "did not survive the fork) and there is no Python executable to compile it in a "
            "fresh process: set PYSYM_CACHE_DIR to a cache directory, or use the module in "
            "the parent before forking"
        )
    import subprocess  # only here (a process that loads a cached module never spawns)

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        r = subprocess.run(
            [sys.executable, "-c", _CHILD, root, engine_name, "fuel" if counts_fuel else "no-fuel"],
            input=wasm, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=COMPILE_TIMEOUT, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise EngineUnavailable("compiling the module in a fresh process failed: %s" % e) from None
    if r.returncode != 0 or not r.stdout:
        tail = r.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise EngineUnavailable(
            "compiling the module in a fresh process failed (exit %d): %s" % (r.returncode, tail[0])
        )
    return r.stdout


def _compile_to_stdout(engine_name: str, counts_fuel: bool) -> None:
    from . import load_engine

    engine = load_engine(engine_name)
    if not counts_fuel:
        engine = engine.without_fuel()
    module = engine.compile(sys.stdin.buffer.read())
    sys.stdout.buffer.write(engine.serialize(module))
    sys.stdout.flush()
