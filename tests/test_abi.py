"""The ABI document is the contract: constants, exports and their order must match it."""

import os
import re

from pysym import _abi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ABI_MD = os.path.join(ROOT, "wasm", "ABI.md")
SHIM = os.path.join(ROOT, "wasm", "abi", "src", "lib.rs")
WASM = os.path.join(ROOT, "pysym", "_wasm", "pysym.wasm")


def _leb(data, pos):
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def wasm_exports(path):
    """(name, kind) of every export, read straight from the binary's export section."""
    data = open(path, "rb").read()
    assert data[:4] == b"\0asm"
    pos = 8
    while pos < len(data):
        section, pos = data[pos], pos + 1
        size, pos = _leb(data, pos)
        end = pos + size
        if section == 7:
            count, pos = _leb(data, pos)
            out = []
            for _ in range(count):
                n, pos = _leb(data, pos)
                name = data[pos : pos + n].decode()
                kind = data[pos + n]
                _, pos = _leb(data, pos + n + 1)
                out.append((name, kind))
            return out
        pos = end
    return []


def doc_status_table():
    text = open(ABI_MD, encoding="utf-8").read()
    return {int(code): name for code, name in re.findall(r"^\| (-?\d+) \| ([A-Z_]+) \|", text, re.M)}


def doc_exports():
    text = open(ABI_MD, encoding="utf-8").read()
    return re.findall(r"^\| `(pysym_[a-z_0-9]+)` \|", text, re.M)


def test_status_codes_match_document():
    table = doc_status_table()
    assert table, "no status table found in ABI.md"
    assert table == _abi.STATUS_NAMES
    for code, name in table.items():
        assert getattr(_abi, name) == code


def test_shim_status_codes_match_document():
    src = open(SHIM, encoding="utf-8").read()
    block = src[src.index("pub mod status {") :]
    block = block[: block.index("\n}\n")]
    shim = {int(v): k for k, v in re.findall(r"pub const ([A-Z_]+): i32 = (-?\d+);", block)}
    assert shim == doc_status_table()


def test_abi_version_matches_shim():
    src = open(SHIM, encoding="utf-8").read()
    assert re.search(r"pub const ABI_VERSION: i32 = (\d+);", src).group(1) == str(_abi.ABI_VERSION)
    assert "ABI — version %d" % _abi.ABI_VERSION in open(ABI_MD, encoding="utf-8").read()


def test_module_exports_are_the_documented_ones_in_order():
    exported = [name for name, kind in wasm_exports(WASM) if kind == 0]
    assert exported == doc_exports()
    kinds = dict(wasm_exports(WASM))
    assert kinds.get("memory") == 2


def test_shim_defines_exports_in_document_order():
    src = open(SHIM, encoding="utf-8").read()
    defined = re.findall(r'pub extern "C" fn (pysym_[a-z_0-9]+)', src)
    assert defined == doc_exports()
