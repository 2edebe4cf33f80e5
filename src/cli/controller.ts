import { listen } from "../http/listen.js";
import { safeText } from "../util/safe-text.js";
import { writePrettyJson } from "../util/json.js";
import { loadHostsConfig, type HostsConfig } from "../fleet/hosts-config.js";
import { FLEET_QUERY_CONCURRENCY, PrometheusClient } from "../fleet/prom-client.js";
import { buildSnapshot } from "../fleet/snapshot-builder.js";
import { Controller } from "../controller/controller.js";
import { buildControllerApp } from "../controller/server.js";
import { planView } from "../controller/api.js";
import { parsePlanOptions, planValidated } from "../planner/index.js";
import { PlanApplier } from "../controller/apply-mode.js";
import { loadTokenDigest } from "../controller/auth.js";
import { FileAuditLog } from "../migrate/audit-log.js";
import { virshDriver } from "../migrate/driver.js";
import { loadMigrateHosts } from "../migrate/hosts.js";
import { loadControllerState, saveControllerState } from "../controller/state-file.js";
import { reconcile } from "../controller/reconcile.js";
import type { AuditRecord } from "../controller/controller.js";
import { loadPlatformsConfig } from "../platforms/config.js";
import { PlatformWiring } from "../platforms/drivers.js";
import { markUnmovable, withPlatformHosts } from "../platforms/route.js";
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
  /** Cooldowns, cycle history, move verdicts and blocked pairs across restarts ("" = none). */
  stateFile?: string;
  /** Extra time after a move before its effect is judged. */
  settleS?: number;
  /** Apply mode: plans are carried out by live migration (with approval above approveOver moves). */
  apply?: {
    migrateHostsFile: string;
    tokenFile?: string;
    /** The platforms file (docs/platforms.md): VMs that OpenStack or Proxmox own move through them. */
    platformsFile?: string;
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
  const client = new PrometheusClient({
    url: o.prometheus,
    timeoutMs: o.timeoutS * 1000,
    maxConcurrency: FLEET_QUERY_CONCURRENCY,
  });
  // One libvirt driver for moves, platform routing and the reconciliation after a crash.
  const driver = virshDriver();
  const platforms = o.apply
    ? new PlatformWiring(o.apply.platformsFile ? loadPlatformsConfig(o.apply.platformsFile) : null, { libvirt: driver })
    : null;
  const maintenanceFile = o.maintenanceFile ?? DEFAULT_MAINTENANCE_FILE;
  // Every audit (and every recheck) plans with the maintenance file as it is now: drained hosts
  // receive nothing and are emptied (docs/maintenance.md).
  const snapshot = async () => {
    const b = await withMaintenance(
      await buildSnapshot(client, {
        windowS: o.windowS,
        selector: o.selector ?? "",
        hosts,
        hostsFile: o.hostsFile ?? null,
        staleAfterS: o.staleAfterS,
      }),
      maintenanceFile,
    );
    // Apply mode: a VM whose owner has no driver here is planned around, never moved.
    if (platforms) b.snapshot.notes.push(...markUnmovable(b.snapshot, platforms.configured));
    return b;
  };
  const stateFile = o.once ? "" : (o.stateFile ?? "");
  const loaded = stateFile ? loadControllerState(stateFile) : { state: null, warning: null };
  if (loaded.warning) io.err(`vsteal controller: warning: ${loaded.warning}`);
  // Set once the controller exists (the applier reports moves to it).
  let ctl: Controller | null = null;
  const persist = (): void => {
    if (!stateFile || !ctl) return;
    try {
      saveControllerState(stateFile, ctl.state());
    } catch (e) {
      io.err(
        `vsteal controller: warning: could not write the state file ${stateFile}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  };
  let apply: Parameters<typeof buildControllerApp>[2];
  let auditSink: FileAuditLog | null = null;
  let migrateHosts: ReturnType<typeof loadMigrateHosts> | null = null;
  if (o.apply) {
    const a = o.apply;
    const tokenDigest = loadTokenDigest(a.tokenFile);
    const migrate = loadMigrateHosts(a.migrateHostsFile);
    migrateHosts = migrate;
    const sink = new FileAuditLog(a.auditLog);
    auditSink = sink;
    const applier = new PlanApplier({
      hosts: platforms && platforms.configured.size > 0 ? withPlatformHosts(migrate) : migrate,
      driver,
      platforms: platforms ?? undefined,
      audit: sink,
      approveOver: a.approveOver,
      freshSnapshot: async () => (await snapshot()).snapshot,
      minGain: a.minGain,
      timeoutMs: a.timeoutS !== undefined ? a.timeoutS * 1000 : undefined,
      log: (l) => io.err(`vsteal controller: ${safeText(l)}`),
      onMoveOk: (p) => {
        if (!ctl) return;
        ctl.effects.add(p);
        // Cooldowns start when the move ends, not when a snapshot first shows it.
        ctl.ledger.add([{ vm: p.vm, from: p.from, to: p.to, atMs: p.done_ms, kind: "observed", audit: ctl.nextAudit }]);
        persist();
      },
    });
    const pairs = {
      unblock: (from: string, to: string, by: string): boolean => {
        if (!ctl?.effects.unblock(from, to)) return false;
        sink.write({
          time: new Date().toISOString(),
          actor: by,
          action: "unblock",
          plan_id: "-",
          move: null,
          vm: null,
          from,
          to,
          result: "unblocked",
          reason: `${from}→${to} may be used again`,
          duration_ms: null,
        });
        persist();
        return true;
      },
    };
    apply = {
      applier,
      tokenDigest,
      pairs,
      maintenance: { file: maintenanceFile, freshSnapshot: async () => (await snapshot()).snapshot },
    };
  }
  // Every judged move goes to the audit log (apply mode) with its measured effect.
  const recordEffects = (a: AuditRecord): void => {
    for (const e of a.effects) {
      auditSink?.write({
        time: new Date().toISOString(),
        actor: "controller",
        action: "verify",
        plan_id: e.plan_id,
        move: null,
        vm: e.vm,
        from: e.from,
        to: e.to,
        result: e.verdict,
        reason: e.reason,
        duration_ms: null,
        details: {
          before: e.before,
          after: e.after,
          predicted: e.predicted,
          done: new Date(e.done_ms).toISOString(),
          snapshot_time: e.snapshot_time,
          blocked: e.verdict === "no_effect" || e.verdict === "hurt",
        },
      });
    }
  };
  const c = new Controller({
    snapshot,
    plan: (s) => planValidated(s, planOptions),
    intervalMs: o.intervalS * 1000,
    guard: { vmCooldownMs: o.vmCooldownS * 1000, hostCooldownMs: o.hostCooldownS * 1000, cycleAudits: o.cycleAudits },
    historySize: o.history,
    log: (l) => io.err(`vsteal controller: ${safeText(l)}`),
    onAudit: (a, cc) => {
      recordEffects(a);
      apply?.applier.onAudit(a, a.status === "ok" ? cc.snapshot : null);
      persist();
    },
    dryRun: apply === undefined,
    settleMs: o.settleS !== undefined ? o.settleS * 1000 : undefined,
  });
  ctl = c;
  if (loaded.state) {
    c.restore(loaded.state);
    io.err(
      `vsteal controller: state from ${stateFile}: ${loaded.state.ledger.moves.length} remembered moves, ${loaded.state.effects.pending.length} settling, ${loaded.state.effects.blocked.length} blocked pairs`,
    );
  }
  // Apply mode after a crash: settle what the audit log shows started and never ended, before
  // anything new is planned.
  if (o.apply && migrateHosts && auditSink) {
    const done = await reconcile({
      hosts: migrateHosts,
      driver,
      audit: auditSink,
      auditLogPath: o.apply.auditLog,
      waitMs: (o.apply.timeoutS ?? migrateHosts.timeoutS ?? 600) * 1000,
      log: (l) => io.err(`vsteal controller: ${safeText(l)}`),
    });
    for (const r of done) {
      if (r.result !== "ok") continue;
      c.ledger.add([{ vm: r.vm, from: r.from, to: r.to, atMs: r.atMs, kind: "observed", audit: c.nextAudit }]);
      if (r.expect)
        c.effects.add({ plan_id: r.plan_id, vm: r.vm, from: r.from, to: r.to, done_ms: r.atMs, ...r.expect });
    }
    if (done.length > 0) persist();
  }

  if (o.once) {
    const a = await c.audit();
    // In pieces: a large fleet's snapshot pretty-printed as one string would be hundreds of MB.
    writePrettyJson({ ...planView(a), snapshot: c.snapshot ?? a.snapshot }, (t) => io.out(t));
    return a.status === "ok" ? 0 : 3;
  }

  const info = {
    prometheus: client.displayUrl,
    window_s: o.windowS,
    interval_s: o.intervalS,
    policy: planOptions.policy,
  };
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
      void c
        .stop()
        .then(() => apply?.applier.idle())
        .then(resolve);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  return 0;
}
