//! The bytes of the format: the header (one field list, written and read from it), field
//! widths, little-endian reads, and where a location record's fields are.

use super::MAGIC;
use crate::error::{Error, ErrorKind};

/// The header after the magic, as FORMAT.md's table lists it (the string fields are
/// string indices). Version 1 and 2 headers end before `widths`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) version: u32,
    pub(super) flags: u32,
    pub(super) image_base: u64,
    pub(super) n_ranges: u32,
    pub(super) n_locations: u32,
    pub(super) n_functions: u32,
    pub(super) n_files: u32,
    pub(super) n_strings: u32,
    pub(super) string_bytes: u32,
    pub(super) arch: u32,
    pub(super) debug_id: u32,
    pub(super) code_id: u32,
    pub(super) kind: u32,
    /// `w_start`, the six location field widths, and a zero byte.
    pub(super) widths: [u8; 8],
}

/// Where a header field is kept in [`Header`].
enum Field<'h> {
    U32(&'h mut u32),
    U64(&'h mut u64),
    Bytes(&'h mut [u8; 8]),
}

impl Header {
    /// The fields in file order after the magic: the one list that [`to_bytes`](Self::to_bytes)
    /// and [`read`](Self::read) follow.
    fn fields(&mut self) -> [Field<'_>; 14] {
        use Field::{Bytes, U32, U64};
        [
            U32(&mut self.version),
            U32(&mut self.flags),
            U64(&mut self.image_base),
            U32(&mut self.n_ranges),
            U32(&mut self.n_locations),
            U32(&mut self.n_functions),
            U32(&mut self.n_files),
            U32(&mut self.n_strings),
            U32(&mut self.string_bytes),
            U32(&mut self.arch),
            U32(&mut self.debug_id),
            U32(&mut self.code_id),
            U32(&mut self.kind),
            Bytes(&mut self.widths),
        ]
    }

    /// The magic and the header.
    pub(super) fn to_bytes(mut self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..MAGIC.len()].copy_from_slice(MAGIC);
        let mut at = MAGIC.len();
        for f in self.fields() {
            let (v, size) = match f {
                Field::U32(v) => (u64::from(*v), 4),
                Field::U64(v) => (*v, 8),
                Field::Bytes(v) => (u64::from_le_bytes(*v), 8),
            };
            out[at..at + size].copy_from_slice(&v.to_le_bytes()[..size]);
            at += size;
        }
        debug_assert_eq!(at, HEADER_LEN);
        out
    }

    /// The header of `data` (at least [`HEADER_LEN`] bytes; of a version 1 or 2 file,
    /// `widths` is the start of the first section).
    pub(super) fn read(data: &[u8]) -> Header {
        let mut h = Header::default();
        let mut at = MAGIC.len();
        for f in h.fields() {
            match f {
                Field::U32(v) => {
                    *v = rd32(data, at);
                    at += 4;
                }
                Field::U64(v) => {
                    *v = rd64(data, at);
                    at += 8;
                }
                Field::Bytes(v) => {
                    v.copy_from_slice(&data[at..at + 8]);
                    at += 8;
                }
            }
        }
        h
    }

    /// The string indices of the identity: arch, debug id, code id, kind.
    pub(super) fn identity_strings(&self) -> [u32; 4] {
        [self.arch, self.debug_id, self.code_id, self.kind]
    }
}

/// Header of versions 1 and 2; version 3 adds the eight field widths.
pub(super) const HEADER_LEN_V2: usize = 64;
pub(super) const HEADER_LEN: usize = 72;
pub(super) const LOCATION_LEN_V2: usize = 32;
pub(super) const FUNCTION_LEN: usize = 12;

/// An `InvalidSymCache` error.
pub(super) fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidSymCache, msg)
}
/// Bytes per range start and per location field (format version 3).
#[derive(Clone, Copy, Debug)]
pub(super) struct Widths {
    pub(super) start: u8,
    pub(super) location: [u8; 6],
}

impl Widths {
    pub(super) fn stride(&self) -> usize {
        self.location.iter().map(|&w| w as usize).sum()
    }

    /// As the header stores them: `w_start`, the location widths, a zero byte.
    pub(super) fn to_bytes(self) -> [u8; 8] {
        let l = self.location;
        [self.start, l[0], l[1], l[2], l[3], l[4], l[5], 0]
    }
}

/// Bytes `v` needs (0 for 0).
pub(super) fn width_of(v: u64) -> u8 {
    ((64 - v.leading_zeros() + 7) / 8) as u8
}

/// `width` little-endian bytes at `at` (at most 8).
#[inline(always)] // per field of every lookup; left out of line in wasm otherwise
pub(super) fn rd_n(b: &[u8], at: usize, width: usize) -> u64 {
    // One 8-byte load and a mask where the slice has room (all but the last few fields):
    // a copy of `width` bytes is a memory.copy call in wasm, several times slower.
    if let Some(w) = b.get(at..at + 8) {
        let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        return if width >= 8 { v } else { v & ((1u64 << (width * 8)) - 1) };
    }
    let mut a = [0u8; 8];
    a[..width].copy_from_slice(&b[at..at + width]);
    u64::from_le_bytes(a)
}

/// `n` rounded up to a multiple of 8.
pub(super) fn align8(n: usize) -> usize {
    (n + 7) & !7
}

#[inline(always)]
pub(super) fn rd32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(super) fn rd64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Where a location's fields are: the record size, and each field's offset and width
/// (file, line, column, function, caller, sym_addr).
#[derive(Clone, Copy, Debug)]
pub(super) struct LocationLayout {
    pub(super) stride: usize,
    pub(super) fields: [(usize, usize); 6],
    /// Version 3 stores the three indices plus one (`NONE` as 0); earlier ones as they are.
    pub(super) plus_one: bool,
}

impl LocationLayout {
    pub(super) const V2: LocationLayout = LocationLayout {
        stride: LOCATION_LEN_V2,
        fields: [(0, 4), (4, 4), (8, 4), (12, 4), (16, 4), (24, 8)],
        plus_one: false,
    };

    pub(super) fn v3(widths: [u8; 6]) -> LocationLayout {
        let mut fields = [(0, 0); 6];
        let mut at = 0;
        for (f, &w) in fields.iter_mut().zip(&widths) {
            *f = (at, w as usize);
            at += w as usize;
        }
        LocationLayout {
            stride: at,
            fields,
            plus_one: true,
        }
    }

    /// Field `k` of the record at `b`.
    #[inline(always)] // (left out of line with #[inline]: ~9% of a cold batch's locations_at in wasm)
    pub(super) fn get(&self, b: &[u8], k: usize) -> u64 {
        let (at, w) = self.fields[k];
        rd_n(b, at, w)
    }

    /// Index field `k` (file, function, caller) of the record at `b`.
    #[inline(always)]
    pub(super) fn index(&self, b: &[u8], k: usize) -> u32 {
        let v = self.get(b, k);
        if self.plus_one {
            (v as u32).wrapping_sub(1) // 0 is NONE
        } else {
            v as u32
        }
    }
}
