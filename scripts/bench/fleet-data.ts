// A synthetic fleet as the vsteal agents export it, sample by sample: N hosts of 32 CPUs with
// VMS VMs each of 1–8 vCPUs (seeded, reproducible); every third host oversubscribed (vCPU
// demand > its CPUs, vCPUs waiting), the others with room. Counters grow linearly, so every
// engine's rate() over the window is the same number.
//
// Written as OpenMetrics (seconds; for `promtool tsdb create-blocks-from openmetrics`) or as
// the Prometheus text format with millisecond timestamps (VictoriaMetrics' /api/v1/import/prometheus).
import { prng } from "../../src/sim/scenario.js";

const CPUS = 32;

const pad = (n: number | string, w: number): string => String(n).padStart(w, "0");

/** The fleet's shape: per VM its vCPU count, per vCPU its usage and delay (cores) — typed arrays. */
export interface FleetShape {
  hosts: number;
  vms: number;
  vmVcpus: Uint8Array;
  usage: Float64Array;
  delay: Float64Array;
  vcpus: number;
}

export function fleetShape({ hosts, vms = 40, seed = 1 }: { hosts: number; vms?: number; seed?: number }): FleetShape {
  const rnd = prng(seed);
  const vmVcpus = new Uint8Array(hosts * vms);
  let total = 0;
  for (let i = 0; i < vmVcpus.length; i++) {
    const n = 1 + Math.floor(rnd() * 8);
    vmVcpus[i] = n;
    total += n;
  }
  const usage = new Float64Array(total);
  const delay = new Float64Array(total);
  let k = 0;
  for (let h = 0; h < hosts; h++) {
    const over = h % 3 === 0;
    for (let v = 0; v < vms; v++) {
      for (let c = 0; c < vmVcpus[h * vms + v]!; c++, k++) {
        usage[k] = over ? 0.25 + rnd() * 0.15 : 0.05 + rnd() * 0.1;
        delay[k] = over ? 0.1 + rnd() * 0.2 : rnd() * 0.004;
      }
    }
  }
  return { hosts, vms, vmVcpus, usage, delay, vcpus: total };
}

export const hostName = (h: number): string => `host-${pad(h, 5)}`;
export const vmName = (h: number, v: number): string => `vm-${pad(h, 5)}-${pad(v, 3)}`;
const uuidOf = (h: number, v: number): string => `00000000-0000-4000-8000-${pad((h * 1000 + v).toString(16), 12)}`;

/**
 * The samples, as text chunks of about 1 MiB. `times`: unix seconds of the scrapes. `ms`:
 * Prometheus text with ms timestamps instead of OpenMetrics.
 */
export function* fleetText(
  shape: FleetShape,
  times: readonly number[],
  { ms = false }: { ms?: boolean } = {},
): Generator<string> {
  const { hosts, vms, vmVcpus, usage, delay } = shape;
  const ts = times.map((t) => (ms ? String(Math.round(t * 1000)) : String(t)));
  const t0 = times[0] ?? 0;
  let buf = "";
  const flush = function* (): Generator<string> {
    if (buf.length > 1 << 20) {
      yield buf;
      buf = "";
    }
  };
  const hostLabels = (h: number): string => `host="${hostName(h)}",instance="${hostName(h)}:9977",job="vsteal"`;
  const gauge = function* (name: string, value: (h: number, t: number) => number): Generator<string> {
    if (!ms) buf += `# TYPE ${name} gauge\n`;
    for (let h = 0; h < hosts; h++) {
      const l = hostLabels(h);
      for (let i = 0; i < ts.length; i++) buf += `${name}{${l}} ${value(h, times[i]!)} ${ts[i]}\n`;
      yield* flush();
    }
  };
  yield* gauge("vsteal_host_cpus", () => CPUS);
  yield* gauge("vsteal_host_capacity_cores", () => CPUS);
  yield* gauge("vsteal_collector_last_sweep_timestamp_seconds", (_h, t) => t - 0.5);
  yield* gauge("up", () => 1);
  const hostVcpus = new Uint32Array(hosts);
  for (let i = 0; i < vmVcpus.length; i++) hostVcpus[Math.floor(i / vms)]! += vmVcpus[i]!;
  yield* gauge("vsteal_host_vcpu_series", (h) => hostVcpus[h]!);
  if (!ms) buf += "# TYPE libvirt_domain_vcpu_current gauge\n";
  for (let h = 0; h < hosts; h++) {
    const hl = hostLabels(h);
    for (let v = 0; v < vms; v++) {
      const l = `domain="${vmName(h, v)}",uuid="${uuidOf(h, v)}",${hl}`;
      const n = vmVcpus[h * vms + v]!;
      for (let i = 0; i < ts.length; i++) buf += `libvirt_domain_vcpu_current{${l}} ${n} ${ts[i]}\n`;
    }
    yield* flush();
  }
  const counters: Array<[string, (k: number) => number]> = [
    ["libvirt_domain_vcpu_time_seconds", (k) => usage[k]!],
    ["libvirt_domain_vcpu_delay_seconds", (k) => delay[k]!],
    ["vsteal_domain_vcpu_throttled_seconds", () => 0],
  ];
  for (const [family, rateOf] of counters) {
    if (!ms) buf += `# TYPE ${family} counter\n`;
    let k = 0;
    for (let h = 0; h < hosts; h++) {
      const hl = hostLabels(h);
      for (let v = 0; v < vms; v++) {
        const base = `${family}_total{domain="${vmName(h, v)}",uuid="${uuidOf(h, v)}",${hl},vcpu="`;
        for (let c = 0; c < vmVcpus[h * vms + v]!; c++, k++) {
          const r = rateOf(k);
          const start = 1000 + (k % 997);
          for (let i = 0; i < ts.length; i++)
            buf += `${base}${c}"} ${(start + r * (times[i]! - t0)).toFixed(6)} ${ts[i]}\n`;
        }
      }
      yield* flush();
    }
  }
  if (!ms) buf += "# EOF\n";
  yield buf;
}

/** Scrape times: every `stepS` from `fromS` to `toS` (unix seconds, whole). */
export function scrapeTimes(fromS: number, toS: number, stepS: number): number[] {
  const out: number[] = [];
  for (let t = Math.floor(fromS); t <= toS; t += stepS) out.push(t);
  return out;
}
