"""Caches of built symcaches: on disk (shared by processes) and in memory (by bytes).

On disk, under ``<cache_dir>/symcaches/v<format version>/`` (the version the module
writes, read from a symcache it builds: :func:`symcache_version`):

* ``<debug id>-<sha256 of the debug file>.symcache``: a built symcache, written to a
  temporary file (``.tmp-*``) and renamed into place, so a reader sees a whole entry or
  none (a process killed mid-write leaves only a temporary file, removed later);
* ``<key>.checked``: the entry's stamp (device, inode, size, mtime, ctime) and CRC-32
  when pysym wrote it or last loaded it with every check (:meth:`DiskCache.read_entry`).
  While the stamp holds, or else the CRC-32 does, a new process opens the entry with its
  header and geometry checked only (O(1) instead of a pass over every record); a CRC-32
  that no longer holds means the entry changed since: it is dropped and built again.
  It is also the entry's LRU clock (touching the entry would change its stamp);
* ``<key>.malformed``: the debug file failed to build; remembered for
  ``malformed_ttl`` seconds (its mtime), then tried again;
* ``locks/<key>.lock``: ``fcntl.flock`` locks; the first process to take one builds,
  others wait (at most ``lock_timeout`` seconds, then build without the lock) and find
  the entry built; a lock file exists only while its lock is held or waited for;
* ``digests/<device>-<inode>``: what is known of a debug file (its SHA-256, its identity
  as the sandbox read it), valid while its (device, inode, size, mtime, ctime) stay the
  same, so that a new process neither hashes nor parses the file again; at most
  ``max_memos`` of them, the least recently used removed first.

The directory is used only when owned by the current user and not writable by group or
others (the rule of the compiled-module cache, SECURITY.md); otherwise nothing is cached
on disk.  So whoever can write an entry (or its ``.checked`` record) is this user or
root, who can already replace the compiled module the engine runs as native code; the
unchecked open trusts the directory less than that: look-ups on unchecked bytes stay
inside the sandbox, bounded, and report the damage they meet (FORMAT.md, "Unchecked
open"), so forged bytes can give wrong answers or errors, nothing more.  Entries are
touched when used (their records); past ``max_bytes`` the least recently used are
removed.  Any I/O failure of the cache falls back to building in memory.
"""

from __future__ import annotations

import collections
import errno
import hashlib
import json
import os
import threading
import time
import zlib
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

from .._engine._cache import _trusted, write_private
from .._errors import PysymError
from .._native import file_stamp as _stamp

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no cross-process locks, only atomic renames
    fcntl = None  # type: ignore[assignment]

__all__ = ["DiskCache", "MemoryCache", "KeyedLocks", "symcache_version", "file_digest", "unchanged"]

_CHUNK = 1 << 20
_version: Optional[int] = None
_version_lock = threading.Lock()
# The smallest debug file there is: a Breakpad header and one symbol.
_TINY_BREAKPAD = b"MODULE Linux x86_64 000000000000000000000000000000000 v\nPUBLIC 1000 0 v\n"


def symcache_version(runtime: Any = None) -> int:
    """The symcache format version the module writes (header offset 8), read from a tiny
    symcache it builds once per process: a new format (a new module) never reads the
    entries of an old one, and no constant here has to follow the Rust one."""
    global _version
    with _version_lock:
        if _version is None:
            from .._native import SymCache

            with SymCache.from_object(_TINY_BREAKPAD, runtime=runtime) as sc:
                data = sc.to_bytes()
            _version = int.from_bytes(data[8:12], "little")
        return _version


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
    """An exclusive ``flock`` on a lock file, waited for at most ``timeout`` seconds.

    The holder removes the file when it lets go, so no lock file outlives its use (one
    per key would pile up); a waiter that then gets the lock of the removed file sees
    that the path no longer names it and takes the lock of the path's new file."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self.fd: Optional[int] = None

    def acquire(self) -> bool:
        if fcntl is None:
            return False
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK) \
                            or time.monotonic() >= deadline:
                        os.close(fd)
                        return False
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
            try:
                held, now = os.fstat(fd), os.stat(self.path)
                same = (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)
            except OSError:
                same = False
            if same:
                self.fd = fd
                return True
            os.close(fd)  # the file was removed by the holder before us: lock the new one

    def release(self) -> None:
        if self.fd is not None:
            try:
                _unlink(self.path)  # while held: waiters on this file then open a new one
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = None


class KeyedLocks:
    """One lock per key for the threads of this process.  An entry lives only while a
    thread holds or waits for it: a long-running service sees unboundedly many keys, and
    a lock kept for every key ever seen would grow without end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: Dict[Any, List[Any]] = {}  # key -> [lock, threads holding or waiting]

    @contextmanager
    def hold(self, key: Any) -> Iterator[None]:
        with self._lock:
            entry = self._held.get(key)
            if entry is None:
                entry = self._held[key] = [threading.Lock(), 0]
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._held[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)


class DiskCache:
    """Built symcaches on disk (see the module documentation)."""

    def __init__(self, root: str, *, max_bytes: int = 2 << 30, malformed_ttl: float = 24 * 3600.0,
                 lock_timeout: float = 120.0, max_memos: int = 100_000, runtime: Any = None) -> None:
        self.root = os.fspath(root)
        self._version: Optional[int] = None
        self._runtime = runtime
        self.max_bytes = int(max_bytes)
        self.max_memos = int(max_memos)
        self.malformed_ttl = float(malformed_ttl)
        self.lock_timeout = float(lock_timeout)
        self._usable: Optional[bool] = None
        self._threads = KeyedLocks()

    @staticmethod
    def key(debug_id: str, digest: str) -> str:
        return "%s-%s" % (debug_id.lower().replace("-", ""), digest[:40])

    @property
    def version(self) -> int:
        if self._version is None:
            self._version = self._remembered_version()
        return self._version

    def _remembered_version(self) -> int:
        """:func:`symcache_version`, remembered in ``symcaches/`` while the module file
        keeps its (device, inode, size, mtime, ctime): a new process then builds no tiny
        symcache to learn it. (A wrong number could only pick another ``v<N>``
        directory, whose entries state their own format: a format the module cannot
        read is refused at load and built again, never misread.)"""
        global _version
        if _version is not None:
            return _version
        from .. import _host

        try:
            st = os.stat(_host._WASM_PATH)
        except OSError:
            return symcache_version(self._runtime)
        stamp = "%d %d %d %d %d" % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        base = os.path.join(self.root, "symcaches")
        path = os.path.join(base, "format-%s" % hashlib.sha256(stamp.encode()).hexdigest()[:24])
        try:
            if _trusted(self.root) and _trusted(base):
                with open(path, "r", encoding="utf-8") as f:
                    text = f.read(200).split("\n")
                if len(text) >= 2 and text[1] == stamp and text[0].isdigit() and 0 < int(text[0]) < 1 << 16:
                    with _version_lock:
                        _version = int(text[0])
                    return _version
        except (OSError, ValueError):
            pass
        version = symcache_version(self._runtime)
        try:
            for d in (self.root, base):  # (as usable() would next)
                os.makedirs(d, mode=0o700, exist_ok=True)
            if _trusted(self.root) and _trusted(base):
                write_private(path, ("%d\n%s\n" % (version, stamp)).encode(), sync=False, tmp_dir=base)
        except OSError:
            pass
        return version

    @property
    def dir(self) -> str:
        return os.path.join(self.root, "symcaches", "v%d" % self.version)

    @property
    def lock_dir(self) -> str:
        return os.path.join(self.dir, "locks")

    @property
    def memo_dir(self) -> str:
        return os.path.join(self.dir, "digests")

    def usable(self) -> bool:
        if self._usable is None:
            try:
                self.version  # noqa: B018 - the module builds a tiny symcache once
            except PysymError:
                self._usable = False  # (a runtime that cannot build: nothing to cache)
                return False
            try:
                for d in (self.root, os.path.join(self.root, "symcaches"), self.dir, self.lock_dir, self.memo_dir):
                    os.makedirs(d, mode=0o700, exist_ok=True)
                self._usable = all(_trusted(d) for d in (self.root, self.dir, self.lock_dir, self.memo_dir))
            except OSError:
                self._usable = False
        return self._usable

    # -- what is known of a debug file (digests/) ----------------------------------

    @staticmethod
    def _memo_name(st: os.stat_result) -> Tuple[str, str]:
        """(file name, stamp) of a file's memo: the stamp changes with any write (mtime,
        and ctime, which no one can set back), so a memo never outlives the contents."""
        name = "%x-%x" % (st.st_dev, st.st_ino)
        stamp = "%d %d %d %d %d" % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        return name, stamp

    def memo(self, path: str) -> Dict[str, Any]:
        """What the cache remembers of the file at ``path`` (``{}`` if nothing or stale)."""
        try:
            return self._memo_of(os.stat(path), touch=True)
        except OSError:
            return {}

    def _memo_of(self, st: os.stat_result, touch: bool = False) -> Dict[str, Any]:
        if not self.usable():
            return {}
        name, stamp = self._memo_name(st)
        p = os.path.join(self.memo_dir, name)
        try:
            with open(p, "r", encoding="utf-8") as f:
                memo = json.loads(f.read())
            if not isinstance(memo, dict) or memo.get("stamp") != stamp:
                return {}
            if touch:
                os.utime(p)  # the LRU clock
        except (OSError, ValueError):
            return {}
        return memo

    def remember(self, path: str, before: os.stat_result, **fields: Any) -> None:
        """Adds ``fields``, computed from the file at ``path`` as ``os.stat`` saw it at
        ``before`` (taken before computing them), to its memo, if the file is unchanged."""
        if not self.usable() or not unchanged(before, path):
            return
        name, stamp = self._memo_name(before)
        memo = self._memo_of(before)
        memo.update(fields)
        memo["stamp"] = stamp
        # (no fsync: a memo lost in a crash is computed again; a damaged one fails to parse)
        self._write(os.path.join("digests", name), json.dumps(memo, sort_keys=True).encode("utf-8"), sync=False)

    def digest(self, path: str, memo: Optional[Mapping[str, Any]] = None) -> str:
        """The SHA-256 of a debug file, remembered in its memo so that a new process does
        not read every file again (``memo``: the file's, if the caller has read it)."""
        before = os.stat(path)
        digest = (self.memo(path) if memo is None else memo).get("sha256")
        if isinstance(digest, str) and len(digest) == 64:
            return digest
        digest = file_digest(path)
        self.remember(path, before, sha256=digest)
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

    @staticmethod
    def checked_path(entry: str) -> str:
        return entry[: -len(".symcache")] + ".checked"

    def lookup(self, key: str) -> Optional[str]:
        p = self.entry_path(key)
        try:
            os.stat(p)
        except OSError:
            return None
        try:
            os.utime(self.checked_path(p))  # the LRU clock: the entry's own times are its stamp
        except OSError:
            try:
                os.utime(p)  # (no record yet: one is written once the entry is checked)
            except OSError:
                return None
        return p

    def read_entry(self, entry: str, record: Optional[Tuple[int, int, str]]
                   ) -> Tuple[Optional[bytes], bool, Optional[os.stat_result]]:
        """``(bytes, vouched, stat)`` of the entry at ``entry``: ``vouched`` when its
        ``.checked`` record (``record``, as :meth:`record` read it) shows the bytes
        unchanged since they passed every check (the stamp, else the CRC-32: then the
        record is stamped again), ``stat`` (of the open file, before the read) for
        :meth:`vouch` after a full check.  ``(None, ...)``: the
        bytes differ from those checked (the caller drops the entry and builds it again).
        Raises ``OSError``."""
        with open(entry, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
            after = os.fstat(f.fileno())
        if _stamp(after) != _stamp(st) or len(data) != st.st_size:
            return data, False, None  # written to while read: check it all, remember nothing
        if record is None:
            return data, False, st  # no record (yet): the full checks, then vouch()
        crc, size, stamp = record
        if size != len(data):
            return None, False, None
        if stamp == _stamp(st):
            return data, True, st
        if zlib.crc32(data) != crc:
            return None, False, None
        self._write_checked(entry, st, crc)  # (copied, or touched: the same bytes)
        return data, True, st

    def record(self, entry: str) -> Optional[Tuple[int, int, str]]:
        """``(CRC-32, size, stamp)`` of the entry's ``.checked`` record, None without one."""
        try:
            with open(self.checked_path(entry), "r", encoding="ascii") as f:
                lines = f.read(300).split("\n")
            crc, size = (int(x, 16) for x in lines[0].split())
            return crc, size, lines[1]
        except (OSError, ValueError, IndexError):
            return None

    @staticmethod
    def stamp(st: os.stat_result) -> str:
        return _stamp(st)

    def vouch(self, entry: str, st: os.stat_result, data: bytes) -> None:
        """Records that ``data``, read from ``entry`` as ``st`` saw it, passed every check."""
        self._write_checked(entry, st, zlib.crc32(data))

    def forget(self, entry: str) -> None:
        """Drops a damaged entry and its record."""
        _unlink(entry)
        _unlink(self.checked_path(entry))

    def _write_checked(self, entry: str, st: os.stat_result, crc: int) -> None:
        # (no fsync: a record lost in a crash costs one full check; a torn one fails to parse)
        self._write(os.path.basename(self.checked_path(entry)),
                    ("%x %x\n%s\n" % (crc, st.st_size, _stamp(st))).encode("ascii"), sync=False)

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
        with self._threads.hold(key):  # threads of this process: flock is per open file, not per thread
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
                _unlink(self.checked_path(self.entry_path(key)))  # (a record of a dropped entry)
                path = self._write(key + ".symcache", data)
                if path is None:
                    return None, data
                try:
                    # The bytes passed every check when the build loaded them.
                    self.vouch(path, os.stat(path), data)
                except OSError:
                    pass
                if on_built is not None:
                    on_built(path)
            finally:
                lock.release()
        self.evict()
        return path, None

    def _write(self, name: str, data: bytes, sync: bool = True) -> Optional[str]:
        # Temporary files stay in self.dir, where evict() removes those a killed writer left.
        final = os.path.join(self.dir, name)
        return final if write_private(final, data, sync=sync, tmp_dir=self.dir) else None

    def _entries(self) -> Iterator[os.DirEntry]:  # type: ignore[type-arg]
        try:
            yield from os.scandir(self.dir)
        except OSError:
            return

    def evict(self) -> None:
        """Removes least recently used entries past ``max_bytes``, memos past
        ``max_memos``, stale temporary files (of killed writers) and expired malformed
        marks."""
        now = time.time()
        self._evict_memos()
        found: Dict[str, Tuple[float, int, str]] = {}
        records: Dict[str, Tuple[float, str]] = {}
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
                found[e.name[: -len(".symcache")]] = (st.st_mtime, st.st_size, e.path)
                total += st.st_size
            elif e.name.endswith(".checked"):
                records[e.name[: -len(".checked")]] = (st.st_mtime, e.path)
        for key, (mtime, path) in records.items():
            if key not in found:
                if now - mtime > 3600:  # (an entry being written has its record soon after)
                    _unlink(path)
            elif mtime > found[key][0]:
                found[key] = (mtime,) + found[key][1:]  # the LRU clock
        if total <= self.max_bytes:
            return
        entries = sorted(found.values())
        for _mtime, size, path in entries[:-1]:  # the newest stays, whatever its size
            if total <= self.max_bytes:
                break
            self.forget(path)
            total -= size


    def _evict_memos(self) -> None:
        try:
            memos = []
            for e in os.scandir(self.memo_dir):
                try:
                    memos.append((e.stat().st_mtime, e.path))
                except OSError:
                    continue
        except OSError:
            return
        if len(memos) <= self.max_memos:
            return
        memos.sort()
        for _mtime, path in memos[: len(memos) - self.max_memos]:
            _unlink(path)


def unchanged(before: os.stat_result, path: str) -> bool:
    """Whether ``path`` still has the size and times it had at ``before``."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) == (
        before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns, before.st_ctime_ns)


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

    def discard(self, key: str) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
