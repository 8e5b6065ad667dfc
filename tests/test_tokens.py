"""Token (a frozen dataclass with slots, made column-wise) and SourceMap.lookup_many through
pysym_sourcemap_lookup_distinct: the same answers as one lookup per position and as the
per-position export (pysym_sourcemap_lookup_many), one object per token."""

from __future__ import annotations

import array
import copy
import dataclasses
import json
import pickle
import random
import weakref

import pytest

import pysym
from pysym import _api, _wire

NONE = 0xFFFFFFFF


def test_token_is_a_frozen_dataclass_that_pickles_and_copies():
    t = pysym.Token(1, 2, "a.js", 3, 4, "n")
    assert dataclasses.is_dataclass(t) and [f.name for f in dataclasses.fields(t)] == [
        "dst_line", "dst_col", "src", "src_line", "src_col", "name", "function_name"]
    assert t == pysym.Token(1, 2, "a.js", 3, 4, "n", None) and hash(t) == hash(pysym.Token(1, 2, "a.js", 3, 4, "n"))
    assert t != pysym.Token(1, 2, "a.js", 3, 4, None) and t != (1, 2, "a.js", 3, 4, "n", None)
    assert repr(t) == ("Token(dst_line=1, dst_col=2, src='a.js', src_line=3, src_col=4, name='n', "
                       "function_name=None)")
    for change in (lambda: setattr(t, "src", "b.js"), lambda: setattr(t, "other", 1),
                   lambda: delattr(t, "name")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            change()
    assert dataclasses.asdict(t)["name"] == "n"
    assert dataclasses.replace(t, name=None, function_name="f") == pysym.Token(1, 2, "a.js", 3, 4, None, "f")
    for again in (pickle.loads(pickle.dumps(t)), copy.copy(t), copy.deepcopy(t)):
        assert again == t and type(again) is pysym.Token
    assert weakref.ref(t)() is t
    assert not hasattr(t, "__dict__")  # slots: no dict per token


def test_tokens_made_column_wise_equal_tokens_made_one_by_one():
    cols = ([0, 5], [1, 6], ["a.js", None], [2, None], [3, None], ["x", None])
    made = _api._make_tokens(2, *cols)
    assert made == [pysym.Token(0, 1, "a.js", 2, 3, "x"), pysym.Token(5, 6, None, None, None, None)]
    assert made == [_api._token(*row) for row in zip(*cols)]
    assert all(type(t) is pysym.Token and t.function_name is None for t in made)


MAP = {"version": 3, "sources": ["a.js", "b.js", None], "names": ["x", "y", "z"],
       # line 0: columns 0, 4, 4, 4, 9 (a run at 4), one without source at 12; line 2 only
       # segments without a source; line 3 one without a name
       "mappings": "AAAAA,IAAAC,AAAAC,AACAA,KACAA,G;;A,C;AAAA"}


def _batch(sm: pysym.SourceMap, export, decode, lines, cols, bias):
    """A lookup export called on (line, column) pairs, its result decoded."""
    rt = sm._rt
    la, ca = array.array("I", lines), array.array("I", cols)
    pairs = array.array("I", bytes(8 * len(la)))
    pairs[0::2], pairs[1::2] = la, ca
    with rt.lock:
        ptr = rt.input_buffer(pairs)
        rt.check(rt.call(export, sm._h(), ptr, len(la), bias, rt.out_slot))
        return decode(rt.result_bytes(), len(la))


def _per_position(sm: pysym.SourceMap, lines, cols, bias):
    return _batch(sm, "pysym_sourcemap_lookup_many", _wire.decode_lookups, lines, cols, bias)


@pytest.mark.parametrize("bias", [pysym.GREATEST_LOWER_BOUND, pysym.LEAST_UPPER_BOUND])
def test_lookup_many_answers_as_single_lookups_with_one_object_per_token(engine, bias):
    rnd = random.Random(bias)
    lines = [rnd.randrange(6) for _ in range(3000)]
    cols = [rnd.choice((0, 1, 3, 4, 5, 9, 10, 12, 13, 2**32 - 1)) for _ in range(3000)]
    with pysym.SourceMap.from_bytes(json.dumps(MAP)) as sm:
        got = sm.lookup_many(lines, cols, bias)
        # a second batch straight after the first (its tokens not yet in the cache): the
        # same objects
        assert all(a is b for a, b in zip(sm.lookup_many(lines, cols, bias), got))
        # single lookups hand out the batch's objects
        assert all(sm.lookup(line, col, bias) is t for line, col, t in zip(lines, cols, got))
        assert any(t is None for t in got) and any(t is not None and t.name is None for t in got)
        # the per-position export agrees: found exactly where it has an index
        old = _per_position(sm, lines, cols, bias)
        assert [t is not None for t in got] == [i != NONE for i in old.indices]
        by_index = {}
        for t, i in zip(got, old.indices):
            if t is not None:
                assert by_index.setdefault(i, t) is t  # one object per token index
        # a second batch (tokens cached) hands out the same objects
        again = sm.lookup_many(lines[::-1], cols[::-1], bias)
        assert all(a is b for a, b in zip(again, got[::-1]))


def test_a_batch_mixing_cached_and_new_tokens(engine):
    """A warm map makes only the tokens no batch made before: the cached ones come back as
    the same objects, the new ones equal a fresh map's answers, in the positions' order."""
    rnd = random.Random(7)
    positions = [(line, col) for line in range(6) for col in (0, 1, 3, 4, 5, 9, 10, 12, 13)]
    with pysym.SourceMap.from_bytes(json.dumps(MAP)) as fresh:
        want = {p: fresh.lookup(*p) for p in positions}
    with pysym.SourceMap.from_bytes(json.dumps(MAP)) as sm:
        seen = {}
        for size in (3, 5, 9, len(positions)):
            batch = rnd.sample(positions, size)
            got = sm.lookup_many([p[0] for p in batch], [p[1] for p in batch])
            assert got == [want[p] for p in batch]
            for p, t in zip(batch, got):
                assert seen.setdefault(p, t) is t
        assert len({id(t) for t in seen.values() if t is not None}) >= 5


def test_a_single_lookup_after_a_first_batch_gets_the_batch_token(engine):
    with pysym.SourceMap.from_bytes(json.dumps(MAP)) as sm:
        first = sm.lookup_many([0, 0, 3], [4, 9, 0])
        assert [t.dst_col for t in first] == [4, 9, 0]
        assert sm.lookup(0, 9) is first[1] and sm.lookup(0, 4) is first[0]
        assert sm.lookup(3, 0) is first[2] and sm.lookup(0, 0) not in first


def test_distinct_lookups_layout_against_the_per_position_export(engine):
    rnd = random.Random(5)
    lines = [rnd.randrange(6) for _ in range(500)]
    cols = [rnd.randrange(15) for _ in range(500)]
    with pysym.SourceMap.from_bytes(json.dumps(MAP)) as sm:
        found = _batch(sm, "pysym_sourcemap_lookup_distinct", _wire.decode_distinct_lookups, lines, cols, 0)
        old = _per_position(sm, lines, cols, 0)
    n = found.n
    columns = (found.dst_line, found.dst_col, found.src, found.src_line, found.src_col, found.name)
    # each distinct token once, in the order of first occurrence
    first = list(dict.fromkeys(i for i in old.indices if i != NONE))
    assert list(found.indices) == first and 3 <= n < len(lines)
    for k, (slot, index) in enumerate(zip(found.slots, old.indices)):
        if index == NONE:
            assert slot == n
        else:
            assert found.indices[slot] == index
            record = old.records[_wire.TOKEN_WORDS * k : _wire.TOKEN_WORDS * (k + 1)]
            assert [c[slot] for c in columns] == list(record)


def test_strings_at_gives_the_entries_of_the_tables_at_any_indices(engine):
    """pysym_sourcemap_strings_at (the names a lookup batch uses): the same entries as the
    whole tables, null ones included, in the order asked; a bad index or kind raises."""
    from pysym import _abi

    with pysym.SourceMap.from_bytes(json.dumps(MAP)) as sm:
        for kind, table in ((_abi.STRINGS_SOURCES, sm.sources), (_abi.STRINGS_NAMES, sm.names)):
            at = _api._StringsAt(sm, kind, len(table))
            wanted = [2, 0, 2, 1, 0]
            assert at.values_at(wanted) == [table[i] for i in wanted]
            assert at.values_at([]) == [] and at[1] == table[1] and at.to_list() == table
        with pytest.raises(pysym.PysymError, match="out of range"):
            _api._StringsAt(sm, _abi.STRINGS_NAMES, 3).values_at([0, 3])
        with pytest.raises(pysym.PysymError, match="kind"):
            _api._StringsAt(sm, 2, 3).values_at([0])
        # a lookup batch on a fresh map reads its names this way
    with pysym.SourceMap.from_bytes(json.dumps(MAP)) as sm:
        got = sm.lookup_many([0, 0, 3], [4, 9, 0])
        assert sm._names is None  # (not fetched)
        assert [t.name for t in got] == ["y", "z", None]
        assert got == [sm.lookup(0, 4), sm.lookup(0, 9), sm.lookup(3, 0)]
