//! The host's imports (`pysym_host`): its file table read by ranges, progress reports and
//! a build's output; each wrapped once here.

use crate::alloc::{input_alloc, input_dealloc};
use crate::boundary::{fail, fail_core};
use crate::status;
use pysym_core::io::{FileError, ReadAt};
use pysym_core::symcache::Output;

#[link(wasm_import_module = "pysym_host")]
extern "C" {
    fn file_size(fh: u32, out: *mut u64) -> i32;
    fn file_read(fh: u32, offset: u64, dst: *mut u8, len: u32) -> i32;
    fn progress(done: u32, total: u32) -> i32;
    fn output_begin(size: u64) -> i32;
    fn output_write(offset: u64, src: *const u8, len: u32) -> i32;
}

// (wasm32 only, as its one caller: the allocator of native builds discards nothing)
#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "pysym_host")]
extern "C" {
    fn discard(ptr: *mut u8, len: u32) -> i32;
}

/// Tells the host that the whole pages `ptr..ptr + len` (4 KiB-aligned) hold nothing the
/// module needs, so it may give them back to the system (ABI `discard`).
#[cfg(target_arch = "wasm32")]
pub(crate) fn discard_pages(ptr: usize, len: usize) {
    // SAFETY: host import taking two numbers; the module owns those pages and reads
    // nothing there before writing it.
    unsafe {
        discard(ptr as *mut u8, len as u32);
    }
}

/// Per-mille last reported by [`report_progress`] (the module is single-threaded).
static mut LAST_PROGRESS: u64 = u64::MAX;

/// Starts a new long call: its first report goes through.
pub(crate) fn reset_progress() {
    // SAFETY: single-threaded module.
    unsafe { LAST_PROGRESS = u64::MAX };
}

/// Tells the host how far a long export has got, at most once per per-mille step.
pub(crate) fn report_progress(done: u64, total: u64) {
    let total = total.max(1);
    let done = done.min(total);
    let permille = (done as u128 * 1000 / total as u128) as u64;
    // SAFETY: single-threaded module; the import takes two integers, its result is reserved.
    unsafe {
        if permille == LAST_PROGRESS {
            return;
        }
        LAST_PROGRESS = permille;
        progress(permille as u32, 1000);
    }
}

/// A file of the host's table, read by ranges through `file_read`; the core's
/// `io::File`/`DebugFile` decide how (streamed, cached, ranged).
pub(crate) struct HostFile {
    fh: u32,
    size: u64,
}

impl HostFile {
    pub fn open(fh: u32) -> Result<HostFile, i32> {
        let mut size: u64 = 0;
        // SAFETY: host import writing one u64 at a valid address.
        let rc = unsafe { file_size(fh, &mut size) };
        if rc < 0 {
            return Err(fail(rc, format!("host could not give the size of file {}", fh)));
        }
        Ok(HostFile { fh, size })
    }

    /// File `fh` of `size` bytes as the host says (no `file_size` call; a shorter file is
    /// a failed read when the module gets there).
    pub fn with_size(fh: u32, size: u64) -> HostFile {
        HostFile { fh, size }
    }
}

impl ReadAt for HostFile {
    /// The host's status.
    type Error = i32;

    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, dst: &mut [u8]) -> Result<usize, i32> {
        let want = dst.len().min(u32::MAX as usize / 2) as u32;
        // SAFETY: `dst` is valid for `want` bytes of writes.
        let n = unsafe { file_read(self.fh, offset, dst.as_mut_ptr(), want) };
        if n < 0 {
            return Err(n);
        }
        Ok(n as usize)
    }
}

/// The status of a failed read of a host file (the host's own), or of a malformed file.
pub(crate) fn fail_file<O>(err: FileError<i32, O>) -> i32 {
    match err {
        FileError::Read(host, why) => {
            let what = if host == status::NEED_DATA {
                "needs data"
            } else {
                "read failed"
            };
            fail(host, format!("host file {}: {}", what, why))
        }
        FileError::Format(e) => fail_core(e),
        FileError::Output(_) => unreachable!("the caller maps output errors"),
    }
}

/// Reads a whole file through the host imports into freshly allocated input memory.
pub(crate) fn read_whole_file(fh: u32) -> Result<(*mut u8, usize), i32> {
    let file = HostFile::open(fh)?;
    if file.size > u32::MAX as u64 / 2 {
        return Err(fail(
            status::LIMIT_EXCEEDED,
            format!("file of {} bytes is too large", file.size),
        ));
    }
    let len = file.size as usize;
    let ptr = input_alloc(len);
    if ptr.is_null() {
        return Err(fail(
            status::OUT_OF_MEMORY,
            format!("cannot allocate {} bytes for the input", len),
        ));
    }
    let mut done = 0usize;
    while done < len {
        // SAFETY: `ptr + done .. ptr + len` is inside the allocation just made.
        let n = unsafe { file_read(fh, done as u64, ptr.add(done), (len - done) as u32) };
        if n <= 0 {
            input_dealloc(ptr, len);
            let code = if n < 0 { n } else { status::HOST_IO };
            let why = if code == status::NEED_DATA {
                "needs data"
            } else {
                "read failed"
            };
            return Err(fail(code, format!("file {}: {} at offset {}", fh, why, done)));
        }
        done += n as usize;
    }
    Ok((ptr, len))
}

/// The host's end of a build's output (`output_begin`, `output_write`); the error is the
/// status the host returned.
pub(crate) struct HostOutput {
    pub offset: u64,
}

impl Output for HostOutput {
    type Error = i32;

    fn begin(&mut self, size: u64) -> Result<(), i32> {
        // SAFETY: host import taking a number.
        match unsafe { output_begin(size) } {
            rc if rc < 0 => Err(rc),
            _ => Ok(()),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), i32> {
        // SAFETY: the host copies `len` bytes from `src`, which `bytes` covers.
        match unsafe { output_write(self.offset, bytes.as_ptr(), bytes.len() as u32) } {
            rc if rc < 0 => Err(rc),
            _ => {
                self.offset += bytes.len() as u64;
                Ok(())
            }
        }
    }
}
