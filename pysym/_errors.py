"""pysym's exceptions: one root, a few actionable subclasses.

Messages about bad input come from the wasm module (``pysym_last_error``); the host
never carries copies of them.
"""

from typing import Optional

__all__ = [
    "PysymError",
    "InvalidInputError",
    "ResourceLimitError",
    "MemoryLimitError",
    "TimeLimitError",
    "InputTooLargeError",
    "SandboxError",
    "FileChangedError",
    "RequestTooLargeError",
]


class PysymError(Exception):
    """Root of every error pysym raises; ``code`` is the ABI status when there is one."""

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class InvalidInputError(PysymError, ValueError):
    """The input (a source map, a debug file) is malformed."""


class ResourceLimitError(PysymError):
    """The input needs more than a configured or built-in limit allows."""


class MemoryLimitError(ResourceLimitError):
    """The module ran out of its memory cap (``Limits.memory``)."""


class TimeLimitError(ResourceLimitError):
    """A call ran out of its CPU budget (fuel) or its wall-clock deadline (``Limits.timeout``).

    The instance it ran in is thrown away; the next call gets a fresh one.
    """


class InputTooLargeError(ResourceLimitError):
    """An input is larger than ``Limits.max_input_size``; nothing was copied into the module."""


class RequestTooLargeError(ResourceLimitError):
    """A symbolication request has more frames or modules than the symbolicator allows
    (``pysym.Symbolicator(max_frames=..., max_modules=...)``); nothing was looked up."""


class SandboxError(PysymError):
    """The wasm module trapped (a bug, or a limit enforced by the engine).

    The instance that trapped is thrown away; the next call gets a fresh one.
    """


class FileChangedError(PysymError):
    """A file an object was opened from changed on disk since it was opened.

    Objects made with ``from_path`` read their file again when they are rebuilt in a fresh
    instance (after a trap or a limit anywhere in the runtime, ``configure()``, a fork, or
    a new thread on wasmer). They read it through the descriptor they opened, so a file
    replaced by a rename or deleted is still read as it was; a file rewritten in place
    (other size, mtime or bytes) is refused with this error instead of mixing old and new
    data. Open the file again to use its new contents.
    """
