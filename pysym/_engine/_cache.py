"""On-disk cache of compiled modules: the engine's native code for pysym.wasm.

Compiling the module takes 2-4 s per process (per thread on wasmer); loading the
engine's serialized result takes ~10 ms. So the first process to compile writes it to
the cache directory and later ones load it:

* directory: ``$PYSYM_CACHE_DIR``, else ``$XDG_CACHE_HOME/pysym``, else
  ``~/.cache/pysym``; ``PYSYM_CACHE_DIR=off`` (or empty, ``0``) compiles every time;
* used only when it is a directory owned by the current user and not writable by group
  or others, since the engine maps what it loads from there as executable code (the
  trust model of Python's own ``__pycache__``), see SECURITY.md;
* one file per (module bytes, engine and its version, engine settings, host CPU), written
  to a temporary file and renamed into place: the engine's bytes, then ``_MAGIC`` and
  their BLAKE2b-256 digest, checked before the engine sees a byte (wasmer 1.1 crashes on a damaged
  file). The digest comes last so the engine's bytes start the file: wasmtime maps the
  entry itself (``deserialize_file``; an ELF image, trailing bytes ignored) instead of
  Python reading it, a copy made for the engine, and the engine's own copy: ~6 MB less
  resident in every process, and no transient 3x at start-up;
* an entry is opened with ``O_NOFOLLOW | O_NONBLOCK`` and used only if it is a regular
  file owned by the current user, not writable by others (a FIFO there must not hang the
  first use, a symlink must not point the engine elsewhere);
* the newest ``KEEP`` entries per engine are kept (other pysym versions, rebuilt modules);
* any failure (unreadable, damaged, refused by the engine, read-only disk) falls back
  to compiling, silently: the cache only ever saves time.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import Any, Optional, Tuple, Union

from .. import _digest
from ._base import Engine
from ._fork import compile_elsewhere, may_compile_here

_MAGIC = b"pysym-compiled\x00\x03"  # BLAKE2b since \x03 (SHA-256 before), a trailer since \x02
_DIGEST = _digest.DIGEST_SIZE
_TRAILER = len(_MAGIC) + _DIGEST
_OFF = ("", "0", "off", "no", "none", "false")
#: entries kept per engine (each module build, e.g. another pysym version, is one; ~4-6 MB)
KEEP = 4


def directory() -> Optional[str]:
    """The cache directory in effect (it may not exist yet), ``None`` when turned off."""
    env = os.environ.get("PYSYM_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in _OFF else env
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if not os.path.isabs(home):  # no home directory: not a directory relative to cwd
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "pysym")


def _trusted(path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    getuid = getattr(os, "getuid", None)
    return getuid is None or st.st_uid == getuid()


def _host() -> bytes:
    # Code compiled for one CPU may use instructions another lacks (a home directory
    # shared over the network); wasmtime checks this itself, wasmer 1.1 does not.
    flags = b""
    try:
        with open("/proc/cpuinfo", "rb") as f:
            for line in f:
                if line.startswith((b"flags", b"Features")):
                    flags = line
                    break
    except OSError:
        pass
    if flags and hasattr(os, "uname"):
        # platform.processor() would spawn `uname -p` at every start-up for less than this
        return ("%s %s\n" % (sys.platform, os.uname().machine)).encode() + flags
    import platform

    return ("%s %s %s\n" % (sys.platform, platform.machine(), platform.processor())).encode() + flags


#: bytes per read when hashing a file: below glibc's mmap threshold (128 KiB), so neither
#: a transient mapping nor a raised threshold (a freed mapped block raises it to its
#: size, and later blocks up to that size stay in the heap) outlives the start-up
_CHUNK = 64 << 10


def _hash_file(f: Any, h: Any, n: Optional[int] = None) -> bool:
    """Feeds ``h`` the next ``n`` bytes of ``f`` (all that is left when ``None``) through one
    small buffer; False when the file ends first."""
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    left = n
    while left is None or left:
        got = f.readinto(view if left is None or left >= _CHUNK else view[:left])
        if not got:
            return left is None
        h.update(view[:got])
        if left is not None:
            left -= got
    return True


def _wasm_digest(wasm: Union[bytes, str]) -> Any:
    if isinstance(wasm, str):  # the module's file: hashed, not held (2 MB at every start)
        h = _digest.new()
        with open(wasm, "rb") as f:
            _hash_file(f, h)
        return h
    return _digest.new(wasm)


def _path(d: str, engine: Engine, settings: str, wasm: Union[bytes, str]) -> str:
    h = _wasm_digest(wasm)
    h.update(("\n%s %s %s\n" % (engine.name, engine.version, settings)).encode() + _MAGIC)
    h.update(_host())
    return os.path.join(d, "%s-%s.bin" % (engine.name, h.hexdigest()[:40]))  # (_prune goes by the engine prefix)


#: what an entry may be opened as: never through a symlink, never blocking (a FIFO)
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
#: an entry larger than this is not one pysym wrote (entries are ~4-6 MB)
_MAX_ENTRY = 256 << 20


def _open_entry(path: str) -> Optional[Tuple[int, int]]:
    """An open descriptor on the entry at ``path`` and the length of the engine's bytes in
    it, when it is a regular file of this user's (not a FIFO, a device, a symlink or
    someone else's file), not writable by others, of a size pysym could have written."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    getuid = getattr(os, "getuid", None)
    if (not stat.S_ISREG(st.st_mode) or (getuid is not None and st.st_uid != getuid())
            or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or not _TRAILER <= st.st_size <= _MAX_ENTRY):
        os.close(fd)
        return None
    return fd, st.st_size - _TRAILER


def _trailer_digest(f: Any) -> Optional[bytes]:
    trailer = f.read(_TRAILER)
    if len(trailer) != _TRAILER or not trailer.startswith(_MAGIC) or f.read(1):
        return None
    return bytes(trailer[len(_MAGIC) :])


def _read_checked(f: Any, n: int, keep: bool) -> Optional[bytes]:
    """Reads the ``n`` engine bytes of an open entry and checks them against its trailer:
    the bytes when ``keep`` (read at once, no copy), else ``b""`` (hashed through a small
    buffer, never the whole entry in Python); ``None`` when the entry is not intact."""
    h = _digest.new()
    kept = b""
    if keep:
        kept = f.read(n)
        if len(kept) != n:
            return None
        h.update(kept)
    elif not _hash_file(f, h, n):
        return None
    return kept if _trailer_digest(f) == h.digest() else None


def _load(path: str) -> Optional[bytes]:
    """The engine's bytes of the entry at ``path`` (read once, no copy), ``None`` unless
    the entry is one pysym wrote and intact."""
    opened = _open_entry(path)
    if opened is None:
        return None
    fd, n = opened
    try:
        with os.fdopen(fd, "rb") as f:
            return _read_checked(f, n, keep=True)
    except OSError:
        return None


def _load_mapped(engine: Engine, path: str) -> Optional[Any]:
    """The module from the entry at ``path`` mapped by the engine (``deserialize_file``),
    after its digest is checked. ``None`` when the entry is not intact; the engine's
    refusal raises."""
    opened = _open_entry(path)
    if opened is None:
        return None
    fd, n = opened
    with os.fdopen(fd, "rb") as f:
        try:
            if _read_checked(f, n, keep=False) is None:
                return None
        except OSError:
            return None
        # The very file checked, even if the path was replaced since (Linux: /proc).
        proc = "/proc/self/fd/%d" % f.fileno()
        return engine.deserialize_file(proc if os.path.exists(proc) else path, n)


def _prune(d: str, prefix: str) -> None:
    try:
        mine = [e for e in os.scandir(d) if e.name.startswith(prefix) and e.name.endswith(".bin")]
        mine.sort(key=lambda e: e.stat().st_mtime, reverse=True)
        for e in mine[KEEP:]:
            os.unlink(e.path)
    except OSError:
        pass


def write_private(path: str, data: bytes, *, sync: bool = False, tmp_dir: Optional[str] = None) -> bool:
    """``data`` to ``path`` through a temporary file ``.tmp-*`` (mode 0600; in ``tmp_dir``,
    on the same file system, else beside ``path``) and a rename, so readers see the old
    entry or the whole new one; ``sync`` fsyncs it first. False on any I/O failure, with no
    temporary file left behind (a cache only loses the entry)."""
    import tempfile  # only when writing (~0.8 MB resident at import)

    try:
        fd, tmp = tempfile.mkstemp(dir=tmp_dir or os.path.dirname(path), prefix=".tmp-")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


def _store(d: str, path: str, payload: bytes, prefix: str) -> None:
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        if not _trusted(d):
            return
    except OSError:
        return
    if write_private(path, payload + _MAGIC + _digest.new(payload).digest()):
        _prune(d, prefix)


def _compile(engine: Engine, wasm: bytes, serialize: bool) -> Tuple[Any, Optional[bytes]]:
    """The compiled module, and its serialized form when asked for (or made anyway)."""
    if not may_compile_here():
        payload = compile_elsewhere(engine.name, wasm, engine.counts_fuel)
        return engine.deserialize(wasm, payload), payload
    module = engine.compile(wasm)
    if not serialize:
        return module, None
    try:
        return module, engine.serialize(module)
    except Exception:
        return module, None


def _read(wasm: Union[bytes, str]) -> bytes:
    if isinstance(wasm, str):
        with open(wasm, "rb") as f:
            return f.read()
    return wasm


def compile_module(engine: Engine, wasm: Union[bytes, str], fresh: bool = False) -> Any:
    """``engine.compile(wasm)``, through the cache when the engine can serialize;
    ``fresh``: compiled here, the cache neither read nor written (its entry, which this
    process could not run, stays for the processes that can). ``wasm``: the module's
    bytes or its file's path, which a hit on an engine that maps entries never reads
    into Python (only hashes)."""
    settings = engine.artifact_settings()
    d = directory()
    if settings is None:
        return engine.compile(_read(wasm))
    if d is None or fresh:
        return _compile(engine, _read(wasm), False)[0]
    if not engine.maps_files:  # it needs the bytes: read once, not hashed from the file too
        wasm = _read(wasm)
    path = _path(d, engine, settings, wasm)
    if _trusted(d):
        try:
            if engine.maps_files:
                module = _load_mapped(engine, path)
                if module is not None:
                    return module
            else:
                payload = _load(path)
                if payload is not None:
                    # (wasmer: each new thread loads the entry again rather than holding it)
                    return engine.deserialize(_read(wasm), payload, reload=lambda: _load(path))
        except Exception:  # refused by this engine build: compile and replace it
            pass
    if isinstance(wasm, str):
        # The bytes compiled are the bytes keyed: the file may have changed since it was hashed.
        wasm = _read(wasm)
        path = _path(d, engine, settings, wasm)
    module, payload = _compile(engine, wasm, True)
    if payload is not None:
        _store(d, path, payload, engine.name + "-")
    return module
