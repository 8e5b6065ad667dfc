"""Prints what a minidump holds, read field by field with `struct` from Microsoft's
MINIDUMP_* layouts: the independent reading the expected values of the Rust tests
(wasm/core/src/minidump/tests.rs) were taken from.  Usage: python describe.py FILE.dmp
"""

import struct
import sys
import uuid

NUL = bytes(1)


def main(path: str) -> None:
    d = open(path, "rb").read()
    u32 = lambda o: struct.unpack_from("<I", d, o)[0]  # noqa: E731
    u64 = lambda o: struct.unpack_from("<Q", d, o)[0]  # noqa: E731

    def mdstring(rva: int) -> str:
        n = u32(rva)
        return d[rva + 4 : rva + 4 + n].decode("utf-16-le", "replace")

    def utf8(rva: int) -> bytes:
        return d[rva + 4 : rva + 4 + u32(rva)]

    n, rva = u32(8), u32(12)
    streams = {}
    for i in range(n):
        t, size, off = struct.unpack_from("<III", d, rva + 12 * i)
        streams.setdefault(t, (off, size))
    print("streams", [hex(t) for t in streams])
    if 7 in streams:
        o = streams[7][0]
        arch, level, rev, ncpu, ptype, ma, mi, build, plat, csd = struct.unpack_from("<HHHBBIIIII", d, o)
        print("system", arch, level, rev, ncpu, ptype, (ma, mi, build), hex(plat), repr(mdstring(csd)) if csd else None)
        print("  vendor", d[o + 32 : o + 44])
    if 4 in streams:
        o, size = streams[4]
        count = u32(o)
        print("modules", count, "stream", size)
        for i in range(count):
            m = o + 4 + 108 * i
            base, sz, ck, ts, name = struct.unpack_from("<QIIII", d, m)
            cvs, cvr = u32(m + 76), u32(m + 80)
            cv = d[cvr : cvr + cvs]
            ident = ""
            if cv[:4] == b"RSDS":
                g = uuid.UUID(bytes_le=cv[4:20])
                age = u32(cvr + 20)
                pdb = cv[24:].split(NUL)[0]
                ident = f"RSDS {g} age {age} {pdb!r}"
            elif cv[:4] == b"NB10":
                pdb = cv[16:].split(NUL)[0]
                ident = f"NB10 sig {u32(cvr + 8):#x} age {u32(cvr + 12)} {pdb!r}"
            elif cv[:4] == b"LEpB":
                ident = f"BpEL {cv[4:].hex()}"
            print(f"  {i} {base:#x} {sz:#x} ts={ts:#x} {mdstring(name)!r} {ident}")
    if 3 in streams:
        o = streams[3][0]
        for i in range(u32(o)):
            t = o + 4 + 48 * i
            tid = u32(t)
            sbase, ssize, srva, csize, crva = struct.unpack_from("<QIIII", d, t + 24)
            flags0 = u32(crva)
            print(f"  thread {tid} stack {sbase:#x}+{ssize:#x}@{srva:#x} ctx {csize}@{crva:#x} flags0 {flags0:#x}")
            if csize == 716:
                print("    eip", hex(u32(crva + 184)), "esp", hex(u32(crva + 196)), "ebp", hex(u32(crva + 180)))
            elif csize == 1232:
                print(
                    "    flags",
                    hex(u32(crva + 48)),
                    "rip",
                    hex(u64(crva + 248)),
                    "rsp",
                    hex(u64(crva + 152)),
                    "rbp",
                    hex(u64(crva + 160)),
                )
    if 6 in streams:
        o = streams[6][0]
        tid, _, code, flags, rec, addr, nparam = struct.unpack_from("<IIIIQQI", d, o)
        params = struct.unpack_from("<15Q", d, o + 40)[:nparam]
        print(
            "exception thread",
            tid,
            hex(code),
            hex(flags),
            hex(addr),
            [hex(p) for p in params],
            "ctx",
            u32(o + 160),
            hex(u32(o + 164)),
        )
    if 5 in streams:
        o = streams[5][0]
        rs = [struct.unpack_from("<QII", d, o + 4 + 16 * i) for i in range(u32(o))]
        print("memory", len(rs), [(hex(b), s, hex(r)) for b, s, r in rs[:4]])
    if 15 in streams:
        o = streams[15][0]
        size, f1, pid, ct, ut, kt = struct.unpack_from("<6I", d, o)
        print("misc", size, hex(f1), pid, ct, ut, kt, struct.unpack_from("<3I", d, o + 24) if size >= 44 else "")
        if size >= 832:
            print(
                "  build",
                d[o + 232 : o + 752].decode("utf-16-le").split("\0")[0],
                "|",
                d[o + 752 : o + 832].decode("utf-16-le").split("\0")[0],
            )
    if 0x47670001 in streams:
        print("breakpad", struct.unpack_from("<III", d, streams[0x47670001][0]))
    if 24 in streams:
        o = streams[24][0]
        for i in range(u32(o)):
            tid, r = struct.unpack_from("<IQ", d, o + 4 + 12 * i)
            print("  name", tid, repr(mdstring(r)))
    if 0x47670002 in streams:
        o = streams[0x47670002][0]
        print(
            "assertion",
            [d[o + 256 * k : o + 256 * k + 256].decode("utf-16-le").split("\0")[0] for k in range(3)],
            struct.unpack_from("<II", d, o + 768),
        )
    if 0x43500001 in streams:
        o = streams[0x43500001][0]
        print("crashpad v", u32(o), uuid.UUID(bytes_le=d[o + 4 : o + 20]), uuid.UUID(bytes_le=d[o + 20 : o + 36]))
        ds, dr = u32(o + 36), u32(o + 40)
        if ds:
            for i in range(u32(dr)):
                k, v = struct.unpack_from("<II", d, dr + 4 + 8 * i)
                print("  simple", utf8(k), utf8(v))
        ms, mr = u32(o + 44), u32(o + 48)
        if ms:
            for i in range(u32(mr)):
                idx, ls, lr = struct.unpack_from("<III", d, mr + 4 + 12 * i)
                print("  module", idx, ls, hex(lr), "version", u32(lr))
                la, lar = u32(lr + 4), u32(lr + 8)
                if la:
                    print("    list", [utf8(u32(lar + 4 + 4 * j)) for j in range(u32(lar))])
                sa, sar = u32(lr + 12), u32(lr + 16)
                if sa:
                    for j in range(u32(sar)):
                        k, v = struct.unpack_from("<II", d, sar + 4 + 8 * j)
                        print("    simple", utf8(k), utf8(v))
                aa, aar = u32(lr + 20), u32(lr + 24)
                if aa:
                    for j in range(u32(aar)):
                        nm, ty, _, vr = struct.unpack_from("<IHHI", d, aar + 4 + 12 * j)
                        print("    object", utf8(nm), hex(ty), utf8(vr)[:60])
    for t, name in [(0x47670005, "lsb"), (0x47670009, "maps"), (0x47670003, "cpuinfo")]:
        if t in streams:
            o, s = streams[t]
            text = d[o : o + s].decode("utf-8", "replace")
            print(name, len(text.splitlines()), "lines:", repr(text[:200]))
    if 0x47670008 in streams:
        o, s = streams[0x47670008]
        print("auxv", [(hex(a), hex(b)) for a, b in struct.iter_unpack("<QQ", d[o : o + s])][:6])


if __name__ == "__main__":
    main(sys.argv[1])
