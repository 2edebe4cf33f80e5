// Real Prometheus and VictoriaMetrics on free loopback ports, filled with a synthetic fleet
// (fleet-data.ts): Prometheus from TSDB blocks made by `promtool tsdb create-blocks-from
// openmetrics`, VictoriaMetrics through its import API. For the fleet benchmark and the
// engines-agree test; nothing here ships.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { fleetText, type FleetShape } from "./fleet-data.js";
import { freePort } from "../../test/support/lab-prometheus.js";

export { freePort };

const run = promisify(execFile);

export interface Engine {
  name: "prometheus" | "victoria-metrics";
  url: string;
  stop(): Promise<void>;
}

async function waitHttp(url: string, proc: ChildProcess, what: string, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${what} exited (${proc.exitCode}) before it was ready`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`${what} not ready at ${url} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function stopper(proc: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve();
      proc.once("exit", () => resolve());
      proc.kill("SIGTERM");
      setTimeout(() => proc.kill("SIGKILL"), 10_000).unref();
    });
}

/** Writes the fleet as OpenMetrics, turns it into TSDB blocks with promtool, starts Prometheus on them. */
export async function prometheusFromBlocks(
  shape: FleetShape,
  times: readonly number[],
  dir: string,
): Promise<Engine & { bytes: number }> {
  mkdirSync(dir, { recursive: true });
  const om = join(dir, "fleet.om");
  let bytes = 0;
  await pipeline(
    Readable.from(
      (function* () {
        for (const c of fleetText(shape, times)) {
          bytes += c.length;
          yield c;
        }
      })(),
    ),
    createWriteStream(om),
  );
  const data = join(dir, "data");
  await run("promtool", ["tsdb", "create-blocks-from", "openmetrics", om, data], { maxBuffer: 64 * 1024 * 1024 });
  rmSync(om, { force: true });
  const cfg = join(dir, "prometheus.yml");
  writeFileSync(cfg, "global:\n  scrape_interval: 1m\n");
  const port = await freePort();
  const proc = spawn(
    "prometheus",
    [
      `--config.file=${cfg}`,
      `--storage.tsdb.path=${data}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--storage.tsdb.retention.time=100y",
      "--query.max-samples=200000000",
    ],
    { stdio: "ignore" },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/-/ready`, proc, "prometheus");
  return { name: "prometheus", url, stop: stopper(proc), bytes };
}

/** Starts VictoriaMetrics and imports the same samples (Prometheus text, ms timestamps). */
export async function victoriaMetricsImported(
  shape: FleetShape,
  times: readonly number[],
  dir: string,
): Promise<Engine> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const proc = spawn(
    "victoria-metrics",
    [
      `-storageDataPath=${join(dir, "vm")}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      "-retentionPeriod=100y",
      "-search.maxUniqueTimeseries=100000000",
      "-search.latencyOffset=0s",
      "-loggerLevel=ERROR",
    ],
    { stdio: "ignore" },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/health`, proc, "victoria-metrics");
  // Pulled chunk by chunk as the upload goes (Node 20's Readable.toWeb would buffer it all).
  // Node's fetch streams a body only with duplex: "half".
  const chunks = fleetText(shape, times, { ms: true });
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      const n = chunks.next();
      if (n.done) c.close();
      else c.enqueue(encoder.encode(n.value));
    },
  });
  const init = { method: "POST", body, duplex: "half" } as RequestInit;
  const res = await fetch(`${url}/api/v1/import/prometheus`, init);
  if (!res.ok) throw new Error(`victoria-metrics import: HTTP ${res.status}: ${await res.text()}`);
  await fetch(`${url}/internal/force_flush`);
  return { name: "victoria-metrics", url, stop: stopper(proc) };
}
