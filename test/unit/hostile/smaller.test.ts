/**
 * Class 7 of the hostile-input review, the smaller ones: the history API answers the same
 * tier for the same query; a wrong method on an existing path is 405; messages name the file
 * and field, not library internals. (Options that do nothing in a mode, and the 405 on a
 * real agent: test/reliability/hostile-input.test.ts.)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterAll, describe, expect, it } from "vitest";
import { apiRoutes } from "../../../src/agent/api.js";
import type { Collector } from "../../../src/collect/collector.js";
import { notFoundFor } from "../../../src/http/not-found.js";
import { loadWebConfig } from "../../../src/http/web-config.js";
import { parseAlertConfig } from "../../../src/alerts/config.js";
import { History } from "../../../src/history/history.js";
import { parseSnapshotJson } from "../../../src/model/fleet.js";
import { makeSample, wave, type DomainSpec } from "../../fixtures/history/samples.js";

const dir = mkdtempSync(join(tmpdir(), "vsteal-hostile-small-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("GET /api/v1/history: one tier for one query", () => {
  it("with the history's clock a few ms behind the request's, the default hour is still the raw tier", async () => {
    const DOMS: DomainSpec[] = [{ name: "kvm-a", vcpus: 1 }];
    // The history reads its clock after the API did: as when a request takes a few ms.
    const h = new History({ intervalS: 5, now: () => Date.now() + 7 });
    await h.open();
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 12; i++) h.record(makeSample(t0 + i * 5000, DOMS, (a, b) => wave(i, a, b)));
    const app = new Hono();
    app.route("/api/v1", apiRoutes({ collector: {} as Collector, history: h, startedMs: Date.now() }));
    for (const q of ["", "?from=now-1h", "?from=now-1h&to=now"]) {
      const r = await app.request(`/api/v1/history${q}`);
      expect(r.status, q).toBe(200);
      const body = (await r.json()) as { series: Array<{ tier: string }> };
      expect(
        body.series.map((s) => s.tier),
        q,
      ).toEqual(["raw"]);
    }
  });
});

describe("405 for a wrong method on an existing path", () => {
  const app = new Hono();
  app.get("/metrics", (c) => c.text("m"));
  app.get("/api/v1/host", (c) => c.json({}));
  app.notFound(notFoundFor(app));

  it("POST, PUT, DELETE on a GET path: 405 with Allow; on a missing path: 404", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const r = await app.request("/api/v1/host", { method });
      expect(r.status, method).toBe(405);
      expect(r.headers.get("allow")).toBe("GET, HEAD");
      expect(await r.json()).toEqual({ error: `method ${method} is not allowed on /api/v1/host: use GET` });
    }
    expect((await app.request("/metrics", { method: "POST" })).status).toBe(405);
    expect((await app.request("/api/v1/nope", { method: "POST" })).status).toBe(404);
    expect((await app.request("/nope", { method: "DELETE" })).status).toBe(404);
    expect((await app.request("/api/v1/host")).status).toBe(200);
  });
});

describe("messages name the file and field, not library internals", () => {
  it("an unknown field in the web config lists the fields there are", () => {
    const f = join(dir, "web.yml");
    writeFileSync(f, "tls_server_config:\n  cert_file: /a\n  key_file: /b\nbasic_auth_user: {}\n");
    expect(() => loadWebConfig(f)).toThrow(
      /web\.yml:4: basic_auth_user: unknown field, did you mean "basic_auth_users"\?/,
    );
    writeFileSync(f, "zzz: 1\n");
    expect(() => loadWebConfig(f)).toThrow(
      "web.yml:1: zzz: unknown field (expected one of: tls_server_config, basic_auth_users, http_server_config)",
    );
  });

  it("deep nesting is 'nested too deeply', not a stack overflow", () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    let yamlMsg = "";
    try {
      parseAlertConfig(`rules: ${deep}\n`, "a.yaml");
    } catch (e) {
      yamlMsg = (e as Error).message;
    }
    expect(yamlMsg).toMatch(/^a\.yaml/);
    expect(yamlMsg).not.toMatch(/call stack|RangeError/i);
    expect(() => parseSnapshotJson(deep, "s.json")).toThrow(/invalid fleet snapshot/);
    try {
      parseSnapshotJson(deep, "s.json");
    } catch (e) {
      expect((e as Error).message).not.toMatch(/call stack/i);
    }
  });
});
