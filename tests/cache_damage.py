"""Source map caches damaged one bit at a time, and what opening and using them must give:
an answer or :class:`pysym.InvalidInputError` naming the cache, never a crash or another
error (shared by the byte-flip tests of ``test_smcache*.py``)."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Tuple

import pysym


def bit_flips(good: bytes, header: int = 12, spread: int = 300) -> Iterator[bytes]:
    """``good`` with bit 0 or bit 7 flipped: at each header word from ``header`` on (counts,
    the section directory), then at about ``spread`` places spread over the tables."""
    for at in list(range(header, 216, 4)) + list(range(216, len(good), max(1, len(good) // spread))):
        for flip in (0x01, 0x80):
            b = bytearray(good)
            b[at] ^= flip
            yield bytes(b)


def answered_and_refused(copies: Iterable[bytes], use: Callable[[Any], None]) -> Tuple[int, int]:
    """Opens each copy and ``use``s it; how many answered and how many were refused."""
    answered = refused = 0
    for data in copies:
        try:
            with pysym.SourceMapCache.from_bytes(data) as c:
                use(c)
            answered += 1
        except pysym.InvalidInputError as e:
            assert "source map cache" in str(e)
            refused += 1
    return answered, refused
