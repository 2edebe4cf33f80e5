/**
 * The agent's JSON API (src/agent/api.ts), as the dashboard reads it. Every response is checked
 * field by field: a missing or mistyped field becomes a neutral value, never an exception deep in
 * a chart. The shapes are the server's (type-only imports: nothing of the server is bundled).
 */
import type * as Agent from "../../src/agent/api-types.js";
import type * as Controller from "../../src/controller/api-types.js";

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
export const obj = (v: unknown): Obj => (isObj(v) ? v : {});
export const num = (o: Obj, k: string, d = 0): number => {
  const v = o[k];
  return typeof v === "number" && Number.isFinite(v) ? v : d;
};
export const numOrNull = (o: Obj, k: string): number | null => {
  const v = o[k];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
};
export const str = (o: Obj, k: string, d = ""): string => {
  const v = o[k];
  return typeof v === "string" ? v : d;
};
export const strOrNull = (o: Obj, k: string): string | null => {
  const v = o[k];
  return typeof v === "string" ? v : null;
};
export const list = (o: Obj, k: string): unknown[] => {
  const v = o[k];
  return Array.isArray(v) ? v : [];
};
const record = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) if (typeof x === "string") out[k] = x;
  return out;
};

export type VcpuNow = Agent.VcpuJson;

/** Who a VM is on the platform that owns it (src/platforms), as the API gives it. */
export interface PlatformNow {
  kind: string;
  id: string | null;
  name: string | null;
  project: string | null;
  namespace: string | null;
  /** Every other text field (user, flavor, tags, metadata picks), for search and the VM view. */
  extra: Array<[string, string]>;
}

/** One line for people: "openstack web-1 · project shop", "proxmox 104 db", "kubevirt prod/vm-a". */
export function platformText(p: PlatformNow | null): string {
  if (!p || p.kind === "libvirt") return p && p.extra.length ? p.extra.map(([k, v]) => `${k} ${v}`).join(" · ") : "";
  switch (p.kind) {
    case "openstack":
      return [`openstack ${p.name ?? p.id ?? ""}`.trim(), p.project ? `project ${p.project}` : ""]
        .filter((x) => x)
        .join(" · ");
    case "proxmox":
      return ["proxmox", p.id ?? "", p.name ?? ""].filter((x) => x).join(" ");
    case "kubevirt":
      return `kubevirt ${p.namespace ?? "?"}/${p.name ?? "?"}`;
    default:
      return [p.kind, p.name ?? p.id ?? ""].filter((x) => x).join(" ");
  }
}

/** Does a VM match what was typed in the filter (its name, UUID or anything its platform says)? */
export function vmMatches(d: Pick<DomainNow, "domain" | "uuid" | "platform">, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (q === "") return true;
  const p = d.platform;
  const hay = [
    d.domain,
    d.uuid ?? "",
    ...(p ? [p.kind, p.id ?? "", p.name ?? "", p.project ?? "", p.namespace ?? "", ...p.extra.map(([, v]) => v)] : []),
  ];
  return q.split(/\s+/).every((w) => hay.some((x) => x.toLowerCase().includes(w)));
}

export function platformNow(v: unknown): PlatformNow | null {
  if (!isObj(v) || typeof v.kind !== "string") return null;
  const extra: Array<[string, string]> = [];
  for (const [k, x] of Object.entries(v)) {
    if (["kind", "id", "name", "project", "namespace"].includes(k)) continue;
    if (typeof x === "string" || typeof x === "number") extra.push([k, String(x)]);
    else if (Array.isArray(x)) extra.push([k, x.filter((t) => typeof t === "string").join(", ")]);
    else if (isObj(x)) for (const [mk, mv] of Object.entries(x)) if (typeof mv === "string") extra.push([mk, mv]);
  }
  return {
    kind: v.kind,
    id: strOrNull(v, "id"),
    name: strOrNull(v, "name"),
    project: strOrNull(v, "project"),
    namespace: strOrNull(v, "namespace"),
    extra,
  };
}

/**
 * The answers as the dashboard keeps them: the server's own types (src/agent/api-types.ts), cut
 * to the fields the page reads. Where a decoder cannot promise the server's narrower type (an
 * enumeration it passes on as text, a field an older agent lacks), the type says what the
 * decoder gives instead.
 */
export type DomainNow = Pick<
  Agent.DomainJson,
  "domain" | "uuid" | "id" | "vcpu_current" | "vcpu_maximum" | "usage" | "steal" | "contention" | "throttled" | "vcpus"
> & {
  state: string;
  source: string;
  /** Who it is on its platform; null when libvirt alone knows it. */
  platform: PlatformNow | null;
};

export type DomainsResponse = Omit<Agent.DomainsResponse, "domains"> & { domains: DomainNow[] };

export type HostResponse = Pick<
  Agent.HostResponse,
  | "cpus"
  | "reserved_cpus"
  | "capacity"
  | "running_domains"
  | "vcpus_allocated"
  | "oversubscription"
  | "demand"
  | "demand_ratio"
  | "usage"
  | "steal"
  | "contention"
  | "throttled"
  | "steal_percentiles"
  | "vcpus_sampled"
  | "interval_s"
  | "time"
>;

/** Who serves the page: a host's agent, or the fleet controller. */
export type ServerRole = Agent.HealthResponse["role"] | Controller.ControllerHealthResponse["role"];

/** The role /api/v1/health tells; agents from before the field existed are agents. */
export function roleOf(health: unknown): ServerRole {
  return obj(health).role === "controller" ? "controller" : "agent";
}

export type HealthResponse = Pick<
  Agent.HealthResponse,
  | "uptime_s"
  | "sweeps"
  | "last_sweep_ms"
  | "last_discovery_ms"
  | "discovery_errors"
  | "errors"
  | "vcpus"
  | "domains"
  | "last_error"
> & { status: string; source: string };

export type Neighbour = Agent.NeighbourJson;
export type NoisyNeighbours = Agent.NoisyNeighboursJson;
export type VictimsResponse = Agent.VictimsResponse;
export type DomainDetail = DomainNow & Pick<Agent.DomainResponse, "time" | "neighbours">;

export type AlertSubject = Omit<Agent.AlertSubjectJson, "platform">;

export type ActiveAlert = Omit<Agent.ActiveAlertJson, "subject" | "state" | "severity" | "labels"> & {
  subject: AlertSubject;
  state: string;
  severity: string;
};

export type AlertEvent = Omit<Agent.AlertEventJson, "subject" | "state" | "severity" | "labels" | "reason"> & {
  subject: AlertSubject;
  state: string;
  severity: string;
  reason: string | null;
};

export type AlertsResponse = { active: ActiveAlert[]; events: AlertEvent[] };

export type HistoryPoint = Omit<Agent.HistoryPointJson, "delay_max">;

export type HistorySeries = Omit<Agent.HistorySeriesJson, "tier" | "points"> & {
  /** "raw" (one point per sample) or "10m" (10-minute buckets); null when the agent did not say. */
  tier: string | null;
  points: HistoryPoint[];
};

export type HistoryResponse = Agent.HistoryResponse<HistorySeries>;

function vcpuNow(v: unknown): VcpuNow {
  const o = obj(v);
  return {
    vcpu: num(o, "vcpu"),
    tid: num(o, "tid"),
    usage: num(o, "usage"),
    steal: num(o, "steal"),
    contention: num(o, "contention"),
    throttled: num(o, "throttled"),
  };
}

function domainNow(v: unknown): DomainNow {
  const o = obj(v);
  return {
    domain: str(o, "domain"),
    platform: platformNow(o.platform),
    uuid: strOrNull(o, "uuid"),
    id: numOrNull(o, "id"),
    state: str(o, "state", "unknown"),
    source: str(o, "source"),
    vcpu_current: num(o, "vcpu_current"),
    vcpu_maximum: num(o, "vcpu_maximum"),
    usage: num(o, "usage"),
    steal: num(o, "steal"),
    contention: num(o, "contention"),
    throttled: num(o, "throttled"),
    vcpus: list(o, "vcpus")
      .map(vcpuNow)
      .sort((a, b) => a.vcpu - b.vcpu),
  };
}

function noisy(v: unknown): NoisyNeighbours {
  const o = obj(v);
  return {
    domain: str(o, "domain"),
    uuid: strOrNull(o, "uuid"),
    contention: num(o, "contention"),
    throttled: num(o, "throttled"),
    cpus: list(o, "cpus").filter((c): c is number => typeof c === "number"),
    neighbours: list(o, "neighbours").map((n) => {
      const x = obj(n);
      return {
        domain: str(x, "domain"),
        uuid: strOrNull(x, "uuid"),
        cpu_on_shared_cpus: num(x, "cpu_on_shared_cpus"),
        share_of_shared_cpus: num(x, "share_of_shared_cpus"),
      };
    }),
  };
}

function subject(v: unknown): AlertSubject {
  const o = obj(v);
  const s: AlertSubject = {};
  if (typeof o.domain === "string") s.domain = o.domain;
  if (typeof o.uuid === "string") s.uuid = o.uuid;
  if (typeof o.vcpu === "number") s.vcpu = o.vcpu;
  return s;
}

export const parse = {
  domains(v: unknown): DomainsResponse {
    const o = obj(v);
    return {
      time: numOrNull(o, "time"),
      interval_s: numOrNull(o, "interval_s"),
      domains: list(o, "domains").map(domainNow),
    };
  },
  domain(v: unknown): DomainDetail {
    const o = obj(v);
    return {
      ...domainNow(o),
      time: numOrNull(o, "time"),
      neighbours: isObj(o.neighbours) ? noisy(o.neighbours) : null,
    };
  },
  host(v: unknown): HostResponse {
    const o = obj(v);
    const p = obj(o.steal_percentiles);
    return {
      cpus: num(o, "cpus"),
      reserved_cpus: num(o, "reserved_cpus"),
      capacity: num(o, "capacity"),
      running_domains: num(o, "running_domains"),
      vcpus_allocated: num(o, "vcpus_allocated"),
      oversubscription: num(o, "oversubscription"),
      demand: num(o, "demand"),
      demand_ratio: num(o, "demand_ratio"),
      usage: num(o, "usage"),
      steal: num(o, "steal"),
      contention: num(o, "contention"),
      throttled: num(o, "throttled"),
      steal_percentiles: { p50: num(p, "p50"), p90: num(p, "p90"), p99: num(p, "p99"), max: num(p, "max") },
      vcpus_sampled: num(o, "vcpus_sampled"),
      interval_s: numOrNull(o, "interval_s"),
      time: numOrNull(o, "time"),
    };
  },
  health(v: unknown): HealthResponse {
    const o = obj(v);
    return {
      status: str(o, "status", "unknown"),
      uptime_s: num(o, "uptime_s"),
      source: str(o, "source"),
      sweeps: num(o, "sweeps"),
      last_sweep_ms: numOrNull(o, "last_sweep_ms"),
      last_discovery_ms: numOrNull(o, "last_discovery_ms"),
      discovery_errors: num(o, "discovery_errors"),
      errors: num(o, "errors"),
      vcpus: num(o, "vcpus"),
      domains: num(o, "domains"),
      last_error: strOrNull(o, "last_error"),
    };
  },
  victims(v: unknown): VictimsResponse {
    const o = obj(v);
    return { window_s: num(o, "window_s"), victims: list(o, "victims").map(noisy) };
  },
  alerts(v: unknown): AlertsResponse {
    const o = obj(v);
    return {
      active: list(o, "active").map((a) => {
        const x = obj(a);
        return {
          rule: str(x, "rule"),
          subject: subject(x.subject),
          state: str(x, "state"),
          value: num(x, "value"),
          threshold: num(x, "threshold"),
          active_since_ms: num(x, "active_since_ms"),
          fired_at_ms: numOrNull(x, "fired_at_ms"),
          severity: str(x, "severity", "warning"),
          annotations: record(x.annotations),
        };
      }),
      events: list(o, "events").map((e) => {
        const x = obj(e);
        return {
          rule: str(x, "rule"),
          subject: subject(x.subject),
          state: str(x, "state"),
          value: num(x, "value"),
          threshold: num(x, "threshold"),
          at_ms: num(x, "at_ms"),
          severity: str(x, "severity", "warning"),
          reason: strOrNull(x, "reason"),
          annotations: record(x.annotations),
        };
      }),
    };
  },
  history(v: unknown): HistoryResponse {
    const o = obj(v);
    return {
      from: num(o, "from"),
      to: num(o, "to"),
      series: list(o, "series").map((s) => {
        const x = obj(s);
        return {
          domain: str(x, "domain"),
          uuid: strOrNull(x, "uuid"),
          vcpu: num(x, "vcpu"),
          tier: strOrNull(x, "tier"),
          step_s: num(x, "step_s"),
          points: list(x, "points")
            .map((p) => {
              const y = obj(p);
              return {
                t: num(y, "t", NaN),
                usage: num(y, "usage"),
                delay: num(y, "delay"),
                throttled: num(y, "throttled"),
                contention: num(y, "contention"),
              };
            })
            .filter((p) => Number.isFinite(p.t)),
        };
      }),
    };
  },
};

/** The agent did not answer at all (down, restarting, network). */
export class UnreachableError extends Error {}

/** The agent answered with an error status; `message` is its own `error` text when it gave one. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson(path: string, timeoutMs = 8000): Promise<unknown> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  let r: Response;
  try {
    r = await fetch(path, { signal: ctl.signal, headers: { accept: "application/json" }, cache: "no-store" });
  } catch (e) {
    throw new UnreachableError(e instanceof Error ? e.message : String(e));
  } finally {
    clearTimeout(timer);
  }
  let body: unknown = null;
  try {
    body = await r.json();
  } catch {
    /* not JSON: a proxy's error page, or an old agent */
  }
  if (!r.ok) {
    const msg = isObj(body) && typeof body.error === "string" ? body.error : `${r.status} ${r.statusText}`;
    // A proxy in front of a restarting agent answers 502/503/504: that is "not reachable" too.
    if (r.status === 502 || r.status === 503 || r.status === 504) throw new UnreachableError(msg);
    throw new HttpError(r.status, msg);
  }
  return body;
}
