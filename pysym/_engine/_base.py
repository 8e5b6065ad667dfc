"""The engine-neutral interface between pysym's host and a WebAssembly engine.

Everything above this layer (``pysym/_host.py``) talks to these three classes only;
``_wasmtime.py`` and ``_wasmer.py`` implement them.  Nothing here imports an engine.

Conventions shared by all adapters (see ``wasm/ABI.md``):

* exports take and return ``i32``/``i64`` only.  Arguments may be given signed or
  unsigned (``0xFFFFFFFF`` and ``-1`` are the same ``i32``); results come back as the
  engine reports them: *signed* (an ``i32`` result is in ``-2**31 .. 2**31-1``).
* host imports live in module ``pysym_host``; their ``i32`` arguments are converted to
  unsigned (handles, pointers, lengths) before the :class:`HostImports` methods see them.
* a Python exception inside a host import never escapes into the module: the import
  returns ``HOST_IO`` (-5).  ``BaseException``\\ s that are not ``Exception``\\ s
  (``KeyboardInterrupt``, ``SystemExit``) abort the running export and are re-raised
  from the export call; the instance must then be discarded as after a trap.
* an :class:`Instance` is not thread-safe: calls on one instance must be serialised by
  the caller.  wasmer 1.1 objects are additionally bound to the thread that created
  them (see ``_wasmer.py``).
"""

from __future__ import annotations

import abc
import struct
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, Union

if TYPE_CHECKING:  # pragma: no cover
    BytesLike = Union[bytes, bytearray, memoryview]

#: name of the import module the wasm module expects
HOST_MODULE = "pysym_host"
#: ABI status returned by a host import that failed (``wasm/ABI.md``)
HOST_IO = -5

_U32_MAX = 0xFFFFFFFF
_U64_MAX = 0xFFFFFFFFFFFFFFFF


class HostImports(abc.ABC):
    """The host side of the ``pysym_host`` imports, implemented by ``pysym/_host.py``.

    Arguments arrive unsigned.  The methods may raise: the adapter turns any
    ``Exception`` into ``HOST_IO`` for the module.
    """

    @abc.abstractmethod
    def file_size(self, fh: int) -> int:
        """Size of file ``fh`` in bytes (``>= 0``), or a negative ABI status."""

    @abc.abstractmethod
    def file_read(self, fh: int, offset: int, length: int) -> Union[bytes, bytearray, memoryview, int]:
        """Up to ``length`` bytes of file ``fh`` from ``offset``, or a negative ABI status.

        Return any object with the buffer protocol; it may be shorter than ``length``
        only at end of file.  ``offset`` may exceed ``2**32``.
        """

    def file_read_into(self, fh: int, offset: int, dst: memoryview) -> int:
        """:meth:`file_read` straight into ``dst`` (a view of linear memory, valid only
        during the call): how many bytes it holds now (``<= len(dst)``), or a negative
        ABI status.  The default copies what ``file_read`` returns."""
        r = host_file_read(self, fh, offset, len(dst))
        if isinstance(r, int):
            return r
        dst[: len(r)] = r
        return len(r)

    def progress(self, done: int, total: int) -> None:
        """A long export has done ``done`` of ``total`` units of work (ABI ``progress``).

        Ordinary exceptions are ignored; a ``BaseException`` (``KeyboardInterrupt``)
        stops the export call and is raised from it.  The default ignores it.
        """
        return None

    def output_begin(self, size: int) -> int:
        """A build is about to write ``size`` bytes of output (ABI ``output_begin``):
        ``0``, or a negative ABI status to refuse.  The default refuses (``HOST_IO``)."""
        return HOST_IO

    def output_write(self, offset: int, data: memoryview) -> int:
        """The output's bytes at ``offset`` (ABI ``output_write``): ``0`` or a negative
        ABI status.  ``data`` is a view of linear memory, valid only during the call:
        copy what is kept.  The default refuses (``HOST_IO``)."""
        return HOST_IO


class Instance(abc.ABC):
    """One instantiated module: its exports and its linear memory."""

    @abc.abstractmethod
    def func(self, name: str) -> Callable[..., Any]:
        """The fastest correct callable for export ``name``.

        Call it with ints (one per wasm parameter); it returns an ``int`` (``None`` for
        exports without results) and raises :class:`pysym._engine.Trap` when the wasm
        code traps.  The callable is cached: asking twice gives the same object.
        Raises ``KeyError`` for a missing export, ``TypeError`` for an export that is
        not a function or has parameter/result types other than ``i32``/``i64``.
        """

    @abc.abstractmethod
    def read(self, ptr: int, length: int) -> bytes:
        """Copy ``length`` bytes of linear memory at ``ptr`` out (``Trap`` if out of bounds)."""

    @abc.abstractmethod
    def write(self, ptr: int, data: Any) -> None:
        """Copy ``data`` (anything with the buffer protocol) into linear memory at ``ptr``."""

    @abc.abstractmethod
    def read_u32(self, ptr: int, count: int) -> Tuple[int, ...]:
        """``count`` little-endian u32 at ``ptr`` (``Trap`` if out of bounds)."""

    @abc.abstractmethod
    def memory_size(self) -> int:
        """Current size of linear memory in bytes."""

    def memory_view(self, ptr: int, length: int) -> Optional[memoryview]:
        """A writable view of ``length`` bytes of linear memory at ``ptr`` (``Trap`` if out
        of bounds), valid until the next call into the module (growth may move memory), so
        a file can be read straight into the module; None where the engine has no direct
        view (the caller copies with :meth:`write`)."""
        return None

    def map_file(self, ptr: int, length: int, fd: int) -> bool:
        """Maps the first ``length`` bytes of file ``fd`` over linear memory at ``ptr`` (an
        allocation of whole pages, ``pysym_alloc`` of 64 KiB or more) instead of copying
        them in; False where the engine cannot (the caller copies). See ``_pagemap.py``."""
        return False

    def unmap_file(self, ptr: int, length: int) -> bool:
        """Undoes :meth:`map_file` before the module frees that memory; False if it failed
        (the instance must then be discarded)."""
        return False

    def set_budget(self, fuel: Optional[int], timeout: Optional[float]) -> None:
        """Arm the CPU budget of the following calls: at most ``fuel`` units (about one
        per wasm instruction) and ``timeout`` seconds of wall-clock time from now.

        ``None`` means unlimited. Running out traps with :class:`Trap` of kind
        ``"fuel"`` or ``"deadline"``. Engines without budgets (``Engine.budgets`` False)
        ignore it.
        """
        return None


class ViewInstance(Instance):
    """An Instance whose linear memory is reached through ``self._mem``: an object with
    ``view`` (a memoryview of the accessible part), ``size``, ``check(ptr, length)``
    (refreshes the view after growth or raises :class:`Trap`) and ``write(ptr, data)``.
    """

    _mem: Any

    def read(self, ptr: int, length: int) -> bytes:
        ms = self._mem
        end = ptr + length
        if ptr < 0 or length < 0 or end > ms.size:
            ms.check(ptr, length)
        data: bytes = ms.view[ptr:end].tobytes()
        return data

    def write(self, ptr: int, data: Any) -> None:
        self._mem.write(ptr, data)

    def memory_view(self, ptr: int, length: int) -> Optional[memoryview]:
        ms = self._mem
        end = ptr + length
        if ptr < 0 or length < 0 or end > ms.size:
            ms.check(ptr, length)
        view: memoryview = ms.view[ptr:end]
        return view

    def read_u32(self, ptr: int, count: int) -> Tuple[int, ...]:
        ms = self._mem
        if ptr < 0 or ptr + 4 * count > ms.size:
            ms.check(ptr, 4 * count)
        try:
            return U32_UNPACK[count](ms.view, ptr)
        except KeyError:
            return u32_struct(count).unpack_from(ms.view, ptr)


class Engine(abc.ABC):
    """A loaded engine.  ``load_engine`` returns one shared object per engine name."""

    #: ``"wasmtime"`` or ``"wasmer"``
    name: str = ""
    #: version of the engine's Python package
    version: str = ""
    #: True when an instance may only be used by the thread that created it (wasmer
    #: 1.1: its objects are pyo3 "unsendable"; another thread gets a RuntimeError).
    #: A host that serves several threads keeps one instance per thread then.
    thread_bound: bool = False
    #: True when ``Instance.set_budget`` is enforced (fuel and wall-clock deadline)
    budgets: bool = False
    #: True when the engine's code counts fuel (``set_budget``'s ``fuel`` is enforced);
    #: counting costs time on every call, see :meth:`without_fuel`
    counts_fuel: bool = False
    #: True when other Python threads run while a call is inside the module (the engine
    #: releases the GIL), so instances of their own let threads work in parallel
    parallel: bool = False

    @abc.abstractmethod
    def compile(self, wasm: bytes) -> object:
        """Compile module bytes (``ValueError`` if invalid).  The result is reusable."""

    @abc.abstractmethod
    def instantiate(self, module: object, imports: HostImports, memory_limit: Optional[int]) -> Instance:
        """A fresh instance of ``module`` wired to ``imports``.

        ``memory_limit`` is the maximum linear memory in bytes (``None``: only the
        module's own maximum); ``memory.grow`` beyond it returns -1 inside the module.
        Failure to instantiate (e.g. the initial memory exceeds the limit) raises
        :class:`pysym._engine.Trap`.
        """

    def without_fuel(self) -> "Engine":
        """The same engine with code that does not count fuel (only deadlines), for
        limits that set no fuel; ``self`` when the engine never counts fuel."""
        return self

    def artifact_settings(self) -> Optional[str]:
        """The settings compiled code depends on (part of the compile cache's key), or
        ``None`` when this engine cannot serialize compiled modules."""
        return None

    def serialize(self, module: object) -> bytes:
        """The engine's native code for a compiled ``module`` (see ``_cache``)."""
        raise NotImplementedError

    def deserialize(self, wasm: bytes, data: bytes,
                    reload: Optional[Callable[[], Optional[bytes]]] = None) -> object:
        """A compiled module from what ``serialize`` gave for ``wasm`` (trusted bytes).
        ``reload``, when given, reads those bytes again (``None`` once it cannot): an
        engine that loads them again later (per thread) calls it rather than keep them."""
        raise NotImplementedError

    #: True when :meth:`deserialize_file` maps a compile-cache entry itself
    maps_files: bool = False

    def deserialize_file(self, path: str, size: int) -> object:
        """A compiled module from a file whose first ``size`` bytes are what ``serialize``
        gave (a trailer after them), mapped by the engine, not read by Python
        (trusted bytes; only when :attr:`maps_files`)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return "<pysym engine %s %s>" % (self.name, self.version)


# ---------------------------------------------------------------------------------
# helpers shared by the adapters


_U32_STRUCTS: Dict[int, struct.Struct] = {}


def u32_struct(count: int) -> struct.Struct:
    """A cached ``struct.Struct('<{count}I')``."""
    s = _U32_STRUCTS.get(count)
    if s is None:
        if count < 0:
            raise ValueError("negative count")
        s = struct.Struct("<%dI" % count)
        if count <= 256:
            _U32_STRUCTS[count] = s
    return s


#: count -> ``struct.Struct('<{count}I').unpack_from`` for the common small counts; the
#: adapters index it directly (a dict subscript is cheaper than a function call)
U32_UNPACK = {n: u32_struct(n).unpack_from for n in range(65)}


def host_file_size(imports: HostImports, fh: int) -> int:
    """Call ``imports.file_size`` and validate: a size ``>= 0`` or a negative i32 status.

    Raises on a broken answer (the caller turns that into ``HOST_IO``).
    """
    r = imports.file_size(fh)
    r = int(r)
    if r > _U64_MAX or r < -0x80000000:
        raise ValueError("file_size returned %r" % (r,))
    return r


def host_file_read(imports: HostImports, fh: int, offset: int, length: int) -> Union[int, memoryview]:
    """Call ``imports.file_read``: a negative i32 status, or a byte memoryview ``<= length``."""
    r = imports.file_read(fh, offset, length)
    if isinstance(r, int):
        if r >= 0 or r < -0x80000000:
            raise ValueError("file_read returned the int %r (only negative statuses allowed)" % (r,))
        return r
    mv = memoryview(r)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")  # raises for non-contiguous buffers
    if len(mv) > length:
        raise ValueError("file_read returned %d bytes, %d asked" % (len(mv), length))
    return mv


def host_file_read_into(imports: HostImports, fh: int, offset: int, dst: memoryview) -> int:
    """Call ``imports.file_read_into``: a negative i32 status or the count read (checked)."""
    r = imports.file_read_into(fh, offset, dst)
    if not isinstance(r, int) or r < -0x80000000 or r > len(dst):
        raise ValueError("file_read_into returned %r for %d bytes asked" % (r, len(dst)))
    return r


def host_status(r: Any, name: str) -> int:
    """Validate an import's status answer: ``0`` or a negative i32 (raises otherwise)."""
    if not isinstance(r, int) or r > 0 or r < -0x80000000:
        raise ValueError("%s returned %r (only 0 or a negative status allowed)" % (name, r))
    return r


def out_of_bounds(ptr: int, length: int, size: int) -> str:
    return "wasm memory access out of bounds: ptr=%d len=%d memory size=%d" % (ptr, length, size)


def to_byte_view(data: Any) -> Any:
    """``data`` as something a ``memoryview`` slice assignment accepts (format ``B``)."""
    if type(data) is bytes or type(data) is bytearray:
        return data
    mv = memoryview(data)
    if mv.format == "B" and mv.ndim == 1 and mv.contiguous:
        return mv
    try:
        return mv.cast("B")
    except TypeError:  # not C-contiguous
        return mv.tobytes()
