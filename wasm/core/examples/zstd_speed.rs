//! Native throughput of the zstd decoder: `zstd_speed FILE.zst [ROUNDS]` decodes the file
//! (any number of frames) ROUNDS times and prints the best MB/s of decompressed output.
//! bench/bench_zstd.py runs it beside the `zstd` command and the wasm module.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: zstd_speed FILE.zst [ROUNDS]");
    let rounds: usize = args.next().map_or(5, |r| r.parse().expect("ROUNDS is a number"));
    let src = std::fs::read(&path).expect("read the input");
    let mut best = f64::MAX;
    let mut size = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let out = pysym_core::zstd::decompress(&src, 1 << 30).expect("a valid zstd stream");
        best = best.min(t.elapsed().as_secs_f64());
        size = out.len();
    }
    println!("{} {} {:.6} {:.1}", src.len(), size, best, size as f64 / best / 1e6);
}
