/**
 * Bounded reads: every file vsteal reads on a person's say-so (token files, config files,
 * snapshots, plans, hosts files) and every HTTP body it reads (webhook replies) goes through
 * here, with a size limit and a one-line message naming what was read. `/dev/zero` as a
 * token file fails after the limit, not after filling memory.
 *
 * Reading stops at `limit + 1` bytes: nothing bigger than the limit is ever held.
 */
import { closeSync, openSync, readSync } from "node:fs";

/** Limits used across vsteal, in bytes. */
export const LIMITS = {
  /** A bearer token file: one line. */
  token: 4 * 1024,
  /** A YAML/JSON config file (alert rules, web config, hosts files). */
  config: 4 * 1024 * 1024,
  /** A TLS certificate, key or CA bundle. */
  pem: 1024 * 1024,
  /** A fleet snapshot or a plan (JSON). 64 MiB holds ~200 000 VMs. */
  fleetJson: 64 * 1024 * 1024,
  /** What a webhook answers: read only to release the connection and to quote in errors. */
  webhookReply: 64 * 1024,
} as const;

/** A read refused: too big, or the file could not be read. The message names `what` and the path. */
export class BoundedReadError extends Error {
  readonly code: "too_large" | "unreadable";
  constructor(code: "too_large" | "unreadable", message: string) {
    super(message);
    this.name = "BoundedReadError";
    this.code = code;
  }
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

const FS_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "it is a directory",
  ENOTDIR: "a part of the path is not a directory",
  ELOOP: "too many symbolic links (or a symbolic link where none is allowed)",
  EMFILE: "too many open files in this process: raise its limit (ulimit -n, LimitNOFILE=)",
  ENFILE: "too many open files on this system",
  EIO: "input/output error (failing disk or network file system?)",
  EEXIST: "it already exists",
  ENOSPC: "no space left on the device",
  EROFS: "the file system is read-only",
  EDQUOT: "disk quota exceeded",
  ENAMETOOLONG: "the path is too long",
  ESRCH: "no such process",
};

/**
 * A file-system error as a person reads it: "permission denied (EACCES)", not
 * "EACCES: permission denied, open '/etc/x'" (the code stays, last, for searching).
 * Unknown errors keep their message.
 */
export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code === "string" && FS_ERRORS[code] !== undefined) return `${FS_ERRORS[code]} (${code})`;
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/^[A-Z][A-Z0-9_]+: /, "").replace(/, \w+ '[^']*'$/, "");
}

/** describeFsError with the path the error names, when it names one: "no space left on the device: /var/lib/vsteal/x". */
export function describeFsErrorAt(e: unknown): string {
  const path = (e as NodeJS.ErrnoException | null)?.path;
  const text = describeFsError(e);
  return typeof path === "string" && !text.includes(path) ? `${text}: ${path}` : text;
}

/**
 * The bytes of `path`, at most `limit` of them; throws BoundedReadError (only) naming `what`:
 * "the token file /etc/t is larger than 4 KiB: …". Works on devices and pipes too (it reads,
 * it does not trust a size from stat).
 */
export function readFileBounded(path: string, limit: number, what: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new BoundedReadError("unreadable", `cannot read ${what} ${path}: ${describeFsError(e)}`);
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.allocUnsafe(Math.min(limit + 1, 64 * 1024));
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, chunk, 0, Math.min(chunk.length, limit + 1 - total), null);
      } catch (e) {
        throw new BoundedReadError("unreadable", `cannot read ${what} ${path}: ${describeFsError(e)}`);
      }
      if (n === 0) break;
      chunks.push(Buffer.from(chunk.subarray(0, n)));
      total += n;
      if (total > limit) {
        throw new BoundedReadError(
          "too_large",
          `${what} ${path} is larger than ${formatBytes(limit)}, the most vsteal reads: is it the right file?`,
        );
      }
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** readFileBounded as UTF-8 text. */
export function readTextFileBounded(path: string, limit: number, what: string): string {
  return readFileBounded(path, limit, what).toString("utf8");
}

/** The part of a fetch Response (or any web stream body) read here. */
export interface StreamBody {
  getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(reason?: unknown): Promise<void> };
}

/**
 * At most `limit` bytes of an HTTP body as text. Past the limit the rest is cancelled (the
 * connection is released) and, with `onOver: "truncate"`, what was read is returned with
 * `truncated: true`; with "throw" (the default) a BoundedReadError naming `what` is thrown.
 */
export async function readBodyBounded(
  body: StreamBody | null | undefined,
  limit: number,
  what: string,
  onOver: "throw" | "truncate" = "throw",
): Promise<{ text: string; truncated: boolean }> {
  if (!body) return { text: "", truncated: false };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done || value === undefined) break;
    const room = limit - total;
    if (value.length > room) {
      if (room > 0) chunks.push(value.subarray(0, room));
      total += Math.max(0, room);
      await reader.cancel("too large").catch(() => undefined);
      if (onOver === "throw")
        throw new BoundedReadError("too_large", `${what} is larger than ${formatBytes(limit)}, the most vsteal reads`);
      return { text: Buffer.concat(chunks).toString("utf8"), truncated: true };
    }
    chunks.push(value);
    total += value.length;
  }
  return { text: Buffer.concat(chunks).toString("utf8"), truncated: false };
}
