/**
 * Host maintenance through the controller's API: the bearer token (401 without it, nothing
 * written), drain → the maintenance file → the next audit's snapshot has the host drained and
 * its plan never moves anything onto it; undrain → it may receive again. libvirt is the
 * in-memory FakeDriver; the real migrations are in test/e2e/drain.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeDriver } from "../../test/support/fake-driver.js";
import { listen } from "../http/listen.js";
import { drain, undrain } from "../cli/drain.js";
import { withMaintenance } from "../maintenance/apply.js";
import { MemoryAuditLog } from "../migrate/audit-log.js";
import { migrateHosts } from "../migrate/hosts.js";
import { parseSnapshot, type FleetSnapshot } from "../model/fleet.js";
import { parsePlanOptions, planValidated } from "../planner/index.js";
import { PlanApplier } from "./apply-mode.js";
import { loadTokenDigest } from "./auth.js";
import { Controller } from "./controller.js";
import { buildControllerApp } from "./server.js";

const TOKEN = "0123456789abcdef0123456789abcdef";
const fixture: FleetSnapshot = parseSnapshot(
  JSON.parse(
    readFileSync(join(import.meta.dirname, "..", "..", "test", "fixtures", "fleet", "crowded-calm.json"), "utf8"),
  ),
);

function setup() {
  const file = join(mkdtempSync(join(tmpdir(), "vsteal-maint-api-")), "state", "maintenance.json");
  const driver = new FakeDriver(Object.fromEntries(fixture.vms.map((v) => [v.name, v.host])));
  const log = new MemoryAuditLog();
  const build = async () =>
    withMaintenance(
      {
        snapshot: { ...structuredClone(fixture), notes: [] as string[], sources: {} },
        warnings: [],
        queries: 0,
        durationMs: 0,
      },
      file,
    );
  const applier = new PlanApplier({
    hosts: migrateHosts({ uri_template: "test://{host}" }),
    driver,
    audit: log,
    approveOver: 0,
    freshSnapshot: async () => (await build()).snapshot,
  });
  const options = parsePlanOptions({});
  const c = new Controller({
    snapshot: build,
    plan: (s) => planValidated(s, options),
    intervalMs: 60_000,
    guard: { vmCooldownMs: 0, hostCooldownMs: 0, cycleAudits: 1 },
    dryRun: false,
  });
  const app = buildControllerApp(
    c,
    { prometheus: "test", window_s: 300, interval_s: 60, policy: "contention" },
    {
      applier,
      tokenDigest: loadTokenDigest(undefined, { VSTEAL_CONTROLLER_TOKEN: TOKEN }),
      maintenance: { file, freshSnapshot: async () => (await build()).snapshot },
    },
  );
  const post = (path: string, body?: unknown, auth: string | null = `Bearer ${TOKEN}`) =>
    app.request(`/api/v1${path}`, {
      method: "POST",
      headers: { ...(auth ? { Authorization: auth } : {}), "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  return { file, driver, log, applier, c, app, post };
}

describe("controller API: host maintenance", () => {
  it("drain and undrain need the bearer token: 401 without it or with a wrong one, and nothing is written or moved", async () => {
    const { file, driver, post } = setup();
    for (const auth of [null, "Bearer wrong-token-wrong-token", `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      for (const path of ["/hosts/hv02/drain", "/hosts/hv02/undrain", "/hosts/nosuchhost/drain"]) {
        const r = await post(path, {}, auth);
        expect(r.status, `${path} ${String(auth)}`).toBe(401);
        expect(r.headers.get("WWW-Authenticate")).toMatch(/^Bearer realm=/);
      }
    }
    expect(existsSync(file)).toBe(false);
    expect(driver.log).toEqual([]);
  });

  it("drain → the file → the VMs leave; the next audit's snapshot has drain and its plan never moves onto the host; undrain → it may again", async () => {
    const { file, driver, log, applier, c, app, post } = setup();
    // Before: the crowded hv01's first move goes to the calmest host, hv02.
    const before = await c.audit();
    expect(before.plan!.moves[0]).toMatchObject({ from: "hv01", to: "hv02" });

    const r = await post("/hosts/hv02/drain", { reason: "BIOS update" });
    expect(r.status).toBe(202);
    const body = (await r.json()) as {
      drain: { plan: { moves: Array<{ vm: string; from: string; to: string }> }; unplaced: unknown[] };
      maintenance: { by: string; reason: string };
      apply: { id: string };
    };
    expect(body.drain.plan.moves).toEqual([expect.objectContaining({ vm: "app-1", from: "hv02", to: "hv03" })]);
    expect(body.drain.unplaced).toEqual([]);
    expect(body.maintenance).toMatchObject({ by: "api (bearer token)", reason: "BIOS update" });
    await applier.idle();
    expect(driver.log).toEqual(["start app-1 hv02->hv03"]);
    expect(applier.records.get(body.apply.id)).toMatchObject({ state: "applied" });
    expect(JSON.parse(readFileSync(file, "utf8")).hosts.hv02).toMatchObject({ reason: "BIOS update" });
    expect(log.entries.map((e) => `${e.action}:${e.result}`)).toEqual([
      "drain:ok",
      "plan_start:started",
      "recheck:ok",
      "migrate:started",
      "migrate:ok",
      "plan_end:ok",
    ]);
    expect((await (await app.request("/api/v1/maintenance")).json()) as unknown).toMatchObject({
      file,
      hosts: { hv02: { reason: "BIOS update" } },
    });

    // The next audit reads the file: hv02 is drained in its snapshot, and no move goes there.
    const after = await c.audit();
    expect(c.snapshot!.hosts.find((h) => h.name === "hv02")).toMatchObject({ drain: true, accepts_vms: false });
    expect(c.snapshot!.notes.some((n) => n.startsWith("maintenance: hv02 is drained"))).toBe(true);
    expect(after.plan!.moves.length).toBeGreaterThan(0);
    expect(after.plan!.moves.filter((m) => m.to === "hv02")).toEqual([]);
    const snap = (await (await app.request("/api/v1/snapshot")).json()) as FleetSnapshot;
    expect(snap.hosts.find((h) => h.name === "hv02")).toMatchObject({ drain: true });

    const u = await post("/hosts/hv02/undrain");
    expect(u.status).toBe(200);
    expect(await u.json()).toEqual({ host: "hv02", was_drained: true });
    expect(log.entries.at(-1)).toMatchObject({
      action: "undrain",
      plan_id: "drain-hv02",
      from: "hv02",
      result: "ok",
      reason: "hv02 may receive VMs again",
    });
    expect(log.entries[0]).toMatchObject({ action: "drain", plan_id: "drain-hv02", from: "hv02", result: "ok" });
    const again = await c.audit();
    expect(c.snapshot!.hosts.find((h) => h.name === "hv02")).not.toHaveProperty("drain");
    expect(again.plan!.moves.some((m) => m.to === "hv02")).toBe(true);
  });

  it("dry run: the plan only, nothing written or moved; bad requests are 400 or 404, with the token", async () => {
    const { file, driver, post } = setup();
    const r = await post("/hosts/hv01/drain", { dry_run: true });
    expect(r.status).toBe(200);
    const b = (await r.json()) as {
      drain: { plan: { moves: Array<{ from: string; to: string }> }; unplaced: unknown[] };
    };
    expect(b.drain.plan.moves).toHaveLength(5);
    expect(b.drain.plan.moves.every((m) => m.from === "hv01" && m.to !== "hv01")).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(driver.log).toEqual([]);
    expect((await post("/hosts/nosuchhost/drain", {})).status).toBe(404);
    expect((await post("/hosts/hv01/drain", { dry_run: "yes" })).status).toBe(400);
    expect((await post("/hosts/hv01/drain", { surprise: 1 })).status).toBe(400);
    expect(existsSync(file)).toBe(false);
  });

  it("vsteal drain --controller: previews, asks, drains through the API and follows the apply record to its end", async () => {
    const { file, driver, app } = setup();
    const { server, url } = await listen(app, "127.0.0.1:0", null);
    try {
      const tokenFile = join(mkdtempSync(join(tmpdir(), "vsteal-token-")), "token");
      writeFileSync(tokenFile, `${TOKEN}\n`);
      let out = "";
      let err = "";
      const io = { out: (t: string) => (out += t), err: (l: string) => (err += `${l}\n`) };
      const o = {
        controller: url,
        tokenFile,
        maintenanceFile: "unused",
        recheck: true,
        windowS: 300,
        auditLog: "unused",
        json: true,
      };
      // No terminal, no --yes: the preview is shown, nothing is done.
      expect(await drain("hv02", o, io, { tty: false })).toBe(2);
      expect(err).toMatch(/hv02: 1 move\(s\)\n {2}1\. app-1: hv02 → hv03/);
      expect(existsSync(file)).toBe(false);
      expect(await drain("hv02", { ...o, yes: true }, io, { tty: false })).toBe(0);
      expect(driver.log).toEqual(["start app-1 hv02->hv03"]);
      expect(JSON.parse(out)).toMatchObject({
        host: "hv02",
        drained: true,
        moves: [{ vm: "app-1", from: "hv02", to: "hv03", result: "ok" }],
        unplaced: [],
      });
      expect(Object.keys(JSON.parse(readFileSync(file, "utf8")).hosts)).toEqual(["hv02"]);
      expect(await undrain("hv02", { maintenanceFile: "unused", controller: url, tokenFile }, io)).toBe(0);
      expect(err).toMatch(/vsteal undrain: hv02 may receive VMs again/);
      expect(JSON.parse(readFileSync(file, "utf8")).hosts).toEqual({});
      // A wrong token: one line that says so.
      writeFileSync(tokenFile, "wrong-token-wrong-token\n");
      await expect(drain("hv02", { ...o, yes: true }, io, { tty: false })).rejects.toThrow(
        /refused the token \(401\): check --token-file/,
      );
    } finally {
      server.close();
    }
  });
});
