/**
 * The fleet controller's audit loop (OpenStack Watcher's audit → strategy → action plan):
 * every interval it builds a snapshot from Prometheus, plans on it, keeps cooldowns and
 * cycles out of the plan, and keeps the result. Plans are dry-run: they are proposed, exposed
 * through the API and the metrics, and never executed here.
 *
 * A failed audit (Prometheus down, partial data, …) yields no plan, only its reason: the
 * previous plan is not served as current.
 */
import { FleetValidationError, parseSnapshot, type FleetSnapshot, type Plan } from "../model/fleet.js";
import { SnapshotError, SNAPSHOT_FAILURES, type SnapshotFailure } from "../fleet/errors.js";
import type { BuiltSnapshot, SnapshotBuild } from "../fleet/snapshot-builder.js";
import type { AuditErrorJson, SnapshotSummaryJson } from "./api-types.js";
import { summarizeHosts, summarizeVms, type HostSummary, type VmSummary } from "./fleet-summary.js";
import { guardedPlan, MoveLedger, type GuardOptions, type MoveRecord, type Suppression } from "../planner/guard.js";
import { EffectTracker, type MoveEffect } from "./effects.js";

export type AuditFailure = SnapshotFailure | "invalid_snapshot" | "planner_error" | "internal_error";
export const AUDIT_FAILURES: readonly AuditFailure[] = [
  ...SNAPSHOT_FAILURES,
  "invalid_snapshot",
  "planner_error",
  "internal_error",
];

/** What the snapshot of an audit was (its size and notes), as the API gives it. */
export type SnapshotSummary = SnapshotSummaryJson;

export interface AuditRecord {
  id: number;
  /** When the audit started (ISO 8601). */
  time: string;
  status: "ok" | "error";
  dry_run: boolean;
  duration_ms: number;
  snapshot_ms: number | null;
  plan_ms: number | null;
  /** ok: the plan, after cooldowns and cycle detection. */
  plan: Plan | null;
  /** Moves the planner proposed that were held back, with the reason. */
  suppressed: Suppression[];
  /** VMs whose host changed since the previous successful audit. */
  observed_moves: MoveRecord[];
  /** Moves that settled in this audit's snapshot, with their measured effect. */
  effects: MoveEffect[];
  /** How many times the planner ran (more than 1 when moves were suppressed). */
  planner_rounds: number;
  snapshot: SnapshotSummary | null;
  error: (AuditErrorJson & { reason: AuditFailure }) | null;
}

/** Each host's figures at one successful audit (for the dashboard's hosts × time view). */
export interface FleetPoint {
  audit: number;
  /** The snapshot's time (end of its window), ms. */
  timeMs: number;
  hosts: HostSummary[];
}

export interface ControllerOptions {
  /** Builds one snapshot (the controller does not know where from). */
  snapshot: () => Promise<SnapshotBuild>;
  /** The planner. */
  plan: (s: FleetSnapshot) => Plan;
  intervalMs: number;
  guard: GuardOptions;
  /** Audits kept for /api/v1/plans. Default 100. */
  historySize?: number;
  now?: () => number;
  log?: (line: string) => void;
  /** Called after every audit. */
  onAudit?: (a: AuditRecord, c: Controller) => void;
  /** false in apply mode (plans are carried out). Default true. */
  dryRun?: boolean;
  /** Extra time after a move before it is judged (default 10 s). */
  settleMs?: number;
}

/** What the controller keeps across restarts (its state file). */
export interface ControllerState {
  version: 1;
  next_audit: number;
  ledger: ReturnType<MoveLedger["toJSON"]>;
  effects: ReturnType<EffectTracker["toJSON"]>;
}

export class Controller {
  readonly history: AuditRecord[] = [];
  /** Per-host figures of the successful audits among those kept in `history`, oldest first. */
  readonly fleetSeries: FleetPoint[] = [];
  /** The snapshot of the last audit, null when it failed. */
  snapshot: BuiltSnapshot | null = null;
  /** Its VMs as the fleet view shows them (computed once per audit, not per request). */
  snapshotVms: VmSummary[] = [];
  auditsTotal = 0;
  readonly errorsByReason = new Map<AuditFailure, number>(AUDIT_FAILURES.map((r) => [r, 0]));
  lastSuccessMs: number | null = null;
  /** The last successful audit (for the metrics, which show its numbers until the next one). */
  lastGood: AuditRecord | null = null;
  readonly ledger: MoveLedger;
  readonly effects: EffectTracker;
  readonly startedMs: number;
  get dryRun(): boolean {
    return this.opts.dryRun ?? true;
  }
  private nextId = 1;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<AuditRecord> | null = null;
  private stopped = false;
  private readonly now: () => number;

  constructor(readonly opts: ControllerOptions) {
    this.now = opts.now ?? Date.now;
    this.ledger = new MoveLedger(opts.guard);
    this.effects = new EffectTracker(opts.settleMs ?? 10_000);
    this.startedMs = this.now();
  }

  /** Cooldowns, cycle history, moves waiting for their verdict and blocked pairs, for the state file. */
  state(): ControllerState {
    return { version: 1, next_audit: this.nextId, ledger: this.ledger.toJSON(), effects: this.effects.toJSON() };
  }

  restore(st: ControllerState): void {
    this.nextId = Math.max(this.nextId, st.next_audit);
    this.ledger.restore(st.ledger);
    this.effects.restore(st.effects);
  }

  /** The audit the next one will be (moves done between audits are recorded against it). */
  get nextAudit(): number {
    return this.nextId;
  }

  get last(): AuditRecord | null {
    return this.history[this.history.length - 1] ?? null;
  }

  /** Runs one audit (or joins the one running). */
  audit(): Promise<AuditRecord> {
    this.running ??= this.runAudit().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runAudit(): Promise<AuditRecord> {
    const id = this.nextId++;
    const startMs = this.now();
    const t0 = performance.now();
    const rec: AuditRecord = {
      id,
      time: new Date(startMs).toISOString(),
      status: "error",
      dry_run: this.dryRun,
      duration_ms: 0,
      snapshot_ms: null,
      plan_ms: null,
      plan: null,
      suppressed: [],
      observed_moves: [],
      effects: [],
      planner_rounds: 0,
      snapshot: null,
      error: null,
    };
    const fail = (
      reason: AuditFailure,
      message: string,
      problems: readonly string[] = [],
      missing: readonly string[] = [],
    ) => {
      rec.error = { reason, message, problems: [...problems], missing_hosts: [...missing] };
      this.snapshot = null;
      this.snapshotVms = [];
    };
    try {
      let built: SnapshotBuild | null = null;
      try {
        built = await this.opts.snapshot();
      } catch (e) {
        if (e instanceof SnapshotError) fail(e.reason, e.message, e.problems, e.missingHosts);
        else throw e;
      }
      rec.snapshot_ms = performance.now() - t0;
      if (built) {
        const snap = built.snapshot;
        let valid: FleetSnapshot | null = null;
        try {
          valid = parseSnapshot(snap);
        } catch (e) {
          if (!(e instanceof FleetValidationError)) throw e;
          fail(
            "invalid_snapshot",
            `the snapshot built from Prometheus is not valid: ${e.message}`,
            e.issues.map((i) => `${i.field}: ${i.reason}`),
          );
        }
        if (valid) {
          rec.snapshot = {
            time: snap.time,
            window_s: snap.window_s,
            hosts: snap.hosts.length,
            vms: snap.vms.length,
            vcpus: snap.vms.reduce((a, v) => a + v.vcpus, 0),
            notes: snap.notes,
          };
          const nowMs = Date.parse(snap.time);
          rec.observed_moves = this.ledger.observe(valid, id, nowMs);
          this.ledger.prune(nowMs, id);
          rec.effects = this.effects.onSnapshot(valid);
          const tp = performance.now();
          try {
            const g = guardedPlan(
              valid,
              this.opts.plan,
              this.ledger,
              nowMs,
              id,
              (f, t) => this.effects.isBlocked(f, t)?.reason ?? null,
            );
            rec.plan = g.plan;
            rec.suppressed = g.suppressed;
            rec.planner_rounds = g.rounds;
            rec.status = "ok";
            this.ledger.addPlanned(g.plan.moves, id, nowMs);
            this.snapshot = snap;
            this.snapshotVms = summarizeVms(valid);
            this.fleetSeries.push({ audit: id, timeMs: nowMs, hosts: summarizeHosts(valid, this.snapshotVms) });
          } catch (e) {
            fail("planner_error", `the planner failed: ${e instanceof Error ? e.message : String(e)}`);
          }
          rec.plan_ms = performance.now() - tp;
        }
      }
    } catch (e) {
      fail("internal_error", `audit failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    rec.duration_ms = performance.now() - t0;
    this.auditsTotal++;
    if (rec.status === "ok") {
      this.lastSuccessMs = startMs;
      this.lastGood = rec;
    } else if (rec.error) {
      this.errorsByReason.set(rec.error.reason, (this.errorsByReason.get(rec.error.reason) ?? 0) + 1);
    }
    this.history.push(rec);
    const keep = this.opts.historySize ?? 100;
    if (this.history.length > keep) this.history.splice(0, this.history.length - keep);
    const oldest = this.history[0]?.id ?? id;
    while ((this.fleetSeries[0]?.audit ?? oldest) < oldest) this.fleetSeries.shift();
    this.logAudit(rec);
    this.opts.onAudit?.(rec, this);
    return rec;
  }

  private logAudit(a: AuditRecord): void {
    const log = this.opts.log;
    if (!log) return;
    for (const e of a.effects)
      log(`audit ${a.id}: move ${e.vm} ${e.from}→${e.to} (${e.plan_id}): ${e.verdict}: ${e.reason}`);
    if (a.status === "error") {
      log(`audit ${a.id}: no plan: ${a.error?.message ?? "failed"}`);
      return;
    }
    const p = a.plan;
    const moves = p?.moves.map((m) => `${m.vm} ${m.from}→${m.to}`).join(", ") || "none";
    log(
      `audit ${a.id}: ${a.snapshot?.hosts ?? 0} hosts, ${a.snapshot?.vms ?? 0} VMs; moves${a.dry_run ? " (dry run)" : ""}: ${moves}; ` +
        `predicted steal ${p?.predicted.steal_before.toFixed(2)} → ${p?.predicted.steal_after.toFixed(2)} cores` +
        `${a.suppressed.length ? `; suppressed ${a.suppressed.length}: ${a.suppressed.map((s) => `${s.vm} ${s.from}→${s.to} (${s.rule})`).join(", ")}` : ""}` +
        ` [${Math.round(a.duration_ms)} ms]`,
    );
  }

  /** First audit now, then one every interval (never two at once; a slow audit delays the next). */
  start(): void {
    const loop = async (): Promise<void> => {
      if (this.stopped) return;
      const began = this.now();
      await this.audit();
      if (this.stopped) return;
      this.timer = setTimeout(() => void loop(), Math.max(0, began + this.opts.intervalMs - this.now()));
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
