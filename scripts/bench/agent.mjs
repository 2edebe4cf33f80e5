#!/usr/bin/env node
// Agent benchmark (`npm run bench:agent`, after `npm run build`): 2,000 vCPU threads in 50
// processes named like QEMU (so the qemu source finds them as 50 VMs × 40 vCPUs), the agent
// sampling them, then
//   - /metrics latency with 10 concurrent scrapers (wrk from Debian: apt-get install wrk),
//   - the agent's CPU use at a 5 s interval with nobody scraping,
//   - its RSS.
//   - with --full-history: a history prefilled with 7 days + 1 hour for every vCPU, so the
//     RSS is that of an agent with full history.
// Options: --vms 50 --vcpus 40 --interval 5 --idle-seconds 60 --wrk-seconds 20 --full-history
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const args = process.argv.slice(2);
const arg = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const vms = Number(arg("--vms", "50"));
const vcpus = Number(arg("--vcpus", "40"));
const interval = arg("--interval", "5");
const idleSeconds = Number(arg("--idle-seconds", "60"));
const wrkSeconds = arg("--wrk-seconds", "20");
const port = Number(arg("--port", "19979"));
const fullHistory = args.includes("--full-history");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const work = mkdtempSync(join(tmpdir(), "vsteal-agent-bench-"));
execFileSync("gcc", ["-O2", "-o", join(work, "threads"), join(here, "threads.c"), "-lpthread"]);
const fake = join(work, "qemu-system-x86_64");
copyFileSync(join(work, "threads"), fake);

const uuidOf = (i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
const historyDir = join(work, "history");
if (fullHistory) {
  const { prefillHistory } = await import("./prefill-history.mjs");
  await prefillHistory({
    root,
    dir: historyDir,
    intervalS: Number(interval),
    vms,
    vcpus,
    nameOf: (i) => `bench-${i}`,
    uuidOf,
  });
}

const children = [];
for (let i = 0; i < vms; i++) {
  const c = spawn(fake, ["-name", `guest=bench-${i},debug-threads=on`, "-uuid", uuidOf(i), "-smp", String(vcpus)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(c);
  await new Promise((r) => c.stdout.once("data", r));
}
const agentArgs = [
  join(root, "dist", "cli", "main.cjs"),
  "agent",
  "--source",
  "qemu",
  "--interval",
  interval,
  "--web.listen-address",
  `127.0.0.1:${port}`,
];
agentArgs.push("--history.dir", fullHistory ? historyDir : "");
const nodeFlags = args.includes("--cpu-prof") ? ["--cpu-prof", `--cpu-prof-dir=${join(work, "prof")}`] : [];
if (nodeFlags.length) console.error(`CPU profile will be written to ${join(work, "prof")}`);
// As deploy/systemd/vsteal-agent.service runs it: a small young generation keeps RSS down.
const nodeOptions = arg("--node-options", "--max-semi-space-size=2");
const agent = spawn(process.execPath, [...nodeFlags, ...agentArgs], {
  stdio: ["ignore", "ignore", "pipe"],
  env: { MALLOC_ARENA_MAX: "2", ...process.env, NODE_OPTIONS: nodeOptions },
}); // as deploy/systemd sets them
let agentErr = "";
agent.stderr.on("data", (d) => (agentErr += d));
const cleanup = () => {
  agent.kill("SIGTERM");
  for (const c of children) c.kill("SIGKILL");
};
process.on("exit", cleanup);

try {
  let health;
  for (let i = 0; i < 100; i++) {
    try {
      health = await (await fetch(`http://127.0.0.1:${port}/api/v1/health`)).json();
      if (health.sweeps >= 2) break;
    } catch {
      /* starting */
    }
    await sleep(500);
  }
  if (!health || health.sweeps < 2) throw new Error(`agent did not start:\n${agentErr}`);
  const cpuOf = () => {
    const st = readFileSync(`/proc/${agent.pid}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in ticks of 10 ms
  };
  const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${agent.pid}/status`, "utf8"))[1]) / 1024;

  // Idle CPU: sampling only.
  const c0 = cpuOf();
  await sleep(idleSeconds * 1000);
  const idleCpu = ((cpuOf() - c0) / idleSeconds) * 100;
  const h = await (await fetch(`http://127.0.0.1:${port}/api/v1/health`)).json();
  const rssIdle = rssMb();

  // Scrapes: 10 concurrent connections.
  let wrk = null;
  try {
    const out = execFileSync(
      "wrk",
      ["-t2", "-c10", `-d${wrkSeconds}s`, "--latency", `http://127.0.0.1:${port}/metrics`],
      { encoding: "utf8" },
    );
    const lat = (p) => {
      const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(out);
      return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : null;
    };
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
    const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
    wrk = {
      p50_ms: lat(50),
      p99_ms: lat(99),
      requests_per_s: rps ? Number(rps[1]) : null,
      non_2xx: errors ? Number(errors[1]) : 0,
    };
  } catch (e) {
    wrk = { error: `wrk failed or missing (apt-get install wrk): ${e.message.split("\n")[0]}` };
  }
  const metricsBytes = (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).length;
  let historySeries = null;
  if (fullHistory) {
    const q = await (await fetch(`http://127.0.0.1:${port}/api/v1/history?domain=bench-0&vcpu=0&from=now-7d`)).json();
    historySeries = { points_7d_bench0_vcpu0: q.series?.[0]?.points?.length ?? 0 };
  }
  const summary = {
    node_options: nodeOptions,
    history: fullHistory ? historySeries : "off",
    vcpu_threads: h.vcpus,
    domains: h.domains,
    interval_s: Number(interval),
    last_sweep_ms: Math.round(h.last_sweep_seconds * 1e5) / 100,
    idle_cpu_percent_of_a_core: Math.round(idleCpu * 100) / 100,
    rss_mb_sampling: Math.round(rssIdle),
    memory_mb_sampling: Object.fromEntries(
      Object.entries(h.memory ?? {}).map(([k, v]) => [k, Math.round(v / 1048576)]),
    ),
    rss_mb_after_scrapes: Math.round(rssMb()),
    metrics_bytes: metricsBytes,
    scrape: wrk,
  };
  console.log(JSON.stringify(summary, null, 2));
} finally {
  cleanup();
}
