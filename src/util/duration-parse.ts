/**
 * The one duration syntax of vsteal — CLI options, alert configs, hosts files and the API's
 * query parameters all read durations here:
 *
 * - as Prometheus writes them: one or more `<integer><unit>` parts, largest unit first, units
 *   ms, s, m, h, d, w — "500ms", "90s", "3m", "1h30m";
 * - or plain seconds, a decimal number: "60", "0.5" (and, in YAML, the number 60).
 *
 * Every duration has an upper bound, by default Node's timer limit (2^31 − 1 ms, about
 * 24.8 days): a timer set beyond it fires after 1 ms, which made an agent sweep every
 * millisecond and a controller audit in a tight loop. Pure: no I/O, and no zod, so that the
 * command line parses options without loading it (its zod schema is in duration.ts).
 */

/** Node's largest timer delay: setTimeout/setInterval take anything above as 1 ms. */
export const TIMER_MAX_MS = 2 ** 31 - 1;

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const ORDER = ["w", "d", "h", "m", "s", "ms"];
const PART = /(\d+)(ms|s|m|h|d|w)/y;
const SECONDS = /^\d{1,15}(\.\d{1,9})?$/;

export interface DurationBounds {
  /** Smallest accepted, ms; default 1 (0 refused). */
  minMs?: number;
  /** Largest accepted, ms; default TIMER_MAX_MS. */
  maxMs?: number;
  /** Accept plain seconds ("60", "0.5"); default true. */
  bareSeconds?: boolean;
}

export type DurationResult = { ok: true; ms: number } | { ok: false; reason: string };

/** Milliseconds in the Prometheus form ("1h30m"), or null; no bounds. */
export function parsePromDuration(text: string): number | null {
  if (text.length === 0 || text.length > 64) return null;
  PART.lastIndex = 0;
  let ms = 0;
  let lastRank = -1;
  while (PART.lastIndex < text.length) {
    const m = PART.exec(text);
    if (m === null) return null;
    const [, digits = "", unit = ""] = m;
    const rank = ORDER.indexOf(unit);
    if (rank <= lastRank) return null; // "3m1h" or "1m1m": not a duration
    lastRank = rank;
    ms += Number(digits) * (UNIT_MS[unit] ?? Number.NaN);
  }
  return Number.isSafeInteger(ms) ? ms : null;
}

/** A duration in the shortest form parsePromDuration reads back, e.g. 5_400_000 → "1h30m". */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`not a duration: ${ms}`);
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (const unit of ORDER) {
    const size = UNIT_MS[unit] ?? 1;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

function shown(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (v === null || typeof v === "number" || typeof v === "boolean" || v === undefined) return String(v);
  // Never String() an object: one with a "toString" key that is not a function throws.
  return Array.isArray(v) ? "a list" : "a mapping";
}

/** A limit as a person reads it: TIMER_MAX_MS → "24d20h31m23s (Node's timer limit)". */
function limitText(ms: number): string {
  return ms === TIMER_MAX_MS ? "24d20h31m23s (the longest timer Node.js can set)" : formatDuration(Math.floor(ms));
}

/** Checks a duration (text, or a number of seconds) against the syntax and the bounds. */
export function checkDuration(value: unknown, bounds: DurationBounds = {}): DurationResult {
  const { minMs = 1, maxMs = TIMER_MAX_MS, bareSeconds = true } = bounds;
  const example = bareSeconds
    ? "a duration like 30s, 5m or 1h30m, or seconds like 0.5"
    : "a duration like 30s, 5m or 1h30m";
  let ms: number | null = null;
  if (typeof value === "number" && bareSeconds && Number.isFinite(value)) ms = value * 1000;
  else if (typeof value === "string") {
    const t = value.trim();
    if (bareSeconds && SECONDS.test(t)) ms = Number(t) * 1000;
    else ms = parsePromDuration(t);
  }
  if (ms === null || !Number.isFinite(ms) || ms < 0)
    return { ok: false, reason: `expected ${example}, got ${shown(value)}` };
  if (ms > maxMs) return { ok: false, reason: `must be at most ${limitText(maxMs)}, got ${shown(value)}` };
  if (ms < minMs)
    return {
      ok: false,
      reason:
        minMs === 1
          ? `must be more than 0, got ${shown(value)}`
          : `must be at least ${formatDuration(Math.ceil(minMs))}, got ${shown(value)}`,
    };
  return { ok: true, ms };
}

/** Thrown by parseDurationMs; `reason` has no field name, the caller adds it. */
export class DurationError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "DurationError";
  }
}

/** Milliseconds, or a DurationError. */
export function parseDurationMs(value: unknown, bounds?: DurationBounds): number {
  const r = checkDuration(value, bounds);
  if (!r.ok) throw new DurationError(r.reason);
  return r.ms;
}
