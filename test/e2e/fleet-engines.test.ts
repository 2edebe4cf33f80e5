import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fleetShape, hostName, scrapeTimes } from "../../scripts/bench/fleet-data.js";
import { prometheusFromBlocks, victoriaMetricsImported, type Engine } from "../../scripts/bench/fleet-engines.js";
import { PrometheusClient } from "../../src/fleet/prom-client.js";
import { vcpuSeriesCountQuery } from "../../src/fleet/queries.js";
import { buildSnapshot, type SnapshotBuild } from "../../src/fleet/snapshot-builder.js";
import { DEFAULT_PLAN_OPTIONS } from "../../src/planner/options.js";
import { planValidated } from "../../src/planner/plan.js";

// The same synthetic fleet in a real Prometheus (TSDB blocks from promtool) and a real
// VictoriaMetrics (its import API): vsteal must read the same snapshot, and so make the same
// plan, from either. The counters grow linearly, so each engine's rate() is exact.

const tools = ["prometheus", "promtool", "victoria-metrics"].filter(
  (t) => spawnSync("which", [t], { stdio: "ignore" }).status !== 0,
);
const inCi = process.env.CI === "true" || process.env.CI === "1";
if (tools.length && inCi)
  throw new Error(`missing in CI: ${tools.join(", ")} (apt-get install prometheus victoria-metrics)`);
const describeEngines = tools.length ? describe.skip : describe;

describeEngines("Prometheus and VictoriaMetrics give the same snapshot and plan", () => {
  const dir = mkdtempSync(join(tmpdir(), "vsteal-engines-"));
  const shape = fleetShape({ hosts: 6, vms: 10, seed: 7 });
  const nowS = Math.floor(Date.now() / 1000);
  const times = scrapeTimes(nowS - 420, nowS + 600, 30);
  const engines: Engine[] = [];
  const builds = new Map<string, SnapshotBuild>();

  beforeAll(async () => {
    engines.push(await prometheusFromBlocks(shape, times, join(dir, "prom")));
    engines.push(await victoriaMetricsImported(shape, times, join(dir, "vm")));
    for (const e of engines) {
      builds.set(
        e.name,
        await buildSnapshot(new PrometheusClient({ url: e.url }), {
          windowS: 300,
          nowMs: nowS * 1000,
          staleAfterS: 3600,
        }),
      );
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(engines.map((e) => e.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("each engine's snapshot has every host and VM, with the rates the data was made with", () => {
    for (const [name, b] of builds) {
      expect(
        b.snapshot.hosts.map((h) => h.name),
        name,
      ).toEqual(Array.from({ length: 6 }, (_, h) => hostName(h)));
      expect(b.snapshot.vms.length, name).toBe(60);
      const usage = b.snapshot.vms.flatMap((v) => v.usage);
      const delay = b.snapshot.vms.flatMap((v) => v.delay);
      expect(usage.length, name).toBe(shape.vcpus);
      // VMs sort by host then name, as the data was generated: the k-th vCPU is the k-th rate.
      usage.forEach((u, k) => expect(u, `${name} usage[${k}]`).toBeCloseTo(shape.usage[k]!, 6));
      delay.forEach((d, k) => expect(d, `${name} delay[${k}]`).toBeCloseTo(shape.delay[k]!, 6));
    }
  });

  it("each engine counts one target's vCPU series as the data have them (the second round for agents without the gauge)", async () => {
    const vcpusOf0 = Array.from(shape.vmVcpus.subarray(0, shape.vms)).reduce((a, b) => a + b, 0);
    for (const e of engines) {
      const counted = await new PrometheusClient({ url: e.url }).vector(vcpuSeriesCountQuery([`${hostName(0)}:9977`]), {
        time: nowS,
      });
      expect(
        counted.result.samples.map((c) => [c.labels.instance, c.v]),
        e.name,
      ).toEqual([[`${hostName(0)}:9977`, vcpusOf0]]);
    }
  });

  it("the two snapshots are the same and so are the plans, and the plan moves VMs off the oversubscribed hosts", () => {
    const p = builds.get("prometheus")!.snapshot;
    const v = builds.get("victoria-metrics")!.snapshot;
    // Rates agree to 1e-5 of a core: the engines' float sums over the same samples differ in the
    // last digits (seen: 0.002875 vs 0.002876); the plans must be identical.
    const strip = (s: typeof p) => ({
      hosts: s.hosts,
      vms: s.vms.map((x) => ({ ...x, usage: x.usage.length, delay: x.delay.length })),
    });
    expect(strip(v)).toEqual(strip(p));
    const rates = (s: typeof p) => s.vms.flatMap((x) => [...x.usage, ...x.delay]);
    const rp = rates(p);
    rates(v).forEach((r, i) => expect(Math.abs(r - rp[i]!), `rate ${i}`).toBeLessThanOrEqual(1e-5));
    const planP = planValidated(p, DEFAULT_PLAN_OPTIONS);
    const planV = planValidated(v, DEFAULT_PLAN_OPTIONS);
    expect(planV.moves).toEqual(planP.moves);
    expect(planP.moves.length).toBeGreaterThan(0);
    const over = new Set([0, 3].map(hostName));
    for (const m of planP.moves) expect(over.has(m.from), `${m.vm} from ${m.from}`).toBe(true);
  });
});
