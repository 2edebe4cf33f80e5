/**
 * The sampling loop: the one cadence every sampling consumer runs on, and the pairing of
 * successive samples into rates.
 *
 * - the agent (collect/collector.ts) sweeps on `cadence` with discovery in the background;
 * - `vsteal top` and the library API (`sampleRates`) pull `sampleLoop`, which waits for a
 *   due discovery before it sweeps (they have no scrape to keep answering meanwhile).
 *
 * The cadence is fixed (a slow sweep does not push the next one later) and never bursts to
 * catch up after the process was suspended; it ends when its signal aborts.
 */
import type { RatesSample, Sample } from "../model/types.js";
import { computeRates } from "./rates.js";
import type { Sampler } from "./sampler.js";

export interface CadenceOptions {
  intervalMs: number;
  /** Until the first beat, ms (default: one interval). */
  firstDelayMs?: number;
  signal?: AbortSignal;
}

/** Resolves after `ms`, or at once when `signal` aborts; false when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(true);
      },
      Math.max(0, ms),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A beat every `intervalMs` (the first after `firstDelayMs`) until the signal aborts. The next
 * beat is planned when the consumer asks for it, one interval after the last planned one; if
 * that is already past (a suspended host), one interval from now: never a burst.
 */
export async function* cadence(opts: CadenceOptions): AsyncGenerator<void> {
  let next = Date.now() + (opts.firstDelayMs ?? opts.intervalMs);
  for (;;) {
    if (!(await sleep(next - Date.now(), opts.signal))) return;
    yield;
    next += opts.intervalMs;
    const now = Date.now();
    if (next < now) next = now + opts.intervalMs;
  }
}

export interface SampleLoopOptions extends CadenceOptions {
  /** Stop after this many samples with rates (default: until the signal aborts or the loop is left). */
  count?: number;
}

export type LoopTick =
  | {
      ok: true;
      sample: Sample;
      /** Rates since the previous sample; null for the first one (nothing to compare with yet). */
      rates: RatesSample | null;
    }
  /** A sample that failed after the first one: the loop goes on, the next rates span the gap. */
  | { ok: false; error: unknown };

/**
 * A sample now (awaiting the first discovery: a source that cannot be read throws here), then
 * one on every beat, each with its rates since the last good one. A later failure is a tick of
 * its own, not the end of the loop. The caller owns the sampler.
 */
export async function* sampleLoop(sampler: Pick<Sampler, "sample">, opts: SampleLoopOptions): AsyncGenerator<LoopTick> {
  let prev = await sampler.sample();
  yield { ok: true, sample: prev, rates: null };
  if (opts.count !== undefined && opts.count <= 0) return;
  let n = 0;
  for await (const _ of cadence(opts)) {
    let cur: Sample;
    try {
      cur = await sampler.sample();
    } catch (error) {
      if (opts.signal?.aborted) return;
      yield { ok: false, error };
      continue;
    }
    if (opts.signal?.aborted) return;
    yield { ok: true, sample: cur, rates: computeRates(prev, cur) };
    prev = cur;
    if (opts.count !== undefined && ++n >= opts.count) return;
  }
}
