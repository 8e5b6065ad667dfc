//! The C++ demangler's fast path against cpp_demangle on every mangled name of real
//! symcaches: wherever the fast path answers, the text must be the same. Prints how many
//! names each file has, how many the fast path answered, and each difference (the test
//! fails on any).
//!
//! Run: `PYSYM_SYMCACHES=a.symc:b.symc cargo test --release -p pysym-core --test demangle_diff -- --ignored --nocapture`
//! (`PYSYM_NAMES=names.txt` adds a file of names, one a line.)

use pysym_core::native::demangle::cpp_demangle_text;
use pysym_core::native::demangle_fast;
use pysym_core::symcache::SymCache;
use std::collections::BTreeSet;
use std::time::Instant;

fn compare(what: &str, names: &BTreeSet<String>) -> usize {
    let (mut answered, mut refused_ok, mut diffs) = (0, 0, 0);
    let t = Instant::now();
    for n in names {
        let slow = cpp_demangle_text(n, String::new());
        match demangle_fast::demangle(n) {
            Some(fast) => {
                answered += 1;
                if slow.as_deref() != Some(fast.as_str()) {
                    diffs += 1;
                    if diffs <= 50 {
                        println!("DIFF {}\n  fast {}\n  slow {:?}", n, fast, slow);
                    }
                }
            }
            None => refused_ok += usize::from(slow.is_some()),
        }
    }
    println!(
        "{}: {} names, fast path answered {} ({:.1}%), refused {} that cpp_demangle demangles, {} differences ({:.1} s)",
        what,
        names.len(),
        answered,
        100.0 * answered as f64 / names.len().max(1) as f64,
        refused_ok,
        diffs,
        t.elapsed().as_secs_f64()
    );
    diffs
}

#[test]
#[ignore]
fn fast_path_matches_cpp_demangle_on_real_names() {
    let mut diffs = 0;
    if let Ok(files) = std::env::var("PYSYM_SYMCACHES") {
        for f in files.split(':').filter(|f| !f.is_empty()) {
            let data = std::fs::read(f).unwrap();
            let c = SymCache::parse(&data).unwrap();
            // Raw function names are strings of the table (format 4 stores them raw).
            let names: BTreeSet<String> = (0..c.string_count() as u32)
                .filter_map(|i| c.string(i))
                .filter(|s| s.starts_with("_Z"))
                .map(String::from)
                .collect();
            diffs += compare(f, &names);
        }
    }
    if let Ok(f) = std::env::var("PYSYM_NAMES") {
        let text = std::fs::read_to_string(&f).unwrap();
        let names: BTreeSet<String> = text.lines().filter(|s| s.starts_with("_Z")).map(String::from).collect();
        diffs += compare(&f, &names);
    }
    assert_eq!(diffs, 0);
}
