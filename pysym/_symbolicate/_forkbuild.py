"""Symcache builds in forked child processes (``Symbolicator(build_processes=N)``).

wasmer 1.1 holds the GIL while wasm runs, so threads cannot build a request's symcaches
side by side; child processes can. A child is made by ``fork()`` (~4 ms, against ~100 ms
for a fresh interpreter that imports pysym and loads the compiled module) and builds one
symcache: it opens the debug file itself, builds in a runtime of its own with the
parent's engine and limits, writes the bytes (or its typed error) to a pipe and exits, so
whatever memory the build grew goes with it. The parent loads the bytes as an in-process
build loads its own (``SymCache.from_object``), and the disk, memory and shared caches
see the same thing.

Forking is safe here only on engines whose calls hold the GIL (wasmer): ``os.fork()``
needs the GIL, so no other thread is inside the engine when the child is made. The child
never compiles (``_engine._fork``): it instantiates the module the forking thread already
has.

Every child is waited for by its pid; one that overruns ``Limits.timeout`` is killed
(:class:`pysym.TimeLimitError`, as the watchdog says), and so is every child still running
when its request ends early. A child dies with its parent (``PR_SET_PDEATHSIG`` on Linux,
and it checks that its parent is still the process that forked it).
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import struct
import sys
import time
from dataclasses import replace
from typing import Any, Dict, List, Optional, Tuple

from .. import _errors
from .._errors import PysymError, SandboxError, TimeLimitError

_HEAD = struct.Struct("<cIQ")  # kind (K: built, E: error), JSON length, bytes length
#: seconds between checks that the running children are alive
_POLL = 0.2


def _libc() -> Any:
    """libc's ``prctl`` (looked up in the parent: the child's first act is to call it)."""
    global _PRCTL
    if _PRCTL is None and sys.platform.startswith("linux"):
        try:
            import ctypes

            _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _PRCTL = False
    return _PRCTL


_PRCTL: Any = None


def _die_with_parent(parent: int) -> None:
    if _PRCTL:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


def _write_all(fd: int, data: "bytes | memoryview") -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _child(wfd: int, parent: int, engine: str, limits: Any, path: str, arch: Optional[str]) -> None:
    """The forked child: build, answer, exit (never returns to the parent's code)."""
    code = 0
    try:
        _die_with_parent(parent)
        gc.disable()  # the parent's objects are not ours to finalise
        from .._host import Runtime
        from .._native import SymCache

        # The parent bounds the child's time (it kills it at Limits.timeout): no watchdog
        # child of the child.
        rt = Runtime(engine, limits=replace(limits, watchdog=False))
        meta: Dict[str, Any]
        data = b""
        try:
            data, warnings = SymCache._build(path, arch, rt)
            live = rt.live
            meta = {"warnings": list(warnings),
                    "memory": int(live.instance.memory_size()) if live is not None else 0}
            kind = b"K"
        except PysymError as e:
            meta = {"cls": type(e).__name__, "msg": str(e), "code": e.code}
            kind = b"E"
        except OSError as e:
            meta = {"cls": "OSError", "msg": str(e), "errno": e.errno}
            kind = b"E"
        head = json.dumps(meta).encode("utf-8")
        _write_all(wfd, _HEAD.pack(kind, len(head), len(data)) + head)
        _write_all(wfd, data)
    except BaseException:  # noqa: BLE001 - a child must never return into the parent's code
        code = 70
    finally:
        os._exit(code)


def _error(meta: Dict[str, Any]) -> BaseException:
    """The child's error as the parent raises it (the same class, message and code)."""
    name, msg = str(meta.get("cls")), str(meta.get("msg"))
    if name == "OSError":
        e = OSError(msg)
        e.errno = meta.get("errno")
        return e
    cls = getattr(_errors, name, None)
    if isinstance(cls, type) and issubclass(cls, PysymError):
        return cls(msg, meta.get("code"))
    return SandboxError("a build in a child process failed: %s: %s" % (name, msg))


class _Job:
    __slots__ = ("key", "path", "arch", "size", "pid", "fd", "buf", "need", "deadline", "result", "error", "done")

    def __init__(self, key: str, path: str, arch: Optional[str]) -> None:
        self.key, self.path, self.arch = key, path, arch
        self.size = 0
        self.pid = -1
        self.fd = -1
        self.buf = bytearray()
        self.need = _HEAD.size  # bytes expected so far (head, then the whole answer)
        self.deadline: Optional[float] = None
        self.result: Optional[Tuple[bytes, Tuple[str, ...], int]] = None
        self.error: Optional[BaseException] = None
        self.done = False


class ForkBuilds:
    """The builds of one request, in forked children, at most ``slots`` at once. Used by
    the thread that made it; :meth:`close` kills what still runs.

    The bound is per request, not shared by a symbolicator's requests: a child that has
    built waits (blocked on its pipe) for its request's thread, which may itself wait for
    another request's build (one thread builds a symcache, the others wait for it); a
    shared bound would let those waiting children hold every slot."""

    def __init__(self, runtime: Any, slots: int) -> None:
        self.engine = runtime.engine.name
        self.limits = runtime.limits
        self.slots = max(1, int(slots))
        self.jobs: Dict[str, _Job] = {}
        self.queue: List[_Job] = []
        self.running: Dict[int, _Job] = {}  # by the pipe's read end

    def __contains__(self, key: str) -> bool:
        return key in self.jobs

    def submit(self, key: str, path: str, arch: Optional[str]) -> None:
        """Builds ``path`` (``arch``: its slice) for ``key`` as soon as a slot is free."""
        if key in self.jobs:
            return
        job = self.jobs[key] = _Job(key, path, arch)
        try:
            job.size = os.stat(path).st_size
        except OSError:
            job.size = 0  # (the child reports the error)
        # Largest first: the request waits for its longest build.
        at = len(self.queue)
        while at and self.queue[at - 1].size < job.size:
            at -= 1
        self.queue.insert(at, job)
        self.pump(0.0)

    def result(self, key: str) -> Tuple[bytes, Tuple[str, ...], int]:
        """``(bytes, warnings, the child's wasm memory size)`` of ``key``'s build, or
        its error raised (the same typed error an in-process build raises)."""
        job = self.jobs.pop(key)
        while not job.done:
            self.pump(_POLL)
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def _start(self, job: _Job) -> None:
        _libc()
        parent = os.getpid()
        r, w = os.pipe()
        try:
            pid = os.fork()
        except BaseException:
            os.close(r)
            os.close(w)
            raise
        if pid == 0:  # pragma: no cover - the child (coverage does not follow it)
            os.close(r)
            _child(w, parent, self.engine, self.limits, job.path, job.arch)
        os.close(w)
        job.pid, job.fd = pid, r
        timeout = self.limits.timeout
        job.deadline = None if timeout is None else time.monotonic() + float(timeout)
        self.running[r] = job

    def pump(self, wait: float) -> None:
        """Starts queued builds on free slots, reads what the children wrote (for at most
        ``wait`` seconds), reaps those that ended, kills those past their deadline."""
        while self.queue and len(self.running) < self.slots:
            self._start(self.queue.pop(0))
        if not self.running:
            return
        try:
            ready, _w, _x = select.select(list(self.running), [], [], wait)
        except InterruptedError:
            ready = []
        for fd in ready:
            self._read(self.running[fd])
        now = time.monotonic()
        for job in list(self.running.values()):
            # (one that has data waiting has built, and waits for this thread to read)
            if job.deadline is not None and now > job.deadline and job.fd not in ready:
                self._end(job, TimeLimitError("building a symcache of %s exceeded its time limit (%ss) in a child "
                                              "process" % (job.path, self.limits.timeout)), kill=True)
            elif not ready:
                # No EOF comes while another request's child holds a copy of the pipe: ask
                # whether the child is still there, then take what it wrote before it ended.
                try:
                    pid, _status = os.waitpid(job.pid, os.WNOHANG)
                except ChildProcessError:
                    pid = job.pid
                if pid == job.pid:
                    job.pid = -1
                    while job.fd in self.running and select.select([job.fd], [], [], 0)[0]:
                        self._read(job)
                    if job.fd in self.running:
                        self._end(job, _no_answer(job))

    def _read(self, job: _Job) -> None:
        try:
            chunk = os.read(job.fd, max(1 << 16, job.need - len(job.buf)))
        except OSError:
            chunk = b""
        if not chunk:
            self._end(job, _no_answer(job))
            return
        job.buf += chunk
        if len(job.buf) >= _HEAD.size and job.need == _HEAD.size:
            _kind, nh, nd = _HEAD.unpack_from(job.buf)
            job.need = _HEAD.size + nh + nd
        if len(job.buf) >= job.need > _HEAD.size:
            self._end(job, None)

    def _end(self, job: _Job, error: Optional[BaseException], kill: bool = False) -> None:
        del self.running[job.fd]
        os.close(job.fd)
        if job.pid > 0:
            if kill:
                try:
                    os.kill(job.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _reap(job.pid)
        job.done = True
        if error is not None:
            job.error = error
            return
        kind, nh, _nd = _HEAD.unpack_from(job.buf)
        meta = json.loads(bytes(job.buf[_HEAD.size:_HEAD.size + nh]))
        if kind == b"K":
            data = bytes(job.buf[_HEAD.size + nh:])
            job.result = (data, tuple(meta.get("warnings", ())), int(meta.get("memory", 0)))
        else:
            job.error = _error(meta)
        job.buf = bytearray()

    def close(self) -> None:
        """Kills the children still building (a request that ended early), by pid."""
        self.queue.clear()
        for job in list(self.running.values()):
            self._end(job, SandboxError("abandoned"), kill=True)
        self.jobs.clear()



def _no_answer(job: _Job) -> SandboxError:
    return SandboxError("the child process building a symcache of %s ended without an answer" % job.path)


def _reap(pid: int) -> None:
    """Waits for the child ``pid`` (it has answered, or was killed: it ends at once)."""
    while True:
        try:
            os.waitpid(pid, 0)
            return
        except InterruptedError:
            continue
        except ChildProcessError:
            return
