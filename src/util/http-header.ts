/** HTTP header names and values checked as Node itself checks them before sending. */
import { validateHeaderName, validateHeaderValue } from "node:http";

/** Why `name: value` cannot be sent as a header, or null. Without `value`, the name only. */
export function headerProblem(name: string, value?: string): string | null {
  try {
    validateHeaderName(name);
  } catch {
    return `not a valid HTTP header name: ${JSON.stringify(name)}`;
  }
  if (value === undefined) return null;
  try {
    validateHeaderValue(name, value);
  } catch {
    return "not a valid HTTP header value (no line breaks or control characters)";
  }
  return null;
}
