//! Stack-trace lines of JavaScript engines: V8 (`    at fn (url:line:col)`), SpiderMonkey
//! and JavaScriptCore (`fn@url:line:col`), Hermes (V8 style, `address at` locations).
//!
//! Both hosts parse traces here, so one implementation defines what a frame is. A line
//! is parsed in time linear in its length (every step scans forward or backward once; an
//! `eval at` origin is re-scanned at most [`MAX_EVAL_DEPTH`] times), and a line longer
//! than the host's cap (code points) is never a frame. "Whitespace" is Python's
//! `str.isspace()` set, the reference host's.

/// How many nested `eval at` origins are parsed; a deeper one is kept as text.
pub const MAX_EVAL_DEPTH: usize = 8;

/// A byte range of the line.
pub type Span = (usize, usize);

/// What kind of record: a frame of either style, or an `eval at` origin kept as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `at ...` lines (V8, Node, Hermes).
    V8,
    /// `fn@url:line:col` lines (SpiderMonkey, JavaScriptCore).
    Gecko,
    /// An `eval at` origin that is not a frame: its text is its raw and its function.
    Text,
}

/// One parsed frame (or `eval at` origin); spans are byte ranges of the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The frame style.
    pub style: Style,
    /// The frame's text: the whole line for a frame, the origin text for an origin.
    pub raw: Span,
    /// An origin's raw text is `at ` followed by `raw` (it was parsed as such a line).
    pub raw_at: bool,
    /// Indentation before `at` / the function (empty for origins).
    pub prefix: Span,
    /// The function name as printed, without `async`/`new` (None when empty).
    pub function: Option<Span>,
    /// The location (URL, path, `<anonymous>`, `native`...).
    pub url: Option<Span>,
    /// The decimal digits of the line number.
    pub line: Option<Span>,
    /// The decimal digits of the column number.
    pub col: Option<Span>,
    /// `async` frame.
    pub is_async: bool,
    /// `new` frame (constructor).
    pub is_new: bool,
    /// V8 `[as name]`.
    pub alias: Option<Span>,
    /// Hermes `address at url:line:col`: the column is a bytecode offset (0-based).
    pub bytecode: bool,
}

fn frame(style: Style, raw: Span) -> Frame {
    Frame {
        style,
        raw,
        raw_at: false,
        prefix: (raw.0, raw.0),
        function: None,
        url: None,
        line: None,
        col: None,
        is_async: false,
        is_new: false,
        alias: None,
        bytecode: false,
    }
}

/// Python's `str.isspace()` (what `\s` and `str.strip()` use there).
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c'..='\x1f' | ' ' | '\u{85}' | '\u{a0}' | '\u{1680}'
            | '\u{2000}'..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

fn skip_space(s: &str, mut i: usize, end: usize) -> usize {
    while i < end {
        let c = s[i..].chars().next().unwrap_or('\0');
        if !is_space(c) {
            break;
        }
        i += c.len_utf8();
    }
    i
}

fn rstrip(s: &str, start: usize, mut end: usize) -> usize {
    while end > start {
        let c = s[start..end].chars().next_back().unwrap_or('\0');
        if !is_space(c) {
            break;
        }
        end -= c.len_utf8();
    }
    end
}

/// The run of ASCII digits ending at `end`: its start.
fn digits_before(b: &[u8], start: usize, end: usize) -> usize {
    let mut i = end;
    while i > start && b[i - 1].is_ascii_digit() {
        i -= 1;
    }
    i
}

/// `url:line:col` → (url, line digits, col digits); `url:line` → col None; anything
/// else → (the whole text, None, None). The URL is the longest prefix that works (it
/// can contain colons: `http://host:8080/a.js`, `C:\app\a.js`).
fn location(s: &str, start: usize, end: usize) -> (Span, Option<Span>, Option<Span>) {
    let b = s.as_bytes();
    let d2 = digits_before(b, start, end);
    if d2 < end && d2 > start && b[d2 - 1] == b':' {
        let d1 = digits_before(b, start, d2 - 1);
        if d1 < d2 - 1 && d1 > start + 1 && b[d1 - 1] == b':' {
            return ((start, d1 - 1), Some((d1, d2 - 1)), Some((d2, end)));
        }
        if d2 - 1 > start {
            return ((start, d2 - 1), Some((d2, end)), None);
        }
    }
    ((start, end), None, None)
}

/// `text:digits` with a non-empty text (a location with at least a line).
fn has_line(s: &str, start: usize, end: usize) -> bool {
    let b = s.as_bytes();
    let d = digits_before(b, start, end);
    d < end && d > start + 1 && b[d - 1] == b':'
}

fn is_special_location(t: &str) -> bool {
    if matches!(t, "<anonymous>" | "native" | "unknown location") {
        return true;
    }
    match t.strip_prefix("index ") {
        Some(n) => !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()),
        None => false,
    }
}

/// Locations have no spaces, except the special ones and paths that end in a position;
/// this keeps prose like `at the moment (not sure)` out.
fn looks_like_location(s: &str, start: usize, end: usize) -> bool {
    let t = &s[start..end];
    if t.is_empty() {
        return false;
    }
    !t.contains(' ') || is_special_location(t) || has_line(s, start, end)
}

/// `fn (location)` split at the parenthesis that matches the final `)` (which must
/// follow a space); one backward scan.
fn split_trailing_parens(s: &str, start: usize, end: usize) -> Option<(Span, Span)> {
    let b = s.as_bytes();
    if end == start || b[end - 1] != b')' {
        return None;
    }
    let mut depth = 0usize;
    let mut i = end;
    while i > start {
        i -= 1;
        match b[i] {
            b')' => depth += 1,
            b'(' => {
                depth -= 1;
                if depth == 0 {
                    if i == start || b[i - 1] != b' ' {
                        return None;
                    }
                    return Some(((start, i - 1), (i + 1, end - 1)));
                }
            }
            _ => {}
        }
    }
    None
}

/// `fn [as alias]` → (fn, alias): the ` [as ` is the first one after the last `]` before
/// the final one (the alias has no `]`).
fn split_alias(s: &str, start: usize, end: usize) -> (Span, Option<Span>) {
    let t = &s[start..end];
    if !t.ends_with(']') {
        return ((start, end), None);
    }
    let body = &t[..t.len() - 1];
    let from = body.rfind(']').map_or(0, |i| i + 1);
    match body[from..].find(" [as ") {
        Some(at) => {
            let at = start + from + at;
            ((start, at), Some((at + 5, end - 1)))
        }
        None => ((start, end), None),
    }
}

fn some(span: Span) -> Option<Span> {
    if span.0 < span.1 {
        Some(span)
    } else {
        None
    }
}

/// The part of a V8 line after `at ` (`rest` is `[start, end)`), with its origins.
fn v8_rest(s: &str, raw: Span, prefix: Span, start: usize, end: usize, depth: usize, out: &mut Vec<Frame>) -> bool {
    let end = rstrip(s, start, end);
    if start == end {
        return false;
    }
    let mut f = frame(Style::V8, raw);
    f.prefix = prefix;
    let split = match split_trailing_parens(s, start, end) {
        Some(x) => x,
        None => {
            // `at url:line:col` (anonymous) or `at <anonymous>`
            let mut st = start;
            if s[st..end].starts_with("async ") {
                f.is_async = true;
                st += 6;
            }
            if !looks_like_location(s, st, end) {
                return false;
            }
            let (url, line, col) = location(s, st, end);
            f.url = Some(url);
            f.line = line;
            f.col = col;
            out.push(f);
            return true;
        }
    };
    let ((mut fs, fe), (ls, le)) = split;
    if s[fs..fe].starts_with("async ") {
        f.is_async = true;
        fs += 6;
    }
    if s[fs..fe].starts_with("new ") {
        f.is_new = true;
        fs += 4;
    }
    let (func, alias) = split_alias(s, fs, fe);
    f.function = some(func);
    f.alias = alias;
    if s[ls..le].starts_with("eval at ") {
        // `eval at ORIGIN_FN (ORIGIN_LOC), EVAL_LOC`; ORIGIN_LOC may itself be an eval
        let comma = match s[ls..le].rfind(", ") {
            Some(c) => ls + c,
            None => return false,
        };
        let (os, oe) = (ls + 8, comma);
        let (url, line, col) = location(s, comma + 2, le);
        f.url = Some(url);
        f.line = line;
        f.col = col;
        out.push(f);
        let at = out.len();
        let parsed = depth < MAX_EVAL_DEPTH && v8_rest(s, (os, oe), (os, os), os, oe, depth + 1, out);
        if parsed {
            out[at].raw_at = true;
        } else {
            out.truncate(at);
            let mut o = frame(Style::Text, (os, oe));
            o.function = Some((os, oe));
            out.push(o);
        }
        return true;
    }
    if !looks_like_location(s, ls, le) {
        return false;
    }
    // Hermes: `at foo (address at index.android.bundle:1:9876)`
    let bytecode = s[ls..le].starts_with("address at ") && has_line(s, ls + 11, le);
    let ls = if bytecode { ls + 11 } else { ls };
    f.bytecode = bytecode;
    let (url, line, col) = location(s, ls, le);
    f.url = Some(url);
    f.line = line;
    f.col = col;
    out.push(f);
    true
}

fn parse_v8(s: &str, out: &mut Vec<Frame>) -> bool {
    let p = skip_space(s, 0, s.len());
    if !s[p..].starts_with("at ") {
        return false;
    }
    v8_rest(s, (0, s.len()), (0, p), p + 3, s.len(), 0, out)
}

const GECKO_WORDS: &[&str] = &["global code", "module code", "eval code", "eval function"];

/// Firefox eval and Function code: ` line N > eval` somewhere in the location.
fn gecko_eval(t: &str) -> bool {
    let mut from = 0;
    while let Some(i) = t[from..].find(" line ") {
        let at = from + i + 6;
        let b = t.as_bytes();
        let mut j = at;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > at {
            let tail = &t[j..];
            if let Some(w) = tail.strip_prefix(" > ") {
                if w.starts_with("eval") || w.starts_with("Function") || w.starts_with("injectedScript") {
                    return true;
                }
            }
        }
        from = at;
    }
    false
}

fn parse_gecko(s: &str, out: &mut Vec<Frame>) -> bool {
    let b = s.as_bytes();
    let p = skip_space(s, 0, s.len());
    // the function: characters other than whitespace and `@`, or the engines' phrases
    // with a space; it ends at the first `@` (nothing it is made of contains one)
    let q = match s[p..].find('@') {
        Some(i) => p + i,
        None => return false,
    };
    let mut reach = vec![false; q - p + 1];
    reach[0] = true;
    let mut i = p;
    while i < q {
        let c = s[i..].chars().next().unwrap_or('\0');
        if reach[i - p] {
            if !is_space(c) {
                reach[i + c.len_utf8() - p] = true;
            }
            for w in GECKO_WORDS {
                if b[i..q].starts_with(w.as_bytes()) {
                    reach[i + w.len() - p] = true;
                }
            }
        }
        i += c.len_utf8();
    }
    if !reach[q - p] {
        return false;
    }
    match s[q + 1..].chars().next() {
        Some(c) if !is_space(c) && c != '\n' => {}
        _ => return false,
    }
    let (ls, le) = (q + 1, rstrip(s, q + 1, s.len()));
    let mut f = frame(Style::Gecko, (0, s.len()));
    f.prefix = (0, p);
    let mut fs = p;
    if s[fs..q].starts_with("async*") {
        f.is_async = true;
        fs += 6;
    }
    f.function = some((fs, q));
    let loc = &s[ls..le];
    if loc.contains(' ') && loc != "[native code]" && !gecko_eval(loc) {
        // gecko locations are URLs (spaces percent-encoded): keeps `user@host said: hi` out
        return false;
    }
    let (url, line, col) = location(s, ls, le);
    if line.is_none() && !(loc == "[native code]" || loc.contains('/') || loc.contains(':') || loc.ends_with(".js")) {
        // `fn@url` without a position: only URL-ish locations (not `mail me@example`)
        return false;
    }
    f.url = Some(url);
    f.line = line;
    f.col = col;
    out.push(f);
    true
}

/// Parses one line (without its ending) into `out`: the frame, then its `eval at`
/// origins outermost first. False (and `out` unchanged) when the line is not a frame,
/// or longer than `max_chars` code points.
pub fn parse_line(s: &str, max_chars: usize, out: &mut Vec<Frame>) -> bool {
    if (s.len() > max_chars && s.chars().count() > max_chars) || s.contains('\n') || s.contains('\r') {
        return false;
    }
    let at = out.len();
    if parse_v8(s, out) {
        return true;
    }
    out.truncate(at);
    if s.contains('@') && parse_gecko(s, out) {
        return true;
    }
    out.truncate(at);
    false
}

#[cfg(test)]
mod tests;

/// Words per frame record of [`parse_lines`].
pub const RECORD_WORDS: usize = 15;
/// An absent span in a record.
pub const NO_SPAN: u32 = u32::MAX;

/// Offsets units of [`parse_lines`]' records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Units {
    /// UTF-8 bytes.
    Bytes,
    /// Unicode code points (Python string indices).
    CodePoints,
    /// UTF-16 code units (JavaScript string indices).
    Utf16,
}

/// Parses `text`, lines separated by `\n` (each line as the host split it, without its
/// ending), into words: per line its record count (0: not a frame), then per record
/// `[style (1 v8, 2 gecko, 3 text), flags (1 async, 2 new, 4 raw is "at " + raw span,
/// 8 Hermes bytecode address),
/// raw, prefix end, function, url, line digits, col digits, alias]`, each span two words
/// (start, end; [`NO_SPAN`] twice when absent) relative to the line, in `units`.
pub fn parse_lines(text: &str, max_chars: usize, units: Units, out: &mut Vec<u32>) {
    let mut frames = Vec::new();
    let mut table: Vec<u32> = Vec::new();
    for line in text.split('\n') {
        frames.clear();
        if !parse_line(line, max_chars, &mut frames) {
            out.push(0);
            continue;
        }
        let ascii = units == Units::Bytes || line.is_ascii();
        if !ascii {
            // byte offset -> unit offset, at every char boundary
            table.clear();
            table.resize(line.len() + 1, 0);
            let mut n = 0u32;
            for (i, c) in line.char_indices() {
                table[i] = n;
                n += if units == Units::Utf16 { c.len_utf16() as u32 } else { 1 };
            }
            table[line.len()] = n;
        }
        let at = |i: usize| if ascii { i as u32 } else { table[i] };
        let span = |out: &mut Vec<u32>, s: Option<Span>| match s {
            Some((a, b)) => {
                out.push(at(a));
                out.push(at(b));
            }
            None => {
                out.push(NO_SPAN);
                out.push(NO_SPAN);
            }
        };
        out.push(frames.len() as u32);
        for f in &frames {
            out.push(match f.style {
                Style::V8 => 1,
                Style::Gecko => 2,
                Style::Text => 3,
            });
            out.push(f.is_async as u32 | (f.is_new as u32) << 1 | (f.raw_at as u32) << 2 | (f.bytecode as u32) << 3);
            span(out, Some(f.raw));
            out.push(at(f.prefix.1));
            span(out, f.function);
            span(out, f.url);
            span(out, f.line);
            span(out, f.col);
            span(out, f.alias);
        }
    }
}
