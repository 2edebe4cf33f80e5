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
