import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatPlanJson, parsePlan, parseSnapshot, type FleetSnapshot } from "../model/fleet.js";
import { generateFleet } from "../sim/generate-fleet.js";
import { checkPlan } from "./check.js";
import { POLICIES } from "./options.js";
import { plan } from "./plan.js";

const DIR = new URL("../../test/fixtures/fleet/", import.meta.url);
const load = (name: string): FleetSnapshot =>
  parseSnapshot(JSON.parse(readFileSync(new URL(`${name}.json`, DIR), "utf8")));
const snapshotFixtures = readdirSync(DIR)
  .filter((f) => f.endsWith(".json") && !f.startsWith("scenario") && f !== "calibration.json")
  .map((f) => f.replace(/\.json$/, ""));

/** The crowded fixture, changed by `edit` (on a deep copy). */
function crowded(edit: (s: FleetSnapshot) => void = () => {}): FleetSnapshot {
  const s = structuredClone(load("crowded-calm"));
  edit(s);
  return s;
}
const vm = (s: FleetSnapshot, name: string) => s.vms.find((v) => v.name === name)!;
const host = (s: FleetSnapshot, name: string) => s.hosts.find((h) => h.name === name)!;

describe("plan on the fixtures", () => {
  it("the doc's example: one host, nowhere to go, an empty plan", () => {
    const p = plan(load("example"));
    expect(p.moves).toEqual([]);
    expect(p.predicted).toEqual({ steal_before: 0, steal_after: 0 });
  });

  it("the crowded host's VM moves to the calm one, and the fleet is predicted to wait less", () => {
    const s = crowded();
    const p = plan(s);
    expect(p.moves.length).toBeGreaterThanOrEqual(1);
    expect(p.moves[0]).toMatchObject({ from: "hv01", to: "hv02" });
    expect(p.predicted.steal_before).toBeGreaterThan(2.5);
    expect(p.predicted.steal_after).toBeLessThan(0.5);
    // The reason carries numbers a person can check.
    expect(p.moves[0]!.reason).toMatch(
      /^hv01 is oversubscribed \(demand 16\.7 of 14 cores; .*\); \S+ waits [\d.]+ % .*; on hv02 predicted wait [\d.]+ %, hv02 demand 0\.6→[\d.]+ of 14 cores; predicted contention hv01 2\.80→/,
    );
  });

  it("a throttled-only VM never moves (its delay is its own cap)", () => {
    for (const policy of ["contention", "optimal", "hottest-host"] as const) {
      const p = plan(load("throttled-only"), { policy });
      expect(p.moves).toEqual([]);
    }
    expect(plan(load("throttled-only")).explanation).toMatch(
      /Throttled delay .* is never a reason to move: 1\.59 cores on capped-1/,
    );
  });

  it("throttled delay on a crowded host is not counted as contention", () => {
    // Turn all of web-2's delay into throttling: it waits for nothing but its own cap.
    const s = crowded((x) => {
      const w = vm(x, "web-2");
      w.throttled = w.delay.slice();
      w.cap = 0.8;
    });
    const p = plan(s);
    expect(p.moves.map((m) => m.vm)).not.toContain("web-2");
  });

  it("every plan of every policy validates against the format and checks out move by move", () => {
    for (const name of snapshotFixtures) {
      for (const policy of POLICIES) {
        const s = load(name);
        const p = plan(s, { policy });
        expect(parsePlan(JSON.parse(formatPlanJson(p)))).toEqual(p);
        const check = checkPlan(s, p);
        expect(check.problems, `${name} ${policy}`).toEqual([]);
        expect(check.stealAfter).toBeCloseTo(p.predicted.steal_after, 3);
      }
    }
  });

  it("is deterministic: the same input gives byte-identical JSON", () => {
    const s = generateFleet({ hosts: 40, vmsPerHost: 12, seed: 3, cpus: 16, maxMoves: 10 });
    for (const policy of POLICIES.filter((p) => p !== "optimal")) {
      const a = formatPlanJson(plan(structuredClone(s), { policy }));
      const b = formatPlanJson(plan(JSON.parse(JSON.stringify(s)), { policy }));
      expect(a).toBe(b);
    }
  });
});

describe("constraints", () => {
  it("memory: a target without room is never chosen", () => {
    const s = crowded((x) => {
      host(x, "hv02").memory_mib = 4096 + 2048; // app-1 uses 4096: only 2 GiB left
    });
    const p = plan(s);
    expect(p.moves.length).toBeGreaterThan(0);
    for (const m of p.moves) expect(m.to).not.toBe("hv02");
    expect(checkPlan(s, p).problems).toEqual([]);
  });

  it("accepts_vms: false hosts receive nothing", () => {
    const s = crowded((x) => {
      host(x, "hv02").accepts_vms = false;
    });
    const p = plan(s);
    expect(p.moves.length).toBeGreaterThan(0);
    for (const m of p.moves) expect(m.to).not.toBe("hv02");
  });

  it("migratable: false VMs stay", () => {
    const s = crowded((x) => {
      for (const v of x.vms) if (v.name !== "batch-1") v.migratable = false;
    });
    const p = plan(s);
    expect(p.moves.map((m) => m.vm)).toEqual(["batch-1"]);
  });

  it("anti-affinity: no two members end on one host", () => {
    // app-1 is on hv02, the calm host: none of its group mates may join it.
    const s = crowded((x) => {
      x.constraints.anti_affinity = ["db-1", "web-1", "web-2", "batch-1", "batch-2"].map((n) => ["app-1", n]);
    });
    const p = plan(s);
    expect(p.moves.length).toBeGreaterThan(0);
    for (const m of p.moves) if (vm(s, m.vm).host === "hv01") expect(m.to).not.toBe("hv02");
    expect(checkPlan(s, p).problems).toEqual([]);
    // Without the groups, hv02 is the first choice.
    expect(plan(crowded()).moves[0]!.to).toBe("hv02");
  });

  it("max_moves: the snapshot's and the option's, whichever is smaller", () => {
    const s = generateFleet({ hosts: 30, vmsPerHost: 12, seed: 5, cpus: 16, hotFraction: 0.3, maxMoves: 3 });
    expect(plan(s).moves).toHaveLength(3);
    expect(plan(s, { maxMoves: 1 }).moves).toHaveLength(1);
    expect(plan({ ...s, constraints: { ...s.constraints, max_moves: 0 } }).moves).toHaveLength(0);
  });

  it("CPU: a target is never pushed past its capacity in demand", () => {
    const s = crowded((x) => {
      // hv02 shrinks to 6 cores; app-1 takes 0.6: nothing of more than 5.4 cores fits.
      host(x, "hv02").cpus = 8;
    });
    const p = plan(s);
    expect(checkPlan(s, p).problems).toEqual([]);
  });
});

describe("only contention is a reason, and every move must pay", () => {
  it("each move lowers the fleet's predicted contention by at least minGain", () => {
    const s = generateFleet({ hosts: 60, vmsPerHost: 14, seed: 11, cpus: 24, hotFraction: 0.25 });
    for (const minGain of [0.05, 0.3]) {
      const p = plan(s, { minGain });
      let state = structuredClone(s);
      let before = checkPlan(state, { ...p, moves: [] }).stealBefore;
      for (const m of p.moves) {
        const one = { ...p, moves: [m] };
        const c = checkPlan(state, one);
        expect(c.problems).toEqual([]);
        expect(before - c.stealAfter).toBeGreaterThanOrEqual(minGain - 1e-9);
        state = { ...state, vms: state.vms.map((v) => (v.name === m.vm ? { ...v, host: m.to } : v)) };
        before = c.stealAfter;
      }
    }
  });

  it("a move that would hurt the target more than it helps the source is never made", () => {
    // hv01 is mildly contended; the only other host is nearly full: moving anything there
    // makes its VMs wait more than it saves.
    const s: FleetSnapshot = {
      version: 1,
      time: "2026-11-25T12:00:00Z",
      window_s: 300,
      hosts: [
        { name: "hv01", cpus: 8, memory_mib: 65536, reserved_cpus: 0, accepts_vms: true },
        { name: "hv02", cpus: 8, memory_mib: 65536, reserved_cpus: 0, accepts_vms: true },
      ],
      vms: [
        {
          name: "a",
          uuid: null,
          host: "hv01",
          vcpus: 4,
          memory_mib: 1024,
          usage: [0.8, 0.8, 0.8, 0.8],
          delay: [0.05, 0.05, 0.05, 0.05],
          throttled: [0, 0, 0, 0],
          cap: null,
          migratable: true,
        },
        {
          name: "b",
          uuid: null,
          host: "hv01",
          vcpus: 4,
          memory_mib: 1024,
          usage: [0.8, 0.8, 0.8, 0.8],
          delay: [0.05, 0.05, 0.05, 0.05],
          throttled: [0, 0, 0, 0],
          cap: null,
          migratable: true,
        },
        {
          name: "c",
          uuid: null,
          host: "hv02",
          vcpus: 4,
          memory_mib: 1024,
          usage: [0.7, 0.7, 0.7, 0.7],
          delay: [0.01, 0.01, 0.01, 0.01],
          throttled: [0, 0, 0, 0],
          cap: null,
          migratable: true,
        },
      ],
      constraints: { max_moves: null, anti_affinity: [] },
    };
    const p = plan(s, { minGain: 0 });
    expect(p.moves).toEqual([]);
    expect(p.predicted.steal_after).toBe(p.predicted.steal_before);
  });

  it("a calm fleet gets an empty plan", () => {
    const s = generateFleet({ hosts: 20, vmsPerHost: 6, seed: 2, cpus: 32, hotFraction: 0, meanDemand: 0.2 });
    expect(plan(s).moves).toEqual([]);
  });
});
