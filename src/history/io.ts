/**
 * The file system calls of the history that tests replace to simulate a full disk, and the
 * helpers for atomic replacement and for setting damaged files aside.
 */
import * as fs from "node:fs";
import type { FileHandle } from "node:fs/promises";
import * as fsp from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { describeFsErrorAt } from "../util/bounded-read.js";

export interface HistoryIo {
  /** Writes all of `buf` at `position` of a snapshot being written. */
  write(fh: FileHandle, buf: Uint8Array, position: number): Promise<void>;
  /** Writes all of `buf` at `position` of the journal (synchronously: a frame is appended whole before the next one). */
  writeSync(fd: number, buf: Uint8Array, position: number): void;
}

export const nodeIo: HistoryIo = {
  async write(fh, buf, position) {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off);
      if (bytesWritten <= 0) throw new Error("write made no progress");
      off += bytesWritten;
    }
  },
  writeSync(fd, buf, position) {
    let off = 0;
    while (off < buf.length) {
      const n = fs.writeSync(fd, buf, off, buf.length - off, position + off);
      if (n <= 0) throw new Error("write made no progress");
      off += n;
    }
  },
};

/** errno code of a Node system error, if any. */
export function errCode(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "code" in e) {
    const c = (e as { code: unknown }).code;
    if (typeof c === "string") return c;
  }
  return undefined;
}

/** A message for people: system errors in words ("no space left on the device: PATH"), not "ENOSPC: …". */
export function errMessage(e: unknown): string {
  if (errCode(e) !== undefined && (e as NodeJS.ErrnoException).syscall !== undefined) return describeFsErrorAt(e);
  return e instanceof Error ? e.message : String(e);
}

/** fsync a directory so that a rename in it is durable; platforms that cannot are ignored. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | null = null;
  try {
    fh = await fsp.open(dir, "r");
    await fh.sync();
  } catch (e) {
    const code = errCode(e);
    if (code !== "EISDIR" && code !== "EINVAL" && code !== "EPERM" && code !== "EBADF") throw e;
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** `2025-01-31T12-00-00.123Z`: sortable, and no colons (awkward on some file systems). */
export function fileStamp(ms: number): string {
  let d = new Date(ms);
  if (Number.isNaN(d.getTime())) d = new Date();
  return d.toISOString().replace(/:/g, "-");
}

/**
 * Renames a damaged (or unreadable) file to `<path>.corrupt-<timestamp>` (`.unreadable-…`) and deletes the oldest such files
 * beyond `keep`. Returns the new path, or throws when the rename itself failed.
 */
export async function setAside(
  path: string,
  nowMs: number,
  keep: number,
  label: "corrupt" | "unreadable" = "corrupt",
): Promise<string> {
  let target = `${path}.${label}-${fileStamp(nowMs)}`;
  for (let i = 1; fs.existsSync(target); i++) target = `${path}.${label}-${fileStamp(nowMs)}-${i}`;
  await fsp.rename(path, target);
  await fsyncDir(dirname(path)).catch(() => undefined);
  const prefix = `${basename(path)}.${label}-`;
  const old = (await fsp.readdir(dirname(path)).catch(() => [] as string[])).filter((n) => n.startsWith(prefix)).sort();
  for (const name of old.slice(0, Math.max(0, old.length - keep))) {
    await fsp.unlink(join(dirname(path), name)).catch(() => undefined);
  }
  return target;
}
