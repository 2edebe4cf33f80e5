/**
 * The shared time axis of one tier: a ring of timestamps (ms), strictly increasing from the
 * oldest to the newest entry. Every series of the tier stores its value for entry `slot` at
 * the same ring position, so series keep no timestamps of their own.
 */
export class TimeAxis {
  readonly times: Float64Array;
  /** Ring position the next push writes. */
  head = 0;
  /** Number of valid entries (≤ cap). */
  count = 0;

  constructor(readonly cap: number) {
    if (!Number.isInteger(cap) || cap < 1)
      throw new RangeError(`time axis capacity must be a positive integer, got ${cap}`);
    this.times = new Float64Array(cap);
  }

  /** Appends a timestamp (the caller guarantees it is later than newest()); returns its slot. */
  push(t: number): number {
    const slot = this.head;
    this.times[slot] = t;
    this.head = (slot + 1) % this.cap;
    if (this.count < this.cap) this.count++;
    return slot;
  }

  /** Ring position of the i-th oldest entry, 0 ≤ i < count. */
  slot(i: number): number {
    return (this.head - this.count + i + this.cap) % this.cap;
  }

  /** Timestamp of the i-th oldest entry. */
  at(i: number): number {
    return this.times[this.slot(i)] as number;
  }

  /** Will the next push overwrite the oldest entry? */
  get full(): boolean {
    return this.count === this.cap;
  }

  oldest(): number | null {
    return this.count === 0 ? null : this.at(0);
  }

  newest(): number | null {
    return this.count === 0 ? null : this.at(this.count - 1);
  }

  /** First index i (0..count) whose timestamp is ≥ t. */
  lowerBound(t: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Indices [lo, hi) of the entries with from ≤ t ≤ to. */
  range(fromMs: number, toMs: number): [number, number] {
    const lo = this.lowerBound(fromMs);
    let hi = this.lowerBound(toMs);
    while (hi < this.count && this.at(hi) === toMs) hi++;
    return [lo, Math.max(lo, hi)];
  }

  /** Forgets every entry. */
  clear(): void {
    this.head = 0;
    this.count = 0;
  }
}
