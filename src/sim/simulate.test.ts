import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FleetValidationError } from "../model/fleet.js";
import { renderReport } from "./report.js";
import { parseScenario } from "./scenario.js";
import { simulate } from "./simulate.js";

const scenarioJson = JSON.parse(
  readFileSync(new URL("../../test/fixtures/fleet/scenario-daily.json", import.meta.url), "utf8"),
) as Record<string, unknown>;
/** The fixture scenario, shortened to one day for speed. */
const oneDay = () => parseScenario({ ...scenarioJson, steps: 288 });

describe("scenarios", () => {
  it("generates deterministic demand traces within [0, 1]", () => {
    const a = oneDay();
    const b = oneDay();
    expect(a.vms[3]!.demand[100]).toEqual(b.vms[3]!.demand[100]);
    for (const vm of a.vms) for (const step of vm.demand) for (const d of step) expect(d >= 0 && d <= 1).toBe(true);
    expect(a.vms).toHaveLength(57);
  });

  it("takes explicit traces, per step or per step and vCPU, repeated to the length", () => {
    const s = parseScenario({
      version: 1,
      step_s: 60,
      steps: 5,
      hosts: [{ name: "h", cpus: 2, memory_mib: 1024 }],
      vms: [
        { name: "a", host: "h", vcpus: 2, memory_mib: 64, demand: [0.1, 0.9] },
        { name: "b", host: "h", vcpus: 2, memory_mib: 64, demand: [[0.2, 0.3]] },
      ],
    });
    expect(Array.from(s.vms[0]!.demand[2]!)).toEqual([0.1, 0.1]);
    expect(Array.from(s.vms[0]!.demand[3]!)).toEqual([0.9, 0.9]);
    expect(Array.from(s.vms[1]!.demand[4]!)).toEqual([0.2, 0.3]);
  });

  it("refuses bad scenarios naming the field", () => {
    const bad = structuredClone(scenarioJson) as { vms: { host: string }[] };
    bad.vms[2]!.host = "nowhere";
    expect(() => parseScenario(bad)).toThrow(FleetValidationError);
    expect(() => parseScenario(bad)).toThrow('vms[2].host: unknown host "nowhere" (not in hosts)');
    expect(() => parseScenario({ ...scenarioJson, steps: -1 })).toThrow("steps: must be ≥ 1, got -1");
  });
});

describe("simulate", () => {
  it("is deterministic", () => {
    const s = oneDay();
    expect(simulate(s, "contention")).toEqual(simulate(s, "contention"));
  });

  it("the contention policy removes most of the steal and time in alert, with fewer migrations than utilisation balancing", () => {
    const s = oneDay();
    const none = simulate(s, "none");
    const ours = simulate(s, "contention");
    const balance = simulate(s, "balance-utilisation");
    expect(none.migrations).toBe(0);
    expect(none.stealCoreHours).toBeGreaterThan(50);
    expect(ours.stealCoreHours).toBeLessThan(0.1 * none.stealCoreHours);
    expect(ours.hoursAboveThreshold).toBeLessThan(0.2 * none.hoursAboveThreshold);
    expect(ours.migrations).toBeGreaterThan(0);
    expect(ours.migrations).toBeLessThan(balance.migrations);
    // Every migration respects the controller's cooldown: no VM moves twice within 12 steps.
    const last = new Map<string, number>();
    for (const m of ours.moves) {
      const prev = last.get(m.vm);
      if (prev !== undefined) expect(m.step - prev).toBeGreaterThan(12);
      last.set(m.vm, m.step);
    }
    expect(ours.series.contention).toHaveLength(288);
  });

  it("renders a self-contained HTML report with inline SVG plots", () => {
    const s = parseScenario({ ...scenarioJson, steps: 36 });
    const results = [simulate(s, "none"), simulate(s, "contention")];
    const html = renderReport(
      {
        scenario: s.name,
        hosts: s.hosts.length,
        vms: s.vms.length,
        steps: s.steps,
        stepS: s.stepS,
        everySteps: 3,
        alertThreshold: 0.05,
      },
      results,
    );
    expect(html).toMatch(/^<!doctype html>/);
    expect(html.match(/<svg /g)).toHaveLength(3);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html).toContain("<td>contention</td>");
  });
});
