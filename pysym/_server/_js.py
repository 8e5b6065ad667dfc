"""``POST /symbolicate-js``: JavaScript frames mapped through source maps found by debug id.

Request (Symbolicator's JS shape, reduced): ``stacktraces[].frames[]`` with ``abs_path``,
``lineno``, ``colno`` (1-based, as browsers print them) and ``function``; ``modules[]``
with ``{"type": "sourcemap", "code_file": <the minified file's URL>, "debug_id"}``.  The
maps come from the configured ``js`` sources: directories whose ``*.map`` files are
indexed by their ``debugId`` (read in the sandbox) the first time a worker needs them.
Scraping by URL is not implemented: only debug ids are used.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional

from .._errors import InvalidInputError, PysymError

__all__ = ["JsIndex", "symbolicate_js"]

_MAX_MAPS = 100_000
_MAX_FRAMES = 100_000


class JsIndex:
    """debug id -> map file, for the ``js`` sources of a worker."""

    def __init__(self, sources: List[Mapping[str, Any]]) -> None:
        self.dirs = [str(s["path"]) for s in sources]
        self._index: Optional[Dict[str, str]] = None
        self._maps: Dict[str, Any] = {}

    def _build(self) -> Dict[str, str]:
        from .._api import SourceMap

        index: Dict[str, str] = {}
        seen = 0
        for d in self.dirs:
            for root, _dirs, files in os.walk(d):
                for name in sorted(files):
                    if not name.endswith(".map") or seen >= _MAX_MAPS:
                        continue
                    seen += 1
                    path = os.path.join(root, name)
                    try:
                        with SourceMap.from_path(path) as sm:
                            did = sm.debug_id
                    except (PysymError, OSError):
                        continue  # not a map: not in the index
                    if did:
                        index.setdefault(did.lower(), path)
        return index

    def get(self, debug_id: str) -> Any:
        from .._api import SourceMap

        if self._index is None:
            self._index = self._build()
        path = self._index.get(debug_id.lower())
        if path is None:
            return None
        if path not in self._maps:
            self._maps[path] = SourceMap.from_path(path)
        return self._maps[path]


def _int(v: Any) -> Optional[int]:
    return v if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 0xFFFFFFFF else None


def symbolicate_js(request: Mapping[str, Any], index: JsIndex) -> Dict[str, Any]:
    """The response; function names follow the library's rules (``pysym._stacktrace``:
    without the generated text, the caller frame's call-site name), so frames are taken
    innermost first, as browsers print them."""
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
