//! The symcache from DWARF sections and a symbol table: the part of a build that object
//! files and wasm modules share.

use super::{demangle, dwarf, dwarf_err, warnings};
use crate::error::Result;
use crate::symcache::{
    FrameSpec, Identity, SymCacheBuild, SymCacheWriter, FLAG_HAS_DEBUG_INFO, FLAG_HAS_SYMBOLS, NONE,
};
use std::borrow::Cow;
use std::collections::HashMap;

/// The DWARF sections that symcache building reads.
pub(super) const DWARF_SECTIONS: [gimli::SectionId; 10] = [
    gimli::SectionId::DebugAbbrev,
    gimli::SectionId::DebugAddr,
    gimli::SectionId::DebugInfo,
    gimli::SectionId::DebugLine,
    gimli::SectionId::DebugLineStr,
    gimli::SectionId::DebugRanges,
    gimli::SectionId::DebugRngLists,
    gimli::SectionId::DebugStr,
    gimli::SectionId::DebugStrOffsets,
    gimli::SectionId::DebugAranges,
];

type Reader<'s> = gimli::EndianSlice<'s, gimli::RunTimeEndian>;

/// Whether `addr` is in one of `ranges` (sorted; all addresses are when there are none).
pub(super) fn in_ranges(ranges: &[(u64, u64)], addr: u64) -> bool {
    if ranges.is_empty() {
        return true;
    }
    let i = ranges.partition_point(|r| r.0 <= addr);
    i > 0 && addr <= ranges[i - 1].1
}

/// Builds the symcache from the DWARF sections (may be empty), the symbol table (sorted,
/// one per address) and the executable address ranges. `outer_from_symbols`: name the
/// outer frame from the symbol table where one covers the address (llvm-symbolizer does
/// for ELF and Mach-O, not for wasm's name section).
pub(super) fn build_core<'b>(
    mut id: Identity,
    mut sections: HashMap<gimli::SectionId, Cow<'b, [u8]>>,
    info: Option<Box<dyn dwarf::InfoSection<'b> + 'b>>,
    endian: gimli::RunTimeEndian,
    syms: &[(u64, u64, &str)],
    code: &[(u64, u64)],
    outer_from_symbols: bool,
    mut warn: warnings::Warnings,
) -> Result<SymCacheBuild> {
    let base = id.image_base;
    let mut w = SymCacheWriter::new();
    let mut fns = demangle::Functions::default();
    fns.pe32 = id.kind == "pe" && id.arch == "x86";
    // `.debug_info` is read a unit at a time, from memory or through `info`.
    let mut info = info.or_else(|| {
        let whole = sections.remove(&gimli::SectionId::DebugInfo)?;
        Some(Box::new(dwarf::WholeInfo(whole)) as Box<dyn dwarf::InfoSection<'b> + 'b>)
    });
    if let Some(info) = info.as_mut() {
        id.flags |= FLAG_HAS_DEBUG_INFO;
        let dwarf = gimli::Dwarf::load(|sid| -> std::result::Result<Reader<'_>, gimli::Error> {
            Ok(gimli::EndianSlice::new(
                sections.get(&sid).map(|c| &c[..]).unwrap_or(&[]),
                endian,
            ))
        })
        .map_err(dwarf_err)?;
        let mut symbols = dwarf::Symbols::new(syms);
        dwarf::add_ranges(
            &mut w,
            &dwarf,
            &mut **info,
            endian,
            base,
            code,
            &mut symbols,
            &mut fns,
            outer_from_symbols,
            &mut warn,
        )?;
    }
    // The DWARF is done with: free it before the writer builds its output.
    drop(info);
    drop(sections);

    if !syms.is_empty() {
        id.flags |= FLAG_HAS_SYMBOLS;
    }
    for i in 0..syms.len() {
        let (addr, size, name) = syms[i];
        // A symbol without a size (written in assembly: `_init`, `_fini`) reaches the next
        // symbol, the last one the end of its code section, as in llvm-symbolizer.
        let end = if size > 0 {
            addr.saturating_add(size)
        } else if let Some(next) = syms.get(i + 1) {
            next.0
        } else {
            match code.iter().find(|r| r.0 <= addr && addr < r.1) {
                Some(r) => r.1,
                None => continue,
            }
        };
        let f = fns.intern(&mut w, name, 0);
        let loc = w.chain(&[FrameSpec {
            function: f,
            file: NONE,
            line: 0,
            column: 0,
            sym_addr: addr - base,
        }]);
        w.fallback_range(addr - base, end - base, loc);
    }
    drop(fns);
    Ok(SymCacheBuild {
        writer: w,
        identity: id,
        warnings: warn.lines(),
    })
}
