/**
 * Time series the page keeps: what it polled live since it opened, and what the agent's history
 * store returned. Views ask for "this domain over [from, to]" and get history followed by the
 * live points newer than the history's last point.
 */
import type { DomainsResponse, HistoryResponse, HostResponse } from "./api.js";

/** One point of a domain (averaged over its vCPUs) or of one vCPU: fractions of wall time. */
export interface Pt {
  t: number;
  usage: number;
  steal: number;
  contention: number;
  throttled: number;
}

/** One point of the host, in cores. */
export interface HostPt {
  t: number;
  usage: number;
  demand: number;
  contention: number;
  throttled: number;
  capacity: number;
}

/** Live points kept per series: two hours at one sample a second. */
const MAX_LIVE = 7200;

function push<T extends { t: number }>(arr: T[], p: T): void {
  const last = arr[arr.length - 1];
  if (last && p.t <= last.t) return;
  arr.push(p);
  if (arr.length > MAX_LIVE + 600) arr.splice(0, arr.length - MAX_LIVE);
}

export const domainKey = (d: { domain: string; uuid: string | null }): string => d.uuid ?? `name:${d.domain}`;

interface LiveDomain {
  name: string;
  uuid: string | null;
  agg: Pt[];
  vcpus: Map<number, Pt[]>;
}

export class LiveStore {
  readonly domains = new Map<string, LiveDomain>();
  readonly host: HostPt[] = [];
  /** When the page took its first sample (null before). */
  firstMs: number | null = null;
  private lastT = 0;

  add(d: DomainsResponse, host: HostResponse | null): void {
    if (host && host.time !== null) {
      push(this.host, {
        t: host.time,
        usage: host.usage,
        demand: host.demand,
        contention: host.contention,
        throttled: host.throttled,
        capacity: host.capacity,
      });
    }
    const t = d.time;
    if (t === null || t <= this.lastT) return;
    this.lastT = t;
    this.firstMs ??= t;
    for (const dom of d.domains) {
      const key = domainKey(dom);
      let l = this.domains.get(key);
      if (!l) {
        l = { name: dom.domain, uuid: dom.uuid, agg: [], vcpus: new Map() };
        this.domains.set(key, l);
      }
      l.name = dom.domain; // a renamed VM keeps its uuid and its series
      push(l.agg, { t, usage: dom.usage, steal: dom.steal, contention: dom.contention, throttled: dom.throttled });
      for (const v of dom.vcpus) {
        let s = l.vcpus.get(v.vcpu);
        if (!s) l.vcpus.set(v.vcpu, (s = []));
        push(s, { t, usage: v.usage, steal: v.steal, contention: v.contention, throttled: v.throttled });
      }
    }
  }
}

/** What /api/v1/history gave, regrouped: per domain (vCPU average), per vCPU, and the host (sums). */
export interface HistoryData {
  fromMs: number;
  toMs: number;
  stepS: number;
  domains: Map<string, { name: string; uuid: string | null; agg: Pt[]; vcpus: Map<number, Pt[]> }>;
  host: HostPt[];
}

/**
 * `intervalS` is the agent's sampling interval: points at that resolution are samples, stamped at
 * their end like live points; coarser points are buckets stamped at their start, so they are moved
 * to their end, and a bucket that has not ended yet is left to the live points.
 */
export function regroupHistory(r: HistoryResponse, stepS: number, capacity: number, intervalS = 1): HistoryData {
  let resolutionS = 0;
  const domains: HistoryData["domains"] = new Map();
  const hostSum = new Map<number, HostPt>();
  const sums = new Map<string, Map<number, { n: number; p: Pt }>>();
  for (const s of r.series) {
    const key = domainKey(s);
    let d = domains.get(key);
    if (!d) domains.set(key, (d = { name: s.domain, uuid: s.uuid, agg: [], vcpus: new Map() }));
    let byT = sums.get(key);
    if (!byT) sums.set(key, (byT = new Map()));
    const pts: Pt[] = [];
    const bucketMs = s.step_s > intervalS + 1e-9 ? s.step_s * 1000 : 0;
    resolutionS = Math.max(resolutionS, s.step_s);
    for (const p of s.points) {
      const t = p.t + bucketMs;
      if (bucketMs > 0 && t > r.to) continue;
      const pt: Pt = { t, usage: p.usage, steal: p.delay, contention: p.contention, throttled: p.throttled };
      pts.push(pt);
      const a = byT.get(t);
      if (a) {
        a.n++;
        a.p.usage += pt.usage;
        a.p.steal += pt.steal;
        a.p.contention += pt.contention;
        a.p.throttled += pt.throttled;
      } else byT.set(t, { n: 1, p: { ...pt } });
      const h = hostSum.get(t);
      if (h) {
        h.usage += pt.usage;
        h.contention += pt.contention;
        h.throttled += pt.throttled;
      } else
        hostSum.set(t, { t, usage: pt.usage, contention: pt.contention, throttled: pt.throttled, demand: 0, capacity });
    }
    pts.sort((a, b) => a.t - b.t);
    d.vcpus.set(s.vcpu, pts);
  }
  for (const [key, byT] of sums) {
    const d = domains.get(key);
    if (!d) continue;
    d.agg = [...byT.values()]
      .map(({ n, p }) => ({
        t: p.t,
        usage: p.usage / n,
        steal: p.steal / n,
        contention: p.contention / n,
        throttled: p.throttled / n,
      }))
      .sort((a, b) => a.t - b.t);
  }
  const host = [...hostSum.values()].map((h) => ({ ...h, demand: h.usage + h.contention })).sort((a, b) => a.t - b.t);
  return { fromMs: r.from, toMs: r.to, stepS: resolutionS || stepS, domains, host };
}

/** History up to its last point, then the live points after it; only what lies in [from, to]. */
export function combine<T extends { t: number }>(
  hist: readonly T[] | undefined,
  live: readonly T[] | undefined,
  from: number,
  to: number,
): T[] {
  const out: T[] = [];
  let cut = -Infinity;
  for (const p of hist ?? []) {
    if (p.t >= from && p.t <= to) out.push(p);
    cut = Math.max(cut, p.t);
  }
  for (const p of live ?? []) if (p.t > cut && p.t >= from && p.t <= to) out.push(p);
  return out;
}

/**
 * Since when a domain has been waiting: the start of the run of points, ending at the newest,
 * whose steal stays at or above `min`. `sinceStart` says the run reaches back to the oldest data
 * (it may have started earlier). Null when the newest point is below `min`.
 */
export function waitingSince(pts: readonly Pt[], min = 0.01): { since: number; sinceStart: boolean } | null {
  let i = pts.length - 1;
  const last = pts[i];
  if (!last || last.steal < min) return null;
  while (i > 0 && (pts[i - 1]?.steal ?? 0) >= min) i--;
  return { since: pts[i]?.t ?? last.t, sinceStart: i === 0 };
}
