import { ProcParseError, quote } from "./errors.js";
import { parseU64 } from "./u64.js";

/**
 * /proc/<pid>/task/<tid>/schedstat: `time delay slices\n` (kernel `proc_pid_schedstat`,
 * `"%llu %llu %lu\n"`). Kernels without sched_info print `0 0 0`.
 */
export interface SchedStat {
  /** ns spent on a CPU (`se.sum_exec_runtime`). */
  time: bigint;
  /** ns spent runnable, waiting on a run queue (`sched_info.run_delay`): the guest's steal time. */
  delay: bigint;
  /** Number of timeslices run on a CPU (`sched_info.pcount`). */
  slices: bigint;
}

const FIELDS = ["time", "delay", "slices"] as const;
const SCHEDSTAT = /^[ \t\r\n]*([0-9]+)[ \t]+([0-9]+)[ \t]+([0-9]+)[ \t\r\n]*$/;

/** Parses the text of a schedstat file. `file` is only used in error messages. */
export function parseSchedstat(text: string, file: string): SchedStat {
  const m = SCHEDSTAT.exec(text);
  if (m === null) throw new ProcParseError(file, `expected 3 numbers, got ${quote(text)}`);
  return {
    time: parseU64(m[1] ?? "", file, FIELDS[0]),
    delay: parseU64(m[2] ?? "", file, FIELDS[1]),
    slices: parseU64(m[3] ?? "", file, FIELDS[2]),
  };
}

// ---- hot path -------------------------------------------------------------------------------
//
// The sampler reads every vCPU thread's schedstat each second into one reused buffer. This
// parser reads the ASCII digits straight from the bytes: no string decoding, no regex, no
// allocation beyond the result. Digits accumulate in a double while that is exact (15 digits,
// 10^15 < 2^53); longer numbers (≥ 10^15 ns: 11.6 days on CPU) continue in two 32-bit limbs.
// The bigint is then made by writing the limbs into a BigUint64Array and reading it back,
// about twice as fast in V8 as BigInt(number) for values above 2^31.
// It accepts exactly what parseSchedstat accepts, with the same results.

const TWO32 = 4294967296;
/** Three u64 slots (time, delay, slices) and their 32-bit halves. */
const scratch = new BigUint64Array(3);
const limbs = new Uint32Array(scratch.buffer);
scratch[0] = 1n;
/** Offset of the low 32-bit half within a slot (0 on little-endian machines). */
const LO = limbs[0] === 1 ? 0 : 1;
const HI = 1 - LO;

function isEndSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; // space, tab, \n, \r
}

/** Bytes [from, to) as a string, one char per byte (for error messages only). */
function latin1(buf: Uint8Array, from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

function malformed(buf: Uint8Array, length: number, file: string): ProcParseError {
  return new ProcParseError(file, `expected 3 numbers, got ${quote(latin1(buf, 0, Math.min(length, 81)))}`);
}

function tooLarge(buf: Uint8Array, start: number, length: number, file: string, field: number): ProcParseError {
  let end = start;
  while (end < length && buf[end]! >= 0x30 && buf[end]! <= 0x39) end++;
  return new ProcParseError(file, `${FIELDS[field] ?? ""}: ${quote(latin1(buf, start, end))} is larger than 2^64-1`);
}

/**
 * Parses the first `length` bytes of `buf` (as filled by `readSync(fd, buf, 0, size, 0)`)
 * as a schedstat file. Same results and errors as {@link parseSchedstat} on the same text.
 * @throws RangeError when `length` is not an integer in [0, buf.length] (a caller bug).
 */
export function parseSchedstatBytes(buf: Uint8Array, length: number, file: string): SchedStat {
  if (!Number.isInteger(length) || length < 0 || length > buf.length) {
    throw new RangeError(`parseSchedstatBytes: length ${length} is outside the buffer (0..${buf.length})`);
  }
  let i = 0;
  while (i < length && isEndSpace(buf[i]!)) i++;
  for (let field = 0; field < 3; field++) {
    if (field > 0) {
      // One or more spaces or tabs between numbers.
      let c = i < length ? buf[i]! : 0;
      if (c !== 0x20 && c !== 0x09) throw malformed(buf, length, file);
      do c = ++i < length ? buf[i]! : 0;
      while (c === 0x20 || c === 0x09);
    }
    const start = i;
    const fast = Math.min(length, start + 15);
    let v = 0;
    while (i < fast) {
      const d = buf[i]! - 0x30;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      i++;
    }
    if (i === start) throw malformed(buf, length, file);
    let hi = Math.floor(v / TWO32);
    let lo = v >>> 0;
    if (i === fast) {
      // 15 digits and maybe more: continue as (hi, lo) = (hi, lo) * 10 + d in 32-bit halves.
      while (i < length) {
        const d = buf[i]! - 0x30;
        if (d < 0 || d > 9) break;
        const l = lo * 10 + d;
        hi = hi * 10 + Math.floor(l / TWO32);
        lo = l >>> 0;
        i++;
        if (hi >= TWO32) throw tooLarge(buf, start, length, file, field);
      }
    }
    limbs[2 * field + LO] = lo;
    limbs[2 * field + HI] = hi;
  }
  while (i < length && isEndSpace(buf[i]!)) i++;
  if (i !== length) throw malformed(buf, length, file);
  return { time: scratch[0]!, delay: scratch[1]!, slices: scratch[2]! };
}
