/**
 * The pure half of the snapshot builder: from the PromQL answers (snapshot-fetch.ts) to a fleet
 * snapshot, in named phases, each a function of what the phases before it found. No I/O: every
 * phase is tested on plain series (snapshot-assembly.test.ts).
 *
 *   hostNames        what each agent calls its host (`vsteal_host_info`)
 *   hostsPhase       one row per host (`vsteal_host_cpus`), the agent's facts beside it
 *   missingHosts     hosts that must be there and are not, or whose data are stale
 *   liveVmsPhase     the VMs running now (vCPU series there now), and those in transit
 *   liveSeries       which vCPU series each VM has now, or that its target needs a closer look
 *   youngSeries      VMs whose series are younger than the window: rated from raw samples
 *   vmsPhase         per VM its per-vCPU rates, checked; one UUID on two hosts
 *   refuseIncomplete never a snapshot on partial data (see below)
 *   notesPhase       what the snapshot says about how it was made
 *
 * Never a snapshot on partial data: every phase writes what is wrong into one Findings
 * (`problems` and `missing` hosts: data that are not there; `inconsistent`: data that cannot
 * be true), and refuseIncomplete stops the build with a SnapshotError naming all of it before
 * anything is planned on. Nothing is dropped quietly: what is left out is left out with a note.
 */
import { FLEET_BOUNDS, rateProblem } from "../model/fleet.js";
import type { FleetHost, FleetSnapshot, FleetVm } from "../model/fleet.js";
import { hostNameProblem } from "../model/host-name.js";
import { platformFromInfoLabels } from "../platforms/snapshot.js";
import { formatCpuList, parseCpuList } from "../procfs/cpulist.js";
import { SnapshotError } from "./errors.js";
import { DEFAULT_HOST_MEMORY_MIB, DEFAULT_MAX_MOVES, DEFAULT_VM_MEMORY_MIB, type HostsConfig } from "./hosts-config.js";
import type { Labels, MatrixSeries, VectorSample } from "./prom-client.js";
import { METRIC, TRANSIT_S, type QueryName } from "./queries.js";

/** The instant answers of one snapshot, by query (queries.ts). */
export type SnapshotAnswers = Record<QueryName, VectorSample[]>;

/** What the assembly needs besides the answers. */
export interface AssemblyContext {
  /** Evaluation time, ms since the epoch. */
  nowMs: number;
  windowS: number;
  staleAfterS: number;
  /** The hosts file, or null. */
  cfg: HostsConfig | null;
  /** Where the hosts file came from, for the notes. */
  hostsFile: string | null;
}

/** A fleet snapshot plus how it was made; `notes` and `sources` are extra fields the format allows. */
export type BuiltSnapshot = FleetSnapshot & {
  notes: string[];
  /** Host name → the Prometheus target (instance) it came from. */
  sources: Record<string, string>;
};

/** What is wrong with the data, as the phases find it. Any of it and there is no snapshot. */
export interface Findings {
  /** Data that are not there (missing or stale hosts, vCPU series, rates). */
  problems: string[];
  /** Hosts whose data are missing or stale. */
  missing: Set<string>;
  /** Data that cannot be true (a host exported twice, impossible rates, a name on two VMs). */
  inconsistent: string[];
}

export const newFindings = (): Findings => ({ problems: [], missing: new Set(), inconsistent: [] });

export interface HostRow {
  name: string;
  instance: string;
  job: string;
  cpus: number;
  /** CPUs its VMs may use, and which (from the agent), or null. */
  vmCpus: number | null;
  vmCpuList: string | null;
  /** Memory its VMs may use, MiB (from the agent), or null. */
  vmMemoryMib: number | null;
  capacity: number | null;
  sampleTs: number | null;
  samples: number | null;
  sweepLast: number | null;
  sweepFirst: number | null;
  /** vCPU series its agent exports now (`vsteal_host_vcpu_series`), or null (an agent that predates it). */
  vcpuSeries: number | null;
}

export interface VmRow {
  name: string;
  uuid: string;
  host: string;
  instance: string;
  vcpus: number;
  samples: number | null;
  /** Not on any host now, but running within TRANSIT_S: on its last host, not movable. */
  inTransit?: boolean;
}

/** Per-vCPU rates of one VM on one host: vcpu number → value. */
export type VcpuMap = Map<number, number>;
/** Per VM (vmKeyOf), its per-vCPU rates. */
export type VcpuRates = Map<string, VcpuMap>;

export interface Rates {
  usage: VcpuRates;
  delay: VcpuRates;
  /** The throttled rates that are not 0, and every one of the VMs in exactThrottled. */
  throttled: VcpuRates;
  /** VMs whose vCPU 0 has no throttled series now: their throttled rates are unknown (throttledCounts). */
  throttledUnknown: Set<string>;
  /** VMs whose throttled rates are known vCPU by vCPU (raw samples, or their target's detail). */
  exactThrottled: Set<string>;
}

/** The host a series belongs to: its `host` label, else its agent's name, else its instance. */
export type HostOf = (l: Labels) => string;

const targetOf = (l: Labels): string => `${l.job ?? ""}\u0000${l.instance ?? ""}`;
/** A VM's key: its host and UUID (or name). */
export const vmKeyOf = (host: string, l: Labels): string => `${host}\u0000${l.uuid || l.domain || ""}`;

export function fmtAge(s: number): string {
  return s >= 120 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`;
}

/** A CPU list label in canonical form, or null when absent or not a CPU list. */
function cpuList(label: string | undefined): string | null {
  if (label === undefined) return null;
  try {
    const cpus = parseCpuList(label);
    return cpus.length > 0 ? formatCpuList(cpus) : null;
  } catch {
    return null;
  }
}

const mibOf = (bytes: number | undefined): number | null =>
  bytes !== undefined && Number.isFinite(bytes) && bytes >= 0 ? Math.floor(bytes / 1024 ** 2) : null;

/**
 * Exact rate from raw counter samples of the VM as it runs now: a reset (the counter went
 * down) means a new QEMU process — the VM came back after a migration or was restarted — so
 * only the samples from the last reset on count, over the time they cover: never diluted by
 * time the VM spent elsewhere or stopped.
 */
export function rateFromPoints(points: ReadonlyArray<{ t: number; v: number }>): number | null {
  if (points.length < 2) return null;
  const p = [...points].sort((a, b) => a.t - b.t);
  let first = 0;
  for (let i = 1; i < p.length; i++) if (p[i]!.v < p[i - 1]!.v) first = i;
  if (p.length - first < 2) return null;
  const dt = p[p.length - 1]!.t - p[first]!.t;
  return dt > 0 ? (p[p.length - 1]!.v - p[first]!.v) / dt : null;
}

// ---- hosts -------------------------------------------------------------------------------

/** What each agent calls its host (`vsteal_host_info{host_name}`); a name that is not one is a problem. */
export function hostNames(hostInfo: readonly VectorSample[], f: Findings): HostOf {
  const infoName = new Map<string, string>();
  for (const s of hostInfo) {
    const n = s.labels.host_name ?? "";
    const bad = hostNameProblem(n);
    if (bad !== null) {
      f.problems.push(
        `target ${s.labels.instance ?? "?"}: vsteal_host_info host_name ${bad}: fix the agent's --host-name`,
      );
      continue;
    }
    infoName.set(targetOf(s.labels), n);
  }
  // A `host` label the scrape config sets is the operator's word; else the agent's own name.
  return (l) => l.host ?? infoName.get(targetOf(l)) ?? l.instance ?? "";
}

/** One row per host with current metrics (`vsteal_host_cpus`), the agent's other facts beside it. */
export function hostsPhase(r: SnapshotAnswers, hostOf: HostOf, f: Findings): Map<string, HostRow> {
  const hosts = new Map<string, HostRow>();
  const byTarget = (rows: readonly VectorSample[]) => {
    const m = new Map<string, VectorSample>();
    for (const s of rows) m.set(targetOf(s.labels), s);
    return m;
  };
  const idx = {
    capacity: byTarget(r.host_capacity),
    ts: byTarget(r.host_timestamp),
    samples: byTarget(r.host_samples),
    sweepLast: byTarget(r.sweep_last),
    sweepFirst: byTarget(r.sweep_first),
    vmCpus: byTarget(r.host_vm_cpus),
    vmCpusInfo: byTarget(r.host_vm_cpus_info),
    vmMemory: byTarget(r.host_vm_memory),
    vcpuSeries: byTarget(r.host_vcpu_series),
  };
  for (const s of r.host_cpus) {
    const name = hostOf(s.labels);
    const instance = s.labels.instance ?? "";
    const job = s.labels.job ?? "";
    const k = targetOf(s.labels);
    const badName = hostNameProblem(name);
    if (badName !== null) {
      // Host names go into libvirt URIs: a label that is not a host name is refused, never used.
      f.problems.push(
        `target ${JSON.stringify(instance)}: its ${s.labels.host !== undefined ? "host" : "instance"} label ${badName}`,
      );
      f.missing.add(name);
      continue;
    }
    const have = hosts.get(name);
    if (have) {
      if (have.instance !== instance)
        f.inconsistent.push(
          `host ${name} is exported by two targets, ${have.instance} and ${instance}: give each agent its own host label`,
        );
      continue; // the same target scraped by two jobs: one is enough
    }
    hosts.set(name, {
      name,
      instance,
      job,
      cpus: s.v,
      vmCpus: idx.vmCpus.get(k)?.v ?? null,
      vmCpuList: cpuList(idx.vmCpusInfo.get(k)?.labels.cpus),
      vmMemoryMib: mibOf(idx.vmMemory.get(k)?.v),
      capacity: idx.capacity.get(k)?.v ?? null,
      sampleTs: idx.ts.get(k)?.v ?? null,
      samples: idx.samples.get(k)?.v ?? null,
      sweepLast: idx.sweepLast.get(k)?.v ?? null,
      sweepFirst: idx.sweepFirst.get(k)?.v ?? null,
      vcpuSeries: idx.vcpuSeries.get(k)?.v ?? null,
    });
  }
  return hosts;
}

/**
 * Hosts that must be there and are not: seen during the window, listed in the hosts file, or a
 * target of an agents' job that is down; and hosts there but stale (newest sample or last sweep
 * older than staleAfterS) or with an impossible CPU count. Each is a problem and a missing host.
 */
export function missingHosts(
  r: Pick<SnapshotAnswers, "hosts_seen" | "up">,
  hosts: ReadonlyMap<string, HostRow>,
  hostOf: HostOf,
  ctx: AssemblyContext,
  f: Findings,
): void {
  const now = ctx.nowMs / 1000;
  const staleAfter = ctx.staleAfterS;
  const expected = new Map<string, string>();
  const agentJobs = new Set<string>();
  for (const s of r.hosts_seen) {
    expected.set(hostOf(s.labels), `it had metrics in the last ${fmtAge(ctx.windowS)}`);
    agentJobs.add(s.labels.job ?? "");
  }
  for (const h of hosts.values()) agentJobs.add(h.job);
  for (const name of Object.keys(ctx.cfg?.hosts ?? {}))
    if (!expected.has(name)) expected.set(name, "it is listed in the hosts file");
  for (const s of r.up) {
    if (s.v !== 0 || !agentJobs.has(s.labels.job ?? "")) continue;
    const name = hostOf(s.labels);
    const h = hosts.get(name);
    if (h && h.instance === (s.labels.instance ?? "")) {
      f.problems.push(`host ${name} (${h.instance}): the last scrape failed (up == 0)`);
      f.missing.add(name);
    } else if (!h) {
      expected.set(name, `its target ${s.labels.instance ?? "?"} (job ${s.labels.job ?? "?"}) is down (up == 0)`);
    }
  }
  for (const [name, why] of expected) {
    if (hosts.has(name)) continue;
    f.problems.push(`host ${name}: no current metrics, but ${why}`);
    f.missing.add(name);
  }
  for (const h of hosts.values()) {
    if (h.sampleTs !== null && now - h.sampleTs > staleAfter) {
      f.problems.push(
        `host ${h.name} (${h.instance}): newest sample is ${fmtAge(now - h.sampleTs)} old (stale after ${fmtAge(staleAfter)})`,
      );
      f.missing.add(h.name);
    } else if (h.sweepLast !== null && h.sweepLast > 0 && now - h.sweepLast > staleAfter) {
      f.problems.push(
        `host ${h.name} (${h.instance}): the agent's last sweep was ${fmtAge(now - h.sweepLast)} ago (stale after ${fmtAge(staleAfter)})`,
      );
      f.missing.add(h.name);
    }
    if (!(Number.isInteger(h.cpus) && h.cpus > 0 && h.cpus <= FLEET_BOUNDS.hostCpus)) {
      f.problems.push(`host ${h.name} (${h.instance}): vsteal_host_cpus is ${h.cpus}`);
      f.missing.add(h.name);
    }
  }
}

// ---- VMs ---------------------------------------------------------------------------------

export interface LiveVms {
  vms: Map<string, VmRow>;
  /** VMs whose vCPU series the per-VM answers do not settle (vm_young, vm_resized): their target's detail says. */
  unsettled: Set<string>;
  /** Per VM, the vCPU numbers of its series there now (liveSeries, applyDetail). */
  live: Map<string, Set<number>>;
  /** Domains without any vCPU series now (not running). */
  inactive: number;
  /** VMs in transit, as the notes name them. */
  transit: string[];
}

/** Per VM key, the smallest value of its series (one a VM, or one per job scraping its host). */
function perVm(rows: readonly VectorSample[], hostOf: HostOf): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of rows) {
    const key = vmKeyOf(hostOf(s.labels), s.labels);
    const have = out.get(key);
    if (have === undefined || s.v < have) out.set(key, s.v);
  }
  return out;
}

/** The vCPU number of a series, or null when its `vcpu` label is not one. */
function vcpuOf(l: Labels): number | null {
  const vcpu = Number(l.vcpu);
  return Number.isInteger(vcpu) && vcpu >= 0 ? vcpu : null;
}

/**
 * The domains on hosts with current metrics (`libvirt_domain_vcpu_current`), each with the
 * samples its vCPU 0 has in the window (vm_young; not listed there: as many as its host's).
 * Which of them run is liveSeries' to say. A VM running within TRANSIT_S but on no host now
 * (vm_recent) is in transit: it stays on the host it was last seen on, its vCPUs taken as there.
 */
export function liveVmsPhase(
  r: Pick<SnapshotAnswers, "vm_young" | "vm_resized" | "vm_current" | "vm_recent">,
  hosts: ReadonlyMap<string, HostRow>,
  hostOf: HostOf,
): LiveVms {
  const vms = new Map<string, VmRow>();
  const young = perVm(r.vm_young, hostOf);
  const unsettled = new Set([...young.keys(), ...perVm(r.vm_resized, hostOf).keys()]);
  const row = (s: VectorSample, host: string, key: string): VmRow => ({
    name: s.labels.domain ?? "",
    uuid: s.labels.uuid ?? "",
    host,
    instance: s.labels.instance ?? "",
    vcpus: s.v,
    samples: young.get(key) ?? hosts.get(host)?.samples ?? null,
  });
  for (const s of r.vm_current) {
    const host = hostOf(s.labels);
    if (!hosts.has(host)) continue; // its host is reported missing
    const key = vmKeyOf(host, s.labels);
    vms.set(key, row(s, host, key));
  }
  // In transit: running on some host within the last TRANSIT_S, on none now (the source's
  // agent dropped it, the target's has not reported it yet; or it just stopped). It stays
  // where it was last seen.
  const transit: string[] = [];
  const seen = new Set<string>();
  for (const s of r.vm_recent) {
    const host = hostOf(s.labels);
    const id = s.labels.uuid || s.labels.domain || "";
    if (!hosts.has(host) || seen.has(id)) continue;
    seen.add(id);
    const key = vmKeyOf(host, s.labels);
    vms.set(key, { ...row(s, host, key), inTransit: true });
    transit.push(`${s.labels.domain ?? id} (last on ${host})`);
  }
  return { vms, unsettled, live: new Map(), inactive: 0, transit };
}

/**
 * Which vCPU series each VM has now. A VM whose vCPU 0 had a sample at every scrape of the
 * window runs now, and its series are those with a delay rate (the delay answer holds the rates
 * of the series with two samples or more in the window), when there are as many as online
 * vCPUs; with none it is not running (left out, counted). The others need a closer look, their
 * target's per-vCPU series (snapshotDetailQueries, applyDetail): a vCPU 0 with fewer samples
 * than its host (young, gone, a gap), online vCPUs that changed, rates that do not match the
 * online vCPUs, a VM in transit (its vCPUs are taken as there), a host with fewer than two
 * samples. Returns those targets.
 */
export function liveSeries(live: LiveVms, rates: Rates, hosts: ReadonlyMap<string, HostRow>): Set<string> {
  const detail = new Set<string>();
  for (const [key, vm] of live.vms) {
    const rated = rates.delay.get(key);
    const n = rated?.size ?? 0;
    const hostSamples = hosts.get(vm.host)?.samples ?? null;
    const sparseHost = hostSamples !== null && hostSamples < 2;
    if (vm.inTransit || live.unsettled.has(key) || sparseHost || (n > 0 && n !== vm.vcpus)) detail.add(vm.instance);
    else if (n === 0) {
      live.vms.delete(key); // no vCPU series in the window: not running, uses no CPU
      live.inactive++;
    } else live.live.set(key, new Set(rated!.keys()));
  }
  return detail;
}

/**
 * A vCPU series gone within the window while its VM's vCPU 0 stayed still has a delay rate:
 * per target, the settled VMs' delay rates must be as many as the vCPU series its agent
 * exports now (`seriesNow`: `vsteal_host_vcpu_series`, or counted in PromQL for agents that
 * predate it). Targets where they are not need their detail (`detail`); those without a count
 * (null) are `uncounted`, with their settled VMs' delay rates, to be counted. Targets already in
 * `known` are skipped (their detail says which series are there).
 */
export function countedSeries(
  live: LiveVms,
  rates: Rates,
  known: ReadonlySet<string>,
  seriesNow: (instance: string) => number | null,
): { detail: Set<string>; uncounted: Map<string, number> } {
  const rated = new Map<string, number>();
  for (const [key, vm] of live.vms) {
    if (known.has(vm.instance)) continue;
    rated.set(vm.instance, (rated.get(vm.instance) ?? 0) + (rates.delay.get(key)?.size ?? 0));
  }
  const out = { detail: new Set<string>(), uncounted: new Map<string, number>() };
  for (const [instance, n] of rated) {
    const now = seriesNow(instance);
    if (now === null) out.uncounted.set(instance, n);
    else if (now !== n) out.detail.add(instance);
  }
  return out;
}

/**
 * Targets with fewer VMs whose vCPU 0 has a throttled series (`throttled_vms`) than running
 * VMs known from the per-VM answers: which of their VMs lack one is to be asked
 * (throttledUnknownQuery). Targets in `detail` are known vCPU by vCPU.
 */
export function throttledCounts(
  r: Pick<SnapshotAnswers, "throttled_vms">,
  live: LiveVms,
  detail: ReadonlySet<string>,
): Set<string> {
  const withSeries = new Map<string, number>();
  for (const s of r.throttled_vms) {
    const i = s.labels.instance ?? "";
    withSeries.set(i, (withSeries.get(i) ?? 0) + s.v);
  }
  const running = new Map<string, number>();
  for (const vm of live.vms.values())
    if (!detail.has(vm.instance)) running.set(vm.instance, (running.get(vm.instance) ?? 0) + 1);
  const ask = new Set<string>();
  for (const [i, n] of running) if ((withSeries.get(i) ?? 0) < n) ask.add(i);
  return ask;
}

/** The per-vCPU answers of snapshotDetailQueries for some targets. */
export interface DetailAnswers {
  instances: ReadonlySet<string>;
  /** The vCPU series there now. */
  live: readonly VectorSample[];
  /** Delay rates, of the series gone within the window too. */
  delay: readonly VectorSample[];
  /** Throttled rates, every one (0 included). */
  throttled: readonly VectorSample[];
}

/**
 * The VMs of those targets, per vCPU: their series there now (a VM in transit: its vCPUs
 * taken as there; a VM with none is not running: left out, counted), their delay rates, and
 * their throttled rates, known vCPU by vCPU (`exactThrottled`).
 */
export function applyDetail(live: LiveVms, rates: Rates, d: DetailAnswers, hostOf: HostOf): void {
  let keys = [...live.vms].filter(([, vm]) => d.instances.has(vm.instance)).map(([key]) => key);
  for (const key of keys) {
    live.live.set(key, new Set());
    rates.delay.delete(key);
    rates.throttled.delete(key);
  }
  for (const s of d.live) {
    const vcpu = vcpuOf(s.labels);
    const set = live.live.get(vmKeyOf(hostOf(s.labels), s.labels));
    if (vcpu !== null && set) set.add(vcpu);
  }
  for (const key of keys) {
    const vm = live.vms.get(key)!;
    if (vm.inTransit) for (let i = 0; i < vm.vcpus; i++) live.live.get(key)!.add(i);
    else if (live.live.get(key)!.size === 0) {
      live.vms.delete(key); // no vCPU series now: not running (stopped within the window, or left)
      live.live.delete(key);
      live.inactive++;
      continue;
    }
    rates.exactThrottled.add(key);
  }
  keys = keys.filter((k) => live.vms.has(k));
  const rated = new Set(keys);
  const into = (rows: readonly VectorSample[], m: VcpuRates) => {
    for (const s of rows) {
      const vcpu = vcpuOf(s.labels);
      const key = vmKeyOf(hostOf(s.labels), s.labels);
      if (vcpu === null || !rated.has(key)) continue;
      let v = m.get(key);
      if (!v) m.set(key, (v = new Map()));
      v.set(vcpu, s.v);
    }
  };
  into(d.delay, rates.delay);
  into(d.throttled, rates.throttled);
}

/** Per-vCPU rates from the rate() answers, by VM. */
export function ratesPhase(r: Pick<SnapshotAnswers, "usage" | "delay" | "throttled">, hostOf: HostOf): Rates {
  const perVcpu = (rows: readonly VectorSample[]): VcpuRates => {
    const m: VcpuRates = new Map();
    // A VM's vCPUs come one after the other, their label values the same strings (the client
    // shares them): the VM is looked up once for all of them.
    let last: Labels | null = null;
    let v: VcpuMap | undefined;
    for (const s of rows) {
      const vcpu = vcpuOf(s.labels);
      if (vcpu === null) continue;
      const l = s.labels;
      if (
        last === null ||
        l.uuid !== last.uuid ||
        l.domain !== last.domain ||
        l.instance !== last.instance ||
        l.job !== last.job ||
        l.host !== last.host
      ) {
        const key = vmKeyOf(hostOf(l), l);
        v = m.get(key);
        if (!v) m.set(key, (v = new Map()));
        last = l;
      }
      v!.set(vcpu, s.v);
    }
    return m;
  };
  return {
    usage: perVcpu(r.usage),
    delay: perVcpu(r.delay),
    throttled: perVcpu(r.throttled),
    throttledUnknown: new Set(),
    exactThrottled: new Set(),
  };
}

export interface YoungSeries {
  /** VMs (vmKeyOf) whose series are younger than the window. */
  vms: Set<string>;
  /** Their targets: instance → host. One raw-samples query each. */
  instances: Map<string, string>;
}

/**
 * Series younger than the window (new or migrated VM, fresh Prometheus or agent): rate()
 * would spread their increase over time they did not exist, so their raw samples are asked
 * for. A host is young when its own samples are (fewer than 2, or the first well after the
 * window's start); a VM when its host is, or when it has fewer samples than its host.
 */
export function youngSeries(
  hosts: ReadonlyMap<string, HostRow>,
  vms: ReadonlyMap<string, VmRow>,
  ctx: Pick<AssemblyContext, "nowMs" | "windowS">,
): YoungSeries {
  const now = ctx.nowMs / 1000;
  const youngHosts = new Set<string>();
  for (const h of hosts.values()) {
    if (h.sweepFirst === null || h.sweepLast === null || h.sweepFirst <= 0 || h.samples === null) continue;
    if (h.samples < 2) {
      youngHosts.add(h.name);
      continue;
    }
    // rate() extrapolates to the window's start only if the first sample is within ~1.1
    // scrape intervals of it; the agent's sweep time is a little before the scrape's.
    const interval = (h.sweepLast - h.sweepFirst) / (h.samples - 1);
    if (h.sweepFirst - (now - ctx.windowS) > 1.5 * interval) youngHosts.add(h.name);
  }
  const young: YoungSeries = { vms: new Set(), instances: new Map() };
  for (const [key, vm] of vms) {
    const h = hosts.get(vm.host);
    if (!h) continue;
    if (youngHosts.has(vm.host) || (vm.samples !== null && h.samples !== null && vm.samples < h.samples - 1)) {
      young.vms.add(key);
      young.instances.set(vm.instance, vm.host);
    }
  }
  return young;
}

/** The young VMs' rates from their raw samples (rawCountersQuery), in place of rate()'s. */
export function applyRawSamples(rates: Rates, raw: readonly MatrixSeries[], young: YoungSeries, hostOf: HostOf): void {
  const target = (name: string | undefined): VcpuRates | null =>
    name === METRIC.vcpuTime
      ? rates.usage
      : name === METRIC.vcpuDelay
        ? rates.delay
        : name === METRIC.vcpuThrottled
          ? rates.throttled
          : null;
  for (const key of young.vms) rates.exactThrottled.add(key);
  for (const s of raw) {
    const key = vmKeyOf(hostOf(s.labels), s.labels);
    const into = target(s.labels.__name__);
    const vcpu = Number(s.labels.vcpu);
    if (!young.vms.has(key) || !into || !Number.isInteger(vcpu)) continue;
    let m = into.get(key);
    if (!m) into.set(key, (m = new Map()));
    const rate = rateFromPoints(s.points);
    if (rate === null) m.delete(vcpu);
    else m.set(vcpu, rate);
  }
}

export interface AssembledVms {
  vms: FleetVm[];
  /** vCPUs without a throttled series (taken as 0). */
  throttledUnknown: number;
  /** VMs without memory from their agent or the hosts file. */
  memoryUnknown: number;
  /** VMs with more vCPU series than online vCPUs. */
  extraSeries: number;
  /** VMs on two hosts at once (a live migration), as the notes name them. */
  inFlight: string[];
}

/**
 * Per VM its rates, one per online vCPU: a VM with fewer vCPU series than online vCPUs, or a
 * vCPU without a usage or delay rate, is a problem; an impossible rate is inconsistent (refused,
 * not clamped: it comes from a broken or hostile exporter). One VM (one UUID) on two hosts is
 * a live migration under way: counted where it runs, not moved.
 */
export function vmsPhase(
  r: Pick<SnapshotAnswers, "vm_max_memory" | "vm_cap" | "domain_info">,
  live: LiveVms,
  rates: Rates,
  hostOf: HostOf,
  cfg: HostsConfig | null,
  f: Findings,
): AssembledVms {
  const vmMemory = new Map<string, number>();
  for (const s of r.vm_max_memory) {
    const m = mibOf(s.v);
    if (m !== null) vmMemory.set(vmKeyOf(hostOf(s.labels), s.labels), m);
  }
  const vmCap = new Map<string, number>();
  for (const s of r.vm_cap)
    if (Number.isFinite(s.v) && s.v > 0) vmCap.set(vmKeyOf(hostOf(s.labels), s.labels), Math.min(1, s.v));
  const platforms = new Map<string, NonNullable<FleetVm["platform"]>>();
  for (const s of r.domain_info) {
    const p = platformFromInfoLabels(s.labels);
    if (p) platforms.set(vmKeyOf(hostOf(s.labels), s.labels), p);
  }

  const out: AssembledVms = { vms: [], throttledUnknown: 0, memoryUnknown: 0, extraSeries: 0, inFlight: [] };
  const vmHosts = new Map<string, string[]>(); // name → hosts (a VM on two hosts at once)
  for (const [key, vm] of live.vms) {
    if (f.missing.has(vm.host)) continue;
    const n = vm.vcpus;
    if (!(Number.isInteger(n) && n > 0 && n <= FLEET_BOUNDS.vmVcpus)) {
      f.problems.push(`VM ${vm.name} on ${vm.host}: libvirt_domain_vcpu_current is ${n}`);
      continue;
    }
    const u = rates.usage.get(key) ?? new Map<number, number>();
    const d = rates.delay.get(key) ?? new Map<number, number>();
    const t = rates.throttled.get(key);
    const now = [...(live.live.get(key) ?? [])].sort((a, b) => a - b);
    if (now.length < n) {
      f.problems.push(
        `VM ${vm.name} on ${vm.host}: ${n} online vCPUs but ${now.length} vCPU series (${now.length ? `vCPU ${now.join(", ")}` : "none"}): vCPU series missing`,
      );
      continue;
    }
    if (now.length > n) out.extraSeries++;
    const ids = now.slice(0, n);
    const noRate = ids.filter((v) => !u.has(v) || !d.has(v));
    if (noRate.length > 0) {
      f.problems.push(
        `VM ${vm.name} on ${vm.host}: no usage or delay rate for vCPU ${noRate.join(", ")} (fewer than 2 samples in the window: VM new or just migrated?)`,
      );
      continue;
    }
    const conf = cfg?.vms?.[vm.name];
    const agentMem = vmMemory.get(key);
    const use = ids.map((v) => u.get(v) ?? 0);
    const del = ids.map((v) => d.get(v) ?? 0);
    // Known vCPU by vCPU, a vCPU without a throttled rate is unknown; else the VM's vCPU 0 says
    // for all of them (one cgroup tree: readable or not), and the rest are the rates not 0.
    const exact = rates.exactThrottled.has(key);
    if (!exact && rates.throttledUnknown.has(key)) out.throttledUnknown += n;
    const thr = ids.map((v, i) => {
      const x = t?.get(v);
      if (x === undefined) {
        if (exact) out.throttledUnknown++;
        return 0;
      }
      return Math.min(Math.max(0, x), del[i] ?? 0);
    });
    const impossible: string[] = [];
    const check = (v: number, what: string, x: number) => {
      const p = rateProblem(x);
      if (p !== null) impossible.push(`vCPU ${v} ${what} ${p}`);
    };
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i]!;
      check(v, "usage", use[i] ?? 0);
      check(v, "delay", del[i] ?? 0);
      check(v, "throttled", t?.get(v) ?? 0);
    }
    if (impossible.length > 0) {
      f.inconsistent.push(`VM ${vm.name} on ${vm.host}: impossible rates: ${impossible.slice(0, 3).join("; ")}`);
      continue;
    }
    out.vms.push({
      name: vm.name,
      uuid: vm.uuid,
      host: vm.host,
      vcpus: n,
      memory_mib: conf?.memory_mib ?? agentMem ?? cfg?.defaults?.vm_memory_mib ?? DEFAULT_VM_MEMORY_MIB,
      usage: use,
      delay: del,
      throttled: thr,
      cap: conf?.cap !== undefined ? conf.cap : (vmCap.get(key) ?? null),
      migratable: vm.inTransit ? false : (conf?.migratable ?? cfg?.defaults?.migratable ?? true),
      ...(vm.inTransit ? { in_transit: true } : {}),
      ...(platforms.has(key) ? { platform: platforms.get(key)! } : {}),
    });
    if (agentMem === undefined && conf?.memory_mib === undefined) out.memoryUnknown++;
    vmHosts.set(vm.name, [...(vmHosts.get(vm.name) ?? []), vm.host]);
  }
  for (const [name, on] of vmHosts) {
    if (on.length < 2) continue;
    const copies = out.vms.filter((v) => v.name === name);
    const uuids = new Set(copies.map((v) => v.uuid));
    // One VM (one UUID) on two hosts: a live migration under way, the target's copy paused
    // until the switch-over. It counts where it runs (the copy that uses CPU), stays out of
    // plans, and the others are dropped; two different VMs of one name are refused.
    if (uuids.size !== 1 || copies[0]!.uuid === "") {
      f.inconsistent.push(
        `VM ${name} is on ${on.join(" and ")} at once, with ${uuids.size > 1 ? "different UUIDs" : "no UUID"} (two VMs share a name: plans name VMs, names must be unique)`,
      );
      continue;
    }
    const load = (v: FleetVm): number => v.usage.reduce((x, y) => x + y, 0) + v.delay.reduce((x, y) => x + y, 0);
    const keep = copies.reduce((a, b) => (load(b) > load(a) ? b : a));
    for (const c of copies) if (c !== keep) out.vms.splice(out.vms.indexOf(c), 1);
    Object.assign(keep, { migratable: false, in_transit: true });
    out.inFlight.push(`${name} (runs on ${keep.host}; also on ${on.filter((h) => h !== keep.host).join(", ")})`);
  }
  return out;
}

// ---- never a snapshot on partial data ------------------------------------------------------

/**
 * Stops the build when anything is missing (a host, a vCPU series, a rate: `partial_data`),
 * cannot be true (`inconsistent_data`), or there is no host at all (`no_data`). Checked after
 * every phase has spoken, so the error names all of it at once.
 */
export function refuseIncomplete(
  f: Findings,
  hosts: ReadonlyMap<string, HostRow>,
  vms: readonly FleetVm[],
  ctx: AssemblyContext,
  noHosts: () => string,
): void {
  if (f.problems.length > 0 || f.missing.size > 0) {
    const m = [...f.missing].sort();
    const head = m.length
      ? `missing or stale data for host${m.length > 1 ? "s" : ""} ${m.join(", ")}`
      : "incomplete VM data";
    throw new SnapshotError("partial_data", `no snapshot: ${head}: ${f.problems.join("; ")}`, f.problems, m);
  }
  const vcpusOn = new Map<string, number>();
  for (const v of vms) vcpusOn.set(v.host, (vcpusOn.get(v.host) ?? 0) + v.vcpus);
  for (const [host, n] of vcpusOn) {
    if (n > FLEET_BOUNDS.hostVcpus)
      f.inconsistent.push(`host ${host} reports ${n} vCPUs of running VMs, more than ${FLEET_BOUNDS.hostVcpus}`);
  }
  const cfg = ctx.cfg;
  for (const h of hosts.values()) {
    const own = cfg?.hosts?.[h.name]?.reserved_cpus;
    const reserved = own ?? cfg?.defaults?.reserved_cpus;
    if (reserved !== undefined && reserved > h.cpus) {
      f.inconsistent.push(
        `host ${h.name} has ${h.cpus} CPUs, fewer than the reserved_cpus ${reserved} of the hosts file${ctx.hostsFile ? ` ${ctx.hostsFile}` : ""} (${own !== undefined ? `hosts.${h.name}` : "defaults"}.reserved_cpus)`,
      );
    }
  }
  if (f.inconsistent.length > 0)
    throw new SnapshotError("inconsistent_data", `no snapshot: ${f.inconsistent.join("; ")}`, f.inconsistent);
  if (hosts.size === 0) throw new SnapshotError("no_data", noHosts());
}

// ---- the snapshot ----------------------------------------------------------------------------

/** The snapshot's hosts, by name: capacity from the agent unless the hosts file says. */
export function hostsOut(hosts: ReadonlyMap<string, HostRow>, cfg: HostsConfig | null): FleetHost[] {
  return [...hosts.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((h) => {
      const conf = cfg?.hosts?.[h.name] ?? null;
      // The CPUs VMs may use when the agent says (vsteal_host_vm_cpus), else the online ones.
      const cpus = h.vmCpus !== null && Number.isInteger(h.vmCpus) && h.vmCpus > 0 ? h.vmCpus : h.cpus;
      const reservedFromAgent = h.capacity !== null ? Math.max(0, Math.round(cpus - h.capacity)) : 0;
      return {
        name: h.name,
        cpus,
        memory_mib: conf?.memory_mib ?? h.vmMemoryMib ?? cfg?.defaults?.memory_mib ?? DEFAULT_HOST_MEMORY_MIB,
        reserved_cpus: Math.min(cpus, conf?.reserved_cpus ?? cfg?.defaults?.reserved_cpus ?? reservedFromAgent),
        accepts_vms: conf?.accepts_vms ?? cfg?.defaults?.accepts_vms ?? true,
        ...(h.vmCpuList !== null ? { vm_cpus: h.vmCpuList } : {}),
      };
    });
}

/** What the snapshot says about how it was made: defaults taken, VMs left out or kept still. */
export function notesPhase(
  hosts: ReadonlyMap<string, HostRow>,
  live: LiveVms,
  assembled: AssembledVms,
  young: YoungSeries,
  warnings: readonly string[],
  ctx: AssemblyContext,
): string[] {
  const cfg = ctx.cfg;
  const notes: string[] = [];
  if (assembled.inFlight.length > 0)
    notes.push(
      `migrating now (one UUID on two hosts): ${assembled.inFlight.join("; ")}; counted where it runs, not moved`,
    );
  const hostMem = cfg?.defaults?.memory_mib ?? DEFAULT_HOST_MEMORY_MIB;
  const vmMem = cfg?.defaults?.vm_memory_mib ?? DEFAULT_VM_MEMORY_MIB;
  const hostsNoMem = [...hosts.values()]
    .filter((h) => h.vmMemoryMib === null && cfg?.hosts?.[h.name]?.memory_mib === undefined)
    .map((h) => h.name);
  const memoryUnknown = assembled.memoryUnknown;
  if (hostsNoMem.length > 0 || memoryUnknown > 0) {
    notes.push(
      `memory: ${hostsNoMem.length} host(s)${hostsNoMem.length ? ` (${hostsNoMem.slice(0, 5).join(", ")}${hostsNoMem.length > 5 ? ", …" : ""})` : ""} and ${memoryUnknown} VM(s) without memory from their agent (${METRIC.hostVmMemory}, ${METRIC.vmMaxMemory}); ` +
        (ctx.hostsFile ? `from the hosts file ${ctx.hostsFile}, where it is not listed ` : "no hosts file given, so ") +
        `a host has ${hostMem} MiB and a VM ${vmMem} MiB${vmMem === 0 ? " (unknown: memory does not limit the plan)" : ""}`,
    );
  }
  if (live.transit.length > 0)
    notes.push(
      `in transit (running within the last ${Math.min(TRANSIT_S, ctx.windowS)} s, on no host now): ${live.transit.join(", ")}; kept on the host last seen, not moved`,
    );
  if (live.inactive > 0) notes.push(`${live.inactive} domains without vCPU series (not running) are left out`);
  if (assembled.throttledUnknown > 0)
    notes.push(
      `throttled: ${assembled.throttledUnknown} vCPUs have no ${METRIC.vcpuThrottled} series (cgroup unreadable on their host); taken as 0`,
    );
  if (assembled.extraSeries > 0)
    notes.push(`${assembled.extraSeries} VMs report more vCPU series than online vCPUs; the lowest-numbered were kept`);
  if (young.instances.size > 0)
    notes.push(
      `rates from raw samples (series younger than the ${ctx.windowS} s window) on ${[...new Set(young.instances.values())].sort().join(", ")}`,
    );
  if (warnings.length) notes.push(`Prometheus warned: ${warnings.join("; ")}`);
  return notes;
}

/** The phases up to the young series: what decides which raw samples to ask for. */
export interface FirstPass {
  findings: Findings;
  hostOf: HostOf;
  hosts: Map<string, HostRow>;
  live: LiveVms;
  rates: Rates;
  young: YoungSeries;
  /** Targets whose per-vCPU series to ask for (liveSeries, countedSeries). */
  detail: Set<string>;
  /** Targets whose agents do not say how many vCPU series they export, with their settled VMs' delay rates: to be counted (countedSeries). */
  uncounted: Map<string, number>;
  /** Targets where some VMs' vCPU 0 has no throttled series: which, to be asked (throttledCounts). */
  throttledUnknown: Set<string>;
  /** The per-VM answers the VMs phase reads; the rest of the answers are no longer needed. */
  perVm: Pick<SnapshotAnswers, "vm_max_memory" | "vm_cap" | "domain_info">;
}

export function firstPass(r: SnapshotAnswers, ctx: AssemblyContext): FirstPass {
  const findings = newFindings();
  const hostOf = hostNames(r.host_info, findings);
  const hosts = hostsPhase(r, hostOf, findings);
  missingHosts(r, hosts, hostOf, ctx, findings);
  const live = liveVmsPhase(r, hosts, hostOf);
  const rates = ratesPhase(r, hostOf);
  const detail = liveSeries(live, rates, hosts);
  const byInstance = new Map([...hosts.values()].map((h) => [h.instance, h.vcpuSeries]));
  const counted = countedSeries(live, rates, detail, (i) => byInstance.get(i) ?? null);
  for (const i of counted.detail) detail.add(i);
  const young = youngSeries(hosts, live.vms, ctx);
  const perVm = { vm_max_memory: r.vm_max_memory, vm_cap: r.vm_cap, domain_info: r.domain_info };
  const throttledUnknown = throttledCounts(r, live, detail);
  return { findings, hostOf, hosts, live, rates, young, detail, uncounted: counted.uncounted, throttledUnknown, perVm };
}

/**
 * The rest, once the detail of some targets and the young series' raw samples are in: the VMs,
 * the refusal on partial data, the snapshot. `noHosts` words the error when there is no host.
 */
export function finishSnapshot(
  first: FirstPass,
  detail: DetailAnswers,
  raw: readonly MatrixSeries[],
  throttledUnknown: readonly VectorSample[],
  warnings: readonly string[],
  ctx: AssemblyContext,
  noHosts: () => string,
): BuiltSnapshot {
  const { findings, hostOf, hosts, live, rates, young } = first;
  for (const key of perVm(throttledUnknown, hostOf).keys()) rates.throttledUnknown.add(key);
  applyDetail(live, rates, detail, hostOf);
  // A VM the detail found not running was asked for as young too: no longer.
  for (const key of young.vms) if (!live.vms.has(key)) young.vms.delete(key);
  young.instances = new Map([...live.vms].filter(([k]) => young.vms.has(k)).map(([, vm]) => [vm.instance, vm.host]));
  applyRawSamples(rates, raw, young, hostOf);
  const assembled = vmsPhase(first.perVm, live, rates, hostOf, ctx.cfg, findings);
  refuseIncomplete(findings, hosts, assembled.vms, ctx, noHosts);
  const outHosts = hostsOut(hosts, ctx.cfg);
  const vms = assembled.vms.sort((a, b) => a.host.localeCompare(b.host) || a.name.localeCompare(b.name));
  const cfg = ctx.cfg;
  return {
    version: 1,
    time: new Date(ctx.nowMs).toISOString(),
    window_s: ctx.windowS,
    hosts: outHosts,
    vms,
    constraints: {
      max_moves: cfg?.constraints?.max_moves ?? DEFAULT_MAX_MOVES,
      anti_affinity: cfg?.constraints?.anti_affinity ?? [],
    },
    notes: notesPhase(hosts, live, assembled, young, warnings, ctx),
    sources: Object.fromEntries(outHosts.map((h) => [h.name, hosts.get(h.name)?.instance ?? ""])),
  };
}
