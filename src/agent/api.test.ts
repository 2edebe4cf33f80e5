/** The agent's JSON API: every answer in snake_case, with the figures of the collector behind it. */
import { describe, expect, it } from "vitest";
import { makeSample, wave, type DomainSpec } from "../../test/fixtures/history/samples.js";
import { notSnakeCase } from "../../test/support/casing.js";
import { hostSummary } from "../analysis/host.js";
import type { NoisyNeighbours } from "../analysis/neighbours.js";
import type { ActiveAlert, AlertEvent } from "../alerts/types.js";
import type { HostFacts } from "../collect/host-facts.js";
import { History } from "../history/history.js";
import { apiRoutes } from "./api.js";
import type { AlertsResponse, HealthResponse, HistoryResponse, HostResponse, VictimsResponse } from "./api-types.js";
import type { Collector, CollectorHealth } from "../collect/collector.js";

const T0 = Date.now() - 60_000;
const DOMS: DomainSpec[] = [
  { name: "kvm-a", vcpus: 2 },
  { name: "kvm-b", vcpus: 1 },
];
const rates = makeSample(T0 + 55_000, DOMS, (d, v) => wave(11, d, v));
const facts: HostFacts = {
  hostName: "hv01",
  onlineCpus: [0, 1, 2, 3],
  vmCpus: [1, 2, 3],
  vmCpusFrom: "flag",
  reservedCpus: 1,
  capacityCores: 2,
  memTotalBytes: 8 << 30,
  memAvailableBytes: 4 << 30,
  vmMemoryBytes: 7 << 30,
  reservedMemoryBytes: 1 << 30,
};
const health: CollectorHealth = {
  sweeps: 12,
  lastSweepSeconds: 0.004,
  lastSweepMs: T0 + 55_000,
  lastDiscoveryMs: T0,
  discoveryErrors: 2,
  errors: 3,
  vcpus: 3,
  domains: 2,
  lastError: "libvirt is not running",
  eventDiscoveries: 1,
};
const noisy: NoisyNeighbours = {
  domain: "kvm-a",
  uuid: null,
  contention: 0.4,
  throttled: 0,
  cpus: [1, 2],
  neighbours: [{ domain: "kvm-b", uuid: null, cpuOnSharedCpus: 0.7, shareOfSharedCpus: 0.35 }],
};
const collector = {
  health,
  sampler: { source: { description: "libvirt qemu:///system" } },
  host: hostSummary(rates, 4, 1, 3),
  facts,
  rates,
  window: { windowS: 60 },
  neighbours: (name: string) => (name === "kvm-a" ? noisy : null),
  victims: () => [noisy],
} as unknown as Collector;
const active: ActiveAlert = {
  rule: "vm_steal",
  subject: { domain: "kvm-a" },
  state: "firing",
  value: 0.3,
  threshold: 0.2,
  activeSinceMs: T0,
  firedAtMs: T0 + 30_000,
  severity: "warning",
  labels: { alertname: "VmSteal" },
  annotations: { summaryText: "kvm-a waits" },
};
const event: AlertEvent = {
  rule: "vm_steal",
  subject: { domain: "kvm-a" },
  state: "resolved",
  value: 0.1,
  threshold: 0.15,
  atMs: T0 + 40_000,
  severity: "warning",
  labels: {},
  annotations: {},
  reason: "cleared",
};

async function app() {
  const history = new History({ intervalS: 5 });
  await history.open();
  for (let i = 0; i < 12; i++) history.record(makeSample(T0 + i * 5000, DOMS, (d, v) => wave(i, d, v)));
  return apiRoutes({
    collector,
    history,
    alerts: { active: () => [active], history: () => [event] },
    startedMs: Date.now() - 5000,
  });
}

const get = async <T>(a: Awaited<ReturnType<typeof app>>, path: string): Promise<T> => {
  const r = await a.request(path);
  expect(r.status, path).toBe(200);
  return (await r.json()) as T;
};

describe("the agent's JSON API", () => {
  it("answers every endpoint in snake_case, down to the nested keys", async () => {
    const a = await app();
    for (const path of [
      "/health",
      "/host",
      "/domains",
      "/domains/kvm-a",
      "/neighbours",
      "/neighbours?domain=kvm-a",
      "/history?from=now-2m",
      "/history/domains?from=now-2m",
      "/alerts",
    ])
      expect(notSnakeCase(await get(a, path)), path).toEqual([]);
  });

  it("health, host, neighbours, alerts and history carry the collector's figures under their new keys", async () => {
    const a = await app();
    const h = await get<HealthResponse>(a, "/health");
    expect(h).toMatchObject({
      role: "agent",
      status: "ok",
      sweeps: 12,
      last_sweep_seconds: 0.004,
      last_sweep_ms: T0 + 55_000,
      last_discovery_ms: T0,
      discovery_errors: 2,
      last_error: "libvirt is not running",
      event_discoveries: 1,
    });
    expect(Object.keys(h.memory).sort()).toEqual(["array_buffers", "external", "heap_total", "heap_used", "rss"]);
    const host = await get<HostResponse>(a, "/host");
    expect(host).toMatchObject({
      cpus: 4,
      reserved_cpus: 1,
      capacity: 2,
      running_domains: 2,
      vcpus_allocated: 3,
      oversubscription: 1.5,
      vcpus_sampled: 3,
      host_name: "hv01",
      vm_cpus: "1-3",
      vm_cpu_count: 3,
      interval_s: 5,
    });
    expect(host.demand_ratio).toBeCloseTo(host.demand / 2, 9);
    expect(Object.keys(host.steal_percentiles)).toEqual(["p50", "p90", "p99", "max"]);
    const v = await get<VictimsResponse>(a, "/neighbours");
    expect(v).toEqual({
      window_s: 60,
      victims: [
        {
          ...noisy,
          neighbours: [{ domain: "kvm-b", uuid: null, cpu_on_shared_cpus: 0.7, share_of_shared_cpus: 0.35 }],
        },
      ],
    });
    const al = await get<AlertsResponse>(a, "/alerts");
    expect(al.active[0]).toMatchObject({ active_since_ms: T0, fired_at_ms: T0 + 30_000, labels: active.labels });
    expect(al.events[0]).toMatchObject({ at_ms: T0 + 40_000, reason: "cleared" });
    const hs = await get<HistoryResponse>(a, "/history?domain=kvm-a&vcpu=1&from=now-2m");
    expect(hs.series.map((s) => [s.vcpu, s.tier, s.step_s, s.points.length])).toEqual([[1, "raw", 5, 12]]);
    expect(hs.series[0]?.points[0]?.delay_max).toBeCloseTo(wave(0, 0, 1).delay, 3);
  });
});
