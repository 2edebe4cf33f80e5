import type { DomainInfo, RatesSample } from "../model/types.js";

/** A vCPU's rates averaged over the recent window. */
export interface VcpuAverage {
  domain: DomainInfo;
  vcpu: number;
  usage: number;
  delay: number;
  throttled: number;
  contention: number;
  /** When this vCPU was last sampled (ms since the epoch). */
  lastMs: number;
}

/**
 * Per-vCPU rates averaged over a window: an exponential moving average with time constant
 * `windowS`, so memory is one entry per vCPU whatever the window. Entries not updated for
 * two windows (VM gone) are dropped.
 */
export class RateWindow {
  private readonly avg = new Map<string, VcpuAverage>();

  constructor(readonly windowS: number) {}

  add(rates: RatesSample): void {
    const alpha = 1 - Math.exp(-rates.intervalS / this.windowS);
    for (const d of rates.domains) {
      const base = d.domain.uuid ?? d.domain.name;
      for (const v of d.vcpus) {
        const key = `${base}|${v.vcpu}`;
        const a = this.avg.get(key);
        if (!a) {
          this.avg.set(key, {
            domain: d.domain,
            vcpu: v.vcpu,
            usage: v.usage,
            delay: v.delay,
            throttled: v.throttled,
            contention: v.contention,
            lastMs: rates.wallMs,
          });
          continue;
        }
        a.domain = d.domain;
        a.usage += alpha * (v.usage - a.usage);
        a.delay += alpha * (v.delay - a.delay);
        a.throttled += alpha * (v.throttled - a.throttled);
        a.contention += alpha * (v.contention - a.contention);
        a.lastMs = rates.wallMs;
      }
    }
    for (const [k, a] of this.avg) if (rates.wallMs - a.lastMs > 2 * this.windowS * 1000) this.avg.delete(k);
  }

  values(): VcpuAverage[] {
    return [...this.avg.values()];
  }
}
