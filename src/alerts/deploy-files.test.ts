/**
 * The shipped monitoring files: deploy/prometheus/vsteal-alerts.rules.yml (checked and unit
 * tested with promtool) and deploy/grafana/vsteal-dashboard.json (valid JSON, the expected
 * variables and panels, and every PromQL expression parsed by promtool).
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { z } from "zod";

const run = promisify(execFile);
const deploy = (p: string): string => fileURLToPath(new URL(`../../deploy/${p}`, import.meta.url));
const RULES = deploy("prometheus/vsteal-alerts.rules.yml");
const RULES_TEST = deploy("prometheus/vsteal-alerts.rules.test.yml");
const DASHBOARD = deploy("grafana/vsteal-dashboard.json");

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" });
const NO_PROMTOOL = promtool.status === 0 ? null : "promtool is not on PATH (Debian/Ubuntu: apt install prometheus)";

/** The metrics the vsteal agent exports; the shipped files must use no other. */
const EXPORTED = new Set([
  "libvirt_domain_vcpu_delay_seconds_total",
  "vsteal_domain_vcpu_throttled_seconds_total",
  "libvirt_domain_vcpu_time_seconds_total",
  "vsteal_host_cpus",
  "vsteal_host_vcpu_demand_cores",
  "vsteal_host_vcpus_allocated",
  "vsteal_domain_info",
]);
const metricsIn = (expr: string): string[] => [...expr.matchAll(/\b(?:libvirt|vsteal)_[a-z_]+\b/g)].map((m) => m[0]);

async function promtoolOk(args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run("promtool", args, { timeout: 60_000 });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}${e.message}` };
  }
}

const tmp: string[] = [];
afterAll(async () => {
  await Promise.all(tmp.map((d) => rm(d, { recursive: true, force: true })));
});

describe("deploy/prometheus/vsteal-alerts.rules.yml", () => {
  const rulesFile = z.object({
    groups: z.array(
      z.object({
        name: z.string(),
        rules: z.array(
          z.object({ alert: z.string(), expr: z.string(), for: z.string(), labels: z.record(z.string(), z.string()) }),
        ),
      }),
    ),
  });

  it("has the alerts the product promises, on exported metrics only", async () => {
    const file = rulesFile.parse(parse(await readFile(RULES, "utf8")));
    const rules = file.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => [r.alert, r.for, r.labels["severity"]])).toEqual([
      ["VcpuContentionStealHigh", "3m", "warning"],
      ["DomainContentionStealHigh", "5m", "warning"],
      ["VcpuThrottledHigh", "5m", "info"],
      ["HostOversubscribed", "2m", "warning"],
    ]);
    for (const r of rules) {
      const used = metricsIn(r.expr);
      expect(used.length).toBeGreaterThan(0);
      for (const m of used) expect(EXPORTED, `${r.alert} uses ${m}`).toContain(m);
    }
  });

  it("the VM alerts carry the VM's platform identity: a group_left join on vsteal_domain_info, with a fallback for VMs without it", async () => {
    const file = rulesFile.parse(parse(await readFile(RULES, "utf8")));
    const byName = new Map(file.groups.flatMap((g) => g.rules).map((r) => [r.alert, r.expr]));
    for (const a of ["VcpuContentionStealHigh", "DomainContentionStealHigh"]) {
      expect(byName.get(a)).toMatch(
        /\* on \(instance, job, domain, uuid\) group_left \(platform, instance_name, project_name, namespace\)\s+vsteal_domain_info\s+or on \(instance, job, domain, uuid/,
      );
    }
  });

  it("passes promtool check rules", async (ctx) => {
    ctx.skip(NO_PROMTOOL !== null, NO_PROMTOOL ?? "");
    const res = await promtoolOk(["check", "rules", RULES]);
    expect(res.output).toContain("SUCCESS: 4 rules found");
    expect(res.ok).toBe(true);
  });

  it("passes its promtool unit tests (firing times, labels, annotations)", async (ctx) => {
    ctx.skip(NO_PROMTOOL !== null, NO_PROMTOOL ?? "");
    const res = await promtoolOk(["test", "rules", RULES_TEST]);
    expect(res.output).toContain("SUCCESS");
    expect(res.ok).toBe(true);
  });
});

describe("deploy/grafana/vsteal-dashboard.json", () => {
  const datasource = z.object({ type: z.literal("prometheus"), uid: z.literal("${DS_PROMETHEUS}") });
  const panel = z.object({
    id: z.number(),
    type: z.enum(["timeseries", "table", "bargauge", "heatmap"]),
    title: z.string(),
    datasource,
    gridPos: z.object({ h: z.number(), w: z.number(), x: z.number(), y: z.number() }),
    targets: z.array(z.object({ refId: z.string(), expr: z.string().min(1), datasource })).min(1),
  });
  const variable = z.object({ name: z.string(), type: z.string(), query: z.unknown() });
  const dashboard = z.object({
    schemaVersion: z.number().int().min(36).max(41),
    uid: z.string(),
    title: z.string(),
    panels: z.array(panel),
    templating: z.object({ list: z.array(variable) }),
  });

  const load = async (): Promise<z.infer<typeof dashboard>> =>
    dashboard.parse(JSON.parse(await readFile(DASHBOARD, "utf8")) as unknown);

  it("is valid JSON with a data source variable and host and domain variables", async () => {
    const d = await load();
    const vars = Object.fromEntries(d.templating.list.map((v) => [v.name, v]));
    expect(vars["DS_PROMETHEUS"]).toMatchObject({ type: "datasource", query: "prometheus" });
    expect(vars["host"]).toMatchObject({ type: "query", query: { query: "label_values(vsteal_host_cpus, instance)" } });
    expect(vars["domain"]).toMatchObject({
      type: "query",
      query: { query: 'label_values(libvirt_domain_vcpu_delay_seconds_total{instance=~"$host"}, domain)' },
    });
  });

  it("has the five panels, none overlapping", async () => {
    const d = await load();
    expect(d.panels.map((p) => [p.type, p.title])).toEqual([
      ["timeseries", "Host demand vs capacity"],
      ["table", "Top 10 vCPUs by steal"],
      ["timeseries", "Contention steal per VM"],
      ["timeseries", "Throttled per VM"],
      ["heatmap", "Steal per VM"],
    ]);
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
    for (const a of d.panels) {
      expect(a.gridPos.x + a.gridPos.w).toBeLessThanOrEqual(24);
      for (const b of d.panels) {
        if (a === b) continue;
        const apart =
          a.gridPos.x + a.gridPos.w <= b.gridPos.x ||
          b.gridPos.x + b.gridPos.w <= a.gridPos.x ||
          a.gridPos.y + a.gridPos.h <= b.gridPos.y ||
          b.gridPos.y + b.gridPos.h <= a.gridPos.y;
        expect(apart, `${a.title} overlaps ${b.title}`).toBe(true);
      }
    }
  });

  it("queries exported metrics only, filtered by the host and domain variables", async () => {
    const d = await load();
    for (const p of d.panels) {
      for (const t of p.targets) {
        for (const m of metricsIn(t.expr)) expect(EXPORTED, `${p.title}: ${m}`).toContain(m);
        expect(t.expr, p.title).toContain('instance=~"$host"');
        if (!t.expr.includes("vsteal_host_")) expect(t.expr, p.title).toContain('domain=~"$domain"');
      }
    }
  });

  it("shows who each VM is on its platform: panels join vsteal_domain_info with group_left", async () => {
    const d = await load();
    const joined = d.panels.filter((p) =>
      p.targets.some((t) =>
        /group_left \(platform, instance_name, project_name, namespace\)\s+max by \(instance, domain, uuid, platform, instance_name, project_name, namespace\) \(vsteal_domain_info/.test(
          t.expr,
        ),
      ),
    );
    expect(joined.map((p) => p.title)).toEqual(["Top 10 vCPUs by steal", "Contention steal per VM"]);
  });

  it("has PromQL that promtool parses, in every panel and variable", async (ctx) => {
    ctx.skip(NO_PROMTOOL !== null, NO_PROMTOOL ?? "");
    const d = await load();
    // Grafana's variables as Grafana would substitute them.
    const interpolate = (expr: string): string =>
      expr
        .replaceAll("$__rate_interval", "1m")
        .replaceAll("$__interval", "30s")
        .replaceAll("$__range", "6h")
        .replaceAll("$host", ".*")
        .replaceAll("$domain", ".*");
    const exprs = d.panels.flatMap((p) =>
      p.targets.map((t) => ({ where: `${p.title} ${t.refId}`, expr: interpolate(t.expr) })),
    );
    for (const v of d.templating.list) {
      const q = z.object({ query: z.string() }).safeParse(v.query);
      const m = q.success ? /^label_values\((.+),\s*\w+\)$/s.exec(q.data.query) : null;
      if (m?.[1] !== undefined) exprs.push({ where: `variable ${v.name}`, expr: interpolate(m[1]) });
    }
    expect(exprs.length).toBe(10); // 8 panel queries, 2 variable queries
    expect(exprs.every((e) => !e.expr.includes("$"))).toBe(true);

    const dir = await mkdtemp(join(tmpdir(), "vsteal-dashboard-"));
    tmp.push(dir);
    const file = join(dir, "exprs.rules.yml");
    await writeFile(
      file,
      stringify({
        groups: [{ name: "dashboard", rules: exprs.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: e.expr })) }],
      }),
    );
    const res = await promtoolOk(["check", "rules", file]);
    expect(res.output, exprs.map((e, i) => `${i}: ${e.where}`).join("\n")).toContain(
      `SUCCESS: ${exprs.length} rules found`,
    );

    // The check does catch bad PromQL.
    await writeFile(
      file,
      stringify({ groups: [{ name: "bad", rules: [{ record: "bad:expr", expr: "rate(x[5m]" }] }] }),
    );
    expect((await promtoolOk(["check", "rules", file])).ok).toBe(false);
  });
});
