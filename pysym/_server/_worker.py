"""A worker process: holds one sandbox runtime and answers one job at a time over a pipe.

A job is ``(op, payload)``; the answer is ``("ok", result as JSON bytes, stats)`` or
``("error", type name, message, stats)``, ``stats`` being what the job changed in the counters (symcache
builds and hits, downloads...), which the front adds to its metrics.  Nothing here knows
HTTP; the front (``_app``) never parses a debug file.
"""

from __future__ import annotations

import collections
import json
import os
import signal
from typing import Any, Dict, List, Mapping, Tuple

from ._js import JsIndex, symbolicate_js

__all__ = ["worker_main", "worker_main_fd", "make_stores"]

_SYMBOLICATORS = 16  # source sets kept per worker (per-request sources make new ones)


def make_stores(sources: List[Mapping[str, Any]], config: Mapping[str, Any], cache: Any) -> List[Any]:
    """Store objects for source configurations (already checked by the front)."""
    from .._symbolicate._remote import REMOTE_STORES, RemotePolicy
    from .._symbolicate._store_config import store_from_config

    remote = config["remote"]
    policy = RemotePolicy(**remote)
    out: List[Any] = []
    for s in sources:
        s = dict(s)
        kind = s.get("type", "filesystem")
        if kind == "js":
            continue  # source maps by debug id (_js), not a symbol store
        if kind in REMOTE_STORES:
            out.append(REMOTE_STORES[kind].from_config(s, cache=cache, policy=policy))
        else:
            s.pop("type", None)
            out.append(store_from_config(dict(s, type="filesystem")))
    return out


def download_cache(config: Mapping[str, Any]) -> Any:
    from .._symbolicate._remote import DownloadCache

    c = config["cache"]
    return DownloadCache(c["dir"], file_ttl=c["download_ttl"], miss_ttl=c["miss_ttl"],
                         malformed_ttl=c["malformed_ttl"], max_bytes=c["downloads_max_bytes"])


def shared_cache(config: Mapping[str, Any]) -> Any:
    """The symcache cache shared by replicas (``cache.shared``), ``None`` without one."""
    c = config["cache"].get("shared")
    if not c:
        return None
    from .._symbolicate._remote import RemotePolicy
    from .._symbolicate._shared import SharedCache

    remote = dict(config["remote"])
    remote["allowed_networks"] = list(remote.get("allowed_networks") or [])
    return SharedCache.from_config(c, policy=RemotePolicy(**remote))


class _State:
    def __init__(self, config: Mapping[str, Any]) -> None:
        import pysym

        from .._symbolicate._cache import MemoryCache

        self.config = config
        pysym.configure(pysym.Limits(**config["limits"]))
        self.cache = download_cache(config)
        self.shared = shared_cache(config)
        self.memory = MemoryCache(int(config["cache"]["memory_bytes"]))
        self.symbolicators: "collections.OrderedDict[str, Any]" = collections.OrderedDict()
        self.retired: Dict[str, int] = collections.Counter()
        self.js: Dict[str, Any] = {}

    def symbolicator(self, sources: List[Mapping[str, Any]]) -> Any:
        from .._host import get_runtime
        from .._symbolicate import Symbolicator

        key = json.dumps(sources, sort_keys=True)
        sym = self.symbolicators.get(key)
        if sym is None:
            c = self.config["cache"]
            procs = c["build_processes"]
            if procs and getattr(get_runtime().engine, "parallel", False):
                procs = None  # (threads build in parallel there: build_threads)
            sym = Symbolicator(make_stores(sources, self.config, self.cache), c["dir"],
                               disk_cache_bytes=c["symcache_max_bytes"], malformed_ttl=c["malformed_ttl"],
                               shared_cache=self.shared, build_memory_bytes=c["build_memory_bytes"],
                               build_workers=c["build_threads"] or None, build_processes=procs)
            sym.memory = self.memory  # one memory bound for the worker, whatever the source sets
            self.symbolicators[key] = sym
            while len(self.symbolicators) > _SYMBOLICATORS:
                _key, old = self.symbolicators.popitem(last=False)
                for k, v in old.stats.items():  # its counts stay in the totals
                    self.retired["symcache_" + k] += v
        else:
            self.symbolicators.move_to_end(key)
        return sym

    def js_index(self, sources: List[Mapping[str, Any]]) -> Any:
        key = json.dumps(sources, sort_keys=True)
        if key not in self.js:
            self.js[key] = JsIndex(sources)
        return self.js[key]

    def counters(self) -> Dict[str, int]:
        from .._symbolicate._remote import REMOTE_STATS

        out: Dict[str, int] = collections.Counter(self.retired)
        for sym in self.symbolicators.values():
            for k, v in sym.stats.items():
                out["symcache_" + k] += v
        for k, v in REMOTE_STATS.items():
            out[k] += v
        if self.shared is not None:
            for k, v in self.shared.stats.items():
                out["shared_cache_" + k] += v
        return dict(out)


def _delta(before: Mapping[str, int], after: Mapping[str, int]) -> Dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def _run(state: _State, op: str, payload: Any) -> Any:
    if op == "symbolicate":
        raw, sources = payload  # the body the front checked ("sources": resolved there)
        request = json.loads(raw)
        request.pop("sources", None)
        return state.symbolicator(sources).symbolicate(request)
    if op == "minidump":
        data, sources, options = payload
        return state.symbolicator(sources).process_minidump(data, **options)
    if op == "symbolicate_js":
        request, sources = payload
        return symbolicate_js(request, state.js_index(sources))
    if op == "ping":
        return os.getpid()
    raise ValueError("unknown job %r" % (op,))


# What the front's JSONResponse wrote: compact, UTF-8, no NaN.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _malformed(result: Any) -> int:
    """Modules of a result whose debug file was malformed (a metric of the front)."""
    if not isinstance(result, dict):
        return 0
    return sum(1 for m in result.get("modules") or () if isinstance(m, dict) and m.get("debug_status") == "malformed")


def worker_main_fd(fd: int) -> None:
    """A worker process's entry (``_pool``): the socket ``fd`` to the front, whose first
    message is the configuration."""
    from multiprocessing.connection import Connection

    conn = Connection(fd)
    try:
        config = conn.recv()
    except (EOFError, OSError):
        return
    worker_main(conn, config)


def worker_main(conn: Any, config: Mapping[str, Any]) -> None:
    """The worker's loop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the front stops us (Ctrl-C reaches the group)
    state = _State(config)
    while True:
        try:
            job: Tuple[str, Any] = conn.recv()
        except (EOFError, OSError):
            return  # the front went away
        before = state.counters()
        answer: Tuple[Any, ...]
        try:
            result = _run(state, *job)
            # Encoded here, once: the front forwards the bytes (decoding a pickled result
            # and encoding it again took ~8 ms of the front's event loop per request).
            body = _ENCODER.encode(result).encode("utf-8")
            stats = _delta(before, state.counters())
            malformed = _malformed(result)
            if malformed:
                stats["malformed_debug_files"] = malformed
            answer = ("ok", body, stats)
        except Exception as e:  # noqa: BLE001 - every failure is reported to the front, typed
            answer = ("error", type(e).__name__, " ".join(str(e).split()) or type(e).__name__,
                      _delta(before, state.counters()))
        try:
            conn.send(answer)
        except (EOFError, OSError):
            return

