"""The public native API: :class:`Object`, :class:`SymCache` and :class:`Frame`.

Debug files (ELF, Mach-O, universal Mach-O, Breakpad .sym, WebAssembly) are read by the wasm module through the
host's file table, by ranges; symcaches (pysym's own format, ``wasm/core/src/symcache``)
are loaded without copying anything but their bytes into the module.
"""

from __future__ import annotations

import array
import collections
import contextlib
import functools
import gc
import itertools
import json
import operator
import os
import re
import stat
import struct
import sys
import typing
import weakref
import zlib
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union, overload

from . import _abi, _wire
from ._errors import FileChangedError, PysymError
from ._host import BuildOutput, HandleOwner, PinnedFile, Runtime, StringTable, get_runtime

__all__ = ["Object", "SymCache", "Frame", "LookupResults"]

_NONE = _abi.NONE
_BATCH = 1 << 16  # addresses per boundary crossing
# Line and column numbers up to this share one int object each (_SymCache._numbers):
# fewer allocations per frame, and fewer objects for the collector to visit.
_SHARED_NUMBERS = 1 << 16
_SEND_REPEATS = 1 << 18  # ids (1 MB) a location request may repeat (_need)
_CHAIN_START, _CHAIN_END = _wire.LOCATION_CHAIN_START, _wire.LOCATION_CHAIN_END
_SWEEP = 1 << 11  # frames made between two young-generation passes (_frames_swept)

PathOrBytes = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]
# A batch's rows, and its spans in _flat (starts, ends), as the module placed them.
_Placed = Tuple[Sequence[int], Tuple[Sequence[int], Sequence[int]]]


class Frame(NamedTuple):
    """One frame of a native lookup.

    ``function`` is demangled, ``raw_function`` as stored in the debug file; ``file`` is
    the full path (compilation directory, directory and name joined); ``line`` and
    ``column`` are 1-based, ``None`` when unknown; ``sym_addr`` is the start of the
    function (or of the inlined instance), relative to the image base; ``inlined`` tells
    that this frame was inlined into the next one.

    A named tuple: immutable, fields by name or position, ``_asdict()`` for a dict.
    """

    # A tuple, not a slotted object: a cold batch makes hundreds of thousands of frames,
    # and a tuple is made in one step from its fields (_frames), three times faster than
    # filling slots, and cheaper to free.
    function: Optional[str]
    raw_function: Optional[str]
    file: Optional[str]
    line: Optional[int]
    column: Optional[int]
    sym_addr: int
    inlined: bool


# Top byte of a caller word -> inlined: 0xFF only in NONE (location ids are far below
# 0xFF000000: the module's memory, 1 GB at most, holds a record per id).
_INLINED = bytes([1] * 255 + [0])
_TOP_BYTE = 3 if sys.byteorder == "little" else 0


def _all_zero(values: "Union[array.array[int], memoryview, bytes]") -> bool:
    """Whether every value is 0, at C speed (``any`` makes an int object per value)."""
    return not bytes(values).strip(b"\0")


def _inlined(callers: memoryview) -> Iterable[bool]:
    """Whether each caller word names a caller (is not NONE), at C speed (only the top
    bytes copied): a view iterated as bools, no list of its own (a cold batch's would be
    a megabyte of fresh memory)."""
    top = callers.cast("B")[_TOP_BYTE::4].tobytes()
    return memoryview(top.translate(_INLINED)).cast("?")


# Where the two high bytes of each u32 are in its bytes (_below_65536).
_HIGH_HALF = (2, 3) if sys.byteorder == "little" else (0, 1)


def _below_65536(words: bytes) -> bool:
    """Whether every u32 of ``words`` (native order) is below 65,536, at C speed."""
    return not (words[_HIGH_HALF[0]::4] + words[_HIGH_HALF[1]::4]).strip(b"\0")


def _frames_swept(columns: Iterable[Iterable[Any]], collect: bool) -> List[Frame]:
    """Frames from one iterable per field (in field order), made at C speed, with the
    collector paused; with ``collect``, a young-generation pass
    after each _SWEEP frames: a frame holds no container, so the pass that first meets
    it stops tracking it, and it costs least while those frames are still in the CPU
    cache (one pass over 100,000s of frames after the pause misses it at each frame)."""
    made = map(tuple.__new__, itertools.repeat(Frame), zip(*columns))
    if not collect:
        return list(made)
    out: List[Frame] = []
    while True:
        n = len(out)
        out.extend(itertools.islice(made, _SWEEP))
        gc.collect(0)
        if len(out) - n < _SWEEP:
            return out


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses the cyclic garbage collector while a batch decodes locations.

    Decoding allocates a frame and a chain per location, 100,000s per cold batch: no
    cycles, but enough allocations to trigger collections that rescan every cached frame.
    (The result lists are made with the collector running: its young-generation passes
    then find them still in the CPU cache, cheaper than one pass over all of them later.)
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def file_stamp(st: os.stat_result) -> str:
    """What changes whenever a file's bytes may have (ctime: no one can set it back); the
    disk cache's record of an entry keeps it."""
    return "%d %d %d %d %d" % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    return bytes(memoryview(data).cast("B"))


class _Source:
    """A debug file's bytes, or the file at a path opened once (``_host.PinnedFile``: the
    same bytes for every call, such as ``Object`` then ``SymCache.from_object``), put in
    the runtime's file table for the length of a call."""

    def __init__(self, source: PathOrBytes) -> None:
        self.file: Optional[PinnedFile] = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            self.data: Optional[bytes] = _as_bytes(source)
        else:
            self.data = None
            self.file = PinnedFile(os.fspath(source))  # OSError here, before the sandbox

    def call(self, rt: Runtime, name: str, *args: int) -> int:
        if self.file is not None:
            # In place rewrites between two calls (reading an Object, then building from
            # it) are refused; a rename or a delete is not seen: the descriptor reads on.
            return self.file.call(rt, "debug file", name, *args)
        assert self.data is not None
        fh = rt.files.add(self.data)
        try:
            return rt.call(name, fh, *args)
        finally:
            rt.files.remove(fh)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _write_atomic(path: str, data: bytes) -> None:
    """``data`` to ``path`` through a temporary file in the same directory and a rename."""
    path = os.path.realpath(path)  # through a symlink, as open(path, "wb") would write
    tmp = os.path.join(os.path.dirname(path), ".%s.%s.tmp" % (os.path.basename(path), os.urandom(6).hex()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_BINARY", 0), 0o666)  # the umask applies, as for open()
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))  # replacing: keep its mode
            except FileNotFoundError:
                pass
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _arch_arg(rt: Runtime, arch: Optional[str]) -> Tuple[int, int]:
    if not arch:
        return 0, 0
    raw = arch.encode("utf-8")
    return rt.input_buffer(raw), len(raw)


def _identity(rt: Runtime) -> Tuple[List[Optional[str]], int, int, int, Optional[int]]:
    """The identity out record: (string table, image base, flags, extra, code offset)."""
    w = rt.out(_wire.IDENTITY_WORDS)
    table = rt.string_table(rt.result_bytes())  # (the record starts as a result buffer)
    base = w[_wire.IDENTITY_BASE_LO] | (w[_wire.IDENTITY_BASE_HI] << 32)
    code = _u64_or_none(w[_wire.IDENTITY_CODE_OFFSET_LO], w[_wire.IDENTITY_CODE_OFFSET_HI])
    return table, base, w[_wire.IDENTITY_FLAGS], w[_wire.IDENTITY_EXTRA], code


def _u64_or_none(lo: int, hi: int) -> Optional[int]:
    return None if lo == _NONE and hi == _NONE else lo | (hi << 32)


class Object:
    """Identity of a native debug file (ELF, Mach-O; a universal Mach-O by ``arch``).

    Attributes: ``kind`` (``"elf"``, ``"macho"``, ``"breakpad"``, ``"wasm"``), ``arch``
    (Mach-O by subtype as Apple's tools name it: ``armv7``, ``arm64e``, ``x86_64h``, ...),
    ``debug_id``, ``code_id`` (ELF build ID as hex, ``None`` when absent), ``image_base``,
    ``has_debug_info``, ``has_symbols``, ``has_unwind_info`` (also as the ``features`` dict);
    ``debug_file`` (a wasm module's
    ``external_debug_info``: where its DWARF is, else ``None``); ``code_offset`` (wasm: file
    offset of the code section's contents, where addresses start: a module offset as
    browsers print it minus ``code_offset`` is the address to look up; ``None`` for other
    kinds); ``warnings`` (a tuple of short lines telling what reading the headers skipped;
    DWARF defects show in :attr:`SymCache.warnings` of a build); ``debuglink`` (ELF
    ``.gnu_debuglink``: ``(file name, CRC-32)`` of the separate debug file, ``None``
    without one).
    """

    kind: str
    arch: str
    debug_id: str
    code_id: Optional[str]
    image_base: int
    has_debug_info: bool
    has_symbols: bool
    has_unwind_info: bool
    debuglink: Optional[Tuple[str, int]]
    debug_file: Optional[str]
    code_offset: Optional[int]
    warnings: Tuple[str, ...]

    def __init__(self, source: PathOrBytes, arch: Optional[str] = None, runtime: Optional[Runtime] = None) -> None:
        self._source = _Source(source)
        self._arch = arch
        rt = runtime if runtime is not None else get_runtime()
        with rt.lock:
            ptr, n = _arch_arg(rt, arch)
            rt.check(self._source.call(rt, "pysym_object_info", ptr, n, rt.out_slot))
            table, base, flags, crc, code_offset = _identity(rt)
        kind, arch_name, debug_id, code_id, debug_file = table[:5]
        link = table[5] if len(table) > 5 else None
        self.debug_file = debug_file
        self.code_offset = code_offset
        self.warnings = tuple(w or "" for w in table[6:])
        self.kind = kind or ""
        self.arch = arch_name or ""
        self.debug_id = debug_id or ""
        self.code_id = code_id or None
        self.image_base = base
        self.has_debug_info = bool(flags & _abi.IDENTITY_FLAG_DEBUG_INFO)
        self.has_symbols = bool(flags & _abi.IDENTITY_FLAG_SYMBOLS)
        self.has_unwind_info = bool(flags & _abi.IDENTITY_FLAG_UNWIND)
        self.debuglink = (link, crc) if link else None

    @classmethod
    def from_path(cls, path: "Union[str, os.PathLike[str]]", *, arch: Optional[str] = None,
                  runtime: Optional[Runtime] = None) -> "Object":
        """Reads the identity of the debug file at ``path`` (only the headers are read)."""
        return cls(path, arch, runtime)

    @classmethod
    def from_bytes(cls, data: Any, *, arch: Optional[str] = None, runtime: Optional[Runtime] = None) -> "Object":
        """Reads the identity of a debug file in memory."""
        return cls(_as_bytes(data), arch, runtime)

    @property
    def features(self) -> Dict[str, bool]:
        """What the file can tell: ``has_debug_info``, ``has_symbols``, ``has_unwind_info``
        (``.eh_frame``/``.debug_frame`` with contents, or Breakpad ``STACK`` records)."""
        return {"has_debug_info": self.has_debug_info, "has_symbols": self.has_symbols,
                "has_unwind_info": self.has_unwind_info}

    def __repr__(self) -> str:
        return "<pysym.Object %s %s debug_id=%s>" % (self.kind, self.arch, self.debug_id)


#: What ``SymCache._read_info`` sets.
_SYMCACHE_INFO = frozenset(["kind", "arch", "debug_id", "code_id", "image_base", "has_debug_info", "has_symbols",
                            "range_count"])


class SymCache(HandleOwner):
    """A symcache loaded into the wasm sandbox; look up addresses relative to the image base.

    Build one with :meth:`from_object`, load a built one with :meth:`from_path` or
    :meth:`from_bytes`. Use it as a context manager or call :meth:`close`.
    """

    _FREE_EXPORT = "pysym_symcache_free"

    def __init__(self, data: Optional[bytes], path: Optional[str], runtime: Optional[Runtime] = None,
                 unchecked: bool = False, entry: Optional[Tuple[int, int, str]] = None,
                 deferred: bool = False) -> None:
        self._rt = runtime if runtime is not None else get_runtime()
        self._data = data
        self._path = path
        # Bytes the disk cache vouches for (checked when written, unchanged since): loaded
        # with the header and geometry checked only (pysym_symcache_from_bytes_unchecked).
        self._unchecked = (unchecked and data is not None) or entry is not None
        #: a disk cache entry read straight into the module: (size, CRC-32, stamp)
        self._entry = entry
        self._entry_read = False
        #: instance serial -> the entry mapped over its memory (_pagemap): the instance
        #: (weakly: a discarded one takes its mappings with it), ptr, size
        self._mapped: Dict[int, Tuple[Callable[[], Any], int, int]] = {}
        if data is None:
            assert path is not None
            self._pinned = PinnedFile(path)  # reloads read these very bytes (_host.PinnedFile)
        self._handles: Dict[int, int] = {}
        self._closed = False
        #: What the build skipped of a damaged debug file (:meth:`from_object` only), one
        #: short line per kind of defect; empty for a symcache loaded from bytes.
        self.warnings: Tuple[str, ...] = ()
        # Location ids are stable for these bytes, so what is decoded survives a reload.
        # A decoded location is one row: its record column by column in _cols
        # (_abi.LOCATION_WORDS columns: id, function, raw function, file, line, column,
        # address low and high, caller, chain start and end; the three names as slots of
        # _names, 0: none), its frames and JSON made from the row on demand. _row_of maps
        # a decoded location id to its row; NONE (nothing covers the address) is row 0,
        # the row of no frames. A dict, sized by what was read: an array indexed by id
        # would be as large as the largest id read (millions in a large symcache), and a
        # warm process's first request would pay its page faults.
        self._row_of: Dict[int, int] = {_NONE: 0}
        # Rows not in _row_of yet, as (ids, row of ids[0]): entry i is row first + i. A batch
        # whose ids were all new is answered by the module's places, not by _row_of, so
        # the map (~100 ns an entry) is filled when a later batch needs it (_row_index).
        self._unindexed: List[Tuple["array.array[int]", int]] = []
        self._cols = [array.array("I", [v]) for v in (_NONE, 0, 0, 0, 0, 0, 0, 0, _NONE, 0, 0)]
        # The names of each decoded result, appended in the module's order (its slots).
        self._names: List[Optional[str]] = [None]
        # Frames: each row's own frame in _row_frames (row 0 has none), for rows made so far.
        # A row's frames, innermost first, are _flat[chain start:chain end]: _flat holds
        # the frames of every chain the module wrote (a location's callers share the tail
        # of one chain). An address's list is one slice of _flat; no tuple per chain is
        # made (or visited by the collector). _unflat: the chains of each decoded result
        # not in _flat yet, as (r, entries): entry e is row r + e.
        self._row_frames: List[Optional[Frame]] = [None]
        self._flat: List[Frame] = []
        self._unflat: List[Tuple[int, "array.array[int]"]] = []
        self._chain_count = 0  # entries of every chain decoded, in _flat or _unflat
        self._numbers: List[Optional[int]] = [None]  # index n: n, 0: None (unknown)
        # JSON: one object per row (its own frame), and the rows of each row's chain
        # (itself, then its callers): an address's frames are a join, and the text of a
        # frame is kept once, not once per chain that holds it.
        self._json: List[str] = [""]
        self._json_chains: List[Tuple[int, ...]] = [()]
        self._json_strings: Dict[int, str] = {0: "null"}
        # Results with locations not decoded yet (decoded by close(), before the free).
        self._pending: Dict[int, "weakref.ReferenceType[LookupResults]"] = {}
        self._pending_keys = itertools.count()
        if not deferred:
            self._open(self._read_info)

    # -- construction --------------------------------------------------------------

    @classmethod
    def from_object(cls, source: "Union[PathOrBytes, Object]", *, arch: Optional[str] = None,
                    runtime: Optional[Runtime] = None,
                    progress: Optional[Callable[[float], None]] = None) -> "SymCache":
        """Builds a symcache from a debug file (a path, bytes, or an :class:`Object`).

        ``progress``, if given, is called with the fraction done (0.0 to 1.0) as the build
        goes on; raising ``KeyboardInterrupt`` from it abandons the build.
        """
        rt = runtime if runtime is not None else get_runtime()
        with rt.lock:
            data, warnings = cls._build(source, arch, rt, progress)
            # Loaded into the module on first use, not now: its bytes are held here already,
            # and the module's copy would come on top of them as the build ends (libLLVM:
            # +3.8 MB at the build's end), for a build that may only be written out.
            cache = cls(data, None, rt, deferred=True)
            cache.warnings = warnings
            return cache

    @staticmethod
    def _build(source: "Union[PathOrBytes, Object]", arch: Optional[str], rt: Runtime,
               progress: Optional[Callable[[float], None]] = None) -> Tuple[bytes, Tuple[str, ...]]:
        """The bytes and warnings of :meth:`from_object`'s build, not loaded (a build in a
        child process hands them to the parent, which loads them)."""
        if isinstance(source, Object):
            src, arch = source._source, arch or source._arch
        else:
            src = _Source(source)
        try:
            with rt.lock:
                ptr, n = _arch_arg(rt, arch)
                # The module streams the symcache out as it frees the build: the bytes land
                # here once (to_bytes() and rebuilding after a trap need them anyway) and are
                # loaded back in place of the build's memory. A symcache that could not be
                # loaded back is refused before it is written.
                output = rt.files.output = BuildOutput(min(rt.limits.memory, rt.limits.max_input_size))
                if progress is not None:
                    rt.files.on_progress = lambda done, total: progress(done / total if total else 1.0)
                try:
                    status = src.call(rt, "pysym_symcache_build", ptr, n, rt.out_slot)
                finally:
                    rt.files.on_progress = None
                    rt.files.output = None
                if status < 0 and output.error is not None:
                    if isinstance(output.error, PysymError):
                        raise output.error
                    try:
                        rt.check(status)
                    except PysymError as e:
                        raise e from output.error
                rt.check(status)
                out = rt.out(_wire.BUILD_OUT_WORDS)
                wptr, wlen = out[_wire.BUILD_OUT_WARNINGS_PTR], out[_wire.BUILD_OUT_WARNINGS_LEN]
                warnings = tuple(w or "" for w in StringTable(rt.current().instance.read(wptr, wlen)).to_list())
                size = out[_wire.BUILD_OUT_SIZE_LO] | (out[_wire.BUILD_OUT_SIZE_HI] << 32)
                return output.getvalue(size), warnings
        finally:
            if not isinstance(source, Object):
                src.close()  # its descriptor; an Object keeps its own

    @classmethod
    def from_path(cls, path: "Union[str, os.PathLike[str]]", *, runtime: Optional[Runtime] = None) -> "SymCache":
        """Loads a built symcache from a file.

        The file stays open (one descriptor, released by :meth:`close`): whenever the
        symcache is rebuilt in a fresh instance it is read again from the same bytes, or
        raises :class:`pysym.FileChangedError` if it was rewritten in place (SECURITY.md).
        """
        return cls(None, os.fspath(path), runtime)

    @classmethod
    def from_bytes(cls, data: Any, *, runtime: Optional[Runtime] = None) -> "SymCache":
        """Loads a built symcache from bytes (or any buffer)."""
        return cls(_as_bytes(data), None, runtime)

    @classmethod
    def _from_checked_bytes(cls, data: bytes, runtime: Optional[Runtime] = None) -> "SymCache":
        """Loads bytes that passed the full checks of :meth:`from_bytes` before and are
        known unchanged since (the disk cache's stamp or CRC-32): only the header and the
        sections' geometry are checked again. Never for bytes from anywhere else."""
        return cls(data, None, runtime, unchecked=True)

    @classmethod
    def _from_cache_entry(cls, path: str, size: int, crc: int, stamp: str,
                          runtime: Optional[Runtime] = None) -> "SymCache":
        """Loads the disk cache entry at ``path``, vouched for by its record (``size``
        bytes, CRC-32 ``crc``, the file's stamp ``stamp``), read straight into the module
        (no copy kept here: a reload reads the file again through the same descriptor, and
        its CRC-32 must be ``crc``). :class:`FileChangedError` if the file's stamp after the
        read is not ``stamp``."""
        return cls(None, path, runtime, entry=(size, crc, stamp))

    def _read_entry(self, rt: Runtime) -> int:
        """The entry's bytes in a fresh module allocation, proven those the cache vouched
        for: the first time by the file's stamp after the read, later by their CRC-32; a
        mapped entry (``_pagemap``) by the stamp at every read."""
        assert self._entry is not None and self._pinned is not None
        size, crc, stamp = self._entry
        with self._pinned.using("SymCache") as pf:
            ptr = rt.alloc_input(size)
            live = rt.current()
            mapped = live.instance.map_file(ptr, size, pf.fd)
            if mapped:
                # Pages are read as look-ups touch them, so the file must be the one the
                # cache vouched for at every read (the stamp has the ctime: any write).
                ok = file_stamp(os.fstat(pf.fd)) == stamp
            else:
                view = live.instance.memory_view(ptr, size) if hasattr(os, "preadv") else None
                if view is None:  # (an engine without a direct view: one copy)
                    data = pf.read(0, size)
                    live.instance.write(ptr, data)
                    view, done = memoryview(data), len(data)
                else:
                    done = 0
                    while done < size:
                        n = os.preadv(pf.fd, [view[done:]], done)
                        if n <= 0:
                            break
                        done += n
                if done != size:
                    ok = False
                elif not self._entry_read:
                    ok = file_stamp(os.fstat(pf.fd)) == stamp
                else:
                    ok = zlib.crc32(view) == crc
                del view
        if not ok:
            # (a mapping that cannot be undone stays allocated: no free over it)
            if not mapped or live.instance.unmap_file(ptr, size):
                rt.call("pysym_free", ptr, size)
            raise FileChangedError("%s changed on disk since this SymCache was opened" % self._pinned.path)
        if mapped:
            self._mapped = {s: m for s, m in self._mapped.items() if m[0]() is not None}
            self._mapped[live.serial] = (weakref.ref(live.instance), ptr, size)
        self._entry_read = True
        return ptr

    def _before_free(self, serial: int) -> Optional[Callable[[], bool]]:
        mapped = self._mapped.pop(serial, None)
        instance = mapped[0]() if mapped is not None else None
        if instance is None:
            return None
        assert mapped is not None
        unmap: Callable[[], bool] = functools.partial(instance.unmap_file, mapped[1], mapped[2])
        return unmap

    def _load(self) -> int:
        rt = self._rt
        live = rt.current()
        if self._data is None and self._entry is not None:
            ptr = self._read_entry(rt)
            status = -1
            try:
                status = rt.call("pysym_symcache_from_bytes_unchecked", ptr, self._entry[0], rt.out_slot)
            finally:
                if status < 0:
                    # The module freed the memory (it owns it whatever the outcome): pages
                    # put back now would wipe the allocator's records, so it stays mapped.
                    self._mapped.pop(live.serial, None)
        elif self._data is not None:
            ptr = rt.put_input(self._data)
            export = "pysym_symcache_from_bytes_unchecked" if self._unchecked else "pysym_symcache_from_bytes"
            status = rt.call(export, ptr, len(self._data), rt.out_slot)
        else:
            assert self._pinned is not None
            status = self._pinned.load(rt, "pysym_symcache_from_file", self._FREE_EXPORT, "SymCache")
        rt.check(status)
        handle = rt.out(1)[0]
        self._handles[live.serial] = handle
        return handle

    if not typing.TYPE_CHECKING:  # (to mypy, attribute names stay checked)

        def __getattr__(self, name: str) -> Any:
            # Only for what is missing: the identity of a build's symcache (``deferred``),
            # read when first asked for.
            if name in _SYMCACHE_INFO and "_rt" in self.__dict__:
                with self._rt.lock:
                    self._read_info()
                return self.__dict__[name]
            raise AttributeError("%r object has no attribute %r" % (type(self).__name__, name))

    def _read_info(self) -> None:
        rt = self._rt
        rt.check(rt.call("pysym_symcache_info", self._h(), rt.out_slot))
        table, base, flags, ranges, _ = _identity(rt)
        kind, arch, debug_id, code_id = table[:4]
        self.kind: str = kind or ""
        self.arch: str = arch or ""
        self.debug_id: str = debug_id or ""
        self.code_id: Optional[str] = code_id or None
        self.image_base: int = base
        self.has_debug_info = bool(flags & _abi.IDENTITY_FLAG_DEBUG_INFO)
        self.has_symbols = bool(flags & _abi.IDENTITY_FLAG_SYMBOLS)
        self.range_count: int = ranges

    # -- bytes ---------------------------------------------------------------------

    def _size(self) -> int:
        """Bytes of the symcache (without copying them out of the module)."""
        if self._data is not None:
            return len(self._data)
        if self._entry is not None:
            return self._entry[0]
        return len(self.to_bytes())

    def to_bytes(self) -> bytes:
        """The symcache's bytes (what :meth:`write` writes)."""
        if self._data is None:
            with self._rt.lock:
                rt = self._rt
                rt.check(rt.call("pysym_symcache_bytes", self._h(), rt.out_slot))
                self._data = rt.result_bytes()
        return self._data

    def write(self, path: "Union[str, os.PathLike[str]]") -> None:
        """Writes the symcache to ``path``, whole or not at all.

        The bytes go to a temporary file beside it, synced, then renamed over ``path``: a
        full disk or a crash leaves the old file (or none), never a truncated one.
        """
        _write_atomic(os.fspath(path), self.to_bytes())

    # -- lookups -------------------------------------------------------------------

    def lookup(self, addr: int) -> List[Frame]:
        """Frames at ``addr`` (relative to the image base), innermost first; ``[]`` if none."""
        return self.lookup_many([addr])[0]

    def lookup_many(self, addrs: Iterable[int]) -> "LookupResults":
        """Frames for many addresses, in one boundary crossing per 65,536 addresses.

        The answer is a :class:`LookupResults`: a read-only sequence with one list of
        frames per address, equal to the ``list[list[Frame]]`` it stands for. The module
        answers with location ids only; a location's frames are decoded when a result
        that holds it is first read, and kept (one entry per location read so far).
        """
        values = addrs if isinstance(addrs, (list, tuple, range)) else list(addrs)
        try:
            raw = array.array("Q", values)
        except OverflowError:
            raise ValueError("addresses must be integers in 0..2**64-1") from None
        if sys.byteorder == "big":
            raw.byteswap()
        view = memoryview(raw).cast("B")
        ids = array.array("I")
        rt = self._rt
        for start in range(0, len(raw), _BATCH):
            n = min(_BATCH, len(raw) - start)
            with rt.lock:
                h = self._h()
                ptr = rt.input_buffer(view[8 * start : 8 * (start + n)])
                rt.check(rt.call("pysym_symcache_lookup_many", h, ptr, n, rt.out_slot))
                ids.frombytes(rt.result_bytes())
        if sys.byteorder == "big":
            ids.byteswap()
        results = LookupResults(self, ids)
        # Kept (weakly) so that close() decodes what is not decoded yet: no check here, a
        # warm batch costs the crossing alone.
        key, pending = next(self._pending_keys), self._pending
        pending[key] = weakref.ref(results, lambda _r: pending.pop(key, None))
        return results

    # The location store. Decoding a location keeps its record (string ids and numbers,
    # no object per frame) in one row of _cols; frames, JSON and columns are made from
    # rows without the module, so results read after close() still answer.

    def _row_index(self) -> Dict[int, int]:
        """_row_of, with every row decoded so far in it."""
        if self._unindexed:
            with self._rt.lock:  # (rows are published to it whole)
                for ids, first in self._unindexed:
                    self._row_of.update(zip(ids, range(first, first + len(ids))))
                self._unindexed.clear()
        return self._row_of

    def _rows_and_spans(
        self, ids: "array.array[int]"
    ) -> Tuple[Sequence[int], Optional[Tuple[Sequence[int], Sequence[int]]]]:
        """The rows of ``ids``, decoding (one crossing) the locations not decoded yet, and
        their spans in _flat when that decode's answer gave them (else None)."""
        try:
            return list(map(self._row_index().__getitem__, ids)), None
        except KeyError:  # a location not decoded yet
            placed = self._need(ids)
            if placed is not None:
                return placed
        return list(map(self._row_index().__getitem__, ids)), None

    def _rows(self, ids: "array.array[int]") -> Sequence[int]:
        """The rows of ``ids``, decoding the locations not decoded yet."""
        return self._rows_and_spans(ids)[0]

    def _spans(self, ids: "array.array[int]") -> Tuple[Iterable[int], Iterable[int]]:
        """Where the frames of each of ``ids`` are in _flat (_chains_upto): their chain
        starts and ends, decoding the locations not decoded yet; from the module's answer
        when it gives them (no look-up of a span per id)."""
        rows, spans = self._rows_and_spans(ids)
        if spans is not None:
            return spans
        get, cols = operator.getitem, self._cols  # (an array's bound __getitem__ is slower)
        return map(get, itertools.repeat(cols[_CHAIN_START]), rows), map(get, itertools.repeat(cols[_CHAIN_END]), rows)

    def _need(self, ids: "array.array[int]") -> Optional[_Placed]:
        """Decodes the locations of ``ids`` not decoded yet, and their callers; the rows and
        spans of ``ids`` when the answer tells them (see _decode_locations), else None."""
        rt = self._rt
        with rt.lock:
            row_of = self._row_index()
            # Repeats are fine (the module answers each location once), up to a bound on
            # the module's input area: past it, each id is sent once.
            if len(row_of) == 1 and len(ids) <= _SEND_REPEATS:  # nothing decoded yet: every id is new
                return self._decode_locations(rt, self._h(), ids, True)
            new = itertools.compress(ids, map(operator.not_, map(row_of.__contains__, ids)))
            if len(ids) > _SEND_REPEATS:
                missing = array.array("I", set(new))
            else:
                missing = array.array("I", new)
                if len(missing) == len(ids) - ids.count(_NONE):
                    # every id is new (or NONE): sent as they are, the answer places each
                    return self._decode_locations(rt, self._h(), ids, True)
            if missing:
                self._decode_locations(rt, self._h(), missing, False)
        return None

    def _decode_locations(self, rt: Runtime, h: int, ids: "array.array[int]",
                          placed: bool) -> Optional[_Placed]:
        """Asks the module for locations (and their callers) and appends their rows; with
        ``placed`` (every id new or NONE), the rows of ``ids`` when the module's places give
        them (no caller decoded before: the records are the rows from the first new one),
        and their spans in _flat."""
        data = ids  # (sent as it is, not copied: the module copies it)
        if sys.byteorder == "big":
            data = array.array("I", ids)
            data.byteswap()
        ptr = rt.input_buffer(data)
        names = self._names
        row_of = self._row_index()
        rt.check(rt.call("pysym_symcache_locations_at", h, ptr, len(ids), len(names), rt.out_slot))
        # Decoded from a view of the module's memory (the result is copied once, into the
        # arrays): a view slices and unpacks as bytes do.
        view: Any = rt.result_view()
        found = _wire.decode_locations_at(view, len(ids))
        # (extended, not replaced by the list of the first names: a young list of 100,000s
        # of names would cost the collector's next young-generation pass a visit of each)
        names.extend(_split_names(found.names))  # the slots the records name
        columns = [found.locations, found.functions, found.raw_functions, found.files, found.lines, found.columns,
                   found.sym_addrs_lo, found.sym_addrs_hi, found.callers, found.chain_starts, found.chain_ends]
        first = len(self._cols[0])
        base = self._chain_count
        if base:  # spans are into this result's chains, appended after the earlier ones'
            for i in (_CHAIN_START, _CHAIN_END):
                columns[i] = array.array("I", map(base.__add__, columns[i]))
        chains = (first, found.chains)  # positions; the records are rows first, first + 1, ...
        rows: Optional[Sequence[int]] = None
        spans: Tuple[Sequence[int], Sequence[int]] = (found.place_starts, found.place_ends)
        # (nothing decoded yet: no caller can have a row)
        if len(row_of) > 1 and not row_of.keys().isdisjoint(columns[0]):
            # callers decoded by an earlier batch keep their rows
            ids = columns[0]
            new = list(map(operator.not_, map(row_of.__contains__, ids)))
            columns = [array.array("I", itertools.compress(c, new)) for c in columns]
            rows_of_new = dict(zip(columns[0], range(first, first + len(columns[0]))))
            rows_by_position = list(map(rows_of_new.get, ids, map(row_of.get, ids, itertools.repeat(0))))
            chains = (0, array.array("I", map(rows_by_position.__getitem__, found.chains)))
        elif placed:
            # place p (1-based) is row first - 1 + p; place 0 (NONE) is row 0
            places = found.places
            if first == 1:
                rows = places
            else:
                rows = [p + first - 1 if p else 0 for p in places]
            if base:  # (NONE's empty span moves too: still empty)
                spans = (array.array("I", map(base.__add__, spans[0])), array.array("I", map(base.__add__, spans[1])))
        # Callers come first in the result (smaller ids), so a caller's row always
        # precedes its callee's: JSON is made in row order. Rows are published (to the
        # id -> row map, _unindexed) after their columns and chains are complete.
        if first == 1:
            # the first rows: the decoded columns become the store (row 0 put in front
            # moves them in place), not copied into fresh memory again; so _cols is read
            # after _rows, never kept from before
            for col, values in zip(self._cols, columns):
                values.insert(0, col[0])
            self._cols = columns
            indexed = (columns[0], 0)  # (rows from 0: row 0 is in front now)
        else:
            for col, values in zip(self._cols, columns):
                col.extend(values)
            indexed = (columns[0], first)
        self._unflat.append(chains)
        self._chain_count += len(found.chains)
        self._unindexed.append(indexed)
        return None if rows is None else (rows, spans)

    def _caller_rows(self, start: int, end: int) -> List[int]:
        return list(map(self._row_index().__getitem__, self._cols[8][start:end]))  # NONE: row 0

    def _numbers_of(self, values: "array.array[int]") -> Iterable[Optional[int]]:
        """``values`` as lines or columns (0: ``None``, unknown)."""
        words = values.tobytes()
        if _all_zero(words):  # all unknown (PDB columns): no pass per value
            return itertools.repeat(None, len(values))
        numbers = self._numbers
        if 4 * len(values) > _SHARED_NUMBERS:
            # A batch this large fills the whole table at once, without a pass for its
            # largest value; a value past the table is its own int.
            if len(numbers) <= _SHARED_NUMBERS:
                numbers.extend(range(len(numbers), _SHARED_NUMBERS + 1))
            if _below_65536(words):  # every value in the table: read as the frames are made
                return map(numbers.__getitem__, values)
            try:
                return list(map(numbers.__getitem__, values))
            except IndexError:
                return map({0: None}.get, values, values)
        top = max(values, default=0)
        if top > _SHARED_NUMBERS or top > 4 * len(values):
            # (a few frames, as a crash request's per module: the table would cost more)
            return map({0: None}.get, values, values)
        if top >= len(numbers):
            numbers.extend(range(len(numbers), top + 1))
        return map(numbers.__getitem__, values)

    def _chains_upto(self) -> List[Frame]:
        """Makes the frames of every decoded row that has none yet; the frames of every
        chain (_flat), which the rows' chain spans index."""
        row_frames, flat = self._row_frames, self._flat
        if self._unflat or len(row_frames) < len(self._cols[0]):
            collect = gc.isenabled()
            with self._rt.lock, _collector_paused():  # rows are appended once, in order
                start, end = len(row_frames), len(self._cols[0])
                cols = self._cols

                def new_rows(c: "array.array[int]") -> Iterable[int]:
                    # iterated in place while few rows precede them (a cold batch's: 1),
                    # not copied into fresh memory
                    return itertools.islice(c, start, end) if 4 * start <= end - start else c[start:end]

                s = self._names.__getitem__
                made = _frames_swept((
                    map(s, new_rows(cols[1])),
                    map(s, new_rows(cols[2])),
                    map(s, new_rows(cols[3])),
                    self._numbers_of(cols[4][start:end]),
                    self._numbers_of(cols[5][start:end]),  # (all unknown in PDBs: checked there)
                    # (high address words all 0: the views go at once, the arrays stay growable)
                    new_rows(cols[6]) if _all_zero(memoryview(cols[7])[start:end]) else [
                        a | (b << 32) for a, b in zip(cols[6][start:end], cols[7][start:end])],
                    _inlined(memoryview(cols[8])[start:end]),
                ), collect)
                row_frames.extend(made)
                for first, entries in self._unflat:
                    # Entries are positions from row `first` (0: rows). The frames just made
                    # are indexed as they are (a copy of a list's tail increments every
                    # frame's count, each a cache miss in a cold batch); row 0, whose frame
                    # is None, is in no chain.
                    if first == start:
                        frames: List[Optional[Frame]] = made  # type: ignore[assignment]
                    else:
                        frames = row_frames[first:] if first else row_frames
                    flat.extend(map(frames.__getitem__, entries))  # type: ignore[arg-type]
                self._unflat.clear()
        return flat

    def _json_upto(self) -> List[Tuple[int, ...]]:
        """Makes the JSON object of every decoded row that has none yet; the chains of rows."""
        records, chains = self._json, self._json_chains
        # chains are appended last: a reader that finds them complete finds the records too
        if len(chains) < len(self._cols[0]):
            with self._rt.lock:  # rows are appended once, in order
                start, end = len(chains), len(self._cols[0])
                del records[start:]  # from a call that stopped half-way
                fn, rawfn, file, line, col, lo, hi = (c[start:end] for c in self._cols[1:8])
                callers = self._caller_rows(start, end)
                lit = self._json_strings
                for sid in set(itertools.chain(fn, rawfn, file)).difference(lit):
                    s = self._names[sid]
                    lit[sid] = "null" if s is None else _json_string(s)
                j = lit.__getitem__
                num = {0: "null"}.get
                records.extend(map(_JSON_FRAME.__mod__, zip(
                    map(j, fn), map(j, rawfn), map(j, file), map(num, line, line), map(num, col, col),
                    [a | (b << 32) for a, b in zip(lo, hi)] if any(hi) else lo,
                    map(("false", "true").__getitem__, map(operator.ne, callers, itertools.repeat(0))))))
                # chains[row] = (row,) + chains[caller's row], in row order (callers first).
                collections.deque(map(chains.append, map(
                    operator.add, zip(range(start, end)), map(chains.__getitem__, callers))), 0)
        return chains

    def close(self) -> None:
        """Frees the symcache inside the module; results read later still answer."""
        if not self._closed:
            try:
                for ref in list(self._pending.values()):
                    results = ref()
                    if results is not None:
                        self._rows(results._ids)
            except PysymError:
                pass  # those results raise it again when read
            self._pending.clear()
        super().close()

    def __repr__(self) -> str:
        return "<pysym.SymCache %s %s debug_id=%s>" % (self.kind, self.arch, self.debug_id)


_NULL_ENTRY = re.compile(b"\xff\xff\xff\xff")


def _split_names(data: "Union[bytes, memoryview]") -> List[Optional[str]]:
    """The strings of a locations_at string table, whose strings are each followed by a
    NUL: split at the NULs when there are as many as entries and no entry is null (then
    no string holds a NUL), else entry by entry. ``data`` may be a view of the module's
    memory: the text is decoded from it, not copied first."""
    count = struct.unpack_from("<I", data, 0)[0] if len(data) >= 4 else 0
    base = 4 + 8 * count
    # A null entry's length is NONE, four 0xFF bytes; no offset or length of a string
    # has a 0xFF top byte (results are far smaller), so no such run means no null entry.
    # (searched in place: the entries of a cold batch are a megabyte not worth copying)
    if len(data) >= base and _NULL_ENTRY.search(data, 4, base) is None:
        # as many NULs as entries: count + 1 pieces, the last one empty (the split is
        # the count: no pass of its own over the text)
        pieces = str(data[base:], "utf-8").split("\0")
        if len(pieces) == count + 1:
            del pieces[-1]
            return pieces  # type: ignore[return-value]
    return StringTable(bytes(data)).to_list()


_json_string: Callable[[str], str] = json.encoder.encode_basestring_ascii
_JSON_FRAME = ('{"function":%s,"raw_function":%s,"file":%s,"line":%s,"column":%s,"sym_addr":%d,'
               '"inlined":%s}')


class LookupResults(Sequence[List[Frame]]):
    """The answer of :meth:`SymCache.lookup_many`: one list of frames per address.

    A read-only sequence equal to the ``list[list[Frame]]`` it stands for (``list(r)``
    gives that list). It holds one location id per address; frames are made when read,
    once per location. Bulk readers that need no frame object use the columns
    (:attr:`functions`, :attr:`raw_functions`, :attr:`files`, :attr:`lines`: the
    innermost frame of each address, ``None`` where nothing covers it) or
    :meth:`to_json`. A damaged symcache can raise its error when a result is first read.
    """

    __slots__ = ("_cache", "_ids", "__weakref__")

    def __init__(self, cache: SymCache, ids: "array.array[int]") -> None:
        self._cache = cache
        self._ids = ids

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> List[Frame]: ...

    @overload
    def __getitem__(self, index: slice) -> "LookupResults": ...

    def __getitem__(self, index: Union[int, slice]) -> "Union[List[Frame], LookupResults]":
        if isinstance(index, slice):
            return LookupResults(self._cache, self._ids[index])
        ids = self._ids[index : index + 1 or None]
        if not ids:
            raise IndexError("LookupResults index out of range")
        cache = self._cache
        (row,) = cache._rows(ids)
        flat = cache._chains_upto()
        return flat[cache._cols[_CHAIN_START][row] : cache._cols[_CHAIN_END][row]]

    def __iter__(self) -> Iterator[List[Frame]]:
        cache = self._cache
        starts, ends = cache._spans(self._ids)
        # one list slice per address: its chain's span of the frames of every chain
        return map(cache._chains_upto().__getitem__, map(slice, starts, ends))

    def _location_rows(self) -> Tuple[Sequence[int], Callable[[int], List[Frame]]]:
        """Each address's location row (0: nothing covers it) and a function giving a
        row's frames. A row stays the same for the symcache's life: callers that make
        something once per location (the symbolicator's frame templates) key it by row
        and read the frames of new rows only."""
        cache = self._cache
        rows = cache._rows(self._ids)
        starts, ends = cache._cols[_CHAIN_START], cache._cols[_CHAIN_END]

        def frames_of(row: int) -> List[Frame]:
            return cache._chains_upto()[starts[row] : ends[row]]

        return rows, frames_of

    def _column(self, i: int) -> List[Any]:
        cache = self._cache
        rows = cache._rows(self._ids)  # (first: the first decode replaces the columns)
        values = list(map(operator.getitem, itertools.repeat(cache._cols[i]), rows))
        if i == 4:  # lines: 0 is unknown
            return list(map({0: None}.get, values, values))
        return list(map(cache._names.__getitem__, values))

    @property
    def functions(self) -> List[Optional[str]]:
        """The innermost frame's demangled function of each address."""
        return self._column(1)

    @property
    def raw_functions(self) -> List[Optional[str]]:
        """The innermost frame's function as stored in the debug file, of each address."""
        return self._column(2)

    @property
    def files(self) -> List[Optional[str]]:
        """The innermost frame's file of each address."""
        return self._column(3)

    @property
    def lines(self) -> List[Optional[int]]:
        """The innermost frame's line of each address (``None`` when unknown)."""
        return self._column(4)

    def to_json(self) -> str:
        """The results as a JSON array (one array of frame objects per address, the
        :class:`Frame` fields as keys), made without a Python object per frame."""
        if not self._ids:
            return "[]"
        cache = self._cache
        rows = cache._rows(self._ids)
        chains = cache._json_upto()
        frames = map(map, itertools.repeat(cache._json.__getitem__), map(chains.__getitem__, rows))
        bodies = "],[".join(map(",".join, frames))
        return "[[" + bodies + "]]"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LookupResults):
            if other._cache is self._cache and other._ids == self._ids:
                return True
            return list(self) == list(other)
        if isinstance(other, list):
            return len(other) == len(self) and list(self) == other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: object) -> List[List[Frame]]:
        if isinstance(other, (list, LookupResults)):
            return list(self) + list(other)
        return NotImplemented

    def __radd__(self, other: object) -> List[List[Frame]]:
        if isinstance(other, list):
            return other + list(self)
        return NotImplemented

    def __reduce__(self) -> Tuple[Any, ...]:
        return (list, (list(self),))  # pickles as the list it stands for

    def __repr__(self) -> str:
        return repr(list(self))
