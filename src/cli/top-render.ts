/**
 * `vsteal top`'s screen, as pure functions: a frame (top-view-model.ts) and the view state in,
 * lines of text out — the header, the table's columns and widths, scrolling. No I/O, no clock,
 * no terminal: top.ts owns those; top-ansi.ts measures and colours the text.
 */
import { safeText } from "../util/safe-text.js";
import type { VcpuRates } from "../model/types.js";
import { clipLine, padEnd, padStart, paint, truncate, visibleWidth, type Style } from "./top-ansi.js";
import { sortRows, type TopFrame, type TopNeighbour, type TopView, type VmRow } from "./top-view-model.js";

/** Segments packed greedily into lines of at most `width` columns. */
function pack(segments: readonly string[], width: number, sep = ", "): string[] {
  const lines: string[] = [];
  let cur = "";
  for (const s of segments) {
    if (cur === "") cur = s;
    else if (visibleWidth(cur) + sep.length + visibleWidth(s) <= width) cur += sep + s;
    else {
      lines.push(cur);
      cur = `  ${s}`;
    }
  }
  if (cur !== "") lines.push(cur);
  return lines.map((l) => truncate(l, width));
}

const pct = (x: number | null): string => (x === null ? "-" : (x * 100).toFixed(1));
const num = (x: number): string => x.toFixed(2);

function clock(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** Steal thresholds (fractions): ≥ 5 % yellow, ≥ 20 % red; throttling in magenta. */
export const WARN = 0.05;
export const ALERT = 0.2;

const stealStyle = (x: number | null): Style | null =>
  x === null ? null : x >= ALERT ? "red" : x >= WARN ? "yellow" : null;
const throttleStyle = (x: number | null): Style | null => (x !== null && x >= WARN ? "magenta" : null);

interface Layout {
  marker: number;
  name: number;
  /** 0: no neighbour column. */
  neighbour: number;
}

const NUM_COLUMNS = [
  { title: "VCPU", width: 4, sort: null },
  { title: "CPU%", width: 6, sort: "cpu" },
  { title: "STEAL%", width: 6, sort: "steal" },
  { title: "CONT%", width: 6, sort: "contention" },
  { title: "THR%", width: 6, sort: "throttled" },
] as const;
/** The numeric columns with a space before each. */
const NUM_WIDTH = NUM_COLUMNS.reduce((s, c) => s + 1 + c.width, 0);
const NAME_MIN = 8;
const NEIGHBOUR_TITLE = "NEIGHBOUR";

/** The NAME cell: libvirt's name, then the platform's in brackets. */
const rowName = (r: VmRow): string => (r.identity ? `${safeText(r.name)} [${safeText(r.identity)}]` : safeText(r.name));

const neighbourText = (n: TopNeighbour | null): string =>
  n ? `${safeText(n.name)} ${Math.round(n.share * 100)}%` : "";

const vcpuLabel = (c: VcpuRates): string => `  vcpu ${c.vcpu} tid ${c.tid}`;
/** The longest form of a vCPU row's label that fits `width`: the tid is kept as long as it can be. */
function fitVcpuLabel(c: VcpuRates, width: number): string {
  const forms = [vcpuLabel(c), `  ${c.vcpu} tid ${c.tid}`, ` ${c.vcpu} ${c.tid}`, `  vcpu ${c.vcpu}`, ` ${c.vcpu}`];
  return forms.find((f) => f.length <= width) ?? ` ${c.vcpu}`;
}
const isExpanded = (r: VmRow, view: TopView): boolean => view.expandAll || view.expanded.has(r.key);

function layout(rows: readonly VmRow[], view: TopView): Layout {
  const marker = view.interactive ? 2 : 0;
  const avail = view.width - marker - NUM_WIDTH;
  let vmName = 4;
  let label = 0;
  for (const r of rows) {
    vmName = Math.max(vmName, visibleWidth(rowName(r)));
    if (isExpanded(r, view)) for (const c of r.vcpus) label = Math.max(label, vcpuLabel(c).length);
  }
  const nameWant = Math.max(vmName, label);
  const nbWant = Math.max(NEIGHBOUR_TITLE.length, ...rows.map((r) => visibleWidth(neighbourText(r.neighbour))));
  if (nameWant + 1 + nbWant <= avail) return { marker, name: nameWant, neighbour: nbWant };
  // vCPU labels (with the tid) are never cut while there is room: the neighbour goes first.
  const nameMin = Math.max(NAME_MIN, label);
  if (avail < nameMin + 1 + NEIGHBOUR_TITLE.length) return { marker, name: Math.max(1, avail), neighbour: 0 };
  // Too narrow for both: the name gets what it wants up to 60 %, the neighbour the rest.
  const name = Math.max(nameMin, Math.min(nameWant, avail - 1 - NEIGHBOUR_TITLE.length, Math.floor(avail * 0.6)));
  return { marker, name, neighbour: avail - 1 - name };
}

interface Cells {
  name: string;
  vcpus: string;
  usage: number | null;
  steal: number | null;
  contention: number | null;
  throttled: number | null;
  neighbour: string;
}

function tableLine(c: Cells, l: Layout, view: TopView, marker: string, bold: boolean): string {
  const on = view.colour;
  let line = l.marker > 0 ? padEnd(marker, l.marker) : "";
  line += padEnd(truncate(c.name, l.name), l.name);
  line += ` ${padStart(c.vcpus, 4)}`;
  line += ` ${padStart(pct(c.usage), 6)}`;
  line += ` ${paint(on, stealStyle(c.steal), padStart(pct(c.steal), 6))}`;
  line += ` ${paint(on, stealStyle(c.contention), padStart(pct(c.contention), 6))}`;
  line += ` ${paint(on, throttleStyle(c.throttled), padStart(pct(c.throttled), 6))}`;
  if (l.neighbour > 0 && c.neighbour !== "") line += ` ${truncate(c.neighbour, l.neighbour)}`;
  return paint(on && bold, "bold", line);
}

function headerLine(l: Layout, view: TopView): string {
  const on = view.colour;
  let line = " ".repeat(l.marker) + padEnd("NAME", l.name);
  for (const c of NUM_COLUMNS) line += ` ${paint(on && c.sort === view.sort, "bold", padStart(c.title, c.width))}`;
  if (l.neighbour > 0) line += ` ${NEIGHBOUR_TITLE}`;
  // Reverse video across the whole width, as top does; plain text gets no trailing blanks.
  return on ? paint(true, "reverse", line + " ".repeat(Math.max(0, view.width - visibleWidth(line)))) : line;
}

const HELP = [
  "q quit",
  "Up/Down j/k select",
  "Enter/e show vCPUs",
  "s sort",
  "? help",
  "% = mean of the VM's vCPUs",
  "STEAL = CONT (waited for other load) + THR (own CPU cap)",
  "NEIGHBOUR = most CPU where it waits, 60 s",
];

/**
 * The screen as lines, none wider than `view.width` columns (SGR codes only when
 * `view.colour`; nothing else from a VM name ever reaches the terminal). In interactive mode
 * it is at most `view.height` lines, scrolled to keep the selected VM visible.
 */
export function renderTop(frame: TopFrame, view: TopView): string[] {
  const width = Math.max(1, view.width);
  const v = { ...view, width };
  const head: string[] = [];
  head.push(
    ...pack(
      [
        `vsteal top - ${clock(frame.wallMs)}`,
        `every ${v.delayS} s`,
        `sort: ${v.sort}`,
        ...(v.interactive && !v.help ? ["? help"] : []),
      ],
      width,
    ),
  );
  const h = frame.host;
  if (!h) head.push(...pack(["Host: sampling…"], width));
  else {
    head.push(
      ...pack(
        [
          `Host: ${h.cpus} CPUs`,
          `${h.runningDomains} VMs running`,
          `${h.vcpusAllocated} vCPUs (${h.oversubscription.toFixed(2)}:1)`,
          `demand ${num(h.demand)} of ${h.capacity} cores (${Math.round(h.demandRatio * 100)}%)`,
        ],
        width,
      ),
    );
    const stealSeg = `Steal: ${num(h.steal)} cores`;
    head.push(
      ...pack(
        [
          stealSeg,
          `contention ${num(h.contention)}`,
          `throttled ${num(h.throttled)}`,
          `p99 vCPU steal ${pct(h.stealPercentiles.p99)}%`,
        ],
        width,
      ).map((line, i) => {
        if (i !== 0 || !v.colour) return line;
        const style = stealStyle(h.stealPercentiles.p99);
        return line.startsWith(stealSeg) ? paint(true, style, stealSeg) + line.slice(stealSeg.length) : line;
      }),
    );
  }
  if (v.help) head.push(...pack(HELP, width, "  "));
  for (const m of frame.messages ?? []) head.push(truncate(safeText(m), width));
  head.push("");

  const rows = sortRows(frame.vms, v.sort);
  const l = layout(rows, v);
  head.push(headerLine(l, v));

  const body: string[] = [];
  let selectedAt = -1;
  for (const r of rows) {
    const sel = v.interactive && r.key === v.selected;
    if (sel) selectedAt = body.length;
    body.push(
      tableLine(
        {
          name: rowName(r),
          vcpus: String(r.vcpuCount),
          usage: r.usage,
          steal: r.steal,
          contention: r.contention,
          throttled: r.throttled,
          neighbour: neighbourText(r.neighbour),
        },
        l,
        v,
        sel ? ">" : "",
        sel,
      ),
    );
    if (isExpanded(r, v)) {
      for (const c of r.vcpus) {
        body.push(
          tableLine(
            {
              name: fitVcpuLabel(c, l.name),
              vcpus: "",
              usage: c.usage,
              steal: c.delay,
              contention: c.contention,
              throttled: c.throttled,
              neighbour: "",
            },
            l,
            v,
            "",
            false,
          ),
        );
      }
    }
  }
  if (rows.length === 0) body.push(frame.host ? "  no running VMs" : "");

  let lines: string[];
  if (v.interactive && v.height !== undefined) {
    const room = Math.max(0, v.height - head.length);
    const start = selectedAt >= room ? selectedAt - room + 1 : 0;
    lines = [...head, ...body.slice(start, start + room)].slice(0, Math.max(0, v.height));
  } else lines = [...head, ...body];
  return lines.map((line) => clipLine(line, width));
}
