"""Parsing and symbolicating JavaScript stack traces (V8, SpiderMonkey, JavaScriptCore).

Positions in stack traces are 1-based lines and 1-based columns counted in UTF-16 code
units, as browsers and Node print them; the :class:`~pysym.SourceMap` API is 0-based.
The conversion happens here, explicitly, and nowhere else. The one exception is a
Hermes bytecode frame (``at f (address at index.android.bundle:1:9876)``): its column is
a bytecode offset, 0-based already, and is looked up as is in the Hermes bytecode map
(what ``metro-symbolicate`` does).

Every line of a trace is kept: a line that is not a frame is a plain ``str``, a frame
that cannot be mapped is printed exactly as it came in.

Function names
--------------
A minifier renames functions, so the function name in a frame (``at r (app.min.js:1:99)``)
has to be translated too.  The token at the frame's own position does *not* name the
function: it is the identifier being called or accessed at that point (the callee of the
frame above).  The names are chosen, in order (:func:`symbolicate_frames`):

0. with Metro's ``x_facebook_sources`` function maps in the map (React Native), or the
   map's ECMA-426 ``scopes`` field (which wins): the function around the frame's
   position, as ``metro-symbolicate`` names it (:meth:`pysym.SourceMap.function_names`).
1. with the generated JavaScript text (:class:`ResolvedMap` ``generated``): the innermost
   function scope around the frame position, found by the module's scope extractor and
   named through the map as symbolic's SourceMapCache names it
   (:meth:`pysym.SourceMap.function_names`): ``Cart.total``, ``processQueue``,
   ``<anonymous>`` for an anonymous function (kept nameless for an engine that printed no
   name), the printed name for top-level code.  A constructor frame (``at new s``) prints
   the class name after its own ``new``.
2. without it: the name of the call site in the *caller* frame (the next frame, in the
   same file): that mapping names the function that was called, which is this frame's
   function (Node's fallback).
3. the printed name, unchanged.

A :class:`pysym.SourceMapCache` names frames as the map it was built from does when given
the minified file the cache was built with (:meth:`pysym.SourceMapCache.function_names`:
rules 0 and 1 from what the cache holds, then 2 and 3).

Untrusted traces
----------------
A trace comes straight from a crashing client: it is parsed inside the sandbox (the
module's parser, shared with the browser host), in time linear in its length. A line
longer than
:data:`MAX_FRAME_LINE` characters is never a frame: it is kept as a plain ``str`` and
printed unchanged. ``eval at`` origins are followed :data:`MAX_EVAL_DEPTH` levels deep;
a deeper origin is kept as unparsed text (its frame has no mappable position).
"""

from __future__ import annotations

import array
import itertools
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union
from urllib.parse import unquote, urlsplit

from . import _abi, _wire

__all__ = [
    "Frame",
    "ResolvedMap",
    "SymbolicatedFrame",
    "parse_line",
    "parse_stacktrace",
    "symbolicate_frames",
    "symbolicate_trace",
    "render_frame",
    "render_context",
    "MapDirectory",
]


@dataclass(frozen=True)
class Frame:
    """One parsed stack frame.

    ``line`` and ``col`` are 1-based, as printed (``None`` when the frame has no
    position, e.g. ``at Array.map (<anonymous>)`` or ``forEach@[native code]``).
    ``function`` is the function name as printed, without the ``async``/``new``
    keywords (``None`` for an anonymous frame).  ``style`` is ``"v8"`` (``at ...``) or
    ``"gecko"`` (``fn@url:line:col``, SpiderMonkey and JavaScriptCore).
    """

    raw: str
    style: str
    function: Optional[str]
    url: Optional[str]
    line: Optional[int]
    col: Optional[int]
    is_async: bool = False
    is_constructor: bool = False
    #: V8 ``[as name]``: the property name the function was called through.
    alias: Optional[str] = None
    #: V8 eval frames: where the eval was called (``eval at f (url:1:2)``); the frame's
    #: own position is inside the evaluated string and is not mappable.
    eval_origin: Optional["Frame"] = None
    #: text before ``at`` (V8) or before the function (gecko): indentation, kept.
    prefix: str = ""
    #: Hermes ``at f (address at index.android.bundle:1:9876)``: ``col`` is a bytecode
    #: offset, 0-based (``line`` is the 1-based segment), as metro-symbolicate reads it.
    is_bytecode: bool = False

    @property
    def has_position(self) -> bool:
        return self.url is not None and self.line is not None and self.col is not None


Line = Union[Frame, str]

#: Longer lines are not frames (kept as text): real frame lines are far shorter, and
#: the bound keeps per-line work and the strings copied for a frame small.
MAX_FRAME_LINE = 65536
#: How many nested ``eval at`` origins are parsed (each level re-scans its text); the
#: module's bound (wasm/core/src/js/trace.rs).
MAX_EVAL_DEPTH = 8
_GECKO_ASYNC = "async*"
#: Bytes of trace text handed to the module per call.
_PARSE_BATCH = 1 << 22
_RECORD_WORDS = _wire.TRACE_WORDS
_NO_SPAN = _wire.NONE
_UNITS_CODE_POINTS = _abi.UNITS_CODE_POINTS
#: pysym_sourcemap_function_names kind: no function map covers the position, no scopes
_FUNCTION_NO_ANSWER = _abi.FUNCTION_KIND_NO_ANSWER


def _frame_of(line: str, words: "array.array[int]", at: int, count: int) -> Frame:
    """The frame (and its ``eval at`` origins) of ``count`` trace records at ``words[at]``."""

    def span(i: int) -> Optional[str]:
        return None if words[i] == _NO_SPAN else line[words[i] : words[i + 1]]

    frame = None  # type: Optional[Frame]
    for k in range(count - 1, -1, -1):
        r = at + k * _RECORD_WORDS
        style, flags = words[r + _wire.TRACE_STYLE], words[r + _wire.TRACE_FLAGS]
        raw_start = words[r + _wire.TRACE_RAW_START]
        raw = line[raw_start : words[r + _wire.TRACE_RAW_END]]
        if flags & _abi.TRACE_FLAG_AT_PREFIX:
            raw = "at " + raw
        fn = span(r + _wire.TRACE_FUNCTION_START)
        if style == _abi.TRACE_STYLE_EVAL_ORIGIN:  # an origin that is not a frame: its text is its function
            frame = Frame(raw, "v8", fn, None, None, None)
            continue
        ln, col = span(r + _wire.TRACE_LINE_START), span(r + _wire.TRACE_COLUMN_START)
        frame = Frame(
            raw,
            "v8" if style == _abi.TRACE_STYLE_AT else "gecko",
            fn or None,
            span(r + _wire.TRACE_LOCATION_START),
            int(ln) if ln is not None else None,
            int(col) if col is not None else None,
            bool(flags & _abi.TRACE_FLAG_ASYNC),
            bool(flags & _abi.TRACE_FLAG_NEW),
            span(r + _wire.TRACE_ALIAS_START),
            frame,
            line[raw_start : words[r + _wire.TRACE_PREFIX]],
            bool(flags & _abi.TRACE_FLAG_BYTECODE),
        )
    assert frame is not None
    return frame


def parse_lines(lines: Sequence[str]) -> List[Optional[Frame]]:
    """:func:`parse_line` for many lines, parsed by the module in few calls."""
    from ._host import get_runtime

    out = []  # type: List[Optional[Frame]]
    rt = get_runtime()
    start = 0
    while start < len(lines):
        # lines that cannot be frames are sent empty: the text stays small and one-line
        batch = []  # type: List[str]
        size = 0
        while start + len(batch) < len(lines) and (not batch or size < _PARSE_BATCH):
            line = lines[start + len(batch)]
            if len(line) > MAX_FRAME_LINE or "\n" in line or "\r" in line or not line:
                line = ""
            batch.append(line)
            size += len(line) + 1
        data = "\n".join(batch).encode("utf-8", "replace")  # (a lone surrogate: one "?")
        with rt.lock:
            ptr = rt.input_buffer(data)
            rt.check(rt.call("pysym_js_parse_trace", ptr, len(data), MAX_FRAME_LINE, _UNITS_CODE_POINTS, rt.out_slot))
            raw = rt.result_bytes()
        words = _wire.decode_trace_words(raw).words
        at = 0
        for line in batch:
            count = words[at]
            at += 1
            out.append(_frame_of(line, words, at, count) if count else None)
            at += count * _RECORD_WORDS
        start += len(batch)
    return out


def parse_line(line: str) -> Optional[Frame]:
    """Parse one stack-trace line (without its line ending); ``None`` if not a frame
    (also for lines longer than :data:`MAX_FRAME_LINE` characters).

    The parser is the module's (wasm/core/src/js/trace.rs), shared with the browser host:
    V8/Node/Hermes ``at`` lines and SpiderMonkey/JavaScriptCore ``fn@url`` lines."""
    return parse_lines([line])[0]


def parse_stacktrace(text: str) -> List[Line]:
    """Parse a whole trace: a :class:`Frame` per frame line, the raw ``str`` otherwise.

    Line endings are dropped; ``"\\n".join`` of the raws gives back the text (modulo the
    line-ending style).
    """
    raws = text.splitlines()
    return [f if f is not None else raw for f, raw in zip(parse_lines(raws), raws)]


# --------------------------------------------------------------------------------------
# Symbolication


@dataclass
class ResolvedMap:
    """What a map resolver returns for a frame URL.

    ``sourcemap`` is a :class:`pysym.SourceMap` or a :class:`pysym.SourceMapCache` (anything
    with ``lookup(line, col)``, ``source_context``); ``generated`` is the text of the
    generated JavaScript file when known: frames then take their function names from its
    scopes (module docstring). A cache takes no generated file: it names frames from what
    it was built with, as the map it was built from names them.
    """

    sourcemap: Any
    generated: Optional[str] = None
    #: the generated text as given to the map (None: not yet, or it could not be read)
    _bytes: Optional[bytes] = None
    _failed: bool = False

    def scopes_ready(self) -> bool:
        """Hands the generated text to the map (a no-op when it already has it: two
        generated files may share one map); False without scope names."""
        give = getattr(self.sourcemap, "set_generated_source", None)
        sm = self.sourcemap
        # a map whose `scopes` field or function maps name positions needs no generated
        # file; a SourceMapCache names what it was built with (it takes no generated file)
        names_itself = bool(getattr(sm, "has_scopes", False) or getattr(sm, "has_function_maps", False)
                            or getattr(sm, "has_function_names", False)) and hasattr(sm, "function_names")
        if self.generated is None or give is None or self._failed:
            return names_itself
        if self._bytes is None:
            self._bytes = self.generated.encode("utf-8")
        from ._errors import PysymError

        try:
            give(self._bytes)
        except PysymError:
            self._failed = True  # (e.g. nesting too deep): the frames keep the other rules
            return names_itself
        return True


#: A map resolver: frame URL → the map for it (a ResolvedMap, a bare SourceMap) or None.
Resolver = Callable[[str], Any]


@dataclass(frozen=True)
class SymbolicatedFrame:
    """A frame with its original position (all 1-based, like the input frame)."""

    frame: Frame
    source: Optional[str] = None
    line: Optional[int] = None
    col: Optional[int] = None
    #: the function name chosen for the frame (see module docstring), as printed.
    function: Optional[str] = None
    #: the ``name`` of the mapping at the frame position (usually the called identifier)
    name_at_position: Optional[str] = None
    #: how ``function`` was found: "definition", "caller", "unchanged" or None.
    function_from: Optional[str] = None
    #: (pre_lines, line, post_lines) from ``sourcesContent``, when asked and available.
    context: Optional[Tuple[List[str], str, List[str]]] = None

    @property
    def mapped(self) -> bool:
        return self.source is not None


def _as_resolved(obj: Any) -> Optional[ResolvedMap]:
    if obj is None or isinstance(obj, ResolvedMap):
        return obj
    return ResolvedMap(obj)


def _col0(f: Frame) -> int:
    """The 0-based column of a frame with a position."""
    assert f.col is not None
    return f.col if f.is_bytecode else f.col - 1


def _scope_function(f: Frame, scope: Optional[str]) -> Optional[str]:
    """The function name a frame prints, from its scope's name (symbolic's answer)."""
    if scope is None:
        return None  # top-level code: the engine's name is kept (as symbolicator does)
    if scope == "<anonymous>":
        # an engine that printed no name prints anonymous frames that way
        return scope if f.function else None
    if f.is_constructor and scope.startswith("new "):
        return scope[4:]  # rendered after the frame's own `new`
    return scope


def symbolicate_frames(
    lines: Sequence[Line],
    resolver: Resolver,
    context: Optional[int] = None,
) -> List[Union[SymbolicatedFrame, str]]:
    """Symbolicate parsed lines; non-frames stay ``str``, every frame gets a result.

    ``resolver(url)`` returns the map for a frame URL (a :class:`ResolvedMap` or a bare
    SourceMap) or ``None``; it is called once per frame (cache inside it).
    ``context`` is the number of source lines around the frame line to fetch from
    ``sourcesContent`` (``None``: no source at all).
    """
    frames = [x for x in lines if isinstance(x, Frame)]
    maps = {}  # type: Dict[int, Optional[ResolvedMap]]
    tokens = {}  # type: Dict[int, Any]
    # frame index -> the innermost function scope's name ("<anonymous>", None: top level)
    scope_names = {}  # type: Dict[int, Optional[str]]

    def position_of(f: Frame) -> Optional[Frame]:
        if f.eval_origin is not None:
            o = f.eval_origin
            while o.eval_origin is not None:
                o = o.eval_origin
            return o if o.has_position else None
        return f if f.has_position else None

    # One batch of lookups per map (a boundary crossing each, see DESIGN.md).
    by_map = {}  # type: Dict[int, Tuple[ResolvedMap, List[int]]]
    for idx, f in enumerate(frames):
        pos = position_of(f)
        if pos is None or pos.url is None or pos.line is None or pos.col is None:
            continue
        if pos.line < 1 or pos.col < (0 if pos.is_bytecode else 1):
            continue
        rm = _as_resolved(resolver(pos.url))
        maps[idx] = rm
        if rm is not None:
            by_map.setdefault(id(rm.sourcemap), (rm, []))[1].append(idx)
    for rm, idxs in by_map.values():
        # 1-based browser positions -> 0-based source map positions.
        lines0 = [position_of(frames[i]).line - 1 for i in idxs]  # type: ignore[union-attr,operator]
        # a Hermes bytecode offset is 0-based already
        cols0 = [_col0(position_of(frames[i])) for i in idxs]  # type: ignore[arg-type]
        lookup_many = getattr(rm.sourcemap, "lookup_many", None)
        if lookup_many is not None:
            found = lookup_many(lines0, cols0)
        else:
            found = [rm.sourcemap.lookup(ln, c) for ln, c in zip(lines0, cols0)]
        for i, tok in zip(idxs, found):
            tokens[i] = tok
        if rm.scopes_ready():
            # the eval frames' positions are their origins: not named by scopes
            named = [k for k, i in enumerate(idxs) if frames[i].eval_origin is None]
            enclosing = getattr(rm.sourcemap, "_enclosing", None)
            of_tokens = getattr(rm.sourcemap, "_enclosing_of", None)
            ls, cs = [lines0[k] for k in named], [cols0[k] for k in named]
            if of_tokens is not None:
                # a cache's lookups carry the answers already (SourceMapCache._enclosing_of)
                answers = of_tokens([found[k] for k in named])
            elif enclosing is not None:
                answers = enclosing(ls, cs)
            else:
                answers = [(0, n) for n in rm.sourcemap.function_names(ls, cs)]
            for k, (kind, name) in zip(named, answers):
                if kind != _FUNCTION_NO_ANSWER:
                    scope_names[idxs[k]] = name

    results = []  # type: List[SymbolicatedFrame]
    for idx, f in enumerate(frames):
        tok = tokens.get(idx)
        rm = maps.get(idx)
        if tok is None or rm is None or tok.src is None:
            results.append(SymbolicatedFrame(f))
            continue
        function = None  # type: Optional[str]
        how = None  # type: Optional[str]
        if idx in scope_names:
            function = _scope_function(f, scope_names[idx])
            how = "scope" if scope_names[idx] is not None else None
        elif f.eval_origin is None and idx + 1 < len(frames):
            # Without the generated file (Node's fallback): the caller's call site (the
            # next frame, same map) names the function it called, this frame's.
            caller = frames[idx + 1]
            ctok = tokens.get(idx + 1)
            if (
                ctok is not None
                and ctok.name
                and caller.url == f.url
                and getattr(maps.get(idx + 1), "sourcemap", None) is rm.sourcemap
            ):
                function, how = str(ctok.name), "caller"
        if function is None and f.function:
            function, how = f.function, "unchanged"
        ctx = None
        if context is not None:
            try:
                ctx = rm.sourcemap.source_context(tok.src, tok.src_line, context)
            except Exception:  # noqa: BLE001 - no context is never fatal
                ctx = None
        results.append(
            SymbolicatedFrame(
                f,
                str(tok.src),
                tok.src_line + 1,
                tok.src_col + 1,
                function,
                tok.name,
                how,
                ctx,
            )
        )
    it = iter(results)
    return [next(it) if isinstance(x, Frame) else x for x in lines]


def render_frame(sf: SymbolicatedFrame) -> str:
    """The frame line in the input's style, with original positions and names."""
    f = sf.frame
    if not sf.mapped:
        return f.raw
    loc = "%s:%s:%s" % (sf.source, sf.line, sf.col)
    if f.eval_origin is not None:
        # Keep the eval frame as is, replacing the innermost origin location.
        o = f.eval_origin
        while o.eval_origin is not None:
            o = o.eval_origin
        old = "%s:%s:%s" % (o.url, o.line, o.col)
        at = f.raw.rfind(old)
        if at < 0:
            return f.raw
        return f.raw[:at] + loc + f.raw[at + len(old) :]
    fn = sf.function
    if f.style == "v8":
        words = ("async " if f.is_async else "") + ("new " if f.is_constructor else "")
        if fn:
            alias = " [as %s]" % f.alias if f.alias else ""
            return "%sat %s%s%s (%s)" % (f.prefix, words, fn, alias, loc)
        return "%sat %s%s" % (f.prefix, words, loc)
    return "%s%s%s@%s" % (f.prefix, _GECKO_ASYNC if f.is_async else "", fn or "", loc)


def render_context(sf: SymbolicatedFrame, context: int) -> List[str]:
    """Source lines to print under a frame: the line alone, or numbered with context."""
    if sf.context is None or sf.line is None:
        return []
    pre, line, post = sf.context
    indent = (sf.frame.prefix if sf.frame.style == "v8" else "") + "    "
    if context <= 0:
        text = line.strip()
        return [indent + text] if text else []
    first = sf.line - len(pre)
    last = sf.line + len(post)
    width = len(str(last))
    out = []
    for i, text in enumerate(list(pre) + [line] + list(post)):
        n = first + i
        mark = ">" if n == sf.line else " "
        out.append(("%s%s %*d | %s" % (indent, mark, width, n, text)).rstrip())
    return out


def symbolicate_trace(text: str, resolver: Resolver, context: Optional[int] = 0) -> str:
    """Symbolicate a whole trace text, keeping every other line and line ending as is.

    ``context``: ``None`` prints no source, ``0`` the frame's source line under it,
    ``N`` a numbered excerpt with N lines either side.
    """
    chunks = text.splitlines(True)
    bodies = [c.rstrip("\r\n") for c in chunks]
    endings = [c[len(b) :] for c, b in zip(chunks, bodies)]
    newline = next((e for e in endings if e), "\n")
    parsed = [f if f is not None else b for f, b in zip(parse_lines(bodies), bodies)]  # type: List[Line]
    done = symbolicate_frames(parsed, resolver, context)
    return "".join(_render_line(item, body, end, newline, context) for item, body, end in zip(done, bodies, endings))


def _render_line(item: Union[SymbolicatedFrame, str], body: str, end: str, newline: str,
                 context: Optional[int]) -> str:
    if isinstance(item, str):
        return body + end
    group = [render_frame(item)]
    if context is not None:
        group.extend(render_context(item, context))
    return (end or newline).join(group) + end


#: Lines symbolicated together by the streaming functions (one batch of lookups per map).
STREAM_CHUNK = 4096


def split_lines_stream(blocks: Iterable[str]) -> Iterator[str]:
    """The lines of text arriving in blocks, with their endings: what ``str.splitlines(True)``
    gives for the whole text, holding one block (and one unfinished line) at a time."""
    carry = ""
    for block in blocks:
        if not block:
            continue
        pieces = (carry + block).splitlines(True)
        last = pieces.pop()
        # an unfinished line, or a "\r" whose "\n" may start the next block
        if last.endswith("\r") or last == last.rstrip("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"):
            carry = last
        else:
            pieces.append(last)
            carry = ""
        yield from pieces
    if carry:
        yield carry


def symbolicate_stream(
    lines: Iterable[str], resolver: Resolver, context: Optional[int] = None
) -> Iterator[Tuple[str, str, Union[SymbolicatedFrame, str]]]:
    """Symbolicate a trace given as lines with their endings (:func:`split_lines_stream`),
    ``STREAM_CHUNK`` lines at a time: memory does not grow with the trace's length.

    Yields ``(body, ending, item)`` per line, ``item`` as in :func:`symbolicate_frames`.
    The caller fallback (module docstring, 2.) looks for the next frame at most
    ``STREAM_CHUNK`` lines ahead; :func:`symbolicate_trace` looks through the whole text.
    """
    source = iter(lines)
    pending = []  # type: List[Tuple[str, str, Line]]

    def read(limit: int, stop_at_frame: bool) -> bool:
        """Parse up to ``limit`` more lines into pending; False at the end of input."""
        if not stop_at_frame:
            chunk = list(itertools.islice(source, limit))
            bodies = [c.rstrip("\r\n") for c in chunk]
            for c, body, parsed in zip(chunk, bodies, parse_lines(bodies)):
                pending.append((body, c[len(body) :], parsed if parsed is not None else body))
            return len(chunk) == limit
        for _ in range(limit):
            raw = next(source, None)
            if raw is None:
                return False
            body = raw.rstrip("\r\n")
            one = parse_line(body)
            pending.append((body, raw[len(body) :], one if one is not None else body))
            if one is not None:
                break
        return True

    more = True
    while more or pending:
        if more:
            more = read(STREAM_CHUNK - len(pending), False)
        size = len(pending)
        if more:
            # one line of context past the chunk: the next frame (a caller), if near
            more = read(STREAM_CHUNK, True)
        done = symbolicate_frames([p[2] for p in pending], resolver, context)
        for (body, end, _), item in zip(pending[:size], done):
            yield body, end, item
        del pending[:size]


def symbolicate_trace_stream(
    lines: Iterable[str], resolver: Resolver, context: Optional[int] = 0
) -> Iterator[str]:
    """:func:`symbolicate_trace` for a trace given as lines with their endings, yielding
    the output piece by piece (see :func:`symbolicate_stream`)."""
    newline = None  # type: Optional[str]
    for body, end, item in symbolicate_stream(lines, resolver, context):
        if newline is None and end:
            newline = end
        yield _render_line(item, body, end, newline or "\n", context)


# --------------------------------------------------------------------------------------
# Finding maps in a directory


def url_basename(url: str) -> Optional[str]:
    """The file name of a frame URL's path (``https://x/static/app.js?v=1`` → ``app.js``)."""
    parts = urlsplit(url)
    if len(parts.scheme) > 1:
        path = parts.path
    else:
        # a plain path (possibly ``C:\\dir\\a.js``): only strip a query/fragment
        path = re.split(r"[?#]", url, maxsplit=1)[0]
    name = re.split(r"[/\\]", unquote(path))[-1]
    if name in ("", ".", ".."):
        return None
    return name


class MapDirectory:
    """A map resolver over a directory of generated files and source maps.

    For a frame URL, take the file name of its path (``app.min.js``), then:

    1. if the directory has that file, read its ``//# sourceMappingURL=``: a ``data:``
       URL is decoded, a relative URL names a file next to it (only inside the
       directory), an absolute URL is replaced by its file name in the directory;
    2. else, or if that fails, ``<file name>.map`` in the directory;
    3. if the generated file has a ``//# debugId=`` and no map was found (or the one found
       carries another debug ID), the ``*.map`` file with that ``debugId``: the
       directory's maps are indexed by debug ID lazily, only when needed.

    Loaded maps are cached (one :class:`pysym.SourceMap` per file) until :meth:`close`.
    ``on_error(path, exc)`` is called once for a map that cannot be loaded (default:
    ignore); the frames that need it stay unmapped.
    """

    def __init__(self, directory: str, on_error: Optional[Callable[[str, Exception], None]] = None) -> None:
        self.directory = directory
        self.on_error = on_error
        self._by_name = {}  # type: Dict[str, Optional[ResolvedMap]]
        self._maps = {}  # type: Dict[str, Any]
        self._failed = set()  # type: Set[str]
        self._by_debug_id = None  # type: Optional[Dict[str, str]]

    # -- loading -----------------------------------------------------------------

    def _load_path(self, path: str) -> Any:
        from ._api import SourceMap
        from ._errors import PysymError

        key = os.path.realpath(path)
        if key in self._maps:
            return self._maps[key]
        if key in self._failed:
            return None
        try:
            sm = SourceMap.from_path(path)
        except (PysymError, OSError) as exc:
            self._failed.add(key)
            if self.on_error is not None:
                self.on_error(path, exc)
            return None
        self._maps[key] = sm
        return sm

    def _load_data_url(self, js_path: str, url: str) -> Any:
        from ._api import SourceMap
        from ._errors import PysymError
        from ._sourcemap_url import decode_data_url

        key = "data:" + os.path.realpath(js_path)
        if key in self._maps:
            return self._maps[key]
        try:
            sm = SourceMap.from_bytes(decode_data_url(url))
        except PysymError as exc:
            self._failed.add(key)
            if self.on_error is not None:
                self.on_error(js_path + " (inline source map)", exc)
            return None
        self._maps[key] = sm
        return sm

    def _inside(self, path: str) -> bool:
        root = os.path.realpath(self.directory)
        real = os.path.realpath(path)
        return real == root or real.startswith(root.rstrip(os.sep) + os.sep)

    def _file(self, name: str) -> Optional[str]:
        path = os.path.join(self.directory, name)
        return path if os.path.isfile(path) else None

    def _debug_id_index(self) -> Dict[str, str]:
        if self._by_debug_id is None:
            index = {}  # type: Dict[str, str]
            for root, dirs, files in os.walk(self.directory):
                dirs.sort()
                for fn in sorted(files):
                    if not fn.endswith(".map"):
                        continue
                    path = os.path.join(root, fn)
                    sm = self._load_path(path)
                    did = getattr(sm, "debug_id", None) if sm is not None else None
                    if did:
                        index.setdefault(str(did).lower(), path)
            self._by_debug_id = index
        return self._by_debug_id

    def _by_id(self, debug_id: str) -> Any:
        path = self._debug_id_index().get(debug_id.lower())
        return self._load_path(path) if path is not None else None

    def _resolve_name(self, name: str) -> Optional[ResolvedMap]:
        from ._sourcemap_url import find_links

        sm = None
        generated = None  # type: Optional[str]
        debug_id = None  # type: Optional[str]
        js_path = self._file(name)
        if js_path is not None and not name.endswith(".map"):
            try:
                with open(js_path, "rb") as f:
                    generated = f.read().decode("utf-8", errors="replace")
            except OSError as exc:
                if self.on_error is not None:
                    self.on_error(js_path, exc)
                generated = None
            url, debug_id = find_links(generated) if generated is not None else (None, None)
            if url:
                if url[:5].lower() == "data:":
                    sm = self._load_data_url(js_path, url)
                else:
                    parts = urlsplit(url)
                    if len(parts.scheme) > 1 or parts.netloc:
                        target = url_basename(url)
                        path = self._file(target) if target else None
                    else:
                        rel = unquote(parts.path)
                        path = os.path.join(os.path.dirname(js_path), rel) if rel else None
                        if path is not None and not (self._inside(path) and os.path.isfile(path)):
                            # only files in the directory given: the annotation is data
                            path = None
                    if path is not None:
                        sm = self._load_path(path)
        if sm is None:
            path = self._file(name + ".map")
            if path is not None:
                sm = self._load_path(path)
        if debug_id is not None:
            found_id = getattr(sm, "debug_id", None) if sm is not None else None
            if sm is None or (found_id and str(found_id).lower() != debug_id):
                other = self._by_id(debug_id)
                if other is not None:
                    sm = other
        if sm is None:
            return None
        return ResolvedMap(sm, generated)

    def __call__(self, url: str) -> Optional[ResolvedMap]:
        name = url_basename(url)
        if name is None:
            return None
        if name not in self._by_name:
            self._by_name[name] = self._resolve_name(name)
        return self._by_name[name]

    def close(self) -> None:
        for sm in self._maps.values():
            sm.close()
        self._maps.clear()
        self._by_name.clear()

    def __enter__(self) -> "MapDirectory":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
