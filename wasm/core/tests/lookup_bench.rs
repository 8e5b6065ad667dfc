//! A cold batch's module side in the native core (for profiling; not a timed assertion):
//! the address lookups, then what `pysym_symcache_locations` does for their locations —
//! the callers' closure, the location records, and the names (demangled here when the
//! symcache stores raw names only) — each phase timed.
//!
//! Run: `PYSYM_SYMCACHE=file.symc PYSYM_ADDRS=addrs.txt cargo test --release -p pysym-core --test lookup_bench -- --ignored --nocapture`
//! (`PYSYM_ADDRS`: hexadecimal addresses relative to the image base, one per line, as
//! `bench/bench_native.py` samples them).

use pysym_core::symcache::{SymCache, NONE};
use std::collections::BTreeSet;
use std::time::Instant;

#[test]
#[ignore]
fn lookup_bench() {
    let (cache, addrs) = match (std::env::var("PYSYM_SYMCACHE"), std::env::var("PYSYM_ADDRS")) {
        (Ok(c), Ok(a)) => (c, a),
        _ => {
            eprintln!("set PYSYM_SYMCACHE and PYSYM_ADDRS");
            return;
        }
    };
    let data = std::fs::read(cache).unwrap();
    let addrs: Vec<u64> = std::fs::read_to_string(addrs)
        .unwrap()
        .split_whitespace()
        .map(|x| u64::from_str_radix(x.trim_start_matches("0x"), 16).unwrap())
        .collect();
    let t = Instant::now();
    let c = SymCache::parse(&data).unwrap();
    println!("parse            {:8.3} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let ids = c.locations_at(&addrs);
    println!(
        "locations_at     {:8.3} ms  ({} addresses)",
        t.elapsed().as_secs_f64() * 1e3,
        addrs.len()
    );
    let t = Instant::now();
    let wanted = c
        .locations_with_callers(ids.iter().copied().filter(|&l| l != NONE))
        .unwrap();
    println!(
        "with callers     {:8.3} ms  ({} locations)",
        t.elapsed().as_secs_f64() * 1e3,
        wanted.len()
    );
    let names: BTreeSet<u32> = wanted
        .iter()
        .flat_map(|(_, x)| [x.function, x.raw_function, x.file])
        .filter(|&s| s != NONE)
        .collect();
    let (mut plain, mut demangled, mut bytes) = (0, 0, 0usize);
    let t = Instant::now();
    for &s in &names {
        if (s as usize) < c.string_count() {
            plain += 1;
        } else {
            demangled += 1;
        }
        bytes += c.name(s).map_or(0, |n| n.len());
    }
    println!(
        "names            {:8.3} ms  ({} strings, {} demangled, {} bytes)",
        t.elapsed().as_secs_f64() * 1e3,
        plain,
        demangled,
        bytes
    );
}
