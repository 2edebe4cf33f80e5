import type { DomainThreads } from "../model/types.js";
import type { VcpuAverage } from "./window.js";

export interface Neighbour {
  domain: string;
  uuid: string | null;
  /** Cores of CPU this VM used on the host CPUs the victim may run on (window average). */
  cpuOnSharedCpus: number;
  /** That, as a fraction of the shared CPUs' capacity. */
  shareOfSharedCpus: number;
}

export interface NoisyNeighbours {
  domain: string;
  uuid: string | null;
  /** The victim's contention steal, in cores (Σ over its vCPUs, window average). */
  contention: number;
  throttled: number;
  /** Host CPUs the victim's vCPUs may run on (union of their affinities). */
  cpus: number[];
  neighbours: Neighbour[];
}

/**
 * For a VM that waits, the other VMs ranked by the CPU they used on the host CPUs it may run on.
 * schedstat does not say on which CPU a thread ran, so a neighbour vCPU's usage is spread
 * evenly over the CPUs it may run on and counted for the share that the victim may use too.
 * That is exact for pinned VMs and a fair estimate for floating ones.
 */
export function noisyNeighbours(
  victim: string,
  averages: readonly VcpuAverage[],
  discovered: readonly DomainThreads[],
  hostCpus: number,
  limit = 5,
): NoisyNeighbours | null {
  const all = Array.from({ length: hostCpus }, (_, i) => i);
  const affinity = new Map<string, number[]>();
  for (const d of discovered) for (const v of d.vcpus) affinity.set(`${d.uuid ?? d.name}|${v.vcpu}`, v.affinity ?? all);
  const aff = (a: VcpuAverage): number[] => affinity.get(`${a.domain.uuid ?? a.domain.name}|${a.vcpu}`) ?? all;

  const mine = averages.filter((a) => a.domain.name === victim || a.domain.uuid === victim);
  if (mine.length === 0) return null;
  const first = mine[0]!.domain;
  const shared = new Set<number>();
  for (const a of mine) for (const c of aff(a)) shared.add(c);
  const byDomain = new Map<string, Neighbour>();
  for (const a of averages) {
    if (a.domain.name === first.name && a.domain.uuid === first.uuid) continue;
    const cpus = aff(a);
    if (cpus.length === 0) continue;
    const overlap = cpus.filter((c) => shared.has(c)).length / cpus.length;
    if (overlap === 0) continue;
    const key = a.domain.uuid ?? a.domain.name;
    const n = byDomain.get(key) ?? {
      domain: a.domain.name,
      uuid: a.domain.uuid,
      cpuOnSharedCpus: 0,
      shareOfSharedCpus: 0,
    };
    n.cpuOnSharedCpus += a.usage * overlap;
    byDomain.set(key, n);
  }
  const neighbours = [...byDomain.values()]
    .map((n) => ({ ...n, shareOfSharedCpus: shared.size > 0 ? n.cpuOnSharedCpus / shared.size : 0 }))
    .sort((a, b) => b.cpuOnSharedCpus - a.cpuOnSharedCpus || a.domain.localeCompare(b.domain))
    .slice(0, limit);
  return {
    domain: first.name,
    uuid: first.uuid,
    contention: mine.reduce((s, a) => s + a.contention, 0),
    throttled: mine.reduce((s, a) => s + a.throttled, 0),
    cpus: [...shared].sort((a, b) => a - b),
    neighbours,
  };
}
