import { serve, type ServerType } from "@hono/node-server";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mountDashboard } from "./dashboard.js";

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** The dashboard's security headers, exactly (and no other header of hono/secure-headers). */
const SECURITY = {
  "content-security-policy": CSP,
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const headersOf = (r: Response): Record<string, string> => Object.fromEntries(r.headers.entries());

const INDEX = '<!doctype html><title>vsteal</title><script type="module" src="/app-ABCD1234.js"></script>';
const SECRET = "top secret, outside the web root";

let dir: string;
let root: string;

function app(webRoot = root): Hono {
  const a = new Hono();
  a.get("/api/v1/health", (c) => c.json({ status: "ok" }));
  mountDashboard(a, { webRoot });
  a.notFound((c) => c.text("Not found\n", 404));
  return a;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vsteal-static-"));
  root = join(dir, "web");
  mkdirSync(root);
  writeFileSync(join(dir, "secret.txt"), SECRET);
  writeFileSync(join(dir, "secret.js"), SECRET);
  writeFileSync(join(root, "index.html"), INDEX);
  writeFileSync(join(root, "app-ABCD1234.js"), "console.log(1)");
  writeFileSync(join(root, "app-ABCD1234.css"), "body{}");
  writeFileSync(join(root, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
  writeFileSync(join(root, ".hidden.js"), SECRET);
  writeFileSync(join(root, "notes.md"), SECRET);
  mkdirSync(join(root, "sub"));
  writeFileSync(join(root, "sub", "inner.js"), SECRET);
  symlinkSync(join(dir, "secret.js"), join(root, "link.js"));
  symlinkSync("/etc/passwd", join(root, "passwd.txt"));
  symlinkSync(dir, join(root, "up"));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("mountDashboard", () => {
  it("serves index.html at / with a strict CSP and no caching", async () => {
    const r = await app().request("/");
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(INDEX);
    expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(r.headers.get("cache-control")).toBe("no-cache");
    expect(headersOf(r)).toEqual({
      ...SECURITY,
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-cache",
      etag: expect.stringMatching(/^"[A-Za-z0-9_-]{27}"$/),
    });
  });

  it("serves built assets with their content type; hashed names are cached for good", async () => {
    const js = await app().request("/app-ABCD1234.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const css = await app().request("/app-ABCD1234.css?v=1");
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    const svg = await app().request("/favicon.svg");
    expect(svg.headers.get("content-type")).toBe("image/svg+xml");
    expect(svg.headers.get("cache-control")).toBe("no-cache");
  });

  it("answers a matching If-None-Match with 304, and HEAD without a body", async () => {
    const a = app();
    const first = await a.request("/app-ABCD1234.js");
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await a.request("/app-ABCD1234.js", { headers: { "if-none-match": etag ?? "" } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    expect(headersOf(again)).toEqual({
      ...SECURITY,
      "cache-control": "public, max-age=31536000, immutable",
      etag: etag ?? "",
    });
    const listed = await a.request("/app-ABCD1234.js", { headers: { "if-none-match": `"other", ${etag ?? ""}` } });
    expect(listed.status).toBe(304);
    const weak = await a.request("/app-ABCD1234.js", { headers: { "if-none-match": `W/${etag ?? ""}` } });
    expect(weak.status).toBe(200);
    const head = await a.request("/", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("leaves the API alone", async () => {
    const r = await app().request("/api/v1/health");
    expect(await r.json()).toEqual({ status: "ok" });
  });

  const hostile = [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/..%2fsecret.txt",
    "/..%5csecret.txt",
    "/%2e%2e%5csecret.txt",
    "/.%2e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/..",
    "/%2e%2e",
    "/.",
    "/%2e",
    "/up/secret.txt",
    "/up%2fsecret.txt",
    "/link.js",
    "/passwd.txt",
    "/sub/inner.js",
    "/sub%2finner.js",
    "/sub%2Finner.js",
    "/sub",
    "/.hidden.js",
    "/notes.md",
    "/index.html%00",
    "/index.html%00.js",
    "/%00",
    "/app-ABCD1234.js/",
    "/app-ABCD1234.js/..",
    "/__proto__",
    "/constructor",
    "/hasOwnProperty",
    "/%2fetc%2fpasswd",
    "//etc/passwd",
    "/%c0%ae%c0%ae/secret.txt",
  ];

  it.each(hostile)("does not serve %s (through the app)", async (path) => {
    const r = await app().request(path);
    const body = await r.text();
    expect(body).not.toContain("secret");
    expect(body).not.toContain("root:");
    // A URL parser folds `/.` and `/%2e` into `/`: that is the index page, nothing else.
    if (r.status === 200) expect(body).toBe(INDEX);
    else expect([404, 400]).toContain(r.status);
  });

  describe("over a real socket (no URL normalisation by a client)", () => {
    let server: ServerType;
    let port = 0;
    beforeAll(async () => {
      await new Promise<void>((resolve) => {
        server = serve({ fetch: app().fetch, hostname: "127.0.0.1", port: 0 }, (info: AddressInfo) => {
          port = info.port;
          resolve();
        });
      });
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    function raw(path: string): Promise<string> {
      return new Promise((resolve, reject) => {
        const s = connect(port, "127.0.0.1");
        let out = "";
        s.setEncoding("latin1");
        s.on("data", (d: string) => (out += d));
        s.on("end", () => resolve(out));
        s.on("error", reject);
        s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      });
    }

    it("serves / and an asset", async () => {
      expect(await raw("/")).toMatch(/^HTTP\/1\.1 200/);
      expect(await raw("/app-ABCD1234.js")).toMatch(/^HTTP\/1\.1 200/);
    });

    it.each([...hostile, "/../../../../etc/passwd", "/..\\..\\secret.txt", "/./../secret.js", "/a/../../secret.js"])(
      "does not serve %s",
      async (path) => {
        const r = await raw(path);
        expect(r).not.toContain(SECRET);
        expect(r).not.toContain("root:");
        // The URL parser may fold `/../x` into `/x` (an unknown name: 404) and `/.` into `/`.
        if (/^HTTP\/1\.1 200/.test(r)) expect(r.endsWith(INDEX)).toBe(true);
        else expect(r).toMatch(/^HTTP\/1\.1 (400|404)/);
      },
    );
  });

  it("says how to build the dashboard when it is missing", async () => {
    const r = await app(join(dir, "nope")).request("/");
    expect(r.status).toBe(503);
    expect(await r.text()).toBe(
      `The vsteal dashboard is not built (no index.html in ${join(dir, "nope")}).\n` +
        "Build it with `npm run build` (or `node scripts/build-web.mjs`) and restart the agent.\n" +
        "The JSON API is at /api/v1/host, /api/v1/domains and /api/v1/health.\n",
    );
    expect(headersOf(r)).toEqual({
      ...SECURITY,
      "cache-control": "no-cache",
      "content-type": "text/plain; charset=UTF-8",
    });
    expect((await app(join(dir, "nope")).request("/app.js")).status).toBe(404);
  });

  it("a name it does not have is the app's own 404, without the dashboard's headers", async () => {
    const r = await app().request("/nope.js");
    expect(r.status).toBe(404);
    expect(await r.text()).toBe("Not found\n");
    expect(headersOf(r)).toEqual({ "content-type": "text/plain; charset=UTF-8" });
    // Percent-encoded letters are the same name (Hono decodes the path before routing).
    expect((await app().request("/favicon%2Esvg")).status).toBe(200);
  });
});
