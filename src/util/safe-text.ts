/**
 * Text from outside (VM names, host names, reasons in a plan) made safe for a terminal or a
 * log line: C0/C1 control characters, DEL, line separators and bidi overrides become visible
 * escapes (`\e`, `\n`, `\x07`, `\u{202e}`). Everything else is kept exactly. Every output that
 * prints a name (domstats, top, plan, apply, logs) goes through safeText.
 */

/* eslint-disable no-control-regex */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
/* eslint-enable no-control-regex */

const NAMED: Record<string, string> = { "\u001b": "\\e", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function safeText(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const cp = c.codePointAt(0) ?? 0;
    return cp < 0x100 ? `\\x${cp.toString(16).padStart(2, "0")}` : `\\u{${cp.toString(16)}}`;
  });
}

/** True when safeText would change `s`. */
export function hasUnsafeText(s: string): boolean {
  UNSAFE.lastIndex = 0;
  const r = UNSAFE.test(s);
  UNSAFE.lastIndex = 0;
  return r;
}
