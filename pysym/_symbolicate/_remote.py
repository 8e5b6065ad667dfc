"""Remote symbol stores: symbol servers over HTTP(S), with a download cache.

:class:`HttpStore` speaks every layout of :class:`~pysym.FilesystemStore` (the paths come
from the same :func:`~._stores.cased_locations`) relative to a base URL; a debuginfod
server is an ``HttpStore`` with the ``debuginfod`` layout.  It downloads with the standard
library only (the core stays free of dependencies) and never parses anything: the file
is handed to the symbolicator, which reads it in the sandbox.

Remote safety (:class:`RemotePolicy`), because a symbol server or a request's source
can point anywhere:

* every address a host name resolves to must be public (``ipaddress``'s ``is_global``)
  unless it is inside ``allowed_networks``; the connection goes to the address that was
  checked (no second lookup a DNS answer could change);
* redirects are followed only to the store's own host or its ``redirect_hosts``, each
  hop checked again, at most ``max_redirects``;
* a download is cut at ``max_download_bytes`` and ``download_timeout`` seconds in all
  (``connect_timeout`` for the connection, ``read_timeout`` per read);
* after ``backoff_failures`` failures in a row (connection errors, timeouts, 5xx), a host
  is not asked again for ``backoff_seconds``.

A download that is gzip, zstd or a Microsoft cabinet (by its magic bytes) is decompressed
inside the sandbox (``pysym._decompress``) before it is cached, capped at
``max_download_bytes``; a damaged one or a bomb is an error and is remembered as malformed.
Symstore-family stores also try Microsoft's compressed name (``foo.pd_``) after a miss.

:class:`DownloadCache` keeps downloads by (store id, path): files for ``file_ttl``
(7 days), remembered misses for ``miss_ttl`` (1 hour), files found malformed for
``malformed_ttl`` (24 hours); bounded by ``max_bytes`` with least-recently-used eviction;
written to a temporary file and renamed; one download per entry at a time across threads
and processes (an ``flock`` per key, as the symcache cache does).

A full disk (or any write the cache directory refuses) does not fail a download: it is
kept in memory instead (within ``max_download_bytes``), decompressed there, and
``fetch`` returns its bytes, which the symbolicator reads through the module's ranged
reads as it reads a file; nothing is cached, and a miss is not remembered.
"""

from __future__ import annotations

import collections
import hashlib
import http.client
import ipaddress
import json
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ContextManager, Dict, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union
from urllib.parse import quote, urljoin, urlsplit

from .._errors import PysymError
from ._cache import KeyedLocks, _Lock
from ._stores import CASINGS, LAYOUTS, Location, _Filtered, cased_locations

__all__ = ["HttpStore", "S3Store", "RemotePolicy", "DownloadCache", "RemoteError", "REMOTE_STATS"]

_Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
_CHUNK = 1 << 16


class RemoteError(PysymError):
    """A remote store could not be used: refused address or redirect, too large, too
    slow, a server error, or a host in back-off."""


#: process-wide counters of every remote store (the service's /metrics reads them)
REMOTE_STATS: Dict[str, int] = collections.Counter()
_stats_lock = threading.Lock()


def _count(what: str, n: int = 1) -> None:
    with _stats_lock:
        REMOTE_STATS[what] += n


@dataclass
class RemotePolicy:
    """Where and how much a remote store may download (see the module documentation)."""

    allowed_networks: Sequence[str] = ()
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    download_timeout: float = 300.0
    max_download_bytes: int = 2 << 30
    max_redirects: int = 5
    backoff_failures: int = 3
    backoff_seconds: float = 60.0
    _networks: List[_Network] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._networks = [ipaddress.ip_network(n, strict=False) for n in self.allowed_networks]

    def address_allowed(self, ip: str) -> bool:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
        if any(addr in n for n in self._networks):
            return True
        return bool(addr.is_global) and not addr.is_multicast


def _checked_address(policy: RemotePolicy, host: str, port: int) -> str:
    """The address to connect to: every address ``host`` resolves to must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        _count("download_errors")
        raise RemoteError("%s: cannot resolve (%s)" % (host, e)) from None
    addrs = [str(i[4][0]) for i in infos]
    bad = [a for a in addrs if not policy.address_allowed(a)]
    if bad or not addrs:
        _count("refused_addresses")
        raise RemoteError("%s resolves to %s: not a public address (allowed_networks does not include it)"
                          % (host, ", ".join(bad) or "nothing"))
    return addrs[0]


class _Backoff:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fails: Dict[str, Tuple[int, float]] = {}

    def check(self, host: str) -> None:
        with self._lock:
            n, until = self._fails.get(host, (0, 0.0))
        if until and time.monotonic() < until:
            raise RemoteError("%s failed %d times in a row: not asked again for %.0f s"
                              % (host, n, until - time.monotonic()))

    def failed(self, host: str, policy: RemotePolicy) -> None:
        with self._lock:
            n, _until = self._fails.get(host, (0, 0.0))
            n += 1
            until = time.monotonic() + policy.backoff_seconds if n >= policy.backoff_failures else 0.0
            self._fails[host] = (n, until)
        if until:
            _count("backoffs")

    def ok(self, host: str) -> None:
        with self._lock:
            self._fails.pop(host, None)


_BACKOFF = _Backoff()


class _Conn(http.client.HTTPConnection):
    """A connection to an address already checked (no second name lookup)."""

    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


def _tls_conn(host: str, port: int, ip: str, timeout: float) -> http.client.HTTPConnection:
    """An HTTPS connection to the checked address. ``ssl`` is imported here, not with the
    package: some Pythons (Pyodide) ship without it, and local symbolication needs none."""
    try:
        import ssl
    except ImportError:
        raise RemoteError("https://%s: this Python has no ssl module" % host) from None

    class _TlsConn(http.client.HTTPSConnection):
        def connect(self) -> None:
            sock = socket.create_connection((ip, self.port), self.timeout)
            self.sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)

    return _TlsConn(host, port, timeout=timeout)


class DownloadCache:
    """Downloaded files by (store id, path) (see the module documentation)."""

    def __init__(self, root: str, *, file_ttl: float = 7 * 86400.0, miss_ttl: float = 3600.0,
                 malformed_ttl: float = 86400.0, max_bytes: int = 8 << 30, lock_timeout: float = 300.0) -> None:
        self.dir = os.path.join(os.fspath(root), "downloads")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self.file_ttl, self.miss_ttl, self.malformed_ttl = float(file_ttl), float(miss_ttl), float(malformed_ttl)
        self.max_bytes = int(max_bytes)
        self.lock_timeout = float(lock_timeout)
        self._threads = KeyedLocks()

    @staticmethod
    def key(store_id: str, path: str) -> str:
        return hashlib.sha256(("%s\0%s" % (store_id, path)).encode("utf-8", "surrogateescape")).hexdigest()[:40]

    def _fresh(self, path: str, ttl: float) -> bool:
        try:
            return time.time() - os.stat(path).st_mtime < ttl
        except OSError:
            return False

    def lookup(self, key: str) -> Tuple[str, Optional[str]]:
        """``("file", path)``, ``("miss", None)``, ``("malformed", None)`` or ``("none", None)``."""
        base = os.path.join(self.dir, key)
        if self._fresh(base + ".malformed", self.malformed_ttl):
            return "malformed", None
        if self._fresh(base + ".miss", self.miss_ttl):
            return "miss", None
        if self._fresh(base + ".file", self.file_ttl):
            # LRU by access time, set here (mounts are often noatime); the mtime stays the
            # download's: the TTL counts from it, and a reader that has the file open
            # (pysym pins files by size and mtime) must not see it change.
            try:
                st = os.stat(base + ".file")
                os.utime(base + ".file", ns=(time.time_ns(), st.st_mtime_ns))
            except OSError:
                pass
            return "file", base + ".file"
        return "none", None

    def flight(self, key: str) -> "_Flight":
        return _Flight(self._threads.hold(key), _Lock(os.path.join(self.dir, key + ".lock"), self.lock_timeout))

    def temp(self) -> Tuple[int, str]:
        return tempfile.mkstemp(dir=self.dir, prefix=".tmp-")

    def commit(self, key: str, tmp: str) -> str:
        dst = os.path.join(self.dir, key + ".file")
        os.replace(tmp, dst)
        self._drop(key, ".miss", ".malformed")
        self.evict()
        return dst

    def remember(self, key: str, what: str) -> None:
        """Remembers a ``miss`` or a ``malformed`` file (drops the file itself)."""
        fd, tmp = self.temp()
        os.close(fd)
        os.replace(tmp, os.path.join(self.dir, "%s.%s" % (key, what)))
        if what == "malformed":
            self._drop(key, ".file")

    def _drop(self, key: str, *suffixes: str) -> None:
        for s in suffixes:
            try:
                os.unlink(os.path.join(self.dir, key + s))
            except OSError:
                pass

    def evict(self) -> None:
        entries = []
        total = 0
        now = time.time()
        for name in os.listdir(self.dir):
            p = os.path.join(self.dir, name)
            try:
                st = os.stat(p)
            except OSError:
                continue
            if name.startswith(".tmp-"):
                if now - st.st_mtime > self.lock_timeout + 60:  # left by a killed process
                    self._unlink(p)
                continue
            if name.endswith(".file"):
                entries.append((st.st_atime, st.st_size, p))
                total += st.st_size
        if total <= self.max_bytes:
            return
        for _atime, size, p in sorted(entries):
            self._unlink(p)
            total -= size
            if total <= self.max_bytes:
                break

    @staticmethod
    def _unlink(p: str) -> None:
        try:
            os.unlink(p)
        except OSError:
            pass


class _Flight:
    """One download per key: a thread lock, then a file lock (other processes)."""

    def __init__(self, tl: ContextManager[None], fl: _Lock) -> None:
        self.tl, self.fl = tl, fl

    def __enter__(self) -> "_Flight":
        self.tl.__enter__()
        self.fl.acquire()  # False (no lock) after lock_timeout: download anyway
        return self

    def __exit__(self, *exc: Any) -> None:
        self.fl.release()
        self.tl.__exit__(None, None, None)


_caches: Dict[str, DownloadCache] = {}
_caches_lock = threading.Lock()


def _default_cache() -> DownloadCache:
    with _caches_lock:
        if "" not in _caches:
            _caches[""] = DownloadCache(tempfile.mkdtemp(prefix="pysym-downloads-"))
        return _caches[""]


def _scope(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts).encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _layout_of(c: Dict[str, Any]) -> Tuple[str, str]:
    """``layout``/``casing`` from a source config: ``"layout": NAME`` or ``{"type", "casing"}``."""
    layout = c.pop("layout", "native")
    casing = c.pop("casing", "default")
    if isinstance(layout, Mapping):
        casing = layout.get("casing", casing)
        layout = layout.get("type", "native")
    return str(layout), str(casing)


class _RemoteStore(_Filtered):
    """What remote stores share: layouts, the download cache, single flight, malformed
    files remembered, decompression.  Subclasses implement ``_get(cache, key, path)``:
    download ``path`` into the cache (``cache.temp()``, ``self._finish``) or remember a
    miss and return ``None``."""

    cache_scope: str  # the download cache's namespace: the store's address and credentials

    def __init__(self, layout: str, casing: str, filters: Optional[Mapping[str, Any]],
                 cache: Optional[DownloadCache], policy: Optional[RemotePolicy]) -> None:
        super().__init__(filters)
        if layout not in LAYOUTS:
            raise ValueError("unknown store layout %r (one of %s)" % (layout, ", ".join(LAYOUTS)))
        if casing not in CASINGS:
            raise ValueError("unknown casing %r (one of %s)" % (casing, ", ".join(CASINGS)))
        self.layout, self.casing = layout, casing
        self.cache = cache
        self.policy = policy or RemotePolicy()

    def locations(self, module: Any) -> List[Location]:
        return [loc for loc in cased_locations(self.layout, self.casing, module) if self._allowed(module, loc)]

    def _cache(self) -> DownloadCache:
        return self.cache if self.cache is not None else _default_cache()

    def fetch(self, location: Location) -> "Optional[Union[str, bytes]]":
        parts = location.path.split("/")
        if any(p in ("", ".", "..") for p in parts):
            return None
        found = self.fetch_path(location.path)
        if found is None and self.layout in ("symstore", "symstore_index2", "ssqp") and location.path[-1:] != "_":
            # Microsoft's compressed variant: the file name's last character is '_'
            # (foo.pd_, a cabinet), decompressed when downloaded.
            found = self.fetch_path(location.path[:-1] + "_")
        return found

    def fetch_path(self, path: str) -> "Optional[Union[str, bytes]]":
        """The cached file of ``path`` (relative to the store), downloaded if needed; its
        bytes when the cache could not be written (a full disk)."""
        cache = self._cache()
        key = cache.key(self.cache_scope, path)
        state, found = cache.lookup(key)
        if state == "none":
            with cache.flight(key):
                state, found = cache.lookup(key)  # another thread or process got it meanwhile
                if state == "none":
                    _count("cache_misses")
                    return self._get(cache, key, path)
        _count("cache_hits")
        if state == "malformed":
            raise RemoteError("%s was malformed (remembered for %.0f s)" % (path, cache.malformed_ttl))
        return found

    def _get(self, cache: DownloadCache, key: str, path: str) -> "Optional[Union[str, bytes]]":
        raise NotImplementedError

    def _finish(self, cache: DownloadCache, key: str, url: str, sink: "_Sink") -> "Union[str, bytes]":
        """A complete download: decompressed, then committed to the cache (its path), or
        its bytes when the disk refused it somewhere on the way."""
        from .._decompress import compression_of

        if sink.mem is not None:
            return self._unpack(cache, key, url, bytes(sink.mem))
        tmp = sink.close()
        with open(tmp, "rb") as f:
            compressed = compression_of(f.read(4)) is not None
            if compressed:
                f.seek(0)
                data = f.read()
        if compressed:
            out = self._unpack(cache, key, url, data)
            del data
            try:
                with open(tmp, "wb") as f:
                    f.write(out)
            except OSError:
                _count("uncached_downloads")
                _unlink(tmp)
                return out
        return cache.commit(key, tmp)

    def _unpack(self, cache: DownloadCache, key: str, url: str, data: bytes) -> bytes:
        """A gzip, zstd or cabinet download's contents, decompressed in the sandbox and
        capped at ``max_download_bytes`` (anything else as it is); a damaged one or a bomb
        is remembered as malformed."""
        from .._decompress import compression_of, decompress

        kind = compression_of(data[:4])
        if kind is None:
            return data
        try:
            _fmt, out = decompress(data, max_size=self.policy.max_download_bytes)
        except PysymError as e:
            _count("decompress_errors")
            try:
                cache.remember(key, "malformed")
            except OSError:
                pass
            raise RemoteError("%s: %s download: %s" % (url, kind, e)) from None
        _count("decompressed")
        return bytes(out)

    def note_malformed(self, location: Location) -> None:
        """The file at ``location`` could not be read: remembered for ``malformed_ttl``."""
        cache = self._cache()
        try:
            cache.remember(cache.key(self.cache_scope, location.path), "malformed")
        except OSError:
            pass

class HttpStore(_RemoteStore):
    """A symbol server at ``url`` in one of the layouts (see the module documentation).

    ``cache``: a :class:`DownloadCache` (default: one in a private temporary directory
    per process); ``policy``: a :class:`RemotePolicy`; ``headers``: sent with every
    request to the store's own host (never to a redirect's); ``redirect_hosts``: other
    host names a redirect may lead to.
    """

    def __init__(self, url: str, layout: str = "native", *, casing: str = "default", id: Optional[str] = None,
                 filters: Optional[Mapping[str, Any]] = None, headers: Optional[Mapping[str, str]] = None,
                 cache: Optional[DownloadCache] = None, policy: Optional[RemotePolicy] = None,
                 redirect_hosts: Sequence[str] = ()) -> None:
        super().__init__(layout, casing, filters, cache, policy)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an http store needs an http:// or https:// URL, not %r" % (url,))
        self.url = url if url.endswith("/") else url + "/"
        self.id = id or "%s:%s" % (layout, url)
        self.headers = dict(headers or {})
        # Downloads are cached by what was asked and how, never by the id alone: a
        # request-given source must not fill (or read) another source's entries.
        self.cache_scope = _scope("http", self.url, sorted(self.headers.items()))
        self.hosts = {parts.hostname.lower()} | {h.lower() for h in redirect_hosts}

    @classmethod
    def from_config(cls, c: Mapping[str, Any], *, cache: Optional[DownloadCache] = None,
                    policy: Optional[RemotePolicy] = None) -> "HttpStore":
        """From Symbolicator's source shape: ``{"id", "url", "layout": {"type", "casing"}
        | "layout": NAME, "casing", "filters", "headers", "redirect_hosts"}``."""
        c = dict(c)
        c.pop("type", None)
        if "url" not in c:
            raise ValueError("an http store needs a 'url'")
        layout, casing = _layout_of(c)
        store = cls(c.pop("url"), layout, casing=casing, id=c.pop("id", None), filters=c.pop("filters", None),
                    headers=c.pop("headers", None), cache=cache, policy=policy,
                    redirect_hosts=c.pop("redirect_hosts", ()))
        if c:
            raise ValueError("unknown http store option(s): %s" % ", ".join(sorted(c)))
        return store

    def describe(self, location: Location) -> str:
        return self.url + quote(location.path, safe="/")

    def _get(self, cache: DownloadCache, key: str, path: str) -> "Optional[Union[str, bytes]]":
        return self._download(cache, key, self.describe(Location(path, "")))

    def _download(self, cache: DownloadCache, key: str, url: str) -> "Optional[Union[str, bytes]]":
        policy = self.policy
        deadline = time.monotonic() + policy.download_timeout
        first_host = urlsplit(url).hostname or ""
        for _hop in range(policy.max_redirects + 1):
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            if parts.scheme not in ("http", "https") or not host:
                raise RemoteError("refused redirect to %r" % url)
            if host not in self.hosts:
                raise RemoteError("refused redirect to host %s (not the store's nor in redirect_hosts)" % host)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            slot = "%s:%d" % (host, port)
            _BACKOFF.check(slot)
            ip = _checked_address(policy, host, port)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RemoteError("download of %s took longer than %.0f s" % (url, policy.download_timeout))
            timeout = min(policy.connect_timeout, remaining)
            conn = (_tls_conn if parts.scheme == "https" else _Conn)(host, port, ip, timeout)
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            headers = {"User-Agent": "pysym", "Accept-Encoding": "identity"}
            if host == first_host.lower():
                headers.update(self.headers)
            try:
                try:
                    conn.request("GET", target, headers=headers)
                    if conn.sock is not None:
                        conn.sock.settimeout(min(policy.read_timeout, max(deadline - time.monotonic(), 0.001)))
                    resp = conn.getresponse()
                except (OSError, http.client.HTTPException) as e:
                    _BACKOFF.failed(slot, policy)
                    _count("download_errors")
                    raise RemoteError("%s: %s" % (url, e or type(e).__name__)) from None
                if resp.status in (301, 302, 303, 307, 308):
                    where = resp.getheader("Location")
                    if not where:
                        raise RemoteError("%s: redirect without a Location" % url)
                    url = urljoin(url, where)
                    continue
                if resp.status in (404, 410):
                    _BACKOFF.ok(slot)
                    _remember_miss(cache, key)
                    return None
                if resp.status != 200:
                    if resp.status >= 500:
                        _BACKOFF.failed(slot, policy)
                    _count("download_errors")
                    raise RemoteError("%s: HTTP %d" % (url, resp.status))
                path = self._receive(cache, key, url, resp, deadline, slot)
                _BACKOFF.ok(slot)
                return path
            finally:
                conn.close()
        raise RemoteError("%s: more than %d redirects" % (url, policy.max_redirects))

    def _receive(self, cache: DownloadCache, key: str, url: str, resp: http.client.HTTPResponse, deadline: float,
                 slot: str) -> "Union[str, bytes]":
        cap = self.policy.max_download_bytes
        length = resp.getheader("Content-Length")
        if length is not None and length.isdigit() and int(length) > cap:
            _count("download_errors")
            raise RemoteError("%s: %s bytes, more than max_download_bytes (%d)" % (url, length, cap))
        sink = _Sink(cache)
        done = False
        try:
            got = _copy_capped(resp.read, sink, url, cap, deadline, self.policy, slot,
                               (OSError, http.client.HTTPException))
            if length is not None and length.isdigit() and got != int(length):
                _BACKOFF.failed(slot, self.policy)
                raise RemoteError("%s: truncated (%d of %s bytes)" % (url, got, length))
            path = self._finish(cache, key, url, sink)
            done = True
            _count("downloads")
            _count("downloaded_bytes", got)
            return path
        finally:
            if not done:
                _count("download_errors")
                sink.discard()


def check_endpoint_url(endpoint_url: Optional[str]) -> None:
    """Refuses an S3 ``endpoint_url`` that is not an http(s) URL with a host."""
    if endpoint_url is not None:
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("endpoint_url must be an http:// or https:// URL, not %r" % (endpoint_url,))


def check_endpoint_address(policy: RemotePolicy, endpoint_url: Optional[str]) -> None:
    """Checks an S3 endpoint's address against ``policy`` (before every use: DNS may change)."""
    if endpoint_url is not None:
        parts = urlsplit(endpoint_url)
        _checked_address(policy, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))


def s3_client(policy: RemotePolicy, region: Optional[str], endpoint_url: Optional[str],
              keys: Tuple[Optional[str], Optional[str]]) -> Any:
    """A boto3 S3 client with ``policy``'s timeouts and no retries (boto3 imported here)."""
    import importlib

    boto3 = importlib.import_module("boto3")
    config = importlib.import_module("botocore.config").Config(
        connect_timeout=policy.connect_timeout, read_timeout=policy.read_timeout, retries={"max_attempts": 1})
    return boto3.client("s3", region_name=region, endpoint_url=endpoint_url,
                        aws_access_key_id=keys[0], aws_secret_access_key=keys[1], config=config)


_B = TypeVar("_B", bound="_BucketStore")


class _BucketStore(_RemoteStore):
    """A bucket of an object store (``prefix`` inside it) in one of the layouts: what the
    S3 and GCS stores share. Subclasses open an object (``_open``); misses, the endpoint
    check, the size cap, the deadline and the capped copy into the cache are here."""

    scheme = ""
    kind = ""

    def __init__(self, bucket: str, prefix: str, layout: str, casing: str, id: Optional[str],
                 filters: Optional[Mapping[str, Any]], endpoint_url: Optional[str], cache: Optional[DownloadCache],
                 policy: Optional[RemotePolicy]) -> None:
        super().__init__(layout, casing, filters, cache, policy)
        if not bucket:
            raise ValueError("a %s store needs a 'bucket'" % self.kind)
        check_endpoint_url(endpoint_url)
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.id = id or "%s:%s://%s/%s" % (layout, self.scheme, bucket, self.prefix)
        self._client: Any = None
        self._client_lock = threading.Lock()

    #: the options of this kind of store besides the ones every bucket store has
    OPTIONS: Tuple[str, ...] = ()

    @classmethod
    def from_config(cls: Type[_B], c: Mapping[str, Any], *, cache: Optional[DownloadCache] = None,
                    policy: Optional[RemotePolicy] = None) -> _B:
        """``{"id", "bucket", "prefix", "layout", "casing", "filters", "endpoint_url"}``
        and the kind's own ``OPTIONS``."""
        c = dict(c)
        c.pop("type", None)
        layout, casing = _layout_of(c)
        own = {k: c.pop(k) for k in cls.OPTIONS if k in c}
        store = cls(c.pop("bucket", ""), c.pop("prefix", ""), layout, casing=casing, id=c.pop("id", None),
                    filters=c.pop("filters", None), endpoint_url=c.pop("endpoint_url", None), cache=cache,
                    policy=policy, **own)
        if c:
            raise ValueError("unknown %s store option(s): %s" % (cls.kind, ", ".join(sorted(c))))
        return store

    def describe(self, location: Location) -> str:
        return "%s://%s/%s%s" % (self.scheme, self.bucket, self.prefix, location.path)

    def client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> Any:
        raise NotImplementedError

    def _slot(self) -> str:
        """The back-off slot: the server asked."""
        raise NotImplementedError

    def _open(self, name: str) -> "Optional[Tuple[Optional[int], Any, Any]]":
        """Object ``name``: ``(size or None, read(n), close())``, or ``None`` when the
        bucket has no such object; raises the client library's error on any failure."""
        raise NotImplementedError

    def _get(self, cache: DownloadCache, key: str, path: str) -> "Optional[Union[str, bytes]]":
        where = self.describe(Location(path, ""))
        slot = self._slot()
        _BACKOFF.check(slot)
        check_endpoint_address(self.policy, self.endpoint_url)
        deadline = time.monotonic() + self.policy.download_timeout
        try:
            opened = self._open(self.prefix + path)
        except Exception as e:  # noqa: BLE001 - the client library's errors: a failure
            _BACKOFF.failed(slot, self.policy)
            _count("download_errors")
            raise RemoteError("%s: %s" % (where, " ".join(str(e).split()) or type(e).__name__)) from None
        if opened is None:
            _BACKOFF.ok(slot)
            _remember_miss(cache, key)
            return None
        size, read, close = opened
        sink = _Sink(cache)
        done = False
        try:
            cap = self.policy.max_download_bytes
            if int(size or 0) > cap:
                raise RemoteError("%s: %s bytes, more than max_download_bytes (%d)" % (where, size, cap))
            # (client libraries' streams raise their own exception types: any failure is a broken stream)
            got = _copy_capped(read, sink, where, cap, deadline, self.policy, slot, (Exception,))
            out = self._finish(cache, key, where, sink)
            done = True
            _BACKOFF.ok(slot)
            _count("downloads")
            _count("downloaded_bytes", got)
            return out
        finally:
            close()
            if not done:
                _count("download_errors")
                sink.discard()


class S3Store(_BucketStore):
    """A bucket (``prefix`` inside it) in one of the layouts, through boto3 (``pip install
    boto3``; imported when the store is first used).  Credentials: ``access_key`` and
    ``secret_key``, else boto3's own chain (environment, profile).  ``endpoint_url``: an
    S3-compatible server (MinIO, SeaweedFS); its address is checked against the policy as
    an HTTP store's is.  The download cache, decompression and caps are an HTTP store's.
    """

    scheme = kind = "s3"
    OPTIONS = ("region", "access_key", "secret_key")

    def __init__(self, bucket: str, prefix: str = "", layout: str = "native", *, casing: str = "default",
                 id: Optional[str] = None, filters: Optional[Mapping[str, Any]] = None, region: Optional[str] = None,
                 endpoint_url: Optional[str] = None, access_key: Optional[str] = None,
                 secret_key: Optional[str] = None, cache: Optional[DownloadCache] = None,
                 policy: Optional[RemotePolicy] = None) -> None:
        super().__init__(bucket, prefix, layout, casing, id, filters, endpoint_url, cache, policy)
        self.region = region
        self._keys = (access_key, secret_key)
        self.cache_scope = _scope("s3", endpoint_url, region, bucket, self.prefix, access_key, secret_key)

    def _make_client(self) -> Any:
        return s3_client(self.policy, self.region, self.endpoint_url, self._keys)

    def _slot(self) -> str:
        return "s3:" + (self.endpoint_url or self.region or "aws")

    def _open(self, name: str) -> "Optional[Tuple[Optional[int], Any, Any]]":
        try:
            resp = self.client().get_object(Bucket=self.bucket, Key=name)
        except Exception as e:  # noqa: BLE001 - botocore's errors: a miss, or a failure
            if str(getattr(e, "response", {}).get("Error", {}).get("Code", "")) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        body = resp["Body"]
        return resp.get("ContentLength"), body.read, body.close


class GcsStore(_BucketStore):
    """A Google Cloud Storage bucket (``prefix`` inside it) in one of the layouts, through
    google-cloud-storage (``pip install pysym[gcs]``; imported when the store is first
    used).  Credentials: a service account's ``client_email`` and ``private_key``, else
    Google's default chain (``GOOGLE_APPLICATION_CREDENTIALS``, the metadata server).
    ``endpoint_url``: another server speaking the GCS JSON API (an emulator), reached
    without credentials; its address is checked against the policy as an HTTP store's is.
    """

    scheme = "gs"
    kind = "gcs"
    OPTIONS = ("client_email", "private_key")

    def __init__(self, bucket: str, prefix: str = "", layout: str = "native", *, casing: str = "default",
                 id: Optional[str] = None, filters: Optional[Mapping[str, Any]] = None,
                 endpoint_url: Optional[str] = None, client_email: Optional[str] = None,
                 private_key: Optional[str] = None, cache: Optional[DownloadCache] = None,
                 policy: Optional[RemotePolicy] = None) -> None:
        super().__init__(bucket, prefix, layout, casing, id, filters, endpoint_url, cache, policy)
        if (client_email is None) != (private_key is None):
            raise ValueError("a gcs store needs both 'client_email' and 'private_key', or neither")
        self._account = (client_email, private_key)
        self.cache_scope = _scope("gcs", endpoint_url, bucket, self.prefix, client_email, private_key)

    def _make_client(self) -> Any:
        import importlib

        storage = importlib.import_module("google.cloud.storage")
        options = {"api_endpoint": self.endpoint_url} if self.endpoint_url else None
        email, key = self._account
        if email is not None:
            account = importlib.import_module("google.oauth2.service_account")
            credentials = account.Credentials.from_service_account_info(
                {"client_email": email, "private_key": key, "token_uri": "https://oauth2.googleapis.com/token"},
                scopes=["https://www.googleapis.com/auth/devstorage.read_only"])
            return storage.Client(project="-", credentials=credentials, client_options=options)
        if self.endpoint_url:
            anonymous = importlib.import_module("google.auth.credentials").AnonymousCredentials()
            return storage.Client(project="-", credentials=anonymous, client_options=options)
        return storage.Client(client_options=options)

    def _slot(self) -> str:
        return "gcs:" + (self.endpoint_url or "google")

    def _open(self, name: str) -> "Optional[Tuple[Optional[int], Any, Any]]":
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        bucket = self.client().bucket(self.bucket)
        blob = bucket.get_blob(name, timeout=timeout, retry=None)  # None: no such object
        if blob is None:
            return None
        # Ranged requests of 8 MiB (no retries: the back-off decides).
        reader = blob.open("rb", chunk_size=8 << 20, timeout=timeout, retry=None)
        return blob.size, reader.read, reader.close


#: remote store kinds by their configuration ``type``
REMOTE_STORES: Dict[str, Any] = {"http": HttpStore, "s3": S3Store, "gcs": GcsStore}


def _unlink(p: str) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass


def _remember_miss(cache: DownloadCache, key: str) -> None:
    try:
        cache.remember(key, "miss")
    except OSError:
        pass  # a full disk: the miss is asked again next time


class _Sink:
    """Where a download goes: a temporary file of the cache, or memory from the moment
    the disk refuses a write (or the file itself): what reached the file is read back,
    so the bytes are the same either way."""

    def __init__(self, cache: DownloadCache) -> None:
        self.mem: Optional[bytearray] = None
        self.tmp: Optional[str] = None
        self.f: Any = None
        try:
            fd, self.tmp = cache.temp()
            self.f = os.fdopen(fd, "wb", buffering=0)  # unbuffered: a short write is seen as such
        except OSError:
            self._spill(b"")

    def write(self, block: bytes) -> None:
        if self.mem is not None:
            self.mem += block
            return
        view = memoryview(block)
        done = 0
        try:
            while done < len(view):
                done += self.f.write(view[done:])
        except OSError:
            self._spill(view[done:])

    def _spill(self, rest: Any) -> None:
        written = b""
        if self.tmp is not None:
            try:
                with open(self.tmp, "rb") as f:
                    written = f.read()
            except OSError:
                pass
        self.discard()
        _count("uncached_downloads")
        self.mem = bytearray(written)
        self.mem += rest

    def close(self) -> str:
        assert self.f is not None and self.tmp is not None
        self.f.close()
        return self.tmp

    def discard(self) -> None:
        if self.f is not None:
            try:
                self.f.close()
            except OSError:
                pass
            self.f = None
        if self.tmp is not None:
            _unlink(self.tmp)
            self.tmp = None


def _copy_capped(read: Any, f: Any, where: str, cap: int, deadline: float, policy: "RemotePolicy", slot: str,
                 read_errors: Tuple[Type[BaseException], ...]) -> int:
    """Copies a download's body into ``f`` in chunks, within the size cap and the deadline;
    a slow or broken source counts against its host (back-off). Returns the byte count."""
    got = 0
    while True:
        if time.monotonic() > deadline:
            _BACKOFF.failed(slot, policy)
            raise RemoteError("download of %s took longer than %.0f s" % (where, policy.download_timeout))
        try:
            block = read(_CHUNK)
        except read_errors as e:
            _BACKOFF.failed(slot, policy)
            raise RemoteError("%s: %s" % (where, e or type(e).__name__)) from None
        if not block:
            return got
        got += len(block)
        if got > cap:
            raise RemoteError("%s: more than max_download_bytes (%d)" % (where, cap))
        f.write(block)
