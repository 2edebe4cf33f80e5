/**
 * plan(snapshot, options) → plan: pure and deterministic (same input, byte-identical output).
 * The snapshot and options are validated first; a bad one throws FleetValidationError naming
 * the field.
 */
import { parseSnapshot, round4, type FleetSnapshot, type Plan } from "../model/fleet.js";
import { parsePlanOptions, type PlanOptions, type PolicyName } from "./options.js";
import type { Policy } from "./policy.js";
import { balancePolicy, hottestHostPolicy, nonePolicy } from "./policies/baselines.js";
import { contentionPolicy } from "./policies/contention.js";
import { optimalPolicy } from "./policies/optimal.js";
import { FleetState, fmt } from "./state.js";
import { drainFirst } from "./drain.js";

const POLICY_IMPL: Readonly<Record<PolicyName, Policy>> = {
  contention: contentionPolicy,
  none: nonePolicy,
  "balance-utilisation": balancePolicy,
  "hottest-host": hottestHostPolicy,
  optimal: optimalPolicy,
};

/** Validates both, then plans. `snapshot` may be parsed JSON of any shape. */
export function plan(snapshot: unknown, options?: unknown): Plan {
  return planValidated(parseSnapshot(snapshot), parsePlanOptions(options));
}

/** Plans on an already validated snapshot (parseSnapshot) and options (parsePlanOptions). */
export function planValidated(snapshot: FleetSnapshot, options: PlanOptions): Plan {
  const state = new FleetState(snapshot, options.model.mode);
  const before = state.totalSteal();
  const limits = [snapshot.constraints.max_moves, options.maxMoves].filter((x): x is number => x !== null);
  const maxMoves = limits.length > 0 ? Math.min(...limits) : Number.POSITIVE_INFINITY;
  // Draining hosts (maintenance) are emptied first, even when no contention asks for it.
  const drain = drainFirst(state, maxMoves);
  const result = POLICY_IMPL[options.policy](state, { options, maxMoves: maxMoves - drain.moves.length });
  result.moves.unshift(...drain.moves);
  result.notes.unshift(...drain.notes);
  const after = state.totalSteal();
  const moves = result.moves.map((m) => ({
    vm: snapshot.vms[m.v]!.name,
    // The host the VM was on when this move was made: the snapshot's, as each VM moves once.
    from: snapshot.vms[m.v]!.host,
    to: snapshot.hosts[m.t]!.name,
    reason: m.reason,
    // Who must be asked to move it (a platform VM never moves through plain libvirt).
    ...(snapshot.vms[m.v]!.platform ? { platform: snapshot.vms[m.v]!.platform } : {}),
  }));
  fixFromHosts(moves, snapshot);
  const head =
    `Policy ${options.policy}: ${moves.length === 0 ? "no moves" : `${moves.length} move${moves.length === 1 ? "" : "s"}`}; ` +
    `predicted contention ${fmt(before, 2)} → ${fmt(after, 2)} cores (Σ over all vCPUs, ${options.model.mode} contention model; ` +
    `${snapshot.hosts.length} hosts, ${snapshot.vms.length} VMs).`;
  return {
    version: 1,
    moves,
    predicted: { steal_before: round4(before), steal_after: round4(after) },
    explanation: [head, ...result.notes.filter((n) => n !== "")].join(" "),
  };
}

/** A VM moved twice in one plan leaves from where the previous move put it. */
function fixFromHosts(moves: { vm: string; from: string; to: string }[], snapshot: FleetSnapshot): void {
  const at = new Map(snapshot.vms.map((v) => [v.name, v.host]));
  for (const m of moves) {
    m.from = at.get(m.vm) ?? m.from;
    at.set(m.vm, m.to);
  }
}
