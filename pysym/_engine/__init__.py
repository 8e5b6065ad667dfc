"""WebAssembly engine adapters.

``load_engine()`` picks an engine and returns an :class:`Engine`; the rest of pysym uses
only the classes in ``_base.py`` and the two exceptions below.  The engine packages are
used only by their adapter modules (``_wasmtime.py``, ``_wasmer.py``), and only when
that engine is probed or chosen (``_wasmtime.py`` loads the package's shared library
without importing its Python bindings).

Engines, in preference order:

* ``wasmtime`` -- PyPI ``wasmtime>=50,<51`` (wheels for Python >= 3.9, CPython and
  PyPy; the adapter uses 50.x internals, so another major is reported as unusable).
* ``wasmer``   -- PyPI ``wasmer==1.1.0`` + ``wasmer-compiler-cranelift==1.1.0`` (wheels
  for CPython 3.7-3.10 on x86_64 only; elsewhere the package installs a stub that
  cannot import).
* ``pyodide``  -- inside Pyodide only: the JavaScript host's own ``WebAssembly`` API
  (``_pyodide.py``).

pysym's wheel installs whichever of them has wheels for the interpreter (environment
markers in pyproject.toml).  With none usable, the first use raises one
:class:`EngineUnavailable` (also a :class:`pysym.PysymError`) naming what to install.

``$PYSYM_ENGINE`` (``wasmtime`` / ``wasmer``) overrides the choice when
``load_engine()`` is called without a name.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from typing import Dict, List, Optional

from .._errors import PysymError
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

    ``kind`` says why, when the engine knows: ``"fuel"`` (the call's fuel ran out),
    ``"deadline"`` (its wall-clock deadline passed), ``None`` otherwise.
    """

    def __init__(self, message: str = "", kind: Optional[str] = None) -> None:
        super().__init__(message)
        self.kind = kind


class EngineUnavailable(PysymError, ImportError):
    """No usable engine; message names what to pip install."""


#: engine name -> (adapter module, pip requirement, Python constraint); keep in step with
#: the markers in pyproject.toml
_ENGINES = {
    "wasmtime": (
        "pysym._engine._wasmtime",
        "pip install wasmtime==50.*",
        "Python >= 3.9",
    ),
    "wasmer": (
        "pysym._engine._wasmer",
        "pip install wasmer==1.1.0 wasmer-compiler-cranelift==1.1.0",
        "CPython 3.7-3.10 on x86_64",
    ),
    "pyodide": (
        "pysym._engine._pyodide",
        "nothing to install: Pyodide's own WebAssembly API",
        "Pyodide",
    ),
}
# Inside Pyodide (sys.platform "emscripten") the JavaScript host's WebAssembly API is the
# only engine; elsewhere the pyodide adapter is not even probed.
_PREFERENCE = ("wasmtime", "wasmer") + (("pyodide",) if sys.platform == "emscripten" else ())

_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a parent thread may have held it while loading an engine


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
_probe_errors: Dict[str, Optional[str]] = {}  # name -> None (ok) or why the import failed
_engines: Dict[str, Engine] = {}


def _probe(name: str) -> Optional[str]:
    """Import the adapter module of ``name``; None if it works, else the reason."""
    if name in _probe_errors:
        return _probe_errors[name]
    module_name = _ENGINES[name][0]
    try:
        module = importlib.import_module(module_name)
        err = None  # type: Optional[str]
        if name == "wasmtime":
            version = module._package_version()
            if not version.startswith("50."):
                err = "wasmtime %s is installed; pysym's adapter needs 50.x" % version
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
    import platform  # only for messages (it imports subprocess)

    return "%s %d.%d (%s)" % (
        platform.python_implementation(),
        sys.version_info[0],
        sys.version_info[1],
        platform.machine() or "unknown machine",
    )


def _fits(name: str) -> bool:
    """Whether PyPI has wheels of engine ``name`` for this interpreter."""
    if name == "wasmtime":
        return sys.version_info >= (3, 9)
    if name == "pyodide":
        return sys.platform == "emscripten"
    import platform

    return (
        platform.python_implementation() == "CPython"
        and sys.version_info < (3, 11)
        and platform.machine() in ("x86_64", "AMD64")
    )


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
                fitting = [n for n in _PREFERENCE if _fits(n)]
                if fitting:
                    todo = "Install %s: %s" % (
                        "it" if len(fitting) == 1 else "one of them",
                        " | ".join(_ENGINES[n][1] for n in fitting),
                    )
                else:
                    todo = "No engine has wheels for this interpreter; use one that does: %s" % (
                        "; ".join("%s needs %s" % (n, _ENGINES[n][2]) for n in _PREFERENCE)
                    )
                raise EngineUnavailable(
                    "pysym needs a WebAssembly engine and none is usable on %s. %s "
                    "(import errors: %s)" % (_python_version(), todo, reasons)
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
