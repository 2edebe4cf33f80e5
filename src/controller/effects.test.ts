import { mkdtempSync, readFileSync, symlinkSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { FleetSnapshot } from "../model/fleet.js";
import { FileAuditLog, MemoryAuditLog } from "../migrate/audit-log.js";
import { migrateHosts } from "../migrate/hosts.js";
import { FakeDriver } from "../../test/support/fake-driver.js";
import { Controller } from "./controller.js";
import { EffectTracker, expectations, judge, measuredContention, type PendingEffect } from "./effects.js";
import { reconcile, unfinishedMoves } from "./reconcile.js";
import { loadControllerState, saveControllerState } from "./state-file.js";

const T0 = Date.parse("2026-12-01T12:00:00Z");

/** Two hosts of 1 CPU; each VM one vCPU with the given usage and delay. */
function fleet(
  atMs: number,
  vms: Record<string, [host: string, usage: number, delay: number]>,
  windowS = 60,
): FleetSnapshot {
  return {
    version: 1,
    time: new Date(atMs).toISOString(),
    window_s: windowS,
    hosts: ["A", "B"].map((name) => ({ name, cpus: 1, memory_mib: 4096, reserved_cpus: 0, accepts_vms: true })),
    vms: Object.entries(vms).map(([name, [host, u, d]]) => ({
      name,
      uuid: null,
      host,
      vcpus: 1,
      memory_mib: 32,
      usage: [u],
      delay: [d],
      throttled: [0],
      cap: null,
      migratable: true,
    })),
    constraints: { max_moves: 5, anti_affinity: [] },
  };
}

// Two spinning 1-vCPU VMs on A's one CPU: each runs half the time and waits half.
const crowded = fleet(T0, { v1: ["A", 0.5, 0.5], v2: ["A", 0.5, 0.5] });

describe("move effects", () => {
  it("measures contention and predicts the pair after a move", () => {
    expect(measuredContention(crowded, "A")).toBeCloseTo(1, 9);
    const e = expectations(crowded, [{ vm: "v2", from: "A", to: "B", reason: "" }]).get(0)!;
    expect(e.before).toEqual({ from: 1, to: 0 });
    expect(e.predicted.from).toBeCloseTo(0, 6);
    expect(e.predicted.to).toBeCloseTo(0, 6);
  });

  const pending: PendingEffect = {
    plan_id: "audit-1",
    vm: "v2",
    from: "A",
    to: "B",
    done_ms: T0 + 5_000,
    before: { from: 1, to: 0 },
    predicted: { from: 0, to: 0 },
  };

  it("helped, no effect, hurt: by the measured change against the predicted one", () => {
    const after = (a: number, b: number) => fleet(T0 + 120_000, { v1: ["A", 1 - a, a], v2: ["B", 1 - b, b] });
    expect(judge(pending, after(0.02, 0.01), false)).toMatchObject({
      verdict: "helped",
      after: { from: 0.02, to: 0.01 },
    });
    expect(judge(pending, after(0.02, 0.01), false).reason).toBe(
      "contention fell by 0.97 cores (97 % of the predicted 1.00): A+B contention measured 1.00+0.00 = 1.00 cores before, 0.02+0.01 = 0.03 after (predicted 0.00+0.00 = 0.00)",
    );
    // Placement that did not travel: v2 still competes for A's CPU from B.
    expect(judge(pending, after(0.5, 0.5), false)).toMatchObject({ verdict: "no_effect" });
    expect(judge(pending, after(0.9, 0.5), false)).toMatchObject({ verdict: "hurt" });
    expect(judge(pending, after(0.02, 0.01), true).verdict).toBe("inconclusive");
  });

  it("judges only once the window lies after the move, then blocks a pair that did not help", () => {
    const t = new EffectTracker(10_000);
    t.add(pending);
    // The window still holds the move: not judged.
    expect(t.onSnapshot(fleet(T0 + 60_000, { v1: ["A", 0.5, 0.5], v2: ["B", 0.5, 0.5] }))).toEqual([]);
    expect(t.pending).toHaveLength(1);
    const [e] = t.onSnapshot(fleet(T0 + 80_000, { v1: ["A", 0.5, 0.5], v2: ["B", 0.5, 0.5] }));
    expect(e?.verdict).toBe("no_effect");
    expect(t.pending).toEqual([]);
    expect(t.isBlocked("A", "B")?.reason).toMatch(
      /^v2 A→B \(audit-1\) did not help: contention fell by only 0\.00 of the predicted 1\.00 cores/,
    );
    expect(t.isBlocked("B", "A")).toBeNull();
    expect(t.unblock("A", "B")).toBe(true);
    expect(t.isBlocked("A", "B")).toBeNull();
  });

  it("the controller keeps a blocked pair out of its plans, and says why", async () => {
    let now = T0;
    const c = new Controller({
      snapshot: async () => ({
        snapshot: { ...fleet(now, { v1: ["A", 0.5, 0.5], v2: ["A", 0.5, 0.5] }), notes: [], sources: {} },
        warnings: [],
        queries: 0,
        durationMs: 0,
      }),
      plan: (s) => ({
        version: 1,
        moves: s.hosts.find((h) => h.name === "B")?.accepts_vms ? [{ vm: "v2", from: "A", to: "B", reason: "r" }] : [],
        predicted: { steal_before: 1, steal_after: 0 },
        explanation: "",
      }),
      intervalMs: 60_000,
      guard: { vmCooldownMs: 0, hostCooldownMs: 0, cycleAudits: 1 },
      now: () => now,
    });
    c.effects.blocked.push({ from: "A", to: "B", since: "t", reason: "v2 A→B did not help" });
    now += 60_000;
    const a = await c.audit();
    expect(a.plan?.moves).toEqual([]);
    expect(a.suppressed).toMatchObject([
      { vm: "v2", rule: "blocked_pair", reason: "A→B is blocked until an operator clears it: v2 A→B did not help" },
    ]);
  });
});

describe("controller state across restarts", () => {
  const dir = mkdtempSync(join(tmpdir(), "vsteal-state-"));

  it("cooldowns, cycle history, settling moves and blocked pairs come back after a restart", async () => {
    const file = join(dir, "state.json");
    const mk = () =>
      new Controller({
        snapshot: async () => ({
          snapshot: { ...fleet(T0, { v1: ["A", 0.5, 0.5] }), notes: [], sources: {} },
          warnings: [],
          queries: 0,
          durationMs: 0,
        }),
        plan: () => ({ version: 1, moves: [], predicted: { steal_before: 0, steal_after: 0 }, explanation: "" }),
        intervalMs: 60_000,
        guard: { vmCooldownMs: 1_800_000, hostCooldownMs: 300_000, cycleAudits: 10 },
      });
    const c1 = mk();
    await c1.audit();
    c1.ledger.add([{ vm: "v1", from: "B", to: "A", atMs: T0, kind: "observed", audit: 1 }]);
    c1.effects.add({
      plan_id: "audit-1",
      vm: "v1",
      from: "B",
      to: "A",
      done_ms: T0,
      before: { from: 1, to: 0 },
      predicted: { from: 0, to: 0 },
    });
    c1.effects.blocked.push({ from: "A", to: "B", since: "t", reason: "r" });
    saveControllerState(file, c1.state());
    const c2 = mk();
    const loaded = loadControllerState(file);
    expect(loaded.warning).toBeNull();
    c2.restore(loaded.state!);
    expect(c2.ledger.check({ vm: "v1", from: "A", to: "B" }, T0 + 60_000, 3)?.rule).toBe("vm_cooldown");
    expect(c2.effects.pending).toHaveLength(1);
    expect(c2.effects.isBlocked("A", "B")).not.toBeNull();
    expect((await c2.audit()).id).toBe(2);
  });

  it("a damaged or planted state file is set aside with a warning, never followed or silently replaced", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, '{"version": 1, "next_audit": "x"}');
    const r = loadControllerState(bad, T0);
    expect(r.state).toBeNull();
    expect(r.warning).toMatch(
      /^state file .*bad\.json could not be used \(next_audit: .*\); set aside as .*bad\.json\.unreadable-2026-12-01T12-00-00-000Z/,
    );
    expect(existsSync(bad)).toBe(false);
    const target = join(dir, "elsewhere");
    writeFileSync(target, "keep");
    const link = join(dir, "link.json");
    symlinkSync(target, link);
    expect(loadControllerState(link, T0).warning).toMatch(/it is a symlink/);
    saveControllerState(link, {
      version: 1,
      next_audit: 1,
      ledger: { moves: [], last_seen: [] },
      effects: { pending: [], judged: [], blocked: [] },
    });
    expect(readFileSync(target, "utf8")).toBe("keep");
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });
});

describe("reconcile after a crash", () => {
  it("a migration the log shows started and never ended is looked up in libvirt and recorded, not repeated", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vsteal-reconcile-"));
    const path = join(dir, "audit.jsonl");
    const log = new FileAuditLog(path);
    const started = (move: number, vm: string, uuid: string) =>
      log.write({
        time: new Date(T0).toISOString(),
        actor: "controller",
        action: "migrate",
        plan_id: "audit-7",
        move,
        vm,
        from: "A",
        to: "B",
        result: "started",
        reason: "",
        duration_ms: null,
        details: { uuid, expect: { before: { from: 1, to: 0 }, predicted: { from: 0, to: 0 } } },
      });
    const d = new FakeDriver({ done: "B", stayed: "A", finished: "B" });
    started(0, "done", d.at.get("done")!.uuid);
    started(1, "stayed", d.at.get("stayed")!.uuid);
    started(2, "finished", d.at.get("finished")!.uuid);
    log.write({
      time: new Date(T0).toISOString(),
      actor: "controller",
      action: "migrate",
      plan_id: "audit-7",
      move: 2,
      vm: "finished",
      from: "A",
      to: "B",
      result: "ok",
      reason: "",
      duration_ms: 1,
    });
    // A torn last line, as kill -9 may leave.
    writeFileSync(path, readFileSync(path, "utf8") + '{"time":"2026-12', { flag: "w" });
    const audit = new MemoryAuditLog();
    const r = await reconcile({
      hosts: migrateHosts({ uri_template: "test://{host}" }),
      driver: d,
      audit,
      auditLogPath: path,
      pollMs: 1,
    });
    expect(r.map((x) => [x.vm, x.result, x.reason])).toEqual([
      ["done", "ok", "completed while the controller was down: running on B, gone from A"],
      ["stayed", "failed", "interrupted by a controller restart: stayed still running on A, not on B"],
    ]);
    expect(d.log).toEqual([]); // nothing migrated again
    expect(r[0]!.expect).toEqual({ before: { from: 1, to: 0 }, predicted: { from: 0, to: 0 } }); // judged once settled
    expect(audit.entries.at(-1)).toMatchObject({
      action: "plan_end",
      plan_id: "audit-7",
      result: "failed",
      reason: "reconciled after a restart: done ok, stayed failed",
    });
    // Once recorded, nothing is left open.
    const again = new FileAuditLog(path); // as the restarted controller opens it
    for (const e of audit.entries) again.write(e);
    expect(unfinishedMoves((await import("./reconcile.js")).readAuditTail(path))).toEqual([]);
  });
});
