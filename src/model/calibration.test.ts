/**
 * Replays the calibration recorded on the real testbed (scripts/calibrate/run.mjs →
 * test/fixtures/fleet/calibration.json) through the contention model as it is now, and holds
 * the model to its measured accuracy: the mean absolute error of the predicted per-vCPU delay,
 * in percentage points, per experiment and over all of them.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { predictHost, type ModelMode } from "./contention.js";

interface MeasuredVm {
  name: string;
  usage: number[];
  delay: number[];
}
interface Experiment {
  name: string;
  title: string;
  cpus: number;
  background_cores: number;
  capacity: number;
  vms: MeasuredVm[];
  others: MeasuredVm[];
}
interface Calibration {
  experiments: Experiment[];
}

/** Bounds, percentage points (docs/planner.md states them). */
const MAX_EXPERIMENT_MAE_PP = 10;
const MAX_MEAN_MAE_PP = 3;

const calibration = JSON.parse(
  readFileSync(new URL("../../test/fixtures/fleet/calibration.json", import.meta.url), "utf8"),
) as Calibration;

/** Mean absolute error (pp) of the predicted delay of our vCPUs, the model fed what a snapshot carries. */
function replay(e: Experiment, mode: ModelMode): number {
  const all = [...e.vms, ...e.others];
  const p = predictHost(
    e.capacity,
    all.map((v) => ({ id: v.name, vcpus: v.usage.map((u, i) => ({ demand: u + v.delay[i]! })) })),
    { mode },
  );
  const errors = e.vms.flatMap((v, j) => v.delay.map((d, i) => Math.abs(p.vms[j]!.delay[i]! - d)));
  return (100 * errors.reduce((a, b) => a + b, 0)) / errors.length;
}

describe("contention model against the testbed measurements", () => {
  it("has experiments with 1-, 2- and 3-vCPU VMs, spinning and duty-cycled", () => {
    expect(calibration.experiments.length).toBeGreaterThanOrEqual(8);
    const sizes = new Set(calibration.experiments.flatMap((e) => e.vms.map((v) => v.usage.length)));
    expect([...sizes].sort()).toEqual([1, 2, 3]);
  });

  for (const e of calibration.experiments) {
    it(`${e.name} (${e.title}): MAE ≤ ${MAX_EXPERIMENT_MAE_PP} pp`, () => {
      expect(replay(e, "bursty")).toBeLessThanOrEqual(MAX_EXPERIMENT_MAE_PP);
    });
  }

  it(`mean MAE over all experiments ≤ ${MAX_MEAN_MAE_PP} pp, and no worse than the fluid variant`, () => {
    const bursty = calibration.experiments.map((e) => replay(e, "bursty"));
    const fluid = calibration.experiments.map((e) => replay(e, "fluid"));
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(bursty)).toBeLessThanOrEqual(MAX_MEAN_MAE_PP);
    expect(mean(bursty)).toBeLessThanOrEqual(mean(fluid) + 0.1);
  });
});
