import { ProcParseError } from "./errors.js";

/** Where the cgroup hierarchies that hold CPU throttling counters are mounted. */
export interface CgroupMounts {
  /** cgroup v1 hierarchy with the `cpu` controller (e.g. /sys/fs/cgroup/cpu or /sys/fs/cgroup/cpu,cpuacct). */
  v1Cpu: string | null;
  /** The cgroup v2 (unified) mount. */
  v2: string | null;
  /** cgroup v1 hierarchy with the `cpuset` controller (e.g. /sys/fs/cgroup/cpuset); optional for callers that build one by hand. */
  v1Cpuset?: string | null;
}

/** Undoes the octal escapes (\040 for space …) the kernel writes in mountinfo paths. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Parses /proc/self/mountinfo (proc(5)): `id parent major:minor root mountpoint options [optional…] - fstype source superoptions`.
 * Returns the cgroup mounts; the first of each kind wins.
 */
export function parseCgroupMounts(text: string, file: string): CgroupMounts {
  const out: CgroupMounts = { v1Cpu: null, v2: null, v1Cpuset: null };
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const sep = line.indexOf(" - ");
    if (sep < 0) throw new ProcParseError(file, `no ' - ' separator in line ${JSON.stringify(line.slice(0, 80))}`);
    const pre = line.slice(0, sep).split(" ");
    const post = line.slice(sep + 3).split(" ");
    const mountPoint = pre[4];
    const fstype = post[0];
    const superOpts = (post[2] ?? "").split(",");
    if (mountPoint === undefined || fstype === undefined) {
      throw new ProcParseError(file, `too few fields in line ${JSON.stringify(line.slice(0, 80))}`);
    }
    if (fstype === "cgroup2" && out.v2 === null) out.v2 = unescapeMountPath(mountPoint);
    if (fstype === "cgroup" && out.v1Cpu === null && superOpts.includes("cpu"))
      out.v1Cpu = unescapeMountPath(mountPoint);
    if (fstype === "cgroup" && out.v1Cpuset === null && superOpts.includes("cpuset"))
      out.v1Cpuset = unescapeMountPath(mountPoint);
  }
  return out;
}
