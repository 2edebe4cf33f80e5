/**
 * Writing files without following a symbolic link planted in their place: reports, audit
 * logs, history. Whoever can write in the directory must not make vsteal (often root)
 * write through a link into /etc/shadow or a unit file.
 *
 * - New content replaces a file atomically: a fresh temporary file (O_EXCL|O_NOFOLLOW, so
 *   never an existing file or link) in the same directory, fsync, then rename — rename
 *   replaces a link itself, never its target.
 * - Appending (the audit log) and reopening opens with O_NOFOLLOW: a link fails with ELOOP.
 */
import { closeSync, constants, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { describeFsError } from "./bounded-read.js";

const { O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW, O_TRUNC, O_RDONLY, O_DIRECTORY } = constants;

export type NoFollowMode = "append" | "update" | "create-new" | "truncate";

const FLAGS: Readonly<Record<NoFollowMode, number>> = {
  /** Append to a file, creating it; never through a link. */
  append: O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW,
  /** Read and write an existing file; never through a link. */
  update: O_RDWR | O_NOFOLLOW,
  /** A new file that must not exist yet (not even as a dangling link). */
  "create-new": O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
  /** Create or empty a file; never through a link. */
  truncate: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
};

/** A write refused; the message names what and where, in words. */
export class SafeWriteError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "SafeWriteError";
  }
}

function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === "ELOOP")
    return "it is a symbolic link, and vsteal never writes through one: remove the link, or give the real path";
  return describeFsError(e);
}

/** openSync without following a link at `path`; throws SafeWriteError naming `what`. */
export function openNoFollow(path: string, mode: NoFollowMode, what: string, perm = 0o600): number {
  try {
    return openSync(path, FLAGS[mode], perm);
  } catch (e) {
    throw new SafeWriteError(`cannot write ${what} ${path}: ${reason(e)}`, (e as NodeJS.ErrnoException).code);
  }
}

/** fsync of a directory, so that a rename in it survives a crash; false where it cannot be (some file systems). */
export function fsyncDir(dir: string): boolean {
  try {
    const d = openSync(dir, O_RDONLY | O_DIRECTORY);
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
    return true;
  } catch {
    return false;
  }
}

/** The raw open flags, for callers that open files themselves (history). */
export const NOFOLLOW_FLAGS = FLAGS;

/**
 * Replaces `path` with `data` atomically, never writing through a link at `path` or at a
 * temporary name. Throws SafeWriteError naming `what`.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, what: string, perm = 0o644): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  const fd = openNoFollow(tmp, "create-new", what, perm);
  let done = false;
  try {
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    done = true;
    renameSync(tmp, path);
  } catch (e) {
    if (!done) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    if (e instanceof SafeWriteError) throw e;
    throw new SafeWriteError(`cannot write ${what} ${path}: ${reason(e)}`, (e as NodeJS.ErrnoException).code);
  }
  // The rename itself survives a crash only once the directory is on disk.
  fsyncDir(dirname(path));
}
