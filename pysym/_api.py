"""The public source-map API: :class:`SourceMap` and :class:`Token`."""

from __future__ import annotations

import array
import os
import re
import sys
import warnings
from dataclasses import FrozenInstanceError, dataclass, fields
from itertools import chain, islice, repeat, starmap
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from . import _abi, _wire
from ._engine import Trap
from ._host import HandleOwner, PinnedFile, Runtime, StringTable, _monotonic, get_runtime

__all__ = [
    "SourceMap",
    "Token",
    "TokenArrays",
    "SourceContext",
    "GREATEST_LOWER_BOUND",
    "LEAST_UPPER_BOUND",
]

GREATEST_LOWER_BOUND = _abi.BIAS_GREATEST_LOWER_BOUND
"""Bias: the segment with the greatest generated column <= the asked column."""
LEAST_UPPER_BOUND = _abi.BIAS_LEAST_UPPER_BOUND
"""Bias: the segment with the smallest generated column >= the asked column."""

_NONE = _abi.NONE
# A single lookup reads its out record up to the token's index (a map has no function word).
_LOOKUP_INDEX = _wire.LOOKUP_OUT_INDEX
_LOOKUP_WORDS = _LOOKUP_INDEX + 1
_U32_MAX = 0xFFFFFFFF
_BATCH = 1 << 20  # positions per boundary crossing; bounds the module's result buffer
_LINE_BREAK = re.compile("\r\n|\r|\n|\u2028|\u2029")
_C = TypeVar("_C")


def _slotted(cls: Type[_C]) -> Type[_C]:
    """A frozen dataclass remade with ``__slots__`` (``dataclass(slots=True)`` needs Python
    3.10): tokens are made by the ten thousand per lookup batch and by the million when a
    map is iterated.

    The slots live on a plain base class (``_Raw`` below: no ``__setattr__`` of its own),
    the frozen class adds none: a token is made as a base instance, filled by ordinary
    attribute stores (C-level, where the frozen ``__setattr__`` is a Python call each)
    and then given the frozen class (``_fill_tokens``). The two layouts are the same, so
    the class assignment is allowed."""
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    raw: Any = type("_%sSlots" % cls.__name__, (), {"__slots__": names + ("__weakref__",),
                                                    "__module__": cls.__module__})
    body = dict(cls.__dict__)
    for key in names + ("__dict__", "__weakref__"):
        body.pop(key, None)
    body["__slots__"] = ()
    meta: Any = type(cls)
    new: Any = meta(cls.__name__, (raw,), body)

    # dataclass's frozen __setattr__/__delattr__ test for the old class: written again for
    # the new one, with the same errors
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is new or name in names:
            raise FrozenInstanceError("cannot assign to field %r" % name)
        super(new, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is new or name in names:
            raise FrozenInstanceError("cannot delete field %r" % name)
        super(new, self).__delattr__(name)

    def __reduce__(self: Any) -> Tuple[Any, Tuple[Any, ...]]:
        # pickle and copy rebuild through __init__ (slot state would go through the
        # frozen __setattr__)
        return new, tuple(map(self.__getattribute__, names))

    for fn in (__setattr__, __delattr__, __reduce__):
        fn.__qualname__ = "%s.%s" % (cls.__qualname__, fn.__name__)
        setattr(new, fn.__name__, fn)
    return new  # type: ignore[no-any-return]


@_slotted
@dataclass(frozen=True)
class Token:
    """One mapping: a generated position and the original position it comes from.

    All positions are 0-based; columns count UTF-16 code units (ECMA-426). ``src`` is the
    source URL after ``sourceRoot`` resolution. ``src``, ``src_line`` and ``src_col`` are
    ``None`` only for segments without an original position (seen when iterating a map;
    lookups return ``None`` instead of such a token). ``name`` is ``None`` when absent.
    ``function_name`` is set by :class:`pysym.SourceMapCache` lookups (as
    :meth:`SourceMap.function_name` names the position): the enclosing function's
    original name, ``"<anonymous>"``, or ``None`` for top-level code or no answer (and
    always ``None`` from :class:`SourceMap`).
    """

    dst_line: int
    dst_col: int
    src: Optional[str]
    src_line: Optional[int]
    src_col: Optional[int]
    name: Optional[str]
    function_name: Optional[str] = None


class TokenArrays(NamedTuple):
    """Every segment of a map as columns (:meth:`SourceMap.token_arrays`): one ``array('I')``
    per field, index ``i`` of each the ``i``-th segment in generated order, and the tables
    the indices point into. ``src`` and ``name`` are indices into ``sources`` and
    ``names``; an absent field (a segment without an original position, or without a name)
    is ``NONE`` (``0xFFFFFFFF``) in every column it would fill.

    Iterating a map as :class:`Token` objects makes one Python object per segment; these
    columns make six arrays, filled in C from the module's records.
    """

    dst_line: "array.array[int]"
    dst_col: "array.array[int]"
    src: "array.array[int]"
    src_line: "array.array[int]"
    src_col: "array.array[int]"
    name: "array.array[int]"
    sources: List[Optional[str]]
    names: List[Optional[str]]

    def token(self, i: int) -> "Token":
        """Segment ``i`` as a :class:`Token` (what iterating the map gives)."""
        src, name = self.src[i], self.name[i]
        return _token(self.dst_line[i], self.dst_col[i], None if src == _NONE else self.sources[src],
                      None if src == _NONE else self.src_line[i], None if src == _NONE else self.src_col[i],
                      None if name == _NONE else self.names[name])


class SourceContext(NamedTuple):
    """Lines around a position in a source's ``sourcesContent``."""

    pre_lines: List[str]
    line: str
    post_lines: List[str]


class _StringsAt:
    """One of a map's string tables read entry by entry (``pysym_sourcemap_strings_at``)
    for a :class:`_Strings`: a lookup batch on babylon.js's map uses a few thousand of its
    39,390 names, and fetching the whole table costs ~1 ms per fresh map."""

    __slots__ = ("_map", "_kind", "_count")

    def __init__(self, owner: "SourceMap", kind: int, count: int) -> None:
        self._map = owner
        self._kind = kind
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: int) -> Optional[str]:
        return self.values_at([i])[0]

    def values_at(self, indices: Sequence[int]) -> List[Optional[str]]:
        """The entries at ``indices`` (each in range), in one crossing."""
        wanted = array.array("I", indices)
        if sys.byteorder == "big":
            wanted.byteswap()
        owner = self._map
        rt = owner._rt
        with rt.lock:
            h = owner._h()
            ptr = rt.input_buffer(wanted)
            rt.check(rt.call("pysym_sourcemap_strings_at", h, self._kind, ptr, len(wanted), rt.out_slot))
            return StringTable(rt.result_bytes()).to_list()

    def to_list(self) -> List[Optional[str]]:
        owner = self._map
        table = owner._sources if self._kind == _abi.STRINGS_SOURCES else owner._name_table()
        return table.to_list()


class _Strings(Dict[int, Optional[str]]):
    """Index -> string of a string table, ``NONE`` -> None; an index is looked up in the
    table once, then answered by the dict (``map(strings.__getitem__, column)`` runs in C)."""

    __slots__ = ("_table",)

    def __init__(self, table: Union[StringTable, _StringsAt]) -> None:
        super().__init__({_NONE: None})
        self._table = table

    def __missing__(self, i: int) -> Optional[str]:
        value = self[i] = self._table[i]
        return value

    def fill(self, indices: Sequence[int]) -> "_Strings":
        """Decodes the entries of ``indices`` not held yet, together (``values_at``)."""
        table = self._table
        if len(self) > len(table):  # every entry held
            return self
        if isinstance(table, StringTable) and len(table) <= len(indices):
            # babylon.js's 2,176 sources: one to_list (~0.3 ms) beats a set of a batch's
            # 10,848 source indices and their lookups (~0.65 ms).
            return self.fill_all()
        missing = list(set(indices).difference(self))
        if missing:
            self.update(zip(missing, self._table.values_at(missing)))
        return self

    def as_list(self) -> List[Optional[str]]:
        """Every entry (``fill_all`` first) in table order, then None: what a signed
        ``NONE`` (-1) indexes."""
        return list(map(self.__getitem__, range(len(self._table)))) + [None]

    def fill_all(self) -> "_Strings":
        """Holds every entry of the table (decoded together, ``to_list``): what iterating
        a whole map needs, where collecting the distinct indices of each chunk would cost
        more than the strings."""
        if len(self) <= len(self._table):
            self.update(enumerate(self._table.to_list()))
        return self


# Token's slotted base (``_slotted``): a token is made as one of these, filled by plain
# attribute stores, then given the Token class. The frozen class's __init__ costs ~1.3 us
# a token, this ~0.25 us.
_Raw: Any = Token.__base__


def _token(dst_line: int, dst_col: int, src: Optional[str], src_line: Optional[int],
           src_col: Optional[int], name: Optional[str], function_name: Optional[str] = None) -> Token:
    t = _Raw()
    t.dst_line = dst_line
    t.dst_col = dst_col
    t.src = src
    t.src_line = src_line
    t.src_col = src_col
    t.name = name
    t.function_name = function_name
    t.__class__ = Token
    made: Token = t
    return made


def _make_tokens(count: int, *columns: Iterable[Any]) -> List[Token]:
    """``count`` tokens from one iterable per field (``function_name`` may be left out:
    None), one row at a time (see ``_Raw``). ``_token``'s body is written out in the
    loop: a call per token would add a third to the cost of making one."""
    if len(columns) < len(fields(Token)):
        columns += (repeat(None),)
    raw, cls = _Raw, Token
    tokens: List[Token] = []
    append = tokens.append
    for dst_line, dst_col, src, src_line, src_col, name, function_name in islice(zip(*columns), count):
        t = raw()
        t.dst_line = dst_line
        t.dst_col = dst_col
        t.src = src
        t.src_line = src_line
        t.src_col = src_col
        t.name = name
        t.function_name = function_name
        t.__class__ = cls
        append(t)
    return tokens


def _column_rows(cols: Sequence[Any], sources: Callable[[int], Optional[str]],
                 names: Callable[[int], Optional[str]], none: int = _NONE) -> List[Token]:
    """The tokens of token columns (dst_line, dst_col, src, src_line, src_col, name; the
    module writes ``NONE`` in every original field of a token without a source), with
    ``sources`` and ``names`` giving the string of every index the columns use and
    ``none`` the absent index as the columns hold it. A list: handing a few thousand
    tokens out of one (``_iter_columns``) costs less than a generator's resume each."""
    cls = Token
    dst_line, dst_col, src, src_line, src_col, name = cols
    tokens: List[Token] = _blank_tokens(len(dst_line))
    for t, line, col, index, source, orig_line, orig_col, label in zip(
            tokens, dst_line, dst_col, src, map(sources, src), src_line, src_col, map(names, name)):
        t.dst_line = line
        t.dst_col = col
        t.src = source  # (a null entry of ``sources`` is None too, with a position)
        if index == none:
            t.src_line = t.src_col = None
        else:
            t.src_line = orig_line
            t.src_col = orig_col
        t.name = label
        t.function_name = None
        t.__class__ = cls
    return tokens


def _sourced_rows(cols: Sequence[Any], sources: Callable[[int], Optional[str]],
                  names: Callable[[int], Optional[str]]) -> List[Token]:
    """``_column_rows`` of columns where every token has a source (nearly every chunk of
    a map): without the test and the index column, ~40 ns less a token."""
    cls = Token
    dst_line, dst_col, src, src_line, src_col, name = cols
    tokens: List[Token] = _blank_tokens(len(dst_line))
    for t, line, col, source, orig_line, orig_col, label in zip(
            tokens, dst_line, dst_col, map(sources, src), src_line, src_col, map(names, name)):
        t.dst_line = line
        t.dst_col = col
        t.src = source
        t.src_line = orig_line
        t.src_col = orig_col
        t.name = label
        t.function_name = None
        t.__class__ = cls
    return tokens


def _blank_tokens(n: int) -> List[Any]:
    """``n`` unfilled ``_Raw`` objects for the row loops to fill and make tokens: made by
    C (starmap), ~20 ns a token less than a call in the loop."""
    return list(starmap(_Raw, repeat((), n)))


def _tokens_of(raw: bytes, sources: StringTable, names: StringTable) -> List["Token"]:
    """The tokens of a token records result."""
    cols = _wire.token_columns(_wire.decode_token_records(raw).records)
    return _column_rows(cols, _Strings(sources).fill(cols.src).__getitem__,
                        _Strings(names).fill(cols.name).__getitem__)


_NONE_WORD = array.array("I", [_NONE]).tobytes()
_ITER_STEP = 1 << 16  # tokens per call when iterating a map
_ROWS = 1 << 11  # tokens per list handed out by _iter_columns: they stay in the CPU's caches


def _iter_columns(owner: "_MapFields", sources: _Strings, names: _Strings) -> Iterator[Token]:
    """Every token of a map or cache in generated order, fetched as columns a chunk at a
    time (``_COLUMNS_EXPORT``) and made a few thousand at a time as they are handed out
    (C's chain goes through the lists: no Python frame resumed per token)."""
    return chain.from_iterable(_column_lists(owner, sources, names))


def _column_lists(owner: "_MapFields", sources: _Strings, names: _Strings) -> Iterator[List[Token]]:
    step, rows = _ITER_STEP, _ROWS
    rt = owner._rt
    # Whole tables as lists read with the indices as signed words: NONE is -1, the None
    # appended (a list index costs less than a dict lookup).
    src_get = sources.fill_all().as_list().__getitem__
    name_get = names.fill_all().as_list().__getitem__
    for start in range(0, len(owner), step):  # type: ignore[arg-type]
        with rt.lock:
            owner._call(owner._COLUMNS_EXPORT, start, step, rt.out_slot)
            view: Any = rt.result_view()  # columns copied straight out of linear memory
            n, dst_line, dst_col, unsigned_src, src_line, src_col, unsigned_name = _wire.decode_column_tokens(view)
        src_words = unsigned_src.tobytes()
        src = array.array("i")
        src.frombytes(src_words)
        name = array.array("i")
        name.frombytes(memoryview(unsigned_name).cast("B"))
        for lo in range(0, n, rows):
            hi = min(lo + rows, n)
            part = (dst_line[lo:hi], dst_col[lo:hi], src[lo:hi], src_line[lo:hi], src_col[lo:hi], name[lo:hi])
            if src_words.find(_NONE_WORD, 4 * lo, 4 * hi) < 0:
                yield _sourced_rows(part, src_get, name_get)
            else:
                yield _column_rows(part, src_get, name_get, -1)


_LINE_BREAK_UTF8 = re.compile(b"\r\n|\r|\n|\xe2\x80\xa8|\xe2\x80\xa9")


def _index_lines(text: bytes) -> Tuple["array.array[int]", "array.array[int]"]:
    """Byte offsets where each line of ``text`` starts and ends (before its line break),
    with the line breaks of ``_LINE_BREAK``."""
    code = "I" if len(text) < 1 << 32 else "Q"
    starts = array.array(code, [0])
    ends = array.array(code)
    for m in _LINE_BREAK_UTF8.finditer(text):
        ends.append(m.start())
        starts.append(m.end())
    ends.append(len(text))
    return starts, ends


def _u32_array(values: Any, what: str) -> "array.array[int]":
    """Any sequence or buffer of non-negative integers as an array of u32."""
    if isinstance(values, array.array) and values.typecode == "I" and values.itemsize == 4:
        return values
    try:
        if not isinstance(values, (list, tuple, range, array.array)):
            try:
                values = memoryview(values).tolist()
            except TypeError:
                values = list(values)
        return array.array("I", values)
    except OverflowError:
        raise ValueError("%s must be integers in 0..2**32-1" % what) from None


def _pair_batches(owner: HandleOwner, lines: Any, cols: Any, export: str,
                  *args: int) -> Iterator[Tuple[int, int, bytes]]:
    """``export(h, pairs, count, *args, out)`` over (line, col) pairs, one call per batch:
    (start, stop, result bytes) of each."""
    la = _u32_array(lines, "lines")
    ca = _u32_array(cols, "cols")
    n = len(la)
    if len(ca) != n:
        raise ValueError("lines and cols differ in length (%d and %d)" % (n, len(ca)))
    rt = owner._rt
    for start in range(0, n, _BATCH):
        stop = min(n, start + _BATCH)
        pairs = array.array("I", bytes(8 * (stop - start)))
        pairs[0::2] = la[start:stop]
        pairs[1::2] = ca[start:stop]
        if sys.byteorder == "big":
            pairs.byteswap()
        with rt.lock:
            h = owner._h()
            ptr = rt.input_buffer(pairs)
            rt.check(rt.call(export, h, ptr, stop - start, *args, rt.out_slot))
            raw = rt.result_bytes()
        yield start, stop, raw


def _function_answers(raw: bytes, count: int) -> List[Tuple[int, Optional[str]]]:
    """(kind, name) of each record of a **function_names** result (maps and caches)."""
    found = _wire.decode_function_names(raw, count)
    text = found.text
    cols = _wire.function_name_columns(found.records)
    out: List[Tuple[int, Optional[str]]] = []
    for kind, off, size in zip(cols.kind, cols.offset, cols.length):
        if kind == _abi.FUNCTION_KIND_NAMED:
            out.append((kind, text[off : off + size].decode("utf-8", "replace")))
        else:
            out.append((kind, "<anonymous>" if kind == _abi.FUNCTION_KIND_ANONYMOUS else None))
    return out


def _in_range(line: int, col: int) -> bool:
    """Whether a generated position can be in a map (u32 line and column); a negative one
    is the caller's mistake (ValueError), a larger one is just not mapped."""
    if 0 <= line <= _U32_MAX and 0 <= col <= _U32_MAX:
        return True
    if line < 0 or col < 0:
        raise ValueError("line and column are 0-based and must not be negative")
    return False


class _MapFields(HandleOwner):
    """The map's fields both :class:`SourceMap` and ``SourceMapCache`` answer from the
    tables they keep (sources and meta read at open, names on first use), and a source's
    text through each one's export (``_CONTENT_EXPORT``)."""

    _CONTENT_EXPORT = ""
    #: the export giving token columns (column_tokens result)
    _COLUMNS_EXPORT = ""
    #: the export giving a Hermes crash frame's column (hermes_position)
    _HERMES_EXPORT = ""
    _ARRAYS_STEP = 1 << 18  # tokens per call of token_arrays (6 MiB of results)
    _sources: StringTable
    _file: Optional[str]
    _debug_id: Optional[str]
    #: source index -> (its sourcesContent as UTF-8, line starts, line ends), or None
    _line_index: Dict[int, Optional[Tuple[bytes, "array.array[int]", "array.array[int]"]]]

    def _call(self, name: str, *args: int) -> int:
        """Calls export ``name`` on this object's handle (status checked)."""
        return self._rt.check(self._rt.call(name, self._h(), *args))

    def _name_table(self) -> StringTable:
        raise NotImplementedError

    def hermes_position(self, function_id: int, offset: int, segment: int = 0) -> Optional[Tuple[int, int]]:
        """The generated position (0-based line, column) of a Hermes crash frame in a
        Hermes bytecode map: function ``function_id`` of bytecode segment ``segment``,
        ``offset`` bytes into the function (the ``FunctionID`` / ``ByteCodeOffset`` /
        ``SegmentID`` of a Hermes crash's call stack). The column is the function's
        offset from the map's ``x_hermes_function_offsets`` plus ``offset``, as
        ``metro-symbolicate --hermes-crash`` computes it; ``None`` when the map does not
        list the function. Give the result to ``lookup`` (or ``SourceMap.function_name``).
        """
        for v in (function_id, offset, segment):
            if not 0 <= v <= 0xFFFFFFFE:
                raise ValueError("hermes_position: arguments must be in 0..2**32-2, got %r" % (v,))
        rt = self._rt
        with rt.lock:
            if not self._call(self._HERMES_EXPORT, segment, function_id, offset, rt.out_slot):
                return None
            return segment, rt.out(1)[0]

    @property
    def sources(self) -> List[Optional[str]]:
        """Source URLs after ``sourceRoot`` resolution (``None`` for null entries)."""
        return self._sources.to_list()

    @property
    def names(self) -> List[Optional[str]]:
        """The ``names`` table."""
        return self._name_table().to_list()

    @property
    def file(self) -> Optional[str]:
        """The ``file`` field."""
        return self._file

    @property
    def debug_id(self) -> Optional[str]:
        """The ``debugId`` field (also read from ``debug_id``)."""
        return self._debug_id

    def _source_index(self, source: Union[str, int]) -> Optional[int]:
        if isinstance(source, int):
            return source if 0 <= source < len(self._sources) else None
        try:
            return self._sources.index(source)
        except ValueError:
            return None

    def token_arrays(self) -> TokenArrays:
        """Every segment in generated order as columns (:class:`TokenArrays`): the fast way
        to go over all of a large map's segments (tens of millions a second, against
        ~0.5 million a second as :class:`Token` objects)."""
        step = self._ARRAYS_STEP  # tokens per call: bounds the module's result buffer
        rt = self._rt
        n = len(self)  # type: ignore[arg-type]
        columns = [array.array("I") for _ in range(_wire.TOKEN_WORDS)]
        for start in range(0, n, step):
            with rt.lock:
                self._call(self._COLUMNS_EXPORT, start, step, rt.out_slot)
                raw = rt.result_bytes()
            # one copy per field (column_tokens), not a strided slice of token records
            parts: Sequence["array.array[int]"] = _wire.decode_column_tokens(raw)[1:]
            if start == 0 and n <= step:
                columns = list(parts)
            else:
                for column, part in zip(columns, parts):
                    column.extend(part)
        dst_line, dst_col, src, src_line, src_col, name = columns
        return TokenArrays(dst_line, dst_col, src, src_line, src_col, name, self._sources.to_list(),
                           self._name_table().to_list())

    def source_content(self, source: Union[str, int]) -> Optional[str]:
        """The source's text from ``sourcesContent`` (a source map cache has it only if
        built with ``sources_content=True``), or ``None``. A map's content strings are
        checked here, not when the map is parsed: a malformed one raises
        :class:`InvalidInputError` for that source only."""
        idx = self._source_index(source)
        if idx is None:
            return None
        rt = self._rt
        with rt.lock:
            if self._call(self._CONTENT_EXPORT, idx, rt.out_slot) == 0:
                return None
            return rt.result_bytes().decode("utf-8")

    def function_names(self, lines: Any, cols: Any) -> List[Optional[str]]:
        """The function enclosing each position (each class says from what)."""
        raise NotImplementedError

    def function_name(self, line: int, col: int) -> Optional[str]:
        """:meth:`function_names` for one position."""
        return self.function_names([line], [col])[0]

    def source_context(self, source: Union[str, int], line: int, context: int = 5) -> Optional[SourceContext]:
        """Line ``line`` (0-based) of a source with up to ``context`` lines around it.

        The first call for a source copies its text out of the module once and indexes
        its lines; later calls decode only the lines they return (a trace asks for a few
        lines of large sources, once per frame). The host keeps at most one copy of
        each source asked for: together, no more than the map's ``sourcesContent``."""
        idx = self._source_index(source)
        if idx is None or line < 0:
            return None
        context = max(0, context)
        if idx in self._line_index:
            index = self._line_index[idx]
        else:
            rt = self._rt
            with rt.lock:
                if self._call(self._CONTENT_EXPORT, idx, rt.out_slot) == 0:
                    self._line_index[idx] = None
                    return None
                text = rt.result_bytes()
            index = self._line_index[idx] = (text,) + _index_lines(text)
        if index is None:
            return None
        text, starts, ends = index
        if line >= len(starts):
            return None
        first = max(0, line - context)
        last = min(len(starts) - 1, line + context)
        lines = _LINE_BREAK.split(text[starts[first] : ends[last]].decode("utf-8"))
        at = line - first
        return SourceContext(lines[:at], lines[at], lines[at + 1 :])


class SourceMap(_MapFields):
    """A parsed source map (regular or index map), held inside the wasm sandbox.

    Create one with :meth:`from_path` or :meth:`from_bytes`; use it as a context manager
    or call :meth:`close`. Safe to share between threads (calls are serialised).
    """

    _FREE_EXPORT = "pysym_sourcemap_free"
    _CONTENT_EXPORT = "pysym_sourcemap_source_content"
    _COLUMNS_EXPORT = "pysym_sourcemap_token_columns"
    _HERMES_EXPORT = "pysym_sourcemap_hermes_column"
    _ARRAYS_STEP = 1 << 20

    def __init__(self, _source: Union[str, bytes], _is_path: bool, runtime: Optional[Runtime] = None) -> None:
        self._rt = runtime if runtime is not None else get_runtime()
        self._source = _source
        self._is_path = _is_path
        if _is_path:
            assert isinstance(_source, str)
            self._pinned = PinnedFile(_source)  # reloads read these very bytes (_host.PinnedFile)
        self._handles: Dict[int, int] = {}  # instance serial -> handle
        self._closed = False
        self._names: Optional[StringTable] = None
        self._token_cache: Dict[int, Optional[Token]] = {}
        # A first batch's (token indices, tokens), put in _token_cache when something
        # looks there: a map that answers one batch never builds the dict (~0.45 ms for
        # babylon.js's 10,848 tokens).
        self._pending: Optional[Tuple[Sequence[int], List[Optional[Token]]]] = None
        self._dicts: Optional[Tuple[_Strings, _Strings]] = None
        self._fast: Optional[Tuple[Any, Callable[..., int], Callable[..., Tuple[int, ...]], int, int]] = None
        self._generated: Optional[bytes] = None
        self._open(self._read_metadata)

    # -- construction --------------------------------------------------------------

    @classmethod
    def from_path(
        cls, path: "Union[str, os.PathLike[str]]", *, runtime: Optional[Runtime] = None
    ) -> "SourceMap":
        """Loads a map from a file; the module reads it through the host's file table.

        The file stays open (one descriptor, released by :meth:`close`): whenever the map
        is rebuilt in a fresh instance it is read again from the same bytes, or raises
        :class:`pysym.FileChangedError` if it was rewritten in place (SECURITY.md).
        """
        return cls(os.fspath(path), True, runtime)

    @classmethod
    def from_bytes(cls, data: Any, *, runtime: Optional[Runtime] = None) -> "SourceMap":
        """Loads a map from bytes (or str, or any buffer)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        elif not isinstance(data, bytes):
            data = bytes(memoryview(data).cast("B"))
        return cls(data, False, runtime)

    def _load(self) -> int:
        rt = self._rt
        live = rt.current()
        if self._pinned is not None:
            status = self._pinned.load(rt, "pysym_sourcemap_from_file", self._FREE_EXPORT, "SourceMap")
        else:
            data = self._source
            ptr = rt.put_input(data)
            status = rt.call("pysym_sourcemap_from_bytes", ptr, len(data), rt.out_slot)
        rt.check(status)
        handle = live.instance.read_u32(live.out_slot, _wire.HANDLE_OUT_WORDS)[_wire.HANDLE_OUT_HANDLE]
        self._handles[live.serial] = handle
        if self._generated is not None:
            # a fresh instance gets the generated file again (its scopes live in the module)
            ptr = rt.put_input(self._generated)
            rt.check(rt.call("pysym_sourcemap_set_generated", handle, ptr, len(self._generated), rt.out_slot))
        return handle

    # -- function names from the generated file's scopes ---------------------------

    def set_generated_source(self, source: Any) -> None:
        """Gives the map its generated (minified) JavaScript file.

        The module extracts the file's function scopes and names them through the map
        (as symbolic's SourceMapCache does), for :meth:`function_names`. The text is kept
        by the host so that a fresh instance gets it again.
        """
        if isinstance(source, str):
            source = source.encode("utf-8")
        elif not isinstance(source, bytes):
            source = bytes(memoryview(source).cast("B"))
        if source is self._generated or source == self._generated:
            return  # the scopes are built already
        rt = self._rt
        with rt.lock:
            h = self._h()
            # Watchdog mode: the child needs the map too (the export only sees a handle).
            if self._pinned is not None:
                rt.watchdog_check("pysym_sourcemap_set_generated", None, self._pinned.child_path(), extra=source)
            elif isinstance(self._source, bytes):
                rt.watchdog_check("pysym_sourcemap_set_generated", self._source, None, extra=source)
            ptr = rt.put_input(source)
            rt.check(rt.call("pysym_sourcemap_set_generated", h, ptr, len(source), rt.out_slot))
            self._generated = source

    def function_names(self, lines: Any, cols: Any) -> List[Optional[str]]:
        """The function enclosing each generated position (0-based line, UTF-16 column).

        The original name of the innermost function scope (``Cart.total``, ``get o.x``,
        ``new Cart`` for class bodies), ``"<anonymous>"`` for a function without one, or
        ``None`` for top-level code. Needs :meth:`set_generated_source` first, unless the
        map's ``scopes`` field names positions (:attr:`has_scopes`): its names are then
        preferred to the generated file's; or unless the map has Metro's
        ``x_facebook_sources`` function maps (:attr:`has_function_maps`, React Native):
        they name a position by its original source, as ``metro-symbolicate`` does
        (``Cart.prototype.total``, ``<global>`` for a module's top level), after the
        ``scopes`` field and before the generated file's scopes (``None`` also where no
        function map covers the position and there are no scopes).
        """
        return [name for _, name in self._enclosing(lines, cols)]

    def _enclosing(self, lines: Any, cols: Any) -> List[Tuple[int, Optional[str]]]:
        """:meth:`function_names` with each answer's kind (``_abi.FUNCTION_KIND_*``;
        ``FUNCTION_KIND_NO_ANSWER``: a position no function map covers when there are no
        scopes)."""
        if self._generated is None and not self.has_scopes and not self.has_function_maps:
            raise ValueError("function_names needs the generated file: call set_generated_source first")
        out: List[Tuple[int, Optional[str]]] = []
        for start, stop, raw in self._pair_batches(lines, cols, "pysym_sourcemap_function_names"):
            out.extend(_function_answers(raw, stop - start))
        return out

    def _read_metadata(self) -> None:
        rt = self._rt
        self._call("pysym_sourcemap_info", rt.out_slot)
        info = rt.out(_wire.SOURCEMAP_INFO_WORDS)
        self._n_tokens = info[_wire.SOURCEMAP_INFO_TOKENS]
        self._n_lines = info[_wire.SOURCEMAP_INFO_LINES]
        self._n_names = info[_wire.SOURCEMAP_INFO_NAMES]
        self.is_index_map = bool(info[_wire.SOURCEMAP_INFO_FLAGS] & _abi.SOURCEMAP_FLAG_INDEX_MAP)
        #: the map's ``scopes`` field (the ECMA-426 scopes proposal) names generated
        #: positions: :meth:`function_names` works without the generated file
        self.has_scopes = bool(info[_wire.SOURCEMAP_INFO_FLAGS] & _abi.SOURCEMAP_FLAG_SCOPES)
        #: the map has Metro's ``x_facebook_sources`` function maps (React Native):
        #: :meth:`function_names` works without the generated file
        self.has_function_maps = bool(info[_wire.SOURCEMAP_INFO_FLAGS] & _abi.SOURCEMAP_FLAG_FUNCTION_MAPS)
        # Sources and the ignore list stay as the module's bytes, decoded entry by entry on
        # use (a map can list millions of sources; an open costs about their size).
        self._call("pysym_sourcemap_strings", _abi.STRINGS_SOURCES, rt.out_slot)
        self._sources = StringTable(rt.result_bytes())
        self._call("pysym_sourcemap_strings", _abi.STRINGS_META, rt.out_slot)
        self._file, self._debug_id, problem = rt.string_table(rt.result_bytes())
        if problem is not None and not hasattr(self, "function_maps_problem"):
            warnings.warn("source map: " + problem, UserWarning, stacklevel=4)
        #: a malformed ``x_facebook_sources`` entry (ignored; the rest of the map works)
        self.function_maps_problem = problem
        self._call("pysym_sourcemap_ignore_list", rt.out_slot)
        self._ignored = _wire.decode_u32_list(rt.result_bytes()).values
        #: source index -> (its sourcesContent as UTF-8, line starts, line ends), or None
        self._line_index: Dict[int, Optional[Tuple[bytes, "array.array[int]", "array.array[int]"]]] = {}

    # -- life cycle ----------------------------------------------------------------





    # -- metadata (sources, names, file, debug_id: _MapFields) ------------------------

    @property
    def ignore_list(self) -> List[Optional[str]]:
        """Sources listed in ``ignoreList`` (or ``x_google_ignoreList``)."""
        return [self._sources[i] for i in self._ignored]

    def __len__(self) -> int:
        """Number of mapping segments."""
        return self._n_tokens

    def __repr__(self) -> str:
        return "<SourceMap file=%r sources=%d tokens=%d%s>" % (
            self._file, len(self._sources), self._n_tokens, " closed" if self._closed else "")

    def _name_table(self) -> StringTable:
        names = self._names
        if names is None:
            rt = self._rt
            with rt.lock:
                self._call("pysym_sourcemap_strings", _abi.STRINGS_NAMES, rt.out_slot)
                names = self._names = StringTable(rt.result_bytes())
        return names

    # -- lookups -------------------------------------------------------------------

    def _make(self, w: Sequence[int], i: int) -> Optional[Token]:
        src = w[i + 2]
        if src == _NONE:
            return None
        name = w[i + 5]
        return _token(w[i], w[i + 1], self._sources[src], w[i + 3], w[i + 4],
                      None if name == _NONE else self._name_table()[name])

    def _fast_lookup(self) -> Tuple[Any, Callable[..., int], Callable[..., Tuple[int, ...]], int, int]:
        """The bound export, reader, out slot and handle for the current instance."""
        rt = self._rt
        h = self._h()
        live = rt.current()
        fast = (live, rt.func("pysym_sourcemap_lookup"), live.instance.read_u32, live.out_slot, h)
        self._fast = fast
        return fast

    def lookup(self, line: int, col: int, bias: int = GREATEST_LOWER_BOUND) -> Optional[Token]:
        """The mapping for a generated position (0-based line and UTF-16 column), or None.

        Never crosses to another line; a segment without an original position gives None.
        """
        if not _in_range(line, col):
            return None
        # The hot path of single lookups: one export call and one 28-byte read.
        rt = self._rt
        with rt.lock:
            fast = self._fast
            if fast is None or fast[0] is not rt.live or self._closed:
                fast = self._fast_lookup()
            live, fn, read_u32, slot, h = fast
            if _monotonic() >= live.rearm_at:
                rt.arm_light(live)
            try:
                found = fn(h, line, col, bias, slot)
            except Trap as e:
                raise rt.trap_error("pysym_sourcemap_lookup", e) from None
            if found != 1:
                if found == 0:
                    return None
                rt.check(found)
            w = read_u32(slot, _LOOKUP_WORDS)
        # the lookup_out record starts with a token record (tests/test_abi.py checks it)
        tok = self._token_cache.get(w[_LOOKUP_INDEX])
        if tok is None:
            if self._pending is not None:
                self._settle()
                tok = self._token_cache.get(w[_LOOKUP_INDEX])
                if tok is not None:
                    return tok
            tok = self._token_cache[w[_LOOKUP_INDEX]] = self._make(w, 0)
        return tok

    def _settle(self) -> None:
        """Puts the deferred first batch's tokens in the token cache."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self._token_cache.update(zip(*pending))

    def lookup_many(self, lines: Any, cols: Any, bias: int = GREATEST_LOWER_BOUND) -> List[Optional[Token]]:
        """Many lookups in one boundary crossing per batch.

        ``lines`` and ``cols`` are equally long sequences of integers: lists,
        ``array.array``, or anything with the buffer protocol.
        """
        out: Optional[List[Optional[Token]]] = None
        for start, stop, raw in self._pair_batches(lines, cols, "pysym_sourcemap_lookup_distinct", bias):
            answers = self._decode_lookups(raw, stop - start)
            if out is None:
                out = answers  # one batch: its list, not a copy
            else:
                out.extend(answers)
        return [] if out is None else out

    def _pair_batches(self, lines: Any, cols: Any, export: str, *args: int) -> Iterator[Tuple[int, int, bytes]]:
        return _pair_batches(self, lines, cols, export, *args)

    def _string_dicts(self) -> Tuple["_Strings", "_Strings"]:
        """Sources and names as index -> string dicts kept for the map's life: a lookup
        batch resolves its indices with C-level dict hits (a ``StringTable`` call each
        costs ~0.2 us; a batch of 20,000 makes ~24,000 of them)."""
        dicts = self._dicts
        if dicts is None:
            names: Any = self._names
            if names is None:  # the names a batch uses, not the whole table
                names = _StringsAt(self, _abi.STRINGS_NAMES, self._n_names)
            dicts = self._dicts = (_Strings(self._sources), _Strings(names))
        return dicts

    def _decode_lookups(self, raw: bytes, count: int) -> List[Optional[Token]]:
        """The tokens of a distinct_lookups result: one per distinct token, made from its
        columns (every pass runs in C), the tokens made before for indices seen before."""
        found = _wire.decode_distinct_lookups(raw, count)
        cols = (found.dst_line, found.dst_col, found.src, found.src_line, found.src_col, found.name)
        cache = self._token_cache
        tokens: List[Optional[Token]]
        if cache or self._pending is not None:
            self._settle()
            # A warm map: make only the tokens no batch made before (making them all and
            # keeping the cached ones was ~45% of a repeated batch).
            tokens = list(map(cache.get, found.indices))
            if None in tokens:
                todo = [k for k, t in enumerate(tokens) if t is None]
                if len(todo) < len(tokens):
                    cols = tuple(list(map(col.__getitem__, todo)) for col in cols)  # type: ignore[assignment]
                setdefault = cache.setdefault
                indices = found.indices
                for k, t in zip(todo, self._made(cols)):
                    tokens[k] = setdefault(indices[k], t)
        else:
            tokens = self._made(cols)
            self._pending = (found.indices, tokens)  # (zip stops before the None below)
        tokens.append(None)  # slot n: no answer
        return list(map(tokens.__getitem__, found.slots))

    def _made(self, cols: Sequence[Any]) -> List[Optional[Token]]:
        """Tokens of distinct_lookups columns (the export writes only tokens with a source)."""
        sources, names = self._string_dicts()
        made: List[Optional[Token]] = _sourced_rows(  # type: ignore[assignment]
            cols, sources.fill(cols[2]).__getitem__, names.fill(cols[5]).__getitem__)
        return made

    def generated_positions(
        self, source: Union[str, int], line: int, col: Optional[int] = None
    ) -> List[Token]:
        """Every generated position mapped from an original position, in generated order.

        With ``col``: the mappings at exactly that original column, or if there are none,
        those at the nearest greater column on the same line. Without: the whole line.
        """
        idx = self._source_index(source)
        if idx is None or line < 0 or line > _U32_MAX:
            return []
        if col is not None and (col < 0 or col >= _U32_MAX):
            return []
        rt = self._rt
        with rt.lock:
            self._call("pysym_sourcemap_generated_positions", idx, line,
                       _NONE if col is None else col, rt.out_slot)
            raw = rt.result_bytes()
        return self._records(raw)

    def _records(self, raw: bytes) -> List[Token]:
        return _tokens_of(raw, self._sources, self._name_table())

    def __iter__(self) -> Iterator[Token]:
        """All segments in generated order, including those without an original position."""
        return _iter_columns(self, *self._string_dicts())

    @property
    def tokens(self) -> List[Token]:
        """All segments as a list (see ``__iter__``)."""
        return list(self)

