//! The core's error type: a kind (mapped to an ABI status by the shim) and a message.

use std::fmt;

/// What class of problem an [`Error`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is not well-formed JSON, or not valid UTF-8.
    InvalidJson,
    /// A source map field is missing, of the wrong type, or out of range.
    InvalidSourceMap,
    /// The `mappings` string is malformed.
    InvalidMappings,
    /// An index map's `sections` are malformed, unsorted or overlapping.
    InvalidIndexMap,
    /// The debug file is malformed (bad headers, bad DWARF).
    InvalidObject,
    /// The file is not an object format pysym reads (or lacks the requested slice).
    UnsupportedObject,
    /// The bytes are not a valid symcache (bad magic, version, truncated, corrupt).
    InvalidSymCache,
    /// The input exceeds a format limit (nesting depth, size, count).
    LimitExceeded,
}

/// An error with a human-readable message that names the offending part of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// Creates an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// The class of the error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand for results carrying [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
