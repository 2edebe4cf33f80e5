import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyText, expectParseError, fixtureText, valueOrParseError } from "../../test/unit/procfs/fixture.js";
import { parseMeminfo } from "./meminfo.js";

describe("parseMeminfo", () => {
  it("reads a real /proc/meminfo in bytes", () => {
    const m = parseMeminfo(fixtureText("proc/meminfo"), "/proc/meminfo");
    expect(m.totalBytes).toBe(24684092 * 1024);
    expect(m.availableBytes).toBe(24092652 * 1024);
    expect(m.fields.get("HugePages_Total")).toBe(0); // no unit: the bare number
    expect(m.fields.get("Hugepagesize")).toBe(2048 * 1024);
  });

  it("gives null for MemAvailable on kernels before 3.14", () => {
    expect(parseMeminfo("MemTotal:        2048 kB\nMemFree:         1024 kB\n", "m").availableBytes).toBeNull();
  });

  it("refuses a file without MemTotal, garbage lines and impossible sizes, naming the file", () => {
    expect(expectParseError(() => parseMeminfo("MemFree: 1 kB\n", "/proc/meminfo"), "/proc/meminfo").reason).toMatch(
      /no MemTotal/,
    );
    expectParseError(() => parseMeminfo("MemTotal 1 kB\n", "/proc/meminfo"), "/proc/meminfo");
    expectParseError(() => parseMeminfo("MemTotal:   -1 kB\n", "/proc/meminfo"), "/proc/meminfo");
    expect(
      expectParseError(() => parseMeminfo("MemTotal:   99999999999999999 kB\n", "/proc/meminfo"), "/proc/meminfo")
        .reason,
    ).toMatch(/larger than any real memory/);
  });

  it("gives a value or a ProcParseError naming the file, whatever the input", () => {
    fc.assert(fc.property(anyText, (s) => valueOrParseError(() => parseMeminfo(s, "/proc/meminfo"), "/proc/meminfo")));
  });
});
