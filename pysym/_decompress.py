"""Compressed files from symbol servers, decompressed inside the sandbox.

``decompress(data)`` -> ``(format, bytes)`` for gzip, zstd and Microsoft cabinet files
(``foo.pd_``: the first file; stored or MSZIP folders).  The output is capped at
``max_size`` bytes (default: the runtime's ``Limits.max_input_size``); a compression bomb
raises :class:`pysym.ResourceLimitError` as soon as its output passes the cap.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from . import _wire
from ._host import Runtime, get_runtime

__all__ = ["decompress", "compression_of", "FORMATS"]

FORMATS = {1: "gzip", 2: "zstd", 3: "cab"}


def compression_of(head: bytes) -> Optional[str]:
    """The format the first bytes announce (the module decides for real), else ``None``."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if head[:4] == b"MSCF":
        return "cab"
    return None


def decompress(data: Any, *, max_size: Optional[int] = None, runtime: Optional[Runtime] = None) -> Tuple[str, bytes]:
    rt = runtime if runtime is not None else get_runtime()
    limit = rt.limits.max_input_size if max_size is None else int(max_size)
    limit = max(0, min(limit, 0xFFFFFFFF))
    with rt.lock:
        ptr = rt.put_input(data)
        rt.check(rt.call("pysym_decompress", ptr, len(memoryview(data).cast("B")), limit, rt.out_slot))
        fmt = rt.out(_wire.DECOMPRESS_OUT_WORDS)[_wire.DECOMPRESS_OUT_FORMAT]
        out = rt.result_bytes()
    return FORMATS.get(fmt, "unknown"), out
