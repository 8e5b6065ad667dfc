//! Source map caches (ABI 10; `pysym_smcache_open` ABI 11, `pysym_smcache_load` ABI 12):
//! built from a map, read back from bytes the module owns or, by pages, from a file of the
//! host's table.
#![forbid(unsafe_code)]

use crate::boundary::{
    fail, fail_core, publish_bytes, publish_result, publish_words, put_out, state, write_string_table,
};
use crate::handles::{self, Map, Owned, SmCache};
use crate::host::HostFile;
use crate::records::{self, bias, FunctionAnswer};
use crate::status;
use pysym_core::js::names::ScopeNames;
use pysym_core::sourcemap::cache::{self as smcache, Bytes, Paged, Prefetched, SourceMapCache, Table, PAGE};
use pysym_core::sourcemap::{Bias, Token, NONE};
use pysym_core::Error;

/// How a cache's errors become statuses: a host file's failed read is the host's status.
trait Failing {
    fn fail(&self, e: Error) -> i32;
    /// `code`, or the host's status if a read failed during the call that gave it.
    fn status(&self, code: i32) -> i32;
}

impl Failing for SourceMapCache<&'static [u8]> {
    fn fail(&self, e: Error) -> i32 {
        fail_core(e)
    }
    fn status(&self, code: i32) -> i32 {
        code
    }
}

impl Failing for SourceMapCache<Paged<HostFile>> {
    fn fail(&self, e: Error) -> i32 {
        match self.data().take_failure() {
            Some(host) => fail(host, format!("host file read failed: {}", e)),
            None => fail_core(e),
        }
    }
    fn status(&self, code: i32) -> i32 {
        match self.data().take_failure() {
            Some(host) if code < 0 => fail(host, format!("host file read failed: {}", state().last_error)),
            _ => code,
        }
    }
}

/// `$body` with `$c` bound to the cache behind handle `$h`, whichever its kind.
macro_rules! with_cache {
    ($h:expr, |$c:ident| $body:expr) => {
        match handles::get::<SmCache>($h) {
            Ok(SmCache::Memory(owned)) => {
                let $c: &SourceMapCache<&'static [u8]> = &**owned;
                let code = $body;
                $c.status(code)
            }
            Ok(SmCache::File(file)) => {
                let $c: &SourceMapCache<Paged<HostFile>> = &**file;
                let code = $body;
                $c.status(code)
            }
            Err(code) => code,
        }
    };
}

pub(crate) fn build(h: u32, flags: u32, out: u32) -> i32 {
    let owned = match handles::get::<Owned<Map>>(h) {
        Ok(m) => m,
        Err(code) => return code,
    };
    // without the generated file, the map's `scopes` field may still name positions
    let from_field = match owned.scopes {
        None if owned.by_field => ScopeNames::from_map(&owned.map),
        _ => None,
    };
    match smcache::write(
        &owned.map,
        owned.scopes.as_ref().or(from_field.as_ref()),
        owned.by_field,
        flags & 1 != 0,
    ) {
        Ok(bytes) => {
            state().result = bytes;
            publish_result(out)
        }
        Err(e) => fail_core(e),
    }
}

pub(crate) fn from_bytes(ptr: u32, len: u32, out: u32) -> i32 {
    match Owned::parse(ptr as *mut u8, len as usize, SourceMapCache::parse) {
        Ok(cache) => handles::insert(SmCache::Memory(cache), out),
        Err(e) => fail_core(e),
    }
}

/// Opens the cache in host file `fh`, which stays in the host's table while the handle
/// lives: the header now, every other page when a call needs it.
pub(crate) fn open(fh: u32, out: u32) -> i32 {
    let file = match HostFile::open(fh) {
        Ok(f) => f,
        Err(code) => return code,
    };
    match SourceMapCache::open_or_return(Paged::new(file)) {
        Ok(cache) => handles::insert(SmCache::File(Box::new(cache)), out),
        Err((e, paged)) => match paged.take_failure() {
            Some(host) => fail(host, format!("host file {}: {}", fh, e)),
            None => fail_core(e),
        },
    }
}

/// `pysym_smcache_open` and what a host keeps of a cache, in one crossing: the handle,
/// the info words and the `[file, debugId]` table (result buffer) in `out[0..9]`. The host
/// gives the file's size (it has just checked it), so the module asks for nothing but the
/// header page.
pub(crate) fn load(fh: u32, size: u32, out: u32) -> i32 {
    let file = HostFile::with_size(fh, size as u64);
    let cache = match SourceMapCache::open_or_return(Paged::new(file)) {
        Ok(cache) => cache,
        Err((e, paged)) => {
            return match paged.take_failure() {
                Some(host) => fail(host, format!("host file {}: {}", fh, e)),
                None => fail_core(e),
            }
        }
    };
    let meta = match cache.strings(Table::Meta) {
        Ok(strings) => [0, 1, 2].map(|i| strings.get(i).map(str::to_owned)),
        Err(e) => return cache.fail(e),
    };
    let words = [
        cache.source_count(),
        cache.name_count(),
        cache.token_count(),
        cache.line_count(),
        cache.flags(),
        cache.function_name_count(),
    ];
    write_string_table(meta.iter().map(|m| m.as_deref().map(std::borrow::Cow::Borrowed)));
    let st = state();
    put_out(out + 4, &words);
    put_out(out + 28, &[st.result.as_ptr() as u32, st.result.len() as u32]);
    handles::insert(SmCache::File(Box::new(cache)), out)
}

pub(crate) fn free(h: u32) -> i32 {
    handles::free::<SmCache>(h)
}

pub(crate) fn info(h: u32, out: u32) -> i32 {
    with_cache!(h, |c| info_of(c, out))
}

fn info_of<S: Bytes>(c: &SourceMapCache<S>, out: u32) -> i32 {
    put_out(
        out,
        &[
            c.source_count(),
            c.name_count(),
            c.token_count(),
            c.line_count(),
            c.flags(),
            c.function_name_count(),
        ],
    );
    status::OK
}

pub(crate) fn strings(h: u32, kind: u32, out: u32) -> i32 {
    with_cache!(h, |c| strings_of(c, kind, out))
}

fn strings_of<S: Bytes>(c: &SourceMapCache<S>, kind: u32, out: u32) -> i32
where
    SourceMapCache<S>: Failing,
{
    let table = match kind {
        0 => Table::Sources,
        1 => Table::Names,
        2 => Table::Meta,
        3 => Table::FunctionNames,
        4 => {
            return match c.ignore_list() {
                Ok(list) => publish_words(list, out),
                Err(e) => c.fail(e),
            }
        }
        _ => {
            return fail(
                status::BAD_ARGUMENT,
                format!("string table kind must be 0 to 4, not {}", kind),
            )
        }
    };
    let strings = match c.strings(table) {
        Ok(s) => s,
        Err(e) => return c.fail(e),
    };
    write_string_table((0..strings.len()).map(|i| strings.get(i).map(std::borrow::Cow::Borrowed)));
    publish_result(out)
}

pub(crate) fn source_content(h: u32, src: u32, out: u32) -> i32 {
    with_cache!(h, |c| match c.string(Table::Contents, src) {
        Ok(Some(text)) => {
            publish_bytes(text.as_bytes(), out);
            1
        }
        Ok(None) => 0,
        Err(e) => c.fail(e),
    })
}

/// The function-name word of a lookup: an index into table 3, or NONE (top-level code
/// or no answer), or NONE - 1 (an anonymous function). `glb`: the greatest-lower-bound
/// token at the position when the lookup found it (the function maps name by it; else
/// it is looked up when needed).
fn function_word<S: Bytes>(c: &SourceMapCache<S>, line: u32, col: u32, glb: Option<&Token>) -> Result<u32, Error> {
    let f = match glb {
        Some(t) => c.function_after(line, col, Some(t))?,
        None => c.function(line, col)?,
    };
    Ok(match f {
        smcache::Function::Unknown | smcache::Function::Global => NONE,
        smcache::Function::Anonymous => NONE - 1,
        smcache::Function::Named(n) => n,
    })
}

pub(crate) fn lookup(h: u32, line: u32, col: u32, bias_value: u32, out: u32) -> i32 {
    with_cache!(h, |c| lookup_of(c, line, col, bias_value, out))
}

fn lookup_of<S: Bytes>(c: &SourceMapCache<S>, line: u32, col: u32, bias_value: u32, out: u32) -> i32
where
    SourceMapCache<S>: Failing,
{
    let b = match bias(bias_value) {
        Ok(b) => b,
        Err(code) => return code,
    };
    match c.lookup_indexed(line, col, b) {
        Ok(Some((i, t))) if t.src != NONE => match function_word(c, line, col, glb_of(b, &t)) {
            Ok(f) => records::put_found(Some(&t), &[i, f], out),
            Err(e) => c.fail(e),
        },
        Ok(_) => 0,
        Err(e) => c.fail(e),
    }
}

/// The greatest-lower-bound token at a position, if `found` (by `bias`) is it.
fn glb_of(bias: Bias, found: &Token) -> Option<&Token> {
    match bias {
        Bias::GreatestLowerBound => Some(found),
        Bias::LeastUpperBound => None,
    }
}

/// A batch with at least one position per this many bytes of lookup sections reads them
/// at once: on babylon.js (17.9 MB of them, from 1,090 positions) reading them costs ~8 ms
/// and a lookup by warm pages ~10 us more than in memory, so they break even there.
const PREFETCH_PER_LOOKUP: u64 = PAGE;

/// `$body` with `$c` bound to the cache behind handle `$h`, as `with_cache!`; a batch of
/// `$count` positions on a paged cache reads the lookup sections at once when it has at
/// least one position per `PREFETCH_PER_LOOKUP` bytes of them.
macro_rules! with_cache_batch {
    ($h:expr, $count:expr, |$c:ident| $body:expr) => {
        match handles::get::<SmCache>($h) {
            Ok(SmCache::File(file)) if $count as u64 * PREFETCH_PER_LOOKUP >= file.lookup_end() => {
                let c: &SourceMapCache<Paged<HostFile>> = &**file;
                let code = match Prefetched::new(c.data(), c.lookup_end()) {
                    Ok(Some(head)) => {
                        let $c = &c.with_data(head);
                        $body
                    }
                    Ok(None) => {
                        let $c = c;
                        $body
                    }
                    Err(e) => c.fail(e),
                };
                c.status(code)
            }
            _ => with_cache!($h, |$c| $body),
        }
    };
}

pub(crate) fn lookup_many(h: u32, ptr: u32, count: u32, bias_value: u32, out: u32) -> i32 {
    with_cache_batch!(h, count, |c| lookup_many_of(c, ptr, count, bias_value, out))
}

fn lookup_many_of<S: Bytes>(c: &SourceMapCache<S>, ptr: u32, count: u32, bias_value: u32, out: u32) -> i32 {
    let b = match bias(bias_value) {
        Ok(b) => b,
        Err(code) => return code,
    };
    records::lookup_many(ptr, count, true, out, |line, col| {
        match c.lookup_indexed(line, col, b)? {
            Some((i, t)) if t.src != NONE => Ok(Some((i, function_word(c, line, col, glb_of(b, &t))?, t))),
            _ => Ok(None),
        }
    })
}

/// `pysym_sourcemap_function_names` for the map the cache was built from: kind 3 (no
/// answer) where the cache has no scopes and no function map answers.
pub(crate) fn function_names(h: u32, ptr: u32, count: u32, out: u32) -> i32 {
    with_cache_batch!(h, count, |c| function_names_of(c, ptr, count, out))
}

fn function_names_of<S: Bytes>(c: &SourceMapCache<S>, ptr: u32, count: u32, out: u32) -> i32 {
    records::function_names(ptr, count, out, |line, col| {
        Ok(match c.function(line, col)? {
            smcache::Function::Unknown => FunctionAnswer::NoAnswer,
            smcache::Function::Global => FunctionAnswer::TopLevel,
            smcache::Function::Anonymous => FunctionAnswer::Anonymous,
            smcache::Function::Named(n) => FunctionAnswer::Named(c.function_name(n)?),
        })
    })
}

pub(crate) fn tokens(h: u32, start: u32, count: u32, out: u32) -> i32 {
    with_cache!(h, |c| match c.tokens(start, count) {
        Ok(tokens) => records::publish_tokens(tokens.into_iter().map(|t| Ok(Some(t))), out),
        Err(e) => c.fail(e),
    })
}

/// Tokens `start .. start + count` as six u32 columns (column_tokens), as a map gives them.
pub(crate) fn token_columns(h: u32, start: u32, count: u32, out: u32) -> i32 {
    with_cache!(h, |c| match c.tokens(start, count) {
        Ok(tokens) => records::publish_token_columns(&tokens, out),
        Err(e) => c.fail(e),
    })
}

/// One entry of a string table (kinds 0 to 3 as `pysym_smcache_strings`) in the result
/// buffer: 1, or 0 for a null entry or an index past the end. A single lookup needs one
/// name, not a table of 100,000 read through the pages.
pub(crate) fn string(h: u32, kind: u32, idx: u32, out: u32) -> i32 {
    let table = match kind {
        0 => Table::Sources,
        1 => Table::Names,
        2 => Table::Meta,
        3 => Table::FunctionNames,
        _ => {
            return fail(
                status::BAD_ARGUMENT,
                format!("string table kind must be 0 to 3, not {}", kind),
            )
        }
    };
    with_cache!(h, |c| match c.string(table, idx) {
        Ok(Some(text)) => {
            publish_bytes(text.as_bytes(), out);
            1
        }
        Ok(None) => 0,
        Err(e) => c.fail(e),
    })
}

pub(crate) fn hermes_column(h: u32, segment: u32, function: u32, offset: u32, out: u32) -> i32 {
    with_cache!(h, |c| match c.hermes_column(segment, function, offset) {
        Ok(Some(col)) => {
            put_out(out, &[col]);
            1
        }
        Ok(None) => 0,
        Err(e) => c.fail(e),
    })
}
