//! Native debug files (read through the core's `DebugFile`) and the symcaches built
//! from them.
#![forbid(unsafe_code)]

use crate::boundary::{
    append_string_table, append_string_table_by, arg_str, fail, fail_core, host_u32, host_u64s, publish_result,
    push_u32, push_u32s, put_out, state, write_lines, write_string_table,
};
use crate::handles::{self, Owned};
use crate::host::{fail_file, read_whole_file, report_progress, reset_progress, HostFile, HostOutput};
use crate::status;
use pysym_core::io::FileError;
use pysym_core::native::DebugFile;
use pysym_core::sourcemap::NONE;
use pysym_core::symcache::{Location, LocationsError, SymCache};
use std::borrow::Cow;
use std::collections::BTreeMap;

type Cache = Owned<SymCache<'static>>;

fn symcache(h: u32) -> Result<&'static SymCache<'static>, i32> {
    handles::get::<Cache>(h).map(|c| &**c)
}

/// The debug file behind `fh` with the arch argument, for exports that read debug files.
pub(crate) fn open_debug_file(fh: u32, arch_ptr: u32, arch_len: u32) -> Result<DebugFile<HostFile>, i32> {
    let arch = arg_str(arch_ptr, arch_len)?;
    Ok(DebugFile::open(HostFile::open(fh)?, arch.as_deref()))
}

/// A u64 as two out words, `NONE, NONE` for none.
fn opt_u64_words(v: Option<u64>) -> [u32; 2] {
    match v {
        Some(v) => [v as u32, (v >> 32) as u32],
        None => [NONE, NONE],
    }
}

pub(crate) fn object_info(fh: u32, arch_ptr: u32, arch_len: u32, out: u32) -> i32 {
    let info = match open_debug_file(fh, arch_ptr, arch_len) {
        Ok(file) => file.info(),
        Err(code) => return code,
    };
    let info = match info {
        Ok(info) => info,
        Err(e) => return fail_file(e),
    };
    let flags = info.has_debug_info as u32 | (info.has_symbols as u32) << 1 | (info.has_unwind_info as u32) << 2;
    let id = &info.identity;
    let link = info.debuglink.as_ref();
    // [kind, arch, debug_id, code_id, debug_file, debuglink, warning...]
    let items = [
        id.kind.as_str(),
        id.arch.as_str(),
        id.debug_id.as_str(),
        id.code_id.as_str(),
    ]
    .into_iter()
    .map(Some)
    .chain(std::iter::once(info.debug_file.as_deref()))
    .chain(std::iter::once(link.map(|l| l.0.as_str())))
    .chain(info.warnings.iter().map(|w| Some(w.as_str())))
    .map(|s| s.map(Cow::Borrowed))
    .collect::<Vec<_>>();
    write_string_table(items.into_iter());
    publish_result(out);
    let [lo, hi] = opt_u64_words(info.code_offset);
    let crc = link.map_or(0, |l| l.1);
    put_out(
        out + 8,
        &[id.image_base as u32, (id.image_base >> 32) as u32, flags, crc, lo, hi],
    );
    status::OK
}

pub(crate) fn build(fh: u32, arch_ptr: u32, arch_len: u32, out: u32) -> i32 {
    let file = match open_debug_file(fh, arch_ptr, arch_len) {
        Ok(f) => f,
        Err(code) => return code,
    };
    reset_progress();
    // Pass 2 gives back the pages of an inflated `.debug_info` behind it.
    #[cfg(target_arch = "wasm32")]
    pysym_core::native::progress::set_discard(crate::host::discard_pages);
    let mut sink = HostOutput { offset: 0 };
    match pysym_core::native::progress::with_progress(report_progress, || file.build(&mut sink)) {
        Ok(warnings) => {
            report_progress(1, 1);
            write_lines(&warnings);
            let st = state();
            put_out(
                out,
                &[
                    sink.offset as u32,
                    (sink.offset >> 32) as u32,
                    st.result.as_ptr() as u32,
                    st.result.len() as u32,
                ],
            );
            status::OK
        }
        Err(FileError::Output(rc)) => fail(
            rc,
            format!(
                "the host did not take the symcache's output (at byte {}, status {})",
                sink.offset, rc
            ),
        ),
        Err(e) => fail_file(e),
    }
}

pub(crate) fn from_bytes(ptr: u32, len: u32, out: u32) -> i32 {
    match Owned::parse(ptr as *mut u8, len as usize, SymCache::parse) {
        Ok(cache) => handles::insert(cache, out),
        Err(e) => fail_core(e),
    }
}

/// `from_bytes` with only the header and geometry checked: for bytes the host checked
/// before (its own cache); look-ups report damage instead (`damaged`).
pub(crate) fn from_bytes_unchecked(ptr: u32, len: u32, out: u32) -> i32 {
    match Owned::parse(ptr as *mut u8, len as usize, SymCache::parse_unchecked) {
        Ok(cache) => handles::insert(cache, out),
        Err(e) => fail_core(e),
    }
}

/// The error of a look-up that met a damaged record (only in an unchecked symcache).
fn damaged(c: &SymCache<'_>, what: String) -> i32 {
    fail(
        status::INVALID_SYMCACHE,
        format!(
            "symcache {} (of {} locations): the symcache is damaged",
            what,
            c.location_count()
        ),
    )
}

pub(crate) fn from_file(fh: u32, out: u32) -> i32 {
    match read_whole_file(fh) {
        Ok((ptr, len)) => from_bytes(ptr as u32, len as u32, out),
        Err(code) => code,
    }
}

pub(crate) fn free(h: u32) -> i32 {
    handles::free::<Cache>(h)
}

pub(crate) fn info(h: u32, out: u32) -> i32 {
    let c = match symcache(h) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let id = c.identity();
    let items = [
        id.kind.as_str(),
        id.arch.as_str(),
        id.debug_id.as_str(),
        id.code_id.as_str(),
    ];
    write_string_table(items.iter().map(|s| Some(Cow::Borrowed(*s))));
    publish_result(out);
    put_out(
        out + 8,
        &[
            id.image_base as u32,
            (id.image_base >> 32) as u32,
            id.flags,
            c.range_count() as u32,
        ],
    );
    status::OK
}

pub(crate) fn bytes(h: u32, out: u32) -> i32 {
    let c = match symcache(h) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let b = c.as_bytes();
    put_out(out, &[b.as_ptr() as u32, b.len() as u32]);
    status::OK
}

pub(crate) fn lookup_many(h: u32, ptr: u32, count: u32, out: u32) -> i32 {
    let c = match symcache(h) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let addrs = host_u64s(ptr, count);
    let st = state();
    st.result.clear();
    st.result.reserve(count as usize * 4);
    let n = c.location_count();
    for loc in c.locations_at(&addrs) {
        if loc != NONE && loc as usize >= n {
            return damaged(c, format!("range names location {}", loc));
        }
        push_u32(&mut st.result, loc);
    }
    publish_result(out)
}

pub(crate) fn lookup_ordered(h: u32, ptr: u32, count: u32, first: u32, out: u32) -> i32 {
    let c = match symcache(h) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let n = count as usize;
    let addrs = host_u64s(ptr, count);
    let st = state();
    st.result.clear();
    st.result.reserve(n * 8);
    let mut ids: Vec<u32> = Vec::with_capacity(n);
    let mut top = 0u32;
    c.locations_in_address_order(&addrs, |i, loc| {
        push_u32(&mut st.result, first.wrapping_add(i));
        ids.push(loc);
        if loc != NONE {
            top = top.max(loc + 1);
        }
    });
    if top as usize > c.location_count() {
        return damaged(c, format!("range names location {}", top - 1));
    }
    for loc in ids {
        push_u32(&mut st.result, loc);
    }
    put_out(out, &[st.result.as_ptr() as u32, st.result.len() as u32, top]);
    status::OK
}

/// Each location's frames (itself, its caller, ...) as a span of `chains`, which holds
/// record positions: a host slices one list of frames per address instead of keeping a
/// chain per location. Callers come first in `wanted`, so a sweep from the last record
/// writes the chain of each location that no other one names, and its callers take
/// suffixes of it. `None` if a caller is not in `wanted` (a damaged symcache).
#[allow(clippy::type_complexity)]
fn chain_spans(wanted: &[(u32, Location)], asked: &[u32]) -> Option<(Vec<(u32, u32)>, Vec<u32>, Vec<u32>)> {
    // A caller's position is its rank in a bit set of the ids (`wanted` is sorted): O(1),
    // where a binary search over 100,000s of records misses the cache at each step. Ids
    // spread thinly over a large symcache (a crash request's few frames per module) are
    // searched instead: there the bit set would cost more to clear than the searches.
    let first = wanted.first().map_or(0, |e| e.0);
    let width = wanted.last().map_or(0, |e| (e.0 - first) as usize + 1);
    let dense = width <= wanted.len().saturating_mul(64);
    let (mut bits, mut before) = (Vec::new(), Vec::new());
    if dense {
        bits = vec![0u64; (width + 63) / 64];
        for (id, _) in wanted {
            let i = (id - first) as usize;
            bits[i / 64] |= 1 << (i % 64);
        }
        before.reserve_exact(bits.len());
        let mut count = 0u32;
        for w in &bits {
            before.push(count);
            count += w.count_ones();
        }
    }
    let position = |id: u32| -> Option<u32> {
        if !dense {
            return wanted.binary_search_by_key(&id, |e| e.0).ok().map(|p| p as u32);
        }
        let i = id.checked_sub(first)? as usize;
        let (w, bit) = (*bits.get(i / 64)?, 1u64 << (i % 64));
        (w & bit != 0).then(|| before[i / 64] + (w & (bit - 1)).count_ones())
    };
    let mut caller = Vec::with_capacity(wanted.len());
    for (_, l) in wanted {
        caller.push(if l.caller == NONE { NONE } else { position(l.caller)? });
    }
    // 1 + the record position of each asked id, 0 for NONE (pysym_symcache_locations_at).
    let mut at = Vec::with_capacity(asked.len());
    for &id in asked {
        at.push(if id == NONE { 0 } else { position(id)? + 1 });
    }
    let mut spans = vec![(NONE, NONE); wanted.len()];
    let mut chains: Vec<u32> = Vec::with_capacity(wanted.len() * 2);
    for p in (0..wanted.len()).rev() {
        if spans[p].0 != NONE {
            continue;
        }
        let start = chains.len();
        let mut q = p as u32;
        while q != NONE {
            chains.push(q);
            q = caller[q as usize];
        }
        let end = chains.len() as u32;
        for (k, &q) in chains[start..].iter().enumerate() {
            let span = &mut spans[q as usize];
            if span.0 == NONE {
                *span = ((start + k) as u32, end);
            }
        }
    }
    Some((spans, chains, at))
}

/// The locations `ids` name and all their callers, with their chain spans, the chains and
/// the places of `asked` (see `chain_spans`); a status when an id or the symcache is bad.
#[allow(clippy::type_complexity)]
fn answer(
    c: &SymCache<'_>,
    ids: impl Iterator<Item = u32>,
    asked: &[u32],
) -> Result<(Vec<(u32, Location)>, Vec<(u32, u32)>, Vec<u32>, Vec<u32>), i32> {
    let wanted = match c.locations_with_callers(ids) {
        Ok(w) => w,
        Err(LocationsError::NoLocation(loc)) => {
            return Err(fail(
                status::BAD_ARGUMENT,
                format!("no location {} (the symcache has {})", loc, c.location_count()),
            ))
        }
        Err(LocationsError::Damaged(loc)) => return Err(damaged(c, format!("location {}", loc))),
    };
    match chain_spans(&wanted, asked) {
        Some((spans, chains, places)) => Ok((wanted, spans, chains, places)),
        None => Err(damaged(c, "a location's caller is missing".to_string())),
    }
}

pub(crate) fn locations(h: u32, ptr: u32, count: u32, out: u32) -> i32 {
    let c = match symcache(h) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let (wanted, spans, chains, _) = match answer(c, (0..count as usize).map(|i| host_u32(ptr, i)), &[]) {
        Ok(x) => x,
        Err(code) => return code,
    };
    // Name ids: strings, then (format 4) functions whose names are demangled here.
    let mut string_seen = vec![0u64; (c.name_count() + 63) / 64];
    let mut strings: Vec<u32> = Vec::new();
    // Written straight into the result buffer: the records, the name ids, their strings.
    let st = state();
    st.result.clear();
    st.result.reserve(12 + 44 * wanted.len() + 4 * chains.len());
    push_u32(&mut st.result, wanted.len() as u32);
    for ((loc, l), (start, end)) in wanted.into_iter().zip(spans) {
        for s in [l.function, l.raw_function, l.file] {
            let (w, bit) = (s as usize / 64, 1u64 << (s % 64));
            if (s as usize) < c.name_count() && string_seen[w] & bit == 0 {
                string_seen[w] |= bit;
                strings.push(s);
            }
        }
        for v in record_words(loc, &l, [l.function, l.raw_function, l.file], (start, end)) {
            push_u32(&mut st.result, v);
        }
    }
    push_u32(&mut st.result, chains.len() as u32);
    for p in chains {
        push_u32(&mut st.result, p);
    }
    push_u32(&mut st.result, strings.len() as u32);
    for s in &strings {
        push_u32(&mut st.result, *s);
    }
    append_string_table(&mut st.result, strings.iter().map(|&s| c.name(s)));
    publish_result(out)
}

/// As `locations`, NONE ids allowed: the places of the asked ids and their chains' spans,
/// then the locations as columns (a host appends each to its own, without splitting
/// records), their names as slots `name_base + i` of the string table that ends the
/// result (0: none).
pub(crate) fn locations_at(h: u32, ptr: u32, count: u32, name_base: u32, out: u32) -> i32 {
    let c = match symcache(h) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if name_base == 0 || name_base as u64 + c.name_count() as u64 > NONE as u64 {
        return fail(status::BAD_ARGUMENT, format!("name base {} out of range", name_base));
    }
    let asked: Vec<u32> = (0..count as usize).map(|i| host_u32(ptr, i)).collect();
    let ids = asked.iter().copied().filter(|&id| id != NONE);
    let (wanted, spans, chains, places) = match answer(c, ids, &asked) {
        Ok(x) => x,
        Err(code) => return code,
    };
    // Each name once, in order of first use: 1 + its index by name id (0: not yet). A
    // word per name id for a large batch; a small one (a crash request's frames in one
    // module) keeps a map instead of clearing that many words.
    let name_count = c.name_count();
    let dense = wanted.len().saturating_mul(24) >= name_count;
    let mut by_id = if dense { vec![0u32; name_count] } else { Vec::new() };
    let mut by_id_sparse: BTreeMap<u32, u32> = BTreeMap::new();
    let mut names: Vec<u32> = Vec::new();
    // Slots first, then the whole result reserved and written in place: a cold batch's
    // result is megabytes, and each page a fresh instance touches costs a page fault (a
    // columns copy, or a buffer outgrown by the names and copied, touched twice as many).
    for (_, l) in &wanted {
        for s in [l.function, l.raw_function, l.file] {
            if s as usize >= name_count {
                continue; // NONE
            }
            let k = if dense {
                &mut by_id[s as usize]
            } else {
                by_id_sparse.entry(s).or_insert(0)
            };
            if *k == 0 {
                names.push(s);
                *k = names.len() as u32;
            }
        }
    }
    let name_slot = |s: u32| -> u32 {
        if s as usize >= name_count {
            return 0;
        }
        name_base + if dense { by_id[s as usize] } else { by_id_sparse[&s] } - 1
    };
    let n = wanted.len();
    let head = 4 * (3 * places.len() + 1 + n * LOCATION_COLUMNS + 1 + chains.len());
    // (a demangled name is seldom twice its raw one; past the estimate the buffer grows;
    // lengths a damaged symcache claims are bounded by its size)
    let text: usize = names.iter().map(|&s| 2 * c.stored_name_len(s) + 16).sum();
    let text = text.min(c.as_bytes().len());
    let st = state();
    st.result.clear();
    st.result.reserve(head + 4 + 8 * names.len() + text);
    push_u32s(&mut st.result, &places);
    // Each asked id's span too: a host slices an address's frames without a look-up of
    // its record's span per address.
    let span_of = |p: u32| if p == 0 { (0, 0) } else { spans[p as usize - 1] };
    for v in places
        .iter()
        .map(|&p| span_of(p).0)
        .chain(places.iter().map(|&p| span_of(p).1))
    {
        push_u32(&mut st.result, v);
    }
    push_u32(&mut st.result, n as u32);
    let at = st.result.len();
    st.result.resize(at + 4 * n * LOCATION_COLUMNS, 0);
    let columns = &mut st.result[at..];
    for (i, ((loc, l), &(start, end))) in wanted.iter().zip(&spans).enumerate() {
        let names = [name_slot(l.function), name_slot(l.raw_function), name_slot(l.file)];
        for (k, v) in record_words(*loc, l, names, (start, end)).into_iter().enumerate() {
            let w = 4 * (k * n + i);
            columns[w..w + 4].copy_from_slice(&v.to_le_bytes());
        }
    }
    push_u32(&mut st.result, chains.len() as u32);
    push_u32s(&mut st.result, &chains);
    append_string_table_by(&mut st.result, names.len(), true, |i, out| c.name_into(names[i], out));
    publish_result(out)
}

/// Words of a location record, as columns of `pysym_symcache_locations_at`.
const LOCATION_COLUMNS: usize = 11;

/// A location record's words (ABI.md "location record"): `names` are its function, raw
/// function and file as the result names them (string ids, or name slots).
fn record_words(loc: u32, l: &Location, names: [u32; 3], (start, end): (u32, u32)) -> [u32; LOCATION_COLUMNS] {
    let [function, raw_function, file] = names;
    [
        loc,
        function,
        raw_function,
        file,
        l.line,
        l.column,
        l.sym_addr as u32,
        (l.sym_addr >> 32) as u32,
        l.caller,
        start,
        end,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(caller: u32) -> Location {
        Location {
            function: NONE,
            raw_function: NONE,
            file: NONE,
            line: 0,
            column: 0,
            sym_addr: 0,
            caller,
        }
    }

    #[test]
    fn every_span_reads_its_chain() {
        // ids 3 and 7 are outer functions; 5 and 9 inline into 3, 8 into 5, 10 into 7,
        // 11 into 8 (two leaves share 3 and 5). Scaled: ids close together (ranks in a bit
        // set) and spread over millions (binary searches).
        for scale in [1u32, 1_000_003] {
            let id = |n: u32| if n == NONE { NONE } else { n * scale };
            let wanted: Vec<(u32, Location)> = [(3, NONE), (5, 3), (7, NONE), (8, 5), (9, 3), (10, 7), (11, 8)]
                .iter()
                .map(|&(n, caller)| (id(n), loc(id(caller))))
                .collect();
            let asked = [id(11), NONE, id(3), id(11), id(10)];
            let (spans, chains, at) = chain_spans(&wanted, &asked).unwrap();
            // each asked id's record, 1-based; 0 for NONE
            assert_eq!(at, [7, 0, 1, 7, 6]);
            assert_eq!(spans.len(), wanted.len());
            for (p, &(start, end)) in spans.iter().enumerate() {
                let got: Vec<u32> = chains[start as usize..end as usize]
                    .iter()
                    .map(|&q| wanted[q as usize].0)
                    .collect();
                let mut want = vec![wanted[p].0];
                let mut c = wanted[p].1.caller;
                while c != NONE {
                    want.push(c);
                    c = wanted.iter().find(|e| e.0 == c).unwrap().1.caller;
                }
                assert_eq!(got, want, "location {} (scale {})", wanted[p].0, scale);
            }
            // one chain per leaf (11, 10, 9): 4 + 2 + 2 positions, callers as suffixes
            assert_eq!(chains.len(), 8);
            // a caller that is not in the answer is a damaged symcache, not a panic
            assert!(chain_spans(&[(id(4), loc(id(2)))], &[]).is_none());
            assert!(chain_spans(&[(id(4), loc(id(6))), (id(9), loc(NONE))], &[]).is_none());
            // an asked id not in the answer too
            assert!(chain_spans(&[(id(4), loc(NONE))], &[id(5)]).is_none());
        }
    }
}
