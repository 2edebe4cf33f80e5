import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";

describe("parseDuration", () => {
  it("reads Prometheus-style durations", () => {
    expect(parseDuration("3m")).toBe(180_000);
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("1d")).toBe(86_400_000);
    expect(parseDuration("2w")).toBe(1_209_600_000);
    expect(parseDuration("0s")).toBe(0);
    expect(parseDuration("1m30s500ms")).toBe(90_500);
  });

  it("refuses anything else", () => {
    for (const bad of ["", "3", "3 minutes", "3 m", "3M", "-3m", "3.5m", "3m1h", "1m1m", "m", "3mm", "1y", " 3m"]) {
      expect(parseDuration(bad), bad).toBeNull();
    }
  });

  it("reads back what formatDuration writes", () => {
    fc.assert(fc.property(fc.nat({ max: 10 * 365 * 86_400_000 }), (ms) => parseDuration(formatDuration(ms)) === ms));
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatDuration(0)).toBe("0s");
  });
});
