/**
 * What the agents report for planning (host name, VM CPU set, memory, caps) and VMs in transit
 * or younger than the window, through a stand-in Prometheus that answers each of the snapshot's
 * queries with the series an agent of this version exports.
 */
import { describe, expect, it } from "vitest";
import { PrometheusClient } from "./prom-client.js";
import {
  rawCountersQuery,
  snapshotDetailQueries,
  snapshotQueries,
  vcpuSeriesCountQuery,
  type QueryName,
} from "./queries.js";
import { buildSnapshot } from "./snapshot-builder.js";
import { derivedAnswer, perVcpuQueries } from "../../test/support/recorded-prometheus.js";

type Series = { labels: Record<string, string>; v: number };
/**
 * What the agents export, per query the snapshot sends, and per query of perVcpuQueries that the
 * stand-in answers the aggregating ones from: `vm_live` the vCPU series there now,
 * `vm_samples` and `vcpu_samples` the samples of each VM's and vCPU's series in the window,
 * `recent` the VMs with vCPU series within the last minute (there now or not).
 */
type Key = QueryName | "vm_live" | "vm_samples" | "vcpu_samples" | "recent";
type Answers = Partial<Record<Key, Series[]>>;

const W = 60;
const NOW = 1_800_000_000_000;
const T = NOW / 1000;

function prometheus(
  answers: Answers,
  raw: Record<string, Array<{ labels: Record<string, string>; points: Array<[number, number]> }>> = {},
): { client: PrometheusClient; asked: string[] } {
  const q = snapshotQueries(W);
  const byQuery = new Map<string, QueryName>(Object.entries(q).map(([k, v]) => [v, k as QueryName]));
  const asked: string[] = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const form = new URLSearchParams(typeof init?.body === "string" ? init.body : new URL(String(input)).search);
    const query = form.get("query") ?? "";
    asked.push(query);
    // The vCPU series, delay and throttled rates are given per vCPU, as the agent exports
    // them; the snapshot's queries that aggregate them are answered as Prometheus would.
    const wire = (name: Key) =>
      (answers[name] ?? []).map((s) => ({ metric: s.labels, value: [T, String(s.v)] as [number, string] }));
    const old = perVcpuQueries(W);
    const primitive: Record<keyof typeof old, Key> = {
      live: "vm_live",
      delay: "delay",
      throttled: "throttled",
      vmCurrent: "vm_current",
      vmSamples: "vm_samples",
      hostSamples: "host_samples",
      vcpuSamples: "vcpu_samples",
      recent: "recent",
    };
    const derived = derivedAnswer(query, W, "", (q) => {
      const k = (Object.keys(old) as Array<keyof typeof old>).find((n) => old[n] === q);
      return k ? wire(primitive[k]) : null;
    });
    if (derived) return Response.json({ status: "success", data: { resultType: "vector", result: derived } });
    const name = byQuery.get(query);
    if (name === "host_vcpu_series" && answers.host_vcpu_series === undefined) {
      // Agents of this version export how many vCPU series they have now: the live ones.
      const per = new Map<string, { labels: Record<string, string>; n: number }>();
      for (const h of answers.host_cpus ?? []) per.set(h.labels.instance ?? "", { labels: h.labels, n: 0 });
      for (const c of answers.vm_live ?? []) {
        const p = per.get(c.labels.instance ?? "");
        if (p) p.n++;
      }
      const result = [...per.values()].map((p) => ({ metric: p.labels, value: [T, String(p.n)] }));
      return Response.json({ status: "success", data: { resultType: "vector", result } });
    }
    if (name) {
      const result = (answers[name] ?? []).map((s) => ({ metric: s.labels, value: [T, String(s.v)] }));
      return Response.json({ status: "success", data: { resultType: "vector", result } });
    }
    const r = raw[query];
    if (r)
      return Response.json({
        status: "success",
        data: {
          resultType: "matrix",
          result: r.map((s) => ({ metric: s.labels, values: s.points.map(([t, v]) => [t, String(v)]) })),
        },
      });
    return Response.json(
      { status: "error", errorType: "bad_data", error: `unexpected query ${query}` },
      { status: 400 },
    );
  }) as typeof fetch;
  return { client: new PrometheusClient({ url: "http://prometheus.test:9090", fetch: fetchFn }), asked };
}

const target = (i: string) => ({ job: "vsteal", instance: i });

/** One agent: a host with `vms` (name → [vcpus, usage, delay]), fully sampled over the window (12 samples). */
function host(
  instance: string,
  o: {
    name?: string;
    cpus: number;
    vmCpus?: [number, string];
    capacity?: number;
    memBytes?: number;
    vms: Record<
      string,
      { vcpus: number; usage: number; delay: number; samples?: number; memBytes?: number; cap?: number }
    >;
  },
): Answers {
  const t = target(instance);
  const a: Answers = {
    host_cpus: [{ labels: t, v: o.cpus }],
    host_capacity: [{ labels: t, v: o.capacity ?? o.vmCpus?.[0] ?? o.cpus }],
    host_timestamp: [{ labels: t, v: T - 2 }],
    host_samples: [{ labels: t, v: 12 }],
    hosts_seen: [{ labels: t, v: o.cpus }],
    sweep_last: [{ labels: t, v: T - 3 }],
    sweep_first: [{ labels: t, v: T - W + 2 }],
    up: [{ labels: t, v: 1 }],
    vm_current: [],
    vm_samples: [],
    vm_live: [],
    usage: [],
    delay: [],
    throttled: [],
    vcpu_samples: [],
    recent: [],
    vm_max_memory: [],
    vm_cap: [],
  };
  if (o.name) a.host_info = [{ labels: { ...t, host_name: o.name }, v: 1 }];
  if (o.vmCpus) {
    a.host_vm_cpus = [{ labels: t, v: o.vmCpus[0] }];
    a.host_vm_cpus_info = [{ labels: { ...t, cpus: o.vmCpus[1] }, v: 1 }];
  }
  if (o.memBytes !== undefined) a.host_vm_memory = [{ labels: t, v: o.memBytes }];
  for (const [domain, v] of Object.entries(o.vms)) {
    const d = { ...t, domain, uuid: `uuid-${domain}` };
    a.vm_current!.push({ labels: d, v: v.vcpus });
    a.vm_samples!.push({ labels: d, v: 12 });
    a.recent!.push({ labels: d, v: v.vcpus });
    if (v.memBytes !== undefined) a.vm_max_memory!.push({ labels: d, v: v.memBytes });
    if (v.cap !== undefined) a.vm_cap!.push({ labels: d, v: v.cap });
    for (let i = 0; i < v.vcpus; i++) {
      const c = { ...d, vcpu: String(i) };
      a.vm_live!.push({ labels: c, v: 1 });
      a.usage!.push({ labels: c, v: v.usage });
      a.delay!.push({ labels: c, v: v.delay });
      a.throttled!.push({ labels: c, v: 0 });
      a.vcpu_samples!.push({ labels: c, v: v.samples ?? 12 });
    }
  }
  return a;
}

function merge(...parts: Answers[]): Answers {
  const out: Answers = {};
  for (const p of parts)
    for (const [k, v] of Object.entries(p) as [Key, Series[]][]) out[k] = [...(out[k] ?? []), ...v];
  return out;
}

describe("snapshot: what the agents report for planning", () => {
  it("names hosts as their agents do, plans on the VM CPU set and memory, takes VM memory and caps", async () => {
    const { client } = prometheus(
      merge(
        host("10.0.0.1:9977", {
          name: "hv-a",
          cpus: 2,
          vmCpus: [1, "0"],
          memBytes: 4096 * 1024 ** 2,
          vms: {
            web: { vcpus: 2, usage: 0.5, delay: 0.5, memBytes: 512 * 1024 ** 2, cap: 0.5 },
            db: { vcpus: 1, usage: 0.4, delay: 0.6 },
          },
        }),
        host("10.0.0.2:9977", {
          name: "hv-b",
          cpus: 2,
          vmCpus: [1, "1"],
          capacity: 1,
          memBytes: 4096 * 1024 ** 2,
          vms: {},
        }),
      ),
    );
    const { snapshot } = await buildSnapshot(client, { windowS: W, nowMs: NOW });
    expect(snapshot.hosts).toEqual([
      { name: "hv-a", cpus: 1, memory_mib: 4096, reserved_cpus: 0, accepts_vms: true, vm_cpus: "0" },
      { name: "hv-b", cpus: 1, memory_mib: 4096, reserved_cpus: 0, accepts_vms: true, vm_cpus: "1" },
    ]);
    expect(snapshot.sources).toEqual({ "hv-a": "10.0.0.1:9977", "hv-b": "10.0.0.2:9977" });
    const web = snapshot.vms.find((v) => v.name === "web")!;
    expect(web).toMatchObject({ host: "hv-a", memory_mib: 512, cap: 0.5, migratable: true });
    expect(snapshot.vms.find((v) => v.name === "db")!.memory_mib).toBe(0);
    expect(snapshot.notes.join("\n")).toMatch(/memory: 0 host\(s\) and 1 VM\(s\) without memory from their agent/);
  });

  it("the hosts file still overrides what agents report", async () => {
    const { client } = prometheus(
      host("10.0.0.1:9977", {
        name: "hv-a",
        cpus: 8,
        vmCpus: [6, "2-7"],
        memBytes: 8192 * 1024 ** 2,
        vms: { web: { vcpus: 1, usage: 1, delay: 0, memBytes: 1024 ** 3 } },
      }),
    );
    const { snapshot } = await buildSnapshot(client, {
      windowS: W,
      nowMs: NOW,
      hosts: { hosts: { "hv-a": { memory_mib: 1000, reserved_cpus: 2 } }, vms: { web: { memory_mib: 7 } } },
    });
    expect(snapshot.hosts[0]).toMatchObject({ cpus: 6, memory_mib: 1000, reserved_cpus: 2, vm_cpus: "2-7" });
    expect(snapshot.vms[0]!.memory_mib).toBe(7);
  });

  it("a host label set by the scrape config wins over the agent's own name", async () => {
    const a = host("10.0.0.1:9977", { name: "machine-7", cpus: 2, vms: {} });
    for (const k of Object.keys(a) as QueryName[])
      a[k] = a[k]!.map((x) => ({ ...x, labels: { ...x.labels, host: "hv01" } }));
    const { client } = prometheus(a);
    const { snapshot } = await buildSnapshot(client, { windowS: W, nowMs: NOW });
    expect(snapshot.hosts.map((h) => h.name)).toEqual(["hv01"]);
  });

  it("a host name that is not one is refused, naming the target", async () => {
    const { client } = prometheus(host("10.0.0.1:9977", { name: "hv?netcat=x", cpus: 2, vms: {} }));
    await expect(buildSnapshot(client, { windowS: W, nowMs: NOW })).rejects.toThrow(
      /target 10\.0\.0\.1:9977: vsteal_host_info host_name must be a host name .*got "hv\?netcat=x": fix the agent's --host-name/,
    );
  });
});

describe("snapshot: no blind spots", () => {
  it("a VM running a moment ago and on no host now stays on its last host, not movable, with a note", async () => {
    const a = host("10.0.0.1:9977", {
      name: "hv-a",
      cpus: 1,
      vms: { moving: { vcpus: 1, usage: 0.5, delay: 0.5 }, other: { vcpus: 1, usage: 0.5, delay: 0.5 } },
    });
    // The source's agent no longer lists `moving`; the target's has not reported it yet.
    a.vm_current = a.vm_current!.filter((s) => s.labels.domain !== "moving");
    a.vm_live = a.vm_live!.filter((s) => s.labels.domain !== "moving");
    const { client } = prometheus(merge(a, host("10.0.0.2:9977", { name: "hv-b", cpus: 1, vms: {} })));
    const { snapshot } = await buildSnapshot(client, { windowS: W, nowMs: NOW });
    const moving = snapshot.vms.find((v) => v.name === "moving");
    expect(moving).toMatchObject({ host: "hv-a", migratable: false, in_transit: true, usage: [0.5], delay: [0.5] });
    expect(snapshot.notes.join("\n")).toMatch(
      /in transit \(running within the last 60 s, on no host now\): moving \(last on hv-a\)/,
    );
  });

  it("one VM on two hosts (a live migration under way) counts where it runs, is not moved, and the snapshot is still made", async () => {
    const a = host("10.0.0.1:9977", { name: "hv-a", cpus: 1, vms: { moving: { vcpus: 1, usage: 0.5, delay: 0.5 } } });
    // The target's copy is paused until the switch-over: no usage, no delay.
    const b = host("10.0.0.2:9977", { name: "hv-b", cpus: 1, vms: { moving: { vcpus: 1, usage: 0, delay: 0 } } });
    const { client } = prometheus(merge(a, b));
    const { snapshot } = await buildSnapshot(client, { windowS: W, nowMs: NOW });
    expect(snapshot.vms).toHaveLength(1);
    expect(snapshot.vms[0]).toMatchObject({
      name: "moving",
      host: "hv-a",
      migratable: false,
      in_transit: true,
      usage: [0.5],
    });
    expect(snapshot.notes.join("\n")).toMatch(
      /migrating now \(one UUID on two hosts\): moving \(runs on hv-a; also on hv-b\)/,
    );
    // Two different VMs of one name are still refused.
    const c = host("10.0.0.2:9977", { name: "hv-b", cpus: 1, vms: { moving: { vcpus: 1, usage: 0, delay: 0 } } });
    for (const k of Object.keys(c) as QueryName[])
      c[k] = c[k]!.map((x) => (x.labels.uuid ? { ...x, labels: { ...x.labels, uuid: "other-uuid" } } : x));
    const two = prometheus(
      merge(host("10.0.0.1:9977", { name: "hv-a", cpus: 1, vms: { moving: { vcpus: 1, usage: 0.5, delay: 0.5 } } }), c),
    );
    await expect(buildSnapshot(two.client, { windowS: W, nowMs: NOW })).rejects.toThrow(
      /VM moving is on hv-a and hv-b at once, with different UUIDs/,
    );
  });

  it("a VM that arrived within the window is rated over its own samples, not diluted by the window", async () => {
    const b = host("10.0.0.2:9977", {
      name: "hv-b",
      cpus: 2,
      vms: { arrived: { vcpus: 1, usage: 0.25, delay: 0, samples: 3 } },
    });
    const inst = "10.0.0.2:9977";
    const lab = { job: "vsteal", instance: inst, domain: "arrived", uuid: "uuid-arrived", vcpu: "0" };
    const pts = (rate: number): Array<[number, number]> => [0, 5, 10].map((dt) => [T - 10 + dt, 3 + rate * dt]);
    const { client, asked } = prometheus(b, {
      [rawCountersQuery(W, inst)]: [
        { labels: { ...lab, __name__: "libvirt_domain_vcpu_time_seconds_total" }, points: pts(1) },
        { labels: { ...lab, __name__: "libvirt_domain_vcpu_delay_seconds_total" }, points: pts(0) },
      ],
    });
    const { snapshot } = await buildSnapshot(client, { windowS: W, nowMs: NOW });
    expect(asked).toContain(rawCountersQuery(W, inst));
    // rate() said 0.25 (10 s of spinning spread over the 60 s window); its own samples say 1.
    expect(snapshot.vms[0]!.usage[0]).toBeCloseTo(1, 9);
  });
});

// The snapshot counts vCPU series per VM and asks only for throttled rates that are not 0; the
// stand-in gives what the agents export per vCPU and answers those queries as Prometheus does.
// These are the cases where the counts alone do not settle it: the same snapshot as per vCPU.
describe("snapshot: per-VM counts in PromQL, per-vCPU detail where they do not settle it", () => {
  const inst = "10.0.0.1:9977";
  const vcpu = (a: Answers, name: Key, i: number, v: number) => {
    const d = a.vm_current!.find((s) => s.labels.domain === "wide")!.labels;
    a[name]!.push({ labels: { ...d, vcpu: String(i) }, v });
  };

  it("more vCPU series than online vCPUs: that target's series are asked for, the lowest-numbered kept", async () => {
    const a = host(inst, { name: "hv-a", cpus: 8, vms: { wide: { vcpus: 2, usage: 0.5, delay: 0.1 } } });
    vcpu(a, "vm_live", 2, 1);
    vcpu(a, "usage", 2, 0.9);
    vcpu(a, "delay", 2, 0.3);
    vcpu(a, "throttled", 2, 0.2);
    const { client, asked } = prometheus(a);
    const { snapshot } = await buildSnapshot(client, { windowS: W, nowMs: NOW });
    expect(asked).toContain(snapshotDetailQueries(W, inst).live);
    expect(snapshot.vms[0]).toMatchObject({ usage: [0.5, 0.5], delay: [0.1, 0.1], throttled: [0, 0] });
    expect(snapshot.notes.join("\n")).toMatch(/1 VMs report more vCPU series than online vCPUs/);
    expect(snapshot.notes.join("\n")).not.toMatch(/throttled:/);
  });

  it("a vCPU series there now without a delay rate: no snapshot, naming the vCPU", async () => {
    const a = host(inst, { name: "hv-a", cpus: 8, vms: { wide: { vcpus: 2, usage: 0.5, delay: 0.1 } } });
    a.delay = a.delay!.filter((s) => s.labels.vcpu !== "1");
    const { client, asked } = prometheus(a);
    await expect(buildSnapshot(client, { windowS: W, nowMs: NOW })).rejects.toThrow(
      /VM wide on hv-a: no usage or delay rate for vCPU 1 \(fewer than 2 samples/,
    );
    expect(asked).toContain(snapshotDetailQueries(W, inst).live);
  });

  it("a vCPU series missing: no snapshot, naming the vCPUs there", async () => {
    const a = host(inst, { name: "hv-a", cpus: 8, vms: { wide: { vcpus: 3, usage: 0.5, delay: 0.1 } } });
    a.vm_live = a.vm_live!.filter((s) => s.labels.vcpu !== "1");
    a.delay = a.delay!.filter((s) => s.labels.vcpu !== "1");
    const { client, asked } = prometheus(a);
    await expect(buildSnapshot(client, { windowS: W, nowMs: NOW })).rejects.toThrow(
      /VM wide on hv-a: 3 online vCPUs but 2 vCPU series \(vCPU 0, 2\): vCPU series missing/,
    );
    expect(asked).toContain(snapshotDetailQueries(W, inst).live);
  });

  it("a vCPU series gone within the window (still rated), vCPU 0 there: the agent's count tells, the detail names it", async () => {
    const a = host(inst, { name: "hv-a", cpus: 8, vms: { wide: { vcpus: 3, usage: 0.5, delay: 0.1 } } });
    a.vm_live = a.vm_live!.filter((s) => s.labels.vcpu !== "1");
    const { client, asked } = prometheus(a);
    await expect(buildSnapshot(client, { windowS: W, nowMs: NOW })).rejects.toThrow(
      /VM wide on hv-a: 3 online vCPUs but 2 vCPU series \(vCPU 0, 2\): vCPU series missing/,
    );
    expect(asked).toContain(snapshotDetailQueries(W, inst).live);
    expect(asked).not.toContain(vcpuSeriesCountQuery([inst]));
  });

  it("an agent that does not count its vCPU series: they are counted in PromQL, and a gone one is still found", async () => {
    const a = host(inst, { name: "hv-a", cpus: 8, vms: { wide: { vcpus: 3, usage: 0.5, delay: 0.1 } } });
    a.host_vcpu_series = [];
    const ok = prometheus(a);
    const { snapshot } = await buildSnapshot(ok.client, { windowS: W, nowMs: NOW });
    expect(snapshot.vms[0]).toMatchObject({ name: "wide", delay: [0.1, 0.1, 0.1] });
    expect(ok.asked).toContain(vcpuSeriesCountQuery([inst]));
    expect(ok.asked).not.toContain(snapshotDetailQueries(W, inst).live);
    a.vm_live = a.vm_live!.filter((s) => s.labels.vcpu !== "1");
    const gone = prometheus(a);
    await expect(buildSnapshot(gone.client, { windowS: W, nowMs: NOW })).rejects.toThrow(
      /VM wide on hv-a: 3 online vCPUs but 2 vCPU series \(vCPU 0, 2\)/,
    );
    expect(gone.asked).toContain(snapshotDetailQueries(W, inst).live);
  });

  it("throttled: the rates not 0 per vCPU; a VM whose vCPU 0 has no throttled series has its vCPUs counted, taken as 0", async () => {
    const a = host(inst, { name: "hv-a", cpus: 8, vms: { wide: { vcpus: 3, usage: 0.5, delay: 0.4 } } });
    a.throttled = a.throttled!.map((s) => ({ ...s, v: s.labels.vcpu === "1" ? 0.25 : 0 }));
    const { client } = prometheus(a);
    const { snapshot } = await buildSnapshot(client, { windowS: W, nowMs: NOW });
    expect(snapshot.vms[0]!.throttled).toEqual([0, 0.25, 0]);
    expect(snapshot.notes.join("\n")).not.toMatch(/throttled:/);
    a.throttled = a.throttled.filter((s) => s.labels.vcpu !== "0");
    const unreadable = await buildSnapshot(prometheus(a).client, { windowS: W, nowMs: NOW });
    expect(unreadable.snapshot.vms[0]!.throttled).toEqual([0, 0.25, 0]);
    expect(unreadable.snapshot.notes.join("\n")).toMatch(
      /throttled: 3 vCPUs have no vsteal_domain_vcpu_throttled_seconds_total series/,
    );
  });

  it("an impossible throttled rate (NaN) still comes back and is refused", async () => {
    const a = host(inst, { name: "hv-a", cpus: 8, vms: { wide: { vcpus: 1, usage: 0.5, delay: 0.4 } } });
    a.throttled = a.throttled!.map((s) => ({ ...s, v: NaN }));
    const { client } = prometheus(a);
    await expect(buildSnapshot(client, { windowS: W, nowMs: NOW })).rejects.toThrow(
      /VM wide on hv-a: impossible rates: vCPU 0 throttled/,
    );
  });
});
