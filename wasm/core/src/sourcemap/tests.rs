//! Unit tests: VLQ, the JSON scanner, lookups, index maps, sources, reverse lookups.

use super::json::tree::{self, Value};
use super::json::unescape;
use super::*;
use crate::test_rng::Rng;

/// Parses a map whose text lives for the rest of the test run (tests may leak).
fn parse<S: Into<String>>(s: S) -> SourceMap<'static> {
    let s: &'static str = Box::leak(s.into().into_boxed_str());
    SourceMap::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn kind_of(s: &str) -> ErrorKind {
    match SourceMap::parse(s.as_bytes()) {
        Ok(_) => panic!("accepted: {s}"),
        Err(e) => e.kind(),
    }
}

fn map_with(mappings: &str) -> String {
    format!(r#"{{"version":3,"sources":["a.js","b.js"],"names":["x","y","z"],"mappings":"{mappings}"}}"#)
}

fn tok(dst_line: u32, dst_col: u32, src: u32, src_line: u32, src_col: u32, name: u32) -> Token {
    Token {
        dst_line,
        dst_col,
        src,
        src_line,
        src_col,
        name,
    }
}

// ---- VLQ -------------------------------------------------------------------------------

fn enc(v: i32) -> String {
    let mut s = String::new();
    vlq_encode(v, &mut s);
    s
}

#[test]
fn vlq_known_values() {
    assert_eq!(enc(0), "A");
    assert_eq!(enc(1), "C");
    assert_eq!(enc(-1), "D");
    assert_eq!(enc(15), "e");
    assert_eq!(enc(16), "gB");
    assert_eq!(enc(-10), "V");
    assert_eq!(enc(17), "iB");
    assert_eq!(enc(i32::MAX), "+/////D");
    assert_eq!(vlq_decode(b"iB").unwrap(), (17, 2));
    assert_eq!(vlq_decode(b"V").unwrap(), (-10, 1));
    assert_eq!(vlq_decode(b"AAAA").unwrap(), (0, 1));
}

#[test]
fn vlq_round_trip_and_boundaries() {
    let mut values: Vec<i32> = vec![0, 1, -1, 15, -15, 16, -16, 31, 32, 1023, 1024, -1024];
    values.extend([i32::MAX, i32::MAX - 1, -i32::MAX, -(i32::MAX - 1), i32::MIN]);
    let mut x: u32 = 12345;
    for _ in 0..2000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        values.push(x as i32);
    }
    for v in values {
        let s = enc(v);
        assert_eq!(vlq_decode(s.as_bytes()).unwrap(), (v, s.len()), "{v} -> {s}");
    }
}

#[test]
fn vlq_negative_zero_is_min() {
    // ECMA-426 VLQSignedValue: value 0 with the sign bit is -2^31.
    assert_eq!(vlq_decode(b"B").unwrap(), (i32::MIN, 1));
    assert_eq!(vlq_decode(b"hA").unwrap(), (i32::MIN, 2));
}

#[test]
fn vlq_leading_zero_continuations_are_fine() {
    let mut s = String::from("i");
    s.push_str(&"g".repeat(100));
    s.push('A');
    assert_eq!(vlq_decode(s.as_bytes()).unwrap(), (1, s.len()));
}

#[test]
fn vlq_overflow_rejected() {
    // 2^31 as a magnitude, 2^32 unsigned, and bits far beyond.
    for bad in ["hgggggE", "ggggggE", "//////P", "gggggggggB"] {
        let e = vlq_decode(bad.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidMappings, "{bad}");
    }
    // 2^31 - 1 positive and negative are the boundary.
    assert_eq!(vlq_decode(b"+/////D").unwrap().0, i32::MAX);
    assert_eq!(vlq_decode(b"//////D").unwrap().0, -i32::MAX);
}

#[test]
fn vlq_bad_input() {
    assert!(vlq_decode(b"").is_err());
    assert!(vlq_decode(b"g").is_err());
    assert!(vlq_decode(b"!").is_err());
    assert!(vlq_decode(b"g,").unwrap_err().message().contains("','"));
}

// ---- JSON scanner ----------------------------------------------------------------------

#[test]
fn json_values() {
    let v = tree::parse(r#" {"a": [1, -2.5e3, true, false, null, "x"], "b": {}} "#).unwrap();
    assert_eq!(
        v.get("a"),
        Some(&Value::Array(vec![
            Value::Number(1.0),
            Value::Number(-2500.0),
            Value::Bool(true),
            Value::Bool(false),
            Value::Null,
            Value::String("x".into()),
        ]))
    );
    assert_eq!(v.get("b"), Some(&Value::Object(vec![])));
    assert_eq!(tree::parse("[]").unwrap(), Value::Array(vec![]));
    assert_eq!(tree::parse("0").unwrap(), Value::Number(0.0));
}

#[test]
fn json_escapes() {
    assert_eq!(unescape(r#"a\"b\\c\/d\b\f\n\r\t"#), "a\"b\\c/d\u{8}\u{c}\n\r\t");
    assert_eq!(unescape(r"\u0041\u00e9\u4e2d"), "Aé中");
    assert_eq!(unescape(r"\ud83d\ude00!"), "😀!");
    assert_eq!(unescape(r"\uD83D\uDE00"), "😀");
    // Lone surrogates cannot be UTF-8.
    assert_eq!(unescape(r"\ud83dx"), "\u{fffd}x");
    assert_eq!(unescape(r"\ude00"), "\u{fffd}");
    assert_eq!(unescape(r"\ud83d\u0041"), "\u{fffd}A");
    assert_eq!(unescape("plain ü"), "plain ü");
    let v = tree::parse(r#""long string with \"escapes\" past the 8-byte fast path \u00fc""#).unwrap();
    assert_eq!(
        v,
        Value::String("long string with \"escapes\" past the 8-byte fast path ü".into())
    );
}

#[test]
fn json_invalid() {
    let bad = [
        "",
        " ",
        "{",
        "}",
        "[1,]",
        "[,1]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "{'a':1}",
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "+1",
        "tru",
        "nul",
        "True",
        "NaN",
        "\"abc",
        "\"a\\x\"",
        "\"\\u12G4\"",
        "\"\\u12\"",
        "\"a\nb\"",
        "\"tab\there\"",
        "[1] x",
        "{} {}",
        "[1 2]",
        "\"\\",
    ];
    for b in bad {
        let e = tree::parse(b).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidJson, "{b:?}: {e}");
    }
    // Same through the source map parser, including trailing garbage after a map.
    assert_eq!(kind_of(&format!("{} x", map_with(""))), ErrorKind::InvalidJson);
    assert_eq!(
        kind_of(r#"{"version":3,"sources":[],"mappings":"",}"#),
        ErrorKind::InvalidJson
    );
    // Unknown fields must still be well-formed.
    assert_eq!(
        kind_of(r#"{"version":3,"sources":[],"mappings":"","x":[1,}"#),
        ErrorKind::InvalidJson
    );
}

#[test]
fn json_not_utf8() {
    let mut bytes = map_with("").into_bytes();
    let at = bytes.iter().position(|&b| b == b'a').unwrap();
    bytes[at] = 0xff;
    let e = SourceMap::parse(&bytes).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidJson);
    assert!(e.message().contains("UTF-8"), "{e}");
}

#[test]
fn utf8_is_checked_by_the_scanner_as_std_checks_it() {
    // A map with non-ASCII text in every kind of string (keys, names, sources, skipped
    // sourcesContent, an unknown field) and an XSSI prefix: every byte replaced by bytes
    // that break or keep UTF-8. Where std finds the input not UTF-8, the parse fails with
    // std's position (no JSON error comes before: the bytes replaced are in strings or
    // the prefix) or with a JSON error where the byte is outside strings; valid UTF-8 is
    // never reported as bad.
    let doc = concat!(
        ")]}'é x\n",
        r#"{"version":3,"file":"café.js","sources":["€.js","b.js"],"#,
        r#""names":["naïve","😀"],"mappings":"AAAAA,CAACC","#,
        r#""sourcesContent":["let x = 'é€😀';\n","中文"],"#,
        r#""x_é":{"é":["é",1]}}"#
    );
    let base = doc.as_bytes();
    let good = SourceMap::parse(base).unwrap();
    assert_eq!(good.name(1).as_deref(), Some("😀"));
    let swaps: [&[u8]; 8] = [
        b"\xff",
        b"\xc3",
        b"\xe2\x82",
        b"\xed\xa0\x80",
        b"\xc0\x80",
        b"\x80",
        "\u{e9}".as_bytes(),
        "\u{1f600}".as_bytes(),
    ];
    let mut invalid = 0;
    for at in 0..base.len() {
        for swap in swaps {
            let mut data = base[..at].to_vec();
            data.extend_from_slice(swap);
            data.extend_from_slice(&base[at + 1..]);
            let parsed = SourceMap::parse(&data);
            match std::str::from_utf8(&data) {
                Err(e) => {
                    invalid += 1;
                    let err = parsed.err().unwrap_or_else(|| panic!("accepted bad UTF-8 at {at}"));
                    assert_eq!(err.kind(), ErrorKind::InvalidJson, "{at}: {err}");
                    let std_says = format!("not valid UTF-8 at byte {}", e.valid_up_to());
                    assert!(
                        err.message().contains(&std_says) || !err.message().contains("UTF-8"),
                        "{at} {swap:?}: {err} (std: {std_says})"
                    );
                }
                Ok(_) => {
                    // valid UTF-8 is never reported as bad (other errors may come)
                    if let Err(e) = parsed {
                        assert!(!e.message().contains("UTF-8"), "{at} {swap:?}: {e}");
                    }
                }
            }
        }
    }
    assert!(invalid > 1000, "{invalid}");
    // Inside strings the position is std's exactly.
    let at = doc.find('中').unwrap();
    let mut data = base.to_vec();
    data[at + 1] = b'x';
    let e = SourceMap::parse(&data).unwrap_err();
    assert!(e.message().contains(&format!("not valid UTF-8 at byte {at}")), "{e}");
    // Outside strings a non-ASCII character is a JSON error naming it.
    let e = SourceMap::parse("{\"version\":é}".as_bytes()).unwrap_err();
    assert!(e.message().contains("unexpected character 'é'"), "{e}");
}

#[test]
fn json_error_position() {
    let e = SourceMap::parse(b"{\n  \"version\": 3,\n  \"sources\": [1 2]\n}").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidJson);
    assert!(e.message().contains("line 3"), "{e}");
}

#[test]
fn json_depth_limit() {
    let ok = format!(
        "{}{}",
        "[".repeat(json::MAX_DEPTH as usize),
        "]".repeat(json::MAX_DEPTH as usize)
    );
    assert!(tree::parse(&ok).is_ok());
    let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
    assert_eq!(tree::parse(&deep).unwrap_err().kind(), ErrorKind::LimitExceeded);
    // An unknown field nested too deep inside a map.
    let nested = format!(
        r#"{{"version":3,"sources":[],"mappings":"","x":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_eq!(kind_of(&nested), ErrorKind::LimitExceeded);
    // Very deep input does not overflow the stack.
    let huge = "[".repeat(1_000_000);
    assert_eq!(tree::parse(&huge).unwrap_err().kind(), ErrorKind::LimitExceeded);
}

#[test]
fn escaped_keys_and_strings() {
    let map = parse(
        r#"{"\u0076ersion":3,"sources":["a\u002fb.js", "\ud83d\ude00.js"],"names":["n\"q"],
           "mappings":"AAAAA","file":"out\\x.js","sourcesContent":["line1\nline2"]}"#,
    );
    assert_eq!(map.source(0).as_deref(), Some("a/b.js"));
    assert_eq!(map.source(1).as_deref(), Some("😀.js"));
    assert_eq!(map.name(0).as_deref(), Some("n\"q"));
    assert_eq!(map.file().as_deref(), Some("out\\x.js"));
    assert_eq!(map.source_content(0).unwrap().as_deref(), Some("line1\nline2"));
    // No escapes: borrowed from the input.
    let map = parse(map_with("AAAA"));
    assert!(matches!(map.source(0), Some(Cow::Borrowed("a.js"))));
    assert!(matches!(map.name(1), Some(Cow::Borrowed("y"))));
}

#[test]
fn escaped_mappings_string() {
    // "\u0041" is "A": the mappings are unescaped before decoding.
    let map = parse(map_with(r"\u0041AAA,CAAC"));
    assert_eq!(map.token_count(), 2);
    assert_eq!(map.token(1), Some(tok(0, 1, 0, 0, 1, NONE)));
}

#[test]
fn bom_and_xssi_prefix() {
    let m = map_with("AAAA");
    assert_eq!(parse(format!("\u{feff}{m}")).token_count(), 1);
    assert_eq!(parse(format!(")]}}'\n{m}")).token_count(), 1);
    assert_eq!(parse(format!(")]}}' garbage\r\n{m}")).token_count(), 1);
}

#[test]
fn top_level_must_be_object() {
    assert_eq!(kind_of("[]"), ErrorKind::InvalidSourceMap);
    assert_eq!(kind_of("3"), ErrorKind::InvalidSourceMap);
    assert_eq!(kind_of("[1,"), ErrorKind::InvalidJson);
}

// ---- Validation ------------------------------------------------------------------------

#[test]
fn field_validation() {
    let base = |extra: &str| format!(r#"{{"version":3,"sources":["a.js"],"mappings":""{extra}}}"#);
    assert!(SourceMap::parse(base("").as_bytes()).is_ok());
    // Nulls count as absent for optional fields.
    for ok in [
        r#","file":null"#,
        r#","sourceRoot":null"#,
        r#","names":null"#,
        r#","sourcesContent":null"#,
        r#","ignoreList":null"#,
        r#","debugId":null"#,
        r#","version":3.0"#,
        r#","ignoreList":[0.0]"#,
        r#","x_google_ignoreList":[0]"#,
        r#","sourcesContent":["a","b","c"]"#,
    ] {
        assert!(SourceMap::parse(base(ok).as_bytes()).is_ok(), "{ok}");
    }
    for (bad, kind) in [
        (r#","file":1"#, ErrorKind::InvalidSourceMap),
        (r#","sourceRoot":{}"#, ErrorKind::InvalidSourceMap),
        (r#","names":[1]"#, ErrorKind::InvalidSourceMap),
        (r#","sourcesContent":[1]"#, ErrorKind::InvalidSourceMap),
        (r#","ignoreList":[1]"#, ErrorKind::InvalidSourceMap),
        (r#","ignoreList":[null]"#, ErrorKind::InvalidSourceMap),
        (r#","ignoreList":{}"#, ErrorKind::InvalidSourceMap),
        (r#","x_google_ignoreList":[2]"#, ErrorKind::InvalidSourceMap),
        (r#","debugId":7"#, ErrorKind::InvalidSourceMap),
        (r#","version":"3""#, ErrorKind::InvalidSourceMap),
        (r#","mappings":null"#, ErrorKind::InvalidSourceMap),
        (r#","sources":null"#, ErrorKind::InvalidSourceMap),
    ] {
        let e = SourceMap::parse(base(bad).as_bytes()).unwrap_err();
        assert_eq!(e.kind(), kind, "{bad}: {e}");
    }
    let e = SourceMap::parse(br#"{"version":3,"sources":["a",null,7],"mappings":""}"#).unwrap_err();
    assert_eq!(e.message(), "sources[2]: expected a string or null, found 7");
}

#[test]
fn mappings_validation() {
    for (bad, needle) in [
        ("A!", "invalid base64 character '!' at byte 1 (line 0, segment 0)"),
        ("AAAA;CAAA,!", "'!' at byte 10 (line 1, segment 1)"),
        ("AA", "2 fields"),
        ("AAA", "3 fields"),
        ("AAAAAA", "more than 5 fields"),
        (",", "empty segment"),
        ("A,", "empty segment"),
        ("A,,A", "empty segment"),
        ("A,;", "empty segment"),
        (";,", "empty segment"),
        ("EEAA", "source index 2 out of range"),
        ("AAAAG", "name index 3 out of range"),
        ("D", "negative generated column"),
        ("AADA", "original line -1"),
        ("AAAD", "original column -1"),
        ("B", "negative generated column"),
        ("+/////D,C", "exceeds 2^31-1"),
        ("AA+/////DA,AACA", "original line 2147483648"),
        ("g", "past the end"),
        ("ggggggE", "exceeds 32 bits"),
    ] {
        let e = SourceMap::parse(map_with(bad).as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidMappings, "{bad}: {e}");
        assert!(e.message().contains(needle), "{bad}: {e}");
        assert!(e.message().starts_with("mappings: "), "{bad}: {e}");
    }
    for ok in [
        "",
        ";",
        ";;;",
        "A",
        "A;A",
        "AAAA,CAAA;;EAAAA",
        "+/////DA+/////D+/////DA",
    ] {
        let with_names = format!(r#"{{"version":3,"sources":["a.js"],"names":["x"],"mappings":"{ok}"}}"#);
        assert!(SourceMap::parse(with_names.as_bytes()).is_ok(), "{ok}");
    }
}

// ---- Lookups ---------------------------------------------------------------------------

#[test]
fn tokens_and_lines() {
    // Line 0: col 0 -> a.js 0:0; col 4 -> a.js 0:2 "x". Line 1 empty. Line 2: col 2 unmapped,
    // col 5 -> b.js 3:1 "z".
    let map = parse(map_with("AAAA,IAAEA;;E,GCGDE"));
    assert_eq!(map.token_count(), 4);
    assert_eq!(map.line_count(), 3);
    assert_eq!(map.token(0), Some(tok(0, 0, 0, 0, 0, NONE)));
    assert_eq!(map.token(1), Some(tok(0, 4, 0, 0, 2, 0)));
    assert_eq!(map.token(2), Some(tok(2, 2, NONE, NONE, NONE, NONE)));
    assert_eq!(map.token(3), Some(tok(2, 5, 1, 3, 1, 2)));
    assert_eq!(map.token(4), None);
    assert!(!map.is_index_map());
}

#[test]
fn relative_state_carries_across_lines() {
    // Source, original line/column and name deltas continue across ';'; column resets.
    let map = parse(map_with("CCAEA;EACAC"));
    assert_eq!(map.token(0), Some(tok(0, 1, 1, 0, 2, 0)));
    assert_eq!(map.token(1), Some(tok(1, 2, 1, 1, 2, 1)));
}

#[test]
fn lookup_bias() {
    let map = parse(map_with("AAAA,IAAEA;;E,GCGDE"));
    let glb = Bias::GreatestLowerBound;
    let lub = Bias::LeastUpperBound;
    assert_eq!(map.lookup(0, 0, glb).map(|t| t.dst_col), Some(0));
    assert_eq!(map.lookup(0, 3, glb).map(|t| t.dst_col), Some(0));
    assert_eq!(map.lookup(0, 4, glb).map(|t| t.dst_col), Some(4));
    assert_eq!(map.lookup(0, 1000, glb).map(|t| t.dst_col), Some(4));
    assert_eq!(map.lookup(0, 1, lub).map(|t| t.dst_col), Some(4));
    assert_eq!(map.lookup(0, 4, lub).map(|t| t.dst_col), Some(4));
    assert_eq!(map.lookup(0, 5, lub), None);
    // Never crosses lines: line 1 is empty, line 2 starts at column 2.
    assert_eq!(map.lookup(1, 10, glb), None);
    assert_eq!(map.lookup(1, 0, lub), None);
    assert_eq!(map.lookup(2, 1, glb), None);
    assert_eq!(map.lookup(2, 1, lub).map(|t| t.dst_col), Some(2));
    // A 1-field segment is returned with no original position.
    assert_eq!(map.lookup(2, 3, glb), Some(tok(2, 2, NONE, NONE, NONE, NONE)));
    // The token's index comes along for callers that cache per token.
    assert_eq!(map.lookup_indexed(2, 9, glb), Some((3, map.token(3).unwrap())));
    // Past the last line.
    assert_eq!(map.lookup(3, 0, glb), None);
    assert_eq!(map.lookup(u32::MAX, 0, glb), None);
}

#[test]
fn lookup_equal_columns_follow_trace_mapping() {
    // Three segments at column 4 (names x, y, z), then one at 8.
    let map = parse(map_with("AAAA,IAAAA,AAAAC,AAAAC,IAAA"));
    let name = |col, bias| map.lookup(0, col, bias).map(|t| t.name);
    // exact hit: GLB the first, LUB the last of the column
    assert_eq!(name(4, Bias::GreatestLowerBound), Some(0));
    assert_eq!(name(4, Bias::LeastUpperBound), Some(2));
    // between columns: GLB the last segment below (the one in force), LUB the first above
    assert_eq!(name(6, Bias::GreatestLowerBound), Some(2));
    assert_eq!(map.lookup(0, 2, Bias::LeastUpperBound).map(|t| t.name), Some(0));
}

#[test]
fn unsorted_line_is_sorted_stably() {
    // Columns 10, 2, 10, 0 on line 0 (names x, y, z, x); line 1 is sorted.
    let map = parse(map_with("UAAAA,RAAAC,QAAAC,VAAAF;AAAA,CAAA"));
    let cols: Vec<u32> = (0..map.token_count()).map(|i| map.token(i).unwrap().dst_col).collect();
    assert_eq!(cols, [0, 2, 10, 10, 0, 1]);
    let names: Vec<u32> = (0..4).map(|i| map.token(i).unwrap().name).collect();
    assert_eq!(names, [0, 1, 0, 2]);
    assert_eq!(map.lookup(0, 11, Bias::GreatestLowerBound).map(|t| t.name), Some(2));
}

#[test]
fn long_vlqs_in_mappings_decode_as_vlq_decode() {
    // 1 to 12 digits (the decoder's seven-digit loop and the general one past it), as
    // every field, against vlq_decode of the same text.
    for digits in 1..=12usize {
        let mut v = String::from(if digits == 1 { "C" } else { "i" });
        v.push_str(&"g".repeat(digits.saturating_sub(2)));
        if digits > 1 {
            v.push('A');
        }
        let (want, used) = vlq_decode(v.as_bytes()).unwrap();
        assert_eq!(used, digits);
        let seg = format!("{v}A{v}{v}");
        let map = parse(map_with(&format!("{seg},{seg}")));
        let t = map.token(1).unwrap();
        assert_eq!(
            (t.dst_col, t.src_line, t.src_col),
            (2 * want as u32, 2 * want as u32, 2 * want as u32)
        );
    }
    for (m, want) in [
        ("hgggggE", "VLQ at byte 0 exceeds 32 bits (line 0, segment 0)"),
        ("AAAA,ggggggggggE", "VLQ at byte 5 exceeds 32 bits (line 0, segment 1)"),
        (
            "AAAAg",
            "VLQ continues past the end of input at byte 5 (line 0, segment 0)",
        ),
        ("AAgg!A", "invalid base64 character '!' at byte 4 (line 0, segment 0)"),
        ("AAAA;AAgBA,", "empty segment at byte 11 (line 1, segment 1)"),
    ] {
        let e = SourceMap::parse(map_with(m).as_bytes()).err().expect(m);
        assert_eq!(e.message(), format!("mappings: {want}"), "{m}");
    }
}

#[test]
fn unsorted_first_line_of_an_offset_section() {
    // The decoder adds a section's column offset to its first line when the line ends:
    // after that line's sort, before the next line and on a last line without `;`.
    let a = r#"{"version":3,"sources":["a.js"],"names":[],"mappings":"AAAA"}"#;
    let b = r#"{"version":3,"sources":["b.js"],"names":[],"mappings":"UAAA,RAAC,QAAC;EAAA"}"#;
    let c = r#"{"version":3,"sources":["c.js"],"names":[],"mappings":"KAAA,HAAC"}"#;
    let m = index(&[section(0, 0, a), section(0, 100, b), section(2, 7, c)].join(","));
    let map = parse(&m);
    let toks: Vec<(u32, u32, u32)> = (0..map.token_count())
        .map(|i| map.token(i).unwrap())
        .map(|t| (t.dst_line, t.dst_col, t.src_col))
        .collect();
    assert_eq!(
        toks,
        [
            (0, 0, 0),
            (0, 102, 1),
            (0, 110, 0),
            (0, 110, 2),
            (1, 2, 2),
            (2, 9, 1),
            (2, 12, 0)
        ]
    );
    assert_eq!(
        map.lookup(0, 105, Bias::GreatestLowerBound).map(|t| t.dst_col),
        Some(102)
    );
}

// ---- sourceRoot ------------------------------------------------------------------------

fn with_root(root: &str, sources: &str) -> String {
    format!(r#"{{"version":3,"sourceRoot":{root},"sources":{sources},"mappings":""}}"#)
}

#[test]
fn source_root_resolution() {
    let m = with_root(
        r#""src""#,
        r#"["a.js","/abs.js","https://x.org/b.js","webpack:///c.js",null]"#,
    );
    let map = parse(&m);
    assert_eq!(map.source(0).as_deref(), Some("src/a.js"));
    assert_eq!(map.source(1).as_deref(), Some("src//abs.js"));
    assert_eq!(map.source(2).as_deref(), Some("https://x.org/b.js"));
    assert_eq!(map.source(3).as_deref(), Some("webpack:///c.js"));
    assert_eq!(map.source(4), None);
    assert_eq!(map.source(5), None);
    assert_eq!(map.raw_source(0).as_deref(), Some("a.js"));
    let m = with_root(r#""https://cdn.example/x/""#, r#"["a.js"]"#);
    assert_eq!(parse(&m).source(0).as_deref(), Some("https://cdn.example/x/a.js"));
    for root in [r#""""#, "null"] {
        let m = with_root(root, r#"["a.js"]"#);
        assert!(matches!(parse(&m).source(0), Some(Cow::Borrowed("a.js"))));
    }
}

// ---- Index maps ------------------------------------------------------------------------

fn index(sections: &str) -> String {
    format!(r#"{{"version":3,"file":"all.js","sections":[{sections}]}}"#)
}

fn section(line: u32, col: u32, map: &str) -> String {
    format!(r#"{{"offset":{{"line":{line},"column":{col}}},"map":{map}}}"#)
}

#[test]
fn index_map_flattening() {
    let a = r#"{"version":3,"sources":["a.js"],"names":["x"],"mappings":"AAAAA,EAAE;AACA","ignoreList":[0]}"#;
    let b = r#"{"version":3,"sourceRoot":"lib","sources":["b.js","c.js"],"names":["y"],
               "sourcesContent":[null,"C"],"mappings":"ACAAA,EDAA;AACA","x_google_ignoreList":[1]}"#;
    let m = index(&format!("{},{}", section(0, 0, a), section(1, 10, b)));
    let map = parse(&m);
    assert!(map.is_index_map());
    assert_eq!(map.file().as_deref(), Some("all.js"));
    assert_eq!(map.source_count(), 3);
    assert_eq!(map.source(0).as_deref(), Some("a.js"));
    assert_eq!(map.source(1).as_deref(), Some("lib/b.js"));
    assert_eq!(map.source(2).as_deref(), Some("lib/c.js"));
    assert_eq!(map.source_content(0).unwrap(), None);
    assert_eq!(map.source_content(2).unwrap().as_deref(), Some("C"));
    assert_eq!(map.name_count(), 2);
    assert_eq!(map.ignore_list(), &[0, 2]);
    let tokens: Vec<Token> = (0..map.token_count()).map(|i| map.token(i).unwrap()).collect();
    assert_eq!(
        tokens,
        [
            tok(0, 0, 0, 0, 0, 0),
            tok(0, 2, 0, 0, 2, NONE),
            // The column offset applies to the section's first line only.
            tok(1, 0, 0, 1, 2, NONE),
            tok(1, 10, 2, 0, 0, 1),
            tok(1, 12, 1, 0, 0, NONE),
            tok(2, 0, 1, 1, 0, NONE),
        ]
    );
    assert_eq!(map.line_count(), 3);
    assert_eq!(map.lookup(1, 11, Bias::GreatestLowerBound).map(|t| t.src), Some(2));
    assert_eq!(map.lookup(1, 9, Bias::GreatestLowerBound).map(|t| t.src), Some(0));
}

#[test]
fn index_map_gaps_and_trailing_lines() {
    // The first section has trailing empty lines that the second section starts inside.
    let a = r#"{"version":3,"sources":["a.js"],"mappings":"AAAA;;;;"}"#;
    let b = r#"{"version":3,"sources":["b.js"],"mappings":"AAAA"}"#;
    let map = parse(index(&format!("{},{}", section(0, 0, a), section(2, 0, b))));
    assert_eq!(map.token(1), Some(tok(2, 0, 1, 0, 0, NONE)));
    assert_eq!(map.line_count(), 5);
    assert_eq!(map.lookup(2, 5, Bias::GreatestLowerBound).map(|t| t.src), Some(1));
    assert_eq!(map.lookup(1, 5, Bias::GreatestLowerBound), None);
    // Empty index map.
    let map = parse(r#"{"version":3,"sections":[]}"#);
    assert!(map.is_index_map());
    assert_eq!((map.token_count(), map.line_count(), map.source_count()), (0, 0, 0));
}

#[test]
fn index_map_errors() {
    let ok = r#"{"version":3,"sources":["a.js"],"mappings":"AAAA,CAAC"}"#;
    let nested = index(&section(0, 0, &index(&section(0, 0, ok))));
    assert_eq!(kind_of(&nested), ErrorKind::LimitExceeded);
    for (bad, kind, needle) in [
        (
            section(0, 0, r#""x""#),
            ErrorKind::InvalidIndexMap,
            "sections[0].map: expected an object",
        ),
        (
            r#"{"offset":{"line":0,"column":0},"url":"a.map"}"#.into(),
            ErrorKind::InvalidIndexMap,
            "url",
        ),
        (
            r#"{"offset":{"line":-1,"column":0},"map":{}}"#.into(),
            ErrorKind::InvalidIndexMap,
            "offset.line",
        ),
        (
            r#"{"offset":{"line":0,"column":1.5},"map":{}}"#.into(),
            ErrorKind::InvalidIndexMap,
            "offset.column",
        ),
        (
            r#"{"offset":{"line":0,"column":0}}"#.into(),
            ErrorKind::InvalidIndexMap,
            "map: missing",
        ),
        (
            "7".into(),
            ErrorKind::InvalidIndexMap,
            "sections[0]: expected an object",
        ),
        (
            section(0, 0, r#"{"version":3,"sources":[],"mappings":"AAAA"}"#),
            ErrorKind::InvalidMappings,
            "sections[0].map.mappings: source index 0 out of range",
        ),
        (
            section(0, 0, r#"{"version":3,"sources":[1],"mappings":""}"#),
            ErrorKind::InvalidSourceMap,
            "sections[0].map.sources[0]",
        ),
        // Overlap: the previous section maps (0, 1).
        (
            format!("{},{}", section(0, 0, ok), section(0, 1, ok)),
            ErrorKind::InvalidIndexMap,
            "overlaps",
        ),
        (
            format!("{},{}", section(1, 0, ok), section(0, 5, ok)),
            ErrorKind::InvalidIndexMap,
            "before",
        ),
    ] {
        let e = SourceMap::parse(index(&bad).as_bytes()).unwrap_err();
        assert_eq!(e.kind(), kind, "{bad}: {e}");
        assert!(e.message().contains(needle), "{bad}: {e}");
    }
    // Right after the previous section's last mapping is fine.
    assert!(SourceMap::parse(index(&format!("{},{}", section(0, 0, ok), section(0, 2, ok))).as_bytes()).is_ok());
    // A tiny map may not claim billions of generated lines (the line index is dense).
    let far = index(&section(2_000_000_000, 0, ok));
    assert_eq!(kind_of(&far), ErrorKind::LimitExceeded);
    assert!(SourceMap::parse(index(&section(100_000, 3, ok)).as_bytes()).is_ok());
    let with_mappings = r#"{"version":3,"mappings":"","sections":[]}"#;
    assert_eq!(kind_of(with_mappings), ErrorKind::InvalidIndexMap);
}

// ---- Metadata --------------------------------------------------------------------------

#[test]
fn debug_id_and_ignore_list_fallbacks() {
    let m = r#"{"version":3,"sources":["a","b"],"mappings":"","debug_id":"abc","x_google_ignoreList":[1]}"#;
    let map = parse(m);
    assert_eq!(map.debug_id().as_deref(), Some("abc"));
    assert_eq!(map.ignore_list(), &[1]);
    let m = r#"{"version":3,"sources":["a","b"],"mappings":"","debugId":"new","debug_id":"old",
               "ignoreList":[0],"x_google_ignoreList":[1]}"#;
    let map = parse(m);
    assert_eq!(map.debug_id().as_deref(), Some("new"));
    assert_eq!(map.ignore_list(), &[0]);
    assert_eq!(parse(map_with("")).debug_id(), None);
    // Index maps: the top-level debug ID only.
    let s = section(0, 0, r#"{"version":3,"sources":[],"mappings":"","debugId":"inner"}"#);
    let m = format!(r#"{{"version":3,"debugId":"outer","sections":[{s}]}}"#);
    assert_eq!(parse(&m).debug_id().as_deref(), Some("outer"));
}

#[test]
fn duplicate_keys_last_wins() {
    let map = parse(r#"{"version":3,"sources":["a"],"sources":["b","c"],"mappings":"AAAA","mappings":"ACAA"}"#);
    assert_eq!(map.source_count(), 2);
    assert_eq!(map.token(0).map(|t| t.src), Some(1));
}

// ---- Reverse lookups -------------------------------------------------------------------

#[test]
fn generated_positions() {
    // a.js line 0 col 0 is mapped at (0,0) and (2,0); col 4 at (0,5) and (1,3); col 8 at
    // (1,7); b.js 1:1 at (1,0).
    let map = parse(map_with("AAAA,KAAI;ACCH,GDDG,IAAI;AAAR"));
    let pos = |src, line, col| -> Vec<(u32, u32)> {
        map.generated_positions(src, line, col)
            .iter()
            .map(|t| (t.dst_line, t.dst_col))
            .collect()
    };
    assert_eq!(pos(0, 0, Some(0)), [(0, 0), (2, 0)]);
    assert_eq!(pos(0, 0, Some(4)), [(0, 5), (1, 3)]);
    // No exact match: the next greater column on the same line.
    assert_eq!(pos(0, 0, Some(1)), [(0, 5), (1, 3)]);
    assert_eq!(pos(0, 0, Some(5)), [(1, 7)]);
    assert_eq!(pos(0, 0, Some(9)), []);
    assert_eq!(pos(0, 0, None), [(0, 0), (0, 5), (1, 3), (1, 7), (2, 0)]);
    assert_eq!(pos(1, 1, Some(0)), [(1, 0)]);
    assert_eq!(pos(1, 0, None), []);
    assert_eq!(pos(5, 0, None), []);
    let t = map.generated_positions(0, 0, Some(4))[1];
    assert_eq!(t, tok(1, 3, 0, 0, 4, NONE));
}

#[test]
fn lookup_matches_brute_force() {
    // Pseudo-random maps with unsorted lines and equal columns against a linear scan.
    let mut x: u32 = 7;
    let mut next = |m: u32| {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (x >> 8) % m
    };
    for _ in 0..50 {
        let mut mappings = String::new();
        let mut expect: Vec<Vec<u32>> = Vec::new();
        let (mut src, mut sl, mut sc) = (0i32, 0i32, 0i32);
        for line in 0..next(6) + 1 {
            if line > 0 {
                mappings.push(';');
            }
            let mut cols = Vec::new();
            let mut prev = 0i32;
            for seg in 0..next(6) {
                if seg > 0 {
                    mappings.push(',');
                }
                let col = next(12) as i32;
                vlq_encode(col - prev, &mut mappings);
                prev = col;
                let (s, l, c) = (next(2) as i32, next(4) as i32, next(5) as i32);
                for (v, st) in [(s, &mut src), (l, &mut sl), (c, &mut sc)] {
                    vlq_encode(v - *st, &mut mappings);
                    *st = v;
                }
                cols.push(col as u32);
            }
            expect.push(cols);
        }
        let map = parse(map_with(&mappings));
        for (line, cols) in expect.iter().enumerate() {
            let mut sorted = cols.clone();
            sorted.sort();
            for q in 0..14 {
                let glb = sorted.iter().rev().find(|&&c| c <= q).copied();
                let lub = sorted.iter().find(|&&c| c >= q).copied();
                let line = line as u32;
                assert_eq!(map.lookup(line, q, Bias::GreatestLowerBound).map(|t| t.dst_col), glb);
                assert_eq!(map.lookup(line, q, Bias::LeastUpperBound).map(|t| t.dst_col), lub);
            }
        }
        // Every token is found by its own reverse lookup.
        for i in 0..map.token_count() {
            let t = map.token(i).unwrap();
            assert!(map.generated_positions(t.src, t.src_line, Some(t.src_col)).contains(&t));
            assert!(map.generated_positions(t.src, t.src_line, None).contains(&t));
        }
    }
}

#[test]
fn lookup_index_on_long_lines_with_runs_of_equal_columns() {
    // One line long enough for the sampled search, with runs of 1..=20 segments at a
    // column (the lookup steps over short runs and searches long ones): the exact token
    // index, against counting.
    let mut mappings = String::new();
    let mut cols = Vec::new();
    let mut col = 0u32;
    for run in 0..60u32 {
        let len = 1 + (run * 7) % 20;
        col += 1 + run % 3;
        for k in 0..len {
            if !cols.is_empty() {
                mappings.push(',');
            }
            let delta = if k == 0 {
                col - cols.last().copied().unwrap_or(0)
            } else {
                0
            };
            vlq_encode(delta as i32, &mut mappings);
            mappings.push_str("AAA");
            cols.push(col);
        }
    }
    let map = parse(map_with(&mappings));
    for q in 0..col + 3 {
        let below = cols.iter().filter(|&&c| c < q).count();
        let upto = cols.iter().filter(|&&c| c <= q).count();
        let glb = if upto > below { Some(below) } else { upto.checked_sub(1) };
        let lub = if upto > below {
            Some(upto - 1)
        } else if below == cols.len() {
            None
        } else {
            Some(below)
        };
        let index = |bias| map.lookup_indexed(0, q, bias).map(|(i, _)| i as usize);
        assert_eq!(index(Bias::GreatestLowerBound), glb, "GLB at {q}");
        assert_eq!(index(Bias::LeastUpperBound), lub, "LUB at {q}");
    }
}

// ---- Robustness ------------------------------------------------------------------------

#[test]
fn mutated_inputs_never_panic() {
    let seeds = [
        map_with("AAAA,IAAEA;;E,GCGDE"),
        index(&format!(
            "{},{}",
            section(0, 0, r#"{"version":3,"sources":["a.js"],"names":["x"],"mappings":"AAAAA;AACA"}"#),
            section(3, 4, r#"{"version":3,"sources":[null],"sourcesContent":["\u00e9\n"],"mappings":"AAAA"}"#)
        )),
        r#"{"version":3,"sources":["a\"b","\ud83d\ude00"],"names":["n"],"mappings":"AAAAA,CAACA;ACAAA","ignoreList":[1]}"#.to_string(),
    ];
    let alphabet = b"AZaz09+/gB,;\"\\{}[]:-.e \x00\xc3\xa9\xff";
    let mut x: u64 = 99;
    let mut next = |m: usize| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((x >> 33) as usize) % m
    };
    for seed in &seeds {
        for _ in 0..3000 {
            let mut bytes = seed.clone().into_bytes();
            for _ in 0..1 + next(3) {
                let at = next(bytes.len());
                match next(3) {
                    0 => bytes[at] = alphabet[next(alphabet.len())],
                    1 => drop(bytes.remove(at)),
                    _ => bytes.insert(at, alphabet[next(alphabet.len())]),
                }
            }
            if let Ok(map) = SourceMap::parse(&bytes) {
                for i in 0..map.token_count() + 1 {
                    let _ = map.token(i);
                }
                for line in 0..map.line_count() + 2 {
                    for col in [0, 1, 5, u32::MAX] {
                        let _ = map.lookup(line, col, Bias::GreatestLowerBound);
                        let _ = map.lookup(line, col, Bias::LeastUpperBound);
                    }
                }
                for src in 0..map.source_count() + 1 {
                    let _ = (map.source(src), map.source_content(src));
                    let _ = map.generated_positions(src, 0, None);
                    let _ = map.generated_positions(src, 0, Some(1));
                }
                for n in 0..map.name_count() + 1 {
                    let _ = map.name(n);
                }
                let _ = (map.file(), map.debug_id(), map.ignore_list());
            }
        }
    }
}

#[test]
fn long_lines_use_the_sampled_index_and_agree_with_a_scan() {
    // Line 1 has 3000 segments with runs of equal columns (so groups straddle sample
    // blocks); lines 0 and 2 are short. Every query is checked against a linear scan.
    let mut mappings = String::from("AAAA;");
    let mut cols = Vec::new();
    let mut prev = 0;
    for i in 0..3000u32 {
        let col = (i / 3) * 2 + (i % 7 == 0) as u32;
        let col = col.max(prev);
        if i > 0 {
            mappings.push(',');
        }
        vlq_encode((col - prev) as i32, &mut mappings);
        mappings.push_str(if i == 0 { "AAA" } else { "AAC" }); // src 0, line 0, col +1
        cols.push(col);
        prev = col;
    }
    mappings.push_str(";AAAA");
    let map = parse(map_with(&mappings));
    for q in 0..(prev + 3) {
        let below = cols.iter().filter(|&&c| c < q).count();
        let upto = cols.iter().filter(|&&c| c <= q).count();
        let glb = if upto > below { Some(below) } else { upto.checked_sub(1) };
        let lub = if upto > below {
            Some(upto - 1)
        } else if below < cols.len() {
            Some(below)
        } else {
            None
        };
        let got = |bias| map.lookup(1, q, bias).map(|t| t.src_col as usize);
        assert_eq!(got(Bias::GreatestLowerBound), glb, "GLB at {q}");
        assert_eq!(got(Bias::LeastUpperBound), lub, "LUB at {q}");
    }
}

#[test]
fn table_counts_are_bounded() {
    // one entry too many (the names share the check; a debug build parses ~16 MB here)
    let list = vec!["\"a\""; MAX_TABLE_ENTRIES + 1].join(",");
    let over = format!(r#"{{"version":3,"sources":[{}],"names":[],"mappings":""}}"#, list);
    let e = SourceMap::parse(over.as_bytes()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    assert!(e.to_string().contains("sources: more than"), "{}", e);
}

// ---- lazily checked sourcesContent -----------------------------------------------------

#[test]
fn skipped_strings_end_where_checked_strings_end() {
    // Every string of up to 6 bytes over an alphabet of the interesting bytes, in front
    // of a tail that holds more quotes: wherever the strict scan accepts, the skip must
    // find the same end; where the strict scan finds an unterminated string, so must it.
    let alphabet: &[u8] = b"a\"\\nu0\x01";
    let mut body = Vec::new();
    let mut checked = 0;
    for len in 0..=6u32 {
        for code in 0..alphabet.len().pow(len) {
            body.clear();
            let mut c = code;
            for _ in 0..len {
                body.push(alphabet[c % alphabet.len()]);
                c /= alphabet.len();
            }
            for tail in [&b"\"x\"\\\""[..], &b""[..]] {
                let mut doc = vec![b'"'];
                doc.extend_from_slice(&body);
                doc.extend_from_slice(tail);
                let text = std::str::from_utf8(&doc).unwrap();
                let strict = json::Scanner::new(text, 0).string();
                let lazy = json::Scanner::new(text, 0).skip_string();
                match (strict, lazy) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!((a.start, a.end), (b.start, b.end), "{text:?}");
                        checked += 1;
                    }
                    (Ok(a), Err(e)) => panic!("{text:?}: strict {a:?}, lazy {e}"),
                    (Err(e), Ok(b)) if e.message().contains("unterminated") => {
                        panic!("{text:?}: strict {e}, lazy {b:?}")
                    }
                    (Err(_), _) => {}
                }
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
}

#[test]
fn sources_content_is_checked_when_asked_for() {
    // Content 1 has an invalid escape, content 2 a raw control character: the map parses
    // (and maps), and each of those two is an InvalidJson error of its own.
    let text = "{\"version\":3,\"sources\":[\"a.js\",\"b.js\",\"c.js\",\"d.js\"],\
                \"sourcesContent\":[\"ok \\\"q\\\" \\\\\",\"bad \\x\",\"tab\there\",null],\
                \"names\":[],\"mappings\":\"AAAA;ACAA\"}";
    let map = parse(text);
    assert_eq!(map.token_count(), 2);
    assert_eq!(map.source_content(0).unwrap().as_deref(), Some("ok \"q\" \\"));
    for (i, what) in [(1, "invalid escape"), (2, "control character")] {
        let e = map.source_content(i).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidJson);
        assert!(e.message().starts_with(&format!("sourcesContent[{i}]: ")), "{e}");
        assert!(e.message().contains(what), "{e}");
    }
    assert_eq!(map.source_content(3).unwrap(), None);
    // The cache keeps contents only on request: then the bad one fails the build.
    assert!(cache::write(&map, None, false, false).is_ok());
    assert_eq!(
        cache::write(&map, None, false, true).unwrap_err().kind(),
        ErrorKind::InvalidJson
    );
    // An unterminated content string is still a parse error.
    let cut = &text[..text.find("bad").unwrap()];
    assert_eq!(kind_of(cut), ErrorKind::InvalidJson);
    // Other strings are checked while parsing, as before.
    assert_eq!(kind_of(&text.replace("a.js", "a\\x.js")), ErrorKind::InvalidJson);
}

#[test]
fn separator_count_matches_a_byte_loop() {
    let mut m = Vec::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for len in [0usize, 1, 7, 8, 9, 63, 64, 65, 1000] {
        m.clear();
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Bytes near the separators too (+, -, :, <, high bytes).
            m.push(b",;+-:<AB\xac\xbb"[(x % 10) as usize]);
        }
        let naive = m.iter().filter(|&&b| b == b',' || b == b';').count();
        assert_eq!(vlq::count_separators(&m), naive, "{m:?}");
    }
}

#[test]
fn token_fields_and_line_runs_match_tokens() {
    // Empty lines first, between and last; a ranged read starting inside a line.
    let m = parse(map_with(";;A,CAAAA;;;EACA,GAAE,CAAC;A;;"));
    let n = m.token_count();
    for start in 0..=n {
        for end in start..=n + 1 {
            let [cols, srcs, lines, scols, names] = m.token_fields(start, end);
            let mut dst_lines = Vec::new();
            m.token_line_runs(start, end, |line, k| {
                dst_lines.extend(std::iter::repeat(line).take(k as usize))
            });
            let want: Vec<Token> = (start..end.min(n)).map(|i| m.token(i).unwrap()).collect();
            let got: Vec<Token> = (0..want.len())
                .map(|i| tok(dst_lines[i], cols[i], srcs[i], lines[i], scols[i], names[i]))
                .collect();
            assert_eq!(dst_lines.len(), want.len(), "{start}..{end}");
            assert_eq!(got, want, "{start}..{end}");
        }
    }
}

#[test]
fn mappings_scan_counts_separators_as_a_second_pass_would() {
    // Lengths around the 64-byte blocks and the 63-block flush, and a stop byte (escape,
    // non-ASCII, control) at every position class: same range as `string`, same count as
    // `count_separators` when counted, the plain scan's answer otherwise.
    let mut cases = 0;
    for len in [
        0usize,
        1,
        7,
        63,
        64,
        65,
        127,
        200,
        64 * 63,
        64 * 63 + 1,
        64 * 64 + 5,
        10_000,
    ] {
        let body: Vec<u8> = (0..len).map(|k| b"AC,gB;E;,Qk"[(k * 7 + len) % 11]).collect();
        for stop in [None, Some(&b"\\n"[..]), Some("é".as_bytes()), Some(&b"\x01"[..])] {
            for at in [0, len / 2, len] {
                let mut doc = vec![b'"'];
                doc.extend_from_slice(&body[..at]);
                if let Some(s) = stop {
                    doc.extend_from_slice(s);
                }
                doc.extend_from_slice(&body[at..]);
                doc.push(b'"');
                let plain = json::Scanner::checking(&doc, 0).unwrap().string();
                let counted = json::Scanner::checking(&doc, 0).unwrap().mappings_value();
                match (plain, counted) {
                    (Ok(a), Ok((b, n))) => {
                        assert_eq!((a.start, a.end, a.escaped), (b.start, b.end, b.escaped));
                        let m = &doc[a.range()];
                        match n {
                            Some(n) => {
                                assert!(stop.is_none(), "{len} {at}");
                                assert_eq!(n, vlq::count_separators(m), "{len} {at}");
                            }
                            None => assert!(stop.is_some(), "{len} {at}"),
                        }
                    }
                    (Err(a), Err(b)) => assert_eq!(a.message(), b.message()),
                    (a, b) => panic!("{len} {at}: {a:?} vs {b:?}"),
                }
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 12 * 4 * 3);
}

// ---- the quick loop against the general one ----------------------------------------------

/// A delta: mostly the small ones of real maps, sometimes up to five digits.
fn random_delta(r: &mut Rng) -> i64 {
    match r.below(10) {
        0..=5 => r.below(31) as i64 - 15,
        6..=8 => r.below(1024) as i64 - 512,
        _ => r.below(40_000) as i64 - 20_000,
    }
}

/// A valid `mappings` string for `at` (absolute values kept in range, as an encoder
/// writes them), then, for one string in two, one to three spots damaged: a malformed or
/// extreme field, a stray byte, an empty segment, a sixth field.
fn random_mappings(r: &mut Rng, at: &vlq::Placement) -> String {
    let mut m = String::new();
    let (mut col, mut src, mut line, mut column, mut name) = (0i64, 0i64, 0i64, 0i64, 0i64);
    let segments = 1 + r.below(60);
    for s in 0..segments {
        let fields = match r.below(10) {
            0 => 1,
            1..=4 => 4,
            _ => 5,
        };
        let next_col = (col + random_delta(r).abs() / if r.below(20) == 0 { -4 } else { 1 }).max(0);
        vlq_encode((next_col - col) as i32, &mut m);
        col = next_col;
        if fields >= 4 {
            let next_src = r.below(at.src_count as u64) as i64;
            let next_line = (line + random_delta(r)).max(0);
            let next_column = (column + random_delta(r)).max(0);
            for (v, prev) in [(next_src, src), (next_line, line), (next_column, column)] {
                vlq_encode((v - prev) as i32, &mut m);
            }
            (src, line, column) = (next_src, next_line, next_column);
            if fields == 5 && at.name_count > 0 {
                let next_name = r.below(at.name_count as u64) as i64;
                vlq_encode((next_name - name) as i32, &mut m);
                name = next_name;
            }
        }
        if s + 1 < segments {
            m.push(if r.below(6) == 0 { ';' } else { ',' });
            if m.ends_with(';') {
                col = 0;
            }
        }
    }
    if r.below(2) == 0 {
        for _ in 0..1 + r.below(3) {
            let spot = r.below(m.len() as u64 + 1) as usize;
            let bad = [
                "B", "hA", "ggggggA", "gggggggA", "+/////H", "+/////D", "!", "=", " ", "g", ",", ";", ",,", ",;", "A",
                "AA", "/", "5////D", "F", "hB",
            ][r.below(20) as usize];
            m.insert_str(spot, bad);
        }
    }
    m
}

fn placement(r: &mut Rng) -> vlq::Placement {
    let src_count = 1 + r.below(200) as u32;
    let name_count = r.below(2000) as u32;
    vlq::Placement {
        // (lines are opened in `line_starts`: offsets near 2^31 would allocate gigabytes)
        line_offset: r.below(5) as u32,
        col_offset: match r.below(8) {
            0 => r.below(100) as u32,
            1 => i32::MAX as u32 - r.below(1000) as u32,
            _ => 0,
        },
        src_base: r.below(3) as u32,
        src_count,
        name_base: r.below(3) as u32,
        name_count,
    }
}

/// Tokens already in the table (an earlier section of an index map).
fn earlier_tokens(n: usize) -> vlq::Tokens {
    let mut t = vlq::Tokens::default();
    for i in 0..n as u32 {
        t.line_starts.push(i);
        t.dst_col.push(i);
        t.src.push(i);
        t.src_line.push(i);
        t.src_col.push(i);
        t.name.push(NONE);
    }
    t
}

#[test]
fn quick_loop_decodes_as_the_general_loop() {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut failed) = (0, 0);
    for case in 0..30_000 {
        let at = placement(&mut r);
        let m = random_mappings(&mut r, &at);
        let before = r.below(3) as usize;
        let (mut quick, mut general) = (earlier_tokens(before), earlier_tokens(before));
        let q = vlq::decode_mappings(m.as_bytes(), None, &at, &mut quick);
        let g = vlq::decode_mappings_general(m.as_bytes(), &at, &mut general);
        match (q, g) {
            (Ok(q), Ok(g)) => {
                ok += 1;
                assert_eq!((q.lines, q.last), (g.lines, g.last), "case {case}: {m:?}");
                assert_eq!(quick.line_starts, general.line_starts, "case {case}: {m:?}");
            }
            (Err(q), Err(g)) => {
                failed += 1;
                assert_eq!(q.message(), g.message(), "case {case}: {m:?}");
            }
            (q, g) => panic!("case {case}: {m:?}: quick {:?}, general {:?}", q.is_ok(), g.is_ok()),
        }
        // Tokens before an error too (the slots the failing call kept).
        assert_eq!(quick.dst_col, general.dst_col, "case {case}: {m:?}");
        assert_eq!(quick.src, general.src, "case {case}: {m:?}");
        assert_eq!(quick.src_line, general.src_line, "case {case}: {m:?}");
        assert_eq!(quick.src_col, general.src_col, "case {case}: {m:?}");
        assert_eq!(quick.name, general.name, "case {case}: {m:?}");
    }
    // Both outcomes are well represented.
    assert!(ok > 3_000 && failed > 3_000, "ok {ok}, failed {failed}");
}

#[test]
fn quick_loop_window_shapes_decode_as_the_general_loop() {
    // Every shape the 8-byte window reads, at every offset from the end of the string.
    let fields = [
        "A", "C", "D", "f", "gB", "hB", "/f", "ggB", "hA", "B", "kmC", "2/B", "gggB",
    ];
    let mut cases = Vec::new();
    for a in fields {
        for b in ["A", "C", "gB", "B"] {
            for c in ["A", "D", "iB"] {
                for d in fields {
                    for e in ["", "A", "C", "gB", "hB", "ggB", "kmC", "gggB", "B", "hA", ",", ";"] {
                        cases.push(format!("{a}{b}{c}{d}{e}"));
                    }
                }
            }
        }
    }
    let at = vlq::Placement {
        line_offset: 0,
        col_offset: 0,
        src_base: 0,
        src_count: 1000,
        name_base: 0,
        name_count: 5000,
    };
    for seg in &cases {
        for repeat in 1..4 {
            for tail in ["", ",", ";", ",AAAA", ";AAAA", "AAAA,"] {
                let m = format!("{}{tail}", vec![seg.as_str(); repeat].join(","));
                let (mut quick, mut general) = (vlq::Tokens::default(), vlq::Tokens::default());
                let q = vlq::decode_mappings(m.as_bytes(), None, &at, &mut quick).map(|d| (d.lines, d.last));
                let g = vlq::decode_mappings_general(m.as_bytes(), &at, &mut general).map(|d| (d.lines, d.last));
                match (q, g) {
                    (Ok(q), Ok(g)) => assert_eq!(q, g, "{m:?}"),
                    (Err(q), Err(g)) => assert_eq!(q.message(), g.message(), "{m:?}"),
                    (q, g) => panic!("{m:?}: quick {q:?}, general {g:?}"),
                }
                assert_eq!(
                    (&quick.dst_col, &quick.src, &quick.src_line, &quick.src_col, &quick.name),
                    (
                        &general.dst_col,
                        &general.src,
                        &general.src_line,
                        &general.src_col,
                        &general.name
                    ),
                    "{m:?}"
                );
            }
        }
    }
}
