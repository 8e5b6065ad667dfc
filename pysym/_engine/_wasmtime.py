"""wasmtime adapter (PyPI ``wasmtime``, CPython >= 3.9).  The only module using wasmtime.

The package's shared library is called through ctypes declarations of the few C API
functions pysym needs (below), not through the package's Python bindings: ``import
wasmtime`` declares every function of the C API and wraps every type (~35 modules, 2.7 MB
resident and ~20 ms in every process that starts the engine, measured), where a build
needs about forty functions.  The package is located without being imported.

Speed: wasmtime-py's ``Func.__call__`` costs tens of microseconds (it re-reads the
function type, converts every argument through ``Val``, allocates ``wasmtime_val_t``
arrays and roots/unroots them).  Exports here are called through the C API's
``wasmtime_func_call_unchecked`` instead, with everything precomputed per export:

* one ``wasmtime_val_raw_t`` array per export (arguments in, results out), filled with
  a single ``struct.pack_into`` and read with ``struct.unpack_from``;
* the foreign function is a private ``CFUNCTYPE`` object without ``argtypes`` that is
  given pre-built ``c_void_p`` objects (store context, ``wasmtime_func_t``, array, trap
  slot), so ctypes does no per-call conversion work;
* the parameter types are checked once (``i32``/``i64`` only), which is what makes the
  unchecked call correct; arguments are range-checked by ``struct`` (``i32``: -2**31 ..
  2**32-1, ``i64``: -2**63 .. 2**64-1; out of range -> ``OverflowError``/``struct.error``);
  non-negative arguments are packed unsigned directly, negative ones take a slow path.

Traps: the call's ``wasm_trap_t**`` slot (and its ``wasmtime_error_t*`` result) are
checked after every call; the engine's message is raised as ``pysym._engine.Trap``.

Memory: the engine is configured with ``memory_may_move = False``, so a linear memory's
base address never changes (growth that would need a move fails, ``memory.grow`` -> -1;
the default reservation is 4 GiB on 64-bit hosts, pysym's module caps itself at 1 GiB).
We therefore keep one ``memoryview`` over ``[base, base+size)`` and re-make it only
when an access falls past its end (memory only grows).  Reads are plain slicing /
``struct.unpack_from``; no ctypes call on the hot path.

Host imports are defined with ``wasmtime_func_new_unchecked`` (raw values, no ``Val``).
The GIL is released while wasm runs (ctypes ``CFUNCTYPE``) and re-acquired by the host
import callbacks.  A ``Store`` is not thread-safe: serialise calls per instance.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
import threading
import time
from ctypes import POINTER, byref, c_bool, c_char_p, c_int64, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from . import Trap, _pagemap
from ._base import (
    HOST_IO,
    HOST_MODULE,
    Engine,
    HostImports,
    ViewInstance,
    host_file_read,
    host_file_read_into,
    host_file_size,
    host_status,
    out_of_bounds,
    to_byte_view,
)


def _package_dir() -> str:
    # The package's directory without running its __init__ (which imports the bindings).
    from importlib.util import find_spec

    spec = find_spec("wasmtime")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ModuleNotFoundError("No module named 'wasmtime'", name="wasmtime")
    return str(locations[0])


_PACKAGE = _package_dir()


def _library_path() -> str:
    # Where the package's _ffi.py loads it from (wasmtime 50.x).
    plat = "android" if hasattr(sys, "getandroidapilevel") else sys.platform
    names = {"linux": "_libwasmtime.so", "android": "_libwasmtime.so", "win32": "_wasmtime.dll",
             "darwin": "_libwasmtime.dylib"}
    if plat not in names:
        raise ImportError("unsupported platform %r for wasmtime" % plat)
    if hasattr(os, "uname"):
        machine = os.uname().machine
    else:  # Windows
        machine = os.environ.get("PROCESSOR_ARCHITECTURE", "")
    machine = {"AMD64": "x86_64", "amd64": "x86_64", "arm64": "aarch64", "ARM64": "aarch64"}.get(machine, machine)
    if machine not in ("x86_64", "aarch64"):
        raise ImportError("unsupported architecture for wasmtime: %s" % machine)
    return os.path.join(_PACKAGE, "%s-%s" % (plat, machine), names[plat])


_dll = ctypes.CDLL(_library_path())


class _ByteVec(ctypes.Structure):  # wasm_byte_vec_t, wasm_name_t, wasm_message_t
    _fields_ = [("size", c_size_t), ("data", c_void_p)]


class _PtrVec(ctypes.Structure):  # wasm_valtype_vec_t, wasm_importtype_vec_t, wasm_exporttype_vec_t
    _fields_ = [("size", c_size_t), ("data", POINTER(c_void_p))]


class _Func(ctypes.Structure):  # wasmtime_func_t
    _fields_ = [("store_id", c_uint64), ("private", c_void_p)]


class _MemoryHead(ctypes.Structure):
    _fields_ = [("store_id", c_uint64), ("private1", c_uint32)]


class _MemoryRef(ctypes.Structure):  # wasmtime_memory_t
    _fields_ = [("head", _MemoryHead), ("private2", c_uint32)]


class _ExternOf(ctypes.Union):  # wasmtime_extern_union_t (24 bytes: global, table, memory, tag)
    _fields_ = [("func", _Func), ("memory", _MemoryRef), ("size", c_uint64 * 3)]


class _Extern(ctypes.Structure):  # wasmtime_extern_t
    _fields_ = [("kind", c_uint8), ("of", _ExternOf)]


class _InstanceRef(ctypes.Structure):  # wasmtime_instance_t
    _fields_ = [("store_id", c_uint64), ("private", c_size_t)]


class _ValRaw(ctypes.Union):  # wasmtime_val_raw_t
    _fields_ = [("i32", ctypes.c_int32), ("i64", c_int64), ("v128", c_uint8 * 16), ("funcref", c_void_p)]


_EXTERN_FUNC = 0
_EXTERN_MEMORY = 3
_P = c_void_p
_callback_t = ctypes.CFUNCTYPE(c_size_t, c_void_p, c_void_p, POINTER(_ValRaw), c_size_t)
_finalizer_t = ctypes.CFUNCTYPE(None, c_void_p)


class _Lib:
    """The C API functions used, declared once (pointers to C objects are ``c_void_p``)."""

    def __init__(self, dll: Any) -> None:
        for name, restype, argtypes in [
            ("wasm_config_new", _P, []),
            ("wasmtime_config_memory_may_move_set", None, [_P, c_bool]),
            ("wasmtime_config_consume_fuel_set", None, [_P, c_bool]),
            ("wasmtime_config_epoch_interruption_set", None, [_P, c_bool]),
            ("wasm_engine_new_with_config", _P, [_P]),
            ("wasmtime_engine_increment_epoch", None, [_P]),
            ("wasmtime_module_new", _P, [_P, c_char_p, c_size_t, _P]),
            ("wasmtime_module_delete", None, [_P]),
            ("wasmtime_module_serialize", _P, [_P, _P]),
            ("wasmtime_module_deserialize", _P, [_P, c_char_p, c_size_t, _P]),
            ("wasmtime_module_deserialize_file", _P, [_P, c_char_p, _P]),
            ("wasmtime_module_imports", None, [_P, _P]),
            ("wasmtime_module_exports", None, [_P, _P]),
            ("wasm_importtype_module", POINTER(_ByteVec), [_P]),
            ("wasm_importtype_name", POINTER(_ByteVec), [_P]),
            ("wasm_importtype_type", _P, [_P]),
            ("wasm_importtype_vec_delete", None, [_P]),
            ("wasm_exporttype_name", POINTER(_ByteVec), [_P]),
            ("wasm_exporttype_type", _P, [_P]),
            ("wasm_exporttype_vec_delete", None, [_P]),
            ("wasm_externtype_kind", c_uint8, [_P]),
            ("wasm_externtype_as_functype_const", _P, [_P]),
            ("wasm_byte_vec_delete", None, [_P]),
            ("wasm_valtype_new", _P, [c_uint8]),
            ("wasm_valtype_kind", c_uint8, [_P]),
            ("wasm_valtype_vec_new", None, [_P, c_size_t, _P]),
            ("wasm_functype_new", _P, [_P, _P]),
            ("wasm_functype_params", POINTER(_PtrVec), [_P]),
            ("wasm_functype_results", POINTER(_PtrVec), [_P]),
            ("wasm_functype_delete", None, [_P]),
            ("wasmtime_store_new", _P, [_P, _P, _finalizer_t]),
            ("wasmtime_store_context", _P, [_P]),
            ("wasmtime_store_delete", None, [_P]),
            ("wasmtime_store_limiter", None, [_P, c_int64, c_int64, c_int64, c_int64, c_int64]),
            ("wasmtime_context_set_fuel", _P, [_P, c_uint64]),
            ("wasmtime_context_get_fuel", _P, [_P, _P]),
            ("wasmtime_context_set_epoch_deadline", None, [_P, c_uint64]),
            ("wasmtime_func_new_unchecked", None, [_P, _P, _callback_t, _P, _finalizer_t, _P]),
            ("wasmtime_func_type", _P, [_P, _P]),
            ("wasmtime_instance_new", _P, [_P, _P, _P, c_size_t, _P, _P]),
            ("wasmtime_instance_export_nth", c_bool, [_P, _P, c_size_t, _P, _P, _P]),
            ("wasmtime_caller_context", _P, [_P]),
            ("wasmtime_memory_data", _P, [_P, _P]),
            ("wasmtime_memory_data_size", c_size_t, [_P, _P]),
            ("wasmtime_trap_new", _P, [c_char_p, c_size_t]),
            ("wasmtime_trap_code", c_bool, [_P, _P]),
            ("wasm_trap_message", None, [_P, _P]),
            ("wasm_trap_delete", None, [_P]),
            ("wasmtime_error_message", None, [_P, _P]),
            ("wasmtime_error_delete", None, [_P]),
        ]:
            f = getattr(dll, name)
            f.restype = restype
            f.argtypes = argtypes
            setattr(self, name, f)


if not hasattr(_dll, "wasmtime_config_memory_may_move_set"):  # pragma: no cover
    raise ImportError("the installed wasmtime is too old for pysym: pip install -U wasmtime")
_lib = _Lib(_dll)  # type: Any

# the call: wasmtime_error_t* wasmtime_func_call_unchecked(context*, const wasmtime_func_t*,
#           wasmtime_val_raw_t *args_and_results, size_t len, wasm_trap_t **trap)
_call_unchecked = ctypes.CFUNCTYPE(c_void_p)(
    ctypes.cast(_dll.wasmtime_func_call_unchecked, c_void_p).value or 0
)
_call_unchecked.argtypes = None  # type: ignore[assignment]  # callers pass ready ctypes objects

_RAW_SIZE = ctypes.sizeof(_ValRaw)  # 16
_U64 = struct.Struct("<Q")
_NULL_FINALIZER = ctypes.cast(0, _finalizer_t)


class WasmtimeError(Exception):
    """A ``wasmtime_error_t`` the C API returned (its message)."""


def _byte_vec_text(vec: _ByteVec, size: int) -> str:
    return ctypes.string_at(vec.data, size).decode("utf-8", "replace") if size else ""


def _error_text(err: int) -> str:
    """The message of an owned ``wasmtime_error_t*``, which is deleted."""
    vec = _ByteVec()
    _lib.wasmtime_error_message(err, byref(vec))
    text = _byte_vec_text(vec, vec.size)
    _lib.wasm_byte_vec_delete(byref(vec))
    _lib.wasmtime_error_delete(err)
    return text


def _trap_text(trap: int) -> str:
    """The message of an owned ``wasm_trap_t*``, which is deleted."""
    vec = _ByteVec()
    _lib.wasm_trap_message(trap, byref(vec))
    text = _byte_vec_text(vec, max(0, vec.size - 1))  # without its trailing NUL
    _lib.wasm_byte_vec_delete(byref(vec))
    _lib.wasm_trap_delete(trap)
    return text


def _raise_error(err: Optional[int]) -> None:
    if err:
        raise WasmtimeError(_error_text(err))


_I32 = "i32"
_I64 = "i64"


def _package_version() -> str:
    # The installed distribution's metadata directory, which pip names
    # ``wasmtime-<version>.dist-info`` beside the package: importlib.metadata would find the
    # same, but it imports email, zipfile, csv and friends (~4 MB of every process's memory).
    site = os.path.dirname(os.path.abspath(_PACKAGE))
    try:
        found = [n[len("wasmtime-"):-len(".dist-info")] for n in os.listdir(site)
                 if n.startswith("wasmtime-") and n.endswith(".dist-info")]
    except OSError:
        found = []
    if len(found) == 1:
        return found[0]
    try:
        from importlib.metadata import version  # Python 3.8+; wasmtime needs 3.9+

        return version("wasmtime")
    except Exception:  # pragma: no cover
        return "unknown"


# wasm_valkind_t -> name (as wasmtime-py's ValType prints them)
_VALKINDS = {0: _I32, 1: _I64, 2: "f32", 3: "f64", 4: "v128", 128: "anyref", 129: "funcref"}


def _valkinds(vec: Any) -> Tuple[str, ...]:
    """The kinds of a ``wasm_valtype_vec_t``."""
    v = vec.contents
    kinds = (_lib.wasm_valtype_kind(v.data[i]) for i in range(v.size))
    return tuple(_VALKINDS.get(k, "ValType(%d)" % k) for k in kinds)


def _signature(functype: int) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    return _valkinds(_lib.wasm_functype_params(functype)), _valkinds(_lib.wasm_functype_results(functype))


def _kind(s: str) -> str:
    if s in (_I32, _I64):
        return s
    raise TypeError("pysym engines support only i32/i64 parameters and results, not %s" % s)


# wasmtime_trap_code_t values (wasmtime 50's trap.h)
_TRAP_KINDS = {11: "fuel", 10: "deadline"}

_getpid = os.getpid

#: seconds between two epoch ticks (the granularity of wall-clock deadlines)
EPOCH_TICK = 0.01
_UNLIMITED = 1 << 62
_variant_lock = threading.Lock()


def _trap_kind(trap_slot: c_void_p) -> Optional[str]:
    if not trap_slot.value:
        return None
    code = c_uint8()
    if _lib.wasmtime_trap_code(trap_slot.value, byref(code)):
        return _TRAP_KINDS.get(code.value)
    return None


def _trap_message(err: Optional[int], trap_slot: c_void_p) -> str:
    """Take ownership of the error / trap after a failed call and return its text."""
    parts = []
    if trap_slot.value:
        trap = trap_slot.value
        trap_slot.value = None
        parts.append(_trap_text(trap))
    if err:
        parts.append(_error_text(err))
    return "\n".join(parts).strip() or "wasm trap"


class _Memory(_pagemap.HugeAdvice):
    """The linear memory as seen by the host, plus the host-import state.

    Referenced by the instance and by the import callbacks; it references neither, so
    dropping an instance frees its store at once (no reference cycle).
    """

    __slots__ = ("base", "ctx", "imports", "mem", "pending", "size", "view")

    def __init__(self, ctx: Any, imports: HostImports) -> None:
        self.mem = None  # type: Optional[Any]  # a wasmtime_memory_t, set after instantiation
        self.ctx = ctx  # the store's context pointer
        self.view = memoryview(b"")
        self.size = 0
        self.base = 0
        self.imports = imports
        self.huge_at = -1  # where huge pages are advised from (-1: nowhere)
        self.pending = None  # type: Optional[BaseException]

    def refresh(self, caller: Any = None) -> None:
        """Re-read size (and base) of the memory; inside a host import pass its caller."""
        if self.mem is None:
            raise Trap("the module has no exported memory yet")
        ctx = self.ctx if caller is None else _lib.wasmtime_caller_context(caller)
        mem = byref(self.mem)
        size = _lib.wasmtime_memory_data_size(ctx, mem)
        base = _lib.wasmtime_memory_data(ctx, mem) or 0
        if size != self.size or base != self.base:
            # An empty memory has no valid base: keep the empty view.
            if size:
                self.view = memoryview((ctypes.c_ubyte * size).from_address(base)).cast("B")
            else:
                self.view = memoryview(b"")
            self.size = size
            self.base = base

    def check(self, ptr: int, length: int, caller: Any = None) -> None:
        """Raise ``Trap`` unless ``[ptr, ptr+length)`` is inside memory (refreshing first)."""
        if ptr < 0 or length < 0:
            raise Trap(out_of_bounds(ptr, length, self.size))
        if ptr + length > self.size:
            self.refresh(caller)
            if ptr + length > self.size:
                raise Trap(out_of_bounds(ptr, length, self.size))

    def write(self, ptr: int, data: Any, caller: Any = None) -> None:
        data = to_byte_view(data)
        end = ptr + len(data)
        if ptr < 0 or end > self.size:
            self.check(ptr, len(data), caller)
        self.view[ptr:end] = data


class _Core:
    """What must stay alive while any export callable exists: store, callbacks, memory.
    The store (and with it the instance) is deleted with it."""

    __slots__ = ("__weakref__", "callbacks", "counts_fuel", "instance", "memory", "store")

    def __init__(self, store: int, callbacks: List[Any], memory: _Memory, counts_fuel: bool) -> None:
        self.store = store  # wasmtime_store_t*
        self.counts_fuel = counts_fuel
        self.callbacks = callbacks
        self.memory = memory
        self.instance = None  # type: Optional[_InstanceRef]

    def __del__(self, _delete: Any = _lib.wasmtime_store_delete) -> None:
        store, self.store = self.store, 0
        if store:
            _delete(store)


def _make_callbacks(ms: _Memory) -> Dict[str, Any]:
    """The raw (unchecked) callbacks of the ``pysym_host`` imports, by name."""
    callback_t = _callback_t

    def interrupted(e: BaseException) -> int:
        # KeyboardInterrupt & co.: remember it and trap, the export call re-raises it.
        ms.pending = e
        msg = b"python BaseException in host import"
        return _lib.wasmtime_trap_new(msg, len(msg)) or 0

    def guarded(body: Callable[[Any, Any], int], on_error: int = HOST_IO) -> Callable[..., int]:
        """A raw callback: ``body(args, caller)`` gives the i32 result, which goes into the
        first argument's slot; an ``Exception`` gives ``on_error`` instead."""

        def callback(env: Any, caller: Any, args: Any, nargs: int) -> int:
            try:
                r = body(args, caller)
            except Exception:
                r = on_error
            except BaseException as e:
                return interrupted(e)
            args[0].i32 = r
            return 0

        return callback

    def file_size(args: Any, caller: Any) -> int:
        r = host_file_size(ms.imports, args[0].i32 & 0xFFFFFFFF)
        if r >= 0:
            ms.write(args[1].i32 & 0xFFFFFFFF, _U64.pack(r), caller)
            r = 0
        return r

    def file_read(args: Any, caller: Any) -> int:
        fh = args[0].i32 & 0xFFFFFFFF
        offset = args[1].i64 & 0xFFFFFFFFFFFFFFFF
        dst = args[2].i32 & 0xFFFFFFFF
        length = args[3].i32 & 0xFFFFFFFF
        # Read straight into linear memory: a copy in host memory first was up to the
        # size of the largest section read (python3.11: 5 MB), and glibc keeps such
        # freed blocks resident past a build's peak.
        if dst + length > ms.size:
            ms.refresh(caller)
            if dst + length > ms.size:  # only what the file holds must fit
                data = host_file_read(ms.imports, fh, offset, length)
                if isinstance(data, int):
                    return data
                ms.write(dst, data, caller)
                return len(data)
        return host_file_read_into(ms.imports, fh, offset, ms.view[dst : dst + length])

    def progress(args: Any, caller: Any) -> int:
        ms.imports.progress(args[0].i32 & 0xFFFFFFFF, args[1].i32 & 0xFFFFFFFF)
        return 0

    def output_begin(args: Any, caller: Any) -> int:
        ms.unadvise_huge()
        return host_status(ms.imports.output_begin(args[0].i64 & 0xFFFFFFFFFFFFFFFF), "output_begin")

    def output_write(args: Any, caller: Any) -> int:
        offset = args[0].i64 & 0xFFFFFFFFFFFFFFFF
        src = args[1].i32 & 0xFFFFFFFF
        length = args[2].i32 & 0xFFFFFFFF
        ms.check(src, length, caller)
        return host_status(ms.imports.output_write(offset, ms.view[src : src + length]), "output_write")

    def discard(args: Any, caller: Any) -> int:
        ptr = args[0].i32 & 0xFFFFFFFF
        length = args[1].i32 & 0xFFFFFFFF
        ms.check(ptr, length, caller)
        ms.unadvise_huge()
        _pagemap.discard(ms.base, ptr, length)
        return 0

    return {
        name: callback_t(guarded(body, on_error))
        for name, body, on_error in [
            ("file_size", file_size, HOST_IO),
            ("file_read", file_read, HOST_IO),
            ("progress", progress, 0),  # a failing progress report does not stop a build
            ("output_begin", output_begin, HOST_IO),
            ("output_write", output_write, HOST_IO),
            ("discard", discard, 0),  # advisory: nothing to report
        ]
    }


_HOST_TYPES = {
    "file_size": ((_I32, _I32), (_I32,)),
    "file_read": ((_I32, _I64, _I32, _I32), (_I32,)),
    "progress": ((_I32, _I32), (_I32,)),
    "output_begin": ((_I64,), (_I32,)),
    "output_write": ((_I64, _I32, _I32), (_I32,)),
    "discard": ((_I32, _I32), (_I32,)),
}


def _functype(params: Tuple[str, ...], results: Tuple[str, ...]) -> int:
    """A new ``wasm_functype_t*`` of i32/i64 parameters and results (owned by the caller)."""
    vecs = []
    for kinds in (params, results):
        types = (c_void_p * max(1, len(kinds)))(*[_lib.wasm_valtype_new(0 if k == _I32 else 1) for k in kinds])
        vec = _PtrVec()
        _lib.wasm_valtype_vec_new(byref(vec), len(kinds), types)  # takes the valtypes
        vecs.append(vec)
    ptr = _lib.wasm_functype_new(byref(vecs[0]), byref(vecs[1]))  # takes the vectors
    if not ptr:  # pragma: no cover
        raise MemoryError("wasm_functype_new failed")
    return int(ptr)


_RANGES = {_I32: (-0x80000000, 0x100000000), _I64: (-0x8000000000000000, 0x10000000000000000)}


def _normalise(kinds: Tuple[str, ...], values: Tuple[int, ...]) -> List[int]:
    """Slow path of argument packing: negative -> two's complement, range-checked."""
    out = []
    for kind, v in zip(kinds, values):
        lo, hi = _RANGES[kind]
        v = int(v)
        if not lo <= v < hi:
            raise OverflowError("argument %d out of range for %s" % (v, kind))
        out.append(v + hi if v < 0 else v)
    return out


# The generated caller depends only on the argument count and whether there is a result
# (types are in the closure's pack/unpack): compiled once per shape, not once per export.
_MAKERS = {}  # type: Dict[Tuple[int, bool], Callable[..., Callable[..., Any]]]


def _make_export(
    core: _Core, func: _Func, params: Tuple[str, ...], results: Tuple[str, ...]
) -> Callable[..., Any]:
    """Generate a callable specialised to the export's signature.

    The hot path is: one ``pack_into`` of the unsigned arguments (negative ones take
    the ``struct.error`` detour through ``_normalise``), one foreign call, a trap check,
    one ``unpack_from``.  All state is in closure cells.
    """
    if len(results) > 1:
        raise TypeError("exports with more than one result are not supported")
    n = max(len(params), len(results), 1)
    args = (_ValRaw * n)()
    trap_slot = c_void_p()
    buf = memoryview(args).cast("B")
    fmt = "<" + "".join("I12x" if k == _I32 else "Q8x" for k in params)
    names = ", ".join("a%d" % i for i in range(len(params)))

    def fail(err: Optional[int]) -> None:
        kind = _trap_kind(trap_slot)
        msg = _trap_message(err, trap_slot)
        pending = core.memory.pending
        if pending is not None:
            core.memory.pending = None
            raise pending
        raise Trap(msg, kind)

    env = {
        "_call": _call_unchecked,
        "_ctx": c_void_p(core.memory.ctx),
        "_fn": byref(func),
        "_args": byref(args),
        "_n": c_size_t(n),
        "_tp": byref(trap_slot),
        "_trap": trap_slot,
        "_buf": buf,
        "_pack": struct.Struct(fmt).pack_into,
        "_error": struct.error,
        "_norm": _normalise,
        "_kinds": params,
        "_unpack": struct.Struct("<i" if results == (_I32,) else "<q").unpack_from,
        "_fail": fail,  # its closure keeps `core` (store, host callbacks) alive
    }
    shape = (len(params), bool(results))
    make = _MAKERS.get(shape)
    if make is None:
        lines = ["def make(%s):" % ", ".join(env), "  def call(%s):" % names]
        if params:
            lines += [
                "    try:",
                "        _pack(_buf, 0, %s)" % names,
                "    except _error:",
                "        _pack(_buf, 0, *_norm(_kinds, (%s,)))" % names,
            ]
        lines += [
            "    err = _call(_ctx, _fn, _args, _n, _tp)",
            "    if err or _trap.value:",
            "        _fail(err)",
        ]
        if results:
            lines.append("    return _unpack(_buf, 0)[0]")
        lines.append("  return call")
        ns = {}  # type: Dict[str, Any]
        exec(compile("\n".join(lines), "<pysym wasmtime export>", "exec"), ns)  # noqa: S102
        make = _MAKERS.setdefault(shape, ns["make"])
    fn = make(**env)  # type: Callable[..., Any]
    fn.__qualname__ = fn.__name__ = "wasm_export"
    return fn


class WasmtimeInstance(ViewInstance):
    def __init__(self, core: _Core, exports: Dict[str, Any]) -> None:
        self._core = core
        self._mem = core.memory
        self._exports = exports
        self._funcs = {}  # type: Dict[str, Callable[..., Any]]

    def func(self, name: str) -> Callable[..., Any]:
        f = self._funcs.get(name)
        if f is not None:
            return f
        ext = self._exports.get(name)
        if ext is None:
            raise KeyError("the wasm module has no export %r" % (name,))
        if not isinstance(ext, _Func):
            raise TypeError("export %r is not a function" % (name,))
        functype = _lib.wasmtime_func_type(self._mem.ctx, byref(ext))
        try:
            sig = _signature(functype)
        finally:
            _lib.wasm_functype_delete(functype)
        params = tuple(_kind(t) for t in sig[0])
        results = tuple(_kind(t) for t in sig[1])
        f = _make_export(self._core, ext, params, results)
        self._funcs[name] = f
        return f

    def memory_size(self) -> int:
        ms = self._mem
        if ms.mem is None:
            return 0
        return int(_lib.wasmtime_memory_data_size(ms.ctx, byref(ms.mem)))

    def map_file(self, ptr: int, length: int, fd: int) -> bool:
        # The memory never moves (memory_may_move = False), so a mapping stays where it is.
        ms = self._mem
        ms.check(ptr, _pagemap.pages(length))
        return _pagemap.map_file(ms.base, ptr, length, fd)

    def unmap_file(self, ptr: int, length: int) -> bool:
        return _pagemap.unmap(self._mem.base, ptr, length)

    def set_budget(self, fuel: Optional[int], timeout: Optional[float]) -> None:
        _arm(self._mem.ctx, fuel, timeout, self._core.counts_fuel)


def _arm(ctx: Any, fuel: Optional[int], timeout: Optional[float], counts_fuel: bool = True) -> None:
    if counts_fuel:  # a store whose code does not count fuel refuses to be given any
        err = _lib.wasmtime_context_set_fuel(ctx, _UNLIMITED if fuel is None else max(1, int(fuel)))
        if err:
            raise Trap(_error_text(err))
    if timeout is None:
        ticks = _UNLIMITED
    else:
        ticks = int(timeout / EPOCH_TICK) + 2  # the tick in progress does not count
    _lib.wasmtime_context_set_epoch_deadline(ctx, ticks)
    if timeout is not None:
        _Ticker.ensure()


class _Ticker:
    """The daemon thread advancing every engine's epoch each ``EPOCH_TICK`` seconds.

    Python signal handlers do not run while wasm runs (the call is in C), so a deadline
    needs a clock outside the calling thread. Started on the first armed call.
    """

    engines = []  # type: List[int]  # wasm_engine_t*
    started = 0  # pid of the process whose ticker runs (a forked child starts its own)
    lock = threading.Lock()

    @classmethod
    def ensure(cls) -> None:
        if cls.started == _getpid():
            return
        with cls.lock:
            if cls.started == _getpid():
                return
            t = threading.Thread(target=cls._run, name="pysym-epoch", daemon=True)
            t.start()
            cls.started = _getpid()

    @classmethod
    def _run(cls) -> None:
        increment = _lib.wasmtime_engine_increment_epoch
        while True:
            time.sleep(EPOCH_TICK)
            for e in cls.engines:
                increment(e)


def _ticker_after_fork() -> None:
    global _variant_lock
    _Ticker.lock = threading.Lock()  # the child starts its own ticker (``started`` is a pid)
    _variant_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ticker_after_fork)


def _elf_extent(head: bytes) -> Optional[int]:
    """Where a 64-bit ELF image ends: its section header table, which wasmtime writes
    last (``None`` when ``head`` is not the start of one)."""
    if len(head) < 64 or not head.startswith(b"\x7fELF\x02") or head[5] not in (1, 2):
        return None
    order = "<" if head[5] == 1 else ">"
    (shoff,) = struct.unpack_from(order + "Q", head, 0x28)
    shentsize, shnum = struct.unpack_from(order + "HH", head, 0x3A)
    return int(shoff + shentsize * shnum)


class WasmtimeModule:
    """A compiled module (``wasmtime_module_t*``), deleted with this object."""

    __slots__ = ("ptr",)

    def __init__(self, ptr: int) -> None:
        self.ptr = ptr

    def __del__(self, _delete: Any = _lib.wasmtime_module_delete) -> None:
        ptr, self.ptr = self.ptr, 0
        if ptr:
            _delete(ptr)

    def imports(self) -> List[Tuple[str, str, str, Optional[Tuple[Tuple[str, ...], Tuple[str, ...]]]]]:
        """(module, name, kind, signature of a function) of each import, in order."""
        return [(_name(_lib.wasm_importtype_module(t)), _name(_lib.wasm_importtype_name(t)),
                 *_extern_kind(_lib.wasm_importtype_type(t)))
                for t in self._types(_lib.wasmtime_module_imports, _lib.wasm_importtype_vec_delete)]

    def exports(self) -> List[Tuple[str, str, Optional[Tuple[Tuple[str, ...], Tuple[str, ...]]]]]:
        """(name, kind, signature of a function) of each export, in order."""
        return [(_name(_lib.wasm_exporttype_name(t)), *_extern_kind(_lib.wasm_exporttype_type(t)))
                for t in self._types(_lib.wasmtime_module_exports, _lib.wasm_exporttype_vec_delete)]

    def _types(self, listed: Any, delete: Any) -> Iterator[int]:
        """The import or export types ``listed`` gives, valid until the vector is deleted
        (when the iteration ends)."""
        vec = _PtrVec()
        listed(self.ptr, byref(vec))
        try:
            for i in range(vec.size):
                yield vec.data[i]
        finally:
            delete(byref(vec))


_EXTERN_KINDS = {0: "func", 1: "global", 2: "table", 3: "memory", 4: "tag"}


def _name(vec: Any) -> str:
    v = vec.contents
    return _byte_vec_text(v, v.size)


def _extern_kind(externtype: int) -> Tuple[str, Optional[Tuple[Tuple[str, ...], Tuple[str, ...]]]]:
    kind = _lib.wasm_externtype_kind(externtype)
    if kind == 0:
        return "func", _signature(_lib.wasm_externtype_as_functype_const(externtype))
    return _EXTERN_KINDS.get(kind, "extern(%d)" % kind), None


def _new_module(make: Callable[[Any], Optional[int]]) -> WasmtimeModule:
    ptr = c_void_p()
    _raise_error(make(byref(ptr)))
    return WasmtimeModule(ptr.value or 0)


class WasmtimeEngine(Engine):
    name = "wasmtime"
    budgets = True
    parallel = True  # wasmtime-py calls through ctypes, which releases the GIL

    def __init__(self, counts_fuel: bool = True) -> None:
        self.version = _package_version()
        self.counts_fuel = counts_fuel
        self._fuel_less: Optional[WasmtimeEngine] = None if counts_fuel else self
        config = _lib.wasm_config_new()
        _lib.wasmtime_config_memory_may_move_set(config, False)  # fixed base address: memory views stay valid
        # Counting fuel is a deterministic CPU budget per call (Instance.set_budget), but
        # its checks cost ~20-30% of a symcache build: engines for limits without fuel
        # leave it out (without_fuel) and keep only the epoch deadline.
        _lib.wasmtime_config_consume_fuel_set(config, counts_fuel)
        _lib.wasmtime_config_epoch_interruption_set(config, True)  # wall-clock deadline per call
        self._engine = int(_lib.wasm_engine_new_with_config(config))  # takes the config; never deleted
        _Ticker.engines.append(self._engine)
        self._functypes = {name: _functype(p, r) for name, (p, r) in _HOST_TYPES.items()}

    def compile(self, wasm: bytes) -> object:
        wasm = bytes(wasm)
        try:
            return _new_module(lambda out: _lib.wasmtime_module_new(self._engine, wasm, len(wasm), out))
        except WasmtimeError as e:
            raise ValueError("invalid wasm module: %s" % e) from None

    def without_fuel(self) -> Engine:
        with _variant_lock:
            if self._fuel_less is None:
                self._fuel_less = WasmtimeEngine(counts_fuel=False)
            return self._fuel_less

    def artifact_settings(self) -> Optional[str]:
        # as set in __init__ (wasmtime also checks them when deserializing)
        return "fuel epoch fixed-memory" if self.counts_fuel else "epoch fixed-memory"

    def serialize(self, module: object) -> bytes:
        assert isinstance(module, WasmtimeModule)
        vec = _ByteVec()
        _raise_error(_lib.wasmtime_module_serialize(module.ptr, byref(vec)))
        try:
            return ctypes.string_at(vec.data, vec.size)
        finally:
            _lib.wasm_byte_vec_delete(byref(vec))

    def deserialize(self, wasm: bytes, data: bytes,
                    reload: Optional[Callable[[], Optional[bytes]]] = None) -> object:
        data = bytes(data)
        return _new_module(lambda out: _lib.wasmtime_module_deserialize(self._engine, data, len(data), out))

    maps_files = True

    def deserialize_file(self, path: str, size: int) -> object:
        # Mapped: code pages are read from the page cache as they run, nothing is copied.
        # wasmtime sees the whole file, the cache's trailer included: the ELF image must
        # end where the cache says the engine's bytes end (a cut image with a recomputed
        # digest would otherwise be read with the trailer as its last bytes).
        with open(path, "rb") as f:
            if _elf_extent(f.read(64)) != size:
                raise ValueError("the compiled module does not end where its entry says")
        where = os.fsencode(path)
        return _new_module(lambda out: _lib.wasmtime_module_deserialize_file(self._engine, where, out))

    def instantiate(self, module: object, imports: HostImports, memory_limit: Optional[int]) -> ViewInstance:
        if not isinstance(module, WasmtimeModule):
            raise TypeError("module must come from this engine's compile()")
        store = _lib.wasmtime_store_new(self._engine, None, _NULL_FINALIZER)
        if not store:  # pragma: no cover
            raise MemoryError("wasmtime_store_new failed")
        ms = _Memory(int(_lib.wasmtime_store_context(store)), imports)
        callbacks = _make_callbacks(ms)
        core = _Core(store, list(callbacks.values()), ms, self.counts_fuel)  # keeps the callbacks alive
        if memory_limit is not None:
            _lib.wasmtime_store_limiter(store, int(memory_limit), -1, -1, -1, -1)
        _arm(ms.ctx, None, None, self.counts_fuel)  # stores start with no fuel and a passed deadline
        wanted = module.imports()
        extern = (_Extern * max(1, len(wanted)))()
        for i, (mod, name, *_) in enumerate(wanted):
            if mod != HOST_MODULE or name not in callbacks:
                raise Trap("the wasm module imports %s.%s, which pysym does not provide" % (mod, name))
            extern[i].kind = _EXTERN_FUNC
            _lib.wasmtime_func_new_unchecked(
                ms.ctx, self._functypes[name], callbacks[name], None, _NULL_FINALIZER, byref(extern[i].of.func)
            )
        inst = _InstanceRef()
        trap = c_void_p()
        err = _lib.wasmtime_instance_new(ms.ctx, module.ptr, extern, len(wanted), byref(inst), byref(trap))
        if err or trap.value:
            message = _trap_message(err, trap)
            pending = ms.pending
            if pending is not None:
                ms.pending = None
                raise pending from None
            raise Trap("instantiation failed: %s" % message) from None
        core.instance = inst
        exports = {}  # type: Dict[str, Any]
        name_ptr = c_void_p()
        name_len = c_size_t()
        i = 0
        while True:
            item = _Extern()
            if not _lib.wasmtime_instance_export_nth(ms.ctx, byref(inst), i, byref(name_ptr), byref(name_len),
                                                     byref(item)):
                break
            export = ctypes.string_at(name_ptr.value or 0, name_len.value).decode("utf-8", "replace")
            if item.kind == _EXTERN_FUNC:
                exports[export] = item.of.func
            elif item.kind == _EXTERN_MEMORY:
                exports[export] = item.of.memory
            else:
                exports[export] = item.kind
            i += 1
        memory = exports.get("memory")
        if isinstance(memory, _MemoryRef):
            ms.mem = memory
            ms.refresh()
            ms.advise_huge()
        return WasmtimeInstance(core, exports)


def create_engine() -> Engine:
    return WasmtimeEngine()
