"""JavaScript stack-trace parsing and symbolication logic.

The symbolication tests use a tiny in-test map: as a real :class:`pysym.SourceMap` when
the generated text is given (function names then come from the module's scopes), as a
:class:`pysym.SourceMapCache` built from that map and text (in memory and read by pages
from a file: the same golden output), and with a brute-force lookup where the tests count
the host's calls; tests/test_cli.py runs the bundled sample. tests/test_smcache_trace.py
compares every frame of map and cache on the real bundles.
"""

from __future__ import annotations

import bisect
import contextlib
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

import pytest
from strategies import vlq_encode

import pysym
from pysym._stacktrace import (
    Frame,
    ResolvedMap,
    parse_line,
    parse_stacktrace,
    symbolicate_frames,
    symbolicate_trace,
    url_basename,
)


def frame(line: str) -> Frame:
    f = parse_line(line)
    assert f is not None, line
    return f


# -- V8 --------------------------------------------------------------------------------

V8_CASES = [
    # (line, function, url, line, col, async, new)
    (
        "    at foo (https://example.com/static/app.min.js:1:234)",
        "foo",
        "https://example.com/static/app.min.js",
        1,
        234,
        False,
        False,
    ),
    ("    at https://example.com/a.js:10:2", None, "https://example.com/a.js", 10, 2, False, False),
    ("    at async run (file:///tmp/x/app.mjs:10:5)", "run", "file:///tmp/x/app.mjs", 10, 5, True, False),
    (
        "    at new Foo (http://localhost:8080/a.js?v=3&x=y:1:2)",
        "Foo",
        "http://localhost:8080/a.js?v=3&x=y",
        1,
        2,
        False,
        True,
    ),
    (
        "    at Object.<anonymous> (/home/u/app.js:5:9)",
        "Object.<anonymous>",
        "/home/u/app.js",
        5,
        9,
        False,
        False,
    ),
    (
        "    at Module._compile (node:internal/modules/cjs/loader:1364:14)",
        "Module._compile",
        "node:internal/modules/cjs/loader",
        1364,
        14,
        False,
        False,
    ),
    (
        "    at n.total (webpack:///./src/cart.js:17:23)",
        "n.total",
        "webpack:///./src/cart.js",
        17,
        23,
        False,
        False,
    ),
    (
        "    at HTMLButtonElement.<anonymous> (https://x.org/app.js#frag:3:4)",
        "HTMLButtonElement.<anonymous>",
        "https://x.org/app.js#frag",
        3,
        4,
        False,
        False,
    ),
    ("    at async Promise.all (index 0)", "Promise.all", "index 0", None, None, True, False),
    ("    at Array.map (<anonymous>)", "Array.map", "<anonymous>", None, None, False, False),
    ("    at new Promise (<anonymous>)", "Promise", "<anonymous>", None, None, False, True),
    ("    at JSON.parse (native)", "JSON.parse", "native", None, None, False, False),
    ("    at <anonymous>", None, "<anonymous>", None, None, False, False),
    ("    at C:\\app\\dist\\main.js:3:4", None, "C:\\app\\dist\\main.js", 3, 4, False, False),
    (
        "    at fn (C:\\Program Files\\app\\main.js:3:4)",
        "fn",
        "C:\\Program Files\\app\\main.js",
        3,
        4,
        False,
        False,
    ),
    ("at foo (https://a.b/c.js:1:2)", "foo", "https://a.b/c.js", 1, 2, False, False),
    ("\tat foo (https://a.b/c.js:1:2)", "foo", "https://a.b/c.js", 1, 2, False, False),
    ("    at foo (https://a.b/c(1).js:1:2)", "foo", "https://a.b/c(1).js", 1, 2, False, False),
    (
        "    at Foo.[Symbol.iterator] (https://a.b/c.js:1:2)",
        "Foo.[Symbol.iterator]",
        "https://a.b/c.js",
        1,
        2,
        False,
        False,
    ),
    ("    at https://a.b/c.js:7", None, "https://a.b/c.js", 7, None, False, False),
    # Hermes (React Native): the bundle's position after "address at"
    ("    at foo (address at index.android.bundle:1:9876)", "foo", "index.android.bundle", 1, 9876, False, False),
]


@pytest.mark.parametrize("line,fn,url,ln,col,is_async,is_new", V8_CASES)
def test_v8_lines(
    line: str,
    fn: Optional[str],
    url: str,
    ln: Optional[int],
    col: Optional[int],
    is_async: bool,
    is_new: bool,
) -> None:
    f = frame(line)
    assert (f.style, f.function, f.url, f.line, f.col, f.is_async, f.is_constructor) == (
        "v8",
        fn,
        url,
        ln,
        col,
        is_async,
        is_new,
    )
    assert f.raw == line


def test_v8_alias_and_prefix() -> None:
    f = frame("      at Foo.bar [as baz] (https://a.b/c.js:1:2)")
    assert (f.function, f.alias, f.prefix) == ("Foo.bar", "baz", "      ")


def test_v8_eval_frames() -> None:
    f = frame("    at eval (eval at <anonymous> (https://x.com/a.js:1:2), <anonymous>:1:3)")
    assert (f.function, f.url, f.line, f.col) == ("eval", "<anonymous>", 1, 3)
    assert f.eval_origin is not None
    assert (f.eval_origin.function, f.eval_origin.url, f.eval_origin.line, f.eval_origin.col) == (
        "<anonymous>",
        "https://x.com/a.js",
        1,
        2,
    )
    nested = frame(
        "    at eval (eval at foo (eval at bar (https://x.com/a.js:5:6), <anonymous>:2:3), <anonymous>:1:1)"
    )
    assert nested.eval_origin is not None and nested.eval_origin.eval_origin is not None
    inner = nested.eval_origin.eval_origin
    assert (inner.function, inner.url, inner.line, inner.col) == ("bar", "https://x.com/a.js", 5, 6)


# -- SpiderMonkey / JavaScriptCore ------------------------------------------------------

GECKO_CASES = [
    ("foo@https://x.com/a.js:1:2", "foo", "https://x.com/a.js", 1, 2, False),
    ("@https://x.com/a.js:1:2", None, "https://x.com/a.js", 1, 2, False),
    ("async*bar@https://x.com/a.js:3:4", "bar", "https://x.com/a.js", 3, 4, True),
    ("total/<@https://x.com/a.js:3:4", "total/<", "https://x.com/a.js", 3, 4, False),
    (
        "Foo</Foo.prototype.bar@https://x.com/a.js?v=1:3:4",
        "Foo</Foo.prototype.bar",
        "https://x.com/a.js?v=1",
        3,
        4,
        False,
    ),
    ("forEach@[native code]", "forEach", "[native code]", None, None, False),
    ("global code@https://x.com/a.js:5:6", "global code", "https://x.com/a.js", 5, 6, False),
    (
        "module code@http://localhost:3000/main.js:5:6",
        "module code",
        "http://localhost:3000/main.js",
        5,
        6,
        False,
    ),
    ("fn@https://x.com/a.js", "fn", "https://x.com/a.js", None, None, False),
    ("handler@webpack:///src/a.js:1:1", "handler", "webpack:///src/a.js", 1, 1, False),
    ("f@file:///home/u/a.js:10:11", "f", "file:///home/u/a.js", 10, 11, False),
    ("  f@https://x.com/a.js:1:2", "f", "https://x.com/a.js", 1, 2, False),
]


@pytest.mark.parametrize("line,fn,url,ln,col,is_async", GECKO_CASES)
def test_gecko_lines(
    line: str, fn: Optional[str], url: str, ln: Optional[int], col: Optional[int], is_async: bool
) -> None:
    f = frame(line)
    assert (f.style, f.function, f.url, f.line, f.col, f.is_async) == ("gecko", fn, url, ln, col, is_async)


# -- lines that are not frames ------------------------------------------------------------

NOT_FRAMES = [
    "TypeError: Cannot read properties of undefined (reading 'price')",
    "Error: boom",
    "",
    "    ",
    "Caused by: Error: inner",
    "    at the moment (not sure)",
    "    at",
    "mail me@example",
    "user@host said: hello there",
    "    ... 3 more",
    "Node.js v20.20.2",
    "    at foo bar baz",
]


@pytest.mark.parametrize("line", NOT_FRAMES)
def test_not_frames(line: str) -> None:
    assert parse_line(line) is None


def test_parse_stacktrace_keeps_every_line() -> None:
    text = "Error: x\n    at f (https://a.b/c.js:1:2)\nnot a frame\n@https://a.b/c.js:3:4\n"
    items = parse_stacktrace(text)
    assert [type(i).__name__ for i in items] == ["str", "Frame", "str", "Frame"]
    assert "\n".join(i if isinstance(i, str) else i.raw for i in items) + "\n" == text


@pytest.mark.parametrize(
    "url,name",
    [
        ("https://example.com/static/app.min.js?v=3#x", "app.min.js"),
        ("file:///home/u/dist/main.js", "main.js"),
        ("webpack:///./src/a.js", "a.js"),
        ("/abs/path/b.js", "b.js"),
        ("C:\\app\\dist\\c.js", "c.js"),
        ("https://example.com/static/my%20app.js", "my app.js"),
        ("https://example.com/", None),
        ("relative.js?x=1", "relative.js"),
    ],
)
def test_url_basename(url: str, name: Optional[str]) -> None:
    assert url_basename(url) == name


# -- symbolication with a tiny in-test map ------------------------------------------------


class Tok(NamedTuple):
    dst_line: int
    dst_col: int
    src: Optional[str]
    src_line: Optional[int]
    src_col: Optional[int]
    name: Optional[str]


class TinyMap:
    """A map given as its tokens; lookup = greatest lower bound on the same line."""

    def __init__(self, tokens: List[Tok], contents: Dict[str, str]) -> None:
        self.tokens = sorted(tokens, key=lambda t: (t.dst_line, t.dst_col))
        self.contents = contents
        self.calls: List[Tuple[int, int]] = []

    def lookup(self, line: int, col: int) -> Optional[Tok]:
        self.calls.append((line, col))
        same = [t for t in self.tokens if t.dst_line == line]
        i = bisect.bisect_right([t.dst_col for t in same], col) - 1
        return same[i] if i >= 0 and same[i].src is not None else None

    def source_content(self, source: str) -> Optional[str]:
        return self.contents.get(source)

    def source_context(self, source: str, line: int, context: int = 5):  # type: ignore[no-untyped-def]
        text = self.contents.get(source)
        if text is None:
            return None
        lines = text.split("\n")
        return lines[max(0, line - context) : line], lines[line], lines[line + 1 : line + 1 + context]


def real(tm: TinyMap) -> pysym.SourceMap:
    """The same tokens as a real source map."""
    return pysym.SourceMap.from_bytes(real_bytes(tm))


def real_bytes(tm: TinyMap) -> bytes:
    """The JSON of :func:`real`'s map."""
    sources = sorted({t.src for t in tm.tokens if t.src is not None} | set(tm.contents))
    names = sorted({t.name for t in tm.tokens if t.name is not None})
    lines: List[List[str]] = []
    prev = [0, 0, 0, 0]  # source, source line, source column, name
    for t in tm.tokens:
        while len(lines) <= t.dst_line:
            lines.append([])
        col0 = int(lines[-1][-1].split(":")[0]) if lines[-1] else 0
        seg = [t.dst_col - col0]
        if t.src is not None:
            assert t.src_line is not None and t.src_col is not None
            now = [sources.index(t.src), t.src_line, t.src_col]
            seg += [now[0] - prev[0], now[1] - prev[1], now[2] - prev[2]]
            prev[:3] = now
            if t.name is not None:
                seg.append(names.index(t.name) - prev[3])
                prev[3] = names.index(t.name)
        lines[-1].append("%d:%s" % (t.dst_col, "".join(vlq_encode(v) for v in seg)))
    mappings = ";".join(",".join(x.split(":")[1] for x in segs) for segs in lines)
    doc = {"version": 3, "sources": sources, "names": names, "mappings": mappings,
           "sourcesContent": [tm.contents.get(src) for src in sources]}
    return json.dumps(doc).encode()


#: How a golden trace test opens its map: the SourceMap given the generated text, or a
#: SourceMapCache built from both (its bytes, or a file read by pages).
FORMS = ["map", "cache", "paged"]


@contextlib.contextmanager
def opened(tm: TinyMap, gen: str, form: str, tmp_path: Path) -> Iterator[Any]:
    """What a resolver returns for ``tm``'s file in ``form``: the frames must not differ."""
    if form == "map":
        with real(tm) as sm:
            yield ResolvedMap(sm, gen)
        return
    cache = pysym.SourceMapCache.from_sourcemap(real_bytes(tm), gen, sources_content=True)
    if form == "paged":
        cache.write(tmp_path / "tiny.smcache")
        cache.close()
        cache = pysym.SourceMapCache.from_path(tmp_path / "tiny.smcache")
    with cache:
        # the generated text is ignored: the cache holds the scopes it was built with
        yield ResolvedMap(cache, gen)


# generated:  function a(b){return b.x.y}function c(){return a(null)}c();
GEN = "function a(b){return b.x.y}function c(){return a(null)}c();"
SRC = "function getY(obj) {\n  return obj.x.y;\n}\nfunction main() {\n  return getY(null);\n}\nmain();"


def test_tiny_map_offsets() -> None:
    assert (GEN.index("a("), GEN.index("b.x"), GEN.index("c("), GEN.index("a(null"), GEN.rindex("c(")) == (
        9,
        21,
        36,
        47,
        55,
    )


def tiny() -> TinyMap:
    return TinyMap(
        [
            Tok(0, 0, "src/y.js", 0, 0, None),
            Tok(0, 9, "src/y.js", 0, 9, "getY"),  # a  (definition)
            Tok(0, 11, "src/y.js", 0, 14, "obj"),
            Tok(0, 14, "src/y.js", 1, 2, None),
            Tok(0, 21, "src/y.js", 1, 9, "obj"),  # b.x.y
            Tok(0, 23, "src/y.js", 1, 13, None),  # .x
            Tok(0, 27, "src/y.js", 3, 0, None),
            Tok(0, 36, "src/y.js", 3, 9, "main"),  # c  (definition)
            Tok(0, 40, "src/y.js", 4, 2, None),
            Tok(0, 47, "src/y.js", 4, 9, "getY"),  # a(null)  (call site)
            Tok(0, 55, "src/y.js", 6, 0, "main"),  # c()
        ],
        {"src/y.js": SRC},
    )


TRACE = (
    "TypeError: Cannot read properties of null (reading 'x')\r\n"
    "    at a (https://cdn.example.com/js/y.min.js:1:24)\r\n"
    "    at c (https://cdn.example.com/js/y.min.js:1:49)\r\n"
    "    at https://cdn.example.com/js/y.min.js:1:57\r\n"
    "    at vendor (https://other.example.com/vendor.js:1:100)\r\n"
    "    at Array.forEach (<anonymous>)\r\n"
)


@pytest.mark.parametrize("form", FORMS)
def test_symbolicate_v8_trace_with_generated_text(engine: str, form: str, tmp_path: Path) -> None:
    with opened(tiny(), GEN, form, tmp_path) as rm:
        resolver = lambda url: rm if url.endswith("/y.min.js") else None  # noqa: E731
        out = symbolicate_trace(TRACE, resolver, context=None)
        items = symbolicate_frames(parse_stacktrace(TRACE), resolver)
    assert out.split("\r\n") == [
        "TypeError: Cannot read properties of null (reading 'x')",
        "    at getY (src/y.js:2:14)",
        "    at main (src/y.js:5:10)",
        "    at src/y.js:7:1",
        "    at vendor (https://other.example.com/vendor.js:1:100)",  # unmappable: unchanged
        "    at Array.forEach (<anonymous>)",
        "",
    ]
    # the names come from the functions around the (1-based) positions: `a` and `c`,
    # named by the mappings at their definitions; the last one is top-level code
    frames = [i for i in items if not isinstance(i, str)]
    assert [(f.function, f.function_from) for f in frames[:3]] == [("getY", "scope"), ("main", "scope"), (None, None)]


def test_function_names_without_generated_text_use_the_caller_site() -> None:
    sm = tiny()
    items = symbolicate_frames(parse_stacktrace(TRACE), lambda url: sm if "y.min" in url else None)
    frames = [i for i in items if not isinstance(i, str)]
    # a: the caller (c, same file) calls `getY` at its position; c: its caller is the
    # anonymous top-level frame whose call site names `main`.
    assert [(f.function, f.function_from) for f in frames[:3]] == [
        ("getY", "caller"),
        ("main", "caller"),
        (None, None),
    ]
    # the name at a frame's own position is the called identifier, not the function
    assert frames[1].name_at_position == "getY"
    assert not frames[3].mapped and not frames[4].mapped


@pytest.mark.parametrize("form", ["tiny"] + FORMS)
def test_context_lines(form: str, tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        rm = ResolvedMap(tiny(), GEN) if form == "tiny" else stack.enter_context(opened(tiny(), GEN, form, tmp_path))
        _context_lines(rm)


def _context_lines(rm: ResolvedMap) -> None:
    out = symbolicate_trace(TRACE, lambda url: rm if "y.min" in url else None, context=0)
    lines = out.split("\r\n")
    assert lines[1:4] == [
        "    at getY (src/y.js:2:14)",
        "        return obj.x.y;",
        "    at main (src/y.js:5:10)",
    ]
    out = symbolicate_trace(TRACE, lambda url: rm if "y.min" in url else None, context=1)
    lines = out.split("\r\n")
    assert lines[1:5] == [
        "    at getY (src/y.js:2:14)",
        "          1 | function getY(obj) {",
        "        > 2 |   return obj.x.y;",
        "          3 | }",
    ]


@pytest.mark.parametrize("form", FORMS)
def test_gecko_trace_keeps_style(engine: str, form: str, tmp_path: Path) -> None:
    text = (
        "a@https://cdn.example.com/js/y.min.js:1:24\nasync*c@https://cdn.example.com/js/y.min.js:1:49\n"
        "@https://cdn.example.com/js/y.min.js:1:57\nx@https://elsewhere/z.js:1:1"
    )
    with opened(tiny(), GEN, form, tmp_path) as rm:
        out = symbolicate_trace(text, lambda url: rm if "y.min" in url else None, context=None)
    assert out == "getY@src/y.js:2:14\nasync*main@src/y.js:5:10\n@src/y.js:7:1\nx@https://elsewhere/z.js:1:1"


def test_unmappable_positions_are_left_alone() -> None:
    sm = tiny()
    text = "    at a (https://cdn.example.com/js/y.min.js:9:1)\n    at a (https://cdn.example.com/js/y.min.js:1:0)\n"
    out = symbolicate_trace(text, lambda url: ResolvedMap(sm, GEN), context=0)
    assert out == text  # line 9 has no mappings; column 0 is not a 1-based column


@pytest.mark.parametrize("form", ["tiny"] + FORMS)
def test_eval_frame_maps_its_origin(form: str, tmp_path: Path) -> None:
    line = "    at eval (eval at c (https://cdn.example.com/js/y.min.js:1:49), <anonymous>:1:3)"
    with contextlib.ExitStack() as stack:
        rm = ResolvedMap(tiny(), GEN) if form == "tiny" else stack.enter_context(opened(tiny(), GEN, form, tmp_path))
        out = symbolicate_trace(line, lambda url: rm if "y.min" in url else None, context=None)
    assert out == "    at eval (eval at c (src/y.js:5:10), <anonymous>:1:3)"


def test_resolver_called_with_frame_urls_and_batches_per_map() -> None:
    seen: List[str] = []

    class Batching(TinyMap):
        batches: List[int] = []

        def lookup_many(self, lines: List[int], cols: List[int]) -> List[Optional[Tok]]:
            self.batches.append(len(lines))
            return [TinyMap.lookup(self, a, b) for a, b in zip(lines, cols)]

    sm = Batching(tiny().tokens, {})

    def resolver(url: str) -> Optional[ResolvedMap]:
        seen.append(url)
        return ResolvedMap(sm, GEN) if "y.min" in url else None

    symbolicate_trace(TRACE, resolver, context=None)
    assert seen == ["https://cdn.example.com/js/y.min.js"] * 3 + ["https://other.example.com/vendor.js"]
    assert sm.batches == [3]


def test_round_trip_of_unparseable_text() -> None:
    text = "garbage\n\n\x00\x01 odd bytes \ufffd\n   at\nat (\n@\n@@@\n  at foo (\nlast line, no newline"
    assert symbolicate_trace(text, lambda url: None) == text
    assert symbolicate_trace(text + "\n", lambda url: None, context=3) == text + "\n"


@pytest.mark.parametrize("form", FORMS)
def test_utf16_columns_with_characters_outside_the_bmp(engine: str, form: str, tmp_path: Path) -> None:
    # The emoji is one Python character but two UTF-16 units: every later column in the
    # map (and in the trace) is one more than the Python index.
    gen = 'var s="\U0001f600";function a(b){return b.x}'
    assert gen.index("a(") == 19 and gen.index("x}") == 33
    tm = TinyMap(
        [
            Tok(0, 0, "s.js", 0, 0, None),
            Tok(0, 20, "s.js", 1, 9, "getX"),  # `a`, at UTF-16 column 20
            Tok(0, 32, "s.js", 2, 9, "obj"),
            Tok(0, 34, "s.js", 2, 13, None),  # `x`, at UTF-16 column 34
        ],
        {},
    )
    with opened(tm, gen, form, tmp_path) as rm:
        trace = "    at a (https://x.org/s.min.js:1:35)"
        out = symbolicate_trace(trace, lambda url: rm, context=None)
    assert out == "    at getX (s.js:3:14)"


@pytest.mark.parametrize("form", FORMS)
def test_scope_names_of_anonymous_functions_and_constructors(engine: str, form: str, tmp_path: Path) -> None:
    # generated: class a{constructor(){b(()=>c.d)}}  (original: class Cart, arrow inside)
    gen = "class a{constructor(){b(()=>c.d)}}"
    src = "class Cart {\n  constructor() {\n    each(() => x.y);\n  }\n}\n"
    tm = TinyMap(
        [
            Tok(0, 0, "c.js", 0, 0, None),
            Tok(0, 6, "c.js", 0, 6, "Cart"),
            Tok(0, 22, "c.js", 2, 4, "each"),
            Tok(0, 28, "c.js", 2, 15, "x"),
            Tok(0, 30, "c.js", 2, 17, "y"),
        ],
        {"c.js": src},
    )
    trace = (
        "    at https://x.org/c.min.js:1:31\n"  # in the arrow, V8 prints no name
        "    at e (https://x.org/c.min.js:1:31)\n"  # a printed name for it
        "    at new a (https://x.org/c.min.js:1:23)\n"
        "@https://x.org/c.min.js:1:31\n"
        "a@https://x.org/c.min.js:1:23"
    )
    with opened(tm, gen, form, tmp_path) as rm:
        out = symbolicate_trace(trace, lambda url: rm, context=None)
    # symbolic's names: "<anonymous>" for the arrow, "new Cart" for the constructor
    assert out.split("\n") == [
        "    at c.js:3:18",
        "    at <anonymous> (c.js:3:18)",
        "    at new Cart (c.js:3:5)",
        "@c.js:3:18",
        "new Cart@c.js:3:5",
    ]
