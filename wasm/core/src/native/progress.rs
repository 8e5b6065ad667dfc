//! How far a symcache build has got, for a host that shows a progress bar.
//!
//! A sink installed for the length of one build (the builders report through
//! [`report`] without carrying a callback through every signature); with none installed
//! reporting costs a thread-local read.

use std::cell::RefCell;

type Sink = Box<dyn FnMut(u64, u64)>;

thread_local! {
    static SINK: RefCell<Option<Sink>> = RefCell::new(None);
}

/// Runs `f` with `sink` receiving `(done, total)` reports (only the ratio means something).
pub fn with_progress<T>(sink: impl FnMut(u64, u64) + 'static, f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            SINK.with(|s| *s.borrow_mut() = None);
        }
    }
    SINK.with(|s| *s.borrow_mut() = Some(Box::new(sink)));
    let _reset = Reset;
    f()
}

/// Reports `done` of `total` to the installed sink, if any.
pub(crate) fn report(done: u64, total: u64) {
    SINK.with(|s| {
        // A sink that reports again from inside itself is ignored rather than a panic.
        if let Ok(mut sink) = s.try_borrow_mut() {
            if let Some(f) = sink.as_mut() {
                f(done.min(total), total);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn reports_reach_the_sink_only_inside() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s2 = seen.clone();
        report(1, 2);
        let r = with_progress(move |d, t| s2.borrow_mut().push((d, t)), || {
            report(1, 4);
            report(9, 4);
            7
        });
        report(3, 4);
        assert_eq!(r, 7);
        assert_eq!(*seen.borrow(), vec![(1, 4), (4, 4)]);
    }
}
