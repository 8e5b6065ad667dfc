"""The memory builds leave behind: build runtimes grown past ``build_memory_bytes`` are
dropped (a wasm instance's memory never shrinks), what they built is loaded again in the
symbolicator's runtime, and the answers do not change.  Two small shared libraries built
here with gcc; cheap."""

from __future__ import annotations

import gc
import re
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from pysym import FilesystemStore, Symbolicator, _host

SOURCES = {
    "liba": "int a_leaf(int x) { return x * 3 + 1; }\n"
            "int a_mid(int x) { return a_leaf(x) + a_leaf(x + 1); }\n"
            "int a_top(int x) { return a_mid(x) * a_mid(x - 1); }\n",
    "libb": "static int b_helper(int *p, int n) { int s = 0; for (int i = 0; i < n; i++) s += p[i]; return s; }\n"
            "int b_sum(int *p, int n) { return b_helper(p, n) + b_helper(p, n / 2); }\n"
            "int b_twice(int *p, int n) { return 2 * b_sum(p, n); }\n",
}


def _run(cmd: List[str], cwd: Path) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Dict[str, Any]]:
    """A store (``.build-id`` layout) of two libraries, and a request with frames in
    each of their functions."""
    tmp = tmp_path_factory.mktemp("libs")
    store = tmp / "store"
    modules, frames = [], []
    for i, (name, code) in enumerate(sorted(SOURCES.items())):
        (tmp / (name + ".c")).write_text(code)
        so = tmp / (name + ".so")
        _run(["gcc", "-g", "-O1", "-fPIC", "-shared", "-Wl,--build-id", name + ".c", "-o", so.name], tmp)
        bid = re.search(r"Build ID: ([0-9a-f]+)", _run(["readelf", "-nW", str(so)], tmp)).group(1)  # type: ignore
        dst = store / ".build-id" / bid[:2] / (bid[2:] + ".debug")
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(so.read_bytes())
        base = 0x7F0000000000 + i * 0x1000000
        modules.append({"type": "elf", "code_id": bid, "code_file": str(so), "image_addr": hex(base),
                        "image_size": so.stat().st_size + 0x10000})
        for line in _run(["nm", "-S", "--defined-only", str(so)], tmp).splitlines():
            p = line.split()
            if len(p) == 4 and p[2] in "tT" and p[3].startswith(name[-1] + "_"):
                frames.append({"instruction_addr": hex(base + int(p[0], 16) + 2)})
    assert len(frames) >= 5
    return store, {"modules": modules, "stacktraces": [{"frames": frames}]}


def _names(resp: Dict[str, Any]) -> List[Any]:
    return [(f.get("function"), f.get("lineno"), f.get("status")) for t in resp["stacktraces"] for f in t["frames"]]


@pytest.mark.parametrize("build_workers", [1, 2])
def test_build_runtimes_past_the_bound_are_dropped(engine: str, tmp_path: Path, libs: Tuple[Path, Dict[str, Any]],
                                                   build_workers: int) -> None:
    """(Build runtimes are threads' things: build_processes, wasmer's default, is
    tests/test_build_processes.py's.)"""
    store, request = libs
    want = Symbolicator([FilesystemStore(store)], tmp_path / "plain").symbolicate(request)
    assert {s for _f, _l, s in _names(want)} == {"symbolicated"} and any(f for f, _l, _s in _names(want))

    gc.collect()
    before = set(_host._runtimes)
    sym = Symbolicator([FilesystemStore(store)], tmp_path / "bounded", build_workers=build_workers,
                       build_memory_bytes=0, build_processes=0)
    assert _names(sym.symbolicate(request)) == _names(want)
    gc.collect()
    assert set(_host._runtimes) - before == set()  # the build runtimes are gone, their memory with them
    # every build ran in a build runtime, dropped after it; what it built lives on in
    # the symbolicator's runtime (the one every lookup uses)
    assert sym.stats["builds"] == 2 and sym.stats["build_runtimes_dropped"] == 2 and not sym._spare
    held = [sc for sc, _size in sym.memory._items.values()]
    assert len(held) == 2 and all(sc._rt is sym.runtime for sc in held)
    # the next request: from memory, nothing built or dropped, same answer
    assert _names(sym.symbolicate(request)) == _names(want)
    assert sym.stats["builds"] == 2 and sym.stats["build_runtimes_dropped"] == 2

    # another process's view: the disk cache is read in the symbolicator's runtime
    again = Symbolicator([FilesystemStore(store)], tmp_path / "bounded", build_workers=build_workers,
                         build_memory_bytes=0, build_processes=0)
    assert _names(again.symbolicate(request)) == _names(want)
    assert again.stats["builds"] == 0 and again.stats["disk_hits"] == 2 and again.stats["build_runtimes_dropped"] == 0

    # a bound the builds stay under: the build runtime is kept for the next build
    roomy = Symbolicator([FilesystemStore(store)], tmp_path / "roomy", build_workers=build_workers,
                         build_memory_bytes=1 << 30, build_processes=0)
    assert _names(roomy.symbolicate(request)) == _names(want)
    assert roomy.stats["build_runtimes_dropped"] == 0 and 1 <= len(roomy._spare) <= build_workers
    assert all(sc._rt is roomy.runtime for sc, _size in roomy.memory._items.values())


def test_service_drops_build_runtimes_and_checks_the_setting(tmp_path: Path,
                                                             libs: Tuple[Path, Dict[str, Any]]) -> None:
    pytest.importorskip("starlette", reason="pysym[server] is not installed (tests/requirements.txt installs it)")
    from test_server import Service, _config, _post

    from pysym._server import ConfigError, merge_config

    for key in ("build_memory_bytes", "build_threads", "build_processes"):
        for bad in (-1, "16M", True, 1.5):
            with pytest.raises(ConfigError, match=key):
                merge_config({"cache": {key: bad}})
    assert merge_config({})["cache"]["build_memory_bytes"] == 0
    assert merge_config({})["cache"]["build_processes"] is None  # the library's default
    assert merge_config({"cache": {"build_processes": 0}})["cache"]["build_processes"] == 0

    store, request = libs
    want = Symbolicator([FilesystemStore(store)], tmp_path / "lib").symbolicate(request)
    config = _config(tmp_path, [{"id": "libs", "type": "filesystem", "path": str(store)}], workers=1)
    config["cache"]["build_threads"] = 2  # (and the default build_memory_bytes, 0)
    svc = Service(tmp_path, config)
    try:
        code, resp, _h = _post(svc.url + "/symbolicate", request)
        assert code == 200 and _names(resp) == _names(want), resp
        m = svc.metrics()
        assert m["pysym_symcache_builds_total"] == 2 and m["pysym_build_runtimes_dropped_total"] == 2
    finally:
        svc.stop()
