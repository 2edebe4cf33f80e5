/**
 * Keeping webhook secrets out of logs. A webhook is logged by its rule, its position and its
 * origin only (paths and query strings often carry tokens, e.g. Slack's), and every log line
 * is scrubbed of the secret strings of the configured webhooks as a second line of defence.
 */
import type { Webhook } from "./rules.js";

export const REDACTED = "[REDACTED]";

/** Headers whose values are harmless to show. Every other header value is a secret. */
const PUBLIC_HEADERS = new Set(["accept", "content-type", "user-agent"]);

/** "https://hooks.example.com" for any URL on that origin; "(invalid URL)" when it is none. */
export function webhookOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

/** The headers with every non-public value replaced by [REDACTED]. */
export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = PUBLIC_HEADERS.has(k.toLowerCase()) ? v : REDACTED;
  return out;
}

/** The strings of a webhook that must never appear in a log line. */
export function webhookSecrets(w: Webhook): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(w.headers)) {
    if (PUBLIC_HEADERS.has(k.toLowerCase())) continue;
    out.push(v);
    // "Bearer abc": the token alone is the secret too.
    const token = v.split(/\s+/).at(-1);
    if (token !== undefined && token !== v) out.push(token);
  }
  try {
    const u = new URL(w.url);
    out.push(w.url, u.href);
    if (u.username !== "") out.push(u.username);
    if (u.password !== "") out.push(u.password);
    if (u.search !== "") out.push(u.search.slice(1));
    for (const v of u.searchParams.values()) out.push(v);
    if (u.pathname !== "/") out.push(u.pathname);
  } catch {
    out.push(w.url);
  }
  // Short strings ("a", "1") would mangle innocent text; a secret that short protects nothing.
  return [...new Set(out)].filter((s) => s.length >= 6).sort((a, b) => b.length - a.length);
}

/** `line` with each secret (and its JSON-escaped form) replaced by [REDACTED]. */
export function scrub(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const s of secrets) {
    out = out.split(s).join(REDACTED);
    const escaped = JSON.stringify(s).slice(1, -1);
    if (escaped !== s) out = out.split(escaped).join(REDACTED);
  }
  return out;
}
