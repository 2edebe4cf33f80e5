import { describe, expect, it } from "vitest";
import { FIXTURES } from "../../test/unit/procfs/fixture.js";
import { DomainResourceReader, vcpuCpus } from "./domain-resources.js";

// The fixture QEMU (test/fixtures/proc/4605: vCPU threads 4611, 4612) in libvirt's per-vCPU cgroups
// (test/fixtures/cgroup/v1/machine/…/vcpuN, 20 % quota each), cgroup v1 cpu mounted at cgroup/v1.
const mounts = { v1Cpu: `${FIXTURES}cgroup/v1`, v2: null };
const reader = () => new DomainResourceReader(`${FIXTURES}proc`, mounts);

describe("DomainResourceReader", () => {
  it("reads the per-vCPU cap from libvirt's vCPU cgroups (real files)", () => {
    expect(
      reader().vcpuCap(4605, [
        { vcpu: 0, tid: 4611 },
        { vcpu: 1, tid: 4612 },
      ]),
    ).toBeCloseTo(0.2, 12);
  });

  it("shares a cgroup's quota among the vCPUs in it (Proxmox puts them all in the VM's)", () => {
    // Both threads of the fixture named as if in one cgroup: the same thread twice.
    expect(
      reader().vcpuCap(4605, [
        { vcpu: 0, tid: 4611 },
        { vcpu: 1, tid: 4611 },
      ]),
    ).toBeCloseTo(0.1, 12);
  });

  it("gives null when a vCPU's cgroup cannot be read, or there are no vCPUs", () => {
    expect(
      reader().vcpuCap(4605, [
        { vcpu: 0, tid: 4611 },
        { vcpu: 2, tid: 99999 },
      ]),
    ).toBeNull();
    expect(reader().vcpuCap(4605, [])).toBeNull();
    expect(new DomainResourceReader(`${FIXTURES}proc`, null).vcpuCap(4605, [{ vcpu: 0, tid: 4611 }])).toBeNull();
  });

  it("puts memory and the union of vCPU affinities together", () => {
    const r = reader().read(
      4605,
      [
        { vcpu: 0, tid: 4611, affinity: [1] },
        { vcpu: 1, tid: 4612, affinity: [3, 2] },
      ],
      { current: 1024, maximum: 2048 },
    );
    expect(r).toEqual({
      memoryBytes: 1024,
      maxMemoryBytes: 2048,
      vcpuCapCores: expect.closeTo(0.2, 12) as number,
      cpus: [1, 2, 3],
    });
    expect(vcpuCpus([{ vcpu: 0, tid: 1, affinity: null }])).toBeNull();
  });
});
