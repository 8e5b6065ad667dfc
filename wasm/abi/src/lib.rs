//! The host ABI shim: the only place with `extern`, `#[no_mangle]`, raw pointers, handle
//! tables and status codes. `wasm/ABI.md` is the contract; the exports below appear in
//! the order that document lists them, each handing its arguments to the module of its
//! domain. Those modules forbid `unsafe`: what touches raw memory is in `boundary`
//! (what the host wrote, the result buffer and out slot), `handles` (objects kept with
//! the bytes they borrow), `host` (the imports) and `alloc` (the allocator).
//!
//! The I/O policy (how a debug file is read: streamed, cached, ranged) is the core's
//! (`pysym_core::native::DebugFile`); the shim only gives it the host's files.

mod alloc;
mod boundary;
mod handles;
mod host;
#[cfg(any(target_arch = "wasm32", test))]
mod pools;

mod instance;
mod links;
mod maps;
mod minidump;
mod records;
mod smcache;
mod symcache;
mod trace;

/// The ABI version and the status codes, generated from wasm/abi.toml (tools/abigen.py) like
/// the tables of ABI.md.
pub mod status;
pub use status::ABI_VERSION;

// -- Instance ------------------------------------------------------------------------------

/// ABI version; hosts refuse a module whose version they do not know.
#[no_mangle]
pub extern "C" fn pysym_abi_version() -> i32 {
    ABI_VERSION
}

/// Address of the 64-byte out slot.
#[no_mangle]
pub extern "C" fn pysym_out_slot() -> u32 {
    boundary::out_slot()
}

/// Allocates `len` bytes for input; 0 when out of memory.
#[no_mangle]
pub extern "C" fn pysym_alloc(len: u32) -> u32 {
    instance::alloc(len)
}

/// Frees memory from `pysym_alloc` that no export took ownership of.
#[no_mangle]
pub extern "C" fn pysym_free(ptr: u32, len: u32) {
    instance::free(ptr, len)
}

/// A reusable input area of at least `len` bytes; 0 when out of memory.
#[no_mangle]
pub extern "C" fn pysym_input_buffer(len: u32) -> u32 {
    instance::input_buffer(len)
}

/// The message of the last failing call as a result buffer; returns that call's status.
#[no_mangle]
pub extern "C" fn pysym_last_error(out: u32) -> i32 {
    instance::last_error(out)
}

/// Size of the latest allocation request that failed since the previous call (0: none);
/// resets it. Hosts call it after a trap to tell an exhausted memory cap from a bug.
#[no_mangle]
pub extern "C" fn pysym_alloc_failure() -> i32 {
    instance::alloc_failure()
}

// -- Source maps ---------------------------------------------------------------------------

/// Parses a map from memory allocated with `pysym_alloc`, taking ownership of it.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_from_bytes(ptr: u32, len: u32, out: u32) -> i32 {
    maps::from_bytes(ptr, len, out)
}

/// Parses a map read through the host's `file_read`.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_from_file(fh: u32, out: u32) -> i32 {
    maps::from_file(fh, out)
}

/// Frees a source map.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_free(h: u32) -> i32 {
    maps::free(h)
}

/// Counts and flags of a map.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_info(h: u32, out: u32) -> i32 {
    maps::info(h, out)
}

/// A string table: kind 0 sources, 1 names, 2 metadata `[file, debugId]`.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_strings(h: u32, kind: u32, out: u32) -> i32 {
    maps::strings(h, kind, out)
}

/// `sourcesContent[src]`; returns 1 when present, 0 when absent or null.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_source_content(h: u32, src: u32, out: u32) -> i32 {
    maps::source_content(h, src, out)
}

/// The ignore list as u32 source indices.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_ignore_list(h: u32, out: u32) -> i32 {
    maps::ignore_list(h, out)
}

/// Single lookup: 1 and a token record in `out[0..6]` plus its index in `out[6]`, or 0.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_lookup(h: u32, line: u32, col: u32, bias_value: u32, out: u32) -> i32 {
    maps::lookup(h, line, col, bias_value, out)
}

/// Batched lookup over `count` (line, col) pairs at `ptr`: `count` token indices, then
/// `count` token records.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_lookup_many(h: u32, ptr: u32, count: u32, bias_value: u32, out: u32) -> i32 {
    maps::lookup_many(h, ptr, count, bias_value, out)
}

/// Token records `start .. start + count` in generated order.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_tokens(h: u32, start: u32, count: u32, out: u32) -> i32 {
    maps::tokens(h, start, count, out)
}

/// Every generated position mapped from `src:line:col` (`col = NONE`: the whole line).
#[no_mangle]
pub extern "C" fn pysym_sourcemap_generated_positions(h: u32, src: u32, line: u32, col: u32, out: u32) -> i32 {
    maps::generated_positions(h, src, line, col, out)
}

// -- Native debug files and symcaches ------------------------------------------------------

/// Identity of a debug file read through the host (ranged reads): string table `[kind,
/// arch, debug_id, code_id, debug_file, warning...]`, image base, flags, code offset.
#[no_mangle]
pub extern "C" fn pysym_object_info(fh: u32, arch_ptr: u32, arch_len: u32, out: u32) -> i32 {
    symcache::object_info(fh, arch_ptr, arch_len, out)
}

/// Builds a symcache from a debug file read through the host (ranged reads) and streams
/// it to the host's output; `out[0]`, `out[1]` = its size, `out[2]`, `out[3]` = a result
/// buffer with the string table of what the build skipped. The module keeps nothing.
#[no_mangle]
pub extern "C" fn pysym_symcache_build(fh: u32, arch_ptr: u32, arch_len: u32, out: u32) -> i32 {
    symcache::build(fh, arch_ptr, arch_len, out)
}

/// Loads a built symcache from memory allocated with `pysym_alloc` (takes ownership).
#[no_mangle]
pub extern "C" fn pysym_symcache_from_bytes(ptr: u32, len: u32, out: u32) -> i32 {
    symcache::from_bytes(ptr, len, out)
}

/// Loads a built symcache read through the host.
#[no_mangle]
pub extern "C" fn pysym_symcache_from_file(fh: u32, out: u32) -> i32 {
    symcache::from_file(fh, out)
}

/// Frees a symcache.
#[no_mangle]
pub extern "C" fn pysym_symcache_free(h: u32) -> i32 {
    symcache::free(h)
}

/// Identity of a symcache: string table `[kind, arch, debug_id, code_id]`, image base,
/// flags, range count.
#[no_mangle]
pub extern "C" fn pysym_symcache_info(h: u32, out: u32) -> i32 {
    symcache::info(h, out)
}

/// The symcache's bytes as a result buffer (no copy: it points at the symcache).
#[no_mangle]
pub extern "C" fn pysym_symcache_bytes(h: u32, out: u32) -> i32 {
    symcache::bytes(h, out)
}

/// Batched lookup of `count` u64 addresses at `ptr` (relative to the image base): the
/// innermost location of each, `NONE` where nothing covers it. Hosts keep frames per
/// location (`pysym_symcache_locations`), so a batch costs one u32 per address.
#[no_mangle]
pub extern "C" fn pysym_symcache_lookup_many(h: u32, ptr: u32, count: u32, out: u32) -> i32 {
    symcache::lookup_many(h, ptr, count, out)
}

/// Batched lookup answered in address order: for `count` u64 addresses at `ptr`, the result
/// buffer holds `count` u32 positions `first + i` of the addresses in address order, then
/// the `count` innermost location ids in that same order; `out[2]` = largest id + 1 (0 when
/// nothing is covered). A host that builds its answers in this order reads its cached
/// frames in roughly the order they were made (locations are numbered by address), which
/// costs far fewer cache misses than input order.
#[no_mangle]
pub extern "C" fn pysym_symcache_lookup_ordered(h: u32, ptr: u32, count: u32, first: u32, out: u32) -> i32 {
    symcache::lookup_ordered(h, ptr, count, first, out)
}

/// Location records for `count` u32 location ids at `ptr` and for all their callers, each
/// once, in increasing order (so a caller comes before the locations inlined into it),
/// with each one's chain of frames as a span of record positions.
#[no_mangle]
pub extern "C" fn pysym_symcache_locations(h: u32, ptr: u32, count: u32, out: u32) -> i32 {
    symcache::locations(h, ptr, count, out)
}

// -- Minidumps and unwind information ------------------------------------------------------

/// Parses a minidump read through the host (ranged reads: only its structures are read,
/// never the saved memory) into a result buffer holding its JSON document (ABI.md,
/// "Minidump document"). Damage inside the dump is reported in the document's warnings;
/// only a file that is not a minidump fails.
#[no_mangle]
pub extern "C" fn pysym_minidump_parse(fh: u32, out: u32) -> i32 {
    minidump::parse_document(fh, out)
}

/// Builds the CFI cache (`wasm/core/src/unwind/FORMAT.md`) of a debug file read through
/// the host (ELF/Mach-O `.eh_frame` + `.debug_frame`, Breakpad `STACK` records) into a
/// result buffer: `u32` cache length, the cache, then a string table of what the build
/// skipped. `out[2]` = rows in the cache.
#[no_mangle]
pub extern "C" fn pysym_unwind_build(fh: u32, arch_ptr: u32, arch_len: u32, out: u32) -> i32 {
    minidump::unwind_build(fh, arch_ptr, arch_len, out)
}

/// Walks the stacks of the minidump behind `fh` (ranged reads) with the CFI caches in
/// the input at `ptr`/`len` (from `pysym_alloc`; taken and freed): `u32` count, then per
/// cache `u32` module index (into the dump's module list), `u32` length, the cache's
/// bytes, padding to 4. Result: the stack walk JSON document (ABI.md).
#[no_mangle]
pub extern "C" fn pysym_minidump_walk(fh: u32, ptr: u32, len: u32, out: u32) -> i32 {
    minidump::walk_file(fh, ptr, len, out)
}

// -- Compressed downloads ------------------------------------------------------------------

/// Decompresses gzip, zstd or a cabinet file's first file (`len` bytes at `ptr`, from
/// `pysym_alloc`; the module takes ownership) into at most `limit` bytes: result buffer in
/// `out[0..2]`, the format (1 gzip, 2 zstd, 3 cab) in `out[2]`.
#[no_mangle]
pub extern "C" fn pysym_decompress(ptr: u32, len: u32, limit: u32, out: u32) -> i32 {
    instance::decompress(ptr, len, limit, out)
}

// -- JavaScript function names (ABI 9) -----------------------------------------------------

/// Gives a map its generated JavaScript file (`len` bytes at `ptr`, from `pysym_alloc`;
/// the module takes ownership and frees it before returning): its function scopes are
/// extracted and named through the map, for `pysym_sourcemap_function_names`.
/// `out[0]` = number of scope transitions kept.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_set_generated(h: u32, ptr: u32, len: u32, out: u32) -> i32 {
    maps::set_generated(h, ptr, len, out)
}

/// The function enclosing each of `count` generated (line, col) pairs at `ptr`: one
/// record `[kind, offset, length]` per position (kind 0 top level, 1 anonymous function,
/// 2 named: the name is `length` bytes at `offset` after the records), then the names.
/// Without `pysym_sourcemap_set_generated` first, BAD_ARGUMENT.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_function_names(h: u32, ptr: u32, count: u32, out: u32) -> i32 {
    maps::function_names(h, ptr, count, out)
}

// -- Minidumps kept between calls (ABI 9) --------------------------------------------------

/// `pysym_minidump_parse`, keeping the parsed dump: result buffer (the document) in
/// `out[0..2]`, the handle in `out[2]`, for `pysym_minidump_walk_open`.
#[no_mangle]
pub extern "C" fn pysym_minidump_open(fh: u32, out: u32) -> i32 {
    minidump::open(fh, out)
}

/// `pysym_minidump_walk` on a dump parsed by `pysym_minidump_open` (`handle`), its
/// memory read through `fh` (the same file: one of another size is refused); `fh` comes
/// first, as in every export that reads a host file.
#[no_mangle]
pub extern "C" fn pysym_minidump_walk_open(fh: u32, handle: u32, ptr: u32, len: u32, out: u32) -> i32 {
    minidump::walk_kept(fh, handle, ptr, len, out)
}

/// Frees a minidump from `pysym_minidump_open`.
#[no_mangle]
pub extern "C" fn pysym_minidump_free(h: u32) -> i32 {
    minidump::free(h)
}

// -- JavaScript stack traces (ABI 10) ------------------------------------------------------

/// Parses stack-trace lines: `len` bytes of UTF-8 at `ptr` (the host's input buffer,
/// `pysym_input_buffer`), the lines joined by `\n`; lines longer than `max_chars` code
/// points are not frames; offsets in `units` (0 bytes, 1 code points, 2 UTF-16 units).
/// Result buffer in `out[0..2]`: little-endian u32 words, per line its record count, then
/// the records (ABI.md "Layouts", trace records).
#[no_mangle]
pub extern "C" fn pysym_js_parse_trace(ptr: u32, len: u32, max_chars: u32, units: u32, out: u32) -> i32 {
    trace::parse(ptr, len, max_chars, units, out)
}

// -- Source map caches (ABI 10) ------------------------------------------------------------

/// The cache of map `h` (with its generated file's scopes if it was given one; flags
/// bit 0: with `sourcesContent`) in the result buffer.
#[no_mangle]
pub extern "C" fn pysym_smcache_build(h: u32, flags: u32, out: u32) -> i32 {
    smcache::build(h, flags, out)
}

/// Opens a cache from memory allocated with `pysym_alloc`, taking ownership of it.
#[no_mangle]
pub extern "C" fn pysym_smcache_from_bytes(ptr: u32, len: u32, out: u32) -> i32 {
    smcache::from_bytes(ptr, len, out)
}

/// Frees a source map cache.
#[no_mangle]
pub extern "C" fn pysym_smcache_free(h: u32) -> i32 {
    smcache::free(h)
}

/// Counts and flags of a cache.
#[no_mangle]
pub extern "C" fn pysym_smcache_info(h: u32, out: u32) -> i32 {
    smcache::info(h, out)
}

/// A string table of the cache: kind 0 sources, 1 names, 2 `[file, debugId]`, 3 function
/// names. Also the ignore list (u32s) as kind 4.
#[no_mangle]
pub extern "C" fn pysym_smcache_strings(h: u32, kind: u32, out: u32) -> i32 {
    smcache::strings(h, kind, out)
}

/// `sourcesContent[src]` of a cache built with it; returns 1 when present, 0 when not.
#[no_mangle]
pub extern "C" fn pysym_smcache_source_content(h: u32, src: u32, out: u32) -> i32 {
    smcache::source_content(h, src, out)
}

/// Single lookup: 1 and a token record in `out[0..6]`, its index in `out[6]` and the
/// function-name word in `out[7]`, or 0.
#[no_mangle]
pub extern "C" fn pysym_smcache_lookup(h: u32, line: u32, col: u32, bias_value: u32, out: u32) -> i32 {
    smcache::lookup(h, line, col, bias_value, out)
}

/// Batched lookup over `count` (line, col) pairs at `ptr`: `count` token indices, then
/// `count` function-name words, then `count` token records.
#[no_mangle]
pub extern "C" fn pysym_smcache_lookup_many(h: u32, ptr: u32, count: u32, bias_value: u32, out: u32) -> i32 {
    smcache::lookup_many(h, ptr, count, bias_value, out)
}

/// Token records `start .. start + count` of a cache in generated order.
#[no_mangle]
pub extern "C" fn pysym_smcache_tokens(h: u32, start: u32, count: u32, out: u32) -> i32 {
    smcache::tokens(h, start, count, out)
}

// -- Source map links of generated JavaScript (ABI 11) ---------------------------------------

/// The `sourceMappingURL` and `debugId` comments of the generated JavaScript in `len`
/// bytes at `ptr` (taken): `out[0..4]` = the URL's start and end, the debug id's start and
/// end, in `units` (`NONE` twice when absent).
#[no_mangle]
pub extern "C" fn pysym_js_find_links(ptr: u32, len: u32, units: u32, out: u32) -> i32 {
    links::find(ptr, len, units, out)
}

/// The payload of the `data:` URL in `len` bytes at `ptr` (taken) in the result buffer.
#[no_mangle]
pub extern "C" fn pysym_decode_data_url(ptr: u32, len: u32, out: u32) -> i32 {
    links::data_url(ptr, len, out)
}

// -- Source map caches opened by pages (ABI 11) -----------------------------------------

/// Opens the source map cache in host file `fh`, read by pages as calls need them (the
/// file stays in the host's table until the handle is freed).
#[no_mangle]
pub extern "C" fn pysym_smcache_open(fh: u32, out: u32) -> i32 {
    smcache::open(fh, out)
}

/// One string of a cache's table (kinds as `pysym_smcache_strings`, 0 to 3): 1 and its
/// bytes in the result buffer, or 0 for a null entry.
#[no_mangle]
pub extern "C" fn pysym_smcache_string(h: u32, kind: u32, idx: u32, out: u32) -> i32 {
    smcache::string(h, kind, idx, out)
}

/// A Hermes crash frame's generated column from the map's `x_hermes_function_offsets`
/// (ABI 12): 1 and `out[0]`, or 0 when the function is not listed.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_hermes_column(h: u32, segment: u32, function: u32, offset: u32, out: u32) -> i32 {
    maps::hermes_column(h, segment, function, offset, out)
}

// -- Token columns (ABI 12) -------------------------------------------------------------------

/// Tokens `start .. start + count` of a map as six u32 columns (token columns result).
#[no_mangle]
pub extern "C" fn pysym_sourcemap_token_columns(h: u32, start: u32, count: u32, out: u32) -> i32 {
    maps::token_columns(h, start, count, out)
}

// -- Source map caches opened in one crossing (ABI 12) ----------------------------------

/// Opens the source map cache in host file `fh` of `size` bytes (as `pysym_smcache_open`,
/// without asking the host for the size) and gives the handle, the info words and the
/// `[file, debugId]` table in `out[0..9]`.
#[no_mangle]
pub extern "C" fn pysym_smcache_load(fh: u32, size: u32, out: u32) -> i32 {
    smcache::load(fh, size, out)
}

// -- Token columns of source map caches (ABI 13) ----------------------------------------

/// Tokens `start .. start + count` of a source map cache as six u32 columns (token columns
/// result), as `pysym_sourcemap_token_columns` gives a map's.
#[no_mangle]
pub extern "C" fn pysym_smcache_token_columns(h: u32, start: u32, count: u32, out: u32) -> i32 {
    smcache::token_columns(h, start, count, out)
}

// -- Symcaches the host checked before (ABI 13) ----------------------------------------

/// Loads a symcache as `pysym_symcache_from_bytes` does, checking only the header, the
/// sections' geometry and the identity strings (the host's own cache).
#[no_mangle]
pub extern "C" fn pysym_symcache_from_bytes_unchecked(ptr: u32, len: u32, out: u32) -> i32 {
    symcache::from_bytes_unchecked(ptr, len, out)
}

// -- Hermes offsets of a source map cache (ABI 14) ------------------------------------

/// A Hermes crash frame's generated column from a cache's `x_hermes_function_offsets`, as
/// `pysym_sourcemap_hermes_column` gives the map's.
#[no_mangle]
pub extern "C" fn pysym_smcache_hermes_column(h: u32, segment: u32, function: u32, offset: u32, out: u32) -> i32 {
    smcache::hermes_column(h, segment, function, offset, out)
}

// -- Function names of a source map cache (ABI 15) ------------------------------------

/// The function around each generated position, as `pysym_sourcemap_function_names` gives
/// it for the map the cache was built from (kind 3 where the cache cannot answer).
#[no_mangle]
pub extern "C" fn pysym_smcache_function_names(h: u32, ptr: u32, count: u32, out: u32) -> i32 {
    smcache::function_names(h, ptr, count, out)
}

// -- Batched source map lookups, each distinct token once (ABI 15) ----------------------

/// As `pysym_sourcemap_lookup_many`, with each distinct token found written once, as
/// columns, and a slot per position (distinct_lookups).
#[no_mangle]
pub extern "C" fn pysym_sourcemap_lookup_distinct(h: u32, ptr: u32, count: u32, bias_value: u32, out: u32) -> i32 {
    maps::lookup_distinct(h, ptr, count, bias_value, out)
}

// -- Locations with the asked ids' places (ABI 16) ----------------------------------------

/// As `pysym_symcache_locations`, with NONE ids allowed, the result led by where each
/// asked id's record is and the records as columns, names as the host's slots
/// (locations_at): a host that numbers records and names in order appends them as they
/// are, without a look-up per id or per name.
#[no_mangle]
pub extern "C" fn pysym_symcache_locations_at(h: u32, ptr: u32, count: u32, name_base: u32, out: u32) -> i32 {
    symcache::locations_at(h, ptr, count, name_base, out)
}

// -- Chosen entries of a map's string tables (ABI 16) ----------------------------------

/// The sources (`kind` 0) or names (`kind` 1) at `count` u32 indices written at `ptr`,
/// as a string table result.
#[no_mangle]
pub extern "C" fn pysym_sourcemap_strings_at(h: u32, kind: u32, ptr: u32, count: u32, out: u32) -> i32 {
    maps::strings_at(h, kind, ptr, count, out)
}
