"""The public minidump API: :class:`Minidump` and its parts.

The dump is parsed inside the wasm module (``wasm/core/src/minidump``), read through the
host's file table by ranges: only its structures are read, the saved memory stays in the
file. The module hands back one JSON document (ABI.md "Minidump document"), decoded here
into frozen dataclasses.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

from ._host import Runtime, get_runtime
from ._native import PathOrBytes, _as_bytes, _collector_paused, _Source

__all__ = [
    "Minidump",
    "MinidumpSystemInfo",
    "MinidumpModule",
    "MinidumpThread",
    "MinidumpException",
    "MemoryRegion",
]


def _x(value: str) -> int:
    return int(value, 16)



def document(raw: bytes) -> Dict[str, Any]:
    """The module's JSON answer about a dump. Decoded with the cyclic collector paused: a
    dump of many threads makes 100,000s of dicts, and collections while they are made
    would rescan them all again and again (65,536 threads: minutes instead of seconds)."""
    with _collector_paused():
        doc: Dict[str, Any] = json.loads(raw.decode("utf-8"))
    return doc

@dataclass(frozen=True)
class MemoryRegion:
    """Memory saved in the dump: ``size`` bytes of the process at ``base``, found at
    ``file_offset`` in the dump."""

    base: int
    size: int
    file_offset: int

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "MemoryRegion":
        return cls(_x(d["base"]), _x(d["size"]), _x(d["file_offset"]))


@dataclass(frozen=True)
class MinidumpSystemInfo:
    """The ``SystemInfo`` stream. ``os`` is ``"windows"``, ``"linux"``, ``"android"``,
    ``"macos"``, ``"ios"``, ... or ``"unknown"``; ``cpu`` is pysym's architecture name
    (``"x86_64"``, ``"arm64"`` ...); ``csd_version`` is the service pack (Breakpad puts the
    kernel version there)."""

    os: str
    cpu: str
    os_version: Tuple[int, int, int]
    csd_version: Optional[str]
    cpu_vendor: Optional[str]
    processor_count: int
    processor_architecture: int
    platform_id: int


@dataclass(frozen=True)
class MinidumpModule:
    """A loaded module. ``debug_id`` is formatted as :attr:`pysym.Object.debug_id` (GUID,
    lowercase with dashes, ``-age`` in hex when not 0); ``code_id`` is the build id (ELF),
    UUID (Mach-O) or timestamp + image size (Windows); ``size`` is as the dump wrote it and
    ``extent`` the bytes the image covers (widened by the Linux maps stream: lldb writes
    the first segment's size)."""

    base: int
    size: int
    extent: int
    code_file: str
    code_id: Optional[str]
    debug_file: str
    debug_id: Optional[str]
    codeview: str
    version: Optional[str]


@dataclass(frozen=True)
class MinidumpThread:
    """A thread: ``registers`` holds only the registers its context marks as saved."""

    id: int
    name: Optional[str]
    stack: Optional[MemoryRegion]
    registers: Dict[str, int]
    context_layout: Optional[str]


@dataclass(frozen=True)
class MinidumpException:
    """The exception: ``reason`` is readable (``"EXCEPTION_ACCESS_VIOLATION_WRITE"``,
    ``"SIGSEGV / SEGV_MAPERR"``, ``"EXC_BAD_ACCESS / KERN_INVALID_ADDRESS"``)."""

    thread_id: int
    code: int
    flags: int
    address: int
    parameters: List[int]
    reason: str
    registers: Dict[str, int]


def _registers(ctx: Optional[Dict[str, Any]]) -> Dict[str, int]:
    if not ctx:
        return {}
    return {name: _x(value) for name, value in ctx["registers"]}


class Minidump:
    """A parsed minidump (Windows, Breakpad, Crashpad or lldb writers).

    Attributes: ``system_info``, ``modules``, ``threads``, ``exception``,
    ``crashed_thread`` (the index into ``threads``, or ``None``), ``memory_regions``
    (sorted by address), ``crashpad_annotations`` (the process's simple annotations),
    ``warnings`` (what in the dump was damaged, cut or skipped: a damaged dump gives a
    partial result, not an error) and ``document`` (every stream pysym reads, as the
    module returned it: ABI.md "Minidump document").

    Raises :class:`pysym.InvalidInputError` when the file is not a minidump.
    """

    system_info: Optional[MinidumpSystemInfo]
    modules: List[MinidumpModule]
    threads: List[MinidumpThread]
    exception: Optional[MinidumpException]
    crashed_thread: Optional[int]
    memory_regions: List[MemoryRegion]
    crashpad_annotations: Dict[str, str]
    warnings: List[str]
    document: Dict[str, Any]

    def __init__(self, source: PathOrBytes, runtime: Optional[Runtime] = None) -> None:
        src = _Source(source)
        rt = runtime if runtime is not None else get_runtime()
        try:
            with rt.lock:
                rt.check(src.call(rt, "pysym_minidump_parse", rt.out_slot))
                raw = rt.result_bytes()
        finally:
            src.close()
        self._read(document(raw))

    @classmethod
    def _from_document(cls, doc: Dict[str, Any]) -> "Minidump":
        md = cls.__new__(cls)
        md._read(doc)
        return md

    def _read(self, doc: Dict[str, Any]) -> None:
        self.document = doc
        si = doc["system_info"]
        self.system_info = None if si is None else MinidumpSystemInfo(
            si["os"], si["cpu"], tuple(si["os_version"]), si["csd_version"], si["cpu_vendor"],
            si["processor_count"], si["processor_architecture"], si["platform_id"],
        )
        self.modules = [
            MinidumpModule(_x(m["base"]), m["size"], _x(m["extent"]), m["code_file"], m["code_id"] or None,
                           m["debug_file"], m["debug_id"] or None, m["codeview"], m["version"])
            for m in doc["modules"]
        ]
        self.threads = [
            MinidumpThread(t["id"], t["name"], MemoryRegion._from(t["stack"]) if t["stack"] else None,
                           _registers(t["context"]), t["context"]["layout"] if t["context"] else None)
            for t in doc["threads"]
        ]
        e = doc["exception"]
        self.exception = None if e is None else MinidumpException(
            e["thread_id"], e["code"], e["flags"], _x(e["address"]), [_x(p) for p in e["parameters"]],
            e["reason"], _registers(e["context"]),
        )
        self.crashed_thread = doc["crashed_thread"]
        self.memory_regions = [MemoryRegion._from(r) for r in doc["memory"]]
        cp = doc["crashpad_info"]
        self.crashpad_annotations = dict(cp["simple_annotations"]) if cp else {}
        self.warnings = list(doc["warnings"])

    @classmethod
    def from_path(cls, path: "Union[str, os.PathLike[str]]", *, runtime: Optional[Runtime] = None) -> "Minidump":
        """Parses the minidump at ``path`` (only its structures are read)."""
        return cls(path, runtime)

    @classmethod
    def from_bytes(cls, data: Any, *, runtime: Optional[Runtime] = None) -> "Minidump":
        """Parses a minidump in memory."""
        return cls(_as_bytes(data), runtime)

    def module_at(self, addr: int) -> Optional[MinidumpModule]:
        """The module whose image (its ``extent``) holds ``addr``."""
        for m in self.modules:
            if m.base <= addr < m.base + m.extent:
                return m
        return None

    def __repr__(self) -> str:
        si = self.system_info
        return "<pysym.Minidump %s %s, %d modules, %d threads%s>" % (
            si.os if si else "?", si.cpu if si else "?", len(self.modules), len(self.threads),
            ", %s" % self.exception.reason if self.exception else "",
        )
