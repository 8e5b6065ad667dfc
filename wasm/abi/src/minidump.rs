//! Minidumps (parsed and walked by ranges through the host's file table) and the CFI
//! caches their walks use.
#![forbid(unsafe_code)]

use crate::boundary::{fail, fail_core, publish_result, push_u32, put_out, state, write_lines, TakenInput};
use crate::handles::{self, KeptMinidump};
use crate::host::{fail_file, HostFile};
use crate::status;
use crate::symcache::open_debug_file;
use pysym_core::io;
use pysym_core::minidump::Minidump;
use pysym_core::unwind::CfiCache;

/// Parses the minidump behind `fh` (ranged reads) and puts its document in the result.
fn parse(fh: u32) -> Result<KeptMinidump, i32> {
    let file = io::File::new(HostFile::open(fh)?);
    let parsed = pysym_core::minidump::parse(&file.cached());
    let md = file.check(parsed).map_err(fail_file::<()>)?;
    state().result = md.to_json().into_bytes();
    Ok(KeptMinidump { md, size: file.size() })
}

pub(crate) fn parse_document(fh: u32, out: u32) -> i32 {
    match parse(fh) {
        Ok(_) => publish_result(out),
        Err(code) => code,
    }
}

pub(crate) fn unwind_build(fh: u32, arch_ptr: u32, arch_len: u32, out: u32) -> i32 {
    let built = match open_debug_file(fh, arch_ptr, arch_len) {
        Ok(file) => file.build_cfi(),
        Err(code) => return code,
    };
    let built = match built {
        Ok(b) => b,
        Err(e) => return fail_file(e),
    };
    write_lines(&built.warnings);
    let st = state();
    let table = std::mem::take(&mut st.result);
    st.result.reserve(4 + built.bytes.len() + table.len());
    push_u32(&mut st.result, built.bytes.len() as u32);
    st.result.extend_from_slice(&built.bytes);
    st.result.extend_from_slice(&table);
    publish_result(out);
    put_out(out + 8, &[built.rows as u32]);
    status::OK
}

/// Walks `md` (its saved memory read through `fh`; of `size` bytes if given) with the
/// CFI caches of `input` (ABI.md, `pysym_minidump_walk`).
fn walk(md: &Minidump, fh: u32, size: Option<u64>, input: &[u8], out: u32) -> i32 {
    let file = match HostFile::open(fh) {
        Ok(f) => io::File::new(f),
        Err(code) => return code,
    };
    if let Some(size) = size {
        if file.size() != size {
            return fail(
                status::BAD_ARGUMENT,
                format!(
                    "the minidump was parsed from {} bytes, file {} has {}",
                    size,
                    fh,
                    file.size()
                ),
            );
        }
    }
    let mut cfi: Vec<Option<CfiCache<'_>>> = vec![None; md.modules.len()];
    let word = |at: usize| {
        input
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let count = word(0).unwrap_or(0);
    let mut at = 4usize;
    for _ in 0..count {
        let (index, n) = match (word(at), word(at + 4)) {
            (Some(i), Some(n)) => (i as usize, n as usize),
            _ => return fail(status::BAD_ARGUMENT, "walk input: an entry runs past the end"),
        };
        let bytes = match input.get(at + 8..(at + 8).saturating_add(n)) {
            Some(b) => b,
            None => return fail(status::BAD_ARGUMENT, "walk input: a cache runs past the end"),
        };
        match CfiCache::parse(bytes) {
            Ok(c) if index < cfi.len() => cfi[index] = Some(c),
            Ok(_) => {
                return fail(
                    status::BAD_ARGUMENT,
                    format!("walk input: module {} is not in the dump", index),
                )
            }
            Err(e) => return fail_core(e),
        }
        at += 8 + n + (4 - n % 4) % 4;
    }
    let walked = pysym_core::unwind::walk::walk(md, &file.cached(), &cfi, &Default::default());
    if let Err(e) = file.check::<_, ()>(Ok(())) {
        return fail_file(e);
    }
    state().result = walked.to_json().into_bytes();
    publish_result(out)
}

pub(crate) fn walk_file(fh: u32, ptr: u32, len: u32, out: u32) -> i32 {
    let input = TakenInput::new(ptr, len);
    let file = match HostFile::open(fh) {
        Ok(f) => io::File::new(f),
        Err(code) => return code,
    };
    let parsed = pysym_core::minidump::parse(&file.cached());
    let md = match file.check(parsed) {
        Ok(md) => md,
        Err(e) => return fail_file::<()>(e),
    };
    walk(&md, fh, None, input.bytes(), out)
}

// -- minidumps kept between calls (ABI 9)

pub(crate) fn open(fh: u32, out: u32) -> i32 {
    let kept = match parse(fh) {
        Ok(m) => m,
        Err(code) => return code,
    };
    match handles::insert(Box::new(kept), out + 8) {
        status::OK => publish_result(out),
        code => code,
    }
}

pub(crate) fn walk_kept(fh: u32, handle: u32, ptr: u32, len: u32, out: u32) -> i32 {
    let input = TakenInput::new(ptr, len);
    match handles::get::<Box<KeptMinidump>>(handle) {
        Ok(kept) => walk(&kept.md, fh, Some(kept.size), input.bytes(), out),
        Err(code) => code,
    }
}

pub(crate) fn free(h: u32) -> i32 {
    handles::free::<Box<KeptMinidump>>(h)
}
