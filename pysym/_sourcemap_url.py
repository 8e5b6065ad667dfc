"""Finding the source map of generated JavaScript: ``sourceMappingURL``, ``debugId``, data URLs.

``find_sourcemap_url`` follows ECMA-426 section "Linking through inline annotations",
algorithm *JavaScriptExtractSourceMapURL without parsing*: the source is split into lines
at every ECMAScript line terminator; on each line, whitespace is skipped, ``//`` comments
and single-line ``/* ... */`` comments are matched against
``^[@#]\\s*sourceMappingURL=(\\S*?)\\s*$``, and any other code character resets the
result.  The last match that is followed only by whitespace and comments wins.  Both the
current ``//#`` and the legacy ``//@`` prefix are accepted, as the standard requires of
consumers.

``find_debug_id`` follows the Debug ID proposal (tc39/ecma426 ``proposals/debug-id.md``):
``//# debugId=<UUID>`` on one of the last five lines of the file.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from typing import Optional, Union
from urllib.parse import unquote_to_bytes

from ._errors import InvalidInputError

__all__ = ["find_sourcemap_url", "find_debug_id", "decode_data_url"]

# ECMAScript LineTerminatorSequence: CRLF, LF, CR, LS, PS.
_LINE_SPLIT = re.compile("\r\n|[\n\r\u2028\u2029]")
# MatchSourceMapURL: ``\s`` as in ECMAScript regular expressions (WhiteSpace and
# LineTerminator); Python's Unicode ``\s`` is the same set plus U+001C..U+001F, which a
# comment body can contain only by accident.
_PATTERN = re.compile(r"[@#]\s*sourceMappingURL=(\S*?)\s*\Z")
_DEBUG_ID = re.compile(
    r"//# debugId=([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\s*\Z"
)
_DEBUG_ID_LINES = 5
_KEEP = "<keep>"  # sentinel: compared by identity, so no URL can be mistaken for it


def _text(js: Union[str, bytes, bytearray, memoryview]) -> str:
    if isinstance(js, str):
        return js
    return bytes(js).decode("utf-8", errors="replace")


def _is_js_whitespace(ch: str) -> bool:
    # ECMAScript WhiteSpace: TAB, VT, FF, ZWNBSP (U+FEFF) and any Zs code point.
    return ch in "\t\x0b\x0c\ufeff" or unicodedata.category(ch) == "Zs"


def _match(comment: str) -> Optional[str]:
    m = _PATTERN.match(comment)
    return m.group(1) if m else None


def _scan_line(line: str, last: Optional[str]) -> Optional[str]:
    pos = 0
    n = len(line)
    while pos < n:
        first = line[pos]
        pos += 1
        if first == "/" and pos < n:
            second = line[pos]
            pos += 1
            if second == "/":
                url = _match(line[pos:])
                if url is not None:
                    last = url
                pos = n
            elif second == "*":
                end = line.find("*/", pos)
                if end < 0:
                    # An unclosed multi-line comment: the rest of the line is comment.
                    pos = n
                else:
                    url = _match(line[pos:end])
                    if url is not None:
                        last = url
                    pos = end + 2
            else:
                last = None
        elif not _is_js_whitespace(first):
            # A code character: an annotation is only valid at the end of the code.
            last = None
    return last


def find_sourcemap_url(js: Union[str, bytes, bytearray, memoryview]) -> Optional[str]:
    """Return the source map URL annotated in JavaScript source, or ``None``.

    The URL is returned as written (not resolved, not percent-decoded); it may be a
    relative URL, an absolute URL or a ``data:`` URL (see :func:`decode_data_url`).
    Bytes are decoded as UTF-8.
    """
    text = _text(js)
    # Each line acts on the result as its last action: keep it (whitespace and
    # non-matching comments only), reset it (code) or set it (an annotation).  So the
    # lines can be scanned from the end, stopping at the first line that acts (the
    # standard notes this optimisation).
    lines = _LINE_SPLIT.split(text)
    for i in range(len(lines) - 1, -1, -1):
        effect = _scan_line(lines[i], _KEEP)
        if effect is not _KEEP:  # identity: a URL spelled "<keep>" is another object
            return effect
    return None


def find_debug_id(js: Union[str, bytes, bytearray, memoryview]) -> Optional[str]:
    """Return the ``//# debugId=<UUID>`` of generated JavaScript, lower-cased, or ``None``.

    Per the Debug ID proposal the comment is a line of its own among the last five lines
    (trailing blank lines are not counted).
    """
    text = _text(js)
    lines = _LINE_SPLIT.split(text)
    while lines and not lines[-1].strip():
        lines.pop()
    for line in reversed(lines[-_DEBUG_ID_LINES:]):
        m = _DEBUG_ID.match(line.strip())
        if m:
            return m.group(1).lower()
    return None


_ASCII_WS = re.compile(rb"[\t\n\x0c\r ]")
_B64_ALPHABET = re.compile(rb"[A-Za-z0-9+/]*\Z")


def _forgiving_base64(data: bytes) -> bytes:
    # WHATWG "forgiving-base64 decode".
    data = _ASCII_WS.sub(b"", data)
    if len(data) % 4 == 0:
        if data.endswith(b"=="):
            data = data[:-2]
        elif data.endswith(b"="):
            data = data[:-1]
    if len(data) % 4 == 1 or not _B64_ALPHABET.match(data):
        raise InvalidInputError("data URL: invalid base64 payload")
    data += b"=" * (-len(data) % 4)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError("data URL: invalid base64 payload") from None


def decode_data_url(url: str) -> bytes:
    """Decode a ``data:`` URL (as used for inline source maps) to its bytes.

    Handles ``data:application/json;base64,<base64>`` (also with a ``charset``
    parameter) and percent-encoded ``data:application/json,<json>``, following the
    WHATWG fetch "data: URL processor" (the body is percent-decoded, then base64-decoded
    when the media type ends in ``;base64``).  Raises ``InvalidInputError`` when *url* is
    not a well-formed data URL.
    """
    if not isinstance(url, str):
        raise InvalidInputError("data URL must be a string")
    stripped = url.strip(" \t\n\x0c\r")
    if stripped[:5].lower() != "data:":
        raise InvalidInputError("not a data: URL")
    rest = stripped[5:]
    hash_at = rest.find("#")
    if hash_at >= 0:
        rest = rest[:hash_at]
    comma = rest.find(",")
    if comma < 0:
        raise InvalidInputError("data URL has no ',' before its payload")
    mime = rest[:comma].strip(" \t\n\x0c\r")
    try:
        body = unquote_to_bytes(rest[comma + 1 :])
    except (UnicodeError, ValueError):
        raise InvalidInputError("data URL: payload is not ASCII") from None
    m = re.search(r";[ \t]*base64[ \t]*\Z", mime, re.IGNORECASE)
    if m:
        return _forgiving_base64(body)
    return body
