import { ProcParseError, quote } from "./errors.js";
import { parseU64 } from "./u64.js";

/** What vsteal takes from /proc/<pid>/task/<tid>/sched (the file libvirt reads for `vcpu.N.wait`). */
export interface Sched {
  /**
   * CFS run-queue wait, ns (`wait_sum`; `se.statistics.wait_sum` before Linux 5.19, `se.wait_sum`
   * on 2.6 kernels). null when the kernel keeps no schedstats (CONFIG_SCHEDSTATS off, or the
   * `kernel.sched_schedstats` sysctl 0), in which case the line is absent.
   */
  waitSumNs: bigint | null;
}

const KEYS = new Set(["wait_sum", "se.statistics.wait_sum", "se.wait_sum"]);
/** The kernel prints ns values as `%Ld.%06ld`: milliseconds, then 6 digits of ns. */
const MS = /^([0-9]+)(?:\.([0-9]+))?$/;
/** The dashed line under the header: 57 or 67 dashes; a comm (15 bytes) cannot fake it. */
const SEPARATOR = /^-{16,}$/;

/**
 * Parses a sched file. Only lines after the dashed separator are read: the header line holds
 * the thread's name, which could otherwise smuggle in a `wait_sum` line of its own.
 */
export function parseSched(text: string, file: string): Sched {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => SEPARATOR.test(l));
  if (start < 0) throw new ProcParseError(file, `no "-----" line under the header; not a sched file? ${quote(text)}`);
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const colon = line.indexOf(":");
    if (colon < 0 || !KEYS.has(line.slice(0, colon).trim())) continue;
    return { waitSumNs: msToNs(line.slice(colon + 1).trim(), file, line.slice(0, colon).trim()) };
  }
  return { waitSumNs: null };
}

/**
 * `12345.678901` (ms) → 12345678901n (ns), exactly. Fewer than 6 decimals are padded; digits
 * beyond the 6th (below 1 ns, never printed by the kernel) are dropped.
 */
function msToNs(value: string, file: string, key: string): bigint {
  const m = MS.exec(value);
  if (m === null)
    throw new ProcParseError(file, `${key}: expected milliseconds like "12345.678901", got ${quote(value)}`);
  const frac = (m[2] ?? "").slice(0, 6).padEnd(6, "0");
  return parseU64(`${m[1] ?? ""}${frac}`, file, key);
}
