/**
 * Builds a fleet snapshot (docs/fleet-snapshot.md) from what the hosts' agents
 * export, as Prometheus stored it over a window.
 *
 * - Hosts come from `vsteal_host_cpus`, one per target; a host is named by the target's `host`
 *   label when the scrape config sets one, else by the name its agent reports
 *   (`vsteal_host_info{host_name}`, the name the migration hosts file uses), else by its
 *   `instance`.
 * - A host's capacity is the CPUs its VMs may use (`vsteal_host_vm_cpus`, minus reserved),
 *   its memory what VMs may use (`vsteal_host_vm_memory_bytes`); a VM's memory is its maximum
 *   (`libvirt_domain_info_maximum_memory_bytes`), its cap `vsteal_domain_vcpu_cap_cores`. The
 *   hosts file overrides each; agents that do not export them fall back to it or defaults.
 * - VMs come from `libvirt_domain_vcpu_current` (where each VM is now), their per-vCPU
 *   usage, delay and throttling from rate() of the agents' counters over the window; a vCPU
 *   series younger than the window (the VM started or arrived in it) from its own raw samples,
 *   so its demand is never diluted by time it was not there.
 * - A VM running a moment ago that is on no host now is in transit (or just stopped): it stays
 *   in the snapshot on the host it was last seen on, not migratable, with a note.
 *
 * Never a snapshot on missing data: a host that was seen in the window, is listed in the
 * hosts file or whose target is down, but has no fresh metrics now; a VM with fewer vCPU
 * series than online vCPUs; an answer the server flags as partial — each stops the build
 * with a SnapshotError that names what is missing.
 *
 * Two steps: the fetch (here: the PromQL answers, then the raw samples of series younger than
 * the window) and the pure assembly in named phases (snapshot-assembly.ts), where "never a
 * snapshot on partial data" lives.
 */
import { SnapshotError } from "./errors.js";
import type { HostsConfig } from "./hosts-config.js";
import { PrometheusError, type MatrixSeries, type PrometheusClient, type VectorSample } from "./prom-client.js";
import {
  METRIC,
  rawCountersQuery,
  snapshotDetailQueries,
  snapshotQueries,
  throttledUnknownQuery,
  vcpuSeriesCountQuery,
  type QueryName,
} from "./queries.js";
import {
  finishSnapshot,
  firstPass,
  type AssemblyContext,
  type BuiltSnapshot,
  type SnapshotAnswers,
} from "./snapshot-assembly.js";

export { rateFromPoints, type BuiltSnapshot } from "./snapshot-assembly.js";

export interface SnapshotOptions {
  /** Rates are averaged over this many seconds. */
  windowS: number;
  /** Extra label matchers for every selector, e.g. `job="vsteal"`. */
  selector?: string;
  /** The hosts file (memory, policy, constraints), or null. */
  hosts?: HostsConfig | null;
  /** Where the hosts file came from, for the notes. */
  hostsFile?: string | null;
  /** A host whose newest sample or last sweep is older than this is stale. Default 120 s. */
  staleAfterS?: number;
  /** Evaluation time, ms since the epoch (default now). Every query is evaluated at it. */
  nowMs?: number;
  /** Build even when the server sends warnings (default: a warning may mean a partial answer). */
  allowWarnings?: boolean;
}

export interface SnapshotBuild {
  snapshot: BuiltSnapshot;
  /** Server warnings (only when allowWarnings). */
  warnings: string[];
  queries: number;
  durationMs: number;
}

const DEFAULT_STALE_AFTER_S = 120;

/**
 * The fetch step: every query evaluated at one time; an answer flagged partial, or with
 * warnings (unless allowed), stops the build; a Prometheus failure becomes a SnapshotError.
 */
class SnapshotFetch {
  readonly warnings: string[] = [];
  queries = 0;
  constructor(
    private readonly client: PrometheusClient,
    private readonly now: number,
    private readonly allowWarnings: boolean,
  ) {}

  /** The instant answers of the snapshot's queries. */
  answers(q: Record<QueryName, string>): Promise<SnapshotAnswers> {
    return this.guard(async () => {
      // The per-vCPU rates first: they take the engine longest, the others fill in beside them.
      const heavy: QueryName[] = ["usage", "delay", "throttled"];
      const names = [...heavy, ...(Object.keys(q) as QueryName[]).filter((n) => !heavy.includes(n))];
      const answers = await Promise.all(names.map((n) => this.vector(q[n])));
      return Object.fromEntries(names.map((n, i) => [n, answers[i] ?? []])) as SnapshotAnswers;
    });
  }

  /** Instant answers, all of them. */
  vectors(exprs: readonly string[]): Promise<VectorSample[]> {
    return this.guard(async () => (await Promise.all(exprs.map((e) => this.vector(e)))).flat());
  }

  /** Range-vector answers (raw samples), all of them. */
  matrices(exprs: readonly string[]): Promise<MatrixSeries[]> {
    return this.guard(async () => (await Promise.all(exprs.map((e) => this.matrix(e)))).flat());
  }

  private async guard<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof PrometheusError) throw SnapshotError.fromPrometheus(e);
      throw e;
    }
  }

  private async vector(expr: string): Promise<VectorSample[]> {
    this.queries++;
    const a = await this.client.vector(expr, { time: this.now });
    this.check(expr, a.warnings, a.partial);
    return a.result.samples;
  }

  private async matrix(expr: string): Promise<MatrixSeries[]> {
    this.queries++;
    const a = await this.client.query(expr, { time: this.now });
    this.check(expr, a.warnings, a.partial);
    if (a.result.type !== "matrix")
      throw new PrometheusError(
        "invalid_response",
        `${this.client.displayUrl}: query ${expr} answered a ${a.result.type}, expected a matrix`,
      );
    return a.result.series;
  }

  private check(expr: string, w: string[], partial: boolean): void {
    const url = this.client.displayUrl;
    if (partial)
      throw new SnapshotError(
        "partial_data",
        `no snapshot: Prometheus at ${url} flagged its answer as partial (some storage did not answer) for ${expr}`,
        [`partial answer for ${expr}`],
      );
    if (w.length && !this.allowWarnings) {
      throw new SnapshotError(
        "partial_data",
        `no snapshot: Prometheus at ${url} warned: ${w.join("; ")} (for ${expr}); the answer may be incomplete`,
        w,
      );
    }
    this.warnings.push(...w);
  }
}

export async function buildSnapshot(client: PrometheusClient, opts: SnapshotOptions): Promise<SnapshotBuild> {
  const started = performance.now();
  const nowMs = opts.nowMs ?? Date.now();
  const selector = opts.selector ?? "";
  const ctx: AssemblyContext = {
    nowMs,
    windowS: opts.windowS,
    staleAfterS: opts.staleAfterS ?? DEFAULT_STALE_AFTER_S,
    cfg: opts.hosts ?? null,
    hostsFile: opts.hostsFile ?? null,
  };
  const fetch = new SnapshotFetch(client, nowMs / 1000, opts.allowWarnings === true);
  // The answers themselves are not kept past the first phases: the per-vCPU ones are the
  // bulk of the memory, and what the phases keep of them is numbers.
  const first = firstPass(await fetch.answers(snapshotQueries(opts.windowS, selector)), ctx);
  // Targets whose VMs the per-VM answers do not say enough about: their per-vCPU series. Series
  // younger than the window: their raw samples. One query per target each, all at once; and
  // the vCPU series of the targets whose agents do not count them, counted.
  const detailQueries = (targets: ReadonlySet<string>) => {
    const q = [...targets].map((i) => snapshotDetailQueries(opts.windowS, i, selector));
    return Promise.all([
      fetch.vectors(q.map((x) => x.live)),
      fetch.vectors(q.map((x) => x.delay)),
      fetch.vectors(q.map((x) => x.throttled)),
    ]);
  };
  const uncounted = [...first.uncounted.keys()];
  const unthrottled = [...first.throttledUnknown];
  const [raw, [live, delay, throttled], counts, throttledUnknown] = await Promise.all([
    fetch.matrices([...first.young.instances.keys()].map((i) => rawCountersQuery(opts.windowS, i, selector))),
    detailQueries(first.detail),
    fetch.vectors(uncounted.length ? [vcpuSeriesCountQuery(uncounted, selector)] : []),
    fetch.vectors(unthrottled.length ? [throttledUnknownQuery(unthrottled, selector)] : []),
  ]);
  // A count that does not match the settled VMs' rates: that target's detail too.
  const counted = new Map(counts.map((c) => [c.labels.instance ?? "", c.v]));
  const more = uncounted.filter((i) => (counted.get(i) ?? 0) !== first.uncounted.get(i));
  if (more.length > 0) {
    const [l, d, t] = await detailQueries(new Set(more));
    live.push(...l);
    delay.push(...d);
    throttled.push(...t);
    for (const i of more) first.detail.add(i);
  }
  const detail = { instances: first.detail, live, delay, throttled };
  const snapshot = finishSnapshot(first, detail, raw, throttledUnknown, fetch.warnings, ctx, () => {
    const sel = selector ? ` matching {${selector}}` : "";
    return `no snapshot: Prometheus at ${client.displayUrl} has no ${METRIC.hostCpus} series${sel}: is it scraping the vsteal agents?`;
  });
  return { snapshot, warnings: fetch.warnings, queries: fetch.queries, durationMs: performance.now() - started };
}
