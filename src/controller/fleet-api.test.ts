import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SnapshotError } from "../fleet/errors.js";
import type { BuiltSnapshot, SnapshotBuild } from "../fleet/snapshot-builder.js";
import type { Plan } from "../model/fleet.js";
import { notSnakeCase } from "../../test/support/casing.js";
import { Controller } from "./controller.js";
import { summarizeHosts, summarizeVms } from "./fleet-summary.js";
import { buildControllerApp } from "./server.js";

const T0 = Date.parse("2026-11-25T12:00:00Z");

function snap(atMs: number, hosts = ["A", "B"]): BuiltSnapshot {
  return {
    version: 1,
    time: new Date(atMs).toISOString(),
    window_s: 300,
    hosts: hosts.map((name) => ({
      name,
      cpus: 8,
      memory_mib: 65536,
      reserved_cpus: name === "A" ? 2 : 0,
      accepts_vms: name !== "B",
    })),
    vms: [
      {
        name: "web",
        uuid: null,
        host: "A",
        vcpus: 2,
        memory_mib: 1024,
        usage: [0.9, 0.5],
        delay: [0.3, 0.1],
        throttled: [0, 0.05],
        cap: null,
        migratable: true,
      },
      {
        name: "<img src=x onerror=alert(1)>",
        uuid: null,
        host: "A",
        vcpus: 1,
        memory_mib: 1024,
        usage: [1],
        delay: [0.2],
        throttled: [0.2],
        cap: 0.5,
        migratable: false,
      },
    ],
    constraints: { max_moves: 5, anti_affinity: [] },
    notes: [],
    sources: {},
  };
}

const plan = (): Plan => ({
  version: 1,
  moves: [{ vm: "web", from: "A", to: "C", reason: "A is oversubscribed" }],
  predicted: { steal_before: 0.6, steal_after: 0.1 },
  explanation: "test",
});

describe("fleet summaries", () => {
  it("sums each host's VMs: demand = usage + contention, throttling apart, capacity without reserved CPUs", () => {
    const s = snap(T0, ["A", "B"]);
    const vms = summarizeVms(s);
    expect(vms[0]).toEqual({
      name: "web",
      host: "A",
      vcpus: 2,
      usage: 1.4,
      demand: 1.75,
      contention: 0.35,
      throttled: 0.05,
      max_contention: 0.3,
      cap: null,
      migratable: true,
    });
    // All of its wait is its own cap: no contention.
    expect(vms[1]).toMatchObject({ contention: 0, throttled: 0.2, demand: 1 });
    expect(summarizeHosts(s)).toEqual([
      {
        name: "A",
        cpus: 8,
        reserved_cpus: 2,
        capacity: 6,
        accepts_vms: true,
        vms: 2,
        vcpus: 3,
        usage: 2.4,
        demand: 2.75,
        contention: 0.35,
        throttled: 0.25,
      },
      {
        name: "B",
        cpus: 8,
        reserved_cpus: 0,
        capacity: 8,
        accepts_vms: false,
        vms: 0,
        vcpus: 0,
        usage: 0,
        demand: 0,
        contention: 0,
        throttled: 0,
      },
    ]);
  });
});

describe("GET /api/v1/fleet and the dashboard on the controller", () => {
  const dir = mkdtempSync(join(tmpdir(), "vsteal-fleet-api-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function harness(historySize = 100) {
    let now = T0;
    let next: () => SnapshotBuild = () => ({ snapshot: snap(now), warnings: [], queries: 0, durationMs: 0 });
    const c = new Controller({
      snapshot: async () => next(),
      plan,
      intervalMs: 60_000,
      guard: { vmCooldownMs: 0, hostCooldownMs: 0, cycleAudits: 0 },
      historySize,
      now: () => now,
    });
    const web = join(dir, `web-${Math.random().toString(36).slice(2)}`);
    mkdirSync(web);
    writeFileSync(join(web, "index.html"), '<!doctype html><div id="app"></div>');
    const app = buildControllerApp(
      c,
      { prometheus: "http://prom:9090", window_s: 300, interval_s: 60, policy: "contention" },
      undefined,
      { webRoot: web },
    );
    return {
      c,
      app,
      async ok(hosts?: string[]) {
        now += 60_000;
        const at = now;
        next = () => ({ snapshot: snap(at, hosts), warnings: [], queries: 0, durationMs: 0 });
        return c.audit();
      },
      async fail() {
        now += 60_000;
        next = () => {
          throw new SnapshotError(
            "partial_data",
            "no snapshot: missing or stale data for host B",
            ["host B: no samples"],
            ["B"],
          );
        };
        return c.audit();
      },
      fleet: async () => (await (await app.request("/api/v1/fleet")).json()) as FleetJson,
    };
  }

  interface FleetJson {
    interval_s: number;
    audits: Array<{ id: number; time: number; status: string; reason: string | null; message: string | null }>;
    hosts: Array<{ name: string; capacity: number; points: number[][] }>;
    current: {
      audit: number;
      hosts: Array<{ name: string; demand: number }>;
      vms: Array<{ name: string; host: string }>;
    } | null;
  }

  it("gives per-host points of the successful audits, every audit's status, and the current hosts and VMs", async () => {
    const h = harness();
    expect(await h.fleet()).toMatchObject({ audits: [], hosts: [], current: null, interval_s: 60 });
    await h.ok();
    await h.fail();
    await h.ok(["A", "B", "C"]);
    const f = await h.fleet();
    expect(notSnakeCase(f)).toEqual([]);
    expect(f.audits.map((a) => [a.id, a.status, a.reason])).toEqual([
      [1, "ok", null],
      [2, "error", "partial_data"],
      [3, "ok", null],
    ]);
    expect(f.audits[1]?.message).toMatch(/host B/);
    // Newest snapshot's order; C only has the newest point.
    expect(f.hosts.map((x) => [x.name, x.points.length])).toEqual([
      ["A", 2],
      ["B", 2],
      ["C", 1],
    ]);
    expect(f.hosts[0]?.points[1]).toEqual([T0 + 180_000, 2.75, 6, 0.35, 0.25, 2.4]);
    expect(f.current?.audit).toBe(3);
    expect(f.current?.hosts.map((x) => x.name)).toEqual(["A", "B", "C"]);
    expect(f.current?.vms.map((v) => v.name)).toContain("<img src=x onerror=alert(1)>");
    // After a failed audit there is no current state, but the series stay.
    await h.fail();
    const g = await h.fleet();
    expect(g.current).toBeNull();
    expect(g.hosts[0]?.points.length).toBe(2);
  });

  it("keeps points only for the audits kept", async () => {
    const h = harness(3);
    for (let i = 0; i < 5; i++) await h.ok();
    expect(h.c.fleetSeries.map((p) => p.audit)).toEqual([3, 4, 5]);
    expect((await h.fleet()).hosts[0]?.points.length).toBe(3);
  });

  it("serves the dashboard at / with the agent's headers, and says it is the controller", async () => {
    const h = harness();
    const r = await h.app.request("/");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    expect(await r.text()).toContain('<div id="app">');
    const health = (await (await h.app.request("/api/v1/health")).json()) as { role: string };
    expect(health.role).toBe("controller");
    expect((await h.app.request("/metrics")).status).toBe(200);
    expect((await h.app.request("/api/v1/nope")).status).toBe(404);
  });
});
