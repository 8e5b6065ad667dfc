"""The ``pysym`` command line (``python -m pysym``).

Exit status: 0 on success, 1 with a one-line ``pysym: error: ...`` message when the input
is bad (a :class:`pysym.PysymError`, an unreadable file), 2 on a usage error.  Bad input
never produces a Python traceback.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import time
from typing import IO, Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from ._cli_stores import add_store_arguments, stores_of
from ._errors import InvalidInputError, PysymError
from ._version import __version__

__all__ = ["main"]

PROG = "pysym"

_POSITION = re.compile(r"\A(\d+):(\d+)\Z")

_LOOKUP_HELP = """\
Look up generated positions in a source map.

POSITIONS are LINE:COL pairs as browsers and Node print them in stack traces: the line
and the column are both 1-based (the first character of a file is 1:1) and columns count
UTF-16 code units.  pysym converts them to the 0-based positions of the source map
format before the lookup.

Output: one JSON object per position, in order (JSON lines):
  {"generated": {"line": L, "column": C},
   "original": {"source": S, "line": L, "column": C, "name": N} or null}
where the original line and column are 1-based too, as a browser shows them, and name is
the "names" entry of the mapping (null when it has none).  A position that is not mapped
gives "original": null.
"""

_SYMBOLICATE_HELP = """\
Symbolicate a JavaScript stack trace with the source maps in a directory.

Reads a trace (V8/Node "    at fn (url:line:col)" lines, or SpiderMonkey/JavaScriptCore
"fn@url:line:col" lines) from FILE or standard input and prints it with original source
files, positions (1-based, as in the input) and function names, in the style of the
input.  Every other line, and every frame that cannot be mapped, is printed unchanged.

Finding the map of a frame: take the file name of the frame URL's path (app.min.js);
if DIR has that file, follow its //# sourceMappingURL= comment (a file relative to it,
or an inline data: URL); else use DIR/app.min.js.map; if the file carries a
//# debugId= and no map was found that way, use the *.map in DIR with that debugId.

Function names: the mapping at a frame's position usually names the identifier being
called there, i.e. the function of the frame above, not the frame's own function.  So,
like Sentry, pysym reads the function scopes of the generated file (DIR must hold the .js
file) and names a frame after the innermost function around its position, translated
through the map as symbolic's SourceMapCache does (`Cart.total`, `new Invoice`,
`<anonymous>`; top-level code keeps the printed name).  Without the generated file, the
name of the call site in the caller frame (the next frame, same file) is used, as Node's
--enable-source-maps does; failing that, the printed name is kept.  --json tells which
rule named each frame ("function_from": scope, caller or unchanged) and gives the
mapping's name at the frame position ("name_at_position").

By default the original source line is printed under each mapped frame when the map
has "sourcesContent".
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not an integer: %r" % text) from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative: %r" % text)
    return value


def _position(text: str) -> Tuple[int, int]:
    m = _POSITION.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError("expected LINE:COL (1-based, as in a stack trace), got %r" % text)
    line, col = int(m.group(1)), int(m.group(2))
    if line < 1 or col < 1:
        raise argparse.ArgumentTypeError("LINE:COL is 1-based (as browsers print it): %r has a 0" % text)
    return line, col


def _directory(text: str) -> str:
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError("not a directory: %r" % text)
    return text


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Symbolication in a WebAssembly sandbox: source maps and JavaScript stack traces.",
    )
    parser.add_argument(
        "--version",
        action="store_true",
        help="print the versions of pysym, the wasm engine and the host ABI, and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sm = sub.add_parser("sourcemap", help="work with one source map", description="Work with one source map.")
    sm.set_defaults(usage_parser=sm)
    sm_sub = sm.add_subparsers(dest="sourcemap_command", metavar="SUBCOMMAND")
    lookup = sm_sub.add_parser(
        "lookup",
        help="look up 1-based LINE:COL positions (as in stack traces)",
        description=_LOOKUP_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lookup.add_argument("map", metavar="MAP", help="source map file (.map / .json)")
    lookup.add_argument(
        "positions",
        metavar="LINE:COL",
        nargs="+",
        type=_position,
        help="generated position, 1-based line and 1-based column as in stack traces",
    )
    lookup.add_argument(
        "--bias",
        choices=("glb", "lub"),
        default="glb",
        help="on a column between mappings: the mapping before it (glb, default, what "
        "browsers do) or after it (lub)",
    )
    lookup.set_defaults(func=_cmd_lookup)

    sym = sub.add_parser(
        "symbolicate-js",
        help="symbolicate a JavaScript stack trace",
        description=_SYMBOLICATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sym.add_argument(
        "file", metavar="FILE", nargs="?", default="-", help="the stack trace (default: standard input)"
    )
    sym.add_argument(
        "--maps",
        metavar="DIR",
        required=True,
        type=_directory,
        help="directory with the generated .js files and/or their .map files",
    )
    ctx = sym.add_mutually_exclusive_group()
    ctx.add_argument(
        "--no-context", action="store_true", help="do not print original source lines under the frames"
    )
    ctx.add_argument(
        "--context",
        metavar="N",
        type=_positive_int,
        default=0,
        help="print N original source lines either side of the frame's "
        "line, numbered (default 0: the frame's line alone)",
    )
    sym.add_argument(
        "--json", action="store_true", help="print one JSON object per input line instead of the trace"
    )
    sym.set_defaults(func=_cmd_symbolicate)
    _add_native_parsers(sub)
    _add_serve_parser(sub)
    return parser


def _address(text: str) -> int:
    """A native address: hex with or without 0x (as addr2line takes them)."""
    try:
        value = int(text[2:] if text.lower().startswith("0x") else text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError("not a hexadecimal address: %r" % text) from None
    if value < 0 or value >= 1 << 64:
        raise argparse.ArgumentTypeError("address out of range: %r" % text)
    return value


_NATIVE_HELP = """\
Symbolicate a native crash: REQUEST.json holds the loaded modules (type, debug_id,
code_id, debug_file, code_file, image_addr, image_size) and the stack traces
(frames of instruction_addr), as Symbolicator's /symbolicate takes them.  Debug files
are found by id in the --store directories, then in the system's conventions.

Output: per stack trace, one line per frame, 'module!function [file : line]', the
frames of inlined calls indented under the index of their address; unresolved frames
show their status (missing: no debug file; missing_symbol: the file does not cover
the address; unknown_image: no module holds it).  --json prints the response.
"""


def _build_id(text: str) -> str:
    t = text.strip().lower()
    if not t or len(t) % 2 or any(c not in "0123456789abcdef" for c in t):
        raise argparse.ArgumentTypeError("not a hexadecimal build id: %r" % text)
    return t


def _a2l_item(text: str) -> Any:
    if text[:8].upper() == "BUILDID:":
        return ("buildid", _build_id(text[8:]))
    return _address(text)


def _add_native_parsers(sub: Any) -> None:
    obj = sub.add_parser("object", help="work with a native debug file", description="Work with a native debug file.")
    obj.set_defaults(usage_parser=obj)
    obj_sub = obj.add_subparsers(dest="object_command", metavar="SUBCOMMAND")
    info = obj_sub.add_parser("info", help="print the identity of a debug file (ELF, Mach-O)")
    info.add_argument("file", metavar="FILE")
    info.add_argument("--arch", help="slice of a universal Mach-O (default x86_64, else the first)")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=_cmd_object_info)

    sc = sub.add_parser("symcache", help="build and query symcaches", description="Build and query symcaches.")
    sc.set_defaults(usage_parser=sc)
    sc_sub = sc.add_subparsers(dest="symcache_command", metavar="SUBCOMMAND")
    build = sc_sub.add_parser("build", help="build a symcache from a debug file")
    build.add_argument("file", metavar="FILE")
    build.add_argument("-o", "--output", metavar="OUT", required=True, help="symcache file to write")
    build.add_argument("--arch", help="slice of a universal Mach-O")
    bar = build.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="show a progress bar on standard error (default: when it is a terminal)")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    build.set_defaults(func=_cmd_symcache_build)
    lk = sc_sub.add_parser(
        "lookup",
        help="look up addresses (hex, relative to the image base)",
        description="Look up addresses relative to the image base. Prints, per address, "
        "one 'function' and one 'file:line:column' line per frame, innermost first "
        "(llvm-symbolizer --inlining style), then an empty line.",
    )
    lk.add_argument("cache", metavar="CACHE")
    lk.add_argument("addrs", metavar="ADDR", nargs="+", type=_address)
    lk.set_defaults(func=_cmd_symcache_lookup)

    a2l = sub.add_parser(
        "addr2line",
        help="addr2line-compatible lookups in a debug file",
        description="Translate addresses (hex, as the file's virtual addresses, like binutils "
        "addr2line) into file names and line numbers.",
    )
    a2l.add_argument("-e", "--exe", metavar="FILE", help="the executable or debug file")
    a2l.add_argument("-f", "--functions", action="store_true", help="print function names too")
    a2l.add_argument("-i", "--inlines", action="store_true", help="print the frames of inlined functions too")
    a2l.add_argument("-C", "--demangle", action="store_true", help="demangle function names")
    a2l.add_argument("--build-id", metavar="HEX", type=_build_id,
                     help="find the debug file by this GNU build id in the --store directories (and "
                     "/usr/lib/debug/.build-id) instead of -e")
    a2l.add_argument("--store", metavar="DIR[:LAYOUT]", action="append", default=[],
                     help="a symbol store for --build-id and BUILDID: inputs (layout: native (default), "
                     "symstore, symstore_index2, ssqp, unified, debuginfod); repeatable")
    a2l.add_argument("addrs", metavar="ADDR", nargs="*", type=_a2l_item,
                     help="addresses (hex); 'BUILDID:HEX' selects the file of the addresses after it, "
                     "as llvm-symbolizer's input lines do; none: read lines from standard input")
    a2l.set_defaults(func=_cmd_addr2line)

    symn = sub.add_parser(
        "symbolicate",
        help="symbolicate a native crash (Symbolicator request JSON)",
        description="Symbolicate whole crashes.",
    )
    symn.set_defaults(usage_parser=symn)
    symn_sub = symn.add_subparsers(dest="symbolicate_command", metavar="SUBCOMMAND")
    nat = symn_sub.add_parser(
        "native",
        help="symbolicate a native crash request",
        description=_NATIVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    nat.add_argument("request", metavar="REQUEST.json",
                     help="the request (Symbolicator's /symbolicate JSON); - for stdin")
    add_store_arguments(nat)
    nat.add_argument("--cache", metavar="DIR", help="keep built symcaches in DIR (shared by processes)")
    nat.add_argument("--json", action="store_true", help="print the response JSON")
    nat.set_defaults(func=_cmd_symbolicate_native)

    from ._cli_minidump import add_parser as _add_minidump

    _add_minidump(sub)


def _add_serve_parser(sub: Any) -> None:
    srv = sub.add_parser(
        "serve", help="run the symbolication service (pip install pysym[server])",
        description="Run the symbolication service: HTTP API over a pool of sandboxed workers. "
        "With no --config, serve the --store directories on 127.0.0.1.")
    srv.add_argument("--config", metavar="FILE", help="the configuration (TOML, or JSON if FILE ends in .json)")
    srv.add_argument("--store", metavar="DIR[:LAYOUT]", action="append", default=[],
                     help="a local symbol directory to serve (repeatable; added after the configured sources)")
    srv.add_argument("--host", help="listen address (default 127.0.0.1)")
    srv.add_argument("--port", type=int, help="listen port (default 3021; 0: any free port)")
    srv.add_argument("--workers", type=_positive_int, help="worker processes (default 2)")
    srv.set_defaults(func=_cmd_serve)


def _cmd_serve(args: argparse.Namespace, out: IO[str]) -> int:
    if sys.version_info < (3, 9):
        raise InvalidInputError("pysym serve needs Python 3.9 or later")
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401

        from . import _server
    except ImportError as e:
        raise InvalidInputError("pysym serve needs the server extra: pip install 'pysym[server]' (%s)" % e) from None
    from ._symbolicate._stores import LAYOUTS

    config = _server.load_config(args.config)
    for i, text in enumerate(args.store):
        head, sep, tail = text.rpartition(":")
        path, layout = (head, tail) if sep and tail in LAYOUTS else (text, "native")
        config["sources"].append({"id": "store%d" % i if len(args.store) > 1 else "local", "type": "filesystem",
                                  "path": os.path.abspath(path), "layout": layout})
    for key in ("host", "port", "workers"):
        if getattr(args, key) is not None:
            config["server"][key] = getattr(args, key)
    try:
        _server.serve(_server.merge_config(config), announce=out)
    except KeyboardInterrupt:
        pass
    return 0


# -- --version -------------------------------------------------------------------------


def _version_text() -> str:
    from . import _abi

    lines = ["pysym %s" % __version__]
    try:
        from ._host import get_runtime

        engine = get_runtime().engine
        lines.append("engine: %s %s" % (engine.name, engine.version))
    except Exception as exc:  # noqa: BLE001 - report, do not crash, on a broken install
        lines.append("engine: unavailable (%s)" % _one_line(exc))
    lines.append("abi: %s" % _abi.ABI_VERSION)
    return "\n".join(lines)


# -- sourcemap lookup ------------------------------------------------------------------


def _cmd_lookup(args: argparse.Namespace, out: IO[str]) -> int:
    from ._api import GREATEST_LOWER_BOUND, LEAST_UPPER_BOUND, SourceMap

    bias = GREATEST_LOWER_BOUND if args.bias == "glb" else LEAST_UPPER_BOUND
    positions = args.positions  # type: List[Tuple[int, int]]
    with SourceMap.from_path(args.map) as sm:
        # 1-based stack-trace positions -> the API's 0-based ones.
        tokens = sm.lookup_many([p[0] - 1 for p in positions], [p[1] - 1 for p in positions], bias)
    for (line, col), tok in zip(positions, tokens):
        original = None  # type: Optional[Dict[str, Any]]
        if tok is not None and tok.src is not None and tok.src_line is not None and tok.src_col is not None:
            original = {
                "source": tok.src,
                "line": tok.src_line + 1,
                "column": tok.src_col + 1,
                "name": tok.name,
            }
        out.write(
            json.dumps({"generated": {"line": line, "column": col}, "original": original}, ensure_ascii=False)
            + "\n"
        )
    return 0


# -- symbolicate-js --------------------------------------------------------------------


def _input_blocks(path: str, size: int = 1 << 20) -> Iterator[str]:
    """The input decoded block by block (invalid UTF-8 replaced), never all at once."""
    f = sys.stdin.buffer if path == "-" else open(path, "rb")
    try:
        text = io.TextIOWrapper(f, encoding="utf-8", errors="replace", newline="")
        while True:
            block = text.read(size)
            if not block:
                return
            yield block
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def _frame_json(item: Any) -> Dict[str, Any]:
    f = item.frame
    frame = {
        "style": f.style,
        "function": f.function,
        "url": f.url,
        "line": f.line,
        "column": f.col,
        "async": f.is_async,
        "constructor": f.is_constructor,
    }  # type: Dict[str, Any]
    if f.eval_origin is not None:
        o = f.eval_origin
        frame["eval_origin"] = {"function": o.function, "url": o.url, "line": o.line, "column": o.col}
    original = None  # type: Optional[Dict[str, Any]]
    if item.mapped:
        original = {
            "source": item.source,
            "line": item.line,
            "column": item.col,
            "function": item.function,
            "function_from": item.function_from,
            "name_at_position": item.name_at_position,
        }
        if item.context is not None:
            pre, line, post = item.context
            original["context"] = {"pre": list(pre), "line": line, "post": list(post)}
    return {"raw": f.raw, "frame": frame, "original": original}


def _cmd_symbolicate(args: argparse.Namespace, out: IO[str]) -> int:
    from ._stacktrace import (
        MapDirectory,
        split_lines_stream,
        symbolicate_stream,
        symbolicate_trace_stream,
    )

    # Streamed: memory follows the maps and the current chunk of lines, not the trace.
    lines = split_lines_stream(_input_blocks(args.file))
    context = None if args.no_context else args.context  # type: Optional[int]
    warned = set()  # type: Set[str]

    def on_error(path: str, exc: Exception) -> None:
        if path not in warned:
            warned.add(path)
            sys.stderr.write("%s: warning: cannot use %s: %s\n" % (PROG, path, _one_line(exc)))

    with MapDirectory(args.maps, on_error=on_error) as resolver:
        if not args.json:
            for piece in symbolicate_trace_stream(lines, resolver, context):
                out.write(piece)
            return 0
        for _, _, item in symbolicate_stream(lines, resolver, context):
            if isinstance(item, str):
                obj = {"raw": item, "frame": None, "original": None}  # type: Dict[str, Any]
            else:
                obj = _frame_json(item)
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return 0


# -- native: object info, symcache build/lookup, addr2line -----------------------------


def _cmd_object_info(args: argparse.Namespace, out: IO[str]) -> int:
    from ._native import Object

    o = Object.from_path(args.file, arch=args.arch)
    fields = [
        ("kind", o.kind),
        ("arch", o.arch),
        ("debug_id", o.debug_id),
        ("code_id", o.code_id),
        ("image_base", "0x%x" % o.image_base),
        ("has_debug_info", o.has_debug_info),
        ("has_symbols", o.has_symbols),
    ]
    if o.debug_file is not None:
        fields.append(("debug_file", o.debug_file))
    if o.code_offset is not None:
        fields.append(("code_offset", "0x%x" % o.code_offset))
    _warn_skipped(args.file, o.warnings)
    if args.json:
        out.write(json.dumps(dict(fields)) + "\n")
    else:
        for k, v in fields:
            text = "" if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
            out.write("%-15s %s\n" % (k + ":", text))
    return 0


class _ProgressBar:
    """A one-line progress bar on a terminal, redrawn when a percent passes.

    Quick builds finish before ``delay`` seconds and show nothing.
    """

    WIDTH = 30

    def __init__(self, stream: IO[str], label: str, delay: float = 0.5) -> None:
        self.stream = stream
        self.label = label
        self.shown = -1
        self.start = time.monotonic() + delay

    def __call__(self, fraction: float) -> None:
        percent = max(0, min(100, int(fraction * 100)))
        if percent == self.shown or time.monotonic() < self.start:
            return
        self.shown = percent
        filled = self.WIDTH * percent // 100
        self.stream.write("\r[%s%s] %3d%% %s" % ("#" * filled, "-" * (self.WIDTH - filled), percent, self.label))
        self.stream.flush()

    def close(self) -> None:
        if self.shown >= 0:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _warn_skipped(path: str, warnings: Tuple[str, ...]) -> None:
    """What reading a damaged debug file skipped, on stderr (the answers are partial)."""
    for w in warnings:
        sys.stderr.write("%s: warning: %s: %s\n" % (PROG, path, w))


def _cmd_symcache_build(args: argparse.Namespace, out: IO[str]) -> int:
    from ._native import SymCache

    show = args.progress if args.progress is not None else sys.stderr.isatty()
    label = "building " + os.path.basename(args.file)
    bar = _ProgressBar(sys.stderr, label, 0.5 if args.progress is None else 0.0) if show else None
    try:
        cache = SymCache.from_object(args.file, arch=args.arch, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    _warn_skipped(args.file, cache.warnings)
    with cache:
        data = cache.to_bytes()
        cache.write(args.output)
        out.write("%s: %d bytes, %d ranges, %s %s %s\n" % (
            args.output, len(data), cache.range_count, cache.kind, cache.arch, cache.debug_id))
    return 0


def _location(frame: Any, column: bool) -> str:
    file = frame.file or "??"
    line = frame.line or 0
    if column:
        return "%s:%d:%d" % (file, line, frame.column or 0)
    return "%s:%d" % (file, line)


def _cmd_symcache_lookup(args: argparse.Namespace, out: IO[str]) -> int:
    from ._native import SymCache

    with SymCache.from_path(args.cache) as cache:
        results = cache.lookup_many(args.addrs)
    for frames in results:
        if not frames:
            out.write("??\n??:0:0\n")
        for f in frames:
            out.write("%s\n%s\n" % (f.function or "??", _location(f, True)))
        out.write("\n")
    return 0


def _a2l_groups(args: argparse.Namespace) -> List[Tuple[Optional[str], List[int]]]:
    """(build id or None for -e, addresses) in input order."""
    items: List[Any] = list(args.addrs)
    if not items:
        for line in sys.stdin:
            for word in line.split():
                try:
                    items.append(_a2l_item(word))
                except argparse.ArgumentTypeError as e:
                    raise ValueError(str(e)) from None
    current = args.build_id
    groups: List[Tuple[Optional[str], List[int]]] = []
    for item in items:
        if isinstance(item, tuple):
            current = item[1]
            continue
        if not groups or groups[-1][0] != current:
            groups.append((current, []))
        groups[-1][1].append(item)
    return groups


def _cmd_addr2line(args: argparse.Namespace, out: IO[str]) -> int:
    from ._native import SymCache

    groups = _a2l_groups(args)
    if any(b is None for b, _ in groups) and not args.exe:
        raise ValueError("give the file with -e FILE, or its build id with --build-id HEX or BUILDID:HEX")
    results: List[List[Any]] = []
    sym = None
    for build_id, addrs in groups:
        if build_id is None:
            cache, base = _exe_symcache(args)
        else:
            if sym is None:
                from ._symbolicate import Symbolicator, SystemStore

                sym = Symbolicator(list(args.store) + [SystemStore(module_files=False)])
            cache = _by_build_id(sym, build_id)
            if cache is None:
                sys.stderr.write("%s: warning: no debug file with build id %s\n" % (PROG, build_id))
                results.extend([] for _ in addrs)
                continue
            base = cache.image_base
        results.extend(cache.lookup_many([a - base if a >= base else (1 << 64) - 1 for a in addrs]))
    for frames in results:
        if not args.inlines:
            frames = frames[:1]
        if not frames:
            if args.functions:
                out.write("??\n")
            out.write("??:0\n")
            continue
        for f in frames:
            if args.functions:
                name = f.function if args.demangle else f.raw_function
                out.write("%s\n" % (name or "??"))
            out.write("%s\n" % _location(f, False))
    return 0


def _exe_symcache(args: argparse.Namespace) -> Tuple[Any, int]:
    """The symcache for ``-e FILE`` and the base its addresses are taken from. A PE image
    without debug info is answered from its PDB, as llvm-symbolizer finds it: the path the
    image names, the same name beside the image, then the --store directories by debug id."""
    import ntpath

    from ._native import Object, SymCache

    obj = Object.from_path(args.exe)
    if obj.kind != "pe" or obj.has_debug_info or not obj.debug_file:
        cache = SymCache.from_object(args.exe)
        return cache, cache.image_base
    name = ntpath.basename(obj.debug_file)
    for path in (obj.debug_file, os.path.join(os.path.dirname(os.path.abspath(args.exe)), name)):
        try:
            pdb = Object.from_path(path)
        except (OSError, PysymError):
            continue
        if pdb.debug_id == obj.debug_id:
            return SymCache.from_object(path), obj.image_base  # (PDB addresses are RVAs)
    if args.store:
        from ._symbolicate import Module, Symbolicator

        res = Symbolicator(list(args.store)).resolve(Module(type="pe", image_addr=0, image_size=1,
                                                            debug_id=obj.debug_id, debug_file=obj.debug_file,
                                                            code_id=obj.code_id))
        if res.symcache is not None:
            return res.symcache, obj.image_base
    sys.stderr.write("%s: warning: no PDB %s with debug id %s beside the image or in the stores; "
                     "answering from its exports\n" % (PROG, name, obj.debug_id))
    return SymCache.from_object(args.exe), obj.image_base


def _by_build_id(sym: Any, build_id: str) -> Any:
    from ._symbolicate import Module

    res = sym.resolve(Module(type="elf", image_addr=0, image_size=1, code_id=build_id))
    return res.symcache


def _cmd_symbolicate_native(args: argparse.Namespace, out: IO[str]) -> int:
    from ._symbolicate import Symbolicator

    if args.request == "-":
        text = sys.stdin.read()
    else:
        with open(args.request, "r", encoding="utf-8") as f:
            text = f.read()
    try:
        request = json.loads(text)
    except ValueError as e:
        raise PysymError("%s is not JSON: %s" % (args.request, e)) from None
    sym = Symbolicator(stores_of(args), cache_dir=args.cache, local_sources=True)
    response = sym.symbolicate(request)
    if args.json:
        json.dump(response, out, indent=2)
        out.write("\n")
        return 0
    names = {}
    for m in response.get("modules", []):
        if isinstance(m, dict) and m.get("image_addr") is not None:
            path = m.get("code_file") or m.get("debug_file") or ""
            names[m["image_addr"]] = path.replace("\\", "/").rsplit("/", 1)[-1] or "?"
    for ti, st in enumerate(response["stacktraces"]):
        title = "Thread %d" % ti
        if st.get("crashed") or st.get("is_requesting"):
            title += " (crashed)"
        out.write(title + "\n")
        frames = st["frames"]
        for k, f in enumerate(frames):
            last = k + 1 == len(frames) or frames[k + 1]["original_index"] != f["original_index"]
            first = k == 0 or frames[k - 1]["original_index"] != f["original_index"]
            lead = "%3d  " % f["original_index"] if first else "       "
            pkg = f.get("package")
            module = pkg.replace("\\", "/").rsplit("/", 1)[-1] if pkg else "?"
            if f["status"] != "symbolicated":
                out.write("%s%s %s (%s)\n" % (lead, f.get("instruction_addr", "?"), module if pkg else "", f["status"]))
                continue
            where = ""
            if f.get("abs_path"):
                where = " [%s : %s]" % (f.get("filename") or f["abs_path"], f.get("lineno") or "?")
            indent = "" if last else "(inlined) "
            out.write("%s%s%s!%s%s\n" % (lead, indent, module, f.get("function") or "?", where))
    return 0


# -- entry point -----------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = " %s" % exc.filename if exc.filename else ""
        return "%s:%s" % (exc.strerror, where) if where else exc.strerror
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (0, 1 on bad input, 2 on usage)."""
    parser = _build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error
    if args.version:
        print(_version_text())
        return 0
    func = getattr(args, "func", None)
    if func is None:
        usage_parser = getattr(args, "usage_parser", parser)
        usage_parser.print_usage(sys.stderr)
        sys.stderr.write("%s: error: a command is required\n" % usage_parser.prog)
        return 2
    try:
        return int(func(args, sys.stdout))
    except PysymError as exc:
        sys.stderr.write("%s: error: %s\n" % (PROG, _one_line(exc)))
        return 1
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            # The reader went away (`| head`): not an error of ours.
            try:
                sys.stdout = open(os.devnull, "w")
            except OSError:
                pass
            return 0
        sys.stderr.write("%s: error: %s\n" % (PROG, _one_line(exc)))
        return 1
    except ValueError as exc:
        # e.g. a position beyond u32 reaching the API; bad input, not a bug report
        sys.stderr.write("%s: error: %s\n" % (PROG, _one_line(exc)))
        return 1
    except KeyboardInterrupt:
        return 130
