"""Mapping a file over part of a linear memory that does not move (wasmtime with
``memory_may_move = False``), Linux only.

A symcache cache entry is read by look-ups a few pages at a time: copied into fresh wasm
memory, all of it is faulted in and copied first (about 9 ms for the 24 MB of a ten-module
crash). Mapped ``MAP_PRIVATE | MAP_FIXED`` over the allocation that holds it, a look-up
faults in only the pages it reads, straight from the page cache, and writes stay private
to the instance (copy-on-write): to the module it is ordinary memory. Before the module
frees the allocation the host puts anonymous zero pages back (:func:`unmap`), so no file
stays mapped behind the allocator's back.

A file cut short under a mapping kills the process with ``SIGBUS`` when a look-up reaches
a page past its new end, as it would symbolic, which mmaps its symcaches. Cache entries
are only ever replaced by rename and removed by unlink, and the cache directory is this
user's alone (SECURITY.md). Only files on local file systems are mapped: on a network
file system, another machine's eviction can make the pages unreadable (NFS: a stale file
handle), so those entries are read in whole, once, where an error is an error.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any, Optional

PAGE = 4096

_PROT_READ_WRITE = 0x1 | 0x2
_MAP_PRIVATE = 0x02
_MAP_FIXED = 0x10
_MAP_ANONYMOUS = 0x20
_MAP_FAILED = ctypes.c_void_p(-1).value

_mmap: Optional[Any] = None
_fstatfs: Optional[Any] = None

#: ``statfs.f_type`` of the local file systems whose files are mapped (linux/magic.h):
#: ext2/3/4, XFS, Btrfs, tmpfs, ramfs, overlayfs, F2FS, ZFS.
_LOCAL_FS = frozenset([0xEF53, 0x58465342, 0x9123683E, 0x01021994, 0x858458F6, 0x794C7630, 0xF2F52010,
                       0x2FC12FC1])


def _libc(name: str, restype: Any, argtypes: Any) -> Any:
    """The C library's function ``name`` typed as given, or False where there is none."""
    try:
        fn = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return False
    fn.restype, fn.argtypes = restype, argtypes
    return fn


def _libc_mmap() -> Optional[Any]:
    global _mmap
    if _mmap is None:
        if not sys.platform.startswith("linux") or os.environ.get("PYSYM_NO_FILE_MAPPING"):
            _mmap = False
        else:
            _mmap = _libc("mmap", ctypes.c_void_p,
                          [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long])
    return _mmap or None


def _on_local_fs(fd: int) -> bool:
    global _fstatfs
    if _fstatfs is None:
        _fstatfs = _libc("fstatfs", ctypes.c_int, [ctypes.c_int, ctypes.c_void_p])
    if not _fstatfs:
        return False
    buf = ctypes.create_string_buffer(256)  # struct statfs (120 bytes on 64-bit Linux)
    if _fstatfs(fd, buf) != 0:
        return False
    f_type = ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF  # (first field: __fsword_t f_type)
    return f_type in _LOCAL_FS


def pages(length: int) -> int:
    """``length`` rounded up to whole pages."""
    return (length + PAGE - 1) & ~(PAGE - 1)


def map_file(base: int, ptr: int, length: int, fd: int) -> bool:
    """Maps the first ``length`` bytes of ``fd`` at ``base + ptr`` (page-aligned; the
    caller owns the whole pages up to ``pages(length)``). False where it cannot be done
    (then the memory there is zero pages, as before the call, and the caller copies)."""
    mmap = _libc_mmap()
    if mmap is None or length <= 0 or (base + ptr) % PAGE or not _on_local_fs(fd):
        return False
    addr = base + ptr
    got = mmap(addr, pages(length), _PROT_READ_WRITE, _MAP_PRIVATE | _MAP_FIXED, fd, 0)
    if got == addr:
        return True
    if got != _MAP_FAILED:  # (the kernel honours MAP_FIXED or fails)
        raise OSError("mmap(MAP_FIXED) answered another address")
    # A failed MAP_FIXED may already have removed what was there.
    if not unmap(base, ptr, length):
        raise OSError("mmap(MAP_FIXED) failed and left a hole in the module's memory")
    return False


_madvise: Optional[Any] = None
_MADV_DONTNEED = 4
_MADV_HUGEPAGE = 14
_MADV_NOHUGEPAGE = 15

HUGE = 2 << 20
#: How far past its base a linear memory may be advised: the module caps its memory at
#: 1 GiB (``--max-memory``); the engines reserve at least that much address space for it.
HUGE_SPAN = 1 << 30
#: How much of a build's growth is advised: small builds gain most (libc's debug file:
#: ~20 MB of memory, -10% CPU on a first build), while a large one's later huge pages are
#: split again by its give-backs (libjvm's, 450 MB: 190 splits, +0.6 s of system time).
HUGE_AHEAD = 64 << 20

_thp_advised: Optional[bool] = None


def _libc_madvise() -> Optional[Any]:
    global _madvise
    if _madvise is None:
        _madvise = sys.platform.startswith("linux") and _libc(
            "madvise", ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int])
    return _madvise or None


def _thp_on_advice() -> bool:
    """Whether transparent huge pages form only where advised (``madvise``, a common
    default). With ``always`` they form anyway and advice would only take them away
    (``never``: nothing to do)."""
    global _thp_advised
    if _thp_advised is None:
        try:
            with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
                _thp_advised = "[madvise]" in f.read()
        except OSError:
            _thp_advised = False
    return _thp_advised


def advise_huge(base: int, start: int, huge: bool) -> bool:
    """Advises for (``huge``) or against 2 MiB transparent huge pages behind the linear
    memory at ``base`` from ``start`` (rounded up to 2 MiB) on, for the next
    ``HUGE_AHEAD`` bytes it grows into. A symcache build touches tens of MB of fresh
    memory: a few huge pages instead of thousands of page faults (the module grows its
    memory in whole 2 MiB regions for them, ``wasm/abi/src/alloc.rs``). Advised against once the build gives
    memory back: khugepaged would otherwise collapse every 2 MiB that kept a page into a
    whole huge page again (an idle instance's 6 MB of resident memory back to 32 MB within
    a minute). Only where THP is ``madvise``; False where nothing was done (harmless)."""
    if not _thp_on_advice():
        return False
    madvise = _libc_madvise()
    start = (start + HUGE - 1) & ~(HUGE - 1)
    if madvise is None or not base or base % PAGE or start >= HUGE_SPAN:
        return False
    end = min(start + HUGE_AHEAD, HUGE_SPAN)
    # (ENOMEM where the range passes the reservation: what is mapped is advised all the same)
    return bool(madvise(base + start, end - start, _MADV_HUGEPAGE if huge else _MADV_NOHUGEPAGE) == 0)


class HugeAdvice:
    """Huge-page advice for an engine's view of a linear memory (its ``base`` address and
    ``size``; ``huge_at``: where the advice starts, -1 for none)."""

    __slots__ = ("huge_at",)
    base: int
    size: int

    def advise_huge(self) -> None:
        """Huge pages for the memory's growth (``advise_huge``)."""
        if advise_huge(self.base, self.size, True):
            self.huge_at = self.size

    def unadvise_huge(self) -> None:
        """No more huge pages: the build is past its peak (its first ``discard``) or
        writing its output."""
        if self.huge_at >= 0:
            advise_huge(self.base, self.huge_at, False)
            self.huge_at = -1


def discard(base: int, ptr: int, length: int) -> bool:
    """Gives the whole pages ``[base + ptr, base + ptr + length)`` of a linear memory back
    to the system (ABI ``discard``: the module holds nothing there); they read as zeros
    afterwards (or as the engine's initial image, which the module does not mind either).
    False where it cannot be done: the pages then stay as they are, which is correct too."""
    madvise = _libc_madvise()
    if madvise is None or length <= 0 or (base + ptr) % PAGE or length % PAGE:
        return False
    return bool(madvise(base + ptr, length, _MADV_DONTNEED) == 0)


def unmap(base: int, ptr: int, length: int) -> bool:
    """Puts fresh anonymous pages back over ``map_file``'s mapping; False if that failed
    (the memory there may be a hole: the instance must not run again)."""
    mmap = _libc_mmap()
    if mmap is None:
        return False
    addr = base + ptr
    got = mmap(addr, pages(length), _PROT_READ_WRITE, _MAP_PRIVATE | _MAP_FIXED | _MAP_ANONYMOUS, -1, 0)
    return bool(got == addr)
