"""The symbol proxy's paths: a symstore (or debuginfod) path back to the module and file
type it names, so that any configured source, whatever its layout, can answer it through
its own ``locations()`` (the layout rules live in ``_stores`` only)."""

from __future__ import annotations

import re
from typing import Optional, Tuple

from .._symbolicate import Module

__all__ = ["parse_symstore_path", "debuginfod_module"]

_HEX = re.compile(r"\A[0-9a-fA-F]+\Z")


def _mod(**kw: Optional[str]) -> Module:
    return Module(image_addr=0, image_size=0, **kw)  # type: ignore[arg-type]


def parse_symstore_path(path: str) -> Optional[Tuple[Module, str]]:
    """``(module, filetype)`` for ``name/KEY/name`` (symstore, SSQP keys, Breakpad), also
    with the two-character ``index2`` prefix; ``None`` when it names nothing."""
    parts = path.split("/")
    if len(parts) == 4 and len(parts[0]) <= 2 and parts[1][:2].lower() == parts[0].lower():
        parts = parts[1:]
    if len(parts) != 3 or any(p in ("", ".", "..") for p in parts):
        return None
    name, key, file = parts
    lname, lkey = name.lower(), key.lower()

    def hexkey(k: str) -> Optional[str]:
        return k.lower() if _HEX.match(k) else None

    if lname == "_.debug" and lkey.startswith("elf-buildid-sym-"):
        b = hexkey(key[16:])
        return (_mod(type="elf", code_id=b), "elf_debug") if b else None
    if lkey.startswith("elf-buildid-"):
        b = hexkey(key[12:])
        return (_mod(type="elf", code_id=b, code_file=name), "elf_code") if b else None
    if lname == "_.dwarf" and lkey.startswith("mach-uuid-sym-"):
        u = hexkey(key[14:])
        return (_mod(type="macho", debug_id=u), "mach_debug") if u and len(u) == 32 else None
    if lkey.startswith("mach-uuid-"):
        u = hexkey(key[10:])
        return (_mod(type="macho", debug_id=u, code_file=name), "mach_code") if u and len(u) == 32 else None
    if not _HEX.match(key):
        return None
    if file.lower().endswith(".sym"):
        if len(key) < 33:
            return None
        kind = "pe" if lname.endswith(".pdb") else "elf"
        return _mod(type=kind, debug_id=key, debug_file=name), "breakpad"
    if lname.endswith(".pdb") and len(key) >= 33:
        return _mod(type="pe", debug_id=key, debug_file=name), "pdb"
    return _mod(type="pe", code_id=key, code_file=name), "pe"


def debuginfod_module(build_id: str, what: str) -> Optional[Tuple[Module, str]]:
    """debuginfod's ``/buildid/B/debuginfo`` and ``/buildid/B/executable``."""
    if not _HEX.match(build_id) or len(build_id) < 8 or what not in ("debuginfo", "executable"):
        return None
    return _mod(type="elf", code_id=build_id.lower()), ("elf_debug" if what == "debuginfo" else "elf_code")
