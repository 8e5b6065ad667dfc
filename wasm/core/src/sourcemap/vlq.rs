//! Base64 VLQ and the `mappings` decoder (ECMA-426 §"Mappings structure").

use super::NONE;
use crate::error::{Error, ErrorKind, Result};
use std::mem::MaybeUninit;

/// Largest absolute position or index we accept: positions are non-negative and VLQ
/// values are limited to 32 bits including the sign, so anything above `i32::MAX` is
/// either an overflow or an attack.
pub(crate) const MAX_POS: i64 = i32::MAX as i64;

const INVALID: u8 = 0xFF;

/// base64 digit value per byte, [`INVALID`] for everything else.
static DECODE: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// The signed value of each one-digit VLQ (digit values 0..32).
static SINGLE: [i32; 32] = {
    let mut table = [0i32; 32];
    let mut d = 0;
    while d < 32 {
        let v = (d >> 1) as i32;
        table[d] = if d == 1 {
            i32::MIN
        } else if d & 1 == 1 {
            -v
        } else {
            v
        };
        d += 1;
    }
    table
};

/// Per byte: its [`CLASS`] in the low 8 bits, and for a one-digit VLQ its signed value
/// above them; `B` ("negative zero", -2^31) has class bits 32 (not a one-digit VLQ here).
static FIELD: [i32; 256] = {
    let mut table = [0i32; 256];
    let mut b = 0;
    while b < 256 {
        let c = CLASS[b];
        table[b] = if c == 1 {
            32
        } else if c < 32 {
            SINGLE[c as usize] << 8 | c as i32
        } else {
            c as i32
        };
        b += 1;
    }
    table
};

/// VLQSignedValue of an unsigned value below 2^30; `None` for "negative zero" (-2^31,
/// left to the general loop).
#[inline(always)]
fn signed32(acc: u32) -> Option<i32> {
    if acc == 1 {
        return None;
    }
    let v = (acc >> 1) as i32;
    Some(if acc & 1 != 0 { -v } else { v })
}

const ENCODE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Why a VLQ could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VlqError {
    /// A byte that is not a base64 digit, at this offset.
    BadChar(usize),
    /// The input ended after a continuation digit.
    Truncated(usize),
    /// The value does not fit in 32 bits (sign included), starting at this offset.
    Overflow(usize),
}

/// VLQSignedValue of an unsigned VLQ value below 2^32: the low bit is the sign, and
/// "negative zero" stands for -2^31.
#[inline(always)]
fn signed(acc: u64) -> i64 {
    let v = (acc >> 1) as i64;
    let neg = -((acc & 1) as i64);
    ((v ^ neg) - neg) - (((acc == 1) as i64) << 31)
}

/// Decodes a VLQ at `*pos` if a base64 digit is there, advancing `*pos` past it.
/// `Ok(None)` (cursor unchanged) at the end of input or at any other byte.
#[inline(always)]
fn decode_field(input: &[u8], pos: &mut usize) -> std::result::Result<Option<i64>, VlqError> {
    let start = *pos;
    let d = match input.get(start) {
        Some(&b) => DECODE[b as usize],
        None => return Ok(None),
    };
    if d < 32 {
        // One digit: the common case.
        *pos = start + 1;
        return Ok(Some(SINGLE[d as usize] as i64));
    }
    if d == INVALID {
        return Ok(None);
    }
    // Two digits (|value| < 512) without the general loop's checks: most multi-digit
    // fields of real maps.
    let d1 = match input.get(start + 1) {
        Some(&b) => DECODE[b as usize],
        None => return Err(VlqError::Truncated(start + 1)),
    };
    if d1 < 32 {
        *pos = start + 2;
        return Ok(Some(signed(((d & 31) as u64) | (d1 as u64) << 5)));
    }
    if d1 == INVALID {
        return Err(VlqError::BadChar(start + 1));
    }
    let mut acc = ((d & 31) as u64) | ((d1 & 31) as u64) << 5;
    let mut shift = 10u32;
    let mut i = start + 1;
    loop {
        i += 1;
        let d = match input.get(i) {
            Some(&b) => DECODE[b as usize],
            None => return Err(VlqError::Truncated(i)),
        };
        if d == INVALID {
            return Err(VlqError::BadChar(i));
        }
        // Up to 7 digits fit a u64 with room to spare; beyond that only zero digits
        // are allowed (leading zeros are valid: ECMA-426 only bounds the value).
        if shift < 35 {
            acc |= ((d & 31) as u64) << shift;
            shift += 5;
        } else if d & 31 != 0 {
            return Err(VlqError::Overflow(start));
        }
        if d < 32 {
            break;
        }
    }
    *pos = i + 1;
    // VLQUnsignedValue must be < 2^32 (which also bounds the magnitude below 2^31).
    if acc >= 1 << 32 {
        return Err(VlqError::Overflow(start));
    }
    Ok(Some(signed(acc)))
}

/// Decodes one VLQ at `*pos`, advancing `*pos` past it.
#[inline(always)]
pub(crate) fn decode_one(input: &[u8], pos: &mut usize) -> std::result::Result<i64, VlqError> {
    match decode_field(input, pos)? {
        Some(v) => Ok(v),
        None if *pos < input.len() => Err(VlqError::BadChar(*pos)),
        None => Err(VlqError::Truncated(*pos)),
    }
}

/// Appends the base64 VLQ encoding of `value` to `out`.
///
/// `i32::MIN` is encoded as "negative zero" (`B`), as ECMA-426 decodes it.
pub fn vlq_encode(value: i32, out: &mut String) {
    let mut v: u64 = if value == i32::MIN {
        1
    } else if value < 0 {
        ((-(value as i64)) as u64) << 1 | 1
    } else {
        (value as u64) << 1
    };
    loop {
        let mut digit = (v & 31) as u8;
        v >>= 5;
        if v != 0 {
            digit |= 32;
        }
        out.push(ENCODE[digit as usize] as char);
        if v == 0 {
            break;
        }
    }
}

/// Decodes one base64 VLQ from the start of `input`; returns the value and the number of
/// bytes consumed.
///
/// Errors (`InvalidMappings`) on a non-base64 byte, a missing continuation digit, or a
/// value outside the 32-bit range ECMA-426 allows.
pub fn vlq_decode(input: &[u8]) -> Result<(i32, usize)> {
    let mut pos = 0;
    match decode_one(input, &mut pos) {
        Ok(v) => Ok((v as i32, pos)),
        Err(e) => Err(Error::new(ErrorKind::InvalidMappings, describe_vlq_error(input, e))),
    }
}

fn describe_vlq_error(input: &[u8], e: VlqError) -> String {
    match e {
        VlqError::BadChar(at) => {
            let c = input[at];
            if c.is_ascii_graphic() || c == b' ' {
                format!("invalid base64 character {:?} at byte {at}", c as char)
            } else {
                format!("invalid byte 0x{c:02x} at byte {at}")
            }
        }
        VlqError::Truncated(at) => format!("VLQ continues past the end of input at byte {at}"),
        VlqError::Overflow(at) => format!("VLQ at byte {at} exceeds 32 bits"),
    }
}

/// Decoded tokens in struct-of-arrays form, sorted by generated (line, column).
#[derive(Default)]
pub(crate) struct Tokens {
    /// `line_starts[l]` is the index of the first token of generated line `l`; lines are
    /// opened lazily, and the owner appends the final sentinel.
    pub line_starts: Vec<u32>,
    pub dst_col: Vec<u32>,
    pub src: Vec<u32>,
    pub src_line: Vec<u32>,
    pub src_col: Vec<u32>,
    pub name: Vec<u32>,
}

impl Tokens {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.dst_col.len()
    }
}

/// Where one `mappings` string lands in the combined token table.
pub(crate) struct Placement {
    /// Added to every generated line.
    pub line_offset: u32,
    /// Added to generated columns on the first line only.
    pub col_offset: u32,
    /// Added to every source index.
    pub src_base: u32,
    /// Number of sources of this map (bounds check).
    pub src_count: u32,
    /// Added to every name index.
    pub name_base: u32,
    /// Number of names of this map (bounds check).
    pub name_count: u32,
}

/// What decoding one `mappings` string produced.
pub(crate) struct Decoded {
    /// Lines in the string (`;` count + 1), 0 for an empty string.
    pub lines: u32,
    /// The greatest generated (line, column) of its tokens, absolute.
    pub last: Option<(u32, u32)>,
}

/// A malformed `mappings` string: what and where.
enum Problem {
    Vlq(VlqError),
    EmptySegment(usize),
    FieldCount(usize, usize),
    NegativeColumn(i64),
    TooLarge,
    Source(i64, u32),
    OriginalLine(i64),
    OriginalColumn(i64),
    Name(i64, u32),
}

#[cold]
#[inline(never)]
fn mappings_error(m: &[u8], p: Problem, line: u32, segment: u32) -> Error {
    let what = match p {
        Problem::Vlq(e) => describe_vlq_error(m, e),
        Problem::EmptySegment(at) => format!("empty segment at byte {at}"),
        Problem::FieldCount(n, at) if n > 5 => {
            format!("segment with more than 5 fields at byte {at}")
        }
        Problem::FieldCount(n, at) => format!("segment with {n} fields ending at byte {at}"),
        Problem::NegativeColumn(c) => format!("negative generated column {c}"),
        Problem::TooLarge => "generated position exceeds 2^31-1".to_string(),
        Problem::Source(v, n) => format!("source index {v} out of range ({n} sources)"),
        Problem::OriginalLine(v) => format!("original line {v} out of range"),
        Problem::OriginalColumn(v) => format!("original column {v} out of range"),
        Problem::Name(v, n) => format!("name index {v} out of range ({n} names)"),
    };
    Error::new(
        ErrorKind::InvalidMappings,
        format!("mappings: {what} (line {line}, segment {segment})"),
    )
}

/// The token columns being written: the spare capacity of each column, reserved up front
/// for the most segments `mappings` can hold and written by index (no per-token capacity
/// checks, and no pass zeroing it first: ~5% of a parse), kept up to `len` afterwards.
struct Columns<'a> {
    dst_col: &'a mut [MaybeUninit<u32>],
    src: &'a mut [MaybeUninit<u32>],
    src_line: &'a mut [MaybeUninit<u32>],
    src_col: &'a mut [MaybeUninit<u32>],
    name: &'a mut [MaybeUninit<u32>],
    /// Index in the columns of the first slot (the tokens of earlier sections).
    base: usize,
    /// Slots written so far, each of the five in every one (`base + len` tokens in all).
    len: usize,
    /// Ranges of written slots whose generated columns are out of order (sorted once the
    /// slots are tokens).
    unsorted: Vec<(usize, usize)>,
    /// The first line's written slots and its column offset (an index-map section not
    /// starting at column 0), added once the slots are tokens.
    shifted: Option<(usize, usize, i64)>,
}

/// Keeps the `len` first slots of `column`, written by [`decode_into`].
#[allow(unsafe_code)]
fn keep_written(column: &mut Vec<u32>, len: usize) {
    assert!(len <= column.capacity());
    // SAFETY: `decode_into` writes the five spare slots at index `k` of `Columns` before
    // incrementing `k`, from the first spare slot on; `len` is `base` (the column's
    // length before) plus that count, so every slot below `len` is initialised.
    unsafe { column.set_len(len) }
}

/// Stable-sorts the tokens `from..to` of the five columns by generated column (rare:
/// unsorted input).
#[cold]
fn sort_tail(columns: [&mut [u32]; 5], from: usize, to: usize) {
    let mut perm: Vec<u32> = (from as u32..to as u32).collect();
    let dst_col = &*columns[0];
    perm.sort_by_key(|&i| dst_col[i as usize]);
    for field in columns {
        let sorted: Vec<u32> = perm.iter().map(|&i| field[i as usize]).collect();
        field[from..to].copy_from_slice(&sorted);
    }
}

/// Decodes `m` into `out`. Errors name the byte, line and segment. `separators`: the
/// `,` and `;` of `m`, when the JSON scan counted them.
pub(crate) fn decode_mappings(
    m: &[u8],
    separators: Option<usize>,
    at: &Placement,
    out: &mut Tokens,
) -> Result<Decoded> {
    decode_mappings_in::<true>(m, separators, at, out)
}

/// [`decode_mappings`] with the general loop only (no [`quick_run`]): the reference the
/// tests compare it with.
#[cfg(test)]
pub(crate) fn decode_mappings_general(m: &[u8], at: &Placement, out: &mut Tokens) -> Result<Decoded> {
    decode_mappings_in::<false>(m, None, at, out)
}

/// [`decode_mappings`]; `QUICK`: whether runs of plain segments take [`quick_run`].
fn decode_mappings_in<const QUICK: bool>(
    m: &[u8],
    separators: Option<usize>,
    at: &Placement,
    out: &mut Tokens,
) -> Result<Decoded> {
    if m.is_empty() {
        return Ok(Decoded { lines: 0, last: None });
    }
    // Segments <= separators + 1.
    let first = out.len();
    let room = separators.unwrap_or_else(|| count_separators(m)) + 1;
    for column in [
        &mut out.dst_col,
        &mut out.src,
        &mut out.src_line,
        &mut out.src_col,
        &mut out.name,
    ] {
        // (keep_written's safety: every column's spare slots start at `first`)
        assert_eq!(column.len(), first);
        column.reserve_exact(room);
    }
    let mut cols = Columns {
        dst_col: &mut out.dst_col.spare_capacity_mut()[..room],
        src: &mut out.src.spare_capacity_mut()[..room],
        src_line: &mut out.src_line.spare_capacity_mut()[..room],
        src_col: &mut out.src_col.spare_capacity_mut()[..room],
        name: &mut out.name.spare_capacity_mut()[..room],
        base: first,
        len: 0,
        unsorted: Vec::new(),
        shifted: None,
    };
    let result = decode_into::<QUICK>(m, at, &mut cols, &mut out.line_starts);
    let len = first + cols.len;
    let (unsorted, shifted) = (std::mem::take(&mut cols.unsorted), cols.shifted);
    for column in [
        &mut out.dst_col,
        &mut out.src,
        &mut out.src_line,
        &mut out.src_col,
        &mut out.name,
    ] {
        keep_written(column, len);
    }
    let (lines, last_line) = result.map_err(|(p, line, segment)| mappings_error(m, p, line, segment))?;
    for (from, to) in unsorted {
        sort_tail(
            [
                &mut out.dst_col[..],
                &mut out.src[..],
                &mut out.src_line[..],
                &mut out.src_col[..],
                &mut out.name[..],
            ],
            first + from,
            first + to,
        );
    }
    if let Some((from, to, offset)) = shifted {
        shift_columns(&mut out.dst_col[first + from..first + to], offset);
    }
    let last = if len > first {
        Some((last_line, out.dst_col[len - 1]))
    } else {
        None
    };
    Ok(Decoded { lines, last })
}

/// Counts `,` and `;` eight bytes at a time (wasm has no byte vectors without SIMD).
pub(crate) fn count_separators(m: &[u8]) -> usize {
    /// Bit 7 set in each byte of `w` equal to the byte repeated in `pattern` (exact: the
    /// low seven bits are added without carries between bytes).
    #[inline(always)]
    fn equal_bytes(w: u64, pattern: u64) -> u64 {
        const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
        let x = w ^ pattern;
        !(((x & LOW7) + LOW7) | x) & !LOW7
    }
    let mut n = 0usize;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let m = {
        use core::arch::wasm32::*;
        let mut i = 0;
        while let Some(v) = super::json::wide::load(m, i) {
            let hits = v128_or(u8x16_eq(v, u8x16_splat(b',')), u8x16_eq(v, u8x16_splat(b';')));
            n += u8x16_bitmask(hits).count_ones() as usize;
            i += 16;
        }
        &m[i..]
    };
    let mut words = m.chunks_exact(8);
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let hits = equal_bytes(w, ONES * b',' as u64) | equal_bytes(w, ONES * b';' as u64);
        n += hits.count_ones() as usize;
    }
    n + words.remainder().iter().filter(|&&b| b == b',' || b == b';').count()
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// Class of a `mappings` byte: base64 digit values 0..64 (bit 5: continuation), then
/// the separators; [`INVALID`] for everything else. [`END`] stands for the end of input.
static CLASS: [u8; 256] = {
    let mut table = DECODE;
    table[b',' as usize] = COMMA;
    table[b';' as usize] = SEMI;
    table
};
const COMMA: u8 = 64;
const SEMI: u8 = 65;
const END: u8 = 66;

/// The class of `m[i]`, [`END`] past the end.
#[inline(always)]
fn class_at(m: &[u8], i: usize) -> u8 {
    match m.get(i) {
        Some(&b) => CLASS[b as usize],
        None => END,
    }
}

/// Decodes the VLQ at `*i`, whose first byte has digit value `c` (< 64), advancing `*i`
/// past it.
#[inline(always)]
fn vlq_at(m: &[u8], i: &mut usize, c: u8) -> std::result::Result<i64, VlqError> {
    if c < 32 {
        // One digit: four fields in five.
        *i += 1;
        return Ok(SINGLE[c as usize] as i64);
    }
    // Up to seven digits (35 bits) here without an overflow check per digit; longer
    // ones (leading zero digits are valid) take the general loop.
    let start = *i;
    let mut acc = (c & 31) as u64;
    let mut shift = 5;
    let mut j = start + 1;
    loop {
        let d = class_at(m, j);
        if d >= COMMA {
            return Err(if d == END {
                VlqError::Truncated(j)
            } else {
                VlqError::BadChar(j)
            });
        }
        acc |= ((d & 31) as u64) << shift;
        j += 1;
        if d < 32 {
            break;
        }
        shift += 5;
        if shift == 35 {
            return decode_one(m, i);
        }
    }
    *i = j;
    if acc >= 1 << 32 {
        return Err(VlqError::Overflow(start));
    }
    Ok(signed(acc))
}

/// The running values of a [`quick_run`], as `u32`s: between segments all five are in
/// range (0..=MAX_POS, indices below their counts), so the `i64`s of [`decode_into`]
/// convert both ways without loss.
struct Run {
    col: u32,
    src: u32,
    line: u32,
    column: u32,
    name: u32,
    /// The OR of the generated column deltas (negative: out of order).
    deltas: i32,
    /// Cursor and slot.
    i: usize,
    k: usize,
}

/// The bounds of a [`quick_run`]: a value is in range iff it is below its bound (a
/// negative value wraps above every bound, all of them at most 2^31).
struct RunBounds {
    col: u32,
    src: u32,
    name: u32,
    src_base: u32,
    name_base: u32,
}

/// How a [`quick_run`] stopped.
enum RunEnd {
    /// At `run.i`: the start of a segment it leaves to the general loop, or a byte after
    /// a `,` that does not start one.
    Stop,
    /// At the separator after its last segment (`run.i`), of this class.
    Separator(u8),
}

/// A VLQ of two to six digits at `*j` whose first digit value is `c` (32..64), advancing
/// `*j`; `None` for anything else (more digits, "negative zero", a bad byte).
#[inline(always)]
fn short_vlq(m: &[u8], j: &mut usize, c: u8) -> Option<i32> {
    let mut acc = (c & 31) as u32;
    let mut shift = 5;
    let mut at = *j + 1;
    loop {
        let d = class_at(m, at);
        if d >= COMMA {
            return None;
        }
        acc |= ((d & 31) as u32) << shift;
        at += 1;
        if d < 32 {
            break;
        }
        shift += 5;
        if shift == 30 {
            return None;
        }
    }
    *j = at;
    signed32(acc)
}

/// A field of at most six digits at `*j`, advancing `*j`; `None` for anything else.
#[inline(always)]
fn short_field(m: &[u8], j: &mut usize) -> Option<i32> {
    let c = class_at(m, *j);
    if c < 32 {
        *j += 1;
        Some(SINGLE[c as usize])
    } else if c < COMMA {
        short_vlq(m, j, c)
    } else {
        None
    }
}

/// The source, line and column fields of a segment at `i` from `w` (the 8 bytes at `i`)
/// when its first field ends before `w[O]`: two one-digit VLQs, then one of one digit
/// (tested with one branch) or two; then its fifth field if any ([`window_fifth`]), the
/// end of the segment and the class of the byte there. `F` and `G` are `O + 3` and
/// `O + 4` (where a fifth field starts). `None`: anything else (the caller reads the
/// segment field by field).
#[allow(clippy::type_complexity)]
#[inline(always)]
fn window_rest<const O: usize, const F: usize, const G: usize>(
    m: &[u8],
    i: usize,
    w: &[u8; 8],
) -> Option<((i32, i32, i32), Option<Option<i32>>, usize, u8)> {
    let (e1, e2, e3) = (FIELD[w[O] as usize], FIELD[w[O + 1] as usize], FIELD[w[O + 2] as usize]);
    if (e1 | e2 | e3) & 0xE0 == 0 {
        let (name, j, c) = window_fifth::<F>(m, i, w);
        return Some(((e1 >> 8, e2 >> 8, e3 >> 8), name, j, c));
    }
    // A two-digit original column (one segment in ten).
    if (e1 | e2) & 0xE0 != 0 {
        return None;
    }
    let (c3, c4) = (CLASS[w[O + 2] as usize], CLASS[w[O + 3] as usize]);
    // (`B` is a final digit with class bits here)
    if !(32..COMMA).contains(&c3) || c4 >= 32 {
        return None;
    }
    let column = signed32((c3 & 31) as u32 | (c4 as u32) << 5)?;
    let (name, j, c) = window_fifth::<G>(m, i, w);
    Some(((e1 >> 8, e2 >> 8, column), name, j, c))
}

/// The fifth field of a segment at `i` if it has one (`w`: the 8 bytes at `i`), starting
/// at `w[N]` (N <= 6): its delta (`None` inside: one [`short_vlq`] does not take), the end
/// of the segment and the class of the byte there. Fields of up to three digits are read
/// from `w` when they and the byte after them fit.
#[inline(always)]
fn window_fifth<const N: usize>(m: &[u8], i: usize, w: &[u8; 8]) -> (Option<Option<i32>>, usize, u8) {
    let c4 = CLASS[w[N] as usize];
    if c4 >= COMMA {
        return (None, i + N, c4);
    }
    if let Some(&b) = w.get(N + 1) {
        if c4 < 32 {
            return (Some(Some(SINGLE[c4 as usize])), i + N + 1, CLASS[b as usize]);
        }
        let c5 = CLASS[b as usize];
        if let Some(&b6) = w.get(N + 2) {
            if c5 < 32 {
                let v = signed32((c4 & 31) as u32 | (c5 as u32) << 5);
                return (Some(v), i + N + 2, CLASS[b6 as usize]);
            }
            if let Some(&b7) = w.get(N + 3) {
                let c6 = CLASS[b6 as usize];
                if c5 < COMMA && c6 < 32 {
                    let v = signed32((c4 & 31) as u32 | ((c5 & 31) as u32) << 5 | (c6 as u32) << 10);
                    return (Some(v), i + N + 3, CLASS[b7 as usize]);
                }
            }
        }
    }
    let mut j = i + N;
    let v = if c4 < 32 {
        j += 1;
        Some(SINGLE[c4 as usize])
    } else {
        short_vlq(m, &mut j, c4)
    };
    (Some(v), j, class_at(m, j))
}

/// Decodes and stores segments from `run.i` (a segment start) while they are valid, have
/// one, four or five fields of at most six digits (every segment of real maps), and are
/// followed by `,`. It stops at the first other segment, valid or not (the general loop
/// decodes it and reports any error as before), at the separator after its last segment,
/// or after a `,` not followed by a digit. Its state is `u32`s (no conversions), and most
/// segments are read from an 8-byte window: one bounds check for their first fields.
#[inline(always)]
fn quick_run(m: &[u8], run: &mut Run, bounds: &RunBounds, cols: [&mut [MaybeUninit<u32>]; 5]) -> RunEnd {
    let [dst_col, src_out, line_out, col_out, name_out] = cols;
    let room = dst_col.len();
    let (dst_col, src_out, line_out, col_out, name_out) = (
        dst_col,
        &mut src_out[..room],
        &mut line_out[..room],
        &mut col_out[..room],
        &mut name_out[..room],
    );
    loop {
        let i = run.i;
        // (generated column, source, line, column deltas), the fifth field's delta if any,
        // and where the segment ends. Most segments of real maps start with four one-digit
        // VLQs, or a two-digit one and three: they are read from a window of 8 bytes loaded
        // after one bounds check; the rest field by field.
        let quick = match m.get(i..i + 8).and_then(|w| <&[u8; 8]>::try_from(w).ok()) {
            Some(w) => {
                let e0 = FIELD[w[0] as usize];
                if e0 & 0xE0 == 0 {
                    window_rest::<1, 4, 5>(m, i, w).map(|(d, name, j, c)| ((e0 >> 8, d.0, d.1, d.2), name, j, c))
                } else {
                    // A two-digit generated column delta (one segment in ten).
                    let (c0, c1) = (CLASS[w[0] as usize], CLASS[w[1] as usize]);
                    // (`B` is a final digit with class bits here)
                    let two = (32..COMMA).contains(&c0) && c1 < 32;
                    match two.then(|| signed32((c0 & 31) as u32 | (c1 as u32) << 5)) {
                        Some(Some(delta)) => {
                            window_rest::<2, 5, 6>(m, i, w).map(|(d, name, j, c)| ((delta, d.0, d.1, d.2), name, j, c))
                        }
                        _ => None,
                    }
                }
            }
            None => None,
        };
        let fields = match quick {
            Some(f) => Some(f),
            None => {
                let mut j = i;
                let d0 = short_field(m, &mut j);
                let c1 = class_at(m, j);
                if let (Some(delta), true) = (d0, c1 >= COMMA) {
                    // One field (generated code from no source): stored here, so the
                    // common path keeps four.
                    let col = run.col.wrapping_add(delta as u32);
                    let k = run.k;
                    if col >= bounds.col || c1 == INVALID || k >= room {
                        return RunEnd::Stop;
                    }
                    dst_col[k] = MaybeUninit::new(col);
                    src_out[k] = MaybeUninit::new(NONE);
                    line_out[k] = MaybeUninit::new(NONE);
                    col_out[k] = MaybeUninit::new(NONE);
                    name_out[k] = MaybeUninit::new(NONE);
                    run.k = k + 1;
                    run.col = col;
                    run.deltas |= delta;
                    if c1 != COMMA {
                        run.i = j;
                        return RunEnd::Separator(c1);
                    }
                    run.i = j + 1;
                    continue;
                }
                let d1 = short_field(m, &mut j);
                let d2 = short_field(m, &mut j);
                let d3 = short_field(m, &mut j);
                match (d0, d1, d2, d3) {
                    (Some(d0), Some(d1), Some(d2), Some(d3)) => {
                        let c4 = class_at(m, j);
                        if c4 < COMMA {
                            short_field(m, &mut j).map(|v| ((d0, d1, d2, d3), Some(Some(v)), j, class_at(m, j)))
                        } else {
                            Some(((d0, d1, d2, d3), None, j, c4))
                        }
                    }
                    _ => None,
                }
            }
        };
        // (A fifth field of "negative zero", unlikely to be valid, is left to the
        // general loop: `signed32` gives `None`.)
        let ((delta, d1, d2, d3), name_delta, j, c) = match fields {
            Some((d, Some(Some(v)), j, c)) => (d, Some(v), j, c),
            Some((d, None, j, c)) => (d, None, j, c),
            _ => return RunEnd::Stop,
        };
        let col = run.col.wrapping_add(delta as u32);
        let src = run.src.wrapping_add(d1 as u32);
        let line = run.line.wrapping_add(d2 as u32);
        let column = run.column.wrapping_add(d3 as u32);
        // MAX_POS is 2^31 - 1: one sign test for both.
        if col >= bounds.col || src >= bounds.src || (line | column) > MAX_POS as u32 {
            return RunEnd::Stop;
        }
        let mut name = run.name;
        let mut t_name = NONE;
        if let Some(v) = name_delta {
            name = name.wrapping_add(v as u32);
            if name >= bounds.name {
                return RunEnd::Stop;
            }
            t_name = bounds.name_base + name;
        }
        // A sixth field or a bad byte: the general loop's errors.
        let k = run.k;
        if c < COMMA || c == INVALID || k >= room {
            return RunEnd::Stop;
        }
        dst_col[k] = MaybeUninit::new(col);
        src_out[k] = MaybeUninit::new(bounds.src_base + src);
        line_out[k] = MaybeUninit::new(line);
        col_out[k] = MaybeUninit::new(column);
        name_out[k] = MaybeUninit::new(t_name);
        run.k = k + 1;
        (run.col, run.src, run.line, run.column, run.name) = (col, src, line, column, name);
        run.deltas |= delta;
        if c != COMMA {
            run.i = j;
            return RunEnd::Separator(c);
        }
        run.i = j + 1;
    }
}

/// Opens generated line `line` at token `k` (its first token), and any lines before it
/// that have none.
#[inline(never)]
fn open_line(line_starts: &mut Vec<u32>, line: u32, k: usize) {
    if line_starts.len() <= line as usize {
        line_starts.resize(line as usize + 1, k as u32);
    }
}

/// Adds the first line's column offset (an index-map section not starting at column 0)
/// to that line's tokens, kept apart from the loop.
#[cold]
fn shift_columns(dst_col: &mut [u32], offset: i64) {
    for c in dst_col {
        *c += offset as u32;
    }
}

/// The decode loop; errors carry the generated line and segment they occurred in.
///
/// The loop state is kept small (it is most of a parse's time): the segment number is
/// `k - line_first`, the line number `abs_line - line_offset`, a line is out of order iff
/// one of its column deltas is negative, and the first line's column offset is applied
/// when that line ends.
fn decode_into<const QUICK: bool>(
    m: &[u8],
    at: &Placement,
    out: &mut Columns<'_>,
    line_starts: &mut Vec<u32>,
) -> std::result::Result<(u32, u32), (Problem, u32, u32)> {
    // The slot count lives in a local in the loop and is stored back on every exit.
    let mut k = 0;
    let mut abs_line = at.line_offset as i64;
    let mut line_first = 0;
    macro_rules! fail {
        ($p:expr) => {{
            out.len = k;
            let line = (abs_line - at.line_offset as i64) as u32;
            return Err(($p, line, (k - line_first) as u32));
        }};
    }
    macro_rules! vlq {
        ($i:ident, $c:expr) => {
            match vlq_at(m, &mut $i, $c) {
                Ok(v) => v,
                Err(e) => fail!(Problem::Vlq(e)),
            }
        };
    }
    let mut col_offset = at.col_offset as i64;
    // Largest relative column allowed on this line (-1: the line itself is too large).
    let line_limit = |abs_line: i64, col_offset: i64| {
        if abs_line > MAX_POS {
            -1
        } else {
            MAX_POS - col_offset
        }
    };
    let mut col_limit = line_limit(abs_line, col_offset);
    // The same as a bound for one unsigned comparison (columns below it are allowed).
    let bound = |limit: i64| (limit + 1).max(0) as u32;
    let mut col_bound = bound(col_limit);
    let (mut col, mut src, mut src_line, mut src_col, mut name) = (0i64, 0i64, 0i64, 0i64, 0i64);
    // The OR of this line's column deltas: negative iff the line is out of order.
    let mut col_deltas: i64 = 0;
    let mut last_line: u32 = 0;
    let src_count = at.src_count as u64;
    let name_count = at.name_count as u64;
    // Equal lengths let one check of `k` cover the five stores.
    let room = out.dst_col.len();
    let dst_col = &mut out.dst_col[..room];
    let src_out = &mut out.src[..room];
    let line_out = &mut out.src_line[..room];
    let col_out = &mut out.src_col[..room];
    let name_out = &mut out.name[..room];
    // The tokens of the current line (slots `line_first` to `k`) are out of order: sorted
    // once they are tokens.
    macro_rules! sort_line {
        () => {
            out.unsorted.push((line_first, k))
        };
    }

    let mut i = 0;
    // The class of `m[i]` throughout.
    let mut c = class_at(m, 0);
    loop {
        if c >= COMMA {
            if c == SEMI {
                if col_deltas < 0 {
                    sort_line!();
                    col_deltas = 0;
                }
                if col_offset != 0 {
                    out.shifted = Some((line_first, k, col_offset));
                    col_offset = 0;
                }
                line_first = k;
                col = 0;
                abs_line += 1;
                col_limit = line_limit(abs_line, 0);
                col_bound = bound(col_limit);
                i += 1;
                c = class_at(m, i);
                continue;
            }
            match c {
                END => break,
                COMMA => fail!(Problem::EmptySegment(i)),
                _ => fail!(Problem::Vlq(VlqError::BadChar(i))),
            }
        }

        if QUICK {
            if k == line_first {
                last_line = abs_line as u32;
                open_line(line_starts, last_line, out.base + k);
            }
            let mut run = Run {
                col: col as u32,
                src: src as u32,
                line: src_line as u32,
                column: src_col as u32,
                name: name as u32,
                deltas: 0,
                i,
                k,
            };
            let bounds = RunBounds {
                col: col_bound,
                src: at.src_count,
                name: at.name_count,
                src_base: at.src_base,
                name_base: at.name_base,
            };
            let end = quick_run(
                m,
                &mut run,
                &bounds,
                [
                    &mut dst_col[..],
                    &mut src_out[..],
                    &mut line_out[..],
                    &mut col_out[..],
                    &mut name_out[..],
                ],
            );
            (col, src, src_line, src_col, name) = (
                run.col as i64,
                run.src as i64,
                run.line as i64,
                run.column as i64,
                run.name as i64,
            );
            col_deltas |= run.deltas as i64;
            (i, k) = (run.i, run.k);
            match end {
                RunEnd::Stop => {
                    c = class_at(m, i);
                    if c >= COMMA {
                        // After a `,` (a run starts at a digit).
                        if c != INVALID {
                            fail!(Problem::EmptySegment(i));
                        }
                        continue;
                    }
                }
                RunEnd::Separator(sep) => {
                    c = sep;
                    if c == COMMA {
                        i += 1;
                        c = class_at(m, i);
                        if c >= COMMA && c != INVALID {
                            fail!(Problem::EmptySegment(i));
                        }
                    }
                    continue;
                }
            }
        }

        // Field 1: generated column, relative within the line.
        let delta = vlq!(i, c);
        col += delta;
        col_deltas |= delta;
        if col < 0 {
            fail!(Problem::NegativeColumn(col));
        }
        if col > col_limit {
            fail!(Problem::TooLarge);
        }
        let (mut t_src, mut t_line, mut t_col, mut t_name) = (NONE, NONE, NONE, NONE);
        c = class_at(m, i);
        if c < COMMA {
            src += vlq!(i, c);
            c = class_at(m, i);
            if c >= COMMA {
                fail!(Problem::FieldCount(2, i));
            }
            src_line += vlq!(i, c);
            c = class_at(m, i);
            if c >= COMMA {
                fail!(Problem::FieldCount(3, i));
            }
            src_col += vlq!(i, c);
            // One unsigned comparison per range (a negative value wraps above it).
            if src as u64 >= src_count {
                fail!(Problem::Source(src, at.src_count));
            }
            if src_line as u64 > MAX_POS as u64 {
                fail!(Problem::OriginalLine(src_line));
            }
            if src_col as u64 > MAX_POS as u64 {
                fail!(Problem::OriginalColumn(src_col));
            }
            t_src = at.src_base + src as u32;
            t_line = src_line as u32;
            t_col = src_col as u32;
            c = class_at(m, i);
            if c < COMMA {
                name += vlq!(i, c);
                if name as u64 >= name_count {
                    fail!(Problem::Name(name, at.name_count));
                }
                t_name = at.name_base + name as u32;
                c = class_at(m, i);
                if c < COMMA {
                    // A digit after a fifth field (a shorter segment takes it as its
                    // next field).
                    fail!(Problem::FieldCount(6, i));
                }
            }
        }
        if c == INVALID {
            fail!(Problem::Vlq(VlqError::BadChar(i)));
        }
        if k == line_first {
            last_line = abs_line as u32;
            open_line(line_starts, last_line, out.base + k);
        }
        if k >= room {
            // Unreachable: `room` counts the separators.
            break;
        }
        dst_col[k] = MaybeUninit::new(col as u32);
        src_out[k] = MaybeUninit::new(t_src);
        line_out[k] = MaybeUninit::new(t_line);
        col_out[k] = MaybeUninit::new(t_col);
        name_out[k] = MaybeUninit::new(t_name);
        k += 1;

        if c == COMMA {
            i += 1;
            c = class_at(m, i);
            if c >= COMMA && c != INVALID {
                fail!(Problem::EmptySegment(i));
            }
        }
    }
    out.len = k;
    if col_deltas < 0 {
        sort_line!();
    }
    if col_offset != 0 {
        out.shifted = Some((line_first, k, col_offset));
    }
    let lines = (abs_line - at.line_offset as i64) as u32 + 1;
    Ok((lines, last_line))
}
