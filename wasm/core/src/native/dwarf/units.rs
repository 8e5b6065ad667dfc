//! `.debug_info` a unit at a time, and a unit opened from its bytes (its root DIE's
//! attributes, line program header and abbreviations, the tables shared across the build).

use super::{uleb9, Dwarf, Reader, Unit};
use crate::error::Result;
use crate::hash::FastMap;
use crate::native::dwarf_err;
use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

/// `.debug_info`, read a unit at a time: the builder holds one unit's bytes (and a few
/// referenced ones), never the whole section.
pub(in crate::native) trait InfoSection<'b> {
    /// The section's size.
    fn size(&self) -> u64;
    /// The bytes at `offset..offset + len` in the section (fewer at its end).
    fn read(&mut self, offset: u64, len: u64) -> Result<Cow<'b, [u8]>>;
    /// The bytes before `before` are read again rarely if ever (pass 2 is past them): their
    /// memory may go. True when bytes borrowed from before there are no longer readable
    /// (a borrowed unit kept from before must be dropped).
    fn release(&mut self, _before: u64) -> bool {
        false
    }
}

/// `.debug_info` in memory: units are borrowed from it, never copied (a decompressed
/// section was copied a unit at a time, and again for each unit read for a cross-unit
/// name: ~8 % of python3.11's build, and the unit cache held up to 16 MB of copies).
pub(in crate::native) struct WholeInfo<'b>(pub(in crate::native) &'b [u8]);

impl<'b> InfoSection<'b> for WholeInfo<'b> {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }

    fn read(&mut self, offset: u64, len: u64) -> Result<Cow<'b, [u8]>> {
        let start = (offset.min(self.size())) as usize;
        let end = start + (len.min(self.size() - start as u64)) as usize;
        Ok(Cow::Borrowed(&self.0[start..end]))
    }
}

/// How to inflate parts of a zlib-compressed `.debug_info` again ([`InflatedInfo`]).
pub(in crate::native) struct Reinflate<'b> {
    /// Where the stream can be inflated from (the first at 0).
    pub(in crate::native) restarts: Vec<crate::inflate::Restart>,
    /// The zlib stream's bytes at `(offset, len)` (fewer at its end).
    pub(in crate::native) stream: Box<dyn FnMut(u64, u64) -> Result<Cow<'b, [u8]>> + 'b>,
    pub(in crate::native) stream_len: u64,
}

/// The pages of an [`InflatedInfo`] are given back a MiB or more at a time (a host call
/// each).
const RELEASE_STEP: usize = 1 << 20;

/// `.debug_info` inflated in memory, whose pages pass 2 gives back behind it (the host's
/// `discard`): inflated whole it was a third of python3.11's peak memory. A part read
/// after its release (a reference to an earlier unit) is inflated again from the restart
/// before it; python3.11's (LTO) references to other units all point ahead.
pub(in crate::native) struct InflatedInfo<'d, 'b> {
    data: &'d [u8],
    again: Reinflate<'b>,
    /// Bytes before this are released (read by inflating them again)...
    released: usize,
    /// ... and those before this given back.
    discarded: usize,
}

impl<'d, 'b> InflatedInfo<'d, 'b> {
    pub(in crate::native) fn new(data: &'d [u8], again: Reinflate<'b>) -> Self {
        InflatedInfo {
            data,
            again,
            released: 0,
            discarded: 0,
        }
    }

    /// `start..end` inflated again.
    fn inflate_again(&mut self, start: usize, end: usize) -> Result<Vec<u8>> {
        let bad = |e: crate::inflate::InflateError| {
            crate::native::invalid(format!("cannot decompress section .debug_info: {}", e))
        };
        let rs = &self.again.restarts;
        let i = rs.partition_point(|r| r.out as usize <= start);
        let r = match i.checked_sub(1).and_then(|i| rs.get(i)) {
            Some(r) => r,
            None => return Err(bad(crate::inflate::InflateError::Truncated)),
        };
        // The stream up to a restart well past `end` (inflating may go a stored block on).
        let from = r.bit / 8;
        let to = rs[i..]
            .iter()
            .find(|x| x.out as usize >= end + (80 << 10))
            .map_or(self.again.stream_len, |x| x.bit / 8 + 8)
            .min(self.again.stream_len);
        let stream = (self.again.stream)(from, to.saturating_sub(from))?;
        let mut out = crate::inflate::raw_from(&stream, r, end - r.out as usize).map_err(bad)?;
        let (a, b) = (start - r.out as usize, end - r.out as usize);
        if out.len() < b {
            return Err(bad(crate::inflate::InflateError::Truncated));
        }
        out.truncate(b);
        out.drain(..a);
        Ok(out)
    }
}

impl<'d, 'b> InfoSection<'d> for InflatedInfo<'d, 'b> {
    fn size(&self) -> u64 {
        self.data.len() as u64
    }

    fn read(&mut self, offset: u64, len: u64) -> Result<Cow<'d, [u8]>> {
        let start = (offset.min(self.size())) as usize;
        let end = start + (len.min(self.size() - start as u64)) as usize;
        if start >= self.released {
            return Ok(Cow::Borrowed(&self.data[start..end]));
        }
        self.inflate_again(start, end).map(Cow::Owned)
    }

    fn release(&mut self, before: u64) -> bool {
        let before = before.min(self.size()) as usize;
        self.released = self.released.max(before);
        if self.released - self.discarded < RELEASE_STEP {
            return false;
        }
        self.discarded = crate::native::progress::discard_upto(self.data, self.discarded, self.released);
        true
    }
}

/// The bytes of the unit at `offset` (its header included; cut at the section's end,
/// where parsing the header then fails as it would on the whole section).
pub(super) fn unit_bytes<'b>(
    info: &mut dyn InfoSection<'b>,
    endian: gimli::RunTimeEndian,
    offset: u64,
) -> Result<Cow<'b, [u8]>> {
    unit_bytes_or(info, endian, offset)?.map_err(dwarf_err)
}

/// [`unit_bytes`] where a failed read of the file (outer) is told from an initial length
/// that cannot be read (inner).
pub(super) fn unit_bytes_or<'b>(
    info: &mut dyn InfoSection<'b>,
    endian: gimli::RunTimeEndian,
    offset: u64,
) -> Result<gimli::Result<Cow<'b, [u8]>>> {
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
pub(super) fn unit_header(bytes: &[u8], endian: gimli::RunTimeEndian) -> gimli::Result<gimli::UnitHeader<Reader<'_>>> {
    let mut units = gimli::DebugInfo::new(bytes, endian).units();
    units
        .next()?
        .ok_or(gimli::Error::UnexpectedEof(gimli::ReaderOffsetId(0)))
}

/// A unit's abbreviation table kept compact: where each declaration lies in `.debug_abbrev`,
/// by code. gimli reads few of a unit's DIEs (the root, code DIEs, names): it gets a table of
/// the one declaration of the DIE it reads ([`Decls::table_at`]). Parsing whole tables per
/// unit was ~5 % of libc's build (its 2,063 tables are all distinct), keeping them ~8 MB.
#[derive(Default)]
pub(super) struct Decls {
    /// By code - 1 (codes up to [`LOW_CODES`]): the declaration's bytes in `.debug_abbrev`
    /// (its code included) as (start, length); length 0: none.
    low: Vec<(usize, usize)>,
    high: FastMap<u64, (usize, usize)>,
    /// Tables of one declaration made so far, by code.
    tables: FastMap<u64, Arc<gimli::Abbreviations>>,
    /// Declarations read so far, by code.
    /// (by code - 1 up to [`LOW_CODES`]: a lookup per DIE gimli reads)
    abbrevs: Vec<Option<Rc<Abbrev>>>,
    abbrevs_high: FastMap<u64, Rc<Abbrev>>,
    /// The table for a code not declared: gimli then fails as with the whole table.
    empty: Arc<gimli::Abbreviations>,
}

/// A declaration as the DIE readers use it: gimli's `Abbreviation`, made without a table.
pub(super) struct Abbrev {
    pub(super) tag: gimli::DwTag,
    pub(super) children: bool,
    pub(super) specs: Vec<gimli::AttributeSpecification>,
}

impl Abbrev {
    /// The declaration `decl` (read already, so well formed).
    fn of(decl: &[u8]) -> Option<Abbrev> {
        use gimli::Reader as _;
        let mut r: Reader<'_> = gimli::EndianSlice::new(decl, gimli::RunTimeEndian::Little);
        r.read_uleb128().ok()?;
        let tag = gimli::DwTag(r.read_uleb128_u16().ok()?);
        let children = gimli::DwChildren(r.read_u8().ok()?) == gimli::DW_CHILDREN_yes;
        // (two bytes at least an attribute)
        let mut specs = Vec::with_capacity(r.len() / 2);
        loop {
            let name = gimli::DwAt(r.read_uleb128_u16().ok()?);
            let form = gimli::DwForm(r.read_uleb128_u16().ok()?);
            if name.0 == 0 {
                return Some(Abbrev { tag, children, specs });
            }
            let implicit = if form == gimli::DW_FORM_implicit_const {
                Some(r.read_sleb128().ok()?)
            } else {
                None
            };
            specs.push(gimli::AttributeSpecification::new(name, form, implicit));
        }
    }
}

/// gimli's `read_uleb128_u16` where it reads a number: at most 3 bytes, at most 0xffff.
#[inline(always)]
fn leb_u16(b: &[u8], pos: usize) -> Option<(u64, usize)> {
    match *b.get(pos)? {
        x if x < 0x80 => Some((u64::from(x), pos + 1)),
        _ => uleb9(b, pos).filter(|&(v, end)| v <= 0xffff && end - pos <= 3),
    }
}

/// [`uleb9`] with the one-byte numbers first.
#[inline(always)]
fn leb(b: &[u8], pos: usize) -> Option<(u64, usize)> {
    match *b.get(pos)? {
        x if x < 0x80 => Some((u64::from(x), pos + 1)),
        _ => uleb9(b, pos),
    }
}

/// `DW_FORM_implicit_const`, whose declaration carries a value.
const IMPLICIT_CONST: u8 = gimli::DW_FORM_implicit_const.0 as u8;

/// Codes of [`Decls::low`] (a unit's codes are mostly 1, 2, 3, ...).
const LOW_CODES: u64 = 1 << 12;

impl Decls {
    /// Reads the table at `offset`, checked as gimli parses it (the same reads in the same
    /// order, so the same error).
    fn read(&mut self, dwarf: &Dwarf<'_>, offset: gimli::DebugAbbrevOffset) -> gimli::Result<()> {
        use gimli::Section;
        self.tables.clear();
        self.abbrevs.clear();
        self.abbrevs_high.clear();
        if self.read_plain(dwarf.debug_abbrev.reader().slice(), offset.0).is_some() {
            return Ok(());
        }
        self.read_checked(dwarf, offset)
    }

    /// [`read`](Self::read) of a well-formed table of short numbers (nearly all): `None`
    /// where anything else is met, to be read by [`read_checked`](Self::read_checked).
    fn read_plain(&mut self, section: &[u8], offset: usize) -> Option<()> {
        self.low.clear();
        self.high.clear();
        let mut at = offset;
        loop {
            let start = at;
            let (code, after) = leb(section, at)?;
            at = after;
            if code == 0 {
                return Some(());
            }
            let (tag, after) = leb_u16(section, at)?;
            if tag == 0 || *section.get(after)? > 1 {
                return None;
            }
            at = after + 1;
            loop {
                // Most pairs are two one-byte numbers, neither 0 nor an implicit constant.
                if at + 1 < section.len() {
                    let (name, form) = (section[at], section[at + 1]);
                    if (name | form) < 0x80 && name != 0 && form != 0 && form != IMPLICIT_CONST {
                        at += 2;
                        continue;
                    }
                }
                let (name, after) = leb_u16(section, at)?;
                let (form, after) = leb_u16(section, after)?;
                at = after;
                if (name == 0) != (form == 0) {
                    return None;
                }
                if name == 0 {
                    break;
                }
                if gimli::DwForm(form as u16) == gimli::DW_FORM_implicit_const {
                    at = leb(section, at)?.1; // (as signed: the same bytes)
                }
            }
            self.insert(code, (start, at - start))?;
        }
    }

    /// Adds a declaration; `None` for a code declared already.
    #[inline(always)]
    fn insert(&mut self, code: u64, decl: (usize, usize)) -> Option<()> {
        let dup = if code <= LOW_CODES {
            let i = code as usize - 1;
            if self.low.len() <= i {
                self.low.resize(i + 1, (0, 0));
            }
            std::mem::replace(&mut self.low[i], decl).1 != 0
        } else {
            self.high.insert(code, decl).is_some()
        };
        if dup {
            None
        } else {
            Some(())
        }
    }

    /// [`read`](Self::read) with gimli's reads and checks.
    fn read_checked(&mut self, dwarf: &Dwarf<'_>, offset: gimli::DebugAbbrevOffset) -> gimli::Result<()> {
        use gimli::{Reader as _, Section};
        self.low.clear();
        self.high.clear();
        let section = *dwarf.debug_abbrev.reader();
        let mut input = section;
        input.skip(offset.0)?;
        loop {
            let start = section.len() - input.len();
            let code = input.read_uleb128()?;
            if code == 0 {
                return Ok(());
            }
            if input.read_uleb128_u16()? == 0 {
                return Err(gimli::Error::AbbreviationTagZero);
            }
            let children = gimli::DwChildren(input.read_u8()?);
            if children != gimli::DW_CHILDREN_no && children != gimli::DW_CHILDREN_yes {
                return Err(gimli::Error::BadHasChildren);
            }
            loop {
                let name = input.read_uleb128_u16()?;
                if name == 0 {
                    if input.read_uleb128_u16()? == 0 {
                        break;
                    }
                    return Err(gimli::Error::ExpectedZero);
                }
                let form = input.read_uleb128_u16()?;
                if form == 0 {
                    return Err(gimli::Error::AttributeFormZero);
                }
                if gimli::DwForm(form) == gimli::DW_FORM_implicit_const {
                    input.read_sleb128()?;
                }
            }
            // (gimli inserts after parsing the declaration: a duplicate is told after it)
            self.insert(code, (start, section.len() - input.len() - start))
                .ok_or(gimli::Error::DuplicateAbbreviationCode)?;
        }
    }

    /// How many declarations it holds (and places for codes not declared).
    pub(super) fn len(&self) -> usize {
        self.low.len() + self.high.len()
    }

    /// The bytes of the declaration of `code` (its code first), if declared.
    pub(super) fn decl<'s>(&self, dwarf: &Dwarf<'s>, code: u64) -> Option<&'s [u8]> {
        use gimli::Section;
        let (start, len) = if code == 0 {
            return None;
        } else if code <= LOW_CODES {
            *self.low.get(code as usize - 1)?
        } else {
            *self.high.get(&code)?
        };
        dwarf
            .debug_abbrev
            .reader()
            .slice()
            .get(start..start + len)
            .filter(|d| !d.is_empty())
    }

    /// The table of the declaration of `code` alone (empty where it is not declared).
    fn table(&mut self, dwarf: &Dwarf<'_>, code: u64) -> gimli::Result<Arc<gimli::Abbreviations>> {
        use gimli::Section;
        if let Some(t) = self.tables.get(&code) {
            return Ok(t.clone());
        }
        let decl = match self.decl(dwarf, code) {
            Some(d) => d,
            None => return Ok(self.empty.clone()),
        };
        let mut bytes = Vec::with_capacity(decl.len() + 1);
        bytes.extend_from_slice(decl);
        bytes.push(0);
        let endian = gimli::Reader::endian(dwarf.debug_abbrev.reader());
        let t = Arc::new(gimli::DebugAbbrev::new(&bytes, endian).abbreviations(gimli::DebugAbbrevOffset(0))?);
        self.tables.insert(code, t.clone());
        Ok(t)
    }

    /// gimli's `EntriesRaw::read_abbreviation` of the DIE at `offset` (the same errors):
    /// where its code ends, and unless it is a null entry, its declaration and the entries
    /// at its attributes.
    /// (`unit`: its header and table, any table.)
    #[allow(clippy::type_complexity)]
    pub(super) fn read_die<'me, 'u>(
        &mut self,
        dwarf: &Dwarf<'u>,
        unit: (&'me gimli::UnitHeader<Reader<'u>>, &'me gimli::Abbreviations),
        offset: gimli::UnitOffset,
    ) -> gimli::Result<(usize, Option<(Rc<Abbrev>, gimli::EntriesRaw<'me, 'me, Reader<'u>>)>)> {
        use gimli::Reader as _;
        let (header, table) = unit;
        let mut r = header.range_from(offset..)?;
        let len = r.len();
        let code = r.read_uleb128()?;
        let after = offset.0 + (len - r.len());
        if code == 0 {
            return Ok((after, None));
        }
        let known = if code <= LOW_CODES {
            self.abbrevs.get(code as usize - 1).and_then(|a| a.as_ref())
        } else {
            self.abbrevs_high.get(&code)
        };
        let a = match known {
            Some(a) => a.clone(),
            None => {
                let a = Rc::new(
                    self.decl(dwarf, code)
                        .and_then(Abbrev::of)
                        .ok_or(gimli::Error::UnknownAbbreviation)?,
                );
                if code <= LOW_CODES {
                    let i = code as usize - 1;
                    if self.abbrevs.len() <= i {
                        self.abbrevs.resize(i + 1, None);
                    }
                    self.abbrevs[i] = Some(a.clone());
                } else {
                    self.abbrevs_high.insert(code, a.clone());
                }
                a
            }
        };
        let entries = header.entries_raw(table, Some(gimli::UnitOffset(after)))?;
        Ok((after, Some((a, entries))))
    }

    /// The table gimli reads the DIE at `offset` of `unit` with: its declaration alone
    /// (where the code cannot be read or is not declared, a table gimli fails on the same
    /// way).
    pub(super) fn table_at(
        &mut self,
        dwarf: &Dwarf<'_>,
        header: &gimli::UnitHeader<Reader<'_>>,
        offset: gimli::UnitOffset,
    ) -> gimli::Result<Arc<gimli::Abbreviations>> {
        use gimli::Reader as _;
        match header.range_from(offset..).and_then(|mut r| r.read_uleb128()) {
            Ok(code) => self.table(dwarf, code),
            Err(_) => Ok(self.empty.clone()),
        }
    }
}

/// `dwarf.unit(header)` (its steps, with the abbreviations from `abbrevs`), or where only
/// its line program (or low pc) cannot be read, the unit without either and that error:
/// its DIEs still name code. Its abbreviations are read into `decls`; the unit's own table
/// holds the root DIE's declaration only (other DIEs: [`Decls::table_at`]).
pub(super) fn open_unit<'s>(
    dwarf: &Dwarf<'s>,
    header: gimli::UnitHeader<Reader<'s>>,
    decls: &mut Decls,
) -> gimli::Result<(Unit<'s>, Option<gimli::Error>)> {
    open_unit_with(dwarf, header, decls, true)
}

/// [`open_unit`] without its line program, for a unit read for names only: `.debug_line`
/// behind pass 2 may be given back.
pub(super) fn open_unit_for_names<'s>(
    dwarf: &Dwarf<'s>,
    header: gimli::UnitHeader<Reader<'s>>,
    decls: &mut Decls,
) -> gimli::Result<Unit<'s>> {
    open_unit_with(dwarf, header, decls, false).map(|u| u.0)
}

fn open_unit_with<'s>(
    dwarf: &Dwarf<'s>,
    header: gimli::UnitHeader<Reader<'s>>,
    decls: &mut Decls,
    lines: bool,
) -> gimli::Result<(Unit<'s>, Option<gimli::Error>)> {
    decls.read(dwarf, header.debug_abbrev_offset())?;
    // (the DIEs are read with `decls`: no table needed)
    let abbreviations = decls.empty.clone();
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
        // gimli's `next_dfs` from the start: null entries skipped, none left: no root.
        let mut at = gimli::UnitOffset(unit.header.header_size());
        let (abbrev, mut entries) = loop {
            if at.0 >= unit.header.length_including_self() {
                return Err(gimli::Error::MissingUnitDie);
            }
            match decls.read_die(dwarf, (&unit.header, &unit.abbreviations), at)? {
                (_, Some(found)) => break found,
                (after, None) => at = gimli::UnitOffset(after),
            }
        };
        for spec in abbrev.specs.iter() {
            let attr = entries.read_attribute(*spec)?;
            match (attr.name(), attr.value()) {
                (gimli::DW_AT_name, v) => name = Some(v),
                (gimli::DW_AT_comp_dir, v) => comp_dir = Some(v),
                (gimli::DW_AT_low_pc, v) => low_pc = Some(v),
                (gimli::DW_AT_stmt_list, gimli::AttributeValue::DebugLineRef(o)) => stmt_list = Some(o),
                (gimli::DW_AT_str_offsets_base, gimli::AttributeValue::DebugStrOffsetsBase(b)) => {
                    unit.str_offsets_base = b
                }
                (gimli::DW_AT_addr_base | gimli::DW_AT_GNU_addr_base, gimli::AttributeValue::DebugAddrBase(b)) => {
                    unit.addr_base = b
                }
                (gimli::DW_AT_loclists_base, gimli::AttributeValue::DebugLocListsBase(b)) => unit.loclists_base = b,
                (
                    gimli::DW_AT_rnglists_base | gimli::DW_AT_GNU_ranges_base,
                    gimli::AttributeValue::DebugRngListsBase(b),
                ) => unit.rnglists_base = b,
                (gimli::DW_AT_GNU_dwo_id, gimli::AttributeValue::DwoId(id)) if unit.dwo_id.is_none() => {
                    unit.dwo_id = Some(id)
                }
                _ => {}
            }
        }
    }
    unit.name = name.and_then(|v| dwarf.attr_string(&unit, v).ok());
    unit.comp_dir = comp_dir.and_then(|v| dwarf.attr_string(&unit, v).ok());
    // Where `Unit::new` fails on these two, the unit stands without both.
    let program = match stmt_list {
        Some(o) if lines => {
            match dwarf
                .debug_line
                .program(o, unit.header.address_size(), unit.comp_dir.clone(), unit.name.clone())
            {
                Ok(p) => Some(p),
                Err(e) => return Ok((unit, Some(e))),
            }
        }
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a host does with discarded pages (they may read as anything): garbage.
    /// (Test only: it plays the host, which writes the memory the core gave up.)
    #[allow(unsafe_code)]
    fn scribble(p: usize, n: usize) {
        // SAFETY: the test's own buffer, whose pages the reader gave up.
        unsafe { std::ptr::write_bytes(p as *mut u8, 0xa5, n) };
    }

    /// Reads of an `InflatedInfo` give the section's bytes before and after its release,
    /// though the released pages are overwritten: parts behind it are inflated again.
    #[test]
    fn inflated_info_reads_the_same_after_release() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut data = Vec::new();
        while data.len() < (5 << 20) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // records of a few kinds, with repeats near and far
            match x % 4 {
                0 => data.extend_from_slice(&x.to_le_bytes()[..(x >> 8) as usize % 8]),
                1 => data.extend_from_slice(b"DW_TAG_subprogram\0name"),
                _ => {
                    let back = 1 + (x >> 16) as usize % 30_000;
                    let from = data.len().saturating_sub(back);
                    let run: Vec<u8> = data[from..(from + 40).min(data.len())].to_vec();
                    data.extend_from_slice(&run);
                }
            }
        }
        let z = miniz_oxide::deflate::compress_to_vec_zlib(&data, 6);
        let (mut whole, restarts) = crate::inflate::zlib_exact_marked(&z, data.len(), 256 << 10).unwrap();
        assert!(restarts.len() > 10);
        crate::native::progress::set_discard(scribble);
        let len = z.len() as u64;
        let z2 = z.clone();
        let stream = move |o: u64, n: u64| -> Result<Cow<'static, [u8]>> {
            let o = o.min(len) as usize;
            Ok(Cow::Owned(z2[o..o + n.min(len - o as u64) as usize].to_vec()))
        };
        let again = Reinflate {
            restarts,
            stream: Box::new(stream),
            stream_len: len,
        };
        let mut info = InflatedInfo::new(&whole, again);
        let mut gave_back = false;
        for step in 0..40u64 {
            let at = step * (data.len() as u64 / 40);
            gave_back |= info.release(at);
            for k in 0..12u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let off = x % data.len() as u64;
                let n = [1, 12, 4000, 300_000][k as usize % 4];
                let got = info.read(off, n).unwrap();
                let end = (off + n).min(data.len() as u64) as usize;
                assert!(got[..] == data[off as usize..end], "step {} at {} len {}", step, off, n);
            }
        }
        assert!(gave_back);
        drop(info);
        // The pages given back were overwritten: the reads above went around them.
        assert!(whole[..] != data[..]);
        whole.clear();
    }

    /// `Decls::read` against gimli's parse: the same error, or each code's declaration
    /// parsed alone equal to the one in the whole table (none for a code not declared).
    fn agrees(bytes: &[u8], root: u64) {
        let endian = gimli::RunTimeEndian::Little;
        let full = gimli::DebugAbbrev::new(bytes, endian).abbreviations(gimli::DebugAbbrevOffset(0));
        let dwarf = gimli::Dwarf {
            debug_abbrev: gimli::DebugAbbrev::new(bytes, endian),
            ..Default::default()
        };
        let mut decls = Decls::default();
        match (full, decls.read(&dwarf, gimli::DebugAbbrevOffset(0))) {
            (Err(a), Err(b)) => assert_eq!(a, b, "{:?}", bytes),
            (Ok(full), Ok(())) => {
                for code in [root, 1, 2, 3, 7, 4095, 4096, 4097, 65536] {
                    let alone = decls.table(&dwarf, code).unwrap();
                    assert_eq!(full.get(code), alone.get(code), "code {} of {:?}", code, bytes);
                }
            }
            (a, b) => panic!("gimli {:?}, Decls::read {:?} on {:?}", a.err(), b.err(), bytes),
        }
    }

    #[test]
    fn decls_agree_with_gimli() {
        // code, tag, children, (name, form)*, 0 0 ... 0
        let good: &[u8] = &[
            1, 0x11, 1, 0x03, 0x08, 0x10, 0x17, 0, 0, //
            7, 0x2e, 0, 0x03, 0x21, 0x7f, 0x3a, 0x0b, 0, 0, // implicit_const -1
            0x80, 0x80, 0x04, 0x34, 0, 0x03, 0x0e, 0, 0, // code 65536
            0x80, 0x20, 0x34, 0, 0x03, 0x0e, 0, 0, // code 4096
            0x81, 0x20, 0x34, 0, 0x03, 0x0e, 0, 0, // code 4097
            2, 0x24, 0, 0, 0, //
            0,
        ];
        for root in [1, 2, 7, 65536, 3, 0] {
            agrees(good, root);
        }
        let bad: &[&[u8]] = &[
            &[1, 0, 1, 0, 0, 0],                      // tag zero
            &[1, 0x11, 2, 0, 0, 0],                   // children byte
            &[1, 0x11, 1, 0, 5, 0],                   // expected zero
            &[1, 0x11, 1, 3, 0, 0, 0, 0],             // form zero
            &[1, 0x11, 1, 0, 0, 1, 0x24, 0, 0, 0, 0], // duplicate
            &[1, 0x11, 1, 3, 8],                      // truncated
            &[1, 0x11, 1, 3, 0x21],                   // truncated implicit const
            &[1, 0xff, 0xff, 0x7f, 1, 0, 0, 0],       // tag above u16
            &[],                                      // empty
        ];
        for b in bad {
            agrees(b, 1);
        }
        // Arbitrary bytes: a xorshift stream cut at every length.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut bytes = Vec::new();
        for _ in 0..4000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // small values, so that some tables parse
            bytes.push(if x % 3 == 0 { 0 } else { (x >> 8) as u8 % 6 });
        }
        for n in 0..bytes.len() {
            agrees(&bytes[n..(n + 40).min(bytes.len())], 1 + (n as u64 % 4));
        }
    }
}
