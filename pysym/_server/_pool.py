"""The pool of worker processes behind the async front.

Each worker is a new Python process (``_worker.worker_main``) with a socket pair; a job takes an
idle worker (or waits for one, first come first served), runs in a thread of the front
(the pipe is blocking) and gives the worker back.  A worker that dies mid-job (a trap
that took the process, ``kill -9``, the OOM killer) is replaced and the job is tried
once more on the new worker; a second death fails the job with :class:`WorkerDied`.  A
job past ``request_timeout`` kills its worker (the only way to stop a parse in another
process) and fails with :class:`WorkerTimeout`.

Workers are started with ``subprocess``, not ``multiprocessing``'s spawn: spawn also
starts multiprocessing's resource tracker, an 11 MB process the pool never needs (it
shares no semaphores or shared memory).  A worker learns its ``sys.path`` on the command
line, as spawn passes it, and its configuration as the first message.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any, Deque, Dict, List, Mapping, Tuple

__all__ = ["Pool", "WorkerDied", "WorkerTimeout", "JobFailed"]


class WorkerDied(Exception):
    """The worker process died during the job (twice: the job was retried once)."""


class WorkerTimeout(Exception):
    """The job ran past ``request_timeout``; its worker was killed and replaced."""


class JobFailed(Exception):
    """The job raised in the worker: ``kind`` is the exception's type name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _Worker:
    def __init__(self, config: Mapping[str, Any]) -> None:
        ours, theirs = socket.socketpair()
        code = ("import sys; sys.path[:] = %r; from pysym._server._worker import worker_main_fd; "
                "worker_main_fd(%d)" % ([p for p in sys.path], theirs.fileno()))
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(theirs.fileno(),),
                                         stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.conn.send(dict(config))

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    def job(self, msg: Tuple[str, Any], timeout: float) -> Tuple[Any, ...]:
        try:
            self.conn.send(msg)
            if not self.conn.poll(timeout):
                self.kill()
                raise WorkerTimeout("the job ran longer than %.0f s; its worker was stopped" % timeout)
            return tuple(self.conn.recv())
        except (EOFError, OSError, BrokenPipeError) as e:
            raise WorkerDied(str(e) or type(e).__name__) from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        self._reap()

    def _reap(self) -> None:
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        try:
            self.conn.close()
        except OSError:
            pass

    def stop(self) -> None:
        try:
            self.conn.close()  # the worker's recv ends: it returns
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()


class Pool:
    def __init__(self, size: int, config: Mapping[str, Any], request_timeout: float) -> None:
        self._config = dict(config)
        self.request_timeout = float(request_timeout)
        self.workers: List[_Worker] = [_Worker(self._config) for _ in range(max(1, int(size)))]
        self._idle: List[_Worker] = list(self.workers)
        #: jobs waiting for a worker, oldest first: a freed worker goes to the oldest
        self._waiting: "Deque[asyncio.Future[_Worker]]" = collections.deque()
        self._lock = threading.Lock()
        #: workers replaced after dying or timing out
        self.recycled = 0
        self.stats: Dict[str, int] = {}

    async def _acquire(self) -> _Worker:
        if self._idle and not self._waiting:
            return self._idle.pop()
        fut: "asyncio.Future[_Worker]" = asyncio.get_running_loop().create_future()
        self._waiting.append(fut)
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release(fut.result())  # handed over as the job was cancelled: pass it on
            elif fut in self._waiting:
                self._waiting.remove(fut)
            raise

    def _release(self, w: _Worker) -> None:
        # Handed straight to the oldest waiting job: with asyncio.Queue, a request arriving
        # between the put and the waiter's wake-up took the worker, and the woken job went
        # to the back of the queue (p99 at ~2x p50 with closed-loop clients).
        while self._waiting:
            fut = self._waiting.popleft()
            if not fut.done():
                fut.set_result(w)
                return
        self._idle.append(w)

    def pids(self) -> List[int]:
        return [w.pid for w in self.workers]

    def _replace(self, w: _Worker) -> _Worker:
        w.kill()
        new = _Worker(self._config)
        with self._lock:
            self.workers[self.workers.index(w)] = new
            self.recycled += 1
        return new

    def _add(self, stats: Mapping[str, int]) -> None:
        with self._lock:
            for k, v in stats.items():
                self.stats[k] = self.stats.get(k, 0) + int(v)

    async def run(self, op: str, payload: Any) -> Tuple[bytes, Dict[str, int]]:
        """The job's result (JSON bytes) and what it added to the worker counters; raises
        JobFailed, WorkerDied or WorkerTimeout."""
        loop = asyncio.get_running_loop()
        w = await self._acquire()
        try:
            for attempt in (1, 2):
                try:
                    answer = await loop.run_in_executor(None, w.job, (op, payload), self.request_timeout)
                    break
                except WorkerTimeout:
                    w = await loop.run_in_executor(None, self._replace, w)
                    raise
                except WorkerDied as e:
                    w = await loop.run_in_executor(None, self._replace, w)
                    if attempt == 2:
                        raise WorkerDied("the worker process died twice during this request (%s)" % e) from None
        finally:
            self._release(w)
        self._add(answer[-1])
        if answer[0] == "ok":
            return answer[1], answer[2]
        raise JobFailed(answer[1], answer[2])

    def close(self) -> None:
        for w in self.workers:
            w.stop()
