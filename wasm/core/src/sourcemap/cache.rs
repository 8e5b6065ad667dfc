//! The source map cache: a parsed map (and the function names of its generated file) in
//! a portable binary form, read in place. See CACHE_FORMAT.md.
//!
//! [`write`] turns a [`SourceMap`] (plus optionally the [`ScopeNames`] of its generated
//! file) into bytes; [`SourceMapCache::parse`] checks the header and the section
//! directory only (constant time, nothing copied or rebuilt), and every lookup bounds
//! its reads, so hostile bytes give `InvalidSymCache` errors, never a panic.

use super::{Bias, SourceMap, Token, NONE};
use crate::error::{Error, ErrorKind, Result};
use crate::js::names::{ScopeNames, ANONYMOUS, GLOBAL};
use crate::js::scopes::Pos;
use std::borrow::Cow;

mod paged;
pub use paged::{Bytes, Paged, Prefetched, MAX_PAGES, PAGE};

/// The first 8 bytes of every cache.
pub const MAGIC: &[u8; 8] = b"PYSYMSMC";
/// The version this code writes and reads (2: Metro function maps, Hermes function
/// offsets and the function maps' problem; version 1 is refused, see CACHE_FORMAT.md).
pub const VERSION: u32 = 2;

/// Flag: the map was an index map.
pub const FLAG_INDEX_MAP: u32 = 1;
/// Flag: the cache holds the generated file's function scopes.
pub const FLAG_SCOPES: u32 = 2;
/// Flag: the cache holds `sourcesContent`.
pub const FLAG_CONTENTS: u32 = 4;
/// Flag: the map had Metro's `x_facebook_sources` function maps (the cache holds them).
pub const FLAG_FUNCTION_MAPS: u32 = 8;
/// Flag: the function scopes are the map's `scopes` field (they win over function maps).
pub const FLAG_SCOPES_FIELD: u32 = 16;
const FLAGS: u32 = FLAG_INDEX_MAP | FLAG_SCOPES | FLAG_CONTENTS | FLAG_FUNCTION_MAPS | FLAG_SCOPES_FIELD;

const HEADER: usize = 48;
const SECTIONS: usize = 21;
const DATA_START: usize = HEADER + 8 * SECTIONS;

// Section numbers (CACHE_FORMAT.md "Sections").
const LINE_STARTS: usize = 0;
const DST_COL: usize = 1;
const SRC: usize = 2;
const SRC_LINE: usize = 3;
const SRC_COL: usize = 4;
const NAME: usize = 5;
const SCOPE_LINE: usize = 6;
const SCOPE_COL: usize = 7;
const SCOPE_NAME: usize = 8;
const FM_FIRST: usize = 9;
const FM_LINE: usize = 10;
const FM_COL: usize = 11;
const FM_NAME: usize = 12;
const SOURCES: usize = 13;
const NAMES: usize = 14;
const FN_NAMES: usize = 15;
const META: usize = 16;
const CONTENTS: usize = 17;
const IGNORE: usize = 18;
const HERMES_SEGMENTS: usize = 19;
const HERMES_OFFSETS: usize = 20;
/// Entries of the meta table: `file`, `debugId`, the function maps' problem.
const META_ENTRIES: u32 = 3;

/// A string table of the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// Source URLs (after `sourceRoot`).
    Sources,
    /// The `names` field.
    Names,
    /// Function names: of the generated file's scopes, then of Metro's function maps.
    FunctionNames,
    /// `[file, debugId, function maps problem]`.
    Meta,
    /// `sourcesContent` (empty unless [`FLAG_CONTENTS`]).
    Contents,
}

impl Table {
    fn section(self) -> usize {
        match self {
            Table::Sources => SOURCES,
            Table::Names => NAMES,
            Table::FunctionNames => FN_NAMES,
            Table::Meta => META,
            Table::Contents => CONTENTS,
        }
    }
}

/// A whole string table ([`SourceMapCache::strings`]), its entries checked.
pub struct Strings<'a> {
    section: Cow<'a, [u8]>,
    spans: Vec<Option<(usize, usize)>>,
}

impl Strings<'_> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Entry `i` (`None`: a null entry or past the end).
    pub fn get(&self, i: usize) -> Option<&str> {
        let (a, b) = (*self.spans.get(i)?)?;
        // checked UTF-8 when the table was read
        std::str::from_utf8(&self.section[a..b]).ok()
    }
}

/// What encloses a generated position, by function-name id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// No answer: the cache has no scopes (neither the generated file's nor a `scopes`
    /// field) and no function map answers here (`pysym_sourcemap_function_names` kind 3).
    Unknown,
    /// Top-level code.
    Global,
    /// A function without a name.
    Anonymous,
    /// A function whose name is entry `n` of [`Table::FunctionNames`].
    Named(u32),
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidSymCache,
        format!("not a valid source map cache: {what}"),
    )
}

// ---------------------------------------------------------------------------------------
// Writing

fn push_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn string_table<'a>(items: impl ExactSizeIterator<Item = Option<std::borrow::Cow<'a, str>>>) -> Vec<u8> {
    let n = items.len();
    let mut head = Vec::with_capacity(4 + 8 * n);
    let mut blob = Vec::new();
    push_u32(&mut head, n as u32);
    for item in items {
        match item {
            Some(s) => {
                push_u32(&mut head, blob.len() as u32);
                push_u32(&mut head, s.len() as u32);
                blob.extend_from_slice(s.as_bytes());
            }
            None => {
                push_u32(&mut head, NONE);
                push_u32(&mut head, 0);
            }
        }
    }
    head.extend_from_slice(&blob);
    head
}

fn words(values: impl Iterator<Item = u32>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        push_u32(&mut out, v);
    }
    out
}

/// Serializes `map` (with the function scopes of its generated file or of its `scopes`
/// field, if given, and its `sourcesContent` if `with_contents`) as a cache.
/// `scopes_from_field`: the scopes are the map's `scopes` field, which names positions
/// before Metro's function maps (as `SourceMap` does).
pub fn write(
    map: &SourceMap<'_>,
    scopes: Option<&ScopeNames>,
    scopes_from_field: bool,
    with_contents: bool,
) -> Result<Vec<u8>> {
    let t = &map.tokens;
    let as_bytes = |v: &[u32]| words(v.iter().copied());
    let (at, ids, scope_names): (&[Pos], &[u32], &[String]) = match scopes {
        Some(s) => s.parts(),
        None => (&[], &[], &[]),
    };
    let n_sources = map.source_count();
    // One function name table for the scopes and the function maps: a lookup's function
    // word indexes it whichever answered (Metro repeats `<global>` in every source).
    let mut fn_names: Vec<&str> = scope_names.iter().map(String::as_str).collect();
    let mut fn_index: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for (i, n) in fn_names.iter().enumerate() {
        fn_index.entry(*n).or_insert(i as u32);
    }
    let fms = map.function_maps();
    let has_fms = !fms.is_empty();
    let (mut fm_first, mut fm_line, mut fm_col, mut fm_name) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    if has_fms {
        for src in 0..n_sources {
            fm_first.push(fm_line.len() as u32);
            for (line, col, name) in fms.starts(src) {
                let next = fn_names.len() as u32;
                let id = *fn_index.entry(name).or_insert_with(|| {
                    fn_names.push(name);
                    next
                });
                fm_line.push(line);
                fm_col.push(col);
                fm_name.push(id);
            }
        }
        fm_first.push(fm_line.len() as u32);
    }
    let hermes = map.hermes_offsets().segments();
    let mut hermes_segments = Vec::with_capacity(3 * hermes.len());
    let mut hermes_offsets: Vec<u32> = Vec::new();
    for (seg, offsets) in hermes {
        hermes_segments.extend([*seg, hermes_offsets.len() as u32, offsets.len() as u32]);
        hermes_offsets.extend_from_slice(offsets);
    }
    let mut sections: Vec<Vec<u8>> = Vec::with_capacity(SECTIONS);
    sections.push(as_bytes(&t.line_starts));
    sections.push(as_bytes(&t.dst_col));
    sections.push(as_bytes(&t.src));
    sections.push(as_bytes(&t.src_line));
    sections.push(as_bytes(&t.src_col));
    sections.push(as_bytes(&t.name));
    sections.push(words(at.iter().map(|p| p.line)));
    sections.push(words(at.iter().map(|p| p.col)));
    sections.push(as_bytes(ids));
    sections.push(as_bytes(&fm_first));
    sections.push(as_bytes(&fm_line));
    sections.push(as_bytes(&fm_col));
    sections.push(as_bytes(&fm_name));
    sections.push(string_table((0..n_sources).map(|i| map.source(i))));
    sections.push(string_table((0..map.name_count()).map(|i| map.name(i))));
    sections.push(string_table(fn_names.iter().map(|s| Some(Cow::Borrowed(*s)))));
    sections.push(string_table(
        [map.file(), map.debug_id(), fms.error().map(Cow::Borrowed)].into_iter(),
    ));
    if with_contents {
        let contents = (0..n_sources)
            .map(|i| map.source_content(i))
            .collect::<Result<Vec<_>>>()?;
        sections.push(string_table(contents.into_iter()));
    } else {
        sections.push(string_table(std::iter::empty::<Option<std::borrow::Cow<'_, str>>>()));
    }
    sections.push(as_bytes(map.ignore_list()));
    sections.push(as_bytes(&hermes_segments));
    sections.push(as_bytes(&hermes_offsets));

    let mut size = DATA_START as u64;
    for s in &sections {
        size += (s.len() as u64 + 3) & !3;
    }
    if size > u32::MAX as u64 {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!("the source map cache would be {size} bytes, more than 4 GiB"),
        ));
    }
    let mut flags = 0;
    if map.is_index_map() {
        flags |= FLAG_INDEX_MAP;
    }
    if scopes.is_some() {
        flags |= FLAG_SCOPES;
    }
    if with_contents {
        flags |= FLAG_CONTENTS;
    }
    if has_fms {
        flags |= FLAG_FUNCTION_MAPS;
    }
    if scopes.is_some() && scopes_from_field {
        flags |= FLAG_SCOPES_FIELD;
    }
    let mut out = Vec::with_capacity(size as usize);
    out.extend_from_slice(MAGIC);
    for v in [
        VERSION,
        flags,
        map.line_count(),
        map.token_count(),
        n_sources,
        map.name_count(),
        at.len() as u32,
        fn_names.len() as u32,
        SECTIONS as u32,
        fm_line.len() as u32,
    ] {
        push_u32(&mut out, v);
    }
    let mut offset = DATA_START as u32;
    for s in &sections {
        push_u32(&mut out, offset);
        push_u32(&mut out, s.len() as u32);
        offset += (s.len() as u32 + 3) & !3;
    }
    for s in &sections {
        out.extend_from_slice(s);
        out.resize((out.len() + 3) & !3, 0);
    }
    debug_assert_eq!(out.len() as u64, size);
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Reading

#[inline]
fn word(s: &[u8], i: usize) -> Option<u32> {
    let b = s.get(i.checked_mul(4)?..i.checked_mul(4)?.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A cache read in place from its bytes: a slice ([`SourceMapCache::parse`]) or pages of
/// a file ([`SourceMapCache::open`] with a [`Paged`] reader).
#[derive(Debug)]
pub struct SourceMapCache<S> {
    data: S,
    flags: u32,
    line_count: u32,
    token_count: u32,
    source_count: u32,
    name_count: u32,
    scope_count: u32,
    fn_name_count: u32,
    /// function map starts
    start_count: u32,
    /// (offset, length) of each section
    sections: [(u64, u64); SECTIONS],
    /// Entries of each string table as the header counts them (sections without one: 0).
    table_len: [u32; SECTIONS],
}

impl<'data> SourceMapCache<&'data [u8]> {
    /// Checks the header and the section directory of a cache in memory.
    pub fn parse(data: &'data [u8]) -> Result<Self> {
        Self::open(data)
    }
}

impl<S: Bytes> SourceMapCache<S> {
    /// Checks the header and the section directory (constant time: only the header is
    /// read; a string table's count is checked when the table is read).
    pub fn open(data: S) -> Result<Self> {
        Self::open_or_return(data).map_err(|(e, _)| e)
    }

    /// [`open`](Self::open), giving `data` back on failure (a [`Paged`] reader keeps why a
    /// read failed).
    pub fn open_or_return(data: S) -> std::result::Result<Self, (Error, S)> {
        match Self::layout(&data) {
            Ok(l) => Ok(SourceMapCache {
                data,
                flags: l.flags,
                line_count: l.line_count,
                token_count: l.token_count,
                source_count: l.source_count,
                name_count: l.name_count,
                scope_count: l.scope_count,
                fn_name_count: l.fn_name_count,
                start_count: l.start_count,
                sections: l.sections,
                table_len: l.table_len,
            }),
            Err(e) => Err((e, data)),
        }
    }

    fn layout(data: &S) -> Result<SourceMapCache<()>> {
        let size = data.size();
        if size < DATA_START as u64 {
            let head = data.bytes(0, size.min(8))?;
            if &head[..] == MAGIC {
                return Err(corrupt(format!("truncated header ({size} bytes)")));
            }
            return Err(corrupt("bad magic (expected PYSYMSMC)"));
        }
        let head = data.bytes(0, DATA_START as u64)?.into_owned();
        if &head[..8] != MAGIC {
            return Err(corrupt("bad magic (expected PYSYMSMC)"));
        }
        let h = |i: usize| word(&head[8..HEADER], i).unwrap_or(0);
        let version = h(0);
        if version == 1 {
            // format 1 had no function maps: its Metro answers differ from the map's
            return Err(corrupt(format!(
                "version 1, this reader reads {VERSION}: rebuild the cache from the map"
            )));
        }
        if version != VERSION {
            return Err(corrupt(format!("version {version}, this reader reads {VERSION}")));
        }
        if h(8) != SECTIONS as u32 {
            return Err(corrupt(format!("{} sections, expected {SECTIONS}", h(8))));
        }
        let (flags, line_count, token_count) = (h(1), h(2), h(3));
        let (source_count, name_count, scope_count, fn_name_count) = (h(4), h(5), h(6), h(7));
        let start_count = h(9);
        if flags & !FLAGS != 0 {
            return Err(corrupt(format!("unknown flags {flags:#x}")));
        }
        if flags & FLAG_SCOPES_FIELD != 0 && flags & FLAG_SCOPES == 0 {
            return Err(corrupt("flags: scopes from the map's field without scopes"));
        }
        let mut sections = [(0u64, 0u64); SECTIONS];
        let dir = &head[HEADER..DATA_START];
        for (k, section) in sections.iter_mut().enumerate() {
            let (off, len) = (word(dir, 2 * k).unwrap_or(0), word(dir, 2 * k + 1).unwrap_or(0));
            let end = off as u64 + len as u64;
            if off % 4 != 0 || (off as usize) < DATA_START || end > size {
                return Err(corrupt(format!(
                    "section {k} ({len} bytes at {off}) lies outside the {size} bytes"
                )));
            }
            *section = (off as u64, len as u64);
        }
        let contents = if flags & FLAG_CONTENTS != 0 { source_count } else { 0 };
        let words_of = |n: u32| n as u64 * 4;
        let fm_first = if flags & FLAG_FUNCTION_MAPS != 0 {
            words_of(source_count) + 4
        } else {
            0
        };
        let expect: [(usize, u64); 13] = [
            (LINE_STARTS, words_of(line_count) + 4),
            (DST_COL, words_of(token_count)),
            (SRC, words_of(token_count)),
            (SRC_LINE, words_of(token_count)),
            (SRC_COL, words_of(token_count)),
            (NAME, words_of(token_count)),
            (SCOPE_LINE, words_of(scope_count)),
            (SCOPE_COL, words_of(scope_count)),
            (SCOPE_NAME, words_of(scope_count)),
            (FM_FIRST, fm_first),
            (FM_LINE, words_of(start_count)),
            (FM_COL, words_of(start_count)),
            (FM_NAME, words_of(start_count)),
        ];
        for (k, want) in expect {
            if sections[k].1 != want {
                return Err(corrupt(format!(
                    "section {k} is {} bytes, expected {want}",
                    sections[k].1
                )));
            }
        }
        if sections[IGNORE].1 % 4 != 0 {
            return Err(corrupt("ignore list is not whole u32s"));
        }
        if sections[HERMES_SEGMENTS].1 % 12 != 0 || sections[HERMES_OFFSETS].1 % 4 != 0 {
            return Err(corrupt("Hermes function offsets are not whole records"));
        }
        // A string table's own count is checked when the table is read (`table_len`), not
        // here: opening a paged cache then reads its header page and nothing else.
        let mut table_len = [0u32; SECTIONS];
        for (k, want) in [
            (SOURCES, source_count),
            (NAMES, name_count),
            (FN_NAMES, fn_name_count),
            (META, META_ENTRIES),
            (CONTENTS, contents),
        ] {
            table_len[k] = want;
        }
        Ok(SourceMapCache {
            data: (),
            flags,
            line_count,
            token_count,
            source_count,
            name_count,
            scope_count,
            fn_name_count,
            start_count,
            sections,
            table_len,
        })
    }

    /// Where the bytes come from.
    pub fn data(&self) -> &S {
        &self.data
    }

    /// The same cache read through `data`, which must hold the same bytes (a batch's view
    /// of a paged cache with the lookup sections read at once: [`Prefetched`]).
    pub fn with_data<T: Bytes>(&self, data: T) -> SourceMapCache<T> {
        debug_assert_eq!(data.size(), self.data.size());
        SourceMapCache {
            data,
            flags: self.flags,
            line_count: self.line_count,
            token_count: self.token_count,
            source_count: self.source_count,
            name_count: self.name_count,
            scope_count: self.scope_count,
            fn_name_count: self.fn_name_count,
            start_count: self.start_count,
            sections: self.sections,
            table_len: self.table_len,
        }
    }

    /// The end of the sections lookups read (line index, token columns, scopes, function
    /// maps): in a cache this code writes, they are the first bytes after the header.
    pub fn lookup_end(&self) -> u64 {
        self.sections[LINE_STARTS..=FM_NAME]
            .iter()
            .map(|&(off, len)| off + len)
            .max()
            .unwrap_or(DATA_START as u64)
    }

    /// Header flags (`FLAG_*`).
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Number of generated lines.
    pub fn line_count(&self) -> u32 {
        self.line_count
    }

    /// Number of tokens.
    pub fn token_count(&self) -> u32 {
        self.token_count
    }

    /// Number of sources.
    pub fn source_count(&self) -> u32 {
        self.source_count
    }

    /// Number of names.
    pub fn name_count(&self) -> u32 {
        self.name_count
    }

    /// Number of function names.
    pub fn function_name_count(&self) -> u32 {
        self.fn_name_count
    }

    /// The number of entries of string table `k` (the header's count), checked against the
    /// table's own count word.
    fn table_len(&self, k: usize) -> Result<u32> {
        let want = self.table_len[k];
        let (off, len) = self.sections[k];
        let n = if len >= 4 { self.data.word(off)? } else { NONE };
        if n != want || 4 + 8 * n as u64 > len {
            return Err(corrupt(format!(
                "string table {k}: {n} entries in {len} bytes, expected {want} entries"
            )));
        }
        Ok(n)
    }

    /// Entry `idx` of a string table: `Ok(None)` for a null entry or an index past the end.
    pub fn string(&self, table: Table, idx: u32) -> Result<Option<Cow<'_, str>>> {
        let k = table.section();
        let count = self.table_len(k)?;
        if idx >= count {
            return Ok(None);
        }
        let (base, len) = self.sections[k];
        let entry = base + 4 + 8 * idx as u64;
        let (off, n) = (self.data.word(entry)?, self.data.word(entry + 4)?);
        if off == NONE {
            return Ok(None);
        }
        let blob = 4 + 8 * count as u64;
        let (a, b) = (blob + off as u64, blob + off as u64 + n as u64);
        if b > len {
            return Err(corrupt(format!("string {idx} of table {k} lies outside it")));
        }
        match self.data.bytes(base + a, b - a)? {
            Cow::Borrowed(raw) => match std::str::from_utf8(raw) {
                Ok(text) => Ok(Some(Cow::Borrowed(text))),
                Err(_) => Err(corrupt(format!("string {idx} of table {k} is not UTF-8"))),
            },
            Cow::Owned(raw) => match String::from_utf8(raw) {
                Ok(text) => Ok(Some(Cow::Owned(text))),
                Err(_) => Err(corrupt(format!("string {idx} of table {k} is not UTF-8"))),
            },
        }
    }

    /// Every entry of a string table, its section read at once (a whole table of a paged
    /// cache is one read, not three per entry), each entry checked.
    pub fn strings(&self, table: Table) -> Result<Strings<'_>> {
        let k = table.section();
        let n = self.table_len(k)?;
        let (base, len) = self.sections[k];
        let section = self.data.bytes(base, len)?;
        let blob = 4 + 8 * n as u64;
        let mut spans = Vec::with_capacity(n as usize);
        for idx in 0..n {
            let (off, size) = (
                word(&section, 1 + 2 * idx as usize).unwrap_or(NONE),
                word(&section, 2 + 2 * idx as usize).unwrap_or(0),
            );
            if off == NONE {
                spans.push(None);
                continue;
            }
            let (a, b) = (blob + off as u64, blob + off as u64 + size as u64);
            if b > section.len() as u64 {
                return Err(corrupt(format!("string {idx} of table {k} lies outside it")));
            }
            if std::str::from_utf8(&section[a as usize..b as usize]).is_err() {
                return Err(corrupt(format!("string {idx} of table {k} is not UTF-8")));
            }
            spans.push(Some((a as usize, b as usize)));
        }
        Ok(Strings { section, spans })
    }

    /// The ignore list (source indices).
    pub fn ignore_list(&self) -> Result<Vec<u32>> {
        let (_, len) = self.sections[IGNORE];
        let mut out = Vec::with_capacity(len as usize / 4);
        for i in 0..len as usize / 4 {
            let v = self.at(IGNORE, i)?;
            if v >= self.source_count {
                return Err(corrupt(format!("ignore list entry {v} is not a source")));
            }
            out.push(v);
        }
        Ok(out)
    }

    #[inline]
    fn at(&self, k: usize, i: usize) -> Result<u32> {
        // in range for every caller (checked against the counts); NONE if not
        let (off, len) = self.sections[k];
        let at = i as u64 * 4;
        if at >= len {
            return Ok(NONE);
        }
        self.data.word(off + at)
    }

    fn line_range(&self, line: u32) -> Result<(usize, usize)> {
        let (a, b) = (
            self.at(LINE_STARTS, line as usize)?,
            self.at(LINE_STARTS, line as usize + 1)?,
        );
        if a > b || b > self.token_count {
            return Err(corrupt(format!("line index of line {line} ({a}..{b})")));
        }
        Ok((a as usize, b as usize))
    }

    fn partition(&self, a: usize, b: usize, pred: impl Fn(u32) -> bool) -> Result<usize> {
        let (mut lo, mut hi) = (a, b);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(self.at(DST_COL, mid)?) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    fn token_at(&self, i: usize, line: u32) -> Result<Token> {
        let t = Token {
            dst_line: line,
            dst_col: self.at(DST_COL, i)?,
            src: self.at(SRC, i)?,
            src_line: self.at(SRC_LINE, i)?,
            src_col: self.at(SRC_COL, i)?,
            name: self.at(NAME, i)?,
        };
        if (t.src != NONE && t.src >= self.source_count) || (t.name != NONE && t.name >= self.name_count) {
            return Err(corrupt(format!("token {i} names source {} / name {}", t.src, t.name)));
        }
        Ok(t)
    }

    /// [`SourceMap::lookup_indexed`], with the same answers for the same map.
    pub fn lookup_indexed(&self, line: u32, col: u32, bias: Bias) -> Result<Option<(u32, Token)>> {
        if line >= self.line_count {
            return Ok(None);
        }
        let (a, b) = self.line_range(line)?;
        let below = self.partition(a, b, |c| c < col)? - a;
        let upto = self.partition(a + below, b, |c| c <= col)? - a;
        let exact = upto > below;
        let i = match bias {
            Bias::GreatestLowerBound if exact => below,
            Bias::GreatestLowerBound if upto == 0 => return Ok(None),
            Bias::GreatestLowerBound => upto - 1,
            Bias::LeastUpperBound if exact => upto - 1,
            Bias::LeastUpperBound if below == b - a => return Ok(None),
            Bias::LeastUpperBound => below,
        };
        Ok(Some(((a + i) as u32, self.token_at(a + i, line)?)))
    }

    /// Token by index in generated order.
    pub fn token(&self, idx: u32) -> Result<Option<Token>> {
        if idx >= self.token_count {
            return Ok(None);
        }
        // the last line starting at or before idx
        let (mut lo, mut hi) = (0usize, self.line_count as usize + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.at(LINE_STARTS, mid)? <= idx {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            return Err(corrupt("line index does not start at token 0"));
        }
        self.token_at(idx as usize, (lo - 1) as u32).map(Some)
    }

    /// Tokens `start .. start + count` in generated order (fewer past the end): one walk
    /// of the line index instead of a search per token.
    pub fn tokens(&self, start: u32, count: u32) -> Result<Vec<Token>> {
        let end = start.saturating_add(count).min(self.token_count);
        let mut out = Vec::with_capacity(end.saturating_sub(start) as usize);
        if start >= end {
            return Ok(out);
        }
        let first = match self.token(start)? {
            Some(t) => t,
            None => return Ok(out),
        };
        let mut line = first.dst_line;
        let mut next = self.at(LINE_STARTS, line as usize + 1)?;
        for i in start..end {
            while i >= next && line < self.line_count {
                line += 1;
                next = self.at(LINE_STARTS, line as usize + 1)?;
            }
            out.push(self.token_at(i as usize, line)?);
        }
        Ok(out)
    }

    /// Whether lookups name functions by Metro's function maps first (as `SourceMap` does
    /// unless the map's `scopes` field names positions).
    fn by_function_maps(&self) -> bool {
        self.flags & (FLAG_FUNCTION_MAPS | FLAG_SCOPES_FIELD) == FLAG_FUNCTION_MAPS
    }

    /// The function at a generated position, as `SourceMap` names it: the map's `scopes`
    /// field; else Metro's function map of the position's original source (the
    /// greatest-lower-bound token's), then the generated file's scopes.
    pub fn function(&self, line: u32, col: u32) -> Result<Function> {
        if !self.by_function_maps() {
            return self.scope_function(line, col);
        }
        let found = self.lookup_indexed(line, col, Bias::GreatestLowerBound)?;
        self.function_after(line, col, found.map(|f| f.1).as_ref())
    }

    /// [`function`](Self::function) with the position's greatest-lower-bound token
    /// already looked up (`None`: there is none).
    pub fn function_after(&self, line: u32, col: u32, glb: Option<&Token>) -> Result<Function> {
        if self.by_function_maps() {
            if let Some(t) = glb.filter(|t| t.src != NONE && t.src_line != NONE && t.src_col != NONE) {
                if let Some(n) = self.function_map_name(t.src, t.src_line, t.src_col)? {
                    return Ok(Function::Named(n));
                }
            }
        }
        self.scope_function(line, col)
    }

    /// The function map name (an entry of [`Table::FunctionNames`]) around an original
    /// position of source `src`: the last function start at or before it.
    fn function_map_name(&self, src: u32, line: u32, col: u32) -> Result<Option<u32>> {
        if src >= self.source_count {
            return Ok(None);
        }
        let (a, b) = (self.at(FM_FIRST, src as usize)?, self.at(FM_FIRST, src as usize + 1)?);
        if a > b || b > self.start_count {
            return Err(corrupt(format!("function map of source {src} ({a}..{b})")));
        }
        let key = (line, col);
        let (mut lo, mut hi) = (a as usize, b as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if (self.at(FM_LINE, mid)?, self.at(FM_COL, mid)?) <= key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == a as usize {
            return Ok(None);
        }
        match self.at(FM_NAME, lo - 1)? {
            n if n < self.fn_name_count => Ok(Some(n)),
            n => Err(corrupt(format!("function start {} names function {n}", lo - 1))),
        }
    }

    /// The name of a [`Function::Named`] answer (entry `n` of [`Table::FunctionNames`]):
    /// an error, not a missing name, when the table has no such entry.
    pub fn function_name(&self, n: u32) -> Result<Cow<'_, str>> {
        self.string(Table::FunctionNames, n)?
            .ok_or_else(|| corrupt(format!("function name {n} is not in its table")))
    }

    /// [`SourceMap::hermes_column`]: the generated column of a Hermes crash frame.
    pub fn hermes_column(&self, segment: u32, function: u32, offset: u32) -> Result<Option<u32>> {
        let n = self.sections[HERMES_SEGMENTS].1 / 12;
        let (mut lo, mut hi) = (0u64, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.at(HERMES_SEGMENTS, 3 * mid as usize)? < segment {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == n || self.at(HERMES_SEGMENTS, 3 * lo as usize)? != segment {
            return Ok(None);
        }
        let (first, count) = (
            self.at(HERMES_SEGMENTS, 3 * lo as usize + 1)?,
            self.at(HERMES_SEGMENTS, 3 * lo as usize + 2)?,
        );
        if function >= count {
            return Ok(None);
        }
        let i = first as u64 + function as u64;
        if i >= self.sections[HERMES_OFFSETS].1 / 4 {
            return Err(corrupt(format!("Hermes segment {segment} lies outside its offsets")));
        }
        Ok(self.at(HERMES_OFFSETS, i as usize)?.checked_add(offset))
    }

    /// The innermost function scope at a generated position ([`ScopeNames::lookup`]).
    fn scope_function(&self, line: u32, col: u32) -> Result<Function> {
        if self.flags & FLAG_SCOPES == 0 {
            return Ok(Function::Unknown);
        }
        let key = (line, col);
        let (mut lo, mut hi) = (0usize, self.scope_count as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if (self.at(SCOPE_LINE, mid)?, self.at(SCOPE_COL, mid)?) <= key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            return Ok(Function::Global);
        }
        match self.at(SCOPE_NAME, lo - 1)? {
            GLOBAL => Ok(Function::Global),
            ANONYMOUS => Ok(Function::Anonymous),
            n if n < self.fn_name_count => Ok(Function::Named(n)),
            n => Err(corrupt(format!("scope {} names function {n}", lo - 1))),
        }
    }
}

#[cfg(test)]
mod tests;
