#!/usr/bin/env node
// The project's benchmarks. `npm run bench` (after `npm run build`).
//   1. sweep cost: 2,000 threads named like QEMU vCPUs, vsteal's sampler vs a C open/read/close reader;
//   2. `vsteal domstats --vcpu` vs `virsh domstats --vcpu` over the testbed's domains
//      (skipped without libvirt; `--domains N` first brings the testbed to N domains).
// Prints a JSON summary at the end; nothing here asserts timings.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const cli = join(root, "dist", "cli", "main.cjs");
const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const threads = Number(arg("--threads", "2000"));
const iterations = Number(arg("--iterations", "300"));
const domains = arg("--domains", undefined);
const summary = {};

const work = mkdtempSync(join(tmpdir(), "vsteal-bench-"));
const cc = (src, out, extra = []) => execFileSync("gcc", ["-O2", "-o", join(work, out), join(here, src), ...extra]);
cc("threads.c", "threads", ["-lpthread"]);
cc("openread.c", "openread");

// 1. Sweep cost.
const child = spawn(join(work, "threads"), [String(threads)], { stdio: ["ignore", "pipe", "inherit"] });
const pid = await new Promise((resolve, reject) => {
  child.stdout.once("data", (d) => resolve(Number(String(d).trim())));
  child.once("error", reject);
});
try {
  const ours = JSON.parse(
    execFileSync(process.execPath, [cli, "bench", "--pid", String(pid), "--iterations", String(iterations), "--json"], {
      encoding: "utf8",
    }),
  );
  const c = JSON.parse(
    execFileSync(join(work, "openread"), [String(pid), String(Math.min(iterations, 100))], { encoding: "utf8" }),
  );
  summary.sweep = {
    threads: ours.threads,
    vsteal_sweep_us_median: ours.sweep_us_median,
    vsteal_per_thread_us: ours.per_thread_us,
    node_open_read_close_per_thread_us: ours.open_read_close_per_thread_us,
    c_open_read_close_per_thread_us: c.per_thread_us,
    speedup_vs_c: Math.round((c.per_thread_us / ours.per_thread_us) * 100) / 100,
  };
  console.log(
    `sweep over ${ours.threads} threads: vsteal ${ours.per_thread_us} µs/thread, C open/read/close ${c.per_thread_us} µs/thread (${summary.sweep.speedup_vs_c}x)`,
  );
} finally {
  child.kill();
}

// 2. domstats vs virsh.
function haveLibvirt() {
  try {
    execFileSync("virsh", ["-c", "qemu:///system", "uri"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
if (!haveLibvirt()) {
  console.log("domstats vs virsh: skipped (libvirt not reachable; start it with scripts/testbed up)");
} else {
  if (domains) execFileSync(join(root, "scripts", "testbed"), ["up", domains], { stdio: "inherit" });
  const running = execFileSync("virsh", ["-c", "qemu:///system", "list", "--name"], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean).length;
  const time = (cmd, argv, n) => {
    const t = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      execFileSync(cmd, argv, { stdio: "ignore" });
      t.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    t.sort((a, b) => a - b);
    return { median_ms: Math.round(t[Math.floor(n / 2)] * 10) / 10, min_ms: Math.round(t[0] * 10) / 10 };
  };
  const runs = Number(arg("--runs", "15"));
  const virsh = time("virsh", ["-c", "qemu:///system", "domstats", "--vcpu"], runs);
  const ours = time(process.execPath, [cli, "domstats", "--vcpu", "--source", "libvirt"], runs);
  summary.domstats = {
    running_domains: running,
    virsh,
    vsteal: ours,
    ratio: Math.round((ours.median_ms / virsh.median_ms) * 100) / 100,
  };
  console.log(
    `domstats over ${running} running domains: virsh ${virsh.median_ms} ms, vsteal ${ours.median_ms} ms (median of ${runs})`,
  );
}
console.log(JSON.stringify(summary, null, 2));
