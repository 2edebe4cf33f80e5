/**
 * GET /api/v1/fleet: the fleet as the dashboard shows it, in one small answer that is always 200 —
 * every audit kept (time, status, why it failed), each host's figures over the successful ones
 * (compact points), and each host and VM at the last audit when it succeeded.
 */
import { Hono } from "hono";
import type { FleetHostSeries, FleetResponse } from "./api-types.js";
import type { Controller } from "./controller.js";

export type { FleetHostPoint, FleetHostSeries } from "./api-types.js";

export function fleetView(c: Controller, intervalS: number): FleetResponse {
  const hosts = new Map<string, FleetHostSeries>();
  // Hosts in the order of the newest snapshot that has them; facts (cpus, …) from their newest point.
  for (let i = c.fleetSeries.length - 1; i >= 0; i--) {
    for (const h of c.fleetSeries[i]?.hosts ?? []) {
      if (!hosts.has(h.name))
        hosts.set(h.name, {
          name: h.name,
          cpus: h.cpus,
          reserved_cpus: h.reserved_cpus,
          capacity: h.capacity,
          accepts_vms: h.accepts_vms,
          points: [],
        });
    }
  }
  for (const p of c.fleetSeries) {
    for (const h of p.hosts)
      hosts.get(h.name)?.points.push([p.timeMs, h.demand, h.capacity, h.contention, h.throttled, h.usage]);
  }
  const last = c.last;
  const snap = last?.status === "ok" ? c.snapshot : null;
  // The newest point is the last audit's when it succeeded: its hosts are the current ones.
  const newest = c.fleetSeries.at(-1);
  return {
    time: Date.now(),
    interval_s: intervalS,
    audits: c.history.map((a) => ({
      id: a.id,
      time: Date.parse(a.time),
      status: a.status,
      reason: a.error?.reason ?? null,
      message: a.error?.message ?? null,
    })),
    hosts: [...hosts.values()],
    // Moves done and what they did (measured once settled), and the pairs blocked by them.
    effects: {
      pending: c.effects.pending.map((p) => ({
        plan_id: p.plan_id,
        vm: p.vm,
        from: p.from,
        to: p.to,
        done: p.done_ms,
      })),
      judged: c.effects.judged.slice(-20).reverse(),
      blocked_pairs: c.effects.blocked,
    },
    current:
      snap && last && newest?.audit === last.id
        ? {
            audit: last.id,
            time: Date.parse(snap.time),
            window_s: snap.window_s,
            hosts: newest.hosts,
            vms: c.snapshotVms,
          }
        : null,
  };
}

export function fleetApi(c: Controller, intervalS: number): Hono {
  const api = new Hono();
  api.get("/fleet", (ctx) => ctx.json(fleetView(c, intervalS)));
  return api;
}
