import type { HostFacts } from "../collect/host-facts.js";
import type { DomainSample } from "../model/types.js";
import { formatCpuList } from "../procfs/cpulist.js";
import { escapeLabelValue } from "./exposition.js";

/**
 * What planning needs of the host and of each running VM, read at discovery: the host's name,
 * the CPUs VMs may use, memory; each VM's memory, CPU cap and placement. Written straight into
 * the exposition text, like the vCPU families, since info series must vanish with what they
 * describe (a value left unset in a registry would show as 0).
 */

interface FactFamily {
  name: string;
  help: string;
  /**
   * "info": a `_info` series whose value is always 1. Written as a gauge in both formats, as
   * client_golang writes node_uname_info: an OpenMetrics `info` family would be named without
   * `_info`, and `vsteal_host_vm_cpus` would then be two families.
   */
  type: "gauge" | "info";
}

const F = {
  hostInfo: {
    name: "vsteal_host_info",
    type: "info",
    help: "The host's name as plans and the migration hosts file use it (--host-name).",
  },
  vmCpusInfo: {
    name: "vsteal_host_vm_cpus_info",
    type: "info",
    help: "Host CPUs VMs may use, as a Linux CPU list (--vm-cpus, else libvirt's machine cgroup cpuset, else the online CPUs).",
  },
  vmCpus: { name: "vsteal_host_vm_cpus", type: "gauge", help: "Number of host CPUs VMs may use." },
  memTotal: { name: "vsteal_host_memory_total_bytes", type: "gauge", help: "Host memory (MemTotal), bytes." },
  memAvailable: {
    name: "vsteal_host_memory_available_bytes",
    type: "gauge",
    help: "Host memory available without swapping (MemAvailable), bytes.",
  },
  vmMemory: {
    name: "vsteal_host_vm_memory_bytes",
    type: "gauge",
    help: "Memory VMs may use: MemTotal minus --reserved-memory, bytes.",
  },
  domMemory: {
    name: "libvirt_domain_info_memory_usage_bytes",
    type: "gauge",
    help: "Current memory of the domain (libvirt's balloon size; QEMU's -m), bytes.",
  },
  domMaxMemory: {
    name: "libvirt_domain_info_maximum_memory_bytes",
    type: "gauge",
    help: "Maximum memory of the domain, bytes.",
  },
  domCap: {
    name: "vsteal_domain_vcpu_cap_cores",
    type: "gauge",
    help: "CPU cap of each vCPU of the domain in cores (CFS quota / period); absent when uncapped.",
  },
  domCpus: {
    name: "vsteal_domain_cpus_info",
    type: "info",
    help: "Host CPUs the domain's vCPU threads may run on (union of their Cpus_allowed_list).",
  },
} as const satisfies Record<string, FactFamily>;

function header(f: FactFamily): string {
  return `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} gauge\n`;
}

/** Renders the host and per-domain fact families; only running domains have per-domain facts. */
export function renderFactFamilies(facts: HostFacts, domains: readonly DomainSample[]): string {
  const parts: string[] = [];
  const one = (f: FactFamily, value: number | null, labels = ""): void => {
    if (value === null) return;
    parts.push(header(f), `${f.name}${labels ? `{${labels}}` : ""} ${value}\n`);
  };
  one(F.hostInfo, 1, `host_name="${escapeLabelValue(facts.hostName)}"`);
  one(F.vmCpusInfo, 1, `cpus="${formatCpuList(facts.vmCpus)}"`);
  one(F.vmCpus, facts.vmCpus.length);
  one(F.memTotal, facts.memTotalBytes);
  one(F.memAvailable, facts.memAvailableBytes);
  one(F.vmMemory, facts.vmMemoryBytes);

  const running = domains.filter((d) => d.domain.pid !== null && d.domain.resources);
  const labels = running.map(
    (d) => `domain="${escapeLabelValue(d.domain.name)}",uuid="${escapeLabelValue(d.domain.uuid ?? "")}"`,
  );
  const family = (f: FactFamily, row: (i: number) => string | null): void => {
    const rows: string[] = [];
    for (let i = 0; i < running.length; i++) {
      const r = row(i);
      if (r !== null) rows.push(r);
    }
    if (rows.length > 0) parts.push(header(f), ...rows);
  };
  const gauge = (f: FactFamily, value: (d: DomainSample) => number | null | undefined): void =>
    family(f, (i) => {
      const v = value(running[i]!);
      return v === null || v === undefined ? null : `${f.name}{${labels[i]}} ${v}\n`;
    });
  gauge(F.domMemory, (d) => d.domain.resources?.memoryBytes);
  gauge(F.domMaxMemory, (d) => d.domain.resources?.maxMemoryBytes);
  gauge(F.domCap, (d) => d.domain.resources?.vcpuCapCores);
  family(F.domCpus, (i) => {
    const cpus = running[i]!.domain.resources?.cpus;
    return cpus ? `${F.domCpus.name}{${labels[i]},cpus="${formatCpuList(cpus)}"} 1\n` : null;
  });
  return parts.join("");
}
