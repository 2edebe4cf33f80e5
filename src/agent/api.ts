import { Hono } from "hono";
import { z } from "zod";
import type { HostFacts } from "../collect/host-facts.js";
import type { DomainInfo, DomainRates } from "../model/types.js";
import { formatCpuList } from "../procfs/cpulist.js";
import { checkDuration, durationSchema } from "../util/duration.js";
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
  }): unknown;
  queryDomain(q: {
    domain?: string;
    uuid?: string;
    fromMs: number;
    toMs: number;
    stepS?: number;
    nowMs?: number;
  }): unknown;
}

/** What the API needs of the alert engine (src/alerts). */
export interface AlertsReader {
  active(): unknown[];
  history(limit?: number): unknown[];
}

export interface ApiDeps {
  collector: Collector;
  history?: HistoryReader | null;
  alerts?: AlertsReader | null;
  startedMs: number;
}

/** A running domain's memory, cap and placement (null: unknown, or uncapped for vcpu_cap_cores). */
function resourcesJson(d: DomainInfo) {
  const r = d.resources;
  return {
    memory_bytes: r?.memoryBytes ?? null,
    max_memory_bytes: r?.maxMemoryBytes ?? null,
    vcpu_cap_cores: r?.vcpuCapCores ?? null,
    cpus: r?.cpus ? formatCpuList(r.cpus) : null,
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

function domainJson(d: DomainRates) {
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

  api.get("/health", (c) =>
    c.json({
      role: "agent",
      status: c0.health.sweeps > 0 ? "ok" : "starting",
      uptime_s: (Date.now() - deps.startedMs) / 1000,
      source: c0.sampler.source.description,
      memory: process.memoryUsage(),
      ...c0.health,
    }),
  );

  api.get("/host", (c) =>
    c.json({
      ...c0.host,
      ...factsJson(c0.facts),
      interval_s: c0.rates?.intervalS ?? null,
      time: c0.rates?.wallMs ?? null,
    }),
  );

  api.get("/domains", (c) => {
    const list = (c0.rates?.domains ?? [])
      .map(domainJson)
      .sort((a, b) => b.steal - a.steal || a.domain.localeCompare(b.domain));
    return c.json({ time: c0.rates?.wallMs ?? null, interval_s: c0.rates?.intervalS ?? null, domains: list });
  });

  api.get("/domains/:name", (c) => {
    const name = c.req.param("name");
    const d = c0.rates?.domains.find((x) => x.domain.name === name || x.domain.uuid === name.toLowerCase());
    if (!d) return c.json({ error: `domain ${JSON.stringify(name)} not found on this host` }, 404);
    return c.json({ time: c0.rates?.wallMs ?? null, ...domainJson(d), neighbours: c0.neighbours(d.domain.name) });
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
      return c.json(n);
    }
    return c.json({ window_s: c0.window.windowS, victims: c0.victims(0.01, q.data.limit ?? 10) });
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
    const series = perDomain ? h.queryDomain(range) : h.query({ ...range, vcpu: q.data.vcpu });
    return c.json({ from: fromMs, to: toMs, series });
  });

  api.get("/alerts", (c) => {
    if (!deps.alerts) return c.json({ active: [], events: [] });
    return c.json({ active: deps.alerts.active(), events: deps.alerts.history(200) });
  });

  return api;
}
