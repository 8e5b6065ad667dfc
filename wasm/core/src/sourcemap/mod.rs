//! Source maps (ECMA-426): parsing, validation and lookups.
//!
//! [`SourceMap::parse`] scans the JSON once with its own validating scanner (no tree),
//! keeps `sources`, `names` and `sourcesContent` as byte ranges of the input (unescaped
//! only when asked for; `sourcesContent` strings are only skipped over, and checked when
//! a source's content is asked for: most of a big map's bytes, never needed for lookups),
//! and decodes `mappings` up front into compact struct-of-arrays
//! storage sorted by generated position, with a start index per generated line.
//!
//! UTF-8 is checked at parse for the whole input, `sourcesContent` included, by the JSON
//! scanner as it goes (`json::Scanner::checking`: its string loops stop at non-ASCII
//! bytes and check each run with [`utf8`]; outside strings only ASCII syntax passes), so
//! invalid UTF-8 anywhere is an `InvalidJson` error of the parse, with the first bad
//! byte's offset unless a JSON error comes before it. No pass of its own over the input:
//! ~8% of a 31 MB map's parse.
//!
//! Choices where ECMA-426 leaves room (the "optionally report an error" steps are all
//! treated as errors, which is what the conformance suite expects):
//!
//! - A leading UTF-8 BOM and a leading `)]}'` line are skipped, as the spec's fetch
//!   algorithm does before JSON parsing.
//! - Optional fields that are `null` (`file`, `sourceRoot`, `sourcesContent`, `names`,
//!   `ignoreList`, `debugId`) count as absent; any other wrong type is an error.
//! - Positions and indices must lie in `0..=2^31-1`; VLQ values follow the spec's 32-bit
//!   rule, with "negative zero" (`B`) meaning -2^31.
//! - `sourceRoot`: a non-empty root is joined to each non-null source with one `/`
//!   (the spec's rule), except for sources that are absolute URLs (`scheme:`), which stay
//!   as they are (what browsers get from URL resolution). An empty root is ignored, as in
//!   Chrome, Firefox and trace-mapping. There is no base URL, so nothing else is resolved.
//! - Index maps: a section's map must be embedded (`url` sections are an error) and must
//!   not be an index map itself. Sections must be ordered by offset, and each offset must
//!   lie strictly after the previous section's last mapping (the suite's overlap test has
//!   two sections mapping the same position). The top-level `debugId` is used; the
//!   `ignoreList`s of the sections are merged (shifted by the sections' source offsets),
//!   plus a top-level `ignoreList` if present, read as indices into the merged sources.
//! - Lookups never cross generated lines. When several segments start at the same column,
//!   both biases return the first of them in input order (what Mozilla's `source-map` does;
//!   the spec's original-position lookup returns all of them, in that order).

pub mod cache;
pub mod facebook;
mod json;
pub mod scopes;
mod utf8;
mod vlq;

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod tests;

pub use vlq::{vlq_decode, vlq_encode};

use crate::error::{Error, ErrorKind, Result};
use json::{Kind, Raw, Scanner};
use std::borrow::Cow;
use std::cell::RefCell;

/// Marks an absent index (no source, no name).
pub const NONE: u32 = u32::MAX;

/// Tokens per entry of the sampled column index (`SourceMap::col_sample`).
const SAMPLE_STEP: usize = 16;

/// Largest input accepted: string ranges are stored in 31 bits.
const MAX_INPUT: usize = i32::MAX as usize;

/// Index map sections may start at any line up to this, or twice the input length if
/// that is more (the line index is dense: 4 bytes per generated line).
const MAX_INDEX_LINES: u64 = 1 << 20;

/// Most entries in `sources` and in `names` (over all sections). Hosts keep these tables
/// (8 bytes an entry and the text) next to the module; real maps list thousands.
pub const MAX_TABLE_ENTRIES: usize = 1 << 22;

/// One mapping segment, all positions 0-based; `src`/`name` are indices or [`NONE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// Generated line.
    pub dst_line: u32,
    /// Generated column (UTF-16 code units).
    pub dst_col: u32,
    /// Index into the sources, or [`NONE`].
    pub src: u32,
    /// Original line, or [`NONE`].
    pub src_line: u32,
    /// Original column, or [`NONE`].
    pub src_col: u32,
    /// Index into the names, or [`NONE`].
    pub name: u32,
}

/// Which segment a lookup picks when no segment starts exactly at the column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bias {
    /// The segment with the greatest column <= the asked column.
    GreatestLowerBound,
    /// The segment with the smallest column >= the asked column.
    LeastUpperBound,
}

/// A string of the input by range: `end`'s top bit flags escapes, `start`'s top bit a
/// string not checked yet ([`json::Raw::unchecked`]), `start == NONE` is null.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StrRef {
    start: u32,
    end: u32,
}

const ESCAPED: u32 = 1 << 31;
const UNCHECKED: u32 = 1 << 31;

impl StrRef {
    const NULL: StrRef = StrRef { start: NONE, end: 0 };

    fn string(raw: &Raw) -> Self {
        StrRef {
            start: raw.start | if raw.unchecked { UNCHECKED } else { 0 },
            end: raw.end | if raw.escaped { ESCAPED } else { 0 },
        }
    }

    fn is_null(self) -> bool {
        self.start == NONE
    }
}

/// The `sourceRoot` that applies to sources from `first_source` on.
#[derive(Clone, Copy, Debug)]
struct Root {
    first_source: u32,
    root: Option<StrRef>,
}

/// A parsed source map borrowing its input bytes.
pub struct SourceMap<'data> {
    text: &'data str,
    index_map: bool,
    file: Option<StrRef>,
    debug_id: Option<StrRef>,
    sources: Vec<StrRef>,
    sources_content: Vec<StrRef>,
    roots: Vec<Root>,
    names: Vec<StrRef>,
    ignore_list: Vec<u32>,
    /// The `scopes` field (ECMA-426 scopes proposal), decoded on demand ([`scopes`]).
    scopes: Option<StrRef>,
    /// Metro's `x_facebook_sources` function maps ([`facebook`]).
    function_maps: facebook::FunctionMaps,
    /// Hermes' `x_hermes_function_offsets` ([`facebook::HermesOffsets`]).
    hermes_offsets: facebook::HermesOffsets,
    tokens: vlq::Tokens,
    /// `dst_col` of every `SAMPLE_STEP`-th token: lookups on long lines (a minified
    /// bundle is often one line of a million segments) search this small array first
    /// and then one block, instead of jumping across the whole column array. Built by
    /// the first lookup that needs it (it reads every cache line of `dst_col`: ~1% of
    /// parsing babylon.js's map, which a map that is only iterated never needs).
    col_sample: RefCell<Option<Vec<u32>>>,
    /// Token indices sorted by (src, src_line, src_col, index); built on first use.
    by_source: RefCell<Option<Vec<u32>>>,
}

// ---------------------------------------------------------------------------------------
// Scanning: record the fields we need, validate everything else as JSON only.

/// A field that either has the container shape we want or is some other value.
enum Field<T> {
    Value(T),
    Wrong(Raw),
}

#[derive(Default)]
struct RawMap {
    version: Option<Raw>,
    file: Option<Raw>,
    source_root: Option<Raw>,
    mappings: Option<Raw>,
    /// The `,` and `;` of `mappings`, when its scan counted them.
    mappings_separators: Option<usize>,
    debug_id: Option<Raw>,
    debug_id_snake: Option<Raw>,
    scopes: Option<Raw>,
    x_facebook_sources: Option<Raw>,
    x_hermes_function_offsets: Option<Raw>,
    sources: Option<Field<Vec<Raw>>>,
    sources_content: Option<Field<Vec<Raw>>>,
    names: Option<Field<Vec<Raw>>>,
    ignore_list: Option<Field<Vec<Raw>>>,
    x_google_ignore_list: Option<Field<Vec<Raw>>>,
    sections: Option<Field<Vec<Field<RawSection>>>>,
    /// A section's map had `sections` (not scanned further).
    nested_sections: bool,
}

#[derive(Default)]
struct RawSection {
    offset: Option<Field<RawOffset>>,
    map: Option<Field<Box<RawMap>>>,
    url: Option<Raw>,
}

#[derive(Default)]
struct RawOffset {
    line: Option<Raw>,
    column: Option<Raw>,
}

fn scan_list(s: &mut Scanner<'_>) -> Result<Field<Vec<Raw>>> {
    if s.peek() != Some(b'[') {
        return Ok(Field::Wrong(s.value()?));
    }
    let mut items = Vec::new();
    s.array(|s| {
        items.push(s.value()?);
        Ok(())
    })?;
    Ok(Field::Value(items))
}

/// Like [`scan_list`], but string items are only skipped over (checked when asked for).
fn scan_lazy_list(s: &mut Scanner<'_>) -> Result<Field<Vec<Raw>>> {
    if s.peek() != Some(b'[') {
        return Ok(Field::Wrong(s.value()?));
    }
    let mut items = Vec::new();
    s.array(|s| {
        items.push(if s.peek() == Some(b'"') {
            s.skip_string()?
        } else {
            s.value()?
        });
        Ok(())
    })?;
    Ok(Field::Value(items))
}

fn scan_offset(s: &mut Scanner<'_>) -> Result<Field<RawOffset>> {
    if s.peek() != Some(b'{') {
        return Ok(Field::Wrong(s.value()?));
    }
    let mut offset = RawOffset::default();
    s.object(|s, key| {
        match &*s.string_of(&key) {
            "line" => offset.line = Some(s.value()?),
            "column" => offset.column = Some(s.value()?),
            _ => {
                s.value()?;
            }
        }
        Ok(())
    })?;
    Ok(Field::Value(offset))
}

fn scan_sections(s: &mut Scanner<'_>) -> Result<Field<Vec<Field<RawSection>>>> {
    if s.peek() != Some(b'[') {
        return Ok(Field::Wrong(s.value()?));
    }
    let mut sections = Vec::new();
    s.array(|s| {
        if s.peek() != Some(b'{') {
            sections.push(Field::Wrong(s.value()?));
            return Ok(());
        }
        let mut section = RawSection::default();
        s.object(|s, key| {
            match &*s.string_of(&key) {
                "offset" => section.offset = Some(scan_offset(s)?),
                "map" => {
                    section.map = Some(if s.peek() == Some(b'{') {
                        Field::Value(Box::new(scan_map(s, true)?))
                    } else {
                        Field::Wrong(s.value()?)
                    })
                }
                "url" => section.url = Some(s.value()?),
                _ => {
                    s.value()?;
                }
            }
            Ok(())
        })?;
        sections.push(Field::Value(section));
        Ok(())
    })?;
    Ok(Field::Value(sections))
}

/// Scans a map object; the cursor is on `{`. Later duplicate keys win, as in `JSON.parse`.
fn scan_map(s: &mut Scanner<'_>, in_section: bool) -> Result<RawMap> {
    let mut m = RawMap::default();
    s.object(|s, key| {
        match &*s.string_of(&key) {
            "version" => m.version = Some(s.value()?),
            "file" => m.file = Some(s.value()?),
            "sourceRoot" => m.source_root = Some(s.value()?),
            "mappings" => {
                let (raw, separators) = s.mappings_value()?;
                m.mappings = Some(raw);
                m.mappings_separators = separators;
            }
            "debugId" => m.debug_id = Some(s.value()?),
            "debug_id" => m.debug_id_snake = Some(s.value()?),
            "scopes" => m.scopes = Some(s.value()?),
            "x_facebook_sources" => m.x_facebook_sources = Some(s.value()?),
            "x_hermes_function_offsets" => m.x_hermes_function_offsets = Some(s.value()?),
            "sources" => m.sources = Some(scan_list(s)?),
            "sourcesContent" => m.sources_content = Some(scan_lazy_list(s)?),
            "names" => m.names = Some(scan_list(s)?),
            "ignoreList" => m.ignore_list = Some(scan_list(s)?),
            "x_google_ignoreList" => m.x_google_ignore_list = Some(scan_list(s)?),
            "sections" if in_section => {
                s.value()?;
                m.nested_sections = true;
            }
            "sections" => m.sections = Some(scan_sections(s)?),
            _ => {
                s.value()?;
            }
        }
        Ok(())
    })?;
    Ok(m)
}

// ---------------------------------------------------------------------------------------
// Validation helpers.

fn err(kind: ErrorKind, message: String) -> Error {
    Error::new(kind, message)
}

/// A short rendering of a value for error messages.
fn snippet(text: &str, raw: &Raw) -> String {
    let (a, b) = match raw.kind {
        Kind::String => (raw.start as usize - 1, raw.end as usize + 1),
        _ => (raw.start as usize, raw.end as usize),
    };
    let s = &text[a..b];
    if s.len() <= 40 {
        s.to_string()
    } else {
        let mut cut = 37;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...", &s[..cut])
    }
}

fn number(text: &str, raw: &Raw) -> Option<f64> {
    if raw.kind == Kind::Number {
        text[raw.range()].parse().ok()
    } else {
        None
    }
}

/// An optional string field; `null` counts as absent.
fn optional_string(raw: &Option<Raw>, what: &str) -> Result<Option<StrRef>> {
    match raw {
        None => Ok(None),
        Some(r) if r.kind == Kind::Null => Ok(None),
        Some(r) if r.kind == Kind::String => Ok(Some(StrRef::string(r))),
        Some(r) => Err(err(
            ErrorKind::InvalidSourceMap,
            format!("{what}: expected a string, found {}", r.kind.describe()),
        )),
    }
}

/// A list of strings (`allow_null`: or nulls). A missing or `null` list is `None`.
fn string_list(
    text: &str,
    field: &Option<Field<Vec<Raw>>>,
    what: &str,
    allow_null: bool,
) -> Result<Option<Vec<StrRef>>> {
    let items = match field {
        None => return Ok(None),
        Some(Field::Wrong(r)) if r.kind == Kind::Null => return Ok(None),
        Some(Field::Wrong(r)) => {
            return Err(err(
                ErrorKind::InvalidSourceMap,
                format!("{what}: expected an array, found {}", r.kind.describe()),
            ))
        }
        Some(Field::Value(items)) => items,
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, r) in items.iter().enumerate() {
        match r.kind {
            Kind::String => out.push(StrRef::string(r)),
            Kind::Null if allow_null => out.push(StrRef::NULL),
            _ => {
                let expected = if allow_null { "a string or null" } else { "a string" };
                return Err(err(
                    ErrorKind::InvalidSourceMap,
                    format!("{what}[{i}]: expected {expected}, found {}", snippet(text, r)),
                ));
            }
        }
    }
    Ok(Some(out))
}

/// An `ignoreList`: integers in `0..bound`, returned shifted by `base`.
fn index_list(text: &str, field: &Field<Vec<Raw>>, what: &str, bound: u32, base: u32) -> Result<Vec<u32>> {
    let items = match field {
        Field::Wrong(r) if r.kind == Kind::Null => return Ok(Vec::new()),
        Field::Wrong(r) => {
            return Err(err(
                ErrorKind::InvalidSourceMap,
                format!("{what}: expected an array, found {}", r.kind.describe()),
            ))
        }
        Field::Value(items) => items,
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, r) in items.iter().enumerate() {
        match number(text, r) {
            Some(v) if v.fract() == 0.0 && v >= 0.0 && v < bound as f64 => out.push(base + v as u32),
            Some(_) => {
                return Err(err(
                    ErrorKind::InvalidSourceMap,
                    format!(
                        "{what}[{i}]: {} is not a source index (there are {bound} sources)",
                        snippet(text, r)
                    ),
                ))
            }
            None => {
                return Err(err(
                    ErrorKind::InvalidSourceMap,
                    format!("{what}[{i}]: expected a source index, found {}", snippet(text, r)),
                ))
            }
        }
    }
    Ok(out)
}

fn check_version(text: &str, raw: &Option<Raw>, what: &str) -> Result<()> {
    match raw {
        Some(r) if number(text, r) == Some(3.0) => Ok(()),
        Some(r) => Err(err(
            ErrorKind::InvalidSourceMap,
            format!("{what}: expected 3, found {}", snippet(text, r)),
        )),
        None => Err(err(ErrorKind::InvalidSourceMap, format!("{what}: missing"))),
    }
}

/// A section offset component: an integer in `0..=2^31-1`.
fn offset_component(text: &str, raw: &Option<Raw>, what: &str) -> Result<u32> {
    match raw {
        None => Err(err(ErrorKind::InvalidIndexMap, format!("{what}: missing"))),
        Some(r) => match number(text, r) {
            Some(v) if v.fract() == 0.0 && v >= 0.0 && v <= vlq::MAX_POS as f64 => Ok(v as u32),
            _ => Err(err(
                ErrorKind::InvalidIndexMap,
                format!(
                    "{what}: expected an integer in 0..=2147483647, found {}",
                    snippet(text, r)
                ),
            )),
        },
    }
}

/// Whether `s` starts with a URL scheme (`[A-Za-z][A-Za-z0-9+.-]*:`).
fn is_absolute_url(s: &str) -> bool {
    let b = s.as_bytes();
    if !matches!(b.first(), Some(c) if c.is_ascii_alphabetic()) {
        return false;
    }
    for &c in &b[1..] {
        if c == b':' {
            return true;
        }
        if !(c.is_ascii_alphanumeric() || c == b'+' || c == b'-' || c == b'.') {
            return false;
        }
    }
    false
}

// ---------------------------------------------------------------------------------------
// Building.

impl<'data> SourceMap<'data> {
    /// Parses and validates a source map (regular or index map).
    ///
    /// Errors: `InvalidJson` (not UTF-8 or not well-formed JSON), `LimitExceeded` (nesting
    /// deeper than 128, nested index maps, input of 2 GiB or more), `InvalidSourceMap` (a
    /// field missing or of the wrong type), `InvalidMappings`, `InvalidIndexMap`.
    pub fn parse(data: &'data [u8]) -> Result<Self> {
        if data.len() > MAX_INPUT {
            return Err(err(
                ErrorKind::LimitExceeded,
                format!("source map of {} bytes exceeds the 2 GiB limit", data.len()),
            ));
        }
        let mut start = 0;
        if data.starts_with("\u{feff}".as_bytes()) {
            start = 3;
        }
        if data[start..].starts_with(b")]}'") {
            // The XSSI guard line: skip up to the first newline.
            start = data[start..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map_or(data.len(), |p| start + p);
        }

        // UTF-8 is checked as the scanner goes (json.rs): no pass of its own.
        let mut s = Scanner::checking(data, start)?;
        if s.peek() != Some(b'{') {
            let raw = s.value()?;
            s.finish()?;
            return Err(err(
                ErrorKind::InvalidSourceMap,
                format!("expected a JSON object at the top level, found {}", raw.kind.describe()),
            ));
        }
        let raw = scan_map(&mut s, false)?;
        let text = utf8::checked_text(s.finish_checked()?);

        let mut map = SourceMap {
            text,
            index_map: false,
            file: None,
            debug_id: None,
            sources: Vec::new(),
            sources_content: Vec::new(),
            roots: Vec::new(),
            names: Vec::new(),
            ignore_list: Vec::new(),
            scopes: None,
            function_maps: facebook::FunctionMaps::default(),
            hermes_offsets: facebook::HermesOffsets::default(),
            tokens: vlq::Tokens::default(),
            col_sample: RefCell::new(None),
            by_source: RefCell::new(None),
        };
        let lines = match &raw.sections {
            Some(sections) => map.add_index(&raw, sections)?,
            None => map.add_map(&raw, "", 0, 0)?.lines,
        };
        map.file = optional_string(&raw.file, "file")?;
        if let Some(r) = raw.x_hermes_function_offsets.filter(|r| r.kind != Kind::Null) {
            match facebook::HermesOffsets::decode(text, &r) {
                Ok(h) => map.hermes_offsets = h,
                Err(e) => map
                    .function_maps
                    .note(format!("x_hermes_function_offsets: {e} (ignored)")),
            }
        }
        if raw.sections.is_none() {
            // a proposal field: any other type counts as absent
            map.scopes = optional_string(&raw.scopes, "scopes").ok().flatten();
        }
        map.debug_id = match optional_string(&raw.debug_id, "debugId")? {
            Some(id) => Some(id),
            None => optional_string(&raw.debug_id_snake, "debug_id")?,
        };
        // The sentinel start: line_starts gets `lines + 1` entries.
        let count = map.tokens.len() as u32;
        while map.tokens.line_starts.len() <= lines as usize {
            map.tokens.line_starts.push(count);
        }
        Ok(map)
    }

    /// Adds the sources, names and tokens of one regular map. `prefix` names the map in
    /// error messages ("" or "sections[i].map.").
    fn add_map(&mut self, raw: &RawMap, prefix: &str, line_offset: u32, col_offset: u32) -> Result<vlq::Decoded> {
        let text = self.text;
        if raw.nested_sections {
            return Err(err(
                ErrorKind::LimitExceeded,
                format!("{prefix}sections: a section's map must not be an index map"),
            ));
        }
        check_version(text, &raw.version, &format!("{prefix}version"))?;
        let mappings = match raw.mappings {
            Some(r) if r.kind == Kind::String => r,
            Some(r) => {
                return Err(err(
                    ErrorKind::InvalidSourceMap,
                    format!("{prefix}mappings: expected a string, found {}", r.kind.describe()),
                ))
            }
            None => return Err(err(ErrorKind::InvalidSourceMap, format!("{prefix}mappings: missing"))),
        };
        let sources = match &raw.sources {
            Some(Field::Value(_)) => string_list(text, &raw.sources, &format!("{prefix}sources"), true)?,
            Some(Field::Wrong(r)) => {
                return Err(err(
                    ErrorKind::InvalidSourceMap,
                    format!("{prefix}sources: expected an array, found {}", r.kind.describe()),
                ))
            }
            None => return Err(err(ErrorKind::InvalidSourceMap, format!("{prefix}sources: missing"))),
        }
        .unwrap_or_default();
        optional_string(&raw.file, &format!("{prefix}file"))?;
        let root = optional_string(&raw.source_root, &format!("{prefix}sourceRoot"))?;
        let content =
            string_list(text, &raw.sources_content, &format!("{prefix}sourcesContent"), true)?.unwrap_or_default();
        let names = string_list(text, &raw.names, &format!("{prefix}names"), false)?.unwrap_or_default();

        for (what, have, more) in [
            ("sources", self.sources.len(), sources.len()),
            ("names", self.names.len(), names.len()),
        ] {
            if have + more > MAX_TABLE_ENTRIES {
                return Err(err(
                    ErrorKind::LimitExceeded,
                    format!("{prefix}{what}: more than {MAX_TABLE_ENTRIES} entries in the map"),
                ));
            }
        }
        let src_base = self.sources.len() as u32;
        let name_base = self.names.len() as u32;
        let src_count = sources.len() as u32;
        let ignore = match (&raw.ignore_list, &raw.x_google_ignore_list) {
            (Some(list), _) => index_list(text, list, &format!("{prefix}ignoreList"), src_count, src_base)?,
            (None, Some(list)) => index_list(text, list, &format!("{prefix}x_google_ignoreList"), src_count, src_base)?,
            (None, None) => Vec::new(),
        };

        // Roots: only record changes, so a regular map without root stores nothing.
        let root = root.filter(|r| r.end & !ESCAPED > r.start);
        if root.is_some() || matches!(self.roots.last(), Some(r) if r.root.is_some()) {
            self.roots.push(Root {
                first_source: src_base,
                root,
            });
        }
        self.sources.extend_from_slice(&sources);
        let mut content = content;
        content.resize(sources.len(), StrRef::NULL);
        self.sources_content.extend_from_slice(&content);
        self.names.extend_from_slice(&names);
        self.ignore_list.extend_from_slice(&ignore);
        if let Some(r) = &raw.x_facebook_sources {
            self.function_maps.add(text, r, src_base, src_count, prefix);
        }

        let placement = vlq::Placement {
            line_offset,
            col_offset,
            src_base,
            src_count,
            name_base,
            name_count: names.len() as u32,
        };
        let decoded = if mappings.escaped {
            let owned = json::unescape(&text[mappings.range()]);
            vlq::decode_mappings(owned.as_bytes(), None, &placement, &mut self.tokens)
        } else {
            let m = &text.as_bytes()[mappings.range()];
            vlq::decode_mappings(m, raw.mappings_separators, &placement, &mut self.tokens)
        };
        decoded.map_err(|e| {
            if prefix.is_empty() {
                e
            } else {
                err(e.kind(), format!("{prefix}{}", e.message()))
            }
        })
    }

    /// Adds the sections of an index map; returns the number of generated lines.
    fn add_index(&mut self, raw: &RawMap, sections: &Field<Vec<Field<RawSection>>>) -> Result<u32> {
        let text = self.text;
        self.index_map = true;
        if raw.mappings.is_some() {
            return Err(err(
                ErrorKind::InvalidIndexMap,
                "an index map must not have a mappings field".to_string(),
            ));
        }
        check_version(text, &raw.version, "version")?;
        let sections = match sections {
            Field::Value(list) => list,
            Field::Wrong(r) => {
                return Err(err(
                    ErrorKind::InvalidIndexMap,
                    format!("sections: expected an array, found {}", r.kind.describe()),
                ))
            }
        };
        let mut lines = 0u32;
        let mut prev_offset: Option<(u32, u32)> = None;
        let mut prev_last: Option<(u32, u32)> = None;
        for (i, section) in sections.iter().enumerate() {
            let section = match section {
                Field::Value(s) => s,
                Field::Wrong(r) => {
                    return Err(err(
                        ErrorKind::InvalidIndexMap,
                        format!("sections[{i}]: expected an object, found {}", r.kind.describe()),
                    ))
                }
            };
            let offset = match &section.offset {
                Some(Field::Value(o)) => o,
                Some(Field::Wrong(r)) => {
                    return Err(err(
                        ErrorKind::InvalidIndexMap,
                        format!("sections[{i}].offset: expected an object, found {}", r.kind.describe()),
                    ))
                }
                None => {
                    return Err(err(
                        ErrorKind::InvalidIndexMap,
                        format!("sections[{i}].offset: missing"),
                    ))
                }
            };
            let line = offset_component(text, &offset.line, &format!("sections[{i}].offset.line"))?;
            // Lines cost 4 bytes each in the line index: a tiny map must not claim billions.
            let max_line = (text.len() as u64 * 2).max(MAX_INDEX_LINES);
            if line as u64 > max_line {
                return Err(err(
                    ErrorKind::LimitExceeded,
                    format!(
                        "sections[{i}].offset.line: {line} is beyond the {max_line} generated \
                         lines a map of {} bytes may describe",
                        text.len()
                    ),
                ));
            }
            let column = offset_component(text, &offset.column, &format!("sections[{i}].offset.column"))?;
            if let Some((pl, pc)) = prev_offset {
                if (line, column) < (pl, pc) {
                    return Err(err(
                        ErrorKind::InvalidIndexMap,
                        format!(
                            "sections[{i}]: offset ({line}, {column}) is before the previous \
                             section's offset ({pl}, {pc})"
                        ),
                    ));
                }
            }
            if let Some((ll, lc)) = prev_last {
                if (line, column) <= (ll, lc) {
                    return Err(err(
                        ErrorKind::InvalidIndexMap,
                        format!(
                            "sections[{i}]: offset ({line}, {column}) overlaps the previous \
                             section, which maps position ({ll}, {lc})"
                        ),
                    ));
                }
            }
            let map = match &section.map {
                Some(Field::Value(m)) => m,
                Some(Field::Wrong(r)) => {
                    return Err(err(
                        ErrorKind::InvalidIndexMap,
                        format!("sections[{i}].map: expected an object, found {}", r.kind.describe()),
                    ))
                }
                None if section.url.is_some() => {
                    return Err(err(
                        ErrorKind::InvalidIndexMap,
                        format!("sections[{i}]: sections with a url are not supported (embed the map)"),
                    ))
                }
                None => return Err(err(ErrorKind::InvalidIndexMap, format!("sections[{i}].map: missing"))),
            };
            let decoded = self.add_map(map, &format!("sections[{i}].map."), line, column)?;
            if decoded.last.is_some() {
                prev_last = decoded.last;
            }
            prev_offset = Some((line, column));
            lines = lines.max(line + decoded.lines);
        }
        let total = self.sources.len() as u32;
        let top = match (&raw.ignore_list, &raw.x_google_ignore_list) {
            (Some(list), _) => index_list(text, list, "ignoreList", total, 0)?,
            (None, Some(list)) => index_list(text, list, "x_google_ignoreList", total, 0)?,
            (None, None) => Vec::new(),
        };
        self.ignore_list.extend_from_slice(&top);
        Ok(lines)
    }

    // -----------------------------------------------------------------------------------
    // Accessors.

    fn str_of(&self, s: StrRef) -> Cow<'data, str> {
        let raw = &self.text[s.start as usize..(s.end & !ESCAPED) as usize];
        if s.end & ESCAPED != 0 {
            Cow::Owned(json::unescape(raw))
        } else {
            Cow::Borrowed(raw)
        }
    }

    /// Whether the input was an index map.
    pub fn is_index_map(&self) -> bool {
        self.index_map
    }

    /// Number of sources.
    pub fn source_count(&self) -> u32 {
        self.sources.len() as u32
    }

    /// Source URL after `sourceRoot` resolution; `None` for a null entry.
    pub fn source(&self, idx: u32) -> Option<Cow<'_, str>> {
        let s = *self.sources.get(idx as usize)?;
        if s.is_null() {
            return None;
        }
        let source = self.str_of(s);
        let root = match self.roots.partition_point(|r| r.first_source <= idx) {
            0 => None,
            i => self.roots[i - 1].root,
        };
        match root {
            Some(root) if !is_absolute_url(&source) => {
                let root = self.str_of(root);
                let mut url = String::with_capacity(root.len() + 1 + source.len());
                url.push_str(&root);
                if !root.ends_with('/') {
                    url.push('/');
                }
                url.push_str(&source);
                Some(Cow::Owned(url))
            }
            _ => Some(source),
        }
    }

    /// The raw `sources` entry, before `sourceRoot` resolution; `None` for a null entry.
    pub fn raw_source(&self, idx: u32) -> Option<Cow<'_, str>> {
        let s = *self.sources.get(idx as usize)?;
        if s.is_null() {
            None
        } else {
            Some(self.str_of(s))
        }
    }

    /// Number of names.
    pub fn name_count(&self) -> u32 {
        self.names.len() as u32
    }

    /// A name.
    pub fn name(&self, idx: u32) -> Option<Cow<'_, str>> {
        self.names.get(idx as usize).map(|&s| self.str_of(s))
    }

    /// The `scopes` field (ECMA-426 scopes proposal, [`scopes::decode`]), decoded: `None`
    /// when the map has none (index maps: never), an error when it is malformed.
    pub fn scopes(&self) -> Option<Result<scopes::Scopes>> {
        let field = self.str_of(self.scopes?);
        Some(scopes::decode(&field, self.names.len() as u32))
    }

    /// Metro's `x_facebook_sources` function maps (empty without the field).
    pub fn function_maps(&self) -> &facebook::FunctionMaps {
        &self.function_maps
    }

    /// The function around a generated position by the function map of its original
    /// source (`metro-symbolicate`'s name): `None` when the position has no original
    /// position, its source no function map, or the map no function there.
    pub fn original_function_name(&self, line: u32, col: u32) -> Option<&str> {
        if self.function_maps.is_empty() {
            return None;
        }
        let t = self.lookup(line, col, Bias::GreatestLowerBound)?;
        if t.src == NONE || t.src_line == NONE || t.src_col == NONE {
            return None;
        }
        self.function_maps.name_at(t.src, t.src_line, t.src_col)
    }

    /// The generated column of a Hermes crash frame (function `function` of segment
    /// `segment`, `offset` bytes into it) on generated line `segment`, from
    /// `x_hermes_function_offsets`; `None` when the map does not list that function.
    pub fn hermes_column(&self, segment: u32, function: u32, offset: u32) -> Option<u32> {
        self.hermes_offsets
            .function_offset(segment, function)?
            .checked_add(offset)
    }

    /// Hermes' `x_hermes_function_offsets` (empty without the field).
    pub fn hermes_offsets(&self) -> &facebook::HermesOffsets {
        &self.hermes_offsets
    }

    /// The `file` field.
    pub fn file(&self) -> Option<Cow<'_, str>> {
        self.file.map(|s| self.str_of(s))
    }

    /// The `debugId` (or `debug_id`) field.
    pub fn debug_id(&self) -> Option<Cow<'_, str>> {
        self.debug_id.map(|s| self.str_of(s))
    }

    /// `sourcesContent[idx]`, unescaped; `None` when absent or null.
    ///
    /// Parsing only finds where each content string ends; its escapes and control
    /// characters are checked here, so a malformed one is an `InvalidJson` error of this
    /// call (for this source only), not of [`SourceMap::parse`].
    pub fn source_content(&self, idx: u32) -> Result<Option<Cow<'_, str>>> {
        let s = match self.sources_content.get(idx as usize) {
            Some(&s) if !s.is_null() => s,
            _ => return Ok(None),
        };
        if s.start & UNCHECKED == 0 {
            return Ok(Some(self.str_of(s)));
        }
        // The opening quote is the byte before the content.
        let mut scanner = Scanner::new(self.text, (s.start & !UNCHECKED) as usize - 1);
        let raw = scanner
            .string()
            .map_err(|e| err(e.kind(), format!("sourcesContent[{idx}]: {}", e.message())))?;
        debug_assert_eq!(raw.end, s.end);
        Ok(Some(json::string_value(self.text, &raw)))
    }

    /// Source indices from `ignoreList`, else `x_google_ignoreList`.
    pub fn ignore_list(&self) -> &[u32] {
        &self.ignore_list
    }

    /// Number of tokens (segments).
    pub fn token_count(&self) -> u32 {
        self.tokens.len() as u32
    }

    /// Number of generated lines.
    ///
    /// Counts the lines of `mappings` (one more than its `;`s; 0 when it is empty); for
    /// an index map, up to the end of the section reaching furthest.
    pub fn line_count(&self) -> u32 {
        (self.tokens.line_starts.len() - 1) as u32
    }

    /// The generated line of token `idx` (which must exist).
    fn line_of(&self, idx: usize) -> u32 {
        // The last line starting at or before idx; empty lines share their start.
        (self.tokens.line_starts.partition_point(|&s| s as usize <= idx) - 1) as u32
    }

    fn make_token(&self, idx: usize, line: u32) -> Token {
        let t = &self.tokens;
        Token {
            dst_line: line,
            dst_col: t.dst_col[idx],
            src: t.src[idx],
            src_line: t.src_line[idx],
            src_col: t.src_col[idx],
            name: t.name[idx],
        }
    }

    /// The fields of tokens `start..end` (clamped to the token count) as slices of the
    /// stored columns: `dst_col`, `src`, `src_line`, `src_col`, `name`.
    pub fn token_fields(&self, start: u32, end: u32) -> [&[u32]; 5] {
        let t = &self.tokens;
        let end = (end as usize).min(t.len());
        let r = (start as usize).min(end)..end;
        [
            &t.dst_col[r.clone()],
            &t.src[r.clone()],
            &t.src_line[r.clone()],
            &t.src_col[r.clone()],
            &t.name[r],
        ]
    }

    /// Calls `run(line, count)` for the generated lines of tokens `start..end` in order:
    /// the `dst_line` column of [`SourceMap::token_fields`] without a search per token.
    pub fn token_line_runs(&self, start: u32, end: u32, mut run: impl FnMut(u32, u32)) {
        let end = (end as usize).min(self.tokens.len());
        let mut i = (start as usize).min(end);
        if i == end {
            return;
        }
        let starts = &self.tokens.line_starts;
        let mut line = self.line_of(i) as usize;
        while i < end {
            let stop = (starts[line + 1] as usize).min(end);
            if stop > i {
                run(line as u32, (stop - i) as u32);
                i = stop;
            }
            line += 1;
        }
    }

    /// Token by index in generated order.
    pub fn token(&self, idx: u32) -> Option<Token> {
        let idx = idx as usize;
        if idx >= self.tokens.len() {
            return None;
        }
        Some(self.make_token(idx, self.line_of(idx)))
    }

    /// The segment for a generated position (never crossing to another line).
    ///
    /// The first token index in `a..b` (one sorted line) whose column fails `pred`, for
    /// a `pred` that holds on a prefix of the line.
    fn partition_line(&self, a: usize, b: usize, pred: impl Fn(u32) -> bool) -> usize {
        let cols = &self.tokens.dst_col;
        if b - a <= 4 * SAMPLE_STEP {
            return a + cols[a..b].partition_point(|&c| pred(c));
        }
        // Samples lying inside the line: positions k * SAMPLE_STEP for k in k0..k1.
        let k0 = (a + SAMPLE_STEP - 1) / SAMPLE_STEP;
        let k1 = (b - 1) / SAMPLE_STEP + 1;
        if self.col_sample.borrow().is_none() {
            let sample = cols.iter().step_by(SAMPLE_STEP).copied().collect();
            *self.col_sample.borrow_mut() = Some(sample);
        }
        let guard = self.col_sample.borrow();
        let sample = guard.as_deref().unwrap_or_default();
        let k = k0 + sample[k0..k1].partition_point(|&c| pred(c));
        let lo = if k == k0 { a } else { (k - 1) * SAMPLE_STEP + 1 };
        let hi = if k == k1 { b } else { k * SAMPLE_STEP };
        lo + cols[lo..hi].partition_point(|&c| pred(c))
    }

    /// Several segments may start at the same column; which one answers follows
    /// `@jridgewell/trace-mapping` (the reference of the differential tests): on an exact
    /// hit GREATEST_LOWER_BOUND gives the first of them and LEAST_UPPER_BOUND the last;
    /// between columns, GREATEST_LOWER_BOUND gives the last segment of the column below
    /// (the one in force there) and LEAST_UPPER_BOUND the first of the column above.
    /// The token may have no original position (`src == NONE`).
    pub fn lookup(&self, line: u32, col: u32, bias: Bias) -> Option<Token> {
        self.lookup_indexed(line, col, bias).map(|(_, t)| t)
    }

    /// Like [`SourceMap::lookup`], also giving the token's index in generated order (as
    /// taken by [`SourceMap::token`]), so callers can cache per token.
    pub fn lookup_indexed(&self, line: u32, col: u32, bias: Bias) -> Option<(u32, Token)> {
        let idx = self.lookup_index(line, col, bias)?;
        Some((idx, self.make_token(idx as usize, line)))
    }

    /// The token [`SourceMap::lookup_indexed`] answers with, by its index alone: a batch
    /// can search every position first and read the distinct tokens' fields afterwards
    /// (reads of the five columns that do not wait on a search).
    pub fn lookup_index(&self, line: u32, col: u32, bias: Bias) -> Option<u32> {
        let starts = &self.tokens.line_starts;
        let l = line as usize;
        // `starts` ends with a sentinel, so it is never empty (no `l + 1`: usize is 32-bit in wasm).
        if l >= starts.len() - 1 {
            return None;
        }
        let (a, b) = (starts[l] as usize, starts[l + 1] as usize);
        // `below` = segments with column < col, `upto` = segments with column <= col.
        let below = self.partition_line(a, b, |c| c < col);
        // Few segments share a column: step over them rather than search twice (a search
        // is most of a lookup), and search where many do.
        let cols = &self.tokens.dst_col;
        let mut upto = below;
        while upto < b && cols[upto] == col {
            upto += 1;
            if upto - below == 8 {
                upto = self.partition_line(upto, b, |c| c <= col);
                break;
            }
        }
        let (below, upto) = (below - a, upto - a);
        let cols_len = b - a;
        let exact = upto > below;
        let i = match bias {
            Bias::GreatestLowerBound if exact => below,
            Bias::GreatestLowerBound if upto == 0 => return None,
            Bias::GreatestLowerBound => upto - 1,
            Bias::LeastUpperBound if exact => upto - 1,
            Bias::LeastUpperBound if below == cols_len => return None,
            Bias::LeastUpperBound => below,
        };
        Some((a + i) as u32)
    }

    /// Token `idx` of generated line `line`, for an index [`SourceMap::lookup_index`] gave
    /// for that line; `None` for an index past the last token.
    pub fn token_on_line(&self, idx: u32, line: u32) -> Option<Token> {
        if idx as usize >= self.tokens.len() {
            return None;
        }
        Some(self.make_token(idx as usize, line))
    }

    /// Every token mapped from `src:line:col` (`col = None`: any column), in generated order.
    ///
    /// With `Some(col)` and no token exactly at that column, the tokens at the smallest
    /// greater column of the same original line are returned (Mozilla's
    /// `allGeneratedPositionsFor`). The reverse index is built on the first call.
    pub fn generated_positions(&self, src: u32, line: u32, col: Option<u32>) -> Vec<Token> {
        let t = &self.tokens;
        if self.by_source.borrow().is_none() {
            let mut order: Vec<u32> = (0..t.len() as u32).filter(|&i| t.src[i as usize] != NONE).collect();
            order.sort_unstable_by_key(|&i| {
                let i = i as usize;
                (t.src[i], t.src_line[i], t.src_col[i], i)
            });
            *self.by_source.borrow_mut() = Some(order);
        }
        let guard = self.by_source.borrow();
        let order: &[u32] = guard.as_deref().unwrap_or(&[]);
        let key = |i: &u32| (t.src[*i as usize], t.src_line[*i as usize]);
        let lo = order.partition_point(|i| key(i) < (src, line));
        let hi = order.partition_point(|i| key(i) <= (src, line));
        let on_line = &order[lo..hi];
        let mut picked: Vec<u32> = match col {
            None => {
                let mut v = on_line.to_vec();
                v.sort_unstable();
                v
            }
            Some(col) => {
                let a = on_line.partition_point(|&i| t.src_col[i as usize] < col);
                match on_line.get(a) {
                    None => Vec::new(),
                    Some(&first) => {
                        let found = t.src_col[first as usize];
                        let b = on_line.partition_point(|&i| t.src_col[i as usize] <= found);
                        on_line[a..b].to_vec()
                    }
                }
            }
        };
        picked.dedup();
        picked
            .into_iter()
            .map(|i| self.make_token(i as usize, self.line_of(i as usize)))
            .collect()
    }
}

impl std::fmt::Debug for SourceMap<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceMap")
            .field("index_map", &self.index_map)
            .field("sources", &self.sources.len())
            .field("names", &self.names.len())
            .field("tokens", &self.tokens.len())
            .field("lines", &self.line_count())
            .finish()
    }
}
