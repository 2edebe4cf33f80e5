#!/usr/bin/env node
// Memory of the embedded history at full size: 2,000 vCPU series sampled every 5 s for
// 7 days + 1 hour (both tiers full), then one snapshot written and loaded back.
//   npm run build && node --expose-gc scripts/bench/history-memory.mjs
//   node --expose-gc --import tsx scripts/bench/history-memory.mjs     (from the sources)
// Options: --series 2000 --interval 5 --hours 169 --no-persist. Prints a JSON summary;
// nothing here asserts. The figure that matters for the agent is `restarted`: a fresh
// process that loads the full snapshot and goes on recording (the fill itself allocates
// at a rate no agent does and inflates the young generation, hence its higher RSS).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const dist = join(root, "dist", "history", "index.js");
const src = join(root, "src", "history", "index.ts");
const { History, SNAPSHOT_FILE } = await import(pathToFileURL(existsSync(dist) ? dist : src).href);

const args = process.argv.slice(2);
const restartFrom = args.indexOf("--restart-from") >= 0 ? args[args.indexOf("--restart-from") + 1] : null;
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const nSeries = arg("--series", 2000);
const intervalS = arg("--interval", 5);
const hours = arg("--hours", 7 * 24 + 1);
const persist = !args.includes("--no-persist");
const perDomain = 4;

const gc = () => {
  if (typeof globalThis.gc === "function") {
    globalThis.gc();
    globalThis.gc();
  }
};
const mb = (n) => Math.round((n / 1048576) * 10) / 10;
// RSS includes ~36 MB of the node binary's text pages, shared with every node process;
// private_mb (Linux: Private_Dirty of /proc/self/smaps_rollup) is what this process owns.
const privateMb = () => {
  try {
    const line = readFileSync("/proc/self/smaps_rollup", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Private_Dirty:"));
    return line ? mb(Number(line.split(/\s+/)[1]) * 1024) : null;
  } catch {
    return null;
  }
};
const mem = () => {
  gc();
  const m = process.memoryUsage();
  return {
    rss_mb: mb(m.rss),
    private_mb: privateMb(),
    heap_total_mb: mb(m.heapTotal),
    heap_used_mb: mb(m.heapUsed),
    array_buffers_mb: mb(m.arrayBuffers),
    heap_plus_buffers_mb: mb(m.heapUsed + m.arrayBuffers),
  };
};

// One reusable sample: 500 domains × 4 vCPUs; only the rates change between records.
const domains = [];
for (let d = 0; d * perDomain < nSeries; d++) {
  const n = Math.min(perDomain, nSeries - d * perDomain);
  domains.push({
    intervalS,
    domain: {
      name: `vm-${String(d).padStart(4, "0")}`,
      uuid: `00000000-0000-4000-8000-${String(d).padStart(12, "0")}`,
      id: d + 1,
      state: "running",
      vcpuCurrent: n,
      vcpuMaximum: n,
      pid: 10000 + d,
      source: "libvirt",
    },
    vcpus: Array.from({ length: n }, (_, v) => ({
      vcpu: v,
      tid: 20000 + d * 8 + v,
      usage: 0,
      delay: 0,
      throttled: 0,
      contention: 0,
    })),
  });
}
const sample = { wallMs: 0, intervalS, domains, problems: [] };

if (restartFrom !== null) {
  // Child: a restarted agent. Load the snapshot, record another 10 minutes, report memory.
  const before = mem();
  let now = 0;
  const h = new History({
    intervalS,
    dir: restartFrom,
    journal: true,
    now: () => now,
    maxSeries: Math.max(nSeries, 1),
  });
  const o0 = performance.now();
  const rep = await h.open();
  const openMs = Math.round(performance.now() - o0);
  const last = rep.lastSampleMs ?? 0;
  const n = Math.round(600 / intervalS);
  let spent = 0;
  for (let i = 1; i <= n; i++) {
    sample.wallMs = last + i * intervalS * 1000;
    now = sample.wallMs;
    const r0 = performance.now();
    h.record(sample); // journaled; the snapshot due after 10 minutes starts from here
    spent += performance.now() - r0;
    await new Promise((r) => setTimeout(r, 5)); // the agent waits 5 s; let I/O run
  }
  const recordUs = Math.round((spent / n) * 1000);
  const f = await h.flush();
  h.close();
  console.log(
    JSON.stringify({
      open_ms: openMs,
      status: rep.snapshot.status,
      series: rep.series,
      record_with_journal_us: recordUs,
      snapshot_ms: f.ok ? f.ms : f.error,
      before_open: before,
      after: mem(),
    }),
  );
  process.exit(0);
}

const summary = { series: nSeries, interval_s: intervalS, hours, before: mem() };
const dir = persist ? mkdtempSync(join(tmpdir(), "vsteal-history-bench-")) : null;
let fakeNow = 0; // constant during the fill: no snapshot is scheduled while filling
const h = new History({ intervalS, dir, journal: false, now: () => fakeNow, maxSeries: Math.max(nSeries, 1) });
await h.open();

const t0 = Date.UTC(2025, 0, 6, 0, 0, 0);
const records = Math.round((hours * 3600) / intervalS);
const started = performance.now();
for (let i = 0; i < records; i++) {
  sample.wallMs = t0 + i * intervalS * 1000;
  for (const d of domains) {
    for (const v of d.vcpus) {
      const x = ((i * 7 + v.tid) % 1000) / 1000;
      v.usage = x * 0.8;
      v.delay = x * 0.2;
      v.throttled = x * 0.05;
      v.contention = v.delay - v.throttled;
    }
  }
  h.record(sample);
}
const fillMs = performance.now() - started;
summary.records = records;
summary.record_us_mean = Math.round((fillMs / records) * 1000);
summary.stats = h.stats();
summary.typed_arrays_mb = mb(h.stats().series * h.bytesPerSeries);
summary.after_fill = mem();
console.log(
  `filled ${nSeries} series × ${records} samples in ${Math.round(fillMs / 1000)} s: heapUsed ${summary.after_fill.heap_used_mb} MB + arrayBuffers ${summary.after_fill.array_buffers_mb} MB, RSS ${summary.after_fill.rss_mb} MB`,
);

if (dir !== null) {
  fakeNow = sample.wallMs;
  const f = await h.flush();
  summary.snapshot = {
    ok: f.ok,
    bytes_mb: f.ok ? mb(statSync(join(dir, SNAPSHOT_FILE)).size) : null,
    write_ms: f.ok ? f.ms : null,
    error: f.ok ? undefined : f.error,
  };
  summary.after_flush = mem();
  h.close();
  const childArgs = [
    ...process.execArgv,
    fileURLToPath(import.meta.url),
    "--restart-from",
    dir,
    "--series",
    String(nSeries),
    "--interval",
    String(intervalS),
  ];
  summary.restarted = JSON.parse(
    execFileSync(process.execPath, childArgs, { encoding: "utf8" }).trim().split("\n").pop(),
  );
  console.log(
    `restarted agent with the full snapshot: heapUsed ${summary.restarted.after.heap_used_mb} MB + arrayBuffers ${summary.restarted.after.array_buffers_mb} MB, RSS ${summary.restarted.after.rss_mb} MB (before open ${summary.restarted.before_open.rss_mb} MB)`,
  );
  const h2 = new History({ intervalS, dir, journal: false, now: () => fakeNow, maxSeries: Math.max(nSeries, 1) });
  const o0 = performance.now();
  const rep = await h2.open();
  summary.open = { ms: Math.round(performance.now() - o0), status: rep.snapshot.status, series: rep.series };
  summary.after_open_second_copy = mem();
  const q0 = performance.now();
  const heat = h2.queryDomain({ fromMs: fakeNow - 7 * 86400_000, toMs: fakeNow, stepS: 3600 });
  summary.heatmap_7d_hourly_ms = Math.round(performance.now() - q0);
  summary.heatmap_rows = heat.length;
  h2.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(summary, null, 2));
