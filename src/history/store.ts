/**
 * The in-memory history: two tiers on shared time axes and one Series per vCPU.
 * Pure data structure, no I/O, no clock: every decision uses the samples' own wall time.
 */
import { KeyIndex } from "./key-index.js";
import { NO_DATA } from "./quantize.js";
import { ACC_D, ACC_DMAX, ACC_N, ACC_T, ACC_U, DOWN_FIELDS, RAW_FIELDS, Series } from "./series.js";
import { TimeAxis } from "./time-axis.js";

export interface StoreConfig {
  /** Slots of the raw tier (ceil(3600 / intervalS) for one hour). */
  rawCap: number;
  /** Slots of the downsampled tier (1008 ten-minute buckets = 7 days). */
  downCap: number;
  /** Width of a downsampled bucket, ms. Buckets start at multiples of it since the epoch. */
  bucketMs: number;
  /** Most series kept; a new series beyond it replaces the one written longest ago. */
  maxSeries: number;
  /** A series not written for longer than this is dropped, ms. */
  retentionMs: number;
}

/** One vCPU's values in one sample, already quantised. */
export interface Item {
  domain: string;
  uuid: string | null;
  vcpu: number;
  u: number;
  d: number;
  t: number;
}

export interface ApplyResult {
  /** New series refused because the store is full of series written in this very sample. */
  refused: number;
  /** Series dropped: not written for the retention time, or replaced by a new one. */
  evicted: number;
}

export class Store {
  readonly raw: TimeAxis;
  readonly down: TimeAxis;
  readonly series = new Map<string, Series>();
  private readonly index = new KeyIndex<Series>();
  /** Start of the bucket the accumulators are filling, null before the first sample. */
  curBucket: number | null = null;
  /** Wall time of the newest sample applied. */
  lastWallMs: number | null = null;

  constructor(readonly cfg: StoreConfig) {
    this.raw = new TimeAxis(cfg.rawCap);
    this.down = new TimeAxis(cfg.downCap);
  }

  bucketOf(wallMs: number): number {
    return Math.floor(wallMs / this.cfg.bucketMs) * this.cfg.bucketMs;
  }

  /** Records one sample. The caller guarantees wallMs is later than lastWallMs. */
  apply(wallMs: number, items: readonly Item[]): ApplyResult {
    const result: ApplyResult = { refused: 0, evicted: 0 };
    const bucket = this.bucketOf(wallMs);
    if (this.curBucket !== null && bucket !== this.curBucket) {
      this.closeBucket();
      result.evicted += this.evictStale(wallMs);
    }
    this.curBucket = bucket;

    const slot = this.raw.push(wallMs);
    const o = slot * RAW_FIELDS;
    for (const it of items) {
      let s = this.find(it.domain, it.uuid, it.vcpu);
      if (s === undefined) {
        const made = this.create(it, wallMs);
        result.evicted += made.evicted;
        if (made.series === null) {
          result.refused++;
          continue;
        }
        s = made.series;
      } else if (s.lastWriteMs === wallMs) {
        continue; // the same vCPU twice in one sample: the first one counts
      }
      s.raw[o] = it.u;
      s.raw[o + 1] = it.d;
      s.raw[o + 2] = it.t;
      const acc = s.acc;
      acc[ACC_U] = (acc[ACC_U] as number) + it.u;
      acc[ACC_D] = (acc[ACC_D] as number) + it.d;
      acc[ACC_T] = (acc[ACC_T] as number) + it.t;
      if (it.d > (acc[ACC_DMAX] as number)) acc[ACC_DMAX] = it.d;
      acc[ACC_N] = (acc[ACC_N] as number) + 1;
      s.lastWriteMs = wallMs;
    }
    // Series absent from this sample: their slot holds a value from an hour ago; blank it.
    for (const s of this.series.values()) {
      if (s.lastWriteMs === wallMs) continue;
      s.raw[o] = NO_DATA;
      s.raw[o + 1] = NO_DATA;
      s.raw[o + 2] = NO_DATA;
    }
    this.lastWallMs = wallMs;
    return result;
  }

  find(domain: string, uuid: string | null, vcpu: number): Series | undefined {
    return this.index.get(domain, uuid, vcpu);
  }

  /** Adds a series (replacing one with the same identity). */
  add(s: Series): void {
    this.remove(s);
    this.series.set(s.key, s);
    this.index.set(s.domain, s.uuid, s.vcpu, s);
  }

  remove(s: Series): void {
    this.series.delete(s.key);
    this.index.delete(s.domain, s.uuid, s.vcpu);
  }

  private create(it: Item, wallMs: number): { series: Series | null; evicted: number } {
    let evicted = 0;
    if (this.series.size >= this.cfg.maxSeries) {
      let oldest: Series | null = null;
      for (const s of this.series.values()) if (oldest === null || s.lastWriteMs < oldest.lastWriteMs) oldest = s;
      // Everything was written in this very sample: the host has more vCPUs than maxSeries.
      // Refuse the newcomer rather than churn (and lose) a series every sample.
      if (oldest === null || oldest.lastWriteMs >= wallMs) return { series: null, evicted };
      this.remove(oldest);
      evicted++;
    }
    const s = new Series(it.domain, it.uuid, it.vcpu, this.cfg.rawCap, this.cfg.downCap, -Infinity);
    this.add(s);
    return { series: s, evicted };
  }

  /** Turns the accumulators into one downsampled slot for every series and empties them. */
  private closeBucket(): void {
    if (this.curBucket === null) return;
    const slot = this.down.push(this.curBucket);
    const o = slot * DOWN_FIELDS;
    for (const s of this.series.values()) {
      const acc = s.acc;
      const n = acc[ACC_N] as number;
      if (n > 0) {
        s.down[o] = Math.round((acc[ACC_U] as number) / n);
        s.down[o + 1] = Math.round((acc[ACC_D] as number) / n);
        s.down[o + 2] = Math.round((acc[ACC_T] as number) / n);
        s.down[o + 3] = acc[ACC_DMAX] as number;
      } else {
        s.down.fill(NO_DATA, o, o + DOWN_FIELDS);
      }
      acc.fill(0);
    }
  }

  private evictStale(wallMs: number): number {
    let n = 0;
    const limit = wallMs - this.cfg.retentionMs;
    for (const s of this.series.values()) {
      if (s.lastWriteMs < limit) {
        this.remove(s);
        n++;
      }
    }
    return n;
  }
}
