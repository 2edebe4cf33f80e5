import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PlacementError, placementOf, rewritePlacement, sharedCpuSet } from "./placement.js";

// Real `virsh dumpxml --migratable` output of testbed domains (libvirt 9.0).
const fixture = (name: string): string =>
  readFileSync(new URL(`../../test/fixtures/domain-xml/${name}.xml`, import.meta.url), "utf8");

describe("placementOf / sharedCpuSet", () => {
  it("reads <vcpu cpuset> and <emulatorpin> of a confined domain", () => {
    const p = placementOf(fixture("confined-live-migratable"));
    expect(p).toEqual({ vcpu: "0", vcpupin: [], emulatorpin: "0", iothreadpin: [] });
    expect(sharedCpuSet(p)).toBe("0");
  });
  it("an unconfined domain has no set", () => {
    expect(sharedCpuSet(placementOf(fixture("unconfined-live-migratable")))).toBeNull();
  });
  it("equal vcpupins are a shared set; different ones are dedicated pinning and refused", () => {
    expect(sharedCpuSet(placementOf(fixture("vcpupin-live-migratable")))).toBe("0");
    expect(() => sharedCpuSet(placementOf(fixture("dedicated-live-migratable")))).toThrow(
      /pinned to different host CPUs \(vCPU 0: 0, vCPU 1: 1\)/,
    );
  });
});

describe("rewritePlacement", () => {
  it("moves every pin of a confined domain to the target's set and keeps the rest byte for byte", () => {
    const xml = fixture("confined-live-migratable");
    const out = rewritePlacement(xml, "1");
    expect(placementOf(out)).toEqual({ vcpu: "1", vcpupin: [], emulatorpin: "1", iothreadpin: [] });
    expect(
      out
        .replace("cpuset='1'>2</vcpu>", "cpuset='0'>2</vcpu>")
        .replace("<emulatorpin cpuset='1'/>", "<emulatorpin cpuset='0'/>"),
    ).toBe(xml);
  });
  it("rewrites vcpupins too", () => {
    const out = rewritePlacement(fixture("vcpupin-live-migratable"), "2-3");
    expect(placementOf(out)).toEqual({
      vcpu: "2-3",
      vcpupin: [
        { vcpu: 0, cpuset: "2-3" },
        { vcpu: 1, cpuset: "2-3" },
      ],
      emulatorpin: "2-3",
      iothreadpin: [],
    });
  });
  it("confines an unconfined domain: cpuset on <vcpu> and a new <cputune><emulatorpin>", () => {
    const out = rewritePlacement(fixture("unconfined-live-migratable"), "1,2,3");
    expect(placementOf(out)).toEqual({ vcpu: "1-3", vcpupin: [], emulatorpin: "1-3", iothreadpin: [] });
    expect(out).toContain(
      "<vcpu placement='static' cpuset='1-3'>1</vcpu>\n  <cputune>\n    <emulatorpin cpuset='1-3'/>\n  </cputune>\n",
    );
  });
  it("adds <emulatorpin> inside an existing <cputune>, and fixes placement='auto'", () => {
    const xml =
      "<domain>\n  <vcpu placement='auto'>2</vcpu>\n  <cputune>\n    <shares>1024</shares>\n  </cputune>\n</domain>\n";
    const out = rewritePlacement(xml, "4");
    expect(out).toBe(
      "<domain>\n  <vcpu placement='static' cpuset='4'>2</vcpu>\n  <cputune>\n    <emulatorpin cpuset='4'/>\n    <shares>1024</shares>\n  </cputune>\n</domain>\n",
    );
  });
  it("never touches elements of the same names inside <metadata>", () => {
    const xml = `<domain>\n  <metadata>\n    <x:vm xmlns:x="urn:x"><vcpu cpuset="9">1</vcpu><emulatorpin cpuset="9"/></x:vm>\n  </metadata>\n  <vcpu placement='static' cpuset='0'>1</vcpu>\n</domain>\n`;
    const out = rewritePlacement(xml, "1");
    expect(out).toContain(`<vcpu cpuset="9">1</vcpu><emulatorpin cpuset="9"/>`);
    expect(placementOf(out).vcpu).toBe("1");
  });
  it("refuses dedicated pinning, a bad target set and XML without <vcpu>", () => {
    expect(() => rewritePlacement(fixture("dedicated-live-migratable"), "1")).toThrow(PlacementError);
    expect(() => rewritePlacement(fixture("confined-live-migratable"), "1-")).toThrow(/target VM CPU set/);
    expect(() => rewritePlacement(fixture("confined-live-migratable"), "")).toThrow(/empty CPU list/);
    expect(() => rewritePlacement("<domain/>", "1")).toThrow(/no <vcpu>/);
  });
  it("any CPU list: the result is placed exactly on it, and rewriting twice changes nothing more", () => {
    const xml = fixture("vcpupin-live-migratable");
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 20 }), (cpus) => {
        const list = cpus.join(",");
        const once = rewritePlacement(xml, list);
        const set = sharedCpuSet(placementOf(once));
        expect(set).toBe(
          [...cpus]
            .sort((a, b) => a - b)
            .reduce<string[]>((acc, c, i, a) => {
              if (i > 0 && a[i - 1] === c - 1) {
                const last = acc.pop()!;
                acc.push(`${last.split("-")[0]}-${c}`);
              } else acc.push(`${c}`);
              return acc;
            }, [])
            .join(","),
        );
        expect(rewritePlacement(once, list)).toBe(once);
      }),
    );
  });
});
