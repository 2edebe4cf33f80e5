#!/usr/bin/env node
/**
 * scripts/calibrate/run.mjs — calibrate and validate the contention model (src/sim) on the
 * real testbed: real libvirt + KVM guests whose vCPUs spin, on this machine's CPUs.
 *
 *   npm run build && sudo node scripts/calibrate/run.mjs [--measure S] [--only NAME,NAME]
 *        [--wait-quiet S] [--keep]
 *
 * For each experiment (VMs of 1, 2, 3 vCPUs, each spinning all the time or duty-cycled by
 * SIGSTOP/SIGCONT of its QEMU process with random on/off times), it measures every vCPU's
 * usage and delay with `vsteal domstats --json --interval S --source libvirt`, feeds the
 * model what a fleet snapshot would carry (per-vCPU demand = usage + delay, the host's CPUs)
 * and compares the predicted delay per vCPU with the measured one: the mean absolute error in
 * percentage points, per experiment, for both ways the model treats demand below 1 (bursty,
 * the default, and fluid).
 *
 * Writes test/fixtures/fleet/calibration.json (a unit test replays it through the model) and
 * the results table in docs/planner.md (between the calibration markers).
 *
 * The machine may be shared: other testbed domains running at the same time are measured too
 * and enter the prediction as the competing VMs they are; CPU used by other processes
 * (background) is measured from /proc/stat and taken off the capacity. Both are recorded per
 * experiment. Our domains are named vsteal-cal-* and are removed at the end (the testbed is
 * left as we found it: `scripts/testbed down` with our prefix touches nothing else).
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const PREFIX = "vsteal-cal-";
const TESTBED = join(ROOT, "scripts/testbed");
const CLI = join(ROOT, "dist/cli/main.cjs");
const MODEL = join(ROOT, "dist/model/contention.js");
const OUT_JSON = join(ROOT, "test/fixtures/fleet/calibration.json");
const OUT_DOC = join(ROOT, "docs/planner.md");
const URI = "qemu:///system";

// ------------------------------------------------------------------ arguments

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const MEASURE_S = Number(opt("measure", "12"));
const SETTLE_S = Number(opt("settle", "3"));
const ONLY = opt("only", "")
  .split(",")
  .filter((s) => s !== "");
const KEEP = args.includes("--keep");
const PERIOD_MS = Number(opt("period-ms", "200"));
const SEED = Number(opt("seed", "1"));
/** Before each experiment, wait up to this long for a quiet machine (no other VMs running, little other CPU use). */
const WAIT_QUIET_S = Number(opt("wait-quiet", "0"));

/** Domains we use: name suffix → vCPUs. Those not in an experiment are suspended. */
const POOL = { "1a": 1, "1b": 1, "1c": 1, "1d": 1, "2a": 2, "2b": 2, "3a": 3 };

/** duty 1: spins all the time; below 1: runnable that fraction of the time, at random. */
const EXPERIMENTS = [
  { name: "3vcpu-alone", title: "one 3-vCPU VM spinning", vms: [["3a", 1]] },
  {
    name: "1+2",
    title: "1-vCPU and 2-vCPU VMs spinning (shares per VM, not per vCPU)",
    vms: [
      ["1a", 1],
      ["2a", 1],
    ],
  },
  {
    name: "1+3",
    title: "1-vCPU and 3-vCPU VMs spinning",
    vms: [
      ["1a", 1],
      ["3a", 1],
    ],
  },
  {
    name: "1+1+1",
    title: "three 1-vCPU VMs spinning",
    vms: [
      ["1a", 1],
      ["1b", 1],
      ["1c", 1],
    ],
  },
  {
    name: "2+2",
    title: "two 2-vCPU VMs spinning",
    vms: [
      ["2a", 1],
      ["2b", 1],
    ],
  },
  {
    name: "1+1+2",
    title: "two 1-vCPU VMs and a 2-vCPU VM spinning",
    vms: [
      ["1a", 1],
      ["1b", 1],
      ["2a", 1],
    ],
  },
  {
    name: "2+2@50",
    title: "2-vCPU VM spinning, 2-vCPU VM at 50 % duty",
    vms: [
      ["2a", 1],
      ["2b", 0.5],
    ],
  },
  {
    name: "4x1@50",
    title: "four 1-vCPU VMs at 50 % duty (total demand 2.0 of 2)",
    vms: [
      ["1a", 0.5],
      ["1b", 0.5],
      ["1c", 0.5],
      ["1d", 0.5],
    ],
  },
  {
    name: "3x1@60",
    title: "three 1-vCPU VMs at 60 % duty (total demand 1.8 of 2)",
    vms: [
      ["1a", 0.6],
      ["1b", 0.6],
      ["1c", 0.6],
    ],
  },
  {
    name: "1+3@50",
    title: "1-vCPU VM spinning, 3-vCPU VM at 50 % duty",
    vms: [
      ["1a", 1],
      ["3a", 0.5],
    ],
  },
  {
    name: "2@70+2@70+1@70",
    title: "2-, 2- and 1-vCPU VMs at 70 % duty",
    vms: [
      ["2a", 0.7],
      ["2b", 0.7],
      ["1a", 0.7],
    ],
  },
  {
    name: "1@30+1@30+2@30",
    title: "light load: 1-, 1- and 2-vCPU VMs at 30 % duty (total 1.2 of 2)",
    vms: [
      ["1a", 0.3],
      ["1b", 0.3],
      ["2a", 0.3],
    ],
  },
];

// ------------------------------------------------------------------ helpers

const log = (...a) => console.error("calibrate:", ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const domName = (suffix) => `${PREFIX}${suffix}`;
const env = { ...process.env, VSTEAL_TESTBED_PREFIX: PREFIX, LC_ALL: "C" };

function virsh(...a) {
  return execFileSync("virsh", ["-q", "-c", URI, ...a], {
    encoding: "utf8",
    env,
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

function run(cmd, a, timeoutMs = 600_000) {
  return new Promise((res, rej) =>
    execFile(cmd, a, { encoding: "utf8", env, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? rej(new Error(`${cmd} ${a.join(" ")}: ${err.message}\n${stderr}`)) : res(stdout),
    ),
  );
}

function qemuPid(name) {
  const text = readFileSync(`/run/libvirt/qemu/${name}.pid`, "utf8").trim();
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`bad pid file for ${name}: ${text}`);
  return pid;
}

function domState(name) {
  try {
    return virsh("domstate", name);
  } catch {
    return "missing";
  }
}

/** Busy and total jiffies of all CPUs, from /proc/stat. */
function cpuTimes() {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Deterministic PRNG (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs the QEMU process `duty` of the time: alternating exponentially distributed on and off
 * times (means duty·T and (1−duty)·T), independent of every other VM. Keeps the realised duty.
 */
const activeCyclers = new Set();

function startCycler(pid, duty, random) {
  const c = {
    pid,
    duty,
    on: true,
    active: true,
    timer: null,
    onMs: 0,
    since: performance.now(),
    started: performance.now(),
  };
  if (duty >= 1) return c;
  activeCyclers.add(c);
  const exp = (mean) => Math.max(2, -Math.log(1 - random()) * mean);
  const step = () => {
    if (!c.active) return;
    const now = performance.now();
    if (c.on) {
      c.onMs += now - c.since;
      process.kill(pid, "SIGSTOP");
      c.on = false;
      c.since = now;
      c.timer = setTimeout(step, exp((1 - duty) * PERIOD_MS));
    } else {
      process.kill(pid, "SIGCONT");
      c.on = true;
      c.since = now;
      c.timer = setTimeout(step, exp(duty * PERIOD_MS));
    }
  };
  c.timer = setTimeout(step, exp(duty * PERIOD_MS));
  return c;
}

function resetCycler(c) {
  c.onMs = 0;
  c.since = performance.now();
  c.started = c.since;
}

function realisedDuty(c) {
  if (c.duty >= 1) return 1;
  const now = performance.now();
  const on = c.onMs + (c.on ? now - c.since : 0);
  return on / (now - c.started);
}

function stopCycler(c) {
  activeCyclers.delete(c);
  c.active = false;
  if (c.timer) clearTimeout(c.timer);
  if (c.duty < 1) {
    try {
      process.kill(c.pid, "SIGCONT");
    } catch {
      /* gone */
    }
  }
}

// ------------------------------------------------------------------ measuring

/** Per domain name: per vCPU usage and delay over the interval (domstats --json --interval). */
async function measure(seconds) {
  const out = await run(
    "node",
    [CLI, "domstats", "--json", "--interval", String(seconds), "--source", "libvirt"],
    (seconds + 60) * 1000,
  );
  const records = JSON.parse(out);
  const result = new Map();
  for (const r of records) {
    if (r.state !== "running") continue;
    const n = Number(r.stats["vcpu.current"] ?? 0);
    const usage = [];
    const delay = [];
    for (let i = 0; i < n; i++) {
      const u = r.stats[`vcpu.${i}.time.ratio`];
      const d = r.stats[`vcpu.${i}.delay.ratio`];
      if (typeof u !== "number" || typeof d !== "number") continue;
      usage.push(u);
      delay.push(d);
    }
    if (usage.length > 0) result.set(r.domain, { usage, delay });
  }
  return result;
}

/** Other running domains (not ours). */
function foreignDomains() {
  return virsh("list", "--name", "--state-running")
    .split("\n")
    .map((l) => l.trim())
    .filter((n) => n !== "" && !n.startsWith(PREFIX));
}

/** Waits until no other domain runs and other processes use < 0.3 cores, or the time is up. */
async function waitQuiet(ncpu) {
  if (WAIT_QUIET_S <= 0) return;
  const deadline = Date.now() + WAIT_QUIET_S * 1000;
  for (;;) {
    const a = cpuTimes();
    await sleep(2000);
    const b = cpuTimes();
    const busy = ((b.busy - a.busy) / (b.total - a.total)) * ncpu;
    const others = foreignDomains();
    if ((others.length === 0 && busy < 0.3) || Date.now() > deadline) {
      if (others.length > 0 || busy >= 0.3)
        log(
          `  machine not quiet after ${WAIT_QUIET_S} s (busy ${busy.toFixed(2)} cores, other VMs: ${others.join(", ") || "none"}): measuring anyway`,
        );
      return;
    }
    await sleep(3000);
  }
}

// ------------------------------------------------------------------ main

const round = (x, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
const mean = (a) => (a.length === 0 ? 0 : a.reduce((s, x) => s + x, 0) / a.length);

async function main() {
  if (process.getuid?.() !== 0) throw new Error("must run as root (drives libvirt, signals QEMU)");
  if (!existsSync(CLI) || !existsSync(MODEL)) throw new Error("build first: npm run build");
  const { predictHost } = await import(MODEL);
  const ncpu = cpus().length;
  const experiments = EXPERIMENTS.filter((e) => ONLY.length === 0 || ONLY.includes(e.name));
  const needed = [...new Set(experiments.flatMap((e) => e.vms.map(([s]) => s)))].sort();

  log(`defining ${needed.map(domName).join(", ")}`);
  for (const s of needed) {
    if (domState(domName(s)) === "paused") virsh("resume", domName(s));
    await run(TESTBED, ["define", domName(s), String(POOL[s])]);
    virsh("suspend", domName(s));
  }

  const random = rng(SEED);
  const results = [];
  for (const e of experiments) {
    await waitQuiet(ncpu);
    log(`experiment ${e.name}: ${e.title}`);
    const cyclers = [];
    try {
      for (const [s] of e.vms) virsh("resume", domName(s));
      for (const [s, duty] of e.vms) cyclers.push(startCycler(qemuPid(domName(s)), duty, random));
      await sleep(SETTLE_S * 1000);
      cyclers.forEach(resetCycler);
      const t0 = cpuTimes();
      const measured = await measure(MEASURE_S);
      const t1 = cpuTimes();
      const duties = cyclers.map(realisedDuty);
      const busyCores = ((t1.busy - t0.busy) / (t1.total - t0.total)) * ncpu;
      let vmUsage = 0;
      for (const m of measured.values()) vmUsage += m.usage.reduce((a, b) => a + b, 0);
      const background = Math.max(0, busyCores - vmUsage);
      const ours = e.vms.map(([s, duty], j) => {
        const m = measured.get(domName(s));
        if (!m) throw new Error(`no measurement for ${domName(s)}`);
        return {
          name: domName(s),
          vcpus: POOL[s],
          duty,
          realised_duty: round(duties[j], 3),
          usage: m.usage.map((x) => round(x)),
          delay: m.delay.map((x) => round(x)),
        };
      });
      const others = [...measured.entries()]
        .filter(([name]) => !name.startsWith(PREFIX))
        .map(([name, m]) => ({
          name,
          vcpus: m.usage.length,
          usage: m.usage.map((x) => round(x)),
          delay: m.delay.map((x) => round(x)),
        }));
      const capacity = round(Math.max(0, ncpu - background), 3);
      const row = {
        name: e.name,
        title: e.title,
        cpus: ncpu,
        background_cores: round(background, 3),
        capacity,
        vms: ours,
        others,
      };
      Object.assign(row, evaluate(predictHost, row));
      results.push(row);
      log(
        `  measured delay ${ours.map((v) => v.delay.map((d) => (d * 100).toFixed(1)).join("/")).join(" | ")} %; ` +
          `bursty ${row.predicted.bursty.map((v) => v.map((d) => (d * 100).toFixed(1)).join("/")).join(" | ")} %; ` +
          `MAE bursty ${row.mae_pp.bursty} pp, fluid ${row.mae_pp.fluid} pp; background ${row.background_cores} cores, others ${others.length}`,
      );
    } finally {
      cyclers.forEach(stopCycler);
      for (const [s] of e.vms) {
        try {
          virsh("suspend", domName(s));
        } catch (err) {
          log(`suspend ${domName(s)}: ${err.message}`);
        }
      }
    }
  }

  const summary = {
    experiments: results.length,
    mae_pp: {
      bursty: round(mean(results.map((r) => r.mae_pp.bursty)), 2),
      fluid: round(mean(results.map((r) => r.mae_pp.fluid)), 2),
    },
    max_mae_pp: {
      bursty: round(Math.max(...results.map((r) => r.mae_pp.bursty)), 2),
      fluid: round(Math.max(...results.map((r) => r.mae_pp.fluid)), 2),
    },
  };
  const doc = {
    version: 1,
    description:
      "Contention model calibration on the real testbed (scripts/calibrate/run.mjs). Per experiment: the host's CPUs, CPU used by other processes (background_cores, taken off the capacity), our VMs (demand per vCPU for the model = usage + delay) and other VMs that ran at the same time (they compete like ours), measured vs predicted per-vCPU delay and the mean absolute error over our vCPUs in percentage points.",
    measured_at: new Date().toISOString(),
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    measure_s: MEASURE_S,
    duty_period_ms: PERIOD_MS,
    summary,
    experiments: results,
  };
  writeFileSync(OUT_JSON, `${JSON.stringify(doc, null, 2)}\n`);
  log(`wrote ${OUT_JSON}`);
  updateDoc(doc);
  log(
    `summary: MAE bursty ${summary.mae_pp.bursty} pp (worst ${summary.max_mae_pp.bursty}), fluid ${summary.mae_pp.fluid} pp (worst ${summary.max_mae_pp.fluid})`,
  );
}

/** Predicted delay of our vCPUs under both model modes, and the errors. */
function evaluate(predictHost, row) {
  const all = [...row.vms, ...row.others];
  const modelVms = all.map((v) => ({ id: v.name, vcpus: v.usage.map((u, i) => ({ demand: u + v.delay[i] })) }));
  const out = { predicted: {}, mae_pp: {}, bias_pp: {} };
  for (const mode of ["bursty", "fluid"]) {
    const p = predictHost(row.capacity, modelVms, { mode });
    const pred = row.vms.map((_, j) => p.vms[j].delay.map((d) => round(d)));
    const errs = row.vms.flatMap((v, j) => v.delay.map((d, i) => pred[j][i] - d));
    out.predicted[mode] = pred;
    out.mae_pp[mode] = round(mean(errs.map(Math.abs)) * 100, 2);
    out.bias_pp[mode] = round(mean(errs) * 100, 2);
  }
  return out;
}

function updateDoc(doc) {
  if (!existsSync(OUT_DOC)) return;
  const text = readFileSync(OUT_DOC, "utf8");
  const begin = "<!-- calibration:begin -->";
  const end = "<!-- calibration:end -->";
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return;
  const pct = (x) => (x * 100).toFixed(1);
  let table = `\nMeasured ${doc.measured_at.slice(0, 16).replace("T", " ")} UTC, kernel ${doc.kernel}, ${doc.experiments[0]?.cpus ?? "?"} CPUs, ${doc.measure_s} s per experiment, duty cycles with random on/off times (mean period ${doc.duty_period_ms} ms).\n\n`;
  table +=
    "| experiment | background cores | measured delay per vCPU (%) | predicted, bursty (%) | MAE bursty (pp) | MAE fluid (pp) |\n|---|---|---|---|---|---|\n";
  for (const r of doc.experiments) {
    const meas = r.vms.map((v) => v.delay.map(pct).join("/")).join(" · ");
    const pred = r.predicted.bursty.map((v) => v.map(pct).join("/")).join(" · ");
    table += `| ${r.name}: ${r.title}${r.others.length > 0 ? ` (+${r.others.length} other VMs running)` : ""} | ${r.background_cores} | ${meas} | ${pred} | ${r.mae_pp.bursty} | ${r.mae_pp.fluid} |\n`;
  }
  table += `| **mean** | | | | **${doc.summary.mae_pp.bursty}** | **${doc.summary.mae_pp.fluid}** |\n`;
  writeFileSync(OUT_DOC, text.slice(0, a + begin.length) + table + "\n" + text.slice(b));
  log(`updated ${OUT_DOC}`);
}

let tornDown = false;
async function teardown() {
  if (tornDown || KEEP) return;
  tornDown = true;
  log("removing our domains (scripts/testbed down with prefix vsteal-cal-)");
  // `testbed down` destroys running domains only: resume our paused ones first.
  for (const s of Object.keys(POOL)) {
    if (domState(domName(s)) === "paused") {
      try {
        virsh("resume", domName(s));
      } catch (e) {
        log(`resume ${domName(s)}: ${e.message}`);
      }
    }
  }
  try {
    await run(TESTBED, ["down"]);
  } catch (e) {
    log(`teardown failed: ${e.message}`);
  }
  for (const s of Object.keys(POOL)) {
    if (domState(domName(s)) !== "missing") {
      try {
        virsh("destroy", domName(s));
      } catch (e) {
        log(`destroy ${domName(s)}: ${e.message}`);
      }
    }
  }
}

process.on("SIGINT", () => {
  for (const c of [...activeCyclers]) stopCycler(c);
  teardown().finally(() => process.exit(130));
});

main()
  .then(teardown)
  .catch(async (e) => {
    log(`error: ${e instanceof Error ? e.message : String(e)}`);
    await teardown();
    process.exitCode = 1;
  });
