import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  anyText,
  expectParseError,
  fixturePath,
  fixtureText,
  fixtureTids,
  mutated,
  valueOrParseError,
} from "../../test/unit/procfs/fixture.js";
import { parseSched } from "./sched.js";
import { U64_MAX } from "./u64.js";

const FILE = "/proc/4605/task/4611/sched";
const DASHES = "-".repeat(67);
const sched = (lines: string): string => `CPU 0/KVM (4611, #threads: 7)\n${DASHES}\n${lines}`;

describe("parseSched", () => {
  it("gives null on a real kernel without schedstats (no wait_sum line)", () => {
    for (const tid of fixtureTids(4605)) {
      expect(parseSched(fixtureText(`proc/4605/task/${tid}/sched`), "sched")).toEqual({ waitSumNs: null });
    }
    expect(parseSched(fixtureText("proc/5163/sched"), "sched")).toEqual({ waitSumNs: null });
  });

  it("reads wait_sum (Linux ≥ 5.19) exactly", () => {
    expect(parseSched(fixtureText("proc/synthetic/sched-wait_sum"), "sched")).toEqual({ waitSumNs: 15900302n });
  });

  it("reads se.statistics.wait_sum (older kernels) exactly", () => {
    expect(parseSched(fixtureText("proc/synthetic/sched-se.statistics.wait_sum"), "sched")).toEqual({
      waitSumNs: 86512407315n,
    });
  });

  it("keeps 2^64-1 ns exact", () => {
    expect(parseSched(fixtureText("proc/synthetic/sched-huge-wait_sum"), "sched")).toEqual({ waitSumNs: U64_MAX });
  });

  it.each([
    ["wait_sum : 12345.678901", 12345678901n],
    ["wait_sum                                     :             0.000000", 0n],
    ["se.wait_sum                        :          1.5", 1500000n], // 2.6 kernels; short fraction padded
    ["wait_sum : 7", 7000000n],
    ["wait_sum : 0.123456789", 123456n], // sub-ns digits dropped
    ["wait_sum : 000012.000001", 12000001n],
  ])("%j is %i ns", (line, ns) => {
    expect(parseSched(sched(`${line}\n`), FILE).waitSumNs).toBe(ns);
  });

  it.each([
    ["wait_sum : -0.000001", /^wait_sum: expected milliseconds like "12345.678901", got "-0.000001"$/],
    ["wait_sum : 1.2.3", /^wait_sum: expected milliseconds/],
    ["wait_sum : ", /^wait_sum: expected milliseconds/],
    ["wait_sum : 18446744073709.551616", /^wait_sum: "18446744073709551616" is larger than 2\^64-1$/],
  ])("rejects %j", (line, reason) => {
    expect(expectParseError(() => parseSched(sched(`${line}\n`), FILE), FILE).reason).toMatch(reason);
  });

  it("does not let a thread name fake a wait_sum line", () => {
    // comm is 15 bytes at most and may hold newlines; the header comes before the dashes.
    const text = `\nwait_sum:9.0\n (4611, #threads: 7)\n${DASHES}\nwait_sum : 1.000000\n`;
    expect(parseSched(text, FILE).waitSumNs).toBe(1000000n);
    const noStats = `\nwait_sum:9.0\n (4611, #threads: 7)\n${DASHES}\nse.sum_exec_runtime : 1.000000\n`;
    expect(parseSched(noStats, FILE).waitSumNs).toBeNull();
  });

  it("rejects text without the dashed line", () => {
    const file = fixturePath("proc/malformed/sched-no-separator");
    expectParseError(() => parseSched(fixtureText("proc/malformed/sched-no-separator"), file), file);
    expectParseError(() => parseSched("", FILE), FILE);
  });

  it("converts any ns value printed as the kernel does (property)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: U64_MAX }),
        fc.constantFrom("wait_sum", "se.statistics.wait_sum"),
        (ns, key) => {
          // "%-45s:%14Ld.%06ld"
          const ms = (ns / 1000000n).toString().padStart(14, " ");
          const frac = (ns % 1000000n).toString().padStart(6, "0");
          expect(parseSched(sched(`${key.padEnd(45, " ")}:${ms}.${frac}\n`), FILE).waitSumNs).toBe(ns);
        },
      ),
    );
  });

  it("gives a value or a ProcParseError for any text (property)", () => {
    fc.assert(
      fc.property(fc.oneof(anyText, mutated(fixtureText("proc/synthetic/sched-wait_sum"))), (text) => {
        valueOrParseError(() => parseSched(text, FILE), FILE);
      }),
      { numRuns: 1000 },
    );
  });
});
