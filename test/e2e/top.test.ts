import { readFileSync } from "node:fs";
import { beforeAll, expect, it } from "vitest";
import { describeE2E } from "./env.js";
import { testbed, virsh, virshDomstats, vsteal } from "./virsh.js";

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** The spinning VMs of `testbed up` (other tests define extra vsteal-test-* domains for a while). */
function numberedDomains(): string[] {
  return virsh("list", "--name")
    .split("\n")
    .filter((n) => /^vsteal-test-\d+$/.test(n));
}

/** `vsteal top -b` output cut into iterations, each as lines. */
function iterations(stdout: string): string[][] {
  return stdout
    .split(/^(?=vsteal top - )/m)
    .filter((s) => s.trim() !== "")
    .map((s) => s.replace(/\n+$/, "").split("\n"));
}

/** The table rows of one iteration: the lines after the header. */
function table(lines: string[]): string[] {
  const h = lines.findIndex((l) => /^NAME\s+VCPU\s+CPU%\s+STEAL%\s+CONT%\s+THR%/.test(l));
  expect(h, lines.join("\n")).toBeGreaterThan(0);
  return lines.slice(h + 1);
}

describeE2E("vsteal top on the real testbed", () => {
  beforeAll(() => {
    testbed("up", "3");
  });

  it("-b -n 2 -d 1 prints two plain iterations, every running testbed VM once in each, waiting in the second", () => {
    const r = vsteal("top", "-b", "-n", "2", "-d", "1", "--source", "libvirt");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(CONTROL);
    const names = numberedDomains();
    expect(names).toHaveLength(3);
    const current = virshDomstats(...names);
    const its = iterations(r.stdout);
    expect(its).toHaveLength(2);
    for (const [i, lines] of its.entries()) {
      expect(lines[0]).toMatch(/^vsteal top - \d\d:\d\d:\d\d\b/);
      expect(lines[1]).toMatch(/^Host: \d+ CPUs, \d+ VMs running, \d+ vCPUs \([0-9.]+:1\)/);
      for (const l of lines) expect([...l].length, l).toBeLessThanOrEqual(80);
      const rows = table(lines);
      for (const name of names) {
        const mine = rows.filter((l) => l.startsWith(`${name} `));
        expect(mine, `${name} in iteration ${i + 1}:\n${lines.join("\n")}`).toHaveLength(1);
        const [, vcpus, cpu, steal, cont, thr] = mine[0]!.trim().split(/\s+/);
        expect(Number(vcpus)).toBe(Number(current.get(name)?.get("vcpu.current")));
        for (const x of [cpu, steal, cont, thr]) {
          expect(Number(x)).toBeGreaterThanOrEqual(0);
          expect(Number(x)).toBeLessThanOrEqual(100);
        }
        // 3 VMs, 6 spinning vCPUs, 2 cores: every VM waits, and no cap is set, so it is all contention.
        if (i === 1) {
          expect(Number(steal)).toBeGreaterThan(0);
          expect(Number(cont)).toBeCloseTo(Number(steal), 1);
        }
      }
      if (i === 1) expect(Number(/^Steal: ([0-9.]+) cores/m.exec(lines.join("\n"))?.[1])).toBeGreaterThan(0);
    }
  });

  it("--vcpus shows every vCPU with the tid of its real KVM thread", () => {
    const r = vsteal("top", "-b", "-n", "1", "-d", "1", "--vcpus", "--source", "libvirt", "-w", "100");
    expect(r.code, r.stderr).toBe(0);
    const rows = table(iterations(r.stdout)[0]!);
    for (const name of numberedDomains()) {
      const at = rows.findIndex((l) => l.startsWith(`${name} `));
      const n = Number(rows[at]!.trim().split(/\s+/)[1]);
      const pid = Number(readFileSync(`/run/libvirt/qemu/${name}.pid`, "utf8").trim());
      for (let k = 0; k < n; k++) {
        const m = /^ {2}vcpu (\d+) tid (\d+)\s/.exec(rows[at + 1 + k] ?? "");
        expect(m?.[1], rows.join("\n")).toBe(String(k));
        expect(readFileSync(`/proc/${pid}/task/${m?.[2]}/comm`, "utf8").trim()).toBe(`CPU ${k}/KVM`);
      }
    }
  });

  const hostile = "vsteal-test-top\tx\u009b2J\u202ey";
  it("a VM name with control characters is shown escaped, never sent to the terminal", () => {
    testbed("define", hostile, "1");
    try {
      const r = vsteal("top", "-b", "-n", "1", "-d", "1", "--source", "libvirt", "-w", "120");
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toMatch(CONTROL);
      expect(r.stdout).not.toContain("\u202e");
      expect(
        table(iterations(r.stdout)[0]!).filter((l) => l.startsWith("vsteal-test-top\\tx\\x9b2J\\u{202e}y ")),
      ).toHaveLength(1);
    } finally {
      testbed("undefine", hostile);
    }
  });

  it("an interactive run without a terminal says how to run in batch mode", () => {
    const r = vsteal("top", "-n", "1", "--source", "libvirt");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/needs a terminal.*vsteal top -b/);
  });
});
