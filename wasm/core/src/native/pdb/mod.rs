//! PDB files (MSF 7.0): identity from the PDB info and DBI streams, symcaches from the
//! module streams (procedures, inline sites and their binary annotations, C13 line
//! tables, inlinee lines), IPI/TPI names and the public symbols.
//!
//! The file is read by ranges ([`Source`]); a stream is read when it is used and dropped
//! after. The type streams are read front to back in bounded pieces, keeping only the
//! records inline sites name. Frames are composed as LLVM's native PDB reader composes
//! them (what `llvm-symbolizer --inlines` prints): the procedure's line from the C13
//! table, each inline site's line from its own annotations, names of inlined functions
//! from their `LF_FUNC_ID`/`LF_MFUNC_ID` record qualified by its scope, and the outer
//! function named by the public symbol at its start (demangled) where there is one.
//!
//! A module stream that cannot be read is skipped with a warning; so is the rest of a
//! module stream after a malformed record.

pub mod msf;

use super::source::Source;
use super::warnings::Warnings;
use super::{demangle, invalid, ObjectInfo};
use crate::error::Result;
use crate::hash::FastMap;
use crate::symcache::{
    FrameSpec, Identity, SymCacheBuild, SymCacheWriter, FLAG_HAS_DEBUG_INFO, FLAG_HAS_SYMBOLS, NONE,
};
use msf::Msf;

/// Whether `head` starts like a PDB (MSF 7.0).
pub fn is_pdb(head: &[u8]) -> bool {
    head.len() >= 24 && msf::MAGIC.starts_with(&head[..head.len().min(32)])
}

/// Inline sites nest at most this deep (deeper ones are skipped with a warning).
const MAX_NESTING: usize = 256;

/// Bytes of a type stream read at a time.
const TYPE_CHUNK: u64 = 4 << 20;

const S_END: u16 = 0x0006;
const S_PUB32: u16 = 0x110e;
const S_LPROC32: u16 = 0x110f;
const S_GPROC32: u16 = 0x1110;
const S_LPROC32_ID: u16 = 0x1146;
const S_GPROC32_ID: u16 = 0x1147;
const S_INLINESITE: u16 = 0x114d;
const S_INLINESITE_END: u16 = 0x114e;
const S_PROC_ID_END: u16 = 0x114f;
const S_LPROC32_DPC: u16 = 0x1155;
const S_LPROC32_DPC_ID: u16 = 0x1156;
const S_INLINESITE2: u16 = 0x115d;

const LF_CLASS: u16 = 0x1504;
const LF_STRUCTURE: u16 = 0x1505;
const LF_UNION: u16 = 0x1506;
const LF_ENUM: u16 = 0x1507;
const LF_INTERFACE: u16 = 0x1519;
const LF_FUNC_ID: u16 = 0x1601;
const LF_MFUNC_ID: u16 = 0x1602;
const LF_STRING_ID: u16 = 0x1605;

const DEBUG_S_LINES: u32 = 0xf2;
const DEBUG_S_FILECHKSMS: u32 = 0xf4;
const DEBUG_S_INLINEELINES: u32 = 0xf6;

#[inline]
fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let w = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([w[0], w[1]]))
}

#[inline]
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let w = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

/// The NUL-terminated string at `at` (to the end where there is no NUL).
fn cstr(b: &[u8], at: usize) -> &[u8] {
    let s = b.get(at..).unwrap_or(&[]);
    &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
}

/// `b` as text, invalid UTF-8 as U+FFFD (`from_utf8_lossy` walks every byte by itself;
/// `from_utf8` checks ASCII a word at a time, and names are nearly always valid).
fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

fn text(b: &[u8]) -> String {
    lossy(b).into_owned()
}

fn arch_of_machine(m: u16) -> &'static str {
    match m {
        0x8664 => "x86_64",
        0x014c => "x86",
        0xaa64 => "arm64",
        0x01c0 | 0x01c2 | 0x01c4 => "arm",
        _ => "unknown",
    }
}

/// What the PDB info and DBI headers say.
struct Header {
    guid: [u8; 16],
    age: u32,
    /// The `/names` stream (the string table of file names).
    names_stream: Option<usize>,
    dbi: Option<Dbi>,
}

struct Dbi {
    age: u32,
    machine: u16,
    sym_records: Option<usize>,
    /// The publics stream (its address map orders publics at one address).
    publics: Option<usize>,
    modules: Vec<Module>,
    /// Optional debug header streams: OMAP from source (4), section headers (5), original
    /// section headers (10).
    dbg: Vec<u16>,
}

struct Module {
    name: String,
    stream: Option<usize>,
    sym_bytes: u32,
    c11_bytes: u32,
    c13_bytes: u32,
}

fn stream_index(v: u16) -> Option<usize> {
    if v == 0xffff {
        None
    } else {
        Some(usize::from(v))
    }
}

fn read_header<'a, S: Source<'a>>(msf: &mut Msf<'_, S>, warn: &mut Warnings) -> Result<Header> {
    let info = msf.stream(1)?;
    if info.len() < 28 {
        return Err(invalid("PDB info stream is missing or too short"));
    }
    let mut guid = [0u8; 16];
    guid.copy_from_slice(&info[12..28]);
    // The GUID's first three fields are little-endian: written in text order.
    guid[0..4].reverse();
    guid[4..6].reverse();
    guid[6..8].reverse();
    let age = u32_at(&info, 8).unwrap_or(0);
    let names_stream = named_stream(&info[28..], b"/names");
    let dbi = match msf.stream_size(3) {
        Some(n) if n >= 64 => match read_dbi(msf) {
            Ok(d) => Some(d),
            Err(e) => {
                warn.skip("DBI stream", &e.to_string(), || "stream 3".to_string());
                None
            }
        },
        _ => None,
    };
    Ok(Header {
        guid,
        age,
        names_stream,
        dbi,
    })
}

/// The stream a named-stream map gives `name`.
fn named_stream(map: &[u8], name: &[u8]) -> Option<usize> {
    let buf_len = u32_at(map, 0)? as usize;
    let buf = map.get(4..4usize.checked_add(buf_len)?)?;
    let mut at = 4 + buf_len;
    let size = u32_at(map, at)? as usize;
    let _capacity = u32_at(map, at + 4)?;
    at += 8;
    let present_words = u32_at(map, at)? as usize;
    at = at.checked_add(4 + present_words.checked_mul(4)?)?;
    let deleted_words = u32_at(map, at)? as usize;
    at = at.checked_add(4 + deleted_words.checked_mul(4)?)?;
    for i in 0..size.min(map.len() / 8) {
        let key = u32_at(map, at + 8 * i)? as usize;
        let value = u32_at(map, at + 8 * i + 4)?;
        if cstr(buf, key) == name {
            return Some(value as usize);
        }
    }
    None
}

fn read_dbi<'a, S: Source<'a>>(msf: &mut Msf<'_, S>) -> Result<Dbi> {
    let head = msf.read(3, 0, 64)?;
    let i32_at = |at: usize| u32_at(&head, at).unwrap_or(0) as i32;
    let sizes: Vec<i32> = (0..6).map(|k| i32_at(24 + 4 * k)).collect();
    let (mod_size, contrib, secmap, src_info, ts_map) = (sizes[0], sizes[1], sizes[2], sizes[3], sizes[4]);
    let (dbg_size, ec_size) = (i32_at(48), i32_at(52));
    if [mod_size, contrib, secmap, src_info, ts_map, dbg_size, ec_size]
        .iter()
        .any(|&s| s < 0)
    {
        return Err(invalid("DBI substream of negative size"));
    }
    let total = msf.stream_size(3).unwrap_or(0);
    let mods = msf.read(3, 64, mod_size as u64)?;
    let mut modules = Vec::new();
    let mut at = 0usize;
    while at + 64 <= mods.len() {
        let stream = stream_index(u16_at(&mods, at + 34).unwrap_or(0xffff));
        let name = cstr(&mods, at + 64);
        let obj_at = at + 64 + name.len() + 1;
        let obj = cstr(&mods, obj_at);
        modules.push(Module {
            name: text(name),
            stream,
            sym_bytes: u32_at(&mods, at + 36).unwrap_or(0),
            c11_bytes: u32_at(&mods, at + 40).unwrap_or(0),
            c13_bytes: u32_at(&mods, at + 44).unwrap_or(0),
        });
        at = (obj_at + obj.len() + 1 + 3) & !3;
    }
    let dbg_at = 64
        + [mod_size, contrib, secmap, src_info, ts_map, ec_size]
            .iter()
            .map(|&s| s as u64)
            .sum::<u64>();
    let dbg = if dbg_at < total {
        msf.read(3, dbg_at, dbg_size as u64)?
    } else {
        Vec::new()
    };
    let dbg = (0..dbg.len() / 2)
        .map(|i| u16_at(&dbg, 2 * i).unwrap_or(0xffff))
        .collect();
    Ok(Dbi {
        age: u32_at(&head, 8).unwrap_or(0),
        machine: u16_at(&head, 58).unwrap_or(0),
        sym_records: stream_index(u16_at(&head, 20).unwrap_or(0xffff)),
        publics: stream_index(u16_at(&head, 16).unwrap_or(0xffff)),
        modules,
        dbg,
    })
}

fn identity(h: &Header) -> Identity {
    let age = h.dbi.as_ref().map(|d| d.age).unwrap_or(h.age);
    let mut debug_id = super::uuid_string(&h.guid);
    if age != 0 {
        debug_id = format!("{}-{:x}", debug_id, age);
    }
    Identity {
        kind: "pdb".to_string(),
        arch: arch_of_machine(h.dbi.as_ref().map(|d| d.machine).unwrap_or(0)).to_string(),
        debug_id,
        code_id: String::new(),
        image_base: 0,
        flags: 0,
    }
}

/// Identity and capabilities of a PDB, from its headers.
pub fn object_info<'a, S: Source<'a>>(src: &mut S) -> Result<ObjectInfo> {
    let mut warn = Warnings::default();
    let mut msf = Msf::open(src)?;
    let h = read_header(&mut msf, &mut warn)?;
    let has_debug_info = h
        .dbi
        .as_ref()
        .map(|d| {
            d.modules
                .iter()
                .any(|m| m.stream.is_some() && (m.sym_bytes > 4 || m.c13_bytes > 0))
        })
        .unwrap_or(false);
    let has_symbols = h
        .dbi
        .as_ref()
        .and_then(|d| d.sym_records)
        .and_then(|s| msf.stream_size(s))
        .map(|n| n > 0)
        .unwrap_or(false);
    Ok(ObjectInfo {
        identity: identity(&h),
        has_debug_info,
        has_symbols,
        // (FPO and frame data streams are not read: no unwinding from PDBs yet)
        has_unwind_info: false,
        debuglink: None,
        debug_file: None,
        code_offset: None,
        warnings: warn.lines(),
    })
}

/// Section-relative addresses to RVAs: section headers, and OMAP where the image was
/// rearranged after linking.
struct Sections {
    /// Virtual address of each section (1-based section numbers index `va[n - 1]`).
    va: Vec<u32>,
    /// (virtual address, end) of each section, sorted.
    spans: Vec<(u32, u32)>,
    /// OMAP from source (sorted by source RVA); empty when there is none.
    omap: Vec<(u32, u32)>,
    /// OMAP entries [`image_ranges`](Self::image_ranges) may still visit.
    pieces_left: std::cell::Cell<u64>,
}

impl Sections {
    fn new(headers: &[u8], omap: Vec<(u32, u32)>) -> Self {
        let n = headers.len() / 40;
        let va = (0..n).map(|i| u32_at(headers, 40 * i + 12).unwrap_or(0)).collect();
        let mut spans: Vec<(u32, u32)> = (0..n)
            .map(|i| {
                let (size, va) = (
                    u32_at(headers, 40 * i + 8).unwrap_or(0),
                    u32_at(headers, 40 * i + 12).unwrap_or(0),
                );
                (va, va.saturating_add(size))
            })
            .collect();
        spans.sort_unstable();
        Sections {
            va,
            spans,
            omap,
            pieces_left: std::cell::Cell::new(1 << 26),
        }
    }

    /// The end of the section holding `rva`.
    fn end_of(&self, rva: u32) -> Option<u32> {
        let i = self.spans.partition_point(|s| s.0 <= rva);
        self.spans.get(i.checked_sub(1)?).map(|s| s.1).filter(|&e| e > rva)
    }

    /// The RVA of a section-relative address, in the PDB's own layout (before OMAP).
    fn rva(&self, seg: u16, off: u32) -> Option<u32> {
        let base = *self.va.get(usize::from(seg).checked_sub(1)?)?;
        base.checked_add(off)
    }

    /// Where `rva` (the PDB's layout) is in the image: OMAP from source moves it, or drops
    /// it (an entry mapping to 0: code the rewriter removed).
    fn image(&self, rva: u32) -> Option<u32> {
        if self.omap.is_empty() {
            return Some(rva);
        }
        let i = self.omap.partition_point(|e| e.0 <= rva);
        let (from, to) = *self.omap.get(i.checked_sub(1)?)?;
        if to == 0 {
            None
        } else {
            to.checked_add(rva - from)
        }
    }

    /// Calls `f` with the image ranges `[start, end)` (the PDB's layout) became: one per
    /// OMAP entry it crosses (a rewritten image moves code in pieces smaller than a function).
    fn image_ranges(&self, start: u32, end: u32, mut f: impl FnMut(u32, u32)) {
        if self.omap.is_empty() {
            return f(start, end);
        }
        let mut i = self.omap.partition_point(|e| e.0 <= start).saturating_sub(1);
        let mut at = start;
        while at < end && i < self.omap.len() {
            let (from, to) = self.omap[i];
            if at < from {
                // (before the first entry: not in the image)
                at = from;
                continue;
            }
            // Hostile overlapping procedures over a fine OMAP: the pieces are bounded.
            if self.pieces_left.get() == 0 {
                return;
            }
            self.pieces_left.set(self.pieces_left.get() - 1);
            let next = self.omap.get(i + 1).map(|e| e.0).unwrap_or(u32::MAX).min(end);
            if at < next && to != 0 {
                if let (Some(a), Some(b)) = (to.checked_add(at - from), to.checked_add(next - from)) {
                    f(a, b);
                }
            }
            at = at.max(next);
            i += 1;
        }
    }
}

fn read_sections<'a, S: Source<'a>>(msf: &mut Msf<'_, S>, dbi: &Dbi, warn: &mut Warnings) -> Result<Sections> {
    let dbg = |k: usize| dbi.dbg.get(k).copied().and_then(stream_index);
    let mut omap = Vec::new();
    let headers = match (dbg(4), dbg(10)) {
        (Some(from_src), Some(orig)) => {
            let raw = msf.stream(from_src)?;
            omap = (0..raw.len() / 8)
                .map(|i| (u32_at(&raw, 8 * i).unwrap_or(0), u32_at(&raw, 8 * i + 4).unwrap_or(0)))
                .collect();
            if omap.windows(2).any(|w| w[0].0 > w[1].0) {
                warn.skip("OMAP order", "entries out of order (sorted)", || {
                    format!("stream {}", from_src)
                });
                omap.sort_by_key(|e| e.0);
            }
            orig
        }
        _ => match dbg(5) {
            Some(s) => s,
            None => return Err(invalid("PDB has no section headers (DBI optional debug header)")),
        },
    };
    Ok(Sections::new(&msf.stream(headers)?, omap))
}

/// A module's line table and inlinee lines, from its C13 subsections.
#[derive(Default)]
struct C13 {
    /// (RVA, file, line, terminal, column) in LLVM's order: each block's rows then a terminal row
    /// at its subsection's end, blocks sorted by their first address.
    lines: Vec<(u32, u32, u32, bool, u32)>,
    /// Whether `lines` is in [`C13::before`] order (the usual case): then a procedure's rows
    /// are walked in order; else each address is searched for.
    sorted: bool,
    /// The rows' addresses, sorted (only where `lines` is not).
    addrs: Vec<u32>,
    /// Inlinee id to (file checksum offset, line).
    inlinees: FastMap<u32, (u32, u32)>,
    /// File checksum offset to the interned file.
    files: FastMap<u32, u32>,
}

/// The `/names` string table (file names).
struct Names(Vec<u8>);

impl Names {
    fn get(&self, offset: u32) -> &[u8] {
        // Header: signature, hash version, size of the string bytes.
        let size = u32_at(&self.0, 8).unwrap_or(0) as usize;
        let bytes = self
            .0
            .get(12..12 + size.min(self.0.len().saturating_sub(12)))
            .unwrap_or(&[]);
        cstr(bytes, offset as usize)
    }
}

fn read_c13(
    data: &[u8],
    sections: &Sections,
    names: &Names,
    w: &mut SymCacheWriter,
    warn: &mut Warnings,
    module: &str,
    c: &mut C13,
) {
    // (the buffers and maps of the last module, reused)
    c.lines.clear();
    c.addrs.clear();
    c.inlinees.clear();
    c.files.clear();
    let mut subs = Vec::new();
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let kind = u32_at(data, at).unwrap_or(0);
        let len = u32_at(data, at + 4).unwrap_or(0) as usize;
        let body = match data.get(at + 8..(at + 8).saturating_add(len)) {
            Some(b) => b,
            None => {
                warn.skip("C13 subsection", "runs past its module stream", || {
                    format!("module {}", module)
                });
                break;
            }
        };
        subs.push((kind, body));
        at = (at + 8 + len + 3) & !3;
    }
    // Checksums first: lines and inlinees name files by their checksum entry's offset.
    for &(kind, body) in &subs {
        if kind == DEBUG_S_FILECHKSMS {
            let mut at = 0usize;
            while at + 6 <= body.len() {
                let name = u32_at(body, at).unwrap_or(0);
                let size = usize::from(body[at + 4]);
                let path = names.get(name);
                let file = w.file(&lossy(path));
                c.files.insert(at as u32, file);
                at = (at + 6 + size + 3) & !3;
            }
        }
    }
    // Each block's rows go straight into `lines`; (first address, start, end) of each.
    let mut blocks: Vec<(u32, usize, usize)> = Vec::new();
    for &(kind, body) in &subs {
        match kind {
            DEBUG_S_LINES => {
                let (off, seg, flags, size) = match (u32_at(body, 0), u16_at(body, 4), u16_at(body, 6), u32_at(body, 8))
                {
                    (Some(o), Some(s), Some(f), Some(z)) => (o, s, f, z),
                    _ => continue,
                };
                let base = match sections.rva(seg, off) {
                    Some(b) => b,
                    None => continue,
                };
                let end = base.saturating_add(size);
                // (each line entry then has a column entry after all of them: start, end)
                let entry = if flags & 1 != 0 { 12 } else { 8 };
                let mut at = 12usize;
                while at + 12 <= body.len() {
                    let file_off = u32_at(body, at).unwrap_or(0);
                    let n = u32_at(body, at + 4).unwrap_or(0) as usize;
                    let block = u32_at(body, at + 8).unwrap_or(0) as usize;
                    if block < 12 || block > body.len() - at || n > (block - 12) / entry {
                        warn.skip("line block", "runs past its subsection", || {
                            format!("module {}", module)
                        });
                        break;
                    }
                    let file = c.files.get(&file_off).copied().unwrap_or(NONE);
                    // (both in the block, checked above: sliced once, not per field)
                    let entries = &body[at + 12..at + 12 + 8 * n];
                    let columns = if entry == 12 {
                        &body[at + 12 + 8 * n..at + 12 + 12 * n]
                    } else {
                        &[][..]
                    };
                    let row = |(i, e): (usize, &[u8])| {
                        let o = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
                        let line = u32::from_le_bytes([e[4], e[5], e[6], e[7]]) & 0x00ff_ffff;
                        let column = columns
                            .get(4 * i..4 * i + 2)
                            .map_or(0, |c| u32::from(u16::from_le_bytes([c[0], c[1]])));
                        (base.saturating_add(o), file, line, false, column)
                    };
                    if n > 0 {
                        // LLVM adds a row at the subsection's start with the block's first line
                        // and a terminal row at its end.
                        let first = c.lines.len();
                        let r0 = row((0, &entries[..8]));
                        c.lines.reserve(n + 2);
                        c.lines.push((base, r0.1, r0.2, false, r0.4));
                        c.lines.extend(entries.chunks_exact(8).enumerate().map(row));
                        let (_, f, l, _, _) = c.lines[c.lines.len() - 1];
                        c.lines.push((end, f, l, true, 0));
                        blocks.push((base, first, c.lines.len()));
                    }
                    at += block;
                }
            }
            DEBUG_S_INLINEELINES => {
                let sig = u32_at(body, 0).unwrap_or(0);
                let mut at = 4usize;
                while at + 12 <= body.len() {
                    let id = u32_at(body, at).unwrap_or(0);
                    let file = u32_at(body, at + 4).unwrap_or(0);
                    let line = u32_at(body, at + 8).unwrap_or(0);
                    c.inlinees.entry(id).or_insert((file, line));
                    at += 12;
                    if sig == 1 {
                        let extra = u32_at(body, at).unwrap_or(0) as usize;
                        at = at.saturating_add(4).saturating_add(extra.saturating_mul(4));
                    }
                }
            }
            _ => {}
        }
    }
    // Blocks by their first address (stable: blocks at one address keep their order).
    if blocks.windows(2).any(|w| w[0].0 > w[1].0) {
        blocks.sort_by_key(|b| b.0);
        let mut lines = Vec::with_capacity(c.lines.len());
        for &(_, from, to) in &blocks {
            lines.extend_from_slice(&c.lines[from..to]);
        }
        c.lines = lines;
    }
    c.sorted = c.lines.windows(2).all(|w| C13::key(&w[0]) <= C13::key(&w[1]));
    if !c.sorted {
        c.addrs.extend(c.lines.iter().map(|l| l.0));
        c.addrs.sort_unstable();
    }
}

impl C13 {
    /// Rows in this order make [`before`](Self::before) a prefix of them for any address.
    fn key(e: &(u32, u32, u32, bool, u32)) -> (u32, bool) {
        (e.0, !e.3)
    }

    /// Whether a row comes before the one LLVM's native reader answers for `rva`
    /// (`findLineNumbersByVA`): the first row at it, else the last one before it.
    #[inline]
    fn before(e: &(u32, u32, u32, bool, u32), rva: u32) -> bool {
        e.0 < rva || (e.0 == rva && e.3)
    }

    /// The row for `rva`, given `i`, the number of rows [`before`](Self::before) it: the
    /// first row at it, else the last one before it unless that ends a block.
    fn line_after(&self, mut i: usize, rva: u32) -> Option<(u32, u32, u32)> {
        let rows = &self.lines;
        if i == rows.len() || rows[i].0 > rva {
            if i == 0 || rows[i - 1].3 {
                return None;
            }
            i -= 1;
        }
        rows[i..].iter().find(|e| !e.3).map(|e| (e.1, e.2, e.4))
    }

    /// [`line_after`](Self::line_after) by a search (rows out of order).
    fn line_at(&self, rva: u32) -> Option<(u32, u32, u32)> {
        self.line_after(self.lines.partition_point(|e| Self::before(e, rva)), rva)
    }
}

/// The decoded binary annotations (opcode and up to two operands) into `out`.
fn annotations(data: &[u8], out: &mut Vec<(u8, u32, u32)>) {
    fn uint(d: &[u8], at: &mut usize) -> Option<u32> {
        let b0 = u32::from(*d.get(*at)?);
        if b0 & 0x80 == 0 {
            *at += 1;
            return Some(b0);
        }
        if b0 & 0xc0 == 0x80 {
            let b1 = u32::from(*d.get(*at + 1)?);
            *at += 2;
            return Some(((b0 & 0x3f) << 8) | b1);
        }
        if b0 & 0xe0 == 0xc0 {
            let r = d.get(*at + 1..*at + 4)?;
            *at += 4;
            return Some(((b0 & 0x1f) << 24) | (u32::from(r[0]) << 16) | (u32::from(r[1]) << 8) | u32::from(r[2]));
        }
        None
    }
    out.clear();
    let mut at = 0usize;
    // (an annotation cut short by the record's end ends the list, as LLVM's reader does)
    while let Some(op) = uint(data, &mut at) {
        let (a, b) = match op {
            0 => break,
            1..=11 | 13 => match uint(data, &mut at) {
                Some(v) => (v, 0),
                None => break,
            },
            12 => match (uint(data, &mut at), uint(data, &mut at)) {
                (Some(x), Some(y)) => (x, y),
                _ => break,
            },
            _ => break,
        };
        out.push((op as u8, a, b));
    }
}

fn signed(v: u32) -> i32 {
    if v & 1 != 0 {
        -((v >> 1) as i32)
    } else {
        (v >> 1) as i32
    }
}

/// Where an inline site's code is and which line each part is on, as LLVM's native
/// reader decides it for an address (`inlineSiteContainsAddress`, `getLineOffset`).
struct Site {
    /// Index of the enclosing site among its procedure's sites.
    parent: Option<usize>,
    inlinee: u32,
    /// Code ranges (offsets in the procedure) the site contains: `Procs::ranges[ranges]`.
    ranges: std::ops::Range<usize>,
    /// (start, end, line offset, file offset): the first containing an offset gives its line;
    /// `Procs::lines[lines]`.
    lines: std::ops::Range<usize>,
    /// Line and file offset where no part of `lines` contains an offset.
    rest: (i32, u32),
}

fn site_ranges(ann: &[(u8, u32, u32)], out: &mut Vec<(u32, u32)>) {
    let mut code = 0u32;
    let mut found_from: Option<u32> = None;
    for &(op, u1, u2) in ann {
        match op {
            1 | 3 | 11 => {
                let d = if op == 11 { u1 & 0xf } else { u1 };
                code = code.wrapping_add(d);
                if found_from.is_none() {
                    found_from = Some(code);
                }
            }
            4 => {
                code = code.wrapping_add(u1);
                // contained from the first offset reached since the last range to here
                if let Some(f) = found_from.take() {
                    out.push((f, code));
                }
            }
            12 => {
                code = code.wrapping_add(u2);
                out.push((code, code.wrapping_add(u1)));
                found_from = None;
            }
            _ => {}
        }
    }
}

/// Pushes a site's line pieces onto `out`; gives its line and file offset after them.
fn site_lines(ann: &[(u8, u32, u32)], out: &mut Vec<(u32, u32, i32, u32)>) -> (i32, u32) {
    /// The range being read: base, end, current and next line offset, next file offset.
    #[derive(Default)]
    struct St {
        base: Option<u32>,
        end: Option<u32>,
        cur: Option<i32>,
        next: Option<i32>,
        next_file: Option<u32>,
        line: i32,
        file: u32,
        code: u32,
    }
    impl St {
        fn code_delta(&mut self, delta: u32) {
            if self.base.is_none() {
                self.base = Some(self.code);
            } else if self.end.is_none() {
                self.end = Some(self.base.unwrap_or(0).wrapping_add(delta));
            }
        }
        fn line_delta(&mut self, delta: i32) {
            self.line = self.line.wrapping_add(delta);
            if self.base.is_none() || self.cur.is_none() {
                self.cur = Some(self.line);
            } else {
                self.next = Some(self.line);
            }
        }
    }
    let mut st = St::default();
    for &(op, u1, u2) in ann {
        match op {
            1 | 2 | 3 => {
                st.code = st.code.wrapping_add(u1);
                st.code_delta(u1);
            }
            4 => st.code_delta(u1),
            12 => {
                st.code = st.code.wrapping_add(u2);
                st.code_delta(u2);
                st.code_delta(u1);
            }
            6 => st.line_delta(signed(u1)),
            11 => {
                let (dc, dl) = (u1 & 0xf, signed(u1 >> 4));
                st.code = st.code.wrapping_add(dc);
                st.code_delta(dc);
                st.line_delta(dl);
            }
            5 => {
                if st.base.is_none() {
                    st.file = u1;
                } else {
                    st.next_file = Some(u1);
                }
            }
            _ => {}
        }
        if let (Some(b), Some(e), Some(cl)) = (st.base, st.end, st.cur) {
            out.push((b, e, cl, st.file));
            if let Some(f) = st.next_file.take() {
                st.file = f;
            }
            if let Some(nl) = st.next.take() {
                st.cur = Some(nl);
            }
            st.base = Some(e);
            st.end = None;
        }
    }
    (st.line, st.file)
}

/// The sites of each level of a procedure (its outermost ones, or one site's children) by
/// range start, with the largest end so far, to find the first site in record order
/// containing an offset without trying them all. Buffers are reused from one procedure to
/// the next.
#[derive(Default)]
struct Levels {
    /// (level, start, end, site), sorted; a level is a site's children (the site's index)
    /// or the procedure's outermost sites (the number of sites).
    ranges: Vec<(usize, u32, u32, usize)>,
    /// The largest end of a level's ranges up to each.
    max_end: Vec<u32>,
    /// Where each level's ranges are.
    spans: Vec<(usize, usize)>,
    /// Every range's start and end, sorted: between two of them the chain is the same.
    bounds: Vec<u32>,
}

impl Levels {
    fn build(&mut self, sites: &[Site], site_ranges: &[(u32, u32)]) {
        let n = sites.len();
        self.ranges.clear();
        for (i, s) in sites.iter().enumerate() {
            let level = s.parent.unwrap_or(n);
            self.ranges
                .extend(site_ranges[s.ranges.clone()].iter().map(|r| (level, r.0, r.1, i)));
        }
        // (sites of a level are in record order by index, so the index orders them)
        self.ranges.sort_unstable();
        self.spans.clear();
        self.spans.resize(n + 1, (0, 0));
        self.max_end.clear();
        let mut m = 0u32;
        for (k, r) in self.ranges.iter().enumerate() {
            if k == 0 || self.ranges[k - 1].0 != r.0 {
                m = 0;
                self.spans[r.0].0 = k;
            }
            self.spans[r.0].1 = k + 1;
            m = m.max(r.2);
            self.max_end.push(m);
        }
        self.bounds.clear();
        self.bounds.extend(self.ranges.iter().flat_map(|r| [r.1, r.2]));
        self.bounds.sort_unstable();
        self.bounds.dedup();
    }

    /// The offsets `[from, until)` around `off` where no range starts or ends.
    fn span_at(&self, off: u32) -> (u32, u32) {
        let i = self.bounds.partition_point(|&b| b <= off);
        let from = if i == 0 { 0 } else { self.bounds[i - 1] };
        (from, self.bounds.get(i).copied().unwrap_or(u32::MAX))
    }

    /// The first site (record order) of `level` containing `off`; `budget` counts the
    /// ranges tried.
    fn find(&self, level: usize, off: u32, budget: &mut u64) -> Option<usize> {
        let (lo, hi) = self.spans[level];
        let (ranges, max_end) = (&self.ranges[lo..hi], &self.max_end[lo..hi]);
        let mut best: Option<usize> = None;
        if ranges.len() <= 8 {
            // (a few ranges, the usual case: tried in order, cheaper than a search)
            for r in ranges.iter().take_while(|r| r.1 <= off) {
                if *budget == 0 {
                    break;
                }
                *budget -= 1;
                if off < r.2 && best.map_or(true, |b| r.3 < b) {
                    best = Some(r.3);
                }
            }
            return best;
        }
        let mut i = ranges.partition_point(|r| r.1 <= off);
        while i > 0 && max_end[i - 1] > off && *budget > 0 {
            i -= 1;
            *budget -= 1;
            let r = ranges[i];
            if off < r.2 && best.map_or(true, |b| r.3 < b) {
                best = Some(r.3);
            }
        }
        best
    }

    /// The innermost site chain (outermost first) containing `off`: at each level the first
    /// site in record order that contains it (LLVM's `findInlineFramesByVA`).
    fn chain_at(&self, root: usize, off: u32, budget: &mut u64, out: &mut Vec<usize>) {
        out.clear();
        let mut level = root;
        while out.len() < MAX_NESTING {
            match self.find(level, off, budget) {
                Some(s) => {
                    out.push(s);
                    level = s;
                }
                None => return,
            }
        }
    }
}

/// Names of inlined functions: the IPI records inline sites name, qualified as LLVM does
/// (`scope::name`, `Class::name`), with the class names from the TPI.
#[derive(Default)]
struct IdNames {
    /// (start, end) of each id's name in `text` (one buffer: no `String` per name).
    ids: FastMap<u32, (usize, usize)>,
    text: String,
}

impl IdNames {
    fn get(&self, id: u32) -> Option<&str> {
        self.ids.get(&id).map(|&(a, b)| &self.text[a..b])
    }
}

/// Calls `f(type index, kind, record body)` for each record of a type stream, read in
/// pieces of [`TYPE_CHUNK`] bytes.
fn each_type<'a, S: Source<'a>>(msf: &mut Msf<'_, S>, stream: usize, mut f: impl FnMut(u32, u16, &[u8])) -> Result<()> {
    let size = match msf.stream_size(stream) {
        Some(s) if s >= 56 => s,
        _ => return Ok(()),
    };
    let head = msf.read(stream, 0, 56)?;
    let header_size = u64::from(u32_at(&head, 4).unwrap_or(56));
    let mut index = u32_at(&head, 8).unwrap_or(0x1000);
    let record_bytes = u64::from(u32_at(&head, 16).unwrap_or(0));
    let end = header_size.saturating_add(record_bytes).min(size);
    let mut pos = header_size;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk: Vec<u8> = Vec::new();
    let mut at = 0usize;
    while pos < end || at < buf.len() {
        if at + 4 > buf.len() || at + 2 + usize::from(u16_at(&buf, at).unwrap_or(0)) > buf.len() {
            if pos >= end {
                break;
            }
            buf.drain(..at);
            at = 0;
            let more = msf.read_reusing(stream, pos, TYPE_CHUNK.min(end - pos), &mut chunk)?;
            pos += more.len() as u64;
            buf.extend_from_slice(more);
            continue;
        }
        let len = usize::from(u16_at(&buf, at).unwrap_or(0));
        if len < 2 {
            break;
        }
        f(index, u16_at(&buf, at + 2).unwrap_or(0), &buf[at + 4..at + 2 + len]);
        index = index.wrapping_add(1);
        at += 2 + len;
    }
    Ok(())
}

/// Skips a numeric leaf (a size in a class record) and gives the bytes after it.
fn skip_numeric(b: &[u8]) -> &[u8] {
    let v = match u16_at(b, 0) {
        Some(v) => v,
        None => return &[],
    };
    let n = match v {
        0..=0x7fff => 2,
        0x8000 | 0x8001 => 3,
        0x8002 | 0x8003 => 4,
        0x8004 | 0x8005 | 0x8008 => 6,
        0x8009 | 0x800a => 10,
        _ => 2,
    };
    b.get(n..).unwrap_or(&[])
}

fn class_name(kind: u16, b: &[u8]) -> Option<&[u8]> {
    match kind {
        LF_CLASS | LF_STRUCTURE | LF_INTERFACE => Some(cstr(skip_numeric(b.get(16..)?), 0)),
        LF_UNION => Some(cstr(skip_numeric(b.get(8..)?), 0)),
        LF_ENUM => Some(cstr(b, 12)),
        _ => None,
    }
}

fn read_id_names<'a, S: Source<'a>>(msf: &mut Msf<'_, S>, wanted: &FastMap<u32, ()>) -> Result<IdNames> {
    // IPI records: (kind, scope or class, name in `func_bytes`) of the wanted ids, and the
    // strings scopes name.
    let mut funcs: FastMap<u32, (u16, u32, usize, usize)> = FastMap::default();
    let mut func_bytes: Vec<u8> = Vec::new();
    // (every string id, in one buffer: most are not scopes)
    let mut strings: FastMap<u32, (usize, usize)> = FastMap::default();
    let mut string_bytes: Vec<u8> = Vec::new();
    each_type(msf, 4, |ti, kind, b| match kind {
        LF_FUNC_ID | LF_MFUNC_ID if wanted.contains_key(&ti) => {
            let name = cstr(b, 8);
            funcs.insert(ti, (kind, u32_at(b, 0).unwrap_or(0), func_bytes.len(), name.len()));
            func_bytes.extend_from_slice(name);
        }
        LF_STRING_ID => {
            let s = cstr(b, 4);
            strings.insert(ti, (string_bytes.len(), s.len()));
            string_bytes.extend_from_slice(s);
        }
        _ => {}
    })?;
    let classes: FastMap<u32, ()> = funcs
        .values()
        .filter(|f| f.0 == LF_MFUNC_ID)
        .map(|f| (f.1, ()))
        .collect();
    let mut class_names: FastMap<u32, String> = FastMap::default();
    if !classes.is_empty() {
        each_type(msf, 2, |ti, kind, b| {
            // (the kind first: most records are not classes, and it costs no hash lookup)
            if matches!(kind, LF_CLASS | LF_STRUCTURE | LF_UNION | LF_ENUM | LF_INTERFACE) && classes.contains_key(&ti)
            {
                if let Some(n) = class_name(kind, b) {
                    class_names.insert(ti, text(n));
                }
            }
        })?;
    }
    let mut out = IdNames::default();
    out.ids.reserve(funcs.len());
    for (ti, (kind, scope, at, len)) in funcs {
        let prefix = if kind == LF_MFUNC_ID {
            class_names.get(&scope).map(|c| std::borrow::Cow::Borrowed(c.as_str()))
        } else if scope != 0 {
            strings.get(&scope).map(|&(at, len)| lossy(&string_bytes[at..at + len]))
        } else {
            None
        };
        let start = out.text.len();
        if let Some(p) = prefix {
            out.text.push_str(&p);
            out.text.push_str("::");
        }
        out.text.push_str(&lossy(&func_bytes[at..at + len]));
        out.ids.insert(ti, (start, out.text.len()));
    }
    Ok(out)
}

/// A procedure of a module stream and its inline sites.
struct Proc {
    /// Where its name is in the symbol records.
    name: std::ops::Range<usize>,
    start: u32,
    size: u32,
    /// `Procs::sites[sites]`.
    sites: std::ops::Range<usize>,
}

/// The procedures of one module, their sites and the sites' ranges and line pieces, in
/// buffers reused from one module to the next.
#[derive(Default)]
struct Procs {
    procs: Vec<Proc>,
    sites: Vec<Site>,
    ranges: Vec<(u32, u32)>,
    lines: Vec<(u32, u32, i32, u32)>,
    /// (scratch: one site's annotations, the open sites)
    ann: Vec<(u8, u32, u32)>,
    stack: Vec<usize>,
}

/// Procedures of a module's symbol records into `out`; a malformed record ends the
/// module's list.
fn read_procs(syms: &[u8], sections: &Sections, warn: &mut Warnings, module: &str, out: &mut Procs) {
    let Procs {
        procs,
        sites,
        ranges,
        lines,
        ann,
        stack,
    } = out;
    procs.clear();
    sites.clear();
    ranges.clear();
    lines.clear();
    stack.clear();
    // The open procedure's closing record; sites go to the last procedure while it is open.
    let mut open: Option<usize> = None;
    let mut at = 4usize;
    while at + 4 <= syms.len() {
        let len = usize::from(u16_at(syms, at).unwrap_or(0));
        if len < 2 || at + 2 + len > syms.len() {
            let why = if len < 2 {
                "symbol record of length 0"
            } else {
                "symbol record runs past its stream"
            };
            warn.skip("module symbol list", why, || {
                format!("module {} offset {:#x}", module, at)
            });
            break;
        }
        let kind = u16_at(syms, at + 2).unwrap_or(0);
        let b = &syms[at + 4..at + 2 + len];
        match kind {
            S_GPROC32 | S_LPROC32 | S_GPROC32_ID | S_LPROC32_ID | S_LPROC32_DPC | S_LPROC32_DPC_ID => {
                let (size, off, seg) = (
                    u32_at(b, 12).unwrap_or(0),
                    u32_at(b, 28).unwrap_or(0),
                    u16_at(b, 32).unwrap_or(0),
                );
                open = None;
                stack.clear();
                if let Some(start) = sections.rva(seg, off) {
                    let name_at = (at + 4 + 35).min(at + 2 + len);
                    let name_len = cstr(b, 35).len();
                    procs.push(Proc {
                        name: name_at..name_at + name_len,
                        start,
                        size,
                        sites: sites.len()..sites.len(),
                    });
                    open = Some(u32_at(b, 4).unwrap_or(0) as usize);
                }
            }
            S_INLINESITE | S_INLINESITE2 => {
                if let (Some(_), Some(p)) = (open, procs.last_mut()) {
                    let inlinee = u32_at(b, 8).unwrap_or(0);
                    annotations(b.get(if kind == S_INLINESITE { 12 } else { 16 }..).unwrap_or(&[]), ann);
                    let first_line = lines.len();
                    let rest = site_lines(ann, lines);
                    let first_range = ranges.len();
                    site_ranges(ann, ranges);
                    let parent = stack.last().copied();
                    if stack.len() >= MAX_NESTING {
                        warn.skip("inline site", "nested too deep", || {
                            format!("module {} offset {:#x}", module, at)
                        });
                    }
                    sites.push(Site {
                        parent,
                        inlinee,
                        ranges: first_range..ranges.len(),
                        lines: first_line..lines.len(),
                        rest,
                    });
                    stack.push(p.sites.len());
                    p.sites.end = sites.len();
                }
            }
            S_INLINESITE_END => {
                stack.pop();
            }
            // (blocks inside a procedure end with S_END too: its own end is where it says)
            S_END | S_PROC_ID_END => {
                if open == Some(at) {
                    open = None;
                    stack.clear();
                }
            }
            _ => {}
        }
        at += 2 + len;
    }
}

/// The public symbols by address (RVA, name in `Publics::names`): of several at one
/// address, the last in the publics stream's address map (LLVM answers the last one at or
/// before an address).
#[derive(Default)]
struct Publics {
    list: Vec<(u32, std::ops::Range<usize>)>,
    /// (every name, in one buffer)
    names: Vec<u8>,
}

fn read_publics<'a, S: Source<'a>>(
    msf: &mut Msf<'_, S>,
    stream: usize,
    psi: Option<usize>,
    sections: &Sections,
) -> Result<Publics> {
    let size = msf.stream_size(stream).unwrap_or(0);
    // (record offset, RVA, name in `names`), in stream order
    let mut found: Vec<(u32, u32, std::ops::Range<usize>)> = Vec::new();
    let mut names: Vec<u8> = Vec::new();
    let mut pos = 0u64;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk: Vec<u8> = Vec::new();
    let mut buf_start = 0u64;
    let mut at = 0usize;
    loop {
        if at + 4 > buf.len() || at + 2 + usize::from(u16_at(&buf, at).unwrap_or(0)) > buf.len() {
            if pos >= size {
                break;
            }
            buf.drain(..at);
            buf_start += at as u64;
            at = 0;
            let more = msf.read_reusing(stream, pos, TYPE_CHUNK.min(size - pos), &mut chunk)?;
            pos += more.len() as u64;
            buf.extend_from_slice(more);
            continue;
        }
        let len = usize::from(u16_at(&buf, at).unwrap_or(0));
        if len < 2 {
            break;
        }
        let b = &buf[at + 4..at + 2 + len];
        if u16_at(&buf, at + 2) == Some(S_PUB32) {
            // (all of them, as LLVM: import thunks have no code or function flag)
            if let Some(rva) = sections.rva(u16_at(b, 8).unwrap_or(0), u32_at(b, 4).unwrap_or(0)) {
                let name = cstr(b, 10);
                found.push((
                    (buf_start + at as u64) as u32,
                    rva,
                    names.len()..names.len() + name.len(),
                ));
                names.extend_from_slice(name);
            }
        }
        at += 2 + len;
    }
    // The address map (publics stream header, hash, then u32 record offsets).
    let mut order: Vec<usize> = Vec::new();
    if let Some(psi) = psi {
        let head = msf.read(psi, 0, 28)?;
        if let (Some(hash), Some(map)) = (u32_at(&head, 0), u32_at(&head, 4)) {
            let raw = msf.read(psi, 28 + u64::from(hash), u64::from(map))?;
            for i in 0..raw.len() / 4 {
                let off = u32_at(&raw, 4 * i).unwrap_or(0);
                if let Ok(k) = found.binary_search_by_key(&off, |f| f.0) {
                    order.push(k);
                }
            }
        }
    }
    if order.len() != found.len() {
        order = (0..found.len()).collect();
    }
    // By address, then map position: the last of each address is kept.
    let mut list: Vec<(u32, usize)> = order.iter().enumerate().map(|(i, &k)| (found[k].1, i)).collect();
    list.sort_unstable();
    let mut out: Vec<(u32, std::ops::Range<usize>)> = Vec::with_capacity(list.len());
    for j in 0..list.len() {
        if j + 1 < list.len() && list[j + 1].0 == list[j].0 {
            continue;
        }
        let k = order[list[j].1];
        out.push((found[k].1, found[k].2.clone()));
    }
    Ok(Publics { list: out, names })
}

/// The ids of a module's inlinee lines (its C13 `DEBUG_S_INLINEELINES`): the only inline
/// sites LLVM names are of these (it drops a frame without inlinee lines).
fn inlinee_ids(data: &[u8], out: &mut FastMap<u32, ()>) {
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let kind = u32_at(data, at).unwrap_or(0);
        let len = u32_at(data, at + 4).unwrap_or(0) as usize;
        let body = match data.get(at + 8..(at + 8).saturating_add(len)) {
            Some(b) => b,
            None => return,
        };
        if kind == DEBUG_S_INLINEELINES {
            let sig = u32_at(body, 0).unwrap_or(0);
            let mut at = 4usize;
            while at + 12 <= body.len() {
                out.insert(u32_at(body, at).unwrap_or(0), ());
                at += 12;
                if sig == 1 {
                    let extra = u32_at(body, at).unwrap_or(0) as usize;
                    at = at.saturating_add(4).saturating_add(extra.saturating_mul(4));
                }
            }
        }
        at = (at + 8 + len + 3) & !3;
    }
}

/// What the ranges of one inline site need, found once per site rather than per range.
struct SiteFrame {
    function: u32,
    /// (file checksum offset, line) of the inlinee's lines; `None`: LLVM drops the frame.
    origin: Option<(u32, u32)>,
    /// The interned file of `origin` (line pieces mostly keep it).
    file: u32,
    sym_addr: u64,
}

/// Consecutive ranges of one location joined before they reach the writer.
struct Joined(Option<(u32, u32, u32)>);

impl Joined {
    fn add(&mut self, w: &mut SymCacheWriter, a: u32, b: u32, loc: u32) {
        match self.0 {
            Some((s, e, l)) if e == a && l == loc => self.0 = Some((s, b, l)),
            _ => {
                self.flush(w);
                self.0 = Some((a, b, loc));
            }
        }
    }

    fn flush(&mut self, w: &mut SymCacheWriter) {
        if let Some((s, e, l)) = self.0.take() {
            w.range(u64::from(s), u64::from(e), l);
        }
    }
}

/// Builds a symcache from a PDB (addresses are RVAs, image base 0).
///
/// Module streams are read twice: first only their inlinee lines (which ids need names),
/// then, after the names, one module at a time, its ranges written and the module dropped,
/// so no more than one module's procedures are held.
pub fn build_symcache<'a, S: Source<'a>>(src: &mut S) -> Result<SymCacheBuild> {
    let mut warn = Warnings::default();
    let mut msf = Msf::open(src)?;
    let h = read_header(&mut msf, &mut warn)?;
    let mut id = identity(&h);
    let mut w = SymCacheWriter::new();
    let dbi = match h.dbi {
        Some(ref d) => d,
        None => {
            return Ok(SymCacheBuild {
                writer: w,
                identity: id,
                warnings: warn.lines(),
            })
        }
    };
    let sections = read_sections(&mut msf, dbi, &mut warn)?;
    let names = Names(match h.names_stream {
        Some(s) => msf.stream(s).unwrap_or_default(),
        None => Vec::new(),
    });
    let publics = match dbi.sym_records {
        Some(s) => read_publics(&mut msf, s, dbi.publics, &sections).unwrap_or_else(|e| {
            warn.skip("public symbols", &e.to_string(), || format!("stream {}", s));
            Publics::default()
        }),
        None => Publics::default(),
    };
    let Publics {
        list: publics,
        names: public_names,
    } = publics;
    // Names are demangled by readers (format 4), except 32-bit x86 ones (C decoration).
    let mut fns = demangle::Functions::default();
    fns.pe32 = dbi.machine == 0x014c;
    let public_fns: Vec<u32> = publics
        .iter()
        .map(|p| fns.intern(&mut w, &lossy(&public_names[p.1.clone()]), 0))
        .collect();
    drop(public_names);
    let public_at: FastMap<u32, usize> = publics.iter().enumerate().map(|(i, p)| (p.0, i)).collect();

    // Where a module's C13 subsections are in its stream.
    let c13_span = |m: &Module, len: usize| {
        let sym_end = (m.sym_bytes as usize).min(len);
        let c13_start = sym_end.saturating_add(m.c11_bytes as usize).min(len);
        (
            sym_end,
            c13_start,
            c13_start.saturating_add(m.c13_bytes as usize).min(len),
        )
    };
    let mut wanted: FastMap<u32, ()> = FastMap::default();
    let mut buf: Vec<u8> = Vec::new();
    for m in &dbi.modules {
        if let (Some(s), true) = (m.stream, m.c13_bytes > 0) {
            let size = msf.stream_size(s).unwrap_or(0) as usize;
            let (_, start, end) = c13_span(m, size);
            // (a module that cannot be read is reported when its ranges are read)
            if let Ok(c13) = msf.read_reusing(s, start as u64, (end - start) as u64, &mut buf) {
                inlinee_ids(c13, &mut wanted);
            }
        }
    }
    let id_names = if wanted.is_empty() {
        IdNames::default()
    } else {
        read_id_names(&mut msf, &wanted).unwrap_or_else(|e| {
            warn.skip("IPI stream", &e.to_string(), || "stream 4".to_string());
            IdNames::default()
        })
    };
    drop(wanted);
    let mut inlinee_fns: FastMap<u32, u32> = FastMap::default();

    let mut chain: Vec<usize> = Vec::new();
    // Ranges tried finding inline sites: bounds the work of hostile overlapping sites.
    let mut budget: u64 = 1 << 28;
    let mut budget_warned = false;
    let mut frames: Vec<FrameSpec> = Vec::new();
    let mut last: Vec<FrameSpec> = Vec::new();
    let mut cuts: Vec<u32> = Vec::new();
    let mut extra: Vec<u32> = Vec::new();
    let mut merged: Vec<u32> = Vec::new();
    let mut site_frames: Vec<SiteFrame> = Vec::new();
    let mut joined = Joined(None);
    let mut mp = Procs::default();
    let mut levels = Levels::default();
    let mut c13 = C13::default();
    for (mi, m) in dbi.modules.iter().enumerate() {
        let stream = match m.stream {
            Some(s) => s,
            None => continue,
        };
        let data = match msf.read_reusing(stream, 0, u64::MAX, &mut buf) {
            Ok(d) => d,
            Err(e) => {
                warn.skip("module", &e.to_string(), || format!("module {} ({})", mi, m.name));
                continue;
            }
        };
        let (sym_end, c13_start, c13_end) = c13_span(m, data.len());
        read_procs(&data[..sym_end], &sections, &mut warn, &m.name, &mut mp);
        read_c13(
            &data[c13_start..c13_end],
            &sections,
            &names,
            &mut w,
            &mut warn,
            &m.name,
            &mut c13,
        );
        if !mp.procs.is_empty() || !c13.lines.is_empty() {
            id.flags |= FLAG_HAS_DEBUG_INFO;
        }
        let rows = &c13.lines;
        for p in &mp.procs {
            let end = p.start.saturating_add(p.size);
            if p.size == 0 {
                continue;
            }
            let sites = &mp.sites[p.sites.clone()];
            // The outer function: named by the public symbol at or before the address where
            // that one is at the procedure's start (LLVM's `getFunctionName`), i.e. before
            // the next public after the start.
            // (interned only where a frame names it: most procedures are named by a public)
            let mut proc_name = None;
            let at_start = public_at.get(&p.start).copied();
            let start_public = at_start.map(|i| public_fns[i]);
            // (publics are one per address: the one at the start is the last at or before it)
            let j0 = match at_start {
                Some(i) => i + 1,
                None => publics.partition_point(|q| q.0 <= p.start),
            };
            let next_public = publics.get(j0).map(|q| q.0).unwrap_or(u32::MAX);
            if !sites.is_empty() {
                levels.build(sites, &mp.ranges);
            }
            // (offsets where `chain` holds: it is found again only past a range's edge)
            let mut chain_span = (1u32, 0u32);
            site_frames.clear();
            for s in sites {
                let origin = c13.inlinees.get(&s.inlinee).copied();
                let function = match origin {
                    None => NONE,
                    Some(_) => match inlinee_fns.get(&s.inlinee) {
                        Some(&f) => f,
                        None => {
                            let name = id_names.get(s.inlinee).unwrap_or("");
                            let f = fns.intern(&mut w, name, 0);
                            inlinee_fns.insert(s.inlinee, f);
                            f
                        }
                    },
                };
                let start = mp.ranges[s.ranges.clone()].first().map(|r| r.0).unwrap_or(0);
                let sym_addr = u64::from(sections.image(p.start.saturating_add(start)).unwrap_or(p.start));
                let file = c13.files.get(&origin.map_or(0, |o| o.0)).copied().unwrap_or(NONE);
                site_frames.push(SiteFrame {
                    function,
                    origin,
                    file,
                    sym_addr,
                });
            }
            let proc_sym_addr = u64::from(sections.image(p.start).unwrap_or(p.start));
            // Cut points: line rows, inline ranges and inline line ranges. The rows' come
            // in order (a row's address and the next: several rows at one address answer
            // the first there and the last after it); the others are sorted and merged in.
            cuts.clear();
            cuts.push(p.start);
            let mut cursor = 0;
            if c13.sorted {
                let mut k = rows.partition_point(|e| e.0 < p.start);
                // (then the block ends at the start, which sort first there)
                cursor = k + rows[k..].iter().take_while(|e| C13::before(e, p.start)).count();
                while k < rows.len() && rows[k].0 < end {
                    let (x, g) = (rows[k].0, k);
                    while k < rows.len() && rows[k].0 == x {
                        k += 1;
                    }
                    // `x` answers the group's first row not ending a block, `x + 1` its last
                    // row (block ends sort first), and the bytes before `x` the row before
                    // the group unless it ends a block: a piece starts only where they differ.
                    let answer = |e: &(u32, u32, u32, bool, u32)| if e.3 { None } else { Some((e.1, e.2, e.4)) };
                    let at_x = rows[g..k].iter().find(|e| !e.3).and_then(answer);
                    let before = if g == 0 { None } else { answer(&rows[g - 1]) };
                    if at_x != before {
                        cuts.push(x);
                    }
                    if at_x != answer(&rows[k - 1]) {
                        cuts.push(x + 1);
                    }
                }
            } else {
                let i0 = c13.addrs.partition_point(|&a| a < p.start);
                for &a in c13.addrs[i0..].iter().take_while(|&&a| a < end) {
                    cuts.push(a);
                    cuts.push(a.saturating_add(1));
                }
            }
            cuts.push(end);
            extra.clear();
            for s in sites {
                // (a piece's end is mostly the next one's start: pushed once)
                let mut prev_end = None;
                for r in &mp.ranges[s.ranges.clone()] {
                    if prev_end != Some(r.0) {
                        extra.push(p.start.saturating_add(r.0));
                    }
                    extra.push(p.start.saturating_add(r.1));
                    prev_end = Some(r.1);
                }
                let mut prev_end = None;
                for r in &mp.lines[s.lines.clone()] {
                    if prev_end != Some(r.0) {
                        extra.push(p.start.saturating_add(r.0));
                    }
                    extra.push(p.start.saturating_add(r.1));
                    prev_end = Some(r.1);
                }
            }
            extra.extend(publics[j0..].iter().take_while(|q| q.0 < end).map(|q| q.0));
            if !c13.sorted {
                extra.extend_from_slice(&cuts);
                cuts.clear();
            }
            if !extra.is_empty() {
                extra.retain(|&c| c >= p.start && c <= end);
                extra.sort_unstable();
                merged.clear();
                merged.reserve(cuts.len() + extra.len());
                let (mut i, mut j) = (0, 0);
                while i < cuts.len() || j < extra.len() {
                    if j == extra.len() || (i < cuts.len() && cuts[i] <= extra[j]) {
                        merged.push(cuts[i]);
                        i += 1;
                    } else {
                        merged.push(extra[j]);
                        j += 1;
                    }
                }
                std::mem::swap(&mut cuts, &mut merged);
            }
            cuts.dedup();
            last.clear();
            let mut last_loc = NONE;
            for win in cuts.windows(2) {
                let (a, b) = (win[0], win[1]);
                let off = a - p.start;
                let row = if c13.sorted {
                    while cursor < rows.len() && C13::before(&rows[cursor], a) {
                        cursor += 1;
                    }
                    c13.line_after(cursor, a)
                } else {
                    c13.line_at(a)
                };
                let (file, line, column) = row.unwrap_or((NONE, 0, 0));
                frames.clear();
                let outer = match start_public {
                    Some(f) if a < next_public => f,
                    _ => *proc_name.get_or_insert_with(|| fns.intern(&mut w, &lossy(&data[p.name.clone()]), 0)),
                };
                frames.push(FrameSpec {
                    function: outer,
                    file,
                    line,
                    column,
                    sym_addr: proc_sym_addr,
                });
                if !sites.is_empty() {
                    if off < chain_span.0 || off >= chain_span.1 {
                        levels.chain_at(sites.len(), off, &mut budget, &mut chain);
                        chain_span = levels.span_at(off);
                    }
                    if budget == 0 && !budget_warned {
                        budget_warned = true;
                        warn.skip(
                            "inline frames",
                            "too many overlapping inline sites (the rest are answered without them)",
                            || format!("RVA {:#x}", a),
                        );
                    }
                    // LLVM stops at the innermost frame without inlinee lines, dropping it and
                    // the frames around it.
                    let mut keep = chain.len();
                    for (k, &s) in chain.iter().enumerate().rev() {
                        if site_frames[s].origin.is_none() {
                            keep = chain.len() - 1 - k;
                            break;
                        }
                    }
                    for &s in &chain[chain.len() - keep..] {
                        let (site, sf) = (&sites[s], &site_frames[s]);
                        let line0 = sf.origin.map_or(0, |o| o.1);
                        let (lo, fo) = mp.lines[site.lines.clone()]
                            .iter()
                            .find(|r| r.0 <= off && off < r.1)
                            .map(|r| (r.2, r.3))
                            .unwrap_or(site.rest);
                        frames.push(FrameSpec {
                            function: sf.function,
                            file: if fo == 0 {
                                sf.file
                            } else {
                                c13.files.get(&fo).copied().unwrap_or(NONE)
                            },
                            line: line0.wrapping_add(lo as u32),
                            column: 0,
                            sym_addr: sf.sym_addr,
                        });
                    }
                }
                // (neighbouring pieces mostly answer the same frames)
                if frames != last {
                    last_loc = w.chain(&frames);
                    std::mem::swap(&mut frames, &mut last);
                }
                let loc = last_loc;
                sections.image_ranges(a, b, |a, b| joined.add(&mut w, a, b, loc));
            }
            joined.flush(&mut w);
        }
    }
    // Public symbols: each reaches the next (LLVM's nearest preceding public), under the
    // procedures.
    if !publics.is_empty() {
        id.flags |= FLAG_HAS_SYMBOLS;
    }
    for (i, (rva, _)) in publics.iter().enumerate() {
        let sec_end = sections.end_of(*rva).unwrap_or(*rva);
        let next = publics.get(i + 1).map(|p| p.0.min(sec_end)).unwrap_or(sec_end);
        let sym_addr = u64::from(sections.image(*rva).unwrap_or(*rva));
        let loc = w.chain(&[FrameSpec {
            function: public_fns[i],
            file: NONE,
            line: 0,
            column: 0,
            sym_addr,
        }]);
        sections.image_ranges(*rva, next, |a, b| w.fallback_range(u64::from(a), u64::from(b), loc));
    }
    if sections.pieces_left.get() == 0 {
        warn.skip("OMAP", "too many address pieces (the rest are left out)", || {
            "OMAP from source".to_string()
        });
    }
    Ok(SymCacheBuild {
        writer: w,
        identity: id,
        warnings: warn.lines(),
    })
}
