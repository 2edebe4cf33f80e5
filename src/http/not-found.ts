import type { Hono, NotFoundHandler } from "hono";

/**
 * The app-wide 404: JSON under /api/ (as every other API error), text elsewhere. It must be the
 * app's own: Hono does not use the notFound of a sub-app mounted with app.route().
 */
export const notFound: NotFoundHandler = (c) =>
  c.req.path.startsWith("/api/")
    ? c.json({ error: `no such API endpoint: ${c.req.path}` }, 404)
    : c.text("Not found\n", 404);

/**
 * The app-wide 404, or 405 with `Allow: GET, HEAD` when the path exists for GET (asked of the
 * app itself, with the request's headers, so routing and auth are the real ones). Every path
 * the servers have is read with GET; anything else on it is a wrong method, not a missing
 * path. Install it last: `app.notFound(notFoundFor(app))`, or through finishApp().
 *
 * (Hono's method-not-allowed middleware answers from the route patterns instead: it would say
 * 405 for a file the dashboard does not have, and list the POST routes of apply mode.)
 */
export function notFoundFor(app: Hono): NotFoundHandler {
  return async (c) => {
    const method = c.req.method;
    if (method === "GET" || method === "HEAD") return notFound(c);
    const url = new URL(c.req.url);
    const probe = await app.request(`${url.pathname}${url.search}`, { method: "GET", headers: c.req.raw.headers });
    await probe.body?.cancel().catch(() => undefined);
    if (probe.status === 404) return notFound(c);
    const allow = { Allow: "GET, HEAD" };
    return c.req.path.startsWith("/api/")
      ? c.json({ error: `method ${method} is not allowed on ${c.req.path}: use GET` }, 405, allow)
      : c.text(`Method ${method} not allowed: use GET\n`, 405, allow);
  };
}
