/**
 * Bearer tokens, compared in constant time: both sides are hashed with SHA-256 and the digests
 * compared with timingSafeEqual, so neither the token's length nor a common prefix leaks through
 * timing; the server keeps only the digest. Hand-written rather than hono/bearer-auth: that one
 * takes only tokens of [A-Za-z0-9._~+/-] (vsteal takes any printable ASCII), answers a malformed
 * header with 400 and other WWW-Authenticate challenges, and throws an HTTPException.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";

/** What a server keeps of its token. */
export const tokenDigest = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

/** Whether `Authorization: Bearer TOKEN` (the scheme in any case) holds the token of `digest`. */
export function tokenMatches(header: string | undefined, digest: Buffer): boolean {
  const m = /^Bearer ([^\s]+)\s*$/i.exec(header ?? "");
  // Hash even when there is no token, so a missing header costs the same.
  const given = tokenDigest(m?.[1] ?? "");
  return timingSafeEqual(given, digest) && m !== null;
}

/** 401 (JSON, with `WWW-Authenticate: Bearer realm="…"`) for every request without the right token. */
export function bearerAuth(digest: Buffer, realm: string): MiddlewareHandler {
  const challenge = `Bearer realm="${realm}"`;
  return async (ctx, next) => {
    if (!tokenMatches(ctx.req.header("Authorization"), digest)) {
      ctx.header("WWW-Authenticate", challenge);
      return ctx.json({ error: "unauthorized: this endpoint needs Authorization: Bearer <token>" }, 401);
    }
    await next();
  };
}
