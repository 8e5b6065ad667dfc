//! Files read by ranges through a bounded window, for the formats read front to back
//! (Breakpad text) or section by section (WebAssembly). What a window held is dropped when
//! the next one is read, so peak memory does not grow with the file (an `object::ReadCache`
//! keeps every range it was asked for).

use super::invalid;
use crate::error::{Error, ErrorKind, Result};
use std::borrow::Cow;
use std::io::{Read, Seek, SeekFrom};

/// Bytes read at a time when streaming (one host read per chunk).
pub const CHUNK: usize = 1 << 20;

/// Longest line of a text file (a window grows to hold one line, up to this).
pub const MAX_LINE: usize = 16 << 20;

/// A file read by ranges.
pub trait Source<'a> {
    /// The file's size.
    fn size(&self) -> u64;
    /// How many bytes a window reads when the file is read front to back.
    fn chunk(&self) -> usize;
    /// The window held now: where it starts in the file, and its bytes.
    fn held(&self) -> (u64, &[u8]);
    /// Replaces the held window with the `n` bytes at `offset` (in the file).
    fn refill(&mut self, offset: u64, n: usize) -> Result<()>;
    /// The `len` bytes at `offset` (fewer at the end of the file), valid until the next call.
    /// `ahead`: the file is being read front to back, so read a whole chunk when reading on
    /// from the current window.
    fn window(&mut self, offset: u64, len: usize, ahead: bool) -> Result<&[u8]> {
        let size = self.size();
        if offset >= size {
            return Ok(&[]);
        }
        let len = (len as u64).min(size - offset) as usize;
        let (start, held) = self.held();
        if !(offset >= start && offset + len as u64 <= start + held.len() as u64) {
            let n = fill_len(offset, len, ahead, start, held.len(), self.chunk(), size);
            self.refill(offset, n)?;
        }
        let (start, held) = self.held();
        let from = (offset - start) as usize;
        Ok(&held[from..from + len])
    }
    /// The `len` bytes at `offset`, for the caller to keep (borrowed where the file is in
    /// memory, else read into a new buffer).
    fn keep(&mut self, offset: u64, len: u64) -> Result<Cow<'a, [u8]>>;
    /// Fills `dst` with the bytes at `offset` (an error where the file ends first). A reader
    /// reads straight into `dst`, not through the window.
    fn read_into(&mut self, offset: u64, dst: &mut [u8]) -> Result<()> {
        let got = self.window(offset, dst.len(), false)?;
        if got.len() < dst.len() {
            return Err(truncated());
        }
        dst.copy_from_slice(got);
        Ok(())
    }
}

fn truncated() -> Error {
    invalid("cannot read the file (shorter than its size)")
}

/// How much to read for a window at `offset` not in the current one at `start..start+held`:
/// a whole chunk when reading on from the current window (front to back), else just the
/// bytes asked for (a jump, e.g. to a FUNC block out of address order, or a header).
fn fill_len(offset: u64, len: usize, ahead: bool, start: u64, held: usize, chunk: usize, size: u64) -> usize {
    let onward = ahead && (held == 0 || (offset >= start && offset <= start + held as u64));
    let n = if onward { len.max(chunk) } else { len };
    (n as u64).min(size - offset) as usize
}

/// A [`Source`] over a [`ReadRef`](object::ReadRef): windows are borrowed, a chunk at a time.
pub struct RefSource<'a, R> {
    data: R,
    size: u64,
    chunk: usize,
    start: u64,
    held: &'a [u8],
}

impl<'a, R: object::ReadRef<'a>> RefSource<'a, R> {
    /// Reads `data` in windows of [`CHUNK`] bytes.
    pub fn new(data: R) -> Result<Self> {
        Self::with_chunk(data, CHUNK)
    }

    /// Reads `data` in windows of `chunk` bytes (tests use tiny ones).
    pub fn with_chunk(data: R, chunk: usize) -> Result<Self> {
        let size = data.len().map_err(|_| invalid("cannot read the file"))?;
        Ok(RefSource {
            data,
            size,
            chunk: chunk.max(1),
            start: 0,
            held: &[],
        })
    }
}

impl<'a, R: object::ReadRef<'a>> Source<'a> for RefSource<'a, R> {
    fn size(&self) -> u64 {
        self.size
    }

    fn chunk(&self) -> usize {
        self.chunk
    }

    fn held(&self) -> (u64, &[u8]) {
        (self.start, self.held)
    }

    fn refill(&mut self, offset: u64, n: usize) -> Result<()> {
        self.held = self.data.read_bytes_at(offset, n as u64).map_err(|_| truncated())?;
        self.start = offset;
        Ok(())
    }

    fn keep(&mut self, offset: u64, len: u64) -> Result<Cow<'a, [u8]>> {
        self.data
            .read_bytes_at(offset, len)
            .map(Cow::Borrowed)
            .map_err(|_| truncated())
    }
}

/// A [`Source`] over a seekable reader (the wasm shim's host file): one buffer, reused.
pub struct IoSource<F> {
    file: F,
    size: u64,
    chunk: usize,
    start: u64,
    buf: Vec<u8>,
}

fn read_err(e: std::io::Error) -> Error {
    invalid(format!("cannot read the file: {}", e))
}

impl<F: Read + Seek> IoSource<F> {
    /// Reads `file` in windows of [`CHUNK`] bytes.
    pub fn new(file: F) -> Result<Self> {
        Self::with_chunk(file, CHUNK)
    }

    /// Reads `file` in windows of `chunk` bytes (tests use tiny ones).
    pub fn with_chunk(mut file: F, chunk: usize) -> Result<Self> {
        let size = file.seek(SeekFrom::End(0)).map_err(read_err)?;
        Ok(IoSource {
            file,
            size,
            chunk: chunk.max(1),
            start: 0,
            buf: Vec::new(),
        })
    }

    fn read_exact_at(file: &mut F, offset: u64, dst: &mut [u8]) -> Result<()> {
        file.seek(SeekFrom::Start(offset)).map_err(read_err)?;
        let mut done = 0;
        while done < dst.len() {
            match file.read(&mut dst[done..]).map_err(read_err)? {
                0 => return Err(truncated()),
                n => done += n,
            }
        }
        Ok(())
    }
}

impl<'a, F: Read + Seek> Source<'a> for IoSource<F> {
    fn size(&self) -> u64 {
        self.size
    }

    fn chunk(&self) -> usize {
        self.chunk
    }

    fn held(&self) -> (u64, &[u8]) {
        (self.start, &self.buf)
    }

    fn refill(&mut self, offset: u64, n: usize) -> Result<()> {
        self.buf.clear();
        self.buf.resize(n, 0);
        let r = Self::read_exact_at(&mut self.file, offset, &mut self.buf);
        if r.is_err() {
            self.buf.clear();
        }
        r?;
        self.start = offset;
        Ok(())
    }

    fn keep(&mut self, offset: u64, len: u64) -> Result<Cow<'a, [u8]>> {
        // Checked before allocating: `len` comes from the file.
        match offset.checked_add(len) {
            Some(end) if end <= self.size => {}
            _ => return Err(truncated()),
        }
        let mut out = vec![0u8; len as usize];
        Self::read_exact_at(&mut self.file, offset, &mut out)?;
        Ok(Cow::Owned(out))
    }

    fn read_into(&mut self, offset: u64, dst: &mut [u8]) -> Result<()> {
        match offset.checked_add(dst.len() as u64) {
            Some(end) if end <= self.size => Self::read_exact_at(&mut self.file, offset, dst),
            _ => Err(truncated()),
        }
    }
}

/// Calls `f(offset, line)` for each line in `start..end` (without its `\n`; the last one
/// may lack it), reading a chunk at a time: a line cut by the end of a window is read
/// again at the start of the next. `f` returns `false` to stop.
pub fn for_each_line<'a, S: Source<'a>>(
    src: &mut S,
    start: u64,
    end: u64,
    mut f: impl FnMut(u64, &[u8]) -> Result<bool>,
) -> Result<()> {
    let end = end.min(src.size());
    let chunk = src.chunk();
    let mut pos = start;
    let mut want = chunk;
    while pos < end {
        let len = (end - pos).min(want as u64) as usize;
        let w = src.window(pos, len, true)?;
        if w.len() < len {
            return Err(truncated());
        }
        let cut = if pos + len as u64 == end {
            len
        } else {
            match w.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None if want >= MAX_LINE => {
                    return Err(Error::new(
                        ErrorKind::LimitExceeded,
                        format!("a line at offset {} is longer than {} bytes", pos, MAX_LINE),
                    ));
                }
                None => {
                    want = want.saturating_mul(2).min(MAX_LINE);
                    continue;
                }
            }
        };
        let mut at = 0;
        while at < cut {
            let (line, next) = match w[at..cut].iter().position(|&b| b == b'\n') {
                Some(i) => (&w[at..at + i], at + i + 1),
                None => (&w[at..cut], cut),
            };
            if !f(pos + at as u64, line)? {
                return Ok(());
            }
            at = next;
        }
        pos += cut as u64;
        want = chunk;
    }
    Ok(())
}
