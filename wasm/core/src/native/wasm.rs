//! WebAssembly modules: DWARF from the `.debug_*` custom sections, function names from
//! the `name` section. Addresses are relative to the start of the code section's
//! contents, as DWARF for wasm and llvm-symbolizer use them (image base 0). Function names
//! from the `name` section cover code without DWARF; under DWARF the DWARF names win (as
//! in LLVM 14).
//!
//! The module is read by ranges (see [`Source`]): the section headers, then only the
//! sections used — `name`, `build_id`, `external_debug_info` and the import section
//! whole, the DWARF sections when building, and the code section's body table (read on in
//! windows, bodies skipped) only when the `name` section names functions. A custom section
//! that cannot be read is skipped and told in the warnings.

use super::source::Source;
use super::warnings::Warnings;
use super::{invalid, ObjectInfo, MAX_SECTION_SIZE};
use crate::error::{Error, ErrorKind, Result};
use crate::symcache::{Identity, SymCacheBuild};
use std::borrow::Cow;
use std::collections::HashMap;

/// Whether `head` starts like a WebAssembly module (magic and version 1).
pub fn is_wasm(head: &[u8]) -> bool {
    head.starts_with(b"\0asm\x01\0\0\0")
}

fn truncated() -> Error {
    invalid("truncated wasm module")
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self.data.get(self.pos).ok_or_else(truncated)?;
        self.pos += 1;
        Ok(b)
    }
    fn leb(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(invalid("wasm LEB128 number too long"))
    }
    fn bytes(&mut self, n: u64) -> Result<&'a [u8]> {
        let end = (self.pos as u64)
            .checked_add(n)
            .filter(|&e| e <= self.data.len() as u64)
            .ok_or_else(truncated)?;
        let s = &self.data[self.pos..end as usize];
        self.pos = end as usize;
        Ok(s)
    }
    fn name(&mut self) -> Result<&'a str> {
        let n = self.leb()?;
        std::str::from_utf8(self.bytes(n)?).map_err(|_| invalid("wasm name is not UTF-8"))
    }
}

/// Longest LEB128 number the cursor reads, plus the byte before it.
const HEAD: usize = 11;

/// A LEB128 number at `pos` (before `end`) read through the source; gives it and the
/// position after it.
fn leb_at<'a, S: Source<'a>>(src: &mut S, pos: u64, end: u64, ahead: bool) -> Result<(u64, u64)> {
    let w = src.window(pos, (end.saturating_sub(pos)).min(HEAD as u64) as usize, ahead)?;
    let mut c = Cursor { data: w, pos: 0 };
    let v = c.leb()?;
    Ok((v, pos + c.pos as u64))
}

/// A section's contents, read whole, refused above [`MAX_SECTION_SIZE`].
fn section<'a, S: Source<'a>>(src: &mut S, name: &str, offset: u64, len: u64) -> Result<Cow<'a, [u8]>> {
    if len > MAX_SECTION_SIZE {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!("section {} is too large", name),
        ));
    }
    src.keep(offset, len)
}

/// Where the sections are, and the small ones that were read.
struct Layout {
    /// `.debug_*` custom sections: name, offset and length of the contents.
    debug: Vec<(String, u64, u64)>,
    /// The `build_id` custom section, if any.
    build_id: Option<Vec<u8>>,
    /// The `external_debug_info` custom section: where the module's DWARF is.
    debug_file: Option<String>,
    /// Custom sections skipped for a defect.
    warn: Warnings,
    /// Function names by function index (imports first).
    names: HashMap<u64, String>,
    imported_funcs: u64,
    /// The code section's contents: offset and length.
    code: Option<(u64, u64)>,
}

/// Walks the section headers; reads the `name`, `build_id` and import sections.
fn scan<'a, S: Source<'a>>(src: &mut S) -> Result<Layout> {
    let size = src.size();
    if !is_wasm(src.window(0, 8, false)?) {
        return Err(invalid("not a WebAssembly module"));
    }
    let mut l = Layout {
        debug: Vec::new(),
        build_id: None,
        debug_file: None,
        warn: Warnings::default(),
        names: HashMap::new(),
        imported_funcs: 0,
        code: None,
    };
    let mut exported: Vec<(u64, String)> = Vec::new();
    let mut pos = 8u64;
    while pos < size {
        let id = *src.window(pos, 1, false)?.first().ok_or_else(truncated)?;
        let (len, start) = leb_at(src, pos + 1, size, false)?;
        let end = start.checked_add(len).filter(|&e| e <= size).ok_or_else(truncated)?;
        pos = end;
        match id {
            0 => {
                // A custom section is known by its name: one whose name cannot be read is
                // skipped (its length still leads to the next section).
                let at_custom = || format!("custom section at offset {:#x}", start);
                let name = match leb_at(src, start, end, false) {
                    Ok((n, at)) if n <= end - at => match std::str::from_utf8(src.window(at, n as usize, false)?) {
                        Ok(name) => Some((name.to_string(), at + n)),
                        Err(_) => {
                            l.warn.skip("custom section", "name is not UTF-8", at_custom);
                            None
                        }
                    },
                    _ => {
                        l.warn.skip("custom section", "name runs past the section", at_custom);
                        None
                    }
                };
                let (name, at) = match name {
                    Some(x) => x,
                    None => continue,
                };
                if name.starts_with(".debug_") {
                    l.debug.push((name, at, end - at));
                } else if name == "build_id" {
                    let body = section(src, "build_id", at, end - at)?;
                    l.build_id = Some(build_id(&body).to_vec());
                } else if name == "external_debug_info" {
                    let body = section(src, "external_debug_info", at, end - at)?;
                    match (Cursor { data: &body, pos: 0 }).name() {
                        Ok(url) => l.debug_file = Some(url.to_string()),
                        Err(e) => l.warn.skip(
                            "custom section",
                            &format!("external_debug_info: {}", e.message()),
                            at_custom,
                        ),
                    }
                } else if name == "name" {
                    let body = section(src, "name", at, end - at)?;
                    // The names read before a defect are kept.
                    if let Err(e) = function_names(&body, &mut l.names) {
                        l.warn
                            .skip("custom section", &format!("name: {}", e.message()), at_custom);
                    }
                }
            }
            2 => {
                let body = section(src, "import", start, len)?;
                l.imported_funcs = imported_funcs(&body)?;
            }
            7 => {
                let body = section(src, "export", start, len)?;
                // The names read before a defect are kept.
                if let Err(e) = exported_funcs(&body, &mut exported) {
                    l.warn
                        .skip("export section", e.message(), || format!("offset {:#x}", start));
                }
            }
            10 => l.code = Some((start, len)),
            _ => {}
        }
    }
    // A module without a `name` section (stripped, as release builds ship) is still named by
    // its exports, as llvm-symbolizer names it; the `name` section wins where both name one.
    for (idx, name) in exported {
        l.names.entry(idx).or_insert(name);
    }
    Ok(l)
}

/// The exported functions of an export section: (function index, export name).
fn exported_funcs(payload: &[u8], out: &mut Vec<(u64, String)>) -> Result<()> {
    let mut p = Cursor { data: payload, pos: 0 };
    let count = p.leb()?;
    for _ in 0..count.min(payload.len() as u64) {
        let name = p.name()?;
        let kind = p.byte()?;
        let idx = p.leb()?;
        if kind == 0 {
            out.push((idx, name.to_string()));
        }
    }
    Ok(())
}

/// A `build_id` section's id: a length-prefixed vector (the tool conventions), or the raw
/// bytes (as getsentry/wasm-split writes it) where the length does not fit exactly.
fn build_id(body: &[u8]) -> &[u8] {
    let mut b = Cursor { data: body, pos: 0 };
    match b.leb() {
        Ok(n) if n == (body.len() - b.pos) as u64 && n > 0 => &body[b.pos..],
        _ => body,
    }
}

/// The function names subsection (1) of a `name` section.
fn function_names(rest: &[u8], names: &mut HashMap<u64, String>) -> Result<()> {
    let mut n = Cursor { data: rest, pos: 0 };
    while n.pos < rest.len() {
        let sub = n.byte()?;
        let len = n.leb()?;
        let body = n.bytes(len)?;
        if sub == 1 {
            let mut f = Cursor { data: body, pos: 0 };
            let count = f.leb()?;
            for _ in 0..count.min(body.len() as u64) {
                let idx = f.leb()?;
                names.insert(idx, f.name()?.to_string());
            }
        }
    }
    Ok(())
}

/// How many functions the import section imports.
fn imported_funcs(payload: &[u8]) -> Result<u64> {
    let mut p = Cursor { data: payload, pos: 0 };
    let mut funcs = 0;
    let count = p.leb()?;
    for _ in 0..count.min(payload.len() as u64) {
        p.name()?;
        p.name()?;
        match p.byte()? {
            0 => {
                p.leb()?;
                funcs += 1;
            }
            1 => {
                p.byte()?;
                limits(&mut p)?;
            }
            2 => limits(&mut p)?,
            3 => {
                p.byte()?;
                p.byte()?;
            }
            4 => {
                p.byte()?;
                p.leb()?;
            }
            k => return Err(invalid(format!("unknown wasm import kind {}", k))),
        }
    }
    Ok(funcs)
}

fn limits(p: &mut Cursor<'_>) -> Result<()> {
    let flags = p.leb()?;
    p.leb()?;
    if flags & 1 != 0 {
        p.leb()?;
    }
    Ok(())
}

/// Named functions: (code-section offset, size, name), in body order. Walks the body
/// table, reading on in windows and skipping each body.
fn symbols<'a, 'l, S: Source<'a>>(src: &mut S, l: &'l Layout) -> Result<Vec<(u64, u64, &'l str)>> {
    let mut out = Vec::new();
    let (start, len) = match l.code {
        Some(c) if !l.names.is_empty() => c,
        _ => return Ok(out),
    };
    let end = start + len;
    let (count, mut pos) = leb_at(src, start, end, true)?;
    for i in 0..count.min(len) {
        let body_start = pos;
        let (body, at) = leb_at(src, pos, end, true)?;
        pos = at.checked_add(body).filter(|&e| e <= end).ok_or_else(truncated)?;
        if let Some(name) = l.names.get(&(l.imported_funcs + i)) {
            out.push((body_start - start, pos - body_start, name.as_str()));
        }
    }
    Ok(out)
}

fn identity(l: &Layout) -> Identity {
    let mut id = [0u8; 16];
    let mut code_id = String::new();
    if let Some(b) = &l.build_id {
        code_id = b.iter().map(|b| format!("{:02x}", b)).collect();
        for (i, x) in b.iter().take(16).enumerate() {
            id[i] = *x;
        }
    }
    Identity {
        kind: "wasm".to_string(),
        arch: "wasm32".to_string(),
        debug_id: super::uuid_string(&id),
        code_id,
        image_base: 0,
        flags: 0,
    }
}

/// Identity of a wasm module (the DWARF sections and function bodies are not read).
pub fn object_info<'a, S: Source<'a>>(src: &mut S) -> Result<ObjectInfo> {
    let l = scan(src)?;
    // A name for one of the defined functions: the body count is the code section's first number.
    let defined = match l.code {
        Some((start, len)) if !l.names.is_empty() => leb_at(src, start, start + len, false)?.0,
        _ => 0,
    };
    let has_symbols = l
        .names
        .keys()
        .any(|&i| i >= l.imported_funcs && i - l.imported_funcs < defined.min(l.code.map_or(0, |c| c.1)));
    Ok(ObjectInfo {
        identity: identity(&l),
        has_debug_info: l
            .debug
            .iter()
            .rev()
            .find(|d| d.0 == ".debug_info")
            .map_or(false, |d| d.2 > 0),
        has_symbols,
        has_unwind_info: false,
        debuglink: None,
        debug_file: l.debug_file.clone(),
        code_offset: l.code.map(|c| c.0),
        warnings: l.warn.lines(),
    })
}

/// Builds a symcache from a wasm module.
pub fn build_symcache<'a, S: Source<'a>>(src: &mut S) -> Result<SymCacheBuild> {
    let mut l = scan(src)?;
    let warn = std::mem::take(&mut l.warn);
    let mut sections: HashMap<gimli::SectionId, Cow<'a, [u8]>> = HashMap::new();
    for (name, offset, len) in &l.debug {
        for sid in super::DWARF_SECTIONS {
            if sid.name() == name {
                // A later section of the same name wins, as it always did.
                sections.insert(sid, section(src, name, *offset, *len)?);
            }
        }
    }
    let mut syms = symbols(src, &l)?;
    syms.sort_unstable();
    syms.dedup_by_key(|s| s.0);
    let code_size = l.code.map_or(0, |c| c.1);
    super::build_core(
        identity(&l),
        sections,
        None,
        None,
        gimli::RunTimeEndian::Little,
        &syms,
        &[(0, code_size)],
        false,
        warn,
        &[],
    )
}
