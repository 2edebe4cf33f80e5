import { describe, expect, it } from "vitest";
import { SnapshotError } from "../fleet/errors.js";
import { parseSnapshot, type FleetSnapshot } from "../model/fleet.js";
import { drainRecheck } from "./drain-recheck.js";
import type { MaintenanceState } from "./state-file.js";

const snap: FleetSnapshot = parseSnapshot({
  version: 1,
  time: "2026-12-01T12:00:00Z",
  window_s: 60,
  hosts: [
    { name: "A", cpus: 2, memory_mib: 4096 },
    { name: "B", cpus: 1, memory_mib: 2048 },
  ],
  vms: [
    { name: "v1", host: "A", vcpus: 1, memory_mib: 1024, usage: [1], delay: [0] },
    { name: "v2", host: "A", vcpus: 1, memory_mib: 1024, usage: [1], delay: [0] },
    { name: "big", host: "A", vcpus: 1, memory_mib: 4000, usage: [0.1], delay: [0] },
    { name: "b1", host: "B", vcpus: 1, memory_mib: 512, usage: [1], delay: [0] },
  ],
});
const drained = (...hosts: string[]): MaintenanceState => ({
  version: 1,
  hosts: Object.fromEntries(hosts.map((h) => [h, { since: "2026-12-01T12:00:00Z", by: "t", reason: null }])),
});
const move = (vm: string, to = "B") => ({ vm, from: "A", to, reason: "" });

describe("drainRecheck", () => {
  it("needs no gain and no CPU headroom (B: 2 vCPUs on 1 core), but memory; stops when the host is undrained or the target drained", async () => {
    let state = drained("A");
    const r = drainRecheck({ host: "A", maintenance: () => state, fresh: async () => snap });
    expect(await r(move("v1"), 0)).toMatchObject({ ok: true });
    expect(await r(move("big"), 1)).toEqual({
      ok: false,
      reason: "target no longer takes it: B has 1536 MiB free, big needs 4000",
    });
    expect(
      await drainRecheck({ host: "A", maintenance: () => state, fresh: async () => snap, requireHeadroom: true })(
        move("v1"),
        0,
      ),
    ).toMatchObject({ ok: false, reason: expect.stringMatching(/B would be oversubscribed/) });
    state = drained("A", "B");
    expect(await r(move("v1"), 0)).toEqual({ ok: false, reason: "B is drained now: it receives nothing" });
    state = drained();
    expect(await r(move("v1"), 0)).toEqual({
      ok: false,
      reason: "A is no longer drained (vsteal undrain): the drain stops",
    });
  });

  it("a snapshot with partial or inconsistent data (a VM just moved) is built again; anything else skips at once", async () => {
    let calls = 0;
    const flaky = async () => {
      calls++;
      if (calls === 1) throw new SnapshotError("partial_data", "no snapshot: VM v1 on B: vCPU series missing");
      if (calls === 2) throw new SnapshotError("inconsistent_data", "no snapshot: VM v1 is on A and B at once");
      return snap;
    };
    const r = drainRecheck({ host: "A", maintenance: () => drained("A"), fresh: flaky, retryDelayMs: 1 });
    expect(await r(move("v2"), 1)).toMatchObject({ ok: true });
    expect(calls).toBe(3);
    calls = 0;
    const down = drainRecheck({
      host: "A",
      maintenance: () => drained("A"),
      fresh: async () => {
        calls++;
        throw new SnapshotError("prometheus_unreachable", "no snapshot: connection refused");
      },
      retryDelayMs: 1,
    });
    expect(await down(move("v2"), 1)).toEqual({ ok: false, reason: "no fresh data: no snapshot: connection refused" });
    expect(calls).toBe(1);
    const stuck = drainRecheck({
      host: "A",
      maintenance: () => drained("A"),
      fresh: async () => {
        throw new SnapshotError("partial_data", "no snapshot: still missing");
      },
      retryDelayMs: 1,
      partialRetries: 2,
    });
    expect(await stuck(move("v2"), 1)).toEqual({ ok: false, reason: "no fresh data: no snapshot: still missing" });
  });
});
