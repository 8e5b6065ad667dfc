"""``pysym.batch`` throughput: one process, Ray with a task per event, Ray grouped by debug id.

The events are bench_crash.py's request (8 threads x 64 frames over up to 10 modules:
the test program of tests/crash and system libraries with detached debug files), each
event with its modules at a slide of its own and its frames drawn again from the
request's addresses. The symcache disk cache is filled first (one event in one
process), so every mode starts with a warm disk and a cold memory, as a fresh batch job
on a shared cache does; each mode's rows are checked equal to the one-process rows.

Ray: a local cluster (``ray.init(num_cpus=N)``) in a network namespace of its own
(``unshare -n``, only loopback up) when the machine allows it, stopped at the end.

    python bench/bench_batch.py [--events 400] [--cpus 2] [--actors 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_crash import prepare  # noqa: E402


def make_events(spec: Dict[str, Any], n: int, seed: int = 18) -> List[Dict[str, Any]]:
    req = spec["request"]
    mods = req["modules"]
    bases = [int(m["image_addr"], 16) for m in mods]
    addrs = [int(f["instruction_addr"], 16) for t in req["stacktraces"] for f in t["frames"]]
    rng = random.Random(seed)
    out = []
    for e in range(n):
        slide = rng.randrange(0, 1 << 20) << 12  # modules are 0x10000000 apart: no overlap
        modules = [dict(m, image_addr=hex(b + slide)) for m, b in zip(mods, bases)]
        traces = [{"frames": [{"instruction_addr": hex(rng.choice(addrs) + slide)} for _ in t["frames"]]}
                  for t in req["stacktraces"]]
        out.append({"event_id": "ev-%d" % e, "modules": modules, "stacktraces": traces})
    return out


def _netns() -> List[str]:
    unshare, ip = shutil.which("unshare"), shutil.which("ip") or "/usr/sbin/ip"
    if unshare is None or not os.path.exists(ip):
        return []
    base = [unshare, "-n"] if os.geteuid() == 0 else [unshare, "-rn"]
    if subprocess.run(base + ["sh", "-c", "%s link set lo up" % ip], capture_output=True).returncode:
        return []
    return base + ["sh", "-c", '%s link set lo up && exec "$@"' % ip, "sh"]


def inner(args: argparse.Namespace) -> None:
    """Runs in the namespace: the three modes, one Ray cluster for the two Ray modes."""
    from pysym import batch

    cfg = json.loads(Path(args.inner).read_text())
    src, stores, cache = cfg["events"], cfg["stores"], cfg["cache"]
    results: Dict[str, Any] = {}
    rows: Dict[str, List[Dict[str, Any]]] = {}

    def one(mode: str) -> None:
        st = batch.BatchStats()
        t0 = time.perf_counter()
        got = list(batch.symbolicate_events(batch.read_events(src), stores=stores, cache_dir=cache, mode=mode,
                                            actors=args.actors, chunk=args.chunk, stats=st))
        secs = time.perf_counter() - t0
        rows[mode] = got
        results[mode] = {"seconds": secs, "frames": st.frames, "events": st.events, "failed": st.failed,
                         "symcache": st.symcache}
        print("  %-8s %6.1f s  %8.0f frames/s  %s" % (mode, secs, st.frames / secs, st.symcache), flush=True)

    one("local")
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, object_store_memory=500 << 20)
    print("  ray.init(num_cpus=%d): %.1f s (not counted)" % (args.cpus, time.perf_counter() - t0), flush=True)
    try:
        one("naive")
        one("grouped")
    finally:
        ray.shutdown()
    for mode in ("naive", "grouped"):
        results[mode]["same_as_local"] = rows[mode] == rows["local"]
    Path(args.inner).with_suffix(".out").write_text(json.dumps(results))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=400)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        inner(args)
        return
    with tempfile.TemporaryDirectory(prefix="pysym-bench-batch-") as tmp:
        work = Path(tmp)
        spec = prepare(work)
        events = make_events(spec, args.events)
        src = work / "events.jsonl"
        src.write_text("".join(json.dumps(e) + "\n" for e in events))
        frames = sum(len(t["frames"]) for e in events for t in e["stacktraces"])
        cache = work / "cache"
        import pysym

        t0 = time.perf_counter()
        pysym.Symbolicator(spec["stores"], cache_dir=str(cache)).symbolicate(events[0])
        print("%d events, %d frames over %d modules; disk cache filled in %.1f s"
              % (len(events), frames, len(spec["request"]["modules"]), time.perf_counter() - t0), flush=True)
        cfg = work / "cfg.json"
        cfg.write_text(json.dumps({"events": str(src), "stores": spec["stores"], "cache": str(cache)}))
        ns = _netns()
        if not ns:
            print("note: no network namespace (unshare -n): Ray listens on every interface for this run")
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0",
                   PYTHONPATH=os.pathsep.join([str(ROOT)] + ([os.environ["PYTHONPATH"]]
                                                            if os.environ.get("PYTHONPATH") else [])))
        cmd = ns + [sys.executable, str(Path(__file__).resolve()), "--inner", str(cfg), "--cpus", str(args.cpus),
                    "--actors", str(args.actors), "--chunk", str(args.chunk)]
        proc = subprocess.Popen(cmd, env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout=3600)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            raise SystemExit("the benchmark did not finish in an hour") from None
        if rc:
            raise SystemExit("the benchmark failed (%d)" % rc)
        res = json.loads(cfg.with_suffix(".out").read_text())
    base = res["local"]["frames"] / res["local"]["seconds"]
    print("\n| mode | seconds | frames/s | × one process | same rows as one process |")
    print("|---|---:|---:|---:|---|")
    for mode, name in (("local", "one process (no Ray)"), ("naive", "Ray, a task per event"),
                       ("grouped", "Ray, grouped by debug id")):
        r = res[mode]
        fps = r["frames"] / r["seconds"]
        same = "—" if mode == "local" else ("yes" if r["same_as_local"] else "NO")
        print("| %s | %.1f | %.0f | %.2f× | %s |" % (name, r["seconds"], fps, fps / base, same))
    if not all(res[m]["same_as_local"] for m in ("naive", "grouped")):
        raise SystemExit("the Ray modes' rows differ from the one-process rows")


if __name__ == "__main__":
    main()
