"""The request side of crash symbolication: modules, addresses and their rules.

Address rules (what is looked up for an input frame):

* ``instruction_addr`` is a hex string (``"0x7f10..."``) or an integer (a decimal
  string is taken too); ``addr_mode`` is ``"abs"`` (default) or ``"rel:N"``, relative to
  the ``image_addr`` of module N.  Anything else makes the frame ``malformed``.
* The module of an address is the one whose ``[image_addr, image_addr + image_size)``
  holds it; none: ``unknown_image``.  Modules with a missing or bad ``image_addr`` /
  ``image_size``, or whose ranges overlap, are not used (each says why in
  ``debug_error``), so their addresses are ``unknown_image`` too.
* The first frame of a stack trace (the crashing instruction, or the innermost frame of
  a thread) is looked up as is.  Every other frame holds a return address, the
  instruction *after* the call, which may belong to the next line or even the next
  function; it is looked up inside the call instruction instead ("caller address"), as
  debuggers, Breakpad and Symbolicator do:

  - arm64: ``(addr & ~3) - 4`` (fixed 4-byte instructions: the call itself);
  - arm (32-bit): ``(addr & ~1) - 2`` (Thumb has 2-byte instructions; the start of
    the last halfword of the call);
  - x86 and x86_64: ``addr - 1``: instructions have any length and no alignment, and
    any byte inside the call finds its line;
  - anything else (an unknown architecture): ``addr - 1``.

  A frame with ``"trust": "context"`` (its address comes from the CPU context, i.e. it
  was executing) is not adjusted either; ``"adjust_instruction_addr": true/false`` on a
  frame overrides all of this.  The architecture is the module's ``arch`` in the
  request, else that of its debug file.  With ``frame_order: "caller_first"`` the
  crashing frame is the last one of each list.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ._ids import debug_id_from_build_id, format_debug_id, normalize_code_id, parse_debug_id

__all__ = ["Module", "StackFrame", "MODULE_TYPES", "parse_address", "caller_address"]

MODULE_TYPES = ("elf", "macho", "pe", "wasm", "breakpad")
_DECIMAL = re.compile(r"\A[0-9]+\Z")
_HEXNUM = re.compile(r"\A0[xX][0-9a-fA-F]+\Z")
_MAX = (1 << 64) - 1


def parse_address(value: Any) -> Optional[int]:
    """An address of a request (``"0x..."``, decimal string or int), ``None`` if invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= _MAX else None
    if type(value) is str and 2 < len(value) <= 18 and value[1] in "xX" and value[0] == "0":
        try:  # the common case, "0x7f...": one int() (which also takes "_" and signs: not here)
            if "_" not in value and value[2] not in "+- ":
                return int(value, 16)
        except ValueError:
            return None
    if isinstance(value, str):
        v = value.strip()
        if len(v) > 40:
            return None
        if _HEXNUM.match(v):
            n = int(v, 16)
        elif _DECIMAL.match(v):
            n = int(v)
        else:
            return None
        return n if n <= _MAX else None
    return None


def caller_address(addr: int, arch: Optional[str]) -> int:
    """The address looked up for a return address ``addr`` (see the module documentation)."""
    a = (arch or "").lower()
    if a in ("arm64", "aarch64", "arm64e", "arm64_32"):
        return max((addr & ~3) - 4, 0)
    if a.startswith("arm") or a.startswith("thumb"):
        return max((addr & ~1) - 2, 0)
    return max(addr - 1, 0)


@dataclass(frozen=True)
class Module:
    """A module (image) loaded in the crashed process, as in a request's ``modules``.

    ``image_addr``/``image_size``: where it was loaded; ``debug_id`` and ``code_id``
    identify its files (an ELF ``code_id`` is its GNU build id); ``debug_file`` and
    ``code_file`` are the paths the crashed machine knew them by.
    """

    type: str
    image_addr: int
    image_size: int
    debug_id: Optional[str] = None
    code_id: Optional[str] = None
    debug_file: Optional[str] = None
    code_file: Optional[str] = None
    arch: Optional[str] = None

    def ids(self) -> Optional[Tuple[str, int]]:
        """``(guid hex, age)`` of the debug id, derived from the build id for ELF."""
        parsed = parse_debug_id(self.debug_id)
        if parsed is None and self.type in ("elf", "wasm"):
            code = normalize_code_id(self.code_id)
            if code:
                parsed = debug_id_from_build_id(code)
        return parsed

    def normalized_code_id(self) -> Optional[str]:
        return normalize_code_id(self.code_id)

    def memo_key(self) -> Tuple[Any, ...]:
        """What finding this module's files depends on (not where it was loaded)."""
        return (self.type, self.ids(), self.normalized_code_id(), self.debug_file, self.code_file, self.arch)

    def to_dict(self) -> Dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if v is not None}
        d["image_addr"] = "0x%x" % self.image_addr
        d["image_size"] = self.image_size
        return d


@dataclass(frozen=True)
class StackFrame:
    """One output frame: ``status`` is ``symbolicated``, ``missing_symbol``,
    ``unknown_image``, ``missing`` or ``malformed``; ``original_index`` is the index of
    the input address it comes from (an inlined call adds frames with the same index,
    innermost first); ``lineno``/``colno`` are 1-based; ``sym_addr`` is absolute."""

    status: str
    original_index: int
    instruction_addr: Optional[int]
    function: Optional[str] = None
    raw_function: Optional[str] = None
    sym_addr: Optional[int] = None
    abs_path: Optional[str] = None
    filename: Optional[str] = None
    lineno: Optional[int] = None
    colno: Optional[int] = None
    package: Optional[str] = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "StackFrame":
        return cls(
            status=d["status"], original_index=d["original_index"],
            instruction_addr=parse_address(d.get("instruction_addr")),
            function=d.get("function"), raw_function=d.get("raw_function"),
            sym_addr=parse_address(d.get("sym_addr")), abs_path=d.get("abs_path"),
            filename=d.get("filename"), lineno=d.get("lineno"), colno=d.get("colno"),
            package=d.get("package"),
        )


def parse_module(raw: Any) -> Tuple[Optional[Module], Optional[str]]:
    """``(module, None)`` or ``(None, why it cannot be used)``; never raises."""
    if not isinstance(raw, Mapping):
        return None, "a module must be a JSON object"
    t = raw.get("type")
    if t not in MODULE_TYPES:
        return None, "unknown module type %r (one of %s)" % (t, ", ".join(MODULE_TYPES))
    if "image_addr" not in raw or raw.get("image_addr") is None:
        return None, "image_addr is missing"
    addr = parse_address(raw.get("image_addr"))
    if addr is None:
        return None, "image_addr is not an address: %r" % (_short(raw.get("image_addr")),)
    if raw.get("image_size") is None:
        return None, "image_size is missing"
    size = parse_address(raw.get("image_size"))
    if size is None or size == 0:
        return None, "image_size is not a positive size: %r" % (_short(raw.get("image_size")),)
    if addr + size > _MAX + 1:
        return None, "image_addr + image_size is beyond the 64-bit address space"

    def text(key: str) -> Optional[str]:
        v = raw.get(key)
        return v if isinstance(v, str) and v else None

    m = Module(type=t, image_addr=addr, image_size=size, debug_id=text("debug_id"), code_id=text("code_id"),
               debug_file=text("debug_file"), code_file=text("code_file"), arch=text("arch"))
    if text("debug_id") and parse_debug_id(m.debug_id) is None:
        return None, "debug_id is not a debug id: %r" % (_short(raw.get("debug_id")),)
    if text("code_id") and m.type in ("elf", "wasm", "macho") and normalize_code_id(m.code_id) is None:
        return None, "code_id is not hexadecimal: %r" % (_short(raw.get("code_id")),)
    return m, None


def _short(v: Any) -> Any:
    if isinstance(v, str) and len(v) > 60:
        return v[:60] + "..."
    return v


def check_overlaps(modules: List[Optional[Module]], errors: List[Optional[str]]) -> None:
    """Marks every pair of overlapping modules unusable (neither can own the addresses)."""
    spans = sorted((m.image_addr, m.image_addr + m.image_size, i) for i, m in enumerate(modules) if m is not None)
    end_max, owner = -1, -1
    for start, end, i in spans:
        if start < end_max:
            errors[i] = "image range 0x%x..0x%x overlaps module %d" % (start, end, owner)
            if errors[owner] is None:
                errors[owner] = "image range overlaps module %d" % i
        if end > end_max:
            end_max, owner = end, i
    for i, e in enumerate(errors):
        if e is not None:
            modules[i] = None


def _stamp(path: str) -> Optional[Tuple[str, int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return path, st.st_mtime_ns, st.st_size


def _matches(module: Module, obj: Any) -> Optional[str]:
    """``None`` when the file is the module's, else why not."""
    want_code = module.normalized_code_id()
    have_code = (obj.code_id or "").lower() or None
    if module.type == "elf" and want_code and have_code:
        return None if want_code == have_code else "build id %s, not %s" % (have_code, want_code)
    ids = module.ids()
    if ids is None:
        return "the module has no debug_id or code_id to match"
    have = parse_debug_id(obj.debug_id)
    if have is None:
        return "the file has no debug id"
    if have != ids:
        return "debug id %s, not %s" % (format_debug_id(*have), format_debug_id(*ids))
    return None
