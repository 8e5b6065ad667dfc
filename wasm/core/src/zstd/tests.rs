use super::*;
use crate::test_rng::Rng;
use std::io::Write;
use std::process::{Command, Stdio};

fn frame_head(desc: u8, rest: &[u8]) -> Vec<u8> {
    let mut f = MAGIC.to_le_bytes().to_vec();
    f.push(desc);
    f.extend_from_slice(rest);
    f
}

fn block_head(last: bool, kind: u32, size: u32) -> [u8; 3] {
    let h = u32::from(last) | (kind << 1) | (size << 3);
    [h as u8, (h >> 8) as u8, (h >> 16) as u8]
}

/// A frame of raw and RLE blocks, with a declared size and a checksum.
fn raw_rle_frame() -> (Vec<u8>, Vec<u8>) {
    let want: Vec<u8> = b"hello, "
        .iter()
        .copied()
        .chain(std::iter::repeat(b'z').take(300))
        .collect();
    // single segment, 2-byte content size (value - 256), checksum
    let mut f = frame_head(0x20 | 0x40 | 0x04, &((want.len() - 256) as u16).to_le_bytes());
    f.extend_from_slice(&block_head(false, 0, 7));
    f.extend_from_slice(b"hello, ");
    f.extend_from_slice(&block_head(true, 1, 300));
    f.push(b'z');
    f.extend_from_slice(&(xxh64(&want, 0) as u32).to_le_bytes());
    (f, want)
}

#[test]
fn xxh64_known_values() {
    assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
    assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
    assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
}

#[test]
fn predefined_distributions_fill_their_tables() {
    for (_, _, counts, log) in KINDS {
        let sum: i32 = counts.iter().map(|&c| i32::from(c.abs())).sum();
        assert_eq!(sum, 1 << log);
        assert!(Fse::build(counts, log).is_ok());
    }
}

#[test]
fn raw_and_rle_blocks_with_checksum() {
    let (f, want) = raw_rle_frame();
    assert_eq!(decompress(&f, 1 << 20).unwrap(), want);
}

#[test]
fn skippable_and_multiple_frames() {
    let (f, want) = raw_rle_frame();
    let mut two = vec![0x5A, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 9, 9, 9];
    two.extend_from_slice(&f);
    two.extend_from_slice(&[0x50, 0x2A, 0x4D, 0x18, 0, 0, 0, 0]);
    two.extend_from_slice(&f);
    let mut expect = want.clone();
    expect.extend_from_slice(&want);
    assert_eq!(decompress(&two, 1 << 20).unwrap(), expect);
    // only a skippable frame: nothing
    assert_eq!(decompress(&[0x5F, 0x2A, 0x4D, 0x18, 0, 0, 0, 0], 10).unwrap(), b"");
}

#[test]
fn errors_are_typed() {
    let (f, want) = raw_rle_frame();
    // the limit is checked against the declared size before any block
    assert_eq!(
        decompress(&f, want.len() - 1),
        Err(ZstdError::TooLarge {
            limit: want.len() as u64 - 1
        })
    );
    let mut bad = f.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert!(matches!(decompress(&bad, 1 << 20), Err(ZstdError::Checksum { .. })));
    let mut bad = f.clone();
    bad[5] = 50; // declared size 306 instead of 307
    assert_eq!(
        decompress(&bad, 1 << 20),
        Err(ZstdError::SizeMismatch {
            declared: 306,
            produced: 307
        })
    );
    let mut bad = f.clone();
    bad[4] |= 0x08;
    assert!(matches!(decompress(&bad, 1 << 20), Err(ZstdError::BadFrameHeader(_))));
    let mut bad = f.clone();
    bad[0] = 0;
    assert!(matches!(decompress(&bad, 1 << 20), Err(ZstdError::BadMagic(_))));
    assert!(matches!(
        decompress(&frame_head(0x21, &[7]), 1 << 20),
        Err(ZstdError::Dictionary(7))
    ));
    assert!(matches!(decompress(b"", 1), Err(ZstdError::Truncated(_))));
    for cut in 0..f.len() {
        assert!(decompress(&f[..cut], 1 << 20).is_err(), "prefix {} accepted", cut);
    }
}

#[test]
fn frame_without_size_is_limited_while_decoding() {
    // window descriptor, no content size: 3 RLE blocks of 100 bytes, limit 250
    let mut f = frame_head(0x00, &[0x00]);
    for i in 0..3 {
        f.extend_from_slice(&block_head(i == 2, 1, 100));
        f.push(7);
    }
    assert_eq!(decompress(&f, 300).unwrap(), vec![7; 300]);
    assert_eq!(decompress(&f, 250), Err(ZstdError::TooLarge { limit: 250 }));
    // an RLE block larger than the block maximum
    let mut f = frame_head(0x00, &[0x00]);
    f.extend_from_slice(&block_head(true, 1, 2000));
    f.push(7);
    assert!(matches!(decompress(&f, 1 << 20), Err(ZstdError::Corrupt(_)))); // window 1 KiB
}

#[test]
fn overlapping_matches() {
    let mut v = b"abc".to_vec();
    copy_match(&mut v, 3, 10);
    assert_eq!(v, b"abcabcabcabca");
    let mut v = b"xy".to_vec();
    copy_match(&mut v, 1, 4);
    assert_eq!(v, b"xyyyyy");
    let mut v = b"0123456789".to_vec();
    copy_match(&mut v, 10, 4);
    assert_eq!(v, b"01234567890123");
}

/// A frame made by `zstd -19` (v1.5.4) from a short text: compressed literals with an
/// FSE-coded Huffman tree, FSE sequence tables, repeat offsets, a checksum.
#[test]
fn embedded_reference_frame() {
    let text = sample_text(4000, 1);
    let frame = include_bytes!("sample19.zst");
    assert_eq!(decompress(frame, 1 << 20).unwrap(), text);
}

/// Words drawn with a skewed distribution: compressible, with long and short matches.
fn sample_text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "the ",
        "of ",
        "debug_info ",
        "line ",
        "DW_TAG_subprogram ",
        "0x",
        "f",
        "\n",
        "struct ",
        "{ ",
        "} ",
        "int ",
        "return ",
        "a",
        "z",
        "_",
    ];
    let mut r = Rng(seed | 1);
    let mut out = Vec::with_capacity(len + 32);
    while out.len() < len {
        let x = r.next();
        let w = WORDS[((x >> 8) % 16).min((x >> 20) % 16) as usize];
        out.extend_from_slice(w.as_bytes());
        if x & 7 == 0 {
            out.push((x >> 40) as u8);
        }
    }
    out.truncate(len);
    out
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    (0..len).map(|_| (r.next() >> 32) as u8).collect()
}

// -- differential against the zstd command ----------------------------------------------

/// Compresses with the `zstd` command. It is a test dependency (Makefile APT_PACKAGES): a
/// missing command fails the test rather than skipping the comparison.
fn zstd_cli(data: &[u8], args: &[&str]) -> Vec<u8> {
    let mut child = Command::new("zstd")
        .args(args)
        .args(["-q", "-c", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the zstd command is needed for this test (apt-get install zstd)");
    let mut stdin = child.stdin.take().unwrap_or_else(|| unreachable!());
    let input = data.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("zstd runs");
    feeder.join().expect("feeder").expect("zstd reads its input");
    assert!(out.status.success(), "zstd {:?} failed", args);
    out.stdout
}

fn roundtrip(data: &[u8], args: &[&str]) {
    let z = zstd_cli(data, args);
    let got = decompress(&z, data.len()).unwrap_or_else(|e| panic!("zstd {:?} on {} bytes: {}", args, data.len(), e));
    assert!(got == data, "zstd {:?} on {} bytes: output differs", args, data.len());
    if !data.is_empty() {
        assert!(matches!(
            decompress(&z, data.len() - 1),
            Err(ZstdError::TooLarge { .. })
        ));
    }
}

#[test]
fn differential_small_inputs() {
    for len in [0, 1, 2, 3, 5, 17, 100, 255, 256, 1000, 1500, 4096] {
        for level in ["-1", "-3", "-19", "--fast=5"] {
            roundtrip(&sample_text(len, len as u64), &[level]);
            roundtrip(&random_bytes(len, len as u64), &[level]);
        }
    }
}

#[test]
fn differential_levels_and_sizes() {
    let text = sample_text(3 << 19, 7);
    for args in [
        &["-1"][..],
        &["-3"],
        &["-9", "--no-check"],
        &["-3", "--long=24"],
        &["-1", "--no-content-size"],
    ] {
        roundtrip(&text, args);
    }
    roundtrip(&text[..600_000], &["-19"]);
    roundtrip(&text[..600_000], &["--ultra", "-22", "--long=27"]);
    // incompressible: raw blocks; zeros: RLE blocks and long overlapping matches
    roundtrip(&random_bytes(1 << 20, 3), &["-3"]);
    roundtrip(&vec![0u8; 2 << 20], &["-3"]);
    roundtrip(&vec![0u8; 2 << 20], &["-19", "--no-check"]);
    // mixed: random islands inside text
    let mut mixed = sample_text(500_000, 11);
    for (i, chunk) in mixed.chunks_mut(50_000).enumerate() {
        if i % 3 == 1 {
            chunk.copy_from_slice(&random_bytes(chunk.len(), i as u64));
        }
    }
    roundtrip(&mixed, &["-3"]);
    roundtrip(&mixed, &["-19"]);
}

#[test]
fn differential_real_files() {
    // This test's own executable: a real ELF file with DWARF.
    let exe = std::fs::read(std::env::current_exe().expect("test executable")).expect("read test executable");
    let exe = &exe[..exe.len().min(3 << 20)];
    for level in ["-1", "-3", "-19"] {
        roundtrip(
            &exe[..exe.len().min(if level == "-19" { 1 << 19 } else { 3 << 20 })],
            &[level],
        );
    }
    let module = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pysym/_wasm/pysym.wasm");
    let module = std::fs::read(module).expect("the committed module");
    roundtrip(&module, &["-3"]);
    roundtrip(&module, &["-19", "--long=20"]);
}

#[test]
fn differential_many_frames() {
    let mut all = Vec::new();
    let mut z = Vec::new();
    for i in 0..40u64 {
        let part = if i % 4 == 3 {
            random_bytes(1000 + 37 * i as usize, i)
        } else {
            sample_text(50 * i as usize * i as usize, i)
        };
        z.extend_from_slice(&zstd_cli(&part, &[["-1", "-3", "-12", "-19"][i as usize % 4]]));
        if i % 5 == 0 {
            z.extend_from_slice(&[0x53, 0x2A, 0x4D, 0x18, 2, 0, 0, 0, 0xAB, 0xCD]);
        }
        all.extend_from_slice(&part);
    }
    assert_eq!(decompress(&z, all.len()).unwrap(), all);
    // multithreaded zstd: one frame of many independently compressed jobs
    let text = sample_text(3 << 20, 5);
    roundtrip(&text, &["-3", "-T2", "-B1048576"]);
}

#[test]
fn corrupted_frames_fail_cleanly() {
    // Every single-byte change in a compressed frame: an error or the same length, never
    // a panic, never past the limit.
    let text = sample_text(3000, 9);
    let z = zstd_cli(&text, &["-19"]);
    let mut r = Rng(99);
    for i in 0..z.len() {
        let mut bad = z.clone();
        bad[i] ^= 1 << (r.next() % 8);
        if let Ok(out) = decompress(&bad, text.len()) {
            assert!(out.len() <= text.len());
        }
    }
}
