import { Option, type Command } from "commander";
import { DEFAULT_MAINTENANCE_FILE } from "../maintenance/defaults.js";
import { durationSeconds, positiveInt } from "./args.js";
import { processIo, run } from "./io.js";

interface DrainFlags {
  hosts?: string;
  yes?: boolean;
  dryRun?: boolean;
  reason?: string;
  controller?: string;
  tokenFile?: string;
  prometheus?: string;
  snapshot?: string;
  recheck: boolean;
  window: number;
  fleetHosts?: string;
  selector?: string;
  requireHeadroom?: boolean;
  timeout?: number;
  perHost?: number;
  fleetLimit?: number;
  auditLog: string;
  keepGoing?: boolean;
  maintenanceFile: string;
  json?: boolean;
}

/** Adds `vsteal drain` and `vsteal undrain` (host maintenance); their code is loaded only when they run. */
export function registerDrain(program: Command): void {
  program
    .command("drain")
    .description(
      "host maintenance: mark HOST drained (it receives no VM) and live-migrate every migratable VM off it (asks first; --dry-run to see the plan)",
    )
    .argument("<host>", "the host, as the fleet snapshot names it")
    .option(
      "--hosts <file>",
      "migration hosts file (YAML): libvirt URI of every host, limits, timeout (see docs/migrate.md)",
    )
    .option(
      "--prometheus <url>",
      "the Prometheus that scrapes the agents: the fleet's state, and a recheck before every move",
    )
    .option("--snapshot <file>", "a fleet snapshot JSON file instead of --prometheus (needs --no-recheck)")
    .option("--no-recheck", "do not recheck each move on fresh data (the maintenance file is still rechecked)")
    .addOption(
      new Option("--window <duration>", "rates averaged over this window")
        .argParser(durationSeconds)
        .default(300, "5m"),
    )
    .option("--fleet-hosts <file>", "the fleet hosts file (memory, constraints), as vsteal controller --hosts")
    .option("--selector <matchers>", "extra label matchers for every Prometheus query")
    .option(
      "--require-headroom",
      "only targets whose demand stays within their CPUs (default: the least predicted waiting, even on busy hosts)",
    )
    .option("--controller <url>", "let the controller at URL drain (POST /api/v1/hosts/HOST/drain; needs --token-file)")
    .option("--token-file <file>", "with --controller: its bearer token (first line; default $VSTEAL_CONTROLLER_TOKEN)")
    .option("--reason <text>", "why, kept in the maintenance file")
    .option("-y, --yes", "do not ask for confirmation (needed without a terminal)")
    .option("--dry-run", "show the plan, check hosts and domains, migrate nothing and change no state")
    .option(
      "--timeout <duration>",
      "per migration: abort its job after this long, the VM stays on HOST (default: hosts file, else 10m)",
      durationSeconds,
    )
    .option("--per-host <n>", "concurrent migrations touching one host (default: hosts file, else 1)", positiveInt)
    .option("--fleet-limit <n>", "concurrent migrations in all (default: hosts file, else 1)", positiveInt)
    .option("--audit-log <file>", "JSON-lines audit log, appended and fsync'ed", "/var/log/vsteal/migrations.jsonl")
    .option("--keep-going", "start later moves even after one failed")
    .option(
      "--maintenance-file <file>",
      "which hosts are drained (shared with vsteal controller)",
      DEFAULT_MAINTENANCE_FILE,
    )
    .option("--json", "the outcome of every move, and the VMs that stay, as JSON on stdout")
    .addHelpText(
      "after",
      `
Exit codes: 0 drained (every VM left, or dry run); 1 error; 2 not confirmed; 4 a move failed or
timed out (its VM stays on HOST); 5 drained, but some VM could not leave (named, with the reason).
HOST stays drained until vsteal undrain HOST. See docs/maintenance.md.`,
    )
    .action((host: string, o: DrainFlags) =>
      run(async () => {
        const { drain } = await import("./drain.js");
        return drain(
          host,
          {
            hosts: o.hosts,
            yes: o.yes,
            dryRun: o.dryRun,
            reason: o.reason,
            controller: o.controller,
            tokenFile: o.tokenFile,
            prometheus: o.prometheus,
            snapshot: o.snapshot,
            recheck: o.recheck,
            windowS: o.window,
            fleetHosts: o.fleetHosts,
            selector: o.selector,
            requireHeadroom: o.requireHeadroom,
            timeoutS: o.timeout,
            perHost: o.perHost,
            fleetLimit: o.fleetLimit,
            auditLog: o.auditLog,
            keepGoing: o.keepGoing,
            maintenanceFile: o.maintenanceFile,
            json: o.json,
          },
          processIo,
        );
      }),
    );

  program
    .command("undrain")
    .description("end host maintenance: HOST may receive VMs again")
    .argument("<host>", "the host, as the fleet snapshot names it")
    .option(
      "--maintenance-file <file>",
      "which hosts are drained (shared with vsteal controller)",
      DEFAULT_MAINTENANCE_FILE,
    )
    .option("--controller <url>", "ask the controller at URL (POST /api/v1/hosts/HOST/undrain; needs --token-file)")
    .option("--token-file <file>", "with --controller: its bearer token (first line; default $VSTEAL_CONTROLLER_TOKEN)")
    .option("--json", "the result as JSON on stdout")
    .action((host: string, o: { maintenanceFile: string; controller?: string; tokenFile?: string; json?: boolean }) =>
      run(async () => {
        const { undrain } = await import("./drain.js");
        return undrain(host, o, processIo);
      }),
    );
}
