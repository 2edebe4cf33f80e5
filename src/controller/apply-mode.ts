/**
 * The controller's apply mode: plans from successful audits are carried out by the migration
 * executor (src/migrate), with a recheck of every move on a freshly built snapshot. A plan with
 * more than `approveOver` moves waits for approval (POST /api/v1/plans/:id/approve, bearer
 * token); smaller ones go at once. One plan is applied at a time; a plan that arrives while
 * another runs, or that a newer audit supersedes before approval, is not applied.
 */
import { Hono } from "hono";
import type { FleetSnapshot, Plan } from "../model/fleet.js";
import type { AuditSink } from "../migrate/audit-log.js";
import type { MigrationDriver } from "../migrate/driver.js";
import { executePlan, type ExecuteResult, type Recheck } from "../migrate/executor.js";
import type { MigrateHosts } from "../migrate/hosts.js";
import { snapshotRecheck } from "../migrate/recheck.js";
import { notFound } from "../http/not-found.js";
import type { ApplyRecordJson, ApplyResponse, ApplyState } from "./api-types.js";
import { requireBearer } from "./auth.js";
import type { AuditRecord } from "./controller.js";
import { expectations, type PendingEffect } from "./effects.js";

export type { ApplyState } from "./api-types.js";

/** A plan in apply mode; the API gives it with its result's keys in its casing (applyRecordJson). */
export type ApplyRecord = Omit<ApplyRecordJson, "result"> & { result: ExecuteResult | null };

export interface ApplyModeOptions {
  hosts: MigrateHosts;
  driver: MigrationDriver;
  /** Routes each plan's moves to the VM's owner (src/platforms); without it, everything goes to `driver`. */
  platforms?: { forPlan(plan: Plan, audit: AuditSink): { driver: MigrationDriver; audit: AuditSink } };
  audit: AuditSink;
  /** Plans with more moves than this wait for approval (0: every plan). */
  approveOver: number;
  /** Fresh snapshot for the recheck before each move. */
  freshSnapshot: () => Promise<FleetSnapshot>;
  minGain?: number;
  timeoutMs?: number;
  log?: (line: string) => void;
  /** A move ended ok: its effect is to be judged once it settles; cooldowns start now. */
  onMoveOk?: (p: PendingEffect) => void;
}

export class PlanApplier {
  readonly records = new Map<string, ApplyRecord>();
  private busy: Promise<void> | null = null;
  private plans = new Map<string, Plan>();
  /** The snapshot each plan was made on (for its expectations and the targets' VM CPU sets). */
  private made = new Map<string, FleetSnapshot>();

  constructor(readonly o: ApplyModeOptions) {}

  /** Called after every audit, with the snapshot it planned on. */
  onAudit(a: AuditRecord, snapshot?: FleetSnapshot | null): void {
    if (a.status !== "ok" || !a.plan || a.plan.moves.length === 0) return;
    const id = `audit-${a.id}`;
    if (snapshot) this.made.set(id, snapshot);
    // A newer plan supersedes one still waiting.
    for (const r of this.records.values())
      if (r.state === "waiting_approval") this.set(r, "superseded", `superseded by ${id}`);
    const rec: ApplyRecord = {
      id,
      audit: a.id,
      state: "waiting_approval",
      moves: a.plan.moves.length,
      reason: "",
      approved_by: null,
      result: null,
    };
    this.records.set(id, rec);
    this.plans.set(id, a.plan);
    this.prune();
    if (a.plan.moves.length > this.o.approveOver) {
      this.set(
        rec,
        "waiting_approval",
        `${rec.moves} moves > ${this.o.approveOver}: approve with POST /api/v1/plans/${id}/approve`,
      );
      this.o.audit.write({
        time: new Date().toISOString(),
        actor: "controller",
        action: "plan_proposed",
        plan_id: id,
        move: null,
        vm: null,
        from: null,
        to: null,
        result: "waiting_approval",
        reason: rec.reason,
        duration_ms: null,
      });
      return;
    }
    this.start(rec, "controller (no approval needed)");
  }

  approve(id: string, by: string): { status: number; body: ApplyRecord | { error: string } } {
    const rec = this.records.get(id);
    if (!rec) return { status: 404, body: { error: `no plan ${id}` } };
    if (rec.state !== "waiting_approval")
      return { status: 409, body: { error: `plan ${id} is ${rec.state}, not waiting for approval` } };
    this.o.audit.write({
      time: new Date().toISOString(),
      actor: by,
      action: "approve",
      plan_id: id,
      move: null,
      vm: null,
      from: null,
      to: null,
      result: "approved",
      reason: `${rec.moves} moves`,
      duration_ms: null,
    });
    this.start(rec, by);
    return { status: 202, body: rec };
  }

  /**
   * Carries out a plan made elsewhere (a drain: src/controller/maintenance-api.ts) the way an
   * approved plan is, with its own recheck; `skipped` if another plan is being applied.
   */
  submit(id: string, plan: Plan, by: string, recheck: Recheck): ApplyRecord {
    // audit 0: not from an audit.
    const rec: ApplyRecord = {
      id,
      audit: 0,
      state: "waiting_approval",
      moves: plan.moves.length,
      reason: "",
      approved_by: null,
      result: null,
    };
    this.records.set(id, rec);
    this.plans.set(id, plan);
    this.prune();
    this.start(rec, by, recheck);
    return rec;
  }

  private start(rec: ApplyRecord, by: string, recheck?: Recheck): void {
    if (this.busy) {
      this.set(rec, "skipped", "another plan is being applied");
      return;
    }
    const plan = this.plans.get(rec.id)!;
    const made = this.made.get(rec.id) ?? null;
    const expect = made ? expectations(made, plan.moves) : null;
    rec.approved_by = by;
    this.set(rec, "applying", "");
    const routed = this.o.platforms?.forPlan(plan, this.o.audit) ?? { driver: this.o.driver, audit: this.o.audit };
    this.busy = executePlan(plan, {
      planId: rec.id,
      hosts: this.o.hosts,
      driver: routed.driver,
      audit: routed.audit,
      actor: by,
      recheck: recheck ?? snapshotRecheck(this.o.freshSnapshot, { minGain: this.o.minGain }),
      timeoutMs: this.o.timeoutMs,
      log: (l) => this.o.log?.(`apply ${rec.id}: ${l}`),
      vmCpus: (h) => made?.hosts.find((x) => x.name === h)?.vm_cpus ?? null,
      // What to judge the move by, should the controller restart before it ends.
      startDetails: (i) => {
        const e = expect?.get(i);
        return e ? { expect: e } : undefined;
      },
      onOutcome: (oc) => {
        const e = expect?.get(oc.index);
        if (oc.result !== "ok" || !e || oc.endedMs === null) return;
        this.o.onMoveOk?.({
          plan_id: rec.id,
          vm: oc.move.vm,
          from: oc.move.from,
          to: oc.move.to,
          done_ms: oc.endedMs,
          before: e.before,
          predicted: e.predicted,
        });
      },
    })
      .then((r) => {
        rec.result = r;
        this.set(rec, r.failures === 0 ? "applied" : "failed", r.failures === 0 ? "" : `${r.failures} move(s) failed`);
      })
      .catch((e: unknown) => this.set(rec, "failed", e instanceof Error ? e.message : String(e)))
      .finally(() => {
        this.busy = null;
      });
  }

  /** Resolves when no plan is being applied. */
  async idle(): Promise<void> {
    await this.busy;
  }

  private set(rec: ApplyRecord, state: ApplyState, reason: string): void {
    rec.state = state;
    rec.reason = reason;
  }

  private prune(): void {
    const ids = [...this.records.keys()];
    for (const id of ids.slice(0, Math.max(0, ids.length - 100))) {
      this.records.delete(id);
      this.plans.delete(id);
      this.made.delete(id);
    }
  }
}

/** A record as the API gives it (its result's keys in the API's casing). */
export function applyRecordJson(r: ApplyRecord): ApplyRecordJson {
  const x = r.result;
  return {
    ...r,
    result: x && {
      plan_id: x.planId,
      outcomes: x.outcomes.map((o) => ({
        index: o.index,
        move: o.move,
        result: o.result,
        reason: o.reason,
        duration_ms: o.durationMs,
        ended_ms: o.endedMs,
        bytes: o.bytes,
      })),
      failures: x.failures,
    },
  };
}

/** What an operator may clear through the API: a pair blocked because a move there did not help. */
export interface PairUnblocker {
  unblock(from: string, to: string, by: string): boolean;
}

/** /api/v1/apply (GET, read-only), POST /api/v1/plans/:id/approve and DELETE /api/v1/blocked-pairs/:from/:to (bearer token). */
export function applyApi(applier: PlanApplier, tokenDigest: Buffer, pairs?: PairUnblocker): Hono {
  const api = new Hono();
  if (pairs) {
    api.delete("/blocked-pairs/:from/:to", requireBearer(tokenDigest), (ctx) => {
      const from = ctx.req.param("from");
      const to = ctx.req.param("to");
      return pairs.unblock(from, to, `api (${ctx.req.header("X-Forwarded-For") ?? "bearer token"})`)
        ? ctx.json({ unblocked: { from, to } })
        : ctx.json({ error: `${from}→${to} is not blocked` }, 404);
    });
  }
  api.get("/apply", (ctx) => {
    const body: ApplyResponse = {
      approve_over: applier.o.approveOver,
      plans: [...applier.records.values()].reverse().map(applyRecordJson),
    };
    return ctx.json(body);
  });
  api.post("/plans/:id/approve", requireBearer(tokenDigest), (ctx) => {
    const r = applier.approve(ctx.req.param("id"), `api (${ctx.req.header("X-Forwarded-For") ?? "bearer token"})`);
    return ctx.json("error" in r.body ? r.body : applyRecordJson(r.body), r.status as 202 | 404 | 409);
  });
  // Any other change is refused the same way: never a 404 that tells an unauthenticated client what exists.
  api.on(["POST", "PUT", "PATCH", "DELETE"], "*", requireBearer(tokenDigest), notFound);
  return api;
}
