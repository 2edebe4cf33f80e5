/**
 * Random fleets for tests and benchmarks, deterministic by seed. VM demands are drawn, VMs are
 * placed with some hosts crowded on purpose, and the "measured" usage and delay in the snapshot
 * are what the contention model predicts for that placement — a self-consistent snapshot.
 */
import type { FleetSnapshot, FleetVm } from "../model/fleet.js";
import { predictHost } from "../model/contention.js";
import { prng } from "./scenario.js";

export interface FleetSpec {
  hosts: number;
  vmsPerHost: number;
  seed: number;
  /** CPUs per host (all hosts alike). */
  cpus?: number;
  reservedCpus?: number;
  memoryMib?: number;
  /** Fraction of hosts that get more than their share of VMs. */
  hotFraction?: number;
  /** How many times the average load a hot host gets. */
  hotFactor?: number;
  /** Mean per-vCPU demand. */
  meanDemand?: number;
  vcpuChoices?: readonly number[];
  maxMoves?: number | null;
  /** Fraction of VMs with migratable: false, and with a CPU cap. */
  pinnedFraction?: number;
  cappedFraction?: number;
}

export function generateFleet(spec: FleetSpec): FleetSnapshot {
  const rand = prng(spec.seed);
  const cpus = spec.cpus ?? 32;
  const reserved = spec.reservedCpus ?? 2;
  const hotFraction = spec.hotFraction ?? 0.1;
  const hotFactor = spec.hotFactor ?? 1.6;
  const meanDemand = spec.meanDemand ?? 0.45;
  const vcpuChoices = spec.vcpuChoices ?? [1, 2, 2, 4, 4, 8];
  const hosts = Array.from({ length: spec.hosts }, (_, i) => ({
    name: `hv${String(i + 1).padStart(String(spec.hosts).length, "0")}`,
    cpus,
    memory_mib: spec.memoryMib ?? 262144,
    reserved_cpus: reserved,
    accepts_vms: true,
  }));
  // Weight of each host when placing VMs: hot hosts draw more.
  const weights = hosts.map(() => (rand() < hotFraction ? hotFactor : 1));
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const total = spec.hosts * spec.vmsPerHost;
  const counts = weights.map((w) => Math.floor((w / weightSum) * total));
  let left = total - counts.reduce((a, b) => a + b, 0);
  for (let h = 0; left > 0; h = (h + 1) % spec.hosts, left--) counts[h]!++;

  interface Draft {
    name: string;
    host: number;
    vcpus: number;
    demand: number[];
    cap: number | null;
    migratable: boolean;
  }
  const drafts: Draft[] = [];
  let n = 0;
  counts.forEach((count, h) => {
    for (let j = 0; j < count; j++) {
      n++;
      const vcpus = vcpuChoices[Math.floor(rand() * vcpuChoices.length)]!;
      const level = Math.min(1, Math.max(0.02, meanDemand * (0.3 + 1.4 * rand())));
      const capped = rand() < (spec.cappedFraction ?? 0.03);
      drafts.push({
        name: `vm${String(n).padStart(String(total).length, "0")}`,
        host: h,
        vcpus,
        demand: Array.from({ length: vcpus }, (_, i) =>
          Math.min(1, Math.max(0.01, level * (vcpus === 1 ? 1 : 1.15 - (0.3 * i) / (vcpus - 1)))),
        ),
        cap: capped ? 0.5 : null,
        migratable: rand() >= (spec.pinnedFraction ?? 0.05),
      });
    }
  });

  const vms: FleetVm[] = new Array<FleetVm>(drafts.length);
  hosts.forEach((host, h) => {
    const on = drafts.map((d, i) => ({ d, i })).filter((x) => x.d.host === h);
    if (on.length === 0) return;
    // A capped VM wanting more than its cap: the cap holds it, the rest shows up as throttled.
    const p = predictHost(
      host.cpus - host.reserved_cpus,
      on.map(({ d }) => ({ id: d.name, vcpus: d.demand.map((x) => ({ demand: x, cap: d.cap })) })),
    );
    on.forEach(({ d, i }, j) => {
      const pv = p.vms[j]!;
      const throttled = d.demand.map((x) => (d.cap !== null ? Math.max(0, x - d.cap) : 0));
      vms[i] = {
        name: d.name,
        uuid: null,
        host: host.name,
        vcpus: d.vcpus,
        memory_mib: 2048 * d.vcpus,
        usage: pv.usage.map(r4),
        delay: pv.delay.map((x, k) => r4(x + throttled[k]!)),
        throttled: throttled.map(r4),
        cap: d.cap,
        migratable: d.migratable,
      };
    });
  });
  return {
    version: 1,
    time: "2026-11-25T12:00:00Z",
    window_s: 300,
    hosts,
    vms,
    constraints: { max_moves: spec.maxMoves === undefined ? null : spec.maxMoves, anti_affinity: [] },
  };
}

function r4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/**
 * The snapshot after these moves, "measured" again with the contention model: each VM keeps
 * its demand (usage + contention) and its throttling; usage and delay are what the model
 * predicts on its new host. For multi-round comparisons (plan, apply, plan again).
 */
export function applyMoves(snapshot: FleetSnapshot, moves: readonly { vm: string; to: string }[]): FleetSnapshot {
  const to = new Map(moves.map((m) => [m.vm, m.to]));
  const vms = snapshot.vms.map((v) => ({ ...v, host: to.get(v.name) ?? v.host }));
  const out: FleetVm[] = vms.slice();
  for (const host of snapshot.hosts) {
    const on = vms.map((v, i) => ({ v, i })).filter((x) => x.v.host === host.name);
    if (on.length === 0) continue;
    const p = predictHost(
      Math.max(0, host.cpus - host.reserved_cpus),
      on.map(({ v }) => ({
        id: v.name,
        vcpus: v.usage.map((u, k) => ({ demand: u + Math.max(0, v.delay[k]! - v.throttled[k]!), cap: v.cap })),
      })),
    );
    on.forEach(({ v, i }, j) => {
      const pv = p.vms[j]!;
      out[i] = { ...v, usage: pv.usage.map(r4), delay: pv.delay.map((d, k) => r4(d + v.throttled[k]!)) };
    });
  }
  return { ...snapshot, vms: out };
}
