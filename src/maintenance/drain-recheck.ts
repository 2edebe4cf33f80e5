/**
 * The recheck before each move of a drain, on fresh data: the drained host is still drained
 * (an undrain stops the drain), the target is not drained now, the VM is still on the host, and
 * the target still takes it by the drain's rules (memory, anti-affinity, width, accepts_vms;
 * CPU headroom only when asked). Unlike a rebalancing move, a drain's move needs no gain.
 */
import { SnapshotError } from "../fleet/errors.js";
import type { FleetSnapshot, PlanMove } from "../model/fleet.js";
import type { Recheck } from "../migrate/executor.js";
import { checkPlan } from "../planner/check.js";
import { applyMaintenance } from "./apply.js";
import { MaintenanceError, type MaintenanceState } from "./state-file.js";

export interface DrainRecheckOptions {
  /** The host being drained. */
  host: string;
  /** The maintenance state now (re-read before every move). */
  maintenance: () => MaintenanceState;
  /** A fresh snapshot, or null for no snapshot check (--no-recheck: only the maintenance state is rechecked). */
  fresh: (() => Promise<FleetSnapshot>) | null;
  requireHeadroom?: boolean;
  /** A snapshot with partial or inconsistent data (a VM just moved) is built again this often, retryDelayMs apart. Default 5, 2000 ms. */
  partialRetries?: number;
  retryDelayMs?: number;
}

export function drainRecheck(o: DrainRecheckOptions): Recheck {
  return async (move) => {
    let state: MaintenanceState;
    try {
      state = o.maintenance();
    } catch (e) {
      return { ok: false, reason: e instanceof Error ? e.message : String(e) };
    }
    if (!Object.hasOwn(state.hosts, o.host))
      return { ok: false, reason: `${o.host} is no longer drained (vsteal undrain): the drain stops` };
    if (Object.hasOwn(state.hosts, move.to))
      return { ok: false, reason: `${move.to} is drained now: it receives nothing` };
    if (!o.fresh) return { ok: true, note: `${o.host} still drained (no fresh snapshot: --no-recheck)` };
    let snap: FleetSnapshot | null = null;
    // A VM the drain just moved is missing from the snapshot until its target's agent has
    // reported it twice (partial data), or is seen on both hosts for a moment (inconsistent
    // data): wait for that a little, rather than skip the next move.
    for (let attempt = 0; snap === null; attempt++) {
      try {
        snap = applyMaintenance(await o.fresh(), state);
      } catch (e) {
        const transient =
          e instanceof SnapshotError && (e.reason === "partial_data" || e.reason === "inconsistent_data");
        if (!transient || attempt >= (o.partialRetries ?? 5))
          return { ok: false, reason: `no fresh data: ${e instanceof Error ? e.message : String(e)}` };
        await new Promise((r) => setTimeout(r, o.retryDelayMs ?? 2000));
      }
    }
    const vm = snap.vms.find((v) => v.name === move.vm);
    if (!vm) return { ok: false, reason: `${move.vm} is not in the fresh snapshot (${snap.time})` };
    if (vm.host !== move.from) return { ok: false, reason: `${move.vm} is on ${vm.host} now, not ${move.from}` };
    if (!snap.hosts.some((h) => h.name === move.to))
      return { ok: false, reason: `${move.to} is not in the fresh snapshot (${snap.time})` };
    const c = checkPlan(
      snap,
      { version: 1, moves: [move], predicted: { steal_before: 0, steal_after: 0 }, explanation: "" },
      "bursty",
      { cpuHeadroom: o.requireHeadroom ?? false },
    );
    if (c.problems.length > 0)
      return {
        ok: false,
        reason: `target no longer takes it: ${c.problems.map((p) => p.replace(/^moves\[0\] \([^)]*\): /, "")).join("; ")}`,
      };
    return {
      ok: true,
      note: `still drained; ${move.to} takes it; predicted contention ${c.stealBefore.toFixed(2)} → ${c.stealAfter.toFixed(2)} cores (snapshot ${snap.time})`,
    };
  };
}

/** For plans made without the maintenance file (`vsteal apply`): a move onto a drained host is refused before anything starts. */
export function refuseDrainedTargets(moves: readonly PlanMove[], state: MaintenanceState, file: string): void {
  for (const [i, m] of moves.entries()) {
    const e = state.hosts[m.to];
    if (e && Object.hasOwn(state.hosts, m.to)) {
      throw new MaintenanceError(
        `move ${i + 1} (${m.vm} ${m.from}→${m.to}): ${m.to} is drained (since ${e.since} by ${e.by}; ${file}): it receives no VM until vsteal undrain ${m.to}; leave the move out`,
      );
    }
  }
}

/** A recheck that first skips a move onto a host drained since the plan was made. */
export function notOntoDrained(recheck: Recheck, maintenance: () => MaintenanceState): Recheck {
  return async (move, index) => {
    try {
      if (Object.hasOwn(maintenance().hosts, move.to))
        return { ok: false, reason: `${move.to} is drained now (maintenance): it receives nothing` };
    } catch (e) {
      return { ok: false, reason: e instanceof Error ? e.message : String(e) };
    }
    return recheck(move, index);
  };
}
