//! The stack walker: per thread, the context's frame, then each caller by CFI, else the
//! frame pointer, else a bounded stack scan (the trust levels `context`, `cfi`, `fp`,
//! `scan` that Breakpad and rust-minidump report).
//!
//! A dump is hostile input, so every walk is bounded ([`WalkLimits`]): frames per
//! thread, words scanned per frame, memory reads and frames for the whole dump; and
//! every caller must have a higher stack pointer than its callee (no loops).

use super::cache::{Arch, CfiCache, Found, Rule, WinRecord, CFA, RA};
use super::postfix::{run, Vars};
use crate::minidump::{Cpu, Minidump};
use object::ReadRef;

/// Bounds on one walk.
#[derive(Clone, Debug)]
pub struct WalkLimits {
    /// Frames per thread (the rest are cut; the thread says so).
    pub max_frames: usize,
    /// Stack words a scan looks at for one caller.
    pub scan_words: u64,
    /// Frames for the whole dump.
    pub max_total_frames: usize,
    /// Memory words read for the whole dump (scans, CFI, frame pointers).
    pub max_reads: u64,
    /// Bytes of a thread's saved stack read at once (from its stack pointer up).
    pub max_stack_bytes: u64,
}

impl Default for WalkLimits {
    fn default() -> Self {
        WalkLimits {
            max_frames: 256,
            scan_words: 256,
            max_total_frames: 65_536,
            max_reads: 8 << 20,
            max_stack_bytes: 8 << 20,
        }
    }
}

/// How a frame was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The thread's registers.
    Context,
    /// Call frame information.
    Cfi,
    /// The frame pointer chain.
    FramePointer,
    /// A return address found by scanning the stack.
    Scan,
}

impl Trust {
    /// The name responses use.
    pub fn name(self) -> &'static str {
        match self {
            Trust::Context => "context",
            Trust::Cfi => "cfi",
            Trust::FramePointer => "fp",
            Trust::Scan => "scan",
        }
    }
}

/// One recovered frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The instruction address (a return address for callers).
    pub pc: u64,
    /// The stack pointer in that frame.
    pub sp: u64,
    /// How it was found.
    pub trust: Trust,
    /// The index of the module holding `pc`.
    pub module: Option<usize>,
}

/// One thread's walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadWalk {
    /// Frames, innermost first.
    pub frames: Vec<Frame>,
    /// The registers of the first frame (context names), as used.
    pub registers: Vec<(&'static str, u64)>,
    /// Why the walk ended: "end" (no caller found, or the CFI says the stack ends),
    /// "max_frames", "budget", "no_context", "unsupported_cpu".
    pub stop: &'static str,
}

/// The walk of a whole dump.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    /// Per thread, in the dump's order.
    pub threads: Vec<ThreadWalk>,
    /// What went wrong on the way.
    pub warnings: Vec<String>,
}

const NREGS: usize = 34;

#[derive(Clone)]
struct Regs {
    v: [u64; NREGS],
    valid: u64,
}

impl Regs {
    fn get(&self, r: u16) -> Option<u64> {
        let i = r as usize;
        (i < NREGS && self.valid & (1 << i) != 0).then(|| self.v[i])
    }

    fn set(&mut self, r: u16, v: Option<u64>) {
        let i = r as usize;
        if i >= NREGS {
            return;
        }
        match v {
            Some(v) => {
                self.v[i] = v;
                self.valid |= 1 << i;
            }
            None => self.valid &= !(1 << i),
        }
    }
}

struct Memory<'m, 'a, R: ReadRef<'a>> {
    md: &'m Minidump,
    data: R,
    /// The thread's stack, read once: (base, bytes).
    stack: (u64, &'a [u8]),
    reads: u64,
    max_reads: u64,
    word: u64,
}

impl<'m, 'a, R: ReadRef<'a>> Memory<'m, 'a, R> {
    fn bytes(&mut self, addr: u64, len: u64) -> Option<&'a [u8]> {
        if self.reads >= self.max_reads {
            return None;
        }
        self.reads += 1;
        let (base, s) = self.stack;
        if addr >= base && addr.checked_add(len)? <= base + s.len() as u64 {
            let at = (addr - base) as usize;
            return Some(&s[at..at + len as usize]);
        }
        self.md.read_memory(self.data, addr, len)
    }

    fn word(&mut self, addr: u64) -> Option<u64> {
        let b = self.bytes(addr, self.word)?;
        Some(if self.word == 4 {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64
        } else {
            u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        })
    }
}

fn arch_of(cpu: Cpu) -> Arch {
    match cpu {
        Cpu::X86 => Arch::X86,
        Cpu::X86_64 => Arch::X86_64,
        Cpu::Arm => Arch::Arm,
        Cpu::Arm64 => Arch::Arm64,
        _ => Arch::Unknown,
    }
}

struct Walker<'w, 'c> {
    md: &'w Minidump,
    arch: Arch,
    mask: u64,
    cfi: &'w [Option<CfiCache<'c>>],
    limits: &'w WalkLimits,
}

/// Walks every thread of `md` (read from `data`); `cfi[i]` is the cache of module `i`.
pub fn walk<'a, R: ReadRef<'a>>(md: &Minidump, data: R, cfi: &[Option<CfiCache<'_>>], limits: &WalkLimits) -> Walk {
    let mut out = Walk::default();
    let mut total = 0usize;
    let mut reads = 0u64;
    let crashed = md.crashed_thread();
    for (ti, thread) in md.threads.iter().enumerate() {
        // The crashing thread's registers at the exception, where the dump has them.
        let ctx = match (
            crashed == Some(ti),
            md.exception.as_ref().and_then(|e| e.context.as_ref()),
        ) {
            (true, Some(c)) => Some(c),
            _ => thread.context.as_ref(),
        };
        let ctx = match ctx {
            Some(c) => c,
            None => {
                out.threads.push(ThreadWalk {
                    frames: Vec::new(),
                    registers: Vec::new(),
                    stop: "no_context",
                });
                continue;
            }
        };
        let arch = arch_of(ctx.cpu);
        if arch == Arch::Unknown {
            out.threads.push(ThreadWalk {
                frames: Vec::new(),
                registers: ctx.registers.clone(),
                stop: "unsupported_cpu",
            });
            continue;
        }
        let mut regs = Regs {
            v: [0; NREGS],
            valid: 0,
        };
        for (name, v) in &ctx.registers {
            if let Some(r) = arch.register(name) {
                regs.set(r, Some(*v));
            }
        }
        let (sp_reg, _) = arch.sp_pc();
        let sp = regs.get(sp_reg).unwrap_or(0);
        let stack = thread
            .stack
            .and_then(|r| {
                let from = if sp >= r.base && sp < r.end() { sp } else { r.base };
                let len = (r.end() - from).min(limits.max_stack_bytes);
                data.read_bytes_at(r.file_offset + (from - r.base), len)
                    .ok()
                    .map(|b| (from, b))
            })
            .unwrap_or((0, &[][..]));
        let mut mem = Memory {
            md,
            data,
            stack,
            reads,
            max_reads: limits.max_reads,
            word: arch.word(),
        };
        let w = Walker {
            md,
            arch,
            mask: if arch.word() == 4 { u32::MAX as u64 } else { u64::MAX },
            cfi,
            limits,
        };
        let budget = limits.max_total_frames.saturating_sub(total);
        let tw = w.thread(regs, &mut mem, budget, ctx.registers.clone());
        reads = mem.reads;
        total += tw.frames.len();
        out.threads.push(tw);
    }
    if reads >= limits.max_reads {
        out.warnings.push(format!(
            "the walk read {} memory words, its limit: later frames were not searched",
            reads
        ));
    }
    if total >= limits.max_total_frames {
        out.warnings
            .push(format!("{} frames in all, the limit: later threads are cut", total));
    }
    out
}

impl<'w, 'c> Walker<'w, 'c> {
    fn module(&self, addr: u64) -> Option<usize> {
        self.md
            .modules
            .iter()
            .position(|m| addr >= m.base && addr - m.base < m.extent)
    }

    fn thread<'a, R: ReadRef<'a>>(
        &self,
        mut regs: Regs,
        mem: &mut Memory<'_, 'a, R>,
        budget: usize,
        registers: Vec<(&'static str, u64)>,
    ) -> ThreadWalk {
        let (sp_reg, pc_reg) = self.arch.sp_pc();
        let mut frames = Vec::new();
        let (pc, sp) = match (regs.get(pc_reg), regs.get(sp_reg)) {
            (Some(pc), Some(sp)) => (pc, sp),
            _ => {
                return ThreadWalk {
                    frames,
                    registers,
                    stop: "no_context",
                }
            }
        };
        let max = self.limits.max_frames.min(budget);
        if max == 0 {
            return ThreadWalk {
                frames,
                registers,
                stop: "budget",
            };
        }
        frames.push(Frame {
            pc,
            sp,
            trust: Trust::Context,
            module: self.module(pc),
        });
        let mut callee_params = 0u32;
        let stop = loop {
            if frames.len() >= max {
                break if max < self.limits.max_frames {
                    "budget"
                } else {
                    "max_frames"
                };
            }
            if mem.reads >= mem.max_reads {
                break "budget";
            }
            let first = frames.len() == 1;
            let (pc, sp) = (regs.get(pc_reg).unwrap_or(0), regs.get(sp_reg).unwrap_or(0));
            let next = match self.by_cfi(&regs, first, mem, &mut callee_params) {
                // A return address of 0 is no caller: the unwind information's outermost frame.
                Step::Caller(r) if r.get(pc_reg) == Some(0) => break "end",
                Step::Caller(r) => Some((r, Trust::Cfi)),
                Step::End => break "end",
                Step::None => None,
            };
            let recovered = matches!(
                frames.last().map(|f| f.trust),
                Some(Trust::Cfi) | Some(Trust::FramePointer)
            );
            if next.is_none() && self.fp_chain_ends(&regs, recovered, mem) {
                // Scanning past the outermost frame finds only stale return addresses.
                break "end";
            }
            let next = next
                .filter(|(r, _)| self.plausible(r, sp, pc))
                .or_else(|| {
                    self.by_fp(&regs, mem)
                        .filter(|r| self.plausible(r, sp, pc))
                        .map(|r| (r, Trust::FramePointer))
                })
                .or_else(|| self.by_scan(&regs, mem).map(|r| (r, Trust::Scan)));
            let (caller, trust) = match next {
                Some(x) => x,
                None => break "end",
            };
            let cpc = caller.get(pc_reg).unwrap_or(0);
            frames.push(Frame {
                pc: cpc,
                sp: caller.get(sp_reg).unwrap_or(0),
                trust,
                module: self.module(cpc),
            });
            regs = caller;
        };
        ThreadWalk {
            frames,
            registers,
            stop,
        }
    }

    /// A caller must be in a module and have a higher stack pointer than its callee.
    fn plausible(&self, caller: &Regs, sp: u64, pc: u64) -> bool {
        let (sp_reg, pc_reg) = self.arch.sp_pc();
        match (caller.get(pc_reg), caller.get(sp_reg)) {
            (Some(cpc), Some(csp)) => cpc != 0 && csp > sp && !(csp == sp && cpc == pc) && self.module(cpc).is_some(),
            _ => false,
        }
    }

    fn by_cfi<'a, R: ReadRef<'a>>(
        &self,
        regs: &Regs,
        first: bool,
        mem: &mut Memory<'_, 'a, R>,
        callee_params: &mut u32,
    ) -> Step {
        let (sp_reg, pc_reg) = self.arch.sp_pc();
        let pc = match regs.get(pc_reg) {
            Some(pc) => pc,
            None => return Step::None,
        };
        // A return address is just past the call: its rules are the call's.
        let at = if first { pc } else { pc.wrapping_sub(1) };
        let mi = match self.module(at) {
            Some(i) => i,
            None => return Step::None,
        };
        let cache = match self.cfi.get(mi).and_then(|c| c.as_ref()) {
            Some(c) if c.arch() == self.arch => c,
            _ => return Step::None,
        };
        let base = self.md.modules[mi].base;
        match cache.find(at - base) {
            Some(Found::Rules(rules)) => self.apply_rules(cache, &rules, regs, mem),
            Some(Found::Win(rec, prog)) if self.arch == Arch::X86 => {
                let step = self.apply_win(&rec, prog, regs, first, mem, *callee_params);
                *callee_params = rec.parameter_size;
                step
            }
            _ => {
                let _ = sp_reg;
                Step::None
            }
        }
    }

    fn apply_rules<'a, R: ReadRef<'a>>(
        &self,
        cache: &CfiCache<'_>,
        rules: &[(u16, Rule)],
        regs: &Regs,
        mem: &mut Memory<'_, 'a, R>,
    ) -> Step {
        let (sp_reg, pc_reg) = self.arch.sp_pc();
        let eval = |text: &str, cfa: Option<u64>, mem: &mut Memory<'_, 'a, R>| -> Option<u64> {
            let mut vars = Vars::default();
            for i in 0..NREGS as u16 {
                if let Some(v) = regs.get(i) {
                    vars.set(&reg_var(self.arch, i)?, v)?;
                }
            }
            if let Some(c) = cfa {
                vars.set(".cfa", c)?;
            }
            run(text, &mut vars, &mut |a| mem.word(a), self.mask)?
        };
        let cfa = match rules.iter().find(|r| r.0 == CFA).map(|r| r.1) {
            Some(Rule::RegPlus(r, o)) => regs.get(r).map(|v| v.wrapping_add(o as u64) & self.mask),
            Some(Rule::Expr(at, len)) => cache.string(at, len).and_then(|t| eval(t, None, mem)),
            _ => None,
        };
        let cfa = match cfa {
            Some(c) => c,
            None => return Step::None,
        };
        let mut caller = regs.clone();
        let mut ra: Option<u64> = None;
        let mut ra_rule = false;
        for &(target, rule) in rules {
            if target == CFA {
                continue;
            }
            let value = match rule {
                Rule::Undefined => {
                    if target == RA {
                        // The outermost frame: the CFI says there is no caller.
                        return Step::End;
                    }
                    None
                }
                Rule::Same => regs.get(if target == RA { self.ra_reg() } else { target }),
                Rule::AtCfa(o) => mem.word(cfa.wrapping_add(o as u64) & self.mask),
                Rule::CfaPlus(o) => Some(cfa.wrapping_add(o as u64) & self.mask),
                Rule::Register(r) => regs.get(r),
                Rule::RegPlus(r, o) => regs.get(r).map(|v| v.wrapping_add(o as u64) & self.mask),
                Rule::Expr(at, len) => cache.string(at, len).and_then(|t| eval(t, Some(cfa), mem)),
            };
            if target == RA {
                ra = value;
                ra_rule = true;
            } else {
                caller.set(target, value);
            }
        }
        if !ra_rule {
            ra = match self.arch {
                Arch::Arm | Arch::Arm64 => regs.get(self.ra_reg()),
                _ => None,
            };
        }
        let ra = match ra {
            Some(r) => r,
            None => return Step::None,
        };
        caller.set(sp_reg, Some(cfa));
        caller.set(pc_reg, Some(ra));
        Step::Caller(caller)
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_win<'a, R: ReadRef<'a>>(
        &self,
        rec: &WinRecord,
        prog: &str,
        regs: &Regs,
        first: bool,
        mem: &mut Memory<'_, 'a, R>,
        callee_params: u32,
    ) -> Step {
        let mut vars = Vars::default();
        for (name, r) in [
            ("$eip", 8),
            ("$esp", 4),
            ("$ebp", 5),
            ("$ebx", 3),
            ("$esi", 6),
            ("$edi", 7),
        ] {
            if let Some(v) = regs.get(r) {
                if vars.set(name, v).is_none() {
                    return Step::None;
                }
            }
        }
        let esp = match regs.get(4) {
            Some(v) => v,
            None => return Step::None,
        };
        let start = esp
            .wrapping_add(callee_params as u64)
            .wrapping_add(rec.local_size as u64)
            .wrapping_add(rec.saved_register_size as u64)
            & self.mask;
        // The return-address search (Breakpad's): the sizes miss the padding of a stack
        // aligned to 8 or 16 bytes, so the first plausible return address within three
        // words above the computed address is the one (.raSearch/.raSearchStart); none
        // found: the computed address.
        let mut search = start;
        if let Some((at, found)) = self.scan_ra(start, mem) {
            search = at;
            if first && rec.flags & 2 == 0 && at == start && Some(found) == regs.get(8) {
                // An FPO frame (no program) whose context eip is the word on top: the
                // return address of a call just made, not this frame's. Look past it.
                search = self.scan_ra(start + 4, mem).map_or(start + 4, |f| f.0) & self.mask;
            }
        }
        for (name, v) in [
            (".cbCalleeParams", callee_params as u64),
            (".cbSavedRegs", rec.saved_register_size as u64),
            (".cbLocals", rec.local_size as u64),
            (".cbParams", rec.parameter_size as u64),
            (".raSearchStart", search),
            (".raSearch", search),
        ] {
            if vars.set(name, v).is_none() {
                return Step::None;
            }
        }
        let program = if rec.flags & 2 != 0 {
            prog
        } else if rec.flags & 1 != 0 {
            "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + ="
        } else {
            "$eip .raSearchStart ^ = $esp .raSearchStart 4 + ="
        };
        let before_eip = vars.get("$eip");
        let before_esp = vars.get("$esp");
        if run(program, &mut vars, &mut |a| mem.word(a), self.mask).is_none() {
            return Step::None;
        }
        let (eip, esp2) = (vars.get("$eip"), vars.get("$esp"));
        if eip == before_eip || esp2 == before_esp {
            return Step::None;
        }
        let mut caller = regs.clone();
        for (name, r) in [
            ("$eip", 8),
            ("$esp", 4),
            ("$ebp", 5),
            ("$ebx", 3),
            ("$esi", 6),
            ("$edi", 7),
        ] {
            caller.set(r, vars.get(name));
        }
        Step::Caller(caller)
    }

    /// The first word in `[from, from + 3 words]` that could be a return address: (its
    /// address, the word).
    fn scan_ra<'a, R: ReadRef<'a>>(&self, from: u64, mem: &mut Memory<'_, 'a, R>) -> Option<(u64, u64)> {
        let w = self.arch.word();
        for i in 0..=3u64 {
            let at = from.wrapping_add(i * w) & self.mask;
            let v = mem.word(at)?;
            if self.return_address(v, mem) {
                return Some((at, v));
            }
        }
        None
    }

    fn ra_reg(&self) -> u16 {
        match self.arch {
            Arch::Arm => 14,
            Arch::Arm64 => 30,
            Arch::X86 => 8,
            _ => 16,
        }
    }

    fn by_fp<'a, R: ReadRef<'a>>(&self, regs: &Regs, mem: &mut Memory<'_, 'a, R>) -> Option<Regs> {
        let (sp_reg, pc_reg) = self.arch.sp_pc();
        let fp_reg = match self.arch {
            Arch::X86_64 => 6,
            Arch::X86 => 5,
            Arch::Arm64 => 29,
            // 32-bit ARM code keeps its frame pointer in r7 or r11 by convention: no guess.
            _ => return None,
        };
        let w = self.arch.word();
        let fp = regs.get(fp_reg)?;
        let sp = regs.get(sp_reg)?;
        if fp < sp || fp % w != 0 {
            return None;
        }
        let caller_fp = mem.word(fp)?;
        let ra = mem.word(fp.checked_add(w)?)?;
        let mut caller = regs.clone();
        caller.set(fp_reg, Some(caller_fp));
        caller.set(pc_reg, Some(ra));
        caller.set(sp_reg, Some(fp.checked_add(2 * w)?));
        Some(caller)
    }

    /// Whether the frame pointer points at the zero frame pointer and zero return address
    /// with which thread entry points (`_start`, `BaseThreadInitThunk`'s callers, ...) end
    /// the chain: both words read from the saved stack, above the stack pointer; or, for a
    /// frame pointer restored by unwinding, at a zero frame pointer under a word that is no
    /// return address (macOS: dyld pushes 0 above argc before it enters `main`). A frame
    /// pointer of 0 restored by unwinding (`recovered`: not a register of the context,
    /// where it may be any value) ends it too: entry points start with it cleared.
    fn fp_chain_ends<'a, R: ReadRef<'a>>(&self, regs: &Regs, recovered: bool, mem: &mut Memory<'_, 'a, R>) -> bool {
        let fp_reg = match self.arch {
            Arch::X86_64 => 6,
            Arch::X86 => 5,
            Arch::Arm64 => 29,
            _ => return false,
        };
        let (sp_reg, _) = self.arch.sp_pc();
        let w = self.arch.word();
        match (regs.get(fp_reg), regs.get(sp_reg)) {
            (Some(0), Some(_)) => recovered,
            (Some(fp), Some(sp)) if fp >= sp && fp % w == 0 => {
                if mem.word(fp) != Some(0) {
                    return false;
                }
                // macOS: dyld's `pushq $0` under argc, not a return address. Only for a
                // restored frame pointer (a context's may be a stale value).
                match fp.checked_add(w).and_then(|a| mem.word(a)) {
                    Some(0) => true,
                    Some(ra) => recovered && self.module(ra).is_none(),
                    None => false,
                }
            }
            _ => false,
        }
    }

    fn by_scan<'a, R: ReadRef<'a>>(&self, regs: &Regs, mem: &mut Memory<'_, 'a, R>) -> Option<Regs> {
        let (sp_reg, pc_reg) = self.arch.sp_pc();
        let w = self.arch.word();
        let sp = regs.get(sp_reg)?;
        for i in 0..self.limits.scan_words {
            let addr = sp.checked_add(i * w)?;
            let v = mem.word(addr)?;
            if self.return_address(v, mem) {
                let mut caller = regs.clone();
                caller.set(pc_reg, Some(v));
                caller.set(sp_reg, Some(addr + w));
                return Some(caller);
            }
        }
        None
    }

    /// Whether `v` could be a return address: in a module's code (where its CFI cache
    /// lists the code ranges), just after a call (where the dump holds the code).
    fn return_address<'a, R: ReadRef<'a>>(&self, v: u64, mem: &mut Memory<'_, 'a, R>) -> bool {
        let mi = match self.module(v) {
            Some(i) => i,
            None => return false,
        };
        if let Some(Some(c)) = self.cfi.get(mi) {
            if c.is_code(v - self.md.modules[mi].base) == Some(false) {
                return false;
            }
        }
        match self.arch {
            Arch::X86 | Arch::X86_64 => match v.checked_sub(7).and_then(|a| mem.bytes(a, 7)) {
                Some(b) => {
                    // call rel32 (E8), or call r/m (FF /2) of 2, 3, 6 or 7 bytes.
                    b[2] == 0xe8
                        || [5usize, 4, 1, 0]
                            .iter()
                            .any(|&i| b[i] == 0xff && (b[i + 1] >> 3) & 7 == 2)
                }
                None => true,
            },
            Arch::Arm64 => match v.checked_sub(4).and_then(|a| mem.bytes(a, 4)) {
                Some(b) => {
                    let i = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    // BL, BLR, BLRAA/BLRAB/BLRAAZ/BLRABZ
                    i & 0xfc00_0000 == 0x9400_0000 || i & 0xffff_fc1f == 0xd63f_0000 || i & 0xfeff_f800 == 0xd63f_0800
                }
                None => true,
            },
            _ => true,
        }
    }
}

enum Step {
    Caller(Regs),
    /// The unwind information marks this frame as the outermost.
    End,
    None,
}

/// The Breakpad name of DWARF register `r` (`$rsp`), for postfix expressions.
fn reg_var(arch: Arch, r: u16) -> Option<String> {
    const X64: [&str; 17] = [
        "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
        "rip",
    ];
    const X86: [&str; 9] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip"];
    let name = match arch {
        Arch::X86_64 => X64.get(r as usize)?.to_string(),
        Arch::X86 => X86.get(r as usize)?.to_string(),
        Arch::Arm64 => match r {
            29 => "x29".into(),
            30 => "x30".into(),
            31 => "sp".into(),
            32 => "pc".into(),
            n => format!("x{}", n),
        },
        Arch::Arm => match r {
            13 => "sp".into(),
            14 => "lr".into(),
            15 => "pc".into(),
            n => format!("r{}", n),
        },
        Arch::Unknown => return None,
    };
    Some(format!("${}", name))
}

impl Walk {
    /// The walk as JSON (ABI.md, "Stack walk document"): 64-bit values as hex strings.
    pub fn to_json(&self) -> String {
        use std::fmt::Write;
        let mut s = String::from("{\"threads\":[");
        for (ti, t) in self.threads.iter().enumerate() {
            if ti > 0 {
                s.push(',');
            }
            let _ = write!(s, "{{\"stop\":\"{}\",\"registers\":[", t.stop);
            for (i, (name, v)) in t.registers.iter().enumerate() {
                let _ = write!(s, "{}[\"{}\",\"{:#x}\"]", if i > 0 { "," } else { "" }, name, v);
            }
            s.push_str("],\"frames\":[");
            for (i, f) in t.frames.iter().enumerate() {
                let module = f.module.map_or(-1, |m| m as i64);
                let _ = write!(
                    s,
                    "{}{{\"pc\":\"{:#x}\",\"sp\":\"{:#x}\",\"trust\":\"{}\",\"module\":{}}}",
                    if i > 0 { "," } else { "" },
                    f.pc,
                    f.sp,
                    f.trust.name(),
                    module
                );
            }
            s.push_str("]}");
        }
        s.push_str("],\"warnings\":[");
        for (i, w) in self.warnings.iter().enumerate() {
            let esc: String = w
                .chars()
                .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
                .collect();
            let _ = write!(s, "{}\"{}\"", if i > 0 { "," } else { "" }, esc);
        }
        s.push_str("]}");
        s
    }
}
