import { describe, expect, it } from "vitest";
import { hostSummary } from "../analysis/host.js";
import { RateWindow } from "../analysis/window.js";
import type { DomainInfo, DomainThreads, RatesSample, VcpuRates } from "../model/types.js";
import { safeText } from "../util/safe-text.js";
import { clipLine, truncate, visibleWidth } from "./top-ansi.js";
import { renderTop } from "./top-render.js";
import { applyAction, defaultView, sortRows, vmRows, type TopFrame, type VmRow } from "./top-view-model.js";
import { wantColour } from "./top.js";

// eslint-disable-next-line no-control-regex
const ANY_ESCAPE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[[0-9;]*m/g;

function dom(name: string, n: number, pid = 1000): DomainInfo {
  return { name, uuid: null, id: pid, state: "running", vcpuCurrent: n, vcpuMaximum: n, pid, source: "libvirt" };
}

/** One vCPU's rates: usage, delay, of which throttled. */
const v = (vcpu: number, usage: number, delay: number, throttled = 0): VcpuRates => ({
  vcpu,
  tid: 5000 + vcpu,
  usage,
  delay,
  throttled,
  contention: delay - throttled,
});

function rates(domains: Array<[DomainInfo, VcpuRates[]]>, wallMs = Date.UTC(2025, 0, 1, 12, 0, 1)): RatesSample {
  return {
    wallMs,
    intervalS: 2,
    domains: domains.map(([domain, vcpus]) => ({ domain, intervalS: 2, vcpus })),
    problems: [],
  };
}

function frameOf(r: RatesSample, hostCpus = 2): TopFrame {
  const w = new RateWindow(60);
  w.add(r);
  const discovered: DomainThreads[] = r.domains.map((d) => ({
    ...d.domain,
    vcpus: d.vcpus.map((x) => ({ vcpu: x.vcpu, tid: x.tid })),
  }));
  return { wallMs: r.wallMs, host: hostSummary(r, hostCpus), vms: vmRows(r, w.values(), discovered, hostCpus) };
}

const plain = (l: string): string => l.replace(SGR, "");
/** Table rows: lines after the header line. */
function tableRows(lines: string[]): string[] {
  const h = lines.findIndex((l) => /^\s*NAME\s/.test(plain(l)));
  expect(h).toBeGreaterThanOrEqual(0);
  return lines.slice(h + 1).map(plain);
}

const sample = rates([
  [dom("alpha", 2, 1), [v(0, 0.5, 0.1), v(1, 0.5, 0.3)]], // steal 20 %, cpu 50 %
  [dom("bravo", 1, 2), [v(0, 0.9, 0.02)]], // steal 2 %, cpu 90 %
  [dom("charlie", 2, 3), [v(0, 0.2, 0.5, 0.5), v(1, 0.2, 0.5, 0.5)]], // steal 50 %, all throttled
  [{ ...dom("shutoff", 1), pid: null, id: null, state: "shut off" }, []],
]);

describe("vmRows", () => {
  it("averages over the VM's vCPUs and skips domains that are not running", () => {
    const rows = frameOf(sample).vms;
    expect(rows.map((r) => r.name).sort()).toEqual(["alpha", "bravo", "charlie"]);
    const a = rows.find((r) => r.name === "alpha")!;
    expect(a.steal).toBeCloseTo(0.2);
    expect(a.usage).toBeCloseTo(0.5);
    expect(a.contention).toBeCloseTo(0.2);
    const c = rows.find((r) => r.name === "charlie")!;
    expect(c.throttled).toBeCloseTo(0.5);
    expect(c.contention).toBeCloseTo(0);
  });

  it("names the noisiest neighbour of a VM that waits for others, and none of one that only hits its cap", () => {
    const rows = frameOf(sample).vms;
    expect(rows.find((r) => r.name === "alpha")?.neighbour?.name).toBe("bravo");
    expect(rows.find((r) => r.name === "charlie")?.neighbour).toBeNull();
  });
});

describe("sortRows", () => {
  const rows = frameOf(sample).vms;
  const order = (k: Parameters<typeof sortRows>[1]): string[] => sortRows(rows, k).map((r) => r.name);
  it("sorts by steal, contention, throttled, cpu (highest first) and name", () => {
    expect(order("steal")).toEqual(["charlie", "alpha", "bravo"]);
    expect(order("contention")).toEqual(["alpha", "bravo", "charlie"]);
    expect(order("throttled")).toEqual(["charlie", "alpha", "bravo"]);
    expect(order("cpu")).toEqual(["bravo", "alpha", "charlie"]);
    expect(order("name")).toEqual(["alpha", "bravo", "charlie"]);
  });

  it("puts VMs without rates yet last", () => {
    const fresh: VmRow = {
      ...rows[0]!,
      key: "new",
      name: "aaa-new",
      usage: null,
      steal: null,
      contention: null,
      throttled: null,
      vcpus: [],
    };
    expect(sortRows([fresh, ...rows], "steal").map((r) => r.name)).toEqual(["charlie", "alpha", "bravo", "aaa-new"]);
  });

  it("the rendered table is in the sort order", () => {
    const names = (sort: "steal" | "cpu"): string[] =>
      tableRows(renderTop(frameOf(sample), defaultView({ sort }))).map((l) => l.split(" ")[0]!);
    expect(names("steal")).toEqual(["charlie", "alpha", "bravo"]);
    expect(names("cpu")).toEqual(["bravo", "alpha", "charlie"]);
  });
});

describe("renderTop", () => {
  it("begins with the title and the host lines", () => {
    const lines = renderTop(frameOf(sample), defaultView());
    expect(lines[0]).toMatch(/^vsteal top - \d\d:\d\d:\d\d, every 2 s, sort: steal$/);
    expect(lines[1]).toBe("Host: 2 CPUs, 3 VMs running, 5 vCPUs (2.50:1), demand 2.72 of 2 cores (136%)");
    expect(lines[2]).toMatch(/^Steal: 1\.42 cores, contention 0\.42, throttled 1\.00, p99 vCPU steal 50\.0%$/);
  });

  it("shows the columns, percentages of one vCPU", () => {
    const rows = tableRows(renderTop(frameOf(sample), defaultView()));
    expect(rows[1]).toMatch(/^alpha\s+2\s+50\.0\s+20\.0\s+20\.0\s+0\.0 bravo \d+%$/);
    expect(rows[0]).toMatch(/^charlie\s+2\s+20\.0\s+50\.0\s+0\.0\s+50\.0$/);
  });

  const long = "a-very-long-virtual-machine-name-that-goes-on-and-on-for-ever-and-ever-0123456789";
  const wide = "数据库服务器-生产环境-上海-第一可用区-主节点-非常长的名字";
  const tricky = rates([
    [dom(long, 4, 1), [v(0, 0.3, 0.4), v(1, 0.3, 0.4), v(2, 0.3, 0.4), v(3, 0.3, 0.4)]],
    [dom(wide, 2, 2), [v(0, 0.9, 0.1), v(1, 0.9, 0.1)]],
    [dom(`${long}-neighbour-with-an-equally-long-name`, 2, 3), [v(0, 1, 0), v(1, 1, 0)]],
  ]);

  for (const width of [80, 120, 60, 40, 20]) {
    for (const interactive of [false, true]) {
      for (const expandAll of [false, true]) {
        it(`never exceeds ${width} columns (interactive ${interactive}, vCPUs ${expandAll})`, () => {
          const lines = renderTop(
            frameOf(tricky),
            defaultView({ width, interactive, expandAll, colour: interactive, help: interactive, selected: null }),
          );
          for (const l of lines) expect(visibleWidth(l), JSON.stringify(plain(l))).toBeLessThanOrEqual(width);
        });
      }
    }
  }

  it("truncates long names with … and keeps short ones whole", () => {
    const rows = tableRows(renderTop(frameOf(tricky), defaultView({ width: 80 })));
    const first = rows.find((r) => r.startsWith("a-very-long"))!;
    expect(first).toContain("…");
    expect(first).not.toContain(long);
    const ok = tableRows(renderTop(frameOf(sample), defaultView({ width: 80 })));
    expect(ok.some((r) => r.startsWith("charlie "))).toBe(true);
  });

  it("expands a VM into its vCPU rows (vcpu, tid, usage, steal, cont, thr), and collapses it again", () => {
    const frame = frameOf(sample);
    const alpha = frame.vms.find((r) => r.name === "alpha")!;
    let view = defaultView({ interactive: true, selected: alpha.key });
    view = applyAction(view, "toggle", frame.vms);
    const rows = tableRows(renderTop(frame, view));
    const i = rows.findIndex((r) => r.startsWith("> alpha"));
    expect(rows[i + 1]).toMatch(/^\s+vcpu 0 tid 5000\s+50\.0\s+10\.0\s+10\.0\s+0\.0$/);
    expect(rows[i + 2]).toMatch(/^\s+vcpu 1 tid 5001\s+50\.0\s+30\.0\s+30\.0\s+0\.0$/);
    expect(rows[i + 3]).toMatch(/^\s+bravo\s/);
    expect(rows.filter((r) => /vcpu \d/.test(r))).toHaveLength(2);
    view = applyAction(view, "toggle", frame.vms);
    expect(tableRows(renderTop(frame, view)).filter((r) => /vcpu \d/.test(r))).toHaveLength(0);
  });

  it("--vcpus expands every VM", () => {
    const rows = tableRows(renderTop(frameOf(sample), defaultView({ expandAll: true })));
    expect(rows.filter((r) => /^\s+vcpu \d+ tid \d+/.test(r))).toHaveLength(5);
  });

  it("uses colour codes only when asked, at the thresholds, throttling in its own colour", () => {
    const off = renderTop(frameOf(sample), defaultView({ colour: false, interactive: true, selected: "x" })).join("\n");
    expect(off).not.toMatch(ANY_ESCAPE);
    expect(off).not.toContain("\u001b");
    const on = renderTop(frameOf(sample), defaultView({ colour: true }));
    const rows = tableRows(renderTop(frameOf(sample), defaultView()));
    const raw = on.slice(on.length - rows.length);
    const charlie = raw.find((l) => plain(l).startsWith("charlie"))!;
    expect(charlie).toContain("\u001b[31m  50.0\u001b[39m"); // steal ≥ 20 %: red
    expect(charlie).toContain("\u001b[35m  50.0\u001b[39m"); // throttled: magenta
    const alpha = raw.find((l) => plain(l).startsWith("alpha"))!;
    expect(alpha).toContain("\u001b[31m  20.0\u001b[39m");
    const bravo = raw.find((l) => plain(l).startsWith("bravo"))!;
    expect(bravo).not.toContain("\u001b"); // 2 %: no colour
    const yellow = renderTop(frameOf(rates([[dom("y", 1), [v(0, 0.5, 0.07)]]])), defaultView({ colour: true })).join(
      "\n",
    );
    expect(yellow).toContain("\u001b[33m   7.0\u001b[39m");
  });

  it("neutralises control characters in names: they are shown, never sent", () => {
    const evil = "web\u001b]0;pwned\u0007\u001b[2J\r\nrm -rf\u009b31m\u202eevil";
    const r = rates([
      [dom(evil, 1, 1), [v(0, 0.5, 0.3)]],
      [dom("victim", 1, 2), [v(0, 0.1, 0.6)]],
    ]);
    for (const colour of [false, true]) {
      const text = renderTop(frameOf(r), defaultView({ colour, width: 200 })).join("\n");
      expect(text.replace(SGR, "")).not.toMatch(ANY_ESCAPE);
      expect(text).not.toContain("\u202e");
      expect(text).toContain("web\\e]0;pwned\\x07\\e[2J\\r\\nrm -rf\\x9b31m\\u{202e}evil");
      // As the victim's neighbour too.
      expect(text.replace(SGR, "")).toMatch(/victim .* web\\e\]0;pwned/);
    }
  });

  it("keeps the selected VM on screen when the terminal is short", () => {
    const many = rates(
      Array.from({ length: 40 }, (_, i): [DomainInfo, VcpuRates[]] => [
        dom(`vm-${String(i).padStart(2, "0")}`, 1, i + 1),
        [v(0, 0.1, i / 100)],
      ]),
    );
    const frame = frameOf(many);
    const last = sortRows(frame.vms, "steal").at(-1)!;
    const lines = renderTop(frame, defaultView({ interactive: true, height: 15, selected: last.key }));
    expect(lines.length).toBeLessThanOrEqual(15);
    expect(lines.at(-1)).toMatch(/^> vm-00 /);
  });

  it("says it is sampling before the first interval is over", () => {
    const lines = renderTop({ wallMs: 0, host: null, vms: [] }, defaultView({ interactive: true }));
    expect(lines.join("\n")).toContain("Host: sampling…");
  });
});

describe("applyAction", () => {
  const rows = frameOf(sample).vms;
  const key = (name: string): string => rows.find((r) => r.name === name)!.key;
  it("moves the selection in the displayed order and stops at the ends", () => {
    let view = defaultView({ interactive: true, selected: key("charlie") });
    view = applyAction(view, "down", rows);
    expect(view.selected).toBe(key("alpha"));
    view = applyAction(applyAction(view, "down", rows), "down", rows);
    expect(view.selected).toBe(key("bravo"));
    view = applyAction(view, "up", rows);
    expect(view.selected).toBe(key("alpha"));
    expect(applyAction(view, "top", rows).selected).toBe(key("charlie"));
  });

  it("cycles the sort key and the help line", () => {
    let view = defaultView();
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      view = applyAction(view, "sort", rows);
      seen.push(view.sort);
    }
    expect(seen).toEqual(["contention", "throttled", "cpu", "name", "steal"]);
    view = applyAction(view, "help", rows);
    expect(renderTop(frameOf(sample), view).join("\n")).toContain("q quit");
  });
});

describe("text helpers", () => {
  it("safeText leaves ordinary names alone, backslashes and quotes included", () => {
    expect(safeText(`vsteal-test-x a'b"c$(touch /tmp/x);d<tag>&é \\n`)).toBe(
      `vsteal-test-x a'b"c$(touch /tmp/x);d<tag>&é \\n`,
    );
  });

  it("counts wide characters as two columns and cuts by columns", () => {
    expect(visibleWidth("数据")).toBe(4);
    expect(visibleWidth("e\u0301")).toBe(1);
    expect(truncate("数据库服务器", 7)).toBe("数据库…");
    expect(visibleWidth(truncate("数据库服务器", 7))).toBeLessThanOrEqual(7);
    expect(clipLine("\u001b[31mabcdef\u001b[39m", 3)).toBe("\u001b[31mabc\u001b[0m");
  });
});

describe("wantColour", () => {
  it("is on only for a terminal without NO_COLOR (an empty NO_COLOR counts as unset, as no-color.org says)", () => {
    expect(wantColour(true, {})).toBe(true);
    expect(wantColour(false, {})).toBe(false);
    expect(wantColour(true, { NO_COLOR: "1" })).toBe(false);
    expect(wantColour(true, { NO_COLOR: "" })).toBe(true);
  });
});
