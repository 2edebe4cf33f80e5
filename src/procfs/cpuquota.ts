import { ProcParseError, quote } from "./errors.js";

/** A cgroup's CFS bandwidth limit: at most `quotaUs` of CPU time every `periodUs`. */
export interface CpuQuota {
  /** µs of CPU time per period; null when unlimited (v1 `-1`, v2 `max`). */
  quotaUs: number | null;
  periodUs: number;
}

/** Kernel bounds on a CFS period: 1 ms to 1 s (kernel/sched/core.c, max_cfs_quota_period). */
const MIN_PERIOD_US = 1000;
const MAX_PERIOD_US = 1_000_000;
/** Quotas are at most about 2^44 µs (max_cfs_runtime); far below 2^53. */
const MAX_QUOTA_US = 2 ** 44;

function quotaNumber(token: string, file: string, what: string): number {
  if (!/^[0-9]{1,15}$/.test(token))
    throw new ProcParseError(file, `${what}: expected a number of µs, got ${quote(token)}`);
  const v = Number(token);
  if (v > MAX_QUOTA_US) throw new ProcParseError(file, `${what}: ${v} µs is larger than the kernel allows`);
  return v;
}

function period(token: string, file: string): number {
  const v = quotaNumber(token, file, "period");
  if (v < MIN_PERIOD_US || v > MAX_PERIOD_US)
    throw new ProcParseError(file, `period: ${v} µs is outside the kernel's 1000..1000000`);
  return v;
}

function oneLine(text: string, file: string): string {
  const t = text.endsWith("\n") ? text.slice(0, -1) : text;
  if (t.includes("\n")) throw new ProcParseError(file, `expected one line, got ${quote(t)}`);
  return t;
}

/**
 * cgroup v1: `cpu.cfs_quota_us` (`-1` = unlimited, else µs) and `cpu.cfs_period_us` (µs), each
 * one number on one line. `quotaFile` names both in messages unless `periodFile` is given.
 */
export function parseCfsQuotaV1(
  quotaText: string,
  periodText: string,
  quotaFile: string,
  periodFile = quotaFile,
): CpuQuota {
  const q = oneLine(quotaText, quotaFile);
  const p = period(oneLine(periodText, periodFile), periodFile);
  if (q === "-1") return { quotaUs: null, periodUs: p };
  return { quotaUs: quotaNumber(q, quotaFile, "quota"), periodUs: p };
}

/** cgroup v2: `cpu.max`, `$MAX $PERIOD` on one line (`max 100000` = unlimited). */
export function parseCpuMax(text: string, file: string): CpuQuota {
  const parts = oneLine(text, file).split(" ");
  if (parts.length !== 2) throw new ProcParseError(file, `expected "$MAX $PERIOD", got ${quote(text)}`);
  const p = period(parts[1] ?? "", file);
  if (parts[0] === "max") return { quotaUs: null, periodUs: p };
  return { quotaUs: quotaNumber(parts[0] ?? "", file, "quota"), periodUs: p };
}

/** The limit in cores (quota / period), null when unlimited. */
export function quotaCores(q: CpuQuota): number | null {
  return q.quotaUs === null ? null : q.quotaUs / q.periodUs;
}
