/**
 * Carries out a plan's moves through libvirt, in plan order: one at a time by default, at most
 * `limits.perHost` migrations touching any one host and `limits.fleet` in all. Before each move
 * a recheck on fresh data may skip it; during it the migration job is polled for progress; a
 * migration that outlives its timeout has its job aborted, which leaves the VM running on its
 * source; afterwards the VM must run on the target and be gone from the source. Every step goes
 * to the audit log. A failed move stops the moves not yet started (unless keepGoing): later
 * moves were planned on the placement it was to leave.
 */
import type { Plan, PlanMove } from "../model/fleet.js";
import type { AuditEntry, AuditResult, AuditSink } from "./audit-log.js";
import { HostUnreachableError, type DomainRef, type MigrationDriver, type TargetXml } from "./driver.js";
import type { HostEndpoint, MigrateHosts } from "./hosts.js";
import { jobActive, type JobProgress } from "./jobinfo.js";
import { canonicalCpus, PlacementError, placementOf, rewritePlacement, sharedCpuSet } from "./placement.js";

/** After a timeout, domjobabort is retried this often, this far apart, while no job exists yet. */
const ABORT_RETRIES = 100;
const ABORT_RETRY_MS = 100;
export type RecheckResult = { ok: true; note?: string } | { ok: false; reason: string };
export type Recheck = (move: PlanMove, index: number) => Promise<RecheckResult>;

export type MoveResult = "ok" | "failed" | "aborted" | "skipped" | "dry_run" | "not_started";

export interface MoveOutcome {
  index: number;
  move: PlanMove;
  result: MoveResult;
  reason: string;
  durationMs: number;
  /** When it ended (ms since the epoch); null when not started. */
  endedMs: number | null;
  /** Bytes sent, from the last job info seen. */
  bytes: number | null;
}

export interface ExecuteOptions {
  planId: string;
  hosts: MigrateHosts;
  driver: MigrationDriver;
  audit: AuditSink;
  /** Who: user@host, "controller"… */
  actor: string;
  dryRun?: boolean;
  /** null: no recheck (the caller said so explicitly). */
  recheck: Recheck | null;
  /** Per migration; default the hosts file's, else 600 s. */
  timeoutMs?: number;
  /** How often the job is polled. Default 500 ms. */
  pollMs?: number;
  /** Concurrency; default the hosts file's limits. */
  limits?: { perHost: number; fleet: number };
  keepGoing?: boolean;
  /**
   * The CPUs a host's VMs may use (its agent's `vsteal_host_vm_cpus_info`, in the snapshot as
   * `vm_cpus`), for hosts whose hosts-file entry has no `vm_cpus`. A VM moved to a host with a
   * known set gets its placement rewritten for it, live and persistent.
   */
  vmCpus?: (host: string) => string | null;
  onProgress?: (index: number, move: PlanMove, p: JobProgress, elapsedMs: number) => void;
  /** Extra details for a move's `started` entry in the audit log (what a restart needs to know). */
  startDetails?: (index: number) => Record<string, unknown> | undefined;
  /** Called as each move ends (before later moves start). */
  onOutcome?: (o: MoveOutcome) => void;
  log?: (line: string) => void;
  now?: () => number;
}

export interface ExecuteResult {
  planId: string;
  outcomes: MoveOutcome[];
  /** 0: every move ok (or dry run / skipped by recheck); otherwise how many failed or were aborted. */
  failures: number;
}

/** A short stable id of a plan: the sha256 of its JSON, or its own `id` field if it has one. */
export async function planId(plan: Plan & { id?: unknown }): Promise<string> {
  if (typeof plan.id === "string" && plan.id !== "") return plan.id;
  const { createHash } = await import("node:crypto");
  return createHash("sha256")
    .update(JSON.stringify({ moves: plan.moves, predicted: plan.predicted }))
    .digest("hex")
    .slice(0, 12);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function executePlan(plan: Plan, o: ExecuteOptions): Promise<ExecuteResult> {
  const now = o.now ?? Date.now;
  const limits = o.limits ?? o.hosts.limits;
  const timeoutMs = o.timeoutMs ?? (o.hosts.timeoutS ?? 600) * 1000;
  const pollMs = o.pollMs ?? 500;
  const log = o.log ?? (() => undefined);
  const write = (e: Omit<AuditEntry, "time" | "actor" | "plan_id">): void =>
    o.audit.write({ time: new Date(now()).toISOString(), actor: o.actor, plan_id: o.planId, ...e });
  const t0 = now();
  write({
    action: "plan_start",
    move: null,
    vm: null,
    from: null,
    to: null,
    result: "started",
    reason: `${plan.moves.length} move(s)${o.dryRun ? ", dry run" : ""}; recheck ${o.recheck ? "on" : "off (--no-recheck)"}; timeout ${timeoutMs / 1000} s; limits ${limits.perHost}/host, ${limits.fleet}/fleet`,
    duration_ms: null,
  });

  const outcomes: MoveOutcome[] = plan.moves.map((move, index) => ({
    index,
    move,
    result: "not_started",
    reason: "",
    durationMs: 0,
    endedMs: null,
    bytes: null,
  }));
  const busy = new Map<string, number>();
  const inFlightVms = new Set<string>();
  const running = new Set<Promise<void>>();
  let stop: string | null = null;

  const finish = (
    oc: MoveOutcome,
    result: MoveResult,
    reason: string,
    started: number,
    details?: Record<string, unknown>,
  ): void => {
    oc.result = result;
    oc.reason = reason;
    oc.endedMs = now();
    oc.durationMs = oc.endedMs - started;
    const m = oc.move;
    write({
      action: "migrate",
      move: oc.index,
      vm: m.vm,
      from: m.from,
      to: m.to,
      result: result as AuditResult,
      reason,
      duration_ms: oc.durationMs,
      ...(details ? { details } : {}),
    });
    log(
      `move ${oc.index + 1}/${plan.moves.length} ${m.vm} ${m.from}→${m.to}: ${result}${reason ? ` (${reason})` : ""} [${(oc.durationMs / 1000).toFixed(1)} s]`,
    );
    o.onOutcome?.(oc);
    if ((result === "failed" || result === "aborted") && !o.keepGoing)
      stop ??= `move ${oc.index + 1} (${m.vm} ${m.from}→${m.to}) ${result}: later moves were planned on the placement it was to leave`;
  };

  const runMove = async (oc: MoveOutcome): Promise<void> => {
    const m = oc.move;
    const started = now();
    try {
      const from = o.hosts.endpoint(m.from);
      const to = o.hosts.endpoint(m.to);
      if (!from || !to)
        return finish(
          oc,
          "failed",
          `no libvirt URI for host ${!from ? m.from : m.to} in the hosts file (add it under hosts:, or set uri_template)`,
          started,
        );
      const dom = await o.driver.find(from, m.vm);
      if (!dom) return finish(oc, "skipped", `${m.vm} is not on ${m.from} any more`, started);
      if (dom.state !== "running")
        return finish(
          oc,
          "skipped",
          `${m.vm} is ${dom.state} on ${m.from}: only running VMs are migrated live`,
          started,
        );
      if (o.recheck) {
        const r = await o.recheck(m, oc.index);
        write({
          action: "recheck",
          move: oc.index,
          vm: m.vm,
          from: m.from,
          to: m.to,
          result: r.ok ? "ok" : "skipped",
          reason: r.ok ? (r.note ?? "still needed, target has headroom") : r.reason,
          duration_ms: now() - started,
        });
        if (!r.ok) return finish(oc, "skipped", `recheck: ${r.reason}`, started);
      }
      const cpus = to.vmCpus ?? o.vmCpus?.(m.to) ?? null;
      let xml: TargetXml | null = null;
      let placed: string | null = null;
      if (cpus !== null && !o.driver.managesPlacement?.(dom.uuid)) {
        try {
          placed = canonicalCpus(cpus, `VM CPU set of ${m.to}`);
          const [live, persistent] = await Promise.all([
            o.driver.domainXml(from, dom.uuid, false),
            o.driver.domainXml(from, dom.uuid, true),
          ]);
          xml = { live: rewritePlacement(live, placed), persistent: rewritePlacement(persistent, placed) };
        } catch (e) {
          if (e instanceof PlacementError)
            return finish(
              oc,
              "failed",
              `placement: ${m.vm} cannot take ${m.to}'s VM CPU set ${cpus}: ${e.message}`,
              started,
              { uuid: dom.uuid },
            );
          throw e;
        }
      }
      const placement = placed === null ? "" : `; placed on ${m.to}'s VM CPUs ${placed}`;
      if (o.dryRun) {
        // What a real run would meet first on the target: it must answer, and must not hold a
        // domain of that name (libvirt would refuse the migration).
        const there = await o.driver.find(to, m.vm);
        if (there)
          return finish(
            oc,
            "failed",
            `a domain named ${m.vm} already exists on ${m.to} (${there.state}): libvirt would refuse the migration`,
            started,
          );
        return finish(
          oc,
          "dry_run",
          `dry run: nothing migrated (${m.to} answers, no domain of that name there${placement ? `; would be${placement.slice(1)}` : ""})`,
          started,
          { uuid: dom.uuid, ...(placed ? { vm_cpus: placed } : {}) },
        );
      }
      await migrateOne(oc, dom, from, to, started, xml, placed);
    } catch (e) {
      const msg =
        e instanceof HostUnreachableError
          ? `host unreachable: ${e.message}`
          : e instanceof Error
            ? e.message
            : String(e);
      finish(oc, "failed", msg, started);
    }
  };

  const migrateOne = async (
    oc: MoveOutcome,
    dom: DomainRef,
    from: HostEndpoint,
    to: HostEndpoint,
    started: number,
    xml: TargetXml | null,
    placed: string | null,
  ): Promise<void> => {
    const m = oc.move;
    const h = o.driver.migrate(dom, from, to, xml ?? undefined);
    write({
      action: "migrate",
      move: oc.index,
      vm: m.vm,
      from: m.from,
      to: m.to,
      result: "started",
      reason: "",
      duration_ms: null,
      details: { uuid: dom.uuid, command: h.command, ...(o.startDetails?.(oc.index) ?? {}) },
    });
    let settled: { ok: boolean; error: string } | null = null;
    void h.done.then((r) => {
      settled = r;
    });
    let last: JobProgress | null = null;
    let timedOut = false;
    while (settled === null) {
      const elapsed = now() - started;
      if (elapsed >= timeoutMs) {
        timedOut = true;
        break;
      }
      await Promise.race([h.done, sleep(Math.min(pollMs, Math.max(1, timeoutMs - elapsed)))]);
      if (settled !== null) break;
      const p = await o.driver.jobInfo(from, dom.uuid);
      if (p && jobActive(p)) {
        last = p;
        o.onProgress?.(oc.index, m, p, now() - started);
      }
    }
    const bytes = last?.processed ?? null;
    oc.bytes = bytes;
    if (timedOut) {
      let abortErr = await o.driver.abort(from, dom.uuid);
      // A peer-to-peer migration has no job on the source until it has reached the target
      // ("no job is active"): keep trying, as an operator would, until the migration ends.
      for (let i = 0; abortErr !== null && settled === null && i < ABORT_RETRIES; i++) {
        await Promise.race([h.done, sleep(ABORT_RETRY_MS)]);
        if (settled === null) abortErr = await o.driver.abort(from, dom.uuid);
      }
      const ended = await Promise.race([h.done, sleep(60_000).then(() => null)]);
      if (ended === null) h.kill();
      const after = await o.driver.find(from, m.vm).catch(() => null);
      const where =
        after && after.state === "running"
          ? `${m.vm} still running on ${m.from}`
          : `${m.vm} is ${after ? after.state : "gone"} on ${m.from}: check it`;
      // The abort raced with completion: the migration finished after all.
      if (ended?.ok && !after) return verify(oc, dom, from, to, started, bytes, placed);
      return finish(
        oc,
        after && after.state === "running" ? "aborted" : "failed",
        `timed out after ${(timeoutMs / 1000).toFixed(1)} s (${bytes === null ? "no progress reported" : `${(bytes / 1024 ** 2).toFixed(1)} MiB sent`}); ${abortErr ? `domjobabort failed: ${abortErr}` : "job aborted"}; ${where}`,
        started,
        { uuid: dom.uuid, bytes },
      );
    }
    const r = settled ?? (await h.done);
    if (!r.ok) {
      const after = await o.driver.find(from, m.vm).catch(() => null);
      const where =
        after && after.state === "running"
          ? `${m.vm} still running on ${m.from}`
          : `${m.vm} is ${after ? after.state : "not found"} on ${m.from}`;
      return finish(oc, "failed", `${to.name} refused or migration failed: ${r.error}; ${where}`, started, {
        uuid: dom.uuid,
        bytes,
      });
    }
    return verify(oc, dom, from, to, started, bytes, placed);
  };

  /** Problems of the VM's placement on the target (live and persistent), as libvirt there says. */
  const checkPlacement = async (to: HostEndpoint, uuid: string, placed: string): Promise<string[]> => {
    const out: string[] = [];
    for (const inactive of [false, true]) {
      const what = inactive ? "persistent" : "live";
      try {
        const set = sharedCpuSet(placementOf(await o.driver.domainXml(to, uuid, inactive)));
        if (set !== placed)
          out.push(`${what} placement on ${to.name} is ${set ?? "unconfined"}, not its VM CPUs ${placed}`);
      } catch (e) {
        out.push(`${what} placement on ${to.name} unreadable: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return out;
  };

  const verify = async (
    oc: MoveOutcome,
    dom: DomainRef,
    from: HostEndpoint,
    to: HostEndpoint,
    started: number,
    bytes: number | null,
    placed: string | null,
  ): Promise<void> => {
    const m = oc.move;
    const there = await o.driver.find(to, m.vm);
    const left = await o.driver.find(from, m.vm);
    const problems: string[] = [];
    if (!there) problems.push(`not found on ${m.to}`);
    else if (there.uuid !== dom.uuid) problems.push(`${m.to} has a ${m.vm} with another UUID (${there.uuid})`);
    else if (there.state !== "running") problems.push(`${there.state} on ${m.to}`);
    if (left) problems.push(`still defined on ${m.from} (${left.state})`);
    if (there && there.uuid === dom.uuid && placed !== null)
      problems.push(...(await checkPlacement(to, dom.uuid, placed)));
    const extra = placed === null ? {} : { vm_cpus: placed };
    if (problems.length > 0)
      return finish(oc, "failed", `migration reported success but the check failed: ${problems.join("; ")}`, started, {
        uuid: dom.uuid,
        bytes,
        ...extra,
      });
    return finish(
      oc,
      "ok",
      `running on ${m.to}, gone from ${m.from}${placed === null ? "" : `, placed on its VM CPUs ${placed}`}`,
      started,
      { uuid: dom.uuid, bytes, ...extra },
    );
  };

  const hostsOf = (m: PlanMove): string[] => [...new Set([m.from, m.to])];
  const fits = (m: PlanMove): boolean =>
    running.size < limits.fleet &&
    !inFlightVms.has(m.vm) &&
    hostsOf(m).every((h) => (busy.get(h) ?? 0) < limits.perHost);

  for (const oc of outcomes) {
    if (stop !== null) break;
    while (!fits(oc.move) && running.size > 0) await Promise.race(running);
    if (stop !== null) break;
    const m = oc.move;
    for (const h of hostsOf(m)) busy.set(h, (busy.get(h) ?? 0) + 1);
    inFlightVms.add(m.vm);
    const p: Promise<void> = runMove(oc).finally(() => {
      for (const h of hostsOf(m)) busy.set(h, (busy.get(h) ?? 1) - 1);
      inFlightVms.delete(m.vm);
      running.delete(p);
    });
    running.add(p);
  }
  await Promise.all(running);

  for (const oc of outcomes) {
    if (oc.result !== "not_started") continue;
    oc.reason = stop ?? "not started";
    write({
      action: "migrate",
      move: oc.index,
      vm: oc.move.vm,
      from: oc.move.from,
      to: oc.move.to,
      result: "not_started",
      reason: oc.reason,
      duration_ms: null,
    });
  }
  const failures = outcomes.filter((x) => x.result === "failed" || x.result === "aborted").length;
  const counts = new Map<string, number>();
  for (const x of outcomes) counts.set(x.result, (counts.get(x.result) ?? 0) + 1);
  write({
    action: "plan_end",
    move: null,
    vm: null,
    from: null,
    to: null,
    result: failures === 0 ? "ok" : "failed",
    reason: [...counts].map(([k, v]) => `${v} ${k}`).join(", ") || "no moves",
    duration_ms: now() - t0,
  });
  return { planId: o.planId, outcomes, failures };
}
