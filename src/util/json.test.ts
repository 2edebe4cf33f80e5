import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { prettyJsonChunks, writePrettyJson } from "./json.js";

describe("prettyJsonChunks", () => {
  it("fast-check: the very text of JSON.stringify(value, null, 2), at every depth", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 0, max: 6 }), (v, depth) => {
        expect([...prettyJsonChunks(v, depth)].join("")).toBe(JSON.stringify(v, null, 2));
      }),
      { numRuns: 500 },
    );
  });

  it("skips undefined fields, writes undefined array items as null, honours toJSON, as JSON.stringify does", () => {
    const v = { a: undefined, b: [undefined, 1], c: new Date(0), d: { e: {}, f: [] } };
    expect([...prettyJsonChunks(v)].join("")).toBe(JSON.stringify(v, null, 2));
  });

  it("writes in pieces: a large array is never one string", () => {
    const pieces: string[] = [];
    const v = { hosts: Array.from({ length: 5000 }, (_, i) => ({ name: `h${i}`, vms: [{ vcpus: [0.5, 0.25] }] })) };
    writePrettyJson(v, (t) => pieces.push(t));
    expect(pieces.join("")).toBe(`${JSON.stringify(v, null, 2)}\n`);
    expect(pieces.length).toBeGreaterThan(5);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThan(70_000);
  });
});
