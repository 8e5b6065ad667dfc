//! The MSF 7.0 container of a PDB: a superblock, a block map naming the blocks of the
//! stream directory, and the directory naming each stream's size and blocks. Streams are
//! read through ranged reads, one run of consecutive blocks at a time; nothing else of the
//! file is held.

use super::super::source::Source;
use super::super::{invalid, MAX_SECTION_SIZE};
use crate::error::{Error, ErrorKind, Result};

/// The first 32 bytes of an MSF 7.0 file.
pub const MAGIC: &[u8; 32] = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0";

/// A directory larger than this is refused (a 4 GB PDB with 4 KB blocks needs 4 MB).
const MAX_DIRECTORY: u64 = 64 << 20;

/// Bytes of consecutive blocks read at once (one host read, straight into the stream's
/// buffer).
const RUN_MAX: u64 = 1 << 20;

/// Size the directory gives a stream that does not exist.
const NIL: u32 = 0xffff_ffff;

/// The stream directory of an open MSF file.
pub struct Msf<'s, S> {
    pub(crate) src: &'s mut S,
    block_size: u64,
    sizes: Vec<u32>,
    /// Index into `blocks` of each stream's first block.
    starts: Vec<usize>,
    blocks: Vec<u32>,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let w = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

impl<'s, 'a, S: Source<'a>> Msf<'s, S> {
    /// Reads the superblock, the block map and the directory; every block number is
    /// checked against the file.
    pub fn open(src: &'s mut S) -> Result<Self> {
        let file_len = src.size();
        let head = src.window(0, 56, false)?.to_vec();
        if head.len() < 56 || &head[..32] != MAGIC {
            return Err(invalid("not an MSF 7.0 file (PDB)"));
        }
        let field = |i: usize| u32_at(&head, 32 + 4 * i).unwrap_or(0);
        let (block_size, num_blocks, dir_bytes, map_addr) = (
            u64::from(field(0)),
            u64::from(field(2)),
            u64::from(field(3)),
            u64::from(field(5)),
        );
        if !matches!(block_size, 512 | 1024 | 2048 | 4096 | 8192 | 16384 | 32768) {
            return Err(invalid(format!(
                "PDB block size {} is not a power of two from 512 to 32768",
                block_size
            )));
        }
        // The last block may be short of a whole block: the file must reach into it.
        let blocks_in_file = (file_len + block_size - 1) / block_size;
        if num_blocks > blocks_in_file {
            return Err(invalid(format!(
                "PDB claims {} blocks; the file has {}",
                num_blocks, blocks_in_file
            )));
        }
        if dir_bytes < 4 || dir_bytes > MAX_DIRECTORY || dir_bytes > file_len {
            return Err(invalid(format!(
                "PDB stream directory of {} bytes does not fit the file",
                dir_bytes
            )));
        }
        let dir_blocks = (dir_bytes + block_size - 1) / block_size;
        let check_block = |b: u64, what: &str| -> Result<u64> {
            if b == 0 || b >= num_blocks || b * block_size >= file_len {
                return Err(invalid(format!(
                    "PDB {} names block {}, past the end of the file ({} blocks)",
                    what, b, num_blocks
                )));
            }
            Ok(b * block_size)
        };
        let map_len = dir_blocks * 4;
        let map_off = check_block(map_addr, "block map")?;
        if map_len > block_size {
            return Err(invalid("PDB block map does not fit one block"));
        }
        let map = src.window(map_off, map_len as usize, false)?.to_vec();
        if (map.len() as u64) < map_len {
            return Err(invalid("PDB block map runs past the end of the file"));
        }
        let mut dir = Vec::with_capacity(dir_bytes as usize);
        for i in 0..dir_blocks as usize {
            let off = check_block(u64::from(u32_at(&map, 4 * i).unwrap_or(0)), "stream directory")?;
            let want = (dir_bytes - dir.len() as u64).min(block_size) as usize;
            let got = src.window(off, want, false)?;
            if got.len() < want {
                return Err(invalid("PDB stream directory runs past the end of the file"));
            }
            dir.extend_from_slice(got);
        }
        let count = u64::from(u32_at(&dir, 0).unwrap_or(0));
        if 4 + count * 4 > dir.len() as u64 {
            return Err(invalid(format!(
                "PDB directory claims {} streams; it has room for {}",
                count,
                (dir.len() - 4) / 4
            )));
        }
        let count = count as usize;
        let sizes: Vec<u32> = (0..count).map(|i| u32_at(&dir, 4 + 4 * i).unwrap_or(0)).collect();
        let mut starts = Vec::with_capacity(count);
        let mut blocks = Vec::new();
        let mut at = 4 + 4 * count;
        for &size in &sizes {
            starts.push(blocks.len());
            if size == NIL {
                continue;
            }
            if u64::from(size) > num_blocks * block_size {
                return Err(invalid(format!("PDB stream of {} bytes is larger than the file", size)));
            }
            let n = ((u64::from(size) + block_size - 1) / block_size) as usize;
            if at + 4 * n > dir.len() {
                return Err(invalid("PDB stream directory is shorter than its streams' block lists"));
            }
            for i in 0..n {
                let b = u32_at(&dir, at + 4 * i).unwrap_or(0);
                check_block(u64::from(b), "stream")?;
                blocks.push(b);
            }
            at += 4 * n;
        }
        Ok(Msf {
            src,
            block_size,
            sizes,
            starts,
            blocks,
        })
    }

    /// How many streams the directory lists.
    pub fn stream_count(&self) -> usize {
        self.sizes.len()
    }

    /// A stream's size; `None` for a nil or unlisted stream.
    pub fn stream_size(&self, i: usize) -> Option<u64> {
        self.sizes.get(i).filter(|&&s| s != NIL).map(|&s| u64::from(s))
    }

    /// `len` bytes of stream `i` from `offset` (fewer at its end), read a run of
    /// consecutive blocks at a time.
    pub fn read(&mut self, i: usize, offset: u64, len: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let n = self.read_reusing(i, offset, len, &mut out)?.len();
        out.truncate(n);
        Ok(out)
    }

    /// [`read`](Self::read) into `buf`, kept from one call to the next: it only grows, so
    /// its bytes are zeroed once, not on every read (module streams are most of a PDB).
    pub fn read_reusing<'b>(&mut self, i: usize, offset: u64, len: u64, buf: &'b mut Vec<u8>) -> Result<&'b [u8]> {
        let size = match self.stream_size(i) {
            Some(s) => s,
            None => return Ok(&[]),
        };
        let offset = offset.min(size);
        let len = len.min(size - offset);
        if len > MAX_SECTION_SIZE {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("PDB stream {} is {} bytes (limit {})", i, len, MAX_SECTION_SIZE),
            ));
        }
        if (buf.len() as u64) < len {
            if buf.try_reserve_exact(len as usize - buf.len()).is_err() {
                return Err(Error::new(
                    ErrorKind::LimitExceeded,
                    format!("PDB stream {} of {} bytes: more than the memory limit allows", i, len),
                ));
            }
            buf.resize(len as usize, 0);
        }
        let out = &mut buf[..len as usize];
        let bs = self.block_size;
        let file_len = self.src.size();
        let first = self.starts[i];
        let mut pos = offset;
        let end = offset + len;
        while pos < end {
            let bi = (pos / bs) as usize;
            let within = pos % bs;
            let block = u64::from(self.blocks[first + bi]);
            // Extend over consecutive blocks: one host read for a contiguous run.
            let mut run_end = (bi as u64 + 1) * bs;
            let mut next = bi + 1;
            while run_end < end
                && u64::from(self.blocks[first + next]) == block + (next - bi) as u64
                && run_end - pos < RUN_MAX
            {
                run_end += bs;
                next += 1;
            }
            let n = run_end.min(end) - pos;
            let at = block * bs + within;
            if at + n > file_len {
                return Err(invalid(format!("PDB stream {} runs past the end of the file", i)));
            }
            // (straight into the stream's buffer: no copy through the source's window)
            let from = (pos - offset) as usize;
            self.src.read_into(at, &mut out[from..from + n as usize])?;
            pos += n;
        }
        Ok(out)
    }

    /// The whole of stream `i`.
    pub fn stream(&mut self, i: usize) -> Result<Vec<u8>> {
        self.read(i, 0, u64::MAX)
    }
}
