//! The sorts and searches of the passes: row addresses, cut addresses, forward searches.

/// `v.sort_unstable()`, in fewer steps for many addresses of one unit: a least significant
/// digit radix sort of their offsets from the lowest, 11 bits a pass.
pub(super) fn radix_sort(v: &mut [u64]) {
    const BITS: u32 = 11;
    if v.len() < 256 {
        v.sort_unstable();
        return;
    }
    let min = v.iter().copied().min().unwrap_or(0);
    let span = v.iter().map(|&x| x - min).max().unwrap_or(0);
    let passes = ((64 - span.leading_zeros()) + BITS - 1) / BITS;
    let mut counts = vec![[0usize; 1 << BITS]; passes as usize];
    for &x in v.iter() {
        let d = x - min;
        for (p, c) in counts.iter_mut().enumerate() {
            c[((d >> (BITS * p as u32)) & ((1 << BITS) - 1)) as usize] += 1;
        }
    }
    let mut buf = vec![0u64; v.len()];
    let (mut from, mut to): (&mut [u64], &mut [u64]) = (v, &mut buf);
    for (p, c) in counts.iter_mut().enumerate() {
        let mut at = 0;
        for n in c.iter_mut() {
            let k = *n;
            *n = at;
            at += k;
        }
        let shift = BITS * p as u32;
        for &x in from.iter() {
            let b = (((x - min) >> shift) & ((1 << BITS) - 1)) as usize;
            to[c[b]] = x;
            c[b] += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    if passes % 2 == 1 {
        to.copy_from_slice(from); // (`to` is `v` again)
    }
}

/// `v.partition_point(pred)` for a point expected near the start: doubling steps, then a
/// binary search in the last one.
pub(super) fn gallop<T>(v: &[T], pred: impl Fn(&T) -> bool) -> usize {
    let mut end = 1;
    while end <= v.len() && pred(&v[end - 1]) {
        end *= 2;
    }
    let start = end / 2; // `v[..start]` all satisfy `pred`
    let end = end.min(v.len());
    start + v[start..end].partition_point(pred)
}

/// Piles [`merge_runs`] deals runs to, at most (a merge step looks at each: few).
const PILES: usize = 16;

/// Sorts `v` where it is a few ascending streams interleaved: GCC's line programs give
/// each unit's hot code in address order, its cold (and startup) code in another
/// sequence, further on (libc: 183k rows in 400 pieces of 11 ascending streams;
/// python3.11: 387k in 200 of three), where a radix sort took ~1.4 % of libc's build.
/// Its ascending runs are dealt to the pile ending highest below each run's start (cut
/// where another pile would take the values), and the piles merged. False (`v` as it
/// was) where more than [`PILES`] piles would be needed, or the runs are short (more than
/// one per 8 values: their list would outgrow the values, and the merge would step a
/// value at a time).
pub(super) fn merge_runs(v: &mut [u64]) -> bool {
    let mut piles: [Vec<(usize, usize)>; PILES] = Default::default();
    let mut last = [0u64; PILES];
    let mut n = 0;
    let mut i = 0;
    let most_runs = PILES.max(v.len() / 8);
    let mut runs = 0;
    while i < v.len() {
        runs += 1;
        if runs > most_runs {
            return false;
        }
        let x = v[i];
        let mut to = None;
        for p in 0..n {
            if last[p] <= x && to.map_or(true, |t: usize| last[p] > last[t]) {
                to = Some(p);
            }
        }
        let p = match to {
            Some(p) => p,
            None if n < PILES => {
                n += 1;
                n - 1
            }
            None => return false,
        };
        // (on up to where another pile would take the values: a hot run reaching the
        // cold code's addresses)
        let mut bound = u64::MAX;
        for q in 0..n {
            if q != p && last[q] > x {
                bound = bound.min(last[q]);
            }
        }
        let mut j = i + 1;
        while j < v.len() && v[j - 1] <= v[j] && v[j] < bound {
            j += 1;
        }
        piles[p].push((i, j));
        last[p] = v[j - 1];
        i = j;
    }
    if n <= 1 {
        return true;
    }
    // Each pile's next value at `(run, at)`; the pile holding the least is copied from up
    // to the next least of the others.
    let mut at: [(usize, usize); PILES] = [(0, 0); PILES];
    for p in 0..n {
        at[p] = (0, piles[p][0].0);
    }
    let head = |p: usize, at: &[(usize, usize); PILES]| -> Option<u64> {
        let (r, k) = at[p];
        piles[p].get(r).map(|_| v[k])
    };
    let mut out: Vec<u64> = Vec::with_capacity(v.len());
    loop {
        let (mut least, mut next) = (None::<(usize, u64)>, u64::MAX);
        for p in 0..n {
            if let Some(x) = head(p, &at) {
                match least {
                    Some((_, y)) if y <= x => next = next.min(x),
                    _ => {
                        if let Some((_, y)) = least {
                            next = next.min(y);
                        }
                        least = Some((p, x));
                    }
                }
            }
        }
        let p = match least {
            Some((p, _)) => p,
            None => break,
        };
        let (r, mut k) = at[p];
        let end = piles[p][r].1;
        let from = k;
        while k < end && v[k] <= next {
            k += 1;
        }
        out.extend_from_slice(&v[from..k]);
        at[p] = if k < end {
            (r, k)
        } else {
            match piles[p].get(r + 1) {
                Some(run) => (r + 1, run.0),
                None => (r + 1, 0),
            }
        };
    }
    v.copy_from_slice(&out);
    true
}

/// Sorts addresses and keeps one of each; `v[..sorted]` is sorted already.
pub(super) fn sort_dedup(v: &mut Vec<u64>, sorted: usize) {
    // The rest by radix (its runs, a sequence each, are many and short: a merge sort took
    // ~3 % of libc's build), then one merge with the part sorted before, which a stable
    // sort sees as two runs.
    let sorted = sorted.min(v.len());
    if !merge_runs(&mut v[sorted..]) {
        radix_sort(&mut v[sorted..]);
    }
    if sorted > 0 && sorted < v.len() && v[sorted - 1] > v[sorted] {
        v.sort();
    }
    v.dedup();
}

/// What [`Bounds::with_addrs`] calls: generic over the iterator, unlike a closure.
pub(super) trait AddrsFn<R> {
    fn call(self, addrs: impl Iterator<Item = u64>) -> R;
}

/// Row addresses, sorted, one per address, and which of them only end a sequence: 4 bytes
/// and a bit a row where all are within 4 GiB of the lowest (a `(u64, bool)` took 16, a
/// `u64` 8: the rows are held through pass 2, at the build's peak memory).
pub(super) struct Bounds {
    /// The addresses less `lo`, where they all fit (else empty).
    narrow: Vec<u32>,
    /// The addresses, where they do not (else empty).
    wide: Vec<u64>,
    lo: u64,
    ends: Vec<u64>,
}

impl Bounds {
    /// From the row starts and the ends of sequence (each sorted, one per address): at equal
    /// addresses a row start wins over an end of sequence.
    pub(super) fn new(mut starts: Vec<u64>, mut ends: Vec<u64>) -> Bounds {
        let mut j = 0;
        ends.retain(|&e| {
            j += gallop(&starts[j..], |&s| s < e);
            starts.get(j) != Some(&e)
        });
        let n = starts.len() + ends.len();
        let first = |v: &[u64]| v.first().copied().unwrap_or(u64::MAX);
        let last = |v: &[u64]| v.last().copied().unwrap_or(0);
        let hi = last(&starts).max(last(&ends));
        let lo = if n == 0 { 0 } else { first(&starts).min(first(&ends)) };
        // The two sorted runs merged by hand, the ends' places marked as they are met (a
        // stable sort of the two took a scratch copy of them, then a search per end).
        let mut bits = vec![0u64; (n + 63) / 64];
        if hi - lo <= u64::from(u32::MAX) {
            let mut narrow: Vec<u32> = Vec::with_capacity(n);
            let mut i = 0;
            for e in ends {
                let k = i + gallop(&starts[i..], |&s| s < e);
                narrow.extend(starts[i..k].iter().map(|&a| (a - lo) as u32));
                i = k;
                bits[narrow.len() / 64] |= 1 << (narrow.len() % 64);
                narrow.push((e - lo) as u32);
            }
            narrow.extend(starts[i..].iter().map(|&a| (a - lo) as u32));
            return Bounds {
                narrow,
                wide: Vec::new(),
                lo,
                ends: bits,
            };
        }
        // Merged in place from the back.
        let m = starts.len();
        starts.resize(n, 0);
        let (mut i, mut k) = (m, n);
        for &e in ends.iter().rev() {
            while i > 0 && starts[i - 1] > e {
                i -= 1;
                k -= 1;
                starts[k] = starts[i];
            }
            k -= 1;
            starts[k] = e;
            bits[k / 64] |= 1 << (k % 64);
        }
        starts.shrink_to_fit();
        Bounds {
            narrow: Vec::new(),
            wide: starts,
            lo,
            ends: bits,
        }
    }

    /// The address of row `i`.
    #[inline]
    pub(super) fn addr(&self, i: usize) -> u64 {
        if self.wide.is_empty() {
            self.lo + u64::from(self.narrow[i])
        } else {
            self.wide[i]
        }
    }

    /// Calls `f` with the addresses in order (one call: `f` is made once per width).
    pub(super) fn with_addrs<R>(&self, f: impl AddrsFn<R>) -> R {
        if self.wide.is_empty() {
            let lo = self.lo;
            f.call(self.narrow.iter().map(move |&a| lo + u64::from(a)))
        } else {
            f.call(self.wide.iter().copied())
        }
    }

    /// The rows from `from` on whose address satisfies `pred` (a prefix of them), counted
    /// by [`gallop`].
    pub(super) fn gallop_from(&self, from: usize, pred: impl Fn(u64) -> bool) -> usize {
        if self.wide.is_empty() {
            let lo = self.lo;
            gallop(&self.narrow[from..], |&a| pred(lo + u64::from(a)))
        } else {
            gallop(&self.wide[from..], |&a| pred(a))
        }
    }

    /// The first row whose address does not satisfy `pred` (true for a prefix).
    pub(super) fn partition_point(&self, pred: impl Fn(u64) -> bool) -> usize {
        if self.wide.is_empty() {
            let lo = self.lo;
            self.narrow.partition_point(|&a| pred(lo + u64::from(a)))
        } else {
            self.wide.partition_point(|&a| pred(a))
        }
    }

    pub(super) fn len(&self) -> usize {
        self.narrow.len().max(self.wide.len())
    }

    /// Gives back the pages of the addresses of rows `from..to`, not read again
    /// ([`progress::discard_items_upto`](crate::native::progress::discard_items_upto)).
    pub(super) fn give_back(&self, from: usize, to: usize) -> usize {
        use crate::native::progress::discard_items_upto;
        if self.wide.is_empty() {
            discard_items_upto(&self.narrow, from, to)
        } else {
            discard_items_upto(&self.wide, from, to)
        }
    }

    /// Whether row `i` only ends a sequence (no row starts there).
    pub(super) fn is_end(&self, i: usize) -> bool {
        self.ends[i / 64] >> (i % 64) & 1 != 0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn radix_sort_sorts() {
        let mut seed = 3u64;
        for n in [0, 1, 255, 256, 1000, 5000] {
            for scale in [1u64, 1 << 12, 1 << 40, u64::MAX] {
                let mut v: Vec<u64> = (0..n)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (seed >> 7) % scale.max(1) + if scale == 1 { 7 } else { 0 }
                    })
                    .collect();
                let mut want = v.clone();
                want.sort_unstable();
                super::radix_sort(&mut v);
                assert_eq!(v, want);
            }
        }
    }

    #[test]
    fn bounds_as_sorted_pairs() {
        // What the pairs (address, ends a sequence) sorted and deduplicated by address,
        // a row start first, give.
        let mut seed = 5u64;
        for n in [0, 3, 255, 256, 3000] {
            for scale in [4u64, 1 << 20, 1 << 62, u64::MAX] {
                let v: Vec<(u64, bool)> = (0..n)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        ((seed >> 3) % scale, seed >> 63 != 0)
                    })
                    .collect();
                let mut want = v.clone();
                want.sort_unstable();
                want.dedup_by_key(|b| b.0);
                let starts: Vec<u64> = v.iter().filter(|b| !b.1).map(|b| b.0).collect();
                let ends: Vec<u64> = v.iter().filter(|b| b.1).map(|b| b.0).collect();
                // (a sorted part first: the part before the last third, sorted; or all of
                // them sorted, with repeats, as GCC's line programs give them)
                for whole in [false, true] {
                    let (mut starts, mut ends) = (starts.clone(), ends.clone());
                    let k = if whole {
                        starts.sort_unstable();
                        0
                    } else {
                        starts.len() * 2 / 3
                    };
                    starts[..k].sort_unstable();
                    super::sort_dedup(&mut starts, k);
                    super::sort_dedup(&mut ends, 0);
                    let b = super::Bounds::new(starts, ends);
                    let got: Vec<(u64, bool)> = (0..b.len()).map(|i| (b.addr(i), b.is_end(i))).collect();
                    assert_eq!(got, want);
                }
            }
        }
    }

    #[test]
    fn merge_runs_sorts_few_streams() {
        let mut seed = 9u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 16
        };
        for streams in 1..=super::PILES + 2 {
            for n in [0, 1, 2, 10, 1000, 20_000] {
                // `streams` ascending streams from far apart bases, taken in runs of 1..100
                let mut tops: Vec<u64> = (0..streams as u64).map(|s| s << 40).collect();
                let mut v = Vec::new();
                while v.len() < n {
                    let s = next() as usize % streams;
                    for _ in 0..1 + next() % 100 {
                        tops[s] += next() % 3; // (repeats too)
                        v.push(tops[s]);
                    }
                }
                let mut want = v.clone();
                want.sort_unstable();
                let before = v.clone();
                if super::merge_runs(&mut v) {
                    assert_eq!(v, want, "{} streams, {} values", streams, n);
                } else {
                    assert!(streams > super::PILES);
                    assert_eq!(v, before);
                }
                super::sort_dedup(&mut v, 0);
                want.dedup();
                assert_eq!(v, want);
            }
        }
        // Two streams a value at a time: runs too short to deal, left to the radix sort.
        let mut v: Vec<u64> = (0..1000u64)
            .map(|i| if i % 2 == 0 { i } else { (1 << 40) + i })
            .collect();
        let before = v.clone();
        assert!(!super::merge_runs(&mut v));
        assert_eq!(v, before);
        let mut want = v.clone();
        want.sort_unstable();
        super::sort_dedup(&mut v, 0);
        assert_eq!(v, want);
    }

    #[test]
    fn gallop_is_partition_point() {
        for n in 0..40 {
            let v: Vec<usize> = (0..n).collect();
            for x in 0..=n + 1 {
                assert_eq!(super::gallop(&v, |&e| e < x), v.partition_point(|&e| e < x));
            }
        }
    }
}
