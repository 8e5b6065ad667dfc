//! Minidumps (Microsoft's `MINIDUMP_*` layout with the Breakpad and Crashpad extensions):
//! header, stream directory, system info, modules with their CodeView identities, threads
//! with CPU contexts, the exception, memory lists, misc info, Linux and Crashpad streams.
//!
//! The dump is read through a [`ReadRef`] (a byte slice, or in the wasm shim the same
//! bounded cache over the host's ranged reads that debug files use), and only the
//! structures are read: memory contents stay in the file as [`MemoryRange`]s until
//! [`Minidump::read_memory`] asks for a range, so a full-memory dump is never copied.
//!
//! A minidump comes from an end user's machine, so nothing in it is trusted: every count
//! is cut to [`Limits`] and to the bytes its stream really has, every RVA is checked
//! against the file. A damaged part is skipped or cut with a line in
//! [`Minidump::warnings`]; only a file that is not a minidump at all is an error.

mod context;
mod json;
mod reason;
#[cfg(test)]
mod tests;

pub use context::{Context, Cpu};
pub use reason::crash_reason;

use crate::error::{Error, ErrorKind, Result};
use object::ReadRef;
use std::fmt::Write as _;

/// `MDMP`, little-endian.
const SIGNATURE: u32 = 0x504d_444d;
/// The low 16 bits of the header's version.
const VERSION: u32 = 0xa793;

/// Stream types (`MINIDUMP_STREAM_TYPE`, then the Breakpad and Crashpad additions).
pub mod stream {
    #![allow(missing_docs)]
    pub const THREAD_LIST: u32 = 3;
    pub const MODULE_LIST: u32 = 4;
    pub const MEMORY_LIST: u32 = 5;
    pub const EXCEPTION: u32 = 6;
    pub const SYSTEM_INFO: u32 = 7;
    pub const MEMORY64_LIST: u32 = 9;
    pub const UNLOADED_MODULE_LIST: u32 = 14;
    pub const MISC_INFO: u32 = 15;
    pub const MEMORY_INFO_LIST: u32 = 16;
    pub const THREAD_NAMES: u32 = 24;
    pub const BREAKPAD_INFO: u32 = 0x4767_0001;
    pub const ASSERTION_INFO: u32 = 0x4767_0002;
    pub const LINUX_CPU_INFO: u32 = 0x4767_0003;
    pub const LINUX_LSB_RELEASE: u32 = 0x4767_0005;
    pub const LINUX_AUXV: u32 = 0x4767_0008;
    pub const LINUX_MAPS: u32 = 0x4767_0009;
    pub const CRASHPAD_INFO: u32 = 0x4350_0001;
}

/// Bounds on what one dump may make the parser read and keep.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Directory entries read.
    pub max_streams: u32,
    /// Threads kept (the rest are dropped with a warning).
    pub max_threads: u32,
    /// Modules (and unloaded modules) kept.
    pub max_modules: u32,
    /// Memory ranges (and memory-info regions) kept.
    pub max_memory_ranges: u32,
    /// Bytes of one string (a module path, a thread name, an annotation).
    pub max_string: u32,
    /// Bytes of one text stream (`/proc/self/maps`, cpuinfo ...).
    pub max_text: u32,
    /// Bytes of all strings together (names, paths, annotations): many entries may point
    /// at the same long string.
    pub max_string_total: u64,
    /// Crashpad annotations kept, all modules together.
    pub max_annotations: u32,
    /// Warnings kept (one more line says how many were left out).
    pub max_warnings: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_streams: 4096,
            max_threads: 65_536,
            max_modules: 65_536,
            max_memory_ranges: 262_144,
            max_string: 64 << 10,
            max_text: 4 << 20,
            max_string_total: 4 << 20,
            max_annotations: 65_536,
            max_warnings: 256,
        }
    }
}

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream type (see [`stream`]).
    pub kind: u32,
    /// RVA of its data.
    pub offset: u32,
    /// Declared size of its data.
    pub size: u32,
}

/// The `SystemInfo` stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemInfo {
    /// `ProcessorArchitecture` as written.
    pub processor_architecture: u16,
    /// The CPU family this names.
    pub cpu: Cpu,
    /// `ProcessorLevel`.
    pub processor_level: u16,
    /// `ProcessorRevision`.
    pub processor_revision: u16,
    /// `NumberOfProcessors`.
    pub processor_count: u8,
    /// `ProductType` (1 workstation, 2 domain controller, 3 server).
    pub product_type: u8,
    /// `PlatformId` as written.
    pub platform_id: u32,
    /// The operating system this names: "windows", "linux", "android", "macos", "ios",
    /// "solaris", "fuchsia", "unix", or "unknown".
    pub os: &'static str,
    /// `MajorVersion`, `MinorVersion`, `BuildNumber`.
    pub os_version: (u32, u32, u32),
    /// The CSD version string (a service pack; Breakpad puts the kernel version here).
    pub csd_version: Option<String>,
    /// `SuiteMask`.
    pub suite_mask: u16,
    /// x86 only: the CPUID vendor string ("GenuineIntel").
    pub cpu_vendor: Option<String>,
    /// x86: CPUID version and feature words; others: `ProcessorFeatures` (two u64, as
    /// four u32 low first).
    pub cpu_features: [u32; 4],
}

/// How a module's debug identity was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeView {
    /// No CodeView record, or one pysym does not know.
    None,
    /// `RSDS`: GUID, age, PDB path (Windows; Breakpad writes it for Mach-O too).
    Pdb70,
    /// `NB10`: timestamp, age, PDB path.
    Pdb20,
    /// `BpEL`: an ELF build id.
    Elf,
}

/// A loaded module (`MINIDUMP_MODULE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Load address.
    pub base: u64,
    /// `SizeOfImage` (lldb writes the first segment's size only).
    pub size: u32,
    /// Bytes from `base` the image covers: `size`, or more where the Linux maps stream
    /// shows the same file mapped further on (lldb's dumps).
    pub extent: u64,
    /// `CheckSum`.
    pub checksum: u32,
    /// `TimeDateStamp`.
    pub timestamp: u32,
    /// The path the module was loaded from.
    pub code_file: String,
    /// Windows: timestamp and image size (`%08X%x`); ELF: the build id in hex; Mach-O:
    /// the UUID in hex; empty when unknown.
    pub code_id: String,
    /// The PDB or debug file named by the CodeView record (else the code file's name).
    pub debug_file: String,
    /// pysym's debug id: a GUID, lowercase with dashes, then `-age` in hex when the age
    /// is not 0 (as symcaches and Breakpad `MODULE` lines give it); empty when unknown.
    pub debug_id: String,
    /// The CodeView record's kind.
    pub codeview: CodeView,
    /// The file version ("10.0.19041.1"), when the module has a `VS_FIXEDFILEINFO`.
    pub version: Option<String>,
}

/// An unloaded module (`MINIDUMP_UNLOADED_MODULE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnloadedModule {
    /// Where it was loaded.
    pub base: u64,
    /// `SizeOfImage`.
    pub size: u32,
    /// `CheckSum`.
    pub checksum: u32,
    /// `TimeDateStamp`.
    pub timestamp: u32,
    /// Its path.
    pub code_file: String,
}

/// Memory saved in the dump: `size` bytes at address `base`, found at `file_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRange {
    /// The address of its first byte in the crashed process.
    pub base: u64,
    /// Bytes saved (cut to what the file holds).
    pub size: u64,
    /// Where they are in the dump.
    pub file_offset: u64,
}

impl MemoryRange {
    /// One past the last address.
    pub fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }
}

/// A region of the address space (`MINIDUMP_MEMORY_INFO`), saved or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryInfo {
    /// `BaseAddress`.
    pub base: u64,
    /// `AllocationBase`.
    pub allocation_base: u64,
    /// `AllocationProtect`.
    pub allocation_protect: u32,
    /// `RegionSize`.
    pub size: u64,
    /// `State` (`MEM_COMMIT` 0x1000, `MEM_RESERVE` 0x2000, `MEM_FREE` 0x10000).
    pub state: u32,
    /// `Protect` (`PAGE_*`).
    pub protect: u32,
    /// `Type` (`MEM_IMAGE` 0x1000000, `MEM_MAPPED` 0x40000, `MEM_PRIVATE` 0x20000).
    pub kind: u32,
}

/// A thread (`MINIDUMP_THREAD`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    /// The thread id.
    pub id: u32,
    /// `SuspendCount`.
    pub suspend_count: u32,
    /// `PriorityClass`.
    pub priority_class: u32,
    /// `Priority`.
    pub priority: u32,
    /// The thread environment block (Windows) or thread pointer.
    pub teb: u64,
    /// The saved stack, when it is in the file.
    pub stack: Option<MemoryRange>,
    /// The registers, when the context could be read.
    pub context: Option<Context>,
    /// From the `ThreadNames` stream.
    pub name: Option<String>,
}

/// The `Exception` stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exception {
    /// The thread that crashed (or asked for the dump).
    pub thread_id: u32,
    /// `ExceptionCode`: a Windows status, a Linux signal, or a Mach exception type.
    pub code: u32,
    /// `ExceptionFlags` (Linux: `si_code`; macOS: the Mach code).
    pub flags: u32,
    /// `ExceptionRecord` (a nested record's address).
    pub record: u64,
    /// `ExceptionAddress`.
    pub address: u64,
    /// `ExceptionInformation`, as many as `NumberParameters` says (at most 15).
    pub parameters: Vec<u64>,
    /// The crashing thread's registers at the exception (when readable).
    pub context: Option<Context>,
    /// A readable reason ("EXCEPTION_ACCESS_VIOLATION_READ", "SIGSEGV / SEGV_MAPERR").
    pub reason: String,
}

/// The `MiscInfo` stream: fields its `Flags1` says are valid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MiscInfo {
    /// `SizeOfInfo` (24, 44, 232, 832 or more: which `MINIDUMP_MISC_INFO_n`).
    pub size: u32,
    /// `Flags1`.
    pub flags: u32,
    /// The process id.
    pub process_id: Option<u32>,
    /// Process creation time (seconds since 1970), user and kernel seconds.
    pub process_times: Option<(u32, u32, u32)>,
    /// Processor max, current and limit MHz.
    pub processor_mhz: Option<(u32, u32, u32)>,
    /// The OS build string and the debugger's build string (`MINIDUMP_MISC_INFO_4`).
    pub build_string: Option<(String, String)>,
}

/// The Breakpad info stream: which thread wrote the dump and which asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakpadInfo {
    /// The thread that wrote the dump (to skip when walking).
    pub dump_thread_id: Option<u32>,
    /// The thread that asked for the dump (the crashing one when no exception stream).
    pub requesting_thread_id: Option<u32>,
}

/// The Breakpad assertion stream (an invalid-parameter or pure-virtual-call report).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    /// The failed expression.
    pub expression: String,
    /// The function it is in.
    pub function: String,
    /// The source file.
    pub file: String,
    /// The line.
    pub line: u32,
    /// 1 invalid parameter, 2 pure virtual call.
    pub kind: u32,
}

/// One line of `/proc/self/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapEntry {
    /// First address.
    pub start: u64,
    /// One past the last.
    pub end: u64,
    /// "r-xp" and the like.
    pub perms: String,
    /// Offset in the mapped file.
    pub offset: u64,
    /// The inode (0: anonymous).
    pub inode: u64,
    /// The path or pseudo-name ("[stack]"), empty when anonymous.
    pub path: String,
}

/// The Linux streams Breakpad writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinuxInfo {
    /// `/proc/self/maps`.
    pub maps: Vec<MapEntry>,
    /// `/proc/cpuinfo`, as text.
    pub cpu_info: Option<String>,
    /// `/etc/lsb-release` (or os-release) as key, value pairs, quotes taken off.
    pub lsb_release: Vec<(String, String)>,
    /// The auxiliary vector as (type, value) pairs, up to `AT_NULL`.
    pub auxv: Vec<(u64, u64)>,
}

/// A Crashpad annotation object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// Its name.
    pub name: String,
    /// Its type (1: a string; 0x8000 and up: defined by the application).
    pub kind: u16,
    /// Its value (a string's text; other types in lowercase hex).
    pub value: String,
}

/// Crashpad's per-module information.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleCrashpadInfo {
    /// Index into [`Minidump::modules`] as the dump wrote it.
    pub module_index: u32,
    /// List annotations.
    pub list_annotations: Vec<String>,
    /// Simple (key, value) annotations.
    pub simple_annotations: Vec<(String, String)>,
    /// Annotation objects.
    pub annotation_objects: Vec<Annotation>,
}

/// The Crashpad info stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrashpadInfo {
    /// The structure's version (1).
    pub version: u32,
    /// The report's UUID.
    pub report_id: String,
    /// The client's UUID.
    pub client_id: String,
    /// Process-wide simple annotations.
    pub simple_annotations: Vec<(String, String)>,
    /// Per-module annotations.
    pub modules: Vec<ModuleCrashpadInfo>,
}

/// A parsed minidump: its structures, with memory left in the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Minidump {
    /// The header's `TimeDateStamp`.
    pub timestamp: u32,
    /// The header's `Flags` (`MINIDUMP_TYPE`).
    pub flags: u64,
    /// The directory as written (entries that fit in the file and the limit).
    pub streams: Vec<StreamInfo>,
    /// The `SystemInfo` stream.
    pub system_info: Option<SystemInfo>,
    /// Loaded modules, in the dump's order.
    pub modules: Vec<Module>,
    /// Unloaded modules.
    pub unloaded_modules: Vec<UnloadedModule>,
    /// Threads, in the dump's order.
    pub threads: Vec<Thread>,
    /// The exception.
    pub exception: Option<Exception>,
    /// Memory saved (`MemoryList` and `Memory64List`), by address, without overlaps.
    pub memory: Vec<MemoryRange>,
    /// The address-space map (`MemoryInfoList`).
    pub memory_info: Vec<MemoryInfo>,
    /// The `MiscInfo` stream.
    pub misc_info: Option<MiscInfo>,
    /// The Breakpad info stream.
    pub breakpad_info: Option<BreakpadInfo>,
    /// The Breakpad assertion stream.
    pub assertion: Option<Assertion>,
    /// The Linux streams.
    pub linux: LinuxInfo,
    /// The Crashpad info stream.
    pub crashpad_info: Option<CrashpadInfo>,
    /// What was damaged, cut or skipped, one line each.
    pub warnings: Vec<String>,
}

impl Minidump {
    /// The index in [`threads`](Self::threads) of the thread that crashed: the exception's
    /// thread, else the one Breakpad says asked for the dump.
    pub fn crashed_thread(&self) -> Option<usize> {
        let id = match (&self.exception, &self.breakpad_info) {
            (Some(e), _) => Some(e.thread_id),
            (
                None,
                Some(BreakpadInfo {
                    requesting_thread_id: Some(id),
                    ..
                }),
            ) => Some(*id),
            _ => None,
        }?;
        self.threads.iter().position(|t| t.id == id)
    }

    /// The saved memory range holding `addr`.
    pub fn memory_at(&self, addr: u64) -> Option<&MemoryRange> {
        let i = self.memory.partition_point(|r| r.base <= addr);
        let r = self.memory.get(i.checked_sub(1)?)?;
        (addr < r.end()).then(|| r)
    }

    /// The `len` bytes of process memory at `addr`, when one saved range holds them all;
    /// read from `data` (the dump these structures came from) only now.
    pub fn read_memory<'a, R: ReadRef<'a>>(&self, data: R, addr: u64, len: u64) -> Option<&'a [u8]> {
        let r = self.memory_at(addr)?;
        let from = addr - r.base;
        if len > r.size - from {
            return None;
        }
        data.read_bytes_at(r.file_offset + from, len).ok()
    }

    /// The module whose image holds `addr`.
    pub fn module_at(&self, addr: u64) -> Option<&Module> {
        self.modules.iter().find(|m| addr >= m.base && addr - m.base < m.extent)
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u32_at(b, at) as u64 | (u32_at(b, at + 4) as u64) << 32
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// A GUID as stored (first three fields little-endian), lowercase with dashes.
fn guid_string(b: &[u8]) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{}-{}",
        u32_at(b, 0),
        u16_at(b, 4),
        u16_at(b, 6),
        hex(&b[8..10]),
        hex(&b[10..16])
    )
}

fn debug_id(guid: &[u8], age: u32) -> String {
    let mut id = guid_string(guid);
    if age != 0 {
        let _ = write!(id, "-{:x}", age); // writing to a String cannot fail
    }
    id
}

/// The last path component, for either separator.
fn file_name(path: &str) -> &str {
    path.rsplit(|c| c == '/' || c == '\\').next().unwrap_or(path)
}

/// The reading state: the file, the limits, the warnings so far.
struct Reader<'a, R: ReadRef<'a>> {
    data: R,
    size: u64,
    limits: Limits,
    warnings: Vec<String>,
    dropped: u32,
    /// What is left of `max_string_total`.
    string_budget: u64,
    strings_spent: bool,
    _life: std::marker::PhantomData<&'a [u8]>,
}

impl<'a, R: ReadRef<'a>> Reader<'a, R> {
    fn warn(&mut self, msg: String) {
        if self.warnings.len() < self.limits.max_warnings as usize {
            self.warnings.push(msg);
        } else {
            self.dropped += 1;
        }
    }

    /// Takes `n` bytes from the string budget; once it is spent, strings are skipped.
    fn spend(&mut self, n: u64, what: &str) -> bool {
        if self.strings_spent {
            return false;
        }
        if n > self.string_budget {
            self.strings_spent = true;
            let total = self.limits.max_string_total;
            self.warn(format!(
                "{}: the dump's strings exceed {} bytes: this and later strings skipped",
                what, total
            ));
            return false;
        }
        self.string_budget -= n;
        true
    }

    /// `len` bytes at `offset`, when the file has them all.
    fn bytes(&self, offset: u64, len: u64) -> Option<&'a [u8]> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => self.data.read_bytes_at(offset, len).ok(),
            _ => None,
        }
    }

    /// Up to `len` bytes at `offset` (fewer at the end of the file).
    fn bytes_upto(&self, offset: u64, len: u64) -> &'a [u8] {
        if offset >= self.size {
            return &[];
        }
        self.bytes(offset, len.min(self.size - offset)).unwrap_or(&[])
    }

    /// A `MINIDUMP_STRING` (UTF-16LE, length in bytes first).
    fn utf16(&mut self, rva: u64, what: &str) -> Option<String> {
        let len = match self.bytes(rva, 4) {
            Some(b) => u32_at(b, 0),
            None => {
                self.warn(format!("{}: string at {:#x} is outside the file", what, rva));
                return None;
            }
        };
        let mut take = len.min(self.limits.max_string) as u64 & !1;
        if !self.spend(take, what) {
            return None;
        }
        let avail = self.size - rva - 4;
        if take > avail {
            self.warn(format!("{}: string at {:#x} runs past the end of the file", what, rva));
            take = avail & !1;
        } else if take < len as u64 {
            self.warn(format!("{}: string at {:#x} cut to {} bytes", what, rva, take));
        }
        let b = self.bytes(rva + 4, take)?;
        let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        Some(String::from_utf16_lossy(&units))
    }

    /// Crashpad's `MinidumpUTF8String` / `MinidumpByteArray` (length in bytes first).
    fn counted(&mut self, rva: u64, what: &str) -> Option<&'a [u8]> {
        let len = match self.bytes(rva, 4) {
            Some(b) => u32_at(b, 0) as u64,
            None => {
                self.warn(format!("{}: string at {:#x} is outside the file", what, rva));
                return None;
            }
        };
        let take = len.min(self.limits.max_string as u64).min(self.size - rva - 4);
        if !self.spend(take, what) {
            return None;
        }
        if take < len {
            self.warn(format!("{}: string at {:#x} cut to {} bytes", what, rva, take));
        }
        self.bytes(rva + 4, take)
    }

    fn utf8(&mut self, rva: u64, what: &str) -> Option<String> {
        self.counted(rva, what).map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// A stream's bytes, cut to the file (with a warning).
    fn stream(&mut self, s: &StreamInfo, name: &str) -> &'a [u8] {
        let b = self.bytes_upto(s.offset as u64, s.size as u64);
        if (b.len() as u64) < s.size as u64 {
            self.warn(format!(
                "{} stream: {} bytes declared at {:#x}, the file has {}",
                name,
                s.size,
                s.offset,
                b.len()
            ));
        }
        b
    }

    /// The entries of a list stream: `count` entries of `entry` bytes after `header`
    /// bytes, cut to the stream, the file and `limit`. Writers that align the entries to
    /// 8 bytes leave 4 bytes of padding after a 4-byte count; that is recognised by the
    /// stream's size.
    fn list(&mut self, s: &StreamInfo, name: &str, header: u64, count: u64, entry: u64, limit: u32) -> &'a [u8] {
        let mut start = s.offset as u64 + header;
        if header == 4 && s.size as u64 == header + 4 + count.saturating_mul(entry) {
            start += 4;
        }
        let stream_end = s.offset as u64 + s.size as u64;
        let end = stream_end.min(self.size);
        let fit = end.saturating_sub(start) / entry;
        let mut n = count;
        if count > fit {
            n = fit;
            let whole = if stream_end > self.size { "file" } else { "stream" };
            self.warn(format!(
                "{} stream: {} entries declared, only {} are in the {}",
                name, count, n, whole
            ));
        }
        if n > limit as u64 {
            self.warn(format!("{} stream: {} entries, only the first {} kept", name, n, limit));
            n = limit as u64;
        }
        self.bytes(start, n * entry).unwrap_or(&[])
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidObject, msg)
}

/// Whether `head` starts like a minidump.
pub fn is_minidump(head: &[u8]) -> bool {
    head.len() >= 4 && u32_at(head, 0) == SIGNATURE
}

/// Parses a minidump with the default [`Limits`].
pub fn parse<'a, R: ReadRef<'a>>(data: R) -> Result<Minidump> {
    parse_with(data, &Limits::default())
}

/// Parses a minidump: an error only when `data` is not a minidump (or cannot be read at
/// all); damage inside gives a partial result with [`Minidump::warnings`].
pub fn parse_with<'a, R: ReadRef<'a>>(data: R, limits: &Limits) -> Result<Minidump> {
    let size = data.len().map_err(|_| invalid("cannot read the minidump"))?;
    let mut r = Reader {
        data,
        size,
        limits: limits.clone(),
        warnings: Vec::new(),
        dropped: 0,
        string_budget: limits.max_string_total,
        strings_spent: false,
        _life: std::marker::PhantomData,
    };
    let head = r.bytes(0, 32).ok_or_else(|| {
        let short = r.bytes_upto(0, 4);
        if is_minidump(short) || size < 4 {
            invalid(format!("truncated minidump: {} bytes, the header alone is 32", size))
        } else {
            Error::new(ErrorKind::UnsupportedObject, "not a minidump (no MDMP signature)")
        }
    })?;
    match u32_at(head, 0) {
        SIGNATURE => {}
        0x4d44_4d50 => {
            return Err(Error::new(
                ErrorKind::UnsupportedObject,
                "big-endian minidumps are not supported",
            ))
        }
        _ => {
            return Err(Error::new(
                ErrorKind::UnsupportedObject,
                "not a minidump (no MDMP signature)",
            ))
        }
    }
    let mut md = Minidump {
        timestamp: u32_at(head, 20),
        flags: u64_at(head, 24),
        ..Minidump::default()
    };
    if u32_at(head, 4) & 0xffff != VERSION {
        r.warn(format!("unexpected header version {:#x}", u32_at(head, 4)));
    }
    let count = u32_at(head, 8);
    let dir = u32_at(head, 12) as u64;
    let mut n = count as u64;
    let fit = size.saturating_sub(dir) / 12;
    if n > fit {
        r.warn(format!(
            "{} streams declared, the file holds {} directory entries",
            count, fit
        ));
        n = fit;
    }
    if n > limits.max_streams as u64 {
        r.warn(format!("{} streams, only the first {} read", n, limits.max_streams));
        n = limits.max_streams as u64;
    }
    let entries = r.bytes(dir, n * 12).unwrap_or(&[]);
    for e in entries.chunks_exact(12) {
        md.streams.push(StreamInfo {
            kind: u32_at(e, 0),
            size: u32_at(e, 4),
            offset: u32_at(e, 8),
        });
    }
    let find = |r: &mut Reader<'a, R>, kind: u32, name: &str| -> Option<StreamInfo> {
        let mut all = md.streams.iter().filter(|s| s.kind == kind);
        let first = all.next()?.clone();
        if all.next().is_some() {
            r.warn(format!("more than one {} stream: the first is used", name));
        }
        Some(first)
    };

    if let Some(s) = find(&mut r, stream::SYSTEM_INFO, "SystemInfo") {
        md.system_info = system_info(&mut r, &s);
    }
    let sys_cpu = md.system_info.as_ref().map(|s| s.cpu);
    if let Some(s) = find(&mut r, stream::MODULE_LIST, "ModuleList") {
        let os = md.system_info.as_ref().map(|s| s.os).unwrap_or("unknown");
        md.modules = modules(&mut r, &s, os);
    }
    if let Some(s) = find(&mut r, stream::UNLOADED_MODULE_LIST, "UnloadedModuleList") {
        md.unloaded_modules = unloaded_modules(&mut r, &s);
    }
    let mut memory = Vec::new();
    if let Some(s) = find(&mut r, stream::MEMORY_LIST, "MemoryList") {
        memory_list(&mut r, &s, &mut memory);
    }
    if let Some(s) = find(&mut r, stream::MEMORY64_LIST, "Memory64List") {
        memory64_list(&mut r, &s, &mut memory);
    }
    md.memory = without_overlaps(&mut r, memory);
    if let Some(s) = find(&mut r, stream::MEMORY_INFO_LIST, "MemoryInfoList") {
        md.memory_info = memory_info(&mut r, &s);
    }
    if let Some(s) = find(&mut r, stream::THREAD_LIST, "ThreadList") {
        md.threads = threads(&mut r, &s, sys_cpu);
    }
    if let Some(s) = find(&mut r, stream::THREAD_NAMES, "ThreadNames") {
        thread_names(&mut r, &s, &mut md.threads);
    }
    if let Some(s) = find(&mut r, stream::MISC_INFO, "MiscInfo") {
        md.misc_info = misc_info(&mut r, &s);
    }
    if let Some(s) = find(&mut r, stream::BREAKPAD_INFO, "BreakpadInfo") {
        let b = r.stream(&s, "BreakpadInfo");
        if b.len() >= 12 {
            let valid = u32_at(b, 0);
            md.breakpad_info = Some(BreakpadInfo {
                dump_thread_id: (valid & 1 != 0).then(|| u32_at(b, 4)),
                requesting_thread_id: (valid & 2 != 0).then(|| u32_at(b, 8)),
            });
        } else {
            r.warn("BreakpadInfo stream: shorter than 12 bytes".to_string());
        }
    }
    if let Some(s) = find(&mut r, stream::ASSERTION_INFO, "AssertionInfo") {
        md.assertion = assertion(&mut r, &s);
    }
    if let Some(s) = find(&mut r, stream::EXCEPTION, "Exception") {
        let platform = md.system_info.as_ref().map(|s| s.os).unwrap_or("unknown");
        md.exception = exception(&mut r, &s, sys_cpu, platform);
    }
    linux_streams(&mut r, &md.streams.clone(), sys_cpu, &mut md.linux);
    module_extents(&mut md.modules, &md.linux.maps);
    if let Some(s) = find(&mut r, stream::CRASHPAD_INFO, "CrashpadInfo") {
        md.crashpad_info = crashpad_info(&mut r, &s);
    }
    if r.dropped > 0 {
        let n = r.dropped;
        r.warnings.push(format!("{} more warnings left out", n));
    }
    md.warnings = r.warnings;
    Ok(md)
}

fn system_info<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, s: &StreamInfo) -> Option<SystemInfo> {
    let b = r.stream(s, "SystemInfo");
    if b.len() < 56 {
        r.warn(format!("SystemInfo stream: {} bytes, 56 expected", b.len()));
        return None;
    }
    let arch = u16_at(b, 0);
    let cpu = Cpu::from_architecture(arch);
    let platform_id = u32_at(b, 20);
    let os = match platform_id {
        0..=3 => "windows",
        0x8000 => "unix",
        0x8101 => "macos",
        0x8102 => "ios",
        0x8201 => "linux",
        0x8202 => "solaris",
        0x8203 => "android",
        0x8206 => "fuchsia",
        _ => "unknown",
    };
    let csd_rva = u32_at(b, 24);
    let csd_version = if csd_rva != 0 {
        r.utf16(csd_rva as u64, "SystemInfo CSD version")
    } else {
        None
    };
    // Windows fills the x86 member of the CPU union for x86 only, Breakpad for x86_64
    // too, Crashpad on macOS the other member: a vendor is 12 printable bytes.
    let vendor = (matches!(cpu, Cpu::X86 | Cpu::X86_64) && b[32..44].iter().all(|c| c.is_ascii_graphic()))
        .then(|| String::from_utf8_lossy(&b[32..44]).into_owned());
    let features = if vendor.is_some() {
        [u32_at(b, 44), u32_at(b, 48), u32_at(b, 52), 0]
    } else {
        [u32_at(b, 32), u32_at(b, 36), u32_at(b, 40), u32_at(b, 44)]
    };
    Some(SystemInfo {
        processor_architecture: arch,
        cpu,
        processor_level: u16_at(b, 2),
        processor_revision: u16_at(b, 4),
        processor_count: b[6],
        product_type: b[7],
        platform_id,
        os,
        os_version: (u32_at(b, 8), u32_at(b, 12), u32_at(b, 16)),
        csd_version,
        suite_mask: u16_at(b, 28),
        cpu_vendor: vendor,
        cpu_features: features,
    })
}

const MODULE_SIZE: u64 = 108;

fn modules<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, s: &StreamInfo, os: &str) -> Vec<Module> {
    let head = r.stream(
        &StreamInfo {
            size: s.size.min(4),
            ..s.clone()
        },
        "ModuleList",
    );
    if head.len() < 4 {
        return Vec::new();
    }
    let count = u32_at(head, 0) as u64;
    let limit = r.limits.max_modules;
    let list = r.list(s, "ModuleList", 4, count, MODULE_SIZE, limit);
    let mut out = Vec::with_capacity(list.len() / MODULE_SIZE as usize);
    for (i, m) in list.chunks_exact(MODULE_SIZE as usize).enumerate() {
        let base = u64_at(m, 0);
        let size = u32_at(m, 8);
        let timestamp = u32_at(m, 16);
        let what = format!("module {}", i);
        let code_file = r.utf16(u32_at(m, 20) as u64, &what).unwrap_or_default();
        let version = (u32_at(m, 24) == 0xfeef_04bd).then(|| {
            let (ms, ls) = (u32_at(m, 32), u32_at(m, 36));
            format!("{}.{}.{}.{}", ms >> 16, ms & 0xffff, ls >> 16, ls & 0xffff)
        });
        let (cv_size, cv_rva) = (u32_at(m, 76) as u64, u32_at(m, 80) as u64);
        let mut module = Module {
            base,
            size,
            extent: size as u64,
            checksum: u32_at(m, 12),
            timestamp,
            debug_file: file_name(&code_file).to_string(),
            code_file,
            code_id: String::new(),
            debug_id: String::new(),
            codeview: CodeView::None,
            version,
        };
        if cv_size > 0 {
            let cv = r.bytes_upto(cv_rva, cv_size.min(r.limits.max_string as u64 + 24));
            if (cv.len() as u64) < cv_size.min(r.limits.max_string as u64 + 24) {
                r.warn(format!(
                    "{}: CodeView record at {:#x} runs past the end of the file",
                    what, cv_rva
                ));
            }
            codeview(r, cv, &what, os, &mut module);
        }
        if module.code_id.is_empty() && os == "windows" && (timestamp != 0 || size != 0) {
            module.code_id = format!("{:08X}{:x}", timestamp, size);
        }
        out.push(module);
    }
    out
}

/// A NUL-terminated 8-bit path (PDB names are in the system code page or UTF-8).
fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// CodeView signatures, as little-endian u32s ("RSDS", "NB10", Breakpad's "BpEL").
const CV_PDB70: u32 = 0x5344_5352;
const CV_PDB20: u32 = 0x3031_424e;
const CV_ELF: u32 = 0x4270_454c;

fn codeview<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, cv: &[u8], what: &str, os: &str, m: &mut Module) {
    if cv.len() < 4 {
        r.warn(format!("{}: CodeView record of {} bytes", what, cv.len()));
        return;
    }
    match u32_at(cv, 0) {
        CV_PDB70 if cv.len() >= 24 => {
            let age = u32_at(cv, 20);
            m.codeview = CodeView::Pdb70;
            m.debug_id = debug_id(&cv[4..20], age);
            let pdb = c_string(&cv[24..]);
            if !pdb.is_empty() {
                m.debug_file = pdb;
            }
            if os == "macos" || os == "ios" {
                // Breakpad writes a Mach-O UUID as the GUID; the code id is that UUID.
                m.code_id = m.debug_id.split('-').take(5).collect::<String>();
            }
        }
        CV_PDB20 if cv.len() >= 16 => {
            let (sig, age) = (u32_at(cv, 8), u32_at(cv, 12));
            m.codeview = CodeView::Pdb20;
            // The timestamp as the GUID's first field: symbolic's convention.
            let mut guid = [0u8; 16];
            guid[0..4].copy_from_slice(&sig.to_le_bytes());
            m.debug_id = debug_id(&guid, age);
            let pdb = c_string(&cv[16..]);
            if !pdb.is_empty() {
                m.debug_file = pdb;
            }
        }
        CV_ELF => {
            let id = &cv[4..];
            m.codeview = CodeView::Elf;
            m.code_id = hex(id);
            // As pysym names ELF files (native::identity): the first 16 bytes of the build
            // id, zero-padded, read as a GUID.
            let mut guid = [0u8; 16];
            let n = id.len().min(16);
            guid[..n].copy_from_slice(&id[..n]);
            m.debug_id = debug_id(&guid, 0);
        }
        sig => r.warn(format!(
            "{}: unknown or short CodeView record {:#010x} ({} bytes)",
            what,
            sig,
            cv.len()
        )),
    }
}

/// Widens each module to the mappings of its file from its base on (lldb writes the
/// first segment's size as the module's size).
fn module_extents(modules: &mut [Module], maps: &[MapEntry]) {
    // Sorted by (path, start) with the largest end from each entry to the end of its
    // path's run: one binary search per module (both lists can be long).
    let mut v: Vec<(&str, u64, u64)> = maps
        .iter()
        .filter(|e| e.end > e.start)
        .map(|e| (e.path.as_str(), e.start, e.end))
        .collect();
    v.sort_unstable();
    let mut suffix = vec![0u64; v.len()];
    for i in (0..v.len()).rev() {
        let same = i + 1 < v.len() && v[i + 1].0 == v[i].0;
        suffix[i] = if same { v[i].2.max(suffix[i + 1]) } else { v[i].2 };
    }
    let mut by_start: Vec<(u64, usize)> = maps.iter().enumerate().map(|(i, e)| (e.start, i)).collect();
    by_start.sort_unstable();
    for m in modules.iter_mut() {
        let i = v.partition_point(|e| (e.0, e.1) < (m.code_file.as_str(), m.base));
        if i < v.len() && v[i].0 == m.code_file {
            m.extent = m.extent.max(suffix[i] - m.base);
        } else if let Some(e) = by_start
            .get(by_start.partition_point(|x| x.0 < m.base)..)
            .and_then(|r| {
                r.iter()
                    .take_while(|x| x.0 == m.base)
                    .map(|x| &maps[x.1])
                    .find(|e| e.offset == 0 && e.path.starts_with('/'))
            })
        {
            // The module names the file by another path (lldb: /lib/... where the maps
            // say /usr/lib/...): the mapping at its base names it.
            let i = v.partition_point(|x| (x.0, x.1) < (e.path.as_str(), m.base));
            if i < v.len() && v[i].0 == e.path {
                m.extent = m.extent.max(suffix[i] - m.base);
            }
        }
    }
}

fn unloaded_modules<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, s: &StreamInfo) -> Vec<UnloadedModule> {
    let head = r.stream(
        &StreamInfo {
            size: s.size.min(12),
            ..s.clone()
        },
        "UnloadedModuleList",
    );
    if head.len() < 12 {
        return Vec::new();
    }
    let (header, entry, count) = (u32_at(head, 0) as u64, u32_at(head, 4) as u64, u32_at(head, 8) as u64);
    if header < 12 || entry < 24 {
        r.warn(format!(
            "UnloadedModuleList stream: header {} / entry {} bytes, too small",
            header, entry
        ));
        return Vec::new();
    }
    let limit = r.limits.max_modules;
    let list = r.list(s, "UnloadedModuleList", header, count, entry, limit);
    let mut out = Vec::new();
    for (i, m) in list.chunks_exact(entry as usize).enumerate() {
        let code_file = r
            .utf16(u32_at(m, 20) as u64, &format!("unloaded module {}", i))
            .unwrap_or_default();
        out.push(UnloadedModule {
            base: u64_at(m, 0),
            size: u32_at(m, 8),
            checksum: u32_at(m, 12),
            timestamp: u32_at(m, 16),
            code_file,
        });
    }
    out
}

/// A memory descriptor's range, cut to the file (with a warning) or dropped.
fn memory_range<'a, R: ReadRef<'a>>(
    r: &mut Reader<'a, R>,
    base: u64,
    size: u64,
    offset: u64,
    what: &str,
) -> Option<MemoryRange> {
    if size == 0 {
        return None;
    }
    if base.checked_add(size).is_none() {
        r.warn(format!(
            "{}: range {:#x}+{:#x} wraps around the address space",
            what, base, size
        ));
        return None;
    }
    let avail = r.size.saturating_sub(offset);
    if avail == 0 {
        r.warn(format!(
            "{}: memory at {:#x} is outside the file (offset {:#x})",
            what, base, offset
        ));
        return None;
    }
    if size > avail {
        r.warn(format!(
            "{}: memory at {:#x} cut from {} to {} bytes (end of file)",
            what, base, size, avail
        ));
    }
    Some(MemoryRange {
        base,
        size: size.min(avail),
        file_offset: offset,
    })
}

fn memory_list<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, s: &StreamInfo, out: &mut Vec<MemoryRange>) {
    let head = r.stream(
        &StreamInfo {
            size: s.size.min(4),
            ..s.clone()
        },
        "MemoryList",
    );
    if head.len() < 4 {
        return;
    }
    let count = u32_at(head, 0) as u64;
    let limit = r.limits.max_memory_ranges;
    let list = r.list(s, "MemoryList", 4, count, 16, limit);
    for d in list.chunks_exact(16) {
        if let Some(m) = memory_range(r, u64_at(d, 0), u32_at(d, 8) as u64, u32_at(d, 12) as u64, "MemoryList") {
            out.push(m);
        }
    }
}

fn memory64_list<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, s: &StreamInfo, out: &mut Vec<MemoryRange>) {
    let head = r.stream(
        &StreamInfo {
            size: s.size.min(16),
            ..s.clone()
        },
        "Memory64List",
    );
    if head.len() < 16 {
        return;
    }
    let (count, mut rva) = (u64_at(head, 0), u64_at(head, 8));
    let limit = r.limits.max_memory_ranges.saturating_sub(out.len() as u32);
    let list = r.list(s, "Memory64List", 16, count, 16, limit);
    for d in list.chunks_exact(16) {
        let (base, size) = (u64_at(d, 0), u64_at(d, 8));
        // The data of all ranges follows `BaseRva` back to back.
        if let Some(m) = memory_range(r, base, size, rva, "Memory64List") {
            out.push(m);
        }
        rva = match rva.checked_add(size) {
            Some(x) => x,
            None => {
                r.warn("Memory64List stream: range sizes overflow".to_string());
                break;
            }
        };
    }
}

/// Sorted by address; a range overlapping one before it is dropped (its bytes would
/// contradict the other's).
fn without_overlaps<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, mut ranges: Vec<MemoryRange>) -> Vec<MemoryRange> {
    ranges.sort_by_key(|m| (m.base, std::cmp::Reverse(m.size)));
    let mut out: Vec<MemoryRange> = Vec::with_capacity(ranges.len());
    for m in ranges {
        match out.last() {
            Some(p) if m.base < p.end() => {
                r.warn(format!(
                    "memory range {:#x}+{:#x} overlaps {:#x}+{:#x}: dropped",
                    m.base, m.size, p.base, p.size
                ));
            }
            _ => out.push(m),
        }
    }
    out
}

fn memory_info<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, s: &StreamInfo) -> Vec<MemoryInfo> {
    let head = r.stream(
        &StreamInfo {
            size: s.size.min(16),
            ..s.clone()
        },
        "MemoryInfoList",
    );
    if head.len() < 16 {
        return Vec::new();
    }
    let (header, entry, count) = (u32_at(head, 0) as u64, u32_at(head, 4) as u64, u64_at(head, 8));
    if header < 16 || entry < 48 {
        r.warn(format!(
            "MemoryInfoList stream: header {} / entry {} bytes, too small",
            header, entry
        ));
        return Vec::new();
    }
    let limit = r.limits.max_memory_ranges;
    let list = r.list(s, "MemoryInfoList", header, count, entry, limit);
    list.chunks_exact(entry as usize)
        .map(|e| MemoryInfo {
            base: u64_at(e, 0),
            allocation_base: u64_at(e, 8),
            allocation_protect: u32_at(e, 16),
            size: u64_at(e, 24),
            state: u32_at(e, 32),
            protect: u32_at(e, 36),
            kind: u32_at(e, 40),
        })
        .collect()
}

fn read_context<'a, R: ReadRef<'a>>(
    r: &mut Reader<'a, R>,
    size: u32,
    rva: u32,
    cpu: Option<Cpu>,
    what: &str,
) -> Option<Context> {
    if size == 0 {
        r.warn(format!("{}: no context", what));
        return None;
    }
    let b = r.bytes_upto(rva as u64, size as u64);
    if (b.len() as u64) < size as u64 {
        r.warn(format!("{}: context at {:#x} runs past the end of the file", what, rva));
    }
    match Context::parse(b, cpu) {
        Ok((ctx, notes)) => {
            for n in notes {
                r.warn(format!("{}: {}", what, n));
            }
            Some(ctx)
        }
        Err(e) => {
            r.warn(format!("{}: {}", what, e));
            None
        }
    }
}

fn threads<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, s: &StreamInfo, cpu: Option<Cpu>) -> Vec<Thread> {
    let head = r.stream(
        &StreamInfo {
            size: s.size.min(4),
            ..s.clone()
        },
        "ThreadList",
    );
    if head.len() < 4 {
        return Vec::new();
    }
    let count = u32_at(head, 0) as u64;
    let limit = r.limits.max_threads;
    let list = r.list(s, "ThreadList", 4, count, 48, limit);
    let mut out = Vec::with_capacity(list.len() / 48);
    for t in list.chunks_exact(48) {
        let id = u32_at(t, 0);
        let what = format!("thread {}", id);
        let stack = memory_range(r, u64_at(t, 24), u32_at(t, 32) as u64, u32_at(t, 36) as u64, &what);
        let context = read_context(r, u32_at(t, 40), u32_at(t, 44), cpu, &what);
        out.push(Thread {
            id,
            suspend_count: u32_at(t, 4),
            priority_class: u32_at(t, 8),
            priority: u32_at(t, 12),
            teb: u64_at(t, 16),
            stack,
            context,
            name: None,
        });
    }
    out
}

fn thread_names<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, s: &StreamInfo, threads: &mut [Thread]) {
    let head = r.stream(
        &StreamInfo {
            size: s.size.min(4),
            ..s.clone()
        },
        "ThreadNames",
    );
    if head.len() < 4 {
        return;
    }
    let count = u32_at(head, 0) as u64;
    let limit = r.limits.max_threads;
    let list = r.list(s, "ThreadNames", 4, count, 12, limit);
    let mut index: Vec<(u32, usize)> = threads.iter().enumerate().map(|(i, t)| (t.id, i)).collect();
    index.sort_unstable();
    for e in list.chunks_exact(12) {
        let (id, rva) = (u32_at(e, 0), u64_at(e, 4));
        let name = r.utf16(rva, &format!("name of thread {}", id));
        match index.binary_search_by_key(&id, |x| x.0) {
            Ok(i) => threads[index[i].1].name = name,
            Err(_) => r.warn(format!("ThreadNames stream: thread {} is not in the thread list", id)),
        }
    }
}

fn exception<'a, R: ReadRef<'a>>(
    r: &mut Reader<'a, R>,
    s: &StreamInfo,
    cpu: Option<Cpu>,
    os: &str,
) -> Option<Exception> {
    let b = r.stream(s, "Exception");
    if b.len() < 168 {
        r.warn(format!("Exception stream: {} bytes, 168 expected", b.len()));
        return None;
    }
    let thread_id = u32_at(b, 0);
    let (code, flags, record, address) = (u32_at(b, 8), u32_at(b, 12), u64_at(b, 16), u64_at(b, 24));
    let n = u32_at(b, 32);
    if n > 15 {
        r.warn(format!("Exception stream: {} parameters declared, at most 15", n));
    }
    let parameters: Vec<u64> = (0..n.min(15) as usize).map(|i| u64_at(b, 40 + 8 * i)).collect();
    let context = read_context(r, u32_at(b, 160), u32_at(b, 164), cpu, "exception");
    let reason = crash_reason(os, code, flags, &parameters);
    Some(Exception {
        thread_id,
        code,
        flags,
        record,
        address,
        parameters,
        context,
        reason,
    })
}

fn misc_info<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, s: &StreamInfo) -> Option<MiscInfo> {
    let b = r.stream(s, "MiscInfo");
    if b.len() < 24 {
        r.warn(format!("MiscInfo stream: {} bytes, at least 24 expected", b.len()));
        return None;
    }
    let size = u32_at(b, 0);
    // Only fields inside both the declared and the real size count.
    let have = (size as usize).min(b.len());
    let flags = u32_at(b, 4);
    let mut m = MiscInfo {
        size,
        flags,
        ..MiscInfo::default()
    };
    if flags & 0x1 != 0 {
        m.process_id = Some(u32_at(b, 8));
    }
    if flags & 0x2 != 0 {
        m.process_times = Some((u32_at(b, 12), u32_at(b, 16), u32_at(b, 20)));
    }
    if flags & 0x4 != 0 && have >= 44 {
        m.processor_mhz = Some((u32_at(b, 24), u32_at(b, 28), u32_at(b, 32)));
    }
    if flags & 0x100 != 0 && have >= 832 {
        let wide = |from: usize, units: usize| {
            let u: Vec<u16> = (0..units)
                .map(|i| u16_at(b, from + 2 * i))
                .take_while(|&c| c != 0)
                .collect();
            String::from_utf16_lossy(&u)
        };
        m.build_string = Some((wide(232, 260), wide(752, 40)));
    }
    Some(m)
}

fn assertion<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, s: &StreamInfo) -> Option<Assertion> {
    let b = r.stream(s, "AssertionInfo");
    if b.len() < 776 {
        r.warn(format!("AssertionInfo stream: {} bytes, 776 expected", b.len()));
        return None;
    }
    let wide = |from: usize| {
        let u: Vec<u16> = (0..128)
            .map(|i| u16_at(b, from + 2 * i))
            .take_while(|&c| c != 0)
            .collect();
        String::from_utf16_lossy(&u)
    };
    Some(Assertion {
        expression: wide(0),
        function: wide(256),
        file: wide(512),
        line: u32_at(b, 768),
        kind: u32_at(b, 772),
    })
}

fn text<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, s: &StreamInfo, name: &str) -> String {
    let max = r.limits.max_text;
    let b = r.stream(
        &StreamInfo {
            size: s.size.min(max),
            ..s.clone()
        },
        name,
    );
    if s.size > max {
        r.warn(format!(
            "{} stream: {} bytes, only the first {} read",
            name, s.size, max
        ));
    }
    String::from_utf8_lossy(b).into_owned()
}

fn parse_maps(text: &str, limit: usize) -> (Vec<MapEntry>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if out.len() >= limit {
            break;
        }
        let mut f = line.split_whitespace();
        let range = f.next().and_then(|r| r.split_once('-'));
        let parsed = (|| {
            let (a, b) = range?;
            let start = u64::from_str_radix(a, 16).ok()?;
            let end = u64::from_str_radix(b, 16).ok()?;
            let perms = f.next()?.to_string();
            let offset = u64::from_str_radix(f.next()?, 16).ok()?;
            let _dev = f.next()?;
            let inode = f.next()?.parse().ok()?;
            // The path is the rest of the line, spaces included.
            let path = f.collect::<Vec<_>>().join(" ");
            Some(MapEntry {
                start,
                end,
                perms,
                offset,
                inode,
                path,
            })
        })();
        match parsed {
            Some(e) => out.push(e),
            None => bad += 1,
        }
    }
    (out, bad)
}

fn linux_streams<'a, R: ReadRef<'a>>(
    r: &mut Reader<'a, R>,
    streams: &[StreamInfo],
    cpu: Option<Cpu>,
    out: &mut LinuxInfo,
) {
    for s in streams {
        match s.kind {
            stream::LINUX_MAPS if out.maps.is_empty() => {
                let t = text(r, s, "LinuxMaps");
                let (maps, bad) = parse_maps(&t, r.limits.max_memory_ranges as usize);
                if bad > 0 {
                    r.warn(format!("LinuxMaps stream: {} lines not understood", bad));
                }
                out.maps = maps;
            }
            stream::LINUX_CPU_INFO if out.cpu_info.is_none() => out.cpu_info = Some(text(r, s, "LinuxCpuInfo")),
            stream::LINUX_LSB_RELEASE if out.lsb_release.is_empty() => {
                let t = text(r, s, "LinuxLsbRelease");
                out.lsb_release = t
                    .lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
                    .collect();
            }
            stream::LINUX_AUXV if out.auxv.is_empty() => {
                let b = r.stream(
                    &StreamInfo {
                        size: s.size.min(r.limits.max_text),
                        ..s.clone()
                    },
                    "LinuxAuxv",
                );
                // Entries are two words of the crashed process's size.
                let word = if cpu.map(|c| c.is_32bit()).unwrap_or(false) {
                    4
                } else {
                    8
                };
                for e in b.chunks_exact(2 * word) {
                    let (k, v) = if word == 4 {
                        (u32_at(e, 0) as u64, u32_at(e, 4) as u64)
                    } else {
                        (u64_at(e, 0), u64_at(e, 8))
                    };
                    if k == 0 {
                        break;
                    }
                    out.auxv.push((k, v));
                }
            }
            _ => {}
        }
    }
}

/// A Crashpad `MINIDUMP_LOCATION_DESCRIPTOR` at `at` in `b`: (size, rva).
fn location(b: &[u8], at: usize) -> (u64, u64) {
    (u32_at(b, at) as u64, u32_at(b, at + 4) as u64)
}

fn crashpad_uuid(b: &[u8]) -> String {
    guid_string(b)
}

/// A `MinidumpSimpleStringDictionary`.
fn dictionary<'a, R: ReadRef<'a>>(
    r: &mut Reader<'a, R>,
    (size, rva): (u64, u64),
    budget: &mut u32,
    what: &str,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let list = crashpad_list(r, (size, rva), 8, *budget, what);
    for e in list.chunks_exact(8) {
        // Counted whether readable or not: the budget bounds the work, not the output.
        *budget = budget.saturating_sub(1);
        let k = r.utf8(u32_at(e, 0) as u64, what);
        let v = r.utf8(u32_at(e, 4) as u64, what);
        if let (Some(k), Some(v)) = (k, v) {
            out.push((k, v));
        }
    }
    out
}

fn crashpad_info<'a, R: ReadRef<'a>>(r: &mut Reader<'a, R>, s: &StreamInfo) -> Option<CrashpadInfo> {
    let b = r.stream(s, "CrashpadInfo");
    if b.len() < 52 {
        r.warn(format!("CrashpadInfo stream: {} bytes, at least 52 expected", b.len()));
        return None;
    }
    let mut budget = r.limits.max_annotations;
    let mut info = CrashpadInfo {
        version: u32_at(b, 0),
        report_id: crashpad_uuid(&b[4..20]),
        client_id: crashpad_uuid(&b[20..36]),
        ..CrashpadInfo::default()
    };
    info.simple_annotations = dictionary(r, location(b, 36), &mut budget, "Crashpad simple annotations");
    let (size, rva) = location(b, 44);
    if size >= 4 {
        let head = r.bytes_upto(rva, 4);
        if head.len() == 4 {
            let count = u32_at(head, 0) as u64;
            let list_stream = StreamInfo {
                kind: 0,
                offset: rva as u32,
                size: size as u32,
            };
            let limit = r.limits.max_modules;
            let links = r.list(&list_stream, "Crashpad module list", 4, count, 12, limit);
            for l in links.chunks_exact(12) {
                let index = u32_at(l, 0);
                let (msize, mrva) = location(l, 4);
                let m = r.bytes_upto(mrva, msize.min(28));
                if m.len() < 28 {
                    r.warn(format!(
                        "Crashpad info of module {}: {} bytes, 28 expected",
                        index,
                        m.len()
                    ));
                    continue;
                }
                let what = format!("Crashpad annotations of module {}", index);
                let mut mi = ModuleCrashpadInfo {
                    module_index: index,
                    ..ModuleCrashpadInfo::default()
                };
                mi.list_annotations = string_list(r, location(m, 4), &mut budget, &what);
                mi.simple_annotations = dictionary(r, location(m, 12), &mut budget, &what);
                mi.annotation_objects = annotation_objects(r, location(m, 20), &mut budget, &what);
                info.modules.push(mi);
            }
        } else {
            r.warn("Crashpad module list: outside the file".to_string());
        }
    }
    Some(info)
}

/// The `entry`-byte entries of a Crashpad list at `rva` (a `u32` count, then the entries),
/// at most `limit` of them; none when `size` cannot hold the count or it is outside the file.
fn crashpad_list<'a, R: ReadRef<'a>>(
    r: &mut Reader<'a, R>,
    (size, rva): (u64, u64),
    entry: u64,
    limit: u32,
    what: &str,
) -> &'a [u8] {
    if size < 4 {
        return &[];
    }
    let head = r.bytes_upto(rva, 4);
    if head.len() < 4 {
        r.warn(format!("{}: outside the file", what));
        return &[];
    }
    let s = StreamInfo {
        kind: 0,
        offset: rva as u32,
        size: size as u32,
    };
    r.list(&s, what, 4, u32_at(head, 0) as u64, entry, limit)
}

/// A `MinidumpRVAList` of UTF-8 strings.
fn string_list<'a, R: ReadRef<'a>>(
    r: &mut Reader<'a, R>,
    (size, rva): (u64, u64),
    budget: &mut u32,
    what: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let list = crashpad_list(r, (size, rva), 4, *budget, what);
    for e in list.chunks_exact(4) {
        *budget = budget.saturating_sub(1);
        if let Some(v) = r.utf8(u32_at(e, 0) as u64, what) {
            out.push(v);
        }
    }
    out
}

/// A `MinidumpAnnotationList`.
fn annotation_objects<'a, R: ReadRef<'a>>(
    r: &mut Reader<'a, R>,
    (size, rva): (u64, u64),
    budget: &mut u32,
    what: &str,
) -> Vec<Annotation> {
    let mut out = Vec::new();
    let list = crashpad_list(r, (size, rva), 12, *budget, what);
    for e in list.chunks_exact(12) {
        let name = r.utf8(u32_at(e, 0) as u64, what);
        let kind = u16_at(e, 4);
        // The value is a `MinidumpByteArray`: the same layout as a UTF-8 string.
        let value = r.counted(u32_at(e, 8) as u64, what);
        *budget = budget.saturating_sub(1);
        if let (Some(name), Some(value)) = (name, value) {
            let value = if kind == 1 {
                String::from_utf8_lossy(value).into_owned()
            } else {
                hex(value)
            };
            out.push(Annotation { name, kind, value });
        }
    }
    out
}
