/**
 * Per-host and per-VM figures of a fleet snapshot, as the dashboard's fleet view shows them:
 * what each host carries (demand against capacity) and how long its vCPUs wait. Pure.
 *
 * Demand is the agent's own (vsteal_host_vcpu_demand_cores): Σ over vCPUs of run time plus
 * contention wait, in cores — what the VMs would run if nothing held them back (a cap's
 * throttling is not demand the host could serve).
 */
import { contentionOf, type FleetSnapshot, type FleetVm } from "../model/fleet.js";

export interface HostSummary {
  name: string;
  cpus: number;
  reserved_cpus: number;
  /** cpus − reserved_cpus: CPUs left for VMs. */
  capacity: number;
  accepts_vms: boolean;
  vms: number;
  vcpus: number;
  /** Σ usage, cores. */
  usage: number;
  /** Σ (usage + contention), cores. */
  demand: number;
  /** Σ contention wait (delay not caused by the VM's own cap), cores. */
  contention: number;
  /** Σ throttled wait (the VM's own cap), cores. */
  throttled: number;
}

export interface VmSummary {
  name: string;
  host: string;
  vcpus: number;
  usage: number;
  demand: number;
  contention: number;
  throttled: number;
  /** The worst vCPU's contention, fraction of its wall time. */
  max_contention: number;
  cap: number | null;
  migratable: boolean;
  /** Who owns it (the snapshot's platform), when not libvirt alone. */
  platform?: FleetVm["platform"];
}

const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;

export function summarizeVms(s: FleetSnapshot): VmSummary[] {
  return s.vms.map((vm) => {
    let usage = 0;
    let contention = 0;
    let throttled = 0;
    let max = 0;
    for (let i = 0; i < vm.vcpus; i++) {
      const c = contentionOf(vm, i);
      usage += vm.usage[i] ?? 0;
      contention += c;
      throttled += Math.min(vm.throttled[i] ?? 0, vm.delay[i] ?? 0);
      max = Math.max(max, c);
    }
    return {
      name: vm.name,
      host: vm.host,
      vcpus: vm.vcpus,
      usage: r4(usage),
      demand: r4(usage + contention),
      contention: r4(contention),
      throttled: r4(throttled),
      max_contention: r4(max),
      cap: vm.cap,
      migratable: vm.migratable,
      ...(vm.platform ? { platform: vm.platform } : {}),
    };
  });
}

/** One summary per host, in the snapshot's order; hosts without VMs have zeros. */
export function summarizeHosts(s: FleetSnapshot, vms: readonly VmSummary[] = summarizeVms(s)): HostSummary[] {
  const byHost = new Map<string, HostSummary>();
  const out = s.hosts.map((h) => {
    const x: HostSummary = {
      name: h.name,
      cpus: h.cpus,
      reserved_cpus: h.reserved_cpus,
      capacity: Math.max(0, h.cpus - h.reserved_cpus),
      accepts_vms: h.accepts_vms,
      vms: 0,
      vcpus: 0,
      usage: 0,
      demand: 0,
      contention: 0,
      throttled: 0,
    };
    byHost.set(h.name, x);
    return x;
  });
  for (const v of vms) {
    const x = byHost.get(v.host);
    if (!x) continue;
    x.vms++;
    x.vcpus += v.vcpus;
    x.usage += v.usage;
    x.demand += v.demand;
    x.contention += v.contention;
    x.throttled += v.throttled;
  }
  for (const x of out) {
    x.usage = r4(x.usage);
    x.demand = r4(x.demand);
    x.contention = r4(x.contention);
    x.throttled = r4(x.throttled);
  }
  return out;
}
