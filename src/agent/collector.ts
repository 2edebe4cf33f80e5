import { computeRates } from "../collect/rates.js";
import { Sampler } from "../collect/sampler.js";
import { hostSummary, type HostSummary } from "../analysis/host.js";
import { noisyNeighbours, type NoisyNeighbours } from "../analysis/neighbours.js";
import { RateWindow } from "../analysis/window.js";
import type { RatesSample, Sample, SampleProblem } from "../model/types.js";
import { hostCpuCount, schedstatsEnabled } from "../collect/host-info.js";
import type { DomainSource } from "../sources/source.js";

export interface CollectorHealth {
  sweeps: number;
  lastSweepSeconds: number;
  lastSweepMs: number | null;
  lastDiscoveryMs: number | null;
  discoveryErrors: number;
  /** Problems (vanished threads, unreadable files) by kind. */
  errors: number;
  vcpus: number;
  domains: number;
  lastError: string | null;
}

export interface CollectorOptions {
  source: DomainSource;
  intervalS: number;
  procRoot?: string;
  discoveryIntervalS?: number;
  reservedCpus?: number;
  /** Window for averages (noisy neighbours), seconds. */
  windowS?: number;
  /** Called after every sweep that produced rates. */
  onRates?: (rates: RatesSample, collector: Collector) => void;
  onProblem?: (p: SampleProblem) => void;
  cpus?: number;
}

/**
 * The agent's sampling loop. Sweeps every interval; discovery (which may wait on libvirt)
 * runs in the background on its own cadence, so neither sweeps nor scrapes wait on libvirt.
 * Everything the HTTP side needs is read from the fields here, computed once per sweep.
 */
export class Collector {
  readonly sampler: Sampler;
  readonly cpus: number;
  readonly window: RateWindow;
  latest: Sample | null = null;
  rates: RatesSample | null = null;
  host: HostSummary;
  /** Bumped on every sweep: caches keyed by it stay valid until the next sweep. */
  generation = 0;
  readonly health: CollectorHealth = {
    sweeps: 0,
    lastSweepSeconds: 0,
    lastSweepMs: null,
    lastDiscoveryMs: null,
    discoveryErrors: 0,
    errors: 0,
    vcpus: 0,
    domains: 0,
    lastError: null,
  };
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly opts: CollectorOptions) {
    this.sampler = new Sampler({
      source: opts.source,
      procRoot: opts.procRoot,
      discoveryIntervalMs: (opts.discoveryIntervalS ?? 30) * 1000,
      readWait: schedstatsEnabled(opts.procRoot),
    });
    this.cpus = opts.cpus ?? hostCpuCount();
    if ((opts.reservedCpus ?? 0) > this.cpus) {
      throw new RangeError(`--reserved-cpus ${opts.reservedCpus}: this host has only ${this.cpus} online CPUs; reserve at most ${this.cpus}`);
    }
    this.window = new RateWindow(opts.windowS ?? 300);
    this.host = hostSummary(null, this.cpus, opts.reservedCpus ?? 0);
  }

  private startRefresh(): Promise<void> {
    this.refreshing ??= this.sampler
      .refresh()
      .then(
        () => {
          this.health.lastDiscoveryMs = Date.now();
        },
        (e: unknown) => {
          this.health.discoveryErrors++;
          this.health.lastError = e instanceof Error ? e.message : String(e);
          this.opts.onProblem?.({ domain: "*", message: `discovery failed (${this.health.lastError}); sampling the threads already known` });
        },
      )
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  /** One tick: start discovery if due (not awaited), sweep, derive everything. */
  tick(): void {
    if (this.sampler.discoveryDue) void this.startRefresh();
    const t0 = process.hrtime.bigint();
    const sample = this.sampler.sweep();
    const prev = this.latest;
    this.latest = sample;
    const rates = prev ? computeRates(prev, sample) : null;
    for (const p of sample.problems) {
      this.health.errors++;
      this.opts.onProblem?.(p);
    }
    if (rates) {
      this.rates = rates;
      this.window.add(rates);
      this.host = hostSummary(rates, this.cpus, this.opts.reservedCpus ?? 0);
      this.opts.onRates?.(rates, this);
    }
    this.generation++;
    this.health.sweeps++;
    this.health.lastSweepSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    this.health.lastSweepMs = sample.wallMs;
    this.health.vcpus = this.sampler.threadCount;
    this.health.domains = sample.domains.length;
  }

  /** First discovery (awaited, so the first sweep has threads), then a sweep every interval. */
  async start(): Promise<void> {
    await this.startRefresh();
    if (this.stopped) return;
    this.tick();
    const intervalMs = this.opts.intervalS * 1000;
    let next = Date.now() + intervalMs;
    const loop = (): void => {
      if (this.stopped) return;
      try {
        this.tick();
      } catch (e) {
        this.health.lastError = e instanceof Error ? e.message : String(e);
        this.health.errors++;
      }
      next += intervalMs;
      const now = Date.now();
      if (next < now) next = now + intervalMs; // we fell behind (suspended host): do not burst
      this.timer = setTimeout(loop, next - now);
    };
    this.timer = setTimeout(loop, Math.max(0, next - Date.now()));
  }

  neighbours(domain: string, limit = 5): NoisyNeighbours | null {
    return noisyNeighbours(domain, this.window.values(), this.sampler.discovered, this.cpus, limit);
  }

  /** VMs that wait (contention above `minContention` cores, window average), with their noisy neighbours. */
  victims(minContention = 0.01, limit = 10): NoisyNeighbours[] {
    const seen = new Set<string>();
    const out: NoisyNeighbours[] = [];
    for (const a of this.window.values()) {
      const key = a.domain.uuid ?? a.domain.name;
      if (seen.has(key)) continue;
      seen.add(key);
      const n = this.neighbours(a.domain.name);
      if (n && n.contention >= minContention) out.push(n);
    }
    return out.sort((a, b) => b.contention - a.contention).slice(0, limit);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.refreshing;
    this.sampler.close();
  }
}
