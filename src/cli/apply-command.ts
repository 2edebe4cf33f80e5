import { Option, type Command } from "commander";
import { durationSeconds, nonNegativeNumber, positiveInt, refuseIdleOptions } from "./args.js";
import { processIo, run } from "./io.js";
import { DEFAULT_MAINTENANCE_FILE } from "../maintenance/defaults.js";

interface ApplyFlags {
  hosts: string;
  platforms?: string;
  yes?: boolean;
  dryRun?: boolean;
  recheck: boolean;
  prometheus?: string;
  window: number;
  fleetHosts?: string;
  selector?: string;
  minGain?: number;
  timeout?: number;
  perHost?: number;
  fleetLimit?: number;
  auditLog: string;
  keepGoing?: boolean;
  json?: boolean;
  maintenanceFile: string;
}

/** Adds `vsteal apply`; its code is loaded only when it runs. */
export function registerApply(program: Command): void {
  program
    .command("apply")
    .description(
      "carry out a plan's moves by live migration through libvirt (asks first; --dry-run to see what would happen)",
    )
    .argument("<plan>", "plan JSON (vsteal plan --json, or a controller audit)")
    .requiredOption(
      "--hosts <file>",
      "migration hosts file (YAML): libvirt URI of every host, limits, timeout (see docs/migrate.md)",
    )
    .option(
      "--platforms <file>",
      "platforms file (YAML): OpenStack and Proxmox APIs and credentials, to move the VMs they own through them (see docs/platforms.md)",
    )
    .option("-y, --yes", "do not ask for confirmation (needed without a terminal)")
    .option("--dry-run", "check hosts, domains and the recheck, migrate nothing")
    .option("--prometheus <url>", "recheck every move right before it starts on a fresh snapshot from this Prometheus")
    .option(
      "--no-recheck",
      "apply the moves without rechecking them on fresh data (required when there is no --prometheus)",
    )
    .addOption(
      new Option("--window <duration>", "recheck: rates averaged over this window")
        .argParser(durationSeconds)
        .default(300, "5m"),
    )
    .option("--fleet-hosts <file>", "recheck: the fleet hosts file (memory, constraints), as vsteal controller --hosts")
    .option("--selector <matchers>", "recheck: extra label matchers for every Prometheus query")
    .option(
      "--min-gain <cores>",
      "recheck: a move must still lower predicted contention by this many cores (default 0.05)",
      nonNegativeNumber,
    )
    .option(
      "--timeout <duration>",
      "per migration: abort its job after this long, the VM stays on its source (default: hosts file, else 10m)",
      durationSeconds,
    )
    .option("--per-host <n>", "concurrent migrations touching one host (default: hosts file, else 1)", positiveInt)
    .option("--fleet-limit <n>", "concurrent migrations in all (default: hosts file, else 1)", positiveInt)
    .option("--audit-log <file>", "JSON-lines audit log, appended and fsync'ed", "/var/log/vsteal/migrations.jsonl")
    .option("--keep-going", "start later moves even after one failed")
    .option("--json", "the outcome of every move as JSON on stdout")
    .option(
      "--maintenance-file <file>",
      "drained hosts (vsteal drain): a move onto one is refused",
      DEFAULT_MAINTENANCE_FILE,
    )
    .addHelpText(
      "after",
      `
Exit codes: 0 all moves done (or skipped by the recheck, or dry run); 1 error; 2 not confirmed;
4 a move failed or timed out (its VM stays on its source). Every step is in the audit log.`,
    )
    .action((plan: string, o: ApplyFlags, cmd: Command) =>
      run(async () => {
        if (!o.recheck)
          refuseIdleOptions(
            cmd,
            ["--prometheus", "--window", "--fleet-hosts", "--selector", "--min-gain"],
            "with --no-recheck (they shape the recheck)",
          );
        const { apply } = await import("./apply.js");
        return apply(
          plan,
          {
            hosts: o.hosts,
            platforms: o.platforms,
            yes: o.yes,
            dryRun: o.dryRun,
            recheck: o.recheck,
            prometheus: o.prometheus,
            windowS: o.window,
            fleetHosts: o.fleetHosts,
            selector: o.selector,
            minGain: o.minGain,
            timeoutS: o.timeout,
            perHost: o.perHost,
            fleetLimit: o.fleetLimit,
            auditLog: o.auditLog,
            keepGoing: o.keepGoing,
            json: o.json,
            maintenanceFile: o.maintenanceFile,
          },
          processIo,
        );
      }),
    );
}
