import { Collector } from "../collect/collector.js";
import { describeFsError } from "../util/bounded-read.js";
import { safeText } from "../util/safe-text.js";
import { mkdirSync } from "node:fs";
import { History } from "../history/index.js";
import { AlertEngine, DEFAULT_RULES, Notifier, loadAlertConfig, type AlertRule } from "../alerts/index.js";
import { buildApp } from "../agent/server.js";
import { listen } from "../http/listen.js";
import { mountDashboard } from "../http/dashboard.js";
import { telemetryPathProblem } from "../agent/telemetry-path.js";
import { loadWebConfig } from "../http/web-config.js";
import { openSource, type SourceName } from "../sources/auto.js";
import { formatCpuList } from "../procfs/cpulist.js";
import { readHostFacts, type HostFacts } from "../collect/host-facts.js";
import { hostNameProblem } from "../model/host-name.js";
import { hostname } from "node:os";
import { parseMetadataPick } from "../platforms/metadata-picks.js";
import type { Io } from "./io.js";

export interface AgentOptions {
  interval: number;
  listenAddress: string;
  telemetryPath: string;
  webConfigFile?: string;
  source: SourceName;
  connect?: string;
  reservedCpus: number;
  /** --host-name; default: the machine's hostname. */
  hostName?: string;
  /** --vm-cpus as given (a CPU list); default: libvirt's machine cgroup cpuset, else online CPUs. */
  vmCpus?: string;
  reservedMemoryMiB?: number;
  discoveryInterval: number;
  alertsConfig?: string;
  /** Where history persists; "" keeps it in memory only. */
  historyDir: string;
  /** `--domain-metadata KEY={NS}PATH` specs. */
  domainMetadata?: string[];
}

/** `vsteal agent`: samples every interval and serves /metrics, the JSON API and the dashboard. */
export async function agent(opts: AgentOptions, io: Io): Promise<number> {
  const badPath = telemetryPathProblem(opts.telemetryPath);
  if (badPath !== null) throw new Error(`--web.telemetry-path ${JSON.stringify(opts.telemetryPath)}: ${badPath}`);
  // Config errors are refused before anything starts.
  const web = opts.webConfigFile ? loadWebConfig(opts.webConfigFile) : null;
  const hostFacts = hostFactsReader(opts);
  const facts = hostFacts();
  const metadataPicks = (opts.domainMetadata ?? []).map(parseMetadataPick); // refused before anything starts
  const rules: readonly AlertRule[] = opts.alertsConfig ? await loadAlertConfig(opts.alertsConfig) : DEFAULT_RULES;
  const alerts = new AlertEngine(rules);
  const notifier = new Notifier({ rules, log: process.stderr });
  const history = await openHistory(opts, io);
  const source = await openSource({ source: opts.source, uri: opts.connect, metadataPicks: metadataPicks });
  const collector = new Collector({
    source,
    intervalS: opts.interval,
    discoveryIntervalS: opts.discoveryInterval,
    reservedCpus: opts.reservedCpus,
    hostFacts,
    onProblem: (p) => io.err(`vsteal agent: warning: ${safeText(p.domain)}: ${safeText(p.message)}`),
    onRates: (rates, c) => {
      history.record(rates);
      const h = c.host;
      notifier.notify(
        alerts.evaluate(
          { rates, host: { cpus: h.cpus, demand: h.demand, capacity: h.capacity, stealTotal: h.steal } },
          rates.wallMs,
        ),
      );
    },
  });
  const app = buildApp({
    collector,
    alerts,
    history,
    telemetryPath: opts.telemetryPath,
    web,
    startedMs: Date.now(),
    mount: (a) => mountDashboard(a),
  });
  const { server, url } = await listen(app, opts.listenAddress, web);
  io.err(
    `vsteal agent: ${rules.length} alert rules${opts.alertsConfig ? ` from ${opts.alertsConfig}` : " (built-in)"}`,
  );
  io.err(
    `vsteal agent: ${source.description}, every ${opts.interval} s; listening on ${url} (metrics at ${url}${opts.telemetryPath})`,
  );
  io.err(
    `vsteal agent: host ${facts.hostName}: VMs may use CPUs ${formatCpuList(facts.vmCpus)} (${facts.vmCpusFrom === "flag" ? "--vm-cpus" : facts.vmCpusFrom === "machine-cgroup" ? "libvirt's machine cgroup" : "online CPUs"}), capacity ${facts.capacityCores} cores`,
  );
  await collector.start();
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      io.err(`vsteal agent: ${sig}, stopping`);
      server.close();
      void collector
        .stop()
        .then(() => history.flush())
        .then((r) => {
          if (!r.ok) io.err(`vsteal agent: warning: history not saved: ${r.error}`);
          history.close();
        })
        .finally(resolve);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  return 0;
}

/**
 * The host's facts as the flags ask, validated: the name (RFC 1123), --vm-cpus, and the reserved
 * CPUs and memory against what there is. Called at start (a throw refuses to start, naming the
 * flag) and after every discovery by the collector.
 */
function hostFactsReader(opts: AgentOptions): () => HostFacts {
  const name = opts.hostName ?? hostname();
  const problem = hostNameProblem(name);
  if (problem !== null) {
    throw new Error(
      `--host-name ${JSON.stringify(name)}: ${problem}${opts.hostName === undefined ? " (it is this machine's hostname)" : ""}; pass the name plans and the migration hosts file use for this host`,
    );
  }
  return () =>
    readHostFacts({
      hostName: name,
      vmCpus: opts.vmCpus,
      reservedCpus: opts.reservedCpus,
      reservedMemoryMiB: opts.reservedMemoryMiB ?? 0,
    });
}

/** Opens the history: a damaged file is reported and set aside, never fatal. */
async function openHistory(opts: AgentOptions, io: Io): Promise<History> {
  const dir = opts.historyDir === "" ? null : opts.historyDir;
  if (dir) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o750 });
    } catch (e) {
      throw new Error(
        `cannot create --history.dir ${dir}: ${describeFsError(e)}: pick another directory, or pass --history.dir "" to keep history in memory only`,
      );
    }
  }
  const history = new History({
    intervalS: opts.interval,
    dir,
    onError: (p) => io.err(`vsteal agent: warning: history ${p.op}: ${p.message}`),
  });
  const report = await history.open();
  for (const p of report.problems) io.err(`vsteal agent: warning: history ${p.op}: ${p.message}`);
  for (const f of [report.snapshot, report.journal]) {
    if (f.status === "set-aside")
      io.err(
        `vsteal agent: warning: ${f.path} ${f.movedTo?.includes(".unreadable-") ? "could not be read" : "was damaged"} (${f.reason ?? "?"}); set aside as ${f.movedTo ?? "?"}, starting without it`,
      );
  }
  io.err(
    `vsteal agent: history ${history.dir !== null ? `in ${history.dir}` : "in memory only"}: ${report.series} series loaded`,
  );
  return history;
}
