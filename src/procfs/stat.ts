import { ProcParseError, quote } from "./errors.js";
import { parseSmallUint, parseU64 } from "./u64.js";

/** The fields of /proc/<pid>/task/<tid>/stat that vsteal uses (proc(5) numbering in brackets). */
export interface ProcStat {
  /** (1) Thread id (pid of the task). */
  pid: number;
  /** (2) Command name, without the parentheses; may contain spaces, parentheses, even newlines. */
  comm: string;
  /** (3) State letter: R, S, D, Z, T, t, X, I, … */
  state: string;
  /** (14) User-mode time in clock ticks (USER_HZ, normally 100 per second). */
  utimeTicks: bigint;
  /** (15) Kernel-mode time in clock ticks. */
  stimeTicks: bigint;
  /** (39) CPU the task last ran on. */
  processor: number;
}

/** Fields after the comm: index 0 is field (3). */
const AFTER_COMM = 3;
const UTIME = 14;
const STIME = 15;
const PROCESSOR = 39;

/**
 * Parses /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat. The comm is whatever lies between
 * the first "(" and the LAST ")", so a thread named `a) b (c) S 1` does not shift the fields.
 */
export function parseStat(text: string, file: string): ProcStat {
  const open = text.indexOf(" (");
  const close = text.lastIndexOf(")");
  if (open <= 0 || close < open + 2)
    throw new ProcParseError(file, `expected "pid (comm) state …", got ${quote(text)}`);
  const pid = parseSmallUint(text.slice(0, open), file, "pid");
  const comm = text.slice(open + 2, close);
  let rest = text.slice(close + 1);
  if (rest.endsWith("\n")) rest = rest.slice(0, -1);
  if (!rest.startsWith(" ")) throw new ProcParseError(file, `expected a space after the comm, got ${quote(rest)}`);
  const fields = rest.slice(1).split(" ");
  const field = (n: number): string => fields[n - AFTER_COMM] ?? "";
  if (fields.length < PROCESSOR - AFTER_COMM + 1) {
    throw new ProcParseError(
      file,
      `expected at least ${PROCESSOR} fields, got ${fields.length + AFTER_COMM - 1} in ${quote(text)}`,
    );
  }
  const state = field(3);
  if (state.length !== 1) throw new ProcParseError(file, `field 3 (state): expected one letter, got ${quote(state)}`);
  return {
    pid,
    comm,
    state,
    utimeTicks: parseU64(field(UTIME), file, `field ${UTIME} (utime)`),
    stimeTicks: parseU64(field(STIME), file, `field ${STIME} (stime)`),
    processor: parseSmallUint(field(PROCESSOR), file, `field ${PROCESSOR} (processor)`),
  };
}
