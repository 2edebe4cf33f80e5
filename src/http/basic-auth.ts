/**
 * HTTP basic auth against the bcrypt hashes of the web config (basic_auth_users), as the
 * Prometheus exporter toolkit does it. Hand-written rather than hono/basic-auth: that one
 * parses the header differently (it takes `basic` in any case and a password only up to a line
 * break), throws an HTTPException where vsteal answers 401 itself, and compares plain strings,
 * not bcrypt hashes with a dummy hash for unknown users.
 */
import bcrypt from "bcryptjs";
import { createHash, randomBytes } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { bcryptCost } from "./web-config.js";

/**
 * The hash an unknown user's password is compared with: of the cost most users have, so
 * that an unknown name costs as much as a known one (a fixed cost-10 dummy next to cost-4
 * hashes told names apart by timing). Made once, at start.
 */
export function dummyHashFor(users: Record<string, string>): string {
  const counts = new Map<number, number>();
  for (const h of Object.values(users)) {
    const c = bcryptCost(h);
    if (Number.isInteger(c)) counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const cost = [...counts].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]?.[0] ?? 10;
  return bcrypt.hashSync(randomBytes(16).toString("hex"), cost);
}

/**
 * Whether an Authorization header holds a user's password; remembers good credentials (bcrypt
 * is slow by design), by their SHA-256 only, never in the clear.
 */
export function basicAuthChecker(users: Record<string, string>): (header: string | undefined) => Promise<boolean> {
  const good = new Map<string, number>();
  const sha = (s: string): Buffer => createHash("sha256").update(s).digest();
  const dummy = dummyHashFor(users);

  return async (header) => {
    if (!header?.startsWith("Basic ")) return false;
    const key = sha(header).toString("hex");
    if (good.has(key)) return true;
    let decoded: string;
    try {
      decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
    } catch {
      return false;
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const hash = Object.hasOwn(users, user) ? users[user] : undefined;
    // Compare against a dummy hash for unknown users too, so timing does not reveal who exists.
    const ok = await bcrypt.compare(decoded.slice(colon + 1), hash ?? dummy);
    if (ok && hash !== undefined) {
      if (good.size > 100) good.clear();
      good.set(key, Date.now());
      return true;
    }
    return false;
  };
}

/**
 * 401 `Unauthorized` (text, with `WWW-Authenticate: Basic realm="…"`) for every request without
 * a user's password. Install it first, so that nothing else runs for a stranger.
 */
export function basicAuth(users: Record<string, string>, realm: string): MiddlewareHandler {
  const check = basicAuthChecker(users);
  const challenge = `Basic realm="${realm}"`;
  return async (c, next) => {
    if (!(await check(c.req.header("authorization")))) {
      return c.text("Unauthorized\n", 401, { "WWW-Authenticate": challenge });
    }
    await next();
  };
}
