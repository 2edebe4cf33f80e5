/**
 * After a crash (kill -9, power loss) the controller may have left a migration behind: the
 * audit log says `migrate started` and nothing after it. libvirt carries a peer-to-peer
 * migration on without its client, so on start, before any audit, the controller looks each
 * such move up in libvirt: it waits while the migration job still runs on the source, then
 * records where the VM is — done (running on the target, gone from the source), interrupted
 * (still running on the source) or to be checked by a person — and ends the plan in the log.
 * A move found done starts its cooldowns like any other, so it is neither repeated nor
 * forgotten.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { AuditEntry, AuditSink } from "../migrate/audit-log.js";
import type { MigrationDriver } from "../migrate/driver.js";
import type { MigrateHosts } from "../migrate/hosts.js";
import { jobActive } from "../migrate/jobinfo.js";

/** Only the newest part of a long audit log is read: 8 MiB holds tens of thousands of entries. */
const TAIL_BYTES = 8 * 1024 * 1024;
const FINAL = new Set(["ok", "failed", "aborted", "skipped", "dry_run", "not_started"]);

export interface Unfinished {
  plan_id: string;
  move: number;
  vm: string;
  from: string;
  to: string;
  uuid: string | null;
  started: string;
  /** What the move was expected to do (the `started` entry's details), to judge it once settled. */
  expect: { before: { from: number; to: number }; predicted: { from: number; to: number } } | null;
}

export interface Reconciled extends Unfinished {
  result: "ok" | "failed";
  reason: string;
  /** When it was found done (ms), for cooldowns. */
  atMs: number;
}

/** The newest entries of the audit log (a torn last line after a crash is skipped). */
export function readAuditTail(path: string): AuditEntry[] {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    let lines = buf.subarray(0, got).toString("utf8").split("\n");
    if (start > 0) lines = lines.slice(1); // the first line was cut
    const out: AuditEntry[] = [];
    for (const l of lines) {
      if (l.trim() === "") continue;
      try {
        const e = JSON.parse(l) as AuditEntry;
        if (e && typeof e === "object" && typeof e.action === "string") out.push(e);
      } catch {
        // a line torn by the crash
      }
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Migrations the log shows started and never ended. */
export function unfinishedMoves(entries: readonly AuditEntry[]): Unfinished[] {
  const open = new Map<string, Unfinished>();
  for (const e of entries) {
    if (e.action !== "migrate" || e.move === null || !e.vm || !e.from || !e.to) continue;
    const k = `${e.plan_id}\u0000${e.move}`;
    if (e.result === "started") {
      const uuid = typeof e.details?.uuid === "string" ? e.details.uuid : null;
      open.set(k, {
        plan_id: e.plan_id,
        move: e.move,
        vm: e.vm,
        from: e.from,
        to: e.to,
        uuid,
        started: e.time,
        expect: expectOf(e.details?.expect),
      });
    } else if (FINAL.has(e.result)) open.delete(k);
  }
  return [...open.values()];
}

function expectOf(x: unknown): Unfinished["expect"] {
  const pair = (p: unknown): { from: number; to: number } | null => {
    const o = p as { from?: unknown; to?: unknown } | null;
    return o &&
      typeof o.from === "number" &&
      typeof o.to === "number" &&
      Number.isFinite(o.from) &&
      Number.isFinite(o.to)
      ? { from: o.from, to: o.to }
      : null;
  };
  const o = x as { before?: unknown; predicted?: unknown } | null;
  const before = pair(o?.before);
  const predicted = pair(o?.predicted);
  return before && predicted ? { before, predicted } : null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ReconcileOptions {
  hosts: MigrateHosts;
  driver: MigrationDriver;
  audit: AuditSink;
  auditLogPath: string;
  /** How long to wait for a migration still running. Default 10 min. */
  waitMs?: number;
  pollMs?: number;
  log?: (line: string) => void;
  now?: () => number;
}

export async function reconcile(o: ReconcileOptions): Promise<Reconciled[]> {
  const now = o.now ?? Date.now;
  const log = o.log ?? (() => undefined);
  const out: Reconciled[] = [];
  const todo = unfinishedMoves(readAuditTail(o.auditLogPath));
  const plans = new Set<string>();
  for (const u of todo) {
    const t0 = now();
    const write = (result: "ok" | "failed", reason: string): void => {
      o.audit.write({
        time: new Date(now()).toISOString(),
        actor: "controller (after restart)",
        action: "migrate",
        plan_id: u.plan_id,
        move: u.move,
        vm: u.vm,
        from: u.from,
        to: u.to,
        result,
        reason,
        duration_ms: null,
        details: { uuid: u.uuid, reconciled: true, started: u.started },
      });
      out.push({ ...u, result, reason, atMs: now() });
      plans.add(u.plan_id);
      log(`reconcile: ${u.vm} ${u.from}→${u.to} (${u.plan_id}): ${result}: ${reason}`);
    };
    const from = o.hosts.endpoint(u.from);
    const to = o.hosts.endpoint(u.to);
    if (!from || !to) {
      write(
        "failed",
        `interrupted by a controller restart; ${!from ? u.from : u.to} has no URI in the hosts file any more: check where ${u.vm} runs`,
      );
      continue;
    }
    try {
      // A migration still under way on the source: wait for it to end, as a person would.
      const deadline = t0 + (o.waitMs ?? 600_000);
      let waited = false;
      for (;;) {
        const src = await o.driver.find(from, u.vm).catch(() => null);
        if (!src || now() >= deadline) break;
        const job = await o.driver.jobInfo(from, src.uuid);
        if (!job || !jobActive(job)) break;
        waited = true;
        await sleep(o.pollMs ?? 500);
      }
      const [onSrc, onDst] = await Promise.all([o.driver.find(from, u.vm), o.driver.find(to, u.vm)]);
      const same = (d: { uuid: string } | null) => d !== null && (u.uuid === null || d.uuid === u.uuid);
      const w = waited ? " (its job ran on after the restart; waited for it)" : "";
      if (same(onDst) && onDst!.state === "running" && !onSrc)
        write("ok", `completed while the controller was down${w}: running on ${u.to}, gone from ${u.from}`);
      else if (same(onSrc) && onSrc!.state === "running" && !onDst)
        write("failed", `interrupted by a controller restart${w}: ${u.vm} still running on ${u.from}, not on ${u.to}`);
      else {
        const where = [
          onSrc ? `${onSrc.state} on ${u.from}` : `not on ${u.from}`,
          onDst ? `${onDst.state} on ${u.to}` : `not on ${u.to}`,
        ].join(", ");
        write("failed", `interrupted by a controller restart${w}: ${u.vm} is ${where}: check it`);
      }
    } catch (e) {
      write(
        "failed",
        `interrupted by a controller restart; looking it up failed: ${e instanceof Error ? e.message : String(e)}: check where ${u.vm} runs`,
      );
    }
  }
  for (const p of plans) {
    const mine = out.filter((r) => r.plan_id === p);
    o.audit.write({
      time: new Date(now()).toISOString(),
      actor: "controller (after restart)",
      action: "plan_end",
      plan_id: p,
      move: null,
      vm: null,
      from: null,
      to: null,
      result: mine.every((r) => r.result === "ok") ? "ok" : "failed",
      reason: `reconciled after a restart: ${mine.map((r) => `${r.vm} ${r.result}`).join(", ")}`,
      duration_ms: null,
    });
  }
  return out;
}
