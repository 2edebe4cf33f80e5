import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { freePort } from "../support/lab-prometheus.js";
import { describeE2E } from "./env.js";
import { ROOT, startAgent, type RunningAgent } from "./virsh.js";

/**
 * The scrape config the docs show (deploy/prometheus/vsteal-scrape.yml), run by the real
 * Prometheus against two real agents that name their hosts themselves: no relabelling, and a
 * host's series are found by its name through vsteal_host_info.
 */
describeE2E("Prometheus scrapes a fleet of agents with the documented config", () => {
  const agents: RunningAgent[] = [];
  let prom: ChildProcess | null = null;
  let promUrl = "";
  let dir = "";

  const query = async (q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const j = (await r.json()) as {
      status: string;
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    expect(j.status).toBe("success");
    return j.data.result;
  };

  beforeAll(async () => {
    agents.push(
      await startAgent(["--source", "libvirt", "--interval", "1", "--history.dir", "", "--host-name", "hv-a.example"]),
    );
    agents.push(
      await startAgent([
        "--source",
        "libvirt",
        "--interval",
        "1",
        "--history.dir",
        "",
        "--host-name",
        "hv-b.example",
        "--reserved-cpus",
        "1",
        "--reserved-memory",
        "512",
      ]),
    );
    dir = mkdtempSync(join(tmpdir(), "vsteal-scrape-"));
    const config = parse(readFileSync(join(ROOT, "deploy", "prometheus", "vsteal-scrape.yml"), "utf8")) as {
      global: Record<string, string>;
      rule_files?: string[];
      scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>;
    };
    // The documented config as it is, but for the targets (these agents) and a fast interval.
    config.global.scrape_interval = "1s";
    config.rule_files = [join(ROOT, "deploy", "prometheus", "vsteal-alerts.rules.yml")];
    config.scrape_configs[0]!.static_configs[0]!.targets = agents.map((a) => new URL(a.url).host);
    writeFileSync(join(dir, "prometheus.yml"), stringify(config));
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prom = spawn(
      "prometheus",
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: "ignore" },
    );
    for (let i = 0; i < 300; i++) {
      try {
        const up = await query("count(up == 1)");
        if (Number(up[0]?.value[1] ?? 0) === 2 && (await query("vsteal_host_info")).length === 2) return;
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error("Prometheus did not scrape both agents within 60 s");
  });

  afterAll(async () => {
    prom?.kill("SIGTERM");
    for (const a of agents) await a.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("knows each host by the name its agent gives, and joins any host series to it", async () => {
    expect((await query("vsteal_host_info")).map((r) => r.metric.host_name).sort()).toEqual([
      "hv-a.example",
      "hv-b.example",
    ]);
    const capacity = await query("vsteal_host_capacity_cores * on (instance) group_left (host_name) vsteal_host_info");
    const byHost = new Map(capacity.map((r) => [r.metric.host_name, Number(r.value[1])]));
    const vmCpus = Number(
      (
        await query(
          'vsteal_host_vm_cpus * on (instance) group_left (host_name) vsteal_host_info{host_name="hv-a.example"}',
        )
      )[0]!.value[1],
    );
    expect(byHost.get("hv-a.example")).toBe(vmCpus);
    expect(byHost.get("hv-b.example")).toBe(vmCpus - 1); // --reserved-cpus 1
    const mem = await query(
      'vsteal_host_memory_total_bytes - on (instance) vsteal_host_vm_memory_bytes * on (instance) group_left (host_name) vsteal_host_info{host_name="hv-b.example"}',
    );
    expect(Number(mem[0]!.value[1])).toBe(512 * 2 ** 20); // --reserved-memory 512
    expect((await query('vsteal_host_vm_cpus_info{cpus=~"[0-9,-]+"}')).length).toBe(2);
  });
});
