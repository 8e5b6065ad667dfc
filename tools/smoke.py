"""Smoke suite for an *installed* pysym: one engine, one interpreter, a few seconds.

Run by ``make matrix`` (tools/matrix.py) inside a fresh venv where the built wheel
was pip-installed, from a temporary directory so that the source tree is not importable:

    PYSYM_ENGINE=wasmer  venv/bin/python smoke.py --examples /path/to/repo/examples
    venv/bin/python smoke.py --no-engine        # the "nothing installed" error path

No pytest (so nothing but the wheel and its dependencies gets installed in each venv) and
only Python 3.7 syntax.  The last line printed is one JSON object:
``{"ok": bool, "engine": ..., "engine_version": ..., "python": ..., "checks": [...]}``;
the exit status is 0 when every check passed.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback

RESULTS = []  # (name, ok, seconds, detail)


def check(name):
    def wrap(fn):
        def run(*args):
            t0 = time.perf_counter()
            try:
                detail = fn(*args)
                RESULTS.append((name, True, time.perf_counter() - t0, detail or ""))
            except Exception:  # noqa: BLE001 - a smoke check reports, never crashes the run
                RESULTS.append((name, False, time.perf_counter() - t0, traceback.format_exc(limit=6)))

        return run

    return wrap


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def cli(args, stdin=None, env=None):
    """``python -m pysym ARGS`` with this interpreter (the venv's)."""
    return subprocess.run(
        [sys.executable, "-m", "pysym"] + list(args),
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


# -- checks --------------------------------------------------------------------------


@check("installed")
def check_installed(repo_root):
    import pysym

    where = os.path.dirname(os.path.abspath(pysym.__file__))
    expect(sys.prefix != sys.base_prefix, "not running in a venv")
    expect(where.startswith(os.path.abspath(sys.prefix)), "pysym imported from %s, not the venv" % where)
    if repo_root:
        expect(where != os.path.join(repo_root, "pysym"), "pysym imported from the source tree")
    wasm = os.path.join(where, "_wasm", "pysym.wasm")
    expect(os.path.getsize(wasm) > 1000, "module missing from the install: %s" % wasm)
    # pip byte-compiles on install but only warns on a SyntaxError: compile every module
    # with this interpreter so 3.8+ syntax in any file fails here.
    n = 0
    for dirpath, _dirs, files in os.walk(where):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                with open(path, "rb") as fh:
                    compile(fh.read(), path, "exec", dont_inherit=True)
                n += 1
    for mod in ("pysym._cli", "pysym._stacktrace", "pysym._sourcemap_url", "pysym.__main__"):
        __import__(mod)
    return "%d modules compile" % n


@check("engine")
def check_engine(want):
    from pysym._host import get_runtime

    engine = get_runtime().engine
    expect(engine.name == want, "asked for %s, got %s" % (want, engine.name))
    return "%s %s" % (engine.name, engine.version)


@check("sourcemap-api")
def check_sourcemap(examples):
    import pysym

    with pysym.SourceMap.from_path(os.path.join(examples, "app.min.js.map")) as sm:
        expect("app/src/pricing.js" in sm.sources, "sources: %r" % (sm.sources,))
        # trace.txt's first frame, app.min.js:1:648 (1-based) -> pricing.js:9:18.
        tok = sm.lookup(0, 647)
        expect(tok is not None, "no token at 0:647")
        expect((tok.src, tok.src_line, tok.src_col) == ("app/src/pricing.js", 8, 17), "token %r" % (tok,))
        toks = sm.lookup_many([0, 0, 0], [647, 673, 10**6])
        expect(toks[0] == tok and toks[1] is not None, "lookup_many %r" % (toks,))
        expect(toks[1].src == "app/src/pricing.js" and toks[1].src_line == 12, "lookup_many %r" % (toks,))
        ctx = sm.source_context(tok.src, tok.src_line, context=1)
        expect(ctx is not None and "product.price" in str(ctx), "context %r" % (ctx,))
        n = sum(1 for _ in sm)
        expect(n == len(sm) and n > 50, "iterated %d tokens, len %d" % (n, len(sm)))
        pos = sm.generated_positions(tok.src, tok.src_line, tok.src_col)
        expect(any(p.dst_line == 0 and p.dst_col == 647 for p in pos), "generated_positions %r" % (pos,))
    with open(os.path.join(examples, "app.min.js"), encoding="utf-8") as f:
        expect(pysym.find_sourcemap_url(f.read()) == "app.min.js.map", "sourceMappingURL")
    return "%d tokens" % n


@check("symcache-api")
def check_symcache(examples):
    import pysym

    if not hasattr(pysym, "SymCache"):
        return "skipped: this pysym has no SymCache"
    import shutil

    # A small ELF every Linux machine has (examples/ holds no debug file).
    binary = os.path.realpath(shutil.which("true") or sys.executable)
    with pysym.SymCache.from_object(binary) as sc:
        data = sc.to_bytes()
        frames = sc.lookup_many([0, 0x1000, 0xFFFFFFF])
        expect(len(frames) == 3 and all(isinstance(f, list) for f in frames), "lookup_many %r" % (frames,))
    with pysym.SymCache.from_bytes(data) as again:
        expect(again.to_bytes() == data, "symcache bytes do not round-trip")
    try:
        pysym.SymCache.from_bytes(b"not a symcache at all")
    except pysym.InvalidInputError:
        pass
    else:
        raise AssertionError("garbage accepted as a symcache")
    return "%s -> %d-byte symcache, round trip, bad bytes rejected" % (os.path.basename(binary), len(data))


@check("error-case")
def check_errors(examples):
    import pysym

    try:
        pysym.SourceMap.from_bytes(b'{"version": 3, "mappings": "!!!", "sources": []')
    except pysym.InvalidInputError as e:
        expect(isinstance(e, ValueError) and isinstance(e, pysym.PysymError), "hierarchy")
        expect(str(e), "empty message")
        msg = str(e)
    else:
        raise AssertionError("malformed map accepted")
    # The runtime survives: a good map still works after the error.
    with pysym.SourceMap.from_path(os.path.join(examples, "app.min.js.map")) as sm:
        expect(sm.lookup(0, 647) is not None, "lookup after error")
    return msg.splitlines()[0][:80]


@check("cli")
def check_cli(examples, want):
    env = dict(os.environ, PYSYM_ENGINE=want)
    env.pop("PYTHONPATH", None)
    p = cli(["--version"], env=env)
    expect(p.returncode == 0, p.stderr)
    expect(p.stdout.splitlines()[1].startswith("engine: %s " % want), p.stdout)
    p = cli(["symbolicate-js", "--maps", examples, os.path.join(examples, "trace.txt")], env=env)
    expect(p.returncode == 0 and "Traceback" not in p.stderr, p.stderr)
    lines = p.stdout.splitlines()
    for want_line in (
        "    at priceOf (app/src/pricing.js:9:18)",
        "    at new Invoice (app/src/cart.js:24:24)",
        "    at async run (app/src/index.js:24:5)",
    ):
        expect(want_line in lines, "missing %r in\n%s" % (want_line, p.stdout))
    p = cli(["sourcemap", "lookup", os.path.join(examples, "app.min.js.map"), "1:648"], env=env)
    expect(p.returncode == 0, p.stderr)
    orig = json.loads(p.stdout)["original"]
    expect((orig["source"], orig["line"], orig["column"]) == ("app/src/pricing.js", 9, 18), p.stdout)
    # Error case through the CLI: one line, status 1, no traceback.
    p = cli(["sourcemap", "lookup", os.path.join(examples, "trace.txt"), "1:1"], env=env)
    expect(p.returncode == 1, "status %d: %s" % (p.returncode, p.stderr))
    expect(p.stderr.startswith("pysym: error:") and "Traceback" not in p.stderr, p.stderr)
    return "symbolicate-js, lookup, bad map"


_BLOCK = """
import sys
for name in ("wasmtime", "wasmer", "wasmer_compiler_cranelift"):
    sys.modules[name] = None  # import fails as it does where the engine has no wheel
"""

_NO_ENGINE_API = (
    _BLOCK
    + """
import pysym
try:
    pysym.SourceMap.from_bytes(b'{"version": 3, "sources": [], "names": [], "mappings": ""}')
except pysym.PysymError as e:
    assert isinstance(e, ImportError) and isinstance(e, pysym.EngineUnavailable)
    print("RAISED %s: %s" % (type(e).__name__, e))
else:
    print("NO ERROR")
"""
)

_NO_ENGINE_CLI = (
    _BLOCK
    + """
from pysym._cli import main
sys.exit(main(["sourcemap", "lookup", sys.argv[1], "1:1"]))
"""
)


@check("no-engine")
def check_no_engine(examples):
    """Without any engine: one clear error naming what to install (API and CLI)."""
    env = dict(os.environ)
    env.pop("PYSYM_ENGINE", None)
    run = [sys.executable, "-c"]
    p = subprocess.run(run + [_NO_ENGINE_API], capture_output=True, text=True, env=env, timeout=120)
    expect(p.returncode == 0, p.stderr)
    out = p.stdout.strip()
    expect(out.startswith("RAISED EngineUnavailable:"), out)
    # The install hint names the engine that has wheels for this interpreter.
    fits = "pip install wasmtime==50.*" if sys.version_info >= (3, 9) else "wasmer==1.1.0"
    expect(fits in out, "no %r in: %s" % (fits, out))
    the_map = os.path.join(examples, "app.min.js.map")
    p = subprocess.run(run + [_NO_ENGINE_CLI, the_map], capture_output=True, text=True, env=env, timeout=120)
    expect(p.returncode == 1, "CLI status %d: %s" % (p.returncode, p.stderr))
    err = p.stderr.strip()
    expect(err.startswith("pysym: error:") and len(err.splitlines()) == 1 and fits in err, err)
    return out[len("RAISED ") :][:110]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", help="the repository's examples/ directory")
    ap.add_argument("--no-engine", action="store_true", help="only check the no-engine error")
    args = ap.parse_args()

    t0 = time.perf_counter()
    want = os.environ.get("PYSYM_ENGINE", "")
    engine_version = None
    if args.no_engine:
        check_no_engine(os.path.abspath(args.examples))
    else:
        examples = os.path.abspath(args.examples)
        check_installed(os.path.dirname(examples))
        check_engine(want)
        if RESULTS[-1][1]:
            engine_version = RESULTS[-1][3].split()[-1]
            check_sourcemap(examples)
            check_symcache(examples)
            check_errors(examples)
            check_cli(examples, want)
    ok = all(r[1] for r in RESULTS)
    for name, good, secs, detail in RESULTS:
        print("%-14s %s %6.2fs  %s" % (name, "ok  " if good else "FAIL", secs, detail.rstrip()))
    print(
        json.dumps(
            {
                "ok": ok,
                "engine": want or None,
                "engine_version": engine_version,
                "python": "%s %s" % (platform.python_implementation(), platform.python_version()),
                "seconds": round(time.perf_counter() - t0, 2),
                "checks": [
                    {"name": n, "ok": g, "seconds": round(s, 3), "detail": d[-2000:]}
                    for n, g, s, d in RESULTS
                ],
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
