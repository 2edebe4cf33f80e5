/**
 * What keeps successive plans from thrashing the fleet:
 *
 * - VM cooldown: a VM that moved (a placement change seen between two snapshots, whoever made
 *   it) less than `vmCooldownMs` ago is not moved again.
 * - Host cooldown: a host that sent or received a VM less than `hostCooldownMs` ago neither
 *   sends nor receives: its window averages still mix the load before and after the move.
 * - Cycles: a move that takes a VM back where it was within the last `cycleAudits` audits
 *   (A→B then B→A, or A→B→C→A), or moves load back along a host pair that load just left
 *   (A→B planned or seen, then B→A), is suppressed.
 *
 * Plans are dry-run, so planned moves do not start cooldowns (nothing moved); they do count
 * for cycles, so flip-flopping proposals are caught too.
 *
 * Pure: the ledger is plain data; its owner (the controller, the simulator) keeps it.
 */
import type { FleetSnapshot, Plan, PlanMove } from "../model/fleet.js";
import { lastMoveOf, undoneRecentMove, type RecentMove } from "./recent-moves.js";

export interface GuardOptions {
  vmCooldownMs: number;
  hostCooldownMs: number;
  /** Cycles are looked for over this many audits back. */
  cycleAudits: number;
}

export interface MoveRecord extends RecentMove {
  /** observed: the VM's host changed between two snapshots; planned: a (dry-run) plan proposed it. */
  kind: "observed" | "planned";
  /** The audit that saw or planned it. */
  audit: number;
}

export type SuppressionRule = "vm_cooldown" | "host_cooldown" | "cycle" | "blocked_pair";
export const SUPPRESSION_RULES: readonly SuppressionRule[] = ["vm_cooldown", "host_cooldown", "cycle", "blocked_pair"];

export interface Suppression {
  vm: string;
  from: string;
  to: string;
  rule: SuppressionRule;
  reason: string;
  /** What was taken out of play before planning again: a VM kept in place, a host frozen, a host not a target. */
  held: { vm?: string; host?: string; noTarget?: string };
}

const ago = (ms: number): string => (ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`);
const describe = (m: MoveRecord, nowMs: number, audit: number): string =>
  `${m.vm} ${m.from}→${m.to} (${m.kind === "observed" ? "seen moved" : "planned"} in audit ${m.audit}, ${audit - m.audit} audit${audit - m.audit === 1 ? "" : "s"} / ${ago(nowMs - m.atMs)} ago)`;

const vmKey = (v: { uuid: string | null; name: string }): string => (v.uuid ? `u:${v.uuid}` : `n:${v.name}`);

/** Moves the guard remembers; old ones are dropped as they stop mattering. */
export class MoveLedger {
  private list: MoveRecord[] = [];
  /** Where each VM was last seen: a VM absent from a few snapshots (in flight) and back elsewhere has moved. */
  private lastSeen = new Map<string, { host: string; atMs: number }>();

  constructor(private readonly opts: GuardOptions) {}

  /** Placement changes since each VM was last seen; remembers where every VM is now. */
  observe(snapshot: FleetSnapshot, audit: number, atMs: number): MoveRecord[] {
    const out: MoveRecord[] = [];
    for (const v of snapshot.vms) {
      const k = vmKey(v);
      const was = this.lastSeen.get(k);
      if (was && was.host !== v.host)
        out.push({ vm: v.name, from: was.host, to: v.host, atMs, kind: "observed", audit });
      this.lastSeen.set(k, { host: v.host, atMs });
    }
    const keepMs = Math.max(this.opts.vmCooldownMs, this.opts.hostCooldownMs, 3_600_000);
    for (const [k, w] of this.lastSeen) if (atMs - w.atMs > keepMs) this.lastSeen.delete(k);
    this.list.push(...out);
    return out;
  }

  get moves(): readonly MoveRecord[] {
    return this.list;
  }

  add(records: readonly MoveRecord[]): void {
    this.list.push(...records);
  }

  addPlanned(moves: readonly PlanMove[], audit: number, atMs: number): void {
    this.add(moves.map((m) => ({ vm: m.vm, from: m.from, to: m.to, atMs, kind: "planned" as const, audit })));
  }

  prune(nowMs: number, audit: number): void {
    const keepMs = Math.max(this.opts.vmCooldownMs, this.opts.hostCooldownMs);
    this.list = this.list.filter(
      (m) => audit - m.audit < this.opts.cycleAudits || (m.kind === "observed" && nowMs - m.atMs <= keepMs),
    );
  }

  /** What the ledger holds, for the controller's state file. */
  toJSON(): { moves: MoveRecord[]; last_seen: Array<[string, { host: string; atMs: number }]> } {
    return { moves: this.list, last_seen: [...this.lastSeen] };
  }

  restore(st: { moves: MoveRecord[]; last_seen: Array<[string, { host: string; atMs: number }]> }): void {
    this.list = [...st.moves];
    this.lastSeen = new Map(st.last_seen);
  }

  /** Why this move must not be made now, or null. Checked against the moves before this audit. */
  check(move: Pick<PlanMove, "vm" | "from" | "to">, nowMs: number, audit: number): Suppression | null {
    const observed = this.list.filter((m) => m.kind === "observed");
    const vmLast = this.opts.vmCooldownMs > 0 ? lastMoveOf(move.vm, observed, nowMs, this.opts.vmCooldownMs) : null;
    if (vmLast) {
      return {
        ...pick(move),
        rule: "vm_cooldown",
        reason: `${move.vm} moved ${vmLast.from}→${vmLast.to} (seen ${ago(nowMs - vmLast.atMs)} ago); VM cooldown is ${ago(this.opts.vmCooldownMs)}`,
        held: { vm: move.vm },
      };
    }
    for (const host of [move.from, move.to]) {
      const hit = observed
        .filter(
          (m) => (m.from === host || m.to === host) && nowMs - m.atMs < this.opts.hostCooldownMs && m.atMs <= nowMs,
        )
        .sort((a, b) => b.atMs - a.atMs)[0];
      if (hit) {
        return {
          ...pick(move),
          rule: "host_cooldown",
          reason: `${host} ${hit.from === host ? "sent" : "received"} ${hit.vm} (seen ${ago(nowMs - hit.atMs)} ago); host cooldown is ${ago(this.opts.hostCooldownMs)} (its averages still mix the load before and after)`,
          held: { host },
        };
      }
    }
    const inWindow = this.list.filter((m) => audit - m.audit < this.opts.cycleAudits && m.audit <= audit);
    const undone = undoneRecentMove(move, inWindow, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    if (undone) {
      const rec =
        inWindow.find(
          (m) => m.vm === undone.vm && m.from === undone.from && m.to === undone.to && m.atMs === undone.atMs,
        ) ?? null;
      return {
        ...pick(move),
        rule: "cycle",
        reason: `would take ${move.vm} back to ${move.to}, undoing ${rec ? describe(rec, nowMs, audit) : `${undone.from}→${undone.to}`}; cycles within ${this.opts.cycleAudits} audits are suppressed`,
        held: { vm: move.vm },
      };
    }
    const reverse = inWindow
      .filter((m) => m.from === move.to && m.to === move.from)
      .sort((a, b) => b.audit - a.audit)[0];
    if (reverse) {
      return {
        ...pick(move),
        rule: "cycle",
        reason: `would move load ${move.from}→${move.to} right after ${describe(reverse, nowMs, audit)} moved it the other way; cycles within ${this.opts.cycleAudits} audits are suppressed`,
        held: { noTarget: move.to },
      };
    }
    return null;
  }
}

const pick = (m: Pick<PlanMove, "vm" | "from" | "to">) => ({ vm: m.vm, from: m.from, to: m.to });

export interface GuardedPlan {
  plan: Plan;
  suppressed: Suppression[];
  /** How many times the planner ran. */
  rounds: number;
}

const MAX_ROUNDS = 8;

/**
 * Plans, and while the plan has moves the ledger forbids, records them as suppressed, takes
 * the VMs or hosts concerned out of play in a copy of the snapshot and plans again, so the
 * plan that comes out is the planner's own (valid in order, with its own prediction) on what
 * is allowed. If that does not settle within a few rounds, no moves.
 */
export function guardedPlan(
  snapshot: FleetSnapshot,
  planFn: (s: FleetSnapshot) => Plan,
  ledger: MoveLedger,
  nowMs: number,
  audit: number,
  /** Source → target pairs not to use (a move there did not help): the target is held for the round. */
  blocked: (from: string, to: string) => string | null = () => null,
): GuardedPlan {
  const work: FleetSnapshot = {
    ...snapshot,
    hosts: snapshot.hosts.map((h) => ({ ...h })),
    vms: snapshot.vms.map((v) => ({ ...v })),
  };
  const suppressed: Suppression[] = [];
  for (let round = 1; ; round++) {
    const plan = planFn(work);
    const bad = plan.moves
      .map((m): Suppression | null => {
        const why = blocked(m.from, m.to);
        if (why !== null)
          return {
            ...pick(m),
            rule: "blocked_pair",
            reason: `${m.from}→${m.to} is blocked until an operator clears it: ${why}`,
            held: { noTarget: m.to },
          };
        return ledger.check(m, nowMs, audit);
      })
      .filter((s): s is Suppression => s !== null);
    if (bad.length === 0) return { plan, suppressed, rounds: round };
    suppressed.push(...bad);
    if (round >= MAX_ROUNDS) {
      return {
        plan: {
          version: 1,
          moves: [],
          predicted: { steal_before: plan.predicted.steal_before, steal_after: plan.predicted.steal_before },
          explanation: `No moves: after ${round} rounds the planner still proposed moves that cooldowns or cycle detection forbid. ${plan.explanation}`,
        },
        suppressed,
        rounds: round,
      };
    }
    for (const s of bad) hold(work, s.held);
  }
}

function hold(s: FleetSnapshot, what: { vm?: string; host?: string; noTarget?: string }): void {
  for (const v of s.vms) if (v.name === what.vm || v.host === what.host) v.migratable = false;
  for (const h of s.hosts) if (h.name === what.host || h.name === what.noTarget) h.accepts_vms = false;
}
