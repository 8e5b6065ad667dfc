//! Native debug files: object identity and symcache building from ELF, Mach-O and
//! Breakpad text symbol files (see [`breakpad`])
//! (DWARF line programs, functions and inlined subroutines, symbol-table fallback).
//!
//! The input is any [`ReadRef`]: a byte slice, or (in the wasm shim) a cache over the
//! host's ranged file reads, so only the headers and the sections used are read.

pub mod breakpad;
pub mod demangle;
mod dwarf;
pub mod progress;
pub mod source;
pub mod wasm;

use crate::error::{Error, ErrorKind, Result};
use crate::symcache::{FrameSpec, Identity, SymCacheBuild, SymCacheWriter, FLAG_HAS_DEBUG_INFO, FLAG_HAS_SYMBOLS, NONE};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionFlags};
use std::borrow::Cow;
use std::collections::HashMap;

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

/// A parsed object file: either the input itself or one slice of a fat Mach-O.
enum Opened<'a, R: ReadRef<'a>> {
    Direct(object::File<'a, R>),
    Slice(object::File<'a, &'a [u8]>),
}

macro_rules! with_file {
    ($opened:expr, $f:ident => $body:expr) => {
        match $opened {
            Opened::Direct(ref $f) => $body,
            Opened::Slice(ref $f) => $body,
        }
    };
}

fn arch_name(a: object::Architecture) -> &'static str {
    use object::Architecture as A;
    match a {
        A::X86_64 | A::X86_64_X32 => "x86_64",
        A::I386 => "x86",
        A::Aarch64 => "arm64",
        A::Arm => "arm",
        A::Mips => "mips",
        A::Mips64 => "mips64",
        A::PowerPc => "ppc",
        A::PowerPc64 => "ppc64",
        A::Riscv32 => "riscv32",
        A::Riscv64 => "riscv64",
        A::S390x => "s390x",
        A::Wasm32 => "wasm32",
        _ => "unknown",
    }
}

fn open<'a, R: ReadRef<'a>>(data: R, arch: Option<&str>) -> Result<Opened<'a, R>> {
    let kind = object::FileKind::parse(data).map_err(|_| unsupported("not a supported object file (ELF, Mach-O, Breakpad or WebAssembly)"))?;
    use object::read::macho::{FatArch, FatHeader};
    let pick = |archs: Vec<(object::Architecture, u64, u64)>| -> Result<&'a [u8]> {
        let want = arch.unwrap_or("x86_64");
        let chosen = archs
            .iter()
            .find(|a| arch_name(a.0) == want)
            .or_else(|| if arch.is_none() { archs.first() } else { None })
            .ok_or_else(|| unsupported(format!("the universal binary has no {} slice", want)))?;
        data.read_bytes_at(chosen.1, chosen.2).map_err(|_| invalid("fat Mach-O slice out of range"))
    };
    match kind {
        object::FileKind::Elf32 | object::FileKind::Elf64 | object::FileKind::MachO32 | object::FileKind::MachO64 => {
            Ok(Opened::Direct(object::File::parse(data).map_err(obj_err)?))
        }
        object::FileKind::MachOFat32 => {
            let archs = FatHeader::parse_arch32(data).map_err(obj_err)?;
            let slice = pick(archs.iter().map(|a| (a.architecture(), a.offset().into(), a.size().into())).collect())?;
            Ok(Opened::Slice(object::File::parse(slice).map_err(obj_err)?))
        }
        object::FileKind::MachOFat64 => {
            let archs = FatHeader::parse_arch64(data).map_err(obj_err)?;
            let slice = pick(archs.iter().map(|a| (a.architecture(), a.offset(), a.size())).collect())?;
            Ok(Opened::Slice(object::File::parse(slice).map_err(obj_err)?))
        }
        _ => Err(unsupported("not a supported object file (ELF, Mach-O, Breakpad or WebAssembly)")),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

fn uuid_string(b: &[u8; 16]) -> String {
    let h = hex(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn identity<'a, R: ReadRef<'a>>(file: &object::File<'a, R>) -> Identity {
    let (kind, image_base) = match file.format() {
        object::BinaryFormat::MachO => {
            let base = file.segments().find(|s| s.name().ok().flatten() == Some("__TEXT")).map(|s| s.address()).unwrap_or(0);
            ("macho", base)
        }
        _ => ("elf", file.segments().map(|s| s.address()).min().unwrap_or(0)),
    };
    let mut code_id = String::new();
    let mut id = [0u8; 16];
    if let Ok(Some(uuid)) = file.mach_uuid() {
        id = uuid;
        code_id = hex(&uuid);
    } else if let Ok(Some(build_id)) = file.build_id() {
        code_id = hex(build_id);
        for (i, b) in build_id.iter().take(16).enumerate() {
            id[i] = *b;
        }
        if file.is_little_endian() {
            // The GUID convention (Breakpad, symbolic): the first three fields little-endian.
            id[0..4].reverse();
            id[4..6].reverse();
            id[6..8].reverse();
        }
    } else if let Some(text) = file.section_by_name(".text").filter(|_| file.format() == object::BinaryFormat::Elf) {
        // No build ID: hash the first page of .text, as Breakpad does for ELF. A Mach-O
        // file is known by its LC_UUID alone: without one (object files) the id is nil.
        if let Ok(data) = text.data() {
            for (i, b) in data.iter().take(4096).enumerate() {
                id[i % 16] ^= *b;
            }
        }
    }
    Identity {
        kind: kind.to_string(),
        arch: arch_name(file.architecture()).to_string(),
        debug_id: uuid_string(&id),
        code_id,
        image_base,
        flags: 0,
    }
}

fn has_debug_info<'a, R: ReadRef<'a>>(file: &object::File<'a, R>) -> bool {
    file.section_by_name(".debug_info").map(|s| s.size() > 0 && !is_nobits(&s)).unwrap_or(false)
}

fn is_nobits<'a, 'f, S: ObjectSection<'a>>(s: &S) -> bool {
    matches!(s.flags(), SectionFlags::Elf { .. }) && s.file_range().is_none()
}

fn has_symbols<'a, R: ReadRef<'a>>(file: &object::File<'a, R>) -> bool {
    file.symbols().next().is_some() || file.dynamic_symbols().next().is_some()
}

/// The formats read through a [`source::Source`] in bounded windows rather than through
/// `object` (text without an index; a wasm module's sections are found by walking them).
#[derive(Clone, Copy)]
enum Streamed {
    Breakpad,
    Wasm,
}

fn streamed_kind(head: &[u8]) -> Option<Streamed> {
    if breakpad::is_breakpad(head) {
        Some(Streamed::Breakpad)
    } else if wasm::is_wasm(head) {
        Some(Streamed::Wasm)
    } else {
        None
    }
}

/// Reads only the first bytes: an ELF file must not pay for a window.
fn sniff<'a, R: ReadRef<'a>>(data: R) -> Result<Option<Streamed>> {
    let len = data.len().map_err(|_| invalid("cannot read the file"))?;
    Ok(data.read_bytes_at(0, len.min(8)).ok().and_then(streamed_kind))
}

fn sniff_io<F: std::io::Read + std::io::Seek>(file: &mut F) -> Result<Option<Streamed>> {
    let mut head = [0u8; 8];
    let mut n = 0;
    file.seek(std::io::SeekFrom::Start(0)).map_err(|e| invalid(format!("cannot read the file: {}", e)))?;
    while n < head.len() {
        match file.read(&mut head[n..]).map_err(|e| invalid(format!("cannot read the file: {}", e)))? {
            0 => break,
            k => n += k,
        }
    }
    Ok(streamed_kind(&head[..n]))
}

fn streamed_info<'a, S: source::Source<'a>>(kind: Streamed, src: &mut S) -> Result<ObjectInfo> {
    match kind {
        Streamed::Breakpad => breakpad::object_info(src),
        Streamed::Wasm => wasm::object_info(src),
    }
}

fn streamed_build<'a, S: source::Source<'a>>(kind: Streamed, src: &mut S) -> Result<SymCacheBuild> {
    match kind {
        Streamed::Breakpad => breakpad::build_symcache(src),
        Streamed::Wasm => wasm::build_symcache(src),
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
pub fn object_info<'a, R: ReadRef<'a>>(data: R, arch: Option<&str>) -> Result<ObjectInfo> {
    if let Some(kind) = sniff(data)? {
        return streamed_info(kind, &mut source::RefSource::new(data)?);
    }
    let opened = open(data, arch)?;
    Ok(with_file!(opened, f => ObjectInfo {
        identity: identity(f),
        has_debug_info: has_debug_info(f),
        has_symbols: has_symbols(f),
    }))
}

/// Builds a symcache from an object file (ELF, Mach-O, fat Mach-O by `arch`).
pub fn build_symcache<'a, R: ReadRef<'a>>(data: R, arch: Option<&str>) -> Result<SymCacheBuild> {
    if let Some(kind) = sniff(data)? {
        return streamed_build(kind, &mut source::RefSource::new(data)?);
    }
    let opened = open(data, arch)?;
    with_file!(opened, f => build_from_file(f, None::<source::RefSource<'a, &'a [u8]>>))
}

/// [`build_symcache`] where `data` keeps what it reads (`object::ReadCache`): the DWARF
/// sections are read through `file` instead, into memory freed as the build goes
/// (`.debug_info` a unit at a time), so that they are not held for the whole build.
pub fn build_symcache_ranged<'a, R: ReadRef<'a>, F: std::io::Read + std::io::Seek + 'a>(data: R, file: F, arch: Option<&str>) -> Result<SymCacheBuild> {
    if let Some(kind) = sniff(data)? {
        return streamed_build(kind, &mut source::RefSource::new(data)?);
    }
    match open(data, arch)? {
        Opened::Direct(f) => build_from_file(&f, Some(source::IoSource::new(file)?)),
        // The slice's offsets are not the file's: read through `data`.
        Opened::Slice(f) => build_from_file(&f, None::<source::RefSource<'a, &'a [u8]>>),
    }
}

/// A section's bytes (decompressed). With `ranged`, an uncompressed section is read
/// through it rather than through `file`.
fn section_data<'a, R: ReadRef<'a>, S: source::Source<'a>>(file: &object::File<'a, R>, name: &str, ranged: Option<&mut S>) -> Result<Cow<'a, [u8]>> {
    let section = match file.section_by_name(name) {
        Some(s) => s,
        None => return Ok(Cow::Borrowed(&[])),
    };
    if is_nobits(&section) {
        return Ok(Cow::Borrowed(&[]));
    }
    if let Some(src) = ranged {
        if let Some((offset, len)) = plain_range(&section) {
            return src.keep(offset, len);
        }
    }
    if let Some(data) = zstd_section(file, &section, name)? {
        return Ok(Cow::Owned(data));
    }
    let compressed = section.compressed_data().map_err(obj_err)?;
    if compressed.uncompressed_size > MAX_SECTION_SIZE {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!("section {} decompresses to {} bytes (limit {})", name, compressed.uncompressed_size, MAX_SECTION_SIZE),
        ));
    }
    compressed.decompress().map_err(|e| invalid(format!("cannot decompress section {}: {}", name, e)))
}

/// `ELFCOMPRESS_ZSTD` in an ELF compression header (object 0.30 knows only zlib).
const ELFCOMPRESS_ZSTD: u32 = 2;

/// A zstd-compressed ELF section (`SHF_COMPRESSED`, `ELFCOMPRESS_ZSTD`), decompressed;
/// `None` for any other section. The declared size is checked against
/// [`MAX_SECTION_SIZE`] and reserved (the memory cap) before decoding, and the decoder
/// may produce exactly that many bytes: not one more, not one fewer.
fn zstd_section<'a, 'f, R: ReadRef<'a>, S: ObjectSection<'a>>(file: &object::File<'a, R>, section: &S, name: &str) -> Result<Option<Vec<u8>>> {
    match section.flags() {
        SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_COMPRESSED) != 0 => {}
        _ => return Ok(None),
    }
    let raw = section.data().map_err(obj_err)?;
    let big = !file.is_little_endian();
    let field = |at: usize, len: usize| -> Option<u64> {
        let b = raw.get(at..at + len)?;
        Some(if big { b.iter().fold(0, |v, &x| (v << 8) | u64::from(x)) } else { b.iter().rev().fold(0, |v, &x| (v << 8) | u64::from(x)) })
    };
    // Elf64_Chdr: type, reserved, size, addralign; Elf32_Chdr: type, size, addralign.
    let (kind, size, header) = if file.is_64() { (field(0, 4), field(8, 8), 24) } else { (field(0, 4), field(4, 4), 12) };
    let (kind, size) = match (kind, size) {
        (Some(k), Some(s)) => (k as u32, s),
        _ => return Err(invalid(format!("section {}: truncated compression header", name))),
    };
    if kind != ELFCOMPRESS_ZSTD {
        return Ok(None);
    }
    if size > MAX_SECTION_SIZE {
        return Err(Error::new(ErrorKind::LimitExceeded, format!("section {} decompresses to {} bytes (limit {})", name, size, MAX_SECTION_SIZE)));
    }
    let size = size as usize;
    let mut out = Vec::new();
    if out.try_reserve_exact(size).is_err() {
        return Err(Error::new(ErrorKind::LimitExceeded, format!("section {} decompresses to {} bytes: more than the memory limit allows", name, size)));
    }
    crate::zstd::decompress_into(&raw[header..], &mut out, size).map_err(|e| invalid(format!("cannot decompress section {}: {}", name, e)))?;
    if out.len() != size {
        return Err(invalid(format!("cannot decompress section {}: {} bytes declared, {} produced", name, size, out.len())));
    }
    Ok(Some(out))
}

/// Where an uncompressed section's bytes are in the file.
fn plain_range<'a, 'f, S: ObjectSection<'a>>(section: &S) -> Option<(u64, u64)> {
    match section.compressed_file_range() {
        Ok(r) if r.format == object::CompressionFormat::None => Some((r.offset, r.uncompressed_size)),
        _ => None,
    }
}

/// `.debug_info` read a unit at a time through a [`source::Source`].
struct RangedInfo<S> {
    src: S,
    offset: u64,
    size: u64,
}

impl<'a, S: source::Source<'a>> dwarf::InfoSection<'a> for RangedInfo<S> {
    fn size(&self) -> u64 {
        self.size
    }

    fn read(&mut self, offset: u64, len: u64) -> Result<Cow<'a, [u8]>> {
        let offset = offset.min(self.size);
        self.src.keep(self.offset + offset, len.min(self.size - offset))
    }
}

/// The DWARF sections that symcache building reads.
const DWARF_SECTIONS: [gimli::SectionId; 10] = [
    gimli::SectionId::DebugAbbrev,
    gimli::SectionId::DebugAddr,
    gimli::SectionId::DebugInfo,
    gimli::SectionId::DebugLine,
    gimli::SectionId::DebugLineStr,
    gimli::SectionId::DebugRanges,
    gimli::SectionId::DebugRngLists,
    gimli::SectionId::DebugStr,
    gimli::SectionId::DebugStrOffsets,
    gimli::SectionId::DebugAranges,
];

type Reader<'s> = gimli::EndianSlice<'s, gimli::RunTimeEndian>;

/// Executable address ranges of the file (sections with code), to drop line-table rows
/// of discarded code (tombstone addresses).
fn code_ranges<'a, R: ReadRef<'a>>(file: &object::File<'a, R>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = file
        .sections()
        .filter(|s| match s.flags() {
            SectionFlags::Elf { sh_flags } => sh_flags & u64::from(object::elf::SHF_EXECINSTR) != 0,
            _ => s.kind() == object::SectionKind::Text,
        })
        .map(|s| (s.address(), s.address().saturating_add(s.size())))
        .filter(|r| r.1 > r.0)
        .collect();
    out.sort_unstable();
    out
}

fn in_ranges(ranges: &[(u64, u64)], addr: u64) -> bool {
    if ranges.is_empty() {
        return true;
    }
    let i = ranges.partition_point(|r| r.0 <= addr);
    i > 0 && addr <= ranges[i - 1].1
}

fn build_from_file<'a, R: ReadRef<'a>, S: source::Source<'a> + 'a>(file: &object::File<'a, R>, mut ranged: Option<S>) -> Result<SymCacheBuild> {
    let id = identity(file);
    let base = id.image_base;

    let endian = if file.is_little_endian() { gimli::RunTimeEndian::Little } else { gimli::RunTimeEndian::Big };
    let mut sections: HashMap<gimli::SectionId, Cow<'a, [u8]>> = HashMap::new();
    let mut info: Option<Box<dyn dwarf::InfoSection<'a> + 'a>> = None;
    // `.debug_info` last: a ranged one takes the source.
    for sid in DWARF_SECTIONS.iter().filter(|&&s| s != gimli::SectionId::DebugInfo).chain([gimli::SectionId::DebugInfo].iter()) {
        if *sid == gimli::SectionId::DebugInfo {
            let plain = file.section_by_name(sid.name()).filter(|s| !is_nobits(s)).and_then(|s| plain_range(&s));
            // An empty one goes the common way, which checks its offset as the in-memory build does.
            if let Some((offset, size)) = plain.filter(|p| p.1 > 0) {
                if let Some(src) = ranged.take() {
                    info = Some(Box::new(RangedInfo { src, offset, size }));
                    continue;
                }
            }
        }
        let data = section_data(file, sid.name(), ranged.as_mut())?;
        if !data.is_empty() {
            sections.insert(*sid, data);
        }
    }
    // Symbol table: names for code that DWARF does not cover.
    let mut syms: Vec<(u64, u64, &str)> = Vec::new();
    let mut order: Vec<usize> = Vec::new();
    // Mach-O symbol names carry the C-level leading underscore (`_main`); DWARF names and
    // llvm-symbolizer do not.
    let macho = file.format() == object::BinaryFormat::MachO;
    for (table, sym_iter) in [(0, file.symbols()), (1, file.dynamic_symbols())] {
        if table == 1 && !syms.is_empty() {
            break;
        }
        for s in sym_iter {
            if s.kind() == object::SymbolKind::Text && s.is_definition() && s.address() >= base && s.address() != 0 {
                if let Ok(name) = s.name() {
                    let name = if macho { name.strip_prefix('_').unwrap_or(name) } else { name };
                    if !name.is_empty() {
                        syms.push((s.address(), s.size(), name));
                        order.push(order.len());
                    }
                }
            }
        }
    }
    // Of the symbols at one address, llvm-symbolizer keeps the largest, and of equally
    // large ones the last in the table (a stable sort by address and size, then the last
    // of each address): aliases (identical code folded by the linker) are named alike.
    let mut keyed: Vec<((u64, u64, &str), usize)> = syms.drain(..).zip(order).collect();
    keyed.sort_unstable_by_key(|(s, i)| (s.0, std::cmp::Reverse(s.1), std::cmp::Reverse(*i)));
    syms = keyed.into_iter().map(|(s, _)| s).collect();
    syms.dedup_by_key(|s| s.0);
    let code = code_ranges(file);
    build_core(id, sections, info, endian, &syms, &code, true)
}

/// Builds the symcache from the DWARF sections (may be empty), the symbol table (sorted,
/// one per address) and the executable address ranges. `outer_from_symbols`: name the
/// outer frame from the symbol table where one covers the address (llvm-symbolizer does
/// for ELF and Mach-O, not for wasm's name section).
fn build_core<'b>(
    mut id: Identity,
    mut sections: HashMap<gimli::SectionId, Cow<'b, [u8]>>,
    info: Option<Box<dyn dwarf::InfoSection<'b> + 'b>>,
    endian: gimli::RunTimeEndian,
    syms: &[(u64, u64, &str)],
    code: &[(u64, u64)],
    outer_from_symbols: bool,
) -> Result<SymCacheBuild> {
    let base = id.image_base;
    let mut w = SymCacheWriter::new();
    let mut fns = demangle::Functions::default();
    // `.debug_info` is read a unit at a time, from memory or through `info`.
    let mut info = info.or_else(|| {
        let whole = sections.remove(&gimli::SectionId::DebugInfo)?;
        Some(Box::new(dwarf::WholeInfo(whole)) as Box<dyn dwarf::InfoSection<'b> + 'b>)
    });
    if let Some(info) = info.as_mut() {
        id.flags |= FLAG_HAS_DEBUG_INFO;
        let dwarf = gimli::Dwarf::load(|sid| -> std::result::Result<Reader<'_>, gimli::Error> {
            Ok(gimli::EndianSlice::new(sections.get(&sid).map(|c| &c[..]).unwrap_or(&[]), endian))
        })
        .map_err(dwarf_err)?;
        let mut symbols = dwarf::Symbols::new(syms);
        dwarf::add_ranges(&mut w, &dwarf, &mut **info, endian, base, code, &mut symbols, &mut fns, outer_from_symbols)?;
    }
    // The DWARF is done with: free it before the writer builds its output.
    drop(info);
    drop(sections);

    if !syms.is_empty() {
        id.flags |= FLAG_HAS_SYMBOLS;
    }
    for i in 0..syms.len() {
        let (addr, size, name) = syms[i];
        // A symbol without a size (written in assembly: `_init`, `_fini`) reaches the next
        // symbol, the last one the end of its code section, as in llvm-symbolizer.
        let end = if size > 0 {
            addr.saturating_add(size)
        } else if let Some(next) = syms.get(i + 1) {
            next.0
        } else {
            match code.iter().find(|r| r.0 <= addr && addr < r.1) {
                Some(r) => r.1,
                None => continue,
            }
        };
        let f = fns.intern(&mut w, name, 0);
        let loc = w.chain(&[FrameSpec { function: f, file: NONE, line: 0, column: 0, sym_addr: addr - base }]);
        w.fallback_range(addr - base, end - base, loc);
    }
    drop(fns);
    Ok(SymCacheBuild { writer: w, identity: id })
}

#[cfg(test)]
mod tests;
