/**
 * One bounded, printable value type for everything a platform's metadata says about a VM: a
 * domain's `<metadata>` or a Proxmox config is written by whoever created the VM, so a value
 * may hold control characters, bidi overrides or ten kilobytes. Pure.
 */

/** Longest value kept, in characters (code points); longer ones are cut with a warning. */
export const MAX_VALUE_CHARS = 256;

/** C0 and C1 controls, DEL, and the bidirectional overrides/isolates that reorder shown text. */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;

export interface Bounded {
  value: string;
  /** Why the value differs from what was read, or null. */
  warning: string | null;
}

/**
 * Trims, replaces unprintable characters by U+FFFD and cuts to `max` code points (never in the
 * middle of a surrogate pair). `what` names the field in the warning ("nova:name").
 */
export function boundValue(raw: string, what: string, max = MAX_VALUE_CHARS): Bounded {
  const notes: string[] = [];
  let v = raw.trim();
  if (UNPRINTABLE.test(v)) {
    UNPRINTABLE.lastIndex = 0;
    v = v.replace(UNPRINTABLE, "\uFFFD");
    notes.push("control characters replaced by \uFFFD");
  }
  UNPRINTABLE.lastIndex = 0;
  const chars = [...v];
  if (chars.length > max) {
    v = `${chars.slice(0, max - 1).join("")}…`;
    notes.push(`${chars.length} characters long, cut to ${max}`);
  }
  return { value: v, warning: notes.length ? `${what}: ${notes.join("; ")}` : null };
}

/** Collects the warnings of several bounded values. */
export class Warnings {
  readonly list: string[] = [];
  /** The bounded value, or undefined for a missing or empty one. */
  take(raw: string | null | undefined, what: string): string | undefined {
    if (raw === null || raw === undefined) return undefined;
    const b = boundValue(raw, what);
    if (b.warning) this.list.push(b.warning);
    return b.value === "" ? undefined : b.value;
  }
  /** A whole number in [min, max] from text, or undefined (with a warning when it is not one). */
  int(raw: string | null | undefined, what: string, min: number, max: number): number | undefined {
    return this.num(raw, what, min, max, true);
  }
  num(raw: string | null | undefined, what: string, min: number, max: number, whole = false): number | undefined {
    if (raw === null || raw === undefined || raw.trim() === "") return undefined;
    const t = raw.trim();
    const n = Number(t);
    const ok = (whole ? /^\d{1,12}$/ : /^\d{1,12}(\.\d{1,6})?$/).test(t) && n >= min && n <= max;
    if (!ok) {
      this.list.push(
        `${what}: expected ${whole ? "a whole number" : "a number"} from ${min} to ${max}, got ${JSON.stringify(boundValue(t, what, 40).value)}; ignored`,
      );
      return undefined;
    }
    return n;
  }
}
