//! What every export shares at the boundary: the result buffer and the out slot through
//! which answers leave, the last error, and the reading of what the host wrote into
//! linear memory (the only raw pointers outside the allocator and the host imports).
//!
//! The module is single-threaded (wasm32-unknown-unknown without threads), so the global
//! state below is only ever touched by one call at a time.

use crate::alloc::input_dealloc;
use crate::status;
use pysym_core::sourcemap::NONE;
use pysym_core::{Error, ErrorKind};
use std::borrow::Cow;

static mut OUT_SLOT: [u32; 16] = [0; 16];

/// Address of the 64-byte out slot.
pub(crate) fn out_slot() -> u32 {
    // SAFETY: only the address is taken; the host writes/reads it between calls.
    unsafe { std::ptr::addr_of_mut!(OUT_SLOT) as u32 }
}

pub(crate) struct State {
    /// The result buffer: the answer of the latest call that made one.
    pub result: Vec<u8>,
    /// The reusable input area (`pysym_input_buffer`).
    pub input: Vec<u64>,
    pub last_status: i32,
    pub last_error: String,
}

static mut STATE: Option<State> = None;

pub(crate) fn state() -> &'static mut State {
    // SAFETY: single-threaded module; no export re-enters another export, so at most one
    // mutable reference is live at a time.
    unsafe {
        if STATE.is_none() {
            STATE = Some(State {
                result: Vec::new(),
                input: Vec::new(),
                last_status: status::OK,
                last_error: String::new(),
            });
        }
        STATE.as_mut().unwrap()
    }
}

/// Records a failure for `pysym_last_error`; returns its status.
pub(crate) fn fail(code: i32, message: impl Into<String>) -> i32 {
    let st = state();
    st.last_status = code;
    st.last_error = message.into();
    code
}

/// The status of a core error.
pub(crate) fn fail_core(err: Error) -> i32 {
    let code = match err.kind() {
        ErrorKind::InvalidJson => status::INVALID_JSON,
        ErrorKind::InvalidSourceMap => status::INVALID_SOURCEMAP,
        ErrorKind::InvalidMappings => status::INVALID_MAPPINGS,
        ErrorKind::InvalidIndexMap => status::INVALID_INDEX_MAP,
        ErrorKind::LimitExceeded => status::LIMIT_EXCEEDED,
        ErrorKind::InvalidObject => status::INVALID_OBJECT,
        ErrorKind::UnsupportedObject => status::UNSUPPORTED_OBJECT,
        ErrorKind::InvalidSymCache => status::INVALID_SYMCACHE,
        _ => status::INVALID_JSON,
    };
    fail(code, err.to_string())
}

/// Writes words into the host's out slot (or any out pointer the host chose).
pub(crate) fn put_out(out: u32, words: &[u32]) {
    let p = out as *mut u32;
    for (i, w) in words.iter().enumerate() {
        // SAFETY: the host passes a pointer into linear memory with room for the words
        // the export documents; a bad pointer traps rather than corrupting the host.
        unsafe { p.add(i).write_unaligned(*w) };
    }
}

/// Publishes the result buffer through `out[0]`, `out[1]`.
pub(crate) fn publish_result(out: u32) -> i32 {
    let st = state();
    put_out(out, &[st.result.as_ptr() as u32, st.result.len() as u32]);
    status::OK
}

/// Makes `bytes` the result buffer and publishes it.
pub(crate) fn publish_bytes(bytes: &[u8], out: u32) -> i32 {
    let st = state();
    st.result.clear();
    st.result.extend_from_slice(bytes);
    publish_result(out)
}

/// Makes the words the result buffer (little-endian u32) and publishes it.
pub(crate) fn publish_words(words: impl IntoIterator<Item = u32>, out: u32) -> i32 {
    let st = state();
    st.result.clear();
    for w in words {
        push_u32(&mut st.result, w);
    }
    publish_result(out)
}

pub(crate) fn push_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

/// `words` pushed as little-endian u32s: one length change and a store loop (a
/// `push_u32` each checks the capacity and moves the length every word).
pub(crate) fn push_u32s(buf: &mut Vec<u8>, words: &[u32]) {
    let at = buf.len();
    buf.resize(at + 4 * words.len(), 0);
    for (dst, w) in buf[at..].chunks_exact_mut(4).zip(words) {
        dst.copy_from_slice(&w.to_le_bytes());
    }
}

/// `v` pushed `n` times as a little-endian u32 (as `push_u32s`).
pub(crate) fn push_u32_run(buf: &mut Vec<u8>, v: u32, n: usize) {
    let at = buf.len();
    buf.resize(at + 4 * n, 0);
    if v != 0 {
        for dst in buf[at..].chunks_exact_mut(4) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// A fresh result buffer of `size` zero bytes, or OUT_OF_MEMORY (`what` in the message).
pub(crate) fn result_of_size(size: usize, what: impl FnOnce() -> String) -> Result<&'static mut Vec<u8>, i32> {
    let st = state();
    st.result.clear();
    if st.result.try_reserve(size).is_err() {
        return Err(fail(status::OUT_OF_MEMORY, what()));
    }
    st.result.resize(size, 0);
    Ok(&mut st.result)
}

/// Builds a string table (ABI.md "String table") into the result buffer.
pub(crate) fn write_string_table<'a>(items: impl ExactSizeIterator<Item = Option<Cow<'a, str>>>) {
    let st = state();
    st.result.clear();
    append_string_table(&mut st.result, items);
}

/// Appends a string table (ABI.md "String table") to `out`: the entries are written in
/// place, their offsets filled in as the text follows them.
pub(crate) fn append_string_table<'a>(
    out: &mut Vec<u8>,
    mut items: impl ExactSizeIterator<Item = Option<Cow<'a, str>>>,
) {
    append_string_table_by(out, items.len(), false, |_, out| match items.next().flatten() {
        Some(s) => {
            out.extend_from_slice(s.as_bytes());
            true
        }
        None => false,
    });
}

/// As [`append_string_table`], each of the `count` strings appended to `out` by
/// `write(i, out)` (`false`: a null entry, nothing appended): written in place, no string
/// made per entry. With `nul`, each string is followed by a NUL byte that no entry covers
/// (a host that finds no NUL inside the strings splits the text at them).
pub(crate) fn append_string_table_by(
    out: &mut Vec<u8>,
    count: usize,
    nul: bool,
    mut write: impl FnMut(usize, &mut Vec<u8>) -> bool,
) {
    push_u32(out, count as u32);
    let entries = out.len();
    out.resize(entries + count * 8, 0);
    let text = out.len();
    for i in 0..count {
        let at = out.len();
        let (o, n) = if write(i, out) {
            let n = out.len() - at;
            if nul {
                out.push(0);
            }
            ((at - text) as u32, n as u32)
        } else {
            out.truncate(at);
            (0, NONE)
        };
        let e = entries + i * 8;
        out[e..e + 4].copy_from_slice(&o.to_le_bytes());
        out[e + 4..e + 8].copy_from_slice(&n.to_le_bytes());
    }
}

/// A string table of `lines` (what a build skipped) in the result buffer.
pub(crate) fn write_lines(lines: &[String]) {
    write_string_table(lines.iter().map(|w| Some(Cow::Borrowed(w.as_str()))));
}

// ---------------------------------------------------------------------------------------
// What the host wrote

/// The `len` bytes the host wrote at `ptr` (its input buffer or memory from `pysym_alloc`).
pub(crate) fn host_bytes(ptr: u32, len: u32) -> &'static [u8] {
    if ptr == 0 || len == 0 {
        return &[];
    }
    // SAFETY: the host wrote `len` bytes at `ptr`; a bad range traps.
    unsafe { std::slice::from_raw_parts(ptr as *const u8, len as usize) }
}

/// The `i`th of the u32 words the host wrote at `ptr`.
pub(crate) fn host_u32(ptr: u32, i: usize) -> u32 {
    // SAFETY: the host wrote at least `i + 1` words at `ptr`; an out-of-bounds read traps.
    unsafe { (ptr as *const u32).add(i).read_unaligned() }
}

/// The `i`th of the (line, col) pairs the host wrote at `ptr`.
pub(crate) fn host_pair(ptr: u32, i: usize) -> (u32, u32) {
    (host_u32(ptr, 2 * i), host_u32(ptr, 2 * i + 1))
}

/// The `count` u64 the host wrote at `ptr` (a batch's addresses).
pub(crate) fn host_u64s(ptr: u32, count: u32) -> Vec<u64> {
    let base = ptr as *const u64;
    // SAFETY: the host wrote `count` u64 at `ptr`; out-of-bounds traps.
    (0..count as usize)
        .map(|i| unsafe { base.add(i).read_unaligned() })
        .collect()
}

/// Reads an optional UTF-8 argument string (`len == 0`: none).
pub(crate) fn arg_str(ptr: u32, len: u32) -> Result<Option<String>, i32> {
    if len == 0 {
        return Ok(None);
    }
    match std::str::from_utf8(host_bytes(ptr, len)) {
        Ok(s) => Ok(Some(s.to_string())),
        Err(_) => Err(fail(status::BAD_ARGUMENT, "argument is not UTF-8")),
    }
}

/// Input memory from `pysym_alloc` that an export took ownership of, freed on drop.
pub(crate) struct TakenInput {
    ptr: u32,
    len: u32,
}

impl TakenInput {
    pub fn new(ptr: u32, len: u32) -> TakenInput {
        TakenInput { ptr, len }
    }

    /// Whether the host gave no memory (a null pointer).
    pub fn is_null(&self) -> bool {
        self.ptr == 0
    }

    pub fn bytes(&self) -> &[u8] {
        host_bytes(self.ptr, self.len)
    }
}

impl Drop for TakenInput {
    fn drop(&mut self) {
        input_dealloc(self.ptr as *mut u8, self.len as usize);
    }
}
