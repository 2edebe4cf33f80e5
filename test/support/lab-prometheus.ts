/**
 * A throw-away Prometheus for fleet labs and tests: the machine's real `prometheus` binary on
 * a loopback port, with a temporary config and TSDB, scraping the given agents every second.
 * Each target gets a `host` label, the way a fleet's agents are told apart.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LabTarget {
  /** host:port of an agent. */
  address: string;
  /** The host label. */
  host: string;
}

export interface LabPrometheusOptions {
  targets: LabTarget[];
  binary?: string;
  scrapeIntervalS?: number;
  port?: number;
  /** Where Prometheus' own log goes (default: discarded). */
  log?: (line: string) => void;
  /**
   * Keep only the VM series whose `domain` label matches this regex (host series, without the
   * label, are always kept): a test sees its own VMs only, whatever else runs on the machine.
   */
  keepDomains?: string;
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export function prometheusConfig(targets: LabTarget[], scrapeIntervalS = 1, keepDomains?: string): string {
  const lines = [
    "global:",
    `  scrape_interval: ${scrapeIntervalS}s`,
    `  scrape_timeout: ${Math.max(100, Math.round(scrapeIntervalS * 800))}ms`,
    "scrape_configs:",
    "  - job_name: vsteal",
    "    static_configs:",
  ];
  for (const t of targets) {
    lines.push(
      `      - targets: [${JSON.stringify(t.address)}]`,
      `        labels: { host: ${JSON.stringify(t.host)} }`,
    );
  }
  if (keepDomains !== undefined) {
    lines.push(
      "    metric_relabel_configs:",
      "      - source_labels: [domain]",
      `        regex: ${JSON.stringify(`|${keepDomains}`)}`,
      "        action: keep",
    );
  }
  return `${lines.join("\n")}\n`;
}

export class LabPrometheus {
  private constructor(
    readonly url: string,
    readonly port: number,
    private readonly proc: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(opts: LabPrometheusOptions): Promise<LabPrometheus> {
    const dir = mkdtempSync(join(tmpdir(), "vsteal-lab-prometheus-"));
    const port = opts.port ?? (await freePort());
    writeFileSync(
      join(dir, "prometheus.yml"),
      prometheusConfig(opts.targets, opts.scrapeIntervalS ?? 1, opts.keepDomains),
    );
    const proc = spawn(
      opts.binary ?? "prometheus",
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-4000);
      if (opts.log) for (const l of d.split("\n")) if (l) opts.log(l);
    });
    const url = `http://127.0.0.1:${port}`;
    const p = new LabPrometheus(url, port, proc, dir);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(
          `prometheus exited (${proc.exitCode ?? proc.signalCode}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`,
        );
      }
      try {
        const r = await fetch(`${url}/-/ready`);
        if (r.ok) return p;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) {
        await p.stop();
        throw new Error(
          `prometheus did not get ready on ${url} within 30 s: ${stderr.trim().split("\n").slice(-3).join(" | ")}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits until every target was scraped successfully at least `scrapes` times. */
  async waitForTargets(count: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const r = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent("count(up == 1)")}`);
        const j = (await r.json()) as { data?: { result?: Array<{ value: [number, string] }> } };
        if (Number(j.data?.result?.[0]?.value[1] ?? 0) >= count) return;
      } catch {
        /* keep trying */
      }
      if (Date.now() > deadline)
        throw new Error(`Prometheus at ${this.url}: fewer than ${count} targets up after ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise<void>((r) => this.proc.once("exit", () => r()));
      this.proc.kill("SIGTERM");
      const t = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
