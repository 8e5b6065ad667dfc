use super::*;

const MINIFIED: &str = "function a(b){return b.x()}\nvar c={d:function(){throw new Error}};c.d();\n";

/// A map with two lines, a name, an unmapped segment, sourcesContent and an ignore list.
const MAP: &str = r#"{"version":3,"file":"out.js","sourceRoot":"src","sources":["a.js","b.js",null],
"sourcesContent":["function add(x){\n  return x.go()\n}",null,null],"names":["add","go","obj"],
"ignoreList":[1],"mappings":"AAAAA,SAASA,M,CACP,CAAOC;AACTC,IAAI,MCFJ,EAAA,SDCED,SACA"}"#;

fn build(with_scopes: bool, with_contents: bool) -> Vec<u8> {
    let map = SourceMap::parse(MAP.as_bytes()).unwrap();
    let scopes = ScopeNames::build(MINIFIED.as_bytes(), Some(&map)).unwrap();
    write(&map, if with_scopes { Some(&scopes) } else { None }, with_contents).unwrap()
}

#[test]
fn lookups_match_the_map() {
    let map = SourceMap::parse(MAP.as_bytes()).unwrap();
    let scopes = ScopeNames::build(MINIFIED.as_bytes(), Some(&map)).unwrap();
    let bytes = build(true, true);
    let cache = SourceMapCache::parse(&bytes).unwrap();
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
    for i in 0..3 {
        assert_eq!(cache.string(Table::Sources, i).unwrap(), map.source(i).as_deref());
        assert_eq!(cache.string(Table::Names, i).unwrap(), map.name(i).as_deref());
        assert_eq!(
            cache.string(Table::Contents, i).unwrap(),
            map.source_content(i).unwrap().as_deref()
        );
    }
    assert_eq!(cache.string(Table::Sources, 0).unwrap(), Some("src/a.js"));
    assert_eq!(cache.string(Table::Meta, 0).unwrap(), Some("out.js"));
    assert_eq!(cache.string(Table::Meta, 1).unwrap(), None);
    assert_eq!(cache.ignore_list().unwrap(), vec![1]);
    assert!(scopes.len() > 0);
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
    v[8] = 2;
    let e = SourceMapCache::parse(&v).unwrap_err();
    assert!(e.message().contains("version 2"), "{e}");
    let mut v = bytes.clone();
    v[0] = b'X';
    assert_eq!(kind(&v), ErrorKind::InvalidSymCache);
    // every truncation is refused at parse time (the last section is the ignore list)
    for cut in 0..bytes.len() - 4 {
        assert!(SourceMapCache::parse(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

/// Any single corrupted byte gives answers or `InvalidSymCache`, never a panic.
#[test]
fn hostile_bytes_never_panic() {
    let bytes = build(true, true);
    for i in 0..bytes.len() {
        for x in [0x01u8, 0x80, 0xFF] {
            let mut v = bytes.clone();
            v[i] ^= x;
            let cache = match SourceMapCache::parse(&v) {
                Ok(c) => c,
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::InvalidSymCache);
                    continue;
                }
            };
            for line in 0..3 {
                for col in [0, 5, 9, 20, 40] {
                    for r in [
                        cache.lookup_indexed(line, col, Bias::GreatestLowerBound).map(|_| ()),
                        cache.lookup_indexed(line, col, Bias::LeastUpperBound).map(|_| ()),
                        cache.function(line, col).map(|_| ()),
                    ] {
                        if let Err(e) = r {
                            assert_eq!(e.kind(), ErrorKind::InvalidSymCache);
                        }
                    }
                }
            }
            for t in [
                Table::Sources,
                Table::Names,
                Table::FunctionNames,
                Table::Meta,
                Table::Contents,
            ] {
                for k in 0..4 {
                    let _ = cache.string(t, k);
                }
            }
            let _ = cache.ignore_list();
            for k in 0..12 {
                let _ = cache.token(k);
            }
        }
    }
}
