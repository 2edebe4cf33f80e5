/**
 * The fleet controller's JSON API (src/controller/{api,fleet-api,apply-mode}.ts) as the fleet
 * view reads it, checked field by field like the agent's, and the pure figures the view draws.
 * The shapes are the server's (type-only imports: nothing of the server is bundled).
 */
import type * as Controller from "../../src/controller/api-types.js";
import type { BlockedPair, MoveEffect } from "../../src/controller/effects.js";
import type { HostSummary, VmSummary } from "../../src/controller/fleet-summary.js";
import type { Plan, PlanMove } from "../../src/model/fleet.js";
import { isObj, list, num, numOrNull, obj, platformNow, str, strOrNull, type Obj, type PlatformNow } from "./api.js";
import type { Pt } from "./series.js";

/**
 * The answers as the fleet view keeps them: the server's own types (src/controller/api-types.ts,
 * src/controller/fleet-summary.ts, src/model/fleet.ts), cut to the fields the view reads. A few
 * are reshaped for drawing, and say so: ISO times parsed to ms (`…_ms`), a host's compact points
 * as objects, the pending and judged moves in one list.
 */
export type ControllerHealth = Pick<
  Controller.ControllerHealthResponse,
  "dry_run" | "uptime_s" | "audits" | "prometheus" | "window_s" | "interval_s" | "policy"
> & {
  status: string;
  /** last_success, parsed: ms since the epoch. */
  last_success_ms: number | null;
};

export type Move = Pick<PlanMove, "vm" | "from" | "to" | "reason">;

export type Suppressed = Move & { rule: string };

export type AuditError = Omit<Controller.AuditErrorJson, "reason"> & { reason: string };

/** One audit as /api/v1/plans lists it (newest first). */
export type AuditView = Pick<Controller.PlanView, "audit" | "status" | "dry_run" | "duration_ms"> & {
  /** time, parsed: ms since the epoch. */
  time_ms: number;
  plan: (Pick<Plan, "explanation"> & Plan["predicted"] & { moves: Move[] }) | null;
  suppressed: Suppressed[];
  observed_moves: Array<Pick<Controller.MoveRecordJson, "vm" | "from" | "to">>;
  snapshot: (Pick<Controller.SnapshotSummaryJson, "window_s" | "hosts" | "vms" | "vcpus"> & { time_ms: number }) | null;
  error: AuditError | null;
};

/** A host's figures (cores), at one audit or now: a FleetHostPoint as an object. */
export interface HostFigures {
  t: number;
  demand: number;
  capacity: number;
  contention: number;
  throttled: number;
  usage: number;
}

export type FleetHost = Omit<Controller.FleetHostSeries, "points"> & { points: HostFigures[] };

export type HostNow = HostSummary;

export type VmNow = Omit<VmSummary, "platform"> & {
  /** Who owns it (OpenStack, Proxmox, KubeVirt), null when libvirt alone. */
  platform: PlatformNow | null;
};

type FleetCurrent = NonNullable<Controller.FleetResponse["current"]>;

export type FleetData = Pick<Controller.FleetResponse, "time" | "interval_s"> & {
  audits: Array<Pick<Controller.FleetAuditJson, "id" | "time" | "reason" | "message"> & { ok: boolean }>;
  hosts: FleetHost[];
  current: (Pick<FleetCurrent, "audit" | "time" | "window_s"> & { hosts: HostNow[]; vms: VmNow[] }) | null;
  effects: EffectsData;
};

type PairFigures = MoveEffect["before"];

/** A move done, and (once settled) what it did: contention measured on its source and target, cores. */
export type MoveEffectView = Pick<MoveEffect, "plan_id" | "vm" | "from" | "to" | "done_ms" | "reason"> & {
  /** null while it settles. */
  verdict: string | null;
  before: PairFigures | null;
  after: PairFigures | null;
  predicted: PairFigures | null;
};

export interface EffectsData {
  /** The moves still settling, then the judged ones, newest first. */
  moves: MoveEffectView[];
  blocked: Array<Pick<BlockedPair, "from" | "to" | "reason">>;
}

export type ApplyRecord = Pick<Controller.ApplyRecordJson, "id" | "audit" | "moves" | "reason" | "approved_by"> & {
  state: string;
};

export type ApplyData = Pick<Controller.ApplyResponse, "approve_over"> & { plans: ApplyRecord[] };

const bool = (o: Obj, k: string, d: boolean): boolean => (typeof o[k] === "boolean" ? (o[k] as boolean) : d);
const strs = (o: Obj, k: string): string[] => list(o, k).filter((x): x is string => typeof x === "string");
const timeOf = (o: Obj, k: string): number | null => {
  const v = o[k];
  if (typeof v === "number" && Number.isFinite(v)) return v;
  const t = typeof v === "string" ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : null;
};
const move = (v: unknown): Move => {
  const o = obj(v);
  return { vm: str(o, "vm"), from: str(o, "from"), to: str(o, "to"), reason: str(o, "reason") };
};

/** What a host is (not what it carries): the same fields in the series and in the current view. */
function hostFacts(o: Record<string, unknown>): Omit<Controller.FleetHostSeries, "points"> {
  return {
    name: str(o, "name"),
    cpus: num(o, "cpus"),
    reserved_cpus: num(o, "reserved_cpus"),
    capacity: num(o, "capacity"),
    accepts_vms: bool(o, "accepts_vms", true),
  };
}

function hostNow(v: unknown): HostNow {
  const o = obj(v);
  return {
    ...hostFacts(o),
    vms: num(o, "vms"),
    vcpus: num(o, "vcpus"),
    usage: num(o, "usage"),
    demand: num(o, "demand"),
    contention: num(o, "contention"),
    throttled: num(o, "throttled"),
  };
}

const pair = (v: unknown): { from: number; to: number } | null => {
  if (!isObj(v)) return null;
  const from = num(v, "from", NaN);
  const to = num(v, "to", NaN);
  return Number.isFinite(from) && Number.isFinite(to) ? { from, to } : null;
};

function effects(v: unknown): EffectsData {
  const o = obj(v);
  const judged = list(o, "judged").map((x) => {
    const e = obj(x);
    return {
      plan_id: str(e, "plan_id"),
      vm: str(e, "vm"),
      from: str(e, "from"),
      to: str(e, "to"),
      done_ms: num(e, "done_ms"),
      verdict: str(e, "verdict") || null,
      before: pair(e.before),
      after: pair(e.after),
      predicted: pair(e.predicted),
      reason: str(e, "reason"),
    };
  });
  const pending = list(o, "pending").map((x) => {
    const e = obj(x);
    return {
      plan_id: str(e, "plan_id"),
      vm: str(e, "vm"),
      from: str(e, "from"),
      to: str(e, "to"),
      done_ms: num(e, "done"),
      verdict: null,
      before: null,
      after: null,
      predicted: null,
      reason: "",
    };
  });
  return {
    moves: [...pending, ...judged],
    blocked: list(o, "blocked_pairs").map((x) => ({
      from: str(obj(x), "from"),
      to: str(obj(x), "to"),
      reason: str(obj(x), "reason"),
    })),
  };
}

export const parseFleet = {
  health(v: unknown): ControllerHealth {
    const o = obj(v);
    return {
      status: str(o, "status", "unknown"),
      dry_run: bool(o, "dry_run", true),
      uptime_s: num(o, "uptime_s"),
      audits: num(o, "audits"),
      last_success_ms: timeOf(o, "last_success"),
      prometheus: str(o, "prometheus"),
      window_s: num(o, "window_s"),
      interval_s: num(o, "interval_s"),
      policy: str(o, "policy"),
    };
  },
  /** The newest audit of GET /api/v1/plans?limit=1, or null when none finished yet. */
  latestAudit(v: unknown): AuditView | null {
    const a = list(obj(v), "audits")[0];
    return isObj(a) ? parseFleet.audit(a) : null;
  },
  audit(v: unknown): AuditView {
    const o = obj(v);
    const p = isObj(o.plan) ? o.plan : null;
    const pred = obj(p?.predicted);
    const s = isObj(o.snapshot) ? o.snapshot : null;
    const e = isObj(o.error) ? o.error : null;
    return {
      audit: num(o, "audit"),
      time_ms: timeOf(o, "time") ?? 0,
      status: o.status === "ok" ? "ok" : "error",
      dry_run: bool(o, "dry_run", true),
      plan: p
        ? {
            moves: list(p, "moves").map(move),
            steal_before: num(pred, "steal_before"),
            steal_after: num(pred, "steal_after"),
            explanation: str(p, "explanation"),
          }
        : null,
      suppressed: list(o, "suppressed").map((x) => ({ ...move(x), rule: str(obj(x), "rule") })),
      observed_moves: list(o, "observed_moves").map((x) => {
        const m = move(x);
        return { vm: m.vm, from: m.from, to: m.to };
      }),
      snapshot: s
        ? {
            time_ms: timeOf(s, "time") ?? 0,
            window_s: num(s, "window_s"),
            hosts: num(s, "hosts"),
            vms: num(s, "vms"),
            vcpus: num(s, "vcpus"),
          }
        : null,
      error: e
        ? {
            reason: str(e, "reason", "unknown"),
            message: str(e, "message"),
            problems: strs(e, "problems"),
            missing_hosts: strs(e, "missing_hosts"),
          }
        : null,
      duration_ms: num(o, "duration_ms"),
    };
  },
  fleet(v: unknown): FleetData {
    const o = obj(v);
    const cur = isObj(o.current) ? o.current : null;
    return {
      time: num(o, "time"),
      interval_s: num(o, "interval_s"),
      audits: list(o, "audits")
        .map((a) => {
          const x = obj(a);
          return {
            id: num(x, "id"),
            time: num(x, "time", NaN),
            ok: x.status === "ok",
            reason: strOrNull(x, "reason"),
            message: strOrNull(x, "message"),
          };
        })
        .filter((a) => Number.isFinite(a.time)),
      hosts: list(o, "hosts").map((hv) => {
        const x = obj(hv);
        return {
          ...hostFacts(x),
          points: list(x, "points")
            .filter((p): p is unknown[] => Array.isArray(p))
            .map((p) => p.map((n) => (typeof n === "number" && Number.isFinite(n) ? n : NaN)))
            .filter((p) => Number.isFinite(p[0]))
            .map((p) => ({
              t: p[0] ?? 0,
              demand: p[1] || 0,
              capacity: p[2] || 0,
              contention: p[3] || 0,
              throttled: p[4] || 0,
              usage: p[5] || 0,
            })),
        };
      }),
      effects: effects(o.effects),
      current: cur
        ? {
            audit: num(cur, "audit"),
            time: num(cur, "time"),
            window_s: num(cur, "window_s"),
            hosts: list(cur, "hosts").map(hostNow),
            vms: list(cur, "vms").map((vv) => {
              const x = obj(vv);
              return {
                name: str(x, "name"),
                host: str(x, "host"),
                vcpus: num(x, "vcpus"),
                usage: num(x, "usage"),
                demand: num(x, "demand"),
                contention: num(x, "contention"),
                throttled: num(x, "throttled"),
                max_contention: num(x, "max_contention"),
                cap: numOrNull(x, "cap"),
                migratable: bool(x, "migratable", true),
                platform: platformNow(x.platform),
              };
            }),
          }
        : null,
    };
  },
  apply(v: unknown): ApplyData {
    const o = obj(v);
    return {
      approve_over: num(o, "approve_over"),
      plans: list(o, "plans").map((r) => {
        const x = obj(r);
        return {
          id: str(x, "id"),
          audit: num(x, "audit"),
          state: str(x, "state"),
          moves: num(x, "moves"),
          reason: str(x, "reason"),
          approved_by: strOrNull(x, "approved_by"),
        };
      }),
    };
  },
};

/**
 * A host's point as a heatmap cell: steal as a fraction of the host's capacity (contention and
 * throttled vCPU-cores waiting per core the VMs may use), so hosts of any size compare.
 */
export function hostPt(p: HostFigures): Pt {
  const cap = p.capacity > 0 ? p.capacity : 1;
  return {
    t: p.t,
    usage: p.usage / cap,
    steal: (p.contention + p.throttled) / cap,
    contention: p.contention / cap,
    throttled: p.throttled / cap,
  };
}

/** Hosts' demand after the plan's moves (each VM takes its measured demand along). */
export function demandAfter(
  hosts: readonly HostNow[],
  vms: readonly VmNow[],
  moves: readonly Move[],
): Map<string, number> {
  const out = new Map(hosts.map((h) => [h.name, h.demand]));
  const vmDemand = new Map(vms.map((v) => [v.name, v.demand]));
  for (const m of moves) {
    const d = vmDemand.get(m.vm) ?? 0;
    if (out.has(m.from)) out.set(m.from, Math.max(0, (out.get(m.from) ?? 0) - d));
    if (out.has(m.to)) out.set(m.to, (out.get(m.to) ?? 0) + d);
  }
  return out;
}

/** The window the heatmap shows: from the oldest audit kept (one interval before it) to now. */
export function fleetWindow(f: FleetData, nowMs: number): { from: number; to: number } {
  const step = Math.max(1, f.interval_s) * 1000;
  let first = Infinity;
  let last = -Infinity;
  for (const a of f.audits) {
    first = Math.min(first, a.time);
    last = Math.max(last, a.time);
  }
  for (const h of f.hosts)
    for (const p of h.points) {
      first = Math.min(first, p.t);
      last = Math.max(last, p.t);
    }
  if (!Number.isFinite(first)) return { from: nowMs - 10 * step, to: nowMs };
  const to = Math.max(nowMs, last);
  // At least ten intervals wide, so that the first audits do not fill the whole width.
  return { from: Math.min(first - step, to - 10 * step), to };
}

/** Hosts ordered for the eye: most waiting (share of capacity) first, then by name. */
export function orderHosts(hosts: readonly FleetHost[]): FleetHost[] {
  const now = (h: FleetHost): number => {
    const p = h.points[h.points.length - 1];
    return p ? Math.round(hostPt(p).steal * 1000) : -1;
  };
  return [...hosts].sort((a, b) => now(b) - now(a) || a.name.localeCompare(b.name));
}
