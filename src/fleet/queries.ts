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
  domainInfo: "vsteal_domain_info",
} as const;

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
    // The vCPU series there now (rate() also sees series gone within the window). A domain
    // without any is not running: the agent reports libvirt_domain_vcpu_current for inactive
    // domains too.
    vm_live: s(METRIC.vcpuDelay),
    usage: `rate(${s(METRIC.vcpuTime)}[${w}])`,
    delay: `rate(${s(METRIC.vcpuDelay)}[${w}])`,
    throttled: `rate(${s(METRIC.vcpuThrottled)}[${w}])`,
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
