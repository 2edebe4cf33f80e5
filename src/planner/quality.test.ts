/**
 * Plan quality on a few fixed generated fleets (deterministic): the contention policy against
 * the exact optimum and the baselines. Timings and the 50-fleet statistics live in
 * scripts/bench/planner.mjs.
 */
import { describe, expect, it } from "vitest";
import { generateFleet } from "../sim/generate-fleet.js";
import { plan } from "./plan.js";
import { placementCount } from "./policies/optimal.js";

const smallFleet = (seed: number) =>
  generateFleet({
    hosts: 4,
    vmsPerHost: 3,
    seed,
    cpus: 8,
    reservedCpus: 0,
    hotFraction: 0.5,
    hotFactor: 2.5,
    meanDemand: 0.65,
    vcpuChoices: [1, 2, 2, 4],
    maxMoves: 3,
    pinnedFraction: 0.1,
    cappedFraction: 0,
  });

describe("quality against the optimum and the baselines", () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`fleet ${seed}: within 5 % of the optimum's steal removed, at most one migration more; never worse than none`, () => {
      const s = smallFleet(seed);
      const ours = plan(s, { policy: "contention", minGain: 0.02 });
      const best = plan(s, { policy: "optimal", minGain: 0.02 });
      const before = ours.predicted.steal_before;
      expect(best.predicted.steal_before).toBe(before);
      const removedOurs = before - ours.predicted.steal_after;
      const removedBest = before - best.predicted.steal_after;
      // The optimum (with the same per-move price) is at least as good.
      expect(best.predicted.steal_after + 0.02 * best.moves.length).toBeLessThanOrEqual(
        ours.predicted.steal_after + 0.02 * ours.moves.length + 1e-3,
      );
      expect(removedOurs).toBeGreaterThanOrEqual(0.95 * removedBest - 1e-3);
      expect(ours.moves.length).toBeLessThanOrEqual(best.moves.length + 1);
    });
  }

  it("removes more steal per migration than utilisation balancing, summed over the fleets", () => {
    let ours = 0;
    let oursMoves = 0;
    let balance = 0;
    let balanceMoves = 0;
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
      const s = smallFleet(seed);
      const a = plan(s, { policy: "contention", minGain: 0.02 });
      const b = plan(s, { policy: "balance-utilisation" });
      ours += a.predicted.steal_before - a.predicted.steal_after;
      oursMoves += a.moves.length;
      balance += b.predicted.steal_before - b.predicted.steal_after;
      balanceMoves += b.moves.length;
    }
    expect(oursMoves).toBeGreaterThan(0);
    expect(ours / oursMoves).toBeGreaterThan(balance / Math.max(1, balanceMoves));
  });

  it("the optimal policy refuses instances too large to search", () => {
    const s = generateFleet({ hosts: 30, vmsPerHost: 10, seed: 1, maxMoves: 5, hotFraction: 0.5, hotFactor: 3 });
    expect(placementCount(300, 30, 5)).toBeGreaterThan(1e12);
    expect(() => plan(s, { policy: "optimal" })).toThrow(/optimal policy would have to score/);
  });
});
