"""The long schemathesis pass against ``pysym serve``'s ``/openapi.json`` (``make fuzz-api``).

Starts the service (127.0.0.1, ephemeral port, one empty filesystem source and one empty
js source, a private cache directory), runs schemathesis's coverage and fuzzing phases
with every check, stops the service by its pid and exits with schemathesis's status.
tests/test_server.py runs a short seeded pass of the same kind.

    python bench/fuzz_api.py [--max-examples 100] [--seed N] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from load_service import stop  # bench/ is sys.path[0] when run as a script

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-examples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2, help="service worker processes")
    ap.add_argument("--phases", default="coverage,fuzzing")
    args = ap.parse_args()
    st = Path(sys.executable).with_name("st")
    if not st.exists():
        print("schemathesis is not installed (pip install -r tests/requirements.txt)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pysym-fuzz-api-") as tmp:
        t = Path(tmp)
        for d in ("store", "maps", "cache"):
            (t / d).mkdir()
        cfg = t / "service.json"
        cfg.write_text(json.dumps({
            "server": {"workers": args.workers, "request_timeout": 60},
            "cache": {"dir": str(t / "cache")},
            "sources": [{"id": "local", "path": str(t / "store")},
                        {"id": "maps", "type": "js", "path": str(t / "maps")}]}))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        svc = subprocess.Popen([sys.executable, "-m", "pysym", "serve", "--config", str(cfg), "--port", "0"],
                               stdout=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
        try:
            line = svc.stdout.readline()  # type: ignore[union-attr]
            if "listening on" not in line:
                print("the service did not start: %r" % line, file=sys.stderr)
                return 2
            url = line.split("listening on ", 1)[1].strip()
            cmd = [str(st), "--no-color", "--config-file", str(ROOT / "tests" / "schemathesis.toml"), "run",
                   url + "/openapi.json", "--checks", "all", "--phases", args.phases,
                   "--max-examples", str(args.max_examples), "-w", "2", "--continue-on-failure",
                   # (generating the JS frames' bounded integers is slow for hypothesis, not wrong)
                   "--suppress-health-check", "too_slow"]
            if args.seed is not None:
                cmd += ["--seed", str(args.seed)]
            return subprocess.call(cmd, cwd=tmp)  # (schemathesis writes .schemathesis/ there)
        finally:
            stop(svc)


if __name__ == "__main__":
    sys.exit(main())
