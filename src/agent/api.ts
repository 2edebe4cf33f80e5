import { Hono } from "hono";
import { z } from "zod";
import type { HostSummary } from "../analysis/host.js";
import type { NoisyNeighbours } from "../analysis/neighbours.js";
import type { ActiveAlert, AlertEvent } from "../alerts/types.js";
import type { HostFacts } from "../collect/host-facts.js";
import type { HistoryDomainSeries, HistoryPoint, HistorySeries } from "../history/types.js";
import type { DomainInfo, DomainRates } from "../model/types.js";
import { formatCpuList } from "../procfs/cpulist.js";
import { checkDuration, durationSchema } from "../util/duration.js";
import type {
  ActiveAlertJson,
  AlertEventJson,
  AlertsResponse,
  DomainJson,
  DomainResponse,
  DomainsResponse,
  HealthResponse,
  HistoryDomainSeriesJson,
  HistoryResponse,
  HistorySeriesJson,
  HostResponse,
  NoisyNeighboursJson,
  VictimsResponse,
} from "./api-types.js";
import type { Collector } from "../collect/collector.js";

/** What the API needs of the history store (src/history). */
export interface HistoryReader {
  query(q: {
    domain?: string;
    uuid?: string;
    vcpu?: number;
    fromMs: number;
    toMs: number;
    stepS?: number;
    nowMs?: number;
  }): HistorySeries[];
  queryDomain(q: {
    domain?: string;
    uuid?: string;
    fromMs: number;
    toMs: number;
    stepS?: number;
    nowMs?: number;
  }): HistoryDomainSeries[];
}

/** What the API needs of the alert engine (src/alerts). */
export interface AlertsReader {
  active(): ActiveAlert[];
  history(limit?: number): AlertEvent[];
}

export interface ApiDeps {
  collector: Collector;
  history?: HistoryReader | null;
  alerts?: AlertsReader | null;
  startedMs: number;
}

/** A running domain's memory, cap and placement (null: unknown, or uncapped for vcpu_cap_cores). */
function resourcesJson(
  d: DomainInfo,
): Pick<DomainJson, "memory_bytes" | "max_memory_bytes" | "vcpu_cap_cores" | "cpus"> {
  const r = d.resources;
  return {
    memory_bytes: r?.memoryBytes ?? null,
    max_memory_bytes: r?.maxMemoryBytes ?? null,
    vcpu_cap_cores: r?.vcpuCapCores ?? null,
    cpus: r?.cpus ? formatCpuList(r.cpus) : null,
  };
}

/** The host's figures now, as /api/v1/host gives them (vmCpus is its facts' vm_cpu_count). */
function hostJson(x: HostSummary): Omit<HostResponse, keyof ReturnType<typeof factsJson> | "interval_s" | "time"> {
  return {
    cpus: x.cpus,
    reserved_cpus: x.reservedCpus,
    capacity: x.capacity,
    running_domains: x.runningDomains,
    vcpus_allocated: x.vcpusAllocated,
    oversubscription: x.oversubscription,
    demand: x.demand,
    demand_ratio: x.demandRatio,
    usage: x.usage,
    steal: x.steal,
    contention: x.contention,
    throttled: x.throttled,
    steal_percentiles: { ...x.stealPercentiles },
    vcpus_sampled: x.vcpusSampled,
  };
}

/** The host's facts as /api/v1/host gives them. */
function factsJson(f: HostFacts) {
  return {
    host_name: f.hostName,
    vm_cpus: formatCpuList(f.vmCpus),
    vm_cpu_count: f.vmCpus.length,
    vm_cpus_from: f.vmCpusFrom,
    memory_total_bytes: f.memTotalBytes,
    memory_available_bytes: f.memAvailableBytes,
    vm_memory_bytes: f.vmMemoryBytes,
    reserved_memory_bytes: f.reservedMemoryBytes,
  };
}

function domainJson(d: DomainRates): DomainJson {
  const n = d.vcpus.length || 1;
  const sum = (k: "usage" | "delay" | "throttled" | "contention") => d.vcpus.reduce((a, v) => a + v[k], 0);
  return {
    domain: d.domain.name,
    uuid: d.domain.uuid,
    id: d.domain.id,
    state: d.domain.state,
    source: d.domain.source,
    vcpu_current: d.domain.vcpuCurrent,
    vcpu_maximum: d.domain.vcpuMaximum,
    ...resourcesJson(d.domain),
    /** Who it is on its platform (src/platforms), null when libvirt alone knows it. */
    platform: d.domain.platform ?? null,
    /** Averages over the domain's vCPUs (fractions of one vCPU's wall time). */
    usage: sum("usage") / n,
    steal: sum("delay") / n,
    contention: sum("contention") / n,
    throttled: sum("throttled") / n,
    vcpus: d.vcpus.map((v) => ({
      vcpu: v.vcpu,
      tid: v.tid,
      usage: v.usage,
      steal: v.delay,
      contention: v.contention,
      throttled: v.throttled,
    })),
  };
}

function neighboursJson(n: NoisyNeighbours): NoisyNeighboursJson {
  return {
    domain: n.domain,
    uuid: n.uuid,
    contention: n.contention,
    throttled: n.throttled,
    cpus: n.cpus,
    neighbours: n.neighbours.map((x) => ({
      domain: x.domain,
      uuid: x.uuid,
      cpu_on_shared_cpus: x.cpuOnSharedCpus,
      share_of_shared_cpus: x.shareOfSharedCpus,
    })),
  };
}

/** A history series (per vCPU or per domain) with its keys in the API's casing. */
function seriesJson<P extends HistoryPoint, S extends { stepS: number }>(s: S & { points: P[] }) {
  const { stepS, points, ...rest } = s;
  return { ...rest, step_s: stepS, points: points.map(({ delayMax, ...p }) => ({ ...p, delay_max: delayMax })) };
}

function activeAlertJson({ activeSinceMs, firedAtMs, ...a }: ActiveAlert): ActiveAlertJson {
  return { ...a, active_since_ms: activeSinceMs, fired_at_ms: firedAtMs };
}

function alertEventJson({ atMs, ...e }: AlertEvent): AlertEventJson {
  return { ...e, at_ms: atMs };
}

/** How far back `now-…` may reach: ten years. */
const MAX_LOOKBACK_MS = 10 * 366 * 86_400_000;

/**
 * A time: Unix seconds, RFC 3339, or `now-1h` style relative to `now` (any duration vsteal
 * reads). One `now` per request: from, to and the choice of tier agree on it.
 */
const timeParam = (now: number) =>
  z
    .string()
    .max(64)
    .transform((s, ctx) => {
      if (s === "now") return now;
      if (s.startsWith("now-")) {
        const r = checkDuration(s.slice(4), { minMs: 0, maxMs: MAX_LOOKBACK_MS, bareSeconds: false });
        if (r.ok) return now - r.ms;
        ctx.addIssue({ code: "custom", message: `now-DURATION: ${r.reason}` });
        return z.NEVER;
      }
      if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
      const t = Date.parse(s);
      if (Number.isNaN(t)) {
        ctx.addIssue({
          code: "custom",
          message: `expected Unix seconds, RFC 3339 or now-1h, got ${JSON.stringify(s)}`,
        });
        return z.NEVER;
      }
      return t;
    });

const historyQuery = (now: number) =>
  z
    .object({
      domain: z.string().min(1).max(1024).optional(),
      uuid: z
        .string()
        .regex(/^[0-9a-fA-F-]{36}$/, "expected a UUID")
        .optional(),
      vcpu: z.coerce.number().int().min(0).max(16383).optional(),
      from: timeParam(now).optional(),
      to: timeParam(now).optional(),
      /** The resolution asked for: at most a year. */
      step: durationSchema({ maxMs: 366 * 86_400_000 }).optional(),
    })
    .strict();

function zodMessage(e: z.ZodError): string {
  return e.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
}

/** JSON API under /api/v1/. Every input validated; a bad request gets 400 and a message. */
export function apiRoutes(deps: ApiDeps): Hono {
  const api = new Hono();
  const c0 = deps.collector;

  api.get("/health", (c) => {
    const h = c0.health;
    const m = process.memoryUsage();
    const body: HealthResponse = {
      role: "agent",
      status: h.sweeps > 0 ? "ok" : "starting",
      uptime_s: (Date.now() - deps.startedMs) / 1000,
      source: c0.sampler.source.description,
      memory: {
        rss: m.rss,
        heap_total: m.heapTotal,
        heap_used: m.heapUsed,
        external: m.external,
        array_buffers: m.arrayBuffers,
      },
      sweeps: h.sweeps,
      last_sweep_seconds: h.lastSweepSeconds,
      last_sweep_ms: h.lastSweepMs,
      last_discovery_ms: h.lastDiscoveryMs,
      discovery_errors: h.discoveryErrors,
      errors: h.errors,
      vcpus: h.vcpus,
      domains: h.domains,
      last_error: h.lastError,
      event_discoveries: h.eventDiscoveries,
    };
    return c.json(body);
  });

  api.get("/host", (c) => {
    const body: HostResponse = {
      ...hostJson(c0.host),
      ...factsJson(c0.facts),
      interval_s: c0.rates?.intervalS ?? null,
      time: c0.rates?.wallMs ?? null,
    };
    return c.json(body);
  });

  api.get("/domains", (c) => {
    const list = (c0.rates?.domains ?? [])
      .map(domainJson)
      .sort((a, b) => b.steal - a.steal || a.domain.localeCompare(b.domain));
    const body: DomainsResponse = {
      time: c0.rates?.wallMs ?? null,
      interval_s: c0.rates?.intervalS ?? null,
      domains: list,
    };
    return c.json(body);
  });

  api.get("/domains/:name", (c) => {
    const name = c.req.param("name");
    const d = c0.rates?.domains.find((x) => x.domain.name === name || x.domain.uuid === name.toLowerCase());
    if (!d) return c.json({ error: `domain ${JSON.stringify(name)} not found on this host` }, 404);
    const n = c0.neighbours(d.domain.name);
    const body: DomainResponse = {
      time: c0.rates?.wallMs ?? null,
      ...domainJson(d),
      neighbours: n ? neighboursJson(n) : null,
    };
    return c.json(body);
  });

  api.get("/neighbours", (c) => {
    const q = z
      .object({
        domain: z.string().min(1).max(1024).optional(),
        limit: z.coerce.number().int().min(1).max(100).optional(),
      })
      .strict()
      .safeParse(c.req.query());
    if (!q.success) return c.json({ error: zodMessage(q.error) }, 400);
    if (q.data.domain) {
      const n = c0.neighbours(q.data.domain, q.data.limit ?? 5);
      if (!n)
        return c.json({ error: `domain ${JSON.stringify(q.data.domain)} has no recent samples on this host` }, 404);
      return c.json(neighboursJson(n));
    }
    const body: VictimsResponse = {
      window_s: c0.window.windowS,
      victims: c0.victims(0.01, q.data.limit ?? 10).map(neighboursJson),
    };
    return c.json(body);
  });

  // /history: per-vCPU series; /history/domains: per-VM sums over vCPUs (the heatmap's rows).
  api.get("/history/:what{domains}?", (c) => {
    const h = deps.history;
    if (!h) return c.json({ error: "history is disabled on this agent" }, 404);
    const perDomain = c.req.param("what") === "domains";
    const nowMs = Date.now();
    const q = historyQuery(nowMs).safeParse(c.req.query());
    if (!q.success) return c.json({ error: zodMessage(q.error) }, 400);
    const toMs = q.data.to ?? nowMs;
    const fromMs = q.data.from ?? toMs - 3_600_000;
    if (!(fromMs < toMs)) return c.json({ error: "from must be before to" }, 400);
    if (toMs - fromMs > 8 * 86_400_000)
      return c.json({ error: "range too long: at most 8 days of history are kept" }, 400);
    const stepS = q.data.step !== undefined ? q.data.step / 1000 : undefined;
    const range = {
      domain: q.data.domain,
      uuid: q.data.uuid?.toLowerCase(),
      fromMs,
      toMs,
      nowMs,
      ...(stepS ? { stepS } : {}),
    };
    const body: HistoryResponse<HistorySeriesJson | HistoryDomainSeriesJson> = {
      from: fromMs,
      to: toMs,
      series: perDomain
        ? h.queryDomain(range).map((x): HistoryDomainSeriesJson => seriesJson(x))
        : h.query({ ...range, vcpu: q.data.vcpu }).map((x): HistorySeriesJson => seriesJson(x)),
    };
    return c.json(body);
  });

  api.get("/alerts", (c) => {
    const body: AlertsResponse = deps.alerts
      ? { active: deps.alerts.active().map(activeAlertJson), events: deps.alerts.history(200).map(alertEventJson) }
      : { active: [], events: [] };
    return c.json(body);
  });

  return api;
}
