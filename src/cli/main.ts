#!/usr/bin/env node
import { Command } from "commander";
import { createRequire } from "node:module";
import { nonNegativeInt, positiveInt, positiveNumber, run, sourceOption } from "./args.js";
import { processIo } from "./io.js";
import { registerApply } from "./apply-command.js";
import { registerDrain } from "./drain-command.js";
import { registerFleet } from "./fleet-command.js";
import { registerPlan } from "./plan-command.js";
import { registerTop } from "./top-command.js";

/** The bundles (scripts/build-cli.mjs, the single executable) set this at build time. */
declare const VSTEAL_VERSION: string | undefined;
const version =
  typeof VSTEAL_VERSION === "string"
    ? VSTEAL_VERSION
    : (createRequire(import.meta.url)("../../package.json") as { version: string }).version;

const program = new Command()
  .name("vsteal")
  .description("Per-vCPU steal time (run-queue delay) of every VM on a KVM host")
  .version(version)
  .showHelpAfterError("(run with --help for usage)");

program
  .command("domstats")
  .description("the --vcpu group of 'virsh domstats', read exactly and cheaply from /proc")
  .argument("[domain...]", "domain names, UUIDs or ids (default: all)")
  .option("--vcpu", "vCPU statistics (the only group vsteal reports; accepted for virsh compatibility)")
  .option("--raw", "accepted for virsh compatibility (values are always raw)")
  .option("--json", "JSON for programs: counters as exact integers in ns")
  .option("-c, --connect <uri>", "libvirt connection URI, as virsh takes it", undefined)
  .addOption(sourceOption())
  .option(
    "--interval <seconds>",
    "sample twice this far apart and add vcpu.N.delay.ratio and vcpu.N.time.ratio",
    positiveNumber,
  )
  .action(
    (
      domains: string[],
      o: { json?: boolean; connect?: string; source: "libvirt" | "qemu" | "auto"; interval?: number },
    ) =>
      run(async () => {
        const { domstats } = await import("./domstats.js");
        return domstats(domains, o, processIo);
      }),
  );

program
  .command("agent")
  .description("the host agent: samples every vCPU and serves /metrics (Prometheus), a JSON API and the dashboard")
  .option("--interval <seconds>", "sampling interval", positiveNumber, 5)
  .option(
    "--web.listen-address <addr>",
    "address to listen on (host:port; :port for every interface)",
    "127.0.0.1:9977",
  )
  .option("--web.telemetry-path <path>", "path of the metrics", "/metrics")
  .option("--web.config.file <file>", "exporter-toolkit web config: TLS and basic auth")
  .option("-c, --connect <uri>", "libvirt connection URI")
  .addOption(sourceOption())
  .option("--reserved-cpus <n>", "host CPUs kept for the host itself (not for VMs)", nonNegativeInt, 0)
  .option(
    "--host-name <name>",
    "this host's name in plans and the migration hosts file (default: the machine's hostname)",
  )
  .option(
    "--vm-cpus <list>",
    "host CPUs VMs may use, e.g. 2-31 (default: libvirt's machine cgroup cpuset, else the online CPUs)",
  )
  .option("--reserved-memory <MiB>", "host memory kept for the host itself (not for VMs)", nonNegativeInt, 0)
  .option("--discovery-interval <seconds>", "how often to look for new or gone VMs and threads", positiveNumber, 30)
  .option("--history.dir <dir>", 'where history is kept across restarts ("" = memory only)', "/var/lib/vsteal")
  .option(
    "--alerts.config <file>",
    "alert rules (YAML); default: contention steal > 5 % for 3 min, host demand > capacity for 2 min",
  )
  .option(
    "--domain-metadata <KEY={NS}PATH>",
    "also report this element of each domain's <metadata> (repeatable; see docs/platforms.md)",
    (v: string, acc: string[]) => [...acc, v],
    [] as string[],
  )
  .action((o: Record<string, unknown>) =>
    run(async () => {
      const { agent } = await import("./agent.js");
      return agent(
        {
          interval: o.interval as number,
          listenAddress: o["web.listenAddress"] as string,
          telemetryPath: o["web.telemetryPath"] as string,
          webConfigFile: o["web.config.file"] as string | undefined,
          source: o.source as "libvirt" | "qemu" | "auto",
          connect: o.connect as string | undefined,
          reservedCpus: o.reservedCpus as number,
          hostName: o.hostName as string | undefined,
          vmCpus: o.vmCpus as string | undefined,
          reservedMemoryMiB: o.reservedMemory as number,
          discoveryInterval: o.discoveryInterval as number,
          alertsConfig: o["alerts.config"] as string | undefined,
          historyDir: o["history.dir"] as string,
          domainMetadata: o.domainMetadata as string[],
        },
        processIo,
      );
    }),
  );

program
  .command("bench")
  .description("time sweeps over every thread of a process, exactly as the sampler sweeps vCPUs")
  .requiredOption("--pid <pid>", "process whose threads to sweep", positiveInt)
  .option("--iterations <n>", "number of sweeps", positiveInt, 200)
  .option("--json", "JSON output")
  .action((o: { pid: number; iterations: number; json?: boolean }) =>
    run(async () => {
      const { bench } = await import("./bench.js");
      return bench(o, processIo);
    }),
  );

registerTop(program);
registerPlan(program);
registerFleet(program);
registerApply(program);
registerDrain(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  processIo.err(`vsteal: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
