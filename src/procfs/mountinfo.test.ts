import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProcParseError } from "./errors.js";
import { parseCgroupMounts } from "./mountinfo.js";

describe("parseCgroupMounts", () => {
  it("finds the v1 cpu hierarchy and the v2 mount (real file)", () => {
    const file = join(import.meta.dirname, "..", "..", "test", "fixtures", "proc", "mountinfo-v1");
    expect(parseCgroupMounts(readFileSync(file, "utf8"), file)).toEqual({
      v1Cpu: "/sys/fs/cgroup/cpu",
      v2: "/sys/fs/cgroup/unified",
      v1Cpuset: "/sys/fs/cgroup/cpuset",
    });
  });

  it("handles a pure v2 host and escaped paths", () => {
    const text = "30 23 0:26 / /sys/fs/cgroup\\040x rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
    expect(parseCgroupMounts(text, "m")).toEqual({ v1Cpu: null, v2: "/sys/fs/cgroup x", v1Cpuset: null });
  });

  it("finds cpu in a combined cpu,cpuacct hierarchy", () => {
    const text = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
    expect(parseCgroupMounts(text, "m").v1Cpu).toBe("/sys/fs/cgroup/cpu,cpuacct");
  });

  it("gives a value or a ProcParseError naming the file, whatever the input", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        try {
          parseCgroupMounts(s, "/proc/self/mountinfo");
        } catch (e) {
          expect(e).toBeInstanceOf(ProcParseError);
          expect((e as Error).message).toContain("/proc/self/mountinfo");
        }
      }),
    );
  });
});
