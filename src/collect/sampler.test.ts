import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { PidSource } from "../sources/pid.js";
import type { Discovery, DomainSource } from "../sources/source.js";
import { computeRates } from "./rates.js";
import { Sampler } from "./sampler.js";

/** A real process that burns CPU on its main thread; resolves once it spins. */
async function busyChild() {
  const child = spawn(process.execPath, ["-e", "process.stdout.write('x'); for(;;){}"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  await new Promise((r) => child.stdout.once("data", r));
  return child;
}

describe("Sampler on real /proc", () => {
  it("reads every thread of a process through kept descriptors, and rates add up", async () => {
    const child = await busyChild();
    try {
      const sampler = new Sampler({ source: new PidSource(child.pid!), discoveryIntervalMs: Number.POSITIVE_INFINITY });
      await sampler.refresh();
      expect(sampler.threadCount).toBeGreaterThanOrEqual(1);
      const s0 = sampler.sweep();
      await new Promise((r) => setTimeout(r, 500));
      const s1 = sampler.sweep();
      const r = computeRates(s0, s1);
      const vcpus = r.domains[0]!.vcpus;
      expect(vcpus.length).toBe(sampler.threadCount);
      // The spinning main thread ran or waited nearly all the time.
      const main = vcpus.reduce((a, b) => (a.usage + a.delay > b.usage + b.delay ? a : b));
      expect(main.usage + main.delay).toBeGreaterThan(0.8);
      // Within float rounding (seen: 1.0000000000000002).
      expect(main.usage + main.delay).toBeLessThanOrEqual(1 + 1e-9);
      sampler.close();
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("drops a thread that exited, says so, and keeps the rest", async () => {
    const a = await busyChild();
    const b = await busyChild();
    const two: DomainSource = {
      kind: "qemu",
      description: "two processes",
      async discover(): Promise<Discovery> {
        const da = (await new PidSource(a.pid!).discover()).domains;
        const db = (await new PidSource(b.pid!).discover()).domains;
        return { domains: [...da, ...db], problems: [] };
      },
    };
    const sampler = new Sampler({ source: two, discoveryIntervalMs: Number.POSITIVE_INFINITY });
    try {
      await sampler.refresh();
      const before = sampler.threadCount;
      a.kill("SIGKILL");
      await new Promise((r) => a.once("exit", r));
      await new Promise((r) => setTimeout(r, 100)); // reaped by the kernel
      const s = sampler.sweep();
      expect(s.problems.some((p) => p.domain === `pid-${a.pid}` && /gone/.test(p.message))).toBe(true);
      const alive = s.domains.find((d) => d.domain.name === `pid-${b.pid}`);
      expect(alive!.vcpus.length).toBeGreaterThan(0);
      expect(sampler.threadCount).toBe(alive!.vcpus.length);
      expect(sampler.threadCount).toBeLessThan(before);
      expect(sampler.discoveryDue).toBe(true);
    } finally {
      sampler.close();
      b.kill("SIGKILL");
    }
  });
});
