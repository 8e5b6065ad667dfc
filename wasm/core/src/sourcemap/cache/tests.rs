use super::*;
use crate::io::ReadAt;

/// Every string table of a cache.
const ALL_TABLES: [Table; 5] = [
    Table::Sources,
    Table::Names,
    Table::FunctionNames,
    Table::Meta,
    Table::Contents,
];

const MINIFIED: &str = "function a(b){return b.x()}\nvar c={d:function(){throw new Error}};c.d();\n";

/// A map with two lines, a name, an unmapped segment, sourcesContent and an ignore list.
const MAP: &str = r#"{"version":3,"file":"out.js","sourceRoot":"src","sources":["a.js","b.js",null],
"sourcesContent":["function add(x){\n  return x.go()\n}",null,null],"names":["add","go","obj"],
"ignoreList":[1],"mappings":"AAAAA,SAASA,M,CACP,CAAOC;AACTC,IAAI,MCFJ,EAAA,SDCED,SACA"}"#;

fn build(with_scopes: bool, with_contents: bool) -> Vec<u8> {
    let map = SourceMap::parse(MAP.as_bytes()).unwrap();
    let scopes = ScopeNames::build(MINIFIED.as_bytes(), Some(&map)).unwrap();
    write(
        &map,
        if with_scopes { Some(&scopes) } else { None },
        false,
        with_contents,
    )
    .unwrap()
}

/// Every lookup, function, token and table of `cache` against the map it was built from.
fn check_against_map<S: Bytes>(cache: &SourceMapCache<S>) {
    let map = SourceMap::parse(MAP.as_bytes()).unwrap();
    let scopes = ScopeNames::build(MINIFIED.as_bytes(), Some(&map)).unwrap();
    assert_eq!(cache.token_count(), map.token_count());
    assert_eq!(cache.line_count(), map.line_count());
    for line in 0..4 {
        for col in 0..60 {
            for bias in [Bias::GreatestLowerBound, Bias::LeastUpperBound] {
                assert_eq!(
                    cache.lookup_indexed(line, col, bias).unwrap(),
                    map.lookup_indexed(line, col, bias)
                );
            }
            let want = match scopes.lookup(line, col) {
                crate::js::names::Enclosing::Named(n) => Some(n.to_string()),
                crate::js::names::Enclosing::Anonymous => Some("<anonymous>".to_string()),
                crate::js::names::Enclosing::Global => None,
            };
            let got = match cache.function(line, col).unwrap() {
                Function::Named(n) => Some(cache.string(Table::FunctionNames, n).unwrap().unwrap().to_string()),
                Function::Anonymous => Some("<anonymous>".to_string()),
                Function::Global => None,
                Function::Unknown => panic!("scopes were written"),
            };
            assert_eq!(got, want, "{line}:{col}");
        }
    }
    for i in 0..map.token_count() + 1 {
        assert_eq!(cache.token(i).unwrap(), map.token(i));
    }
    let all: Vec<Token> = (0..map.token_count()).map(|i| map.token(i).unwrap()).collect();
    assert_eq!(cache.tokens(0, u32::MAX).unwrap(), all);
    assert_eq!(cache.tokens(3, 2).unwrap(), all[3..5].to_vec());
    assert!(cache.tokens(map.token_count(), 5).unwrap().is_empty());
    for i in 0..3 {
        assert_eq!(
            cache.string(Table::Sources, i).unwrap().as_deref(),
            map.source(i).as_deref()
        );
        assert_eq!(
            cache.string(Table::Names, i).unwrap().as_deref(),
            map.name(i).as_deref()
        );
        assert_eq!(
            cache.string(Table::Contents, i).unwrap().as_deref(),
            map.source_content(i).unwrap().as_deref()
        );
    }
    assert_eq!(cache.string(Table::Sources, 0).unwrap().as_deref(), Some("src/a.js"));
    assert_eq!(cache.string(Table::Meta, 0).unwrap().as_deref(), Some("out.js"));
    assert_eq!(cache.string(Table::Meta, 1).unwrap(), None);
    assert_eq!(cache.ignore_list().unwrap(), vec![1]);
    assert!(scopes.len() > 0);
    for t in ALL_TABLES {
        let all = cache.strings(t).unwrap();
        assert!(all.len() >= 2 || t == Table::FunctionNames, "{t:?}");
        for i in 0..all.len() as u32 + 1 {
            assert_eq!(all.get(i as usize), cache.string(t, i).unwrap().as_deref(), "{t:?} {i}");
        }
    }
}

#[test]
fn lookups_match_the_map() {
    let bytes = build(true, true);
    check_against_map(&SourceMapCache::parse(&bytes).unwrap());
    check_against_map(&SourceMapCache::open(Paged::new(&bytes[..])).unwrap());
}

/// A map of `lines` lines of `per_line` segments each, sources and names cycling.
fn big_map(lines: u32, per_line: u32) -> String {
    use crate::sourcemap::vlq::vlq_encode;
    let mut mappings = String::new();
    let (mut src, mut sline, mut scol, mut name) = (0i32, 0i32, 0i32, 0i32);
    for l in 0..lines {
        if l > 0 {
            mappings.push(';');
        }
        let mut col = 0i32;
        for k in 0..per_line {
            if k > 0 {
                mappings.push(',');
            }
            let c = k as i32 * 3;
            vlq_encode(c - col, &mut mappings);
            col = c;
            let (s2, l2, c2, n2) = (
                (k % 2) as i32,
                (l * 7 + k / 5) as i32,
                (k % 11) as i32,
                ((l + k) % 4000) as i32,
            );
            for (d, v) in [(&mut src, s2), (&mut sline, l2), (&mut scol, c2)] {
                vlq_encode(v - *d, &mut mappings);
                *d = v;
            }
            if k % 3 != 2 {
                vlq_encode(n2 - name, &mut mappings);
                name = n2;
            }
        }
    }
    let names: Vec<String> = (0..4000).map(|i| format!("\"n{i}\"")).collect();
    format!(
        r#"{{"version":3,"sources":["a.js","b.js"],"names":[{}],"mappings":"{mappings}"}}"#,
        names.join(",")
    )
}

/// A reader that fails every read overlapping `self.1 .. self.2` (with its offset).
struct Flaky<'a>(&'a [u8], u64, u64);

impl ReadAt for Flaky<'_> {
    type Error = u64;
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(&self, offset: u64, dst: &mut [u8]) -> std::result::Result<usize, u64> {
        if offset < self.2 && offset + dst.len() as u64 > self.1 {
            return Err(offset);
        }
        self.0.read_at(offset, dst).map_err(|e| match e {})
    }
}

/// A cache larger than the pages kept: paged answers are the in-memory ones, pages stay
/// bounded, a failed read is an error with the reader's own kept.
#[test]
fn paged_reader_matches_memory() {
    let text = big_map(300, 400);
    let map = SourceMap::parse(text.as_bytes()).unwrap();
    let bytes = write(&map, None, false, false).unwrap();
    assert!(
        bytes.len() as u64 > 2 * PAGE * MAX_PAGES as u64,
        "{} bytes",
        bytes.len()
    );
    let mem = SourceMapCache::parse(&bytes).unwrap();
    let paged = SourceMapCache::open(Paged::new(&bytes[..])).unwrap();
    // opening reads the header page only
    assert_eq!(paged.data().pages_held(), 1);
    for line in (0..301).step_by(7) {
        for col in [0, 1, 2, 3, 500, 1199, 1200, 5000] {
            for bias in [Bias::GreatestLowerBound, Bias::LeastUpperBound] {
                let want = map.lookup_indexed(line, col, bias);
                assert_eq!(mem.lookup_indexed(line, col, bias).unwrap(), want);
                assert_eq!(paged.lookup_indexed(line, col, bias).unwrap(), want, "{line}:{col}");
            }
        }
    }
    let all = paged.tokens(0, u32::MAX).unwrap();
    assert_eq!(all.len() as u32, map.token_count());
    for (i, t) in all.iter().enumerate().step_by(997) {
        assert_eq!(Some(*t), map.token(i as u32));
    }
    assert_eq!(all, mem.tokens(0, u32::MAX).unwrap());
    for i in (0..4000).step_by(333) {
        assert_eq!(
            paged.string(Table::Names, i).unwrap().as_deref(),
            map.name(i).as_deref()
        );
    }
    assert!(paged.data().pages_held() <= MAX_PAGES);

    // a batch's view: the lookup sections read at once (and only part of them: the rest
    // by pages), the same answers
    for head in [paged.lookup_end(), paged.lookup_end() / 3 + 1, 0] {
        let pre = paged.with_data(Prefetched::new(paged.data(), head).unwrap().unwrap());
        for line in (0..301).step_by(13) {
            for col in [0, 1, 1199, 1200, 5000] {
                for bias in [Bias::GreatestLowerBound, Bias::LeastUpperBound] {
                    assert_eq!(
                        pre.lookup_indexed(line, col, bias).unwrap(),
                        map.lookup_indexed(line, col, bias)
                    );
                }
            }
        }
        assert_eq!(pre.tokens(0, u32::MAX).unwrap(), all);
        assert_eq!(pre.string(Table::Names, 7).unwrap().as_deref(), map.name(7).as_deref());
    }
    assert!(paged.lookup_end() < bytes.len() as u64 && paged.lookup_end() > bytes.len() as u64 / 2);

    // the page holding a middle token's column fails to read
    let last = map.token_count() / 2;
    let col_at = word(&bytes[HEADER..], 2 * DST_COL).unwrap() as u64 + 4 * last as u64;
    let cache = SourceMapCache::open(Paged::new(Flaky(&bytes, col_at, col_at + 4))).unwrap();
    let e = cache.token(last).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSymCache);
    assert_eq!(cache.data().take_failure(), Some(col_at / PAGE * PAGE));
    assert!(cache.data().take_failure().is_none(), "taken once");
    assert_eq!(
        cache.token(0).unwrap(),
        map.token(0),
        "a failed read leaves the rest working"
    );
}

/// Opening checks the header only; a string table's own count is checked when the table
/// is read, and a bad one fails that table alone.
#[test]
fn table_counts_checked_on_use() {
    let bytes = build(true, true);
    let names_at = word(&bytes[HEADER..], 2 * NAMES).unwrap() as usize;
    let mut v = bytes.clone();
    v[names_at] ^= 1;
    let cache = SourceMapCache::parse(&v).unwrap();
    assert_eq!(
        cache.string(Table::Names, 0).unwrap_err().kind(),
        ErrorKind::InvalidSymCache
    );
    assert!(cache.strings(Table::Names).is_err());
    assert_eq!(cache.string(Table::Sources, 0).unwrap().as_deref(), Some("src/a.js"));
    assert!(cache.lookup_indexed(0, 10, Bias::GreatestLowerBound).unwrap().is_some());
    check_against_map(&SourceMapCache::parse(&bytes).unwrap());
}

#[test]
fn optional_parts() {
    let bytes = build(false, false);
    let cache = SourceMapCache::parse(&bytes).unwrap();
    assert_eq!(cache.flags() & (FLAG_SCOPES | FLAG_CONTENTS), 0);
    assert_eq!(cache.function(0, 10).unwrap(), Function::Unknown);
    assert_eq!(cache.string(Table::Contents, 0).unwrap(), None);
    assert!(bytes.len() < build(true, true).len());
}

#[test]
fn bad_header() {
    let bytes = build(true, true);
    let kind = |b: &[u8]| SourceMapCache::parse(b).unwrap_err().kind();
    assert_eq!(kind(b""), ErrorKind::InvalidSymCache);
    assert_eq!(kind(&bytes[..100]), ErrorKind::InvalidSymCache);
    let mut v = bytes.clone();
    v[8] = 9;
    let e = SourceMapCache::parse(&v).unwrap_err();
    assert!(e.message().contains("version 9"), "{e}");
    // format 1 (no function maps): refused with what to do
    v[8] = 1;
    let e = SourceMapCache::parse(&v).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSymCache);
    assert!(
        e.message().contains("version 1") && e.message().contains("rebuild"),
        "{e}"
    );
    let mut v = bytes.clone();
    v[0] = b'X';
    assert_eq!(kind(&v), ErrorKind::InvalidSymCache);
    // every truncation is refused at parse time (the last section is the ignore list)
    for cut in 0..bytes.len() - 4 {
        assert!(SourceMapCache::parse(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

/// Each byte of `at` flipped three ways: a copy that still parses is given to `check`,
/// any other must be refused as `InvalidSymCache`.
fn each_flip(bytes: &[u8], at: impl Iterator<Item = usize>, check: impl Fn(&SourceMapCache<&[u8]>)) {
    for i in at {
        for x in [0x01u8, 0x80, 0xFF] {
            let mut v = bytes.to_vec();
            v[i] ^= x;
            match SourceMapCache::parse(&v) {
                Ok(cache) => check(&cache),
                Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidSymCache),
            }
        }
    }
}

/// An answer, or the error of damaged bytes.
fn answer_or_damaged<T>(r: Result<T>) {
    if let Err(e) = r {
        assert_eq!(e.kind(), ErrorKind::InvalidSymCache);
    }
}

/// The function at a position and, for a named one, its name (`pysym_smcache_function_names`).
fn named(cache: &SourceMapCache<&[u8]>, line: u32, col: u32) -> Result<Option<String>> {
    match cache.function(line, col)? {
        Function::Named(n) => cache.function_name(n).map(|s| Some(s.into_owned())),
        _ => Ok(None),
    }
}

/// Any single corrupted byte gives answers or `InvalidSymCache`, never a panic.
#[test]
fn hostile_bytes_never_panic() {
    let bytes = build(true, true);
    each_flip(&bytes, 0..bytes.len(), |cache| {
        for line in 0..3 {
            for col in [0, 5, 9, 20, 40] {
                answer_or_damaged(cache.lookup_indexed(line, col, Bias::GreatestLowerBound));
                answer_or_damaged(cache.lookup_indexed(line, col, Bias::LeastUpperBound));
                answer_or_damaged(named(cache, line, col));
            }
        }
        for t in ALL_TABLES {
            for k in 0..4 {
                let _ = cache.string(t, k);
                let _ = cache.strings(t).map(|s| s.get(k as usize).map(str::len));
            }
        }
        let _ = cache.ignore_list();
        for k in 0..12 {
            let _ = cache.token(k);
        }
    });
}

const RN_BYTECODE_MAP: &str = include_str!("../../../../../tests/data/react_native/index.android.bundle.map");
const RN_BUNDLE_MAP: &str = include_str!("../../../../../tests/data/react_native/index.android.bundle.js.map");
const RN_BUNDLE_JS: &str = include_str!("../../../../../tests/data/react_native/index.android.bundle.js");

/// The function `SourceMap` names at a position (the ABI's `function_names`): the
/// `scopes` field; else the function map, then the generated file's scopes. With the
/// record kind: 0 top level, 1 anonymous, 2 named, 3 no answer (no scopes, no function map).
fn map_function(
    map: &SourceMap<'_>,
    scopes: Option<&ScopeNames>,
    by_field: bool,
    line: u32,
    col: u32,
) -> (u32, Option<String>) {
    if !by_field {
        if let Some(n) = map.original_function_name(line, col) {
            return (2, Some(n.to_string()));
        }
    }
    match scopes.map(|s| s.lookup(line, col)) {
        None => (3, None),
        Some(crate::js::names::Enclosing::Named(n)) => (2, Some(n.to_string())),
        Some(crate::js::names::Enclosing::Anonymous) => (1, Some("<anonymous>".to_string())),
        Some(crate::js::names::Enclosing::Global) => (0, None),
    }
}

fn cache_function<S: Bytes>(cache: &SourceMapCache<S>, f: Function) -> (u32, Option<String>) {
    match f {
        Function::Named(n) => (2, Some(cache.function_name(n).unwrap().to_string())),
        Function::Anonymous => (1, Some("<anonymous>".to_string())),
        Function::Global => (0, None),
        Function::Unknown => (3, None),
    }
}

/// Every position of lines 0..4 up to column 1200 (and the tokens' columns on later lines):
/// the cache's function (both ways of asking) and Hermes columns are the map's.
fn check_metro(text: &str, js: Option<&str>) -> usize {
    let map = SourceMap::parse(text.as_bytes()).unwrap();
    let by_field = ScopeNames::from_map(&map).is_some();
    let scopes = match js {
        Some(js) => Some(ScopeNames::build(js.as_bytes(), Some(&map)).unwrap()),
        None => ScopeNames::from_map(&map),
    };
    let bytes = write(&map, scopes.as_ref(), by_field, false).unwrap();
    let mem = SourceMapCache::parse(&bytes).unwrap();
    let paged = SourceMapCache::open(Paged::new(&bytes[..])).unwrap();
    assert_eq!(mem.flags() & FLAG_FUNCTION_MAPS != 0, !map.function_maps().is_empty());
    assert_eq!(
        mem.string(Table::Meta, 2).unwrap().as_deref(),
        map.function_maps().error()
    );
    let mut named = 0;
    let mut positions: Vec<(u32, u32)> = Vec::new();
    for line in 0..map.line_count().min(4) {
        positions.extend((0..1200).map(|c| (line, c)));
    }
    for i in 0..map.token_count() {
        let t = map.token(i).unwrap();
        positions.extend([(t.dst_line, t.dst_col), (t.dst_line, t.dst_col + 1)]);
    }
    for (line, col) in positions {
        let want = map_function(&map, scopes.as_ref(), by_field, line, col);
        let glb = map.lookup(line, col, Bias::GreatestLowerBound);
        for c in [
            &mem.function(line, col).unwrap(),
            &mem.function_after(line, col, glb.as_ref()).unwrap(),
        ] {
            assert_eq!(cache_function(&mem, *c), want, "{line}:{col}");
        }
        assert_eq!(cache_function(&paged, paged.function(line, col).unwrap()), want);
        named += want.1.is_some() as usize;
    }
    for segment in [0, 1, 5] {
        for function in 0..40 {
            for offset in [0, 3, u32::MAX] {
                let want = map.hermes_column(segment, function, offset);
                assert_eq!(mem.hermes_column(segment, function, offset).unwrap(), want);
                assert_eq!(paged.hermes_column(segment, function, offset).unwrap(), want);
            }
        }
    }
    named
}

#[test]
fn metro_function_maps_and_hermes_offsets() {
    assert!(check_metro(RN_BYTECODE_MAP, None) > 1000);
    assert!(check_metro(RN_BUNDLE_MAP, None) > 1000);
    assert!(check_metro(RN_BUNDLE_MAP, Some(RN_BUNDLE_JS)) > 1000);
    let map = SourceMap::parse(RN_BYTECODE_MAP.as_bytes()).unwrap();
    let bytes = write(&map, None, false, false).unwrap();
    let cache = SourceMapCache::parse(&bytes).unwrap();
    assert!(cache.hermes_column(0, 3, 1).unwrap().is_some());
    // the names of every source's function map share one table: no duplicates
    let names = cache.strings(Table::FunctionNames).unwrap();
    let all: std::collections::HashSet<&str> = (0..names.len()).filter_map(|i| names.get(i)).collect();
    assert_eq!(all.len(), names.len());
    // an index map: each section's sources keep their function maps
    let index = format!(
        r#"{{"version":3,"sections":[{{"offset":{{"line":0,"column":0}},"map":{RN_BUNDLE_MAP}}},{{"offset":{{"line":40,"column":0}},"map":{RN_BUNDLE_MAP}}}]}}"#
    );
    assert!(check_metro(&index, None) > 1000);
    // a malformed entry: ignored, reported in the meta table
    let bad = RN_BYTECODE_MAP.replacen("\"x_facebook_sources\":[", "\"x_facebook_sources\":[7,", 1);
    assert_ne!(bad, RN_BYTECODE_MAP);
    check_metro(&bad, None);
    let bad = RN_BYTECODE_MAP.replacen(
        "\"x_hermes_function_offsets\":{",
        "\"x_hermes_function_offsets\":{\"1\":7,",
        1,
    );
    assert_ne!(bad, RN_BYTECODE_MAP);
    check_metro(&bad, None);
}

/// Damage to a Metro cache (function maps, Hermes offsets): answers or `InvalidSymCache`.
#[test]
fn hostile_metro_bytes_never_panic() {
    let map = SourceMap::parse(RN_BYTECODE_MAP.as_bytes()).unwrap();
    let bytes = write(&map, None, false, false).unwrap();
    let fm_at = word(&bytes[HEADER..], 2 * FM_FIRST).unwrap() as usize;
    each_flip(&bytes, (16..DATA_START).chain(fm_at..bytes.len()), |cache| {
        for col in [0, 313, 962, 2000] {
            answer_or_damaged(named(cache, 0, col));
        }
        for f in [0, 3, 18, 19] {
            answer_or_damaged(cache.hermes_column(0, f, 1));
        }
    });
}
