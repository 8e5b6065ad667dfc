"""pysym: symbolication (source maps, native debug files) in a WebAssembly sandbox.

The parsers run inside one wasm module (``pysym/_wasm/pysym.wasm``) on wasmtime or
wasmer; they can read only the bytes the host hands them.
"""

from typing import TYPE_CHECKING, Any, List

from ._engine import EngineUnavailable
from ._errors import (
    FileChangedError,
    InputTooLargeError,
    InvalidInputError,
    MemoryLimitError,
    PysymError,
    RequestTooLargeError,
    ResourceLimitError,
    SandboxError,
    TimeLimitError,
)
from ._host import configure
from ._limits import Limits
from ._native import Frame, LookupResults, Object, SymCache
from ._version import __version__

if TYPE_CHECKING:
    from ._api import GREATEST_LOWER_BOUND, LEAST_UPPER_BOUND, SourceContext, SourceMap, Token, TokenArrays
    from ._minidump import (
        MemoryRegion,
        Minidump,
        MinidumpException,
        MinidumpModule,
        MinidumpSystemInfo,
        MinidumpThread,
    )
    from ._smcache import SourceMapCache
    from ._sourcemap_url import decode_data_url, find_debug_id, find_sourcemap_url
    from ._symbolicate import (
        FilesystemStore,
        HttpStore,
        Module,
        StackFrame,
        Store,
        Symbolicator,
        SystemStore,
        symbolicate_frames,
    )

# Imported when first named, so that a process building or reading symcaches loads only
# pysym._native: the symbolicator brings http.client and ssl (~6 MB resident, ~0.1 s CPU),
# source maps and minidumps ~1 MB of their own. Name -> module.
_LAZY = {
    "GREATEST_LOWER_BOUND": "_api",
    "LEAST_UPPER_BOUND": "_api",
    "SourceContext": "_api",
    "SourceMap": "_api",
    "Token": "_api",
    "TokenArrays": "_api",
    "SourceMapCache": "_smcache",
    "MemoryRegion": "_minidump",
    "Minidump": "_minidump",
    "MinidumpException": "_minidump",
    "MinidumpModule": "_minidump",
    "MinidumpSystemInfo": "_minidump",
    "MinidumpThread": "_minidump",
    "decode_data_url": "_sourcemap_url",
    "find_debug_id": "_sourcemap_url",
    "find_sourcemap_url": "_sourcemap_url",
    "FilesystemStore": "_symbolicate",
    "HttpStore": "_symbolicate",
    "Module": "_symbolicate",
    "StackFrame": "_symbolicate",
    "Store": "_symbolicate",
    "Symbolicator": "_symbolicate",
    "SystemStore": "_symbolicate",
    "symbolicate_frames": "_symbolicate",
}


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is not None:
        import importlib

        value = getattr(importlib.import_module("." + where, __name__), name)
        globals()[name] = value
        return value
    raise AttributeError("module 'pysym' has no attribute %r" % name)


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "SourceMap",
    "SourceMapCache",
    "Token",
    "TokenArrays",
    "SourceContext",
    "GREATEST_LOWER_BOUND",
    "LEAST_UPPER_BOUND",
    "Object",
    "SymCache",
    "Frame",
    "LookupResults",
    "Minidump",
    "MinidumpSystemInfo",
    "MinidumpModule",
    "MinidumpThread",
    "MinidumpException",
    "MemoryRegion",
    "find_sourcemap_url",
    "find_debug_id",
    "decode_data_url",
    "PysymError",
    "InvalidInputError",
    "ResourceLimitError",
    "MemoryLimitError",
    "TimeLimitError",
    "InputTooLargeError",
    "SandboxError",
    "FileChangedError",
    "RequestTooLargeError",
    "Symbolicator",
    "Module",
    "StackFrame",
    "symbolicate_frames",
    "Store",
    "FilesystemStore",
    "HttpStore",
    "SystemStore",
    "Limits",
    "configure",
    "EngineUnavailable",
    "__version__",
]
