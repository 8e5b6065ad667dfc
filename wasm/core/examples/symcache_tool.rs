//! Native helper for developing the symcache builder (not part of the module):
//!
//!     symcache_tool build OBJECT OUT.symc     build, print time, size and peak heap
//!                          [--blocks]         and the blocks >= 256 KiB live at the peak
//!     symcache_tool diff A.symc B.symc [N]    compare lookups at every range start of
//!                                             both and at N random addresses
//!
//! `diff` is the differential check between two builders: the same reader answers for
//! both files, so any difference is the builders'.

use pysym_core::symcache::{Output, SymCache};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Counts live heap bytes and their peak: the module's memory grows with its heap, so
/// this peak is the number a build's memory use is judged by.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Relaxed) + n;
    if PEAK.fetch_max(now, Relaxed) < now {
        big::peaked(now);
    }
    RESIDENT_PEAK.fetch_max(now.saturating_sub(GIVEN_BACK.load(Relaxed)), Relaxed);
}

/// Pages of live blocks the build gave back (`progress::discard`): a wasm host returns
/// them to the system, so the live bytes a build holds resident are LIVE minus these.
static GIVEN_BACK: AtomicUsize = AtomicUsize::new(0);
static RESIDENT_PEAK: AtomicUsize = AtomicUsize::new(0);
static mut GIVEN: Vec<(usize, usize)> = Vec::new();

fn give_back(p: usize, n: usize) {
    // SAFETY: single-threaded tool.
    unsafe {
        // (a page given back twice counts once)
        let mut fresh = vec![(p, p + n)];
        for &(a, b) in GIVEN.iter() {
            fresh = fresh
                .into_iter()
                .flat_map(|(x, y)| [(x, y.min(a)), (x.max(b), y)])
                .filter(|(x, y)| x < y)
                .collect();
        }
        for (x, y) in fresh {
            GIVEN.push((x, y));
            GIVEN_BACK.fetch_add(y - x, Relaxed);
        }
    }
}

/// A block is freed: its pages given back are no longer counted apart.
fn freed(p: usize, n: usize) {
    // SAFETY: single-threaded tool.
    unsafe {
        if GIVEN.is_empty() {
            return;
        }
        GIVEN.retain(|&(a, b)| {
            let inside = a >= p && b <= p + n;
            if inside {
                GIVEN_BACK.fetch_sub(b - a, Relaxed);
            }
            !inside
        });
    }
}

/// The blocks of at least [`big::MIN`] bytes live at the peak (`build --blocks`): what
/// the peak is made of. Single-threaded use (the tool).
mod big {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    pub const MIN: usize = 256 << 10;
    const CAP: usize = 4096;
    pub static ON: AtomicBool = AtomicBool::new(false);
    static mut LIVE: [(usize, usize); CAP] = [(0, 0); CAP];
    static mut SNAP: [(usize, usize); CAP] = [(0, 0); CAP];
    static mut SNAP_AT: usize = 0;

    pub fn add(p: *mut u8, n: usize) {
        if n < MIN || !ON.load(Relaxed) {
            return;
        }
        // SAFETY: single-threaded tool.
        unsafe {
            if let Some(slot) = LIVE.iter_mut().find(|s| s.1 == 0) {
                *slot = (p as usize, n);
            }
        }
    }

    pub fn remove(p: *mut u8, n: usize) {
        if n < MIN {
            return;
        }
        // SAFETY: single-threaded tool.
        unsafe {
            if let Some(slot) = LIVE.iter_mut().find(|s| s.0 == p as usize && s.1 != 0) {
                *slot = (0, 0);
            }
        }
    }

    pub fn peaked(now: usize) {
        // SAFETY: single-threaded tool.
        unsafe {
            if ON.load(Relaxed) && now >= SNAP_AT + (128 << 10) {
                SNAP = LIVE;
                SNAP_AT = now;
            }
        }
    }

    /// The sizes live at the latest snapshot, largest first, and the peak it was taken at.
    pub fn at_peak() -> (usize, Vec<usize>) {
        // SAFETY: single-threaded tool.
        unsafe {
            let mut v: Vec<usize> = SNAP.iter().filter(|s| s.1 != 0).map(|s| s.1).collect();
            v.sort_unstable_by(|a, b| b.cmp(a));
            (SNAP_AT, v)
        }
    }
}

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        big::add(p, l.size());
        grew(l.size());
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        big::add(p, l.size());
        grew(l.size());
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        freed(p as usize, l.size());
        LIVE.fetch_sub(l.size(), Relaxed);
        big::remove(p, l.size());
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // Counted as both blocks at once, as a moving realloc holds them.
        big::add(p.wrapping_add(1), n);
        grew(n);
        big::remove(p.wrapping_add(1), n);
        freed(p as usize, l.size().min(n));
        let r = System.realloc(p, l, n);
        big::remove(p, l.size());
        big::add(r, n);
        LIVE.fetch_sub(l.size(), Relaxed);
        r
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A symcache output written to a file.
struct ToFile(std::io::BufWriter<std::fs::File>);

impl Output for ToFile {
    type Error = std::io::Error;

    fn begin(&mut self, _size: u64) -> std::io::Result<()> {
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(&mut self.0, bytes)
    }
}

/// A file read at offsets, as the wasm host's file table serves the module.
struct OsFile(std::fs::File);

impl pysym_core::io::ReadAt for OsFile {
    type Error = std::io::Error;

    fn size(&self) -> u64 {
        self.0.metadata().map(|m| m.len()).unwrap_or(0)
    }

    fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<usize, Self::Error> {
        std::os::unix::fs::FileExt::read_at(&self.0, dst, offset)
    }
}

fn mb(n: usize) -> f64 {
    n as f64 / 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(|s| s.as_str()) {
        Some("build") => {
            // `build OBJECT OUT --blocks`: also the large blocks live at the peak.
            big::ON.store(args.get(4).map_or(false, |a| a == "--blocks"), Relaxed);
            // Read by ranges through the views the wasm shim uses (`DebugFile::build`: only
            // what the builder asks for is on the heap, strings in the same blocks).
            let file = pysym_core::io::File::new(OsFile(std::fs::File::open(&args[2]).expect("open object")));
            let cache = file.cached();
            pysym_core::native::progress::set_discard(give_back);
            let t = std::time::Instant::now();
            // Live and peak heap at each tenth of the progress reports.
            let mut next = 0u64;
            let sink = move |done: u64, total: u64| {
                if done * 10 >= next * total {
                    eprintln!(
                        "  {:3}%  live {:7.1} MB  peak {:7.1} MB  resident {:7.1} MB",
                        done * 100 / total.max(1),
                        mb(LIVE.load(Relaxed)),
                        mb(PEAK.load(Relaxed)),
                        mb(LIVE.load(Relaxed).saturating_sub(GIVEN_BACK.load(Relaxed)))
                    );
                    next = done * 10 / total.max(1) + 1;
                }
            };
            let built = pysym_core::native::progress::with_progress(sink, || {
                pysym_core::native::build_symcache_ranged(&cache, file.cursor(), None)
            })
            .expect("build");
            drop(cache);
            if big::ON.load(Relaxed) {
                let (at, sizes) = big::at_peak();
                let sum: usize = sizes.iter().sum();
                eprintln!(
                    "  at the peak ({:.1} MB): {:.1} MB in {} blocks of >= 256 KiB:",
                    mb(at),
                    mb(sum),
                    sizes.len()
                );
                for s in sizes.iter().take(40) {
                    eprintln!("    {:8.2} MB", mb(*s));
                }
            }
            for w in &built.warnings {
                eprintln!("  warning: {}", w);
            }
            eprintln!(
                "  built live {:7.1} MB  peak {:7.1} MB  (resident: peak {:.1} MB, less pages given back)",
                mb(LIVE.load(Relaxed)),
                mb(PEAK.load(Relaxed)),
                mb(RESIDENT_PEAK.load(Relaxed))
            );
            // Streamed to the file as the wasm shim streams it to the host.
            let mut out = ToFile(std::io::BufWriter::new(
                std::fs::File::create(&args[3]).expect("create output"),
            ));
            built.finish_into(&mut out).expect("write symcache");
            out.0.into_inner().expect("write symcache");
            let dt = t.elapsed();
            eprintln!(
                "  done  live {:7.1} MB  peak {:7.1} MB",
                mb(LIVE.load(Relaxed)),
                mb(PEAK.load(Relaxed))
            );
            let bytes = std::fs::read(&args[3]).expect("read symcache");
            let cache = SymCache::parse(&bytes).expect("parse");
            eprintln!(
                "built {} bytes, {} ranges in {:.3?}",
                bytes.len(),
                cache.range_count(),
                dt
            );
        }
        Some("diff") => {
            let a = std::fs::read(&args[2]).expect("read A");
            let b = std::fs::read(&args[3]).expect("read B");
            let n: usize = args.get(4).map(|s| s.parse().unwrap()).unwrap_or(100_000);
            let (ca, cb) = (
                SymCache::parse(&a).expect("parse A"),
                SymCache::parse(&b).expect("parse B"),
            );
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
            let (lo, hi) = (
                addrs.iter().next().copied().unwrap_or(0),
                addrs.iter().next_back().copied().unwrap_or(0),
            );
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
            println!(
                "{} addresses compared, {} differ (ranges: A {}, B {})",
                addrs.len(),
                diffs,
                ca.range_count(),
                cb.range_count()
            );
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
    u64::from_le_bytes([
        b[at],
        b[at + 1],
        b[at + 2],
        b[at + 3],
        b[at + 4],
        b[at + 5],
        b[at + 6],
        b[at + 7],
    ])
}
