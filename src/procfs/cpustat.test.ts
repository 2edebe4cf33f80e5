import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  anyText,
  expectParseError,
  fixturePath,
  fixtureText,
  mutated,
  valueOrParseError,
} from "../../test/unit/procfs/fixture.js";
import { parseCpuStat } from "./cpustat.js";
import { U64_MAX } from "./u64.js";

const DOMAIN = "machine/qemu-2-vsteal-procfs-fixture.libvirt-qemu";

describe("parseCpuStat", () => {
  it("reads a throttled cgroup v1 group (real)", () => {
    expect(parseCpuStat(fixtureText("cgroup/v1/cpu.stat"), "cpu.stat")).toEqual({
      version: 1,
      nrPeriods: 31n,
      nrThrottled: 31n,
      throttledNs: 2439330977n,
      usageNs: null,
    });
  });

  it("reads libvirt's per-vCPU v1 groups (real, with nr_bursts and burst_time)", () => {
    expect(parseCpuStat(fixtureText(`cgroup/v1/${DOMAIN}/vcpu0/cpu.stat`), "cpu.stat")).toEqual({
      version: 1,
      nrPeriods: 152n,
      nrThrottled: 0n,
      throttledNs: 0n,
      usageNs: null,
    });
    expect(parseCpuStat(fixtureText(`cgroup/v1/${DOMAIN}/vcpu1/cpu.stat`), "cpu.stat").nrPeriods).toBe(2n);
  });

  it("reads cgroup v2 and turns µs into ns", () => {
    expect(parseCpuStat(fixtureText("cgroup/v2/cpu.stat"), "cpu.stat")).toEqual({
      version: 2,
      nrPeriods: 1208528n,
      nrThrottled: 1139766n,
      throttledNs: 90874193322000n,
      usageNs: 24170441813000n,
    });
  });

  it("says so when a v2 group has no cpu controller (real)", () => {
    for (const rel of [
      "cgroup/v2-no-cpu-controller/cpu.stat",
      `cgroup/v2-no-cpu-controller/${DOMAIN}/vcpu0/cpu.stat`,
    ]) {
      const file = fixturePath(rel);
      expect(expectParseError(() => parseCpuStat(fixtureText(rel), file), file).reason).toBe(
        "no throttled_usec: the cpu controller is not enabled for this cgroup v2 group",
      );
    }
  });

  it.each([
    ["", /^no throttled_time or throttled_usec/],
    ["nr_periods 1\nnr_throttled 1\n", /^no throttled_time or throttled_usec/],
    ["nr_throttled 1\nthrottled_time 5\n", /^no nr_periods line$/],
    ["nr_periods 1\nthrottled_usec 5\n", /^no nr_throttled line$/],
    ["nr_periods 1\nnr_throttled 1\nthrottled_time 5\nthrottled_usec 5\n", /both throttled_time/],
    [
      "nr_periods 1\nnr_throttled 1\nthrottled_time -5\n",
      /^throttled_time: expected an unsigned decimal number, got "-5"$/,
    ],
    ["nr_periods 1\nnr_throttled 1\nthrottled_time 18446744073709551616\n", /is larger than 2\^64-1$/],
    ["nr_periods\nnr_throttled 1\nthrottled_time 5\n", /^expected "key value", got "nr_periods"$/],
  ])("rejects %j", (text, reason) => {
    expect(expectParseError(() => parseCpuStat(text, "cpu.stat"), "cpu.stat").reason).toMatch(reason);
  });

  it("rejects the malformed fixture", () => {
    const file = fixturePath("proc/malformed/cpu.stat-garbage");
    expect(
      expectParseError(() => parseCpuStat(fixtureText("proc/malformed/cpu.stat-garbage"), file), file).reason,
    ).toBe('nr_throttled: expected an unsigned decimal number, got "ten"');
  });

  it("ignores unknown keys, even odd ones", () => {
    const s = parseCpuStat("nr_periods 1\nnr_throttled 1\nthrottled_time 5\nsomething_new -1 x\n", "cpu.stat");
    expect(s.throttledNs).toBe(5n);
  });

  it("keeps counters exact up to 2^64-1 (property)", () => {
    const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
    fc.assert(
      fc.property(u64, u64, u64, u64, (periods, throttled, time, usage) => {
        const v1 = parseCpuStat(
          `nr_periods ${periods}\nnr_throttled ${throttled}\nthrottled_time ${time}\n`,
          "cpu.stat",
        );
        expect(v1).toEqual({
          version: 1,
          nrPeriods: periods,
          nrThrottled: throttled,
          throttledNs: time,
          usageNs: null,
        });
        const v2 = parseCpuStat(
          `usage_usec ${usage}\nnr_periods ${periods}\nnr_throttled ${throttled}\nthrottled_usec ${time}\n`,
          "cpu.stat",
        );
        expect(v2).toEqual({
          version: 2,
          nrPeriods: periods,
          nrThrottled: throttled,
          throttledNs: time * 1000n,
          usageNs: usage * 1000n,
        });
      }),
    );
  });

  it("gives a value or a ProcParseError for any text (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(anyText, mutated(fixtureText("cgroup/v2/cpu.stat")), mutated(fixtureText("cgroup/v1/cpu.stat"))),
        (text) => {
          valueOrParseError(() => parseCpuStat(text, "cpu.stat"), "cpu.stat");
        },
      ),
      { numRuns: 2000 },
    );
  });
});
