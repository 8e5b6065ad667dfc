//! Mach-O compact unwind (`__TEXT,__unwind_info`): the two-level page table decoded into
//! one encoding per function, and each encoding turned into the CFI cache's rules
//! (FORMAT.md: CFA, return address and saved registers), so the cache format needs no
//! new row kind.
//!
//! Layout (Apple's `compact_unwind_encoding.h`): a header with the common encodings, the
//! personalities and the first-level index (function offset, second-level page offset,
//! LSDA offset; the last entry is a sentinel holding the end of the last function). A
//! second-level page is regular (kind 2: `u32 function offset, u32 encoding` pairs) or
//! compressed (kind 3: `u32` entries of a 24-bit offset from the index entry's function
//! and an 8-bit encoding index, common encodings first, then the page's own). Personality
//! and LSDA are not needed to unwind and are not read.
//!
//! Compact unwind describes a function at its call sites (after the prologue, before the
//! epilogue), which is where every frame but the innermost is; where DWARF CFI also covers
//! a function it wins (it is exact at every instruction).

use super::cache::{Arch, Rule, CFA, RA};

/// One function's entry: `[start, end)` relative to the image base (the Mach-O header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The function's first byte.
    pub start: u64,
    /// The next function's first byte (or the end of the last one).
    pub end: u64,
    /// The 32-bit compact encoding (0: nothing known).
    pub encoding: u32,
}

/// What an encoding says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unwind {
    /// No unwind information (encoding 0 or a mode this reader does not know).
    None,
    /// Rules for the whole function.
    Rules(Vec<(u16, Rule)>),
    /// The rules are the DWARF FDE at this offset of `__eh_frame`.
    Dwarf(u64),
    /// A damaged encoding (an impossible register permutation, an unreadable stack size).
    Bad(&'static str),
}

/// Entries a section may yield at most: each takes at least 4 bytes of it.
fn fits(data: &[u8], off: usize, count: usize, size: usize) -> bool {
    count
        .checked_mul(size)
        .and_then(|n| n.checked_add(off))
        .map_or(false, |end| end <= data.len())
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// Decodes the function entries of an `__unwind_info` section, sorted by start, without
/// overlaps. A damaged header gives no entries and a warning; a damaged page is skipped
/// with a warning and the other pages kept.
pub fn entries(data: &[u8], warnings: &mut Vec<String>) -> Vec<Entry> {
    let mut out = Vec::new();
    let header = (0..7).map(|i| u32_at(data, i * 4)).collect::<Option<Vec<u32>>>();
    let h = match header {
        Some(h) => h,
        None => {
            warnings.push("__unwind_info: shorter than its header".into());
            return out;
        }
    };
    let (version, common_off, common_n, index_off, index_n) =
        (h[0], h[1] as usize, h[2] as usize, h[5] as usize, h[6] as usize);
    if version != 1 {
        warnings.push(format!("__unwind_info: version {} (this reader knows 1)", version));
        return out;
    }
    if !fits(data, common_off, common_n, 4) || !fits(data, index_off, index_n, 12) {
        warnings.push("__unwind_info: the common encodings or the index run past the section".into());
        return out;
    }
    let common = |i: usize| u32_at(data, common_off + i * 4);
    // Every entry takes 4 bytes of its own in a well-formed section: index entries that
    // share pages cannot make the work grow past that.
    let mut budget = data.len() / 4;
    let mut bad_pages = 0usize;
    let mut bad_entries = 0usize;
    for i in 0..index_n.saturating_sub(1) {
        let at = index_off + i * 12;
        let (func, page) = match (u32_at(data, at), u32_at(data, at + 4), u32_at(data, at + 12)) {
            (Some(f), Some(p), Some(_)) => (f as u64, p as usize),
            _ => break,
        };
        // The next index entry's function ends this page's last function.
        let page_end = u32_at(data, at + 12).unwrap_or(0) as u64;
        if page == 0 || page_end <= func {
            bad_pages += 1;
            continue;
        }
        let declared = u16_at(data, page + 6).unwrap_or(0) as usize;
        if declared > budget {
            warnings.push("__unwind_info: more entries than the section can hold; the rest left out".into());
            break;
        }
        budget -= declared;
        let mut page_entries: Vec<(u64, u32)> = Vec::new();
        let ok = match u32_at(data, page) {
            Some(2) => {
                let (first, n) = (u16_at(data, page + 4), u16_at(data, page + 6));
                match (first, n) {
                    (Some(first), Some(n)) if fits(data, page + first as usize, n as usize, 8) => {
                        let base = page + first as usize;
                        for k in 0..n as usize {
                            let (f, e) = (u32_at(data, base + k * 8), u32_at(data, base + k * 8 + 4));
                            if let (Some(f), Some(e)) = (f, e) {
                                page_entries.push((f as u64, e));
                            }
                        }
                        true
                    }
                    _ => false,
                }
            }
            Some(3) => {
                let f = |k: usize| u16_at(data, page + k).map(|v| v as usize);
                match (f(4), f(6), f(8), f(10)) {
                    (Some(first), Some(n), Some(enc_off), Some(enc_n))
                        if fits(data, page + first, n, 4) && fits(data, page + enc_off, enc_n, 4) =>
                    {
                        for k in 0..n {
                            let raw = match u32_at(data, page + first + k * 4) {
                                Some(r) => r,
                                None => break,
                            };
                            let idx = (raw >> 24) as usize;
                            let enc = if idx < common_n {
                                common(idx)
                            } else {
                                u32_at(data, page + enc_off + (idx - common_n) * 4).filter(|_| idx - common_n < enc_n)
                            };
                            match enc {
                                Some(e) => page_entries.push((func + (raw & 0x00ff_ffff) as u64, e)),
                                None => bad_entries += 1,
                            }
                        }
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        };
        if !ok {
            bad_pages += 1;
            continue;
        }
        for k in 0..page_entries.len() {
            let (start, encoding) = page_entries[k];
            let end = page_entries.get(k + 1).map_or(page_end, |n| n.0).min(page_end);
            // Out of order or outside the page's range: not trusted.
            if start < func || end <= start || out.last().map_or(false, |l: &Entry| start < l.end) {
                bad_entries += 1;
                continue;
            }
            out.push(Entry { start, end, encoding });
        }
    }
    if bad_pages > 0 {
        warnings.push(format!(
            "__unwind_info: {} second-level pages skipped (damaged)",
            bad_pages
        ));
    }
    if bad_entries > 0 {
        warnings.push(format!(
            "__unwind_info: {} entries skipped (out of order or bad encoding index)",
            bad_entries
        ));
    }
    out
}

/// x86_64 compact register numbers (1 rbx, 2 r12, 3 r13, 4 r14, 5 r15, 6 rbp) as DWARF.
const X64_REGS: [u16; 7] = [0, 3, 12, 13, 14, 15, 6];

/// The rules of one encoding for the function starting at `func`; `text(addr)` reads the
/// 32-bit word at an image-relative address of the code (the stack size of the frameless
/// indirect mode is the immediate of the function's `sub $N, %rsp`).
pub fn unwind(arch: Arch, encoding: u32, func: u64, text: &dyn Fn(u64) -> Option<u32>) -> Unwind {
    let mode = (encoding >> 24) & 0xf;
    match arch {
        Arch::X86_64 => x86_64(mode, encoding, func, text),
        Arch::Arm64 => arm64(mode, encoding),
        _ => Unwind::None,
    }
}

fn x86_64(mode: u32, e: u32, func: u64, text: &dyn Fn(u64) -> Option<u32>) -> Unwind {
    match mode {
        // RBP frame: push rbp; mov rsp, rbp; registers saved from rbp - 8 * offset up.
        1 => {
            let offset = ((e >> 16) & 0xff) as i64;
            let mut rules = vec![
                (CFA, Rule::RegPlus(6, 16)),
                (RA, Rule::AtCfa(-8)),
                (6, Rule::AtCfa(-16)),
            ];
            for i in 0..5 {
                let r = (e >> (3 * i)) & 7;
                if r == 0 {
                    continue;
                }
                match X64_REGS.get(r as usize) {
                    Some(&reg) if r != 6 => rules.push((reg, Rule::AtCfa(-16 - 8 * offset + 8 * i as i64))),
                    _ => return Unwind::Bad("a saved register number out of range"),
                }
            }
            Unwind::Rules(dedup(rules))
        }
        // Frameless: the stack size (return address and pushes included) is the immediate
        // (mode 2, in words) or the `sub` instruction's operand plus the pushes (mode 3).
        2 | 3 => {
            let field = (e >> 16) & 0xff;
            let size = if mode == 2 {
                field as i64 * 8
            } else {
                let adjust = ((e >> 13) & 7) as i64;
                match text(func + field as u64) {
                    Some(imm) => imm as i64 + 8 * adjust,
                    None => return Unwind::Bad("the stack size's instruction is outside the code"),
                }
            };
            let count = ((e >> 10) & 7) as usize;
            let saved = match permutation(count, e & 0x3ff) {
                Some(s) => s,
                None => return Unwind::Bad("an impossible register permutation"),
            };
            if size < 8 + 8 * count as i64 {
                return Unwind::Bad("a stack size smaller than its saved registers");
            }
            let mut rules = vec![(CFA, Rule::RegPlus(7, size)), (RA, Rule::AtCfa(-8))];
            for (i, r) in saved.iter().enumerate() {
                rules.push((X64_REGS[*r as usize], Rule::AtCfa(-8 - 8 * count as i64 + 8 * i as i64)));
            }
            Unwind::Rules(dedup(rules))
        }
        4 => Unwind::Dwarf((e & 0x00ff_ffff) as u64),
        _ => Unwind::None,
    }
}

/// The saved registers of a frameless x86_64 function, lowest address first, from the
/// permutation's factorial-base number (each digit an index among the registers not yet
/// used).
fn permutation(count: usize, mut p: u32) -> Option<Vec<u8>> {
    if count > 6 {
        return None;
    }
    // Digit radices for `count` registers out of 6: 6*5*4*3*2 ... from the first.
    let mut digits = [0u32; 6];
    let radices: &[u32] = match count {
        6 => &[120, 24, 6, 2, 1],
        5 => &[120, 24, 6, 2, 1],
        4 => &[60, 12, 3, 1],
        3 => &[20, 4, 1],
        2 => &[5, 1],
        1 => &[1],
        _ => &[],
    };
    for (i, r) in radices.iter().enumerate() {
        digits[i] = p / r;
        p -= digits[i] * r;
    }
    let mut used = [false; 7];
    let mut out = Vec::with_capacity(count);
    for d in digits.iter().take(count) {
        let mut free = 0;
        let mut found = None;
        for (u, taken) in used.iter_mut().enumerate().skip(1) {
            if !*taken {
                if free == *d {
                    *taken = true;
                    found = Some(u as u8);
                    break;
                }
                free += 1;
            }
        }
        out.push(found?);
    }
    Some(out)
}

fn arm64(mode: u32, e: u32) -> Unwind {
    // Register pairs x19/x20 ... x27/x28, then d8/d9 ... d14/d15 (not tracked: the walker
    // keeps x0-x30, sp and pc, but their slots take room).
    let pairs = |rules: &mut Vec<(u16, Rule)>, mut at: i64| {
        for (bit, first) in [(0x1u32, 19u16), (0x2, 21), (0x4, 23), (0x8, 25), (0x10, 27)] {
            if e & bit != 0 {
                rules.push((first, Rule::AtCfa(at)));
                rules.push((first + 1, Rule::AtCfa(at - 8)));
                at -= 16;
            }
        }
    };
    match mode {
        // Frame: stp x29, x30, [sp, #-16]!; mov x29, sp; pairs saved below the frame record.
        4 => {
            let mut rules = vec![
                (CFA, Rule::RegPlus(29, 16)),
                (RA, Rule::AtCfa(-8)),
                (29, Rule::AtCfa(-16)),
            ];
            pairs(&mut rules, -24);
            Unwind::Rules(dedup(rules))
        }
        // Frameless (a leaf): the return address stays in lr; pairs at the top of the frame.
        2 => {
            let size = ((e >> 12) & 0xfff) as i64 * 16;
            let mut rules = vec![(CFA, Rule::RegPlus(31, size)), (RA, Rule::Same)];
            pairs(&mut rules, -8);
            if rules.iter().any(|r| matches!(r.1, Rule::AtCfa(o) if o < -size)) {
                return Unwind::Bad("a stack size smaller than its saved registers");
            }
            Unwind::Rules(dedup(rules))
        }
        3 => Unwind::Dwarf((e & 0x00ff_ffff) as u64),
        _ => Unwind::None,
    }
}

/// A register named twice (a damaged encoding) keeps its first rule.
fn dedup(mut rules: Vec<(u16, Rule)>) -> Vec<(u16, Rule)> {
    let mut seen: Vec<u16> = Vec::with_capacity(rules.len());
    rules.retain(|r| {
        if seen.contains(&r.0) {
            false
        } else {
            seen.push(r.0);
            true
        }
    });
    rules
}
