//! Native debug files (read through the core's `DebugFile`) and the symcaches built
//! from them.
#![forbid(unsafe_code)]

use crate::boundary::{
    arg_str, fail, fail_core, host_u32, host_u64s, publish_result, push_u32, put_out, state, write_lines,
    write_string_table,
};
use crate::handles::{self, Owned};
use crate::host::{fail_file, read_whole_file, report_progress, reset_progress, HostFile, HostOutput};
use crate::status;
use pysym_core::io::FileError;
use pysym_core::native::DebugFile;
use pysym_core::sourcemap::NONE;
use pysym_core::symcache::SymCache;
use std::borrow::Cow;

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
    for loc in c.locations_at(&addrs) {
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
    for loc in ids {
        push_u32(&mut st.result, loc);
    }
    put_out(out, &[st.result.as_ptr() as u32, st.result.len() as u32, top]);
    status::OK
}

const LOCATION_WORDS: usize = 9;

/// Sets bit `i` of a bit set; whether it was clear.
fn mark(set: &mut [u64], i: u32) -> bool {
    let (w, bit) = (i as usize / 64, 1u64 << (i % 64));
    let clear = set[w] & bit == 0;
    set[w] |= bit;
    clear
}

pub(crate) fn locations(h: u32, ptr: u32, count: u32, out: u32) -> i32 {
    let c = match symcache(h) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let n_locs = c.location_count();
    // Bit sets, not hash sets: a cold batch asks for 100,000s of locations.
    let mut marked = vec![0u64; (n_locs + 63) / 64];
    for i in 0..count as usize {
        let loc = host_u32(ptr, i);
        if loc as usize >= n_locs {
            return fail(
                status::BAD_ARGUMENT,
                format!("no location {} (the symcache has {})", loc, n_locs),
            );
        }
        mark(&mut marked, loc);
    }
    // Add callers: sweeping from the largest index down reaches each caller after all the
    // locations that name it (callers have smaller indices, as the reader checked).
    let mut wanted: Vec<u32> = Vec::new();
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
            let loc = (w * 64) as u32 + b;
            wanted.push(loc);
            if let Some(caller) = c.location(loc).map(|l| l.caller).filter(|&c| c != NONE && c < loc) {
                mark(&mut marked, caller);
            }
        }
    }
    wanted.reverse();
    let mut strings: Vec<u32> = Vec::new();
    // Name ids: strings, then (format 4) functions whose names are demangled here.
    let mut string_seen = vec![0u64; (c.name_count() + 63) / 64];
    let mut head: Vec<u8> = Vec::with_capacity(8 + 4 * LOCATION_WORDS * wanted.len());
    push_u32(&mut head, wanted.len() as u32);
    for &loc in &wanted {
        let l = match c.location(loc) {
            Some(l) => l,
            None => continue, // unreachable: checked above and by the symcache reader
        };
        for s in [l.function, l.raw_function, l.file] {
            if (s as usize) < c.name_count() && mark(&mut string_seen, s) {
                strings.push(s);
            }
        }
        for v in [
            loc,
            l.function,
            l.raw_function,
            l.file,
            l.line,
            l.column,
            l.sym_addr as u32,
            (l.sym_addr >> 32) as u32,
            l.caller,
        ] {
            push_u32(&mut head, v);
        }
    }
    push_u32(&mut head, strings.len() as u32);
    for s in &strings {
        push_u32(&mut head, *s);
    }
    write_string_table(strings.iter().map(|&s| c.name(s)));
    let st = state();
    let table = std::mem::replace(&mut st.result, head);
    st.result.extend_from_slice(&table);
    publish_result(out)
}
