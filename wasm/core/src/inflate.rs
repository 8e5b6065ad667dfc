//! A DEFLATE decoder (RFC 1951) with the zlib wrapper (RFC 1950), for compressed debug
//! sections (`SHF_COMPRESSED` with `ELFCOMPRESS_ZLIB`, `.zdebug_*`).
//!
//! Written for speed inside wasm32, where miniz_oxide keeps a 32-bit bit buffer and decodes
//! long codes by walking a tree: here the bit buffer is 64 bits (wasm has native i64), it is
//! refilled 8 bytes at a time, one refill covers a whole length/distance pair, and codes are
//! decoded by a table lookup (a 10-bit root table with second-level tables for longer codes,
//! each entry carrying its symbol's base value and bit counts; tables of a fixed power-of-two
//! size, indexed without bounds checks). Matches are copied 16 or 8 bytes at a time when they
//! do not overlap within a step. Most of a block is decoded by `fast`, which keeps margins
//! of input and output so that it checks neither per symbol.
//!
//! The output never grows past the caller's limit. The work is bounded by a constant per
//! input and output byte: every symbol either produces output or ends a block, and every
//! block header consumes input. Reading past the end of the input is an error, found at
//! the next refill or at the end of the stream.

use std::fmt;

/// Why a deflate or zlib stream was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InflateError {
    /// The input ended inside the stream.
    Truncated,
    /// The zlib header is not one (method, window size, check bits, preset dictionary).
    BadHeader(&'static str),
    /// A block is malformed (`what` says which part).
    Corrupt(&'static str),
    /// A match reaches before the start of the output.
    BadDistance {
        /// The match distance.
        distance: u64,
        /// How many bytes were there to refer back to.
        produced: u64,
    },
    /// The output would exceed the caller's limit.
    TooLarge {
        /// The caller's limit in bytes.
        limit: u64,
    },
    /// The Adler-32 of the output is not the one the zlib trailer holds.
    Checksum {
        /// The trailer's value.
        expected: u32,
        /// The output's.
        actual: u32,
    },
    /// The output could not be allocated.
    OutOfMemory,
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InflateError::Truncated => write!(f, "deflate stream truncated"),
            InflateError::BadHeader(w) => write!(f, "bad zlib header: {}", w),
            InflateError::Corrupt(w) => write!(f, "corrupt deflate stream: {}", w),
            InflateError::BadDistance { distance, produced } => {
                write!(
                    f,
                    "deflate match {} bytes back with {} bytes produced",
                    distance, produced
                )
            }
            InflateError::TooLarge { limit } => write!(f, "inflates to more than {} bytes", limit),
            InflateError::Checksum { expected, actual } => {
                write!(f, "zlib checksum {:08x}, output has {:08x}", expected, actual)
            }
            InflateError::OutOfMemory => write!(f, "cannot allocate the inflated output"),
        }
    }
}

impl std::error::Error for InflateError {}

type Res<T> = std::result::Result<T, InflateError>;

/// Inflates a zlib stream (header, deflate data, Adler-32 trailer) that must produce exactly
/// `size` bytes, as a compressed section declares. Trailing bytes after the stream are
/// ignored.
pub fn zlib_exact(src: &[u8], size: usize) -> Res<Vec<u8>> {
    zlib_exact_marked(src, size, 0).map(|(out, _)| out)
}

/// A place a deflate stream can be inflated again from ([`raw_from`]): the start of a
/// block, with the 32 KiB of output before it that its matches may refer back to.
pub struct Restart {
    /// The block's first bit in the zlib stream (its 2-byte header included).
    pub bit: u64,
    /// The output produced before it.
    pub out: u64,
    /// The (at most) 32 KiB of output just before it.
    pub window: Box<[u8]>,
}

/// [`zlib_exact`], also giving a [`Restart`] at the first block and at the first block
/// starting at or after every `every` bytes of output from the last (none when `every` is 0).
pub fn zlib_exact_marked(src: &[u8], size: usize, every: usize) -> Res<(Vec<u8>, Vec<Restart>)> {
    let mut out = Vec::new();
    if out.try_reserve_exact(size).is_err() {
        return Err(InflateError::OutOfMemory);
    }
    let mut marks = Marks {
        every,
        // (a restart at 0 too: any output can be inflated again from one)
        next: if every == 0 { usize::MAX } else { 0 },
        at: Vec::new(),
    };
    zlib_marked(src, &mut out, size, &mut marks)?;
    if out.len() != size {
        return Err(InflateError::Corrupt("the stream ends before the declared size"));
    }
    Ok((out, marks.at))
}

/// Inflates a zlib stream again from `at` (one of [`zlib_exact_marked`]'s restarts):
/// `src` holds the stream's bytes from byte `at.bit / 8` on. Gives the output after the
/// restart, at least `want` bytes of it unless the stream ends first (the trailer is not
/// checked again: the whole stream was, when `at` was made).
pub fn raw_from(src: &[u8], at: &Restart, want: usize) -> Res<Vec<u8>> {
    // What one step past `want` may write: a match, or a stored block whole.
    const STEP: usize = (64 << 10) + 258;
    let limit = at.window.len() + want + STEP;
    let mut out = Vec::new();
    if out.try_reserve_exact(limit).is_err() {
        return Err(InflateError::OutOfMemory);
    }
    out.extend_from_slice(&at.window);
    let mut d = Inflater::new(src, out.len(), limit);
    let skip = (at.bit % 8) as u32;
    if skip > 0 {
        d.bits.take(skip)?;
    }
    grow(&mut out, limit)?;
    let r = d.run(&mut out, &mut Marks::none());
    out.truncate(d.op);
    match r {
        Ok(()) => {}
        // Stopped by `limit`, at most a step short of it: `want` is there.
        Err(InflateError::TooLarge { .. }) if d.op >= at.window.len() + want => {}
        Err(e) => return Err(e),
    }
    out.drain(..at.window.len());
    Ok(out)
}

/// Where [`Inflater::run`] records restarts.
struct Marks {
    /// 0: none.
    every: usize,
    next: usize,
    at: Vec<Restart>,
}

impl Marks {
    fn none() -> Self {
        Marks {
            every: 0,
            next: usize::MAX,
            at: Vec::new(),
        }
    }
}

/// Inflates a zlib stream onto the end of `out`, which never grows past `limit` bytes;
/// returns the input bytes used (header and trailer included).
pub fn zlib_into(src: &[u8], out: &mut Vec<u8>, limit: usize) -> Res<usize> {
    zlib_marked(src, out, limit, &mut Marks::none())
}

fn zlib_marked(src: &[u8], out: &mut Vec<u8>, limit: usize, marks: &mut Marks) -> Res<usize> {
    if src.len() < 2 {
        return Err(InflateError::Truncated);
    }
    let (cmf, flg) = (src[0], src[1]);
    if cmf & 0x0f != 8 {
        return Err(InflateError::BadHeader("not deflate"));
    }
    if cmf >> 4 > 7 {
        return Err(InflateError::BadHeader("window larger than 32 KiB"));
    }
    if (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
        return Err(InflateError::BadHeader("check bits"));
    }
    if flg & 0x20 != 0 {
        return Err(InflateError::BadHeader("preset dictionary"));
    }
    let start = out.len();
    let used = 2 + raw_marked(&src[2..], out, limit, marks)?;
    let trailer = src.get(used..used + 4).ok_or(InflateError::Truncated)?;
    let expected = u32::from_be_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let actual = adler32(&out[start..]);
    if expected != actual {
        return Err(InflateError::Checksum { expected, actual });
    }
    Ok(used + 4)
}

/// Inflates a raw deflate stream onto the end of `out` (whose earlier bytes are the window
/// a match may refer back to), never growing it past `limit` bytes; returns the input bytes
/// used (up to the end of the byte holding the last block's last bit).
pub fn raw_into(src: &[u8], out: &mut Vec<u8>, limit: usize) -> Res<usize> {
    raw_marked(src, out, limit, &mut Marks::none())
}

/// [`raw_into`], recording restarts in `marks` (their bits counted from 2 bytes before
/// `src`: the zlib header).
fn raw_marked(src: &[u8], out: &mut Vec<u8>, limit: usize, marks: &mut Marks) -> Res<usize> {
    let mut d = Inflater::new(src, out.len(), limit);
    // Work in a zero-filled buffer of the capacity the caller reserved (or a guess),
    // grown as needed, and cut to what was produced at the end, success or not.
    let guess = out
        .len()
        .saturating_add(src.len().saturating_mul(4))
        .saturating_add(1024);
    let first = limit.min(out.capacity().max(guess));
    if first > out.len() {
        grow(out, first)?;
    }
    let r = d.run(out, marks);
    out.truncate(d.op);
    r?;
    d.bits.done()
}

fn grow(out: &mut Vec<u8>, to: usize) -> Res<()> {
    if out.try_reserve_exact(to - out.len()).is_err() {
        return Err(InflateError::OutOfMemory);
    }
    out.resize(to, 0);
    Ok(())
}

/// Adler-32 (RFC 1950) of `data`.
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    // 5552 bytes is the most that can be summed before `b` may overflow 32 bits; 5504 is
    // the most in whole 64-byte blocks.
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5504) {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        let chunk = {
            let whole = chunk.len() & !63;
            let (sa, sb) = adler_blocks(&chunk[..whole]);
            b += whole as u32 * a + sb;
            a += sa;
            &chunk[whole..]
        };
        let mut quads = chunk.chunks_exact(4);
        for q in &mut quads {
            a += u32::from(q[0]);
            b += a;
            a += u32::from(q[1]);
            b += a;
            a += u32::from(q[2]);
            b += a;
            a += u32::from(q[3]);
            b += a;
        }
        for &x in quads.remainder() {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    b << 16 | a
}

/// The sums of `blocks` (64 bytes each, at most 5552 bytes) from `a` = `b` = 0, 64 bytes a
/// step with wasm SIMD (a scalar step is ~8 wasm instructions a byte, ~3 % of a build of
/// compressed DWARF): `a` the bytes' sum, `b` the sum of each byte times its distance from
/// the end (1 for the last), which is Σ over blocks of 64 × (the sums of the blocks before
/// it) + Σ of each byte times 64..1 within its block. Never above `u32::MAX` at 5552.
/// (64 bytes a step, not 16: the byte sums of a block add up in 16-bit lanes, and the
/// cross-block terms are paid once per block, about half the instructions.)
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn adler_blocks(blocks: &[u8]) -> (u32, u32) {
    use core::arch::wasm32::*;
    let (mut s1, mut before, mut s2) = (u32x4_splat(0), u32x4_splat(0), u32x4_splat(0));
    // The weights of bytes 0..8, 8..16, ... 56..64 of a block.
    let w = |k: i16| i16x8(64 - k, 63 - k, 62 - k, 61 - k, 60 - k, 59 - k, 58 - k, 57 - k);
    let weights = [w(0), w(8), w(16), w(24), w(32), w(40), w(48), w(56)];
    let ones = i16x8_splat(1);
    for c in blocks.chunks_exact(64) {
        // (the sum of 8 lanes of bytes fits 16 bits; bytes below 256 times weights below
        // 65 are exact as signed products; no extadd_pairwise: wasmer 1.1's cranelift
        // refuses it)
        let (mut sum, mut dots) = (i16x8_splat(0), i32x4_splat(0));
        for (k, q) in c.chunks_exact(16).enumerate() {
            let mut lo = [0u8; 8];
            let mut hi = [0u8; 8];
            lo.copy_from_slice(&q[..8]);
            hi.copy_from_slice(&q[8..]);
            let v = u64x2(u64::from_le_bytes(lo), u64::from_le_bytes(hi));
            let (l, h) = (u16x8_extend_low_u8x16(v), u16x8_extend_high_u8x16(v));
            sum = i16x8_add(sum, i16x8_add(l, h));
            let d = i32x4_add(
                i32x4_dot_i16x8(l, weights[2 * k]),
                i32x4_dot_i16x8(h, weights[2 * k + 1]),
            );
            dots = i32x4_add(dots, d);
        }
        before = i32x4_add(before, s1);
        s1 = i32x4_add(s1, i32x4_dot_i16x8(sum, ones));
        s2 = i32x4_add(s2, dots);
    }
    let sum = |v: v128| {
        u32x4_extract_lane::<0>(v)
            .wrapping_add(u32x4_extract_lane::<1>(v))
            .wrapping_add(u32x4_extract_lane::<2>(v))
            .wrapping_add(u32x4_extract_lane::<3>(v))
    };
    (sum(s1), sum(before).wrapping_mul(64).wrapping_add(sum(s2)))
}

/// The bit reader: `buf` holds `n` unread bits (LSB first); bits above them are either
/// zero or the true next bits of the input, so a refill may OR the same bytes in again.
struct Bits<'a> {
    src: &'a [u8],
    /// The next input byte not yet in `buf` (past the end: `over` zero bytes were added).
    pos: usize,
    buf: u64,
    n: u32,
    /// Zero bytes added past the end of the input.
    over: usize,
}

impl<'a> Bits<'a> {
    /// At least 56 bits in `buf`.
    #[inline(always)]
    fn refill(&mut self) -> Res<()> {
        if let Some(w) = self.src.get(self.pos..self.pos + 8) {
            let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            self.buf |= w << self.n;
            self.pos += ((63 - self.n) >> 3) as usize;
            self.n |= 56;
            Ok(())
        } else {
            self.refill_slow()
        }
    }

    #[inline(never)]
    fn refill_slow(&mut self) -> Res<()> {
        while self.n <= 56 {
            match self.src.get(self.pos) {
                Some(&b) => self.buf |= u64::from(b) << self.n,
                None => self.over += 1,
            }
            self.pos += 1;
            self.n += 8;
        }
        self.check()
    }

    /// An error once a bit past the end of the input has been used.
    fn check(&self) -> Res<()> {
        if self.over * 8 > self.n as usize {
            return Err(InflateError::Truncated);
        }
        Ok(())
    }

    #[inline(always)]
    fn peek(&self, k: u32) -> u32 {
        (self.buf & ((1u64 << k) - 1)) as u32
    }

    #[inline(always)]
    fn eat(&mut self, k: u32) {
        self.buf >>= k;
        self.n -= k;
    }

    /// `k` bits (≤ 32), refilling first.
    fn take(&mut self, k: u32) -> Res<u32> {
        if self.n < k {
            self.refill()?;
        }
        let v = self.peek(k);
        self.eat(k);
        Ok(v)
    }

    /// Drops the bits up to the next byte boundary and empties the buffer: the position
    /// of the next input byte.
    fn align_to_byte(&mut self) -> Res<usize> {
        let k = self.n % 8;
        self.eat(k);
        self.check()?;
        let at = self.pos - (self.n / 8) as usize;
        self.buf = 0;
        self.n = 0;
        self.pos = at;
        self.over = 0;
        if at > self.src.len() {
            return Err(InflateError::Truncated);
        }
        Ok(at)
    }

    /// The input bytes used, once the stream has ended.
    fn done(&mut self) -> Res<usize> {
        self.check()?;
        Ok(self.pos - (self.n / 8) as usize)
    }
}

// A table entry: bits 0..8 the bits it takes, its code's and then its extra bits (for a
// subtable pointer: the root's), 8..12 its code's bits (for a subtable pointer: the
// subtable's index bits), 12..16 the kind, 16..32 the value (a literal byte, a length or
// distance base, a subtable's start). Taking code and extra bits in one step saves a shift
// and a count update per length and per distance; the extra bits are then the bits taken
// above the code's ([`extra`]).
const LIT: u32 = 0 << 12;
const LEN: u32 = 1 << 12;
const END: u32 = 2 << 12;
const SUB: u32 = 3 << 12;
const BAD: u32 = 4 << 12;
const KIND: u32 = 0xf << 12;

const LIT_ROOT: u32 = 10;
const DIST_ROOT: u32 = 8;
const CL_ROOT: u32 = 7;
// Table sizes, powers of two so that a masked index needs no bounds check. A subtable of
// 2^k entries needs at least k + 1 of the alphabet's codes under its root slot (a complete
// code), which bounds the total: at most 2528 entries for 286 literal/length codes under
// a 10-bit root, 672 for 30 distance codes under an 8-bit one; `build` refuses a table
// that would not fit anyway.
const LIT_CAP: usize = 4096;
const DIST_CAP: usize = 1024;

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
    8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
];

/// The order code-length code lengths come in (RFC 1951 3.2.7).
const CL_ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

#[derive(Clone, Copy)]
enum Alphabet {
    LitLen,
    Dist,
    CodeLen,
}

/// The entry of `sym` once its code of `len` bits has been read.
fn entry(alpha: Alphabet, sym: usize, len: u32) -> u32 {
    let (kind, value, extra) = match alpha {
        Alphabet::LitLen if sym < 256 => (LIT, sym as u32, 0),
        Alphabet::LitLen if sym == 256 => (END, 0, 0),
        Alphabet::LitLen if sym < 286 => (LEN, u32::from(LEN_BASE[sym - 257]), u32::from(LEN_EXTRA[sym - 257])),
        Alphabet::Dist if sym < 30 => (LEN, u32::from(DIST_BASE[sym]), u32::from(DIST_EXTRA[sym])),
        Alphabet::CodeLen => (LIT, sym as u32, 0),
        _ => (BAD, 0, 0),
    };
    value << 16 | kind | len << 8 | (len + extra)
}

/// The extra bits of entry `e` (a length or distance), `saved` the bit buffer before its
/// bits were taken: the bits taken, less the code's (shifts take their amount modulo 64,
/// and `e`'s low 6 bits are the bits taken).
#[inline(always)]
fn extra(saved: u64, e: u32) -> usize {
    ((saved & !u64::MAX.wrapping_shl(e)) >> ((e >> 8) & 0xf)) as usize
}

/// The low `len` (<= 16) bits of `code` in reverse order (deflate sends codes MSB first).
/// A table: wasm has no bit-reverse instruction, and `u32::reverse_bits` is ~40 of them.
fn reverse(code: u32, len: u32) -> usize {
    const REV8: [u8; 256] = {
        let mut t = [0u8; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = (i as u8).reverse_bits();
            i += 1;
        }
        t
    };
    let r = u32::from(REV8[(code & 0xff) as usize]) << 8 | u32::from(REV8[(code >> 8 & 0xff) as usize]);
    (r >> (16 - len)) as usize
}

/// Fills `table` (root of `root` bits, then subtables) for the canonical code of `lens`.
/// As zlib and miniz_oxide do, a code must be complete unless it has at most one symbol;
/// entries no code reaches are `BAD`.
fn build(table: &mut [u32], lens: &[u8], root: u32, alpha: Alphabet) -> Res<()> {
    let mut count = [0u32; 16];
    for &l in lens {
        count[usize::from(l)] += 1;
    }
    count[0] = 0;
    let used: u32 = count.iter().sum();
    let mut left: i64 = 1;
    let mut next = [0u32; 16];
    let mut code = 0u32;
    for l in 1..16 {
        left = (left << 1) - i64::from(count[l]);
        if left < 0 {
            return Err(InflateError::Corrupt("over-subscribed code"));
        }
        next[l] = code;
        code = (code + count[l]) << 1;
    }
    if left != 0 && used > 1 {
        return Err(InflateError::Corrupt("incomplete code"));
    }
    // Each root slot's longest code decides the size of its subtable. (Codes are given
    // out in symbol order, twice: `first` is `next` before the first pass.)
    let size = 1usize << root;
    let first = next;
    let mut longest = [0u8; 1 << LIT_ROOT];
    let mut long_slots: Vec<usize> = Vec::new();
    for &l in lens {
        if u32::from(l) > root {
            let c = next[usize::from(l)];
            next[usize::from(l)] += 1;
            let slot = reverse(c, u32::from(l)) & (size - 1);
            if longest[slot] == 0 {
                long_slots.push(slot);
            }
            longest[slot] = longest[slot].max(l);
        }
    }
    long_slots.sort_unstable();
    let mut end = size;
    let mut start = [0u32; 1 << LIT_ROOT];
    for &slot in &long_slots {
        let bits = u32::from(longest[slot]) - root;
        start[slot] = end as u32;
        end += 1 << bits;
    }
    let table = table.get_mut(..end).ok_or(InflateError::Corrupt("code table"))?;
    table.fill(BAD);
    for &slot in &long_slots {
        let bits = u32::from(longest[slot]) - root;
        table[slot] = start[slot] << 16 | SUB | bits << 8 | root;
    }
    let mut next = first;
    for (sym, &l) in lens.iter().enumerate() {
        if l == 0 {
            continue;
        }
        let l32 = u32::from(l);
        let c = next[usize::from(l)];
        next[usize::from(l)] += 1;
        let r = reverse(c, l32);
        if l32 <= root {
            let e = entry(alpha, sym, l32);
            for x in table[r..size].iter_mut().step_by(1 << l) {
                *x = e;
            }
        } else {
            let slot = r & (size - 1);
            let bits = u32::from(longest[slot]) - root;
            let e = entry(alpha, sym, l32 - root);
            let base = start[slot] as usize;
            for x in table[base + (r >> root)..base + (1 << bits)]
                .iter_mut()
                .step_by(1 << (l32 - root))
            {
                *x = e;
            }
        }
    }
    Ok(())
}

struct Inflater<'a> {
    bits: Bits<'a>,
    /// The next output position.
    op: usize,
    limit: usize,
    lit: Box<[u32; LIT_CAP]>,
    dist: Box<[u32; DIST_CAP]>,
}

impl<'a> Inflater<'a> {
    fn new(src: &'a [u8], op: usize, limit: usize) -> Self {
        Inflater {
            bits: Bits {
                src,
                pos: 0,
                buf: 0,
                n: 0,
                over: 0,
            },
            op,
            limit,
            lit: Box::new([BAD; LIT_CAP]),
            dist: Box::new([BAD; DIST_CAP]),
        }
    }

    fn run(&mut self, out: &mut Vec<u8>, marks: &mut Marks) -> Res<()> {
        loop {
            if self.op >= marks.next {
                self.mark(out, marks);
            }
            let last = self.bits.take(1)?;
            match self.bits.take(2)? {
                0 => self.stored(out)?,
                1 => {
                    let mut lens = [0u8; 320];
                    lens[..144].fill(8);
                    lens[144..256].fill(9);
                    lens[256..280].fill(7);
                    lens[280..288].fill(8);
                    lens[288..].fill(5);
                    build(&mut self.lit[..], &lens[..288], LIT_ROOT, Alphabet::LitLen)?;
                    build(&mut self.dist[..], &lens[288..], DIST_ROOT, Alphabet::Dist)?;
                    self.codes(out)?;
                }
                2 => {
                    self.header()?;
                    self.codes(out)?;
                }
                _ => return Err(InflateError::Corrupt("block type 3")),
            }
            if last == 1 {
                return Ok(());
            }
        }
    }

    /// A restart here, at a block's start (`marks.every` > 0).
    #[inline(never)]
    fn mark(&mut self, out: &[u8], marks: &mut Marks) {
        marks.next = self.op.saturating_add(marks.every);
        let b = &self.bits;
        // (bits not yet used are the last `n` read; 2 bytes of zlib header before `src`)
        let bit = (b.pos as u64 + 2) * 8 - u64::from(b.n);
        if b.over > 0 {
            return; // past the input's end: an error comes
        }
        marks.at.push(Restart {
            bit,
            out: self.op as u64,
            window: out[self.op.saturating_sub(32 << 10)..self.op].into(),
        });
    }

    fn stored(&mut self, out: &mut Vec<u8>) -> Res<()> {
        let at = self.bits.align_to_byte()?;
        let src = self.bits.src;
        let head = src.get(at..at + 4).ok_or(InflateError::Truncated)?;
        let len = u16::from_le_bytes([head[0], head[1]]);
        if len != !u16::from_le_bytes([head[2], head[3]]) {
            return Err(InflateError::Corrupt("stored block length"));
        }
        let len = usize::from(len);
        let data = src.get(at + 4..at + 4 + len).ok_or(InflateError::Truncated)?;
        Self::grow_for(out, self.op, len, self.limit)?;
        out[self.op..self.op + len].copy_from_slice(data);
        self.op += len;
        self.bits.pos = at + 4 + len;
        Ok(())
    }

    /// A dynamic block's code lengths, into `lit` and `dist`.
    fn header(&mut self) -> Res<()> {
        let b = &mut self.bits;
        let nlit = b.take(5)? as usize + 257;
        let ndist = b.take(5)? as usize + 1;
        let ncl = b.take(4)? as usize + 4;
        if nlit > 286 || ndist > 30 {
            return Err(InflateError::Corrupt("too many length or distance codes"));
        }
        let mut cl = [0u8; 19];
        for &i in &CL_ORDER[..ncl] {
            cl[i] = b.take(3)? as u8;
        }
        let mut cl_table = [BAD; 1 << CL_ROOT];
        build(&mut cl_table, &cl, CL_ROOT, Alphabet::CodeLen)?;
        let mut lens = [0u8; 286 + 30];
        let total = nlit + ndist;
        let mut i = 0;
        while i < total {
            b.refill()?;
            let e = cl_table[b.peek(CL_ROOT) as usize];
            if e & KIND == BAD {
                return Err(InflateError::Corrupt("code length code"));
            }
            b.eat(e & 0xff);
            let sym = e >> 16;
            let (value, times) = match sym {
                0..=15 => (sym as u8, 1),
                16 => {
                    if i == 0 {
                        return Err(InflateError::Corrupt("repeat of no length"));
                    }
                    let t = 3 + b.peek(2) as usize;
                    b.eat(2);
                    (lens[i - 1], t)
                }
                17 => {
                    let t = 3 + b.peek(3) as usize;
                    b.eat(3);
                    (0, t)
                }
                _ => {
                    let t = 11 + b.peek(7) as usize;
                    b.eat(7);
                    (0, t)
                }
            };
            if i + times > total {
                return Err(InflateError::Corrupt("code lengths overrun"));
            }
            lens[i..i + times].fill(value);
            i += times;
        }
        if lens[256] == 0 {
            return Err(InflateError::Corrupt("no end-of-block code"));
        }
        build(&mut self.lit[..], &lens[..nlit], LIT_ROOT, Alphabet::LitLen)?;
        build(&mut self.dist[..], &lens[nlit..total], DIST_ROOT, Alphabet::Dist)
    }

    /// The literals and matches of a Huffman block, up to its end code.
    fn codes(&mut self, out: &mut Vec<u8>) -> Res<()> {
        // Space for the longest match plus a word of slack lets the loop below copy
        // without looking at the limit; near the limit `grow_for` decides.
        const SLACK: usize = 258 + 8;
        let (lit, dist) = (&*self.lit, &*self.dist);
        let b = &mut self.bits;
        let src = b.src;
        // The bit reader's state in locals, written back only around the slow refill:
        // through `b` every symbol stored and reloaded them (a call that may write `b`
        // keeps them in memory), ~10 % of the loop.
        let (mut buf, mut n, mut pos) = (b.buf, b.n, b.pos);
        macro_rules! refill {
            () => {
                match src.get(pos..pos + 8) {
                    Some(w) => {
                        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
                        buf |= w << n;
                        pos += ((63 - n) >> 3) as usize;
                        n |= 56;
                    }
                    None => {
                        b.buf = buf;
                        b.n = n;
                        b.pos = pos;
                        b.refill_slow()?;
                        buf = b.buf;
                        n = b.n;
                        pos = b.pos;
                    }
                }
            };
        }
        let peek = |buf: u64, k: u32| (buf & ((1u64 << k) - 1)) as u32;
        let mut op = self.op;
        let r = loop {
            if pos + FAST_IN <= src.len() && op + FAST_OUT <= out.len() {
                let r = fast(lit, dist, src, out, (&mut buf, &mut n, &mut pos, &mut op));
                if let Some(r) = r {
                    break r;
                }
            }
            // Near the end of the input or of the room in `out`: one symbol at a time.
            // A length code and its extra bits take up to 20 bits, then a distance and
            // its extra bits up to 28.
            if n < 20 {
                refill!();
            }
            let mut e = lit[peek(buf, LIT_ROOT) as usize];
            if e & KIND == SUB {
                buf >>= LIT_ROOT;
                n -= LIT_ROOT;
                e = lit[((e >> 16) as usize + peek(buf, (e >> 8) & 0xf) as usize) & (LIT_CAP - 1)];
            }
            let saved = buf;
            buf >>= e & 0xff;
            n -= e & 0xff;
            let kind = e & KIND;
            if kind == LIT {
                match out.get_mut(op) {
                    Some(x) => *x = (e >> 16) as u8,
                    None => {
                        if let Err(x) = Self::grow_for(out, op, 1, self.limit) {
                            break Err(x);
                        }
                        out[op] = (e >> 16) as u8;
                    }
                }
                op += 1;
                continue;
            }
            if kind != LEN {
                break if kind == END {
                    Ok(())
                } else {
                    Err(InflateError::Corrupt("literal/length code"))
                };
            }
            let len = (e >> 16) as usize + extra(saved, e);
            if n < 28 {
                refill!();
            }
            let mut d = dist[peek(buf, DIST_ROOT) as usize];
            if d & KIND == SUB {
                buf >>= DIST_ROOT;
                n -= DIST_ROOT;
                d = dist[((d >> 16) as usize + peek(buf, (d >> 8) & 0xf) as usize) & (DIST_CAP - 1)];
            }
            let saved = buf;
            buf >>= d & 0xff;
            n -= d & 0xff;
            if d & KIND != LEN {
                break Err(InflateError::Corrupt("distance code"));
            }
            let back = (d >> 16) as usize + extra(saved, d);
            if back > op {
                break Err(InflateError::BadDistance {
                    distance: back as u64,
                    produced: op as u64,
                });
            }
            if op + SLACK > out.len() {
                if let Err(x) = Self::grow_for(out, op, len, self.limit) {
                    break Err(x);
                }
                if op + SLACK > out.len() {
                    // Near the limit: byte by byte.
                    for i in op..op + len {
                        out[i] = out[i - back];
                    }
                    op += len;
                    continue;
                }
            }
            let from = op - back;
            if back >= 8 {
                // Word copies: each reads bytes already written (a repeating pattern of
                // period `back` repeats itself); up to 7 bytes past the match are
                // scratch, overwritten by what follows.
                let mut i = 0;
                while i < len {
                    let w: [u8; 8] = out[from + i..from + i + 8].try_into().unwrap_or([0; 8]);
                    out[op + i..op + i + 8].copy_from_slice(&w);
                    i += 8;
                }
            } else if back == 1 {
                let v = out[from];
                out[op..op + len].fill(v);
            } else {
                for i in op..op + len {
                    out[i] = out[i - back];
                }
            }
            op += len;
        };
        b.buf = buf;
        b.n = n;
        b.pos = pos;
        self.op = op;
        r
    }

    /// Room in `out` for `need` bytes at `op`.
    #[inline(never)]
    fn grow_for(out: &mut Vec<u8>, op: usize, need: usize, limit: usize) -> Res<()> {
        let want = op
            .checked_add(need)
            .filter(|&w| w <= limit)
            .ok_or(InflateError::TooLarge { limit: limit as u64 })?;
        let to = want
            .saturating_add(258 + 8)
            .max(out.len().saturating_mul(2))
            .max(out.len() + (64 << 10))
            .min(limit);
        if to > out.len() {
            grow(out, to)?;
        }
        Ok(())
    }
}

/// Input bytes [`fast`] keeps in hand: two whole refills.
const FAST_IN: usize = 16;
/// Room in `out` [`fast`] keeps: the longest match rounded up to whole 16-byte copies, after
/// the literals decoded before it.
const FAST_OUT: usize = 2 + 258 + 16;

/// The symbols of a Huffman block while at least [`FAST_IN`] bytes of input and
/// [`FAST_OUT`] bytes of room in `out` are left, so that no refill runs short and no write
/// needs room: `Some` at the block's end (or an error), `None` when the margins ran out.
/// Up to three literals are decoded per refill, and matches are copied 16 bytes a step.
/// The next symbol's root entry is loaded as soon as its bits are in hand (before a match
/// is copied, before the loop's checks), so that the load's latency overlaps other work.
/// Bit counts are used as shift amounts and subtracted straight from whole entries:
/// shifts take their amount modulo 64 and the counts fit in an entry's low 6 bits (the
/// bits above them in `n` are garbage, masked off where `n` is compared).
/// (Fuel: every call and loop pass is counted and checked; the loop here has half the
/// blocks per symbol of the careful one in [`Inflater::codes`].)
#[inline(never)]
#[allow(clippy::type_complexity)]
fn fast(
    lit: &[u32; LIT_CAP],
    dist: &[u32; DIST_CAP],
    src: &[u8],
    out: &mut [u8],
    (bufp, np, posp, opp): (&mut u64, &mut u32, &mut usize, &mut usize),
) -> Option<Res<()>> {
    let (mut buf, mut n, mut pos, mut op) = (*bufp, *np, *posp, *opp);
    let in_end = src.len() - FAST_IN;
    let out_end = out.len() - FAST_OUT;
    let peek = |buf: u64, k: u32| (buf & ((1u64 << k) - 1)) as u32;
    macro_rules! refill {
        () => {
            let w: [u8; 8] = src[pos..pos + 8].try_into().unwrap_or([0; 8]);
            buf |= u64::from_le_bytes(w).wrapping_shl(n);
            pos += ((!n & 63) >> 3) as usize;
            n |= 56;
        };
    }
    macro_rules! take {
        ($e:expr) => {
            buf = buf.wrapping_shr($e);
            n = n.wrapping_sub($e);
        };
    }
    refill!();
    let mut e = lit[peek(buf, LIT_ROOT) as usize];
    let r = loop {
        if pos > in_end || op > out_end {
            break None;
        }
        // 56 bits or more: three literals of up to 10 bits (from the root table) and the
        // next one's root entry, or two and then a code of up to 15 bits with its extra
        // bits (up to 20 bits, 16 left).
        refill!();
        if e & KIND == LIT {
            take!(e);
            out[op] = (e >> 16) as u8;
            op += 1;
            e = lit[peek(buf, LIT_ROOT) as usize];
            if e & KIND == LIT {
                take!(e);
                out[op] = (e >> 16) as u8;
                op += 1;
                e = lit[peek(buf, LIT_ROOT) as usize];
                if e & KIND == LIT {
                    take!(e);
                    out[op] = (e >> 16) as u8;
                    op += 1;
                    e = lit[peek(buf, LIT_ROOT) as usize];
                    continue;
                }
            }
        }
        if e & KIND != LEN {
            if e & KIND == SUB {
                take!(LIT_ROOT);
                e = lit[((e >> 16) as usize + peek(buf, (e >> 8) & 0xf) as usize) & (LIT_CAP - 1)];
            }
            if e & KIND != LEN {
                take!(e);
                let kind = e & KIND;
                if kind == LIT {
                    // (a long code: 15 bits or less after two literals, 21 left)
                    out[op] = (e >> 16) as u8;
                    op += 1;
                    e = lit[peek(buf, LIT_ROOT) as usize];
                    continue;
                }
                break Some(if kind == END {
                    Ok(())
                } else {
                    Err(InflateError::Corrupt("literal/length code"))
                });
            }
        }
        let saved = buf;
        take!(e);
        let len = (e >> 16) as usize + extra(saved, e);
        // A distance and its extra bits take up to 28 bits; the next root entry 10 more.
        if n & 63 < 28 + LIT_ROOT {
            refill!();
        }
        let mut d = dist[peek(buf, DIST_ROOT) as usize];
        if d & KIND != LEN {
            if d & KIND == SUB {
                take!(DIST_ROOT);
                d = dist[((d >> 16) as usize + peek(buf, (d >> 8) & 0xf) as usize) & (DIST_CAP - 1)];
            }
            if d & KIND != LEN {
                break Some(Err(InflateError::Corrupt("distance code")));
            }
        }
        let saved = buf;
        take!(d);
        let back = (d >> 16) as usize + extra(saved, d);
        if back > op {
            break Some(Err(InflateError::BadDistance {
                distance: back as u64,
                produced: op as u64,
            }));
        }
        e = lit[peek(buf, LIT_ROOT) as usize];
        let from = op - back;
        // Whole 16- or 8-byte steps, the first 16 bytes outside a loop (most matches are
        // no longer; a loop pass costs a fuel check): each step reads bytes already
        // written (a pattern of period `back` repeats itself); bytes past the match are
        // scratch, overwritten by what follows.
        if back >= 16 {
            let w: [u8; 16] = out[from..from + 16].try_into().unwrap_or([0; 16]);
            out[op..op + 16].copy_from_slice(&w);
            let mut i = 16;
            while i < len {
                let w: [u8; 16] = out[from + i..from + i + 16].try_into().unwrap_or([0; 16]);
                out[op + i..op + i + 16].copy_from_slice(&w);
                i += 16;
            }
        } else if back >= 8 {
            let w: [u8; 8] = out[from..from + 8].try_into().unwrap_or([0; 8]);
            out[op..op + 8].copy_from_slice(&w);
            let w: [u8; 8] = out[from + 8..from + 16].try_into().unwrap_or([0; 8]);
            out[op + 8..op + 16].copy_from_slice(&w);
            let mut i = 16;
            while i < len {
                let w: [u8; 8] = out[from + i..from + i + 8].try_into().unwrap_or([0; 8]);
                out[op + i..op + i + 8].copy_from_slice(&w);
                i += 8;
            }
        } else if back == 1 {
            let v = out[from];
            out[op..op + len].fill(v);
        } else {
            for i in op..op + len {
                out[i] = out[i - back];
            }
        }
        op += len;
    };
    *bufp = buf;
    *np = n & 63;
    *posp = pos;
    *opp = op;
    r
}

#[cfg(test)]
mod tests;
