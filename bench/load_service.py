"""Load test of ``pysym serve``: throughput and latency at several client counts.

The request is bench_crash.py's (8 threads x 64 frames over up to 10 modules: the test
program of tests/crash plus system libraries with detached debug files). The service runs
as its own process (``python -m pysym serve``, 127.0.0.1, ephemeral port, filesystem
sources); this program drives it with N client threads, each on a keep-alive connection,
for a bounded time per level.

* cold: the first request on an empty cache (finds, builds every symcache);
* warm: then, per client count, requests/s, p50 and p99 latency, failures;
* peak RSS: the service's front and workers together (sum of VmHWM from /proc);
* CPU ms per request of the front, the workers and this client (from /proc and
  ``time.process_time``): where the time goes, less at the mercy of a shared machine.

The reference, measured in the same run with the same request, client counts and worker
count: bench/ref_symbolic_app.py (the same HTTP subset on PyPI ``symbolic``, same
framework, a disk cache of symcaches); the table gives pysym's throughput and p99 as
ratios to it.

    python bench/load_service.py [--clients 8,32,128] [--seconds 10] [--workers 2] [--no-reference]
    python bench/load_service.py --soak 600 --clients 8 --rss-bound 1024   (make soak)
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
from typing import Any, Dict, List, Tuple

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


def _status_kb(pid: int, field: str) -> int:
    """A ``kB`` field of ``/proc/PID/status`` (``VmHWM``, ``VmRSS``); 0 once the process is gone."""
    try:
        for line in Path("/proc/%d/status" % pid).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it is gone)."""
    try:
        fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15)


def stop(proc: "subprocess.Popen[Any]") -> None:
    """SIGTERM, then SIGKILL after 15 s: a service and its workers end by their own pid."""
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _client(host: str, port: int, body: bytes, until: float, lat: List[float], fails: List[int]) -> None:
    """Requests on one keep-alive connection until ``until`` (at least one)."""
    conn = http.client.HTTPConnection(host, port, timeout=300)
    first = True
    while first or time.monotonic() < until:
        first = False
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


def _run(name: str, cmd: List[str], body: bytes, spec: Dict[str, Any], levels: List[int], seconds: float,
         env: Dict[str, str]) -> Dict[str, Any]:
    """One service: started, a cold request, each client count for ``seconds``, stopped."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if "listening on" not in line:
            raise SystemExit("%s did not start: %r" % (name, line))
        url = line.rsplit(" ", 1)[-1].strip()
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=600)
        t0 = time.monotonic()
        conn.request("POST", "/symbolicate", body, {"Content-Type": "application/json"})
        first = json.loads(conn.getresponse().read())
        cold = time.monotonic() - t0
        conn.close()
        found = sum(1 for m in first["modules"] if m.get("debug_status") == "found")
        ok = sum(1 for t in first["stacktraces"] for f in t["frames"] if f.get("status") == "symbolicated")
        # Warm-up (not measured): the other workers load the symcaches from the disk cache.
        t0 = time.monotonic()
        lat0: List[float] = []
        warm = [threading.Thread(target=_client, args=(host, int(port), body, 0.0, lat0, [])) for _ in range(8)]
        for t in warm:
            t.start()
        for t in warm:
            t.join()
        print("%s: cold (empty cache, first request) %.3f s; modules found %d; frames symbolicated %d; "
              "warm-up of the other workers (8 requests) %.1f s" % (name, cold, found, ok, time.monotonic() - t0))
        rows: List[Tuple[int, float, float, float, int, float, float, float]] = []
        workers = _children(proc.pid)
        for n in levels:
            lat: List[float] = []
            fails: List[int] = []
            until = time.monotonic() + seconds
            threads = [threading.Thread(target=_client, args=(host, int(port), body, until, lat, fails))
                       for _ in range(n)]
            # CPU time per request of the front, the workers and this client (less at the
            # mercy of a shared machine's load than the wall-clock numbers)
            cpu0 = (_cpu_seconds(proc.pid), sum(_cpu_seconds(w) for w in workers), time.process_time())
            start = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            took = time.monotonic() - start
            cpu1 = (_cpu_seconds(proc.pid), sum(_cpu_seconds(w) for w in workers), time.process_time())
            per = [(b - a) * 1000 / max(1, len(lat)) for a, b in zip(cpu0, cpu1)]
            lat.sort()
            p50 = statistics.median(lat) * 1000 if lat else float("nan")
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
            rows.append((n, len(lat) / took, p50, p99, len(fails), per[0], per[1], per[2]))
        pids = [proc.pid] + _children(proc.pid)
        rss = sum(_status_kb(p, "VmHWM") for p in pids) / 1024
        return {"cold": cold, "rows": rows, "rss": rss}
    finally:
        stop(proc)


def _soak(cmd: List[str], body: bytes, clients: int, seconds: float, bound_mb: float,
          env: Dict[str, str]) -> int:
    """``clients`` clients for ``seconds`` against one service; the RSS of front + workers
    sampled every 5 s.  Exit status 1 if it ever passes ``bound_mb`` or a request failed."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        url = line.rsplit(" ", 1)[-1].strip()
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        cold: List[float] = []
        _client(host, int(port), body, 0.0, cold, [])  # the symcaches built before the clock starts
        lat: List[float] = []
        fails: List[int] = []
        start = time.monotonic()
        until = start + seconds
        threads = [threading.Thread(target=_client, args=(host, int(port), body, until, lat, fails))
                   for _ in range(clients)]
        for t in threads:
            t.start()
        samples: List[Tuple[float, float]] = []
        print("%8s %10s %10s %8s" % ("seconds", "RSS MB", "requests", "failed"))
        while any(t.is_alive() for t in threads):
            time.sleep(5)
            rss = sum(_status_kb(p, "VmRSS") for p in [proc.pid] + _children(proc.pid)) / 1024
            samples.append((time.monotonic() - start, rss))
            if len(samples) % 12 == 1:
                print("%8.0f %10.1f %10d %8d" % (samples[-1][0], rss, len(lat), len(fails)), flush=True)
        for t in threads:
            t.join()
        peak = max(r for _, r in samples)
        half = len(samples) // 2
        first = statistics.mean(r for _, r in samples[:half]) if half else float("nan")
        second = statistics.mean(r for _, r in samples[half:]) if half else float("nan")
        print("soak: %d requests, %d failed, %.1f req/s; RSS peak %.1f MB (bound %.0f MB); mean RSS first "
              "half %.1f MB, second half %.1f MB" % (len(lat), len(fails), len(lat) / seconds, peak, bound_mb,
                                                     first, second))
        ok = peak <= bound_mb and not fails
        print("soak: %s" % ("within the bound" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        stop(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", default="8,32,128")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-reference", action="store_true", help="pysym serve only")
    ap.add_argument("--soak", type=float, default=0, metavar="SECONDS",
                    help="instead: one client count (the first of --clients) for SECONDS, RSS sampled")
    ap.add_argument("--rss-bound", type=float, default=1024, metavar="MB",
                    help="--soak fails if front + workers ever pass this RSS (default 1024 MB)")
    args = ap.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory(prefix="pysym-load-") as tmp:
        work = Path(tmp)
        spec = prepare(work)
        body = json.dumps(spec["request"]).encode()
        sources = [{"id": "s%d" % i, "type": "filesystem", "path": s, "layout": "native"}
                   for i, s in enumerate(spec["stores"])]
        # (the services run in ROOT: ``python -m`` puts the working directory first on
        # sys.path, so from another checkout they would run that checkout's pysym)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path[1:]))
        frames = sum(len(t["frames"]) for t in spec["request"]["stacktraces"])
        print("request: %d frames over %d modules; %d workers; %.0f s per client count"
              % (frames, len(spec["request"]["modules"]), args.workers, args.seconds))
        if args.soak:
            config = {"server": {"workers": args.workers, "max_concurrent_requests": 1024},
                      "cache": {"dir": str(work / "cache-soak")}, "sources": sources}
            cfg = work / "config-soak.json"
            cfg.write_text(json.dumps(config))
            sys.exit(_soak([sys.executable, "-m", "pysym", "serve", "--config", str(cfg), "--port", "0"], body,
                           levels[0], args.soak, args.rss_bound, env))
        targets = [("pysym", [sys.executable, "-m", "pysym", "serve"])]
        if not args.no_reference:
            try:
                import symbolic  # noqa: F401
                targets.append(("symbolic", [sys.executable, str(ROOT / "bench" / "ref_symbolic_app.py")]))
            except ImportError:
                print("symbolic is not installed: no reference (pip install symbolic==13.9.0)")
        results = {}
        for name, cmd in targets:
            config = {"server": {"workers": args.workers, "max_concurrent_requests": 1024},
                      "cache": {"dir": str(work / ("cache-" + name))}, "sources": sources}
            cfg = work / ("config-%s.json" % name)
            cfg.write_text(json.dumps(config))
            results[name] = _run(name, cmd + ["--config", str(cfg), "--port", "0"], body, spec, levels,
                                 args.seconds, env)
        ref = results.get("symbolic")
        print()
        print("%-9s %8s %9s %9s %9s %7s %21s   %s" % ("service", "clients", "req/s", "p50 ms", "p99 ms", "failed",
                                                     "CPU ms/req fr/wk/cl", "vs symbolic: throughput / p99"))
        for name, r in results.items():
            for i, (n, rps, p50, p99, failed, c_front, c_workers, c_client) in enumerate(r["rows"]):
                ratio = ""
                if ref is not None and name != "symbolic":
                    rr = ref["rows"][i]
                    ratio = "%.2fx / %.2fx" % (rps / rr[1] if rr[1] else float("nan"),
                                               p99 / rr[3] if rr[3] else float("nan"))
                cpu = "%.1f / %.1f / %.1f" % (c_front, c_workers, c_client)
                print("%-9s %8d %9.1f %9.1f %9.1f %7d %21s   %s" % (name, n, rps, p50, p99, failed, cpu, ratio))
        for name, r in results.items():
            print("%s: cold %.2f s; peak RSS (front + workers, VmHWM) %.1f MB" % (name, r["cold"], r["rss"]))
        if ref is not None:
            print("targets: warm throughput >= 1.0x, p99 <= 1.0x the reference, zero failed requests")


if __name__ == "__main__":
    main()
