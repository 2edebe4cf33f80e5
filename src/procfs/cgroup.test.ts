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
import { cpuCgroupPath, parseCgroup } from "./cgroup.js";

const FILE = "/proc/4605/task/4611/cgroup";
const DOMAIN = "/machine/qemu-2-vsteal-procfs-fixture.libvirt-qemu";

describe("parseCgroup", () => {
  it("reads a vCPU thread of a real libvirt QEMU (hybrid v1 + v2 host)", () => {
    const entries = parseCgroup(fixtureText("proc/4605/task/4611/cgroup"), FILE);
    expect(entries).toHaveLength(10);
    expect(entries[0]).toEqual({ hierarchyId: 9, controllers: ["name=systemd"], path: "/", deleted: false });
    expect(entries[8]).toEqual({ hierarchyId: 1, controllers: ["cpu"], path: `${DOMAIN}/vcpu0`, deleted: false });
    expect(entries[9]).toEqual({ hierarchyId: 0, controllers: [], path: `${DOMAIN}/vcpu0`, deleted: false });
    expect(cpuCgroupPath(entries)).toEqual({ version: 1, path: `${DOMAIN}/vcpu0` });
  });

  it("puts each thread in its own libvirt cgroup", () => {
    const at = (tid: number): string | undefined =>
      cpuCgroupPath(parseCgroup(fixtureText(`proc/4605/task/${tid}/cgroup`), "cgroup"))?.path;
    expect(at(4612)).toBe(`${DOMAIN}/vcpu1`);
    expect(at(4605)).toBe(`${DOMAIN}/emulator`);
  });

  it("handles co-mounted controllers, pure v2, colons in paths and deleted v2 cgroups", () => {
    const cgroupV1 =
      "12:cpu,cpuacct:/machine.slice/machine-qemu\\x2d1\\x2dweb01.scope/libvirt/vcpu0\n11:cpuset:/x\n0::/init.scope\n";
    expect(cpuCgroupPath(parseCgroup(cgroupV1, FILE))).toEqual({
      version: 1,
      path: "/machine.slice/machine-qemu\\x2d1\\x2dweb01.scope/libvirt/vcpu0",
    });
    const v2 = parseCgroup("0::/machine.slice/machine-qemu\\x2d1\\x2dweb01.scope/libvirt/vcpu3\n", FILE);
    expect(cpuCgroupPath(v2)).toEqual({
      version: 2,
      path: "/machine.slice/machine-qemu\\x2d1\\x2dweb01.scope/libvirt/vcpu3",
    });
    expect(parseCgroup("0::/a:b:c\n", FILE)[0]?.path).toBe("/a:b:c");
    expect(parseCgroup("0::/gone (deleted)\n", FILE)[0]).toEqual({
      hierarchyId: 0,
      controllers: [],
      path: "/gone",
      deleted: true,
    });
    expect(parseCgroup("", FILE)).toEqual([]);
  });

  it("finds no cpu cgroup when neither a v1 cpu nor a v2 line is there", () => {
    expect(cpuCgroupPath(parseCgroup("3:cpuset:/a\n2:cpuacct:/b\n", FILE))).toBeNull();
    expect(cpuCgroupPath([])).toBeNull();
  });

  it.each([
    [
      "malformed line",
      "1:cpu:/machine\nthis is not a cgroup line\n",
      /^expected "id:controllers:path", got "this is not a cgroup line"$/,
    ],
    ["bad id", "x:cpu:/\n", /^hierarchy id: expected a non-negative integer, got "x"$/],
    ["relative path", "1:cpu:machine\n", /^cgroup path must start with "\/"/],
  ])("rejects a %s", (_what, text, reason) => {
    expect(expectParseError(() => parseCgroup(text, FILE), FILE).reason).toMatch(reason);
  });

  it("rejects the malformed fixture", () => {
    const file = fixturePath("proc/malformed/cgroup-garbage");
    expectParseError(() => parseCgroup(fixtureText("proc/malformed/cgroup-garbage"), file), file);
  });

  it("gives a value or a ProcParseError for any text (property)", () => {
    fc.assert(
      fc.property(fc.oneof(anyText, mutated(fixtureText("proc/4605/task/4611/cgroup"))), (text) => {
        valueOrParseError(() => cpuCgroupPath(parseCgroup(text, FILE)), FILE);
      }),
      { numRuns: 2000 },
    );
  });
});
