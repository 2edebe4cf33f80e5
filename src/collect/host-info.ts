import { readFileSync } from "node:fs";
import { cpus as osCpus } from "node:os";
import { parseCpuList } from "../procfs/cpulist.js";

/** The online host CPUs, by number (from sysfs; the Node view, CPUs 0…n−1, as a fallback). */
export function onlineCpus(sysRoot = "/sys"): number[] {
  const file = `${sysRoot}/devices/system/cpu/online`;
  try {
    return parseCpuList(readFileSync(file, "utf8").trim(), file);
  } catch {
    return osCpus().map((_, i) => i);
  }
}

/** How many host CPUs are online (onlineCpus). */
export function hostCpuCount(sysRoot = "/sys"): number {
  return onlineCpus(sysRoot).length;
}

/** Is CONFIG_SCHEDSTATS on and enabled? Only then is /proc/…/sched wait_sum worth reading. */
export function schedstatsEnabled(procRoot = "/proc"): boolean {
  try {
    return readFileSync(`${procRoot}/sys/kernel/sched_schedstats`, "utf8").trim() === "1";
  } catch {
    return false;
  }
}
