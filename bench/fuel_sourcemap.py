#!/usr/bin/env python3
"""Instructions a source map parse executes in the module: wasmtime fuel of one
``pysym_sourcemap_from_bytes`` call (JSON scan + every segment decoded + line index).

    python bench/fuel_sourcemap.py [--maps babylon,index,jquery,rxjs] [--wasm MODULE]

A program for optimising the decoder, not a test. Fuel (about one unit per wasm
instruction) does not depend on machine load, so two modules can be compared on a busy
machine: run it with the committed module and with ``--wasm`` pointing at another build.
Prints fuel per map and per segment, and a hash of ``token_arrays()`` (every column) and
the sources and names tables, so two builds can be checked to give the same answers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "reference"))

import realmaps  # noqa: E402
from fuel_build import fuel_meter, fuel_per_export, fuel_runtime  # noqa: E402

import pysym  # noqa: E402
from pysym import _host  # noqa: E402


def map_bytes(key: str) -> bytes:
    if key == "index":
        index_map, _, _ = realmaps.build_index_map()
        return json.dumps(index_map).encode()
    return realmaps.BY_KEY[key].map_path.read_bytes()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--maps", default="babylon,index,jquery,rxjs")
    ap.add_argument("--wasm", help="a module other than pysym/_wasm/pysym.wasm")
    ap.add_argument("--split", action="store_true",
                    help="also parse each map with an empty mappings string: the rest is the decoder's")
    args = ap.parse_args()
    realmaps.require_installed()
    if args.wasm:
        _host._WASM_PATH = args.wasm

    _, used = fuel_meter()

    rt = fuel_runtime()
    fuel = fuel_per_export(rt, used)
    parse = "pysym_sourcemap_from_bytes"
    for key in args.maps.split(","):
        data = map_bytes(key)
        fuel.clear()
        with pysym.SourceMap.from_bytes(data, runtime=rt) as sm:
            arrays = sm.token_arrays()
            digest = hashlib.sha256()
            for column in arrays[:6]:
                digest.update(column.tobytes())
            digest.update(json.dumps([arrays.sources, arrays.names]).encode())
            n = len(arrays.dst_col)
        total = fuel[parse]
        print("%-8s fuel %7.1f M  %6.1f per segment  %d segments  token_arrays sha256 %s"
              % (key, total / 1e6, total / max(n, 1), n, digest.hexdigest()[:16]))
        if args.split:
            doc = json.loads(data)
            for part in doc.get("sections") or [{"map": doc}]:
                part["map"]["mappings"] = ""
            fuel.clear()
            with pysym.SourceMap.from_bytes(json.dumps(doc).encode(), runtime=rt):
                pass
            rest = fuel[parse]
            print("%-8s   decoding %7.1f M (%.0f%%, %.1f per segment), the rest %.1f M"
                  % ("", (total - rest) / 1e6, 100 * (total - rest) / total, (total - rest) / max(n, 1), rest / 1e6))


if __name__ == "__main__":
    main()
