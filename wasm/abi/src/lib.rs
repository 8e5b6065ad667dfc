//! The host ABI shim: the only place with `extern`, `#[no_mangle]`, raw pointers, handle
//! tables and status codes. `wasm/ABI.md` is the contract; exports appear here in the
//! order that document lists them.
//!
//! The module is single-threaded (wasm32-unknown-unknown without threads), so the global
//! state below is only ever touched by one call at a time.

use pysym_core::js::names::{Enclosing, ScopeNames};
use pysym_core::sourcemap::cache::{self as smcache, SourceMapCache, Table};
use pysym_core::sourcemap::{Bias, SourceMap, Token, NONE};
use pysym_core::symcache::{Output, SymCache};
use pysym_core::{Error, ErrorKind};
use std::alloc::{alloc, dealloc, Layout};
use std::mem::ManuallyDrop;

#[cfg(any(target_arch = "wasm32", test))]
mod pools;

/// Bumped whenever an export, import, status code or layout changes (see ABI.md).
pub const ABI_VERSION: i32 = 10;

/// Status codes, generated from wasm/abi.toml (tools/abigen.py) like the tables of ABI.md.
pub mod status;

#[link(wasm_import_module = "pysym_host")]
extern "C" {
    fn file_size(fh: u32, out: *mut u64) -> i32;
    fn file_read(fh: u32, offset: u64, dst: *mut u8, len: u32) -> i32;
    fn progress(done: u32, total: u32) -> i32;
    fn output_begin(size: u64) -> i32;
    fn output_write(offset: u64, src: *const u8, len: u32) -> i32;
}

/// Per-mille last reported by [`report_progress`] (the module is single-threaded).
static mut LAST_PROGRESS: u64 = u64::MAX;

/// Tells the host how far a long export has got, at most once per per-mille step.
fn report_progress(done: u64, total: u64) {
    let total = total.max(1);
    let done = done.min(total);
    let permille = (done as u128 * 1000 / total as u128) as u64;
    // SAFETY: single-threaded module; the import takes two integers, its result is reserved.
    unsafe {
        if permille == LAST_PROGRESS {
            return;
        }
        LAST_PROGRESS = permille;
        progress(permille as u32, 1000);
    }
}

// ---------------------------------------------------------------------------------------
// Global state

const INPUT_ALIGN: usize = 8;
const TOKEN_WORDS: usize = 6;

static mut OUT_SLOT: [u32; 16] = [0; 16];

struct State {
    slab: Slab,
    result: Vec<u8>,
    input: Vec<u64>,
    last_status: i32,
    last_error: String,
}

static mut STATE: Option<State> = None;

fn state() -> &'static mut State {
    // SAFETY: single-threaded module; no export re-enters another export, so at most one
    // mutable reference is live at a time.
    unsafe {
        if STATE.is_none() {
            STATE = Some(State {
                slab: Slab::default(),
                result: Vec::new(),
                input: Vec::new(),
                last_status: status::OK,
                last_error: String::new(),
            });
        }
        STATE.as_mut().unwrap()
    }
}

fn fail(code: i32, message: impl Into<String>) -> i32 {
    let st = state();
    st.last_status = code;
    st.last_error = message.into();
    code
}

fn fail_core(err: Error) -> i32 {
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
fn put_out(out: u32, words: &[u32]) {
    let p = out as *mut u32;
    for (i, w) in words.iter().enumerate() {
        // SAFETY: the host passes a pointer into linear memory with room for the words
        // the export documents; a bad pointer traps rather than corrupting the host.
        unsafe { p.add(i).write_unaligned(*w) };
    }
}

/// Publishes the result buffer through `out[0]`, `out[1]`.
fn publish_result(out: u32) -> i32 {
    let st = state();
    put_out(out, &[st.result.as_ptr() as u32, st.result.len() as u32]);
    status::OK
}

fn push_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn push_token(buf: &mut Vec<u8>, t: &Token) {
    for w in token_words(t) {
        push_u32(buf, w);
    }
}

fn token_words(t: &Token) -> [u32; TOKEN_WORDS] {
    if t.src == NONE {
        [t.dst_line, t.dst_col, NONE, NONE, NONE, NONE]
    } else {
        [t.dst_line, t.dst_col, t.src, t.src_line, t.src_col, t.name]
    }
}

const NO_TOKEN: Token = Token { dst_line: NONE, dst_col: NONE, src: NONE, src_line: NONE, src_col: NONE, name: NONE };

/// Builds a string table (ABI.md "String table") into the result buffer.
fn write_string_table<'a>(items: impl ExactSizeIterator<Item = Option<std::borrow::Cow<'a, str>>>) {
    let st = state();
    let count = items.len();
    let mut entries: Vec<u8> = Vec::with_capacity(4 + count * 8);
    let mut data: Vec<u8> = Vec::new();
    push_u32(&mut entries, count as u32);
    for item in items {
        match item {
            Some(s) => {
                push_u32(&mut entries, data.len() as u32);
                push_u32(&mut entries, s.len() as u32);
                data.extend_from_slice(s.as_bytes());
            }
            None => {
                push_u32(&mut entries, 0);
                push_u32(&mut entries, NONE);
            }
        }
    }
    st.result.clear();
    st.result.extend_from_slice(&entries);
    st.result.extend_from_slice(&data);
}

// ---------------------------------------------------------------------------------------
// Handle slab

/// A source map together with the input bytes it borrows from.
struct OwnedMap {
    map: ManuallyDrop<SourceMap<'static>>,
    ptr: *mut u8,
    len: usize,
    /// Function scopes of the generated file, once the host gave it.
    scopes: Option<ScopeNames>,
}

impl OwnedMap {
    /// Parses `len` bytes at `ptr` (allocated by `input_alloc`), taking ownership.
    fn parse(ptr: *mut u8, len: usize) -> Result<OwnedMap, Error> {
        // SAFETY: `ptr` came from `input_alloc(len)` and stays allocated until `drop`,
        // which drops the map (the only borrower) first.
        let data: &'static [u8] = unsafe { std::slice::from_raw_parts(ptr, len) };
        match SourceMap::parse(data) {
            Ok(map) => Ok(OwnedMap { map: ManuallyDrop::new(map), ptr, len, scopes: None }),
            Err(e) => {
                input_dealloc(ptr, len);
                Err(e)
            }
        }
    }
}

impl Drop for OwnedMap {
    fn drop(&mut self) {
        // SAFETY: the map borrows the bytes, so it goes first; then the bytes are freed
        // with the layout they were allocated with.
        unsafe { ManuallyDrop::drop(&mut self.map) };
        input_dealloc(self.ptr, self.len);
    }
}

enum Entry {
    SourceMap(OwnedMap),
    SmCache(OwnedSmCache),
    SymCache(OwnedSymCache),
    Minidump(Box<OwnedMinidump>),
}

/// A parsed minidump kept between calls (`pysym_minidump_open`), so that walking it does
/// not parse it again; its saved memory stays in the host's file, read at walk time.
struct OwnedMinidump {
    md: pysym_core::minidump::Minidump,
    /// The size of the file it was parsed from: a walk refuses a file of another size.
    size: u64,
}

struct Slot {
    generation: u32,
    entry: Option<Entry>,
}

#[derive(Default)]
struct Slab {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

const INDEX_BITS: u32 = 20;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
const GENERATION_MASK: u32 = (1 << (32 - INDEX_BITS)) - 1;

impl Slab {
    fn insert(&mut self, entry: Entry) -> Option<u32> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                if self.slots.len() as u32 > INDEX_MASK {
                    return None;
                }
                self.slots.push(Slot { generation: 1, entry: None });
                self.slots.len() as u32 - 1
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.entry = Some(entry);
        Some((slot.generation << INDEX_BITS) | index)
    }

    fn get(&self, handle: u32) -> Option<&Entry> {
        let slot = self.slots.get((handle & INDEX_MASK) as usize)?;
        if slot.generation != handle >> INDEX_BITS {
            return None;
        }
        slot.entry.as_ref()
    }

    fn get_mut(&mut self, handle: u32) -> Option<&mut Entry> {
        let slot = self.slots.get_mut((handle & INDEX_MASK) as usize)?;
        if slot.generation != handle >> INDEX_BITS {
            return None;
        }
        slot.entry.as_mut()
    }

    fn remove(&mut self, handle: u32) -> Option<Entry> {
        let index = handle & INDEX_MASK;
        let slot = self.slots.get_mut(index as usize)?;
        if slot.generation != handle >> INDEX_BITS || slot.entry.is_none() {
            return None;
        }
        // Generation 0 is skipped so that no handle is ever 0.
        slot.generation = (slot.generation % GENERATION_MASK) + 1;
        self.free.push(index);
        slot.entry.take()
    }
}

fn owned_map(handle: u32) -> Result<&'static mut OwnedMap, i32> {
    match state().slab.get_mut(handle) {
        Some(Entry::SourceMap(m)) => Ok(m),
        _ => Err(fail(status::BAD_HANDLE, format!("no source map with handle {:#x}", handle))),
    }
}

fn sourcemap(handle: u32) -> Result<&'static SourceMap<'static>, i32> {
    match state().slab.get(handle) {
        Some(Entry::SourceMap(m)) => Ok(&m.map),
        _ => Err(fail(status::BAD_HANDLE, format!("no source map with handle {:#x}", handle))),
    }
}

macro_rules! try_map {
    ($h:expr) => {
        match sourcemap($h) {
            Ok(m) => m,
            Err(code) => return code,
        }
    };
}

fn bias(value: u32) -> Result<Bias, i32> {
    match value {
        0 => Ok(Bias::GreatestLowerBound),
        1 => Ok(Bias::LeastUpperBound),
        _ => Err(fail(status::BAD_ARGUMENT, format!("bias must be 0 or 1, not {}", value))),
    }
}

// ---------------------------------------------------------------------------------------
// Allocator: records failed requests so hosts can tell "out of memory" from a bug

/// The size of the latest allocation request that failed (0: none since last read).
static mut FAILED_ALLOC: usize = 0;

/// The system allocator, recording every request it cannot serve (the memory cap is
/// reached: `memory.grow` returned -1). A failed request usually ends in an abort
/// (`handle_alloc_error` -> `unreachable` trap); `pysym_alloc_failure` tells the host why.
struct RecordingAlloc;

impl RecordingAlloc {
    fn check(&self, p: *mut u8, size: usize) -> *mut u8 {
        if p.is_null() {
            // SAFETY: single-threaded module.
            unsafe { FAILED_ALLOC = size.max(1) };
        }
        p
    }
}

/// The small-block pools of the module (`pools.rs`); wasm32 only, where the module is
/// single-threaded. Native builds (tests) forward everything to the system allocator.
#[cfg(target_arch = "wasm32")]
static mut POOLS: pools::Pools = pools::Pools::new();

#[cfg(target_arch = "wasm32")]
#[inline]
fn small_class(size: usize, align: usize) -> Option<usize> {
    pools::Pools::class(size, align)
}

#[cfg(not(target_arch = "wasm32"))]
#[inline]
fn small_class(_size: usize, _align: usize) -> Option<usize> {
    None
}

#[cfg(target_arch = "wasm32")]
#[inline]
unsafe fn small_alloc(class: usize) -> *mut u8 {
    // SAFETY: single-threaded module; `class` comes from `small_class`.
    POOLS.alloc(class)
}

#[cfg(target_arch = "wasm32")]
#[inline]
unsafe fn small_dealloc(ptr: *mut u8, class: usize) {
    // SAFETY: single-threaded module; `ptr` came from `small_alloc(class)`.
    POOLS.dealloc(ptr, class)
}

#[cfg(not(target_arch = "wasm32"))]
unsafe fn small_alloc(_class: usize) -> *mut u8 {
    unreachable!()
}

#[cfg(not(target_arch = "wasm32"))]
unsafe fn small_dealloc(_ptr: *mut u8, _class: usize) {
    unreachable!()
}

// SAFETY: small blocks come from the pools (aligned to at least `pools::GRAIN`, which
// `small_class` checks), everything else from the system allocator unchanged; a block
// goes back to where its layout says it came from.
unsafe impl std::alloc::GlobalAlloc for RecordingAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = match small_class(layout.size(), layout.align()) {
            Some(c) => small_alloc(c),
            None => std::alloc::System.alloc(layout),
        };
        self.check(p, layout.size())
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match small_class(layout.size(), layout.align()) {
            Some(_) => {
                let p = self.alloc(layout);
                if !p.is_null() {
                    std::ptr::write_bytes(p, 0, layout.size());
                }
                p
            }
            None => self.check(std::alloc::System.alloc_zeroed(layout), layout.size()),
        }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match small_class(layout.size(), layout.align()) {
            Some(c) => small_dealloc(ptr, c),
            None => std::alloc::System.dealloc(ptr, layout),
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = small_class(layout.size(), layout.align());
        let new = small_class(new_size, layout.align());
        match (old, new) {
            (None, None) => self.check(std::alloc::System.realloc(ptr, layout, new_size), new_size),
            (Some(a), Some(b)) if a == b => ptr,
            _ => {
                // SAFETY: GlobalAlloc::realloc's contract: `new_size` with the old
                // alignment is a valid layout.
                let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                let p = self.alloc(new_layout);
                if !p.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                p
            }
        }
    }
}

#[global_allocator]
static ALLOCATOR: RecordingAlloc = RecordingAlloc;

// ---------------------------------------------------------------------------------------
// Memory for inputs

fn input_alloc(len: usize) -> *mut u8 {
    match Layout::from_size_align(len.max(1), INPUT_ALIGN) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { alloc(layout) },
        Err(_) => std::ptr::null_mut(),
    }
}

fn input_dealloc(ptr: *mut u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(len.max(1), INPUT_ALIGN) {
        // SAFETY: `ptr` was returned by `input_alloc(len)`, which used this layout.
        unsafe { dealloc(ptr, layout) };
    }
}

// ---------------------------------------------------------------------------------------
// Exports: instance

/// ABI version; hosts refuse a module whose version they do not know.
#[no_mangle]
pub extern "C" fn pysym_abi_version() -> i32 {
    ABI_VERSION
}

/// Address of the 64-byte out slot.
#[no_mangle]
pub extern "C" fn pysym_out_slot() -> u32 {
    // SAFETY: only the address is taken; the host writes/reads it between calls.
    unsafe { std::ptr::addr_of_mut!(OUT_SLOT) as u32 }
}

/// Allocates `len` bytes for input; 0 when out of memory.
#[no_mangle]
pub extern "C" fn pysym_alloc(len: u32) -> u32 {
    input_alloc(len as usize) as u32
}

/// Frees memory from `pysym_alloc` that no export took ownership of.
#[no_mangle]
pub extern "C" fn pysym_free(ptr: u32, len: u32) {
    input_dealloc(ptr as *mut u8, len as usize)
}

/// A reusable input area of at least `len` bytes; 0 when out of memory.
#[no_mangle]
pub extern "C" fn pysym_input_buffer(len: u32) -> u32 {
    let st = state();
    let words = (len as usize + 7) / 8;
    if st.input.len() < words {
        st.input.clear();
        if st.input.try_reserve_exact(words).is_err() {
            return 0;
        }
        st.input.resize(words, 0);
    }
    st.input.as_mut_ptr() as u32
}

/// The message of the last failing call as a result buffer; returns that call's status.
#[no_mangle]
pub extern "C" fn pysym_last_error(out: u32) -> i32 {
    let st = state();
    st.result.clear();
    st.result.extend_from_slice(st.last_error.as_bytes());
    publish_result(out);
    st.last_status
}

/// Size of the latest allocation request that failed since the previous call (0: none);
/// resets it. Hosts call it after a trap to tell an exhausted memory cap from a bug.
#[no_mangle]
pub extern "C" fn pysym_alloc_failure() -> i32 {
    // SAFETY: single-threaded module.
    unsafe {
        let size = FAILED_ALLOC;
        FAILED_ALLOC = 0;
        size.min(i32::MAX as usize) as i32
    }
}

// ---------------------------------------------------------------------------------------
// Exports: source maps

/// Puts an object in the slab and its handle in `out[0]`.
fn insert_entry(entry: Entry, out: u32) -> i32 {
    match state().slab.insert(entry) {
        Some(h) => {
            put_out(out, &[h]);
            status::OK
        }
        None => fail(status::LIMIT_EXCEEDED, "too many open objects"),
    }
}

fn insert_map(owned: OwnedMap, out: u32) -> i32 {
    insert_entry(Entry::SourceMap(owned), out)
}

/// Parses a map from memory allocated with `pysym_alloc`, taking ownership of it.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_from_bytes(ptr: u32, len: u32, out: u32) -> i32 {
    match OwnedMap::parse(ptr as *mut u8, len as usize) {
        Ok(owned) => insert_map(owned, out),
        Err(e) => fail_core(e),
    }
}

/// Reads a whole file through the host imports into freshly allocated input memory.
fn read_file(fh: u32) -> Result<(*mut u8, usize), i32> {
    let mut size: u64 = 0;
    // SAFETY: host import writing one u64 at a valid address.
    let rc = unsafe { file_size(fh, &mut size) };
    if rc < 0 {
        return Err(fail(rc, format!("host could not give the size of file {}", fh)));
    }
    if size > u32::MAX as u64 / 2 {
        return Err(fail(status::LIMIT_EXCEEDED, format!("file of {} bytes is too large", size)));
    }
    let len = size as usize;
    let ptr = input_alloc(len);
    if ptr.is_null() {
        return Err(fail(status::OUT_OF_MEMORY, format!("cannot allocate {} bytes for the input", len)));
    }
    let mut done = 0usize;
    while done < len {
        // SAFETY: `ptr + done .. ptr + len` is inside the allocation just made.
        let n = unsafe { file_read(fh, done as u64, ptr.add(done), (len - done) as u32) };
        if n <= 0 {
            input_dealloc(ptr, len);
            let code = if n < 0 { n } else { status::HOST_IO };
            let why = if code == status::NEED_DATA { "needs data" } else { "read failed" };
            return Err(fail(code, format!("file {}: {} at offset {}", fh, why, done)));
        }
        done += n as usize;
    }
    Ok((ptr, len))
}

/// Parses a map read through the host's `file_read`.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_from_file(fh: u32, out: u32) -> i32 {
    let (ptr, len) = match read_file(fh) {
        Ok(x) => x,
        Err(code) => return code,
    };
    match OwnedMap::parse(ptr, len) {
        Ok(owned) => insert_map(owned, out),
        Err(e) => fail_core(e),
    }
}

/// Frees a source map.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_free(h: u32) -> i32 {
    if let Err(code) = sourcemap(h) {
        return code;
    }
    drop(state().slab.remove(h));
    status::OK
}

/// Counts and flags of a map.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_info(h: u32, out: u32) -> i32 {
    let m = try_map!(h);
    let flags = m.is_index_map() as u32;
    put_out(out, &[m.source_count(), m.name_count(), m.token_count(), m.line_count(), flags]);
    status::OK
}

/// A string table: kind 0 sources, 1 names, 2 metadata `[file, debugId]`.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_strings(h: u32, kind: u32, out: u32) -> i32 {
    let m = try_map!(h);
    match kind {
        0 => write_string_table((0..m.source_count()).map(|i| m.source(i))),
        1 => write_string_table((0..m.name_count()).map(|i| m.name(i))),
        2 => write_string_table([m.file(), m.debug_id()].into_iter()),
        _ => return fail(status::BAD_ARGUMENT, format!("string table kind must be 0, 1 or 2, not {}", kind)),
    }
    publish_result(out)
}

/// `sourcesContent[src]`; returns 1 when present, 0 when absent or null.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_source_content(h: u32, src: u32, out: u32) -> i32 {
    let m = try_map!(h);
    if src >= m.source_count() {
        return fail(status::BAD_ARGUMENT, format!("source index {} out of range", src));
    }
    match m.source_content(src) {
        Some(text) => {
            let st = state();
            st.result.clear();
            st.result.extend_from_slice(text.as_bytes());
            publish_result(out);
            1
        }
        None => 0,
    }
}

/// The ignore list as u32 source indices.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_ignore_list(h: u32, out: u32) -> i32 {
    let m = try_map!(h);
    let st = state();
    st.result.clear();
    for &i in m.ignore_list() {
        push_u32(&mut st.result, i);
    }
    publish_result(out)
}

/// Single lookup: 1 and a token record in `out[0..6]` plus its index in `out[6]`, or 0.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_lookup(h: u32, line: u32, col: u32, bias_value: u32, out: u32) -> i32 {
    let m = try_map!(h);
    let b = match bias(bias_value) {
        Ok(b) => b,
        Err(code) => return code,
    };
    match m.lookup_indexed(line, col, b) {
        Some((i, t)) if t.src != NONE => {
            let w = token_words(&t);
            put_out(out, &[w[0], w[1], w[2], w[3], w[4], w[5], i]);
            1
        }
        _ => 0,
    }
}

/// Batched lookup over `count` (line, col) pairs at `ptr`: `count` token indices, then
/// `count` token records.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_lookup_many(h: u32, ptr: u32, count: u32, bias_value: u32, out: u32) -> i32 {
    let m = try_map!(h);
    let b = match bias(bias_value) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let st = state();
    let n = count as usize;
    st.result.clear();
    let size = n.saturating_mul((TOKEN_WORDS + 1) * 4);
    if st.result.try_reserve(size).is_err() {
        return fail(status::OUT_OF_MEMORY, format!("cannot allocate results for {} positions", n));
    }
    st.result.resize(size, 0);
    let (indices, records) = st.result.split_at_mut(n * 4);
    let base = ptr as *const u32;
    for i in 0..n {
        // SAFETY: the host wrote `count` pairs at `ptr`; an out-of-bounds read traps.
        let (line, col) = unsafe { (base.add(2 * i).read_unaligned(), base.add(2 * i + 1).read_unaligned()) };
        let found = m.lookup_indexed(line, col, b);
        let (index, words) = match found {
            Some((index, t)) if t.src != NONE => (index, token_words(&t)),
            _ => (NONE, token_words(&NO_TOKEN)),
        };
        indices[i * 4..i * 4 + 4].copy_from_slice(&index.to_le_bytes());
        let rec = &mut records[i * TOKEN_WORDS * 4..(i + 1) * TOKEN_WORDS * 4];
        for (k, w) in words.iter().enumerate() {
            rec[k * 4..k * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
    }
    publish_result(out)
}

/// Token records `start .. start + count` in generated order.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_tokens(h: u32, start: u32, count: u32, out: u32) -> i32 {
    let m = try_map!(h);
    let end = start.saturating_add(count).min(m.token_count());
    let st = state();
    st.result.clear();
    for i in start..end {
        if let Some(t) = m.token(i) {
            push_token(&mut st.result, &t);
        }
    }
    publish_result(out)
}

/// Every generated position mapped from `src:line:col` (`col = NONE`: the whole line).
#[no_mangle]
pub extern "C" fn pysym_sourcemap_generated_positions(h: u32, src: u32, line: u32, col: u32, out: u32) -> i32 {
    let m = try_map!(h);
    if src >= m.source_count() {
        return fail(status::BAD_ARGUMENT, format!("source index {} out of range", src));
    }
    let col = if col == NONE { None } else { Some(col) };
    let tokens = m.generated_positions(src, line, col);
    let st = state();
    st.result.clear();
    for t in &tokens {
        push_token(&mut st.result, t);
    }
    publish_result(out)
}

// ---------------------------------------------------------------------------------------
// Native debug files and symcaches

/// A symcache together with the input bytes it borrows from.
struct OwnedSymCache {
    cache: ManuallyDrop<SymCache<'static>>,
    ptr: *mut u8,
    len: usize,
}

impl OwnedSymCache {
    /// Parses `len` bytes at `ptr` (allocated by `input_alloc`), taking ownership.
    fn parse(ptr: *mut u8, len: usize) -> Result<OwnedSymCache, Error> {
        // SAFETY: the bytes stay allocated until `drop`, which drops the cache first.
        let data: &'static [u8] = unsafe { std::slice::from_raw_parts(ptr, len) };
        match SymCache::parse(data) {
            Ok(cache) => Ok(OwnedSymCache { cache: ManuallyDrop::new(cache), ptr, len }),
            Err(e) => {
                input_dealloc(ptr, len);
                Err(e)
            }
        }
    }
}

impl Drop for OwnedSymCache {
    fn drop(&mut self) {
        // SAFETY: the cache borrows the bytes, so it goes first.
        unsafe { ManuallyDrop::drop(&mut self.cache) };
        input_dealloc(self.ptr, self.len);
    }
}

fn symcache(handle: u32) -> Result<&'static SymCache<'static>, i32> {
    match state().slab.get(handle) {
        Some(Entry::SymCache(c)) => Ok(&c.cache),
        _ => Err(fail(status::BAD_HANDLE, format!("no symcache with handle {:#x}", handle))),
    }
}

/// The status of the last failed host read, so that a read failure inside a parser
/// reaches the host as `NEED_DATA`/`HOST_IO` rather than as a malformed file.
static mut HOST_READ_STATUS: i32 = status::OK;

/// A file of the host's table read by ranges (`std::io::Read + Seek` over `file_read`);
/// `object::ReadCache` on top keeps the ranges the parsers asked for.
struct HostFile {
    fh: u32,
    pos: u64,
    size: u64,
}

impl HostFile {
    fn open(fh: u32) -> Result<HostFile, i32> {
        let mut size: u64 = 0;
        // SAFETY: host import writing one u64 at a valid address.
        let rc = unsafe { file_size(fh, &mut size) };
        if rc < 0 {
            return Err(fail(rc, format!("host could not give the size of file {}", fh)));
        }
        Ok(HostFile { fh, pos: 0, size })
    }
}

impl std::io::Read for HostFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(u32::MAX as usize / 2) as u32;
        // SAFETY: `buf` is valid for `want` bytes of writes.
        let n = unsafe { file_read(self.fh, self.pos, buf.as_mut_ptr(), want) };
        if n < 0 {
            // SAFETY: single-threaded module.
            unsafe { HOST_READ_STATUS = n };
            return Err(std::io::Error::new(std::io::ErrorKind::Other, "host read failed"));
        }
        self.pos += n as u64;
        Ok(n as usize)
    }
}

/// `object::ReadCache` with every range checked against the file size first. The cache
/// allocates the requested size before reading, so a size declared by the input (a fat
/// slice, a section) larger than the file must never reach it: that was a
/// capacity-overflow panic (a trap) or a multi-gigabyte allocation
/// (tests/test_bad_inputs.py, fat headers).
struct BoundedCache {
    cache: object::ReadCache<HostFile>,
    size: u64,
}

/// Size (a power of two) of the aligned blocks strings are read in.
const STRING_BLOCK: u64 = 64 * 1024;
/// How far `ReadCache::read_bytes_at_until` looks for a string's end.
const STRING_MAX: u64 = 4096;

impl BoundedCache {
    fn new(file: HostFile) -> BoundedCache {
        let size = file.size;
        BoundedCache { cache: object::ReadCache::new(file), size }
    }
}

impl<'a> object::ReadRef<'a> for &'a BoundedCache {
    fn len(self) -> Result<u64, ()> {
        Ok(self.size)
    }

    fn read_bytes_at(self, offset: u64, size: u64) -> Result<&'a [u8], ()> {
        match offset.checked_add(size) {
            Some(end) if end <= self.size => (&self.cache).read_bytes_at(offset, size),
            _ => Err(()),
        }
    }

    fn read_bytes_at_until(self, range: std::ops::Range<u64>, delimiter: u8) -> Result<&'a [u8], ()> {
        let end = range.end.min(self.size);
        if range.start > end {
            return Err(());
        }
        // Strings (symbol names: one call per symbol) are looked up in aligned blocks read
        // once, instead of one 256-byte host read (and cache entry) per string; a string
        // that runs past its block takes the cache's own path. Same answers: the delimiter
        // is searched in at most `STRING_MAX` bytes, as `ReadCache` does.
        let block_start = range.start & !(STRING_BLOCK - 1);
        let block_len = STRING_BLOCK.min(self.size - block_start);
        let limit = end.min(range.start + STRING_MAX);
        if limit > range.start {
            let block = (&self.cache).read_bytes_at(block_start, block_len)?;
            let from = (range.start - block_start) as usize;
            let to = (limit.min(block_start + block_len) - block_start) as usize;
            if let Some(n) = block[from..to].iter().position(|&b| b == delimiter) {
                return Ok(&block[from..from + n]);
            }
            if limit <= block_start + block_len {
                return Err(());
            }
        }
        (&self.cache).read_bytes_at_until(range.start..end, delimiter)
    }
}

fn add_signed(base: u64, d: i64) -> Option<u64> {
    if d >= 0 {
        base.checked_add(d as u64)
    } else {
        base.checked_sub(d.unsigned_abs())
    }
}

impl std::io::Seek for HostFile {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let new = match to {
            std::io::SeekFrom::Start(o) => Some(o),
            std::io::SeekFrom::End(d) => add_signed(self.size, d),
            std::io::SeekFrom::Current(d) => add_signed(self.pos, d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before start")),
        }
    }
}

/// Maps a core error, preferring the status of a failed host read behind it.
fn fail_native(err: Error) -> i32 {
    // SAFETY: single-threaded module.
    let host = unsafe { std::mem::replace(&mut HOST_READ_STATUS, status::OK) };
    if host < 0 {
        let why = if host == status::NEED_DATA { "needs data" } else { "read failed" };
        return fail(host, format!("host file {}: {}", why, err));
    }
    fail_core(err)
}

/// Reads an optional UTF-8 argument string (`len == 0`: none).
fn arg_str(ptr: u32, len: u32) -> Result<Option<String>, i32> {
    if len == 0 {
        return Ok(None);
    }
    // SAFETY: the host wrote `len` bytes at `ptr`; out-of-bounds traps.
    let bytes = unsafe { std::slice::from_raw_parts(ptr as *const u8, len as usize) };
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(Some(s.to_string())),
        Err(_) => Err(fail(status::BAD_ARGUMENT, "argument is not UTF-8")),
    }
}

fn publish_identity(id: &pysym_core::symcache::Identity, flags: u32, extra: u32, out: u32) -> i32 {
    let items = [id.kind.as_str(), id.arch.as_str(), id.debug_id.as_str(), id.code_id.as_str()];
    write_string_table(items.iter().map(|s| Some(std::borrow::Cow::Borrowed(*s))));
    publish_result(out);
    put_out(out + 8, &[id.image_base as u32, (id.image_base >> 32) as u32, flags, extra]);
    status::OK
}

/// A u64 as two out words, `NONE, NONE` for none.
fn opt_u64_words(v: Option<u64>) -> [u32; 2] {
    match v {
        Some(v) => [v as u32, (v >> 32) as u32],
        None => [NONE, NONE],
    }
}

/// The arch argument and the host file behind `fh`, for exports that read debug files.
fn open_debug_file(fh: u32, arch_ptr: u32, arch_len: u32) -> Result<(Option<String>, HostFile), i32> {
    let arch = arg_str(arch_ptr, arch_len)?;
    Ok((arch, HostFile::open(fh)?))
}

/// Identity of a debug file read through the host (ranged reads): string table `[kind,
/// arch, debug_id, code_id, debug_file, warning...]`, image base, flags, code offset.
#[no_mangle]
pub extern "C" fn pysym_object_info(fh: u32, arch_ptr: u32, arch_len: u32, out: u32) -> i32 {
    let (arch, mut file) = match open_debug_file(fh, arch_ptr, arch_len) {
        Ok(x) => x,
        Err(code) => return code,
    };
    // Breakpad text and wasm modules are streamed: a ReadCache would keep every range read.
    let info = match pysym_core::native::object_info_streamed(&mut file) {
        Some(r) => r,
        None => pysym_core::native::object_info(&BoundedCache::new(file), arch.as_deref()),
    };
    match info {
        Ok(info) => {
            let flags = info.has_debug_info as u32 | (info.has_symbols as u32) << 1 | (info.has_unwind_info as u32) << 2;
            let id = &info.identity;
            let link = info.debuglink.as_ref();
            // [kind, arch, debug_id, code_id, debug_file, debuglink, warning...]
            let items = [id.kind.as_str(), id.arch.as_str(), id.debug_id.as_str(), id.code_id.as_str()]
                .into_iter()
                .map(Some)
                .chain(std::iter::once(info.debug_file.as_deref()))
                .chain(std::iter::once(link.map(|l| l.0.as_str())))
                .chain(info.warnings.iter().map(|w| Some(w.as_str())))
                .map(|s| s.map(std::borrow::Cow::Borrowed))
                .collect::<Vec<_>>();
            write_string_table(items.into_iter());
            publish_result(out);
            let [lo, hi] = opt_u64_words(info.code_offset);
            let crc = link.map_or(0, |l| l.1);
            put_out(out + 8, &[id.image_base as u32, (id.image_base >> 32) as u32, flags, crc, lo, hi]);
            status::OK
        }
        Err(e) => fail_native(e),
    }
}

fn insert_cache(owned: OwnedSymCache, out: u32) -> i32 {
    insert_entry(Entry::SymCache(owned), out)
}

/// The host's end of a build's output (`output_begin`, `output_write`); the error is the
/// status the host returned.
struct HostOutput {
    offset: u64,
}

impl Output for HostOutput {
    type Error = i32;

    fn begin(&mut self, size: u64) -> Result<(), i32> {
        // SAFETY: host import taking a number.
        match unsafe { output_begin(size) } {
            rc if rc < 0 => Err(rc),
            _ => Ok(()),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), i32> {
        // SAFETY: the host copies `len` bytes from `src`, which `bytes` covers.
        match unsafe { output_write(self.offset, bytes.as_ptr(), bytes.len() as u32) } {
            rc if rc < 0 => Err(rc),
            _ => {
                self.offset += bytes.len() as u64;
                Ok(())
            }
        }
    }
}

/// Builds a symcache from a debug file read through the host (ranged reads) and streams
/// it to the host's output; `out[0]`, `out[1]` = its size, `out[2]`, `out[3]` = a result
/// buffer with the string table of what the build skipped. The module keeps nothing.
#[no_mangle]
pub extern "C" fn pysym_symcache_build(fh: u32, arch_ptr: u32, arch_len: u32, out: u32) -> i32 {
    let (arch, mut file) = match open_debug_file(fh, arch_ptr, arch_len) {
        Ok(x) => x,
        Err(code) => return code,
    };
    // SAFETY: single-threaded module; a new build reports from its first step.
    unsafe { LAST_PROGRESS = u64::MAX };
    let built = pysym_core::native::progress::with_progress(report_progress, || {
        // Breakpad text and wasm modules are streamed: a ReadCache would keep every range read.
        match pysym_core::native::build_symcache_streamed(&mut file) {
            Some(r) => r,
            None => {
                // DWARF sections are read through a second, uncached view of the file: the
                // cache would keep them (most of the input) for the whole build.
                let ranged = HostFile { fh: file.fh, pos: 0, size: file.size };
                pysym_core::native::build_symcache_ranged(&BoundedCache::new(file), ranged, arch.as_deref())
            }
        }
    });
    // Everything read is freed by now (the file's cache with it): only the writer's
    // tables are left, and they are freed as they are written.
    let mut built = match built {
        Ok(b) => b,
        Err(e) => return fail_native(e),
    };
    let mut sink = HostOutput { offset: 0 };
    let warnings = std::mem::take(&mut built.warnings);
    match built.finish_into(&mut sink) {
        Ok(()) => {
            report_progress(1, 1);
            write_string_table(warnings.iter().map(|w| Some(std::borrow::Cow::Borrowed(w.as_str()))));
            let st = state();
            put_out(out, &[sink.offset as u32, (sink.offset >> 32) as u32, st.result.as_ptr() as u32, st.result.len() as u32]);
            status::OK
        }
        Err(rc) => fail(rc, format!("the host did not take the symcache's output (at byte {}, status {})", sink.offset, rc)),
    }
}

/// Loads a built symcache from memory allocated with `pysym_alloc` (takes ownership).
#[no_mangle]
pub extern "C" fn pysym_symcache_from_bytes(ptr: u32, len: u32, out: u32) -> i32 {
    match OwnedSymCache::parse(ptr as *mut u8, len as usize) {
        Ok(owned) => insert_cache(owned, out),
        Err(e) => fail_core(e),
    }
}

/// Loads a built symcache read through the host.
#[no_mangle]
pub extern "C" fn pysym_symcache_from_file(fh: u32, out: u32) -> i32 {
    let (ptr, len) = match read_file(fh) {
        Ok(x) => x,
        Err(code) => return code,
    };
    pysym_symcache_from_bytes(ptr as u32, len as u32, out)
}

/// Frees a symcache.
#[no_mangle]
pub extern "C" fn pysym_symcache_free(h: u32) -> i32 {
    if symcache(h).is_err() {
        return status::BAD_HANDLE;
    }
    drop(state().slab.remove(h));
    status::OK
}

/// Identity of a symcache: string table `[kind, arch, debug_id, code_id]`, image base,
/// flags, range count.
#[no_mangle]
pub extern "C" fn pysym_symcache_info(h: u32, out: u32) -> i32 {
    let c = match symcache(h) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let id = c.identity();
    publish_identity(id, id.flags, c.range_count() as u32, out)
}

/// The symcache's bytes as a result buffer (no copy: it points at the symcache).
#[no_mangle]
pub extern "C" fn pysym_symcache_bytes(h: u32, out: u32) -> i32 {
    let c = match symcache(h) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let b = c.as_bytes();
    put_out(out, &[b.as_ptr() as u32, b.len() as u32]);
    status::OK
}

/// The `count` u64 the host wrote at `ptr` (a batch's addresses).
fn host_u64s(ptr: u32, count: u32) -> Vec<u64> {
    let base = ptr as *const u64;
    // SAFETY: the host wrote `count` u64 at `ptr`; out-of-bounds traps.
    (0..count as usize).map(|i| unsafe { base.add(i).read_unaligned() }).collect()
}

/// Batched lookup of `count` u64 addresses at `ptr` (relative to the image base): the
/// innermost location of each, `NONE` where nothing covers it. Hosts keep frames per
/// location (`pysym_symcache_locations`), so a batch costs one u32 per address.
#[no_mangle]
pub extern "C" fn pysym_symcache_lookup_many(h: u32, ptr: u32, count: u32, out: u32) -> i32 {
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

/// Batched lookup answered in address order: for `count` u64 addresses at `ptr`, the result
/// buffer holds `count` u32 positions `first + i` of the addresses in address order, then
/// the `count` innermost location ids in that same order; `out[2]` = largest id + 1 (0 when
/// nothing is covered). A host that builds its answers in this order reads its cached
/// frames in roughly the order they were made (locations are numbered by address), which
/// costs far fewer cache misses than input order.
#[no_mangle]
pub extern "C" fn pysym_symcache_lookup_ordered(h: u32, ptr: u32, count: u32, first: u32, out: u32) -> i32 {
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

/// Location records for `count` u32 location ids at `ptr` and for all their callers, each
/// once, in increasing order (so a caller comes before the locations inlined into it).
#[no_mangle]
pub extern "C" fn pysym_symcache_locations(h: u32, ptr: u32, count: u32, out: u32) -> i32 {
    let c = match symcache(h) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let n_locs = c.location_count();
    // Bit sets, not hash sets: a cold batch asks for 100,000s of locations.
    let mut marked = vec![0u64; (n_locs + 63) / 64];
    let base = ptr as *const u32;
    for i in 0..count as usize {
        // SAFETY: the host wrote `count` u32 at `ptr`; out-of-bounds traps.
        let loc = unsafe { base.add(i).read_unaligned() };
        if loc as usize >= n_locs {
            return fail(status::BAD_ARGUMENT, format!("no location {} (the symcache has {})", loc, n_locs));
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
        for v in [loc, l.function, l.raw_function, l.file, l.line, l.column, l.sym_addr as u32, (l.sym_addr >> 32) as u32, l.caller] {
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

/// The host's read status after a call's last read: a read that failed part way leaves
/// a partial answer, which is refused with the read's status.
fn host_read_failure(what: &str) -> Option<i32> {
    // SAFETY: single-threaded module.
    let host = unsafe { std::mem::replace(&mut HOST_READ_STATUS, status::OK) };
    if host < 0 {
        let why = if host == status::NEED_DATA { "needs data" } else { "read failed" };
        return Some(fail(host, format!("host file {}: while {} the minidump", why, what)));
    }
    None
}

/// Parses the minidump behind `fh` (ranged reads) and puts its document in the result.
fn parse_minidump(fh: u32) -> Result<OwnedMinidump, i32> {
    let file = HostFile::open(fh)?;
    let size = file.size;
    let md = pysym_core::minidump::parse(&BoundedCache::new(file)).map_err(fail_native)?;
    if let Some(code) = host_read_failure("reading") {
        return Err(code);
    }
    state().result = md.to_json().into_bytes();
    Ok(OwnedMinidump { md, size })
}

/// Parses a minidump read through the host (ranged reads: only its structures are read,
/// never the saved memory) into a result buffer holding its JSON document (ABI.md,
/// "Minidump document"). Damage inside the dump is reported in the document's warnings;
/// only a file that is not a minidump fails.
#[no_mangle]
pub extern "C" fn pysym_minidump_parse(fh: u32, out: u32) -> i32 {
    match parse_minidump(fh) {
        Ok(_) => publish_result(out),
        Err(code) => code,
    }
}

/// Builds the CFI cache (`wasm/core/src/unwind/FORMAT.md`) of a debug file read through
/// the host (ELF/Mach-O `.eh_frame` + `.debug_frame`, Breakpad `STACK` records) into a
/// result buffer: `u32` cache length, the cache, then a string table of what the build
/// skipped. `out[2]` = rows in the cache.
#[no_mangle]
pub extern "C" fn pysym_unwind_build(fh: u32, arch_ptr: u32, arch_len: u32, out: u32) -> i32 {
    let (arch, file) = match open_debug_file(fh, arch_ptr, arch_len) {
        Ok(x) => x,
        Err(code) => return code,
    };
    match pysym_core::native::build_cfi(&BoundedCache::new(file), arch.as_deref()) {
        Ok(built) => {
            write_string_table(built.warnings.iter().map(|w| Some(std::borrow::Cow::Borrowed(w.as_str()))));
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
        Err(e) => fail_native(e),
    }
}

/// The walk input (ABI.md, `pysym_minidump_walk`) at `ptr`/`len`, taken and freed on
/// return of `f`.
fn with_walk_input(ptr: u32, len: u32, f: impl FnOnce(&[u8]) -> i32) -> i32 {
    let input_ptr = ptr as *mut u8;
    let input_len = len as usize;
    struct Owned(*mut u8, usize);
    impl Drop for Owned {
        fn drop(&mut self) {
            input_dealloc(self.0, self.1);
        }
    }
    let _owned = Owned(input_ptr, input_len);
    // SAFETY: `ptr` came from `pysym_alloc(len)`; `_owned` frees it after the last use.
    let input: &[u8] = if input_ptr.is_null() || input_len == 0 { &[] } else { unsafe { std::slice::from_raw_parts(input_ptr, input_len) } };
    f(input)
}

/// Walks `md` (its saved memory read through `fh`) with the CFI caches of `input`.
fn walk_minidump(md: &pysym_core::minidump::Minidump, fh: u32, size: Option<u64>, input: &[u8], out: u32) -> i32 {
    let file = match HostFile::open(fh) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if let Some(size) = size {
        if file.size != size {
            return fail(status::BAD_ARGUMENT, format!("the minidump was parsed from {} bytes, file {} has {}", size, fh, file.size));
        }
    }
    let cache = BoundedCache::new(file);
    let mut cfi: Vec<Option<pysym_core::unwind::CfiCache<'_>>> = vec![None; md.modules.len()];
    let word = |at: usize| input.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
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
        match pysym_core::unwind::CfiCache::parse(bytes) {
            Ok(c) if index < cfi.len() => cfi[index] = Some(c),
            Ok(_) => return fail(status::BAD_ARGUMENT, format!("walk input: module {} is not in the dump", index)),
            Err(e) => return fail_native(e),
        }
        at += 8 + n + (4 - n % 4) % 4;
    }
    let walked = pysym_core::unwind::walk::walk(md, &cache, &cfi, &Default::default());
    if let Some(code) = host_read_failure("walking") {
        return code;
    }
    state().result = walked.to_json().into_bytes();
    publish_result(out)
}

/// Walks the stacks of the minidump behind `fh` (ranged reads) with the CFI caches in
/// the input at `ptr`/`len` (from `pysym_alloc`; taken and freed): `u32` count, then per
/// cache `u32` module index (into the dump's module list), `u32` length, the cache's
/// bytes, padding to 4. Result: the stack walk JSON document (ABI.md).
#[no_mangle]
pub extern "C" fn pysym_minidump_walk(fh: u32, ptr: u32, len: u32, out: u32) -> i32 {
    with_walk_input(ptr, len, |input| {
        let file = match HostFile::open(fh) {
            Ok(f) => f,
            Err(code) => return code,
        };
        let md = match pysym_core::minidump::parse(&BoundedCache::new(file)) {
            Ok(md) => md,
            Err(e) => return fail_native(e),
        };
        walk_minidump(&md, fh, None, input, out)
    })
}

// -- compressed downloads ----------------------------------------------------------------

/// Decompresses gzip, zstd or a cabinet file's first file (`len` bytes at `ptr`, from
/// `pysym_alloc`; the module takes ownership) into at most `limit` bytes: result buffer in
/// `out[0..2]`, the format (1 gzip, 2 zstd, 3 cab) in `out[2]`.
#[no_mangle]
pub extern "C" fn pysym_decompress(ptr: u32, len: u32, limit: u32, out: u32) -> i32 {
    let (ptr, len) = (ptr as *mut u8, len as usize);
    if ptr.is_null() {
        return fail(status::BAD_ARGUMENT, "pysym_decompress: no input".to_string());
    }
    state().result = Vec::new(); // the previous result goes before the new one grows
    // SAFETY: `ptr` came from `input_alloc(len)` (pysym_alloc) and is freed right after use.
    let data: &[u8] = unsafe { std::slice::from_raw_parts(ptr, len) };
    let done = pysym_core::decompress::decompress(data, limit as usize);
    input_dealloc(ptr, len);
    match done {
        Ok((format, bytes)) => {
            state().result = bytes;
            publish_result(out);
            put_out(out + 8, &[format as u32]);
            status::OK
        }
        Err(e) => fail_core(e),
    }
}

// ---------------------------------------------------------------------------------------
// Exports: JavaScript function names (ABI 9)

/// Gives a map its generated JavaScript file (`len` bytes at `ptr`, from `pysym_alloc`;
/// the module takes ownership and frees it before returning): its function scopes are
/// extracted and named through the map, for `pysym_sourcemap_function_names`.
/// `out[0]` = number of scope transitions kept.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_set_generated(h: u32, ptr: u32, len: u32, out: u32) -> i32 {
    let (ptr, len) = (ptr as *mut u8, len as usize);
    let owned = match owned_map(h) {
        Ok(m) => m,
        Err(code) => {
            if !ptr.is_null() {
                input_dealloc(ptr, len);
            }
            return code;
        }
    };
    if ptr.is_null() {
        return fail(status::BAD_ARGUMENT, "pysym_sourcemap_set_generated: no input".to_string());
    }
    // SAFETY: `ptr` came from `input_alloc(len)` (pysym_alloc) and is freed right after use.
    let data: &[u8] = unsafe { std::slice::from_raw_parts(ptr, len) };
    let built = ScopeNames::build(data, Some(&owned.map));
    input_dealloc(ptr, len);
    match built {
        Ok(names) => {
            put_out(out, &[names.len() as u32]);
            owned.scopes = Some(names);
            status::OK
        }
        Err(e) => fail_core(e),
    }
}

/// The function enclosing each of `count` generated (line, col) pairs at `ptr`: one
/// record `[kind, offset, length]` per position (kind 0 top level, 1 anonymous function,
/// 2 named: the name is `length` bytes at `offset` after the records), then the names.
/// Without `pysym_sourcemap_set_generated` first, BAD_ARGUMENT.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_function_names(h: u32, ptr: u32, count: u32, out: u32) -> i32 {
    let owned = match owned_map(h) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let names = match &owned.scopes {
        Some(n) => n,
        None => return fail(status::BAD_ARGUMENT, "the source map has no generated file (set_generated)".to_string()),
    };
    let st = state();
    let n = count as usize;
    st.result.clear();
    let mut data: Vec<u8> = Vec::new();
    if st.result.try_reserve(n.saturating_mul(12)).is_err() {
        return fail(status::OUT_OF_MEMORY, format!("cannot allocate results for {} positions", n));
    }
    let base = ptr as *const u32;
    for i in 0..n {
        // SAFETY: the host wrote `count` pairs at `ptr`; an out-of-bounds read traps.
        let (line, col) = unsafe { (base.add(2 * i).read_unaligned(), base.add(2 * i + 1).read_unaligned()) };
        let (kind, off, len) = match names.lookup(line, col) {
            Enclosing::Global => (0, 0, 0),
            Enclosing::Anonymous => (1, 0, 0),
            Enclosing::Named(s) => {
                let off = data.len() as u32;
                data.extend_from_slice(s.as_bytes());
                (2, off, s.len() as u32)
            }
        };
        push_u32(&mut st.result, kind);
        push_u32(&mut st.result, off);
        push_u32(&mut st.result, len);
    }
    st.result.extend_from_slice(&data);
    publish_result(out)
}

// -- minidumps kept between calls (ABI 9: appended after the exports above) ------------

fn minidump_handle(handle: u32) -> Result<&'static OwnedMinidump, i32> {
    match state().slab.get(handle) {
        Some(Entry::Minidump(m)) => Ok(m),
        _ => Err(fail(status::BAD_HANDLE, format!("no minidump with handle {:#x}", handle))),
    }
}

/// `pysym_minidump_parse`, keeping the parsed dump: result buffer (the document) in
/// `out[0..2]`, the handle in `out[2]`, for `pysym_minidump_walk_open`.
#[no_mangle]
pub extern "C" fn pysym_minidump_open(fh: u32, out: u32) -> i32 {
    let owned = match parse_minidump(fh) {
        Ok(m) => m,
        Err(code) => return code,
    };
    match state().slab.insert(Entry::Minidump(Box::new(owned))) {
        Some(h) => {
            publish_result(out);
            put_out(out + 8, &[h]);
            status::OK
        }
        None => fail(status::LIMIT_EXCEEDED, "too many open objects"),
    }
}

/// `pysym_minidump_walk` on a dump parsed by `pysym_minidump_open` (`handle`), its
/// memory read through `fh` (the same file: one of another size is refused); `fh` comes
/// first, as in every export that reads a host file.
#[no_mangle]
pub extern "C" fn pysym_minidump_walk_open(fh: u32, handle: u32, ptr: u32, len: u32, out: u32) -> i32 {
    with_walk_input(ptr, len, |input| {
        let owned = match minidump_handle(handle) {
            Ok(m) => m,
            Err(code) => return code,
        };
        walk_minidump(&owned.md, fh, Some(owned.size), input, out)
    })
}

/// Frees a minidump from `pysym_minidump_open`.
#[no_mangle]
pub extern "C" fn pysym_minidump_free(h: u32) -> i32 {
    if minidump_handle(h).is_err() {
        return status::BAD_HANDLE;
    }
    drop(state().slab.remove(h));
    status::OK
}

// -- JavaScript stack traces (ABI 10: appended after the exports above) -----------------

/// Parses stack-trace lines: `len` bytes of UTF-8 at `ptr` (the host's input buffer,
/// `pysym_input_buffer`), the lines joined by `\n`; lines longer than `max_chars` code
/// points are not frames; offsets in `units` (0 bytes, 1 code points, 2 UTF-16 units).
/// Result buffer in `out[0..2]`: little-endian u32 words, per line its record count, then
/// the records (ABI.md "Layouts", trace records).
#[no_mangle]
pub extern "C" fn pysym_js_parse_trace(ptr: u32, len: u32, max_chars: u32, units: u32, out: u32) -> i32 {
    use pysym_core::js::trace::{parse_lines, Units};
    let units = match units {
        0 => Units::Bytes,
        1 => Units::CodePoints,
        2 => Units::Utf16,
        _ => return fail(status::BAD_ARGUMENT, format!("pysym_js_parse_trace: no such units {}", units)),
    };
    // SAFETY: the host wrote `len` bytes at `ptr` (its input buffer); a bad range traps.
    let data: &[u8] = if len == 0 { &[] } else { unsafe { std::slice::from_raw_parts(ptr as *const u8, len as usize) } };
    let text = match std::str::from_utf8(data) {
        Ok(t) => t,
        Err(e) => return fail(status::BAD_ARGUMENT, format!("the trace is not UTF-8 ({})", e)),
    };
    let mut words: Vec<u32> = Vec::new();
    parse_lines(text, max_chars as usize, units, &mut words);
    let st = state();
    st.result.clear();
    if st.result.try_reserve(words.len().saturating_mul(4)).is_err() {
        return fail(status::OUT_OF_MEMORY, format!("cannot allocate {} result words", words.len()));
    }
    for w in words {
        push_u32(&mut st.result, w);
    }
    publish_result(out)
}

// -- source map caches (ABI 10: appended after the exports above) ----------------------

/// A source map cache together with the input bytes it is read from.
struct OwnedSmCache {
    cache: ManuallyDrop<SourceMapCache<'static>>,
    ptr: *mut u8,
    len: usize,
}

impl Drop for OwnedSmCache {
    fn drop(&mut self) {
        // SAFETY: the cache borrows the bytes, so it goes first.
        unsafe { ManuallyDrop::drop(&mut self.cache) };
        input_dealloc(self.ptr, self.len);
    }
}

fn smcache_handle(handle: u32) -> Result<&'static SourceMapCache<'static>, i32> {
    match state().slab.get(handle) {
        Some(Entry::SmCache(c)) => Ok(&c.cache),
        _ => Err(fail(status::BAD_HANDLE, format!("no source map cache with handle {:#x}", handle))),
    }
}

macro_rules! try_smcache {
    ($h:expr) => {
        match smcache_handle($h) {
            Ok(c) => c,
            Err(code) => return code,
        }
    };
}

/// The cache of map `h` (with its generated file's scopes if it was given one; flags
/// bit 0: with `sourcesContent`) in the result buffer.
#[no_mangle]
pub extern "C" fn pysym_smcache_build(h: u32, flags: u32, out: u32) -> i32 {
    let owned = match owned_map(h) {
        Ok(m) => m,
        Err(code) => return code,
    };
    match smcache::write(&owned.map, owned.scopes.as_ref(), flags & 1 != 0) {
        Ok(bytes) => {
            let st = state();
            st.result = bytes;
            publish_result(out)
        }
        Err(e) => fail_core(e),
    }
}

/// Opens a cache from memory allocated with `pysym_alloc`, taking ownership of it.
#[no_mangle]
pub extern "C" fn pysym_smcache_from_bytes(ptr: u32, len: u32, out: u32) -> i32 {
    let (ptr, len) = (ptr as *mut u8, len as usize);
    // SAFETY: the bytes stay allocated until `drop`, which drops the cache first.
    let data: &'static [u8] = unsafe { std::slice::from_raw_parts(ptr, len) };
    match SourceMapCache::parse(data) {
        Ok(cache) => insert_entry(Entry::SmCache(OwnedSmCache { cache: ManuallyDrop::new(cache), ptr, len }), out),
        Err(e) => {
            input_dealloc(ptr, len);
            fail_core(e)
        }
    }
}

/// Frees a source map cache.
#[no_mangle]
pub extern "C" fn pysym_smcache_free(h: u32) -> i32 {
    if let Err(code) = smcache_handle(h) {
        return code;
    }
    drop(state().slab.remove(h));
    status::OK
}

/// Counts and flags of a cache.
#[no_mangle]
pub extern "C" fn pysym_smcache_info(h: u32, out: u32) -> i32 {
    let c = try_smcache!(h);
    put_out(out, &[c.source_count(), c.name_count(), c.token_count(), c.line_count(), c.flags(), c.function_name_count()]);
    status::OK
}

/// A string table of the cache: kind 0 sources, 1 names, 2 `[file, debugId]`, 3 function
/// names. Also the ignore list (u32s) as kind 4.
#[no_mangle]
pub extern "C" fn pysym_smcache_strings(h: u32, kind: u32, out: u32) -> i32 {
    let c = try_smcache!(h);
    let (table, n) = match kind {
        0 => (Table::Sources, c.source_count()),
        1 => (Table::Names, c.name_count()),
        2 => (Table::Meta, 2),
        3 => (Table::FunctionNames, c.function_name_count()),
        4 => {
            let list = match c.ignore_list() {
                Ok(l) => l,
                Err(e) => return fail_core(e),
            };
            let st = state();
            st.result.clear();
            for i in list {
                push_u32(&mut st.result, i);
            }
            return publish_result(out);
        }
        _ => return fail(status::BAD_ARGUMENT, format!("string table kind must be 0 to 4, not {}", kind)),
    };
    let mut items = Vec::with_capacity(n as usize);
    for i in 0..n {
        match c.string(table, i) {
            Ok(s) => items.push(s.map(std::borrow::Cow::Borrowed)),
            Err(e) => return fail_core(e),
        }
    }
    write_string_table(items.into_iter());
    publish_result(out)
}

/// `sourcesContent[src]` of a cache built with it; returns 1 when present, 0 when not.
#[no_mangle]
pub extern "C" fn pysym_smcache_source_content(h: u32, src: u32, out: u32) -> i32 {
    let c = try_smcache!(h);
    match c.string(Table::Contents, src) {
        Ok(Some(text)) => {
            let st = state();
            st.result.clear();
            st.result.extend_from_slice(text.as_bytes());
            publish_result(out);
            1
        }
        Ok(None) => 0,
        Err(e) => fail_core(e),
    }
}

/// The function-name word of a lookup: an index into table 3, or NONE (top-level code
/// or no scopes in the cache), or NONE - 1 (an anonymous function).
fn function_word(c: &SourceMapCache<'_>, line: u32, col: u32) -> Result<u32, Error> {
    Ok(match c.function(line, col)? {
        smcache::Function::Unknown | smcache::Function::Global => NONE,
        smcache::Function::Anonymous => NONE - 1,
        smcache::Function::Named(n) => n,
    })
}

/// Single lookup: 1 and a token record in `out[0..6]`, its index in `out[6]` and the
/// function-name word in `out[7]`, or 0.
#[no_mangle]
pub extern "C" fn pysym_smcache_lookup(h: u32, line: u32, col: u32, bias_value: u32, out: u32) -> i32 {
    let c = try_smcache!(h);
    let b = match bias(bias_value) {
        Ok(b) => b,
        Err(code) => return code,
    };
    match c.lookup_indexed(line, col, b) {
        Ok(Some((i, t))) if t.src != NONE => {
            let f = match function_word(c, line, col) {
                Ok(f) => f,
                Err(e) => return fail_core(e),
            };
            let w = token_words(&t);
            put_out(out, &[w[0], w[1], w[2], w[3], w[4], w[5], i, f]);
            1
        }
        Ok(_) => 0,
        Err(e) => fail_core(e),
    }
}

/// Batched lookup over `count` (line, col) pairs at `ptr`: `count` token indices, then
/// `count` function-name words, then `count` token records.
#[no_mangle]
pub extern "C" fn pysym_smcache_lookup_many(h: u32, ptr: u32, count: u32, bias_value: u32, out: u32) -> i32 {
    let c = try_smcache!(h);
    let b = match bias(bias_value) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let st = state();
    let n = count as usize;
    st.result.clear();
    let size = n.saturating_mul((TOKEN_WORDS + 2) * 4);
    if st.result.try_reserve(size).is_err() {
        return fail(status::OUT_OF_MEMORY, format!("cannot allocate results for {} positions", n));
    }
    st.result.resize(size, 0);
    let (indices, rest) = st.result.split_at_mut(n * 4);
    let (functions, records) = rest.split_at_mut(n * 4);
    let base = ptr as *const u32;
    for i in 0..n {
        // SAFETY: the host wrote `count` pairs at `ptr`; an out-of-bounds read traps.
        let (line, col) = unsafe { (base.add(2 * i).read_unaligned(), base.add(2 * i + 1).read_unaligned()) };
        let (index, f, words) = match c.lookup_indexed(line, col, b) {
            Ok(Some((index, t))) if t.src != NONE => match function_word(c, line, col) {
                Ok(f) => (index, f, token_words(&t)),
                Err(e) => return fail_core(e),
            },
            Ok(_) => (NONE, NONE, token_words(&NO_TOKEN)),
            Err(e) => return fail_core(e),
        };
        indices[i * 4..i * 4 + 4].copy_from_slice(&index.to_le_bytes());
        functions[i * 4..i * 4 + 4].copy_from_slice(&f.to_le_bytes());
        let rec = &mut records[i * TOKEN_WORDS * 4..(i + 1) * TOKEN_WORDS * 4];
        for (k, w) in words.iter().enumerate() {
            rec[k * 4..k * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
    }
    publish_result(out)
}

/// Token records `start .. start + count` of a cache in generated order.
#[no_mangle]
pub extern "C" fn pysym_smcache_tokens(h: u32, start: u32, count: u32, out: u32) -> i32 {
    let c = try_smcache!(h);
    let end = start.saturating_add(count).min(c.token_count());
    let st = state();
    st.result.clear();
    for i in start..end {
        match c.token(i) {
            Ok(Some(t)) => push_token(&mut st.result, &t),
            Ok(None) => break,
            Err(e) => return fail_core(e),
        }
    }
    publish_result(out)
}
