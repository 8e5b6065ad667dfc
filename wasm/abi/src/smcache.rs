//! Source map caches (ABI 10): built from a map, read back from bytes.
#![forbid(unsafe_code)]

use crate::boundary::{
    fail, fail_core, publish_bytes, publish_result, publish_words, put_out, state, write_string_table,
};
use crate::handles::{self, Map, Owned};
use crate::records::{self, bias};
use crate::status;
use pysym_core::js::names::ScopeNames;
use pysym_core::sourcemap::cache::{self as smcache, SourceMapCache, Table};
use pysym_core::sourcemap::NONE;
use pysym_core::Error;

type Cache = Owned<SourceMapCache<'static>>;

macro_rules! try_cache {
    ($h:expr) => {
        match handles::get::<Cache>($h) {
            Ok(c) => &**c,
            Err(code) => return code,
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
        None => ScopeNames::from_map(&owned.map),
        Some(_) => None,
    };
    match smcache::write(
        &owned.map,
        owned.scopes.as_ref().or(from_field.as_ref()),
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
        Ok(cache) => handles::insert(cache, out),
        Err(e) => fail_core(e),
    }
}

pub(crate) fn free(h: u32) -> i32 {
    handles::free::<Cache>(h)
}

pub(crate) fn info(h: u32, out: u32) -> i32 {
    let c = try_cache!(h);
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
    let c = try_cache!(h);
    let (table, n) = match kind {
        0 => (Table::Sources, c.source_count()),
        1 => (Table::Names, c.name_count()),
        2 => (Table::Meta, 2),
        3 => (Table::FunctionNames, c.function_name_count()),
        4 => {
            return match c.ignore_list() {
                Ok(list) => publish_words(list, out),
                Err(e) => fail_core(e),
            }
        }
        _ => {
            return fail(
                status::BAD_ARGUMENT,
                format!("string table kind must be 0 to 4, not {}", kind),
            )
        }
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

pub(crate) fn source_content(h: u32, src: u32, out: u32) -> i32 {
    let c = try_cache!(h);
    match c.string(Table::Contents, src) {
        Ok(Some(text)) => {
            publish_bytes(text.as_bytes(), out);
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

pub(crate) fn lookup(h: u32, line: u32, col: u32, bias_value: u32, out: u32) -> i32 {
    let c = try_cache!(h);
    let b = match bias(bias_value) {
        Ok(b) => b,
        Err(code) => return code,
    };
    match c.lookup_indexed(line, col, b) {
        Ok(Some((i, t))) if t.src != NONE => match function_word(c, line, col) {
            Ok(f) => records::put_found(Some(&t), &[i, f], out),
            Err(e) => fail_core(e),
        },
        Ok(_) => 0,
        Err(e) => fail_core(e),
    }
}

pub(crate) fn lookup_many(h: u32, ptr: u32, count: u32, bias_value: u32, out: u32) -> i32 {
    let c = try_cache!(h);
    let b = match bias(bias_value) {
        Ok(b) => b,
        Err(code) => return code,
    };
    records::lookup_many(ptr, count, true, out, |line, col| {
        match c.lookup_indexed(line, col, b)? {
            Some((i, t)) if t.src != NONE => Ok(Some((i, function_word(c, line, col)?, t))),
            _ => Ok(None),
        }
    })
}

pub(crate) fn tokens(h: u32, start: u32, count: u32, out: u32) -> i32 {
    let c = try_cache!(h);
    let end = start.saturating_add(count).min(c.token_count());
    records::publish_tokens((start..end).map(|i| c.token(i)), out)
}
