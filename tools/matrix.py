"""``make wheel`` / ``make matrix``: one py3-none-any wheel, checked on every local Python.

    matrix.py check-dist DIST
        DIST holds exactly one ``pysym-*-py3-none-any.whl`` and one sdist; the wheel
        carries the committed module byte for byte, nothing outside the package, and
        the engine requirements with their environment markers.

    matrix.py run --dist DIST --workdir DIR [--readme README.md] [--jobs N] [--python PY ...]
        For every interpreter found (pyenv's versions, ``pypy3`` on PATH) or given:
        a fresh venv under DIR, ``pip install`` of the wheel (nothing from the source
        tree), then tools/smoke.py from a temporary directory once per engine that
        pip installed there (``PYSYM_ENGINE``), plus the no-engine error check.
        Interpreters older than the wheel's Requires-Python must be *refused* by pip.
        Prints interpreter x engine -> pass/fail with times, rewrites the table between
        ``<!-- matrix:start -->`` and ``<!-- matrix:end -->`` in the README, and exits 1 if
        any cell failed or pip installed a different set of engines than the markers
        promise (``expected_engines`` below mirrors pyproject.toml).

Runs on the build interpreter (3.7+); only the standard library.
"""

import argparse
import concurrent.futures
import datetime
import email.parser
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SMOKE = os.path.join(HERE, "smoke.py")
EXAMPLES = os.path.join(ROOT, "examples")
ENGINES = ("wasmtime", "wasmer")
START, END = "<!-- matrix:start -->", "<!-- matrix:end -->"
MIN_PYTHON = (3, 7)


def expected_engines(impl, version, machine):
    """The engines pyproject.toml's markers install, per interpreter (keep in sync)."""
    out = []
    if version >= (3, 9):
        out.append("wasmtime")
    if impl == "CPython" and MIN_PYTHON <= version < (3, 11) and machine in ("x86_64", "AMD64"):
        out.append("wasmer")
    return out


# -- check-dist ------------------------------------------------------------------------


def check_dist(dist):
    problems = []
    wheels = glob.glob(os.path.join(dist, "*.whl"))
    sdists = glob.glob(os.path.join(dist, "*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        sys.exit("check-dist: want one wheel and one sdist in %s, found %r" % (dist, wheels + sdists))
    whl, sdist = wheels[0], sdists[0]
    if not re.match(r"pysym-[^-]+-py3-none-any\.whl\Z", os.path.basename(whl)):
        problems.append("wheel is not py3-none-any: %s" % os.path.basename(whl))
    with open(os.path.join(ROOT, "pysym", "_wasm", "pysym.wasm"), "rb") as f:
        module = f.read()
    with zipfile.ZipFile(whl) as z:
        names = z.namelist()
        for n in names:
            top = n.split("/")[0]
            if top != "pysym" and not (top.startswith("pysym-") and top.endswith(".dist-info")):
                problems.append("wheel ships a file outside the package: %s" % n)
        if "pysym/_wasm/pysym.wasm" not in names:
            problems.append("wheel lacks pysym/_wasm/pysym.wasm")
        elif z.read("pysym/_wasm/pysym.wasm") != module:
            problems.append("wheel's pysym.wasm differs from the committed module")
        for must in ("pysym/py.typed", "pysym/_engine/_wasmtime.py", "pysym/_engine/_wasmer.py"):
            if must not in names:
                problems.append("wheel lacks %s" % must)
        info = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = email.parser.Parser().parsestr(z.read(info[0]).decode("utf-8"))
        wheel_info = [n for n in names if n.endswith(".dist-info/WHEEL")]
        wheel_meta = email.parser.Parser().parsestr(z.read(wheel_info[0]).decode("utf-8"))
    if wheel_meta.get_all("Tag") != ["py3-none-any"] or wheel_meta["Root-Is-Purelib"] != "true":
        problems.append(
            "WHEEL: tags %r purelib %r" % (wheel_meta.get_all("Tag"), wheel_meta["Root-Is-Purelib"])
        )
    if meta["Requires-Python"] != ">=%d.%d" % MIN_PYTHON:
        problems.append("Requires-Python is %r" % meta["Requires-Python"])
    requires = meta.get_all("Requires-Dist") or []
    for pkg in ("wasmtime", "wasmer", "wasmer-compiler-cranelift"):
        hits = [r for r in requires if re.match(re.escape(pkg) + r"\b(?!-)", r)]
        if len(hits) != 1 or ";" not in hits[0]:
            problems.append("Requires-Dist for %s: %r (want exactly one, with a marker)" % (pkg, hits))
    with tarfile.open(sdist) as t:
        if not any(n.endswith("/pysym/_wasm/pysym.wasm") for n in t.getnames()):
            problems.append("sdist lacks pysym/_wasm/pysym.wasm")
    for p in problems:
        print("check-dist: " + p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(
        "%s (%d KB): py3-none-any, module identical to pysym/_wasm/pysym.wasm"
        % (whl, os.path.getsize(whl) // 1024)
    )
    print("%s (%d KB)" % (sdist, os.path.getsize(sdist) // 1024))
    for r in requires:
        print("  Requires-Dist: " + r)
    return whl


# -- interpreters ------------------------------------------------------------------------

_PROBE = (
    "import platform, sys; sys.stdout.write('%s|%s|%s\\n' % "
    "(platform.python_implementation(), platform.python_version(), platform.machine()))"
)


def discover():
    """Executables of the local interpreters: pyenv's versions, then pypy3 on PATH."""
    found = []
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip() or root
    except OSError:
        pass
    for d in sorted(glob.glob(os.path.join(root, "versions", "*"))):
        for exe in ("python3", "python"):
            p = os.path.join(d, "bin", exe)
            if os.path.exists(p):
                found.append(p)
                break
    pypy = shutil.which("pypy3")
    if pypy:
        found.append(pypy)
    return found


def probe(exe):
    p = subprocess.run([exe, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    impl, ver, machine = p.stdout.strip().split("|")
    return impl, ver, tuple(int(x) for x in re.findall(r"\d+", ver)[:2]), machine


def clean_env(**extra):
    env = dict(os.environ)
    for k in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYSYM_ENGINE", "PYENV_VERSION", "PYTHONSTARTUP"):
        env.pop(k, None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def sh(args, **kw):
    t0 = time.perf_counter()
    p = subprocess.run(args, capture_output=True, text=True, timeout=900, **kw)
    return p, time.perf_counter() - t0


# -- one interpreter -----------------------------------------------------------------


def run_one(exe, wheel, workdir):
    impl, ver, vt, machine = probe(exe)
    label = "%s %s" % (impl, ver)
    row = {"exe": exe, "label": label, "impl": impl, "version": ver, "machine": machine, "cells": {}}
    row["expected"] = expected_engines(impl, vt, machine) if vt >= MIN_PYTHON else []
    base = os.path.join(workdir, "%s-%s" % (impl.lower(), ver))
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    venv = os.path.join(base, "venv")
    if vt[0] < 3:
        row["status"] = "skip"
        row["note"] = "not supported (Python 2), skipped"
        return row
    p, t_venv = sh([exe, "-m", "venv", venv], env=clean_env())
    if p.returncode != 0:
        row["status"] = "skip"
        row["note"] = "no venv module: " + (p.stderr.strip().splitlines() or ["?"])[-1][:100]
        return row
    py = os.path.join(venv, "bin", "python")
    p, t_pip = sh([py, "-m", "pip", "install", "-q", wheel], env=clean_env())
    row["venv_s"], row["install_s"] = t_venv, t_pip
    if vt < MIN_PYTHON:
        said = (p.stdout + p.stderr).lower()
        # pip >= 19: "requires a different Python"; pip 18 (3.6): "requires Python '>=3.7'"
        refused = p.returncode != 0 and ("requires a different python" in said or "requires python" in said)
        row["status"] = "pass" if refused else "FAIL"
        row["note"] = (
            "refused by pip (Requires-Python >=3.7), as intended"
            if refused
            else "pip did not refuse it: %s" % (p.stdout + p.stderr)[-300:]
        )
        return row
    if p.returncode != 0:
        row["status"] = "FAIL"
        row["note"] = "pip install failed: " + (p.stdout + p.stderr)[-600:]
        return row
    p, _ = sh([py, "-m", "pip", "list", "--format=json"], env=clean_env())
    dists = {d["name"].lower().replace("_", "-"): d["version"] for d in json.loads(p.stdout)}
    installed = []
    if "wasmtime" in dists:
        installed.append("wasmtime")
    if "wasmer" in dists and "wasmer-compiler-cranelift" in dists:
        installed.append("wasmer")
    row["dists"] = {k: v for k, v in dists.items() if k.startswith("wasm")}
    run_dir = os.path.join(base, "run")  # cwd: nothing importable there
    os.makedirs(run_dir)
    failed = installed != row["expected"]
    if failed:
        row["note"] = "pip installed engines %r, the markers promise %r" % (installed, row["expected"])
    for engine in installed:
        p, secs = sh([py, SMOKE, "--examples", EXAMPLES], cwd=run_dir, env=clean_env(PYSYM_ENGINE=engine))
        res = _last_json(p.stdout)
        ok = p.returncode == 0 and res is not None and res["ok"]
        row["cells"][engine] = {"ok": ok, "seconds": secs, "version": (res or {}).get("engine_version")}
        if not ok:
            failed = True
            row["cells"][engine]["log"] = (p.stdout + p.stderr)[-3000:]
    p, secs = sh([py, SMOKE, "--no-engine", "--examples", EXAMPLES], cwd=run_dir, env=clean_env())
    res = _last_json(p.stdout)
    ok = p.returncode == 0 and res is not None and res["ok"]
    row["cells"]["none"] = {"ok": ok, "seconds": secs}
    if not ok:
        failed = True
        row["cells"]["none"]["log"] = (p.stdout + p.stderr)[-3000:]
    row["status"] = "FAIL" if failed else "pass"
    return row


def _last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


# -- report ----------------------------------------------------------------------------


def cell(row, engine):
    c = row["cells"].get(engine)
    if c is None:
        return "—"
    word = "pass" if c["ok"] else "**FAIL**"
    if engine == "none" and c["ok"]:
        word = "clear error"
    return "%s (%.1f s)" % (word, c["seconds"])


def table(rows):
    lines = [
        "| Python | engines pip installed | wasmtime | wasmer | no engine | venv + pip install |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "venv_s" in r:
            inst = "%.1f s + %.1f s" % (r["venv_s"], r["install_s"])
        else:
            inst = "—"
        if r["status"] == "skip" or not r["cells"]:
            note = " ".join(r.get("note", "").split()).replace("|", "/")
            mark = "" if r["status"] != "FAIL" else "**FAIL**: "
            lines.append("| %s | %s%s | — | — | — | %s |" % (r["label"], mark, note, inst))
            continue
        deps = ", ".join("%s %s" % (k, v) for k, v in sorted(r.get("dists", {}).items())) or "no engine"
        if r.get("note"):
            deps += " (**%s**)" % " ".join(r["note"].split()).replace("|", "/")
        lines.append(
            "| %s | %s | %s | %s | %s | %s |"
            % (r["label"], deps, cell(r, "wasmtime"), cell(r, "wasmer"), cell(r, "none"), inst)
        )
    return lines


def write_readme(path, block):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    new = START + "\n" + block + "\n" + END
    if START in text and END in text:
        text = text[: text.index(START)] + new + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n## Compatibility\n\n" + new + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def run(args):
    wheel = os.path.abspath(check_dist(args.dist))
    exes = args.python or discover()
    os.makedirs(args.workdir, exist_ok=True)
    print("matrix: %d interpreters, %d at a time: %s" % (len(exes), args.jobs, " ".join(exes)))
    t0 = time.perf_counter()
    rows = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_one, exe, wheel, os.path.abspath(args.workdir)): exe for exe in exes}
        for fut in concurrent.futures.as_completed(futures):
            try:
                row = fut.result()
            except Exception as e:  # noqa: BLE001 - one broken interpreter is one failed row
                row = {"label": futures[fut], "status": "FAIL", "note": repr(e)[:200], "cells": {}}
                row["version"], row["impl"] = "0", "?"
            print(
                "  %-16s %-4s %s"
                % (
                    row["label"],
                    row["status"],
                    " ".join("%s=%s" % (k, "ok" if v["ok"] else "FAIL") for k, v in row["cells"].items()),
                ),
                flush=True,
            )
            rows.append(row)
    total = time.perf_counter() - t0

    def order(r):
        return (r.get("impl") != "CPython", [int(x) for x in re.findall(r"\d+", r.get("version", "0"))])

    rows.sort(key=order)
    for r in rows:
        for engine, c in r["cells"].items():
            if "log" in c:
                print("\n---- %s / %s ----\n%s" % (r["label"], engine, c["log"]))
        if r["status"] == "FAIL" and not r["cells"]:
            print("\n---- %s ----\n%s" % (r["label"], r.get("note")))
    body = table(rows)
    summary = "%s %s, %d interpreters, %d jobs, %.0f s in all (%s)" % (
        platform.system(),
        platform.machine(),
        len(rows),
        args.jobs,
        total,
        datetime.date.today().isoformat(),
    )
    print()
    print("\n".join(body))
    print("\n" + summary)
    if args.readme:
        block = "\n".join(
            [
                "One wheel, `%s`, installed with pip into a fresh venv per interpreter and"
                % os.path.basename(wheel),
                "smoke-tested on each engine pip installed there (`tools/smoke.py`: source map",
                "API, symcache API, CLI, invalid input, and the error when no engine imports). Generated by",
                "`make matrix` on %s." % summary,
                "",
            ]
            + body
        )
        write_readme(args.readme, block)
        print("updated %s" % args.readme)
    bad = [r["label"] for r in rows if r["status"] == "FAIL"]
    if bad:
        print("matrix: FAILED on %s" % ", ".join(bad))
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd")
    c = sub.add_parser("check-dist")
    c.add_argument("dist")
    r = sub.add_parser("run")
    r.add_argument("--dist", default="dist")
    r.add_argument("--workdir", default=os.path.join(ROOT, ".cache", "matrix"))
    r.add_argument("--readme")
    r.add_argument("--jobs", type=int, default=int(os.environ.get("MATRIX_JOBS", "2")))
    r.add_argument("--python", action="append", help="interpreter to test (repeatable); default: discover")
    args = ap.parse_args()
    if args.cmd == "check-dist":
        check_dist(args.dist)
        return 0
    if args.cmd == "run":
        return run(args)
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
