#!/usr/bin/env python3
"""zstd section decoding: pysym's decoder (native and in the module) vs the ``zstd`` command.

    python bench/bench_zstd.py [--file ELF] [--repeat 5] [--engines wasmtime,wasmer] [--no-native]

A program, not a test: it prints throughputs (MB/s of decompressed output) and ratios.
The input is an ELF file with DWARF (``--file``; by default a generated C++ program built
with ``g++ -O1 -g``). Its debug sections are compressed with ``objcopy
--compress-debug-sections=zstd`` (and ``=zlib`` for comparison), then:

* ``zstd -d`` on the frames of the sections (one file, the frames one after the other),
  best of ``--repeat`` runs (a process start included: ~1 ms);
* native: ``wasm/core/examples/zstd_speed.rs`` on the same file, built ``--release`` with
  Debian's cargo (skipped if it is missing);
* the module, per engine: ``SymCache.from_object`` on the zstd file minus the same on the
  uncompressed file (best of ``--repeat`` each), i.e. the decoding inside a real build;
  the zlib file the same way (``object``'s flate2/miniz_oxide) for comparison.
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
from typing import List, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import pysym  # noqa: E402
from pysym import _host  # noqa: E402
from pysym._engine import available_engines  # noqa: E402

CARGO_FLAGS = ["--config", 'source.crates-io.replace-with="debian"',
               "--config", 'source.debian.directory="/usr/share/cargo/registry"']


def sections(data: bytes) -> List[Tuple[str, int, int, int]]:
    """(name, flags, offset, size) of every section of a 64-bit little-endian ELF file."""
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    raw = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    stroff = raw[shstrndx][4]
    out = []
    for name, _typ, flags, _addr, offset, size in raw:
        end = data.index(b"\0", stroff + name)
        out.append((data[stroff + name:end].decode(), flags, offset, size))
    return out


def generated_program(tmp: str) -> str:
    """A C++ program with many small template instantiations: a few MB of DWARF."""
    parts = ["#include <map>\n#include <string>\n#include <vector>\n#include <cstdio>\n"]
    for i in range(150):
        parts.append(
            "template <typename T> struct S%d { std::vector<T> v; std::map<std::string, T> m;\n"
            "  T sum() const { T s{}; for (auto &x : v) s += x; for (auto &kv : m) s += kv.second; return s; } };\n"
            "__attribute__((noinline)) double f%d(int n) { S%d<double> a; S%d<long> b;\n"
            "  for (int i = 0; i < n; i++) { a.v.push_back(i); b.m[std::to_string(i)] = i; }\n"
            "  return a.sum() + b.sum(); }\n" % (i, i, i, i))
    parts.append("int main(int c, char **) { double t = 0;\n")
    parts.extend("  t += f%d(c);\n" % i for i in range(150))
    parts.append('  std::printf("%f\\n", t); }\n')
    src = os.path.join(tmp, "gen.cc")
    with open(src, "w") as f:
        f.write("".join(parts))
    out = os.path.join(tmp, "gen")
    subprocess.run(["g++", "-O1", "-g", "-o", out, src], check=True)
    return out


def best(f, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--engines", help="comma-separated (default: every installed engine)")
    ap.add_argument("--no-native", action="store_true", help="skip the native build and run")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench_zstd_")
    plain = args.file or generated_program(tmp)
    files = {"plain": plain}
    for kind in ("zstd", "zlib"):
        files[kind] = os.path.join(tmp, "prog." + kind)
        subprocess.run(["objcopy", "--compress-debug-sections=" + kind, plain, files[kind]], check=True)
    data = open(files["zstd"], "rb").read()
    frames, total = [], 0
    for _name, flags, offset, size in sections(data):
        if flags & 0x800 and struct.unpack_from("<I", data, offset)[0] == 2:
            frames.append(data[offset + 24:offset + size])
            total += struct.unpack_from("<Q", data, offset + 8)[0]
    frame_file = os.path.join(tmp, "sections.zst")
    with open(frame_file, "wb") as f:
        f.write(b"".join(frames))
    comp = sum(len(f) for f in frames)
    print("input %s: %d zstd sections, %.1f MB -> %.1f MB (ratio %.2f)"
          % (os.path.basename(plain), len(frames), comp / 1e6, total / 1e6, total / comp))

    rows = []
    t_cli = best(lambda: subprocess.run(["zstd", "-d", "-q", "-c", frame_file], check=True,
                                        stdout=subprocess.DEVNULL), args.repeat)
    rows.append(("zstd -d (CLI, incl. process start)", t_cli))

    env = dict(os.environ, RUSTC="/usr/bin/rustc")
    wasm_dir = os.path.join(ROOT, "wasm")
    cmd = ["/usr/bin/cargo", "build", "-q", "--locked", "--release", "-p", "pysym-core", "--example", "zstd_speed"]
    built = subprocess.CompletedProcess(cmd, 1) if args.no_native else subprocess.run(
        cmd + CARGO_FLAGS, cwd=wasm_dir, env=env)
    if built.returncode == 0:
        exe = os.path.join(wasm_dir, "target", "release", "examples", "zstd_speed")
        out = subprocess.run([exe, frame_file, str(args.repeat)], check=True, stdout=subprocess.PIPE,
                             universal_newlines=True).stdout.split()
        assert int(out[1]) == total, (out, total)
        rows.append(("pysym decoder, native (release)", float(out[2])))
    else:
        print("native: skipped (--no-native, or the cargo build failed)")

    for engine in args.engines.split(",") if args.engines else available_engines():
        _host.use_engine(engine)
        times = {}
        for kind, path in files.items():
            pysym.SymCache.from_object(path)  # warm: module compiled, caches filled
            times[kind] = best(lambda p=path: pysym.SymCache.from_object(p), args.repeat)
        rows.append(("module, %s: build(zstd) - build(plain)" % engine, times["zstd"] - times["plain"]))
        rows.append(("module, %s: build(zlib) - build(plain)" % engine, times["zlib"] - times["plain"]))
        print("%s: symcache build plain %.3f s, zstd %.3f s, zlib %.3f s"
              % (engine, times["plain"], times["zstd"], times["zlib"]))

    print()
    print("| decoder | time (s) | MB/s of output | vs zstd CLI |")
    print("|---|---|---|---|")
    for name, t in rows:
        speed = total / t / 1e6 if t > 0 else float("inf")
        print("| %s | %.4f | %.0f | %.2fx |" % (name, t, speed, t_cli / t if t > 0 else float("inf")))


if __name__ == "__main__":
    main()
