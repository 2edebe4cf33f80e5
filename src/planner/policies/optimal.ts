/**
 * The exact optimum of the contention objective, by exhaustive search, for small fleets.
 *
 * As in the contention policy, nothing moves unless some vCPU measurably waits at least
 * minContention for other load. Objective: predicted fleet contention after the plan + minGain × number of moves (a move must
 * earn its keep, as in the contention policy); ties go to fewer moves, then to the first found.
 * Every placement reachable with at most max_moves moves of migratable VMs (not held back by
 * their own cap, as in the contention policy) is scored; for the
 * best ones an order is sought in which every move is allowed on the placement the previous
 * ones leave (memory, CPU, accepts_vms, anti-affinity). Placements with more combinations than
 * optimalLimit are refused with an error rather than searched for hours.
 */
import type { Policy, PolicyMove } from "../policy.js";
import { contentionReason, forecast } from "../reason.js";
import { fmt, pct, type FleetState } from "../state.js";
import { StealAccumulator } from "../../model/contention.js";

export class OptimalTooLargeError extends Error {
  constructor(placements: number, limit: number) {
    super(
      `the optimal policy would have to score ${placements.toExponential(2)} placements (limit ${limit}): use it on smaller fleets or a lower max_moves`,
    );
    this.name = "OptimalTooLargeError";
  }
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** How many placements the search visits: Σ_k C(n, k)·(hosts − 1)^k. */
export function placementCount(movable: number, hosts: number, maxMoves: number): number {
  let total = 0;
  for (let k = 0; k <= Math.min(maxMoves, movable); k++)
    total += binomial(movable, k) * Math.pow(Math.max(0, hosts - 1), k);
  return total;
}

interface Move {
  v: number;
  t: number;
}

export const optimalPolicy: Policy = (state, ctx) => {
  const { options } = ctx;
  const H = state.hostCount;
  // Only contention is a reason to move, here too.
  let contended = false;
  for (let h = 0; h < H && !contended; h++) contended = state.measuredContention(h).max >= options.minContention;
  if (!contended)
    return {
      moves: [],
      notes: [`No vCPU waits ${pct(options.minContention)} or more for other load: nothing to relieve.`],
    };
  const movable: number[] = [];
  for (let v = 0; v < state.vmCount; v++)
    if (state.vm(v).migratable && !state.heldByCap(v, options.minContention)) movable.push(v);
  const maxMoves = Math.min(ctx.maxMoves, movable.length);
  const count = placementCount(movable.length, H, maxMoves);
  if (count > options.optimalLimit) throw new OptimalTooLargeError(count, options.optimalLimit);

  // Host contention by content, cached: key = sorted VM indices.
  const cache = new Map<string, number>();
  const content: number[][] = state.hostVms.map((l) => l.slice());
  const stealOf = (h: number): number => {
    const list = content[h]!.slice().sort((a, b) => a - b);
    const key = `${h}:${list.join(",")}`;
    let s = cache.get(key);
    if (s === undefined) {
      const acc = new StealAccumulator(state.hostCapacity[h]!, state.mode);
      for (const v of list) acc.addAll(state.vmDemands[v]!);
      s = acc.steal();
      cache.set(key, s);
    }
    return s;
  };
  const hostSteal = Array.from({ length: H }, (_, h) => stealOf(h));
  let current = hostSteal.reduce((a, b) => a + b, 0);
  const base = current;

  let bestCost = base;
  let bestMoves: Move[] = [];
  let bestOrder: Move[] = [];
  const chosen: Move[] = [];

  const consider = (): void => {
    const cost = current + options.minGain * chosen.length;
    if (cost < bestCost - 1e-12 || (Math.abs(cost - bestCost) <= 1e-12 && chosen.length < bestMoves.length)) {
      const order = feasibleOrder(state, chosen);
      if (order !== null) {
        bestCost = cost;
        bestMoves = chosen.slice();
        bestOrder = order;
      }
    }
  };

  const place = (v: number, from: number, to: number): void => {
    const lf = content[from]!;
    lf.splice(lf.indexOf(v), 1);
    content[to]!.push(v);
    const sf = stealOf(from);
    const st = stealOf(to);
    current += sf - hostSteal[from]! + st - hostSteal[to]!;
    hostSteal[from] = sf;
    hostSteal[to] = st;
  };

  const dfs = (i: number): void => {
    if (i === movable.length || chosen.length === maxMoves) {
      consider();
      return;
    }
    dfs(i + 1); // stays
    const v = movable[i]!;
    const from = state.vmHost[v]!;
    for (let t = 0; t < H; t++) {
      if (t === from) continue;
      // Static refusals (never allowed whatever else moves) prune early.
      const host = state.snapshot.hosts[t]!;
      if (!host.accepts_vms || state.vm(v).memory_mib > host.memory_mib || state.vm(v).vcpus > state.hostCapacity[t]!)
        continue;
      const saved = current;
      const sf = hostSteal[from]!;
      const stt = hostSteal[t]!;
      place(v, from, t);
      chosen.push({ v, t });
      dfs(i + 1);
      chosen.pop();
      // undo
      const lt = content[t]!;
      lt.splice(lt.indexOf(v), 1);
      content[from]!.push(v);
      hostSteal[from] = sf;
      hostSteal[t] = stt;
      current = saved;
    }
  };
  dfs(0);

  const moves: PolicyMove[] = [];
  for (const m of bestOrder) {
    const f = forecast(state, m.v, m.t, options.model);
    moves.push({
      v: m.v,
      t: m.t,
      reason: `optimal (best of ${count} placements): ${contentionReason(state, m.v, m.t, f)}`,
    });
    state.apply(m.v, m.t);
  }
  return {
    moves,
    notes: [
      `Exhaustive search over ${count} placements (at most ${maxMoves} moves), objective: predicted contention + ${fmt(options.minGain, 2)} cores per move; best ${fmt(bestCost, 3)} with ${bestMoves.length} moves.`,
    ],
  };
};

/**
 * An order of the moves in which each is allowed on the placement the earlier ones leave, or
 * null. Tries every order (plans here are short). The state is left as it was.
 */
export function feasibleOrder(state: FleetState, moves: readonly Move[]): Move[] | null {
  if (moves.length === 0) return [];
  const from = moves.map((m) => state.vmHost[m.v]!);
  const used = new Uint8Array(moves.length);
  const order: number[] = [];
  const found: { order: number[] | null } = { order: null };
  const rec = (): void => {
    if (order.length === moves.length) {
      found.order = order.slice();
      return;
    }
    for (let i = 0; i < moves.length && found.order === null; i++) {
      if (used[i]) continue;
      const m = moves[i]!;
      if (state.refusal(m.v, m.t) !== null) continue;
      state.apply(m.v, m.t);
      used[i] = 1;
      order.push(i);
      rec();
      order.pop();
      used[i] = 0;
      state.apply(m.v, from[i]!);
    }
  };
  rec();
  return found.order === null ? null : found.order.map((i) => moves[i]!);
}
