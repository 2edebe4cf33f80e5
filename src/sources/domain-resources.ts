import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DomainResources, VcpuThread } from "../model/types.js";
import { parseCfsQuotaV1, parseCpuMax, quotaCores } from "../procfs/cpuquota.js";
import type { CgroupMounts } from "../procfs/mountinfo.js";
import { cpuCgroupDir, readCgroupMounts } from "./cgroup-paths.js";

/**
 * Reads, at discovery, what a running VM was given that libvirt or QEMU already put where /proc
 * and cgroupfs show it: the CPU cap of its vCPUs (the CFS quota of each vCPU thread's cgroup) and
 * the CPUs its vCPU threads may run on. Works the same for libvirt and plain QEMU hosts. A file
 * that cannot be read makes that fact unknown (null), never an error.
 */
export class DomainResourceReader {
  private mounts: CgroupMounts | null | undefined;

  constructor(
    private readonly procRoot = "/proc",
    mounts?: CgroupMounts | null,
  ) {
    this.mounts = mounts;
  }

  /** The cpu cgroup directory of one thread as `version:dir`, or null. */
  private cgroupDir(pid: number, tid: number): string | null {
    if (this.mounts === undefined) this.mounts = readCgroupMounts(this.procRoot);
    const cg = this.mounts ? cpuCgroupDir(this.procRoot, this.mounts, pid, tid) : null;
    return cg ? `${cg.version}:${cg.dir}` : null;
  }

  /** A cgroup's cap in cores; null when uncapped; undefined when it cannot be read. */
  private capOf(dir: string): number | null | undefined {
    const version = dir[0];
    const path = dir.slice(2);
    try {
      if (version === "1") {
        const q = join(path, "cpu.cfs_quota_us");
        const p = join(path, "cpu.cfs_period_us");
        return quotaCores(parseCfsQuotaV1(readFileSync(q, "latin1"), readFileSync(p, "latin1"), q, p));
      }
      const f = join(path, "cpu.max");
      return quotaCores(parseCpuMax(readFileSync(f, "latin1"), f));
    } catch {
      return undefined;
    }
  }

  /**
   * The per-vCPU cap in cores: each vCPU's cgroup quota / period, shared among the domain's vCPU
   * threads in that cgroup (libvirt gives every vCPU its own; Proxmox puts all in the VM's). null
   * when any vCPU is uncapped or unknown; the largest when they differ.
   */
  vcpuCap(pid: number, vcpus: readonly VcpuThread[]): number | null {
    if (vcpus.length === 0) return null;
    const byDir = new Map<string, number>();
    for (const v of vcpus) {
      const dir = this.cgroupDir(pid, v.tid);
      if (dir === null) return null;
      byDir.set(dir, (byDir.get(dir) ?? 0) + 1);
    }
    let cap = 0;
    for (const [dir, n] of byDir) {
      const c = this.capOf(dir);
      if (c === null || c === undefined) return null;
      cap = Math.max(cap, c / n);
    }
    return cap;
  }

  /** Everything at once; memory comes from the source (libvirt's dominfo, QEMU's -m). */
  read(
    pid: number,
    vcpus: readonly VcpuThread[],
    memory: { current: number | null; maximum: number | null },
  ): DomainResources {
    return {
      memoryBytes: memory.current,
      maxMemoryBytes: memory.maximum,
      vcpuCapCores: this.vcpuCap(pid, vcpus),
      cpus: vcpuCpus(vcpus),
    };
  }
}

/** Union of the vCPU threads' affinities (sorted); null when none is known. */
export function vcpuCpus(vcpus: readonly VcpuThread[]): number[] | null {
  const set = new Set<number>();
  let known = false;
  for (const v of vcpus) {
    if (!v.affinity) continue;
    known = true;
    for (const c of v.affinity) set.add(c);
  }
  return known ? [...set].sort((a, b) => a - b) : null;
}
