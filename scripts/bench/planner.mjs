#!/usr/bin/env node
/**
 * scripts/bench/planner.mjs — planner speed and plan quality.
 *
 *   npm run build && node scripts/bench/planner.mjs [--fleets 50] [--runs 3] [--json]
 *
 * 1. Speed: a generated fleet of 1,000 hosts × 40 VMs (64 CPUs each, ~10 % of hosts crowded):
 *    the time of plan(snapshot) — validation included — with max_moves 50 and unlimited.
 * 2. Quality: random small fleets (4 hosts × 8 CPUs, 12 VMs, max_moves 3), small enough for the
 *    exact optimum: predicted steal removed by the contention policy against the optimum, the
 *    migrations each uses, and steal removed per migration against the utilisation-balancing
 *    and one-VM-per-round baselines (hottest-host: one plan = one round; hottest-host×3: three
 *    rounds, each move applied and the fleet re-measured with the model before the next).
 *
 * All fleets are deterministic (seeded): the figures are reproducible.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
if (!existsSync(join(ROOT, "dist/planner/index.js"))) {
  console.error("build first: npm run build");
  process.exit(1);
}
const { plan } = await import(join(ROOT, "dist/planner/index.js"));
const { generateFleet, applyMoves } = await import(join(ROOT, "dist/sim/generate-fleet.js"));

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const FLEETS = opt("fleets", 50);
const RUNS = opt("runs", 3);
const JSON_OUT = args.includes("--json");
const out = {};
const say = (...a) => {
  if (!JSON_OUT) console.log(...a);
};

// ------------------------------------------------------------------ speed

say("== speed: 1,000 hosts × 40 VMs ==");
let t0 = performance.now();
const big = generateFleet({
  hosts: 1000,
  vmsPerHost: 40,
  seed: 1,
  cpus: 64,
  vcpuChoices: [1, 2, 2, 4],
  meanDemand: 0.45,
  hotFraction: 0.1,
  hotFactor: 1.6,
});
const bigJson = JSON.stringify(big);
say(
  `generated in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${big.hosts.length} hosts, ${big.vms.length} VMs, ${big.vms.reduce((a, v) => a + v.vcpus, 0)} vCPUs, ${(bigJson.length / 1e6).toFixed(1)} MB of JSON`,
);
out.speed = [];
for (const maxMoves of [50, null]) {
  const times = [];
  let p;
  for (let r = 0; r < RUNS; r++) {
    const snapshot = JSON.parse(bigJson);
    snapshot.constraints.max_moves = maxMoves;
    t0 = performance.now();
    p = plan(snapshot);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const row = {
    max_moves: maxMoves,
    ms_median: Math.round(times[Math.floor(times.length / 2)]),
    ms_min: Math.round(times[0]),
    moves: p.moves.length,
    steal_before: p.predicted.steal_before,
    steal_after: p.predicted.steal_after,
  };
  out.speed.push(row);
  say(
    `max_moves ${String(maxMoves ?? "none").padEnd(4)}: plan in ${row.ms_median} ms (median of ${RUNS}, min ${row.ms_min} ms), ${row.moves} moves, predicted contention ${row.steal_before} → ${row.steal_after} cores`,
  );
}

// ------------------------------------------------------------------ quality

say(`\n== quality: ${FLEETS} random small fleets (4 hosts × 8 CPUs, 12 VMs, max_moves 3, minGain 0.02) ==`);
const POLICIES = ["contention", "optimal", "balance-utilisation", "hottest-host", "hottest-host×3"];

/** hottest-host for up to 3 rounds: plan one move, apply it (re-measured by the model), plan again. */
function hottestRounds(s, rounds) {
  const moves = [];
  let cur = s;
  let first = null;
  for (let r = 0; r < rounds; r++) {
    const p = plan(cur, { policy: "hottest-host" });
    first ??= p;
    if (p.moves.length === 0) break;
    moves.push(...p.moves);
    cur = applyMoves(cur, p.moves);
  }
  const after = plan(cur, { policy: "none" }).predicted.steal_before;
  return { moves, predicted: { steal_before: first.predicted.steal_before, steal_after: after } };
}
const totals = Object.fromEntries(POLICIES.map((p) => [p, { removed: 0, moves: 0, ms: 0 }]));
let contended = 0;
let within5 = 0;
let movesOk = 0;
let ratioSum = 0;
let gapSum = 0;
const moveDiff = new Map();
let seed = 0;
let fleets = 0;
while (fleets < FLEETS) {
  seed++;
  const s = generateFleet({
    hosts: 4,
    vmsPerHost: 3,
    seed,
    cpus: 8,
    reservedCpus: 0,
    hotFraction: 0.5,
    hotFactor: 2,
    meanDemand: 0.6,
    vcpuChoices: [1, 2, 2, 4],
    maxMoves: 3,
    pinnedFraction: 0.1,
    cappedFraction: 0.05,
  });
  fleets++;
  const r = {};
  for (const policy of POLICIES) {
    const t = performance.now();
    r[policy] = policy === "hottest-host×3" ? hottestRounds(s, 3) : plan(s, { policy, minGain: 0.02 });
    totals[policy].ms += performance.now() - t;
    totals[policy].removed += r[policy].predicted.steal_before - r[policy].predicted.steal_after;
    totals[policy].moves += r[policy].moves.length;
  }
  const before = r.contention.predicted.steal_before;
  const removedOurs = before - r.contention.predicted.steal_after;
  const removedOpt = before - r.optimal.predicted.steal_after;
  if (removedOpt > 1e-6) {
    contended++;
    ratioSum += removedOurs / removedOpt;
    gapSum += (r.contention.predicted.steal_after - r.optimal.predicted.steal_after) / before;
  }
  if (removedOurs >= 0.95 * removedOpt - 1e-9) within5++;
  const d = r.contention.moves.length - r.optimal.moves.length;
  moveDiff.set(d, (moveDiff.get(d) ?? 0) + 1);
  if (d <= 1) movesOk++;
}
out.quality = {
  fleets,
  fleets_with_something_to_gain: contended,
  within_5pct_of_optimum: within5,
  at_most_one_more_migration: movesOk,
  mean_fraction_of_optimal_removal: contended > 0 ? +(ratioSum / contended).toFixed(4) : null,
  mean_gap_after_vs_optimum_as_fraction_of_before: contended > 0 ? +(gapSum / contended).toFixed(4) : null,
  moves_minus_optimum: Object.fromEntries([...moveDiff.entries()].sort((a, b) => a[0] - b[0])),
  policies: Object.fromEntries(
    POLICIES.map((p) => [
      p,
      {
        steal_removed_cores: +totals[p].removed.toFixed(3),
        migrations: totals[p].moves,
        removed_per_migration: totals[p].moves > 0 ? +(totals[p].removed / totals[p].moves).toFixed(4) : null,
        ms_per_plan: +(totals[p].ms / fleets).toFixed(2),
      },
    ]),
  ),
};
const q = out.quality;
say(`fleets where the optimum removes anything: ${q.fleets_with_something_to_gain} of ${fleets}`);
say(
  `contention policy within 5 % of the optimum's steal removed: ${q.within_5pct_of_optimum} of ${fleets} fleets; mean share of the optimum's removal ${(q.mean_fraction_of_optimal_removal * 100).toFixed(1)} %`,
);
say(
  `steal after, above the optimum's, as a share of steal before (mean): ${(q.mean_gap_after_vs_optimum_as_fraction_of_before * 100).toFixed(2)} %`,
);
say(
  `migrations, ours − optimum's: ${JSON.stringify(q.moves_minus_optimum)} (at most one more: ${q.at_most_one_more_migration} of ${fleets})`,
);
say("\npolicy                 steal removed  migrations  removed/migration  ms/plan");
for (const p of POLICIES) {
  const x = q.policies[p];
  say(
    `${p.padEnd(22)} ${x.steal_removed_cores.toFixed(3).padStart(13)}  ${String(x.migrations).padStart(10)}  ${(x.removed_per_migration ?? 0).toFixed(4).padStart(17)}  ${x.ms_per_plan.toFixed(2).padStart(7)}`,
  );
}
if (JSON_OUT) console.log(JSON.stringify(out, null, 2));
