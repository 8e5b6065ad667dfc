//! Source maps: parsing, tables, lookups, and the function names of their generated
//! JavaScript files.
#![forbid(unsafe_code)]

use crate::boundary::{
    fail, fail_core, host_u32, publish_bytes, publish_result, publish_words, push_u32, push_u32_run, push_u32s,
    put_out, state, write_string_table, TakenInput,
};
use crate::handles::{self, Map, Owned};
use crate::host::read_whole_file;
use crate::records::{self, bias, FunctionAnswer};
use crate::status;
use pysym_core::js::names::{Enclosing, ScopeNames};
use pysym_core::sourcemap::{SourceMap, NONE};
use std::borrow::Cow;

fn parse(ptr: *mut u8, len: usize, out: u32) -> i32 {
    match Owned::parse(ptr, len, |data| {
        SourceMap::parse(data).map(|map| {
            let by_field = ScopeNames::from_map(&map).is_some();
            Map {
                map,
                scopes: None,
                by_field,
            }
        })
    }) {
        Ok(owned) => handles::insert(owned, out),
        Err(e) => fail_core(e),
    }
}

fn map(h: u32) -> Result<&'static mut Owned<Map>, i32> {
    handles::get::<Owned<Map>>(h)
}

macro_rules! try_map {
    ($h:expr) => {
        match map($h) {
            Ok(m) => &m.map,
            Err(code) => return code,
        }
    };
}

pub(crate) fn from_bytes(ptr: u32, len: u32, out: u32) -> i32 {
    parse(ptr as *mut u8, len as usize, out)
}

pub(crate) fn from_file(fh: u32, out: u32) -> i32 {
    match read_whole_file(fh) {
        Ok((ptr, len)) => parse(ptr, len, out),
        Err(code) => code,
    }
}

pub(crate) fn free(h: u32) -> i32 {
    handles::free::<Owned<Map>>(h)
}

pub(crate) fn info(h: u32, out: u32) -> i32 {
    let owned = match map(h) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let m = &owned.map;
    // bit 1: the `scopes` field names positions; bit 2: `x_facebook_sources` function maps
    let flags = m.is_index_map() as u32 | (owned.by_field as u32) << 1 | (!m.function_maps().is_empty() as u32) << 2;
    put_out(
        out,
        &[m.source_count(), m.name_count(), m.token_count(), m.line_count(), flags],
    );
    status::OK
}

pub(crate) fn strings(h: u32, kind: u32, out: u32) -> i32 {
    let m = try_map!(h);
    match kind {
        0 => write_string_table((0..m.source_count()).map(|i| m.source(i))),
        1 => write_string_table((0..m.name_count()).map(|i| m.name(i))),
        2 => write_string_table([m.file(), m.debug_id(), m.function_maps().error().map(Into::into)].into_iter()),
        _ => {
            return fail(
                status::BAD_ARGUMENT,
                format!("string table kind must be 0, 1 or 2, not {}", kind),
            )
        }
    }
    publish_result(out)
}

pub(crate) fn strings_at(h: u32, kind: u32, ptr: u32, count: u32, out: u32) -> i32 {
    let m = try_map!(h);
    let bound = match kind {
        0 => m.source_count(),
        1 => m.name_count(),
        _ => {
            return fail(
                status::BAD_ARGUMENT,
                format!("string table kind must be 0 or 1, not {}", kind),
            )
        }
    };
    let n = count as usize;
    if let Some(bad) = (0..n).map(|i| host_u32(ptr, i)).find(|&i| i >= bound) {
        return fail(
            status::BAD_ARGUMENT,
            format!("string index {} out of range ({} entries)", bad, bound),
        );
    }
    let entry = |i: u32| if kind == 0 { m.source(i) } else { m.name(i) };
    write_string_table((0..n).map(|i| entry(host_u32(ptr, i))));
    publish_result(out)
}

pub(crate) fn source_content(h: u32, src: u32, out: u32) -> i32 {
    let m = try_map!(h);
    if src >= m.source_count() {
        return fail(status::BAD_ARGUMENT, format!("source index {} out of range", src));
    }
    match m.source_content(src) {
        Err(e) => fail_core(e),
        Ok(Some(text)) => {
            publish_bytes(text.as_bytes(), out);
            1
        }
        Ok(None) => 0,
    }
}

pub(crate) fn ignore_list(h: u32, out: u32) -> i32 {
    let m = try_map!(h);
    publish_words(m.ignore_list().iter().copied(), out)
}

pub(crate) fn lookup(h: u32, line: u32, col: u32, bias_value: u32, out: u32) -> i32 {
    let m = try_map!(h);
    let b = match bias(bias_value) {
        Ok(b) => b,
        Err(code) => return code,
    };
    match m.lookup_indexed(line, col, b) {
        Some((i, t)) => records::put_found(Some(&t), &[i], out),
        None => 0,
    }
}

pub(crate) fn lookup_many(h: u32, ptr: u32, count: u32, bias_value: u32, out: u32) -> i32 {
    let m = try_map!(h);
    let b = match bias(bias_value) {
        Ok(b) => b,
        Err(code) => return code,
    };
    records::lookup_many(ptr, count, false, out, |line, col| {
        Ok(m.lookup_indexed(line, col, b).map(|(i, t)| (i, NONE, t)))
    })
}

pub(crate) fn lookup_distinct(h: u32, ptr: u32, count: u32, bias_value: u32, out: u32) -> i32 {
    let m = try_map!(h);
    let b = match bias(bias_value) {
        Ok(b) => b,
        Err(code) => return code,
    };
    records::lookup_distinct(
        ptr,
        count,
        out,
        |line, col| m.lookup_index(line, col, b),
        |idx, line| m.token_on_line(idx, line),
    )
}

pub(crate) fn tokens(h: u32, start: u32, count: u32, out: u32) -> i32 {
    let m = try_map!(h);
    let end = start.saturating_add(count).min(m.token_count());
    records::publish_tokens((start..end).map(|i| Ok(m.token(i))), out)
}

pub(crate) fn token_columns(h: u32, start: u32, count: u32, out: u32) -> i32 {
    let m = try_map!(h);
    let end = start.saturating_add(count).min(m.token_count());
    let start = start.min(end);
    let n = (end - start) as usize;
    let result = &mut state().result;
    result.clear();
    if result.try_reserve(4 + n.saturating_mul(24)).is_err() {
        return fail(status::OUT_OF_MEMORY, format!("cannot allocate {} token columns", n));
    }
    push_u32(result, n as u32);
    m.token_line_runs(start, end, |line, k| push_u32_run(result, line, k as usize));
    for column in m.token_fields(start, end) {
        push_u32s(result, column);
    }
    publish_result(out)
}

pub(crate) fn generated_positions(h: u32, src: u32, line: u32, col: u32, out: u32) -> i32 {
    let m = try_map!(h);
    if src >= m.source_count() {
        return fail(status::BAD_ARGUMENT, format!("source index {} out of range", src));
    }
    let col = if col == NONE { None } else { Some(col) };
    let tokens = m.generated_positions(src, line, col);
    records::publish_tokens(tokens.into_iter().map(|t| Ok(Some(t))), out)
}

pub(crate) fn hermes_column(h: u32, segment: u32, function: u32, offset: u32, out: u32) -> i32 {
    let m = try_map!(h);
    match m.hermes_column(segment, function, offset) {
        Some(col) => {
            put_out(out, &[col]);
            1
        }
        None => 0,
    }
}

// -- JavaScript function names (ABI 9)

pub(crate) fn set_generated(h: u32, ptr: u32, len: u32, out: u32) -> i32 {
    let input = TakenInput::new(ptr, len);
    let owned = match map(h) {
        Ok(m) => m,
        Err(code) => return code,
    };
    if input.is_null() {
        return fail(
            status::BAD_ARGUMENT,
            "pysym_sourcemap_set_generated: no input".to_string(),
        );
    }
    let built = ScopeNames::build(input.bytes(), Some(&owned.map));
    drop(input);
    match built {
        Ok(names) => {
            put_out(out, &[names.len() as u32]);
            owned.scopes = Some(names);
            status::OK
        }
        Err(e) => fail_core(e),
    }
}

pub(crate) fn function_names(h: u32, ptr: u32, count: u32, out: u32) -> i32 {
    let owned = match map(h) {
        Ok(m) => m,
        Err(code) => return code,
    };
    if owned.scopes.is_none() {
        // without the generated file, a map's `scopes` field may still name positions
        owned.scopes = ScopeNames::from_map(&owned.map);
    }
    // Metro's function maps name positions by their original source, as metro-symbolicate
    // does; a `scopes` field (exact generated ranges) wins over them.
    let fb = !owned.by_field && !owned.map.function_maps().is_empty();
    let m = &owned.map;
    let names = match &owned.scopes {
        Some(n) => Some(n),
        None if fb => None,
        None => {
            return fail(
                status::BAD_ARGUMENT,
                "the source map has no generated file (set_generated)".to_string(),
            )
        }
    };
    records::function_names(ptr, count, out, |line, col| {
        let found = match m.original_function_name(line, col).filter(|_| fb) {
            Some(s) => Some(Enclosing::Named(s)),
            None => names.map(|n| n.lookup(line, col)),
        };
        Ok(match found {
            None => FunctionAnswer::NoAnswer,
            Some(Enclosing::Global) => FunctionAnswer::TopLevel,
            Some(Enclosing::Anonymous) => FunctionAnswer::Anonymous,
            Some(Enclosing::Named(s)) => FunctionAnswer::Named(Cow::Borrowed(s)),
        })
    })
}
