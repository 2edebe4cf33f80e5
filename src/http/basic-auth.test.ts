import bcrypt from "bcryptjs";
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import { basicAuth, basicAuthChecker } from "./basic-auth.js";
import { bcryptCost } from "./web-config.js";

const users = { prometheus: bcrypt.hashSync("s3cret:with colon", 4), other: bcrypt.hashSync("pw", 4) };
const basic = (s: string) => `Basic ${Buffer.from(s, "utf8").toString("base64")}`;

afterEach(() => vi.restoreAllMocks());

describe("basicAuthChecker", () => {
  it("takes a user's own password (up to the first colon is the name), nothing else", async () => {
    const check = basicAuthChecker(users);
    expect(await check(basic("prometheus:s3cret:with colon"))).toBe(true);
    expect(await check(basic("other:pw"))).toBe(true);
    expect(await check(basic("other:s3cret:with colon"))).toBe(false);
    expect(await check(basic("prometheus:s3cret"))).toBe(false);
    expect(await check(basic("prometheus"))).toBe(false);
    expect(await check(basic(":pw"))).toBe(false);
    expect(await check(basic("nobody:pw"))).toBe(false);
    expect(await check(basic("__proto__:pw"))).toBe(false);
    expect(await check(undefined)).toBe(false);
    expect(await check("")).toBe(false);
    expect(await check(`Bearer ${Buffer.from("other:pw").toString("base64")}`)).toBe(false);
  });

  it("the scheme is `Basic ` exactly, as the agent always took it", async () => {
    const check = basicAuthChecker(users);
    const b64 = Buffer.from("other:pw").toString("base64");
    expect(await check(`basic ${b64}`)).toBe(false);
    expect(await check(`BASIC ${b64}`)).toBe(false);
    expect(await check(` Basic ${b64}`)).toBe(false);
    // Node's base64 decoder skips what is not base64 (here the second space).
    expect(await check(`Basic  ${b64}`)).toBe(true);
  });

  it("an unknown user costs a bcrypt compare with a dummy hash of the users' cost", async () => {
    const compare = vi.spyOn(bcrypt, "compare");
    const check = basicAuthChecker(users);
    expect(await check(basic("nobody:pw"))).toBe(false);
    expect(compare).toHaveBeenCalledTimes(1);
    const [password, hash] = compare.mock.calls[0]!;
    expect(password).toBe("pw");
    expect(Object.values(users)).not.toContain(hash);
    expect(bcryptCost(String(hash))).toBe(4);
  });

  it("good credentials are remembered (bcrypt once), wrong ones never", async () => {
    const compare = vi.spyOn(bcrypt, "compare");
    const check = basicAuthChecker(users);
    for (let i = 0; i < 3; i++) expect(await check(basic("other:pw"))).toBe(true);
    expect(compare).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 3; i++) expect(await check(basic("other:nope"))).toBe(false);
    expect(compare).toHaveBeenCalledTimes(4);
  });
});

describe("basicAuth (middleware)", () => {
  const app = new Hono();
  app.use("*", basicAuth(users, "vsteal"));
  app.use("*", async (c, next) => {
    await next();
    c.header("X-After", "1");
  });
  app.get("/", (c) => c.text("in\n"));

  it("401: text, a Basic challenge with the realm, and no header of the middleware after it", async () => {
    for (const auth of [undefined, basic("other:nope"), "Basic", "Basic !!!"]) {
      const r = await app.request("/", { headers: auth === undefined ? {} : { Authorization: auth } });
      expect(r.status, auth).toBe(401);
      expect(Object.fromEntries(r.headers.entries())).toEqual({
        "content-type": "text/plain; charset=UTF-8",
        "www-authenticate": 'Basic realm="vsteal"',
      });
      expect(await r.text()).toBe("Unauthorized\n");
    }
  });

  it("the right password passes to the routes", async () => {
    const r = await app.request("/", { headers: { Authorization: basic("other:pw") } });
    expect(r.status).toBe(200);
    expect(r.headers.get("x-after")).toBe("1");
    expect(await r.text()).toBe("in\n");
  });
});
