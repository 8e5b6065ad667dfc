"""wasmer adapter (PyPI ``wasmer==1.1.0`` + ``wasmer-compiler-cranelift==1.1.0``).

The only module importing wasmer.  Wheels exist for CPython 3.7-3.10 only; on newer
Pythons ``import wasmer`` raises ImportError and the engine is reported unavailable.

Speed: wasmer's own export call (a pyo3 method) is already cheap (~1 us for 5 args);
the callable returned by ``func`` adds only a ``try`` frame that turns wasmer's trap
exception (``RuntimeError``) into ``pysym._engine.Trap``.  wasmer already accepts
``i32`` arguments signed or unsigned (-2**31 .. 2**32-1) and returns them signed.

Memory: ``Memory.buffer`` implements the buffer protocol without copying, so we keep
one ``memoryview`` over it.  Its length is fixed at creation, so it is re-made when an
access falls past its end.  The base address never moves: wasmer 1.1 on 64-bit hosts
uses "static" memories (a 4 GiB reservation) for every 32-bit memory, so growth only
extends the accessible part.  (``uint8_view()`` slicing is ~4x slower than memoryview.)

Memory limit: wasmer 1.1's Python API has no per-store limiter (no custom Tunables),
so ``memory_limit`` is NOT enforced here; the only cap is the maximum baked into the
module at link time (1 GiB for pysym.wasm, see wasm/ABI.md).

CPU: no fuel and no epoch interruption in wasmer 1.1's Python API, so
``Instance.set_budget`` is a no-op (``budgets = False``); see SECURITY.md for the
watchdog mode that bounds heavy calls instead.

Threads: every wasmer 1.1 object is pyo3 ``unsendable``: using a Store, Module,
Instance or Function from a thread other than the one that created it raises
``pyo3_runtime.PanicException`` (a BaseException).  So this adapter keeps one Store per
thread and compiles a module lazily once per thread; an *instance* stays bound to the
thread that instantiated it (using it elsewhere raises RuntimeError).  The GIL is held
while wasm runs.
"""

from __future__ import annotations

import ctypes
import struct
import threading
from typing import Any, Callable, Dict, Optional

import wasmer  # type: ignore[import-untyped, import-not-found, unused-ignore]
import wasmer_compiler_cranelift  # type: ignore[import-untyped, import-not-found, unused-ignore]

from . import Trap, _pagemap
from ._base import (
    HOST_IO,
    HOST_MODULE,
    Engine,
    HostImports,
    ViewInstance,
    host_file_read,
    host_file_size,
    host_status,
    out_of_bounds,
    to_byte_view,
)
from ._fork import compile_elsewhere, may_compile_here

_U64 = struct.Struct("<Q")
_IMPORTS = ("file_size", "file_read", "progress", "output_begin", "output_write", "discard")
_KINDS = {wasmer.Type.I32: "i32", wasmer.Type.I64: "i64"}


def _kind(t: Any) -> str:
    k = _KINDS.get(t)
    if k is None:
        raise TypeError("pysym engines support only i32/i64 parameters and results, not %s" % (t,))
    return k


def _is_panic(e: BaseException) -> bool:
    return type(e).__name__ == "PanicException"


def _reraise(e: BaseException) -> None:
    """Translate wasmer's thread-affinity panic; re-raise everything else."""
    if _is_panic(e) and "unsendable" in str(e):
        raise RuntimeError(
            "a wasmer instance can only be used by the thread that created it (%s)" % e
        ) from None
    raise e


class _Memory(_pagemap.HugeAdvice):
    """Host view of linear memory + import state.  References no instance (no cycles)."""

    __slots__ = ("base", "imports", "memory", "size", "view")

    def __init__(self, imports: HostImports) -> None:
        self.memory = None  # type: Optional[Any]  # wasmer.Memory, set after instantiation
        self.view = memoryview(b"")
        self.size = 0
        self.base = 0  # address of the memory in this process (discard), 0: not known yet
        self.imports = imports
        self.huge_at = -1  # where huge pages are advised from (-1: nowhere)

    def refresh(self) -> None:
        if self.memory is None:
            raise Trap("the module has no exported memory yet")
        size = self.memory.data_size
        if size != self.size:
            self.view = memoryview(self.memory.buffer)
            self.size = len(self.view)
            if not self.base and self.size:
                # (the buffer is writable: imports write into it; its base never moves)
                self.base = ctypes.addressof(ctypes.c_char.from_buffer(self.view))

    def check(self, ptr: int, length: int) -> None:
        if ptr < 0 or length < 0:
            raise Trap(out_of_bounds(ptr, length, self.size))
        if ptr + length > self.size:
            self.refresh()
            if ptr + length > self.size:
                raise Trap(out_of_bounds(ptr, length, self.size))

    def write(self, ptr: int, data: Any) -> None:
        data = to_byte_view(data)
        end = ptr + len(data)
        if ptr < 0 or end > self.size:
            self.check(ptr, len(data))
        self.view[ptr:end] = data


def _make_imports(store: Any, ms: _Memory) -> Dict[str, Any]:
    T = wasmer.Type

    # Exceptions become HOST_IO; BaseExceptions (KeyboardInterrupt...) propagate:
    # wasmer unwinds the wasm frames and re-raises them from the export call.
    def file_size(fh: int, out: int) -> int:
        try:
            r = host_file_size(ms.imports, fh & 0xFFFFFFFF)
            if r >= 0:
                ms.write(out & 0xFFFFFFFF, _U64.pack(r))
                r = 0
            return r
        except Exception:
            return HOST_IO

    def file_read(fh: int, offset: int, dst: int, length: int) -> int:
        try:
            data = host_file_read(
                ms.imports, fh & 0xFFFFFFFF, offset & 0xFFFFFFFFFFFFFFFF, length & 0xFFFFFFFF
            )
            if isinstance(data, int):
                return data
            ms.write(dst & 0xFFFFFFFF, data)
            return len(data)
        except Exception:
            return HOST_IO

    def progress(done: int, total: int) -> int:
        try:
            ms.imports.progress(done & 0xFFFFFFFF, total & 0xFFFFFFFF)
        except Exception:
            pass
        return 0

    def output_begin(size: int) -> int:
        try:
            ms.unadvise_huge()
            return host_status(ms.imports.output_begin(size & 0xFFFFFFFFFFFFFFFF), "output_begin")
        except Exception:
            return HOST_IO

    def discard(ptr: int, length: int) -> int:
        try:
            ptr &= 0xFFFFFFFF
            length &= 0xFFFFFFFF
            ms.check(ptr, length)
            ms.unadvise_huge()
            _pagemap.discard(ms.base, ptr, length)
        except Exception:
            pass
        return 0

    def output_write(offset: int, src: int, length: int) -> int:
        try:
            src &= 0xFFFFFFFF
            length &= 0xFFFFFFFF
            ms.check(src, length)
            data = ms.view[src : src + length]
            return host_status(ms.imports.output_write(offset & 0xFFFFFFFFFFFFFFFF, data), "output_write")
        except Exception:
            return HOST_IO

    return {
        "progress": wasmer.Function(store, progress, wasmer.FunctionType([T.I32, T.I32], [T.I32])),
        "output_begin": wasmer.Function(store, output_begin, wasmer.FunctionType([T.I64], [T.I32])),
        "output_write": wasmer.Function(
            store, output_write, wasmer.FunctionType([T.I64, T.I32, T.I32], [T.I32])
        ),
        "file_size": wasmer.Function(store, file_size, wasmer.FunctionType([T.I32, T.I32], [T.I32])),
        "discard": wasmer.Function(store, discard, wasmer.FunctionType([T.I32, T.I32], [T.I32])),
        "file_read": wasmer.Function(
            store, file_read, wasmer.FunctionType([T.I32, T.I64, T.I32, T.I32], [T.I32])
        ),
    }


def _make_export(raw: Any, nparams: int) -> Callable[..., Any]:
    names = ", ".join("a%d" % i for i in range(nparams))
    src = (
        "def call(%s):\n"
        "    try:\n"
        "        return _raw(%s)\n"
        "    except RuntimeError as e:\n"
        "        raise _Trap(str(e)) from None\n"
        "    except BaseException as e:\n"
        "        _reraise(e)\n" % (names, names)
    )
    ns = {"_raw": raw, "_Trap": Trap, "_reraise": _reraise}  # type: Dict[str, Any]
    exec(compile(src, "<pysym wasmer export>", "exec"), ns)  # noqa: S102
    fn = ns.pop("call")  # type: Callable[..., Any]  # no ns <-> function cycle
    fn.__qualname__ = fn.__name__ = "wasm_export"
    return fn


class _Module:
    """Module bytes + one compiled wasmer.Module per thread (wasmer objects are thread-bound)."""

    def __init__(self, engine: "WasmerEngine", wasm: bytes, compiled: Optional[bytes] = None,
                 reload: Optional[Callable[[], Optional[bytes]]] = None) -> None:
        self.engine = engine
        self.wasm = wasm
        self.compiled = compiled  # serialized native code (compile cache), each thread loads it
        # ... or reads it again from the cache (~12 MB not held by every process)
        self.reload = reload
        self.local = threading.local()

    def _serialized(self) -> Optional[bytes]:
        if self.compiled is not None or self.reload is None:
            return self.compiled
        data = self.reload()
        try:
            if data is not None:
                _check_artifact(data)
                return data
        except ValueError:
            pass
        self.reload = None  # gone or replaced by something else: compile
        return None

    def get(self) -> Any:
        module = getattr(self.local, "module", None)
        if module is None:
            store = self.engine._store()
            compiled = self._serialized()
            if compiled is not None:
                try:
                    module = wasmer.Module.deserialize(store, compiled)
                except Exception:
                    self.compiled = self.reload = None
            del compiled
            if module is None and not may_compile_here():
                self.compiled = compile_elsewhere(self.engine.name, self.wasm)
                _check_artifact(self.compiled)
                module = wasmer.Module.deserialize(store, self.compiled)
            if module is None:
                try:
                    module = wasmer.Module(store, self.wasm)
                except (ValueError, RuntimeError) as e:
                    raise ValueError("invalid wasm module: %s" % e) from None
            self.local.module = module
        return module


class WasmerInstance(ViewInstance):
    def __init__(self, instance: Any, module: Any, ms: _Memory) -> None:
        self._instance = instance
        self._exports = instance.exports
        self._names = {e.name for e in module.exports}
        self._mem = ms
        self._funcs = {}  # type: Dict[str, Callable[..., Any]]

    def func(self, name: str) -> Callable[..., Any]:
        f = self._funcs.get(name)
        if f is not None:
            return f
        if name not in self._names:
            raise KeyError("the wasm module has no export %r" % (name,))
        try:
            raw = getattr(self._exports, name)
        except BaseException as e:
            _reraise(e)
        if not isinstance(raw, wasmer.Function):
            raise TypeError("export %r is not a function" % (name,))
        ty = raw.type
        params = [_kind(t) for t in ty.params]
        results = [_kind(t) for t in ty.results]
        if len(results) > 1:
            raise TypeError("exports with more than one result are not supported")
        f = _make_export(raw, len(params))
        self._funcs[name] = f
        return f

    def memory_size(self) -> int:
        mem = self._mem.memory
        return mem.data_size if mem is not None else 0


#: how wasmer 1.1's universal engine begins a serialized module
_ARTIFACT_MAGIC = b"\x00wasmer-universal\x00"


def _check_artifact(data: bytes) -> None:
    """The structure of a serialized module that can be checked without wasmer's code:
    its magic, and the metadata offset in its last 8 bytes pointing inside it (a cut file
    fails this). ``Module.deserialize`` trusts the rest as native code (SECURITY.md)."""
    if len(data) < 64 or not data.startswith(_ARTIFACT_MAGIC):
        raise ValueError("not a wasmer universal artifact")
    (meta,) = struct.unpack_from("<Q", data, len(data) - 8)
    if not len(_ARTIFACT_MAGIC) <= meta < len(data) - 8:
        raise ValueError("wasmer artifact metadata offset %d is outside its %d bytes" % (meta, len(data)))


class WasmerEngine(Engine):
    name = "wasmer"
    thread_bound = True

    def __init__(self) -> None:
        self.version = getattr(wasmer, "__version__", "unknown")
        self._local = threading.local()
        self._store()  # fail now (not at first use) if the compiler is broken

    def _store(self) -> Any:
        store = getattr(self._local, "store", None)
        if store is None:
            store = wasmer.Store(wasmer.engine.Universal(wasmer_compiler_cranelift.Compiler))
            self._local.store = store
        return store

    def compile(self, wasm: bytes) -> object:
        module = _Module(self, bytes(wasm))
        module.get()  # validate and compile for this thread now
        return module

    def artifact_settings(self) -> Optional[str]:
        return "universal cranelift"

    def serialize(self, module: object) -> bytes:
        assert isinstance(module, _Module)
        return bytes(module.get().serialize())

    def deserialize(self, wasm: bytes, data: bytes,
                    reload: Optional[Callable[[], Optional[bytes]]] = None) -> object:
        _check_artifact(data)
        module = _Module(self, bytes(wasm), None if reload is not None else data, reload)
        # Not through get(), which would compile instead: a refusal here lets the compile
        # cache compile and replace the entry.
        module.local.module = wasmer.Module.deserialize(self._store(), data)
        return module

    def instantiate(self, module: object, imports: HostImports, memory_limit: Optional[int]) -> ViewInstance:
        # memory_limit cannot be enforced by wasmer 1.1 (see the module docstring).
        if not isinstance(module, _Module) or module.engine is not self:
            raise TypeError("module must come from this engine's compile()")
        wmodule = module.get()
        store = self._store()
        ms = _Memory(imports)
        import_object = wasmer.ImportObject()
        import_object.register(HOST_MODULE, _make_imports(store, ms))
        for imp in wmodule.imports:
            if imp.module != HOST_MODULE or imp.name not in _IMPORTS:
                raise Trap(
                    "the wasm module imports %s.%s, which pysym does not provide" % (imp.module, imp.name)
                )
        try:
            instance = wasmer.Instance(wmodule, import_object)
        except RuntimeError as e:
            raise Trap("instantiation failed: %s" % e) from None
        except BaseException as e:
            _reraise(e)
        names = {e.name for e in wmodule.exports}
        if "memory" in names:
            memory = instance.exports.memory
            if isinstance(memory, wasmer.Memory):
                ms.memory = memory
                ms.refresh()
                ms.advise_huge()
        return WasmerInstance(instance, wmodule, ms)


def create_engine() -> Engine:
    return WasmerEngine()
