/**
 * `vsteal apply PLAN.json --hosts FILE`: carries out a plan's moves by live migration
 * (src/migrate), after a confirmation, with a recheck of each move on fresh data from
 * Prometheus (or, explicitly, none), a progress bar on a terminal, and an audit log.
 *
 * Exit codes: 0 every move done (or skipped by the recheck, or dry run); 1 error before any
 * move; 2 refused (no confirmation); 4 some move failed or was aborted.
 */
import { LIMITS, readTextFileBounded } from "../util/bounded-read.js";
import { hostname, userInfo } from "node:os";
import { createInterface } from "node:readline/promises";
import { FleetValidationError, parsePlan, unknownPlanHosts, type Plan } from "../model/fleet.js";
import { FileAuditLog } from "../migrate/audit-log.js";
import { virshDriver, type MigrationDriver } from "../migrate/driver.js";
import { executePlan, planId, type ExecuteResult, type Recheck } from "../migrate/executor.js";
import { loadMigrateHosts } from "../migrate/hosts.js";
import { progressLine } from "../migrate/jobinfo.js";
import { snapshotRecheck } from "../migrate/recheck.js";
import { loadPlatformsConfig } from "../platforms/config.js";
import { PlatformWiring } from "../platforms/drivers.js";
import { withPlatformHosts } from "../platforms/route.js";
import { notOntoDrained, refuseDrainedTargets } from "../maintenance/drain-recheck.js";
import { readMaintenance } from "../maintenance/state-file.js";
import type { Io } from "./io.js";
import { safeText } from "../util/safe-text.js";

export const DEFAULT_AUDIT_LOG = "/var/log/vsteal/migrations.jsonl";

export interface ApplyCliOptions {
  hosts: string;
  /** The platforms file: how to move VMs that OpenStack or Proxmox own (docs/platforms.md). */
  platforms?: string;
  yes?: boolean;
  dryRun?: boolean;
  /** false: --no-recheck. */
  recheck: boolean;
  prometheus?: string;
  windowS: number;
  fleetHosts?: string;
  selector?: string;
  minGain?: number;
  timeoutS?: number;
  perHost?: number;
  fleetLimit?: number;
  auditLog: string;
  keepGoing?: boolean;
  json?: boolean;
  /** Drained hosts receive nothing (docs/maintenance.md); the CLI's default is DEFAULT_MAINTENANCE_FILE. */
  maintenanceFile?: string;
}

export interface ApplyDeps {
  driver?: MigrationDriver;
  /** The platforms' HTTP (tests: a local stand-in). */
  fetch?: typeof fetch;
  pollMs?: number;
  /** Terminal or not (stdin and stderr); tests set it. */
  tty?: boolean;
  /** Asks the question, resolves with the answer. */
  ask?: (question: string) => Promise<string>;
}

export class ApplyError extends Error {}

function readPlan(file: string): Plan & { id?: unknown } {
  const text = readTextFileBounded(file, LIMITS.fleetJson, "the plan");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ApplyError(`${file} is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  // A controller audit (`vsteal controller --once`) holds the plan under "plan".
  if (json && typeof json === "object" && "plan" in json && !("moves" in json)) json = (json as { plan: unknown }).plan;
  try {
    const plan = parsePlan(json);
    const id = json && typeof json === "object" && "id" in json ? (json as { id: unknown }).id : undefined;
    return typeof id === "string" ? { ...plan, id } : plan;
  } catch (e) {
    if (e instanceof FleetValidationError) throw new ApplyError(`${file}: ${e.message}`);
    throw e;
  }
}

export function actorName(): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  const sudo = process.env.SUDO_USER;
  return `${sudo && sudo !== user ? `${sudo} (as ${user})` : user}@${hostname()}`;
}

export async function askTty(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

export async function apply(file: string, o: ApplyCliOptions, io: Io, deps: ApplyDeps = {}): Promise<number> {
  const plan = readPlan(file);
  const libvirtHosts = loadMigrateHosts(o.hosts);
  const platforms = new PlatformWiring(o.platforms ? loadPlatformsConfig(o.platforms) : null, {
    libvirt: deps.driver ?? virshDriver(),
    fetch: deps.fetch,
    pollMs: deps.pollMs,
    probe: deps.driver === undefined,
  });
  // A VM a platform owns moves through that platform, never through plain libvirt.
  const refused = platforms.refusals(plan);
  if (refused.length > 0) throw new ApplyError(`refusing the plan, nothing done:\n  ${refused.join("\n  ")}`);
  const owned = (vm: string): boolean =>
    plan.moves.some((m) => m.vm === vm && m.platform !== undefined && m.platform.kind !== "libvirt");
  // Every host of a libvirt move needs a libvirt URI (a VM a platform owns: its platform knows the hosts).
  const unknown = unknownPlanHosts(
    plan,
    (h) => libvirtHosts.endpoint(h) !== null || plan.moves.every((m) => (m.from !== h && m.to !== h) || owned(m.vm)),
    `the hosts file ${o.hosts}: add it under hosts: or set uri_template`,
  );
  if (unknown.length > 0) throw new ApplyError(`${file}: ${new FleetValidationError("plan", unknown).message}`);
  const hosts = platforms.configured.size > 0 ? withPlatformHosts(libvirtHosts) : libvirtHosts;
  // The CLI always passes one (by default /var/lib/vsteal/maintenance.json); a library caller may not.
  const maintenanceFile = o.maintenanceFile;
  if (maintenanceFile !== undefined)
    refuseDrainedTargets(plan.moves, readMaintenance(maintenanceFile), maintenanceFile);
  let recheck: Recheck | null = null;
  if (o.recheck) {
    if (!o.prometheus) {
      throw new ApplyError(
        "no fresh data to recheck each move against: pass --prometheus URL (the Prometheus that scrapes the agents) so every move is rechecked before it starts, or --no-recheck to apply the plan as it is",
      );
    }
    const url = o.prometheus;
    const { snapshotFromPrometheus } = await import("./prometheus-snapshot.js");
    recheck = snapshotRecheck(
      () => snapshotFromPrometheus(url, o.windowS, { hostsFile: o.fleetHosts, selector: o.selector }),
      { minGain: o.minGain },
    );
    if (maintenanceFile !== undefined) recheck = notOntoDrained(recheck, () => readMaintenance(maintenanceFile));
  }
  const id = await planId(plan);
  const tty = deps.tty ?? Boolean(process.stdin.isTTY && process.stderr.isTTY);

  io.err(`vsteal apply: plan ${id}: ${plan.moves.length} move(s)${o.dryRun ? " (dry run)" : ""}`);
  plan.moves.forEach((m, i) =>
    io.err(`  ${i + 1}. ${safeText(m.vm)}: ${m.from} → ${m.to}${m.reason ? `  (${safeText(m.reason)})` : ""}`),
  );
  if (plan.moves.length === 0) {
    io.err("vsteal apply: nothing to do");
    return 0;
  }
  if (!o.dryRun && !o.yes) {
    if (!tty) {
      io.err("vsteal apply: refusing to migrate without confirmation: no terminal to ask on; pass --yes");
      return 2;
    }
    const answer = await (deps.ask ?? askTty)(`Live-migrate ${plan.moves.length} VM(s) now? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) {
      io.err("vsteal apply: not confirmed; nothing done");
      return 2;
    }
  }

  const routed = platforms.forPlan(plan, new FileAuditLog(o.auditLog));
  let drawn = false;
  const clear = (): void => {
    if (drawn) process.stderr.write("\r\x1b[2K");
    drawn = false;
  };
  const showBar = tty && process.stderr.isTTY === true;
  const res: ExecuteResult = await executePlan(plan, {
    planId: id,
    hosts,
    driver: routed.driver,
    audit: routed.audit,
    actor: actorName(),
    dryRun: o.dryRun,
    recheck,
    timeoutMs: o.timeoutS !== undefined ? o.timeoutS * 1000 : undefined,
    limits: { perHost: o.perHost ?? hosts.limits.perHost, fleet: o.fleetLimit ?? hosts.limits.fleet },
    keepGoing: o.keepGoing,
    onProgress: showBar
      ? (_i, m, p, ms) => {
          process.stderr.write(
            `\r\x1b[2K${progressLine(`${safeText(m.vm)} ${m.from}→${m.to}`, p, ms, 24).slice(0, (process.stderr.columns ?? 100) - 1)}`,
          );
          drawn = true;
        }
      : undefined,
    log: (l) => {
      clear();
      io.err(`vsteal apply: ${safeText(l)}`);
    },
  });
  clear();
  if (o.json) {
    io.out(
      `${JSON.stringify({ plan_id: res.planId, failures: res.failures, audit_log: o.auditLog, moves: res.outcomes.map((x) => ({ ...x.move, result: x.result, reason: x.reason, duration_ms: Math.round(x.durationMs), bytes: x.bytes })) }, null, 2)}\n`,
    );
  } else {
    for (const x of res.outcomes)
      io.out(
        `${x.result.padEnd(11)} ${safeText(x.move.vm)} ${x.move.from}→${x.move.to}  ${(x.durationMs / 1000).toFixed(1)} s  ${safeText(x.reason)}\n`,
      );
  }
  io.err(`vsteal apply: audit log ${o.auditLog}`);
  return res.failures > 0 ? 4 : 0;
}
