/**
 * The one duration syntax of vsteal (src/util/duration-parse.ts) and its zod schema, for the
 * configs and query parameters validated with zod.
 */
import { z } from "zod";
import { checkDuration, type DurationBounds } from "./duration-parse.js";

export * from "./duration-parse.js";

/** A zod schema: text (or, with bareSeconds, a number of seconds) → milliseconds, bounded. */
export function durationSchema(bounds?: DurationBounds) {
  return z.unknown().transform((v, ctx): number => {
    const r = v === undefined ? null : checkDuration(v, bounds);
    if (r?.ok) return r.ms;
    ctx.addIssue({
      code: "custom",
      message: r === null ? `required field is missing: a duration like "3m"` : r.reason,
      input: v,
      params: { missing: v === undefined },
    });
    return z.NEVER;
  });
}
