import { describe, expect, it } from "vitest";
import type { FleetSnapshot, Plan } from "../model/fleet.js";
import { SnapshotError } from "../fleet/errors.js";
import type { BuiltSnapshot, SnapshotBuild } from "../fleet/snapshot-builder.js";
import { notSnakeCase } from "../../test/support/casing.js";
import { controllerApi } from "./api.js";
import type { PlansResponse } from "./api-types.js";
import { Controller } from "./controller.js";
import { buildControllerApp } from "./server.js";

const T0 = Date.parse("2026-11-25T12:00:00Z");

/** A fleet: hosts A, B, C; VMs placed as given. */
function snap(placement: Record<string, string>, atMs: number): BuiltSnapshot {
  return {
    version: 1,
    time: new Date(atMs).toISOString(),
    window_s: 300,
    hosts: ["A", "B", "C"].map((name) => ({ name, cpus: 8, memory_mib: 65536, reserved_cpus: 0, accepts_vms: true })),
    vms: Object.entries(placement).map(([name, host]) => ({
      name,
      uuid: `00000000-0000-4000-8000-${name.padStart(12, "0")}`,
      host,
      vcpus: 1,
      memory_mib: 1024,
      usage: [0.5],
      delay: [0.1],
      throttled: [0],
      cap: null,
      migratable: true,
    })),
    constraints: { max_moves: 5, anti_affinity: [] },
    notes: ["test"],
    sources: {},
  };
}

/** A planner that proposes the first wished move the snapshot allows (VM movable, target accepting). */
function wishPlanner(wishes: () => Array<{ vm: string; to: string }>) {
  const calls: FleetSnapshot[] = [];
  const fn = (s: FleetSnapshot): Plan => {
    calls.push(s);
    for (const w of wishes()) {
      const v = s.vms.find((x) => x.name === w.vm);
      const t = s.hosts.find((h) => h.name === w.to);
      if (v && t && v.migratable && t.accepts_vms && v.host !== w.to) {
        return {
          version: 1,
          moves: [{ vm: w.vm, from: v.host, to: w.to, reason: "wished" }],
          predicted: { steal_before: 1, steal_after: 0.5 },
          explanation: "test",
        };
      }
    }
    return { version: 1, moves: [], predicted: { steal_before: 1, steal_after: 1 }, explanation: "nothing" };
  };
  return { fn, calls };
}

function harness(opts: { vmCooldownMs?: number; hostCooldownMs?: number; cycleAudits?: number }) {
  let now = T0;
  let next: () => SnapshotBuild | Promise<SnapshotBuild> = () => {
    throw new Error("no snapshot set");
  };
  let wishes: Array<{ vm: string; to: string }> = [];
  const planner = wishPlanner(() => wishes);
  const c = new Controller({
    snapshot: async () => next(),
    plan: planner.fn,
    intervalMs: 60_000,
    guard: {
      vmCooldownMs: opts.vmCooldownMs ?? 0,
      hostCooldownMs: opts.hostCooldownMs ?? 0,
      cycleAudits: opts.cycleAudits ?? 5,
    },
    now: () => now,
  });
  return {
    c,
    planner,
    /** One audit, `minutes` after the previous one, on this placement, with these wishes. */
    async audit(placement: Record<string, string>, w: Array<{ vm: string; to: string }>, minutes = 1) {
      now += minutes * 60_000;
      const at = now;
      next = () => ({ snapshot: snap(placement, at), warnings: [], queries: 0, durationMs: 0 });
      wishes = w;
      return c.audit();
    },
    async failing(err: Error) {
      now += 60_000;
      next = () => {
        throw err;
      };
      return c.audit();
    },
  };
}

describe("controller audits", () => {
  it("dry run: the same proposal in successive audits is not a cycle and not cooled down", async () => {
    const h = harness({ vmCooldownMs: 3_600_000, hostCooldownMs: 3_600_000 });
    const a1 = await h.audit({ x: "A", y: "A" }, [{ vm: "x", to: "B" }]);
    const a2 = await h.audit({ x: "A", y: "A" }, [{ vm: "x", to: "B" }]);
    expect(a1.plan?.moves).toEqual([{ vm: "x", from: "A", to: "B", reason: "wished" }]);
    expect(a2.plan?.moves).toEqual(a1.plan?.moves);
    expect(a2.suppressed).toEqual([]);
    expect(a2.dry_run).toBe(true);
  });

  it("VM cooldown: a VM seen moving is held; the planner is asked again without it", async () => {
    const h = harness({ vmCooldownMs: 30 * 60_000 });
    await h.audit({ x: "A", y: "A" }, []);
    const a = await h.audit({ x: "B", y: "A" }, [
      { vm: "x", to: "C" },
      { vm: "y", to: "C" },
    ]);
    expect(a.observed_moves).toMatchObject([{ vm: "x", from: "A", to: "B", kind: "observed" }]);
    expect(a.suppressed).toMatchObject([{ vm: "x", from: "B", to: "C", rule: "vm_cooldown", held: { vm: "x" } }]);
    expect(a.suppressed[0]?.reason).toBe("x moved A→B (seen 0 s ago); VM cooldown is 30 min");
    expect(a.plan?.moves).toMatchObject([{ vm: "y", from: "A", to: "C" }]);
    expect(a.planner_rounds).toBe(2);
    // After the cooldown, x may move again.
    const later = await h.audit({ x: "B", y: "A" }, [{ vm: "x", to: "C" }], 31);
    expect(later.suppressed).toEqual([]);
    expect(later.plan?.moves).toMatchObject([{ vm: "x", from: "B", to: "C" }]);
  });

  it("a VM absent from a snapshot (in flight) and back on another host has moved", async () => {
    const h = harness({ vmCooldownMs: 30 * 60_000 });
    await h.audit({ x: "A", y: "A" }, []);
    const gap = await h.audit({ y: "A" }, []);
    expect(gap.observed_moves).toEqual([]);
    const back = await h.audit({ x: "B", y: "A" }, [{ vm: "x", to: "C" }]);
    expect(back.observed_moves).toMatchObject([{ vm: "x", from: "A", to: "B", audit: 3 }]);
    expect(back.suppressed).toMatchObject([{ vm: "x", rule: "vm_cooldown" }]);
  });

  it("host cooldown: a host that just received a VM neither sends nor receives", async () => {
    const h = harness({ hostCooldownMs: 5 * 60_000, cycleAudits: 1 });
    await h.audit({ x: "A", y: "C", z: "C" }, []);
    const a = await h.audit({ x: "B", y: "C", z: "C" }, [
      { vm: "y", to: "B" },
      { vm: "z", to: "A" },
    ]);
    expect(a.suppressed.map((s) => [s.vm, s.rule])).toEqual([
      ["y", "host_cooldown"],
      ["z", "host_cooldown"],
    ]);
    expect(a.suppressed[0]?.reason).toMatch(/^B received x \(seen 0 s ago\); host cooldown is 5 min/);
    expect(a.plan?.moves).toEqual([]);
  });

  it("cycle: A→B then B→A within N audits is suppressed, with the reason", async () => {
    const h = harness({ cycleAudits: 5 });
    await h.audit({ x: "A", y: "B" }, [{ vm: "x", to: "B" }]); // audit 1 plans x A→B
    await h.audit({ x: "B", y: "B" }, []); // audit 2 sees x on B
    const a = await h.audit({ x: "B", y: "B" }, [
      { vm: "x", to: "A" },
      { vm: "x", to: "C" },
      { vm: "y", to: "C" },
    ]);
    expect(a.suppressed).toHaveLength(1);
    expect(a.suppressed[0]).toMatchObject({ vm: "x", from: "B", to: "A", rule: "cycle", held: { vm: "x" } });
    expect(a.suppressed[0]?.reason).toMatch(/would take x back to A, undoing x A→B \(planned in audit 1, 2 audits/);
    // x stays where it is for this audit (a VM that cycles is left alone), y may move.
    expect(a.plan?.moves).toMatchObject([{ vm: "y", from: "B", to: "C" }]);
  });

  it("the API gives audits in snake_case: observed_moves[].at_ms, suppressed[].held.no_target", async () => {
    const h = harness({ cycleAudits: 3 });
    await h.audit({ x: "A", y: "B" }, [{ vm: "x", to: "B" }]);
    await h.audit({ x: "B", y: "B" }, []); // x seen on B
    await h.audit({ x: "B", y: "B" }, [
      { vm: "y", to: "A" },
      { vm: "y", to: "C" },
    ]);
    const api = controllerApi(h.c, {
      prometheus: "http://prometheus:9090",
      window_s: 300,
      interval_s: 60,
      policy: "p",
    });
    for (const path of ["/health", "/plan", "/plans", "/effects"]) {
      const r = await api.request(path);
      expect(notSnakeCase(await r.json()), path).toEqual([]);
    }
    const { audits } = (await (await api.request("/plans")).json()) as PlansResponse;
    expect(audits[1]?.observed_moves).toEqual([
      { vm: "x", from: "A", to: "B", at_ms: T0 + 2 * 60_000, kind: "observed", audit: 2 },
    ]);
    expect(audits[0]?.suppressed).toMatchObject([{ vm: "y", rule: "cycle", held: { no_target: "A" } }]);
  });

  it("cycle between hosts: load moved A→B, then another VM B→A, is suppressed; after N audits it is allowed", async () => {
    const h = harness({ cycleAudits: 3 });
    await h.audit({ x: "A", y: "B" }, [{ vm: "x", to: "B" }]);
    const a = await h.audit({ x: "A", y: "B" }, [
      { vm: "y", to: "A" },
      { vm: "y", to: "C" },
    ]);
    expect(a.suppressed[0]).toMatchObject({ vm: "y", from: "B", to: "A", rule: "cycle", held: { noTarget: "A" } });
    expect(a.suppressed[0]?.reason).toMatch(/would move load B→A right after x A→B \(planned in audit 1/);
    expect(a.plan?.moves).toMatchObject([{ vm: "y", to: "C" }]);
    await h.audit({ x: "A", y: "B" }, []);
    await h.audit({ x: "A", y: "B" }, []);
    const late = await h.audit({ x: "A", y: "B" }, [{ vm: "y", to: "A" }]);
    expect(late.suppressed).toEqual([]);
    expect(late.plan?.moves).toMatchObject([{ vm: "y", to: "A" }]);
  });

  it("a failed audit has no plan: the API answers 503 with the reason, the metrics count it", async () => {
    const h = harness({});
    await h.audit({ x: "A" }, [{ vm: "x", to: "B" }]);
    const app = buildControllerApp(h.c, {
      prometheus: "http://prometheus.test",
      window_s: 300,
      interval_s: 60,
      policy: "contention",
    });
    const ok = await app.request("/api/v1/plan");
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { plan: Plan }).plan.moves).toHaveLength(1);

    await h.failing(
      new SnapshotError(
        "partial_data",
        "no snapshot: missing or stale data for host hv03: …",
        ["host hv03: down"],
        ["hv03"],
      ),
    );
    const r = await app.request("/api/v1/plan");
    expect(r.status).toBe(503);
    const body = (await r.json()) as { plan: Plan | null; error: { reason: string; missing_hosts: string[] } };
    expect(body.plan).toBeNull();
    expect(body.error).toMatchObject({ reason: "partial_data", missing_hosts: ["hv03"] });
    expect((await app.request("/api/v1/snapshot")).status).toBe(503);
    const health = (await (await app.request("/api/v1/health")).json()) as {
      status: string;
      last_audit: { reason: string };
    };
    expect(health).toMatchObject({ status: "failing", last_audit: { reason: "partial_data" } });
    const plans = (await (await app.request("/api/v1/plans?limit=5")).json()) as {
      audits: Array<{ audit: number; status: string }>;
    };
    expect(plans.audits.map((a) => [a.audit, a.status])).toEqual([
      [2, "error"],
      [1, "ok"],
    ]);
    expect((await app.request("/api/v1/plans?limit=lots")).status).toBe(400);

    const metrics = await (await app.request("/metrics")).text();
    expect(metrics).toMatch(/^vsteal_controller_audits_total 2$/m);
    expect(metrics).toMatch(/^vsteal_controller_audit_errors_total\{reason="partial_data"\} 1$/m);
    expect(metrics).toMatch(/^vsteal_controller_audit_errors_total\{reason="prometheus_unreachable"\} 0$/m);
    expect(metrics).toMatch(/^vsteal_controller_last_audit_success 0$/m);
    expect(metrics).toMatch(/^vsteal_controller_planned_moves 1$/m);
    expect(metrics).toMatch(/^vsteal_controller_predicted_steal_before_cores 1$/m);
    expect(metrics).toMatch(/^vsteal_controller_predicted_steal_after_cores 0.5$/m);

    // The next good audit is the current plan again.
    await h.audit({ x: "A" }, []);
    expect((await app.request("/api/v1/plan")).status).toBe(200);
    expect(await (await app.request("/metrics")).text()).toMatch(/^vsteal_controller_last_audit_success 1$/m);
  });

  it("a snapshot the format refuses is an audit error, not a plan", async () => {
    const h = harness({});
    const bad = snap({ x: "A" }, T0);
    bad.vms[0]!.host = "nowhere";
    const c = new Controller({
      snapshot: async () => ({ snapshot: bad, warnings: [], queries: 0, durationMs: 0 }),
      plan: h.planner.fn,
      intervalMs: 1000,
      guard: { vmCooldownMs: 0, hostCooldownMs: 0, cycleAudits: 1 },
    });
    const a = await c.audit();
    expect(a.status).toBe("error");
    expect(a.error?.reason).toBe("invalid_snapshot");
    expect(a.error?.message).toMatch(/vms\[0\]\.host: unknown host "nowhere"/);
  });
});
