import type { Command } from "commander";
import { intervalAtLeast, nonNegativeInt, sampleInterval, sourceOption } from "./args.js";
import { processIo, run } from "./io.js";

/** Adds `vsteal agent` to the program; the command's code is loaded only when it runs. */
export function registerAgent(program: Command): void {
  program
    .command("agent")
    .description("the host agent: samples every vCPU and serves /metrics (Prometheus), a JSON API and the dashboard")
    .option("--interval <seconds>", "sampling interval (at least 100ms)", sampleInterval, 5)
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
    .option(
      "--discovery-interval <seconds>",
      "how often to look for new or gone VMs and threads (at least 1s)",
      intervalAtLeast(1000),
      30,
    )
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
}
