/**
 * The PromQL the snapshot builder sends, in one place. Only functions every
 * Prometheus-compatible backend has (rate, changes, count_over_time, last_over_time,
 * min_over_time, timestamp; comparisons, `and`, `unless`, one-to-one and `group_left` matching);
 * no subqueries, no vendor extensions.
 */

import { escapeRegExp } from "../util/regexp.js";

export const METRIC = {
  hostCpus: "vsteal_host_cpus",
  hostVcpuSeries: "vsteal_host_vcpu_series",
  hostCapacity: "vsteal_host_capacity_cores",
  lastSweep: "vsteal_collector_last_sweep_timestamp_seconds",
  vcpuCurrent: "libvirt_domain_vcpu_current",
  vcpuTime: "libvirt_domain_vcpu_time_seconds_total",
  vcpuDelay: "libvirt_domain_vcpu_delay_seconds_total",
  vcpuThrottled: "vsteal_domain_vcpu_throttled_seconds_total",
  hostInfo: "vsteal_host_info",
  hostVmCpusInfo: "vsteal_host_vm_cpus_info",
  hostVmCpus: "vsteal_host_vm_cpus",
  hostVmMemory: "vsteal_host_vm_memory_bytes",
  vmMaxMemory: "libvirt_domain_info_maximum_memory_bytes",
  vmCap: "vsteal_domain_vcpu_cap_cores",
  domainInfo: "vsteal_domain_info",
} as const;

/** A VM whose vCPU series vanished less than this long ago is in transit (or just stopped), not forgotten. */
export const TRANSIT_S = 60;

/** A PromQL string literal (double-quoted; JSON's escapes are PromQL's). */
export const promString = (s: string): string => JSON.stringify(s);

/** `name{matchers}` with the user's extra matchers (`--selector 'job="vsteal"'`). */
export function sel(metric: string, selector: string, extra = ""): string {
  const parts = [selector.trim(), extra].filter((p) => p !== "");
  return parts.length ? `${metric}{${parts.join(",")}}` : metric;
}

/** A range duration in whole seconds, as every backend reads it. */
export const range = (windowS: number): string => `${Math.max(1, Math.round(windowS))}s`;

export type QueryName =
  | "host_cpus"
  | "host_capacity"
  | "host_timestamp"
  | "host_samples"
  | "hosts_seen"
  | "sweep_last"
  | "sweep_first"
  | "up"
  | "vm_current"
  | "vm_young"
  | "vm_resized"
  | "usage"
  | "delay"
  | "throttled"
  | "throttled_vms"
  | "host_info"
  | "host_vcpu_series"
  | "host_vm_cpus_info"
  | "host_vm_cpus"
  | "host_vm_memory"
  | "vm_max_memory"
  | "vm_cap"
  | "vm_recent"
  | "domain_info";

/** The instant queries of one snapshot, all evaluated at the same time. */
export function snapshotQueries(windowS: number, selector = ""): Record<QueryName, string> {
  const w = range(windowS);
  const recent = range(Math.min(TRANSIT_S, windowS));
  const s = (m: string) => sel(m, selector);
  return {
    host_cpus: s(METRIC.hostCpus),
    host_capacity: s(METRIC.hostCapacity),
    host_timestamp: `timestamp(${s(METRIC.hostCpus)})`,
    host_samples: `count_over_time(${s(METRIC.hostCpus)}[${w}])`,
    hosts_seen: `last_over_time(${s(METRIC.hostCpus)}[${w}])`,
    sweep_last: s(METRIC.lastSweep),
    sweep_first: `min_over_time(${s(METRIC.lastSweep)}[${w}])`,
    up: sel("up", selector),
    vm_current: s(METRIC.vcpuCurrent),
    // The engine's time goes into selecting series: per vCPU the snapshot selects only the three
    // counters whose rates it plans on (usage and delay per vCPU, throttled where it is not 0),
    // as the raw rate queries do. What it needs to know per VM it asks of the VM's vCPU 0 (libvirt
    // never takes vCPU 0 offline) or of libvirt_domain_vcpu_current (one series a VM), and only
    // the VMs that need a closer look come back.
    //
    // VMs whose vCPU 0 delay series has fewer samples in the window than its host's own series:
    // younger than the window (started, arrived, came back), gone within it (stopped, left), or
    // with a gap. Their value is that count. Every other VM with a vCPU 0 series had it at every
    // scrape of the window, the newest included: it runs now, and its vCPU series are the ones
    // with a delay rate (a VM with none is not running: the agent reports
    // libvirt_domain_vcpu_current for inactive domains too). For the VMs listed here, and where
    // the rates do not match the online vCPUs, snapshotDetailQueries ask their target which
    // vCPU series are there now.
    vm_young: `count_over_time(${sel(METRIC.vcpuDelay, selector, 'vcpu="0"')}[${w}]) < on (instance, job) group_left () count_over_time(${s(METRIC.hostCpus)}[${w}])`,
    // VMs whose number of online vCPUs changed within the window (vCPU hot-plug): their
    // series are not all as old as vCPU 0's.
    vm_resized: `changes(${s(METRIC.vcpuCurrent)}[${w}]) > 0`,
    usage: `rate(${s(METRIC.vcpuTime)}[${w}])`,
    delay: `rate(${s(METRIC.vcpuDelay)}[${w}])`,
    // Most vCPUs are never throttled: only the others come back (NaN and negatives too, to be
    // refused).
    throttled: `rate(${s(METRIC.vcpuThrottled)}[${w}]) != 0`,
    // Per target, the VMs whose vCPU 0 has a throttled series now. Where they are fewer than
    // its running VMs, throttledUnknownQuery asks which lack one (cgroup unreadable: their
    // throttled rates are unknown, taken as 0 with a note).
    throttled_vms: `count by (instance, job) (${sel(METRIC.vcpuThrottled, selector, 'vcpu="0"')})`,
    // How many vCPU series each agent exports now (absent from agents that predate it: then
    // vcpuSeriesCountQuery counts them): where the settled VMs' delay rates are more, a vCPU
    // series is gone within the window, and snapshotDetailQueries ask that target.
    host_vcpu_series: s(METRIC.hostVcpuSeries),
    // What the agents report for planning (absent from agents older than 0.2: then the hosts
    // file or its defaults say).
    host_info: s(METRIC.hostInfo),
    host_vm_cpus_info: s(METRIC.hostVmCpusInfo),
    host_vm_cpus: s(METRIC.hostVmCpus),
    host_vm_memory: s(METRIC.hostVmMemory),
    vm_max_memory: s(METRIC.vmMaxMemory),
    vm_cap: s(METRIC.vmCap),
    // VMs running a moment ago (a vCPU 0 series within TRANSIT_S) that run on no host now: in
    // transit (or just stopped), never silently gone. Their value is their online vCPUs.
    vm_recent: `last_over_time(${s(METRIC.vcpuCurrent)}[${recent}]) and on (instance, job, uuid) (last_over_time(${sel(METRIC.vcpuDelay, selector, 'vcpu="0"')}[${recent}]) unless on (uuid, domain) ${sel(METRIC.vcpuDelay, selector, 'vcpu="0"')})`,
    // Who owns each VM (OpenStack, Proxmox, KubeVirt): the snapshot's optional `platform`.
    domain_info: s(METRIC.domainInfo),
  };
}

/**
 * Raw samples of the three vCPU counters of one target over the window: used where a
 * series is younger than the window (new or just migrated VM, fresh Prometheus), where
 * rate() would extrapolate over time the series did not exist.
 */
export function rawCountersQuery(windowS: number, instance: string, selector = ""): string {
  const names = [METRIC.vcpuTime, METRIC.vcpuDelay, METRIC.vcpuThrottled].join("|");
  return `${sel("", selector, `__name__=~${promString(names)},instance=${promString(instance)}`)}[${range(windowS)}]`;
}

/**
 * Per vCPU, for the VMs of one target where the per-VM answers do not say which vCPUs they are
 * (vm_young, vm_resized, a VM in transit, delay rates that do not match the online vCPUs):
 * its vCPU series there now, its delay and throttled rates, as the fleet's queries would give
 * them for one host without aggregating.
 */
export function snapshotDetailQueries(
  windowS: number,
  instance: string,
  selector = "",
): { live: string; delay: string; throttled: string } {
  const only = `instance=${promString(instance)}`;
  return {
    live: sel(METRIC.vcpuDelay, selector, only),
    // Every delay rate, of the series gone within the window too: a VM in transit has no other.
    delay: `rate(${sel(METRIC.vcpuDelay, selector, only)}[${range(windowS)}])`,
    throttled: `rate(${sel(METRIC.vcpuThrottled, selector, only)}[${range(windowS)}])`,
  };
}

/** A regular expression matching exactly these strings (PromQL's `=~` anchors it at both ends). */
const exactly = (values: readonly string[]): string => values.map(escapeRegExp).join("|");

/** The domains of these targets whose vCPU 0 has no throttled series now. */
export function throttledUnknownQuery(instances: readonly string[], selector = ""): string {
  const only = `instance=~${promString(exactly(instances))}`;
  return `${sel(METRIC.vcpuCurrent, selector, only)} unless on (instance, job, uuid) ${sel(METRIC.vcpuThrottled, selector, `vcpu="0",${only}`)}`;
}

/**
 * The vCPU series there now, counted per target, for the targets whose agents do not say
 * (`vsteal_host_vcpu_series`: agents that predate it).
 */
export function vcpuSeriesCountQuery(instances: readonly string[], selector = ""): string {
  return `count by (instance, job) (${sel(METRIC.vcpuDelay, selector, `instance=~${promString(exactly(instances))}`)})`;
}
