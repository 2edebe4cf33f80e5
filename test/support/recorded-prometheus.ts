/**
 * The recorded Prometheus answers (test/fixtures/prometheus) were captured before the agents
 * exported host names, VM CPU sets, memory and caps: those queries find nothing there, as with
 * agents of that version, and the snapshot builder falls back to the hosts file or defaults.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { METRIC, range, sel, snapshotDetailQueries, snapshotQueries } from "../../src/fleet/queries.js";

const NEWER = [
  METRIC.hostInfo,
  METRIC.hostVmCpusInfo,
  METRIC.hostVmCpus,
  METRIC.hostVmMemory,
  METRIC.vmMaxMemory,
  METRIC.vmCap,
  "vsteal_domain_info",
  `count_over_time(${METRIC.vcpuDelay}`,
  `last_over_time(${METRIC.vcpuCurrent}`,
];

/** An empty answer for a query the recordings predate, else null. */
export function unrecordedNewerQuery(query: string): Response | null {
  if (!NEWER.some((m) => query.includes(m))) return null;
  return new Response(JSON.stringify({ status: "success", data: { resultType: "vector", result: [] } }), {
    status: 200,
    headers: { "content-type": "application/json" },
  });
}

/**
 * The per-vCPU queries that the snapshot once sent for the vCPU series there now, the delay and
 * the throttled rates, and that the recordings (and the stand-ins of the tests) answer. The
 * snapshot now aggregates them in PromQL (queries.ts); derivedAnswer answers its queries from
 * these, as Prometheus computes them.
 */
export function perVcpuQueries(windowS: number, selector = ""): { live: string; delay: string; throttled: string } {
  const s = (m: string) => sel(m, selector);
  return {
    live: s(METRIC.vcpuDelay),
    delay: `rate(${s(METRIC.vcpuDelay)}[${range(windowS)}])`,
    throttled: `rate(${s(METRIC.vcpuThrottled)}[${range(windowS)}])`,
  };
}

export interface WireSample {
  metric: Record<string, string>;
  value: [number, string];
}

const without = (m: Record<string, string>, drop: readonly string[]): string =>
  JSON.stringify(
    Object.entries(m)
      .filter(([k]) => !drop.includes(k))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );

/** `count without (vcpu) (x)`: one series per label set but vcpu (and the name), its count. */
function countWithoutVcpu(x: readonly WireSample[]): WireSample[] {
  const groups = new Map<string, WireSample>();
  for (const s of x) {
    const k = without(s.metric, ["vcpu", "__name__"]);
    const g = groups.get(k);
    if (g) g.value = [g.value[0], String(Number(g.value[1]) + 1)];
    else
      groups.set(k, {
        metric: Object.fromEntries(Object.entries(s.metric).filter(([n]) => n !== "vcpu" && n !== "__name__")),
        value: [s.value[0], "1"],
      });
  }
  return [...groups.values()];
}

/**
 * The answer of one of the snapshot's aggregating queries (vm_live, delay, throttled,
 * throttled_live, and the per-target detail queries), computed from the per-vCPU answers
 * `perVcpu` gives (null: that query has no answer); null when `query` is none of them.
 */
export function derivedAnswer(
  query: string,
  windowS: number,
  selector: string,
  perVcpu: (query: string) => readonly WireSample[] | null,
): WireSample[] | null {
  const q = snapshotQueries(windowS, selector);
  const old = perVcpuQueries(windowS, selector);
  const get = (k: keyof typeof old): readonly WireSample[] => perVcpu(old[k]) ?? [];
  if (query === q.vm_live) return countWithoutVcpu(get("live"));
  if (query === q.delay) return [...get("delay")];
  if (query === q.throttled) return get("throttled").filter((s) => Number(s.value[1]) !== 0);
  if (query === q.throttled_live) return countWithoutVcpu(get("throttled"));
  const instance = /instance=("(?:[^"\\]|\\.)*")/.exec(query)?.[1];
  if (instance === undefined) return null;
  const d = snapshotDetailQueries(windowS, JSON.parse(instance) as string, selector);
  const ofInstance = (k: keyof typeof old) =>
    get(k).filter((s) => s.metric.instance === (JSON.parse(instance) as string));
  if (query === d.live) return ofInstance("live");
  if (query === d.delay) return ofInstance("delay");
  if (query === d.throttled) return ofInstance("throttled");
  return null;
}

interface Recording {
  window_s: number;
  calls: Array<{ endpoint: string; query: string; status: number; file: string }>;
}

/**
 * A recording's answer to one of the snapshot's aggregating queries, derived from the per-vCPU
 * answers it holds (each passed through `mutate` first, as the test would have it answer);
 * null when the query is none of them.
 */
export function derivedFromRecording(
  dir: string,
  index: Recording,
  query: string,
  mutate: (answer: { data?: { result?: WireSample[] } }, query: string) => void = () => undefined,
): Response | null {
  const result = derivedAnswer(query, index.window_s, "", (q) => {
    const call = index.calls.find((c) => c.endpoint === "query" && c.query === q);
    if (!call) return null;
    const answer = JSON.parse(readFileSync(join(dir, call.file), "utf8")) as { data?: { result?: WireSample[] } };
    mutate(answer, q);
    return answer.data?.result ?? [];
  });
  if (result === null) return null;
  return new Response(JSON.stringify({ status: "success", data: { resultType: "vector", result } }), {
    status: 200,
    headers: { "content-type": "application/json" },
  });
}
