#!/usr/bin/env node
/**
 * scripts/bench/hostile-bounds.mjs — what the snapshot validator's bounds (FLEET_BOUNDS in
 * src/model/fleet.ts) leave the planner: the time of plan(snapshot), validation included, on
 * snapshots at the edge of what is accepted, and the time to refuse one beyond it.
 *
 *   npm run build && node scripts/bench/hostile-bounds.mjs [--json]
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
const { FLEET_BOUNDS } = await import(join(ROOT, "dist/model/fleet.js"));
const JSON_OUT = process.argv.includes("--json");

const B = FLEET_BOUNDS;
const snapshot = (hosts, vms) => ({
  version: 1,
  time: "2026-11-25T12:00:00Z",
  window_s: 300,
  hosts,
  vms,
  constraints: { max_moves: null, anti_affinity: [] },
});
const host = (i, cpus) => ({ name: `hv${i}`, cpus, memory_mib: 0 });
const vm = (i, h, vcpus, u, d) => ({
  name: `vm${i}`,
  host: `hv${h}`,
  vcpus,
  memory_mib: 0,
  usage: Array(vcpus).fill(u),
  delay: Array(vcpus).fill(d),
});

const cases = [
  {
    name: `one VM of ${B.vmVcpus} vCPUs, busy and waiting, next to an empty host (${B.hostCpus} CPUs each)`,
    make: () => snapshot([host(0, B.hostCpus), host(1, B.hostCpus)], [vm(0, 0, B.vmVcpus, 1, 1)]),
  },
  ...[5, null].map((maxMoves) => ({
    name: `${B.hostVcpus} one-vCPU VMs on one crowded 64-CPU host, 2 empty ones, max_moves ${maxMoves ?? "unlimited"}`,
    make: () => {
      const s = snapshot(
        [host(0, 64), host(1, 64), host(2, 64)],
        Array.from({ length: B.hostVcpus }, (_, i) => vm(i, 0, 1, 1, 0.5)),
      );
      s.constraints.max_moves = maxMoves;
      return s;
    },
  })),
  {
    name: `${B.hostVcpus / 64} VMs of 64 vCPUs on one crowded 2048-CPU host, 2 empty ones, unlimited moves`,
    make: () =>
      snapshot(
        [host(0, 2048), host(1, 2048), host(2, 2048)],
        Array.from({ length: B.hostVcpus / 64 }, (_, i) => vm(i, 0, 64, 1, 0.5)),
      ),
  },
  {
    name: `refused: 64 VMs of ${B.vmVcpus} vCPUs on one host (ran for more than 5 minutes before)`,
    make: () =>
      snapshot(
        Array.from({ length: 9 }, (_, i) => host(i, B.hostCpus)),
        Array.from({ length: 64 }, (_, i) => vm(i, 0, B.vmVcpus, 1, 0.5)),
      ),
  },
  {
    name: "refused: cpus 1e12 (crashed the planner before)",
    make: () => snapshot([host(0, 1e12), host(1, 8)], [vm(0, 0, 1, 0.5, 0.1)]),
  },
  {
    name: "refused: one VM of 1e6 vCPUs (ran for minutes before)",
    make: () => snapshot([host(0, 64), host(1, 64)], [vm(0, 0, 1_000_000, 1, 1)]),
  },
];

const out = [];
for (const c of cases) {
  const s = c.make();
  const t0 = performance.now();
  let result;
  try {
    const p = plan(s);
    result = `${p.moves.length} moves`;
  } catch (e) {
    result = `refused: ${String(e.message).split("\n")[1]?.trim() ?? e.message}`;
  }
  const ms = performance.now() - t0;
  out.push({ case: c.name, ms: Math.round(ms), result });
  if (!JSON_OUT) console.log(`${c.name}\n  ${(ms / 1000).toFixed(2)} s — ${result}`);
}
if (JSON_OUT) console.log(JSON.stringify(out, null, 2));
