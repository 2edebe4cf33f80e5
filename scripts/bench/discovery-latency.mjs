#!/usr/bin/env node
// Event-driven discovery benchmark (`npm run build` first; root, libvirt and the testbed for the
// libvirt part): how long after a VM starts or stops the agent's /metrics shows it, with a sweep
// every 300 s and periodic discovery every 600 s, so that only the events (inotify on libvirt's
// run directory; a poll of /proc's pids for plain QEMU) can do it. Also the agent's idle CPU with
// the watch on (no sweep in the measured window).
//   node scripts/bench/discovery-latency.mjs [--rounds 5] [--idle-seconds 30] [--source libvirt|qemu|migrate|all]
// Prints one JSON object: per source, start and stop latencies (ms: min, median, max), measured
// from the command issued (virsh start/destroy; spawn/kill for plain QEMU) and from its return;
// `migrate` (the testbed's second host, started if needed, never stopped): a live migration
// A → B and back, with an agent on each host, until the VM is on the target's /metrics and
// gone from the source's.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const args = process.argv.slice(2);
const arg = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const rounds = Number(arg("--rounds", "5"));
const idleSeconds = Number(arg("--idle-seconds", "30"));
const which = arg("--source", "all");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PREFIX = "vsteal-ag-";
const DOM = `${PREFIX}bench`;
const URI = "qemu:///system";

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
}

async function startAgent(source, wrap = []) {
  const argv = [...wrap, process.execPath, join(root, "dist", "cli", "main.cjs"), "agent", "--source", source];
  const child = spawn(
    argv[0],
    [
      ...argv.slice(1),
      "--interval",
      "300",
      "--discovery-interval",
      "600",
      "--history.dir",
      "",
      "--web.listen-address",
      "127.0.0.1:0",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  const url = await new Promise((resolve, reject) => {
    child.stderr.on("data", (d) => {
      err += d;
      const m = /listening on (http\S+) /.exec(err);
      if (m) resolve(m[1]);
    });
    child.once("exit", (c) => reject(new Error(`agent exited ${c}:\n${err}`)));
  });
  for (let i = 0; i < 300; i++) {
    const h = await (await fetch(`${url}/api/v1/health`)).json();
    if (h.sweeps >= 1) break;
    await sleep(100);
  }
  return { child, url, stop: () => child.kill("SIGTERM") };
}

/** Polls /metrics every 10 ms until the domain's vCPU series are there (or gone); returns when. */
async function seenAt(url, name, present) {
  const needle = `libvirt_domain_vcpu_delay_seconds_total{domain="${name}",`;
  const end = Date.now() + 60_000;
  for (;;) {
    const has = (await (await fetch(`${url}/metrics`)).text()).includes(needle);
    if (has === present) return Date.now();
    if (Date.now() > end) throw new Error(`${name} not ${present ? "shown" : "gone"} within 60 s`);
    await sleep(10);
  }
}

function cpuSeconds(pid) {
  const st = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function idleCpu(agent) {
  const c0 = cpuSeconds(agent.child.pid);
  await sleep(idleSeconds * 1000);
  return ((cpuSeconds(agent.child.pid) - c0) / idleSeconds) * 100;
}

/** Runs `act` (returns a promise that resolves when the command returned) and measures both ways. */
async function measure(agent, name, present, act) {
  const t0 = Date.now();
  let returned = null;
  const done = act().then(() => (returned = Date.now()));
  const seen = await seenAt(agent.url, name, present);
  await done;
  return { fromIssued: seen - t0, fromReturned: Math.max(0, seen - returned) };
}

const virsh = (...a) =>
  new Promise((resolve, reject) => {
    const c = spawn("virsh", ["-q", "-c", URI, ...a], { stdio: "ignore" });
    c.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`virsh ${a.join(" ")}: exit ${code}`))));
  });

async function libvirtBench() {
  execFileSync(join(root, "scripts", "testbed"), ["define", DOM, "1"], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, VSTEAL_TESTBED_PREFIX: PREFIX, VSTEAL_TESTBED_WAIT: "0" },
  });
  await virsh("destroy", DOM);
  const agent = await startAgent("libvirt");
  const start = [];
  const stop = [];
  try {
    for (let i = 0; i < rounds; i++) {
      start.push(await measure(agent, DOM, true, () => virsh("start", DOM)));
      await sleep(500);
      stop.push(await measure(agent, DOM, false, () => virsh("destroy", DOM)));
      await sleep(500);
    }
    const idle = await idleCpu(agent);
    return summarize(start, stop, idle);
  } finally {
    agent.stop();
    execFileSync(join(root, "scripts", "testbed"), ["undefine", DOM], {
      stdio: "ignore",
      env: { ...process.env, VSTEAL_TESTBED_PREFIX: PREFIX },
    });
  }
}

async function qemuBench() {
  const work = mkdtempSync(join(tmpdir(), "vsteal-events-bench-"));
  execFileSync("gcc", ["-O2", "-o", join(work, "threads"), join(here, "threads.c"), "-lpthread"]);
  const fake = join(work, "qemu-system-x86_64");
  copyFileSync(join(work, "threads"), fake);
  const agent = await startAgent("qemu");
  const start = [];
  const stop = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const name = `bench-events-${process.pid}-${i}`;
      let child = null;
      start.push(
        await measure(agent, name, true, () => {
          child = spawn(fake, ["-name", `guest=${name},debug-threads=on`, "-smp", "2"], {
            stdio: ["ignore", "pipe", "ignore"],
          });
          return new Promise((r) => child.stdout.once("data", r)); // prints its pid once its threads exist
        }),
      );
      await sleep(500);
      stop.push(
        await measure(agent, name, false, () => {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGKILL");
          return exited;
        }),
      );
      await sleep(500);
    }
    const idle = await idleCpu(agent);
    return summarize(start, stop, idle);
  } finally {
    agent.stop();
  }
}

function summarize(start, stop, idle) {
  return {
    start_ms_from_issued: stats(start.map((x) => x.fromIssued)),
    start_ms_after_return: stats(start.map((x) => x.fromReturned)),
    stop_ms_from_issued: stats(stop.map((x) => x.fromIssued)),
    stop_ms_after_return: stats(stop.map((x) => x.fromReturned)),
    idle_cpu_percent: Math.round(idle * 100) / 100,
  };
}

async function migrateBench() {
  const testbedEnv = { ...process.env, VSTEAL_TESTBED_PREFIX: PREFIX, VSTEAL_TESTBED_WAIT: "0" };
  const up = execFileSync(join(root, "scripts", "testbed"), ["up-second-host"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: testbedEnv,
  });
  const uriB = /qemu\+tcp:\/\/127\.0\.0\.1:\d+\/system/.exec(up)[0];
  const pidB = readFileSync(
    join(process.env.VSTEAL_TESTBED_DIR ?? "/var/lib/vsteal-testbed", "second-host.pid"),
    "utf8",
  ).trim();
  const name = `${PREFIX}bench-migrate`;
  execFileSync(join(root, "scripts", "testbed"), ["define", name, "1"], {
    stdio: ["ignore", "ignore", "inherit"],
    env: testbedEnv,
  });
  const a = await startAgent("libvirt");
  const b = await startAgent("libvirt", ["nsenter", "-t", pidB, "-m", "-u"]);
  const virshAt = (uri, ...x) =>
    new Promise((resolve, reject) => {
      const c = spawn("virsh", ["-q", "-c", uri, ...x], { stdio: "ignore" });
      c.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`virsh ${x.join(" ")}: exit ${code}`))));
    });
  /** Migrates, then measures from the command's return until the target shows it and the source does not. */
  const move = async (from, to, act) => {
    await act();
    const t = Date.now();
    const arrived = await seenAt(to.url, name, true);
    const left = await seenAt(from.url, name, false);
    return { arrived: arrived - t, left: left - t };
  };
  const there = [];
  const back = [];
  try {
    await seenAt(a.url, name, true);
    for (let i = 0; i < rounds; i++) {
      there.push(
        await move(a, b, () =>
          virshAt(URI, "migrate", "--live", "--p2p", name, uriB, "--migrateuri", "tcp://127.0.0.1"),
        ),
      );
      back.push(
        await move(b, a, () => virshAt(uriB, "migrate", "--live", name, URI, "--migrateuri", "tcp://127.0.0.1")),
      );
    }
  } finally {
    a.stop();
    b.stop();
    await virshAt(uriB, "destroy", name).catch(() => {});
    execFileSync(join(root, "scripts", "testbed"), ["undefine", name], { stdio: "ignore", env: testbedEnv });
  }
  const all = [...there, ...back];
  return {
    on_target_ms_after_return: stats(all.map((x) => x.arrived)),
    gone_from_source_ms_after_return: stats(all.map((x) => x.left)),
  };
}

const out = { rounds, idle_seconds: idleSeconds };
if (which === "all" || which === "libvirt") out.libvirt = await libvirtBench();
if (which === "all" || which === "qemu") out.qemu = await qemuBench();
if (which === "all" || which === "migrate") out.migrate = await migrateBench();
console.log(JSON.stringify(out));
