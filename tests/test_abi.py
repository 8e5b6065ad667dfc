"""wasm/abi.toml is the contract: the module, the shim's constants and every generated copy
must agree with it (`make abi-check` is the same drift check, run by `make check`)."""

import functools
import os
import re
import subprocess
import sys

import pytest

from pysym import _abi, _errors, _wire

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIM = os.path.join(ROOT, "wasm", "abi", "src", "lib.rs")
ENGINE = os.environ.get("PYSYM_ENGINE", "wasmtime")

sys.path.insert(0, os.path.join(ROOT, "tools"))
import abigen  # noqa: E402

SPEC = abigen.load(os.path.join(ROOT, "wasm", "abi.toml"))


@functools.lru_cache(maxsize=None)
def module_signatures():
    """(exports, imports) of the real module as the engine reads them: name -> (params, results)."""
    # The module the host runs, through its compile cache (a fresh compile takes ~20 s).
    from pysym._host import Runtime, _compiled_module

    module = _compiled_module(Runtime().engine)
    module = module.get() if hasattr(module, "get") else module  # wasmer: one per thread
    if ENGINE == "wasmer":
        import wasmer

        names = {1: "i32", 2: "i64", 3: "f32", 4: "f64"}

        def sig(t):
            return tuple(names[int(p)] for p in t.params), tuple(names[int(r)] for r in t.results)

        funcs = [(e.name, sig(e.type)) for e in module.exports if isinstance(e.type, wasmer.FunctionType)]
        imports = [(i.name, sig(i.type)) for i in module.imports]
        kinds = {e.name: type(e.type).__name__ for e in module.exports}
        assert kinds.get("memory", "").startswith("Memory"), kinds.get("memory")
        return funcs, imports
    # wasmtime: the adapter's own reading of the C API's import and export types
    exports = module.exports()
    kinds = {name: kind for name, kind, _ in exports}
    assert kinds.get("memory") == "memory", kinds.get("memory")
    funcs = [(name, s) for name, kind, s in exports if kind == "func"]
    return funcs, [(name, s) for _, name, _, s in module.imports()]


def _types(params):
    return tuple(p.split(": ")[1] for p in params)


def test_module_exports_are_the_described_ones_in_order_with_their_signatures():
    exports, _ = module_signatures()
    described = [(e["name"], (_types(e["params"]), tuple(e["results"]))) for e in SPEC["export"]]
    assert [n for n, _ in exports] == [n for n, _ in described]
    assert exports == described
    assert [e[0] for e in _abi.EXPORTS] == [n for n, _ in described]


def test_module_imports_are_the_described_ones():
    _, imports = module_signatures()
    described = {e["name"]: (_types(e["params"]), tuple(e["results"])) for e in SPEC["import"]}
    assert dict(imports) == described


def test_module_reports_the_described_version():
    from pysym._host import Runtime

    rt = Runtime()
    assert rt.call("pysym_abi_version") == SPEC["version"] == _abi.ABI_VERSION


def test_shim_constants_match_the_description():
    src = open(SHIM, encoding="utf-8").read()
    assert re.search(r"^pub mod status;$", src, re.M), "lib.rs must use the generated status.rs"
    assert re.search(r"^pub use status::ABI_VERSION;$", src, re.M), "lib.rs must take the generated version"
    status_rs = open(os.path.join(ROOT, "wasm", "abi", "src", "status.rs"), encoding="utf-8").read()
    assert re.search(r"pub const ABI_VERSION: i32 = (\d+);", status_rs).group(1) == str(SPEC["version"])
    shim = {int(v): k for k, v in re.findall(r"pub const ([A-Z_]+): i32 = (-?\d+);", status_rs) if k != "ABI_VERSION"}
    assert shim == {s["code"]: s["name"] for s in SPEC["status"]}


def test_generated_files_do_not_drift():
    """The same check as `make abi-check`."""
    for rel, text in abigen.outputs(ROOT):
        with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
            assert f.read() == text, "%s differs from wasm/abi.toml: run python3 tools/abigen.py" % rel


def test_abi_check_fails_on_drift(tmp_path):
    for rel in ("wasm/abi.toml", "wasm/ABI.md", "pysym/_abi.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(open(os.path.join(ROOT, rel), "rb").read())
    # one status renamed in the description: every copy now differs
    spec = (tmp_path / "wasm/abi.toml").read_text("utf-8").replace('"HOST_IO"', '"HOST_IO_ERROR"')
    (tmp_path / "wasm/abi.toml").write_text(spec, "utf-8")
    tool = os.path.join(ROOT, "tools", "abigen.py")
    done = subprocess.run([sys.executable, tool, "--check", "--root", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "+HOST_IO_ERROR = -5" in done.stdout and "-HOST_IO = -5" in done.stdout


def test_status_errors_name_classes_of_the_one_tree():
    for s in SPEC["status"]:
        if s["error"]:
            cls = getattr(_errors, s["error"])
            assert issubclass(cls, _errors.PysymError)
            assert _abi.STATUS_ERRORS[s["code"]] == s["error"]
    assert _abi.OK not in _abi.STATUS_ERRORS and _abi.NEED_DATA not in _abi.STATUS_ERRORS


def test_status_errors_are_what_the_host_raises():
    from pysym._host import Runtime

    rt = Runtime()
    for code, name in _abi.STATUS_ERRORS.items():
        with pytest.raises(_errors.PysymError) as info:
            rt.check(code)
        assert type(info.value) is getattr(_errors, name), code
        assert info.value.code == code


def test_toml_reader_refuses_what_it_does_not_understand(tmp_path):
    bad = tmp_path / "bad.toml"
    for text in ('x = """multi"""\n', "[table]\n", "x = {a = 1}\n", "x = 1\nx = 2\n", 'x = "open\n'):
        bad.write_text(text, "utf-8")
        with pytest.raises(SystemExit):
            abigen.read_toml(str(bad))


@pytest.mark.parametrize("name", ["function", "class", "let", "data", "at", "lambda", "_private"])
def test_generator_refuses_names_that_break_a_decoder(tmp_path, name):
    spec = open(os.path.join(ROOT, "wasm", "abi.toml"), encoding="utf-8").read()
    part = '"token records[rest]"'
    assert part in spec
    bad = tmp_path / "abi.toml"
    bad.write_text(spec.replace(part, '"token %s[rest]"' % name, 1), "utf-8")
    with pytest.raises(SystemExit, match="cannot name a result part"):
        abigen.load(str(bad))
    # the same description with an ordinary name loads
    bad.write_text(spec.replace(part, '"token rows[rest]"', 1), "utf-8")
    assert abigen.load(str(bad))["result"]


def test_wire_decoders_read_the_layouts():
    words = [7, 1, 2, 3, 4, 5, 6, _abi.NONE, 9, 10, 11, 12, 13, 14]
    data = b"".join(w.to_bytes(4, "little") for w in words)
    got = _wire.decode_lookups(data[4:], 1)
    assert list(got.indices) == [1] and list(got.records) == [2, 3, 4, 5, 6, _abi.NONE]
    cols = _wire.token_columns(_wire.decode_token_records(data[4:52]).records)
    assert list(cols.src) == [3, 10] and list(cols.name) == [6, 13]
    with pytest.raises(ValueError):
        _wire.decode_lookups(data[4:], 3)
    with pytest.raises(ValueError):
        _wire.decode_locations(b"\x05\0\0\0")


def test_out_records_the_hosts_read_together_agree():
    """The hosts read a single lookup's out record as a token record (the same words first),
    and the result buffer of identity, decompress, unwind and minidump-open records through
    result_out (ptr, len at the same words); every out record fits the out slot."""
    records = {r["name"]: r for r in SPEC["record"]}
    assert records["lookup_out"]["fields"][: _wire.TOKEN_WORDS] == records["token"]["fields"]
    assert _wire.LOOKUP_OUT_INDEX == _wire.TOKEN_WORDS
    for name, ptr, length in [("identity", _wire.IDENTITY_TABLE_PTR, _wire.IDENTITY_TABLE_LEN),
                              ("decompress_out", _wire.DECOMPRESS_OUT_PTR, _wire.DECOMPRESS_OUT_LEN),
                              ("unwind_out", _wire.UNWIND_OUT_PTR, _wire.UNWIND_OUT_LEN),
                              ("minidump_open_out", _wire.MINIDUMP_OPEN_OUT_PTR, _wire.MINIDUMP_OPEN_OUT_LEN)]:
        assert records[name]["out"] and (ptr, length) == (_wire.RESULT_OUT_PTR, _wire.RESULT_OUT_LEN), name
    assert all(len(r["fields"]) <= _abi.OUT_SLOT_WORDS for r in SPEC["record"] if r.get("out"))


def test_module_needs_exactly_the_target_features_the_docs_name():
    """Makefile's target features are what ABI.md and the README tell engine users to have:
    a validator without one of them rejects the committed module, one with them accepts it."""
    import wasmtime

    with open(os.path.join(ROOT, "Makefile")) as f:
        features = re.findall(r"target-feature=\+([\w-]+)", f.read())
    assert features == ["bulk-memory", "simd128"]
    with open(os.path.join(ROOT, "pysym", "_wasm", "pysym.wasm"), "rb") as f:
        wasm = f.read()

    def validates(**off):
        config = wasmtime.Config()
        config.wasm_relaxed_simd = False  # not built with relaxed-simd: must not be needed
        for name in off:
            setattr(config, name, False)
        try:
            wasmtime.Module.validate(wasmtime.Engine(config), wasm)
        except wasmtime.WasmtimeError as e:
            return str(e)
        return None

    assert validates() is None
    assert "SIMD" in (validates(wasm_simd=False) or "accepted without SIMD")
    assert "bulk memory" in (validates(wasm_bulk_memory=False) or "accepted without bulk memory")
    with open(os.path.join(ROOT, "wasm", "ABI.md")) as f:
        abi_doc = f.read()
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    for feature in features:
        assert feature in abi_doc, feature
    assert "WebAssembly SIMD" in readme
