//! Answers: the frame chain at an address from one unit (its function, the inlined
//! subroutines there, their names and call sites, the line row), interned once per
//! distinct chain; the symbol table names the outermost frame where it covers the address.

use super::dies::{InlineRange, UnitCode, UNSET};
use super::lines::Lines;
use super::names::{read_name, Names, UnitCache};
use super::passes::CompUnit;
use super::units::{Decls, InfoSection};
use super::{range_order, Dwarf, Hint, Unit};
use crate::error::Result;
use crate::hash::FastMap;
use crate::native::demangle;
use crate::native::warnings::Warnings;
use crate::symcache::{FrameSpec, SymCacheWriter, NONE};
use std::cmp::Ordering;

/// The symbol table with a function index interned per symbol on first use.
pub(in crate::native) struct Symbols<'a> {
    syms: &'a [(u64, u64, &'a str)],
    funcs: Vec<u32>,
    /// The last `at`'s index.
    hint: Hint<usize>,
}

impl<'a> Symbols<'a> {
    pub(in crate::native) fn new(syms: &'a [(u64, u64, &'a str)]) -> Self {
        Symbols {
            syms,
            funcs: vec![NONE; syms.len()],
            hint: Hint::empty(0),
        }
    }

    /// The symbol covering `addr` as llvm-symbolizer sees them (a size-0 symbol reaches
    /// the next one): its start and function index.
    fn at(&mut self, addr: u64, w: &mut SymCacheWriter, fns: &mut demangle::Functions) -> Option<(u64, u32)> {
        // Probes come in address order: mostly under the last symbol again.
        let i = if self.hint.holds(addr) {
            self.hint.answer
        } else {
            let i = self.syms.partition_point(|s| s.0 <= addr);
            let low = i.checked_sub(1).map(|k| self.syms[k].0).unwrap_or(0);
            self.hint = Hint {
                low,
                high: self.syms.get(i).map(|s| s.0).unwrap_or(u64::MAX),
                answer: i,
            };
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

/// The unit being answered from, and what naming its DIEs needs.
pub(super) struct AnsweringUnit<'c, 'u, 'b> {
    pub(super) dwarf: &'c Dwarf<'u>,
    pub(super) units: &'c [CompUnit],
    pub(super) me: usize,
    pub(super) unit: &'c Unit<'u>,
    /// The unit's abbreviations.
    pub(super) decls: &'c mut Decls,
    pub(super) lang: u32,
    pub(super) cache: &'c mut UnitCache<'b>,
    pub(super) info: &'c mut dyn InfoSection<'b>,
    pub(super) endian: gimli::RunTimeEndian,
    pub(super) warn: &'c mut Warnings,
}

/// What answers intern into the symcache (functions, files, chains), shared by all units.
pub(super) struct FrameInterner<'w, 'y, 'a> {
    pub(super) w: &'w mut SymCacheWriter,
    pub(super) syms: &'y mut Symbols<'a>,
    pub(super) fns: &'y mut demangle::Functions,
    pub(super) base: u64,
    pub(super) outer_from_symbols: bool,
    /// Function per raw name, per language (owned: the units' bytes are not kept).
    pub(super) func_names: FastMap<u32, FastMap<Box<[u8]>, u32>>,
    /// The previous chain and its location: neighbouring rows often share it.
    pub(super) prev: Vec<FrameSpec>,
    pub(super) prev_loc: u32,
    pub(super) frames: Vec<FrameSpec>,
    /// `UnitCode::inlined_at`'s answer (kept: answering is the build's inner loop).
    pub(super) inlined: Vec<usize>,
}

impl<'w, 'y, 'a> FrameInterner<'w, 'y, 'a> {
    fn function(&mut self, name: Option<&[u8]>, lang: u32) -> u32 {
        let raw = match name {
            Some(n) => n,
            None => return NONE,
        };
        let names = self.func_names.entry(lang).or_default();
        if let Some(&f) = names.get(raw) {
            return f;
        }
        let raw_s = super::lossy(raw);
        let f = self.fns.intern(self.w, &raw_s, lang);
        names.insert(raw.into(), f);
        f
    }

    /// File `index` of the unit's line table, interned once per unit (`files`: by index).
    fn file<'u>(
        &mut self,
        at: &AnsweringUnit<'_, 'u, '_>,
        lines: Option<&Lines<'u>>,
        files: &mut [Option<u32>],
        index: u64,
    ) -> u32 {
        let lines = match lines {
            Some(l) => l,
            None => return NONE,
        };
        let i = index as usize;
        match files.get(i) {
            Some(Some(f)) => *f,
            Some(None) => {
                let f = match lines.path(at.dwarf, at.unit, i) {
                    Some(path) => self.w.file(&path),
                    None => NONE,
                };
                files[i] = Some(f);
                f
            }
            None => NONE,
        }
    }

    /// The DIE's function and entry address (the probe address where the DIE has none,
    /// as before: the first one that needed it). Names are read here, for the DIEs that
    /// answer a row only (most subprograms are declarations without code).
    #[inline(always)]
    fn die<'u>(
        &mut self,
        cu: &mut UnitCode<'u>,
        i: usize,
        at: &mut AnsweringUnit<'_, 'u, '_>,
        probe: u64,
    ) -> Result<(u32, u64)> {
        // (a DIE answers many rows: named and placed on its first, a call on the rest
        // was ~2 % of libc's build)
        let die = &cu.dies[i];
        if die.function != UNSET && die.entry_known {
            return Ok((die.function, die.entry.unwrap_or(probe).wrapping_sub(self.base)));
        }
        self.first_die(cu, i, at, probe)
    }

    /// [`die`](Self::die) the first time.
    #[inline(never)]
    fn first_die<'u>(
        &mut self,
        cu: &mut UnitCode<'u>,
        i: usize,
        at: &mut AnsweringUnit<'_, 'u, '_>,
        probe: u64,
    ) -> Result<(u32, u64)> {
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
                read_name(&mut cu.dies[i], name, value, at.unit, at.decls, &mut names)?;
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
            die.entry = Some(die_entry(at.dwarf, at.unit, at.decls, gimli::UnitOffset(die.offset)).unwrap_or(probe));
            die.entry_known = true;
        }
        Ok((die.function, die.entry.unwrap_or(probe).wrapping_sub(self.base)))
    }

    /// The frame chain at `probe` from this unit (addr2line's `find_frames` once the unit
    /// is chosen), interned; `None` when the unit knows nothing there.
    pub(super) fn answer<'u>(
        &mut self,
        probe: u64,
        at: &mut AnsweringUnit<'_, 'u, '_>,
        cu: &mut UnitCode<'u>,
        lines: Option<&Lines<'u>>,
        files: &mut [Option<u32>],
    ) -> Result<Option<u32>> {
        // A function skipped for a defect answers as code outside any function.
        let func = cu.function_at(probe).filter(|&f| cu.funcs[f].error.is_none());
        let row = lines.and_then(|l| l.find(probe)).copied();
        let (file, line, column) = match row {
            Some(r) => (self.file(at, lines, files, r.file), r.line, r.column),
            None => (NONE, 0, 0),
        };
        let mut frames = std::mem::take(&mut self.frames);
        frames.clear();
        match func {
            Some(f) => {
                let mut inl = std::mem::take(&mut self.inlined);
                cu.inlined_at(f, probe, &mut inl);
                let (function, sym_addr) = self.die(cu, cu.funcs[f].die, at, probe)?;
                frames.push(FrameSpec {
                    function,
                    file: NONE,
                    line: 0,
                    column: 0,
                    sym_addr,
                });
                for &i in &inl {
                    // The caller's location is the call site of the frame inlined into it.
                    let (cf, cl, cc) = (cu.dies[i].call_file, cu.dies[i].call_line, cu.dies[i].call_column);
                    let caller = frames.last_mut().unwrap();
                    caller.file = if cf != 0 { self.file(at, lines, files, cf) } else { NONE };
                    caller.line = cl;
                    caller.column = cc;
                    let (function, sym_addr) = self.die(cu, i, at, probe)?;
                    frames.push(FrameSpec {
                        function,
                        file: NONE,
                        line: 0,
                        column: 0,
                        sym_addr,
                    });
                }
                let inner = frames.last_mut().unwrap();
                inner.file = file;
                inner.line = line;
                inner.column = column;
                self.inlined = inl;
            }
            None if row.is_some() => {
                frames.push(FrameSpec {
                    function: NONE,
                    file,
                    line,
                    column,
                    sym_addr: probe.wrapping_sub(self.base),
                });
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
fn die_entry(dwarf: &Dwarf<'_>, unit: &Unit<'_>, decls: &mut Decls, off: gimli::UnitOffset) -> Option<u64> {
    let table = decls.table_at(dwarf, &unit.header, off).ok()?;
    let entry = unit.header.entry(&table, off).ok()?;
    if let Ok(Some(v)) = entry.attr_value(gimli::DW_AT_low_pc) {
        if let Ok(Some(a)) = dwarf.attr_address(unit, v) {
            return Some(a);
        }
    }
    let mut ranges = dwarf.die_ranges(unit, &entry).ok()?;
    let first = ranges.next().ok()??;
    Some(first.begin)
}

impl<'s> UnitCode<'s> {
    /// The function whose range holds `probe` (a binary search, as addr2line's).
    fn function_at(&mut self, probe: u64) -> Option<usize> {
        let h = self.func_hint;
        if self.funcs_disjoint && h.holds(probe) {
            return h.answer;
        }
        let a = &self.func_addrs;
        match a.binary_search_by(|a| range_order(a.begin, a.end, probe)) {
            Ok(i) => {
                self.func_hint = Hint {
                    low: a[i].begin,
                    high: a[i].end,
                    answer: Some(a[i].func),
                };
                Some(a[i].func)
            }
            Err(i) => {
                let low = i.checked_sub(1).map(|k| a[k].end).unwrap_or(0);
                self.func_hint = Hint {
                    low,
                    high: a.get(i).map(|r| r.begin).unwrap_or(u64::MAX),
                    answer: None,
                };
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
            if self.inline_hint.func != f {
                self.inline_hint.func = f;
                self.inline_hint.by_depth.clear();
            }
            let (addrs, hint) = (&self.inline_addrs[s..e], &mut self.inline_hint.by_depth);
            loop {
                let depth = out.len();
                let die = match hint.get(depth) {
                    Some(h) if h.holds(probe) => h.answer,
                    _ => {
                        let h = match addrs.binary_search_by(|r| inline_order(r, depth, probe)) {
                            Ok(i) => Hint {
                                low: addrs[i].begin,
                                high: addrs[i].end,
                                answer: addrs[i].die,
                            },
                            Err(i) => {
                                let low = match i.checked_sub(1).map(|k| &addrs[k]) {
                                    Some(r) if r.depth == depth => r.end,
                                    _ => 0,
                                };
                                let high = match addrs.get(i) {
                                    Some(r) if r.depth == depth => r.begin,
                                    _ => u64::MAX,
                                };
                                Hint {
                                    low,
                                    high,
                                    answer: usize::MAX,
                                }
                            }
                        };
                        if depth < hint.len() {
                            hint[depth] = h;
                        } else {
                            hint.push(h);
                        }
                        h.answer
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
                    out.push(addrs[i].die);
                    addrs = &addrs[i + 1..];
                }
                Err(_) => return,
            }
        }
    }
}

/// Where an inlined range lies from `probe` at `depth`, for `inline_addrs`' order.
fn inline_order(r: &InlineRange, depth: usize, probe: u64) -> Ordering {
    if r.depth > depth {
        Ordering::Greater
    } else if r.depth < depth {
        Ordering::Less
    } else if r.begin > probe {
        Ordering::Greater
    } else if r.end <= probe {
        Ordering::Less
    } else {
        Ordering::Equal
    }
}
