"""pysym.Minidump through the real module on every engine.

Expected values were read off the fixtures' bytes (tests/data/minidump/describe.py) and
the Breakpad symbol directories shipped with them; the lldb test makes its own dump of a
crashed program and checks it against what lldb says about the live process.
"""

import os
import re
import shutil
import struct
import subprocess

import pytest

import pysym

DATA = os.path.join(os.path.dirname(__file__), "data", "minidump")


def dump_path(name: str) -> str:
    return os.path.join(DATA, name)


def test_windows_x86(engine: str) -> None:
    md = pysym.Minidump.from_path(dump_path("test.dmp"))
    assert md.warnings == []
    si = md.system_info
    assert si is not None
    assert (si.os, si.cpu, si.os_version, si.csd_version, si.cpu_vendor) == (
        "windows", "x86", (5, 1, 2600), "Service Pack 2", "GenuineIntel")
    assert len(md.modules) == 13
    m = md.modules[0]
    assert (m.base, m.size, m.code_file, m.debug_file) == (0x400000, 0x2D000, "c:\\test_app.exe", "c:\\test_app.pdb")
    assert (m.debug_id, m.code_id, m.codeview) == ("5a9832e5-2872-41c1-838e-d98914e9b7ff-1", "45D35F6C2d000", "pdb70")
    assert [t.id for t in md.threads] == [3060, 4544]
    t = md.threads[0]
    assert (t.registers["eip"], t.registers["esp"], t.registers["ebp"]) == (0x7C90EB94, 0x12F320, 0x12F384)
    assert t.stack == pysym.MemoryRegion(0x12F31C, 0xCE4, 0x1639)
    e = md.exception
    assert e is not None
    assert (e.thread_id, e.code, e.address, e.parameters) == (3060, 0xC0000005, 0x40429E, [1, 0x45])
    assert e.reason == "EXCEPTION_ACCESS_VIOLATION_WRITE"
    assert e.registers["eip"] == 0x40429E
    assert md.crashed_thread == 0
    assert [(r.base, r.size) for r in md.memory_regions] == [(0x12F31C, 3300), (0x97F6E8, 2328), (0x7C90EB14, 256)]
    assert md.module_at(0x7C90EB94).debug_file == "ntdll.pdb"  # type: ignore[union-attr]
    assert md.document["breakpad_info"] == {"dump_thread_id": 4544, "requesting_thread_id": 3060}
    assert md.document["misc_info"]["process_id"] == 3932


def test_linux_and_crashpad(engine: str) -> None:
    md = pysym.Minidump.from_path(dump_path("linux-mini.dmp"))
    assert md.warnings == []
    m = md.modules[0]
    assert (m.code_id, m.debug_id, m.codeview) == (
        "f1c3bcc0279865fe3058404b2831d9e64135386c", "c0bcc3f1-9827-fe65-3058-404b2831d9e6", "elf")
    assert (m.size, m.extent) == (0x1A000, 0x21B000)
    assert md.threads[0].registers["rip"] == 0x401D72
    assert "ds" not in md.threads[0].registers  # SEGMENTS is not in the context flags
    assert md.exception is not None and md.exception.reason == "SIGSEGV"
    linux = md.document["linux"]
    assert len(linux["maps"]) == 35
    assert linux["maps"][0]["path"] == "/work/linux/build/crash"
    assert linux["lsb_release"][3] == ["DISTRIB_DESCRIPTION", "Ubuntu 16.04.3 LTS"]
    assert linux["auxv"][0] == ["0x21", "0x7fff5aef1000"]

    md = pysym.Minidump.from_path(dump_path("simple-crashpad.dmp"))
    assert md.warnings == []
    assert md.crashpad_annotations == {"hello": "world"}
    cp = md.document["crashpad_info"]
    assert cp["report_id"] == "42f9de72-518a-43dd-97d7-8ddc328d3662"
    assert [(m["module_index"], m["list_annotations"]) for m in cp["modules"]] == [
        (16, ["abort() called"]), (39, ["dyld2 mode"])]
    assert md.exception is not None and md.exception.reason == "EXC_CRASH / SIGABRT"
    assert md.system_info is not None and md.system_info.os == "macos"


def test_thread_names_and_macos_ids(engine: str) -> None:
    md = pysym.Minidump.from_path(dump_path("pipeline-inlines-macos-segv.dmp"))
    assert md.warnings == []
    assert [t.name for t in md.threads][:2] == ["main", ""]
    # Breakpad's store layout for this module: uppercase id without dashes, then the age.
    m = md.modules[0]
    assert m.debug_id is not None
    assert m.debug_id.replace("-", "").upper() + "0" == "509C0610949836F7B70BD88BCF03E5400"
    assert md.exception is not None and md.exception.reason == "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS"
    assert md.threads[0].registers["rip"] == 0x102A68CD4


def test_bytes_and_path_agree(engine: str) -> None:
    for name in ("test.dmp", "invalid-parameter.dmp"):
        with open(dump_path(name), "rb") as f:
            data = f.read()
        assert pysym.Minidump.from_bytes(data).document == pysym.Minidump.from_path(dump_path(name)).document
        assert pysym.Minidump.from_bytes(memoryview(data)).document["assertion"] is not None or name == "test.dmp"


def test_not_a_minidump(engine: str) -> None:
    with pytest.raises(pysym.InvalidInputError, match="not a minidump"):
        pysym.Minidump.from_bytes(b"\x7fELF" + bytes(100))
    with pytest.raises(pysym.InvalidInputError, match="truncated minidump"):
        pysym.Minidump.from_bytes(b"MDMP\x93\xa7\x00\x00")


def test_truncated_and_damaged_dumps_give_partial_results(engine: str) -> None:
    with open(dump_path("test.dmp"), "rb") as f:
        data = f.read()
    whole = pysym.Minidump.from_bytes(data)
    for cut in (40, 200, 600, 1000, 3000, 6000, len(data) - 1):
        md = pysym.Minidump.from_bytes(data[:cut])
        assert md.warnings, cut
        # The records that are there say what the whole dump says (their names and
        # CodeView records may be past the cut: then they are empty).
        assert [(m.base, m.size) for m in md.modules] == [(m.base, m.size) for m in whole.modules[: len(md.modules)]]
        for m, w in zip(md.modules, whole.modules):
            assert m.debug_id in (None, w.debug_id) and m.code_file in ("", w.code_file)
    # Every RVA of the directory pointed past the end.
    bad = bytearray(data)
    for i in range(struct.unpack_from("<I", data, 8)[0]):
        struct.pack_into("<I", bad, 32 + 12 * i + 8, 0xFFFFFFF0)
    md = pysym.Minidump.from_bytes(bytes(bad))
    assert md.threads == [] and md.modules == [] and md.system_info is None
    assert any("outside the file" in w or "the file has 0" in w for w in md.warnings), md.warnings


def test_watchdog_mode_runs_the_parse_in_the_child(engine: str) -> None:
    if engine != "wasmer":
        pytest.skip("watchdog mode is for engines without fuel and deadlines (wasmer)")
    from pysym import _host, _watchdog

    assert "pysym_minidump_parse" in _watchdog.HEAVY
    rt = _host.Runtime(engine, limits=pysym.Limits(timeout=60, watchdog=True))
    md = pysym.Minidump.from_path(dump_path("linux-mini.dmp"), runtime=rt)
    assert md.threads[0].registers["rip"] == 0x401D72
    with pytest.raises(pysym.InvalidInputError):
        pysym.Minidump.from_bytes(b"not a dump, not at all", runtime=rt)
    assert rt._watchdog_proc is not None  # the parse went through the child first


def test_hundred_thousand_threads(engine: str) -> None:
    n = 100_000
    threads = struct.pack("<I", n) + b"".join(struct.pack("<I44x", i) for i in range(n))
    head = struct.pack("<IIIIIIQ", 0x504D444D, 0xA793, 1, 32, 0, 0, 0)
    data = head + struct.pack("<III", 3, len(threads), 44) + threads
    md = pysym.Minidump.from_bytes(data)
    assert len(md.threads) == 65536
    assert "only the first 65536 kept" in md.warnings[0]
    assert md.warnings[-1].endswith("more warnings left out")
    assert len(md.warnings) == 257


CRASHER = r"""
#include <pthread.h>
#include <unistd.h>
static void *worker(void *arg) { (void)arg; for (;;) pause(); return 0; }
__attribute__((noinline)) void crash_here(volatile int *p) { *p = 42; }
int main(void) {
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstacksize(&a, 65536);
  pthread_t t[3];
  for (int i = 0; i < 3; i++) pthread_create(&t[i], &a, worker, 0);
  usleep(100000);
  crash_here((volatile int *)0x10);
  return 0;
}
"""


@pytest.mark.skipif(shutil.which("lldb-14") is None or shutil.which("gcc") is None,
                    reason="lldb-14 and gcc make the dump (apt-get install lldb-14)")
def test_lldb_dump_of_a_crashed_program(engine: str, tmp_path: "os.PathLike[str]") -> None:
    """lldb 14 writes non-standard dumps: 720-byte x86_64 contexts, module sizes of the
    first segment only, garbage OS version fields; pysym reads them without warnings and
    places the crashing pc in the program through the maps stream."""
    src = os.path.join(tmp_path, "crasher.c")
    exe = os.path.join(tmp_path, "crasher")
    dmp = os.path.join(tmp_path, "crasher.dmp")
    with open(src, "w") as f:
        f.write(CRASHER)
    subprocess.run(["gcc", "-g", "-O1", "-o", exe, src, "-lpthread"], check=True)
    out = subprocess.run(
        ["lldb-14", "-b", "-o", "run", "-k", "process save-core --plugin-name=minidump --style stack " + dmp,
         "-k", "register read rip rsp", "-k", "kill", exe],
        capture_output=True, text=True, timeout=120,
    ).stdout
    rip = int(re.search(r"rip = (0x[0-9a-f]+)", out).group(1), 16)  # type: ignore[union-attr]
    rsp = int(re.search(r"rsp = (0x[0-9a-f]+)", out).group(1), 16)  # type: ignore[union-attr]
    md = pysym.Minidump.from_path(dmp)
    assert md.warnings == []
    assert md.system_info is not None and (md.system_info.os, md.system_info.cpu) == ("linux", "x86_64")
    assert len(md.threads) == 4
    assert md.exception is not None and md.exception.reason == "SIGSEGV"
    assert md.exception.address == rip  # lldb records the pc, not the fault address
    crashed = md.threads[md.crashed_thread]  # type: ignore[index]
    assert (crashed.registers["rip"], crashed.registers["rsp"]) == (rip, rsp)
    assert md.document["threads"][0]["context"]["size"] == 720
    prog = md.module_at(rip)
    assert prog is not None and prog.code_file == exe
    assert prog.size < rip - prog.base < prog.extent  # only the maps stream reaches the pc
    assert prog.debug_id == pysym.Object.from_path(exe).debug_id
    assert prog.code_id == pysym.Object.from_path(exe).code_id
