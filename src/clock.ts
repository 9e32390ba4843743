// A monotonic clock in milliseconds. The global `performance` is a lazy getter that loads
// perf_hooks (and its observers and histograms) on first touch: about 0.3 MB of RSS that a daemon
// measuring elapsed times does not need. process.hrtime is CLOCK_MONOTONIC, like performance.now(),
// and is always loaded.

/** Milliseconds on the monotonic clock (an arbitrary origin; for differences only), sub-ms precision. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
