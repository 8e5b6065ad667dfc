//! Metro's `x_facebook_sources` (React Native bundles): per-source function maps.
//!
//! The field is an array parallel to `sources`; each entry is `null` or an array whose
//! first item is `null` or a function map `{"names": [...], "mappings": "..."}`. The
//! function map lists where each function of the *original* source starts (and where its
//! parent resumes after it): `;`-separated groups of `,`-separated segments of 2 or 3
//! VLQ values — column delta (the column restarts at 0 in each group), name index delta,
//! and an optional line delta (lines start at 1 and only move by these deltas; a `;`
//! alone does not advance the line). A position's function is the last start at or
//! before it, which is how `metro-symbolicate` names a frame: the function map of the
//! frame's original source at the frame's original position.
//!
//! A malformed entry is ignored (its source gets no function names) and reported by
//! [`FunctionMaps::error`]; the rest of the map is unaffected.
//!
//! Hermes bytecode maps (`hermesc -output-source-map`, composed with Metro's map) map
//! generated line `segment + 1`, column = bytecode offset; `x_hermes_function_offsets`
//! (`{"0": [offset of function 0, of function 1, ...]}` per segment) turns a crash's
//! (function id, offset in the function) into that column, as metro-symbolicate's
//! `--hermes-crash` mode does ([`HermesOffsets`]).

use super::json::{string_value, Kind, Raw, Scanner};
use super::vlq_decode;

/// One function start: 1-based line, 0-based column (UTF-16), index into the names.
#[derive(Clone, Copy, Debug)]
struct Start {
    line: u32,
    col: u32,
    name: u32,
}

/// The function map of one source.
#[derive(Debug, Default)]
struct FunctionMap {
    starts: Vec<Start>,
    names: Vec<String>,
}

/// The decoded function maps of a map's sources (all sections of an index map).
#[derive(Debug, Default)]
pub struct FunctionMaps {
    /// Indexed by source index; `None`: no function map for that source.
    maps: Vec<Option<FunctionMap>>,
    /// Sources that have one.
    count: usize,
    /// The first problem found (the entry is ignored).
    error: Option<String>,
}

impl FunctionMaps {
    /// Decodes one map's `x_facebook_sources` value (a range of the validated document
    /// `text`) for its sources `src_base..src_base + src_count`. `prefix` names the
    /// section in messages.
    pub(super) fn add(&mut self, text: &str, raw: &Raw, src_base: u32, src_count: u32, prefix: &str) {
        if raw.kind == Kind::Null {
            return;
        }
        if raw.kind != Kind::Array {
            self.note(format!(
                "{prefix}x_facebook_sources: expected an array, found {}",
                raw.kind.describe()
            ));
            return;
        }
        let mut entries: Vec<Raw> = Vec::new();
        let mut s = Scanner::new(text, raw.start as usize);
        // the document was validated: rescanning a part of it cannot fail
        if s.array(|s| {
            entries.push(s.value()?);
            Ok(())
        })
        .is_err()
        {
            return;
        }
        for (i, entry) in entries.iter().enumerate().take(src_count as usize) {
            match decode_entry(text, entry) {
                Ok(None) => {}
                Ok(Some(fm)) => {
                    let idx = (src_base as usize) + i;
                    if self.maps.len() <= idx {
                        self.maps.resize_with(idx + 1, || None);
                    }
                    self.maps[idx] = Some(fm);
                    self.count += 1;
                }
                Err(e) => self.note(format!("{prefix}x_facebook_sources[{i}]: {e} (ignored)")),
            }
        }
    }

    pub(super) fn note(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
        }
    }

    /// Whether any source has a function map.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The first malformed part found (it was ignored), if any.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The function starts of source `src` in order, as (0-based line, UTF-16 column,
    /// name): what the source map cache stores.
    pub fn starts(&self, src: u32) -> impl Iterator<Item = (u32, u32, &str)> + '_ {
        let fm = self.maps.get(src as usize).and_then(|m| m.as_ref());
        fm.into_iter().flat_map(|fm| {
            fm.starts
                .iter()
                .map(move |s| (s.line - 1, s.col, fm.names[s.name as usize].as_str()))
        })
    }

    /// The function around an original position (0-based line, UTF-16 column) of source
    /// `src`: `None` without a function map or before its first function start.
    pub fn name_at(&self, src: u32, line: u32, col: u32) -> Option<&str> {
        let fm = self.maps.get(src as usize)?.as_ref()?;
        let key = (line.saturating_add(1), col);
        let i = fm.starts.partition_point(|s| (s.line, s.col) <= key);
        let start = fm.starts.get(i.checked_sub(1)?)?;
        fm.names.get(start.name as usize).map(|n| n.as_str())
    }
}

/// One entry of the field: `Ok(None)` when it has no function map.
fn decode_entry(text: &str, entry: &Raw) -> Result<Option<FunctionMap>, String> {
    let first = match entry.kind {
        Kind::Null => return Ok(None),
        Kind::Array => {
            let mut first = None;
            let mut s = Scanner::new(text, entry.start as usize);
            s.array(|s| {
                let v = s.value()?;
                if first.is_none() {
                    first = Some(v);
                }
                Ok(())
            })
            .map_err(|e| e.message().to_string())?;
            match first {
                None => return Ok(None),
                Some(v) => v,
            }
        }
        k => return Err(format!("expected an array or null, found {}", k.describe())),
    };
    match first.kind {
        Kind::Null => return Ok(None),
        Kind::Object => {}
        k => return Err(format!("function map: expected an object, found {}", k.describe())),
    }
    let mut names_raw: Option<Raw> = None;
    let mut mappings_raw: Option<Raw> = None;
    let mut name_items: Vec<Raw> = Vec::new();
    let mut s = Scanner::new(text, first.start as usize);
    s.object(|s, key| {
        match &*s.string_of(&key) {
            "names" if s.peek() == Some(b'[') => {
                name_items.clear();
                let r = s.array(|s| {
                    name_items.push(s.value()?);
                    Ok(())
                })?;
                names_raw = Some(r);
            }
            "names" => names_raw = Some(s.value()?),
            "mappings" => mappings_raw = Some(s.value()?),
            _ => {
                s.value()?;
            }
        }
        Ok(())
    })
    .map_err(|e| e.message().to_string())?;
    match names_raw {
        Some(r) if r.kind == Kind::Array => {}
        Some(r) => return Err(format!("names: expected an array, found {}", r.kind.describe())),
        None => return Err("names: missing".to_string()),
    }
    let mut names = Vec::with_capacity(name_items.len());
    for (i, r) in name_items.iter().enumerate() {
        if r.kind != Kind::String {
            return Err(format!("names[{i}]: expected a string, found {}", r.kind.describe()));
        }
        names.push(string_value(text, r).into_owned());
    }
    let mappings = match mappings_raw {
        Some(r) if r.kind == Kind::String => string_value(text, &r),
        Some(r) => return Err(format!("mappings: expected a string, found {}", r.kind.describe())),
        None => return Err("mappings: missing".to_string()),
    };
    let starts = decode_mappings(mappings.as_bytes(), names.len())?;
    Ok(Some(FunctionMap { starts, names }))
}

/// The function starts of a function map's `mappings`, checked: in order, lines >= 1,
/// columns >= 0, names in range.
fn decode_mappings(m: &[u8], name_count: usize) -> Result<Vec<Start>, String> {
    let mut out: Vec<Start> = Vec::new();
    let (mut line, mut name) = (1i64, 0i64);
    for group in m.split(|&c| c == b';') {
        let mut col = 0i64;
        for seg in group.split(|&c| c == b',') {
            if seg.is_empty() {
                continue;
            }
            let mut values = [0i64; 3];
            let mut n = 0;
            let mut pos = 0;
            while pos < seg.len() {
                let (v, used) = vlq_decode(&seg[pos..]).map_err(|e| format!("mappings: {}", e.message()))?;
                if n < 3 {
                    values[n] = v as i64;
                }
                n += 1;
                pos += used;
            }
            if n < 2 {
                return Err(format!("mappings: a segment of {n} value (needs 2 or 3)"));
            }
            col += values[0];
            name += values[1];
            line += values[2];
            if line < 1 || line > u32::MAX as i64 || col < 0 || col > u32::MAX as i64 {
                return Err(format!("mappings: position {line}:{col} out of range"));
            }
            if name < 0 || name as usize >= name_count {
                return Err(format!("mappings: name index {name} out of range ({name_count} names)"));
            }
            let start = Start {
                line: line as u32,
                col: col as u32,
                name: name as u32,
            };
            if let Some(p) = out.last() {
                if (start.line, start.col) < (p.line, p.col) {
                    return Err(format!(
                        "mappings: function start {}:{} before the previous one {}:{}",
                        start.line, start.col, p.line, p.col
                    ));
                }
            }
            out.push(start);
        }
    }
    Ok(out)
}

/// `x_hermes_function_offsets`: the bytecode offset of each function, per segment.
#[derive(Debug, Default)]
pub struct HermesOffsets {
    /// (segment id, offsets by function id), sorted by segment id.
    segments: Vec<(u32, Vec<u32>)>,
}

impl HermesOffsets {
    /// Decodes the field's value; `Err` (the field is then ignored) when it is not an
    /// object of decimal segment ids to arrays of integers in `0..2^32`.
    pub(super) fn decode(text: &str, raw: &Raw) -> Result<HermesOffsets, String> {
        if raw.kind != Kind::Object {
            return Err(format!("expected an object, found {}", raw.kind.describe()));
        }
        let mut segments: Vec<(u32, Vec<u32>)> = Vec::new();
        let mut problem: Option<String> = None;
        let mut s = Scanner::new(text, raw.start as usize);
        s.object(|s, key| {
            let key = s.string_of(&key).into_owned();
            let mut offsets = Vec::new();
            let mut bad = false;
            if s.peek() == Some(b'[') {
                s.array(|s| {
                    let v = s.value()?;
                    match s.str_at(v.range()).parse::<u32>() {
                        Ok(n) if v.kind == Kind::Number => offsets.push(n),
                        _ => bad = true,
                    }
                    Ok(())
                })?;
            } else {
                s.value()?;
                bad = true;
            }
            match key.parse::<u32>() {
                Ok(seg) if !bad && key.bytes().all(|c| c.is_ascii_digit()) => segments.push((seg, offsets)),
                _ if problem.is_none() => {
                    problem = Some(format!("segment {key:?}: expected an array of bytecode offsets"))
                }
                _ => {}
            }
            Ok(())
        })
        .map_err(|e| e.message().to_string())?;
        if let Some(p) = problem {
            return Err(p);
        }
        // a later duplicate key wins, as in JSON.parse
        segments.reverse();
        segments.sort_by_key(|&(seg, _)| seg);
        segments.dedup_by_key(|&mut (seg, _)| seg);
        Ok(HermesOffsets { segments })
    }

    /// The bytecode offset of function `function` of segment `segment`.
    pub fn function_offset(&self, segment: u32, function: u32) -> Option<u32> {
        let i = self.segments.binary_search_by_key(&segment, |&(seg, _)| seg).ok()?;
        self.segments[i].1.get(function as usize).copied()
    }

    /// (segment id, offsets by function id), sorted by segment id: what the source map
    /// cache stores.
    pub fn segments(&self) -> &[(u32, Vec<u32>)] {
        &self.segments
    }

    /// Whether the map had the field (and it decoded).
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

#[cfg(test)]
mod tests;
