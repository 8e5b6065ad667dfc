//! Demangles the names on stdin, one a line, as pysym does (to compare with
//! `llvm-cxxfilt`): `cargo run --example demangle < names.txt`.
use std::io::{BufRead, Write};

fn main() {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        writeln!(out, "{}", pysym_core::native::demangle::demangle(&line, 0)).unwrap();
    }
}
