//! Native snapshot tests: symcaches built from small real debug files (checked in for the
//! Python tests), looked up at every address where an answer changes, compared with the
//! answers checked in under `tests/snapshots/`. DWARF answers are checked here without
//! Python or the wasm module.
//!
//! After a change that is meant to change answers, rewrite the snapshots and review the
//! diff: `PYSYM_UPDATE_SNAPSHOTS=1 cargo test -p pysym-core --test native_snapshots`.

use pysym_core::native::build_symcache;
use pysym_core::symcache::SymCache;
use std::fmt::Write;
use std::path::PathBuf;

/// The repository's root (this crate is `wasm/core`).
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The range starts of a symcache, read as FORMAT.md lays them out (`n_ranges` at 24,
/// `w_start` at 64, the starts from 72).
fn range_starts(bytes: &[u8]) -> Vec<u64> {
    let n = u32::from_le_bytes(bytes[24..28].try_into().unwrap()) as usize;
    let w = bytes[64] as usize;
    (0..n)
        .map(|i| {
            let mut a = [0u8; 8];
            a[..w].copy_from_slice(&bytes[72 + i * w..72 + (i + 1) * w]);
            u64::from_le_bytes(a)
        })
        .collect()
}

/// What a build of `path` gives: identity, warnings, and the frames at every range start
/// and the byte before it, one line per address (innermost frame first).
fn answers(path: &str) -> String {
    let data = std::fs::read(repo().join(path)).unwrap_or_else(|e| panic!("{}: {}", path, e));
    let mut out = String::new();
    let build = match build_symcache(&data[..], None) {
        Ok(b) => b,
        Err(e) => {
            writeln!(out, "error: {:?}: {}", e.kind(), e).unwrap();
            return out;
        }
    };
    let warnings = build.warnings.clone();
    let bytes = build.finish();
    let cache = SymCache::parse(&bytes).unwrap();
    let id = cache.identity();
    writeln!(
        out,
        "{} {} debug_id={} code_id={} base={:#x} flags={}",
        id.kind, id.arch, id.debug_id, id.code_id, id.image_base, id.flags
    )
    .unwrap();
    for w in &warnings {
        writeln!(out, "warning: {}", w).unwrap();
    }
    let starts = range_starts(&bytes);
    let mut addrs: Vec<u64> = starts
        .iter()
        .flat_map(|&s| [s.wrapping_sub(1), s])
        .filter(|&a| a != u64::MAX)
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    writeln!(out, "{} ranges, {} addresses", starts.len(), addrs.len()).unwrap();
    for a in addrs {
        let frames = cache.lookup(a);
        let text: Vec<String> = frames
            .iter()
            .map(|f| {
                let function = f.function.as_deref().unwrap_or("?");
                // The raw name only where it is not the name shown.
                let raw = match f.raw_function {
                    Some(r) if r != function => format!(" [{}]", r),
                    _ => String::new(),
                };
                let inlined = if f.inlined { " inlined" } else { "" };
                format!(
                    "{}{} {}:{}:{} @{:#x}{}",
                    function,
                    raw,
                    f.file.unwrap_or("?"),
                    f.line,
                    f.column,
                    f.sym_addr,
                    inlined
                )
            })
            .collect();
        // A deep chain: its two innermost frames, how many in between, its outermost one.
        let text = if text.len() > 4 {
            format!(
                "{} <- {} <- ({} more) <- {}",
                text[0],
                text[1],
                text.len() - 3,
                text[text.len() - 1]
            )
        } else {
            text.join(" <- ")
        };
        writeln!(out, "{:#x}: {}", a, if text.is_empty() { "-" } else { &text }).unwrap();
    }
    out
}

fn check(path: &str, snapshot: &str) {
    let got = answers(path);
    let file = repo().join("wasm/core/tests/snapshots").join(snapshot);
    if std::env::var_os("PYSYM_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&file, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {} (PYSYM_UPDATE_SNAPSHOTS=1 writes it)", file.display(), e));
    if got != want {
        let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
        let first = g
            .iter()
            .zip(&w)
            .position(|(a, b)| a != b)
            .unwrap_or(g.len().min(w.len()));
        panic!(
            "{}: answers differ from {} at line {}:\n  got:  {}\n  want: {}\n({} lines vs {})",
            path,
            snapshot,
            first + 1,
            g.get(first).unwrap_or(&"<end>"),
            w.get(first).unwrap_or(&"<end>"),
            g.len(),
            w.len()
        );
    }
}

/// Inlined calls nested deeper than a chain may be (gcc -O2): the outermost frame and
/// the innermost ones are kept.
#[test]
fn deep_inline() {
    check("tests/bad_inputs/deep_inline", "deep_inline.txt");
}

/// Abstract origins that refer to each other in a ring: naming stops after its hops.
#[test]
fn dwarf_ring_cycle() {
    check("tests/bad_inputs/dwarf_ring_cycle", "dwarf_ring_cycle.txt");
}

/// An abstract origin that refers to itself.
#[test]
fn dwarf_self_cycle() {
    check("tests/bad_inputs/dwarf_self_cycle", "dwarf_self_cycle.txt");
}
