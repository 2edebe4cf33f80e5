import { writeSync } from "node:fs";
import type { SampleProblem } from "../model/types.js";
import { safeText } from "../util/safe-text.js";

/** Where a command writes; tests capture it. */
export interface Io {
  out(text: string): void;
  err(line: string): void;
}

export const processIo: Io = {
  out: (text) => {
    process.stdout.write(text);
  },
  // A safety net under every stderr line: whatever a message quotes (a VM name, a library's
  // text) cannot drive the terminal. Line breaks of multi-line messages are kept; names are
  // escaped where they are quoted (safeText), so a name cannot forge a line either.
  err: (line) => {
    const text = line.split("\n").map(safeText).join("\n");
    process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
  },
};

/**
 * Standard output written through its descriptor, synchronously: what a one-shot command (a
 * plain `vsteal domstats`) prints, without Node building process.stdout (a pipe's stream
 * loads net and Node's streams: ~4 ms of such a command's start). A descriptor that would
 * block (a non-blocking pipe: EAGAIN) hands the rest, and what follows, to process.stdout; a
 * reader that went away (EPIPE: `| head -1`) gets nothing more, as from any program.
 */
let stdoutMode: "fd" | "stream" | "closed" = "fd";
export function writeStdoutSync(text: string): void {
  if (stdoutMode === "closed") return;
  if (stdoutMode === "stream") {
    process.stdout.write(text);
    return;
  }
  const buf = Buffer.from(text, "utf8");
  let off = 0;
  try {
    while (off < buf.length) off += writeSync(1, buf, off);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EPIPE") stdoutMode = "closed";
    else if (code === "EAGAIN") {
      stdoutMode = "stream";
      process.stdout.write(buf.subarray(off));
    } else throw e;
  }
}

/** processIo with standard output written synchronously (writeStdoutSync): for one-shot commands. */
export const oneShotIo: Io = { out: writeStdoutSync, err: processIo.err };

/** One stderr line per problem: the rest of the output is still valid. */
export function reportProblems(io: Io, problems: readonly SampleProblem[]): void {
  for (const p of problems) io.err(`vsteal: warning: ${safeText(p.domain)}: ${safeText(p.message)}`);
}

/** A command that failed: one line on stderr, exit code 1. */
export function failCommand(e: unknown): void {
  processIo.err(`vsteal: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}

/** Runs an action; any error becomes one line on stderr and exit code 1. */
export function run(action: () => Promise<number>): Promise<void> {
  return action().then((code) => {
    process.exitCode = code;
  }, failCommand);
}
