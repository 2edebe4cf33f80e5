import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cpuCgroupPath, parseCgroup } from "../procfs/cgroup.js";
import { parseCgroupMounts, type CgroupMounts } from "../procfs/mountinfo.js";

/** The cgroup mounts of <procRoot>/self/mountinfo; null when it cannot be read or parsed. */
export function readCgroupMounts(procRoot: string): CgroupMounts | null {
  const file = join(procRoot, "self", "mountinfo");
  try {
    return parseCgroupMounts(readFileSync(file, "utf8"), file);
  } catch {
    return null;
  }
}

/** The directory of a thread's cpu cgroup (v1 `cpu` hierarchy, else v2), or null when unknown. */
export function cpuCgroupDir(
  procRoot: string,
  mounts: CgroupMounts,
  pid: number,
  tid: number,
): { version: 1 | 2; dir: string } | null {
  const file = join(procRoot, String(pid), "task", String(tid), "cgroup");
  let rel: { version: 1 | 2; path: string } | null;
  try {
    rel = cpuCgroupPath(parseCgroup(readFileSync(file, "utf8"), file));
  } catch {
    return null;
  }
  if (!rel) return null;
  const base = rel.version === 1 ? mounts.v1Cpu : mounts.v2;
  return base ? { version: rel.version, dir: join(base, rel.path) } : null;
}
