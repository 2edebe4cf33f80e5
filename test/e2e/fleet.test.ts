/**
 * The fleet controller with real parts: the machine's real Prometheus scrapes three agents
 * standing for three hosts, told apart by a `host` target label —
 *
 * - hv01: the real agent (`vsteal agent --source libvirt`) on the real testbed, whose
 *   spinning guests (6 vCPUs on 2 CPUs) wait most of the time: the crowded host;
 * - hv02, hv03: simulated calm hosts. Each runs the real agent code (collector, exporter, HTTP
 *   server; test/support/lab-host.ts) on a small fake /proc tree whose schedstat counters grow
 *   at the rates of a synthetic trace. Chosen over a separate fake exporter so that the
 *   metric names, labels and exposition are the agent's own, not a copy that could drift.
 *
 * Then the controller (the CLI, as a user runs it) and snapshotFromPrometheus + the planner
 * must propose moving a VM off hv01 onto a calm host; with one target down there must be no
 * plan and the reason must name the host; with Prometheus down, no plan and that reason.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { snapshotFromPrometheus } from "../../src/cli/prometheus-snapshot.js";
import { SnapshotError } from "../../src/fleet/errors.js";
import { LabHost } from "../support/lab-host.js";
import { LabPrometheus, freePort } from "../support/lab-prometheus.js";
import type { Plan } from "../../src/model/fleet.js";
import { plan } from "../../src/planner/index.js";
import { describeE2E } from "./env.js";
import { CLI, ROOT, testbed } from "./virsh.js";

const WINDOW = "10s";
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

/** `vsteal controller …`: from dist/cli/main.cjs once main.ts registers it, else through scripts/fleet-lab. */
function controllerArgv(): string[] {
  const help = execFileSync(process.execPath, [CLI, "controller", "--help"], { encoding: "utf8" });
  return help.includes("--prometheus")
    ? [CLI, "controller"]
    : [join(ROOT, "scripts", "fleet-lab"), "vsteal", "controller"];
}

interface PlanView {
  audit: number;
  status: "ok" | "error";
  plan: Plan | null;
  suppressed: Array<{ vm: string; from: string; to: string; rule: string; reason: string }>;
  observed_moves: Array<{ vm: string; from: string; to: string }>;
  error: { reason: string; message: string; missing_hosts: string[] } | null;
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as T };
}

/** Polls until `pred` holds for the controller's /api/v1/plan (audits run every second). */
async function waitForPlan(
  base: string,
  pred: (p: PlanView) => boolean,
  what: string,
  log: () => string,
  timeoutS = 30,
): Promise<PlanView> {
  const deadline = Date.now() + timeoutS * 1000;
  let last: PlanView | null = null;
  while (Date.now() < deadline) {
    try {
      last = (await getJson<PlanView>(`${base}/api/v1/plan`)).body;
      if (pred(last)) return last;
    } catch {
      /* not listening yet */
    }
    await sleep(0.5);
  }
  throw new Error(`controller: ${what} not seen within ${timeoutS} s; last: ${JSON.stringify(last)}; log: ${log()}`);
}

describeE2E("fleet controller: real Prometheus, the real agent as the crowded host, simulated calm hosts", () => {
  let agent: ChildProcess | null = null;
  let controller: ChildProcess | null = null;
  let controllerLog = "";
  let prom: LabPrometheus | null = null;
  const lab: LabHost[] = [];
  let base = "";

  beforeAll(async () => {
    testbed("up", "3");
    const agentPort = await freePort();
    agent = spawn(
      process.execPath,
      [
        CLI,
        "agent",
        "--interval",
        "1",
        "--source",
        "libvirt",
        "--discovery-interval",
        "5",
        "--history.dir",
        "",
        "--web.listen-address",
        `127.0.0.1:${agentPort}`,
      ],
      { stdio: "ignore" },
    );
    lab.push(
      await LabHost.start({
        name: "hv02",
        cpus: 16,
        vms: [{ name: "calm-web", uuid: "2a000000-0000-4000-8000-000000000001", vcpus: 2, usage: 0.2, delay: 0.002 }],
      }),
      await LabHost.start({
        name: "hv03",
        cpus: 8,
        vms: [
          {
            name: "calm-db",
            uuid: "3a000000-0000-4000-8000-000000000001",
            vcpus: 4,
            usage: 0.3,
            delay: 0.004,
            throttled: 0.001,
          },
        ],
      }),
    );
    prom = await LabPrometheus.start({
      targets: [
        { address: `127.0.0.1:${agentPort}`, host: "hv01" },
        { address: `127.0.0.1:${lab[0]!.port}`, host: "hv02" },
        { address: `127.0.0.1:${lab[1]!.port}`, host: "hv03" },
      ],
    });
    await prom.waitForTargets(3, 60_000);
    await sleep(12); // a full 10 s window of 1 s scrapes
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const [cmd, ...args] = controllerArgv();
    controller = spawn(
      process.execPath,
      [
        cmd!,
        ...args,
        "--prometheus",
        prom.url,
        "--interval",
        "1s",
        "--window",
        WINDOW,
        "--state-file",
        "",
        "--web.listen-address",
        `127.0.0.1:${port}`,
      ],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    controller.stderr?.setEncoding("utf8").on("data", (d: string) => {
      controllerLog = (controllerLog + d).slice(-20_000);
    });
  });

  afterAll(async () => {
    controller?.kill("SIGTERM");
    agent?.kill("SIGTERM");
    await prom?.stop();
    await Promise.all(lab.map((h) => h.stop()));
  });

  it("snapshotFromPrometheus + the planner: a move off the crowded real host onto a calm one", async () => {
    const snap = await snapshotFromPrometheus(prom!.url, WINDOW);
    expect(snap.hosts.map((h) => h.name)).toEqual(["hv01", "hv02", "hv03"]);
    const real = snap.vms.filter((v) => v.host === "hv01");
    expect(real.map((v) => v.name)).toEqual(
      expect.arrayContaining(["vsteal-test-1", "vsteal-test-2", "vsteal-test-3"]),
    );
    const waiting = real.reduce((a, v) => a + v.delay.reduce((x, y) => x + y, 0), 0);
    expect(waiting).toBeGreaterThan(1.5); // 6 spinning vCPUs on 2 CPUs wait most of the time
    expect(snap.vms.find((v) => v.name === "calm-web")?.usage[0]).toBeCloseTo(0.2, 1);
    expect(snap.notes.join(" ")).toMatch(/memory/);
    const p = plan(snap);
    expect(p.moves.length).toBeGreaterThan(0);
    expect(p.moves[0]).toMatchObject({ from: "hv01", to: expect.stringMatching(/^hv0[23]$/) });
    expect(p.predicted.steal_after).toBeLessThan(p.predicted.steal_before);
    // The same through the CLI: `vsteal plan --prometheus URL --json` prints the plan format.
    const out = JSON.parse(
      execFileSync(process.execPath, [CLI, "plan", "--prometheus", prom!.url, "--window", WINDOW, "--json"], {
        encoding: "utf8",
      }),
    ) as {
      version: number;
      moves: Array<{ vm: string; from: string; to: string; reason: string }>;
      predicted: { steal_before: number; steal_after: number };
    };
    expect(out.version).toBe(1);
    expect(out.moves[0]).toMatchObject({ from: "hv01", to: expect.stringMatching(/^hv0[23]$/) });
    expect(out.predicted.steal_after).toBeLessThan(out.predicted.steal_before);
  });

  it("the controller proposes the move (dry run) and exposes it through its API and metrics", async () => {
    const v = await waitForPlan(
      base,
      (p) => p.status === "ok",
      "a successful audit",
      () => controllerLog,
    );
    expect(v.plan?.moves[0]).toMatchObject({ from: "hv01", to: expect.stringMatching(/^hv0[23]$/) });
    expect(v.plan?.moves[0]?.reason.length).toBeGreaterThan(10);
    expect(v.plan!.predicted.steal_after).toBeLessThan(v.plan!.predicted.steal_before);
    const snap = await getJson<{ hosts: Array<{ name: string }> }>(`${base}/api/v1/snapshot`);
    expect(snap.status).toBe(200);
    expect(snap.body.hosts.map((h) => h.name)).toEqual(["hv01", "hv02", "hv03"]);
    const hist = await getJson<{ audits: PlanView[] }>(`${base}/api/v1/plans`);
    expect(hist.body.audits.length).toBeGreaterThanOrEqual(1);
    const health = await getJson<{ status: string; dry_run: boolean }>(`${base}/api/v1/health`);
    expect(health.body).toMatchObject({ status: "ok", dry_run: true });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    execFileSync("promtool", ["check", "metrics"], { input: metrics });
    expect(metrics).toMatch(/^vsteal_controller_last_audit_success 1$/m);
    expect(Number(/^vsteal_controller_planned_moves (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    const before = Number(/^vsteal_controller_predicted_steal_before_cores (\S+)$/m.exec(metrics)?.[1]);
    const after = Number(/^vsteal_controller_predicted_steal_after_cores (\S+)$/m.exec(metrics)?.[1]);
    expect(after).toBeLessThan(before);
    expect(controllerLog).toMatch(/moves \(dry run\): \S+ hv01→hv0[23]/);
  });

  it("a VM seen migrating puts both hosts in cooldown: moves onto them are suppressed, with the reason", async () => {
    // calm-web "migrates" hv02 → hv03: gone from one simulated host, new process (counters
    // from 0) on the other, as after a live migration.
    lab[0]!.removeVm("calm-web");
    lab[1]!.addVm({
      name: "calm-web",
      uuid: "2a000000-0000-4000-8000-000000000001",
      vcpus: 2,
      usage: 0.2,
      delay: 0.002,
    });
    const deadline = Date.now() + 30_000;
    let seen: PlanView | null = null;
    while (Date.now() < deadline && !seen) {
      const { body } = await getJson<{ audits: PlanView[] }>(`${base}/api/v1/plans?status=ok&limit=20`);
      seen = body.audits.find((a) => a.observed_moves.some((m) => m.vm === "calm-web")) ?? null;
      if (!seen) await sleep(0.5);
    }
    expect(seen, controllerLog).not.toBeNull();
    expect(seen!.observed_moves).toEqual([
      expect.objectContaining({ vm: "calm-web", from: "hv02", to: "hv03", kind: "observed" }),
    ]);
    // The planner still wants hv01's load on a calm host; both calm hosts are cooling down.
    const held = seen!.suppressed.filter((x) => x.rule === "host_cooldown");
    expect(held.length).toBeGreaterThan(0);
    expect(held[0]).toMatchObject({ from: "hv01", to: expect.stringMatching(/^hv0[23]$/) });
    expect(held[0]!.reason).toMatch(/^hv0[23] (received|sent) calm-web \(seen \d+ s ago\); host cooldown is 10 s/);
    expect(seen!.plan!.moves.filter((m) => m.to === "hv02" || m.to === "hv03")).toEqual([]);
  });

  it("one target down (partial data): no plan, and the reason names the missing host", async () => {
    await lab[1]!.stop();
    lab.splice(1, 1);
    const v = await waitForPlan(
      base,
      (p) => p.status === "error" && (p.error?.missing_hosts ?? []).includes("hv03"),
      "a failed audit naming hv03",
      () => controllerLog,
    );
    expect(v.plan).toBeNull();
    expect(v.error).toMatchObject({ reason: "partial_data", missing_hosts: ["hv03"] });
    expect(v.error?.message).toMatch(/hv03/);
    const r = await fetch(`${base}/api/v1/plan`);
    expect(r.status).toBe(503);
    await expect(snapshotFromPrometheus(prom!.url, WINDOW)).rejects.toThrow(
      /no snapshot: missing or stale data for host hv03/,
    );
    const cli = spawnSync(process.execPath, [CLI, "plan", "--prometheus", prom!.url, "--window", WINDOW, "--json"], {
      encoding: "utf8",
    });
    expect(cli.status).toBe(3);
    expect(cli.stdout).toBe("");
    expect(cli.stderr).toMatch(/^vsteal plan: no plan: .*hv03/m);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^vsteal_controller_last_audit_success 0$/m);
    expect(
      Number(/^vsteal_controller_audit_errors_total\{reason="partial_data"\} (\d+)$/m.exec(metrics)?.[1]),
    ).toBeGreaterThan(0);
  });

  it("Prometheus down: no plan, and the reason says Prometheus is unreachable", async () => {
    await prom!.stop();
    const v = await waitForPlan(
      base,
      // an audit in flight when Prometheus shut down sees the connection closed; the next one is refused
      (p) =>
        p.status === "error" && p.error?.reason === "prometheus_unreachable" && /ECONNREFUSED/.test(p.error.message),
      "an unreachable Prometheus",
      () => controllerLog,
    );
    expect(v.plan).toBeNull();
    expect(v.error?.message).toMatch(/cannot reach Prometheus at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    const e = await snapshotFromPrometheus(prom!.url, WINDOW).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SnapshotError);
    expect((e as SnapshotError).reason).toBe("prometheus_unreachable");
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(
      Number(/^vsteal_controller_audit_errors_total\{reason="prometheus_unreachable"\} (\d+)$/m.exec(metrics)?.[1]),
    ).toBeGreaterThan(0);
  });
});
