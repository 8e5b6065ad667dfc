"""The compiled-module cache (pysym/_engine/_cache.py) on each engine, with the small test
module (compiles in milliseconds) in a temporary cache directory."""

import os
import threading

import pytest
from test_engines import Files

from pysym import _digest
from pysym._engine import _cache


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = str(tmp_path / "cache")
    monkeypatch.setenv("PYSYM_CACHE_DIR", d)
    return d


def entries(d):
    return sorted(n for n in os.listdir(d) if not n.startswith(".")) if os.path.isdir(d) else []


class Counting:
    """The engine with its compile() counted (and refusable)."""

    def __init__(self, engine, monkeypatch):
        self.calls = 0
        self.refuse = False
        real = engine.compile

        def compile(wasm):
            self.calls += 1
            if self.refuse:
                raise AssertionError("compiled although the cache holds the module")
            return real(wasm)

        monkeypatch.setattr(engine, "compile", compile)


def works(engine, module):
    files = Files()
    try:
        inst = engine.instantiate(module, files, 1 << 30)
        assert inst.func("pysym_abi_version")() == 1
        assert inst.func("echo64")(2**40 + 5) == 2**40 + 5
    finally:
        files.close()


def test_compiled_once_then_loaded(engine, test_wasm, cache_dir, monkeypatch):
    counting = Counting(engine, monkeypatch)
    works(engine, _cache.compile_module(engine, test_wasm))
    assert counting.calls == 1
    (name,) = entries(cache_dir)
    assert name.startswith(engine.name + "-")
    assert os.stat(cache_dir).st_mode & 0o777 == 0o700
    assert os.stat(os.path.join(cache_dir, name)).st_mode & 0o077 == 0
    counting.refuse = True
    works(engine, _cache.compile_module(engine, test_wasm))
    if engine.thread_bound:  # wasmer: each thread loads the serialized code, not compiles
        module = _cache.compile_module(engine, test_wasm)
        errors = []
        t = threading.Thread(target=lambda: errors.append(works(engine, module)))
        t.start()
        t.join()
        assert errors == [None]
    # Other module bytes are other entries, the newest few kept.
    counting.refuse = False
    for i in range(_cache.KEEP + 2):
        _cache.compile_module(engine, test_wasm + b"\x00\x05\x04pys" + bytes([48 + i]))  # a custom section
    assert len(entries(cache_dir)) == _cache.KEEP
    assert name not in entries(cache_dir)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage"])
def test_damaged_entry_is_compiled_again(engine, test_wasm, cache_dir, monkeypatch, damage):
    _cache.compile_module(engine, test_wasm)
    (name,) = entries(cache_dir)
    path = os.path.join(cache_dir, name)
    data = bytearray(open(path, "rb").read())
    if damage == "flip":
        data[len(data) // 2] ^= 0x40
    elif damage == "truncate":
        del data[len(data) // 3 :]
    elif damage == "empty":
        data = bytearray()
    else:
        data = bytearray(os.urandom(4096))
    with open(path, "wb") as f:
        f.write(data)
    counting = Counting(engine, monkeypatch)
    works(engine, _cache.compile_module(engine, test_wasm))
    assert counting.calls == 1
    # ... and rewritten whole: the next process loads it.
    counting.refuse = True
    works(engine, _cache.compile_module(engine, test_wasm))


def test_untrusted_or_disabled_directory_is_not_used(engine, test_wasm, tmp_path, monkeypatch):
    counting = Counting(engine, monkeypatch)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o777)  # writable by others: someone else could plant code there
    monkeypatch.setenv("PYSYM_CACHE_DIR", str(shared))
    for _ in range(2):
        works(engine, _cache.compile_module(engine, test_wasm))
    assert entries(str(shared)) == [] and counting.calls == 2
    for off in ("off", "", "0"):
        monkeypatch.setenv("PYSYM_CACHE_DIR", off)
        assert _cache.directory() is None
        works(engine, _cache.compile_module(engine, test_wasm))
    assert counting.calls == 5


def test_unwritable_directory_still_compiles(engine, test_wasm, tmp_path, monkeypatch):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        blocked = tmp_path / "file"  # root writes anywhere: a path under a regular file
        blocked.write_bytes(b"")
        monkeypatch.setenv("PYSYM_CACHE_DIR", str(blocked / "cache"))
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        monkeypatch.setenv("PYSYM_CACHE_DIR", str(ro / "cache"))
    works(engine, _cache.compile_module(engine, test_wasm))


def test_default_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("PYSYM_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _cache.directory() == os.path.join(str(tmp_path), "pysym")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert _cache.directory() == os.path.join(os.path.expanduser("~"), ".cache", "pysym")


def test_entry_the_engine_refuses_is_replaced(engine, test_wasm, cache_dir, monkeypatch):
    # wasmtime validates what it deserializes; for wasmer 1.1 pysym checks the artifact's
    # magic and metadata offset first (_wasmer._check_artifact)
    _cache.compile_module(engine, test_wasm)
    (name,) = entries(cache_dir)
    path = os.path.join(cache_dir, name)
    payload = os.urandom(4096)  # intact (checksum matches) but not the engine's format
    with open(path, "wb") as f:
        f.write(payload + _cache._MAGIC + _digest.new(payload).digest())
    counting = Counting(engine, monkeypatch)
    works(engine, _cache.compile_module(engine, test_wasm))
    assert counting.calls == 1
    counting.refuse = True
    works(engine, _cache.compile_module(engine, test_wasm))


def _entry(engine, test_wasm, cache_dir):
    _cache.compile_module(engine, test_wasm)
    (name,) = entries(cache_dir)
    return os.path.join(cache_dir, name)


def test_truncated_entry_with_a_recomputed_digest(engine, test_wasm, cache_dir, monkeypatch):
    # What a damaged copy that someone "repaired" looks like: the checksum matches.
    # wasmer 1.1 crashed on it (segfault); now refused before the engine sees it.
    path = _entry(engine, test_wasm, cache_dir)
    payload = _cache._load(path)
    assert payload is not None
    for cut in (len(payload) - 1, len(payload) // 2, 100):
        cut_payload = payload[:cut]
        with open(path, "wb") as f:
            f.write(cut_payload + _cache._MAGIC + _digest.new(cut_payload).digest())
        counting = Counting(engine, monkeypatch)
        works(engine, _cache.compile_module(engine, test_wasm))
        assert counting.calls == 1
    assert _cache._load(path) == payload  # replaced by a whole one


def test_fifo_entry_does_not_block(engine, test_wasm, cache_dir, monkeypatch):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    path = _entry(engine, test_wasm, cache_dir)
    os.unlink(path)
    os.mkfifo(path, 0o600)
    done = []
    t = threading.Thread(target=lambda: done.append(_cache.compile_module(engine, test_wasm)), daemon=True)
    t.start()
    t.join(60)
    if t.is_alive():  # blocked opening the FIFO: a writer end releases it, then fail
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        t.join(10)
        pytest.fail("the compile cache blocked on a FIFO entry")
    works(engine, done[0])
    assert os.path.isfile(path)  # replaced by a regular entry


def test_symlinked_or_foreign_entry_is_not_used(engine, test_wasm, cache_dir, monkeypatch, tmp_path):
    path = _entry(engine, test_wasm, cache_dir)
    elsewhere = str(tmp_path / "planted.bin")
    os.rename(path, elsewhere)
    os.symlink(elsewhere, path)  # a valid entry, but through a symlink: not followed
    assert _cache._load(path) is None
    counting = Counting(engine, monkeypatch)
    works(engine, _cache.compile_module(engine, test_wasm))
    assert counting.calls == 1 and not os.path.islink(path)
    assert _cache._load(path) is not None
    os.chmod(path, 0o622)  # writable by others
    assert _cache._load(path) is None
    os.chmod(path, 0o600)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.chown(path, 4242, -1)  # another user's file
        assert _cache._load(path) is None


def test_entry_is_mapped_or_not_held(engine, test_wasm, cache_dir, monkeypatch):
    # The engine's bytes start the entry, the digest trails them; wasmtime maps the entry
    # (nothing read into Python), wasmer does not keep the bytes once loaded.
    path = _entry(engine, test_wasm, cache_dir)
    payload = _cache._load(path)
    with open(path, "rb") as f:
        assert f.read() == payload + _cache._MAGIC + _digest.new(payload).digest()
    calls = []
    if engine.maps_files:
        real = engine.deserialize_file

        def deserialize_file(where, size):
            calls.append(os.path.samefile(where, path) and size == len(payload))
            return real(where, size)

        monkeypatch.setattr(engine, "deserialize_file", deserialize_file)
        monkeypatch.setattr(engine, "deserialize", lambda *a, **k: pytest.fail("read the entry into Python"))
        works(engine, _cache.compile_module(engine, test_wasm))
        assert calls == [True]
    else:
        module = _cache.compile_module(engine, test_wasm)
        works(engine, module)
        if engine.thread_bound:
            assert module.compiled is None and module.reload is not None
            os.unlink(path)  # gone before another thread needs it: that thread compiles
            errors = []
            t = threading.Thread(target=lambda: errors.append(works(engine, module)))
            t.start()
            t.join()
            assert errors == [None] and module.reload is None
