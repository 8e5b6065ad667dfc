use super::*;

/// The name of the innermost scope at the first occurrence of `marker` (a unique call).
fn at(src: &str, marker: &str) -> String {
    let names = ScopeNames::build(src.as_bytes(), None).unwrap();
    let off = src.find(marker).unwrap_or_else(|| panic!("{} not in source", marker));
    let line = src[..off].matches('\n').count() as u32;
    let col = (off - src[..off].rfind('\n').map_or(0, |i| i + 1)) as u32;
    match names.lookup(line, col) {
        Enclosing::Named(n) => n.to_string(),
        Enclosing::Anonymous => "<anonymous>".into(),
        Enclosing::Global => "<unknown>".into(),
    }
}

// Expected names are what symbolic 13.9.0's SourceMapCache gives for the same code.
#[test]
fn names_like_symbolic() {
    let cases: &[(&str, &str, &str)] = &[
        ("function foo(a){ return q1() }", "q1", "foo"),
        ("var o = { m(){ q1() }, k: function(){ q2() }, n: { q: () => q3() }, get g(){ return q4() } };", "q1", "o.m"),
        ("var o = { m(){ q1() }, k: function(){ q2() }, n: { q: () => q3() }, get g(){ return q4() } };", "q2", "o.k"),
        ("var o = { m(){ q1() }, k: function(){ q2() }, n: { q: () => q3() }, get g(){ return q4() } };", "q3", "o.n.q"),
        ("var o = { m(){ q1() }, k: function(){ q2() }, n: { q: () => q3() }, get g(){ return q4() } };", "q4", "get o.g"),
        ("class A extends B { constructor(){ q1(); this.f = () => q2() } static s(){ q3() } #p(){ q4() } get gg(){ q5() } [k](){ q6() } x = () => q7() }", "q1", "new A"),
        ("class A extends B { constructor(){ q1(); this.f = () => q2() } static s(){ q3() } #p(){ q4() } get gg(){ q5() } [k](){ q6() } x = () => q7() }", "q2", "this.f"),
        ("class A extends B { constructor(){ q1(); this.f = () => q2() } static s(){ q3() } #p(){ q4() } get gg(){ q5() } [k](){ q6() } x = () => q7() }", "q3", "A.s"),
        ("class A extends B { constructor(){ q1(); this.f = () => q2() } static s(){ q3() } #p(){ q4() } get gg(){ q5() } [k](){ q6() } x = () => q7() }", "q4", "A.#p"),
        ("class A extends B { constructor(){ q1(); this.f = () => q2() } static s(){ q3() } #p(){ q4() } get gg(){ q5() } [k](){ q6() } x = () => q7() }", "q5", "get A.gg"),
        ("class A extends B { constructor(){ q1(); this.f = () => q2() } static s(){ q3() } #p(){ q4() } get gg(){ q5() } [k](){ q6() } x = () => q7() }", "q6", "A.<computed>"),
        ("class A extends B { constructor(){ q1(); this.f = () => q2() } static s(){ q3() } #p(){ q4() } get gg(){ q5() } [k](){ q6() } x = () => q7() }", "q7", "A"),
        ("a.b.c = function(){ q1() };", "q1", "a.b.c"),
        ("const C = class { mm(){ q1() } };", "q1", "C.mm"),
        ("foo(function(){ q1() });", "q1", "<anonymous>"),
        ("let r2 = foo(function(){ q1() });", "q1", "r2"),
        ("export default class D { dm(){ q1() } }", "q1", "D.dm"),
        ("const E = class F { em(){ q1() } };", "q1", "E.F.em"),
        ("async function* gen(){ yield q1() }", "q1", "gen"),
        ("const ar = async (x) => { await q1() };", "q1", "ar"),
        ("this.th = function(){ q1() };", "q1", "this.th"),
        ("foo({bar(){ q1() }});", "q1", "<object>.bar"),
        ("foo({ba: function(){ q1() }});", "q1", "<object>.ba"),
        ("foo({\"s\": function(){ q1() }});", "q1", "<anonymous>"),
        ("var o = {\"s\": function(){ q1() }, set q(v){ q2() }};", "q1", "o"),
        ("var o = {\"s\": function(){ q1() }, set q(v){ q2() }};", "q2", "set o.q"),
        ("a.b = function c(){ q1() };", "q1", "a.c"),
        ("var x = function y(){ q1() };", "q1", "y"),
        ("function f(a = () => q1()){ q2() }", "q1", "<anonymous>"),
        ("function f(a = () => q1()){ q2() }", "q2", "f"),
        ("x = y ? function(){ q1() } : 1;", "q1", "x"),
        ("x = {a: {b: [function(){ q1() }]}};", "q1", "x.a.b"),
        ("x.y[0].z = function(){ q1() };", "q1", "x.y[0].z"),
        ("class G { \"str\"(){ q1() } 5(){ q2() } }", "q1", "G.<\"str\">"),
        ("class G { \"str\"(){ q1() } 5(){ q2() } }", "q2", "G.<5>"),
        ("!function(){ q1() }();", "q1", "<anonymous>"),
        ("if (a) { foo(function(){ q1() }) }", "q1", "<anonymous>"),
        ("x = a => b => q1;", "q1", "<anonymous>"),
        ("y = a\nfoo(function(){ q1() })", "q1", "<anonymous>"),
        ("var z = 1, w = () => q1();", "q1", "w"),
        ("var z = () => 1, q1;", "q1", "<unknown>"),
    ];
    let mut bad = Vec::new();
    for (src, marker, want) in cases {
        let got = at(src, marker);
        if got != *want {
            bad.push(format!("{:?} at {}: got {:?}, want {:?}", src, marker, got, want));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn lexing_edge_cases() {
    // regex versus division, templates with nested substitutions, comments, hashbang
    let src = "#!/usr/bin/env node\n/* { */ var a = b / c / d; // {\nvar r = /[/{]\\//g, t = `x${`${(() => 1)()}`}{`;\nfunction f(){ q1() }";
    assert_eq!(at(src, "q1"), "f");
    let src = "var s = `a${function g(){ return q1() }}b`;";
    assert_eq!(at(src, "q1"), "g");
    let src = "if (x) /re}/.test(y); function h(){ q1() }";
    assert_eq!(at(src, "q1"), "h");
    let src = "x = a.function(1); y = {class: 1, b(){ q1() }}";
    assert_eq!(at(src, "q1"), "y.b");
    // columns count UTF-16 units: the astral character is two
    let src = "var e = '😀'; function k(){ q1() }";
    let names = ScopeNames::build(src.as_bytes(), None).unwrap();
    assert_eq!(names.lookup(0, 28), Enclosing::Named("k"));
}

#[test]
fn hostile_input_is_bounded() {
    let deep = "(".repeat(100_000);
    assert!(ScopeNames::build(deep.as_bytes(), None).is_err());
    let deep = "`${".repeat(100_000);
    assert!(ScopeNames::build(deep.as_bytes(), None).is_err());
    // many unclosed things and arbitrary bytes: no panic
    for src in [
        &b"function(){"[..],
        b"class{",
        b"=>",
        b"a=>",
        b"(=>",
        b"}}}))]]",
        b"/",
        b"`",
        b"'",
        b"/*",
        b"\xff\xfe(",
        b"get",
        b"{a(",
        b"{a()",
    ] {
        let _ = ScopeNames::build(src, None);
    }
    // long argument lists: naming looks back a bounded number of tokens
    let wide = format!("f({})", "function(){},".repeat(20_000));
    let names = ScopeNames::build(wide.as_bytes(), None).unwrap();
    assert!(names.len() >= 20_000);
}

#[test]
fn siblings_do_not_name() {
    // after a comma, the walk goes to the enclosing bracket: a function body ends it
    let src = "var o={finish:function(a){return a=1,this.each(function(){ q1() })}};";
    assert_eq!(at(src, "q1"), "<anonymous>");
    // the consequent of a conditional is a sibling of the alternate
    let src = "x[e]=c(e)?function(t){ q1() }:function(t,r){ q2() };";
    assert_eq!(at(src, "q1"), "x[e]");
    assert_eq!(at(src, "q2"), "x[e]");
    let src = "function f(){a()||b?c=1:(c=2,g(()=>{ q1() }))}";
    assert_eq!(at(src, "q1"), "<anonymous>");
}

#[test]
fn statements_and_computed_members() {
    let src = "var o={a(){switch(x){case 1:{for(;;){ q1() }}}}};";
    assert_eq!(at(src, "q1"), "o.a");
    let src = "this.c[e.id].w=function(){ q1() };";
    assert_eq!(at(src, "q1"), "this.c[<computed>].w");
}

/// A map of `generated` with the proposal's example scopes (sourcemap/scopes/tests.rs)
/// and `mappings` given.
fn map_with_scopes(scopes: &str, mappings: &str) -> String {
    let names: Vec<String> = crate::sourcemap::scopes::tests::SPEC_EXAMPLE_NAMES
        .iter()
        .map(|n| format!("{:?}", n))
        .collect();
    format!(
        r#"{{"version":3,"sources":["file.js"],"names":[{}],"mappings":"{}","scopes":"{}"}}"#,
        names.join(","),
        mappings,
        scopes
    )
}

const EXAMPLE_GENERATED: &str =
    "var _x = 1;\nfunction _z(_m) {\n  let _y = 2;\n  console.log(_m + _y);\n}\nconsole.log(\"Hello World2\");\n";

fn name(names: &ScopeNames, line: u32, col: u32) -> String {
    match names.lookup(line, col) {
        Enclosing::Named(n) => n.to_string(),
        Enclosing::Anonymous => "<anonymous>".into(),
        Enclosing::Global => "<unknown>".into(),
    }
}

#[test]
fn the_scopes_field_names_frames() {
    use crate::sourcemap::scopes::tests::SPEC_EXAMPLE_SCOPES;
    let json = map_with_scopes(SPEC_EXAMPLE_SCOPES, "AAAA");
    let map = SourceMap::parse(json.as_bytes()).unwrap();
    let names = ScopeNames::build(EXAMPLE_GENERATED.as_bytes(), Some(&map)).unwrap();
    // in `_z`'s body, in the inlined call of `z`, and in top-level code
    assert_eq!(name(&names, 2, 2), "z");
    assert_eq!(name(&names, 1, 16), "z");
    assert_eq!(name(&names, 1, 15), "<unknown>");
    assert_eq!(name(&names, 4, 1), "<unknown>");
    assert_eq!(name(&names, 5, 12), "z");
    assert_eq!(name(&names, 5, 28), "<unknown>");
    assert_eq!(name(&names, 0, 4), "<unknown>");
    // the map alone names them too (no generated file)
    let alone = ScopeNames::from_map(&map).unwrap();
    assert_eq!(name(&alone, 3, 0), "z");
    // the parse of the generated file would have named it `_z` (no mappings to `z`)
    let parsed = ScopeNames::build(EXAMPLE_GENERATED.as_bytes(), None).unwrap();
    assert_eq!(name(&parsed, 2, 2), "_z");
}

#[test]
fn scopes_that_cannot_name_fall_back_to_the_generated_file() {
    for scopes in [
        "",                             // empty
        "BCAAU,DAC,CKA",                // original scopes only
        "BCAAU,CKA,ECAA",               // malformed (not closed)
        "BCAAU,CKA,ECAA,FE,ECAC,FE,FA", // a definition out of range
    ] {
        let json = map_with_scopes(scopes, "AAAA");
        let map = SourceMap::parse(json.as_bytes()).unwrap();
        assert!(ScopeNames::from_map(&map).is_none(), "{scopes}");
        let names = ScopeNames::build(EXAMPLE_GENERATED.as_bytes(), Some(&map)).unwrap();
        assert_eq!(name(&names, 2, 2), "_z", "{scopes}");
    }
}

#[test]
fn ranges_without_definitions_and_block_scopes() {
    // names: 0 f, 1 g. Original: root, f (stack frame) with a block inside, g (stack
    // frame, no name). Generated: a range without definition at 0:0-0:100; in it f's
    // range 0:10-0:50 with a block range (definition: the block) 0:20-0:30; a stack
    // frame without definition 0:60-0:70; g's range 0:80-0:90.
    let scopes = "BAAA,BFBAA,BABC,CBC,CBA,BEBA,CBA,CEA,EAA,ECKC,ECKC,FK,FU,EEK,FK,ECKC,FK,FK";
    let json = format!(
        r#"{{"version":3,"sources":["a.js"],"names":["f","g"],"mappings":"","scopes":"{}"}}"#,
        scopes
    );
    let map = SourceMap::parse(json.as_bytes()).unwrap();
    let s = map.scopes().unwrap().unwrap();
    assert_eq!(s.ranges.len(), 5, "{:?}", s);
    let names = ScopeNames::from_map(&map).unwrap();
    let got: Vec<String> = [5, 10, 25, 35, 55, 65, 85, 95]
        .iter()
        .map(|&c| name(&names, 0, c))
        .collect();
    assert_eq!(
        got,
        [
            "<unknown>",
            "f",
            "f",
            "f",
            "<unknown>",
            "<anonymous>",
            "<anonymous>",
            "<unknown>"
        ]
    );
}
