#!/usr/bin/env node
// scripts/demo.mjs - the closed loop, unattended: `scripts/testbed demo [--keep] [--crash]`.
//
// Two libvirt hosts on this machine with their own CPUs (host A's VMs on CPU 0, host B's on
// CPU 1), an agent on each, a real Prometheus scraping both, and `vsteal controller --apply`.
// Two spinning 1-vCPU VMs crowd host A's one CPU; the controller moves one to B by itself, and
// the relief is measured from libvirt's own counters (`virsh domstats --vcpu`), not vsteal's.
// Prints one JSON line on stdout; progress on stderr. `--keep` leaves everything running (the
// URLs go to stderr) until `scripts/testbed demo-down`; `--crash` slows the migration and
// kill -9's the controller while it runs, then starts it again (it must reconcile, not repeat).
//
// Needs root, a build (`npm run build`) and what scripts/testbed installs, plus prometheus.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist", "cli", "main.cjs");
const TESTBED = join(ROOT, "scripts", "testbed");
const TB_DIR = process.env.VSTEAL_TESTBED_DIR ?? "/var/lib/vsteal-testbed";
const STATE_DIR = join(TB_DIR, "demo");
const STATE = join(STATE_DIR, "state.json");
const PREFIX = "vsteal-demo-";
const VMS = [`${PREFIX}1`, `${PREFIX}2`];
const A = { name: "hv-a", cpus: "0", uri: "qemu:///system" };
const B = { name: "hv-b", cpus: "1" };
const MEASURE_S = Number(process.env.VSTEAL_DEMO_MEASURE_S ?? 20);

const log = (m) => process.stderr.write(`demo: ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const die = (m) => {
  log(`error: ${m}`);
  process.exit(1);
};
const sh = (cmd, args, env = {}) =>
  execFileSync(cmd, args, {
    encoding: "utf8",
    env: { ...process.env, LC_ALL: "C", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
const virsh = (uri, ...args) => sh("virsh", ["-q", "-c", uri, ...args]);
const tryVirsh = (uri, ...args) => {
  try {
    return virsh(uri, ...args);
  } catch {
    return null;
  }
};

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function readState() {
  try {
    return JSON.parse(readFileSync(STATE, "utf8"));
  } catch {
    return null;
  }
}
const saveState = (st) => writeFileSync(STATE, JSON.stringify(st, null, 2));

/** Starts a detached process (its own session), output to a log file; returns its pid. */
function start(name, cmd, args, dir) {
  const out = openSync(join(dir, `${name}.log`), "a");
  const child = spawn(cmd, args, { detached: true, stdio: ["ignore", out, out] });
  child.unref();
  return child.pid;
}

async function waitFor(what, fn, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) die(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The agent's URL, from the "listening on URL" line of its log. */
const agentUrl = (dir, name) =>
  waitFor(`agent ${name}`, () => /listening on (http\S+) /.exec(readFileSync(join(dir, `${name}.log`), "utf8"))?.[1]);

/** Σ delay (ns, bigint) per demo VM on host A, from libvirt's own counters. */
function delaysOnA() {
  const out = new Map();
  const text =
    tryVirsh(
      A.uri,
      "domstats",
      "--vcpu",
      "--raw",
      ...VMS.filter((v) => tryVirsh(A.uri, "domstate", v)?.trim() === "running"),
    ) ?? "";
  let dom = null;
  for (const line of text.split("\n")) {
    const d = /^Domain: '(.*)'$/.exec(line.trim());
    if (d) dom = d[1];
    const m = /^vcpu\.\d+\.delay=(\d+)$/.exec(line.trim());
    if (m && dom) out.set(dom, (out.get(dom) ?? 0n) + BigInt(m[1]));
  }
  return { t: process.hrtime.bigint(), d: out };
}

/** Steal on host A in cores between two samples: Σ over VMs on A in both of Δdelay / Δt. */
function stealBetween(a, b) {
  let ns = 0n;
  for (const [vm, d] of b.d) {
    const before = a.d.get(vm);
    if (before !== undefined && d >= before) ns += d - before;
  }
  return Number(ns) / Number(b.t - a.t);
}

const auditEntries = (file) =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim())
        .flatMap((l) => {
          try {
            return [JSON.parse(l)];
          } catch {
            return [];
          }
        })
    : [];

async function down() {
  const st = readState();
  if (st) {
    for (const pid of Object.values(st.pids ?? {})) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
  // Every demo domain (the benchmark adds more than the two of the demo), on both hosts.
  for (const uri of [A.uri, st?.uriB].filter(Boolean)) {
    for (const line of (tryVirsh(uri, "list", "--all", "--uuid", "--name") ?? "").split("\n")) {
      const m = /^([0-9a-f-]{36}) (.*)$/.exec(line.trim());
      if (!m || !m[2].startsWith(PREFIX)) continue;
      tryVirsh(uri, "destroy", m[1]);
      tryVirsh(uri, "undefine", m[1]);
    }
  }
  for (const uuid of st?.suspended ?? []) tryVirsh(A.uri, "resume", uuid);
  if (st && !st.secondWasUp) {
    try {
      sh(TESTBED, ["down-second-host"]);
    } catch {
      /* already down */
    }
  }
  rmSync(STATE_DIR, { recursive: true, force: true });
  if (st) log("demo down");
}

async function demo(keep, crash) {
  if (process.getuid?.() !== 0) die("must run as root");
  if (!existsSync(CLI)) die(`${CLI} missing: run npm run build first`);
  await down();
  mkdirSync(STATE_DIR, { recursive: true });
  const dir = STATE_DIR;
  const st = { pids: {}, suspended: [], secondWasUp: false, uriB: null };
  saveState(st);

  st.secondWasUp =
    existsSync(join(TB_DIR, "second-host.pid")) &&
    tryVirsh(`qemu+tcp://127.0.0.1:${process.env.VSTEAL_TESTBED_SECOND_PORT ?? 16609}/system`, "uri") !== null;
  const uriB = sh(TESTBED, ["up-second-host"]).trim().split("\n").pop();
  st.uriB = uriB;
  const pidB = readFileSync(join(TB_DIR, "second-host.pid"), "utf8").trim();
  saveState(st);

  // Other VMs running on host A would compete for its CPUs: paused for the demo, resumed after.
  for (const line of (tryVirsh(A.uri, "list", "--state-running", "--uuid", "--name") ?? "").split("\n")) {
    const [uuid, ...rest] = line.trim().split(" ");
    if (!uuid || rest.join(" ").startsWith(PREFIX)) continue;
    if (tryVirsh(A.uri, "suspend", uuid) !== null) st.suspended.push(uuid);
  }
  saveState(st);
  if (st.suspended.length)
    log(`paused ${st.suspended.length} other running domain(s) on host A for the demo (resumed by demo-down)`);

  // Agents (A here, B in its namespace) and Prometheus, before the VMs start.
  const agentArgs = (h) => [
    "agent",
    "--web.listen-address",
    "127.0.0.1:0",
    "--source",
    "libvirt",
    "--interval",
    "1",
    "--discovery-interval",
    "5",
    "--history.dir",
    "",
    "--host-name",
    h.name,
    "--vm-cpus",
    h.cpus,
  ];
  st.pids.agentA = start("agent-a", process.execPath, [CLI, ...agentArgs(A)], dir);
  st.pids.agentB = start("agent-b", "nsenter", ["-t", pidB, "-m", "-u", process.execPath, CLI, ...agentArgs(B)], dir);
  saveState(st);
  const [urlA, urlB] = [await agentUrl(dir, "agent-a"), await agentUrl(dir, "agent-b")];
  const promPort = await freePort();
  writeFileSync(
    join(dir, "prometheus.yml"),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n  - job_name: vsteal\n    static_configs:\n      - targets: ["${new URL(urlA).host}", "${new URL(urlB).host}"]\n`,
  );
  st.pids.prometheus = start(
    "prometheus",
    "prometheus",
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "tsdb")}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      "--storage.tsdb.retention.time=2h",
    ],
    dir,
  );
  saveState(st);
  const promUrl = `http://127.0.0.1:${promPort}`;
  await waitFor("Prometheus", async () => (await fetch(`${promUrl}/-/ready`)).ok);

  // The crowd: two spinning 1-vCPU VMs confined to host A's CPU 0.
  for (const vm of VMS)
    sh(TESTBED, ["define", vm, "1"], { VSTEAL_TESTBED_PREFIX: PREFIX, VSTEAL_TESTBED_CPUS: A.cpus });
  const t0 = Date.now();
  log(
    `${VMS.join(" and ")} spin on ${A.name}'s CPU ${A.cpus}; measuring ${MEASURE_S} s of steal from libvirt's counters`,
  );
  const s0 = delaysOnA();
  await sleep(MEASURE_S * 1000);
  const before = stealBetween(s0, delaysOnA());
  log(`${A.name}: steal ${before.toFixed(2)} cores (libvirt vcpu.N.delay)`);

  // The controller, in apply mode.
  const ctlPort = await freePort();
  writeFileSync(
    join(dir, "hosts.yaml"),
    `hosts:\n  ${A.name}: { uri: "${A.uri}", p2p: false, migrate_uri: "tcp://127.0.0.1" }\n  ${B.name}: { uri: "${uriB}", migrate_uri: "tcp://127.0.0.1" }\ntimeout: 300\n`,
  );
  writeFileSync(join(dir, "token"), `${randomBytes(16).toString("hex")}\n`, { mode: 0o600 });
  const auditLog = join(dir, "migrations.jsonl");
  const ctlArgs = [
    CLI,
    "controller",
    "--prometheus",
    promUrl,
    "--interval",
    "5s",
    "--window",
    `${MEASURE_S}s`,
    "--apply",
    "--approve-over",
    "5",
    "--migrate-hosts",
    join(dir, "hosts.yaml"),
    "--token-file",
    join(dir, "token"),
    "--audit-log",
    auditLog,
    "--state-file",
    join(dir, "controller-state.json"),
    "--settle",
    "5s",
    "--web.listen-address",
    `127.0.0.1:${ctlPort}`,
  ];
  const t1 = Date.now();
  st.pids.controller = start("controller", process.execPath, ctlArgs, dir);
  saveState(st);

  let restarted = false;
  const startedEntry = await waitFor(
    "the controller to start a migration",
    () => auditEntries(auditLog).find((e) => e.action === "migrate" && e.result === "started"),
    180_000,
  );
  const detected = Date.parse(startedEntry.time);
  if (crash) {
    // The audit log has the move as started (fsync'ed before virsh runs): kill now, while the
    // migration runs on (libvirt carries a peer-to-peer migration on without its client).
    log("kill -9 the controller while the migration runs; starting it again");
    process.kill(st.pids.controller, "SIGKILL");
    await sleep(500);
    st.pids.controller = start("controller", process.execPath, ctlArgs, dir);
    saveState(st);
    restarted = true;
  }
  const ok = await waitFor(
    "the move to finish",
    () =>
      auditEntries(auditLog).find(
        (e) =>
          e.action === "migrate" &&
          e.move === startedEntry.move &&
          e.plan_id === startedEntry.plan_id &&
          e.result !== "started",
      ),
    420_000,
  );
  if (ok.result !== "ok") die(`the move ended ${ok.result}: ${ok.reason}`);
  const relieved = Date.parse(ok.time);
  log(`${ok.vm} ${ok.from}→${ok.to}: ${ok.reason}`);

  await sleep(3000);
  const s1 = delaysOnA();
  await sleep(MEASURE_S * 1000);
  const after = stealBetween(s1, delaysOnA());
  log(`${A.name}: steal ${after.toFixed(2)} cores after the move (libvirt vcpu.N.delay)`);
  const verdict = await waitFor(
    "the controller's verdict on the move",
    () => auditEntries(auditLog).find((e) => e.action === "verify" && e.vm === ok.vm),
    180_000,
  );
  log(`verdict: ${verdict.result}: ${verdict.reason}`);

  const result = {
    source: ok.from,
    target: ok.to,
    target_uri: uriB,
    vm: ok.vm,
    source_steal_before: Math.round(before * 1000) / 1000,
    source_steal_after: Math.round(after * 1000) / 1000,
    // From the moment the controller started watching (the overload already measured for MEASURE_S s).
    detected_s: Math.round((detected - t1) / 100) / 10,
    relieved_s: Math.round((relieved - t1) / 100) / 10,
    audit_log: auditLog,
    verdict: verdict.result,
    overload_started_s_before_controller: Math.round((t1 - t0) / 100) / 10,
    controller_restarted_during_migration: restarted,
    controller_url: `http://127.0.0.1:${ctlPort}`,
    prometheus_url: promUrl,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (keep) {
    log(`kept running; end it with: scripts/testbed demo-down`);
    log(`dashboard of ${A.name}: ${urlA}/   of ${B.name}: ${urlB}/`);
    log(`fleet view (controller): http://127.0.0.1:${ctlPort}/   Prometheus: ${promUrl}/`);
  } else {
    await down();
  }
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === "down") await down();
else if (cmd === "run") await demo(rest.includes("--keep"), rest.includes("--crash"));
else die("usage: scripts/testbed demo [--keep] [--crash] | demo-down");
