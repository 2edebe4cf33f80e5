import { ProcParseError, quote } from "./errors.js";
import { parseU64 } from "./u64.js";

/** A cgroup's `cpu.stat`, normalised to ns across cgroup v1 and v2. */
export interface CpuStat {
  /** 1: v1 `throttled_time` (ns); 2: v2 `throttled_usec` (µs). */
  version: 1 | 2;
  /** CFS enforcement periods that have elapsed (`nr_periods`). */
  nrPeriods: bigint;
  /** Periods in which the cgroup was throttled (`nr_throttled`). */
  nrThrottled: bigint;
  /** Total time throttled, ns (v1 `throttled_time`, v2 `throttled_usec` × 1000). */
  throttledNs: bigint;
  /** Total CPU time, ns (v2 `usage_usec` × 1000); null on v1, which keeps it in cpuacct.usage. */
  usageNs: bigint | null;
}

const US = 1000n;

/**
 * Parses cpu.stat (`key value` lines; unknown keys such as `nr_bursts` are ignored). v1 has
 * `nr_periods nr_throttled throttled_time`; v2 has `usage_usec user_usec system_usec …` and,
 * only where the cpu controller is enabled, `nr_periods nr_throttled throttled_usec`.
 * @throws ProcParseError when no throttling counters are present, e.g. a v2 cgroup whose
 *   parent does not enable the cpu controller (`cgroup.subtree_control`), or the v2 root.
 */
export function parseCpuStat(text: string, file: string): CpuStat {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const sp = line.indexOf(" ");
    if (sp <= 0) throw new ProcParseError(file, `expected "key value", got ${quote(line)}`);
    const key = line.slice(0, sp);
    if (!values.has(key)) values.set(key, line.slice(sp + 1));
  }
  const num = (key: string): bigint | null => {
    const v = values.get(key);
    return v === undefined ? null : parseU64(v, file, key);
  };
  const v1 = num("throttled_time");
  const v2 = num("throttled_usec");
  if (v1 !== null && v2 !== null)
    throw new ProcParseError(file, "has both throttled_time (v1) and throttled_usec (v2)");
  if (v1 === null && v2 === null) {
    throw new ProcParseError(
      file,
      values.has("usage_usec")
        ? "no throttled_usec: the cpu controller is not enabled for this cgroup v2 group"
        : "no throttled_time or throttled_usec: not a cpu.stat file?",
    );
  }
  const nrPeriods = num("nr_periods");
  const nrThrottled = num("nr_throttled");
  if (nrPeriods === null || nrThrottled === null) {
    throw new ProcParseError(file, `no ${nrPeriods === null ? "nr_periods" : "nr_throttled"} line`);
  }
  const usage = num("usage_usec");
  return {
    version: v1 !== null ? 1 : 2,
    nrPeriods,
    nrThrottled,
    throttledNs: v1 ?? (v2 ?? 0n) * US,
    usageNs: usage === null ? null : usage * US,
  };
}
