"""``pysym.batch`` on a real local Ray cluster (``ray.init(num_cpus=2)``).

A dataset of crash events x 512 frames over three modules built here (plus one module
no store has, and two broken events) is symbolicated by the grouped mode (actors routed
by debug id) and the naive mode (a task per event); every row must equal :meth:`pysym.Symbolicator.symbolicate` of its
event in this process.

Size: 40 events (20,480 frames) here, to stay cheap (Ray's start-up is most of it);
``make batch-test`` runs the same test at the issue's size, 196 events (100,352 frames),
with ``PYSYM_BATCH_EVENTS=196``.

Ray's servers listen on every interface, so the cluster runs in a network namespace of
its own (``unshare -n``) where only the loopback interface exists. The driver is a
process the test starts and stops by its own pid (its Ray processes share its fate);
the run is bounded in time. Ray's start-up alone takes ~25 s on a loaded 2-core
machine: one cluster serves both modes, and the test runs once (not per engine: the
engine is the process-wide one, PYSYM_ENGINE, in the workers as here).
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from crash_programs import PROGRAMS, build_id, build_programs, functions, keep_debug, load_span

from pysym import Symbolicator

ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI") == "true"
EVENTS = int(os.environ.get("PYSYM_BATCH_EVENTS", "40"))
THREADS, FRAMES = 8, 64
PARQUET_EVENTS = 8
TIMEOUT = 420

HAVE_RAY = importlib.util.find_spec("ray") is not None  # (importing ray here costs seconds)


def make_dataset(work: Path, events: int = EVENTS, seed: int = 18) -> Tuple[Path, List[Any]]:
    """Builds the three modules of tests/crash, their ``.build-id`` store under
    ``work/store``; returns the store and ``events`` events (each module loaded at a
    per-event slide; frames inside functions, a few outside any module)."""
    src = build_programs(work / "src")
    store = work / "store"
    mods = []
    for name in PROGRAMS:
        b = src / name
        dst = keep_debug(b, store)
        vbase, size = load_span(b)
        mods.append((build_id(b), name, vbase, size, functions(dst)))
    rng = random.Random(seed)
    out: List[Any] = []
    for e in range(events):
        slide = rng.randrange(0, 1 << 24) << 12
        modules, pools = [], []
        for i, (bid, name, vbase, size, funcs) in enumerate(mods):
            base = 0x7F0000000000 + i * 0x10000000 + slide
            modules.append({"type": "elf", "code_id": bid, "code_file": "/opt/app/" + name, "debug_file": name,
                            "image_addr": hex(base), "image_size": size})
            pools.append([base + a - vbase + rng.randrange(s) for a, s in funcs])
        # a module no store has: its frames are "missing"
        gone = 0x7F0000000000 + 3 * 0x10000000 + slide
        modules.append({"type": "elf", "code_id": "%040x" % rng.getrandbits(160), "code_file": "/opt/app/gone.so",
                        "image_addr": hex(gone), "image_size": 0x10000})
        pools.append([gone + rng.randrange(0x10000) for _ in range(8)])
        traces = []
        for _t in range(THREADS):
            frames = []
            for _f in range(FRAMES):
                if rng.random() < 0.01:
                    frames.append({"instruction_addr": hex(rng.randrange(0x1000, 0x7FFFFFFF))})  # no module
                else:
                    frames.append({"instruction_addr": hex(rng.choice(rng.choice(pools)))})
            traces.append({"frames": frames})
        out.append({"event_id": "ev-%d" % e, "modules": modules, "stacktraces": traces})
    return store, out


DRIVER = r"""
import json, sys, time
t0 = time.monotonic()
import ray
import pysym.batch as b
cfg = json.loads(sys.argv[1])
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=200 << 20)
print("ray started in %.1f s" % (time.monotonic() - t0), flush=True)
try:
    for mode, src, dst in cfg["runs"]:
        st = b.BatchStats()
        n = b.write_results(dst, b.symbolicate_events(b.read_events(src), stores=cfg["stores"],
                            cache_dir=cfg["cache"], mode=mode, actors=2, chunk=64, stats=st))
        print(json.dumps({"mode": mode, "rows": n, "frames": st.frames, "failed": st.failed,
                          "symcache": st.symcache, "seconds": st.seconds}), flush=True)
finally:
    ray.shutdown()
"""


def _write_jsonl(path: Path, events: List[Any]) -> None:
    with open(path, "w") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
        f.write("{not json\n")
        f.write(json.dumps({"event_id": "bad", "stacktraces": 5}) + "\n")


def _read_rows(path: Path) -> List[Dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        t = pq.read_table(path).to_pylist()
        assert all(json.loads(r["response"])["index"] == r["index"] for r in t)
        return [json.loads(r["response"]) for r in t]
    return [json.loads(line) for line in path.read_text().splitlines()]


def _netns() -> List[str]:
    """A prefix running a command in a network namespace with only loopback up."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip") or "/usr/sbin/ip"
    if unshare is None or not os.path.exists(ip):
        return []
    base = [unshare, "-n"] if os.geteuid() == 0 else [unshare, "-rn"]
    probe = subprocess.run(base + ["sh", "-c", "%s link set lo up" % ip], capture_output=True)
    return base + ["sh", "-c", '%s link set lo up && exec "$@"' % ip, "sh"] if probe.returncode == 0 else []


def test_batch_on_ray_equals_the_library(tmp_path: Path) -> None:
    if not HAVE_RAY:
        if CI:
            pytest.fail("ray is not installed (tests/requirements.txt installs it)")
        pytest.skip("ray is not installed (pip install pysym[ray])")
    ns = _netns()
    if not ns:
        if CI:
            pytest.fail("cannot make a network namespace (unshare -n) to keep Ray on loopback")
        pytest.skip("cannot make a network namespace (unshare -n) to keep Ray on loopback")
    store, events = make_dataset(tmp_path)
    src = tmp_path / "events.jsonl"
    _write_jsonl(src, events)
    frames = sum(len(t["frames"]) for e in events for t in e["stacktraces"])
    assert frames == EVENTS * THREADS * FRAMES

    sym = Symbolicator([str(store)])
    want = [sym.symbolicate(e) for e in events]
    assert sum(f["status"] == "symbolicated" for r in want for t in r["stacktraces"] for f in t["frames"]) > frames // 2

    runs = [("grouped", str(src), str(tmp_path / "grouped.jsonl")),
            ("naive", str(src), str(tmp_path / "naive.jsonl"))]
    cfg = {"stores": [str(store)], "cache": str(tmp_path / "cache"), "runs": runs}
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    proc = subprocess.Popen(ns + [sys.executable, "-c", DRIVER, json.dumps(cfg)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the Ray batch did not finish in %d s" % TIMEOUT)
    assert proc.returncode == 0, err[-3000:]
    sys.stderr.write(out)  # the runs' times (pytest -s)
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["mode"] for r in reports] == ["grouped", "naive"]

    for (mode, _s, dst), rep in zip(runs, reports):
        rows = _read_rows(Path(dst))
        assert rep["rows"] == len(rows) == len(events) + 2, mode
        assert rep["frames"] == frames
        assert [r["index"] for r in rows] == list(range(len(rows)))
        for i, (row, exp) in enumerate(zip(rows, want)):
            assert row.pop("index") == i
            assert row.pop("event_id") == events[i]["event_id"]
            assert row == exp, (mode, i)
        bad_json, bad_event = rows[-2:]
        assert bad_json["status"] == "failed" and bad_json["error"]["type"] == "ValueError"
        assert bad_event["status"] == "failed" and bad_event["error"]["type"] == "InvalidInputError"
        assert rep["failed"] == 2
    # Grouped: each debug id routed to one actor, so each symcache is built or loaded
    # once per actor for the whole dataset (3 modules; the cache is shared by the runs).
    grouped = reports[0]["symcache"]
    assert grouped.get("builds", 0) + grouped.get("disk_hits", 0) == 3, grouped


def test_local_mode_parquet_in_and_out(tmp_path: Path) -> None:
    """Parquet both ways (a JSON ``event`` column in; ``index``, ``event_id``,
    ``response`` out) through the one-process mode and :func:`pysym.batch.run`."""
    pa = pytest.importorskip("pyarrow") if not CI else __import__("pyarrow")
    import pyarrow.parquet as pq

    from pysym import batch

    store, events = make_dataset(tmp_path, PARQUET_EVENTS)
    pq.write_table(pa.table({"event": [json.dumps(e) for e in events] + ["{not json"]}), tmp_path / "in.parquet")
    st = batch.run(str(tmp_path / "in.parquet"), str(tmp_path / "out.parquet"), stores=[str(store)], mode="local")
    assert (st.events, st.failed, st.frames) == (PARQUET_EVENTS + 1, 1, PARQUET_EVENTS * THREADS * FRAMES)
    rows = _read_rows(tmp_path / "out.parquet")
    sym = Symbolicator([str(store)])
    for i, (row, event) in enumerate(zip(rows, events)):
        assert (row.pop("index"), row.pop("event_id")) == (i, event["event_id"])
        assert row == sym.symbolicate(event)
    assert rows[-1]["status"] == "failed" and rows[-1]["error"]["type"] == "ValueError"
    assert pq.read_table(tmp_path / "out.parquet").column_names == ["index", "event_id", "response"]


def test_s3_datasets_in_and_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``s3://`` input and output through the CLI (``python -m pysym.batch``) against a
    real S3 server (SeaweedFS on loopback): JSONL in, Parquet and JSONL out; boto3 finds
    the server the standard way (``AWS_ENDPOINT_URL_S3`` and the credential variables)."""
    from object_servers import bucket_server

    pytest.importorskip("pyarrow") if not CI else __import__("pyarrow")
    from pysym import batch

    store, events = make_dataset(tmp_path, PARQUET_EVENTS)
    weed = bucket_server("s3", tmp_path)
    try:
        for k, v in {"AWS_ENDPOINT_URL_S3": weed.url, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                     "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(k, v)
        body = "".join(json.dumps(e) + "\n" for e in events) + "{not json\n"
        weed.put("in/events.jsonl", body.encode())
        for out in ("out/results.parquet", "out/results.jsonl"):
            assert batch.main(["s3://syms/in/events.jsonl", "s3://syms/" + out, "--store", str(store),
                               "--mode", "local"]) == 0
            local = tmp_path / out.replace("/", "-")
            local.write_bytes(weed.get(out))
            rows = _read_rows(local)
            assert len(rows) == PARQUET_EVENTS + 1
            sym = Symbolicator([str(store)])
            for i, (row, event) in enumerate(zip(rows, events)):
                assert (row.pop("index"), row.pop("event_id")) == (i, event["event_id"])
                assert row == sym.symbolicate(event)
            assert rows[-1]["status"] == "failed" and rows[-1]["error"]["type"] == "ValueError"
        with pytest.raises(FileNotFoundError, match="s3://syms/in/missing.jsonl"):
            batch.run("s3://syms/in/missing.jsonl", str(tmp_path / "x.jsonl"), stores=[str(store)], mode="local")
    finally:
        weed.stop()


def test_parquet_with_a_column_per_key(tmp_path: Path) -> None:
    """Parquet input with one column per top-level key (nested lists and structs, as
    ``pyarrow.Table.from_pylist`` writes events; keys a row lacks come back as nulls)."""
    pa = pytest.importorskip("pyarrow") if not CI else __import__("pyarrow")
    import pyarrow.parquet as pq

    from pysym import batch

    store, events = make_dataset(tmp_path, 4)
    pq.write_table(pa.Table.from_pylist(events), tmp_path / "in.parquet")
    assert pq.read_table(tmp_path / "in.parquet").column_names == ["event_id", "modules", "stacktraces"]
    st = batch.run(str(tmp_path / "in.parquet"), str(tmp_path / "out.jsonl"), stores=[str(store)], mode="local")
    assert (st.events, st.failed) == (4, 0)
    sym = Symbolicator([str(store)])
    for row, event in zip(_read_rows(tmp_path / "out.jsonl"), events):
        assert row.pop("event_id") == event["event_id"]
        row.pop("index")
        assert row == sym.symbolicate(event)
