import { onlineCpus } from "./host-info.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatCpuList, parseCpuList } from "../procfs/cpulist.js";
import { parseMeminfo } from "../procfs/meminfo.js";
import type { CgroupMounts } from "../procfs/mountinfo.js";
import { readCgroupMounts } from "../sources/cgroup-paths.js";

/**
 * What the host offers VMs, read at start and at every discovery (never per sweep): the CPUs VMs
 * may use, memory, and the host's name. This is what a fleet planner needs instead of a
 * hand-written hosts file.
 */
export interface HostFacts {
  /** The name plans and the migration hosts file use for this host (--host-name). */
  hostName: string;
  /** Online CPUs (/sys/devices/system/cpu/online). */
  onlineCpus: number[];
  /** CPUs VMs may use (--vm-cpus, else libvirt's machine cgroup cpuset, else the online CPUs). */
  vmCpus: number[];
  /** Where vmCpus came from. */
  vmCpusFrom: "flag" | "machine-cgroup" | "online";
  reservedCpus: number;
  /** vmCpus.length - reservedCpus. */
  capacityCores: number;
  /** MemTotal, bytes; null when /proc/meminfo cannot be read. */
  memTotalBytes: number | null;
  /** MemAvailable, bytes; null when unknown. */
  memAvailableBytes: number | null;
  /** Memory VMs may use: MemTotal - --reserved-memory; null when MemTotal is unknown. */
  vmMemoryBytes: number | null;
  reservedMemoryBytes: number;
}

export interface HostFactsOptions {
  hostName: string;
  /** --vm-cpus as given (a CPU list), or undefined for the default. */
  vmCpus?: string;
  reservedCpus: number;
  reservedMemoryMiB: number;
  procRoot?: string;
  sysRoot?: string;
}

/** A flag that cannot work on this host; the message names the flag and says what to do. */
export class HostFactsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HostFactsError";
  }
}

/**
 * The cpuset of libvirt's machine cgroup (v1 `cpuset/machine[.slice]/cpuset.cpus`, v2
 * `machine[.slice]/cpuset.cpus.effective`): the CPUs libvirt's VMs are confined to. null when
 * none can be read or it is empty.
 */
export function machineCgroupCpus(mounts: CgroupMounts): number[] | null {
  const candidates: string[] = [];
  for (const part of ["machine", "machine.slice"]) {
    if (mounts.v1Cpuset)
      candidates.push(join(mounts.v1Cpuset, part, "cpuset.effective_cpus"), join(mounts.v1Cpuset, part, "cpuset.cpus"));
    if (mounts.v2) candidates.push(join(mounts.v2, part, "cpuset.cpus.effective"));
  }
  for (const file of candidates) {
    try {
      const cpus = parseCpuList(readFileSync(file, "utf8").trim(), file);
      if (cpus.length > 0) return cpus;
    } catch {
      // not there (no libvirt, other layout) or not readable: try the next
    }
  }
  return null;
}

/** Parses --vm-cpus; the message names the flag. */
export function parseVmCpusFlag(v: string): number[] {
  let cpus: number[];
  try {
    cpus = parseCpuList(v.trim(), "--vm-cpus");
  } catch (e) {
    throw new HostFactsError(`${(e as Error).message}: give a CPU list like 2-31 or 0,2,4-7`);
  }
  if (cpus.length === 0)
    throw new HostFactsError(`--vm-cpus ${JSON.stringify(v)}: names no CPU; give a CPU list like 2-31`);
  return cpus;
}

/**
 * Reads the host's facts. Throws HostFactsError, naming the flag, when a flag cannot work here
 * (reserved CPUs or memory not below what there is, CPUs that are not online).
 */
export function readHostFacts(opts: HostFactsOptions): HostFacts {
  const procRoot = opts.procRoot ?? "/proc";
  const sysRoot = opts.sysRoot ?? "/sys";
  const online = onlineCpus(sysRoot);
  let vmCpus: number[];
  let vmCpusFrom: HostFacts["vmCpusFrom"];
  if (opts.vmCpus !== undefined) {
    vmCpus = parseVmCpusFlag(opts.vmCpus);
    vmCpusFrom = "flag";
    const on = new Set(online);
    const off = vmCpus.filter((c) => !on.has(c));
    if (off.length > 0)
      throw new HostFactsError(
        `--vm-cpus ${opts.vmCpus}: ${off.length === 1 ? "CPU" : "CPUs"} ${formatCpuList(off)} not online (online: ${formatCpuList(online)}); name online CPUs only`,
      );
  } else {
    const mounts = readCgroupMounts(procRoot);
    const fromCgroup = mounts ? machineCgroupCpus(mounts) : null;
    const on = new Set(online);
    const usable = fromCgroup ? fromCgroup.filter((c) => on.has(c)) : null;
    if (usable && usable.length > 0) {
      vmCpus = usable;
      vmCpusFrom = "machine-cgroup";
    } else {
      vmCpus = online;
      vmCpusFrom = "online";
    }
  }
  if (opts.reservedCpus >= vmCpus.length) {
    throw new HostFactsError(
      `--reserved-cpus ${opts.reservedCpus}: not below the ${vmCpus.length} ${vmCpus.length === 1 ? "CPU" : "CPUs"} VMs may use (${formatCpuList(vmCpus)}${vmCpusFrom === "flag" ? ", from --vm-cpus" : vmCpusFrom === "machine-cgroup" ? ", libvirt's machine cgroup" : ", online"}); reserve fewer or pass --vm-cpus`,
    );
  }
  let total: number | null = null;
  let available: number | null = null;
  const meminfo = join(procRoot, "meminfo");
  try {
    const m = parseMeminfo(readFileSync(meminfo, "utf8"), meminfo);
    total = m.totalBytes;
    available = m.availableBytes;
  } catch {
    // not Linux, or /proc not mounted: memory unknown
  }
  const reservedMemoryBytes = opts.reservedMemoryMiB * 1024 * 1024;
  if (total !== null && reservedMemoryBytes >= total) {
    throw new HostFactsError(
      `--reserved-memory ${opts.reservedMemoryMiB}: not below the host's ${Math.floor(total / 1048576)} MiB; reserve less`,
    );
  }
  return {
    hostName: opts.hostName,
    onlineCpus: online,
    vmCpus,
    vmCpusFrom,
    reservedCpus: opts.reservedCpus,
    capacityCores: vmCpus.length - opts.reservedCpus,
    memTotalBytes: total,
    memAvailableBytes: available,
    vmMemoryBytes: total === null ? null : total - reservedMemoryBytes,
    reservedMemoryBytes,
  };
}

/**
 * Facts given rather than read (simulated hosts, tests): CPUs 0..cpus-1, all for VMs; memory as
 * given or unknown.
 */
export function fixedHostFacts(o: {
  hostName: string;
  cpus: number;
  reservedCpus?: number;
  memTotalBytes?: number;
  reservedMemoryBytes?: number;
}): HostFacts {
  const all = Array.from({ length: o.cpus }, (_, i) => i);
  const reservedCpus = o.reservedCpus ?? 0;
  const reservedMemoryBytes = o.reservedMemoryBytes ?? 0;
  const total = o.memTotalBytes ?? null;
  return {
    hostName: o.hostName,
    onlineCpus: all,
    vmCpus: all,
    vmCpusFrom: "online",
    reservedCpus,
    capacityCores: Math.max(o.cpus - reservedCpus, 0),
    memTotalBytes: total,
    memAvailableBytes: total,
    vmMemoryBytes: total === null ? null : total - reservedMemoryBytes,
    reservedMemoryBytes,
  };
}
