import { ProcParseError, quote } from "./errors.js";
import { parseSmallUint } from "./u64.js";

/** One line of /proc/<pid>/task/<tid>/cgroup: `hierarchy-id:controllers:path`. */
export interface CgroupEntry {
  /** Hierarchy id; 0 is the cgroup v2 (unified) hierarchy. */
  hierarchyId: number;
  /** Controllers bound to the hierarchy (`["cpu", "cpuacct"]`, `["name=systemd"]`); [] for v2. */
  controllers: string[];
  /** Path relative to the hierarchy's mount point, e.g. `/machine/qemu-2-vm.libvirt-qemu/vcpu0`. */
  path: string;
  /** cgroup v2 marks a removed cgroup with ` (deleted)`; that suffix is not part of `path`. */
  deleted: boolean;
}

const DELETED = " (deleted)";

/** Parses a cgroup file (cgroups(7)). An empty file gives []. */
export function parseCgroup(text: string, file: string): CgroupEntry[] {
  const out: CgroupEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const c1 = line.indexOf(":");
    const c2 = c1 < 0 ? -1 : line.indexOf(":", c1 + 1);
    if (c2 < 0) throw new ProcParseError(file, `expected "id:controllers:path", got ${quote(line)}`);
    const hierarchyId = parseSmallUint(line.slice(0, c1), file, "hierarchy id");
    const list = line.slice(c1 + 1, c2);
    let path = line.slice(c2 + 1); // a path may itself contain ':'
    if (!path.startsWith("/")) throw new ProcParseError(file, `cgroup path must start with "/", got ${quote(line)}`);
    let deleted = false;
    if (hierarchyId === 0 && path.endsWith(DELETED)) {
      path = path.slice(0, -DELETED.length);
      deleted = true;
    }
    out.push({ hierarchyId, controllers: list === "" ? [] : list.split(","), path, deleted });
  }
  return out;
}

/**
 * Where to find the thread's CFS throttling counters: the v1 hierarchy with the `cpu` controller
 * (also when co-mounted, `cpu,cpuacct`), else the v2 hierarchy (`0::/path`); null if neither.
 * The path is relative to that hierarchy's mount point (see mountinfo.ts).
 */
export function cpuCgroupPath(entries: readonly CgroupEntry[]): { version: 1 | 2; path: string } | null {
  const v1 = entries.find((e) => e.hierarchyId !== 0 && e.controllers.includes("cpu"));
  if (v1) return { version: 1, path: v1.path };
  const v2 = entries.find((e) => e.hierarchyId === 0 && e.controllers.length === 0);
  if (v2) return { version: 2, path: v2.path };
  return null;
}
