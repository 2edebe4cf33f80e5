import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { Counter, Gauge, Registry, type RegistryContentType } from "prom-client";
import type { Collector } from "../collect/collector.js";
import { renderDomainInfo } from "./domain-info.js";
import { renderVcpuFamilies } from "./exposition.js";
import { renderFactFamilies } from "./facts-exposition.js";

const gzipAsync = promisify(gzip);

/** The exporter's metric families, registered in one registry of one exposition format. */
function buildRegistry(contentType: RegistryContentType): {
  registry: Registry<RegistryContentType>;
  fill: (c: Collector) => void;
} {
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(contentType);
  const reg = [registry];
  const hostCpus = new Gauge({ name: "vsteal_host_cpus", help: "Online host CPUs.", registers: reg });
  const hostCapacity = new Gauge({
    name: "vsteal_host_capacity_cores",
    help: "Host CPUs available to VMs (the CPUs VMs may use minus --reserved-cpus).",
    registers: reg,
  });
  const allocated = new Gauge({
    name: "vsteal_host_vcpus_allocated",
    help: "Online vCPUs of running domains.",
    registers: reg,
  });
  const demand = new Gauge({
    name: "vsteal_host_vcpu_demand_cores",
    help: "vCPU demand: run time plus contention wait, in cores, over the last interval.",
    registers: reg,
  });
  const steal = new Gauge({
    name: "vsteal_host_steal_cores",
    help: "Steal summed over vCPUs, in cores, over the last interval, by cause.",
    labelNames: ["cause"],
    registers: reg,
  });
  const sweepSeconds = new Gauge({
    name: "vsteal_collector_last_sweep_duration_seconds",
    help: "Duration of the last sweep over all vCPU threads.",
    registers: reg,
  });
  const sweeps = new Counter({ name: "vsteal_collector_sweeps_total", help: "Sweeps done.", registers: reg });
  const errors = new Counter({
    name: "vsteal_collector_errors_total",
    help: "Problems while sampling (vanished threads, unreadable files), and failed discoveries.",
    labelNames: ["kind"],
    registers: reg,
  });
  const vcpusSeen = new Gauge({ name: "vsteal_collector_vcpus", help: "vCPU threads sampled.", registers: reg });
  const domainsSeen = new Gauge({ name: "vsteal_collector_domains", help: "Domains known.", registers: reg });
  const lastSuccess = new Gauge({
    name: "vsteal_collector_last_sweep_timestamp_seconds",
    help: "When the last sweep ran (Unix time).",
    registers: reg,
  });
  // The standard process metrics (prom-client's Node defaults include gauges named *_total,
  // which promtool rejects, so only these).
  const cpuSeconds = new Counter({
    name: "process_cpu_seconds_total",
    help: "User and system CPU time of the agent, seconds.",
    registers: reg,
  });
  const rss = new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory of the agent, bytes.",
    registers: reg,
  });
  const heap = new Gauge({ name: "vsteal_process_heap_used_bytes", help: "V8 heap in use, bytes.", registers: reg });
  const openFds = new Gauge({ name: "process_open_fds", help: "Open file descriptors of the agent.", registers: reg });
  const startTime = new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the agent (Unix time).",
    registers: reg,
  });
  const started = Date.now() / 1000 - process.uptime();

  const fill = (c: Collector): void => {
    for (const m of [errors, sweeps]) m.reset();
    const h = c.host;
    hostCpus.set(h.cpus);
    hostCapacity.set(h.capacity);
    allocated.set(h.vcpusAllocated);
    demand.set(h.demand);
    steal.set({ cause: "contention" }, h.contention);
    steal.set({ cause: "throttled" }, h.throttled);
    sweepSeconds.set(c.health.lastSweepSeconds);
    sweeps.inc(c.health.sweeps);
    errors.inc({ kind: "sample" }, c.health.errors);
    errors.inc({ kind: "discovery" }, c.health.discoveryErrors);
    vcpusSeen.set(c.health.vcpus);
    domainsSeen.set(c.health.domains);
    if (c.health.lastSweepMs !== null) lastSuccess.set(c.health.lastSweepMs / 1000);
    cpuSeconds.reset();
    const cpu = process.cpuUsage();
    cpuSeconds.inc((cpu.user + cpu.system) / 1e6);
    rss.set(process.memoryUsage.rss());
    heap.set(process.memoryUsage().heapUsed);
    try {
      openFds.set(readdirSync("/proc/self/fd").length);
    } catch {
      /* not Linux */
    }
    startTime.set(started);
  };
  return { registry, fill };
}

/**
 * /metrics: Prometheus text or OpenMetrics by content negotiation. The exposition of the
 * vCPU families is rendered once per sweep and served from memory, so a scrape costs a
 * string copy and never waits on libvirt or /proc.
 */
export class Exporter {
  private readonly prom = buildRegistry(Registry.PROMETHEUS_CONTENT_TYPE);
  private readonly om = buildRegistry(Registry.OPENMETRICS_CONTENT_TYPE);
  private cache = new Map<string, { generation: number; body: Promise<Uint8Array<ArrayBuffer>> }>();

  constructor(private readonly collector: Collector) {}

  static wantsOpenMetrics(accept: string | undefined | null): boolean {
    return !!accept && /application\/openmetrics-text/i.test(accept);
  }

  /**
   * The current sweep's exposition, encoded (and gzipped when the scraper accepts it, as
   * Prometheus does), rendered once per sweep and shared by every scrape until the next one.
   */
  render(openMetrics: boolean, gzip = false): { contentType: string; body: Promise<Uint8Array<ArrayBuffer>> } {
    const which = openMetrics ? this.om : this.prom;
    const key = `${openMetrics ? "om" : "prom"}${gzip ? "+gz" : ""}`;
    const gen = this.collector.generation;
    let hit = this.cache.get(key);
    if (!hit || hit.generation !== gen) {
      const plainKey = openMetrics ? "om" : "prom";
      let plain = this.cache.get(plainKey);
      if (!plain || plain.generation !== gen) {
        which.fill(this.collector);
        const domains = this.collector.latest?.domains ?? [];
        const vcpus =
          renderVcpuFamilies(domains, openMetrics) +
          renderFactFamilies(this.collector.facts, domains) +
          renderDomainInfo(domains, openMetrics);
        plain = {
          generation: gen,
          // OpenMetrics ends with "# EOF": the vCPU families go before the registry's text.
          body: which.registry.metrics().then((t) => new TextEncoder().encode(vcpus + t)),
        };
        this.cache.set(plainKey, plain);
      }
      hit = gzip
        ? { generation: gen, body: plain.body.then((b) => gzipAsync(b, { level: 6 })).then((z) => new Uint8Array(z)) }
        : plain;
      this.cache.set(key, hit);
    }
    return { contentType: which.registry.contentType, body: hit.body };
  }
}
