//! The symcache: pysym's own compact, versioned binary format for native symbolication,
//! read without copying (every lookup is a binary search over the bytes as they are).
//!
//! The layout is documented in `FORMAT.md` next to this file; [`SymCacheWriter`] writes
//! it and [`SymCache`] reads it.

mod raw;
mod reader;
#[cfg(test)]
mod tests;
mod writer;

pub use reader::{Frame, Location, LocationsError, SymCache};
pub use writer::{Output, SymCacheBuild, SymCacheWriter, OUTPUT_CHUNK};

/// Marks an absent `u32` field (no file, no function, no caller, a gap).
pub const NONE: u32 = 0xFFFF_FFFF;

/// The eight bytes every symcache starts with.
pub const MAGIC: &[u8; 8] = b"PYSYMCCH";
/// The eight bytes every symcache ends with (a sentinel against truncation).
pub const END_MAGIC: &[u8; 8] = b"PYSYMEND";
/// The format version this module writes. It reads 1 to 3 as well (1 and 2: fixed 32-byte
/// locations and 64-bit range starts; version 1 caches are held to the same depth limit;
/// 3: every function's display name stored).
pub const VERSION: u32 = 4;

/// Most frames in one chain (an address inside this many nested inlined calls). Bounds
/// the work and memory of any lookup whatever the input; writers elide the middle frames
/// of deeper chains, readers refuse symcaches that break it.
pub const MAX_INLINE_DEPTH: usize = 256;

/// Header flag: the symcache was built from DWARF (or other line) information.
pub const FLAG_HAS_DEBUG_INFO: u32 = 1;
/// Header flag: the source object had a symbol table.
pub const FLAG_HAS_SYMBOLS: u32 = 2;

/// What the writer interns for one frame of a chain (outermost first).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FrameSpec {
    /// Index from [`SymCacheWriter::function`], or [`NONE`].
    pub function: u32,
    /// Index from [`SymCacheWriter::file`], or [`NONE`].
    pub file: u32,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
    /// Start address of the function (or inlined instance), relative to the image base.
    pub sym_addr: u64,
}

/// Object identity stored in the header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// `"elf"`, `"macho"`, `"breakpad"` or `"wasm"`.
    pub kind: String,
    /// Architecture name (`"x86_64"`, `"arm64"`, ...).
    pub arch: String,
    /// Debug identifier (`"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"`, plus `-age` if non-zero).
    pub debug_id: String,
    /// Code identifier (ELF build ID as hex), empty when unknown.
    pub code_id: String,
    /// The image base addresses are relative to.
    pub image_base: u64,
    /// [`FLAG_HAS_DEBUG_INFO`] | [`FLAG_HAS_SYMBOLS`].
    pub flags: u32,
}
