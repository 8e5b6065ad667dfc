//! Runs the ECMA-426 conformance suite (tc39/source-map-tests, copied unmodified into
//! `tests/conformance/` at the repository root) natively.

use super::json::tree::{self, Value};
use super::{Bias, SourceMap, NONE};
use std::path::PathBuf;

/// Tests we knowingly fail, with the reason. Empty: the suite passes completely.
const SKIP: &[(&str, &str)] = &[];

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance/tc39-source-map-tests")
}

fn read(name: &str) -> Vec<u8> {
    let path = suite_dir().join("resources").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn num(v: &Value, key: &str) -> Option<u32> {
    match v.get(key) {
        Some(Value::Number(n)) => Some(*n as u32),
        _ => None,
    }
}

fn string(v: &Value, key: &str) -> Option<String> {
    match v.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// What a lookup yields in the suite's terms: (source, line, column, name).
type Answer = (Option<String>, Option<u32>, Option<u32>, Option<String>);

fn answer(map: &SourceMap<'_>, line: u32, col: u32) -> Answer {
    match map.lookup(line, col, Bias::GreatestLowerBound) {
        Some(t) if t.src != NONE => (
            map.source(t.src).map(|s| s.into_owned()),
            Some(t.src_line),
            Some(t.src_col),
            if t.name == NONE {
                None
            } else {
                map.name(t.name).map(|s| s.into_owned())
            },
        ),
        _ => (None, None, None, None),
    }
}

fn expected(action: &Value) -> Answer {
    (
        string(action, "originalSource"),
        num(action, "originalLine"),
        num(action, "originalColumn"),
        string(action, "mappedName"),
    )
}

/// Runs one test; `Err` describes the failure.
fn run(test: &Value) -> Result<(), String> {
    let file = string(test, "sourceMapFile").ok_or("no sourceMapFile")?;
    let valid = matches!(test.get("sourceMapIsValid"), Some(Value::Bool(true)));
    let data = read(&file);
    let map = match (SourceMap::parse(&data), valid) {
        (Ok(map), true) => map,
        (Err(_), false) => return Ok(()),
        (Ok(_), false) => return Err("accepted an invalid map".into()),
        (Err(e), true) => return Err(format!("rejected a valid map: {e}")),
    };
    let actions = match test.get("testActions") {
        Some(Value::Array(a)) => a.as_slice(),
        _ => &[],
    };
    for action in actions {
        let line = num(action, "generatedLine").unwrap_or(0);
        let col = num(action, "generatedColumn").unwrap_or(0);
        match string(action, "actionType").as_deref() {
            Some("checkMapping") => {
                let got = answer(&map, line, col);
                if got != expected(action) {
                    return Err(format!("at {line}:{col}: got {got:?}, want {:?}", expected(action)));
                }
            }
            Some("checkMappingTransitive") => {
                let mut got = answer(&map, line, col);
                let steps = match action.get("intermediateMaps") {
                    Some(Value::Array(a)) => a.clone(),
                    _ => Vec::new(),
                };
                for step in &steps {
                    let name = match step {
                        Value::String(s) => s,
                        _ => return Err("bad intermediateMaps".into()),
                    };
                    let data = read(name);
                    let next = SourceMap::parse(&data).map_err(|e| format!("{name}: {e}"))?;
                    got = match got {
                        (Some(_), Some(l), Some(c), _) => answer(&next, l, c),
                        _ => (None, None, None, None),
                    };
                }
                if got != expected(action) {
                    return Err(format!(
                        "transitive at {line}:{col}: got {got:?}, want {:?}",
                        expected(action)
                    ));
                }
            }
            Some("checkIgnoreList") => {
                let mut got: Vec<String> = map
                    .ignore_list()
                    .iter()
                    .filter_map(|&i| map.source(i).map(|s| s.into_owned()))
                    .collect();
                let mut want: Vec<String> = match action.get("present") {
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(|v| match v {
                            Value::String(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                got.sort();
                want.sort();
                if got != want {
                    return Err(format!("ignore list: got {got:?}, want {want:?}"));
                }
            }
            other => return Err(format!("unknown action {other:?}")),
        }
    }
    Ok(())
}

#[test]
fn ecma426_conformance_suite() {
    let path = suite_dir().join("source-map-spec-tests.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let suite = tree::parse(&text).expect("suite JSON");
    let tests = match suite.get("tests") {
        Some(Value::Array(t)) => t,
        _ => panic!("no tests"),
    };
    let mut failures = Vec::new();
    let mut passed = 0;
    for test in tests {
        let name = string(test, "name").unwrap_or_default();
        let skipped = SKIP.iter().any(|(n, _)| *n == name);
        match run(test) {
            Ok(()) if skipped => failures.push(format!("{name}: passes but is in SKIP")),
            Ok(()) => passed += 1,
            Err(_) if skipped => {}
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    println!(
        "ECMA-426 conformance: {passed}/{} passed, {} skipped",
        tests.len(),
        SKIP.len()
    );
    assert!(failures.is_empty(), "conformance failures:\n{}", failures.join("\n"));
    assert_eq!(passed + SKIP.len(), tests.len());
}
