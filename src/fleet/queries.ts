/**
 * The PromQL the snapshot builder sends, in one place. Only functions every
 * Prometheus-compatible backend has (rate, count_over_time, last_over_time, min_over_time,
 * timestamp); no subqueries, no vendor extensions.
 */

export const METRIC = {
  hostCpus: "vsteal_host_cpus",
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
  | "vm_samples"
  | "vm_live"
  | "usage"
  | "delay"
  | "throttled"
  | "throttled_live"
  | "host_info"
  | "host_vm_cpus_info"
  | "host_vm_cpus"
  | "host_vm_memory"
  | "vm_max_memory"
  | "vm_cap"
  | "vcpu_samples"
  | "vm_recent"
  | "domain_info";

/** The instant queries of one snapshot, all evaluated at the same time. */
export function snapshotQueries(windowS: number, selector = ""): Record<QueryName, string> {
  const w = range(windowS);
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
    vm_samples: `count_over_time(${s(METRIC.vcpuCurrent)}[${w}])`,
    // The vCPU series there now, counted per VM (rate() also sees series gone within the
    // window). A domain without any is not running: the agent reports
    // libvirt_domain_vcpu_current for inactive domains too. Which vCPUs they are is the delay
    // answer's: when a VM has as many rates as series now and every series of it has two
    // samples or more in the window (so each has a rate), those are its series; else
    // snapshotDetailQueries ask. (Not `rate(delay) and delay`: that vector match costs the
    // engine more than the rate itself, on Prometheus and VictoriaMetrics alike.)
    vm_live: `count without (vcpu) (${s(METRIC.vcpuDelay)})`,
    usage: `rate(${s(METRIC.vcpuTime)}[${w}])`,
    delay: `rate(${s(METRIC.vcpuDelay)}[${w}])`,
    // Most vCPUs are never throttled: only the others come back (NaN and negatives too, to be
    // refused), and per VM how many of its vCPU series have a throttled rate, so that a vCPU
    // without one (cgroup unreadable) is still told from one at 0. (A VM with a series gone
    // within the window is asked in detail, where every throttled rate is known.)
    throttled: `rate(${s(METRIC.vcpuThrottled)}[${w}]) != 0`,
    throttled_live: `count without (vcpu) (rate(${s(METRIC.vcpuThrottled)}[${w}]))`,
    // What the agents report for planning (absent from agents older than 0.2: then the hosts
    // file or its defaults say).
    host_info: s(METRIC.hostInfo),
    host_vm_cpus_info: s(METRIC.hostVmCpusInfo),
    host_vm_cpus: s(METRIC.hostVmCpus),
    host_vm_memory: s(METRIC.hostVmMemory),
    vm_max_memory: s(METRIC.vmMaxMemory),
    vm_cap: s(METRIC.vmCap),
    // Samples of each vCPU's delay series in the window: a series with fewer than its host's
    // is younger than the window (VM started, arrived, or came back) or has a gap.
    // Per VM (the fewest of its vCPUs'), aggregated in PromQL: a fleet's answer has one series
    // a VM, not one a vCPU.
    vcpu_samples: `min without (vcpu) (count_over_time(${s(METRIC.vcpuDelay)}[${w}]))`,
    // VMs running a moment ago: one missing now is in transit (or stopped), never silently gone.
    vm_recent: `last_over_time(${s(METRIC.vcpuCurrent)}[${range(Math.min(TRANSIT_S, windowS))}]) and on (instance, job, uuid) last_over_time(${s(METRIC.vcpuDelay)}[${range(Math.min(TRANSIT_S, windowS))}])`,
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
 * Per vCPU, for the VMs of one target where the per-VM counts do not say which vCPUs they are
 * (a vCPU series there now without a rate, more series than online vCPUs, a VM in transit):
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
