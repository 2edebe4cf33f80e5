import { lstatSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSnapshot } from "../model/fleet.js";
import { applyMaintenance } from "./apply.js";
import { drainHost, MaintenanceError, MAX_BYTES, readMaintenance, undrainHost } from "./state-file.js";

const dir = () => mkdtempSync(join(tmpdir(), "vsteal-maint-"));

describe("the maintenance file", () => {
  it("missing: nobody drained; drain and undrain write it atomically, with no temp file or lock left", async () => {
    const d = dir();
    const f = join(d, "sub", "maintenance.json");
    expect(readMaintenance(f).hosts).toEqual({});
    await drainHost(f, "hv01", "alice@ops", "BIOS update", new Date("2026-12-01T15:00:00Z"));
    await drainHost(f, "hv02", "bob@ops", null, new Date("2026-12-01T15:01:00Z"));
    // Draining again keeps the first entry.
    await drainHost(f, "hv01", "carol@ops", "again", new Date("2026-12-01T16:00:00Z"));
    expect(JSON.parse(readFileSync(f, "utf8"))).toEqual({
      version: 1,
      hosts: {
        hv01: { since: "2026-12-01T15:00:00.000Z", by: "alice@ops", reason: "BIOS update" },
        hv02: { since: "2026-12-01T15:01:00.000Z", by: "bob@ops", reason: null },
      },
    });
    expect((await undrainHost(f, "hv01")).was).toBe(true);
    expect((await undrainHost(f, "hv01")).was).toBe(false);
    expect(Object.keys(readMaintenance(f).hosts)).toEqual(["hv02"]);
    expect(readdirSync(join(d, "sub"))).toEqual(["maintenance.json"]);
  });

  it("concurrent changes never lose a host (lock file)", async () => {
    const f = join(dir(), "m.json");
    await Promise.all(Array.from({ length: 20 }, (_, i) => drainHost(f, `hv${i}`, "t", null)));
    expect(Object.keys(readMaintenance(f).hosts).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `hv${i}`).sort());
  });

  it("never follows a symlink: reading refuses it, writing replaces the link, not its target", async () => {
    const d = dir();
    const target = join(d, "elsewhere");
    writeFileSync(target, "precious\n");
    const f = join(d, "m.json");
    symlinkSync(target, f);
    expect(() => readMaintenance(f)).toThrow(/m\.json is a symbolic link: vsteal does not follow it/);
    await expect(drainHost(f, "hv01", "t", null)).rejects.toThrow(MaintenanceError);
    expect(readFileSync(target, "utf8")).toBe("precious\n");
    expect(lstatSync(f).isSymbolicLink()).toBe(true);
  });

  it("bad content: one line naming the file and the field", () => {
    const d = dir();
    const f = join(d, "m.json");
    writeFileSync(f, "{not json");
    expect(() => readMaintenance(f)).toThrow(
      new RegExp(`^${f}: not valid JSON .*: fix it, or remove it to undrain every host$`),
    );
    writeFileSync(f, JSON.stringify({ version: 1, hosts: { hv01: { since: "yesterday", by: "x" } } }));
    expect(() => readMaintenance(f)).toThrow(
      `${f}: hosts.hv01.since: expected an ISO 8601 time (got "yesterday"); the format is in docs/maintenance.md`,
    );
    writeFileSync(f, JSON.stringify({ version: 2, hosts: {} }));
    expect(() => readMaintenance(f)).toThrow(/m\.json: version: .*\(got 2\)/);
    writeFileSync(f, Buffer.alloc(MAX_BYTES + 1, 0x20));
    expect(() => readMaintenance(f)).toThrow(/more than 1048576: not a maintenance file\?/);
  });

  it("host names: what is no host name anywhere in vsteal is refused; names like constructor stay plain data", async () => {
    const f = join(dir(), "m.json");
    for (const bad of ["hv\n01", "a/b", "hv01?netcat=x", "user@hv01"])
      await expect(drainHost(f, bad, "t", null)).rejects.toThrow(
        `host name ${JSON.stringify(bad)}: must be a host name (letters, digits, "-", "_" and dots, or [IPv6], optionally with :port)`,
      );
    await expect(drainHost(f, "__proto__", "t", null)).rejects.toThrow(
      'host name "__proto__": is not a usable host name',
    );
    await drainHost(f, "constructor", "t", null);
    expect(Object.keys(readMaintenance(f).hosts)).toEqual(["constructor"]);
    expect(readMaintenance(f).hosts.toString).toBeUndefined();
  });
});

describe("applyMaintenance", () => {
  const snap = parseSnapshot({
    version: 1,
    time: "2026-12-01T12:00:00Z",
    window_s: 60,
    hosts: [
      { name: "hv01", cpus: 4, memory_mib: 1024 },
      { name: "constructor", cpus: 4, memory_mib: 1024 },
    ],
    vms: [],
  });
  it("drained hosts get drain: true and accepts_vms: false, with a note; others are untouched", () => {
    const s = applyMaintenance(
      { ...snap, notes: [] },
      {
        version: 1,
        hosts: {
          hv01: { since: "2026-12-01T15:00:00.000Z", by: "alice@ops", reason: "BIOS" },
          gone: { since: "2026-12-01T15:00:00.000Z", by: "x", reason: null },
        },
      },
      "/x/m.json",
    );
    expect(s.hosts).toEqual([
      { name: "hv01", cpus: 4, memory_mib: 1024, reserved_cpus: 0, accepts_vms: false, drain: true },
      { name: "constructor", cpus: 4, memory_mib: 1024, reserved_cpus: 0, accepts_vms: true },
    ]);
    expect(s.notes).toEqual([
      "maintenance: hv01 is drained (since 2026-12-01T15:00:00.000Z by alice@ops: BIOS): it receives no VM and its VMs leave (/x/m.json)",
      "maintenance: gone is drained but not in the snapshot (/x/m.json)",
    ]);
    // The result is still a valid snapshot, and stays drained through parsing.
    expect(parseSnapshot(s).hosts[0]).toMatchObject({ drain: true, accepts_vms: false });
  });
});
