use crate::sourcemap::SourceMap;

/// Two sources: a.js with functions `<global>` (1:0), `f` (2:2), back to `<global>`
/// at 4:1, `g` (5:0); b.js without a function map.
fn map_with(fb: &str) -> String {
    format!(
        r#"{{"version":3,"sources":["a.js","b.js"],"names":[],
           "mappings":"AAAA,EACE,EAEC,EACF;ACAA","x_facebook_sources":{fb}}}"#
    )
}

const GOOD: &str = r#"[[{"names":["<global>","f","g"],"mappings":"AAA;ECC;CDE;AEC"}],null]"#;

#[test]
fn names_by_original_position() {
    let text = map_with(GOOD);
    let m = SourceMap::parse(text.as_bytes()).unwrap();
    let fm = m.function_maps();
    assert!(!fm.is_empty());
    assert_eq!(fm.error(), None);
    // original (0-based) line/col of source 0
    assert_eq!(fm.name_at(0, 0, 0), Some("<global>"));
    assert_eq!(fm.name_at(0, 1, 1), Some("<global>"));
    assert_eq!(fm.name_at(0, 1, 2), Some("f"));
    assert_eq!(fm.name_at(0, 2, 40), Some("f"));
    assert_eq!(fm.name_at(0, 3, 0), Some("f"));
    assert_eq!(fm.name_at(0, 3, 1), Some("<global>"));
    assert_eq!(fm.name_at(0, 4, 0), Some("g"));
    assert_eq!(fm.name_at(0, 900, 0), Some("g"));
    assert_eq!(fm.name_at(1, 0, 0), None);
    assert_eq!(fm.name_at(7, 0, 0), None);
    // generated positions go through the mappings: (0,2) -> a.js 1:2 (0-based) = `f`
    assert_eq!(m.original_function_name(0, 2), Some("f"));
    assert_eq!(m.original_function_name(0, 0), Some("<global>"));
    // b.js has no function map
    assert_eq!(m.original_function_name(1, 0), None);
}

#[test]
fn malformed_entries_are_ignored_with_an_error() {
    for (fb, what) in [
        (
            r#"[[{"names":["a"],"mappings":"AAA;ACA"}],null]"#,
            "name index 1 out of range",
        ),
        (
            r#"[[{"names":["a","b"],"mappings":"AAC;CAD"}],null]"#,
            "before the previous one",
        ),
        (r#"[[{"names":["a"],"mappings":"A!A"}],null]"#, "mappings:"),
        (r#"[[{"names":["a"]}],null]"#, "mappings: missing"),
        (
            r#"[[{"names":[1],"mappings":"AAA"}],null]"#,
            "names[0]: expected a string",
        ),
        (r#"[[{"names":["a"],"mappings":"AAD"}],null]"#, "out of range"),
        (r#"[7,null]"#, "expected an array or null"),
        (r#"[["x"],null]"#, "expected an object"),
        (r#"{"a":1}"#, "expected an array, found an object"),
    ] {
        let text = map_with(fb);
        let m = SourceMap::parse(text.as_bytes()).unwrap();
        let e = m.function_maps().error().unwrap_or_default().to_string();
        assert!(e.contains(what), "{fb}: {e}");
        assert!(m.function_maps().is_empty(), "{fb}");
        assert_eq!(m.original_function_name(0, 2), None);
        // the rest of the map stays
        assert_eq!(m.token_count(), 5);
        assert_eq!(
            m.lookup(0, 2, crate::sourcemap::Bias::GreatestLowerBound)
                .unwrap()
                .src_line,
            1
        );
    }
}

#[test]
fn one_bad_entry_keeps_the_others() {
    let text = map_with(r#"[[{"names":["a"],"mappings":"AAA"}],[{"names":[],"mappings":"AAA"}]]"#);
    let m = SourceMap::parse(text.as_bytes()).unwrap();
    assert!(m.function_maps().error().unwrap().contains("x_facebook_sources[1]"));
    assert_eq!(m.original_function_name(0, 2), Some("a"));
}

#[test]
fn null_and_empty_are_no_function_maps() {
    for fb in [
        "null",
        "[]",
        "[null,null]",
        "[[],[null]]",
        r#"[[{"names":[],"mappings":""}]]"#,
    ] {
        let text = map_with(fb);
        let m = SourceMap::parse(text.as_bytes()).unwrap();
        assert_eq!(m.function_maps().error(), None, "{fb}");
        assert_eq!(m.original_function_name(0, 2), None, "{fb}");
    }
}

#[test]
fn index_map_sections_keep_their_sources() {
    let text = r#"{"version":3,"sections":[
        {"offset":{"line":0,"column":0},"map":{"version":3,"sources":["a.js"],"names":[],"mappings":"AAAA",
          "x_facebook_sources":[[{"names":["A"],"mappings":"AAA"}]]}},
        {"offset":{"line":1,"column":0},"map":{"version":3,"sources":["b.js"],"names":[],"mappings":"AAAA",
          "x_facebook_sources":[[{"names":["B"],"mappings":"AAA"}]]}}]}"#;
    let m = SourceMap::parse(text.as_bytes()).unwrap();
    assert_eq!(m.original_function_name(0, 0), Some("A"));
    assert_eq!(m.original_function_name(1, 0), Some("B"));
}

#[test]
fn hermes_function_offsets() {
    let with = |field: &str| {
        format!(
            r#"{{"version":3,"sources":["a.js"],"names":[],"mappings":"AAAA","x_hermes_function_offsets":{field}}}"#
        )
    };
    let text = with(r#"{"0":[0,71,105],"2":[9],"0":[0,50]}"#);
    let m = SourceMap::parse(text.as_bytes()).unwrap();
    assert_eq!(m.function_maps().error(), None);
    // the later "0" wins (JSON.parse)
    assert_eq!(m.hermes_column(0, 1, 4), Some(54));
    assert_eq!(m.hermes_column(0, 2, 0), None);
    assert_eq!(m.hermes_column(2, 0, 1), Some(10));
    assert_eq!(m.hermes_column(1, 0, 0), None);
    assert_eq!(m.hermes_column(2, 0, u32::MAX), None);
    for bad in [
        r#"[1]"#,
        r#"{"x":[1]}"#,
        r#"{"0":[-1]}"#,
        r#"{"0":[1.5]}"#,
        r#"{"0":7}"#,
        r#"{"0":["1"]}"#,
    ] {
        let text = with(bad);
        let m = SourceMap::parse(text.as_bytes()).unwrap();
        assert!(
            m.function_maps().error().unwrap().contains("x_hermes_function_offsets"),
            "{bad}"
        );
        assert_eq!(m.hermes_column(0, 0, 0), None, "{bad}");
        assert_eq!(m.token_count(), 1);
    }
    let text = with("null");
    let m = SourceMap::parse(text.as_bytes()).unwrap();
    assert_eq!(m.function_maps().error(), None);
}
