//! Native helper for developing the symcache builder (not part of the module):
//!
//!     symcache_tool build OBJECT OUT.symc     build, print time and size
//!     symcache_tool diff A.symc B.symc [N]    compare lookups at every range start of
//!                                             both and at N random addresses
//!
//! `diff` is the differential check between two builders: the same reader answers for
//! both files, so any difference is the builders'.

use pysym_core::symcache::SymCache;
use std::collections::BTreeSet;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(|s| s.as_str()) {
        Some("build") => {
            let data = std::fs::read(&args[2]).expect("read object");
            let t = std::time::Instant::now();
            let bytes = pysym_core::native::build_symcache(&data[..], None).expect("build");
            let dt = t.elapsed();
            std::fs::write(&args[3], &bytes).expect("write symcache");
            let cache = SymCache::parse(&bytes).expect("parse");
            eprintln!("built {} bytes, {} ranges in {:.3?}", bytes.len(), cache.range_count(), dt);
        }
        Some("diff") => {
            let a = std::fs::read(&args[2]).expect("read A");
            let b = std::fs::read(&args[3]).expect("read B");
            let n: usize = args.get(4).map(|s| s.parse().unwrap()).unwrap_or(100_000);
            let (ca, cb) = (SymCache::parse(&a).expect("parse A"), SymCache::parse(&b).expect("parse B"));
            let mut addrs: BTreeSet<u64> = BTreeSet::new();
            for c in [&ca, &cb] {
                for i in 0..c.range_count() {
                    let s = range_start(c, i);
                    addrs.insert(s);
                    if s > 0 {
                        addrs.insert(s - 1);
                    }
                }
            }
            let (lo, hi) = (addrs.iter().next().copied().unwrap_or(0), addrs.iter().next_back().copied().unwrap_or(0));
            // A fixed xorshift: the same random addresses every run.
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if let Some(span) = (hi - lo).checked_add(1) {
                    addrs.insert(lo + x % span);
                }
            }
            let mut diffs = 0usize;
            for &addr in &addrs {
                let (fa, fb) = (ca.lookup(addr), cb.lookup(addr));
                if fa != fb {
                    diffs += 1;
                    if diffs <= 20 {
                        println!("{:#x}\n  A {:?}\n  B {:?}", addr, fa, fb);
                    }
                }
            }
            println!("{} addresses compared, {} differ (ranges: A {}, B {})", addrs.len(), diffs, ca.range_count(), cb.range_count());
            if diffs > 0 {
                std::process::exit(1);
            }
        }
        _ => {
            eprintln!("usage: symcache_tool build OBJECT OUT | diff A B [N]");
            std::process::exit(2);
        }
    }
}

/// Range `i`'s start, read from the bytes (the reader keeps no public accessor).
fn range_start(c: &SymCache<'_>, i: usize) -> u64 {
    let b = c.as_bytes();
    let at = 64 + i * 8;
    u64::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5], b[at + 6], b[at + 7]])
}
