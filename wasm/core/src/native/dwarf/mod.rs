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
//!
//! The parts, in the order a build meets them:
//! - [`units`]: `.debug_info` read a unit at a time, and a unit opened from its bytes;
//! - [`passes`]: the two passes over the units ([`add_ranges`]);
//! - [`lines`]: line programs run and kept as tables;
//! - [`step`]: stepping over the DIEs that do not matter, from a plan per abbreviation;
//! - [`dies`]: the subprograms and inlined subroutines of one unit;
//! - [`names`]: the names behind abstract origins and specifications;
//! - [`answers`]: the frame chain at an address, interned;
//! - [`sort`]: the sorts and searches the passes use.

mod answers;
mod dies;
mod lines;
mod names;
mod passes;
mod sort;
mod step;
mod units;

pub(super) use answers::Symbols;
pub(super) use passes::add_ranges;
pub(super) use units::{InflatedInfo, InfoSection, Reinflate, WholeInfo};

use std::cmp::Ordering;

type Reader<'s> = gimli::EndianSlice<'s, gimli::RunTimeEndian>;
type Dwarf<'s> = gimli::Dwarf<Reader<'s>>;
type Unit<'s> = gimli::Unit<Reader<'s>>;

/// The last answer of a search and the addresses it holds for (`low..high`): probes come
/// in address order, mostly under the last answer again.
#[derive(Clone, Copy)]
pub(super) struct Hint<T> {
    pub(super) low: u64,
    pub(super) high: u64,
    pub(super) answer: T,
}

impl<T> Hint<T> {
    /// A hint that holds for no address.
    pub(super) fn empty(answer: T) -> Self {
        Hint {
            low: 1,
            high: 0,
            answer,
        }
    }

    pub(super) fn holds(&self, probe: u64) -> bool {
        self.low <= probe && probe < self.high
    }
}

/// `b` as text, invalid UTF-8 as U+FFFD: `from_utf8_lossy` walks valid text a byte at a
/// time, `from_utf8` a word at a time (names and paths are nearly always valid; ~1.5 % of
/// libc's build).
pub(super) fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// A short reason for a warning.
pub(super) fn why(e: &gimli::Error) -> String {
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

/// Where in `.debug_info` a warning points.
pub(super) fn info_at(offset: usize) -> String {
    format!(".debug_info+{:#x}", offset)
}

/// Where the range `start..end` lies from `probe`, for a binary search over sorted,
/// disjoint ranges: `Equal` when it holds `probe`.
pub(super) fn range_order(start: u64, end: u64, probe: u64) -> Ordering {
    if probe < start {
        Ordering::Greater
    } else if probe >= end {
        Ordering::Less
    } else {
        Ordering::Equal
    }
}

/// The unsigned LEB128 of at most 9 bytes at `pos` in `b`, and the position after it;
/// `None` for a longer or unterminated one (left to gimli, which checks overflow).
/// (Inlined: a call per LEB128 of the DIE steps and line programs was ~1 % of a build.)
#[inline(always)]
pub(super) fn uleb9(b: &[u8], pos: usize) -> Option<(u64, usize)> {
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
