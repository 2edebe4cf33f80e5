import { describe, expect, it } from "vitest";
import type { DomainSample, RatesSample } from "../model/types.js";
import { domstatsRecords, formatDomstatsJson, formatDomstatsText } from "./domstats-format.js";

const dom: DomainSample = {
  domain: {
    name: "web 1 <b>",
    uuid: "u",
    id: 3,
    state: "running",
    vcpuCurrent: 2,
    vcpuMaximum: 4,
    pid: 10,
    source: "libvirt",
  },
  vcpus: [
    { vcpu: 0, tid: 11, time: 18446744073709551615n, delay: 5n, slices: 1n, throttled: null, wait: 0n },
    { vcpu: 2, tid: 12, time: 7n, delay: 9007199254740993n, slices: 1n, throttled: 0n },
  ],
};

describe("domstats output", () => {
  it("is virsh's text layout with real vCPU numbers and exact counters", () => {
    expect(formatDomstatsText(domstatsRecords([dom]))).toBe(
      "Domain: 'web 1 <b>'\n  vcpu.current=2\n  vcpu.maximum=4\n" +
        "  vcpu.0.state=1\n  vcpu.0.time=18446744073709551615\n  vcpu.0.wait=0\n  vcpu.0.delay=5\n" +
        "  vcpu.2.state=1\n  vcpu.2.time=7\n  vcpu.2.wait=0\n  vcpu.2.delay=9007199254740993\n\n",
    );
  });

  it("adds ratios after each vCPU's counters with rates", () => {
    const rates: RatesSample = {
      wallMs: 0,
      intervalS: 1,
      problems: [],
      domains: [
        {
          domain: dom.domain,
          intervalS: 1,
          vcpus: [{ vcpu: 0, tid: 11, usage: 0.25, delay: 0.5, throttled: 0, contention: 0.5 }],
        },
      ],
    };
    const text = formatDomstatsText(domstatsRecords([dom], rates));
    expect(text).toContain(
      "  vcpu.0.delay=5\n  vcpu.0.delay.ratio=0.500000\n  vcpu.0.time.ratio=0.250000\n  vcpu.2.state=1\n",
    );
    expect(text).not.toContain("vcpu.2.delay.ratio");
  });

  it("writes JSON with exact integers", () => {
    const json = formatDomstatsJson(domstatsRecords([dom]));
    expect(json).toContain('"vcpu.0.time": 18446744073709551615');
    expect(json).toContain('"vcpu.2.delay": 9007199254740993');
    expect(JSON.parse(json)[0].domain).toBe("web 1 <b>");
  });
});
