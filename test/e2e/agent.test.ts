import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeE2E } from "./env.js";
import { startAgent, testbed, virsh, type RunningAgent } from "./virsh.js";

let BASE = "";

async function get<T>(path: string): Promise<T> {
  const r = await fetch(BASE + path);
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

interface DomainJson {
  domain: string;
  vcpus: Array<{ vcpu: number; usage: number; steal: number; contention: number; throttled: number }>;
}

/** Waits until the agent has averaged at least `s` seconds of fresh samples. */
const settle = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

describeE2E("vsteal agent on the real testbed", () => {
  let agent: RunningAgent | null = null;
  /** Every other running domain: suspended while vsteal-test-1 must have the host to itself. */
  let others: string[] = [];

  beforeAll(async () => {
    testbed("up", "3");
    agent = await startAgent([
      "--interval",
      "1",
      "--source",
      "libvirt",
      "--discovery-interval",
      "2",
      "--history.dir",
      "",
    ]);
    BASE = agent.url;
    await agent.sweeps(2);
  });

  afterAll(() => {
    void agent?.stop();
    for (const d of others) {
      try {
        virsh("resume", d);
      } catch {
        /* was not paused */
      }
    }
    try {
      virsh("schedinfo", "vsteal-test-1", "--live", "--set", "vcpu_quota=-1");
    } catch {
      /* domain gone */
    }
  });

  it("serves metrics that promtool accepts, with real vCPU numbers as labels", async () => {
    const text = await (await fetch(`${BASE}/metrics`)).text();
    execFileSync("promtool", ["check", "metrics"], { input: text });
    expect(text).toMatch(
      /^libvirt_domain_vcpu_delay_seconds_total\{domain="vsteal-test-3",uuid="[0-9a-f-]{36}",vcpu="2"\} \d/m,
    );
    expect(text).toMatch(/^libvirt_domain_vcpu_current\{domain="vsteal-test-2",uuid="[0-9a-f-]{36}"\} 2$/m);
    expect(text).toMatch(/^libvirt_domain_vcpu_maximum\{domain="vsteal-test-2",uuid="[0-9a-f-]{36}"\} 3$/m);
    expect(text).toMatch(
      /^vsteal_domain_vcpu_throttled_seconds_total\{domain="vsteal-test-1",uuid="[0-9a-f-]{36}",vcpu="0"\} \d/m,
    );
    expect(text).toMatch(/^vsteal_host_cpus \d+$/m);
    const om = await fetch(`${BASE}/metrics`, { headers: { accept: "application/openmetrics-text; version=1.0.0" } });
    expect(om.headers.get("content-type")).toMatch(/application\/openmetrics-text/);
    expect((await om.text()).trimEnd().endsWith("# EOF")).toBe(true);
  });

  it("an uncapped vCPU under contention shows >= 90 % of its delay as contention", async () => {
    await settle(3);
    const d = await get<DomainJson>("/api/v1/domains/vsteal-test-3");
    for (const v of d.vcpus) {
      expect(v.steal).toBeGreaterThan(0.2);
      expect(v.contention / v.steal).toBeGreaterThanOrEqual(0.9);
    }
  });

  it("a vCPU capped with vcpu_quota on an idle host shows >= 90 % of its delay as throttled", async () => {
    others = virsh("list", "--name", "--state-running")
      .split("\n")
      .filter((n) => n !== "" && n !== "vsteal-test-1");
    for (const d of others) virsh("suspend", d);
    virsh("schedinfo", "vsteal-test-1", "--live", "--set", "vcpu_period=100000", "vcpu_quota=20000");
    await settle(4);
    const d = await get<DomainJson>("/api/v1/domains/vsteal-test-1");
    const v = d.vcpus[0]!;
    // 20 % cap, nothing else running: it runs ~20 % and waits ~80 %, nearly all of it throttled.
    expect(v.usage).toBeGreaterThan(0.1);
    expect(v.usage).toBeLessThan(0.3);
    expect(v.steal).toBeGreaterThan(0.6);
    expect(v.throttled / v.steal).toBeGreaterThanOrEqual(0.9);
    virsh("schedinfo", "vsteal-test-1", "--live", "--set", "vcpu_quota=-1");
    for (const d of others) virsh("resume", d);
    others = [];
  });

  it("host summary and noisy neighbours reflect the oversubscribed host", async () => {
    await settle(2);
    const h = await get<{
      cpus: number;
      vcpus_allocated: number;
      demand: number;
      capacity: number;
      oversubscription: number;
    }>("/api/v1/host");
    expect(h.vcpus_allocated).toBeGreaterThanOrEqual(6);
    expect(h.oversubscription).toBeCloseTo(h.vcpus_allocated / h.capacity, 6);
    expect(h.demand).toBeGreaterThan(h.capacity);
    const n = await get<{ domain: string; neighbours: Array<{ domain: string; cpu_on_shared_cpus: number }> }>(
      "/api/v1/neighbours?domain=vsteal-test-1",
    );
    expect(n.neighbours.map((x) => x.domain)).toEqual(expect.arrayContaining(["vsteal-test-2", "vsteal-test-3"]));
    for (const x of n.neighbours) expect(x.cpu_on_shared_cpus).toBeGreaterThan(0);
  });

  it("answers a bad API request with 400 and a message", async () => {
    const r = await fetch(`${BASE}/api/v1/neighbours?limit=lots`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toMatch(/limit/);
  });
});
