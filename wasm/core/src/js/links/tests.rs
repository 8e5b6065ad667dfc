use super::*;

fn url(js: &str) -> Option<&str> {
    sourcemap_url(js.as_bytes()).map(|r| &js[r])
}

fn did(js: &str) -> Option<&str> {
    debug_id(js.as_bytes()).map(|r| &js[r])
}

#[test]
fn annotations_found() {
    let cases = [
        ("a();\n//# sourceMappingURL=a.js.map\n", "a.js.map"),
        ("a();\n//# sourceMappingURL=a.js.map", "a.js.map"),
        ("a();\r\n//# sourceMappingURL=a.js.map\r\n", "a.js.map"),
        ("a();\n//@ sourceMappingURL=legacy.map\n", "legacy.map"),
        ("a();\n/*# sourceMappingURL=block.map */\n", "block.map"),
        ("a();\n//#  \tsourceMappingURL=tabs.map \u{3000} \n", "tabs.map"),
        ("a(); //# sourceMappingURL=same-line.map", "same-line.map"),
        (
            "//# sourceMappingURL=first.map\n//# sourceMappingURL=second.map\n// c\n\n  \n",
            "second.map",
        ),
        ("a();\n//# sourceMappingURL=a.map\n/* unclosed\n", "a.map"),
        ("a();\n//# sourceMappingURL=\n", ""),
        ("a();\u{2028}//# sourceMappingURL=ls.map", "ls.map"),
        ("a();\u{2029}//# sourceMappingURL=ps.map\u{2029}", "ps.map"),
        ("a();\n\u{feff}\u{a0}//# sourceMappingURL=ws.map\n", "ws.map"),
        ("a();\r//# sourceMappingURL=cr.map\r", "cr.map"),
        ("/* a */ /* b */ //# sourceMappingURL=x.map", "x.map"),
        ("let a = `\n//# sourceMappingURL=foo.js.map\n//`", "foo.js.map"),
        ("a();\n//# sourceMappingURL=caf\u{e9}.map\n", "caf\u{e9}.map"),
    ];
    for (js, want) in cases {
        assert_eq!(url(js), Some(want), "{:?}", js);
    }
}

#[test]
fn annotations_not_found() {
    for js in [
        "",
        "a();\n",
        "a();\n//# sourceMappingURL=a.map\nb();\n",
        "a();\n//# sourceMappingURL=a.map\n/* x */ b();\n",
        "a();\n//# sourceMappingURL=a.map\n/x/.test(s)\n",
        "a();\n//# sourceMappingURL=a b.map\n",
        "a();\n// # sourceMappingURL=a.map\n",
        "a();\n//# sourceMappingUrl=a.map\n",
        "var s = 'sourceMappingURL=x.map';\n",
        "a();\n//# sourceMappingURL=a.map\n/",
        // U+0085 and U+001C are not ECMAScript whitespace: code after the annotation
        "a();\n//# sourceMappingURL=a.map\n\u{85}",
        "a();\n//# sourceMappingURL=a.map\n\u{1c}",
    ] {
        assert_eq!(url(js), None, "{:?}", js);
    }
}

#[test]
fn bytes_that_are_not_utf8_read_as_replacement_characters() {
    // a lone continuation byte is code; an invalid sequence inside the URL stays in it
    let js = b"a();\n//# sourceMappingURL=a\xff.map\n";
    let r = sourcemap_url(js).unwrap();
    assert_eq!(&js[r], b"a\xff.map");
    assert_eq!(sourcemap_url(b"//# sourceMappingURL=a.map\n\x80"), None);
    // a truncated sequence before a line terminator does not swallow it
    assert_eq!(
        sourcemap_url(b"\xe2\x80\n//# sourceMappingURL=t.map").map(|r| r.start),
        Some(24)
    );
    // 0xE2 0x80 0xA8 is U+2028 even after bytes that are not UTF-8
    let js = b"a();\xf0\xe2\x80\xa8//# sourceMappingURL=ls.map";
    assert_eq!(&js[sourcemap_url(js).unwrap()], b"ls.map");
}

#[test]
fn debug_ids() {
    let id = "85314830-023F-4cf1-a267-535f4e37bb17";
    let cases = [
        (
            format!("a();\n//# debugId={}\n//# sourceMappingURL=a.map\n", id),
            Some(id),
        ),
        (format!("a();\n//# debugId={}", id), Some(id)),
        (format!("a();\n  //# debugId={}  \n\n\r\n", id), Some(id)),
        (format!("//# debugId={}\n1\n2\n3\n4\n5\n", id), None),
        (format!("//# debugId={}\n2\n3\n4\n5\n \n\n", id), Some(id)),
        (format!("//# debugId={}\r\n2\r\n3\r\n4\r\n5\r\n", id), Some(id)),
        ("a();\n//# debugId=not-a-uuid\n".to_string(), None),
        ("a();\n//# debugId=85314830023f4cf1a267535f4e37bb17\n".to_string(), None),
        (format!("a(); //# debugId={}\n", id), None),
        (format!("//# debugId={}0\n", id), None),
        (format!("//# debugId={} x\n", id), None),
        ("a();\n".to_string(), None),
        ("".to_string(), None),
    ];
    for (js, want) in &cases {
        assert_eq!(did(js), *want, "{:?}", js);
    }
}

#[test]
fn units() {
    let js = "\u{e9}\u{1f600}//# sourceMappingURL=x.map".as_bytes();
    let r = sourcemap_url(js).unwrap();
    assert_eq!(units_between(js, 0, r.start, Units::Bytes), 27);
    assert_eq!(units_between(js, 0, r.start, Units::CodePoints), 23);
    assert_eq!(units_between(js, 0, r.start, Units::Utf16), 24);
    // not UTF-8: each maximal subpart is one character
    let js = b"\xf0\x9f\x98\xe2\x80//# sourceMappingURL=x.map";
    let r = sourcemap_url(js).unwrap();
    assert_eq!(units_between(js, 0, r.start, Units::CodePoints), 23);
    assert_eq!(units_between(js, 0, r.start, Units::Utf16), 23);
}

#[test]
fn hostile_inputs_are_linear() {
    // one huge line without a newline, a huge unclosed comment, many blank lines: each is
    // one pass (a quadratic scan would take minutes here)
    let mut js = vec![b'x'; 8 << 20];
    js.extend_from_slice(b"//# sourceMappingURL=big.map");
    assert_eq!(sourcemap_url(&js).map(|r| r.len()), Some(7));
    let mut js = b"/*".to_vec();
    js.extend(std::iter::repeat(b'*').take(8 << 20));
    assert_eq!(sourcemap_url(&js), None);
    let mut js = b"//# sourceMappingURL=a.map".to_vec();
    js.extend(std::iter::repeat(b'\n').take(8 << 20));
    assert!(sourcemap_url(&js).is_some());
    assert_eq!(debug_id(&js), None);
    let js: Vec<u8> = (0..(4u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let _ = (sourcemap_url(&js), debug_id(&js));
    for r in [sourcemap_url(&js), debug_id(&js)].into_iter().flatten() {
        assert!(r.end <= js.len());
    }
}

fn data(url: &str) -> std::result::Result<Vec<u8>, String> {
    decode_data_url(url.as_bytes()).map_err(|e| e.message().to_string())
}

#[test]
fn data_urls() {
    let ok = |u: &str, want: &[u8]| assert_eq!(data(u).as_deref(), Ok(want), "{}", u);
    ok("data:application/json;base64,eyJhIjoxfQ==", b"{\"a\":1}");
    ok("data:application/json;charset=utf-8;base64,eyJhIjoxfQ==", b"{\"a\":1}");
    ok("DATA:application/json;BASE64,eyJhIjoxfQ", b"{\"a\":1}");
    ok("  data:application/json ; base64 ,eyJh\n IjoxfQ==\t", b"{\"a\":1}");
    ok("data:;base64,aGk=", b"hi");
    ok("data:application/json;base64,e30", b"{}");
    ok("data:application/json,%7B%22version%22%3A3%7D", b"{\"version\":3}");
    ok(
        "data:application/json,{\"a\":\"%C3%A9\"}",
        "{\"a\":\"\u{e9}\"}".as_bytes(),
    );
    ok("data:,plain", b"plain");
    ok("data:,100%", b"100%");
    ok("data:,%4", b"%4");
    ok("data:,%zz%41", b"%zzA");
    ok("data:,a#fragment,b", b"a");
    ok("data:;base64,%61%47%6b%3d", b"hi");
    for (u, msg) in [
        ("https://example.com/a.map", "not a data: URL"),
        ("data", "not a data: URL"),
        ("data:application/json;base64", "data URL has no ',' before its payload"),
        ("data:application/json;base64,e", "data URL: invalid base64 payload"),
        ("data:application/json;base64,e3$=", "data URL: invalid base64 payload"),
        (
            "data:application/json;base64,e30===",
            "data URL: invalid base64 payload",
        ),
        ("data:application/json;base64,e3=0", "data URL: invalid base64 payload"),
    ] {
        assert_eq!(data(u), Err(msg.to_string()), "{}", u);
    }
}

#[test]
fn base64_round_trips() {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for n in 0..64usize {
        let raw: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8).collect();
        let mut enc = Vec::new();
        for chunk in raw.chunks(3) {
            let w = chunk
                .iter()
                .enumerate()
                .fold(0u32, |a, (i, &b)| a | (b as u32) << (16 - 8 * i));
            for k in 0..=chunk.len() {
                enc.push(alphabet[(w >> (18 - 6 * k) & 63) as usize]);
            }
        }
        let mut url = b"data:;base64,".to_vec();
        url.extend_from_slice(&enc);
        assert_eq!(decode_data_url(&url).unwrap(), raw);
        url.extend(std::iter::repeat(b'=').take((4 - enc.len() % 4) % 4));
        assert_eq!(decode_data_url(&url).unwrap(), raw);
    }
}
