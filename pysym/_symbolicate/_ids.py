"""Debug and code identifiers: normalising them and deriving one from the other.

A debug id is a GUID plus an age (``ed91dfef-e0ec-1a52-015c-bfd4658183e5`` or Breakpad's
``ED91DFEFE0EC1A52015CBFD4658183E50``); an ELF code id is the GNU build id in hex; a
Mach-O code id is its UUID.  The ELF debug id is the first 16 bytes of the build id read
as a little-endian GUID (the convention of Breakpad and Symbolicator), so it can be
derived from the code id but not back (longer build ids lose their tail).
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

_HEX = re.compile(r"\A[0-9a-f]+\Z")


def parse_debug_id(text: Optional[str]) -> Optional[Tuple[str, int]]:
    """``(guid as 32 lowercase hex digits, age)``, ``None`` when ``text`` is not a debug id."""
    if not isinstance(text, str):
        return None
    t = text.strip().lower().replace("-", "")
    if len(t) < 32 or not _HEX.match(t):
        return None
    guid, age = t[:32], t[32:]
    if len(age) > 8:
        return None
    return guid, int(age, 16) if age else 0


def format_debug_id(guid: str, age: int) -> str:
    """The canonical text form: dashed GUID, ``-age`` in hex when the age is not 0."""
    s = "%s-%s-%s-%s-%s" % (guid[:8], guid[8:12], guid[12:16], guid[16:20], guid[20:32])
    return s if age == 0 else "%s-%x" % (s, age)


def breakpad_id(guid: str, age: int) -> str:
    """Breakpad's form: GUID and age in uppercase hex without dashes."""
    return ("%s%X" % (guid, age)).upper()


def normalize_code_id(text: Optional[str]) -> Optional[str]:
    if not isinstance(text, str):
        return None
    t = text.strip().lower().replace("-", "")
    if not t or len(t) % 2 or not _HEX.match(t):
        return None
    return t


def _swap_guid(b: bytes) -> bytes:
    """The first three GUID fields byte-swapped (little- to big-endian and back)."""
    return b[3::-1] + b[5:3:-1] + b[7:5:-1] + b[8:]


def debug_id_from_build_id(build_id: str) -> Optional[Tuple[str, int]]:
    """The ELF debug id of a GNU build id (hex): its first 16 bytes as a little-endian GUID."""
    b = bytes.fromhex(build_id)
    if not b:
        return None
    return _swap_guid((b + bytes(16))[:16]).hex(), 0


def build_id_from_debug_id(guid: str) -> str:
    """The first 16 bytes of a build id, back from an ELF debug id (all there is of it)."""
    return _swap_guid(bytes.fromhex(guid)).hex()
