//! Windows x64 unwind information: `.pdata` (RUNTIME_FUNCTION entries) and the
//! UNWIND_INFO they point at (`.xdata`), turned into cache rows.
//!
//! The unwind codes of a function are replayed symbolically, the way the Windows unwinder
//! runs them, with every address kept as "a callee register + a constant". A code
//! describes a prologue instruction and takes effect once the pc is past it (its offset),
//! so a function gives one row per prologue step and one for the body. Chained infos
//! (`UNW_FLAG_CHAININFO`: the parent function's prologue) are applied in full after the
//! function's own codes, at most [`MAX_CHAIN`] deep.
//!
//! Not read: epilogues. The Windows unwinder recognises an epilogue from the instruction
//! bytes; only the innermost frame can stop inside one, and it is unwound with the body's
//! rules (the plausibility checks of the walker then decide).

use super::cache::{CfiBuilder, Rule, CFA, RA};
use object::{Object, ObjectSection};

/// Chained infos followed from one function (real ones chain once or twice).
pub const MAX_CHAIN: usize = 8;
/// Unwind codes replayed for one image (one per code, prologue step and chain link: a
/// large real image needs a few tens of millions); the rest of `.pdata` is left out.
pub const MAX_STEPS: u64 = 1 << 27;

const RSP: u16 = 7;
/// DWARF numbers of the Windows register numbers (rax rcx rdx rbx rsp rbp rsi rdi r8-r15).
const DWARF: [u16; 16] = [0, 2, 1, 3, 7, 6, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15];
const NAMES: [&str; 16] = [
    "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
];

const UNW_FLAG_CHAININFO: u8 = 4;
const PUSH_NONVOL: u8 = 0;
const ALLOC_LARGE: u8 = 1;
const ALLOC_SMALL: u8 = 2;
const SET_FPREG: u8 = 3;
const SAVE_NONVOL: u8 = 4;
const SAVE_NONVOL_FAR: u8 = 5;
const EPILOG: u8 = 6;
const SPARE: u8 = 7;
const SAVE_XMM128: u8 = 8;
const SAVE_XMM128_FAR: u8 = 9;
const PUSH_MACHFRAME: u8 = 10;

/// Whether `file` is an x86_64 PE image with a `.pdata` section.
pub fn has_pdata<'a, R: object::ReadRef<'a>>(file: &object::File<'a, R>) -> bool {
    file.format() == object::BinaryFormat::Pe
        && file.architecture() == object::Architecture::X86_64
        && file
            .section_by_name(".pdata")
            .map_or(false, |s| s.size() >= 12 && s.file_range().is_some())
}

/// The image's sections by RVA, to read UNWIND_INFO wherever the linker put it.
struct Image<'d> {
    sections: Vec<(u64, &'d [u8])>,
}

impl<'d> Image<'d> {
    fn bytes(&self, rva: u32, len: usize) -> Option<&'d [u8]> {
        let rva = rva as u64;
        self.sections.iter().find_map(|&(start, data)| {
            let off = rva.checked_sub(start)? as usize;
            data.get(off..off.checked_add(len)?)
        })
    }

    fn u32_at(&self, rva: u32) -> Option<u32> {
        self.bytes(rva, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A value: a callee register's value + a constant (`deref`: the word at that address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Loc {
    base: u16,
    off: i64,
}

impl Loc {
    fn plus(self, n: i64) -> Loc {
        Loc {
            base: self.base,
            off: self.off.wrapping_add(n),
        }
    }

    /// The postfix expression of the address (Breakpad syntax, as `STACK CFI` rules).
    fn expr(self) -> String {
        let name = NAMES.get(self.base as usize).copied().unwrap_or("rsp");
        if self.off < 0 {
            format!("${} {} -", name, self.off.unsigned_abs())
        } else {
            format!("${} {} +", name, self.off)
        }
    }
}

/// The result of replaying one function at one prologue offset.
#[derive(Debug, Default)]
struct State {
    /// The callee's stack pointer as unwinding goes (the caller's, minus the return address).
    cur: Option<Loc>,
    /// Where each restored register was saved (DWARF number, address).
    saved: Vec<(u16, Loc)>,
    /// A machine frame: the return address and the caller's stack pointer are stored at
    /// these addresses instead.
    machframe: Option<(Loc, Loc)>,
}

/// Why a function gives no rows.
enum Skip {
    /// Damaged or out of the image.
    Malformed,
    /// Valid, but not expressible as rows (a frame register restored before use, codes past
    /// a machine frame, too deep a chain).
    Unsupported,
    /// [`MAX_STEPS`] reached.
    Budget,
}

struct Info<'d> {
    /// Version 2 adds epilogue codes (skipped here).
    version2: bool,
    frame_reg: u8,
    frame_offset: u8,
    codes: &'d [u8],
    /// The chained RUNTIME_FUNCTION's unwind info RVA.
    chained: Option<u32>,
}

fn info_at<'d>(img: &Image<'d>, rva: u32) -> Option<Info<'d>> {
    let head = img.bytes(rva, 4)?;
    let (version, flags) = (head[0] & 7, head[0] >> 3);
    if version != 1 && version != 2 {
        return None;
    }
    let count = head[2] as usize;
    let codes = img.bytes(rva.checked_add(4)?, count * 2)?;
    let chained = if flags & UNW_FLAG_CHAININFO != 0 {
        // After the codes (an even number of slots): a RUNTIME_FUNCTION.
        let at = rva.checked_add(4 + ((count as u32 + 1) & !1) * 2)?;
        Some(img.u32_at(at.checked_add(8)?)?)
    } else {
        None
    };
    Some(Info {
        version2: version == 2,
        frame_reg: head[3] & 15,
        frame_offset: head[3] >> 4,
        codes,
        chained,
    })
}

/// Slots (2 bytes each) a code takes.
fn slots(op: u8, info: u8, version: bool) -> usize {
    match op {
        ALLOC_LARGE => {
            if info == 0 {
                2
            } else {
                3
            }
        }
        SAVE_NONVOL | SAVE_XMM128 => 2,
        SAVE_NONVOL_FAR | SAVE_XMM128_FAR => 3,
        EPILOG if version => 2,
        SPARE => 3,
        _ => 1,
    }
}

fn u16_slot(codes: &[u8], i: usize) -> Option<u32> {
    Some(u16::from_le_bytes([*codes.get(2 * i)?, *codes.get(2 * i + 1)?]) as u32)
}

fn u32_slots(codes: &[u8], i: usize) -> Option<u32> {
    Some(u16_slot(codes, i)? | u16_slot(codes, i + 1)? << 16)
}

/// Replays the unwind info at `rva` for a pc `prolog_offset` bytes into its function.
fn replay(img: &Image<'_>, mut rva: u32, mut prolog_offset: u32, steps: &mut u64) -> Result<State, Skip> {
    let mut st = State {
        cur: Some(Loc { base: RSP, off: 0 }),
        ..State::default()
    };
    for _ in 0..=MAX_CHAIN {
        if rva & 1 != 0 {
            // An indirect entry: the RVA of a RUNTIME_FUNCTION whose info applies.
            rva = img
                .u32_at((rva & !1).checked_add(8).ok_or(Skip::Malformed)?)
                .ok_or(Skip::Malformed)?;
            if rva & 1 != 0 {
                return Err(Skip::Unsupported);
            }
        }
        let info = info_at(img, rva).ok_or(Skip::Malformed)?;
        let version2 = info.version2;
        let codes = info.codes;
        let n = codes.len() / 2;
        *steps += n as u64 + 1;
        if *steps > MAX_STEPS {
            return Err(Skip::Budget);
        }
        let applies = |i: usize| codes[2 * i] as u32 <= prolog_offset;
        // The establisher frame: the frame register (less its offset) once it is set up.
        let mut fp_set = false;
        let mut i = 0;
        while i < n {
            let (op, opinfo) = (codes[2 * i + 1] & 15, codes[2 * i + 1] >> 4);
            if op == SET_FPREG && applies(i) {
                fp_set = true;
            }
            i += slots(op, opinfo, version2);
        }
        let cur = st.cur.ok_or(Skip::Unsupported)?;
        let frame = if fp_set {
            if info.frame_reg == 0 {
                return Err(Skip::Malformed);
            }
            let reg = DWARF[info.frame_reg as usize];
            if st.saved.iter().any(|s| s.0 == reg) {
                // Already restored from memory by an earlier code.
                return Err(Skip::Unsupported);
            }
            Loc {
                base: reg,
                off: -16 * info.frame_offset as i64,
            }
        } else {
            cur
        };
        let mut cur = cur;
        let mut i = 0;
        while i < n {
            let (op, opinfo) = (codes[2 * i + 1] & 15, codes[2 * i + 1] >> 4);
            let size = slots(op, opinfo, version2);
            if i + size > n {
                return Err(Skip::Malformed);
            }
            if !applies(i) || (op == EPILOG && version2) || op == SPARE {
                i += size;
                continue;
            }
            if st.machframe.is_some() {
                return Err(Skip::Unsupported);
            }
            let save = |st: &mut State, reg: u8, at: Loc| {
                let r = DWARF[reg as usize];
                st.saved.retain(|s| s.0 != r);
                st.saved.push((r, at));
            };
            match op {
                PUSH_NONVOL => {
                    save(&mut st, opinfo, cur);
                    cur = cur.plus(8);
                }
                ALLOC_SMALL => cur = cur.plus(opinfo as i64 * 8 + 8),
                ALLOC_LARGE => {
                    let bytes = if opinfo == 0 {
                        u16_slot(codes, i + 1).map(|v| v as i64 * 8)
                    } else {
                        u32_slots(codes, i + 1).map(|v| v as i64)
                    };
                    cur = cur.plus(bytes.ok_or(Skip::Malformed)?);
                }
                SET_FPREG => cur = frame,
                SAVE_NONVOL => save(
                    &mut st,
                    opinfo,
                    frame.plus(u16_slot(codes, i + 1).ok_or(Skip::Malformed)? as i64 * 8),
                ),
                SAVE_NONVOL_FAR => save(
                    &mut st,
                    opinfo,
                    frame.plus(u32_slots(codes, i + 1).ok_or(Skip::Malformed)? as i64),
                ),
                // The vector registers are not part of the walk.
                SAVE_XMM128 | SAVE_XMM128_FAR => {}
                PUSH_MACHFRAME => {
                    let at = if opinfo == 1 {
                        cur.plus(8)
                    } else if opinfo == 0 {
                        cur
                    } else {
                        return Err(Skip::Malformed);
                    };
                    st.machframe = Some((at, at.plus(24)));
                }
                _ => return Err(Skip::Malformed),
            }
            i += size;
        }
        st.cur = Some(cur);
        match info.chained {
            Some(next) => {
                rva = next;
                prolog_offset = u32::MAX;
            }
            None => return Ok(st),
        }
    }
    Err(Skip::Unsupported)
}

/// The rules of a replayed state.
fn rules(b: &mut CfiBuilder, st: &State) -> Vec<(u16, Rule)> {
    let mut out = Vec::with_capacity(st.saved.len() + 2);
    let expr = |b: &mut CfiBuilder, loc: Loc| {
        let (at, len) = b.string(&format!("{} ^", loc.expr()));
        Rule::Expr(at, len)
    };
    match (st.machframe, st.cur) {
        (Some((ra, sp)), _) => {
            out.push((CFA, expr(b, sp)));
            out.push((RA, expr(b, ra)));
            for &(r, at) in &st.saved {
                out.push((r, expr(b, at)));
            }
        }
        (None, Some(cur)) => {
            let cfa = cur.plus(8);
            out.push((CFA, Rule::RegPlus(cfa.base, cfa.off)));
            out.push((RA, Rule::AtCfa(-8)));
            for &(r, at) in &st.saved {
                let rule = if at.base == cfa.base {
                    Rule::AtCfa(at.off.wrapping_sub(cfa.off))
                } else {
                    expr(b, at)
                };
                out.push((r, rule));
            }
        }
        (None, None) => {}
    }
    out
}

/// Adds the rows of every RUNTIME_FUNCTION of `file` (addresses relative to `image_base`)
/// with `priority`; one warning line per kind of function skipped.
pub fn read<'a, R: object::ReadRef<'a>>(
    file: &object::File<'a, R>,
    image_base: u64,
    b: &mut CfiBuilder,
    priority: u8,
    warnings: &mut Vec<String>,
) {
    let pdata = match file.section_by_name(".pdata").and_then(|s| s.data().ok()) {
        Some(d) => d,
        None => return,
    };
    let img = Image {
        sections: file
            .sections()
            .filter_map(|s| Some((s.address().checked_sub(image_base)?, s.data().ok()?)))
            .collect(),
    };
    let (mut malformed, mut unsupported) = (0u64, 0u64);
    let mut steps = 0u64;
    let mut left_out = 0usize;
    let mut offsets: Vec<u32> = Vec::new();
    for (index, entry) in pdata.chunks_exact(12).enumerate() {
        let word = |i: usize| u32::from_le_bytes([entry[i], entry[i + 1], entry[i + 2], entry[i + 3]]);
        let (begin, end, unwind) = (word(0), word(4), word(8));
        if begin == 0 && end == 0 {
            continue; // padding
        }
        if end <= begin {
            malformed += 1;
            continue;
        }
        // The prologue steps: offsets where the function's own codes take effect.
        offsets.clear();
        offsets.push(0);
        let own = if unwind & 1 == 0 { info_at(&img, unwind) } else { None };
        if let Some(info) = &own {
            let mut i = 0;
            while 2 * i + 1 < info.codes.len() {
                let (off, op) = (info.codes[2 * i] as u32, info.codes[2 * i + 1]);
                if off != 0 && off < end - begin && !(op & 15 == EPILOG && info.version2) {
                    offsets.push(off);
                }
                i += slots(op & 15, op >> 4, info.version2);
            }
        } else if unwind & 1 == 0 {
            malformed += 1;
            continue;
        }
        offsets.sort_unstable();
        offsets.dedup();
        // All steps or none: a function is not half described.
        let states: Result<Vec<State>, Skip> = offsets
            .iter()
            .map(|&off| replay(&img, unwind, off, &mut steps))
            .collect();
        match states {
            Ok(states) => {
                for (k, st) in states.iter().enumerate() {
                    let start = begin + offsets[k];
                    let stop = offsets.get(k + 1).map_or(end, |&o| begin + o);
                    let r = rules(b, st);
                    b.add_rules(start as u64, stop as u64, priority, r);
                }
            }
            Err(Skip::Malformed) => malformed += 1,
            Err(Skip::Unsupported) => unsupported += 1,
            Err(Skip::Budget) => {
                left_out = pdata.len() / 12 - index;
                break;
            }
        }
    }
    if left_out > 0 {
        warnings.push(format!(
            ".pdata: {} functions left out: their unwind codes are more than {} steps",
            left_out, MAX_STEPS
        ));
    }
    if malformed > 0 {
        warnings.push(format!(
            ".pdata: {} functions with damaged unwind info skipped",
            malformed
        ));
    }
    if unsupported > 0 {
        warnings.push(format!(
            ".pdata: {} functions whose unwind info is not expressible as rules skipped",
            unsupported
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image of one section at RVA 0: UNWIND_INFOs at the given offsets.
    fn image(infos: &[(usize, Vec<u8>)]) -> Vec<u8> {
        let mut v = vec![0u8; 0x400];
        for (at, bytes) in infos {
            v[*at..*at + bytes.len()].copy_from_slice(bytes);
        }
        v
    }

    fn chained(count_codes: &[u8], next: u32) -> Vec<u8> {
        let n = count_codes.len() / 2;
        let mut v = vec![1 | (UNW_FLAG_CHAININFO << 3), 0, n as u8, 0];
        v.extend_from_slice(count_codes);
        if n % 2 == 1 {
            v.extend_from_slice(&[0, 0]);
        }
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&next.to_le_bytes());
        v
    }

    #[test]
    fn prologue_steps_and_chains() {
        // push rbx (offset 1), sub rsp 0x20 (offset 5); a child chained to it pushing rsi.
        let data = image(&[
            (0x100, vec![1, 5, 2, 0, 5, 0x32, 1, 0x30]),
            (0x200, chained(&[1, 0x60], 0x100)),
        ]);
        let img = Image {
            sections: vec![(0, &data[..])],
        };
        let mut steps = 0;
        let at = |po, steps: &mut u64| replay(&img, 0x100, po, steps).ok().unwrap();
        let st = at(0, &mut steps);
        assert_eq!((st.cur, st.saved.len()), (Some(Loc { base: RSP, off: 0 }), 0));
        let st = at(1, &mut steps);
        assert_eq!(
            (st.cur, st.saved.clone()),
            (Some(Loc { base: RSP, off: 8 }), vec![(3, Loc { base: RSP, off: 0 })])
        );
        assert_eq!(at(5, &mut steps).cur, Some(Loc { base: RSP, off: 40 }));
        // The child at its start: the parent's prologue in full.
        let st = replay(&img, 0x200, 0, &mut steps).ok().unwrap();
        assert_eq!(st.cur, Some(Loc { base: RSP, off: 40 }));
        let st = replay(&img, 0x200, 1, &mut steps).ok().unwrap();
        assert_eq!(st.cur, Some(Loc { base: RSP, off: 48 }));
        assert_eq!(
            st.saved,
            vec![(4, Loc { base: RSP, off: 0 }), (3, Loc { base: RSP, off: 40 })]
        );
    }

    #[test]
    fn hostile_chains_and_codes_end() {
        // An info chained to itself, and a chain one longer than the limit.
        let mut infos = vec![(0x100, chained(&[1, 0x30], 0x100))];
        for i in 0..=MAX_CHAIN {
            infos.push((0x200 + 0x20 * i, chained(&[], (0x200 + 0x20 * (i + 1)) as u32)));
        }
        infos.push((0x200 + 0x20 * (MAX_CHAIN + 1), vec![1, 0, 0, 0]));
        // Codes running past their count, an unknown code, a version 3 info.
        infos.push((0x380, vec![1, 4, 1, 0, 4, 0x01]));
        infos.push((0x3a0, vec![1, 1, 1, 0, 1, 0x0b]));
        infos.push((0x3c0, vec![3, 0, 0, 0]));
        let data = image(&infos);
        let img = Image {
            sections: vec![(0, &data[..])],
        };
        let mut steps = 0;
        assert!(matches!(replay(&img, 0x100, 0, &mut steps), Err(Skip::Unsupported)));
        assert!(matches!(replay(&img, 0x200, 0, &mut steps), Err(Skip::Unsupported)));
        assert!(replay(&img, 0x200 + 0x20, 0, &mut steps).is_ok());
        for rva in [0x380, 0x3a0, 0x3c0, 0x3f0, 0xffff_fff0] {
            assert!(
                matches!(replay(&img, rva, 0xff, &mut steps), Err(Skip::Malformed)),
                "{:#x}",
                rva
            );
        }
        let mut spent = MAX_STEPS;
        assert!(matches!(replay(&img, 0x200 + 0x20, 0, &mut spent), Err(Skip::Budget)));
    }
}
