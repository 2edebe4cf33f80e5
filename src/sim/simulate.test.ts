import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FleetValidationError } from "../model/fleet.js";
import { renderReport } from "./report.js";
import { parseScenario } from "./scenario.js";
import { simulate, type SimAudit } from "./simulate.js";
import { Controller } from "../controller/controller.js";
import { parsePlanOptions } from "../planner/options.js";
import { planValidated } from "../planner/plan.js";

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
    expect(() => parseScenario({ ...scenarioJson, steps: -1 })).toThrow("steps: must be at least 1, got -1");
    // Hosts are the fleet snapshot's hosts: the same schema, the same checks, the same words.
    const host = { name: "h", cpus: 2, memory_mib: 1024 };
    const withHosts = (hosts: unknown[]) => ({ ...scenarioJson, hosts, vms: [] });
    expect(() => parseScenario(withHosts([{ ...host, reserved_cpus: 3 }]))).toThrow(
      "hosts[0].reserved_cpus: must be at most cpus (2), got 3",
    );
    expect(() => parseScenario(withHosts([host, host]))).toThrow('hosts[1].name: duplicate host name "h"');
    expect(() => parseScenario(withHosts([{ ...host, cpus: 1e6 }]))).toThrow(
      "hosts[0].cpus: must be at most 8192, got 1000000",
    );
    expect(parseScenario(withHosts([{ ...host, drain: true, vm_cpus: "0-1" }])).hosts).toEqual([
      { name: "h", cpus: 2, memory_mib: 1024, reserved_cpus: 0, accepts_vms: false, drain: true, vm_cpus: "0-1" },
    ]);
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

describe("the simulator plans through the controller's guard", () => {
  it("suppresses exactly what the controller suppresses when fed the same snapshots and told of the same moves", async () => {
    const s = oneDay();
    const audits: SimAudit[] = [];
    const r = simulate(s, "balance-utilisation", { onAudit: (a) => audits.push(a) });
    // This fleet makes the guard work: every rule but blocked pairs fires.
    expect(r.suppressed).toEqual({ vm_cooldown: 8, host_cooldown: 26, cycle: 5, blocked_pair: 0 });
    expect(r.skippedUndo).toBe(5);
    expect(r.migrations).toBe(55);
    expect(audits).toHaveLength(96);

    const stepMs = s.stepS * 1000;
    const planOptions = parsePlanOptions({
      policy: "balance-utilisation",
      minGain: s.controller.minGain,
      model: { mode: "bursty", samples: 256 },
    });
    let next: SimAudit | undefined;
    const c = new Controller({
      snapshot: async () => ({
        snapshot: { ...structuredClone(next!.snapshot), notes: [], sources: {} },
        warnings: [],
        queries: 0,
        durationMs: 0,
      }),
      plan: (snap) => planValidated(snap, planOptions),
      intervalMs: s.controller.everySteps * stepMs,
      guard: {
        vmCooldownMs: s.controller.cooldownSteps * stepMs,
        hostCooldownMs: s.controller.hostCooldownSteps * stepMs,
        cycleAudits: s.controller.cycleAudits,
      },
      dryRun: false,
    });
    for (const a of audits) {
      next = a;
      const rec = await c.audit();
      expect(rec.status).toBe("ok");
      expect(rec.id).toBe(a.audit);
      expect(rec.suppressed).toEqual(a.suppressed);
      expect(rec.plan?.moves).toEqual(a.plan.moves);
      // Apply mode: each move done is recorded when it ends (the simulator's moves are instant).
      const atMs = Date.parse(a.snapshot.time);
      for (const m of a.plan.moves)
        c.ledger.add([{ vm: m.vm, from: m.from, to: m.to, atMs, kind: "observed", audit: c.nextAudit }]);
    }
  });

  it("refuses a move within the VM cooldown and one closing a cycle, as the controller does", () => {
    // Two hosts of 2 CPUs. First a, b and c (1 vCPU each) all want h1: a goes to h2. Then b
    // idles and d (2 vCPUs) wakes up on h2: taking a back to h1 is the only move that helps.
    const scenario = (cooldownSteps: number, cycleAudits: number) =>
      parseScenario({
        version: 1,
        step_s: 60,
        steps: 4,
        controller: {
          every_steps: 1,
          cooldown_steps: cooldownSteps,
          host_cooldown_steps: 0,
          cycle_audits: cycleAudits,
        },
        hosts: [
          { name: "h1", cpus: 2, memory_mib: 4096 },
          { name: "h2", cpus: 2, memory_mib: 4096 },
        ],
        vms: [
          { name: "a", host: "h1", vcpus: 1, memory_mib: 64, demand: [1] },
          { name: "b", host: "h1", vcpus: 1, memory_mib: 64, demand: [1, 1, 0, 0] },
          { name: "c", host: "h1", vcpus: 1, memory_mib: 64, demand: [1] },
          { name: "d", host: "h2", vcpus: 2, memory_mib: 64, demand: [0, 0, 1, 1] },
        ],
      });
    const free = simulate(scenario(0, 0), "contention");
    expect(free.moves.map((m) => `${m.step} ${m.vm} ${m.from}→${m.to}`)).toEqual(["1 a h1→h2", "3 a h2→h1"]);
    const cooled: SimAudit[] = [];
    const withCooldown = simulate(scenario(10, 0), "contention", { onAudit: (a) => cooled.push(a) });
    expect(withCooldown.moves.map((m) => `${m.step} ${m.vm} ${m.from}→${m.to}`)).toEqual(["1 a h1→h2"]);
    expect(cooled[2]!.suppressed.map((x) => `${x.rule} ${x.vm} ${x.from}→${x.to}`)).toContain("vm_cooldown a h2→h1");
    const cycled: SimAudit[] = [];
    const withCycles = simulate(scenario(0, 5), "contention", { onAudit: (a) => cycled.push(a) });
    expect(withCycles.suppressed.cycle).toBeGreaterThan(0);
    expect(cycled[2]!.suppressed.map((x) => `${x.rule} ${x.vm} ${x.from}→${x.to}`)).toContain("cycle a h2→h1");
    expect(withCycles.moves.some((m) => m.step === 3 && m.vm === "a")).toBe(false);
  });
});
