/**
 * Text for a terminal, for `vsteal top` (pure): how many columns a string takes (wide and
 * zero-width characters, SGR colour codes not counted), cutting to a width, and SGR styles.
 */

/* eslint-disable no-control-regex */
const ANSI = /\u001b\[[0-9;]*m/g;
const ANSI_AT_START = /^\u001b\[[0-9;]*m/;
/* eslint-enable no-control-regex */

/** Columns a code point takes in a terminal: 0 for combining and zero-width, 2 for wide. */
function cpWidth(cp: number, ch: string): number {
  if (cp === 0x200b || cp === 0x200c || cp === 0x200d || cp === 0xfeff || /\p{M}/u.test(ch)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd) ||
    /\p{Emoji_Presentation}/u.test(ch)
  )
    return 2;
  return 1;
}

/** Columns `s` takes on a terminal, SGR colour codes not counted. */
export function visibleWidth(s: string): number {
  let w = 0;
  for (const ch of s.replace(ANSI, "")) w += cpWidth(ch.codePointAt(0) ?? 0, ch);
  return w;
}

/** Plain text (no escapes) cut to `width` columns, ending in … when cut. */
export function truncate(s: string, width: number): string {
  if (width <= 0) return "";
  if (visibleWidth(s) <= width) return s;
  let out = "";
  let w = 0;
  for (const ch of s) {
    const cw = cpWidth(ch.codePointAt(0) ?? 0, ch);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

export const padEnd = (s: string, width: number): string => s + " ".repeat(Math.max(0, width - visibleWidth(s)));
export const padStart = (s: string, width: number): string => " ".repeat(Math.max(0, width - visibleWidth(s))) + s;

/** A line with SGR codes cut to `width` visible columns; colour is reset if it was cut. */
export function clipLine(line: string, width: number): string {
  if (visibleWidth(line) <= width) return line;
  let out = "";
  let w = 0;
  let i = 0;
  while (i < line.length) {
    if (line[i] === "\u001b") {
      const m = ANSI_AT_START.exec(line.slice(i));
      if (m) {
        out += m[0];
        i += m[0].length;
        continue;
      }
    }
    const ch = String.fromCodePoint(line.codePointAt(i) ?? 0x3f);
    const cw = cpWidth(ch.codePointAt(0) ?? 0, ch);
    if (w + cw > width) break;
    out += ch;
    w += cw;
    i += ch.length;
  }
  return out.includes("\u001b") ? `${out}\u001b[0m` : out;
}

const SGR = {
  bold: ["1", "22"],
  reverse: ["7", "27"],
  yellow: ["33", "39"],
  red: ["31", "39"],
  magenta: ["35", "39"],
} as const;
export type Style = keyof typeof SGR;

/** `text` in `style` when `on`; as it is otherwise. */
export function paint(on: boolean, style: Style | null, text: string): string {
  if (!on || style === null) return text;
  const [a, b] = SGR[style];
  return `\u001b[${a}m${text}\u001b[${b}m`;
}
