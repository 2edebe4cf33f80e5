import { Hono } from "hono";
import { controllerApi, type ControllerInfo } from "./api.js";
import type { Controller } from "./controller.js";
import { controllerMetrics } from "./metrics.js";
import { applyApi, type PairUnblocker, type PlanApplier } from "./apply-mode.js";
import { fleetApi } from "./fleet-api.js";
import { maintenanceApi, type MaintenanceApiOptions } from "./maintenance-api.js";
import { finishApp } from "../http/app.js";
import { mountDashboard } from "../http/dashboard.js";
import { responseHeaders } from "../http/security-headers.js";

export const DEFAULT_CONTROLLER_LISTEN = "127.0.0.1:9978";

/** The controller's HTTP app: /metrics, /api/v1/… and the dashboard at /. */
export function buildControllerApp(
  c: Controller,
  info: ControllerInfo,
  apply?: {
    applier: PlanApplier;
    tokenDigest: Buffer;
    pairs?: PairUnblocker;
    maintenance?: Omit<MaintenanceApiOptions, "applier" | "tokenDigest">;
  },
  opts: { webRoot?: string } = {},
): Hono {
  const app = new Hono();
  const registry = controllerMetrics(c);
  app.use("*", responseHeaders());
  app.get("/metrics", async (ctx) => ctx.body(await registry.metrics(), 200, { "Content-Type": registry.contentType }));
  // Apply mode first: its POST routes (bearer token) must not fall into the read-only API's 404.
  if (apply?.maintenance)
    app.route(
      "/api/v1",
      maintenanceApi({ ...apply.maintenance, applier: apply.applier, tokenDigest: apply.tokenDigest }),
    );
  if (apply) app.route("/api/v1", applyApi(apply.applier, apply.tokenDigest, apply.pairs));
  app.route("/api/v1", fleetApi(c, info.interval_s));
  app.route("/api/v1", controllerApi(c, info));
  // The dashboard (dist/web), opening on its fleet view: the same files and headers as the agent's.
  mountDashboard(app, { webRoot: opts.webRoot, server: "controller" });
  return finishApp(app);
}
