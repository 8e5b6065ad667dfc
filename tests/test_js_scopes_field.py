"""Function names from a map's ``scopes`` field (the ECMA-426 scopes proposal).

Revision: tc39/ecma426 ``proposals/scopes.md`` at f44ad7fc (see
``wasm/core/src/sourcemap/scopes.rs``). No tool installed here emits the field (the
bundlers in tests/reference do not), so the maps are built by hand from the proposal's
own example: ``file.js`` with a function ``z`` renamed ``_z`` in the generated code and
one call of ``z`` inlined on the last line. The vendored tc39 decoding tests (original
scopes, one generated range) run natively (``sourcemap/scopes/tests.rs``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict

import pytest

import pysym
from pysym._stacktrace import MapDirectory, parse_stacktrace, symbolicate_frames

NAMES = ["x", "z", "message", "y", "_x", "_z", "_m", "_y", '"Hello World"', "2", "global", "function"]
#: the example's original scopes and generated ranges (encoding: scopes/tests.rs)
SCOPES = "BCAAU,DAC,BHBKCC,DCC,CDB,CBR,ECAA,GFG,EHBQC,GHI,FDB,EDBAA,GJK,IAFA,Fc,FA"
GENERATED = 'var _x = 1;\nfunction _z(_m) {\n  let _y = 2;\n  console.log(_m + _y);\n}\nconsole.log("Hello World2");\n'
ORIGINAL = 'var x = 1;\nfunction z(message) {\n  let y = 2;\n  console.log(message + y);\n}\nz("Hello World");\n'
#: generated line 3 `console.log(_m + _y)` -> original line 3; line 5 (the inlined body) -> line 5
MAPPINGS = "AAAA;AACA;AACA;EACE;AACF;AACA"


def _map(scopes: Any = SCOPES) -> Dict[str, Any]:
    m = {"version": 3, "file": "app.js", "sources": ["file.js"], "sourcesContent": [ORIGINAL],
         "names": NAMES, "mappings": MAPPINGS}  # type: Dict[str, Any]
    if scopes is not None:
        m["scopes"] = scopes
    return m


def test_names_from_the_field_without_the_generated_file(engine: str) -> None:
    with pysym.SourceMap.from_bytes(json.dumps(_map()).encode()) as sm:
        assert sm.has_scopes
        assert sm.function_names([2, 3, 5, 0, 4], [2, 2, 12, 4, 1]) == ["z", "z", "z", None, None]


def test_the_field_is_preferred_to_the_generated_files_scopes(engine: str) -> None:
    with pysym.SourceMap.from_bytes(json.dumps(_map()).encode()) as sm:
        sm.set_generated_source(GENERATED)
        assert sm.function_name(3, 2) == "z"
    with pysym.SourceMap.from_bytes(json.dumps(_map(None)).encode()) as sm:
        assert not sm.has_scopes
        sm.set_generated_source(GENERATED)
        assert sm.function_name(3, 2) == "_z"  # the parse: no mapping names `_z` back


@pytest.mark.parametrize("scopes", ["", "BCAAU,DAC,CKA", "BCAAU,CKA,ECAA", "EAA,FA,FA", 7, None],
                         ids=["empty", "original-only", "unclosed", "unbalanced", "not-a-string", "absent"])
def test_unusable_fields_leave_the_generated_files_scopes(engine: str, scopes: Any) -> None:
    with pysym.SourceMap.from_bytes(json.dumps(_map(scopes)).encode()) as sm:
        assert not sm.has_scopes
        assert sm.lookup(0, 0) is not None  # the rest of the map is intact
        with pytest.raises(ValueError):
            sm.function_names([0], [0])
        sm.set_generated_source(GENERATED)
        assert sm.function_name(3, 2) == "_z"


TRACE = "Error: boom\n    at _z (https://example.com/app.js:4:3)\n    at https://example.com/app.js:6:13\n"


def _frames(directory: Path) -> Any:
    return [f for f in symbolicate_frames(parse_stacktrace(TRACE), MapDirectory(str(directory)), None)
            if not isinstance(f, str)]


def test_stack_frames_named_by_the_field(engine: str, tmp_path: Path) -> None:
    # only the map: no generated file to parse, the field names both frames
    (tmp_path / "app.js.map").write_text(json.dumps(_map()))
    frames = _frames(tmp_path)
    assert [(f.source, f.line, f.function) for f in frames] == [("file.js", 4, "z"), ("file.js", 6, "z")]
    # with the generated file too: still the field's names
    (tmp_path / "app.js").write_text(GENERATED + "//# sourceMappingURL=app.js.map\n")
    assert [f.function for f in _frames(tmp_path)] == ["z", "z"]


def test_browser_host_names_frames_from_the_field(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (tools/provision.sh node), needed for the browser host")
    (tmp_path / "app.js.map").write_text(json.dumps(_map()))
    script = r"""
import { readFileSync } from "node:fs";
import { init } from "./browser/runtime.js";
import { SourceMap } from "./browser/sourcemap.js";
await init();
const sm = SourceMap.fromBytes(readFileSync(process.argv[1]));
process.stdout.write(JSON.stringify([sm.hasScopes, sm.functionNames([2, 5, 0], [2, 12, 4])]));
"""
    root = os.path.join(os.path.dirname(__file__), os.pardir)
    proc = subprocess.run([node, "--input-type=module", "-e", script, str(tmp_path / "app.js.map")], cwd=root,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert json.loads(proc.stdout) == [True, ["z", "z", None]]


def test_source_map_cache_keeps_the_fields_names(engine: str) -> None:
    data = json.dumps(_map()).encode()
    with pysym.SourceMapCache.from_sourcemap(data) as built:
        raw = built.to_bytes()
    with pysym.SourceMapCache.from_bytes(raw) as cache:  # (no minified file given)
        tok = cache.lookup(3, 2)
        assert tok is not None and (tok.src_line, tok.function_name) == (3, "z")
        tok = cache.lookup(5, 12)
        assert tok is not None and (tok.src_line, tok.function_name) == (5, "z")
