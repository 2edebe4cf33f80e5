import { ProcParseError, quote } from "./errors.js";

/** Most CPUs one list may name (and most one range may span): far above any real NR_CPUS. */
export const MAX_CPU_LIST = 65536;
/** Highest CPU number accepted. */
const MAX_CPU = 1 << 20;

const ITEM = /^([0-9]{1,7})(?:-([0-9]{1,7}))?$/;

/**
 * Parses the kernel's CPU list format (`%*pbl`: `0-3,8,10-11`), as in `Cpus_allowed_list`,
 * cpuset.cpus or /sys/devices/system/cpu/online. An empty list (`""` or `"\n"`) is []. Returns
 * the CPUs sorted ascending, without duplicates.
 * @throws ProcParseError on anything else, or when a range or the whole list names more than
 *   {@link MAX_CPU_LIST} CPUs.
 */
export function parseCpuList(list: string, file = "cpu list"): number[] {
  const text = list.endsWith("\n") ? list.slice(0, -1) : list;
  if (text === "") return [];
  const cpus = new Set<number>();
  for (const item of text.split(",")) {
    const m = ITEM.exec(item);
    if (m === null) throw new ProcParseError(file, `bad CPU list item ${quote(item)} in ${quote(text)}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi > MAX_CPU) throw new ProcParseError(file, `CPU ${hi} in ${quote(item)} is larger than ${MAX_CPU}`);
    if (hi < lo) throw new ProcParseError(file, `CPU range ${quote(item)} runs backwards`);
    if (hi - lo + 1 > MAX_CPU_LIST)
      throw new ProcParseError(file, `CPU range ${quote(item)} spans more than ${MAX_CPU_LIST} CPUs`);
    for (let c = lo; c <= hi; c++) cpus.add(c);
    if (cpus.size > MAX_CPU_LIST) throw new ProcParseError(file, `CPU list names more than ${MAX_CPU_LIST} CPUs`);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** Formats CPUs the way the kernel does (`0-3,8,10-11`); the inverse of {@link parseCpuList}. */
export function formatCpuList(cpus: Iterable<number>): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const lo = sorted[i]!;
    let hi = lo;
    while (i + 1 < sorted.length && sorted[i + 1] === hi + 1) hi = sorted[++i]!;
    parts.push(hi === lo ? `${lo}` : `${lo}-${hi}`);
    i++;
  }
  return parts.join(",");
}
