use super::*;
use crate::test_rng::Rng;
use miniz_oxide::deflate::compress_to_vec_zlib;
use miniz_oxide::inflate::decompress_to_vec_zlib_with_limit;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Deterministic bytes of several kinds: DWARF-like records, noise, long runs, short periods.
fn samples() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1du64);
    let mut rnd = move || rng.next();
    let mut out = vec![Vec::new(), b"a".to_vec(), vec![0; 20_000]];
    let mut records = Vec::new();
    for i in 0..3_000u32 {
        records.extend_from_slice(&[0x2e, 1, 0x11, (i & 0xff) as u8, (i >> 8) as u8, 0x3a, 1]);
        if rnd() % 3 == 0 {
            records.extend_from_slice(format!("function_{}_name", rnd() % 500).as_bytes());
        }
    }
    out.push(records);
    out.push((0..8_000).map(|_| rnd() as u8).collect());
    for period in 1..12usize {
        let pat: Vec<u8> = (0..period).map(|_| rnd() as u8).collect();
        out.push(pat.iter().cycle().take(1000 + period).cloned().collect());
    }
    // Noise with repeats at every distance class, up to 32 KiB back.
    let mut mixed: Vec<u8> = (0..4_000).map(|_| rnd() as u8).collect();
    for _ in 0..400 {
        let len = 3 + (rnd() % 300) as usize;
        let back = 1 + (rnd() % 32768) as usize;
        let at = mixed.len();
        for i in 0..len {
            let b = mixed[at + i - back.min(at)];
            mixed.push(b);
        }
        mixed.extend((0..rnd() % 20).map(|_| rnd() as u8));
    }
    out.push(mixed);
    out
}

#[test]
fn round_trips_at_every_level() {
    for data in samples() {
        for level in [0u8, 1, 2, 6, 9, 10] {
            let z = compress_to_vec_zlib(&data, level);
            let got =
                zlib_exact(&z, data.len()).unwrap_or_else(|e| panic!("level {} len {}: {}", level, data.len(), e));
            assert!(got == data, "level {} len {}: output differs", level, data.len());
            let mut onto = Vec::new();
            assert_eq!(zlib_into(&z, &mut onto, data.len()).unwrap(), z.len());
            assert!(onto == data);
        }
    }
}

#[test]
fn fixed_and_stored_blocks() {
    let fixed = hex("78014b4c4a4e44450a19a93939f92864797e514e0a0052690fc9");
    assert_eq!(
        zlib_exact(&fixed, 42).unwrap(),
        b"abcabcabcabcabcabc hello hello hello world"
    );
    let stored = hex("7801011100eeff73746f72656420626c6f636b20646174613bcd0677");
    assert_eq!(zlib_exact(&stored, 17).unwrap(), b"stored block data");
}

#[test]
fn size_and_limits() {
    let data = vec![7u8; 10_000];
    let z = compress_to_vec_zlib(&data, 6);
    assert_eq!(zlib_exact(&z, 9_999), Err(InflateError::TooLarge { limit: 9_999 }));
    assert_eq!(
        zlib_exact(&z, 10_001),
        Err(InflateError::Corrupt("the stream ends before the declared size"))
    );
    let mut out = Vec::new();
    assert_eq!(zlib_into(&z, &mut out, 100), Err(InflateError::TooLarge { limit: 100 }));
    assert!(out.len() <= 100);
    // A window given before the stream counts against the limit, and matches may reach it.
    let mut out = b"xyz".to_vec();
    zlib_into(&z, &mut out, 10_003).unwrap();
    assert_eq!(&out[..3], b"xyz");
    assert!(out[3..] == data[..]);
}

#[test]
fn bad_headers_checksums_and_distances() {
    let z = compress_to_vec_zlib(b"hello hello hello", 6);
    assert_eq!(zlib_exact(&z[..1], 17), Err(InflateError::Truncated));
    assert_eq!(
        zlib_exact(&[0x79, 0x9c], 17),
        Err(InflateError::BadHeader("not deflate"))
    );
    assert_eq!(
        zlib_exact(&[0x78, 0x9d], 17),
        Err(InflateError::BadHeader("check bits"))
    );
    assert_eq!(
        zlib_exact(&[0x88, 0x98], 17),
        Err(InflateError::BadHeader("window larger than 32 KiB"))
    );
    assert_eq!(
        zlib_exact(&[0x78, 0xbb, 0, 0, 0, 1], 17),
        Err(InflateError::BadHeader("preset dictionary"))
    );
    let mut bad = z.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert!(matches!(zlib_exact(&bad, 17), Err(InflateError::Checksum { .. })));
    assert_eq!(zlib_exact(&z[..z.len() - 1], 17), Err(InflateError::Truncated));
    // A fixed block whose first symbol is a match: length 3 (code 257), distance 1.
    // Bits: BFINAL 1, BTYPE 01, then 0000001 (257, 7 bits, MSB first), then 00000 (dist 0).
    let raw = [0x03, 0x02, 0x00];
    assert_eq!(
        raw_into(&raw, &mut Vec::new(), 100),
        Err(InflateError::BadDistance {
            distance: 1,
            produced: 0
        })
    );
    // Block type 3.
    assert_eq!(
        raw_into(&[0x07], &mut Vec::new(), 100),
        Err(InflateError::Corrupt("block type 3"))
    );
    // A stored block whose NLEN is not the complement of LEN.
    assert_eq!(
        raw_into(&[0x01, 5, 0, 0, 0], &mut Vec::new(), 100),
        Err(InflateError::Corrupt("stored block length"))
    );
}

#[test]
fn every_truncation_is_an_error() {
    for data in samples().into_iter().skip(3).take(3) {
        let z = compress_to_vec_zlib(&data, 9);
        for cut in (0..z.len()).step_by(97).chain(z.len() - 8..z.len()) {
            let r = zlib_exact(&z[..cut], data.len());
            assert!(r.is_err(), "prefix {} of {} accepted", cut, z.len());
        }
    }
}

/// Damaged streams: never more output than the limit, never a panic, and whenever
/// miniz_oxide accepts a stream this decoder gives the same bytes (and the other way).
#[test]
fn damaged_streams_agree_with_miniz() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15u64);
    let mut rnd = move || rng.next();
    let (mut both_ok, mut both_err) = (0, 0);
    for data in samples().into_iter().skip(3) {
        let z = compress_to_vec_zlib(&data, 6);
        for _ in 0..60 {
            let mut bad = z.clone();
            for _ in 0..1 + rnd() % 3 {
                let i = 2 + (rnd() as usize) % (bad.len() - 2);
                bad[i] ^= 1 << (rnd() % 8);
            }
            let limit = data.len() + 64;
            let mut ours = Vec::new();
            let r = zlib_into(&bad, &mut ours, limit);
            assert!(ours.len() <= limit);
            let theirs = decompress_to_vec_zlib_with_limit(&bad, limit);
            match (r, theirs) {
                (Ok(_), Ok(t)) => {
                    assert!(ours == t, "outputs differ");
                    both_ok += 1;
                }
                (Err(_), Err(_)) => both_err += 1,
                (a, b) => panic!("disagreement: ours {:?}, miniz_oxide {:?}", a.err(), b.err()),
            }
        }
    }
    assert!(both_err > 50, "{} of the damaged streams refused", both_err);
    let _ = both_ok;
}

#[test]
fn adler32_known_values() {
    assert_eq!(adler32(b""), 1);
    assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
    let big = vec![0xffu8; 100_000];
    let (mut a, mut b) = (1u64, 0u64);
    for &x in &big {
        a = (a + u64::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    assert_eq!(adler32(&big), (b << 16 | a) as u32);
}

/// The word-at-a-time sums against a byte-at-a-time Adler-32: every length around the
/// 128-byte blocks and the 5552-byte chunks, bytes that differ by position, and all 0xff
/// (the largest sums).
#[test]
fn adler32_matches_bytewise() {
    fn slow(d: &[u8]) -> u32 {
        let (mut a, mut b) = (1u64, 0u64);
        for &x in d {
            a = (a + u64::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16 | a) as u32
    }
    let mut x = 0x9e37_79b9u32;
    let data: Vec<u8> = (0..40_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let ff = vec![0xffu8; 40_000];
    for n in (0..700).chain(5500..5700).chain([11_104, 11_105, 39_999, 40_000]) {
        assert_eq!(adler32(&data[..n]), slow(&data[..n]), "length {}", n);
        assert_eq!(adler32(&ff[..n]), slow(&ff[..n]), "0xff length {}", n);
        assert_eq!(adler32(&data[3..3 + n.min(39_990)]), slow(&data[3..3 + n.min(39_990)]));
    }
}

/// Every zlib-compressed section of the files in `PYSYM_INFLATE_FILES` (colon-separated)
/// inflated by this decoder and by miniz_oxide: the same bytes. Run by `make inflate-check`
/// on real debug files (Debian's `-dbg` packages); ignored in `make rust-test`.
#[test]
#[ignore]
fn real_sections_match_miniz() {
    use object::{Object, ObjectSection};
    let files = std::env::var("PYSYM_INFLATE_FILES").expect("PYSYM_INFLATE_FILES names the files");
    let mut n = 0;
    for path in files.split(':').filter(|p| !p.is_empty()) {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {}", path, e));
        let file = object::File::parse(&*data).unwrap();
        for s in file.sections() {
            let c = match s.compressed_data() {
                Ok(c) if c.format == object::CompressionFormat::Zlib => c,
                _ => continue,
            };
            let t0 = std::time::Instant::now();
            let ours = zlib_exact(c.data, c.uncompressed_size as usize).unwrap();
            let t1 = t0.elapsed();
            let t0 = std::time::Instant::now();
            let theirs = c.decompress().unwrap();
            let t2 = t0.elapsed();
            assert!(
                ours[..] == theirs[..],
                "{} {}: outputs differ",
                path,
                s.name().unwrap_or("?")
            );
            println!(
                "{} {}: {} -> {} bytes, same; {:?} here, {:?} miniz_oxide",
                path,
                s.name().unwrap_or("?"),
                c.data.len(),
                ours.len(),
                t1,
                t2
            );
            n += 1;
        }
    }
    assert!(n > 0, "no zlib-compressed section in {}", files);
}

/// Every restart of a marked inflate gives the rest of the output again, from the stream's
/// bytes at its position on, at any length asked for.
#[test]
fn restarts_give_the_same_output() {
    for data in samples() {
        for level in [0u8, 1, 6, 9] {
            let z = compress_to_vec_zlib(&data, level);
            let (out, marks) = zlib_exact_marked(&z, data.len(), 1000).unwrap();
            assert!(out == data);
            assert_eq!(zlib_exact_marked(&z, data.len(), 0).unwrap().1.len(), 0);
            if data.len() > 20_000 && level > 0 {
                assert!(!marks.is_empty(), "level {} len {}: no restart", level, data.len());
            }
            if !marks.is_empty() {
                assert_eq!((marks[0].out, marks[0].bit), (0, 16));
            }
            for (i, m) in marks.iter().enumerate() {
                assert!(i == 0 || m.out >= marks[i - 1].out + 1000);
                let o = m.out as usize;
                assert!(m.window[..] == data[o.saturating_sub(32 << 10)..o]);
                for want in [0usize, 1, 300, 5000, data.len()] {
                    let got = raw_from(&z[(m.bit / 8) as usize..], m, want).unwrap();
                    let n = got.len().min(data.len() - o);
                    assert!(got.len() >= want.min(data.len() - o), "short: {} < {}", got.len(), want);
                    assert!(got[..n] == data[o..o + n] && got.len() == n);
                }
            }
        }
    }
    // Large enough for several restarts in blocks of every kind.
    let mut big = Vec::new();
    for round in 0..12u8 {
        for s in samples() {
            big.extend(s.iter().map(|b| b.wrapping_add(round)));
        }
    }
    let z = compress_to_vec_zlib(&big, 6);
    let (_, marks) = zlib_exact_marked(&z, big.len(), 4096).unwrap();
    assert!(marks.len() > 3);
    for m in &marks {
        let got = raw_from(&z[(m.bit / 8) as usize..], m, 100).unwrap();
        assert!(got[..100.min(got.len())] == big[m.out as usize..m.out as usize + 100.min(got.len())]);
    }
}

/// A symbol of a hand-made deflate block.
#[derive(Clone, Copy)]
enum Sym {
    Lit(u8),
    /// (length 3..=258, distance 1..=32768)
    Match(usize, usize),
}

/// `syms` as one final fixed-Huffman block (RFC 1951 3.2.6), with the output they stand for:
/// exact control of every length and distance, which a compressor does not give.
fn fixed_block(syms: &[Sym]) -> (Vec<u8>, Vec<u8>) {
    let mut bits: Vec<bool> = Vec::new();
    let put = |bits: &mut Vec<bool>, v: u32, n: u32| bits.extend((0..n).map(|i| v >> i & 1 == 1));
    // Huffman codes go most significant bit first.
    let code = |bits: &mut Vec<bool>, v: u32, n: u32| bits.extend((0..n).rev().map(|i| v >> i & 1 == 1));
    let litlen = |bits: &mut Vec<bool>, s: u32| match s {
        0..=143 => code(bits, 0x30 + s, 8),
        144..=255 => code(bits, 0x190 + s - 144, 9),
        256..=279 => code(bits, s - 256, 7),
        _ => code(bits, 0xc0 + s - 280, 8),
    };
    put(&mut bits, 1, 1);
    put(&mut bits, 1, 2);
    let mut out = Vec::new();
    for &s in syms {
        match s {
            Sym::Lit(b) => {
                litlen(&mut bits, u32::from(b));
                out.push(b);
            }
            Sym::Match(len, back) => {
                let l = LEN_BASE.iter().rposition(|&b| usize::from(b) <= len).unwrap();
                litlen(&mut bits, 257 + l as u32);
                put(
                    &mut bits,
                    (len - usize::from(LEN_BASE[l])) as u32,
                    u32::from(LEN_EXTRA[l]),
                );
                let d = DIST_BASE.iter().rposition(|&b| usize::from(b) <= back).unwrap();
                code(&mut bits, d as u32, 5);
                put(
                    &mut bits,
                    (back - usize::from(DIST_BASE[d])) as u32,
                    u32::from(DIST_EXTRA[d]),
                );
                for _ in 0..len {
                    out.push(out[out.len() - back]);
                }
            }
        }
    }
    litlen(&mut bits, 256);
    let mut raw = vec![0u8; (bits.len() + 7) / 8];
    for (i, &b) in bits.iter().enumerate() {
        raw[i / 8] |= u8::from(b) << (i % 8);
    }
    (raw, out)
}

/// Every distance 1..=40 (and some longer) with every length 3..=258, between a few
/// literals: the 16- and 8-byte copies, the fills and the byte loop, against the expansion
/// and against miniz_oxide.
#[test]
fn every_length_at_short_distances() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1du64);
    let mut rnd = move || rng.next();
    for backs in [
        (1..=20).collect::<Vec<usize>>(),
        (21..=40).chain([63, 64, 65, 300, 4097]).collect(),
    ] {
        let mut syms: Vec<Sym> = (0..4200).map(|_| Sym::Lit(rnd() as u8)).collect();
        for &back in &backs {
            for len in 3..=258 {
                syms.push(Sym::Match(len, back));
                syms.extend((0..rnd() % 3).map(|_| Sym::Lit(rnd() as u8)));
            }
        }
        let (raw, want) = fixed_block(&syms);
        let mut ours = Vec::new();
        assert_eq!(raw_into(&raw, &mut ours, want.len()).unwrap(), raw.len());
        assert!(ours == want);
        assert!(miniz_oxide::inflate::decompress_to_vec(&raw).unwrap() == want);
    }
}

/// Streams that end at every point of the fast loop's margins: every output limit in the
/// last 300 bytes gives an error with a prefix of the output (the exact limit gives it
/// all), every cut of the input's last 40 bytes an error.
#[test]
fn limits_and_cuts_near_the_end() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15u64);
    let mut rnd = move || rng.next();
    for round in 0..12 {
        let mut syms: Vec<Sym> = (0..40).map(|_| Sym::Lit(rnd() as u8)).collect();
        for _ in 0..300 {
            if rnd() % 3 == 0 {
                let len = if round % 2 == 0 {
                    3 + (rnd() % 256) as usize
                } else {
                    3 + (rnd() % 14) as usize
                };
                syms.push(Sym::Match(len, 1 + (rnd() % 40) as usize));
            } else {
                syms.push(Sym::Lit(rnd() as u8));
            }
        }
        let (raw, want) = fixed_block(&syms);
        for limit in want.len().saturating_sub(300)..=want.len() {
            let mut out = Vec::new();
            let r = raw_into(&raw, &mut out, limit);
            assert!(out.len() <= limit && out[..] == want[..out.len()]);
            if limit < want.len() {
                assert_eq!(r, Err(InflateError::TooLarge { limit: limit as u64 }));
            } else {
                assert_eq!(r, Ok(raw.len()));
            }
        }
        for cut in raw.len().saturating_sub(40)..raw.len() {
            let mut out = Vec::new();
            let r = raw_into(&raw[..cut], &mut out, want.len());
            assert!(r.is_err(), "cut at {} of {} accepted", cut, raw.len());
            // (bits past the end read as zeros until a refill finds them out)
            assert!(out.len() <= want.len());
        }
    }
}

/// Random data of every length up to 700 (so that the fast loop's margins fall on every
/// kind of symbol) and longer, in stored, fixed and dynamic blocks: the same bytes as
/// miniz_oxide's inflater.
#[test]
fn random_streams_agree_with_miniz() {
    use miniz_oxide::deflate::core::{
        compress_to_output, create_comp_flags_from_zip_params, CompressionStrategy, CompressorOxide, TDEFLFlush,
    };
    let mut rng = Rng(0x1234_5678_9abc_def1u64);
    let mut rnd = move || rng.next();
    let lens = (0..700usize).chain([5_000, 40_000, 70_000]);
    for (i, len) in lens.enumerate() {
        // A small alphabet with repeats of random lengths and distances.
        let mut data: Vec<u8> = Vec::with_capacity(len);
        while data.len() < len {
            if data.len() > 4 && rnd() % 2 == 0 {
                let back = 1 + (rnd() as usize) % data.len().min(1 << (rnd() % 16));
                for _ in 0..3 + rnd() % 40 {
                    data.push(data[data.len() - back]);
                }
            } else {
                data.push(b'a' + (rnd() % (1 + i as u64 % 40)) as u8);
            }
        }
        data.truncate(len);
        for (level, strategy) in [(0, 0), (6, CompressionStrategy::Fixed as i32), (1, 0), (9, 0)] {
            let mut c = CompressorOxide::new(create_comp_flags_from_zip_params(level, 1, strategy));
            let mut z = Vec::new();
            compress_to_output(&mut c, &data, TDEFLFlush::Finish, |b| {
                z.extend_from_slice(b);
                true
            });
            let ours = zlib_exact(&z, len).unwrap_or_else(|e| panic!("len {} level {}: {}", len, level, e));
            assert!(ours == data, "len {} level {}", len, level);
            assert!(decompress_to_vec_zlib_with_limit(&z, len).unwrap() == ours);
        }
    }
}
