import type { RatesSample } from "../model/types.js";

/** The host as a whole: what VMs ask of it against what it has. */
export interface HostSummary {
  /** Host CPUs (online). */
  cpus: number;
  /** CPUs VMs may use (--vm-cpus, libvirt's machine cpuset; default all online CPUs). */
  vmCpus: number;
  /** CPUs kept for the host itself. */
  reservedCpus: number;
  /** vmCpus - reservedCpus: what VMs can have. */
  capacity: number;
  runningDomains: number;
  /** Online vCPUs of running domains. */
  vcpusAllocated: number;
  /** vcpusAllocated / capacity. */
  oversubscription: number;
  /** Σ (usage + contention) over vCPUs, in cores: what VMs would run if nothing else held them back (caps excluded). */
  demand: number;
  /** demand / capacity; above 1 the host is oversubscribed in fact, not just on paper. */
  demandRatio: number;
  /** Σ usage in cores. */
  usage: number;
  /** Σ delay (all steal) in cores. */
  steal: number;
  /** Σ contention in cores (steal caused by other load; migration helps). */
  contention: number;
  /** Σ throttled in cores (steal caused by the VMs' own caps; migration does not help). */
  throttled: number;
  /** Percentiles of per-vCPU steal (delay fraction). */
  stealPercentiles: { p50: number; p90: number; p99: number; max: number };
  vcpusSampled: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? 0;
}

export function hostSummary(rates: RatesSample | null, cpus: number, reservedCpus = 0, vmCpus = cpus): HostSummary {
  const capacity = Math.max(vmCpus - reservedCpus, 0);
  let vcpusAllocated = 0;
  let runningDomains = 0;
  let usage = 0;
  let steal = 0;
  let contention = 0;
  let throttled = 0;
  const delays: number[] = [];
  for (const d of rates?.domains ?? []) {
    if (d.domain.pid === null) continue;
    runningDomains++;
    vcpusAllocated += d.domain.vcpuCurrent;
    for (const v of d.vcpus) {
      usage += v.usage;
      steal += v.delay;
      contention += v.contention;
      throttled += v.throttled;
      delays.push(v.delay);
    }
  }
  delays.sort((a, b) => a - b);
  const demand = usage + contention;
  return {
    cpus,
    vmCpus,
    reservedCpus,
    capacity,
    runningDomains,
    vcpusAllocated,
    oversubscription: capacity > 0 ? vcpusAllocated / capacity : 0,
    demand,
    demandRatio: capacity > 0 ? demand / capacity : 0,
    usage,
    steal,
    contention,
    throttled,
    stealPercentiles: {
      p50: quantile(delays, 0.5),
      p90: quantile(delays, 0.9),
      p99: quantile(delays, 0.99),
      max: delays[delays.length - 1] ?? 0,
    },
    vcpusSampled: delays.length,
  };
}
