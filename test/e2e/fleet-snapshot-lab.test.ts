/**
 * The snapshot's per-VM shortcuts (queries.ts: only the three rates per vCPU, the rest asked of
 * each VM's vCPU 0 and filtered in PromQL) against a real Prometheus scraping real agent code
 * (test/support/lab-host.ts), with the events the shortcuts must not miss: a VM that arrives
 * within the window, one that stops, a vCPU series that vanishes while the VM's vCPU 0 stays.
 * Prometheus itself is the witness: its own per-vCPU answers say what is there.
 */
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LabHost } from "../support/lab-host.js";
import { LabPrometheus } from "../support/lab-prometheus.js";
import { SnapshotError } from "../../src/fleet/errors.js";
import { PrometheusClient } from "../../src/fleet/prom-client.js";
import { snapshotDetailQueries, vcpuSeriesCountQuery } from "../../src/fleet/queries.js";
import { buildSnapshot } from "../../src/fleet/snapshot-builder.js";

const missing = spawnSync("which", ["prometheus"], { stdio: "ignore" }).status !== 0;
const inCi = process.env.CI === "true" || process.env.CI === "1";
if (missing && inCi) throw new Error("missing in CI: prometheus (apt-get install prometheus)");
const describeLab = missing ? describe.skip : describe;

const W = 10;
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

describeLab("the snapshot's per-VM shortcuts on a real Prometheus, with VMs that come, go and lose a vCPU", () => {
  let a: LabHost;
  let b: LabHost;
  let prom: LabPrometheus;
  const asked: string[] = [];
  let client: PrometheusClient;
  const snap = () => buildSnapshot(client, { windowS: W, staleAfterS: 60 });
  /** Prometheus' own answer, per series. */
  const direct = async (q: string) => (await client.vector(q)).result.samples;
  /** Until Prometheus has `n` series for `q` (the agent's discovery and a scrape take a few seconds). */
  const until = async (q: string, n: number) => {
    for (let i = 0; i < 60 && (await direct(q)).length !== n; i++) await sleep(0.25);
    expect((await direct(q)).length, q).toBe(n);
  };

  beforeAll(async () => {
    a = await LabHost.start({
      name: "hv-a",
      cpus: 8,
      vms: [
        { name: "lab-web", uuid: "00000000-0000-4000-8000-00000000000a", vcpus: 2, usage: 0.5, delay: 0.1 },
        { name: "lab-db", uuid: "00000000-0000-4000-8000-00000000000b", vcpus: 3, usage: 0.3, delay: 0.05 },
      ],
    });
    b = await LabHost.start({
      name: "hv-b",
      cpus: 8,
      vms: [{ name: "lab-calm", uuid: "00000000-0000-4000-8000-00000000000c", vcpus: 1, usage: 0.2, delay: 0 }],
    });
    prom = await LabPrometheus.start({
      targets: [
        { address: `127.0.0.1:${a.port}`, host: "hv-a" },
        { address: `127.0.0.1:${b.port}`, host: "hv-b" },
      ],
    });
    await prom.waitForTargets(2);
    const counting = ((input: string | URL | Request, init?: RequestInit) => {
      const form = new URLSearchParams(typeof init?.body === "string" ? init.body : "");
      asked.push(form.get("query") ?? "");
      return fetch(input, init);
    }) as typeof fetch;
    client = new PrometheusClient({ url: prom.url, fetch: counting });
    await sleep(W + 2); // a whole window of samples
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await a?.stop();
    await b?.stop();
  });

  it("steady: every VM at its rates, and no target asked for its per-vCPU detail", async () => {
    asked.length = 0;
    const { snapshot } = await snap();
    expect(snapshot.vms.map((v) => v.name).sort()).toEqual(["lab-calm", "lab-db", "lab-web"]);
    const web = snapshot.vms.find((v) => v.name === "lab-web")!;
    for (const u of web.usage) expect(u).toBeCloseTo(0.5, 1);
    for (const d of web.delay) expect(d).toBeCloseTo(0.1, 1);
    expect(snapshot.vms.find((v) => v.name === "lab-db")!.usage).toHaveLength(3);
    expect(asked.filter((q) => q.includes("instance="))).toEqual([]);
  });

  it("a VM that arrived within the window: rated from its own samples, not diluted as rate() is", async () => {
    b.addVm({ name: "lab-new", uuid: "00000000-0000-4000-8000-00000000000d", vcpus: 2, usage: 0.6, delay: 0.05 });
    await until(`libvirt_domain_vcpu_time_seconds_total{domain="lab-new"}`, 2);
    await sleep(3);
    const { snapshot } = await snap();
    const arrived = snapshot.vms.find((v) => v.name === "lab-new")!;
    expect(arrived.host).toBe("hv-b");
    for (const u of arrived.usage) expect(u).toBeCloseTo(0.6, 1);
    expect(snapshot.notes.join("\n")).toMatch(/rates from raw samples .* on hv-b/);
    // What Prometheus' rate() says for it: spread over a window it was not there for.
    const rated = await direct(`rate(libvirt_domain_vcpu_time_seconds_total{domain="lab-new"}[${W}s])`);
    expect(rated.length).toBe(2);
    for (const r of rated) expect(r.v).toBeLessThan(0.5);
  });

  it("a VM that stopped: in transit for a moment, then left out", async () => {
    a.removeVm("lab-web");
    await until(`libvirt_domain_vcpu_current{domain="lab-web"}`, 0);
    const soon = await snap();
    expect(soon.snapshot.vms.find((v) => v.name === "lab-web")).toMatchObject({ host: "hv-a", in_transit: true });
    expect(soon.snapshot.notes.join("\n")).toMatch(/in transit .*lab-web \(last on hv-a\)/);
    await sleep(W + 1);
    const later = await snap();
    expect(later.snapshot.vms.map((v) => v.name)).not.toContain("lab-web");
    expect(later.snapshot.notes.join("\n")).not.toMatch(/in transit/);
  });

  it("a vCPU series that vanished while vCPU 0 stays: the agent's count finds it, no snapshot, the vCPU named", async () => {
    a.hideVcpu("lab-db", 1);
    await until(`libvirt_domain_vcpu_delay_seconds_total{domain="lab-db"}`, 2);
    asked.length = 0;
    const e = await snap().then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(SnapshotError);
    expect((e as SnapshotError).message).toMatch(/VM lab-db on hv-a: 3 online vCPUs but 2 vCPU series \(vCPU 0, 2\)/);
    expect(asked).toContain(snapshotDetailQueries(W, `127.0.0.1:${a.port}`).live);
    // The witness: Prometheus has 2 of its delay series now, and still 3 delay rates in the window.
    expect((await direct(`libvirt_domain_vcpu_delay_seconds_total{domain="lab-db"}`)).length).toBe(2);
    expect((await direct(`rate(libvirt_domain_vcpu_delay_seconds_total{domain="lab-db"}[${W}s])`)).length).toBe(3);
    expect((await direct(`vsteal_host_vcpu_series{host="hv-a"}`))[0]?.v).toBe(2);
    // What an agent that predates the gauge gets instead: its series counted in PromQL.
    const counted = await direct(vcpuSeriesCountQuery([`127.0.0.1:${a.port}`]));
    expect(counted.map((c) => [c.labels.instance, c.v])).toEqual([[`127.0.0.1:${a.port}`, 2]]);
  });
});
