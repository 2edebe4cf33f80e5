import { Hono } from "hono";
import { finishApp } from "../http/app.js";
import { basicAuth } from "../http/basic-auth.js";
import { responseHeaders } from "../http/security-headers.js";
import type { LoadedWebConfig } from "../http/web-config.js";
import { apiRoutes, type ApiDeps } from "./api.js";
import { Exporter } from "./metrics.js";

export interface ServerOptions extends ApiDeps {
  telemetryPath: string;
  web: LoadedWebConfig | null;
  /** Extra routes (the dashboard) mounted at /. */
  mount?: (app: Hono) => void;
}

/** The agent's HTTP app: the metrics path, /api/v1/… and the dashboard (or a plain index) at /. */
export function buildApp(opts: ServerOptions): Hono {
  const app = new Hono();
  const exporter = new Exporter(opts.collector);
  const users = opts.web?.config.basic_auth_users;
  // Auth first: a stranger's 401 passes no other middleware (it carries no other header).
  if (users && Object.keys(users).length > 0) app.use("*", basicAuth(users, "vsteal"));
  app.use("*", responseHeaders(opts.web?.config.http_server_config?.headers));
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
  return finishApp(app);
}
