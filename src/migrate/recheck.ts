/**
 * The recheck before each move, on a fresh fleet snapshot: the VM is still where the plan says,
 * the target still takes it (memory, CPU headroom, accepts_vms, anti-affinity — the planner's
 * own rules, via checkPlan) and the move still pays: the contention model predicts at least
 * `minGain` cores less waiting with it than without. Otherwise the move is skipped, with why.
 */
import type { FleetSnapshot, PlanMove } from "../model/fleet.js";
import { checkPlan } from "../planner/check.js";
import type { Recheck } from "./executor.js";

export function snapshotRecheck(fresh: () => Promise<FleetSnapshot>, opts: { minGain?: number } = {}): Recheck {
  const minGain = opts.minGain ?? 0.05;
  return async (move: PlanMove) => {
    let snap: FleetSnapshot;
    try {
      snap = await fresh();
    } catch (e) {
      return { ok: false, reason: `no fresh data: ${e instanceof Error ? e.message : String(e)}` };
    }
    const vm = snap.vms.find((v) => v.name === move.vm);
    if (!vm) return { ok: false, reason: `${move.vm} is not in the fresh snapshot (${snap.time})` };
    if (vm.host !== move.from) return { ok: false, reason: `${move.vm} is on ${vm.host} now, not ${move.from}` };
    if (!snap.hosts.some((h) => h.name === move.to))
      return { ok: false, reason: `${move.to} is not in the fresh snapshot (${snap.time})` };
    const c = checkPlan(snap, {
      version: 1,
      moves: [move],
      predicted: { steal_before: 0, steal_after: 0 },
      explanation: "",
    });
    if (c.problems.length > 0)
      return {
        ok: false,
        reason: `target no longer has room: ${c.problems.map((p) => p.replace(/^moves\[0\] \([^)]*\): /, "")).join("; ")}`,
      };
    const gain = c.stealBefore - c.stealAfter;
    if (gain < minGain) {
      return {
        ok: false,
        reason: `no longer needed: predicted contention ${c.stealBefore.toFixed(2)} → ${c.stealAfter.toFixed(2)} cores, gain ${gain.toFixed(2)} < ${minGain} (snapshot ${snap.time})`,
      };
    }
    return {
      ok: true,
      note: `predicted contention ${c.stealBefore.toFixed(2)} → ${c.stealAfter.toFixed(2)} cores (snapshot ${snap.time})`,
    };
  };
}
