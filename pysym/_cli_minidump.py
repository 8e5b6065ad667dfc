"""``pysym minidump stackwalk``: a minidump walked and symbolicated, printed in the shape
of ``minidump-stackwalk`` (header, crash reason and address, per thread the frames with
``module!function [file : line + offset]``, the first frame's registers, "Found by")."""

from __future__ import annotations

import argparse
import json
from typing import IO, Any, Dict

from ._cli_stores import add_store_arguments, stores_of

# Registers of these CPUs are 32 bits wide (minidump-stackwalk prints them with 8 digits).
_32BIT = frozenset(["x86", "arm", "ppc", "mips", "sparc"])
_FOUND_BY = {
    "context": "given as instruction pointer in context",
    "cfi": "call frame info",
    "fp": "previous frame's frame pointer",
    "scan": "stack scanning",
}


def add_parser(sub: Any) -> None:
    md = sub.add_parser("minidump", help="walk and symbolicate minidumps", description="Work with minidumps.")
    md.set_defaults(usage_parser=md)
    md_sub = md.add_subparsers(dest="minidump_command", metavar="SUBCOMMAND")
    sw = md_sub.add_parser("stackwalk", help="walk every thread's stack and symbolicate it",
                           description="Walk a minidump's stacks (CFI, frame pointers, stack scanning) "
                           "and symbolicate them with the debug files in the stores.")
    sw.add_argument("dump", metavar="DUMP", help="the minidump")
    add_store_arguments(sw)
    sw.add_argument("--cache", metavar="DIR", help="keep built symcaches and CFI caches in DIR")
    out = sw.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the response JSON (Symbolicator's /minidump shape)")
    out.add_argument("--brief", action="store_true", help="the crashing thread's frames only, no registers")
    sw.set_defaults(func=cmd_stackwalk)


def cmd_stackwalk(args: argparse.Namespace, out: IO[str]) -> int:
    from ._symbolicate import Symbolicator

    sym = Symbolicator(stores_of(args), cache_dir=args.cache)
    response = sym.process_minidump(args.dump)
    if args.json:
        json.dump(response, out, indent=2)
        out.write("\n")
        return 0
    write_human(response, out, brief=args.brief)
    return 0


def _name(path: Any) -> str:
    return str(path or "").replace("\\", "/").rsplit("/", 1)[-1] or "?"


def write_human(r: Dict[str, Any], out: IO[str], *, brief: bool = False) -> None:
    si = r["system_info"]
    if not brief:
        out.write("Operating system: %s\n" % (si["os_name"] or "unknown"))
        out.write("                  %s %s\n" % (si["os_version"], si["os_build"]))
        out.write("CPU: %s\n\n" % si["cpu_arch"])
    if r["crashed"]:
        out.write("Crash reason:  %s\n" % r["crash_reason"])
        out.write("Crash address: %s\n" % r["crash_address"])
    else:
        out.write("No crash\n")
    if r.get("crash_details"):
        out.write("Crash details: %s\n" % r["crash_details"])
    if r.get("assertion"):
        out.write("Assertion: %s\n" % r["assertion"])
    out.write("\n")
    modules = {m.get("image_addr"): m for m in r["modules"] if isinstance(m, dict)}
    starts = sorted((int(a, 16), m) for a, m in modules.items() if a)
    for ti, st in enumerate(r["stacktraces"]):
        if brief and not st.get("is_requesting"):
            continue
        out.write("Thread %d%s%s\n" % (ti, " (crashed)" if st.get("is_requesting") else "",
                                        " %s" % st["thread_name"] if st.get("thread_name") else ""))
        frames = st["frames"]
        for k, f in enumerate(frames):
            idx = f["original_index"]
            first = k == 0 or frames[k - 1]["original_index"] != idx
            last = k + 1 == len(frames) or frames[k + 1]["original_index"] != idx
            addr = int(f.get("instruction_addr", "0x0"), 16)
            mod = None
            for base, m in starts:
                if base <= addr:
                    mod = (base, m)
            module = _name(f.get("package")) if f.get("package") else (_name(mod[1].get("code_file")) if mod else "")
            lead = "%2d  " % idx if first else "    "
            if f["status"] == "symbolicated":
                off = addr - int(f["sym_addr"], 16) if f.get("sym_addr") else 0
                where = ""
                if f.get("filename"):
                    where = " [%s : %s + 0x%x]" % (f["filename"], f.get("lineno") or "?", off)
                inl = "" if last else "(inlined) "
                out.write("%s%s%s!%s%s\n" % (lead, inl, module, f.get("function") or "?", where))
            elif mod is not None and f["status"] != "unknown_image":
                out.write("%s%s + 0x%x\n" % (lead, module, addr - mod[0]))
            else:
                out.write("%s0x%x\n" % (lead, addr))
            if not last:
                continue
            if idx == 0 and not brief:
                regs = list(st.get("registers", {}).items())
                form = "%s = 0x%08x" if si["cpu_arch"] in _32BIT else "%s = 0x%016x"
                for i in range(0, len(regs), 4):
                    out.write("    " + "  ".join(form % (n, int(v, 16)) for n, v in regs[i : i + 4]) + "\n")
            if not brief:
                out.write("    Found by: %s\n" % _FOUND_BY.get(f.get("trust", ""), f.get("trust", "?")))
        if st.get("walk_stopped"):
            out.write("    (walk stopped: %s)\n" % st["walk_stopped"])
        out.write("\n")
    if not brief:
        out.write("Loaded modules:\n")
        for m in r["modules"]:
            if not isinstance(m, dict):
                continue
            out.write("%s - %s  %s  (debug: %s, unwind: %s)\n" % (
                m.get("image_addr"), _name(m.get("code_file")), m.get("debug_id") or m.get("code_id") or "",
                m.get("debug_status"), m.get("unwind_status")))
