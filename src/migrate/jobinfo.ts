/**
 * `virsh domjobinfo --rawstats DOM` parsed into migration progress, and the terminal progress
 * bar drawn from it. Pure.
 */

export interface JobProgress {
  /** Bytes sent so far. */
  processed: number | null;
  /** Bytes left (dirty pages included: it may grow again). */
  remaining: number | null;
  total: number | null;
  elapsedMs: number | null;
  /** libvirt's job type: "None" / "0" when no job runs ("Unbounded" / "2" while migrating). */
  type: string | null;
}

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

function num(v: string | undefined): number | null {
  if (v === undefined) return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|ms)?\s*$/.exec(v);
  if (!m) return null;
  const n = Number(m[1]);
  return m[2] && m[2] !== "ms" ? Math.round(n * (UNITS[m[2]] ?? 1)) : n;
}

/** Reads both the raw form (`data_processed=123`) and the human one (`Data processed: 1.2 MiB`). */
export function parseJobInfo(text: string): JobProgress {
  const kv = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*([A-Za-z_ ]+?)\s*[:=]\s*(.*?)\s*$/.exec(line);
    if (m) kv.set(m[1]!.toLowerCase().replace(/ /g, "_"), m[2]!);
  }
  const type = kv.get("type") ?? kv.get("job_type") ?? null;
  return {
    type,
    processed: num(kv.get("data_processed")),
    remaining: num(kv.get("data_remaining")),
    total: num(kv.get("data_total")),
    elapsedMs: num(kv.get("time_elapsed")),
  };
}

/** A job is running (libvirt said so, or said nothing about its type). */
export function jobActive(p: JobProgress): boolean {
  return p.type !== "None" && p.type !== "0";
}

/** 0..1, or null when libvirt has not said yet. */
export function fractionDone(p: JobProgress): number | null {
  if (p.total !== null && p.total > 0 && p.remaining !== null)
    return Math.min(1, Math.max(0, 1 - p.remaining / p.total));
  if (p.processed !== null && p.remaining !== null && p.processed + p.remaining > 0)
    return p.processed / (p.processed + p.remaining);
  return null;
}

const mib = (b: number | null): string => (b === null ? "?" : (b / 1024 ** 2).toFixed(1));

/** One line: `[#######.............]  35 %  web-1 hv01→hv02  11.2 MiB sent, 20.8 MiB left  3.1 s`. */
export function progressLine(label: string, p: JobProgress, elapsedMs: number, width = 20): string {
  const f = fractionDone(p);
  const filled = f === null ? 0 : Math.round(f * width);
  const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
  const pct = f === null ? "  ? %" : `${String(Math.round(f * 100)).padStart(3)} %`;
  return `${bar} ${pct}  ${label}  ${mib(p.processed)} MiB sent, ${mib(p.remaining)} MiB left  ${(elapsedMs / 1000).toFixed(1)} s`;
}
