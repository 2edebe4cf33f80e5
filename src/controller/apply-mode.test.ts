/**
 * The controller's apply mode: which plans wait for approval, the bearer token on the approval
 * endpoint (401 without it, constant-time compare), superseded plans, and the recheck. libvirt
 * is the in-memory FakeDriver here; the real migrations are in test/e2e/migrate.test.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeDriver } from "../../test/support/fake-driver.js";
import { MemoryAuditLog } from "../migrate/audit-log.js";
import { migrateHosts } from "../migrate/hosts.js";
import { parseSnapshot, type FleetSnapshot, type Plan } from "../model/fleet.js";
import { notSnakeCase } from "../../test/support/casing.js";
import type { ApplyResponse } from "./api-types.js";
import { applyApi, PlanApplier } from "./apply-mode.js";
import { tokenMatches } from "../http/bearer-auth.js";
import { loadTokenDigest } from "./auth.js";
import { Controller, type AuditRecord } from "./controller.js";
import { buildControllerApp } from "./server.js";

const TOKEN = "0123456789abcdef0123456789abcdef";
const snapshot: FleetSnapshot = parseSnapshot(
  JSON.parse(
    readFileSync(join(import.meta.dirname, "..", "..", "test", "fixtures", "fleet", "crowded-calm.json"), "utf8"),
  ),
);

const plan = (...moves: Array<[string, string, string]>): Plan => ({
  version: 1,
  moves: moves.map(([vm, from, to]) => ({ vm, from, to, reason: "test" })),
  predicted: { steal_before: 2.8, steal_after: 0 },
  explanation: "",
});

const audit = (id: number, p: Plan | null, status: "ok" | "error" = "ok"): AuditRecord =>
  ({
    id,
    time: new Date().toISOString(),
    status,
    dry_run: false,
    duration_ms: 1,
    snapshot_ms: 1,
    plan_ms: 1,
    plan: p,
    suppressed: [],
    observed_moves: [],
    effects: [],
    planner_rounds: 1,
    snapshot: null,
    error: null,
  }) as AuditRecord;

function setup(approveOver: number) {
  const driver = new FakeDriver(Object.fromEntries(snapshot.vms.map((v) => [v.name, v.host])));
  const log = new MemoryAuditLog();
  const applier = new PlanApplier({
    hosts: migrateHosts({ uri_template: "test://{host}" }),
    driver,
    audit: log,
    approveOver,
    freshSnapshot: async () => snapshot,
    minGain: 0.05,
  });
  const app = applyApi(applier, loadTokenDigest(undefined, { VSTEAL_CONTROLLER_TOKEN: TOKEN }));
  const approve = (id: string, auth?: string) =>
    app.request(`/plans/${id}/approve`, { method: "POST", headers: auth ? { Authorization: auth } : {} });
  return { driver, log, applier, app, approve };
}

describe("controller apply mode", () => {
  it("a plan within --approve-over moves is applied at once, rechecked on fresh data", async () => {
    const { driver, log, applier } = setup(1);
    applier.onAudit(audit(1, plan(["db-1", "hv01", "hv02"])));
    await applier.idle();
    expect(driver.log).toEqual(["start db-1 hv01->hv02"]);
    expect(driver.at.get("db-1")?.host).toBe("hv02");
    expect(applier.records.get("audit-1")).toMatchObject({
      state: "applied",
      approved_by: "controller (no approval needed)",
    });
    expect(log.entries.filter((e) => e.vm === "db-1").map((e) => e.result)).toEqual(
      expect.arrayContaining(["started", "ok"]),
    );
  });

  it("GET /apply gives each plan and its result in snake_case", async () => {
    const { applier, app } = setup(1);
    applier.onAudit(audit(1, plan(["db-1", "hv01", "hv02"])));
    await applier.idle();
    const body = (await (await app.request("/apply")).json()) as ApplyResponse;
    expect(notSnakeCase(body)).toEqual([]);
    expect(body.approve_over).toBe(1);
    const r = body.plans[0]?.result;
    expect(r).toMatchObject({ plan_id: "audit-1", failures: 0 });
    expect(r?.outcomes.map((o) => [o.index, o.move.vm, o.result])).toEqual([[0, "db-1", "ok"]]);
    expect(r?.outcomes[0]?.duration_ms).toBeGreaterThanOrEqual(0);
    expect(r?.outcomes[0]?.ended_ms).toBeGreaterThan(0);
  });

  it("a bigger plan waits; approving it needs the bearer token (401 without, 401 wrong), then it runs", async () => {
    const { driver, applier, approve } = setup(0);
    applier.onAudit(audit(7, plan(["db-1", "hv01", "hv02"])));
    expect(applier.records.get("audit-7")?.state).toBe("waiting_approval");
    expect(driver.log).toEqual([]);
    for (const auth of [undefined, "Bearer wrong-token-wrong-token", `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, "Bearer "]) {
      const r = await approve("audit-7", auth);
      expect(r.status, String(auth)).toBe(401);
      expect(r.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    }
    expect(driver.log).toEqual([]);
    const ok = await approve("audit-7", `Bearer ${TOKEN}`);
    expect(ok.status).toBe(202);
    await applier.idle();
    expect(driver.log).toEqual(["start db-1 hv01->hv02"]);
    expect(applier.records.get("audit-7")?.state).toBe("applied");
    // Once applied it cannot be approved again; an unknown plan is 404 — both only with the token.
    expect((await approve("audit-7", `Bearer ${TOKEN}`)).status).toBe(409);
    expect((await approve("audit-99", `Bearer ${TOKEN}`)).status).toBe(404);
    expect((await approve("audit-99")).status).toBe(401);
  });

  it("a newer plan supersedes one still waiting; failed audits and empty plans propose nothing", async () => {
    const { applier, approve } = setup(0);
    applier.onAudit(audit(1, plan(["db-1", "hv01", "hv02"])));
    applier.onAudit(audit(2, null, "error"));
    applier.onAudit(audit(3, plan()));
    expect(applier.records.get("audit-1")?.state).toBe("waiting_approval");
    applier.onAudit(audit(4, plan(["web-1", "hv01", "hv03"])));
    expect(applier.records.get("audit-1")).toMatchObject({ state: "superseded", reason: "superseded by audit-4" });
    expect([...applier.records.keys()]).toEqual(["audit-1", "audit-4"]);
    expect((await approve("audit-1", `Bearer ${TOKEN}`)).status).toBe(409);
  });

  it("a move the fresh data no longer supports is skipped, with the reason, and nothing migrates", async () => {
    const { driver, log, applier } = setup(5);
    // app-1 sits on the calm hv02: moving it to hv03 relieves nothing.
    applier.onAudit(audit(1, plan(["app-1", "hv02", "hv03"])));
    await applier.idle();
    expect(driver.log).toEqual([]);
    const skipped = log.entries.find((e) => e.vm === "app-1" && e.result === "skipped");
    expect(skipped?.reason).toMatch(/no longer needed: predicted contention/);
  });

  it("any other change (POST, PUT, DELETE) without the token is 401, never a 404 that tells what exists", async () => {
    const { app } = setup(0);
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      expect((await app.request("/plans/audit-1", { method })).status).toBe(401);
      expect((await app.request("/anything", { method })).status).toBe(401);
    }
    expect((await app.request("/apply")).status).toBe(200);
  });

  it("tokens: too short is refused at start; the compare accepts only the exact token", () => {
    expect(() => loadTokenDigest(undefined, {})).toThrow(/needs a bearer token/);
    expect(() => loadTokenDigest(undefined, { VSTEAL_CONTROLLER_TOKEN: "short" })).toThrow(/too short/);
    const d = loadTokenDigest(undefined, { VSTEAL_CONTROLLER_TOKEN: TOKEN });
    expect(tokenMatches(`Bearer ${TOKEN}`, d)).toBe(true);
    expect(tokenMatches(`bearer ${TOKEN}`, d)).toBe(true);
    expect(tokenMatches(`Bearer ${TOKEN.slice(0, -1)}`, d)).toBe(false);
    expect(tokenMatches(undefined, d)).toBe(false);
  });
});

describe("the controller's app in apply mode (routes as vsteal controller --apply mounts them)", () => {
  it("audits feed the applier; approval through the app needs the token; health and metrics say it is not a dry run", async () => {
    const { driver, applier } = setup(0);
    const c = new Controller({
      snapshot: async () => ({
        snapshot: { ...snapshot, notes: [], sources: {} },
        warnings: [],
        queries: 0,
        durationMs: 0,
      }),
      plan: () => plan(["db-1", "hv01", "hv02"]),
      intervalMs: 60_000,
      guard: { vmCooldownMs: 0, hostCooldownMs: 0, cycleAudits: 1 },
      onAudit: (a) => applier.onAudit(a),
      dryRun: false,
    });
    const app = buildControllerApp(
      c,
      { prometheus: "http://prometheus.test", window_s: 300, interval_s: 60, policy: "contention" },
      { applier, tokenDigest: loadTokenDigest(undefined, { VSTEAL_CONTROLLER_TOKEN: TOKEN }) },
    );
    const a = await c.audit();
    expect(a).toMatchObject({ status: "ok", dry_run: false });
    expect(((await (await app.request("/api/v1/health")).json()) as { dry_run: boolean }).dry_run).toBe(false);
    expect(await (await app.request("/metrics")).text()).toMatch(/^vsteal_controller_dry_run 0$/m);
    const listed = (await (await app.request("/api/v1/apply")).json()) as {
      plans: Array<{ id: string; state: string }>;
    };
    expect(listed.plans).toMatchObject([{ id: `audit-${a.id}`, state: "waiting_approval" }]);

    const url = `/api/v1/plans/audit-${a.id}/approve`;
    expect((await app.request(url, { method: "POST" })).status).toBe(401);
    expect((await app.request("/api/v1/plan", { method: "DELETE" })).status).toBe(401);
    expect(driver.log).toEqual([]);
    expect((await app.request(url, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(
      202,
    );
    await applier.idle();
    expect(driver.log).toEqual(["start db-1 hv01->hv02"]);
    const nope = await app.request("/api/v1/nope");
    expect(nope.status).toBe(404);
    expect(await nope.json()).toEqual({ error: "no such API endpoint: /api/v1/nope" });
  });
});
