/**
 * The answers of the agent's JSON API (/api/v1/…, built in api.ts), as they go on the wire: one
 * casing, snake_case, as the rest of the API and the fleet snapshot format. The dashboard (web/)
 * imports these types type-only, so the server and the page cannot drift apart.
 *
 * Types only, and only from pure modules: the dashboard's type check reads this file and what it
 * imports, and nothing of it enters the dashboard's bundle.
 */
import type { ActiveAlert, AlertEvent, AlertSubject } from "../alerts/types.js";
import type { Tier } from "../history/types.js";
import type { DomainState, PlatformIdentity, SourceKind } from "../model/types.js";

/** One vCPU now: fractions of its wall time (1 = a whole core). */
export interface VcpuJson {
  vcpu: number;
  tid: number;
  usage: number;
  steal: number;
  contention: number;
  throttled: number;
}

/** A domain now, as /api/v1/domains lists it. */
export interface DomainJson {
  domain: string;
  uuid: string | null;
  id: number | null;
  state: DomainState;
  source: SourceKind;
  vcpu_current: number;
  vcpu_maximum: number;
  /** Memory, cap and placement of a running domain; null when unknown (or uncapped). */
  memory_bytes: number | null;
  max_memory_bytes: number | null;
  vcpu_cap_cores: number | null;
  /** Host CPUs its vCPU threads may run on, list form ("0-3,8"). */
  cpus: string | null;
  /** Who it is on its platform (src/platforms), null when libvirt alone knows it. */
  platform: PlatformIdentity | null;
  /** Averages over the domain's vCPUs (fractions of one vCPU's wall time). */
  usage: number;
  steal: number;
  contention: number;
  throttled: number;
  vcpus: VcpuJson[];
}

/** GET /api/v1/domains */
export interface DomainsResponse {
  time: number | null;
  interval_s: number | null;
  domains: DomainJson[];
}

export interface NeighbourJson {
  domain: string;
  uuid: string | null;
  /** Cores of CPU this VM used on the host CPUs the victim may run on (window average). */
  cpu_on_shared_cpus: number;
  /** That, as a fraction of the shared CPUs' capacity. */
  share_of_shared_cpus: number;
}

/** A VM that waits and the VMs that use the CPUs it may run on (GET /api/v1/neighbours?domain=NAME). */
export interface NoisyNeighboursJson {
  domain: string;
  uuid: string | null;
  /** Contention steal, cores (Σ over its vCPUs, window average). */
  contention: number;
  throttled: number;
  /** Host CPUs the victim's vCPUs may run on. */
  cpus: number[];
  neighbours: NeighbourJson[];
}

/** GET /api/v1/domains/NAME */
export interface DomainResponse extends DomainJson {
  time: number | null;
  neighbours: NoisyNeighboursJson | null;
}

/** GET /api/v1/neighbours (no domain): the VMs that wait, with their noisy neighbours. */
export interface VictimsResponse {
  window_s: number;
  victims: NoisyNeighboursJson[];
}

/** GET /api/v1/host */
export interface HostResponse {
  /** Host CPUs online. */
  cpus: number;
  reserved_cpus: number;
  /** vm_cpu_count − reserved_cpus: what VMs can have. */
  capacity: number;
  running_domains: number;
  vcpus_allocated: number;
  oversubscription: number;
  /** Σ (usage + contention) over vCPUs, cores. */
  demand: number;
  demand_ratio: number;
  usage: number;
  steal: number;
  contention: number;
  throttled: number;
  steal_percentiles: { p50: number; p90: number; p99: number; max: number };
  vcpus_sampled: number;
  host_name: string;
  /** CPUs VMs may use, list form, and how many. */
  vm_cpus: string;
  vm_cpu_count: number;
  vm_cpus_from: "flag" | "machine-cgroup" | "online";
  memory_total_bytes: number | null;
  memory_available_bytes: number | null;
  vm_memory_bytes: number | null;
  reserved_memory_bytes: number;
  interval_s: number | null;
  time: number | null;
}

/** GET /api/v1/health */
export interface HealthResponse {
  role: "agent";
  status: "ok" | "starting";
  uptime_s: number;
  source: string;
  /** The agent process's memory, bytes. */
  memory: { rss: number; heap_total: number; heap_used: number; external: number; array_buffers: number };
  sweeps: number;
  last_sweep_seconds: number;
  last_sweep_ms: number | null;
  last_discovery_ms: number | null;
  discovery_errors: number;
  errors: number;
  vcpus: number;
  domains: number;
  last_error: string | null;
  event_discoveries: number;
}

/** One point of history: fractions of wall time (per domain: summed over its vCPUs). */
export interface HistoryPointJson {
  /** ms since the epoch. */
  t: number;
  usage: number;
  delay: number;
  throttled: number;
  contention: number;
  delay_max: number;
}

export interface HistorySeriesJson {
  domain: string;
  uuid: string | null;
  vcpu: number;
  tier: Tier;
  /** Resolution of the points, seconds. */
  step_s: number;
  points: HistoryPointJson[];
}

export interface HistoryDomainPointJson extends HistoryPointJson {
  /** vCPUs that had data at this point. */
  vcpus: number;
}

export interface HistoryDomainSeriesJson {
  domain: string;
  uuid: string | null;
  vcpus: number[];
  tier: Tier;
  step_s: number;
  points: HistoryDomainPointJson[];
}

/** GET /api/v1/history (per vCPU) and /api/v1/history/domains (per domain). */
export interface HistoryResponse<S = HistorySeriesJson> {
  from: number;
  to: number;
  series: S[];
}

export type AlertSubjectJson = AlertSubject;

/** An alert pending or firing now (the engine's ActiveAlert, its times in the API's casing). */
export type ActiveAlertJson = Omit<ActiveAlert, "activeSinceMs" | "firedAtMs"> & {
  /** When the condition started to hold, ms since the epoch. */
  active_since_ms: number;
  /** When it fired; null while pending. */
  fired_at_ms: number | null;
};

/** A transition (fired, resolved): the engine's AlertEvent, its time in the API's casing. */
export type AlertEventJson = Omit<AlertEvent, "atMs"> & {
  /** ms since the epoch. */
  at_ms: number;
};

/** GET /api/v1/alerts */
export interface AlertsResponse {
  active: ActiveAlertJson[];
  events: AlertEventJson[];
}

/** Any failed request: 400, 404, 503… */
export interface ErrorResponse {
  error: string;
}
