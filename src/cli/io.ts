import type { SampleProblem } from "../model/types.js";

/** Where a command writes; tests capture it. */
export interface Io {
  out(text: string): void;
  err(line: string): void;
}

export const processIo: Io = {
  out: (text) => {
    process.stdout.write(text);
  },
  err: (line) => {
    process.stderr.write(line.endsWith("\n") ? line : `${line}\n`);
  },
};

/** One stderr line per problem: the rest of the output is still valid. */
export function reportProblems(io: Io, problems: readonly SampleProblem[]): void {
  for (const p of problems) io.err(`vsteal: warning: ${p.domain}: ${p.message}`);
}
