//! A validating JSON scanner (RFC 8259) that builds no tree.
//!
//! The scanner walks the document once and hands byte ranges ([`Raw`]) to its caller,
//! which decides per key whether to record, descend into or skip a value. Strings stay
//! escaped in the input; [`unescape`] decodes one when it is asked for.
//!
//! A source map's bytes are read by a checking scanner ([`Scanner::checking`]): UTF-8 is
//! checked in the same pass (the string loops stop at non-ASCII bytes and check each run
//! of them; everything else must be ASCII JSON syntax), so a document it finishes
//! ([`Scanner::finish_checked`]) is valid UTF-8 and becomes the `&str` later passes slice
//! (one memory pass fewer than validating first: 8% of a 31 MB map's parse).

use crate::error::{Error, ErrorKind, Result};
use std::borrow::Cow;
use std::ops::Range;

/// Maximum nesting of arrays and objects.
pub(crate) const MAX_DEPTH: u32 = 128;

/// The type of a scanned JSON value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    /// A noun for error messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// A scanned value: its type and byte range. For strings the range is the content
/// between the quotes and `escaped` says whether it contains a backslash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Raw {
    pub kind: Kind,
    pub start: u32,
    pub end: u32,
    pub escaped: bool,
    /// A string whose content was only skipped ([`Scanner::skip_string`]): escapes and
    /// control characters not checked yet, `escaped` unknown.
    pub unchecked: bool,
}

impl Raw {
    /// The byte range as `usize`s.
    #[inline]
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// The scanner: a cursor over the whole document.
pub(crate) struct Scanner<'a> {
    data: &'a [u8],
    /// The document as text when its UTF-8 was checked before ([`Scanner::new`]); `None`
    /// for a scanner that checks it ([`Scanner::checking`]).
    text: Option<&'a str>,
    pos: usize,
    depth: u32,
}

/// A document a checking scanner read to its end ([`Scanner::finish_checked`]): every byte
/// is valid UTF-8. Only this module makes one (the field is private).
pub(crate) struct Checked<'a>(&'a [u8]);

impl<'a> Checked<'a> {
    /// The document's bytes.
    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// The error for input that is not UTF-8, at its first bad byte.
fn not_utf8(at: usize) -> Error {
    Error::new(ErrorKind::InvalidJson, format!("input is not valid UTF-8 at byte {at}"))
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of each byte of the result is set for bytes of `w` that are `"`, `\` or a control
/// character. Bits above the lowest flagged byte may be false positives (borrows), so
/// only the lowest one is meaningful.
#[inline(always)]
fn string_stop_mask(w: u64) -> u64 {
    let q = w ^ (ONES * b'"' as u64);
    let b = w ^ (ONES * b'\\' as u64);
    let zq = q.wrapping_sub(ONES) & !q;
    let zb = b.wrapping_sub(ONES) & !b;
    let ctl = w.wrapping_sub(ONES * 0x20) & !w;
    (zq | zb | ctl) & HIGHS
}

/// Bit 7 of each byte of the result is set for bytes of `w` that are `"` (lowest exact, as
/// in [`string_stop_mask`]).
#[inline(always)]
fn quote_mask(w: u64) -> u64 {
    let q = w ^ (ONES * b'"' as u64);
    q.wrapping_sub(ONES) & !q & HIGHS
}

/// Skips from `i` over ASCII bytes that `word` (a mask as [`string_stop_mask`]'s) does
/// not flag, 16 bytes a step, then 8; returns the first flagged or non-ASCII byte, or
/// where fewer than 8 bytes are left (the callers check non-ASCII runs: see
/// [`Scanner::checking`]). `wide` is the same predicate on 16 bytes (flagged bytes all ones), in SIMD
/// builds, which go 64 bytes a step first (one branch per 64 bytes: a `sourcesContent`
/// string has an escaped quote every few hundred bytes). One loop for the string scans,
/// inlined into each with its predicate.
#[inline(always)]
fn skip_unflagged(
    data: &[u8],
    mut i: usize,
    word: impl Fn(u64) -> u64,
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))] wide: impl Fn(wide::V) -> wide::V,
) -> usize {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::*;
        // A byte's top bit marks it: flagged (all ones) or non-ASCII.
        while let Some([a, b, c, d]) = wide::load4(data, i) {
            let (a, b, c, d) = (
                v128_or(wide(a), a),
                v128_or(wide(b), b),
                v128_or(wide(c), c),
                v128_or(wide(d), d),
            );
            if u8x16_bitmask(v128_or(v128_or(a, b), v128_or(c, d))) == 0 {
                i += 64;
                continue;
            }
            for hits in [a, b, c, d] {
                let m = u8x16_bitmask(hits);
                if m != 0 {
                    return i + m.trailing_zeros() as usize;
                }
                i += 16;
            }
        }
        while let Some(v) = wide::load(data, i) {
            let m = u8x16_bitmask(v128_or(wide(v), v));
            if m != 0 {
                return i + m.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    let load = |chunk: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        u64::from_le_bytes(w)
    };
    // Two words a step, one branch: a word without a flagged byte has an all-zero mask.
    while let Some(chunk) = data.get(i..i + 16) {
        let (lo, hi) = (load(&chunk[..8]), load(&chunk[8..]));
        let (lo, hi) = (word(lo) | (lo & HIGHS), word(hi) | (hi & HIGHS));
        if lo | hi != 0 {
            return i + if lo != 0 {
                (lo.trailing_zeros() / 8) as usize
            } else {
                8 + (hi.trailing_zeros() / 8) as usize
            };
        }
        i += 16;
    }
    while let Some(chunk) = data.get(i..i + 8) {
        let w = load(chunk);
        let mask = word(w) | (w & HIGHS);
        if mask != 0 {
            return i + (mask.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

/// From `i`, the first `"`, `\`, control or non-ASCII byte (or the end) and the number
/// of `,` and `;` before it.
fn count_to_stop(data: &[u8], mut i: usize) -> (usize, usize) {
    let mut n = 0usize;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::*;
        // Per-lane byte counts (up to 4 a block), widened before they can wrap.
        let mut lanes = u8x16_splat(0);
        let mut blocks = 0u32;
        // Two 64-bit lanes summed in scalar code (wasmer's compiler has no extadd_pairwise).
        let flush = |lanes: v128| {
            let bytes = |w: u64| {
                const EVEN: u64 = 0x00FF_00FF_00FF_00FF;
                let pairs = (w & EVEN) + ((w >> 8) & EVEN);
                (pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48) as usize
            };
            bytes(u64x2_extract_lane::<0>(lanes)) + bytes(u64x2_extract_lane::<1>(lanes))
        };
        while let Some(vs) = wide::load4(data, i) {
            // A byte's top bit marks it: a string stop (all ones) or non-ASCII.
            let stop = |v| v128_or(wide::string_stop(v), v);
            let sep = |v| v128_or(u8x16_eq(v, u8x16_splat(b',')), u8x16_eq(v, u8x16_splat(b';')));
            let [a, b, c, d] = vs;
            if u8x16_bitmask(v128_or(v128_or(stop(a), stop(b)), v128_or(stop(c), stop(d)))) != 0 {
                break;
            }
            // A match is -1 in its lane.
            lanes = i8x16_sub(lanes, i8x16_add(i8x16_add(sep(a), sep(b)), i8x16_add(sep(c), sep(d))));
            i += 64;
            blocks += 1;
            if blocks == 63 {
                n += flush(lanes);
                lanes = u8x16_splat(0);
                blocks = 0;
            }
        }
        n += flush(lanes);
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let end = skip_unflagged(data, i, string_stop_mask);
        n += super::vlq::count_separators(&data[i..end]);
        i = end;
    }
    loop {
        match data.get(i) {
            Some(b',' | b';') => n += 1,
            Some(&b) if b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b) => break,
            None => break,
            _ => {}
        }
        i += 1;
    }
    (i, n)
}

/// 16 bytes at a time with wasm SIMD (`-C target-feature=+simd128` builds only): loads,
/// and the predicates of the string scans.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) mod wide {
    use core::arch::wasm32::*;

    /// 16 bytes.
    pub(crate) type V = v128;

    /// The 64 bytes at `i` as four vectors.
    #[inline(always)]
    pub(crate) fn load4(data: &[u8], i: usize) -> Option<[v128; 4]> {
        let block = data.get(i..i + 64)?;
        Some([load(block, 0)?, load(block, 16)?, load(block, 32)?, load(block, 48)?])
    }

    #[inline(always)]
    pub(crate) fn load(data: &[u8], i: usize) -> Option<v128> {
        let chunk = data.get(i..i + 16)?;
        let mut lo = [0u8; 8];
        let mut hi = [0u8; 8];
        lo.copy_from_slice(&chunk[..8]);
        hi.copy_from_slice(&chunk[8..]);
        Some(u64x2(u64::from_le_bytes(lo), u64::from_le_bytes(hi)))
    }

    /// The `"` bytes of 16 (all ones).
    #[inline(always)]
    pub(crate) fn quote(v: v128) -> v128 {
        u8x16_eq(v, u8x16_splat(b'"'))
    }

    /// The `"`, `\` and control bytes of 16 (all ones).
    #[inline(always)]
    pub(crate) fn string_stop(v: v128) -> v128 {
        v128_or(
            v128_or(u8x16_eq(v, u8x16_splat(b'"')), u8x16_eq(v, u8x16_splat(b'\\'))),
            u8x16_lt(v, u8x16_splat(0x20)),
        )
    }
}

impl<'a> Scanner<'a> {
    /// A scanner over `text` starting at byte `pos`.
    pub(crate) fn new(text: &'a str, pos: usize) -> Self {
        Scanner {
            data: text.as_bytes(),
            text: Some(text),
            pos,
            depth: 0,
        }
    }

    /// A scanner over bytes not known to be UTF-8, from byte `pos` (the bytes before it are
    /// checked here). It checks every byte it passes: string contents by runs of
    /// non-ASCII bytes (a character never holds an ASCII byte, so a run of whole
    /// characters ends at one), and outside strings only ASCII syntax is accepted. So a
    /// document it reads to the end ([`Scanner::finish_checked`]) is valid UTF-8, and the
    /// first bad byte is reported as validating first would, unless a JSON error comes
    /// before it.
    pub(crate) fn checking(data: &'a [u8], pos: usize) -> Result<Self> {
        let head = data.get(..pos).unwrap_or(data);
        super::utf8::from_utf8(head).map_err(not_utf8)?;
        Ok(Scanner {
            data,
            text: None,
            pos,
            depth: 0,
        })
    }

    /// The text of bytes `r` of a scanned value (in a checking scanner, bytes it checked).
    pub(crate) fn str_at(&self, r: Range<usize>) -> Cow<'a, str> {
        match self.text {
            Some(text) => Cow::Borrowed(&text[r]),
            None => String::from_utf8_lossy(&self.data[r]),
        }
    }

    /// A scanned string's value (unescaped).
    pub(crate) fn string_of(&self, raw: &Raw) -> Cow<'a, str> {
        let s = self.str_at(raw.range());
        if raw.escaped {
            Cow::Owned(unescape(&s))
        } else {
            s
        }
    }

    /// The text of a scanned range.
    #[cfg(test)]
    pub(crate) fn text_of(&self, raw: &Raw) -> Cow<'a, str> {
        self.str_at(raw.range())
    }

    /// Where the run of non-ASCII bytes at `i` ends, if it is whole UTF-8 characters.
    #[inline(never)]
    fn utf8_run(&self, i: usize) -> Result<usize> {
        let data = self.data;
        let mut j = i;
        while j < data.len() && data[j] >= 0x80 {
            j += 1;
        }
        super::utf8::from_utf8(&data[i..j]).map_err(|valid| not_utf8(i + valid))?;
        Ok(j)
    }

    /// An `InvalidJson` error at `pos` with a line/column for humans.
    pub(crate) fn error_at(&self, pos: usize, what: &str) -> Error {
        let pos = pos.min(self.data.len());
        let before = &self.data[..pos];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = pos - before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        Error::new(
            ErrorKind::InvalidJson,
            format!("invalid JSON at byte {pos} (line {line}, column {col}): {what}"),
        )
    }

    fn unexpected(&self) -> Error {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let c = match rest.first() {
            None => return self.error_at(self.pos, "unexpected end of input"),
            Some(&b) if b < 0x80 => b as char,
            Some(_) => {
                // the character here, if the bytes are UTF-8 (a checking scanner meets
                // non-ASCII outside strings first here)
                let head = &rest[..rest.len().min(4)];
                let valid = match std::str::from_utf8(head) {
                    Ok(s) => s,
                    Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
                };
                match valid.chars().next() {
                    Some(c) => c,
                    None => return not_utf8(self.pos),
                }
            }
        };
        self.error_at(self.pos, &format!("unexpected character {c:?}"))
    }

    /// Skips JSON whitespace.
    #[inline]
    pub(crate) fn skip_ws(&mut self) {
        while let Some(&b) = self.data.get(self.pos) {
            if b == b' ' || b == b'\n' || b == b'\r' || b == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// Skips whitespace and returns the next byte without consuming it.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.data.get(self.pos).copied()
    }

    /// [`Scanner::finish`] for a checking scanner: the document, known to be UTF-8.
    pub(crate) fn finish_checked(&mut self) -> Result<Checked<'a>> {
        self.finish()?;
        Ok(Checked(self.data))
    }

    /// Checks that only whitespace follows.
    pub(crate) fn finish(&mut self) -> Result<()> {
        self.skip_ws();
        if self.pos == self.data.len() {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// Scans (and validates) any value, skipping over nested content.
    pub(crate) fn value(&mut self) -> Result<Raw> {
        match self.peek() {
            Some(b'"') => self.string(),
            Some(b'{') => self.object(|s, _| s.value().map(drop)),
            Some(b'[') => self.array(|s| s.value().map(drop)),
            Some(b't') => self.literal(b"true", Kind::Bool),
            Some(b'f') => self.literal(b"false", Kind::Bool),
            Some(b'n') => self.literal(b"null", Kind::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected()),
        }
    }

    fn literal(&mut self, lit: &[u8], kind: Kind) -> Result<Raw> {
        let start = self.pos;
        if self.data[start..].starts_with(lit) {
            self.pos += lit.len();
            Ok(Raw {
                kind,
                start: start as u32,
                end: self.pos as u32,
                escaped: false,
                unchecked: false,
            })
        } else {
            Err(self.unexpected())
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.data.get(self.pos) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Raw> {
        let start = self.pos;
        if self.data.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.data.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error_at(self.pos, "expected a digit")),
        }
        if self.data.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error_at(self.pos, "expected a digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.data.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.data.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error_at(self.pos, "expected a digit in the exponent"));
            }
        }
        Ok(Raw {
            kind: Kind::Number,
            start: start as u32,
            end: self.pos as u32,
            escaped: false,
            unchecked: false,
        })
    }

    /// Scans a string; the cursor is on the opening quote.
    pub(crate) fn string(&mut self) -> Result<Raw> {
        let data = self.data;
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            // Most bytes of big maps are inside strings: skip them a word or more at a time.
            i = skip_unflagged(
                data,
                i,
                string_stop_mask,
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                wide::string_stop,
            );
            match data.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Raw {
                        kind: Kind::String,
                        start: start as u32,
                        end: i as u32,
                        escaped,
                        unchecked: false,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    match data.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let hex = data.get(i + 2..i + 6);
                            if !matches!(hex, Some(h) if h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.error_at(i, "invalid \\u escape (expected 4 hex digits)"));
                            }
                            i += 6;
                        }
                        Some(_) => return Err(self.error_at(i, "invalid escape sequence")),
                        None => return Err(self.error_at(i, "unterminated string")),
                    }
                }
                Some(&b) if b < 0x20 => return Err(self.error_at(i, "unescaped control character in string")),
                Some(&b) if b >= 0x80 => i = self.utf8_run(i)?,
                Some(_) => i += 1,
                None => return Err(self.error_at(start - 1, "unterminated string")),
            }
        }
    }

    /// [`Scanner::value`] for `mappings`: a string without escapes or non-ASCII bytes
    /// also has its `,` and `;` counted (the decoder's bound on segments) in the same
    /// pass, instead of a second pass over a big map's biggest string. `None`: not
    /// counted (any other value, or a string the plain scan had to take over).
    pub(crate) fn mappings_value(&mut self) -> Result<(Raw, Option<usize>)> {
        if self.peek() != Some(b'"') {
            return Ok((self.value()?, None));
        }
        let start = self.pos + 1;
        let (i, separators) = count_to_stop(self.data, start);
        if self.data.get(i) == Some(&b'"') {
            self.pos = i + 1;
            return Ok((
                Raw {
                    kind: Kind::String,
                    start: start as u32,
                    end: i as u32,
                    escaped: false,
                    unchecked: false,
                },
                Some(separators),
            ));
        }
        Ok((self.string()?, None))
    }

    /// Finds the end of a string without checking its content; the cursor is on the
    /// opening quote. For values that are checked later, when asked for (`sourcesContent`:
    /// most of a big map's bytes). Only quotes stop the word loop (escaped newlines, the
    /// common escape in embedded sources, do not); a quote ends the string unless an odd
    /// run of backslashes precedes it. Runs before different quotes are disjoint, so the
    /// scan stays linear. Where [`Scanner::string`] accepts, both find the same end.
    pub(crate) fn skip_string(&mut self) -> Result<Raw> {
        let data = self.data;
        let start = self.pos + 1;
        let mut i = start;
        loop {
            i = skip_unflagged(
                data,
                i,
                quote_mask,
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                wide::quote,
            );
            match data.get(i) {
                Some(b'"') => {
                    let mut j = i;
                    while j > start && data[j - 1] == b'\\' {
                        j -= 1;
                    }
                    if (i - j) % 2 == 0 {
                        self.pos = i + 1;
                        return Ok(Raw {
                            kind: Kind::String,
                            start: start as u32,
                            end: i as u32,
                            escaped: false,
                            unchecked: true,
                        });
                    }
                    i += 1;
                }
                Some(&b) if b >= 0x80 => i = self.utf8_run(i)?,
                Some(_) => i += 1,
                None => return Err(self.error_at(start - 1, "unterminated string")),
            }
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("JSON nesting deeper than {MAX_DEPTH} levels at byte {}", self.pos),
            ));
        }
        Ok(())
    }

    /// Scans an object; the cursor is on `{`. `member` is called with each key (a string
    /// [`Raw`]) and must consume exactly one value.
    pub(crate) fn object<F>(&mut self, mut member: F) -> Result<Raw>
    where
        F: FnMut(&mut Self, Raw) -> Result<()>,
    {
        let start = self.pos;
        self.enter()?;
        self.pos += 1;
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(self.error_at(self.pos, "expected a string key"));
                }
                let key = self.string()?;
                if self.peek() != Some(b':') {
                    return Err(self.error_at(self.pos, "expected ':'"));
                }
                self.pos += 1;
                self.skip_ws();
                member(self, key)?;
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error_at(self.pos, "expected ',' or '}'")),
                }
            }
        }
        self.depth -= 1;
        Ok(Raw {
            kind: Kind::Object,
            start: start as u32,
            end: self.pos as u32,
            escaped: false,
            unchecked: false,
        })
    }

    /// Scans an array; the cursor is on `[`. `element` must consume exactly one value.
    pub(crate) fn array<F>(&mut self, mut element: F) -> Result<Raw>
    where
        F: FnMut(&mut Self) -> Result<()>,
    {
        let start = self.pos;
        self.enter()?;
        self.pos += 1;
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                element(self)?;
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error_at(self.pos, "expected ',' or ']'")),
                }
            }
        }
        self.depth -= 1;
        Ok(Raw {
            kind: Kind::Array,
            start: start as u32,
            end: self.pos as u32,
            escaped: false,
            unchecked: false,
        })
    }
}

fn hex4(b: &[u8]) -> u32 {
    b.iter().fold(0, |acc, &c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => c - b'A' + 10,
        };
        acc * 16 + d as u32
    })
}

/// Decodes the escapes of a string the scanner accepted. A lone surrogate (valid JSON
/// but not representable in UTF-8) becomes U+FFFD.
pub(crate) fn unescape(raw: &str) -> String {
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&raw[run..i]);
        // The scanner guarantees a well-formed escape here.
        let e = b.get(i + 1).copied().unwrap_or(b'\\');
        i += 2;
        let c = match e {
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(b.get(i..i + 4).unwrap_or(b"0000"));
                i += 4;
                if (0xD800..0xDC00).contains(&hi) && b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'u') {
                    let lo = hex4(b.get(i + 2..i + 6).unwrap_or(b"0000"));
                    if (0xDC00..0xE000).contains(&lo) {
                        i += 6;
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).unwrap_or('\u{FFFD}')
                    } else {
                        '\u{FFFD}'
                    }
                } else {
                    char::from_u32(hi).unwrap_or('\u{FFFD}')
                }
            }
            other => other as char,
        };
        out.push(c);
        run = i;
    }
    out.push_str(&raw[run..]);
    out
}

/// The decoded text of a scanned string: borrowed when it has no escapes.
pub(crate) fn string_value<'a>(text: &'a str, raw: &Raw) -> Cow<'a, str> {
    let s = &text[raw.range()];
    if raw.escaped {
        Cow::Owned(unescape(s))
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
pub(crate) mod tree {
    //! A test-only JSON tree built on the scanner (for tests that need whole documents).

    use super::{Kind, Scanner};
    use crate::error::Result;

    /// A JSON value.
    #[derive(Clone, Debug, PartialEq)]
    pub(crate) enum Value {
        Null,
        Bool(bool),
        Number(f64),
        String(String),
        Array(Vec<Value>),
        Object(Vec<(String, Value)>),
    }

    impl Value {
        pub(crate) fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Object(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }
    }

    fn value(s: &mut Scanner<'_>) -> Result<Value> {
        Ok(match s.peek() {
            Some(b'{') => {
                let mut members = Vec::new();
                s.object(|s, k| {
                    let key = s.string_of(&k).into_owned();
                    members.push((key, value(s)?));
                    Ok(())
                })?;
                Value::Object(members)
            }
            Some(b'[') => {
                let mut items = Vec::new();
                s.array(|s| {
                    items.push(value(s)?);
                    Ok(())
                })?;
                Value::Array(items)
            }
            _ => {
                let raw = s.value()?;
                let text = s.text_of(&raw);
                match raw.kind {
                    Kind::Null => Value::Null,
                    Kind::Bool => Value::Bool(text == "true"),
                    Kind::Number => Value::Number(text.parse().unwrap_or(f64::NAN)),
                    _ => Value::String(s.string_of(&raw).into_owned()),
                }
            }
        })
    }

    /// Parses a whole document.
    pub(crate) fn parse(text: &str) -> Result<Value> {
        let mut s = Scanner::new(text, 0);
        let v = value(&mut s)?;
        s.finish()?;
        Ok(v)
    }
}
