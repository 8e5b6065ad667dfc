//! Breakpad text symbol files (`.sym`, as written by `dump_syms`): `MODULE`, `INFO
//! CODE_ID`, `FILE`, `INLINE_ORIGIN`, `FUNC` with its line records and `INLINE` records,
//! `PUBLIC`. `STACK` records and anything unknown are skipped.
//!
//! Addresses in a `.sym` file are relative to the module's load address, so the image
//! base is 0. Lookups give the inlinee chain that the `INLINE` records describe: the
//! innermost frame is located by the line record, each caller by the call file and line
//! of the `INLINE` record one level deeper.

use super::{demangle, invalid, ObjectInfo};
use crate::error::Result;
use crate::symcache::{FrameSpec, Identity, SymCacheWriter, FLAG_HAS_DEBUG_INFO, FLAG_HAS_SYMBOLS, NONE};
use std::collections::HashMap;

/// Whether `data` starts like a Breakpad symbol file.
pub fn is_breakpad(head: &[u8]) -> bool {
    head.starts_with(b"MODULE ")
}

struct Func<'a> {
    addr: u64,
    size: u64,
    name: &'a str,
    /// `(addr, size, line, file)`
    lines: Vec<(u64, u64, u32, u32)>,
    /// `(depth, call_line, call_file, origin, ranges)`
    inlines: Vec<(u32, u32, u32, u32, Vec<(u64, u64)>)>,
}

struct Parsed<'a> {
    identity: Identity,
    files: HashMap<u32, &'a str>,
    origins: HashMap<u32, &'a str>,
    funcs: Vec<Func<'a>>,
    publics: Vec<(u64, &'a str)>,
}

fn hex_u64(s: &str, what: &str, line_no: usize) -> Result<u64> {
    u64::from_str_radix(s, 16).map_err(|_| invalid(format!("Breakpad line {}: bad {} {:?}", line_no, what, s)))
}

fn dec_u32(s: &str, what: &str, line_no: usize) -> Result<u32> {
    s.parse::<u32>().map_err(|_| invalid(format!("Breakpad line {}: bad {} {:?}", line_no, what, s)))
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
    let mut id = format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]);
    if age != 0 {
        id.push_str(&format!("-{:x}", age));
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

fn parse(text: &str) -> Result<Parsed<'_>> {
    let mut lines = text.lines().enumerate();
    let (_, first) = lines.next().ok_or_else(|| invalid("empty Breakpad file"))?;
    let m = fields(first.trim_end_matches('\r'), 4);
    if m.len() < 5 || m[0] != "MODULE" || m[3].is_empty() {
        return Err(invalid("Breakpad file without a MODULE line"));
    }
    let mut parsed = Parsed {
        identity: Identity {
            kind: "breakpad".to_string(),
            arch: arch(m[2]).to_string(),
            debug_id: debug_id(m[3], 1)?,
            code_id: String::new(),
            image_base: 0,
            flags: 0,
        },
        files: HashMap::new(),
        origins: HashMap::new(),
        funcs: Vec::new(),
        publics: Vec::new(),
    };
    for (i, raw) in lines {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r');
        let first = line.split(' ').next().unwrap_or("");
        match first {
            "" => {}
            "INFO" => {
                let f = fields(line, 3);
                if f.len() >= 3 && f[1] == "CODE_ID" {
                    parsed.identity.code_id = f[2].to_ascii_lowercase();
                }
            }
            "FILE" => {
                let f = fields(line, 2);
                if f.len() < 3 {
                    return Err(invalid(format!("Breakpad line {}: FILE without a name", line_no)));
                }
                parsed.files.insert(dec_u32(f[1], "file number", line_no)?, f[2]);
            }
            "INLINE_ORIGIN" => {
                let f = fields(line, 2);
                if f.len() < 3 {
                    return Err(invalid(format!("Breakpad line {}: INLINE_ORIGIN without a name", line_no)));
                }
                parsed.origins.insert(dec_u32(f[1], "origin number", line_no)?, f[2]);
            }
            "FUNC" | "PUBLIC" => {
                let mut rest = &line[first.len() + 1..];
                if let Some(r) = rest.strip_prefix("m ") {
                    rest = r; // several names were folded into this address
                }
                if first == "FUNC" {
                    let f = fields(rest, 3);
                    if f.len() < 4 {
                        return Err(invalid(format!("Breakpad line {}: short FUNC record", line_no)));
                    }
                    parsed.funcs.push(Func {
                        addr: hex_u64(f[0], "address", line_no)?,
                        size: hex_u64(f[1], "size", line_no)?,
                        name: f[3],
                        lines: Vec::new(),
                        inlines: Vec::new(),
                    });
                } else {
                    let f = fields(rest, 2);
                    if f.len() < 3 {
                        return Err(invalid(format!("Breakpad line {}: short PUBLIC record", line_no)));
                    }
                    parsed.publics.push((hex_u64(f[0], "address", line_no)?, f[2]));
                }
            }
            "INLINE" => {
                let f: Vec<&str> = line.split(' ').filter(|s| !s.is_empty()).collect();
                if f.len() < 7 || (f.len() - 5) % 2 != 0 {
                    return Err(invalid(format!("Breakpad line {}: malformed INLINE record", line_no)));
                }
                let func = parsed
                    .funcs
                    .last_mut()
                    .ok_or_else(|| invalid(format!("Breakpad line {}: INLINE outside a FUNC", line_no)))?;
                let mut ranges = Vec::new();
                for pair in f[5..].chunks(2) {
                    ranges.push((hex_u64(pair[0], "address", line_no)?, hex_u64(pair[1], "size", line_no)?));
                }
                func.inlines.push((
                    dec_u32(f[1], "depth", line_no)?,
                    dec_u32(f[2], "call line", line_no)?,
                    dec_u32(f[3], "call file", line_no)?,
                    dec_u32(f[4], "origin", line_no)?,
                    ranges,
                ));
            }
            "STACK" | "MODULE" => {}
            _ if first.bytes().all(|b| b.is_ascii_hexdigit()) => {
                // A line record of the last FUNC: address size line file.
                let f: Vec<&str> = line.split(' ').filter(|s| !s.is_empty()).collect();
                if f.len() != 4 {
                    return Err(invalid(format!("Breakpad line {}: malformed line record", line_no)));
                }
                let func = parsed
                    .funcs
                    .last_mut()
                    .ok_or_else(|| invalid(format!("Breakpad line {}: line record outside a FUNC", line_no)))?;
                let line_num = f[2].parse::<i64>().map_err(|_| invalid(format!("Breakpad line {}: bad line number", line_no)))?;
                func.lines.push((
                    hex_u64(f[0], "address", line_no)?,
                    hex_u64(f[1], "size", line_no)?,
                    line_num.clamp(0, u32::MAX as i64) as u32,
                    dec_u32(f[3], "file number", line_no)?,
                ));
            }
            _ => {} // unknown record kinds are skipped, as Breakpad's own reader does
        }
    }
    Ok(parsed)
}

fn text(data: &[u8]) -> Result<&str> {
    std::str::from_utf8(data).map_err(|e| invalid(format!("Breakpad file is not UTF-8: {}", e)))
}

/// Identity of a Breakpad symbol file.
pub fn object_info(data: &[u8]) -> Result<ObjectInfo> {
    let p = parse(text(data)?)?;
    Ok(ObjectInfo {
        has_debug_info: p.funcs.iter().any(|f| !f.lines.is_empty()),
        has_symbols: !p.funcs.is_empty() || !p.publics.is_empty(),
        identity: p.identity,
    })
}

/// Builds a symcache from a Breakpad symbol file.
pub fn build_symcache(data: &[u8]) -> Result<Vec<u8>> {
    let mut p = parse(text(data)?)?;
    let mut w = SymCacheWriter::new();
    let mut file_idx: HashMap<u32, u32> = HashMap::new();
    let mut func_idx: HashMap<String, u32> = HashMap::new();
    let mut file = |w: &mut SymCacheWriter, files: &HashMap<u32, &str>, n: u32| -> u32 {
        match files.get(&n) {
            Some(path) => *file_idx.entry(n).or_insert_with(|| w.file(path)),
            None => NONE,
        }
    };
    let mut function = |w: &mut SymCacheWriter, name: &str| -> u32 {
        match func_idx.get(name) {
            Some(&f) => f,
            None => {
                let f = w.function(name, &demangle::demangle(name, 0), 0);
                func_idx.insert(name.to_owned(), f);
                f
            }
        }
    };
    let mut chain: Vec<FrameSpec> = Vec::new();
    p.funcs.sort_by_key(|f| f.addr);
    for func in &p.funcs {
        let end = func.addr.saturating_add(func.size);
        let mut points: Vec<u64> = vec![func.addr, end];
        for &(a, s, _, _) in &func.lines {
            points.push(a);
            points.push(a.saturating_add(s));
        }
        for inl in &func.inlines {
            for &(a, s) in &inl.4 {
                points.push(a);
                points.push(a.saturating_add(s));
            }
        }
        points.retain(|&a| a >= func.addr && a <= end);
        points.sort_unstable();
        points.dedup();
        let mut lines = func.lines.clone();
        lines.sort_by_key(|l| l.0);
        for win in points.windows(2) {
            let (lo, hi) = (win[0], win[1]);
            // The line record covering `lo`.
            let i = lines.partition_point(|l| l.0 <= lo);
            let (file_no, line) = match i.checked_sub(1).map(|i| lines[i]) {
                Some((a, s, line, f)) if lo < a.saturating_add(s) => (Some(f), line),
                _ => (None, 0),
            };
            // The inline records covering `lo`, outermost (depth 0) first.
            let mut active: Vec<(u32, u32, u32, u32, u64)> = Vec::new();
            for inl in &func.inlines {
                if let Some(&(a, _)) = inl.4.iter().find(|&&(a, s)| a <= lo && lo < a.saturating_add(s)) {
                    active.push((inl.0, inl.1, inl.2, inl.3, a));
                }
            }
            active.sort_by_key(|a| a.0);
            chain.clear();
            // Outer function first; each frame is located at the call site of the next.
            let outer_fn = function(&mut w, func.name);
            chain.push(FrameSpec { function: outer_fn, file: NONE, line: 0, column: 0, sym_addr: func.addr });
            for &(_, call_line, call_file, origin, start) in &active {
                let last = chain.last_mut().unwrap();
                last.file = file(&mut w, &p.files, call_file);
                last.line = call_line;
                let name = p.origins.get(&origin).copied().unwrap_or("");
                let f = if name.is_empty() { NONE } else { function(&mut w, name) };
                chain.push(FrameSpec { function: f, file: NONE, line: 0, column: 0, sym_addr: start });
            }
            let last = chain.last_mut().unwrap();
            if let Some(f) = file_no {
                last.file = file(&mut w, &p.files, f);
                last.line = line;
            }
            let loc = w.chain(&chain);
            w.range(lo, hi, loc);
        }
    }
    // PUBLIC symbols: a name up to the next symbol (FUNC or PUBLIC), where no FUNC covers
    // the address.
    let mut starts: Vec<u64> = p.funcs.iter().map(|f| f.addr).chain(p.publics.iter().map(|s| s.0)).collect();
    starts.sort_unstable();
    starts.dedup();
    p.publics.sort_by_key(|s| s.0);
    for &(addr, name) in &p.publics {
        let i = starts.partition_point(|&a| a <= addr);
        // As in Breakpad's resolver, the last symbol reaches the end of the module.
        let next = starts.get(i).copied().unwrap_or(u64::MAX);
        let f = function(&mut w, name);
        let loc = w.chain(&[FrameSpec { function: f, file: NONE, line: 0, column: 0, sym_addr: addr }]);
        w.fallback_range(addr, next, loc);
    }
    let mut id = p.identity.clone();
    if p.funcs.iter().any(|f| !f.lines.is_empty()) {
        id.flags |= FLAG_HAS_DEBUG_INFO;
    }
    if !p.funcs.is_empty() || !p.publics.is_empty() {
        id.flags |= FLAG_HAS_SYMBOLS;
    }
    Ok(w.finish(&id))
}
