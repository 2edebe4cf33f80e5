/**
 * The plain-QEMU source (no libvirt): real processes named like QEMU (fake-qemu.c) in the real
 * /proc, the real agent. A VM that starts or exits shows on /metrics at once (a poll of /proc's
 * pids, since /proc cannot be watched), and two processes claiming one VM identity give one set
 * of series and a warning, never duplicate series.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnAgent, type AgentProcess } from "./agent.js";
import { FakeVm, fakeName, killAll } from "./fake-qemu.js";

const live = new Set<FakeVm>();
let agent: AgentProcess | null = null;

async function until(cond: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const metrics = async () => (await fetch(`${agent!.url}/metrics`)).text();
const delaySeries = (text: string, name: string) =>
  text.split("\n").filter((l) => l.startsWith(`libvirt_domain_vcpu_delay_seconds_total{domain="${name}",`));

// The fake VMs are this user's own processes: no root needed.
describe("plain QEMU source: events and duplicate identities", () => {
  const twin = fakeName("twin");
  const twinUuid = randomUUID();

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) live.add(await FakeVm.start({ name: twin, uuid: twinUuid, vcpus: 2 }));
    // A sweep every 300 s and discovery every 600 s: after the first sweep only an event shows a change.
    agent = await spawnAgent([
      "--source",
      "qemu",
      "--interval",
      "300",
      "--discovery-interval",
      "600",
      "--history.dir",
      "",
    ]);
    await until(async () => delaySeries(await metrics(), twin).length > 0, "the first sweep");
  });

  afterAll(async () => {
    await agent?.stop();
    await killAll(live);
  });

  it("two QEMU processes with one name and UUID: one set of series, and a warning naming both pids", async () => {
    const text = await metrics();
    expect(delaySeries(text, twin).map((l) => l.replace(/\} .*/, "}"))).toEqual([
      `libvirt_domain_vcpu_delay_seconds_total{domain="${twin}",uuid="${twinUuid}",vcpu="0"}`,
      `libvirt_domain_vcpu_delay_seconds_total{domain="${twin}",uuid="${twinUuid}",vcpu="1"}`,
    ]);
    const pids = [...live].map((v) => v.pid).sort((a, b) => a - b);
    const warnings = agent!
      .stderr()
      .split("\n")
      .filter((l) => l.includes(`claim the name "${twin}"`));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`reporting pid ${pids[0]} only`);
    for (const p of pids) expect(warnings[0]).toContain(`pid ${p}`);
  });

  it("a QEMU that starts is on /metrics, one that exits is gone, long before the next sweep or discovery", async () => {
    const vm = await FakeVm.start({ name: fakeName("event"), vcpus: 3 });
    live.add(vm);
    await until(async () => delaySeries(await metrics(), vm.name).length === 3, `${vm.name}'s 3 vCPUs on /metrics`);
    await vm.kill();
    live.delete(vm);
    await until(async () => delaySeries(await metrics(), vm.name).length === 0, `${vm.name} gone from /metrics`);
  });
});
