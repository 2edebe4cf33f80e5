import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyText, fixtureText, fixtureTids } from "../../test/unit/procfs/fixture.js";
import { parseComm, vcpuIndexFromComm } from "./comm.js";

describe("parseComm", () => {
  it("drops the trailing newline, keeps everything else", () => {
    expect(parseComm(fixtureText("proc/4605/task/4611/comm"), "comm")).toBe("CPU 0/KVM");
    expect(parseComm(fixtureText("proc/5163/comm"), "comm")).toBe("a) b (c) S 1");
    expect(parseComm("\n", "comm")).toBe("");
    expect(parseComm("x", "comm")).toBe("x");
    expect(parseComm("a\nb\n", "comm")).toBe("a\nb");
  });

  it("never throws (property)", () => {
    fc.assert(fc.property(anyText, (text) => void parseComm(text, "comm")));
  });
});

describe("vcpuIndexFromComm", () => {
  it("finds the vCPU threads of a real libvirt QEMU", () => {
    const found = fixtureTids(4605).map((tid) => [
      tid,
      vcpuIndexFromComm(parseComm(fixtureText(`proc/4605/task/${tid}/comm`), "comm")),
    ]);
    expect(found).toEqual([
      [4605, null],
      [4609, null],
      [4610, null],
      [4611, 0],
      [4612, 1],
      [4614, null],
      [4615, null],
    ]);
  });

  it.each([
    ["CPU 0/KVM", 0],
    ["CPU 7/KVM", 7],
    ["CPU 123/KVM", 123],
    ["CPU 1234567/KVM", 1234567], // 15 bytes: the most the kernel keeps
    ["CPU 3/TCG", 3],
    ["CPU 3/KVM\n", 3], // straight from the file
  ])("%j is vCPU %i", (comm, n) => {
    expect(vcpuIndexFromComm(comm)).toBe(n);
  });

  it.each([
    "qemu-system-x86",
    "IO mon_iothread",
    "ALL CPUs/TCG",
    "CPU 12345678/KV", // cut to 15 bytes by the kernel
    "CPU /KVM",
    "CPU -1/KVM",
    "CPU 01/KVM",
    "CPU 1/kvm",
    "CPU 1/KVM ",
    " CPU 1/KVM",
    "CPU 1/HVF",
    "CPU 1/KVMx",
    "CPU 99999999999/KVM",
    "CPU １/KVM",
    "",
  ])("%j is not a vCPU", (comm) => {
    expect(vcpuIndexFromComm(comm)).toBeNull();
  });

  it("round-trips any vCPU number and never throws (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.constantFrom("KVM", "TCG"),
        (n, acc) => vcpuIndexFromComm(`CPU ${n}/${acc}`) === n,
      ),
    );
    fc.assert(
      fc.property(anyText, (text) => {
        const n = vcpuIndexFromComm(text);
        return n === null || (Number.isSafeInteger(n) && n >= 0 && text.startsWith(`CPU ${n}/`));
      }),
    );
  });
});
