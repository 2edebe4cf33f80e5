import { readFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSnapshot } from "../model/fleet.js";
import { plan } from "../planner/index.js";
import { SnapshotError } from "./errors.js";
import { freePort } from "../../test/support/lab-prometheus.js";
import { PrometheusClient, PrometheusError } from "./prom-client.js";
import { derivedFromRecording, unrecordedNewerQuery } from "../../test/support/recorded-prometheus.js";
import { buildSnapshot, rateFromPoints } from "./snapshot-builder.js";

/**
 * Fixtures: answers of a real Prometheus (2.42, Debian) to real snapshot builds, recorded by
 * `scripts/fleet-lab capture test/fixtures/prometheus [--real]` — three simulated hosts (hv01
 * crowded, hv02 and hv03 calm) and, in `testbed`, the real testbed agent as hv00.
 */
const FIXTURES = join(import.meta.dirname, "..", "..", "test", "fixtures", "prometheus");

interface Recorded {
  now_ms: number;
  window_s: number;
  calls: Array<{ endpoint: string; query: string; status: number; file: string }>;
}

function fixture(scenario: string): { index: Recorded; client: PrometheusClient; asked: string[] } {
  const dir = join(FIXTURES, scenario);
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as Recorded;
  const asked: string[] = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const form = new URLSearchParams(typeof init?.body === "string" ? init.body : url.search);
    const endpoint = url.pathname.replace(/^.*\/api\/v1\//, "");
    const query = form.get("query") ?? "";
    asked.push(query);
    const call = index.calls.find((c) => c.endpoint === endpoint && c.query === query);
    // Recorded before the agents exported host names, VM CPU sets, memory and caps: those
    // queries find nothing, as with agents of that version (the builder falls back).
    const derived = call ? null : derivedFromRecording(dir, index, query);
    if (derived) return derived;
    const newer = call ? null : unrecordedNewerQuery(query);
    if (newer) return newer;
    if (!call)
      return new Response(JSON.stringify({ status: "error", errorType: "bad_data", error: `not recorded: ${query}` }), {
        status: 400,
      });
    return new Response(readFileSync(join(dir, call.file), "utf8"), {
      status: call.status,
      headers: { "content-type": "application/json" },
    });
  }) as typeof fetch;
  return { index, client: new PrometheusClient({ url: "http://prometheus.test:9090", fetch: fetchFn }), asked };
}

async function failure(p: Promise<unknown>): Promise<SnapshotError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SnapshotError) return e;
    throw e;
  }
  throw new Error("expected a SnapshotError");
}

const vm = (s: { vms: Array<{ name: string }> }, name: string) => {
  const v = s.vms.find((x) => x.name === name);
  if (!v) throw new Error(`no VM ${name}`);
  return v as (typeof s.vms)[number] & {
    usage: number[];
    delay: number[];
    throttled: number[];
    host: string;
    vcpus: number;
  };
};

describe("snapshot from Prometheus (recorded answers)", () => {
  it("builds the fleet snapshot: hosts by host label, per-vCPU rates, reserved CPUs from capacity", async () => {
    const { index, client } = fixture("healthy");
    const { snapshot } = await buildSnapshot(client, { windowS: index.window_s, nowMs: index.now_ms });
    expect(snapshot.hosts.map((h) => h.name)).toEqual(["hv01", "hv02", "hv03"]);
    expect(snapshot.hosts[0]).toMatchObject({ cpus: 4, reserved_cpus: 1, accepts_vms: true });
    expect(snapshot.hosts[1]).toMatchObject({ cpus: 16, reserved_cpus: 0 });
    const busy = vm(snapshot, "busy-1");
    expect(busy.host).toBe("hv01");
    expect(busy.vcpus).toBe(4);
    for (const u of busy.usage) expect(u).toBeCloseTo(0.9, 1);
    for (const d of busy.delay) expect(d).toBeCloseTo(0.35, 1);
    const capped = vm(snapshot, "capped-1");
    expect(capped.throttled[0]).toBeCloseTo(0.75, 1);
    expect(capped.throttled[0]).toBeLessThanOrEqual(capped.delay[0]!);
    expect(snapshot.window_s).toBe(index.window_s);
    expect(snapshot.time).toBe(new Date(index.now_ms).toISOString());
    expect(snapshot.notes.join(" ")).toMatch(
      /memory: 3 host\(s\) \(hv01, hv02, hv03\) and \d+ VM\(s\) without memory from their agent/,
    );
    expect(snapshot.sources.hv02).toMatch(/^127\.0\.0\.1:\d+$/);
    // The format's own validator accepts it, and the planner moves load off the crowded host.
    parseSnapshot(snapshot);
    const p = plan(snapshot);
    expect(p.moves.length).toBeGreaterThan(0);
    expect(p.moves[0]?.from).toBe("hv01");
  });

  it("takes a VM younger than the window from its raw samples, not from an extrapolated rate()", async () => {
    const { index, client, asked } = fixture("young-vm");
    const { snapshot } = await buildSnapshot(client, { windowS: index.window_s, nowMs: index.now_ms });
    const arrived = vm(snapshot, "arrived-1");
    expect(arrived.host).toBe("hv02");
    for (const u of arrived.usage) expect(u).toBeCloseTo(0.5, 1);
    expect(asked.some((q) => q.startsWith('{__name__=~"libvirt_domain_vcpu_time_seconds_total|'))).toBe(true);
    expect(snapshot.notes.join(" ")).toMatch(/raw samples .* on hv02/);
    // What rate() said for it: a fraction of the truth, spread over time it was not there.
    const rateAnswer = JSON.parse(
      readFileSync(
        join(
          FIXTURES,
          "young-vm",
          index.calls.find((c) => c.query === `rate(libvirt_domain_vcpu_time_seconds_total[${index.window_s}s])`)!.file,
        ),
        "utf8",
      ),
    ) as {
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    const extrapolated = rateAnswer.data.result.find((r) => r.metric.domain === "arrived-1");
    expect(Number(extrapolated?.value[1])).toBeLessThan(0.4);
  });

  it("the real testbed agent next to simulated hosts: its crowded guests wait", async () => {
    const { index, client } = fixture("testbed");
    const { snapshot } = await buildSnapshot(client, { windowS: index.window_s, nowMs: index.now_ms });
    expect(snapshot.hosts.map((h) => h.name)).toEqual(["hv00", "hv01", "hv02", "hv03"]);
    const real = snapshot.vms.filter((v) => v.host === "hv00");
    expect(real.length).toBeGreaterThanOrEqual(3);
    for (const v of real) {
      expect(v.uuid).toMatch(/^[0-9a-f-]{36}$/);
      expect(v.delay.length).toBe(v.vcpus);
    }
    const steal = real.reduce((a, v) => a + v.delay.reduce((x, y) => x + y, 0), 0);
    expect(steal).toBeGreaterThan(1); // 6 spinning vCPUs on 2 CPUs
    parseSnapshot(snapshot);
  });

  it("a host whose target is down: no snapshot, and the reason names the host", async () => {
    const { index, client } = fixture("host-down");
    const e = await failure(buildSnapshot(client, { windowS: index.window_s, nowMs: index.now_ms }));
    expect(e.reason).toBe("partial_data");
    expect(e.missingHosts).toEqual(["hv03"]);
    expect(e.message).toMatch(/hv03.*(down|no current metrics)/);
  });

  it("a VM with a vCPU series missing: no snapshot, naming the VM", async () => {
    const { index, client } = fixture("vcpu-missing");
    const e = await failure(buildSnapshot(client, { windowS: index.window_s, nowMs: index.now_ms }));
    expect(e.reason).toBe("partial_data");
    expect(e.message).toMatch(/calm-2 on hv03: 2 online vCPUs but 1 vCPU series/);
  });

  it("stale data (the newest sample is older than --stale-after): no snapshot", async () => {
    const { index, client } = fixture("healthy");
    const e = await failure(
      buildSnapshot(client, { windowS: index.window_s, nowMs: index.now_ms + 600_000, staleAfterS: 120 }),
    );
    expect(e.reason).toBe("partial_data");
    expect(e.missingHosts).toEqual(["hv01", "hv02", "hv03"]);
    expect(e.message).toMatch(/newest sample is 10 min old/);
  });

  it("a host listed in the hosts file but absent from Prometheus: no snapshot", async () => {
    const { index, client } = fixture("healthy");
    const e = await failure(
      buildSnapshot(client, {
        windowS: index.window_s,
        nowMs: index.now_ms,
        hosts: { hosts: { hv09: { memory_mib: 1024 } } },
      }),
    );
    expect(e.missingHosts).toEqual(["hv09"]);
    expect(e.message).toMatch(/hv09: no current metrics, but it is listed in the hosts file/);
  });

  it("memory, policy and constraints come from the hosts file", async () => {
    const { index, client } = fixture("healthy");
    const { snapshot } = await buildSnapshot(client, {
      windowS: index.window_s,
      nowMs: index.now_ms,
      hostsFile: "hosts.yaml",
      hosts: {
        defaults: { memory_mib: 65536, vm_memory_mib: 2048 },
        hosts: { hv03: { accepts_vms: false, memory_mib: 131072 } },
        vms: { "busy-1": { memory_mib: 16384, migratable: false, cap: 0.5 } },
        constraints: { max_moves: 2, anti_affinity: [["calm-1", "calm-2"]] },
      },
    });
    expect(snapshot.hosts.find((h) => h.name === "hv03")).toMatchObject({ accepts_vms: false, memory_mib: 131072 });
    expect(snapshot.hosts.find((h) => h.name === "hv01")).toMatchObject({ memory_mib: 65536 });
    expect(vm(snapshot, "busy-1")).toMatchObject({ memory_mib: 16384, migratable: false, cap: 0.5 });
    expect(vm(snapshot, "calm-1")).toMatchObject({ memory_mib: 2048, migratable: true, cap: null });
    expect(snapshot.constraints).toEqual({ max_moves: 2, anti_affinity: [["calm-1", "calm-2"]] });
    expect(snapshot.notes[0]).toMatch(/hosts file hosts\.yaml/);
  });

  it("a selector restricts every query", async () => {
    const { index, client, asked } = fixture("healthy");
    await failure(buildSnapshot(client, { windowS: index.window_s, nowMs: index.now_ms, selector: 'job="vsteal"' }));
    expect(asked.length).toBeGreaterThan(10);
    for (const q of asked) expect(q).toContain('job="vsteal"');
  });
});

describe("Prometheus client (recorded answers)", () => {
  const errors = () => fixture("errors").client;

  it("an error answer becomes a PrometheusError with Prometheus' errorType", async () => {
    const e = await errors()
      .query("rate(vsteal_host_cpus[")
      .then(
        () => null,
        (x: unknown) => x,
      );
    expect(e).toBeInstanceOf(PrometheusError);
    expect(e).toMatchObject({ kind: "query", errorType: "bad_data", status: 400 });
    expect((e as Error).message).toMatch(/bad_data: invalid parameter "query".*parse error/);
  });

  it("reads scalar, string, matrix and range answers", async () => {
    const c = errors();
    const s = await c.query("time()");
    expect(s.result.type).toBe("scalar");
    if (s.result.type === "scalar") expect(s.result.v).toBeCloseTo(s.result.t, 2);
    const str = await c.query('"a string"');
    expect(str.result).toMatchObject({ type: "string", value: "a string" });
    const m = await c.query('vsteal_host_cpus{host="hv01"}[5s]');
    expect(m.result.type).toBe("matrix");
    if (m.result.type === "matrix") {
      expect(m.result.series[0]?.labels.host).toBe("hv01");
      expect(m.result.series[0]?.points.length).toBeGreaterThanOrEqual(4);
      expect(m.result.series[0]?.points[0]?.v).toBe(4);
    }
    const r = await c.queryRange('vsteal_host_cpus{host="hv01"}', 0, 1, 1);
    expect(r.result.type).toBe("matrix");
    await expect(c.vector("time()")).rejects.toThrow(/answered a scalar, expected a vector/);
  });
});

/** Answers that Prometheus 2.42 does not produce on demand, written by hand after the API docs. */
describe("Prometheus client (hand-written answers)", () => {
  const answering = (status: number, body: string, contentType = "application/json") =>
    new PrometheusClient({
      url: "http://user:pa%3Ass@prometheus.test:9090/prefix/",
      fetch: (async () => new Response(body, { status, headers: { "content-type": contentType } })) as typeof fetch,
    });
  const vec = (extra: object) =>
    JSON.stringify({
      status: "success",
      data: { resultType: "vector", result: [{ metric: { instance: "a" }, value: [1, "+Inf"] }] },
      ...extra,
    });

  it("reads +Inf, -Inf and NaN; keeps warnings; sees VictoriaMetrics' isPartial", async () => {
    const a = await answering(200, vec({ warnings: ["store 10.0.0.1 unavailable"], isPartial: true })).vector("x");
    expect(a.result.samples[0]?.v).toBe(Infinity);
    expect(a.warnings).toEqual(["store 10.0.0.1 unavailable"]);
    expect(a.partial).toBe(true);
  });

  it("a warning or a partial answer stops the snapshot (may be missing hosts)", async () => {
    const e1 = await failure(
      buildSnapshot(answering(200, vec({ warnings: ["partial response: store down"] })), { windowS: 60 }),
    );
    expect(e1.reason).toBe("partial_data");
    expect(e1.message).toMatch(/warned: partial response: store down/);
    const e2 = await failure(buildSnapshot(answering(200, vec({ isPartial: true })), { windowS: 60 }));
    expect(e2.message).toMatch(/flagged its answer as partial/);
  });

  it("a proxy's HTML error page, a non-API answer, an unknown shape", async () => {
    await expect(answering(502, "<html><body>Bad Gateway</body></html>", "text/html").query("x")).rejects.toMatchObject(
      { kind: "http", status: 502 },
    );
    await expect(answering(200, "hello").query("x")).rejects.toMatchObject({ kind: "invalid_response" });
    await expect(
      answering(
        200,
        JSON.stringify({
          status: "success",
          data: { resultType: "vector", result: [{ metric: {}, value: ["x", 1] }] },
        }),
      ).query("x"),
    ).rejects.toThrow(/data\.result\.0\.value/);
  });

  it("sends POST form to <url>/api/v1/query with basic auth from the URL; falls back to GET on 405", async () => {
    const seen: Array<{ url: string; method: string; auth: string | null; body: string | null }> = [];
    const c = new PrometheusClient({
      url: "http://user:pa%3Ass@prometheus.test:9090/select/0/prometheus/",
      fetch: (async (u: string | URL | Request, init?: RequestInit) => {
        const h = new Headers(init?.headers);
        seen.push({
          url: String(u),
          method: init?.method ?? "GET",
          auth: h.get("authorization"),
          body: typeof init?.body === "string" ? init.body : null,
        });
        if (init?.method === "POST") return new Response("method not allowed", { status: 405 });
        return new Response(vec({}), { status: 200 });
      }) as typeof fetch,
    });
    expect(c.displayUrl).toBe("http://prometheus.test:9090/select/0/prometheus");
    await c.query("up", { time: 1700000000 });
    expect(seen[0]).toMatchObject({
      url: "http://prometheus.test:9090/select/0/prometheus/api/v1/query",
      method: "POST",
      auth: `Basic ${Buffer.from("user:pa:ss").toString("base64")}`,
    });
    expect(seen[0]?.body).toContain("query=up&time=1700000000.000");
    expect(seen[1]?.method).toBe("GET");
    expect(seen[1]?.url).toContain("/api/v1/query?query=up&time=1700000000.000");
  });

  it("times out, and says so", async () => {
    const c = new PrometheusClient({
      url: "http://prometheus.test",
      timeoutMs: 50,
      fetch: ((_u: string | URL | Request, init?: RequestInit) =>
        new Promise((_r, reject) =>
          init?.signal?.addEventListener("abort", () => reject(init.signal?.reason as Error)),
        )) as typeof fetch,
    });
    await expect(c.query("up")).rejects.toMatchObject({ kind: "timeout" });
    const e = await failure(buildSnapshot(c, { windowS: 60 }));
    expect(e.reason).toBe("prometheus_timeout");
  });

  it("unreachable: connection refused on a closed loopback port", async () => {
    const port = await freePort();
    const e = await failure(buildSnapshot(new PrometheusClient({ url: `http://127.0.0.1:${port}` }), { windowS: 60 }));
    expect(e.reason).toBe("prometheus_unreachable");
    expect(e.message).toBe(`no snapshot: cannot reach Prometheus at http://127.0.0.1:${port}: ECONNREFUSED`);
  });

  it("unreachable: a server that closes the connection before answering (a Prometheus shutting down)", async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    try {
      const e = await failure(
        buildSnapshot(new PrometheusClient({ url: `http://127.0.0.1:${port}` }), { windowS: 60 }),
      );
      expect(e.reason).toBe("prometheus_unreachable");
      expect(e.message).toBe(
        `no snapshot: cannot reach Prometheus at http://127.0.0.1:${port}: the connection closed before an answer (other side closed)`,
      );
    } finally {
      server.close();
    }
  });
});

describe("rateFromPoints", () => {
  it("after a counter reset (a new QEMU: the VM came back or restarted) only the samples since count", () => {
    expect(
      rateFromPoints([
        { t: 0, v: 10 },
        { t: 1, v: 11 },
        { t: 2, v: 0.5 },
        { t: 3, v: 1.5 },
      ]),
    ).toBeCloseTo(1, 9);
    // A VM spinning at 100 % that was away for 50 of 60 s: 1.0, not diluted to 0.17 by the gap.
    expect(
      rateFromPoints([
        { t: 0, v: 100 },
        { t: 5, v: 105 },
        { t: 55, v: 2 },
        { t: 60, v: 7 },
      ]),
    ).toBeCloseTo(1, 9);
    expect(
      rateFromPoints([
        { t: 0, v: 10 },
        { t: 1, v: 11 },
        { t: 2, v: 0.5 },
      ]),
    ).toBeNull();
    expect(rateFromPoints([{ t: 0, v: 1 }])).toBeNull();
  });
});
