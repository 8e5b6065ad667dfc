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
