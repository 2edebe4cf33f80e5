import { ProcParseError, quote } from "./errors.js";
import { parseU64 } from "./u64.js";

/** /proc/meminfo, the parts vsteal uses, in bytes. */
export interface MemInfo {
  /** `MemTotal`: usable RAM. */
  totalBytes: number;
  /** `MemAvailable`: what can be handed out without swapping (kernel ≥ 3.14); null when absent. */
  availableBytes: number | null;
  /** Every line by key, in bytes where the kernel gives `kB`, else the bare number (HugePages_Total). */
  fields: ReadonlyMap<string, number>;
}

/** 2^53 / 1024: the most kB a double holds exactly once turned into bytes (8 PiB). */
const MAX_KB = 2n ** 43n;

/**
 * Parses /proc/meminfo (proc(5)): `Key:   value kB` or `Key:   value` per line. `MemTotal` must be
 * there; a value too large to be a real memory size (over 8 PiB) is an error.
 */
export function parseMeminfo(text: string, file: string): MemInfo {
  const fields = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const m = /^([^:\s]+):\s+(\S+)(?: (kB))?$/.exec(line);
    if (m === null) throw new ProcParseError(file, `expected "Key:   value kB", got ${quote(line)}`);
    const key = m[1] ?? "";
    const v = parseU64(m[2] ?? "", file, key);
    if (v > MAX_KB) throw new ProcParseError(file, `${key}: ${v} is larger than any real memory size`);
    if (!fields.has(key)) fields.set(key, m[3] === "kB" ? Number(v) * 1024 : Number(v));
  }
  const total = fields.get("MemTotal");
  if (total === undefined) throw new ProcParseError(file, "no MemTotal: line");
  return { totalBytes: total, availableBytes: fields.get("MemAvailable") ?? null, fields };
}
