//! A rough parse-throughput check on generated maps (not a timed assertion).
//!
//! Run: `cargo test --release -p pysym-core --test parse_bench -- --ignored --nocapture`

use pysym_core::sourcemap::{vlq_encode, Bias, SourceMap};
use std::time::Instant;

/// A deterministic pseudo-random generator (no dependencies).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, m: u32) -> u32 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        ((self.0 >> 33) % m as u64) as u32
    }
}

/// A bundle-like map: `sources` files with `content_bytes` of content each (with escapes
/// and some non-ASCII), and about `segments` mapping segments.
fn generate(sources: u32, content_bytes: usize, segments: u32) -> String {
    let mut rng = Lcg(42);
    let mut out = String::from(r#"{"version":3,"file":"bundle.min.js","sources":["#);
    for i in 0..sources {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(r#""webpack:///./src/components/module_{i}.tsx""#));
    }
    out.push_str(r#"],"names":["#);
    let names = 5000;
    for i in 0..names {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(r#""identifier_{i}""#));
    }
    out.push_str(r#"],"sourcesContent":["#);
    let line = r#"  const value = compute(\"quoted\", props.items[index]); // größe ✓\n"#;
    for i in 0..sources {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        let mut n = 0;
        while n < content_bytes {
            out.push_str(line);
            n += line.len();
        }
        out.push('"');
    }
    out.push_str(r#"],"mappings":""#);
    let (mut src, mut sline, mut scol, mut name) = (0i32, 0i32, 0i32, 0i32);
    let mut col = 0i32;
    for i in 0..segments {
        if i > 0 {
            if rng.next(200) == 0 {
                out.push(';');
                col = 0;
            } else {
                out.push(',');
            }
        }
        let ncol = col + 1 + rng.next(30) as i32;
        vlq_encode(ncol - col, &mut out);
        col = ncol;
        if rng.next(10) == 0 {
            continue; // 1-field segment
        }
        let nsrc = if rng.next(50) == 0 {
            rng.next(sources) as i32
        } else {
            src
        };
        let nline = (sline + rng.next(7) as i32 - 2).max(0);
        let ncol2 = rng.next(80) as i32;
        vlq_encode(nsrc - src, &mut out);
        vlq_encode(nline - sline, &mut out);
        vlq_encode(ncol2 - scol, &mut out);
        src = nsrc;
        sline = nline;
        scol = ncol2;
        if rng.next(3) == 0 {
            let nname = rng.next(names) as i32;
            vlq_encode(nname - name, &mut out);
            name = nname;
        }
    }
    out.push_str(r#""}"#);
    out
}

fn measure(label: &str, text: &str) {
    // PYSYM_BENCH_DIR=dir also writes the generated map there (for peer comparisons).
    if let Some(dir) = std::env::var_os("PYSYM_BENCH_DIR") {
        let path = std::path::Path::new(&dir).join(format!("{label}.map"));
        std::fs::write(path, text).expect("write generated map");
    }
    let bytes = text.as_bytes();
    let mut best = f64::MAX;
    let mut tokens = 0;
    for _ in 0..10 {
        let t = Instant::now();
        let map = SourceMap::parse(bytes).expect("generated map parses");
        best = best.min(t.elapsed().as_secs_f64());
        tokens = map.token_count();
        assert!(map.lookup(0, u32::MAX, Bias::GreatestLowerBound).is_some());
    }
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "{label}: {mb:.1} MB, {tokens} tokens: best {:.2} ms = {:.0} MB/s, {:.0} Mtokens/s",
        best * 1e3,
        mb / best,
        tokens as f64 / best / 1e6
    );
}

#[test]
#[ignore]
fn parse_throughput() {
    // About 10 MB, mostly sourcesContent (the typical shape of a bundle's map).
    measure("content-heavy", &generate(120, 60_000, 600_000));
    // About 10 MB, mostly mappings (no sourcesContent).
    measure("mappings-heavy", &generate(120, 0, 2_000_000));
}

/// Parses the map at `PYSYM_SOURCEMAP` `PYSYM_REPEAT` times (default 1): a fixed workload
/// for instruction profiles (`valgrind --tool=callgrind` on the test binary).
#[test]
#[ignore]
fn parse_file() {
    let path = match std::env::var_os("PYSYM_SOURCEMAP") {
        Some(p) => p,
        None => return,
    };
    let data = std::fs::read(path).expect("read the map");
    let repeat: u32 = std::env::var("PYSYM_REPEAT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut best = f64::MAX;
    for _ in 0..repeat {
        let t = Instant::now();
        let map = SourceMap::parse(&data).expect("the map parses");
        best = best.min(t.elapsed().as_secs_f64());
        assert!(map.token_count() > 0);
    }
    println!("{} bytes: best of {repeat} {:.2} ms", data.len(), best * 1e3);
}
