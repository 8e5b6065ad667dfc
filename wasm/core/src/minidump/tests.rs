//! Expected values come from reading the fixtures' bytes with
//! `tests/data/minidump/describe.py` (an independent `struct` reading), and from the
//! Breakpad symbol directories shipped with them (the debug ids).

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/data/minidump/{}", env!("CARGO_MANIFEST_DIR"), name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {}", path, e))
}

fn reg(c: &Option<Context>, name: &str) -> Option<u64> {
    c.as_ref().and_then(|c| c.get(name))
}

/// The Breakpad symbol-store form of a debug id: uppercase, no dashes, age in hex.
fn breakpad_form(id: &str) -> String {
    let parts: Vec<&str> = id.split('-').collect();
    let age = if parts.len() == 6 { parts[5] } else { "0" };
    format!("{}{}", parts[..5].concat(), age).to_uppercase()
}

#[test]
fn windows_x86() {
    let data = fixture("test.dmp");
    let md = parse(&data[..]).unwrap();
    assert!(md.warnings.is_empty(), "{:?}", md.warnings);
    assert_eq!(md.streams.len(), 9);
    let si = md.system_info.as_ref().unwrap();
    assert_eq!((si.cpu, si.os, si.os_version), (Cpu::X86, "windows", (5, 1, 2600)));
    assert_eq!(
        (si.processor_level, si.processor_revision, si.processor_count),
        (6, 3336, 1)
    );
    assert_eq!(si.csd_version.as_deref(), Some("Service Pack 2"));
    assert_eq!(si.cpu_vendor.as_deref(), Some("GenuineIntel"));

    assert_eq!(md.modules.len(), 13);
    let m = &md.modules[0];
    assert_eq!((m.base, m.size, m.timestamp), (0x400000, 0x2d000, 0x45d35f6c));
    assert_eq!(m.code_file, "c:\\test_app.exe");
    assert_eq!(m.debug_file, "c:\\test_app.pdb");
    assert_eq!(m.codeview, CodeView::Pdb70);
    assert_eq!(m.debug_id, "5a9832e5-2872-41c1-838e-d98914e9b7ff-1");
    // The directory its Breakpad symbols are stored under.
    assert_eq!(breakpad_form(&m.debug_id), "5A9832E5287241C1838ED98914E9B7FF1");
    assert_eq!(m.code_id, "45D35F6C2d000");
    let ntdll = &md.modules[1];
    assert_eq!(ntdll.code_file, "C:\\WINDOWS\\system32\\ntdll.dll");
    assert_eq!(
        (ntdll.debug_file.as_str(), ntdll.debug_id.as_str()),
        ("ntdll.pdb", "36515fb5-d043-45e4-91f6-72fa2e2878c0-2")
    );
    assert_eq!(ntdll.code_id, "411096B4b0000");
    assert_eq!(
        md.module_at(0x7c90eb94).map(|m| m.debug_file.as_str()),
        Some("ntdll.pdb")
    );

    let ids: Vec<u32> = md.threads.iter().map(|t| t.id).collect();
    assert_eq!(ids, [3060, 4544]);
    let t = &md.threads[0];
    let ctx = t.context.as_ref().unwrap();
    assert_eq!((ctx.layout, ctx.flags, ctx.size), ("x86", 0x1003f, 716));
    assert_eq!(
        (ctx.pc(), ctx.sp(), ctx.get("ebp")),
        (Some(0x7c90eb94), Some(0x12f320), Some(0x12f384))
    );
    assert_eq!(
        t.stack,
        Some(MemoryRange {
            base: 0x12f31c,
            size: 0xce4,
            file_offset: 0x1639
        })
    );
    assert_eq!(reg(&md.threads[1].context, "eip"), Some(0x7c90eb94));
    assert_eq!(reg(&md.threads[1].context, "esp"), Some(0x97f6ec));

    let e = md.exception.as_ref().unwrap();
    assert_eq!(
        (e.thread_id, e.code, e.flags, e.address),
        (3060, 0xc0000005, 0, 0x40429e)
    );
    assert_eq!(e.parameters, [1, 0x45]);
    assert_eq!(e.reason, "EXCEPTION_ACCESS_VIOLATION_WRITE");
    assert_eq!(
        (reg(&e.context, "eip"), reg(&e.context, "esp")),
        (Some(0x40429e), Some(0x12fe84))
    );
    assert_eq!(md.crashed_thread(), Some(0));

    let bases: Vec<(u64, u64)> = md.memory.iter().map(|m| (m.base, m.size)).collect();
    assert_eq!(bases, [(0x12f31c, 3300), (0x97f6e8, 2328), (0x7c90eb14, 256)]);
    // The bytes at ntdll's pc, read from the file only now.
    assert_eq!(
        md.read_memory(&data[..], 0x7c90eb94, 8),
        Some(&[0xc3, 0x8d, 0xa4, 0x24, 0, 0, 0, 0][..])
    );
    assert_eq!(md.read_memory(&data[..], 0x7c90eb14 + 250, 8), None);

    let misc = md.misc_info.as_ref().unwrap();
    assert_eq!((misc.size, misc.flags, misc.process_id), (24, 3, Some(3932)));
    assert_eq!(misc.process_times, Some((1171480435, 0, 0)));
    assert_eq!(
        md.breakpad_info,
        Some(BreakpadInfo {
            dump_thread_id: Some(4544),
            requesting_thread_id: Some(3060)
        })
    );
}

#[test]
fn linux_x86_64() {
    let data = fixture("linux-mini.dmp");
    let md = parse(&data[..]).unwrap();
    assert!(md.warnings.is_empty(), "{:?}", md.warnings);
    let si = md.system_info.as_ref().unwrap();
    assert_eq!((si.cpu, si.os, si.processor_count), (Cpu::X86_64, "linux", 4));
    assert_eq!(
        si.csd_version.as_deref(),
        Some("Linux 4.9.60-linuxkit-aufs #1 SMP Mon Nov 6 16:00:12 UTC 2017 x86_64")
    );

    assert_eq!(md.modules.len(), 8);
    let m = &md.modules[0];
    assert_eq!((m.base, m.size), (0x400000, 0x1a000));
    assert_eq!(
        (m.code_file.as_str(), m.debug_file.as_str()),
        ("/work/linux/build/crash", "crash")
    );
    assert_eq!(m.codeview, CodeView::Elf);
    assert_eq!(m.code_id, "f1c3bcc0279865fe3058404b2831d9e64135386c");
    // As pysym names the ELF file itself (native::identity): GUID order, age 0.
    assert_eq!(m.debug_id, "c0bcc3f1-9827-fe65-3058-404b2831d9e6");
    assert_eq!(md.modules[7].code_file, "linux-gate.so");
    // The maps stream has the executable at 0x400000-0x41a000 (its size in the module
    // list), then its data at 0x619000-0x61b000: the extent covers both.
    assert_eq!((md.modules[0].size, md.modules[0].extent), (0x1a000, 0x21b000));
    assert_eq!(md.module_at(0x61a010).map(|m| m.debug_file.as_str()), Some("crash"));

    assert_eq!(md.threads.len(), 1);
    let ctx = md.threads[0].context.as_ref().unwrap();
    assert_eq!((ctx.layout, ctx.flags), ("amd64", 0x10000b));
    assert_eq!(
        (ctx.pc(), ctx.sp(), ctx.get("rbp")),
        (Some(0x401d72), Some(0x7fff5ae4aa20), Some(0x7fff5ae4abb0))
    );
    // SEGMENTS (4) is not in the flags.
    assert_eq!(ctx.get("ds"), None);
    assert!(ctx.get("cs").is_some());

    let e = md.exception.as_ref().unwrap();
    assert_eq!((e.thread_id, e.code, e.flags, e.address), (1304, 11, 0, 0x45));
    assert_eq!(e.reason, "SIGSEGV");
    assert_eq!(md.crashed_thread(), Some(0));
    assert_eq!(md.memory.len(), 2);

    let l = &md.linux;
    assert_eq!(l.lsb_release.len(), 4);
    assert_eq!(l.lsb_release[0], ("DISTRIB_ID".to_string(), "Ubuntu".to_string()));
    assert_eq!(
        l.lsb_release[3],
        ("DISTRIB_DESCRIPTION".to_string(), "Ubuntu 16.04.3 LTS".to_string())
    );
    assert_eq!(l.maps.len(), 35);
    assert_eq!(
        l.maps[0],
        MapEntry {
            start: 0x400000,
            end: 0x41a000,
            perms: "r-xp".into(),
            offset: 0,
            inode: 8612374361,
            path: "/work/linux/build/crash".into()
        }
    );
    assert!(l
        .cpu_info
        .as_deref()
        .unwrap()
        .starts_with("processor\t: 0\nvendor_id\t: GenuineIntel\n"));
    assert_eq!(l.auxv[..3], [(0x21, 0x7fff5aef1000), (0x10, 0x9f8bfbff), (0x6, 0x1000)]);
}

#[test]
fn crashpad_macos() {
    let data = fixture("simple-crashpad.dmp");
    let md = parse(&data[..]).unwrap();
    assert!(md.warnings.is_empty(), "{:?}", md.warnings);
    let si = md.system_info.as_ref().unwrap();
    assert_eq!(
        (si.cpu, si.os, si.os_version, si.processor_count),
        (Cpu::X86_64, "macos", (10, 15, 7), 12)
    );
    assert_eq!(si.csd_version.as_deref(), Some("19H114"));
    // Crashpad fills the other member of the CPU union: no vendor string.
    assert_eq!(si.cpu_vendor, None);

    assert_eq!(md.modules.len(), 40);
    let m = &md.modules[0];
    assert_eq!(
        (m.code_file.as_str(), m.debug_file.as_str()),
        ("/Users/ted/src/crashy", "crashy")
    );
    assert_eq!(m.debug_id, "ef1091e3-81da-369b-9039-ea1591d07e0b");
    assert_eq!(m.code_id, "ef1091e381da369b9039ea1591d07e0b");
    assert_eq!(md.modules[16].code_file, "/usr/lib/system/libsystem_c.dylib");

    assert_eq!(md.threads.len(), 1);
    assert_eq!(reg(&md.threads[0].context, "rip"), Some(0x7fff6f41333a));
    let e = md.exception.as_ref().unwrap();
    assert_eq!((e.thread_id, e.code, e.address), (927532, 0, 0x7fff6f41333a));
    assert_eq!(e.parameters, [0xa, 0x6000000, 0]);
    assert_eq!(e.reason, "EXC_CRASH / SIGABRT");

    let misc = md.misc_info.as_ref().unwrap();
    assert_eq!((misc.size, misc.flags, misc.process_id), (832, 0x147, Some(56685)));
    assert_eq!(misc.processor_mhz, Some((2600, 2600, 0)));
    let (build, dbg) = misc.build_string.clone().unwrap();
    assert!(
        build.starts_with("Mac OS X 10.15.7 (19H114); Darwin 19.6.0"),
        "{}",
        build
    );
    assert_eq!(dbg, "crashpad.amd64,0.8.0,mac,100900,101500");

    let c = md.crashpad_info.as_ref().unwrap();
    assert_eq!(c.version, 1);
    assert_eq!(c.report_id, "42f9de72-518a-43dd-97d7-8ddc328d3662");
    assert_eq!(c.client_id, "6fd2b3b9-9833-4b2f-bbf7-0bcf501bad7e");
    assert_eq!(c.simple_annotations, [("hello".to_string(), "world".to_string())]);
    let mods: Vec<(u32, Vec<String>)> = c
        .modules
        .iter()
        .map(|m| (m.module_index, m.list_annotations.clone()))
        .collect();
    assert_eq!(
        mods,
        [
            (16, vec!["abort() called".to_string()]),
            (39, vec!["dyld2 mode".to_string()])
        ]
    );
}

#[test]
fn macos_thread_names_and_bare_context_flags() {
    let data = fixture("pipeline-inlines-macos-segv.dmp");
    let md = parse(&data[..]).unwrap();
    assert!(md.warnings.is_empty(), "{:?}", md.warnings);
    assert_eq!(md.modules.len(), 47);
    let m = &md.modules[0];
    assert_eq!(m.debug_file, "crash-client");
    // The directory its .sym is stored under in the fixture set.
    assert_eq!(breakpad_form(&m.debug_id), "509C0610949836F7B70BD88BCF03E5400");
    assert_eq!(md.threads.len(), 11);
    assert_eq!(md.threads[0].name.as_deref(), Some("main"));
    assert_eq!(md.threads[1].name.as_deref(), Some(""));
    // Every context has flags 0x100000 (the CPU bit alone): read as all saved.
    let ctx = md.threads[0].context.as_ref().unwrap();
    assert_eq!(ctx.flags, 0x100000);
    assert_eq!((ctx.pc(), ctx.sp()), (Some(0x102a68cd4), Some(0x7ffeed1aa9b0)));
    assert_eq!(reg(&md.threads[1].context, "rbp"), Some(0x700007c6fe90));
    let e = md.exception.as_ref().unwrap();
    assert_eq!(
        (e.thread_id, e.code, e.flags, e.address),
        (4611, 1, 1, 0xffffffff80000042)
    );
    assert_eq!(e.reason, "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS");
    assert_eq!(
        md.breakpad_info,
        Some(BreakpadInfo {
            dump_thread_id: Some(3843),
            requesting_thread_id: Some(4611)
        })
    );
    assert_eq!(md.memory.len(), 12);
    assert_eq!(md.misc_info.as_ref().map(|m| m.process_id), Some(Some(80556)));
}

#[test]
fn windows_amd64_assertion() {
    let data = fixture("invalid-parameter.dmp");
    let md = parse(&data[..]).unwrap();
    assert!(md.warnings.is_empty(), "{:?}", md.warnings);
    let si = md.system_info.as_ref().unwrap();
    assert_eq!((si.cpu, si.os, si.os_version), (Cpu::X86_64, "windows", (10, 0, 17134)));
    assert_eq!(si.csd_version.as_deref(), Some(""));
    assert_eq!((md.modules.len(), md.threads.len()), (31, 6));
    let e = md.exception.as_ref().unwrap();
    assert_eq!((e.thread_id, e.code), (5896, 0xc000000d));
    assert_eq!(e.reason, "STATUS_INVALID_PARAMETER");
    let a = md.assertion.as_ref().unwrap();
    assert_eq!(
        (a.expression.as_str(), a.function.as_str()),
        ("format != nullptr", "common_vfprintf")
    );
    assert_eq!(
        (a.file.as_str(), a.line, a.kind),
        ("minkernel\\crts\\ucrt\\src\\appcrt\\stdio\\output.cpp", 32, 1)
    );
    let misc = md.misc_info.as_ref().unwrap();
    assert_eq!((misc.size, misc.process_id), (1364, Some(6256)));
    assert_eq!(
        misc.build_string.as_ref().map(|b| b.1.as_str()),
        Some("dbgcore.amd64,10.0.17134.1")
    );
    assert_eq!(reg(&md.threads[1].context, "rbp"), Some(0xffffffffffffffff));
    assert_eq!(md.memory.len(), 10);
}

#[test]
fn malformed_fixtures_give_partial_results() {
    // The directory at RVA 2 overlaps the header; its "streams" point anywhere.
    let md = parse(&fixture("invalid-range.dmp")[..]).unwrap();
    assert_eq!(md.streams.len(), 4);
    assert!(
        md.warnings.iter().any(|w| w.contains("LinuxMaps stream")),
        "{:?}",
        md.warnings
    );
    // 16 directory entries of garbage types, sizes and RVAs (2^32 - 1): none is a
    // stream pysym reads, so nothing is read from them.
    let md = parse(&fixture("invalid-record-count.dmp")[..]).unwrap();
    assert_eq!(md.streams.len(), 16);
    assert_eq!(
        md.streams[13],
        StreamInfo {
            kind: u32::MAX,
            offset: u32::MAX,
            size: u32::MAX
        }
    );
    assert!(md.system_info.is_none() && md.threads.is_empty() && md.modules.is_empty() && md.exception.is_none());
}

#[test]
fn not_a_minidump() {
    let e = parse(&b"hello world, this is not a dump at all"[..]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedObject);
    let e = parse(&b"MDMP\x93\xa7\0\0"[..]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidObject);
    assert!(e.message().contains("truncated"), "{}", e.message());
    let e = parse(&b"PMDM\0\0\xa7\x93\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"[..]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedObject);
}

/// Writes synthetic dumps: streams are appended after the directory.
struct Builder {
    streams: Vec<(u32, Vec<u8>)>,
}

const HEADER: usize = 32;

impl Builder {
    fn new() -> Self {
        Builder { streams: Vec::new() }
    }

    fn stream(mut self, kind: u32, data: Vec<u8>) -> Self {
        self.streams.push((kind, data));
        self
    }

    /// The RVA stream `i`'s data will have.
    fn rva_of(&self, i: usize) -> u32 {
        let mut at = HEADER + 12 * self.streams.len().max(i + 1);
        for s in &self.streams[..i] {
            at += s.1.len();
        }
        at as u32
    }

    /// `sizes` overrides declared sizes.
    fn build_with(&self, sizes: &[(usize, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&SIGNATURE.to_le_bytes());
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.streams.len() as u32).to_le_bytes());
        out.extend_from_slice(&(HEADER as u32).to_le_bytes());
        out.extend_from_slice(&[0; 16]);
        for (i, (kind, data)) in self.streams.iter().enumerate() {
            let size = sizes
                .iter()
                .find(|s| s.0 == i)
                .map(|s| s.1)
                .unwrap_or(data.len() as u32);
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&self.rva_of(i).to_le_bytes());
        }
        for (_, data) in &self.streams {
            out.extend_from_slice(data);
        }
        out
    }

    fn build(&self) -> Vec<u8> {
        self.build_with(&[])
    }
}

fn le32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn le64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn system_info(arch: u16, platform: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&arch.to_le_bytes());
    v.extend_from_slice(&[0; 6]);
    le32(&mut v, 0);
    le32(&mut v, 0);
    le32(&mut v, 0);
    le32(&mut v, platform);
    v.resize(56, 0);
    v
}

/// A thread list whose entries point at contexts placed right after the list, the
/// list itself being at `rva`.
fn thread_list(rva: u32, contexts: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    le32(&mut v, contexts.len() as u32);
    let mut at = rva + 4 + 48 * contexts.len() as u32;
    for (i, c) in contexts.iter().enumerate() {
        le32(&mut v, 100 + i as u32);
        v.extend_from_slice(&[0; 20]);
        v.extend_from_slice(&[0; 16]); // no stack
        le32(&mut v, c.len() as u32);
        le32(&mut v, at);
        at += c.len() as u32;
    }
    for c in contexts {
        v.extend_from_slice(c);
    }
    v
}

fn put(v: &mut [u8], at: usize, x: u64, width: usize) {
    v[at..at + width].copy_from_slice(&x.to_le_bytes()[..width]);
}

fn dump_with_contexts(arch: u16, contexts: &[Vec<u8>]) -> Minidump {
    let b = Builder::new()
        .stream(stream::SYSTEM_INFO, system_info(arch, 0x8201))
        .stream(stream::THREAD_LIST, Vec::new());
    let rva = b.rva_of(1);
    let b = Builder {
        streams: vec![b.streams[0].clone(), (stream::THREAD_LIST, thread_list(rva, contexts))],
    };
    parse(&b.build()[..]).unwrap()
}

#[test]
fn arm64_contexts_new_and_old() {
    // Windows/Crashpad layout: CONTROL | INTEGER.
    let mut new = vec![0u8; 912];
    put(&mut new, 0, 0x0040_0003, 4);
    put(&mut new, 4, 0x6000_0000, 4);
    for i in 0..31 {
        put(&mut new, 8 + 8 * i, 0x1000 + i as u64, 8);
    }
    put(&mut new, 256, 0x7ff0_0000, 8);
    put(&mut new, 264, 0x4000_1234, 8);
    // Breakpad's old layout: 64-bit flags, registers all under INTEGER, cpsr after pc.
    let mut old = vec![0u8; 792];
    put(&mut old, 0, 0x8000_0002, 8);
    for i in 0..31 {
        put(&mut old, 8 + 8 * i, 0x2000 + i as u64, 8);
    }
    put(&mut old, 256, 0x7fe0_0000, 8);
    put(&mut old, 264, 0x4000_5678, 8);
    put(&mut old, 272, 0x8000_0000, 4);
    // Only CONTROL: x0..x28 are not valid.
    let mut control = new.clone();
    put(&mut control, 0, 0x0040_0001, 4);
    let md = dump_with_contexts(12, &[new, old, control]);
    assert!(md.warnings.is_empty(), "{:?}", md.warnings);
    let c = md.threads[0].context.as_ref().unwrap();
    assert_eq!((c.cpu, c.layout), (Cpu::Arm64, "arm64"));
    assert_eq!(
        (c.get("x0"), c.get("x28"), c.get("fp"), c.get("lr")),
        (Some(0x1000), Some(0x1000 + 28), Some(0x1000 + 29), Some(0x1000 + 30))
    );
    assert_eq!(
        (c.sp(), c.pc(), c.get("cpsr")),
        (Some(0x7ff0_0000), Some(0x4000_1234), Some(0x6000_0000))
    );
    let c = md.threads[1].context.as_ref().unwrap();
    assert_eq!((c.layout, c.flags), ("arm64_old", 0x8000_0002));
    assert_eq!((c.get("x3"), c.get("fp")), (Some(0x2003), Some(0x2000 + 29)));
    assert_eq!(
        (c.sp(), c.pc(), c.get("cpsr")),
        (Some(0x7fe0_0000), Some(0x4000_5678), Some(0x8000_0000))
    );
    let c = md.threads[2].context.as_ref().unwrap();
    assert_eq!((c.get("x0"), c.pc()), (None, Some(0x4000_1234)));
    assert_eq!(c.registers.len(), 5);
}

#[test]
fn arm_and_x86_contexts() {
    let mut arm = vec![0u8; 368];
    put(&mut arm, 0, 0x4000_0002, 4);
    for i in 0..16 {
        put(&mut arm, 4 + 4 * i, 0x100 + i as u64, 4);
    }
    put(&mut arm, 68, 0x10, 4);
    let md = dump_with_contexts(5, &[arm]);
    let c = md.threads[0].context.as_ref().unwrap();
    assert_eq!((c.cpu, c.get("r0"), c.get("r12")), (Cpu::Arm, Some(0x100), Some(0x10c)));
    assert_eq!(
        (c.sp(), c.get("lr"), c.pc(), c.get("cpsr")),
        (Some(0x10d), Some(0x10e), Some(0x10f), Some(0x10))
    );

    // x86 with CONTROL only: no integer registers.
    let mut x86 = vec![0u8; 716];
    put(&mut x86, 0, 0x0001_0001, 4);
    put(&mut x86, 184, 0x401000, 4);
    put(&mut x86, 176, 0xdead, 4);
    let md = dump_with_contexts(0, &[x86]);
    let c = md.threads[0].context.as_ref().unwrap();
    assert_eq!((c.pc(), c.get("eax")), (Some(0x401000), None));
}

#[test]
fn truncated_contexts() {
    // lldb's 720-byte x86_64 context: registers whole, the flagged FP state cut.
    let mut lldb = vec![0u8; 720];
    put(&mut lldb, 48, 0x0010_000b, 4);
    put(&mut lldb, 248, 0x5555_0000, 8);
    put(&mut lldb, 152, 0x7ffc_0000, 8);
    // 200 bytes flagged CONTROL|INTEGER: rip (at 248) and the high registers are lost.
    let mut short = vec![0u8; 200];
    put(&mut short, 48, 0x0010_0003, 4);
    put(&mut short, 152, 0x7ffd_0000, 8);
    let tiny = vec![1u8, 2];
    // Found by the fuzzer: 8 bytes on an x86_64 system (the flags are at 48) was an
    // out-of-bounds read, a trap in the module.
    let before_flags = vec![0u8; 8];
    let md = dump_with_contexts(9, &[lldb, short, tiny, before_flags]);
    let c = md.threads[0].context.as_ref().unwrap();
    assert_eq!((c.pc(), c.sp(), c.size), (Some(0x5555_0000), Some(0x7ffc_0000), 720));
    let c = md.threads[1].context.as_ref().unwrap();
    assert_eq!(
        (c.sp(), c.pc(), c.get("r9"), c.get("r10")),
        (Some(0x7ffd_0000), None, Some(0), None)
    );
    assert!(c.get("rax").is_some());
    assert!(md.threads[2].context.is_none());
    let w = md.warnings.join("\n");
    assert!(
        w.contains("thread 100: context is 720 bytes: the flagged floating-point state (to byte 768) is cut"),
        "{}",
        w
    );
    assert!(
        w.contains("thread 101: context is 200 bytes: flagged registers from r10 on are missing"),
        "{}",
        w
    );
    assert!(w.contains("thread 102: context of 2 bytes"), "{}", w);
    assert!(md.threads[3].context.is_none());
    assert!(
        w.contains("thread 103: amd64 context of 8 bytes ends before its flags"),
        "{}",
        w
    );
}

fn memory_list(entries: &[(u64, u32, u32)]) -> Vec<u8> {
    let mut v = Vec::new();
    le32(&mut v, entries.len() as u32);
    for &(base, size, rva) in entries {
        le64(&mut v, base);
        le32(&mut v, size);
        le32(&mut v, rva);
    }
    v
}

#[test]
fn memory_overlapping_and_outside() {
    // The list's size does not depend on the RVAs: place it, then point into the payload.
    let payload = Builder {
        streams: vec![
            (stream::MEMORY_LIST, memory_list(&[(0, 0, 0); 5])),
            (0xffff, vec![0xab; 64]),
        ],
    }
    .rva_of(1);
    let entries = [
        (0x1000, 32, payload),
        (0x1010, 16, payload + 32),  // overlaps the first
        (0x2000, 16, 0x7fff_0000),   // data outside the file
        (0x3000, 48, payload + 32),  // runs 16 bytes past the end of the file
        (u64::MAX - 4, 16, payload), // wraps
    ];
    let b = Builder {
        streams: vec![(stream::MEMORY_LIST, memory_list(&entries)), (0xffff, vec![0xab; 64])],
    };
    let data = b.build();
    let md = parse(&data[..]).unwrap();
    let got: Vec<(u64, u64)> = md.memory.iter().map(|m| (m.base, m.size)).collect();
    assert_eq!(got, [(0x1000, 32), (0x3000, 32)]);
    let w = md.warnings.join("\n");
    assert!(w.contains("overlaps"), "{}", w);
    assert!(w.contains("outside the file"), "{}", w);
    assert!(w.contains("cut from 48 to 32 bytes"), "{}", w);
    assert!(w.contains("wraps around"), "{}", w);
    assert_eq!(md.read_memory(&data[..], 0x1008, 8), Some(&[0xab; 8][..]));
    assert_eq!(md.read_memory(&data[..], 0x1fff, 2), None);
}

#[test]
fn counts_past_the_end_and_huge_sizes() {
    // Thread count 2^32 - 1 with two entries present; declared size 2^32 - 1.
    let mut threads = thread_list(0, &[vec![], vec![]]);
    put(&mut threads, 0, 0xffff_ffff, 4);
    let mut modules = Vec::new();
    le32(&mut modules, 1000);
    modules.resize(4 + 108, 0);
    let b = Builder::new()
        .stream(stream::MODULE_LIST, modules)
        .stream(stream::MISC_INFO, vec![0; 24])
        .stream(stream::THREAD_LIST, threads);
    let data = b.build_with(&[(1, u32::MAX), (2, u32::MAX)]);
    let md = parse(&data[..]).unwrap();
    assert_eq!((md.threads.len(), md.modules.len()), (2, 1));
    assert!(md.misc_info.is_some());
    let w = md.warnings.join("\n");
    assert!(
        w.contains("ThreadList stream: 4294967295 entries declared, only 2 are in the file"),
        "{}",
        w
    );
    assert!(
        w.contains("ModuleList stream: 1000 entries declared, only 1 are in the stream"),
        "{}",
        w
    );
    assert!(w.contains("MiscInfo stream: 4294967295 bytes declared"), "{}", w);

    // A directory of 2^32 - 1 entries in a 44-byte file.
    let mut d = Builder::new().stream(stream::MISC_INFO, vec![]).build();
    put(&mut d, 8, 0xffff_ffff, 4);
    let md = parse(&d[..]).unwrap();
    assert_eq!(md.streams.len(), 1);
    assert!(
        md.warnings[0].contains("4294967295 streams declared"),
        "{:?}",
        md.warnings
    );
}

#[test]
fn hundred_thousand_threads_are_bounded() {
    let n = 100_000u32;
    let mut v = Vec::with_capacity(4 + 48 * n as usize);
    le32(&mut v, n);
    for i in 0..n {
        le32(&mut v, i);
        v.extend_from_slice(&[0; 44]);
    }
    let data = Builder::new().stream(stream::THREAD_LIST, v).build();
    let md = parse(&data[..]).unwrap();
    let limits = Limits::default();
    assert_eq!(md.threads.len(), limits.max_threads as usize);
    // One warning per context-less thread, capped, then a count of the rest.
    assert_eq!(md.warnings.len(), limits.max_warnings as usize + 1);
    assert!(
        md.warnings[0].contains("only the first 65536 kept"),
        "{}",
        md.warnings[0]
    );
    assert!(md.warnings.last().unwrap().ends_with("more warnings left out"));
}

fn counted(v: &mut Vec<u8>, s: &[u8]) {
    le32(v, s.len() as u32);
    v.extend_from_slice(s);
    v.push(0);
}

#[test]
fn crashpad_annotation_objects() {
    // Laid out by hand after the stream: module list, module info, annotation list, strings.
    let base = Builder::new().stream(stream::CRASHPAD_INFO, vec![]).rva_of(0);
    let mut s = vec![0u8; 52];
    put(&mut s, 0, 1, 4);
    let list_at = base as usize + 52;
    let mut tail = Vec::new();
    // MinidumpModuleCrashpadInfoList: one link, to module 3.
    le32(&mut tail, 1);
    le32(&mut tail, 3);
    le32(&mut tail, 28);
    le32(&mut tail, (list_at + 16) as u32);
    // MinidumpModuleCrashpadInfo: version, three locations; only annotation objects.
    let info_at = list_at + 16;
    let objects_at = info_at + 28;
    tail.extend_from_slice(&1u32.to_le_bytes());
    tail.extend_from_slice(&[0; 16]);
    le32(&mut tail, 4 + 2 * 12);
    le32(&mut tail, objects_at as u32);
    // MinidumpAnnotationList of two: a string and an application-defined blob.
    let strings_at = objects_at + 4 + 2 * 12;
    let mut strings = Vec::new();
    let mut at = |text: &[u8]| {
        let rva = strings_at + strings.len();
        counted(&mut strings, text);
        rva as u32
    };
    let (n1, v1, n2, v2) = (at(b"channel"), at(b"beta"), at(b"blob"), at(&[1, 2, 0xff]));
    le32(&mut tail, 2);
    for (n, kind, v) in [(n1, 1u16, v1), (n2, 0x8001, v2)] {
        le32(&mut tail, n);
        tail.extend_from_slice(&kind.to_le_bytes());
        tail.extend_from_slice(&[0, 0]);
        le32(&mut tail, v);
    }
    tail.extend_from_slice(&strings);
    put(&mut s, 44, 16, 4);
    put(&mut s, 48, list_at as u64, 4);
    s.extend_from_slice(&tail);
    let data = Builder::new().stream(stream::CRASHPAD_INFO, s).build_with(&[(0, 52)]);
    let md = parse(&data[..]).unwrap();
    assert!(md.warnings.is_empty(), "{:?}", md.warnings);
    let c = md.crashpad_info.unwrap();
    assert_eq!(c.modules.len(), 1);
    assert_eq!(c.modules[0].module_index, 3);
    assert_eq!(
        c.modules[0].annotation_objects,
        [
            Annotation {
                name: "channel".into(),
                kind: 1,
                value: "beta".into()
            },
            Annotation {
                name: "blob".into(),
                kind: 0x8001,
                value: "0102ff".into()
            }
        ]
    );
}

#[test]
fn reasons() {
    assert_eq!(
        crash_reason("windows", 0xc0000005, 0, &[0, 0x10]),
        "EXCEPTION_ACCESS_VIOLATION_READ"
    );
    assert_eq!(
        crash_reason("windows", 0xc0000005, 0, &[8, 0x10]),
        "EXCEPTION_ACCESS_VIOLATION_EXEC"
    );
    assert_eq!(crash_reason("windows", 0xc00000fd, 0, &[]), "EXCEPTION_STACK_OVERFLOW");
    assert_eq!(crash_reason("windows", 0x12345678, 0, &[]), "0x12345678");
    assert_eq!(crash_reason("linux", 11, 1, &[]), "SIGSEGV / SEGV_MAPERR");
    assert_eq!(crash_reason("android", 7, 2, &[]), "SIGBUS / BUS_ADRERR");
    assert_eq!(crash_reason("linux", 8, 1, &[]), "SIGFPE / FPE_INTDIV");
    assert_eq!(crash_reason("linux", 6, (-6i32) as u32, &[]), "SIGABRT / SI_TKILL");
    assert_eq!(crash_reason("linux", 0xffffffff, 0, &[]), "DUMP_REQUESTED");
    assert_eq!(crash_reason("linux", 77, 0, &[]), "signal 77");
    assert_eq!(
        crash_reason("macos", 1, 2, &[]),
        "EXC_BAD_ACCESS / KERN_PROTECTION_FAILURE"
    );
    assert_eq!(crash_reason("ios", 6, 0, &[]), "EXC_BREAKPOINT");
}

/// Every byte flipped somewhere in every fixture: parsing never panics, and the
/// warnings stay bounded.
#[test]
fn mutations_never_panic() {
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for name in [
        "test.dmp",
        "linux-mini.dmp",
        "simple-crashpad.dmp",
        "invalid-parameter.dmp",
    ] {
        let orig = fixture(name);
        for _ in 0..300 {
            let mut d = orig.clone();
            for _ in 0..1 + next() % 8 {
                // Mostly the structures at the front, where the counts and RVAs are.
                let span = if next() % 4 == 0 { d.len() } else { d.len().min(4096) };
                let at = (next() % span as u64) as usize;
                d[at] = match next() % 3 {
                    0 => 0xff,
                    1 => 0,
                    _ => next() as u8,
                };
            }
            if let Ok(md) = parse(&d[..]) {
                assert!(md.warnings.len() <= 257);
            }
        }
    }
}

/// A 1 GiB full-memory dump read through a ranged reader: only its structures are read.
#[test]
fn full_memory_dump_is_not_copied() {
    use std::io::{Read, Seek, SeekFrom};
    const SIZE: u64 = 1 << 30;
    struct Virtual {
        head: Vec<u8>,
        pos: u64,
        read: std::rc::Rc<std::cell::Cell<u64>>,
    }
    impl Read for Virtual {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = (buf.len() as u64).min(SIZE.saturating_sub(self.pos)) as usize;
            for (i, b) in buf[..n].iter_mut().enumerate() {
                let p = self.pos as usize + i;
                *b = if p < self.head.len() {
                    self.head[p]
                } else {
                    (p % 251) as u8
                };
            }
            self.pos += n as u64;
            self.read.set(self.read.get() + n as u64);
            Ok(n)
        }
    }
    impl Seek for Virtual {
        fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
            self.pos = match to {
                SeekFrom::Start(o) => o,
                SeekFrom::End(d) => (SIZE as i64 + d) as u64,
                SeekFrom::Current(d) => (self.pos as i64 + d) as u64,
            };
            Ok(self.pos)
        }
    }
    // Memory64List: 4092 ranges of 256 KiB, back to back from 1 MiB to the end.
    let ranges = 4092u64;
    let mut m = Vec::new();
    le64(&mut m, ranges);
    le64(&mut m, 1 << 20);
    for i in 0..ranges {
        le64(&mut m, 0x7f00_0000_0000 + i * (1 << 18));
        le64(&mut m, 1 << 18);
    }
    let head = Builder::new().stream(stream::MEMORY64_LIST, m).build();
    let read = std::rc::Rc::new(std::cell::Cell::new(0));
    let cache = object::ReadCache::new(Virtual {
        head,
        pos: 0,
        read: read.clone(),
    });
    let md = parse(&cache).unwrap();
    assert!(md.warnings.is_empty(), "{:?}", md.warnings);
    assert_eq!(md.memory.len(), ranges as usize);
    let last = md.memory.last().unwrap();
    assert_eq!(last.file_offset + last.size, SIZE);
    assert!(read.get() < 256 << 10, "read {} bytes", read.get());
    // One range's bytes on request.
    let addr = 0x7f00_0000_0000 + 4091 * (1 << 18) + 10;
    let off = last.file_offset + 10;
    let want: Vec<u8> = (off..off + 4).map(|p| (p % 251) as u8).collect();
    assert_eq!(md.read_memory(&cache, addr, 4), Some(&want[..]));
}

/// Found by the fuzzer: 65536 Crashpad annotations all pointing at one 20 KB string made
/// 2.6 GB of string copies (1.5 s natively, a timeout in the module); the total string
/// budget bounds it.
#[test]
fn many_entries_pointing_at_one_long_string() {
    let n = 60_000u32;
    let base = Builder::new().stream(stream::CRASHPAD_INFO, vec![]).rva_of(0);
    let mut s = vec![0u8; 52];
    put(&mut s, 0, 1, 4);
    let dict_at = base + 52;
    let string_at = dict_at + 4 + 8 * n;
    put(&mut s, 36, (4 + 8 * n) as u64, 4);
    put(&mut s, 40, dict_at as u64, 4);
    le32(&mut s, n);
    for _ in 0..n {
        le32(&mut s, string_at);
        le32(&mut s, string_at);
    }
    counted(&mut s, &[b'a'; 20_000]);
    let data = Builder::new().stream(stream::CRASHPAD_INFO, s).build_with(&[(0, 52)]);
    let limits = Limits {
        max_string_total: 1 << 20,
        ..Limits::default()
    };
    let md = parse_with(&data[..], &limits).unwrap();
    let c = md.crashpad_info.unwrap();
    // 1 MiB holds 52 strings of 20,000 bytes: 26 pairs.
    assert_eq!(c.simple_annotations.len(), 26);
    assert!(
        md.warnings.iter().any(|w| w.contains("strings exceed 1048576 bytes")),
        "{:?}",
        md.warnings
    );
}

#[test]
fn extents_from_maps() {
    let map = |start: u64, end: u64, path: &str| MapEntry {
        start,
        end,
        perms: "r-xp".into(),
        offset: 0,
        inode: 1,
        path: path.into(),
    };
    let module = |base: u64, size: u32, path: &str| Module {
        base,
        size,
        extent: size as u64,
        checksum: 0,
        timestamp: 0,
        code_file: path.into(),
        code_id: String::new(),
        debug_file: String::new(),
        debug_id: String::new(),
        codeview: CodeView::None,
        version: None,
    };
    let maps = vec![
        map(0x2000, 0x3000, "/b"),
        map(0x1000, 0x1800, "/a"),
        map(0x1800, 0x4000, "/a"),
        map(0x500, 0x900, "/a"), // before the module's base: not its image
        map(0x9000, 0x9100, "/b"),
        map(0x8000, 0x8000, "/c"), // empty
    ];
    let mut mods = vec![
        module(0x1000, 0x100, "/a"),
        module(0x2000, 0x2000, "/b"),
        module(0x8000, 0x10, "/c"),
        module(0x100, 1, "/d"),
    ];
    module_extents(&mut mods, &maps);
    let got: Vec<u64> = mods.iter().map(|m| m.extent).collect();
    assert_eq!(got, [0x3000, 0x7100, 0x10, 1]);
}

#[test]
fn json_document() {
    let md = parse(&fixture("test.dmp")[..]).unwrap();
    let j = md.to_json();
    assert!(j.starts_with("{\"timestamp\":"), "{}", &j[..40]);
    assert!(j.contains(r#""code_file":"c:\\test_app.exe","code_id":"45D35F6C2d000","debug_file":"c:\\test_app.pdb","debug_id":"5a9832e5-2872-41c1-838e-d98914e9b7ff-1""#));
    assert!(j.contains(r#"["eip","0x7c90eb94"]"#));
    assert!(j.contains(r#""crashed_thread":0,"#));
    assert!(j.ends_with(r#""warnings":[]}"#));
    let mut odd = Minidump::default();
    odd.warnings.push("a \"b\"\u{1}\n".to_string());
    assert!(
        odd.to_json().ends_with(r#""warnings":["a \"b\"\u0001\n"]}"#),
        "{}",
        odd.to_json()
    );
}

/// `PYSYM_TEST_MINIDUMP=path cargo test -p pysym-core --lib -- --ignored minidump::tests::dump --nocapture`
#[test]
#[ignore]
fn dump() {
    let data = std::fs::read(std::env::var("PYSYM_TEST_MINIDUMP").unwrap()).unwrap();
    let t = std::time::Instant::now();
    let md = parse(&data[..]).unwrap();
    println!("parsed in {:?}", t.elapsed());
    println!("{:#?}", md.system_info);
    for m in &md.modules {
        println!(
            "{:#x} {:#x} {} {} {} {}",
            m.base, m.size, m.code_file, m.debug_file, m.debug_id, m.code_id
        );
    }
    for t in &md.threads {
        println!(
            "thread {} {:?} {:?} {:?}",
            t.id,
            t.name,
            t.stack,
            t.context.as_ref().map(|c| (c.layout, c.flags, c.size, c.pc(), c.sp()))
        );
    }
    println!(
        "{:?}",
        md.exception.as_ref().map(|e| (e.thread_id, &e.reason, e.address))
    );
    println!(
        "memory {} ranges, {} info; maps {}",
        md.memory.len(),
        md.memory_info.len(),
        md.linux.maps.len()
    );
    println!("{:?}", md.misc_info);
    println!("warnings {:#?}", md.warnings);
}
