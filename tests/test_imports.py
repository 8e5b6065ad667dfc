"""What ``import pysym`` loads: a process that builds or reads symcaches loads neither the
source-map, minidump and symbolicator modules nor OpenSSL (``hashlib``), and every public
name still resolves to the object its module defines."""

import importlib
import json
import os
import subprocess
import sys

import pysym

LAZY_MODULES = ("pysym._api", "pysym._smcache", "pysym._minidump", "pysym._sourcemap_url", "pysym._symbolicate")


def _loaded_after(code: str, env: "dict[str, str]") -> "list[str]":
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        check=True, stdout=subprocess.PIPE, env=env,
    ).stdout
    return list(json.loads(out.decode().splitlines()[-1]))


def test_a_build_process_loads_only_what_a_build_needs(tmp_path):
    code = (
        "import pysym\n"
        "from pysym._host import get_runtime\n"
        "get_runtime().current()\n"
        "pysym.SymCache, pysym.Object, pysym.Limits, pysym.PysymError\n"
    )
    env = dict(os.environ, PYSYM_CACHE_DIR=str(tmp_path))
    _loaded_after(code, env)  # compiles and writes the cache entry (tempfile)
    loaded = _loaded_after(code, env)
    assert "pysym._native" in loaded
    # (importlib.metadata pulls in email, zipfile and csv: ~4 MB; dataclasses pulls in
    # inspect, ast, dis and tokenize: ~1 MB)
    for name in LAZY_MODULES + ("hashlib", "_hashlib", "tempfile", "http.client", "ssl", "importlib.metadata",
                                "email", "dataclasses"):
        assert name not in loaded, name


def test_the_wasmtime_version_read_without_importlib_metadata_is_the_installed_one():
    import importlib.metadata

    from pysym._engine import _wasmtime

    assert _wasmtime._package_version() == importlib.metadata.version("wasmtime")


def test_every_public_name_resolves_to_its_module_object():
    for name in pysym.__all__:
        value = getattr(pysym, name)
        assert value is not None, name
    assert pysym.SourceMap is importlib.import_module("pysym._api").SourceMap
    assert pysym.Minidump is importlib.import_module("pysym._minidump").Minidump
    assert pysym.SourceMapCache is importlib.import_module("pysym._smcache").SourceMapCache
    assert pysym.find_debug_id is importlib.import_module("pysym._sourcemap_url").find_debug_id
    assert set(pysym.__all__) <= set(dir(pysym))


def test_star_import_and_unknown_names():
    ns: "dict[str, object]" = {}
    exec("from pysym import *", ns)  # noqa: S102
    assert set(pysym.__all__) <= set(ns)
    try:
        pysym.no_such_name  # noqa: B018
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("an unknown name resolved")
