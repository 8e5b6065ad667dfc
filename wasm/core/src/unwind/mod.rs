//! Unwind information and the stack walker.
//!
//! - [`build`] reads DWARF CFI (`.eh_frame`, `.debug_frame`) from ELF and Mach-O files, Mach-O
//!   compact unwind ([`compact`], `__unwind_info`) and `STACK CFI` / `STACK WIN` records
//!   from Breakpad files into a CFI cache; [`pdata`] reads x86_64 PE images' `.pdata` /
//!   `.xdata` for it;
//! - [`CfiCache`] reads a built cache in place (FORMAT.md in this folder): rows sorted by
//!   address, binary searched, nothing decoded up front;
//! - [`walk`] recovers each thread's frames of a minidump: context, CFI, frame pointer,
//!   stack scan, in that order, within [`walk::WalkLimits`].
//!
//! Addresses in a cache are relative to the image base (as in symcaches): a module loaded
//! at `base` has its pc at `pc - base`.

pub mod build;
mod cache;
pub mod compact;
#[cfg(test)]
mod compact_tests;
mod pdata;
mod postfix;
#[cfg(test)]
mod tests;
pub mod walk;

pub use cache::{Arch, CfiBuilder, CfiCache, Found, Rule, WinRecord, CFA, RA};

use crate::error::{Error, ErrorKind};

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidObject, msg)
}
