/**
 * The recorded answers of a real Prometheus (test/fixtures/prometheus, see
 * src/fleet/snapshot-builder.test.ts), replayed with a change: what a writer of series could
 * make Prometheus answer (a hostile host label, an impossible rate).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PrometheusClient } from "../../../src/fleet/prom-client.js";
import { derivedFromRecording, unrecordedNewerQuery } from "../../support/recorded-prometheus.js";

const FIXTURES = join(import.meta.dirname, "..", "..", "fixtures", "prometheus");

interface Recorded {
  now_ms: number;
  window_s: number;
  calls: Array<{ endpoint: string; query: string; status: number; file: string }>;
}

/** A client answering as the recorded Prometheus did, each answer's JSON passed through `mutate`. */
export function hostileFixture(
  scenario: string,
  mutate: (
    answer: { data?: { result?: Array<{ metric: Record<string, string>; value?: [number, string] }> } },
    query: string,
  ) => void,
): { index: Recorded; client: PrometheusClient } {
  const dir = join(FIXTURES, scenario);
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as Recorded;
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const form = new URLSearchParams(typeof init?.body === "string" ? init.body : url.search);
    const endpoint = url.pathname.replace(/^.*\/api\/v1\//, "");
    const query = form.get("query") ?? "";
    const call = index.calls.find((c) => c.endpoint === endpoint && c.query === query);
    if (!call)
      return (
        derivedFromRecording(dir, index, query, mutate) ??
        unrecordedNewerQuery(query) ??
        new Response(JSON.stringify({ status: "error", errorType: "bad_data", error: `not recorded: ${query}` }), {
          status: 400,
        })
      );
    const answer = JSON.parse(readFileSync(join(dir, call.file), "utf8")) as Parameters<typeof mutate>[0];
    mutate(answer, query);
    return new Response(JSON.stringify(answer), {
      status: call.status,
      headers: { "content-type": "application/json" },
    });
  }) as typeof fetch;
  return { index, client: new PrometheusClient({ url: "http://prometheus.test:9090", fetch: fetchFn }) };
}
