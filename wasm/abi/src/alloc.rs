//! The module's allocator: small-block pools (`pools.rs`) in front of the system
//! allocator, recording every request it cannot serve so that hosts can tell "out of
//! memory" from a bug (`pysym_alloc_failure`); and the memory hosts write inputs into.

#[cfg(target_arch = "wasm32")]
use crate::pools;
use std::alloc::{alloc, dealloc, GlobalAlloc, Layout};

/// Alignment of input memory (`pysym_alloc`).
const INPUT_ALIGN: usize = 8;

/// Inputs of this size or more own whole 4 KiB pages (start and end on a page boundary):
/// a host may map a file over them (`mmap(MAP_FIXED)`) instead of copying it in, and the
/// mapping then covers nothing of the allocator's.
const PAGED_INPUT: usize = 64 * 1024;
const PAGE: usize = 4096;

/// The layout of an input of `len` bytes.
fn input_layout(len: usize) -> Option<Layout> {
    let len = len.max(1);
    if len >= PAGED_INPUT {
        Layout::from_size_align(len.checked_add(PAGE - 1)? & !(PAGE - 1), PAGE).ok()
    } else {
        Layout::from_size_align(len, INPUT_ALIGN).ok()
    }
}

/// Blocks of at least this size freed past a build's peak give their inner pages back to
/// the host (ABI `discard`).
#[cfg(target_arch = "wasm32")]
const DISCARD_MIN: usize = 256 * 1024;

/// Once a build is past its peak memory (`progress::is_past_peak`), discards the whole
/// pages of each large block about to be freed, but the first: dlmalloc keeps its
/// free-list links at the start of a free block (and its size at the next block's start,
/// outside it). A wasm memory never shrinks and its touched pages stay resident, so what
/// the host allocates then (the build's output) would come on top of the high-water mark.
#[cfg(target_arch = "wasm32")]
#[inline]
fn discard_block(ptr: *mut u8, size: usize) {
    if size < DISCARD_MIN || !pysym_core::native::progress::is_past_peak() {
        return;
    }
    let start = (ptr as usize + 64 + PAGE - 1) & !(PAGE - 1);
    let end = (ptr as usize + size) & !(PAGE - 1);
    if end > start {
        crate::host::discard_pages(start, end - start);
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[inline]
fn discard_block(_ptr: *mut u8, _size: usize) {}

/// Hosts may back the memory with 2 MiB huge pages (Linux THP), which spare a build
/// thousands of page faults and TLB misses; but one forms only where its whole 2 MiB is
/// accessible when first touched. dlmalloc grows the memory by what one request needs (in
/// 64 KiB steps) and writes at the new end at once, so the memory is grown here first, in
/// whole 2 MiB regions, before dlmalloc would grow it by less. Without huge pages this
/// costs nothing: the regions' pages are untouched until used. A growth that fails (the
/// memory cap) is not an allocation failure: dlmalloc then grows by what it needs.
#[cfg(target_arch = "wasm32")]
mod ahead {
    use std::alloc::{GlobalAlloc, Layout, System};

    const HUGE: usize = 2 << 20;
    const WASM_PAGE: usize = 64 * 1024;
    /// Room left for chunk headers and dlmalloc's top footer.
    const SLACK: usize = 64 * 1024;

    /// Where dlmalloc's top chunk starts at the latest: the end of the highest block it
    /// gave (0: nothing yet).
    static mut HIGH: usize = 0;

    /// Before a request of `size` bytes to the system allocator.
    #[inline]
    pub(super) unsafe fn before(size: usize) {
        let end = core::arch::wasm32::memory_size(0) * WASM_PAGE;
        let high = if HIGH == 0 { end } else { HIGH };
        match high.checked_add(size).and_then(|n| n.checked_add(SLACK)) {
            Some(need) if need <= end => {}
            Some(need) => grow(end, high, need),
            None => {}
        }
    }

    /// After the system allocator gave `size` bytes at `p`.
    #[inline]
    pub(super) unsafe fn after(p: *mut u8, size: usize) {
        let top = (p as usize).saturating_add(size);
        if top > HIGH {
            HIGH = top;
        }
    }

    /// Grows the memory to a 2 MiB boundary past `need` through one request to dlmalloc,
    /// freed at once. dlmalloc grows by the whole request (not by what its top chunk
    /// lacks), so the request is the distance to the boundary, which must also exceed
    /// the top chunk (at most `end - high`) for dlmalloc to grow at all.
    #[cold]
    unsafe fn grow(end: usize, high: usize, need: usize) {
        let least = match (end - high.min(end)).checked_add(end + 2 * SLACK) {
            Some(n) => n.max(need),
            None => return,
        };
        let target = match least.checked_add(HUGE - 1) {
            Some(n) => n & !(HUGE - 1),
            None => return,
        };
        // (the request plus dlmalloc's overheads rounds up to exactly `target - end`)
        let layout = Layout::from_size_align_unchecked(target - end - SLACK / 2, 16);
        let p = System.alloc(layout);
        if !p.is_null() {
            // Where dlmalloc carved it: the top chunk's start (or a free block's).
            HIGH = p as usize;
            System.dealloc(p, layout);
        }
    }
}

/// `request` (of the system allocator, for `size` bytes), the memory grown ahead first
/// in huge-page regions (`ahead`).
#[inline]
unsafe fn grown_ahead(size: usize, request: impl FnOnce() -> *mut u8) -> *mut u8 {
    #[cfg(target_arch = "wasm32")]
    ahead::before(size);
    let p = request();
    #[cfg(target_arch = "wasm32")]
    ahead::after(p, size);
    p
}

/// The system allocator's `alloc`, growing the memory ahead in huge-page regions.
#[inline]
pub(crate) unsafe fn system_alloc(layout: Layout) -> *mut u8 {
    grown_ahead(layout.size(), || std::alloc::System.alloc(layout))
}

/// The size of the latest allocation request that failed (0: none since last read).
static mut FAILED_ALLOC: usize = 0;

/// The system allocator, recording every request it cannot serve (the memory cap is
/// reached: `memory.grow` returned -1). A failed request usually ends in an abort
/// (`handle_alloc_error` -> `unreachable` trap); `pysym_alloc_failure` tells the host why.
struct RecordingAlloc;

impl RecordingAlloc {
    fn check(&self, p: *mut u8, size: usize) -> *mut u8 {
        if p.is_null() {
            // SAFETY: single-threaded module.
            unsafe { FAILED_ALLOC = size.max(1) };
        }
        p
    }
}

/// The small-block pools of the module (`pools.rs`); wasm32 only, where the module is
/// single-threaded. Native builds (tests) forward everything to the system allocator.
#[cfg(target_arch = "wasm32")]
static mut POOLS: pools::Pools = pools::Pools::new();

#[cfg(target_arch = "wasm32")]
#[inline]
fn small_class(size: usize, align: usize) -> Option<usize> {
    pools::Pools::class(size, align)
}

#[cfg(not(target_arch = "wasm32"))]
#[inline]
fn small_class(_size: usize, _align: usize) -> Option<usize> {
    None
}

#[cfg(target_arch = "wasm32")]
#[inline]
unsafe fn small_alloc(class: usize) -> *mut u8 {
    // SAFETY: single-threaded module; `class` comes from `small_class`.
    POOLS.alloc(class)
}

#[cfg(target_arch = "wasm32")]
#[inline]
unsafe fn small_dealloc(ptr: *mut u8, class: usize) {
    // SAFETY: single-threaded module; `ptr` came from `small_alloc(class)`.
    POOLS.dealloc(ptr, class)
}

#[cfg(not(target_arch = "wasm32"))]
unsafe fn small_alloc(_class: usize) -> *mut u8 {
    unreachable!()
}

#[cfg(not(target_arch = "wasm32"))]
unsafe fn small_dealloc(_ptr: *mut u8, _class: usize) {
    unreachable!()
}

// SAFETY: small blocks come from the pools (aligned to at least `pools::GRAIN`, which
// `small_class` checks), everything else from the system allocator unchanged; a block
// goes back to where its layout says it came from.
unsafe impl std::alloc::GlobalAlloc for RecordingAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = match small_class(layout.size(), layout.align()) {
            Some(c) => small_alloc(c),
            None => system_alloc(layout),
        };
        self.check(p, layout.size())
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match small_class(layout.size(), layout.align()) {
            Some(_) => {
                let p = self.alloc(layout);
                if !p.is_null() {
                    std::ptr::write_bytes(p, 0, layout.size());
                }
                p
            }
            None => self.check(
                grown_ahead(layout.size(), || std::alloc::System.alloc_zeroed(layout)),
                layout.size(),
            ),
        }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match small_class(layout.size(), layout.align()) {
            Some(c) => small_dealloc(ptr, c),
            None => {
                discard_block(ptr, layout.size());
                std::alloc::System.dealloc(ptr, layout)
            }
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = small_class(layout.size(), layout.align());
        let new = small_class(new_size, layout.align());
        match (old, new) {
            (None, None) => {
                let p = self.check(
                    grown_ahead(new_size, || std::alloc::System.realloc(ptr, layout, new_size)),
                    new_size,
                );
                if !p.is_null() && p != ptr {
                    // Moved: the old block was freed inside, past `dealloc` (a doubling
                    // vector's old blocks stayed resident to the end of a build: libLLVM's
                    // string entries, functions, extra ranges).
                    discard_block(ptr, layout.size());
                }
                p
            }
            (Some(a), Some(b)) if a == b => ptr,
            _ => {
                // SAFETY: GlobalAlloc::realloc's contract: `new_size` with the old
                // alignment is a valid layout.
                let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                let p = self.alloc(new_layout);
                if !p.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                p
            }
        }
    }
}

#[global_allocator]
static ALLOCATOR: RecordingAlloc = RecordingAlloc;

/// Memory for an input of `len` bytes (null when out of memory), freed by
/// [`input_dealloc`] with the same `len`.
pub(crate) fn input_alloc(len: usize) -> *mut u8 {
    match input_layout(len) {
        // SAFETY: the layout has a non-zero size.
        Some(layout) => unsafe { alloc(layout) },
        None => std::ptr::null_mut(),
    }
}

/// Frees memory from [`input_alloc`].
pub(crate) fn input_dealloc(ptr: *mut u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    if let Some(layout) = input_layout(len) {
        // SAFETY: `ptr` was returned by `input_alloc(len)`, which used this layout.
        unsafe { dealloc(ptr, layout) };
    }
}

/// Size of the latest allocation request that failed since the previous call (0: none);
/// resets it.
pub(crate) fn take_failure() -> usize {
    // SAFETY: single-threaded module.
    unsafe { std::mem::replace(&mut FAILED_ALLOC, 0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_inputs_own_whole_pages() {
        for len in [PAGED_INPUT, PAGED_INPUT + 1, 30 * PAGE + 17, 1 << 20] {
            let layout = input_layout(len).unwrap();
            assert_eq!(layout.align(), PAGE);
            assert_eq!(layout.size() % PAGE, 0);
            assert!(layout.size() >= len && layout.size() < len + PAGE);
            let p = input_alloc(len);
            assert_eq!(p as usize % PAGE, 0);
            input_dealloc(p, len);
        }
        assert_eq!(input_layout(100).unwrap().align(), INPUT_ALIGN);
        assert!(input_layout(usize::MAX).is_none());
    }
}
