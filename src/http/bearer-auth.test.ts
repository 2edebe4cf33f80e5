import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { bearerAuth, tokenDigest, tokenMatches } from "./bearer-auth.js";

const TOKEN = "0123456789abcdef0123456789abcdef";
const digest = tokenDigest(TOKEN);

describe("tokenMatches", () => {
  it("the exact token after `Bearer ` (scheme in any case), trailing blanks allowed", () => {
    expect(tokenMatches(`Bearer ${TOKEN}`, digest)).toBe(true);
    expect(tokenMatches(`bearer ${TOKEN}`, digest)).toBe(true);
    expect(tokenMatches(`BEARER ${TOKEN}`, digest)).toBe(true);
    expect(tokenMatches(`Bearer ${TOKEN} \t`, digest)).toBe(true);
  });

  it("refuses any other token, scheme or spacing", () => {
    for (const h of [
      undefined,
      "",
      "Bearer",
      "Bearer ",
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}0`,
      `Bearer  ${TOKEN}`,
      ` Bearer ${TOKEN}`,
      `Bearer ${TOKEN} x`,
      `Basic ${TOKEN}`,
      TOKEN,
    ])
      expect(tokenMatches(h, digest), String(h)).toBe(false);
  });

  it("takes any printable ASCII token (hono/bearer-auth would refuse these as a malformed header)", () => {
    const odd = "p@ss!w0rd#$%&*()[]{}<>?|^`'\"";
    expect(tokenMatches(`Bearer ${odd}`, tokenDigest(odd))).toBe(true);
    // An empty token has a digest too: a missing header must still not match it.
    expect(tokenMatches(undefined, tokenDigest(""))).toBe(false);
    expect(tokenMatches("Bearer ", tokenDigest(""))).toBe(false);
  });

  it("keeps a SHA-256 digest only", () => {
    // echo -n 0123456789abcdef0123456789abcdef | sha256sum
    expect(digest.toString("hex")).toBe("3eb1bd439947eb762998e566ccc2e099c791118b2f40579cc4f7da2b5061b7f9");
  });
});

describe("bearerAuth (middleware)", () => {
  const app = new Hono();
  app.use("*", bearerAuth(digest, "vsteal controller"));
  app.post("/do", (c) => c.json({ done: true }, 202));

  it("401: JSON, a Bearer challenge with the realm", async () => {
    for (const auth of [undefined, "Bearer nope", `Basic ${TOKEN}`]) {
      const r = await app.request("/do", { method: "POST", headers: auth ? { Authorization: auth } : {} });
      expect(r.status, auth).toBe(401);
      expect(Object.fromEntries(r.headers.entries())).toEqual({
        "content-type": "application/json",
        "www-authenticate": 'Bearer realm="vsteal controller"',
      });
      expect(await r.json()).toEqual({ error: "unauthorized: this endpoint needs Authorization: Bearer <token>" });
    }
  });

  it("the token passes to the routes", async () => {
    const r = await app.request("/do", { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(202);
    expect(await r.json()).toEqual({ done: true });
  });
});
