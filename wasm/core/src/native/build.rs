//! The symcache from DWARF sections and a symbol table: the part of a build that object
//! files and wasm modules share.

use super::progress::PAGE;
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

/// Builds the symcache from the DWARF sections (may be empty; `again`: how to inflate a
/// zlib `.debug_info` among them again, so that pass 2 can give its pages back), the symbol table (sorted,
/// one per address) and the executable address ranges. `outer_from_symbols`: name the
/// outer frame from the symbol table where one covers the address (llvm-symbolizer does
/// for ELF and Mach-O, not for wasm's name section). `names`: the string table the
/// symbols' names are in, given back as the symbols are interned (or empty); neither it
/// nor `syms` is read by the caller after this.
pub(super) fn build_core<'b>(
    mut id: Identity,
    mut sections: HashMap<gimli::SectionId, Cow<'b, [u8]>>,
    mut info: Option<Box<dyn dwarf::InfoSection<'b> + 'b>>,
    again: Option<dwarf::Reinflate<'b>>,
    endian: gimli::RunTimeEndian,
    syms: &[(u64, u64, &str)],
    code: &[(u64, u64)],
    outer_from_symbols: bool,
    mut warn: warnings::Warnings,
    names: &[u8],
) -> Result<SymCacheBuild> {
    let base = id.image_base;
    let mut w = SymCacheWriter::new();
    let mut fns = demangle::Functions::default();
    fns.pe32 = id.kind == "pe" && id.arch == "x86";
    // `.debug_info` is read a unit at a time, through `info` or from memory.
    let whole = match info {
        Some(_) => None,
        None => sections.remove(&gimli::SectionId::DebugInfo),
    };
    let mut rows = None;
    if info.is_some() || whole.is_some() {
        id.flags |= FLAG_HAS_DEBUG_INFO;
        // (a borrowed one is the caller's: its pages are not the build's to give back)
        let lines_own = matches!(sections.get(&gimli::SectionId::DebugLine), Some(Cow::Owned(_)));
        let dwarf = gimli::Dwarf::load(|sid| -> std::result::Result<Reader<'_>, gimli::Error> {
            Ok(gimli::EndianSlice::new(
                sections.get(&sid).map(|c| &c[..]).unwrap_or(&[]),
                endian,
            ))
        })
        .map_err(dwarf_err)?;
        let mut symbols = dwarf::Symbols::new(syms);
        // (two calls: a section read through the file and one borrowed from memory are
        // different `InfoSection` lifetimes)
        macro_rules! add_ranges {
            ($info:expr) => {
                dwarf::add_ranges(
                    &mut w,
                    &dwarf,
                    lines_own,
                    $info,
                    endian,
                    base,
                    code,
                    &mut symbols,
                    &mut fns,
                    outer_from_symbols,
                    &mut warn,
                )?
            };
        }
        rows = Some(match (info.as_mut(), whole.as_deref()) {
            (Some(info), _) => add_ranges!(&mut **info),
            (None, Some(whole)) if !whole.is_empty() => match again {
                Some(again) => add_ranges!(&mut dwarf::InflatedInfo::new(whole, again)),
                None => add_ranges!(&mut dwarf::WholeInfo(whole)),
            },
            (None, whole) => add_ranges!(&mut dwarf::WholeInfo(whole.unwrap_or(&[]))),
        });
    }
    // The DWARF is done with: free it before the ranges and the writer's output are made
    // (the decompressed sections were a third of python3.11's peak memory).
    super::progress::past_peak();
    drop(info);
    drop(whole);
    drop(sections);
    if let Some(rows) = rows {
        rows.write(&mut w, base);
    }

    if !syms.is_empty() {
        id.flags |= FLAG_HAS_SYMBOLS;
    }
    w.expect_fallback(syms.len());
    let mut behind = Behind::new(syms, names);
    if !names.is_empty() {
        let bytes = syms.iter().map(|s| s.2.len()).sum();
        w.expect_strings(syms.len(), bytes);
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
        behind.passed(i);
    }
    drop(fns);
    Ok(SymCacheBuild {
        writer: w,
        identity: id,
        warnings: warn.lines(),
    })
}

/// Gives back, as [`build_core`]'s symbol loop goes, what it will not read again: the
/// symbols behind it and the pages of their names' string table that no symbol ahead
/// names. That loop's end is a symbol-only build's peak: libLLVM's 1.1 MB of symbols
/// and most of its 3.1 MB `.dynstr` were held there beside the copies of the names.
struct Behind<'s> {
    syms: &'s [(u64, u64, &'s str)],
    names: &'s [u8],
    /// Per page of `names` (4 KiB, counted from the one holding its first byte): the last
    /// symbol naming something there (`u32::MAX`: none), and whether it was given back.
    last: Vec<u32>,
    gone: Vec<bool>,
    /// The first symbol not given back.
    from: usize,
    /// Symbols between two give-backs (each a host call or a few).
    step: usize,
}

impl<'s> Behind<'s> {
    fn new(syms: &'s [(u64, u64, &'s str)], names: &'s [u8]) -> Self {
        let start = names.as_ptr() as usize / PAGE;
        let pages = if names.is_empty() {
            0
        } else {
            (names.as_ptr() as usize + names.len() - 1) / PAGE - start + 1
        };
        let mut last = vec![u32::MAX; pages];
        let mut inside = 0;
        for (i, s) in syms.iter().enumerate() {
            let at = (s.2.as_ptr() as usize).wrapping_sub(names.as_ptr() as usize);
            if !s.2.is_empty() && at < names.len() && s.2.len() <= names.len() - at {
                let (p, n) = (s.2.as_ptr() as usize, s.2.len());
                for q in &mut last[p / PAGE - start..=(p + n - 1) / PAGE - start] {
                    *q = i as u32;
                }
                inside += 1;
            }
        }
        // (names in memory of the caller's: nothing of theirs to give back)
        if inside == 0 {
            last.clear();
        }
        Behind {
            syms,
            names,
            gone: vec![false; last.len()],
            last,
            from: 0,
            step: (syms.len() / 16).max(1024),
        }
    }

    /// Symbol `i` was interned.
    fn passed(&mut self, i: usize) {
        if (i + 1) % self.step != 0 {
            return;
        }
        // (symbol i + 1 was read for the end of symbol i: that page is kept)
        self.from = super::progress::discard_items_upto(self.syms, self.from, i + 1);
        let offset = self.names.as_ptr() as usize % PAGE;
        let mut p = 0;
        while p < self.last.len() {
            let done = |q: usize| self.last[q] == u32::MAX || self.last[q] as usize <= i;
            if !done(p) {
                p += 1;
                continue;
            }
            // A run of pages nobody ahead reads, given back if enough of it is new.
            let (first, mut fresh) = (p, 0);
            while p < self.last.len() && done(p) {
                fresh += usize::from(!self.gone[p]);
                p += 1;
            }
            if fresh >= 8 {
                let lo = (first * PAGE).saturating_sub(offset);
                let hi = (p * PAGE - offset).min(self.names.len());
                super::progress::discard(&self.names[lo..hi]);
                self.gone[first..p].iter_mut().for_each(|g| *g = true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Behind, PAGE};

    /// Each page's last symbol is the last whose name has a byte there, wherever the
    /// table starts in its first page and wherever names cross pages.
    #[test]
    fn the_last_symbol_of_each_page_is_the_last_naming_it() {
        let text: String = (0..2000)
            .map(|k| format!("symbol_{}_{}\0", k, "x".repeat(k % 97)))
            .collect();
        for shift in [0usize, 1, 100, 4095] {
            let table = format!("{}{}", "\0".repeat(shift), text).into_bytes();
            let names = &table[..];
            let mut syms = Vec::new();
            let mut at = shift;
            while at < names.len() {
                let n = names[at..].iter().position(|&b| b == 0).unwrap();
                syms.push((at as u64, 1, std::str::from_utf8(&names[at..at + n]).unwrap()));
                at += n + 1;
            }
            // (names named in another order than the table's)
            syms.reverse();
            let third = syms.len() / 3;
            syms.rotate_left(third);
            let b = Behind::new(&syms, names);
            let start = names.as_ptr() as usize / PAGE;
            let mut want: Vec<Option<u32>> = vec![None; b.last.len()];
            for (i, s) in syms.iter().enumerate() {
                let p = s.2.as_ptr() as usize;
                for byte in p..p + s.2.len() {
                    let w = &mut want[byte / PAGE - start];
                    *w = Some(w.map_or(i as u32, |v| v.max(i as u32)));
                }
            }
            let want: Vec<u32> = want.into_iter().map(|w| w.unwrap_or(u32::MAX)).collect();
            assert_eq!(b.last, want, "table shifted by {}", shift);
        }
    }
}
