"""The watchdog's child process (``python -m pysym._watchdog_child``): runs each heavy call
the parent sends on its own runtime and answers ``K`` when it ends (see ``_watchdog.py``).

Kept apart from ``_watchdog.py`` so that module imports nothing above it: the child needs
the whole package (``_host``), the parent side only ``_errors``.
"""

from __future__ import annotations

import json
import struct
import sys
from typing import Any, Optional

_EXIT_OK = 0


def _run_one(rt: Any, name: str, data: Optional[bytes], path: Optional[str], arch: Optional[str],
             extra: bytes = b"") -> None:
    import pysym
    from pysym._native import _Source
    from pysym._symbolicate import _minidump

    src: Any = path if data is None else data
    try:
        if name == "pysym_sourcemap_set_generated":
            with pysym.SourceMap(src, data is None, rt) as sm:
                sm.set_generated_source(extra)
        elif name.startswith("pysym_sourcemap_"):
            pysym.SourceMap(src, data is None, rt).close()
        elif name == "pysym_unwind_build":
            _minidump.build_cfi(src, arch, runtime=rt)
        elif name in ("pysym_minidump_walk", "pysym_minidump_walk_open"):
            # (the kept dump is the parent's: here it is parsed again, as by pysym_minidump_walk)
            s = _Source(src)
            try:
                _minidump._walk(s, rt, extra)
            finally:
                s.close()
        elif name == "pysym_symcache_build":
            pysym.SymCache.from_object(src, arch=arch, runtime=rt).close()
        elif name == "pysym_object_info":
            pysym.Object(src, arch, rt)
        elif name in ("pysym_minidump_parse", "pysym_minidump_open"):
            pysym.Minidump(src, rt)
        elif data is None:
            pysym.SymCache.from_path(src, runtime=rt).close()
        else:
            pysym.SymCache.from_bytes(src, runtime=rt).close()
    except (pysym.InvalidInputError, pysym.ResourceLimitError):
        pass  # the parent raises the same typed error, quickly


def _child() -> int:
    import pysym
    from pysym import _host

    conf = json.loads(sys.argv[1])
    limits = pysym.Limits(timeout=None, fuel_base=None, memory=conf["memory"],
                          max_input_size=conf["max_input_size"])
    rt = _host.Runtime(conf["engine"], limits=limits)
    rt.current()
    out = sys.stdout.buffer
    inp = sys.stdin.buffer
    out.write(b"R")
    out.flush()
    while True:
        sizes = inp.read(8)
        if len(sizes) < 8:
            return _EXIT_OK
        nh, nb = struct.unpack("<II", sizes)
        head = json.loads(inp.read(nh))
        body = inp.read(nb)
        n = head.get("extra", 0)
        extra, body = body[nb - n:], body[: nb - n]
        _run_one(rt, head["name"], body if head["path"] is None else None, head["path"], head["arch"], extra)
        out.write(b"K")
        out.flush()


if __name__ == "__main__":
    sys.exit(_child())
