/**
 * The maintenance file: which hosts are drained (`vsteal drain`), shared by the CLI and the
 * controller, kept across restarts. JSON, documented in docs/maintenance.md:
 *
 * ```json
 * { "version": 1,
 *   "hosts": { "hv01": { "since": "2026-12-01T15:00:00.000Z", "by": "alice@ops1", "reason": "BIOS update" } } }
 * ```
 *
 * - Read with a bounded reader (at most MAX_BYTES) that never follows a symlink; a missing file
 *   is "no host drained"; anything else wrong is a MaintenanceError naming the file and field.
 * - Written atomically: a new file beside it (O_EXCL, never through a symlink), fsync, rename
 *   over the old one, fsync of the directory — a crash leaves the old state or the new, never half.
 * - Changes are read-modify-write under a lock file (`FILE.lock`, O_EXCL), so a drain from the
 *   CLI and one through the controller's API never lose each other's host.
 */
import { hostNameSchema as fleetHostNameSchema } from "../model/host-name.js";
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { describeValue, formatPath } from "../validation/wording.js";
import { SafeWriteError, writeFileAtomic } from "../util/safe-write.js";

export { DEFAULT_MAINTENANCE_FILE } from "./defaults.js";
/** Far more than any fleet's drained hosts need; a bigger file is refused, not read. */
export const MAX_BYTES = 1024 * 1024;
/** A lock older than this is left over by a crashed process and is broken. */
const STALE_LOCK_MS = 60_000;
const LOCK_WAIT_MS = 10_000;

export class MaintenanceError extends Error {}

export interface MaintenanceEntry {
  /** When the host was drained (ISO 8601). */
  since: string;
  /** Who drained it: user@host, or the controller's API. */
  by: string;
  reason: string | null;
}

export interface MaintenanceState {
  version: 1;
  hosts: Record<string, MaintenanceEntry>;
}

/** A host name as everywhere in vsteal (src/model/host-name.ts), and never `__proto__` (a key of the file's map). */
export const hostNameSchema = fleetHostNameSchema.refine((s) => s !== "__proto__", {
  message: "is not a usable host name",
});

const entrySchema = z.object({
  since: z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: "expected an ISO 8601 time" }),
  by: z.string().max(500),
  reason: z.string().max(2000).nullable().default(null),
});

const stateSchema = z.object({
  version: z.literal(1),
  hosts: z
    .record(hostNameSchema, entrySchema)
    .refine((h) => Object.keys(h).length <= 100_000, { message: "too many hosts" }),
});

export const emptyMaintenance = (): MaintenanceState => ({
  version: 1,
  hosts: Object.create(null) as Record<string, MaintenanceEntry>,
});

const errMsg = (e: unknown): string => (e instanceof Error ? e.message.replace(/^[A-Z]+: /, "") : String(e));

/** Parses the file's text; `file` names it in messages. */
export function parseMaintenance(text: string, file: string): MaintenanceState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new MaintenanceError(`${file}: not valid JSON (${errMsg(e)}): fix it, or remove it to undrain every host`);
  }
  const r = stateSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const field = formatPath(i.path as (string | number)[]) || "(top level)";
    let value: unknown = json;
    for (const seg of i.path)
      value = value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[seg] : undefined;
    throw new MaintenanceError(
      `${file}: ${field}: ${i.message} (got ${describeValue(value)}); the format is in docs/maintenance.md`,
    );
  }
  const hosts = Object.create(null) as Record<string, MaintenanceEntry>;
  for (const [name, e] of Object.entries(r.data.hosts)) hosts[name] = { since: e.since, by: e.by, reason: e.reason };
  return { version: 1, hosts };
}

/** The current state: a missing file is no drained host. Never follows a symlink. */
export function readMaintenance(file: string): MaintenanceState {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return emptyMaintenance();
    if (code === "ELOOP")
      throw new MaintenanceError(
        `${file} is a symbolic link: vsteal does not follow it; replace it with the file itself`,
      );
    throw new MaintenanceError(`cannot read the maintenance file ${file}: ${errMsg(e)}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new MaintenanceError(`${file} is not a regular file`);
    if (st.size > MAX_BYTES)
      throw new MaintenanceError(`${file} is ${st.size} bytes, more than ${MAX_BYTES}: not a maintenance file?`);
    const buf = Buffer.alloc(MAX_BYTES + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > MAX_BYTES) throw new MaintenanceError(`${file} grew past ${MAX_BYTES} bytes while being read`);
    }
    return parseMaintenance(buf.subarray(0, n).toString("utf8"), file);
  } finally {
    closeSync(fd);
  }
}

/** Writes the state atomically (temp file, fsync, rename, fsync of the directory; never through a link). */
export function writeMaintenance(file: string, state: MaintenanceState): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`, "the maintenance file", 0o644);
  } catch (e) {
    throw new MaintenanceError(
      e instanceof SafeWriteError ? e.message : `cannot write the maintenance file ${file}: ${errMsg(e)}`,
    );
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function withLock<T>(file: string, fn: () => T): Promise<T> {
  const lock = `${file}.lock`;
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  const t0 = Date.now();
  for (;;) {
    try {
      const fd = openSync(
        lock,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o644,
      );
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST")
        throw new MaintenanceError(`cannot lock the maintenance file (${lock}): ${errMsg(e)}`);
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) unlinkSync(lock);
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() - t0 > LOCK_WAIT_MS)
        throw new MaintenanceError(
          `the maintenance file is locked by another vsteal (${lock}) for more than ${LOCK_WAIT_MS / 1000} s: try again, or remove the lock if no vsteal runs`,
        );
      await sleep(50);
    }
  }
  try {
    return fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      /* broken as stale by someone else */
    }
  }
}

/** Read, change, write, under the lock. Returns the new state. */
export function updateMaintenance(
  file: string,
  change: (s: MaintenanceState) => MaintenanceState,
): Promise<MaintenanceState> {
  return withLock(file, () => {
    const next = change(readMaintenance(file));
    writeMaintenance(file, next);
    return next;
  });
}

/** Marks `host` drained (keeps the first `since` if it already was). */
export async function drainHost(
  file: string,
  host: string,
  by: string,
  reason: string | null,
  now = new Date(),
): Promise<MaintenanceState> {
  checkHostName(host);
  return updateMaintenance(file, (s) => {
    if (Object.hasOwn(s.hosts, host)) return s;
    const hosts = Object.assign(Object.create(null) as Record<string, MaintenanceEntry>, s.hosts);
    hosts[host] = { since: now.toISOString(), by, reason };
    return { version: 1, hosts };
  });
}

/** Takes `host` out of maintenance. `was`: whether it was drained. */
export async function undrainHost(file: string, host: string): Promise<{ state: MaintenanceState; was: boolean }> {
  checkHostName(host);
  let was = false;
  const state = await updateMaintenance(file, (s) => {
    was = Object.hasOwn(s.hosts, host);
    const hosts = Object.assign(Object.create(null) as Record<string, MaintenanceEntry>, s.hosts);
    delete hosts[host];
    return { version: 1, hosts };
  });
  return { state, was };
}

export function checkHostName(host: string): void {
  const r = hostNameSchema.safeParse(host);
  if (!r.success) throw new MaintenanceError(`host name ${describeValue(host)}: ${r.error.issues[0]!.message}`);
}
