"""Resource limits of the sandbox (see SECURITY.md): memory, CPU time, input size.

A :class:`Limits` belongs to a :class:`pysym._host.Runtime`; ``pysym.configure(...)``
replaces the limits of the process-wide runtime.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

__all__ = ["Limits", "DEFAULT_LIMITS"]

_GIB = 1 << 30
#: the module's own maximum (linked with --max-memory, wasm/ABI.md); engines cannot give more
MODULE_MAX_MEMORY = _GIB


_FIELDS = ("memory", "max_input_size", "timeout", "fuel_base", "fuel_per_byte", "watchdog")


class Limits:
    """Per-instance and per-call limits; every field has a safe default.

    * ``memory`` -- bytes of linear memory one instance may use (default 1 GiB, at most
      the module's own maximum of 1 GiB, always below 4 GiB). Enforced by wasmtime's
      store limiter; on wasmer only the module's maximum applies. Exhausting it raises
      :class:`pysym.MemoryLimitError`.
    * ``max_input_size`` -- bytes of one input copied whole into the module (a source map,
      a symcache); checked before any copy, raises :class:`pysym.InputTooLargeError`
      (default 512 MiB). Debug files are read by ranges and limited by ``memory``; a
      symcache built from one is loaded back whole, so it is held to this too.
    * ``timeout`` -- wall-clock seconds one call into the module may run (default 60;
      ``None``: no deadline). wasmtime: epoch interruption.
    * ``fuel_base``, ``fuel_per_byte`` -- the CPU budget of one call, in wasmtime fuel
      units (about one per wasm instruction): ``fuel_base + fuel_per_byte * bytes of
      input handed to the call``. Deterministic, unlike ``timeout``. ``fuel_base=None``
      disables fuel accounting: wasmtime then runs code compiled without fuel checks
      (5-9% less CPU on source-map parses and symcache builds), bounded by ``timeout``.
    * ``watchdog`` -- wasmer only (no fuel, holds the GIL): run heavy calls first in a
      child process killed at ``timeout`` (see SECURITY.md for the cost).

    Exceeding ``timeout`` or the fuel raises :class:`pysym.TimeLimitError`.

    Immutable and compared by value, like a frozen dataclass; written out because
    ``dataclasses`` imports ``inspect`` (with ``ast``, ``dis``, ``tokenize``): ~1.2 MB
    resident in every process that imports pysym.
    """

    __slots__ = _FIELDS
    memory: int
    max_input_size: int
    timeout: Optional[float]
    fuel_base: Optional[int]
    fuel_per_byte: int
    watchdog: bool

    def __init__(self, memory: int = _GIB, max_input_size: int = 512 << 20, timeout: Optional[float] = 60.0,
                 fuel_base: Optional[int] = 20_000_000_000, fuel_per_byte: int = 20_000,
                 watchdog: bool = False) -> None:
        put = object.__setattr__
        put(self, "memory", memory)
        put(self, "max_input_size", max_input_size)
        put(self, "timeout", timeout)
        put(self, "fuel_base", fuel_base)
        put(self, "fuel_per_byte", fuel_per_byte)
        put(self, "watchdog", watchdog)
        self._check()

    def _values(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, f) for f in _FIELDS)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("cannot assign to field %r: Limits are immutable (use replace())" % name)

    def __delattr__(self, name: str) -> None:
        raise AttributeError("cannot delete field %r: Limits are immutable" % name)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return "Limits(%s)" % ", ".join("%s=%r" % (f, getattr(self, f)) for f in _FIELDS)

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Limits, self._values())

    def as_dict(self) -> Dict[str, Any]:
        """The fields by name (``Limits(**d)`` makes the same limits again)."""
        return {f: getattr(self, f) for f in _FIELDS}

    def _check(self) -> None:
        if not 1 << 20 <= int(self.memory) <= MODULE_MAX_MEMORY:
            raise ValueError("Limits.memory must be between 1 MiB and %d bytes" % MODULE_MAX_MEMORY)
        if int(self.max_input_size) < 0:
            raise ValueError("Limits.max_input_size must not be negative")
        if self.timeout is not None and not float(self.timeout) > 0:
            raise ValueError("Limits.timeout must be positive (or None)")
        if self.fuel_base is not None and (int(self.fuel_base) <= 0 or int(self.fuel_per_byte) < 0):
            raise ValueError("Limits.fuel_base must be positive (or None), fuel_per_byte >= 0")

    def fuel_for(self, input_bytes: int) -> Optional[int]:
        """The fuel of one call that was handed ``input_bytes`` bytes of input."""
        if self.fuel_base is None:
            return None
        return min(int(self.fuel_base) + int(self.fuel_per_byte) * int(input_bytes), (1 << 62))

    def replace(self, **changes: Any) -> "Limits":
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise TypeError("Limits has no field %s" % ", ".join(sorted(unknown)))
        return Limits(**dict(self.as_dict(), **changes))


DEFAULT_LIMITS = Limits()
