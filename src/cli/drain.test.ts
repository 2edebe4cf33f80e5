/**
 * `vsteal drain` / `vsteal undrain` with libvirt as the in-memory FakeDriver (the real
 * migrations: test/e2e/drain.test.ts): confirmation, the maintenance file, exit codes, the
 * VMs that stay named with their reason, the audit log, and the recheck of the maintenance file.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeDriver } from "../../test/support/fake-driver.js";
import { readMaintenance, undrainHost } from "../maintenance/state-file.js";
import { apply } from "./apply.js";
import { drain, undrain, type DrainCliOptions } from "./drain.js";
import type { Io } from "./io.js";

const snapshot = {
  version: 1,
  time: "2026-12-01T12:00:00Z",
  window_s: 300,
  hosts: [
    { name: "hostA", cpus: 2, memory_mib: 4096 },
    { name: "hostB", cpus: 2, memory_mib: 4096 },
  ],
  vms: [
    { name: "vm-1", host: "hostA", vcpus: 1, memory_mib: 1024, usage: [1], delay: [0] },
    { name: "vm-2", host: "hostA", vcpus: 1, memory_mib: 1024, usage: [1], delay: [0] },
    { name: "vm-3", host: "hostA", vcpus: 1, memory_mib: 1024, usage: [0.1], delay: [0], migratable: false },
    { name: "vm-b", host: "hostB", vcpus: 1, memory_mib: 1024, usage: [0.5], delay: [0] },
  ],
};

function setup(edit: (s: typeof snapshot) => void = () => {}) {
  const dir = mkdtempSync(join(tmpdir(), "vsteal-drain-cli-"));
  const snap = structuredClone(snapshot);
  edit(snap);
  writeFileSync(join(dir, "snap.json"), JSON.stringify(snap));
  writeFileSync(join(dir, "hosts.yaml"), 'uri_template: "test://{host}"\n');
  const o: DrainCliOptions = {
    hosts: join(dir, "hosts.yaml"),
    snapshot: join(dir, "snap.json"),
    recheck: false,
    windowS: 300,
    maintenanceFile: join(dir, "maintenance.json"),
    auditLog: join(dir, "audit.jsonl"),
  };
  const driver = new FakeDriver(Object.fromEntries(snap.vms.map((v) => [v.name, v.host])));
  let out = "";
  let err = "";
  const io: Io = { out: (t) => (out += t), err: (l) => (err += `${l}\n`) };
  return { dir, o, driver, io, out: () => out, err: () => err };
}

describe("vsteal drain", () => {
  it("without a terminal and --yes: exit 2, nothing written, nothing moved", async () => {
    const t = setup();
    expect(await drain("hostA", t.o, t.io, { driver: t.driver, tty: false })).toBe(2);
    expect(t.err()).toMatch(/refusing to drain without confirmation: no terminal to ask on; pass --yes/);
    expect(existsSync(t.o.maintenanceFile)).toBe(false);
    expect(t.driver.log).toEqual([]);
  });

  it("--dry-run: the plan and the VM that stays, nothing written or moved, exit 0", async () => {
    const t = setup();
    expect(await drain("hostA", { ...t.o, dryRun: true, json: true }, t.io, { driver: t.driver, tty: false })).toBe(0);
    const j = JSON.parse(t.out()) as {
      drained: boolean;
      moves: Array<{ vm: string; to: string; result: string }>;
      unplaced: Array<{ vm: string; reason: string }>;
    };
    expect(j.drained).toBe(false);
    expect(j.moves.map((m) => [m.vm, m.to, m.result])).toEqual([
      ["vm-1", "hostB", "dry_run"],
      ["vm-2", "hostB", "dry_run"],
    ]);
    expect(j.unplaced).toEqual([
      { vm: "vm-3", host: "hostA", reason: "vm-3 is not migratable (migratable: false): it stays on hostA" },
    ]);
    expect(existsSync(t.o.maintenanceFile)).toBe(false);
    expect(t.driver.log).toEqual([]);
  });

  it("--yes: the host is drained in the file, its VMs leave; one that cannot is named and the exit code is 5; undrain ends it", async () => {
    const t = setup();
    expect(
      await drain("hostA", { ...t.o, yes: true, reason: "kernel update" }, t.io, { driver: t.driver, tty: false }),
    ).toBe(5);
    expect(t.driver.log).toEqual(["start vm-1 hostA->hostB", "start vm-2 hostA->hostB"]);
    expect(t.out()).toMatch(
      /^ok +vm-1 hostA→hostB .*running on hostB, gone from hostA\nok +vm-2 hostA→hostB .*\nstays +vm-3 hostA {2}vm-3 is not migratable/,
    );
    expect(t.err()).toMatch(/hostA is drained: it receives no VM until vsteal undrain hostA/);
    expect(readMaintenance(t.o.maintenanceFile).hosts.hostA).toMatchObject({ reason: "kernel update" });
    const audit = readFileSync(t.o.auditLog, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { action: string; result: string; plan_id: string });
    expect(audit.map((e) => `${e.action}:${e.result}`)).toEqual([
      "plan_start:started",
      "recheck:ok",
      "migrate:started",
      "migrate:ok",
      "recheck:ok",
      "migrate:started",
      "migrate:ok",
      "plan_end:ok",
    ]);
    expect(audit[0]!.plan_id).toMatch(/^drain-hostA-[0-9a-f]{8}$/);

    expect(await undrain("hostA", { maintenanceFile: t.o.maintenanceFile }, t.io)).toBe(0);
    expect(readMaintenance(t.o.maintenanceFile).hosts).toEqual({});
    expect(t.err()).toMatch(/vsteal undrain: hostA may receive VMs again/);
  });

  it("everything leaves: exit 0; an undrain during the drain stops the moves not yet made (recheck)", async () => {
    const t = setup((s) => {
      s.vms = s.vms.filter((v) => v.name !== "vm-3");
    });
    let undrained = false;
    const driver = new FakeDriver({ "vm-1": "hostA", "vm-2": "hostA", "vm-b": "hostB" }, (vm) => {
      if (vm === "vm-1" && !undrained) {
        undrained = true;
        void undrainHost(t.o.maintenanceFile, "hostA");
      }
      return { ms: 20 };
    });
    expect(await drain("hostA", { ...t.o, yes: true }, t.io, { driver, tty: false })).toBe(5);
    expect(driver.log).toEqual(["start vm-1 hostA->hostB"]);
    expect(t.out()).toMatch(
      /skipped +vm-2 hostA→hostB .*recheck: hostA is no longer drained \(vsteal undrain\): the drain stops/,
    );

    const t2 = setup((s) => {
      s.vms = s.vms.filter((v) => v.name !== "vm-3");
    });
    expect(await drain("hostA", { ...t2.o, yes: true }, t2.io, { driver: t2.driver, tty: false })).toBe(0);
  });

  it("bad input: one line that says what to do", async () => {
    const t = setup();
    await expect(drain("hostZ", { ...t.o, yes: true }, t.io, { driver: t.driver })).rejects.toThrow(
      'host "hostZ" is not in the snapshot (hosts: hostA, hostB)',
    );
    await expect(drain("hostA", { ...t.o, recheck: true }, t.io, { driver: t.driver })).rejects.toThrow(
      /pass --prometheus URL .* or --no-recheck/,
    );
    await expect(drain("hostA", { ...t.o, hosts: undefined }, t.io, { driver: t.driver })).rejects.toThrow(
      /needs --hosts FILE/,
    );
    await expect(drain("hostA", { ...t.o, snapshot: undefined }, t.io, { driver: t.driver })).rejects.toThrow(
      /--prometheus URL .* or --snapshot FILE/,
    );
    // A snapshot "file" without end is refused at the snapshot limit, not read into memory.
    await expect(drain("hostA", { ...t.o, snapshot: "/dev/zero" }, t.io, { driver: t.driver })).rejects.toThrow(
      /the snapshot \/dev\/zero is larger than/,
    );
    await expect(drain("hostA", { ...t.o, snapshot: join(t.dir, "nope.json") }, t.io)).rejects.toThrow(
      /cannot read the snapshot .*nope\.json: .*(no such file|not found)/i,
    );
    await expect(drain("host\u0007A", t.o, t.io)).rejects.toThrow(
      /host name "host\\u0007A": must be a host name \(letters, digits/,
    );
    await expect(drain("hostA", { ...t.o, prometheus: "http://127.0.0.1:9" }, t.io)).rejects.toThrow(
      "give one of --prometheus URL or --snapshot FILE, not both",
    );
    await expect(
      drain("hostA", { ...t.o, controller: "http://127.0.0.1:9", tokenFile: join(t.dir, "nope") }, t.io),
    ).rejects.toThrow(/cannot read the token file/);
  });

  it("vsteal apply refuses a plan that moves a VM onto a drained host, before anything starts", async () => {
    const t = setup();
    expect(await drain("hostB", { ...t.o, yes: true }, t.io, { driver: t.driver, tty: false })).toBe(0);
    const planFile = join(t.dir, "plan.json");
    writeFileSync(
      planFile,
      JSON.stringify({
        version: 1,
        moves: [{ vm: "vm-1", from: "hostA", to: "hostB", reason: "test" }],
        predicted: { steal_before: 1, steal_after: 0 },
        explanation: "",
      }),
    );
    const before = t.driver.log.length;
    const o = {
      hosts: t.o.hosts!,
      yes: true,
      recheck: false,
      windowS: 300,
      auditLog: t.o.auditLog,
      maintenanceFile: t.o.maintenanceFile,
    };
    await expect(apply(planFile, o, t.io, { driver: t.driver, tty: false })).rejects.toThrow(
      /^move 1 \(vm-1 hostA→hostB\): hostB is drained \(since .* by .*; .*maintenance\.json\): it receives no VM until vsteal undrain hostB; leave the move out$/,
    );
    expect(t.driver.log.length).toBe(before);
    await undrain("hostB", { maintenanceFile: t.o.maintenanceFile }, t.io);
    expect(await apply(planFile, o, t.io, { driver: t.driver, tty: false })).toBe(0);
    expect(t.driver.at.get("vm-1")!.host).toBe("hostB");
  });
});
