import { listen } from "../agent/server.js";
import { loadHostsConfig, type HostsConfig } from "../fleet/hosts-config.js";
import { PrometheusClient } from "../fleet/prom-client.js";
import { buildSnapshot } from "../fleet/snapshot-builder.js";
import { Controller } from "../controller/controller.js";
import { buildControllerApp } from "../controller/server.js";
import { parsePlanOptions, planValidated } from "../planner/index.js";
import { PlanApplier } from "../controller/apply-mode.js";
import { loadTokenDigest } from "../controller/auth.js";
import { FileAuditLog } from "../migrate/audit-log.js";
import { virshDriver } from "../migrate/driver.js";
import { loadMigrateHosts } from "../migrate/hosts.js";
import { DEFAULT_MAINTENANCE_FILE } from "../maintenance/defaults.js";
import { withMaintenance } from "../maintenance/apply.js";
import type { Io } from "./io.js";

export interface ControllerCliOptions {
  prometheus: string;
  intervalS: number;
  windowS: number;
  listenAddress: string;
  hostsFile?: string;
  selector?: string;
  policy: string;
  vmCooldownS: number;
  hostCooldownS: number;
  cycleAudits: number;
  staleAfterS: number;
  timeoutS: number;
  history: number;
  /** Which hosts are drained (vsteal drain); default DEFAULT_MAINTENANCE_FILE. */
  maintenanceFile?: string;
  /** One audit, the result as JSON on stdout, then exit (0: a plan; 3: no plan). */
  once?: boolean;
  /** Apply mode: plans are carried out by live migration (with approval above approveOver moves). */
  apply?: {
    migrateHostsFile: string;
    tokenFile?: string;
    approveOver: number;
    auditLog: string;
    minGain?: number;
    timeoutS?: number;
  };
}

/** `vsteal controller`: periodic audits of the fleet (dry run unless apply mode), served as JSON and metrics. */
export async function controller(o: ControllerCliOptions, io: Io): Promise<number> {
  // Everything that can be refused is refused before anything starts.
  if (o.apply && o.once) throw new Error("--once runs one dry-run audit and exits: it cannot be combined with --apply");
  const hosts: HostsConfig | null = o.hostsFile ? loadHostsConfig(o.hostsFile) : null;
  const planOptions = parsePlanOptions({ policy: o.policy });
  const client = new PrometheusClient({ url: o.prometheus, timeoutMs: o.timeoutS * 1000 });
  const maintenanceFile = o.maintenanceFile ?? DEFAULT_MAINTENANCE_FILE;
  // Every audit (and every recheck) plans with the maintenance file as it is now: drained hosts
  // receive nothing and are emptied (docs/maintenance.md).
  const snapshot = async () =>
    withMaintenance(
      await buildSnapshot(client, {
        windowS: o.windowS,
        selector: o.selector ?? "",
        hosts,
        hostsFile: o.hostsFile ?? null,
        staleAfterS: o.staleAfterS,
      }),
      maintenanceFile,
    );
  let apply: Parameters<typeof buildControllerApp>[2];
  if (o.apply) {
    const a = o.apply;
    const tokenDigest = loadTokenDigest(a.tokenFile);
    const migrate = loadMigrateHosts(a.migrateHostsFile);
    const applier = new PlanApplier({
      hosts: migrate,
      driver: virshDriver(),
      audit: new FileAuditLog(a.auditLog),
      approveOver: a.approveOver,
      freshSnapshot: async () => (await snapshot()).snapshot,
      minGain: a.minGain,
      timeoutMs: a.timeoutS !== undefined ? a.timeoutS * 1000 : undefined,
      log: (l) => io.err(`vsteal controller: ${l}`),
    });
    apply = { applier, tokenDigest, maintenance: { file: maintenanceFile, freshSnapshot: async () => (await snapshot()).snapshot } };
  }
  const c = new Controller({
    snapshot,
    plan: (s) => planValidated(s, planOptions),
    intervalMs: o.intervalS * 1000,
    guard: { vmCooldownMs: o.vmCooldownS * 1000, hostCooldownMs: o.hostCooldownS * 1000, cycleAudits: o.cycleAudits },
    historySize: o.history,
    log: (l) => io.err(`vsteal controller: ${l}`),
    onAudit: apply ? (a) => apply.applier.onAudit(a) : undefined,
    dryRun: apply === undefined,
  });

  if (o.once) {
    const a = await c.audit();
    io.out(`${JSON.stringify({ ...a, snapshot: c.snapshot ?? a.snapshot }, null, 2)}\n`);
    return a.status === "ok" ? 0 : 3;
  }

  const info = { prometheus: client.displayUrl, window_s: o.windowS, interval_s: o.intervalS, policy: planOptions.policy };
  const app = buildControllerApp(c, info, apply);
  const { server, url } = await listen(app, o.listenAddress, null);
  io.err(
    `vsteal controller: ${apply ? `APPLY MODE (plans of more than ${o.apply!.approveOver} moves wait for POST /api/v1/plans/ID/approve; audit log ${o.apply!.auditLog})` : "dry run"}; auditing ${client.displayUrl} every ${o.intervalS} s over ${o.windowS} s windows (policy ${planOptions.policy}); ` +
      `listening on ${url} (plan at ${url}/api/v1/plan, metrics at ${url}/metrics)`,
  );
  c.start();
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      io.err(`vsteal controller: ${sig}, stopping`);
      server.close();
      // A migration in progress is left to finish (aborting it halfway helps nobody); then exit.
      void c.stop().then(() => apply?.applier.idle()).then(resolve);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  return 0;
}
