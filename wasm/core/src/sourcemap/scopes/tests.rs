use super::*;
use crate::sourcemap::json::tree::{self, Value};
use crate::sourcemap::SourceMap;
use std::path::PathBuf;

fn suite() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance/tc39-source-map-tests/decoding/scopes")
}

fn pos(v: &Value) -> Position {
    let n = |k: &str| match v.get(k) {
        Some(Value::Number(n)) => *n as u32,
        other => panic!("{k}: {other:?}"),
    };
    (n("line"), n("column"))
}

fn opt_str(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// An original scope tree as the golden files write it: (start, end, name, kind, is
/// stack frame, variables, children).
fn golden_scope(v: &Value, out: &mut Vec<String>) {
    let vars = match v.get("variables") {
        Some(Value::Array(a)) => a.iter().map(|x| opt_str(Some(x)).unwrap()).collect::<Vec<_>>(),
        _ => vec![],
    };
    out.push(format!(
        "{:?} {:?} {:?} {:?} {:?} {:?}",
        pos(v.get("start").unwrap()),
        pos(v.get("end").unwrap()),
        opt_str(v.get("name")),
        opt_str(v.get("kind")),
        v.get("isStackFrame") == Some(&Value::Bool(true)),
        vars
    ));
    if let Some(Value::Array(children)) = v.get("children") {
        for c in children {
            golden_scope(c, out);
        }
        out.push("end".into());
    }
}

fn ours(s: &Scopes, map: &SourceMap<'_>, root: u32, out: &mut Vec<String>) {
    let name = |i: Option<u32>| i.and_then(|i| map.name(i)).map(|n| n.into_owned());
    let sc = &s.scopes[root as usize];
    let vars: Vec<String> = sc.variables.iter().map(|&v| name(Some(v)).unwrap()).collect();
    out.push(format!(
        "{:?} {:?} {:?} {:?} {:?} {:?}",
        sc.start,
        sc.end,
        name(sc.name),
        name(sc.kind),
        sc.is_stack_frame,
        vars
    ));
    for (i, c) in s.scopes.iter().enumerate() {
        if c.parent == Some(root) {
            ours(s, map, i as u32, out);
        }
    }
    out.push("end".into());
}

fn golden_range(v: &Value, out: &mut Vec<String>) {
    let def = match v.get("definitionIndex") {
        Some(Value::Number(n)) => Some(*n as u32),
        _ => None,
    };
    let kind = opt_str(v.get("stackFrameType")).unwrap();
    let site = v.get("callSite").filter(|c| **c != Value::Null).map(|c| {
        let n = |k: &str| match c.get(k) {
            Some(Value::Number(n)) => *n as u32,
            _ => panic!(),
        };
        (n("sourceIndex"), n("line"), n("column"))
    });
    out.push(format!(
        "{:?} {:?} {:?} {} {:?}",
        pos(v.get("start").unwrap()),
        pos(v.get("end").unwrap()),
        def,
        kind,
        site
    ));
    if let Some(Value::Array(children)) = v.get("children") {
        for c in children {
            golden_range(c, out);
        }
    }
    out.push("end".into());
}

fn our_range(s: &Scopes, id: u32, out: &mut Vec<String>) {
    let r = &s.ranges[id as usize];
    let kind = if r.is_hidden {
        "hidden"
    } else if r.is_stack_frame {
        "original"
    } else {
        "none"
    };
    out.push(format!(
        "{:?} {:?} {:?} {} {:?}",
        r.start, r.end, r.definition, kind, r.call_site
    ));
    for (i, c) in s.ranges.iter().enumerate() {
        if c.parent == Some(id) {
            our_range(s, i as u32, out);
        }
    }
    out.push("end".into());
}

#[test]
fn tc39_scopes_decoding_suite() {
    let mut checked = 0;
    for entry in std::fs::read_dir(suite()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("map") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let golden = std::fs::read_to_string(path.with_extension("map.golden")).unwrap();
        let golden = tree::parse(&golden).unwrap();
        let map = SourceMap::parse(text.as_bytes()).unwrap();
        let decoded = match map.scopes() {
            Some(d) => d.unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            None => Scopes::default(), // (empty-scopes-field: "scopes": "")
        };
        let name = path.display();
        let sources = match golden.get("sources") {
            Some(Value::Array(a)) => a,
            _ => panic!("{name}: no sources"),
        };
        for (i, src) in sources.iter().enumerate() {
            let mut want = Vec::new();
            if let Some(v) = src.get("scope").filter(|v| **v != Value::Null) {
                golden_scope(v, &mut want);
            }
            let mut got = Vec::new();
            if let Some(Some(root)) = decoded.sources.get(i) {
                ours(&decoded, &map, *root, &mut got);
            }
            assert_eq!(got, want, "{name}: source {i}");
        }
        let ranges = match golden.get("ranges") {
            Some(Value::Array(a)) => a,
            _ => panic!("{name}: no ranges"),
        };
        let mut want = Vec::new();
        for r in ranges {
            golden_range(r, &mut want);
        }
        let mut got = Vec::new();
        for (i, r) in decoded.ranges.iter().enumerate() {
            if r.parent.is_none() {
                our_range(&decoded, i as u32, &mut got);
            }
        }
        assert_eq!(got, want, "{name}: ranges");
        checked += 1;
    }
    assert_eq!(checked, 8);
}

/// The proposal's own example (proposals/scopes.md, "Example"), encoded by hand from its
/// description: names [x, z, message, y, _x, _z, _m, _y, "Hello World", 2, global,
/// function]; the inlined call of `z` on generated line 5.
pub(crate) const SPEC_EXAMPLE_NAMES: &[&str] = &[
    "x",
    "z",
    "message",
    "y",
    "_x",
    "_z",
    "_m",
    "_y",
    "\"Hello World\"",
    "2",
    "global",
    "function",
];

/// `B` global (kind) at 0:0, variables x z; `B` z (name, kind, stack frame) at 1:10,
/// variables message y; ends 4:1 and 5:17. Generated: `E` A at 0:0 def 0 with bindings
/// _x _z; `E` B at 1:16 def 1 stack frame, bindings _m _y, ends 4:1; `E` C at 5:0 def 1,
/// bindings "Hello World" 2, call site (0, 5, 0), ends 5:28; A ends 5:28.
pub(crate) const SPEC_EXAMPLE_SCOPES: &str = "BCAAU,DAC,BHBKCC,DCC,CDB,CBR,ECAA,GFG,EHBQC,GHI,FDB,EDBAA,GJK,IAFA,Fc,FA";

#[test]
fn the_proposals_example() {
    let s = decode(SPEC_EXAMPLE_SCOPES, SPEC_EXAMPLE_NAMES.len() as u32).unwrap();
    let n = |i: Option<u32>| i.map(|i| SPEC_EXAMPLE_NAMES[i as usize]);
    assert_eq!(s.sources, vec![Some(0)]);
    assert_eq!(
        (s.scopes[0].start, s.scopes[0].end, n(s.scopes[0].kind)),
        ((0, 0), (5, 17), Some("global"))
    );
    assert_eq!(s.scopes[0].variables, vec![0, 1]);
    let z = &s.scopes[1];
    assert_eq!(
        (z.start, z.end, n(z.name), n(z.kind), z.is_stack_frame),
        ((1, 10), (4, 1), Some("z"), Some("function"), true)
    );
    assert_eq!(z.variables, vec![2, 3]);
    assert_eq!(z.parent, Some(0));
    let r: Vec<_> = s
        .ranges
        .iter()
        .map(|r| (r.start, r.end, r.definition, r.is_stack_frame, r.call_site, r.parent))
        .collect();
    assert_eq!(
        r,
        vec![
            ((0, 0), (5, 28), Some(0), false, None, None),
            ((1, 16), (4, 1), Some(1), true, None, Some(0)),
            ((5, 0), (5, 28), Some(1), false, Some((0, 5, 0)), Some(0)),
        ]
    );
    assert_eq!(s.ranges[0].bindings, vec![Some(4), Some(5)]);
    assert_eq!(s.ranges[2].bindings, vec![Some(8), Some(9)]);
}

#[test]
fn malformed_fields_are_errors() {
    for (field, names) in [
        ("B", 0),                // a VLQ ends early
        ("BAAA", 0),             // not closed
        ("CAA", 0),              // an end without a start
        ("BBAAA,CAA", 0),        // a name index past names
        ("BAAA,CAA,ECAC,FA", 0), // a definition past the scopes
        ("EAA,FA,EAA", 0),       // not closed
        ("BAAA,EAA,FA,CAA", 0),  // a range inside a scope
        ("EAA,BAAA,CAA,FA", 0),  // a scope inside a range
        ("BAA!,CAA", 0),         // not base64
        ("B//////////A,CAA", 0), // longer than 32 bits
        ("EAA,FAAA", 0),         // extra values in an end
        ("EAA,,FA", 0),          // an empty item inside a tree
    ] {
        assert!(decode(field, names).is_err(), "{field}");
    }
    // later revisions' items are skipped at the top level; a range may carry more values
    assert!(decode("BAAA,CAA,Z,EAAAAAAA,FB", 0).is_ok());
}

#[test]
fn hostile_fields_are_linear() {
    // 2^17 nested scopes and ranges: no recursion, one pass
    let n = 1 << 17;
    let mut f = String::new();
    for _ in 0..n {
        f.push_str("BAAA,");
    }
    for _ in 0..n {
        f.push_str("CAA,");
    }
    for _ in 0..n {
        f.push_str("EAA,");
    }
    for _ in 0..n {
        f.push_str("FA,");
    }
    f.pop();
    let s = decode(&f, 0).unwrap();
    assert_eq!((s.scopes.len(), s.ranges.len()), (n, n));
}
