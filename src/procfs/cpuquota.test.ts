import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyText, expectParseError, fixtureText, valueOrParseError } from "../../test/unit/procfs/fixture.js";
import { parseCfsQuotaV1, parseCpuMax, quotaCores } from "./cpuquota.js";

const DOMAIN = "cgroup/v1/machine/qemu-2-vsteal-procfs-fixture.libvirt-qemu";

describe("parseCfsQuotaV1", () => {
  it("reads libvirt's capped vCPU group and its uncapped domain group (real)", () => {
    const vcpu = parseCfsQuotaV1(
      fixtureText(`${DOMAIN}/vcpu0/cpu.cfs_quota_us`),
      fixtureText(`${DOMAIN}/vcpu0/cpu.cfs_period_us`),
      "q",
    );
    expect(vcpu).toEqual({ quotaUs: 20000, periodUs: 100000 });
    expect(quotaCores(vcpu)).toBeCloseTo(0.2, 12);
    const dom = parseCfsQuotaV1(
      fixtureText(`${DOMAIN}/cpu.cfs_quota_us`),
      fixtureText(`${DOMAIN}/cpu.cfs_period_us`),
      "q",
    );
    expect(dom).toEqual({ quotaUs: null, periodUs: 100000 });
    expect(quotaCores(dom)).toBeNull();
  });

  it("refuses garbage and periods the kernel never allows", () => {
    expectParseError(() => parseCfsQuotaV1("abc\n", "100000\n", "cpu.cfs_quota_us"), "cpu.cfs_quota_us");
    expectParseError(() => parseCfsQuotaV1("-2\n", "100000\n", "cpu.cfs_quota_us"), "cpu.cfs_quota_us");
    expectParseError(() => parseCfsQuotaV1("1000\n", "0\n", "q", "cpu.cfs_period_us"), "cpu.cfs_period_us");
    expectParseError(() => parseCfsQuotaV1("1000\n2000\n", "100000\n", "q"), "q");
  });
});

describe("parseCpuMax", () => {
  it("reads the v2 forms", () => {
    expect(parseCpuMax(fixtureText("cgroup/v2/cpu.max"), "cpu.max")).toEqual({ quotaUs: null, periodUs: 100000 });
    expect(quotaCores(parseCpuMax(fixtureText("cgroup/v2/cpu.max-capped"), "cpu.max"))).toBeCloseTo(0.2, 12);
  });

  it("refuses other shapes", () => {
    expectParseError(() => parseCpuMax("max\n", "cpu.max"), "cpu.max");
    expectParseError(() => parseCpuMax("1 2 3\n", "cpu.max"), "cpu.max");
  });

  it("gives a value or a ProcParseError naming the file, whatever the input", () => {
    fc.assert(fc.property(anyText, (s) => valueOrParseError(() => parseCpuMax(s, "cpu.max"), "cpu.max")));
    fc.assert(fc.property(anyText, anyText, (q, p) => valueOrParseError(() => parseCfsQuotaV1(q, p, "q"), "q")));
  });
});
