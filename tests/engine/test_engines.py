"""Engine adapter tests, run for every engine importable on this Python."""

import gc
import os
import struct
import sys
import threading
import weakref

import pytest

import pysym._engine as eng
from pysym._engine import EngineUnavailable, HostImports, Trap, available_engines, load_engine

HOST_IO = -5
BAD_HANDLE = -1
NEED_DATA = -4
PAGE = 65536


class Files(HostImports):
    """A tiny file table like pysym/_host.py's: handle -> open file."""

    def __init__(self):
        self.files = {}
        self.calls = []
        self.fail_with = None

    def add(self, fh, path):
        self.files[fh] = open(path, "rb")

    def close(self):
        for f in self.files.values():
            f.close()

    def file_size(self, fh):
        self.calls.append(("size", fh))
        if self.fail_with is not None:
            raise self.fail_with
        f = self.files.get(fh)
        if f is None:
            return BAD_HANDLE
        return os.fstat(f.fileno()).st_size

    def file_read(self, fh, offset, length):
        self.calls.append(("read", fh, offset, length))
        if self.fail_with is not None:
            raise self.fail_with
        f = self.files.get(fh)
        if f is None:
            return BAD_HANDLE
        if offset >= os.fstat(f.fileno()).st_size:
            return b""
        f.seek(offset)
        return f.read(length)


@pytest.fixture
def files():
    fs = Files()
    yield fs
    fs.close()


@pytest.fixture
def module(engine, test_wasm):
    return engine.compile(test_wasm)


@pytest.fixture
def inst(engine, module, files):
    return engine.instantiate(module, files, 1 << 30)


def test_engine_identity(engine):
    assert engine.name in ("wasmtime", "wasmer")
    assert engine.version and engine.version[0].isdigit()
    assert load_engine(engine.name) is engine
    assert engine.name in repr(engine)


def test_basic_call(inst):
    assert inst.func("pysym_abi_version")() == 1
    assert inst.func("zero")() == 0
    assert inst.func("nothing")() is None
    assert inst.func("five") is inst.func("five")


def test_five_args_and_read_u32(inst):
    five = inst.func("five")
    assert five(1, 2, 3, 4, 64) == 1
    assert inst.read_u32(64, 6) == (1, 2, 3, 4, 64, 3)
    assert five(0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0, 128) == -1
    assert inst.read_u32(128, 6) == (0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0, 128, 0x7FFFFFFF)
    assert five(-1, -2, -(2**31), 5, 256) == -1
    assert inst.read_u32(256, 6) == (0xFFFFFFFF, 0xFFFFFFFE, 0x80000000, 5, 256, 0xFFFFFFFD)
    assert inst.read_u32(256, 0) == ()
    assert inst.read(64, 8) == struct.pack("<2I", 1, 2)


def test_signedness(inst):
    echo32 = inst.func("echo32")
    # results are signed; both spellings of an i32 argument are accepted
    assert echo32(0xFFFFFFFF) == -1
    assert echo32(-1) == -1
    assert echo32(0x80000000) == -(2**31)
    assert echo32(0x7FFFFFFF) == 0x7FFFFFFF
    assert echo32(12345) & 0xFFFFFFFF == 12345
    assert echo32(0xFFFFFFFF) & 0xFFFFFFFF == 0xFFFFFFFF
    with pytest.raises((OverflowError, struct.error, TypeError)):
        echo32(2**32)
    echo64 = inst.func("echo64")
    assert echo64(2**40 + 3) == 2**40 + 3
    assert echo64(-5) == -5
    assert echo64(2**64 - 1) == -1
    assert echo64(2**63) == -(2**63)
    with pytest.raises((OverflowError, struct.error, TypeError)):
        echo64(2**64)


def test_i64_argument_position(inst):
    mixed = inst.func("mixed")
    assert mixed(0xFFFFFFFF, (7 << 32) | 0xFFFFFFFF, 5) == 12
    assert mixed(0, 2**64 - 1, 0xFFFFFFFF) == 0xFFFFFFFF + 0xFFFFFFFF


def test_wrong_arity(inst):
    with pytest.raises(TypeError):
        inst.func("five")(1, 2)


def test_missing_and_non_function_exports(inst):
    with pytest.raises(KeyError):
        inst.func("no_such_export")
    with pytest.raises(TypeError):
        inst.func("memory")
    with pytest.raises(TypeError):
        inst.func("a_global")


def test_write_read_roundtrip(inst):
    inst.write(1000, b"hello")
    assert inst.read(1000, 5) == b"hello"
    inst.write(2000, bytearray(b"\x01\x02\x03"))
    inst.write(2003, memoryview(b"\x04\x05"))
    import array

    inst.write(2008, array.array("I", [0xDEADBEEF, 7]))
    assert inst.read(2000, 5) == b"\x01\x02\x03\x04\x05"
    assert inst.read_u32(2008, 2) == (0xDEADBEEF, 7)
    assert inst.func("sum")(2000, 5) == 15
    assert inst.func("peek")(2008) == struct.unpack("<i", struct.pack("<I", 0xDEADBEEF))[0]
    inst.func("poke")(3000, 0xCAFEBABE)
    assert inst.read_u32(3000, 1) == (0xCAFEBABE,)
    inst.write(0, b"")
    assert inst.read(0, 0) == b""
    # big write: one copy
    big = os.urandom(PAGE - 100)
    inst.write(50, big)
    assert inst.read(50, len(big)) == big


def test_out_of_bounds_host_access(inst):
    size = inst.memory_size()
    assert size == PAGE
    with pytest.raises(Trap):
        inst.read(size - 2, 4)
    with pytest.raises(Trap):
        inst.read_u32(size - 4, 2)
    with pytest.raises(Trap):
        inst.write(size - 1, b"ab")
    with pytest.raises(Trap):
        inst.read(-1, 1)
    assert inst.read(size - 4, 4) == inst.read(size - 4, 4)


def test_memory_growth(inst):
    grow, pages = inst.func("grow"), inst.func("pages")
    five = inst.func("five")
    inst.write(100, b"before")
    assert inst.memory_size() == PAGE
    assert grow(3) == 1
    assert pages() == 4
    assert inst.memory_size() == 4 * PAGE
    assert inst.read(100, 6) == b"before"
    # new pages are reachable for read, write and read_u32 without any explicit refresh
    top = 4 * PAGE - 24
    five(9, 8, 7, 6, top)
    assert inst.read_u32(top, 6) == (9, 8, 7, 6, top, 17)
    inst.write(3 * PAGE + 10, b"after")
    assert inst.read(3 * PAGE + 10, 5) == b"after"
    assert inst.func("peek")(3 * PAGE + 10) == struct.unpack("<i", b"afte")[0]
    with pytest.raises(Trap):
        inst.read(4 * PAGE, 1)


def test_growth_beyond_module_maximum(inst):
    # the module declares a 1 GiB maximum (16384 pages)
    assert inst.func("grow")(16384) == -1
    assert inst.func("pages")() == 1


def test_memory_limit_enforced(engine, module, files):
    if engine.name == "wasmer":
        pytest.skip("wasmer 1.1 has no per-store memory limit (module maximum only)")
    inst = engine.instantiate(module, files, 4 * PAGE)
    grow = inst.func("grow")
    assert grow(3) == 1
    assert grow(1) == -1  # would exceed the 4-page limit
    assert inst.func("pages")() == 4
    inst2 = engine.instantiate(module, files, None)
    assert inst2.func("grow")(100) == 1
    with pytest.raises(Trap):
        engine.instantiate(module, files, PAGE // 2)  # initial memory exceeds the limit


def test_host_imports_roundtrip(inst, files, tmp_path):
    data = bytes(range(256)) * 40 + b"tail"
    p = tmp_path / "data.bin"
    p.write_bytes(data)
    files.add(7, str(p))
    # file_size writes the u64 at out and returns 0
    assert inst.func("size")(7, 512) == 0
    assert struct.unpack("<Q", inst.read(512, 8))[0] == len(data)
    assert inst.func("size")(99, 512) == BAD_HANDLE
    # file_read passthrough, i64 offset
    read = inst.func("read")
    assert read(7, 250, 4096, 10) == 10
    assert inst.read(4096, 10) == data[250:260]
    assert read(7, len(data) - 2, 4096, 10) == 2  # short only at EOF
    assert read(7, 2**40, 4096, 10) == 0
    assert files.calls[-1] == ("read", 7, 2**40, 10)
    assert read(7, 2**63 + 5, 4096, 10) == 0
    assert files.calls[-1] == ("read", 7, 2**63 + 5, 10)  # offsets arrive unsigned
    assert read(99, 0, 4096, 10) == BAD_HANDLE
    # whole file through the imports, chunked
    assert inst.func("sum_file")(7, 8192, 1000) == sum(data)
    assert inst.func("sum_file")(7, 8192, 100000) == sum(data)


def test_host_import_unsigned_handles(inst, files, tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"abc")
    files.add(0xFFFFFFF0, str(p))
    assert inst.func("size")(0xFFFFFFF0, 512) == 0
    assert files.calls[-1] == ("size", 0xFFFFFFF0)
    assert struct.unpack("<Q", inst.read(512, 8))[0] == 3
    assert inst.func("read")(0xFFFFFFF0, 0, 600, 0xFFFF) == 3
    assert files.calls[-1] == ("read", 0xFFFFFFF0, 0, 0xFFFF)


def test_host_import_statuses(engine, module):
    class Need(HostImports):
        def file_size(self, fh):
            return NEED_DATA

        def file_read(self, fh, offset, length):
            return NEED_DATA

    inst = engine.instantiate(module, Need(), None)
    assert inst.func("size")(1, 512) == NEED_DATA
    assert inst.func("read")(1, 0, 512, 10) == NEED_DATA
    assert inst.func("sum_file")(1, 512, 10) == NEED_DATA


@pytest.mark.parametrize(
    "fail",
    [OSError("disk on fire"), ValueError("x"), ZeroDivisionError()],
)
def test_exception_in_host_import_is_host_io(inst, files, fail):
    files.fail_with = fail
    assert inst.func("size")(1, 512) == HOST_IO
    assert inst.func("read")(1, 0, 512, 10) == HOST_IO
    assert inst.func("sum_file")(1, 512, 10) == HOST_IO
    # the instance is still fine
    files.fail_with = None
    assert inst.func("pysym_abi_version")() == 1


class Broken(HostImports):
    def __init__(self, size, data):
        self.size, self.data = size, data

    def file_size(self, fh):
        return self.size

    def file_read(self, fh, offset, length):
        return self.data


@pytest.mark.parametrize(
    "size,data,expect_size,expect_read",
    [
        ("nope", b"", HOST_IO, 0),  # not an int
        (2**64, 5, HOST_IO, HOST_IO),  # size too big, positive int from read
        (-2, -2, -2, -2),  # negative statuses pass through
        (0, b"x" * 11, 0, HOST_IO),  # more bytes than asked
        (0, None, 0, HOST_IO),  # no buffer protocol
        (0, memoryview(b"abcdefgh")[::2], 0, 4),  # non-contiguous buffer
    ],
)
def test_broken_host_answers(engine, module, size, data, expect_size, expect_read):
    inst = engine.instantiate(module, Broken(size, data), None)
    assert inst.func("size")(1, 512) == expect_size
    assert inst.func("read")(1, 0, 600, 10) == expect_read
    if expect_read == 4:
        assert inst.read(600, 4) == b"aceg"


def test_host_write_out_of_bounds_is_host_io(inst, files, tmp_path):
    p = tmp_path / "y.bin"
    p.write_bytes(b"0123456789")
    files.add(1, str(p))
    assert inst.func("size")(1, PAGE - 4) == HOST_IO
    assert inst.func("read")(1, 0, PAGE - 4, 10) == HOST_IO
    assert inst.func("read")(1, 0, PAGE - 10, 10) == 10


def test_keyboard_interrupt_in_host_import_propagates(engine, module):
    class Interrupting(HostImports):
        def file_size(self, fh):
            raise KeyboardInterrupt()

        def file_read(self, fh, offset, length):
            return b""

    inst = engine.instantiate(module, Interrupting(), None)
    with pytest.raises(KeyboardInterrupt):
        inst.func("size")(1, 512)


@pytest.mark.parametrize(
    "name,args,words",
    [
        ("trap", (), ["unreachable"]),
        ("trap_i32", (1,), ["unreachable"]),
        ("oob", (), ["out of bounds"]),
        ("recurse", (0,), ["stack"]),
    ],
)
def test_trap(engine, module, files, name, args, words):
    inst = engine.instantiate(module, files, None)
    with pytest.raises(Trap) as info:
        inst.func(name)(*args)
    msg = str(info.value).lower()
    assert any(w in msg for w in words), msg
    # the caller throws the instance away; a new one works
    fresh = engine.instantiate(module, files, None)
    assert fresh.func("five")(1, 2, 3, 4, 64) == 1
    assert fresh.read_u32(64, 6) == (1, 2, 3, 4, 64, 3)


def test_trap_is_not_sticky(engine, module, files):
    # after a trap the instance is discarded by pysym, but a second trap must be
    # reported again (no stale trap state inside the adapter)
    inst = engine.instantiate(module, files, None)
    for _ in range(3):
        with pytest.raises(Trap):
            inst.func("trap")()
    fresh = engine.instantiate(module, files, None)
    assert fresh.func("echo32")(5) == 5


def test_module_reuse_and_independent_instances(engine, module, files):
    a = engine.instantiate(module, files, None)
    b = engine.instantiate(module, files, None)
    a.write(100, b"AAAA")
    b.write(100, b"BBBB")
    assert a.read(100, 4) == b"AAAA"
    assert b.read(100, 4) == b"BBBB"


def test_invalid_module(engine):
    with pytest.raises(ValueError):
        engine.compile(b"\x00asm\x01\x00\x00\x00garbage")


def test_unknown_import_rejected(engine):
    from conftest import wat_to_wasm

    wasm = wat_to_wasm('(module (import "env" "f" (func)))')
    with pytest.raises(Trap):
        engine.instantiate(engine.compile(wasm), Files(), None)


def test_instance_freed_without_gc(engine, module, files):
    inst = engine.instantiate(module, files, None)
    inst.func("five")(1, 2, 3, 4, 64)
    ref = weakref.ref(inst)
    core = getattr(inst, "_core", None)
    core_ref = weakref.ref(core) if core is not None else None
    del inst, core
    assert ref() is None
    if core_ref is not None:
        assert core_ref() is None  # no reference cycles keep the store alive


def test_func_keeps_instance_alive(engine, module, files):
    f = engine.instantiate(module, files, None).func("five")
    gc.collect()
    assert f(1, 2, 3, 4, 64) == 1


def test_thread_use(engine, module, files):
    """wasmtime: usable from any thread. wasmer: compile() results work in any thread
    (compiled lazily per thread); an instance stays bound to its thread."""
    inst = engine.instantiate(module, files, None)
    out = {}

    def worker():
        try:
            t_inst = engine.instantiate(module, files, None)
            out["new"] = t_inst.func("five")(1, 2, 3, 4, 64)
            out["old"] = inst.func("echo32")(3)
        except BaseException as e:  # noqa: B902
            out["err"] = e

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert out["new"] == 1
    assert engine.thread_bound == (engine.name == "wasmer")
    if engine.thread_bound:
        assert isinstance(out.get("err"), RuntimeError)
    else:
        assert out["old"] == 3


# --- engine selection ------------------------------------------------------------


def test_available_engines_order():
    names = available_engines()
    assert names == [n for n in ("wasmtime", "wasmer") if n in names]
    if sys.version_info >= (3, 11):
        assert "wasmer" not in names
    if sys.version_info < (3, 9):
        assert "wasmtime" not in names


def test_unknown_engine():
    with pytest.raises(EngineUnavailable) as info:
        load_engine("nope")
    assert "nope" in str(info.value)
    assert "wasmtime" in str(info.value)
    assert isinstance(info.value, ImportError)


def test_unavailable_engine_message():
    missing = [n for n in ("wasmtime", "wasmer") if n not in available_engines()]
    if not missing:
        pytest.skip("both engines are available here")
    with pytest.raises(EngineUnavailable) as info:
        load_engine(missing[0])
    assert "pip install" in str(info.value)


def test_env_var(monkeypatch):
    names = available_engines()
    if not names:
        pytest.skip("no engine")
    for name in names:
        monkeypatch.setenv("PYSYM_ENGINE", name)
        assert load_engine().name == name
    monkeypatch.setenv("PYSYM_ENGINE", "nope")
    with pytest.raises(EngineUnavailable) as info:
        load_engine()
    assert "PYSYM_ENGINE" in str(info.value)
    # an explicit name wins over the variable
    assert load_engine(names[0]).name == names[0]
    monkeypatch.delenv("PYSYM_ENGINE")
    assert load_engine().name == names[0]


def test_no_engine_message(monkeypatch):
    monkeypatch.delenv("PYSYM_ENGINE", raising=False)
    monkeypatch.setattr(eng, "_probe_errors", {"wasmtime": "ImportError: x", "wasmer": "ImportError: y"})
    monkeypatch.setattr(eng, "_engines", {})
    with pytest.raises(EngineUnavailable) as info:
        load_engine()
    msg = str(info.value)
    assert "pip install wasmtime" in msg and "wasmer==1.1.0" in msg
    assert available_engines() == []


def test_wasmtime_memory_base_is_fixed(engine, module, files):
    """The wasmtime adapter relies on memory_may_move=False: views survive growth."""
    if engine.name != "wasmtime":
        pytest.skip("wasmtime internals")
    inst = engine.instantiate(module, files, None)
    ms = inst._mem
    base = ms.base
    assert base
    assert inst.func("grow")(1000) == 1
    ms.refresh()
    assert ms.base == base and ms.size == 1001 * PAGE


def test_wasmtime_adapter_reads_types_as_wasmtime_py_does(test_wasm):
    """The adapter declares its own C API calls (no ``import wasmtime``): its reading of a
    module's imports and exports, struct layouts included, is wasmtime-py's."""
    if "wasmtime" not in available_engines():
        pytest.skip("wasmtime is not installed")
    import wasmtime

    def sig(t):
        return tuple(str(p) for p in t.params), tuple(str(r) for r in t.results)

    kinds = {"FuncType": "func", "MemoryType": "memory", "GlobalType": "global", "TableType": "table"}
    ref = wasmtime.Module(wasmtime.Engine(), test_wasm)
    want_exports = [(e.name, kinds[type(e.type).__name__],
                     sig(e.type) if isinstance(e.type, wasmtime.FuncType) else None) for e in ref.exports]
    want_imports = [(i.module, i.name, "func", sig(i.type)) for i in ref.imports]
    module = load_engine("wasmtime").compile(test_wasm)
    assert module.exports() == want_exports
    assert module.imports() == want_imports
    assert {k for _, k, _ in want_exports} >= {"func", "memory", "global"}


def test_wasmtime_adapter_does_not_import_the_bindings():
    """``import wasmtime`` costs ~2.7 MB resident in every process: the adapter loads the
    package's library without it."""
    if "wasmtime" not in available_engines():
        pytest.skip("wasmtime is not installed")
    import subprocess

    code = ("import sys; from pysym._engine import load_engine; e = load_engine('wasmtime'); "
            "print(sorted(m for m in sys.modules if m == 'wasmtime' or m.startswith('wasmtime.')))")
    out = subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.PIPE,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))).stdout
    assert out.decode().split() == ["[]"]


def test_wasmtime_adapter_structs_match_the_c_api():
    """The adapter's ctypes copies of the C API's structs have the sizes and field offsets
    of wasmtime-py's generated bindings for the same release (a wrong size would let the C
    side write past a Python-owned buffer)."""
    if "wasmtime" not in available_engines():
        pytest.skip("wasmtime is not installed")
    import ctypes

    from wasmtime import _bindings as ref

    from pysym._engine import _wasmtime as ad

    pairs = [(ad._ByteVec, ref.wasm_byte_vec_t), (ad._PtrVec, ref.wasm_valtype_vec_t),
             (ad._Func, ref.wasmtime_func_t), (ad._MemoryRef, ref.wasmtime_memory_t),
             (ad._ExternOf, ref.wasmtime_extern_union_t), (ad._Extern, ref.wasmtime_extern_t),
             (ad._InstanceRef, ref.wasmtime_instance_t), (ad._ValRaw, ref.wasmtime_val_raw_t)]
    for mine, theirs in pairs:
        assert (ctypes.sizeof(mine), ctypes.alignment(mine)) == (ctypes.sizeof(theirs), ctypes.alignment(theirs)), mine
    assert ad._Extern.of.offset == ref.wasmtime_extern_t.of.offset
    assert ad._Extern.kind.size == ref.wasmtime_extern_t.kind.size
    codes = ref.wasmtime_trap_code_enum
    assert ad._TRAP_KINDS == {codes.WASMTIME_TRAP_CODE_OUT_OF_FUEL.value: "fuel",
                              codes.WASMTIME_TRAP_CODE_INTERRUPT.value: "deadline"}
