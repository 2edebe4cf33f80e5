import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { DomainSample } from "../model/types.js";
import { escapeLabelValue, renderVcpuFamilies } from "./exposition.js";

const hostile = 'a"b\\c\nd <img src=x onerror=alert(1)> $(reboot) é';
const domains: DomainSample[] = [
  {
    domain: {
      name: hostile,
      uuid: "4c3ca851-f5dc-4a28-a7bc-d369f8327ebb",
      id: 1,
      state: "running",
      vcpuCurrent: 2,
      vcpuMaximum: 4,
      pid: 1,
      source: "libvirt",
    },
    vcpus: [
      { vcpu: 0, tid: 2, time: 1_500_000_000n, delay: 250_000_000n, slices: 1n, throttled: 0n },
      { vcpu: 3, tid: 3, time: 18446744073709551615n, delay: 0n, slices: 1n, throttled: null },
    ],
  },
  {
    domain: {
      name: "off",
      uuid: null,
      id: null,
      state: "shut off",
      vcpuCurrent: 1,
      vcpuMaximum: 1,
      pid: null,
      source: "libvirt",
    },
    vcpus: [],
  },
];

describe("renderVcpuFamilies", () => {
  it("writes the libvirt exporter names with real vCPU numbers and seconds", () => {
    const text = renderVcpuFamilies(domains, false);
    const dl = `domain="${escapeLabelValue(hostile)}",uuid="4c3ca851-f5dc-4a28-a7bc-d369f8327ebb"`;
    expect(text).toContain(`libvirt_domain_vcpu_delay_seconds_total{${dl},vcpu="0"} 0.25\n`);
    expect(text).toContain(`libvirt_domain_vcpu_time_seconds_total{${dl},vcpu="0"} 1.5\n`);
    expect(text).toContain(
      `libvirt_domain_vcpu_time_seconds_total{${dl},vcpu="3"} ${Number(18446744073709551615n) / 1e9}\n`,
    );
    expect(text).toContain(`vsteal_domain_vcpu_throttled_seconds_total{${dl},vcpu="0"} 0\n`);
    expect(text).not.toContain(`vsteal_domain_vcpu_throttled_seconds_total{${dl},vcpu="3"}`);
    expect(text).toContain(`libvirt_domain_vcpu_maximum{${dl}} 4\n`);
    expect(text).toContain(`libvirt_domain_vcpu_current{domain="off",uuid=""} 1\n`);
    // As many as each per-vCPU family has (the shut-off domain has none).
    const delaySeries = text.split("\n").filter((l) => l.startsWith("libvirt_domain_vcpu_delay_seconds_total{")).length;
    expect(text).toContain(`vsteal_host_vcpu_series ${delaySeries}\n`);
    expect(delaySeries).toBeGreaterThan(0);
  });

  it("escapes label values so a name cannot break the format", () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    const text = renderVcpuFamilies(domains, false);
    for (const line of text.split("\n").filter((l) => l && !l.startsWith("#") && !l.startsWith("vsteal_host_"))) {
      expect(line).toMatch(/^[a-z_]+\{domain="(?:[^"\\\n]|\\.)*",uuid="[^"]*"(?:,vcpu="\d+")?\} [0-9.e+]+$/);
    }
  });

  it("names counter families without _total in OpenMetrics", () => {
    const text = renderVcpuFamilies(domains, true);
    expect(text).toContain("# TYPE libvirt_domain_vcpu_delay_seconds counter\n");
    expect(text).toContain('libvirt_domain_vcpu_delay_seconds_total{domain="');
  });

  it.skipIf(!existsSync("/usr/bin/promtool"))("passes promtool check metrics", () => {
    execFileSync("promtool", ["check", "metrics"], { input: renderVcpuFamilies(domains, false) });
  });
});
