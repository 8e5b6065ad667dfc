//! The code DIEs of one unit: subprograms with code and their inlined subroutines, with
//! their address ranges in addr2line's search order (one walk of the DIE tree).

use super::names::is_name_attr;
use super::step::Skips;
use super::units::Decls;
use super::{info_at, why, Dwarf, Hint, Reader, Unit};
use crate::hash::FastMap;
use crate::native::warnings::Warnings;
use crate::symcache::NONE;
use std::borrow::Cow;

/// `DW_AT_low_pc` / `DW_AT_high_pc` / `DW_AT_ranges` of a DIE, read as addr2line does.
#[derive(Default)]
pub(super) struct RangeAttrs {
    low_pc: Option<u64>,
    high_pc: Option<u64>,
    size: Option<u64>,
    pub(super) ranges_offset: Option<gimli::RangeListsOffset<usize>>,
    /// How many `DW_AT_ranges` the DIE has (`die_entry` reads the first, this the last).
    ranges_count: u32,
}

impl RangeAttrs {
    /// Takes `attr` if it is one of the range attributes.
    pub(super) fn read(
        &mut self,
        dwarf: &Dwarf<'_>,
        unit: &Unit<'_>,
        attr: &gimli::Attribute<Reader<'_>>,
    ) -> gimli::Result<bool> {
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
    pub(super) fn for_each(
        &self,
        dwarf: &Dwarf<'_>,
        unit: &Unit<'_>,
        mut f: impl FnMut(u64, u64),
    ) -> gimli::Result<Option<u64>> {
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

/// Not yet interned.
pub(super) const UNSET: u32 = NONE - 1;

/// A subprogram with code, or an inlined subroutine.
pub(super) struct Die<'s> {
    pub(super) offset: usize,
    pub(super) name: Option<Cow<'s, [u8]>>,
    pub(super) call_file: u64,
    pub(super) call_line: u32,
    pub(super) call_column: u32,
    /// The DIE the name came from through an origin or specification (its
    /// `.debug_info` offset + 1), 0 for a name of its own: instances of one origin share
    /// the interned function.
    pub(super) origin: usize,
    /// Interned function, [`UNSET`] until first used.
    pub(super) function: u32,
    /// Entry address: from the DIE walk where plain, else computed on first use.
    pub(super) entry: Option<u64>,
    /// `DW_AT_low_pc` seen, and whether the walk's entry is certain.
    low_pc_seen: bool,
    pub(super) entry_known: bool,
    /// Its naming attributes in `UnitCode::name_attrs` (kept by the walk: reading the
    /// DIE again for them cost as much as the walk's read).
    pub(super) name_attrs: (u32, u32),
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
pub(super) struct Func {
    pub(super) die: usize,
    /// Its inlined subroutines' ranges in `UnitCode::inline_addrs`.
    pub(super) inlines: (usize, usize),
    /// No two of those ranges at one depth overlap: each depth has at most one range at
    /// an address, whichever way it is searched ([`UnitCode::inlined_at`]'s cache).
    pub(super) disjoint: bool,
    /// An error reading its subtree (raised only if an address needs the function, as
    /// addr2line does).
    pub(super) error: Option<gimli::Error>,
}

/// What one unit's DIE tree says about code, in addr2line's search order.
pub(super) struct UnitCode<'s> {
    pub(super) dies: Vec<Die<'s>>,
    pub(super) funcs: Vec<Func>,
    /// Stably sorted by begin.
    pub(super) func_addrs: Vec<FuncRange>,
    /// Per function stably sorted by (depth, begin).
    pub(super) inline_addrs: Vec<InlineRange>,
    /// Function per origin DIE ([`Die::origin`]).
    pub(super) origin_funcs: FastMap<usize, u32>,
    /// Names behind references ([`Names`](super::names::Names)).
    pub(super) memo: FastMap<usize, Option<Cow<'s, [u8]>>>,
    /// The attributes [`read_name`](super::names::read_name) reads, of each DIE in `dies`, in order.
    pub(super) name_attrs: Vec<(gimli::DwAt, gimli::AttributeValue<Reader<'s>>)>,
    /// No two of `func_addrs` overlap (then [`UnitCode::function_at`] caches).
    pub(super) funcs_disjoint: bool,
    /// The last `function_at` answer.
    pub(super) func_hint: Hint<Option<usize>>,
    /// `inlined_at`'s answers per depth for one function (the DIE, or `usize::MAX` for
    /// none at that depth).
    pub(super) inline_hint: InlineHints,
}

/// An address range of a function (an index into [`UnitCode::funcs`]).
pub(super) struct FuncRange {
    pub(super) begin: u64,
    pub(super) end: u64,
    pub(super) func: usize,
}

/// An address range of an inlined subroutine: its function, inline depth (0 directly in
/// the function) and DIE (an index into [`UnitCode::dies`]).
pub(super) struct InlineRange {
    pub(super) func: usize,
    pub(super) depth: usize,
    pub(super) begin: u64,
    pub(super) end: u64,
    pub(super) die: usize,
}

/// [`UnitCode::inlined_at`]'s last answers: for function `func`, one per depth.
pub(super) struct InlineHints {
    pub(super) func: usize,
    pub(super) by_depth: Vec<Hint<usize>>,
}

/// The buffers of one unit's [`UnitCode`] kept for the next (pass 2 collects ~2,000 units
/// of libc: growing them anew each time was ~3 % of a native build in `realloc`).
pub(super) struct Spare {
    dies: Vec<Die<'static>>,
    funcs: Vec<Func>,
    func_addrs: Vec<FuncRange>,
    inline_addrs: Vec<InlineRange>,
    origin_funcs: FastMap<usize, u32>,
    name_attrs: Vec<(gimli::DwAt, gimli::AttributeValue<Reader<'static>>)>,
    by_depth: Vec<Hint<usize>>,
    stack: Vec<OpenDie>,
    skips: Skips,
}

impl Default for Spare {
    fn default() -> Self {
        Spare {
            dies: Vec::new(),
            funcs: Vec::new(),
            func_addrs: Vec::new(),
            inline_addrs: Vec::new(),
            origin_funcs: FastMap::default(),
            name_attrs: Vec::new(),
            by_depth: Vec::new(),
            stack: Vec::new(),
            skips: Skips::new(gimli::Encoding {
                address_size: 8,
                format: gimli::Format::Dwarf32,
                version: 4,
            }),
        }
    }
}

/// Bytes of a buffer kept from one unit to the next: the largest unit's (python3.11: ~0.5 MB
/// in all) would stay to the end of pass 2, where the build's memory peaks.
pub(super) const KEPT: usize = 64 << 10;

/// `v` emptied, holding at most [`KEPT`] bytes.
pub(super) fn kept<T>(mut v: Vec<T>) -> Vec<T> {
    v.clear();
    v.shrink_to(KEPT / std::mem::size_of::<T>().max(1));
    v
}

/// `v` emptied, as a vector of a type of the same layout (`T` and `U` differ in a lifetime
/// only): collected in place, so its memory is kept.
fn relife<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| unreachable!()).collect()
}

/// Which function a DIE's children belong to, and their inline depth.
#[derive(Clone, Copy)]
struct Enclosing {
    func: Option<usize>,
    depth: usize,
}

/// A DIE with children, open during the walk: its depth and what encloses its children.
struct OpenDie {
    depth: isize,
    children: Enclosing,
}

impl<'s> UnitCode<'s> {
    /// The unit's code DIEs. A DIE that cannot be read ends the walk: the functions read
    /// whole before it are kept, those it is inside of are skipped (told in `warn`), and
    /// so is a function whose address ranges cannot be read.
    pub(super) fn collect(
        dwarf: &Dwarf<'s>,
        unit: &Unit<'s>,
        decls: &mut Decls,
        unit_offset: usize,
        spare: &mut Spare,
        warn: &mut Warnings,
    ) -> Self {
        let mut d = UnitCode {
            dies: relife(std::mem::take(&mut spare.dies)),
            funcs: std::mem::take(&mut spare.funcs),
            func_addrs: std::mem::take(&mut spare.func_addrs),
            inline_addrs: std::mem::take(&mut spare.inline_addrs),
            origin_funcs: std::mem::take(&mut spare.origin_funcs),
            memo: FastMap::default(),
            name_attrs: relife(std::mem::take(&mut spare.name_attrs)),
            funcs_disjoint: false,
            func_hint: Hint::empty(None),
            inline_hint: InlineHints {
                func: usize::MAX,
                by_depth: std::mem::take(&mut spare.by_depth),
            },
        };
        // Open DIEs with children: (depth, context of their children).
        let mut stack: Vec<OpenDie> = std::mem::take(&mut spare.stack);
        stack.clear();
        let header_size = unit.header.header_size();
        let bytes: &[u8] = unit
            .header
            .range_from(gimli::UnitOffset(header_size)..)
            .map(|r| r.slice())
            .unwrap_or(&[]);
        let skips = &mut spare.skips;
        skips.reset(unit.encoding());
        if let Err((e, offset, depth)) = d.walk(
            dwarf,
            unit,
            decls,
            bytes,
            header_size,
            &mut stack,
            skips,
            unit_offset,
            warn,
        ) {
            warn.skip("unit tail", &why(&e), || info_at(unit_offset + offset));
            // The functions still open there lost part of their inlined code.
            for open in stack.iter().filter(|s| s.depth < depth) {
                if let Some(f) = open.children.func {
                    if d.funcs[f].error.is_none() {
                        d.funcs[f].error = Some(e.clone());
                        warn.skip("function", &why(&e), || {
                            info_at(unit_offset + d.dies[d.funcs[f].die].offset)
                        });
                    }
                }
            }
        }
        d.func_addrs.sort_by_key(|a| a.begin);

        d.inline_addrs.sort_by_key(|a| (a.func, a.depth, a.begin));
        let mut i = 0;
        while i < d.inline_addrs.len() {
            let f = d.inline_addrs[i].func;
            let start = i;
            while i < d.inline_addrs.len() && d.inline_addrs[i].func == f {
                i += 1;
            }
            d.funcs[f].inlines = (start, i);
            d.funcs[f].disjoint = d.inline_addrs[start..i]
                .windows(2)
                .all(|w| w[0].depth != w[1].depth || w[0].end <= w[1].begin);
        }
        d.funcs_disjoint = d.func_addrs.windows(2).all(|w| w[0].end <= w[1].begin);
        spare.stack = stack;
        d
    }

    /// Its buffers, emptied, for the next unit's [`collect`](Self::collect).
    pub(super) fn give_back(self, spare: &mut Spare) {
        spare.dies = relife(kept(self.dies));
        spare.name_attrs = relife(kept(self.name_attrs));
        spare.funcs = kept(self.funcs);
        spare.func_addrs = kept(self.func_addrs);
        spare.inline_addrs = kept(self.inline_addrs);
        spare.by_depth = kept(self.inline_hint.by_depth);
        let mut origin_funcs = self.origin_funcs;
        origin_funcs.clear();
        origin_funcs.shrink_to(KEPT / 16);
        spare.origin_funcs = origin_funcs;
    }

    /// [`collect`](Self::collect)'s walk of the DIEs; the first DIE that cannot be read
    /// ends it, with its offset in the unit and the depth there (`stack` holds DIEs open
    /// at it: all those whose children belong elsewhere than they do, some others).
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        dwarf: &Dwarf<'s>,
        unit: &Unit<'s>,
        decls: &mut Decls,
        bytes: &[u8],
        header_size: usize,
        stack: &mut Vec<OpenDie>,
        skips: &mut Skips,
        unit_offset: usize,
        warn: &mut Warnings,
    ) -> std::result::Result<(), (gimli::Error, usize, isize)> {
        // `pos` in `bytes`, `depth` as gimli's `EntriesRaw::next_depth`.
        let (mut pos, mut depth) = (0usize, 0isize);
        while pos < bytes.len() {
            // Most DIEs (types, members, parameters, variables, ...) are stepped over by a
            // plan of fixed size, and their children belong where they do: not on `stack`
            // (a push and a dispatch on the tag each were ~half of the walk).
            if let Some((end, children)) = skips.pass(bytes, pos) {
                depth += isize::from(children);
                pos = end;
                continue;
            }
            if bytes[pos] == 0 {
                depth -= 1; // a null entry
                close(stack, depth);
                pos += 1;
                continue;
            }
            let ctx = stack
                .last()
                .map(|s| s.children)
                .unwrap_or(Enclosing { func: None, depth: 0 });
            let offset = header_size + pos;
            // Most DIEs (types, variables, parameters, ...) are only stepped over: that
            // is done here from a plan per abbreviation, gimli reading the rest.
            if let Some(st) = skips.step(bytes, pos, dwarf, decls) {
                if st.tag.0 == 0 {
                    depth -= 1; // a null entry
                    close(stack, depth);
                    pos = st.end;
                    continue;
                }
                // A subprogram or inlined subroutine without code (a declaration, an
                // abstract instance) adds nothing: its children's context is all.
                let child = match st.tag {
                    gimli::DW_TAG_subprogram if st.safe && !st.ranged => Some(Enclosing { func: None, depth: 0 }),
                    gimli::DW_TAG_subprogram => None,
                    gimli::DW_TAG_inlined_subroutine if ctx.func.is_some() => {
                        if st.safe && !st.ranged {
                            Some(Enclosing {
                                func: ctx.func,
                                depth: ctx.depth + 1,
                            })
                        } else {
                            None
                        }
                    }
                    _ => Some(ctx),
                };
                if let Some(child) = child {
                    if st.children {
                        stack.push(OpenDie { depth, children: child });
                        depth += 1;
                    }
                    pos = st.end;
                    continue;
                }
            }
            // Read by gimli: the DIEs that matter, and whatever the plans do not cover
            // (gimli then fails as it would have).
            let (after, found) = decls
                .read_die(dwarf, (&unit.header, &unit.abbreviations), gimli::UnitOffset(offset))
                .map_err(|e| (e, offset, depth))?;
            let (abbrev, mut entries) = match found {
                Some(f) => f,
                None => {
                    depth -= 1;
                    close(stack, depth);
                    pos = after - header_size;
                    continue;
                }
            };
            let child = match abbrev.tag {
                gimli::DW_TAG_subprogram => {
                    let mut ranges = RangeAttrs::default();
                    let mut die = Die::new(offset);
                    let first_name = self.name_attrs.len();
                    let mut range_err = None;
                    for spec in abbrev.specs.iter() {
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
                    // (straight into `func_addrs`, taken back on an error: a vector per
                    // subprogram was an allocation each)
                    let before = self.func_addrs.len();
                    let addrs = &mut self.func_addrs;
                    let first = match range_err {
                        Some(e) => Err(e),
                        None => {
                            ranges.for_each(dwarf, unit, |begin, end| addrs.push(FuncRange { begin, end, func: f }))
                        }
                    };
                    let first = first.unwrap_or_else(|e| {
                        // Without its ranges it is not known where it is: its code is
                        // answered from the line table and the symbol table.
                        warn.skip("function", &why(&e), || info_at(unit_offset + offset));
                        addrs.truncate(before);
                        None
                    });
                    die.first_range(&ranges, first);
                    if self.func_addrs.len() > before {
                        die.name_attrs = (first_name as u32, self.name_attrs.len() as u32);
                        self.funcs.push(Func {
                            die: self.dies.len(),
                            inlines: (0, 0),
                            disjoint: true,
                            error: None,
                        });
                        self.dies.push(die);
                        Enclosing {
                            func: Some(f),
                            depth: 0,
                        }
                    } else {
                        self.name_attrs.truncate(first_name);
                        // Inlined code under a subprogram without code belongs to no function.
                        Enclosing { func: None, depth: 0 }
                    }
                }
                gimli::DW_TAG_inlined_subroutine if ctx.func.is_some() => {
                    let f = ctx.func.unwrap();
                    let mut ranges = RangeAttrs::default();
                    let mut die = Die::new(offset);
                    let mut error = None;
                    let first_name = self.name_attrs.len();
                    for spec in abbrev.specs.iter() {
                        let attr = entries.read_attribute(*spec).map_err(|e| (e, offset, depth))?;
                        match attr.name() {
                            gimli::DW_AT_low_pc | gimli::DW_AT_high_pc | gimli::DW_AT_ranges => {
                                die.note_entry(dwarf, unit, &attr);
                                if let Err(e) = ranges.read(dwarf, unit, &attr) {
                                    error = error.or(Some(e));
                                }
                            }
                            gimli::DW_AT_call_file | gimli::DW_AT_call_line | gimli::DW_AT_call_column => {
                                read_call(&mut die, &attr)
                            }
                            n if is_name_attr(n) => self.name_attrs.push((n, attr.value())),
                            _ => {}
                        }
                    }
                    die.name_attrs = (first_name as u32, self.name_attrs.len() as u32);
                    let index = self.dies.len();
                    self.dies.push(die);
                    let depth = ctx.depth;
                    let out = &mut self.inline_addrs;
                    match ranges.for_each(dwarf, unit, |begin, end| {
                        out.push(InlineRange {
                            func: f,
                            depth,
                            begin,
                            end,
                            die: index,
                        })
                    }) {
                        Ok(first) => self.dies[index].first_range(&ranges, first),
                        Err(e) => error = error.or(Some(e)),
                    }
                    if let Some(e) = error {
                        if self.funcs[f].error.is_none() {
                            // Its inlined code is not known whole: the function is skipped.
                            warn.skip("function", &why(&e), || {
                                info_at(unit_offset + self.dies[self.funcs[f].die].offset)
                            });
                            self.funcs[f].error = Some(e);
                        }
                    }
                    Enclosing {
                        func: Some(f),
                        depth: depth + 1,
                    }
                }
                _ => {
                    entries.skip_attributes(&abbrev.specs).map_err(|e| (e, offset, depth))?;
                    ctx
                }
            };
            if abbrev.children {
                stack.push(OpenDie { depth, children: child });
                depth += 1;
            }
            pos = entries.next_offset().0 - header_size;
        }
        Ok(())
    }
}

/// The DIEs on `stack` that a null entry closed (the walk is at `depth` after it).
#[inline(always)]
fn close(stack: &mut Vec<OpenDie>, depth: isize) {
    while stack.last().map_or(false, |s| s.depth >= depth) {
        stack.pop();
    }
}

/// A call site attribute of an inlined subroutine.
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

#[cfg(test)]
mod tests {
    /// The DIEs of a unit of one function (a version 4 unit; DIEs as (code, attribute
    /// bytes)), collected: (function ranges, (depth, begin, end) of its inlined code, the
    /// function's error, the warnings).
    #[allow(clippy::type_complexity)]
    fn collect(dies: &[(u8, &[u8])]) -> (Vec<(u64, u64)>, Vec<(usize, u64, u64)>, bool, Vec<String>) {
        use gimli::RunTimeEndian::Little;
        // 1 compile unit, 2 subprogram, 3 lexical block, 4 inlined subroutine, 5 structure,
        // 6 member, 7 inlined subroutine with children; ranges as DW_FORM_addr + data4.
        let abbrev = [
            1u8, 0x11, 1, 0, 0, //
            2, 0x2e, 1, 0x11, 0x01, 0x12, 0x06, 0, 0, //
            3, 0x0b, 1, 0, 0, //
            4, 0x1d, 0, 0x11, 0x01, 0x12, 0x06, 0, 0, //
            5, 0x13, 1, 0, 0, //
            6, 0x0d, 0, 0, 0, //
            7, 0x1d, 1, 0x11, 0x01, 0x12, 0x06, 0, 0, //
            0,
        ];
        let mut body = vec![4u8, 0, 0, 0, 0, 0, 8];
        for (code, attrs) in dies {
            body.push(*code);
            body.extend_from_slice(attrs);
        }
        let mut info = (body.len() as u32).to_le_bytes().to_vec();
        info.extend(body);
        let dwarf = gimli::Dwarf {
            debug_abbrev: gimli::DebugAbbrev::new(&abbrev, Little),
            debug_info: gimli::DebugInfo::new(&info, Little),
            ..Default::default()
        };
        let header = dwarf.debug_info.units().next().unwrap().unwrap();
        let mut decls = super::Decls::default();
        let unit = super::super::units::open_unit(&dwarf, header, &mut decls).unwrap().0;
        let mut warn = super::Warnings::default();
        let d = super::UnitCode::collect(&dwarf, &unit, &mut decls, 0, &mut super::Spare::default(), &mut warn);
        assert!(d.funcs.len() <= 1);
        (
            d.func_addrs.iter().map(|r| (r.begin, r.end)).collect(),
            d.inline_addrs.iter().map(|r| (r.depth, r.begin, r.end)).collect(),
            d.funcs.iter().any(|f| f.error.is_some()),
            warn.lines(),
        )
    }

    /// A range's attributes: low pc (8 bytes) and length (4).
    fn range(low: u64, len: u32) -> Vec<u8> {
        let mut v = low.to_le_bytes().to_vec();
        v.extend_from_slice(&len.to_le_bytes());
        v
    }

    /// DIEs stepped over by their plans (lexical blocks, structures, members, some with
    /// children) leave the inlined code under and after them where it belongs: in the
    /// function, at its depth; an inlined subroutine outside any function adds nothing.
    /// A DIE that cannot be read under them skips the function it is in, not one closed.
    #[test]
    fn stepped_dies_keep_what_encloses_code() {
        let (f, i1, i2, i3, o) = (
            range(0x1000, 0x100),
            range(0x1010, 0x10),
            range(0x1012, 4),
            range(0x1030, 0x10),
            range(0x2000, 0x10),
        );
        let dies = |bad_in_function: u8, bad_after: u8| -> Vec<(u8, &[u8])> {
            vec![
                (1, &[]),
                (2, &f),  // the function
                (3, &[]), // a lexical block
                (5, &[]), // a structure
                (bad_in_function, &[]),
                (0, &[]),
                (7, &i1), // inlined, depth 0
                (3, &[]),
                (4, &i2), // inlined in that, depth 1
                (0, &[]),
                (0, &[]),
                (0, &[]), // the lexical block ends
                (4, &i3), // inlined, depth 0
                (0, &[]), // the function ends
                (5, &[]),
                (bad_after, &[]),
                (0, &[]),
                (4, &o), // outside any function
                (0, &[]),
            ]
        };
        let whole = (
            vec![(0x1000, 0x1100)],
            vec![(0, 0x1010, 0x1020), (0, 0x1030, 0x1040), (1, 0x1012, 0x1016)],
        );
        let (funcs, inlines, error, warn) = collect(&dies(6, 6));
        assert_eq!((funcs, inlines), whole.clone());
        assert!(!error && warn.is_empty(), "{:?}", warn);
        // (code 9 is not declared)
        let (funcs, _, error, warn) = collect(&dies(9, 6));
        assert_eq!(funcs, whole.0);
        assert!(error, "{:?}", warn);
        assert!(warn.iter().any(|w| w.contains("unit tail")) && warn.iter().any(|w| w.contains("function")));
        let (funcs, inlines, error, warn) = collect(&dies(6, 9));
        assert_eq!((funcs, inlines), whole);
        assert!(!error, "{:?}", warn);
        assert!(warn.iter().any(|w| w.contains("unit tail")) && !warn.iter().any(|w| w.contains("function")));
    }

    /// `relife` keeps the vector's memory (the in-place collect it relies on).
    #[test]
    fn relife_keeps_memory() {
        let text = String::from("name");
        let v: Vec<std::borrow::Cow<'_, str>> = vec![std::borrow::Cow::Borrowed(text.as_str()); 100];
        let (p, cap) = (v.as_ptr() as usize, v.capacity());
        let w: Vec<std::borrow::Cow<'static, str>> = super::relife(v);
        assert!(w.is_empty());
        assert_eq!((w.as_ptr() as usize, w.capacity()), (p, cap));
    }
}
