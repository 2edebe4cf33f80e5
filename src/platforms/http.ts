/**
 * The HTTP the platform drivers speak: JSON over fetch, a timeout per request, bounded answers,
 * and errors that say which API answered what. Headers (tokens) never appear in a message.
 */
import { boundValue } from "./values.js";

export class PlatformApiError extends Error {
  constructor(
    /** HTTP status, or null when there was no answer. */
    readonly status: number | null,
    message: string,
  ) {
    super(message);
    this.name = "PlatformApiError";
  }
}

export interface ApiAnswer {
  status: number;
  statusText: string;
  headers: Headers;
  /** Parsed JSON, or null when the body is empty or not JSON. */
  body: unknown;
}

export interface RequestOptions {
  method?: "GET" | "POST" | "DELETE";
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

/** Longest answer read. */
const MAX_BODY = 8 * 1024 * 1024;

/** The URL without query and credentials, for messages. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(bad URL)";
  }
}

/** One request; rejects with PlatformApiError only when nothing (or garbage) came back. */
export async function request(what: string, url: string, o: RequestOptions): Promise<ApiAnswer> {
  const method = o.method ?? "GET";
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(url, {
      method,
      headers: o.headers,
      body: o.body,
      signal: AbortSignal.timeout(o.timeoutMs),
      redirect: "error",
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === "TimeoutError")
      throw new PlatformApiError(
        null,
        `${what} did not answer within ${o.timeoutMs / 1000} s (${method} ${shownUrl(url)})`,
      );
    const cause = err.cause?.code ?? err.cause?.message ?? err.message;
    throw new PlatformApiError(null, `${what} is unreachable (${method} ${shownUrl(url)}): ${cause}`);
  }
  let text = "";
  try {
    text = await res.text();
  } catch (e) {
    throw new PlatformApiError(
      res.status,
      `${what}: the answer to ${method} ${shownUrl(url)} broke off: ${(e as Error).message}`,
    );
  }
  if (text.length > MAX_BODY) text = text.slice(0, MAX_BODY);
  let body: unknown = null;
  if (text.trim() !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  return { status: res.status, statusText: res.statusText, headers: res.headers, body };
}

/**
 * The message an API put in its error answer: Nova's `{"badRequest": {"message": …}}`,
 * Keystone's `{"error": {"message": …}}`, Proxmox's `{"message": …, "errors": {field: …}}` or
 * its status line; bounded and free of control characters.
 */
export function apiMessage(a: ApiAnswer): string {
  const parts: string[] = [];
  const b = a.body;
  if (b && typeof b === "object") {
    const o = b as Record<string, unknown>;
    if (typeof o.message === "string") parts.push(o.message);
    for (const v of Object.values(o)) {
      if (v && typeof v === "object" && typeof (v as { message?: unknown }).message === "string")
        parts.push((v as { message: string }).message);
    }
    if (o.errors && typeof o.errors === "object") {
      for (const [k, v] of Object.entries(o.errors as Record<string, unknown>)) parts.push(`${k}: ${String(v)}`);
    }
  }
  if (parts.length === 0 && a.statusText) parts.push(a.statusText);
  const msg =
    parts
      .map((p) => p.trim())
      .filter((p) => p !== "")
      .join("; ") || "no message";
  return `${a.status} ${boundValue(msg.replace(/\s+/g, " "), "message", 300).value}`;
}
