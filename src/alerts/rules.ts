/**
 * Alert rules as the engine and the notifier use them: validated, defaults filled in,
 * durations in milliseconds, thresholds as plain numbers. A config file is turned into
 * these by config.ts; DEFAULT_RULES are the same as default-rules.yaml.
 */

/** What a rule watches, and over which subjects it is evaluated. */
export const ALERT_METRICS = {
  /** Per vCPU: contention (delay minus throttling) as a fraction of wall time, 0..1. */
  vcpu_contention: { scope: "vcpu", fraction: true },
  /** Per vCPU: all run-queue delay (what the guest sees as steal), 0..1. */
  vcpu_delay: { scope: "vcpu", fraction: true },
  /** Per vCPU: delay caused by the VM's own CPU cap, 0..1. */
  vcpu_throttled: { scope: "vcpu", fraction: true },
  /** Per vCPU: time on a host CPU, 0..1. */
  vcpu_usage: { scope: "vcpu", fraction: true },
  /** Per VM: Σ contention over its vCPUs / number of vCPUs, 0..1. */
  domain_contention: { scope: "domain", fraction: true },
  /** Per host: vCPU demand (cores, Σ usage + contention) / host capacity (cores); 1 = full. */
  host_demand_ratio: { scope: "host", fraction: false },
  /** Per host: total steal of all vCPUs, in cores (host.stealTotal as the caller gives it). */
  host_steal: { scope: "host", fraction: false },
} as const satisfies Record<string, { scope: AlertScope; fraction: boolean }>;

export type AlertScope = "vcpu" | "domain" | "host";
export type AlertMetric = keyof typeof ALERT_METRICS;
export const ALERT_METRIC_NAMES = Object.keys(ALERT_METRICS) as AlertMetric[];

export type AlertOp = ">" | "<";
export const ALERT_SEVERITIES = ["info", "warning", "critical"] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export interface Webhook {
  /** http: or https: URL the event is POSTed to as JSON. */
  url: string;
  /** Extra request headers (e.g. Authorization); never logged. */
  headers: Record<string, string>;
  /** Per-attempt timeout, ms. */
  timeoutMs: number;
  /** Attempts after the first one when a delivery fails (network error, 408, 429, 5xx). */
  retries: number;
}

export interface AlertRule {
  name: string;
  metric: AlertMetric;
  op: AlertOp;
  threshold: number;
  /** How long the condition must hold before the alert fires, ms (0: at once). */
  forMs: number;
  /**
   * A firing alert resolves only once the value is back past this bound: value <= clearThreshold
   * for ">", value >= clearThreshold for "<". Between the two thresholds it keeps firing.
   */
  clearThreshold: number;
  /** How long the value must stay past clearThreshold before the alert resolves, ms. */
  clearForMs: number;
  severity: AlertSeverity;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  webhooks: Webhook[];
}

/** Default webhook settings. */
export const WEBHOOK_DEFAULTS = { timeoutMs: 5_000, retries: 3 } as const;

/** The clear threshold a rule gets when the config names none: 20 % back inside. */
export function defaultClearThreshold(op: AlertOp, threshold: number): number {
  const band = Math.abs(threshold) * 0.2;
  // Rounded so that 5 % gives 0.04, not 0.039999999999999994.
  return Number((op === ">" ? threshold - band : threshold + band).toPrecision(12));
}

/** The rules vsteal runs with when no config file is given; the same as default-rules.yaml. */
export const DEFAULT_RULES: readonly AlertRule[] = Object.freeze([
  {
    name: "VcpuContentionStealHigh",
    metric: "vcpu_contention",
    op: ">",
    threshold: 0.05,
    forMs: 180_000,
    clearThreshold: defaultClearThreshold(">", 0.05),
    clearForMs: 0,
    severity: "warning",
    labels: {},
    annotations: {
      summary: "A vCPU waits more than 5 % of the time for a host CPU because of other load",
    },
    webhooks: [],
  },
  {
    name: "HostOversubscribed",
    metric: "host_demand_ratio",
    op: ">",
    threshold: 1,
    forMs: 120_000,
    clearThreshold: defaultClearThreshold(">", 1),
    clearForMs: 0,
    severity: "warning",
    labels: {},
    annotations: {
      summary: "The vCPUs on this host want more CPU than the host has",
    },
    webhooks: [],
  },
]);
