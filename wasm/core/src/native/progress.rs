//! How far a symcache build has got, for a host that shows a progress bar.
//!
//! A sink installed for the length of one build (the builders report through
//! [`report`] without carrying a callback through every signature); with none installed
//! reporting costs a thread-local read.

use std::cell::Cell;

type Sink = Box<dyn FnMut(u64, u64)>;

thread_local! {
    // A Cell, taken out while it runs: a host may abandon the call from inside the sink,
    // and no borrow flag must outlive that.
    static SINK: Cell<Option<Sink>> = Cell::new(None);
    static PAST_PEAK: Cell<bool> = Cell::new(false);
    static DISCARD: Cell<Option<fn(usize, usize)>> = Cell::new(None);
}

/// Sets where [`discard`] sends the whole pages a build will not read again (the wasm
/// shim: the host's `discard` import; a native tool: its accounting).
pub fn set_discard(f: fn(usize, usize)) {
    DISCARD.with(|d| d.set(Some(f)));
}

/// Bytes of a page the host may give back.
pub(super) const PAGE: usize = 4096;

/// The whole 4 KiB pages inside `bytes` hold nothing the build will read again (it never
/// reads them before writing them): a host may give them back to the system, after which
/// they may read as anything. Their owner stays allocated.
pub(crate) fn discard(bytes: &[u8]) {
    discard_range(bytes.as_ptr() as usize, bytes.len());
}

fn discard_range(p: usize, len: usize) {
    let start = p.saturating_add(PAGE - 1) & !(PAGE - 1);
    let end = (p + len) & !(PAGE - 1);
    if end > start {
        if let Some(f) = DISCARD.with(|d| d.get()) {
            f(start, end - start);
        }
    }
}

/// [`discard`]s `bytes[from..to]`, a buffer given back front to back: the next call's
/// `from`, the start of the page holding `to` (that page was kept), never before `from`.
pub(crate) fn discard_upto(bytes: &[u8], from: usize, to: usize) -> usize {
    discard_items_upto(bytes, from, to)
}

/// [`discard_upto`] of a slice of any items, `from`, `to` and the result counted in
/// items: a table read front to back once (a build's row answers, as they are written).
pub(crate) fn discard_items_upto<T>(items: &[T], from: usize, to: usize) -> usize {
    let size = std::mem::size_of::<T>();
    if size == 0 || to <= from {
        return from;
    }
    let base = items[..to].as_ptr() as usize;
    discard_range(base + from * size, (to - from) * size);
    // (from the item holding the first page not given back: that page was kept)
    (((base + to * size) & !(PAGE - 1)).saturating_sub(base) / size).max(from)
}

/// Marks the running build as past its peak memory: its inputs are being freed and only
/// its output's tables are left, shrinking as they are written. (Pages a build frees
/// before that are mostly used again by the build, and giving them back would only cost
/// page faults.)
pub(crate) fn past_peak() {
    PAST_PEAK.with(|p| p.set(true));
}

/// Whether the build running under [`with_progress`] has passed its peak memory: a wasm
/// host may take back the pages of large blocks freed from then on (the ABI shim's
/// allocator tells it), so that what it allocates for the output does not come on top of
/// the build's high-water mark.
pub fn is_past_peak() -> bool {
    PAST_PEAK.with(|p| p.get())
}

/// Runs `f` with `sink` receiving `(done, total)` reports (only the ratio means something).
pub fn with_progress<T>(sink: impl FnMut(u64, u64) + 'static, f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            SINK.with(|s| s.set(None));
            PAST_PEAK.with(|p| p.set(false));
        }
    }
    SINK.with(|s| s.set(Some(Box::new(sink))));
    PAST_PEAK.with(|p| p.set(false));
    let _reset = Reset;
    f()
}

/// Reports `done` of `total` to the installed sink, if any.
pub(crate) fn report(done: u64, total: u64) {
    SINK.with(|s| {
        if let Some(mut f) = s.take() {
            f(done.min(total), total);
            s.set(Some(f));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn reports_reach_the_sink_only_inside() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s2 = seen.clone();
        report(1, 2);
        let r = with_progress(
            move |d, t| s2.borrow_mut().push((d, t)),
            || {
                report(1, 4);
                report(9, 4);
                7
            },
        );
        report(3, 4);
        assert_eq!(r, 7);
        assert_eq!(*seen.borrow(), vec![(1, 4), (4, 4)]);
    }

    #[test]
    fn past_peak_holds_until_the_build_ends() {
        let during = with_progress(
            |_, _| {},
            || {
                let before = is_past_peak();
                past_peak();
                (before, is_past_peak())
            },
        );
        assert_eq!(during, (false, true));
        assert!(!is_past_peak());
    }
}
