/**
 * Rates are fractions of wall time in [0, 1]; the history keeps them as 16-bit integers.
 * 0..65534 maps linearly onto 0..1 (error ≤ 0.5/65534 per value); 0xFFFF means "no data".
 */

/** The stored value of a slot that holds no sample. */
export const NO_DATA = 0xffff;
/** The stored value of a rate of exactly 1.0. */
export const Q_SCALE = 65534;

/** A rate as stored: clamped to [0, 1] and rounded; NO_DATA for NaN or ±Infinity. */
export function quantize(x: number): number {
  if (!Number.isFinite(x)) return NO_DATA;
  if (x <= 0) return 0;
  if (x >= 1) return Q_SCALE;
  return Math.round(x * Q_SCALE);
}

/** A stored value back as a rate; NO_DATA is not a rate, callers test for it first. */
export function dequantize(q: number): number {
  return q / Q_SCALE;
}
