import { Hono } from "hono";
import { z } from "zod";
import type { DomainRates } from "../model/types.js";
import type { Collector } from "./collector.js";

/** What the API needs of the history store (src/history). */
export interface HistoryReader {
  query(q: { domain?: string; uuid?: string; vcpu?: number; fromMs: number; toMs: number; stepS?: number }): unknown;
  queryDomain(q: { domain?: string; uuid?: string; fromMs: number; toMs: number; stepS?: number }): unknown;
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
    /** Who it is on its platform (src/platforms), null when libvirt alone knows it. */
    platform: d.domain.platform ?? null,
    /** Averages over the domain's vCPUs (fractions of one vCPU's wall time). */
    usage: sum("usage") / n,
    steal: sum("delay") / n,
    contention: sum("contention") / n,
    throttled: sum("throttled") / n,
    vcpus: d.vcpus.map((v) => ({ vcpu: v.vcpu, tid: v.tid, usage: v.usage, steal: v.delay, contention: v.contention, throttled: v.throttled })),
  };
}

const DURATION_RE = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A time: Unix seconds, RFC 3339, or `now-1h` style relative to now. */
const timeParam = z.string().max(64).transform((s, ctx) => {
  const rel = /^now(?:-(\d+)(ms|s|m|h|d))?$/.exec(s);
  if (rel) return Date.now() - (rel[1] ? Number(rel[1]) * (UNIT_MS[rel[2] ?? "s"] ?? 1000) : 0);
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  if (Number.isNaN(t)) {
    ctx.addIssue({ code: "custom", message: `expected Unix seconds, RFC 3339 or now-1h, got ${JSON.stringify(s)}` });
    return z.NEVER;
  }
  return t;
});

const historyQuery = z
  .object({
    domain: z.string().min(1).max(1024).optional(),
    uuid: z.string().regex(/^[0-9a-fA-F-]{36}$/, "expected a UUID").optional(),
    vcpu: z.coerce.number().int().min(0).max(16383).optional(),
    from: timeParam.optional(),
    to: timeParam.optional(),
    step: z.string().regex(DURATION_RE, "expected a duration like 30s or 5m").optional(),
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

  api.get("/host", (c) => c.json({ ...c0.host, interval_s: c0.rates?.intervalS ?? null, time: c0.rates?.wallMs ?? null }));

  api.get("/domains", (c) => {
    const list = (c0.rates?.domains ?? []).map(domainJson).sort((a, b) => b.steal - a.steal || a.domain.localeCompare(b.domain));
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
      .object({ domain: z.string().min(1).max(1024).optional(), limit: z.coerce.number().int().min(1).max(100).optional() })
      .strict()
      .safeParse(c.req.query());
    if (!q.success) return c.json({ error: zodMessage(q.error) }, 400);
    if (q.data.domain) {
      const n = c0.neighbours(q.data.domain, q.data.limit ?? 5);
      if (!n) return c.json({ error: `domain ${JSON.stringify(q.data.domain)} has no recent samples on this host` }, 404);
      return c.json(n);
    }
    return c.json({ window_s: c0.window.windowS, victims: c0.victims(0.01, q.data.limit ?? 10) });
  });

  // /history: per-vCPU series; /history/domains: per-VM sums over vCPUs (the heatmap's rows).
  api.get("/history/:what{domains}?", (c) => {
    const h = deps.history;
    if (!h) return c.json({ error: "history is disabled on this agent" }, 404);
    const perDomain = c.req.param("what") === "domains";
    const q = historyQuery.safeParse(c.req.query());
    if (!q.success) return c.json({ error: zodMessage(q.error) }, 400);
    const toMs = q.data.to ?? Date.now();
    const fromMs = q.data.from ?? toMs - 3_600_000;
    if (!(fromMs < toMs)) return c.json({ error: "from must be before to" }, 400);
    if (toMs - fromMs > 8 * 86_400_000) return c.json({ error: "range too long: at most 8 days of history are kept" }, 400);
    const m = q.data.step ? DURATION_RE.exec(q.data.step) : null;
    const stepS = m ? (Number(m[1]) * (UNIT_MS[m[2] ?? "s"] ?? 1000)) / 1000 : undefined;
    const range = { domain: q.data.domain, uuid: q.data.uuid?.toLowerCase(), fromMs, toMs, ...(stepS ? { stepS } : {}) };
    const series = perDomain ? h.queryDomain(range) : h.query({ ...range, vcpu: q.data.vcpu });
    return c.json({ from: fromMs, to: toMs, series });
  });

  api.get("/alerts", (c) => {
    if (!deps.alerts) return c.json({ active: [], events: [] });
    return c.json({ active: deps.alerts.active(), events: deps.alerts.history(200) });
  });

  return api;
}
