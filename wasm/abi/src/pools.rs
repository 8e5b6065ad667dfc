//! Size-class pools for small blocks, in front of the system allocator.
//!
//! On wasm32-unknown-unknown `std::alloc::System` is std's dlmalloc, which the module
//! cannot inline (std is linked prebuilt): every `malloc`/`free` is a chain of calls, and
//! a symcache build makes millions of small requests (2.5 M allocations + 1.5 M
//! reallocations for a 230 MB library, 80 % of them at most 1 KiB). Measured with
//! perf on wasmtime, dlmalloc was ~10 % of a build.
//!
//! Blocks of at most [`MAX_SMALL`] bytes (alignment at most [`GRAIN`]) come from one free
//! list per size class (multiples of [`GRAIN`]); a list is refilled from arenas of
//! [`ARENA`] bytes taken from the system allocator. Freed small blocks go back to their
//! list and serve later requests of the same class; they are not returned to the system
//! allocator. Larger blocks go to the system allocator unchanged.
//!
//! Single-threaded (the wasm module): the global instance is used only on wasm32.

use std::alloc::Layout;

/// Size-class granularity and the largest alignment served from the pools.
pub(crate) const GRAIN: usize = 16;
/// The largest block served from the pools.
pub(crate) const MAX_SMALL: usize = 1024;
const CLASSES: usize = MAX_SMALL / GRAIN;
/// Bytes taken from the system allocator at a time.
const ARENA: usize = 256 * 1024;

pub(crate) struct Pools {
    /// Head of each class's free list; a free block holds the next pointer.
    free: [*mut u8; CLASSES],
    /// The unused part `[bump, end)` of the current arena.
    bump: usize,
    end: usize,
}

impl Pools {
    pub(crate) const fn new() -> Pools {
        Pools {
            free: [std::ptr::null_mut(); CLASSES],
            bump: 0,
            end: 0,
        }
    }

    /// The size class of `layout`, or `None` when it is for the system allocator.
    #[inline]
    pub(crate) fn class(size: usize, align: usize) -> Option<usize> {
        if size <= MAX_SMALL && align <= GRAIN {
            Some(size.max(1).wrapping_sub(1) / GRAIN)
        } else {
            None
        }
    }

    /// A block of class `class`; null when the system allocator has no arena to give.
    ///
    /// # Safety
    /// `class < CLASSES`; single-threaded use.
    #[inline]
    pub(crate) unsafe fn alloc(&mut self, class: usize) -> *mut u8 {
        let head = self.free[class];
        if !head.is_null() {
            self.free[class] = *(head as *mut *mut u8);
            return head;
        }
        self.carve(class)
    }

    #[cold]
    unsafe fn carve(&mut self, class: usize) -> *mut u8 {
        let size = (class + 1) * GRAIN;
        if self.end - self.bump < size {
            let p = crate::alloc::system_alloc(Layout::from_size_align_unchecked(ARENA, GRAIN));
            if p.is_null() {
                return p;
            }
            // The old arena's tail (less than one block of this class) serves a smaller class.
            let tail = self.end - self.bump;
            if tail >= GRAIN {
                self.dealloc(self.bump as *mut u8, tail / GRAIN - 1);
            }
            self.bump = p as usize;
            self.end = self.bump + ARENA;
        }
        let p = self.bump;
        self.bump += size;
        p as *mut u8
    }

    /// Returns a block to its class.
    ///
    /// # Safety
    /// `ptr` came from [`Pools::alloc`] of this instance with the same `class`.
    #[inline]
    pub(crate) unsafe fn dealloc(&mut self, ptr: *mut u8, class: usize) {
        *(ptr as *mut *mut u8) = self.free[class];
        self.free[class] = ptr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(Pools::class(1, 1), Some(0));
        assert_eq!(Pools::class(16, 8), Some(0));
        assert_eq!(Pools::class(17, 8), Some(1));
        assert_eq!(Pools::class(1024, 16), Some(CLASSES - 1));
        assert_eq!(Pools::class(1025, 8), None);
        assert_eq!(Pools::class(64, 32), None);
    }

    #[test]
    fn blocks_are_aligned_disjoint_and_reused() {
        let mut pools = Pools::new();
        let mut live: Vec<(usize, usize, u8)> = Vec::new(); // (address, class, fill byte)
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for step in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if live.len() > 2000 || (x % 3 == 0 && !live.is_empty()) {
                let (p, c, fill) = live.swap_remove((x >> 8) as usize % live.len());
                let size = (c + 1) * GRAIN;
                // SAFETY: a live block of `size` bytes.
                let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, size) };
                assert!(bytes.iter().all(|&b| b == fill), "block overwritten");
                unsafe { pools.dealloc(p as *mut u8, c) };
            } else {
                let c = (x >> 16) as usize % CLASSES;
                let p = unsafe { pools.alloc(c) } as usize;
                assert!(p != 0 && p % GRAIN == 0);
                let fill = step as u8;
                // SAFETY: a fresh block of `(c + 1) * GRAIN` bytes.
                unsafe { std::ptr::write_bytes(p as *mut u8, fill, (c + 1) * GRAIN) };
                live.push((p, c, fill));
            }
        }
        // A freed block is the next one of its class.
        let p = unsafe { pools.alloc(3) };
        unsafe { pools.dealloc(p, 3) };
        assert_eq!(unsafe { pools.alloc(3) }, p);
        // (the arenas are leaked: the test process ends)
    }
}
