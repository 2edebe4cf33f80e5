import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixturePath } from "../../test/unit/procfs/fixture.js";
import { VcpuThreadFinder } from "./threads.js";

describe("VcpuThreadFinder", () => {
  it("finds the vCPU threads of the real fixture QEMU, with their affinity", () => {
    expect(new VcpuThreadFinder(fixturePath("proc")).find(4605)).toEqual([
      { vcpu: 0, tid: 4611, affinity: [0, 1] },
      { vcpu: 1, tid: 4612, affinity: [0, 1] },
    ]);
  });

  it("without affinity (domstats): the same threads, and no status file read", () => {
    const proc = mkdtempSync(join(tmpdir(), "vsteal-threads-"));
    cpSync(fixturePath("proc/4605"), join(proc, "4605"), { recursive: true });
    for (const tid of [4611, 4612]) writeFileSync(join(proc, "4605", "task", String(tid), "status"), "garbage\n");
    expect(new VcpuThreadFinder(proc, { affinity: false }).find(4605)).toEqual([
      { vcpu: 0, tid: 4611 },
      { vcpu: 1, tid: 4612 },
    ]);
  });

  it("reads again the name of a thread QEMU has not named yet (seen right at start), and finds it once named", () => {
    const proc = mkdtempSync(join(tmpdir(), "vsteal-threads-"));
    cpSync(fixturePath("proc/4605"), join(proc, "4605"), { recursive: true });
    const vcpu1 = join(proc, "4605", "task", "4612", "comm");
    writeFileSync(vcpu1, "qemu-system-x86\n"); // just created: still the process's name
    const finder = new VcpuThreadFinder(proc);
    expect(finder.find(4605).map((v) => v.vcpu)).toEqual([0]);
    writeFileSync(vcpu1, "CPU 1/KVM\n");
    expect(finder.find(4605).map((v) => v.vcpu)).toEqual([0, 1]);
    // Threads with names of their own that are not vCPUs are remembered and not read again.
    writeFileSync(join(proc, "4605", "task", "4610", "comm"), "CPU 7/KVM\n");
    expect(finder.find(4605).map((v) => v.vcpu)).toEqual([0, 1]);
  });

  it("sees a pinning changed while the VM runs at the next discovery", () => {
    const proc = mkdtempSync(join(tmpdir(), "vsteal-threads-"));
    cpSync(fixturePath("proc/4605"), join(proc, "4605"), { recursive: true });
    const finder = new VcpuThreadFinder(proc);
    expect(finder.find(4605)[0]!.affinity).toEqual([0, 1]);
    const status = join(proc, "4605", "task", "4611", "status");
    writeFileSync(status, readFileSync(status, "utf8").replace(/^Cpus_allowed_list:.*$/m, "Cpus_allowed_list:\t1"));
    expect(finder.find(4605)[0]!.affinity).toEqual([1]);
  });
});
