//! Files read by ranges: the reader a host gives ([`ReadAt`]: in the wasm module, the
//! host's file table), and the two ways the parsers read it: a `Read + Seek` [`Cursor`]
//! (streamed formats, DWARF sections read once) and a [`Cached`] view keeping the ranges
//! it was asked for (`object::ReadRef`, for headers, symbols and strings).
//!
//! A failed read is remembered by the [`File`] ([`File::check`]): the parsers see it only
//! as missing bytes, so without it a host's "read later" (the browser's `NEED_DATA`) would
//! come back as a malformed file, or as an answer with parts missing.

use crate::error::{Error, ErrorKind};
use std::cell::Cell;
use std::io::{Read, Seek, SeekFrom};

/// A file that can be read at any offset.
pub trait ReadAt {
    /// Why a read failed (in the wasm module: the host's status).
    type Error;
    /// The file's size in bytes.
    fn size(&self) -> u64;
    /// Reads up to `dst.len()` bytes at `offset` (below [`size`](Self::size)) into `dst`:
    /// how many, at least one unless `dst` is empty.
    fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<usize, Self::Error>;
}

impl ReadAt for [u8] {
    type Error = std::convert::Infallible;

    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<usize, Self::Error> {
        let at = (offset.min(self.len() as u64)) as usize;
        let n = dst.len().min(self.len() - at);
        dst[..n].copy_from_slice(&self[at..at + n]);
        Ok(n)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    type Error = T::Error;

    fn size(&self) -> u64 {
        (**self).size()
    }

    fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<usize, Self::Error> {
        (**self).read_at(offset, dst)
    }
}

/// Why reading a file failed.
#[derive(Debug, PartialEq, Eq)]
pub enum FileError<E, O = std::convert::Infallible> {
    /// A read failed: the reader's error, and what the parser said about the bytes it
    /// did not get.
    Read(E, Error),
    /// The file is malformed or not a format pysym reads.
    Format(Error),
    /// The output refused the result (a symcache build's [`Output`](crate::symcache::Output)).
    Output(O),
}

/// A reader together with the first failure of any read made through it.
pub struct File<R: ReadAt> {
    reader: R,
    size: u64,
    failed: Cell<Option<R::Error>>,
}

impl<R: ReadAt> File<R> {
    /// Wraps `reader`.
    pub fn new(reader: R) -> Self {
        let size = reader.size();
        File {
            reader,
            size,
            failed: Cell::new(None),
        }
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The reader.
    pub fn reader(&self) -> &R {
        &self.reader
    }

    /// A `Read + Seek` over the file, at its start; nothing read is kept.
    pub fn cursor(&self) -> Cursor<'_, R> {
        Cursor { file: self, pos: 0 }
    }

    /// A view that keeps every range read through it until it is dropped.
    pub fn cached(&self) -> Cached<'_, R> {
        Cached {
            cache: object::ReadCache::new(self.cursor()),
            size: self.size,
        }
    }

    /// `result`, unless a read failed since the last check: then that read's error (what
    /// was made of the file without the missing bytes is not an answer).
    pub fn check<T, O>(&self, result: Result<T, Error>) -> Result<T, FileError<R::Error, O>> {
        match (self.failed.take(), result) {
            (Some(e), Err(why)) => Err(FileError::Read(e, why)),
            (Some(e), Ok(_)) => Err(FileError::Read(
                e,
                Error::new(ErrorKind::InvalidObject, "the file could not be read in full"),
            )),
            (None, Err(why)) => Err(FileError::Format(why)),
            (None, Ok(v)) => Ok(v),
        }
    }

    fn read_at(&self, offset: u64, dst: &mut [u8]) -> std::io::Result<usize> {
        if offset >= self.size || dst.is_empty() {
            return Ok(0);
        }
        match self.reader.read_at(offset, dst) {
            Ok(n) => Ok(n),
            Err(e) => {
                // The first failure is the one to report; later ones follow from it.
                let first = self.failed.take().unwrap_or(e);
                self.failed.set(Some(first));
                Err(std::io::Error::new(std::io::ErrorKind::Other, "read failed"))
            }
        }
    }
}

/// A `Read + Seek` position in a [`File`].
pub struct Cursor<'f, R: ReadAt> {
    file: &'f File<R>,
    pos: u64,
}

impl<R: ReadAt> Read for Cursor<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

fn add_signed(base: u64, d: i64) -> Option<u64> {
    if d >= 0 {
        base.checked_add(d as u64)
    } else {
        base.checked_sub(d.unsigned_abs())
    }
}

impl<R: ReadAt> Seek for Cursor<'_, R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let new = match to {
            SeekFrom::Start(o) => Some(o),
            SeekFrom::End(d) => add_signed(self.file.size, d),
            SeekFrom::Current(d) => add_signed(self.pos, d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before start",
            )),
        }
    }
}

/// `object::ReadCache` with every range checked against the file size first. The cache
/// allocates the requested size before reading, so a size declared by the input (a fat
/// slice, a section) larger than the file must never reach it: that was a
/// capacity-overflow panic (a trap) or a multi-gigabyte allocation
/// (tests/test_bad_inputs.py, fat headers).
pub struct Cached<'f, R: ReadAt> {
    cache: object::ReadCache<Cursor<'f, R>>,
    size: u64,
}

/// Size (a power of two) of the aligned blocks strings are read in.
pub const STRING_BLOCK: u64 = 64 * 1024;
/// How far `ReadCache::read_bytes_at_until` looks for a string's end.
pub const STRING_MAX: u64 = 4096;

impl<'a, 'f, R: ReadAt> object::ReadRef<'a> for &'a Cached<'f, R> {
    fn len(self) -> Result<u64, ()> {
        Ok(self.size)
    }

    fn read_bytes_at(self, offset: u64, size: u64) -> Result<&'a [u8], ()> {
        match offset.checked_add(size) {
            Some(end) if end <= self.size => (&self.cache).read_bytes_at(offset, size),
            _ => Err(()),
        }
    }

    fn read_bytes_at_until(self, range: std::ops::Range<u64>, delimiter: u8) -> Result<&'a [u8], ()> {
        let end = range.end.min(self.size);
        if range.start > end {
            return Err(());
        }
        // Strings (symbol names: one call per symbol) are looked up in aligned blocks read
        // once, instead of one 256-byte host read (and cache entry) per string; a string
        // that runs past its block takes the cache's own path. Same answers: the delimiter
        // is searched in at most `STRING_MAX` bytes, as `ReadCache` does.
        let block_start = range.start & !(STRING_BLOCK - 1);
        let block_len = STRING_BLOCK.min(self.size - block_start);
        let limit = end.min(range.start + STRING_MAX);
        if limit > range.start {
            let block = (&self.cache).read_bytes_at(block_start, block_len)?;
            let from = (range.start - block_start) as usize;
            let to = (limit.min(block_start + block_len) - block_start) as usize;
            if let Some(n) = block[from..to].iter().position(|&b| b == delimiter) {
                return Ok(&block[from..from + n]);
            }
            if limit <= block_start + block_len {
                return Err(());
            }
        }
        (&self.cache).read_bytes_at_until(range.start..end, delimiter)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use object::ReadRef;
    use std::cell::RefCell;

    /// Bytes read at most `step` at a time, every read reaching past `fail_at` failing
    /// with -4 (the wasm host's NEED_DATA); the reads made are recorded.
    pub(crate) struct Flaky<'d> {
        pub data: &'d [u8],
        pub step: usize,
        pub fail_at: u64,
        pub reads: RefCell<Vec<(u64, usize)>>,
    }

    impl<'d> Flaky<'d> {
        pub fn new(data: &'d [u8]) -> Self {
            Flaky {
                data,
                step: usize::MAX,
                fail_at: u64::MAX,
                reads: RefCell::new(Vec::new()),
            }
        }

        pub fn with(data: &'d [u8], step: usize, fail_at: u64) -> Self {
            Flaky {
                step,
                fail_at,
                ..Flaky::new(data)
            }
        }

        /// The longest read made.
        pub fn largest(&self) -> usize {
            self.reads.borrow().iter().map(|r| r.1).max().unwrap_or(0)
        }
    }

    impl ReadAt for Flaky<'_> {
        type Error = i32;

        fn size(&self) -> u64 {
            self.data.len() as u64
        }

        fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<usize, i32> {
            let want = dst.len().min(self.step);
            if offset + want as u64 > self.fail_at {
                return Err(-4);
            }
            let n = ReadAt::read_at(self.data, offset, &mut dst[..want]).unwrap();
            self.reads.borrow_mut().push((offset, n));
            Ok(n)
        }
    }

    fn sample(n: usize) -> Vec<u8> {
        // Strings of varied lengths, some longer than STRING_MAX, across block boundaries.
        let mut out = Vec::with_capacity(n);
        let mut k = 1usize;
        while out.len() < n {
            let len = (k * 37) % 300 + if k % 50 == 0 { 5000 } else { 0 };
            out.extend((0..len).map(|i| b'a' + (i % 26) as u8));
            out.push(0);
            k += 1;
        }
        out.truncate(n);
        out
    }

    /// The cached view answers as the bytes themselves do, for ranges anywhere in a file
    /// several string blocks long, read through a reader that returns short reads.
    #[test]
    fn cached_view_reads_like_the_bytes() {
        let data = sample(3 * STRING_BLOCK as usize + 777);
        let mut reader = Flaky::new(&data);
        reader.step = 1000;
        let file = File::new(&reader);
        let view = file.cached();
        let size = data.len() as u64;
        let mut x = 12345u64;
        for _ in 0..2000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let at = (x >> 33) % (size + 10);
            let len = (x >> 13) % 9000;
            let want = (&data[..]).read_bytes_at(at, len);
            assert_eq!((&view).read_bytes_at(at, len), want, "{}+{}", at, len);
            let end = at.saturating_add((x >> 7) % 6000);
            let got = (&view).read_bytes_at_until(at..end, 0);
            // The bytes' own search has no length limit; the view's stops at STRING_MAX.
            match (&data[..]).read_bytes_at_until(at..end.min(size), 0) {
                Ok(s) if (s.len() as u64) < STRING_MAX => assert_eq!(got, Ok(s), "{}..{}", at, end),
                _ => assert_eq!(got, Err(()), "{}..{}", at, end),
            }
        }
        assert_eq!((&view).read_bytes_at(size - 1, 2), Err(()));
        assert_eq!((&view).read_bytes_at(u64::MAX, 2), Err(()));
        assert!(file.check::<_, ()>(Ok(())).is_ok());
    }

    /// A size the input declares beyond the file never reaches the cache (which would
    /// allocate it first).
    #[test]
    fn cached_view_refuses_ranges_past_the_end_without_reading() {
        let data = vec![7u8; 100];
        let reader = Flaky::new(&data);
        let file = File::new(&reader);
        let view = file.cached();
        assert_eq!((&view).read_bytes_at(10, 1 << 40), Err(()));
        assert!(reader.reads.borrow().is_empty());
    }

    /// A read failing part way: the parser's answer, right or wrong, gives way to the
    /// reader's error, once.
    #[test]
    fn a_failed_read_is_reported_once() {
        let data = sample(10_000);
        let mut reader = Flaky::new(&data);
        reader.fail_at = 5000;
        let file = File::new(&reader);
        let mut buf = vec![0u8; 6000];
        let mut cur = file.cursor();
        assert!(cur.read_exact(&mut buf).is_err());
        let r: Result<(), FileError<i32>> = file.check(Ok(()));
        assert!(matches!(r, Err(FileError::Read(-4, _))), "{:?}", r);
        assert_eq!(file.check::<_, ()>(Ok(3)), Ok(3));
        let e = Error::new(ErrorKind::InvalidObject, "bad");
        assert_eq!(file.check::<(), ()>(Err(e.clone())), Err(FileError::Format(e)));
    }
}
