import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixturePath } from "../../test/unit/procfs/fixture.js";
import { HostFactsError, readHostFacts } from "./host-facts.js";

/** A fake /proc and /sys: 8 online CPUs, the real meminfo fixture, cgroup v1 cpuset mounted in it. */
function tree(opts: { machineCpus?: string } = {}) {
  const root = mkdtempSync(join(tmpdir(), "vsteal-facts-"));
  const proc = join(root, "proc");
  const sys = join(root, "sys");
  const cpuset = join(root, "cpuset");
  mkdirSync(join(proc, "self"), { recursive: true });
  mkdirSync(join(sys, "devices", "system", "cpu"), { recursive: true });
  writeFileSync(join(sys, "devices", "system", "cpu", "online"), "0-7\n");
  copyFileSync(fixturePath("proc/meminfo"), join(proc, "meminfo"));
  writeFileSync(join(proc, "self", "mountinfo"), `34 31 0:31 / ${cpuset} rw,relatime - cgroup cgroup rw,cpuset\n`);
  if (opts.machineCpus !== undefined) {
    mkdirSync(join(cpuset, "machine"), { recursive: true });
    writeFileSync(join(cpuset, "machine", "cpuset.cpus"), `${opts.machineCpus}\n`);
  }
  return { procRoot: proc, sysRoot: sys };
}

const MEM_TOTAL = 24684092 * 1024;
const base = { hostName: "hv1", reservedCpus: 0, reservedMemoryMiB: 0 };

describe("readHostFacts", () => {
  it("takes --vm-cpus as given, capacity = its count minus --reserved-cpus, memory from /proc/meminfo", () => {
    const f = readHostFacts({ ...base, ...tree(), vmCpus: "2-5,7", reservedCpus: 1, reservedMemoryMiB: 1024 });
    expect(f).toMatchObject({
      hostName: "hv1",
      vmCpus: [2, 3, 4, 5, 7],
      vmCpusFrom: "flag",
      capacityCores: 4,
      onlineCpus: [0, 1, 2, 3, 4, 5, 6, 7],
    });
    expect(f.memTotalBytes).toBe(MEM_TOTAL);
    expect(f.memAvailableBytes).toBe(24092652 * 1024);
    expect(f.vmMemoryBytes).toBe(MEM_TOTAL - 1024 * 2 ** 20);
  });

  it("defaults to libvirt's machine cgroup cpuset, else the online CPUs", () => {
    expect(readHostFacts({ ...base, ...tree({ machineCpus: "1-3" }) })).toMatchObject({
      vmCpus: [1, 2, 3],
      vmCpusFrom: "machine-cgroup",
      capacityCores: 3,
    });
    expect(readHostFacts({ ...base, ...tree({ machineCpus: "" }) })).toMatchObject({
      vmCpus: [0, 1, 2, 3, 4, 5, 6, 7],
      vmCpusFrom: "online",
    });
    expect(readHostFacts({ ...base, ...tree() })).toMatchObject({ vmCpusFrom: "online", capacityCores: 8 });
  });

  it("without sysfs's online list, the CPUs Node sees are the online ones (not none: the agent still starts)", () => {
    const t = tree();
    rmSync(join(t.sysRoot, "devices", "system", "cpu", "online"));
    const all = cpus().map((_, i) => i);
    expect(readHostFacts({ ...base, ...t })).toMatchObject({ vmCpus: all, onlineCpus: all, vmCpusFrom: "online" });
  });

  it("refuses flags that cannot work, naming the flag", () => {
    const t = tree();
    const err = (o: Partial<Parameters<typeof readHostFacts>[0]>): string => {
      try {
        readHostFacts({ ...base, ...t, ...o });
      } catch (e) {
        expect(e).toBeInstanceOf(HostFactsError);
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    expect(err({ vmCpus: "2-3", reservedCpus: 2 })).toMatch(
      /^--reserved-cpus 2: not below the 2 CPUs VMs may use \(2-3, from --vm-cpus\)/,
    );
    expect(err({ reservedCpus: 8 })).toMatch(/^--reserved-cpus 8: not below the 8 CPUs/);
    expect(err({ vmCpus: "3", reservedCpus: 1 })).toMatch(
      /^--reserved-cpus 1: not below the 1 CPU VMs may use \(3, from --vm-cpus\)/,
    );
    expect(err({ vmCpus: "6-9" })).toMatch(/^--vm-cpus 6-9: CPUs 8-9 not online \(online: 0-7\)/);
    expect(err({ vmCpus: "two" })).toMatch(/^--vm-cpus: bad CPU list item "two".*give a CPU list like 2-31/);
    expect(err({ vmCpus: "" })).toMatch(/^--vm-cpus "": names no CPU/);
    expect(err({ reservedMemoryMiB: 10_000_000 })).toMatch(
      /^--reserved-memory 10000000: not below the host's 24105 MiB/,
    );
  });
});
