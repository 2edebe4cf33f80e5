#!/usr/bin/env node
// Soak test of the agent (`npm run soak`, or `node scripts/soak.mjs` after `npm run build`):
// 2,000 vCPU threads (50 fake VMs × 40: copies of scripts/bench/threads.c named
// qemu-system-x86_64, found with --source qemu) sampled every second (--interval 1), history
// persisted to a temp dir, while wrk (Debian's: apt-get install wrk) drives /metrics (gzip, as
// Prometheus asks), /api/v1/host and /api/v1/domains from loopback. Debian's wrk has no -R
// (rate), so each wrk connection waits a fixed delay between requests (a Lua delay()); the rate
// achieved is measured and reported.
//
// Every 10 s: the agent's RSS and open file descriptors (/proc/PID/fd) and its health. At the
// end one JSON document on stdout: requests, failures (non-2xx, socket errors, timeouts),
// latency p50/p90/p99 per endpoint, the achieved rate, RSS and fds first/last/min/max and their
// slope per hour (least squares, over all samples and after the first minute of warm-up),
// sweeps done against sweeps due. Progress goes to stderr. Exit code 1 when a request failed,
// the rate stayed under --min-rate, or the agent died.
//
// Options: --minutes 10  --rate 300 (requests/s in all, split over the endpoints)
//          --vms 50 --vcpus 40 --interval 1 --sample-seconds 10 --connections 4 (per endpoint)
//          --min-rate 200  --no-gzip  --empty-history (start without the 7 days + 1 hour of history)
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const args = process.argv.slice(2);
const arg = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const minutes = Number(arg("--minutes", "10"));
const rate = Number(arg("--rate", "300"));
const minRate = Number(arg("--min-rate", "200"));
const vms = Number(arg("--vms", "50"));
const vcpus = Number(arg("--vcpus", "40"));
const interval = Number(arg("--interval", "1"));
const sampleS = Number(arg("--sample-seconds", "10"));
const connections = Number(arg("--connections", "4"));
const gzip = !args.includes("--no-gzip");
const fullHistory = !args.includes("--empty-history");
for (const [k, v] of Object.entries({ minutes, rate, vms, vcpus, interval, sampleS, connections })) {
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`soak: --${k} must be a positive number`);
    process.exit(2);
  }
}
const cli = join(root, "dist", "cli", "main.cjs");
if (!existsSync(cli)) {
  console.error("soak: dist/cli/main.cjs is missing: run npm run build (npm run soak does)");
  process.exit(2);
}
try {
  execFileSync("wrk", ["-v"], { stdio: "ignore" });
} catch (e) {
  if (e.code === "ENOENT") {
    console.error("soak: wrk is missing: apt-get install wrk");
    process.exit(2);
  }
  // wrk -v exits 1 after printing its version: it is there.
}

const log = (s) => console.error(`soak: ${s}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const work = mkdtempSync(join(tmpdir(), "vsteal-soak-"));
const children = [];
let agent = null;
const cleanup = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  if (agent && agent.exitCode === null) agent.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
};
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

// ---- 2,000 vCPU threads -------------------------------------------------------------------
execFileSync("gcc", ["-O2", "-o", join(work, "threads"), join(here, "bench", "threads.c"), "-lpthread"]);
const fake = join(work, "qemu-system-x86_64");
copyFileSync(join(work, "threads"), fake);
const uuidOf = (i) =>
  `50a50a50-0000-4000-8000-${String(process.pid % 1e6).padStart(6, "0")}${String(i).padStart(6, "0")}`;
for (let i = 0; i < vms; i++) {
  const c = spawn(
    fake,
    ["-name", `guest=soak-${process.pid}-${i},debug-threads=on`, "-uuid", uuidOf(i), "-smp", String(vcpus)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.push(c);
  await new Promise((r) => c.stdout.once("data", r));
}
log(`${vms} fake VMs × ${vcpus} vCPUs started`);
// The agent starts with a full history (7 days + 1 hour), as on a host where it has run for a
// week: otherwise its rings fill during the soak and RSS grows for a reason that is no leak.
if (fullHistory) {
  const { prefillHistory } = await import("./bench/prefill-history.mjs");
  await prefillHistory({
    root,
    dir: join(work, "history"),
    intervalS: interval,
    vms,
    vcpus,
    nameOf: (i) => `soak-${process.pid}-${i}`,
    uuidOf,
  });
  log("history prefilled: 7 days + 1 hour for every vCPU");
}

// ---- the agent ----------------------------------------------------------------------------
agent = spawn(
  process.execPath,
  [
    cli,
    "agent",
    "--source",
    "qemu",
    "--interval",
    String(interval),
    "--web.listen-address",
    "127.0.0.1:0",
    "--history.dir",
    join(work, "history"),
  ],
  {
    stdio: ["ignore", "ignore", "pipe"],
    env: { MALLOC_ARENA_MAX: "2", ...process.env, NODE_OPTIONS: "--max-semi-space-size=2" },
  }, // as deploy/systemd sets them
);
let agentErr = "";
agent.stderr.on("data", (d) => (agentErr += d));
const base = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`agent did not start:\n${agentErr}`)), 60_000);
  agent.stderr.on("data", () => {
    const m = /listening on (http:\/\/\S+) /.exec(agentErr);
    if (m) {
      clearTimeout(t);
      resolve(m[1]);
    }
  });
  agent.once("exit", (code) => reject(new Error(`agent exited (${code}):\n${agentErr}`)));
});
const healthNow = async () => (await fetch(`${base}/api/v1/health`)).json();
let h0 = null;
for (let i = 0; i < 150; i++) {
  try {
    h0 = await healthNow();
    if (h0.sweeps >= 2 && h0.vcpus >= vms * vcpus) break;
  } catch {
    /* starting */
  }
  await sleep(200);
}
if (!h0 || h0.vcpus < vms * vcpus)
  throw new Error(`agent sees ${h0?.vcpus} vCPU threads, expected at least ${vms * vcpus}:\n${agentErr}`);
log(`agent at ${base}, ${h0.vcpus} vCPU threads (${h0.domains} domains on this host), sampling every ${interval} s`);

// ---- load ---------------------------------------------------------------------------------
const endpoints = [
  { path: "/metrics", headers: gzip ? ["Accept-Encoding: gzip"] : [] },
  { path: "/api/v1/host", headers: [] },
  { path: "/api/v1/domains", headers: [] },
];
const perConnRate = rate / endpoints.length / connections;
const delayMs = Math.max(0, Math.round(1000 / perConnRate));
const lua = join(work, "soak.lua");
writeFileSync(
  lua,
  `local d = ${delayMs}
function delay() return d end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('SOAKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
`,
);
const durationS = Math.round(minutes * 60);
const wrks = endpoints.map((ep) => {
  const argv = ["-t1", `-c${connections}`, `-d${durationS}s`, "--timeout", "5s", "-s", lua];
  for (const h of ep.headers) argv.push("-H", h);
  argv.push(`${base}${ep.path}`);
  const c = spawn("wrk", argv, { stdio: ["ignore", "pipe", "pipe"] });
  children.push(c);
  let out = "";
  c.stdout.on("data", (d) => (out += d));
  c.stderr.on("data", (d) => (out += d));
  const done = new Promise((resolve) => c.once("exit", (code) => resolve({ code, out })));
  return { ep, done };
});
log(
  `wrk: ${endpoints.length} endpoints × ${connections} connections, ${delayMs} ms between requests per connection (target ${rate} req/s), for ${minutes} min`,
);

// ---- watch --------------------------------------------------------------------------------
const pid = agent.pid;
const rssKb = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
const fds = () => readdirSync(`/proc/${pid}/fd`).length;
const t0 = Date.now();
const samples = [];
let maxSweepS = 0;
let agentDied = null;
agent.once("exit", (code, sig) => (agentDied = `agent exited (${code ?? sig}) during the soak`));
const takeSample = async () => {
  if (agentDied) return;
  const h = await healthNow().catch(() => null);
  const s = {
    t_s: Math.round((Date.now() - t0) / 100) / 10,
    rss_kb: rssKb(),
    fds: fds(),
    sweeps: h?.sweeps ?? null,
    heap_used_kb: h ? Math.round(h.memory.heap_used / 1024) : null,
  };
  if (h) maxSweepS = Math.max(maxSweepS, h.last_sweep_seconds);
  samples.push(s);
  log(
    `t=${s.t_s}s rss=${Math.round(s.rss_kb / 1024)}MB fds=${s.fds} sweeps=${s.sweeps} heap=${Math.round((s.heap_used_kb ?? 0) / 1024)}MB`,
  );
};
await takeSample();
const watcher = setInterval(() => void takeSample(), sampleS * 1000);
const results = await Promise.all(wrks.map((w) => w.done));
clearInterval(watcher);
await takeSample();
const hEnd = await healthNow().catch(() => null);

// ---- figures ------------------------------------------------------------------------------
/** Least-squares slope of y over t (seconds), per hour. */
const slopePerHour = (pts, key) => {
  const p = pts.filter((s) => Number.isFinite(s[key]));
  if (p.length < 2) return null;
  const mt = p.reduce((a, s) => a + s.t_s, 0) / p.length;
  const my = p.reduce((a, s) => a + s[key], 0) / p.length;
  const num = p.reduce((a, s) => a + (s.t_s - mt) * (s[key] - my), 0);
  const den = p.reduce((a, s) => a + (s.t_s - mt) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 3600;
};
const series = (key, scale = 1, unit = "") => {
  const v = samples.map((s) => s[key]).filter(Number.isFinite);
  const warm = samples.filter((s) => s.t_s >= 60);
  const r = (x) => (x === null ? null : Math.round((x / scale) * 100) / 100);
  return {
    unit,
    first: r(v[0]),
    last: r(v.at(-1)),
    min: r(Math.min(...v)),
    max: r(Math.max(...v)),
    slope_per_hour: r(slopePerHour(samples, key)),
    slope_per_hour_after_1min: warm.length >= 2 ? r(slopePerHour(warm, key)) : null,
  };
};
const perEndpoint = {};
let totalReq = 0;
let totalFailed = 0;
let totalDurationS = 0;
for (const [i, r] of results.entries()) {
  const m = /SOAKJSON (\{.*\})/.exec(r.out);
  const path = endpoints[i].path;
  if (!m) {
    perEndpoint[path] = { error: `wrk exited ${r.code} without a summary: ${r.out.slice(0, 300)}` };
    totalFailed += 1;
    continue;
  }
  const w = JSON.parse(m[1]);
  const failed = w.errors.connect + w.errors.read + w.errors.write + w.errors.status + w.errors.timeout;
  const durS = w.duration_us / 1e6;
  totalReq += w.requests;
  totalFailed += failed;
  totalDurationS = Math.max(totalDurationS, durS);
  perEndpoint[path] = {
    requests: w.requests,
    requests_per_s: Math.round((w.requests / durS) * 10) / 10,
    failed,
    errors: w.errors,
    latency_ms: {
      p50: w.p50_us / 1000,
      p90: w.p90_us / 1000,
      p99: w.p99_us / 1000,
      p99_9: w.p999_us / 1000,
      max: w.max_us / 1000,
      mean: Math.round(w.mean_us) / 1000,
    },
    mb_per_s: Math.round((w.bytes / durS / 1048576) * 10) / 10,
  };
}
const achieved = totalDurationS > 0 ? Math.round((totalReq / totalDurationS) * 10) / 10 : 0;
const elapsedS = (Date.now() - t0) / 1000;
const sweepsDone = hEnd && h0 ? hEnd.sweeps - h0.sweeps : null;
const fdSeries = series("fds");
const rssSeries = series("rss_kb", 1024, "MB");
const summary = {
  minutes,
  vcpu_threads: h0.vcpus,
  domains_on_host: h0.domains,
  interval_s: interval,
  history: fullHistory
    ? "persisted (temp dir), prefilled with 7 days + 1 hour"
    : "persisted (temp dir), empty at start",
  load: {
    endpoints: endpoints.map((e) => e.path),
    connections_per_endpoint: connections,
    delay_ms_per_connection: delayMs,
    metrics_gzip: gzip,
    target_requests_per_s: rate,
  },
  requests: totalReq,
  failed_requests: totalFailed,
  achieved_requests_per_s: achieved,
  endpoints: perEndpoint,
  rss_mb: rssSeries,
  open_fds: fdSeries,
  heap_used_mb: series("heap_used_kb", 1024, "MB"),
  sweeps: {
    done: sweepsDone,
    due: Math.floor(elapsedS / interval),
    max_last_sweep_ms: Math.round(maxSweepS * 1e5) / 100,
    collector_errors: hEnd?.errors ?? null,
  },
  samples_every_s: sampleS,
  samples: samples.length,
  agent_warnings: agentErr.split("\n").filter((l) => /warning/.test(l)).length,
  agent_died: agentDied,
};
summary.ok = {
  no_failed_requests: totalFailed === 0,
  rate_at_least_min: achieved >= minRate,
  agent_alive: agentDied === null,
  // A leak grows: fds never above the first sample (+2), RSS not rising after the warm-up
  // minute by more than 10 MB/h (the heap's GC sawtooth is ±20 MB around a flat line).
  fds_flat:
    fdSeries.last !== null &&
    fdSeries.first !== null &&
    fdSeries.max <= fdSeries.first + 2 &&
    fdSeries.last <= fdSeries.first + 2,
  rss_flat: rssSeries.slope_per_hour_after_1min !== null && rssSeries.slope_per_hour_after_1min <= 10,
};
console.log(JSON.stringify(summary, null, 2));
agent.kill("SIGTERM");
await new Promise((r) => (agent.exitCode !== null ? r() : agent.once("exit", r)));
process.exitCode = summary.ok.no_failed_requests && summary.ok.rate_at_least_min && summary.ok.agent_alive ? 0 : 1;
// The fake VMs' stdout pipes would keep the event loop (and them) alive: end them now.
cleanup();
