//! `.debug_info` a unit at a time, and a unit opened from its bytes (its root DIE's
//! attributes, line program header and abbreviations, the tables shared across the build).

use super::{Dwarf, Reader, Unit};
use crate::error::Result;
use crate::hash::FastMap;
use crate::native::dwarf_err;
use std::borrow::Cow;

/// `.debug_info`, read a unit at a time: the builder holds one unit's bytes (and a few
/// referenced ones), never the whole section.
pub(in crate::native) trait InfoSection<'b> {
    /// The section's size.
    fn size(&self) -> u64;
    /// The bytes at `offset..offset + len` in the section (fewer at its end).
    fn read(&mut self, offset: u64, len: u64) -> Result<Cow<'b, [u8]>>;
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

/// Abbreviation tables by `.debug_abbrev` offset, parsed once for the whole build: pass 1,
/// pass 2 and cross-unit naming each open a unit, and `Dwarf::unit` parses its table every
/// time (gimli 0.27 keeps only the one at offset 0); GCC's units share theirs two by two.
/// Only while the section is small: parsed tables take several times their bytes.
#[derive(Default)]
pub(super) struct Abbrevs {
    tables: FastMap<u64, std::sync::Arc<gimli::Abbreviations>>,
}

/// [`Abbrevs`] keeps tables only when `.debug_abbrev` is at most this long (python3.11's is
/// 0.2 MB; libc's 1 MB, whose parsed tables cost ~8 MB of peak memory for ~5 % of its
/// build; libjvm's 5.4 MB, where parsing them is 1.5 % of the build).
const ABBREV_CACHE_SECTION: usize = 512 << 10;

impl Abbrevs {
    fn get(
        &mut self,
        dwarf: &Dwarf<'_>,
        header: &gimli::UnitHeader<Reader<'_>>,
    ) -> gimli::Result<std::sync::Arc<gimli::Abbreviations>> {
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
pub(super) fn open_unit<'s>(
    dwarf: &Dwarf<'s>,
    header: gimli::UnitHeader<Reader<'s>>,
    abbrevs: &mut Abbrevs,
) -> gimli::Result<(Unit<'s>, Option<gimli::Error>)> {
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
        Some(o) => {
            match dwarf
                .debug_line
                .program(o, unit.header.address_size(), unit.comp_dir.clone(), unit.name.clone())
            {
                Ok(p) => Some(p),
                Err(e) => return Ok((unit, Some(e))),
            }
        }
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
