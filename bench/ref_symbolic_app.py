"""The reference service of bench/load_service.py: the service's load-test subset on PyPI ``symbolic``.

The same HTTP subset as ``pysym serve`` on the same stack (Starlette on uvicorn, one
listening socket on 127.0.0.1, the work in a pool of worker processes):

* ``POST /symbolicate``: native crashes (Symbolicator's request shape, filesystem sources
  in the native layout, ``.build-id/xx/rest.debug``); the workers keep loaded symcaches in
  memory and write them to a disk cache (atomic renames).  symbolic parses in-process,
  without a sandbox: that is the difference being measured.
* ``POST /symbolicate-js``: frames mapped by symbolic's ``SourceMapCache`` (built from the
  minified file and its map, as Symbolicator does; kept in memory per worker), maps found
  by ``debugId`` in the ``js`` sources' directories, the minified file being the map's path
  without ``.map`` (how the load test lays them out).
* ``POST /minidump``: symbolic has no minidump parser or stack walker (Symbolicator uses
  rust-minidump, which has no Python binding), so this endpoint runs pysym's
  ``Symbolicator.process_minidump`` in the reference's workers (its own disk cache): the
  minidump share of the mix costs the same work on both sides, and its ratio measures the
  fronts and pools only.

    python bench/ref_symbolic_app.py --config FILE.json [--port 0]

FILE.json has pysym serve's shape; read: server.workers, cache.dir, the filesystem
``sources`` (``path``; native requests look in all of them, a minidump in those its form
names) and the ``js`` sources (``path``).  Prints ``listening on http://HOST:PORT`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import socket
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Awaitable, Callable, Dict, List, Optional

from bench_crash import symbolic_symcache  # bench/ is sys.path[0] when run as a script

_STATE: Dict[str, Any] = {}


def _init(stores: List[str], cache: str, js_dirs: List[str]) -> None:
    _STATE.update(stores=stores, cache=cache, loaded={}, js_dirs=js_dirs, js_index=None, smcaches={},
                  minidump={})
    os.makedirs(cache, exist_ok=True)
    parent = os.getppid()

    def orphaned() -> None:  # a worker ends with its front, even one killed by SIGKILL
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()


def _symcache(code_id: str) -> Any:
    loaded = _STATE["loaded"]
    if code_id not in loaded:
        loaded[code_id] = symbolic_symcache(_STATE["stores"], _STATE["cache"], code_id)
    return loaded[code_id]


def _parse(v: Any) -> Optional[int]:
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v, 16) if v.lower().startswith("0x") else int(v)
        except ValueError:
            return None
    return None


def symbolicate(req: Dict[str, Any]) -> Dict[str, Any]:
    """Symbolicator's response shape, as far as the load test reads it."""
    mods = []
    out_modules = []
    for m in req.get("modules") or []:
        base, size, code_id = _parse(m.get("image_addr")), _parse(m.get("image_size")), m.get("code_id")
        status = "malformed"
        if base is not None and size and isinstance(code_id, str):
            sc = _symcache(code_id.lower())
            status = "found" if sc is not None else "missing"
            mods.append((base, base + size, sc))
        out_modules.append(dict(m, debug_status=status))
    mods.sort(key=lambda t: t[0])
    starts = [a for a, _, _ in mods]
    traces = []
    for st in req.get("stacktraces") or []:
        frames: List[Dict[str, Any]] = []
        for i, fr in enumerate(st.get("frames") or []):
            addr = _parse(fr.get("instruction_addr"))
            k = bisect.bisect_right(starts, addr) - 1 if addr is not None else -1
            if k < 0 or addr >= mods[k][1]:  # type: ignore[operator]
                frames.append({"status": "unknown_image", "original_index": i, "instruction_addr": fr.get(
                    "instruction_addr")})
                continue
            base, _end, sc = mods[k]
            rel = addr - base - (1 if i else 0)  # type: ignore[operator]
            locs = sc.lookup(rel) if sc is not None else []
            for loc in locs:
                # (symbolic 13's Python API has no demangler: names as stored; pysym demangles)
                frames.append({"status": "symbolicated", "original_index": i, "instruction_addr": hex(addr),
                               "function": loc.symbol, "abs_path": loc.full_path, "lineno": loc.line,
                               "sym_addr": hex(base + loc.sym_addr)})
            if not locs:
                frames.append({"status": "missing" if sc is None else "missing_symbol", "original_index": i,
                               "instruction_addr": hex(addr)})
        traces.append({"frames": frames})
    return {"status": "completed", "stacktraces": traces, "modules": out_modules}


def _js_index() -> Dict[str, str]:
    """debug id -> map path, over the js sources (read once per worker)."""
    if _STATE["js_index"] is None:
        index: Dict[str, str] = {}
        for d in _STATE["js_dirs"]:
            for root, _dirs, files in os.walk(d):
                for name in sorted(files):
                    if name.endswith(".map"):
                        path = os.path.join(root, name)
                        try:
                            with open(path, "rb") as f:
                                did = json.load(f).get("debugId")
                        except (OSError, ValueError):
                            continue
                        if isinstance(did, str):
                            index.setdefault(did.lower(), path)
        _STATE["js_index"] = index
    return _STATE["js_index"]  # type: ignore[no-any-return]


def _smcache(debug_id: str) -> Any:
    from symbolic.sourcemapcache import SourceMapCache

    path = _js_index().get(debug_id.lower())
    if path is None:
        return None
    cache = _STATE["smcaches"]
    if path not in cache:
        with open(path, "rb") as f:
            smap = f.read()
        try:
            with open(path[:-4], "rb") as f:
                minified = f.read()
        except OSError:
            minified = b""
        cache[path] = SourceMapCache.from_bytes(minified, smap)
    return cache[path]


def symbolicate_js(req: Dict[str, Any]) -> Dict[str, Any]:
    by_file = {m.get("code_file"): m.get("debug_id") for m in req.get("modules") or [] if isinstance(m, dict)}
    errors: List[Dict[str, Any]] = []
    traces = []
    for st in req.get("stacktraces") or []:
        frames = []
        for fr in st.get("frames") or []:
            raw = {k: fr.get(k) for k in ("abs_path", "lineno", "colno", "function") if k in fr}
            did = by_file.get(fr.get("abs_path"))
            smc = _smcache(did) if isinstance(did, str) else None
            line, col = fr.get("lineno"), fr.get("colno")
            tok = smc.lookup(line, col, 0) if smc is not None and isinstance(line, int) and isinstance(col, int) \
                else None
            if smc is None:
                errors.append({"abs_path": fr.get("abs_path"), "type": "missing_sourcemap"})
            if tok is None:
                frames.append(dict(raw, status="missing", raw=raw))
                continue
            frames.append({"status": "symbolicated", "abs_path": tok.src, "lineno": tok.line, "colno": tok.col,
                           "function": tok.function_name or fr.get("function"), "raw": raw})
        traces.append({"frames": frames})
    return {"status": "completed", "stacktraces": traces, "errors": errors}


def process_minidump(data: bytes, paths: List[str]) -> Dict[str, Any]:
    """pysym's walker and symbolication (symbolic has neither a minidump parser nor a walker)."""
    key = tuple(paths)
    sym = _STATE["minidump"].get(key)
    if sym is None:
        from pysym import FilesystemStore, Symbolicator

        sym = _STATE["minidump"][key] = Symbolicator([FilesystemStore(p) for p in paths],
                                                     os.path.join(_STATE["cache"], "pysym-minidump"))
    return sym.process_minidump(data)  # type: ignore[no-any-return]


def create_app(config: Dict[str, Any]) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    by_id = {s["id"]: s for s in config["sources"]}
    stores = [s["path"] for s in config["sources"] if s.get("type", "filesystem") == "filesystem"]
    js_dirs = [s["path"] for s in config["sources"] if s.get("type") == "js"]
    pool = ProcessPoolExecutor(int(config["server"].get("workers", 2)), initializer=_init,
                               initargs=(stores, os.path.join(config["cache"]["dir"], "symbolic"), js_dirs))

    def json_route(job: Callable[[Dict[str, Any]], Dict[str, Any]]) -> Callable[[Request], Awaitable[Response]]:
        """A POST of a JSON object, answered by ``job`` in the pool."""

        async def route(request: Request) -> Response:
            try:
                body = json.loads(await request.body())
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except ValueError as e:
                return JSONResponse({"status": "failed", "message": str(e)}, 400)
            result = await asyncio.get_running_loop().run_in_executor(pool, job, body)
            return JSONResponse(result)

        return route

    post, post_js = json_route(symbolicate), json_route(symbolicate_js)

    async def post_minidump(request: Request) -> Response:
        form = await request.form(max_files=1, max_fields=8)
        upload = form.get("upload_file_minidump")
        if upload is None or isinstance(upload, str):
            return JSONResponse({"status": "failed", "message": "no upload_file_minidump"}, 400)
        data = await upload.read()
        raw = form.get("sources")
        names = json.loads(raw) if isinstance(raw, str) else list(by_id)
        paths = [by_id[n]["path"] for n in names if n in by_id and by_id[n].get("type", "filesystem") == "filesystem"]
        result = await asyncio.get_running_loop().run_in_executor(pool, process_minidump, data, paths)
        return JSONResponse(result)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/symbolicate", post, methods=["POST"]),
                            Route("/symbolicate-js", post_js, methods=["POST"]),
                            Route("/minidump", post_minidump, methods=["POST"]),
                            Route("/healthcheck", health, methods=["GET"])])
    app.state.pool = pool
    return app


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    with open(args.config) as f:
        config = json.load(f)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(1024)
    app = create_app(config)
    app.state.pool.submit(int, 0).result()  # the workers exist before the first request
    print("ref_symbolic_app: listening on http://127.0.0.1:%d" % sock.getsockname()[1], flush=True)
    try:
        uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)).run(sockets=[sock])
    finally:
        app.state.pool.shutdown(cancel_futures=True)


if __name__ == "__main__":
    sys.exit(main())
