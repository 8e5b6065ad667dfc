//! UTF-8 validation, 64 bytes a step while the bytes are ASCII: of the runs of non-ASCII
//! bytes the JSON scanner meets, and the text of a document it checked.
//!
//! std's validator takes 8 bytes a step on wasm32 (two `usize` words): 13% of a 31 MB
//! map's parse. Here blocks of 64 ASCII bytes take one test each (four 16-byte vectors
//! in SIMD builds, eight words otherwise); a block with a non-ASCII byte, and the tail,
//! are handed to std's validator, one window at a time, starting at a character
//! boundary. So the answer, including the error position, is std's by construction:
//! validating the windows of a split at character boundaries is validating the whole.

/// Bytes per fast-path step, and the size of a window handed to std.
const BLOCK: usize = 64;

/// Whether `block` (64 bytes) is all ASCII.
#[inline(always)]
fn ascii_block(block: &[u8]) -> bool {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::*;
        match super::json::wide::load4(block, 0) {
            Some([a, b, c, d]) => u8x16_bitmask(v128_or(v128_or(a, b), v128_or(c, d))) == 0,
            None => false,
        }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let mut any = 0u64;
        for chunk in block.chunks_exact(8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            any |= u64::from_le_bytes(w);
        }
        any & 0x8080_8080_8080_8080 == 0
    }
}

/// Validates `data` as UTF-8: the text, or std's `valid_up_to` (the length of the
/// longest valid prefix) on error.
pub(crate) fn from_utf8(data: &[u8]) -> Result<&str, usize> {
    let mut i = 0;
    while i < data.len() {
        if let Some(block) = data.get(i..i + BLOCK) {
            if ascii_block(block) {
                i += BLOCK;
                continue;
            }
        }
        // A window from a character boundary (`i`) through std. A character cut by the
        // window's end is left for the next window, unless the input ends there.
        let end = data.len().min(i + BLOCK);
        match std::str::from_utf8(&data[i..end]) {
            Ok(_) => i = end,
            Err(e) if e.error_len().is_none() && end < data.len() => {
                // At most 3 bytes of a 4-byte character are cut off: progress is made.
                i += e.valid_up_to();
            }
            Err(e) => return Err(i + e.valid_up_to()),
        }
    }
    // Every byte is in a window that validated, and each window starts where the
    // previous one's last whole character ends: the whole is valid UTF-8.
    Ok(valid(data))
}

/// The text of a source map a checking JSON scanner read to its end (it checked the
/// UTF-8 of every byte on the way: [`super::json::Scanner::checking`]).
pub(crate) fn checked_text(doc: super::json::Checked<'_>) -> &str {
    valid(doc.bytes())
}

/// `data` as text; every caller has checked that it is UTF-8.
fn valid(data: &[u8]) -> &str {
    // SAFETY: the callers' data is valid UTF-8: `from_utf8` validated it (std's validator
    // on every window with a non-ASCII byte; ASCII is UTF-8; its tests compare answers
    // with std::str::from_utf8), and a `Checked` is only made by a checking scanner that
    // reached the end of the document: it checks every run of non-ASCII bytes with
    // `from_utf8` and accepts nothing but ASCII between strings (the tests in
    // sourcemap/tests.rs compare its answers with std's on mutated maps).
    #[allow(unsafe_code)]
    let text = unsafe { std::str::from_utf8_unchecked(data) };
    text
}

#[cfg(test)]
mod tests {
    use super::from_utf8;

    fn std_answer(data: &[u8]) -> Result<&str, usize> {
        std::str::from_utf8(data).map_err(|e| e.valid_up_to())
    }

    /// A small deterministic generator (no dependency).
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn agrees_with_std() {
        let pieces: [&[u8]; 12] = [
            b"a",
            b"abcdefgh",
            "é".as_bytes(),
            "€".as_bytes(),
            "😀".as_bytes(),
            b"\xff",
            b"\xc3",
            b"\xe2\x82",
            b"\xf0\x9f\x98",
            b"\xed\xa0\x80",
            b"\xc0\x80",
            b"\x80",
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..20_000 {
            let mut data = Vec::new();
            // runs of ASCII long enough to cross 64-byte blocks, with rare other pieces
            let parts = (next(&mut state) % 24) as usize;
            for _ in 0..parts {
                let r = next(&mut state);
                if r % 4 != 0 {
                    data.extend(std::iter::repeat(b'x').take((r >> 8) as usize % 90));
                }
                let valid_only = round % 2 == 0;
                let choices = if valid_only { 5 } else { pieces.len() };
                data.extend_from_slice(pieces[(r >> 16) as usize % choices]);
            }
            assert_eq!(from_utf8(&data), std_answer(&data), "{data:?}");
            // every cut of the input too (ends inside characters)
            if round % 50 == 0 {
                for cut in 0..data.len() {
                    assert_eq!(from_utf8(&data[..cut]), std_answer(&data[..cut]));
                }
            }
        }
    }

    #[test]
    fn every_position_of_a_multibyte_character_across_a_block_edge() {
        for ch in ["é", "€", "😀"] {
            for at in 56..72 {
                let mut data = vec![b'a'; at];
                data.extend_from_slice(ch.as_bytes());
                data.extend(vec![b'b'; 80]);
                assert_eq!(from_utf8(&data), std_answer(&data));
                // and cut short, and with a bad byte after it
                let cut = &data[..at + ch.len() - 1];
                assert_eq!(from_utf8(cut), Err(at));
                data[at + ch.len()] = 0xff;
                assert_eq!(from_utf8(&data), Err(at + ch.len()));
            }
        }
        assert_eq!(from_utf8(b""), Ok(""));
    }
}
