"""``pysym.Symbolicator``: whole native crashes, with Symbolicator's ``/symbolicate``
request and response shapes (reimplemented from its public documentation).

The pipeline per request: parse the modules and frames (``_request``), find each
referenced module's debug file in the stores (``_stores``; every location tried is a
candidate, ranked debug info > symbol table > Breakpad), get its symcache (memory,
then disk, then built in the sandbox; ``_cache``), look all the module's addresses up
in one batch, and lay out the frames.
"""

from __future__ import annotations

import bisect
import hashlib
import operator
import os
import sys
import threading
import time
import weakref
import zlib
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .._errors import FileChangedError, InvalidInputError, PysymError, RequestTooLargeError
from .._host import Runtime, get_runtime
from .._limits import Limits
from .._native import Object, SymCache
from ._cache import DiskCache, KeyedLocks, MemoryCache, file_digest, symcache_version
from ._request import Module, StackFrame, _matches, _stamp, caller_address, check_overlaps, parse_address, parse_module
from ._store_config import store_from_config
from ._stores import FilesystemStore, Store, SystemStore

__all__ = ["Symbolicator", "symbolicate_frames", "MAX_FRAMES", "MAX_MODULES"]

#: frames in one request (all stack traces together); more raise RequestTooLargeError
MAX_FRAMES = 100_000
#: modules in one request
MAX_MODULES = 10_000
_CONTEXT_LINES = 5
_MEMO_ENTRIES = 4096  # modules remembered as found (path + stamp + features; no symcache)
_MAX_SOURCE_BYTES = 10 << 20
_TEMPLATES = 100_000  # frame templates kept per symcache and image address
_TRACE_FRAME = operator.itemgetter(0, 1)  # (trace, frame) of a _Plan.wanted item

# A candidate's rank: what it can tell (debug_info > symbol table > Breakpad).
_RANK_DEBUG, _RANK_SYMBOLS, _RANK_BREAKPAD = 3, 2, 1


class _BuildNeeded(Exception):
    """A symcache would have to be built in a pass that only loads (see resolve_many)."""


@dataclass
class _Resolved:
    status: str  # found, missing, malformed, fetching_failed (a download failed, a file changed while read)
    symcache: Optional[SymCache] = None
    arch: Optional[str] = None
    features: Dict[str, bool] = field(default_factory=dict)
    candidates: List[Dict[str, Any]] = field(default_factory=list)
    error: Optional[str] = None
    # (path, mtime_ns, size) of the file the symcache was built from: a memo check
    stamp: Optional[Tuple[str, int, int]] = None
    #: the symcache's key in the memory cache (the memo holds no symcache itself, so the
    #: memory cache's bound is the only thing keeping symcaches alive)
    key: Optional[str] = None
    #: (a "missing" memo) time.monotonic() when the stores are asked again
    expires: float = 0.0


#: the stamp of a debug file held in memory (a download no disk had room for): the bytes
#: cannot change, so it is always current
_MEMORY_STAMP = ("", 0, 0)


def _memory_size(rt: Runtime) -> int:
    """Bytes of ``rt``'s wasm memory in this thread's instance (0 without one)."""
    live = rt.live
    return int(live.instance.memory_size()) if live is not None else 0


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _crc32(path: "str | bytes") -> Optional[int]:
    """The CRC-32 a ``.gnu_debuglink`` records (zlib's polynomial), ``None`` if unreadable."""
    if isinstance(path, bytes):
        return zlib.crc32(path)
    crc = 0
    try:
        with open(path, "rb") as f:
            while True:
                block = f.read(1 << 20)
                if not block:
                    return crc
                crc = zlib.crc32(block, crc)
    except OSError:
        return None


class _Ident:
    """What discovery needs of a debug file (an :class:`Object`'s identity), read in the
    sandbox or remembered by the disk cache; the Object itself is opened when a symcache
    has to be built."""

    FIELDS = ("kind", "arch", "debug_id", "code_id", "has_debug_info", "has_symbols", "has_unwind_info")

    def __init__(self, path: "str | bytes", arch: Optional[str], fields: Mapping[str, Any], obj: Any = None) -> None:
        self.path = path  # or the file's bytes
        self.want_arch = arch
        self.kind: str = str(fields.get("kind") or "")
        self.arch: str = str(fields.get("arch") or "")
        self.debug_id: str = str(fields.get("debug_id") or "")
        code_id = fields.get("code_id")
        self.code_id: Optional[str] = str(code_id) if code_id else None
        self.has_debug_info = bool(fields.get("has_debug_info"))
        self.has_symbols = bool(fields.get("has_symbols"))
        self.has_unwind_info = bool(fields.get("has_unwind_info"))
        self._obj = obj

    @classmethod
    def read(cls, path: "str | bytes", arch: Optional[str], rt: Runtime) -> "_Ident":
        obj = Object(path, arch, rt)
        return cls(path, arch, {f: getattr(obj, f) for f in cls.FIELDS}, obj)

    def to_dict(self) -> Dict[str, Any]:
        return {f: getattr(self, f) for f in self.FIELDS}

    def object(self, rt: Runtime) -> Any:
        if self._obj is None:
            self._obj = Object(self.path, self.want_arch, rt)
        return self._obj


def _features(obj: Any) -> Dict[str, bool]:
    return {
        "has_debug_info": bool(obj.has_debug_info),
        "has_symbols": bool(obj.has_symbols),
        "has_unwind_info": bool(getattr(obj, "has_unwind_info", False)),
        # A source bundle is available: pysym reads none yet, so always false (the
        # local_sources option reads files named by the debug info; that is no bundle).
        "has_sources": False,
    }


def _rank(obj: Any) -> int:
    if obj.kind == "breakpad":
        return _RANK_BREAKPAD
    if obj.has_debug_info:
        return _RANK_DEBUG
    if obj.has_symbols:
        return _RANK_SYMBOLS
    return 0


class Symbolicator:
    """Symbolicates native crashes (``symbolicate(request) -> response``, thread-safe).

    ``stores``: where debug files are found, in order: :class:`pysym.FilesystemStore`,
    :class:`pysym.SystemStore` or any :class:`pysym.Store`, a directory path
    (``"DIR"`` or ``"DIR:layout"``) or a mapping ``{"type", "path", "layout", "casing",
    "filters"}``.  ``cache_dir``: keep built symcaches there (shared by processes,
    bounded by ``disk_cache_bytes``; ``malformed_ttl`` seconds to remember a debug file
    that failed to build).  A module found in no store is remembered as missing for the
    smallest ``negative_ttl`` of the stores (a store setting, see
    :func:`pysym.store_from_config`; 0 asks the stores again on every request).
    ``limits``: the sandbox limits (:class:`pysym.Limits`) of a
    runtime of its own; default: the process-wide runtime.  ``memory_cache_bytes``:
    loaded symcaches kept in memory.  ``max_frames``/``max_modules``: the size of one
    request (:data:`MAX_FRAMES`, :data:`MAX_MODULES`).  ``local_sources``: read source
    context (``pre_context``...) from the files the debug info names, on this machine
    (off by default: a debug file from elsewhere could name any local file).
    ``build_workers``: modules of a request not in memory are found and built by this
    many threads, each with a runtime of its own (same engine and limits, so up to that
    many times the memory); default 2 where the engine lets threads run in parallel
    (wasmtime), else 1.  ``build_processes``: on engines whose calls hold the GIL (wasmer,
    where ``build_workers`` threads cannot overlap), the symcaches a request has to build
    are built by up to this many child processes (per request, forked for it, each building
    one file after another, largest first), with the same engine and limits (a build past
    ``Limits.timeout`` is killed and raises
    :class:`pysym.TimeLimitError`); the bytes load here as an in-process build's do, and
    the caches, statuses and ``stats`` are the same. Default 2 on Linux with a non-parallel
    engine and 2 or more CPUs, else 0 (builds in-process, in ``build_workers`` threads);
    more than 0 on a parallel engine (wasmtime) raises ValueError. Used when a request has
    two or more modules to find (one is built in-process), with local stores only. The
    children cost ~10-15% more CPU than in-process builds: a gain only while a core is free.
    ``shared_cache``: symcaches shared with other replicas in an S3
    bucket (``pysym._symbolicate.SharedCache``), asked after the disk cache, before a build.
    ``build_memory_bytes``: bound the memory builds leave behind (a wasm instance's memory
    never shrinks, and a build needs several times its symcache's size). Then a request
    (:meth:`symbolicate`) finds and builds every symcache not already in memory in a build
    runtime, loads it again in the symbolicator's runtime (which only grows with what it
    holds), and drops the build runtime when its memory has grown past
    ``build_memory_bytes`` (keeps it for the next build otherwise). Default ``None``: builds
    of one module use the symbolicator's runtime, and build runtimes are kept, whatever they
    grew to. (Not bounded by it: :meth:`resolve` called directly, and a minidump's CFI
    caches, which are built in the symbolicator's runtime.)
    """

    def __init__(self, stores: Sequence[Any] = (), cache_dir: "Optional[str | os.PathLike[str]]" = None,
                 limits: Optional[Limits] = None, *, memory_cache_bytes: int = 512 << 20,
                 disk_cache_bytes: int = 2 << 30, malformed_ttl: float = 24 * 3600.0,
                 lock_timeout: float = 120.0, max_frames: int = MAX_FRAMES, max_modules: int = MAX_MODULES,
                 local_sources: bool = False, build_workers: Optional[int] = None,
                 shared_cache: Any = None, build_memory_bytes: Optional[int] = None,
                 build_processes: Optional[int] = None) -> None:
        self.stores: List[Store] = [store_from_config(s) for s in stores]
        self._runtime: Optional[Runtime] = Runtime(limits=limits) if limits is not None else None
        self.disk = (DiskCache(os.fspath(cache_dir), max_bytes=disk_cache_bytes, malformed_ttl=malformed_ttl,
                               lock_timeout=lock_timeout, runtime=self._runtime) if cache_dir is not None else None)
        self.memory = MemoryCache(memory_cache_bytes)
        self.max_frames = int(max_frames)
        self.max_modules = int(max_modules)
        self.local_sources = local_sources
        if build_workers is None:
            # Builds overlap only where a call into the module lets other threads run.
            parallel = getattr(self.runtime.engine, "parallel", False)
            build_workers = min(2, os.cpu_count() or 1) if parallel else 1
        self.build_workers = max(1, int(build_workers))
        forks = hasattr(os, "fork") and not getattr(self.runtime.engine, "parallel", False)
        if build_processes is None:
            # Where threads cannot overlap builds (wasmer holds the GIL), processes can.
            build_processes = 2 if forks and sys.platform.startswith("linux") and (os.cpu_count() or 1) >= 2 else 0
        elif int(build_processes) > 0 and not forks:
            raise ValueError("build_processes needs os.fork() and an engine whose calls hold the GIL (wasmer); "
                             "on %s, build_workers threads build in parallel" % self.runtime.engine.name)
        self.build_processes = max(0, int(build_processes))
        #: .on: this thread's request builds in children; .builds: their ForkBuilds (made
        #: at the first build, so that a request that builds nothing starts nothing)
        self._forks = threading.local()
        self._spare: List[Runtime] = []  # runtimes of build workers, idle
        self.build_memory_bytes = None if build_memory_bytes is None else max(0, int(build_memory_bytes))
        self._warm_only = threading.local()  # .on: a build raises _BuildNeeded instead
        self._memo: Dict[Any, _Resolved] = {}
        self._memo_lock = threading.Lock()
        self._flights = KeyedLocks()
        self._templates: "weakref.WeakKeyDictionary[SymCache, Dict[Any, Any]]" = weakref.WeakKeyDictionary()
        #: symcaches built, loaded from the disk cache, reused from memory (for
        #: benchmarks and tests; updated under a lock)
        self.stats = {"builds": 0, "disk_hits": 0, "memory_hits": 0}
        if self.build_memory_bytes is not None:
            self.stats["build_runtimes_dropped"] = 0
        #: a symcache cache shared by replicas (``_shared.SharedCache``): asked before a
        #: build, given what is built (its hits are counted as ``shared_hits``)
        self.shared = shared_cache
        if shared_cache is not None:
            self.stats["shared_hits"] = 0

    def _count(self, what: str) -> None:
        with self._memo_lock:
            self.stats[what] += 1

    @property
    def runtime(self) -> Runtime:
        return self._runtime if self._runtime is not None else get_runtime()

    # -- finding and loading -------------------------------------------------------

    def resolve_many(self, modules: Sequence[Module]) -> List[_Resolved]:
        """``resolve`` for each module; modules not in memory are found and built by up
        to ``build_workers`` threads, each with a runtime (an instance) of its own."""
        out: List[Optional[_Resolved]] = [self._memo_hit(m.memo_key()) for m in modules]
        todo = [i for i, r in enumerate(out) if r is None]
        recycle = self.build_memory_bytes is not None
        forked = self.build_processes > 0
        if (self.build_workers > 1 or recycle or forked) and len(todo) > (0 if recycle else 1) and all(
                isinstance(s, (FilesystemStore, SystemStore)) for s in self.stores):
            # A symcache already on disk loads in milliseconds, less than starting a
            # worker's runtime: load those here; only builds go to the workers. (Not with
            # remote stores: their downloads are what the workers overlap.)
            later = []
            keys: List[str] = []  # (the symcache key of each module in later)
            if forked:
                # Each build starts in a child as soon as it is known to be needed; the
                # largest images first (their debug files take longest to build).
                self._forks.on = True
                todo.sort(key=lambda i: -modules[i].image_size)
            try:
                self._warm_only.on = True
                try:
                    for i in todo:
                        try:
                            out[i] = self.resolve(modules[i])
                        except _BuildNeeded as e:
                            later.append(i)
                            keys.append(str(e.args[0]))
                finally:
                    self._warm_only.on = False
                todo = later
                if forked:
                    # The builds' bytes load here, in the symbolicator's runtime, in place
                    # of in-process builds (which their children's exits bound), as they
                    # come: they load while the largest still build.
                    builds = getattr(self._forks, "builds", None)
                    pending = list(zip(keys, todo))
                    while pending:
                        at = builds.first_done([k for k, _i in pending]) if builds is not None else 0
                        i = pending.pop(at)[1]
                        out[i] = self.resolve(modules[i])
                    return [r for r in out if r is not None]
            finally:
                if forked:
                    self._forks.on = False
                    builds = getattr(self._forks, "builds", None)
                    self._forks.builds = None
                    if builds is not None:
                        builds.close()
        if not recycle and (self.build_workers <= 1 or len(todo) <= 1):
            return [r if r is not None else self.resolve(m) for r, m in zip(out, modules)]

        def work(i: int) -> _Resolved:
            with self._memo_lock:
                spare = self._spare.pop() if self._spare else None
            main = self.runtime
            rt = spare if spare is not None else Runtime(main.engine.name, limits=main.limits)
            keep = True
            try:
                res = self.resolve(modules[i], rt)
                if recycle and res.symcache is not None and getattr(res.symcache, "_rt", None) is rt:
                    res = self._adopt(res)
                    keep = _memory_size(rt) <= (self.build_memory_bytes or 0)
                return res
            finally:
                if keep:
                    with self._memo_lock:
                        self._spare.append(rt)
                else:
                    rt.discard()  # its memory goes with the last symcache it made (none is kept)
                    self._count("build_runtimes_dropped")

        if self.build_workers <= 1 or len(todo) <= 1:
            for i in todo:
                out[i] = work(i)
            return [r for r in out if r is not None]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(self.build_workers, len(todo))) as pool:
            for i, res in zip(todo, pool.map(work, todo)):
                out[i] = res
        return [r for r in out if r is not None]

    def _adopt(self, res: _Resolved) -> _Resolved:
        """``res``'s symcache (made in a build runtime) loaded again in the symbolicator's
        runtime, in its place in the memory cache: the build runtime then holds nothing
        (the old copy is freed by its finaliser once no request uses it)."""
        data = res.symcache.to_bytes()  # type: ignore[union-attr]
        sc = SymCache.from_bytes(data, runtime=self.runtime)
        if res.key is not None:
            self.memory.put(res.key, sc, 2 * len(data))  # (as _symcache counts it)
        return replace(res, symcache=sc)

    def resolve(self, module: Module, runtime: Optional[Runtime] = None) -> _Resolved:
        """The symcache of ``module`` (memoised while its file is unchanged); found and
        built in ``runtime`` (default: the symbolicator's)."""
        key = module.memo_key()
        hit = self._memo_hit(key)
        if hit is not None:
            return hit
        with self._flights.hold(key):  # one thread finds and builds; the others wait and reuse it
            hit = self._memo_hit(key)
            if hit is not None:
                return hit
            res = self._find(module, runtime or self.runtime)
            ttl = min((s.negative_ttl for s in self.stores), default=0.0)
            if res.status == "found" or (res.status == "missing" and ttl > 0):
                with self._memo_lock:
                    self._memo.pop(key, None)  # re-inserted last: the oldest go first
                    self._memo[key] = replace(res, symcache=None, expires=time.monotonic() + ttl)
                    while len(self._memo) > _MEMO_ENTRIES:
                        self._memo.pop(next(iter(self._memo)))
            return res

    def _memo_hit(self, key: Any) -> Optional[_Resolved]:
        with self._memo_lock:
            hit = self._memo.get(key)
        if hit is not None and hit.status == "missing":
            # Not found in any store: asked again once the first store's negative_ttl ends.
            return hit if time.monotonic() < hit.expires else None
        if hit is None or hit.stamp is None or (hit.stamp != _MEMORY_STAMP and _stamp(hit.stamp[0]) != hit.stamp):
            return None
        sc = self.memory.get(hit.key) if hit.key is not None else None
        if sc is None:
            return None  # dropped from memory: found (and loaded from disk) again
        self._count("memory_hits")
        return replace(hit, symcache=sc)

    def _find(self, module: Module, rt: Runtime) -> _Resolved:
        found: List[Tuple[int, int, "str | bytes", Any, Dict[str, Any], Dict[str, Any]]] = []
        transient: List[str] = []  # candidates that failed to download, or changed while read
        reports: List[Dict[str, Any]] = []
        seen: Dict[Tuple[int, int], Dict[str, Any]] = {}
        for store in self.stores:
            for loc in store.locations(module):
                report: Dict[str, Any] = {"source": store.id, "location": store.describe(loc)}
                reports.append(report)
                try:
                    path = store.fetch(loc)
                except Exception as e:  # noqa: BLE001 - a store failing is a candidate failing
                    report["download"] = {"status": "error", "details": str(e)}
                    transient.append(str(e))  # (a store down, a full disk: not "missing")
                    continue
                if path is None:
                    report["download"] = {"status": "notfound"}
                    continue
                if loc.crc is not None:
                    have = _crc32(path)
                    if have != loc.crc:
                        report["download"] = {"status": "rejected", "details": "debuglink CRC mismatch: 0x%08x, "
                                              "the binary expects 0x%08x" % (have or 0, loc.crc)}
                        continue
                if isinstance(path, str):  # (bytes: a download held in memory, never the same file)
                    try:
                        st = os.stat(path)
                    except OSError as e:
                        report["download"] = {"status": "error", "details": _one_line(e)}
                        continue
                    same = seen.get((st.st_dev, st.st_ino))
                    if same is not None:
                        report["download"] = dict(same["download"])
                        report["debug"] = {"status": "unused", "details": "same file as another candidate"}
                        continue
                    seen[st.st_dev, st.st_ino] = report
                # What the disk cache remembers of the file (identity, digest): read once
                memo = self.disk.memo(path) if self.disk is not None and isinstance(path, str) else {}
                try:
                    # (arch picks a slice of a universal Mach-O; other kinds have one)
                    obj = self._ident(path, module.arch if module.type == "macho" else None, rt, memo)
                except FileChangedError as e:
                    # Replaced or touched while read (a download landing, a store being
                    # rebuilt): a passing state, not a bad file, so never remembered.
                    report["download"] = {"status": "error", "details": _one_line(e)}
                    transient.append(_one_line(e))
                    continue
                except (PysymError, OSError) as e:
                    report["download"] = {"status": "malformed", "details": _one_line(e)}
                    note = getattr(store, "note_malformed", None)  # remote stores remember it
                    if note is not None:
                        note(loc)
                    continue
                why = _matches(module, obj)
                if why is not None:
                    report["download"] = {"status": "rejected", "details": "id mismatch: " + why}
                    continue
                rank = _rank(obj)
                report["download"] = {"status": "ok", "features": _features(obj)}
                if rank == 0:
                    report["debug"] = {"status": "unused", "details": "no debug info and no symbols"}
                    continue
                found.append((-rank, len(found), path, obj, report, memo))
        found.sort(key=lambda t: (t[0], t[1]))
        res = _Resolved(status="missing", candidates=reports)
        errors = []
        for _r, _i, path, obj, report, memo in found:
            if res.status == "found":
                report["debug"] = {"status": "unused", "details": "a better candidate was used"}
                continue
            try:
                stamp = _stamp(path) if isinstance(path, str) else _MEMORY_STAMP
                cache, ckey = self._symcache(path, obj, rt, memo)
            except FileChangedError as e:
                report["debug"] = {"status": "error", "details": _one_line(e)}
                transient.append(_one_line(e))
                continue
            except (PysymError, OSError) as e:
                report["debug"] = {"status": "malformed", "details": _one_line(e)}
                errors.append(_one_line(e))
                continue
            report["debug"] = {"status": "ok"}
            res.status, res.symcache, res.arch = "found", cache, obj.arch or None
            res.features, res.stamp, res.key = _features(obj), stamp, ckey
        if res.status != "found" and errors:
            res.status, res.error = "malformed", errors[0]
        elif res.status != "found" and transient:
            # Neither found nor missing: not memoised, so the next request looks again.
            res.status, res.error = "fetching_failed", transient[0]
        return res

    def _ident(self, path: "str | bytes", arch: Optional[str], rt: Runtime,
               memo: Optional[Mapping[str, Any]] = None) -> _Ident:
        """The identity of a debug file: remembered by the disk cache while the file is
        unchanged (a new process then parses nothing of it), else read in the sandbox.
        ``memo``: the disk cache's memo of the file, if already read."""
        if isinstance(path, bytes):
            return _Ident.read(path, arch, rt)
        slot = "ident:" + (arch or "")
        if self.disk is not None:
            fields = (self.disk.memo(path) if memo is None else memo).get(slot)
            if isinstance(fields, dict) and all(f in fields for f in _Ident.FIELDS):
                return _Ident(path, arch, fields)
        before = os.stat(path)
        ident = _Ident.read(path, arch, rt)
        if self.disk is not None:
            self.disk.remember(path, before, **{slot: ident.to_dict()})
        return ident

    def _template_cache(self, sc: SymCache, image_addr: int, package: Optional[str],
                        want_context: bool) -> Dict[int, List[Dict[str, Any]]]:
        """The frame templates made for ``sc`` at one image address, by location row
        (``LookupResults._location_rows``; row 0, no location, has none). They live as
        long as the symcache: repeated requests only copy them."""
        with self._memo_lock:
            per = self._templates.get(sc)
            if per is None:
                per = self._templates[sc] = {}
            key = (image_addr, package, want_context)
            cache = per.get(key)
            if cache is None or len(cache) > _TEMPLATES:
                if len(per) > 64:
                    per.clear()  # a symcache seen at many addresses: start over
                cache = per[key] = {0: []}
            return cache

    def _symcache(self, path: "str | bytes", ident: _Ident, rt: Runtime,
                  memo: Optional[Mapping[str, Any]] = None) -> Tuple[SymCache, str]:
        if isinstance(path, bytes):
            digest = hashlib.sha256(path).hexdigest()  # file_digest's, for the same key
        else:
            digest = self.disk.digest(path, memo) if self.disk is not None else file_digest(path)
        obj = ident
        key = "%s-%s" % ((obj.debug_id or "nodebugid").replace("-", ""), digest[:40])
        cached = self.memory.get(key)
        if cached is not None:
            self._count("memory_hits")
            return cached, key
        built: List[SymCache] = []

        def build() -> bytes:
            forks = self._forks
            builds = getattr(forks, "builds", None)
            if getattr(self._warm_only, "on", False):
                if getattr(forks, "on", False) and isinstance(obj.path, str):
                    if builds is None:
                        from ._forkbuild import ForkBuilds

                        builds = forks.builds = ForkBuilds(self.runtime, self.build_processes,
                                                           self.build_memory_bytes)
                    builds.submit(key, obj.path, obj.want_arch)
                raise _BuildNeeded(key)
            shared, version = self.shared, 0
            if shared is not None:
                # Built by another replica? (checked by the shared cache, then loaded here)
                version = symcache_version(rt)
                data: Optional[bytes] = shared.get(version, key)
                if data is not None:
                    try:
                        sc = SymCache.from_bytes(data, runtime=rt)
                    except PysymError:
                        shared.rejected()
                    else:
                        self._count("shared_hits")
                        built.append(sc)
                        return data
            if builds is not None and key in builds:
                data, warnings, grown = builds.result(key)  # (the child's typed error raised)
                sc = SymCache.from_bytes(data, runtime=rt)
                sc.warnings = warnings
                if self.build_memory_bytes is not None and grown > self.build_memory_bytes:
                    self._count("build_runtimes_dropped")  # (the child dropped it)
            else:
                sc = SymCache.from_object(obj.object(rt), runtime=rt)
            self._count("builds")
            built.append(sc)
            data = sc.to_bytes()
            if shared is not None:
                shared.put(version, key, data)
            return data

        if self.disk is None:
            size = len(build())
            self.memory.put(key, built[0], 2 * size)
            return built[0], key
        entry, data = self.disk.get_or_build(key, build)
        if built:
            sc = built[0]
        elif entry is not None:
            # Loaded from bytes read once, not from the path: reloads (after a trap, on a
            # new wasmer thread) reuse those bytes, so nothing needs hashing to prove the
            # entry unchanged (a PinnedFile would hash every load).
            try:
                sc = self._load_entry(entry, rt)
                self._count("disk_hits")
            except (PysymError, OSError):
                # A damaged entry (renames are atomic, so: the disk, or a hand): drop it,
                # build again.
                self.disk.forget(entry)
                entry, data = self.disk.get_or_build(key, build)
                sc = built[0] if built else SymCache.from_bytes(
                    data if data is not None else _read(entry), runtime=rt)  # type: ignore[arg-type]
        else:
            assert data is not None
            sc = SymCache.from_bytes(data, runtime=rt)
        # The bytes are held twice: by the host (for reloads) and in the module (an entry
        # read straight into the module: once, the file is read again for a reload).
        self.memory.put(key, sc, (1 if sc._data is None else 2) * sc._size())
        return sc, key

    def _load_entry(self, entry: str, rt: Runtime) -> SymCache:
        """The symcache of a disk cache entry: opened cheaply when the cache vouches for
        its bytes (checked before, unchanged since), else with every check (then
        vouched for, so that the next process opens it cheaply)."""
        assert self.disk is not None
        record = self.disk.record(entry)
        if record is not None:
            crc, size, stamp = record
            try:
                if self.disk.stamp(os.stat(entry)) == stamp:
                    # Straight from the file into the module (no host copy).
                    return SymCache._from_cache_entry(entry, size, crc, stamp, runtime=rt)
            except FileChangedError:
                pass  # (changed meanwhile: read and checked below)
        data, vouched, st = self.disk.read_entry(entry, record)
        if data is None:
            raise InvalidInputError("%s changed since it was written" % entry)
        if vouched:
            return SymCache._from_checked_bytes(data, runtime=rt)
        sc = SymCache.from_bytes(data, runtime=rt)
        if st is not None:
            self.disk.vouch(entry, st, data)
        return sc

    # -- the request ---------------------------------------------------------------

    def symbolicate(self, request: Mapping[str, Any]) -> Dict[str, Any]:
        """Symbolicates a request (Symbolicator's ``/symbolicate`` JSON as a dict)."""
        p = self.plan(request)
        resolved: Dict[int, _Resolved] = {}
        try:
            return self._symbolicate(p, resolved)
        except (InvalidInputError, FileChangedError):
            # A cached entry opened unchecked may be damaged (the disk, or a hand that
            # kept its stamp): those that fail the full checks are dropped and built again.
            # One read straight from its file may have met the file changed when reloaded
            # in a fresh instance: it is read again from the cache.
            if not self._drop_damaged(resolved.values()):
                raise
            return self._symbolicate(p, {})

    def _drop_damaged(self, used: Iterable[_Resolved]) -> bool:
        dropped = False
        for res in used:
            sc, key = res.symcache, res.key
            if sc is None or key is None or not sc._unchecked:
                continue
            try:
                data = sc.to_bytes()
            except FileChangedError:
                self.memory.discard(key)  # (the disk cache checks the entry again)
                dropped = True
                continue
            try:
                SymCache.from_bytes(data, runtime=self.runtime).close()
            except PysymError:
                self.memory.discard(key)
                if self.disk is not None:
                    self.disk.forget(self.disk.entry_path(key))
                dropped = True
        return dropped

    def _symbolicate(self, p: "_Plan", resolved: Dict[int, _Resolved]) -> Dict[str, Any]:
        # Pass 2: resolve each referenced module, look its addresses up in one batch.
        used = [p.modules[mi] for mi in p.wanted]
        resolved.update(zip(p.wanted, self.resolve_many(used)))  # type: ignore[arg-type]
        found: Dict[Tuple[int, int], List[Dict[str, Any]]] = {}
        for mi, items in p.wanted.items():
            m = p.modules[mi]
            assert m is not None
            res = resolved[mi]
            if res.symcache is None:
                continue
            # Templates by location row (see _template_cache): a repeated location costs a
            # dict look-up, and no list of frames is made for it.
            tcache = self._template_cache(res.symcache, m.image_addr, m.code_file, p.want_context)
            rows, frames_of = lookup_items(res.symcache, m, res.arch, items)._location_rows()
            made: List[Any] = list(map(tcache.get, rows))
            if None in made:
                for i, row in enumerate(rows):
                    if made[i] is None:
                        made[i] = tcache[row] = templates(frames_of(row), m, p.want_context)
            found.update(zip(map(_TRACE_FRAME, items), made))
        return layout(p, resolved, found)

    def plan(self, request: Mapping[str, Any]) -> "_Plan":
        """Pass 1 of :meth:`symbolicate`: the request checked, every frame placed in its
        module, the lookups grouped by module (``_Plan.wanted``). Reads no file: the
        batch driver (``pysym.batch``) plans events and sends the lookups elsewhere."""
        if not isinstance(request, Mapping):
            raise InvalidInputError("a symbolication request must be a JSON object")
        traces = request.get("stacktraces", request.get("threads"))
        if traces is None:
            traces = []
        if not isinstance(traces, list):
            raise InvalidInputError("'stacktraces' must be a list")
        raw_modules = request.get("modules", [])
        if raw_modules is None:
            raw_modules = []
        if not isinstance(raw_modules, list):
            raise InvalidInputError("'modules' must be a list")
        if len(raw_modules) > self.max_modules:
            raise RequestTooLargeError("the request has %d modules; at most %d are allowed"
                                       % (len(raw_modules), self.max_modules))
        total = 0
        for t in traces:
            if not _is_map(t) or not isinstance(t.get("frames"), list):
                raise InvalidInputError("each stack trace must be an object with a 'frames' list")
            total += len(t["frames"])
        if total > self.max_frames:
            raise RequestTooLargeError("the request has %d frames; at most %d are allowed"
                                       % (total, self.max_frames))
        options = request.get("options") or {}
        if not isinstance(options, Mapping):
            raise InvalidInputError("'options' must be an object")
        caller_first = options.get("frame_order", "callee_first") == "caller_first"
        if options.get("frame_order", "callee_first") not in ("callee_first", "caller_first"):
            raise InvalidInputError("options.frame_order must be 'callee_first' or 'caller_first'")
        want_candidates = bool(options.get("dif_candidates", False))
        want_context = bool(options.get("apply_source_context", True)) and self.local_sources

        modules: List[Optional[Module]] = []
        errors: List[Optional[str]] = []
        for raw in raw_modules:
            m, err = parse_module(raw)
            modules.append(m)
            errors.append(err)
        check_overlaps(modules, errors)
        usable = sorted((m.image_addr, i) for i, m in enumerate(modules) if m is not None)
        starts = [s for s, _ in usable]
        owners = [i for _s, i in usable]
        ends = [s + modules[i].image_size for s, i in usable]  # type: ignore[union-attr]
        right = bisect.bisect_right

        # Pass 1: place every frame; group lookups by module. A placed frame is
        # (address, module index) to look up, or (status, address or None, why).
        plan: List[List[Tuple[Any, ...]]] = []
        wanted: Dict[int, List[Tuple[int, int, int, bool]]] = {}
        for ti, t in enumerate(traces):
            frames = t["frames"]
            first = len(frames) - 1 if caller_first else 0
            row: List[Tuple[Any, ...]] = []
            plan.append(row)
            for fi, frame in enumerate(frames):
                if type(frame) is not dict and not isinstance(frame, Mapping):
                    row.append(("malformed", None, "a frame must be an object"))
                    continue
                raw_addr = frame.get("instruction_addr")
                addr = _hex_address(raw_addr) if type(raw_addr) is str else None
                if addr is None:
                    addr = parse_address(raw_addr)
                    if addr is None:
                        row.append(("malformed", None, "instruction_addr is not an address"))
                        continue
                mode = frame.get("addr_mode")
                if mode and mode != "abs":
                    rel = _rel_module(mode, len(raw_modules))
                    if rel is None:
                        row.append(("malformed", addr, "addr_mode must be 'abs' or 'rel:N'"))
                        continue
                    rel_mod = modules[rel]
                    if rel_mod is None:
                        row.append(("unknown_image", addr, None))
                        continue
                    addr = rel_mod.image_addr + addr
                    if addr > (1 << 64) - 1:
                        row.append(("malformed", addr, "address beyond 64 bits"))
                        continue
                slot = right(starts, addr) - 1
                if slot < 0 or addr >= ends[slot]:
                    row.append(("unknown_image", addr, None))
                    continue
                mi = owners[slot]
                adjust = frame.get("adjust_instruction_addr")
                if adjust is not True and adjust is not False:
                    adjust = fi != first and frame.get("trust") != "context"
                items = wanted.get(mi)
                if items is None:
                    items = wanted[mi] = []
                items.append((ti, fi, addr, adjust))
                row.append((addr, mi))

        return _Plan(traces, raw_modules, modules, errors, plan, wanted, caller_first, want_candidates, want_context)

    def process_minidump(self, dump: Any) -> Dict[str, Any]:
        """Walks and symbolicates a minidump (a path or its bytes): Symbolicator's
        ``/minidump`` response shape (``stacktraces`` with ``registers`` and frames with
        ``trust``, ``modules`` with ``debug_status`` and ``unwind_status``, ``crashed``,
        ``crash_reason``, ``crash_details``, ``system_info``, ``assertion``). Stacks are
        walked in the sandbox with the CFI of the files the stores have (kept in the cache
        directory's ``cficaches/``), else frame pointers and stack scanning."""
        from ._minidump import process_minidump

        return process_minidump(self, dump)


def lookup_items(sc: SymCache, m: Module, arch: Optional[str], items: Sequence[Tuple[int, int, int, bool]]) -> Any:
    """The frames of ``items`` (``_Plan.wanted``'s (trace, frame, address, adjust)) in
    ``sc``, the symcache of module ``m``; ``arch``: the request's, else the debug file's."""
    arch = m.arch or arch
    if (arch or "").lower() in ("x86_64", "x86", "amd64", "i386", "i686", ""):
        base_addr = m.image_addr
        rels = [a - base_addr - adj for _t, _f, a, adj in items]  # adj: True is 1
    else:
        rels = [(caller_address(a, arch) if adj else a) - m.image_addr for _t, _f, a, adj in items]
    return sc.lookup_many([r if r >= 0 else (1 << 64) - 1 for r in rels])


@dataclass
class _Plan:
    """A request after pass 1 (see :meth:`Symbolicator.plan`)."""

    traces: List[Any]
    raw_modules: List[Any]
    modules: List[Optional[Module]]
    errors: List[Optional[str]]
    #: per trace, per frame: (address, module index) to look up, or (status, address or None, why)
    plan: List[List[Tuple[Any, ...]]]
    #: module index -> its lookups (trace index, frame index, absolute address, adjust)
    wanted: Dict[int, List[Tuple[int, int, int, bool]]]
    caller_first: bool
    want_candidates: bool
    want_context: bool


def templates(frames: Sequence[Any], m: Module, want_context: bool) -> List[Dict[str, Any]]:
    """The symbol fields of one looked-up frame's frames (``[]``: none), as ``layout``
    takes them."""
    return [_template(f, m.image_addr, m.code_file, want_context) for f in frames]


def layout(p: _Plan, resolved: Mapping[int, _Resolved],
           found: Mapping[Tuple[int, int], List[Dict[str, Any]]]) -> Dict[str, Any]:
    """Pass 3: the response of a planned request from each used module's resolution
    (``resolved``, by module index; its symcache is not needed) and each looked-up
    frame's frames as ``templates`` (``found``, by (trace, frame); made once per
    location and shared, so only copied here)."""
    traces, raw_modules, modules, errors, plan = p.traces, p.raw_modules, p.modules, p.errors, p.plan
    caller_first, want_candidates = p.caller_first, p.want_candidates
    out_traces = []
    for ti, t in enumerate(traces):
        out_frames: List[Dict[str, Any]] = []
        append = out_frames.append
        frames = t["frames"]
        for fi, placed in enumerate(plan[ti]):
            frame = frames[fi]
            trust = frame.get("trust") if type(frame) is dict or isinstance(frame, Mapping) else None
            if len(placed) == 3:
                kind, addr, _why = placed
                d: Dict[str, Any] = {"status": kind, "original_index": fi}
                if addr is not None:
                    d["instruction_addr"] = "0x%x" % addr
                elif _is_map(frame) and "instruction_addr" in frame:
                    d["instruction_addr"] = frame["instruction_addr"]
                if trust is not None:
                    d["trust"] = trust
                append(d)
                continue
            addr, mi = placed
            tmpls = found.get((ti, fi))
            if tmpls:
                hx = "0x%x" % addr
                if trust is None:
                    group = [{"original_index": fi, "instruction_addr": hx, **tmpl} for tmpl in tmpls]
                else:
                    head = {"original_index": fi, "instruction_addr": hx, "package": None, "trust": trust}
                    group = [{**head, **tmpl} for tmpl in tmpls]
                    if "package" not in tmpls[0]:
                        for g in group:
                            del g["package"]
                if caller_first:
                    group.reverse()
                out_frames.extend(group)
                continue
            m = modules[mi]
            assert m is not None
            res = resolved[mi]
            base: Dict[str, Any] = {"original_index": fi, "instruction_addr": "0x%x" % addr}
            if m.code_file:
                base["package"] = m.code_file
            if trust is not None:
                base["trust"] = trust
            if res.status != "found":
                base["status"] = "malformed" if res.status == "malformed" else "missing"
            else:
                base["status"] = "missing_symbol"
            append(base)
        st: Dict[str, Any] = {"frames": out_frames}
        for k in ("registers", "is_requesting", "crashed", "thread_id", "thread_name"):
            if k in t:
                st[k] = t[k]
        out_traces.append(st)

    out_modules = []
    for i, raw in enumerate(raw_modules):
        d = dict(raw) if isinstance(raw, Mapping) else {"raw": raw}
        m = modules[i]
        if m is None:
            d["debug_status"] = "malformed"
            d["debug_error"] = errors[i]
        elif i not in resolved:
            d["debug_status"] = "unused"
        else:
            res = resolved[i]
            d["debug_status"] = res.status
            if res.features:
                d["features"] = dict(res.features)
            if res.arch and "arch" not in d:
                d["arch"] = res.arch
            if res.error:
                d["debug_error"] = res.error
            if want_candidates:
                d["candidates"] = [dict(c) for c in res.candidates]
        if m is not None:
            d["image_addr"] = "0x%x" % m.image_addr
        out_modules.append(d)
    return {"status": "completed", "stacktraces": out_traces, "modules": out_modules}


def _is_map(x: Any) -> bool:
    # isinstance(x, Mapping) goes through the ABC machinery (~1 us); JSON gives dicts.
    return type(x) is dict or isinstance(x, Mapping)


def _rel_module(mode: Any, count: int) -> Optional[int]:
    if not isinstance(mode, str) or not mode.startswith("rel:"):
        return None
    n = mode[4:]
    if not n.isdigit() or len(n) > 9:
        return None
    i = int(n)
    return i if i < count else None


def _hex_address(s: str) -> Optional[int]:
    """``int(s, 16)`` for the usual ``"0x7f..."``, else ``None`` (``parse_address`` decides)."""
    if s[:2] == "0x" and 2 < len(s) <= 18 and s[2] not in "+- " and "_" not in s:
        try:
            return int(s, 16)
        except ValueError:
            return None
    return None


def _template(f: Any, image_addr: int, package: Optional[str], want_context: bool) -> Dict[str, Any]:
    d: Dict[str, Any] = {"package": package} if package else {}
    d["status"] = "symbolicated"
    if f.function is not None:
        d["function"] = f.function
    if f.raw_function is not None:
        d["raw_function"] = f.raw_function
        d["symbol"] = f.raw_function
    d["sym_addr"] = "0x%x" % (image_addr + f.sym_addr)
    if f.file:
        d["abs_path"] = f.file
        d["filename"] = f.file.replace("\\", "/").rsplit("/", 1)[-1]
    if f.line:
        d["lineno"] = f.line
    if f.column:
        d["colno"] = f.column
    if want_context and f.file and f.line:
        _add_context(d, f.file, f.line)
    return d


def _add_context(d: Dict[str, Any], path: str, line: int) -> None:
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > _MAX_SOURCE_BYTES:
            return
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    if not 1 <= line <= len(lines):
        return
    i = line - 1
    d["pre_context"] = lines[max(0, i - _CONTEXT_LINES) : i]
    d["context_line"] = lines[i]
    d["post_context"] = lines[i + 1 : i + 1 + _CONTEXT_LINES]


def _one_line(exc: BaseException) -> str:
    return " ".join((str(exc) or type(exc).__name__).split())


def symbolicate_frames(modules: Iterable[Module], addresses: Iterable[int], *,
                       stores: Sequence[Any] = (), symbolicator: Optional[Symbolicator] = None,
                       ) -> List[List[StackFrame]]:
    """Symbolicates one stack trace of absolute ``addresses`` (innermost first, so every
    address after the first is a return address, see the address rules) over ``modules``.

    Returns, per address, its frames, innermost (inlined) first; an address that cannot
    be symbolicated gives one frame with its ``status``.  Uses ``symbolicator`` if given,
    else one over ``stores`` (default: the system conventions).
    """
    mods = list(modules)
    addrs = list(addresses)
    sym = symbolicator or Symbolicator(stores or [SystemStore()])
    request = {
        "modules": [m.to_dict() for m in mods],
        "stacktraces": [{"frames": [{"instruction_addr": a} for a in addrs]}],
    }
    response = sym.symbolicate(request)
    out: List[List[StackFrame]] = [[] for _ in addrs]
    for f in response["stacktraces"][0]["frames"]:
        out[f["original_index"]].append(StackFrame.from_dict(f))
    return out
