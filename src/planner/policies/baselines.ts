/**
 * Baselines, for comparison. They see what utilisation-based balancers see — CPU use — and
 * obey the same constraints; their plans are scored by the same contention model.
 *
 * - none: no action.
 * - balance-utilisation (VMware DRS, OpenStack Watcher workload_stabilization): while the
 *   standard deviation of host CPU use (fraction of capacity) is above balanceThreshold, make
 *   the move that lowers it most, taking VMs from the most used host that has such a move.
 * - hottest-host (Watcher workload_balance): when a host's CPU use is above hotThreshold, move
 *   one VM off the hottest host — the smallest VM whose removal brings it below the threshold,
 *   else the largest — to the least used host that stays below the threshold. One move per
 *   round (plan).
 */
import type { Policy, PolicyMove } from "../policy.js";
import { forecast, predictionText } from "../reason.js";
import { fmt, pct, type FleetState } from "../state.js";

export const nonePolicy: Policy = () => ({
  moves: [],
  notes: ["Policy none: no action, by design (the do-nothing baseline)."],
});

function util(state: FleetState, h: number): number {
  const c = state.hostCapacity[h]!;
  return c > 0 ? state.hostUsage[h]! / c : 0;
}

function utilStats(state: FleetState): { mean: number; std: number; sum: number; sum2: number; n: number } {
  let sum = 0;
  let sum2 = 0;
  let n = 0;
  for (let h = 0; h < state.hostCount; h++) {
    if (state.hostCapacity[h]! <= 0) continue;
    const u = util(state, h);
    sum += u;
    sum2 += u * u;
    n++;
  }
  const mean = n > 0 ? sum / n : 0;
  return { mean, std: n > 0 ? Math.sqrt(Math.max(0, sum2 / n - mean * mean)) : 0, sum, sum2, n };
}

export const balancePolicy: Policy = (state, ctx) => {
  const { options, maxMoves } = ctx;
  const moves: PolicyMove[] = [];
  const notes: string[] = [];
  const moved = new Uint8Array(state.vmCount);
  let stop = "";
  while (true) {
    const st = utilStats(state);
    if (st.std <= options.balanceThreshold) {
      stop = `Host CPU use is balanced: std dev ${pct(st.std)} ≤ ${pct(options.balanceThreshold)}.`;
      break;
    }
    if (moves.length >= maxMoves) {
      stop = `Stopped at max_moves (${maxMoves}).`;
      break;
    }
    const hosts = Array.from({ length: state.hostCount }, (_, h) => h)
      .filter((h) => state.hostCapacity[h]! > 0 && util(state, h) > st.mean)
      .sort((a, b) => util(state, b) - util(state, a) || a - b);
    let best: { v: number; t: number; std: number } | null = null;
    for (const s of hosts) {
      const cs = state.hostCapacity[s]!;
      for (const v of state.hostVms[s]!) {
        if (moved[v]) continue;
        const u = state.vmUsage[v]!;
        for (let t = 0; t < state.hostCount; t++) {
          const ct = state.hostCapacity[t]!;
          if (ct <= 0 || state.refusal(v, t) !== null) continue;
          const us0 = util(state, s);
          const ut0 = util(state, t);
          const us1 = us0 - u / cs;
          const ut1 = ut0 + u / ct;
          const sum2 = st.sum2 - us0 * us0 - ut0 * ut0 + us1 * us1 + ut1 * ut1;
          const mean = (st.sum - us0 - ut0 + us1 + ut1) / st.n;
          const std = Math.sqrt(Math.max(0, sum2 / st.n - mean * mean));
          if (best === null || std < best.std - 1e-12) best = { v, t, std };
        }
      }
      if (best !== null && best.std < st.std - 1e-4) break;
      best = null;
    }
    if (best === null) {
      stop = `No allowed move lowers the spread of host CPU use (std dev ${pct(st.std)}).`;
      break;
    }
    const { v, t } = best;
    const s = state.vmHost[v]!;
    const f = forecast(state, v, t, options.model);
    const reason =
      `balance-utilisation: ${state.hostName(s)} uses ${pct(util(state, s))} of its ${fmt(state.hostCapacity[s]!, 0)} cores, the fleet ${pct(st.mean)} on average; ` +
      `moving ${state.vm(v).name} (uses ${fmt(state.vmUsage[v]!, 2)} cores) to ${state.hostName(t)} (${pct(util(state, t))}) lowers the std dev of host CPU use ${pct(st.std)}→${pct(best.std)}; ` +
      predictionText(state, v, t, f);
    moves.push({ v, t, reason });
    state.apply(v, t);
    moved[v] = 1;
  }
  notes.push(stop);
  return { moves, notes };
};

export const hottestHostPolicy: Policy = (state, ctx) => {
  const { options, maxMoves } = ctx;
  const threshold = options.hotThreshold;
  if (maxMoves < 1) return { moves: [], notes: ["max_moves is 0."] };
  let hottest = -1;
  for (let h = 0; h < state.hostCount; h++) {
    if (state.hostCapacity[h]! <= 0) continue;
    if (hottest < 0 || util(state, h) > util(state, hottest)) hottest = h;
  }
  if (hottest < 0 || util(state, hottest) <= threshold) {
    return {
      moves: [],
      notes: [
        `No host uses more than ${pct(threshold)} of its CPUs${hottest >= 0 ? ` (the hottest, ${state.hostName(hottest)}, ${pct(util(state, hottest))})` : ""}.`,
      ],
    };
  }
  const s = hottest;
  const cs = state.hostCapacity[s]!;
  const excess = state.hostUsage[s]! - threshold * cs;
  // VMs that could leave, smallest first: the first big enough to cure the host, else the biggest.
  const vms = state.hostVms[s]!.filter((v) => state.vm(v).migratable).sort(
    (a, b) => state.vmUsage[a]! - state.vmUsage[b]! || a - b,
  );
  const enough = vms.filter((v) => state.vmUsage[v]! >= excess);
  const tryOrder = [...enough, ...vms.filter((v) => state.vmUsage[v]! < excess).reverse()];
  const targets = Array.from({ length: state.hostCount }, (_, h) => h)
    .filter((h) => h !== s && state.hostCapacity[h]! > 0)
    .sort((a, b) => util(state, a) - util(state, b) || a - b);
  for (const v of tryOrder) {
    for (const t of targets) {
      if (state.refusal(v, t) !== null) continue;
      const after = (state.hostUsage[t]! + state.vmUsage[v]!) / state.hostCapacity[t]!;
      if (after > threshold) continue;
      const f = forecast(state, v, t, options.model);
      const reason =
        `hottest-host: ${state.hostName(s)} is the hottest host (CPU use ${pct(util(state, s))} > ${pct(threshold)}); ` +
        `${state.vm(v).name} (uses ${fmt(state.vmUsage[v]!, 2)} cores) ${state.vmUsage[v]! >= excess ? "is the smallest VM that brings it below the threshold" : "is the biggest VM that can leave"}; ` +
        `${state.hostName(t)} is the least used host that stays below it (${pct(util(state, t))}→${pct(after)}); ` +
        predictionText(state, v, t, f);
      state.apply(v, t);
      return { moves: [{ v, t, reason }], notes: ["One VM per round, by design."] };
    }
  }
  return {
    moves: [],
    notes: [
      `${state.hostName(s)} is hot (${pct(util(state, s))}) but no VM of it fits on a host that stays below ${pct(threshold)}.`,
    ],
  };
};
