"""WebAssembly engine adapters.

``load_engine()`` picks an engine and returns an :class:`Engine`; the rest of pysym uses
only the classes in ``_base.py`` and the two exceptions below.  The engine packages are
imported only by their adapter modules (``_wasmtime.py``, ``_wasmer.py``), and only when
that engine is probed or chosen.

Engines, in preference order:

* ``wasmtime`` -- PyPI ``wasmtime`` (wheels for CPython >= 3.9).
* ``wasmer``   -- PyPI ``wasmer==1.1.0`` + ``wasmer-compiler-cranelift==1.1.0`` (wheels
  for CPython 3.7-3.10 only; on newer Pythons the package installs but cannot import).

``$PYSYM_ENGINE`` (``wasmtime`` / ``wasmer``) overrides the choice when
``load_engine()`` is called without a name.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import threading
from typing import Dict, List, Optional

from ._base import Engine, HostImports, Instance

__all__ = [
    "Engine",
    "EngineUnavailable",
    "HostImports",
    "Instance",
    "Trap",
    "available_engines",
    "load_engine",
]


class Trap(Exception):
    """The wasm code trapped (panic -> unreachable, out-of-bounds, stack overflow,
    memory.grow refused beyond limits...).  Message = engine's text.

    Also raised when the host would read or write outside linear memory on the
    module's behalf, and when instantiation fails.  After a trap the instance must be
    thrown away.
    """


class EngineUnavailable(ImportError):
    """No usable engine; message names what to pip install."""


#: engine name -> (adapter module, pip requirement, Python constraint)
_ENGINES = {
    "wasmtime": (
        "pysym._engine._wasmtime",
        "pip install wasmtime",
        "CPython >= 3.9",
    ),
    "wasmer": (
        "pysym._engine._wasmer",
        "pip install wasmer==1.1.0 wasmer-compiler-cranelift==1.1.0",
        "CPython 3.7-3.10 only",
    ),
}
_PREFERENCE = ("wasmtime", "wasmer")

_lock = threading.Lock()
_probe_errors: Dict[str, Optional[str]] = {}  # name -> None (ok) or why the import failed
_engines: Dict[str, Engine] = {}


def _probe(name: str) -> Optional[str]:
    """Import the adapter module of ``name``; None if it works, else the reason."""
    if name in _probe_errors:
        return _probe_errors[name]
    module_name = _ENGINES[name][0]
    try:
        importlib.import_module(module_name)
        err = None  # type: Optional[str]
    except Exception as e:  # ImportError, and e.g. OSError/RuntimeError from a native lib
        err = "%s: %s" % (type(e).__name__, e)
    except BaseException as e:  # pyo3 PanicException is a BaseException
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        err = "%s: %s" % (type(e).__name__, e)
    _probe_errors[name] = err
    return err


def available_engines() -> List[str]:
    """Names of the engines whose import works, in preference order."""
    with _lock:
        return [name for name in _PREFERENCE if _probe(name) is None]


def _python_version() -> str:
    return "%s %d.%d" % (platform.python_implementation(), sys.version_info[0], sys.version_info[1])


def _hint(name: str) -> str:
    _, pip, constraint = _ENGINES[name]
    return "%s (%s): %s" % (name, constraint, pip)


def load_engine(name: Optional[str] = None) -> Engine:
    """The shared :class:`Engine` for ``name``.

    ``None`` means ``$PYSYM_ENGINE`` if set, else the first available engine.
    An unknown or unusable engine raises :class:`EngineUnavailable`.
    """
    source = "argument"
    if name is None:
        env = os.environ.get("PYSYM_ENGINE", "").strip()
        if env:
            name, source = env, "$PYSYM_ENGINE"
    with _lock:
        if name is None:
            for candidate in _PREFERENCE:
                if _probe(candidate) is None:
                    name = candidate
                    break
            else:
                reasons = "; ".join("%s: %s" % (n, _probe_errors.get(n)) for n in _PREFERENCE)
                raise EngineUnavailable(
                    "pysym needs a WebAssembly engine and none is usable on %s. Install one of: %s "
                    "(import errors: %s)"
                    % (_python_version(), " | ".join(_hint(n) for n in _PREFERENCE), reasons)
                )
        key = name.strip().lower()
        if key not in _ENGINES:
            raise EngineUnavailable(
                "unknown pysym engine %r (from %s); known engines: %s"
                % (name, source, ", ".join(_PREFERENCE))
            )
        cached = _engines.get(key)
        if cached is not None:
            return cached
        err = _probe(key)
        if err is not None:
            raise EngineUnavailable(
                "pysym engine %r is not usable on %s (%s). Install it with: %s -- %s needs %s"
                % (key, _python_version(), err, _ENGINES[key][1], key, _ENGINES[key][2])
            )
        module = importlib.import_module(_ENGINES[key][0])
        engine = module.create_engine()  # type: Engine
        _engines[key] = engine
        return engine
