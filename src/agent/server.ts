import { serve, type ServerType } from "@hono/node-server";
import bcrypt from "bcryptjs";
import { createHash, randomBytes } from "node:crypto";
import type { Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { Hono, type NotFoundHandler } from "hono";
import { apiRoutes, type ApiDeps } from "./api.js";
import { Exporter } from "./metrics.js";
import { bcryptCost, type LoadedWebConfig } from "./webconfig.js";

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
 * path. Install it last: `app.notFound(notFoundFor(app))`.
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

export const DEFAULT_PORT = 9977;
export const DEFAULT_LISTEN = `127.0.0.1:${DEFAULT_PORT}`;

/** `host:port`, `[v6]:port` or `:port` (every interface, as Prometheus exporters take it). */
export function parseListenAddress(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new Error(
      `--web.listen-address ${JSON.stringify(s)}: expected host:port, e.g. ${DEFAULT_LISTEN} or :${DEFAULT_PORT}`,
    );
  const host = m[1] ?? (m[2] === "" ? "0.0.0.0" : (m[2] ?? "127.0.0.1"));
  return { host, port };
}

export interface ServerOptions extends ApiDeps {
  telemetryPath: string;
  web: LoadedWebConfig | null;
  /** Extra routes (the dashboard) mounted at /. */
  mount?: (app: Hono) => void;
}

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

/** Checks basic auth against bcrypt hashes; remembers good credentials (bcrypt is slow by design). */
function basicAuth(users: Record<string, string>) {
  const good = new Map<string, number>();
  const sha = (s: string): Buffer => createHash("sha256").update(s).digest();
  const dummy = dummyHashFor(users);

  return async (header: string | undefined): Promise<boolean> => {
    if (!header?.startsWith("Basic ")) return false;
    // Good credentials are remembered by their SHA-256 only, never in the clear.
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

export function buildApp(opts: ServerOptions): Hono {
  const app = new Hono();
  const exporter = new Exporter(opts.collector);
  const users = opts.web?.config.basic_auth_users;
  const headers = opts.web?.config.http_server_config?.headers ?? {};
  if (users && Object.keys(users).length > 0) {
    const check = basicAuth(users);
    app.use("*", async (c, next) => {
      if (!(await check(c.req.header("authorization")))) {
        return c.text("Unauthorized\n", 401, { "WWW-Authenticate": 'Basic realm="vsteal"' });
      }
      await next();
    });
  }
  app.use("*", async (c, next) => {
    await next();
    c.header("X-Content-Type-Options", "nosniff");
    for (const [k, v] of Object.entries(headers)) c.header(k, v);
  });
  app.get(opts.telemetryPath, async (c) => {
    const gzip = /\bgzip\b/.test(c.req.header("accept-encoding") ?? "");
    const r = exporter.render(Exporter.wantsOpenMetrics(c.req.header("accept")), gzip);
    const body = await r.body;
    return c.body(body, 200, {
      "Content-Type": r.contentType,
      ...(gzip ? { "Content-Encoding": "gzip", Vary: "Accept-Encoding" } : {}),
    });
  });
  app.route("/api/v1", apiRoutes(opts));
  if (opts.mount) opts.mount(app);
  else {
    app.get("/", (c) =>
      c.html(
        `<!doctype html><title>vsteal agent</title><h1>vsteal agent</h1><p><a href="${opts.telemetryPath}">Metrics</a> · <a href="/api/v1/host">Host</a> · <a href="/api/v1/domains">Domains</a></p>`,
      ),
    );
  }
  app.notFound(notFoundFor(app));
  app.onError((err, c) => c.json({ error: `internal error: ${err.message}` }, 500));
  return app;
}

/** Starts listening; resolves with the server and the address it got (port 0 picks a free one). */
export function listen(
  app: Hono,
  address: string,
  web: LoadedWebConfig | null,
): Promise<{ server: ServerType; host: string; port: number; url: string }> {
  const { host, port } = parseListenAddress(address);
  return new Promise((resolve, reject) => {
    const tls = web?.tls;
    const server = serve(
      {
        fetch: app.fetch,
        hostname: host,
        port,
        ...(tls
          ? {
              createServer: createHttpsServer,
              serverOptions: {
                cert: tls.cert,
                key: tls.key,
                ...(tls.ca ? { ca: tls.ca } : {}),
                requestCert: tls.requestCert,
                rejectUnauthorized: tls.requestCert,
                ...(tls.minVersion ? { minVersion: tls.minVersion } : {}),
              },
            }
          : {}),
      },
      (info: AddressInfo) => {
        const h = info.family === "IPv6" ? `[${info.address}]` : info.address;
        resolve({ server, host: info.address, port: info.port, url: `${tls ? "https" : "http"}://${h}:${info.port}` });
      },
    );
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          e.code === "EADDRINUSE"
            ? `${address} is in use: pick another --web.listen-address`
            : `cannot listen on ${address}: ${e.message}`,
        ),
      ),
    );
    // Slow or stuck clients must not hold connections forever.
    const http = server as HttpServer;
    http.headersTimeout = 10_000;
    http.requestTimeout = 30_000;
    http.keepAliveTimeout = 5_000;
  });
}
