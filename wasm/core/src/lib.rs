//! pysym's core: parsers and lookups for source maps and native debug files (ELF, Mach-O, DWARF) with the symcache format.
//!
//! Pure safe Rust with no I/O: it builds and tests natively, and the `pysym-abi` crate
//! wraps it for the wasm host ABI. One exception to "safe": `sourcemap::utf8` turns
//! bytes it validated into a `&str` without std validating them a second time.
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
pub mod unwind;
pub mod zstd;

pub use error::{Error, ErrorKind};
