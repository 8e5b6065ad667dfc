//! Compact unwind against real Mach-O files built here (clang-14 for x86_64 and arm64,
//! ld64.lld-19): every function's encoding against `llvm-objdump-14 --unwind-info`, and a
//! walk of a synthetic stack laid out by running the binary's own prologues (read from
//! its disassembly) through a chain of calls. Damaged sections keep what is intact.

use super::compact::{self, Entry, Unwind};
use super::walk::{walk, Trust, WalkLimits};
use super::*;
use crate::minidump::{Context, Cpu, MemoryRange, Minidump, Module, Thread};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const FP_C: &str = r#"
long f_imm(long a, volatile char *p);
__attribute__((noinline)) long f_frame(long a) {
  volatile char buf[40];
  CLOBBER_FRAME;
  long r = f_imm(a, buf);
  return r + buf[2];
}
long start(void) { return f_frame(3) + 1; }
"#;

const NOFP_C: &str = r#"
long f_dwarf(long a, volatile char *p);
long f_ind(long a);
__attribute__((noinline)) long f_imm(long a, volatile char *p) {
  volatile char buf[48];
  CLOBBER_IMM;
  long r = f_ind(a + p[0]);
  return r + buf[1];
}
__attribute__((noinline)) long f_ind(long a) {
  volatile char buf[5000];
  CLOBBER_IND;
  long r = f_dwarf(a, buf);
  return r + buf[9];
}
__attribute__((noinline)) long leaf0(long a) {
  volatile char buf[24];
  CLOBBER_LEAF;
  buf[0] = (char)a;
  return buf[0] * 2;
}
"#;

// A CFI escape has no compact encoding: the linker gives the function DWARF mode.
const DWARF_X86_64: &str = "  .text\n  .globl _f_dwarf\n  .p2align 4\n_f_dwarf:\n  .cfi_startproc\n  pushq %rbx\n  .cfi_def_cfa_offset 16\n  .cfi_offset %rbx, -16\n  .cfi_escape 0x2e, 0x00\n  subq $32, %rsp\n  .cfi_def_cfa_offset 48\n  call _leaf0\n  addq $32, %rsp\n  popq %rbx\n  retq\n  .cfi_endproc\n";
const DWARF_ARM64: &str = "  .text\n  .globl _f_dwarf\n  .p2align 2\n_f_dwarf:\n  .cfi_startproc\n  stp x19, x30, [sp, #-32]!\n  .cfi_def_cfa_offset 32\n  .cfi_offset w30, -24\n  .cfi_offset w19, -32\n  .cfi_escape 0x2e, 0x00\n  bl _leaf0\n  ldp x19, x30, [sp], #32\n  ret\n  .cfi_endproc\n";

const TOOLS: [&str; 3] = ["clang-14", "ld64.lld-19", "llvm-objdump-14"];

/// Whether the tools are here; in CI (CI=true) their absence fails the test.
fn have_tools() -> bool {
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|t| Command::new(t).arg("--version").output().is_err())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI needs {:?} (tools/provision.sh test-tools)",
        missing
    );
    eprintln!("skipped: {:?} not installed", missing);
    false
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the tool runs");
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The test program for `arch` ("x86_64" or "arm64"), built into a fresh directory.
fn build(arch: &str) -> (PathBuf, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("pysym-compact-{}-{}", std::process::id(), arch));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let clobbers: [(&str, &str); 4] = if arch == "x86_64" {
        [
            ("FRAME", r#""rbx","r12","r14""#),
            ("IMM", r#""rbx","r13""#),
            ("IND", r#""r15","rbx","rbp","r12""#),
            ("LEAF", ""),
        ]
    } else {
        [
            ("FRAME", r#""x19","x20","x23""#),
            ("IMM", r#""x21""#),
            ("IND", r#""x19","x22","x25""#),
            ("LEAF", r#""x19","x20","x21""#),
        ]
    };
    let target = format!("{}-apple-macos11", arch);
    for (name, src, fp) in [
        ("fp", FP_C, "-fno-omit-frame-pointer"),
        ("nofp", NOFP_C, "-fomit-frame-pointer"),
    ] {
        let mut s = src.to_string();
        for (k, regs) in clobbers {
            let stmt = if regs.is_empty() {
                "(void)0".to_string()
            } else {
                format!("__asm__ volatile(\"\" ::: {})", regs)
            };
            s = s.replace(&format!("CLOBBER_{}", k), &stmt);
        }
        std::fs::write(dir.join(format!("{}.c", name)), s).unwrap();
        run(Command::new("clang-14")
            .current_dir(&dir)
            .args(["-target", &target, "-O2", fp, "-fno-stack-protector", "-c"])
            .arg(format!("{}.c", name))
            .arg("-o")
            .arg(format!("{}.o", name)));
    }
    std::fs::write(
        dir.join("dw.s"),
        if arch == "x86_64" { DWARF_X86_64 } else { DWARF_ARM64 },
    )
    .unwrap();
    run(Command::new("clang-14")
        .current_dir(&dir)
        .args(["-target", &target, "-c", "dw.s", "-o", "dw.o"]));
    run(Command::new("ld64.lld-19").current_dir(&dir).args([
        "-arch",
        arch,
        "-platform_version",
        "macos",
        "11.0",
        "11.0",
        "-dylib",
        "-o",
        "lib",
        "fp.o",
        "nofp.o",
        "dw.o",
    ]));
    let bytes = std::fs::read(dir.join("lib")).unwrap();
    (dir, bytes)
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// (function offset, encoding) of every second-level entry llvm-objdump prints.
fn objdump_entries(lib: &Path) -> Vec<(u64, u32)> {
    let text = run(Command::new("llvm-objdump-14").arg("--unwind-info").arg(lib));
    let second = text
        .split("Second level indices:")
        .nth(1)
        .expect("second-level pages printed");
    second
        .lines()
        .filter_map(|l| {
            let f = l.split("function offset=").nth(1)?;
            let e = l.split("encoding").nth(1)?.split('=').nth(1)?;
            Some((hex(f.split(',').next()?), hex(e.trim()) as u32))
        })
        .collect()
}

/// Functions (name → (start, instructions as (address, mnemonic, operands))).
type Disasm = HashMap<String, Vec<(u64, String, String)>>;

fn disassemble(lib: &Path) -> Disasm {
    let text = run(Command::new("llvm-objdump-14")
        .args(["-d", "--no-show-raw-insn"])
        .arg(lib));
    let mut out: Disasm = HashMap::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_suffix(">:").and_then(|l| l.split(" <").nth(1)) {
            cur = Some(name.trim_start_matches('_').to_string());
            out.insert(cur.clone().unwrap(), Vec::new());
        } else if let (Some(c), Some((addr, rest))) = (cur.as_ref(), line.split_once(':')) {
            let addr = match u64::from_str_radix(addr.trim(), 16) {
                Ok(a) => a,
                Err(_) => continue,
            };
            let mut parts = rest.trim().splitn(2, '\t');
            let mnem = parts.next().unwrap_or("").trim().to_string();
            let ops = parts
                .next()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap()
                .split("##")
                .next()
                .unwrap()
                .trim()
                .to_string();
            out.get_mut(c).unwrap().push((addr, mnem, ops));
        }
    }
    out
}

/// A machine running prologues: registers by name, the stack as written words.
struct Machine {
    x86: bool,
    regs: HashMap<String, u64>,
    sp: u64,
    mem: HashMap<u64, u64>,
    junk: u64,
    /// Registers the current function's prologue saved.
    saved: Vec<String>,
}

fn imm(s: &str) -> u64 {
    let s = s.trim().trim_start_matches('$').trim_start_matches('#');
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).unwrap()
    } else {
        s.parse::<i64>().unwrap() as u64
    }
}

impl Machine {
    fn reg(&self, r: &str) -> u64 {
        *self.regs.get(r.trim_start_matches('%')).unwrap_or(&0)
    }

    /// Runs one instruction if it moves the stack or frame pointer or stores to the stack;
    /// `false` for anything else (a body instruction). Panics on a stack change it does
    /// not understand, so a layout is never guessed.
    fn step(&mut self, mnem: &str, ops: &str) -> bool {
        // (an addressing operand has commas of its own)
        let o: Vec<&str> = if mnem.starts_with("stp") || mnem.starts_with("str") {
            ops.splitn(3, ", ").collect()
        } else {
            ops.split(", ").collect()
        };
        if self.x86 {
            match (mnem, o.as_slice()) {
                ("pushq", [r]) => {
                    self.sp -= 8;
                    let v = self.reg(r);
                    self.mem.insert(self.sp, v);
                    self.saved.push(r.trim_start_matches('%').to_string());
                }
                ("subq", [n, "%rsp"]) => self.sp -= imm(n),
                ("movq", ["%rsp", "%rbp"]) => {
                    self.regs.insert("rbp".into(), self.sp);
                }
                (_, [.., "%rsp"]) | (_, [.., "%rbp"]) => panic!("unknown stack instruction {} {}", mnem, ops),
                _ => return false,
            }
        } else {
            match (mnem, o.as_slice()) {
                ("sub", ["sp", "sp", n]) => self.sp -= imm(n),
                ("sub", ["sp", "sp", n, "lsl #12"]) => self.sp -= imm(n) << 12,
                ("stp", [a, b, addr]) if addr.starts_with("[sp") => {
                    let pre = addr.ends_with('!');
                    let off = addr
                        .trim_start_matches("[sp")
                        .trim_end_matches('!')
                        .trim_end_matches(']')
                        .trim_start_matches(", ");
                    let off = if off.is_empty() { 0 } else { imm(off) };
                    let at = if pre {
                        self.sp = self.sp.wrapping_add(off);
                        self.sp
                    } else {
                        self.sp.wrapping_add(off)
                    };
                    let (va, vb) = (self.reg(a), self.reg(b));
                    self.mem.insert(at, va);
                    self.mem.insert(at + 8, vb);
                    self.saved.push(a.to_string());
                    self.saved.push(b.to_string());
                }
                ("add", ["x29", "sp", n]) => {
                    let v = self.sp + imm(n);
                    self.regs.insert("x29".into(), v);
                }
                ("mov", ["x29", "sp"]) => {
                    self.regs.insert("x29".into(), self.sp);
                }
                (_, ["sp", ..]) | (_, ["x29", ..]) => panic!("unknown stack instruction {} {}", mnem, ops),
                _ => return false,
            }
        }
        true
    }

    /// A function body changes the callee-saved registers its prologue saved (all but
    /// the frame pointer it set up).
    fn clobber(&mut self, keep_fp: bool) {
        for n in std::mem::take(&mut self.saved) {
            if (keep_fp && (n == "rbp" || n == "x29")) || n == "x30" || n == "rax" {
                continue;
            }
            self.junk += 1;
            self.regs.insert(n, 0xdead_0000 + self.junk);
        }
    }
}

const X64_NAMES: [&str; 6] = ["rbx", "rbp", "r12", "r13", "r14", "r15"];
const ARM64_NAMES: [&str; 12] = [
    "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "x30",
];

/// Lays out the stack of `start → f_frame → f_imm → f_ind → f_dwarf → leaf0` by running
/// each function's instructions up to its call, and walks it: every caller's pc and sp
/// must be the return address and the stack pointer after the return.
fn check_walk(arch: &str, bytes: &[u8], dis: &Disasm, warning: Option<&str>) {
    let x86 = arch == "x86_64";
    let base = 0x1_0000_0000u64;
    let top = 0x7ff0_0000_0000u64;
    let mut m = Machine {
        x86,
        regs: HashMap::new(),
        sp: top,
        mem: HashMap::new(),
        junk: 0,
        saved: Vec::new(),
    };
    // The caller of `start` returns to 0 (the outermost frame).
    if x86 {
        m.sp -= 8;
        m.mem.insert(m.sp, 0);
    } else {
        m.regs.insert("x30".into(), 0);
    }
    m.regs.insert(if x86 { "rbp" } else { "x29" }.into(), 0);
    let chain = ["start", "f_frame", "f_imm", "f_ind", "f_dwarf", "leaf0"];
    let mut expected: Vec<(u64, u64)> = Vec::new(); // (pc, sp) outermost first
    for (i, name) in chain.iter().enumerate() {
        let insns = &dis[*name];
        let callee = chain.get(i + 1);
        let mut framed = false;
        let mut body = false;
        for (k, (addr, mnem, ops)) in insns.iter().enumerate() {
            if let Some(c) = callee {
                if (mnem == "callq" || mnem == "bl") && ops.ends_with(&format!("<_{}>", c)) {
                    // This frame as its callee's unwinding must find it: the return
                    // address and the stack pointer after the return.
                    let ret = insns[k + 1].0 + base;
                    expected.push((ret, m.sp));
                    if x86 {
                        m.sp -= 8;
                        m.mem.insert(m.sp, ret);
                    } else {
                        m.regs.insert("x30".into(), ret);
                    }
                    break;
                }
                framed |= (mnem == "movq" && ops == "%rsp, %rbp")
                    || ((mnem == "add" || mnem == "mov") && ops.starts_with("x29, sp"));
                if !m.step(mnem, ops) && !body {
                    // The body starts: it changes the registers the prologue saved.
                    m.clobber(framed);
                    body = true;
                }
            } else if !m.step(mnem, ops) {
                // The innermost frame: stopped at its body's first instruction.
                m.clobber(false);
                expected.push((addr + base, m.sp));
                break;
            }
        }
    }
    // Innermost first; frame k's sp is the sp inside frame k (callers: after the return).
    let want: Vec<(u64, u64)> = expected.iter().rev().copied().collect();
    assert_eq!(want.len(), chain.len());

    let lo = m.mem.keys().copied().min().unwrap().min(m.sp) & !0xfff;
    let mut stack = vec![0u8; (top - lo) as usize];
    for (a, v) in &m.mem {
        let at = (a - lo) as usize;
        stack[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    let mut registers: Vec<(&'static str, u64)> = Vec::new();
    let (pc_name, sp_name) = if x86 { ("rip", "rsp") } else { ("pc", "sp") };
    registers.push((pc_name, want[0].0));
    registers.push((sp_name, m.sp));
    let names: &[&'static str] = if x86 { &X64_NAMES } else { &ARM64_NAMES };
    for n in names {
        registers.push((n, m.reg(n)));
    }
    let range = MemoryRange {
        base: lo,
        size: stack.len() as u64,
        file_offset: 0,
    };
    let md = Minidump {
        threads: vec![Thread {
            id: 1,
            suspend_count: 0,
            priority_class: 0,
            priority: 0,
            teb: 0,
            stack: Some(range),
            context: Some(Context {
                cpu: if x86 { Cpu::X86_64 } else { Cpu::Arm64 },
                layout: "test",
                flags: 0,
                size: 0,
                registers,
            }),
            name: None,
        }],
        modules: vec![Module {
            base,
            size: 0x10000,
            extent: 0x10000,
            checksum: 0,
            timestamp: 0,
            code_file: "/lib".into(),
            code_id: String::new(),
            debug_file: String::new(),
            debug_id: String::new(),
            codeview: crate::minidump::CodeView::None,
            version: None,
        }],
        memory: vec![range],
        ..Default::default()
    };
    let file = object::File::parse(bytes).unwrap();
    let built = build::from_object(&file, Arch::from_name(arch), 0).unwrap();
    match warning {
        None => assert!(built.warnings.is_empty(), "{:?}", built.warnings),
        Some(w) => assert!(
            built.warnings.len() == 1 && built.warnings[0].contains(w),
            "{:?}",
            built.warnings
        ),
    }
    let cache = CfiCache::parse(&built.bytes).unwrap();
    let w = walk(&md, &stack[..], &[Some(cache)], &WalkLimits::default());
    let t = &w.threads[0];
    let got: Vec<(u64, u64)> = t.frames.iter().map(|f| (f.pc, f.sp)).collect();
    assert_eq!(got, want, "{} walk: {:x?} != {:x?}", arch, got, want);
    assert!(t.frames[1..].iter().all(|f| f.trust == Trust::Cfi), "{:?}", t.frames);
    assert_eq!(t.stop, "end");
}

/// The encodings of every function: pysym's decoding equals llvm-objdump's, each
/// function's range ends where the next begins, and each encoding gives rules.
fn check_entries(arch: &str, bytes: &[u8], lib: &Path) -> Vec<Entry> {
    let file = object::File::parse(bytes).unwrap();
    let info = object::Object::section_by_name(&file, "__unwind_info").unwrap();
    let data = object::ObjectSection::data(&info).unwrap();
    let mut warnings = Vec::new();
    let entries = compact::entries(data, &mut warnings);
    assert!(warnings.is_empty(), "{:?}", warnings);
    let ours: Vec<(u64, u32)> = entries.iter().map(|e| (e.start, e.encoding)).collect();
    let theirs = objdump_entries(lib);
    assert_eq!(ours, theirs, "{}", arch);
    assert!(entries.windows(2).all(|w| w[0].end == w[1].start));
    entries
}

/// The binary with its `__eh_frame`'s first entry (a CIE no FDE uses) damaged, a length
/// past the end: a reading of the whole section stops there, so DWARF-mode functions get
/// their rules only from the FDE at the offset their encoding names.
fn broken_eh_frame(bytes: &[u8]) -> Vec<u8> {
    let file = object::File::parse(bytes).unwrap();
    let eh = object::Object::section_by_name(&file, "__eh_frame").unwrap();
    let (at, _) = object::ObjectSection::file_range(&eh).unwrap();
    let mut out = bytes.to_vec();
    out[at as usize..at as usize + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    out
}

fn modes(entries: &[Entry]) -> Vec<u32> {
    let mut m: Vec<u32> = entries.iter().map(|e| (e.encoding >> 24) & 0xf).collect();
    m.sort_unstable();
    m.dedup();
    m
}

#[test]
fn real_x86_64_binary() {
    if !have_tools() {
        return;
    }
    let (dir, bytes) = build("x86_64");
    let entries = check_entries("x86_64", &bytes, &dir.join("lib"));
    // RBP frame, frameless immediate, frameless indirect and DWARF mode are all there.
    assert_eq!(modes(&entries), vec![1, 2, 3, 4]);
    let dis = disassemble(&dir.join("lib"));
    check_walk("x86_64", &bytes, &dis, None);
    check_walk(
        "x86_64",
        &broken_eh_frame(&bytes),
        &dis,
        Some(".eh_frame: stopped at a damaged entry"),
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn real_arm64_binary() {
    if !have_tools() {
        return;
    }
    let (dir, bytes) = build("arm64");
    let entries = check_entries("arm64", &bytes, &dir.join("lib"));
    // Frameless, DWARF and frame modes.
    assert_eq!(modes(&entries), vec![2, 3, 4]);
    let dis = disassemble(&dir.join("lib"));
    check_walk("arm64", &bytes, &dis, None);
    // (Here the DWARF-mode FDEs share the section's first CIE: damaging it loses them, so
    // the FDE-offset path is checked on x86_64, where lld gives each FDE its own CIE.)
    let _ = std::fs::remove_dir_all(dir);
}

/// A section with a regular page, a compressed page with a page-local encoding, and the
/// sentinel.
fn synthetic() -> Vec<u8> {
    let mut d = Vec::new();
    let w = |d: &mut Vec<u8>, v: u32| d.extend_from_slice(&v.to_le_bytes());
    // header: version, common at 28 (1), personalities at 32 (0), index at 32 (3)
    for v in [1, 28, 1, 32, 0, 32, 3] {
        w(&mut d, v);
    }
    w(&mut d, 0x0101_0001); // common[0]: rbp frame, rbx at rbp-8
    let regular = 32 + 36;
    let compressed = regular + 8 + 16;
    for v in [0x1000, regular, 0, 0x2000, compressed, 0, 0x3000, 0, 0] {
        w(&mut d, v as u32);
    }
    assert_eq!(d.len(), regular as usize);
    // regular page: kind 2, entries at +8, 2 entries
    w(&mut d, 2);
    d.extend_from_slice(&8u16.to_le_bytes());
    d.extend_from_slice(&2u16.to_le_bytes());
    for v in [0x1000, 0x0101_0001, 0x1800, 0x0202_0000] {
        w(&mut d, v);
    }
    // compressed page: kind 3, entries at +12 (2), encodings at +20 (1)
    w(&mut d, 3);
    for v in [12u16, 2, 20, 1] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    w(&mut d, 0); // offset 0, common encoding 0
    w(&mut d, 1 << 24 | 0x100); // offset 0x100, page-local encoding 0
    w(&mut d, 0x0400_0020); // DWARF at 0x20
    d
}

#[test]
fn regular_and_compressed_pages() {
    let d = synthetic();
    let mut warnings = Vec::new();
    let e = compact::entries(&d, &mut warnings);
    assert!(warnings.is_empty(), "{:?} {:x?}", warnings, e);
    let got: Vec<(u64, u64, u32)> = e.iter().map(|e| (e.start, e.end, e.encoding)).collect();
    assert_eq!(
        got,
        vec![
            (0x1000, 0x1800, 0x0101_0001),
            (0x1800, 0x2000, 0x0202_0000),
            (0x2000, 0x2100, 0x0101_0001),
            (0x2100, 0x3000, 0x0400_0020)
        ]
    );
    let text = |_: u64| None;
    assert_eq!(
        compact::unwind(Arch::X86_64, 0x0101_0001, 0x1000, &text),
        Unwind::Rules(vec![
            (CFA, Rule::RegPlus(6, 16)),
            (RA, Rule::AtCfa(-8)),
            (6, Rule::AtCfa(-16)),
            (3, Rule::AtCfa(-24))
        ])
    );
    assert_eq!(
        compact::unwind(Arch::X86_64, 0x0400_0020, 0x2100, &text),
        Unwind::Dwarf(0x20)
    );
    // Frameless indirect: the stack size is read from the code, outside it the encoding is bad.
    assert!(matches!(
        compact::unwind(Arch::X86_64, 0x0304_0000, 0x1000, &text),
        Unwind::Bad(_)
    ));
    assert_eq!(
        compact::unwind(Arch::X86_64, 0x0304_2000, 0x1000, &|a| (a == 0x1004).then(|| 0x100)),
        Unwind::Rules(vec![(CFA, Rule::RegPlus(7, 0x108)), (RA, Rule::AtCfa(-8))])
    );
    // 6 registers, permutation 719 (the last one): rbp r15 r14 r13 r12 rbx lowest first.
    match compact::unwind(Arch::X86_64, 0x0208_0000 | 6 << 10 | 719, 0, &text) {
        Unwind::Rules(r) => assert_eq!(
            &r[2..],
            &[
                (6, Rule::AtCfa(-56)),
                (15, Rule::AtCfa(-48)),
                (14, Rule::AtCfa(-40)),
                (13, Rule::AtCfa(-32)),
                (12, Rule::AtCfa(-24)),
                (3, Rule::AtCfa(-16))
            ]
        ),
        other => panic!("{:?}", other),
    }
    // Impossible permutations, a register 7, stack smaller than the pushes.
    assert!(matches!(
        compact::unwind(Arch::X86_64, 0x0208_0000 | 6 << 10 | 720, 0, &text),
        Unwind::Bad(_)
    ));
    assert!(matches!(
        compact::unwind(Arch::X86_64, 0x0100_0007, 0, &text),
        Unwind::Bad(_)
    ));
    assert!(matches!(
        compact::unwind(Arch::X86_64, 0x0201_0000 | 2 << 10, 0, &text),
        Unwind::Bad(_)
    ));
    assert!(matches!(
        compact::unwind(Arch::Arm64, 0x0200_1003, 0, &text),
        Unwind::Bad(_)
    ));
    assert_eq!(compact::unwind(Arch::X86_64, 0, 0, &text), Unwind::None);
}

#[test]
fn damaged_sections_keep_the_rest() {
    let d = synthetic();
    // Every truncation: no panic, entries only from what is intact.
    for n in 0..d.len() {
        let mut warnings = Vec::new();
        let e = compact::entries(&d[..n], &mut warnings);
        assert!(e.len() < 4 && !warnings.is_empty(), "{} bytes: {:?}", n, e);
    }
    // A damaged first page: the second is kept.
    let mut bad = d.clone();
    bad[68] = 9;
    let mut warnings = Vec::new();
    let e = compact::entries(&bad, &mut warnings);
    assert_eq!(e.len(), 2);
    assert!(warnings[0].contains("1 second-level pages skipped"), "{:?}", warnings);
    // An encoding index past both tables.
    let mut bad = d.clone();
    let at = d.len() - 5;
    bad[at] = 7;
    let mut warnings = Vec::new();
    assert_eq!(compact::entries(&bad, &mut warnings).len(), 3);
    assert!(warnings[0].contains("entries skipped"), "{:?}", warnings);
    // Counts far past the section.
    for (at, v) in [(8usize, u32::MAX), (24, 0x1000_0000)] {
        let mut bad = d.clone();
        bad[at..at + 4].copy_from_slice(&v.to_le_bytes());
        let mut warnings = Vec::new();
        assert!(compact::entries(&bad, &mut warnings).is_empty());
        assert!(warnings[0].contains("run past the section"), "{:?}", warnings);
    }
    // Random bytes: bounded, no panic.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        let mut b = d.clone();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % b.len() as u64) as usize;
            b[i] = (x >> 32) as u8;
        }
        let mut warnings = Vec::new();
        let e = compact::entries(&b, &mut warnings);
        assert!(e.len() <= b.len() / 4);
        for en in &e {
            let _ = compact::unwind(Arch::X86_64, en.encoding, en.start, &|_| Some(u32::MAX));
            let _ = compact::unwind(Arch::Arm64, en.encoding, en.start, &|_| None);
        }
    }
}
