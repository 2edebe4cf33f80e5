/**
 * Bearer tokens for the controller's endpoints that change anything (approving a plan). The
 * token comes from a file or the environment, is never logged, and is kept only as its digest,
 * compared in constant time (src/http/bearer-auth.ts).
 */
import type { MiddlewareHandler } from "hono";
import { bearerAuth, tokenDigest } from "../http/bearer-auth.js";
import { BoundedReadError, LIMITS, readTextFileBounded } from "../util/bounded-read.js";

export const TOKEN_ENV = "VSTEAL_CONTROLLER_TOKEN";

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
  return tokenDigest(token);
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

/** 401 for every request without the right bearer token. */
export function requireBearer(digest: Buffer): MiddlewareHandler {
  return bearerAuth(digest, "vsteal controller");
}
