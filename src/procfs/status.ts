import { parseCpuList } from "./cpulist.js";
import { ProcParseError, quote } from "./errors.js";
import { parseSmallUint } from "./u64.js";

export { formatCpuList, parseCpuList, MAX_CPU_LIST } from "./cpulist.js";

/** /proc/<pid>/task/<tid>/status, `Key:\tvalue` per line. */
export interface ProcStatus {
  /** Every line's value by key, trimmed (first occurrence wins), e.g. `VmRSS` → `36532 kB`. */
  fields: ReadonlyMap<string, string>;
  /** `Name`, unescaped (the kernel writes a newline in a name as `\n`, a backslash as `\\`). */
  name: string;
  /** The state letter of `State` (`S` from `S (sleeping)`). */
  state: string;
  /** `Tgid`: the process id. */
  tgid: number;
  /** `Pid`: the thread id. */
  pid: number;
  /** `Cpus_allowed_list` parsed, or null when the kernel does not print it. */
  cpusAllowed: number[] | null;
}

function unescapeName(s: string): string {
  return s.replace(/\\(n|\\)/g, (_m, c: string) => (c === "n" ? "\n" : "\\"));
}

/** Parses a status file. `Name`, `State`, `Tgid` and `Pid` must be present. */
export function parseStatus(text: string, file: string): ProcStatus {
  const fields = new Map<string, string>();
  let name: string | undefined;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new ProcParseError(file, `expected "Key:\\tvalue", got ${quote(line)}`);
    const key = line.slice(0, colon);
    // Name keeps its spaces ("CPU 0/KVM"): drop only the tab the kernel puts after the colon.
    if (key === "Name" && name === undefined) name = unescapeName(line.slice(colon + 1).replace(/^\t/, ""));
    if (!fields.has(key)) fields.set(key, line.slice(colon + 1).trim());
  }
  const need = (key: string): string => {
    const v = fields.get(key);
    if (v === undefined) throw new ProcParseError(file, `no ${key}: line`);
    return v;
  };
  need("Name");
  const state = need("State").split(" ")[0] ?? "";
  if (state.length !== 1) throw new ProcParseError(file, `State: expected a letter, got ${quote(need("State"))}`);
  const list = fields.get("Cpus_allowed_list");
  return {
    fields,
    name: name ?? "",
    state,
    tgid: parseSmallUint(need("Tgid"), file, "Tgid"),
    pid: parseSmallUint(need("Pid"), file, "Pid"),
    cpusAllowed: list === undefined ? null : cpuList(list, file),
  };
}

function cpuList(list: string, file: string): number[] {
  try {
    return parseCpuList(list, file);
  } catch (e) {
    if (e instanceof ProcParseError) throw new ProcParseError(file, `Cpus_allowed_list: ${e.reason}`);
    throw e;
  }
}
