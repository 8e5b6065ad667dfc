"""Load test of ``pysym serve``: a mix of native, JS and minidump requests at several client counts.

The mix (the issue's: "native requests of 8x64 frames over 10 modules, JS requests,
minidumps"; it gives no weights, so: 5 native, 4 JS, 1 minidump out of 10, ``--mix``):

* native: bench_crash.py's request (8 threads x 64 frames over 10 modules: the test
  program of tests/crash plus system libraries with detached debug files), POST /symbolicate;
* js: POST /symbolicate-js, 24 frames over three real bundles with their maps (examples/'s
  app with examples/trace.txt's V8 frames; tests/data/js_names' cart and Preact builds at
  seeded random mapped positions), maps found by debug id in a ``js`` source holding each
  minified file beside its map (4 request variants);
* minidump: POST /minidump (multipart), the well-formed dumps of tests/data/minidump (two
  with their Breakpad symbols in a filesystem source), one of 5 per request.

The service runs as its own process (``python -m pysym serve``, 127.0.0.1, ephemeral port);
this program drives it with N client threads, each on a keep-alive connection drawing
each request's kind from the weights (seeded per client), for a bounded time per level.

* cold: each kind's first request on empty caches (finds, builds every symcache, reads
  the maps, builds the dumps' CFI);
* warm: then, per client count, requests/s, p50 and p99 latency per kind and overall,
  failed requests (the program exits 1 if any failed);
* peak RSS: the service's front and every descendant process (workers, and any process
  they start that lives past one sample), VmRSS summed every 50 ms; also the sum of their
  VmHWM at the end (an upper bound: those peaks need not be at the same time);
* CPU ms per request of the front, the workers and this client (from /proc and
  ``time.process_time``): where the time goes, less at the mercy of a shared machine.

The reference, measured in the same run with the same requests, client counts and worker
count: bench/ref_symbolic_app.py (the same HTTP subset on PyPI ``symbolic``, same
framework, a disk cache of symcaches; symbolic's SourceMapCache for JS; for minidumps,
which symbolic cannot walk, pysym's walker in the reference's workers: see that file);
the table gives pysym's throughput and p99 as ratios to it, per kind and overall.

    python bench/load_service.py [--clients 8,32,128] [--seconds 10] [--workers 2] [--mix native=5,js=4,minidump=1]
                                 [--no-reference]
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
from typing import Any, Dict, List, Optional, Tuple

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


KINDS = ("native", "js", "minidump")
#: requests of each kind out of 10 (see the module's docstring)
DEFAULT_MIX = "native=5,js=4,minidump=1"
_URL = "https://example.com/static/"
#: real bundles and their maps (an app built by examples/build.sh; a small cart module;
#: Preact's published build): (minified file, its map)
JS_BUNDLES = [("examples/app.min.js", "examples/app.min.js.map"),
              ("tests/data/js_names/cart.min.js", "tests/data/js_names/cart.min.js.map"),
              ("tests/data/js_names/preact.min.js", "tests/data/js_names/preact.min.js.map")]
MINIDUMP_DIR = ROOT / "tests" / "data" / "minidump"
#: the fixtures' well-formed dumps (two with Breakpad symbols in MINIDUMP_DIR/symbols)
MINIDUMPS = ["test.dmp", "pipeline-inlines-macos-segv.dmp", "linux-mini.dmp", "simple-crashpad.dmp",
             "invalid-parameter.dmp"]


class Req:
    """One request of the mix, encoded once."""

    def __init__(self, kind: str, path: str, body: bytes, ctype: str) -> None:
        self.kind, self.path, self.body, self.ctype = kind, path, body, ctype


def _multipart(fields: Dict[str, Tuple[Any, bytes]]) -> Tuple[bytes, str]:
    boundary = "pysymload7d2f"
    parts = []
    for name, (filename, data) in fields.items():
        disp = 'form-data; name="%s"' % name + ('; filename="%s"' % filename if filename else "")
        parts.append(b"--%s\r\nContent-Disposition: %s\r\n\r\n%s\r\n" % (boundary.encode(), disp.encode(), data))
    return b"".join(parts) + b"--%s--\r\n" % boundary.encode(), "multipart/form-data; boundary=" + boundary


def prepare_js(work: Path, variants: int = 4, frames: int = 24) -> Tuple[str, List[Req]]:
    """A js source directory (each map with a debugId, its minified file beside it) and
    ``variants`` requests of ``frames`` frames: examples/trace.txt's (a real V8 trace of
    the app) and mapped positions of the other bundles (seeded random tokens)."""
    import random
    import uuid

    from pysym import SourceMap
    from pysym._stacktrace import Frame, parse_stacktrace

    d = work / "js"
    d.mkdir()
    modules, positions = [], []
    for i, (script, smap) in enumerate(JS_BUNDLES):
        did = str(uuid.UUID(int=0x5E7A0000_0000_4000_8000_000000000000 + i))
        doc = json.loads((ROOT / smap).read_text())
        doc["debugId"] = did
        name = Path(script).name
        (d / (name + ".map")).write_text(json.dumps(doc))
        (d / name).write_bytes((ROOT / script).read_bytes())
        modules.append({"type": "sourcemap", "code_file": _URL + name, "debug_id": did})
        with SourceMap.from_path(str(d / (name + ".map"))) as sm:
            positions.append([(t.dst_line + 1, t.dst_col + 1) for t in sm.tokens if t.src is not None])
    trace = [f for f in parse_stacktrace((ROOT / "examples" / "trace.txt").read_text())
             if isinstance(f, Frame) and f.has_position]
    rng = random.Random(18)
    reqs = []
    for _v in range(variants):
        fr: List[Dict[str, Any]] = [{"abs_path": _URL + Path(JS_BUNDLES[0][0]).name, "lineno": f.line,
                                     "colno": f.col, "function": f.function} for f in trace]
        while len(fr) < frames:
            b = rng.randrange(1, len(JS_BUNDLES))
            line, col = rng.choice(positions[b])
            fr.append({"abs_path": _URL + Path(JS_BUNDLES[b][0]).name, "lineno": line, "colno": col})
        rng.shuffle(fr)
        body = json.dumps({"stacktraces": [{"frames": fr}], "modules": modules}).encode()
        reqs.append(Req("js", "/symbolicate-js", body, "application/json"))
    return str(d), reqs


def prepare_minidumps(source_id: str) -> List[Req]:
    out = []
    for name in MINIDUMPS:
        body, ctype = _multipart({"upload_file_minidump": (name, (MINIDUMP_DIR / name).read_bytes()),
                                  "sources": (None, json.dumps([source_id]).encode())})
        out.append(Req("minidump", "/minidump", body, ctype))
    return out


def _post(conn: http.client.HTTPConnection, req: Req, answers: Optional[List[Any]] = None) -> Tuple[bool, str]:
    conn.request("POST", req.path, req.body, {"Content-Type": req.ctype})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        return False, "%s: HTTP %d %s" % (req.kind, resp.status, data[:200])
    doc = json.loads(data)
    if answers is not None:
        answers.append(doc)
    return doc.get("status") == "completed", "%s: status %r" % (req.kind, doc.get("status"))


def _client(host: str, port: int, reqs: Dict[str, List[Req]], weights: List[Tuple[str, int]], seed: int,
            until: float, lat: List[Tuple[str, float]], fails: List[str]) -> None:
    """Requests on one keep-alive connection until ``until`` (at least one), each of a kind
    drawn by ``weights`` (seeded: both services get the same sequence per client)."""
    import random

    rng = random.Random(seed)
    kinds = [k for k, w in weights for _ in range(w)]
    conn = http.client.HTTPConnection(host, port, timeout=300)
    first = True
    while first or time.monotonic() < until:
        first = False
        kind = rng.choice(kinds)
        req = rng.choice(reqs[kind])
        t0 = time.monotonic()
        try:
            ok, why = _post(conn, req)
        except (OSError, http.client.HTTPException, ValueError) as e:
            ok, why = False, "%s: %s" % (kind, e)
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=300)
        if ok:
            lat.append((kind, time.monotonic() - t0))
        else:
            fails.append(why)
    conn.close()


class _RssSampler(threading.Thread):
    """The service's RSS over time: front + every descendant (workers, and any process
    they start), VmRSS summed every 50 ms; ``peak`` is the largest sum seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.front_peak, self.stopped = pid, 0.0, 0.0, False
        self.each: Dict[int, float] = {}  # pid -> the largest VmRSS seen (MB)
        self.names: Dict[int, str] = {}  # pid -> the end of its command line

    def run(self) -> None:
        seen: set = set()
        while not self.stopped:
            rss = {p: _status_kb(p, "VmRSS") / 1024 for p in _tree(self.pid)}
            # A process is counted from its second sample on: a fork about to exec
            # (ctypes.util.find_library runs ldconfig at import time) shows its parent's
            # resident pages for a moment, counted twice.
            counted = {p: r for p, r in rss.items() if p in seen or p == self.pid}
            seen = set(rss)
            for p, r in counted.items():
                if p not in self.each:
                    try:
                        self.names[p] = Path("/proc/%d/cmdline" % p).read_bytes().replace(b"\0", b" ")[-40:].decode(
                            errors="replace").strip()
                    except OSError:
                        self.names[p] = "?"
                self.each[p] = max(self.each.get(p, 0.0), r)
            self.peak = max(self.peak, sum(counted.values()))
            self.front_peak = max(self.front_peak, rss.get(self.pid, 0.0))
            time.sleep(0.05)


def _tree(pid: int) -> List[int]:
    out: List[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.append(p)
        try:
            todo += _children(p)
        except OSError:
            pass
    return out


def _pct(xs: List[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(len(xs) * q))] * 1000 if xs else float("nan")


def _run(name: str, cmd: List[str], reqs: Dict[str, List[Req]], weights: List[Tuple[str, int]],
         levels: List[int], seconds: float, workers: int, env: Dict[str, str]) -> Dict[str, Any]:
    """One service: started, each kind's first request on empty caches (cold), a warm-up,
    each client count for ``seconds``, stopped."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
    sampler = _RssSampler(proc.pid)
    sampler.start()
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if "listening on" not in line:
            raise SystemExit("%s did not start: %r" % (name, line))
        url = line.rsplit(" ", 1)[-1].strip()
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=600)
        cold: Dict[str, float] = {}
        answers: List[Any] = []
        for kind, _w in weights:
            t0 = time.monotonic()
            ok, why = _post(conn, reqs[kind][0], answers)
            cold[kind] = time.monotonic() - t0
            if not ok:
                raise SystemExit("%s: the first %s request failed: %s" % (name, kind, why))
        conn.close()
        # what the first answers hold (the two services should agree on these counts)
        print("%s: frames symbolicated in the first answers: %s" % (name, ", ".join(
            "%s %d" % (k, sum(1 for t in a["stacktraces"] for f in t["frames"] if f.get("status") == "symbolicated"))
            for (k, _w), a in zip(weights, answers))))
        cold_rss = sampler.peak
        # Warm-up (not measured): every request shape, twice over, on 4 connections per
        # worker, so that every worker has loaded the symcaches from the disk cache, read
        # the maps and the dumps' CFI before the clock starts.
        t0 = time.monotonic()
        shapes = [r for k, _w in weights for r in reqs[k]]
        warm_fails: List[str] = []

        def warm_up() -> None:
            c = http.client.HTTPConnection(host, int(port), timeout=600)
            for r in shapes * 2:
                ok, why = _post(c, r)
                if not ok:
                    warm_fails.append(why)
            c.close()

        warm = [threading.Thread(target=warm_up) for _ in range(4 * workers)]
        for t in warm:
            t.start()
        for t in warm:
            t.join()
        print("%s: cold (each kind's first request, empty caches) %s; warm-up (%d requests) %.1f s%s"
              % (name, ", ".join("%s %.2f s" % kv for kv in cold.items()), 2 * len(shapes) * len(warm),
                 time.monotonic() - t0, "; warm-up failures: %s" % warm_fails[:3] if warm_fails else ""), flush=True)
        rows = []
        pool = _children(proc.pid)
        for n in levels:
            lat: List[Tuple[str, float]] = []
            fails: List[str] = []
            until = time.monotonic() + seconds
            threads = [threading.Thread(target=_client, args=(host, int(port), reqs, weights, 1000 * n + i, until,
                                                              lat, fails)) for i in range(n)]
            # CPU time per request of the front, the workers and this client (less at the
            # mercy of a shared machine's load than the wall-clock numbers)
            cpu0 = (_cpu_seconds(proc.pid), sum(_cpu_seconds(w) for w in pool), time.process_time())
            start = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            took = time.monotonic() - start
            cpu1 = (_cpu_seconds(proc.pid), sum(_cpu_seconds(w) for w in pool), time.process_time())
            per = [(b - a) * 1000 / max(1, len(lat)) for a, b in zip(cpu0, cpu1)]
            row: Dict[str, Any] = {"clients": n, "failed": len(fails), "why": fails[:3], "cpu": per}
            for kind in ("all",) + KINDS:
                xs = sorted(t for k, t in lat if kind in ("all", k))
                row[kind] = (len(xs) / took, statistics.median(xs) * 1000 if xs else float("nan"), _pct(xs, 0.99),
                             len(xs))
            rows.append(row)
        pids = _tree(proc.pid)
        hwm = sum(_status_kb(p, "VmHWM") for p in pids) / 1024
        return {"cold": cold, "rows": rows, "hwm": hwm, "hwm_each": [_status_kb(p, "VmHWM") / 1024 for p in pids],
                "rss_now": [_status_kb(p, "VmRSS") / 1024 for p in pids], "peak": sampler.peak,
                "front_peak": sampler.front_peak, "cold_peak": cold_rss,
                "each": [round(v) for _p, v in sorted(sampler.each.items())],
                "names": [sampler.names.get(p, "?") for p in sorted(sampler.each)]}
    finally:
        sampler.stopped = True
        stop(proc)


def _soak(cmd: List[str], reqs: Dict[str, List[Req]], weights: List[Tuple[str, int]], clients: int,
          seconds: float, bound_mb: float, env: Dict[str, str]) -> int:
    """``clients`` clients for ``seconds`` against one service; the RSS of front + workers
    sampled every 5 s.  Exit status 1 if it ever passes ``bound_mb`` or a request failed."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        url = line.rsplit(" ", 1)[-1].strip()
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        # the symcaches built, the maps read, before the clock starts
        _client(host, int(port), reqs, [(k, 1) for k, _w in weights], 0, time.monotonic() + 1.0, [], [])
        lat: List[Tuple[str, float]] = []
        fails: List[str] = []
        start = time.monotonic()
        until = start + seconds
        threads = [threading.Thread(target=_client, args=(host, int(port), reqs, weights, i, until, lat, fails))
                   for i in range(clients)]
        for t in threads:
            t.start()
        samples: List[Tuple[float, float]] = []
        print("%8s %10s %10s %8s" % ("seconds", "RSS MB", "requests", "failed"))
        while any(t.is_alive() for t in threads):
            time.sleep(5)
            rss = sum(_status_kb(p, "VmRSS") for p in _tree(proc.pid)) / 1024
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
        if fails:
            print("soak: first failures: %s" % fails[:3])
        print("soak: %s" % ("within the bound" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        stop(proc)


def _parse_mix(text: str) -> List[Tuple[str, int]]:
    out = []
    for part in text.split(","):
        kind, _eq, w = part.partition("=")
        if kind not in KINDS or not w.isdigit():
            raise SystemExit("--mix: KIND=WEIGHT,... with KIND in %s" % ", ".join(KINDS))
        if int(w):
            out.append((kind, int(w)))
    if not out:
        raise SystemExit("--mix: no kind with a weight")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", default="8,32,128")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mix", default=DEFAULT_MIX, help="requests of each kind per draw (default %(default)s)")
    ap.add_argument("--no-reference", action="store_true", help="pysym serve only")
    ap.add_argument("--build-memory-bytes", type=int, default=None, metavar="N",
                    help="pysym serve's cache.build_memory_bytes (default: the service's default)")
    ap.add_argument("--build-threads", type=int, default=None, metavar="N",
                    help="pysym serve's cache.build_threads (default: the service's default)")
    ap.add_argument("--soak", type=float, default=0, metavar="SECONDS",
                    help="instead: one client count (the first of --clients) for SECONDS, RSS sampled")
    ap.add_argument("--rss-bound", type=float, default=1024, metavar="MB",
                    help="--soak fails if front + workers ever pass this RSS (default 1024 MB)")
    args = ap.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    weights = _parse_mix(args.mix)
    with tempfile.TemporaryDirectory(prefix="pysym-load-") as tmp:
        work = Path(tmp)
        spec = prepare(work)
        js_dir, js_reqs = prepare_js(work)
        reqs = {"native": [Req("native", "/symbolicate", json.dumps(spec["request"]).encode(), "application/json")],
                "js": js_reqs, "minidump": prepare_minidumps("minidump-symbols")}
        sources = [{"id": "s%d" % i, "type": "filesystem", "path": s, "layout": "native"}
                   for i, s in enumerate(spec["stores"])]
        sources.append({"id": "minidump-symbols", "type": "filesystem", "path": str(MINIDUMP_DIR / "symbols"),
                        "layout": "native"})
        sources.append({"id": "js", "type": "js", "path": js_dir})
        # (the services run in ROOT: ``python -m`` puts the working directory first on
        # sys.path, so from another checkout they would run that checkout's pysym)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path[1:]))
        frames = sum(len(t["frames"]) for t in spec["request"]["stacktraces"])
        total = sum(w for _k, w in weights)
        print("mix: %s (of %d requests); native: %d frames over %d modules; js: %d variants of %d frames over "
              "%d bundles; minidump: %d dumps (%s); %d workers; %.0f s per client count"
              % (", ".join("%s %d" % kw for kw in weights), total, frames, len(spec["request"]["modules"]),
                 len(js_reqs), len(json.loads(js_reqs[0].body)["stacktraces"][0]["frames"]), len(JS_BUNDLES),
                 len(MINIDUMPS), ", ".join("%.0f KB" % (len(r.body) / 1024) for r in reqs["minidump"]),
                 args.workers, args.seconds), flush=True)
        if args.soak:
            config = {"server": {"workers": args.workers, "max_concurrent_requests": 1024},
                      "cache": {"dir": str(work / "cache-soak")}, "sources": sources}
            cfg = work / "config-soak.json"
            cfg.write_text(json.dumps(config))
            sys.exit(_soak([sys.executable, "-m", "pysym", "serve", "--config", str(cfg), "--port", "0"], reqs,
                           weights, levels[0], args.soak, args.rss_bound, env))
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
            if name == "pysym" and args.build_memory_bytes is not None:
                config["cache"]["build_memory_bytes"] = args.build_memory_bytes
            if name == "pysym" and args.build_threads is not None:
                config["cache"]["build_threads"] = args.build_threads
            cfg = work / ("config-%s.json" % name)
            cfg.write_text(json.dumps(config))
            results[name] = _run(name, cmd + ["--config", str(cfg), "--port", "0"], reqs, weights, levels,
                                 args.seconds, args.workers, env)
        _report(results, [k for k, _w in weights])


def _report(results: Dict[str, Dict[str, Any]], kinds: List[str]) -> None:
    ref = results.get("symbolic")
    print()
    print("%-9s %7s %-9s %8s %9s %9s %7s %21s   %s" % ("service", "clients", "kind", "req/s", "p50 ms", "p99 ms",
                                                     "failed", "CPU ms/req fr/wk/cl", "vs symbolic: throughput / p99"))
    for name, r in results.items():
        for i, row in enumerate(r["rows"]):
            for kind in ["all"] + kinds:
                rps, p50, p99, _n = row[kind]
                ratio = ""
                if ref is not None and name != "symbolic":
                    rr = ref["rows"][i][kind]
                    ratio = "%.2fx / %.2fx" % (rps / rr[0] if rr[0] else float("nan"),
                                               p99 / rr[2] if rr[2] else float("nan"))
                first = kind == "all"
                cpu = "%.1f / %.1f / %.1f" % tuple(row["cpu"]) if first else ""
                print("%-9s %7s %-9s %8.1f %9.1f %9.1f %7s %21s   %s"
                      % (name if first else "", row["clients"] if first else "", kind, rps, p50, p99,
                         row["failed"] if first else "", cpu, ratio))
            if row["why"]:
                print("          failures, first: %s" % row["why"])
    for name, r in results.items():
        print("%s: cold %s; peak RSS (front + workers, sampled every 50 ms) %.1f MB (front %.1f MB; by the end of "
              "the cold requests %.1f MB; largest RSS seen per process, by pid: %s MB); sum of VmHWM %.1f MB (%s); "
              "RSS at the end %.1f MB"
              % (name, ", ".join("%s %.2f s" % kv for kv in r["cold"].items()), r["peak"], r["front_peak"],
                 r["cold_peak"], " / ".join(map(str, r["each"])), r["hwm"],
                 " + ".join("%.0f" % x for x in r["hwm_each"]), sum(r["rss_now"])))
    for name, r in results.items():
        print("%s processes, by pid: %s" % (name, " | ".join(r["names"])))
    failed = sum(row["failed"] for r in results.values() for row in r["rows"])
    print("failed requests: %d" % failed)
    if ref is not None:
        print("targets: warm throughput >= 1.0x, p99 <= 1.0x the reference, zero failed requests")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
