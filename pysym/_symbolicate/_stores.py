"""Symbol stores: where the debug file of a module may be, and how to get it.

A store answers two questions, and the symbolication code asks nothing else:

* :meth:`Store.locations` -- the places to try for a module, in order (a relative path
  per layout, an absolute path for the system conventions); cheap, no I/O;
* :meth:`Store.fetch` -- a local file for one location, or ``None`` when there is
  nothing there.  The file is then read by ranges inside the sandbox.  Remote stores
  (HTTP, S3, debuginfod servers) download into their own cache here and return the
  cached file: they plug in by implementing these two methods.

Whether a file fits the module (its id, its features) is decided by the caller after
reading the file's headers in the sandbox, so a store never parses anything.

Layouts of a directory store (``FilesystemStore(path, layout)``), for a build id ``B``
(ELF code id, lowercase hex), a Mach-O UUID ``U`` and a debug id ``D`` (Breakpad form,
uppercase GUID + age), ``name`` the file name of the module's debug (or code) file:

=================  ==========================================================================
``native``         ELF: GDB's ``.build-id/B[:2]/B[2:].debug`` (and ``.build-id/B[:2]/B[2:]``,
                   the executable); Mach-O: LLDB's file-mapped UUID folders
                   ``U[0:4]/U[4:8]/U[8:12]/U[12:16]/U[16:20]/U[20:]`` (uppercase); PE/PDB:
                   Microsoft symbol server paths; every type: Breakpad ``name/D/name.sym``
                   (``name`` without ``.pdb`` for the ``.sym``)
``symstore``       Microsoft symbol server: ``name/SIGNATUREAGE/name``; ELF and Mach-O by
                   the SSQP keys ``name/elf-buildid-B/name``, ``_.debug/elf-buildid-sym-B/_.debug``,
                   ``name/mach-uuid-U/name``, ``_.dwarf/mach-uuid-sym-U/_.dwarf``; Breakpad
                   ``name/D/name.sym``
``symstore_index2``  as ``symstore`` with the two-tier prefix: the first two characters
                   of the first path segment (``li/libfoo.so/...``)
``ssqp``           as ``symstore`` with every path in lowercase (the SSQP rule)
``unified``        ``X[:2]/X[2:]/debuginfo``, ``.../executable``, ``.../breakpad`` with
                   ``X`` the build id (ELF), the UUID (Mach-O) or the debug id, lowercase
``debuginfod``     ``buildid/B/debuginfo`` and ``buildid/B/executable`` (ELF only)
=================  ==========================================================================

``casing`` (``"default"``, ``"lowercase"``, ``"uppercase"``) overrides a layout's casing
for the whole relative path, for stores copied to case-folding file systems.

:class:`SystemStore` follows the conventions of the local system: the module's own
code and debug files where they are named, ``/usr/lib/debug/.build-id`` (GDB's global
debug directory), and the dSYM bundle beside a Mach-O binary.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ._ids import breakpad_id, build_id_from_debug_id

__all__ = ["Store", "FilesystemStore", "SystemStore", "Location", "LAYOUTS"]

LAYOUTS = ("native", "symstore", "symstore_index2", "ssqp", "unified", "debuginfod")
CASINGS = ("default", "lowercase", "uppercase")
#: seconds a store's "not found" is remembered unless its configuration says otherwise
DEFAULT_NEGATIVE_TTL = 300.0
#: file types as Symbolicator's source filters name them
FILETYPES = ("elf_code", "elf_debug", "mach_code", "mach_debug", "pe", "pdb", "breakpad", "wasm_debug", "wasm_code")


@dataclass(frozen=True)
class Location:
    """One place to look in one store: ``path`` is relative to the store (or absolute for
    the system store); ``filetype`` is one of :data:`FILETYPES`."""

    path: str
    filetype: str
    #: a debuglink's CRC-32: the file is used only if its contents have this CRC
    crc: Optional[int] = None


class Store:
    """The interface of a symbol store (see the module documentation)."""

    #: the name shown in ``candidates[].source``
    id: str = "store"
    #: seconds a module this store does not have is remembered as missing (0: never; a
    #: module is asked for again when the smallest of its stores' TTLs ends)
    negative_ttl: float = DEFAULT_NEGATIVE_TTL

    def locations(self, module: Any) -> List[Location]:
        raise NotImplementedError

    def fetch(self, location: Location) -> "Optional[Union[str, bytes]]":
        """A local file with the bytes at ``location`` (its path), ``None`` when there is
        none; or the bytes themselves when they could not be written anywhere (a remote
        store's download on a full disk): read in the sandbox from memory, never cached."""
        raise NotImplementedError

    def describe(self, location: Location) -> str:
        """The location as reported in ``candidates[].location``."""
        return location.path


def _name(path: Optional[str]) -> Optional[str]:
    if not path:
        return None
    # Crash reports from Windows carry backslashes; the file name is after the last one.
    base = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return base or None


def _ids(module: Any) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """(build id or UUID hex, lowercase; Breakpad debug id; GUID hex) of a module."""
    ident = module.ids()
    code = module.normalized_code_id()
    bp = breakpad_id(*ident) if ident else None
    guid = ident[0] if ident else None
    if module.type in ("elf", "wasm"):
        key = code or (build_id_from_debug_id(guid) if guid else None)
    elif module.type == "macho":
        key = guid or code
    else:
        key = guid
    return key, bp, guid


def _breakpad_paths(module: Any, bp: Optional[str]) -> List[Location]:
    name = _name(module.debug_file) or _name(module.code_file)
    if not name or not bp:
        return []
    sym = (name[:-4] if name.lower().endswith(".pdb") else name) + ".sym"
    return [Location("%s/%s/%s" % (name, bp, sym), "breakpad")]


def layout_locations(layout: str, module: Any) -> List[Location]:
    """The relative paths of ``module``'s files in a store of ``layout`` (default casing)."""
    key, bp, guid = _ids(module)
    t = module.type
    out: List[Location] = []
    if layout == "native":
        if t in ("elf", "wasm") and key:
            ft = "elf" if t == "elf" else "wasm"
            out.append(Location(".build-id/%s/%s.debug" % (key[:2], key[2:]), ft + "_debug"))
            out.append(Location(".build-id/%s/%s" % (key[:2], key[2:]), ft + "_code"))
        elif t == "macho" and key:
            u = key.upper()
            out.append(Location("/".join((u[0:4], u[4:8], u[8:12], u[12:16], u[16:20], u[20:])), "mach_debug"))
        elif t == "pe":
            out.extend(_symstore_pe(module, bp))
        if t != "breakpad" or bp:
            out.extend(_breakpad_paths(module, bp))
    elif layout in ("symstore", "symstore_index2", "ssqp"):
        if t in ("elf", "wasm") and key:
            name = _name(module.code_file) or _name(module.debug_file)
            if name:
                out.append(Location("%s/elf-buildid-%s/%s" % (name, key, name), "elf_code"))
            out.append(Location("_.debug/elf-buildid-sym-%s/_.debug" % key, "elf_debug"))
        elif t == "macho" and key:
            name = _name(module.code_file) or _name(module.debug_file)
            if name:
                out.append(Location("%s/mach-uuid-%s/%s" % (name, key, name), "mach_code"))
            out.append(Location("_.dwarf/mach-uuid-sym-%s/_.dwarf" % key, "mach_debug"))
        elif t == "pe":
            out.extend(_symstore_pe(module, bp))
        out.extend(_breakpad_paths(module, bp))
        if layout == "symstore_index2":
            out = [Location("%s/%s" % (loc.path.split("/", 1)[0][:2], loc.path), loc.filetype) for loc in out]
        elif layout == "ssqp":
            out = [Location(loc.path.lower(), loc.filetype) for loc in out]
    elif layout == "unified":
        k = key if t in ("elf", "wasm", "macho") else (("%s%x" % (guid, module.ids()[1])) if guid else None)
        if k:
            k = k.lower()
            debug_ft = {"elf": "elf_debug", "macho": "mach_debug", "wasm": "wasm_debug"}.get(t, "pdb")
            code_ft = {"elf": "elf_code", "macho": "mach_code", "wasm": "wasm_code"}.get(t, "pe")
            out.append(Location("%s/%s/debuginfo" % (k[:2], k[2:]), debug_ft))
            out.append(Location("%s/%s/executable" % (k[:2], k[2:]), code_ft))
            out.append(Location("%s/%s/breakpad" % (k[:2], k[2:]), "breakpad"))
    elif layout == "debuginfod":
        if t == "elf" and key:
            out.append(Location("buildid/%s/debuginfo" % key, "elf_debug"))
            out.append(Location("buildid/%s/executable" % key, "elf_code"))
    else:
        raise ValueError("unknown store layout %r (one of %s)" % (layout, ", ".join(LAYOUTS)))
    return out


def cased_locations(layout: str, casing: str, module: Any) -> List[Location]:
    """:func:`layout_locations` with a store's ``casing`` applied (directory and remote
    stores share this)."""
    out = layout_locations(layout, module)
    if casing == "lowercase":
        return [Location(loc.path.lower(), loc.filetype) for loc in out]
    if casing == "uppercase":
        return [Location(loc.path.upper(), loc.filetype) for loc in out]
    return out


def _symstore_pe(module: Any, bp: Optional[str]) -> List[Location]:
    out = []
    pdb = _name(module.debug_file)
    if pdb and bp:
        out.append(Location("%s/%s/%s" % (pdb, bp, pdb), "pdb"))
    exe = _name(module.code_file)
    code = module.code_id
    if exe and isinstance(code, str) and code:
        out.append(Location("%s/%s/%s" % (exe, code.upper(), exe), "pe"))
    return out


class _Filtered(Store):
    def __init__(self, filters: Optional[Mapping[str, Any]], negative_ttl: Optional[float] = None) -> None:
        if negative_ttl is not None:
            ttl = float(negative_ttl)
            if not ttl >= 0:  # (NaN too)
                raise ValueError("negative_ttl must be a number of seconds >= 0, not %r" % (negative_ttl,))
            self.negative_ttl = ttl
        filters = dict(filters or {})
        unknown = set(filters) - {"filetypes", "path_patterns"}
        if unknown:
            raise ValueError("unknown store filter(s): %s" % ", ".join(sorted(unknown)))
        types = filters.get("filetypes")
        if types is not None:
            bad = [t for t in types if t not in FILETYPES]
            if bad:
                raise ValueError("unknown file type(s) in filters: %s" % ", ".join(map(str, bad)))
        self._filetypes = None if types is None else frozenset(types)
        self._patterns: Sequence[str] = tuple(filters.get("path_patterns") or ())

    def _allowed(self, module: Any, loc: Location) -> bool:
        if self._filetypes is not None and loc.filetype not in self._filetypes:
            return False
        if self._patterns:
            names = [p for p in (module.code_file, module.debug_file) if p]
            return any(fnmatch.fnmatchcase(n.lower(), p.lower()) for n in names for p in self._patterns)
        return True


class FilesystemStore(_Filtered):
    """A local directory in one of :data:`LAYOUTS`."""

    def __init__(self, path: "str | os.PathLike[str]", layout: str = "native", *, casing: str = "default",
                 id: Optional[str] = None, filters: Optional[Mapping[str, Any]] = None,
                 negative_ttl: Optional[float] = None) -> None:
        super().__init__(filters, negative_ttl)
        if layout not in LAYOUTS:
            raise ValueError("unknown store layout %r (one of %s)" % (layout, ", ".join(LAYOUTS)))
        if casing not in CASINGS:
            raise ValueError("unknown casing %r (one of %s)" % (casing, ", ".join(CASINGS)))
        self.path = os.fspath(path)
        self.layout = layout
        self.casing = casing
        self.id = id or "%s:%s" % (layout, self.path)

    def locations(self, module: Any) -> List[Location]:
        return [loc for loc in cased_locations(self.layout, self.casing, module) if self._allowed(module, loc)]

    def fetch(self, location: Location) -> Optional[str]:
        parts = location.path.split("/")
        if any(p in ("", ".", "..") for p in parts):  # ids come from the request: no escapes
            return None
        full = os.path.join(self.path, *parts)
        return full if os.path.isfile(full) else None

    def describe(self, location: Location) -> str:
        return os.path.join(self.path, *location.path.split("/"))


class SystemStore(_Filtered):
    """The local system's conventions (see the module documentation).

    ``debug_dirs``: global debug directories (default ``/usr/lib/debug``), searched by
    build id (``.build-id/B[:2]/B[2:].debug``).  ``module_files``: also try the paths the
    request names (``code_file``, ``debug_file``), which is right for a crash of this
    machine and wrong for a server fed by strangers (default ``True``).
    """

    def __init__(self, debug_dirs: Iterable[str] = ("/usr/lib/debug",), *, module_files: bool = True,
                 id: str = "system", filters: Optional[Mapping[str, Any]] = None,
                 negative_ttl: Optional[float] = None) -> None:
        super().__init__(filters, negative_ttl)
        self.debug_dirs = [os.fspath(d) for d in debug_dirs]
        self.module_files = module_files
        self.id = id

    def locations(self, module: Any) -> List[Location]:
        key, _bp, _guid = _ids(module)
        out: List[Location] = []
        t = module.type
        if t == "elf" and key:
            for d in self.debug_dirs:
                out.append(Location(os.path.join(d, ".build-id", key[:2], key[2:] + ".debug"), "elf_debug"))
        if self.module_files:
            code = module.code_file if isinstance(module.code_file, str) else None
            debug = module.debug_file if isinstance(module.debug_file, str) else None
            code_ft = {"elf": "elf_code", "macho": "mach_code", "pe": "pe", "wasm": "wasm_code"}.get(t, "breakpad")
            debug_ft = {"elf": "elf_debug", "macho": "mach_debug", "pe": "pdb", "wasm": "wasm_debug"}.get(t, "breakpad")
            if debug and debug != code and os.path.isabs(debug):
                out.append(Location(debug, debug_ft))
            if t == "macho" and code and os.path.isabs(code):
                name = os.path.basename(code)
                out.append(Location(os.path.join(code + ".dSYM", "Contents", "Resources", "DWARF", name), "mach_debug"))
            if code and os.path.isabs(code):
                out.append(Location(code, code_ft))
                if t == "elf":
                    out.extend(self._debuglink(code))
        return [loc for loc in out if self._allowed(module, loc)]

    def _debuglink(self, code: str) -> List[Location]:
        """GDB's places for the binary's ``.gnu_debuglink`` (read in the sandbox): beside
        it, in ``.debug/`` beside it, and under each debug directory + its directory."""
        if not os.path.isfile(code):
            return []
        from .._errors import PysymError
        from .._native import Object

        try:
            link = Object.from_path(code).debuglink
        except (PysymError, OSError):
            return []
        if link is None:
            return []
        name, crc = link
        if "/" in name or name in (".", ".."):
            return []  # a name, never a path (the binary could come from anywhere)
        d = os.path.dirname(code)
        places = [os.path.join(d, name), os.path.join(d, ".debug", name)]
        places += [os.path.join(g, d.lstrip("/"), name) for g in self.debug_dirs]
        return [Location(p, "elf_debug", crc) for p in places]

    def fetch(self, location: Location) -> Optional[str]:
        return location.path if os.path.isfile(location.path) else None
