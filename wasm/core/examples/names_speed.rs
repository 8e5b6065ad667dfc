//! Times the parts of a cold batch lookup in a symcache, natively: the range search, the
//! locations and callers, and the names (demangled raw names of format 4) of the answer.
//! `cargo run --release --example names_speed -- file.symc addrs.txt` (hex addresses).
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).unwrap();
    let addrs: Vec<u64> = std::fs::read_to_string(&args[2])
        .unwrap()
        .lines()
        .map(|l| u64::from_str_radix(l.trim(), 16).unwrap())
        .collect();
    let c = pysym_core::symcache::SymCache::parse(&data).unwrap();
    let t = Instant::now();
    let locs = c.locations_at(&addrs);
    let t_at = t.elapsed();
    let t = Instant::now();
    let wanted = c
        .locations_with_callers(locs.iter().copied().filter(|&l| l != pysym_core::symcache::NONE))
        .unwrap();
    let t_with = t.elapsed();
    let mut ids: Vec<u32> = wanted
        .iter()
        .flat_map(|(_, l)| [l.function, l.raw_function, l.file])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let strings = c.string_count() as u32;
    let funcs = ids
        .iter()
        .filter(|&&i| i != pysym_core::symcache::NONE && i >= strings)
        .count();
    let (mut best, mut bytes) = (f64::MAX, 0);
    for _ in 0..5 {
        let t = Instant::now();
        bytes = 0;
        for &i in &ids {
            bytes += c.name(i).map_or(0, |s| s.len());
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let (mut best_d, mut best_s) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let t = Instant::now();
        for &i in ids.iter().filter(|&&i| i != pysym_core::symcache::NONE && i >= strings) {
            bytes += c.name(i).map_or(0, |s| s.len());
        }
        best_d = best_d.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for &i in ids.iter().filter(|&&i| i < strings) {
            bytes += c.name(i).map_or(0, |s| s.len());
        }
        best_s = best_s.min(t.elapsed().as_secs_f64());
    }
    println!("demangled {:.1} ms, strings {:.1} ms", best_d * 1e3, best_s * 1e3);
    println!(
        "{} addrs: locations_at {:.1} ms, with callers {:.1} ms ({} locations); names {:.1} ms ({} ids, {} demangled here, {} bytes)",
        addrs.len(),
        t_at.as_secs_f64() * 1e3,
        t_with.as_secs_f64() * 1e3,
        wanted.len(),
        best * 1e3,
        ids.len(),
        funcs,
        bytes
    );
}
