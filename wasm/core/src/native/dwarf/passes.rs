//! The two passes over the units ([`add_ranges`]): pass 1 reads every unit's line program
//! and address ranges; pass 2 answers, unit by unit, the rows each unit covers.

use super::answers::{AnsweringUnit, FrameInterner, Symbols};
use super::dies::{RangeAttrs, Spare, UnitCode};
use super::lines::{for_each_row, LineBufs, Lines};
use super::names::UnitCache;
use super::sort::{gallop, radix_sort, sort_dedup, AddrsFn, Bounds};
use super::units::{open_unit, unit_bytes, unit_bytes_or, unit_header, Decls, InfoSection};
use super::{info_at, why, Dwarf, Reader, Unit};
use crate::error::Result;
use crate::hash::FastMap;
use crate::native::warnings::Warnings;
use crate::native::{demangle, dwarf_err, in_ranges};
use crate::symcache::{SymCacheWriter, NONE};

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

/// A compilation unit as addr2line keeps it (type units and units without a root DIE
/// are not among them).
pub(super) struct CompUnit {
    /// Its place in `.debug_info`.
    pub(super) offset: usize,
    pub(super) lang: u32,
    /// Where its line program is in `.debug_line` (`usize::MAX`: none).
    line: usize,
}

/// An address range of a unit (an index into the units).
struct UnitRange {
    begin: u64,
    end: u64,
    unit: usize,
}

/// An address range of a unit and the unit's priority there: where unit ranges overlap,
/// the higher priority answers.
#[derive(Clone, Copy)]
struct RankedRange {
    begin: u64,
    end: u64,
    prio: u32,
}

/// What pass 1 finds.
struct FirstPass {
    /// Row addresses, sorted, one per address, and the ends of sequence.
    bounds: Bounds,
    units: Vec<CompUnit>,
    unit_ranges: Vec<UnitRange>,
    /// Whether every unit's line program header was read (where one was not, its place
    /// is not known and `.debug_line` is kept whole).
    lines_known: bool,
}

/// A row boundary (an index into the bounds) a unit may answer, with its priority there.
#[derive(Clone, Copy)]
struct Probe {
    bound: u32,
    prio: u32,
}

/// A boundary's answer: the priority of the unit that answered (0: none yet) and the
/// location it gave.
#[derive(Clone, Copy)]
struct RowAnswer {
    prio: u32,
    loc: u32,
}

/// An answer inside a row, where inlined code or a function begins or ends.
struct MidRowAnswer {
    addr: u64,
    prio: u32,
    loc: u32,
}

/// Progress of the build over `.debug_info`'s bytes: pass 1 is the first third, pass 2
/// the rest, the writer's finish the last part.
#[derive(Clone, Copy)]
struct Progress {
    info_len: u64,
    total: u64,
}

impl Progress {
    fn new(info_len: u64) -> Self {
        // Saturating: a section header can claim any size.
        Progress {
            info_len,
            total: info_len.saturating_mul(3).saturating_add(info_len / 2),
        }
    }

    fn first_pass(&self, offset: u64) {
        crate::native::progress::report(offset, self.total);
    }

    fn second_pass(&self, unit_offset: usize) {
        crate::native::progress::report(self.info_len.saturating_add(2 * unit_offset as u64), self.total);
    }
}

/// Every line-table row's answer, for [`RowRanges::write`] once the DWARF is freed.
pub(in crate::native) struct RowRanges {
    bounds: Bounds,
    best: Vec<RowAnswer>,
    mid_row: Vec<MidRowAnswer>,
}

impl RowRanges {
    /// Adds the ranges of every answered row to `w`.
    pub(in crate::native) fn write(self, w: &mut SymCacheWriter, base: u64) {
        write_ranges(w, base, &self.bounds, &self.best, self.mid_row);
    }
}

/// `.debug_line` is given back a step of at least this many bytes at a time (a host call
/// each).
const LINE_RELEASE_STEP: usize = if cfg!(test) { 4096 } else { 256 << 10 };

/// `.debug_line` before `floor` is not read again: gives back its whole pages from
/// `given` on (a step at a time); the new `given`.
fn give_back_lines(dwarf: &Dwarf<'_>, floor: usize, given: usize) -> usize {
    let bytes = gimli::Section::reader(&dwarf.debug_line).slice();
    let floor = floor.min(bytes.len());
    if floor < given + LINE_RELEASE_STEP {
        return given;
    }
    crate::native::progress::discard_upto(bytes, given, floor)
}

/// Answers every line-table row (interning into `w`); the ranges are added by
/// [`RowRanges::write`]. `lines_own`: `.debug_line` is the build's own copy, whose pages
/// may be given back behind pass 2.
#[allow(clippy::too_many_arguments)]
pub(in crate::native) fn add_ranges<'s, 'b>(
    w: &mut SymCacheWriter,
    dwarf: &Dwarf<'s>,
    lines_own: bool,
    info: &mut dyn InfoSection<'b>,
    endian: gimli::RunTimeEndian,
    base: u64,
    code: &[(u64, u64)],
    syms: &mut Symbols<'_>,
    fns: &mut demangle::Functions,
    outer_from_symbols: bool,
    warn: &mut Warnings,
) -> Result<RowRanges> {
    // -- 1. boundaries and unit ranges --------------------------------------------------
    let aranges = arange_sets(dwarf, warn);
    let mut unit_cache = UnitCache::default();
    let progress = Progress::new(info.size());
    let FirstPass {
        bounds,
        units,
        unit_ranges,
        lines_known,
    } = first_pass(dwarf, info, endian, base, code, &aranges, progress, warn)?;
    let by_unit = rank_unit_ranges(unit_ranges, units.len());
    // Most rows get a location of their own (libc 0.71 a row, python3.11 0.77, libjvm
    // 1.0): sized for half of them, the index skips the doublings before the last.
    w.expect_locations(bounds.len() / 2);
    // Pass 2 reads the line programs of the unit it answers and of those after it only
    // (other units are opened for names without theirs): `.debug_line` before the lowest
    // of them goes back as it goes (python3.11: 3.4 MB held at the build's peak).
    let line_floor: Vec<usize> = if lines_own && lines_known {
        let mut low = usize::MAX;
        let mut v: Vec<usize> = units
            .iter()
            .rev()
            .map(|c| {
                low = low.min(c.line);
                low
            })
            .collect();
        v.reverse();
        v
    } else {
        Vec::new()
    };
    let mut lines_given = 0usize;

    // -- 2. per unit: answer the rows it covers -----------------------------------------
    let mut best: Vec<RowAnswer> = vec![RowAnswer { prio: 0, loc: NONE }; bounds.len()];
    let mut mid_row: Vec<MidRowAnswer> = Vec::new();
    let mut interner = FrameInterner {
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
    let mut decls = Decls::default();
    let (mut line_bufs, mut spare) = (LineBufs::default(), Spare::default());
    let mut probes: Vec<Probe> = Vec::new();
    for (u, ranges) in by_unit.iter().enumerate() {
        progress.second_pass(units[u].offset);
        // Units are answered in order: the bytes before this one may go.
        if info.release(units[u].offset as u64) {
            unit_cache.forget_borrowed_before(u);
        }
        if let Some(&floor) = line_floor.get(u) {
            lines_given = give_back_lines(dwarf, floor, lines_given);
        }
        probes_of(ranges, &bounds, &best, &mut probes);
        if probes.is_empty() {
            continue;
        }
        let bytes = unit_bytes(info, endian, units[u].offset as u64)?;
        // (read in pass 1 already, where its defects were told)
        let unit = unit_header(&bytes, endian)
            .and_then(|h| open_unit(dwarf, h, &mut decls))
            .map_err(dwarf_err)?
            .0;
        let lines = match unit.line_program {
            Some(_) => Some(Lines::parse_into(&unit, &mut line_bufs).0),
            None => None,
        };
        let mut cu = UnitCode::collect(dwarf, &unit, &mut decls, units[u].offset, &mut spare, warn);
        let mut files: Vec<Option<u32>> = vec![None; lines.as_ref().map(|l| l.n_files()).unwrap_or(0)];
        let mut at = AnsweringUnit {
            dwarf,
            units: &units,
            me: u,
            unit: &unit,
            decls: &mut decls,
            lang: units[u].lang,
            cache: &mut unit_cache,
            info: &mut *info,
            endian,
            warn: &mut *warn,
        };
        let mut unit_answers = UnitAnswers {
            interner: &mut interner,
            at: &mut at,
            cu: &mut cu,
            lines: lines.as_ref(),
            files: &mut files,
        };
        for &p in &probes {
            let addr = bounds.addr(p.bound as usize);
            if let Some(loc) = unit_answers.answer(addr)? {
                best[p.bound as usize] = RowAnswer { prio: p.prio, loc };
            }
        }
        answer_cuts(&mut unit_answers, &bounds, &probes, &mut mid_row)?;
        cu.give_back(&mut spare);
        probes = super::dies::kept(probes);
        if let Some(l) = lines {
            l.give_back(&mut line_bufs);
        }
    }
    Ok(RowRanges { bounds, best, mid_row })
}

/// The `.debug_aranges` sets: (`.debug_info` offset of the unit, the set's offset), by unit.
fn arange_sets(dwarf: &Dwarf<'_>, warn: &mut Warnings) -> Vec<(usize, gimli::DebugArangesOffset<usize>)> {
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
                warn.skip("address range set", &why(&e), || {
                    format!(".debug_aranges after +{:#x}", at)
                });
                break;
            }
        }
    }
    aranges.sort_by_key(|a| a.0);
    aranges
}

/// Pass 1 over all units: the row addresses of every line program and the unit address
/// ranges.
#[allow(clippy::too_many_arguments)]
fn first_pass<'s, 'b>(
    dwarf: &Dwarf<'s>,
    info: &mut dyn InfoSection<'b>,
    endian: gimli::RunTimeEndian,
    base: u64,
    code: &[(u64, u64)],
    aranges: &[(usize, gimli::DebugArangesOffset<usize>)],
    progress: Progress,
    warn: &mut Warnings,
) -> Result<FirstPass> {
    let mut rows = RowAddrs {
        starts: Vec::new(),
        sorted: 0,
        open: 0,
        dedup_pays: true,
        ends: Vec::new(),
    };
    let mut units: Vec<CompUnit> = Vec::new();
    let mut unit_ranges: Vec<UnitRange> = Vec::new();
    let mut decls = Decls::default();
    let mut lines_known = true;
    let info_len = progress.info_len;
    let mut next_unit = 0u64;
    while next_unit < info_len {
        progress.first_pass(next_unit);
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
        let (header, unit) = match unit_header(&bytes, endian).and_then(|h| Ok((h, open_unit(dwarf, h, &mut decls)?))) {
            Ok((h, (u, line_err))) => {
                if let Some(e) = line_err {
                    lines_known = false;
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
        let sequences = match &unit.line_program {
            Some(program) => line_sequences(program, base, code, &mut rows, warn),
            None => Vec::new(),
        };
        if let gimli::UnitType::Type { .. } | gimli::UnitType::SplitType { .. } = header.type_() {
            continue;
        }
        let id = units.len();
        let mut ranges = RangeAttrs::default();
        let mut lang = 0;
        match read_root(dwarf, &unit, &mut decls, &mut ranges, &mut lang) {
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
        let before = unit_ranges.len();
        let arange_at = if ranges.ranges_offset.is_some() {
            None
        } else {
            aranges.binary_search_by_key(&offset, |a| a.0).ok()
        };
        let have_range = match arange_at {
            Some(i) => ranges_from_aranges(dwarf, aranges, i, id, &mut unit_ranges, warn),
            None => {
                if let Err(e) = ranges.for_each(dwarf, &unit, |begin, end| {
                    unit_ranges.push(UnitRange { begin, end, unit: id })
                }) {
                    // Its line sequences stand in for the whole list.
                    warn.skip("unit address range", &why(&e), || info_at(offset));
                    unit_ranges.truncate(before);
                }
                unit_ranges.len() > before
            }
        };
        // addr2line takes these only when the unit's line table parses with its files.
        if !have_range && !sequences.is_empty() && {
            let (lines, error) = Lines::parse(&unit);
            error.is_none() && lines.paths_readable(dwarf, &unit)
        } {
            for (begin, end) in sequences {
                unit_ranges.push(UnitRange { begin, end, unit: id });
            }
        }
        let line = unit.line_program.as_ref().map_or(usize::MAX, |p| p.header().offset().0);
        units.push(CompUnit { offset, lang, line });
    }
    Ok(FirstPass {
        bounds: rows.finish(),
        units,
        unit_ranges,
        lines_known,
    })
}

/// The row addresses of pass 1: row starts and ends of sequence.
struct RowAddrs {
    starts: Vec<u64>,
    /// `starts[..sorted]` is sorted, one per address.
    sorted: usize,
    /// `starts[open..]` are the rows of the sequence being read (dropped where it does
    /// not end).
    open: usize,
    /// Whether the last deduplication of `starts` freed enough to try again.
    dedup_pays: bool,
    ends: Vec<u64>,
}

impl RowAddrs {
    /// A row start, of the sequence being read.
    #[inline(always)]
    fn start(&mut self, a: u64) {
        if self.starts.len() == self.starts.capacity() && self.dedup_pays {
            self.dedup();
        }
        self.starts.push(a);
    }

    /// Before the Vec doubles: sequences can repeat addresses, so the rows of those ended
    /// so far are deduplicated, but the Vec doubles now when that freed little (each next
    /// sequence would sort it all again), and this stops where it freed under 1/16 of the
    /// rows added since the last (libc, python3.11: none): a sort of all the rows each
    /// time the Vec grows took as long as one sort at the end.
    #[inline(never)]
    fn dedup(&mut self) {
        let open = self.starts.split_off(self.open);
        let starts = &mut self.starts;
        let added = starts.len() - self.sorted;
        let before = starts.len();
        sort_dedup(starts, self.sorted);
        self.sorted = starts.len();
        self.dedup_pays = (before - starts.len()) * 16 >= added;
        if (starts.len() + open.len()) * 4 > starts.capacity() * 3 {
            starts.reserve(starts.capacity());
        }
        self.open = starts.len();
        starts.extend_from_slice(&open);
    }

    fn finish(mut self) -> Bounds {
        sort_dedup(&mut self.starts, self.sorted);
        sort_dedup(&mut self.ends, 0);
        Bounds::new(self.starts, self.ends)
    }
}

/// Adds the row addresses of a unit's line program to `bounds` (row starts, ends of
/// sequence), and gives its sequences' ranges.
fn line_sequences(
    program: &gimli::IncompleteLineProgram<Reader<'_>>,
    base: u64,
    code: &[(u64, u64)],
    bounds: &mut RowAddrs,
    warn: &mut Warnings,
) -> Vec<(u64, u64)> {
    let mut sequences: Vec<(u64, u64)> = Vec::new();
    // The sequence being read: its first address, whether its rows are kept, its rows
    // that start no row so far, and its last row not added yet (an address, whether it
    // ends the sequence): rows of one address mostly follow each other, and one is kept
    // (a row start wins over an end of sequence, as in `Bounds::new`).
    let (mut first, mut keep, mut seq_rows) = (0u64, false, 0usize);
    let mut last: Option<(u64, bool)> = None;
    let rows = for_each_row::<false>(program, |row| {
        match &mut last {
            Some(l) if l.0 == row.address => l.1 &= row.end_sequence,
            l => {
                match *l {
                    // (an end of sequence ends it: not pending here)
                    Some((a, _)) if keep => bounds.start(a),
                    Some(_) => {}
                    None => {
                        first = row.address;
                        // A sequence at a tombstone address (discarded code) is dropped.
                        keep = first >= base && in_ranges(code, first);
                        bounds.open = bounds.starts.len();
                    }
                }
                *l = Some((row.address, row.end_sequence));
            }
        }
        if row.end_sequence {
            if let Some((a, end)) = last.take() {
                if keep && end {
                    bounds.ends.push(a);
                } else if keep {
                    bounds.start(a);
                }
            }
            if seq_rows > 0 {
                sequences.push((first, row.address));
            }
            seq_rows = 0;
        } else {
            seq_rows += 1;
        }
    });
    // The sequences ended before the defect (or the program's end) are kept (pass 2 keeps
    // the same rows).
    if last.is_some() && keep {
        bounds.starts.truncate(bounds.open);
    }
    if let Err(e) = rows {
        warn.skip("line program", &why(&e), || {
            format!(".debug_line+{:#x}", program.header().offset().0)
        });
    }
    sequences
}

/// The root DIE's language and range attributes: `None` without a root DIE, an inner
/// error where its ranges cannot be read.
fn read_root(
    dwarf: &Dwarf<'_>,
    unit: &Unit<'_>,
    decls: &mut Decls,
    ranges: &mut RangeAttrs,
    lang: &mut u32,
) -> gimli::Result<Option<gimli::Result<()>>> {
    // (`open_unit` read the root DIE already: an error here is unlikely, but the
    // unit's then.)
    let at = gimli::UnitOffset(unit.header.header_size());
    let (abbrev, mut entries) = match decls.read_die(dwarf, (&unit.header, &unit.abbreviations), at)?.1 {
        Some(found) => found,
        None => return Ok(None),
    };
    let mut range_err = Ok(());
    for spec in abbrev.specs.iter() {
        let attr = entries.read_attribute(*spec)?;
        if attr.name() == gimli::DW_AT_language {
            if let gimli::AttributeValue::Language(l) = attr.value() {
                *lang = u32::from(l.0);
            }
        } else if let Err(e) = ranges.read(dwarf, unit, &attr) {
            range_err = range_err.and(Err(e));
        }
    }
    Ok(Some(range_err))
}

/// Adds the ranges of the `.debug_aranges` sets of unit `id` (the sets from `aranges[i]`,
/// a set of them) to `unit_ranges`; a set that cannot be read adds none. Whether any was
/// added.
fn ranges_from_aranges(
    dwarf: &Dwarf<'_>,
    aranges: &[(usize, gimli::DebugArangesOffset<usize>)],
    mut i: usize,
    id: usize,
    unit_ranges: &mut Vec<UnitRange>,
    warn: &mut Warnings,
) -> bool {
    let offset = aranges[i].0;
    while i > 0 && aranges[i - 1].0 == offset {
        i -= 1;
    }
    let mut have_range = false;
    for (_, at) in aranges[i..].iter().take_while(|a| a.0 == offset) {
        let before = unit_ranges.len();
        let set = (|| -> gimli::Result<()> {
            let header = dwarf.debug_aranges.header(*at)?;
            let mut entries = header.entries();
            while let Some(e) = entries.next()? {
                if e.length() != 0 {
                    let r = e.range();
                    unit_ranges.push(UnitRange {
                        begin: r.begin,
                        end: r.end,
                        unit: id,
                    });
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
    have_range
}

/// The unit ranges per unit, each with its priority.
fn rank_unit_ranges(mut unit_ranges: Vec<UnitRange>, n_units: usize) -> Vec<Vec<RankedRange>> {
    // Where unit ranges overlap, addr2line asks the one starting last first (a stable sort
    // by start, searched backwards): a higher index here is a higher priority.
    unit_ranges.sort_by_key(|r| r.begin);
    let mut by_unit: Vec<Vec<RankedRange>> = vec![Vec::new(); n_units];
    for (prio, r) in unit_ranges.iter().enumerate() {
        by_unit[r.unit].push(RankedRange {
            begin: r.begin,
            end: r.end,
            prio: prio as u32 + 1,
        });
    }
    by_unit
}

/// The boundaries a unit with `ranges` may answer (row starts where no unit of a higher
/// priority answered), one per boundary with the unit's highest priority for it, into
/// `probes`.
fn probes_of(ranges: &[RankedRange], bounds: &Bounds, best: &[RowAnswer], probes: &mut Vec<Probe>) {
    probes.clear();
    for r in ranges {
        let lo = bounds.partition_point(|x| x < r.begin);
        let hi = lo + bounds.gallop_from(lo, |x| x < r.end);
        for i in lo..hi {
            if !bounds.is_end(i) && best[i].prio < r.prio {
                probes.push(Probe {
                    bound: i as u32,
                    prio: r.prio,
                });
            }
        }
    }
    // (mostly in order already: the unit's ranges are by start)
    if !probes.windows(2).all(|w| w[0].bound < w[1].bound) {
        probes.sort_unstable_by(|a, b| a.bound.cmp(&b.bound).then(b.prio.cmp(&a.prio)));
        probes.dedup_by_key(|p| p.bound);
    }
}

/// What answering an address from one unit needs.
struct UnitAnswers<'i, 'w, 'y, 'a, 'c, 'u, 'b> {
    interner: &'i mut FrameInterner<'w, 'y, 'a>,
    at: &'i mut AnsweringUnit<'c, 'u, 'b>,
    cu: &'i mut UnitCode<'u>,
    lines: Option<&'i Lines<'u>>,
    files: &'i mut [Option<u32>],
}

impl<'i, 'w, 'y, 'a, 'c, 'u, 'b> UnitAnswers<'i, 'w, 'y, 'a, 'c, 'u, 'b> {
    fn answer(&mut self, addr: u64) -> Result<Option<u32>> {
        self.interner.answer(addr, self.at, self.cu, self.lines, self.files)
    }
}

/// Inlined code (or a function) can begin or end inside a line row: the frames change
/// there although the row does not, so the unit answers at those addresses too (into
/// `mid_row`), in the rows it answers.
fn answer_cuts(
    unit: &mut UnitAnswers<'_, '_, '_, '_, '_, '_, '_>,
    bounds: &Bounds,
    probes: &[Probe],
    mid_row: &mut Vec<MidRowAnswer>,
) -> Result<()> {
    let cu = &*unit.cu;
    let mut cuts: Vec<u64> = Vec::with_capacity(2 * (cu.inline_addrs.len() + cu.func_addrs.len()));
    cuts.extend(cu.inline_addrs.iter().flat_map(|r| [r.begin, r.end]));
    cuts.extend(cu.func_addrs.iter().flat_map(|r| [r.begin, r.end]));
    radix_sort(&mut cuts);
    cuts.dedup();
    // Both searches go forward from the previous cut's answer (cuts are sorted).
    let (mut j, mut k) = (0, 0);
    for x in cuts {
        j += bounds.gallop_from(j, |b| b <= x);
        if j == 0 || j == bounds.len() || bounds.addr(j - 1) == x || bounds.is_end(j - 1) {
            continue; // outside the line table, on a row start, or in a gap
        }
        let i = (j - 1) as u32;
        k += gallop(&probes[k..], |p| p.bound < i);
        let prio = match probes.get(k) {
            Some(p) if p.bound == i => p.prio,
            _ => continue, // another unit answers this row
        };
        if let Some(loc) = unit.answer(x)? {
            mid_row.push(MidRowAnswer { addr: x, prio, loc });
        }
    }
    Ok(())
}

/// Writes the range of every answered row, cut where the unit that answered it answers
/// differently inside it.
fn write_ranges(
    w: &mut SymCacheWriter,
    base: u64,
    bounds: &Bounds,
    best: &[RowAnswer],
    mut mid_row: Vec<MidRowAnswer>,
) {
    // A cut counts where the unit that made it answers its row.
    mid_row.sort_unstable_by_key(|c| c.addr);
    bounds.with_addrs(WriteRows {
        w,
        base,
        bounds,
        best,
        mid_row: &mid_row,
    });
}

/// [`WriteRows`] gives back the rows behind it this many at a time (a host call each).
const ROWS_RELEASE_STEP: usize = if cfg!(test) { 1024 } else { 64 << 10 };

/// [`write_ranges`] over the row addresses (walked once, not indexed: they are u32
/// offsets or u64s).
struct WriteRows<'a> {
    w: &'a mut SymCacheWriter,
    base: u64,
    bounds: &'a Bounds,
    best: &'a [RowAnswer],
    mid_row: &'a [MidRowAnswer],
}

impl AddrsFn<()> for WriteRows<'_> {
    fn call(self, mut addrs: impl Iterator<Item = u64>) {
        let WriteRows {
            w,
            base,
            bounds,
            best,
            mid_row,
        } = self;
        let mut cut = mid_row.iter().peekable();
        let mut addr = match addrs.next() {
            Some(a) => a,
            None => return,
        };
        // The rows and their answers are read once, front to back, while the writer's
        // ranges grow: their pages go back behind the walk (python3.11: 4.7 MB, held
        // beside all of the ranges otherwise).
        let (mut best_given, mut rows_given) = (0, 0);
        for (i, end) in addrs.enumerate() {
            if i % ROWS_RELEASE_STEP == 0 && i > 0 {
                best_given = crate::native::progress::discard_items_upto(best, best_given, i);
                rows_given = bounds.give_back(rows_given, i);
            }
            let is_end = bounds.is_end(i);
            let (mut start, mut loc) = (addr, best[i].loc);
            while let Some(&c) = cut.peek() {
                if c.addr >= end {
                    break;
                }
                cut.next();
                if !is_end && best[i].prio != 0 && c.prio == best[i].prio && c.addr > start && c.loc != loc {
                    w.range(start.wrapping_sub(base), c.addr.wrapping_sub(base), loc);
                    start = c.addr;
                    loc = c.loc;
                }
            }
            if !is_end && best[i].prio != 0 {
                w.range(start.wrapping_sub(base), end.wrapping_sub(base), loc);
            }
            addr = end;
        }
    }
}

#[cfg(test)]
mod tests {
    /// Row starts added a sequence at a time, deduplicated as the Vec grows (also inside
    /// a sequence), some sequences dropped unended: the finished bounds are the rows of
    /// the ended sequences, sorted, one per address.
    #[test]
    fn row_addrs_keep_the_ended_sequences() {
        let mut seed = 11u64;
        for n in [1usize, 7, 300, 5000] {
            let mut rows = super::RowAddrs {
                starts: Vec::new(),
                sorted: 0,
                open: 0,
                dedup_pays: true,
                ends: Vec::new(),
            };
            let mut want: Vec<u64> = Vec::new();
            for s in 0..n {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                // (many repeats: deduplication pays and runs while sequences are open)
                let (len, at) = (1 + (seed >> 40) as usize % 40, (seed >> 20) % 64);
                rows.open = rows.starts.len();
                for k in 0..len as u64 {
                    rows.start(at + k);
                }
                if s % 5 == 3 {
                    rows.starts.truncate(rows.open);
                } else {
                    want.extend(at..at + len as u64);
                }
            }
            want.sort_unstable();
            want.dedup();
            let b = rows.finish();
            let got: Vec<u64> = (0..b.len()).map(|i| b.addr(i)).collect();
            assert_eq!(got, want, "{} sequences", n);
        }
    }
}
