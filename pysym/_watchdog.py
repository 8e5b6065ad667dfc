"""Watchdog mode (``Limits(watchdog=True)``): CPU limits for engines without budgets.

wasmer 1.1 has no fuel and no epoch interruption, and it holds the GIL during a call, so
nothing in the process can stop a runaway call. In watchdog mode every *heavy* call
(parsing a source map or its generated file, loading or building a symcache or a CFI
cache, reading an object's identity, parsing or walking a minidump) is
first run in a persistent child process (``python -m pysym._watchdog_child``) on the same
engine and limits; the child is killed at ``Limits.timeout`` and the call raises
:class:`pysym.TimeLimitError` without ever running in this process. When the child
finishes (with a result or a typed error), the call runs here, bounded by what the child
just showed. Cost: a second run of every heavy call plus the copy of its input to the
child (the child's start, 1-2 s for a Python start and a module compile, happens once per
runtime and again after each kill, and does not count against the deadline); lookups are
not guarded (they are logarithmic).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import time
from typing import Any, List, Optional

HEAVY = frozenset([
    "pysym_sourcemap_from_bytes",
    "pysym_sourcemap_from_file",
    "pysym_symcache_from_bytes",
    "pysym_symcache_from_file",
    "pysym_symcache_build",
    "pysym_object_info",
    "pysym_minidump_parse",
    "pysym_minidump_open",
    "pysym_minidump_walk",
    "pysym_minidump_walk_open",
    "pysym_unwind_build",
    "pysym_sourcemap_set_generated",
])


class Watchdog:
    """A persistent child process (``python -m pysym._watchdog_child``) that runs heavy calls
    first; killed and replaced when a call overruns. Its start (a Python start and a
    module compile) is not counted against the deadline."""

    def __init__(self) -> None:
        self.proc: Optional[subprocess.Popen] = None  # type: ignore[type-arg]
        self.key: Any = None
        self.lock = threading.Lock()

    def _spawn(self, engine: str, limits: Any) -> "subprocess.Popen[bytes]":
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        head = json.dumps({"engine": engine, "memory": limits.memory, "max_input_size": limits.max_input_size})
        proc = subprocess.Popen(
            [sys.executable, "-m", "pysym._watchdog_child", head], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        assert proc.stdout is not None
        if proc.stdout.read(1) != b"R":  # ready: module compiled, instance started
            proc.kill()
            proc.wait()
            raise OSError("the watchdog child process did not start")
        return proc

    def kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()
            proc.wait()

    def check(self, engine: str, limits: Any, name: str, data: Optional[bytes], path: Optional[str],
              arch: Optional[str], extra: Optional[bytes] = None) -> None:
        """Runs the heavy call ``name`` in the child; raises TimeLimitError if it overruns.
        ``extra``: the call's second input (a walk's CFI caches, a map's generated file)."""
        from ._errors import SandboxError, TimeLimitError

        with self.lock:
            key = (engine, limits.memory, limits.max_input_size)
            if self.proc is None or self.key != key or self.proc.poll() is not None:
                self.kill()
                self.proc = self._spawn(engine, limits)
                self.key = key
            proc = self.proc
            tail = extra or b""
            head = json.dumps({"name": name, "path": path, "arch": arch, "extra": len(tail)}).encode()
            body = (data or b"") + tail
            msg = struct.pack("<II", len(head), len(body)) + head + body
            answer: List[bytes] = []
            answered_at: List[float] = []

            def talk() -> None:
                try:
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(msg)
                    proc.stdin.flush()
                    answer.append(proc.stdout.read(1))
                except Exception:
                    answer.append(b"")
                answered_at.append(time.monotonic())

            started = time.monotonic()
            t = threading.Thread(target=talk, name="pysym-watchdog", daemon=True)
            t.start()
            t.join(limits.timeout)
            # An answer that came after the deadline (while this thread waited for the GIL)
            # is an overrun too: the outcome must not depend on scheduling.
            if not answered_at or answered_at[0] - started > limits.timeout:
                self.kill()
                t.join()
                raise TimeLimitError(
                    "%s exceeded its time limit (%ss) in the watchdog child process" % (name, limits.timeout)
                )
            if answer[0] != b"K":
                self.kill()
                raise SandboxError("%s crashed the watchdog child process" % name)
