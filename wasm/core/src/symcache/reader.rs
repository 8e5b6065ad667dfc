//! Reading a symcache in place: parsed and validated once, then every lookup is a
//! binary search over the bytes.
//!
//! [`SymCache::parse_unchecked`] skips the O(n) checks of the sections' contents (for
//! bytes a host checked before: its own cache, FORMAT.md "Unchecked open"). Every read
//! below is therefore bounds-checked against the section it reads, whichever way the
//! symcache was opened: a damaged record is reported where it is read (`location` is
//! `None`, `locations_with_callers` an error), never a panic, and walks are bounded.

use super::raw::{invalid, rd32, rd_n, Header, LocationLayout, FUNCTION_LEN, HEADER_LEN, HEADER_LEN_V2};
use super::{Identity, END_MAGIC, MAGIC, MAX_INLINE_DEPTH, NONE, VERSION};
use crate::error::Result;
use std::borrow::Cow;

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
    pub(super) n_ranges: usize,
    /// Bytes per range start (8 before version 3).
    start_width: usize,
    starts: &'data [u8],
    pub(super) range_locs: &'data [u8],
    n_locations: usize,
    pub(super) layout: LocationLayout,
    pub(super) locations: &'data [u8],
    pub(super) functions: &'data [u8],
    files: &'data [u8],
    strings: &'data [u8],
    string_bytes: &'data [u8],
    /// `string_bytes` as text when `parse` found it all UTF-8: a string is then a slice of
    /// it (its ends were checked to be character boundaries), not validated per read.
    string_text: Option<&'data str>,
    /// Format 4: a function whose name is `NONE` is named by demangling its raw name.
    lazy_names: bool,
    /// Whether the contents were checked at open (`parse`), or only the geometry.
    checked: bool,
}

/// Why [`SymCache::locations_with_callers`] gave no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocationsError {
    /// An asked id is not a location of the symcache.
    NoLocation(u32),
    /// The record of this location (or of one of its callers) names a file, function,
    /// string or caller that does not exist, or its chain is deeper than
    /// `MAX_INLINE_DEPTH`: only in a symcache opened with `parse_unchecked`.
    Damaged(u32),
}
impl<'data> SymCache<'data> {
    /// Reads and validates a symcache; copies nothing.
    pub fn parse(data: &'data [u8]) -> Result<Self> {
        Self::open(data, true)
    }

    /// Reads a symcache checking only its header, the geometry of its sections (they
    /// fill the bytes exactly, end marker included) and its identity strings: O(1), for
    /// bytes that passed [`parse`](Self::parse) before (a host's own cache). Look-ups stay
    /// memory-safe and bounded on any bytes; on damaged ones they may answer wrongly or
    /// report the damage (see the module head).
    pub fn parse_unchecked(data: &'data [u8]) -> Result<Self> {
        Self::open(data, false)
    }

    /// Whether the contents were checked at open.
    pub fn is_checked(&self) -> bool {
        self.checked
    }

    fn open(data: &'data [u8], check: bool) -> Result<Self> {
        if data.len() < HEADER_LEN + 8 || &data[..8] != MAGIC {
            return Err(invalid("not a pysym symcache (bad magic or too short)"));
        }
        let header = Header::read(data);
        let version = header.version;
        if !(1..=VERSION).contains(&version) {
            return Err(invalid(format!(
                "symcache version {} is not supported (this is version {})",
                version, VERSION
            )));
        }
        let (header_len, start_width, layout) = if version >= 3 {
            if data.len() < HEADER_LEN + 8 {
                return Err(invalid("symcache is too short for its header"));
            }
            let w = &header.widths;
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
        let (flags, image_base) = (header.flags, header.image_base);
        let (n_ranges, n_locs, n_funcs, n_files) = (
            header.n_ranges as usize,
            header.n_locations as usize,
            header.n_functions as usize,
            header.n_files as usize,
        );
        let (n_strings, n_bytes) = (header.n_strings as usize, header.string_bytes as usize);
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
            return Err(invalid(format!(
                "symcache is {} bytes, its header describes {} (truncated or corrupt)",
                data.len(),
                total
            )));
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
            string_text: None,
            lazy_names: version >= 4,
            checked: check,
        };
        let names = header.identity_strings();
        if check {
            cache.string_text = cache.validate(n_locs, n_funcs, n_files, n_strings, names)?;
        } else if names.iter().any(|&n| n != NONE && cache.string(n).is_none()) {
            return Err(invalid("symcache header names a missing string"));
        }
        let s = |i: usize| -> Result<String> { Ok(cache.string(names[i]).unwrap_or("").to_string()) };
        cache.id = Identity {
            arch: s(0)?,
            debug_id: s(1)?,
            code_id: s(2)?,
            kind: s(3)?,
            image_base,
            flags,
        };
        Ok(cache)
    }

    /// Checks every record; the string bytes as text if they are all UTF-8.
    fn validate(
        &self,
        n_locs: usize,
        n_funcs: usize,
        n_files: usize,
        n_strings: usize,
        names: [u32; 4],
    ) -> Result<Option<&'data str>> {
        // Every record is visited once: loading a cached symcache is mostly this, so each
        // field is one 8-byte load and a mask. The sections are read through `tail`, the
        // data from a section's start to the end of the file: every field of a record
        // lies before the 8-byte end marker, so an 8-byte load at a field never runs off.
        let tail = |s: &[u8]| &self.data[s.as_ptr() as usize - self.data.as_ptr() as usize..];
        let mask = |w: usize| if w >= 8 { u64::MAX } else { (1u64 << (w * 8)) - 1 };
        let load = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
        let w = self.start_width;
        let (starts, start_mask) = (tail(self.starts), mask(w));
        let mut prev = 0u64;
        for i in 0..self.n_ranges {
            let s = load(starts, i * w) & start_mask;
            if i > 0 && s <= prev {
                return Err(invalid(format!("symcache range {} is not sorted", i)));
            }
            prev = s;
        }
        let range_locs = &self.range_locs[..self.n_ranges * 4];
        if let Some(i) = range_locs
            .chunks_exact(4)
            .position(|l| !ok_index(u32::from_le_bytes([l[0], l[1], l[2], l[3]]), n_locs))
        {
            return Err(invalid(format!(
                "symcache range {} names location {} of {}",
                i,
                rd32(range_locs, i * 4),
                n_locs
            )));
        }
        if self.n_ranges > 0 && rd32(self.range_locs, (self.n_ranges - 1) * 4) != NONE {
            return Err(invalid("symcache ranges do not end with a sentinel"));
        }
        let ok = ok_index;
        // Chain depth per location: callers come first, so one pass computes them all.
        let lay = &self.layout;
        let field = |k: usize| (lay.fields[k].0, mask(lay.fields[k].1));
        let ((file_at, file_m), (func_at, func_m), (caller_at, caller_m)) = (field(0), field(3), field(4));
        // Version 3 stores indices plus one (0 is NONE): subtracting 1 (wrapping) maps 0 to NONE.
        let minus = lay.plus_one as u32;
        let locations = tail(self.locations);
        let stride = lay.stride;
        let mut depth: Vec<u16> = Vec::with_capacity(n_locs);
        for i in 0..n_locs {
            let at = i * stride;
            let file = ((load(locations, at + file_at) & file_m) as u32).wrapping_sub(minus);
            let func = ((load(locations, at + func_at) & func_m) as u32).wrapping_sub(minus);
            let caller = ((load(locations, at + caller_at) & caller_m) as u32).wrapping_sub(minus);
            if !ok(file, n_files) || !ok(func, n_funcs) || !(caller == NONE || (caller as usize) < i) {
                return Err(invalid(format!("symcache location {} is out of range", i)));
            }
            let d = if caller == NONE { 1 } else { depth[caller as usize] + 1 };
            if d as usize > MAX_INLINE_DEPTH {
                return Err(invalid(format!(
                    "symcache location {} is more than {} frames deep",
                    i, MAX_INLINE_DEPTH
                )));
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
        let bytes: &'data [u8] = self.string_bytes;
        let text = std::str::from_utf8(bytes).ok();
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
        for name in names {
            if !ok(name, n_strings) {
                return Err(invalid("symcache header names a missing string"));
            }
        }
        Ok(text)
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
        let (o, n) = (
            rd32(self.strings, i * 8) as usize,
            rd32(self.strings, i * 8 + 4) as usize,
        );
        if let Some(text) = self.string_text {
            return text.get(o..o.checked_add(n)?);
        }
        // (checked at parse; unchecked bytes read as "unknown" where they are out of range)
        std::str::from_utf8(self.string_bytes.get(o..o.checked_add(n)?)?).ok()
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
        let (s, raw) = self.stored_name(id)?;
        let text = self.string(s)?;
        Some(if raw {
            crate::native::demangle::demangle_cow(text)
        } else {
            Cow::Borrowed(text)
        })
    }

    /// As [`Self::name`], appending the text to `out` (demangled in place where the
    /// demangler can: no allocation per name); `false` when there is none.
    pub fn name_into(&self, id: u32, out: &mut Vec<u8>) -> bool {
        match self.stored_name(id).and_then(|(s, raw)| Some((self.string(s)?, raw))) {
            Some((text, true)) => crate::native::demangle::demangle_into(text, out),
            Some((text, false)) => out.extend_from_slice(text.as_bytes()),
            None => return false,
        }
        true
    }

    /// Length of the stored text of name `id` (a function's raw name, before demangling;
    /// 0 when none): what a writer of names can reserve for it before asking [`Self::name`].
    pub fn stored_name_len(&self, id: u32) -> usize {
        let s = match self.stored_name(id) {
            Some((s, _)) => s,
            None => return 0,
        };
        // (the entry's length: no look at the text, which `string` would check)
        if s == NONE || s as usize >= self.string_count() {
            return 0;
        }
        rd32(self.strings, s as usize * 8 + 4) as usize
    }

    /// The string holding name `id`'s stored text, and whether it is a function's raw name
    /// (demangled when read): ids below the string count are strings, the others functions.
    fn stored_name(&self, id: u32) -> Option<(u32, bool)> {
        let n = self.string_count();
        if id == NONE || (id as usize) < n {
            return Some((id, false));
        }
        let f = (id as usize - n) * FUNCTION_LEN;
        Some((rd32(self.functions.get(f..f + 4)?, 0), true))
    }

    /// Number of locations.
    pub fn location_count(&self) -> usize {
        self.n_locations
    }

    /// Start of range `i`.
    pub(super) fn start(&self, i: usize) -> u64 {
        rd_n(self.starts, i * self.start_width, self.start_width)
    }

    /// Location `index` with its strings as string indices, `None` when out of range (or,
    /// in a symcache opened unchecked, when its record names a file, function, string or
    /// caller that does not exist: `parse` rules that out).
    pub fn location(&self, index: u32) -> Option<Location> {
        if index as usize >= self.location_count() {
            return None;
        }
        let (lay, b) = (&self.layout, &self.locations[index as usize * self.layout.stride..]);
        let (file, line, column) = (lay.index(b, 0), lay.get(b, 1) as u32, lay.get(b, 2) as u32);
        let (func, caller) = (lay.index(b, 3), lay.index(b, 4));
        if caller != NONE && caller >= index {
            return None; // a chain must end
        }
        let n_strings = self.string_count();
        let (raw_function, function) = if func == NONE {
            (NONE, NONE)
        } else {
            let f = func as usize * FUNCTION_LEN;
            let e = self.functions.get(f..f + FUNCTION_LEN)?;
            let (raw, name) = (rd32(e, 0), rd32(e, 4));
            if !ok_index(raw, n_strings) || !ok_index(name, n_strings) {
                return None;
            }
            if name == NONE && raw != NONE && self.lazy_names {
                (raw, (n_strings + func as usize) as u32)
            } else {
                (raw, name)
            }
        };
        let file = if file == NONE {
            NONE
        } else {
            let f = file as usize * 4;
            let s = rd32(self.files.get(f..f + 4)?, 0);
            if !ok_index(s, n_strings) {
                return None;
            }
            s
        };
        Some(Location {
            function,
            raw_function,
            file,
            line,
            column,
            sym_addr: lay.get(b, 5),
            caller,
        })
    }

    /// Locations `ids` and all their callers, each once, callers before their callees
    /// (increasing ids), with their records. Each location is read once: a sweep from the
    /// largest id down meets a caller after every location that names it (callers have
    /// smaller ids, as `parse` checked and `location` checks).
    pub fn locations_with_callers(
        &self,
        ids: impl Iterator<Item = u32>,
    ) -> std::result::Result<Vec<(u32, Location)>, LocationsError> {
        let n = self.location_count();
        // A bit set, not a hash set: a cold batch asks for 100,000s of locations.
        let mut marked = vec![0u64; (n + 63) / 64];
        for id in ids {
            if id as usize >= n {
                return Err(LocationsError::NoLocation(id));
            }
            marked[id as usize / 64] |= 1 << (id % 64);
        }
        // Reserved for the asked ids and twice as many callers (at most every location):
        // outgrown, the copy would touch (and fault in) the records again in fresh pages,
        // where capacity never written costs no page (inlined C++ asks ~1.5-2.5 per id).
        let asked: usize = marked.iter().map(|w| w.count_ones() as usize).sum();
        let mut out = Vec::with_capacity(asked.saturating_mul(3).min(n));
        for w in (0..marked.len()).rev() {
            let mut unvisited = u64::MAX;
            loop {
                // Read again each time: a caller can be marked in this very word.
                let bits = marked[w] & unvisited;
                if bits == 0 {
                    break;
                }
                let b = 63 - bits.leading_zeros();
                unvisited = (1u64 << b) - 1;
                let id = (w * 64) as u32 + b;
                let l = self.location(id).ok_or(LocationsError::Damaged(id))?;
                if l.caller != NONE {
                    marked[l.caller as usize / 64] |= 1 << (l.caller % 64);
                }
                out.push((id, l));
            }
        }
        out.reverse();
        if !self.checked {
            // `parse` bounds every chain; here each answered one is measured (callers come
            // first in `out`, each caller is in it).
            let mut depth: Vec<u16> = Vec::with_capacity(out.len());
            for (id, l) in &out {
                let d = if l.caller == NONE {
                    1
                } else {
                    match out.binary_search_by_key(&l.caller, |e| e.0) {
                        Ok(k) => depth[k] + 1,
                        Err(_) => return Err(LocationsError::Damaged(*id)),
                    }
                };
                if d as usize > MAX_INLINE_DEPTH {
                    return Err(LocationsError::Damaged(*id));
                }
                depth.push(d);
            }
        }
        Ok(out)
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
        // Callers have smaller indices (checked by `location`), and at most
        // MAX_INLINE_DEPTH frames are read (checked by `parse`, bounded here too).
        while frames.len() < MAX_INLINE_DEPTH {
            let l = match self.location(loc) {
                Some(l) => l,
                None => break,
            };
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

/// Whether `v` is `NONE` or an index below `n`.
#[inline(always)]
fn ok_index(v: u32, n: usize) -> bool {
    v == NONE || (v as usize) < n
}
