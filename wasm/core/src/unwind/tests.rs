use super::postfix::{run, Vars};
use super::walk::{walk, Trust, WalkLimits};
use super::*;
use crate::minidump::{Context, Cpu, MemoryRange, Minidump, Module, Thread};
use crate::native::source::RefSource;

fn module(base: u64, size: u64) -> Module {
    Module {
        base,
        size: size as u32,
        extent: size,
        checksum: 0,
        timestamp: 0,
        code_file: format!("/m{:x}", base),
        code_id: String::new(),
        debug_file: String::new(),
        debug_id: String::new(),
        codeview: crate::minidump::CodeView::None,
        version: None,
    }
}

/// A one-thread x86_64 dump: `stack` saved at `sp`, the given registers.
fn dump(stack_base: u64, stack_len: u64, regs: Vec<(&'static str, u64)>, modules: Vec<Module>) -> Minidump {
    let range = MemoryRange {
        base: stack_base,
        size: stack_len,
        file_offset: 0,
    };
    Minidump {
        threads: vec![Thread {
            id: 1,
            suspend_count: 0,
            priority_class: 0,
            priority: 0,
            teb: 0,
            stack: Some(range),
            context: Some(Context {
                cpu: Cpu::X86_64,
                layout: "amd64",
                flags: 0,
                size: 0,
                registers: regs,
            }),
            name: None,
        }],
        modules,
        memory: vec![range],
        ..Default::default()
    }
}

fn put(stack: &mut [u8], at: usize, v: u64) {
    stack[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn cache_round_trip_with_gaps_and_overlaps() {
    let mut b = CfiBuilder::new(Arch::X86_64, 100);
    b.add_rules(
        0x100,
        0x200,
        0,
        vec![(CFA, Rule::RegPlus(7, 16)), (RA, Rule::AtCfa(-8))],
    );
    b.add_rules(
        0x200,
        0x240,
        0,
        vec![(CFA, Rule::RegPlus(7, 8)), (RA, Rule::AtCfa(-8)), (6, Rule::AtCfa(-16))],
    );
    // .debug_frame's row for the same code loses to .eh_frame's.
    b.add_rules(0x100, 0x200, 1, vec![(CFA, Rule::RegPlus(6, 16))]);
    // Same rules again, far away: stored once.
    b.add_rules(
        0x1000,
        0x1010,
        0,
        vec![(CFA, Rule::RegPlus(7, 16)), (RA, Rule::AtCfa(-8))],
    );
    b.add_code(0x100, 0x300);
    let bytes = b.finish();
    let c = CfiCache::parse(&bytes).unwrap();
    assert_eq!(c.arch(), Arch::X86_64);
    assert_eq!(
        c.find(0x100),
        Some(Found::Rules(vec![(RA, Rule::AtCfa(-8)), (CFA, Rule::RegPlus(7, 16))]))
    );
    assert_eq!(c.find(0x1ff), c.find(0x100));
    assert!(matches!(c.find(0x23f), Some(Found::Rules(r)) if r.len() == 3));
    assert_eq!(c.find(0x240), None);
    assert_eq!(c.find(0xff), None);
    assert_eq!(c.find(0x1010), None);
    assert_eq!(c.find(0x1008), c.find(0x100));
    assert_eq!(c.is_code(0x2ff), Some(true));
    assert_eq!(c.is_code(0x300), Some(false));
    // Two rule sets of 2 and 3 rules: the repeated set is shared.
    assert_eq!(u32::from_le_bytes(bytes[16..20].try_into().unwrap()), 5);
}

#[test]
fn damaged_caches_are_refused_or_empty() {
    let bytes = CfiBuilder::new(Arch::X86_64, 10).finish();
    assert!(CfiCache::parse(&bytes).unwrap().is_empty());
    assert!(CfiCache::parse(&bytes[..20]).is_err());
    let mut other = bytes.clone();
    other[4] = 9;
    assert!(CfiCache::parse(&other).unwrap_err().message().contains("version 9"));
    let mut b = CfiBuilder::new(Arch::X86_64, 10);
    b.add_rules(0, 0x10, 0, vec![(CFA, Rule::RegPlus(7, 8))]);
    let good = b.finish();
    // Every byte flipped: parse and find never panic.
    for i in 0..good.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= x;
            if let Ok(c) = CfiCache::parse(&bad) {
                for a in [0u64, 8, 0x10, u64::MAX] {
                    let _ = c.find(a);
                    let _ = c.is_code(a);
                }
            }
        }
    }
}

#[test]
fn breakpad_stack_cfi_and_win() {
    let sym = b"MODULE mac x86_64 0123456789ABCDEF0123456789ABCDEF0 t\n\
FUNC 1000 20 0 f\n\
1000 20 1 1\n\
STACK CFI INIT 1000 20 .cfa: $rsp 8 + .ra: .cfa -8 + ^\n\
STACK CFI 1001 .cfa: $rsp 16 + $rbp: .cfa -16 + ^\n\
STACK CFI 1004 .cfa: $rbp 16 +\n\
STACK CFI INIT 2000 10 .cfa: $rsp 8 + .ra: .cfa 8 - ^ $rbx: $rsp 4 * 2 /\n\
STACK CFI INIT zz 10 .cfa: $rsp 8 +\n\
STACK CFI INIT 3000 10 .cfa: $nosuch 8 +\n";
    let built = build::from_breakpad(&mut RefSource::new(&sym[..]).unwrap()).unwrap();
    // The bad address is skipped; an unknown register makes an expression that fails
    // when evaluated.
    assert_eq!(
        built.warnings,
        vec!["1 STACK records skipped (first: line 8)".to_string()]
    );
    let c = CfiCache::parse(&built.bytes).unwrap();
    assert_eq!(c.arch(), Arch::X86_64);
    assert_eq!(
        c.find(0x1000),
        Some(Found::Rules(vec![(RA, Rule::AtCfa(-8)), (CFA, Rule::RegPlus(7, 8))]))
    );
    assert_eq!(
        c.find(0x1002),
        Some(Found::Rules(vec![
            (6, Rule::AtCfa(-16)),
            (RA, Rule::AtCfa(-8)),
            (CFA, Rule::RegPlus(7, 16))
        ]))
    );
    assert_eq!(
        c.find(0x101f),
        Some(Found::Rules(vec![
            (6, Rule::AtCfa(-16)),
            (RA, Rule::AtCfa(-8)),
            (CFA, Rule::RegPlus(6, 16))
        ]))
    );
    assert_eq!(c.find(0x1020), None);
    assert!(matches!(c.find(0x3000), Some(Found::Rules(r)) if matches!(r[0], (CFA, Rule::Expr(..)))));
    match c.find(0x2000) {
        Some(Found::Rules(r)) => {
            assert!(r.contains(&(RA, Rule::AtCfa(-8))));
            let expr = r.iter().find(|x| x.0 == 3).map(|x| x.1);
            match expr {
                Some(Rule::Expr(at, len)) => assert_eq!(c.string(at, len), Some("$rsp 4 * 2 /")),
                other => panic!("{:?}", other),
            }
        }
        other => panic!("{:?}", other),
    }

    let win = b"MODULE windows x86 0123456789ABCDEF0123456789ABCDEF1 t.pdb\n\
STACK WIN 4 1000 30 5 0 8 4 10 0 1 $T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =\n\
STACK WIN 0 1000 30 5 0 8 4 10 0 0 1\n\
STACK WIN 0 2000 10 0 0 4 0 0 0 0 0\n";
    let built = build::from_breakpad(&mut RefSource::new(&win[..]).unwrap()).unwrap();
    let c = CfiCache::parse(&built.bytes).unwrap();
    assert_eq!(c.arch(), Arch::X86);
    match c.find(0x1010) {
        Some(Found::Win(rec, prog)) => {
            assert_eq!(
                (rec.parameter_size, rec.saved_register_size, rec.local_size, rec.flags),
                (8, 4, 0x10, 2)
            );
            assert_eq!(prog, "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =");
        }
        other => panic!("{:?}", other),
    }
    assert!(matches!(c.find(0x2000), Some(Found::Win(r, "")) if r.flags == 0 && r.parameter_size == 4));
}

#[test]
fn postfix_programs() {
    let mut vars = Vars::default();
    vars.set("$esp", 0x100).unwrap();
    vars.set("$ebp", 0x200).unwrap();
    let mut mem = |a: u64| Some(a + 1);
    let r = run(
        "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =",
        &mut vars,
        &mut mem,
        u32::MAX as u64,
    );
    assert_eq!(r, Some(None));
    assert_eq!(
        (vars.get("$eip"), vars.get("$ebp"), vars.get("$esp")),
        (Some(0x205), Some(0x201), Some(0x208))
    );
    assert_eq!(run("$esp 8 - 16 @", &mut vars, &mut mem, u64::MAX), Some(Some(0x200)));
    // Errors: an unknown name, division by zero, a stack underflow, an assignment to a number.
    for bad in ["$nope 1 +", "1 0 /", "+", "1 2 =", "3 3 @"] {
        assert_eq!(run(bad, &mut vars, &mut mem, u64::MAX), None, "{}", bad);
    }
    // A long program ends, with a bounded stack.
    let long = "1 ".repeat(100_000);
    assert_eq!(run(&long, &mut vars, &mut mem, u64::MAX), None);
}

fn cfi_module() -> Vec<u8> {
    let mut b = CfiBuilder::new(Arch::X86_64, 100);
    // f: CFA = rsp + 16; g: CFA = rsp + 8; h: the outermost frame.
    b.add_rules(
        0x100,
        0x200,
        0,
        vec![(CFA, Rule::RegPlus(7, 16)), (RA, Rule::AtCfa(-8))],
    );
    b.add_rules(0x200, 0x300, 0, vec![(CFA, Rule::RegPlus(7, 8)), (RA, Rule::AtCfa(-8))]);
    b.add_rules(0x300, 0x400, 0, vec![(CFA, Rule::RegPlus(7, 8)), (RA, Rule::Undefined)]);
    b.add_code(0, 0x1000);
    b.finish()
}

#[test]
fn walks_by_cfi_to_the_outermost_frame() {
    let mut stack = vec![0u8; 0x100];
    put(&mut stack, 0x08, 0x1250); // f's return address into g
    put(&mut stack, 0x10, 0x1350); // g's return address into h
    let md = dump(
        0x8000,
        0x100,
        vec![("rip", 0x1150), ("rsp", 0x8000), ("rbp", 0)],
        vec![module(0x1000, 0x1000)],
    );
    let cache = cfi_module();
    let c = CfiCache::parse(&cache).unwrap();
    let w = walk(&md, &stack[..], &[Some(c)], &WalkLimits::default());
    let t = &w.threads[0];
    let got: Vec<(u64, u64, Trust)> = t.frames.iter().map(|f| (f.pc, f.sp, f.trust)).collect();
    assert_eq!(
        got,
        vec![
            (0x1150, 0x8000, Trust::Context),
            (0x1250, 0x8010, Trust::Cfi),
            (0x1350, 0x8018, Trust::Cfi)
        ]
    );
    assert_eq!(t.stop, "end");
    assert!(t.frames.iter().all(|f| f.module == Some(0)));
}

#[test]
fn falls_back_to_frame_pointer_then_scan() {
    let mut stack = vec![0u8; 0x200];
    // Frame pointer chain: rbp = 0x8040 -> [saved rbp 0x8080, ra 0x2010]; then a saved
    // rbp that is no frame pointer (not a zero record: that would end the walk).
    put(&mut stack, 0x40, 0x8080);
    put(&mut stack, 0x48, 0x2010);
    put(&mut stack, 0x80, 0x7);
    // Past the chain: a word pointing into module 1's code for the scan.
    put(&mut stack, 0x90, 0x5); // not in a module
    put(&mut stack, 0x98, 0x2020);
    let md = dump(
        0x8000,
        0x200,
        vec![("rip", 0x2000), ("rsp", 0x8000), ("rbp", 0x8040)],
        vec![module(0x1000, 0x1000), module(0x2000, 0x1000)],
    );
    let w = walk(&md, &stack[..], &[None, None], &WalkLimits::default());
    let got: Vec<(u64, Trust)> = w.threads[0].frames.iter().map(|f| (f.pc, f.trust)).collect();
    assert_eq!(
        got[..3],
        [
            (0x2000, Trust::Context),
            (0x2010, Trust::FramePointer),
            (0x2020, Trust::Scan)
        ]
    );
    assert_eq!(w.threads[0].frames[1].module, Some(1));
}

#[test]
fn zero_frame_record_or_restored_zero_frame_pointer_ends_the_walk() {
    // rbp = 0x8040 -> [saved rbp, ra 0x2010]; a code pointer above for a scan to find.
    for saved in [0x8080u64, 0] {
        let mut stack = vec![0u8; 0x200];
        put(&mut stack, 0x40, saved);
        put(&mut stack, 0x48, 0x2010);
        put(&mut stack, 0x98, 0x2020);
        let md = dump(
            0x8000,
            0x200,
            vec![("rip", 0x2000), ("rsp", 0x8000), ("rbp", 0x8040)],
            vec![module(0x2000, 0x1000)],
        );
        let w = walk(&md, &stack[..], &[None], &WalkLimits::default());
        let got: Vec<(u64, Trust)> = w.threads[0].frames.iter().map(|f| (f.pc, f.trust)).collect();
        // 0x8080 holds a zero frame pointer and a zero return address; 0 is a frame
        // pointer restored from the stack: either way the caller of 0x2010 is no one.
        assert_eq!(
            got,
            [(0x2000, Trust::Context), (0x2010, Trust::FramePointer)],
            "saved rbp {:#x}",
            saved
        );
        assert_eq!(w.threads[0].stop, "end");
    }
    // A zero rbp in the context itself is any register value: the scan goes on.
    let mut stack = vec![0u8; 0x200];
    put(&mut stack, 0x98, 0x2020);
    let md = dump(
        0x8000,
        0x200,
        vec![("rip", 0x2000), ("rsp", 0x8000), ("rbp", 0)],
        vec![module(0x2000, 0x1000)],
    );
    let w = walk(&md, &stack[..], &[None], &WalkLimits::default());
    let got: Vec<(u64, Trust)> = w.threads[0].frames.iter().map(|f| (f.pc, f.trust)).collect();
    assert_eq!(got[..2], [(0x2000, Trust::Context), (0x2020, Trust::Scan)]);
}

#[test]
fn macos_first_frame_record_ends_the_walk() {
    // The layout of pipeline-inlines-macos-segv.dmp's main thread: main (CFI: CFA = rbp + 16)
    // returns to libdyld's start (no CFI); above the return address dyld left its local
    // holding the same address, then its `pushq $0` frame record over argc (5).
    let mut stack = vec![0u8; 0x100];
    put(&mut stack, 0x70, 0x8088); // main's saved rbp
    put(&mut stack, 0x78, 0x2f3d); // main's return address into libdyld
    put(&mut stack, 0x80, 0x2f3d); // dyld's stale local
    put(&mut stack, 0x88, 0); // the outermost frame record's saved rbp
    put(&mut stack, 0x90, 5); // argc
    let mut b = CfiBuilder::new(Arch::X86_64, 10);
    b.add_rules(
        0x100,
        0x200,
        0,
        vec![
            (CFA, Rule::RegPlus(6, 16)),
            (RA, Rule::AtCfa(-8)),
            (6, Rule::AtCfa(-16)),
        ],
    );
    b.add_code(0x100, 0x200);
    let cache = b.finish();
    let md = dump(
        0x8000,
        0x100,
        vec![("rip", 0x1150), ("rsp", 0x8000), ("rbp", 0x8070)],
        vec![module(0x1000, 0x1000), module(0x2000, 0x1000)],
    );
    let w = walk(
        &md,
        &stack[..],
        &[Some(CfiCache::parse(&cache).unwrap()), None],
        &WalkLimits::default(),
    );
    let got: Vec<(u64, u64, Trust)> = w.threads[0].frames.iter().map(|f| (f.pc, f.sp, f.trust)).collect();
    assert_eq!(
        got,
        vec![(0x1150, 0x8000, Trust::Context), (0x2f3d, 0x8080, Trust::Cfi)]
    );
    assert_eq!(w.threads[0].stop, "end");
    // The same words under a context's rbp (any value): not trusted to end the walk.
    let md = dump(
        0x8000,
        0x100,
        vec![("rip", 0x2f00), ("rsp", 0x8080), ("rbp", 0x8088)],
        vec![module(0x1000, 0x1000), module(0x2000, 0x1000)],
    );
    let w = walk(
        &md,
        &stack[..],
        &[Some(CfiCache::parse(&cache).unwrap()), None],
        &WalkLimits::default(),
    );
    assert_eq!(w.threads[0].frames[1].trust, Trust::Scan, "{:?}", w.threads[0].frames);
}

#[test]
fn looping_and_shrinking_stacks_end() {
    // The frame pointer points at itself and the CFI says CFA = rsp: no caller may have
    // a stack pointer at or below its callee's.
    let mut stack = vec![0u8; 0x100];
    put(&mut stack, 0x00, 0x8000);
    put(&mut stack, 0x08, 0x1150);
    let mut b = CfiBuilder::new(Arch::X86_64, 10);
    b.add_rules(0x100, 0x200, 0, vec![(CFA, Rule::RegPlus(7, 0)), (RA, Rule::AtCfa(8))]);
    // A CFA below the stack pointer (shrinking).
    b.add_rules(
        0x200,
        0x300,
        0,
        vec![(CFA, Rule::RegPlus(7, -64)), (RA, Rule::AtCfa(0))],
    );
    let cache = b.finish();
    for pc in [0x1150u64, 0x1250] {
        let md = dump(
            0x8000,
            0x100,
            vec![("rip", pc), ("rsp", 0x8000), ("rbp", 0x8000)],
            vec![module(0x1000, 0x1000)],
        );
        let w = walk(
            &md,
            &stack[..],
            &[Some(CfiCache::parse(&cache).unwrap())],
            &WalkLimits::default(),
        );
        let frames = &w.threads[0].frames;
        for pair in frames.windows(2) {
            assert!(pair[1].sp > pair[0].sp, "{:?}", frames);
        }
        assert!(frames.len() < 40, "{:?}", frames);
    }
}

#[test]
fn frame_and_budget_limits() {
    // Every stack word is a return address into a function whose CFA is rsp + 8: a walk
    // of 8192 frames if nothing stopped it.
    let mut stack = vec![0u8; 0x10000];
    for at in (0..stack.len()).step_by(8) {
        put(&mut stack, at, 0x1150);
    }
    let mut b = CfiBuilder::new(Arch::X86_64, 10);
    b.add_rules(0x100, 0x200, 0, vec![(CFA, Rule::RegPlus(7, 8)), (RA, Rule::AtCfa(-8))]);
    let cache = b.finish();
    let mut md = dump(
        0x8000,
        0x10000,
        vec![("rip", 0x1150), ("rsp", 0x8000)],
        vec![module(0x1000, 0x1000)],
    );
    md.threads.push(md.threads[0].clone());
    let c = [Some(CfiCache::parse(&cache).unwrap())];
    let w = walk(&md, &stack[..], &c, &WalkLimits::default());
    assert_eq!((w.threads[0].frames.len(), w.threads[0].stop), (256, "max_frames"));
    let limits = WalkLimits {
        max_total_frames: 300,
        ..Default::default()
    };
    let w = walk(&md, &stack[..], &c, &limits);
    assert_eq!((w.threads[1].frames.len(), w.threads[1].stop), (44, "budget"));
    assert_eq!(w.warnings.len(), 1);
    let limits = WalkLimits {
        max_reads: 100,
        ..Default::default()
    };
    let w = walk(&md, &stack[..], &c, &limits);
    assert!(w.threads[0].frames.len() <= 101 && w.threads[0].stop == "budget");
}

#[test]
fn win_program_walks_x86() {
    let win = b"MODULE windows x86 0123456789ABCDEF0123456789ABCDEF1 t.pdb\n\
STACK WIN 4 100 100 5 0 0 0 0 0 1 $T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =\n";
    let built = build::from_breakpad(&mut RefSource::new(&win[..]).unwrap()).unwrap();
    let mut stack = vec![0u8; 0x40];
    stack[0x10..0x14].copy_from_slice(&0x9000u32.to_le_bytes()); // saved ebp
    stack[0x14..0x18].copy_from_slice(&0x1180u32.to_le_bytes()); // return address
    let mut md = dump(0x8000, 0x40, vec![], vec![module(0x1000, 0x1000)]);
    md.threads[0].context = Some(Context {
        cpu: Cpu::X86,
        layout: "x86",
        flags: 0,
        size: 0,
        registers: vec![("eip", 0x1120), ("esp", 0x8000), ("ebp", 0x8010)],
    });
    let c = [Some(CfiCache::parse(&built.bytes).unwrap())];
    let w = walk(&md, &stack[..], &c, &WalkLimits::default());
    let got: Vec<(u64, u64, Trust)> = w.threads[0].frames.iter().map(|f| (f.pc, f.sp, f.trust)).collect();
    assert_eq!(
        got[..2],
        [(0x1120, 0x8000, Trust::Context), (0x1180, 0x8018, Trust::Cfi)]
    );
}

/// Random rule sets over random stacks (a small deterministic fuzz): the walk always
/// ends within its limits, every caller above its callee.
#[test]
fn random_cfi_walks_end() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let mut b = CfiBuilder::new(Arch::X86_64, 100);
        for k in 0..8u64 {
            let mut rules = vec![(
                CFA,
                Rule::RegPlus([7u16, 6, 3][(next() % 3) as usize], (next() % 64) as i64 - 16),
            )];
            let ra = match next() % 5 {
                0 => Rule::Undefined,
                1 => Rule::Same,
                2 => Rule::CfaPlus((next() % 32) as i64 - 16),
                3 => {
                    let (at, len) = b.string(["$rsp 8 + ^", ".cfa 8 - ^", "$rbp ^ ^", "1 0 /"][(next() % 4) as usize]);
                    Rule::Expr(at, len)
                }
                _ => Rule::AtCfa(-((next() % 4) as i64) * 8),
            };
            rules.push((RA, ra));
            rules.push((6, Rule::AtCfa(-16)));
            b.add_rules(k * 0x80, k * 0x80 + 0x80, 0, rules);
        }
        let cache = b.finish();
        let mut stack = vec![0u8; 0x400];
        for at in (0..stack.len()).step_by(8) {
            let v = if next() % 2 == 0 {
                0x1000 + next() % 0x400
            } else {
                0x8000 + next() % 0x400
            };
            put(&mut stack, at, v);
        }
        let md = dump(
            0x8000,
            0x400,
            vec![
                ("rip", 0x1000 + next() % 0x400),
                ("rsp", 0x8000),
                ("rbp", 0x8000 + next() % 0x400),
                ("rbx", next()),
            ],
            vec![module(0x1000, 0x400)],
        );
        let w = walk(
            &md,
            &stack[..],
            &[Some(CfiCache::parse(&cache).unwrap())],
            &WalkLimits::default(),
        );
        let frames = &w.threads[0].frames;
        assert!(frames.len() <= 256);
        for pair in frames.windows(2) {
            assert!(pair[1].sp > pair[0].sp);
        }
    }
}
