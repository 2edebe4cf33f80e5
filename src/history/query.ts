/**
 * Reading points out of a Store: tier ranges, re-bucketing, sums over a domain's vCPUs. Pure.
 * The scans work on the stored integers and build only the objects they return, so a 7-day
 * heatmap of 2,000 vCPUs stays cheap.
 */
import { NO_DATA, Q_SCALE } from "./quantize.js";
import { ACC_D, ACC_DMAX, ACC_N, ACC_T, ACC_U, DOWN_FIELDS, RAW_FIELDS, type Series } from "./series.js";
import type { Store } from "./store.js";
import type { DomainPoint, HistoryDomainSeries, HistoryPoint, HistorySeries, Tier } from "./types.js";

/** One output point: the means (quantised units) of the stored points it covers, and their highest delay. */
type Sink = (t: number, u: number, d: number, th: number, dmax: number) => void;

/** Groups consecutive points into steps of `stepMs` (0: every point is its own step). */
class Stepper {
  private t = Number.NaN;
  private next = Number.NaN;
  private u = 0;
  private d = 0;
  private th = 0;
  private dmax = 0;
  private n = 0;

  constructor(
    private readonly stepMs: number,
    private readonly sink: Sink,
  ) {}

  add(t: number, u: number, d: number, th: number, dmax: number): void {
    if (this.stepMs <= 0) {
      this.sink(t, u, d, th, dmax);
      return;
    }
    // Points come in time order: a division only when a step ends.
    if (!(t >= this.t && t < this.next)) {
      this.end();
      this.t = Math.floor(t / this.stepMs) * this.stepMs;
      this.next = this.t + this.stepMs;
    }
    this.u += u;
    this.d += d;
    this.th += th;
    if (dmax > this.dmax) this.dmax = dmax;
    this.n++;
  }

  end(): void {
    if (this.n > 0) this.sink(this.t, this.u / this.n, this.d / this.n, this.th / this.n, this.dmax);
    this.u = this.d = this.th = this.dmax = this.n = 0;
  }
}

/** Raw-tier points of `s` with fromMs ≤ t ≤ toMs, oldest first. */
function scanRaw(store: Store, s: Series, fromMs: number, toMs: number, out: Stepper): void {
  const axis = store.raw;
  const [lo, hi] = axis.range(fromMs, toMs);
  const raw = s.raw;
  const times = axis.times;
  for (let i = lo, slot = axis.slot(lo); i < hi; i++, slot = slot + 1 === axis.cap ? 0 : slot + 1) {
    const o = slot * RAW_FIELDS;
    const d = raw[o + 1] as number;
    if (d !== NO_DATA) out.add(times[slot] as number, raw[o] as number, d, raw[o + 2] as number, d);
  }
  out.end();
}

/**
 * 10-minute points of `s` whose bucket [t, t + 10 min) overlaps [fromMs, toMs], oldest first;
 * the bucket still filling comes last, as the mean so far.
 */
function scanBuckets(store: Store, s: Series, fromMs: number, toMs: number, out: Stepper): void {
  const w = store.cfg.bucketMs;
  const axis = store.down;
  const down = s.down;
  const times = axis.times;
  const lo = axis.lowerBound(fromMs - w);
  for (let i = lo, slot = axis.slot(lo); i < axis.count; i++, slot = slot + 1 === axis.cap ? 0 : slot + 1) {
    const t = times[slot] as number;
    if (t > toMs) break;
    if (t + w <= fromMs) continue;
    const o = slot * DOWN_FIELDS;
    const d = down[o + 1] as number;
    if (d !== NO_DATA) out.add(t, down[o] as number, d, down[o + 2] as number, down[o + 3] as number);
  }
  const cur = store.curBucket;
  const acc = s.acc;
  const n = acc[ACC_N] as number;
  if (cur !== null && n > 0 && cur <= toMs && cur + w > fromMs) {
    out.add(
      cur,
      (acc[ACC_U] as number) / n,
      (acc[ACC_D] as number) / n,
      (acc[ACC_T] as number) / n,
      acc[ACC_DMAX] as number,
    );
  }
  out.end();
}

export interface SeriesFilter {
  domain?: string;
  uuid?: string;
  vcpu?: number;
}

export interface ScanSpec {
  tier: Tier;
  fromMs: number;
  toMs: number;
  /** Output step, s; not coarser than nativeStepS: the stored points as they are. */
  stepS: number;
  /** Resolution of the tier, s. */
  nativeStepS: number;
}

function matches(s: Series, f: SeriesFilter): boolean {
  return (
    (f.domain === undefined || s.domain === f.domain) &&
    (f.uuid === undefined || s.uuid === f.uuid) &&
    (f.vcpu === undefined || s.vcpu === f.vcpu)
  );
}

function bySeriesId(
  a: { domain: string; uuid: string | null; vcpu?: number },
  b: { domain: string; uuid: string | null; vcpu?: number },
): number {
  if (a.domain !== b.domain) return a.domain < b.domain ? -1 : 1;
  const au = a.uuid ?? "";
  const bu = b.uuid ?? "";
  if (au !== bu) return au < bu ? -1 : 1;
  return (a.vcpu ?? 0) - (b.vcpu ?? 0);
}

function scan(store: Store, s: Series, spec: ScanSpec, sink: Sink): void {
  const stepMs = spec.stepS > spec.nativeStepS ? spec.stepS * 1000 : 0;
  const out = new Stepper(stepMs, sink);
  if (spec.tier === "raw") scanRaw(store, s, spec.fromMs, spec.toMs, out);
  else scanBuckets(store, s, spec.fromMs, spec.toMs, out);
}

function outStep(spec: ScanSpec): number {
  return spec.stepS > spec.nativeStepS ? spec.stepS : spec.nativeStepS;
}

/** Series matching the filter that have points in the range, sorted by domain, uuid, vCPU. */
export function querySeries(store: Store, f: SeriesFilter, spec: ScanSpec): HistorySeries[] {
  const out: HistorySeries[] = [];
  for (const s of store.series.values()) {
    if (!matches(s, f)) continue;
    const points: HistoryPoint[] = [];
    scan(store, s, spec, (t, u, d, th, dmax) => {
      const delay = d / Q_SCALE;
      const throttled = th / Q_SCALE;
      points.push({
        t,
        usage: u / Q_SCALE,
        delay,
        throttled,
        contention: Math.max(0, delay - throttled),
        delayMax: dmax / Q_SCALE,
      });
    });
    if (points.length > 0)
      out.push({ domain: s.domain, uuid: s.uuid, vcpu: s.vcpu, tier: spec.tier, stepS: outStep(spec), points });
  }
  return out.sort(bySeriesId);
}

/** Per domain instance (name + uuid): sums over its vCPUs at every point in time, sorted by name. */
export function queryDomains(store: Store, f: Omit<SeriesFilter, "vcpu">, spec: ScanSpec): HistoryDomainSeries[] {
  const groups = new Map<string, { out: HistoryDomainSeries; at: Map<number, DomainPoint> }>();
  for (const s of store.series.values()) {
    if (!matches(s, f)) continue;
    const key = `${s.domain}\u0000${s.uuid ?? ""}`;
    let g = groups.get(key);
    let seen = false;
    scan(store, s, spec, (t, u, d, th, dmax) => {
      if (g === undefined) {
        g = {
          out: { domain: s.domain, uuid: s.uuid, vcpus: [], tier: spec.tier, stepS: outStep(spec), points: [] },
          at: new Map(),
        };
        groups.set(key, g);
      }
      seen = true;
      const delay = d / Q_SCALE;
      const throttled = th / Q_SCALE;
      const contention = Math.max(0, delay - throttled);
      const p = g.at.get(t);
      if (p === undefined) {
        g.at.set(t, { t, usage: u / Q_SCALE, delay, throttled, contention, delayMax: dmax / Q_SCALE, vcpus: 1 });
      } else {
        p.usage += u / Q_SCALE;
        p.delay += delay;
        p.throttled += throttled;
        p.contention += contention;
        p.delayMax = Math.max(p.delayMax, dmax / Q_SCALE);
        p.vcpus++;
      }
    });
    if (seen && g !== undefined) g.out.vcpus.push(s.vcpu);
  }
  const out: HistoryDomainSeries[] = [];
  for (const g of groups.values()) {
    g.out.vcpus.sort((a, b) => a - b);
    g.out.points = [...g.at.values()].sort((a, b) => a.t - b.t);
    out.push(g.out);
  }
  return out.sort(bySeriesId);
}
