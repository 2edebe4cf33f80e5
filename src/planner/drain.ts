/**
 * Draining a host for maintenance: every migratable VM off it, each to the host where the
 * contention model predicts the least added waiting for the rest of the fleet (the target's
 * predicted contention with the VM minus without it, the VM's own wait on the target
 * included), within the planner's rules — memory, anti-affinity, the VM no wider than the
 * target, `accepts_vms` — except CPU headroom, unless asked for: a drain must empty its host
 * even when the rest of the fleet is busy, and the least waiting then says where it hurts least.
 *
 * Largest VMs first (demand, then memory), as first-fit-decreasing packs best; each placement is
 * made on what the ones before it left. A VM that cannot go anywhere is named with the reason.
 *
 * Pure: the same snapshot and options give the same result.
 */
import { parseSnapshot, round4, type FleetSnapshot, type Plan } from "../model/fleet.js";
import type { ModelMode } from "../model/contention.js";
import type { PolicyMove } from "./policy.js";
import { FleetState, fmt, pct } from "./state.js";
import { forecast } from "./reason.js";

export interface DrainOptions {
  /** Contention model mode (as the planner's `model.mode`). Default bursty. */
  mode?: ModelMode;
  /** Also keep the planner's CPU headroom rule (target demand within its capacity). Default false. */
  requireHeadroom?: boolean;
  /** At most this many moves; the VMs left over are named. null (default): no limit. */
  maxMoves?: number | null;
}

/** A VM that stays on the drained host, and why. */
export interface Unplaced {
  vm: string;
  host: string;
  reason: string;
}

/** One placement with the model's numbers behind it. */
export interface DrainPlacement {
  vm: string;
  from: string;
  to: string;
  /** Predicted contention of the target before and after the VM arrives, cores. */
  target_steal_before: number;
  target_steal_after: number;
  /** The rest of the fleet's added waiting, cores (target_steal_after − target_steal_before). */
  added_waiting: number;
  /** Hosts that could have taken it. */
  candidates: number;
}

export interface DrainResult {
  hosts: string[];
  /** A plan in the format's form: feed it to the executor. */
  plan: Plan;
  placements: DrainPlacement[];
  unplaced: Unplaced[];
  /** Predicted contention of every host but the drained ones, before and after, cores. */
  rest_of_fleet: { steal_before: number; steal_after: number };
}

export class DrainError extends Error {}

/** The snapshot with `hosts` marked as draining (drain: true, accepts_vms: false). */
export function markDraining(snapshot: FleetSnapshot, hosts: readonly string[]): FleetSnapshot {
  const set = new Set(hosts);
  return {
    ...snapshot,
    hosts: snapshot.hosts.map((h) => (set.has(h.name) ? { ...h, accepts_vms: false, drain: true } : h)),
  };
}

/**
 * Plans draining `host` (or several). The snapshot (any value) is validated first; an unknown
 * host throws DrainError. Other hosts the snapshot marks `drain: true` receive nothing.
 */
export function planDrain(
  snapshot: unknown,
  host: string | readonly string[],
  options: DrainOptions = {},
): DrainResult {
  const snap = parseSnapshot(snapshot);
  const asked = typeof host === "string" ? [host] : [...host];
  for (const h of asked) {
    if (!snap.hosts.some((x) => x.name === h))
      throw new DrainError(
        `host ${JSON.stringify(h)} is not in the snapshot (hosts: ${snap.hosts.map((x) => x.name).join(", ") || "none"})`,
      );
  }
  // Other hosts the snapshot marks drain: true receive nothing (accepts_vms false) but are not emptied here.
  const hosts = [...new Set(asked)];
  const marked = markDraining(snap, hosts);
  const state = new FleetState(marked, options.mode ?? "bursty");
  const drained = hosts.map((h) => state.hostIndex.get(h)!);
  const restBefore = restSteal(state, drained);
  const before = state.totalSteal();
  const r = drainMoves(state, drained, {
    requireHeadroom: options.requireHeadroom ?? false,
    maxMoves: options.maxMoves ?? Number.POSITIVE_INFINITY,
  });
  const after = state.totalSteal();
  const restAfter = restSteal(state, drained);
  const moves = r.moves.map((m) => ({
    vm: state.vm(m.v).name,
    from: state.vm(m.v).host,
    to: state.hostName(m.t),
    reason: m.reason,
  }));
  const explanation =
    `Drain ${hosts.join(", ")}: ${moves.length} move${moves.length === 1 ? "" : "s"}` +
    `${r.unplaced.length > 0 ? `, ${r.unplaced.length} VM${r.unplaced.length === 1 ? "" : "s"} cannot leave (${r.unplaced.map((u) => u.vm).join(", ")})` : ""}; ` +
    `predicted contention of the rest of the fleet ${fmt(restBefore, 2)} → ${fmt(restAfter, 2)} cores, of the fleet ${fmt(before, 2)} → ${fmt(after, 2)} ` +
    `(${marked.hosts.length} hosts, ${marked.vms.length} VMs; CPU headroom ${options.requireHeadroom ? "required" : "not required"}).`;
  return {
    hosts,
    plan: { version: 1, moves, predicted: { steal_before: round4(before), steal_after: round4(after) }, explanation },
    placements: r.placements,
    unplaced: r.unplaced,
    rest_of_fleet: { steal_before: round4(restBefore), steal_after: round4(restAfter) },
  };
}

function restSteal(state: FleetState, drained: readonly number[]): number {
  let s = 0;
  for (let h = 0; h < state.hostCount; h++) if (!drained.includes(h)) s += state.hostSteal(h);
  return s;
}

export interface DrainMovesResult {
  moves: PolicyMove[];
  placements: DrainPlacement[];
  unplaced: Unplaced[];
}

/**
 * The drain on a planner state whose drained hosts already accept no VMs: applies each move to
 * the state (so the regular planner can go on from there) and returns them in order.
 */
export function drainMoves(
  state: FleetState,
  drained: readonly number[],
  o: { requireHeadroom: boolean; maxMoves: number },
): DrainMovesResult {
  const moves: PolicyMove[] = [];
  const placements: DrainPlacement[] = [];
  const unplaced: Unplaced[] = [];
  const isDrained = new Uint8Array(state.hostCount);
  for (const h of drained) isDrained[h] = 1;
  const leaving: number[] = [];
  for (const h of drained) {
    for (const v of state.hostVms[h]!) {
      if (!state.vm(v).migratable)
        unplaced.push({
          vm: state.vm(v).name,
          host: state.hostName(h),
          reason: `${state.vm(v).name} is not migratable (migratable: false): it stays on ${state.hostName(h)}`,
        });
      else leaving.push(v);
    }
  }
  // Largest first: demand, then memory, then snapshot order.
  leaving.sort(
    (a, b) => state.vmDemand[b]! - state.vmDemand[a]! || state.vm(b).memory_mib - state.vm(a).memory_mib || a - b,
  );
  for (const v of leaving) {
    const vm = state.vm(v);
    const s = state.vmHost[v]!;
    if (moves.length >= o.maxMoves) {
      unplaced.push({
        vm: vm.name,
        host: state.hostName(s),
        reason: `max_moves (${o.maxMoves}) reached before ${vm.name}: drain again to move the rest`,
      });
      continue;
    }
    let best = -1;
    let bestCost = Number.POSITIVE_INFINITY;
    let bestSpare = Number.NEGATIVE_INFINITY;
    let candidates = 0;
    const refusals: string[] = [];
    for (let t = 0; t < state.hostCount; t++) {
      if (t === s) continue;
      if (isDrained[t]) {
        refusals.push(`${state.hostName(t)} is being drained`);
        continue;
      }
      const no = state.refusal(v, t, o.requireHeadroom);
      if (no !== null) {
        refusals.push(no);
        continue;
      }
      candidates++;
      const cost = state.stealWith(t, v) - state.hostSteal(t);
      const spare = state.hostCapacity[t]! - state.hostDemand(t);
      if (cost < bestCost - 1e-9 || (Math.abs(cost - bestCost) <= 1e-9 && spare > bestSpare + 1e-9)) {
        best = t;
        bestCost = cost;
        bestSpare = spare;
      }
    }
    if (best < 0) {
      const why =
        refusals.length === 0
          ? "there is no other host"
          : refusals.slice(0, 5).join("; ") + (refusals.length > 5 ? `; and ${refusals.length - 5} more hosts` : "");
      unplaced.push({ vm: vm.name, host: state.hostName(s), reason: `no host can take ${vm.name}: ${why}` });
      continue;
    }
    const f = forecast(state, v, best, { mode: state.mode, samples: 256 });
    const dBefore = state.hostDemand(best);
    const tgt = state.hostName(best);
    const reason =
      `${state.hostName(s)} is being drained (maintenance); ${vm.name} (${vm.vcpus} vCPU${vm.vcpus === 1 ? "" : "s"}, demand ${fmt(state.vmDemand[v]!, 2)} cores, ${fmt(vm.memory_mib, 0)} MiB) ` +
      `goes where the rest of the fleet is predicted to wait least (${candidates} host${candidates === 1 ? "" : "s"} can take it): ` +
      `on ${tgt} predicted contention ${fmt(f.targetStealBefore, 2)}→${fmt(f.targetStealAfter, 2)} cores (+${fmt(Math.max(0, bestCost), 2)}), ${vm.name} itself waits ${pct(f.vmWaitOnTarget)}; ` +
      `${tgt} demand ${fmt(dBefore, 1)}→${fmt(dBefore + state.vmDemand[v]!, 1)} of ${fmt(state.hostCapacity[best]!, 0)} cores`;
    placements.push({
      vm: vm.name,
      from: state.hostName(s),
      to: tgt,
      target_steal_before: round4(f.targetStealBefore),
      target_steal_after: round4(f.targetStealAfter),
      added_waiting: round4(bestCost),
      candidates,
    });
    moves.push({ v, t: best, reason });
    state.apply(v, best);
  }
  return { moves, placements, unplaced };
}

/** For the regular planner: the moves that drain the snapshot's `drain: true` hosts, and a note. */
export function drainFirst(state: FleetState, maxMoves: number): { moves: PolicyMove[]; notes: string[] } {
  const drained: number[] = [];
  state.snapshot.hosts.forEach((h, i) => {
    if (h.drain === true) drained.push(i);
  });
  if (drained.length === 0) return { moves: [], notes: [] };
  const r = drainMoves(state, drained, { requireHeadroom: false, maxMoves });
  const names = drained.map((h) => state.hostName(h)).join(", ");
  const left = r.unplaced.map((u) => `${u.vm} (${u.reason})`);
  return {
    moves: r.moves,
    notes: [
      `Draining ${names} (maintenance): ${r.moves.length} move${r.moves.length === 1 ? "" : "s"} off it${left.length > 0 ? `; staying: ${left.slice(0, 5).join("; ")}${left.length > 5 ? ` and ${left.length - 5} more` : ""}` : ""}.`,
    ],
  };
}
