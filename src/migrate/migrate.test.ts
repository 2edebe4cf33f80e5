import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import fc from "fast-check";
import { stringify } from "yaml";
import { ConfigError } from "../config/errors.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { FleetSnapshot, Plan, PlanMove } from "../model/fleet.js";
import { parseSnapshot } from "../model/fleet.js";
import { FileAuditLog, MemoryAuditLog } from "./audit-log.js";
import { HostUnreachableError, migrateArgs, type DomainRef } from "./driver.js";
import { placementOf } from "./placement.js";
import { FakeDriver } from "../../test/support/fake-driver.js";
import { executePlan, planId } from "./executor.js";
import { loadMigrateHosts, migrateHosts } from "./hosts.js";
import { fractionDone, jobActive, parseJobInfo, progressLine } from "./jobinfo.js";
import { snapshotRecheck } from "./recheck.js";

const FIX = join(import.meta.dirname, "..", "..", "test", "fixtures", "migrate");
const hosts = migrateHosts({ uri_template: "test://{host}" });

const plan = (...moves: [string, string, string][]): Plan => ({
  version: 1,
  moves: moves.map(([vm, from, to]) => ({ vm, from, to, reason: "test" })),
  predicted: { steal_before: 1, steal_after: 0 },
  explanation: "",
});

describe("jobinfo", () => {
  it("parses virsh domjobinfo --rawstats and draws a bar", () => {
    const p = parseJobInfo(readFileSync(join(FIX, "domjobinfo-rawstats.txt"), "utf8"));
    expect(p).toMatchObject({ processed: 12582912, remaining: 22618112, total: 35201024, elapsedMs: 1204 });
    expect(fractionDone(p)).toBeCloseTo(0.357, 3);
    expect(progressLine("vm a→b", p, 1204, 10)).toBe("[####......]  36 %  vm a→b  12.0 MiB sent, 21.6 MiB left  1.2 s");
  });
  it("parses the human form", () => {
    const p = parseJobInfo(
      "Job type:         Unbounded\nData processed:   1.500 MiB\nData remaining:   512.000 KiB\nData total:       2.000 MiB\n",
    );
    expect(p.processed).toBe(1572864);
    expect(p.remaining).toBe(524288);
    expect(jobActive(parseJobInfo("Job type: 0\n"))).toBe(false);
    expect(jobActive(parseJobInfo("Job type: 2\n"))).toBe(true);
  });
});

describe("hosts file", () => {
  it("gives URIs per host, from the template otherwise", () => {
    const h = loadMigrateHosts(join(FIX, "hosts.yaml"));
    expect(h.endpoint("hv01")).toEqual({
      name: "hv01",
      uri: "qemu+tls://hv01.example.net/system",
      peerUri: "qemu+tls://hv01.example.net/system",
      migrateUri: "tcp://10.0.0.1",
      p2p: true,
      vmCpus: null,
    });
    expect(h.endpoint("hv02")).toMatchObject({ uri: "qemu:///system", peerUri: "qemu+tcp://hv02/system", p2p: false });
    expect(h.endpoint("hv07")?.uri).toBe("qemu+ssh://hv07/system");
    expect(h.limits).toEqual({ perHost: 2, fleet: 3 });
    expect(h.timeoutS).toBe(90);
    expect(migrateHosts({}).endpoint("x")).toBeNull();
  });
  it("builds the virsh migrate command: p2p to the peer URI, client-managed to the client URI", () => {
    const h = loadMigrateHosts(join(FIX, "hosts.yaml"));
    expect(migrateArgs("u", h.endpoint("hv01")!)).toEqual([
      "migrate",
      "--live",
      "--p2p",
      "--persistent",
      "--undefinesource",
      "--domain",
      "u",
      "--desturi",
      "qemu+tls://hv01.example.net/system",
      "--migrateuri",
      "tcp://10.0.0.1",
    ]);
    expect(migrateArgs("u", h.endpoint("hv02")!)).toEqual([
      "migrate",
      "--live",
      "--persistent",
      "--undefinesource",
      "--domain",
      "u",
      "--desturi",
      "qemu:///system",
    ]);
  });
});

describe("hosts file: hostile and malformed", () => {
  const dir = mkdtempSync(join(tmpdir(), "vsteal-mig-hosts-"));
  const load = (text: string) => {
    const f = join(dir, "hosts.yaml");
    writeFileSync(f, text);
    return () => loadMigrateHosts(f);
  };

  it("names file, line and field of what is wrong", () => {
    expect(load("hosts:\n  hv01:\n    uri: qemu:///system\n    urri: x\nlimits: { per_host: 0 }\n")).toThrow(
      ConfigError,
    );
    const e = (() => {
      try {
        load("hosts:\n  hv01:\n    uri: qemu:///system\n    urri: x\nlimits: { per_host: 0 }\ntimeout: -5\n")();
      } catch (x) {
        return x as ConfigError;
      }
      throw new Error("no error");
    })();
    expect(e.message).toMatch(/hosts\.yaml:4: hosts\.hv01\.urri: unknown field, did you mean "uri"\?/);
    expect(e.message).toMatch(/hosts\.yaml:5: limits\.per_host: /);
    expect(e.message).toMatch(/hosts\.yaml:6: timeout: /);
  });

  it("any YAML document (fast-check): loaded, or a ConfigError whose every line names the file", () => {
    const value = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          uri_template: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
          hosts: fc.dictionary(
            fc.string(),
            fc.oneof(
              fc.constant(null),
              fc.record(
                { uri: fc.oneof(fc.string(), fc.double()), p2p: fc.oneof(fc.boolean(), fc.string()) },
                { requiredKeys: [] },
              ),
              fc.jsonValue(),
            ),
          ),
          limits: fc.oneof(
            fc.record({ per_host: fc.double(), fleet: fc.integer() }, { requiredKeys: [] }),
            fc.jsonValue(),
          ),
          timeout: fc.oneof(fc.double(), fc.string()),
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(value, fc.boolean(), (v, asYaml) => {
        const f = load(asYaml ? stringify(v) : JSON.stringify(v));
        try {
          const h = f();
          expect(h.limits.perHost).toBeGreaterThanOrEqual(1);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          for (const line of e.message.split("\n")) expect(line.startsWith(join(dir, "hosts.yaml"))).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("executePlan", () => {
  it("migrates in order, one at a time by default, verifies, and logs every step", async () => {
    const d = new FakeDriver({ a: "h1", b: "h1", c: "h2" });
    const audit = new MemoryAuditLog();
    const r = await executePlan(plan(["a", "h1", "h2"], ["b", "h1", "h3"], ["c", "h2", "h3"]), {
      planId: "p1",
      hosts,
      driver: d,
      audit,
      actor: "me",
      recheck: null,
      pollMs: 1,
    });
    expect(r.failures).toBe(0);
    expect(r.outcomes.map((o) => o.result)).toEqual(["ok", "ok", "ok"]);
    expect(d.maxInFlight).toBe(1);
    expect(d.log).toEqual(["start a h1->h2", "start b h1->h3", "start c h2->h3"]);
    expect(audit.entries[0]).toMatchObject({ action: "plan_start", actor: "me", plan_id: "p1" });
    expect(audit.entries.at(-1)).toMatchObject({ action: "plan_end", result: "ok", reason: "3 ok" });
    expect(audit.entries.filter((e) => e.action === "migrate" && e.result === "ok").map((e) => e.vm)).toEqual([
      "a",
      "b",
      "c",
    ]);
  });

  it("places a moved VM on the target's VM CPUs (hosts file or agent), live and persistent, and checks it there", async () => {
    const d = new FakeDriver({ a: "h1", b: "h1" });
    d.at.get("a")!.cpus = "0";
    d.at.get("b")!.cpus = "0";
    const placed = migrateHosts({ uri_template: "test://{host}", hosts: { h2: { vm_cpus: "1,2,3" } } });
    const audit = new MemoryAuditLog();
    const r = await executePlan(plan(["a", "h1", "h2"], ["b", "h1", "h3"]), {
      planId: "p",
      hosts: placed,
      driver: d,
      audit,
      actor: "t",
      recheck: null,
      pollMs: 1,
      vmCpus: (h) => (h === "h3" ? "4" : null),
    });
    expect(r.outcomes.map((o) => [o.result, o.reason])).toEqual([
      ["ok", "running on h2, gone from h1, placed on its VM CPUs 1-3"],
      ["ok", "running on h3, gone from h1, placed on its VM CPUs 4"],
    ]);
    expect(d.at.get("a")!.cpus).toBe("1-3");
    expect(d.at.get("b")!.cpus).toBe("4");
    expect(d.xmlGiven.map((x) => x && [placementOf(x.live).vcpu, placementOf(x.persistent).emulatorpin])).toEqual([
      ["1-3", "1-3"],
      ["4", "4"],
    ]);
    expect(
      audit.entries.filter((e) => e.action === "migrate" && e.result === "ok").map((e) => e.details?.vm_cpus),
    ).toEqual(["1-3", "4"]);
    // Without a known set the XML is left alone, as before.
    const plain = new FakeDriver({ c: "h1" });
    await executePlan(plan(["c", "h1", "h3"]), {
      planId: "p",
      hosts,
      driver: plain,
      audit: new MemoryAuditLog(),
      actor: "t",
      recheck: null,
      pollMs: 1,
    });
    expect(plain.xmlGiven).toEqual([null]);
  });

  it("a target that keeps the source's placement fails the check; dedicated pinning is refused before anything moves", async () => {
    class IgnoresXml extends FakeDriver {
      override migrate(dom: DomainRef, from: { name: string }, to: { name: string }) {
        return super.migrate(dom, from, to);
      }
    }
    const d = new IgnoresXml({ a: "h1" });
    d.at.get("a")!.cpus = "0";
    const placed = migrateHosts({ uri_template: "test://{host}", hosts: { h2: { vm_cpus: "1" } } });
    const r = await executePlan(plan(["a", "h1", "h2"]), {
      planId: "p",
      hosts: placed,
      driver: d,
      audit: new MemoryAuditLog(),
      actor: "t",
      recheck: null,
      pollMs: 1,
    });
    expect(r.outcomes[0]!.result).toBe("failed");
    expect(r.outcomes[0]!.reason).toBe(
      "migration reported success but the check failed: live placement on h2 is 0, not its VM CPUs 1; persistent placement on h2 is 0, not its VM CPUs 1",
    );

    class Dedicated extends FakeDriver {
      override async domainXml(): Promise<string> {
        return "<domain>\n  <vcpu placement='static'>2</vcpu>\n  <cputune>\n    <vcpupin vcpu='0' cpuset='2'/>\n    <vcpupin vcpu='1' cpuset='3'/>\n  </cputune>\n</domain>\n";
      }
    }
    const dd = new Dedicated({ a: "h1" });
    const r2 = await executePlan(plan(["a", "h1", "h2"]), {
      planId: "p",
      hosts: placed,
      driver: dd,
      audit: new MemoryAuditLog(),
      actor: "t",
      recheck: null,
      pollMs: 1,
    });
    expect(r2.outcomes[0]!.result).toBe("failed");
    expect(r2.outcomes[0]!.reason).toMatch(
      /^placement: a cannot take h2's VM CPU set 1: its vCPUs are pinned to different host CPUs/,
    );
    expect(dd.log).toEqual([]);
  });

  it("a VM destroyed during its migration: failed, the audit log says where it is (nowhere), later moves not started", async () => {
    class Destroyed extends FakeDriver {
      override migrate(dom: DomainRef, from: { name: string }, to: { name: string }) {
        const h = super.migrate(dom, from, to);
        this.at.delete(dom.name); // someone ran virsh destroy + undefine on the source
        return { ...h, done: Promise.resolve({ ok: false, error: "operation failed: domain is not running" }) };
      }
    }
    const d = new Destroyed({ a: "h1", b: "h1" });
    const audit = new MemoryAuditLog();
    const r = await executePlan(plan(["a", "h1", "h2"], ["b", "h1", "h2"]), {
      planId: "p",
      hosts,
      driver: d,
      audit,
      actor: "t",
      recheck: null,
      pollMs: 1,
    });
    expect(r.outcomes.map((o) => [o.result, o.reason])).toEqual([
      ["failed", "h2 refused or migration failed: operation failed: domain is not running; a is not found on h1"],
      ["not_started", "move 1 (a h1→h2) failed: later moves were planned on the placement it was to leave"],
    ]);
    expect(audit.entries.at(-1)).toMatchObject({ action: "plan_end", result: "failed" });
  });

  it("honours per-host and fleet limits", async () => {
    const d = new FakeDriver({ a: "h1", b: "h2", c: "h3", e: "h4" }, () => ({ ms: 20 }));
    const many = migrateHosts({ uri_template: "test://{host}", limits: { per_host: 1, fleet: 2 } });
    await executePlan(plan(["a", "h1", "h5"], ["b", "h2", "h6"], ["c", "h3", "h7"], ["e", "h4", "h8"]), {
      planId: "p",
      hosts: many,
      driver: d,
      audit: new MemoryAuditLog(),
      actor: "t",
      recheck: null,
      pollMs: 1,
    });
    expect(d.maxInFlight).toBe(2);
    const d2 = new FakeDriver({ a: "h1", b: "h1" }, () => ({ ms: 20 }));
    await executePlan(plan(["a", "h1", "h2"], ["b", "h1", "h3"]), {
      planId: "p",
      hosts: many,
      driver: d2,
      audit: new MemoryAuditLog(),
      actor: "t",
      recheck: null,
      pollMs: 1,
    });
    expect(d2.maxInFlight).toBe(1);
  });

  it("a refused migration fails, the VM stays, later moves are not started", async () => {
    const d = new FakeDriver({ a: "h1", b: "h1" }, (vm) =>
      vm === "a" ? { ms: 1, fail: "operation failed: domain 'a' already exists with uuid x" } : { ms: 1 },
    );
    const audit = new MemoryAuditLog();
    const r = await executePlan(plan(["a", "h1", "h2"], ["b", "h1", "h2"]), {
      planId: "p",
      hosts,
      driver: d,
      audit,
      actor: "t",
      recheck: null,
      pollMs: 1,
    });
    expect(r.failures).toBe(1);
    expect(r.outcomes[0]!.result).toBe("failed");
    expect(r.outcomes[0]!.reason).toMatch(/already exists.*a still running on h1/);
    expect(r.outcomes[1]!.result).toBe("not_started");
    expect(d.at.get("a")!.host).toBe("h1");
    expect(audit.entries.find((e) => e.move === 1 && e.result === "not_started")?.reason).toMatch(
      /move 1 \(a h1→h2\) failed/,
    );
  });

  it("a migration past its timeout has its job aborted and the VM stays on its source", async () => {
    const d = new FakeDriver({ a: "h1" }, () => ({ ms: 0, hang: true }));
    const audit = new MemoryAuditLog();
    const seen: number[] = [];
    const r = await executePlan(plan(["a", "h1", "h2"]), {
      planId: "p",
      hosts,
      driver: d,
      audit,
      actor: "t",
      recheck: null,
      pollMs: 5,
      timeoutMs: 50,
      onProgress: (_i, _m, p) => seen.push(p.processed ?? -1),
    });
    expect(r.outcomes[0]!.result).toBe("aborted");
    expect(r.outcomes[0]!.reason).toMatch(/timed out after 0\.1 s .*job aborted; a still running on h1/);
    expect(d.aborts).toHaveLength(1);
    expect(seen.length).toBeGreaterThan(0);
    expect(audit.entries.find((e) => e.result === "aborted")).toMatchObject({ vm: "a", from: "h1", to: "h2" });
  });

  it("a timeout before the job exists on the source (p2p still connecting): the abort is retried until it takes", async () => {
    class LateJob extends FakeDriver {
      tries = 0;
      override async abort(h: unknown, uuid: string) {
        // The first two attempts find no job, as virsh domjobabort does while p2p connects.
        if (++this.tries <= 2) return "Requested operation is not valid: no job is active on the domain";
        return super.abort(h, uuid);
      }
    }
    const d = new LateJob({ a: "h1" }, () => ({ ms: 0, hang: true }));
    const r = await executePlan(plan(["a", "h1", "h2"]), {
      planId: "p",
      hosts,
      driver: d,
      audit: new MemoryAuditLog(),
      actor: "t",
      recheck: null,
      pollMs: 5,
      timeoutMs: 20,
    });
    expect(d.tries).toBe(3);
    expect(r.outcomes[0]).toMatchObject({
      result: "aborted",
      reason: expect.stringMatching(/job aborted; a still running on h1$/),
    });
  });

  it("skips moves whose VM left, or that the recheck refuses, and says why", async () => {
    const d = new FakeDriver({ a: "h9", b: "h1" });
    const audit = new MemoryAuditLog();
    const r = await executePlan(plan(["a", "h1", "h2"], ["b", "h1", "h2"]), {
      planId: "p",
      hosts,
      driver: d,
      audit,
      actor: "t",
      recheck: async (m: PlanMove) => ({ ok: false, reason: `${m.to} is full` }),
      pollMs: 1,
    });
    expect(r.outcomes.map((o) => [o.result, o.reason])).toEqual([
      ["skipped", "a is not on h1 any more"],
      ["skipped", "recheck: h2 is full"],
    ]);
    expect(r.failures).toBe(0);
    expect(audit.entries.find((e) => e.action === "recheck")).toMatchObject({
      result: "skipped",
      reason: "h2 is full",
    });
  });

  it("dry run migrates nothing", async () => {
    const d = new FakeDriver({ a: "h1" });
    const r = await executePlan(plan(["a", "h1", "h2"]), {
      planId: "p",
      hosts,
      driver: d,
      audit: new MemoryAuditLog(),
      actor: "t",
      recheck: null,
      dryRun: true,
    });
    expect(r.outcomes[0]!.result).toBe("dry_run");
    expect(r.outcomes[0]!.reason).toMatch(/h2 answers, no domain of that name there/);
    expect(d.log).toEqual([]);
  });

  it("dry run checks the target: unreachable, or holding a domain of that name, fails the move", async () => {
    class Unreachable extends FakeDriver {
      override async find(h: { name: string }, name: string) {
        if (h.name === "h2") throw new HostUnreachableError("h2", "test://h2: Connection refused");
        return super.find(h, name);
      }
    }
    const r = await executePlan(plan(["a", "h1", "h2"]), {
      planId: "p",
      hosts,
      driver: new Unreachable({ a: "h1" }),
      audit: new MemoryAuditLog(),
      actor: "t",
      recheck: null,
      dryRun: true,
    });
    expect(r.outcomes[0]).toMatchObject({
      result: "failed",
      reason: "host unreachable: test://h2: Connection refused",
    });
    class Taken extends FakeDriver {
      override async find(h: { name: string }, name: string) {
        return h.name === "h2"
          ? { uuid: "00000000-0000-4000-8000-00000000beef", name, state: "shut off" }
          : super.find(h, name);
      }
    }
    const t = await executePlan(plan(["a", "h1", "h2"]), {
      planId: "p",
      hosts,
      driver: new Taken({ a: "h1" }),
      audit: new MemoryAuditLog(),
      actor: "t",
      recheck: null,
      dryRun: true,
    });
    expect(t.outcomes[0]).toMatchObject({
      result: "failed",
      reason: "a domain named a already exists on h2 (shut off): libvirt would refuse the migration",
    });
    expect(t.failures).toBe(1);
  });

  it("fails a move whose host has no URI", async () => {
    const r = await executePlan(plan(["a", "h1", "h2"]), {
      planId: "p",
      hosts: migrateHosts({}),
      driver: new FakeDriver({ a: "h1" }),
      audit: new MemoryAuditLog(),
      actor: "t",
      recheck: null,
    });
    expect(r.outcomes[0]!.reason).toMatch(/no libvirt URI for host h1/);
  });

  it("plan ids are stable", async () => {
    expect(await planId(plan(["a", "h1", "h2"]))).toBe(await planId(plan(["a", "h1", "h2"])));
    expect(await planId({ ...plan(), id: "audit-7" })).toBe("audit-7");
  });
});

describe("audit log file", () => {
  it("appends one JSON object per line", () => {
    const path = join(mkdtempSync(join(tmpdir(), "vsteal-audit-")), "sub", "a.jsonl");
    const log = new FileAuditLog(path);
    const e = {
      time: "t",
      actor: "a",
      action: "migrate",
      plan_id: "p",
      move: 0,
      vm: "v",
      from: "h1",
      to: "h2",
      result: "ok" as const,
      reason: "",
      duration_ms: 1,
    };
    log.write(e);
    new FileAuditLog(path).write({ ...e, move: 1 });
    const lines = readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { move: number });
    expect(lines.map((l) => l.move)).toEqual([0, 1]);
  });
});

describe("snapshotRecheck", () => {
  const snap = (hot: boolean): FleetSnapshot =>
    parseSnapshot({
      version: 1,
      time: "2026-01-01T00:00:00Z",
      window_s: 300,
      hosts: [
        { name: "h1", cpus: 2, memory_mib: 4096 },
        { name: "h2", cpus: 2, memory_mib: 4096 },
      ],
      vms: [
        {
          name: "a",
          host: "h1",
          vcpus: 2,
          memory_mib: 1024,
          usage: hot ? [0.7, 0.7] : [0.1, 0.1],
          delay: hot ? [0.3, 0.3] : [0, 0],
        },
        {
          name: "b",
          host: "h1",
          vcpus: 2,
          memory_mib: 1024,
          usage: hot ? [0.7, 0.7] : [0.1, 0.1],
          delay: hot ? [0.3, 0.3] : [0, 0],
        },
      ],
    });
  const m = { vm: "a", from: "h1", to: "h2", reason: "" };
  it("lets a move that still pays go", async () => {
    expect((await snapshotRecheck(async () => snap(true))(m, 0)).ok).toBe(true);
  });
  it("skips a move that no longer pays, or whose VM moved, or without data", async () => {
    expect(await snapshotRecheck(async () => snap(false))(m, 0)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^no longer needed/),
    });
    expect(await snapshotRecheck(async () => snap(true))({ ...m, from: "h2", to: "h1" }, 0)).toMatchObject({
      ok: false,
      reason: "a is on h1 now, not h2",
    });
    expect(await snapshotRecheck(async () => Promise.reject(new Error("Prometheus down")))(m, 0)).toEqual({
      ok: false,
      reason: "no fresh data: Prometheus down",
    });
  });
});
