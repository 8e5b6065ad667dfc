//! The ECMA-426 `scopes` proposal field: original scope trees and generated ranges.
//!
//! Revision implemented: tc39/ecma426 `proposals/scopes.md` at commit f44ad7fc (stage 3;
//! the revision the vendored conformance tests of tc39/source-map-tests 7bfa363 decode
//! with): one string field `scopes` of comma-separated items, each a tag and VLQs —
//! `B` original scope start (unsigned flags, line, column; signed name and kind if flags
//! 0x1 / 0x2; 0x4 is stack frame), `C` original scope end (line, column), `D` variables,
//! `E` generated range start (flags; line if 0x1; column; signed definition if 0x2; 0x4
//! stack frame, 0x8 hidden), `F` generated range end (column, or line and column), `G`
//! bindings, `H` sub-range bindings, `I` call site (source, line, column). The first items
//! are the original scope trees, one per source (an empty item, or an `A` item as the
//! conformance tests write it, for a source without one); generated range trees and items
//! of unknown tags follow.
//!
//! Relative values as that revision says: original lines relative to the previous start
//! or end (reset per top-level tree), columns relative when on the same line; names,
//! kinds, variables and definitions relative across the whole field; generated lines
//! relative to the previous start or end, columns relative on the same line (not reset
//! between top-level ranges: the text says "relative to the previous occurrence").
//!
//! The field is a proposal: a malformed one is reported as an error of [`decode`] and the
//! callers treat the map as having no scopes (the rest of the map is unaffected).

use crate::error::{Error, ErrorKind, Result};

/// A position (0-based line and column).
pub type Position = (u32, u32);

/// An original scope (a node of a source's scope tree), in pre-order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalScope {
    /// Start in the original source.
    pub start: Position,
    /// End in the original source.
    pub end: Position,
    /// Index into `names` of the scope's name.
    pub name: Option<u32>,
    /// Index into `names` of the scope's kind.
    pub kind: Option<u32>,
    /// The scope is a function-like scope that shows up in stack traces.
    pub is_stack_frame: bool,
    /// Indices into `names` of the scope's variables.
    pub variables: Vec<u32>,
    /// The enclosing scope (index into [`Scopes::scopes`]).
    pub parent: Option<u32>,
    /// The source whose tree this scope is in.
    pub source: u32,
}

/// A generated range (a node of a generated range tree), in pre-order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedRange {
    /// Start in the generated file (inclusive).
    pub start: Position,
    /// End in the generated file (exclusive).
    pub end: Position,
    /// The original scope this range is code of (index into [`Scopes::scopes`]).
    pub definition: Option<u32>,
    /// The range is a JavaScript function that shows up in `Error.stack`.
    pub is_stack_frame: bool,
    /// Calls of this range are to be hidden from stack traces.
    pub is_hidden: bool,
    /// For an inlined function body: the original (source, line, column) of the call.
    pub call_site: Option<(u32, u32, u32)>,
    /// Per variable of the definition: index into `names` of the expression giving its
    /// value, `None` when unavailable.
    pub bindings: Vec<Option<u32>>,
    /// The enclosing range (index into [`Scopes::ranges`]).
    pub parent: Option<u32>,
}

/// A decoded `scopes` field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes {
    /// Per source: the root of its original scope tree (index into `scopes`), or `None`.
    pub sources: Vec<Option<u32>>,
    /// Every original scope, in pre-order, trees in source order (what definitions index).
    pub scopes: Vec<OriginalScope>,
    /// Every generated range, in pre-order.
    pub ranges: Vec<GeneratedRange>,
}

fn bad(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidSourceMap, format!("scopes: {}", message.into()))
}

/// The VLQs of one item.
struct Item<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Item<'a> {
    fn has_more(&self) -> bool {
        self.pos < self.s.len()
    }

    fn unsigned(&mut self) -> Result<u64> {
        let mut value: u64 = 0;
        let mut shift = 0;
        loop {
            let c = *self.s.get(self.pos).ok_or_else(|| bad("a VLQ ends early"))?;
            self.pos += 1;
            let d = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return Err(bad(format!("{:?} is not a base64 digit", c as char))),
            } as u64;
            if shift > 30 {
                return Err(bad("a VLQ is longer than 32 bits"));
            }
            value |= (d & 31) << shift;
            shift += 5;
            if d & 32 == 0 {
                break;
            }
        }
        if value > u32::MAX as u64 {
            return Err(bad("a VLQ is larger than 32 bits"));
        }
        Ok(value)
    }

    fn u32(&mut self) -> Result<u32> {
        self.unsigned().map(|v| v as u32)
    }

    fn signed(&mut self) -> Result<i64> {
        let v = self.unsigned()?;
        let magnitude = (v >> 1) as i64;
        Ok(if v & 1 == 1 { -magnitude } else { magnitude })
    }
}

/// `base + delta` as an index or position: negative or past `u32` is an error.
fn add(base: i64, delta: i64, what: &str) -> Result<i64> {
    let v = base + delta;
    if v < 0 || v > u32::MAX as i64 {
        return Err(bad(format!("{what} {v} is out of range")));
    }
    Ok(v)
}

/// Relative decoding state of the original scopes.
#[derive(Default)]
struct ScopeState {
    line: i64,
    col: i64,
    name: i64,
    kind: i64,
    variable: i64,
}

/// Relative decoding state of the generated ranges.
#[derive(Default)]
struct RangeState {
    line: i64,
    col: i64,
    definition: i64,
}

impl ScopeState {
    /// An original start or end position.
    fn position(&mut self, item: &mut Item<'_>) -> Result<Position> {
        let dl = item.u32()? as i64;
        let c = item.u32()? as i64;
        self.line = add(self.line, dl, "line")?;
        self.col = if dl == 0 { add(self.col, c, "column")? } else { c };
        Ok((self.line as u32, self.col as u32))
    }
}

impl RangeState {
    fn position(&mut self, line: Option<u32>, col: u32) -> Result<Position> {
        let dl = line.unwrap_or(0) as i64;
        self.line = add(self.line, dl, "line")?;
        self.col = if dl == 0 {
            add(self.col, col as i64, "column")?
        } else {
            col as i64
        };
        Ok((self.line as u32, self.col as u32))
    }
}

/// Decodes a `scopes` field; `names` is the length of the map's `names` (indices are
/// checked against it).
pub fn decode(field: &str, names: u32) -> Result<Scopes> {
    let mut out = Scopes::default();
    let mut ss = ScopeState::default();
    let mut rs = RangeState::default();
    // open original scopes / generated ranges (indices into out.scopes / out.ranges)
    let mut open_scopes: Vec<u32> = Vec::new();
    let mut open_ranges: Vec<u32> = Vec::new();
    let mut original_phase = true;
    let name_index = |v: i64, what: &str| -> Result<u32> {
        if v < 0 || v >= names as i64 {
            return Err(bad(format!("{what} {v} is not an index into names ({names})")));
        }
        Ok(v as u32)
    };
    for raw in field.as_bytes().split(|&c| c == b',') {
        let mut item = Item { s: raw, pos: 0 };
        if raw.is_empty() {
            if original_phase && open_scopes.is_empty() {
                out.sources.push(None);
                continue;
            }
            return Err(bad("an empty item inside a tree"));
        }
        let tag = item.unsigned()?;
        match tag {
            0 if original_phase && open_scopes.is_empty() => out.sources.push(None),
            1 => {
                if !original_phase {
                    return Err(bad("an original scope after the generated ranges"));
                }
                let flags = item.u32()?;
                if open_scopes.is_empty() {
                    ss.line = 0;
                    ss.col = 0;
                }
                let start = ss.position(&mut item)?;
                let name = if flags & 1 != 0 {
                    ss.name = add(ss.name, item.signed()?, "name")?;
                    Some(name_index(ss.name, "name")?)
                } else {
                    None
                };
                let kind = if flags & 2 != 0 {
                    ss.kind = add(ss.kind, item.signed()?, "kind")?;
                    Some(name_index(ss.kind, "kind")?)
                } else {
                    None
                };
                let id = out.scopes.len() as u32;
                if open_scopes.is_empty() {
                    out.sources.push(Some(id));
                }
                out.scopes.push(OriginalScope {
                    start,
                    end: start,
                    name,
                    kind,
                    is_stack_frame: flags & 4 != 0,
                    variables: Vec::new(),
                    parent: open_scopes.last().copied(),
                    source: out.sources.len() as u32 - 1,
                });
                open_scopes.push(id);
            }
            2 => {
                let id = open_scopes
                    .pop()
                    .ok_or_else(|| bad("an original scope end without a start"))?;
                let end = ss.position(&mut item)?;
                let scope = &mut out.scopes[id as usize];
                if end < scope.start {
                    return Err(bad(format!("an original scope ends at {:?} before its start", end)));
                }
                scope.end = end;
            }
            3 => {
                let id = *open_scopes
                    .last()
                    .ok_or_else(|| bad("variables outside an original scope"))?;
                while item.has_more() {
                    ss.variable = add(ss.variable, item.signed()?, "variable")?;
                    let v = name_index(ss.variable, "variable")?;
                    out.scopes[id as usize].variables.push(v);
                }
            }
            4 => {
                if !open_scopes.is_empty() {
                    return Err(bad("a generated range inside an original scope"));
                }
                original_phase = false;
                let flags = item.u32()?;
                let line = if flags & 1 != 0 { Some(item.u32()?) } else { None };
                let col = item.u32()?;
                let start = rs.position(line, col)?;
                let definition = if flags & 2 != 0 {
                    rs.definition = add(rs.definition, item.signed()?, "definition")?;
                    Some(rs.definition as u32) // checked against the scopes at the end
                } else {
                    None
                };
                let parent = open_ranges.last().copied();
                if let Some(p) = parent {
                    if start < out.ranges[p as usize].start {
                        return Err(bad("a generated range starts before its parent"));
                    }
                }
                let id = out.ranges.len() as u32;
                out.ranges.push(GeneratedRange {
                    start,
                    end: start,
                    definition,
                    is_stack_frame: flags & 4 != 0,
                    is_hidden: flags & 8 != 0,
                    call_site: None,
                    bindings: Vec::new(),
                    parent,
                });
                open_ranges.push(id);
            }
            5 => {
                let id = open_ranges
                    .pop()
                    .ok_or_else(|| bad("a generated range end without a start"))?;
                let first = item.u32()?;
                let (line, col) = if item.has_more() {
                    (Some(first), item.u32()?)
                } else {
                    (None, first)
                };
                let end = rs.position(line, col)?;
                let range = &mut out.ranges[id as usize];
                if end < range.start {
                    return Err(bad(format!("a generated range ends at {:?} before its start", end)));
                }
                range.end = end;
            }
            6 => {
                let id = *open_ranges
                    .last()
                    .ok_or_else(|| bad("bindings outside a generated range"))?;
                while item.has_more() {
                    let b = item.u32()?;
                    let binding = if b == 0 {
                        None
                    } else {
                        Some(name_index(b as i64 - 1, "binding")?)
                    };
                    out.ranges[id as usize].bindings.push(binding);
                }
            }
            7 => {
                // sub-range bindings: variable values over parts of a range; not used for
                // names, checked for shape only
                open_ranges
                    .last()
                    .ok_or_else(|| bad("sub-range bindings outside a generated range"))?;
                while item.has_more() {
                    item.unsigned()?;
                }
            }
            8 => {
                let id = *open_ranges
                    .last()
                    .ok_or_else(|| bad("a call site outside a generated range"))?;
                let site = (item.u32()?, item.u32()?, item.u32()?);
                out.ranges[id as usize].call_site = Some(site);
            }
            _ if open_scopes.is_empty() && open_ranges.is_empty() => {
                // an item of a later revision: skipped; it ends the original scope trees
                original_phase = false;
                while item.has_more() {
                    item.unsigned()?;
                }
            }
            t => return Err(bad(format!("an item of unknown tag {t} inside a tree"))),
        }
        if item.has_more() && !matches!(tag, 0 | 1 | 4) && tag <= 8 {
            return Err(bad(format!("extra values in an item of tag {tag}")));
        }
    }
    if !open_scopes.is_empty() || !open_ranges.is_empty() {
        return Err(bad("a scope or range is not closed"));
    }
    let n = out.scopes.len() as u32;
    if let Some(r) = out.ranges.iter().find(|r| r.definition.map_or(false, |d| d >= n)) {
        return Err(bad(format!(
            "definition {} is not one of the {n} original scopes",
            r.definition.unwrap_or(0)
        )));
    }
    for r in &out.ranges {
        if let Some(p) = r.parent {
            if r.end > out.ranges[p as usize].end {
                return Err(bad("a generated range ends after its parent"));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests;
