//! Symcache build time of a PDB in the native core (for profiling; not a timed assertion).
//!
//! Run: `PYSYM_PDB=path/to/app.pdb cargo test --release -p pysym-core --test pdb_bench -- --ignored --nocapture`
//! (`PYSYM_PDB_OUT=out.symc` also writes the symcache). Under `perf record -g` this shows
//! where a PDB build goes.

use std::time::Instant;

#[test]
#[ignore]
fn pdb_build_time() {
    let path = std::env::var("PYSYM_PDB").expect("set PYSYM_PDB to a .pdb file");
    let rounds: usize = std::env::var("PYSYM_PDB_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    for _ in 0..rounds {
        let mut file = std::fs::File::open(&path).unwrap();
        let t0 = Instant::now();
        let build = pysym_core::native::build_symcache_streamed(&mut file)
            .expect("not a streamed format")
            .unwrap();
        let t1 = Instant::now();
        let bytes = build.finish();
        let t2 = Instant::now();
        println!(
            "{}: build {:.3} s, write {:.3} s, symcache {} bytes",
            path,
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            bytes.len()
        );
        if let Ok(out) = std::env::var("PYSYM_PDB_OUT") {
            std::fs::write(out, &bytes).unwrap();
        }
    }
}
