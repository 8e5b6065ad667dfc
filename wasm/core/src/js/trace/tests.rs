use super::*;

/// (style, function, url, line, col, async, new, alias, origins) of a line, as text.
fn show(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    if !parse_line(line, 65536, &mut out) {
        assert!(out.is_empty());
        return None;
    }
    let t = |x: Option<Span>| x.map(|(a, b)| line[a..b].to_string()).unwrap_or_else(|| "-".into());
    Some(
        out.iter()
            .map(|f| {
                format!(
                    "{:?}|{}|{}|{}|{}|{}{}|{}|{}{}",
                    f.style,
                    t(f.function),
                    t(f.url),
                    t(f.line),
                    t(f.col),
                    if f.is_async { "async" } else { "" },
                    if f.is_new { "new" } else { "" },
                    t(f.alias),
                    if f.raw_at { "at " } else { "" },
                    &line[f.raw.0..f.raw.1],
                )
            })
            .collect(),
    )
}

fn one(line: &str) -> String {
    let v = show(line).unwrap_or_else(|| panic!("not a frame: {:?}", line));
    v.join(" / ")
}

#[test]
fn v8_frames() {
    let raw = "    at foo (https://example.com/static/app.min.js:1:234)";
    assert_eq!(
        one(raw),
        format!("V8|foo|https://example.com/static/app.min.js|1|234||-|{}", raw)
    );
    assert_eq!(
        one("at https://example.com/a.js:10:2")
            .split('|')
            .take(5)
            .collect::<Vec<_>>(),
        ["V8", "-", "https://example.com/a.js", "10", "2"]
    );
    assert!(
        one("    at async run (file:///tmp/x/app.mjs:10:5)").starts_with("V8|run|file:///tmp/x/app.mjs|10|5|async|")
    );
    assert!(one("    at new Foo (http://localhost:8080/a.js?v=3&x=y:1:2)")
        .starts_with("V8|Foo|http://localhost:8080/a.js?v=3&x=y|1|2|new|"));
    assert!(
        one("    at Object.<anonymous> (/home/u/app.js:5:9)").starts_with("V8|Object.<anonymous>|/home/u/app.js|5|9|")
    );
    assert!(one("    at Array.map (<anonymous>)").starts_with("V8|Array.map|<anonymous>|-|-|"));
    assert!(one("    at f (C:\\app\\a.js:7)").starts_with("V8|f|C:\\app\\a.js|7|-|"));
    assert!(one("    at a.b [as c] (a.js:1:2)").starts_with("V8|a.b|a.js|1|2||c|"));
    assert!(one("  at async Promise.all (index 0)").starts_with("V8|Promise.all|index 0|-|-|async|"));
    // Hermes
    assert!(
        one("    at foo (address at index.android.bundle:1:9876)").starts_with("V8|foo|index.android.bundle|1|9876|")
    );
    assert!(one("    at foo (native)").starts_with("V8|foo|native|-|-|"));
}

#[test]
fn v8_eval_origins() {
    let line = "    at eval (eval at c (https://x/y.min.js:1:49), <anonymous>:1:3)";
    let v = show(line).unwrap();
    assert_eq!(v.len(), 2);
    assert!(v[0].starts_with("V8|eval|<anonymous>|1|3|"));
    assert_eq!(v[1], "V8|c|https://x/y.min.js|1|49||-|at c (https://x/y.min.js:1:49)");
    let v = show("at eval (eval at <anonymous>, x.js:1:1)").unwrap();
    assert_eq!(v[1], "V8|-|<anonymous>|-|-||-|at <anonymous>");
    // an origin that is not a frame is kept as text (its function is the text)
    let v = show("at eval (eval at the moment (x y), x.js:1:1)").unwrap();
    assert_eq!(v[1], "Text|the moment (x y)|-|-|-||-|the moment (x y)");
    let nested = |d: usize| format!("at f ({}a.js:1:2{})", "eval at g (".repeat(d), "), x:1:1".repeat(d));
    assert_eq!(show(&nested(MAX_EVAL_DEPTH + 5)).unwrap().len(), MAX_EVAL_DEPTH + 2);
    assert!(show(&nested(3000)).is_some());
}

#[test]
fn gecko_frames() {
    assert!(one("total/<@https://x.com/a.js:3:4").starts_with("Gecko|total/<|https://x.com/a.js|3|4|"));
    assert!(one("async*run@https://x.com/a.js:3:4").starts_with("Gecko|run|https://x.com/a.js|3|4|async|"));
    assert!(one("@https://x.com/a.js:3:4").starts_with("Gecko|-|https://x.com/a.js|3|4|"));
    assert!(one("global code@https://x.com/a.js:3:4").starts_with("Gecko|global code|"));
    assert!(one("forEach@[native code]").starts_with("Gecko|forEach|[native code]|-|-|"));
    assert!(one("f@https://x/a.js line 2 > eval:1:3").starts_with("Gecko|f|https://x/a.js line 2 > eval|1|3|"));
    assert!(one("  f@a.js").starts_with("Gecko|f|a.js|-|-|"));
}

#[test]
fn not_frames() {
    for line in [
        "",
        "TypeError: x is undefined",
        "at ",
        "   at",
        "at the moment (not sure)",
        "mail me@example",
        "user@host said: hi",
        "a b@c:1:2",
        "f@ a.js:1:2",
        "at f (a.js:1:2)\nx",
    ] {
        assert_eq!(show(line), None, "{:?}", line);
    }
}

#[test]
fn line_cap_counts_code_points() {
    let frame = |f: &str| format!("    at {} (https://cdn.example.com/app.min.js:1:7)", f);
    let base = frame("").chars().count();
    let mut out = Vec::new();
    assert!(parse_line(&frame(&"r".repeat(100 - base)), 100, &mut out));
    assert!(!parse_line(&frame(&"r".repeat(101 - base)), 100, &mut out));
    assert!(parse_line(&frame(&"\u{1F600}".repeat(100 - base)), 100, &mut out));
}

#[test]
fn whitespace_is_pythons() {
    assert!(one("\u{3000}at f (a.js:1:2)\u{85}").starts_with("V8|f|a.js|1|2|"));
    assert!(one("\u{1c}at f (a.js:1:2)").starts_with("V8|f|a.js|1|2|"));
}

#[test]
fn records_in_each_unit() {
    let text = "x\n  at \u{1F600}f (a.js:1:2)\nf@b.js:3:4";
    for (units, fn_span) in [
        (Units::Bytes, (5, 10)),
        (Units::CodePoints, (5, 7)),
        (Units::Utf16, (5, 8)),
    ] {
        let mut out = Vec::new();
        parse_lines(text, 100, units, &mut out);
        assert_eq!(out[0], 0); // "x"
        assert_eq!(out[1], 1);
        let r = &out[2..2 + RECORD_WORDS];
        assert_eq!((r[0], r[1], r[4]), (1, 0, 2));
        assert_eq!((r[5], r[6]), fn_span);
        assert_eq!(out[2 + RECORD_WORDS], 1);
        let g = &out[3 + RECORD_WORDS..];
        assert_eq!(g.len(), RECORD_WORDS);
        assert_eq!((g[0], g[5], g[6], g[7], g[8], g[13]), (2, 0, 1, 2, 6, NO_SPAN));
    }
}

/// The parenthesis split against the plain character loop (the hosts' old code).
#[test]
fn parenthesis_split_matches_the_character_loop() {
    fn reference(t: &str) -> Option<(String, String)> {
        let b = t.as_bytes();
        if !t.ends_with(')') {
            return None;
        }
        let mut depth = 0i32;
        for i in (0..b.len()).rev() {
            if b[i] == b')' {
                depth += 1;
            } else if b[i] == b'(' {
                depth -= 1;
                if depth == 0 {
                    if i == 0 || b[i - 1] != b' ' {
                        return None;
                    }
                    return Some((t[..i - 1].to_string(), t[i + 1..t.len() - 1].to_string()));
                }
            }
        }
        None
    }
    let mut seed = 3u64;
    for _ in 0..50_000 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let n = (seed >> 33) % 14;
        let mut t = String::new();
        for k in 0..n {
            t.push(b"() ax"[((seed >> (k * 3 % 60)) % 5) as usize] as char);
        }
        let ours =
            split_trailing_parens(&t, 0, t.len()).map(|((a, b), (c, d))| (t[a..b].to_string(), t[c..d].to_string()));
        assert_eq!(ours, reference(&t), "{:?}", t);
    }
}

#[test]
fn hermes_bytecode_addresses_are_flagged() {
    let frames = |line: &str| {
        let mut out = Vec::new();
        parse_lines(line, 1000, Units::Bytes, &mut out);
        out
    };
    // words: count, style, flags, ...
    let w = frames("    at foo (address at index.android.bundle:1:9876)");
    assert_eq!((w[0], w[2] & 8), (1, 8));
    let w = frames("    at foo (index.android.bundle:1:9876)");
    assert_eq!((w[0], w[2] & 8), (1, 0));
    // no position after `address at `: not a frame
    assert_eq!(frames("    at foo (address at nowhere)"), vec![0]);
}
