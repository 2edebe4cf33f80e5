/**
 * The recorded Prometheus answers (test/fixtures/prometheus) were captured before the agents
 * exported host names, VM CPU sets, memory and caps: those queries find nothing there, as with
 * agents of that version, and the snapshot builder falls back to the hosts file or defaults.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { METRIC, range, sel, snapshotDetailQueries, snapshotQueries, TRANSIT_S } from "../../src/fleet/queries.js";

const NEWER = [
  METRIC.hostInfo,
  METRIC.hostVcpuSeries,
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
 * The per-vCPU and per-VM queries that the snapshot once sent (the vCPU series there now, the
 * delay and throttled rates, the samples of each VM's series, the VMs running a moment ago),
 * and that the recordings (and the stand-ins of the tests) answer. The snapshot now asks the
 * engine to aggregate and filter (queries.ts); derivedAnswer answers its queries from these,
 * as Prometheus computes them.
 */
export function perVcpuQueries(
  windowS: number,
  selector = "",
): {
  live: string;
  delay: string;
  throttled: string;
  vmCurrent: string;
  vmSamples: string;
  hostSamples: string;
  vcpuSamples: string;
  recent: string;
} {
  const s = (m: string) => sel(m, selector);
  const w = range(windowS);
  const recent = range(Math.min(TRANSIT_S, windowS));
  return {
    live: s(METRIC.vcpuDelay),
    delay: `rate(${s(METRIC.vcpuDelay)}[${w}])`,
    throttled: `rate(${s(METRIC.vcpuThrottled)}[${w}])`,
    vmCurrent: s(METRIC.vcpuCurrent),
    vmSamples: `count_over_time(${s(METRIC.vcpuCurrent)}[${w}])`,
    hostSamples: `count_over_time(${s(METRIC.hostCpus)}[${w}])`,
    // The fewest samples of a VM's vCPU delay series in the window (the recordings predate it).
    vcpuSamples: `min without (vcpu) (count_over_time(${s(METRIC.vcpuDelay)}[${w}]))`,
    // VMs with vCPU series within the last minute, there now or not (the recordings predate it).
    recent: `last_over_time(${s(METRIC.vcpuCurrent)}[${recent}]) and on (instance, job, uuid) last_over_time(${s(METRIC.vcpuDelay)}[${recent}])`,
  };
}

export interface WireSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** The instances an `instance=~"a|b"` matcher of exact values names. */
function instancesOf(query: string): Set<string> {
  const re = /instance=~("(?:[^"\\]|\\.)*")/.exec(query)?.[1];
  return new Set((JSON.parse(re ?? '""') as string).split("|").map((x) => x.replace(/\\(.)/g, "$1")));
}

/** `count by (instance, job) (rows)`. */
function countByTarget(rows: readonly WireSample[]): WireSample[] {
  const per = new Map<string, WireSample>();
  for (const s of rows) {
    const k = JSON.stringify([s.metric.instance ?? "", s.metric.job ?? ""]);
    const have = per.get(k);
    if (have) have.value = [have.value[0], String(Number(have.value[1]) + 1)];
    else
      per.set(k, { metric: { instance: s.metric.instance ?? "", job: s.metric.job ?? "" }, value: [s.value[0], "1"] });
  }
  return [...per.values()];
}

const pick = (m: Record<string, string>, keep: readonly string[]): string =>
  JSON.stringify(keep.map((k) => m[k] ?? ""));
const vmOf = (m: Record<string, string>) => pick(m, ["instance", "job", "uuid", "domain"]);

/**
 * The answer of one of the snapshot's aggregating queries (vm_young, vm_resized, delay,
 * throttled, throttled_unknown, vm_recent, and the per-target detail queries), computed from
 * the answers `perVcpu` gives to perVcpuQueries (null: that query has no answer); null when
 * `query` is none of them. vm_young takes a VM's vCPU 0 as having as many samples as its
 * fewest-sampled vCPU series or its libvirt_domain_vcpu_current series, whichever is fewer;
 * vm_resized is empty (no recording changes a VM's vCPUs).
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
  if (query === q.delay) return [...get("delay")];
  if (query === q.throttled) return get("throttled").filter((s) => Number(s.value[1]) !== 0);
  if (query === q.vm_resized) return [];
  const withThrottled = () =>
    get("throttled").filter((s) => s.metric.vcpu === "0" && get("live").some((l) => vmOf(l.metric) === vmOf(s.metric)));
  if (query === q.throttled_vms) return countByTarget(withThrottled());
  if (query.includes(" unless on (instance, job, uuid) ")) {
    // throttledUnknownQuery: the domains of the targets named whose vCPU 0 has no throttled series.
    const known = new Set(withThrottled().map((s) => pick(s.metric, ["instance", "job", "uuid"])));
    const wanted = instancesOf(query);
    return get("vmCurrent").filter(
      (s) => wanted.has(s.metric.instance ?? "") && !known.has(pick(s.metric, ["instance", "job", "uuid"])),
    );
  }
  if (query === q.vm_recent) {
    const now = new Set(
      get("live")
        .filter((s) => s.metric.vcpu === "0")
        .map((s) => pick(s.metric, ["uuid", "domain"])),
    );
    return get("recent").filter((s) => !now.has(pick(s.metric, ["uuid", "domain"])));
  }
  if (query === q.vm_young) {
    const hostSamples = new Map(
      get("hostSamples").map((s) => [pick(s.metric, ["instance", "job"]), Number(s.value[1])]),
    );
    const samples = new Map<string, number>();
    const fewest = (rows: readonly WireSample[]) => {
      for (const s of rows) {
        const k = vmOf(s.metric);
        samples.set(k, Math.min(samples.get(k) ?? Infinity, Number(s.value[1])));
      }
    };
    fewest(get("vcpuSamples"));
    fewest(get("vmSamples"));
    // VMs with a vCPU 0 delay series in the window.
    const withVcpu0 = new Map<string, WireSample>();
    for (const s of [...get("live"), ...get("delay"), ...get("vcpuSamples")])
      if (s.metric.vcpu === "0" || s.metric.vcpu === undefined) withVcpu0.set(vmOf(s.metric), s);
    const out: WireSample[] = [];
    for (const [k, s] of withVcpu0) {
      const n = samples.get(k);
      const h = hostSamples.get(pick(s.metric, ["instance", "job"]));
      if (n === undefined || h === undefined || !(n < h)) continue;
      const metric = Object.fromEntries(Object.entries(s.metric).filter(([name]) => name !== "__name__"));
      out.push({ metric: { ...metric, vcpu: "0" }, value: [s.value[0], String(n)] });
    }
    return out;
  }
  if (query.startsWith("count by (instance, job) (") && query.includes("instance=~")) {
    const wanted = instancesOf(query);
    return countByTarget(get("live").filter((s) => wanted.has(s.metric.instance ?? "")));
  }
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
