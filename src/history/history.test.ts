import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeSample, wave, type DomainSpec } from "../../test/fixtures/history/samples.js";
import { History } from "./history.js";
import { Q_SCALE, dequantize, quantize } from "./quantize.js";
import type { HistoryProblem } from "./types.js";

const STEP = 1 / Q_SCALE;
const T0 = Date.UTC(2025, 0, 6, 12, 0, 0); // a multiple of 10 minutes
const one: DomainSpec[] = [{ name: "vm1", vcpus: 1 }];

/** A History in memory whose clock is the last recorded sample. */
function mem(
  intervalS = 5,
  extra: { maxSeries?: number } = {},
): { h: History; clock: { t: number }; problems: HistoryProblem[] } {
  const clock = { t: T0 };
  const problems: HistoryProblem[] = [];
  const h = new History({ intervalS, now: () => clock.t, onError: (p) => problems.push(p), ...extra });
  return { h, clock, problems };
}

describe("History in memory", () => {
  it("returns what was recorded within one quantisation step", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.double({ min: 0, max: 1, noNaN: true }),
            fc.double({ min: 0, max: 1, noNaN: true }),
            fc.double({ min: 0, max: 1, noNaN: true }),
          ),
          { minLength: 1, maxLength: 40 },
        ),
        (vals) => {
          const { h, clock } = mem();
          vals.forEach(([u, d, t], i) => {
            clock.t = T0 + i * 5000;
            h.record(makeSample(clock.t, one, () => ({ usage: u, delay: d, throttled: Math.min(t, d) })));
          });
          const [s] = h.query({ fromMs: T0, toMs: clock.t });
          expect(s?.tier).toBe("raw");
          expect(s?.points.length).toBe(vals.length);
          s?.points.forEach((p, i) => {
            const [u, d, t] = vals[i] as [number, number, number];
            expect(p.t).toBe(T0 + i * 5000);
            expect(Math.abs(p.usage - u)).toBeLessThanOrEqual(STEP);
            expect(Math.abs(p.delay - d)).toBeLessThanOrEqual(STEP);
            expect(Math.abs(p.throttled - Math.min(t, d))).toBeLessThanOrEqual(STEP);
            expect(Math.abs(p.contention - (d - Math.min(t, d)))).toBeLessThanOrEqual(2 * STEP);
            expect(p.contention).toBeGreaterThanOrEqual(0);
          });
        },
      ),
      { numRuns: 50 },
    );
  });

  it("filters by domain, uuid and vCPU and sorts the series", () => {
    const { h } = mem();
    const doms: DomainSpec[] = [
      { name: "web", vcpus: 2 },
      { name: "db", vcpus: 3 },
    ];
    h.record(makeSample(T0, doms, (d, v) => ({ usage: 0.1 * (v + 1), delay: 0.01 * (d + 1), throttled: 0 })));
    const all = h.query({ fromMs: T0, toMs: T0 });
    expect(all.map((s) => `${s.domain}/${s.vcpu}`)).toEqual(["db/0", "db/1", "db/2", "web/0", "web/1"]);
    expect(h.query({ domain: "db", vcpu: 2, fromMs: T0, toMs: T0 }).map((s) => s.points[0]?.usage)).toEqual([
      dequantize(quantize(0.3)),
    ]);
    expect(h.query({ uuid: "00000000-0000-4000-8000-000000000000", fromMs: T0, toMs: T0 }).length).toBe(2);
    expect(h.query({ domain: "nope", fromMs: T0, toMs: T0 })).toEqual([]);
    expect(h.domainsSeen()).toEqual([
      { domain: "db", uuid: "00000000-0000-4000-8000-000000000001", vcpus: [0, 1, 2], lastSeenMs: T0 },
      { domain: "web", uuid: "00000000-0000-4000-8000-000000000000", vcpus: [0, 1], lastSeenMs: T0 },
    ]);
  });

  it("keeps exactly the last hour at sampling resolution once the ring wraps", () => {
    const { h, clock } = mem(5);
    const n = 800; // > 720 = ceil(3600 / 5)
    for (let i = 0; i < n; i++) {
      clock.t = T0 + i * 5000;
      h.record(makeSample(clock.t, one, () => wave(i, 0, 0)));
    }
    const [s] = h.query({ fromMs: T0, toMs: clock.t, tier: "raw" });
    expect(s?.points.length).toBe(720);
    expect(s?.points[0]?.t).toBe(T0 + 80 * 5000);
    expect(s?.points[719]?.t).toBe(T0 + 799 * 5000);
    s?.points.forEach((p, k) => expect(Math.abs(p.delay - wave(80 + k, 0, 0).delay)).toBeLessThanOrEqual(STEP));
    // the last hour is served from the raw tier automatically
    expect(h.query({ fromMs: clock.t - 3_000_000, toMs: clock.t })[0]?.tier).toBe("raw");
  });

  it("downsamples into 10-minute means with the highest delay kept", () => {
    const { h, clock } = mem(5);
    // two full buckets (120 samples each) plus 10 samples of a third one
    const delays: number[] = [];
    for (let i = 0; i < 250; i++) {
      clock.t = T0 + i * 5000;
      const v = wave(i, 0, 0);
      delays.push(v.delay);
      h.record(makeSample(clock.t, one, () => v));
    }
    const [s] = h.query({ fromMs: T0, toMs: clock.t, tier: "10m" });
    expect(s?.stepS).toBe(600);
    expect(s?.points.map((p) => p.t)).toEqual([T0, T0 + 600_000, T0 + 1_200_000]);
    const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
    const chunks = [delays.slice(0, 120), delays.slice(120, 240), delays.slice(240)];
    chunks.forEach((c, k) => {
      const p = s?.points[k];
      expect(Math.abs((p?.delay ?? -1) - mean(c))).toBeLessThanOrEqual(STEP);
      expect(Math.abs((p?.delayMax ?? -1) - Math.max(...c))).toBeLessThanOrEqual(STEP);
    });
    const usages = Array.from({ length: 120 }, (_, i) => wave(i, 0, 0).usage);
    expect(Math.abs((s?.points[0]?.usage ?? -1) - mean(usages))).toBeLessThanOrEqual(STEP);
  });

  it("answers a range beyond the last hour from the 10-minute tier, 7 days deep", () => {
    const { h, clock } = mem(60); // 60 s samples keep the test fast; the tiers are the same
    const days = 8;
    const n = (days * 86400) / 60;
    for (let i = 0; i < n; i++) {
      clock.t = T0 + i * 60_000;
      h.record(makeSample(clock.t, one, () => ({ usage: 0.5, delay: (i % 5) / 10, throttled: 0 })));
    }
    // three hours back: 10-minute tier. The last sample (minute 11519) closes no bucket, so
    // the newest point is the open bucket [11510, 11520); the range starts inside the bucket
    // [11330, 11340), which overlaps it and counts: 19 points.
    const r = h.query({ fromMs: clock.t - 3 * 3600_000 + 1, toMs: clock.t });
    expect(r[0]?.tier).toBe("10m");
    expect(r[0]?.points.length).toBe(19);
    expect(r[0]?.points[18]?.t).toBe(T0 + 11510 * 60_000);
    // each bucket holds i % 5 = 0..4 twice: mean delay 0.2, max 0.4
    for (const p of r[0]?.points ?? []) {
      expect(Math.abs(p.delay - 0.2)).toBeLessThanOrEqual(STEP);
      expect(Math.abs(p.delayMax - 0.4)).toBeLessThanOrEqual(STEP);
    }
    // all of it: 1008 stored buckets (7 days) + the open one
    const all = h.query({ fromMs: 0, toMs: clock.t })[0]?.points ?? [];
    expect(all.length).toBe(1009);
    expect(clock.t - (all[0]?.t ?? 0)).toBeLessThanOrEqual(7 * 86400_000 + 600_000);
    // re-bucketing to one hour: means of 6 buckets
    const hourly = h.query({ fromMs: clock.t - 6 * 3600_000, toMs: clock.t, stepS: 3600 })[0];
    expect(hourly?.stepS).toBe(3600);
    expect(hourly?.points.every((p) => p.t % 3_600_000 === 0)).toBe(true);
    expect(Math.abs((hourly?.points[1]?.delay ?? -1) - 0.2)).toBeLessThanOrEqual(STEP);
  });

  it("re-buckets raw points to a coarser step", () => {
    const { h, clock } = mem(5);
    for (let i = 0; i < 24; i++) {
      clock.t = T0 + i * 5000;
      h.record(
        makeSample(clock.t, one, () => ({ usage: i < 12 ? 0.2 : 0.6, delay: i < 12 ? 0.1 : 0.3, throttled: 0.05 })),
      );
    }
    const [s] = h.query({ fromMs: T0, toMs: clock.t, stepS: 60 });
    expect(s?.points.map((p) => p.t)).toEqual([T0, T0 + 60_000]);
    expect(Math.abs((s?.points[1]?.delay ?? 0) - 0.3)).toBeLessThanOrEqual(STEP);
    expect(Math.abs((s?.points[1]?.contention ?? 0) - 0.25)).toBeLessThanOrEqual(2 * STEP);
    // a step not coarser than the tier changes nothing
    expect(h.query({ fromMs: T0, toMs: clock.t, stepS: 5 })[0]?.points.length).toBe(24);
  });

  it("sums a domain's vCPUs for the heatmap", () => {
    const { h, clock } = mem(5);
    const doms: DomainSpec[] = [
      { name: "a", vcpus: 4 },
      { name: "b", vcpus: 1 },
    ];
    for (let i = 0; i < 3; i++) {
      clock.t = T0 + i * 5000;
      h.record(makeSample(clock.t, doms, (_d, v) => ({ usage: 0.5, delay: 0.1 * (v + 1), throttled: 0 })));
    }
    const r = h.queryDomain({ fromMs: T0, toMs: clock.t });
    expect(r.map((d) => [d.domain, d.vcpus])).toEqual([
      ["a", [0, 1, 2, 3]],
      ["b", [0]],
    ]);
    const p = r[0]?.points[2];
    expect(p?.vcpus).toBe(4);
    expect(Math.abs((p?.delay ?? 0) - 1.0)).toBeLessThanOrEqual(4 * STEP);
    expect(Math.abs((p?.usage ?? 0) - 2.0)).toBeLessThanOrEqual(4 * STEP);
    expect(Math.abs((p?.delayMax ?? 0) - 0.4)).toBeLessThanOrEqual(STEP);
  });

  it("refuses samples that go back in time, and rates that are not numbers", () => {
    const { h, problems } = mem(5);
    h.record(makeSample(T0, one, () => ({ usage: 0.1, delay: 0.1, throttled: 0 })));
    h.record(makeSample(T0, one, () => ({ usage: 0.9, delay: 0.9, throttled: 0 })));
    h.record(makeSample(T0 - 5000, one, () => ({ usage: 0.9, delay: 0.9, throttled: 0 })));
    h.record(makeSample(T0 + 5000, one, () => ({ usage: Number.NaN, delay: 0.5, throttled: 0 })));
    const pts = h.query({ fromMs: T0 - 10_000, toMs: T0 + 10_000 })[0]?.points ?? [];
    expect(pts.map((p) => p.t)).toEqual([T0]);
    expect(pts[0]?.delay).toBe(dequantize(quantize(0.1)));
    // said once per run of refused samples
    expect(problems.filter((p) => p.op === "record").length).toBe(1);
    h.record(makeSample(T0, one, () => ({ usage: 0.9, delay: 0.9, throttled: 0 })));
    expect(problems.filter((p) => p.op === "record").length).toBe(2);
  });

  it("drops series not written for 7 days", () => {
    // One sample per 10-minute bucket: a series is dropped when the bucket that closes
    // 7 days after its last write is closed.
    const { h, clock } = mem(600);
    const both: DomainSpec[] = [
      { name: "gone", vcpus: 1 },
      { name: "stays", vcpus: 1 },
    ];
    h.record(makeSample(T0, both, () => ({ usage: 0.1, delay: 0.1, throttled: 0 })));
    const stays: DomainSpec[] = [{ name: "stays", uuid: "00000000-0000-4000-8000-000000000001", vcpus: 1 }];
    let i = 1;
    for (; T0 + i * 600_000 <= T0 + 7 * 86400_000; i++) {
      clock.t = T0 + i * 600_000;
      h.record(makeSample(clock.t, stays, () => ({ usage: 0.1, delay: 0.1, throttled: 0 })));
    }
    expect(h.domainsSeen().map((d) => d.domain)).toEqual(["gone", "stays"]);
    clock.t = T0 + i * 600_000;
    h.record(makeSample(clock.t, stays, () => ({ usage: 0.1, delay: 0.1, throttled: 0 })));
    expect(h.domainsSeen().map((d) => d.domain)).toEqual(["stays"]);
  });

  it("holds at most maxSeries, replacing the one written longest ago", () => {
    const { h, problems } = mem(5, { maxSeries: 3 });
    h.record(makeSample(T0, [{ name: "old", vcpus: 2 }], () => ({ usage: 0, delay: 0, throttled: 0 })));
    h.record(makeSample(T0 + 5000, [{ name: "mid", vcpus: 1 }], () => ({ usage: 0, delay: 0, throttled: 0 })));
    h.record(makeSample(T0 + 10_000, [{ name: "new", vcpus: 2 }], () => ({ usage: 0, delay: 0, throttled: 0 })));
    expect(h.stats().series).toBe(3);
    expect(h.domainsSeen().map((d) => `${d.domain}:${d.vcpus.join(",")}`)).toEqual(["mid:0", "new:0,1"]);
    // four vCPUs in one sample with room for three: one is refused, and that is said once
    h.record(makeSample(T0 + 15_000, [{ name: "big", vcpus: 4 }], () => ({ usage: 0, delay: 0, throttled: 0 })));
    h.record(makeSample(T0 + 20_000, [{ name: "big", vcpus: 4 }], () => ({ usage: 0, delay: 0, throttled: 0 })));
    expect(h.stats().series).toBe(3);
    expect(problems.filter((p) => p.message.includes("maxSeries")).length).toBe(1);
  });

  it("keeps a restarted VM's series (same name and uuid) and tells a re-created one apart", () => {
    const { h } = mem(5);
    h.record(makeSample(T0, [{ name: "vm", uuid: "u1", vcpus: 1 }], () => ({ usage: 0.1, delay: 0.1, throttled: 0 })));
    h.record(
      makeSample(T0 + 5000, [{ name: "vm", uuid: "u1", vcpus: 1 }], () => ({ usage: 0.2, delay: 0.2, throttled: 0 })),
    );
    h.record(
      makeSample(T0 + 10_000, [{ name: "vm", uuid: "u2", vcpus: 1 }], () => ({ usage: 0.3, delay: 0.3, throttled: 0 })),
    );
    const r = h.query({ domain: "vm", fromMs: T0, toMs: T0 + 10_000 });
    expect(r.map((s) => [s.uuid, s.points.length])).toEqual([
      ["u1", 2],
      ["u2", 1],
    ]);
  });
});
