import { describe, expect, it } from "vitest";
import type { DomainThreads } from "../model/types.js";
import { DuplicateIdentityFilter } from "./duplicates.js";

const dom = (
  name: string,
  uuid: string | null,
  pid: number | null,
  state: DomainThreads["state"] = "running",
): DomainThreads => ({
  name,
  uuid,
  id: null,
  state,
  vcpuCurrent: 1,
  vcpuMaximum: 1,
  pid,
  source: "qemu",
  vcpus: pid === null ? [] : [{ vcpu: 0, tid: pid + 1 }],
});

const U = "4c3ca851-f5dc-4a28-a7bc-d369f8327ebb";

describe("DuplicateIdentityFilter", () => {
  it("keeps one of two QEMU processes with one name and UUID (the oldest), and warns once while it lasts", () => {
    const f = new DuplicateIdentityFilter();
    const found = { domains: [dom("web", U, 900), dom("other", null, 50), dom("web", U, 400)], problems: [] };
    const a = f.filter(found);
    expect(a.domains.map((d) => [d.name, d.pid])).toEqual([
      ["other", 50],
      ["web", 400],
    ]);
    expect(a.problems).toHaveLength(1);
    expect(a.problems[0]!.message).toMatch(
      /2 VMs claim the name "web" and UUID 4c3ca851.*pid 900, pid 400.*reporting pid 400 only/,
    );
    // Same duplicate at the next discovery: no second warning, still one domain.
    const b = f.filter(found);
    expect(b.domains.filter((d) => d.name === "web")).toHaveLength(1);
    expect(b.problems).toHaveLength(0);
    // Resolved, then back: warned again.
    f.filter({ domains: [dom("web", U, 400)], problems: [] });
    expect(f.filter(found).problems).toHaveLength(1);
  });

  it("prefers a running process over a paused or inactive one", () => {
    const f = new DuplicateIdentityFilter();
    expect(f.filter({ domains: [dom("a", U, 10, "paused"), dom("a", U, 20)], problems: [] }).domains[0]!.pid).toBe(20);
    expect(
      f.filter({ domains: [dom("b", U, null, "shut off"), dom("b", U, 30, "paused")], problems: [] }).domains[0]!.pid,
    ).toBe(30);
  });

  it("leaves same names with different UUIDs alone (their series differ)", () => {
    const f = new DuplicateIdentityFilter();
    const r = f.filter({
      domains: [dom("a", U, 10), dom("a", "98eec1f2-149f-4b10-8891-d24fcacccac0", 20)],
      problems: [],
    });
    expect(r.domains).toHaveLength(2);
    expect(r.problems).toHaveLength(0);
  });
});
