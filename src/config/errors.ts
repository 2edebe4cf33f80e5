/** One thing wrong in a config file, located as precisely as the file allows. */
export interface ConfigIssue {
  /** 1-based line in the file, null when the problem has no place (file unreadable, empty). */
  line: number | null;
  /** 1-based column, null with line. */
  column: number | null;
  /** The field, e.g. `rules[1].for`; "" for the whole file. */
  field: string;
  /** What is wrong and what was expected, without file or field. */
  reason: string;
}

/**
 * The one error loading a config throws. Its message has a line per issue:
 * `alerts.yaml:12: rules[1].for: expected a duration like "3m", got "3 minutes"`.
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly issues: readonly ConfigIssue[];

  constructor(file: string, issues: readonly ConfigIssue[]) {
    super(issues.map((i) => formatIssue(file, i)).join("\n") || `${file}: invalid config`);
    this.name = "ConfigError";
    this.file = file;
    this.issues = issues;
  }
}

export function formatIssue(file: string, issue: ConfigIssue): string {
  const where = issue.line === null ? file : `${file}:${issue.line}`;
  return issue.field === "" ? `${where}: ${issue.reason}` : `${where}: ${issue.field}: ${issue.reason}`;
}
