//! Names of code DIEs: a linkage name, else `DW_AT_name`, else the name behind an
//! abstract origin or specification (in this unit or another one, read for it and
//! kept a while), memoised per unit.

use super::dies::Die;
use super::passes::CompUnit;
use super::units::{open_unit_for_names, unit_bytes, unit_header, Decls, InfoSection};
use super::{info_at, why, Dwarf, Reader, Unit};
use crate::error::Result;
use crate::hash::FastMap;
use crate::native::dwarf_err;
use crate::native::warnings::Warnings;
use std::borrow::Cow;

/// Hops through `DW_AT_abstract_origin` / `DW_AT_specification` when naming a DIE
/// (addr2line's limit): reference cycles end there.
const NAME_HOPS: usize = 16;

/// Units read for cross-unit name references, kept at most this many at a time...
const UNIT_CACHE: usize = 16;
/// ...and at most this many bytes of them (read for them, not borrowed).
const UNIT_CACHE_BYTES: usize = 16 << 20;

/// A DIE's own name attributes, in attribute order as addr2line reads them: a linkage
/// name wins, then `DW_AT_name`, then the name behind an origin or specification.
pub(super) fn read_name<'u>(
    die: &mut Die<'u>,
    name: gimli::DwAt,
    value: gimli::AttributeValue<Reader<'u>>,
    unit: &Unit<'u>,
    decls: &mut Decls,
    names: &mut Names<'_, '_, 'u, '_>,
) -> Result<()> {
    match name {
        gimli::DW_AT_linkage_name | gimli::DW_AT_MIPS_linkage_name => {
            if let Ok(s) = names.dwarf.attr_string(unit, value) {
                die.name = Some(Cow::Borrowed(s.slice()));
                die.origin = 0;
            }
        }
        gimli::DW_AT_name => {
            if die.name.is_none() {
                die.name = names
                    .dwarf
                    .attr_string(unit, value)
                    .ok()
                    .map(|s| Cow::Borrowed(s.slice()));
                die.origin = 0;
            }
        }
        gimli::DW_AT_abstract_origin | gimli::DW_AT_specification => {
            if die.name.is_none() {
                let (n, key) = names.resolve(value, unit, decls)?;
                die.name = n;
                die.origin = key.map(|k| k + 1).unwrap_or(0);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The attributes [`read_name`] reads.
pub(super) fn is_name_attr(name: gimli::DwAt) -> bool {
    matches!(
        name,
        gimli::DW_AT_linkage_name
            | gimli::DW_AT_MIPS_linkage_name
            | gimli::DW_AT_name
            | gimli::DW_AT_abstract_origin
            | gimli::DW_AT_specification
    )
}

/// Units read for names behind cross-unit references: their bytes by unit index, and
/// what naming needs of their `gimli::Unit` once one was made.
#[derive(Default)]
pub(super) struct UnitCache<'b> {
    units: FastMap<usize, Cow<'b, [u8]>>,
    bytes: usize,
    /// Kept apart from the bytes, and longer: python3.11's names reach across ~250 units,
    /// which opened a unit ~5,900 times when this went with the 16 units' bytes (~8 % of
    /// its build).
    metas: FastMap<usize, UnitMeta>,
    /// The declarations `metas` hold.
    meta_decls: usize,
}

/// [`UnitCache::metas`] is emptied past this many declarations (~0.5 MB of them in wasm)
/// once it holds [`UNIT_CACHE`] units.
const META_DECLS: usize = 1 << 16;

impl<'b> UnitCache<'b> {
    /// Drops the units before unit `u` whose bytes are borrowed from `.debug_info`: their
    /// pages may have been given back ([`InfoSection::release`]).
    pub(super) fn forget_borrowed_before(&mut self, u: usize) {
        self.units.retain(|&k, b| k >= u || matches!(b, Cow::Owned(_)));
    }
}

/// A `gimli::Unit` without what borrows its bytes. `Dwarf::unit` parses the unit's
/// abbreviations and line program header every time; naming needs neither the line
/// program nor a second parse (the same bytes make the same unit).
struct UnitMeta {
    abbreviations: std::sync::Arc<gimli::Abbreviations>,
    decls: Decls,
    low_pc: u64,
    str_offsets_base: gimli::DebugStrOffsetsBase<usize>,
    addr_base: gimli::DebugAddrBase<usize>,
    loclists_base: gimli::DebugLocListsBase<usize>,
    rnglists_base: gimli::DebugRngListsBase<usize>,
    dwo_id: Option<gimli::DwoId>,
}

impl UnitMeta {
    fn of(u: &Unit<'_>, decls: Decls) -> Self {
        UnitMeta {
            abbreviations: u.abbreviations.clone(),
            decls,
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

/// The bytes a cached unit holds: none where it borrows them from `.debug_info` in memory.
fn held(bytes: &Cow<'_, [u8]>) -> usize {
    match bytes {
        Cow::Borrowed(_) => 0,
        Cow::Owned(v) => v.len(),
    }
}

/// Names behind DIE references, memoised per unit (many inlined instances share one
/// abstract origin).
pub(super) struct Names<'c, 'm, 'u, 'b> {
    pub(super) dwarf: &'c Dwarf<'u>,
    pub(super) units: &'c [CompUnit],
    pub(super) me: usize,
    pub(super) cache: &'c mut UnitCache<'b>,
    pub(super) info: &'c mut dyn InfoSection<'b>,
    pub(super) endian: gimli::RunTimeEndian,
    pub(super) memo: &'m mut FastMap<usize, Option<Cow<'u, [u8]>>>,
    pub(super) warn: &'c mut Warnings,
}

impl<'c, 'm, 'u, 'b> Names<'c, 'm, 'u, 'b> {
    /// The name behind a reference, and the referenced DIE's `.debug_info` offset.
    fn resolve(
        &mut self,
        value: gimli::AttributeValue<Reader<'u>>,
        unit: &Unit<'u>,
        decls: &mut Decls,
    ) -> Result<(Option<Cow<'u, [u8]>>, Option<usize>)> {
        let key = match value {
            gimli::AttributeValue::UnitRef(o) => self.units[self.me].offset.wrapping_add(o.0),
            gimli::AttributeValue::DebugInfoRef(o) => o.0,
            _ => return Ok((None, None)),
        };
        if let Some(n) = self.memo.get(&key) {
            return Ok((n.clone(), Some(key)));
        }
        let dwarf = self.dwarf;
        let n = self.name_attr(dwarf, value, self.me, unit, decls, NAME_HOPS)?;
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
        decls: &mut Decls,
        hops: usize,
    ) -> Result<Option<Cow<'x, [u8]>>> {
        if hops == 0 {
            return Ok(None);
        }
        match value {
            gimli::AttributeValue::UnitRef(o) => self.name_entry(dwarf, at, unit, decls, o, hops),
            gimli::AttributeValue::DebugInfoRef(dr) => {
                let u = match self.units.binary_search_by_key(&dr.0, |u| u.offset) {
                    Ok(_) | Err(0) => return Ok(self.bad_ref(gimli::Error::NoEntryAtGivenOffset, dr.0)),
                    Err(i) => i - 1,
                };
                let o = gimli::UnitOffset(dr.0 - self.units[u].offset);
                if u == at {
                    return self.name_entry(dwarf, at, unit, decls, o, hops);
                }
                // Taken out while in use: the recursion may touch the cache.
                let bytes = match self.cache.units.remove(&u) {
                    Some(b) => {
                        self.cache.bytes -= held(&b);
                        b
                    }
                    None => unit_bytes(&mut *self.info, self.endian, self.units[u].offset as u64)?,
                };
                let meta = self.cache.metas.remove(&u);
                if let Some(m) = &meta {
                    self.cache.meta_decls -= m.decls.len();
                }
                let (r, meta) = {
                    // (read in pass 1 already)
                    let header = unit_header(&bytes, self.endian).map_err(dwarf_err)?;
                    let (other, mut meta) = match meta {
                        Some(m) => (m.unit(header), m),
                        None => {
                            let mut decls = Decls::default();
                            let other = open_unit_for_names(dwarf, header, &mut decls).map_err(dwarf_err)?;
                            let meta = UnitMeta::of(&other, decls);
                            (other, meta)
                        }
                    };
                    (
                        self.name_entry(dwarf, u, &other, &mut meta.decls, o, hops)?
                            .map(|n| Cow::Owned(n.into_owned())),
                        meta,
                    )
                };
                // (at least as many as the bytes' cache: tables of thousands of declarations
                // fill the budget with a few units)
                if self.cache.metas.len() >= UNIT_CACHE && self.cache.meta_decls + meta.decls.len() > META_DECLS {
                    self.cache.metas.clear();
                    self.cache.meta_decls = 0;
                }
                self.cache.meta_decls += meta.decls.len();
                self.cache.metas.insert(u, meta);
                // (bytes borrowed from `.debug_info` are read again for nothing)
                if held(&bytes) > 0 {
                    if self.cache.units.len() >= UNIT_CACHE || self.cache.bytes + held(&bytes) > UNIT_CACHE_BYTES {
                        self.cache.units.clear();
                        self.cache.bytes = 0;
                    }
                    if held(&bytes) <= UNIT_CACHE_BYTES {
                        self.cache.bytes += held(&bytes);
                        self.cache.units.insert(u, bytes);
                    }
                }
                Ok(r)
            }
            _ => Ok(None),
        }
    }

    /// A reference that leads nowhere readable: no name from it (told in `warn`).
    fn bad_ref<'x>(&mut self, e: gimli::Error, target: usize) -> Option<Cow<'x, [u8]>> {
        self.warn.skip("name reference", &why(&e), || {
            format!("{} (its target)", info_at(target))
        });
        None
    }

    fn name_entry<'x>(
        &mut self,
        dwarf: &Dwarf<'x>,
        at: usize,
        unit: &Unit<'x>,
        decls: &mut Decls,
        offset: gimli::UnitOffset,
        hops: usize,
    ) -> Result<Option<Cow<'x, [u8]>>> {
        let target = self.units[at].offset.wrapping_add(offset.0);
        let (abbrev, mut entries) = match decls.read_die(dwarf, (&unit.header, &unit.abbreviations), offset) {
            Ok((_, Some(found))) => found,
            Ok((_, None)) => return Ok(self.bad_ref(gimli::Error::NoEntryAtGivenOffset, target)),
            Err(e) => return Ok(self.bad_ref(e, target)),
        };
        let mut name = None;
        let mut next = None;
        for spec in abbrev.specs.iter() {
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
            Some(v) => self.name_attr(dwarf, v, at, unit, decls, hops - 1),
            None => Ok(None),
        }
    }
}
