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
import { parseStat } from "./stat.js";
import { U64_MAX } from "./u64.js";

const FILE = "/proc/4605/task/4611/stat";

describe("parseStat", () => {
  it("reads a vCPU thread of a real libvirt QEMU", () => {
    expect(parseStat(fixtureText("proc/4605/task/4611/stat"), FILE)).toEqual({
      pid: 4611,
      comm: "CPU 0/KVM",
      state: "S",
      utimeTicks: 1n,
      stimeTicks: 283n,
      processor: 1,
    });
  });

  it.each([
    [4605, "qemu-system-x86", 2n, 6n, 1],
    [4610, "IO mon_iothread", 8n, 12n, 1],
    [4612, "CPU 1/KVM", 0n, 0n, 1],
    [4614, "vnc_worker", 0n, 0n, 0],
    [4615, "kvm-nx-lpage-re", 0n, 0n, 0],
  ])("reads thread %i (%s)", (tid, comm, utime, stime, processor) => {
    const s = parseStat(fixtureText(`proc/4605/task/${tid}/stat`), "stat");
    expect(s).toEqual({ pid: tid, comm, state: "S", utimeTicks: utime, stimeTicks: stime, processor });
  });

  it("reads the process-level stat", () => {
    const s = parseStat(fixtureText("proc/4605/stat"), "stat");
    expect([s.pid, s.utimeTicks, s.stimeTicks]).toEqual([4605, 12n, 302n]);
  });

  it("splits at the LAST ')' when the comm holds parentheses and spaces", () => {
    const text = fixtureText("proc/5163/stat");
    expect(text.startsWith("5163 (a) b (c) S 1) S 5162 ")).toBe(true);
    expect(parseStat(text, "stat")).toEqual({
      pid: 5163,
      comm: "a) b (c) S 1",
      state: "S",
      utimeTicks: 0n,
      stimeTicks: 0n,
      processor: 0,
    });
  });

  it("rejects a truncated file", () => {
    const file = fixturePath("proc/malformed/stat-truncated");
    expect(expectParseError(() => parseStat(fixtureText("proc/malformed/stat-truncated"), file), file).reason).toMatch(
      /^expected at least 39 fields, got 15 in "4611 \(CPU 0\/KVM\) S 1 /,
    );
  });

  it.each([
    ["", /expected "pid \(comm\) state/],
    ["4611 CPU 0/KVM S 1", /expected "pid \(comm\) state/],
    ["-1 (x) S" + " 0".repeat(40), /pid: expected a non-negative integer/],
    ["1 (x)S" + " 0".repeat(40), /expected a space after the comm/],
    ["1 (x) SS" + " 0".repeat(40), /field 3 \(state\): expected one letter/],
  ])("rejects %j", (text, reason) => {
    expect(expectParseError(() => parseStat(text, FILE), FILE).reason).toMatch(reason);
  });

  const line = (pid: number, comm: string, utime: bigint, stime: bigint, cpu: number): string => {
    const f = Array.from({ length: 50 }, (_, i) => String(i + 3));
    f[0] = "R";
    f[14 - 3] = utime.toString();
    f[15 - 3] = stime.toString();
    f[39 - 3] = String(cpu);
    f[18 - 3] = "-2"; // priority can be negative; not ours to check
    return `${pid} (${comm}) ${f.join(" ")}\n`;
  };

  it("round-trips any comm, pid, times and CPU (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4194304 }),
        fc.string({ unit: "binary", maxLength: 64 }),
        fc.bigInt({ min: 0n, max: U64_MAX }),
        fc.bigInt({ min: 0n, max: U64_MAX }),
        fc.nat(8191),
        (pid, comm, utime, stime, cpu) => {
          expect(parseStat(line(pid, comm, utime, stime, cpu), FILE)).toEqual({
            pid,
            comm,
            state: "R",
            utimeTicks: utime,
            stimeTicks: stime,
            processor: cpu,
          });
        },
      ),
    );
  });

  it("gives a value or a ProcParseError for any text (property)", () => {
    fc.assert(
      fc.property(fc.oneof(anyText, mutated(fixtureText("proc/4605/task/4611/stat"))), (text) => {
        valueOrParseError(() => parseStat(text, FILE), FILE);
      }),
      { numRuns: 2000 },
    );
  });
});
