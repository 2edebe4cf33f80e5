/**
 * Durations as Prometheus writes them: one or more `<integer><unit>` parts, largest unit
 * first, units ms, s, m, h, d, w — e.g. "0s", "90s", "3m", "1h30m", "500ms".
 */

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

/** Milliseconds in `text`, or null when it is not a duration like "3m". */
export function parseDuration(text: string): number | null {
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

/** A duration in the shortest form parseDuration reads back, e.g. 5_400_000 → "1h30m". */
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
