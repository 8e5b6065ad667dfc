"""Symcache builds in forked child processes (``Symbolicator(build_processes=N)``, the
default on wasmer, whose calls hold the GIL): the same responses, caches, statuses and
stats as builds in-process, typed errors from the children, and no child left behind.

The debug files are the crash test programs (tests/crash, built here with -g -O2, debug
info moved into a ``.build-id`` store) plus a copy of libc's from libc6-dbg when present.
"""

from __future__ import annotations

import filecmp
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from crash_programs import PROGRAMS, build_id, build_programs, functions, keep_debug, load_span, store_path

import pysym
from pysym import FilesystemStore, Limits, Symbolicator
from pysym._symbolicate import _forkbuild

ROOT = Path(__file__).resolve().parent.parent
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


@pytest.fixture(scope="module")
def crash_store(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Dict[str, Any], List[Path]]:
    """A ``.build-id`` store of the crash programs' (and libc's) debug files, a request with
    frames in each module, and the debug files."""
    tmp = tmp_path_factory.mktemp("procs")
    src = build_programs(tmp / "src")
    store = tmp / "store"
    binaries = [src / n for n in PROGRAMS]
    libc_debug = Path("/usr/lib/debug")
    if os.path.exists(LIBC) and store_path(libc_debug, build_id(os.path.realpath(LIBC))).exists():
        binaries.append(Path(os.path.realpath(LIBC)))
    rng = random.Random(7)
    modules, frames, debug = [], [], []
    for i, b in enumerate(binaries):
        bid = build_id(b)
        dst = store_path(store, bid)
        if b.parent == src:
            keep_debug(b, store)
        else:  # a copy: the store holds every file the request needs
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(store_path(libc_debug, bid).read_bytes())
        debug.append(dst)
        base = 0x7F0000000000 + i * 0x10000000
        vbase, size = load_span(b)
        modules.append({"type": "elf", "code_id": bid, "code_file": str(b), "debug_file": str(b),
                        "image_addr": hex(base), "image_size": size})
        funcs = functions(dst)
        for a, s in rng.sample(funcs, min(len(funcs), 20)):
            frames.append({"instruction_addr": hex(base + a - vbase + rng.randrange(s))})
    rng.shuffle(frames)
    return store, {"modules": modules, "stacktraces": [{"frames": frames}]}, debug


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> Iterator[List[int]]:
    """The pids of the build children forked during the test; after it, every one of them
    must have been waited for (no child running, no zombie)."""
    pids: List[int] = []
    real = os.fork

    def fork() -> int:
        pid = real()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(_forkbuild.os, "fork", fork)
    yield pids
    monkeypatch.undo()
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped: not ours any more


def _wasmer_only(engine: str) -> None:
    if engine != "wasmer":
        # (not a hidden failure: test_processes_refused_on_parallel_engines covers wasmtime)
        pytest.skip("build_processes is for engines whose calls hold the GIL (wasmer)")


def _statuses(resp: Dict[str, Any]) -> List[Any]:
    return [m["debug_status"] for m in resp["modules"]]


def test_default_and_refused_on_parallel_engines(engine: str) -> None:
    sym = Symbolicator([])
    if engine == "wasmer":
        assert sym.build_processes == (min(2, os.cpu_count() or 1) if (os.cpu_count() or 1) > 1 else 0)
        assert Symbolicator([], build_processes=3).build_processes == 3
    else:
        assert sym.build_processes == 0
        with pytest.raises(ValueError, match="build_processes"):
            Symbolicator([], build_processes=2)
    assert Symbolicator([], build_processes=0).build_processes == 0


@pytest.mark.parametrize("disk", [False, True])
def test_same_response_caches_and_stats(engine: str, tmp_path: Path, forks: List[int], disk: bool,
                                        crash_store: Tuple[Path, Dict[str, Any], List[Path]]) -> None:
    _wasmer_only(engine)
    store, request, debug = crash_store
    one = Symbolicator([FilesystemStore(store)], tmp_path / "in" if disk else None, build_processes=0)
    want = one.symbolicate(request)
    assert not forks
    assert set(_statuses(want)) == {"found"}
    assert sum(f["status"] == "symbolicated" for f in want["stacktraces"][0]["frames"]) >= 3 * len(debug)

    sym = Symbolicator([FilesystemStore(store)], tmp_path / "out" if disk else None, build_processes=2)
    assert sym.symbolicate(request) == want
    assert len(forks) == min(2, len(debug))  # children for the request, each building several
    assert sym.stats == one.stats == {"builds": len(debug), "disk_hits": 0, "memory_hits": 0}
    assert sorted(sym.memory._items) == sorted(one.memory._items)
    for (key, (sc, size)), (_k, (sc1, size1)) in zip(sorted(sym.memory._items.items()),
                                                     sorted(one.memory._items.items())):
        assert sc.to_bytes() == sc1.to_bytes() and size == size1 and sc._rt is sym.runtime, key
    # the next request: from memory, no child
    assert sym.symbolicate(request) == want and len(forks) == min(2, len(debug))
    if disk:
        made = sorted(p.name for p in (tmp_path / "out").rglob("*.symcache"))
        assert made == sorted(p.name for p in (tmp_path / "in").rglob("*.symcache")) and len(made) == len(debug)
        for name in made:
            assert filecmp.cmp(next((tmp_path / "out").rglob(name)), next((tmp_path / "in").rglob(name)),
                               shallow=False)
        warm = Symbolicator([FilesystemStore(store)], tmp_path / "out", build_processes=2)
        assert warm.symbolicate(request) == want
        assert warm.stats == {"builds": 0, "disk_hits": len(debug), "memory_hits": 0}
        assert len(forks) == min(2, len(debug))


def _damaged(good: Path, dst: Path) -> None:
    """A copy of ``good`` whose first DWARF unit length is zeroed: its identity reads, its
    symcache cannot be built."""
    data = bytearray(good.read_bytes())
    out = subprocess.run(["readelf", "-SW", str(good)], check=True, capture_output=True, text=True).stdout
    sec = [line for line in out.splitlines() if " .debug_info " in line][0].split("]")[1].split()
    off = int(sec[3], 16)
    data[off:off + 4] = b"\0\0\0\0"
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(data))


def _store_copy(debug: List[Path], store: Path, to: Path) -> None:
    for d in debug:
        dst = to / d.relative_to(store)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(d.read_bytes())


def test_malformed_file_in_a_child(engine: str, tmp_path: Path, forks: List[int],
                                   crash_store: Tuple[Path, Dict[str, Any], List[Path]]) -> None:
    _wasmer_only(engine)
    store, request, debug = crash_store
    bad_store = tmp_path / "store"
    _store_copy(debug, store, bad_store)
    victim = debug[PROGRAMS.index("libtwo.so")]
    _damaged(victim, bad_store / victim.relative_to(store))
    one = Symbolicator([FilesystemStore(bad_store)], tmp_path / "in", build_processes=0)
    want = one.symbolicate(request)
    statuses = _statuses(want)
    if "malformed" not in statuses:
        pytest.fail("the damaged file built: the test no longer damages it enough")
    assert statuses.count("malformed") == 1 and statuses.count("found") == len(debug) - 1
    sym = Symbolicator([FilesystemStore(bad_store)], tmp_path / "out", build_processes=2)
    assert sym.symbolicate(request) == want  # the same status and error text
    assert len(forks) == 2
    assert sym.stats == one.stats
    # remembered as malformed in the disk cache, as by an in-process build
    assert len(list((tmp_path / "out").rglob("*.malformed"))) == 1
    again = Symbolicator([FilesystemStore(bad_store)], tmp_path / "out", build_processes=2)
    assert again.symbolicate(request) == want and again.stats["builds"] == 0
    assert len(forks) == 2


def test_limit_hit_in_a_child(engine: str, tmp_path: Path, forks: List[int], monkeypatch: pytest.MonkeyPatch,
                              crash_store: Tuple[Path, Dict[str, Any], List[Path]]) -> None:
    """A symcache larger than Limits.max_input_size (it would be loaded back whole): the
    same typed error, so the same statuses, from a child as in-process."""
    _wasmer_only(engine)
    store, request, debug = crash_store
    sizes = sorted(len(pysym.SymCache.from_object(str(d)).to_bytes()) for d in debug)
    limits = Limits(max_input_size=(sizes[0] + sizes[-1]) // 2)  # the largest does not fit
    monkeypatch.setenv("PYSYM_ENGINE", engine)  # (the engine of a runtime with limits of its own)
    one = Symbolicator([FilesystemStore(store)], limits=limits, build_processes=0)
    want = one.symbolicate(request)
    assert "malformed" in _statuses(want) and "found" in _statuses(want)
    errors = [m["debug_error"] for m in want["modules"] if m["debug_status"] == "malformed"]
    assert errors and all("more than" in e for e in errors), errors
    sym = Symbolicator([FilesystemStore(store)], limits=limits, build_processes=2)
    assert sym.symbolicate(request) == want
    assert len(forks) == 2 and sym.stats == one.stats


def test_child_errors_are_the_same_types(engine: str, tmp_path: Path, forks: List[int],
                                         crash_store: Tuple[Path, Dict[str, Any], List[Path]]) -> None:
    _wasmer_only(engine)
    store, _request, debug = crash_store
    rt = pysym._host.get_runtime()
    bad = tmp_path / "bad.debug"
    _damaged(debug[PROGRAMS.index("libtwo.so")], bad)
    with pytest.raises(pysym.PysymError) as local:
        pysym.SymCache.from_object(str(bad), runtime=rt)
    builds = _forkbuild.ForkBuilds(rt, 2)
    try:
        builds.submit("bad", str(bad), None)
        builds.submit("gone", str(tmp_path / "nothing-here"), None)
        builds.submit("good", str(debug[0]), None)
        with pytest.raises(type(local.value)) as child:
            builds.result("bad")
        assert str(child.value) == str(local.value) and child.value.code == local.value.code
        with pytest.raises(OSError) as gone:
            builds.result("gone")
        assert "nothing-here" in str(gone.value)
        data, warnings, memory = builds.result("good")
        assert data == pysym.SymCache.from_object(str(debug[0]), runtime=rt).to_bytes() and memory > 0
    finally:
        builds.close()
    assert len(forks) == 2


def test_hung_child_killed_at_the_timeout(engine: str, forks: List[int],
                                          crash_store: Tuple[Path, Dict[str, Any], List[Path]]) -> None:
    """A child that does not answer (stopped here, like a runaway build) is killed at
    Limits.timeout: TimeLimitError, and the child is gone."""
    _wasmer_only(engine)
    _store, _request, debug = crash_store
    rt = pysym._host.Runtime(pysym._host.get_runtime().engine.name, limits=Limits(timeout=0.5))
    builds = _forkbuild.ForkBuilds(rt, 1)
    try:
        builds.submit("k", str(max(debug, key=lambda p: p.stat().st_size)), None)
        assert len(forks) == 1
        os.kill(forks[0], signal.SIGSTOP)
        t0 = time.monotonic()
        with pytest.raises(pysym.TimeLimitError, match="time limit"):
            builds.result("k")
        assert time.monotonic() - t0 < 60  # (not a timing assertion: a hang would block forever)
    finally:
        builds.close()


def test_abandoned_builds_are_killed(engine: str, forks: List[int],
                                     crash_store: Tuple[Path, Dict[str, Any], List[Path]]) -> None:
    """A request that ends early (an error, an interrupt) kills the children still
    building (the fixture checks that each was waited for)."""
    _wasmer_only(engine)
    _store, _request, debug = crash_store
    builds = _forkbuild.ForkBuilds(pysym._host.get_runtime(), 2)
    for i, d in enumerate(debug):
        builds.submit(str(i), str(d), None)
    assert len(forks) == 2  # the others wait for a slot
    for pid in forks:
        os.kill(pid, signal.SIGSTOP)
    builds.close()
    assert not builds.children and not builds.busy and not builds.queue


_PARENT = textwrap.dedent("""
    import os, signal, sys, threading
    sys.path.insert(0, sys.argv[1])
    from pysym import _host
    from pysym._symbolicate import _forkbuild
    rt = _host.get_runtime()
    rt.current()
    builds = _forkbuild.ForkBuilds(rt, 1)
    real = os.fork
    pids = []
    def fork():
        pid = real()
        if pid:
            pids.append(pid)
        return pid
    _forkbuild.os.fork = fork
    builds.submit("k", sys.argv[2], None)
    # Stopped (a build that would never end) once it is well into its work: past the
    # ~330 page faults of its first steps, which make it die with its parent.
    while True:
        try:
            with open("/proc/%d/stat" % pids[0]) as f:
                faults = int(f.read().split(") ")[1].split()[7])
        except FileNotFoundError:
            faults = -1
        if faults < 0 or faults >= 700 or builds.jobs["k"].done:
            break
    if faults < 0 or builds.jobs["k"].done:
        print("ended", flush=True)
    else:
        os.kill(pids[0], signal.SIGSTOP)
        print(pids[0], flush=True)
    signal.pause()
""")


def test_children_die_with_their_parent(engine: str, crash_store: Tuple[Path, Dict[str, Any], List[Path]]) -> None:
    _wasmer_only(engine)
    _store, _request, debug = crash_store
    env = dict(os.environ, PYSYM_ENGINE=engine)
    largest = max(debug, key=lambda p: p.stat().st_size)
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(ROOT), str(largest)],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline().strip()
        assert line != "ended", "the build ended before it could be stopped: use a larger debug file"
        child = int(line)
        assert _alive(child)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 30
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the build child outlived its parent"


def _alive(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][:1] != "Z"  # (a zombie waits for init to reap it)
    except FileNotFoundError:
        return False


def test_build_runtimes_bound_with_processes(engine: str, tmp_path: Path, forks: List[int],
                                             crash_store: Tuple[Path, Dict[str, Any], List[Path]]) -> None:
    """build_memory_bytes: the builds' memory goes with their children; the symcaches live
    in the symbolicator's runtime; a child grown past the bound counts as a dropped build
    runtime, as in-process."""
    _wasmer_only(engine)
    store, request, debug = crash_store
    want = Symbolicator([FilesystemStore(store)], build_processes=0).symbolicate(request)
    for bound, dropped in ((0, len(debug)), (1 << 30, 0)):
        one = Symbolicator([FilesystemStore(store)], tmp_path / ("in%d" % bound), build_processes=0,
                           build_memory_bytes=bound)
        sym = Symbolicator([FilesystemStore(store)], tmp_path / ("out%d" % bound), build_processes=2,
                           build_memory_bytes=bound)
        assert one.symbolicate(request) == want == sym.symbolicate(request)
        assert sym.stats == one.stats and sym.stats["build_runtimes_dropped"] == dropped
        assert not sym._spare
        assert all(sc._rt is sym.runtime for sc, _size in sym.memory._items.values())
    assert len(forks) == 2 * min(2, len(debug))


def test_threads_share_a_symbolicator_with_processes(engine: str, tmp_path: Path, forks: List[int],
                                                     crash_store: Tuple[Path, Dict[str, Any], List[Path]]) -> None:
    """Requests from several threads at once: each thread's builds go to children (at most
    build_processes at a time per request), every symcache is built once."""
    _wasmer_only(engine)
    store, request, debug = crash_store
    want = Symbolicator([FilesystemStore(store)], build_processes=0).symbolicate(request)
    sym = Symbolicator([FilesystemStore(store)], tmp_path / "cache", build_processes=2)
    got: List[Any] = []

    def work() -> None:
        got.append(json.dumps(sym.symbolicate(request), sort_keys=True))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert got == [json.dumps(want, sort_keys=True)] * 3
    assert sym.stats["builds"] == len(debug)
