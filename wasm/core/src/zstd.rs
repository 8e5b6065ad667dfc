//! A Zstandard decoder (RFC 8878), for ELF sections compressed with `ELFCOMPRESS_ZSTD`.
//!
//! Pure safe Rust: no Debian crate decodes zstd on wasm32 without C. It reads frames
//! (raw, RLE and compressed blocks; Huffman literals in one or four streams, treeless
//! reuse; FSE sequences in predefined, RLE, compressed and repeat modes; repeat offsets),
//! skippable frames and any number of frames in a row, and verifies the optional
//! content checksum (XXH64). Dictionaries are not supported (a frame naming one is an
//! error): ELF sections never use them.
//!
//! The output goes into a caller's `Vec` and never grows past a caller's limit, so a
//! frame cannot claim less than it produces. The work is bounded by a constant per input
//! and output byte: every sequence produces at least 3 bytes, and every block, table or
//! frame header consumes at least one input byte.

use std::fmt;

/// Why a zstd stream was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZstdError {
    /// The input ended inside a frame (`what` was being read).
    Truncated(&'static str),
    /// Neither a zstd frame nor a skippable frame starts here (the 4 magic bytes).
    BadMagic(u32),
    /// A frame header field is reserved, out of range or inconsistent.
    BadFrameHeader(&'static str),
    /// The frame needs a dictionary, which this decoder does not have.
    Dictionary(u32),
    /// A block is malformed (`what` says which part).
    Corrupt(&'static str),
    /// A match reaches before the start of the frame or past the window.
    BadOffset {
        /// The match offset.
        offset: u64,
        /// How many bytes the frame had produced when the match started.
        produced: u64,
    },
    /// The output would exceed the caller's limit.
    TooLarge {
        /// The caller's limit in bytes.
        limit: u64,
    },
    /// The frame's declared content size differs from what it produced.
    SizeMismatch {
        /// The size in the frame header.
        declared: u64,
        /// What the blocks produced.
        produced: u64,
    },
    /// The content checksum (low 32 bits of XXH64) does not match.
    Checksum {
        /// The checksum in the frame.
        stored: u32,
        /// The checksum of the decoded bytes.
        computed: u32,
    },
}

impl fmt::Display for ZstdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZstdError::Truncated(what) => write!(f, "zstd: input ends inside the {}", what),
            ZstdError::BadMagic(m) => write!(f, "zstd: not a frame (magic {:#010x})", m),
            ZstdError::BadFrameHeader(what) => write!(f, "zstd: bad frame header: {}", what),
            ZstdError::Dictionary(id) => write!(f, "zstd: the frame needs dictionary {}, none is available", id),
            ZstdError::Corrupt(what) => write!(f, "zstd: corrupt block: {}", what),
            ZstdError::BadOffset { offset, produced } => {
                write!(
                    f,
                    "zstd: match offset {} reaches outside the window ({} bytes produced)",
                    offset, produced
                )
            }
            ZstdError::TooLarge { limit } => write!(f, "zstd: the output exceeds {} bytes", limit),
            ZstdError::SizeMismatch { declared, produced } => {
                write!(
                    f,
                    "zstd: the frame declares {} bytes but produces {}",
                    declared, produced
                )
            }
            ZstdError::Checksum { stored, computed } => {
                write!(
                    f,
                    "zstd: checksum mismatch (stored {:#010x}, computed {:#010x})",
                    stored, computed
                )
            }
        }
    }
}

impl std::error::Error for ZstdError {}

type Res<T> = std::result::Result<T, ZstdError>;

const MAGIC: u32 = 0xFD2F_B528;
const BLOCK_MAX: usize = 128 << 10;
/// Window logs past 31 are refused, as the reference decoder does on 64-bit hosts.
const WINDOW_LOG_MAX: u32 = 31;

/// Decodes every frame of `src`, appending the bytes to `out`; fails rather than let
/// `out` grow past `limit` bytes in total. `out` should have its capacity reserved by the
/// caller (the declared size), so that no reallocation happens while decoding.
pub fn decompress_into(src: &[u8], out: &mut Vec<u8>, limit: usize) -> Res<()> {
    let mut dec = Decoder {
        out,
        limit,
        lits: Vec::new(),
        huf: None,
        tables: [None, None, None],
    };
    let mut pos = 0;
    if src.is_empty() {
        return Err(ZstdError::Truncated("frame magic"));
    }
    while pos < src.len() {
        pos += dec.frame(&src[pos..])?;
    }
    Ok(())
}

/// Decodes `src` whole into a new buffer of at most `limit` bytes (tests, fuzzing).
pub fn decompress(src: &[u8], limit: usize) -> Res<Vec<u8>> {
    let mut out = Vec::new();
    decompress_into(src, &mut out, limit)?;
    Ok(out)
}

// -- forward byte and bit readers ------------------------------------------------------

fn le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

fn take<'a>(src: &'a [u8], pos: &mut usize, n: usize, what: &'static str) -> Res<&'a [u8]> {
    let end = pos
        .checked_add(n)
        .filter(|&e| e <= src.len())
        .ok_or(ZstdError::Truncated(what))?;
    let s = &src[*pos..end];
    *pos = end;
    Ok(s)
}

/// Reads little-endian bits forward (FSE table descriptions).
struct FwdBits<'a> {
    src: &'a [u8],
    bit: usize,
}

impl<'a> FwdBits<'a> {
    /// The next `n` (<= 25) bits without consuming them; bits past the end read as 0.
    fn peek(&self, n: u32) -> u32 {
        let byte = self.bit / 8;
        let mut w = 0u32;
        for i in 0..4 {
            if let Some(&b) = self.src.get(byte + i) {
                w |= u32::from(b) << (8 * i);
            }
        }
        (w >> (self.bit % 8)) & ((1u32 << n) - 1)
    }

    fn skip(&mut self, n: u32) {
        self.bit += n as usize;
    }
}

/// Reads a backward bitstream (Huffman and FSE streams): the last byte holds a marker
/// bit above the first bits to read, and reading goes towards the first byte.
struct RevBits<'a> {
    src: &'a [u8],
    /// Bytes `src[..pos]` are not loaded yet.
    pos: usize,
    /// The low `count` bits are unread; the next bit to read is bit `count - 1`.
    container: u64,
    count: u32,
    /// Bits read past the start of the stream (read as zeros).
    over: u32,
}

impl<'a> RevBits<'a> {
    fn new(src: &'a [u8]) -> Res<Self> {
        let last = *src.last().ok_or(ZstdError::Corrupt("empty bitstream"))?;
        if last == 0 {
            return Err(ZstdError::Corrupt("bitstream without its end marker"));
        }
        let top = 7 - last.leading_zeros();
        let mut r = RevBits {
            src,
            pos: src.len() - 1,
            container: u64::from(last) & ((1 << top) - 1),
            count: top,
            over: 0,
        };
        r.refill();
        Ok(r)
    }

    #[inline]
    fn refill(&mut self) {
        let bytes = (63 - self.count) >> 3;
        if bytes == 0 {
            return;
        }
        if self.pos >= 8 {
            let mut w = [0u8; 8];
            w.copy_from_slice(&self.src[self.pos - 8..self.pos]);
            let w = u64::from_le_bytes(w);
            let bits = bytes * 8;
            self.container = (self.container << bits) | (w >> (64 - bits));
            self.pos -= bytes as usize;
            self.count += bits;
        } else {
            while self.count <= 56 && self.pos > 0 {
                self.pos -= 1;
                self.container = (self.container << 8) | u64::from(self.src[self.pos]);
                self.count += 8;
            }
        }
    }

    /// The next `n` (<= 56) bits without consuming them (zeros past the start).
    #[inline]
    fn peek(&self, n: u32) -> u64 {
        if n <= self.count {
            (self.container >> (self.count - n)) & ((1u64 << n) - 1)
        } else {
            (self.container << (n - self.count)) & ((1u64 << n) - 1)
        }
    }

    #[inline]
    fn consume(&mut self, n: u32) {
        if n <= self.count {
            self.count -= n;
        } else {
            self.over = self.over.saturating_add(n - self.count);
            self.count = 0;
        }
    }

    /// Reads `n` (<= 56) bits, refilling first when needed.
    #[inline]
    fn read(&mut self, n: u32) -> u64 {
        if n > self.count {
            self.refill();
        }
        let v = self.peek(n);
        self.consume(n);
        v
    }

    /// Whether more bits were read than the stream holds.
    fn overflowed(&self) -> bool {
        self.over > 0
    }

    /// Whether every bit was read, and no more.
    fn finished(&self) -> bool {
        self.pos == 0 && self.count == 0 && self.over == 0
    }
}

// -- FSE -------------------------------------------------------------------------------

#[derive(Clone, Copy, Default)]
struct FseEntry {
    symbol: u8,
    bits: u8,
    base: u16,
}

#[derive(Clone)]
struct Fse {
    log: u32,
    table: Vec<FseEntry>,
}

impl Fse {
    /// The decoding table for normalized counts (`-1`: "less than one").
    fn build(counts: &[i16], log: u32) -> Res<Fse> {
        let size = 1usize << log;
        let mut table = vec![FseEntry::default(); size];
        let mut next = [0u32; 256];
        let mut high = size - 1;
        for (s, &c) in counts.iter().enumerate() {
            if c == -1 {
                table[high].symbol = s as u8;
                high = high.wrapping_sub(1);
                next[s] = 1;
            } else {
                next[s] = c.max(0) as u32;
            }
        }
        let step = (size >> 1) + (size >> 3) + 3;
        let mask = size - 1;
        let mut p = 0usize;
        for (s, &c) in counts.iter().enumerate() {
            for _ in 0..c.max(0) {
                table[p].symbol = s as u8;
                p = (p + step) & mask;
                while high != usize::MAX && p > high {
                    p = (p + step) & mask;
                }
            }
        }
        if p != 0 {
            return Err(ZstdError::Corrupt("FSE table does not fill its positions"));
        }
        for e in table.iter_mut() {
            let n = next[e.symbol as usize];
            next[e.symbol as usize] += 1;
            let bits = log - (31 - n.leading_zeros());
            e.bits = bits as u8;
            e.base = ((n << bits) - size as u32) as u16;
        }
        Ok(Fse { log, table })
    }

    fn rle(symbol: u8) -> Fse {
        Fse {
            log: 0,
            table: vec![FseEntry {
                symbol,
                bits: 0,
                base: 0,
            }],
        }
    }

    /// Reads a table description at the start of `src`: the table and the bytes used.
    fn read(src: &[u8], max_log: u32, max_symbol: usize) -> Res<(Fse, usize)> {
        if src.is_empty() {
            return Err(ZstdError::Truncated("FSE table description"));
        }
        let mut r = FwdBits { src, bit: 0 };
        let log = r.peek(4) + 5;
        r.skip(4);
        if log > max_log {
            return Err(ZstdError::Corrupt("FSE accuracy log too large"));
        }
        let mut counts: Vec<i16> = Vec::with_capacity(max_symbol + 1);
        let mut remaining = (1i32 << log) + 1;
        let mut threshold = 1i32 << log;
        let mut nbits = log + 1;
        let mut prev_zero = false;
        while remaining > 1 && counts.len() <= max_symbol {
            if prev_zero {
                // Repeat flags: 2 bits each, 3 meaning "3 more and go on".
                loop {
                    let flag = r.peek(2) as usize;
                    r.skip(2);
                    if counts.len() + flag > max_symbol + 1 {
                        return Err(ZstdError::Corrupt("FSE zero run past the last symbol"));
                    }
                    counts.resize(counts.len() + flag, 0);
                    if flag != 3 {
                        break;
                    }
                    if r.bit > src.len() * 8 {
                        return Err(ZstdError::Truncated("FSE table description"));
                    }
                }
                if counts.len() > max_symbol {
                    break;
                }
            }
            let max = (2 * threshold - 1) - remaining;
            let low = r.peek(nbits - 1) as i32;
            let value = if low < max {
                r.skip(nbits - 1);
                low
            } else {
                let mut v = r.peek(nbits) as i32;
                if v >= threshold {
                    v -= max;
                }
                r.skip(nbits);
                v
            };
            let count = value - 1;
            remaining -= count.abs();
            counts.push(count as i16);
            prev_zero = count == 0;
            while remaining < threshold && nbits > 1 {
                nbits -= 1;
                threshold >>= 1;
            }
        }
        if remaining != 1 {
            return Err(ZstdError::Corrupt("FSE probabilities do not sum to the table size"));
        }
        let used = (r.bit + 7) / 8;
        if used > src.len() {
            return Err(ZstdError::Truncated("FSE table description"));
        }
        Ok((Fse::build(&counts, log)?, used))
    }
}

/// One FSE decoding state over a table.
struct State {
    at: usize,
}

impl State {
    fn init(fse: &Fse, bits: &mut RevBits<'_>) -> State {
        State {
            at: bits.read(fse.log) as usize,
        }
    }

    #[inline]
    fn symbol(&self, fse: &Fse) -> u8 {
        fse.table[self.at].symbol
    }

    #[inline]
    fn update(&mut self, fse: &Fse, bits: &mut RevBits<'_>) {
        let e = fse.table[self.at];
        self.at = usize::from(e.base) + bits.read(u32::from(e.bits)) as usize;
    }
}

// -- Huffman ---------------------------------------------------------------------------

const HUF_MAX_BITS: u32 = 11;

struct Huffman {
    max_bits: u32,
    /// Indexed by the next `max_bits` bits: (symbol, code length).
    table: Vec<(u8, u8)>,
}

impl Huffman {
    /// Reads a Huffman tree description: the table and the bytes used.
    fn read(src: &[u8]) -> Res<(Huffman, usize)> {
        let head = *src.first().ok_or(ZstdError::Truncated("Huffman tree description"))? as usize;
        let mut weights = Vec::with_capacity(256);
        let used;
        if head < 128 {
            // FSE-compressed weights: two interleaved states over one stream.
            let body = src.get(1..1 + head).ok_or(ZstdError::Truncated("Huffman weights"))?;
            let (fse, n) = Fse::read(body, 6, 255)?;
            let mut bits = RevBits::new(
                body.get(n..)
                    .filter(|s| !s.is_empty())
                    .ok_or(ZstdError::Corrupt("Huffman weights stream missing"))?,
            )?;
            let mut s1 = State::init(&fse, &mut bits);
            let mut s2 = State::init(&fse, &mut bits);
            loop {
                weights.push(s1.symbol(&fse));
                s1.update(&fse, &mut bits);
                if bits.overflowed() {
                    weights.push(s2.symbol(&fse));
                    break;
                }
                weights.push(s2.symbol(&fse));
                s2.update(&fse, &mut bits);
                if bits.overflowed() {
                    weights.push(s1.symbol(&fse));
                    break;
                }
                if weights.len() > 255 {
                    return Err(ZstdError::Corrupt("too many Huffman weights"));
                }
            }
            used = 1 + head;
        } else {
            let n = head - 127;
            let packed = src
                .get(1..1 + (n + 1) / 2)
                .ok_or(ZstdError::Truncated("Huffman weights"))?;
            for i in 0..n {
                let b = packed[i / 2];
                weights.push(if i % 2 == 0 { b >> 4 } else { b & 15 });
            }
            used = 1 + (n + 1) / 2;
        }
        if weights.len() > 255 {
            return Err(ZstdError::Corrupt("too many Huffman weights"));
        }
        let mut sum = 0u32;
        for &w in &weights {
            if u32::from(w) > HUF_MAX_BITS {
                return Err(ZstdError::Corrupt("Huffman weight too large"));
            }
            if w > 0 {
                sum += 1 << (w - 1);
            }
        }
        if sum == 0 {
            return Err(ZstdError::Corrupt("Huffman weights all zero"));
        }
        let max_bits = 32 - sum.leading_zeros();
        if max_bits > HUF_MAX_BITS {
            return Err(ZstdError::Corrupt("Huffman codes longer than 11 bits"));
        }
        let left = (1u32 << max_bits) - sum;
        if !left.is_power_of_two() {
            return Err(ZstdError::Corrupt("Huffman weights do not form a tree"));
        }
        weights.push((32 - left.leading_zeros()) as u8);
        if weights.iter().filter(|&&w| w == 1).count() % 2 == 1 {
            return Err(ZstdError::Corrupt("Huffman weights do not form a tree"));
        }
        let mut table = Vec::with_capacity(1 << max_bits);
        for w in 1..=max_bits as u8 {
            let len = (max_bits + 1 - u32::from(w)) as u8;
            for (s, _) in weights.iter().enumerate().filter(|(_, &x)| x == w) {
                for _ in 0..1u32 << (w - 1) {
                    table.push((s as u8, len));
                }
            }
        }
        debug_assert_eq!(table.len(), 1 << max_bits);
        Ok((Huffman { max_bits, table }, used))
    }

    /// Decodes one stream into `out` exactly, using every bit of `src`.
    fn decode_stream(&self, src: &[u8], out: &mut [u8]) -> Res<()> {
        let mut bits = RevBits::new(src)?;
        let mb = self.max_bits;
        let mut i = 0;
        while i < out.len() {
            bits.refill();
            // After a refill at least 56 bits are loaded unless the stream is ending.
            let mut n = (bits.count / mb) as usize;
            if n == 0 {
                n = 1;
            }
            let end = (i + n).min(out.len());
            while i < end {
                let (s, len) = self.table[bits.peek(mb) as usize];
                bits.consume(u32::from(len));
                out[i] = s;
                i += 1;
            }
        }
        if !bits.finished() {
            return Err(ZstdError::Corrupt("Huffman stream length does not match its symbols"));
        }
        Ok(())
    }
}

// -- sequences -------------------------------------------------------------------------

const LL_DEFAULT: [i16; 36] = [
    4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1,
];
const ML_DEFAULT: [i16; 53] = [
    1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1,
];
const OF_DEFAULT: [i16; 29] = [
    1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1,
];

/// Literal length codes 16..=35: (baseline, extra bits).
const LL_CODES: [(u32, u8); 20] = [
    (16, 1),
    (18, 1),
    (20, 1),
    (22, 1),
    (24, 2),
    (28, 2),
    (32, 3),
    (40, 3),
    (48, 4),
    (64, 6),
    (128, 7),
    (256, 8),
    (512, 9),
    (1024, 10),
    (2048, 11),
    (4096, 12),
    (8192, 13),
    (16384, 14),
    (32768, 15),
    (65536, 16),
];
/// Match length codes 32..=52: (baseline, extra bits).
const ML_CODES: [(u32, u8); 21] = [
    (35, 1),
    (37, 1),
    (39, 1),
    (41, 1),
    (43, 2),
    (47, 2),
    (51, 3),
    (59, 3),
    (67, 4),
    (83, 4),
    (99, 5),
    (131, 7),
    (259, 8),
    (515, 9),
    (1027, 10),
    (2051, 11),
    (4099, 12),
    (8195, 13),
    (16387, 14),
    (32771, 15),
    (65539, 16),
];

fn ll_code(code: u8) -> (u32, u8) {
    if code < 16 {
        (u32::from(code), 0)
    } else {
        LL_CODES[usize::from(code) - 16]
    }
}

fn ml_code(code: u8) -> (u32, u8) {
    if code < 32 {
        (u32::from(code) + 3, 0)
    } else {
        ML_CODES[usize::from(code) - 32]
    }
}

const LL: usize = 0;
const OF: usize = 1;
const ML: usize = 2;
/// Per table: (max accuracy log, max symbol, predefined counts, predefined log).
const KINDS: [(u32, usize, &[i16], u32); 3] = [
    (9, 35, &LL_DEFAULT, 6),
    (8, 31, &OF_DEFAULT, 5),
    (9, 52, &ML_DEFAULT, 6),
];

// -- frames and blocks -----------------------------------------------------------------

struct Decoder<'o> {
    out: &'o mut Vec<u8>,
    limit: usize,
    lits: Vec<u8>,
    /// The previous block's Huffman table (treeless literals reuse it).
    huf: Option<Huffman>,
    /// The previous sequence tables (repeat mode reuses them), LL, OF, ML.
    tables: [Option<Fse>; 3],
}

/// What a frame header says.
struct Frame {
    window: u64,
    content_size: Option<u64>,
    checksum: bool,
}

impl<'o> Decoder<'o> {
    /// Decodes one frame at the start of `src`; returns the bytes it used.
    fn frame(&mut self, src: &[u8]) -> Res<usize> {
        let mut pos = 0;
        let magic = le(take(src, &mut pos, 4, "frame magic")?) as u32;
        if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
            let size = le(take(src, &mut pos, 4, "skippable frame size")?) as usize;
            take(src, &mut pos, size, "skippable frame")?;
            return Ok(pos);
        }
        if magic != MAGIC {
            return Err(ZstdError::BadMagic(magic));
        }
        let frame = self.frame_header(src, &mut pos)?;
        let start = self.out.len();
        // Each frame starts afresh: repeat offsets, tables, the window.
        self.huf = None;
        self.tables = [None, None, None];
        let mut rep = [1u64, 4, 8];
        let block_max = BLOCK_MAX.min(frame.window.min(usize::MAX as u64) as usize);
        loop {
            let h = le(take(src, &mut pos, 3, "block header")?) as usize;
            let (last, kind, size) = (h & 1 == 1, (h >> 1) & 3, h >> 3);
            if size > block_max {
                return Err(ZstdError::Corrupt("block larger than the maximum block size"));
            }
            match kind {
                0 => {
                    let data = take(src, &mut pos, size, "raw block")?;
                    self.room(size)?;
                    self.out.extend_from_slice(data);
                }
                1 => {
                    let b = take(src, &mut pos, 1, "RLE block")?[0];
                    self.room(size)?;
                    self.out.resize(self.out.len() + size, b);
                }
                2 => {
                    let data = take(src, &mut pos, size, "compressed block")?;
                    self.block(data, start, frame.window, &mut rep)?;
                }
                _ => return Err(ZstdError::Corrupt("reserved block type")),
            }
            if last {
                break;
            }
        }
        let produced = (self.out.len() - start) as u64;
        if let Some(declared) = frame.content_size {
            if declared != produced {
                return Err(ZstdError::SizeMismatch { declared, produced });
            }
        }
        if frame.checksum {
            let stored = le(take(src, &mut pos, 4, "content checksum")?) as u32;
            let computed = xxh64(&self.out[start..], 0) as u32;
            if stored != computed {
                return Err(ZstdError::Checksum { stored, computed });
            }
        }
        Ok(pos)
    }

    fn frame_header(&self, src: &[u8], pos: &mut usize) -> Res<Frame> {
        let d = take(src, pos, 1, "frame header")?[0];
        let fcs_flag = d >> 6;
        let single = d & 0x20 != 0;
        if d & 0x08 != 0 {
            return Err(ZstdError::BadFrameHeader("reserved bit set"));
        }
        let mut window = 0u64;
        if !single {
            let w = take(src, pos, 1, "frame header")?[0];
            let log = 10 + u32::from(w >> 3);
            if log > WINDOW_LOG_MAX {
                return Err(ZstdError::BadFrameHeader("window larger than 2 GiB"));
            }
            let base = 1u64 << log;
            window = base + (base / 8) * u64::from(w & 7);
        }
        let dict_len = [0, 1, 2, 4][usize::from(d & 3)];
        let dict = le(take(src, pos, dict_len, "frame header")?) as u32;
        if dict != 0 {
            return Err(ZstdError::Dictionary(dict));
        }
        let fcs_len = match fcs_flag {
            0 if single => 1,
            0 => 0,
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let content_size = if fcs_len == 0 {
            None
        } else {
            let v = le(take(src, pos, fcs_len, "frame header")?);
            Some(if fcs_len == 2 { v + 256 } else { v })
        };
        if single {
            window = content_size.unwrap_or(0);
        }
        if let Some(size) = content_size {
            if size > (self.limit.saturating_sub(self.out.len())) as u64 {
                return Err(ZstdError::TooLarge {
                    limit: self.limit as u64,
                });
            }
        }
        Ok(Frame {
            window,
            content_size,
            checksum: d & 0x04 != 0,
        })
    }

    /// Fails unless `n` more output bytes stay within the limit.
    #[inline]
    fn room(&self, n: usize) -> Res<()> {
        if n > self.limit.saturating_sub(self.out.len()) {
            return Err(ZstdError::TooLarge {
                limit: self.limit as u64,
            });
        }
        Ok(())
    }

    fn block(&mut self, src: &[u8], start: usize, window: u64, rep: &mut [u64; 3]) -> Res<()> {
        let block_start = self.out.len();
        let mut pos = self.literals(src)?;
        // Sequences section header.
        let b0 = *src.get(pos).ok_or(ZstdError::Truncated("sequences header"))?;
        pos += 1;
        let nseq = match b0 {
            0..=127 => usize::from(b0),
            128..=254 => {
                let b1 = *src.get(pos).ok_or(ZstdError::Truncated("sequences header"))?;
                pos += 1;
                (usize::from(b0 - 128) << 8) + usize::from(b1)
            }
            255 => {
                let b = take(src, &mut pos, 2, "sequences header")?;
                usize::from(b[0]) + (usize::from(b[1]) << 8) + 0x7F00
            }
        };
        let mut lit_at = 0;
        if nseq > 0 {
            let modes = *src.get(pos).ok_or(ZstdError::Truncated("sequences header"))?;
            pos += 1;
            if modes & 3 != 0 {
                return Err(ZstdError::Corrupt("reserved bits in the compression modes"));
            }
            for (t, shift) in [(LL, 6), (OF, 4), (ML, 2)] {
                let (max_log, max_sym, default, default_log) = KINDS[t];
                let fse = match (modes >> shift) & 3 {
                    0 => Fse::build(default, default_log)?,
                    1 => {
                        let s = *src.get(pos).ok_or(ZstdError::Truncated("RLE sequence symbol"))?;
                        pos += 1;
                        if usize::from(s) > max_sym {
                            return Err(ZstdError::Corrupt("RLE sequence symbol out of range"));
                        }
                        Fse::rle(s)
                    }
                    2 => {
                        let (fse, n) = Fse::read(&src[pos..], max_log, max_sym)?;
                        pos += n;
                        fse
                    }
                    _ => self.tables[t]
                        .take()
                        .ok_or(ZstdError::Corrupt("repeated sequence table without a previous one"))?,
                };
                self.tables[t] = Some(fse);
            }
            let [ll, of, ml] = &self.tables;
            let (ll, of, ml) = (
                ll.as_ref().unwrap_or_else(|| unreachable!()),
                of.as_ref().unwrap_or_else(|| unreachable!()),
                ml.as_ref().unwrap_or_else(|| unreachable!()),
            );
            let mut bits = RevBits::new(&src[pos..])?;
            let mut sll = State::init(ll, &mut bits);
            let mut sof = State::init(of, &mut bits);
            let mut sml = State::init(ml, &mut bits);
            for i in 0..nseq {
                let of_code = sof.symbol(of);
                let (ml_base, ml_bits) = ml_code(sml.symbol(ml));
                let (ll_base, ll_bits) = ll_code(sll.symbol(ll));
                if of_code > 31 {
                    return Err(ZstdError::Corrupt("offset code out of range"));
                }
                let of_value = (1u64 << of_code) + bits.read(u32::from(of_code));
                let mlen = (ml_base as u64 + bits.read(u32::from(ml_bits))) as usize;
                let llen = (ll_base as u64 + bits.read(u32::from(ll_bits))) as usize;
                let offset = if of_value > 3 {
                    let o = of_value - 3;
                    *rep = [o, rep[0], rep[1]];
                    o
                } else {
                    let idx = of_value as usize - 1 + usize::from(llen == 0);
                    match idx {
                        0 => rep[0],
                        1 => {
                            *rep = [rep[1], rep[0], rep[2]];
                            rep[0]
                        }
                        2 => {
                            *rep = [rep[2], rep[0], rep[1]];
                            rep[0]
                        }
                        _ => {
                            let o = rep[0].wrapping_sub(1);
                            if o == 0 {
                                return Err(ZstdError::Corrupt("repeat offset 0"));
                            }
                            *rep = [o, rep[0], rep[1]];
                            o
                        }
                    }
                };
                if i + 1 < nseq {
                    sll.update(ll, &mut bits);
                    sml.update(ml, &mut bits);
                    sof.update(of, &mut bits);
                }
                if bits.overflowed() {
                    return Err(ZstdError::Corrupt("sequence bitstream too short"));
                }
                // Execute: literals, then the match.
                let lits = self
                    .lits
                    .get(lit_at..lit_at + llen)
                    .ok_or(ZstdError::Corrupt("sequence uses more literals than the block has"))?;
                lit_at += llen;
                if llen + mlen > BLOCK_MAX - (self.out.len() - block_start) {
                    return Err(ZstdError::Corrupt("block decodes to more than the maximum block size"));
                }
                if llen + mlen > self.limit.saturating_sub(self.out.len()) {
                    return Err(ZstdError::TooLarge {
                        limit: self.limit as u64,
                    });
                }
                append(self.out, lits);
                let produced = (self.out.len() - start) as u64;
                if offset > produced || offset > window {
                    return Err(ZstdError::BadOffset { offset, produced });
                }
                copy_match(self.out, offset as usize, mlen);
            }
            if !bits.finished() {
                return Err(ZstdError::Corrupt("sequence bitstream has bits left over"));
            }
        } else if pos != src.len() {
            return Err(ZstdError::Corrupt("bytes after an empty sequences section"));
        }
        let rest = self.lits.len() - lit_at;
        if rest > BLOCK_MAX - (self.out.len() - block_start) {
            return Err(ZstdError::Corrupt("block decodes to more than the maximum block size"));
        }
        self.room(rest)?;
        self.out.extend_from_slice(&self.lits[lit_at..]);
        Ok(())
    }

    /// Decodes the literals section into `self.lits`; returns the bytes it used.
    fn literals(&mut self, src: &[u8]) -> Res<usize> {
        let b0 = *src.first().ok_or(ZstdError::Truncated("literals header"))?;
        let kind = b0 & 3;
        let format = (b0 >> 2) & 3;
        self.lits.clear();
        if kind < 2 {
            let (size, head) = match format {
                0 | 2 => (usize::from(b0 >> 3), 1),
                1 => (
                    usize::from(b0 >> 4)
                        + (usize::from(*src.get(1).ok_or(ZstdError::Truncated("literals header"))?) << 4),
                    2,
                ),
                _ => (
                    le(src.get(..3).ok_or(ZstdError::Truncated("literals header"))?) as usize >> 4,
                    3,
                ),
            };
            if size > BLOCK_MAX {
                return Err(ZstdError::Corrupt("literals larger than the maximum block size"));
            }
            if kind == 0 {
                let data = src.get(head..head + size).ok_or(ZstdError::Truncated("raw literals"))?;
                self.lits.extend_from_slice(data);
                return Ok(head + size);
            }
            let b = *src.get(head).ok_or(ZstdError::Truncated("RLE literals"))?;
            self.lits.resize(size, b);
            return Ok(head + 1);
        }
        let (head, regen, comp, streams) = match format {
            0 | 1 => {
                let h = le(src.get(..3).ok_or(ZstdError::Truncated("literals header"))?) as usize;
                (3, (h >> 4) & 0x3FF, (h >> 14) & 0x3FF, if format == 0 { 1 } else { 4 })
            }
            2 => {
                let h = le(src.get(..4).ok_or(ZstdError::Truncated("literals header"))?) as usize;
                (4, (h >> 4) & 0x3FFF, (h >> 18) & 0x3FFF, 4)
            }
            _ => {
                // 40 bits: shifted as u64 (usize is 32 bits in the module)
                let h = le(src.get(..5).ok_or(ZstdError::Truncated("literals header"))?);
                (5, ((h >> 4) & 0x3FFFF) as usize, ((h >> 22) & 0x3FFFF) as usize, 4)
            }
        };
        if regen > BLOCK_MAX {
            return Err(ZstdError::Corrupt("literals larger than the maximum block size"));
        }
        let data = src
            .get(head..head + comp)
            .ok_or(ZstdError::Truncated("compressed literals"))?;
        let mut at = 0;
        if kind == 2 {
            let (huf, n) = Huffman::read(data)?;
            self.huf = Some(huf);
            at = n;
        }
        let huf = self
            .huf
            .as_ref()
            .ok_or(ZstdError::Corrupt("treeless literals without a previous Huffman table"))?;
        let data = &data[at..];
        self.lits.resize(regen, 0);
        if streams == 1 {
            huf.decode_stream(data, &mut self.lits)?;
        } else {
            if data.len() < 6 {
                return Err(ZstdError::Truncated("literals jump table"));
            }
            let s1 = le(&data[0..2]) as usize;
            let s2 = le(&data[2..4]) as usize;
            let s3 = le(&data[4..6]) as usize;
            let body = &data[6..];
            if s1 + s2 + s3 > body.len() {
                return Err(ZstdError::Corrupt("literals jump table past the section"));
            }
            let seg = (regen + 3) / 4;
            if 3 * seg > regen {
                return Err(ZstdError::Corrupt("too few literals for four streams"));
            }
            let (o1, o2, o3) = (s1, s1 + s2, s1 + s2 + s3);
            let (l1, rest) = self.lits.split_at_mut(seg);
            let (l2, rest) = rest.split_at_mut(seg);
            let (l3, l4) = rest.split_at_mut(seg);
            huf.decode_stream(&body[..o1], l1)?;
            huf.decode_stream(&body[o1..o2], l2)?;
            huf.decode_stream(&body[o2..o3], l3)?;
            huf.decode_stream(&body[o3..], l4)?;
        }
        Ok(head + comp)
    }
}

/// Copies shorter than this go byte by byte: a `memory.copy` per sequence costs more than
/// the bytes in wasmer 1.1 (a call out of the compiled code; 7x slower decoding there).
const SHORT_COPY: usize = 32;

/// Appends `bytes` (short ones without a `memcpy`).
#[inline]
fn append(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() < SHORT_COPY {
        for &b in bytes {
            out.push(b);
        }
    } else {
        out.extend_from_slice(bytes);
    }
}

/// Appends `len` bytes copied from `offset` bytes back (which may overlap what it writes).
#[inline]
fn copy_match(out: &mut Vec<u8>, offset: usize, len: usize) {
    let from = out.len() - offset;
    if len < SHORT_COPY {
        // byte by byte is also the overlapping copy's meaning
        for i in from..from + len {
            let b = out[i];
            out.push(b);
        }
    } else if offset >= len {
        out.extend_from_within(from..from + len);
    } else if offset == 1 {
        let b = out[from];
        out.resize(out.len() + len, b);
    } else {
        // The pattern repeats every `offset` bytes: copy ever longer runs of it.
        let mut left = len;
        while left > 0 {
            let n = (out.len() - from).min(left);
            out.extend_from_within(from..from + n);
            left -= n;
        }
    }
}

// -- XXH64 -----------------------------------------------------------------------------

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn xxh_round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn xxh_merge(h: u64, v: u64) -> u64 {
    (h ^ xxh_round(0, v)).wrapping_mul(P1).wrapping_add(P4)
}

fn u64_at(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// XXH64 of `data` (the frame checksum is its low 32 bits).
pub fn xxh64(data: &[u8], seed: u64) -> u64 {
    let mut rest = data;
    let mut h = if data.len() >= 32 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while rest.len() >= 32 {
            for (i, lane) in v.iter_mut().enumerate() {
                *lane = xxh_round(*lane, u64_at(&rest[8 * i..]));
            }
            rest = &rest[32..];
        }
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for lane in v {
            h = xxh_merge(h, lane);
        }
        h
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(data.len() as u64);
    while rest.len() >= 8 {
        h = (h ^ xxh_round(0, u64_at(rest)))
            .rotate_left(27)
            .wrapping_mul(P1)
            .wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        h = (h ^ le(&rest[..4]).wrapping_mul(P1))
            .rotate_left(23)
            .wrapping_mul(P2)
            .wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h = (h ^ u64::from(b).wrapping_mul(P5)).rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests;
