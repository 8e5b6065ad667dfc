//! Building a CFI cache: DWARF CFI from ELF/Mach-O sections through gimli's
//! `UnwindTable`, Breakpad `STACK CFI` / `STACK WIN` records from `.sym` text.

use super::cache::{Arch, CfiBuilder, Rule, WinRecord, CFA, RA};
use super::compact;
use super::invalid;
use crate::error::Result;
use crate::native::source::{for_each_line, Source};
use gimli::UnwindSection;
use object::{Object, ObjectSection, ObjectSegment, ReadRef, SectionKind};

/// Rows one cache may hold (about 16 bytes each, plus rules).
pub const MAX_ROWS: usize = 8 << 20;
/// `DW_CFA_remember_state` nesting a CFI program may reach (deeper programs are refused
/// for that FDE, so a program cannot grow the builder's memory).
const MAX_STATE_DEPTH: usize = 16;
/// Rules one row may set.
const MAX_ROW_RULES: usize = 64;

/// A built cache and what the build skipped.
#[derive(Debug)]
pub struct Built {
    /// The cache's bytes (FORMAT.md).
    pub bytes: Vec<u8>,
    /// Rows in it.
    pub rows: usize,
    /// One line per kind of thing skipped.
    pub warnings: Vec<String>,
}

struct Bounded;

impl<R: gimli::Reader> gimli::UnwindContextStorage<R> for Bounded {
    type Rules = [(gimli::Register, gimli::RegisterRule<R>); MAX_ROW_RULES];
    type Stack = [gimli::UnwindTableRow<R, Self>; MAX_STATE_DEPTH];
}

/// Whether an object file has unwind information pysym reads (`.eh_frame`,
/// `.debug_frame` with contents, Mach-O `__unwind_info` with contents, an x86_64 PE image's
/// `.pdata`).
pub fn has_unwind_info<'a, R: ReadRef<'a>>(file: &object::File<'a, R>) -> bool {
    super::pdata::has_pdata(file)
        || [".eh_frame", ".debug_frame"].iter().any(|n| {
            file.section_by_name(n)
                .map_or(false, |s| s.size() > 0 && s.file_range().is_some())
        })
        || unwind_info(file).map_or(false, |d| !d.is_empty())
}

/// The contents of a Mach-O `__TEXT,__unwind_info` (a dSYM's copy has no contents).
fn unwind_info<'a, R: ReadRef<'a>>(file: &object::File<'a, R>) -> Option<std::borrow::Cow<'a, [u8]>> {
    if file.format() != object::BinaryFormat::MachO {
        return None;
    }
    let s = file
        .sections()
        .find(|s| s.name() == Ok("__unwind_info") && s.segment_name().ok().flatten() == Some("__TEXT"))?;
    s.file_range()?;
    s.uncompressed_data().ok()
}

/// Rows from compact unwind for the functions no DWARF FDE covers (`covered`, sorted
/// here): an encoding's rules for the whole function, or for DWARF mode the FDE at the
/// encoding's `__eh_frame` offset.
#[allow(clippy::too_many_arguments)]
fn compact_unwind<'a, 'd, R: ReadRef<'a>>(
    file: &object::File<'a, R>,
    info: &[u8],
    eh: Option<&(
        gimli::EhFrame<gimli::EndianSlice<'d, gimli::RunTimeEndian>>,
        gimli::BaseAddresses,
    )>,
    b: &mut CfiBuilder,
    arch: Arch,
    image_base: u64,
    covered: &mut [(u64, u64)],
    warnings: &mut Vec<String>,
) {
    let entries = compact::entries(info, warnings);
    // Disjoint and sorted: each entry finds its overlaps by binary search.
    covered.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(covered.len());
    for &(s, e) in covered.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let overlapping = |start: u64, end: u64| {
        let first = merged.partition_point(|c| c.1 <= start);
        merged[first..].iter().take_while(move |c| c.0 < end).copied()
    };
    // The code's sections, for the frameless-indirect stack sizes.
    let texts: Vec<(u64, std::borrow::Cow<'a, [u8]>)> = file
        .sections()
        .filter(|s| s.kind() == SectionKind::Text && s.file_range().is_some())
        .filter_map(|s| Some((s.address().wrapping_sub(image_base), s.uncompressed_data().ok()?)))
        .collect();
    let text = |rel: u64| -> Option<u32> {
        texts.iter().find_map(|(start, d)| {
            let at = usize::try_from(rel.checked_sub(*start)?).ok()?;
            let w = d.get(at..at.checked_add(4)?)?;
            Some(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        })
    };
    let mut ctx = Box::new(gimli::UnwindContext::<_, Bounded>::new_in());
    let (mut bad, mut first_bad, mut no_fde) = (0usize, "", 0usize);
    for e in entries {
        let rules = match compact::unwind(arch, e.encoding, e.start, &text) {
            compact::Unwind::None => continue,
            compact::Unwind::Bad(why) => {
                bad += 1;
                if first_bad.is_empty() {
                    first_bad = why;
                }
                continue;
            }
            compact::Unwind::Rules(r) => r,
            compact::Unwind::Dwarf(offset) => {
                if overlapping(e.start, e.end).next().is_some() {
                    continue; // its FDE was read with the rest of __eh_frame
                }
                let read = eh.map_or(false, |(sec, bases)| {
                    let fde = match sec.fde_from_offset(bases, gimli::EhFrameOffset(offset as usize), |s, bases, o| {
                        s.cie_from_offset(bases, o)
                    }) {
                        Ok(f) => f,
                        Err(_) => return false,
                    };
                    let start = fde.initial_address().wrapping_sub(image_base);
                    fde.initial_address() >= image_base
                        && start <= e.start
                        && e.start < start.saturating_add(fde.len())
                        && fde_rows(sec, bases, &mut ctx, &fde, b, arch, image_base, 0).is_ok()
                });
                if !read {
                    no_fde += 1;
                }
                continue;
            }
        };
        // Only where no FDE describes the code.
        let mut from = e.start;
        for (s, t) in overlapping(e.start, e.end) {
            if s > from {
                b.add_rules(from, s, 2, rules.clone());
            }
            from = from.max(t);
        }
        if from < e.end {
            b.add_rules(from, e.end, 2, rules);
        }
    }
    if bad > 0 {
        warnings.push(format!(
            "__unwind_info: {} encodings skipped (first: {})",
            bad, first_bad
        ));
    }
    if no_fde > 0 {
        warnings.push(format!(
            "__unwind_info: {} DWARF-mode functions without an FDE at their __eh_frame offset",
            no_fde
        ));
    }
}

/// Builds the cache of an object file, addresses relative to `image_base`.
pub fn from_object<'a, R: ReadRef<'a>>(file: &object::File<'a, R>, arch: Arch, image_base: u64) -> Result<Built> {
    let mut b = CfiBuilder::new(arch, MAX_ROWS);
    let mut warnings = Vec::new();
    for s in file.sections() {
        if s.kind() == SectionKind::Text && s.size() > 0 {
            let start = s.address().wrapping_sub(image_base);
            b.add_code(start, start.saturating_add(s.size()));
        }
    }
    if file.sections().next().is_none() {
        // Section headers stripped: the executable segments stand in.
        for seg in file.segments() {
            if let object::SegmentFlags::Elf { p_flags } = seg.flags() {
                if p_flags & 1 != 0 {
                    let start = seg.address().wrapping_sub(image_base);
                    b.add_code(start, start.saturating_add(seg.size()));
                }
            }
        }
    }
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let address_size = if file.is_64() { 8 } else { 4 };
    let addr = |name: &str| file.section_by_name(name).map(|s| s.address());
    let mut bases = gimli::BaseAddresses::default();
    if let Some(a) = addr(".eh_frame_hdr") {
        bases = bases.set_eh_frame_hdr(a);
    }
    if let Some(a) = addr(".text") {
        bases = bases.set_text(a);
    }
    if let Some(a) = addr(".got") {
        bases = bases.set_got(a);
    }
    if arch == Arch::X86_64 && super::pdata::has_pdata(file) {
        // What the Windows unwinder reads: it wins over any DWARF CFI (mingw images).
        super::pdata::read(file, image_base, &mut b, 0, &mut warnings);
    }
    // .eh_frame first: where both describe an address, the loaded one wins (priority 0).
    let mut covered = Vec::new();
    let eh = match file.section_by_name(".eh_frame").filter(|s| s.file_range().is_some()) {
        Some(s) => Some((
            s.uncompressed_data()
                .map_err(|e| invalid(format!("malformed .eh_frame: {}", e)))?,
            s.address(),
        )),
        None => None,
    };
    if let Some((data, address)) = &eh {
        let mut sec = gimli::EhFrame::new(data, endian);
        sec.set_address_size(address_size);
        let bases = bases.clone().set_eh_frame(*address);
        read_section(
            &sec,
            &bases,
            &mut b,
            arch,
            image_base,
            0,
            ".eh_frame",
            &mut warnings,
            &mut covered,
        );
    }
    if let Some(s) = file
        .section_by_name(".debug_frame")
        .filter(|s| s.file_range().is_some())
    {
        let data = s
            .uncompressed_data()
            .map_err(|e| invalid(format!("malformed .debug_frame: {}", e)))?;
        let mut sec = gimli::DebugFrame::new(&data, endian);
        sec.set_address_size(address_size);
        read_section(
            &sec,
            &bases,
            &mut b,
            arch,
            image_base,
            1,
            ".debug_frame",
            &mut warnings,
            &mut covered,
        );
    }
    if let Some(info) = unwind_info(file) {
        let eh = eh.as_ref().map(|(data, address)| {
            let mut sec = gimli::EhFrame::new(data, endian);
            sec.set_address_size(address_size);
            (sec, bases.clone().set_eh_frame(*address))
        });
        compact_unwind(
            file,
            &info,
            eh.as_ref(),
            &mut b,
            arch,
            image_base,
            &mut covered,
            &mut warnings,
        );
    }
    if b.dropped > 0 {
        warnings.push(format!(
            "{} rows left out: more than {} in the file",
            b.dropped, MAX_ROWS
        ));
    }
    let rows = b.len();
    Ok(Built {
        bytes: b.finish(),
        rows,
        warnings,
    })
}

#[allow(clippy::too_many_arguments)]
fn read_section<'d, S: UnwindSection<gimli::EndianSlice<'d, gimli::RunTimeEndian>>>(
    sec: &S,
    bases: &gimli::BaseAddresses,
    b: &mut CfiBuilder,
    arch: Arch,
    image_base: u64,
    priority: u8,
    name: &str,
    warnings: &mut Vec<String>,
    covered: &mut Vec<(u64, u64)>,
) {
    let mut ctx = Box::new(gimli::UnwindContext::<_, Bounded>::new_in());
    let ctx = &mut *ctx;
    let mut bad_fdes = 0u64;
    let mut first_error = String::new();
    let mut entries = sec.entries(bases);
    loop {
        let entry = match entries.next() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => {
                // A damaged length: nothing after it can be found.
                warnings.push(format!("{}: stopped at a damaged entry ({})", name, e));
                break;
            }
        };
        let partial = match entry {
            gimli::CieOrFde::Cie(_) => continue,
            gimli::CieOrFde::Fde(p) => p,
        };
        let result = partial
            .parse(|s, bases, o| s.cie_from_offset(bases, o))
            .and_then(|fde| {
                let range = (
                    fde.initial_address().wrapping_sub(image_base),
                    fde.initial_address().wrapping_add(fde.len()).wrapping_sub(image_base),
                );
                fde_rows(sec, bases, ctx, &fde, b, arch, image_base, priority)?;
                if fde.initial_address() >= image_base && range.0 < range.1 {
                    covered.push(range);
                }
                Ok(())
            });
        if let Err(e) = result {
            bad_fdes += 1;
            if first_error.is_empty() {
                first_error = e.to_string();
            }
        }
    }
    if bad_fdes > 0 {
        warnings.push(format!("{}: {} FDEs skipped (first: {})", name, bad_fdes, first_error));
    }
}

/// Adds the rows of one FDE (relative to `image_base`).
#[allow(clippy::too_many_arguments)]
fn fde_rows<'d, S: UnwindSection<gimli::EndianSlice<'d, gimli::RunTimeEndian>>>(
    sec: &S,
    bases: &gimli::BaseAddresses,
    ctx: &mut gimli::UnwindContext<gimli::EndianSlice<'d, gimli::RunTimeEndian>, Bounded>,
    fde: &gimli::FrameDescriptionEntry<gimli::EndianSlice<'d, gimli::RunTimeEndian>>,
    b: &mut CfiBuilder,
    arch: Arch,
    image_base: u64,
    priority: u8,
) -> gimli::Result<()> {
    let ra = fde.cie().return_address_register();
    let mut table = fde.rows(sec, bases, ctx)?;
    while let Some(row) = table.next_row()? {
        let mut rules = Vec::with_capacity(8);
        match row.cfa() {
            gimli::CfaRule::RegisterAndOffset { register, offset } => {
                rules.push((CFA, Rule::RegPlus(register.0, *offset)))
            }
            // DWARF expressions (PLT entries) are not evaluated: no rules here.
            gimli::CfaRule::Expression(_) => continue,
        }
        for (reg, rule) in row.registers() {
            let r = match rule {
                gimli::RegisterRule::Undefined => Rule::Undefined,
                gimli::RegisterRule::SameValue => Rule::Same,
                gimli::RegisterRule::Offset(o) => Rule::AtCfa(*o),
                gimli::RegisterRule::ValOffset(o) => Rule::CfaPlus(*o),
                gimli::RegisterRule::Register(r) => Rule::Register(r.0),
                _ => Rule::Undefined,
            };
            rules.push((if *reg == ra { RA } else { reg.0 }, r));
        }
        // gimli drops undefined rules (its default): on x86 a row without a
        // return address rule is the outermost frame (`_start`, `clone3`:
        // DW_CFA_undefined rip); ARM leaf functions keep theirs in lr.
        if !rules.iter().any(|r| r.0 == RA) {
            rules.push((
                RA,
                if matches!(arch, Arch::X86 | Arch::X86_64) {
                    Rule::Undefined
                } else {
                    Rule::Same
                },
            ));
        }
        if row.start_address() >= image_base {
            b.add_rules(
                row.start_address() - image_base,
                row.end_address().wrapping_sub(image_base),
                priority,
                rules,
            );
        }
    }
    Ok(())
}

/// Builds the cache of a Breakpad `.sym` file from its `STACK CFI` and `STACK WIN`
/// records (addresses are module offsets already).
pub fn from_breakpad<'a, S: Source<'a>>(src: &mut S) -> Result<Built> {
    let mut b: Option<CfiBuilder> = None;
    let mut warnings = Vec::new();
    let mut bad = 0u64;
    let mut first_bad = String::new();
    // The open STACK CFI INIT: its range and rules; deltas add to the rules.
    let mut init: Option<(u64, u64, Vec<(u16, Rule)>)> = None;
    let mut delta: Option<(u64, Vec<(u16, Rule)>)> = None;
    let mut line_no = 0usize;
    for_each_line(src, 0, u64::MAX, |_, raw| {
        line_no += 1;
        let line = match std::str::from_utf8(raw) {
            Ok(l) => l.trim_end_matches('\r'),
            Err(_) => return Ok(true),
        };
        if line_no == 1 {
            let arch = line.split(' ').nth(2).map_or(Arch::Unknown, Arch::from_name);
            b = Some(CfiBuilder::new(arch, MAX_ROWS));
            return Ok(true);
        }
        let b = match b.as_mut() {
            Some(b) => b,
            None => return Ok(false),
        };
        let rest = match line.strip_prefix("STACK ") {
            Some(r) => r,
            None => return Ok(true),
        };
        let ok = if let Some(cfi) = rest.strip_prefix("CFI ") {
            stack_cfi(b, cfi, &mut init, &mut delta)
        } else if let Some(win) = rest.strip_prefix("WIN ") {
            stack_win(b, win)
        } else {
            false
        };
        if !ok {
            bad += 1;
            if first_bad.is_empty() {
                first_bad = format!("line {}", line_no);
            }
        }
        Ok(true)
    })?;
    let mut b = b.ok_or_else(|| invalid("not a Breakpad symbol file"))?;
    flush_cfi(&mut b, &mut init, &mut delta, None);
    if bad > 0 {
        warnings.push(format!("{} STACK records skipped (first: {})", bad, first_bad));
    }
    if b.dropped > 0 {
        warnings.push(format!(
            "{} rows left out: more than {} in the file",
            b.dropped, MAX_ROWS
        ));
    }
    let rows = b.len();
    Ok(Built {
        bytes: b.finish(),
        rows,
        warnings,
    })
}

type Open = Option<(u64, u64, Vec<(u16, Rule)>)>;

/// Ends the row that started at the last delta (or the INIT) at `until`.
fn flush_cfi(b: &mut CfiBuilder, init: &mut Open, delta: &mut Option<(u64, Vec<(u16, Rule)>)>, next: Option<u64>) {
    if let Some((start, end, rules)) = init.as_ref() {
        let (from, rs) = match delta.as_ref() {
            Some((at, rs)) => (*at, rs.clone()),
            None => (*start, rules.clone()),
        };
        let until = next.map_or(*end, |n| n.min(*end));
        b.add_rules(from, until, 0, rs);
    }
}

fn stack_cfi(b: &mut CfiBuilder, rest: &str, init: &mut Open, delta: &mut Option<(u64, Vec<(u16, Rule)>)>) -> bool {
    if let Some(r) = rest.strip_prefix("INIT ") {
        let mut it = r.splitn(3, ' ');
        let (addr, size, rules) = match (it.next(), it.next(), it.next()) {
            (Some(a), Some(s), Some(r)) => (a, s, r),
            _ => return false,
        };
        let (addr, size) = match (u64::from_str_radix(addr, 16), u64::from_str_radix(size, 16)) {
            (Ok(a), Ok(s)) => (a, s),
            _ => return false,
        };
        flush_cfi(b, init, delta, None);
        *delta = None;
        let parsed = match parse_rules(b, rules, &[]) {
            Some(r) => r,
            None => {
                *init = None;
                return false;
            }
        };
        *init = Some((addr, addr.saturating_add(size), parsed));
        return true;
    }
    let (addr, rules) = match rest.split_once(' ') {
        Some(x) => x,
        None => return false,
    };
    let addr = match u64::from_str_radix(addr, 16) {
        Ok(a) => a,
        Err(_) => return false,
    };
    let base = match (init.as_ref(), delta.as_ref()) {
        (Some((s, e, _)), _) if addr < *s || addr >= *e => return false,
        (None, _) => return false,
        (Some(_), Some((at, rs))) if addr >= *at => rs.clone(),
        (Some((_, _, rs)), _) => rs.clone(),
    };
    flush_cfi(b, init, delta, Some(addr));
    match parse_rules(b, rules, &base) {
        Some(rs) => {
            *delta = Some((addr, rs));
            true
        }
        None => false,
    }
}

/// `".cfa: $rsp 8 + .ra: .cfa -8 + ^"` on top of `base`.
fn parse_rules(b: &mut CfiBuilder, text: &str, base: &[(u16, Rule)]) -> Option<Vec<(u16, Rule)>> {
    let arch = b.arch();
    let mut out: Vec<(u16, Rule)> = base.to_vec();
    let mut target: Option<u16> = None;
    let mut expr: Vec<&str> = Vec::new();
    let finish =
        |b: &mut CfiBuilder, target: Option<u16>, expr: &mut Vec<&str>, out: &mut Vec<(u16, Rule)>| -> Option<()> {
            let t = match target {
                Some(t) => t,
                None if expr.is_empty() => return Some(()),
                None => return None,
            };
            if expr.is_empty() {
                return None;
            }
            let rule = simple_rule(arch, t, expr).unwrap_or_else(|| {
                let (at, len) = b.string(&expr.join(" "));
                Rule::Expr(at, len)
            });
            out.retain(|r| r.0 != t);
            out.push((t, rule));
            expr.clear();
            Some(())
        };
    for tok in text.split(' ').filter(|t| !t.is_empty()) {
        if let Some(name) = tok.strip_suffix(':') {
            finish(b, target, &mut expr, &mut out)?;
            target = Some(match name {
                ".cfa" => CFA,
                ".ra" => RA,
                n => arch.register(n)?,
            });
        } else {
            expr.push(tok);
        }
    }
    finish(b, target, &mut expr, &mut out)?;
    Some(out)
}

fn number(t: &str) -> Option<i64> {
    if let Some(h) = t.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).ok();
    }
    t.parse::<i64>().ok()
}

/// The common shapes as rules (`$reg N +`, `.cfa N + ^`, `$reg`, `.cfa N +`); other
/// expressions stay postfix text.
fn simple_rule(arch: Arch, target: u16, e: &[&str]) -> Option<Rule> {
    let reg = |t: &str| if t.starts_with('$') { arch.register(t) } else { None };
    match *e {
        [r] if r == ".cfa" && target != CFA => Some(Rule::CfaPlus(0)),
        [r] => {
            let n = reg(r)?;
            Some(if n == target {
                Rule::Same
            } else if target == CFA {
                Rule::RegPlus(n, 0)
            } else {
                Rule::Register(n)
            })
        }
        [r, k, op] => {
            let k = number(k)?;
            let k = match op {
                "+" => k,
                "-" => k.checked_neg()?,
                _ => return None,
            };
            if r == ".cfa" {
                (target != CFA).then(|| Rule::CfaPlus(k))
            } else {
                Some(Rule::RegPlus(reg(r)?, k))
            }
        }
        [r, k, op, "^"] if r == ".cfa" && target != CFA => {
            let k = number(k)?;
            match op {
                "+" => Some(Rule::AtCfa(k)),
                "-" => Some(Rule::AtCfa(k.checked_neg()?)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `type rva code_size prologue epilogue params saved_regs locals max_stack has_program
/// program_or_allocates_bp`.
fn stack_win(b: &mut CfiBuilder, rest: &str) -> bool {
    let f: Vec<&str> = rest.splitn(11, ' ').collect();
    if f.len() < 11 {
        return false;
    }
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    let (kind, rva, size) = match (hex(f[0]), u64::from_str_radix(f[1], 16).ok(), hex(f[2])) {
        (Some(k), Some(r), Some(s)) => (k, r, s),
        _ => return false,
    };
    let (params, saved, locals) = match (hex(f[5]), hex(f[6]), hex(f[7])) {
        (Some(p), Some(s), Some(l)) => (p, s, l),
        _ => return false,
    };
    let has_program = f[9] == "1";
    let (flags, program) = if has_program {
        (2, b.string(f[10]))
    } else {
        (u32::from(f[10].trim() == "1"), (0, 0))
    };
    // FrameData (4) records win over FPO (0) ones for the same code.
    let priority = if kind == 4 { 0 } else { 1 };
    if kind != 4 && kind != 0 {
        return true;
    }
    b.add_win(
        rva,
        rva + size as u64,
        priority,
        WinRecord {
            parameter_size: params,
            saved_register_size: saved,
            local_size: locals,
            flags,
            program,
        },
    );
    true
}
