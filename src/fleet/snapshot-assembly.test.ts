/**
 * The phases of the snapshot assembly on plain series, without HTTP: each phase's own rule,
 * and that any missing or impossible piece stops the snapshot with all of them named.
 */
import { describe, expect, it } from "vitest";
import { SnapshotError } from "./errors.js";
import type { VectorSample } from "./prom-client.js";
import { snapshotQueries, type QueryName } from "./queries.js";
import {
  applyDetail,
  countedSeries,
  hostNames,
  hostsPhase,
  liveSeries,
  liveVmsPhase,
  missingHosts,
  newFindings,
  ratesPhase,
  refuseIncomplete,
  throttledCounts,
  vmKeyOf,
  vmsPhase,
  youngSeries,
  type AssemblyContext,
  type SnapshotAnswers,
} from "./snapshot-assembly.js";

const NOW = 1_800_000_000_000;
const T = NOW / 1000;
const ctx: AssemblyContext = { nowMs: NOW, windowS: 60, staleAfterS: 120, cfg: null, hostsFile: null };
const target = (instance: string) => ({ job: "vsteal", instance });
const s = (labels: Record<string, string>, v: number): VectorSample => ({ labels, t: T, v });

/** Answers with nothing but what is given. */
function answers(a: Partial<SnapshotAnswers>): SnapshotAnswers {
  const names = Object.keys(snapshotQueries(60)) as QueryName[];
  return Object.fromEntries(names.map((n) => [n, a[n] ?? []])) as SnapshotAnswers;
}

/** One host `hv-a` (target 10.0.0.1:9977) with current metrics. */
const hostA = {
  host_cpus: [s({ ...target("10.0.0.1:9977"), host: "hv-a" }, 8)],
  host_timestamp: [s({ ...target("10.0.0.1:9977"), host: "hv-a" }, T - 5)],
  host_samples: [s({ ...target("10.0.0.1:9977"), host: "hv-a" }, 12)],
};

describe("hosts and missing or stale hosts", () => {
  it("names a host by its host label, else by its agent's name, else by its instance", () => {
    const f = newFindings();
    const hostOf = hostNames([s({ ...target("10.0.0.2:9977"), host_name: "hv-b" }, 1)], f);
    expect(hostOf({ ...target("10.0.0.1:9977"), host: "hv-a" })).toBe("hv-a");
    expect(hostOf(target("10.0.0.2:9977"))).toBe("hv-b");
    expect(hostOf(target("10.0.0.3:9977"))).toBe("10.0.0.3:9977");
    expect(f).toEqual(newFindings());
  });

  it("one host exported by two targets cannot be true", () => {
    const f = newFindings();
    const r = answers({ host_cpus: [s({ ...target("a:1"), host: "hv" }, 4), s({ ...target("b:1"), host: "hv" }, 4)] });
    const hosts = hostsPhase(r, hostNames([], f), f);
    expect([...hosts.keys()]).toEqual(["hv"]);
    expect(f.inconsistent).toEqual([
      "host hv is exported by two targets, a:1 and b:1: give each agent its own host label",
    ]);
  });

  it("a host seen in the window, in the hosts file or down, without current metrics, is missing; a stale one too", () => {
    const f = newFindings();
    const r = answers({
      ...hostA,
      host_timestamp: [s({ ...target("10.0.0.1:9977"), host: "hv-a" }, T - 600)],
      hosts_seen: [s({ ...target("10.0.0.2:9977"), host: "hv-b" }, 8)],
      up: [s({ ...target("10.0.0.3:9977"), host: "hv-c" }, 0)],
    });
    const hostOf = hostNames([], f);
    const hosts = hostsPhase(r, hostOf, f);
    missingHosts(r, hosts, hostOf, { ...ctx, cfg: { hosts: { "hv-d": {} } } }, f);
    expect(f.problems).toEqual([
      "host hv-b: no current metrics, but it had metrics in the last 60 s",
      "host hv-d: no current metrics, but it is listed in the hosts file",
      "host hv-c: no current metrics, but its target 10.0.0.3:9977 (job vsteal) is down (up == 0)",
      "host hv-a (10.0.0.1:9977): newest sample is 10 min old (stale after 2 min)",
    ]);
    expect([...f.missing].sort()).toEqual(["hv-a", "hv-b", "hv-c", "hv-d"]);
  });
});

describe("live VMs and their vCPU series", () => {
  const vm = (domain: string) => ({ ...target("10.0.0.1:9977"), host: "hv-a", domain, uuid: `u-${domain}` });
  const cpu = (domain: string, i: number) => ({ ...vm(domain), vcpu: String(i) });

  function phases(r: SnapshotAnswers) {
    const f = newFindings();
    const hostOf = hostNames(r.host_info, f);
    const hosts = hostsPhase(r, hostOf, f);
    const live = liveVmsPhase(r, hosts, hostOf);
    const rates = ratesPhase(r, hostOf);
    return { f, hostOf, hosts, live, rates, detail: liveSeries(live, rates, hosts) };
  }

  it("a VM whose vCPU 0 had every sample, with a delay rate per online vCPU, has those series; a domain without any is not running", () => {
    const r = answers({
      ...hostA,
      vm_current: [s(vm("web"), 2), s(vm("off"), 1)],
      delay: [s(cpu("web", 0), 0.1), s(cpu("web", 1), 0.2)],
    });
    const { live, detail } = phases(r);
    expect(live.inactive).toBe(1);
    expect([...live.vms.values()].map((v) => v.name)).toEqual(["web"]);
    expect([...live.live.get(vmKeyOf("hv-a", vm("web")))!]).toEqual([0, 1]);
    expect(live.vms.get(vmKeyOf("hv-a", vm("web")))!.samples).toBe(12); // its host's
    expect(detail.size).toBe(0);
  });

  it("fewer delay rates than vCPUs, more than vCPUs, or in transit: the target's detail is needed", () => {
    const r = answers({
      ...hostA,
      vm_current: [s(vm("gap"), 2), s(vm("wide"), 1)],
      delay: [s(cpu("gap", 0), 0.1), s(cpu("wide", 0), 0.1), s(cpu("wide", 1), 0.1)],
      vm_recent: [s(vm("moving"), 1)],
    });
    const { live, rates, detail, hostOf } = phases(r);
    expect([...detail]).toEqual(["10.0.0.1:9977"]);
    expect(live.transit).toEqual(["moving (last on hv-a)"]);
    applyDetail(
      live,
      rates,
      {
        instances: detail,
        live: [s(cpu("gap", 0), 1), s(cpu("gap", 1), 1), s(cpu("wide", 0), 1), s(cpu("wide", 1), 1)],
        delay: [s(cpu("gap", 0), 0.1), s(cpu("wide", 0), 0.1), s(cpu("wide", 1), 0.1), s(cpu("moving", 0), 0.3)],
        throttled: [s(cpu("gap", 0), 0), s(cpu("moving", 0), 0.1)],
      },
      hostOf,
    );
    const key = (d: string) => vmKeyOf("hv-a", vm(d));
    expect([...live.live.get(key("gap"))!]).toEqual([0, 1]);
    expect([...live.live.get(key("moving"))!]).toEqual([0]);
    expect(rates.delay.get(key("moving"))?.get(0)).toBe(0.3);
    expect(rates.exactThrottled.has(key("gap"))).toBe(true);
    const f = newFindings();
    const out = vmsPhase(r, live, rates, hostOf, null, f);
    expect(f.problems).toEqual([
      "VM gap on hv-a: no usage or delay rate for vCPU 0, 1 (fewer than 2 samples in the window: VM new or just migrated?)",
      "VM wide on hv-a: no usage or delay rate for vCPU 0 (fewer than 2 samples in the window: VM new or just migrated?)",
      "VM moving on hv-a: no usage or delay rate for vCPU 0 (fewer than 2 samples in the window: VM new or just migrated?)",
    ]);
    expect(out.extraSeries).toBe(1);
  });

  it("a vCPU 0 with fewer samples than its host, or online vCPUs that changed: the detail says which series are there now", () => {
    const r = answers({
      ...hostA,
      vm_current: [s(vm("swap"), 2), s(vm("left"), 2), s(vm("stopped"), 2), s(vm("ok"), 2)],
      // swap: vCPU 2 unplugged and vCPU 1 plugged within the window (no rate yet): as many rates
      // as vCPUs, but not theirs. left: vCPU 2 gone within the window, more rates than vCPUs.
      // stopped: its vCPU 0 stopped having samples within the window. ok: nothing happened.
      delay: [
        s(cpu("swap", 0), 0.1),
        s(cpu("swap", 2), 0.1),
        s(cpu("left", 0), 0.1),
        s(cpu("left", 1), 0.1),
        s(cpu("left", 2), 0.1),
        s(cpu("stopped", 0), 0.1),
        s(cpu("stopped", 1), 0.1),
        s(cpu("ok", 0), 0.1),
        s(cpu("ok", 1), 0.1),
      ],
      vm_resized: [s(vm("swap"), 2)],
      vm_young: [s(cpu("stopped", 0), 7)],
    });
    const { live, rates, detail, hostOf } = phases(r);
    expect([...detail]).toEqual(["10.0.0.1:9977"]);
    const key = (d: string) => vmKeyOf("hv-a", vm(d));
    expect(live.live.has(key("swap"))).toBe(false);
    expect(live.live.has(key("left"))).toBe(false);
    expect(live.vms.get(key("stopped"))!.samples).toBe(7);
    expect([...live.live.get(key("ok"))!]).toEqual([0, 1]);
    applyDetail(
      live,
      rates,
      {
        instances: detail,
        live: ["swap", "left", "ok"].flatMap((d) => [0, 1].map((i) => s(cpu(d, i), 1))),
        delay: [],
        throttled: [],
      },
      hostOf,
    );
    expect([...live.live.get(key("swap"))!]).toEqual([0, 1]);
    expect([...live.live.get(key("left"))!]).toEqual([0, 1]);
    // No vCPU series now: not running, left out and counted (a domain defined but shut off).
    expect(live.vms.has(key("stopped"))).toBe(false);
    expect(live.inactive).toBe(1);
  });

  it("a vCPU series gone within the window while vCPU 0 stayed: more rates than the series its agent exports now", () => {
    const r = answers({
      ...hostA,
      vm_current: [s(vm("web"), 2), s(vm("db"), 1)],
      delay: [s(cpu("web", 0), 0.1), s(cpu("web", 1), 0.1), s(cpu("db", 0), 0.1)],
    });
    const { live, rates } = phases(r);
    const none = new Set<string>();
    expect(countedSeries(live, rates, none, () => 3)).toEqual({ detail: new Set(), uncounted: new Map() });
    // web's vCPU 1 is gone (still rated over the window): the agent exports 2 series now.
    expect(countedSeries(live, rates, none, () => 2).detail).toEqual(new Set(["10.0.0.1:9977"]));
    // An agent that does not say: counted in PromQL, against the 3 rates.
    expect(countedSeries(live, rates, none, () => null).uncounted).toEqual(new Map([["10.0.0.1:9977", 3]]));
    // A target whose detail is asked for anyway is not counted.
    expect(countedSeries(live, rates, new Set(["10.0.0.1:9977"]), () => 2).detail.size).toBe(0);
  });

  it("throttled: a VM whose vCPU 0 has no throttled series has all its vCPUs counted; the rates not 0 kept", () => {
    const r = answers({
      ...hostA,
      vm_current: [s(vm("web"), 3), s(vm("db"), 2)],
      usage: [0, 1, 2].map((i) => s(cpu("web", i), 0.5)).concat([0, 1].map((i) => s(cpu("db", i), 0.5))),
      delay: [0, 1, 2].map((i) => s(cpu("web", i), 0.4)).concat([0, 1].map((i) => s(cpu("db", i), 0.4))),
      throttled: [s(cpu("web", 1), 0.25)],
      // Of the 2 VMs, 1 has a throttled series on vCPU 0: which one lacks it is asked.
      throttled_vms: [s(target("10.0.0.1:9977"), 1)],
    });
    const { live, rates, hostOf, detail } = phases(r);
    expect([...throttledCounts(r, live, detail)]).toEqual(["10.0.0.1:9977"]);
    expect(throttledCounts({ throttled_vms: [s(target("10.0.0.1:9977"), 2)] }, live, detail).size).toBe(0);
    rates.throttledUnknown.add(vmKeyOf("hv-a", vm("db"))); // as finishSnapshot does with the answer
    const f = newFindings();
    const out = vmsPhase(r, live, rates, hostOf, null, f);
    expect(f).toEqual(newFindings());
    const web = out.vms.find((v) => v.name === "web");
    expect(web).toMatchObject({ usage: [0.5, 0.5, 0.5], delay: [0.4, 0.4, 0.4], throttled: [0, 0.25, 0] });
    expect(out.throttledUnknown).toBe(2);
  });
});

describe("young series and never a snapshot on partial data", () => {
  it("a host whose first sweep is well after the window's start is young, and so are its VMs", () => {
    const hosts = new Map([
      [
        "hv-a",
        {
          ...{ name: "hv-a", instance: "i:1", job: "vsteal", cpus: 8, vmCpus: null, vmCpuList: null },
          ...{ vmMemoryMib: null, capacity: null, sampleTs: T, samples: 3, sweepLast: T - 1, sweepFirst: T - 21 },
          vcpuSeries: null,
        },
      ],
    ]);
    const vms = new Map([["k", { name: "web", uuid: "u", host: "hv-a", instance: "i:1", vcpus: 1, samples: 3 }]]);
    const young = youngSeries(hosts, vms, ctx);
    expect([...young.vms]).toEqual(["k"]);
    expect([...young.instances]).toEqual([["i:1", "hv-a"]]);
    expect(youngSeries(hosts, vms, { ...ctx, windowS: 30 }).vms.size).toBe(0);
  });

  it("problems stop it as partial data, naming the missing hosts, before anything is planned", () => {
    const f = newFindings();
    f.problems.push("host hv-b: no current metrics, but it is listed in the hosts file");
    f.missing.add("hv-b");
    f.inconsistent.push("never reached: partial data is told first");
    let e: unknown;
    try {
      refuseIncomplete(f, new Map(), [], ctx, () => "no hosts");
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(SnapshotError);
    expect((e as SnapshotError).reason).toBe("partial_data");
    expect((e as SnapshotError).message).toBe(
      "no snapshot: missing or stale data for host hv-b: host hv-b: no current metrics, but it is listed in the hosts file",
    );
    expect(() => refuseIncomplete(newFindings(), new Map(), [], ctx, () => "no hosts")).toThrow(/^no hosts$/);
  });
});
