"""The persisted source map cache: :class:`SourceMapCache` (format:
``wasm/core/src/sourcemap/CACHE_FORMAT.md``)."""

from __future__ import annotations

import contextlib
import os
from typing import Any, ContextManager, Dict, Iterator, List, Optional, Tuple, Union

from . import _abi, _wire
from ._api import (
    GREATEST_LOWER_BOUND,
    SourceMap,
    Token,
    _function_answers,
    _in_range,
    _iter_columns,
    _MapFields,
    _pair_batches,
    _Strings,
    _token,
)
from ._errors import FileChangedError, InvalidInputError
from ._host import PinnedFile, Runtime, StringTable, get_runtime

__all__ = ["SourceMapCache"]

_NONE = _abi.NONE
_U32 = 0xFFFFFFFF
_ANONYMOUS = _abi.FUNCTION_ANONYMOUS
#: header and section directory (CACHE_FORMAT.md, 21 sections): compared on every reload
#: of a file
_HEAD = 48 + 8 * 21


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes):
        return data
    return bytes(memoryview(data).cast("B"))


class SourceMapCache(_MapFields):
    """A source map (and the function names of its generated file) in a portable binary
    form that loads without parsing or copying: the module checks the header and reads
    the pages of the tables a call needs from the host (the bytes given, or the file), at
    most 1 MiB of them kept per cache. The same bytes work in the browser
    (``browser/smcache.js``, which hands the whole cache to the module).

    Build one with :meth:`from_sourcemap`, keep :meth:`to_bytes` (or :meth:`write`),
    open it later with :meth:`from_bytes` or :meth:`from_path`. Lookups give the same
    tokens as :class:`SourceMap`'s, with ``function_name`` as
    :meth:`SourceMap.function_name` names the position: from the map's ``scopes`` field,
    Metro's ``x_facebook_sources`` function maps (React Native) or the minified source's
    scopes, when the cache was built with any of them. Hermes crash frames:
    :meth:`hermes_position`, as the map's.
    """

    _FREE_EXPORT = "pysym_smcache_free"
    _CONTENT_EXPORT = "pysym_smcache_source_content"
    _COLUMNS_EXPORT = "pysym_smcache_token_columns"
    _HERMES_EXPORT = "pysym_smcache_hermes_column"

    def __init__(self, data: Optional[bytes], runtime: Optional[Runtime] = None, *,
                 _path: Optional[str] = None) -> None:
        self._rt = runtime if runtime is not None else get_runtime()
        self._data = data
        self._head: Optional[bytes] = None
        if _path is not None:
            self._pinned = PinnedFile(_path)  # pages are read from this very file (_host.PinnedFile)
        #: (file table, handle) the module reads the pages through, for the object's life
        self._kept: Optional[Tuple[Any, int]] = None
        self._handles: Dict[int, int] = {}
        self._closed = False
        self._names: Optional[StringTable] = None
        self._functions: Optional[StringTable] = None
        #: the sources table, read on first use (babylon.js's 2,176 sources cost half a
        #: millisecond to read: more than the rest of a load)
        self._source_list: Optional[StringTable] = None
        #: (table kind, index) -> entry, read one at a time before the whole table is
        self._singles: Dict[Tuple[int, int], Optional[str]] = {}
        self._line_index = {}
        try:
            self._open(lambda: None)  # _load keeps what the first load gives
        except BaseException:
            self._forget_file()
            raise

    # -- construction --------------------------------------------------------------

    @classmethod
    def from_sourcemap(cls, map_bytes: Any, minified_source: Any = None, *, sources_content: bool = False,
                       runtime: Optional[Runtime] = None) -> "SourceMapCache":
        """Builds a cache from a map's bytes and, optionally, its generated (minified)
        JavaScript file, whose function scopes give lookups their ``function_name``.
        ``sources_content=True`` keeps the map's ``sourcesContent`` in the cache.
        A malformed ``x_facebook_sources`` entry warns here (as :class:`SourceMap` does) and
        is kept as :attr:`function_maps_problem`; opening the cache again does not warn."""
        with SourceMap.from_bytes(map_bytes, runtime=runtime) as sm:
            if minified_source is not None:
                sm.set_generated_source(minified_source)
            rt = sm._rt
            with rt.lock:
                rt.check(rt.call("pysym_smcache_build", sm._h(), 1 if sources_content else 0, rt.out_slot))
                data = rt.result_bytes()
        return cls(data, runtime)

    @classmethod
    def from_bytes(cls, data: Any, *, runtime: Optional[Runtime] = None) -> "SourceMapCache":
        """Opens a cache from bytes made by :meth:`to_bytes`."""
        return cls(_as_bytes(data), runtime)

    @classmethod
    def from_path(cls, path: "Union[str, os.PathLike[str]]", *,
                  runtime: Optional[Runtime] = None) -> "SourceMapCache":
        """Opens a cache file written by :meth:`write`.

        Nothing is copied at open but the header: the module reads the pages a call needs
        (16 KiB each, at most 64 kept) from the file, which stays open (one descriptor,
        released by :meth:`close`) and must not change: every call checks its size and
        mtime (:class:`pysym.FileChangedError`), and a reload in a fresh instance also its
        header and the tables this object holds (sources, names, ``file``/``debugId``).
        """
        return cls(None, runtime, _path=os.fspath(path))

    def to_bytes(self) -> bytes:
        """The cache's bytes (what :meth:`from_bytes` opens)."""
        if self._data is None:
            pinned = self._pinned
            assert pinned is not None
            with self._rt.lock:
                self._h()  # a reload in a fresh instance checks the file first
            with pinned.using("SourceMapCache"):
                return pinned.read(0, pinned.ident[2])
        return self._data

    def write(self, path: "Union[str, os.PathLike[str]]") -> None:
        """Writes the cache to a file (atomically: a temporary file renamed into place)."""
        path = os.fspath(path)
        tmp = "%s.tmp-%d" % (path, os.getpid())
        try:
            with open(tmp, "wb") as f:
                f.write(self.to_bytes())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def _reading(self) -> ContextManager[Any]:
        """For the length of a call that may read pages: the pinned file open and unchanged."""
        if self._pinned is not None:
            return self._pinned.using("SourceMapCache")
        return contextlib.nullcontext()

    def _call(self, name: str, *args: int) -> int:
        with self._reading():
            return self._rt.check(self._rt.call(name, self._h(), *args))

    def _file_handle(self) -> int:
        """The handle of the cache's bytes in the runtime's file table (added once per table:
        a fork starts a new one)."""
        files = self._rt.files
        kept = self._kept
        if kept is None or kept[0] is not files:
            source: Any = self._data if self._data is not None else self._pinned
            kept = self._kept = (files, files.add(source, kept=True))
        return int(kept[1])

    def _forget_file(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            kept[0].remove(kept[1])

    def _load(self) -> int:
        """Opens the cache in the current instance in one crossing (pysym_smcache_load: the
        handle, the header's counts and ``[file, debugId, function maps problem]``); a reload checks them."""
        rt = self._rt
        live = rt.current()
        pinned = self._pinned
        with self._reading():
            if pinned is not None:
                size = pinned.ident[2]
                head = pinned.read(0, _HEAD)
                if self._head is None:
                    self._head = head
                elif head != self._head:
                    raise pinned._changed("SourceMapCache", "same size and mtime, other header")
            else:
                assert self._data is not None
                size = len(self._data)
            if size > _U32:
                raise InvalidInputError("not a valid source map cache: %d bytes, more than 4 GiB" % size)
            rt.check(rt.call("pysym_smcache_load", self._file_handle(), size, live.out_slot))
            w = live.instance.read_u32(live.out_slot, _wire.SMCACHE_LOAD_OUT_WORDS)
            handle = w[_wire.SMCACHE_LOAD_OUT_HANDLE]
            self._handles[live.serial] = handle
            n = w[_wire.SMCACHE_LOAD_OUT_META_LEN]
            meta = rt.string_table(live.instance.read(w[_wire.SMCACHE_LOAD_OUT_META_PTR], n) if n else b"")
            if not hasattr(self, "_file"):
                self._take_info(w, meta)
            elif pinned is not None:
                try:
                    info = w[_wire.SMCACHE_LOAD_OUT_SOURCES:_wire.SMCACHE_LOAD_OUT_FUNCTIONS + 1]
                    if (info, meta) != (self._info, [self._file, self._debug_id, self.function_maps_problem]):
                        raise pinned._changed("SourceMapCache", "same size and mtime, other tables")
                    self._check_reload()
                except FileChangedError:
                    # refused every time: nothing of it stays in this instance
                    del self._handles[live.serial]
                    rt.call(self._FREE_EXPORT, handle)
                    raise
        return handle

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._forget_file()

    def __del__(self) -> None:
        super().__del__()
        try:
            self._forget_file()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass

    def _check_reload(self) -> None:
        """A file read again in a fresh instance must give the tables this object holds."""
        rt = self._rt
        for kind, table in ((0, self._source_list), (1, self._names), (3, self._functions)):
            if table is None:
                continue
            self._call("pysym_smcache_strings", kind, rt.out_slot)
            if StringTable(rt.result_bytes()).to_list() != table.to_list():
                assert self._pinned is not None
                raise self._pinned._changed("SourceMapCache", "same size and mtime, other tables")

    def _take_info(self, w: Tuple[int, ...], meta: List[Optional[str]]) -> None:
        """What this object keeps of the cache (from pysym_smcache_load's out words)."""
        #: the smcache_info words of the first load, compared on reloads
        self._info = w[_wire.SMCACHE_LOAD_OUT_SOURCES:_wire.SMCACHE_LOAD_OUT_FUNCTIONS + 1]
        flags = w[_wire.SMCACHE_LOAD_OUT_FLAGS]
        self._n_tokens = w[_wire.SMCACHE_LOAD_OUT_TOKENS]
        self._n_lines = w[_wire.SMCACHE_LOAD_OUT_LINES]
        self._n_sources = w[_wire.SMCACHE_LOAD_OUT_SOURCES]
        self.is_index_map = bool(flags & _abi.SMCACHE_FLAG_INDEX_MAP)
        #: whether lookups name functions: the cache holds function scopes (of the
        #: generated file, or the map's ``scopes`` field) or Metro function maps
        self.has_function_names = bool(flags & (_abi.SMCACHE_FLAG_SCOPES | _abi.SMCACHE_FLAG_FUNCTION_MAPS))
        self._scope_names = bool(flags & _abi.SMCACHE_FLAG_SCOPES)
        #: the map has Metro's ``x_facebook_sources`` function maps (as :class:`SourceMap`'s)
        self.has_function_maps = bool(flags & _abi.SMCACHE_FLAG_FUNCTION_MAPS)
        #: the map's ``scopes`` field names positions (as :class:`SourceMap`'s)
        self.has_scopes = bool(flags & _abi.SMCACHE_FLAG_SCOPES_FIELD)
        #: whether the cache holds ``sourcesContent``
        self.has_sources_content = bool(flags & _abi.SMCACHE_FLAG_CONTENTS)
        self._file, self._debug_id, problem = meta
        #: a malformed ``x_facebook_sources`` / ``x_hermes_function_offsets`` part of the
        #: map (ignored, as by :class:`SourceMap`), or None
        self.function_maps_problem: Optional[str] = problem

    def _table(self, kind: int) -> StringTable:
        rt = self._rt
        with rt.lock:
            self._call("pysym_smcache_strings", kind, rt.out_slot)
            return StringTable(rt.result_bytes())

    @property
    def _sources(self) -> StringTable:
        if self._source_list is None:
            self._source_list = self._table(0)
        return self._source_list

    @_sources.setter
    def _sources(self, table: StringTable) -> None:
        self._source_list = table

    def _source(self, idx: int) -> Optional[str]:
        if self._source_list is not None:
            return self._source_list[idx]
        return self._single(0, idx)

    def _name_table(self) -> StringTable:
        if self._names is None:
            self._names = self._table(1)
        return self._names

    def _function_table(self) -> StringTable:
        if self._functions is None:
            self._functions = self._table(3)
        return self._functions

    # -- metadata (sources, names, file, debug_id: _MapFields) ------------------------

    @property
    def ignore_list(self) -> List[Optional[str]]:
        """Sources listed in the map's ``ignoreList`` (or ``x_google_ignoreList``)."""
        rt = self._rt
        with rt.lock:
            self._call("pysym_smcache_strings", _abi.STRINGS_IGNORE_LIST, rt.out_slot)
            ignored = _wire.decode_u32_list(rt.result_bytes()).values
        return [self._sources[i] for i in ignored]

    def __len__(self) -> int:
        """Number of mapping segments."""
        return self._n_tokens

    def __repr__(self) -> str:
        return "<SourceMapCache file=%r sources=%d tokens=%d%s>" % (
            self._file, self._n_sources, self._n_tokens, " closed" if self._closed else "")

    # -- lookups -------------------------------------------------------------------

    def _single(self, kind: int, idx: int) -> Optional[str]:
        """Entry ``idx`` of table ``kind`` by itself (pysym_smcache_string): a single lookup
        on a fresh cache reads one name, not babylon.js's 1 MB of them."""
        key = (kind, idx)
        try:
            return self._singles[key]
        except KeyError:
            pass
        rt = self._rt
        with rt.lock:
            found = self._call("pysym_smcache_string", kind, idx, rt.out_slot)
            value = rt.result_bytes().decode("utf-8") if found else None
        if len(self._singles) < 4096:
            self._singles[key] = value
        return value

    def _name(self, idx: int) -> Optional[str]:
        if idx == _NONE:
            return None
        if self._names is not None:
            return self._names[idx]
        return self._single(1, idx)

    def _function(self, word: int, batch: bool = False) -> Optional[str]:
        if word == _NONE:
            return None
        if word == _ANONYMOUS:
            return "<anonymous>"
        if self._functions is None and not batch:
            return self._single(3, word)
        return self._function_table()[word]

    def lookup(self, line: int, col: int, bias: int = GREATEST_LOWER_BOUND) -> Optional[Token]:
        """The mapping for a generated position (0-based line and UTF-16 column), or None,
        as :meth:`SourceMap.lookup` gives it, with ``function_name`` as
        :meth:`SourceMap.function_name` gives it."""
        if not _in_range(line, col):
            return None
        rt = self._rt
        with rt.lock:
            if self._call("pysym_smcache_lookup", line, col, bias, rt.out_slot) == 0:
                return None
            w = rt.out(_wire.LOOKUP_OUT_WORDS)
        return _token(w[_wire.LOOKUP_OUT_DST_LINE], w[_wire.LOOKUP_OUT_DST_COL], self._source(w[_wire.LOOKUP_OUT_SRC]),
                      w[_wire.LOOKUP_OUT_SRC_LINE], w[_wire.LOOKUP_OUT_SRC_COL], self._name(w[_wire.LOOKUP_OUT_NAME]),
                      self._function(w[_wire.LOOKUP_OUT_FUNCTION]))

    def lookup_many(self, lines: Any, cols: Any, bias: int = GREATEST_LOWER_BOUND) -> List[Optional[Token]]:
        """Many lookups in one boundary crossing per batch (see :meth:`SourceMap.lookup_many`)."""
        out: List[Optional[Token]] = []
        with self._reading():
            batches = list(_pair_batches(self, lines, cols, "pysym_smcache_lookup_many", bias))
        for start, stop, raw in batches:
            found = _wire.decode_cache_lookups(raw, stop - start)
            words = found.records
            sources = self._sources
            names = self._name_table()
            width, f_name = _wire.TOKEN_WORDS, _wire.TOKEN_NAME
            for i, (idx, function) in enumerate(zip(found.indices, found.functions)):
                if idx == _NONE:
                    out.append(None)
                    continue
                j = width * i
                name = words[j + f_name]
                out.append(_token(words[j], words[j + 1], sources[words[j + 2]], words[j + 3], words[j + 4],
                                  None if name == _NONE else names[name], self._function(function, True)))
        return out

    def function_names(self, lines: Any, cols: Any) -> List[Optional[str]]:
        """:meth:`SourceMap.function_names` for the map the cache was built from (with the
        generated file it was given): the enclosing function's original name,
        ``"<anonymous>"``, or ``None`` for top-level code (and where no function map
        answers and the cache has no scopes). Needs :attr:`has_function_names`."""
        return [name for _, name in self._enclosing(lines, cols)]

    def _enclosing(self, lines: Any, cols: Any) -> List[Tuple[int, Optional[str]]]:
        """:meth:`function_names` with each answer's kind, as :meth:`SourceMap._enclosing`
        gives them (what the stack-trace naming reads)."""
        if not self.has_function_names:
            raise ValueError("function_names needs a cache built with the generated file, a map with a `scopes` "
                             "field or Metro function maps")
        out: List[Tuple[int, Optional[str]]] = []
        with self._reading():
            batches = list(_pair_batches(self, lines, cols, "pysym_smcache_function_names"))
        for start, stop, raw in batches:
            out.extend(_function_answers(raw, stop - start))
        return out

    def _enclosing_of(self, tokens: List[Optional[Token]]) -> List[Tuple[int, Optional[str]]]:
        """:meth:`_enclosing` at the positions ``tokens`` came from (:meth:`lookup_many`,
        greatest lower bound), from their ``function_name``: the module computed it with
        the token, so a trace names its frames without a second crossing (and the pages it
        would read again). The kind tells what the trace needs: no answer (also for a
        ``None`` token), top-level code, or a name (``FUNCTION_KIND_NAMED``, anonymous
        included)."""
        # the cache's flags tell top-level code (it has scopes) from no answer
        none_kind = _abi.FUNCTION_KIND_TOP_LEVEL if self._scope_names else _abi.FUNCTION_KIND_NO_ANSWER
        out: List[Tuple[int, Optional[str]]] = []
        for t in tokens:
            if t is None:
                out.append((_abi.FUNCTION_KIND_NO_ANSWER, None))
            elif t.function_name is None:
                out.append((none_kind, None))
            else:
                out.append((_abi.FUNCTION_KIND_NAMED, t.function_name))
        return out

    def __iter__(self) -> Iterator[Token]:
        """All segments in generated order, including those without an original position
        (without ``function_name``)."""
        return _iter_columns(self, _Strings(self._sources), _Strings(self._name_table()))
