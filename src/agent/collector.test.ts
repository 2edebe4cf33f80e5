import { spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import type { DomainThreads } from "../model/types.js";
import type { Discovery, DomainSource } from "../sources/source.js";
import { Collector } from "../collect/collector.js";
import { Exporter } from "./metrics.js";

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const child = spawn("sleep", ["600"], { stdio: "ignore" });
afterAll(() => void child.kill("SIGKILL"));

describe("Collector, event-driven discovery", () => {
  it("shows a VM that comes, and drops one that goes, at the source's event, without waiting for a sweep or the period", async () => {
    const vm: DomainThreads = {
      name: "arrived",
      uuid: "4c3ca851-f5dc-4a28-a7bc-d369f8327ebb",
      id: 7,
      state: "running",
      vcpuCurrent: 1,
      vcpuMaximum: 1,
      pid: child.pid!,
      source: "libvirt",
      vcpus: [{ vcpu: 0, tid: child.pid! }],
    };
    let present: DomainThreads[] = [];
    let fire: (() => void) | null = null;
    let discoveries = 0;
    const source: DomainSource = {
      kind: "libvirt",
      description: "test",
      discover: (): Promise<Discovery> => {
        discoveries++;
        return Promise.resolve({ domains: present, problems: [] });
      },
      watch: (onChange) => {
        fire = onChange;
        return () => (fire = null);
      },
    };
    // An hour between sweeps and between periodic discoveries: only the event can show it.
    const c = new Collector({ source, intervalS: 3600, discoveryIntervalS: 3600, cpus: 2 });
    const exporter = new Exporter(c);
    const metrics = async () => new TextDecoder().decode(await exporter.render(false).body);
    await c.start();
    try {
      expect(fire).not.toBeNull();
      expect(await metrics()).not.toContain('domain="arrived"');
      const sweeps = c.health.sweeps;
      present = [vm];
      fire!();
      fire!(); // a burst of events is one discovery
      await until(() => (c.latest?.domains ?? []).some((d) => d.domain.name === "arrived"), "the VM to appear");
      expect(await metrics()).toMatch(
        /^libvirt_domain_vcpu_delay_seconds_total\{domain="arrived",uuid="4c3ca851-f5dc-4a28-a7bc-d369f8327ebb",vcpu="0"\} /m,
      );
      expect(c.health.sweeps).toBe(sweeps); // no periodic sweep ran: the event did it
      present = [];
      fire!();
      await until(() => !(c.latest?.domains ?? []).some((d) => d.domain.name === "arrived"), "the VM to be gone");
      expect(await metrics()).not.toContain('domain="arrived"');
      expect(c.health.eventDiscoveries).toBeGreaterThanOrEqual(2);
      expect(discoveries).toBeLessThan(10);
    } finally {
      await c.stop();
    }
    expect(fire).toBeNull(); // stop() stops watching
  });
});
