import { cadence } from "./loop.js";
import { computeRates } from "./rates.js";
import { Sampler } from "./sampler.js";
import { hostSummary, type HostSummary } from "../analysis/host.js";
import { noisyNeighbours, type NoisyNeighbours } from "../analysis/neighbours.js";
import { RateWindow } from "../analysis/window.js";
import type { RatesSample, Sample, SampleProblem } from "../model/types.js";
import { hostCpuCount, schedstatsEnabled } from "./host-info.js";
import { fixedHostFacts, type HostFacts } from "./host-facts.js";
import { hostname } from "node:os";
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
  /** Discoveries run because the source saw a VM come or go (not the period). */
  eventDiscoveries: number;
}

/** Quiet time after a source event before discovery runs (a VM's start is a burst of events), ms. */
const EVENT_DEBOUNCE_MS = 100;
/** Longest an event waits for the burst to end, ms. */
const EVENT_MAX_WAIT_MS = 300;
/**
 * More discoveries this long after an event's: a QEMU just started may not have all its vCPU
 * threads, cgroups and pinning yet, and a QEMU that is ending (migrated away, destroyed) may
 * still be there when libvirt's last event comes, ms.
 */
const EVENT_FOLLOW_UPS_MS = [300, 1000];

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
  /**
   * The host's facts (name, CPUs VMs may use, memory), read at start and after every discovery;
   * a throw keeps the last ones. Default: the name of this machine, `cpus` CPUs, memory unknown.
   */
  hostFacts?: () => HostFacts;
  /** Run discovery when the source sees a VM come or go (default true; the period stays the safety net). */
  watchSource?: boolean;
}

/**
 * The agent's sampler: sweeps on the sampling cadence (loop.ts); discovery (which may wait on libvirt)
 * runs in the background on its own cadence, so neither sweeps nor scrapes wait on libvirt.
 * Everything the HTTP side needs is read from the fields here, computed once per sweep.
 */
export class Collector {
  readonly sampler: Sampler;
  readonly cpus: number;
  readonly window: RateWindow;
  /** The last sweep: what /metrics shows (also an off-period sweep after an event-driven discovery). */
  latest: Sample | null = null;
  rates: RatesSample | null = null;
  host: HostSummary;
  facts: HostFacts;
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
    eventDiscoveries: 0,
  };
  private readonly stopping = new AbortController();
  private refreshing: Promise<void> | null = null;
  private stopped = false;
  /** The last periodic sweep: rates are always computed between two of these. */
  private ratesBase: Sample | null = null;
  private unwatch: (() => void) | null = null;
  private eventTimer: NodeJS.Timeout | null = null;
  private eventFirstMs = 0;
  private followUpTimers: NodeJS.Timeout[] = [];
  /** An event came while a discovery ran (which may predate it): run another after it. */
  private eventAgain = false;

  constructor(private readonly opts: CollectorOptions) {
    this.sampler = new Sampler({
      source: opts.source,
      procRoot: opts.procRoot,
      discoveryIntervalMs: (opts.discoveryIntervalS ?? 30) * 1000,
      readWait: schedstatsEnabled(opts.procRoot),
    });
    this.cpus = opts.cpus ?? hostCpuCount();
    if ((opts.reservedCpus ?? 0) > this.cpus) {
      throw new RangeError(
        `--reserved-cpus ${opts.reservedCpus}: this host has only ${this.cpus} online CPUs; reserve at most ${this.cpus}`,
      );
    }
    this.window = new RateWindow(opts.windowS ?? 300);
    this.facts = opts.hostFacts
      ? opts.hostFacts()
      : fixedHostFacts({ hostName: hostname(), cpus: this.cpus, reservedCpus: opts.reservedCpus ?? 0 });
    this.host = this.summary(null);
  }

  private summary(rates: RatesSample | null): HostSummary {
    return hostSummary(rates, this.cpus, this.facts.reservedCpus, this.facts.vmCpus.length);
  }

  /** Re-reads the host's facts (after a discovery); a failure keeps the last ones and is reported. */
  private refreshFacts(): void {
    if (!this.opts.hostFacts) return;
    try {
      this.facts = this.opts.hostFacts();
    } catch (e) {
      this.opts.onProblem?.({
        domain: "*",
        message: `host facts not updated: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
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
          this.opts.onProblem?.({
            domain: "*",
            message: `discovery failed (${this.health.lastError}); sampling the threads already known`,
          });
        },
      )
      .finally(() => {
        this.refreshing = null;
        this.refreshFacts();
        if (this.eventAgain) {
          this.eventAgain = false;
          this.eventRefresh(false);
        }
      });
    return this.refreshing;
  }

  /** A source event: debounce the burst, then discover and publish at once. */
  private readonly onSourceEvent = (): void => {
    if (this.stopped) return;
    const now = Date.now();
    if (this.eventTimer === null) this.eventFirstMs = now;
    else clearTimeout(this.eventTimer);
    const wait = Math.max(0, Math.min(EVENT_DEBOUNCE_MS, this.eventFirstMs + EVENT_MAX_WAIT_MS - now));
    this.eventTimer = setTimeout(() => {
      this.eventTimer = null;
      this.eventRefresh(true);
    }, wait);
  };

  private eventRefresh(followUp: boolean): void {
    if (this.stopped) return;
    // Follow-ups first: also when this event finds a discovery running (whose result may be
    // the state just before the change), the later looks must still happen.
    if (followUp) {
      for (const t of this.followUpTimers) clearTimeout(t);
      this.followUpTimers = EVENT_FOLLOW_UPS_MS.map((ms) => setTimeout(() => this.eventRefresh(false), ms));
    }
    if (this.refreshing) {
      this.eventAgain = true;
      return;
    }
    this.health.eventDiscoveries++;
    void this.startRefresh().then(() => this.publish());
  }

  /**
   * After an event-driven discovery: one off-period sweep so /metrics shows the VMs that came and
   * no longer those that went. Rates keep being computed between periodic sweeps only.
   */
  private publish(): void {
    if (this.stopped || this.latest === null) return;
    const sample = this.sampler.sweep();
    for (const p of sample.problems) {
      this.health.errors++;
      this.opts.onProblem?.(p);
    }
    this.latest = sample;
    this.host = this.summary(this.rates);
    this.generation++;
    this.health.vcpus = this.sampler.threadCount;
    this.health.domains = sample.domains.length;
  }

  /** One tick: start discovery if due (not awaited), sweep, derive everything. */
  tick(): void {
    if (this.sampler.discoveryDue) void this.startRefresh();
    const t0 = process.hrtime.bigint();
    const sample = this.sampler.sweep();
    const prev = this.ratesBase;
    this.ratesBase = sample;
    this.latest = sample;
    const rates = prev ? computeRates(prev, sample) : null;
    for (const p of sample.problems) {
      this.health.errors++;
      this.opts.onProblem?.(p);
    }
    if (rates) {
      this.rates = rates;
      this.window.add(rates);
      this.host = this.summary(rates);
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
    if (this.opts.watchSource !== false && this.opts.source.watch)
      this.unwatch = this.opts.source.watch(this.onSourceEvent, (message) =>
        this.opts.onProblem?.({ domain: "*", message }),
      );
    void this.run();
  }

  /** A sweep on every beat of the one sampling cadence (loop.ts) until stop(). */
  private async run(): Promise<void> {
    for await (const _ of cadence({ intervalMs: this.opts.intervalS * 1000, signal: this.stopping.signal })) {
      if (this.stopped) return;
      try {
        this.tick();
      } catch (e) {
        this.health.lastError = e instanceof Error ? e.message : String(e);
        this.health.errors++;
      }
    }
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
    this.stopping.abort();
    this.unwatch?.();
    if (this.eventTimer) clearTimeout(this.eventTimer);
    for (const t of this.followUpTimers) clearTimeout(t);
    await this.refreshing;
    this.sampler.close();
  }
}
