//! Writing a symcache: interning strings, files, functions and frame chains, collecting
//! ranges, and the output in one pass of sections ([`SymCacheWriter::finish_into`]).

use super::raw::{align8, width_of, Header, Widths, FUNCTION_LEN, HEADER_LEN};
use super::{FrameSpec, Identity, END_MAGIC, MAX_INLINE_DEPTH, NONE, VERSION};
use crate::hash::FastMap;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct LocKey {
    pub(super) file: u32,
    pub(super) line: u32,
    pub(super) column: u32,
    pub(super) function: u32,
    pub(super) inlined_into: u32,
    pub(super) sym_addr: u64,
}

impl LocKey {
    /// The hash the location index uses: the six fields in four words (a word per field
    /// cost two more multiply steps per lookup, on the build's hottest path).
    fn hash(&self) -> u64 {
        use std::hash::Hasher;
        let mut h = crate::hash::FastHasher::default();
        h.write_u64(u64::from(self.file) | u64::from(self.line) << 32);
        h.write_u64(u64::from(self.column) | u64::from(self.function) << 32);
        h.write_u64(u64::from(self.inlined_into));
        h.write_u64(self.sym_addr);
        h.finish()
    }

    /// The stored fields, in order: file, line, column, function, caller (the three
    /// indices plus one, so that `NONE` is 0), sym_addr. (Inlined: a call per location,
    /// twice, in wasm otherwise.)
    #[inline(always)]
    fn fields(&self) -> [u64; 6] {
        let plus_one = |v: u32| (v as u64 + 1) & 0xFFFF_FFFF;
        [
            plus_one(self.file),
            self.line as u64,
            self.column as u64,
            plus_one(self.function),
            plus_one(self.inlined_into),
            self.sym_addr,
        ]
    }
}

/// A location as the writer keeps it: [`LocKey`] in 24 bytes, not 32 (the locations are
/// the largest table held beside the DWARF: 290k of them for python3.11). `sym` is
/// `sym_addr` where that fits below [`BIG_SYM`], else `BIG_SYM` and the address is in
/// [`SymCacheWriter::big_syms`].
#[derive(Clone, Copy)]
pub(super) struct LocRec {
    file: u32,
    line: u32,
    column: u32,
    function: u32,
    inlined_into: u32,
    sym: u32,
}

/// [`LocRec::sym`] of a location whose `sym_addr` is kept aside.
const BIG_SYM: u32 = u32::MAX;

impl LocRec {
    fn of(key: &LocKey) -> LocRec {
        LocRec {
            file: key.file,
            line: key.line,
            column: key.column,
            function: key.function,
            inlined_into: key.inlined_into,
            sym: u32::try_from(key.sym_addr).unwrap_or(BIG_SYM),
        }
    }

    /// Whether the records are equal: fields XORed, not a chain of `==` (which LLVM
    /// merges into a `bcmp` call, a loop in wasm).
    #[inline]
    fn same(&self, o: &LocRec) -> bool {
        ((self.file ^ o.file)
            | (self.line ^ o.line)
            | (self.column ^ o.column)
            | (self.function ^ o.function)
            | (self.inlined_into ^ o.inlined_into)
            | (self.sym ^ o.sym))
            == 0
    }

    /// The location as a [`LocKey`] whose `sym_addr` is `sym` (the real one only where it
    /// fits, i.e. was not kept aside).
    #[inline]
    fn key_small(&self) -> LocKey {
        LocKey {
            file: self.file,
            line: self.line,
            column: self.column,
            function: self.function,
            inlined_into: self.inlined_into,
            sym_addr: u64::from(self.sym),
        }
    }

    /// [`LocKey::hash`] of the location (the same where `sym_addr` fits).
    fn hash(&self) -> u64 {
        self.key_small().hash()
    }

    /// [`LocKey::fields`] of location `i`, this one (`big`: the writer's `big_syms`).
    fn fields(&self, i: u32, big: &FastMap<u32, u64>) -> [u64; 6] {
        let mut f = self.fields_small();
        if self.sym == BIG_SYM {
            f[5] = big.get(&i).copied().unwrap_or(u64::MAX);
        }
        f
    }

    /// [`fields`](Self::fields) where no `sym_addr` was kept aside.
    #[inline]
    fn fields_small(&self) -> [u64; 6] {
        self.key_small().fields()
    }
}

/// Builds a symcache: intern strings, files, functions and frame chains, add ranges.
#[derive(Default)]
pub struct SymCacheWriter {
    pub(super) strings: Vec<(u32, u32)>,
    pub(super) string_bytes: Vec<u8>,
    pub(super) string_index: IndexSet,
    files: Vec<u32>,
    file_index: FastMap<u32, u32>,
    functions: Vec<[u32; 3]>,
    /// (an [`IndexSet`] over `functions`, not a map holding a second copy of each key:
    /// libLLVM's 34k functions took 1.1 MB of map at its build's peak, 0.26 MB so)
    function_index: IndexSet,
    pub(super) locations: Chunked<LocRec, LOCATION_CHUNK_BITS>,
    location_index: IndexSet,
    /// The `sym_addr`s of the locations that do not fit [`LocRec::sym`], by location.
    big_syms: FastMap<u32, u64>,
    /// The last chain's locations (outermost first): the next chain mostly shares them.
    recent: Vec<(LocKey, u32)>,
    /// The largest value of each location field ([`LocKey::fields`]) so far.
    top: [u64; 6],
    /// In fixed chunks: a big Breakpad file has ~10M ranges, and a doubling vector would
    /// need its old and new buffers at once. Builders mostly add them in address order;
    /// `ranges_unsorted` says one came before the range added ahead of it;
    /// `ranges_overlap`, that one began before that range's end (else, sorted, they are
    /// disjoint: nothing to clip).
    ranges: Chunked<(u64, u64, u32)>,
    ranges_unsorted: bool,
    ranges_overlap: bool,
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
        let slot = match self.string_index.find(hash, |i| {
            crate::hash::same_bytes(string_text(strings, bytes, i), s.as_bytes())
        }) {
            Ok(i) => return i,
            Err(slot) => slot,
        };
        let i = self.strings.len() as u32;
        self.strings.push((self.string_bytes.len() as u32, s.len() as u32));
        self.string_bytes.extend_from_slice(s.as_bytes());
        let (strings, bytes) = (&self.strings, &self.string_bytes);
        self.string_index
            .insert(slot, hash, i, |i| hash_of(string_text(strings, bytes, i)));
        i
    }

    /// Room for `n` more strings of `bytes` bytes in all: a symbol table's names, whose
    /// doubling buffer held its old and new copies at once near the build's peak.
    pub fn expect_strings(&mut self, n: usize, bytes: usize) {
        self.strings.reserve_exact(n);
        self.string_bytes.reserve_exact(bytes);
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
        let hash = hash_of(&key);
        let functions = &self.functions;
        // (fields XORed: `==` on arrays is a `bcmp` call in wasm)
        let same = |f: &[u32; 3]| ((f[0] ^ key[0]) | (f[1] ^ key[1]) | (f[2] ^ key[2])) == 0;
        let slot = match self.function_index.find(hash, |i| same(&functions[i as usize])) {
            Ok(i) => return i,
            Err(slot) => slot,
        };
        let i = self.functions.len() as u32;
        self.functions.push(key);
        let functions = &self.functions;
        self.function_index
            .insert(slot, hash, i, |i| hash_of(&functions[i as usize]));
        i
    }

    /// Interns a frame chain (outermost frame first) and gives the innermost location.
    /// Of a chain deeper than [`MAX_INLINE_DEPTH`], the outermost frame and the innermost
    /// ones are kept.
    pub fn chain(&mut self, frames: &[FrameSpec]) -> u32 {
        if frames.len() <= MAX_INLINE_DEPTH {
            // (a plain slice walk: the adapters below cost more than a frame found in
            // `recent`)
            return self.chain_of(frames.iter());
        }
        let skip = frames.len() - MAX_INLINE_DEPTH;
        self.chain_of(frames.iter().take(1).chain(frames.iter().skip(1 + skip)))
    }

    fn chain_of<'f>(&mut self, kept: impl Iterator<Item = &'f FrameSpec>) -> u32 {
        let mut caller = NONE;
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
        // (No cache of recent locations before the index: of libc's 165k lookups past
        // `recent`, 129k are new locations, for which such a cache was one more miss.)
        let rec = LocRec::of(&key);
        let hash = rec.hash();
        let (locations, big) = (&self.locations, &self.big_syms);
        let found = self.location_index.find(hash, |i| {
            locations.get(i).same(&rec) && (rec.sym != BIG_SYM || big.get(&i) == Some(&key.sym_addr))
        });
        let i = match found {
            Ok(i) => i,
            Err(slot) => {
                let i = self.locations.len() as u32;
                self.push_rec(&key, rec);
                let locations = &self.locations;
                self.location_index.insert(slot, hash, i, |i| locations.get(i).hash());
                i
            }
        };
        self.recent.push((key, i));
        i
    }

    /// Sizes the location index for `n` locations (a hint: it grows past them as before),
    /// sparing the rehashes of the doublings up to there.
    pub fn expect_locations(&mut self, n: usize) {
        let locations = &self.locations;
        self.location_index.reserve(n, |i| locations.get(i).hash());
    }

    /// Adds a location record (not interned: [`location`](Self::location) does that),
    /// keeping each field's largest value for the output's field widths.
    #[cfg(test)]
    pub(super) fn push_location(&mut self, key: LocKey) {
        self.push_rec(&key, LocRec::of(&key));
    }

    fn push_rec(&mut self, key: &LocKey, rec: LocRec) {
        for (t, v) in self.top.iter_mut().zip(key.fields()) {
            *t = (*t).max(v);
        }
        if rec.sym == BIG_SYM {
            self.big_syms.insert(self.locations.len() as u32, key.sym_addr);
        }
        self.locations.push(rec);
    }

    /// Maps `[start, end)` to the chain ending at `location`. Ranges may come in any
    /// order; where they overlap, the one added first wins.
    pub fn range(&mut self, start: u64, end: u64, location: u32) {
        if start < end && location != NONE {
            if let Some(r) = self.ranges.last() {
                if start < r.1 {
                    self.ranges_overlap = true;
                    self.ranges_unsorted |= start < r.0;
                }
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

    /// Room for `n` more [`fallback_range`](Self::fallback_range)s: a symbol table's
    /// count, where doubling left the old blocks resident.
    pub fn expect_fallback(&mut self, n: usize) {
        self.fallback.reserve_exact(n);
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
        self.function_index = IndexSet::default();
        self.location_index = IndexSet::default();
        self.recent = Vec::new();

        let mut primary = Sorted::of(std::mem::take(&mut self.ranges), self.ranges_unsorted);
        // (DWARF's rows come sorted and disjoint: a clipping pass rewrote each in place
        // for nothing, 1.6% of libc's build)
        if self.ranges_overlap {
            primary = primary.non_overlapping();
        }
        // The fallback ranges where no primary one reaches (sorted, disjoint like them):
        // their parts in the gaps between primary ranges, found in one walk of those (a
        // few comparisons a range where a search from each fallback range stepped
        // through every primary range it covers).
        let mut extra = Vec::new();
        let fallback = Sorted::from_vec(std::mem::take(&mut self.fallback)).non_overlapping();
        {
            let fb: &[(u64, u64, u32)] = fallback.slices().first().map_or(&[], |v| &v[..]);
            let mut fi = 0;
            // The parts of the fallback ranges from `fi` on in the gap `[g0, g1)`.
            let mut gap = |g0: u64, g1: u64, fi: &mut usize| {
                while let Some(&(s, e, l)) = fb.get(*fi).filter(|r| r.0 < g1) {
                    if e > g0 {
                        extra.push((s.max(g0), e.min(g1), l));
                    }
                    if e > g1 {
                        break; // (on past the gap)
                    }
                    *fi += 1;
                }
            };
            let mut g0 = 0u64;
            for slice in primary.slices() {
                for &(s, e, _) in slice {
                    if s > g0 && matches!(fb.get(fi), Some(r) if r.0 < s) {
                        gap(g0, s, &mut fi);
                    }
                    g0 = e;
                }
            }
            gap(g0, u64::MAX, &mut fi);
        }
        drop(fallback);
        // (`extra` is made in start order.) The range starts and their locations are
        // written by walking the ranges again for each section, not kept in arrays.
        let mut n_ranges = 0usize;
        let mut last_start = 0;
        merged_starts(&primary, &extra, |s, _| {
            n_ranges += 1;
            last_start = s;
        });
        // Each field as narrow as its largest value needs (the same for all locations).
        let mut location = self.top.map(width_of);
        // At least a byte per record: the reader bounds the location count by the bytes.
        location[5] = location[5].max(1);
        let widths = Widths {
            start: width_of(last_start).max(1),
            location,
        };
        let before_strings = HEADER_LEN
            + align8(n_ranges * widths.start as usize)
            + align8(n_ranges * 4)
            + align8(self.locations.len() * widths.stride())
            + self.functions.len() * FUNCTION_LEN
            + self.files.len() * 4
            + self.strings.len() * 8;
        // As `SymCache::parse` computes it: the string data pads the whole to 8 bytes.
        let string_len = self.string_bytes.len();
        let size = align8(before_strings + string_len) + END_MAGIC.len();
        out.begin(size as u64)?;
        let mut o = Chunks::new(out);

        let header = Header {
            version: VERSION,
            flags: id.flags,
            image_base: id.image_base,
            n_ranges: n_ranges as u32,
            n_locations: self.locations.len() as u32,
            n_functions: self.functions.len() as u32,
            n_files: self.files.len() as u32,
            n_strings: self.strings.len() as u32,
            string_bytes: string_len as u32,
            arch,
            debug_id,
            code_id,
            kind,
            widths: widths.to_bytes(),
        };
        o.put(&header.to_bytes());
        debug_assert_eq!(o.at(), HEADER_LEN as u64);
        let w_start = widths.start as usize;
        merged_starts(&primary, &extra, |s, _| o.le(s, w_start));
        o.pad8();
        merged_starts(&primary, &extra, |_, l| o.u32(l));
        o.pad8();
        drop(primary);
        drop(extra);
        o.check()?;
        let big = std::mem::take(&mut self.big_syms);
        let mut i = 0u32;
        for chunk in std::mem::take(&mut self.locations.chunks) {
            // A record's fields are stored in the chunk's buffer in turn, each 8 bytes at
            // the end of the one before (the record is at most 48 bytes: the slack).
            let (w, stride) = (widths.location.map(usize::from), widths.stride());
            let mut f = Fill::of(&mut o);
            for l in &chunk {
                // (no lookup where no sym_addr was kept aside: the common case)
                let fields = if big.is_empty() {
                    l.fields_small()
                } else {
                    l.fields(i, &big)
                };
                // One bounds check a record: the first five fields end at most 40 bytes
                // in (widths are at most 8), which the `min` tells the compiler.
                let n = f.len;
                let rec = &mut f.buf[n..n + 48];
                let mut at = 0;
                for k in 0..6 {
                    rec[at..at + 8].copy_from_slice(&fields[k].to_le_bytes());
                    at = (at + w[k]).min(40);
                }
                f.len += stride;
                f.full(&mut o);
                i = i.wrapping_add(1);
            }
            f.back(&mut o);
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
        // Given back as it is written: the output ends with it, when the host holds most
        // of the output (libLLVM: 2.35 MB of names beside the host's 3.76 MB).
        let bytes = std::mem::take(&mut self.string_bytes);
        let mut given = 0;
        for (k, piece) in bytes.chunks(STRINGS_PIECE).enumerate() {
            o.put(piece);
            given = crate::native::progress::discard_upto(&bytes, given, k * STRINGS_PIECE + piece.len());
        }
        o.pad8();
        o.put(END_MAGIC);
        debug_assert_eq!(o.at(), size as u64);
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
///
/// A fixed buffer with [`SLACK`] bytes past the chunk: a value or record is stored whole
/// at `len` with no room check (the buffer is sent as soon as a chunk is full, and what
/// ran past it moved to the front), where a `Vec`'s extend and truncate per value cost
/// more than the value.
struct Chunks<'o, O: Output> {
    out: &'o mut O,
    buf: Vec<u8>,
    /// Bytes in `buf`: below [`OUTPUT_CHUNK`] between calls.
    len: usize,
    /// Bytes sent so far.
    sent: u64,
    failed: Option<O::Error>,
}

/// Room past [`OUTPUT_CHUNK`] in [`Chunks`]' buffer: the most one store writes.
const SLACK: usize = 64;

impl<'o, O: Output> Chunks<'o, O> {
    fn new(out: &'o mut O) -> Self {
        Chunks {
            out,
            buf: vec![0; OUTPUT_CHUNK + SLACK],
            len: 0,
            sent: 0,
            failed: None,
        }
    }

    /// Bytes written so far (for padding).
    fn at(&self) -> u64 {
        self.sent + self.len as u64
    }

    fn put(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = bytes.len().min(OUTPUT_CHUNK - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
            self.full();
        }
    }

    #[inline(always)] // (a call per range otherwise)
    fn u32(&mut self, v: u32) {
        self.le(u64::from(v), 4);
    }

    /// The low `width` (at most 8) bytes of `v`, little-endian: a fixed 8-byte store and
    /// a shorter length (a copy of `width` bytes would be a call per value).
    #[inline(always)]
    fn le(&mut self, v: u64, width: usize) {
        self.store(v);
        self.len += width;
        self.full();
    }

    /// `v`'s 8 bytes at `len`, which does not move.
    #[inline(always)]
    fn store(&mut self, v: u64) {
        let n = self.len;
        self.buf[n..n + 8].copy_from_slice(&v.to_le_bytes());
    }

    /// Sends a full chunk, keeping what ran past it.
    #[inline(always)]
    fn full(&mut self) {
        if self.len >= OUTPUT_CHUNK {
            self.send_chunk();
        }
    }

    #[inline(never)]
    fn send_chunk(&mut self) {
        let n = self.len.min(OUTPUT_CHUNK);
        self.send(n);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    fn pad8(&mut self) {
        let n = (8 - self.at() % 8) % 8;
        self.put(&[0u8; 8][..n as usize]);
    }

    /// Sends the buffer's first `n` bytes.
    fn send(&mut self, n: usize) {
        if self.failed.is_none() && n > 0 {
            if let Err(e) = self.out.write(&self.buf[..n]) {
                self.failed = Some(e);
            }
        }
        self.sent += n as u64;
    }

    fn check(&mut self) -> std::result::Result<(), O::Error> {
        match self.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn flush(mut self) -> std::result::Result<(), O::Error> {
        self.send(self.len);
        self.len = 0;
        self.check()
    }
}

/// [`Chunks`]' buffer and fill lent to the location records' loop as locals: stores
/// through `Chunks` reload its fields after each one (a byte store may alias them). (Not
/// for the range columns: lent to `merged_starts`' closures it cost more, not less.)
/// Given back with [`Fill::back`].
struct Fill {
    buf: Vec<u8>,
    len: usize,
}

impl Fill {
    fn of<O: Output>(o: &mut Chunks<'_, O>) -> Fill {
        Fill {
            buf: std::mem::take(&mut o.buf),
            len: o.len,
        }
    }

    fn back<O: Output>(self, o: &mut Chunks<'_, O>) {
        o.buf = self.buf;
        o.len = self.len;
    }

    /// [`Chunks::full`].
    #[inline(always)]
    fn full<O: Output>(&mut self, o: &mut Chunks<'_, O>) {
        if self.len >= OUTPUT_CHUNK {
            o.buf = std::mem::take(&mut self.buf);
            o.len = self.len;
            o.send_chunk();
            self.buf = std::mem::take(&mut o.buf);
            self.len = o.len;
        }
    }
}

/// Calls `emit(start, location)` for each range start of the output: the ranges of `a`
/// and `b` (each sorted and disjoint, no start in both) in start order, neighbours with
/// one location joined, a [`NONE`] start at each gap and after the last range. (A walk of
/// `a`'s slices with `b` merged in by index: chained iterators and `Option` pairs cost
/// ~150 instructions a range, and this runs three times over every range of a build.)
#[inline]
fn merged_starts(a: &Sorted, b: &[(u64, u64, u32)], mut emit: impl FnMut(u64, u32)) {
    // End and location of the range emitted last (`first`: none yet).
    let (mut end_prev, mut l_prev, mut first) = (0u64, NONE, true);
    let mut step = |(s, e, l): (u64, u64, u32)| {
        if !first {
            if s == end_prev && l == l_prev {
                end_prev = e;
                return;
            }
            if s > end_prev {
                emit(end_prev, NONE);
            }
        }
        emit(s, l);
        (end_prev, l_prev, first) = (e, l, false);
    };
    let mut bi = 0;
    for slice in a.slices() {
        for &r in slice {
            while bi < b.len() && b[bi].0 <= r.0 {
                step(b[bi]);
                bi += 1;
            }
            step(r);
        }
    }
    for &q in &b[bi..] {
        step(q);
    }
    if !first {
        emit(end_prev, NONE);
    }
}

/// A growing array in fixed-size chunks: it never moves what it holds, so growing
/// it never needs the old and a doubled copy at once (a 1.4M-location build would
/// hold 100 MB for a moment) nor leaves holes a non-moving allocator cannot reuse.
/// `BITS`: 2^BITS records a chunk.
pub(super) struct Chunked<T, const BITS: u32 = CHUNK_BITS> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

/// 64k records a chunk (ranges).
pub(super) const CHUNK_BITS: u32 = 16;

/// 16k locations a chunk: the last chunk is half empty on average (64k of them left 1.2 MB
/// unused in python3.11's build, held beside its DWARF).
pub(super) const LOCATION_CHUNK_BITS: u32 = 14;

impl<T, const BITS: u32> Default for Chunked<T, BITS> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T, const BITS: u32> Chunked<T, BITS> {
    fn len(&self) -> usize {
        self.len
    }

    pub(super) fn push(&mut self, v: T) {
        if self.len & ((1 << BITS) - 1) == 0 {
            self.chunks.push(Vec::with_capacity(1 << BITS));
        }
        self.chunks.last_mut().unwrap().push(v);
        self.len += 1;
    }

    fn get(&self, i: u32) -> &T {
        &self.chunks[(i >> BITS) as usize][(i & ((1 << BITS) - 1)) as usize]
    }

    fn last(&self) -> Option<&T> {
        self.chunks.last().and_then(|c| c.last())
    }

    fn truncate(&mut self, len: usize) {
        let n = (len + (1 << BITS) - 1) >> BITS;
        self.chunks.truncate(n);
        if let Some(c) = self.chunks.last_mut() {
            c.truncate(len - ((n - 1) << BITS));
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

    /// The ranges in order, a slice at a time (none empty but the last).
    fn slices(&self) -> &[Vec<(u64, u64, u32)>] {
        match self {
            Sorted::Vec(v) => std::slice::from_ref(v),
            Sorted::Chunked(c) => &c.chunks,
        }
    }

    /// Clips overlaps in place: the range added first wins at equal starts; otherwise
    /// the earlier range keeps its extent. (A walk of the slices, not `get`/`set` per
    /// range: those were calls with a match each, ~3 % of libc's build.)
    fn non_overlapping(mut self) -> Sorted {
        let slices: &mut [Vec<(u64, u64, u32)>] = match &mut self {
            Sorted::Vec(v) => std::slice::from_mut(v),
            Sorted::Chunked(c) => &mut c.chunks,
        };
        // The kept ranges are written at (`wc`, `wi`), never past the one read (all
        // slices but the last are full).
        let (mut kept, mut last_end) = (0usize, 0u64);
        let (mut wc, mut wi) = (0usize, 0usize);
        for rc in 0..slices.len() {
            for ri in 0..slices[rc].len() {
                let (mut s, e, l) = slices[rc][ri];
                if kept > 0 {
                    if e <= last_end {
                        continue;
                    }
                    s = s.max(last_end);
                }
                slices[wc][wi] = (s, e, l);
                wi += 1;
                if wi == slices[wc].len() {
                    wc += 1;
                    wi = 0;
                }
                kept += 1;
                last_end = e;
            }
        }
        match &mut self {
            Sorted::Vec(v) => v.truncate(kept),
            Sorted::Chunked(c) => c.truncate(kept),
        }
        self
    }
}

/// The bytes of interned string `i`.
pub(super) fn string_text<'b>(strings: &[(u32, u32)], bytes: &'b [u8], i: u32) -> &'b [u8] {
    let (o, n) = strings[i as usize];
    &bytes[o as usize..(o + n) as usize]
}

/// How much of the string data [`SymCacheWriter::finish_into`] writes between giving its
/// pages back (a host call each).
const STRINGS_PIECE: usize = 256 * 1024;

/// The hash the writer's indexes use.
pub(super) fn hash_of<T: std::hash::Hash + ?Sized>(v: &T) -> u64 {
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
pub(super) struct IndexSet {
    /// Tagged indices, [`NONE`] for a free slot; the length is zero or a power of two.
    pub(super) slots: Vec<u32>,
    len: usize,
}

impl IndexSet {
    /// The mask of a slot's index bits and the tag of `hash`, for a table of `len` slots.
    pub(super) fn split(len: usize, hash: u64) -> (u32, u32) {
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
            // At most three quarters full: probes stay short.
            self.resize((self.slots.len() * 2).max(64), rehash);
            self.place(hash, index);
        } else {
            let (_, tag) = Self::split(self.slots.len(), hash);
            self.slots[slot] = index | tag;
        }
        self.len += 1;
    }

    /// Grows the table to hold `n` keys at most three quarters full, if it is smaller.
    fn reserve(&mut self, n: usize, rehash: impl Fn(u32) -> u64) {
        let want = (n.saturating_mul(4) / 3).saturating_add(1).next_power_of_two().max(64);
        if want > self.slots.len() && want <= 1 << 31 {
            self.resize(want, rehash);
        }
    }

    /// A table of `n` slots (a power of two) with the `len` keys there are. The keys are
    /// rehashed in index order, which reads the writer's table front to back.
    fn resize(&mut self, n: usize, rehash: impl Fn(u32) -> u64) {
        // The old table freed first: the keys are rehashed from the writer's tables.
        self.slots = Vec::new();
        self.slots = vec![NONE; n];
        for i in 0..self.len as u32 {
            self.place(rehash(i), i);
        }
    }

    /// Puts `index` (whose key hashes to `hash`, not in the table) at the first free slot
    /// of its probe sequence.
    #[inline]
    fn place(&mut self, hash: u64, index: u32) {
        let mask = self.slots.len() - 1;
        let (_, tag) = Self::split(self.slots.len(), hash);
        let mut at = hash as usize & mask;
        while self.slots[at] != NONE {
            at = (at + 1) & mask;
        }
        self.slots[at] = index | tag;
    }
}
