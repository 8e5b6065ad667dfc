//! Symcache build of an ELF/Mach-O debug file in the native core, read by ranges as the
//! module reads it (for profiling; not a timed assertion): time and peak heap per phase.
//!
//! Run: `PYSYM_DWARF=path/to/file.debug cargo test --release -p pysym-core --test dwarf_bench -- --ignored --nocapture`
//! (`PYSYM_DWARF_ROUNDS=N` repeats the build, `PYSYM_DWARF_OUT=out.symc` writes the
//! symcache). The phases are the build's progress reports (as `bench/fuel_build.py` splits
//! them): pass 1 (line programs, unit ranges) up to 2/7, pass 2 (the DIE walk per unit) up
//! to 6/7, then the rest (symbol table, writing). Under `perf record -g` this shows where a
//! DWARF build goes.

use pysym_core::io::ReadAt;
use pysym_core::native::DebugFile;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

/// The system allocator, counting the bytes held and their peak.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            let now = HELD.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        HELD.fetch_sub(l.size(), Relaxed);
        System.dealloc(p, l)
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, size: usize) -> *mut u8 {
        let q = System.realloc(p, l, size);
        if !q.is_null() {
            if size > l.size() {
                let now = HELD.fetch_add(size - l.size(), Relaxed) + size - l.size();
                PEAK.fetch_max(now, Relaxed);
            } else {
                HELD.fetch_sub(l.size() - size, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A file read by ranges, as the host serves the module.
struct Ranged(std::fs::File, u64);

impl ReadAt for Ranged {
    type Error = std::io::Error;

    fn size(&self) -> u64 {
        self.1
    }

    fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read_at(dst, offset)
    }
}

const MB: f64 = (1 << 20) as f64;

#[test]
#[ignore]
fn dwarf_build_time() {
    let path = std::env::var("PYSYM_DWARF").expect("set PYSYM_DWARF to an ELF or Mach-O debug file");
    let rounds: usize = std::env::var("PYSYM_DWARF_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    for _ in 0..rounds {
        let file = std::fs::File::open(&path).unwrap();
        let size = file.metadata().unwrap().len();
        let df = DebugFile::open(Ranged(file, size), None);
        let base = HELD.load(Relaxed);
        PEAK.store(base, Relaxed);
        let t0 = Instant::now();
        // Per phase (pass 1, pass 2, the rest): (seconds, peak heap) at its last report.
        let marks: Rc<RefCell<[(f64, usize); 3]>> = Rc::default();
        let m = marks.clone();
        let mut out: Vec<u8> = Vec::new();
        let warnings = pysym_core::native::progress::with_progress(
            move |done, total| {
                let f = done as f64 / total.max(1) as f64;
                let phase = (f >= 2.0 / 7.0) as usize + (f >= 6.0 / 7.0) as usize;
                m.borrow_mut()[phase] = (t0.elapsed().as_secs_f64(), PEAK.load(Relaxed) - base);
            },
            || df.build(&mut out),
        )
        .map_err(|_| "build failed")
        .unwrap();
        let total = t0.elapsed().as_secs_f64();
        // (pass 2's reports end where the writer's output begins)
        let [(t1, p1), (t2, p2), _] = *marks.borrow();
        println!(
            "{}: {:.3} s (pass 1 {:.3}, pass 2 {:.3}, rest {:.3}); peak heap {:.1} MB \
             (by the end of pass 1 {:.1}, of pass 2 {:.1}); symcache {} bytes, {} warnings",
            path,
            total,
            t1,
            t2 - t1,
            total - t2,
            (PEAK.load(Relaxed) - base) as f64 / MB,
            p1 as f64 / MB,
            p2 as f64 / MB,
            out.len(),
            warnings.len()
        );
        if let Ok(o) = std::env::var("PYSYM_DWARF_OUT") {
            std::fs::write(o, &out).unwrap();
        }
    }
}
