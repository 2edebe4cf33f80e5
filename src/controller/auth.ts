/**
 * Bearer tokens for the controller's endpoints that change anything (approving a plan). The
 * token comes from a file or the environment, is never logged, and is compared in constant
 * time: both sides are hashed with SHA-256 and the digests compared with timingSafeEqual, so
 * neither the token's length nor a common prefix leaks through timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { BoundedReadError, LIMITS, readTextFileBounded } from "../util/bounded-read.js";
import type { MiddlewareHandler } from "hono";

export const TOKEN_ENV = "VSTEAL_CONTROLLER_TOKEN";

const sha256 = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

export class TokenError extends Error {}

/** The token from `file` (first line, trimmed), else from $VSTEAL_CONTROLLER_TOKEN; kept only as its digest. */
export function loadTokenDigest(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Buffer {
  const token = readToken(file, env, "apply mode needs a bearer token for its approval endpoint");
  if (token.length < 16)
    throw new TokenError("the bearer token is too short: use at least 16 characters (e.g. openssl rand -hex 32)");
  // A token a client cannot send in "Authorization: Bearer TOKEN" would lock everyone out.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new TokenError(
      `the bearer token${file ? ` in ${file}` : ""} holds spaces or characters a header cannot carry: use printable ASCII without spaces (e.g. openssl rand -hex 32)`,
    );
  }
  return sha256(token);
}

/** The token itself (for a client of the controller's API); `needed` says what for when there is none. */
export function readToken(file: string | undefined, env: NodeJS.ProcessEnv, needed: string): string {
  let token: string | undefined;
  if (file) {
    try {
      token = readTextFileBounded(file, LIMITS.token, "the token file").split("\n")[0]?.trim();
    } catch (e) {
      if (e instanceof BoundedReadError) throw new TokenError(e.message);
      throw e;
    }
  } else {
    token = env[TOKEN_ENV]?.trim();
  }
  if (!token) throw new TokenError(`${needed}: --token-file FILE or $${TOKEN_ENV}`);
  return token;
}

export function tokenMatches(header: string | undefined, digest: Buffer): boolean {
  const m = /^Bearer ([^\s]+)\s*$/i.exec(header ?? "");
  // Hash even when there is no token, so a missing header costs the same.
  const given = sha256(m?.[1] ?? "");
  return timingSafeEqual(given, digest) && m !== null;
}

/** 401 for every request without the right bearer token. */
export function requireBearer(digest: Buffer): MiddlewareHandler {
  return async (ctx, next) => {
    if (!tokenMatches(ctx.req.header("Authorization"), digest)) {
      ctx.header("WWW-Authenticate", 'Bearer realm="vsteal controller"');
      return ctx.json({ error: "unauthorized: this endpoint needs Authorization: Bearer <token>" }, 401);
    }
    await next();
  };
}
