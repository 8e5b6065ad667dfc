"""The host side of the ABI: one wasm instance, its file table, calls and error mapping.

A :class:`Runtime` owns one engine and, lazily, an instance of the module. Objects such
as :class:`pysym.SourceMap` hold handles keyed by the instance's ``serial``: when a trap
throws the instance away, those objects rebuild their state in the fresh instance the
next time they are used.
"""

from __future__ import annotations

import array
import atexit
import collections
import contextlib
import errno
import io
import os
import re
import stat
import struct
import sys
import threading
import time
import weakref
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple, Type, TypeVar, Union

from . import _abi, _digest, _errors, _wire
from ._engine import Engine, HostImports, Instance, Trap, load_engine
from ._engine._cache import compile_module
from ._errors import (
    FileChangedError,
    InputTooLargeError,
    InvalidInputError,
    MemoryLimitError,
    PysymError,
    ResourceLimitError,
    SandboxError,
    TimeLimitError,
)
from ._limits import DEFAULT_LIMITS, Limits

__all__ = ["Runtime", "get_runtime", "use_engine", "configure", "DEFAULT_MEMORY_LIMIT"]

DEFAULT_MEMORY_LIMIT = DEFAULT_LIMITS.memory

#: exports that copy a whole host file into the module (``Limits.max_input_size`` applies)
_WHOLE_FILE_EXPORTS = frozenset(["pysym_sourcemap_from_file", "pysym_symcache_from_file"])
_monotonic = time.monotonic

_WASM_PATH = os.path.join(os.path.dirname(__file__), "_wasm", "pysym.wasm")

#: status -> exception class, as wasm/abi.toml names it (the same map as browser/host.js)
_STATUS_ERRORS: Dict[int, Type[PysymError]] = {
    code: getattr(_errors, name) for code, name in _abi.STATUS_ERRORS.items()}

_compiled: Dict[Tuple[str, bool], Any] = {}
_compile_lock = threading.Lock()

#: exports that may call host imports, i.e. re-enter Python in the middle of the call
_REENTERING = frozenset(["pysym_sourcemap_from_file", "pysym_symcache_from_file",
                         "pysym_symcache_build", "pysym_object_info",
                         # a SourceMapCache reads its pages through the file table
                         "pysym_smcache_open", "pysym_smcache_strings", "pysym_smcache_source_content",
                         "pysym_smcache_lookup", "pysym_smcache_lookup_many", "pysym_smcache_tokens",
                         "pysym_smcache_string", "pysym_smcache_load",
                         "pysym_smcache_token_columns", "pysym_smcache_hermes_column"])
#: seconds the interpreter's exit waits for such calls (SECURITY.md "Host-side guarantees")
EXIT_WAIT = 30.0


class _Exit:
    """Calls in flight that may re-enter Python, and whether the interpreter is exiting.

    A daemon thread whose call enters a host import once the interpreter is finalising
    cannot take the GIL back: wasmer aborts the process (SIGABRT). So at exit (atexit
    runs before finalisation) new calls are refused, host imports refuse to work (the call
    then ends at its next import with an error), and the exit waits for the calls in
    flight to end, at most ``EXIT_WAIT`` seconds.
    """

    cond = threading.Condition(threading.Lock())
    calls = 0
    exiting = False


def _at_exit() -> None:
    with _Exit.cond:
        _Exit.exiting = True
        end = _monotonic() + EXIT_WAIT
        while _Exit.calls:
            left = end - _monotonic()
            if left <= 0:
                break
            _Exit.cond.wait(left)


atexit.register(_at_exit)

#: every Runtime, for the fork handler
_runtimes: "weakref.WeakSet[Runtime]" = weakref.WeakSet()
#: what a fork left behind in the child (instances a parent thread may have been calling):
#: never freed, never called
_orphans: List[Any] = []


def _after_fork_in_child() -> None:
    # The parent's other threads do not exist here: any lock one of them held stays held
    # forever, any call one of them was making never returns. Fresh locks, no instances:
    # objects reload on their next use, from the same bytes (PinnedFile, or their bytes).
    global _compile_lock, _default_lock, _pinned_lock, _seek_lock
    _compile_lock = threading.Lock()
    _default_lock = threading.Lock()
    _pinned_lock = threading.Lock()
    _seek_lock = threading.Lock()
    _Exit.cond = threading.Condition(threading.Lock())
    _Exit.calls = 0
    for rt in list(_runtimes):
        rt._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _compiled_module(engine: Engine, fresh: bool = False) -> Any:
    # Compiling takes a while; every runtime on the same engine shares the result.
    # ``fresh``: not the one in use nor the compile cache's (which this process could not run).
    with _compile_lock:
        key = (engine.name, engine.counts_fuel)
        module = None if fresh else _compiled.get(key)
        if module is None:
            module = compile_module(engine, _WASM_PATH, fresh)
            _compiled[key] = module
        return module


def _engine_for(engine: Engine, limits: Limits) -> Engine:
    # Code that counts fuel is slower: limits without fuel run code that does not count it.
    return engine if limits.fuel_base is not None else engine.without_fuel()


def _seek_read(fd: int, length: int, offset: int) -> bytes:
    # Where there is no pread (Windows): the descriptor's position, under a lock.
    with _seek_lock:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, length)


_seek_lock = threading.Lock()
_pread: Callable[[int, int, int], bytes] = getattr(os, "pread", _seek_read)
_preadv: Optional[Callable[[int, List[memoryview], int], int]] = getattr(os, "preadv", None)


#: descriptors PinnedFiles keep open at once; beyond, the least recently used are closed
#: and opened again by path when needed (then a file replaced meanwhile is refused)
PINNED_FDS = 256
_pinned_lock = threading.Lock()
_pinned_open: "collections.OrderedDict[int, weakref.ref[PinnedFile]]" = collections.OrderedDict()
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
               | getattr(os, "O_NONBLOCK", 0))  # a FIFO where a file is expected must not block


class PinnedFile:
    """A file opened once, by descriptor, for the life of an object made from a path.

    Objects rebuild themselves in fresh instances (after any trap or limit in the runtime,
    ``configure()``, a fork, a new thread on wasmer) while their host-side tables (sources,
    names, decoded frames, ``debug_id``) stay: they must be rebuilt from the very bytes
    they were opened with. So the file is read through this descriptor (a file replaced
    by a rename, or deleted, is still read as it was), and every reload is checked: the
    size and mtime first (no call when they differ), then a BLAKE2b digest of what the module
    read, in order (``load``). Anything else raises :class:`FileChangedError`.

    At most ``PINNED_FDS`` descriptors stay open process-wide (a resolver may hold
    thousands of maps): the least recently used idle one is closed and reopened by path
    on its next use, which also requires the same device, inode, size and mtime.
    ``pread`` keeps no file position: threads and forked children can share a descriptor.
    """

    __slots__ = ("path", "fd", "ident", "digest", "busy", "closed", "_hash", "_fresh", "__weakref__")

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1
        self.busy = 0
        self.closed = False
        self.digest: Optional[bytes] = None
        self._hash: Any = None
        fd = os.open(path, _OPEN_FLAGS)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            if not stat.S_ISREG(st.st_mode):
                raise InvalidInputError("%s is not a regular file" % path)
        except BaseException:
            os.close(fd)
            raise
        self.ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        #: the first use follows this fstat at once: it need not repeat it
        self._fresh = True
        self._keep(fd)

    # -- the descriptor ------------------------------------------------------------

    def _keep(self, fd: int) -> None:
        """Registers ``fd`` as open; closes the least recently used idle others."""
        with _pinned_lock:
            self.fd = fd
            _pinned_open[id(self)] = weakref.ref(self)
            excess = len(_pinned_open) - PINNED_FDS
            if excess > 0:
                for key, ref in list(_pinned_open.items()):
                    other = ref()
                    if other is not None and (other is self or other.busy):
                        continue
                    del _pinned_open[key]
                    if other is not None:
                        other._close_fd()
                    excess -= 1
                    if excess <= 0:
                        break

    def _close_fd(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    @contextlib.contextmanager
    def using(self, owner: str) -> Iterator["PinnedFile"]:
        """The file, open and unchanged in size and mtime, for the length of a call."""
        if self.closed:
            raise PysymError("this %s is closed" % owner)
        with _pinned_lock:
            self.busy += 1
            fd = self.fd
            if fd >= 0:
                _pinned_open.move_to_end(id(self))
        try:
            if fd < 0:
                self._reopen(owner)
            if self._fresh:
                self._fresh = False
            else:
                st = os.fstat(self.fd)
                if (st.st_size, st.st_mtime_ns) != self.ident[2:]:
                    raise self._changed(owner, "size %d -> %d bytes, mtime changed: %s" % (
                        self.ident[2], st.st_size, st.st_mtime_ns != self.ident[3]))
            yield self
        finally:
            with _pinned_lock:
                self.busy -= 1

    def _reopen(self, owner: str) -> None:
        try:
            fd = os.open(self.path, _OPEN_FLAGS)
        except FileNotFoundError:
            raise self._changed(owner, "it was removed") from None
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != self.ident[:2]:
            os.close(fd)
            raise self._changed(owner, "another file is at its path now")
        self._keep(fd)

    def _changed(self, owner: str, how: str) -> FileChangedError:
        return FileChangedError("%s changed on disk since this %s was opened (%s); open it again to"
                                " use the new contents" % (self.path, owner, how))

    # -- reads (through the file table) --------------------------------------------

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def read(self, offset: int, length: int) -> bytes:
        parts = []
        while length > 0:
            chunk = _pread(self.fd, min(length, 1 << 30), offset)
            if not chunk:
                break
            parts.append(chunk)
            offset += len(chunk)
            length -= len(chunk)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        h = self._hash
        if h is not None:
            h.update(struct.pack("<QQ", offset - len(data), len(data)))
            h.update(data)
        return data

    def read_into(self, offset: int, dst: memoryview) -> int:
        """:meth:`read` into ``dst``: how many bytes (fewer only at the end of the file)."""
        if _preadv is None:
            data = self.read(offset, len(dst))
            dst[: len(data)] = data
            return len(data)
        n, total = 0, len(dst)
        while n < total:
            got = _preadv(self.fd, [dst[n : n + min(total - n, 1 << 30)]], offset + n)
            if not got:
                break
            n += got
        h = self._hash
        if h is not None:
            h.update(struct.pack("<QQ", offset, n))
            h.update(dst[:n])
        return n

    def call(self, rt: "Runtime", owner: str, name: str, *args: int) -> int:
        """``rt.call(name, fh, *args)`` with this file as ``fh`` (size and mtime checked)."""
        with self.using(owner):
            fh = rt.files.add(self)
            try:
                return rt.call(name, fh, *args)
            finally:
                rt.files.remove(fh)

    def load(self, rt: "Runtime", export: str, free_export: str, owner: str) -> int:
        """``rt.call(export, fh, out_slot)`` with this file as ``fh``; returns the status.

        The first load records a digest of what the module read; a later one that read
        anything else frees what it made and raises FileChangedError.
        """
        h = _digest.new()
        with self.using(owner):
            self._hash = h
            fh = rt.files.add(self)
            try:
                status = rt.call(export, fh, rt.out_slot)
            finally:
                rt.files.remove(fh)
                self._hash = None
        digest = h.digest()
        if self.digest is None:
            self.digest = digest
        elif digest != self.digest:
            if status >= 0:
                rt.call(free_export, rt.out(1)[0])
            raise self._changed(owner, "same size and mtime, other bytes")
        return status

    def child_path(self) -> str:
        """A path another process can open to read this very file (the watchdog child)."""
        proc = "/proc/%d/fd/%d" % (os.getpid(), self.fd)
        return proc if self.fd >= 0 and os.path.exists(proc) else self.path

    def close(self) -> None:
        self.closed = True
        with _pinned_lock:
            _pinned_open.pop(id(self), None)
            self._close_fd()

    def __del__(self) -> None:
        self.close_in_finaliser()

    def close_in_finaliser(self) -> None:
        """``close`` for finalisers (this file's and its owner's). Not close(): the
        collector can run a finaliser while this very thread holds _pinned_lock (inside
        _keep), and waiting for it would deadlock. The descriptor is closed here; when the
        lock is taken, the dead registry entry goes at the next _keep."""
        try:
            self.closed = True
            if _pinned_lock.acquire(blocking=False):
                try:
                    _pinned_open.pop(id(self), None)
                finally:
                    _pinned_lock.release()
            self._close_fd()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass


#: errno -> the process limit that usually causes it when an engine starts an instance
_RLIMITS = {errno.EFBIG: "RLIMIT_FSIZE", errno.ENOMEM: "RLIMIT_AS", errno.EMFILE: "RLIMIT_NOFILE",
            errno.EAGAIN: "RLIMIT_NPROC"}


def _start_error(message: str) -> PysymError:
    """The error for an instance the engine could not start: a refused system resource
    (wasmtime backs linear memory with a memfd, so a low RLIMIT_FSIZE fails with EFBIG)
    is a ResourceLimitError naming the cause, not a SandboxError (a bug in pysym)."""
    m = re.search(r"os error (\d+)", message)
    if m is None:
        return SandboxError("cannot start the wasm module: %s" % message)
    code = int(m.group(1))
    cause = "%s (errno %d)" % (os.strerror(code), code)
    name = _RLIMITS.get(code)
    if name is not None:
        try:
            import resource

            soft = resource.getrlimit(getattr(resource, name))[0]
            cause += "; %s is %s" % (name, "unlimited" if soft == resource.RLIM_INFINITY else soft)
        except (ImportError, AttributeError, OSError, ValueError):
            pass
    return ResourceLimitError(
        "cannot start the wasm module: the operating system refused a resource: %s (engine: %s)"
        % (cause, message)
    )


FileSource = Union[IO[bytes], bytes, bytearray, memoryview, PinnedFile]


class BuildOutput:
    """Receives the symcache a build streams out (ABI ``output_begin``, ``output_write``)
    into one buffer of the size the module announced, filled in order.

    ``limit`` bounds that size; a failure is kept in ``error`` (the import returns a
    status to the module, the caller raises it after the call).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.filled = 0
        self.error: Optional[BaseException] = None
        self._buf: Optional[io.BytesIO] = None

    def begin(self, size: int) -> int:
        self._buf = None
        if size > self.limit:
            self.error = InputTooLargeError(
                "the symcache built is %d bytes, more than the %d bytes it could be loaded in" % (size, self.limit)
            )
            return _abi.LIMIT_EXCEEDED
        # Sized once and filled exactly, so that getvalue() hands this very buffer over
        # (CPython) instead of a copy: the bytes exist once on the host. Made from
        # bytes(size) (calloc: pages untouched until written) and referenced by nothing
        # else, so writes go in place: its pages become resident as the output arrives,
        # while the module gives back the tables it wrote, not all at once on top of the
        # build's peak (seek + write touched every page: +7 MB at python3.11's peak).
        buf = io.BytesIO(bytes(size))
        self._buf, self.size, self.filled, self.error = buf, size, 0, None
        return _abi.OK

    def write(self, offset: int, data: memoryview) -> int:
        if self._buf is None or offset != self.filled or len(data) > self.size - offset:
            self.error = PysymError(
                "the module wrote %d output bytes at %d, expected them at %d of %d"
                % (len(data), offset, self.filled, self.size)
            )
            return _abi.HOST_IO
        self._buf.write(data)
        self.filled += len(data)
        return _abi.OK

    def getvalue(self, size: int) -> bytes:
        """The bytes, once all ``size`` of them (as the export reported) arrived."""
        buf, self._buf = self._buf, None
        if buf is None or self.filled != self.size or size != self.size:
            raise PysymError(
                "the module reported a %d-byte symcache but wrote %d of %d bytes" % (size, self.filled, self.size)
            )
        return buf.getvalue()


class _FileTable(HostImports):
    """The capabilities the module may read: only files the host put here."""

    def __init__(self) -> None:
        self._files: Dict[int, FileSource] = {}
        #: files kept for the life of an object (a SourceMapCache's pages): not the input
        #: of any one call, so not in total_size
        self._kept: Set[int] = set()
        #: the others: what total_size adds up on every call (a service may keep thousands
        #: of caches open, which it need not walk each time)
        self._inputs: Set[int] = set()
        self._next = 1
        # Set by the caller of a long export (symcache builds) for the length of the call.
        self.on_progress: Optional[Callable[[int, int], None]] = None
        # Set by the caller of a symcache build for the length of the call; without one
        # the module's output is refused.
        self.output: Optional[BuildOutput] = None

    def add(self, source: FileSource, kept: bool = False) -> int:
        fh = self._next
        self._next += 1
        self._files[fh] = source
        (self._kept if kept else self._inputs).add(fh)
        return fh

    def remove(self, fh: int) -> None:
        self._files.pop(fh, None)
        self._kept.discard(fh)
        self._inputs.discard(fh)

    def get(self, fh: int) -> Optional[FileSource]:
        return self._files.get(fh)

    def total_size(self) -> int:
        """Bytes of all files currently open to the module (the input of the next call)."""
        total = 0
        if not self._inputs:
            return total
        for fh in list(self._inputs):
            try:
                total += max(0, self.file_size(fh))
            except Exception:
                pass
        return total

    def file_size(self, fh: int) -> int:
        if _Exit.exiting:  # see _Exit: end the call at once
            return _abi.HOST_IO
        src = self._files.get(fh)
        if src is None:
            return _abi.BAD_HANDLE
        if isinstance(src, (bytes, bytearray, memoryview)):
            return len(src)
        if isinstance(src, PinnedFile):
            return src.size()
        return os.fstat(src.fileno()).st_size

    def progress(self, done: int, total: int) -> None:
        if self.on_progress is not None and not _Exit.exiting:
            self.on_progress(done, total)

    def _to_output(self, step: Callable[[BuildOutput], int]) -> int:
        out = self.output
        if out is None or _Exit.exiting:
            return _abi.HOST_IO
        try:
            return step(out)
        except Exception as e:  # MemoryError: told to the caller, not lost in HOST_IO
            out.error = e
            return _abi.HOST_IO

    def output_begin(self, size: int) -> int:
        return self._to_output(lambda out: out.begin(size))

    def output_write(self, offset: int, data: memoryview) -> int:
        return self._to_output(lambda out: out.write(offset, data))

    def file_read(self, fh: int, offset: int, length: int) -> Union[bytes, memoryview, int]:
        if _Exit.exiting:
            return _abi.HOST_IO
        src = self._files.get(fh)
        if src is None:
            return _abi.BAD_HANDLE
        if isinstance(src, (bytes, bytearray, memoryview)):
            return memoryview(src)[offset : offset + length]
        if isinstance(src, PinnedFile):
            return src.read(offset, length)
        src.seek(offset)
        return src.read(length)

    def file_read_into(self, fh: int, offset: int, dst: memoryview) -> int:
        src = self._files.get(fh)
        if isinstance(src, PinnedFile) and not _Exit.exiting:
            return src.read_into(offset, dst)
        return super().file_read_into(fh, offset, dst)


_UNSET = object()


class StringTable:
    """A string table result (ABI.md "String table"), decoded entry by entry on use.

    Maps can have 100,000 names of which a stack trace needs a handful, and a hostile map
    millions of sources: the table keeps the result bytes (a view of them as the entry
    array) and a str only for the entries asked for, so holding one costs about its size.
    """

    __slots__ = ("_data", "_entries", "_base", "_count", "_cache", "_found", "_text")

    def __init__(self, data: bytes) -> None:
        (count,) = struct.unpack_from("<I", data, 0)
        if len(data) < 4 + 8 * count:
            raise ValueError("string table shorter than its entries")
        view = memoryview(data)[4 : 4 + 8 * count]
        if sys.byteorder == "big":
            entries: Any = array.array("I", view)
            entries.byteswap()
        else:
            entries = view.cast("I")  # no copy
        self._data = data
        self._entries = entries
        self._base = 4 + 8 * count
        self._count = count
        self._cache: Dict[int, Optional[str]] = {}
        #: value -> index for the entries decoded so far (see index())
        self._found: Dict[Optional[str], int] = {}
        #: the strings as one str when they are all ASCII (values_at slices it), False if
        #: they are not, None until asked
        self._text: Union[str, bool, None] = None

    def __len__(self) -> int:
        return int(self._count)

    def __getitem__(self, i: int) -> Optional[str]:
        try:
            return self._cache[i]
        except KeyError:
            pass
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError("string table index out of range")
        off, n = self._entries[2 * i], self._entries[2 * i + 1]
        value: Optional[str]
        if n == _abi.NONE:
            value = None
        else:
            start = self._base + off
            value = self._data[start : start + n].decode("utf-8")
        self._cache[i] = value
        if i < self._found.get(value, i + 1):
            self._found[value] = i
        return value

    def __iter__(self) -> Iterator[Optional[str]]:
        for i in range(self._count):
            yield self[i]

    def index(self, value: Optional[str]) -> int:
        """An index holding ``value`` (``ValueError`` if none).

        A value decoded before (by a lookup) is found at once, at the smallest index it
        was decoded from; any other by one pass that compares bytes and keeps no strings
        (the first index holding it)."""
        found = self._found.get(value, -1)
        if found >= 0:
            return found
        e, none = self._entries, _abi.NONE
        if value is None:
            for j in range(self._count):
                if e[2 * j + 1] == none:
                    return j
        else:
            want = value.encode("utf-8")
            n, data, base = len(want), self._data, self._base
            for j in range(self._count):
                if e[2 * j + 1] == n and data[base + e[2 * j] : base + e[2 * j] + n] == want:
                    self._found[value] = j
                    return j
        raise ValueError("%r is not in the table" % (value,))

    def values_at(self, indices: Sequence[int]) -> List[Optional[str]]:
        """The entries at ``indices`` (each in range), in one loop: a lookup batch asks
        for thousands, and one ``self[i]`` costs ~1.5 us (its cache miss is a KeyError).
        Not kept in this table's cache."""
        get, none, base, data = self._entries.__getitem__, _abi.NONE, self._base, self._data
        out: List[Optional[str]] = []
        append = out.append
        if self._text is None:
            # one check and one decode of the whole table (names, paths: ASCII nearly
            # always), then a str slice per entry: ~4x less than a decode each
            try:
                self._text = str(memoryview(data)[base:], "ascii")
            except UnicodeDecodeError:
                self._text = False
        text = self._text
        if isinstance(text, str):
            for i in indices:
                n = get(2 * i + 1)
                if n == none:
                    append(None)
                else:
                    at = get(2 * i)
                    append(text[at : at + n])
            return out
        for i in indices:
            n = get(2 * i + 1)
            if n == none:
                append(None)
            else:
                at = get(2 * i) + base
                append(data[at : at + n].decode("utf-8"))
        return out

    def to_list(self) -> List[Optional[str]]:
        e, none = self._entries, _abi.NONE
        blob = self._data[self._base :]
        if blob.isascii():
            # One decode, then str slices: the common case (symbol names and paths).
            text = blob.decode("ascii")
            return [None if n == none else text[o : o + n] for o, n in zip(e[0::2], e[1::2])]
        return [None if n == none else blob[o : o + n].decode("utf-8") for o, n in zip(e[0::2], e[1::2])]


class _Live:
    """A running instance with its cached exports; ``serial`` is unique per instance."""

    __slots__ = ("instance", "funcs", "serial", "out_slot", "rearm_at", "input_ptr", "input_size")

    def __init__(self, instance: Instance, serial: int) -> None:
        self.instance = instance
        self.funcs: Dict[str, Callable[..., int]] = {}
        self.serial = serial
        self.out_slot = 0
        #: the module's reusable input area (pysym_input_buffer), which only that export
        #: moves or grows: a batch that fits is written there without asking again
        self.input_ptr = 0
        self.input_size = 0
        #: monotonic time after which light calls (the fast lookup path) must re-arm the
        #: deadline; 0 = now (after a heavy call left an arbitrary amount of fuel)
        self.rearm_at = 0.0


class Runtime:
    """One engine and, lazily, its module instance; calls are serialised by a lock.

    Engines whose objects are bound to the thread that made them (wasmer) get one
    instance per thread; objects load themselves into each instance they are used in.

    ``limits`` (:class:`pysym.Limits`, SECURITY.md) bound every instance (memory) and
    every call (fuel for the input handed to it, a wall-clock deadline, input size).
    A trap or an exhausted limit discards the instance; objects rebuild transparently.
    """

    def __init__(
        self,
        engine: Optional[str] = None,
        memory_limit: Optional[int] = None,
        limits: Optional[Limits] = None,
    ) -> None:
        self._chosen_engine = load_engine(engine)
        if limits is None:
            limits = DEFAULT_LIMITS
        if memory_limit is not None:
            limits = limits.replace(memory=memory_limit)
        self.engine = _engine_for(self._chosen_engine, limits)
        self._limits = limits
        self._work = 0  # bytes handed to the module for the next call (fuel budget)
        self._last_input: Any = None  # the latest put_input data (watchdog mode)
        self._watchdog_proc: Any = None  # _watchdog.Watchdog, started on first use
        self.lock = threading.RLock()
        self.files = _FileTable()
        self._serial = 0
        self._local: Any = threading.local() if getattr(self.engine, "thread_bound", False) else None
        self._shared: Optional[_Live] = None
        #: (instance serial, free export, handle, what must happen before the free) of
        #: objects collected without close()
        self._free_later: List[Tuple[int, str, int, Optional[Callable[[], bool]]]] = []
        _runtimes.add(self)

    def _after_fork(self) -> None:
        """In a forked child: a fresh lock, file table and no instance (the parent's are
        kept, unused: a parent thread may have been inside them); objects reload."""
        _orphans.append((self._shared, self._local, self._watchdog_proc, self.files))
        self.lock = threading.RLock()
        self.files = _FileTable()
        self._shared = None
        if self._local is not None:
            self._local = threading.local()
        self._watchdog_proc = None  # the parent's child process, not ours to use or kill
        self._free_later = []
        self._work = 0
        self._last_input = None

    # -- instance life cycle -------------------------------------------------------

    @property
    def live(self) -> Optional[_Live]:
        """The current thread's running instance, if any (never starts one)."""
        if self._local is not None:
            return getattr(self._local, "live", None)
        return self._shared

    def _set_live(self, live: Optional[_Live]) -> None:
        if self._local is not None:
            self._local.live = live
        else:
            self._shared = live

    def current(self) -> _Live:
        """The current thread's running instance, started when there is none."""
        live = self.live
        if live is None:
            live = self._start()
        return live

    @property
    def instance(self) -> Instance:
        return self.current().instance

    @property
    def out_slot(self) -> int:
        return self.current().out_slot

    def _start(self) -> _Live:
        inst = self._instantiate()
        with self.lock:
            self._serial += 1
            live = _Live(inst, self._serial)
        version = inst.func("pysym_abi_version")()
        if version != _abi.ABI_VERSION:
            raise SandboxError(
                "pysym.wasm speaks ABI version %s, this host speaks %s" % (version, _abi.ABI_VERSION)
            )
        live.out_slot = inst.func("pysym_out_slot")()
        self._set_live(live)
        return live

    def _instantiate(self) -> Instance:
        try:
            return self.engine.instantiate(_compiled_module(self.engine), self.files, self.limits.memory)
        except Trap as e:
            error = _start_error(str(e))
        if isinstance(error, SandboxError):
            # Not a refused resource: the module may be a compile-cache entry built for CPU
            # features this process does not see (wasmer under valgrind, whose CPUID hides
            # AVX-512 that /proc/cpuinfo, the cache key, shows). Compile it here, once.
            try:
                return self.engine.instantiate(_compiled_module(self.engine, fresh=True), self.files,
                                               self.limits.memory)
            except Trap as e:
                error = _start_error(str(e))
        raise error

    @property
    def limits(self) -> Limits:
        return self._limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        # Fuel set on an engine whose code does not count it would not be enforced.
        engine = _engine_for(self._chosen_engine, limits)
        with self.lock:
            self._limits = limits
            if engine is not self.engine:
                self.engine = engine
                self.discard()
                if self._local is not None:
                    self._local = threading.local()

    @property
    def memory_limit(self) -> int:
        return self.limits.memory

    def set_limits(self, limits: Limits) -> None:
        """New limits; running instances are thrown away (objects reload on next use)."""
        with self.lock:
            self.limits = limits
            self.discard()
            if self._local is not None:
                self._local = threading.local()

    def discard(self) -> None:
        """Throws the instance away; objects rebuild in a fresh one on next use."""
        self._set_live(None)

    def free_later(self, serial: int, export: str, handle: int,
                   before: Optional[Callable[[], bool]] = None) -> None:
        """Frees ``handle`` at the next call in instance ``serial`` (safe in finalisers:
        only appends to a list), after ``before()`` (see :meth:`free`)."""
        self._free_later.append((serial, export, handle, before))

    def free(self, export: str, handle: int, before: Optional[Callable[[], bool]] = None) -> None:
        """Frees ``handle`` in the live instance; ``before()`` first undoes what the host
        did to the object's memory (a file mapped over it). If it cannot, the object is
        left allocated (a leak, but no memory of the allocator's is then a hole)."""
        if before is None or before():
            self.call(export, handle)

    def _free_collected(self) -> None:
        pending, self._free_later = self._free_later, []
        live = self.live
        work, last = self._work, self._last_input  # the budget of the call under way
        for serial, export, handle, before in pending:
            # Handles of a discarded instance went with it; on wasmer, another thread's
            # instance cannot be called from here: left to that instance's end.
            if live is not None and serial == live.serial:
                try:
                    self.free(export, handle, before)
                except Exception:  # noqa: BLE001 - a failed free only leaks module memory
                    pass
        self._work, self._last_input = work, last

    def func(self, name: str) -> Callable[..., int]:
        live = self.current()
        fn = live.funcs.get(name)
        if fn is None:
            fn = live.funcs[name] = live.instance.func(name)
        return fn

    # -- calls ---------------------------------------------------------------------

    def call(self, name: str, *args: int) -> int:
        """Calls an export under a fresh budget (fuel for the input handed to it, the
        deadline); a trap discards the instance and raises a typed error (trap_error)."""
        if self._free_later:
            self._free_collected()
        fn = self.func(name)
        live = self.current()
        work = self._work
        self._work = 0
        files = self.files.total_size()
        if name in _WHOLE_FILE_EXPORTS and files > self.limits.max_input_size:
            raise InputTooLargeError(
                "the input is %d bytes, more than max_input_size (%d)" % (files, self.limits.max_input_size)
            )
        limits = self.limits
        if limits.watchdog and not self.engine.budgets and limits.timeout is not None:
            self._watchdog(name, args)
        live.instance.set_budget(limits.fuel_for(work + files), limits.timeout)
        live.rearm_at = 0.0
        reenters = name in _REENTERING
        if reenters:
            with _Exit.cond:
                if _Exit.exiting:
                    self._last_input = None
                    raise PysymError("%s was not started: the interpreter is exiting" % name)
                _Exit.calls += 1
        try:
            return fn(*args)
        except Trap as e:
            raise self.trap_error(name, e) from None
        except BaseException:
            # Raised out of a host import (KeyboardInterrupt in a progress callback): the
            # call stopped half way, so its instance is not to be trusted again.
            self.discard()
            raise
        finally:
            self._last_input = None
            if reenters:
                with _Exit.cond:
                    _Exit.calls -= 1
                    _Exit.cond.notify_all()

    def _watchdog(self, name: str, args: Tuple[int, ...]) -> None:
        """Watchdog mode: run a heavy call first in a child process (``_watchdog.py``)."""
        from . import _watchdog

        if name not in _watchdog.HEAVY or name == "pysym_sourcemap_set_generated":
            return  # (the latter is guarded by SourceMap, which knows the map's source)
        data: Optional[bytes] = None
        path: Optional[str] = None
        arch: Optional[str] = None
        extra: Optional[bytes] = None
        if name.endswith("_from_bytes"):
            data = bytes(self._last_input) if self._last_input is not None else None
        else:
            src = self.files.get(args[0])
            if isinstance(src, (bytes, bytearray, memoryview)):
                data = bytes(src)
            elif isinstance(src, PinnedFile):
                path = src.child_path()
            elif src is not None:
                path = getattr(src, "name", None)
            if name in ("pysym_symcache_build", "pysym_object_info", "pysym_unwind_build") and args[2]:
                arch = self.current().instance.read(args[1], args[2]).decode("utf-8", "replace")
            elif name == "pysym_minidump_walk":
                extra = self.current().instance.read(args[1], args[2])
            elif name == "pysym_minidump_walk_open":
                extra = self.current().instance.read(args[2], args[3])
        self.watchdog_check(name, data, path, arch, extra)

    def watchdog_check(self, name: str, data: Optional[bytes], path: Optional[str], arch: Optional[str] = None,
                       extra: Optional[bytes] = None) -> None:
        """Watchdog mode: runs the heavy call ``name`` on these inputs in the child first
        (``_watchdog.py``); nothing outside watchdog mode."""
        from . import _watchdog

        limits = self.limits
        if not (limits.watchdog and not self.engine.budgets and limits.timeout is not None):
            return
        if data is None and path is None:
            return
        if self._watchdog_proc is None:
            self._watchdog_proc = _watchdog.Watchdog()
        self._watchdog_proc.check(self.engine.name, limits, name, data, path, arch, extra)

    def arm_light(self, live: _Live) -> None:
        """Re-arms the deadline for light calls (lookups) that skip ``call``: unlimited
        fuel, ``timeout`` from now; valid for half the timeout."""
        timeout = self.limits.timeout
        live.instance.set_budget(None, timeout)
        live.rearm_at = _monotonic() + (timeout / 2 if timeout is not None else 1e18)

    def trap_error(self, name: str, trap: Trap) -> PysymError:
        """The exception for a trap in export ``name``; discards the instance."""
        live = self.live
        self.discard()
        if trap.kind in ("fuel", "deadline"):
            if trap.kind == "fuel":
                what, knob = "CPU budget (fuel)", "fuel_base"
            else:
                what, knob = "time limit (%ss)" % self.limits.timeout, "timeout"
            # Big debug files can legitimately need more: say which limit to raise.
            return TimeLimitError("%s exceeded its %s (raise it with pysym.configure(%s=...)): %s"
                                  % (name, what, knob, trap), code=None)
        failed = 0
        if live is not None:
            try:
                live.instance.set_budget(10_000_000, 5.0)
                failed = live.instance.func("pysym_alloc_failure")()
            except Exception:
                failed = 0
        if failed:
            return MemoryLimitError(
                "%s ran out of memory: a request for %d bytes failed (memory limit %d bytes)"
                % (name, failed & 0xFFFFFFFF, self.limits.memory),
                code=_abi.OUT_OF_MEMORY,
            )
        return SandboxError("the wasm module trapped in %s: %s" % (name, trap))

    def check(self, status: int) -> int:
        """Raises the exception for a negative status, with the module's message."""
        if status >= 0:
            return status
        message = self.last_error()
        cls = _STATUS_ERRORS.get(status, PysymError)
        raise cls(message, code=status)

    def last_error(self) -> str:
        status = self.call("pysym_last_error", self.out_slot)
        data = self.result_bytes()
        text = data.decode("utf-8", "replace")
        return text or _abi.STATUS_NAMES.get(status, "status %d" % status)

    def out(self, count: int) -> Tuple[int, ...]:
        live = self.current()
        return live.instance.read_u32(live.out_slot, count)

    def _result_span(self) -> Tuple[Instance, int, int]:
        """The instance and the (pointer, length) of the result buffer published in the
        out slot (its result_out record)."""
        live = self.current()
        w = live.instance.read_u32(live.out_slot, _wire.RESULT_OUT_WORDS)
        return live.instance, w[_wire.RESULT_OUT_PTR], w[_wire.RESULT_OUT_LEN]

    def result_bytes(self) -> bytes:
        """Copies the result buffer published in the out slot."""
        instance, ptr, length = self._result_span()
        return instance.read(ptr, length) if length else b""

    def result_view(self) -> "Union[bytes, memoryview]":
        """The result buffer as a view of linear memory (no copy; valid until the next call
        into the module, under the lock), or its bytes where the engine has no view."""
        instance, ptr, length = self._result_span()
        if not length:
            return b""
        view = instance.memory_view(ptr, length)
        return instance.read(ptr, length) if view is None else view

    def put_input(self, data: Any) -> int:
        """Copies bytes into a fresh module allocation (for exports that take ownership)."""
        ptr = self.alloc_input(len(memoryview(data).cast("B")))
        self.instance.write(ptr, data)
        self._last_input = data
        return ptr

    def alloc_input(self, length: int) -> int:
        """A fresh module allocation of ``length`` bytes for an input (``put_input``, or a
        file read straight into it), within ``max_input_size``."""
        if length > self.limits.max_input_size:
            raise InputTooLargeError(
                "the input is %d bytes, more than max_input_size (%d)" % (length, self.limits.max_input_size)
            )
        ptr = self.call("pysym_alloc", length)
        if ptr == 0:
            self.call("pysym_alloc_failure")
            raise MemoryLimitError("the module cannot allocate %d bytes for the input (memory limit %d bytes)"
                                   % (length, self.limits.memory))
        self._work += length
        return ptr

    def input_buffer(self, data: Any) -> int:
        """Copies batch arguments into the module's reusable input area."""
        length = len(memoryview(data).cast("B"))
        live = self.current()
        ptr = live.input_ptr
        if length > live.input_size or not ptr:
            ptr = self.call("pysym_input_buffer", length)
            if ptr == 0:
                self.call("pysym_alloc_failure")
                raise MemoryLimitError("the module cannot allocate %d bytes for arguments (memory limit %d bytes)"
                                       % (length, self.limits.memory))
            live.input_ptr, live.input_size = ptr, (length + 7) // 8 * 8  # (the module keeps whole u64 words)
        live.instance.write(ptr, data)
        self._work += length
        return ptr

    def string_table(self, data: bytes) -> List[Optional[str]]:
        """Decodes a whole string table result (ABI.md "String table")."""
        return StringTable(data).to_list()


class HandleOwner:
    """An object living inside the module: handles keyed by instance serial, a life cycle.

    Subclasses set ``_FREE_EXPORT`` and implement ``_load()``, which (re)creates the
    object in the current instance and returns its handle; after a trap the next use
    loads it again in the fresh instance.
    """

    _FREE_EXPORT = ""
    _rt: Runtime
    _handles: Dict[int, int]
    _closed: bool
    #: the file a ``from_path`` object reads (again) on every load; closed by ``close()``
    _pinned: Optional[PinnedFile] = None

    def _load(self) -> int:
        raise NotImplementedError

    def _before_free(self, serial: int) -> Optional[Callable[[], bool]]:
        """What must happen before the handle of instance ``serial`` is freed (None:
        nothing); it must not refer to ``self`` (it may run after a finaliser)."""
        return None

    def _open(self, read: Callable[[], None]) -> None:
        """Loads the object, then ``read()``s what the host keeps of it; on any failure the
        pinned file (if any) is closed before the error goes on."""
        with self._rt.lock:
            try:
                self._load()
                read()
            except BaseException:
                if self._pinned is not None:
                    self._pinned.close()
                raise

    def _h(self) -> int:
        """The live handle, rebuilding the object if its instance was thrown away."""
        if self._closed:
            raise PysymError("this %s is closed" % type(self).__name__)
        handle = self._handles.get(self._rt.current().serial)
        if handle is None:
            handle = self._load()
        return handle

    def close(self) -> None:
        """Frees the object inside the module; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        rt = self._rt
        try:
            with rt.lock:
                live = rt.live
                handle = self._handles.get(live.serial) if live is not None else None
                self._handles.clear()
                if handle is not None and live is not None:
                    rt.free(self._FREE_EXPORT, handle, self._before_free(live.serial))
        finally:
            if self._pinned is not None:
                self._pinned.close()

    def __enter__(self: "_Owner") -> "_Owner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # No call into the module from a finaliser: the garbage collector may have
        # finalised the engine's store first (a cycle through a traceback holding both),
        # and calling into it then crashes. The runtime frees the handles at its next call.
        try:
            if self._closed:
                return
            self._closed = True
            for serial, handle in self._handles.items():
                self._rt.free_later(serial, self._FREE_EXPORT, handle, self._before_free(serial))
            self._handles.clear()
            if self._pinned is not None:
                self._pinned.close_in_finaliser()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass


_Owner = TypeVar("_Owner", bound=HandleOwner)


_default: Optional[Runtime] = None
_default_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The process-wide runtime (engine from ``$PYSYM_ENGINE`` or the first available)."""
    global _default
    rt = _default
    if rt is None:
        with _default_lock:
            if _default is None:
                _default = Runtime()
            rt = _default
    return rt


def use_engine(name: Optional[str], limits: Optional[Limits] = None) -> Runtime:
    """Replaces the process-wide runtime with one on engine ``name``."""
    global _default
    with _default_lock:
        _default = Runtime(name, limits=limits)
        return _default


def configure(limits: Optional[Limits] = None, **changes: Any) -> Limits:
    """Sets the limits of the process-wide runtime and returns them.

    ``pysym.configure(timeout=5, memory=256 << 20)`` changes single fields;
    ``pysym.configure(pysym.Limits(...))`` replaces all. Running instances are thrown
    away; existing objects reload under the new limits on their next use.
    """
    rt = get_runtime()
    new = (limits if limits is not None else rt.limits).replace(**changes)
    rt.set_limits(new)
    return new
