//! The C++ demangler's fast path against cpp_demangle on every mangled name of real
//! symcaches: wherever the fast path answers, the text must be the same. Prints how many
//! names each file has, how many the fast path answered, and each difference (the test
//! fails on any).
//!
//! Run: `PYSYM_SYMCACHES=a.symc:b.symc cargo test --release -p pysym-core --test demangle_diff -- --ignored --nocapture`
//! (`PYSYM_NAMES=names.txt` adds a file of names, one a line; `PYSYM_DUMP_NAMES=prefix`
//! writes each symcache's names to `prefix.<string count>`; `PYSYM_REFUSED=file` appends
//! the names the fast path left to cpp_demangle; `PYSYM_SHOW=1` prints every name and
//! cpp_demangle's text.)

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
        if std::env::var_os("PYSYM_SHOW").is_some() {
            println!("{}\n  {:?}", n, slow);
        }
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
            None => {
                refused_ok += usize::from(slow.is_some());
                if let (Some(_), Ok(path)) = (&slow, std::env::var("PYSYM_REFUSED")) {
                    use std::io::Write;
                    let mut f = std::fs::OpenOptions::new()
                        .append(true)
                        .create(true)
                        .open(path)
                        .unwrap();
                    writeln!(f, "{}", n).unwrap();
                }
            }
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
            if let Ok(dump) = std::env::var("PYSYM_DUMP_NAMES") {
                let text: String = names.iter().map(|n| format!("{}\n", n)).collect();
                std::fs::write(format!("{}.{}", dump, c.string_count()), text).unwrap();
            }
        }
    }
    if let Ok(f) = std::env::var("PYSYM_NAMES") {
        let text = std::fs::read_to_string(&f).unwrap();
        let names: BTreeSet<String> = text.lines().filter(|s| s.starts_with("_Z")).map(String::from).collect();
        diffs += compare(&f, &names);
    }
    assert_eq!(diffs, 0);
}

/// The Microsoft fast path (`demangle_msvc_fast`) against the parser's tree on every
/// decorated name of real symcaches (PDBs): `PYSYM_SYMCACHES=a.symc cargo test --release
/// -p pysym-core --test demangle_diff -- --ignored --nocapture msvc`.
#[test]
#[ignore]
fn msvc_fast_path_matches_the_parser_on_real_names() {
    use pysym_core::native::demangle_msvc::demangle_msvc_tree;
    use pysym_core::native::demangle_msvc_fast::demangle_short;
    let (mut diffs, mut total) = (0, 0);
    for f in std::env::var("PYSYM_SYMCACHES")
        .unwrap_or_default()
        .split(':')
        .filter(|f| !f.is_empty())
    {
        let data = std::fs::read(f).unwrap();
        let c = SymCache::parse(&data).unwrap();
        let names: BTreeSet<&str> = (0..c.string_count() as u32)
            .filter_map(|i| c.string(i))
            .filter(|s| s.starts_with('?'))
            .collect();
        let (mut answered, t) = (0, Instant::now());
        for n in &names {
            if let Some(fast) = demangle_short(n) {
                answered += 1;
                let slow = demangle_msvc_tree(n, true);
                if slow.as_deref() != Some(fast.as_str()) {
                    diffs += 1;
                    if diffs <= 50 {
                        println!("DIFF {}\n  fast {}\n  slow {:?}", n, fast, slow);
                    }
                }
            }
        }
        total += names.len();
        println!(
            "{}: {} decorated names, fast path answered {} ({:.1}%) ({:.1} s)",
            f,
            names.len(),
            answered,
            100.0 * answered as f64 / names.len().max(1) as f64,
            t.elapsed().as_secs_f64()
        );
    }
    println!("{} names, {} differences", total, diffs);
    assert_eq!(diffs, 0);
}
