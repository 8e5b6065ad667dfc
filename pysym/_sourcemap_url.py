"""Finding the source map of generated JavaScript: ``sourceMappingURL``, ``debugId``, data URLs.

The scanning is the module's (``wasm/core/src/js/links.rs``, shared with the browser
host), so the untrusted file is read inside the sandbox:

``find_sourcemap_url`` follows ECMA-426 section "Linking through inline annotations",
algorithm *JavaScriptExtractSourceMapURL without parsing*: the source is split into lines
at every ECMAScript line terminator; on each line, whitespace is skipped, ``//`` comments
and single-line ``/* ... */`` comments are matched against
``^[@#]\\s*sourceMappingURL=(\\S*?)\\s*$``, and any other code character resets the
result.  The last match that is followed only by whitespace and comments wins.  Both the
current ``//#`` and the legacy ``//@`` prefix are accepted, as the standard requires of
consumers.  Whitespace is ECMAScript's (``\\s`` of its regular expressions).

``find_debug_id`` follows the Debug ID proposal (tc39/ecma426 ``proposals/debug-id.md``):
``//# debugId=<UUID>`` on one of the last five lines of the file.
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

from . import _abi, _wire
from ._errors import InvalidInputError

__all__ = ["find_sourcemap_url", "find_debug_id", "decode_data_url"]

Source = Union[str, bytes, bytearray, memoryview]


def find_links(js: Source) -> Tuple[Optional[str], Optional[str]]:
    """``(find_sourcemap_url(js), find_debug_id(js))`` with one pass of the module."""
    from ._host import get_runtime

    if isinstance(js, str):
        # a lone surrogate becomes "?": one code point, code either way, so the offsets
        # (in code points) still cut the caller's string
        data = js.encode("utf-8", "replace")  # type: Union[bytes, memoryview]
        units = _abi.UNITS_CODE_POINTS
    else:
        data = memoryview(js).cast("B")
        units = _abi.UNITS_UTF8
    if not len(data):
        return None, None
    rt = get_runtime()
    with rt.lock:
        ptr = rt.put_input(data)
        rt.check(rt.call("pysym_js_find_links", ptr, len(data), units, rt.out_slot))
        words = rt.out(_wire.LINKS_OUT_WORDS)

    def cut(start: int, end: int) -> Optional[str]:
        if start == _abi.NONE:
            return None
        if isinstance(js, str):
            return js[start:end]
        return bytes(data[start:end]).decode("utf-8", "replace")

    url = cut(words[_wire.LINKS_OUT_URL_START], words[_wire.LINKS_OUT_URL_END])
    debug_id = cut(words[_wire.LINKS_OUT_DEBUG_ID_START], words[_wire.LINKS_OUT_DEBUG_ID_END])
    return url, debug_id.lower() if debug_id is not None else None


def find_sourcemap_url(js: Source) -> Optional[str]:
    """Return the source map URL annotated in JavaScript source, or ``None``.

    The URL is returned as written (not resolved, not percent-decoded); it may be a
    relative URL, an absolute URL or a ``data:`` URL (see :func:`decode_data_url`).
    Bytes are read as UTF-8 (a sequence that is not UTF-8 reads as U+FFFD).
    """
    return find_links(js)[0]


def find_debug_id(js: Source) -> Optional[str]:
    """Return the ``//# debugId=<UUID>`` of generated JavaScript, lower-cased, or ``None``.

    Per the Debug ID proposal the comment is a line of its own among the last five lines
    (trailing blank lines are not counted).
    """
    return find_links(js)[1]


def decode_data_url(url: str) -> bytes:
    """Decode a ``data:`` URL (as used for inline source maps) to its bytes.

    Handles ``data:application/json;base64,<base64>`` (also with a ``charset``
    parameter) and percent-encoded ``data:application/json,<json>``, following the
    WHATWG fetch "data: URL processor" (the body is percent-decoded, then base64-decoded
    when the media type ends in ``;base64``; forgiving base64).  Decoded by the module.
    Raises ``InvalidInputError`` when *url* is not a well-formed data URL.
    """
    from ._host import get_runtime

    if not isinstance(url, str):
        raise InvalidInputError("data URL must be a string")
    try:
        data = url.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError("data URL: not valid Unicode (a lone surrogate)") from None
    rt = get_runtime()
    with rt.lock:
        ptr = rt.put_input(data)
        rt.check(rt.call("pysym_decode_data_url", ptr, len(data), rt.out_slot))
        return rt.result_bytes()
