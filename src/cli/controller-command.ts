import { Option, type Command } from "commander";
import {
  durationSeconds,
  intervalAtLeast,
  nonNegativeInt,
  nonNegativeNumber,
  positiveInt,
  refuseIdleOptions,
} from "./args.js";
import { processIo, run } from "./io.js";
import { DEFAULT_MAINTENANCE_FILE } from "../maintenance/defaults.js";

function requireFlag(v: string | undefined, message: string): string {
  if (v === undefined) throw new Error(message);
  return v;
}

interface ControllerCliFlags {
  prometheus: string;
  interval: number;
  window: number;
  hosts?: string;
  selector?: string;
  policy: string;
  staleAfter: number;
  timeout: number;
  cycleAudits: number;
  history: number;
  once?: boolean;
  [key: string]: unknown;
}

/** Adds `vsteal controller` to the program; its code is loaded only when it runs. */
export function registerController(program: Command): void {
  program
    .command("controller")
    .description(
      "fleet controller: audits the fleet from Prometheus and proposes VM moves (dry run), served as JSON and metrics",
    )
    .requiredOption(
      "--prometheus <url>",
      "Prometheus (or Thanos Query, VictoriaMetrics) that scrapes every host's agent, e.g. http://127.0.0.1:9090",
    )
    .addOption(
      new Option("--interval <duration>", "time between audits (at least 1s)")
        .argParser(intervalAtLeast(1000))
        .default(60, "60s"),
    )
    .addOption(
      new Option("--window <duration>", "rates are averaged over this window")
        .argParser(durationSeconds)
        .default(300, "5m"),
    )
    .option(
      "--web.listen-address <addr>",
      "address to listen on (host:port; :port for every interface)",
      "127.0.0.1:9978",
    )
    .option(
      "--hosts <file>",
      "hosts file (YAML): memory, reserved CPUs, which hosts take VMs, VM policy, constraints; every host listed must report",
    )
    .option("--selector <matchers>", "extra label matchers for every query, e.g. 'job=\"vsteal\"'")
    .option(
      "--policy <name>",
      "planner policy: contention, none, balance-utilisation, hottest-host, optimal",
      "contention",
    )
    .addOption(
      new Option("--cooldown.vm <duration>", "a VM that moved is not moved again for this long")
        .argParser(durationSeconds)
        .default(1800, "30m"),
    )
    .option(
      "--cooldown.host <duration>",
      "a host that sent or received a VM neither sends nor receives for this long (default: the window)",
      durationSeconds,
    )
    .option(
      "--cycle-audits <n>",
      "a move undoing one of the last n audits' moves (A→B then B→A) is suppressed",
      positiveInt,
      10,
    )
    .addOption(
      new Option("--stale-after <duration>", "a host whose newest sample is older than this counts as missing")
        .argParser(durationSeconds)
        .default(120, "2m"),
    )
    .addOption(
      new Option("--timeout <duration>", "timeout of each Prometheus query")
        .argParser(durationSeconds)
        .default(30, "30s"),
    )
    .option("--history <n>", "audits kept for /api/v1/plans", positiveInt, 100)
    .option(
      "--state-file <file>",
      'cooldowns, cycle history, move verdicts and blocked pairs across restarts ("" = memory only)',
      "/var/lib/vsteal/controller-state.json",
    )
    .addOption(
      new Option(
        "--settle <duration>",
        "a move is judged on the first snapshot whose window starts this long after it ended",
      )
        .argParser(durationSeconds)
        .default(10, "10s"),
    )
    .option(
      "--maintenance-file <file>",
      "which hosts are drained (vsteal drain): read at every audit; they receive nothing and are emptied",
      DEFAULT_MAINTENANCE_FILE,
    )
    .option("--once", "run one audit, print it as JSON and exit (exit code 3 when there is no plan)")
    .option("--apply", "apply mode: carry out plans by live migration (each move rechecked on fresh data first)")
    .option(
      "--migrate-hosts <file>",
      "apply mode: migration hosts file (libvirt URI of every host, limits, timeout), as vsteal apply --hosts",
    )
    .option(
      "--platforms <file>",
      "apply mode: platforms file (OpenStack, Proxmox APIs and credentials) to move the VMs they own through them (docs/platforms.md)",
    )
    .option(
      "--token-file <file>",
      "apply mode: bearer token for POST /api/v1/plans/ID/approve (first line; default $VSTEAL_CONTROLLER_TOKEN)",
    )
    .option(
      "--approve-over <n>",
      "apply mode: plans with more moves than this wait for approval (0: every plan)",
      nonNegativeInt,
      0,
    )
    .option(
      "--audit-log <file>",
      "apply mode: JSON-lines audit log of every action",
      "/var/log/vsteal/migrations.jsonl",
    )
    .option(
      "--min-gain <cores>",
      "apply mode: recheck: a move must still lower predicted contention by this many cores",
      nonNegativeNumber,
    )
    .option(
      "--migration-timeout <duration>",
      "apply mode: abort a migration's job after this long (default: hosts file, else 10m)",
      durationSeconds,
    )
    .addHelpText(
      "after",
      `
Plans are proposed, never executed (dry run), unless --apply: then plans of up to
--approve-over moves are carried out at once and bigger ones wait for approval
(POST /api/v1/plans/ID/approve with Authorization: Bearer TOKEN; GET /api/v1/apply lists them). A host that is missing or stale in Prometheus, or
a VM with vCPU series missing, stops the audit: no plan, and the reason in /api/v1/plan.
Hosts are named and sized by their agents (host name, CPUs VMs may use, memory; VM memory and
caps); --hosts overrides them and adds policy (accepts_vms, migratable, constraints).

API: /api/v1/plan (current plan), /api/v1/plans (history), /api/v1/snapshot, /api/v1/health;
metrics at /metrics.`,
    )
    .action((o: ControllerCliFlags, cmd: Command) =>
      run(async () => {
        if (!o.apply)
          refuseIdleOptions(
            cmd,
            ["--migrate-hosts", "--token-file", "--approve-over", "--audit-log", "--min-gain", "--migration-timeout"],
            "without --apply (dry run: nothing is migrated)",
          );
        const { controller } = await import("./controller.js");
        return controller(
          {
            prometheus: o.prometheus,
            intervalS: o.interval,
            windowS: o.window,
            listenAddress: o["web.listenAddress"] as string,
            hostsFile: o.hosts,
            selector: o.selector,
            policy: o.policy,
            vmCooldownS: o["cooldown.vm"] as number,
            hostCooldownS: (o["cooldown.host"] as number | undefined) ?? o.window,
            cycleAudits: o.cycleAudits,
            staleAfterS: o.staleAfter,
            timeoutS: o.timeout,
            history: o.history,
            once: o.once,
            stateFile: o.stateFile as string,
            settleS: o.settle as number,
            maintenanceFile: o.maintenanceFile as string,
            apply: o.apply
              ? {
                  migrateHostsFile: requireFlag(
                    o.migrateHosts as string | undefined,
                    "--apply needs --migrate-hosts FILE: how to reach each host's libvirt",
                  ),
                  tokenFile: o.tokenFile as string | undefined,
                  platformsFile: o.platforms as string | undefined,
                  approveOver: o.approveOver as number,
                  auditLog: o.auditLog as string,
                  minGain: o.minGain as number | undefined,
                  timeoutS: o.migrationTimeout as number | undefined,
                }
              : undefined,
          },
          processIo,
        );
      }),
    );
}
