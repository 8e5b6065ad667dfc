"""``pysym.batch --ray-address`` on a two-node Ray cluster (``make batch-cluster``).

The README's multi-node recipe, run for real on one machine: ``ray start --head`` and a
second ``ray start --address HEAD`` (two raylets, one CPU each), then the batch CLI joins
them with ``--ray-address`` and its rows are compared with
:meth:`pysym.Symbolicator.symbolicate` of every event in this process.

Ray's servers listen on every interface, so the cluster lives in network and PID
namespaces of its own (``unshare -n -p``): only loopback exists there, and when the
namespace's first process ends the kernel ends every Ray daemon with it. Bounded in time
(``--timeout``). Needs root or user namespaces, and Ray (``pip install pysym[ray]``).

    python tools/batch_cluster.py [--events 40] [--timeout 600]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

CLUSTER = r"""
set -e
ip link set lo up
ray start --head --node-ip-address=127.0.0.1 --port={port} --num-cpus=1 --include-dashboard=false \
    --disable-usage-stats --object-store-memory=150000000 >ray-head.log 2>&1
ray start --address=127.0.0.1:{port} --node-ip-address=127.0.0.1 --num-cpus=1 \
    --object-store-memory=150000000 >ray-worker.log 2>&1
{python} -c 'import json, ray; ray.init(address="127.0.0.1:{port}", log_to_driver=False); \
print(json.dumps({{"alive_nodes": sum(n["Alive"] for n in ray.nodes())}})); ray.shutdown()'
{python} -m pysym.batch events.jsonl out.jsonl --store {store} --cache-dir cache --actors 2 --chunk 8 \
    --ray-address 127.0.0.1:{port}
ray stop --force >/dev/null 2>&1 || true
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=40, help="crash events of 512 frames (default 40)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds the cluster run may take")
    args = ap.parse_args()
    from test_batch import _netns, _read_rows, _write_jsonl, make_dataset

    from pysym import Symbolicator

    if shutil.which("unshare") is None or not _netns():
        print("cannot make network namespaces here (unshare -n): not run", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="pysym-batch-cluster-"))
    try:
        store, events = make_dataset(work, args.events)
        _write_jsonl(work / "events.jsonl", events)
        want = [Symbolicator([str(store)]).symbolicate(e) for e in events]
        ray_bin = str(Path(sys.executable).parent)
        # Token authentication, as a real cluster should run: every process of the
        # cluster and the driver get the same token (never written to ~/.ray).
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=os.urandom(16).hex(),
                   PATH=ray_bin + os.pathsep + os.environ.get("PATH", ""),
                   PYTHONPATH=os.pathsep.join([str(ROOT)] + ([os.environ["PYTHONPATH"]]
                                                           if os.environ.get("PYTHONPATH") else [])))
        script = CLUSTER.format(port=6379, python=shlex.quote(sys.executable), store=shlex.quote(str(store)))
        unshare = ["unshare", "-n", "-p", "-f", "--mount-proc"] if os.geteuid() == 0 else \
            ["unshare", "-r", "-n", "-p", "-f", "--mount-proc"]
        t0 = time.monotonic()
        proc = subprocess.Popen(unshare + ["sh", "-c", script], cwd=work, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the namespace's first process: the kernel ends the rest
            proc.communicate()
            print("the cluster run did not finish in %.0f s" % args.timeout, file=sys.stderr)
            return 1
        if proc.returncode != 0:
            logs = "".join((work / n).read_text(errors="replace")[-1500:] for n in ("ray-head.log", "ray-worker.log")
                           if (work / n).exists())
            print("the cluster run failed (exit %d):\n%s\n%s" % (proc.returncode, err[-3000:], logs), file=sys.stderr)
            return 1
        reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        nodes = reports[0]["alive_nodes"]
        stats = reports[-1]
        rows = _read_rows(work / "out.jsonl")
        bad = 0
        for i, (row, exp) in enumerate(zip(rows, want)):
            index, event_id = row.pop("index"), row.pop("event_id")
            bad += (index, event_id) != (i, events[i]["event_id"]) or row != exp
        ok = nodes == 2 and len(rows) == len(events) + 2 and bad == 0 and stats["failed"] == 2
        print("two-node cluster: %d alive nodes, %d events (%d frames) in %.1f s of batch (%.0f s with start-up), "
              "%d rows differ from the library, %d failed rows (2 expected): %s"
              % (nodes, len(events), stats["frames"], stats["seconds"], time.monotonic() - t0, bad, stats["failed"],
                 "OK" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
