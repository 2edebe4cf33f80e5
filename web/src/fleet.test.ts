/** The fleet view's pure parts: parsing the controller's API, heatmap cells, demand after a plan. */
import { describe, expect, it } from "vitest";
import { roleOf } from "./api.js";
import { demandAfter, fleetWindow, hostPt, orderHosts, parseFleet, type FleetData } from "./fleet.js";

const HOSTILE = "<img src=x onerror=alert(1)>";

describe("the controller's API", () => {
  it("tells the controller from an agent (agents without the field are agents)", () => {
    expect(roleOf({ role: "controller" })).toBe("controller");
    expect(roleOf({ role: "agent" })).toBe("agent");
    expect(roleOf({ status: "ok", sweeps: 3 })).toBe("agent");
    expect(roleOf(null)).toBe("agent");
  });

  it("reads the newest audit, ok or failed, and keeps names as sent", () => {
    const ok = parseFleet.latestAudit({
      audits: [
        {
          audit: 7,
          time: "2026-11-25T12:00:00Z",
          status: "ok",
          dry_run: true,
          plan: {
            version: 1,
            moves: [{ vm: HOSTILE, from: "hv01", to: "hv02", reason: "hv01 is oversubscribed" }],
            predicted: { steal_before: 2.5, steal_after: 0.5 },
            explanation: "x",
          },
          suppressed: [{ vm: "a", from: "hv01", to: "hv03", rule: "host_cooldown", reason: "hv03 received b" }],
          observed_moves: "junk",
        },
      ],
    });
    expect(ok?.audit).toBe(7);
    expect(ok?.time_ms).toBe(Date.parse("2026-11-25T12:00:00Z"));
    expect(ok?.plan?.moves[0]?.vm).toBe(HOSTILE);
    expect(ok?.plan?.steal_before).toBe(2.5);
    expect(ok?.suppressed[0]?.rule).toBe("host_cooldown");
    expect(ok?.observed_moves).toEqual([]);
    const failed = parseFleet.latestAudit({
      audits: [
        {
          audit: 8,
          status: "error",
          plan: null,
          error: { reason: "partial_data", message: "no snapshot: host hv03", missing_hosts: ["hv03", 4] },
        },
      ],
    });
    expect(failed?.status).toBe("error");
    expect(failed?.plan).toBeNull();
    expect(failed?.error).toEqual({
      reason: "partial_data",
      message: "no snapshot: host hv03",
      problems: [],
      missing_hosts: ["hv03"],
    });
    expect(parseFleet.latestAudit({ audits: [] })).toBeNull();
    expect(parseFleet.latestAudit("nonsense")).toBeNull();
  });

  it("reads /api/v1/fleet: compact points, bad ones dropped, missing numbers 0", () => {
    const f = parseFleet.fleet({
      time: 5,
      interval_s: 60,
      audits: [
        { id: 1, time: 1000, status: "ok" },
        { id: 2, time: "x", status: "error" },
      ],
      hosts: [{ name: "hv01", capacity: 4, points: [[1000, 6, 4, 2, 0.5, 4], ["bad"], [2000, null, 4]] }],
      current: null,
    });
    expect(f.audits).toEqual([{ id: 1, time: 1000, ok: true, reason: null, message: null }]);
    expect(f.hosts[0]?.points).toEqual([
      { t: 1000, demand: 6, capacity: 4, contention: 2, throttled: 0.5, usage: 4 },
      { t: 2000, demand: 0, capacity: 4, contention: 0, throttled: 0, usage: 0 },
    ]);
    expect(f.current).toBeNull();
    expect(f.effects).toEqual({ moves: [], blocked: [] });
  });

  it("reads the moves' effects: settling ones first, verdicts with their figures, blocked pairs; junk dropped to nulls", () => {
    const f = parseFleet.fleet({
      effects: {
        pending: [{ plan_id: "audit-3", vm: "b", from: "hv01", to: "hv02", done: 9 }],
        judged: [
          {
            plan_id: "audit-1",
            vm: "a",
            from: "hv01",
            to: "hv02",
            done_ms: 5,
            verdict: "helped",
            before: { from: 1, to: 0 },
            after: { from: 0.02, to: 0.01 },
            predicted: { from: 0, to: "x" },
            reason: "fell",
          },
        ],
        blocked_pairs: [{ from: "hv01", to: "hv03", reason: "did not help" }],
      },
    });
    expect(f.effects.moves.map((m) => [m.vm, m.verdict, m.before, m.after, m.predicted])).toEqual([
      ["b", null, null, null, null],
      ["a", "helped", { from: 1, to: 0 }, { from: 0.02, to: 0.01 }, null],
    ]);
    expect(f.effects.blocked).toEqual([{ from: "hv01", to: "hv03", reason: "did not help" }]);
  });
});

describe("fleet figures", () => {
  it("a host's cell is its waiting per core of capacity, so hosts of any size compare", () => {
    expect(hostPt({ t: 1, demand: 6, capacity: 4, contention: 2, throttled: 0.4, usage: 4 })).toEqual({
      t: 1,
      usage: 1,
      steal: 0.6,
      contention: 0.5,
      throttled: 0.1,
    });
    expect(hostPt({ t: 1, demand: 1, capacity: 0, contention: 0.5, throttled: 0, usage: 0.5 }).steal).toBe(0.5);
  });

  it("demand after the plan: each moved VM takes its demand along", () => {
    const hosts = [
      { name: "hv01", demand: 7, capacity: 4 },
      { name: "hv02", demand: 1, capacity: 16 },
    ].map((x) => ({
      ...x,
      cpus: x.capacity,
      reserved_cpus: 0,
      accepts_vms: true,
      vms: 0,
      vcpus: 0,
      usage: 0,
      contention: 0,
      throttled: 0,
    }));
    const vms = [
      {
        name: "web",
        host: "hv01",
        vcpus: 4,
        usage: 2,
        demand: 3,
        contention: 1,
        throttled: 0,
        max_contention: 0.3,
        cap: null,
        migratable: true,
        platform: null,
      },
    ];
    const after = demandAfter(hosts, vms, [{ vm: "web", from: "hv01", to: "hv02", reason: "" }]);
    expect(after.get("hv01")).toBe(4);
    expect(after.get("hv02")).toBe(4);
  });

  it("the window spans the audits kept, at least ten intervals, up to now; hosts that wait most first", () => {
    const f: FleetData = {
      time: 0,
      interval_s: 60,
      audits: [{ id: 1, time: 1_000_000, ok: true, reason: null, message: null }],
      hosts: [
        {
          name: "b",
          cpus: 8,
          reserved_cpus: 0,
          capacity: 8,
          accepts_vms: true,
          points: [{ t: 1_000_000, demand: 1, capacity: 8, contention: 0, throttled: 0, usage: 1 }],
        },
        {
          name: "a",
          cpus: 4,
          reserved_cpus: 0,
          capacity: 4,
          accepts_vms: true,
          points: [{ t: 1_000_000, demand: 6, capacity: 4, contention: 2, throttled: 0, usage: 4 }],
        },
        { name: "c", cpus: 4, reserved_cpus: 0, capacity: 4, accepts_vms: true, points: [] },
      ],
      current: null,
      effects: { moves: [], blocked: [] },
    };
    expect(fleetWindow(f, 1_030_000)).toEqual({ from: 1_030_000 - 600_000, to: 1_030_000 });
    expect(orderHosts(f.hosts).map((x) => x.name)).toEqual(["a", "b", "c"]);
    expect(fleetWindow({ ...f, audits: [], hosts: [] }, 5_000_000)).toEqual({
      from: 5_000_000 - 600_000,
      to: 5_000_000,
    });
  });
});
