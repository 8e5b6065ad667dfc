//! Original function names for generated positions, from scopes and a source map.

use super::scopes::{extract, Extracted, Part, Pos};
use crate::error::Result;
use crate::sourcemap::{Bias, SourceMap, NONE};

/// Name id of top-level code (also in the source map cache format).
pub(crate) const GLOBAL: u32 = u32::MAX;
/// Name id of a function without a name (also in the source map cache format).
pub(crate) const ANONYMOUS: u32 = u32::MAX - 1;

/// What encloses a generated position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enclosing<'a> {
    /// A function with this (original) name.
    Named(&'a str),
    /// A function no name could be found for.
    Anonymous,
    /// Top-level code (or a position outside the file).
    Global,
}

/// The scopes of a generated file with their names resolved: a sorted list of
/// "from this position on, the innermost scope is N" transitions.
#[derive(Debug, Default)]
pub struct ScopeNames {
    at: Vec<Pos>,
    name: Vec<u32>,
    names: Vec<String>,
}

/// The original name of the identifier at `pos`, as symbolic 13.9.0's name resolver finds
/// it: the name of the mapping at the identifier, or one column before it (UglifyJS puts
/// the name segment on the space before the identifier), else of the mapping just before
/// that one when both map to the same original position.
fn name_at(map: &SourceMap<'_>, pos: Pos) -> Option<String> {
    let t = map.lookup(pos.line, pos.col, Bias::GreatestLowerBound)?;
    if t.dst_line != pos.line || t.dst_col + 1 < pos.col {
        return None;
    }
    if t.name != NONE {
        return map.name(t.name).map(|n| n.into_owned());
    }
    if t.dst_col > 0 {
        let q = map.lookup(pos.line, t.dst_col - 1, Bias::GreatestLowerBound)?;
        if q.src == t.src && q.src_line == t.src_line && q.src_col == t.src_col && q.name != NONE {
            return map.name(q.name).map(|n| n.into_owned());
        }
    }
    None
}

fn resolve(ex: &Extracted<'_>, map: Option<&SourceMap<'_>>, parts: &[Part]) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Ident(tok) => {
                let (start, _) = ex.ident_range(*tok);
                let original = map.and_then(|m| name_at(m, start));
                match original {
                    Some(n) => out.push_str(&n),
                    None => out.push_str(ex.ident_text(*tok)),
                }
            }
        }
    }
    out
}

impl ScopeNames {
    /// Extracts the scopes of `source` (the generated file) and names them through `map`
    /// (without a map, the generated names are kept). A map whose `scopes` field (the
    /// ECMA-426 scopes proposal) has generated ranges names them instead: the source is
    /// then not parsed ([`ScopeNames::from_map`]).
    pub fn build(source: &[u8], map: Option<&SourceMap<'_>>) -> Result<ScopeNames> {
        if let Some(names) = map.and_then(ScopeNames::from_map) {
            return Ok(names);
        }
        let ex = extract(source)?;
        let mut out = ScopeNames::default();
        let mut index = std::collections::HashMap::new();
        // (end, name) of the open scopes, outermost first
        let mut stack: Vec<(Pos, u32)> = Vec::new();
        let close = |out: &mut ScopeNames, stack: &mut Vec<(Pos, u32)>, upto: Option<Pos>| {
            while let Some(&(end, _)) = stack.last() {
                if upto.map_or(false, |u| end > u) {
                    break;
                }
                stack.pop();
                let outer = stack.last().map_or(GLOBAL, |s| s.1);
                out.push(end, outer);
            }
        };
        for s in &ex.scopes {
            close(&mut out, &mut stack, Some(s.start));
            let id = match &s.name {
                None => ANONYMOUS,
                Some(parts) => {
                    let name = resolve(&ex, map, parts);
                    let next = out.names.len() as u32;
                    let id = *index.entry(name.clone()).or_insert(next);
                    if id == next {
                        out.names.push(name);
                    }
                    id
                }
            };
            // a child never outlives its parent (our ranges are heuristic at the edges)
            let end = stack.last().map_or(s.end, |p| p.0.min(s.end));
            out.push(s.start, id);
            stack.push((end, id));
        }
        close(&mut out, &mut stack, None);
        Ok(out)
    }

    /// The function names of a map's `scopes` field, when it has one with generated
    /// ranges that decodes and nests properly; `None` otherwise (then the generated file's
    /// own scopes are the source of names).
    ///
    /// A position is named by the innermost generated range around it that has a
    /// definition: its original scope, or the nearest enclosing one that is a stack frame
    /// (a block scope is named by its function), gives the name; a range without a
    /// definition takes its parent's name, unless it is a stack frame itself (a function
    /// the compiler made: anonymous). No stack frame up to the root: top-level code. An
    /// inlined body (a range with a call site) is named by the inlined function; the
    /// frames it was inlined into are not added.
    pub fn from_map(map: &SourceMap<'_>) -> Option<ScopeNames> {
        let scopes = map.scopes()?.ok()?;
        if scopes.ranges.is_empty() {
            return None;
        }
        let mut out = ScopeNames::default();
        let mut index = std::collections::HashMap::new();
        let mut ids: Vec<u32> = Vec::with_capacity(scopes.ranges.len());
        // (end, name, range) of the open ranges, outermost first
        let mut stack: Vec<(Pos, u32, u32)> = Vec::new();
        let pos = |p: (u32, u32)| Pos { line: p.0, col: p.1 };
        let mut last = Pos { line: 0, col: 0 };
        for (k, r) in scopes.ranges.iter().enumerate() {
            let start = pos(r.start);
            // close the ranges that end at or before this start
            while let Some(&(end, _, _)) = stack.last() {
                if end > start {
                    break;
                }
                stack.pop();
                out.push(end, stack.last().map_or(GLOBAL, |s| s.1));
            }
            // ranges that overlap without nesting: not a tree of positions
            if start < last || stack.last().map(|s| s.2) != r.parent {
                return None;
            }
            let parent_id = r.parent.map(|p| ids[p as usize]);
            let id = match r.definition {
                Some(def) => {
                    let mut s = Some(def);
                    let mut id = GLOBAL;
                    while let Some(i) = s {
                        let sc = &scopes.scopes[i as usize];
                        if sc.is_stack_frame {
                            id = match sc.name.and_then(|n| map.name(n)) {
                                None => ANONYMOUS,
                                Some(name) => {
                                    let next = out.names.len() as u32;
                                    let id = *index.entry(name.to_string()).or_insert(next);
                                    if id == next {
                                        out.names.push(name.into_owned());
                                    }
                                    id
                                }
                            };
                            break;
                        }
                        s = sc.parent;
                    }
                    id
                }
                None if r.is_stack_frame => ANONYMOUS,
                None => parent_id.unwrap_or(GLOBAL),
            };
            ids.push(id);
            out.push(start, id);
            stack.push((pos(r.end), id, k as u32));
            last = start;
        }
        while let Some((end, _, _)) = stack.pop() {
            if end < last {
                return None;
            }
            last = end;
            out.push(end, stack.last().map_or(GLOBAL, |s| s.1));
        }
        Some(out)
    }

    fn push(&mut self, at: Pos, name: u32) {
        // the last transition at one position wins
        if self.at.last() == Some(&at) {
            self.name.pop();
            self.at.pop();
        }
        self.at.push(at);
        self.name.push(name);
    }

    /// The innermost scope at a generated position (0-based line, UTF-16 column).
    pub fn lookup(&self, line: u32, col: u32) -> Enclosing<'_> {
        let pos = Pos { line, col };
        let i = self.at.partition_point(|&p| p <= pos);
        if i == 0 {
            return Enclosing::Global;
        }
        match self.name[i - 1] {
            GLOBAL => Enclosing::Global,
            ANONYMOUS => Enclosing::Anonymous,
            n => Enclosing::Named(&self.names[n as usize]),
        }
    }

    /// The transitions (position, name id) and the name table, for the source map cache.
    pub(crate) fn parts(&self) -> (&[Pos], &[u32], &[String]) {
        (&self.at, &self.name, &self.names)
    }

    /// Number of transitions (for tests and sizes).
    pub fn len(&self) -> usize {
        self.at.len()
    }

    /// Whether no scope was found.
    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }
}

#[cfg(test)]
mod tests;
