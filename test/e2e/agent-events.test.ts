import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeE2E } from "./env.js";
import { startAgent, TESTBED, virsh, type RunningAgent } from "./virsh.js";

// Own prefix: nothing here touches another test's domains.
const PREFIX = "vsteal-ag-";
const DOM = `${PREFIX}events`;
const testbed = (...args: string[]) =>
  execFileSync(TESTBED, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, VSTEAL_TESTBED_PREFIX: PREFIX, VSTEAL_TESTBED_WAIT: "0" },
  });

/** Polls until `cond` holds. The deadline is generous (this is about whether, not how fast) and far below the agent's 600 s discovery period. */
async function until(cond: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `virsh dominfo` "Used memory" and "Max memory", bytes: libvirt's own view. */
function dominfoMemory(dom: string): { used: number; max: number } {
  const out = virsh("dominfo", dom);
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) KiB$`, "m").exec(out)?.[1]) * 1024;
  return { used: kib("Used memory"), max: kib("Max memory") };
}

describeE2E("vsteal agent: event-driven discovery on the real testbed", () => {
  let agent: RunningAgent | null = null;
  // virsh runs synchronously here and may block this process long enough for the agent to close
  // an idle keep-alive connection that fetch then reuses: that one failure is retried.
  const metrics = async () => {
    try {
      return await (await fetch(`${agent!.url}/metrics`)).text();
    } catch {
      return (await fetch(`${agent!.url}/metrics`)).text();
    }
  };
  const seriesOf = (text: string, family: string) =>
    text.split("\n").filter((l) => l.startsWith(`${family}{domain="${DOM}",`));

  beforeAll(async () => {
    testbed("define", DOM, "2");
    virsh("destroy", DOM);
    // A sweep every 300 s and periodic discovery every 600 s (the test takes well under a
    // minute): after the first sweep, only an event can make a VM appear on /metrics or go.
    agent = await startAgent([
      "--source",
      "libvirt",
      "--interval",
      "300",
      "--discovery-interval",
      "600",
      "--history.dir",
      "",
      "--host-name",
      "hv-a.example",
    ]);
    await agent.sweeps(1);
  });

  afterAll(async () => {
    await agent?.stop();
    try {
      testbed("undefine", DOM);
    } catch {
      /* already gone */
    }
  });

  it("exports the host's name, VM CPU set and memory", async () => {
    const text = await metrics();
    expect(text).toMatch(/^vsteal_host_info\{host_name="hv-a\.example"\} 1$/m);
    expect(text).toMatch(/^vsteal_host_vm_cpus_info\{cpus="[0-9,-]+"\} 1$/m);
    expect(Number(/^vsteal_host_vm_cpus (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(Number(/^vsteal_host_memory_total_bytes (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    // Defined but shut off: no vCPU series (only libvirt_domain_vcpu_current/maximum, as before).
    expect(seriesOf(text, "libvirt_domain_vcpu_delay_seconds_total")).toEqual([]);
  });

  it("shows a domain that starts, with its 2 vCPUs, memory as libvirt has it, well before the next periodic discovery", async () => {
    virsh("start", DOM);
    await until(
      async () => seriesOf(await metrics(), "libvirt_domain_vcpu_delay_seconds_total").length === 2,
      `${DOM}'s 2 vCPUs on /metrics`,
    );
    const text = await metrics();
    const mem = dominfoMemory(DOM);
    expect(seriesOf(text, "libvirt_domain_info_memory_usage_bytes")[0]).toMatch(new RegExp(` ${mem.used}$`));
    expect(seriesOf(text, "libvirt_domain_info_maximum_memory_bytes")[0]).toMatch(new RegExp(` ${mem.max}$`));
    const health = (await (await fetch(`${agent!.url}/api/v1/health`)).json()) as { event_discoveries: number };
    expect(health.event_discoveries).toBeGreaterThanOrEqual(1);
  });

  it("follows a CPU cap and a pinning set while it runs (at the discovery libvirt's status change triggers)", async () => {
    virsh("schedinfo", DOM, "--live", "--set", "vcpu_period=100000", "vcpu_quota=50000");
    virsh("vcpupin", DOM, "0", "0", "--live");
    virsh("vcpupin", DOM, "1", "0", "--live");
    await until(async () => {
      const t = await metrics();
      return (
        seriesOf(t, "vsteal_domain_vcpu_cap_cores")[0]?.endsWith(" 0.5") === true &&
        seriesOf(t, "vsteal_domain_cpus_info")[0]?.includes('cpus="0"') === true
      );
    }, "cap 0.5 and CPUs 0 on /metrics");
    // libvirt's own view of the same: vcpu_quota/vcpu_period and the pinning.
    expect(virsh("schedinfo", DOM, "--live")).toMatch(/vcpu_quota\s*:\s*50000/);
    expect(virsh("vcpupin", DOM, "--live")).toMatch(/^\s*0\s+0\s*$/m);
  });

  it("drops a domain that is destroyed, well before the next periodic discovery", async () => {
    virsh("destroy", DOM);
    await until(
      async () => seriesOf(await metrics(), "libvirt_domain_vcpu_delay_seconds_total").length === 0,
      `${DOM} gone from /metrics`,
    );
    const text = await metrics();
    expect(seriesOf(text, "libvirt_domain_info_memory_usage_bytes")).toEqual([]);
    expect(seriesOf(text, "vsteal_domain_cpus_info")).toEqual([]);
  });
});
