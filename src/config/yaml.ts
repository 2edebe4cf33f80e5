/**
 * Reading a YAML config file into a value validated by a zod schema. Every problem is reported
 * with the file, the line and the field, e.g.
 * `alerts.yaml:12: rules[1].for: expected a duration like "3m", got "3 minutes"`.
 * Unknown fields are errors when the schema is strict: a typo must never silently switch a
 * setting off. Used by every config file vsteal reads (alert rules, web config).
 */
import { BoundedReadError, LIMITS, readTextFileBounded } from "../util/bounded-read.js";
import { LineCounter, isAlias, isMap, isNode, isScalar, isSeq, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { ConfigError, type ConfigIssue } from "./errors.js";
import { formatPath, wordIssue } from "../validation/wording.js";

export { ConfigError, formatIssue, type ConfigIssue } from "./errors.js";
export { describeValue, formatPath } from "../validation/wording.js";

export interface YamlConfigOptions {
  /** What the whole file should be, for messages: "a mapping with a `rules:` list". */
  expected: string;
  /** Fields the object at `path` may have, for "did you mean" and "expected one of" hints. */
  knownFieldsAt?: (path: readonly PropertyKey[]) => readonly string[];
  /** Largest file read, in bytes; default LIMITS.config. */
  maxBytes?: number;
}

/** Reads `path` and validates it; throws ConfigError (only). */
export function parseYamlConfigFile<S extends z.ZodType>(
  path: string,
  schema: S,
  opts: YamlConfigOptions,
): z.output<S> {
  let text: string;
  try {
    text = readTextFileBounded(path, opts.maxBytes ?? LIMITS.config, "the config file");
  } catch (err) {
    if (!(err instanceof BoundedReadError)) throw err;
    const reason = err.message.replace(`${path} `, "").replace(`${path}: `, ": ");
    throw new ConfigError(path, [{ line: null, column: null, field: "", reason }]);
  }
  return parseYamlConfigText(text, path, schema, opts);
}

/**
 * Validates the text of a YAML config against a zod schema; `file` names it in messages.
 * Throws ConfigError, and nothing else, whatever the text.
 */
export function parseYamlConfigText<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  opts: YamlConfigOptions,
): z.output<S> {
  const lines = new LineCounter();
  let doc: Document.Parsed;
  let data: unknown;
  try {
    doc = parseDocument(text, {
      lineCounter: lines,
      prettyErrors: true,
      uniqueKeys: true,
      strict: true,
      logLevel: "error",
    });
    if (doc.errors.length > 0) {
      throw new ConfigError(
        file,
        doc.errors.map((e) => ({
          line: e.linePos?.[0].line ?? null,
          column: e.linePos?.[0].col ?? null,
          field: "",
          reason: /call stack/i.test(e.message)
            ? "nested too deeply (a config file is never this deep)"
            : `not valid YAML: ${firstLine(e.message)}`,
        })),
      );
    }
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // A stack overflow on absurd nesting is the text's fault, not a crash: say so in words.
    const reason =
      err instanceof RangeError
        ? "nested too deeply (a config file is never this deep)"
        : `not valid YAML: ${err instanceof Error ? err.message : String(err)}`;
    throw new ConfigError(file, [{ line: null, column: null, field: "", reason }]);
  }
  if (data === null || data === undefined) {
    throw new ConfigError(file, [
      { line: null, column: null, field: "", reason: `the file is empty: expected ${opts.expected}` },
    ]);
  }

  let result: z.ZodSafeParseResult<z.output<S>>;
  try {
    result = schema.safeParse(data, { reportInput: true });
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new ConfigError(file, [
      { line: null, column: null, field: "", reason: "nested too deeply (a config file is never this deep)" },
    ]);
  }
  if (result.success) return result.data;
  let issues = result.error.issues.flatMap((i) => toConfigIssues(i, doc, lines, opts));
  // "treshold: unknown field, did you mean threshold?" says all; "threshold: missing" would repeat it.
  const typoTargets = new Set(issues.flatMap((i) => (i.typoOf === undefined ? [] : [i.typoOf])));
  issues = issues.filter((i) => !(i.missing === true && typoTargets.has(i.field)));
  issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  throw new ConfigError(
    file,
    issues.map(({ line, column, field, reason }) => ({ line, column, field, reason })),
  );
}

/** The yaml package's message without its own position and source excerpt (we give the line). */
function firstLine(s: string): string {
  return (s.split("\n", 1)[0] ?? s).replace(/ at line \d+, column \d+:?$/, "");
}

type Issue = z.core.$ZodIssue;

/** A ConfigIssue with what the typo filter needs to know. */
interface RawIssue extends ConfigIssue {
  /** The required field was absent. */
  missing?: boolean;
  /** An unknown field that looks like a misspelling of this field (full path). */
  typoOf?: string;
}
type Segment = PropertyKey;

/** A zod issue in the one wording (validation/wording.ts), placed at its line in the file. */
function toConfigIssues(issue: Issue, doc: Document.Parsed, lines: LineCounter, opts: YamlConfigOptions): RawIssue[] {
  return wordIssue(issue, undefined, opts).map(({ path, reason, missing, typoOf }) => {
    const offset = locate(doc, path);
    const pos = offset === null ? null : lines.linePos(offset);
    if (issue.code === "invalid_value" && issue.input === "" && issue.values.includes(">")) {
      const key = path.at(-1);
      reason += ` (in YAML a bare > starts a folded text block: write ${typeof key === "string" ? `${key}: ` : ""}">" with quotes)`;
    }
    return {
      line: pos?.line ?? null,
      column: pos?.col ?? null,
      field: formatPath(path),
      reason,
      ...(missing === true ? { missing } : {}),
      ...(typoOf !== undefined ? { typoOf } : {}),
    };
  });
}

/**
 * Offset in the text of the deepest node along `path` that exists: the key of a mapping entry
 * (so a value written on the next lines still points at its field), or a list item.
 */
function locate(doc: Document.Parsed, path: readonly Segment[]): number | null {
  let node: unknown = doc.contents;
  let offset: number | null = isNode(node) ? (node.range?.[0] ?? null) : null;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (pair === undefined) break;
      if (isNode(pair.key) && pair.key.range) offset = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item: unknown = node.items[seg];
      if (!isNode(item)) break;
      if (item.range) offset = item.range[0];
      node = item;
    } else {
      break;
    }
  }
  return offset;
}
