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
  return text.replace(new RegExp(`"${escaped.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}(-?\\d+)"`, "g"), "$1");
}

/* eslint-disable no-control-regex */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
/* eslint-enable no-control-regex */

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
