/**
 * The one wording of validation problems, for every value vsteal validates with zod: config
 * files (config/yaml.ts adds the file and line), fleet snapshots, plans and scenarios
 * (model/fleet.ts), planner options. A problem is a field and a reason a person can act on:
 * `rules[1].for: expected a duration like "3m", got "3 minutes"`,
 * `vms[3].delay[1]: must be at least 0, got -0.2`, `minGain: unknown field, did you mean "minGain"?`.
 *
 * Pure: no I/O, nothing but zod's issue types.
 */
import type { z } from "zod";
import { closest } from "./suggest.js";

type Issue = z.core.$ZodIssue;
type Segment = PropertyKey;

/** One problem, worded; `path` is where it is (format it with formatPath). */
export interface WordedIssue {
  path: readonly Segment[];
  reason: string;
  /** A required field was absent. */
  missing?: boolean;
  /** An unknown field that looks like a misspelling of this field (full path, formatted). */
  typoOf?: string;
}

export interface WordingOptions {
  /** What the whole value should be, for a value of the wrong kind: "a mapping with a `rules:` list". */
  expected?: string;
  /** Fields the object at `path` may have, for "did you mean" and "expected one of" hints. */
  knownFieldsAt?: (path: readonly Segment[]) => readonly string[];
}

/** A short, quoted rendering of a value for messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "nothing (null)";
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return typeof v;
}

/** `rules[1].for`, `rules[0].labels["team name"]`. */
export function formatPath(path: readonly Segment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (typeof seg === "string" && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** zod's name of a type in words: "a mapping", "a whole number". */
export function expectedName(expected: string): string {
  switch (expected) {
    case "object":
    case "record":
      return "a mapping";
    case "array":
      return "a list";
    case "string":
      return "text";
    case "int":
      return "a whole number";
    case "boolean":
      return "true or false";
    default:
      return `a ${expected}`;
  }
}

/** The value at `path` in `root`, or undefined. */
export function valueAt(root: unknown, path: readonly Segment[]): unknown {
  let v: unknown = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/**
 * One zod issue in words (an unknown-keys issue is one problem per key). `root` is the value
 * validated: the offending input is looked up there when zod does not report it.
 */
export function wordIssue(issue: Issue, root: unknown, opts: WordingOptions = {}): WordedIssue[] {
  const at = (reason: string, extra: Partial<WordedIssue> = {}): WordedIssue[] => [
    { path: issue.path, reason, ...extra },
  ];
  const input = issue.input !== undefined ? issue.input : valueAt(root, issue.path);
  switch (issue.code) {
    case "unrecognized_keys": {
      const known = opts.knownFieldsAt?.(issue.path) ?? [];
      return issue.keys.map((key) => {
        const hint = closest(key, known);
        const expected = known.length > 0 ? `expected one of: ${known.join(", ")}` : "not a field vsteal reads here";
        return {
          path: [...issue.path, key],
          reason: `unknown field${hint === null ? ` (${expected})` : `, did you mean "${hint}"?`}`,
          ...(hint === null ? {} : { typoOf: formatPath([...issue.path, hint]) }),
        };
      });
    }
    case "invalid_type": {
      const received = (issue as { received?: unknown }).received;
      if (input === undefined && received === undefined) return at("required field is missing", { missing: true });
      if (
        issue.expected === "number" &&
        (received === "Infinity" || received === "NaN" || (typeof input === "number" && !Number.isFinite(input)))
      ) {
        return at(`must be a finite number, got ${typeof received === "string" ? received : describeValue(input)}`);
      }
      if (issue.path.length === 0 && opts.expected !== undefined)
        return at(`expected ${opts.expected}, got ${describeValue(input)}`);
      return at(`expected ${expectedName(issue.expected)}, got ${describeValue(input)}`);
    }
    case "invalid_value": {
      const values = issue.values.map((v) => JSON.stringify(v));
      const oneOf = values.length === 1 ? values[0]! : `one of ${values.join(", ")}`;
      if (input === undefined) return at(`required field is missing: ${oneOf}`, { missing: true });
      let reason = `expected ${oneOf}, got ${describeValue(input)}`;
      const hint = typeof input === "string" ? closest(input, issue.values.map(String)) : null;
      if (hint !== null && hint !== input) reason += ` (did you mean "${hint}"?)`;
      return at(reason);
    }
    case "invalid_key": {
      const reason = issue.issues[0]?.message ?? "invalid key";
      const shown = describeValue(input);
      return at(reason.includes(shown) ? reason : `${reason}: ${shown}`);
    }
    case "too_small":
      if (issue.origin === "string") return at("must not be empty");
      if (issue.origin === "array") return at(`must have at least ${issue.minimum} items`);
      return at(
        `must be ${issue.inclusive === false ? "more than" : "at least"} ${issue.minimum}, got ${describeValue(input)}`,
      );
    case "too_big":
      if (issue.origin === "string") return at(`must be at most ${issue.maximum} characters long`);
      if (issue.origin === "array")
        return at(`must have at most ${issue.maximum} items, got ${Array.isArray(input) ? input.length : "more"}`);
      return at(
        `must be ${issue.inclusive === false ? "less than" : "at most"} ${issue.maximum}, got ${describeValue(input)}`,
      );
    case "invalid_format":
      // Never the value: a format check guards secrets too (a password where a bcrypt hash
      // belongs must not reach a log).
      return at(issue.message);
    case "custom":
      return at(issue.message, issue.params?.["missing"] === true ? { missing: true } : {});
    case "invalid_union":
      return at(`not one of the accepted forms, got ${describeValue(input)}`);
    case "not_multiple_of":
      return at(`must be a multiple of ${String(issue.divisor)}, got ${describeValue(input)}`);
    default:
      // zod's generic wording ("Invalid input") says nothing: name the value at least.
      return at(issue.message === "Invalid input" ? `not accepted: ${describeValue(input)}` : issue.message);
  }
}
