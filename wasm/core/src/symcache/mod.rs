//! The symcache: pysym's own compact, versioned binary format for native symbolication,
//! read without copying (every lookup is a binary search over the bytes as they are).
//!
//! The layout is documented in `FORMAT.md` next to this file; [`SymCacheWriter`] writes
//! it and [`SymCache`] reads it.

use crate::error::{Error, ErrorKind, Result};
use crate::hash::FastMap;
use std::borrow::Cow;

/// Marks an absent `u32` field (no file, no function, no caller, a gap).
pub const NONE: u32 = 0xFFFF_FFFF;

/// The eight bytes every symcache starts with.
pub const MAGIC: &[u8; 8] = b"PYSYMCCH";
/// The eight bytes every symcache ends with (a sentinel against truncation).
pub const END_MAGIC: &[u8; 8] = b"PYSYMEND";
/// The format version this module writes. It reads 1 to 3 as well (1 and 2: fixed 32-byte
/// locations and 64-bit range starts; version 1 caches are held to the same depth limit;
/// 3: every function's display name stored).
pub const VERSION: u32 = 4;

/// Most frames in one chain (an address inside this many nested inlined calls). Bounds
/// the work and memory of any lookup whatever the input; writers elide the middle frames
/// of deeper chains, readers refuse symcaches that break it.
pub const MAX_INLINE_DEPTH: usize = 256;

/// Header of versions 1 and 2; version 3 adds the eight field widths.
const HEADER_LEN_V2: usize = 64;
const HEADER_LEN: usize = 72;
const LOCATION_LEN_V2: usize = 32;
/// Entries of [`SymCacheWriter::hot`] (a power of two).
const HOT: usize = 4096;
const FUNCTION_LEN: usize = 12;

/// Header flag: the symcache was built from DWARF (or other line) information.
pub const FLAG_HAS_DEBUG_INFO: u32 = 1;
/// Header flag: the source object had a symbol table.
pub const FLAG_HAS_SYMBOLS: u32 = 2;

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidSymCache, msg)
}

/// What the writer interns for one frame of a chain (outermost first).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FrameSpec {
    /// Index from [`SymCacheWriter::function`], or [`NONE`].
    pub function: u32,
    /// Index from [`SymCacheWriter::file`], or [`NONE`].
    pub file: u32,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
    /// Start address of the function (or inlined instance), relative to the image base.
    pub sym_addr: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct LocKey {
    file: u32,
    line: u32,
    column: u32,
    function: u32,
    inlined_into: u32,
    sym_addr: u64,
}

impl LocKey {
    /// The stored fields, in order: file, line, column, function, caller (the three
    /// indices plus one, so that `NONE` is 0), sym_addr.
    fn fields(&self) -> [u64; 6] {
        let plus_one = |v: u32| (v as u64 + 1) & 0xFFFF_FFFF;
        [plus_one(self.file), self.line as u64, self.column as u64, plus_one(self.function), plus_one(self.inlined_into), self.sym_addr]
    }
}

/// Bytes per range start and per location field (format version 3).
#[derive(Clone, Copy, Debug)]
struct Widths {
    start: u8,
    location: [u8; 6],
}

impl Widths {
    fn stride(&self) -> usize {
        self.location.iter().map(|&w| w as usize).sum()
    }
}

/// Bytes `v` needs (0 for 0).
fn width_of(v: u64) -> u8 {
    ((64 - v.leading_zeros() + 7) / 8) as u8
}

/// `width` little-endian bytes at `at` (at most 8).
#[inline(always)] // per field of every lookup; left out of line in wasm otherwise
fn rd_n(b: &[u8], at: usize, width: usize) -> u64 {
    // One 8-byte load and a mask where the slice has room (all but the last few fields):
    // a copy of `width` bytes is a memory.copy call in wasm, several times slower.
    if let Some(w) = b.get(at..at + 8) {
        let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        return if width >= 8 { v } else { v & ((1u64 << (width * 8)) - 1) };
    }
    let mut a = [0u8; 8];
    a[..width].copy_from_slice(&b[at..at + width]);
    u64::from_le_bytes(a)
}

/// A little-endian unsigned of `width` (1..=8) bytes: the whole of `b`.
#[inline(always)]
fn rd_width(b: &[u8], width: usize) -> u64 {
    match width {
        1 => b[0] as u64,
        2 => u16::from_le_bytes([b[0], b[1]]) as u64,
        3 => u32::from_le_bytes([b[0], b[1], b[2], 0]) as u64,
        4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64,
        _ => {
            let mut a = [0u8; 8];
            a[..width].copy_from_slice(&b[..width]);
            u64::from_le_bytes(a)
        }
    }
}

/// Object identity stored in the header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// `"elf"`, `"macho"`, `"breakpad"` or `"wasm"`.
    pub kind: String,
    /// Architecture name (`"x86_64"`, `"arm64"`, ...).
    pub arch: String,
    /// Debug identifier (`"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"`, plus `-age` if non-zero).
    pub debug_id: String,
    /// Code identifier (ELF build ID as hex), empty when unknown.
    pub code_id: String,
    /// The image base addresses are relative to.
    pub image_base: u64,
    /// [`FLAG_HAS_DEBUG_INFO`] | [`FLAG_HAS_SYMBOLS`].
    pub flags: u32,
}

/// Builds a symcache: intern strings, files, functions and frame chains, add ranges.
#[derive(Default)]
pub struct SymCacheWriter {
    strings: Vec<(u32, u32)>,
    string_bytes: Vec<u8>,
    string_index: IndexSet,
    files: Vec<u32>,
    file_index: FastMap<u32, u32>,
    functions: Vec<[u32; 3]>,
    function_index: FastMap<[u32; 3], u32>,
    locations: Chunked<LocKey>,
    location_index: IndexSet,
    /// The last chain's locations (outermost first): the next chain mostly shares them.
    recent: Vec<(LocKey, u32)>,
    /// Locations interned lately, direct-mapped by hash ([`NONE`]: empty). A location
    /// asked for again is mostly a recent one; the index costs two cache misses (slot
    /// and key) for it.
    hot: Vec<(LocKey, u32)>,
    /// In fixed chunks: a big Breakpad file has ~10M ranges, and a doubling vector would
    /// need its old and new buffers at once. Builders mostly add them in address order;
    /// `ranges_unsorted` says one came before the range added ahead of it.
    ranges: Chunked<(u64, u64, u32)>,
    ranges_unsorted: bool,
    fallback: Vec<(u64, u64, u32)>,
}

impl SymCacheWriter {
    /// A new, empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Interns a string and gives its index.
    pub fn string(&mut self, s: &str) -> u32 {
        let (strings, bytes) = (&self.strings, &self.string_bytes);
        let hash = hash_of(s.as_bytes());
        let slot = match self.string_index.find(hash, |i| string_text(strings, bytes, i) == s.as_bytes()) {
            Ok(i) => return i,
            Err(slot) => slot,
        };
        let i = self.strings.len() as u32;
        self.strings.push((self.string_bytes.len() as u32, s.len() as u32));
        self.string_bytes.extend_from_slice(s.as_bytes());
        let (strings, bytes) = (&self.strings, &self.string_bytes);
        self.string_index.insert(slot, hash, i, |i| hash_of(string_text(strings, bytes, i)));
        i
    }

    /// Interns a file (full path) and gives its index.
    pub fn file(&mut self, path: &str) -> u32 {
        let s = self.string(path);
        if let Some(&i) = self.file_index.get(&s) {
            return i;
        }
        let i = self.files.len() as u32;
        self.files.push(s);
        self.file_index.insert(s, i);
        i
    }

    /// Interns a function: its raw (mangled) name, demangled name and DWARF language.
    pub fn function(&mut self, raw: &str, demangled: &str, lang: u32) -> u32 {
        let (raw, demangled) = (self.string(raw), self.string(demangled));
        self.function_of(raw, demangled, lang)
    }

    /// [`function`](Self::function) with both names already interned ([`string`](Self::string)).
    /// `demangled` = [`NONE`]: readers demangle `raw` when a lookup names the function
    /// (format 4), so a build does not demangle names nobody looks up.
    pub fn function_of(&mut self, raw: u32, demangled: u32, lang: u32) -> u32 {
        let key = [raw, demangled, lang];
        if let Some(&i) = self.function_index.get(&key) {
            return i;
        }
        let i = self.functions.len() as u32;
        self.functions.push(key);
        self.function_index.insert(key, i);
        i
    }

    /// Interns a frame chain (outermost frame first) and gives the innermost location.
    /// Of a chain deeper than [`MAX_INLINE_DEPTH`], the outermost frame and the innermost
    /// ones are kept.
    pub fn chain(&mut self, frames: &[FrameSpec]) -> u32 {
        let mut caller = NONE;
        let skip = frames.len().saturating_sub(MAX_INLINE_DEPTH);
        let kept = frames.iter().take(1).chain(frames.iter().skip(1 + skip));
        for (depth, f) in kept.enumerate() {
            let key = LocKey {
                file: f.file,
                line: f.line,
                column: f.column,
                function: f.function,
                inlined_into: caller,
                sym_addr: f.sym_addr,
            };
            caller = self.location(depth, key);
        }
        caller
    }

    /// Interns the location at `depth` of a chain. Consecutive chains (neighbouring
    /// line-table rows) mostly differ only in their innermost frames, so the previous
    /// chain is compared first and most frames cost no hash lookup.
    fn location(&mut self, depth: usize, key: LocKey) -> u32 {
        if let Some(&(k, i)) = self.recent.get(depth) {
            if k == key {
                return i;
            }
        }
        self.recent.truncate(depth);
        let hash = hash_of(&key);
        if self.hot.is_empty() {
            self.hot = vec![(key, NONE); HOT];
        }
        // (the index uses the low bits)
        let h = (hash >> 48) as usize & (HOT - 1);
        if self.hot[h].1 != NONE && self.hot[h].0 == key {
            let i = self.hot[h].1;
            self.recent.push((key, i));
            return i;
        }
        let locations = &self.locations;
        let i = match self.location_index.find(hash, |i| *locations.get(i) == key) {
            Ok(i) => i,
            Err(slot) => {
                let i = self.locations.len() as u32;
                self.locations.push(key);
                let locations = &self.locations;
                self.location_index.insert(slot, hash, i, |i| hash_of(locations.get(i)));
                i
            }
        };
        self.hot[h] = (key, i);
        self.recent.push((key, i));
        i
    }

    /// Maps `[start, end)` to the chain ending at `location`. Ranges may come in any
    /// order; where they overlap, the one added first wins.
    pub fn range(&mut self, start: u64, end: u64, location: u32) {
        if start < end && location != NONE {
            if matches!(self.ranges.last(), Some(r) if start < r.0) {
                self.ranges_unsorted = true;
            }
            self.ranges.push((start, end, location));
        }
    }

    /// Maps `[start, end)` to `location` where no [`range`](Self::range) covers it
    /// (symbol-table names under DWARF line information).
    pub fn fallback_range(&mut self, start: u64, end: u64, location: u32) {
        if start < end && location != NONE {
            self.fallback.push((start, end, location));
        }
    }

    /// Whether a range was added.
    pub fn has_ranges(&self) -> bool {
        self.ranges.len() > 0
    }

    /// Writes the symcache into a vector (tests and tools; the wasm shim streams it to
    /// the host with [`finish_into`](Self::finish_into)).
    pub fn finish(self, id: &Identity) -> Vec<u8> {
        let mut out = Vec::new();
        match self.finish_into(id, &mut out) {
            Ok(()) => out,
            Err(never) => match never {},
        }
    }

    /// Writes the symcache to `out`: its size first, then its bytes in chunks of at most
    /// [`OUTPUT_CHUNK`]. Each table is freed once written, so no whole copy of the output
    /// is ever held here. Stops at the first error of `out`.
    pub fn finish_into<O: Output>(mut self, id: &Identity, out: &mut O) -> std::result::Result<(), O::Error> {
        let kind = self.string(&id.kind);
        let arch = self.string(&id.arch);
        let debug_id = self.string(&id.debug_id);
        let code_id = self.string(&id.code_id);
        // The indexes only serve interning: free them before the output is written (they
        // are the largest part of a big build's peak memory).
        self.string_index = IndexSet::default();
        self.file_index = FastMap::default();
        self.function_index = FastMap::default();
        self.location_index = IndexSet::default();
        self.recent = Vec::new();

        let primary = Sorted::of(std::mem::take(&mut self.ranges), self.ranges_unsorted).non_overlapping();
        // The fallback ranges where no primary one reaches (sorted, disjoint like them).
        let mut extra = Vec::new();
        let mut j = 0;
        let fallback = Sorted::from_vec(std::mem::take(&mut self.fallback)).non_overlapping();
        for k in 0..fallback.len() {
            let (s, e, l) = fallback.get(k);
            let mut cur = s;
            while cur < e {
                while j < primary.len() && primary.get(j).1 <= cur {
                    j += 1;
                }
                if j < primary.len() && primary.get(j).0 <= cur {
                    cur = primary.get(j).1;
                    continue;
                }
                let stop = if j < primary.len() { e.min(primary.get(j).0) } else { e };
                extra.push((cur, stop, l));
                cur = stop;
            }
        }
        drop(fallback);
        let extra = Sorted::Vec(extra); // made in start order
        // The range starts and their locations are written by walking the ranges again
        // for each section, not kept in arrays.
        let mut n_ranges = 0usize;
        let mut last_start = 0;
        merged_starts(&primary, &extra, |s, _| {
            n_ranges += 1;
            last_start = s;
        });
        // Each field as narrow as its largest value needs (the same for all locations).
        let mut top = [0u64; 6];
        for chunk in &self.locations.chunks {
            for l in chunk {
                for (t, v) in top.iter_mut().zip(l.fields()) {
                    *t = (*t).max(v);
                }
            }
        }
        let mut location = top.map(width_of);
        // At least a byte per record: the reader bounds the location count by the bytes.
        location[5] = location[5].max(1);
        let widths = Widths { start: width_of(last_start).max(1), location };
        let before_strings = HEADER_LEN
            + align8(n_ranges * widths.start as usize)
            + align8(n_ranges * 4)
            + align8(self.locations.len() * widths.stride())
            + self.functions.len() * FUNCTION_LEN
            + self.files.len() * 4
            + self.strings.len() * 8;
        // As `SymCache::parse` computes it: the string data pads the whole to 8 bytes.
        let size = align8(before_strings + self.string_bytes.len()) + END_MAGIC.len();
        out.begin(size as u64)?;
        let mut o = Chunks::new(out);

        o.put(MAGIC);
        o.u32(VERSION);
        o.u32(id.flags);
        o.u64(id.image_base);
        for w in [
            n_ranges as u32,
            self.locations.len() as u32,
            self.functions.len() as u32,
            self.files.len() as u32,
            self.strings.len() as u32,
            self.string_bytes.len() as u32,
            arch,
            debug_id,
            code_id,
            kind,
        ] {
            o.u32(w);
        }
        o.put(&[widths.start]);
        o.put(&widths.location);
        o.put(&[0]);
        debug_assert_eq!(o.at, HEADER_LEN as u64);
        merged_starts(&primary, &extra, |s, _| o.put(&s.to_le_bytes()[..widths.start as usize]));
        o.pad8();
        merged_starts(&primary, &extra, |_, l| o.u32(l));
        o.pad8();
        drop(primary);
        drop(extra);
        o.check()?;
        for chunk in std::mem::take(&mut self.locations.chunks) {
            // A record is put whole: a put per field costs more than the fields.
            let mut rec = [0u8; 48];
            for l in &chunk {
                let mut at = 0;
                for (v, w) in l.fields().into_iter().zip(widths.location) {
                    rec[at..at + 8].copy_from_slice(&v.to_le_bytes());
                    at += w as usize;
                }
                o.put(&rec[..at]);
            }
            o.check()?;
        }
        o.pad8();
        for f in std::mem::take(&mut self.functions) {
            for w in f {
                o.u32(w);
            }
        }
        for f in std::mem::take(&mut self.files) {
            o.u32(f);
        }
        o.check()?;
        for (offset, len) in std::mem::take(&mut self.strings) {
            o.u32(offset);
            o.u32(len);
        }
        o.check()?;
        o.put(&std::mem::take(&mut self.string_bytes));
        o.pad8();
        o.put(END_MAGIC);
        debug_assert_eq!(o.at, size as u64);
        o.flush()
    }
}

/// A finished build, not written yet: builders return it, so that what they read is
/// freed before the output is written.
pub struct SymCacheBuild {
    /// Everything interned and every range.
    pub writer: SymCacheWriter,
    /// The object identity for the header.
    pub identity: Identity,
    /// What the build skipped of the input (`native::warnings::Warnings::lines`); not
    /// part of the symcache.
    pub warnings: Vec<String>,
}

impl SymCacheBuild {
    /// The symcache's bytes ([`SymCacheWriter::finish`]).
    pub fn finish(self) -> Vec<u8> {
        self.writer.finish(&self.identity)
    }

    /// Writes the symcache to `out` ([`SymCacheWriter::finish_into`]).
    pub fn finish_into<O: Output>(self, out: &mut O) -> std::result::Result<(), O::Error> {
        self.writer.finish_into(&self.identity, out)
    }
}

/// Where [`SymCacheWriter::finish_into`] writes a symcache: its exact size first, then
/// all its bytes in order.
pub trait Output {
    /// Why the output failed; [`SymCacheWriter::finish_into`] stops and returns it.
    type Error;
    /// The symcache is `size` bytes; called once, before any [`write`](Self::write).
    fn begin(&mut self, size: u64) -> std::result::Result<(), Self::Error>;
    /// The next bytes of the symcache (at most [`OUTPUT_CHUNK`]).
    fn write(&mut self, bytes: &[u8]) -> std::result::Result<(), Self::Error>;
}

impl Output for Vec<u8> {
    type Error = std::convert::Infallible;

    fn begin(&mut self, size: u64) -> std::result::Result<(), Self::Error> {
        // Allocated once at its final size: no doubling, no copy.
        self.reserve_exact(size as usize);
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> std::result::Result<(), Self::Error> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// Size of the pieces [`SymCacheWriter::finish_into`] hands its [`Output`]: large enough
/// that a host call per piece costs nothing, small enough to stay a small allocation.
pub const OUTPUT_CHUNK: usize = 64 * 1024;

/// Gathers little writes into [`OUTPUT_CHUNK`]-sized ones. The first error is kept
/// (later writes are dropped) and returned by [`check`](Self::check): the section
/// loops stay plain.
struct Chunks<'o, O: Output> {
    out: &'o mut O,
    buf: Vec<u8>,
    /// Bytes written so far (for padding).
    at: u64,
    failed: Option<O::Error>,
}

impl<'o, O: Output> Chunks<'o, O> {
    fn new(out: &'o mut O) -> Self {
        Chunks { out, buf: Vec::with_capacity(OUTPUT_CHUNK), at: 0, failed: None }
    }

    fn put(&mut self, mut bytes: &[u8]) {
        self.at += bytes.len() as u64;
        while !bytes.is_empty() {
            let n = bytes.len().min(OUTPUT_CHUNK - self.buf.len());
            self.buf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.buf.len() == OUTPUT_CHUNK {
                self.send();
            }
        }
    }

    fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }

    fn pad8(&mut self) {
        let n = (8 - self.at % 8) % 8;
        self.put(&[0u8; 8][..n as usize]);
    }

    fn send(&mut self) {
        if self.failed.is_none() && !self.buf.is_empty() {
            if let Err(e) = self.out.write(&self.buf) {
                self.failed = Some(e);
            }
        }
        self.buf.clear();
    }

    fn check(&mut self) -> std::result::Result<(), O::Error> {
        match self.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn flush(mut self) -> std::result::Result<(), O::Error> {
        self.send();
        self.check()
    }
}

/// Calls `emit(start, location)` for each range start of the output: the ranges of `a`
/// and `b` (each sorted and disjoint, no start in both) in start order, neighbours with
/// one location joined, a [`NONE`] start at each gap and after the last range.
fn merged_starts(a: &Sorted, b: &Sorted, mut emit: impl FnMut(u64, u32)) {
    let (mut i, mut j) = (0, 0);
    // End and location of the range emitted last.
    let mut prev: Option<(u64, u32)> = None;
    let at = |r: &Sorted, k: usize| if k < r.len() { Some(r.get(k)) } else { None };
    loop {
        let (s, e, l) = match (at(a, i), at(b, j)) {
            (Some(x), Some(y)) if x.0 < y.0 => {
                i += 1;
                x
            }
            (Some(x), None) => {
                i += 1;
                x
            }
            (_, Some(y)) => {
                j += 1;
                y
            }
            (None, None) => break,
        };
        if let Some((end_prev, l_prev)) = prev {
            if s == end_prev && l == l_prev {
                prev = Some((e, l));
                continue;
            }
            if s > end_prev {
                emit(end_prev, NONE);
            }
        }
        emit(s, l);
        prev = Some((e, l));
    }
    if let Some((end, _)) = prev {
        emit(end, NONE);
    }
}

/// A growing array in fixed-size chunks: it never moves what it holds, so growing
/// it never needs the old and a doubled copy at once (a 1.4M-location build would
/// hold 100 MB for a moment) nor leaves holes a non-moving allocator cannot reuse.
struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

const CHUNK_BITS: u32 = 16;

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Chunked<T> {
    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, v: T) {
        if self.len & ((1 << CHUNK_BITS) - 1) == 0 {
            self.chunks.push(Vec::with_capacity(1 << CHUNK_BITS));
        }
        self.chunks.last_mut().unwrap().push(v);
        self.len += 1;
    }

    fn get(&self, i: u32) -> &T {
        &self.chunks[(i >> CHUNK_BITS) as usize][(i & ((1 << CHUNK_BITS) - 1)) as usize]
    }

    fn get_mut(&mut self, i: u32) -> &mut T {
        &mut self.chunks[(i >> CHUNK_BITS) as usize][(i & ((1 << CHUNK_BITS) - 1)) as usize]
    }

    fn last(&self) -> Option<&T> {
        self.chunks.last().and_then(|c| c.last())
    }

    fn truncate(&mut self, len: usize) {
        let n = (len + (1 << CHUNK_BITS) - 1) >> CHUNK_BITS;
        self.chunks.truncate(n);
        if let Some(c) = self.chunks.last_mut() {
            c.truncate(len - ((n - 1) << CHUNK_BITS));
        }
        self.len = len;
    }
}

/// Ranges sorted by start (equal starts in the order added).
enum Sorted {
    Vec(Vec<(u64, u64, u32)>),
    Chunked(Chunked<(u64, u64, u32)>),
}

impl Sorted {
    /// `ranges` sorted: as they are unless `unsorted`; else moved into one vector (the
    /// chunks are freed as they are copied) and sorted there, stably.
    fn of(ranges: Chunked<(u64, u64, u32)>, unsorted: bool) -> Sorted {
        if !unsorted {
            return Sorted::Chunked(ranges);
        }
        let mut v = Vec::with_capacity(ranges.len());
        for chunk in ranges.chunks {
            v.extend_from_slice(&chunk);
        }
        Sorted::from_vec(v)
    }

    /// `v` sorted in place, stably (equal starts keep the order they were added in).
    fn from_vec(mut v: Vec<(u64, u64, u32)>) -> Sorted {
        v.sort_by_key(|r| r.0);
        Sorted::Vec(v)
    }

    fn len(&self) -> usize {
        match self {
            Sorted::Vec(v) => v.len(),
            Sorted::Chunked(c) => c.len(),
        }
    }

    fn get(&self, i: usize) -> (u64, u64, u32) {
        match self {
            Sorted::Vec(v) => v[i],
            Sorted::Chunked(c) => *c.get(i as u32),
        }
    }

    fn set(&mut self, i: usize, r: (u64, u64, u32)) {
        match self {
            Sorted::Vec(v) => v[i] = r,
            Sorted::Chunked(c) => *c.get_mut(i as u32) = r,
        }
    }

    /// Clips overlaps in place: the range added first wins at equal starts; otherwise
    /// the earlier range keeps its extent.
    fn non_overlapping(mut self) -> Sorted {
        let mut kept = 0;
        for i in 0..self.len() {
            let (mut s, e, l) = self.get(i);
            if kept > 0 {
                let last_end = self.get(kept - 1).1;
                if e <= last_end {
                    continue;
                }
                s = s.max(last_end);
            }
            self.set(kept, (s, e, l));
            kept += 1;
        }
        match &mut self {
            Sorted::Vec(v) => v.truncate(kept),
            Sorted::Chunked(c) => c.truncate(kept),
        }
        self
    }
}

/// The bytes of interned string `i`.
fn string_text<'b>(strings: &[(u32, u32)], bytes: &'b [u8], i: u32) -> &'b [u8] {
    let (o, n) = strings[i as usize];
    &bytes[o as usize..(o + n) as usize]
}

fn hash_of<T: std::hash::Hash + ?Sized>(v: &T) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::hash::BuildHasherDefault::<crate::hash::FastHasher>::default().build_hasher();
    v.hash(&mut h);
    h.finish()
}

/// A hash set of indices into a table the writer keeps (open addressing, linear
/// probing): the keys live only in that table, where a `HashMap` would hold a second copy
/// of each (for locations and strings, the largest part of a big build's memory).
///
/// A slot holds the index in its low bits and, in the bits the index cannot use (indices
/// are below the table's length, a power of two), a tag from the hash: a probe compares a
/// key in the writer's table (a cache miss at random) only when the tags agree.
#[derive(Default)]
struct IndexSet {
    /// Tagged indices, [`NONE`] for a free slot; the length is zero or a power of two.
    slots: Vec<u32>,
    len: usize,
}

impl IndexSet {
    /// The mask of a slot's index bits and the tag of `hash`, for a table of `len` slots.
    fn split(len: usize, hash: u64) -> (u32, u32) {
        let bits = len.trailing_zeros();
        if bits >= 32 {
            return (u32::MAX, 0);
        }
        (((1u64 << bits) - 1) as u32, ((hash >> 32) as u32) << bits)
    }

    /// The index whose key `is` says is equal, else the free slot to insert it at.
    fn find(&self, hash: u64, is: impl Fn(u32) -> bool) -> std::result::Result<u32, usize> {
        if self.slots.is_empty() {
            return Err(0);
        }
        let mask = self.slots.len() - 1;
        let (index_bits, tag) = Self::split(self.slots.len(), hash);
        let mut at = hash as usize & mask;
        loop {
            match self.slots[at] {
                NONE => return Err(at),
                s if s & !index_bits == tag && is(s & index_bits) => return Ok(s & index_bits),
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Puts `index` (whose key hashes to `hash`) at `slot` (from [`find`](Self::find));
    /// `rehash` gives the hash of an index when the table grows. Indices are inserted in
    /// order, 0, 1, 2, ...: the set always holds `0..len`.
    fn insert(&mut self, slot: usize, hash: u64, index: u32, rehash: impl Fn(u32) -> u64) {
        debug_assert_eq!(index as usize, self.len);
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            // At most three quarters full: probes stay short. The keys are rehashed in
            // index order, which reads the writer's table front to back.
            self.slots = vec![NONE; (self.slots.len() * 2).max(64)];
            let mask = self.slots.len() - 1;
            for i in 0..=index {
                let h = if i == index { hash } else { rehash(i) };
                let (_, tag) = Self::split(self.slots.len(), h);
                let mut at = h as usize & mask;
                while self.slots[at] != NONE {
                    at = (at + 1) & mask;
                }
                self.slots[at] = i | tag;
            }
        } else {
            let (_, tag) = Self::split(self.slots.len(), hash);
            self.slots[slot] = index | tag;
        }
        self.len += 1;
    }
}

fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// One frame of a lookup answer, with strings borrowed from the symcache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame<'data> {
    /// Demangled function name, `None` when unknown (demangled now if the symcache
    /// stores only the raw name).
    pub function: Option<Cow<'data, str>>,
    /// Function name as stored in the debug file.
    pub raw_function: Option<&'data str>,
    /// Full path of the source file, `None` when unknown.
    pub file: Option<&'data str>,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
    /// Start of the function or inlined instance, relative to the image base.
    pub sym_addr: u64,
    /// Whether this frame was inlined into the next one.
    pub inlined: bool,
}

/// One location as stored, its strings as string indices ([`SymCache::string`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Demangled function name as a name id ([`SymCache::name`]): a string index, or
    /// (format 4) [`SymCache::string_count`] + the function's index when the name is
    /// demangled from the raw one at lookup; [`NONE`] when unknown.
    pub function: u32,
    /// Function name as stored in the debug file, or [`NONE`].
    pub raw_function: u32,
    /// Full path of the source file, or [`NONE`].
    pub file: u32,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
    /// Start of the function or inlined instance, relative to the image base.
    pub sym_addr: u64,
    /// The location this one was inlined into (a smaller index), or [`NONE`].
    pub caller: u32,
}

/// A symcache read in place.
#[derive(Clone, Debug)]
pub struct SymCache<'data> {
    data: &'data [u8],
    id: Identity,
    n_ranges: usize,
    /// Bytes per range start (8 before version 3).
    start_width: usize,
    starts: &'data [u8],
    range_locs: &'data [u8],
    n_locations: usize,
    layout: LocationLayout,
    locations: &'data [u8],
    functions: &'data [u8],
    files: &'data [u8],
    strings: &'data [u8],
    string_bytes: &'data [u8],
    /// Format 4: a function whose name is `NONE` is named by demangling its raw name.
    lazy_names: bool,
}

#[inline(always)]
fn rd32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn rd64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Where a location's fields are: the record size, and each field's offset and width
/// (file, line, column, function, caller, sym_addr).
#[derive(Clone, Copy, Debug)]
struct LocationLayout {
    stride: usize,
    fields: [(usize, usize); 6],
    /// Version 3 stores the three indices plus one (`NONE` as 0); earlier ones as they are.
    plus_one: bool,
}

impl LocationLayout {
    const V2: LocationLayout =
        LocationLayout { stride: LOCATION_LEN_V2, fields: [(0, 4), (4, 4), (8, 4), (12, 4), (16, 4), (24, 8)], plus_one: false };

    fn v3(widths: [u8; 6]) -> LocationLayout {
        let mut fields = [(0, 0); 6];
        let mut at = 0;
        for (f, &w) in fields.iter_mut().zip(&widths) {
            *f = (at, w as usize);
            at += w as usize;
        }
        LocationLayout { stride: at, fields, plus_one: true }
    }

    /// Field `k` of the record at `b`.
    fn get(&self, b: &[u8], k: usize) -> u64 {
        let (at, w) = self.fields[k];
        rd_n(b, at, w)
    }

    /// Index field `k` (file, function, caller) of the record at `b`.
    fn index(&self, b: &[u8], k: usize) -> u32 {
        let v = self.get(b, k);
        if self.plus_one {
            (v as u32).wrapping_sub(1) // 0 is NONE
        } else {
            v as u32
        }
    }
}

impl<'data> SymCache<'data> {
    /// Reads and validates a symcache; copies nothing.
    pub fn parse(data: &'data [u8]) -> Result<Self> {
        if data.len() < HEADER_LEN + 8 || &data[..8] != MAGIC {
            return Err(invalid("not a pysym symcache (bad magic or too short)"));
        }
        let version = rd32(data, 8);
        if !(1..=VERSION).contains(&version) {
            return Err(invalid(format!("symcache version {} is not supported (this is version {})", version, VERSION)));
        }
        let (header_len, start_width, layout) = if version >= 3 {
            if data.len() < HEADER_LEN + 8 {
                return Err(invalid("symcache is too short for its header"));
            }
            let w = &data[HEADER_LEN_V2..HEADER_LEN];
            // Indices are u32 (plus one), addresses u64.
            if !(1..=8).contains(&w[0]) || w[1..6].iter().any(|&x| x > 4) || w[6] > 8 || w[7] != 0 {
                return Err(invalid("symcache field widths are out of range"));
            }
            let layout = LocationLayout::v3([w[1], w[2], w[3], w[4], w[5], w[6]]);
            if layout.stride == 0 {
                // Zero-byte records would let a tiny file claim 2^32 locations.
                return Err(invalid("symcache location records are empty"));
            }
            (HEADER_LEN, w[0] as usize, layout)
        } else {
            (HEADER_LEN_V2, 8, LocationLayout::V2)
        };
        let flags = rd32(data, 12);
        let image_base = rd64(data, 16);
        let n = |i: usize| rd32(data, 24 + 4 * i) as usize;
        let (n_ranges, n_locs, n_funcs, n_files, n_strings, n_bytes) = (n(0), n(1), n(2), n(3), n(4), n(5));
        // Section sizes in u64 arithmetic so that hostile counts cannot overflow.
        let pad8 = |n: u64| (n + 7) & !7;
        let sizes = [
            pad8(n_ranges as u64 * start_width as u64),
            pad8(n_ranges as u64 * 4),
            pad8(n_locs as u64 * layout.stride as u64),
            n_funcs as u64 * FUNCTION_LEN as u64,
            n_files as u64 * 4,
            n_strings as u64 * 8,
        ];
        let total_before_bytes: u64 = header_len as u64 + sizes.iter().sum::<u64>();
        let total = pad8(total_before_bytes + n_bytes as u64) + 8;
        if total != data.len() as u64 {
            return Err(invalid(format!("symcache is {} bytes, its header describes {} (truncated or corrupt)", data.len(), total)));
        }
        if &data[data.len() - 8..] != END_MAGIC {
            return Err(invalid("symcache end marker missing (truncated or corrupt)"));
        }
        let mut pos = header_len;
        let mut take = |len: u64| {
            let s = &data[pos..pos + len as usize];
            pos += len as usize;
            s
        };
        let starts = take(sizes[0]);
        let range_locs = take(sizes[1]);
        let locations = take(sizes[2]);
        let functions = take(sizes[3]);
        let files = take(sizes[4]);
        let strings = take(sizes[5]);
        let string_bytes = take(n_bytes as u64);
        let mut cache = SymCache {
            data,
            id: Identity::default(),
            n_ranges,
            start_width,
            starts,
            range_locs,
            n_locations: n_locs,
            layout,
            locations,
            functions,
            files,
            strings,
            string_bytes,
            lazy_names: version >= 4,
        };
        cache.validate(n_locs, n_funcs, n_files, n_strings)?;
        let s = |i: usize| -> Result<String> {
            let idx = rd32(data, 48 + 4 * i);
            Ok(cache.string(idx).unwrap_or("").to_string())
        };
        cache.id = Identity { arch: s(0)?, debug_id: s(1)?, code_id: s(2)?, kind: s(3)?, image_base, flags };
        Ok(cache)
    }

    fn validate(&self, n_locs: usize, n_funcs: usize, n_files: usize, n_strings: usize) -> Result<()> {
        // Every record is visited once, through exact chunks (no per-field bounds checks
        // or width dispatch in the loops): loading a cached symcache is mostly this.
        let w = self.start_width;
        let mut prev = 0u64;
        let starts = self.starts.chunks_exact(w).take(self.n_ranges);
        let locs = self.range_locs.chunks_exact(4).take(self.n_ranges);
        for (i, (s, l)) in starts.zip(locs).enumerate() {
            let s = rd_width(s, w);
            if i > 0 && s <= prev {
                return Err(invalid(format!("symcache range {} is not sorted", i)));
            }
            prev = s;
            let l = u32::from_le_bytes([l[0], l[1], l[2], l[3]]);
            if l != NONE && l as usize >= n_locs {
                return Err(invalid(format!("symcache range {} names location {} of {}", i, l, n_locs)));
            }
        }
        if self.n_ranges > 0 && rd32(self.range_locs, (self.n_ranges - 1) * 4) != NONE {
            return Err(invalid("symcache ranges do not end with a sentinel"));
        }
        let ok = |v: u32, n: usize| v == NONE || (v as usize) < n;
        // Chain depth per location: callers come first, so one pass computes them all.
        let lay = &self.layout;
        let (file_at, file_w) = lay.fields[0];
        let (func_at, func_w) = lay.fields[3];
        let (caller_at, caller_w) = lay.fields[4];
        let index = |b: &[u8], at: usize, w: usize| -> u32 {
            let v = rd_width(&b[at..at + w], w) as u32;
            if lay.plus_one {
                v.wrapping_sub(1) // 0 is NONE
            } else {
                v
            }
        };
        let mut depth: Vec<u16> = Vec::with_capacity(n_locs);
        for (i, b) in self.locations.chunks_exact(lay.stride).take(n_locs).enumerate() {
            let (file, func, caller) = (index(b, file_at, file_w), index(b, func_at, func_w), index(b, caller_at, caller_w));
            if !ok(file, n_files) || !ok(func, n_funcs) || !(caller == NONE || (caller as usize) < i) {
                return Err(invalid(format!("symcache location {} is out of range", i)));
            }
            let d = if caller == NONE { 1 } else { depth[caller as usize] + 1 };
            if d as usize > MAX_INLINE_DEPTH {
                return Err(invalid(format!("symcache location {} is more than {} frames deep", i, MAX_INLINE_DEPTH)));
            }
            depth.push(d);
        }
        for (i, f) in self.functions.chunks_exact(FUNCTION_LEN).take(n_funcs).enumerate() {
            if !ok(rd32(f, 0), n_strings) || !ok(rd32(f, 4), n_strings) {
                return Err(invalid(format!("symcache function {} is out of range", i)));
            }
        }
        for (i, f) in self.files.chunks_exact(4).take(n_files).enumerate() {
            if !ok(rd32(f, 0), n_strings) {
                return Err(invalid(format!("symcache file {} is out of range", i)));
            }
        }
        // One UTF-8 pass over all string bytes, then each string's ends on character
        // boundaries; if the bytes as a whole are not UTF-8 (bytes no string uses may be
        // anything), each string is checked on its own.
        let text = std::str::from_utf8(self.string_bytes).ok();
        for (i, e) in self.strings.chunks_exact(8).take(n_strings).enumerate() {
            let (o, n) = (rd32(e, 0) as u64, rd32(e, 4) as u64);
            if o + n > self.string_bytes.len() as u64 {
                return Err(invalid(format!("symcache string {} is out of range", i)));
            }
            let (o, end) = (o as usize, (o + n) as usize);
            let utf8 = match text {
                Some(t) => t.is_char_boundary(o) && t.is_char_boundary(end),
                None => std::str::from_utf8(&self.string_bytes[o..end]).is_ok(),
            };
            if !utf8 {
                return Err(invalid(format!("symcache string {} is not UTF-8", i)));
            }
        }
        for i in 0..4 {
            if !ok(rd32(self.data, 48 + 4 * i), n_strings) {
                return Err(invalid("symcache header names a missing string"));
            }
        }
        Ok(())
    }

    /// The bytes the symcache was read from.
    pub fn as_bytes(&self) -> &'data [u8] {
        self.data
    }

    /// Object identity from the header.
    pub fn identity(&self) -> &Identity {
        &self.id
    }

    /// Number of address ranges (including gap and end sentinels).
    pub fn range_count(&self) -> usize {
        self.n_ranges
    }

    /// String `index` of the string table (validated UTF-8 at load).
    pub fn string(&self, index: u32) -> Option<&'data str> {
        if index == NONE || index as usize >= self.strings.len() / 8 {
            return None;
        }
        let i = index as usize;
        let (o, n) = (rd32(self.strings, i * 8) as usize, rd32(self.strings, i * 8 + 4) as usize);
        std::str::from_utf8(&self.string_bytes[o..o + n]).ok()
    }

    /// Number of strings (string indices are below it).
    pub fn string_count(&self) -> usize {
        self.strings.len() / 8
    }

    /// Name ids ([`Location::function`]) are below this: the strings, then one per function.
    pub fn name_count(&self) -> usize {
        self.string_count() + self.functions.len() / FUNCTION_LEN
    }

    /// The text of a name id: string `id`, or the demangled raw name of function
    /// `id - string_count()` (demangled on each call: hosts keep names by id).
    pub fn name(&self, id: u32) -> Option<Cow<'data, str>> {
        let n = self.string_count();
        if id == NONE || (id as usize) < n {
            return self.string(id).map(Cow::Borrowed);
        }
        let f = (id as usize - n) * FUNCTION_LEN;
        let raw = self.string(rd32(self.functions.get(f..f + 4)?, 0))?;
        Some(crate::native::demangle::demangle_cow(raw))
    }

    /// Number of locations.
    pub fn location_count(&self) -> usize {
        self.n_locations
    }

    /// Start of range `i`.
    fn start(&self, i: usize) -> u64 {
        rd_n(self.starts, i * self.start_width, self.start_width)
    }

    /// Location `index` with its strings as string indices, `None` when out of range.
    pub fn location(&self, index: u32) -> Option<Location> {
        if index as usize >= self.location_count() {
            return None;
        }
        let (lay, b) = (&self.layout, &self.locations[index as usize * self.layout.stride..]);
        let (file, line, column) = (lay.index(b, 0), lay.get(b, 1) as u32, lay.get(b, 2) as u32);
        let (func, caller) = (lay.index(b, 3), lay.index(b, 4));
        let (raw_function, function) = if func == NONE {
            (NONE, NONE)
        } else {
            let f = func as usize * FUNCTION_LEN;
            let (raw, name) = (rd32(self.functions, f), rd32(self.functions, f + 4));
            if name == NONE && raw != NONE && self.lazy_names {
                (raw, (self.string_count() + func as usize) as u32)
            } else {
                (raw, name)
            }
        };
        let file = if file == NONE { NONE } else { rd32(self.files, file as usize * 4) };
        Some(Location { function, raw_function, file, line, column, sym_addr: lay.get(b, 5), caller })
    }

    /// The innermost location covering `addr` (relative to the image base), if any.
    pub fn location_at(&self, addr: u64) -> Option<u32> {
        let loc = self.range_loc(self.ranges_up_to(addr, 0, self.n_ranges));
        if loc == NONE {
            None
        } else {
            Some(loc)
        }
    }

    /// `location_at` for many addresses, `NONE` where nothing covers one. Large batches
    /// are answered in address order, so that successive searches walk nearby starts
    /// instead of missing the cache on every step of a full binary search.
    pub fn locations_at(&self, addrs: &[u64]) -> Vec<u32> {
        let mut out = vec![NONE; addrs.len()];
        if addrs.len() < 64 {
            for (o, &a) in out.iter_mut().zip(addrs) {
                *o = self.range_loc(self.ranges_up_to(a, 0, self.n_ranges));
            }
        } else {
            self.locations_in_address_order(addrs, |i, loc| out[i as usize] = loc);
        }
        out
    }

    /// The innermost location of each address, visited in address order (equal addresses
    /// in input order): `visit(i, loc)` for `addrs[i]`. Sorted, a batch gallops from one
    /// answer to the next instead of searching all ranges for each.
    pub fn locations_in_address_order(&self, addrs: &[u64], visit: impl FnMut(u32, u32)) {
        let bits = usize::BITS - addrs.len().leading_zeros();
        if addrs.iter().all(|&a| a.leading_zeros() >= bits) {
            // Address and index packed in one u64: a third less to move and one compare
            // (most of a batch's time in the module is this sort).
            let mut keys: Vec<u64> = addrs.iter().enumerate().map(|(i, &a)| a << bits | i as u64).collect();
            keys.sort_unstable();
            let mask = (1u64 << bits) - 1;
            self.gallop(keys.iter().map(|&k| (k >> bits, (k & mask) as u32)), visit);
        } else {
            let mut order: Vec<(u64, u32)> = addrs.iter().enumerate().map(|(i, &a)| (a, i as u32)).collect();
            order.sort_unstable();
            self.gallop(order.into_iter(), visit);
        }
    }

    /// `visit(i, location)` for sorted `(address, i)` pairs.
    fn gallop(&self, sorted: impl Iterator<Item = (u64, u32)>, mut visit: impl FnMut(u32, u32)) {
        let mut pos = 0usize;
        for (a, i) in sorted {
            // Gallop from the previous answer: the next address is at or after it.
            let mut step = 1usize;
            let mut hi = pos;
            while hi < self.n_ranges && self.start(hi) <= a {
                pos = hi + 1;
                hi = pos + step;
                step *= 2;
            }
            pos = self.ranges_up_to(a, pos, hi.min(self.n_ranges));
            visit(i, self.range_loc(pos));
        }
    }

    /// Number of ranges starting at or before `addr`, given that it lies in `lo..=hi`.
    fn ranges_up_to(&self, addr: u64, mut lo: usize, mut hi: usize) -> usize {
        // partition_point over the u64 starts without building a slice of u64.
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.start(mid) <= addr {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The location of the range before partition point `p`, `NONE` when there is none.
    fn range_loc(&self, p: usize) -> u32 {
        if p == 0 {
            NONE
        } else {
            rd32(self.range_locs, (p - 1) * 4)
        }
    }

    /// The frames at `addr` (relative to the image base), innermost first.
    pub fn lookup(&self, addr: u64) -> Vec<Frame<'data>> {
        let mut frames = Vec::new();
        let mut loc = match self.location_at(addr) {
            Some(l) => l,
            None => return frames,
        };
        // Validated at parse: every location exists and callers have smaller indices.
        while let Some(l) = self.location(loc) {
            frames.push(Frame {
                function: self.name(l.function),
                raw_function: self.string(l.raw_function),
                file: self.string(l.file),
                line: l.line,
                column: l.column,
                sym_addr: l.sym_addr,
                inlined: l.caller != NONE,
            });
            loc = l.caller;
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = SymCacheWriter::new();
        let f_main = w.function("main", "main", 0);
        let f_inl = w.function("_Z3addii", "add(int, int)", 4);
        let file = w.file("/src/a.c");
        let outer = FrameSpec { function: f_main, file, line: 10, column: 3, sym_addr: 0x1000 };
        let inner = FrameSpec { function: f_inl, file, line: 2, column: 0, sym_addr: 0x1010 };
        let l1 = w.chain(&[FrameSpec { line: 9, ..outer.clone() }]);
        let l2 = w.chain(&[outer.clone(), inner]);
        w.range(0x1000, 0x1010, l1);
        w.range(0x1010, 0x1020, l2);
        w.range(0x2000, 0x2004, l1);
        w.finish(&Identity { kind: "elf".into(), arch: "x86_64".into(), image_base: 0x400000, ..Default::default() })
    }

    /// Probe steps a lookup of every interned string takes (its slot minus its home slot).
    fn string_probes(w: &SymCacheWriter) -> usize {
        let slots = &w.string_index.slots;
        let mask = slots.len() - 1;
        let (index_bits, _) = IndexSet::split(slots.len(), 0);
        let mut total = 0;
        for (at, &s) in slots.iter().enumerate() {
            if s != NONE {
                let home = hash_of(string_text(&w.strings, &w.string_bytes, s & index_bits)) as usize & mask;
                total += (at + slots.len() - home) & mask;
            }
        }
        total
    }

    #[test]
    fn sequential_names_intern_as_cheaply_as_random_ones() {
        // Names f0..f199999 once clustered in the index (the hash's low bits saw only
        // their first bytes) and interning went quadratic; compare with random names of
        // the same lengths.
        let n = 200_000u32;
        let mut seq = SymCacheWriter::new();
        let mut rnd = SymCacheWriter::new();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..n {
            let name = format!("f{}", i);
            seq.string(&name);
            let mut other = String::from("f");
            while other.len() < name.len() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                other.push((b'a' + (state % 26) as u8) as char);
            }
            rnd.string(&other);
        }
        assert_eq!(seq.strings.len(), n as usize);
        let (ps, pr) = (string_probes(&seq), string_probes(&rnd));
        // about 1.5 probes per key at this load; random names may repeat (fewer keys)
        assert!(ps < 3 * n as usize, "{} probes for {} sequential names", ps, n);
        assert!(ps * 2 < pr * 3, "sequential {} vs random {} probes", ps, pr);
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let c = SymCache::parse(&bytes).unwrap();
        assert_eq!(c.identity().arch, "x86_64");
        assert_eq!(c.identity().image_base, 0x400000);
        assert!(c.lookup(0xfff).is_empty());
        let f = c.lookup(0x1000);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].function.as_deref(), f[0].line, f[0].inlined), (Some("main"), 9, false));
        let f = c.lookup(0x101f);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].function.as_deref(), f[0].raw_function, f[0].line, f[0].inlined), (Some("add(int, int)"), Some("_Z3addii"), 2, true));
        assert_eq!((f[1].function.as_deref(), f[1].line, f[1].column, f[1].sym_addr), (Some("main"), 10, 3, 0x1000));
        assert!(c.lookup(0x1020).is_empty());
        assert_eq!(c.lookup(0x2003).len(), 1);
        assert!(c.lookup(0x2004).is_empty());
    }

    /// Ranges in address order (kept in their chunks) and in any order (sorted at
    /// `finish`) give the same symcache: the first range added wins where they overlap.
    #[test]
    fn ranges_in_any_order_and_across_chunks() {
        let n = (1u64 << CHUNK_BITS) + 1000;
        // Two ranges per start: the second, longer one only shows past the first's end.
        let ranges: Vec<(u64, u64, u32)> =
            (0..n).flat_map(|i| [(16 * i, 16 * i + 8, (2 * i) as u32), (16 * i, 16 * i + 12, (2 * i + 1) as u32)]).collect();
        let build = |order: &[(u64, u64, u32)]| {
            let mut w = SymCacheWriter::new();
            let f = w.function("f", "f", 0);
            let locs: Vec<u32> = (0..2 * n as u32)
                .map(|k| w.chain(&[FrameSpec { function: f, file: NONE, line: k + 1, column: 0, sym_addr: 0 }]))
                .collect();
            for &(s, e, k) in order {
                w.range(s, e, locs[k as usize]);
            }
            w.finish(&Identity::default())
        };
        let sorted = build(&ranges);
        // Reversed pairs of starts, each pair still in the order that decides overlaps.
        let mut shuffled: Vec<(u64, u64, u32)> = ranges.chunks(2).rev().flatten().copied().collect();
        shuffled.rotate_left(777 * 2);
        assert_eq!(build(&shuffled), sorted);
        let c = SymCache::parse(&sorted).unwrap();
        for i in [0, 1, (1 << CHUNK_BITS) - 1, 1 << CHUNK_BITS, n - 1] {
            assert_eq!(c.lookup(16 * i + 7)[0].line, (2 * i + 1) as u32);
            assert_eq!(c.lookup(16 * i + 8)[0].line, (2 * i + 2) as u32);
            assert!(c.lookup(16 * i + 12).is_empty());
        }
    }

    /// The same symcache in the version 2 layout (FORMAT.md, version history).
    fn as_version_2(bytes: &[u8]) -> Vec<u8> {
        let c = SymCache::parse(bytes).unwrap();
        let mut out = bytes[..HEADER_LEN_V2].to_vec();
        out[8..12].copy_from_slice(&2u32.to_le_bytes());
        for i in 0..c.n_ranges {
            out.extend_from_slice(&c.start(i).to_le_bytes());
        }
        out.extend_from_slice(c.range_locs);
        for i in 0..c.location_count() {
            let b = &c.locations[i * c.layout.stride..];
            let (lay, l) = (&c.layout, c.location(i as u32).unwrap());
            for w in [lay.index(b, 0), l.line, l.column, lay.index(b, 3), l.caller, 0] {
                out.extend_from_slice(&w.to_le_bytes());
            }
            out.extend_from_slice(&l.sym_addr.to_le_bytes());
        }
        let tail = c.functions.as_ptr() as usize - bytes.as_ptr() as usize;
        out.extend_from_slice(&bytes[tail..]);
        out
    }

    #[test]
    fn version_2_is_read_like_version_3() {
        let v3 = sample();
        let v2 = as_version_2(&v3);
        assert!(v2.len() > v3.len());
        let (a, b) = (SymCache::parse(&v3).unwrap(), SymCache::parse(&v2).unwrap());
        assert_eq!(a.identity(), b.identity());
        for addr in [0, 0xfff, 0x1000, 0x100f, 0x1010, 0x101f, 0x1020, 0x2003, 0x2004, u64::MAX] {
            assert_eq!(a.lookup(addr), b.lookup(addr));
        }
        assert_eq!(a.lookup(0x101f).len(), 2);
        // A version 3 header with a width past its field's limit is refused.
        let mut bad = v3.clone();
        bad[65] = 5;
        assert!(SymCache::parse(&bad).is_err());
        // So are zero-byte location records, which would let a few bytes claim 2^32
        // locations (and the reader check each of them).
        let empty = SymCacheWriter::new().finish(&Identity::default());
        let mut bad = empty.clone();
        bad[65..71].fill(0);
        bad[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = SymCache::parse(&bad).unwrap_err();
        assert!(format!("{:?}", e).contains("empty"), "{:?}", e);
        assert!(SymCache::parse(&empty).is_ok());
    }

    #[test]
    fn batched_lookups_agree_with_single_ones() {
        let mut w = SymCacheWriter::new();
        let file = w.file("/src/a.c");
        let f = w.function("f", "f", 0);
        // Ranges with gaps, so that batches meet covered, uncovered and boundary addresses.
        for i in 0..500u32 {
            let loc = w.chain(&[FrameSpec { function: f, file, line: i + 1, column: 0, sym_addr: 0 }]);
            w.range(0x1000 + 16 * i as u64, 0x1000 + 16 * i as u64 + 4 + (i % 13) as u64, loc);
        }
        let bytes = w.finish(&Identity::default());
        let c = SymCache::parse(&bytes).unwrap();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut addrs: Vec<u64> = (0..3000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                0xff0 + x % (16 * 520)
            })
            .collect();
        addrs.extend([0, 0xfff, 0x1000, 0x1003, 0x1004, u64::MAX, 0x1000 + 16 * 499]);
        // All of them (u64::MAX: sorted as (address, index) pairs), the random ones (packed
        // in one u64 each), and small batches (searched one by one).
        for batch in [&addrs[..], &addrs[..3000], &addrs[..10], &addrs[2990..]] {
            let want: Vec<u32> = batch.iter().map(|&a| c.location_at(a).unwrap_or(NONE)).collect();
            assert_eq!(c.locations_at(batch), want);
            let mut seen = vec![false; batch.len()];
            let mut last = 0u64;
            c.locations_in_address_order(batch, |i, loc| {
                let a = batch[i as usize];
                assert!(a >= last && !seen[i as usize] && loc == want[i as usize]);
                seen[i as usize] = true;
                last = a;
            });
            assert!(seen.iter().all(|&s| s));
        }
        assert!(c.locations_at(&addrs).iter().filter(|&&l| l != NONE).count() > 500);
    }

    #[test]
    fn deep_chains_keep_outermost_and_innermost_frames() {
        let mut w = SymCacheWriter::new();
        let file = w.file("/src/a.c");
        let chain: Vec<FrameSpec> = (0..MAX_INLINE_DEPTH as u32 + 44)
            .map(|i| FrameSpec { function: w.function(&format!("f{}", i), &format!("f{}", i), 0), file, line: i + 1, column: 0, sym_addr: 0x1000 })
            .collect();
        let loc = w.chain(&chain);
        w.range(0x1000, 0x1010, loc);
        let bytes = w.finish(&Identity::default());
        let c = SymCache::parse(&bytes).unwrap();
        let f = c.lookup(0x1000);
        assert_eq!(f.len(), MAX_INLINE_DEPTH);
        assert_eq!(f[0].function.as_deref(), Some("f299"));
        assert_eq!(f[MAX_INLINE_DEPTH - 2].function.as_deref(), Some("f45"));
        assert_eq!((f[MAX_INLINE_DEPTH - 1].function.as_deref(), f[MAX_INLINE_DEPTH - 1].inlined), (Some("f0"), false));
    }

    /// Format 4: a function stored with its raw name only is demangled at lookup, under a
    /// name id past the strings; the demangled text is not in the string table.
    #[test]
    fn raw_names_are_demangled_at_lookup() {
        let mut w = SymCacheWriter::new();
        let raw = w.string("_ZN2ns3addEii");
        let f = w.function_of(raw, NONE, 4);
        let g = w.function("g", "g", 0);
        let file = w.file("/src/a.cc");
        let outer = FrameSpec { function: g, file, line: 3, column: 0, sym_addr: 0x1000 };
        let loc = w.chain(&[outer, FrameSpec { function: f, file, line: 7, column: 2, sym_addr: 0x1004 }]);
        w.range(0x1000, 0x1010, loc);
        let bytes = w.finish(&Identity::default());
        let c = SymCache::parse(&bytes).unwrap();
        let frames = c.lookup(0x1008);
        assert_eq!(frames[0].function.as_deref(), Some("ns::add(int, int)"));
        assert_eq!(frames[0].raw_function, Some("_ZN2ns3addEii"));
        assert_eq!(frames[1].function.as_deref(), Some("g"));
        let l = c.location(c.location_at(0x1008).unwrap()).unwrap();
        assert!(l.function as usize >= c.string_count() && (l.function as usize) < c.name_count());
        assert_eq!(c.name(l.function).as_deref(), Some("ns::add(int, int)"));
        assert!((0..c.string_count() as u32).all(|i| c.string(i) != Some("ns::add(int, int)")));
        assert_eq!(c.name(c.name_count() as u32), None);
        // Read as version 3 (same layout), the raw-only name is unknown, as it always was.
        let mut v3 = bytes.clone();
        v3[8..12].copy_from_slice(&3u32.to_le_bytes());
        let c3 = SymCache::parse(&v3).unwrap();
        assert_eq!(c3.lookup(0x1008)[0].function, None);
        assert_eq!(c3.lookup(0x1008)[0].raw_function, Some("_ZN2ns3addEii"));
    }

    #[test]
    fn reader_refuses_chains_deeper_than_the_limit() {
        let mut w = SymCacheWriter::new();
        let mut caller = NONE;
        // Bypass `chain` (which elides) to write what a hostile writer could.
        for i in 0..=MAX_INLINE_DEPTH as u32 {
            let key = LocKey { file: NONE, line: i, column: 0, function: NONE, inlined_into: caller, sym_addr: 0 };
            w.locations.push(key);
            caller = i;
        }
        w.range(0, 4, caller);
        let bytes = w.finish(&Identity::default());
        let err = SymCache::parse(&bytes).unwrap_err();
        assert!(err.to_string().contains("frames deep"), "{}", err);
    }

    #[test]
    fn truncated_and_corrupt_are_errors() {
        let bytes = sample();
        for n in 0..bytes.len() {
            assert!(SymCache::parse(&bytes[..n]).is_err());
        }
        for i in 0..bytes.len() {
            for v in [0u8, 0xff, 0x7f] {
                let mut b = bytes.clone();
                b[i] = v;
                if let Ok(c) = SymCache::parse(&b) {
                    for a in [0u64, 0x1000, 0x1010, 0x2000, u64::MAX] {
                        let _ = c.lookup(a);
                    }
                }
            }
        }
    }
}
