/**
 * The migration audit log: one JSON object per line, appended and fsync'ed before the action
 * it records is reported done, so that a crash never loses what was already done to the fleet.
 * Every action and its outcome: who, what, when, which plan and move, result, reason, duration.
 */
import { closeSync, constants as fsc, fstatSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from "node:fs";
import { SafeWriteError, openNoFollow } from "../util/safe-write.js";
import { describeFsError } from "../util/bounded-read.js";
import { dirname } from "node:path";
import { jsonLine } from "../util/json.js";

export type AuditResult =
  | "started"
  | "ok"
  | "failed"
  | "aborted"
  | "skipped"
  | "dry_run"
  | "not_started"
  | "approved"
  | "rejected"
  | "waiting_approval"
  | "helped"
  | "no_effect"
  | "hurt"
  | "inconclusive"
  | "unblocked";

export interface AuditEntry {
  /** ISO 8601 time of the entry. */
  time: string;
  /** Who: user@host, or "controller". */
  actor: string;
  /** What: plan_start, recheck, migrate, verify, plan_end, approve… */
  action: string;
  plan_id: string;
  /** Index of the move in the plan (null for plan-wide entries). */
  move: number | null;
  vm: string | null;
  from: string | null;
  to: string | null;
  result: AuditResult;
  reason: string;
  duration_ms: number | null;
  /** Anything else worth keeping (bytes sent, the virsh command line…). */
  details?: Record<string, unknown>;
}

export interface AuditSink {
  write(e: AuditEntry): void;
}

/** Appends to a file (mode 0600), fsync after every line; never through a symbolic link. */
export class FileAuditLog implements AuditSink {
  constructor(readonly path: string) {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (e) {
      throw new SafeWriteError(
        `cannot write the audit log ${path}: cannot create ${dirname(path)}: ${describeFsError(e)}`,
        (e as NodeJS.ErrnoException).code,
      );
    }
    // Fail now, not in the middle of a migration.
    closeSync(openNoFollow(path, "append", "the audit log"));
    // A line torn by a crash is ended, so the next entry starts on a line of its own.
    const rd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    let torn = false;
    try {
      const size = fstatSync(rd).size;
      const last = Buffer.alloc(1);
      torn = size > 0 && readSync(rd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a;
    } finally {
      closeSync(rd);
    }
    if (torn) {
      const fd = openNoFollow(path, "append", "the audit log");
      try {
        writeSync(fd, "\n");
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }

  write(e: AuditEntry): void {
    const fd = openNoFollow(this.path, "append", "the audit log");
    try {
      writeSync(fd, `${jsonLine(e)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

export class MemoryAuditLog implements AuditSink {
  readonly entries: AuditEntry[] = [];
  write(e: AuditEntry): void {
    this.entries.push(e);
  }
}
