"""``POST /symbolicate-js``: JavaScript frames mapped through source maps found by debug id.

Request (Symbolicator's JS shape, reduced): ``stacktraces[].frames[]`` with ``abs_path``,
``lineno``, ``colno`` (1-based, as browsers print them) and ``function``; ``modules[]``
with ``{"type": "sourcemap", "code_file": <the minified file's URL>, "debug_id"}``.  The
maps come from the configured ``js`` sources: directories whose ``*.map`` files are
indexed by their ``debugId`` (read in the sandbox) the first time a worker needs them.
Scraping by URL is not implemented: only debug ids are used.

When the source also has the minified file of a map (a ``.js`` file whose ``//# debugId=``
is the map's, else the map's path without ``.map``), frames are named by the function
scopes of that file (``function_from: "scope"``, symbolic's naming), as the library does
with a generated file; without it, by the caller's call site.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional

from .._errors import InvalidInputError, PysymError

__all__ = ["JsIndex", "symbolicate_js"]

_MAX_MAPS = 100_000
_MAX_FRAMES = 100_000
_MAX_GENERATED = 64 << 20  # a larger minified file is not read: frames keep call-site names
_ID_TAIL = 64 << 10  # ``//# debugId=`` is on one of the last five lines: read the file's end


class JsIndex:
    """debug id -> map file (and minified file, when there is one), for the ``js``
    sources of a worker."""

    def __init__(self, sources: List[Mapping[str, Any]]) -> None:
        self.dirs = [str(s["path"]) for s in sources]
        self._index: Optional[Dict[str, str]] = None
        self._scripts: Dict[str, str] = {}  # debug id -> minified file
        self._maps: Dict[str, Any] = {}

    def _build(self) -> Dict[str, str]:
        from .._api import SourceMap

        index: Dict[str, str] = {}
        seen = 0
        for d in self.dirs:
            for root, _dirs, files in os.walk(d):
                for name in sorted(files):
                    if seen >= _MAX_MAPS:
                        continue
                    path = os.path.join(root, name)
                    if name.endswith(".js"):
                        seen += 1
                        did = _script_debug_id(path)
                        if did:
                            self._scripts.setdefault(did, path)
                        continue
                    if not name.endswith(".map"):
                        continue
                    seen += 1
                    try:
                        with SourceMap.from_path(path) as sm:
                            did = sm.debug_id
                    except (PysymError, OSError):
                        continue  # not a map: not in the index
                    if did:
                        index.setdefault(did.lower(), path)
        return index

    def get(self, debug_id: str) -> Any:
        """A :class:`ResolvedMap` (the map, and the minified text when the source has it),
        one per map file (the map keeps the text it was given), or ``None``."""
        from .._api import SourceMap
        from .._stacktrace import ResolvedMap

        if self._index is None:
            self._index = self._build()
        did = debug_id.lower()
        path = self._index.get(did)
        if path is None:
            return None
        if path not in self._maps:
            script = self._scripts.get(did)
            if script is None and path.endswith(".js.map") and os.path.isfile(path[:-4]):
                script = path[:-4]  # (a file without a debugId comment: named after its map)
            self._maps[path] = ResolvedMap(SourceMap.from_path(path), _read_text(script) if script else None)
        return self._maps[path]


def _script_debug_id(path: str) -> Optional[str]:
    from .._sourcemap_url import find_debug_id

    try:
        with open(path, "rb") as f:
            start = max(0, os.fstat(f.fileno()).st_size - _ID_TAIL)
            f.seek(start)
            tail = f.read()
    except OSError:
        return None
    if start:  # the first line read is a piece of one: not a line of the file
        cut = [i for i in (tail.find(b"\n"), tail.find(b"\r")) if i >= 0]
        tail = tail[min(cut) + 1:] if cut else b""
    return find_debug_id(tail)


def _read_text(path: str) -> Optional[str]:
    try:
        if os.path.getsize(path) > _MAX_GENERATED:
            return None
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return None


def _int(v: Any) -> Optional[int]:
    return v if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 0xFFFFFFFF else None


def symbolicate_js(request: Mapping[str, Any], index: JsIndex) -> Dict[str, Any]:
    """The response; function names follow the library's rules (``pysym._stacktrace``:
    the scope around the position when the minified file is known, else the caller
    frame's call-site name), so frames are taken innermost first, as browsers print them."""
    from .._stacktrace import Frame, symbolicate_frames

    traces = request.get("stacktraces")
    modules = request.get("modules") or []
    if not isinstance(traces, list) or not isinstance(modules, list):
        raise InvalidInputError("'stacktraces' and 'modules' must be lists")
    by_file: Dict[str, str] = {}
    for m in modules:
        if isinstance(m, dict) and isinstance(m.get("code_file"), str) and isinstance(m.get("debug_id"), str):
            by_file[m["code_file"]] = m["debug_id"]
    errors: List[Dict[str, Any]] = []

    def resolve(url: str) -> Any:
        did = by_file.get(url)
        sm = index.get(did) if did else None
        if sm is None:
            errors.append({"abs_path": url, "type": "missing_sourcemap",
                           "details": "no debug id for the file" if did is None else
                           "no source map with debug id %s" % did})
        return sm

    out_traces = []
    total = 0
    for t in traces:
        if not isinstance(t, dict) or not isinstance(t.get("frames"), list):
            raise InvalidInputError("each stack trace must be an object with a 'frames' list")
        total += len(t["frames"])
        if total > _MAX_FRAMES:
            raise InvalidInputError("more than %d frames" % _MAX_FRAMES)
        parsed = []
        for f in t["frames"]:
            if not isinstance(f, dict):
                raise InvalidInputError("a frame must be an object")
            path, fn = f.get("abs_path"), f.get("function")
            parsed.append(Frame(raw="", style="v8", function=fn if isinstance(fn, str) else None,
                                url=path if isinstance(path, str) else None, line=_int(f.get("lineno")),
                                col=_int(f.get("colno"))))
        frames = []
        for f, sf in zip(t["frames"], symbolicate_frames(parsed, resolve)):
            raw = {k: f.get(k) for k in ("abs_path", "lineno", "colno", "function") if k in f}
            if isinstance(sf, str) or not sf.mapped:
                frames.append(dict(raw, status="missing", raw=raw))
                continue
            frames.append({"status": "symbolicated", "abs_path": sf.source, "lineno": sf.line, "colno": sf.col,
                           "function": sf.function, "raw": raw})
        out_traces.append({"frames": frames})
    return {"status": "completed", "stacktraces": out_traces, "errors": errors}
