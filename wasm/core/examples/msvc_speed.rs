//! Times the Microsoft demangler over names on stdin, one a line, as frames print them:
//! `cargo run --release --example msvc_speed < names.txt` (best of 10 rounds).
use std::io::Read;
use std::time::Instant;

fn main() {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).unwrap();
    let names: Vec<&str> = text.lines().collect();
    let (mut best, mut bytes) = (f64::MAX, 0);
    for _ in 0..10 {
        let t = Instant::now();
        bytes = 0;
        for n in &names {
            bytes += pysym_core::native::demangle::demangle(n, 0).len();
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{} names: {:.1} ms, {:.3} us a name ({} bytes out)",
        names.len(),
        best * 1e3,
        best * 1e6 / names.len() as f64,
        bytes
    );
}
