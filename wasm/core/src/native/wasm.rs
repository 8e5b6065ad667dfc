//! WebAssembly modules: DWARF from the `.debug_*` custom sections, function names from
//! the `name` section. Addresses are relative to the start of the code section's
//! contents, as DWARF for wasm and llvm-symbolizer use them (image base 0). The module
//! is read in one piece (its sections are used in place). Function names from the `name`
//! section cover code without DWARF; under DWARF the DWARF names win (as in LLVM 14).

use super::{invalid, ObjectInfo, MAX_SECTION_SIZE};
use crate::error::{Error, ErrorKind, Result};
use crate::symcache::Identity;
use std::borrow::Cow;
use std::collections::HashMap;

/// Whether `head` starts like a WebAssembly module (magic and version 1).
pub fn is_wasm(head: &[u8]) -> bool {
    head.starts_with(b"\0asm\x01\0\0\0")
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self.data.get(self.pos).ok_or_else(|| invalid("truncated wasm module"))?;
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
        let end = (self.pos as u64).checked_add(n).filter(|&e| e <= self.data.len() as u64).ok_or_else(|| invalid("truncated wasm module"))?;
        let s = &self.data[self.pos..end as usize];
        self.pos = end as usize;
        Ok(s)
    }
    fn name(&mut self) -> Result<&'a str> {
        let n = self.leb()?;
        std::str::from_utf8(self.bytes(n)?).map_err(|_| invalid("wasm name is not UTF-8"))
    }
}

/// What the builder needs from a module.
pub struct Module<'a> {
    /// `.debug_*` custom sections by name.
    pub debug: HashMap<&'a str, &'a [u8]>,
    /// Functions with a name: (code-section offset, size, name), sorted.
    pub symbols: Vec<(u64, u64, &'a str)>,
    /// Length of the code section's contents.
    pub code_size: u64,
    /// The `build_id` custom section, if any.
    pub build_id: Option<&'a [u8]>,
}

/// Parses the section headers, the code section's body table, imports and names.
pub fn parse(data: &[u8]) -> Result<Module<'_>> {
    if !is_wasm(data) {
        return Err(invalid("not a WebAssembly module"));
    }
    let mut c = Cursor { data, pos: 8 };
    let mut m = Module { debug: HashMap::new(), symbols: Vec::new(), code_size: 0, build_id: None };
    let mut imported_funcs = 0u64;
    let mut bodies: Vec<(u64, u64)> = Vec::new();
    let mut names: HashMap<u64, &str> = HashMap::new();
    while c.pos < data.len() {
        let id = c.byte()?;
        let size = c.leb()?;
        let payload = c.bytes(size)?;
        let mut p = Cursor { data: payload, pos: 0 };
        match id {
            0 => {
                let name = p.name()?;
                let rest = &payload[p.pos..];
                if name.starts_with(".debug_") {
                    m.debug.insert(name, rest);
                } else if name == "build_id" {
                    let mut b = Cursor { data: rest, pos: 0 };
                    let n = b.leb()?;
                    m.build_id = Some(b.bytes(n)?);
                } else if name == "name" {
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
                                names.insert(idx, f.name()?);
                            }
                        }
                    }
                }
            }
            2 => {
                let count = p.leb()?;
                for _ in 0..count.min(payload.len() as u64) {
                    p.name()?;
                    p.name()?;
                    match p.byte()? {
                        0 => {
                            p.leb()?;
                            imported_funcs += 1;
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
            }
            10 => {
                m.code_size = size;
                let count = p.leb()?;
                for _ in 0..count.min(payload.len() as u64) {
                    let start = p.pos as u64;
                    let body = p.leb()?;
                    p.bytes(body)?;
                    bodies.push((start, p.pos as u64 - start));
                }
            }
            _ => {}
        }
    }
    for (i, &(start, size)) in bodies.iter().enumerate() {
        if let Some(name) = names.get(&(imported_funcs + i as u64)) {
            m.symbols.push((start, size, name));
        }
    }
    Ok(m)
}

fn limits(p: &mut Cursor<'_>) -> Result<()> {
    let flags = p.leb()?;
    p.leb()?;
    if flags & 1 != 0 {
        p.leb()?;
    }
    Ok(())
}

fn identity(m: &Module<'_>) -> Identity {
    let mut id = [0u8; 16];
    let mut code_id = String::new();
    if let Some(b) = m.build_id {
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

/// Identity of a wasm module.
pub fn object_info(data: &[u8]) -> Result<ObjectInfo> {
    let m = parse(data)?;
    Ok(ObjectInfo {
        identity: identity(&m),
        has_debug_info: m.debug.get(".debug_info").map(|d| !d.is_empty()).unwrap_or(false),
        has_symbols: !m.symbols.is_empty(),
    })
}

/// Builds a symcache from a wasm module.
pub fn build_symcache(data: &[u8]) -> Result<Vec<u8>> {
    let m = parse(data)?;
    let mut sections: HashMap<gimli::SectionId, Cow<'_, [u8]>> = HashMap::new();
    for (name, bytes) in &m.debug {
        if bytes.len() as u64 > MAX_SECTION_SIZE {
            return Err(Error::new(ErrorKind::LimitExceeded, format!("section {} is too large", name)));
        }
        for sid in super::DWARF_SECTIONS {
            if sid.name() == *name {
                sections.insert(sid, Cow::Borrowed(*bytes));
            }
        }
    }
    let mut syms = m.symbols.clone();
    syms.sort_unstable();
    syms.dedup_by_key(|s| s.0);
    super::build_core(identity(&m), &sections, gimli::RunTimeEndian::Little, &syms, &[(0, m.code_size)], false)
}
