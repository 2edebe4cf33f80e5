/**
 * `vsteal drain HOST` and `vsteal undrain HOST` (docs/maintenance.md): host maintenance.
 *
 * drain: the host is marked drained in the maintenance file (it receives nothing, from this
 * command, the controller or anyone who plans with the file), and every migratable VM on it is
 * live-migrated to where the contention model predicts the rest of the fleet waits least
 * (src/planner/drain.ts), through the executor `vsteal apply` uses: the same limits, timeouts,
 * confirmation, audit log and exit codes, and a recheck before each move. With `--controller`
 * the controller's API does all of it instead.
 *
 * Exit codes: 0 drained (every VM left, or dry run); 1 error before any move; 2 not confirmed;
 * 4 a move failed or was aborted; 5 drained, but some VM could not leave (named on stderr).
 */
import { BoundedReadError, LIMITS, readTextFileBounded } from "../util/bounded-read.js";
import { FleetValidationError, parseSnapshotJson, type FleetSnapshot } from "../model/fleet.js";
import { FileAuditLog } from "../migrate/audit-log.js";
import { virshDriver, type MigrationDriver } from "../migrate/driver.js";
import { executePlan, planId, type ExecuteResult, type MoveOutcome } from "../migrate/executor.js";
import { loadMigrateHosts } from "../migrate/hosts.js";
import { progressLine } from "../migrate/jobinfo.js";
import { applyMaintenance } from "../maintenance/apply.js";
import { drainRecheck } from "../maintenance/drain-recheck.js";
import { checkHostName, drainHost, readMaintenance, undrainHost } from "../maintenance/state-file.js";
import { planDrain, type DrainResult } from "../planner/drain.js";
import { actorName, askTty, ApplyError } from "./apply.js";
import { readToken } from "../controller/auth.js";
import type { Io } from "./io.js";

export interface DrainCliOptions {
  maintenanceFile: string;
  dryRun?: boolean;
  yes?: boolean;
  reason?: string;
  json?: boolean;
  /** Through the controller's API instead of here. */
  controller?: string;
  tokenFile?: string;
  /** Local execution. */
  hosts?: string;
  prometheus?: string;
  snapshot?: string;
  recheck: boolean;
  windowS: number;
  fleetHosts?: string;
  selector?: string;
  requireHeadroom?: boolean;
  timeoutS?: number;
  perHost?: number;
  fleetLimit?: number;
  auditLog: string;
  keepGoing?: boolean;
}

export interface DrainDeps {
  driver?: MigrationDriver;
  tty?: boolean;
  ask?: (question: string) => Promise<string>;
  /** Snapshot source for tests (instead of --prometheus / --snapshot). */
  freshSnapshot?: () => Promise<FleetSnapshot>;
  fetch?: typeof fetch;
}

function readSnapshotFile(file: string): FleetSnapshot {
  let text: string;
  try {
    text = readTextFileBounded(file, LIMITS.fleetJson, "the snapshot");
  } catch (e) {
    if (e instanceof BoundedReadError) throw new ApplyError(e.message);
    throw e;
  }
  try {
    return parseSnapshotJson(text, file);
  } catch (e) {
    if (e instanceof FleetValidationError) throw new ApplyError(`${file}: ${e.message}`);
    throw e;
  }
}

/** What the drain will do, on stderr (and the VMs that stay). */
function describe(io: Io, host: string, d: DrainResult, dryRun: boolean | undefined): void {
  io.err(
    `vsteal drain: ${host}: ${d.plan.moves.length} move(s)${d.unplaced.length ? `, ${d.unplaced.length} VM(s) cannot leave` : ""}${dryRun ? " (dry run)" : ""}`,
  );
  d.plan.moves.forEach((m, i) => io.err(`  ${i + 1}. ${m.vm}: ${m.from} → ${m.to}  (${m.reason})`));
  for (const u of d.unplaced) io.err(`  stays: ${u.vm}: ${u.reason}`);
  io.err(`  ${d.plan.explanation}`);
}

async function confirm(io: Io, o: DrainCliOptions, deps: DrainDeps, moves: number, host: string): Promise<boolean> {
  if (o.dryRun || o.yes) return true;
  const tty = deps.tty ?? Boolean(process.stdin.isTTY && process.stderr.isTTY);
  if (!tty) {
    io.err("vsteal drain: refusing to drain without confirmation: no terminal to ask on; pass --yes");
    return false;
  }
  const answer = await (deps.ask ?? askTty)(
    `Drain ${host} (it will receive no VM until vsteal undrain) and live-migrate ${moves} VM(s) now? [y/N] `,
  );
  if (/^y(es)?$/i.test(answer.trim())) return true;
  io.err("vsteal drain: not confirmed; nothing done");
  return false;
}

function report(
  io: Io,
  o: DrainCliOptions,
  host: string,
  d: DrainResult,
  res: ExecuteResult | null,
  drained: boolean,
): number {
  const outcomes: MoveOutcome[] = res?.outcomes ?? [];
  if (o.json) {
    io.out(
      `${JSON.stringify(
        {
          host,
          drained,
          dry_run: o.dryRun === true,
          maintenance_file: o.maintenanceFile,
          plan_id: res?.planId ?? null,
          audit_log: res ? o.auditLog : null,
          moves: outcomes.map((x) => ({
            ...x.move,
            result: x.result,
            reason: x.reason,
            duration_ms: Math.round(x.durationMs),
            bytes: x.bytes,
          })),
          unplaced: d.unplaced,
          placements: d.placements,
          predicted: d.plan.predicted,
          rest_of_fleet: d.rest_of_fleet,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    for (const x of outcomes)
      io.out(
        `${x.result.padEnd(11)} ${x.move.vm} ${x.move.from}→${x.move.to}  ${(x.durationMs / 1000).toFixed(1)} s  ${x.reason}\n`,
      );
    for (const u of d.unplaced) io.out(`${"stays".padEnd(11)} ${u.vm} ${u.host}  ${u.reason}\n`);
  }
  if (res) io.err(`vsteal drain: audit log ${o.auditLog}`);
  if (drained)
    io.err(`vsteal drain: ${host} is drained: it receives no VM until vsteal undrain ${host} (${o.maintenanceFile})`);
  if ((res?.failures ?? 0) > 0) return 4;
  if (d.unplaced.length > 0 || outcomes.some((x) => x.result === "skipped" || x.result === "not_started"))
    return o.dryRun ? 0 : 5;
  return 0;
}

export async function drain(host: string, o: DrainCliOptions, io: Io, deps: DrainDeps = {}): Promise<number> {
  checkHostName(host);
  if (o.controller) return drainViaController(host, o, io, deps);
  if (!o.hosts)
    throw new ApplyError(
      "vsteal drain needs --hosts FILE (the migration hosts file: how to reach each host's libvirt), or --controller URL to let the controller drain",
    );
  if (o.prometheus && o.snapshot) throw new ApplyError("give one of --prometheus URL or --snapshot FILE, not both");
  const hosts = loadMigrateHosts(o.hosts);
  const maintenance = readMaintenance(o.maintenanceFile);
  let fresh: (() => Promise<FleetSnapshot>) | null = deps.freshSnapshot ?? null;
  if (!fresh && o.prometheus) {
    const url = o.prometheus;
    const { snapshotFromPrometheus } = await import("./prometheus-snapshot.js");
    fresh = () => snapshotFromPrometheus(url, o.windowS, { hostsFile: o.fleetHosts, selector: o.selector });
  }
  let snapshot: FleetSnapshot;
  if (fresh) snapshot = await fresh();
  else if (o.snapshot) snapshot = readSnapshotFile(o.snapshot);
  else
    throw new ApplyError(
      "vsteal drain needs the fleet's state to choose targets: --prometheus URL (the Prometheus that scrapes the agents) or --snapshot FILE",
    );
  if (!fresh && o.recheck) {
    throw new ApplyError(
      "no fresh data to recheck each move against: pass --prometheus URL so every move is rechecked before it starts, or --no-recheck to drain on the snapshot as it is",
    );
  }
  // Other drained hosts receive nothing either.
  const d = planDrain(applyMaintenance(snapshot, maintenance, o.maintenanceFile), host, {
    requireHeadroom: o.requireHeadroom,
  });
  for (const m of d.plan.moves) {
    for (const h of [m.from, m.to])
      if (!hosts.endpoint(h))
        throw new ApplyError(
          `host ${h} (move of ${m.vm}) has no libvirt URI in ${o.hosts}: add it under hosts: or set uri_template`,
        );
  }
  describe(io, host, d, o.dryRun);
  if (!(await confirm(io, o, deps, d.plan.moves.length, host))) return 2;
  let drained = Object.hasOwn(maintenance.hosts, host);
  if (!o.dryRun) {
    await drainHost(o.maintenanceFile, host, actorName(), o.reason ?? null);
    drained = true;
  }
  if (d.plan.moves.length === 0) return report(io, o, host, d, null, drained);

  const id = `drain-${host}-${(await planId(d.plan)).slice(0, 8)}`;
  const tty = deps.tty ?? Boolean(process.stdin.isTTY && process.stderr.isTTY);
  let shown = false;
  const clear = (): void => {
    if (shown) process.stderr.write("\r\x1b[2K");
    shown = false;
  };
  const res = await executePlan(d.plan, {
    planId: id,
    hosts,
    driver: deps.driver ?? virshDriver(),
    audit: new FileAuditLog(o.auditLog),
    actor: actorName(),
    dryRun: o.dryRun,
    recheck:
      o.dryRun && !fresh
        ? null
        : drainRecheck({
            host,
            // A dry run writes no state: recheck as if the host were drained.
            maintenance: () => {
              const s = readMaintenance(o.maintenanceFile);
              return o.dryRun
                ? {
                    version: 1,
                    hosts: { ...s.hosts, [host]: { since: new Date().toISOString(), by: "dry run", reason: null } },
                  }
                : s;
            },
            fresh: o.recheck ? fresh : null,
            requireHeadroom: o.requireHeadroom,
          }),
    timeoutMs: o.timeoutS !== undefined ? o.timeoutS * 1000 : undefined,
    limits: { perHost: o.perHost ?? hosts.limits.perHost, fleet: o.fleetLimit ?? hosts.limits.fleet },
    keepGoing: o.keepGoing,
    onProgress:
      tty && process.stderr.isTTY === true
        ? (_i, m, p, ms) => {
            process.stderr.write(
              `\r\x1b[2K${progressLine(`${m.vm} ${m.from}→${m.to}`, p, ms, 24).slice(0, (process.stderr.columns ?? 100) - 1)}`,
            );
            shown = true;
          }
        : undefined,
    log: (l) => {
      clear();
      io.err(`vsteal drain: ${l}`);
    },
  });
  clear();
  return report(io, o, host, d, res, drained);
}

export async function undrain(
  host: string,
  o: { maintenanceFile: string; controller?: string; tokenFile?: string; json?: boolean },
  io: Io,
  deps: DrainDeps = {},
): Promise<number> {
  checkHostName(host);
  if (o.controller) {
    const r = await callController(
      o.controller,
      o.tokenFile,
      `/api/v1/hosts/${encodeURIComponent(host)}/undrain`,
      {},
      deps,
    );
    const body = r.body as { was_drained?: boolean };
    if (o.json) io.out(`${JSON.stringify(r.body, null, 2)}\n`);
    io.err(
      `vsteal undrain: ${host} ${body.was_drained ? "may receive VMs again" : "was not drained"} (controller ${o.controller})`,
    );
    return 0;
  }
  const { was } = await undrainHost(o.maintenanceFile, host);
  if (o.json) io.out(`${JSON.stringify({ host, was_drained: was, maintenance_file: o.maintenanceFile })}\n`);
  io.err(`vsteal undrain: ${host} ${was ? "may receive VMs again" : "was not drained"} (${o.maintenanceFile})`);
  return 0;
}

// ------------------------------------------------------------- through the controller

interface ControllerDrainReply {
  host: string;
  drain: DrainResult;
  apply: { id: string; state: string; reason: string; result: ExecuteResult | null } | null;
}

async function callController(
  base: string,
  tokenFile: string | undefined,
  path: string,
  body: unknown,
  deps: DrainDeps,
  method = "POST",
): Promise<{ status: number; body: unknown }> {
  const token = readToken(tokenFile, process.env, "--controller needs the controller's bearer token");
  const url = `${base.replace(/\/+$/, "")}${path}`;
  let r: Response;
  try {
    r = await (deps.fetch ?? fetch)(url, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      ...(method === "POST" ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (e) {
    throw new ApplyError(`the controller at ${base} does not answer: ${e instanceof Error ? e.message : String(e)}`);
  }
  const text = await r.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  if (r.status === 401) throw new ApplyError(`the controller at ${base} refused the token (401): check --token-file`);
  if (r.status >= 400) {
    const msg =
      json && typeof json === "object" && "error" in json
        ? String((json as { error: unknown }).error)
        : text.slice(0, 200);
    throw new ApplyError(`the controller at ${base} answered ${r.status}: ${msg}`);
  }
  return { status: r.status, body: json };
}

async function drainViaController(host: string, o: DrainCliOptions, io: Io, deps: DrainDeps): Promise<number> {
  const path = `/api/v1/hosts/${encodeURIComponent(host)}/drain`;
  const preview = (
    await callController(
      o.controller!,
      o.tokenFile,
      path,
      { dry_run: true, require_headroom: o.requireHeadroom === true },
      deps,
    )
  ).body as ControllerDrainReply;
  describe(io, host, preview.drain, o.dryRun);
  if (o.dryRun) return report(io, o, host, preview.drain, null, false);
  if (!(await confirm(io, o, deps, preview.drain.plan.moves.length, host))) return 2;
  const started = (
    await callController(
      o.controller!,
      o.tokenFile,
      path,
      { reason: o.reason ?? null, require_headroom: o.requireHeadroom === true },
      deps,
    )
  ).body as ControllerDrainReply;
  let rec = started.apply;
  io.err(`vsteal drain: the controller drains ${host}${rec ? ` as ${rec.id} (${rec.state})` : ""}`);
  // Follow the controller's apply record until it is done.
  while (rec && (rec.state === "applying" || rec.state === "waiting_approval")) {
    await new Promise((r) => setTimeout(r, 1000));
    const list = (await callController(o.controller!, o.tokenFile, "/api/v1/apply", null, deps, "GET")).body as {
      plans: Array<NonNullable<ControllerDrainReply["apply"]>>;
    };
    rec = list.plans.find((p) => p.id === rec!.id) ?? null;
  }
  if (rec && rec.state === "skipped")
    io.err(
      `vsteal drain: not carried out now: ${rec.reason}; ${host} stays drained, and the controller's audits move its VMs`,
    );
  const res = rec?.result ?? null;
  return report(
    io,
    {
      ...o,
      auditLog: "kept by the controller (its --audit-log)",
      maintenanceFile: "kept by the controller (its --maintenance-file)",
    },
    host,
    started.drain,
    res,
    true,
  );
}
