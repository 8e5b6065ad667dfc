//! Native time of a full source-map parse (JSON scan + every line's mappings):
//! `sourcemap_speed FILE.map [ROUNDS]` prints bytes, tokens, the best time in seconds and
//! a hash of every token (generated line and the five columns), to check that a decoder
//! change keeps the answers. For profiling the decoder outside the module (`perf record`,
//! `valgrind --tool=callgrind ... FILE.map 1`).

use std::time::Instant;

/// FNV-1a over little-endian u32s: enough to tell two token tables apart.
fn fnv(hash: &mut u64, words: &[u32]) {
    for w in words {
        for b in w.to_le_bytes() {
            *hash = (*hash ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: sourcemap_speed FILE.map [ROUNDS]");
    let rounds: usize = args.next().map_or(5, |r| r.parse().expect("ROUNDS is a number"));
    let src = std::fs::read(&path).expect("read the input");
    let mut best = f64::MAX;
    let mut tokens = 0;
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for round in 0..rounds {
        let t = Instant::now();
        let map = pysym_core::sourcemap::SourceMap::parse(&src).expect("a valid source map");
        best = best.min(t.elapsed().as_secs_f64());
        tokens = map.token_count();
        if round == 0 {
            let mut runs = Vec::new();
            map.token_line_runs(0, tokens, |line, n| runs.extend([line, n]));
            fnv(&mut hash, &runs);
            for field in map.token_fields(0, tokens) {
                fnv(&mut hash, field);
            }
        }
    }
    println!("{} {} {:.6} {:016x}", src.len(), tokens, best, hash);
}
