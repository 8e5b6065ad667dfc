"""The adapters against the real module (skipped until pysym/_wasm/pysym.wasm exists)."""

import json
import os

import pytest

from pysym._abi import ABI_VERSION
from pysym._engine import HostImports

WASM = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "pysym",
    "_wasm",
    "pysym.wasm",
)
BAD_HANDLE = -1

pytestmark = pytest.mark.skipif(not os.path.exists(WASM), reason="pysym/_wasm/pysym.wasm not built yet")

SMAP = json.dumps(
    {
        "version": 3,
        "sources": ["a.js", "b.js"],
        "names": ["foo", "bar"],
        "mappings": "AAAA,IAAIA;AACA,MAAMC,GAAG;;AAET",
    }
).encode()


class Files(HostImports):
    def __init__(self):
        self.files = {}

    def file_size(self, fh):
        d = self.files.get(fh)
        return BAD_HANDLE if d is None else len(d)

    def file_read(self, fh, offset, length):
        d = self.files.get(fh)
        return BAD_HANDLE if d is None else memoryview(d)[offset : offset + length]


@pytest.fixture(scope="module")
def real_wasm():
    with open(WASM, "rb") as f:
        return f.read()


def test_real_module(engine, real_wasm):
    files = Files()
    inst = engine.instantiate(engine.compile(real_wasm), files, 1 << 30)
    assert inst.func("pysym_abi_version")() == ABI_VERSION
    out = inst.func("pysym_out_slot")()
    assert out > 0
    # input through pysym_alloc + write, parsed in the module
    ptr = inst.func("pysym_alloc")(len(SMAP))
    assert ptr > 0
    inst.write(ptr, SMAP)
    assert inst.func("pysym_sourcemap_from_bytes")(ptr, len(SMAP), out) == 0
    (h,) = inst.read_u32(out, 1)
    assert inst.func("pysym_sourcemap_info")(h, out) == 0
    assert inst.read_u32(out, 3)[:2] == (2, 2)
    # the same map through the host imports
    files.files[3] = SMAP
    assert inst.func("pysym_sourcemap_from_file")(3, out) == 0
    (h2,) = inst.read_u32(out, 1)
    assert h2 != h
    lookup = inst.func("pysym_sourcemap_lookup")
    assert lookup(h, 0, 0, 0, out) == lookup(h2, 0, 0, 0, out)
    # a status from the host comes back as the module's error, with a message
    assert inst.func("pysym_sourcemap_from_file")(99, out) < 0
    inst.func("pysym_last_error")(out)
    p, n = inst.read_u32(out, 2)
    assert n > 0 and inst.read(p, n)


SYM = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "native", "prog.sym")


class Collect(Files):
    """Keeps what a build writes (ABI output_begin / output_write); ``answer`` replaces
    the status of output_write (a broken host)."""

    def __init__(self, answer=None):
        super().__init__()
        self.size = None
        self.chunks = []
        self.answer = answer

    def output_begin(self, size):
        self.size = size
        return 0

    def output_write(self, offset, data):
        if self.answer is not None:
            if isinstance(self.answer, BaseException):
                raise self.answer
            return self.answer
        self.chunks.append((offset, bytes(data)))
        return 0


_compiled = {}


def _build(engine, real_wasm, files):
    with open(SYM, "rb") as f:
        files.files[5] = f.read()
    module = _compiled.get(engine.name)
    if module is None:
        module = _compiled[engine.name] = engine.compile(real_wasm)  # compiling takes seconds
    inst = engine.instantiate(module, files, 1 << 30)
    out = inst.func("pysym_out_slot")()
    return inst, out, inst.func("pysym_symcache_build")(5, 0, 0, out)


def test_real_module_streams_a_build(engine, real_wasm):
    files = Collect()
    inst, out, status = _build(engine, real_wasm, files)
    assert status == 0
    lo, hi = inst.read_u32(out, 2)
    data = b"".join(c for _, c in files.chunks)
    assert len(data) == files.size == lo | hi << 32
    assert [o for o, _ in files.chunks] == [sum(len(c) for _, c in files.chunks[:i]) for i in range(len(files.chunks))]
    # loaded back, the module hands out the same bytes
    ptr = inst.func("pysym_alloc")(len(data))
    inst.write(ptr, data)
    assert inst.func("pysym_symcache_from_bytes")(ptr, len(data), out) == 0
    (h,) = inst.read_u32(out, 1)
    assert inst.func("pysym_symcache_bytes")(h, out) == 0
    assert inst.read(*inst.read_u32(out, 2)) == data


@pytest.mark.parametrize("answer", [-5, -6, 1, "x", ValueError("disk on fire")])
def test_real_module_broken_output(engine, real_wasm, answer):
    # negative statuses come back; anything else a host import answers is HOST_IO
    inst, out, status = _build(engine, real_wasm, Collect(answer))
    assert status == (answer if answer in (-5, -6) else -5)
    assert inst.func("pysym_last_error")(out) == status
    # the instance goes on
    assert inst.func("pysym_abi_version")() == ABI_VERSION


def test_real_module_output_refused_by_default(engine, real_wasm):
    inst, out, status = _build(engine, real_wasm, Files())  # no output methods: HOST_IO
    assert status == -5
