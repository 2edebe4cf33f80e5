import { ProcParseError, quote } from "./errors.js";

/** 2^64 - 1: the largest value of the kernel's unsigned 64-bit counters. */
export const U64_MAX = 0xffff_ffff_ffff_ffffn;

const DECIMAL = /^[0-9]+$/;

/**
 * A kernel `%llu`/`%lu` number as an exact bigint. Only ASCII decimal digits are accepted
 * (no sign, no spaces, no `0x`, no exponent); values above 2^64-1 are an error.
 */
export function parseU64(token: string, file: string, what: string): bigint {
  if (!DECIMAL.test(token))
    throw new ProcParseError(file, `${what}: expected an unsigned decimal number, got ${quote(token)}`);
  // Leading zeros are harmless; anything longer than 20 significant digits is over 2^64-1 anyway.
  let i = 0;
  while (i < token.length - 1 && token.charCodeAt(i) === 0x30) i++;
  const v = token.length - i > 20 ? U64_MAX + 1n : BigInt(token.slice(i));
  if (v > U64_MAX) throw new ProcParseError(file, `${what}: ${quote(token)} is larger than 2^64-1`);
  return v;
}

/** A small non-negative integer (pid, CPU number, hierarchy id) as a number, at most `max`. */
export function parseSmallUint(token: string, file: string, what: string, max = 0x7fff_ffff): number {
  if (!DECIMAL.test(token) || token.length > 10) {
    throw new ProcParseError(file, `${what}: expected a non-negative integer, got ${quote(token)}`);
  }
  const v = Number(token);
  if (v > max) throw new ProcParseError(file, `${what}: ${v} is larger than ${max}`);
  return v;
}
