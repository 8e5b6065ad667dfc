//! ELF, Mach-O (thin and fat) and PE files, read through the `object` crate: opening
//! (the architecture of a fat file, damaged Mach-O load commands), identity, section
//! data (compressed or read in ranges), symbol tables, and the symcache built from them.

use super::build::{build_core, in_ranges, DWARF_SECTIONS};
use super::warnings::Warnings;
use super::{dwarf, invalid, obj_err, source, unsupported, ObjectInfo, MAX_SECTION_SIZE};
use crate::error::{Error, ErrorKind, Result};
use crate::inflate::Restart;
use crate::symcache::{Identity, SymCacheBuild};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, ReadRef, SectionFlags};
use std::borrow::Cow;
use std::collections::HashMap;

/// A parsed object file: either the input itself or one slice of a fat Mach-O.
pub(super) enum Opened<'a, R: ReadRef<'a>> {
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

pub(super) fn arch_name(a: object::Architecture) -> &'static str {
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
pub(super) fn macho_arch(cputype: u32, cpusubtype: u32) -> Option<&'static str> {
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
pub(super) fn macho_header_arch(head: &[u8]) -> Option<&'static str> {
    let word = |i: usize, big: bool| {
        let b: [u8; 4] = head.get(i..i + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
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
pub(super) struct Patched<R> {
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
pub(super) fn macho_load_commands<'a, R: ReadRef<'a>>(data: R) -> (Warnings, Option<Vec<u8>>) {
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
        if big {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    };
    let (ncmds, sizeofcmds) = (u32_at(head, 16), u64::from(u32_at(head, 20)));
    let header_size: usize = if wide { 32 } else { 28 };
    let file_len = data.len().unwrap_or(0);
    let mut bytes = match data.read_bytes_at(0, header_size as u64 + sizeofcmds) {
        Ok(b) => b.to_vec(),
        Err(()) => {
            warn.skip("load command area", "runs past the end of the file", || {
                "offset 0x0".to_string()
            });
            return (warn, None);
        }
    };
    let mut changed = false;
    let mut pos = header_size;
    for i in 0..ncmds {
        let cmdsize = if pos + 8 <= bytes.len() {
            u32_at(&bytes, pos + 4) as usize
        } else {
            usize::MAX
        };
        if cmdsize > bytes.len() - pos.min(bytes.len()) {
            // `object` stops reading there: this command and the ones after it are lost.
            let at = pos;
            for _ in i..ncmds.min(i + 4096) {
                warn.skip("load command", "a size runs past the load commands", || {
                    format!("offset {:#x}", at)
                });
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
                    let (symoff, nsyms, stroff, strsize) =
                        (u32_at(body, 8), u32_at(body, 12), u32_at(body, 16), u32_at(body, 20));
                    u64::from(symoff) + u64::from(nsyms) * nlist > file_len
                        || u64::from(stroff) + u64::from(strsize) > file_len
                }
            }
            _ => false,
        };
        if bad {
            let (what, at) = (
                if cmd == 0x2 {
                    "symbol table past the end of the file"
                } else {
                    "segment's sections run past it"
                },
                pos,
            );
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
pub(super) fn arch_matches(name: &str, family: &str, want: &str, exact: bool) -> bool {
    let want = if want == "i386" { "x86" } else { want };
    name == want || (!exact && family == want)
}

/// Opens `data` (a slice of a universal binary by `arch`); gives the Mach-O subtype name
/// where the architecture's family name is not all of it.
pub(super) fn open<'a, R: ReadRef<'a>>(data: R, arch: Option<&str>) -> Result<(Opened<'a, R>, Option<&'static str>)> {
    let kind = object::FileKind::parse(data)
        .map_err(|_| unsupported("not a supported object file (ELF, Mach-O, Breakpad or WebAssembly)"))?;
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
        object::FileKind::Elf32 | object::FileKind::Elf64 => {
            Ok((Opened::Direct(object::File::parse(data).map_err(obj_err)?), None))
        }
        object::FileKind::MachO32 | object::FileKind::MachO64 => {
            let sub = data.read_bytes_at(0, 12).ok().and_then(macho_header_arch);
            Ok((Opened::Direct(object::File::parse(data).map_err(obj_err)?), sub))
        }
        object::FileKind::MachOFat32 => {
            let archs = FatHeader::parse_arch32(data).map_err(obj_err)?;
            let (slice, sub) = pick(
                archs
                    .iter()
                    .map(|a| {
                        (
                            a.architecture(),
                            a.offset().into(),
                            a.size().into(),
                            macho_arch(a.cputype(), a.cpusubtype()),
                        )
                    })
                    .collect(),
            )?;
            Ok((Opened::Slice(object::File::parse(slice).map_err(obj_err)?), sub))
        }
        object::FileKind::MachOFat64 => {
            let archs = FatHeader::parse_arch64(data).map_err(obj_err)?;
            let (slice, sub) = pick(
                archs
                    .iter()
                    .map(|a| {
                        (
                            a.architecture(),
                            a.offset(),
                            a.size(),
                            macho_arch(a.cputype(), a.cpusubtype()),
                        )
                    })
                    .collect(),
            )?;
            Ok((Opened::Slice(object::File::parse(slice).map_err(obj_err)?), sub))
        }
        object::FileKind::Pe32 | object::FileKind::Pe64 => {
            Ok((Opened::Direct(object::File::parse(data).map_err(obj_err)?), None))
        }
        _ => Err(unsupported(
            "not a supported object file (ELF, Mach-O, PE, PDB, Breakpad or WebAssembly)",
        )),
    }
}

/// A PE file's code id as symstore names the image: `TimeDateStamp` (8 hex digits) then
/// `SizeOfImage`, read from the headers `object` checked when it opened the file.
pub(super) fn pe_code_id<'a, R: ReadRef<'a>>(data: R) -> Option<String> {
    let u32_at = |at: u64| -> Option<u32> {
        data.read_bytes_at(at, 4)
            .ok()
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let nt = u64::from(u32_at(0x3c)?);
    // COFF header after "PE\0\0": TimeDateStamp at +4; optional header at +20 with
    // SizeOfImage at +56 in both PE32 and PE32+.
    let stamp = u32_at(nt + 8)?;
    let size = u32_at(nt + 24 + 56)?;
    Some(format!("{:08x}{:x}", stamp, size))
}

/// The CodeView record of a PE file: debug id (GUID in its text order, then the age) and
/// the PDB path the linker wrote.
pub(super) fn pe_debug_id<'a, R: ReadRef<'a>>(file: &object::File<'a, R>) -> Option<(String, String)> {
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

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

pub(super) fn uuid_string(b: &[u8; 16]) -> String {
    let h = hex(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub(super) fn identity<'a, R: ReadRef<'a>>(file: &object::File<'a, R>, sub: Option<&'static str>) -> Identity {
    let (kind, image_base) = match file.format() {
        object::BinaryFormat::MachO => {
            let base = file
                .segments()
                .find(|s| s.name().ok().flatten() == Some("__TEXT"))
                .map(|s| s.address())
                .unwrap_or(0);
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
        return Identity {
            kind: kind.to_string(),
            arch: arch_name(file.architecture()).to_string(),
            debug_id,
            code_id,
            image_base,
            flags: 0,
        };
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
    } else if let Some(text) = file
        .section_by_name(".text")
        .filter(|_| file.format() == object::BinaryFormat::Elf)
    {
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

pub(super) fn has_debug_info<'a, R: ReadRef<'a>>(file: &object::File<'a, R>) -> bool {
    file.section_by_name(".debug_info")
        .map(|s| s.size() > 0 && !is_nobits(&s))
        .unwrap_or(false)
}

pub(super) fn is_nobits<'a, 'f, S: ObjectSection<'a>>(s: &S) -> bool {
    matches!(s.flags(), SectionFlags::Elf { .. }) && s.file_range().is_none()
}

pub(super) fn has_symbols<'a, R: ReadRef<'a>>(file: &object::File<'a, R>) -> bool {
    file.symbols().next().is_some()
        || file.dynamic_symbols().next().is_some()
        || (file.format() == object::BinaryFormat::Pe && file.exports().map(|e| !e.is_empty()).unwrap_or(false))
}

/// The `.gnu_debuglink` of an ELF file; a malformed one is no link (the identity stands).
pub(super) fn debuglink<'a, R: ReadRef<'a>>(f: &object::File<'a, R>) -> Option<(String, u32)> {
    match f.gnu_debuglink() {
        Ok(Some((name, crc))) if !name.is_empty() => Some((String::from_utf8_lossy(name).into_owned(), crc)),
        _ => None,
    }
}

pub(super) fn with_pe_code_id<'a, R: ReadRef<'a>>(mut b: SymCacheBuild, data: R) -> SymCacheBuild {
    if b.identity.kind == "pe" {
        b.identity.code_id = pe_code_id(data).unwrap_or_default();
    }
    b
}

/// A section's bytes (decompressed). With `ranged`, an uncompressed section is read
/// through it rather than through `file`.
pub(super) fn section_data<'a, R: ReadRef<'a>, S: source::Source<'a>>(
    file: &object::File<'a, R>,
    name: &str,
    ranged: Option<&mut S>,
) -> Result<Cow<'a, [u8]>> {
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
            let fits = r
                .offset
                .checked_add(r.compressed_size)
                .map_or(false, |end| end <= src.size());
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
            format!(
                "section {} decompresses to {} bytes (limit {})",
                name, compressed.uncompressed_size, MAX_SECTION_SIZE
            ),
        ));
    }
    if compressed.format == object::CompressionFormat::Zlib {
        return inflate_section(compressed.data, compressed.uncompressed_size, name).map(Cow::Owned);
    }
    compressed
        .decompress()
        .map_err(|e| invalid(format!("cannot decompress section {}: {}", name, e)))
}

/// A zlib section's bytes: exactly `size` of them (at most [`MAX_SECTION_SIZE`]), by the
/// core's own inflate (about 25% less CPU than miniz_oxide inside wasm).
pub(super) fn inflate_section(raw: &[u8], size: u64, name: &str) -> Result<Vec<u8>> {
    inflate_marked(raw, size, name, 0).map(|(out, _)| out)
}

/// [`inflate_section`] with restarts every `every` bytes of output (none for 0).
fn inflate_marked(raw: &[u8], size: u64, name: &str, every: usize) -> Result<(Vec<u8>, Vec<Restart>)> {
    if size > MAX_SECTION_SIZE {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "section {} decompresses to {} bytes (limit {})",
                name, size, MAX_SECTION_SIZE
            ),
        ));
    }
    crate::inflate::zlib_exact_marked(raw, size as usize, every).map_err(|e| match e {
        crate::inflate::InflateError::OutOfMemory => Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "section {} decompresses to {} bytes: more than the memory limit allows",
                name, size
            ),
        ),
        e => invalid(format!("cannot decompress section {}: {}", name, e)),
    })
}

/// A zlib `.debug_info`, inflated whole, and how to inflate its parts again once pass 2
/// has given their pages back ([`dwarf::InflatedInfo`]); `None` for any other. The
/// compressed bytes are not kept: read again from `ranged` (or borrowed from the file).
#[allow(clippy::type_complexity)]
fn inflated_info<'a, R: ReadRef<'a>, S: source::Source<'a> + 'a>(
    file: &object::File<'a, R>,
    ranged: &mut Option<S>,
) -> Result<Option<(Vec<u8>, dwarf::Reinflate<'a>)>> {
    let name = ".debug_info";
    let section = match file.section_by_name(name) {
        Some(s) if !is_nobits(&s) => s,
        _ => return Ok(None),
    };
    let r = match section.compressed_file_range() {
        Ok(r) if r.format == object::CompressionFormat::Zlib => r,
        _ => return Ok(None),
    };
    if r.uncompressed_size > MAX_SECTION_SIZE {
        return Ok(None); // (refused by section_data)
    }
    // Restarts cost 32 KiB each; inflating again costs up to `every` bytes a read.
    let every = (1usize << 20).max((r.uncompressed_size / 64) as usize);
    // The zlib stream's bytes at `(o, n)`, cut at its end.
    type Stream<'a> = Box<dyn FnMut(u64, u64) -> Result<Cow<'a, [u8]>> + 'a>;
    let clamp = |o: u64, n: u64, len: u64| (o.min(len), n.min(len - o.min(len)));
    let (out, restarts, stream, len): (_, _, Stream<'a>, _) = if let Some(src) = ranged.as_mut() {
        let fits = r
            .offset
            .checked_add(r.compressed_size)
            .map_or(false, |end| end <= src.size());
        if !fits {
            return Ok(None);
        }
        let (out, restarts) = {
            let raw = src.keep(r.offset, r.compressed_size)?;
            inflate_marked(&raw, r.uncompressed_size, name, every)?
        };
        let mut src = match ranged.take() {
            Some(s) => s,
            None => return Ok(None),
        };
        let (at, len) = (r.offset, r.compressed_size);
        let stream = move |o: u64, n: u64| {
            let (o, n) = clamp(o, n, len);
            src.keep(at + o, n)
        };
        (out, restarts, Box::new(stream), len)
    } else {
        let c = section.compressed_data().map_err(obj_err)?;
        if c.format != object::CompressionFormat::Zlib {
            return Ok(None);
        }
        let data: &'a [u8] = c.data;
        let (out, restarts) = inflate_marked(data, c.uncompressed_size, name, every)?;
        let len = data.len() as u64;
        let stream = move |o: u64, n: u64| -> Result<Cow<'a, [u8]>> {
            let (o, n) = clamp(o, n, len);
            Ok(Cow::Borrowed(&data[o as usize..(o + n) as usize]))
        };
        (out, restarts, Box::new(stream), len)
    };
    Ok(Some((
        out,
        dwarf::Reinflate {
            restarts,
            stream,
            stream_len: len,
        },
    )))
}

/// `ELFCOMPRESS_ZSTD` in an ELF compression header (object 0.30 knows only zlib).
pub(super) const ELFCOMPRESS_ZSTD: u32 = 2;

/// A zstd-compressed ELF section (`SHF_COMPRESSED`, `ELFCOMPRESS_ZSTD`), decompressed;
/// `None` for any other section. The declared size is checked against
/// [`MAX_SECTION_SIZE`] and reserved (the memory cap) before decoding, and the decoder
/// may produce exactly that many bytes: not one more, not one fewer.
pub(super) fn zstd_section<'a, 'f, R: ReadRef<'a>, S: ObjectSection<'a>>(
    file: &object::File<'a, R>,
    section: &S,
    name: &str,
) -> Result<Option<Vec<u8>>> {
    match section.flags() {
        SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_COMPRESSED) != 0 => {}
        _ => return Ok(None),
    }
    let raw = section.data().map_err(obj_err)?;
    let big = !file.is_little_endian();
    let field = |at: usize, len: usize| -> Option<u64> {
        let b = raw.get(at..at + len)?;
        Some(if big {
            b.iter().fold(0, |v, &x| (v << 8) | u64::from(x))
        } else {
            b.iter().rev().fold(0, |v, &x| (v << 8) | u64::from(x))
        })
    };
    // Elf64_Chdr: type, reserved, size, addralign; Elf32_Chdr: type, size, addralign.
    let (kind, size, header) = if file.is_64() {
        (field(0, 4), field(8, 8), 24)
    } else {
        (field(0, 4), field(4, 4), 12)
    };
    let (kind, size) = match (kind, size) {
        (Some(k), Some(s)) => (k as u32, s),
        _ => return Err(invalid(format!("section {}: truncated compression header", name))),
    };
    if kind != ELFCOMPRESS_ZSTD {
        return Ok(None);
    }
    if size > MAX_SECTION_SIZE {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "section {} decompresses to {} bytes (limit {})",
                name, size, MAX_SECTION_SIZE
            ),
        ));
    }
    let size = size as usize;
    let mut out = Vec::new();
    if out.try_reserve_exact(size).is_err() {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "section {} decompresses to {} bytes: more than the memory limit allows",
                name, size
            ),
        ));
    }
    crate::zstd::decompress_into(&raw[header..], &mut out, size)
        .map_err(|e| invalid(format!("cannot decompress section {}: {}", name, e)))?;
    if out.len() != size {
        return Err(invalid(format!(
            "cannot decompress section {}: {} bytes declared, {} produced",
            name,
            size,
            out.len()
        )));
    }
    Ok(Some(out))
}

/// Where an uncompressed section's bytes are in the file.
pub(super) fn plain_range<'a, 'f, S: ObjectSection<'a>>(section: &S) -> Option<(u64, u64)> {
    match section.compressed_file_range() {
        Ok(r) if r.format == object::CompressionFormat::None => Some((r.offset, r.uncompressed_size)),
        _ => None,
    }
}

/// `.debug_info` read a unit at a time through a [`source::Source`].
pub(super) struct RangedInfo<S> {
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

/// Executable address ranges of the file (sections with code), to drop line-table rows
/// of discarded code (tombstone addresses).
pub(super) fn code_ranges<'a, R: ReadRef<'a>>(file: &object::File<'a, R>) -> Vec<(u64, u64)> {
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

/// `raw`: the bytes `file` was parsed from, where its symbol names may be read from its
/// string table whole ([`elf_names`]).
pub(super) fn build_from_file<'a, R: ReadRef<'a>, S: source::Source<'a> + 'a>(
    file: &object::File<'a, R>,
    sub: Option<&'static str>,
    mut ranged: Option<S>,
    warn: Warnings,
    raw: Option<R>,
) -> Result<SymCacheBuild> {
    // Read through `ranged`, `file`'s reader is a cache whose copies are the build's own.
    let cached = ranged.is_some();
    let id = identity(file, sub);
    let base = id.image_base;

    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let mut sections: HashMap<gimli::SectionId, Cow<'a, [u8]>> = HashMap::new();
    let mut info: Option<Box<dyn dwarf::InfoSection<'a> + 'a>> = None;
    let mut again = None;
    // `.debug_info` last: a ranged one takes the source.
    for sid in DWARF_SECTIONS
        .iter()
        .filter(|&&s| s != gimli::SectionId::DebugInfo)
        .chain([gimli::SectionId::DebugInfo].iter())
    {
        if *sid == gimli::SectionId::DebugInfo {
            let plain = file
                .section_by_name(sid.name())
                .filter(|s| !is_nobits(s))
                .and_then(|s| plain_range(&s));
            // An empty one goes the common way, which checks its offset as the in-memory build does.
            if let Some((offset, size)) = plain.filter(|p| p.1 > 0) {
                if let Some(src) = ranged.take() {
                    info = Some(Box::new(RangedInfo { src, offset, size }));
                    continue;
                }
            }
            if let Some((data, re)) = inflated_info(file, &mut ranged)? {
                sections.insert(*sid, Cow::Owned(data));
                again = Some(re);
                continue;
            }
        }
        let data = section_data(file, sid.name(), ranged.as_mut())?;
        if !data.is_empty() {
            sections.insert(*sid, data);
        }
    }
    // Symbol table: names for code that DWARF does not cover.
    let mut syms: Vec<(u64, u64, &str)> = Vec::new();
    // A symbol-only ELF file read in ranges: its names are read from its string table
    // read whole, whose pages are given back as the names are interned (`build_core`),
    // not from the cache's blocks of it, held to the build's end (libLLVM: 3.1 MB of
    // `.dynstr` beside the 2.35 MB of names copied, at the build's peak).
    let symbols_only = info.is_none() && !sections.contains_key(&gimli::SectionId::DebugInfo);
    let mut whole = match (raw, ranged.as_mut()) {
        (Some(raw), Some(src)) if symbols_only && file.format() == object::BinaryFormat::Elf => Some((raw, src)),
        _ => None,
    };
    let mut names_of = |sh_type: u32| -> Result<Option<ElfNames<'a>>> {
        match whole.as_mut() {
            Some((raw, src)) => elf_names(*raw, sh_type, &mut **src),
            None => Ok(None),
        }
    };
    let symtab = names_of(object::elf::SHT_SYMTAB)?;
    push_symbols(file, file.symbols(), symtab.as_ref(), base, &mut syms);
    let from_symtab = !syms.is_empty();
    let dynsym = if from_symtab {
        None
    } else {
        names_of(object::elf::SHT_DYNSYM)?
    };
    if !from_symtab {
        push_symbols(file, file.dynamic_symbols(), dynsym.as_ref(), base, &mut syms);
    }
    if syms.is_empty() && file.format() == object::BinaryFormat::Pe {
        // An image linked without a COFF symbol table (MSVC, lld-link) names only its exports.
        let text = code_ranges(file);
        for e in file.exports().unwrap_or_default() {
            if e.address() >= base && in_ranges(&text, e.address()) {
                if let Ok(name) = std::str::from_utf8(e.name()) {
                    syms.push((e.address(), 0, name));
                }
            }
        }
    }
    if cached {
        give_back_symtab(file);
    }
    // Of the symbols at one address, llvm-symbolizer keeps the largest, and of equally
    // large ones the last in the table: aliases (identical code folded by the linker) are
    // named alike. Reversed, a stable sort by address and size puts that one first at its
    // address, and dedup keeps it. (In place: a sorted copy with the table order beside
    // the symbols, 1.9 MB for libLLVM, stayed resident to the end of the build.)
    syms.reverse();
    syms.sort_by_key(|s| (s.0, std::cmp::Reverse(s.1)));
    syms.dedup_by_key(|s| s.0);
    let code = code_ranges(file);
    let names = if from_symtab { &symtab } else { &dynsym };
    let table = names.as_ref().map_or(&[][..], |n| &n.table[..]);
    build_core(id, sections, info, again, endian, &syms, &code, true, warn, table)
}

/// The string table of an ELF symbol table, read whole, and the `st_name` of each of its
/// symbols by index.
pub(super) struct ElfNames<'a> {
    table: Vec<u8>,
    /// How many symbols the table has.
    count: usize,
    st_name: Box<dyn Fn(usize) -> Option<u32> + 'a>,
}

/// [`ElfNames`] of the symbol table of type `sh_type` of the ELF file `data`, its strings
/// read through `src`; `None` where there is no such table or its strings are not a
/// string table inside the file (the names are then read as before, through `data`).
fn elf_names<'a, R: ReadRef<'a>, S: source::Source<'a>>(
    data: R,
    sh_type: u32,
    src: &mut S,
) -> Result<Option<ElfNames<'a>>> {
    use object::read::elf::{FileHeader, SectionHeader, Sym};
    fn of<'a, Elf: FileHeader<Endian = object::Endianness>, R: ReadRef<'a>, S: source::Source<'a>>(
        data: R,
        sh_type: u32,
        src: &mut S,
    ) -> Result<Option<ElfNames<'a>>> {
        let header = match Elf::parse(data) {
            Ok(h) => h,
            Err(_) => return Ok(None),
        };
        let endian = match header.endian() {
            Ok(e) => e,
            Err(_) => return Ok(None),
        };
        let symbols = match header.sections(endian, data).and_then(|s| {
            let table = s.symbols(endian, data, sh_type)?;
            Ok((table.symbols(), s.section(table.string_section())?.clone()))
        }) {
            Ok((symbols, strings)) if !symbols.is_empty() && strings.sh_type(endian) == object::elf::SHT_STRTAB => {
                (symbols, strings)
            }
            _ => return Ok(None),
        };
        let (symbols, strings) = symbols;
        // (names past `STRING_MAX` bytes are not read: a table larger than its symbols can
        // name, declared by a hostile file, is left to the cache's blocks, read where named)
        let most = (symbols.len() as u64).saturating_mul(crate::io::STRING_MAX);
        let (offset, size) = match strings.file_range(endian) {
            Some(r)
                if r.0.checked_add(r.1).map_or(false, |end| end <= src.size()) && r.1 <= most.min(MAX_SECTION_SIZE) =>
            {
                r
            }
            _ => return Ok(None),
        };
        let table = src.keep(offset, size)?.into_owned();
        Ok(Some(ElfNames {
            table,
            count: symbols.len(),
            st_name: Box::new(move |i| symbols.get(i).map(|s| s.st_name(endian))),
        }))
    }
    if data.read_bytes_at(4, 1) == Ok(&[object::elf::ELFCLASS64][..]) {
        of::<object::elf::FileHeader64<object::Endianness>, R, S>(data, sh_type, src)
    } else {
        of::<object::elf::FileHeader32<object::Endianness>, R, S>(data, sh_type, src)
    }
}

/// The name at `offset` in an ELF string table, as `Cached` reads it: up to a NUL found
/// within [`crate::io::STRING_MAX`] bytes, UTF-8.
fn elf_name(table: &[u8], offset: u32) -> Option<&str> {
    let rest = table.get(offset as usize..)?;
    let window = &rest[..rest.len().min(crate::io::STRING_MAX as usize)];
    let n = window.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&window[..n]).ok()
}

/// Adds the text symbols of `iter` (a symbol table of `file`) defined at or above `base`
/// to `syms`, named through `names` where given, else as `file` reads them.
fn push_symbols<'a, 'f, 'n, R: ReadRef<'a>, I: Iterator<Item = object::Symbol<'a, 'f, R>>>(
    file: &'f object::File<'a, R>,
    iter: I,
    names: Option<&'n ElfNames<'a>>,
    base: u64,
    syms: &mut Vec<(u64, u64, &'n str)>,
) where
    'a: 'n,
{
    // Mach-O symbol names carry the C-level leading underscore (`_main`); DWARF names and
    // llvm-symbolizer do not.
    let macho = file.format() == object::BinaryFormat::MachO;
    if let Some(n) = names {
        // (the table's size, not doublings: the blocks they leave stayed resident)
        syms.reserve_exact(n.count);
    }
    for s in iter {
        if s.kind() == object::SymbolKind::Text && s.is_definition() && s.address() >= base && s.address() != 0 {
            let name = match names {
                Some(n) => (n.st_name)(s.index().0).and_then(|o| elf_name(&n.table, o)),
                None => s.name().ok(),
            };
            if let Some(name) = name {
                let name = if macho {
                    name.strip_prefix('_').unwrap_or(name)
                } else {
                    name
                };
                if !name.is_empty() {
                    syms.push((s.address(), s.size(), name));
                }
            }
        }
    }
}

/// Gives back the pages of the cached copies of an ELF `.symtab` and `.dynsym`, read whole
/// when the file was opened and not again (the names are in `.strtab`, `.dynstr`):
/// python3.11's `.symtab` is 1 MB, held through the DWARF passes at the build's peak
/// otherwise; libLLVM's `.dynsym` 1.1 MB, held while its 45k names are interned.
fn give_back_symtab<'a, R: ReadRef<'a>>(file: &object::File<'a, R>) {
    if file.format() != object::BinaryFormat::Elf {
        return;
    }
    // (the same ranges as the parser's reads: the cache's blocks, not new ones)
    for name in [".symtab", ".dynsym"] {
        if let Some(Ok(table)) = file.section_by_name(name).map(|s| s.data()) {
            super::progress::discard(table);
        }
    }
}

/// [`build_cfi`](super::build_cfi) of an ELF, Mach-O or PE file.
pub(super) fn cfi<'a, R: ReadRef<'a> + 'a>(data: R, arch: Option<&str>) -> Result<crate::unwind::build::Built> {
    fn cfi<'x, R: ReadRef<'x>>(
        f: &object::File<'x, R>,
        sub: Option<&'static str>,
    ) -> Result<crate::unwind::build::Built> {
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

/// [`object_info`](super::object_info) of an ELF, Mach-O or PE file.
pub(super) fn info<'a, R: ReadRef<'a> + 'a>(data: R, arch: Option<&str>) -> Result<ObjectInfo> {
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
        None => open(data, arch)
            .map(|(opened, sub)| info(opened, sub, warn))
            .map(|mut i| {
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

/// [`build_symcache`](super::build_symcache) of an ELF, Mach-O or PE file.
pub(super) fn build<'a, R: ReadRef<'a> + 'a>(data: R, arch: Option<&str>) -> Result<SymCacheBuild> {
    let (warn, patched) = macho_load_commands(data);
    if let Some(head) = patched {
        let patched = Patched { head, data };
        let (opened, sub) = open(&patched, arch)?;
        return with_file!(opened, f => build_from_file(f, sub, None::<source::RefSource<'_, &[u8]>>, warn, None));
    }
    let (opened, sub) = open(data, arch)?;
    with_file!(opened, f => build_from_file(f, sub, None::<source::RefSource<'a, &'a [u8]>>, warn, None))
        .map(|b| with_pe_code_id(b, data))
}

/// [`build_symcache_ranged`](super::build_symcache_ranged) of an ELF, Mach-O or PE file.
pub(super) fn build_ranged<'a, R: ReadRef<'a> + 'a, F: std::io::Read + std::io::Seek + 'a>(
    data: R,
    file: F,
    arch: Option<&str>,
) -> Result<SymCacheBuild> {
    let (warn, patched) = macho_load_commands(data);
    if let Some(head) = patched {
        // (a damaged file: read through `data`, which keeps what it reads)
        let patched = Patched { head, data };
        let (opened, sub) = open(&patched, arch)?;
        return with_file!(opened, f => build_from_file(f, sub, None::<source::RefSource<'_, &[u8]>>, warn, None));
    }
    match open(data, arch)? {
        (Opened::Direct(f), sub) => build_from_file(&f, sub, Some(source::IoSource::new(file)?), warn, Some(data))
            .map(|b| with_pe_code_id(b, data)),
        // The slice's offsets are not the file's: read through `data`.
        (Opened::Slice(f), sub) => build_from_file(&f, sub, None::<source::RefSource<'a, &'a [u8]>>, warn, None),
    }
}
