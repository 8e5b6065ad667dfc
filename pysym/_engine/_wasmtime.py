"""wasmtime adapter (PyPI ``wasmtime``, CPython >= 3.9).  The only module importing wasmtime.

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
import threading
import time
from ctypes import POINTER, byref, c_size_t, c_void_p
from typing import Any, Callable, Dict, List, Optional, Tuple

import wasmtime
from wasmtime import _ffi as ffi

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

if not hasattr(wasmtime.Config, "memory_may_move"):  # pragma: no cover
    raise ImportError("the installed wasmtime is too old for pysym: pip install -U wasmtime")

# the call: wasmtime_error_t* wasmtime_func_call_unchecked(context*, const wasmtime_func_t*,
#           wasmtime_val_raw_t *args_and_results, size_t len, wasm_trap_t **trap)
_call_unchecked = ctypes.CFUNCTYPE(c_void_p)(
    ctypes.cast(ffi.dll.wasmtime_func_call_unchecked, c_void_p).value or 0
)
_call_unchecked.argtypes = None  # type: ignore[assignment]  # callers pass ready ctypes objects

_RAW_SIZE = ctypes.sizeof(ffi.wasmtime_val_raw_t)  # 16
_U64 = struct.Struct("<Q")
_NULL_FINALIZER = ctypes.cast(0, ctypes.CFUNCTYPE(None, c_void_p))

_I32 = "i32"
_I64 = "i64"


def _package_version() -> str:
    # The installed distribution's metadata directory, which pip names
    # ``wasmtime-<version>.dist-info`` beside the package: importlib.metadata would find the
    # same, but it imports email, zipfile, csv and friends (~4 MB of every process's memory).
    site = os.path.dirname(os.path.dirname(os.path.abspath(wasmtime.__file__)))
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
        return getattr(wasmtime, "__version__", None) or "unknown"


def _kind(t: wasmtime.ValType) -> str:
    s = str(t)
    if s in (_I32, _I64):
        return s
    raise TypeError("pysym engines support only i32/i64 parameters and results, not %s" % s)


_TRAP_KINDS = {
    ffi.wasmtime_trap_code_enum.WASMTIME_TRAP_CODE_OUT_OF_FUEL.value: "fuel",
    ffi.wasmtime_trap_code_enum.WASMTIME_TRAP_CODE_INTERRUPT.value: "deadline",
}

_getpid = os.getpid

#: seconds between two epoch ticks (the granularity of wall-clock deadlines)
EPOCH_TICK = 0.01
_UNLIMITED = 1 << 62
_variant_lock = threading.Lock()


def _trap_kind(trap_slot: c_void_p) -> Optional[str]:
    if not trap_slot.value:
        return None
    code = ctypes.c_uint8()
    ptr = ctypes.cast(trap_slot.value, POINTER(ffi.wasm_trap_t))
    if ffi.wasmtime_trap_code(ptr, byref(code)):
        return _TRAP_KINDS.get(code.value)
    return None


def _trap_message(err: Optional[int], trap_slot: c_void_p) -> str:
    """Take ownership of the error / trap after a failed call and return its text."""
    parts = []
    if trap_slot.value:
        t = wasmtime.Trap._from_ptr(ctypes.cast(trap_slot.value, POINTER(ffi.wasm_trap_t)))
        trap_slot.value = None
        parts.append(t.message)
    if err:
        e = wasmtime.WasmtimeError._from_ptr(ctypes.cast(err, POINTER(ffi.wasmtime_error_t)))
        parts.append(str(e))
    return "\n".join(parts).strip() or "wasm trap"


class _Memory:
    """The linear memory as seen by the host, plus the host-import state.

    Referenced by the instance and by the import callbacks; it references neither, so
    dropping an instance frees its store at once (no reference cycle).
    """

    __slots__ = ("base", "ctx", "imports", "mem", "pending", "size", "view")

    def __init__(self, ctx: Any, imports: HostImports) -> None:
        self.mem = None  # type: Optional[Any]  # ffi.wasmtime_memory_t, set after instantiation
        self.ctx = ctx  # the store's context pointer
        self.view = memoryview(b"")
        self.size = 0
        self.base = 0
        self.imports = imports
        self.pending = None  # type: Optional[BaseException]

    def refresh(self, caller: Any = None) -> None:
        """Re-read size (and base) of the memory; inside a host import pass its caller."""
        if self.mem is None:
            raise Trap("the module has no exported memory yet")
        ctx = self.ctx if caller is None else ffi.wasmtime_caller_context(caller)
        mem = byref(self.mem)
        size = ffi.wasmtime_memory_data_size(ctx, mem)
        base = ctypes.cast(ffi.wasmtime_memory_data(ctx, mem), c_void_p).value or 0
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
    """What must stay alive while any export callable exists: store, callbacks, memory."""

    __slots__ = ("__weakref__", "callbacks", "counts_fuel", "instance", "memory", "store")

    def __init__(self, store: wasmtime.Store, callbacks: List[Any], memory: _Memory,
                 counts_fuel: bool) -> None:
        self.store = store
        self.counts_fuel = counts_fuel
        self.callbacks = callbacks
        self.memory = memory
        self.instance = None  # type: Optional[wasmtime.Instance]


def _make_callbacks(ms: _Memory) -> Dict[str, Any]:
    """The raw (unchecked) callbacks of the ``pysym_host`` imports, by name."""
    callback_t = ffi.wasmtime_func_unchecked_callback_t

    def interrupted(e: BaseException) -> int:
        # KeyboardInterrupt & co.: remember it and trap, the export call re-raises it.
        ms.pending = e
        msg = b"python BaseException in host import"
        return ctypes.cast(ffi.wasmtime_trap_new(msg, len(msg)), c_void_p).value or 0

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


def _valtype(kind: str) -> wasmtime.ValType:
    return wasmtime.ValType.i32() if kind == _I32 else wasmtime.ValType.i64()


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
    core: _Core, func: wasmtime.Func, params: Tuple[str, ...], results: Tuple[str, ...]
) -> Callable[..., Any]:
    """Generate a callable specialised to the export's signature.

    The hot path is: one ``pack_into`` of the unsigned arguments (negative ones take
    the ``struct.error`` detour through ``_normalise``), one foreign call, a trap check,
    one ``unpack_from``.  All state is in closure cells.
    """
    if len(results) > 1:
        raise TypeError("exports with more than one result are not supported")
    n = max(len(params), len(results), 1)
    args = (ffi.wasmtime_val_raw_t * n)()
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
        "_ctx": c_void_p(ctypes.cast(core.store._context(), c_void_p).value),
        "_fn": byref(func._func),
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
        if not isinstance(ext, wasmtime.Func):
            raise TypeError("export %r is not a function" % (name,))
        ty = ext.type(self._core.store)
        params = tuple(_kind(t) for t in ty.params)
        results = tuple(_kind(t) for t in ty.results)
        f = _make_export(self._core, ext, params, results)
        self._funcs[name] = f
        return f

    def memory_size(self) -> int:
        ms = self._mem
        if ms.mem is None:
            return 0
        return int(ffi.wasmtime_memory_data_size(ms.ctx, byref(ms.mem)))

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
        err = ffi.wasmtime_context_set_fuel(ctx, _UNLIMITED if fuel is None else max(1, int(fuel)))
        if err:
            raise Trap(str(wasmtime.WasmtimeError._from_ptr(err)))
    if timeout is None:
        ticks = _UNLIMITED
    else:
        ticks = int(timeout / EPOCH_TICK) + 2  # the tick in progress does not count
    ffi.wasmtime_context_set_epoch_deadline(ctx, ticks)
    if timeout is not None:
        _Ticker.ensure()


class _Ticker:
    """The daemon thread advancing every engine's epoch each ``EPOCH_TICK`` seconds.

    Python signal handlers do not run while wasm runs (the call is in C), so a deadline
    needs a clock outside the calling thread. Started on the first armed call.
    """

    engines = []  # type: List[Any]
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
        increment = ffi.wasmtime_engine_increment_epoch
        while True:
            time.sleep(EPOCH_TICK)
            for e in cls.engines:
                increment(e.ptr())


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


class WasmtimeEngine(Engine):
    name = "wasmtime"
    budgets = True
    parallel = True  # wasmtime-py calls through ctypes, which releases the GIL

    def __init__(self, counts_fuel: bool = True) -> None:
        self.version = _package_version()
        self.counts_fuel = counts_fuel
        self._fuel_less: Optional[WasmtimeEngine] = None if counts_fuel else self
        config = wasmtime.Config()
        config.memory_may_move = False  # fixed base address: memory views stay valid
        # Counting fuel is a deterministic CPU budget per call (Instance.set_budget), but
        # its checks cost ~20-30% of a symcache build: engines for limits without fuel
        # leave it out (without_fuel) and keep only the epoch deadline.
        config.consume_fuel = counts_fuel
        config.epoch_interruption = True  # wall-clock deadline per call
        self._engine = wasmtime.Engine(config)
        _Ticker.engines.append(self._engine)
        self._functypes = {
            name: wasmtime.FuncType([_valtype(k) for k in p], [_valtype(k) for k in r])
            for name, (p, r) in _HOST_TYPES.items()
        }

    def compile(self, wasm: bytes) -> object:
        try:
            return wasmtime.Module(self._engine, bytes(wasm))
        except wasmtime.WasmtimeError as e:
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
        assert isinstance(module, wasmtime.Module)
        return bytes(module.serialize())

    def deserialize(self, wasm: bytes, data: bytes,
                    reload: Optional[Callable[[], Optional[bytes]]] = None) -> object:
        return wasmtime.Module.deserialize(self._engine, data)

    maps_files = True

    def deserialize_file(self, path: str, size: int) -> object:
        # Mapped: code pages are read from the page cache as they run, nothing is copied.
        # wasmtime sees the whole file, the cache's trailer included: the ELF image must
        # end where the cache says the engine's bytes end (a cut image with a recomputed
        # digest would otherwise be read with the trailer as its last bytes).
        with open(path, "rb") as f:
            if _elf_extent(f.read(64)) != size:
                raise ValueError("the compiled module does not end where its entry says")
        return wasmtime.Module.deserialize_file(self._engine, path)

    def instantiate(self, module: object, imports: HostImports, memory_limit: Optional[int]) -> ViewInstance:
        if not isinstance(module, wasmtime.Module):
            raise TypeError("module must come from this engine's compile()")
        store = wasmtime.Store(self._engine)
        if memory_limit is not None:
            store.set_limits(memory_size=int(memory_limit))
        ms = _Memory(store._context(), imports)
        _arm(ms.ctx, None, None, self.counts_fuel)  # stores start with no fuel and a passed deadline
        callbacks = _make_callbacks(ms)
        extern = []
        for imp in module.imports:
            if imp.module != HOST_MODULE or imp.name not in callbacks:
                raise Trap(
                    "the wasm module imports %s.%s, which pysym does not provide" % (imp.module, imp.name)
                )
            raw = ffi.wasmtime_func_t()
            ffi.wasmtime_func_new_unchecked(
                store._context(),
                self._functypes[imp.name].ptr(),
                callbacks[imp.name],
                None,
                _NULL_FINALIZER,
                byref(raw),
            )
            extern.append(wasmtime.Func._from_raw(raw))
        core = _Core(store, list(callbacks.values()), ms, self.counts_fuel)  # keeps the callbacks alive
        try:
            inst = wasmtime.Instance(store, module, extern)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as e:
            pending = ms.pending
            if pending is not None:
                ms.pending = None
                raise pending from None
            raise Trap("instantiation failed: %s" % e) from None
        core.instance = inst
        exports = {}  # type: Dict[str, Any]
        ex = inst.exports(store)
        for name in [e.name for e in module.exports]:
            exports[name] = ex[name]
        memory = exports.get("memory")
        if isinstance(memory, wasmtime.Memory):
            ms.mem = memory._memory
            ms.refresh()
        return WasmtimeInstance(core, exports)


def create_engine() -> Engine:
    return WasmtimeEngine()
