/**
 * A string as a regular expression that matches it literally: every metacharacter JavaScript's
 * RegExp and RE2 (PromQL's `=~`) share is escaped, so the same text serves both.
 */
export const escapeRegExp = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
