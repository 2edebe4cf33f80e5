/**
 * The answers of the fleet controller's JSON API (/api/v1/…, built in api.ts, fleet-api.ts and
 * apply-mode.ts), as they go on the wire: snake_case, as the fleet snapshot and plan format
 * (docs/fleet-snapshot.md) whose plans they carry. The dashboard (web/) imports these types
 * type-only, so the server and the page cannot drift apart.
 *
 * Types only, and only from pure modules: the dashboard's type check reads this file and what it
 * imports, and nothing of it enters the dashboard's bundle.
 */
import type { Plan, PlanMove } from "../model/fleet.js";
import type { MoveResult } from "../migrate/executor.js";
import type { BlockedPair, MoveEffect, PendingEffect, Verdict } from "./effects.js";
import type { HostSummary, VmSummary } from "./fleet-summary.js";
import type { SuppressionRule } from "../planner/guard.js";

/** Why an audit failed: one of the controller's AUDIT_FAILURES (missing_hosts, stale_hosts, …). */
export type AuditFailureReason = string;

export interface AuditErrorJson {
  reason: AuditFailureReason;
  message: string;
  problems: string[];
  missing_hosts: string[];
}

/** How the controller is set up (part of /api/v1/health). */
export interface ControllerInfo {
  prometheus: string;
  window_s: number;
  interval_s: number;
  policy: string;
}

/** GET /api/v1/health */
export interface ControllerHealthResponse extends ControllerInfo {
  role: "controller";
  status: "starting" | "ok" | "failing";
  dry_run: boolean;
  uptime_s: number;
  audits: number;
  last_audit: {
    id: number;
    time: string;
    status: "ok" | "error";
    reason: AuditFailureReason | null;
    message: string | null;
  } | null;
  /** ISO 8601; null before the first successful audit. */
  last_success: string | null;
}

/** A move the planner proposed that was held back, and why. */
export interface SuppressionJson {
  vm: string;
  from: string;
  to: string;
  rule: SuppressionRule;
  reason: string;
  /** What was taken out of play before planning again: a VM kept in place, a host frozen, a host not a target. */
  held: { vm?: string; host?: string; no_target?: string };
}

/** A VM whose host changed between two snapshots, or a move a (dry-run) plan proposed. */
export interface MoveRecordJson {
  vm: string;
  from: string;
  to: string;
  /** When, ms since the epoch. */
  at_ms: number;
  kind: "observed" | "planned";
  audit: number;
}

export interface SnapshotSummaryJson {
  /** ISO 8601: the end of the snapshot's window. */
  time: string;
  window_s: number;
  hosts: number;
  vms: number;
  vcpus: number;
  notes: string[];
}

/** One audit, as GET /api/v1/plan gives the last one and GET /api/v1/plans lists them. */
export interface PlanView {
  audit: number;
  /** When the audit started (ISO 8601). */
  time: string;
  status: "ok" | "error";
  dry_run: boolean;
  /** ok: the plan, after cooldowns and cycle detection. */
  plan: Plan | null;
  suppressed: SuppressionJson[];
  observed_moves: MoveRecordJson[];
  effects: MoveEffect[];
  snapshot: SnapshotSummaryJson | null;
  error: AuditErrorJson | null;
  duration_ms: number;
}

/** GET /api/v1/plans (newest first) */
export interface PlansResponse {
  audits: PlanView[];
}

/** GET /api/v1/effects */
export interface EffectsResponse {
  settle_s: number;
  pending: PendingEffect[];
  /** Newest first. */
  judged: MoveEffect[];
  blocked_pairs: BlockedPair[];
  verdicts: Partial<Record<Verdict, number>>;
}

/** [time ms, demand, capacity, contention, throttled, usage] — cores. */
export type FleetHostPoint = [number, number, number, number, number, number];

/** A host's figures over the successful audits kept. */
export interface FleetHostSeries {
  name: string;
  cpus: number;
  reserved_cpus: number;
  capacity: number;
  accepts_vms: boolean;
  points: FleetHostPoint[];
}

export interface FleetAuditJson {
  id: number;
  /** ms since the epoch. */
  time: number;
  status: "ok" | "error";
  reason: AuditFailureReason | null;
  message: string | null;
}

/** A move done whose effect has not settled yet. */
export interface FleetPendingJson {
  plan_id: string;
  vm: string;
  from: string;
  to: string;
  /** When the migration ended, ms since the epoch. */
  done: number;
}

/** GET /api/v1/fleet: the fleet as the dashboard shows it (always 200). */
export interface FleetResponse {
  /** ms since the epoch. */
  time: number;
  interval_s: number;
  audits: FleetAuditJson[];
  hosts: FleetHostSeries[];
  effects: {
    pending: FleetPendingJson[];
    /** The newest 20, newest first. */
    judged: MoveEffect[];
    blocked_pairs: BlockedPair[];
  };
  /** The last audit's hosts and VMs, when it succeeded. */
  current: {
    audit: number;
    /** ms since the epoch: the end of the snapshot's window. */
    time: number;
    window_s: number;
    hosts: HostSummary[];
    vms: VmSummary[];
  } | null;
}

/** How one move of an applied plan ended. */
export interface MoveOutcomeJson {
  index: number;
  move: PlanMove;
  result: MoveResult;
  reason: string;
  duration_ms: number;
  /** ms since the epoch; null when not started. */
  ended_ms: number | null;
  bytes: number | null;
}

export interface ExecuteResultJson {
  plan_id: string;
  outcomes: MoveOutcomeJson[];
  failures: number;
}

export type ApplyState = "waiting_approval" | "applying" | "applied" | "failed" | "superseded" | "skipped";

/** A plan in apply mode: waiting for approval, applying, applied… */
export interface ApplyRecordJson {
  id: string;
  audit: number;
  state: ApplyState;
  moves: number;
  reason: string;
  approved_by: string | null;
  result: ExecuteResultJson | null;
}

/** GET /api/v1/apply (newest first) */
export interface ApplyResponse {
  approve_over: number;
  plans: ApplyRecordJson[];
}
