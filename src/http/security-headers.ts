/**
 * The headers every answer of both servers carries, and the dashboard's.
 *
 * Set with c.header(), not with hono/secure-headers: that middleware writes into c.res.headers,
 * which on @hono/node-server's lightweight responses changes what goes on the wire (HEAD answers
 * lose the header, `Content-Length` is sent in another case); c.header() after the handler makes
 * a full Response first. Its defaults (HSTS, Origin-Agent-Cluster, X-XSS-Protection, …) are not
 * vsteal's either.
 */
import type { Context, MiddlewareHandler } from "hono";

/**
 * `X-Content-Type-Options: nosniff` on every answer, then the operator's own headers (the web
 * config's http_server_config.headers), which win over any header of the same name.
 */
export function responseHeaders(extra: Readonly<Record<string, string>> = {}): MiddlewareHandler {
  const headers = Object.entries(extra);
  return async (c, next) => {
    await next();
    c.header("X-Content-Type-Options", "nosniff");
    for (const [k, v] of headers) c.header(k, v);
  };
}

/**
 * The dashboard needs nothing but its own files and the server's API: no inline script or style,
 * no other origin, no frames, no forms.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The dashboard's own headers, on each of its answers (its files, their 304s, its 503). */
export function setDashboardHeaders(c: Context): void {
  c.header("Content-Security-Policy", DASHBOARD_CSP);
  c.header("X-Frame-Options", "DENY");
  c.header("Referrer-Policy", "no-referrer");
  c.header("Cross-Origin-Opener-Policy", "same-origin");
  c.header("Cross-Origin-Resource-Policy", "same-origin");
}
