"""pysym: symbolication (source maps, native debug files) in a WebAssembly sandbox.

The parsers run inside one wasm module (``pysym/_wasm/pysym.wasm``) on wasmtime or
wasmer; they can read only the bytes the host hands them.
"""

from typing import TYPE_CHECKING, Any

from ._api import GREATEST_LOWER_BOUND, LEAST_UPPER_BOUND, SourceContext, SourceMap, Token, TokenArrays
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
from ._minidump import MemoryRegion, Minidump, MinidumpException, MinidumpModule, MinidumpSystemInfo, MinidumpThread
from ._native import Frame, LookupResults, Object, SymCache
from ._smcache import SourceMapCache
from ._sourcemap_url import decode_data_url, find_debug_id, find_sourcemap_url
from ._version import __version__

if TYPE_CHECKING:
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

# The symbolicator is imported when first named: it brings http.client and ssl (~6 MB of
# resident memory and ~0.1 s of CPU) that a process building or reading symcaches never uses.
_LAZY = frozenset(
    ("FilesystemStore", "HttpStore", "Module", "StackFrame", "Store", "Symbolicator", "SystemStore",
     "symbolicate_frames")
)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import _symbolicate

        value = getattr(_symbolicate, name)
        globals()[name] = value
        return value
    raise AttributeError("module 'pysym' has no attribute %r" % name)

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
