/**
 * vsteal's library API: which VMs run on this host, and how long each vCPU waited.
 *
 *   import { sampleRates } from "vsteal";
 *   for await (const r of sampleRates({ intervalMs: 1000 })) console.log(r.domains);
 */
import { sampleLoop } from "./collect/loop.js";
import { Sampler } from "./collect/sampler.js";
import type { DomainThreads, RatesSample, Sample } from "./model/types.js";
import { openSource, type SourceOptions } from "./sources/auto.js";

export type * from "./model/types.js";
export { computeRates, vcpuRates } from "./collect/rates.js";
export { Sampler, type SamplerOptions } from "./collect/sampler.js";
export { domainKey } from "./model/domain-key.js";
export { openSource, type SourceName, type SourceOptions } from "./sources/auto.js";
export { LibvirtSource, type LibvirtSourceOptions } from "./sources/libvirt.js";
export { QemuSource } from "./sources/qemu.js";
export { PidSource } from "./sources/pid.js";
export type { Discovery, DomainSource } from "./sources/source.js";
export { SourceError, LibvirtUnavailableError, UnknownDomainError } from "./sources/errors.js";
export * as procfs from "./procfs/index.js";

/** Every domain the source knows (libvirt, plain QEMU, or auto), with its vCPU threads. */
export async function listDomains(opts: SourceOptions = {}): Promise<DomainThreads[]> {
  const source = await openSource(opts);
  return (await source.discover()).domains;
}

/** Raw counters of every vCPU, read once. */
export async function sampleOnce(opts: SourceOptions = {}): Promise<Sample> {
  const sampler = new Sampler({ source: await openSource(opts), procRoot: opts.procRoot });
  try {
    return await sampler.sample();
  } finally {
    sampler.close();
  }
}

export interface SampleRatesOptions extends SourceOptions {
  /** Time between samples (default 1000 ms). */
  intervalMs?: number;
  /** Stop after this many rate samples (default: run until the loop is left). */
  count?: number;
  signal?: AbortSignal;
}

/** Rates of every vCPU (usage, delay, throttled, contention as fractions of wall time), every interval. */
export async function* sampleRates(opts: SampleRatesOptions = {}): AsyncGenerator<RatesSample> {
  const sampler = new Sampler({ source: await openSource(opts), procRoot: opts.procRoot });
  try {
    const loop = sampleLoop(sampler, { intervalMs: opts.intervalMs ?? 1000, count: opts.count, signal: opts.signal });
    for await (const t of loop) {
      if (!t.ok) throw t.error;
      if (t.rates) yield t.rates;
    }
  } finally {
    sampler.close();
  }
}
