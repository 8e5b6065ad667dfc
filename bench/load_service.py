"""Load test of ``pysym serve``: throughput and latency at several client counts.

The request is bench_crash.py's (8 threads x 64 frames over up to 10 modules: the test
program of tests/crash plus system libraries with detached debug files). The service runs
as its own process (``python -m pysym serve``, 127.0.0.1, ephemeral port, filesystem
sources); this program drives it with N client threads, each on a keep-alive connection,
for a bounded time per level.

* cold: the first request on an empty cache (finds, builds every symcache);
* warm: then, per client count, requests/s, p50 and p99 latency, failures;
* peak RSS: the service's front and workers together (sum of VmHWM from /proc).

No reference app on PyPI ``symbolic`` is measured yet (issue 18 asks for one).

    python bench/load_service.py [--clients 8,32,128] [--seconds 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_crash import prepare  # noqa: E402


def _children(pid: int) -> List[int]:
    out = []
    for task in Path("/proc/%d/task" % pid).iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path("/proc/%d/status" % pid).read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _client(host: str, port: int, body: bytes, until: float, lat: List[float], fails: List[int]) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=300)
    while time.monotonic() < until:
        t0 = time.monotonic()
        try:
            conn.request("POST", "/symbolicate", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            ok = resp.status == 200 and json.loads(data).get("status") == "completed"
        except (OSError, http.client.HTTPException, ValueError):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=300)
        if ok:
            lat.append(time.monotonic() - t0)
        else:
            fails.append(1)
    conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", default="8,32,128")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pysym-load-") as tmp:
        work = Path(tmp)
        spec = prepare(work)
        body = json.dumps(spec["request"]).encode()
        sources = [{"id": "s%d" % i, "type": "filesystem", "path": s, "layout": "native"}
                   for i, s in enumerate(spec["stores"])]
        config = {"server": {"workers": args.workers, "max_concurrent_requests": 1024},
                  "cache": {"dir": str(work / "cache")}, "sources": sources}
        (work / "config.json").write_text(json.dumps(config))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path[1:]))
        proc = subprocess.Popen([sys.executable, "-m", "pysym", "serve", "--config", str(work / "config.json"),
                                 "--port", "0"], stdout=subprocess.PIPE, text=True, env=env)
        try:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            url = line.rsplit(" ", 1)[-1].strip()
            host, port = url.split("//", 1)[1].rsplit(":", 1)
            frames = sum(len(t["frames"]) for t in spec["request"]["stacktraces"])
            print("request: %d frames over %d modules; %d workers" % (frames, len(spec["request"]["modules"]),
                                                                       args.workers))
            conn = http.client.HTTPConnection(host, int(port), timeout=600)
            t0 = time.monotonic()
            conn.request("POST", "/symbolicate", body, {"Content-Type": "application/json"})
            first = json.loads(conn.getresponse().read())
            cold = time.monotonic() - t0
            found = sum(1 for m in first["modules"] if m.get("debug_status") == "found")
            print("cold (empty cache, first request): %.3f s; modules found: %d" % (cold, found))
            print("%8s %10s %10s %10s %8s" % ("clients", "req/s", "p50 ms", "p99 ms", "failed"))
            rows: List[Tuple[int, float, float, float, int]] = []
            for n in [int(c) for c in args.clients.split(",")]:
                lat: List[float] = []
                fails: List[int] = []
                until = time.monotonic() + args.seconds
                threads = [threading.Thread(target=_client, args=(host, int(port), body, until, lat, fails))
                           for _ in range(n)]
                start = time.monotonic()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                took = time.monotonic() - start
                lat.sort()
                p50 = statistics.median(lat) * 1000 if lat else float("nan")
                p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
                rows.append((n, len(lat) / took, p50, p99, len(fails)))
                print("%8d %10.1f %10.1f %10.1f %8d" % rows[-1])
            pids = [proc.pid] + _children(proc.pid)
            print("peak RSS (front + workers, VmHWM): %.1f MB" % (sum(_hwm_kb(p) for p in pids) / 1024))
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
