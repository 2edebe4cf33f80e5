import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseSnapshot, type FleetSnapshot } from "../model/fleet.js";
import { checkPlan } from "./check.js";
import { DrainError, markDraining, planDrain } from "./drain.js";
import { plan } from "./plan.js";
import { FleetState } from "./state.js";

/** Spinning vCPUs (demand exactly 1) make the model's numbers exact: k vCPUs on C cores wait max(0, k − C). */
const spin = (name: string, host: string, vcpus: number, memory_mib: number, extra: Record<string, unknown> = {}) => ({
  name,
  host,
  vcpus,
  memory_mib,
  usage: Array<number>(vcpus).fill(1),
  delay: Array<number>(vcpus).fill(0),
  ...extra,
});

function fleet(
  edit: (
    s: Record<string, unknown> & { vms: unknown[]; constraints: { anti_affinity: string[][] } },
  ) => void = () => {},
) {
  const s = {
    version: 1,
    time: "2026-12-01T12:00:00Z",
    window_s: 300,
    hosts: [
      { name: "A", cpus: 4, memory_mib: 65536 },
      { name: "B", cpus: 2, memory_mib: 16384 },
      { name: "C", cpus: 3, memory_mib: 8192 },
      { name: "D", cpus: 8, memory_mib: 65536, accepts_vms: false },
    ],
    vms: [
      spin("big", "A", 2, 8192),
      spin("small", "A", 1, 1024),
      spin("pinned", "A", 1, 1024, { migratable: false }),
      spin("b1", "B", 1, 4096),
      spin("c1", "C", 2, 4096),
    ],
    constraints: { max_moves: 1, anti_affinity: [] as string[][] },
  };
  edit(s);
  return s;
}

describe("planDrain", () => {
  it("places each VM where the rest of the fleet waits least, within memory; names the one that cannot leave", () => {
    const r = planDrain(fleet(), "A");
    // big (2 vCPUs, 8192 MiB) first: C has only 4096 MiB free, D accepts no VMs, so B (3 vCPUs on 2 cores: +1.00;
    // CFS shares the 2 cores per VM, so big's 2 vCPUs get half a core each and wait 50 %).
    // small then: B would wait 2 (+1.00), C 3 vCPUs on 3 cores (+0.00): C.
    expect(r.plan.moves.map((m) => [m.vm, m.from, m.to])).toEqual([
      ["big", "A", "B"],
      ["small", "A", "C"],
    ]);
    expect(r.placements).toEqual([
      { vm: "big", from: "A", to: "B", target_steal_before: 0, target_steal_after: 1, added_waiting: 1, candidates: 1 },
      {
        vm: "small",
        from: "A",
        to: "C",
        target_steal_before: 0,
        target_steal_after: 0,
        added_waiting: 0,
        candidates: 2,
      },
    ]);
    expect(r.unplaced).toEqual([
      { vm: "pinned", host: "A", reason: "pinned is not migratable (migratable: false): it stays on A" },
    ]);
    expect(r.rest_of_fleet).toEqual({ steal_before: 0, steal_after: 1 });
    expect(r.plan.predicted).toEqual({ steal_before: 0, steal_after: 1 });
    expect(r.plan.moves[0]!.reason).toBe(
      "A is being drained (maintenance); big (2 vCPUs, demand 2.00 cores, 8192 MiB) goes where the rest of the fleet is predicted to wait least (1 host can take it): " +
        "on B predicted contention 0.00→1.00 cores (+1.00), big itself waits 50 %; B demand 1.0→3.0 of 2 cores",
    );
    expect(r.plan.explanation).toMatch(
      /^Drain A: 2 moves, 1 VM cannot leave \(pinned\); predicted contention of the rest of the fleet 0\.00 → 1\.00 cores/,
    );
    // The snapshot's max_moves (1) is for rebalancing: a drain is not cut short by it.
  });

  it("with CPU headroom required, a VM that fits nowhere is named with every host's reason", () => {
    const r = planDrain(fleet(), "A", { requireHeadroom: true });
    // small: B and C both take it without waiting (+0.00) and keep 1 core spare: the first, B.
    expect(r.plan.moves.map((m) => [m.vm, m.to])).toEqual([["small", "B"]]);
    expect(r.unplaced.map((u) => u.vm)).toEqual(["pinned", "big"]);
    expect(r.unplaced[1]!.reason).toBe(
      "no host can take big: B would be oversubscribed (demand 3.0 of 2 cores); C has 4096 MiB free, big needs 8192; D accepts no VMs",
    );
  });

  it("anti-affinity: small may not join c1 on C, so it goes to B although B waits more", () => {
    const r = planDrain(
      fleet((s) => {
        s.constraints.anti_affinity = [["small", "c1"]];
      }),
      "A",
    );
    expect(r.placements.map((p) => [p.vm, p.to, p.added_waiting])).toEqual([
      ["big", "B", 1],
      ["small", "B", 1],
    ]);
    expect(r.rest_of_fleet.steal_after).toBe(2);
  });

  it("maxMoves: the rest is named; several hosts drained at once never receive from each other", () => {
    const r = planDrain(fleet(), "A", { maxMoves: 1 });
    expect(r.plan.moves.map((m) => m.vm)).toEqual(["big"]);
    expect(r.unplaced.find((u) => u.vm === "small")!.reason).toMatch(/^max_moves \(1\) reached before small/);
    // A host the snapshot already marks drain: true receives nothing, and is not emptied by another host's drain.
    const alreadyB = planDrain(
      fleet((x) => {
        (x.hosts as Array<Record<string, unknown>>)[1]!.drain = true;
      }),
      "A",
    );
    expect(alreadyB.hosts).toEqual(["A"]);
    expect(alreadyB.plan.moves.map((m) => [m.vm, m.from, m.to])).toEqual([["small", "A", "C"]]);
    expect(alreadyB.unplaced.find((u) => u.vm === "big")!.reason).toBe(
      "no host can take big: B accepts no VMs; C has 4096 MiB free, big needs 8192; D accepts no VMs",
    );
    const two = planDrain(fleet(), ["A", "B"]);
    expect(two.plan.moves.every((m) => m.to === "C")).toBe(true);
    expect(two.unplaced.find((u) => u.vm === "big")!.reason).toBe(
      "no host can take big: B is being drained; C has 4096 MiB free, big needs 8192; D accepts no VMs",
    );
  });

  it("refuses an unknown host with the hosts it knows", () => {
    expect(() => planDrain(fleet(), "Z")).toThrow(DrainError);
    expect(() => planDrain(fleet(), "Z")).toThrow('host "Z" is not in the snapshot (hosts: A, B, C, D)');
  });
});

describe("the regular planner honours drain: true", () => {
  it("moves a draining host's VMs although nothing is contended, and never moves anything onto it", () => {
    const s = fleet((x) => {
      (x.hosts as Array<Record<string, unknown>>)[0]!.drain = true;
      (x.constraints as Record<string, unknown>).max_moves = 5;
    });
    const parsed = parseSnapshot(s);
    expect(parsed.hosts[0]).toMatchObject({ name: "A", accepts_vms: false, drain: true });
    const p = plan(s);
    expect(p.moves.map((m) => [m.vm, m.from, m.to])).toEqual([
      ["big", "A", "B"],
      ["small", "A", "C"],
    ]);
    expect(p.explanation).toMatch(
      /Draining A \(maintenance\): 2 moves off it; staying: pinned \(pinned is not migratable/,
    );
  });

  it("a crowded host's VM goes to the calm host, never to the drained calmer one; after undrain it may", () => {
    const s = {
      version: 1,
      time: "2026-12-01T12:00:00Z",
      window_s: 300,
      hosts: [
        { name: "A", cpus: 4, memory_mib: 65536, drain: true },
        { name: "B", cpus: 2, memory_mib: 65536 },
      ],
      vms: [
        { name: "x", host: "B", vcpus: 1, memory_mib: 1, usage: [0.5], delay: [0.5] },
        { name: "y", host: "B", vcpus: 1, memory_mib: 1, usage: [0.5], delay: [0.5] },
        { name: "z", host: "B", vcpus: 1, memory_mib: 1, usage: [0.5], delay: [0.5] },
      ],
    };
    expect(plan(s).moves).toEqual([]);
    s.hosts[0]!.drain = false;
    expect(plan(s).moves.map((m) => m.to)).toEqual(["A"]);
  });
});

// ------------------------------------------------------------------ properties

const arbFleet = fc
  .record({
    hosts: fc.array(
      fc.record({
        cpus: fc.integer({ min: 1, max: 8 }),
        reserved: fc.integer({ min: 0, max: 2 }),
        memory: fc.integer({ min: 0, max: 16 }),
        accepts: fc.boolean(),
      }),
      { minLength: 1, maxLength: 5 },
    ),
    vms: fc.array(
      fc.record({
        host: fc.nat(),
        vcpus: fc.integer({ min: 1, max: 4 }),
        memory: fc.integer({ min: 0, max: 8 }),
        usage: fc.double({ min: 0, max: 1, noNaN: true }),
        delay: fc.double({ min: 0, max: 0.5, noNaN: true }),
        migratable: fc.boolean(),
      }),
      { maxLength: 14 },
    ),
    groups: fc.array(fc.array(fc.nat(), { minLength: 2, maxLength: 3 }), { maxLength: 3 }),
    drain: fc.nat(),
    headroom: fc.boolean(),
  })
  .map((f) => {
    const hosts = f.hosts.map((h, i) => ({
      name: `h${i}`,
      cpus: h.cpus,
      reserved_cpus: Math.min(h.reserved, h.cpus),
      memory_mib: h.memory * 1024,
      accepts_vms: h.accepts || i === 0,
    }));
    const vms = f.vms.map((v, i) => ({
      name: `v${i}`,
      host: hosts[v.host % hosts.length]!.name,
      vcpus: v.vcpus,
      memory_mib: v.memory * 512,
      usage: Array<number>(v.vcpus).fill(v.usage),
      delay: Array<number>(v.vcpus).fill(v.delay),
      migratable: v.migratable,
    }));
    const anti_affinity = vms.length === 0 ? [] : f.groups.map((g) => [...new Set(g.map((n) => `v${n % vms.length}`))]);
    const snapshot: FleetSnapshot = parseSnapshot({
      version: 1,
      time: "2026-12-01T12:00:00Z",
      window_s: 60,
      hosts,
      vms,
      constraints: { max_moves: null, anti_affinity },
    });
    return { snapshot, host: hosts[f.drain % hosts.length]!.name, headroom: f.headroom };
  });

describe("planDrain properties", () => {
  it("every VM on the host is placed or named once; no move breaks memory, anti-affinity, width, accepts_vms (nor headroom when required)", () => {
    fc.assert(
      fc.property(arbFleet, ({ snapshot, host, headroom }) => {
        const r = planDrain(snapshot, host, { requireHeadroom: headroom });
        const on = snapshot.vms
          .filter((v) => v.host === host)
          .map((v) => v.name)
          .sort();
        const accounted = [...r.plan.moves.map((m) => m.vm), ...r.unplaced.map((u) => u.vm)].sort();
        expect(accounted).toEqual(on);
        for (const m of r.plan.moves) {
          expect(m.from).toBe(host);
          expect(m.to).not.toBe(host);
        }
        // The planner's own rules, move by move on the placement the earlier ones leave.
        // (CPU headroom only when asked for: a drain may load a busy target.)
        const c = checkPlan(markDraining(snapshot, [host]), r.plan, "bursty", { cpuHeadroom: headroom });
        expect(c.problems).toEqual([]);
        expect(r.plan.predicted.steal_after).toBeCloseTo(c.stealAfter, 3);
        // A non-migratable VM is never moved; a migratable one is left only with a reason that names hosts.
        for (const u of r.unplaced) {
          const vm = snapshot.vms.find((v) => v.name === u.vm)!;
          if (!vm.migratable) expect(u.reason).toMatch(/not migratable/);
          else expect(u.reason).toMatch(/^no host can take /);
        }
        // Each placement is the least added waiting: replayed in order, no other allowed target was better at its turn.
        const st = new FleetState(markDraining(snapshot, [host]), "bursty");
        for (const m of r.plan.moves) {
          const v = st.vmIndex.get(m.vm)!;
          const cost = (t: number) => st.stealWith(t, v) - st.hostSteal(t);
          const chosen = cost(st.hostIndex.get(m.to)!);
          for (let t = 0; t < st.hostCount; t++)
            if (st.refusal(v, t, headroom) === null) expect(cost(t)).toBeGreaterThanOrEqual(chosen - 1e-9);
          expect(r.placements.find((p) => p.vm === m.vm)!.added_waiting).toBeCloseTo(chosen, 3);
          st.apply(v, st.hostIndex.get(m.to)!);
        }
      }),
      { numRuns: 300 },
    );
  });
});
