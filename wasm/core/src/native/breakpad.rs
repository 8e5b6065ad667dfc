//! Breakpad text symbol files (`.sym`, as written by `dump_syms`): `MODULE`, `INFO
//! CODE_ID`, `FILE`, `INLINE_ORIGIN`, `FUNC` with its line records and `INLINE` records,
//! `PUBLIC`. `STACK` records and anything unknown are skipped.
//!
//! Addresses in a `.sym` file are relative to the module's load address, so the image
//! base is 0. Lookups give the inlinee chain that the `INLINE` records describe: the
//! innermost frame is located by the line record, each caller by the call file and line
//! of the `INLINE` record one level deeper.
//!
//! The file is streamed (see [`Source`]), never held whole: a first pass keeps the module
//! identity, `FILE`, `INLINE_ORIGIN` and `PUBLIC` records and where each `FUNC` starts; a
//! second pass reads the `FUNC` blocks in address order (front to back for a file written
//! sorted, as `dump_syms` does) and writes each one's ranges. Peak memory is the symcache
//! being built plus one `FUNC`'s records.

use super::source::{for_each_line, Source};
use super::warnings::Warnings;
use super::{demangle, invalid, ObjectInfo};
use crate::error::{Error, Result};
use crate::hash::FastMap;
use crate::symcache::{
    FrameSpec, Identity, SymCacheBuild, SymCacheWriter, FLAG_HAS_DEBUG_INFO, FLAG_HAS_SYMBOLS, NONE,
};
use std::fmt::Write as _;

/// Whether `data` starts like a Breakpad symbol file.
pub fn is_breakpad(head: &[u8]) -> bool {
    head.starts_with(b"MODULE ")
}

fn hex_u64(s: &str, what: &str, line_no: usize) -> Result<u64> {
    u64::from_str_radix(s, 16).map_err(|_| invalid(format!("Breakpad line {}: bad {} {:?}", line_no, what, s)))
}

fn dec_u32(s: &str, what: &str, line_no: usize) -> Result<u32> {
    s.parse::<u32>()
        .map_err(|_| invalid(format!("Breakpad line {}: bad {} {:?}", line_no, what, s)))
}

/// Splits off `n` space-separated fields; the rest of the line (which may contain spaces,
/// e.g. a function name) is the last item.
fn fields(line: &str, n: usize) -> Vec<&str> {
    let mut out = Vec::with_capacity(n + 1);
    let mut rest = line;
    for _ in 0..n {
        let rest_t = rest.trim_start_matches(' ');
        match rest_t.find(' ') {
            Some(i) => {
                out.push(&rest_t[..i]);
                rest = &rest_t[i + 1..];
            }
            None => {
                out.push(rest_t);
                rest = "";
                break;
            }
        }
    }
    out.push(rest);
    out
}

fn debug_id(hex: &str, line_no: usize) -> Result<String> {
    if hex.len() < 33 || hex.len() > 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!("Breakpad line {}: bad module id {:?}", line_no, hex)));
    }
    let h = hex.to_ascii_lowercase();
    let age = u32::from_str_radix(&h[32..], 16).unwrap_or(0);
    let mut id = format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    if age != 0 {
        let _ = write!(id, "-{:x}", age); // writing to a String cannot fail
    }
    Ok(id)
}

fn arch(name: &str) -> &str {
    match name {
        "x86" | "i386" | "i686" => "x86",
        "x86_64" | "amd64" => "x86_64",
        "arm64" | "aarch64" => "arm64",
        other => other,
    }
}

/// What the first word of a line makes of it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Info,
    File,
    Origin,
    Func,
    Public,
    Inline,
    LineRecord,
    Skip,
}

fn kind(first: &str) -> Kind {
    match first {
        "INFO" => Kind::Info,
        "FILE" => Kind::File,
        "INLINE_ORIGIN" => Kind::Origin,
        "FUNC" => Kind::Func,
        "PUBLIC" => Kind::Public,
        "INLINE" => Kind::Inline,
        "" | "STACK" | "MODULE" => Kind::Skip,
        // A line record of the last FUNC: address size line file.
        _ if first.bytes().all(|b| b.is_ascii_hexdigit()) => Kind::LineRecord,
        _ => Kind::Skip, // unknown record kinds are skipped, as Breakpad's own reader does
    }
}

fn first_word(line: &str) -> &str {
    line.split(' ').next().unwrap_or("")
}

fn utf8(raw: &[u8], line_no: usize) -> Result<&str> {
    let line =
        std::str::from_utf8(raw).map_err(|e| invalid(format!("Breakpad line {} is not UTF-8: {}", line_no, e)))?;
    Ok(line.trim_end_matches('\r'))
}

/// The fields after `FUNC`/`PUBLIC` (and after `m`: several names were folded into this
/// address).
fn after_keyword<'l>(line: &'l str, first: &str) -> &'l str {
    let rest = line.get(first.len() + 1..).unwrap_or("");
    rest.strip_prefix("m ").unwrap_or(rest)
}

/// `FUNC [m] address size param_size name`: address, size, name.
fn func_record(line: &str, line_no: usize) -> Result<(u64, u64, &str)> {
    let f = fields(after_keyword(line, "FUNC"), 3);
    if f.len() < 4 {
        return Err(invalid(format!("Breakpad line {}: short FUNC record", line_no)));
    }
    Ok((
        hex_u64(f[0], "address", line_no)?,
        hex_u64(f[1], "size", line_no)?,
        f[3],
    ))
}

/// `PUBLIC [m] address param_size name`: address, name.
fn public_record(line: &str, line_no: usize) -> Result<(u64, &str)> {
    let f = fields(after_keyword(line, "PUBLIC"), 2);
    if f.len() < 3 {
        return Err(invalid(format!("Breakpad line {}: short PUBLIC record", line_no)));
    }
    Ok((hex_u64(f[0], "address", line_no)?, f[2]))
}

type LineRec = (u64, u64, u32, u32);
/// `(depth, call_line, call_file, origin, ranges)`
type InlineRec = (u32, u32, u32, u32, Vec<(u64, u64)>);

/// `address size line file`; `in_func`: a FUNC came before.
fn line_record(line: &str, line_no: usize, in_func: bool) -> Result<LineRec> {
    // The most common record by far: split without allocating.
    let mut words = line.split(' ').filter(|s| !s.is_empty());
    let mut f = [""; 4];
    for slot in f.iter_mut() {
        *slot = words.next().unwrap_or("");
    }
    if f[3].is_empty() || words.next().is_some() {
        return Err(invalid(format!("Breakpad line {}: malformed line record", line_no)));
    }
    if !in_func {
        return Err(invalid(format!(
            "Breakpad line {}: line record outside a FUNC",
            line_no
        )));
    }
    let line_num = f[2]
        .parse::<i64>()
        .map_err(|_| invalid(format!("Breakpad line {}: bad line number", line_no)))?;
    Ok((
        hex_u64(f[0], "address", line_no)?,
        hex_u64(f[1], "size", line_no)?,
        line_num.clamp(0, u32::MAX as i64) as u32,
        dec_u32(f[3], "file number", line_no)?,
    ))
}

/// `INLINE depth call_line call_file origin (address size)+`; `in_func`: a FUNC came before.
fn inline_record(line: &str, line_no: usize, in_func: bool) -> Result<InlineRec> {
    let f: Vec<&str> = line.split(' ').filter(|s| !s.is_empty()).collect();
    if f.len() < 7 || (f.len() - 5) % 2 != 0 {
        return Err(invalid(format!("Breakpad line {}: malformed INLINE record", line_no)));
    }
    if !in_func {
        return Err(invalid(format!("Breakpad line {}: INLINE outside a FUNC", line_no)));
    }
    let mut ranges = Vec::new();
    for pair in f[5..].chunks(2) {
        ranges.push((
            hex_u64(pair[0], "address", line_no)?,
            hex_u64(pair[1], "size", line_no)?,
        ));
    }
    Ok((
        dec_u32(f[1], "depth", line_no)?,
        dec_u32(f[2], "call line", line_no)?,
        dec_u32(f[3], "call file", line_no)?,
        dec_u32(f[4], "origin", line_no)?,
        ranges,
    ))
}

/// Where a FUNC record is.
struct FuncAt {
    addr: u64,
    offset: u64,
    line_no: usize,
    /// A malformed FUNC line: its block (records up to the next FUNC) is skipped.
    bad: bool,
}

/// What the first pass keeps.
struct Index {
    identity: Identity,
    files: FastMap<u32, String>,
    origins: FastMap<u32, String>,
    funcs: Vec<FuncAt>,
    /// `(address, name start, name length)` in `names`.
    publics: Vec<(u64, usize, usize)>,
    names: String,
    /// Whether a FUNC has line records.
    has_lines: bool,
    /// Malformed lines skipped by the first pass.
    warn: Warnings,
}

/// Records a malformed line as skipped, by what is wrong with it.
fn skip_line(warn: &mut Warnings, line_no: usize, e: &Error) {
    let msg = e.message();
    let why = match msg.strip_prefix("Breakpad line ") {
        Some(rest) if rest.contains(" is not UTF-8") => "not UTF-8",
        Some(rest) => rest.split_once(": ").map(|x| x.1).unwrap_or(rest),
        None => msg,
    };
    // (a bad value is quoted in the message: the group is by what was bad, not the value)
    let why = why.split(" \"").next().unwrap_or(why);
    warn.skip("line", why, || format!("line {}", line_no));
}

fn index_line(ix: &mut Index, line_no: usize, offset: u64, raw: &[u8]) -> Result<()> {
    let line = utf8(raw, line_no)?;
    if line_no == 1 {
        let m = fields(line, 4);
        if m.len() < 5 || m[0] != "MODULE" || m[3].is_empty() {
            return Err(invalid("Breakpad file without a MODULE line"));
        }
        ix.identity.arch = arch(m[2]).to_string();
        ix.identity.debug_id = debug_id(m[3], 1)?;
        return Ok(());
    }
    match kind(first_word(line)) {
        Kind::Info => {
            let f = fields(line, 3);
            if f.len() >= 3 && f[1] == "CODE_ID" {
                ix.identity.code_id = f[2].to_ascii_lowercase();
            }
        }
        Kind::File => {
            let f = fields(line, 2);
            if f.len() < 3 {
                return Err(invalid(format!("Breakpad line {}: FILE without a name", line_no)));
            }
            ix.files
                .insert(dec_u32(f[1], "file number", line_no)?, f[2].to_string());
        }
        Kind::Origin => {
            let f = fields(line, 2);
            if f.len() < 3 {
                return Err(invalid(format!(
                    "Breakpad line {}: INLINE_ORIGIN without a name",
                    line_no
                )));
            }
            ix.origins
                .insert(dec_u32(f[1], "origin number", line_no)?, f[2].to_string());
        }
        Kind::Func => match func_record(line, line_no) {
            Ok((addr, _, _)) => ix.funcs.push(FuncAt {
                addr,
                offset,
                line_no,
                bad: false,
            }),
            Err(e) => {
                // Still the end of the block before it: its records are not the previous FUNC's.
                ix.funcs.push(FuncAt {
                    addr: 0,
                    offset,
                    line_no,
                    bad: true,
                });
                return Err(e);
            }
        },
        Kind::Public => {
            let (addr, name) = public_record(line, line_no)?;
            ix.publics.push((addr, ix.names.len(), name.len()));
            ix.names.push_str(name);
        }
        // Records of a FUNC are read in the second pass; here only those before any FUNC.
        Kind::LineRecord => {
            if ix.funcs.is_empty() {
                line_record(line, line_no, false)?;
            }
            ix.has_lines = true;
        }
        Kind::Inline => {
            if ix.funcs.is_empty() {
                inline_record(line, line_no, false)?;
            }
        }
        Kind::Skip => {}
    }
    Ok(())
}

/// The first pass over the whole file; a malformed line outside the FUNC blocks' records
/// is skipped (told in `warn`), a malformed MODULE line refuses the file.
fn index<'a, S: Source<'a>>(src: &mut S) -> Result<Index> {
    let mut ix = Index {
        identity: Identity {
            kind: "breakpad".to_string(),
            ..Identity::default()
        },
        files: FastMap::default(),
        origins: FastMap::default(),
        funcs: Vec::new(),
        publics: Vec::new(),
        names: String::new(),
        has_lines: false,
        warn: Warnings::default(),
    };
    let mut line_no = 0usize;
    let mut bad = None;
    let size = src.size();
    for_each_line(src, 0, size, |offset, raw| {
        line_no += 1;
        match index_line(&mut ix, line_no, offset, raw) {
            Ok(()) => Ok(true),
            Err(e) if line_no == 1 => {
                bad = Some(e);
                Ok(false)
            }
            Err(e) => {
                skip_line(&mut ix.warn, line_no, &e);
                Ok(true)
            }
        }
    })?;
    if let Some(e) = bad {
        return Err(e);
    }
    if line_no == 0 {
        return Err(invalid("empty Breakpad file"));
    }
    Ok(ix)
}

/// One FUNC block (`offset..end`): its size and name, line records and INLINE records;
/// a malformed record is skipped (told in `warn`).
#[allow(clippy::too_many_arguments)]
fn read_block<'a, S: Source<'a>>(
    src: &mut S,
    at: &FuncAt,
    end: u64,
    name: &mut String,
    lines: &mut Vec<LineRec>,
    inlines: &mut Vec<InlineRec>,
    warn: &mut Warnings,
) -> Result<u64> {
    let mut line_no = at.line_no - 1;
    let mut size = 0;
    let mut one = |line_no: usize, raw: &[u8]| -> Result<()> {
        let line = utf8(raw, line_no)?;
        if line_no == at.line_no {
            let (_, s, n) = func_record(line, line_no)?;
            size = s;
            name.clear();
            name.push_str(n);
            return Ok(());
        }
        match kind(first_word(line)) {
            Kind::LineRecord => lines.push(line_record(line, line_no, true)?),
            Kind::Inline => inlines.push(inline_record(line, line_no, true)?),
            _ => {} // read in the first pass
        }
        Ok(())
    };
    for_each_line(src, at.offset, end, |_, raw| {
        line_no += 1;
        if let Err(e) = one(line_no, raw) {
            skip_line(warn, line_no, &e);
        }
        Ok(true)
    })?;
    Ok(size)
}

/// Interns files and functions (each once) and writes ranges.
struct Emitter<'i> {
    w: SymCacheWriter,
    files: &'i FastMap<u32, String>,
    origins: &'i FastMap<u32, String>,
    file_idx: FastMap<u32, u32>,
    functions: demangle::Functions,
    chain: Vec<FrameSpec>,
    points: Vec<u64>,
    spans: Vec<(u64, u64, u32, u32)>,
    /// `(call_file, function)` per INLINE record of the FUNC, once interned.
    inline_frames: Vec<Option<(u32, u32)>>,
}

impl<'i> Emitter<'i> {
    fn file(&mut self, n: u32) -> u32 {
        if let Some(&i) = self.file_idx.get(&n) {
            return i;
        }
        match self.files.get(&n) {
            Some(path) => {
                let i = self.w.file(path);
                self.file_idx.insert(n, i);
                i
            }
            None => NONE,
        }
    }

    fn function(&mut self, name: &str) -> u32 {
        self.functions.intern(&mut self.w, name, 0)
    }

    /// The ranges of one FUNC: split at every line record and inline range boundary.
    fn func(&mut self, addr: u64, size: u64, name: &str, lines: &mut [LineRec], inlines: &[InlineRec]) {
        let end = addr.saturating_add(size);
        let mut points = std::mem::take(&mut self.points);
        points.clear();
        points.extend_from_slice(&[addr, end]);
        for &(a, s, _, _) in lines.iter() {
            points.push(a);
            points.push(a.saturating_add(s));
        }
        // Each inline record's call file and function, interned when first used (at most
        // once per FUNC, not per window), and its ranges as `(start, end, record, nth
        // range of the record)`, by start.
        let mut frames = std::mem::take(&mut self.inline_frames);
        frames.clear();
        frames.resize(inlines.len(), None);
        let mut spans = std::mem::take(&mut self.spans);
        spans.clear();
        for (rec, inl) in inlines.iter().enumerate() {
            for (nth, &(a, s)) in inl.4.iter().enumerate() {
                points.push(a);
                points.push(a.saturating_add(s));
                spans.push((a, a.saturating_add(s), rec as u32, nth as u32));
            }
        }
        spans.sort_unstable_by_key(|s| s.0);
        points.retain(|&a| a >= addr && a <= end);
        points.sort_unstable();
        points.dedup();
        lines.sort_by_key(|l| l.0);
        let mut outer_fn = None;
        let mut chain = std::mem::take(&mut self.chain);
        // Inline ranges that start at or before the window (those past their end are
        // dropped as the windows move on; windows go up in address order).
        let mut open: Vec<usize> = Vec::new();
        let mut next_span = 0;
        let mut active: Vec<(u32, u32, u32, u64)> = Vec::new();
        for win in points.windows(2) {
            let (lo, hi) = (win[0], win[1]);
            // The line record covering `lo`.
            let i = lines.partition_point(|l| l.0 <= lo);
            let (file_no, line) = match i.checked_sub(1).map(|i| lines[i]) {
                Some((a, s, line, f)) if lo < a.saturating_add(s) => (Some(f), line),
                _ => (None, 0),
            };
            // The inline records covering `lo`, outermost (depth 0) first, equal depths in
            // file order; of a record with several ranges covering `lo`, its first one.
            while next_span < spans.len() && spans[next_span].0 <= lo {
                open.push(next_span);
                next_span += 1;
            }
            open.retain(|&k| lo < spans[k].1);
            active.clear();
            active.extend(open.iter().map(|&k| {
                let (a, _, rec, nth) = spans[k];
                (inlines[rec as usize].0, rec, nth, a)
            }));
            active.sort_unstable();
            active.dedup_by_key(|a| a.1);
            chain.clear();
            // Outer function first; each frame is located at the call site of the next.
            let function = match outer_fn {
                Some(f) => f,
                None => *outer_fn.insert(self.function(name)),
            };
            chain.push(FrameSpec {
                function,
                file: NONE,
                line: 0,
                column: 0,
                sym_addr: addr,
            });
            for &(_, rec, _, start) in &active {
                let inl = &inlines[rec as usize];
                let (call_file, f) = match frames[rec as usize] {
                    Some(x) => x,
                    None => {
                        let call_file = self.file(inl.2);
                        let name = self.origins.get(&inl.3).map(|s| s.as_str()).unwrap_or("");
                        let f = if name.is_empty() { NONE } else { self.function(name) };
                        *frames[rec as usize].insert((call_file, f))
                    }
                };
                let last = chain.last_mut().unwrap();
                last.file = call_file;
                last.line = inl.1;
                chain.push(FrameSpec {
                    function: f,
                    file: NONE,
                    line: 0,
                    column: 0,
                    sym_addr: start,
                });
            }
            if let Some(f) = file_no {
                let file = self.file(f);
                let last = chain.last_mut().unwrap();
                last.file = file;
                last.line = line;
            }
            let loc = self.w.chain(&chain);
            self.w.range(lo, hi, loc);
        }
        self.chain = chain;
        self.points = points;
        self.spans = spans;
        self.inline_frames = frames;
    }
}

/// Identity of a Breakpad symbol file. Only the first pass runs: records inside FUNC
/// blocks are checked when the symcache is built.
pub fn object_info<'a, S: Source<'a>>(src: &mut S) -> Result<ObjectInfo> {
    let ix = index(src)?;
    Ok(ObjectInfo {
        has_debug_info: ix.has_lines,
        has_symbols: ix.funcs.iter().any(|f| !f.bad) || !ix.publics.is_empty(),
        identity: ix.identity,
        has_unwind_info: false,
        debuglink: None,
        debug_file: None,
        code_offset: None,
        warnings: ix.warn.lines(),
    })
}

/// Builds a symcache from a Breakpad symbol file. Malformed lines are skipped (a FUNC
/// line with its records) and told in the build's warnings.
pub fn build_symcache<'a, S: Source<'a>>(src: &mut S) -> Result<SymCacheBuild> {
    let ix = index(src)?;
    let stop = src.size();
    let Index {
        mut identity,
        files,
        origins,
        mut funcs,
        mut publics,
        names,
        has_lines,
        mut warn,
    } = ix;
    // FUNC blocks in address order (stable: equal addresses in file order).
    let mut order: Vec<usize> = (0..funcs.len()).collect();
    order.sort_by_key(|&i| funcs[i].addr);
    let mut em = Emitter {
        w: SymCacheWriter::new(),
        files: &files,
        origins: &origins,
        file_idx: FastMap::default(),
        functions: demangle::Functions::default(),
        chain: Vec::new(),
        points: Vec::new(),
        spans: Vec::new(),
        inline_frames: Vec::new(),
    };
    let (mut name, mut lines, mut inlines) = (String::new(), Vec::new(), Vec::new());
    for (k, &i) in order.iter().enumerate() {
        if k % 1024 == 0 {
            super::progress::report(k as u64, order.len() as u64 + order.len() as u64 / 8);
        }
        let at = &funcs[i];
        if at.bad {
            continue;
        }
        let end = funcs.get(i + 1).map(|f| f.offset).unwrap_or(stop).min(stop);
        lines.clear();
        inlines.clear();
        let size = read_block(src, at, end, &mut name, &mut lines, &mut inlines, &mut warn)?;
        em.func(at.addr, size, &name, &mut lines, &inlines);
    }
    funcs.retain(|f| !f.bad);
    // PUBLIC symbols: a name up to the next symbol (FUNC or PUBLIC), where no FUNC covers
    // the address.
    let mut starts: Vec<u64> = funcs
        .iter()
        .map(|f| f.addr)
        .chain(publics.iter().map(|s| s.0))
        .collect();
    starts.sort_unstable();
    starts.dedup();
    publics.sort_by_key(|s| s.0);
    for &(addr, at, len) in &publics {
        let name = &names[at..at + len];
        let i = starts.partition_point(|&a| a <= addr);
        // As in Breakpad's resolver, the last symbol reaches the end of the module.
        let next = starts.get(i).copied().unwrap_or(u64::MAX);
        let f = em.function(name);
        let loc = em.w.chain(&[FrameSpec {
            function: f,
            file: NONE,
            line: 0,
            column: 0,
            sym_addr: addr,
        }]);
        em.w.fallback_range(addr, next, loc);
    }
    if has_lines {
        identity.flags |= FLAG_HAS_DEBUG_INFO;
    }
    if !funcs.is_empty() || !publics.is_empty() {
        identity.flags |= FLAG_HAS_SYMBOLS;
    }
    Ok(SymCacheBuild {
        writer: em.w,
        identity,
        warnings: warn.lines(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::source::{IoSource, RefSource};
    use super::*;
    use crate::symcache::SymCache;

    /// The sample tests/test_native.py uses too: inlines at two depths, a folded FUNC,
    /// PUBLIC and STACK records.
    const SYM: &str = include_str!("../../../../tests/native/prog.sym");

    /// Built through both sources with windows of `chunk` bytes; both must agree.
    fn build(text: &str, chunk: usize) -> Result<Vec<u8>> {
        let a = build_symcache(&mut RefSource::with_chunk(text.as_bytes(), chunk)?).map(SymCacheBuild::finish);
        let b = build_symcache(&mut IoSource::with_chunk(std::io::Cursor::new(text.as_bytes()), chunk)?)
            .map(SymCacheBuild::finish);
        assert_eq!(a, b, "chunk {}", chunk);
        a
    }

    fn frames(bytes: &[u8], addr: u64) -> Vec<(String, String, u32)> {
        let cache = SymCache::parse(bytes).unwrap();
        cache
            .lookup(addr)
            .iter()
            .map(|f| {
                (
                    f.function.as_deref().unwrap_or("").to_string(),
                    f.file.unwrap_or("").to_string(),
                    f.line,
                )
            })
            .collect()
    }

    fn fr(f: &str, file: &str, line: u32) -> (String, String, u32) {
        (f.to_string(), file.to_string(), line)
    }

    /// `PYSYM_TEST_SYM=file.sym cargo test --release -- --ignored streamed_file`: builds
    /// from a file read by ranges (peak memory: /usr/bin/time -v).
    #[test]
    #[ignore]
    fn streamed_file() {
        let path = std::env::var("PYSYM_TEST_SYM").unwrap();
        let t = std::time::Instant::now();
        let info = object_info(&mut IoSource::new(std::fs::File::open(&path).unwrap()).unwrap()).unwrap();
        println!("first pass {:?} {:?}", t.elapsed(), info.identity.debug_id);
        let t = std::time::Instant::now();
        let bytes = build_symcache(&mut IoSource::new(std::fs::File::open(&path).unwrap()).unwrap())
            .unwrap()
            .finish();
        println!("built {} bytes in {:?}", bytes.len(), t.elapsed());
    }

    #[test]
    fn answers() {
        let bytes = build(SYM, super::super::source::CHUNK).unwrap();
        let p = "/src/p.c";
        assert_eq!(frames(&bytes, 0x1135), [fr("nearest", p, 9)]);
        assert_eq!(
            frames(&bytes, 0x1152),
            [fr("sq", p, 6), fr("dist2", p, 7), fr("nearest", p, 11)]
        );
        assert_eq!(
            frames(&bytes, 0x1165),
            [fr("sq", p, 6), fr("dist2", p, 7), fr("nearest", p, 11)]
        );
        assert_eq!(frames(&bytes, 0x118b), []);
        assert_eq!(frames(&bytes, 0x1195), [fr("geo::Rect::area() const", p, 17)]);
        assert_eq!(
            frames(&bytes, 0x11c4),
            [
                fr("printf", "/usr/include/x86_64-linux-gnu/bits/stdio2.h", 112),
                fr("main", p, 24)
            ]
        );
        assert_eq!(frames(&bytes, 0x5000), [fr("geo::Shape::~Shape()", "", 0)]);
        let info = object_info(&mut RefSource::new(SYM.as_bytes()).unwrap()).unwrap();
        assert_eq!(info.identity.debug_id, "6edc6acd-b282-1258-43fd-59da9c81bd83");
        assert_eq!(info.identity.code_id, "cd6adc6e82b2581243fd59da9c81bd83b3f4b9a5");
        assert!(info.has_debug_info && info.has_symbols);
    }

    #[test]
    fn lines_straddling_windows() {
        // Every window size cuts some line (1: every byte; a line longer than the window
        // grows it), and gives the same symcache.
        let whole = build(SYM, super::super::source::CHUNK).unwrap();
        for chunk in [1, 2, 3, 5, 7, 16, 33, 64, 100, 257] {
            assert_eq!(build(SYM, chunk).unwrap(), whole, "chunk {}", chunk);
        }
    }

    #[test]
    fn crlf_and_no_final_newline() {
        let whole = build(SYM, 4096).unwrap();
        let crlf = SYM.replace('\n', "\r\n");
        for chunk in [1, 6, 4096] {
            assert_eq!(build(&crlf, chunk).unwrap(), whole);
        }
        // The last line, a line record without `\n`, still counts.
        for text in [
            format!("{}FUNC 2000 10 0 last\n2000 10 5 0", SYM),
            format!("{}FUNC 2000 10 0 last\r\n2000 10 5 0\r", crlf),
        ] {
            for chunk in [1, 5, 4096] {
                let bytes = build(&text, chunk).unwrap();
                assert_eq!(frames(&bytes, 0x2005), [fr("last", "/src/p.c", 5)]);
                assert_eq!(frames(&bytes, 0x1152), frames(&whole, 0x1152));
            }
        }
    }

    #[test]
    fn funcs_out_of_order() {
        // FUNC blocks are read in address order, so the file's order does not matter,
        // and later FILE/INLINE_ORIGIN records apply to earlier FUNCs.
        let head: String = SYM.lines().take(7).map(|l| format!("{}\n", l)).collect();
        let rest: Vec<&str> = SYM.lines().skip(7).collect();
        let (nearest, area, main) = (rest[..10].join("\n"), rest[10..12].join("\n"), rest[12..17].join("\n"));
        let tail = rest[17..].join("\n");
        let sorted = build(SYM, 7).unwrap();
        let shuffled = format!("{}{}\n{}\n{}\n{}\n", head, main, nearest, area, tail);
        assert_eq!(build(&shuffled, 7).unwrap(), sorted);
        let late_files = format!(
            "{}\n{}\n{}\n{}\n{}\n",
            SYM.lines().next().unwrap(),
            nearest,
            area,
            main,
            SYM.lines().skip(1).take(6).collect::<Vec<_>>().join("\n")
        );
        let bytes = build(&late_files, 7).unwrap();
        assert_eq!(frames(&bytes, 0x1152), frames(&sorted, 0x1152));
    }

    fn warnings(text: &str) -> Vec<String> {
        build_symcache(&mut RefSource::with_chunk(text.as_bytes(), 5).unwrap())
            .unwrap()
            .warnings
    }

    /// A malformed line is skipped and told; everything else is answered as before.
    #[test]
    fn malformed_lines_are_skipped() {
        let good = build(SYM, 5).unwrap();
        let p = "/src/p.c";
        // A line record inside a FUNC (second pass), and a PUBLIC (first pass).
        let bad_line = SYM
            .replace("1150 8 6 0", "1150 8 6")
            .replace("PUBLIC 1200 0 _start", "PUBLIC zz 0 _start");
        let bytes = build(&bad_line, 5).unwrap();
        assert_eq!(
            warnings(&bad_line),
            [
                "1 line skipped: bad address at line 25",
                "1 line skipped: malformed line record at line 13"
            ]
        );
        // The skipped row's address falls to the row before it; the other functions are whole.
        assert_eq!(frames(&bytes, 0x1135), [fr("nearest", p, 9)]);
        for addr in [0x1195, 0x11c4, 0x5000] {
            assert_eq!(frames(&bytes, addr), frames(&good, addr), "{:#x}", addr);
        }
        // A malformed FUNC line: its block is skipped (its records are not the previous
        // FUNC's), the rest answered.
        let bad_func = SYM.replace("FUNC 11b0 30 0 main", "FUNC 11b0 zz 0 main");
        let bytes = build(&bad_func, 5).unwrap();
        assert_eq!(warnings(&bad_func), ["1 line skipped: bad size at line 20"]);
        assert_eq!(frames(&bytes, 0x1152), frames(&good, 0x1152));
        assert_eq!(frames(&bytes, 0x1195), frames(&good, 0x1195));
        assert_ne!(frames(&bytes, 0x11c4), frames(&good, 0x11c4));
        assert_eq!(build(SYM, 5).unwrap(), good);
        assert!(warnings(SYM).is_empty());
        // Records before any FUNC, and text that is not UTF-8.
        let e = |text: &[u8]| {
            build_symcache(&mut RefSource::with_chunk(text, 3).unwrap())
                .unwrap()
                .warnings
        };
        assert_eq!(
            e(b"MODULE Linux x86_64 6EDC6ACDB282125843FD59DA9C81BD830 p\n1130 10 9 0\n"),
            ["1 line skipped: line record outside a FUNC at line 2"]
        );
        assert_eq!(
            e(b"MODULE Linux x86_64 6EDC6ACDB282125843FD59DA9C81BD830 p\nFILE 0 \xff\nFILE 1 \xfe\n"),
            ["2 lines skipped: not UTF-8 at line 2 (the first)"]
        );
        // Nothing is trustworthy without the MODULE line.
        let err = |text: &str| build(text, 5).unwrap_err().message().to_string();
        assert!(err("MODULE Linux x86_64 nothex p\n").contains("module id"));
        assert!(err("FUNC 1 2 3 f\n").contains("without a MODULE line"));
    }
}
