//! pysym's core: parsers and lookups for source maps and native debug files (ELF, Mach-O, DWARF) with the symcache format.
//!
//! Pure safe Rust with no I/O: it builds and tests natively, and the `pysym-abi` crate
//! wraps it for the wasm host ABI. Two exceptions to "safe": `sourcemap::utf8` turns
//! bytes it validated into a `&str` without std validating them a second time, and
//! `sourcemap::vlq` keeps the token columns it wrote into their spare capacity with one
//! `set_len` (zeroing them first was ~5% of a large map's parse). (Two tests,
//! `native::dwarf::units` and `native::tests`, write over pages a build gave up, as a
//! host may.)
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod decompress;
pub mod error;
pub mod hash;
pub mod inflate;
pub mod io;
pub mod js;
pub mod minidump;
pub mod native;
pub mod sourcemap;
pub mod symcache;
#[cfg(test)]
mod test_rng;
pub mod unwind;
pub mod zstd;

pub use error::{Error, ErrorKind};
