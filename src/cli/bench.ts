import { closeSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";
import { Sampler } from "../collect/sampler.js";
import { PidSource } from "../sources/pid.js";
import type { Io } from "./io.js";

export interface BenchOptions {
  pid: number;
  iterations: number;
  json?: boolean;
  procRoot?: string;
}

export interface BenchResult {
  pid: number;
  threads: number;
  iterations: number;
  /** Median time of one sweep over every thread, as the sampler does it (kept descriptors). */
  sweep_us_median: number;
  sweep_us_p99: number;
  per_thread_us: number;
  /** The same threads read by open/read/close each time, for comparison. */
  open_read_close_us_median: number;
  open_read_close_per_thread_us: number;
  speedup: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Times sweeps over every thread of a process, the sampler's way and the open/read/close way. */
export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const procRoot = opts.procRoot ?? "/proc";
  const sampler = new Sampler({
    source: new PidSource(opts.pid, procRoot),
    procRoot,
    discoveryIntervalMs: Number.POSITIVE_INFINITY,
  });
  try {
    await sampler.refresh();
    const threads = sampler.threadCount;
    if (threads === 0) throw new Error(`process ${opts.pid} has no threads we can read`);
    for (let i = 0; i < Math.min(20, opts.iterations); i++) sampler.sweep(); // warm up
    const sweeps: number[] = [];
    for (let i = 0; i < opts.iterations; i++) {
      const t0 = process.hrtime.bigint();
      sampler.sweep();
      sweeps.push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
    sweeps.sort((a, b) => a - b);

    const taskDir = join(procRoot, String(opts.pid), "task");
    const paths = readdirSync(taskDir).map((t) => join(taskDir, t, "schedstat"));
    const buf = Buffer.alloc(128);
    const orc: number[] = [];
    const orcIterations = Math.max(3, Math.min(opts.iterations, 50));
    for (let i = 0; i < orcIterations; i++) {
      const t0 = process.hrtime.bigint();
      for (const p of paths) {
        try {
          const fd = openSync(p, "r");
          readSync(fd, buf, 0, 128, 0);
          closeSync(fd);
        } catch {
          /* thread exited */
        }
      }
      orc.push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
    orc.sort((a, b) => a - b);
    const med = quantile(sweeps, 0.5);
    const orcMed = quantile(orc, 0.5);
    return {
      pid: opts.pid,
      threads,
      iterations: opts.iterations,
      sweep_us_median: round(med),
      sweep_us_p99: round(quantile(sweeps, 0.99)),
      per_thread_us: round(med / threads),
      open_read_close_us_median: round(orcMed),
      open_read_close_per_thread_us: round(orcMed / paths.length),
      speedup: round(orcMed / paths.length / (med / threads), 2),
    };
  } finally {
    sampler.close();
  }
}

export async function bench(opts: BenchOptions, io: Io): Promise<number> {
  const r = await runBench(opts);
  if (opts.json) {
    io.out(JSON.stringify(r, null, 2) + "\n");
  } else {
    io.out(
      `pid ${r.pid}: ${r.threads} threads, ${r.iterations} sweeps\n` +
        `  kept descriptors: ${r.sweep_us_median} µs a sweep (p99 ${r.sweep_us_p99}), ${r.per_thread_us} µs a thread\n` +
        `  open/read/close:  ${r.open_read_close_us_median} µs a sweep, ${r.open_read_close_per_thread_us} µs a thread\n` +
        `  speed-up: ${r.speedup}x\n`,
    );
  }
  return 0;
}
