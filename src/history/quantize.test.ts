import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32, crc32Table } from "./crc32.js";
import { NO_DATA, Q_SCALE, dequantize, quantize } from "./quantize.js";

describe("quantize", () => {
  it("round-trips any rate in [0, 1] within half a step", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (x) => {
        const q = quantize(x);
        expect(q).toBeGreaterThanOrEqual(0);
        expect(q).toBeLessThanOrEqual(Q_SCALE);
        expect(Math.abs(dequantize(q) - x)).toBeLessThanOrEqual(0.5 / Q_SCALE + 1e-15);
      }),
    );
  });

  it("keeps the ends exact, clamps outside [0, 1] and marks non-numbers", () => {
    expect(quantize(0)).toBe(0);
    expect(quantize(1)).toBe(65534);
    expect(dequantize(quantize(1))).toBe(1);
    expect(quantize(-0.2)).toBe(0);
    expect(quantize(1.7)).toBe(65534);
    expect(quantize(Number.NaN)).toBe(NO_DATA);
    expect(quantize(Number.POSITIVE_INFINITY)).toBe(NO_DATA);
  });
});

describe("crc32", () => {
  it("matches the standard check value", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    expect(crc32Table(Buffer.from("123456789"))).toBe(0xcbf43926);
  });

  it("table and native agree, also when continued in pieces", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (data, cut) => {
        const k = Math.min(cut, data.length);
        const whole = crc32(data);
        expect(crc32Table(data)).toBe(whole);
        expect(crc32(data.subarray(k), crc32(data.subarray(0, k)))).toBe(whole);
        expect(crc32Table(data.subarray(k), crc32Table(data.subarray(0, k)))).toBe(whole);
      }),
    );
  });
});
