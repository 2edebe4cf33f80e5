import { describe, expect, it, vi } from "vitest";
import type { Sample } from "../model/types.js";
import { fileURLToPath } from "node:url";
import { sampleRates } from "../index.js";
import { cadence, sampleLoop, type LoopTick } from "./loop.js";

const PROC = fileURLToPath(new URL("../../test/fixtures/proc", import.meta.url));

/** A sampler whose samples are 1 s apart by the monotonic clock; `fail` lists the calls that throw. */
function fakeSampler(fail: number[] = []) {
  let calls = 0;
  return {
    calls: () => calls,
    async sample(): Promise<Sample> {
      const n = calls++;
      if (fail.includes(n)) throw new Error(`sample ${n} failed`);
      return { monotonicNs: BigInt(n) * 1_000_000_000n, wallMs: 1_000 * n, domains: [], problems: [] };
    },
  };
}

const describeTick = (t: LoopTick): string =>
  t.ok ? `sample ${t.sample.wallMs / 1000}${t.rates ? ` rates over ${t.rates.intervalS} s` : ""}` : String(t.error);

describe("the sampling loop", () => {
  it("yields the first sample, then rates between successive samples, `count` times", async () => {
    const s = fakeSampler();
    const ticks: string[] = [];
    for await (const t of sampleLoop(s, { intervalMs: 1, count: 3 })) ticks.push(describeTick(t));
    expect(ticks).toEqual([
      "sample 0",
      "sample 1 rates over 1 s",
      "sample 2 rates over 1 s",
      "sample 3 rates over 1 s",
    ]);
    expect(s.calls()).toBe(4);
  });

  it("a failure after the first sample is a tick, and the next rates span the gap; the first failure throws", async () => {
    const ticks: string[] = [];
    for await (const t of sampleLoop(fakeSampler([2]), { intervalMs: 1, count: 2 })) ticks.push(describeTick(t));
    expect(ticks).toEqual(["sample 0", "sample 1 rates over 1 s", "Error: sample 2 failed", "sample 3 rates over 2 s"]);
    await expect(sampleLoop(fakeSampler([0]), { intervalMs: 1 }).next()).rejects.toThrow("sample 0 failed");
  });

  it("ends when its signal aborts, also while it waits", async () => {
    const stop = new AbortController();
    const s = fakeSampler();
    const ticks: string[] = [];
    for await (const t of sampleLoop(s, { intervalMs: 60_000, firstDelayMs: 1, signal: stop.signal })) {
      ticks.push(describeTick(t));
      if (t.ok && t.rates) setTimeout(() => stop.abort(), 5);
    }
    expect(ticks).toEqual(["sample 0", "sample 1 rates over 1 s"]);
    expect(s.calls()).toBe(2);
  });

  it("keeps a fixed cadence: a slow consumer does not push the beats later, and never gets a burst", async () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const beats: number[] = [];
      const consumer = (async () => {
        for await (const _ of cadence({ intervalMs: 40, firstDelayMs: 0 })) {
          beats.push(Date.now());
          // Slower than usual once (within the interval), then 130 ms behind (a suspended host).
          if (beats.length === 2) await new Promise((r) => setTimeout(r, 30));
          if (beats.length === 3) await new Promise((r) => setTimeout(r, 130));
          if (beats.length === 5) break;
        }
      })();
      await vi.advanceTimersByTimeAsync(1000);
      await consumer;
      // Planned at 0, 40, 80; back at 210, past the beats of 120, 160 and 200: the next is 250.
      expect(beats).toEqual([0, 40, 80, 250, 290]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("is the library's sampleRates: `count` rate samples of the fixture's two vCPUs, then the end", async () => {
    const out = [];
    for await (const r of sampleRates({ source: "qemu", procRoot: PROC, intervalMs: 1, count: 2 })) out.push(r);
    expect(out).toHaveLength(2);
    // The fixture's counters do not move: every rate is 0.
    expect(out.map((r) => r.domains.map((d) => [d.domain.name, d.vcpus.map((v) => [v.usage, v.delay])]))).toEqual([
      [
        [
          "vsteal-procfs-fixture",
          [
            [0, 0],
            [0, 0],
          ],
        ],
      ],
      [
        [
          "vsteal-procfs-fixture",
          [
            [0, 0],
            [0, 0],
          ],
        ],
      ],
    ]);
  });
});
