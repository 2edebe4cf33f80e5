/**
 * Class 4 of the hostile-input review: numbers that cannot be true are refused, not clamped —
 * from a snapshot file, from Prometheus, from a hosts file, from the agent's flags — with a
 * message naming the field, and with bounds that keep the planner's time bounded.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { Collector } from "../../../src/collect/collector.js";
import { planFromFile } from "../../../src/cli/plan.js";
import { SnapshotError } from "../../../src/fleet/errors.js";
import { buildSnapshot } from "../../../src/fleet/snapshot-builder.js";
import { FLEET_BOUNDS, FleetValidationError, parseSnapshot } from "../../../src/model/fleet.js";
import { plan } from "../../../src/planner/index.js";
import type { DomainSource } from "../../../src/sources/source.js";
import { hostileFixture } from "./prometheus-fixture.js";

const dir = mkdtempSync(join(tmpdir(), "vsteal-hostile-num-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { out: () => undefined, err: () => undefined };

const snap = (over: { host?: object; vm?: object } = {}) => ({
  version: 1,
  time: "2026-11-25T12:00:00Z",
  window_s: 300,
  hosts: [
    { name: "hv01", cpus: 8, memory_mib: 1024, ...over.host },
    { name: "hv02", cpus: 8, memory_mib: 1024 },
  ],
  vms: [{ name: "a", host: "hv01", vcpus: 1, memory_mib: 0, usage: [0.5], delay: [0.1], ...over.vm }],
});

function issuesOf(value: unknown): string[] {
  try {
    parseSnapshot(value);
  } catch (e) {
    if (e instanceof FleetValidationError) return e.issues.map((i) => `${i.field}: ${i.reason}`);
    throw e;
  }
  return [];
}

describe("a snapshot with impossible numbers is refused, naming the field", () => {
  it("cpus: 1e12 (crashed the planner with 'Invalid typed array length')", () => {
    expect(issuesOf(snap({ host: { cpus: 1e12 } }))).toEqual([
      `hosts[0].cpus: must be at most ${FLEET_BOUNDS.hostCpus}, got 1000000000000`,
    ]);
  });

  it("vcpus: 1e6 (ran the planner for minutes)", () => {
    const n = 1_000_000;
    expect(issuesOf(snap({ vm: { vcpus: n, usage: [0.5], delay: [0.1] } }))[0]).toBe(
      `vms[0].vcpus: must be at most ${FLEET_BOUNDS.vmVcpus}, got ${n}`,
    );
  });

  it("more vCPUs on one host than keep the planner's time bounded", () => {
    const vms = Array.from({ length: 2 }, (_, i) => ({
      name: `big${i}`,
      host: "hv01",
      vcpus: 4096,
      memory_mib: 0,
      usage: Array(4096).fill(0.5),
      delay: Array(4096).fill(0),
    }));
    expect(issuesOf({ ...snap(), vms })).toEqual([
      `hosts[0].name: host "hv01" carries 8192 vCPUs (its VMs' vcpus), more than ${FLEET_BOUNDS.hostVcpus}`,
    ]);
  });

  it("rates below 0 or above 1 per vCPU", () => {
    expect(issuesOf(snap({ vm: { usage: [1.7] } }))).toEqual(["vms[0].usage[0]: must be at most 1.25, got 1.7"]);
    expect(issuesOf(snap({ vm: { delay: [-0.1] } }))).toEqual(["vms[0].delay[0]: must be at least 0, got -0.1"]);
  });

  it("reserved_cpus above the host's CPUs", () => {
    expect(issuesOf(snap({ host: { reserved_cpus: 9 } }))).toEqual([
      "hosts[0].reserved_cpus: must be at most cpus (8), got 9",
    ]);
  });

  it("fast-check: every snapshot the validator accepts is planned without crash, its plan naming only its hosts", () => {
    const host = fc.record({ cpus: fc.integer({ min: 1, max: FLEET_BOUNDS.hostCpus }), reserved: fc.nat({ max: 4 }) });
    const vm = fc.record({
      vcpus: fc.integer({ min: 1, max: 64 }),
      host: fc.nat({ max: 3 }),
      u: fc.double({ min: -0.5, max: 2, noNaN: true }),
      d: fc.double({ min: -0.5, max: 2, noNaN: true }),
    });
    fc.assert(
      fc.property(fc.array(host, { minLength: 1, maxLength: 4 }), fc.array(vm, { maxLength: 12 }), (hosts, vms) => {
        const value = {
          version: 1,
          time: "2026-11-25T12:00:00Z",
          window_s: 300,
          hosts: hosts.map((h, i) => ({
            name: `hv${i}`,
            cpus: h.cpus,
            memory_mib: 0,
            reserved_cpus: Math.min(h.reserved, h.cpus),
          })),
          vms: vms.map((v, i) => ({
            name: `vm${i}`,
            host: `hv${v.host % hosts.length}`,
            vcpus: v.vcpus,
            memory_mib: 0,
            usage: Array(v.vcpus).fill(v.u),
            delay: Array(v.vcpus).fill(v.d),
          })),
        };
        const impossible = vms.some((v) => v.u < 0 || v.u > 1.25 || v.d < 0 || v.d > 1.25);
        let s;
        try {
          s = parseSnapshot(value);
        } catch (e) {
          expect(e).toBeInstanceOf(FleetValidationError);
          expect(impossible).toBe(true);
          return;
        }
        expect(impossible).toBe(false);
        const p = plan(s);
        const names = new Set(s.hosts.map((h) => h.name));
        for (const m of p.moves) expect(names.has(m.from) && names.has(m.to)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("vsteal plan --snapshot: a bad snapshot is an error naming the file and field", () => {
    const f = join(dir, "s.json");
    writeFileSync(f, JSON.stringify(snap({ host: { cpus: 1e12 } })));
    expect(() => planFromFile(f, {}, quiet)).toThrow(
      /s\.json: invalid fleet snapshot:\n {2}hosts\[0\]\.cpus: must be at most 8192/,
    );
  });
});

describe("impossible numbers from Prometheus: no snapshot, so no plan (exit 3)", () => {
  it("a usage rate of 7 cores for one vCPU", async () => {
    const { index, client } = hostileFixture("healthy", (a, query) => {
      if (!query.startsWith("rate(libvirt_domain_vcpu_time_seconds_total")) return;
      const r = a.data?.result?.find((x) => x.metric.domain === "busy-1");
      if (r?.value) r.value[1] = "7";
    });
    const err = await buildSnapshot(client, { windowS: index.window_s, nowMs: index.now_ms }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SnapshotError);
    expect((err as SnapshotError).message).toMatch(
      /VM busy-1 on hv01: impossible rates: vCPU \d usage must be at most 1 .* got 7/,
    );
  });

  it("a host with 1e12 CPUs", async () => {
    const { index, client } = hostileFixture("healthy", (a, query) => {
      if (query !== "vsteal_host_cpus") return;
      const r = a.data?.result?.find((x) => x.metric.host === "hv02");
      if (r?.value) r.value[1] = "1e12";
    });
    const err = await buildSnapshot(client, { windowS: index.window_s, nowMs: index.now_ms }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as SnapshotError).message).toMatch(/host hv02 .*: vsteal_host_cpus is 1000000000000/);
  });

  it("the hosts file reserves more CPUs than the host has", async () => {
    const { index, client } = hostileFixture("healthy", () => undefined);
    const err = await buildSnapshot(client, {
      windowS: index.window_s,
      nowMs: index.now_ms,
      hosts: { hosts: { hv01: { reserved_cpus: 40 } } },
      hostsFile: "hosts.yaml",
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as SnapshotError).message).toMatch(
      /host hv01 has 4 CPUs, fewer than the reserved_cpus 40 of the hosts file hosts\.yaml \(hosts\.hv01\.reserved_cpus\)/,
    );
  });
});

describe("the agent", () => {
  it("--reserved-cpus above the host's CPUs is refused at start", () => {
    const source: DomainSource = {
      description: "none",
      discover: () => Promise.resolve({ domains: [], problems: [] }),
    } as unknown as DomainSource;
    expect(() => new Collector({ source, intervalS: 1, cpus: 4, reservedCpus: 5 })).toThrow(
      "--reserved-cpus 5: this host has only 4 online CPUs; reserve at most 4",
    );
    expect(() => new Collector({ source, intervalS: 1, cpus: 4, reservedCpus: 4 })).not.toThrow();
  });
});
