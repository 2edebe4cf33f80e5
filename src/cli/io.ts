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

/** One stderr line per problem: the rest of the output is still valid. */
export function reportProblems(io: Io, problems: readonly SampleProblem[]): void {
  for (const p of problems) io.err(`vsteal: warning: ${safeText(p.domain)}: ${safeText(p.message)}`);
}

/** Runs an action; any error becomes one line on stderr and exit code 1. */
export function run(action: () => Promise<number>): Promise<void> {
  return action().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      processIo.err(`vsteal: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 1;
    },
  );
}
