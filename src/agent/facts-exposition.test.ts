import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { HostFacts } from "../collect/host-facts.js";
import type { DomainSample } from "../model/types.js";
import { renderFactFamilies } from "./facts-exposition.js";

const facts: HostFacts = {
  hostName: "hv1.example.com",
  onlineCpus: [0, 1, 2, 3, 4, 5, 6, 7],
  vmCpus: [2, 3, 4, 5, 7],
  vmCpusFrom: "flag",
  reservedCpus: 1,
  capacityCores: 4,
  memTotalBytes: 8 * 2 ** 30,
  memAvailableBytes: 6 * 2 ** 30,
  vmMemoryBytes: 7 * 2 ** 30,
  reservedMemoryBytes: 2 ** 30,
};

const base = { id: 1, state: "running" as const, vcpuCurrent: 2, vcpuMaximum: 2, source: "libvirt" as const };
const domains: DomainSample[] = [
  {
    domain: {
      ...base,
      name: 'we"b',
      uuid: "4c3ca851-f5dc-4a28-a7bc-d369f8327ebb",
      pid: 10,
      resources: { memoryBytes: 2 ** 30, maxMemoryBytes: 2 ** 31, vcpuCapCores: 0.5, cpus: [2, 3] },
    },
    vcpus: [],
  },
  {
    domain: {
      ...base,
      name: "free",
      uuid: null,
      pid: 20,
      resources: { memoryBytes: 2 ** 29, maxMemoryBytes: 2 ** 29, vcpuCapCores: null, cpus: null },
    },
    vcpus: [],
  },
  { domain: { ...base, name: "off", uuid: null, id: null, state: "shut off", pid: null }, vcpus: [] },
];

describe("renderFactFamilies", () => {
  const text = renderFactFamilies(facts, domains);

  it("writes the host's name, VM CPU set and memory", () => {
    expect(text).toContain('vsteal_host_info{host_name="hv1.example.com"} 1\n');
    expect(text).toContain('vsteal_host_vm_cpus_info{cpus="2-5,7"} 1\n');
    expect(text).toContain("vsteal_host_vm_cpus 5\n");
    expect(text).toContain(`vsteal_host_memory_total_bytes ${8 * 2 ** 30}\n`);
    expect(text).toContain(`vsteal_host_memory_available_bytes ${6 * 2 ** 30}\n`);
    expect(text).toContain(`vsteal_host_vm_memory_bytes ${7 * 2 ** 30}\n`);
  });

  it("writes each running VM's memory, cap and CPUs; no cap when uncapped, nothing for inactive VMs", () => {
    const web = 'domain="we\\"b",uuid="4c3ca851-f5dc-4a28-a7bc-d369f8327ebb"';
    expect(text).toContain(`libvirt_domain_info_memory_usage_bytes{${web}} ${2 ** 30}\n`);
    expect(text).toContain(`libvirt_domain_info_maximum_memory_bytes{${web}} ${2 ** 31}\n`);
    expect(text).toContain(`vsteal_domain_vcpu_cap_cores{${web}} 0.5\n`);
    expect(text).toContain(`vsteal_domain_cpus_info{${web},cpus="2-3"} 1\n`);
    expect(text).toContain(`libvirt_domain_info_memory_usage_bytes{domain="free",uuid=""} ${2 ** 29}\n`);
    expect(text).not.toMatch(/vsteal_domain_vcpu_cap_cores\{domain="free"/);
    expect(text).not.toMatch(/vsteal_domain_cpus_info\{domain="free"/);
    expect(text).not.toContain('domain="off"');
  });

  it("leaves out memory it does not know", () => {
    const t = renderFactFamilies({ ...facts, memTotalBytes: null, memAvailableBytes: null, vmMemoryBytes: null }, []);
    expect(t).not.toContain("memory");
    expect(t).toContain("vsteal_host_info{");
  });

  it("declares every family once, as a gauge, so vsteal_host_vm_cpus and vsteal_host_vm_cpus_info stay two families in OpenMetrics too", () => {
    const types = text.split("\n").filter((l) => l.startsWith("# TYPE "));
    expect(types.every((l) => l.endsWith(" gauge"))).toBe(true);
    expect(new Set(types).size).toBe(types.length);
    expect(types).toContain("# TYPE vsteal_host_vm_cpus gauge");
    expect(types).toContain("# TYPE vsteal_host_vm_cpus_info gauge");
  });

  it.skipIf(!existsSync("/usr/bin/promtool"))("passes promtool check metrics", () => {
    execFileSync("promtool", ["check", "metrics"], { input: text });
  });
});
