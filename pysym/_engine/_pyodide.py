"""Engine adapter for Pyodide: the browser's (or Node's) own ``WebAssembly`` API.

Inside Pyodide (CPython compiled to WebAssembly) neither wasmtime nor wasmer can run;
the JavaScript host already has a WebAssembly engine, reached through Pyodide's ``js``
module.  Importing this module outside Pyodide raises ImportError (``js`` is missing), so
the engine is simply unavailable there.

Linear memory is read and written through fresh ``Uint8Array`` views made at every access
(memory growth replaces ``memory.buffer``).  A JavaScript exception from an export call
(``WebAssembly.RuntimeError``: unreachable, out of bounds, stack overflow) is a
:class:`~pysym._engine.Trap`.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Dict, List, Optional, Tuple

import js  # type: ignore[import-not-found]  # provided by Pyodide
from pyodide.ffi import JsException, create_proxy, to_js  # type: ignore[import-not-found]

from . import Trap
from ._base import (
    HOST_IO,
    HOST_MODULE,
    Engine,
    HostImports,
    Instance,
    host_file_read,
    host_file_size,
    host_status,
    to_byte_view,
)

__all__ = ["PyodideEngine", "create_engine"]

_U32 = 0xFFFFFFFF
_PACK_U64 = struct.Struct("<Q").pack


class PyodideInstance(Instance):
    def __init__(self, instance: Any, proxies: List[Any]) -> None:
        self._inst = instance
        self._exports = instance.exports
        self._memory = instance.exports.memory
        self._proxies = proxies  # keep the import callbacks alive with the instance
        self._funcs: Dict[str, Callable[..., Any]] = {}

    def func(self, name: str) -> Callable[..., Any]:
        fn = self._funcs.get(name)
        if fn is not None:
            return fn
        target = getattr(self._exports, name, None)
        if target is None:
            raise KeyError(name)
        if getattr(target, "typeof", "function") != "function":
            raise TypeError("export %s is not a function" % name)

        def call(*args: int) -> Any:
            try:
                result = target(*[a - (1 << 32) if a > 0x7FFFFFFF and a <= _U32 else a for a in args])
            except JsException as e:
                raise Trap(str(e)) from None
            return None if result is None else int(result)

        self._funcs[name] = call
        return call

    def _view(self, ptr: int, length: int) -> Any:
        size = self._memory.buffer.byteLength
        if ptr < 0 or length < 0 or ptr + length > size:
            raise Trap("wasm memory access out of bounds: ptr=%d len=%d memory size=%d" % (ptr, length, size))
        return js.Uint8Array.new(self._memory.buffer, ptr, length)

    def read(self, ptr: int, length: int) -> bytes:
        if length == 0:
            return b""
        return bytes(self._view(ptr, length).to_bytes())

    def write(self, ptr: int, data: Any) -> None:
        view = to_byte_view(data)
        n = len(view)
        if n:
            self._view(ptr, n).assign(view)

    def read_u32(self, ptr: int, count: int) -> Tuple[int, ...]:
        return struct.unpack("<%dI" % count, self.read(ptr, 4 * count))

    def memory_size(self) -> int:
        return int(self._memory.buffer.byteLength)


class PyodideEngine(Engine):
    name = "pyodide"

    def __init__(self) -> None:
        try:
            import pyodide  # type: ignore[import-not-found]

            self.version = str(getattr(pyodide, "__version__", "?"))
        except Exception:  # pragma: no cover
            self.version = "?"

    def compile(self, wasm: bytes) -> object:
        try:
            return js.WebAssembly.Module.new(to_js(bytes(wasm)))
        except JsException as e:
            raise ValueError("invalid wasm module: %s" % e) from None

    def instantiate(self, module: object, imports: HostImports, memory_limit: Optional[int]) -> Instance:
        holder: Dict[str, PyodideInstance] = {}

        def file_size(fh: int, out: int) -> int:
            try:
                r = host_file_size(imports, fh & _U32)
                if r < 0:
                    return r
                holder["i"].write(out & _U32, _PACK_U64(r))
                return 0
            except Exception:  # noqa: BLE001 - never let a host error escape into the module
                return HOST_IO

        def file_read(fh: int, offset: Any, dst: int, length: int) -> int:
            try:
                r = host_file_read(imports, fh & _U32, int(offset) & 0xFFFFFFFFFFFFFFFF, length & _U32)
                if isinstance(r, int):
                    return r
                holder["i"].write(dst & _U32, r)
                return len(r)
            except Exception:  # noqa: BLE001
                return HOST_IO

        def progress(done: int, total: int) -> int:
            try:
                imports.progress(done & _U32, total & _U32)
            except Exception:  # noqa: BLE001
                pass
            return 0

        def output_begin(size: Any) -> int:
            try:
                return host_status(imports.output_begin(int(size) & 0xFFFFFFFFFFFFFFFF), "output_begin")
            except Exception:  # noqa: BLE001
                return HOST_IO

        def output_write(offset: Any, src: int, length: int) -> int:
            try:
                data = memoryview(holder["i"].read(src & _U32, length & _U32))
                return host_status(imports.output_write(int(offset) & 0xFFFFFFFFFFFFFFFF, data), "output_write")
            except Exception:  # noqa: BLE001
                return HOST_IO

        def discard(ptr: int, length: int) -> int:
            return 0  # (advisory: the JavaScript host's memory cannot give pages back)

        funcs = {
            "discard": discard,
            "file_size": file_size,
            "file_read": file_read,
            "progress": progress,
            "output_begin": output_begin,
            "output_write": output_write,
        }
        proxies = [create_proxy(f) for f in funcs.values()]
        host = js.Object.new()
        for name, proxy in zip(funcs, proxies):
            setattr(host, name, proxy)
        import_object = js.Object.new()
        setattr(import_object, HOST_MODULE, host)
        try:
            inst = js.WebAssembly.Instance.new(module, import_object)
        except JsException as e:
            raise Trap("cannot instantiate: %s" % e) from None
        wrapped = PyodideInstance(inst, proxies)
        holder["i"] = wrapped
        return wrapped


def create_engine() -> Engine:
    return PyodideEngine()
