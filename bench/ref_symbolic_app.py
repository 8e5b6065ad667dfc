"""The reference service of bench/load_service.py: ``POST /symbolicate`` on PyPI ``symbolic``.

The same HTTP subset as ``pysym serve`` for native crashes (Symbolicator's request shape,
filesystem sources in the native layout, ``.build-id/xx/rest.debug``), on the same stack:
Starlette on uvicorn, one listening socket on 127.0.0.1, the work in a pool of worker
processes that keep loaded symcaches in memory and write them to a disk cache
(atomic renames).  symbolic parses in-process, without a sandbox: that is the difference
being measured.

    python bench/ref_symbolic_app.py --config FILE.json [--port 0]

FILE.json has pysym serve's shape; read: server.workers, cache.dir and the filesystem
``sources`` (``path``).  Prints ``listening on http://HOST:PORT`` once it listens.
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
from typing import Any, Dict, List, Optional

from bench_crash import symbolic_symcache  # bench/ is sys.path[0] when run as a script

_STATE: Dict[str, Any] = {}


def _init(stores: List[str], cache: str) -> None:
    _STATE.update(stores=stores, cache=cache, loaded={})
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


def create_app(config: Dict[str, Any]) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    stores = [s["path"] for s in config["sources"] if s.get("type", "filesystem") == "filesystem"]
    pool = ProcessPoolExecutor(int(config["server"].get("workers", 2)), initializer=_init,
                               initargs=(stores, os.path.join(config["cache"]["dir"], "symbolic")))

    async def post(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return JSONResponse({"status": "failed", "message": str(e)}, 400)
        result = await asyncio.get_running_loop().run_in_executor(pool, symbolicate, body)
        return JSONResponse(result)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/symbolicate", post, methods=["POST"]),
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
