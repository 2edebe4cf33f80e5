import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DomainInfo, Sample, VcpuCounters } from "../model/types.js";
import { computeRates, vcpuRates } from "./rates.js";

const c = (time: bigint, delay: bigint, throttled: bigint | null = null, tid = 100): VcpuCounters => ({
  vcpu: 0,
  tid,
  time,
  delay,
  slices: 0n,
  throttled,
});
const SEC = 1_000_000_000n;

describe("vcpuRates", () => {
  it("turns deltas into fractions of wall time", () => {
    const r = vcpuRates(c(0n, 0n, 0n), c(600_000_000n, 300_000_000n, 100_000_000n), SEC);
    expect(r).toEqual({ vcpu: 0, tid: 100, usage: 0.6, delay: 0.3, throttled: 0.1, contention: 0.3 - 0.1 });
  });

  it("is exact for counters near 2^64", () => {
    const big = 2n ** 64n - 1n - 2n * SEC;
    const r = vcpuRates(c(big, big), c(big + SEC / 2n, big + SEC / 4n), SEC);
    expect(r?.usage).toBe(0.5);
    expect(r?.delay).toBe(0.25);
  });

  it("treats a counter that went backwards as a reset", () => {
    expect(vcpuRates(c(10n * SEC, 5n * SEC), c(1n, 1n), SEC)).toBeNull();
  });

  it("never reports throttling above the delay", () => {
    const r = vcpuRates(c(0n, 0n, 0n), c(0n, SEC / 10n, SEC), SEC);
    expect(r?.throttled).toBe(0.1);
    expect(r?.contention).toBe(0);
  });

  it("never yields a negative or impossible rate", () => {
    const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    fc.assert(
      fc.property(
        u64,
        u64,
        u64,
        u64,
        fc.option(u64),
        fc.option(u64),
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        (t0, t1, d0, d1, th0, th1, dt) => {
          const r = vcpuRates(c(t0, d0, th0), c(t1, d1, th1), dt);
          if (r === null) return;
          for (const x of [r.usage, r.delay, r.throttled, r.contention]) {
            expect(x).toBeGreaterThanOrEqual(0);
            expect(x).toBeLessThanOrEqual(1);
          }
          expect(r.usage + r.delay).toBeLessThanOrEqual(1 + 1e-12);
          expect(r.throttled).toBeLessThanOrEqual(r.delay);
        },
      ),
    );
  });
});

describe("computeRates", () => {
  const dom = (pid: number): DomainInfo => ({
    name: "vm",
    uuid: "u",
    id: 1,
    state: "running",
    vcpuCurrent: 1,
    vcpuMaximum: 1,
    pid,
    source: "libvirt",
  });
  const sample = (ns: bigint, pid: number, v: VcpuCounters): Sample => ({
    monotonicNs: ns,
    wallMs: 0,
    problems: [],
    domains: [{ domain: dom(pid), vcpus: [v] }],
  });

  it("matches vCPUs across samples", () => {
    const r = computeRates(sample(0n, 7, c(0n, 0n)), sample(2n * SEC, 7, c(SEC, SEC / 2n)));
    expect(r.intervalS).toBe(2);
    expect(r.domains[0]?.vcpus[0]).toMatchObject({ usage: 0.5, delay: 0.25 });
  });

  it("starts a new series when the VM restarted (new QEMU pid) or the thread changed", () => {
    const before = sample(0n, 7, c(100n * SEC, 50n * SEC));
    expect(computeRates(before, sample(SEC, 8, c(1n, 1n))).domains[0]?.vcpus).toEqual([]);
    expect(computeRates(before, sample(SEC, 7, c(1n, 1n, null, 101))).domains[0]?.vcpus).toEqual([]);
  });
});
