"""Symcache builds in forked child processes (``Symbolicator(build_processes=N)``).

wasmer 1.1 holds the GIL while wasm runs, so threads cannot build a request's symcaches
side by side; child processes can. A request that has builds to make forks up to N
children (``fork()``: ~4-8 ms, against ~100 ms for a fresh interpreter that imports pysym
and loads the compiled module); each builds what it is given, one debug file at a time,
largest first, in a runtime of its own with the parent's engine and limits (it opens the
file itself), and writes the bytes (or its typed error) to a pipe. The parent loads the
bytes as an in-process build loads its own (``SymCache.from_object``), so the disk,
memory and shared caches see the same thing. The children end with the request, and
whatever memory their builds grew goes with them.

Forking is safe here only on engines whose calls hold the GIL (wasmer): ``os.fork()``
needs the GIL, so no other thread is inside the engine when the child is made. The child
never compiles (``_engine._fork``): it instantiates the module the forking thread already
has.

Every child is killed and waited for by its pid: when the request ends (also early), or
when a build overruns ``Limits.timeout`` (:class:`pysym.TimeLimitError`, as the watchdog
says). A child dies with its parent (``PR_SET_PDEATHSIG`` on Linux, and it checks that its
parent is still the process that forked it).
"""

from __future__ import annotations

import fcntl
import gc
import json
import os
import select
import signal
import struct
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from .. import _errors
from .._errors import PysymError, SandboxError, TimeLimitError

_HEAD = struct.Struct("<cIQ")  # kind (K: built, E: error), JSON length, bytes length
#: seconds between checks that the running children are alive
_POLL = 0.2
_F_SETPIPE_SZ: Optional[int] = getattr(fcntl, "F_SETPIPE_SZ", 1031 if sys.platform.startswith("linux") else None)
# (annotated before the function that assigns it as a global: after it, CPython 3.7 and
# PyPy 3.9 refuse the module with "annotated name can't be global")
_PRCTL: Any = None


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


def _die_with_parent(parent: int) -> None:
    if _PRCTL:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


def _write_all(fd: int, data: "bytes | memoryview") -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            return b""
        out += chunk
    return out


def _child(jobs: int, answers: int, parent: int, engine: str, limits: Any, bound: Optional[int],
           inherited: List[int]) -> None:
    """The forked child: builds what the parent sends until its pipe closes, then exits
    (never returns to the parent's code)."""
    code = 0
    try:
        _die_with_parent(parent)
        gc.disable()  # the parent's objects are not ours to finalise
        for fd in inherited:  # (the other children's pipes)
            try:
                os.close(fd)
            except OSError:
                pass
        from .._host import Runtime
        from .._native import SymCache

        # The parent bounds the child's time (it kills it at Limits.timeout): no watchdog
        # child of the child.
        rt = Runtime(engine, limits=limits.replace(watchdog=False))
        while True:
            size = _read_exact(jobs, 4)
            if not size:
                break
            spec = json.loads(_read_exact(jobs, struct.unpack("<I", size)[0]))
            meta: Dict[str, Any]
            data = b""
            try:
                data, warnings = SymCache._build(spec["path"], spec["arch"], rt)
                live = rt.live
                grown = int(live.instance.memory_size()) if live is not None else 0
                meta = {"warnings": list(warnings), "memory": grown}
                kind = b"K"
                if bound is not None and grown > bound:
                    rt.discard()  # as an in-process build runtime grown past the bound
            except PysymError as e:
                meta = {"cls": type(e).__name__, "msg": str(e), "code": e.code}
                kind = b"E"
            except OSError as e:
                meta = {"cls": "OSError", "msg": str(e), "errno": e.errno}
                kind = b"E"
            head = json.dumps(meta).encode("utf-8")
            _write_all(answers, _HEAD.pack(kind, len(head), len(data)) + head)
            _write_all(answers, data)
            del data
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
    __slots__ = ("path", "arch", "size", "result", "error", "done")

    def __init__(self, path: str, arch: Optional[str]) -> None:
        self.path, self.arch = path, arch
        self.size = 0
        self.result: Optional[Tuple[bytes, Tuple[str, ...], int]] = None
        self.error: Optional[BaseException] = None
        self.done = False


class _Child:
    """A forked child and its pipes: jobs in, answers out."""

    __slots__ = ("pid", "jobs", "answers", "job", "buf", "need", "deadline")

    def __init__(self, pid: int, jobs: int, answers: int) -> None:
        self.pid, self.jobs, self.answers = pid, jobs, answers
        self.job: Optional[_Job] = None
        self.buf = bytearray()
        self.need = _HEAD.size  # bytes of the answer expected so far (head, then all)
        self.deadline: Optional[float] = None


class ForkBuilds:
    """The builds of one request, in up to ``slots`` forked children that each build
    what they are given, one at a time (a fork per child, not per build: ~8 ms each for a
    parent with a grown instance). Used by the thread that made it; :meth:`close` kills
    the children, by pid.

    The bound is per request, not shared by a symbolicator's requests: a child that has
    built waits (blocked on its pipe) for its request's thread, which may itself wait for
    another request's build (one thread builds a symcache, the others wait for it); a
    shared bound would let those waiting children hold every slot."""

    def __init__(self, runtime: Any, slots: int, bound: Optional[int] = None) -> None:
        self.engine = runtime.engine.name
        self.limits = runtime.limits
        self.slots = max(1, int(slots))
        self.bound = bound  # build_memory_bytes: a child's runtime grown past it is dropped
        self.jobs: Dict[str, _Job] = {}
        self.queue: List[_Job] = []
        self.children: List[_Child] = []
        self.busy: Dict[int, _Child] = {}  # by the answer pipe's read end

    def __contains__(self, key: str) -> bool:
        return key in self.jobs

    def submit(self, key: str, path: str, arch: Optional[str]) -> None:
        """Builds ``path`` (``arch``: its slice) for ``key`` as soon as a child is free."""
        if key in self.jobs:
            return
        job = self.jobs[key] = _Job(path, arch)
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

    def first_done(self, keys: List[str]) -> int:
        """The index in ``keys`` of a build that has ended (or was never submitted),
        waiting for one if none has."""
        while True:
            for at, key in enumerate(keys):
                job = self.jobs.get(key)
                if job is None or job.done:
                    return at
            self.pump(_POLL)

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

    def _fork(self) -> _Child:
        _libc()
        parent = os.getpid()
        jr, jw = os.pipe()
        ar, aw = os.pipe()
        if _F_SETPIPE_SZ is not None:
            try:  # fewer, larger reads of a symcache of megabytes
                fcntl.fcntl(aw, _F_SETPIPE_SZ, 1 << 20)
            except OSError:
                pass
        inherited = [fd for c in self.children for fd in (c.jobs, c.answers)]
        try:
            pid = os.fork()
        except BaseException:
            for fd in (jr, jw, ar, aw):
                os.close(fd)
            raise
        if pid == 0:  # pragma: no cover - the child (coverage does not follow it)
            os.close(jw)
            os.close(ar)
            _child(jr, aw, parent, self.engine, self.limits, self.bound, inherited)
        os.close(jr)
        os.close(aw)
        child = _Child(pid, jw, ar)
        self.children.append(child)
        return child

    def _give(self, child: _Child, job: _Job) -> None:
        spec = json.dumps({"path": job.path, "arch": job.arch}).encode("utf-8")
        child.job = job
        child.buf = bytearray()
        child.need = _HEAD.size
        timeout = self.limits.timeout
        child.deadline = None if timeout is None else time.monotonic() + float(timeout)
        self.busy[child.answers] = child
        try:
            _write_all(child.jobs, struct.pack("<I", len(spec)) + spec)  # (small: never blocks)
        except OSError:
            self._lost(child, _no_answer(job))

    def pump(self, wait: float) -> None:
        """Gives queued builds to idle children (forking one while there are fewer than
        ``slots``), reads what the children wrote (for at most ``wait`` seconds), kills
        those past their deadline or gone."""
        for child in self.children:
            if not self.queue:
                break
            if child.job is None:
                self._give(child, self.queue.pop(0))
        while self.queue and len(self.children) < self.slots:
            self._give(self._fork(), self.queue.pop(0))
        if not self.busy:
            return
        ready, _w, _x = select.select(list(self.busy), [], [], wait)  # (EINTR retried: PEP 475)
        for fd in ready:
            self._read(self.busy[fd])
        now = time.monotonic()
        for child in list(self.busy.values()):
            job = child.job
            assert job is not None
            # (one that has data waiting has built, and waits for this thread to read)
            if child.deadline is not None and now > child.deadline and child.answers not in ready:
                self._lost(child, TimeLimitError("building a symcache of %s exceeded its time limit (%ss) in a "
                                                 "child process" % (job.path, self.limits.timeout)))
            elif not ready:
                # No EOF comes while another child holds a copy of the pipe: ask whether
                # the child is still there, then take what it wrote before it ended.
                try:
                    pid, _status = os.waitpid(child.pid, os.WNOHANG)
                except ChildProcessError:
                    pid = child.pid
                if pid == child.pid:
                    child.pid = -1
                    while child.job is job and select.select([child.answers], [], [], 0)[0]:
                        self._read(child)
                    if child.job is job:
                        self._lost(child, _no_answer(job))
                    else:
                        self._lost(child, None)

    def _read(self, child: _Child) -> None:
        job = child.job
        assert job is not None
        try:
            chunk = os.read(child.answers, 1 << 20)  # (a pipe holds at most that)
        except OSError:
            chunk = b""
        if not chunk:
            self._lost(child, _no_answer(job))
            return
        buf = child.buf
        buf += chunk
        if child.need == _HEAD.size and len(buf) >= _HEAD.size:
            _kind, nh, nd = _HEAD.unpack_from(buf)
            child.need = _HEAD.size + nh + nd
        if len(buf) < child.need or child.need == _HEAD.size:
            return
        del self.busy[child.answers]
        child.job = None
        child.buf = bytearray()
        kind, nh, _nd = _HEAD.unpack_from(buf)
        meta = json.loads(bytes(buf[_HEAD.size:_HEAD.size + nh]))
        if kind == b"K":
            with memoryview(buf) as view:  # (one copy of megabytes, not two)
                data = bytes(view[_HEAD.size + nh:])
            job.result = (data, tuple(meta.get("warnings", ())), int(meta.get("memory", 0)))
        else:
            job.error = _error(meta)
        job.done = True

    def _lost(self, child: _Child, error: Optional[BaseException]) -> None:
        """Ends ``child`` (killed, by pid; its job, if any, fails with ``error``)."""
        self.busy.pop(child.answers, None)
        self.children.remove(child)
        for fd in (child.jobs, child.answers):
            os.close(fd)
        if child.pid > 0:
            try:
                os.kill(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _reap(child.pid)
        job, child.job = child.job, None
        if job is not None:
            job.error = error or _no_answer(job)
            job.done = True

    def close(self) -> None:
        """Kills the children (idle, or building for a request that ended early), by pid."""
        self.queue.clear()
        for child in list(self.children):
            self._lost(child, SandboxError("abandoned"))
        self.jobs.clear()


def _no_answer(job: _Job) -> SandboxError:
    return SandboxError("the child process building a symcache of %s ended without an answer" % job.path)


def _reap(pid: int) -> None:
    """Waits for the child ``pid`` (killed: it ends at once)."""
    try:
        os.waitpid(pid, 0)  # (EINTR retried: PEP 475)
    except ChildProcessError:
        pass
