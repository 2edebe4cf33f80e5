import bcrypt from "bcryptjs";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { finishApp } from "./app.js";
import { basicAuth } from "./basic-auth.js";

const headersOf = (r: Response): Record<string, string> => Object.fromEntries(r.headers.entries());

function app(): Hono {
  const a = new Hono();
  a.get("/metrics", (c) => c.text("m"));
  a.get("/api/v1/host", (c) => c.json({}));
  // Exists for GET only with ?ok: the probe must keep the query.
  a.get("/api/v1/q", (c) => (c.req.query("ok") !== undefined ? c.json({}) : c.notFound()));
  a.get("/boom", () => {
    throw new Error("disk on fire");
  });
  return finishApp(a);
}

describe("finishApp: the app-wide 404, 405 and 500", () => {
  it("404: JSON under /api/, text elsewhere, for every method", async () => {
    for (const method of ["GET", "HEAD", "POST", "DELETE"]) {
      const api = await app().request("/api/v1/nope", { method });
      expect(api.status, method).toBe(404);
      expect(headersOf(api)).toEqual({ "content-type": "application/json" });
      if (method !== "HEAD") expect(await api.json()).toEqual({ error: "no such API endpoint: /api/v1/nope" });
      const page = await app().request("/nope", { method });
      expect(page.status, method).toBe(404);
      expect(headersOf(page)).toEqual({ "content-type": "text/plain; charset=UTF-8" });
      if (method !== "HEAD") expect(await page.text()).toBe("Not found\n");
    }
    // /api alone is not under /api/.
    expect(await (await app().request("/api")).text()).toBe("Not found\n");
  });

  it("405 with Allow: GET, HEAD on a path that exists for GET, in the same two shapes", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
      const api = await app().request("/api/v1/host", { method });
      expect(api.status, method).toBe(405);
      expect(headersOf(api)).toEqual({ allow: "GET, HEAD", "content-type": "application/json" });
      expect(await api.json()).toEqual({ error: `method ${method} is not allowed on /api/v1/host: use GET` });
      const page = await app().request("/metrics", { method });
      expect(page.status, method).toBe(405);
      expect(headersOf(page)).toEqual({ allow: "GET, HEAD", "content-type": "text/plain; charset=UTF-8" });
      expect(await page.text()).toBe(`Method ${method} not allowed: use GET\n`);
    }
  });

  it("the GET it asks keeps the query: a path that is there only with it is 405 with it, 404 without", async () => {
    expect((await app().request("/api/v1/q?ok", { method: "POST" })).status).toBe(405);
    expect((await app().request("/api/v1/q", { method: "POST" })).status).toBe(404);
  });

  it("the GET it asks carries the request's headers: behind basic auth, a stranger learns nothing", async () => {
    const a = new Hono();
    a.use("*", basicAuth({ u: bcrypt.hashSync("pw", 4) }, "t"));
    a.get("/metrics", (c) => c.text("m"));
    finishApp(a);
    const good = { Authorization: `Basic ${Buffer.from("u:pw").toString("base64")}` };
    expect((await a.request("/metrics", { method: "POST", headers: good })).status).toBe(405);
    expect((await a.request("/nope", { method: "POST", headers: good })).status).toBe(404);
    expect((await a.request("/metrics", { method: "POST" })).status).toBe(401);
    expect((await a.request("/nope", { method: "POST" })).status).toBe(401);
  });

  it("500: the handler's message, as JSON", async () => {
    const r = await app().request("/boom");
    expect(r.status).toBe(500);
    expect(headersOf(r)).toEqual({ "content-type": "application/json" });
    expect(await r.json()).toEqual({ error: "internal error: disk on fire" });
  });
});
