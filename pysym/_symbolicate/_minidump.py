"""``Symbolicator.process_minidump``: a minidump walked and symbolicated end to end, in
the shape of Symbolicator's ``/minidump`` response (reimplemented from its public
documentation).

The pipeline: parse the dump in the sandbox (:class:`pysym.Minidump`); per module, find
a file with unwind information in the stores and get its CFI cache (memory, then the
cache directory's ``cficaches/``, then built in the sandbox: ``wasm/core/src/unwind/
FORMAT.md``); walk every thread in the sandbox (context, CFI, frame pointer, scan); then
symbolicate the frames as a ``/symbolicate`` request over the dump's modules.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from .. import _wire
from .._errors import PysymError
from .._host import Runtime
from .._minidump import Minidump, document
from .._native import Object, PathOrBytes, _arch_arg, _as_bytes, _collector_paused, _Source
from ._cache import DiskCache
from ._request import Module, _matches, _stamp

__all__ = ["CFI_VERSION", "build_cfi", "process_minidump", "minidump_modules"]

#: the CFI cache format version (wasm/core/src/unwind/FORMAT.md); part of the cache path
CFI_VERSION = 2
_MEMO_ENTRIES = 4096

_OS_NAMES = {"windows": "Windows", "linux": "Linux", "android": "Android", "macos": "macOS", "ios": "iOS",
             "solaris": "Solaris", "fuchsia": "Fuchsia"}
_MODULE_TYPES = {"windows": "pe", "macos": "macho", "ios": "macho", "linux": "elf", "android": "elf"}


class _CfiDiskCache(DiskCache):
    """The symcache disk cache's machinery for CFI caches: ``cficaches/v<version>/``."""

    @property
    def dir(self) -> str:  # (lock_dir and memo_dir follow it)
        return os.path.join(self.root, "cficaches", "v%d" % CFI_VERSION)


def build_cfi(source: PathOrBytes, arch: Optional[str] = None, *,
              runtime: Optional[Runtime] = None) -> Tuple[bytes, int, List[str]]:
    """Builds the CFI cache of a debug file in the sandbox: ``(cache bytes, rows, warnings)``."""
    from .._host import get_runtime

    rt = runtime if runtime is not None else get_runtime()
    src = _Source(source)
    try:
        with rt.lock:
            ptr, n = _arch_arg(rt, arch)
            rt.check(src.call(rt, "pysym_unwind_build", ptr, n, rt.out_slot))
            raw = rt.result_bytes()
            rows = rt.out(_wire.UNWIND_OUT_WORDS)[_wire.UNWIND_OUT_ROWS]
        found = _wire.decode_unwind(raw)
        return found.cache, rows, [w or "" for w in rt.string_table(found.warnings)]
    finally:
        src.close()


def minidump_modules(md: Minidump) -> List[Dict[str, Any]]:
    """The dump's modules as ``/symbolicate`` request modules."""
    os_name = md.system_info.os if md.system_info else "unknown"
    mtype = _MODULE_TYPES.get(os_name)
    arch = md.system_info.cpu if md.system_info else None
    out = []
    for m in md.modules:
        t = mtype
        if t is None:
            t = {"pdb70": "pe", "pdb20": "pe"}.get(m.codeview, "elf")
        d: Dict[str, Any] = {"type": t, "image_addr": "0x%x" % m.base, "image_size": max(m.extent, m.size, 1),
                             "code_file": m.code_file, "debug_file": m.debug_file}
        if m.code_id:
            d["code_id"] = m.code_id
        if m.debug_id:
            d["debug_id"] = m.debug_id
        if arch and arch != "unknown":
            d["arch"] = arch
        out.append(d)
    return out


class _Unwind:
    """What was found for a module's unwinding: status, features, the cache's bytes."""

    __slots__ = ("status", "cache", "path", "stamp", "error", "has_unwind_info", "expires")

    def __init__(self, status: str, cache: Optional[bytes] = None, path: Optional[str] = None,
                 stamp: Optional[Tuple[str, int, int]] = None, error: Optional[str] = None) -> None:
        self.status = status
        self.cache = cache
        self.path = path
        self.stamp = stamp
        self.error = error
        self.has_unwind_info = cache is not None
        self.expires = 0.0  # a "missing" memo: time.monotonic() when the stores are asked again


def _state(sym: Any) -> Tuple[Dict[Any, _Unwind], threading.Lock, Optional[_CfiDiskCache]]:
    st: Tuple[Dict[Any, _Unwind], threading.Lock, Optional[_CfiDiskCache]] = sym.__dict__.get("_unwind_state")
    if st is None:
        with sym._memo_lock:
            st = sym.__dict__.get("_unwind_state")
            if st is None:
                disk = None
                if sym.disk is not None:
                    disk = _CfiDiskCache(sym.disk.root, max_bytes=sym.disk.max_bytes,
                                         malformed_ttl=sym.disk.malformed_ttl, lock_timeout=sym.disk.lock_timeout)
                st = ({}, threading.Lock(), disk)
                sym.__dict__["_unwind_state"] = st
    return st


def resolve_unwind(sym: Any, module: Module, rt: Runtime) -> _Unwind:
    """The CFI cache of ``module``: the first file in the stores that matches it and has
    unwind information (a separate debug file usually has none: the binary does)."""

    memo, lock, disk = _state(sym)
    key = module.memo_key()
    with lock:
        hit = memo.get(key)
    if hit is not None:
        if hit.status == "missing":
            # As for debug files: asked again once the first store's negative_ttl ends.
            if time.monotonic() < hit.expires:
                return hit
        elif hit.stamp is None or _stamp(hit.stamp[0]) == hit.stamp:
            return hit
    res = _Unwind("missing")
    errors: List[str] = []
    seen = set()
    for store in sym.stores:
        for loc in store.locations(module):
            try:
                path = store.fetch(loc)
            except Exception:  # noqa: BLE001 - a store failing is a candidate failing
                continue
            if path is None:
                continue
            if isinstance(path, str):  # (bytes: a download held in memory, a full disk)
                real = os.path.realpath(path)
                if real in seen:
                    continue
                seen.add(real)
            try:
                obj = Object(path, module.arch if module.type == "macho" else None, rt)
            except (PysymError, OSError):
                continue
            if _matches(module, obj) is not None or not getattr(obj, "has_unwind_info", False):
                continue
            try:
                cache = _cfi_for(path, obj, rt, disk)
            except (PysymError, OSError) as e:
                errors.append(" ".join(str(e).split()))
                continue
            res = _Unwind("found", cache, path if isinstance(path, str) else None,
                          _stamp(path) if isinstance(path, str) else None)
            break
        if res.status == "found":
            break
    if res.status != "found" and errors:
        res = _Unwind("malformed", error=errors[0])
    ttl = min((s.negative_ttl for s in sym.stores), default=0.0)
    if res.status == "found" or (res.status == "missing" and ttl > 0):
        res.expires = time.monotonic() + ttl
        with lock:
            memo.pop(key, None)  # re-inserted last: the oldest go first
            memo[key] = res
            while len(memo) > _MEMO_ENTRIES:
                memo.pop(next(iter(memo)))
    return res


def _cfi_for(path: "str | bytes", obj: Any, rt: Runtime, disk: Optional[_CfiDiskCache]) -> bytes:
    arch = obj.arch if obj.kind == "macho" else None
    if disk is None:
        return build_cfi(path, arch, runtime=rt)[0]
    digest = hashlib.sha256(path).hexdigest() if isinstance(path, bytes) else disk.digest(path)
    key = "%s-%s" % ((obj.debug_id or "nodebugid").replace("-", ""), digest[:40])
    entry, data = disk.get_or_build(key, lambda: build_cfi(path, arch, runtime=rt)[0])
    if entry is not None:
        with open(entry, "rb") as f:
            return f.read()
    assert data is not None
    return data


def _walk_input(caches: List[Tuple[int, bytes]]) -> bytes:
    parts = [struct.pack("<I", len(caches))]
    for index, data in caches:
        parts.append(struct.pack("<II", index, len(data)))
        parts.append(data)
        parts.append(b"\0" * ((4 - len(data) % 4) % 4))
    return b"".join(parts)


def walk_minidump(source: PathOrBytes, caches: List[Tuple[int, bytes]], rt: Runtime) -> Dict[str, Any]:
    """The stack walk document (ABI.md) of a dump, with ``caches`` as (module index, CFI
    cache bytes)."""
    src = _Source(source)
    try:
        return _walk(src, rt, _walk_input(caches))
    finally:
        src.close()


def _walk(src: _Source, rt: Runtime, data: bytes, kept: Optional[Tuple[int, int]] = None) -> Dict[str, Any]:
    """``walk_minidump`` of ``src`` with the export's input ``data`` (``_walk_input``);
    ``kept`` = (instance serial, handle) of the dump parsed by ``pysym_minidump_open``,
    walked without a second parse while that instance lives."""
    with rt.lock:
        ptr = rt.put_input(data)
        if kept is not None and rt.current().serial == kept[0]:
            status = src.call(rt, "pysym_minidump_walk_open", kept[1], ptr, len(data), rt.out_slot)
        else:
            status = src.call(rt, "pysym_minidump_walk", ptr, len(data), rt.out_slot)
        rt.check(status)
        raw = rt.result_bytes()
    return document(raw)


class _OpenDump:
    """A dump parsed once and kept in the module (``pysym_minidump_open``) to be walked
    without a second parse; walked by ``pysym_minidump_walk`` (parsing again) when the
    instance that holds it was replaced in between (a trap while finding CFI)."""

    def __init__(self, source: PathOrBytes, rt: Runtime) -> None:
        self.rt = rt
        self.src = _Source(source)
        self.handle = 0
        try:
            with rt.lock:
                self.serial = rt.current().serial
                rt.check(self.src.call(rt, "pysym_minidump_open", rt.out_slot))
                raw = rt.result_bytes()
                self.handle = rt.out(_wire.MINIDUMP_OPEN_OUT_WORDS)[_wire.MINIDUMP_OPEN_OUT_HANDLE]
        except BaseException:
            self.src.close()
            raise
        self.md = Minidump._from_document(document(raw))

    def walk(self, caches: List[Tuple[int, bytes]]) -> Dict[str, Any]:
        return _walk(self.src, self.rt, _walk_input(caches), (self.serial, self.handle))

    def close(self) -> None:
        rt = self.rt
        try:
            if self.handle:
                with rt.lock:
                    live = rt.live
                    if live is not None and live.serial == self.serial:
                        rt.call("pysym_minidump_free", self.handle)
                self.handle = 0
        finally:
            self.src.close()


def process_minidump(sym: Any, dump: PathOrBytes) -> Dict[str, Any]:
    """See :meth:`pysym.Symbolicator.process_minidump`. With the cyclic collector paused:
    a dump of many threads makes 100,000s of dicts and lists (no cycles), and collections
    while they are made rescan all of them each time (quadratic: 65,536 threads took
    minutes)."""
    with _collector_paused():
        return _process_minidump(sym, dump)


def _process_minidump(sym: Any, dump: PathOrBytes) -> Dict[str, Any]:
    rt = sym.runtime
    if isinstance(dump, (bytes, bytearray, memoryview)):
        dump = _as_bytes(dump)
    opened = _OpenDump(dump, rt)
    try:
        md = opened.md
        raw_modules = minidump_modules(md)
        from ._request import parse_module

        unwinds: List[Optional[_Unwind]] = []
        caches: List[Tuple[int, bytes]] = []
        for i, raw in enumerate(raw_modules):
            m, _err = parse_module(raw)
            if m is None:
                unwinds.append(None)
                continue
            u = resolve_unwind(sym, m, rt)
            unwinds.append(u)
            if u.cache is not None:
                caches.append((i, u.cache))
        walked = opened.walk(caches)
    finally:
        opened.close()

    crashed_index = md.crashed_thread
    traces = []
    for ti, (thread, tw) in enumerate(zip(md.threads, walked["threads"])):
        frames = [{"instruction_addr": f["pc"], "trust": f["trust"]} for f in tw["frames"]]
        st: Dict[str, Any] = {"thread_id": thread.id, "is_requesting": ti == crashed_index, "frames": frames,
                              "registers": {name: value for name, value in tw["registers"]}}
        if thread.name:
            st["thread_name"] = thread.name
        traces.append(st)
    response = sym.symbolicate({"modules": raw_modules, "stacktraces": traces})

    for st, tw in zip(response["stacktraces"], walked["threads"]):
        if tw["stop"] not in ("end",):
            st["walk_stopped"] = tw["stop"]
    for i, d in enumerate(response["modules"]):
        uw = unwinds[i] if i < len(unwinds) else None
        d["unwind_status"] = "unused" if uw is None else uw.status
        feats = d.setdefault("features", {"has_debug_info": False, "has_symbols": False,
                                          "has_unwind_info": False, "has_sources": False})
        feats["has_unwind_info"] = bool(uw is not None and uw.has_unwind_info)
        if uw is not None and uw.error:
            d["unwind_error"] = uw.error
    si = md.system_info
    exc = md.exception
    out: Dict[str, Any] = {
        "status": "completed",
        "timestamp": md.document.get("timestamp"),
        "system_info": {
            "os_name": _OS_NAMES.get(si.os, si.os) if si else "",
            "os_version": "%d.%d.%d" % si.os_version if si else "",
            "os_build": (si.csd_version or "") if si else "",
            "cpu_arch": si.cpu if si else "unknown",
            "device_model": "",
        },
        "crashed": exc is not None,
        "crash_reason": exc.reason if exc is not None else None,
        "crash_details": _crash_details(md),
        "crash_address": ("0x%x" % _crash_address(md)) if exc is not None else None,
        "assertion": _assertion(md),
        "stacktraces": response["stacktraces"],
        "modules": response["modules"],
        "warnings": list(md.warnings) + list(walked.get("warnings", [])),
    }
    return out


def _crash_address(md: Minidump) -> int:
    exc = md.exception
    assert exc is not None
    # Access violations carry the address touched in their second parameter.
    windows = md.system_info is not None and md.system_info.os == "windows"
    if windows and exc.code == 0xC0000005 and len(exc.parameters) > 1:
        return exc.parameters[1]
    return exc.address


_ACCESS = {0: "read from", 1: "write to", 8: "execute at"}


def _crash_details(md: Minidump) -> Optional[str]:
    """What the dump says beyond the reason and the address: the access a Windows access
    violation or in-page error attempted (and the in-page error's status), a fast fail's
    code, a failed assertion with its line."""
    a = md.document.get("assertion")
    if a and (a.get("expression") or a.get("function")):
        where = "%s:%d" % (a.get("file") or "?", a.get("line") or 0)
        return "assertion failed: %s in %s (%s)" % (a.get("expression") or "?", a.get("function") or "?", where)
    exc = md.exception
    if exc is None or md.system_info is None or md.system_info.os != "windows":
        return None
    p = exc.parameters
    if exc.code in (0xC0000005, 0xC0000006) and len(p) > 1:
        text = "attempted %s 0x%x" % (_ACCESS.get(p[0], "access (kind %d) to" % p[0]), p[1])
        if exc.code == 0xC0000006 and len(p) > 2:
            text += ", status 0x%08x" % p[2]
        return text
    if exc.code == 0xC0000409 and p:
        return "fast fail code %d" % p[0]
    return None


def _assertion(md: Minidump) -> Optional[str]:
    a = md.document.get("assertion")
    if not a:
        return None
    parts = [a.get("expression") or "", a.get("function") or "", a.get("file") or ""]
    text = " ".join(p for p in parts if p)
    return text or None
