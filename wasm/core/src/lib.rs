//! pysym's core: parsers and lookups for source maps (and, later, native debug files).
//!
//! Pure safe Rust with no I/O: it builds and tests natively, and the `pysym-abi` crate
//! wraps it for the wasm host ABI.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
pub mod sourcemap;

pub use error::{Error, ErrorKind};
