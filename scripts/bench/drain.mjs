#!/usr/bin/env node
/**
 * scripts/bench/drain.mjs — how long planning a host's drain takes (src/planner/drain.ts).
 *
 *   npm run build && node scripts/bench/drain.mjs [--runs 3] [--json]
 *
 * Generated fleets (deterministic, seeded, as scripts/bench/planner.mjs): 100 and 1,000 hosts
 * × 40 VMs, 64 CPUs a host; the most loaded host is drained. planDrain(snapshot, host) is timed,
 * validation included, median of --runs; the moves, the VMs that stay and the predicted added
 * waiting of the rest of the fleet are printed with it.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
if (!existsSync(join(ROOT, "dist/planner/drain.js"))) {
  console.error("build first: npm run build");
  process.exit(1);
}
const { planDrain } = await import(join(ROOT, "dist/planner/drain.js"));
const { generateFleet } = await import(join(ROOT, "dist/sim/generate-fleet.js"));

const args = process.argv.slice(2);
const i = args.indexOf("--runs");
const RUNS = i >= 0 ? Number(args[i + 1]) : 3;
const JSON_OUT = args.includes("--json");
const results = [];
for (const hosts of [100, 1000]) {
  const fleet = generateFleet({
    hosts,
    vmsPerHost: 40,
    seed: 1,
    cpus: 64,
    vcpuChoices: [1, 2, 2, 4],
    meanDemand: 0.45,
    hotFraction: 0.1,
    hotFactor: 1.6,
  });
  const count = new Map();
  for (const v of fleet.vms) count.set(v.host, (count.get(v.host) ?? 0) + 1);
  const host = [...count].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
  const text = JSON.stringify(fleet);
  const times = [];
  let r;
  for (let k = 0; k < RUNS; k++) {
    const snapshot = JSON.parse(text);
    const t0 = performance.now();
    r = planDrain(snapshot, host);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const row = {
    hosts,
    vms: fleet.vms.length,
    host,
    vms_on_host: count.get(host),
    median_ms: Math.round(times[Math.floor(times.length / 2)] * 10) / 10,
    min_ms: Math.round(times[0] * 10) / 10,
    moves: r.plan.moves.length,
    unplaced: r.unplaced.length,
    rest_of_fleet: r.rest_of_fleet,
  };
  results.push(row);
  if (!JSON_OUT)
    console.log(
      `${hosts} hosts, ${row.vms} VMs: drain ${host} (${row.vms_on_host} VMs): ${row.median_ms} ms median (min ${row.min_ms}) over ${RUNS} runs; ` +
        `${row.moves} moves, ${row.unplaced} stay; rest of the fleet ${row.rest_of_fleet.steal_before} → ${row.rest_of_fleet.steal_after} cores`,
    );
}
if (JSON_OUT) console.log(JSON.stringify(results, null, 2));
