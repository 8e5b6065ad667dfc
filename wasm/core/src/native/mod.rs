//! Native debug files: object identity and symcache building from ELF, Mach-O and
//! Breakpad text symbol files (see [`breakpad`])
//! (DWARF line programs, functions and inlined subroutines, symbol-table fallback).
//!
//! The input is any [`ReadRef`]: a byte slice, or (in the wasm shim) a cache over the
//! host's ranged file reads, so only the headers and the sections used are read.

pub mod breakpad;
pub mod debug_file;
pub mod demangle;
pub mod demangle_msvc;
mod dwarf;
pub mod pdb;
pub mod progress;
pub mod source;
pub mod warnings;
pub mod wasm;

use crate::error::{Error, ErrorKind, Result};
use crate::symcache::{FrameSpec, Identity, SymCacheBuild, SymCacheWriter, FLAG_HAS_DEBUG_INFO, FLAG_HAS_SYMBOLS, NONE};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionFlags};
use warnings::Warnings;
use std::borrow::Cow;
use std::collections::HashMap;

pub use object::ReadRef;
pub use debug_file::{DebugFile, View};

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

/// A Mach-O CPU type and subtype by the names symbolic (and Apple's tools) give them;
/// `None` for what `arch_name` names alike.
fn macho_arch(cputype: u32, cpusubtype: u32) -> Option<&'static str> {
    // (the high byte of the subtype holds capability bits, e.g. arm64e's pointer auth ABI)
    Some(match (cputype, cpusubtype & 0x00ff_ffff) {
        (0x0100_0007, 8) => "x86_64h",
        (12, 6) => "armv6",
        (12, 9) => "armv7",
        (12, 10) => "armv7f",
        (12, 11) => "armv7s",
        (12, 12) => "armv7k",
        (12, 14) => "armv6m",
        (12, 15) => "armv7m",
        (12, 16) => "armv7em",
        (0x0100_000c, 2) => "arm64e",
        (0x0200_000c, _) => "arm64_32",
        _ => return None,
    })
}

/// [`macho_arch`] of a thin Mach-O file's header.
fn macho_header_arch(head: &[u8]) -> Option<&'static str> {
    let word = |i: usize, big: bool| {
        let b: [u8; 4] = head.get(i..i + 4)?.try_into().ok()?;
        Some(if big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    };
    let big = match word(0, false)? {
        0xfeed_face | 0xfeed_facf => false,
        0xcefa_edfe | 0xcffa_edfe => true,
        _ => return None,
    };
    macho_arch(word(4, big)?, word(8, big)?)
}

/// A file whose first bytes are replaced: a Mach-O header with its bad load commands
/// made harmless, read over the file's own bytes.
struct Patched<R> {
    head: Vec<u8>,
    data: R,
}

impl<'p, 'a: 'p, R: ReadRef<'a>> ReadRef<'p> for &'p Patched<R> {
    fn len(self) -> std::result::Result<u64, ()> {
        self.data.len()
    }

    fn read_bytes_at(self, offset: u64, size: u64) -> std::result::Result<&'p [u8], ()> {
        match offset.checked_add(size) {
            Some(end) if end <= self.head.len() as u64 => (&self.head[..]).read_bytes_at(offset, size),
            _ => self.data.read_bytes_at(offset, size),
        }
    }

    fn read_bytes_at_until(self, range: std::ops::Range<u64>, delimiter: u8) -> std::result::Result<&'p [u8], ()> {
        if range.end <= self.head.len() as u64 {
            (&self.head[..]).read_bytes_at_until(range, delimiter)
        } else {
            self.data.read_bytes_at_until(range, delimiter)
        }
    }
}

/// Load commands of a thin Mach-O file that `object` cannot read: the ones after a command
/// whose size leaves the commands area (it stops there), and segments or symbol tables that
/// do not fit (it refuses the file). Gives what was skipped, and the header with the latter
/// made harmless (`None`: nothing to change).
fn macho_load_commands<'a, R: ReadRef<'a>>(data: R) -> (Warnings, Option<Vec<u8>>) {
    let mut warn = Warnings::default();
    let head = match data.read_bytes_at(0, 32) {
        Ok(h) => h,
        Err(()) => return (warn, None),
    };
    let (big, wide) = match head[..4] {
        [0xfe, 0xed, 0xfa, 0xce] => (true, false),
        [0xfe, 0xed, 0xfa, 0xcf] => (true, true),
        [0xce, 0xfa, 0xed, 0xfe] => (false, false),
        [0xcf, 0xfa, 0xed, 0xfe] => (false, true),
        _ => return (warn, None),
    };
    let u32_at = |b: &[u8], i: usize| -> u32 {
        let w = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if big { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) }
    };
    let (ncmds, sizeofcmds) = (u32_at(head, 16), u64::from(u32_at(head, 20)));
    let header_size: usize = if wide { 32 } else { 28 };
    let file_len = data.len().unwrap_or(0);
    let mut bytes = match data.read_bytes_at(0, header_size as u64 + sizeofcmds) {
        Ok(b) => b.to_vec(),
        Err(()) => {
            warn.skip("load command area", "runs past the end of the file", || "offset 0x0".to_string());
            return (warn, None);
        }
    };
    let mut changed = false;
    let mut pos = header_size;
    for i in 0..ncmds {
        let cmdsize = if pos + 8 <= bytes.len() { u32_at(&bytes, pos + 4) as usize } else { usize::MAX };
        if cmdsize > bytes.len() - pos.min(bytes.len()) {
            // `object` stops reading there: this command and the ones after it are lost.
            let at = pos;
            for _ in i..ncmds.min(i + 4096) {
                warn.skip("load command", "a size runs past the load commands", || format!("offset {:#x}", at));
            }
            break;
        }
        let cmd = u32_at(&bytes, pos);
        let body = &bytes[pos..pos + cmdsize];
        let bad = match cmd {
            // LC_SEGMENT, LC_SEGMENT_64: the header, then `nsects` sections.
            0x1 | 0x19 => {
                let (seg, sect, nsects_at) = if cmd == 0x19 { (72, 80, 64) } else { (56, 68, 48) };
                cmdsize < seg || (u32_at(body, nsects_at) as usize).saturating_mul(sect) > cmdsize - seg
            }
            // LC_SYMTAB: symbols and strings inside the file.
            0x2 => {
                let nlist = if wide { 16 } else { 12 };
                cmdsize < 24 || {
                    let (symoff, nsyms, stroff, strsize) = (u32_at(body, 8), u32_at(body, 12), u32_at(body, 16), u32_at(body, 20));
                    u64::from(symoff) + u64::from(nsyms) * nlist > file_len || u64::from(stroff) + u64::from(strsize) > file_len
                }
            }
            _ => false,
        };
        if bad {
            let (what, at) = (if cmd == 0x2 { "symbol table past the end of the file" } else { "segment's sections run past it" }, pos);
            warn.skip("load command", what, || format!("offset {:#x}", at));
            // An unknown command: skipped by any reader.
            bytes[pos..pos + 4].copy_from_slice(&[0; 4]);
            changed = true;
        }
        pos += cmdsize.max(1).min(bytes.len() - pos);
    }
    (warn, if changed { Some(bytes) } else { None })
}

/// Whether a slice named `name` (family `family`, [`arch_name`]) is the one asked for as
/// `want`: by its own name, else by its family (the spelling before subtypes were told:
/// `arm` for any 32-bit ARM slice), `i386` being `x86`.
fn arch_matches(name: &str, family: &str, want: &str, exact: bool) -> bool {
    let want = if want == "i386" { "x86" } else { want };
    name == want || (!exact && family == want)
}

/// Opens `data` (a slice of a universal binary by `arch`); gives the Mach-O subtype name
/// where the architecture's family name is not all of it.
fn open<'a, R: ReadRef<'a>>(data: R, arch: Option<&str>) -> Result<(Opened<'a, R>, Option<&'static str>)> {
    let kind = object::FileKind::parse(data).map_err(|_| unsupported("not a supported object file (ELF, Mach-O, Breakpad or WebAssembly)"))?;
    use object::read::macho::{FatArch, FatHeader};
    // (architecture, offset, size, subtype name)
    let pick = |archs: Vec<(object::Architecture, u64, u64, Option<&'static str>)>| -> Result<(&'a [u8], Option<&'static str>)> {
        let want = arch.unwrap_or("x86_64");
        let name = |a: &(object::Architecture, u64, u64, Option<&'static str>)| a.3.unwrap_or_else(|| arch_name(a.0));
        let chosen = archs
            .iter()
            .find(|a| arch_matches(name(a), arch_name(a.0), want, true))
            .or_else(|| archs.iter().find(|a| arch_matches(name(a), arch_name(a.0), want, false)))
            .or_else(|| if arch.is_none() { archs.first() } else { None })
            .ok_or_else(|| unsupported(format!("the universal binary has no {} slice", want)))?;
        Ok((data.read_bytes_at(chosen.1, chosen.2).map_err(|_| invalid("fat Mach-O slice out of range"))?, chosen.3))
    };
    match kind {
        object::FileKind::Elf32 | object::FileKind::Elf64 => Ok((Opened::Direct(object::File::parse(data).map_err(obj_err)?), None)),
        object::FileKind::MachO32 | object::FileKind::MachO64 => {
            let sub = data.read_bytes_at(0, 12).ok().and_then(macho_header_arch);
            Ok((Opened::Direct(object::File::parse(data).map_err(obj_err)?), sub))
        }
        object::FileKind::MachOFat32 => {
            let archs = FatHeader::parse_arch32(data).map_err(obj_err)?;
            let (slice, sub) = pick(archs.iter().map(|a| (a.architecture(), a.offset().into(), a.size().into(), macho_arch(a.cputype(), a.cpusubtype()))).collect())?;
            Ok((Opened::Slice(object::File::parse(slice).map_err(obj_err)?), sub))
        }
        object::FileKind::MachOFat64 => {
            let archs = FatHeader::parse_arch64(data).map_err(obj_err)?;
            let (slice, sub) = pick(archs.iter().map(|a| (a.architecture(), a.offset(), a.size(), macho_arch(a.cputype(), a.cpusubtype()))).collect())?;
            Ok((Opened::Slice(object::File::parse(slice).map_err(obj_err)?), sub))
        }
        object::FileKind::Pe32 | object::FileKind::Pe64 => Ok((Opened::Direct(object::File::parse(data).map_err(obj_err)?), None)),
        _ => Err(unsupported("not a supported object file (ELF, Mach-O, PE, PDB, Breakpad or WebAssembly)")),
    }
}

/// A PE file's code id as symstore names the image: `TimeDateStamp` (8 hex digits) then
/// `SizeOfImage`, read from the headers `object` checked when it opened the file.
fn pe_code_id<'a, R: ReadRef<'a>>(data: R) -> Option<String> {
    let u32_at = |at: u64| -> Option<u32> { data.read_bytes_at(at, 4).ok().map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])) };
    let nt = u64::from(u32_at(0x3c)?);
    // COFF header after "PE\0\0": TimeDateStamp at +4; optional header at +20 with
    // SizeOfImage at +56 in both PE32 and PE32+.
    let stamp = u32_at(nt + 8)?;
    let size = u32_at(nt + 24 + 56)?;
    Some(format!("{:08x}{:x}", stamp, size))
}

/// The CodeView record of a PE file: debug id (GUID in its text order, then the age) and
/// the PDB path the linker wrote.
fn pe_debug_id<'a, R: ReadRef<'a>>(file: &object::File<'a, R>) -> Option<(String, String)> {
    let cv = file.pdb_info().ok()??;
    let mut g = cv.guid();
    g[0..4].reverse();
    g[4..6].reverse();
    g[6..8].reverse();
    let mut id = uuid_string(&g);
    if cv.age() != 0 {
        id = format!("{}-{:x}", id, cv.age());
    }
    Some((id, String::from_utf8_lossy(cv.path()).into_owned()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

fn uuid_string(b: &[u8; 16]) -> String {
    let h = hex(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn identity<'a, R: ReadRef<'a>>(file: &object::File<'a, R>, sub: Option<&'static str>) -> Identity {
    let (kind, image_base) = match file.format() {
        object::BinaryFormat::MachO => {
            let base = file.segments().find(|s| s.name().ok().flatten() == Some("__TEXT")).map(|s| s.address()).unwrap_or(0);
            ("macho", base)
        }
        object::BinaryFormat::Pe => ("pe", file.relative_address_base()),
        _ => ("elf", file.segments().map(|s| s.address()).min().unwrap_or(0)),
    };
    let mut code_id = String::new();
    let mut id = [0u8; 16];
    if kind == "pe" {
        // (the code id needs the raw headers: filled in by the callers)
        let debug_id = pe_debug_id(file).map(|d| d.0).unwrap_or_else(|| uuid_string(&id));
        return Identity { kind: kind.to_string(), arch: arch_name(file.architecture()).to_string(), debug_id, code_id, image_base, flags: 0 };
    }
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
        arch: sub.unwrap_or_else(|| arch_name(file.architecture())).to_string(),
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
    file.symbols().next().is_some()
        || file.dynamic_symbols().next().is_some()
        || (file.format() == object::BinaryFormat::Pe && file.exports().map(|e| !e.is_empty()).unwrap_or(false))
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
pub fn build_cfi<'a, R: ReadRef<'a> + 'a>(data: R, arch: Option<&str>) -> Result<crate::unwind::build::Built> {
    if let Some(kind) = sniff(data)? {
        return match kind {
            Streamed::Breakpad => crate::unwind::build::from_breakpad(&mut source::RefSource::new(data)?),
            Streamed::Wasm => Err(unsupported("WebAssembly modules have no unwind information")),
            Streamed::Pdb => Err(unsupported("unwind information in PDBs (FPO, frame data) is not read yet")),
        };
    }
    fn cfi<'x, R: ReadRef<'x>>(f: &object::File<'x, R>, sub: Option<&'static str>) -> Result<crate::unwind::build::Built> {
        let id = identity(f, sub);
        crate::unwind::build::from_object(f, crate::unwind::Arch::from_name(&id.arch), id.image_base)
    }
    let (_warn, patched) = macho_load_commands(data);
    if let Some(head) = patched {
        let patched = Patched { head, data };
        let (opened, sub) = open(&patched, arch)?;
        return with_file!(opened, f => cfi(f, sub));
    }
    let (opened, sub) = open(data, arch)?;
    with_file!(opened, f => cfi(f, sub))
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
    fn info<'x, R: ReadRef<'x>>(opened: Opened<'x, R>, sub: Option<&'static str>, warn: Warnings) -> ObjectInfo {
        with_file!(opened, f => ObjectInfo {
            identity: identity(f, sub),
            has_debug_info: has_debug_info(f),
            has_symbols: has_symbols(f),
            has_unwind_info: crate::unwind::build::has_unwind_info(f),
            debuglink: debuglink(f),
            debug_file: pe_debug_id(f).map(|d| d.1).filter(|p| !p.is_empty()),
            code_offset: None,
            warnings: warn.lines(),
        })
    }
    let (warn, patched) = macho_load_commands(data);
    match patched {
        None => open(data, arch).map(|(opened, sub)| info(opened, sub, warn)).map(|mut i| {
            if i.identity.kind == "pe" {
                i.identity.code_id = pe_code_id(data).unwrap_or_default();
            }
            i
        }),
        Some(head) => {
            let patched = Patched { head, data };
            open(&patched, arch).map(|(opened, sub)| info(opened, sub, warn))
        }
    }
}

/// The `.gnu_debuglink` of an ELF file; a malformed one is no link (the identity stands).
fn debuglink<'a, R: ReadRef<'a>>(f: &object::File<'a, R>) -> Option<(String, u32)> {
    match f.gnu_debuglink() {
        Ok(Some((name, crc))) if !name.is_empty() => Some((String::from_utf8_lossy(name).into_owned(), crc)),
        _ => None,
    }
}

/// Builds a symcache from an object file (ELF, Mach-O, fat Mach-O by `arch`).
pub fn build_symcache<'a, R: ReadRef<'a> + 'a>(data: R, arch: Option<&str>) -> Result<SymCacheBuild> {
    if let Some(kind) = sniff(data)? {
        return streamed_build(kind, &mut source::RefSource::new(data)?);
    }
    let (warn, patched) = macho_load_commands(data);
    if let Some(head) = patched {
        let patched = Patched { head, data };
        let (opened, sub) = open(&patched, arch)?;
        return with_file!(opened, f => build_from_file(f, sub, None::<source::RefSource<'_, &[u8]>>, warn));
    }
    let (opened, sub) = open(data, arch)?;
    with_file!(opened, f => build_from_file(f, sub, None::<source::RefSource<'a, &'a [u8]>>, warn)).map(|b| with_pe_code_id(b, data))
}

fn with_pe_code_id<'a, R: ReadRef<'a>>(mut b: SymCacheBuild, data: R) -> SymCacheBuild {
    if b.identity.kind == "pe" {
        b.identity.code_id = pe_code_id(data).unwrap_or_default();
    }
    b
}

/// [`build_symcache`] where `data` keeps what it reads (`object::ReadCache`): the DWARF
/// sections are read through `file` instead, into memory freed as the build goes
/// (`.debug_info` a unit at a time), so that they are not held for the whole build.
pub fn build_symcache_ranged<'a, R: ReadRef<'a> + 'a, F: std::io::Read + std::io::Seek + 'a>(data: R, file: F, arch: Option<&str>) -> Result<SymCacheBuild> {
    if let Some(kind) = sniff(data)? {
        return streamed_build(kind, &mut source::RefSource::new(data)?);
    }
    let (warn, patched) = macho_load_commands(data);
    if let Some(head) = patched {
        // (a damaged file: read through `data`, which keeps what it reads)
        let patched = Patched { head, data };
        let (opened, sub) = open(&patched, arch)?;
        return with_file!(opened, f => build_from_file(f, sub, None::<source::RefSource<'_, &[u8]>>, warn));
    }
    match open(data, arch)? {
        (Opened::Direct(f), sub) => build_from_file(&f, sub, Some(source::IoSource::new(file)?), warn).map(|b| with_pe_code_id(b, data)),
        // The slice's offsets are not the file's: read through `data`.
        (Opened::Slice(f), sub) => build_from_file(&f, sub, None::<source::RefSource<'a, &'a [u8]>>, warn),
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
        // A zlib section's compressed bytes read through `file` would stay in its cache for
        // the whole build (libjvm's debug file: 150 MB beside the 360 MB they decompress to).
        if let Ok(r) = section.compressed_file_range() {
            let fits = r.offset.checked_add(r.compressed_size).map_or(false, |end| end <= src.size());
            if r.format == object::CompressionFormat::Zlib && fits && r.uncompressed_size <= MAX_SECTION_SIZE {
                let raw = src.keep(r.offset, r.compressed_size)?;
                return inflate_section(&raw, r.uncompressed_size, name).map(Cow::Owned);
            }
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
    if compressed.format == object::CompressionFormat::Zlib {
        return inflate_section(compressed.data, compressed.uncompressed_size, name).map(Cow::Owned);
    }
    compressed.decompress().map_err(|e| invalid(format!("cannot decompress section {}: {}", name, e)))
}

/// A zlib section's bytes: exactly `size` of them (at most [`MAX_SECTION_SIZE`]), by the
/// core's own inflate (about 25% less CPU than miniz_oxide inside wasm).
fn inflate_section(raw: &[u8], size: u64, name: &str) -> Result<Vec<u8>> {
    if size > MAX_SECTION_SIZE {
        return Err(Error::new(ErrorKind::LimitExceeded, format!("section {} decompresses to {} bytes (limit {})", name, size, MAX_SECTION_SIZE)));
    }
    crate::inflate::zlib_exact(raw, size as usize).map_err(|e| match e {
        crate::inflate::InflateError::OutOfMemory => {
            Error::new(ErrorKind::LimitExceeded, format!("section {} decompresses to {} bytes: more than the memory limit allows", name, size))
        }
        e => invalid(format!("cannot decompress section {}: {}", name, e)),
    })
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

fn build_from_file<'a, R: ReadRef<'a>, S: source::Source<'a> + 'a>(
    file: &object::File<'a, R>,
    sub: Option<&'static str>,
    mut ranged: Option<S>,
    warn: Warnings,
) -> Result<SymCacheBuild> {
    let id = identity(file, sub);
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
    if syms.is_empty() && file.format() == object::BinaryFormat::Pe {
        // An image linked without a COFF symbol table (MSVC, lld-link) names only its exports.
        let text = code_ranges(file);
        for e in file.exports().unwrap_or_default() {
            if e.address() >= base && in_ranges(&text, e.address()) {
                if let Ok(name) = std::str::from_utf8(e.name()) {
                    syms.push((e.address(), 0, name));
                    order.push(order.len());
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
    build_core(id, sections, info, endian, &syms, &code, true, warn)
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
    mut warn: warnings::Warnings,
) -> Result<SymCacheBuild> {
    let base = id.image_base;
    let mut w = SymCacheWriter::new();
    let mut fns = demangle::Functions::default();
    fns.pe32 = id.kind == "pe" && id.arch == "x86";
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
        dwarf::add_ranges(&mut w, &dwarf, &mut **info, endian, base, code, &mut symbols, &mut fns, outer_from_symbols, &mut warn)?;
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
    Ok(SymCacheBuild { writer: w, identity: id, warnings: warn.lines() })
}

#[cfg(test)]
mod tests;
