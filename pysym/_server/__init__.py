"""``pysym serve``: the symbolication service (``pip install pysym[server]``, Python 3.9+).

An async Starlette front on uvicorn (``_app``) and a pool of worker processes, each with
its own sandbox runtime (``_pool``, ``_worker``); sources and caches come from one
configuration file (``_config``).  Endpoints, configuration and defaults: README,
"Symbolication service".
"""

from __future__ import annotations

import socket
import sys
from typing import IO, Any, Mapping, Optional

from ._config import DEFAULTS, ConfigError, load_config, merge_config

__all__ = ["create_app", "serve", "load_config", "merge_config", "DEFAULTS", "ConfigError"]


def create_app(config: Mapping[str, Any]) -> Any:
    from ._app import create_app as _create

    return _create(config)


def serve(config: Mapping[str, Any], *, announce: Optional[IO[str]] = None) -> None:
    """Runs the service until interrupted.  The listening socket is bound here, so port
    0 picks a free port; ``announce`` receives one line with the URL once it listens."""
    import uvicorn

    s = config["server"]
    host, port = str(s["host"]), int(s["port"])
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    bound = sock.getsockname()[1]
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5))

    async def started() -> None:
        out = announce or sys.stdout
        out.write("pysym serve: listening on http://%s:%d\n" % (host if ":" not in host else "[%s]" % host, bound))
        out.flush()

    orig_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await orig_startup(sockets=sockets)
        if server.started:
            await started()

    server.startup = startup  # type: ignore[method-assign]
    server.run(sockets=[sock])
