//! Native time of a full source-map parse (JSON scan + every line's mappings):
//! `sourcemap_speed FILE.map [ROUNDS]` prints bytes, tokens and the best time in seconds.
//! For profiling the decoder outside the module (`perf record`).

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: sourcemap_speed FILE.map [ROUNDS]");
    let rounds: usize = args.next().map_or(5, |r| r.parse().expect("ROUNDS is a number"));
    let src = std::fs::read(&path).expect("read the input");
    let mut best = f64::MAX;
    let mut tokens = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let map = pysym_core::sourcemap::SourceMap::parse(&src).expect("a valid source map");
        best = best.min(t.elapsed().as_secs_f64());
        tokens = map.token_count();
    }
    println!("{} {} {:.6}", src.len(), tokens, best);
}
