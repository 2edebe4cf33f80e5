/**
 * Host maintenance through the controller's API (apply mode; docs/maintenance.md):
 *
 * - `GET /api/v1/maintenance`: the drained hosts (the maintenance file).
 * - `POST /api/v1/hosts/:host/drain` (bearer token), body `{"dry_run"?, "reason"?, "require_headroom"?}`:
 *   the host is marked drained in the maintenance file, a drain is planned on a fresh snapshot
 *   (src/planner/drain.ts) and carried out by the apply mode's executor, one plan at a time,
 *   each move rechecked. `dry_run`: the plan only, nothing written or moved.
 * - `POST /api/v1/hosts/:host/undrain` (bearer token): the host may receive VMs again.
 *
 * Every audit re-reads the maintenance file, so a drained host receives nothing and the
 * regular planner moves what is left on it (src/cli/controller.ts applies it to each snapshot).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { FleetSnapshot } from "../model/fleet.js";
import { SnapshotError } from "../fleet/errors.js";
import { drainRecheck } from "../maintenance/drain-recheck.js";
import {
  drainHost,
  hostNameSchema,
  MaintenanceError,
  readMaintenance,
  undrainHost,
} from "../maintenance/state-file.js";
import { applyMaintenance } from "../maintenance/apply.js";
import { DrainError, planDrain } from "../planner/drain.js";
import { applyRecordJson, type PlanApplier } from "./apply-mode.js";
import { requireBearer } from "./auth.js";

export interface MaintenanceApiOptions {
  applier: PlanApplier;
  tokenDigest: Buffer;
  /** The maintenance file. */
  file: string;
  /** A fresh snapshot (as the audits build it). */
  freshSnapshot: () => Promise<FleetSnapshot>;
}

const bodySchema = z
  .strictObject({
    dry_run: z.boolean().optional(),
    reason: z.string().max(2000).nullable().optional(),
    require_headroom: z.boolean().optional(),
  })
  .nullable();

let drains = 0;

export function maintenanceApi(o: MaintenanceApiOptions): Hono {
  const api = new Hono();
  const auth = requireBearer(o.tokenDigest);
  const who = (xff: string | undefined): string => `api (${xff ?? "bearer token"})`;
  /** One audit-log line for a maintenance change of `host` (a plan of its own, `drain-HOST`). */
  const audit = (action: "drain" | "undrain", host: string, by: string, reason: string): void =>
    o.applier.o.audit.write({
      time: new Date().toISOString(),
      actor: by,
      action,
      plan_id: `drain-${host}`,
      move: null,
      vm: null,
      from: host,
      to: null,
      result: "ok",
      reason,
      duration_ms: null,
    });

  api.get("/maintenance", (ctx) => {
    try {
      return ctx.json({ file: o.file, hosts: readMaintenance(o.file).hosts });
    } catch (e) {
      return ctx.json({ error: e instanceof Error ? e.message : String(e) }, 500);
    }
  });

  api.post("/hosts/:host/drain", auth, async (ctx) => {
    const host = ctx.req.param("host");
    const bad = hostNameSchema.safeParse(host);
    if (!bad.success)
      return ctx.json({ error: `invalid host name ${JSON.stringify(host)}: ${bad.error.issues[0]!.message}` }, 400);
    const text = await ctx.req.text();
    let raw: unknown = null;
    try {
      raw = text.trim() === "" ? null : JSON.parse(text);
    } catch {
      return ctx.json(
        {
          error:
            'the body must be JSON: {"dry_run": true|false, "reason": "…", "require_headroom": true|false}, or empty',
        },
        400,
      );
    }
    const b = bodySchema.safeParse(raw);
    if (!b.success)
      return ctx.json(
        {
          error: `body: ${b.error.issues.map((i) => `${i.path.join(".") || "(top level)"}: ${i.message}`).join("; ")}`,
        },
        400,
      );
    const dryRun = b.data?.dry_run === true;
    const requireHeadroom = b.data?.require_headroom === true;
    const by = who(ctx.req.header("X-Forwarded-For"));
    let snapshot: FleetSnapshot;
    try {
      snapshot = applyMaintenance(await o.freshSnapshot(), readMaintenance(o.file), o.file);
    } catch (e) {
      const status = e instanceof SnapshotError ? 503 : 500;
      return ctx.json(
        {
          error: `no fresh snapshot to plan the drain on, nothing changed: ${e instanceof Error ? e.message : String(e)}`,
        },
        status,
      );
    }
    let drain;
    try {
      drain = planDrain(snapshot, host, { requireHeadroom });
    } catch (e) {
      if (e instanceof DrainError) return ctx.json({ error: e.message }, 404);
      throw e;
    }
    if (dryRun) return ctx.json({ host, dry_run: true, drain, apply: null });
    let state;
    try {
      state = await drainHost(o.file, host, by, b.data?.reason ?? null);
    } catch (e) {
      if (e instanceof MaintenanceError) return ctx.json({ error: e.message }, 500);
      throw e;
    }
    audit(
      "drain",
      host,
      by,
      `${host} drained (${o.file}): ${drain.plan.moves.length} move(s), ${drain.unplaced.length} VM(s) cannot leave${drain.unplaced.length ? ` (${drain.unplaced.map((u) => `${u.vm}: ${u.reason}`).join("; ")})` : ""}`,
    );
    const apply =
      drain.plan.moves.length === 0
        ? null
        : o.applier.submit(
            `drain-${++drains}-${host}`,
            drain.plan,
            by,
            drainRecheck({ host, maintenance: () => readMaintenance(o.file), fresh: o.freshSnapshot, requireHeadroom }),
          );
    return ctx.json(
      { host, dry_run: false, maintenance: state.hosts[host], drain, apply: apply && applyRecordJson(apply) },
      202,
    );
  });

  api.post("/hosts/:host/undrain", auth, async (ctx) => {
    const host = ctx.req.param("host");
    const bad = hostNameSchema.safeParse(host);
    if (!bad.success)
      return ctx.json({ error: `invalid host name ${JSON.stringify(host)}: ${bad.error.issues[0]!.message}` }, 400);
    const by = who(ctx.req.header("X-Forwarded-For"));
    let was: boolean;
    try {
      was = (await undrainHost(o.file, host)).was;
    } catch (e) {
      if (e instanceof MaintenanceError) return ctx.json({ error: e.message }, 500);
      throw e;
    }
    audit("undrain", host, by, was ? `${host} may receive VMs again` : `${host} was not drained`);
    return ctx.json({ host, was_drained: was });
  });

  return api;
}
