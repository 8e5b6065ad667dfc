"""Caches of built symcaches: on disk (shared by processes) and in memory (by bytes).

On disk, under ``<cache_dir>/symcaches/v<format version>/``:

* ``<debug id>-<sha256 of the debug file>.symcache``: a built symcache, written to a
  temporary file (``.tmp-*``) and renamed into place, so a reader sees a whole entry or
  none (a process killed mid-write leaves only a temporary file, removed later);
* ``<key>.malformed``: the debug file failed to build; remembered for
  ``malformed_ttl`` seconds (its mtime), then tried again;
* ``locks/<key>.lock``: ``fcntl.flock`` locks; the first process to take one builds,
  others wait (at most ``lock_timeout`` seconds, then build without the lock) and find
  the entry built.

The directory is used only when owned by the current user and not writable by group or
others (the rule of the compiled-module cache, SECURITY.md); otherwise nothing is cached
on disk.  Entries are touched when used; past ``max_bytes`` the least recently used are
removed.  Any I/O failure of the cache falls back to building in memory.
"""

from __future__ import annotations

import collections
import errno
import hashlib
import os
import threading
import time
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

from .._engine._cache import _trusted, write_private

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no cross-process locks, only atomic renames
    fcntl = None  # type: ignore[assignment]

__all__ = ["DiskCache", "MemoryCache", "SYMCACHE_VERSION", "file_digest"]

#: the symcache format version written by the module (wasm/core/src/symcache, header
#: offset 8); part of every key, so a new format never reads an old entry
SYMCACHE_VERSION = 3
_CHUNK = 1 << 20


def file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(_CHUNK)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


class _Lock:
    """An exclusive ``flock`` on a lock file, waited for at most ``timeout`` seconds."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self.fd: Optional[int] = None

    def acquire(self) -> bool:
        if fcntl is None:
            return False
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return False
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.fd = fd
                return True
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    return False
            if time.monotonic() >= deadline:
                os.close(fd)
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def release(self) -> None:
        if self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = None


class DiskCache:
    """Built symcaches on disk (see the module documentation)."""

    def __init__(self, root: str, *, max_bytes: int = 2 << 30, malformed_ttl: float = 24 * 3600.0,
                 lock_timeout: float = 120.0) -> None:
        self.root = os.fspath(root)
        self.dir = os.path.join(self.root, "symcaches", "v%d" % SYMCACHE_VERSION)
        self.lock_dir = os.path.join(self.dir, "locks")
        self.max_bytes = int(max_bytes)
        self.malformed_ttl = float(malformed_ttl)
        self.lock_timeout = float(lock_timeout)
        self._usable: Optional[bool] = None
        self._threads: Dict[str, threading.Lock] = collections.defaultdict(threading.Lock)
        self._threads_lock = threading.Lock()

    @staticmethod
    def key(debug_id: str, digest: str) -> str:
        return "%s-%s" % (debug_id.lower().replace("-", ""), digest[:40])

    def usable(self) -> bool:
        if self._usable is None:
            try:
                for d in (self.root, os.path.join(self.root, "symcaches"), self.dir, self.lock_dir):
                    os.makedirs(d, mode=0o700, exist_ok=True)
                self._usable = all(_trusted(d) for d in (self.root, self.dir, self.lock_dir))
            except OSError:
                self._usable = False
        return self._usable

    def digest(self, path: str) -> str:
        """The SHA-256 of a debug file, remembered in ``digests/`` by (device, inode,
        size, mtime) so that a new process does not read every file again; a file
        changed in place gets a new mtime, hence a new digest."""
        try:
            st = os.stat(path)
        except OSError:
            return file_digest(path)
        stamp = "%d %d %d %d" % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        name = hashlib.sha256(os.path.realpath(path).encode("utf-8", "surrogateescape")).hexdigest()[:32]
        memo = os.path.join(self.dir, "digests", name)
        if self.usable():
            try:
                with open(memo, "r", encoding="ascii") as f:
                    line = f.read().split("\n")[0]
                head, _, digest = line.rpartition(" ")
                if head == stamp and len(digest) == 64:
                    return digest
            except (OSError, ValueError):
                pass
        digest = file_digest(path)
        if self.usable():
            try:
                os.makedirs(os.path.dirname(memo), mode=0o700, exist_ok=True)
                self._write(os.path.join("digests", name), ("%s %s\n" % (stamp, digest)).encode("ascii"))
            except OSError:
                pass
        return digest

    def entry_path(self, key: str) -> str:
        return os.path.join(self.dir, key + ".symcache")

    def malformed(self, key: str) -> Optional[str]:
        """The remembered error of a debug file that failed to build, if still fresh."""
        p = os.path.join(self.dir, key + ".malformed")
        try:
            st = os.stat(p)
            if time.time() - st.st_mtime > self.malformed_ttl:
                return None
            with open(p, "r", encoding="utf-8", errors="replace") as f:
                return f.read() or "malformed"
        except OSError:
            return None

    def lookup(self, key: str) -> Optional[str]:
        p = self.entry_path(key)
        try:
            os.utime(p)  # the LRU clock
            return p
        except OSError:
            return None

    def get_or_build(self, key: str, build: Callable[[], bytes],
                     on_built: Optional[Callable[[str], None]] = None) -> Tuple[Optional[str], Optional[bytes]]:
        """``(path of the entry, None)``, or ``(None, bytes)`` when it could not be cached.

        ``build`` raises to report a malformed file (remembered, then re-raised).
        """
        if not self.usable():
            return None, build()
        hit = self.lookup(key)
        if hit is not None:
            return hit, None
        with self._threads_lock:
            tlock = self._threads[key]
        with tlock:  # threads of this process: flock is per open file, not per thread
            lock = _Lock(os.path.join(self.lock_dir, key + ".lock"), self.lock_timeout)
            lock.acquire()  # False after lock_timeout: build anyway (the rename is atomic)
            try:
                hit = self.lookup(key)
                if hit is not None:
                    return hit, None
                bad = self.malformed(key)
                if bad is not None:
                    from .._errors import InvalidInputError
                    raise InvalidInputError(bad)
                try:
                    data = build()
                except Exception as e:
                    from .._errors import InvalidInputError
                    if isinstance(e, InvalidInputError):
                        self._write(key + ".malformed", str(e).encode("utf-8"))
                    raise
                path = self._write(key + ".symcache", data)
                if path is None:
                    return None, data
                if on_built is not None:
                    on_built(path)
            finally:
                lock.release()
        self.evict()
        return path, None

    def _write(self, name: str, data: bytes) -> Optional[str]:
        # Temporary files stay in self.dir, where evict() removes those a killed writer left.
        final = os.path.join(self.dir, name)
        return final if write_private(final, data, sync=True, tmp_dir=self.dir) else None

    def _entries(self) -> Iterator[os.DirEntry]:  # type: ignore[type-arg]
        try:
            yield from os.scandir(self.dir)
        except OSError:
            return

    def evict(self) -> None:
        """Removes least recently used entries past ``max_bytes``, stale temporary files
        (of killed writers) and expired malformed marks."""
        now = time.time()
        entries = []
        total = 0
        for e in self._entries():
            try:
                st = e.stat()
            except OSError:
                continue
            if e.name.startswith(".tmp-"):
                if now - st.st_mtime > 3600:
                    _unlink(e.path)
            elif e.name.endswith(".malformed"):
                if now - st.st_mtime > self.malformed_ttl:
                    _unlink(e.path)
            elif e.name.endswith(".symcache"):
                entries.append((st.st_mtime, st.st_size, e.path))
                total += st.st_size
        if total <= self.max_bytes:
            return
        entries.sort()
        for _mtime, size, path in entries[:-1]:  # the newest stays, whatever its size
            if total <= self.max_bytes:
                break
            _unlink(path)
            total -= size


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class MemoryCache:
    """Loaded symcaches by key, least recently used dropped past ``max_bytes``."""

    def __init__(self, max_bytes: int = 512 << 20) -> None:
        self.max_bytes = int(max_bytes)
        self._items: "collections.OrderedDict[str, Tuple[Any, int]]" = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: str, value: Any, size: int) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            # Dropped symcaches are freed by their finaliser once no request uses them.
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _k, (_v, s) = self._items.popitem(last=False)
                self._bytes -= s

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
