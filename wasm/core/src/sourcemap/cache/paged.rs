//! Where a cache's bytes come from: a slice in memory, or a file read by ranges through a
//! bounded page cache ([`Paged`]), so that opening a cache costs its header whatever its
//! size, and a lookup reads the few pages it touches.

use crate::error::{Error, ErrorKind, Result};
use crate::io::ReadAt;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// The bytes of a cache.
pub trait Bytes {
    /// Size in bytes.
    fn size(&self) -> u64;
    /// The little-endian u32 at `off` (a multiple of 4, `off + 4 <= size`).
    fn word(&self, off: u64) -> Result<u32>;
    /// `len` bytes at `off` (`off + len <= size`).
    fn bytes(&self, off: u64, len: u64) -> Result<Cow<'_, [u8]>>;
}

impl Bytes for &[u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    #[inline]
    fn word(&self, off: u64) -> Result<u32> {
        let o = off as usize;
        match self.get(o..o.wrapping_add(4)) {
            Some(b) => Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            None => Err(outside(off, 4)),
        }
    }

    fn bytes(&self, off: u64, len: u64) -> Result<Cow<'_, [u8]>> {
        match off.checked_add(len) {
            Some(end) if end <= self.len() as u64 => Ok(Cow::Borrowed(&self[off as usize..end as usize])),
            _ => Err(outside(off, len)),
        }
    }
}

fn outside(off: u64, len: u64) -> Error {
    Error::new(
        ErrorKind::InvalidSymCache,
        format!("not a valid source map cache: {len} bytes at {off} lie outside it"),
    )
}

/// Bytes per page (a multiple of 4: a word never straddles two pages).
pub const PAGE: u64 = 16 * 1024;
/// Pages kept per cache (the least recently used goes first): at most 1 MiB.
pub const MAX_PAGES: usize = 64;

struct Pages {
    /// page number -> slot
    index: HashMap<u64, usize>,
    /// (page number, last use, bytes)
    slots: Vec<(u64, u64, Box<[u8]>)>,
    tick: u64,
    /// the slot of the last page used (most lookups read the same page again)
    last: usize,
}

/// A file read by pages through `R`, at most [`MAX_PAGES`] kept. A failed read is an
/// `InvalidSymCache` error of the call that made it, and its reader's error is kept for
/// [`take_failure`](Paged::take_failure) (in the module: the host's status).
pub struct Paged<R: ReadAt> {
    reader: R,
    size: u64,
    pages: RefCell<Pages>,
    failed: Cell<Option<R::Error>>,
}

impl<R: ReadAt> Paged<R> {
    /// Wraps `reader`; nothing is read yet.
    pub fn new(reader: R) -> Self {
        let size = reader.size();
        Paged {
            reader,
            size,
            pages: RefCell::new(Pages {
                index: HashMap::new(),
                slots: Vec::new(),
                tick: 0,
                last: usize::MAX,
            }),
            failed: Cell::new(None),
        }
    }

    /// The reader's error of the first failed read since the last call, if any.
    pub fn take_failure(&self) -> Option<R::Error> {
        self.failed.take()
    }

    /// Pages held now (tests, benchmarks).
    pub fn pages_held(&self) -> usize {
        self.pages.borrow().slots.len()
    }

    /// Reads exactly `dst.len()` bytes at `off`.
    fn fill(&self, off: u64, dst: &mut [u8]) -> Result<()> {
        let mut done = 0;
        while done < dst.len() {
            match self.reader.read_at(off + done as u64, &mut dst[done..]) {
                Ok(0) => {
                    return Err(Error::new(
                        ErrorKind::InvalidSymCache,
                        format!(
                            "the source map cache ended at byte {} of {}",
                            off + done as u64,
                            self.size
                        ),
                    ))
                }
                Ok(n) => done += n,
                Err(e) => {
                    let first = self.failed.take().unwrap_or(e);
                    self.failed.set(Some(first));
                    return Err(Error::new(
                        ErrorKind::InvalidSymCache,
                        format!("the source map cache could not be read at byte {}", off + done as u64),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Runs `f` on page `no` (read if not held).
    fn with_page<T>(&self, no: u64, f: impl FnOnce(&[u8]) -> T) -> Result<T> {
        let mut p = self.pages.borrow_mut();
        p.tick += 1;
        let tick = p.tick;
        let last = p.last;
        if let Some(s) = p.slots.get_mut(last) {
            if s.0 == no {
                s.1 = tick;
                return Ok(f(&s.2));
            }
        }
        let slot = match p.index.get(&no) {
            Some(&slot) => slot,
            None => {
                let start = no * PAGE;
                let len = PAGE.min(self.size.saturating_sub(start)) as usize;
                let slot = if p.slots.len() < MAX_PAGES {
                    p.slots.push((no, 0, vec![0; len].into_boxed_slice()));
                    p.slots.len() - 1
                } else {
                    let slot = p
                        .slots
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, s)| s.1)
                        .map_or(0, |(i, _)| i);
                    let old = p.slots[slot].0;
                    p.index.remove(&old);
                    if p.slots[slot].2.len() != len {
                        p.slots[slot].2 = vec![0; len].into_boxed_slice();
                    }
                    p.slots[slot].0 = no;
                    slot
                };
                if let Err(e) = self.fill(start, &mut p.slots[slot].2) {
                    // the slot holds no page now
                    p.slots.swap_remove(slot);
                    if slot < p.slots.len() {
                        let moved = p.slots[slot].0;
                        p.index.insert(moved, slot);
                    }
                    p.last = usize::MAX;
                    return Err(e);
                }
                p.index.insert(no, slot);
                slot
            }
        };
        p.last = slot;
        p.slots[slot].1 = tick;
        Ok(f(&p.slots[slot].2))
    }
}

impl<R: ReadAt> Bytes for Paged<R> {
    fn size(&self) -> u64 {
        self.size
    }

    fn word(&self, off: u64) -> Result<u32> {
        if off % 4 != 0 || off.checked_add(4).map_or(true, |end| end > self.size) {
            return Err(outside(off, 4));
        }
        let at = (off % PAGE) as usize;
        self.with_page(off / PAGE, |p| {
            u32::from_le_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]])
        })
    }

    fn bytes(&self, off: u64, len: u64) -> Result<Cow<'_, [u8]>> {
        let end = match off.checked_add(len) {
            Some(end) if end <= self.size => end,
            _ => return Err(outside(off, len)),
        };
        if len > PAGE {
            // long strings (sourcesContent) go around the pages, which they would flush
            let mut out = vec![0; len as usize];
            self.fill(off, &mut out)?;
            return Ok(Cow::Owned(out));
        }
        let mut out = Vec::with_capacity(len as usize);
        let mut at = off;
        while at < end {
            let no = at / PAGE;
            let (a, b) = (
                (at - no * PAGE) as usize,
                (end.min((no + 1) * PAGE) - no * PAGE) as usize,
            );
            self.with_page(no, |p| out.extend_from_slice(&p[a..b]))?;
            at = (no * PAGE) + b as u64;
        }
        Ok(Cow::Owned(out))
    }
}

/// A batch's view of a paged cache: its first bytes (the lookup sections, see
/// [`SourceMapCache::lookup_end`](super::SourceMapCache::lookup_end)) read at once, the
/// rest through the pages. A large batch touches most pages of those sections anyway:
/// one read of them costs less than a page table lookup per word and a host read per page.
pub struct Prefetched<'a, R: ReadAt> {
    head: Vec<u8>,
    rest: &'a Paged<R>,
}

impl<'a, R: ReadAt> Prefetched<'a, R> {
    /// Reads the first `len` bytes of `rest` (at most its size); `Ok(None)` if they cannot
    /// be allocated (the caller goes on by pages).
    pub fn new(rest: &'a Paged<R>, len: u64) -> Result<Option<Self>> {
        let len = len.min(rest.size);
        let mut head = Vec::new();
        if usize::try_from(len).map_or(true, |n| head.try_reserve_exact(n).is_err()) {
            return Ok(None);
        }
        head.resize(len as usize, 0);
        rest.fill(0, &mut head)?;
        Ok(Some(Prefetched { head, rest }))
    }
}

impl<R: ReadAt> Bytes for Prefetched<'_, R> {
    fn size(&self) -> u64 {
        self.rest.size
    }

    #[inline]
    fn word(&self, off: u64) -> Result<u32> {
        let o = off as usize;
        match self.head.get(o..o.wrapping_add(4)) {
            Some(b) if off < self.head.len() as u64 => Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => self.rest.word(off),
        }
    }

    fn bytes(&self, off: u64, len: u64) -> Result<Cow<'_, [u8]>> {
        match off.checked_add(len) {
            Some(end) if end <= self.head.len() as u64 => Ok(Cow::Borrowed(&self.head[off as usize..end as usize])),
            _ => self.rest.bytes(off, len),
        }
    }
}
