//! Shared drivers of the fuzz targets: each exercises one parser of pysym-core the way
//! the ABI shim does (parse, then query), so a crash here is a trap in the wasm module.
//! A `pub fn` per target keeps them callable from the regression replay too.

use pysym_core::sourcemap::{Bias, SourceMap};
use pysym_core::symcache::{LocationsError, SymCache};

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

/// Object readers (ELF, Mach-O, universal, PE) and DWARF: identity, then a symcache build,
/// then lookups in the cache that was built; a CFI cache build.
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
    // Unwind information (DWARF CFI, x86_64 PE .pdata/.xdata): a cache we built parses.
    if let Ok(built) = pysym_core::native::build_cfi(data, None) {
        if let Err(e) = pysym_core::unwind::CfiCache::parse(&built.bytes) {
            panic!("a CFI cache we built does not parse: {e}");
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
    // The fast path, wherever it answers, gives the parser's short form.
    if let Some(fast) = pysym_core::native::demangle_msvc_fast::demangle_short(name) {
        let tree = pysym_core::native::demangle_msvc::demangle_msvc_tree(name, true);
        assert_eq!(tree.as_deref(), Some(fast.as_str()), "{:?}", name);
    }
}

/// The symcache reader on arbitrary bytes.
pub fn symcache(data: &[u8]) {
    if let Ok(sc) = SymCache::parse(data) {
        query_cache(&sc);
    }
    // The cheap open of a host's own cache: the same look-ups on unchecked bytes must
    // stay in bounds and bounded, a damaged record an error or a missing location.
    if let Ok(sc) = SymCache::parse_unchecked(data) {
        query_cache(&sc);
        let n = sc.location_count() as u32;
        for id in (0..n.min(64)).chain(n.saturating_sub(64)..n) {
            match sc.locations_with_callers(std::iter::once(id)) {
                Ok(v) => assert!(v.len() <= pysym_core::symcache::MAX_INLINE_DEPTH),
                Err(e) => assert!(!sc.is_checked() || e == LocationsError::NoLocation(id), "{:?}", e),
            }
        }
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
        // (unsorted starts, which only an unchecked open lets through, may answer either way)
        if sc.is_checked() {
            assert_eq!(sc.location_at(a).unwrap_or(pysym_core::symcache::NONE), loc);
        }
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

/// The stack walker over synthetic CFI: the first byte picks the architecture, then
/// 16-byte records make CFI rows (start, length, CFA register and offset, a return
/// address rule), then the rest is the thread's stack (and its first words its
/// registers). The same bytes also go to the CFI cache reader as a cache.
pub fn walk(data: &[u8]) {
    use pysym_core::minidump::{CodeView, Context, Cpu, MemoryRange, Minidump, Module, Thread};
    use pysym_core::unwind::{walk::walk, walk::WalkLimits, Arch, CfiBuilder, CfiCache, Rule, CFA, RA};
    if let Ok(c) = CfiCache::parse(data) {
        for a in [0u64, 1, 0x100, u64::MAX] {
            let _ = c.find(a);
            let _ = c.is_code(a);
        }
    }
    if data.len() < 2 {
        return;
    }
    let (cpu, arch, names): (Cpu, Arch, &[&'static str]) = if data[0] & 1 == 0 {
        (Cpu::X86_64, Arch::X86_64, &["rip", "rsp", "rbp", "rbx"])
    } else {
        (Cpu::Arm64, Arch::Arm64, &["pc", "sp", "fp", "lr"])
    };
    let records = (data[1] as usize % 16).min((data.len() - 2) / 16);
    let mut b = CfiBuilder::new(arch, 64);
    let word = |at: usize| data.get(at..at + 8).map_or(0, |w| u64::from_le_bytes(w.try_into().unwrap()));
    for i in 0..records {
        let r = &data[2 + 16 * i..2 + 16 * (i + 1)];
        let start = u16::from_le_bytes([r[0], r[1]]) as u64;
        let len = r[2] as u64 + 1;
        let cfa = Rule::RegPlus(r[3] as u16 % 40, i8::from_le_bytes([r[4]]) as i64);
        let off = i8::from_le_bytes([r[6]]) as i64;
        let ra = match r[5] % 7 {
            0 => Rule::Undefined,
            1 => Rule::Same,
            2 => Rule::AtCfa(off),
            3 => Rule::CfaPlus(off),
            4 => Rule::Register(r[7] as u16 % 40),
            5 => Rule::RegPlus(r[7] as u16 % 40, off),
            _ => {
                let text = String::from_utf8_lossy(&r[8..16]).into_owned();
                let (at, n) = b.string(&text);
                Rule::Expr(at, n)
            }
        };
        b.add_rules(start, start + len, r[8] & 1, vec![(CFA, cfa), (RA, ra), (r[9] as u16 % 40, Rule::AtCfa(off))]);
    }
    b.add_code(0, 0x8000);
    let cache = b.finish();
    let stack = &data[2 + 16 * records..];
    let base = 0x10_0000u64;
    let registers: Vec<(&'static str, u64)> = names.iter().enumerate().map(|(i, n)| {
        let v = word(2 + 16 * records + 8 * i);
        (*n, if i == 1 { base + v % (stack.len() as u64 + 1) } else if i == 0 { v % 0x9000 } else { v })
    }).collect();
    let range = MemoryRange { base, size: stack.len() as u64, file_offset: (2 + 16 * records) as u64 };
    let module = Module {
        base: 0,
        size: 0x8000,
        extent: 0x8000,
        checksum: 0,
        timestamp: 0,
        code_file: String::new(),
        code_id: String::new(),
        debug_file: String::new(),
        debug_id: String::new(),
        codeview: CodeView::None,
        version: None,
    };
    let md = Minidump {
        threads: vec![Thread {
            id: 1,
            suspend_count: 0,
            priority_class: 0,
            priority: 0,
            teb: 0,
            stack: Some(range),
            context: Some(Context { cpu, layout: "fuzz", flags: 0, size: 0, registers }),
            name: None,
        }],
        modules: vec![module],
        memory: vec![range],
        ..Default::default()
    };
    let c = CfiCache::parse(&cache).ok();
    let w = walk(&md, data, &[c], &WalkLimits::default());
    let frames = &w.threads[0].frames;
    assert!(frames.len() <= 256);
    for pair in frames.windows(2) {
        assert!(pair[1].sp > pair[0].sp);
    }
    let _ = w.to_json();
}

/// A PDB (MSF 7.0): the input behind the MSF magic, so that every run reaches the
/// directory, the streams and the module records; identity, a build, lookups of it.
pub fn pdb(data: &[u8]) {
    let mut file = pysym_core::native::pdb::msf::MAGIC.to_vec();
    file.extend_from_slice(data);
    let _ = pysym_core::native::object_info(&file[..], None);
    if let Ok(cache) = pysym_core::native::build_symcache(&file[..], None).map(|b| b.finish()) {
        match SymCache::parse(&cache) {
            Ok(sc) => query_cache(&sc),
            Err(e) => panic!("a symcache we built does not parse: {e}"),
        }
    }
}

/// The JavaScript scope extractor on any bytes: ranges never run backwards, lookups at
/// and around every scope edge answer, and names resolve through a small map.
pub fn js_scopes(data: &[u8]) {
    let map = br#"{"version":3,"sources":["a.js"],"names":["n"],"mappings":"AAAAA,CAAC,CAAC;AACA"}"#;
    let map = pysym_core::sourcemap::SourceMap::parse(map).expect("the fixed map parses");
    if let Ok(names) = pysym_core::js::names::ScopeNames::build(data, Some(&map)) {
        for line in 0..3 {
            for col in 0..64 {
                let _ = names.lookup(line, col);
            }
        }
    }
    if let Ok(ex) = pysym_core::js::scopes::extract(data) {
        for s in &ex.scopes {
            assert!(s.start <= s.end, "{:?}", s);
        }
    }
}

/// The stack-trace line parser on any text: records stay inside their line, on character
/// boundaries, in the same places in every unit; an origin chain is bounded.
pub fn js_trace(data: &[u8]) {
    use pysym_core::js::trace::{parse_line, parse_lines, Units, MAX_EVAL_DEPTH, NO_SPAN, RECORD_WORDS};
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();
    let mut words = [Vec::new(), Vec::new(), Vec::new()];
    for (k, units) in [Units::Bytes, Units::CodePoints, Units::Utf16].into_iter().enumerate() {
        parse_lines(&text, 64, units, &mut words[k]);
    }
    let mut at = 0;
    for line in &lines {
        let count = words[0][at] as usize;
        assert!(count <= MAX_EVAL_DEPTH + 2, "{} records", count);
        for w in &words {
            assert_eq!(w[at] as usize, count);
        }
        for r in 0..count * RECORD_WORDS {
            let i = at + 1 + r;
            let b = words[0][i];
            if r % RECORD_WORDS < 2 || b == NO_SPAN {
                continue;
            }
            let b = b as usize;
            assert!(b <= line.len() && line.is_char_boundary(b), "{:?} {}", line, b);
            assert_eq!(words[1][i] as usize, line[..b].chars().count());
            assert_eq!(words[2][i] as usize, line[..b].encode_utf16().count());
        }
        at += 1 + count * RECORD_WORDS;
    }
    assert_eq!(at, words[0].len());
    // without the cap, the same line alone
    let mut frames = Vec::new();
    let _ = parse_line(&text, usize::MAX, &mut frames);
    for f in &frames {
        assert!(f.raw.0 <= f.raw.1 && f.raw.1 <= text.len());
    }
}

/// The source map cache reader on any bytes (a valid cache prefix from the corpus makes
/// the mutations reach the tables): open, look up around every line, read every table;
/// every failure must be an `InvalidSymCache` error.
pub fn smcache(data: &[u8]) {
    use pysym_core::sourcemap::cache::{SourceMapCache, Table};
    use pysym_core::ErrorKind;
    let check = |r: pysym_core::error::Result<()>| {
        if let Err(e) = r {
            assert_eq!(e.kind(), ErrorKind::InvalidSymCache, "{e}");
        }
    };
    let cache = match SourceMapCache::parse(data) {
        Ok(c) => c,
        Err(e) => return assert_eq!(e.kind(), ErrorKind::InvalidSymCache, "{e}"),
    };
    for line in 0..cache.line_count().min(8) + 1 {
        for col in [0, 1, 7, 40, 1000, u32::MAX] {
            check(cache.lookup_indexed(line, col, Bias::GreatestLowerBound).map(|_| ()));
            check(cache.lookup_indexed(line, col, Bias::LeastUpperBound).map(|_| ()));
            // pysym_smcache_function_names: the function and, for a named one, its name
            check(cache.function(line, col).and_then(|f| match f {
                pysym_core::sourcemap::cache::Function::Named(n) => cache.function_name(n).map(|_| ()),
                _ => Ok(()),
            }));
            check(cache.function_after(line, col, None).map(|_| ()));
        }
    }
    for segment in [0, 1, u32::MAX] {
        for function in [0, 1, 5, 100, u32::MAX] {
            check(cache.hermes_column(segment, function, 7).map(|_| ()));
        }
    }
    for t in [Table::Sources, Table::Names, Table::FunctionNames, Table::Meta, Table::Contents] {
        for i in 0..8 {
            check(cache.string(t, i).map(|_| ()));
        }
    }
    check(cache.ignore_list().map(|_| ()));
    for i in 0..cache.token_count().min(64) {
        check(cache.token(i).map(|_| ()));
    }
}
