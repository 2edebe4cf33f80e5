import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  anyText,
  expectParseError,
  fixturePath,
  fixtureText,
  mutated,
  valueOrParseError,
} from "../../test/unit/procfs/fixture.js";
import { MAX_CPU_LIST, formatCpuList, parseCpuList, parseStatus } from "./status.js";

const FILE = "/proc/4605/task/4611/status";

describe("parseStatus", () => {
  it("reads a vCPU thread of a real libvirt QEMU", () => {
    const s = parseStatus(fixtureText("proc/4605/task/4611/status"), FILE);
    expect({ name: s.name, state: s.state, tgid: s.tgid, pid: s.pid, cpus: s.cpusAllowed }).toEqual({
      name: "CPU 0/KVM",
      state: "S",
      tgid: 4605,
      pid: 4611,
      cpus: [0, 1],
    });
    expect(s.fields.get("Cpus_allowed_list")).toBe("0-1");
    expect(s.fields.get("Threads")).toBe("7");
    expect(s.fields.get("VmRSS")).toBe("36532 kB");
    expect(s.fields.get("Groups")).toBe("0");
    expect(s.fields.get("voluntary_ctxt_switches")).toBe("451");
    expect(s.fields.size).toBe(59); // one per line of the file
  });

  it("keeps odd names", () => {
    expect(parseStatus(fixtureText("proc/5163/status"), "status").name).toBe("a) b (c) S 1");
    const t = "Name:\t a\\nb\\\\c \nState:\tR (running)\nTgid:\t1\nPid:\t1\n";
    expect(parseStatus(t, "status").name).toBe(" a\nb\\c ");
  });

  it("rejects garbage and missing keys", () => {
    const file = fixturePath("proc/malformed/status-garbage");
    expect(expectParseError(() => parseStatus(fixtureText("proc/malformed/status-garbage"), file), file).reason).toBe(
      'expected "Key:\\tvalue", got "no colon on this line"',
    );
    expect(expectParseError(() => parseStatus("Name:\tx\nState:\tS (sleeping)\nTgid:\t1\n", FILE), FILE).reason).toBe(
      "no Pid: line",
    );
    expect(expectParseError(() => parseStatus("Name:\tx\nState:\t\nTgid:\t1\nPid:\t1\n", FILE), FILE).reason).toMatch(
      /^State:/,
    );
    const bad = fixtureText("proc/4605/task/4611/status").replace("Cpus_allowed_list:\t0-1", "Cpus_allowed_list:\t0-x");
    expect(expectParseError(() => parseStatus(bad, FILE), FILE).reason).toMatch(
      /^Cpus_allowed_list: bad CPU list item "0-x"/,
    );
  });

  it("gives a value or a ProcParseError for any text (property)", () => {
    fc.assert(
      fc.property(fc.oneof(anyText, mutated(fixtureText("proc/4605/task/4611/status"))), (text) => {
        valueOrParseError(() => parseStatus(text, FILE), FILE);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("parseCpuList", () => {
  it.each([
    ["0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]],
    ["0-1\n", [0, 1]],
    ["5", [5]],
    ["", []],
    ["\n", []],
    ["3,1,2-3", [1, 2, 3]],
    ["0-0", [0]],
  ])("%j is %j", (list, cpus) => {
    expect(parseCpuList(list)).toEqual(cpus);
  });

  it.each([
    "a",
    "1-",
    "-1",
    "1--2",
    "3-1",
    "1,,2",
    ",1",
    "1,",
    " 1",
    "1 ",
    "0x1",
    "1-3:2/4",
    "1.5",
    "１",
    "0-65536",
    "0-99999999",
  ])("rejects %j", (list) => {
    expectParseError(() => parseCpuList(list, "cpus"), "cpus");
  });

  it("bounds the size of a range and of the whole list", () => {
    expect(parseCpuList(`0-${MAX_CPU_LIST - 1}`)).toHaveLength(MAX_CPU_LIST);
    expect(expectParseError(() => parseCpuList(`0-${MAX_CPU_LIST}`, "cpus"), "cpus").reason).toBe(
      'CPU range "0-65536" spans more than 65536 CPUs',
    );
    expect(expectParseError(() => parseCpuList(`0-40000,100000-140000`, "cpus"), "cpus").reason).toBe(
      "CPU list names more than 65536 CPUs",
    );
    expect(parseCpuList("0-65535,0-65535")).toHaveLength(MAX_CPU_LIST);
  });

  it("defaults the file name in errors", () => {
    expect(() => parseCpuList("x")).toThrow('cpu list: bad CPU list item "x" in "x"');
  });

  it("round-trips any set of CPUs (property)", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(5000), { maxLength: 300 }), (cpus) => {
        const sorted = [...cpus].sort((a, b) => a - b);
        const text = formatCpuList(cpus);
        expect(parseCpuList(text)).toEqual(sorted);
        expect(parseCpuList(`${text}\n`)).toEqual(sorted);
        expect(formatCpuList(parseCpuList(text))).toBe(text);
      }),
    );
    // Dense sets, where ranges form.
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(300), fc.nat(40)), { maxLength: 20 }), (ranges) => {
        const cpus = new Set<number>();
        for (const [lo, len] of ranges) for (let c = lo; c <= lo + len; c++) cpus.add(c);
        const sorted = [...cpus].sort((a, b) => a - b);
        expect(parseCpuList(formatCpuList(cpus))).toEqual(sorted);
      }),
    );
  });

  it("formats like the kernel", () => {
    expect(formatCpuList([11, 0, 1, 2, 3, 8, 10, 3])).toBe("0-3,8,10-11");
    expect(formatCpuList([])).toBe("");
  });

  it("gives a value or a ProcParseError for any text (property)", () => {
    fc.assert(
      fc.property(fc.oneof(anyText, mutated("0-3,8,10-11\n", "0123456789,-\n x")), (text) => {
        valueOrParseError(() => parseCpuList(text, "cpus"), "cpus");
      }),
      { numRuns: 2000 },
    );
  });
});
