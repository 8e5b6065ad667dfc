//! Native debug files: object identity and symcache building from ELF, Mach-O and
//! Breakpad text symbol files (see [`breakpad`])
//! (DWARF line programs, functions and inlined subroutines, symbol-table fallback).
//!
//! The input is any [`ReadRef`]: a byte slice, or (in the wasm shim) a cache over the
//! host's ranged file reads, so only the headers and the sections used are read.

pub mod breakpad;
mod build;
pub mod debug_file;
pub mod demangle;
pub mod demangle_fast;
pub mod demangle_msvc;
pub mod demangle_msvc_fast;
mod dwarf;
mod objfile;
pub mod pdb;
pub mod progress;
pub mod source;
pub mod warnings;
pub mod wasm;

use crate::error::{Error, ErrorKind, Result};
use crate::symcache::{Identity, SymCacheBuild};
// (the formats' modules reach these as `super::...`)
use build::{build_core, in_ranges, DWARF_SECTIONS};
use objfile::uuid_string;

pub use debug_file::{DebugFile, View};
pub use object::ReadRef;

/// Decompressed debug sections larger than this are refused (the module has 1 GiB).
pub const MAX_SECTION_SIZE: u64 = 512 << 20;

/// What [`object_info`] tells about a debug file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Kind, architecture, identifiers and image base.
    pub identity: Identity,
    /// Whether the file has DWARF (`.debug_info`).
    pub has_debug_info: bool,
    /// Whether the file has a symbol table.
    pub has_symbols: bool,
    /// Whether the file has unwind information pysym reads (`.eh_frame`, `.debug_frame`,
    /// Breakpad `STACK` records).
    pub has_unwind_info: bool,
    /// ELF `.gnu_debuglink`: the file name of the separate debug file and the CRC-32 of
    /// its contents, as GDB looks it up beside the binary and in the debug directories.
    pub debuglink: Option<(String, u32)>,
    /// Where the separate debug file is (wasm `external_debug_info`: a URL or path).
    pub debug_file: Option<String>,
    /// File offset of the code the addresses are relative to, where it is not the image
    /// base's (wasm: the code section's contents; browsers print module offsets).
    pub code_offset: Option<u64>,
    /// What reading the headers skipped ([`warnings::Warnings::lines`]).
    pub warnings: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidObject, msg)
}

fn unsupported(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::UnsupportedObject, msg)
}

fn obj_err(e: object::Error) -> Error {
    invalid(format!("malformed object file: {}", e))
}

fn dwarf_err(e: gimli::Error) -> Error {
    invalid(format!("malformed DWARF: {}", e))
}

/// The formats read through a [`source::Source`] in bounded windows rather than through
/// `object` (text without an index; a wasm module's sections are found by walking them).
#[derive(Clone, Copy)]
enum Streamed {
    Breakpad,
    Wasm,
    Pdb,
}

fn streamed_kind(head: &[u8]) -> Option<Streamed> {
    if breakpad::is_breakpad(head) {
        Some(Streamed::Breakpad)
    } else if wasm::is_wasm(head) {
        Some(Streamed::Wasm)
    } else if pdb::is_pdb(head) {
        Some(Streamed::Pdb)
    } else {
        None
    }
}

/// Reads only the first bytes: an ELF file must not pay for a window.
fn sniff<'a, R: ReadRef<'a>>(data: R) -> Result<Option<Streamed>> {
    let len = data.len().map_err(|_| invalid("cannot read the file"))?;
    Ok(data.read_bytes_at(0, len.min(32)).ok().and_then(streamed_kind))
}

fn sniff_io<F: std::io::Read + std::io::Seek>(file: &mut F) -> Result<Option<Streamed>> {
    let mut head = [0u8; 32];
    let mut n = 0;
    file.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| invalid(format!("cannot read the file: {}", e)))?;
    while n < head.len() {
        match file
            .read(&mut head[n..])
            .map_err(|e| invalid(format!("cannot read the file: {}", e)))?
        {
            0 => break,
            k => n += k,
        }
    }
    Ok(streamed_kind(&head[..n]))
}

fn streamed_info<'a, S: source::Source<'a>>(kind: Streamed, src: &mut S) -> Result<ObjectInfo> {
    match kind {
        Streamed::Breakpad => breakpad::object_info(src).map(|mut info| {
            info.has_unwind_info = breakpad_has_stack(src);
            info
        }),
        Streamed::Wasm => wasm::object_info(src),
        Streamed::Pdb => pdb::object_info(src),
    }
}

/// Whether a Breakpad file has `STACK` records: `dump_syms` writes them last, so the
/// file's last window tells.
fn breakpad_has_stack<'a, S: source::Source<'a>>(src: &mut S) -> bool {
    let size = src.size();
    let len = size.min(64 << 10);
    match src.window(size - len, len as usize, false) {
        Ok(w) => w.windows(7).any(|x| x == b"\nSTACK "),
        Err(_) => false,
    }
}

/// Builds the CFI cache (`unwind`, FORMAT.md) of an object file (ELF, Mach-O, fat
/// Mach-O by `arch`, Breakpad).

/// Builds the CFI cache (`unwind`, FORMAT.md) of an object file (ELF, Mach-O, fat
/// Mach-O by `arch`, Breakpad).
pub fn build_cfi<'a, R: ReadRef<'a> + 'a>(data: R, arch: Option<&str>) -> Result<crate::unwind::build::Built> {
    if let Some(kind) = sniff(data)? {
        return match kind {
            Streamed::Breakpad => crate::unwind::build::from_breakpad(&mut source::RefSource::new(data)?),
            Streamed::Wasm => Err(unsupported("WebAssembly modules have no unwind information")),
            Streamed::Pdb => Err(unsupported(
                "unwind information in PDBs (FPO, frame data) is not read yet",
            )),
        };
    }
    objfile::cfi(data, arch)
}

fn streamed_build<'a, S: source::Source<'a>>(kind: Streamed, src: &mut S) -> Result<SymCacheBuild> {
    match kind {
        Streamed::Breakpad => breakpad::build_symcache(src),
        Streamed::Wasm => wasm::build_symcache(src),
        Streamed::Pdb => pdb::build_symcache(src),
    }
}

/// [`object_info`] for Breakpad files and wasm modules read through `file` in bounded
/// windows, keeping nothing it read; `None` for other formats (read those through a
/// [`ReadRef`]). A `ReadRef` that caches every range (`object::ReadCache`) would keep the
/// whole text file.
pub fn object_info_streamed<F: std::io::Read + std::io::Seek>(file: &mut F) -> Option<Result<ObjectInfo>> {
    match sniff_io(file) {
        Ok(Some(kind)) => Some(source::IoSource::new(file).and_then(|mut src| streamed_info(kind, &mut src))),
        Ok(None) => None,
        Err(e) => Some(Err(e)),
    }
}

/// [`build_symcache`] for Breakpad files and wasm modules read through `file` in bounded
/// windows (see [`object_info_streamed`]); `None` for other formats.
pub fn build_symcache_streamed<F: std::io::Read + std::io::Seek>(file: &mut F) -> Option<Result<SymCacheBuild>> {
    match sniff_io(file) {
        Ok(Some(kind)) => Some(source::IoSource::new(file).and_then(|mut src| streamed_build(kind, &mut src))),
        Ok(None) => None,
        Err(e) => Some(Err(e)),
    }
}

/// Identity and capabilities of an object file (ELF, Mach-O, fat Mach-O by `arch`).
pub fn object_info<'a, R: ReadRef<'a> + 'a>(data: R, arch: Option<&str>) -> Result<ObjectInfo> {
    if let Some(kind) = sniff(data)? {
        return streamed_info(kind, &mut source::RefSource::new(data)?);
    }
    objfile::info(data, arch)
}

/// Builds a symcache from an object file (ELF, Mach-O, fat Mach-O by `arch`).
pub fn build_symcache<'a, R: ReadRef<'a> + 'a>(data: R, arch: Option<&str>) -> Result<SymCacheBuild> {
    if let Some(kind) = sniff(data)? {
        return streamed_build(kind, &mut source::RefSource::new(data)?);
    }
    objfile::build(data, arch)
}

/// [`build_symcache`] where `data` keeps what it reads (`object::ReadCache`): the DWARF
/// sections are read through `file` instead, into memory freed as the build goes
/// (`.debug_info` a unit at a time), so that they are not held for the whole build.
pub fn build_symcache_ranged<'a, R: ReadRef<'a> + 'a, F: std::io::Read + std::io::Seek + 'a>(
    data: R,
    file: F,
    arch: Option<&str>,
) -> Result<SymCacheBuild> {
    if let Some(kind) = sniff(data)? {
        return streamed_build(kind, &mut source::RefSource::new(data)?);
    }
    objfile::build_ranged(data, file, arch)
}

#[cfg(test)]
mod tests;
