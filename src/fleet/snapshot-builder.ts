/**
 * Builds a fleet snapshot (docs/fleet-snapshot.md) from what the hosts' agents
 * export, as Prometheus stored it over a window.
 *
 * - Hosts come from `vsteal_host_cpus`, one per target; a host is named by the target's `host`
 *   label when the scrape config sets one, else by the name its agent reports
 *   (`vsteal_host_info{host_name}`, the name the migration hosts file uses), else by its
 *   `instance`.
 * - A host's capacity is the CPUs its VMs may use (`vsteal_host_vm_cpus`, minus reserved),
 *   its memory what VMs may use (`vsteal_host_vm_memory_bytes`); a VM's memory is its maximum
 *   (`libvirt_domain_info_maximum_memory_bytes`), its cap `vsteal_domain_vcpu_cap_cores`. The
 *   hosts file overrides each; agents that do not export them fall back to it or defaults.
 * - VMs come from `libvirt_domain_vcpu_current` (where each VM is now), their per-vCPU
 *   usage, delay and throttling from rate() of the agents' counters over the window; a vCPU
 *   series younger than the window (the VM started or arrived in it) from its own raw samples,
 *   so its demand is never diluted by time it was not there.
 * - A VM running a moment ago that is on no host now is in transit (or just stopped): it stays
 *   in the snapshot on the host it was last seen on, not migratable, with a note.
 *
 * Never a snapshot on missing data: a host that was seen in the window, is listed in the
 * hosts file or whose target is down, but has no fresh metrics now; a VM with fewer vCPU
 * series than online vCPUs; an answer the server flags as partial — each stops the build
 * with a SnapshotError that names what is missing.
 */
import { FLEET_BOUNDS, rateProblem } from "../model/fleet.js";
import { hostNameProblem } from "../model/host-name.js";
import { SnapshotError } from "./errors.js";
import { DEFAULT_HOST_MEMORY_MIB, DEFAULT_MAX_MOVES, DEFAULT_VM_MEMORY_MIB, type HostsConfig } from "./hosts-config.js";
import {
  PrometheusError,
  type Labels,
  type MatrixSeries,
  type PrometheusClient,
  type VectorSample,
} from "./prom-client.js";
import { METRIC, rawCountersQuery, snapshotQueries, TRANSIT_S, type QueryName } from "./queries.js";
import { formatCpuList, parseCpuList } from "../procfs/cpulist.js";
import type { FleetHost, FleetSnapshot, FleetVm } from "../model/fleet.js";
import { platformFromInfoLabels } from "../platforms/snapshot.js";

export interface SnapshotOptions {
  /** Rates are averaged over this many seconds. */
  windowS: number;
  /** Extra label matchers for every selector, e.g. `job="vsteal"`. */
  selector?: string;
  /** The hosts file (memory, policy, constraints), or null. */
  hosts?: HostsConfig | null;
  /** Where the hosts file came from, for the notes. */
  hostsFile?: string | null;
  /** A host whose newest sample or last sweep is older than this is stale. Default 120 s. */
  staleAfterS?: number;
  /** Evaluation time, ms since the epoch (default now). Every query is evaluated at it. */
  nowMs?: number;
  /** Build even when the server sends warnings (default: a warning may mean a partial answer). */
  allowWarnings?: boolean;
}

/** A fleet snapshot plus how it was made; `notes` and `sources` are extra fields the format allows. */
export type BuiltSnapshot = FleetSnapshot & {
  notes: string[];
  /** Host name → the Prometheus target (instance) it came from. */
  sources: Record<string, string>;
};

export interface SnapshotBuild {
  snapshot: BuiltSnapshot;
  /** Server warnings (only when allowWarnings). */
  warnings: string[];
  queries: number;
  durationMs: number;
}

const DEFAULT_STALE_AFTER_S = 120;

interface HostRow {
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
}

interface VmRow {
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
type VcpuMap = Map<number, number>;

const targetOf = (l: Labels): string => `${l.job ?? ""}\u0000${l.instance ?? ""}`;
const vmKeyOf = (host: string, l: Labels): string => `${host}\u0000${l.uuid || l.domain || ""}`;

function fmtAge(s: number): string {
  return s >= 120 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`;
}

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

export async function buildSnapshot(client: PrometheusClient, opts: SnapshotOptions): Promise<SnapshotBuild> {
  const started = performance.now();
  const nowMs = opts.nowMs ?? Date.now();
  const now = nowMs / 1000;
  const windowS = opts.windowS;
  const staleAfter = opts.staleAfterS ?? DEFAULT_STALE_AFTER_S;
  const selector = opts.selector ?? "";
  const cfg = opts.hosts ?? null;
  const q = snapshotQueries(windowS, selector);
  const warnings: string[] = [];
  let queries = 0;

  const ask = async (expr: string): Promise<VectorSample[]> => {
    queries++;
    const a = await client.vector(expr, { time: now });
    noteAnswer(expr, a.warnings, a.partial);
    return a.result.samples;
  };
  const askRaw = async (expr: string): Promise<MatrixSeries[]> => {
    queries++;
    const a = await client.query(expr, { time: now });
    noteAnswer(expr, a.warnings, a.partial);
    if (a.result.type !== "matrix")
      throw new PrometheusError(
        "invalid_response",
        `${client.displayUrl}: query ${expr} answered a ${a.result.type}, expected a matrix`,
      );
    return a.result.series;
  };
  function noteAnswer(expr: string, w: string[], partial: boolean): void {
    if (partial)
      throw new SnapshotError(
        "partial_data",
        `no snapshot: Prometheus at ${client.displayUrl} flagged its answer as partial (some storage did not answer) for ${expr}`,
        [`partial answer for ${expr}`],
      );
    if (w.length && !opts.allowWarnings) {
      throw new SnapshotError(
        "partial_data",
        `no snapshot: Prometheus at ${client.displayUrl} warned: ${w.join("; ")} (for ${expr}); the answer may be incomplete`,
        w,
      );
    }
    warnings.push(...w);
  }

  let r: Record<QueryName, VectorSample[]>;
  try {
    const names = Object.keys(q) as QueryName[];
    const answers = await Promise.all(names.map((n) => ask(q[n])));
    r = Object.fromEntries(names.map((n, i) => [n, answers[i] ?? []])) as Record<QueryName, VectorSample[]>;
  } catch (e) {
    if (e instanceof PrometheusError) throw SnapshotError.fromPrometheus(e);
    throw e;
  }

  // ---- host names: what each agent calls its host -------------------------------------
  const problems: string[] = [];
  const infoName = new Map<string, string>();
  for (const s of r.host_info) {
    const n = s.labels.host_name ?? "";
    const bad = hostNameProblem(n);
    if (bad !== null) {
      problems.push(
        `target ${s.labels.instance ?? "?"}: vsteal_host_info host_name ${bad}: fix the agent's --host-name`,
      );
      continue;
    }
    infoName.set(targetOf(s.labels), n);
  }
  // A `host` label the scrape config sets is the operator's word; else the agent's own name.
  const hostOf = (l: Labels): string => l.host ?? infoName.get(targetOf(l)) ?? l.instance ?? "";

  // ---- hosts -------------------------------------------------------------------------
  const missing = new Set<string>();
  const inconsistent: string[] = [];
  const hosts = new Map<string, HostRow>();
  const byInstance = (rows: VectorSample[]) => {
    const m = new Map<string, VectorSample>();
    for (const s of rows) m.set(`${s.labels.job ?? ""}\u0000${s.labels.instance ?? ""}`, s);
    return m;
  };
  const idx = {
    capacity: byInstance(r.host_capacity),
    ts: byInstance(r.host_timestamp),
    samples: byInstance(r.host_samples),
    sweepLast: byInstance(r.sweep_last),
    sweepFirst: byInstance(r.sweep_first),
    vmCpus: byInstance(r.host_vm_cpus),
    vmCpusInfo: byInstance(r.host_vm_cpus_info),
    vmMemory: byInstance(r.host_vm_memory),
  };
  for (const s of r.host_cpus) {
    const name = hostOf(s.labels);
    const instance = s.labels.instance ?? "";
    const job = s.labels.job ?? "";
    const k = `${job}\u0000${instance}`;
    const badName = hostNameProblem(name);
    if (badName !== null) {
      // Host names go into libvirt URIs: a label that is not a host name is refused, never used.
      problems.push(
        `target ${JSON.stringify(instance)}: its ${s.labels.host !== undefined ? "host" : "instance"} label ${badName}`,
      );
      missing.add(name);
      continue;
    }
    const have = hosts.get(name);
    if (have) {
      if (have.instance !== instance)
        inconsistent.push(
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
    });
  }

  // Hosts that must be there: seen during the window, listed in the hosts file, or a target
  // of an agents' job that is down.
  const expected = new Map<string, string>();
  const agentJobs = new Set<string>();
  for (const s of r.hosts_seen) {
    expected.set(hostOf(s.labels), `it had metrics in the last ${fmtAge(windowS)}`);
    agentJobs.add(s.labels.job ?? "");
  }
  for (const h of hosts.values()) agentJobs.add(h.job);
  for (const name of Object.keys(cfg?.hosts ?? {}))
    if (!expected.has(name)) expected.set(name, "it is listed in the hosts file");
  for (const s of r.up) {
    if (s.v !== 0 || !agentJobs.has(s.labels.job ?? "")) continue;
    const name = hostOf(s.labels);
    const h = hosts.get(name);
    if (h && h.instance === (s.labels.instance ?? "")) {
      problems.push(`host ${name} (${h.instance}): the last scrape failed (up == 0)`);
      missing.add(name);
    } else if (!h) {
      expected.set(name, `its target ${s.labels.instance ?? "?"} (job ${s.labels.job ?? "?"}) is down (up == 0)`);
    }
  }
  for (const [name, why] of expected) {
    if (hosts.has(name)) continue;
    problems.push(`host ${name}: no current metrics, but ${why}`);
    missing.add(name);
  }
  for (const h of hosts.values()) {
    if (h.sampleTs !== null && now - h.sampleTs > staleAfter) {
      problems.push(
        `host ${h.name} (${h.instance}): newest sample is ${fmtAge(now - h.sampleTs)} old (stale after ${fmtAge(staleAfter)})`,
      );
      missing.add(h.name);
    } else if (h.sweepLast !== null && h.sweepLast > 0 && now - h.sweepLast > staleAfter) {
      problems.push(
        `host ${h.name} (${h.instance}): the agent's last sweep was ${fmtAge(now - h.sweepLast)} ago (stale after ${fmtAge(staleAfter)})`,
      );
      missing.add(h.name);
    }
    if (!(Number.isInteger(h.cpus) && h.cpus > 0 && h.cpus <= FLEET_BOUNDS.hostCpus)) {
      problems.push(`host ${h.name} (${h.instance}): vsteal_host_cpus is ${h.cpus}`);
      missing.add(h.name);
    }
  }

  // ---- VMs ---------------------------------------------------------------------------
  const vms = new Map<string, VmRow>();
  const vmSamples = new Map<string, number>();
  for (const s of r.vm_samples) vmSamples.set(vmKeyOf(hostOf(s.labels), s.labels), s.v);
  // The fewest samples any vCPU delay series of the VM has in the window.
  for (const s of r.vcpu_samples) {
    const key = vmKeyOf(hostOf(s.labels), s.labels);
    const have = vmSamples.get(key);
    if (have === undefined || s.v < have) vmSamples.set(key, s.v);
  }
  const vmMemory = new Map<string, number>();
  for (const s of r.vm_max_memory) {
    const m = mibOf(s.v);
    if (m !== null) vmMemory.set(vmKeyOf(hostOf(s.labels), s.labels), m);
  }
  const vmCap = new Map<string, number>();
  for (const s of r.vm_cap)
    if (Number.isFinite(s.v) && s.v > 0) vmCap.set(vmKeyOf(hostOf(s.labels), s.labels), Math.min(1, s.v));
  const live = new Map<string, Set<number>>();
  for (const s of r.vm_live) {
    const key = vmKeyOf(hostOf(s.labels), s.labels);
    const vcpu = Number(s.labels.vcpu);
    if (!Number.isInteger(vcpu) || vcpu < 0) continue;
    let set = live.get(key);
    if (!set) live.set(key, (set = new Set()));
    set.add(vcpu);
  }
  let inactive = 0;
  for (const s of r.vm_current) {
    const host = hostOf(s.labels);
    if (!hosts.has(host)) continue; // its host is reported missing above
    const key = vmKeyOf(host, s.labels);
    if (!live.has(key)) {
      inactive++; // no vCPU thread sampled: not running, uses no CPU
      continue;
    }
    vms.set(key, {
      name: s.labels.domain ?? "",
      uuid: s.labels.uuid ?? "",
      host,
      instance: s.labels.instance ?? "",
      vcpus: s.v,
      samples: vmSamples.get(key) ?? null,
    });
  }
  // In transit: running on some host within the last TRANSIT_S, on none now (the source's
  // agent dropped it, the target's has not reported it yet). It stays where it was last seen.
  const nowOn = new Set([...vms.values()].map((v) => v.uuid || v.name));
  const transit: string[] = [];
  for (const s of r.vm_recent) {
    const host = hostOf(s.labels);
    const id = s.labels.uuid || s.labels.domain || "";
    const key = vmKeyOf(host, s.labels);
    if (!hosts.has(host) || nowOn.has(id) || vms.has(key)) continue;
    vms.set(key, {
      name: s.labels.domain ?? "",
      uuid: s.labels.uuid ?? "",
      host,
      instance: s.labels.instance ?? "",
      vcpus: s.v,
      samples: vmSamples.get(key) ?? null,
      inTransit: true,
    });
    nowOn.add(id);
    transit.push(`${s.labels.domain ?? id} (last on ${host})`);
    for (let i = 0; i < s.v; i++) {
      let set = live.get(key);
      if (!set) live.set(key, (set = new Set()));
      set.add(i);
    }
  }
  const perVcpu = (rows: VectorSample[]): Map<string, VcpuMap> => {
    const m = new Map<string, VcpuMap>();
    for (const s of rows) {
      const key = vmKeyOf(hostOf(s.labels), s.labels);
      const vcpu = Number(s.labels.vcpu);
      if (!Number.isInteger(vcpu) || vcpu < 0) continue;
      let v = m.get(key);
      if (!v) m.set(key, (v = new Map()));
      v.set(vcpu, s.v);
    }
    return m;
  };
  const platforms = new Map<string, NonNullable<FleetVm["platform"]>>();
  for (const s of r.domain_info) {
    const p = platformFromInfoLabels(s.labels);
    if (p) platforms.set(vmKeyOf(hostOf(s.labels), s.labels), p);
  }
  const usage = perVcpu(r.usage);
  const delay = perVcpu(r.delay);
  const throttled = perVcpu(r.throttled);

  // Series younger than the window (new or migrated VM, fresh Prometheus or agent): rate()
  // would spread their increase over time they did not exist. Take their raw samples.
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
    if (h.sweepFirst - (now - windowS) > 1.5 * interval) youngHosts.add(h.name);
  }
  const youngVms = new Set<string>();
  const youngInstances = new Map<string, string>(); // instance → host
  for (const [key, vm] of vms) {
    const h = hosts.get(vm.host);
    if (!h) continue;
    if (youngHosts.has(vm.host) || (vm.samples !== null && h.samples !== null && vm.samples < h.samples - 1)) {
      youngVms.add(key);
      youngInstances.set(vm.instance, vm.host);
    }
  }
  if (youngInstances.size > 0) {
    const target = (name: string | undefined): Map<string, VcpuMap> | null =>
      name === METRIC.vcpuTime
        ? usage
        : name === METRIC.vcpuDelay
          ? delay
          : name === METRIC.vcpuThrottled
            ? throttled
            : null;
    try {
      const raws = await Promise.all(
        [...youngInstances.keys()].map((inst) => askRaw(rawCountersQuery(windowS, inst, selector))),
      );
      for (const s of raws.flat()) {
        const key = vmKeyOf(hostOf(s.labels), s.labels);
        const into = target(s.labels.__name__);
        const vcpu = Number(s.labels.vcpu);
        if (!youngVms.has(key) || !into || !Number.isInteger(vcpu)) continue;
        let m = into.get(key);
        if (!m) into.set(key, (m = new Map()));
        const rate = rateFromPoints(s.points);
        if (rate === null) m.delete(vcpu);
        else m.set(vcpu, rate);
      }
    } catch (e) {
      if (e instanceof PrometheusError) throw SnapshotError.fromPrometheus(e);
      throw e;
    }
  }

  const outVms: FleetVm[] = [];
  const vmHosts = new Map<string, string[]>(); // name → hosts (a VM on two hosts at once)
  const notes: string[] = [];
  let throttledUnknown = 0;
  let memoryUnknown = 0;
  let extraSeries = 0;
  for (const [key, vm] of vms) {
    if (missing.has(vm.host)) continue;
    const n = vm.vcpus;
    if (!(Number.isInteger(n) && n > 0 && n <= FLEET_BOUNDS.vmVcpus)) {
      problems.push(`VM ${vm.name} on ${vm.host}: libvirt_domain_vcpu_current is ${n}`);
      continue;
    }
    const u = usage.get(key) ?? new Map<number, number>();
    const d = delay.get(key) ?? new Map<number, number>();
    const t = throttled.get(key);
    const now = [...(live.get(key) ?? [])].sort((a, b) => a - b);
    if (now.length < n) {
      problems.push(
        `VM ${vm.name} on ${vm.host}: ${n} online vCPUs but ${now.length} vCPU series (${now.length ? `vCPU ${now.join(", ")}` : "none"}): vCPU series missing`,
      );
      continue;
    }
    if (now.length > n) extraSeries++;
    const ids = now.slice(0, n);
    const noRate = ids.filter((v) => !u.has(v) || !d.has(v));
    if (noRate.length > 0) {
      problems.push(
        `VM ${vm.name} on ${vm.host}: no usage or delay rate for vCPU ${noRate.join(", ")} (fewer than 2 samples in the window: VM new or just migrated?)`,
      );
      continue;
    }
    const conf = cfg?.vms?.[vm.name];
    const agentMem = vmMemory.get(key);
    // Impossible rates are refused, not clamped: they come from a broken or hostile exporter.
    const use = ids.map((v) => u.get(v) ?? 0);
    const del = ids.map((v) => d.get(v) ?? 0);
    const thr = ids.map((v, i) => {
      const x = t?.get(v);
      if (x === undefined) {
        throttledUnknown++;
        return 0;
      }
      return Math.min(Math.max(0, x), del[i] ?? 0);
    });
    const impossible = ids.flatMap((v, i) =>
      [
        ["usage", use[i] ?? 0],
        ["delay", del[i] ?? 0],
        ["throttled", t?.get(v) ?? 0],
      ].flatMap(([what, x]) => {
        const p = rateProblem(x as number);
        return p === null ? [] : [`vCPU ${v} ${what} ${p}`];
      }),
    );
    if (impossible.length > 0) {
      inconsistent.push(`VM ${vm.name} on ${vm.host}: impossible rates: ${impossible.slice(0, 3).join("; ")}`);
      continue;
    }
    outVms.push({
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
    if (agentMem === undefined && conf?.memory_mib === undefined) memoryUnknown++;
    vmHosts.set(vm.name, [...(vmHosts.get(vm.name) ?? []), vm.host]);
  }
  const inFlight: string[] = [];
  for (const [name, on] of vmHosts) {
    if (on.length < 2) continue;
    const copies = outVms.filter((v) => v.name === name);
    const uuids = new Set(copies.map((v) => v.uuid));
    // One VM (one UUID) on two hosts: a live migration under way, the target's copy paused
    // until the switch-over. It counts where it runs (the copy that uses CPU), stays out of
    // plans, and the others are dropped; two different VMs of one name are refused.
    if (uuids.size !== 1 || copies[0]!.uuid === "") {
      inconsistent.push(
        `VM ${name} is on ${on.join(" and ")} at once, with ${uuids.size > 1 ? "different UUIDs" : "no UUID"} (two VMs share a name: plans name VMs, names must be unique)`,
      );
      continue;
    }
    const load = (v: FleetVm): number => v.usage.reduce((x, y) => x + y, 0) + v.delay.reduce((x, y) => x + y, 0);
    const keep = copies.reduce((a, b) => (load(b) > load(a) ? b : a));
    for (const c of copies) if (c !== keep) outVms.splice(outVms.indexOf(c), 1);
    Object.assign(keep, { migratable: false, in_transit: true });
    inFlight.push(`${name} (runs on ${keep.host}; also on ${on.filter((h) => h !== keep.host).join(", ")})`);
  }
  if (inFlight.length > 0)
    notes.push(`migrating now (one UUID on two hosts): ${inFlight.join("; ")}; counted where it runs, not moved`);

  if (problems.length > 0 || missing.size > 0) {
    const m = [...missing].sort();
    const head = m.length
      ? `missing or stale data for host${m.length > 1 ? "s" : ""} ${m.join(", ")}`
      : "incomplete VM data";
    throw new SnapshotError("partial_data", `no snapshot: ${head}: ${problems.join("; ")}`, problems, m);
  }
  const vcpusOn = new Map<string, number>();
  for (const v of outVms) vcpusOn.set(v.host, (vcpusOn.get(v.host) ?? 0) + v.vcpus);
  for (const [host, n] of vcpusOn) {
    if (n > FLEET_BOUNDS.hostVcpus)
      inconsistent.push(`host ${host} reports ${n} vCPUs of running VMs, more than ${FLEET_BOUNDS.hostVcpus}`);
  }
  for (const h of hosts.values()) {
    const own = cfg?.hosts?.[h.name]?.reserved_cpus;
    const reserved = own ?? cfg?.defaults?.reserved_cpus;
    if (reserved !== undefined && reserved > h.cpus) {
      inconsistent.push(
        `host ${h.name} has ${h.cpus} CPUs, fewer than the reserved_cpus ${reserved} of the hosts file${opts.hostsFile ? ` ${opts.hostsFile}` : ""} (${own !== undefined ? `hosts.${h.name}` : "defaults"}.reserved_cpus)`,
      );
    }
  }
  if (inconsistent.length > 0)
    throw new SnapshotError("inconsistent_data", `no snapshot: ${inconsistent.join("; ")}`, inconsistent);
  if (hosts.size === 0) {
    const sel = selector ? ` matching {${selector}}` : "";
    throw new SnapshotError(
      "no_data",
      `no snapshot: Prometheus at ${client.displayUrl} has no ${METRIC.hostCpus} series${sel}: is it scraping the vsteal agents?`,
    );
  }

  const outHosts: FleetHost[] = [...hosts.values()]
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
  outVms.sort((a, b) => a.host.localeCompare(b.host) || a.name.localeCompare(b.name));

  const hostMem = cfg?.defaults?.memory_mib ?? DEFAULT_HOST_MEMORY_MIB;
  const vmMem = cfg?.defaults?.vm_memory_mib ?? DEFAULT_VM_MEMORY_MIB;
  const hostsNoMem = [...hosts.values()]
    .filter((h) => h.vmMemoryMib === null && cfg?.hosts?.[h.name]?.memory_mib === undefined)
    .map((h) => h.name);
  if (hostsNoMem.length > 0 || memoryUnknown > 0) {
    notes.push(
      `memory: ${hostsNoMem.length} host(s)${hostsNoMem.length ? ` (${hostsNoMem.slice(0, 5).join(", ")}${hostsNoMem.length > 5 ? ", …" : ""})` : ""} and ${memoryUnknown} VM(s) without memory from their agent (${METRIC.hostVmMemory}, ${METRIC.vmMaxMemory}); ` +
        (opts.hostsFile
          ? `from the hosts file ${opts.hostsFile}, where it is not listed `
          : "no hosts file given, so ") +
        `a host has ${hostMem} MiB and a VM ${vmMem} MiB${vmMem === 0 ? " (unknown: memory does not limit the plan)" : ""}`,
    );
  }
  if (transit.length > 0)
    notes.push(
      `in transit (running within the last ${Math.min(TRANSIT_S, windowS)} s, on no host now): ${transit.join(", ")}; kept on the host last seen, not moved`,
    );
  if (inactive > 0) notes.push(`${inactive} domains without vCPU series (not running) are left out`);
  if (throttledUnknown > 0)
    notes.push(
      `throttled: ${throttledUnknown} vCPUs have no ${METRIC.vcpuThrottled} series (cgroup unreadable on their host); taken as 0`,
    );
  if (extraSeries > 0)
    notes.push(`${extraSeries} VMs report more vCPU series than online vCPUs; the lowest-numbered were kept`);
  if (youngInstances.size > 0)
    notes.push(
      `rates from raw samples (series younger than the ${windowS} s window) on ${[...new Set(youngInstances.values())].sort().join(", ")}`,
    );
  if (warnings.length) notes.push(`Prometheus warned: ${warnings.join("; ")}`);

  const snapshot: BuiltSnapshot = {
    version: 1,
    time: new Date(nowMs).toISOString(),
    window_s: windowS,
    hosts: outHosts,
    vms: outVms,
    constraints: {
      max_moves: cfg?.constraints?.max_moves ?? DEFAULT_MAX_MOVES,
      anti_affinity: cfg?.constraints?.anti_affinity ?? [],
    },
    notes,
    sources: Object.fromEntries(outHosts.map((h) => [h.name, hosts.get(h.name)?.instance ?? ""])),
  };
  return { snapshot, warnings, queries, durationMs: performance.now() - started };
}
