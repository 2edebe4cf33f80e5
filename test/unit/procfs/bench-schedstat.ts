/**
 * Micro-benchmark of the schedstat hot path: parse 2,000 buffers (one sweep of 2,000 vCPU
 * threads) many times and print the time per sweep. Not a test; run by hand:
 *   npx tsx test/unit/procfs/bench-schedstat.ts
 */
import { parseSchedstat, parseSchedstatBytes } from "../../../src/procfs/schedstat.js";

const THREADS = 2000;
const SWEEPS = 300;
const BUF_SIZE = 256;

function makeBuffers(timeDigits: number): { bufs: Uint8Array[]; lens: number[] } {
  const bufs: Uint8Array[] = [];
  const lens: number[] = [];
  let seed = 12345;
  const rnd = (digits: number): string => {
    let s = String(1 + (seed % 9));
    for (let i = 1; i < digits; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      s += String(seed % 10);
    }
    return s;
  };
  for (let t = 0; t < THREADS; t++) {
    const text = `${rnd(timeDigits)} ${rnd(timeDigits - 2)} ${rnd(8)}\n`;
    const buf = new Uint8Array(BUF_SIZE);
    const n = new TextEncoder().encodeInto(text, buf).written;
    bufs.push(buf);
    lens.push(n);
  }
  return { bufs, lens };
}

/** Best of 7 rounds (the machine is shared): wall and CPU time per sweep of THREADS parses. */
function bench(label: string, sweep: () => number): void {
  let sink = 0;
  for (let i = 0; i < 300; i++) sink += sweep(); // warm up (JIT)
  let bestWall = Infinity;
  let bestCpu = Infinity;
  for (let round = 0; round < 7; round++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < SWEEPS; i++) sink += sweep();
    const wall = Number(process.hrtime.bigint() - t0) / SWEEPS / 1000;
    const c = process.cpuUsage(c0);
    bestWall = Math.min(bestWall, wall);
    bestCpu = Math.min(bestCpu, (c.user + c.system) / SWEEPS);
  }
  console.log(
    `${label.padEnd(56)} wall ${bestWall.toFixed(0).padStart(5)} µs, cpu ${bestCpu.toFixed(0).padStart(5)} µs per ${THREADS} threads (${sink % 2})`,
  );
}

// 11 digits: ~100 s on CPU (young VM); 17 digits: ~3 years of CPU time (slow bigint path).
for (const digits of [11, 15, 17]) {
  const { bufs, lens } = makeBuffers(digits);
  bench(`parseSchedstatBytes, time with ${digits} digits`, () => {
    let x = 0;
    for (let t = 0; t < THREADS; t++)
      if (parseSchedstatBytes(bufs[t]!, lens[t]!, "/proc/1/task/1/schedstat").slices === 0n) x++;
    return x;
  });
  const dec = new TextDecoder();
  bench(`  for comparison: decode + parseSchedstat (regex), ${digits}`, () => {
    let x = 0;
    for (let t = 0; t < THREADS; t++)
      if (parseSchedstat(dec.decode(bufs[t]!.subarray(0, lens[t])), "/proc/1/task/1/schedstat").slices === 0n) x++;
    return x;
  });
}
