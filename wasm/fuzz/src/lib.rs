//! Shared drivers of the fuzz targets: each exercises one parser of pysym-core the way
//! the ABI shim does (parse, then query), so a crash here is a trap in the wasm module.
//! A `pub fn` per target keeps them callable from the regression replay too.

use pysym_core::sourcemap::{Bias, SourceMap};
use pysym_core::symcache::SymCache;

/// Source map JSON + VLQ mappings: parse, then exercise every query.
pub fn sourcemap(data: &[u8]) {
    if let Ok(map) = SourceMap::parse(data) {
        query_map(&map);
    }
}

fn query_map(map: &SourceMap<'_>) {
    for i in 0..map.source_count().min(8) {
        let _ = map.source(i);
        let _ = map.source_content(i);
        let _ = map.generated_positions(i, 0, None);
        let _ = map.generated_positions(i, 1, Some(0));
    }
    for i in 0..map.name_count().min(8) {
        let _ = map.name(i);
    }
    let _ = (map.file(), map.debug_id(), map.ignore_list());
    let n = map.token_count();
    for i in [0, 1, n / 2, n.saturating_sub(1), n] {
        if let Some(t) = map.token(i) {
            let _ = map.lookup(t.dst_line, t.dst_col, Bias::GreatestLowerBound);
            let _ = map.lookup(t.dst_line, t.dst_col.saturating_add(1), Bias::LeastUpperBound);
        }
    }
    for line in [0, 1, 2, map.line_count(), u32::MAX] {
        for col in [0, 1, 1000, u32::MAX] {
            let _ = map.lookup(line, col, Bias::GreatestLowerBound);
            let _ = map.lookup(line, col, Bias::LeastUpperBound);
        }
    }
}

/// VLQ: a `mappings` string inside a fixed, valid map.
pub fn vlq(data: &[u8]) {
    let _ = pysym_core::sourcemap::vlq_decode(data);
    let mut json = Vec::with_capacity(data.len() + 96);
    json.extend_from_slice(br#"{"version":3,"sources":["a","b"],"names":["x","y"],"mappings":""#);
    for &b in data {
        // keep it a JSON string: escape what JSON cannot hold raw
        if b == b'"' || b == b'\\' || b < 0x20 {
            json.push(b'\\');
            json.push(if b < 0x20 { b'n' } else { b });
        } else {
            json.push(b);
        }
    }
    json.extend_from_slice(b"\"}");
    sourcemap(&json);
}

/// Index maps: the input is the `sections` array (nesting, offsets, inner maps).
pub fn index_map(data: &[u8]) {
    let mut json = Vec::with_capacity(data.len() + 32);
    json.extend_from_slice(br#"{"version":3,"sections":"#);
    json.extend_from_slice(data);
    json.push(b'}');
    sourcemap(&json);
}

/// Object readers (ELF, Mach-O, universal) and DWARF: identity, then a symcache build,
/// then lookups in the cache that was built.
pub fn object(data: &[u8]) {
    for arch in [None, Some("x86_64"), Some("arm64")] {
        let _ = pysym_core::native::object_info(data, arch);
    }
    let built = pysym_core::native::build_symcache(data, None).map(|b| b.finish());
    if let Ok(cache) = &built {
        match SymCache::parse(cache) {
            Ok(sc) => query_cache(&sc),
            Err(e) => panic!("a symcache we built does not parse: {e}"),
        }
    }
    // The wasm shim's path: DWARF sections read by ranges through a file, not a slice.
    let ranged = pysym_core::native::build_symcache_ranged(data, std::io::Cursor::new(data), None).map(|b| b.finish());
    match (&built, &ranged) {
        (Ok(a), Ok(b)) => assert!(a == b, "ranged build differs from the in-memory one"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("in-memory build {:?}, ranged build {:?}", a.as_ref().err(), b.as_ref().err()),
    }
}

/// DWARF languages the demangler may be called with: none, C++, Rust, C++14.
const LANGS: [u32; 4] = [0, 0x04, 0x1c, 0x21];

/// The demangler (C++ Itanium, Rust legacy and v0). The first byte picks the language
/// (`byte % 4`, so seeds start with a readable `0`..`3`); the rest is the name, taken as the
/// regression replay carries it in a Breakpad `FUNC` line: lossy UTF-8, up to the first
/// line break, trailing `\r` dropped.
pub fn demangle(data: &[u8]) {
    let (lang, name) = match data.split_first() {
        Some((&b, rest)) => (LANGS[b as usize % LANGS.len()], rest),
        None => (0, data),
    };
    let name = String::from_utf8_lossy(name);
    let name = name.split('\n').next().unwrap_or("").trim_end_matches('\r');
    let _ = pysym_core::native::demangle::demangle(name, lang);
}

/// The Microsoft demangler on a name (both renderings); a name that demangles in full
/// demangles short too, and the short form is never longer.
pub fn demangle_msvc(data: &[u8]) {
    let name = String::from_utf8_lossy(data);
    let name = name.split('\n').next().unwrap_or("").trim_end_matches('\r');
    let full = pysym_core::native::demangle_msvc::demangle_msvc(name, false);
    let short = pysym_core::native::demangle_msvc::demangle_msvc(name, true);
    // (the short form leaves parts out: it can fit under the output cap when the full
    // form does not, never the other way round)
    assert!(full.is_none() || short.is_some(), "{:?}", name);
    if let (Some(f), Some(s)) = (&full, &short) {
        assert!(s.len() <= f.len(), "{:?}", name);
    }
}

/// The symcache reader on arbitrary bytes.
pub fn symcache(data: &[u8]) {
    if let Ok(sc) = SymCache::parse(data) {
        query_cache(&sc);
    }
}

fn query_cache(sc: &SymCache<'_>) {
    let _ = sc.identity();
    for i in 0..8 {
        let _ = sc.string(i);
    }
    for addr in [0u64, 1, 0x1000, 0x1234, 0xffff_ffff, u64::MAX] {
        let _ = sc.lookup(addr);
    }
    // A batch large enough to take the sorted path must agree with single lookups.
    let mut addrs: Vec<u64> = (0..96u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (i % 64)).collect();
    addrs.extend((0..32u64).map(|i| 0x1000 + i * 7));
    let batch = sc.locations_at(&addrs);
    for (&a, &loc) in addrs.iter().zip(&batch) {
        assert_eq!(sc.location_at(a).unwrap_or(pysym_core::symcache::NONE), loc);
        let _ = sc.location(loc);
    }
}

/// The zstd decoder (zstd-compressed ELF sections): whole input, under two limits. The
/// output never passes the limit, and a smaller limit never yields a different success.
pub fn zstd(data: &[u8]) {
    let big = pysym_core::zstd::decompress(data, 1 << 20);
    if let Ok(out) = &big {
        assert!(out.len() <= 1 << 20);
        // The declared size as the limit, as an ELF section gives it: the same bytes.
        let mut exact = Vec::with_capacity(out.len());
        pysym_core::zstd::decompress_into(data, &mut exact, out.len()).expect("the same input under its own size");
        assert!(&exact == out);
    }
    let small = pysym_core::zstd::decompress(data, 4096);
    if let Ok(out) = small {
        assert!(out.len() <= 4096);
        assert!(big.as_ref().map_or(false, |b| *b == out), "a smaller limit gave another success");
    }
}

/// Minidumps: parse, then what the ABI and a stack walker ask of the result (the JSON
/// document, the crashed thread, memory at the registers, modules at the pcs).
pub fn minidump(data: &[u8]) {
    if let Ok(md) = pysym_core::minidump::parse(data) {
        let _ = md.to_json();
        let _ = md.crashed_thread();
        let ctxs = md.threads.iter().filter_map(|t| t.context.as_ref()).chain(md.exception.iter().filter_map(|e| e.context.as_ref()));
        for c in ctxs {
            for addr in [c.pc(), c.sp()].into_iter().flatten() {
                let _ = md.module_at(addr);
                let _ = md.read_memory(data, addr, 16);
                let _ = md.read_memory(data, addr.wrapping_sub(8), u64::MAX);
            }
        }
        if let Some(e) = &md.exception {
            let _ = md.read_memory(data, e.address, 1);
        }
    }
}
