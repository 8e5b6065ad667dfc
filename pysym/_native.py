"""The public native API: :class:`Object`, :class:`SymCache` and :class:`Frame`.

Debug files (ELF, Mach-O, universal Mach-O, Breakpad .sym, WebAssembly) are read by the wasm module through the
host's file table, by ranges; symcaches (pysym's own format, ``wasm/core/src/symcache``)
are loaded without copying anything but their bytes into the module.
"""

from __future__ import annotations

import array
import collections
import contextlib
import gc
import itertools
import operator
import os
import struct
import sys
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from . import _abi
from ._errors import PysymError
from ._host import BuildOutput, HandleOwner, Runtime, StringTable, get_runtime

__all__ = ["Object", "SymCache", "Frame"]

_NONE = _abi.NONE
_BATCH = 1 << 16  # addresses per boundary crossing

PathOrBytes = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


@dataclass(frozen=True)
class Frame:
    """One frame of a native lookup.

    ``function`` is demangled, ``raw_function`` as stored in the debug file; ``file`` is
    the full path (compilation directory, directory and name joined); ``line`` and
    ``column`` are 1-based, ``None`` when unknown; ``sym_addr`` is the start of the
    function (or of the inlined instance), relative to the image base; ``inlined`` tells
    that this frame was inlined into the next one.
    """

    # Slots: a lookup cache holds hundreds of thousands of frames (88 bytes each instead of
    # ~400 with a __dict__), and a batch fills them column by column (_frames).
    __slots__ = ("function", "raw_function", "file", "line", "column", "sym_addr", "inlined")

    function: Optional[str]
    raw_function: Optional[str]
    file: Optional[str]
    line: Optional[int]
    column: Optional[int]
    sym_addr: int
    inlined: bool

    # Frozen dataclasses with slots need these to pickle (3.10's slots=True adds them).
    def __getstate__(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, n) for n in Frame.__slots__)

    def __setstate__(self, state: Tuple[Any, ...]) -> None:
        for n, v in zip(Frame.__slots__, state):
            object.__setattr__(self, n, v)


_FRAME_SETTERS = tuple(getattr(Frame, f.name).__set__ for f in fields(Frame))


def _frames(n: int, columns: Iterable[Iterable[Any]]) -> List[Frame]:
    """``n`` frames from one iterable per field (in field order), filled at C speed."""
    frames: List[Frame] = list(map(object.__new__, itertools.repeat(Frame, n)))
    for put, column in zip(_FRAME_SETTERS, columns):
        collections.deque(map(put, frames, column), 0)
    return frames


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


def _scatter(out: List[Any], positions: Iterable[int], ids: Iterable[int], chains: Dict[int, Any]) -> None:
    """``out[p] = list(chains[i])`` for each pair, at C speed (``operator.setitem`` takes
    its arguments without the tuple a bound ``out.__setitem__`` would build per call)."""
    collections.deque(map(operator.setitem, itertools.repeat(out), positions,
                          map(list, map(chains.__getitem__, ids))), 0)


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    return bytes(memoryview(data).cast("B"))


def _u32s(data: bytes, offset: int, count: int, typecode: str = "I") -> "array.array[int]":
    a = array.array(typecode)
    a.frombytes(data[offset : offset + 4 * count])
    if sys.byteorder == "big":
        a.byteswap()
    return a


class _Source:
    """A file path or bytes, put in the runtime's file table for the length of a call."""

    def __init__(self, source: PathOrBytes) -> None:
        if isinstance(source, (bytes, bytearray, memoryview)):
            self.path: Optional[str] = None
            self.data: Optional[bytes] = _as_bytes(source)
        else:
            self.path = os.fspath(source)
            self.data = None
            with open(self.path, "rb"):
                pass  # missing or unreadable files raise OSError here, before the sandbox

    def call(self, rt: Runtime, name: str, *args: int) -> int:
        if self.data is not None:
            fh = rt.files.add(self.data)
            try:
                return rt.call(name, fh, *args)
            finally:
                rt.files.remove(fh)
        assert self.path is not None
        with open(self.path, "rb") as f:
            fh = rt.files.add(f)
            try:
                return rt.call(name, fh, *args)
            finally:
                rt.files.remove(fh)


def _arch_arg(rt: Runtime, arch: Optional[str]) -> Tuple[int, int]:
    if not arch:
        return 0, 0
    raw = arch.encode("utf-8")
    return rt.input_buffer(raw), len(raw)


def _identity(rt: Runtime) -> Tuple[List[Optional[str]], int, int, int]:
    table = rt.string_table(rt.result_bytes())
    lo, hi, flags, extra = rt.out(6)[2:6]
    return table, lo | (hi << 32), flags, extra


class Object:
    """Identity of a native debug file (ELF, Mach-O; a universal Mach-O by ``arch``).

    Attributes: ``kind`` (``"elf"``, ``"macho"``, ``"breakpad"``, ``"wasm"``), ``arch``, ``debug_id``, ``code_id``
    (ELF build ID as hex, ``None`` when absent), ``image_base``, ``has_debug_info``,
    ``has_symbols``.
    """

    kind: str
    arch: str
    debug_id: str
    code_id: Optional[str]
    image_base: int
    has_debug_info: bool
    has_symbols: bool

    def __init__(self, source: PathOrBytes, arch: Optional[str] = None, runtime: Optional[Runtime] = None) -> None:
        self._source = _Source(source)
        self._arch = arch
        rt = runtime if runtime is not None else get_runtime()
        with rt.lock:
            ptr, n = _arch_arg(rt, arch)
            rt.check(self._source.call(rt, "pysym_object_info", ptr, n, rt.out_slot))
            (kind, arch_name, debug_id, code_id), base, flags, _ = _identity(rt)
        self.kind = kind or ""
        self.arch = arch_name or ""
        self.debug_id = debug_id or ""
        self.code_id = code_id or None
        self.image_base = base
        self.has_debug_info = bool(flags & 1)
        self.has_symbols = bool(flags & 2)

    @classmethod
    def from_path(cls, path: "Union[str, os.PathLike[str]]", *, arch: Optional[str] = None,
                  runtime: Optional[Runtime] = None) -> "Object":
        """Reads the identity of the debug file at ``path`` (only the headers are read)."""
        return cls(path, arch, runtime)

    @classmethod
    def from_bytes(cls, data: Any, *, arch: Optional[str] = None, runtime: Optional[Runtime] = None) -> "Object":
        """Reads the identity of a debug file in memory."""
        return cls(_as_bytes(data), arch, runtime)

    def __repr__(self) -> str:
        return "<pysym.Object %s %s debug_id=%s>" % (self.kind, self.arch, self.debug_id)


class SymCache(HandleOwner):
    """A symcache loaded into the wasm sandbox; look up addresses relative to the image base.

    Build one with :meth:`from_object`, load a built one with :meth:`from_path` or
    :meth:`from_bytes`. Use it as a context manager or call :meth:`close`.
    """

    _FREE_EXPORT = "pysym_symcache_free"

    def __init__(self, data: Optional[bytes], path: Optional[str], runtime: Optional[Runtime] = None) -> None:
        self._rt = runtime if runtime is not None else get_runtime()
        self._data = data
        self._path = path
        self._handles: Dict[int, int] = {}
        self._closed = False
        # Frames per location id (stable for these bytes, so they survive a reload), for
        # the ids decoded so far: a dict, so host memory follows the locations actually
        # answered, not the largest id a (crafted) symcache hands out. Ids are read as
        # signed, so NONE (nothing covers the address) is -1, whose chain is ().
        self._chains: Dict[int, Tuple[Frame, ...]] = {-1: ()}
        self._strings: Dict[int, Optional[str]] = {_NONE: None}
        with self._rt.lock:
            self._load()
            self._read_info()

    # -- construction --------------------------------------------------------------

    @classmethod
    def from_object(cls, source: "Union[PathOrBytes, Object]", *, arch: Optional[str] = None,
                    runtime: Optional[Runtime] = None,
                    progress: Optional[Callable[[float], None]] = None) -> "SymCache":
        """Builds a symcache from a debug file (a path, bytes, or an :class:`Object`).

        ``progress``, if given, is called with the fraction done (0.0 to 1.0) as the build
        goes on; raising ``KeyboardInterrupt`` from it abandons the build.
        """
        if isinstance(source, Object):
            src, arch = source._source, arch or source._arch
        else:
            src = _Source(source)
        rt = runtime if runtime is not None else get_runtime()
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
            lo, hi = rt.out(2)
            return cls(output.getvalue(lo | hi << 32), None, rt)

    @classmethod
    def from_path(cls, path: "Union[str, os.PathLike[str]]", *, runtime: Optional[Runtime] = None) -> "SymCache":
        """Loads a built symcache from a file."""
        p = os.fspath(path)
        with open(p, "rb"):
            pass
        return cls(None, p, runtime)

    @classmethod
    def from_bytes(cls, data: Any, *, runtime: Optional[Runtime] = None) -> "SymCache":
        """Loads a built symcache from bytes (or any buffer)."""
        return cls(_as_bytes(data), None, runtime)

    def _load(self) -> int:
        rt = self._rt
        live = rt.current()
        if self._data is not None:
            ptr = rt.put_input(self._data)
            status = rt.call("pysym_symcache_from_bytes", ptr, len(self._data), rt.out_slot)
        else:
            assert self._path is not None
            with open(self._path, "rb") as f:
                fh = rt.files.add(f)
                try:
                    status = rt.call("pysym_symcache_from_file", fh, rt.out_slot)
                finally:
                    rt.files.remove(fh)
        rt.check(status)
        handle = rt.out(1)[0]
        self._handles[live.serial] = handle
        return handle


    def _read_info(self) -> None:
        rt = self._rt
        rt.check(rt.call("pysym_symcache_info", self._h(), rt.out_slot))
        (kind, arch, debug_id, code_id), base, flags, ranges = _identity(rt)
        self.kind: str = kind or ""
        self.arch: str = arch or ""
        self.debug_id: str = debug_id or ""
        self.code_id: Optional[str] = code_id or None
        self.image_base: int = base
        self.has_debug_info = bool(flags & 1)
        self.has_symbols = bool(flags & 2)
        self.range_count: int = ranges

    # -- bytes ---------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The symcache's bytes (what :meth:`write` writes)."""
        if self._data is None:
            with self._rt.lock:
                rt = self._rt
                rt.check(rt.call("pysym_symcache_bytes", self._h(), rt.out_slot))
                self._data = rt.result_bytes()
        return self._data

    def write(self, path: "Union[str, os.PathLike[str]]") -> None:
        """Writes the symcache to ``path``."""
        data = self.to_bytes()
        with open(os.fspath(path), "wb") as f:
            f.write(data)

    # -- lookups -------------------------------------------------------------------

    def lookup(self, addr: int) -> List[Frame]:
        """Frames at ``addr`` (relative to the image base), innermost first; ``[]`` if none."""
        return self.lookup_many([addr])[0]

    def lookup_many(self, addrs: Iterable[int]) -> List[List[Frame]]:
        """Frames for many addresses, in one boundary crossing per 65,536 addresses.

        The module answers with location ids; each location's frames are decoded once and
        kept (one entry per location answered so far), and results share the
        (immutable) :class:`Frame` objects.
        """
        values = list(addrs)
        out: List[Any] = [None] * len(values)
        chains = self._chains
        for start in range(0, len(values), _BATCH):
            chunk = values[start : start + _BATCH]
            n = len(chunk)
            try:
                raw = array.array("Q", chunk)
            except OverflowError:
                raise ValueError("addresses must be integers in 0..2**64-1") from None
            if sys.byteorder == "big":
                raw.byteswap()
            rt = self._rt
            with rt.lock:
                h = self._h()
                ptr = rt.input_buffer(raw.tobytes())
                rt.check(rt.call("pysym_symcache_lookup_ordered", h, ptr, n, start, rt.out_slot))
                data = rt.result_bytes()
                # In address order: cached chains were made in location order, which follows
                # addresses, so reading them this way misses the CPU cache far less than in
                # the caller's order (making the lists of 65,536 random addresses: 2-3x faster).
                positions = _u32s(data, 0, n)
                ids = _u32s(data, 4 * n, n, "i")
                try:
                    _scatter(out, positions, ids, chains)
                except KeyError:  # some locations are not decoded yet
                    with _collector_paused():
                        self._decode_locations(rt, h, set(itertools.filterfalse(chains.__contains__, ids)))
                        _scatter(out, positions, ids, chains)
        return out

    def _decode_locations(self, rt: Runtime, h: int, wanted: "set[int]") -> None:
        """Asks the module for locations (and their callers) and keeps their frame chains."""
        ids = array.array("I", sorted(wanted))
        if sys.byteorder == "big":
            ids.byteswap()
        ptr = rt.input_buffer(ids.tobytes())
        rt.check(rt.call("pysym_symcache_locations", h, ptr, len(ids), rt.out_slot))
        data = rt.result_bytes()
        (n,) = struct.unpack_from("<I", data, 0)
        words = _abi.LOCATION_WORDS
        recs = _u32s(data, 4, n * words)
        off = 4 + 4 * n * words
        (m,) = struct.unpack_from("<I", data, off)
        strings = self._strings
        strings.update(zip(_u32s(data, off + 4, m), StringTable(data[off + 4 + 4 * m :]).to_list()))
        # Column-wise, so that the loops run in C: this is the cost of a cold lookup.
        columns = [recs[i::words] for i in range(words)]
        chains = self._chains
        new = list(map(operator.not_, map(chains.__contains__, columns[0])))
        if not all(new):  # callers decoded by an earlier batch keep their frames
            columns = [array.array("I", itertools.compress(c, new)) for c in columns]
            n = len(columns[0])
        locs, fn, rawfn, file, line, col, lo, hi, caller = columns
        caller = array.array("i", caller.tobytes())  # signed: NONE is -1, the () item of chains
        s = strings.__getitem__
        frames = _frames(n, (
            map(s, fn),
            map(s, rawfn),
            map(s, file),
            [v or None for v in line],
            [v or None for v in col],
            [a | (b << 32) for a, b in zip(lo, hi)] if any(hi) else lo,
            map(operator.ne, caller, itertools.repeat(-1)),
        ))
        # chains[loc] = (frame,) + chains[caller], at C speed: callers come first in the
        # result (smaller ids), so the lazy map reads their chains after they are set.
        collections.deque(map(operator.setitem, itertools.repeat(chains), locs, map(
            operator.add, zip(frames), map(chains.__getitem__, caller))), 0)

    def __repr__(self) -> str:
        return "<pysym.SymCache %s %s debug_id=%s>" % (self.kind, self.arch, self.debug_id)
