// Timing for the linear-time tests: ratios of these, never wall-clock thresholds.

/** Milliseconds per call of `fn`: the best of three rounds of `repeat` calls. */
export function bestPerCall(fn, repeat) {
  let t = Infinity;
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    for (let i = 0; i < repeat; i++) fn();
    t = Math.min(t, (performance.now() - t0) / repeat);
  }
  return t;
}
