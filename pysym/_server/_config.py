"""The service's configuration: one TOML (or JSON) file, every key optional.

TOML is read with the standard library's ``tomllib`` (Python 3.11+) or ``tomli`` (the
``server`` extra installs it on 3.9 and 3.10); a file ending in ``.json`` is read as JSON
with the same shape.  The defaults are in :data:`DEFAULTS` and in the README.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
from typing import Any, Dict, List, Mapping, Optional

__all__ = ["DEFAULTS", "load_config", "merge_config", "ConfigError"]


class ConfigError(ValueError):
    """The configuration file is not valid."""


DEFAULTS: Dict[str, Any] = {
    "server": {
        "host": "127.0.0.1",
        "port": 3021,
        "workers": 2,  # worker processes (each holds one sandbox runtime)
        "max_concurrent_requests": 64,  # past it: 503 with Retry-After
        "max_body_bytes": 32 << 20,
        "request_timeout": 300.0,  # a worker busy longer is killed and replaced
        "results_ttl": 300.0,  # seconds an asynchronous result is kept after it is done
        "retry_after": 1,  # the Retry-After (and retry_after) the service advises, seconds
        "allow_request_sources": True,  # http sources given in a request (never filesystem ones)
    },
    "cache": {
        "dir": None,  # default: a private temporary directory per run
        "symcache_max_bytes": 2 << 30,
        "downloads_max_bytes": 8 << 30,
        "download_ttl": 7 * 86400.0,
        "miss_ttl": 3600.0,
        "malformed_ttl": 86400.0,
        "memory_bytes": 256 << 20,  # loaded symcaches per worker
        # a build runtime grown past this by a build is dropped (wasm memory never shrinks;
        # what it built is loaded again in the worker's runtime): see Symbolicator. 0: every
        # build runtime is dropped after its build (a new one costs milliseconds)
        "build_memory_bytes": 0,
        # symcache builds at once in one worker, each in a runtime of its own; 0: the
        # library's default (2 where the engine runs threads in parallel, else 1)
        "build_threads": 0,
        # wasmer: symcache builds of a request in up to this many forked child processes;
        # absent: the library's default (2 on wasmer with 2+ CPUs, else 0); 0: in-process
        "build_processes": None,
        # symcaches shared by replicas: {type = "s3", bucket, prefix, endpoint_url, region,
        # access_key, secret_key, integrity_key}; its endpoint obeys [remote]
        "shared": None,
    },
    "limits": {  # pysym.Limits of each worker's runtime
        "memory": 1 << 30,
        "max_input_size": 512 << 20,
        "timeout": 60.0,
    },
    "remote": {
        "allowed_networks": [],  # e.g. ["127.0.0.0/8"]: private/loopback ranges that may be asked
        "connect_timeout": 10.0,
        "read_timeout": 30.0,
        "download_timeout": 300.0,
        "max_download_bytes": 2 << 30,
        "max_redirects": 5,
        "backoff_failures": 3,
        "backoff_seconds": 60.0,
    },
    "sources": [],
}


def merge_config(user: Mapping[str, Any]) -> Dict[str, Any]:
    """``user`` over :data:`DEFAULTS`; unknown sections or keys are errors."""
    out = copy.deepcopy(DEFAULTS)
    for section, value in user.items():
        if section not in out:
            raise ConfigError("unknown configuration section %r" % (section,))
        if section == "sources":
            if not isinstance(value, list) or not all(isinstance(s, Mapping) for s in value):
                raise ConfigError("'sources' must be a list of tables")
            out["sources"] = [dict(s) for s in value]
            continue
        if not isinstance(value, Mapping):
            raise ConfigError("[%s] must be a table" % section)
        for k, v in value.items():
            if k not in out[section]:
                raise ConfigError("unknown key %r in [%s]" % (k, section))
            out[section][k] = v
    ids: List[str] = []
    for s in out["sources"]:
        sid = s.get("id")
        if not isinstance(sid, str) or not sid:
            raise ConfigError("every source needs an 'id'")
        if sid in ids:
            raise ConfigError("two sources have the id %r" % sid)
        if s.get("type", "filesystem") not in ("filesystem", "http", "s3", "gcs", "js"):
            raise ConfigError("source %r: type must be 'filesystem', 'http', 's3', 'gcs' or 'js'" % sid)
        if s.get("type") == "js" and not isinstance(s.get("path"), str):
            raise ConfigError("source %r: a js source needs a 'path' (a directory of source maps)" % sid)
        ids.append(sid)
    for key in ("build_memory_bytes", "build_threads"):
        v = out["cache"][key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ConfigError("[cache] %s must be a whole number >= 0" % key)
    procs = out["cache"]["build_processes"]
    if procs is not None and (isinstance(procs, bool) or not isinstance(procs, int) or procs < 0):
        raise ConfigError("[cache] build_processes must be a whole number >= 0")
    shared = out["cache"]["shared"]
    if shared is not None:
        if not isinstance(shared, Mapping) or not isinstance(shared.get("bucket"), str):
            raise ConfigError("[cache] shared must be a table with a 'bucket'")
        try:
            from .._symbolicate._shared import SharedCache

            SharedCache.from_config(shared)
        except ValueError as e:
            raise ConfigError("[cache] shared: %s" % e) from None
    if out["cache"]["dir"] is None:
        out["cache"]["dir"] = tempfile.mkdtemp(prefix="pysym-serve-")
    return out


def load_config(path: Optional[str]) -> Dict[str, Any]:
    if path is None:
        return merge_config({})
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".json"):
        try:
            user = json.loads(data)
        except ValueError as e:
            raise ConfigError("%s: %s" % (path, e)) from None
    else:
        if sys.version_info >= (3, 11):
            import tomllib as toml
        else:  # pragma: no cover - depends on the interpreter
            import tomli as toml
        try:
            user = toml.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise ConfigError("%s: %s" % (path, e)) from None
    if not isinstance(user, Mapping):
        raise ConfigError("%s: the configuration must be a table/object" % path)
    # Relative filesystem source paths are relative to the configuration file.
    base = os.path.dirname(os.path.abspath(path))
    for s in user.get("sources", []) or []:
        if isinstance(s, dict) and s.get("type", "filesystem") in ("filesystem", "js") \
                and isinstance(s.get("path"), str):
            s["path"] = os.path.join(base, s["path"])
    return merge_config(user)
