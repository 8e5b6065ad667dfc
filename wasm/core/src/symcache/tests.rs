//! The symcache's own tests: round trips, old versions, limits, corrupt input.

use super::raw::*;
use super::writer::*;
use super::*;

fn sample() -> Vec<u8> {
    let mut w = SymCacheWriter::new();
    let f_main = w.function("main", "main", 0);
    let f_inl = w.function("_Z3addii", "add(int, int)", 4);
    let file = w.file("/src/a.c");
    let outer = FrameSpec {
        function: f_main,
        file,
        line: 10,
        column: 3,
        sym_addr: 0x1000,
    };
    let inner = FrameSpec {
        function: f_inl,
        file,
        line: 2,
        column: 0,
        sym_addr: 0x1010,
    };
    let l1 = w.chain(&[FrameSpec {
        line: 9,
        ..outer.clone()
    }]);
    let l2 = w.chain(&[outer.clone(), inner]);
    w.range(0x1000, 0x1010, l1);
    w.range(0x1010, 0x1020, l2);
    w.range(0x2000, 0x2004, l1);
    w.finish(&Identity {
        kind: "elf".into(),
        arch: "x86_64".into(),
        image_base: 0x400000,
        ..Default::default()
    })
}

/// Probe steps a lookup of every interned string takes (its slot minus its home slot).
fn string_probes(w: &SymCacheWriter) -> usize {
    let slots = &w.string_index.slots;
    let mask = slots.len() - 1;
    let (index_bits, _) = IndexSet::split(slots.len(), 0);
    let mut total = 0;
    for (at, &s) in slots.iter().enumerate() {
        if s != NONE {
            let home = hash_of(string_text(&w.strings, &w.string_bytes, s & index_bits)) as usize & mask;
            total += (at + slots.len() - home) & mask;
        }
    }
    total
}

#[test]
fn sequential_names_intern_as_cheaply_as_random_ones() {
    // Names f0..f199999 once clustered in the index (the hash's low bits saw only
    // their first bytes) and interning went quadratic; compare with random names of
    // the same lengths.
    let n = 200_000u32;
    let mut seq = SymCacheWriter::new();
    let mut rnd = SymCacheWriter::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..n {
        let name = format!("f{}", i);
        seq.string(&name);
        let mut other = String::from("f");
        while other.len() < name.len() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            other.push((b'a' + (state % 26) as u8) as char);
        }
        rnd.string(&other);
    }
    assert_eq!(seq.strings.len(), n as usize);
    let (ps, pr) = (string_probes(&seq), string_probes(&rnd));
    // about 1.5 probes per key at this load; random names may repeat (fewer keys)
    assert!(ps < 3 * n as usize, "{} probes for {} sequential names", ps, n);
    assert!(ps * 2 < pr * 3, "sequential {} vs random {} probes", ps, pr);
}

#[test]
fn round_trip() {
    let bytes = sample();
    let c = SymCache::parse(&bytes).unwrap();
    assert_eq!(c.identity().arch, "x86_64");
    assert_eq!(c.identity().image_base, 0x400000);
    assert!(c.lookup(0xfff).is_empty());
    let f = c.lookup(0x1000);
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].function.as_deref(), f[0].line, f[0].inlined),
        (Some("main"), 9, false)
    );
    let f = c.lookup(0x101f);
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[0].function.as_deref(), f[0].raw_function, f[0].line, f[0].inlined),
        (Some("add(int, int)"), Some("_Z3addii"), 2, true)
    );
    assert_eq!(
        (f[1].function.as_deref(), f[1].line, f[1].column, f[1].sym_addr),
        (Some("main"), 10, 3, 0x1000)
    );
    assert!(c.lookup(0x1020).is_empty());
    assert_eq!(c.lookup(0x2003).len(), 1);
    assert!(c.lookup(0x2004).is_empty());
}

/// Ranges in address order (kept in their chunks) and in any order (sorted at
/// `finish`) give the same symcache: the first range added wins where they overlap.
#[test]
fn ranges_in_any_order_and_across_chunks() {
    let n = (1u64 << CHUNK_BITS) + 1000;
    // Two ranges per start: the second, longer one only shows past the first's end.
    let ranges: Vec<(u64, u64, u32)> = (0..n)
        .flat_map(|i| {
            [
                (16 * i, 16 * i + 8, (2 * i) as u32),
                (16 * i, 16 * i + 12, (2 * i + 1) as u32),
            ]
        })
        .collect();
    let build = |order: &[(u64, u64, u32)]| {
        let mut w = SymCacheWriter::new();
        let locs = line_locations(&mut w, 2 * n as u32);
        for &(s, e, k) in order {
            w.range(s, e, locs[k as usize]);
        }
        w.finish(&Identity::default())
    };
    let sorted = build(&ranges);
    // Reversed pairs of starts, each pair still in the order that decides overlaps.
    let mut shuffled: Vec<(u64, u64, u32)> = ranges.chunks(2).rev().flatten().copied().collect();
    shuffled.rotate_left(777 * 2);
    assert_eq!(build(&shuffled), sorted);
    let c = SymCache::parse(&sorted).unwrap();
    for i in [0, 1, (1 << CHUNK_BITS) - 1, 1 << CHUNK_BITS, n - 1] {
        assert_eq!(c.lookup(16 * i + 7)[0].line, (2 * i + 1) as u32);
        assert_eq!(c.lookup(16 * i + 8)[0].line, (2 * i + 2) as u32);
        assert!(c.lookup(16 * i + 12).is_empty());
    }
}

/// `n` locations of one function `f`, at lines 1 to `n`.
fn line_locations(w: &mut SymCacheWriter, n: u32) -> Vec<u32> {
    let f = w.function("f", "f", 0);
    (0..n)
        .map(|k| {
            w.chain(&[FrameSpec {
                function: f,
                file: NONE,
                line: k + 1,
                column: 0,
                sym_addr: 0,
            }])
        })
        .collect()
}

/// Primary and fallback ranges, sorted or not, disjoint or overlapping: each address is
/// answered by the covering primary range that starts first (added first at equal
/// starts), else so by a fallback range, else not at all.
#[test]
fn ranges_and_fallbacks_answer_as_the_rule_says() {
    let mut rng = crate::test_rng::Rng(0x5eed_0f_4a11);
    for round in 0..300 {
        let mut w = SymCacheWriter::new();
        let locs = line_locations(&mut w, 40);
        let pick = |rng: &mut crate::test_rng::Rng| locs[rng.below(if round % 3 == 0 { 2 } else { 40 }) as usize];
        // (a third of the rounds: sorted and disjoint, as DWARF rows come; a third sorted
        // and overlapping)
        let mut primary = Vec::new();
        let mut at = rng.below(8);
        for _ in 0..rng.below(30) {
            let (s, e) = if round % 3 == 1 {
                let s = at + rng.below(3);
                (s, s + 1 + rng.below(6))
            } else {
                let s = rng.below(120);
                (s, s + 1 + rng.below(20))
            };
            at = e;
            primary.push((s, e, pick(&mut rng)));
        }
        if round % 3 == 2 {
            // (in start order, overlapping)
            primary.sort_by_key(|r| r.0);
        }
        let fallback: Vec<(u64, u64, u32)> = (0..rng.below(8))
            .map(|_| {
                let s = rng.below(140);
                (s, s + 1 + rng.below(40), pick(&mut rng))
            })
            .collect();
        for &(s, e, l) in &primary {
            w.range(s, e, l);
        }
        for &(s, e, l) in &fallback {
            w.fallback_range(s, e, l);
        }
        let bytes = w.finish(&Identity::default());
        let c = SymCache::parse(&bytes).unwrap();
        let addrs: Vec<u64> = (0..200).collect();
        let got = c.locations_at(&addrs);
        let first = |rs: &[(u64, u64, u32)], a: u64| {
            rs.iter()
                .enumerate()
                .filter(|(_, r)| r.0 <= a && a < r.1)
                .min_by_key(|(i, r)| (r.0, *i))
                .map(|(_, r)| r.2)
        };
        for a in addrs {
            let want = first(&primary, a).or_else(|| first(&fallback, a)).unwrap_or(NONE);
            assert_eq!(got[a as usize], want, "round {} address {}", round, a);
        }
    }
}

/// The same symcache in the version 2 layout (FORMAT.md, version history).
fn as_version_2(bytes: &[u8]) -> Vec<u8> {
    let c = SymCache::parse(bytes).unwrap();
    let mut out = bytes[..HEADER_LEN_V2].to_vec();
    out[8..12].copy_from_slice(&2u32.to_le_bytes());
    for i in 0..c.n_ranges {
        out.extend_from_slice(&c.start(i).to_le_bytes());
    }
    out.extend_from_slice(c.range_locs);
    for i in 0..c.location_count() {
        let b = &c.locations[i * c.layout.stride..];
        let (lay, l) = (&c.layout, c.location(i as u32).unwrap());
        for w in [lay.index(b, 0), l.line, l.column, lay.index(b, 3), l.caller, 0] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&l.sym_addr.to_le_bytes());
    }
    let tail = c.functions.as_ptr() as usize - bytes.as_ptr() as usize;
    out.extend_from_slice(&bytes[tail..]);
    out
}

#[test]
fn version_2_is_read_like_version_3() {
    let v3 = sample();
    let v2 = as_version_2(&v3);
    assert!(v2.len() > v3.len());
    let (a, b) = (SymCache::parse(&v3).unwrap(), SymCache::parse(&v2).unwrap());
    assert_eq!(a.identity(), b.identity());
    for addr in [
        0,
        0xfff,
        0x1000,
        0x100f,
        0x1010,
        0x101f,
        0x1020,
        0x2003,
        0x2004,
        u64::MAX,
    ] {
        assert_eq!(a.lookup(addr), b.lookup(addr));
    }
    assert_eq!(a.lookup(0x101f).len(), 2);
    // A version 3 header with a width past its field's limit is refused.
    let mut bad = v3.clone();
    bad[65] = 5;
    assert!(SymCache::parse(&bad).is_err());
    // So are zero-byte location records, which would let a few bytes claim 2^32
    // locations (and the reader check each of them).
    let empty = SymCacheWriter::new().finish(&Identity::default());
    let mut bad = empty.clone();
    bad[65..71].fill(0);
    bad[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = SymCache::parse(&bad).unwrap_err();
    assert!(format!("{:?}", e).contains("empty"), "{:?}", e);
    assert!(SymCache::parse(&empty).is_ok());
}

#[test]
fn batched_lookups_agree_with_single_ones() {
    let mut w = SymCacheWriter::new();
    let file = w.file("/src/a.c");
    let f = w.function("f", "f", 0);
    // Ranges with gaps, so that batches meet covered, uncovered and boundary addresses.
    for i in 0..500u32 {
        let loc = w.chain(&[FrameSpec {
            function: f,
            file,
            line: i + 1,
            column: 0,
            sym_addr: 0,
        }]);
        w.range(
            0x1000 + 16 * i as u64,
            0x1000 + 16 * i as u64 + 4 + (i % 13) as u64,
            loc,
        );
    }
    let bytes = w.finish(&Identity::default());
    let c = SymCache::parse(&bytes).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut addrs: Vec<u64> = (0..3000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            0xff0 + x % (16 * 520)
        })
        .collect();
    addrs.extend([0, 0xfff, 0x1000, 0x1003, 0x1004, u64::MAX, 0x1000 + 16 * 499]);
    // All of them (u64::MAX: sorted as (address, index) pairs), the random ones (packed
    // in one u64 each), and small batches (searched one by one).
    for batch in [&addrs[..], &addrs[..3000], &addrs[..10], &addrs[2990..]] {
        let want: Vec<u32> = batch.iter().map(|&a| c.location_at(a).unwrap_or(NONE)).collect();
        assert_eq!(c.locations_at(batch), want);
        let mut seen = vec![false; batch.len()];
        let mut last = 0u64;
        c.locations_in_address_order(batch, |i, loc| {
            let a = batch[i as usize];
            assert!(a >= last && !seen[i as usize] && loc == want[i as usize]);
            seen[i as usize] = true;
            last = a;
        });
        assert!(seen.iter().all(|&s| s));
    }
    assert!(c.locations_at(&addrs).iter().filter(|&&l| l != NONE).count() > 500);
}

#[test]
fn deep_chains_keep_outermost_and_innermost_frames() {
    let mut w = SymCacheWriter::new();
    let file = w.file("/src/a.c");
    let chain: Vec<FrameSpec> = (0..MAX_INLINE_DEPTH as u32 + 44)
        .map(|i| FrameSpec {
            function: w.function(&format!("f{}", i), &format!("f{}", i), 0),
            file,
            line: i + 1,
            column: 0,
            sym_addr: 0x1000,
        })
        .collect();
    let loc = w.chain(&chain);
    w.range(0x1000, 0x1010, loc);
    let bytes = w.finish(&Identity::default());
    let c = SymCache::parse(&bytes).unwrap();
    let f = c.lookup(0x1000);
    assert_eq!(f.len(), MAX_INLINE_DEPTH);
    assert_eq!(f[0].function.as_deref(), Some("f299"));
    assert_eq!(f[MAX_INLINE_DEPTH - 2].function.as_deref(), Some("f45"));
    assert_eq!(
        (
            f[MAX_INLINE_DEPTH - 1].function.as_deref(),
            f[MAX_INLINE_DEPTH - 1].inlined
        ),
        (Some("f0"), false)
    );
}

/// Format 4: a function stored with its raw name only is demangled at lookup, under a
/// name id past the strings; the demangled text is not in the string table.
#[test]
fn raw_names_are_demangled_at_lookup() {
    let mut w = SymCacheWriter::new();
    let raw = w.string("_ZN2ns3addEii");
    let f = w.function_of(raw, NONE, 4);
    let g = w.function("g", "g", 0);
    let file = w.file("/src/a.cc");
    let outer = FrameSpec {
        function: g,
        file,
        line: 3,
        column: 0,
        sym_addr: 0x1000,
    };
    let loc = w.chain(&[
        outer,
        FrameSpec {
            function: f,
            file,
            line: 7,
            column: 2,
            sym_addr: 0x1004,
        },
    ]);
    w.range(0x1000, 0x1010, loc);
    let bytes = w.finish(&Identity::default());
    let c = SymCache::parse(&bytes).unwrap();
    let frames = c.lookup(0x1008);
    assert_eq!(frames[0].function.as_deref(), Some("ns::add(int, int)"));
    assert_eq!(frames[0].raw_function, Some("_ZN2ns3addEii"));
    assert_eq!(frames[1].function.as_deref(), Some("g"));
    let l = c.location(c.location_at(0x1008).unwrap()).unwrap();
    assert!(l.function as usize >= c.string_count() && (l.function as usize) < c.name_count());
    assert_eq!(c.name(l.function).as_deref(), Some("ns::add(int, int)"));
    assert!((0..c.string_count() as u32).all(|i| c.string(i) != Some("ns::add(int, int)")));
    assert_eq!(c.name(c.name_count() as u32), None);
    // Read as version 3 (same layout), the raw-only name is unknown, as it always was.
    let mut v3 = bytes.clone();
    v3[8..12].copy_from_slice(&3u32.to_le_bytes());
    let c3 = SymCache::parse(&v3).unwrap();
    assert_eq!(c3.lookup(0x1008)[0].function, None);
    assert_eq!(c3.lookup(0x1008)[0].raw_function, Some("_ZN2ns3addEii"));
}

#[test]
fn reader_refuses_chains_deeper_than_the_limit() {
    let mut w = SymCacheWriter::new();
    let mut caller = NONE;
    // Bypass `chain` (which elides) to write what a hostile writer could.
    for i in 0..=MAX_INLINE_DEPTH as u32 {
        let key = LocKey {
            file: NONE,
            line: i,
            column: 0,
            function: NONE,
            inlined_into: caller,
            sym_addr: 0,
        };
        w.push_location(key);
        caller = i;
    }
    w.range(0, 4, caller);
    let bytes = w.finish(&Identity::default());
    let err = SymCache::parse(&bytes).unwrap_err();
    assert!(err.to_string().contains("frames deep"), "{}", err);
}

#[test]
fn truncated_and_corrupt_are_errors() {
    let bytes = sample();
    for n in 0..bytes.len() {
        assert!(SymCache::parse(&bytes[..n]).is_err());
    }
    for i in 0..bytes.len() {
        for v in [0u8, 0xff, 0x7f] {
            let mut b = bytes.clone();
            b[i] = v;
            if let Ok(c) = SymCache::parse(&b) {
                for a in [0u64, 0x1000, 0x1010, 0x2000, u64::MAX] {
                    let _ = c.lookup(a);
                }
            }
        }
    }
}

/// Everything a host asks of a symcache: look-ups one by one and in a batch, and every
/// location with its callers; on unchecked bytes this must neither panic nor loop.
fn query_all(c: &SymCache<'_>) {
    for a in [0u64, 0x0fff, 0x1000, 0x1008, 0x1010, 0x101f, 0x2000, 0x2003, u64::MAX] {
        assert!(c.lookup(a).len() <= MAX_INLINE_DEPTH);
        if let Some(l) = c.location_at(a) {
            let _ = c.location(l);
        }
    }
    let addrs: Vec<u64> = (0..100u64).map(|i| 0x0ff0 + i * 0x30).collect();
    let _ = c.locations_at(&addrs);
    for id in 0..c.location_count() as u32 + 2 {
        match c.locations_with_callers(std::iter::once(id)) {
            Ok(v) => {
                assert!(v.len() <= MAX_INLINE_DEPTH && v.windows(2).all(|w| w[0].0 < w[1].0));
                for (_, l) in v {
                    for s in [l.function, l.raw_function, l.file] {
                        let _ = c.name(s);
                    }
                }
            }
            Err(LocationsError::NoLocation(i)) => assert!(i as usize >= c.location_count()),
            Err(LocationsError::Damaged(_)) => assert!(!c.is_checked()),
        }
    }
    for i in 0..c.name_count() as u32 + 2 {
        let _ = c.name(i);
    }
}

#[test]
fn unchecked_open_answers_as_checked_on_good_bytes() {
    let bytes = sample();
    let (a, b) = (
        SymCache::parse(&bytes).unwrap(),
        SymCache::parse_unchecked(&bytes).unwrap(),
    );
    assert!(a.is_checked() && !b.is_checked());
    assert_eq!(a.identity(), b.identity());
    for addr in 0x0ff0..0x2010u64 {
        assert_eq!(a.lookup(addr), b.lookup(addr));
    }
    let all = 0..a.location_count() as u32;
    assert_eq!(a.locations_with_callers(all.clone()), b.locations_with_callers(all));
    query_all(&b);
}

#[test]
fn unchecked_open_of_damaged_bytes_is_bounded() {
    // Every byte of the sections (after the header: the unchecked open reads the header
    // as `parse` does) set to values that break ranges, indices, lengths and UTF-8.
    let bytes = sample();
    let mut damaged = 0;
    for i in 0..bytes.len() {
        for v in [0u8, 1, 2, 0x7f, 0x80, 0xfe, 0xff] {
            let mut b = bytes.clone();
            b[i] = v;
            let checked = SymCache::parse(&b);
            match SymCache::parse_unchecked(&b) {
                Ok(c) => {
                    query_all(&c);
                    if checked.is_err() {
                        damaged += 1;
                    }
                }
                // Only what the header and geometry say is refused by both.
                Err(_) => assert!(checked.is_err(), "byte {} = {:#x}", i, v),
            }
        }
    }
    assert!(damaged > 50, "{}", damaged); // the cheap open did accept damaged bytes
}

#[test]
fn unchecked_open_reports_damaged_records() {
    // A range naming a location that does not exist, a caller that is not smaller, a
    // chain deeper than the limit: `parse` refuses each, look-ups on the unchecked open
    // report them (or find nothing) instead of reading past a section or walking on.
    let mut w = SymCacheWriter::new();
    let mut caller = NONE;
    for i in 0..=MAX_INLINE_DEPTH as u32 {
        w.push_location(LocKey {
            file: NONE,
            line: i + 1,
            column: 0,
            function: NONE,
            inlined_into: caller,
            sym_addr: 0,
        });
        caller = i;
    }
    w.range(0, 4, caller);
    let deep = w.finish(&Identity::default());
    assert!(SymCache::parse(&deep).is_err());
    let c = SymCache::parse_unchecked(&deep).unwrap();
    assert_eq!(c.lookup(0).len(), MAX_INLINE_DEPTH);
    assert_eq!(
        c.locations_with_callers(std::iter::once(caller)),
        Err(LocationsError::Damaged(MAX_INLINE_DEPTH as u32))
    );
    assert_eq!(
        c.locations_with_callers(std::iter::once(caller - 1)).unwrap().len(),
        MAX_INLINE_DEPTH
    );

    let bytes = sample();
    let good = SymCache::parse(&bytes).unwrap();
    let (lay, locs_at) = (good.layout, good.locations.as_ptr() as usize - bytes.as_ptr() as usize);
    let ranges_at = good.range_locs.as_ptr() as usize - bytes.as_ptr() as usize;
    // Range 0 names location 0xfffe.
    let mut b = bytes.clone();
    b[ranges_at..ranges_at + 4].copy_from_slice(&0xfffeu32.to_le_bytes());
    let c = SymCache::parse_unchecked(&b).unwrap();
    let first = c.start(0);
    assert_eq!(c.location_at(first), Some(0xfffe));
    assert!(c.lookup(first).is_empty() && c.location(0xfffe).is_none());
    // A location naming itself as its caller, and one naming a missing file.
    let (caller_at, caller_w) = lay.fields[4];
    let (file_at, file_w) = lay.fields[0];
    assert!(caller_w > 0 && file_w > 0);
    let last = good.location_count() - 1;
    let mut b = bytes.clone();
    b[locs_at + last * lay.stride + caller_at] = last as u8 + 1; // stored plus one
    let c = SymCache::parse_unchecked(&b).unwrap();
    assert!(c.location(last as u32).is_none());
    assert_eq!(
        c.locations_with_callers(std::iter::once(last as u32)),
        Err(LocationsError::Damaged(last as u32))
    );
    let mut b = bytes.clone();
    b[locs_at + file_at] = 0xff;
    let c = SymCache::parse_unchecked(&b).unwrap();
    assert!(c.location(0).is_none());
    query_all(&c);
}

/// The worked example of FORMAT.md: a symcache of one function, written here, must be
/// byte for byte the hex dump there (so the example cannot drift from the format).
fn worked_example() -> Vec<u8> {
    let mut w = SymCacheWriter::new();
    let main = w.function("main", "main", 0);
    let file = w.file("/src/a.c");
    let loc = w.chain(&[FrameSpec {
        function: main,
        file,
        line: 3,
        column: 5,
        sym_addr: 0x10,
    }]);
    w.range(0x10, 0x18, loc);
    w.finish(&Identity {
        kind: "elf".into(),
        arch: "x86_64".into(),
        image_base: 0x1000,
        flags: FLAG_HAS_DEBUG_INFO,
        ..Default::default()
    })
}

/// `bytes` as FORMAT.md shows them: 16 a line, offset first.
fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = line.iter().map(|b| format!("{:02x}", b)).collect();
        out += &format!("{:04x}: {}\n", i * 16, hex.join(" "));
    }
    out
}

#[test]
fn format_md_worked_example_is_what_the_writer_writes() {
    let doc = include_str!("FORMAT.md");
    let start = doc
        .find("<!-- worked example: hex -->")
        .expect("FORMAT.md has the worked example");
    let block = &doc[start..];
    let (open, close) = (block.find("```text\n").unwrap() + 8, block.find("\n```\n").unwrap() + 1);
    let bytes = worked_example();
    assert_eq!(
        &block[open..close],
        hex_dump(&bytes),
        "FORMAT.md's worked example differs from the writer's bytes"
    );
    let cache = SymCache::parse(&bytes).unwrap();
    let frames = cache.lookup(0x14);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (
            frames[0].function.as_deref(),
            frames[0].file,
            frames[0].line,
            frames[0].column
        ),
        (Some("main"), Some("/src/a.c"), 3, 5)
    );
    assert!(cache.lookup(0x18).is_empty() && cache.lookup(0x0f).is_empty());
}

/// A `sym_addr` too wide for the writer's 32-bit field is kept aside and written whole;
/// interning still finds each location again, across the writer's location chunks.
#[test]
fn wide_sym_addrs_round_trip_and_intern() {
    let syms = [
        0u64,
        7,
        u64::from(u32::MAX) - 1,
        u64::from(u32::MAX),
        1 << 32,
        u64::MAX - 3,
    ];
    let n = (1u32 << LOCATION_CHUNK_BITS) + 100;
    let mut w = SymCacheWriter::new();
    let f = w.function("f", "f", 0);
    let frame = |line: u32, sym_addr: u64| FrameSpec {
        function: f,
        file: NONE,
        line,
        column: 0,
        sym_addr,
    };
    let mut locs = Vec::new();
    for round in 0..2 {
        for line in 0..n {
            let sym_addr = syms[line as usize % syms.len()];
            let loc = w.chain(&[frame(line, sym_addr)]);
            if round == 0 {
                locs.push(loc);
            } else {
                assert_eq!(loc, locs[line as usize], "line {} interned again", line);
            }
        }
    }
    for (line, &loc) in locs.iter().enumerate() {
        let at = 16 * line as u64;
        w.range(at, at + 16, loc);
    }
    let bytes = w.finish(&Identity::default());
    let c = SymCache::parse(&bytes).unwrap();
    assert_eq!(c.location_count(), n as usize);
    for line in 0..n {
        let got = c.lookup(16 * u64::from(line) + 3);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].line, line);
        assert_eq!(got[0].sym_addr, syms[line as usize % syms.len()], "line {}", line);
    }
}

/// Sizing the location index up front (`expect_locations`), before or after locations
/// were interned, keeps every one found again and new ones new.
#[test]
fn expected_locations_keep_interning() {
    let mut w = SymCacheWriter::new();
    let f = w.function("f", "f", 0);
    let frame = |line: u32| FrameSpec {
        function: f,
        file: NONE,
        line,
        column: 0,
        sym_addr: 0,
    };
    let first: Vec<u32> = (0..1000).map(|line| w.chain(&[frame(line)])).collect();
    w.expect_locations(5000);
    w.expect_locations(10); // (smaller: nothing to do)
    for (line, &loc) in first.iter().enumerate() {
        assert_eq!(w.chain(&[frame(line as u32)]), loc, "line {}", line);
    }
    let more: Vec<u32> = (1000..3000).map(|line| w.chain(&[frame(line)])).collect();
    assert_eq!(more, (1000..3000).collect::<Vec<u32>>());
    let bytes = w.finish(&Identity::default());
    assert_eq!(SymCache::parse(&bytes).unwrap().location_count(), 3000);
}
