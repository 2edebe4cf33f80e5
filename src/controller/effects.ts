/**
 * Did each move help? A move is done when the relief is measured, not when the VM runs on the
 * target (OpenStack Watcher's post-condition). Once a move has settled — a snapshot whose whole
 * window lies after it — the contention measured on its source and target is compared with
 * what was measured before it and what the model predicted:
 *
 * - helped: the pair's measured contention fell by at least half the predicted gain;
 * - no_effect: it fell by less (or the model predicted a gain that did not come);
 * - hurt: it rose;
 * - inconclusive: one of the two hosts is missing from the snapshot, or another move touched
 *   them in between (nothing to compare).
 *
 * A move that did not help, or hurt, blocks its source → target pair: the planner may not use
 * that target for VMs of that source again until an operator clears it (the reason is seldom
 * the model: pinning that did not travel, a noisy host process, a wrong capacity).
 *
 * Pure: plain data the controller owns and persists.
 */
import { predictHost, type ModelVm } from "../model/contention.js";
import type { FleetSnapshot, PlanMove } from "../model/fleet.js";
import { vmDemands } from "../planner/state.js";

export type Verdict = "helped" | "no_effect" | "hurt" | "inconclusive";
export const VERDICTS: readonly Verdict[] = ["helped", "no_effect", "hurt", "inconclusive"];

/** Contention (delay not caused by the VM's own cap) of source and target, cores. */
export interface PairFigures {
  from: number;
  to: number;
}

export interface PendingEffect {
  plan_id: string;
  vm: string;
  from: string;
  to: string;
  /** When the migration ended (ms since the epoch). */
  done_ms: number;
  /** Measured in the snapshot the plan was made on. */
  before: PairFigures;
  /** The model's prediction for after the whole plan. */
  predicted: PairFigures;
}

export interface MoveEffect extends PendingEffect {
  verdict: Verdict;
  /** Measured once settled (null when inconclusive for a missing host). */
  after: PairFigures | null;
  /** The settled snapshot's time (ISO 8601). */
  snapshot_time: string;
  reason: string;
}

export interface BlockedPair {
  from: string;
  to: string;
  since: string;
  reason: string;
}

const f2 = (x: number): string => x.toFixed(2);

/** Measured contention on a host: Σ over its VMs' vCPUs of delay − throttled, cores. */
export function measuredContention(s: FleetSnapshot, host: string): number {
  let c = 0;
  for (const v of s.vms) {
    if (v.host !== host) continue;
    for (let i = 0; i < v.vcpus; i++) c += Math.max(0, (v.delay[i] ?? 0) - (v.throttled[i] ?? 0));
  }
  return c;
}

/** The model's contention on `hosts` once every move of the plan is made. */
export function predictedAfter(
  s: FleetSnapshot,
  moves: readonly PlanMove[],
  hosts: readonly string[],
): Map<string, number> {
  const place = new Map(s.vms.map((v) => [v.name, v.host]));
  for (const m of moves) place.set(m.vm, m.to);
  const out = new Map<string, number>();
  for (const h of new Set(hosts)) {
    const host = s.hosts.find((x) => x.name === h);
    if (!host) continue;
    const vms: ModelVm[] = s.vms
      .filter((v) => place.get(v.name) === h)
      .map((v) => ({ id: v.name, vcpus: vmDemands(v).map((d) => ({ demand: d })) }));
    out.set(h, predictHost(Math.max(0, host.cpus - host.reserved_cpus), vms).steal);
  }
  return out;
}

/** What to watch for each move of a plan, from the snapshot it was made on. */
export function expectations(
  s: FleetSnapshot,
  moves: readonly PlanMove[],
): Map<number, { before: PairFigures; predicted: PairFigures }> {
  const pred = predictedAfter(
    s,
    moves,
    moves.flatMap((m) => [m.from, m.to]),
  );
  const out = new Map<number, { before: PairFigures; predicted: PairFigures }>();
  moves.forEach((m, i) =>
    out.set(i, {
      before: { from: measuredContention(s, m.from), to: measuredContention(s, m.to) },
      predicted: { from: pred.get(m.from) ?? 0, to: pred.get(m.to) ?? 0 },
    }),
  );
  return out;
}

/** The verdict on one settled move, from the settled snapshot's measurements. */
export function judge(p: PendingEffect, s: FleetSnapshot, touchedSince: boolean): MoveEffect {
  const base = { ...p, snapshot_time: s.time };
  const has = (h: string) => s.hosts.some((x) => x.name === h);
  if (!has(p.from) || !has(p.to)) {
    return {
      ...base,
      verdict: "inconclusive",
      after: null,
      reason: `${!has(p.from) ? p.from : p.to} is not in the snapshot of ${s.time}: nothing to compare`,
    };
  }
  const after = { from: measuredContention(s, p.from), to: measuredContention(s, p.to) };
  const before = p.before.from + p.before.to;
  const now = after.from + after.to;
  const predicted = p.predicted.from + p.predicted.to;
  const expected = before - predicted;
  const gained = before - now;
  const figures =
    `${p.from}+${p.to} contention measured ${f2(p.before.from)}+${f2(p.before.to)} = ${f2(before)} cores before, ` +
    `${f2(after.from)}+${f2(after.to)} = ${f2(now)} after (predicted ${f2(p.predicted.from)}+${f2(p.predicted.to)} = ${f2(predicted)})`;
  if (touchedSince)
    return {
      ...base,
      verdict: "inconclusive",
      after,
      reason: `another move touched ${p.from} or ${p.to} before this one settled; ${figures}`,
    };
  // Noise floor: a few hundredths of a core move either way from one window to the next.
  const noise = Math.max(0.05, 0.1 * before);
  if (now > before + noise)
    return { ...base, verdict: "hurt", after, reason: `contention rose by ${f2(now - before)} cores: ${figures}` };
  if (gained >= Math.max(noise, 0.5 * expected))
    return {
      ...base,
      verdict: "helped",
      after,
      reason: `contention fell by ${f2(gained)} cores (${expected > 0 ? `${Math.round((100 * gained) / expected)} % of the predicted ${f2(expected)}` : "none was predicted"}): ${figures}`,
    };
  return {
    ...base,
    verdict: "no_effect",
    after,
    reason: `contention fell by only ${f2(gained)} of the predicted ${f2(expected)} cores: ${figures}`,
  };
}

export interface EffectState {
  pending: PendingEffect[];
  judged: MoveEffect[];
  blocked: BlockedPair[];
}

/** The moves waiting for their verdict, the verdicts, and the pairs blocked by them. */
export class EffectTracker {
  pending: PendingEffect[] = [];
  judged: MoveEffect[] = [];
  blocked: BlockedPair[] = [];
  readonly verdicts = new Map<Verdict, number>(VERDICTS.map((v) => [v, 0]));

  constructor(
    /** Extra time after a move before its window counts as settled. */
    readonly settleMs = 10_000,
    readonly keep = 200,
  ) {}

  add(p: PendingEffect): void {
    this.pending.push(p);
  }

  /**
   * Judges the moves that have settled in this snapshot: a plan's moves together (they were
   * predicted together), once the snapshot's whole window lies after the last of them.
   */
  onSnapshot(s: FleetSnapshot): MoveEffect[] {
    const windowStart = Date.parse(s.time) - s.window_s * 1000;
    const lastOfPlan = new Map<string, number>();
    for (const p of this.pending) lastOfPlan.set(p.plan_id, Math.max(lastOfPlan.get(p.plan_id) ?? 0, p.done_ms));
    const settled = (p: PendingEffect): boolean =>
      windowStart >= (lastOfPlan.get(p.plan_id) ?? p.done_ms) + this.settleMs;
    const all = [...this.pending, ...this.judged];
    const out: MoveEffect[] = [];
    for (const p of this.pending.filter(settled)) {
      const touched = all.some(
        (q) =>
          q.plan_id !== p.plan_id &&
          q.done_ms >= p.done_ms &&
          q.done_ms <= Date.parse(s.time) &&
          [q.from, q.to].some((h) => h === p.from || h === p.to),
      );
      const e = judge(p, s, touched);
      out.push(e);
      this.verdicts.set(e.verdict, (this.verdicts.get(e.verdict) ?? 0) + 1);
      if ((e.verdict === "no_effect" || e.verdict === "hurt") && !this.isBlocked(e.from, e.to)) {
        this.blocked.push({
          from: e.from,
          to: e.to,
          since: s.time,
          reason: `${e.vm} ${e.from}→${e.to} (${e.plan_id}) ${e.verdict === "hurt" ? "hurt" : "did not help"}: ${e.reason}`,
        });
      }
    }
    this.pending = this.pending.filter((p) => !settled(p));
    this.judged.push(...out);
    if (this.judged.length > this.keep) this.judged.splice(0, this.judged.length - this.keep);
    return out;
  }

  isBlocked(from: string, to: string): BlockedPair | null {
    return this.blocked.find((b) => b.from === from && b.to === to) ?? null;
  }

  /** An operator cleared the pair (the reason is understood). */
  unblock(from: string, to: string): boolean {
    const n = this.blocked.length;
    this.blocked = this.blocked.filter((b) => !(b.from === from && b.to === to));
    return this.blocked.length < n;
  }

  toJSON(): EffectState {
    return { pending: this.pending, judged: this.judged, blocked: this.blocked };
  }

  restore(st: EffectState): void {
    this.pending = [...st.pending];
    this.judged = [...st.judged];
    this.blocked = [...st.blocked];
    for (const e of this.judged) this.verdicts.set(e.verdict, (this.verdicts.get(e.verdict) ?? 0) + 1);
  }
}
