"""The command line, run as ``python -m pysym`` in a subprocess, on the bundled sample.

examples/app.min.js is esbuild's bundle of examples/app/src/*.js and examples/trace.txt
is what node printed when running it (examples/build.sh).  The expected lines below were
checked by hand against the original sources: e.g. pricing.js line 9 is
``  return product.price;`` (the property read that throws) and column 18 is ``price``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from typing import Dict, List, Optional

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
EXAMPLES = os.path.join(ROOT, "examples")
TRACE = os.path.join(EXAMPLES, "trace.txt")
TRACE_FF = os.path.join(EXAMPLES, "trace-firefox.txt")
MAP = os.path.join(EXAMPLES, "app.min.js.map")
JS = os.path.join(EXAMPLES, "app.min.js")


def run(
    engine: str, *args: str, stdin: Optional[str] = None, cwd: Optional[str] = None
) -> "subprocess.CompletedProcess[str]":
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["PYSYM_ENGINE"] = engine
    return subprocess.run(
        [sys.executable, "-m", "pysym"] + list(args),
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        timeout=120,
    )


def ok(proc: "subprocess.CompletedProcess[str]") -> str:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def fails(proc: "subprocess.CompletedProcess[str]", status: int) -> str:
    assert proc.returncode == status, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout == ""
    return proc.stderr


EXPECTED_V8 = [
    "TypeError: Cannot read properties of undefined (reading 'price')",
    "    at priceOf (app/src/pricing.js:9:18)",
    "        return product.price;",
    "    at lineTotal (app/src/pricing.js:13:16)",
    "        const unit = priceOf(line);",
    "    at app/src/cart.js:17:51",
    "        return this.lines.reduce((sum, line) => sum + lineTotal(line), 0);",
    "    at Array.reduce (<anonymous>)",
    "    at Cart.total (app/src/cart.js:17:23)",
    "        return this.lines.reduce((sum, line) => sum + lineTotal(line), 0);",
    "    at new Invoice (app/src/cart.js:24:24)",
    "        this.amount = cart.total();",
    "    at handleOrder (app/src/index.js:11:10)",
    "        return new Invoice(cart);",
    "    at async processQueue (app/src/index.js:17:21)",
    "        const invoice = await handleOrder(order);",
    "    at async run (app/src/index.js:24:5)",
    "        await processQueue();",
]

EXPECTED_FF = [
    "TypeError: r is undefined",
    "priceOf@app/src/pricing.js:9:18",
    "lineTotal@app/src/pricing.js:13:16",
    # the names of the functions around the positions, as symbolic 13.9.0's SourceMapCache
    # gives them (SpiderMonkey printed total/<, total and Invoice)
    "<anonymous>@app/src/cart.js:17:51",
    "Cart.total@app/src/cart.js:17:23",
    "new Invoice@app/src/cart.js:24:24",
    "handleOrder@app/src/index.js:11:10",
    "async*processQueue@app/src/index.js:17:21",
    "async*run@app/src/index.js:24:5",
]


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_sample_trace_is_real_v8_output() -> None:
    lines = read(TRACE).splitlines()
    assert lines[0].startswith("TypeError: ")
    assert all(line.startswith("    at ") for line in lines[1:])
    assert "    at Array.reduce (<anonymous>)" in lines


# -- --version -------------------------------------------------------------------------


def test_version(engine: str) -> None:
    import pysym
    from pysym import _abi

    lines = ok(run(engine, "--version")).splitlines()
    assert lines[0] == "pysym %s" % pysym.__version__
    assert lines[1].startswith("engine: %s " % engine)
    assert len(lines[1].split()) == 3 and lines[1].split()[2][0].isdigit()
    assert lines[2] == "abi: %d" % _abi.ABI_VERSION


# -- symbolicate-js --------------------------------------------------------------------


def test_symbolicate_sample(engine: str) -> None:
    assert (
        ok(run(engine, "symbolicate-js", "--maps", "examples", "examples/trace.txt")).splitlines()
        == EXPECTED_V8
    )


def test_symbolicate_stdin_and_relative_dir(engine: str) -> None:
    out = ok(run(engine, "symbolicate-js", "--maps", ".", "--no-context", stdin=read(TRACE), cwd=EXAMPLES))
    assert out.splitlines() == [x for x in EXPECTED_V8 if not x.startswith("        ")]


def test_symbolicate_firefox_style(engine: str) -> None:
    out = ok(run(engine, "symbolicate-js", "--maps", EXAMPLES, "--no-context", TRACE_FF))
    assert out.splitlines() == EXPECTED_FF


def test_context_lines(engine: str) -> None:
    out = ok(run(engine, "symbolicate-js", "--maps", EXAMPLES, "--context", "2", TRACE)).splitlines()
    at = out.index("    at priceOf (app/src/pricing.js:9:18)")
    assert out[at + 1 : at + 6] == [
        "           7 |     throw new RangeError(`bad quantity for ${line.sku}: ${line.qty}`);",
        "           8 |   }",
        "        >  9 |   return product.price;",
        "          10 | }",
        "          11 |",
    ]
    assert out[at + 6] == "    at lineTotal (app/src/pricing.js:13:16)"


def test_unmappable_frames_are_printed_unchanged(engine: str) -> None:
    extra = [
        "    at vendorFn (https://cdn.example.com/vendor.min.js:1:1200)",  # no such file
        "    at https://example.com/static/app.min.js:99:1",  # no mapping there
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
        "    at Array.forEach (<anonymous>)",
        "forEach@[native code]",
        "Some log line that is not a frame",
        "",
    ]
    text = read(TRACE) + "\n".join(extra) + "\n"
    out = ok(run(engine, "symbolicate-js", "--maps", EXAMPLES, "-", stdin=text)).splitlines()
    assert out[: len(EXPECTED_V8)] == EXPECTED_V8
    assert out[len(EXPECTED_V8) :] == extra


def test_json_output(engine: str) -> None:
    out = ok(run(engine, "symbolicate-js", "--maps", EXAMPLES, "--json", TRACE))
    objs = [json.loads(line) for line in out.splitlines()]
    assert len(objs) == len(read(TRACE).splitlines())
    assert objs[0] == {"raw": read(TRACE).splitlines()[0], "frame": None, "original": None}
    first = objs[1]
    assert first["frame"]["function"] == "p"
    assert (first["frame"]["line"], first["frame"]["column"]) == (1, 648)
    orig = first["original"]
    assert (orig["source"], orig["line"], orig["column"]) == ("app/src/pricing.js", 9, 18)
    assert (orig["function"], orig["function_from"]) == ("priceOf", "scope")
    assert orig["context"]["line"] == "  return product.price;"
    # the mapping at lineTotal's frame position names the callee, priceOf
    assert objs[2]["original"]["function"] == "lineTotal"
    assert objs[2]["original"]["name_at_position"] == "priceOf"
    reduce = [o for o in objs if o["raw"].endswith("Array.reduce (<anonymous>)")][0]
    assert reduce["frame"]["url"] == "<anonymous>" and reduce["original"] is None
    asyncs = [o for o in objs if o["frame"] and o["frame"]["async"]]
    assert [o["original"]["function"] for o in asyncs] == ["processQueue", "run"]


def _dir_with(tmp_path, files: Dict[str, bytes]) -> str:  # type: ignore[no-untyped-def]
    d = tmp_path / "maps"
    d.mkdir()
    for name, data in files.items():
        (d / name).write_bytes(data)
    return str(d)


def _js_without_annotation() -> bytes:
    lines = read(JS).splitlines()
    assert lines[-1] == "//# sourceMappingURL=app.min.js.map"
    return ("\n".join(lines[:-1]) + "\n").encode()


def test_inline_data_url_map(engine: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with open(MAP, "rb") as f:
        b64 = base64.b64encode(f.read()).decode()
    js = _js_without_annotation() + ("//# sourceMappingURL=data:application/json;base64,%s\n" % b64).encode()
    d = _dir_with(tmp_path, {"app.min.js": js})
    assert ok(run(engine, "symbolicate-js", "--maps", d, TRACE)).splitlines() == EXPECTED_V8


def test_map_found_by_debug_id(engine: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    debug_id = "85314830-023f-4cf1-a267-535f4e37bb17"
    m = json.loads(read(MAP))
    m["debugId"] = debug_id
    other = json.loads(read(MAP))
    other["debugId"] = "00000000-0000-4000-8000-000000000000"
    other["sources"] = ["wrong/" + s for s in other["sources"]]
    js = _js_without_annotation() + ("//# debugId=%s\n" % debug_id.upper()).encode()
    d = _dir_with(
        tmp_path,
        {
            "app.min.js": js,
            "a-other.map": json.dumps(other).encode(),
            "b-by-id.map": json.dumps(m).encode(),
        },
    )
    assert ok(run(engine, "symbolicate-js", "--maps", d, TRACE)).splitlines() == EXPECTED_V8


def test_map_next_to_the_name_without_js(engine: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with open(MAP, "rb") as f:
        d = _dir_with(tmp_path, {"app.min.js.map": f.read()})
    out = ok(run(engine, "symbolicate-js", "--maps", d, "--no-context", TRACE)).splitlines()
    # Without the generated file there are no scopes: names come from the
    # caller's call site (priceOf is called in lineTotal, lineTotal in the arrow).
    assert out[1] == "    at priceOf (app/src/pricing.js:9:18)"
    assert out[2] == "    at lineTotal (app/src/pricing.js:13:16)"
    assert out[3] == "    at app/src/cart.js:17:51"
    assert out[4] == "    at Array.reduce (<anonymous>)"
    assert [line.split(" (")[1] for line in out[5:]] == [
        "app/src/cart.js:17:23)",
        "app/src/cart.js:24:24)",
        "app/src/index.js:11:10)",
        "app/src/index.js:17:21)",
        "app/src/index.js:24:5)",
    ]


def test_broken_map_in_directory_warns_and_keeps_frames(engine: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = _dir_with(tmp_path, {"app.min.js.map": b'{"version": 3, "mappings": '})
    proc = run(engine, "symbolicate-js", "--maps", d, TRACE)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert proc.stdout == read(TRACE)
    warnings = proc.stderr.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("pysym: warning: cannot use ")
    assert "app.min.js.map" in warnings[0]


def test_trace_file_missing(engine: str) -> None:
    err = fails(run(engine, "symbolicate-js", "--maps", EXAMPLES, "no-such-trace.txt"), 1)
    assert err.startswith("pysym: error: ") and "no-such-trace.txt" in err and len(err.splitlines()) == 1


# -- sourcemap lookup ------------------------------------------------------------------


def test_lookup(engine: str) -> None:
    out = ok(run(engine, "sourcemap", "lookup", MAP, "1:648", "1:674", "1:7", "5:1", "1:1"))
    objs = [json.loads(line) for line in out.splitlines()]
    assert objs[0]["generated"] == {"line": 1, "column": 648}
    assert {k: objs[0]["original"][k] for k in ("source", "line", "column")} == {
        "source": "app/src/pricing.js",
        "line": 9,
        "column": 18,
    }
    assert objs[1]["original"] == {
        "source": "app/src/pricing.js",
        "line": 13,
        "column": 16,
        "name": "priceOf",
    }
    # 1:7 is `function e(t)`, the bundle's first function: money.js's toCents
    assert objs[2]["original"]["source"] == "app/src/money.js" and objs[2]["original"]["line"] == 3
    assert objs[3] == {"generated": {"line": 5, "column": 1}, "original": None}
    # 1:1 is esbuild's `(()=>{` wrapper, which has no mapping
    assert objs[4] == {"generated": {"line": 1, "column": 1}, "original": None}


def test_lookup_help_says_positions_are_one_based(engine: str) -> None:
    out = ok(run(engine, "sourcemap", "lookup", "--help"))
    assert "1-based" in out and "UTF-16" in out


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b'{"version": 3, "sources": 5, "mappings": ""}',
        b"\xff\xfe\x00garbage",
        b'{"version": 3, "sources": [], "mappings": "!!!"}',
    ],
)
def test_bad_map_file(engine: str, tmp_path, content: bytes) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "bad.map"
    p.write_bytes(content)
    err = fails(run(engine, "sourcemap", "lookup", str(p), "1:1"), 1)
    assert err.startswith("pysym: error: ") and len(err.splitlines()) == 1


def test_missing_map_file(engine: str) -> None:
    err = fails(run(engine, "sourcemap", "lookup", "no/such.map", "1:1"), 1)
    assert err.startswith("pysym: error: ") and "no/such.map" in err


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["sourcemap"],
        ["sourcemap", "lookup", MAP],
        ["sourcemap", "lookup", MAP, "0:5"],
        ["sourcemap", "lookup", MAP, "5:0"],
        ["sourcemap", "lookup", MAP, "5"],
        ["sourcemap", "lookup", MAP, "a:b"],
        ["symbolicate-js", TRACE],
        ["symbolicate-js", "--maps", "no-such-dir", TRACE],
        ["symbolicate-js", "--maps", EXAMPLES, "--context", "-1", TRACE],
        ["symbolicate-js", "--maps", EXAMPLES, "--context", "1", "--no-context", TRACE],
        ["frobnicate"],
    ],
)
def test_usage_errors(engine: str, args: List[str]) -> None:
    err = fails(run(engine, *args), 2)
    assert "usage:" in err


def test_relative_url_into_a_subdirectory(engine: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    js = _js_without_annotation() + b"//# sourceMappingURL=maps/v1/app.js.map?cache=1\n"
    d = _dir_with(tmp_path, {"app.min.js": js})
    os.makedirs(os.path.join(d, "maps", "v1"))
    shutil.copy(MAP, os.path.join(d, "maps", "v1", "app.js.map"))
    out = ok(run(engine, "symbolicate-js", "--maps", d, "--no-context", TRACE)).splitlines()
    assert out == [x for x in EXPECTED_V8 if not x.startswith("        ")]


def test_relative_url_may_not_leave_the_directory(engine: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(MAP, str(tmp_path / "outside.map"))
    js = _js_without_annotation() + b"//# sourceMappingURL=../outside.map\n"
    d = _dir_with(tmp_path, {"app.min.js": js})
    assert ok(run(engine, "symbolicate-js", "--maps", d, TRACE)) == read(TRACE)
