import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDominfoBatch, parseUuidList } from "./libvirt-parse.js";
import { isLocalUri } from "./libvirt.js";

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, "..", "..", "test", "fixtures", "virsh", name), "utf8");

describe("parseDominfoBatch (real virsh 9.0 output)", () => {
  it("reads a batch of running domains with their maximum vCPUs", () => {
    const recs = parseDominfoBatch(fixture("dominfo-batch.txt"));
    expect(recs).toEqual([
      {
        uuid: "4c3ca851-f5dc-4a28-a7bc-d369f8327ebb",
        name: "vsteal-test-1",
        id: 13,
        state: "running",
        vcpuCurrent: 1,
        vcpuMaximum: 1,
        memoryBytes: 33554432,
        maxMemoryBytes: 33554432,
      },
      {
        uuid: "d2081b73-6c59-46f8-923a-72ecf09d3052",
        name: "vsteal-test-2",
        id: 14,
        state: "running",
        vcpuCurrent: 2,
        vcpuMaximum: 3,
        memoryBytes: 33554432,
        maxMemoryBytes: 33554432,
      },
    ]);
  });

  it("keeps a hostile name exactly, leading and trailing spaces included, for an inactive domain", () => {
    expect(parseDominfoBatch(fixture("dominfo-inactive.txt"))).toEqual([
      {
        uuid: "98eec1f2-149f-4b10-8891-d24fcacccac0",
        name: "  off ';$(x) <b> é ",
        id: null,
        state: "shut off",
        vcpuCurrent: 1,
        vcpuMaximum: 1,
        memoryBytes: 33554432,
        maxMemoryBytes: 33554432,
      },
    ]);
  });

  it("gives null memory when dominfo's values are not KiB", () => {
    const [r] = parseDominfoBatch(
      "Id:             1\nName:           x\nUUID:           98eec1f2-149f-4b10-8891-d24fcacccac0\nState:          running\nCPU(s):         1\nMax memory:     lots\n",
    );
    expect(r).toMatchObject({ memoryBytes: null, maxMemoryBytes: null });
  });

  it("never throws on garbage", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), (s) => void parseDominfoBatch(s)));
  });
});

describe("parseUuidList", () => {
  it("reads virsh list --uuid", () => {
    expect(parseUuidList(fixture("list-uuid.txt")).length).toBeGreaterThan(0);
    expect(parseUuidList("\n")).toEqual([]);
  });
  it("refuses malformed output with a message", () => {
    expect(() => parseUuidList("Id Name State\n")).toThrow(/unexpected line/);
  });
});

describe("isLocalUri", () => {
  it("accepts local URIs only", () => {
    expect(isLocalUri("qemu:///system")).toBe(true);
    expect(isLocalUri("qemu+unix:///system")).toBe(true);
    expect(isLocalUri("qemu:///session")).toBe(true);
    expect(isLocalUri("qemu+ssh://hv1/system")).toBe(false);
    expect(isLocalUri("qemu+tcp://127.0.0.1:16509/system")).toBe(false);
    expect(isLocalUri("garbage")).toBe(false);
  });
});
