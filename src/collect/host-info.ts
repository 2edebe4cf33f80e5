import { readFileSync } from "node:fs";
import { cpus as osCpus } from "node:os";
import { parseCpuList } from "../procfs/cpulist.js";

/** Online host CPUs (from sysfs; the Node view as a fallback). */
export function hostCpuCount(sysRoot = "/sys"): number {
  const file = `${sysRoot}/devices/system/cpu/online`;
  try {
    return parseCpuList(readFileSync(file, "utf8").trim(), file).length;
  } catch {
    return osCpus().length;
  }
}

/** Is CONFIG_SCHEDSTATS on and enabled? Only then is /proc/…/sched wait_sum worth reading. */
export function schedstatsEnabled(procRoot = "/proc"): boolean {
  try {
    return readFileSync(`${procRoot}/sys/kernel/sched_schedstats`, "utf8").trim() === "1";
  } catch {
    return false;
  }
}
