/**
 * The one error type every parser in src/procfs throws: the file could not be understood.
 * The message names the file and quotes what was wrong, e.g.
 * `/proc/123/task/124/schedstat: expected 3 numbers, got "abc"`.
 */
export class ProcParseError extends Error {
  /** The file the text came from (as the caller named it). */
  readonly file: string;
  /** What was wrong, without the file name. */
  readonly reason: string;

  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = "ProcParseError";
    this.file = file;
    this.reason = reason;
  }
}

/** At most `max` characters of `text`, JSON-quoted, for error messages ("…" marks a cut). */
export function quote(text: string, max = 80): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}
