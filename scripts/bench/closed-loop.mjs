#!/usr/bin/env node
// Closed-loop benchmark on the testbed's two hosts with their own CPUs:
//   node scripts/bench/closed-loop.mjs [--minutes 30]     (root, after npm run build)
// 1. `scripts/testbed demo --keep`: two spinning VMs crowd host A's CPU; the controller moves
//    one to B. Its figures (steal before/after from libvirt, seconds to detect and relieve).
// 2. A steady overload no move can cure: a third spinning VM on A (A: 2 vCPUs on 1 CPU, B: 1 on
//    1; moving one only moves the crowd). For --minutes, every migration is counted (ping-pong
//    would show as moves back and forth), and the controller's CPU and RSS are sampled from
//    /proc, idle and during audits.
// Prints one JSON object; `scripts/testbed demo-down` is run at the end.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const TESTBED = join(ROOT, "scripts", "testbed");
const argv = process.argv.slice(2);
const minutes = Number(argv[argv.indexOf("--minutes") + 1] || 30);
const STATE = join(process.env.VSTEAL_TESTBED_DIR ?? "/var/lib/vsteal-testbed", "demo", "state.json");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TICK = BigInt(Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()));

const demo = JSON.parse(
  execFileSync(TESTBED, ["demo", "--keep"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    .trim()
    .split("\n")
    .pop(),
);
try {
  execFileSync(TESTBED, ["define", "vsteal-demo-3", "1"], {
    env: { ...process.env, VSTEAL_TESTBED_PREFIX: "vsteal-demo-", VSTEAL_TESTBED_CPUS: "0" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const pid = JSON.parse(readFileSync(STATE, "utf8")).pids.controller;
  const entries = () =>
    readFileSync(demo.audit_log, "utf8")
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l));
  const movesBefore = entries().filter((e) => e.action === "migrate" && e.result !== "started").length;
  const cpu = () => {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return BigInt(f[11]) + BigInt(f[12]);
  };
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024;
  const t0 = Date.now();
  const c0 = cpu();
  let maxRss = 0;
  let minRss = Infinity;
  while (Date.now() - t0 < minutes * 60_000) {
    await sleep(1000);
    const r = rss();
    maxRss = Math.max(maxRss, r);
    minRss = Math.min(minRss, r);
  }
  const cpuS = Number(cpu() - c0) / Number(TICK);
  const moves = entries()
    .filter((e) => e.action === "migrate" && e.result !== "started")
    .slice(movesBefore);
  const log = readFileSync(join(dirname(STATE), "controller.log"), "utf8");
  const auditMs = [...log.matchAll(/\[(\d+) ms\]$/gm)].map((m) => Number(m[1]));
  process.stdout.write(
    `${JSON.stringify({
      demo,
      steady_overload_minutes: minutes,
      moves_during_steady_overload: moves.map((e) => `${e.vm} ${e.from}→${e.to} ${e.result}`),
      controller_cpu_percent_of_a_core: Math.round((10000 * cpuS) / ((Date.now() - t0) / 1000)) / 100,
      controller_rss_mb: { min: Math.round(minRss / 1e5) / 10, max: Math.round(maxRss / 1e5) / 10 },
      audit_ms: {
        n: auditMs.length,
        median: auditMs.sort((a, b) => a - b)[auditMs.length >> 1] ?? null,
        max: auditMs.at(-1) ?? null,
      },
    })}\n`,
  );
} finally {
  execFileSync(TESTBED, ["demo-down"], { stdio: "ignore" });
}
