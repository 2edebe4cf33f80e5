/**
 * The planner's working copy of a fleet: where every VM is, what each host carries, its
 * predicted contention, and which moves the constraints allow. Every policy plans on it, so
 * every policy obeys the same rules and is scored by the same model.
 */
import { contentionOf, type FleetSnapshot, type FleetVm } from "../model/fleet.js";
import { StealAccumulator, effectiveDemand, type ModelMode } from "../model/contention.js";

export class FleetState {
  readonly snapshot: FleetSnapshot;
  readonly mode: ModelMode;
  readonly hostIndex = new Map<string, number>();
  readonly vmIndex = new Map<string, number>();
  /** Host of each VM (index). */
  readonly vmHost: Int32Array;
  /** Effective demand of each vCPU of each VM (usage + contention, ≤ cap, ≤ 1). */
  readonly vmDemands: number[][];
  /** Σ of vmDemands, cores. */
  readonly vmDemand: Float64Array;
  /** Measured Σ usage of each VM, cores (what utilisation-based policies see). */
  readonly vmUsage: Float64Array;
  /** Measured contention delay of each VM: Σ and max over its vCPUs. */
  readonly vmContention: Float64Array;
  readonly vmMaxContention: Float64Array;
  /** VMs on each host, in snapshot order. */
  readonly hostVms: number[][];
  /** cpus − reserved_cpus. */
  readonly hostCapacity: Float64Array;
  readonly hostMemUsed: Float64Array;
  readonly hostUsage: Float64Array;
  /** Anti-affinity groups each VM is in (lists of VM indices; unknown names dropped). */
  readonly vmGroups: number[][][];
  private readonly acc: StealAccumulator[];
  private readonly steal: Float64Array;
  private readonly scratch: Float64Array;
  private withoutScratch = new Float64Array(64);
  private maxVcpus = 0;

  constructor(snapshot: FleetSnapshot, mode: ModelMode) {
    this.snapshot = snapshot;
    this.mode = mode;
    const H = snapshot.hosts.length;
    const V = snapshot.vms.length;
    snapshot.hosts.forEach((h, i) => this.hostIndex.set(h.name, i));
    snapshot.vms.forEach((v, i) => this.vmIndex.set(v.name, i));
    this.vmHost = new Int32Array(V);
    this.vmDemand = new Float64Array(V);
    this.vmUsage = new Float64Array(V);
    this.vmContention = new Float64Array(V);
    this.vmMaxContention = new Float64Array(V);
    this.hostVms = snapshot.hosts.map(() => []);
    this.hostCapacity = new Float64Array(H);
    this.hostMemUsed = new Float64Array(H);
    this.hostUsage = new Float64Array(H);
    snapshot.hosts.forEach((h, i) => {
      this.hostCapacity[i] = Math.max(0, h.cpus - h.reserved_cpus);
    });
    this.vmDemands = snapshot.vms.map((vm) => vmDemands(vm));
    snapshot.vms.forEach((vm, v) => {
      const h = this.hostIndex.get(vm.host);
      if (h === undefined) throw new Error(`VM ${vm.name}: unknown host ${vm.host}`);
      this.vmHost[v] = h;
      this.hostVms[h]!.push(v);
      this.vmDemand[v] = this.vmDemands[v]!.reduce((a, b) => a + b, 0);
      this.vmUsage[v] = vm.usage.reduce((a, b) => a + b, 0);
      let c = 0;
      let m = 0;
      for (let i = 0; i < vm.vcpus; i++) {
        const x = contentionOf(vm, i);
        c += x;
        m = Math.max(m, x);
      }
      this.vmContention[v] = c;
      this.vmMaxContention[v] = m;
      this.hostMemUsed[h]! += vm.memory_mib;
      this.hostUsage[h]! += this.vmUsage[v]!;
    });
    this.vmGroups = snapshot.vms.map(() => []);
    for (const group of snapshot.constraints.anti_affinity) {
      const members = [...new Set(group.flatMap((n) => (this.vmIndex.has(n) ? [this.vmIndex.get(n)!] : [])))];
      if (members.length < 2) continue;
      for (const v of members) this.vmGroups[v]!.push(members);
    }
    this.acc = snapshot.hosts.map(() => new StealAccumulator(0, mode));
    this.steal = new Float64Array(H);
    let maxCap = 1;
    for (let h = 0; h < H; h++) {
      this.rebuild(h);
      maxCap = Math.max(maxCap, Math.ceil(this.hostCapacity[h]!));
    }
    this.scratch = new Float64Array(maxCap + 1);
  }

  get hostCount(): number {
    return this.snapshot.hosts.length;
  }

  get vmCount(): number {
    return this.snapshot.vms.length;
  }

  hostName(h: number): string {
    return this.snapshot.hosts[h]!.name;
  }

  vm(v: number): FleetVm {
    return this.snapshot.vms[v]!;
  }

  private rebuild(h: number): void {
    const a = new StealAccumulator(this.hostCapacity[h]!, this.mode);
    let n = 0;
    for (const v of this.hostVms[h]!) {
      a.addAll(this.vmDemands[v]!);
      n += this.vmDemands[v]!.length;
    }
    this.maxVcpus = Math.max(this.maxVcpus, n + 1);
    this.acc[h] = a;
    this.steal[h] = a.steal();
  }

  /** Predicted contention delay of the host, cores. */
  hostSteal(h: number): number {
    return this.steal[h]!;
  }

  /** Σ effective demand on the host, cores. */
  hostDemand(h: number): number {
    return this.acc[h]!.demand;
  }

  totalSteal(): number {
    let s = 0;
    for (let h = 0; h < this.hostCount; h++) s += this.steal[h]!;
    return s;
  }

  /** The host's predicted contention if VM v were not there. */
  stealWithout(h: number, v: number): number {
    if (this.vmHost[v] !== h) return this.steal[h]!;
    if (this.withoutScratch.length < this.maxVcpus + 2) this.withoutScratch = new Float64Array(this.maxVcpus * 2 + 2);
    return this.acc[h]!.stealWithout(this.vmDemands[v]!, this.withoutScratch);
  }

  /** The host's predicted contention if VM v came there too. */
  stealWith(h: number, v: number): number {
    return this.acc[h]!.stealWith(this.vmDemands[v]!, this.scratch);
  }

  /**
   * Why VM v may not move to host t now, or null when it may: migratable, another host that
   * accepts VMs, memory, CPU (the target's demand stays within its capacity; the VM is not
   * wider than the host), anti-affinity (no new pair of group members on one host, unless the
   * move removes more such pairs than it makes). `cpuHeadroom: false` drops the CPU headroom
   * rule (not the VM's width): a drain must empty its host even onto busy targets.
   */
  refusal(v: number, t: number, cpuHeadroom = true): string | null {
    const vm = this.vm(v);
    const s = this.vmHost[v]!;
    const host = this.snapshot.hosts[t]!;
    if (!vm.migratable) return `${vm.name} is not migratable`;
    if (s === t) return `${vm.name} is already on ${host.name}`;
    if (!host.accepts_vms) return `${host.name} accepts no VMs`;
    if (this.hostMemUsed[t]! + vm.memory_mib > host.memory_mib) {
      return `${host.name} has ${fmt(host.memory_mib - this.hostMemUsed[t]!, 0)} MiB free, ${vm.name} needs ${vm.memory_mib}`;
    }
    if (vm.vcpus > this.hostCapacity[t]!)
      return `${vm.name} has ${vm.vcpus} vCPUs, ${host.name} only ${this.hostCapacity[t]} cores for VMs`;
    if (cpuHeadroom && this.hostDemand(t) + this.vmDemand[v]! > this.hostCapacity[t]! + 1e-9) {
      return `${host.name} would be oversubscribed (demand ${fmt(this.hostDemand(t) + this.vmDemand[v]!, 1)} of ${this.hostCapacity[t]} cores)`;
    }
    for (const group of this.vmGroups[v]!) {
      let atTarget = 0;
      let atSource = 0;
      for (const u of group) {
        if (u === v) continue;
        if (this.vmHost[u] === t) atTarget++;
        if (this.vmHost[u] === s) atSource++;
      }
      if (atTarget > 0 && atTarget >= atSource) {
        const other = group.find((u) => u !== v && this.vmHost[u] === t)!;
        return `anti-affinity: ${this.vm(other).name} is on ${host.name}`;
      }
    }
    return null;
  }

  /** Moves VM v to host t (no checks: call refusal first). */
  apply(v: number, t: number): void {
    const s = this.vmHost[v]!;
    const vm = this.vm(v);
    const list = this.hostVms[s]!;
    list.splice(list.indexOf(v), 1);
    this.hostVms[t]!.push(v);
    this.vmHost[v] = t;
    this.hostMemUsed[s]! -= vm.memory_mib;
    this.hostMemUsed[t]! += vm.memory_mib;
    this.hostUsage[s]! -= this.vmUsage[v]!;
    this.hostUsage[t]! += this.vmUsage[v]!;
    this.rebuild(s);
    this.acc[t]!.addAll(this.vmDemands[v]!);
    this.steal[t] = this.acc[t]!.steal();
    let n = 0;
    for (const u of this.hostVms[t]!) n += this.vmDemands[u]!.length;
    this.maxVcpus = Math.max(this.maxVcpus, n + 1);
  }

  /**
   * A VM held back by its own CPU cap: one of its vCPUs is throttled at least `threshold` of
   * the time and none waits that long for other load. Moving it cures nothing it suffers from.
   */
  heldByCap(v: number, threshold: number): boolean {
    const vm = this.vm(v);
    return this.vmMaxContention[v]! < threshold && vm.throttled.some((t) => t >= threshold);
  }

  /** Measured contention on the host: Σ over its vCPUs (cores) and the worst vCPU. */
  measuredContention(h: number): { total: number; max: number } {
    let total = 0;
    let max = 0;
    for (const v of this.hostVms[h]!) {
      total += this.vmContention[v]!;
      max = Math.max(max, this.vmMaxContention[v]!);
    }
    return { total, max };
  }
}

/** Effective demand per vCPU: usage + contention, within the cap and [0, 1]. */
export function vmDemands(vm: FleetVm): number[] {
  const out: number[] = [];
  for (let i = 0; i < vm.vcpus; i++)
    out.push(effectiveDemand({ demand: (vm.usage[i] ?? 0) + contentionOf(vm, i), cap: vm.cap }));
  return out;
}

export function fmt(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return s === `-${(0).toFixed(digits)}` ? (0).toFixed(digits) : s;
}

/** A fraction as a percentage for people: 0.113 → "11 %", 0.004 → "0.4 %". */
export function pct(x: number): string {
  const p = x * 100;
  if (p !== 0 && Math.abs(p) < 10) return `${fmt(p, 1)} %`;
  return `${fmt(p, 0)} %`;
}
