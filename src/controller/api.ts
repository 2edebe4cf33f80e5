import { Hono } from "hono";
import { z } from "zod";
import type {
  ControllerHealthResponse,
  ControllerInfo,
  EffectsResponse,
  PlansResponse,
  PlanView,
  SuppressionJson,
} from "./api-types.js";
import type { AuditRecord, Controller } from "./controller.js";
import type { Suppression } from "../planner/guard.js";

export type { ControllerInfo } from "./api-types.js";

function suppressionJson(s: Suppression): SuppressionJson {
  const { noTarget, ...held } = s.held;
  return {
    vm: s.vm,
    from: s.from,
    to: s.to,
    rule: s.rule,
    reason: s.reason,
    held: { ...held, ...(noTarget !== undefined ? { no_target: noTarget } : {}) },
  };
}

/** One audit as the API answers it (GET /api/v1/plan, an entry of /plans, `vsteal controller --once`). */
export function planView(a: AuditRecord): PlanView {
  return {
    audit: a.id,
    time: a.time,
    status: a.status,
    dry_run: a.dry_run,
    plan: a.plan,
    suppressed: a.suppressed.map(suppressionJson),
    observed_moves: a.observed_moves.map(({ atMs, ...m }) => ({ ...m, at_ms: atMs })),
    effects: a.effects,
    snapshot: a.snapshot,
    error: a.error,
    duration_ms: Math.round(a.duration_ms * 10) / 10,
  };
}

/** JSON API under /api/v1/: the current plan, the history of audits, the snapshot, health. */
export function controllerApi(c: Controller, info: ControllerInfo): Hono {
  const api = new Hono();

  api.get("/health", (ctx) => {
    const last = c.last;
    const body: ControllerHealthResponse = {
      role: "controller",
      status: last === null ? "starting" : last.status === "ok" ? "ok" : "failing",
      dry_run: c.dryRun,
      uptime_s: (Date.now() - c.startedMs) / 1000,
      audits: c.auditsTotal,
      last_audit: last
        ? {
            id: last.id,
            time: last.time,
            status: last.status,
            reason: last.error?.reason ?? null,
            message: last.error?.message ?? null,
          }
        : null,
      last_success: c.lastSuccessMs === null ? null : new Date(c.lastSuccessMs).toISOString(),
      ...info,
    };
    return ctx.json(body);
  });

  // The current plan: the last audit's. If it failed, there is no current plan (503 and why).
  api.get("/plan", (ctx) => {
    const last = c.last;
    if (!last)
      return ctx.json(
        { status: "starting", error: { reason: "no_audit_yet", message: "no audit has finished yet" } },
        503,
      );
    return ctx.json(planView(last), last.status === "ok" ? 200 : 503);
  });

  api.get("/plans", (ctx) => {
    const q = z
      .object({
        limit: z.coerce.number().int().min(1).max(1000).optional(),
        status: z.enum(["ok", "error"]).optional(),
      })
      .strict()
      .safeParse(ctx.req.query());
    if (!q.success)
      return ctx.json({ error: q.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") }, 400);
    const list = c.history
      .filter((a) => !q.data.status || a.status === q.data.status)
      .slice(-(q.data.limit ?? 100))
      .reverse()
      .map(planView);
    const body: PlansResponse = { audits: list };
    return ctx.json(body);
  });

  // Each move's measured effect once settled, the moves still settling, and blocked pairs.
  api.get("/effects", (ctx) => {
    const body: EffectsResponse = {
      settle_s: c.effects.settleMs / 1000,
      pending: c.effects.pending,
      judged: [...c.effects.judged].reverse(),
      blocked_pairs: c.effects.blocked,
      verdicts: Object.fromEntries(c.effects.verdicts),
    };
    return ctx.json(body);
  });

  api.get("/snapshot", (ctx) => {
    const last = c.last;
    if (!c.snapshot || !last || last.status !== "ok") {
      return ctx.json({ error: last?.error ?? { reason: "no_audit_yet", message: "no audit has finished yet" } }, 503);
    }
    return ctx.json(c.snapshot);
  });

  return api;
}
