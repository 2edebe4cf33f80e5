import type { DomainRates, RatesSample, Sample, VcpuCounters, VcpuRates } from "../model/types.js";
import { domainKey } from "../model/domain-key.js";

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/**
 * Rates of one vCPU between two readings of the same thread, as fractions of the wall time
 * `dtNs`. Returns null when a counter went backwards (the thread was replaced: a reset).
 * A rate is never negative and never above 1; run + wait never exceed the interval
 * (reads of one sweep are not all at one instant, so a small overshoot is scaled back).
 */
export function vcpuRates(prev: VcpuCounters, cur: VcpuCounters, dtNs: bigint): VcpuRates | null {
  if (dtNs <= 0n) return null;
  const dTime = cur.time - prev.time;
  const dDelay = cur.delay - prev.delay;
  if (dTime < 0n || dDelay < 0n) return null;
  const dt = Number(dtNs);
  let usage = Number(dTime) / dt;
  let delay = Number(dDelay) / dt;
  const sum = usage + delay;
  if (sum > 1) {
    usage /= sum;
    delay /= sum;
  }
  usage = clamp01(usage);
  delay = clamp01(delay);
  let throttled = 0;
  if (prev.throttled !== null && cur.throttled !== null && cur.throttled >= prev.throttled) {
    throttled = Math.min(delay, Number(cur.throttled - prev.throttled) / dt);
  }
  return { vcpu: cur.vcpu, tid: cur.tid, usage, delay, throttled, contention: delay - throttled };
}

/**
 * Rates between two samples. A vCPU is matched by domain instance (uuid or name, and QEMU
 * pid), vCPU number and thread id: a restarted VM, a replaced thread or a reused tid starts a
 * new series instead of producing a negative or impossible step.
 */
export function computeRates(prev: Sample, cur: Sample): RatesSample {
  const dtNs = cur.monotonicNs - prev.monotonicNs;
  const intervalS = Number(dtNs) / 1e9;
  const before = new Map<string, VcpuCounters>();
  for (const d of prev.domains) {
    const dk = domainKey(d.domain);
    for (const v of d.vcpus) before.set(`${dk}|${v.vcpu}|${v.tid}`, v);
  }
  const domains: DomainRates[] = [];
  for (const d of cur.domains) {
    const dk = domainKey(d.domain);
    const vcpus: VcpuRates[] = [];
    for (const v of d.vcpus) {
      const p = before.get(`${dk}|${v.vcpu}|${v.tid}`);
      if (!p) continue;
      const r = vcpuRates(p, v, dtNs);
      if (r) vcpus.push(r);
    }
    domains.push({ domain: d.domain, intervalS, vcpus });
  }
  return { wallMs: cur.wallMs, intervalS, domains, problems: cur.problems };
}
