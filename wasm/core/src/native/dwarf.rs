//! DWARF to symcache ranges in one linear pass per compilation unit.
//!
//! The answers are the ones `addr2line::Context::find_frames` gives at every line-table
//! row address (the builder used it per row before; tests compare with
//! llvm-symbolizer), but each unit is read once and dropped before the next:
//!
//! 1. All units: the row addresses of every line program (the range boundaries) and the
//!    unit address ranges (`DW_AT_ranges`, `.debug_aranges`, low/high pc, else the line
//!    sequences), sorted like addr2line's so the same unit wins where units overlap.
//! 2. Per unit with rows to answer: one walk of the DIE tree collects subprograms and
//!    inlined subroutines (ranges, names through abstract origins and specifications,
//!    call sites); the line program is run once; every row address is answered from
//!    those arrays with addr2line's own searches (so overlapping or odd DWARF resolves
//!    identically), and frame chains are interned once per distinct chain.

use super::warnings::Warnings;
use super::{demangle, dwarf_err, in_ranges};
use crate::error::Result;
use crate::symcache::{FrameSpec, SymCacheWriter, NONE};
use std::borrow::Cow;
use std::cmp::Ordering;
use crate::hash::FastMap;

type Reader<'s> = gimli::EndianSlice<'s, gimli::RunTimeEndian>;
type Dwarf<'s> = gimli::Dwarf<Reader<'s>>;
type Unit<'s> = gimli::Unit<Reader<'s>>;

/// Hops through `DW_AT_abstract_origin` / `DW_AT_specification` when naming a DIE
/// (addr2line's limit): reference cycles end there.
const NAME_HOPS: usize = 16;

/// Units read for cross-unit name references, kept at most this many at a time...
const UNIT_CACHE: usize = 16;
/// ...and at most this many bytes of them.
const UNIT_CACHE_BYTES: usize = 16 << 20;

/// `.debug_info`, read a unit at a time: the builder holds one unit's bytes (and a few
/// referenced ones), never the whole section.
pub(super) trait InfoSection<'b> {
    /// The section's size.
    fn size(&self) -> u64;
    /// The bytes at `offset..offset + len` in the section (fewer at its end).
    fn read(&mut self, offset: u64, len: u64) -> Result<Cow<'b, [u8]>>;
}

/// `.debug_info` in memory.
pub(super) struct WholeInfo<'b>(pub(super) Cow<'b, [u8]>);

impl<'b> InfoSection<'b> for WholeInfo<'b> {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }

    fn read(&mut self, offset: u64, len: u64) -> Result<Cow<'b, [u8]>> {
        let start = (offset.min(self.size())) as usize;
        let end = start + (len.min(self.size() - start as u64)) as usize;
        Ok(match &self.0 {
            Cow::Borrowed(b) => Cow::Borrowed(&b[start..end]),
            // Owned (decompressed): a unit is copied out, as a ranged read would.
            Cow::Owned(v) => Cow::Owned(v[start..end].to_vec()),
        })
    }
}

/// The bytes of the unit at `offset` (its header included; cut at the section's end,
/// where parsing the header then fails as it would on the whole section).
fn unit_bytes<'b>(info: &mut dyn InfoSection<'b>, endian: gimli::RunTimeEndian, offset: u64) -> Result<Cow<'b, [u8]>> {
    unit_bytes_or(info, endian, offset)?.map_err(dwarf_err)
}

/// [`unit_bytes`] where a failed read of the file (outer) is told from an initial length
/// that cannot be read (inner).
fn unit_bytes_or<'b>(info: &mut dyn InfoSection<'b>, endian: gimli::RunTimeEndian, offset: u64) -> Result<gimli::Result<Cow<'b, [u8]>>> {
    let head = info.read(offset, 12)?;
    let mut r = gimli::EndianSlice::new(&head, endian);
    let (len, format) = match gimli::Reader::read_initial_length(&mut r) {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    let total = (len as u64).saturating_add(u64::from(format.initial_length_size()));
    // Checked before reading: `len` comes from the file.
    info.read(offset, total.min(info.size().saturating_sub(offset))).map(Ok)
}

/// The header of the unit whose bytes `unit_bytes` gave (its offsets are relative to
/// the unit: the builder keeps the unit's place in the section itself).
fn unit_header(bytes: &[u8], endian: gimli::RunTimeEndian) -> gimli::Result<gimli::UnitHeader<Reader<'_>>> {
    let mut units = gimli::DebugInfo::new(bytes, endian).units();
    units.next()?.ok_or(gimli::Error::UnexpectedEof(gimli::ReaderOffsetId(0)))
}

/// Abbreviation tables by `.debug_abbrev` offset, parsed once for the whole build: pass 1,
/// pass 2 and cross-unit naming each open a unit, and `Dwarf::unit` parses its table every
/// time (gimli 0.27 keeps only the one at offset 0); GCC's units share theirs two by two.
/// Only while the section is small: parsed tables take several times their bytes.
#[derive(Default)]
struct Abbrevs {
    tables: FastMap<u64, std::sync::Arc<gimli::Abbreviations>>,
}

/// [`Abbrevs`] keeps tables only when `.debug_abbrev` is at most this long (python3.11's is
/// 0.2 MB; libc's 1 MB, whose parsed tables cost ~8 MB of peak memory for ~5 % of its
/// build; libjvm's 5.4 MB, where parsing them is 1.5 % of the build).
const ABBREV_CACHE_SECTION: usize = 512 << 10;

impl Abbrevs {
    fn get(&mut self, dwarf: &Dwarf<'_>, header: &gimli::UnitHeader<Reader<'_>>) -> gimli::Result<std::sync::Arc<gimli::Abbreviations>> {
        use gimli::Section;
        if dwarf.debug_abbrev.reader().len() > ABBREV_CACHE_SECTION {
            return dwarf.abbreviations(header);
        }
        let offset = header.debug_abbrev_offset().0 as u64;
        if let Some(t) = self.tables.get(&offset) {
            return Ok(t.clone());
        }
        let t = dwarf.abbreviations(header)?;
        self.tables.insert(offset, t.clone());
        Ok(t)
    }
}

/// `dwarf.unit(header)` (its steps, with the abbreviations from `abbrevs`), or where only
/// its line program (or low pc) cannot be read, the unit without either and that error:
/// its DIEs still name code.
fn open_unit<'s>(dwarf: &Dwarf<'s>, header: gimli::UnitHeader<Reader<'s>>, abbrevs: &mut Abbrevs) -> gimli::Result<(Unit<'s>, Option<gimli::Error>)> {
    let abbreviations = abbrevs.get(dwarf, &header)?;
    let mut unit = gimli::Unit {
        header,
        abbreviations,
        name: None,
        comp_dir: None,
        low_pc: 0,
        str_offsets_base: gimli::DebugStrOffsetsBase::default_for_encoding_and_file(header.encoding(), dwarf.file_type),
        addr_base: gimli::DebugAddrBase(0),
        loclists_base: gimli::DebugLocListsBase::default_for_encoding_and_file(header.encoding(), dwarf.file_type),
        rnglists_base: gimli::DebugRngListsBase::default_for_encoding_and_file(header.encoding(), dwarf.file_type),
        line_program: None,
        dwo_id: match header.type_() {
            gimli::UnitType::Skeleton(id) | gimli::UnitType::SplitCompilation(id) => Some(id),
            _ => None,
        },
    };
    // The root DIE's attributes as `Unit::new` reads them: an error here is the unit's.
    let (mut name, mut comp_dir, mut stmt_list, mut low_pc) = (None, None, None, None);
    {
        let mut cursor = unit.header.entries(&unit.abbreviations);
        cursor.next_dfs()?;
        let root = cursor.current().ok_or(gimli::Error::MissingUnitDie)?;
        let mut attrs = root.attrs();
        while let Some(attr) = attrs.next()? {
            match (attr.name(), attr.value()) {
                (gimli::DW_AT_name, v) => name = Some(v),
                (gimli::DW_AT_comp_dir, v) => comp_dir = Some(v),
                (gimli::DW_AT_low_pc, v) => low_pc = Some(v),
                (gimli::DW_AT_stmt_list, gimli::AttributeValue::DebugLineRef(o)) => stmt_list = Some(o),
                (gimli::DW_AT_str_offsets_base, gimli::AttributeValue::DebugStrOffsetsBase(b)) => unit.str_offsets_base = b,
                (gimli::DW_AT_addr_base | gimli::DW_AT_GNU_addr_base, gimli::AttributeValue::DebugAddrBase(b)) => unit.addr_base = b,
                (gimli::DW_AT_loclists_base, gimli::AttributeValue::DebugLocListsBase(b)) => unit.loclists_base = b,
                (gimli::DW_AT_rnglists_base | gimli::DW_AT_GNU_ranges_base, gimli::AttributeValue::DebugRngListsBase(b)) => unit.rnglists_base = b,
                (gimli::DW_AT_GNU_dwo_id, gimli::AttributeValue::DwoId(id)) if unit.dwo_id.is_none() => unit.dwo_id = Some(id),
                _ => {}
            }
        }
    }
    unit.name = name.and_then(|v| dwarf.attr_string(&unit, v).ok());
    unit.comp_dir = comp_dir.and_then(|v| dwarf.attr_string(&unit, v).ok());
    // Where `Unit::new` fails on these two, the unit stands without both.
    let program = match stmt_list {
        Some(o) => match dwarf.debug_line.program(o, unit.header.address_size(), unit.comp_dir.clone(), unit.name.clone()) {
            Ok(p) => Some(p),
            Err(e) => return Ok((unit, Some(e))),
        },
        None => None,
    };
    let low = match low_pc {
        Some(v) => match dwarf.attr_address(&unit, v) {
            Ok(a) => a.unwrap_or(0),
            Err(e) => return Ok((unit, Some(e))),
        },
        None => 0,
    };
    unit.line_program = program;
    unit.low_pc = low;
    Ok((unit, None))
}

/// A short reason for a warning.
fn why(e: &gimli::Error) -> String {
    match e {
        gimli::Error::MissingUnitDie => "missing top-level DIE".to_string(),
        gimli::Error::UnexpectedEof(_) => "unexpected end of input".to_string(),
        gimli::Error::UnknownAbbreviation => "unknown abbreviation code".to_string(),
        e => {
            let d = e.description();
            let mut c = d.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => String::new(),
            }
        }
    }
}

/// The smallest unit: a 32-bit initial length and a DWARF 2-4 header (version, abbreviation
/// offset, address size).
const MIN_UNIT: usize = 4 + 7;

/// `.debug_info` from `offset` on is not units: skipped and told, or where that is all of
/// it, nothing of the DWARF is trusted (the file is refused as malformed).
fn rest_of_info(warn: &mut Warnings, e: &gimli::Error, offset: usize) -> Result<()> {
    if offset == 0 {
        return Err(dwarf_err(*e));
    }
    warn.skip("trailing part of .debug_info", &why(e), || info_at(offset));
    Ok(())
}

fn info_at(offset: usize) -> String {
    format!(".debug_info+{:#x}", offset)
}

/// The symbol table with a function index interned per symbol on first use.
pub(super) struct Symbols<'a> {
    syms: &'a [(u64, u64, &'a str)],
    funcs: Vec<u32>,
    /// The last `at`'s index and the addresses that give it: (low, high, index).
    hint: (u64, u64, usize),
}

impl<'a> Symbols<'a> {
    pub(super) fn new(syms: &'a [(u64, u64, &'a str)]) -> Self {
        Symbols { syms, funcs: vec![NONE; syms.len()], hint: (1, 0, 0) }
    }

    /// The symbol covering `addr` as llvm-symbolizer sees them (a size-0 symbol reaches
    /// the next one): its start and function index.
    fn at(&mut self, addr: u64, w: &mut SymCacheWriter, fns: &mut demangle::Functions) -> Option<(u64, u32)> {
        // Probes come in address order: mostly under the last symbol again.
        let i = if self.hint.0 <= addr && addr < self.hint.1 {
            self.hint.2
        } else {
            let i = self.syms.partition_point(|s| s.0 <= addr);
            let low = i.checked_sub(1).map(|k| self.syms[k].0).unwrap_or(0);
            self.hint = (low, self.syms.get(i).map(|s| s.0).unwrap_or(u64::MAX), i);
            i
        };
        if i == 0 {
            return None;
        }
        let (start, size, name) = self.syms[i - 1];
        if size != 0 && addr - start >= size {
            return None;
        }
        if self.funcs[i - 1] == NONE {
            self.funcs[i - 1] = fns.intern(w, name, 0);
        }
        Some((start, self.funcs[i - 1]))
    }
}

/// Where the range `start..end` lies from `probe`, for a binary search over sorted,
/// disjoint ranges: `Equal` when it holds `probe`.
fn range_order(start: u64, end: u64, probe: u64) -> Ordering {
    if probe < start {
        Ordering::Greater
    } else if probe >= end {
        Ordering::Less
    } else {
        Ordering::Equal
    }
}

/// A compilation unit as addr2line keeps it (type units and units without a root DIE
/// are not among them).
struct ResUnit {
    offset: usize,
    lang: u32,
}

/// Adds the ranges of every line-table row to `w`.
pub(super) fn add_ranges<'s, 'b>(
    w: &mut SymCacheWriter,
    dwarf: &Dwarf<'s>,
    info: &mut dyn InfoSection<'b>,
    endian: gimli::RunTimeEndian,
    base: u64,
    code: &[(u64, u64)],
    syms: &mut Symbols<'_>,
    fns: &mut demangle::Functions,
    outer_from_symbols: bool,
    warn: &mut Warnings,
) -> Result<()> {
    // -- 1. boundaries and unit ranges --------------------------------------------------
    let mut aranges: Vec<(usize, gimli::DebugArangesOffset<usize>)> = Vec::new();
    let mut headers = dwarf.debug_aranges.headers();
    loop {
        match headers.next() {
            Ok(Some(h)) => aranges.push((h.debug_info_offset().0, h.offset())),
            Ok(None) => break,
            Err(e) => {
                // The sets after a bad one cannot be found: their units' ranges come from
                // the units themselves.
                let at = aranges.last().map(|a| a.1 .0).unwrap_or(0);
                warn.skip("address range set", &why(&e), || format!(".debug_aranges after +{:#x}", at));
                break;
            }
        }
    }
    aranges.sort_by_key(|a| a.0);

    // Row addresses; `true` marks an end of sequence.
    let mut bounds: Vec<(u64, bool)> = Vec::new();
    let mut units: Vec<ResUnit> = Vec::new();
    // (begin, end, index in `units`)
    let mut unit_ranges: Vec<(u64, u64, usize)> = Vec::new();
    let mut seq: Vec<(u64, bool)> = Vec::new();
    let mut unit_cache = UnitCache::default();
    // Progress: pass 1 is the first third of .debug_info's bytes, pass 2 the rest.
    let info_len = info.size();
    // The writer's finish is the last part. Saturating: a section header can claim any size.
    let total = info_len.saturating_mul(3).saturating_add(info_len / 2);
    let mut next_unit = 0u64;
    while next_unit < info_len {
        super::progress::report(next_unit, total);
        let offset = next_unit as usize;
        let bytes = match unit_bytes_or(info, endian, next_unit)? {
            Ok(b) => b,
            Err(e) => {
                // Without a length nothing after it can be found.
                rest_of_info(warn, &e, offset)?;
                break;
            }
        };
        next_unit += bytes.len() as u64;
        // A unit that cannot be read is skipped whole; the next one starts after its length
        // where that length can hold a unit header (a length of 0 and the like: the bytes
        // there are not units, nothing after them is trusted).
        let (header, unit) = match unit_header(&bytes, endian).and_then(|h| Ok((h, open_unit(dwarf, h, &mut unit_cache.abbrevs)?))) {
            Ok((h, (u, line_err))) => {
                if let Some(e) = line_err {
                    warn.skip("line program", &why(&e), || format!("the unit at {}", info_at(offset)));
                }
                (h, u)
            }
            Err(e) if bytes.len() < MIN_UNIT => {
                rest_of_info(warn, &e, offset)?;
                break;
            }
            Err(e) => {
                warn.skip("unit", &why(&e), || info_at(offset));
                continue;
            }
        };
        // Line-sequence ranges, for a unit that declares no range of its own.
        let mut sequences: Vec<(u64, u64)> = Vec::new();
        if let Some(program) = &unit.line_program {
            seq.clear();
            let mut seq_rows = 0usize;
            let rows = for_each_row::<false>(program, |row| {
                // Rows of one address mostly follow each other: keep one (a row start
                // wins over an end of sequence, as in `sort_bounds`).
                match seq.last_mut() {
                    Some(last) if last.0 == row.address => last.1 &= row.end_sequence,
                    _ => seq.push((row.address, row.end_sequence)),
                }
                if row.end_sequence {
                    if seq_rows > 0 {
                        sequences.push((seq[0].0, row.address));
                    }
                    // A sequence at a tombstone address (discarded code) is dropped.
                    if let Some(first) = seq.first() {
                        if first.0 >= base && in_ranges(code, first.0) {
                            if bounds.len() + seq.len() > bounds.capacity() {
                                // Sequences can repeat addresses: dedup before the Vec
                                // doubles, but double now when that freed little (each
                                // next sequence would sort it all again).
                                sort_bounds(&mut bounds);
                                if bounds.len() * 4 > bounds.capacity() * 3 {
                                    bounds.reserve(bounds.capacity());
                                }
                            }
                            bounds.extend_from_slice(&seq);
                        }
                    }
                    seq.clear();
                    seq_rows = 0;
                } else {
                    seq_rows += 1;
                }
            });
            // The sequences ended before the defect are kept (pass 2 keeps the same rows).
            if let Err(e) = rows {
                warn.skip("line program", &why(&e), || format!(".debug_line+{:#x}", program.header().offset().0));
            }
        }
        if let gimli::UnitType::Type { .. } | gimli::UnitType::SplitType { .. } = header.type_() {
            continue;
        }
        let id = units.len();
        let mut ranges = RangeAttrs::default();
        let mut lang = 0;
        // (`open_unit` read the root DIE already: an error here is unlikely, but the
        // unit's then.)
        let root = (|| -> gimli::Result<Option<gimli::Result<()>>> {
            let mut entries = unit.entries_raw(None)?;
            let abbrev = match entries.read_abbreviation()? {
                Some(a) => a,
                None => return Ok(None),
            };
            let mut range_err = Ok(());
            for spec in abbrev.attributes() {
                let attr = entries.read_attribute(*spec)?;
                if attr.name() == gimli::DW_AT_language {
                    if let gimli::AttributeValue::Language(l) = attr.value() {
                        lang = u32::from(l.0);
                    }
                } else if let Err(e) = ranges.read(dwarf, &unit, &attr) {
                    range_err = range_err.and(Err(e));
                }
            }
            Ok(Some(range_err))
        })();
        match root {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(e))) => {
                // Its ranges come from its line sequences instead.
                warn.skip("unit address range", &why(&e), || info_at(offset));
                ranges = RangeAttrs::default();
            }
            Ok(None) => continue,
            Err(e) => {
                warn.skip("unit", &why(&e), || info_at(offset));
                continue;
            }
        }
        // addr2line's order of preference: DW_AT_ranges, .debug_aranges, low/high pc.
        let mut have_range = false;
        let arange_at = if ranges.ranges_offset.is_some() { None } else { aranges.binary_search_by_key(&offset, |a| a.0).ok() };
        if let Some(mut i) = arange_at {
            while i > 0 && aranges[i - 1].0 == offset {
                i -= 1;
            }
            for (_, at) in aranges[i..].iter().take_while(|a| a.0 == offset) {
                let before = unit_ranges.len();
                let set = (|| -> gimli::Result<()> {
                    let header = dwarf.debug_aranges.header(*at)?;
                    let mut entries = header.entries();
                    while let Some(e) = entries.next()? {
                        if e.length() != 0 {
                            let r = e.range();
                            unit_ranges.push((r.begin, r.end, id));
                        }
                    }
                    Ok(())
                })();
                if let Err(e) = set {
                    warn.skip("address range set", &why(&e), || format!(".debug_aranges+{:#x}", at.0));
                    unit_ranges.truncate(before);
                }
                have_range |= unit_ranges.len() > before;
            }
        } else {
            let before = unit_ranges.len();
            if let Err(e) = ranges.for_each(dwarf, &unit, |b, e| unit_ranges.push((b, e, id))) {
                // Its line sequences stand in for the whole list.
                warn.skip("unit address range", &why(&e), || info_at(offset));
                unit_ranges.truncate(before);
            }
            have_range = unit_ranges.len() > before;
        }
        // addr2line takes these only when the unit's line table parses with its files.
        if !have_range && !sequences.is_empty() && Lines::parse(dwarf, &unit).1.is_none() {
            for (b, e) in sequences {
                unit_ranges.push((b, e, id));
            }
        }
        units.push(ResUnit { offset, lang });
    }
    drop(seq);
    // At equal addresses a row start wins over an end of sequence.
    sort_bounds(&mut bounds);
    bounds.shrink_to_fit();
    // Where unit ranges overlap, addr2line asks the one starting last first (a stable sort
    // by start, searched backwards): a higher index here is a higher priority.
    unit_ranges.sort_by_key(|r| r.0);
    let mut by_unit: Vec<Vec<(u64, u64, u32)>> = vec![Vec::new(); units.len()];
    for (prio, &(b, e, u)) in unit_ranges.iter().enumerate() {
        by_unit[u].push((b, e, prio as u32 + 1));
    }
    drop(unit_ranges);

    // -- 2. per unit: answer the rows it covers -----------------------------------------
    // Per boundary: (priority of the unit that answered, 0 = none; location).
    let mut best: Vec<(u32, u32)> = vec![(0, NONE); bounds.len()];
    // Answers inside rows: (address, priority of the unit, location).
    let mut mid_row: Vec<(u64, u32, u32)> = Vec::new();
    let mut st = State {
        w,
        syms,
        fns,
        base,
        outer_from_symbols,
        func_names: FastMap::default(),
        prev: Vec::new(),
        prev_loc: NONE,
        frames: Vec::new(),
        inlined: Vec::new(),
    };
    for (u, ranges) in by_unit.iter().enumerate() {
        super::progress::report(info_len.saturating_add(2 * units[u].offset as u64), total);
        // The boundaries this unit may answer, with its priority for each.
        let mut probes: Vec<(u32, u32)> = Vec::new();
        for &(b, e, prio) in ranges {
            let lo = bounds.partition_point(|x| x.0 < b);
            for (i, x) in bounds.iter().enumerate().skip(lo) {
                if x.0 >= e {
                    break;
                }
                if !x.1 && best[i].0 < prio {
                    probes.push((i as u32, prio));
                }
            }
        }
        if probes.is_empty() {
            continue;
        }
        // One entry per boundary, the unit's highest priority for it.
        // (mostly in order already: the unit's ranges are by start)
        if !probes.windows(2).all(|w| w[0].0 < w[1].0) {
            probes.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            probes.dedup_by_key(|p| p.0);
        }

        let bytes = unit_bytes(info, endian, units[u].offset as u64)?;
        // (read in pass 1 already, where its defects were told)
        let unit = unit_header(&bytes, endian).and_then(|h| open_unit(dwarf, h, &mut unit_cache.abbrevs)).map_err(dwarf_err)?.0;
        let lines = match unit.line_program {
            Some(_) => Some(Lines::parse(dwarf, &unit).0),
            None => None,
        };
        let mut cu = UnitData::collect(dwarf, &unit, units[u].offset, warn);
        let mut files: Vec<Option<u32>> = vec![None; lines.as_ref().map(|l| l.files.len()).unwrap_or(0)];
        let mut at = At { dwarf, units: &units, me: u, unit: &unit, lang: units[u].lang, cache: &mut unit_cache, info: &mut *info, endian, warn: &mut *warn };
        for &(i, prio) in &probes {
            let addr = bounds[i as usize].0;
            if let Some(loc) = st.answer(addr, &mut at, &mut cu, lines.as_ref(), &mut files)? {
                best[i as usize] = (prio, loc);
            }
        }
        // Inlined code (or a function) can begin or end inside a line row: the frames
        // change there although the row does not, so answer at those addresses too.
        let mut cuts: Vec<u64> = Vec::with_capacity(2 * (cu.inline_addrs.len() + cu.func_addrs.len()));
        cuts.extend(cu.inline_addrs.iter().flat_map(|r| [r.2, r.3]));
        cuts.extend(cu.func_addrs.iter().flat_map(|r| [r.0, r.1]));
        radix_sort(&mut cuts);
        cuts.dedup();
        // Both searches go forward from the previous cut's answer (cuts are sorted).
        let (mut j, mut k) = (0, 0);
        for x in cuts {
            j += gallop(&bounds[j..], |b| b.0 <= x);
            if j == 0 || j == bounds.len() || bounds[j - 1].0 == x || bounds[j - 1].1 {
                continue; // outside the line table, on a row start, or in a gap
            }
            let i = (j - 1) as u32;
            k += gallop(&probes[k..], |p| p.0 < i);
            let prio = match probes.get(k) {
                Some(p) if p.0 == i => p.1,
                _ => continue, // another unit answers this row
            };
            if let Some(loc) = st.answer(x, &mut at, &mut cu, lines.as_ref(), &mut files)? {
                mid_row.push((x, prio, loc));
            }
        }
    }
    drop(unit_cache);
    // A cut counts where the unit that made it answers its row.
    mid_row.sort_unstable_by_key(|c| c.0);
    let mut cut = mid_row.iter().peekable();
    for i in 0..bounds.len().saturating_sub(1) {
        let (addr, is_end) = bounds[i];
        let end = bounds[i + 1].0;
        let (mut start, mut loc) = (addr, best[i].1);
        while let Some(&&(x, prio, l)) = cut.peek() {
            if x >= end {
                break;
            }
            cut.next();
            if !is_end && best[i].0 != 0 && prio == best[i].0 && x > start && l != loc {
                st.w.range(start.wrapping_sub(base), x.wrapping_sub(base), loc);
                start = x;
                loc = l;
            }
        }
        if !is_end && best[i].0 != 0 {
            st.w.range(start.wrapping_sub(base), end.wrapping_sub(base), loc);
        }
    }
    Ok(())
}

/// `v.sort_unstable()`, in fewer steps for many addresses of one unit: a least significant
/// digit radix sort of their offsets from the lowest, 11 bits a pass.
fn radix_sort(v: &mut Vec<u64>) {
    const BITS: u32 = 11;
    if v.len() < 256 {
        v.sort_unstable();
        return;
    }
    let min = v.iter().copied().min().unwrap_or(0);
    let span = v.iter().map(|&x| x - min).max().unwrap_or(0);
    let passes = ((64 - span.leading_zeros()) + BITS - 1) / BITS;
    let mut counts = vec![[0usize; 1 << BITS]; passes as usize];
    for &x in v.iter() {
        let d = x - min;
        for (p, c) in counts.iter_mut().enumerate() {
            c[((d >> (BITS * p as u32)) & ((1 << BITS) - 1)) as usize] += 1;
        }
    }
    let mut buf = vec![0u64; v.len()];
    for (p, c) in counts.iter_mut().enumerate() {
        let mut at = 0;
        for n in c.iter_mut() {
            let k = *n;
            *n = at;
            at += k;
        }
        let shift = BITS * p as u32;
        for &x in v.iter() {
            let b = (((x - min) >> shift) & ((1 << BITS) - 1)) as usize;
            buf[c[b]] = x;
            c[b] += 1;
        }
        std::mem::swap(v, &mut buf);
    }
}

/// `v.partition_point(pred)` for a point expected near the start: doubling steps, then a
/// binary search in the last one.
fn gallop<T>(v: &[T], pred: impl Fn(&T) -> bool) -> usize {
    let mut end = 1;
    while end <= v.len() && pred(&v[end - 1]) {
        end *= 2;
    }
    let start = end / 2; // `v[..start]` all satisfy `pred`
    let end = end.min(v.len());
    start + v[start..end].partition_point(pred)
}

/// Sorts row addresses and keeps one per address: at equal addresses a row start wins
/// over an end of sequence. The same whether done once or again as rows are added.
fn sort_bounds(bounds: &mut Vec<(u64, bool)>) {
    // Stable (a merge of runs): the rows come in few sorted runs (the part sorted before,
    // then sequences mostly in address order), which an unstable sort does not see.
    bounds.sort_by_key(|&(a, end)| (a, end));
    bounds.dedup_by_key(|b| b.0);
}

/// `DW_AT_low_pc` / `DW_AT_high_pc` / `DW_AT_ranges` of a DIE, read as addr2line does.
#[derive(Default)]
struct RangeAttrs {
    low_pc: Option<u64>,
    high_pc: Option<u64>,
    size: Option<u64>,
    ranges_offset: Option<gimli::RangeListsOffset<usize>>,
    /// How many `DW_AT_ranges` the DIE has (`die_entry` reads the first, this the last).
    ranges_count: u32,
}

impl RangeAttrs {
    /// Takes `attr` if it is one of the range attributes.
    fn read(&mut self, dwarf: &Dwarf<'_>, unit: &Unit<'_>, attr: &gimli::Attribute<Reader<'_>>) -> gimli::Result<bool> {
        match attr.name() {
            gimli::DW_AT_low_pc => match attr.value() {
                gimli::AttributeValue::Addr(v) => self.low_pc = Some(v),
                gimli::AttributeValue::DebugAddrIndex(i) => self.low_pc = Some(dwarf.address(unit, i)?),
                _ => {}
            },
            gimli::DW_AT_high_pc => match attr.value() {
                gimli::AttributeValue::Addr(v) => self.high_pc = Some(v),
                gimli::AttributeValue::DebugAddrIndex(i) => self.high_pc = Some(dwarf.address(unit, i)?),
                gimli::AttributeValue::Udata(v) => self.size = Some(v),
                _ => {}
            },
            gimli::DW_AT_ranges => {
                self.ranges_count += 1;
                self.ranges_offset = dwarf.attr_ranges_offset(unit, attr.value())?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Calls `f` with every non-empty range; gives the start of the list's first range
    /// (empty or not).
    fn for_each(&self, dwarf: &Dwarf<'_>, unit: &Unit<'_>, mut f: impl FnMut(u64, u64)) -> gimli::Result<Option<u64>> {
        let mut first = None;
        let mut add = |b: u64, e: u64| {
            if b < e {
                f(b, e);
            }
        };
        if let Some(offset) = self.ranges_offset {
            let mut list = dwarf.ranges(unit, offset)?;
            while let Some(r) = list.next()? {
                first = first.or(Some(r.begin));
                add(r.begin, r.end);
            }
        } else if let (Some(b), Some(e)) = (self.low_pc, self.high_pc) {
            add(b, e);
        } else if let (Some(b), Some(size)) = (self.low_pc, self.size) {
            add(b, b.wrapping_add(size));
        }
        Ok(first)
    }
}

/// A unit's line table as addr2line keeps it: sequences sorted by start, rows of one
/// address merged (the last wins), and the file paths.
struct Lines {
    /// (start, end, first row, end row) into `rows`.
    seqs: Vec<(u64, u64, usize, usize)>,
    /// (address, file index, line, column).
    rows: Vec<(u64, u64, u32, u32)>,
    /// `None`: a name that cannot be read.
    files: Vec<Option<String>>,
    /// Sequences non-empty and disjoint, rows ascending in each: a row then answers for
    /// the addresses up to the next row, which `hint` (low, high, row) keeps of the last.
    plain: bool,
    hint: std::cell::Cell<(u64, u64, usize)>,
}

impl Lines {
    /// The table, and the first defect met: rows after a defect in the program are left
    /// out (those of the sequences ended before it are kept), a file whose name cannot be
    /// read has none.
    fn parse(dwarf: &Dwarf<'_>, unit: &Unit<'_>) -> (Lines, Option<gimli::Error>) {
        let mut seqs = Vec::new();
        let mut rows_out: Vec<(u64, u64, u32, u32)> = Vec::new();
        let mut files = Vec::new();
        let program = match &unit.line_program {
            Some(p) => p,
            None => return (Lines { seqs, rows: rows_out, files, plain: false, hint: std::cell::Cell::new((1, 0, 0)) }, None),
        };
        let mut first = 0;
        let header = for_each_row::<true>(&program, |row| {
            if row.end_sequence {
                if first < rows_out.len() {
                    seqs.push((rows_out[first].0, row.address, first, rows_out.len()));
                    first = rows_out.len();
                }
                return;
            }
            let (address, line, column) = (row.address, row.line as u32, row.column as u32);
            if rows_out.len() > first {
                let last = rows_out.last_mut().unwrap();
                if last.0 == address {
                    *last = (address, row.file, line, column);
                    return;
                }
            }
            rows_out.push((address, row.file, line, column));
        });
        let (header, mut error) = match header {
            Ok(h) => (h, None),
            Err(e) => (Cow::Borrowed(program.header()), Some(e)),
        };
        let header = &*header;
        // Rows after the last end of sequence belong to no sequence.
        rows_out.truncate(first);
        seqs.sort_by_key(|s| s.0);
        let mut render = |file| match render_file(dwarf, unit, file, header) {
            Ok(path) => Some(path),
            Err(e) => {
                error = error.take().or(Some(e));
                None
            }
        };
        match header.file(0) {
            Some(file) => files.push(render(file)),
            None => files.push(Some(String::new())),
        }
        let mut index = 1;
        while let Some(file) = header.file(index) {
            files.push(render(file));
            index += 1;
        }
        let plain = seqs.iter().all(|s| s.0 < s.1 && rows_out[s.2..s.3].windows(2).all(|r| r[0].0 < r[1].0) && rows_out[s.3 - 1].0 < s.1)
            && seqs.windows(2).all(|s| s[0].1 <= s[1].0);
        (Lines { seqs, rows: rows_out, files, plain, hint: std::cell::Cell::new((1, 0, 0)) }, error)
    }

    /// The row covering `probe` (addr2line's `find_location`).
    fn find(&self, probe: u64) -> Option<&(u64, u64, u32, u32)> {
        let h = self.hint.get();
        if h.0 <= probe && probe < h.1 {
            return Some(&self.rows[h.2]);
        }
        let (s, i) = self.search(probe)?;
        if self.plain {
            // (in a plain table the row found is the last at or before `probe` in the
            // sequence holding it)
            let high = if i + 1 < s.3 { self.rows[i + 1].0 } else { s.1 };
            self.hint.set((self.rows[i].0, high, i));
        }
        Some(&self.rows[i])
    }

    /// [`find`](Self::find) without the hint: the sequence and the row's index.
    fn search(&self, probe: u64) -> Option<(&(u64, u64, usize, usize), usize)> {
        let high = probe.wrapping_add(1);
        let mut seq_idx = match self.seqs.binary_search_by(|s| range_order(s.0, s.1, probe)) {
            Ok(x) => x,
            Err(0) => 0,
            Err(_) => self.seqs.len(),
        };
        let mut row_idx = match self.seqs.get(seq_idx) {
            Some(s) => match self.rows[s.2..s.3].binary_search_by(|r| r.0.cmp(&probe)) {
                Ok(x) => x,
                Err(0) => 0,
                Err(x) => x - 1,
            },
            None => 0,
        };
        loop {
            let s = self.seqs.get(seq_idx)?;
            if s.0 >= high {
                return None;
            }
            match self.rows[s.2..s.3].get(row_idx) {
                Some(row) => return if row.0 >= high { None } else { Some((s, s.2 + row_idx)) },
                None => {
                    seq_idx += 1;
                    row_idx = 0;
                }
            }
        }
    }
}

fn render_file(
    dwarf: &Dwarf<'_>,
    unit: &Unit<'_>,
    file: &gimli::FileEntry<Reader<'_>>,
    header: &gimli::LineProgramHeader<Reader<'_>>,
) -> gimli::Result<String> {
    let mut path = match unit.comp_dir {
        Some(ref dir) => dir.to_string_lossy().into_owned(),
        None => String::new(),
    };
    // Directory index 0 is the compilation directory.
    if file.directory_index() != 0 {
        if let Some(dir) = file.directory(header) {
            path_push(&mut path, &dwarf.attr_string(unit, dir)?.to_string_lossy());
        }
    }
    path_push(&mut path, &dwarf.attr_string(unit, file.path_name())?.to_string_lossy());
    Ok(path)
}

fn path_push(path: &mut String, p: &str) {
    let windows_root = |s: &str| s.starts_with('\\') || s.get(1..3) == Some(":\\");
    if p.starts_with('/') || windows_root(p) {
        *path = p.to_string();
    } else {
        let sep = if windows_root(path.as_str()) { '\\' } else { '/' };
        if !path.is_empty() && !path.ends_with(sep) {
            path.push(sep);
        }
        *path += p;
    }
}

/// Not yet interned.
const UNSET: u32 = NONE - 1;

/// A subprogram with code, or an inlined subroutine.
struct Die<'s> {
    offset: usize,
    name: Option<Cow<'s, [u8]>>,
    call_file: u64,
    call_line: u32,
    call_column: u32,
    /// The DIE the name came from through an origin or specification (its
    /// `.debug_info` offset + 1), 0 for a name of its own: instances of one origin share
    /// the interned function.
    origin: usize,
    /// Interned function, [`UNSET`] until first used.
    function: u32,
    /// Entry address: from the DIE walk where plain, else computed on first use.
    entry: Option<u64>,
    /// `DW_AT_low_pc` seen, and whether the walk's entry is certain.
    low_pc_seen: bool,
    entry_known: bool,
    /// Its naming attributes in `UnitData::name_attrs` (kept by the walk: reading the
    /// DIE again for them cost as much as the walk's read).
    name_attrs: (u32, u32),
}

impl<'s> Die<'s> {
    /// Without any `DW_AT_low_pc`, `die_entry` takes the first range of a (single)
    /// `DW_AT_ranges` list.
    fn first_range(&mut self, ranges: &RangeAttrs, first: Option<u64>) {
        if !self.low_pc_seen && ranges.ranges_count == 1 && first.is_some() {
            self.entry = first;
            self.entry_known = true;
        }
    }

    fn new(offset: usize) -> Self {
        Die {
            offset,
            name: None,
            call_file: 0,
            call_line: 0,
            call_column: 0,
            origin: 0,
            function: UNSET,
            entry: None,
            low_pc_seen: false,
            entry_known: false,
            name_attrs: (0, 0),
        }
    }

    /// What `die_entry` will say, where the attributes make it plain: the first
    /// `DW_AT_low_pc` as an address, or (no low pc at all) the first range of the list.
    fn note_entry(&mut self, dwarf: &Dwarf<'_>, unit: &Unit<'_>, attr: &gimli::Attribute<Reader<'_>>) {
        if attr.name() == gimli::DW_AT_high_pc && !matches!(attr.value(), gimli::AttributeValue::Udata(_)) {
            // `die_ranges` fails on a high pc it cannot read as an address.
            if !matches!(dwarf.attr_address(unit, attr.value()), Ok(Some(_))) {
                self.low_pc_seen = true;
            }
        }
        if attr.name() == gimli::DW_AT_low_pc && !self.low_pc_seen {
            self.low_pc_seen = true;
            if let Ok(Some(a)) = dwarf.attr_address(unit, attr.value()) {
                self.entry = Some(a);
                self.entry_known = true;
            }
        }
    }
}

/// A subprogram with code.
struct Func {
    die: usize,
    /// Its inlined subroutines' ranges in `UnitData::inline_addrs`.
    inlines: (usize, usize),
    /// No two of those ranges at one depth overlap: each depth has at most one range at
    /// an address, whichever way it is searched ([`UnitData::inlined_at`]'s cache).
    disjoint: bool,
    /// An error reading its subtree (raised only if an address needs the function, as
    /// addr2line does).
    error: Option<gimli::Error>,
}

/// What one unit's DIE tree says about code, in addr2line's search order.
struct UnitData<'s> {
    dies: Vec<Die<'s>>,
    funcs: Vec<Func>,
    /// (begin, end, function), stably sorted by begin.
    func_addrs: Vec<(u64, u64, usize)>,
    /// (function, depth, begin, end, die): per function stably sorted by (depth, begin).
    inline_addrs: Vec<(usize, usize, u64, u64, usize)>,
    /// Function per origin DIE ([`Die::origin`]).
    origin_funcs: FastMap<usize, u32>,
    /// Names behind references ([`Names`]).
    memo: FastMap<usize, Option<Cow<'s, [u8]>>>,
    /// The attributes [`read_name`] reads, of each DIE in `dies`, in order.
    name_attrs: Vec<(gimli::DwAt, gimli::AttributeValue<Reader<'s>>)>,
    /// No two of `func_addrs` overlap (then [`UnitData::function_at`] caches).
    funcs_disjoint: bool,
    /// The last `function_at` answer and the addresses it holds for: (low, high, function).
    func_hint: (u64, u64, Option<usize>),
    /// `inlined_at`'s answers per depth for one function: (low, high, DIE or `usize::MAX`
    /// for none at that depth), each true at `low..high` (probes come in address order).
    inline_hint: (usize, Vec<(u64, u64, usize)>),
}

/// How to step over one attribute (the sizes gimli's `skip_attributes` uses).
#[derive(Clone, Copy)]
enum Step {
    Bytes(usize),
    Leb128,
    /// Null-terminated.
    String,
    /// A length of one byte, then the bytes.
    Block1,
    /// A ULEB128 length, then the bytes.
    BlockLeb,
}

/// How to step over a DIE of one abbreviation; `None` where gimli must read it (unknown
/// code or form).
type Plan = Option<PlanOf>;

struct PlanOf {
    tag: gimli::DwTag,
    children: bool,
    steps: Vec<Step>,
    /// The DIE's size after its code when `steps` are all fixed sizes.
    fixed: Option<usize>,
    /// No attribute that `UnitData::collect` reads can fail to parse (given its bytes):
    /// its forms have no size or offset gimli could refuse.
    safe: bool,
    /// Has `DW_AT_low_pc`, `DW_AT_high_pc` or `DW_AT_ranges`.
    ranged: bool,
}

/// What [`Skips::step`] found.
struct Stepped {
    tag: gimli::DwTag,
    children: bool,
    /// Where the next DIE starts.
    end: usize,
    safe: bool,
    ranged: bool,
}

/// Plans by abbreviation code (the codes of a unit are mostly 1, 2, 3, ...).
struct Skips<'a> {
    abbrevs: &'a gimli::Abbreviations,
    encoding: gimli::Encoding,
    plans: Vec<Option<Plan>>,
}

/// Codes above this are read by gimli.
const MAX_PLANNED_CODE: u64 = 1 << 14;

impl<'a> Skips<'a> {
    fn new(unit: &'a Unit<'_>) -> Self {
        Skips { abbrevs: &unit.abbreviations, encoding: unit.encoding(), plans: Vec::new() }
    }

    fn plan(abbrev: &gimli::Abbreviation, encoding: gimli::Encoding) -> Plan {
        let mut steps: Vec<Step> = Vec::with_capacity(abbrev.attributes().len());
        let (mut safe, mut ranged) = (true, false);
        for spec in abbrev.attributes() {
            ranged |= matches!(spec.name(), gimli::DW_AT_low_pc | gimli::DW_AT_high_pc | gimli::DW_AT_ranges);
            // Forms `parse_attribute` reads without a check that could fail in bounds
            // (offsets of 32-bit DWARF fit any usize).
            safe &= match spec.form() {
                gimli::DW_FORM_data1 | gimli::DW_FORM_data2 | gimli::DW_FORM_data4 | gimli::DW_FORM_data8 | gimli::DW_FORM_data16 => true,
                gimli::DW_FORM_flag | gimli::DW_FORM_flag_present | gimli::DW_FORM_implicit_const => true,
                gimli::DW_FORM_ref1 | gimli::DW_FORM_ref2 | gimli::DW_FORM_ref4 | gimli::DW_FORM_string => true,
                gimli::DW_FORM_block1 | gimli::DW_FORM_block | gimli::DW_FORM_exprloc | gimli::DW_FORM_udata | gimli::DW_FORM_sdata => true,
                gimli::DW_FORM_strp | gimli::DW_FORM_line_strp | gimli::DW_FORM_sec_offset => encoding.format.word_size() == 4,
                gimli::DW_FORM_ref_addr => encoding.format.word_size() == 4 && encoding.version != 2,
                _ => false,
            };
            let step = match spec.form() {
                gimli::DW_FORM_addr => Step::Bytes(usize::from(encoding.address_size)),
                gimli::DW_FORM_implicit_const | gimli::DW_FORM_flag_present => Step::Bytes(0),
                gimli::DW_FORM_data1 | gimli::DW_FORM_flag | gimli::DW_FORM_strx1 | gimli::DW_FORM_ref1 | gimli::DW_FORM_addrx1 => Step::Bytes(1),
                gimli::DW_FORM_data2 | gimli::DW_FORM_ref2 | gimli::DW_FORM_addrx2 | gimli::DW_FORM_strx2 => Step::Bytes(2),
                gimli::DW_FORM_addrx3 | gimli::DW_FORM_strx3 => Step::Bytes(3),
                gimli::DW_FORM_data4 | gimli::DW_FORM_ref_sup4 | gimli::DW_FORM_ref4 | gimli::DW_FORM_strx4 | gimli::DW_FORM_addrx4 => Step::Bytes(4),
                gimli::DW_FORM_data8 | gimli::DW_FORM_ref8 | gimli::DW_FORM_ref_sig8 | gimli::DW_FORM_ref_sup8 => Step::Bytes(8),
                gimli::DW_FORM_data16 => Step::Bytes(16),
                gimli::DW_FORM_sec_offset | gimli::DW_FORM_GNU_ref_alt | gimli::DW_FORM_strp | gimli::DW_FORM_strp_sup | gimli::DW_FORM_GNU_strp_alt | gimli::DW_FORM_line_strp => {
                    Step::Bytes(usize::from(encoding.format.word_size()))
                }
                gimli::DW_FORM_ref_addr => Step::Bytes(usize::from(if encoding.version == 2 { encoding.address_size } else { encoding.format.word_size() })),
                gimli::DW_FORM_block1 => Step::Block1,
                gimli::DW_FORM_block | gimli::DW_FORM_exprloc => Step::BlockLeb,
                gimli::DW_FORM_string => Step::String,
                gimli::DW_FORM_udata | gimli::DW_FORM_sdata | gimli::DW_FORM_ref_udata | gimli::DW_FORM_strx | gimli::DW_FORM_GNU_str_index | gimli::DW_FORM_addrx | gimli::DW_FORM_GNU_addr_index
                | gimli::DW_FORM_loclistx | gimli::DW_FORM_rnglistx => Step::Leb128,
                _ => return None, // (block2, block4, indirect, unknown forms)
            };
            // Neighbouring fixed sizes are one step.
            match (steps.last_mut(), step) {
                (Some(Step::Bytes(n)), Step::Bytes(m)) => *n += m,
                _ => steps.push(step),
            }
        }
        let fixed = match steps[..] {
            [] => Some(0),
            [Step::Bytes(n)] => Some(n),
            _ => None,
        };
        Some(PlanOf { tag: abbrev.tag(), children: abbrev.has_children(), steps, fixed, safe, ranged })
    }

    /// The DIE at `pos`: its tag (0 for a null entry), whether it has children, and where
    /// the next DIE starts; `None` where gimli must read it.
    fn step(&mut self, b: &[u8], pos: usize) -> Option<Stepped> {
        let (code, mut at) = match *b.get(pos..)? {
            [c, ..] if c < 0x80 => (u64::from(c), pos + 1),
            [c0, c1, ..] if c1 < 0x80 => (u64::from(c0 & 0x7f) | u64::from(c1) << 7, pos + 2),
            _ => return None,
        };
        if code == 0 {
            return Some(Stepped { tag: gimli::DwTag(0), children: false, end: at, safe: true, ranged: false });
        }
        if code > MAX_PLANNED_CODE {
            return None;
        }
        let i = code as usize - 1;
        if !matches!(self.plans.get(i), Some(Some(_))) {
            if i >= self.plans.len() {
                self.plans.resize_with(i + 1, || None);
            }
            self.plans[i] = Some(self.abbrevs.get(code).and_then(|a| Self::plan(a, self.encoding)));
        }
        let plan = self.plans[i].as_ref()?.as_ref()?;
        if let Some(n) = plan.fixed {
            // (most DIEs: one add)
            at = at.checked_add(n)?;
            if at > b.len() {
                return None;
            }
            return Some(Stepped { tag: plan.tag, children: plan.children, end: at, safe: plan.safe, ranged: plan.ranged });
        }
        for s in &plan.steps {
            let len = match *s {
                Step::Bytes(n) => n,
                // (longer ones are gimli's: it refuses some 10-byte values when it reads one,
                // in a code DIE or a declaration it used to read)
                Step::Leb128 => uleb9(b, at)?.1 - at,
                Step::String => b.get(at..)?.iter().position(|&x| x == 0)? + 1,
                Step::Block1 => 1 + usize::from(*b.get(at)?),
                Step::BlockLeb => {
                    let (v, end) = uleb9(b, at)?; // (longer: gimli's overflow check)
                    (end - at).checked_add(usize::try_from(v).ok()?)?
                }
            };
            at = at.checked_add(len)?;
            if at > b.len() {
                return None;
            }
        }
        Some(Stepped { tag: plan.tag, children: plan.children, end: at, safe: plan.safe, ranged: plan.ranged })
    }
}

/// Which function a DIE's children belong to, and their inline depth.
#[derive(Clone, Copy)]
struct Ctx {
    func: Option<usize>,
    depth: usize,
}

impl<'s> UnitData<'s> {
    /// The unit's code DIEs. A DIE that cannot be read ends the walk: the functions read
    /// whole before it are kept, those it is inside of are skipped (told in `warn`), and
    /// so is a function whose address ranges cannot be read.
    fn collect(dwarf: &Dwarf<'s>, unit: &Unit<'s>, unit_offset: usize, warn: &mut Warnings) -> Self {
        let mut d = UnitData {
            dies: Vec::new(),
            funcs: Vec::new(),
            func_addrs: Vec::new(),
            inline_addrs: Vec::new(),
            origin_funcs: FastMap::default(),
            memo: FastMap::default(),
            name_attrs: Vec::new(),
            funcs_disjoint: false,
            func_hint: (1, 0, None),
            inline_hint: (usize::MAX, Vec::new()),
        };
        // Open DIEs with children: (depth, context of their children).
        let mut stack: Vec<(isize, Ctx)> = Vec::new();
        let header_size = unit.header.header_size();
        let bytes: &[u8] = unit.header.range_from(gimli::UnitOffset(header_size)..).map(|r| r.slice()).unwrap_or(&[]);
        if let Err((e, offset, depth)) = d.walk(dwarf, unit, bytes, header_size, &mut stack, unit_offset, warn) {
            warn.skip("unit tail", &why(&e), || info_at(unit_offset + offset));
            // The functions still open there lost part of their inlined code.
            for &(_, ctx) in stack.iter().filter(|s| s.0 < depth) {
                if let Some(f) = ctx.func {
                    if d.funcs[f].error.is_none() {
                        d.funcs[f].error = Some(e.clone());
                        warn.skip("function", &why(&e), || info_at(unit_offset + d.dies[d.funcs[f].die].offset));
                    }
                }
            }
        }
        d.func_addrs.sort_by_key(|a| a.0);

        d.inline_addrs.sort_by_key(|a| (a.0, a.1, a.2));
        let mut i = 0;
        while i < d.inline_addrs.len() {
            let f = d.inline_addrs[i].0;
            let start = i;
            while i < d.inline_addrs.len() && d.inline_addrs[i].0 == f {
                i += 1;
            }
            d.funcs[f].inlines = (start, i);
            d.funcs[f].disjoint = d.inline_addrs[start..i].windows(2).all(|w| w[0].1 != w[1].1 || w[0].3 <= w[1].2);
        }
        d.funcs_disjoint = d.func_addrs.windows(2).all(|w| w[0].1 <= w[1].0);
        d
    }

    /// [`collect`](Self::collect)'s walk of the DIEs; the first DIE that cannot be read
    /// ends it, with its offset in the unit and the depth there (`stack` holds the DIEs
    /// open at it, and some closed ones above that depth).
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        dwarf: &Dwarf<'s>,
        unit: &Unit<'s>,
        bytes: &[u8],
        header_size: usize,
        stack: &mut Vec<(isize, Ctx)>,
        unit_offset: usize,
        warn: &mut Warnings,
    ) -> std::result::Result<(), (gimli::Error, usize, isize)> {
        let mut skips = Skips::new(unit);
        // `pos` in `bytes`, `depth` as gimli's `EntriesRaw::next_depth`.
        let (mut pos, mut depth) = (0usize, 0isize);
        while pos < bytes.len() {
            while stack.last().map(|s| s.0 >= depth).unwrap_or(false) {
                stack.pop();
            }
            let ctx = stack.last().map(|s| s.1).unwrap_or(Ctx { func: None, depth: 0 });
            let offset = header_size + pos;
            // Most DIEs (types, variables, parameters, ...) are only stepped over: that
            // is done here from a plan per abbreviation, gimli reading the rest.
            if let Some(st) = skips.step(bytes, pos) {
                if st.tag.0 == 0 {
                    depth -= 1; // a null entry
                    pos = st.end;
                    continue;
                }
                // A subprogram or inlined subroutine without code (a declaration, an
                // abstract instance) adds nothing: its children's context is all.
                let child = match st.tag {
                    gimli::DW_TAG_subprogram if st.safe && !st.ranged => Some(Ctx { func: None, depth: 0 }),
                    gimli::DW_TAG_subprogram => None,
                    gimli::DW_TAG_inlined_subroutine if ctx.func.is_some() => {
                        if st.safe && !st.ranged {
                            Some(Ctx { func: ctx.func, depth: ctx.depth + 1 })
                        } else {
                            None
                        }
                    }
                    _ => Some(ctx),
                };
                if let Some(child) = child {
                    if st.children {
                        stack.push((depth, child));
                        depth += 1;
                    }
                    pos = st.end;
                    continue;
                }
            }
            // Read by gimli: the DIEs that matter, and whatever the plans do not cover
            // (gimli then fails as it would have).
            let mut entries = unit.entries_raw(Some(gimli::UnitOffset(offset))).map_err(|e| (e, offset, depth))?;
            let abbrev = match entries.read_abbreviation().map_err(|e| (e, offset, depth))? {
                Some(a) => a,
                None => {
                    depth -= 1;
                    pos = entries.next_offset().0 - header_size;
                    continue;
                }
            };
            let child = match abbrev.tag() {
                gimli::DW_TAG_subprogram => {
                    let mut ranges = RangeAttrs::default();
                    let mut die = Die::new(offset);
                    let first_name = self.name_attrs.len();
                    let mut range_err = None;
                    for spec in abbrev.attributes() {
                        let attr = entries.read_attribute(*spec).map_err(|e| (e, offset, depth))?;
                        // (one match on the name: most attributes are none of these)
                        match attr.name() {
                            gimli::DW_AT_low_pc | gimli::DW_AT_high_pc | gimli::DW_AT_ranges => {
                                die.note_entry(dwarf, unit, &attr);
                                if let Err(e) = ranges.read(dwarf, unit, &attr) {
                                    range_err = range_err.or(Some(e));
                                }
                            }
                            n if is_name_attr(n) => self.name_attrs.push((n, attr.value())),
                            _ => {}
                        }
                    }
                    let f = self.funcs.len();
                    let mut addrs = Vec::new();
                    let first = match range_err {
                        Some(e) => Err(e),
                        None => ranges.for_each(dwarf, unit, |b, e| addrs.push((b, e, f))),
                    };
                    let first = first.unwrap_or_else(|e| {
                        // Without its ranges it is not known where it is: its code is
                        // answered from the line table and the symbol table.
                        warn.skip("function", &why(&e), || info_at(unit_offset + offset));
                        addrs.clear();
                        None
                    });
                    die.first_range(&ranges, first);
                    if !addrs.is_empty() {
                        die.name_attrs = (first_name as u32, self.name_attrs.len() as u32);
                        self.func_addrs.extend(addrs);
                        self.funcs.push(Func { die: self.dies.len(), inlines: (0, 0), disjoint: true, error: None });
                        self.dies.push(die);
                        Ctx { func: Some(f), depth: 0 }
                    } else {
                        self.name_attrs.truncate(first_name);
                        // Inlined code under a subprogram without code belongs to no function.
                        Ctx { func: None, depth: 0 }
                    }
                }
                gimli::DW_TAG_inlined_subroutine if ctx.func.is_some() => {
                    let f = ctx.func.unwrap();
                    let mut ranges = RangeAttrs::default();
                    let mut die = Die::new(offset);
                    let mut error = None;
                    let first_name = self.name_attrs.len();
                    for spec in abbrev.attributes() {
                        let attr = entries.read_attribute(*spec).map_err(|e| (e, offset, depth))?;
                        match attr.name() {
                            gimli::DW_AT_low_pc | gimli::DW_AT_high_pc | gimli::DW_AT_ranges => {
                                die.note_entry(dwarf, unit, &attr);
                                if let Err(e) = ranges.read(dwarf, unit, &attr) {
                                    error = error.or(Some(e));
                                }
                            }
                            gimli::DW_AT_call_file | gimli::DW_AT_call_line | gimli::DW_AT_call_column => read_call(&mut die, &attr),
                            n if is_name_attr(n) => self.name_attrs.push((n, attr.value())),
                            _ => {}
                        }
                    }
                    die.name_attrs = (first_name as u32, self.name_attrs.len() as u32);
                    let index = self.dies.len();
                    self.dies.push(die);
                    let depth = ctx.depth;
                    let out = &mut self.inline_addrs;
                    match ranges.for_each(dwarf, unit, |b, e| out.push((f, depth, b, e, index))) {
                        Ok(first) => self.dies[index].first_range(&ranges, first),
                        Err(e) => error = error.or(Some(e)),
                    }
                    if let Some(e) = error {
                        if self.funcs[f].error.is_none() {
                            // Its inlined code is not known whole: the function is skipped.
                            warn.skip("function", &why(&e), || info_at(unit_offset + self.dies[self.funcs[f].die].offset));
                            self.funcs[f].error = Some(e);
                        }
                    }
                    Ctx { func: Some(f), depth: depth + 1 }
                }
                _ => {
                    entries.skip_attributes(abbrev.attributes()).map_err(|e| (e, offset, depth))?;
                    ctx
                }
            };
            if abbrev.has_children() {
                stack.push((depth, child));
                depth += 1;
            }
            pos = entries.next_offset().0 - header_size;
        }
        Ok(())
    }

    /// The function whose range holds `probe` (a binary search, as addr2line's).
    fn function_at(&mut self, probe: u64) -> Option<usize> {
        let h = self.func_hint;
        if self.funcs_disjoint && h.0 <= probe && probe < h.1 {
            return h.2;
        }
        let a = &self.func_addrs;
        match a.binary_search_by(|a| range_order(a.0, a.1, probe)) {
            Ok(i) => {
                self.func_hint = (a[i].0, a[i].1, Some(a[i].2));
                Some(a[i].2)
            }
            Err(i) => {
                let low = i.checked_sub(1).map(|k| a[k].1).unwrap_or(0);
                self.func_hint = (low, a.get(i).map(|r| r.0).unwrap_or(u64::MAX), None);
                None
            }
        }
    }

    /// addr2line's `find_inlined_functions`: the inlined subroutines at `probe`, outermost
    /// first (one binary search per depth, each among the ranges at that depth).
    fn inlined_at(&mut self, f: usize, probe: u64, out: &mut Vec<usize>) {
        out.clear();
        let (s, e) = self.funcs[f].inlines;
        if self.funcs[f].disjoint {
            // Each depth on its own: the range holding `probe` at that depth, if any.
            if self.inline_hint.0 != f {
                self.inline_hint.0 = f;
                self.inline_hint.1.clear();
            }
            let (addrs, hint) = (&self.inline_addrs[s..e], &mut self.inline_hint.1);
            loop {
                let depth = out.len();
                let die = match hint.get(depth) {
                    Some(h) if h.0 <= probe && probe < h.1 => h.2,
                    _ => {
                        let h = match addrs.binary_search_by(|r| inline_order(r, depth, probe)) {
                            Ok(i) => (addrs[i].2, addrs[i].3, addrs[i].4),
                            Err(i) => {
                                let low = match i.checked_sub(1).map(|k| &addrs[k]) {
                                    Some(r) if r.1 == depth => r.3,
                                    _ => 0,
                                };
                                let high = match addrs.get(i) {
                                    Some(r) if r.1 == depth => r.2,
                                    _ => u64::MAX,
                                };
                                (low, high, usize::MAX)
                            }
                        };
                        if depth < hint.len() {
                            hint[depth] = h;
                        } else {
                            hint.push(h);
                        }
                        h.2
                    }
                };
                if die == usize::MAX {
                    return;
                }
                out.push(die);
            }
        }
        let mut addrs = &self.inline_addrs[s..e];
        loop {
            let depth = out.len();
            let found = addrs.binary_search_by(|r| inline_order(r, depth, probe));
            match found {
                Ok(i) => {
                    out.push(addrs[i].4);
                    addrs = &addrs[i + 1..];
                }
                Err(_) => return,
            }
        }
    }
}

/// Where an inlined range lies from `probe` at `depth`, for `inline_addrs`' order.
fn inline_order(r: &(usize, usize, u64, u64, usize), depth: usize, probe: u64) -> Ordering {
    if r.1 > depth {
        Ordering::Greater
    } else if r.1 < depth {
        Ordering::Less
    } else if r.2 > probe {
        Ordering::Greater
    } else if r.3 <= probe {
        Ordering::Less
    } else {
        Ordering::Equal
    }
}

fn read_call(die: &mut Die<'_>, attr: &gimli::Attribute<Reader<'_>>) {
    match attr.name() {
        gimli::DW_AT_call_file => {
            if let gimli::AttributeValue::FileIndex(fi) = attr.value() {
                die.call_file = fi;
            }
        }
        gimli::DW_AT_call_line => die.call_line = attr.udata_value().unwrap_or(0) as u32,
        gimli::DW_AT_call_column => die.call_column = attr.udata_value().unwrap_or(0) as u32,
        _ => {}
    }
}

/// A DIE's own name attributes, in attribute order as addr2line reads them: a linkage
/// name wins, then `DW_AT_name`, then the name behind an origin or specification.
fn read_name<'u>(die: &mut Die<'u>, name: gimli::DwAt, value: gimli::AttributeValue<Reader<'u>>, unit: &Unit<'u>, names: &mut Names<'_, '_, 'u, '_>) -> Result<()> {
    match name {
        gimli::DW_AT_linkage_name | gimli::DW_AT_MIPS_linkage_name => {
            if let Ok(s) = names.dwarf.attr_string(unit, value) {
                die.name = Some(Cow::Borrowed(s.slice()));
                die.origin = 0;
            }
        }
        gimli::DW_AT_name => {
            if die.name.is_none() {
                die.name = names.dwarf.attr_string(unit, value).ok().map(|s| Cow::Borrowed(s.slice()));
                die.origin = 0;
            }
        }
        gimli::DW_AT_abstract_origin | gimli::DW_AT_specification => {
            if die.name.is_none() {
                let (n, key) = names.resolve(value, unit)?;
                die.name = n;
                die.origin = key.map(|k| k + 1).unwrap_or(0);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The attributes [`read_name`] reads.
fn is_name_attr(name: gimli::DwAt) -> bool {
    matches!(name, gimli::DW_AT_linkage_name | gimli::DW_AT_MIPS_linkage_name | gimli::DW_AT_name | gimli::DW_AT_abstract_origin | gimli::DW_AT_specification)
}

/// Units read for names behind cross-unit references: their bytes by unit index, and
/// what naming needs of their `gimli::Unit` once one was made.
#[derive(Default)]
struct UnitCache<'b> {
    units: FastMap<usize, (Cow<'b, [u8]>, Option<UnitMeta>)>,
    bytes: usize,
    abbrevs: Abbrevs,
}

/// A `gimli::Unit` without what borrows its bytes. `Dwarf::unit` parses the unit's
/// abbreviations and line program header every time; naming needs neither the line
/// program nor a second parse (the same bytes make the same unit).
struct UnitMeta {
    abbreviations: std::sync::Arc<gimli::Abbreviations>,
    low_pc: u64,
    str_offsets_base: gimli::DebugStrOffsetsBase<usize>,
    addr_base: gimli::DebugAddrBase<usize>,
    loclists_base: gimli::DebugLocListsBase<usize>,
    rnglists_base: gimli::DebugRngListsBase<usize>,
    dwo_id: Option<gimli::DwoId>,
}

impl UnitMeta {
    fn of(u: &Unit<'_>) -> Self {
        UnitMeta {
            abbreviations: u.abbreviations.clone(),
            low_pc: u.low_pc,
            str_offsets_base: u.str_offsets_base,
            addr_base: u.addr_base,
            loclists_base: u.loclists_base,
            rnglists_base: u.rnglists_base,
            dwo_id: u.dwo_id,
        }
    }

    /// The unit again (without name, compilation directory and line program).
    fn unit<'x>(&self, header: gimli::UnitHeader<Reader<'x>>) -> Unit<'x> {
        gimli::Unit {
            header,
            abbreviations: self.abbreviations.clone(),
            name: None,
            comp_dir: None,
            low_pc: self.low_pc,
            str_offsets_base: self.str_offsets_base,
            addr_base: self.addr_base,
            loclists_base: self.loclists_base,
            rnglists_base: self.rnglists_base,
            line_program: None,
            dwo_id: self.dwo_id,
        }
    }
}

/// Names behind DIE references, memoised per unit (many inlined instances share one
/// abstract origin).
struct Names<'c, 'm, 'u, 'b> {
    dwarf: &'c Dwarf<'u>,
    units: &'c [ResUnit],
    me: usize,
    cache: &'c mut UnitCache<'b>,
    info: &'c mut dyn InfoSection<'b>,
    endian: gimli::RunTimeEndian,
    memo: &'m mut FastMap<usize, Option<Cow<'u, [u8]>>>,
    warn: &'c mut Warnings,
}

impl<'c, 'm, 'u, 'b> Names<'c, 'm, 'u, 'b> {
    /// The name behind a reference, and the referenced DIE's `.debug_info` offset.
    fn resolve(&mut self, value: gimli::AttributeValue<Reader<'u>>, unit: &Unit<'u>) -> Result<(Option<Cow<'u, [u8]>>, Option<usize>)> {
        let key = match value {
            gimli::AttributeValue::UnitRef(o) => self.units[self.me].offset.wrapping_add(o.0),
            gimli::AttributeValue::DebugInfoRef(o) => o.0,
            _ => return Ok((None, None)),
        };
        if let Some(n) = self.memo.get(&key) {
            return Ok((n.clone(), Some(key)));
        }
        let dwarf = self.dwarf;
        let n = self.name_attr(dwarf, value, self.me, unit, NAME_HOPS)?;
        self.memo.insert(key, n.clone());
        Ok((n, Some(key)))
    }

    /// addr2line's `name_attr`: follow a reference, at most `hops` times. A name from
    /// another unit is copied: that unit's bytes are not kept.
    fn name_attr<'x>(
        &mut self,
        dwarf: &Dwarf<'x>,
        value: gimli::AttributeValue<Reader<'x>>,
        at: usize,
        unit: &Unit<'x>,
        hops: usize,
    ) -> Result<Option<Cow<'x, [u8]>>> {
        if hops == 0 {
            return Ok(None);
        }
        match value {
            gimli::AttributeValue::UnitRef(o) => self.name_entry(dwarf, at, unit, o, hops),
            gimli::AttributeValue::DebugInfoRef(dr) => {
                let u = match self.units.binary_search_by_key(&dr.0, |u| u.offset) {
                    Ok(_) | Err(0) => return Ok(self.bad_ref(gimli::Error::NoEntryAtGivenOffset, dr.0)),
                    Err(i) => i - 1,
                };
                let o = gimli::UnitOffset(dr.0 - self.units[u].offset);
                if u == at {
                    return self.name_entry(dwarf, at, unit, o, hops);
                }
                // Taken out while in use: the recursion may touch the cache.
                let (bytes, meta) = match self.cache.units.remove(&u) {
                    Some((b, m)) => {
                        self.cache.bytes -= b.len();
                        (b, m)
                    }
                    None => (unit_bytes(&mut *self.info, self.endian, self.units[u].offset as u64)?, None),
                };
                let (r, meta) = {
                    // (read in pass 1 already)
                    let header = unit_header(&bytes, self.endian).map_err(dwarf_err)?;
                    let other = match &meta {
                        Some(m) => m.unit(header),
                        None => open_unit(dwarf, header, &mut self.cache.abbrevs).map_err(dwarf_err)?.0,
                    };
                    let meta = meta.unwrap_or_else(|| UnitMeta::of(&other));
                    (self.name_entry(dwarf, u, &other, o, hops)?.map(|n| Cow::Owned(n.into_owned())), meta)
                };
                if self.cache.units.len() >= UNIT_CACHE || self.cache.bytes + bytes.len() > UNIT_CACHE_BYTES {
                    self.cache.units.clear();
                    self.cache.bytes = 0;
                }
                if bytes.len() <= UNIT_CACHE_BYTES {
                    self.cache.bytes += bytes.len();
                    self.cache.units.insert(u, (bytes, Some(meta)));
                }
                Ok(r)
            }
            _ => Ok(None),
        }
    }

    /// A reference that leads nowhere readable: no name from it (told in `warn`).
    fn bad_ref<'x>(&mut self, e: gimli::Error, target: usize) -> Option<Cow<'x, [u8]>> {
        self.warn.skip("name reference", &why(&e), || format!("{} (its target)", info_at(target)));
        None
    }

    fn name_entry<'x>(&mut self, dwarf: &Dwarf<'x>, at: usize, unit: &Unit<'x>, offset: gimli::UnitOffset, hops: usize) -> Result<Option<Cow<'x, [u8]>>> {
        let target = self.units[at].offset.wrapping_add(offset.0);
        let mut entries = match unit.entries_raw(Some(offset)) {
            Ok(e) => e,
            Err(e) => return Ok(self.bad_ref(e, target)),
        };
        let abbrev = match entries.read_abbreviation() {
            Ok(Some(a)) => a,
            Ok(None) => return Ok(self.bad_ref(gimli::Error::NoEntryAtGivenOffset, target)),
            Err(e) => return Ok(self.bad_ref(e, target)),
        };
        let mut name = None;
        let mut next = None;
        for spec in abbrev.attributes() {
            let attr = match entries.read_attribute(*spec) {
                Ok(a) => a,
                Err(e) => return Ok(self.bad_ref(e, target)),
            };
            match attr.name() {
                gimli::DW_AT_linkage_name | gimli::DW_AT_MIPS_linkage_name => {
                    if let Ok(s) = dwarf.attr_string(unit, attr.value()) {
                        return Ok(Some(Cow::Borrowed(s.slice())));
                    }
                }
                gimli::DW_AT_name => {
                    if let Ok(s) = dwarf.attr_string(unit, attr.value()) {
                        name = Some(s.slice());
                    }
                }
                gimli::DW_AT_abstract_origin | gimli::DW_AT_specification => next = Some(attr.value()),
                _ => {}
            }
        }
        if let Some(n) = name {
            return Ok(Some(Cow::Borrowed(n)));
        }
        match next {
            Some(v) => self.name_attr(dwarf, v, at, unit, hops - 1),
            None => Ok(None),
        }
    }
}

/// The unit being answered from, and what naming its DIEs needs.
struct At<'c, 'u, 'b> {
    dwarf: &'c Dwarf<'u>,
    units: &'c [ResUnit],
    me: usize,
    unit: &'c Unit<'u>,
    lang: u32,
    cache: &'c mut UnitCache<'b>,
    info: &'c mut dyn InfoSection<'b>,
    endian: gimli::RunTimeEndian,
    warn: &'c mut Warnings,
}

/// Interning state shared by all units.
struct State<'w, 'y, 'a> {
    w: &'w mut SymCacheWriter,
    syms: &'y mut Symbols<'a>,
    fns: &'y mut demangle::Functions,
    base: u64,
    outer_from_symbols: bool,
    /// Function per raw name, per language (owned: the units' bytes are not kept).
    func_names: FastMap<u32, FastMap<Box<[u8]>, u32>>,
    /// The previous chain and its location: neighbouring rows often share it.
    prev: Vec<FrameSpec>,
    prev_loc: u32,
    frames: Vec<FrameSpec>,
    /// `UnitData::inlined_at`'s answer (kept: answering is the build's inner loop).
    inlined: Vec<usize>,
}

impl<'w, 'y, 'a> State<'w, 'y, 'a> {
    fn function(&mut self, name: Option<&[u8]>, lang: u32) -> u32 {
        let raw = match name {
            Some(n) => n,
            None => return NONE,
        };
        let names = self.func_names.entry(lang).or_default();
        if let Some(&f) = names.get(raw) {
            return f;
        }
        let raw_s = String::from_utf8_lossy(raw);
        let f = self.fns.intern(self.w, &raw_s, lang);
        names.insert(raw.into(), f);
        f
    }

    fn file(&mut self, lines: Option<&Lines>, files: &mut [Option<u32>], index: u64) -> u32 {
        let lines = match lines {
            Some(l) => l,
            None => return NONE,
        };
        match lines.files.get(index as usize) {
            Some(Some(path)) => *files[index as usize].get_or_insert_with(|| self.w.file(path)),
            _ => NONE,
        }
    }

    /// The DIE's function and entry address (the probe address where the DIE has none,
    /// as before: the first one that needed it). Names are read here, for the DIEs that
    /// answer a row only (most subprograms are declarations without code).
    fn die<'u>(&mut self, cu: &mut UnitData<'u>, i: usize, at: &mut At<'_, 'u, '_>, probe: u64) -> Result<(u32, u64)> {
        if cu.dies[i].function == UNSET {
            let mut names = Names {
                dwarf: at.dwarf,
                units: at.units,
                me: at.me,
                cache: &mut *at.cache,
                info: &mut *at.info,
                endian: at.endian,
                memo: &mut cu.memo,
                warn: &mut *at.warn,
            };
            let (first, end) = cu.dies[i].name_attrs;
            for k in first as usize..end as usize {
                let (name, value) = cu.name_attrs[k];
                read_name(&mut cu.dies[i], name, value, at.unit, &mut names)?;
            }
            let origin = cu.dies[i].origin;
            let name = cu.dies[i].name.as_deref();
            let function = if origin == 0 {
                self.function(name, at.lang)
            } else {
                match cu.origin_funcs.get(&origin) {
                    Some(&f) => f,
                    None => {
                        let f = self.function(name, at.lang);
                        cu.origin_funcs.insert(origin, f);
                        f
                    }
                }
            };
            cu.dies[i].function = function;
        }
        let die = &mut cu.dies[i];
        if !die.entry_known {
            die.entry = Some(die_entry(at.dwarf, at.unit, gimli::UnitOffset(die.offset)).unwrap_or(probe));
            die.entry_known = true;
        }
        Ok((die.function, die.entry.unwrap_or(probe).wrapping_sub(self.base)))
    }

    /// The frame chain at `probe` from this unit (addr2line's `find_frames` once the unit
    /// is chosen), interned; `None` when the unit knows nothing there.
    fn answer<'u>(
        &mut self,
        probe: u64,
        at: &mut At<'_, 'u, '_>,
        cu: &mut UnitData<'u>,
        lines: Option<&Lines>,
        files: &mut [Option<u32>],
    ) -> Result<Option<u32>> {
        // A function skipped for a defect answers as code outside any function.
        let func = cu.function_at(probe).filter(|&f| cu.funcs[f].error.is_none());
        let row = lines.and_then(|l| l.find(probe)).copied();
        let (file, line, column) = match row {
            Some(r) => (self.file(lines, files, r.1), r.2, r.3),
            None => (NONE, 0, 0),
        };
        let mut frames = std::mem::take(&mut self.frames);
        frames.clear();
        match func {
            Some(f) => {
                let mut inl = std::mem::take(&mut self.inlined);
                cu.inlined_at(f, probe, &mut inl);
                let (function, sym_addr) = self.die(cu, cu.funcs[f].die, at, probe)?;
                frames.push(FrameSpec { function, file: NONE, line: 0, column: 0, sym_addr });
                for &i in &inl {
                    // The caller's location is the call site of the frame inlined into it.
                    let (cf, cl, cc) = (cu.dies[i].call_file, cu.dies[i].call_line, cu.dies[i].call_column);
                    let caller = frames.last_mut().unwrap();
                    caller.file = if cf != 0 { self.file(lines, files, cf) } else { NONE };
                    caller.line = cl;
                    caller.column = cc;
                    let (function, sym_addr) = self.die(cu, i, at, probe)?;
                    frames.push(FrameSpec { function, file: NONE, line: 0, column: 0, sym_addr });
                }
                let inner = frames.last_mut().unwrap();
                inner.file = file;
                inner.line = line;
                inner.column = column;
                self.inlined = inl;
            }
            None if row.is_some() => {
                frames.push(FrameSpec { function: NONE, file, line, column, sym_addr: probe.wrapping_sub(self.base) });
            }
            None => {
                self.frames = frames;
                return Ok(None);
            }
        }
        // Like llvm-symbolizer, the outermost frame is named by the symbol table when a
        // symbol covers the address (it has the linkage name, `.cold` parts, ...).
        if self.outer_from_symbols {
            if let Some((start, f)) = self.syms.at(probe, self.w, self.fns) {
                frames[0].function = f;
                frames[0].sym_addr = start.wrapping_sub(self.base);
            }
        }
        let loc = if frames == self.prev {
            self.prev_loc
        } else {
            let loc = self.w.chain(&frames);
            std::mem::swap(&mut self.prev, &mut frames);
            self.prev_loc = loc;
            loc
        };
        self.frames = frames;
        Ok(Some(loc))
    }
}

/// The entry address of a function or inlined-subroutine DIE: its `DW_AT_low_pc`, else the
/// start of its first range.
fn die_entry(dwarf: &Dwarf<'_>, unit: &Unit<'_>, off: gimli::UnitOffset) -> Option<u64> {
    let entry = unit.entry(off).ok()?;
    if let Ok(Some(v)) = entry.attr_value(gimli::DW_AT_low_pc) {
        if let Ok(Some(a)) = dwarf.attr_address(unit, v) {
            return Some(a);
        }
    }
    let mut ranges = dwarf.die_ranges(unit, &entry).ok()?;
    let first = ranges.next().ok()??;
    Some(first.begin)
}

/// What the builder reads of a line-table row (gimli's `LineRow`).
#[derive(Clone, Copy)]
struct Row {
    address: u64,
    file: u64,
    line: u64,
    column: u64,
    end_sequence: bool,
}

/// Calls `f` with every row of `program`, as gimli's `next_row` gives them, and gives
/// the header the files are then read from (gimli's after a `DW_LNE_define_file`).
///
/// The common opcodes are run here (`next_row` decodes each into an enum first, the
/// largest cost of the line tables); on anything else (VLIW, unknown or vendor opcodes,
/// `DW_LNE_define_file`, operands that are truncated or longer than 9 bytes) gimli
/// runs the program again from the start, the rows already given skipped, so rows and
/// errors are gimli's. Without `LINES` only addresses and ends of sequence are right.
fn for_each_row<'h, 's, const LINES: bool>(
    program: &'h gimli::IncompleteLineProgram<Reader<'s>>,
    mut f: impl FnMut(&Row),
) -> gimli::Result<Cow<'h, gimli::LineProgramHeader<Reader<'s>>>> {
    let header = program.header();
    let given = match fast_rows::<LINES>(header, &mut f) {
        Ok(()) => return Ok(Cow::Borrowed(header)),
        Err(given) => given,
    };
    let mut rows = program.clone().rows();
    let mut n = 0usize;
    while let Some((_, row)) = rows.next_row()? {
        if n >= given {
            let column = match row.column() {
                gimli::ColumnType::LeftEdge => 0,
                gimli::ColumnType::Column(c) => c.get(),
            };
            let line = row.line().map(|l| l.get()).unwrap_or(0);
            f(&Row { address: row.address(), file: row.file_index(), line, column, end_sequence: row.end_sequence() });
        }
        n += 1;
    }
    Ok(Cow::Owned(rows.header().clone()))
}

/// [`for_each_row`]'s interpreter: `Err` with the number of rows given where gimli must
/// take over.
fn fast_rows<const LINES: bool>(header: &gimli::LineProgramHeader<Reader<'_>>, f: &mut impl FnMut(&Row)) -> std::result::Result<(), usize> {
    let enc = header.line_encoding();
    let buf = header.raw_program_buf();
    let endian = gimli::Reader::endian(&buf);
    let b: &[u8] = buf.slice();
    let base = header.opcode_base();
    let address_size = header.address_size();
    // (gimli refuses a zero line range or instruction length when parsing the header)
    if enc.maximum_operations_per_instruction != 1 || enc.line_range == 0 || base == 0 || !matches!(address_size, 1 | 2 | 4 | 8) {
        return Err(0);
    }
    let min_len = u64::from(enc.minimum_instruction_length);
    let (line_base, line_range) = (i64::from(enc.line_base), enc.line_range);
    let initial = Row { address: 0, file: 1, line: 1, column: 0, end_sequence: false };
    let mut row = initial;
    let mut given = 0usize;
    let mut pos = 0usize;
    while let Some(&op) = b.get(pos) {
        pos += 1;
        if op >= base {
            let adjusted = op - base;
            if LINES {
                row.line = line_advance(row.line, line_base + i64::from(adjusted % line_range));
            }
            row.address = row.address.wrapping_add(min_len.wrapping_mul(u64::from(adjusted / line_range)));
            f(&row);
            given += 1;
            continue;
        }
        match op {
            0 => {
                // Extended: a length, then the opcode and its operands in that length.
                let (len, at) = uleb9(b, pos).ok_or(given)?;
                let end = usize::try_from(len).ok().and_then(|l| at.checked_add(l)).filter(|&e| e <= b.len() && e > at).ok_or(given)?;
                match b[at] {
                    1 => {
                        row.end_sequence = true;
                        f(&row);
                        given += 1;
                        row = initial;
                    }
                    2 => {
                        let mut r = gimli::EndianSlice::new(&b[at + 1..end], endian);
                        row.address = gimli::Reader::read_address(&mut r, address_size).map_err(|_| given)?;
                    }
                    4 => {
                        let (_, after) = uleb9(b, at + 1).ok_or(given)?;
                        if after > end {
                            return Err(given);
                        }
                    }
                    _ => return Err(given),
                }
                pos = end;
            }
            1 => {
                f(&row);
                given += 1;
            }
            2 => {
                let (adv, at) = uleb9(b, pos).ok_or(given)?;
                row.address = row.address.wrapping_add(min_len.wrapping_mul(adv));
                pos = at;
            }
            3 => {
                let (v, at) = uleb9(b, pos).ok_or(given)?;
                // Sign-extended from its last byte's sign bit.
                let bits = 7 * (at - pos) as u32;
                let inc = if bits < 64 && b[at - 1] & 0x40 != 0 { (v | (!0u64 << bits)) as i64 } else { v as i64 };
                row.line = line_advance(row.line, inc);
                pos = at;
            }
            4 | 5 | 12 => {
                let (v, at) = uleb9(b, pos).ok_or(given)?;
                match op {
                    4 => row.file = v,
                    5 => row.column = v,
                    _ => {}
                }
                pos = at;
            }
            6 | 7 | 10 | 11 => {}
            8 => {
                let adv = (255 - base) / line_range;
                row.address = row.address.wrapping_add(min_len.wrapping_mul(u64::from(adv)));
            }
            9 => {
                let two = b.get(pos..pos + 2).ok_or(given)?;
                let adv = if gimli::Endianity::is_big_endian(endian) { u16::from_be_bytes([two[0], two[1]]) } else { u16::from_le_bytes([two[0], two[1]]) };
                row.address = row.address.wrapping_add(u64::from(adv));
                pos += 2;
            }
            _ => return Err(given),
        }
    }
    Ok(())
}

/// The unsigned LEB128 of at most 9 bytes at `pos` in `b`, and the position after it;
/// `None` for a longer or unterminated one (left to gimli, which checks overflow).
fn uleb9(b: &[u8], pos: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for k in 0..9 {
        let x = *b.get(pos + k)?;
        v |= u64::from(x & 0x7f) << (7 * k);
        if x < 0x80 {
            return Some((v, pos + k + 1));
        }
    }
    None
}

/// gimli's line advance: a decrease stops at 0.
fn line_advance(line: u64, inc: i64) -> u64 {
    if inc < 0 {
        line.saturating_sub(inc.unsigned_abs())
    } else {
        line.wrapping_add(inc as u64)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn radix_sort_sorts() {
        let mut seed = 3u64;
        for n in [0, 1, 255, 256, 1000, 5000] {
            for scale in [1u64, 1 << 12, 1 << 40, u64::MAX] {
                let mut v: Vec<u64> = (0..n)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (seed >> 7) % scale.max(1) + if scale == 1 { 7 } else { 0 }
                    })
                    .collect();
                let mut want = v.clone();
                want.sort_unstable();
                super::radix_sort(&mut v);
                assert_eq!(v, want);
            }
        }
    }

    #[test]
    fn sort_bounds_sorts() {
        let mut seed = 5u64;
        for n in [0, 3, 255, 256, 3000] {
            for scale in [4u64, 1 << 20, 1 << 62, u64::MAX] {
                let mut v: Vec<(u64, bool)> = (0..n)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        ((seed >> 3) % scale, seed >> 63 != 0)
                    })
                    .collect();
                let mut want = v.clone();
                want.sort_unstable();
                want.dedup_by_key(|b| b.0);
                super::sort_bounds(&mut v);
                assert_eq!(v, want);
            }
        }
    }

    /// The DIE stepper hands a LEB128 longer than 9 bytes to gimli, which refuses some of
    /// them (a 10th byte above 1): stepping over one would accept a DIE gimli rejects.
    #[test]
    fn long_leb128_is_left_to_gimli() {
        use gimli::RunTimeEndian::Little;
        // 1: DW_TAG_compile_unit with children; 2: DW_TAG_variable, DW_AT_const_value udata.
        let abbrev = [1u8, 0x11, 1, 0, 0, 2, 0x34, 0, 0x1c, 0x0f, 0, 0, 0];
        let check = |leb: &[u8], steps: bool| {
            // version 4, abbreviations at 0, 8-byte addresses; the unit's DIE, ours at 12
            let mut body = vec![4u8, 0, 0, 0, 0, 0, 8, 1, 2];
            body.extend_from_slice(leb);
            body.push(0);
            let mut info = (body.len() as u32).to_le_bytes().to_vec();
            info.extend(body);
            let dwarf = gimli::Dwarf { debug_abbrev: gimli::DebugAbbrev::new(&abbrev, Little), ..Default::default() };
            let header = gimli::DebugInfo::new(&info, Little).units().next().unwrap().unwrap();
            let unit = dwarf.unit(header).unwrap();
            let st = super::Skips::new(&unit).step(&info, 12);
            assert_eq!(st.map(|s| s.end), if steps { Some(info.len() - 1) } else { None }, "{:x?}", leb);
            let mut entries = unit.entries();
            entries.next_dfs().unwrap();
            let (_, die) = entries.next_dfs().unwrap().unwrap();
            assert_eq!(die.attrs().next().is_ok(), steps, "gimli reads {:x?}", leb);
        };
        check(&[0x7f], true);
        check(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], true);
        check(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], false);
    }

    #[test]
    fn gallop_is_partition_point() {
        for n in 0..40 {
            let v: Vec<usize> = (0..n).collect();
            for x in 0..=n + 1 {
                assert_eq!(super::gallop(&v, |&e| e < x), v.partition_point(|&e| e < x));
            }
        }
    }
    /// `for_each_row` gives gimli's rows, errors and files on random line programs.
    #[test]
    fn fast_rows_are_gimli_rows() {
        use super::{for_each_row, Row};
        let mut seed = 11u64;
        let mut rnd = move |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n.max(1)
        };
        fn uleb(out: &mut Vec<u8>, mut v: u64, pad: usize) {
            for k in 0.. {
                let more = v >= 0x80 || k < pad;
                out.push((v & 0x7f) as u8 | if more { 0x80 } else { 0 });
                v >>= 7;
                if !more {
                    break;
                }
            }
        }
        let (mut fell_back, mut failed) = (0, 0);
        for case in 0..20000 {
            // A third of the programs have what the fast path leaves to gimli.
            let odd = rnd(3) == 0;
            let big = rnd(4) == 0;
            let endian = if big { gimli::RunTimeEndian::Big } else { gimli::RunTimeEndian::Little };
            let address_size = [4u8, 8, 8, 2][rnd(4) as usize];
            let opcode_base = if rnd(5) == 0 { 1 + rnd(16) as u8 } else { 13 };
            let line_range = 1 + rnd(14) as u8;
            let max_ops = if odd && rnd(10) == 0 { 2 } else { 1 };
            let mut program = Vec::new();
            for _ in 0..rnd(60) {
                match rnd(14) {
                    0..=4 => program.push(opcode_base.max(1) + rnd(u64::from(255 - opcode_base.max(1)) + 1) as u8),
                    5 => {
                        let op = 1 + rnd(if odd { 14 } else { 12 }) as u8;
                        program.push(op);
                        let args = [0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1][usize::from(op - 1).min(11)];
                        if op == 9 {
                            program.extend_from_slice(&[rnd(256) as u8, rnd(256) as u8]);
                        }
                        for _ in 0..(if odd { rnd(3) } else { args }) {
                            uleb(&mut program, rnd(1 << 20), if odd && rnd(10) == 0 { 9 } else { 0 });
                        }
                    }
                    6 => {
                        program.push(3);
                        let v = rnd(1000) as i64 - 500;
                        let mut v = if rnd(10) == 0 { v * 1_000_000_000_000 } else { v };
                        loop {
                            let byte = (v & 0x7f) as u8;
                            v >>= 7;
                            let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
                            program.push(if done { byte } else { byte | 0x80 });
                            if done {
                                break;
                            }
                        }
                    }
                    7 => {
                        program.push(9);
                        program.extend_from_slice(&[rnd(256) as u8, rnd(256) as u8]);
                    }
                    8 | 9 => {
                        let sub = [1u8, 2, 2, 4, 3, 0x80][rnd(if odd { 6 } else { 4 }) as usize];
                        let mut rest = vec![sub];
                        match sub {
                            2 => {
                                for _ in 0..(if odd && rnd(8) == 0 { rnd(9) } else { u64::from(address_size) }) {
                                    rest.push(rnd(256) as u8);
                                }
                            }
                            3 => {
                                rest.extend_from_slice(b"x.c\0");
                                uleb(&mut rest, rnd(3), 0);
                                uleb(&mut rest, 0, 0);
                                uleb(&mut rest, 0, 0);
                            }
                            4 => uleb(&mut rest, rnd(300), if rnd(10) == 0 { 5 } else { 0 }),
                            _ => {}
                        }
                        program.push(0);
                        let len = match if odd { rnd(12) } else { 2 } {
                            0 => 0,
                            1 => rest.len() as u64 + 3,
                            _ => rest.len() as u64,
                        };
                        uleb(&mut program, len, 0);
                        program.extend_from_slice(&rest);
                    }
                    _ => {
                        program.extend_from_slice(&[0, 1, 1]); // end of sequence
                    }
                }
            }
            if odd && rnd(3) == 0 {
                let cut = rnd(program.len() as u64 + 1) as usize;
                program.truncate(cut);
            }
            // A version 4 header.
            let mut h = Vec::new();
            h.extend_from_slice(&[1 + rnd(4) as u8, max_ops, 1, (rnd(8) as i8 - 5) as u8, line_range, opcode_base]);
            let lengths = [0u8, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 2, 0, 1];
            for k in 0..usize::from(opcode_base.saturating_sub(1)) {
                h.push(*lengths.get(k).unwrap_or(&1));
            }
            h.extend_from_slice(b"dir\0\0a.c\0\x01\0\0b.c\0\x00\0\0\0");
            let mut unit = Vec::new();
            let put16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&if big { x.to_be_bytes() } else { x.to_le_bytes() });
            let put32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&if big { x.to_be_bytes() } else { x.to_le_bytes() });
            put32(&mut unit, (2 + 4 + h.len() + program.len()) as u32);
            put16(&mut unit, 4);
            put32(&mut unit, h.len() as u32);
            unit.extend_from_slice(&h);
            unit.extend_from_slice(&program);
            let section = gimli::DebugLine::new(&unit, endian);
            let program = match section.program(gimli::DebugLineOffset(0), address_size, None, None) {
                Ok(p) => p,
                Err(_) => continue,
            };
            let mut want = Vec::new();
            let mut rows = program.clone().rows();
            let want_end = loop {
                match rows.next_row() {
                    Ok(Some((_, r))) => want.push((r.address(), r.file_index(), r.line().map(|l| l.get()).unwrap_or(0), match r.column() {
                        gimli::ColumnType::LeftEdge => 0,
                        gimli::ColumnType::Column(c) => c.get(),
                    }, r.end_sequence())),
                    Ok(None) => break Ok(rows.header().file_names().len()),
                    Err(e) => break Err(e),
                }
            };
            let mut got = Vec::new();
            let got_end = for_each_row::<true>(&program, |r: &Row| got.push((r.address, r.file, r.line, r.column, r.end_sequence))).map(|h| h.file_names().len());
            assert_eq!(got, want, "case {}", case);
            assert_eq!(got_end, want_end, "case {}", case);
            let mut got = Vec::new();
            let got_end = for_each_row::<false>(&program, |r: &Row| got.push((r.address, r.end_sequence))).map(|h| h.file_names().len());
            assert_eq!(got, want.iter().map(|w| (w.0, w.4)).collect::<Vec<_>>(), "case {}", case);
            assert_eq!(got_end, want_end, "case {}", case);
            let fast = super::fast_rows::<true>(program.header(), &mut |_: &Row| {}).is_ok();
            // (an opcode base below 13 makes some standard opcodes special ones)
            assert!(fast || odd || opcode_base < 13, "case {}", case);
            fell_back += !fast as u32;
            failed += want_end.is_err() as u32;
        }
        // Both paths were taken, and errors met.
        assert!(fell_back > 2000 && fell_back < 10000 && failed > 500, "{} {}", fell_back, failed);
    }
}
