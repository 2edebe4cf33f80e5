import type { DomainSample } from "../model/types.js";

/**
 * The per-vCPU families, written straight from a sample into the exposition text. These are
 * pass-through series (2,000 vCPUs × 7 families = 14,000 lines on a big host): prom-client's
 * label-set bookkeeping costs ~70 ms and tens of MB per sweep for them, this ~5 ms and nothing
 * kept. The low-cardinality metrics (host, collector, process) stay in prom-client.
 */

/** Label value escaping of the text format (and OpenMetrics): backslash, double quote, newline. */
export function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") : v;
}

/** A float as Prometheus writes it. */
function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** ns counter → seconds, keeping all the precision a float64 has. */
function seconds(ns: bigint): string {
  return num(Number(ns) / 1e9);
}

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge";
  perVcpu: boolean;
}

export const VCPU_FAMILIES: readonly Family[] = [
  {
    name: "libvirt_domain_vcpu_delay_seconds_total",
    type: "counter",
    perVcpu: true,
    help: "Time the vCPU thread was runnable but waited for a host CPU (steal), from schedstat run_delay.",
  },
  {
    name: "libvirt_domain_vcpu_time_seconds_total",
    type: "counter",
    perVcpu: true,
    help: "Time the vCPU thread ran on a host CPU, from schedstat.",
  },
  {
    name: "libvirt_domain_vcpu_wait_seconds_total",
    type: "counter",
    perVcpu: true,
    help: "Run-queue wait_sum of the vCPU thread (/proc/.../sched); 0 without kernel schedstats, as libvirt reports it.",
  },
  {
    name: "libvirt_domain_vcpu_state",
    type: "gauge",
    perVcpu: true,
    help: "vCPU state as libvirt reports it (1 = running).",
  },
  {
    name: "vsteal_domain_vcpu_throttled_seconds_total",
    type: "counter",
    perVcpu: true,
    help: "Time the vCPU's cgroup was throttled by its own CPU cap (cpu.stat); this part of the delay is not contention.",
  },
  { name: "libvirt_domain_vcpu_current", type: "gauge", perVcpu: false, help: "Online vCPUs of the domain." },
  { name: "libvirt_domain_vcpu_maximum", type: "gauge", perVcpu: false, help: "Maximum vCPUs of the domain." },
];

/** Renders the vCPU families of a sample; `openMetrics` switches to OpenMetrics 1.0 family naming. */
export function renderVcpuFamilies(domains: readonly DomainSample[], openMetrics: boolean): string {
  const labels = domains.map(
    (d) => `domain="${escapeLabelValue(d.domain.name)}",uuid="${escapeLabelValue(d.domain.uuid ?? "")}"`,
  );
  const parts: string[] = [];
  for (const f of VCPU_FAMILIES) {
    const family = openMetrics && f.type === "counter" ? f.name.replace(/_total$/, "") : f.name;
    parts.push(`# HELP ${family} ${f.help}\n# TYPE ${family} ${f.type}\n`);
    domains.forEach((d, i) => {
      const dl = labels[i];
      if (!f.perVcpu) {
        const v = f.name === "libvirt_domain_vcpu_current" ? d.domain.vcpuCurrent : d.domain.vcpuMaximum;
        parts.push(`${f.name}{${dl}} ${v}\n`);
        return;
      }
      for (const v of d.vcpus) {
        let value: string;
        switch (f.name) {
          case "libvirt_domain_vcpu_delay_seconds_total":
            value = seconds(v.delay);
            break;
          case "libvirt_domain_vcpu_time_seconds_total":
            value = seconds(v.time);
            break;
          case "libvirt_domain_vcpu_wait_seconds_total":
            value = seconds(v.wait ?? 0n);
            break;
          case "vsteal_domain_vcpu_throttled_seconds_total":
            if (v.throttled === null) continue;
            value = seconds(v.throttled);
            break;
          default:
            value = "1";
        }
        parts.push(`${f.name}{${dl},vcpu="${v.vcpu}"} ${value}\n`);
      }
    });
  }
  // How many vCPU series the families above have (throttled: at most this many), so that a
  // planner can tell from one series a host that stopped exporting one of them (snapshot).
  let series = 0;
  for (const d of domains) series += d.vcpus.length;
  parts.push(`# HELP ${VCPU_SERIES.name} ${VCPU_SERIES.help}\n# TYPE ${VCPU_SERIES.name} gauge\n`);
  parts.push(`${VCPU_SERIES.name} ${series}\n`);
  return parts.join("");
}

export const VCPU_SERIES = {
  name: "vsteal_host_vcpu_series",
  help: "vCPU series in this exposition: each per-vCPU family has this many (the throttled one at most).",
} as const;
