/**
 * The snapshot's `platform` from vsteal_domain_info: the recorded answers of a real Prometheus
 * (test/fixtures/prometheus/healthy, see src/fleet/snapshot-builder.test.ts), with info series
 * for two of its VMs made from the labels Prometheus recorded for them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PrometheusClient } from "../fleet/prom-client.js";
import { buildSnapshot } from "../fleet/snapshot-builder.js";
import { parseSnapshot } from "../model/fleet.js";
import { derivedFromRecording, unrecordedNewerQuery } from "../../test/support/recorded-prometheus.js";

const DIR = join(import.meta.dirname, "..", "..", "test", "fixtures", "prometheus", "healthy");

interface Answer {
  data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

describe("snapshot platform from Prometheus", () => {
  it("joins each VM's vsteal_domain_info on host and uuid", async () => {
    const index = JSON.parse(readFileSync(join(DIR, "index.json"), "utf8")) as {
      now_ms: number;
      window_s: number;
      calls: Array<{ endpoint: string; query: string; file: string; status: number }>;
    };
    const read = (query: string): string | null => {
      const c = index.calls.find((x) => x.endpoint === "query" && x.query === query);
      return c ? readFileSync(join(DIR, c.file), "utf8") : null;
    };
    const current = JSON.parse(read("libvirt_domain_vcpu_current")!) as Answer;
    const labelsOf = (vm: string): Record<string, string> => {
      const { __name__: _n, ...l } = current.data.result.find((r) => r.metric.domain === vm)!.metric;
      return l;
    };
    const info = [
      {
        ...labelsOf("busy-1"),
        __name__: "vsteal_domain_info",
        platform: "openstack",
        instance_id: labelsOf("busy-1").uuid!,
        instance_name: "web-1",
        project_name: "shop",
        user_name: "alice",
      },
      {
        ...labelsOf("busy-2"),
        __name__: "vsteal_domain_info",
        platform: "proxmox",
        instance_id: "104",
        instance_name: "db",
        tags: "prod;db",
      },
      { ...labelsOf("calm-1"), __name__: "vsteal_domain_info", platform: "libvirt" },
    ];
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(String(input));
      const query = new URLSearchParams(typeof init?.body === "string" ? init.body : url.search).get("query") ?? "";
      const text =
        query === "vsteal_domain_info"
          ? JSON.stringify({
              status: "success",
              data: {
                resultType: "vector",
                result: info.map((metric) => ({ metric, value: [index.now_ms / 1000, "1"] })),
              },
            })
          : read(query);
      if (text === null)
        return (
          derivedFromRecording(DIR, index, query) ??
          unrecordedNewerQuery(query) ??
          new Response(JSON.stringify({ status: "error", errorType: "bad_data", error: `not recorded: ${query}` }), {
            status: 400,
          })
        );
      return new Response(text, { status: 200, headers: { "content-type": "application/json" } });
    }) as typeof fetch;
    const { snapshot } = await buildSnapshot(
      new PrometheusClient({ url: "http://prometheus.test:9090", fetch: fetchFn }),
      { windowS: index.window_s, nowMs: index.now_ms },
    );
    const vm = (n: string) => snapshot.vms.find((v) => v.name === n);
    expect(vm("busy-1")?.platform).toEqual({
      kind: "openstack",
      id: labelsOf("busy-1").uuid,
      name: "web-1",
      project: "shop",
    });
    expect(vm("busy-2")?.platform).toEqual({ kind: "proxmox", id: "104", name: "db" });
    expect(vm("calm-1")?.platform).toBeUndefined();
    expect(vm("capped-1")?.platform).toBeUndefined();
    // The format's validator takes it as it is.
    expect(parseSnapshot(snapshot).vms.find((v) => v.name === "busy-1")?.platform?.kind).toBe("openstack");
  });
});
