import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeE2E } from "./env.js";
import { SECOND_HOST_PID_FILE } from "./second-host.js";
import { TESTBED, URI, startAgent, type RunningAgent } from "./virsh.js";

/**
 * A live migration between the testbed's two hosts, each with its own agent (host B's inside
 * B's mount and UTS namespace, as it would run on B): the VM arrives on B's /metrics and leaves
 * A's, and back, with sweeps every 300 s and periodic discovery every 600 s — only the events
 * can do it. libvirt on each host says where the VM runs.
 */
const PREFIX = "vsteal-am-";
const DOM = `${PREFIX}migrate`;
const env = { ...process.env, VSTEAL_TESTBED_PREFIX: PREFIX, VSTEAL_TESTBED_WAIT: "0", LC_ALL: "C" };
const testbed = (...args: string[]) =>
  execFileSync(TESTBED, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], env });
const virshAt = (uri: string, ...args: string[]) =>
  execFileSync("virsh", ["-q", "-c", uri, ...args], { encoding: "utf8", env });

let logs = (): string => "";

/**
 * GET /metrics. A migration run with execFileSync blocks this process for seconds, long enough
 * for the agent to close an idle keep-alive connection that fetch then reuses ("other side
 * closed"): that one failure is retried on a new connection.
 */
async function metricsOf(agent: RunningAgent): Promise<string> {
  try {
    return await (await fetch(`${agent.url}/metrics`)).text();
  } catch {
    return (await fetch(`${agent.url}/metrics`, { keepalive: false })).text();
  }
}

async function until(cond: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}\n${logs()}`);
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}\n${logs()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeE2E("vsteal agents on two testbed hosts: a migration shows at once on both", () => {
  let a: RunningAgent | null = null;
  let b: RunningAgent | null = null;
  let uriB = "";
  const vcpuSeries = async (agent: RunningAgent) =>
    (await metricsOf(agent))
      .split("\n")
      .filter((l) => l.startsWith(`libvirt_domain_vcpu_delay_seconds_total{domain="${DOM}",`)).length;
  const runsOn = (uri: string) => virshAt(uri, "list", "--name", "--state-running").split("\n").includes(DOM);

  beforeAll(async () => {
    // Starts host B unless it is up already; it is never stopped here (others may use it).
    uriB = /qemu\+tcp:\/\/127\.0\.0\.1:\d+\/system/.exec(testbed("up-second-host"))![0];
    const pidB = readFileSync(SECOND_HOST_PID_FILE, "utf8").trim();
    testbed("define", DOM, "1");
    const args = ["--source", "libvirt", "--interval", "300", "--discovery-interval", "600", "--history.dir", ""];
    a = await startAgent([...args, "--host-name", "hv-a"]);
    b = await startAgent([...args, "--vm-cpus", "1"], ["nsenter", "-t", pidB, "-m", "-u"]);
    logs = () => `host A's agent:\n${a?.stderr() ?? ""}\nhost B's agent:\n${b?.stderr() ?? ""}`;
    await until(async () => (await vcpuSeries(a!)) === 1, `${DOM} on host A's agent`);
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    try {
      virshAt(uriB, "destroy", DOM); // transient on B if a test stopped half-way
    } catch {
      /* not there */
    }
    try {
      testbed("undefine", DOM);
    } catch {
      /* already gone */
    }
  });

  it("host B's agent names its host from its own namespace", async () => {
    const text = await metricsOf(b!);
    expect(text).toMatch(/^vsteal_host_info\{host_name="vsteal-second-host"\} 1$/m);
    expect(text).toMatch(/^vsteal_host_vm_cpus_info\{cpus="1"\} 1$/m);
  });

  it("A → B: on B's /metrics, gone from A's", async () => {
    virshAt(URI, "migrate", "--live", "--p2p", DOM, uriB, "--migrateuri", "tcp://127.0.0.1");
    expect(runsOn(uriB)).toBe(true);
    expect(runsOn(URI)).toBe(false);
    await until(async () => (await vcpuSeries(b!)) === 1 && (await vcpuSeries(a!)) === 0, `${DOM} on B's agent only`);
  });

  it("B → A: back on A's /metrics, gone from B's", async () => {
    virshAt(uriB, "migrate", "--live", DOM, URI, "--migrateuri", "tcp://127.0.0.1");
    expect(runsOn(URI)).toBe(true);
    await until(async () => (await vcpuSeries(a!)) === 1 && (await vcpuSeries(b!)) === 0, `${DOM} on A's agent only`);
  });
});
