//! Where generated JavaScript says its source map is: the `sourceMappingURL` comment, the
//! `debugId` comment, and `data:` URLs (the hosts used to do this themselves, twice).
//!
//! - [`sourcemap_url`]: ECMA-426 "Linking through inline annotations", algorithm
//!   *JavaScriptExtractSourceMapURL without parsing*: lines split at every ECMAScript line
//!   terminator; on each line whitespace is skipped, `//` comments and one-line `/* */`
//!   comments are matched against `^[@#]\s*sourceMappingURL=(\S*?)\s*$`, any other code
//!   resets the result; the last match followed only by whitespace and comments wins.
//!   Lines are scanned from the end and the scan stops at the first line that decides.
//! - [`debug_id`]: the Debug ID proposal (tc39/ecma426 `proposals/debug-id.md`): a line
//!   `//# debugId=<UUID>` among the last five lines (trailing blank lines not counted).
//! - [`decode_data_url`]: the WHATWG fetch "data: URL processor" (percent-decoding, then
//!   forgiving-base64 when the media type ends in `;base64`).
//!
//! Text is UTF-8 read leniently: a byte sequence that is not UTF-8 reads as U+FFFD per
//! maximal subpart (what Python's `errors="replace"` and `TextDecoder` do), so a host may
//! hand over raw file bytes. Whitespace is ECMAScript's (`WhiteSpace` and
//! `LineTerminator`, the `\s` of the standard's regular expression) on both hosts.
//! Time is linear in the input and memory constant (the data URL: its output).

use super::trace::Units;
use crate::error::{Error, ErrorKind, Result};
use std::ops::Range;

const REPLACEMENT: char = '\u{fffd}';

/// The char at `i` of `b` and its length in bytes; a sequence that is not UTF-8 is one
/// U+FFFD per maximal subpart (Unicode's "substitution of maximal subparts").
fn char_at(b: &[u8], i: usize) -> (char, usize) {
    let b0 = b[i];
    if b0 < 0x80 {
        return (b0 as char, 1);
    }
    let (need, lo, hi, mut cp) = match b0 {
        0xC2..=0xDF => (1, 0x80, 0xBF, (b0 & 0x1F) as u32),
        0xE0 => (2, 0xA0, 0xBF, 0),
        0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF, (b0 & 0x0F) as u32),
        0xED => (2, 0x80, 0x9F, 0x0D),
        0xF0 => (3, 0x90, 0xBF, 0),
        0xF1..=0xF3 => (3, 0x80, 0xBF, (b0 & 0x07) as u32),
        0xF4 => (3, 0x80, 0x8F, 4),
        _ => return (REPLACEMENT, 1),
    };
    for j in 1..=need {
        let (l, h) = if j == 1 { (lo, hi) } else { (0x80, 0xBF) };
        match b.get(i + j) {
            Some(&c) if c >= l && c <= h => cp = (cp << 6) | (c & 0x3F) as u32,
            _ => return (REPLACEMENT, j),
        }
    }
    (char::from_u32(cp).unwrap_or(REPLACEMENT), need + 1)
}

/// ECMAScript `WhiteSpace` or `LineTerminator` (the `\s` of its regular expressions).
pub fn is_es_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

/// The lines of `b` from the last to the first, as byte ranges without their terminators
/// (CRLF, LF, CR, U+2028, U+2029). Empty input is one empty line.
struct LinesBack<'a> {
    b: &'a [u8],
    /// End of the next line to return; `None` when done.
    end: Option<usize>,
}

impl<'a> LinesBack<'a> {
    fn new(b: &'a [u8]) -> Self {
        LinesBack { b, end: Some(b.len()) }
    }
}

impl<'a> Iterator for LinesBack<'a> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let end = self.end?;
        let b = self.b;
        let mut i = end;
        while i > 0 {
            match b[i - 1] {
                b'\n' => {
                    self.end = Some(if i >= 2 && b[i - 2] == b'\r' { i - 2 } else { i - 1 });
                    return Some(i..end);
                }
                b'\r' => {
                    self.end = Some(i - 1);
                    return Some(i..end);
                }
                // U+2028 / U+2029 are always these three bytes (0xE2 is never a
                // continuation byte, so they cannot be the tail of another sequence)
                0xA8 | 0xA9 if i >= 3 && b[i - 3] == 0xE2 && b[i - 2] == 0x80 => {
                    self.end = Some(i - 3);
                    return Some(i..end);
                }
                _ => i -= 1,
            }
        }
        self.end = None;
        Some(0..end)
    }
}

/// Skips ECMAScript whitespace in `b[i..end]`.
fn skip_space(b: &[u8], mut i: usize, end: usize) -> usize {
    while i < end {
        let (c, n) = char_at(&b[..end], i);
        if !is_es_space(c) {
            break;
        }
        i += n;
    }
    i
}

/// `^[@#]\s*sourceMappingURL=(\S*?)\s*$` on the comment text `b[start..end]`: the URL.
fn match_annotation(b: &[u8], start: usize, end: usize) -> Option<Range<usize>> {
    const NAME: &[u8] = b"sourceMappingURL=";
    if start >= end || !matches!(b[start], b'@' | b'#') {
        return None;
    }
    let i = skip_space(b, start + 1, end);
    if end - i < NAME.len() || &b[i..i + NAME.len()] != NAME {
        return None;
    }
    let url_start = i + NAME.len();
    let mut url_end = url_start;
    let mut spaced = false;
    let mut j = url_start;
    while j < end {
        let (c, n) = char_at(&b[..end], j);
        j += n;
        if is_es_space(c) {
            spaced = true;
        } else if spaced {
            return None; // whitespace inside the URL
        } else {
            url_end = j;
        }
    }
    Some(url_start..url_end)
}

/// What a line does to the result: nothing (whitespace and comments that are not
/// annotations), reset it (code), or set it.
enum Effect {
    Keep,
    Reset,
    Set(Range<usize>),
}

fn find(b: &[u8], needle: &[u8], start: usize, end: usize) -> Option<usize> {
    b[start..end]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| start + p)
}

fn scan_line(b: &[u8], line: Range<usize>) -> Effect {
    let end = line.end;
    let mut last = Effect::Keep;
    let mut i = line.start;
    while i < end {
        let (c, n) = char_at(&b[..end], i);
        i += n;
        if c == '/' && i < end {
            let (c2, n2) = char_at(&b[..end], i);
            i += n2;
            if c2 == '/' {
                if let Some(url) = match_annotation(b, i, end) {
                    last = Effect::Set(url);
                }
                i = end;
            } else if c2 == '*' {
                match find(b, b"*/", i, end) {
                    // an unclosed multi-line comment: the rest of the line is comment
                    None => i = end,
                    Some(close) => {
                        if let Some(url) = match_annotation(b, i, close) {
                            last = Effect::Set(url);
                        }
                        i = close + 2;
                    }
                }
            } else {
                last = Effect::Reset;
            }
        } else if !is_es_space(c) {
            // code: an annotation is only valid at the end of the code
            last = Effect::Reset;
        }
    }
    last
}

/// The URL of the last `sourceMappingURL` annotation (as written: not resolved, not
/// percent-decoded), as a byte range of `text`; `None` when there is none.
pub fn sourcemap_url(text: &[u8]) -> Option<Range<usize>> {
    for line in LinesBack::new(text) {
        match scan_line(text, line) {
            Effect::Keep => continue,
            Effect::Reset => return None,
            Effect::Set(url) => return Some(url),
        }
    }
    None
}

/// How many lines at the end of a file may hold the `debugId` comment.
const DEBUG_ID_LINES: usize = 5;

/// `//# debugId=<UUID>` as the whole of `b[line]` (surrounding whitespace aside): the
/// UUID's range.
fn match_debug_id(b: &[u8], line: Range<usize>) -> Option<Range<usize>> {
    const PREFIX: &[u8] = b"//# debugId=";
    let start = skip_space(b, line.start, line.end);
    let rest = &b[start..line.end];
    if !rest.starts_with(PREFIX) {
        return None;
    }
    let id = start + PREFIX.len();
    for (k, &c) in b[id..line.end].iter().take(36).enumerate() {
        let ok = if matches!(k, 8 | 13 | 18 | 23) {
            c == b'-'
        } else {
            c.is_ascii_hexdigit()
        };
        if !ok {
            return None;
        }
    }
    if line.end - id < 36 || skip_space(b, id + 36, line.end) != line.end {
        return None;
    }
    Some(id..id + 36)
}

/// The UUID of the `//# debugId=` comment (as written: the hosts lower-case it), as a
/// byte range of `text`; `None` when there is none.
pub fn debug_id(text: &[u8]) -> Option<Range<usize>> {
    LinesBack::new(text)
        .skip_while(|l| skip_space(text, l.start, l.end) == l.end)
        .take(DEBUG_ID_LINES)
        .find_map(|l| match_debug_id(text, l))
}

/// The length of `text[from..to]` in `units` (both on char boundaries of the lenient
/// reading; a sequence that is not UTF-8 counts as its U+FFFD characters).
pub fn units_between(text: &[u8], from: usize, to: usize, units: Units) -> usize {
    let part = &text[from..to];
    if units == Units::Bytes {
        return part.len();
    }
    let utf16 = units == Units::Utf16;
    if std::str::from_utf8(part).is_ok() {
        // (the common case: a host string sent as UTF-8) a char per non-continuation
        // byte, two UTF-16 units for a four-byte one
        return part
            .iter()
            .map(|&b| ((b as i8) >= -0x40) as usize + (utf16 && b >= 0xF0) as usize)
            .sum();
    }
    let (mut i, mut n) = (0, 0);
    while i < part.len() {
        let (c, len) = char_at(part, i);
        n += if utf16 { c.len_utf16() } else { 1 };
        i += len;
    }
    n
}

fn data_url_error(message: &str) -> Error {
    Error::new(ErrorKind::InvalidSourceMap, message)
}

/// Python's `urllib.parse.unquote_to_bytes`: `%XX` (either case) is the byte, anything
/// else stays as it is.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let (Some(a), Some(b)) = (hex(s[i + 1]), hex(s[i + 2])) {
                out.push((a * 16 + b) as u8);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

fn is_ascii_ws(c: u8) -> bool {
    matches!(c, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn trim_ascii_ws(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ascii_ws(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ascii_ws(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// WHATWG "forgiving-base64 decode".
fn forgiving_base64(data: &[u8]) -> Result<Vec<u8>> {
    let bad = || data_url_error("data URL: invalid base64 payload");
    let mut s: Vec<u8> = data.iter().copied().filter(|c| !is_ascii_ws(*c)).collect();
    if s.len() % 4 == 0 {
        if s.ends_with(b"==") {
            s.truncate(s.len() - 2);
        } else if s.ends_with(b"=") {
            s.truncate(s.len() - 1);
        }
    }
    if s.len() % 4 == 1 {
        return Err(bad());
    }
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in &s {
        acc = (acc << 6) | value(c).ok_or_else(bad)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Decodes a `data:` URL (UTF-8 bytes) to its payload. Errors (kind `InvalidSourceMap`):
/// not a `data:` URL, no `,`, a bad base64 payload.
pub fn decode_data_url(url: &[u8]) -> Result<Vec<u8>> {
    let s = trim_ascii_ws(url);
    if s.len() < 5 || !s[..5].eq_ignore_ascii_case(b"data:") {
        return Err(data_url_error("not a data: URL"));
    }
    let mut rest = &s[5..];
    if let Some(hash) = rest.iter().position(|&c| c == b'#') {
        rest = &rest[..hash];
    }
    let comma = match rest.iter().position(|&c| c == b',') {
        Some(c) => c,
        None => return Err(data_url_error("data URL has no ',' before its payload")),
    };
    let mime = trim_ascii_ws(&rest[..comma]);
    let body = percent_decode(&rest[comma + 1..]);
    if is_base64(mime) {
        forgiving_base64(&body)
    } else {
        Ok(body)
    }
}

/// The media type ends in `;[ \t]*base64[ \t]*` (ASCII case-insensitive).
fn is_base64(mime: &[u8]) -> bool {
    fn strip(mut s: &[u8]) -> &[u8] {
        while let [rest @ .., b' ' | b'\t'] = s {
            s = rest;
        }
        s
    }
    let s = strip(mime);
    if s.len() < 6 || !s[s.len() - 6..].eq_ignore_ascii_case(b"base64") {
        return false;
    }
    strip(&s[..s.len() - 6]).ends_with(b";")
}

#[cfg(test)]
mod tests;
