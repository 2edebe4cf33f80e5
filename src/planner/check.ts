/**
 * Checks a plan against its snapshot as the format requires: moves in order, each allowed on
 * the placement the earlier ones leave (the VM is where `from` says, memory, CPU,
 * accepts_vms, migratable, anti-affinity), no more than max_moves. For tests, and for anyone
 * about to execute a plan they did not make.
 */
import type { FleetSnapshot, Plan } from "../model/fleet.js";
import type { ModelMode } from "../model/contention.js";
import { FleetState } from "./state.js";

export interface PlanCheck {
  /** Empty when the plan is valid. */
  problems: string[];
  /** Predicted contention before and after the moves that could be applied, cores. */
  stealBefore: number;
  stealAfter: number;
}

/** `cpuHeadroom: false`: a drain's plan, whose targets may be busy (see drain.ts). */
export function checkPlan(
  snapshot: FleetSnapshot,
  plan: Plan,
  mode: ModelMode = "bursty",
  opts: { cpuHeadroom?: boolean } = {},
): PlanCheck {
  const state = new FleetState(snapshot, mode);
  const stealBefore = state.totalSteal();
  const problems: string[] = [];
  const max = snapshot.constraints.max_moves;
  if (max !== null && plan.moves.length > max) problems.push(`${plan.moves.length} moves, max_moves is ${max}`);
  plan.moves.forEach((m, i) => {
    const v = state.vmIndex.get(m.vm);
    const t = state.hostIndex.get(m.to);
    const where = `moves[${i}] (${m.vm} ${m.from}→${m.to})`;
    if (v === undefined) return problems.push(`${where}: unknown VM`);
    if (t === undefined) return problems.push(`${where}: unknown host ${m.to}`);
    const at = state.hostName(state.vmHost[v]!);
    if (at !== m.from) return problems.push(`${where}: the VM is on ${at}`);
    const refusal = state.refusal(v, t, opts.cpuHeadroom ?? true);
    if (refusal !== null) return problems.push(`${where}: ${refusal}`);
    state.apply(v, t);
    return undefined;
  });
  return { problems, stealBefore, stealAfter: state.totalSteal() };
}
