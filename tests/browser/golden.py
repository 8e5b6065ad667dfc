"""Golden outputs of the Python side, for the browser tests (tests/browser/test_browser.py).

Writes, into a directory given on the command line (or called from pytest):

* ``maps.json``: for each fixture map (examples/ and the ECMA-426 conformance resources),
  what the Python API gives: the error class for a map it rejects, else metadata, every
  token, lookups (both biases) around every token, generated positions and sources
  content (:func:`dump_map`; ``tests/browser/lib/golden.mjs`` makes the same object in JS);
* ``cli/*.txt`` / ``cli/*.jsonl``: ``python -m pysym symbolicate-js`` and
  ``sourcemap lookup`` output for the example traces;
* ``native/``: a small C program compiled here (``gcc -O2 -g``; skipped without gcc, noted
  in ``index.json``), the symcache ``pysym symcache build`` makes of it, ``object info
  --json`` and ``symcache lookup`` at a range of addresses.
* ``crash/``: ``Symbolicator`` responses (``crash/index.json`` lists them): every minidump
  of tests/data/minidump with its ``symbols`` store, and crash requests over the native
  program laid out in every store layout (ranking, rejected and malformed candidates,
  address modes, frame order, bad modules and frames, requests refused with their error
  class). A store is a directory here plus the list of its files, so that the browser
  (which cannot list a served directory) fetches the same files.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFORMANCE = os.path.join(ROOT, "tests", "conformance", "tc39-source-map-tests", "resources")
MAX_TOKENS = 300  # tokens whose neighbourhood is looked up, per map


def fixture_maps() -> List[str]:
    """Repository-relative paths of the fixture maps, sorted."""
    out = ["examples/app.min.js.map"]
    for name in sorted(os.listdir(CONFORMANCE)):
        if name.endswith(".map"):
            out.append(os.path.relpath(os.path.join(CONFORMANCE, name), ROOT).replace(os.sep, "/"))
    return out


def _tok(t: Any) -> Optional[List[Any]]:
    if t is None:
        return None
    return [t.dst_line, t.dst_col, t.src, t.src_line, t.src_col, t.name]


def dump_map(data: bytes) -> Dict[str, Any]:
    import pysym

    try:
        sm = pysym.SourceMap.from_bytes(data)
    except pysym.PysymError as e:
        return {"error": type(e).__name__, "code": e.code}
    with sm:
        tokens = sm.tokens
        lines: List[int] = []
        cols: List[int] = []
        for t in tokens[:MAX_TOKENS]:
            for dl, dc in ((t.dst_line, t.dst_col), (t.dst_line, t.dst_col + 1), (t.dst_line + 1, 0)):
                lines.append(dl)
                cols.append(dc)
        lines += [0, 0, 5, 1000000]
        cols += [0, 1000000, 3, 0]
        generated = []
        for t in tokens[:MAX_TOKENS]:
            if t.src is not None:
                generated.append([t.src, t.src_line, t.src_col,
                                  [_tok(g) for g in sm.generated_positions(t.src, t.src_line, t.src_col)],
                                  [_tok(g) for g in sm.generated_positions(t.src, t.src_line)]])
        return {
            "error": None,
            "sources": sm.sources,
            "names": sm.names,
            "file": sm.file,
            "debugId": sm.debug_id,
            "ignoreList": sm.ignore_list,
            "isIndexMap": sm.is_index_map,
            "length": len(sm),
            "tokens": [_tok(t) for t in tokens],
            "queries": [lines, cols],
            "glb": [_tok(t) for t in sm.lookup_many(lines, cols, pysym.GREATEST_LOWER_BOUND)],
            "lub": [_tok(t) for t in sm.lookup_many(lines, cols, pysym.LEAST_UPPER_BOUND)],
            "single": [_tok(sm.lookup(ln, c)) for ln, c in zip(lines[:50], cols[:50])],
            "generated": generated,
            "content": [sm.source_content(i) for i in range(len(sm.sources))],
        }


TRACES = ["examples/trace.txt", "examples/trace-firefox.txt"]
CONTEXTS = {"default": [], "context2": ["--context", "2"], "nocontext": ["--no-context"]}
LOOKUP_POSITIONS = ["1:1", "1:648", "1:674", "1:879", "1:863", "1:951", "1:1131", "1:1197", "1:1255", "1:5000", "2:1"]


def _cli(args: List[str]) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "pysym"] + args, cwd=ROOT, env=env, check=True,
                          stdout=subprocess.PIPE).stdout.decode("utf-8")


NATIVE_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
struct point { int x, y; };
static inline int sq(int x) { return x * x; }
static inline int dist2(struct point a, struct point b) { return sq(a.x - b.x) + sq(a.y - b.y); }
__attribute__((noinline)) int nearest(struct point *ps, int n, struct point q) {
    int best = -1, bd = 0x7fffffff;
    for (int i = 0; i < n; i++) { int d = dist2(ps[i], q); if (d < bd) { bd = d; best = i; } }
    return best;
}
int main(int argc, char **argv) {
    struct point *ps = malloc(sizeof *ps * 64);
    for (int i = 0; i < 64; i++) { ps[i].x = i * 7 % 13; ps[i].y = i * 5 % 11; }
    struct point q = { argc, 4 };
    printf("%d %s\n", nearest(ps, 64, q), argv[0]);
    free(ps);
    return 0;
}
"""
NATIVE_ADDRS = ["%x" % a for a in range(0x1000, 0x1400, 3)]


def write_native(outdir: str) -> Dict[str, Any]:
    gcc = shutil.which("gcc")
    if gcc is None:
        return {"skipped": "gcc is not installed"}
    d = os.path.join(outdir, "native")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "prog.c"), "w") as f:
        f.write(NATIVE_SOURCE)
    subprocess.run([gcc, "-O2", "-g", "prog.c", "-o", "prog"], cwd=d, check=True)
    _cli(["symcache", "build", os.path.join(d, "prog"), "-o", os.path.join(d, "prog.symc")])
    with open(os.path.join(d, "info.json"), "w", encoding="utf-8") as f:
        f.write(_cli(["object", "info", "--json", os.path.join(d, "prog")]))
    with open(os.path.join(d, "lookup.txt"), "w", encoding="utf-8") as f:
        f.write(_cli(["symcache", "lookup", os.path.join(d, "prog.symc")] + NATIVE_ADDRS))
    return {"exe": "native/prog", "symcache": "native/prog.symc", "info": "native/info.json",
            "lookup": "native/lookup.txt", "addrs": NATIVE_ADDRS}


MINIDUMPS = "tests/data/minidump"


def _files(root: str) -> List[str]:
    out = []
    for d, _dirs, names in os.walk(root):
        for n in names:
            out.append(os.path.relpath(os.path.join(d, n), root).replace(os.sep, "/"))
    return sorted(out)


def _put(root: str, rel: str, data: bytes) -> None:
    path = os.path.join(root, *rel.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def _relative_candidates(response: Dict[str, Any], roots: Dict[str, str]) -> Dict[str, Any]:
    """Candidate locations relative to their store's root (the browser's file sets have
    no directory), for comparison."""
    for m in response.get("modules", []):
        for c in m.get("candidates", []):
            root = roots.get(c["source"])
            if root and c["location"].startswith(root + os.sep):
                c["location"] = c["location"][len(root) + 1 :].replace(os.sep, "/")
    return response


def write_crash(outdir: str, native: Dict[str, Any]) -> Dict[str, Any]:
    """Symbolicator responses for the minidumps and for crash requests (see the module doc)."""
    import pysym
    from pysym import FilesystemStore, Symbolicator, SystemStore

    d = os.path.join(outdir, "crash")
    os.makedirs(d, exist_ok=True)
    index: Dict[str, Any] = {"stores": {}, "minidumps": [], "requests": []}

    def store(name: str, root: str, layout: str = "native", casing: str = "default", repo: bool = False,
              filters: Optional[Dict[str, Any]] = None) -> None:
        index["stores"][name] = {"root": os.path.relpath(root, ROOT if repo else outdir).replace(os.sep, "/"),
                                 "in": "repo" if repo else "golden", "layout": layout, "casing": casing,
                                 "files": _files(root), "filters": filters}

    def make(names: List[str], **kw: Any) -> Any:
        stores: List[Any] = []
        roots = {}
        for n in names:
            s = index["stores"][n]
            if s.get("kind") == "system":
                stores.append(SystemStore(s["debug_dirs"], module_files=s["module_files"], id=n))
                continue
            base = ROOT if s["in"] == "repo" else outdir
            root = roots[n] = os.path.join(base, *s["root"].split("/"))
            stores.append(FilesystemStore(root, s["layout"], casing=s["casing"], id=n, filters=s.get("filters")))
        return Symbolicator(stores, **kw), roots

    def minidump(dump: str, where: str, names: List[str], out: str) -> None:
        sym, _roots = make(names)
        with open(os.path.join(ROOT if where == "repo" else outdir, *dump.split("/")), "rb") as f:
            data = f.read()
        try:
            resp: Any = sym.process_minidump(data)
        except pysym.PysymError as e:
            resp = {"error": type(e).__name__}
        with open(os.path.join(outdir, out), "w", encoding="utf-8") as f:
            json.dump(resp, f)
        index["minidumps"].append({"dump": dump, "in": where, "stores": names, "response": out})

    store("dumpsyms", os.path.join(ROOT, MINIDUMPS, "symbols"), repo=True)
    for name in sorted(os.listdir(os.path.join(ROOT, MINIDUMPS))):
        if name.endswith(".dmp"):
            minidump(MINIDUMPS + "/" + name, "repo", ["dumpsyms"], "crash/%s.json" % name)
            minidump(MINIDUMPS + "/" + name, "repo", [], "crash/%s.nostores.json" % name)  # as test_stackwalk
    # truncated dumps (the prefixes of test_minidump.py and test_stackwalk.py): a typed
    # error or a partial result, as in Python
    for name in ("linux-mini.dmp", "test.dmp"):
        size = os.path.getsize(os.path.join(ROOT, MINIDUMPS, name))
        cuts = (40, 200, 600, 3000, 6000, size - 1) if name == "test.dmp" else range(0, size, max(1, size // 23))
        for cut in sorted(set(cuts) | {32, 100, 1000}):
            index["minidumps"].append({"dump": MINIDUMPS + "/" + name, "cut": cut, "stores": [],
                                       "response": _cut_dump(outdir, name, cut)})
    # every RVA of the directory pointed past the end (test_minidump.py)
    with open(os.path.join(ROOT, MINIDUMPS, "test.dmp"), "rb") as f:
        bad = bytearray(f.read())
    for i in range(struct.unpack_from("<I", bad, 8)[0]):
        struct.pack_into("<I", bad, 32 + 12 * i + 8, 0xFFFFFFF0)
    _put(outdir, "crash/damaged-test.dmp", bytes(bad))
    minidump("crash/damaged-test.dmp", "golden", [], "crash/damaged-test.dmp.json")
    # 100000 threads without contexts (test_minidump.py): the first 65536 kept
    n = 100_000
    threads = struct.pack("<I", n) + b"".join(struct.pack("<I44x", i) for i in range(n))
    head = struct.pack("<IIIIIIQ", 0x504D444D, 0xA793, 1, 32, 0, 0, 0)
    _put(outdir, "crash/threads-100k.dmp", head + struct.pack("<III", 3, len(threads), 44) + threads)
    minidump("crash/threads-100k.dmp", "golden", [], "crash/threads-100k.dmp.json")

    if native.get("skipped"):
        if os.environ.get("CI") == "true":
            raise RuntimeError("the crash requests need the native program: %s" % native["skipped"])
        index["requests_skipped"] = native["skipped"]
        return index
    exe_path = os.path.join(outdir, native["exe"])
    with open(exe_path, "rb") as f:
        exe = f.read()
    build_id = pysym.Object.from_path(exe_path).code_id
    stripped = os.path.join(d, "prog.stripped")
    subprocess.run(["strip", "--strip-debug", exe_path, "-o", stripped], check=True)
    with open(stripped, "rb") as f:
        exe_symbols = f.read()
    module = {"type": "elf", "code_id": build_id, "image_addr": "0x555555554000", "image_size": 0x10000,
              "code_file": "/app/prog", "debug_file": "/app/prog"}
    mod = pysym.Module(type="elf", image_addr=0, image_size=1, code_id=build_id, code_file="/app/prog")
    from pysym._symbolicate._stores import layout_locations

    for layout, casing in (("native", "default"), ("native", "lowercase"), ("symstore", "default"),
                           ("symstore", "uppercase"), ("symstore_index2", "default"), ("ssqp", "default"),
                           ("unified", "default"), ("debuginfod", "default")):
        root = os.path.join(d, "stores", "%s-%s" % (layout, casing))
        for loc in layout_locations(layout, mod):
            path = {"lowercase": loc.path.lower(), "uppercase": loc.path.upper()}.get(casing, loc.path)
            # the debug file where a layout has one, the stripped binary where it names the executable
            _put(root, path, exe if loc.filetype.endswith("_debug") else exe_symbols)
        store("%s-%s" % (layout, casing), root, layout, casing)
    # store filters (Symbolicator's): only the code file; a name pattern that excludes the module
    native_root = os.path.join(d, "stores", "native-default")
    store("filter-code-only", native_root, filters={"filetypes": ["elf_code"]})
    store("filter-pattern", native_root, filters={"path_patterns": ["*/lib[!p]*.so", "c:\\*"]})
    # ranking and failures: only the stripped binary; a file of another build id; garbage
    root = os.path.join(d, "stores", "symbols-only")
    _put(root, ".build-id/%s/%s" % (build_id[:2], build_id[2:]), exe_symbols)
    store("symbols-only", root)
    with open(os.path.join(ROOT, MINIDUMPS, "symbols", "crash-client", "509C0610949836F7B70BD88BCF03E5400",
                           "crash-client.sym"), "rb") as f:
        other = f.read()
    root = os.path.join(d, "stores", "bad")
    _put(root, ".build-id/%s/%s.debug" % (build_id[:2], build_id[2:]), other)
    _put(root, ".build-id/%s/%s" % (build_id[:2], build_id[2:]), b"\x7fELF garbage" * 10)
    store("bad", root)

    base = int(module["image_addr"], 16)
    rels = [int(a, 16) for a in native["addrs"]][::7]
    frames = [{"instruction_addr": hex(base + r)} for r in rels]
    requests: List[Tuple[str, List[str], Dict[str, Any], Dict[str, Any]]] = []
    for name in index["stores"]:
        if name not in ("dumpsyms", "symbols-only", "bad") and not name.startswith("filter-"):
            requests.append(("layout " + name, [name], {"modules": [module], "stacktraces": [{"frames": frames}],
                                                         "options": {"dif_candidates": True}}, {}))
    requests.append(("ranking: debug info over symbols over nothing", ["bad", "symbols-only", "native-default"],
                     {"modules": [module], "stacktraces": [{"frames": frames, "thread_id": 7, "crashed": True}],
                      "options": {"dif_candidates": True}}, {}))
    requests.append(("store filters", ["filter-pattern", "filter-code-only"],
                     {"modules": [module, dict(module, code_file="/usr/lib/libq.so", image_addr="0x7f0000000000")],
                      "stacktraces": [{"frames": frames + [{"instruction_addr": "0x7f0000000010"}]}],
                      "options": {"dif_candidates": True}}, {}))
    requests.append(("symbols only", ["bad", "symbols-only"],
                     {"modules": [module], "threads": [{"frames": frames}], "options": {"dif_candidates": True}}, {}))
    requests.append(("only bad candidates", ["bad"],
                     {"modules": [module], "stacktraces": [{"frames": frames}],
                      "options": {"dif_candidates": True}}, {}))
    ret = hex(base + rels[3])
    modes = [{"instruction_addr": ret}, {"instruction_addr": ret}, {"instruction_addr": ret, "trust": "context"},
             {"instruction_addr": rels[3], "addr_mode": "rel:0"},
             {"instruction_addr": ret, "adjust_instruction_addr": False},
             {"instruction_addr": str(base + rels[4]), "trust": "scan"}, {"instruction_addr": "0x10", "trust": "cfi"}]
    for order in ("callee_first", "caller_first"):
        requests.append(("address modes, " + order, ["native-default"],
                         {"modules": [module, dict(module, code_id="00" * 20, image_addr="0x7f0000000000")],
                          "stacktraces": [{"frames": modes, "registers": {"rip": ret}, "thread_name": "main"},
                                          {"frames": [{"instruction_addr": "0x7f0000000010"}]}],
                          "options": {"frame_order": order}}, {}))
    overlap = dict(module, image_addr=hex(base + 16))
    requests.append(("bad modules and frames", ["native-default"], {
        "modules": [module, {"type": "coff", "image_addr": "0x10", "image_size": 16}, overlap,
                    dict(module, image_addr=None), dict(module, image_addr="0x1", image_size=None),
                    dict(module, image_addr="0xZZ"), dict(module, image_addr="0x1", debug_id="nope"),
                    dict(module, image_addr="0x1", code_id="xyz"), "module", dict(module, image_size=0),
                    dict(module, image_addr="0x" + "f" * 16, image_size=2), dict(module, type=None)],
        "threads": [{"frames": [{"instruction_addr": ret}, {"instruction_addr": "0xZZ"}, {"instruction_addr": -5},
                                {"instruction_addr": "0x" + "f" * 17}, {"instruction_addr": ret, "addr_mode": "rel:99"},
                                "frame", {"instruction_addr": "0x12"}, {"trust": "scan"},
                                {"instruction_addr": "0x1", "addr_mode": "rel:1"}, {"instruction_addr": True}]}],
    }, {}))
    # addresses above 2**53: exact as hex strings, decimal strings and JSON integers (the
    # browser reads the request with parseJson, which keeps those integers as BigInt)
    high = 0xFFFFFFFF80000000
    high_frames = [{"instruction_addr": hex(high + rels[0])}, {"instruction_addr": str(high + rels[1])},
                   {"instruction_addr": high + rels[2]}, {"instruction_addr": 2**64 - 1}, {"instruction_addr": 2**64},
                   {"instruction_addr": 2**53 + 1}, {"instruction_addr": rels[3], "addr_mode": "rel:0"}]
    requests.append(("addresses above 2**53", ["native-default"], {
        "modules": [dict(module, image_addr=hex(high), image_size=0x10000, extra=high + 7)],
        "stacktraces": [{"frames": high_frames,
                         "registers": {"rip": hex(high + rels[0])}, "thread_id": 2**63}],
        "options": {"dif_candidates": True}}, {}))
    requests.append(("too many frames", ["native-default"], {"modules": [module], "stacktraces": [{"frames": frames}]},
                     {"max_frames": 3}))
    requests.append(("too many modules", ["native-default"], {"modules": [module] * 3, "stacktraces": []},
                     {"max_modules": 2}))
    for i, bad in enumerate(([], "x", {"stacktraces": {}}, {"stacktraces": [{"frames": 1}]}, {"modules": "x"},
                             {"options": {"frame_order": "sideways"}}, {"options": [1]}, {})):
        requests.append(("bad request %d" % i, [], bad, {}))  # type: ignore[arg-type]
    requests.extend(write_pe(outdir, index))
    lldb = write_lldb(outdir, index, store)
    for dump, names, out in lldb["minidumps"]:
        minidump(dump, "golden", names, out)
    requests.extend(lldb["requests"])
    for i, (what, names, req, kw) in enumerate(requests):
        sym, roots = make(names, **kw)
        try:
            resp = _relative_candidates(sym.symbolicate(req), roots)
        except pysym.PysymError as e:
            resp = {"error": type(e).__name__}
        out = "crash/request-%d.json" % i
        with open(os.path.join(outdir, out), "w", encoding="utf-8") as f:
            json.dump({"request": req, "response": resp}, f)
        sources = []  # local_sources: the files the frames name, handed to the browser by path
        if kw.get("local_sources"):
            paths = sorted({f["abs_path"] for st in resp.get("stacktraces", []) for f in st["frames"]
                            if "abs_path" in f and os.path.isfile(f["abs_path"])})
            for k, path in enumerate(paths):
                copy = "crash/sources/%d-%d-%s" % (i, k, os.path.basename(path))
                with open(path, "rb") as f:
                    _put(outdir, copy, f.read())
                sources.append([path, copy])
        index["requests"].append({"name": what, "stores": names, "file": out,
                                  "options": {"maxFrames": kw.get("max_frames"), "maxModules": kw.get("max_modules"),
                                              "localSources": sources if kw.get("local_sources") else None}})
    return index


PE_SOURCE = r"""
static inline int sq(int v) { return v * v; }
static int table[64];
__attribute__((noinline)) int fill(int n) {
    int s = 0;
    for (int i = 0; i < n && i < 64; i++) { table[i] = sq(i - n) + sq(3 - 2 * i); s += table[i]; }
    return s;
}
__attribute__((noinline)) static int mix(int a, int b) { return a > b ? sq(a - b) + fill(a) : sq(b - a) * 3 + fill(b); }
__declspec(dllexport) int api_entry(int a) { return mix(a, 7) + fill(a & 15); }
int mainCRTStartup(void) { return api_entry(11); }
"""


def write_pe(outdir: str, index: Dict[str, Any]) -> List[Tuple[str, List[str], Dict[str, Any], Dict[str, Any]]]:
    """A Windows image built here (clang-14 for x86_64-pc-windows-msvc, lld-link-14) with its
    PDB in a symstore tree: a `pe` crash request found through the PDB (the Windows part of
    issue 21). Missing tools fail in CI (CI=true) and are noted in the index elsewhere."""
    import pysym

    tools = [shutil.which("clang-14"), shutil.which("lld-link-14")]
    if not all(tools):
        if os.environ.get("CI") == "true":
            raise RuntimeError("clang-14 and lld-link-14 are needed for the PE golden case (make test-tools)")
        index["pe_skipped"] = "clang-14 and lld-link-14 are not installed"
        return []
    d = os.path.join(outdir, "crash", "pe")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "app.c"), "w") as f:
        f.write(PE_SOURCE)
    subprocess.run([tools[0], "--target=x86_64-pc-windows-msvc", "-g", "-gcodeview", "-O2", "-c", "app.c",
                    "-o", "app.obj"], cwd=d, check=True)
    subprocess.run([tools[1], "/debug", "/nodefaultlib", "/entry:mainCRTStartup", "/subsystem:console", "/out:app.exe",
                    "/pdb:app.pdb", "app.obj"], cwd=d, check=True, stdout=subprocess.DEVNULL)
    pe = pysym.Object.from_path(os.path.join(d, "app.exe"))
    root = os.path.join(d, "symstore")
    with open(os.path.join(d, "app.pdb"), "rb") as f:
        _put(root, "app.pdb/%s/app.pdb" % pe.debug_id.replace("-", "").upper(), f.read())
    index["stores"]["pe-symstore"] = {"root": os.path.relpath(root, outdir).replace(os.sep, "/"), "in": "golden",
                                      "layout": "symstore", "casing": "default", "files": _files(root)}
    image = 0x7FF600000000
    module = {"type": "pe", "code_file": "C:\\app\\app.exe", "debug_id": pe.debug_id, "debug_file": pe.debug_file,
              "code_id": pe.code_id, "image_addr": hex(image), "image_size": 1 << 20}
    with pysym.SymCache.from_object(pysym.Object.from_path(os.path.join(d, "app.pdb"))) as sc:
        rels = sorted({s for s in range(0x1000, 0x1400, 5) if sc.lookup(s)})
    frames = [{"instruction_addr": hex(image + r)} for r in rels[::3]]
    return [("pe module through its PDB in a symstore", ["pe-symstore"],
             {"modules": [module], "stacktraces": [{"frames": frames}], "options": {"dif_candidates": True}}, {})]


def write_lldb(outdir: str, index: Dict[str, Any], store: Any) -> Dict[str, Any]:
    """The dumps and requests of tests/test_crash.py and tests/test_stackwalk.py (a program
    crashed under lldb-14, built here by their own helpers, once per session): their
    requests in every store they use, ``SystemStore`` included. A system store is written
    as the files it would read, at their absolute paths (copies in the golden directory),
    which the browser's SystemStore is handed; files that are one inode share one copy, as
    the Python side sees one file. Without lldb-14 this fails in CI and is noted elsewhere."""
    import pysym
    from pysym import SystemStore
    from pysym._symbolicate._request import parse_module
    from pysym._symbolicate._stores import layout_locations

    if shutil.which("lldb-14") is None:
        if os.environ.get("CI") == "true":
            raise RuntimeError("lldb-14 is needed for the lldb golden cases (make test-tools)")
        index["lldb_skipped"] = "lldb-14 is not installed"
        return {"minidumps": [], "requests": []}
    tests = os.path.join(ROOT, "tests")
    sys.path.insert(0, tests)
    try:
        import stackwalk_helpers
        from test_crash import Crash, _breakpad_sym, _module, _one_frame
    finally:
        sys.path.remove(tests)
    base = os.path.join(outdir, "lldb")
    crash = Crash(Path(base) / "crash")
    dump = stackwalk_helpers.build_and_dump(Path(base) / "stackwalk", threads=3)
    copies: Dict[Tuple[int, int], str] = {}

    def system(name: str, debug_dirs: List[str], module_files: bool, modules: List[Any]) -> str:
        st = SystemStore(debug_dirs, module_files=module_files, id=name)
        files: List[List[str]] = []
        for raw in modules:
            m, _err = parse_module(raw)
            for loc in st.locations(m) if m is not None else []:
                if os.path.isfile(loc.path) and loc.path not in [f[0] for f in files]:
                    info = os.stat(loc.path)
                    key = (info.st_dev, info.st_ino)
                    if key not in copies:
                        copies[key] = "lldb/system/%d-%s" % (len(copies), os.path.basename(loc.path))
                        with open(loc.path, "rb") as f:
                            _put(outdir, copies[key], f.read())
                    files.append([loc.path, copies[key]])
        index["stores"][name] = {"kind": "system", "in": "golden", "debug_dirs": debug_dirs,
                                 "module_files": module_files, "files": files}
        return name

    requests: List[Tuple[str, List[str], Dict[str, Any], Dict[str, Any]]] = []
    store("lldb-buildid", str(crash.buildid))
    store("lldb-symstore", str(crash.symstore), "symstore")
    full = crash.request(dif_candidates=True)
    sys_nomf = system("lldb-system", ["/usr/lib/debug"], False, full["modules"])
    requests.append(("lldb crash: build-id tree + system", ["lldb-buildid", sys_nomf], full, {}))
    requests.append(("lldb crash: symstore + system", ["lldb-symstore", sys_nomf], full, {}))
    requests.append(("lldb crash: symstore alone", ["lldb-symstore"], crash.request(), {}))
    # source context from the files the debug info names (local_sources), and turned off
    requests.append(("lldb crash: local sources", ["lldb-buildid"], crash.request(), {"local_sources": True}))
    requests.append(("lldb crash: local sources, apply_source_context off", ["lldb-buildid"],
                     crash.request(apply_source_context=False), {"local_sources": True}))
    b = crash.ids["libtwo.so"]
    debug = crash.buildid / ".build-id" / b[:2] / (b[2:] + ".debug")
    m = pysym.Module(type="elf", image_addr=0, image_size=1, code_id=b, code_file="/somewhere/libtwo.so")
    for layout, casing in (("native", "default"), ("symstore", "default"), ("symstore", "uppercase"),
                           ("symstore_index2", "default"), ("ssqp", "default"), ("unified", "default"),
                           ("debuginfod", "default"), ("native", "lowercase")):
        path = [loc for loc in layout_locations(layout, m) if loc.filetype == "elf_debug"][0].path
        path = {"lowercase": path.lower(), "uppercase": path.upper()}.get(casing, path)
        root = os.path.join(base, "layouts", "%s-%s" % (layout, casing))
        _put(root, path, debug.read_bytes())
        store("lldb-%s-%s" % (layout, casing), root, layout, casing)
        requests.append(("lldb one frame, %s %s" % (layout, casing), ["lldb-%s-%s" % (layout, casing)],
                         _one_frame(crash), {}))
        if casing == "uppercase":
            store("lldb-%s-wrong-casing" % layout, root, layout)
            requests.append(("lldb one frame, %s in the wrong casing" % layout, ["lldb-%s-wrong-casing" % layout],
                             _one_frame(crash), {}))
    # ranking (test_ranking_debug_info_then_symbols_then_breakpad): its three stages
    stripped = os.path.join(base, "libtwo.stripped")
    subprocess.run(["strip", "--strip-debug", str(crash.src / "libtwo.so"), "-o", stripped], check=True)
    bp = _breakpad_sym(crash, "libtwo.so")
    for stage, parts in (("symbols beat Breakpad", ("exe", "sym")), ("debug info beats both", ("exe", "sym", "dbg")),
                         ("Breakpad alone", ("sym",))):
        root = os.path.join(base, "ranking", stage.split()[0])
        if "exe" in parts:
            _put(root, ".build-id/%s/%s" % (b[:2], b[2:]), open(stripped, "rb").read())
        if "dbg" in parts:
            _put(root, ".build-id/%s/%s.debug" % (b[:2], b[2:]), debug.read_bytes())
        _put(root, "libtwo.so/%s/libtwo.so.sym" % bp.split()[3], bp.encode())  # (the line's debug id)
        store("lldb-ranking-" + stage.split()[0], root)
        requests.append(("lldb ranking: " + stage, ["lldb-ranking-" + stage.split()[0]], _one_frame(crash), {}))
    o = crash.ids["libone.so"]
    root = os.path.join(base, "rejected")
    _put(root, ".build-id/%s/%s.debug" % (b[:2], b[2:]),
         (crash.buildid / ".build-id" / o[:2] / (o[2:] + ".debug")).read_bytes())
    store("lldb-rejected", root)
    requests.append(("lldb rejected candidate", ["lldb-rejected"], _one_frame(crash), {}))
    # the system store on the request's own paths; an address no function covers
    one = _one_frame(crash)
    sys_own = system("lldb-system-own-files", [], True, one["modules"])
    requests.append(("lldb system store: the module's own file", [sys_own], one, {}))
    header = _one_frame(crash)
    header["stacktraces"][0]["frames"] = [{"instruction_addr": header["modules"][0]["image_addr"]}]
    requests.append(("lldb system store: missing symbol", [sys_own], header, {}))
    # address modes (test_address_adjustment_and_modes)
    mod = _module(crash, "libtwo.so")
    start = int(mod["image_addr"], 16)
    ret = [f["addr"] for f in crash.frames if f["module"] == "libtwo.so" and not f["inlined"]][-1]
    frames = [{"instruction_addr": hex(ret)}, {"instruction_addr": hex(ret)},
              {"instruction_addr": hex(ret), "trust": "context"},
              {"instruction_addr": ret - start, "addr_mode": "rel:0"},
              {"instruction_addr": hex(ret), "adjust_instruction_addr": False}]
    requests.append(("lldb address modes", ["lldb-buildid"], {"modules": [mod], "stacktraces": [{"frames": frames}]},
                     {}))
    requests.append(("lldb caller first", ["lldb-buildid"], {"modules": [mod], "stacktraces": [
        {"frames": frames[:2][::-1]}], "options": {"frame_order": "caller_first"}}, {}))
    # bad inputs (test_bad_inputs; its million-frame request is "too many frames" above)
    addr = hex([f["addr"] for f in crash.frames if f["module"] == "libtwo.so"][0])
    requests.append(("lldb bad inputs", ["lldb-buildid"], {
        "modules": [mod, {"type": "coff", "image_addr": "0x10", "image_size": 16},
                    dict(_module(crash, "libone.so"), image_addr=hex(start + 16)), dict(mod, image_addr=None),
                    dict(mod, image_addr="0x1", image_size=None), dict(mod, image_addr="0xZZ")],
        "threads": [{"frames": [{"instruction_addr": addr}, {"instruction_addr": "0xZZ"}, {"instruction_addr": -5},
                                {"instruction_addr": "0x" + "f" * 17},
                                {"instruction_addr": addr, "addr_mode": "rel:99"}, "frame",
                                {"instruction_addr": "0x12"}]}]}, {}))
    # .gnu_debuglink with its CRC (test_debuglink_with_crc): beside, in .debug/, under a debug dir
    link = b[2:] + ".debug"
    for where in ("beside", ".debug", "debug_dir"):
        for good in (True, False):
            top = os.path.join(base, "debuglink", "%s-%s" % (where.strip("."), "good" if good else "bad"))
            bindir = os.path.join(top, "bin")
            shutil.copytree(str(crash.bin), bindir)
            gdebug = os.path.join(top, "gdebug")
            dst = {"beside": os.path.join(bindir, link), ".debug": os.path.join(bindir, ".debug", link),
                   "debug_dir": os.path.join(gdebug, bindir.lstrip("/"), link)}[where]
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            Path(dst).write_bytes(debug.read_bytes() + (b"" if good else b"\0"))
            req = _one_frame(crash)
            req["modules"][0].update(code_file=os.path.join(bindir, "libtwo.so"),
                                     debug_file=os.path.join(bindir, "libtwo.so"))
            name = system("lldb-debuglink-%s-%s" % (where, good), [gdebug], True, req["modules"])
            requests.append(("lldb debuglink %s, %s CRC" % (where, "good" if good else "bad"), [name], req, {}))
    # a damaged debug file (test_malformed_debug_file_remembered)
    data = bytearray(debug.read_bytes())
    out = subprocess.run(["readelf", "-SW", str(debug)], check=True, capture_output=True, text=True).stdout
    sec = [line for line in out.splitlines() if " .debug_info " in line][0].split("]")[1].split()
    off = int(sec[3], 16)
    data[off : off + 4] = b"\0\0\0\0"
    root = os.path.join(base, "malformed")
    _put(root, ".build-id/%s/%s.debug" % (b[:2], b[2:]), bytes(data))
    store("lldb-malformed", root)
    requests.append(("lldb damaged debug file", ["lldb-malformed"], _one_frame(crash), {}))
    # the multi-threaded dump of test_stackwalk.py: with the system store, and with no store
    rel = os.path.relpath(str(dump), outdir).replace(os.sep, "/")
    from pysym._symbolicate._minidump import minidump_modules

    dump_modules = minidump_modules(pysym.Minidump.from_path(str(dump)))
    sys_dump = system("lldb-dump-system", ["/usr/lib/debug"], True, dump_modules)
    dumps = [(rel, [sys_dump], "crash/lldb-dump-system.json"), (rel, [], "crash/lldb-dump-nostores.json")]
    # the crasher of test_minidump.py (lldb's 720-byte contexts, four threads)
    sys.path.insert(0, tests)
    try:
        from test_minidump import CRASHER
    finally:
        sys.path.remove(tests)
    d = os.path.join(base, "crasher")
    _put(d, "crasher.c", CRASHER.encode())
    subprocess.run(["gcc", "-g", "-O1", "-o", "crasher", "crasher.c", "-lpthread"], cwd=d, check=True)
    save = "process save-core --plugin-name=minidump --style stack crasher.dmp"
    subprocess.run(["lldb-14", "-b", "-o", "run", "-k", save, "-k", "kill", os.path.join(d, "crasher")], cwd=d,
                   capture_output=True, timeout=120)
    crasher = os.path.relpath(os.path.join(d, "crasher.dmp"), outdir).replace(os.sep, "/")
    sys_crasher = system("lldb-crasher-system", ["/usr/lib/debug"], True,
                         minidump_modules(pysym.Minidump.from_path(os.path.join(d, "crasher.dmp"))))
    dumps += [(crasher, [sys_crasher], "crash/lldb-crasher-system.json"),
              (crasher, [], "crash/lldb-crasher-nostores.json")]
    return {"requests": requests, "minidumps": dumps}


def _cut_dump(outdir: str, name: str, cut: int) -> str:
    import pysym

    with open(os.path.join(ROOT, MINIDUMPS, name), "rb") as f:
        data = f.read()[:cut]
    try:
        resp: Any = pysym.Symbolicator([]).process_minidump(data)
    except pysym.PysymError as e:
        resp = {"error": type(e).__name__}
    out = "crash/%s-%d.json" % (name[: -len(".dmp")], cut)
    with open(os.path.join(outdir, out), "w", encoding="utf-8") as f:
        json.dump(resp, f)
    return out


def write(outdir: str) -> None:
    os.makedirs(os.path.join(outdir, "cli"), exist_ok=True)
    maps = {}
    for path in fixture_maps():
        with open(os.path.join(ROOT, path), "rb") as f:
            maps[path] = dump_map(f.read())
    with open(os.path.join(outdir, "maps.json"), "w", encoding="utf-8") as f:
        json.dump(maps, f, ensure_ascii=False)
    index = {"traces": {}, "lookup": {}}  # type: Dict[str, Any]
    for trace in TRACES:
        base = os.path.basename(trace)
        for key, extra in CONTEXTS.items():
            name = "%s.%s.txt" % (base, key)
            with open(os.path.join(outdir, "cli", name), "w", encoding="utf-8") as f:
                f.write(_cli(["symbolicate-js", "--maps", "examples"] + extra + [trace]))
            index["traces"].setdefault(trace, {})[key] = "cli/" + name
        name = "%s.json.jsonl" % base
        with open(os.path.join(outdir, "cli", name), "w", encoding="utf-8") as f:
            f.write(_cli(["symbolicate-js", "--maps", "examples", "--json", trace]))
        index["traces"][trace]["json"] = "cli/" + name
    for bias in ("glb", "lub"):
        name = "lookup.%s.jsonl" % bias
        with open(os.path.join(outdir, "cli", name), "w", encoding="utf-8") as f:
            f.write(_cli(["sourcemap", "lookup", "--bias", bias, "examples/app.min.js.map"] + LOOKUP_POSITIONS))
        index["lookup"][bias] = {"map": "examples/app.min.js.map", "positions": LOOKUP_POSITIONS, "file": "cli/" + name}
    index["native"] = write_native(outdir)
    index["crash"] = write_crash(outdir, index["native"])
    with open(os.path.join(outdir, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)


if __name__ == "__main__":
    write(sys.argv[1])
