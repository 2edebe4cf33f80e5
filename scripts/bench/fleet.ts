// Fleet scale on real engines: a synthetic fleet (fleet-data.ts; default 1,000 hosts × 40 VMs
// of 1–8 vCPUs, a third of the hosts oversubscribed) as TSDB blocks for Prometheus (promtool)
// and imported into VictoriaMetrics; then, against each engine:
//   raw     the engine alone answering the three per-vCPU rate queries (usage, delay, throttled)
//   probe   vsteal's snapshot + plan in one process (dist/): time to snapshot, time to plan,
//           peak RSS, bytes received (decoded JSON)
//   plan    the whole `vsteal plan --prometheus URL --json` process: wall time, peak RSS
//   audit   the whole `vsteal controller --prometheus URL --once` process: wall time, peak RSS
//
//   npm run bench:fleet [-- --hosts 100,1000,3000 --vms 40 --engines prometheus,victoria-metrics]
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fleetShape, scrapeTimes } from "./fleet-data.js";
import { prometheusFromBlocks, victoriaMetricsImported, type Engine } from "./fleet-engines.js";
import { METRIC, range } from "../../src/fleet/queries.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CLI = join(ROOT, "dist", "cli", "main.cjs");
const { values } = parseArgs({
  options: {
    hosts: { type: "string", default: "1000" },
    vms: { type: "string", default: "40" },
    window: { type: "string", default: "300" },
    engines: { type: "string", default: "prometheus,victoria-metrics" },
    json: { type: "boolean", default: false },
  },
});
const windowS = Number(values.window);

interface Row {
  hosts: number;
  vcpus: number;
  engine: string;
  loadS: number;
  rawMs: number;
  rawBytes: number;
  snapshotMs: number;
  planMs: number;
  probeRssMb: number;
  probeBytes: number;
  cliMs: number;
  cliRssMb: number;
  auditMs: number;
  auditRssMb: number;
  moves: number;
}

/**
 * The engine answering the raw per-vCPU rate queries (usage, delay, throttled: every vCPU's
 * rate, as vsteal asked before it aggregated in PromQL), in parallel: the yardstick.
 */
async function rawQueries(url: string): Promise<{ ms: number; bytes: number }> {
  const w = range(windowS);
  const t0 = performance.now();
  const sizes = await Promise.all(
    [METRIC.vcpuTime, METRIC.vcpuDelay, METRIC.vcpuThrottled].map(async (metric) => {
      const query = `rate(${metric}[${w}])`;
      // Uncompressed, as vsteal asks: the engine's own time, not gzip's.
      const r = await fetch(`${url}/api/v1/query`, {
        method: "POST",
        body: new URLSearchParams({ query }),
        headers: { "accept-encoding": "identity" },
      });
      return (await r.arrayBuffer()).byteLength;
    }),
  );
  return { ms: performance.now() - t0, bytes: sizes.reduce((a, b) => a + b, 0) };
}

/** Wall ms and peak RSS (MB) of a whole process, from GNU time. */
function timed(args: string[]): { ms: number; rssMb: number; stdout: string; code: number | null } {
  const t0 = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "VSTEAL_BENCH_RSS_KB=%M", process.execPath, ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  const ms = performance.now() - t0;
  const kb = Number(/VSTEAL_BENCH_RSS_KB=(\d+)/.exec(r.stderr)?.[1] ?? NaN);
  if (r.status !== 0)
    console.error(
      `bench-fleet: ${args.slice(1, 3).join(" ")} exited ${r.status}: ${r.stderr.split("\n").slice(0, 3).join(" | ")}`,
    );
  return { ms, rssMb: kb / 1024, stdout: r.stdout, code: r.status };
}

async function measure(e: Engine, hosts: number, vcpus: number, loadS: number): Promise<Row> {
  await rawQueries(e.url); // warm the engine's caches as an audit every minute would
  const raw = await rawQueries(e.url);
  const probe = JSON.parse(
    execFileSync(process.execPath, [join(ROOT, "scripts", "bench", "fleet-probe.mjs"), e.url, String(windowS)], {
      encoding: "utf8",
      maxBuffer: 1 << 26,
    }),
  ) as {
    snapshotMs: number;
    planMs: number;
    maxRssMb: number;
    bytes: number;
    moves: number;
  };
  // The fleet's data are older than the default --stale-after allows by the time it is read.
  const fleet = ["--prometheus", e.url, "--window", `${windowS}s`, "--stale-after", "1h", "--timeout", "10m"];
  const cli = timed([CLI, "plan", ...fleet, "--json"]);
  const audit = timed([CLI, "controller", ...fleet, "--once", "--web.listen-address", "127.0.0.1:0"]);
  return {
    hosts,
    vcpus,
    engine: e.name,
    loadS,
    rawMs: raw.ms,
    rawBytes: raw.bytes,
    snapshotMs: probe.snapshotMs,
    planMs: probe.planMs,
    probeRssMb: probe.maxRssMb,
    probeBytes: probe.bytes,
    cliMs: cli.ms,
    cliRssMb: cli.rssMb,
    auditMs: audit.ms,
    auditRssMb: audit.rssMb,
    moves: probe.moves,
  };
}

const rows: Row[] = [];
const wanted = values.engines.split(",");
for (const hosts of values.hosts.split(",").map(Number)) {
  const shape = fleetShape({ hosts, vms: Number(values.vms), seed: 1 });
  const dir = mkdtempSync(join(tmpdir(), "vsteal-bench-fleet-"));
  const nowS = Math.floor(Date.now() / 1000);
  // Scrapes every 60 s from before the window to after now, long enough that the data is
  // current (its newest sample is "now") for as long as loading and measuring this size take.
  const times = scrapeTimes(nowS - windowS - 120, nowS + 300 + Math.ceil(0.6 * hosts), 60);
  try {
    for (const name of wanted) {
      const t0 = performance.now();
      console.error(`bench-fleet: ${hosts} hosts, ${shape.vcpus} vCPUs: loading ${name}…`);
      const e =
        name === "prometheus"
          ? await prometheusFromBlocks(shape, times, join(dir, "prom"))
          : await victoriaMetricsImported(shape, times, join(dir, "vm"));
      const loadS = (performance.now() - t0) / 1000;
      try {
        rows.push(await measure(e, hosts, shape.vcpus, loadS));
      } finally {
        await e.stop();
      }
      console.error(`bench-fleet: ${JSON.stringify(rows[rows.length - 1])}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.json) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  const f = (x: number, d = 0) => x.toFixed(d).padStart(8);
  console.log(
    "hosts   vCPUs  engine            raw ms  snap ms  plan ms  snap+plan/raw  RSS MB  MB recv | CLI ms  CLI MB | audit ms  audit MB  moves",
  );
  for (const r of rows) {
    console.log(
      `${String(r.hosts).padStart(5)} ${String(r.vcpus).padStart(7)}  ${r.engine.padEnd(16)} ${f(r.rawMs)} ${f(r.snapshotMs)} ${f(r.planMs)} ${f((r.snapshotMs + r.planMs) / r.rawMs, 2).padStart(14)} ${f(r.probeRssMb)} ${f(r.probeBytes / 1e6, 1)} | ${f(r.cliMs)} ${f(r.cliRssMb)} | ${f(r.auditMs)} ${f(r.auditRssMb)} ${String(r.moves).padStart(6)}`,
    );
  }
}
