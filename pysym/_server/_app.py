"""The HTTP front: a Starlette app on uvicorn.  It reads requests, checks them, hands the
work to the worker pool (``_pool``) and keeps the results of asynchronous requests; it
never parses a debug file itself (the symbol proxy only copies files)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Mapping, Optional, Set, Tuple, Union

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .. import _errors
from .._symbolicate import Symbolicator
from .._symbolicate._remote import REMOTE_STORES, RemotePolicy
from .._version import __version__
from ._metrics import Metrics
from ._openapi import (
    MAX_REQUEST_SOURCES,
    MINIDUMP_SOURCES,
    SYMBOLICATE_BODY,
    SYMBOLICATE_JS_BODY,
    components,
    openapi_document,
)
from ._pool import JobFailed, Pool, WorkerDied, WorkerTimeout
from ._symbols import debuginfod_module, parse_symstore_path
from ._validate import SchemaViolation, check
from ._worker import download_cache, make_stores

__all__ = ["create_app", "Service"]

# Exceptions raised by a worker -> HTTP status (anything else is a bug: 500).
_STATUS = {"InvalidInputError": 400, "ValueError": 400, "TypeError": 400, "RequestTooLargeError": 413,
           "InputTooLargeError": 413, "TimeLimitError": 422, "MemoryLimitError": 422, "SandboxError": 422,
           "ResourceLimitError": 422, "FileChangedError": 409}


class _BadRequest(Exception):
    def __init__(self, status: int, message: str, headers: Optional[Dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def _failed(status: int, message: str, kind: str = "bad_request", headers: Optional[Dict[str, str]] = None) -> Response:
    return JSONResponse({"status": "failed", "error": kind, "message": message}, status, headers=headers)


class Service:
    """The service's state: configuration, pool, pending results, metrics."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        s = config["server"]
        self.max_concurrent = int(s["max_concurrent_requests"])
        self.max_body = int(s["max_body_bytes"])
        self.results_ttl = float(s["results_ttl"])
        self.retry_after = int(s["retry_after"])
        self.sources: Dict[str, Dict[str, Any]] = {src["id"]: dict(src) for src in config["sources"]}
        self.metrics = Metrics()
        self.pool: Optional[Pool] = None
        #: a result's body is the worker's JSON bytes, or the front's own answer (a failure)
        self.requests: Dict[str, Tuple["asyncio.Task[Tuple[int, Union[bytes, Dict[str, Any]]]]", float]] = {}
        #: ids a "pending" answer handed out: only their results are kept for polling
        self.handed_out: Set[str] = set()
        self.started = time.time()
        # The symbol proxy's stores (configured sources only); downloads share the workers' cache.
        self.proxy_stores = make_stores([s for s in self.sources.values() if s.get("type") != "js"], config,
                                        download_cache(config))
        self.policy = RemotePolicy(**config["remote"])
        # The ids a request may name: the configured symbol sources (js ones have their endpoint).
        self.source_ids = [k for k, v in self.sources.items() if v.get("type") != "js"]
        self.schemas = components(self.source_ids)

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        s = self.config["server"]
        self.pool = Pool(int(s["workers"]), self.config, float(s["request_timeout"]))

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.close()

    # -- helpers ---------------------------------------------------------------------

    def in_flight(self) -> int:
        return sum(1 for t, _ in self.requests.values() if not t.done())

    def _sweep(self) -> None:
        now = time.monotonic()
        for rid, (task, done_at) in list(self.requests.items()):
            if task.done() and done_at and now - done_at > self.results_ttl:
                del self.requests[rid]
                self.handed_out.discard(rid)

    async def body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise _BadRequest(413, "the request body is larger than max_body_bytes (%d)" % self.max_body)
        chunks: List[bytes] = []
        got = 0
        async for chunk in request.stream():
            got += len(chunk)
            if got > self.max_body:
                raise _BadRequest(413, "the request body is larger than max_body_bytes (%d)" % self.max_body)
            chunks.append(chunk)
        return b"".join(chunks)

    def request_sources(self, raw: Any) -> List[Dict[str, Any]]:
        if raw is None:
            return list(self.sources.values())
        if not isinstance(raw, list):
            raise _BadRequest(400, "'sources' must be a list of source ids or source objects")
        if len(raw) > MAX_REQUEST_SOURCES:
            raise _BadRequest(400, "at most %d sources per request" % MAX_REQUEST_SOURCES)
        out = []
        for s in raw:
            if isinstance(s, str):
                if s not in self.sources:
                    raise _BadRequest(400, "unknown source %r (configured: %s)" % (s, ", ".join(self.sources)))
                out.append(self.sources[s])
            elif isinstance(s, dict):
                if not self.config["server"]["allow_request_sources"]:
                    raise _BadRequest(400, "sources given in requests are not allowed by this service")
                if s.get("type") not in REMOTE_STORES:
                    raise _BadRequest(400, "a source given in a request must have type 'http', 's3' or 'gcs' "
                                      "(filesystem sources come from the configuration only)")
                try:
                    REMOTE_STORES[s["type"]].from_config(s, policy=self.policy)  # checks the shape; no I/O
                except (ValueError, TypeError) as e:
                    raise _BadRequest(400, "source %r: %s" % (s.get("id"), e)) from None
                out.append(dict(s))
            else:
                raise _BadRequest(400, "a source is an id or an object")
        return out

    def admit(self) -> None:
        self._sweep()
        if self.in_flight() >= self.max_concurrent:
            self.metrics.inc("pysym_requests_rejected_total", "Requests refused with 503 (max_concurrent_requests)")
            raise _BadRequest(503, "the service is busy (max_concurrent_requests=%d); retry later"
                              % self.max_concurrent, {"Retry-After": str(self.retry_after)})

    async def _job(self, endpoint: str, op: str, payload: Any) -> Tuple[int, Union[bytes, Dict[str, Any]]]:
        assert self.pool is not None
        t0 = time.monotonic()
        body: Union[bytes, Dict[str, Any]]
        try:
            result, stats = await self.pool.run(op, payload)
            if stats.get("malformed_debug_files"):
                self.metrics.inc("pysym_sandbox_errors_total", "Failures of the sandbox or of a parse, by type",
                                 n=stats["malformed_debug_files"], type="malformed_debug_file")
            code, body = 200, result
        except JobFailed as e:
            code = _STATUS.get(e.kind, 500)
            if isinstance(getattr(_errors, e.kind, None), type) and code != 400:
                self.metrics.inc("pysym_sandbox_errors_total", "Failures of the sandbox or of a parse, by type",
                                 type=e.kind)
            body = {"status": "failed", "error": e.kind, "message": e.message}
        except WorkerDied as e:
            self.metrics.inc("pysym_sandbox_errors_total", "Failures of the sandbox or of a parse, by type",
                             type="worker_died")
            code, body = 502, {"status": "failed", "error": "worker_died", "message": str(e)}
        except WorkerTimeout as e:
            self.metrics.inc("pysym_sandbox_errors_total", "Failures of the sandbox or of a parse, by type",
                             type="worker_timeout")
            code, body = 504, {"status": "failed", "error": "timeout", "message": str(e)}
        self.metrics.observe(time.monotonic() - t0, endpoint=endpoint)
        self.metrics.inc("pysym_requests_total", "Symbolication requests answered, by endpoint and HTTP status",
                         endpoint=endpoint, status=str(code))
        return code, body

    def submit(self, endpoint: str, op: str, payload: Any) -> str:
        rid = uuid.uuid4().hex
        task = asyncio.get_running_loop().create_task(self._job(endpoint, op, payload))

        def done(_t: Any) -> None:
            if rid in self.requests:
                self.requests[rid] = (self.requests[rid][0], time.monotonic())

        self.requests[rid] = (task, 0.0)
        task.add_done_callback(done)
        return rid

    async def answer(self, rid: str, timeout: Optional[float]) -> Response:
        entry = self.requests.get(rid)
        if entry is None:
            return _failed(404, "no such request (unknown, or its result expired)", "not_found")
        task = entry[0]
        if not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except asyncio.TimeoutError:
                self.handed_out.add(rid)
                return JSONResponse({"status": "pending", "request_id": rid, "retry_after": self.retry_after})
        code, body = task.result()
        if rid not in self.handed_out:
            # Answered at once: no one else knows the id, so nothing is kept (the soak
            # showed every synchronous result held for results_ttl: ~1 GB at 8 clients).
            self.requests.pop(rid, None)
        if isinstance(body, bytes):
            return Response(body, code, media_type="application/json")
        return JSONResponse(body, code)


def _timeout(request: Request) -> Optional[float]:
    raw = request.query_params.get("timeout")
    if raw is None:
        return None
    try:
        t = float(raw)
    except ValueError:
        raise _BadRequest(400, "timeout must be a number of seconds") from None
    if not 0 <= t <= 86400:  # also refuses nan and inf
        raise _BadRequest(400, "timeout must be between 0 and 86400 seconds")
    return t


def _json_object(raw: bytes, schema: Mapping[str, Any], components: Mapping[str, Any]) -> Dict[str, Any]:
    """A request body that must be a JSON object of the documented shape (else a 400)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise _BadRequest(400, "the body is not JSON: %s" % e) from None
    if not isinstance(body, dict):
        raise _BadRequest(400, "a symbolication request must be a JSON object")
    _check(schema, body, components, "the body")
    return body


def _check(schema: Mapping[str, Any], value: Any, components: Mapping[str, Any], where: str) -> None:
    try:
        check(schema, value, components, where)
    except SchemaViolation as e:
        raise _BadRequest(400, str(e)) from None


def create_app(config: Mapping[str, Any]) -> Starlette:
    """The ASGI app of a merged configuration (``_config.merge_config``)."""
    svc = Service(config)

    def guarded(handler: Any, endpoint: Optional[str] = None) -> Any:
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)  # type: ignore[no-any-return]
            except _BadRequest as e:
                if endpoint is not None and e.status != 503:  # (503s: pysym_requests_rejected_total)
                    svc.metrics.inc("pysym_requests_total",
                                    "Symbolication requests answered, by endpoint and HTTP status",
                                    endpoint=endpoint, status=str(e.status))
                return _failed(e.status, e.message, headers=e.headers)
        return wrapped

    async def symbolicate(request: Request) -> Response:
        timeout = _timeout(request)
        svc.admit()
        raw = await svc.body(request)
        body = _json_object(raw, SYMBOLICATE_BODY, svc.schemas)
        sources = svc.request_sources(body.pop("sources", None))
        # The worker gets the body as it came (it parses it again, ~0.3 ms): a queued
        # request then holds its bytes, not ~10x as much in dicts (~25 MB of the front
        # at 128 clients), and the hand-off pickles one bytes object.
        del body
        rid = svc.submit("symbolicate", "symbolicate", (raw, sources))
        return await svc.answer(rid, timeout)

    async def minidump(request: Request) -> Response:
        timeout = _timeout(request)
        svc.admit()
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > svc.max_body:
            raise _BadRequest(413, "the request body is larger than max_body_bytes (%d)" % svc.max_body)
        try:
            form = await request.form(max_files=1, max_fields=8, max_part_size=svc.max_body)
        except Exception as e:  # noqa: BLE001 - python-multipart's errors: a bad form
            raise _BadRequest(400, "not a multipart form: %s" % e) from None
        upload = form.get("upload_file_minidump")
        if upload is None or isinstance(upload, str):
            raise _BadRequest(400, "the form needs a file field 'upload_file_minidump'")
        data = await upload.read(svc.max_body + 1)
        if len(data) > svc.max_body:
            raise _BadRequest(413, "the minidump is larger than max_body_bytes (%d)" % svc.max_body)
        raw_sources = form.get("sources")
        try:
            parsed = json.loads(raw_sources) if isinstance(raw_sources, str) else None
        except (ValueError, RecursionError):
            raise _BadRequest(400, "'sources' must be JSON") from None
        _check(MINIDUMP_SOURCES, parsed, svc.schemas, "sources")
        sources = svc.request_sources(parsed)
        rid = svc.submit("minidump", "minidump", (data, sources, {}))
        return await svc.answer(rid, timeout)

    async def symbolicate_js(request: Request) -> Response:
        timeout = _timeout(request)
        svc.admit()
        raw = await svc.body(request)
        body = _json_object(raw, SYMBOLICATE_JS_BODY, svc.schemas)
        wanted = body.pop("sources", None)
        js = [s for s in svc.sources.values() if s.get("type") == "js" and (wanted is None or s["id"] in wanted)]
        rid = svc.submit("symbolicate-js", "symbolicate_js", (body, js))
        return await svc.answer(rid, timeout)

    async def poll(request: Request) -> Response:
        timeout = _timeout(request)
        svc._sweep()
        return await svc.answer(request.path_params["request_id"], timeout)

    async def healthcheck(request: Request) -> Response:
        pids = svc.pool.pids() if svc.pool is not None else []
        return JSONResponse({"status": "ok", "version": __version__, "workers": pids})

    async def metrics(request: Request) -> Response:
        pool = svc.pool
        gauges = {
            "pysym_requests_in_flight": ("Requests being worked on", float(svc.in_flight())),
            "pysym_results_kept": ("Results of asynchronous requests kept", float(len(svc.requests))),
            "pysym_workers": ("Worker processes", float(len(pool.workers) if pool else 0)),
            "pysym_workers_recycled_total": ("Worker processes replaced after dying or timing out",
                                             float(pool.recycled if pool else 0)),
        }
        text = svc.metrics.render(gauges, dict(pool.stats) if pool else {})
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document(minidump=has_minidump, source_ids=svc.source_ids))

    async def _serve_symbol(target: Optional[Tuple[Any, str]]) -> Response:
        if target is None:
            return _failed(404, "not a symbol path this service knows", "not_found")
        module, filetype = target
        for store in svc.proxy_stores:
            for loc in store.locations(module):
                if loc.filetype != filetype:
                    continue
                try:
                    local = await run_in_threadpool(store.fetch, loc)
                except _errors.PysymError:
                    continue  # a failing source: try the next
                if local is not None:
                    svc.metrics.inc("pysym_symbol_proxy_total", "Symbol proxy answers", result="found")
                    if isinstance(local, bytes):  # not cached (a full disk): its bytes
                        return Response(local, media_type="application/octet-stream")
                    return FileResponse(local, media_type="application/octet-stream")
        svc.metrics.inc("pysym_symbol_proxy_total", "Symbol proxy answers", result="missing")
        return _failed(404, "no configured source has this file", "not_found")

    async def symbols(request: Request) -> Response:
        return await _serve_symbol(parse_symstore_path(request.path_params["path"]))

    async def buildid(request: Request) -> Response:
        return await _serve_symbol(debuginfod_module(request.path_params["build_id"], request.path_params["what"]))

    routes = [
        Route("/symbolicate", guarded(symbolicate, "symbolicate"), methods=["POST"]),
        Route("/symbolicate-js", guarded(symbolicate_js, "symbolicate-js"), methods=["POST"]),
        Route("/requests/{request_id}", guarded(poll), methods=["GET"]),
        Route("/healthcheck", healthcheck, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/symbols/{path:path}", guarded(symbols), methods=["GET"]),
        Route("/buildid/{build_id}/{what}", guarded(buildid), methods=["GET"]),
    ]
    # /minidump exists when the library can process minidumps (the stack walker).
    has_minidump = hasattr(Symbolicator, "process_minidump")
    if has_minidump:
        routes.append(Route("/minidump", guarded(minidump, "minidump"), methods=["POST"]))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(svc.start)
        try:
            yield
        finally:
            await run_in_threadpool(svc.stop)

    async def http_error(request: Request, exc: Exception) -> Response:
        # Starlette's own answers (no such route, wrong method) in the service's JSON shape.
        assert isinstance(exc, HTTPException)
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        return _failed(exc.status_code, str(exc.detail), kind, headers=dict(exc.headers or {}))

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.service = svc
    return app
