import { escapeRegExp } from "./regexp.js";

/**
 * JSON.stringify that writes bigints as exact JSON integers (JSON has no size limit on
 * numbers; jq, Python and Go read them exactly). Node 20 has no JSON.rawJSON, so bigints are
 * first written as marked strings, then the marks are replaced.
 */
export function stringifyExact(value: unknown, indent?: number): string {
  const mark = `\u0000bigint${Math.random().toString(36).slice(2)}:`;
  const text = JSON.stringify(
    value,
    (_k, v: unknown) => (typeof v === "bigint" ? `${mark}${v.toString()}` : v),
    indent,
  );
  // JSON.stringify escapes U+0000 as \u0000, so the mark can only come from our replacer.
  const escaped = JSON.stringify(mark).slice(1, -1);
  return text.replace(new RegExp(`"${escapeRegExp(escaped)}(-?\\d+)"`, "g"), "$1");
}

const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/**
 * JSON text that is also safe to show in a terminal or a log viewer: JSON.stringify leaves DEL,
 * C1 controls (U+009B is a CSI on many terminals), line separators and bidi overrides raw;
 * here they become `\uXXXX` escapes. Outside strings JSON has only ASCII, so the text stays
 * valid JSON and parses to exactly the same value. For log lines and the audit log.
 */
export function jsonLine(value: unknown): string {
  return stringifyExact(value).replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * `JSON.stringify(value, null, 2)`, the very same text, in pieces: a snapshot of a large fleet
 * pretty-printed is hundreds of MB as one string (and twice that while it is built); written
 * piece by piece it never is. Objects and arrays are walked down to `depth` levels, anything
 * deeper is stringified whole (and re-indented). Plain JSON data only (objects, arrays,
 * strings, numbers, booleans, null; `toJSON` is honoured as JSON.stringify honours it).
 */
export function* prettyJsonChunks(value: unknown, depth = 4, indent = ""): Generator<string> {
  const v = toJsonValue(value);
  if (depth <= 0 || v === null || typeof v !== "object") {
    const text = JSON.stringify(v, null, 2) ?? "null";
    yield indent === "" ? text : text.replaceAll("\n", `\n${indent}`);
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.length === 0) return yield "[]";
    yield "[";
    for (let i = 0; i < v.length; i++) {
      yield `${i === 0 ? "" : ","}\n${inner}`;
      const item = toJsonValue(v[i]);
      yield* prettyJsonChunks(item === undefined || typeof item === "function" ? null : item, depth - 1, inner);
    }
    return yield `\n${indent}]`;
  }
  let first = true;
  for (const [k, raw] of Object.entries(v)) {
    const item = toJsonValue(raw);
    if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
    yield `${first ? "{" : ","}\n${inner}${JSON.stringify(k)}: `;
    first = false;
    yield* prettyJsonChunks(item, depth - 1, inner);
  }
  yield first ? "{}" : `\n${indent}}`;
}

function toJsonValue(v: unknown): unknown {
  return v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function"
    ? (v as { toJSON: () => unknown }).toJSON()
    : v;
}

/** Writes `prettyJsonChunks(value)` through `write` in pieces of about 64 KiB, then a newline. */
export function writePrettyJson(value: unknown, write: (text: string) => void): void {
  let buf = "";
  for (const piece of prettyJsonChunks(value)) {
    buf += piece;
    if (buf.length >= 65_536) {
      write(buf);
      buf = "";
    }
  }
  write(`${buf}\n`);
}
