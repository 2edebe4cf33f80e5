/**
 * `vsteal top`'s screen, as pure functions: rates and view state in, lines of text out.
 * No I/O, no clock, no terminal: top.ts owns those.
 *
 * Every percentage on a VM row is the mean over the VM's sampled vCPUs (Σ over vCPUs / vCPU
 * count), so 100 % is "all its vCPUs, all the time" and CPU% + STEAL% never exceed 100 %. That
 * is what the guest's own `top` shows as `us+sy` and `st`. A vCPU row shows that vCPU alone.
 */
import type { HostSummary } from "../analysis/host.js";
import { noisyNeighbours } from "../analysis/neighbours.js";
import type { VcpuAverage } from "../analysis/window.js";
import { domainKey } from "../model/domain-key.js";
import { identitySummary } from "../platforms/labels.js";
import type { DomainThreads, RatesSample, VcpuRates } from "../model/types.js";

export type SortKey = "steal" | "contention" | "throttled" | "cpu" | "name";
/** The order `s` cycles through. */
export const SORT_KEYS: readonly SortKey[] = ["steal", "contention", "throttled", "cpu", "name"];

/** The VM that used most CPU where a waiting VM may run. */
export interface TopNeighbour {
  name: string;
  /** Its share of the CPUs the two share (window average), 0..1. */
  share: number;
}

/** One running VM, as one row (and its vCPU rows when expanded). */
export interface VmRow {
  /** Identity of the domain instance (domainKey): survives re-sorting and name changes. */
  key: string;
  name: string;
  /** Who it is on its platform ("web-1 (project shop)"), "" when libvirt alone knows it. */
  identity?: string;
  /** Online vCPUs. */
  vcpuCount: number;
  /** Means over the sampled vCPUs, fractions 0..1; null when no vCPU has a rate yet. */
  usage: number | null;
  steal: number | null;
  contention: number | null;
  throttled: number | null;
  neighbour: TopNeighbour | null;
  vcpus: VcpuRates[];
}

/** What was measured: one refresh's worth of data. */
export interface TopFrame {
  /** Time of the sample, ms since the epoch. */
  wallMs: number;
  /** Host summary of the last interval; null before the first interval is over. */
  host: HostSummary | null;
  vms: readonly VmRow[];
  /** Status or warning lines (sample problems, errors), shown above the table. */
  messages?: readonly string[];
}

/** How it is shown: what the user chose, and the terminal. */
export interface TopView {
  sort: SortKey;
  /** Key of the selected VM (interactive only). */
  selected: string | null;
  expanded: ReadonlySet<string>;
  /** Show every VM's vCPUs (--vcpus). */
  expandAll: boolean;
  help: boolean;
  /** Interactive: a selection marker column and at most `height` lines. */
  interactive: boolean;
  colour: boolean;
  width: number;
  height?: number;
  /** Refresh interval, seconds, for the title line. */
  delayS: number;
}

export function defaultView(over: Partial<TopView> = {}): TopView {
  return {
    sort: "steal",
    selected: null,
    expanded: new Set(),
    expandAll: false,
    help: false,
    interactive: false,
    colour: false,
    width: 80,
    delayS: 2,
    ...over,
  };
}

// ---------------------------------------------------------------- model --

/** A victim's top neighbour is only named when it waits for others at least this much (per vCPU). */
export const NEIGHBOUR_MIN_CONTENTION = 0.01;

function mean(vs: readonly VcpuRates[], f: (v: VcpuRates) => number): number | null {
  if (vs.length === 0) return null;
  let s = 0;
  for (const v of vs) s += f(v);
  return s / vs.length;
}

/**
 * The rows of every running VM in `rates`, unsorted. `averages` (a RateWindow's values) and
 * `discovered` (vCPU affinities) name each waiting VM's noisiest neighbour.
 */
export function vmRows(
  rates: RatesSample,
  averages: readonly VcpuAverage[],
  discovered: readonly DomainThreads[],
  hostCpus: number,
): VmRow[] {
  const rows: VmRow[] = [];
  for (const d of rates.domains) {
    if (d.domain.pid === null) continue;
    const vcpus = [...d.vcpus].sort((a, b) => a.vcpu - b.vcpu);
    let neighbour: TopNeighbour | null = null;
    const nn = noisyNeighbours(d.domain.uuid ?? d.domain.name, averages, discovered, hostCpus, 1);
    const n = nn?.neighbours[0];
    const perVcpu = nn && vcpus.length > 0 ? nn.contention / vcpus.length : 0;
    if (n && perVcpu >= NEIGHBOUR_MIN_CONTENTION && n.cpuOnSharedCpus > 0)
      neighbour = { name: n.domain, share: n.shareOfSharedCpus };
    rows.push({
      key: domainKey(d.domain),
      name: d.domain.name,
      identity: identitySummary(d.domain.platform),
      vcpuCount: d.domain.vcpuCurrent,
      usage: mean(vcpus, (v) => v.usage),
      steal: mean(vcpus, (v) => v.delay),
      contention: mean(vcpus, (v) => v.contention),
      throttled: mean(vcpus, (v) => v.throttled),
      neighbour,
      vcpus,
    });
  }
  return rows;
}

const byName = (a: VmRow, b: VmRow): number => a.name.localeCompare(b.name) || a.key.localeCompare(b.key);

/** Rows in display order: highest first for numbers (rows without data last), A→Z for names. */
export function sortRows(rows: readonly VmRow[], key: SortKey): VmRow[] {
  if (key === "name") return [...rows].sort(byName);
  const f = (r: VmRow): number | null =>
    key === "steal" ? r.steal : key === "contention" ? r.contention : key === "throttled" ? r.throttled : r.usage;
  return [...rows].sort((a, b) => {
    const x = f(a);
    const y = f(b);
    if (x === null || y === null) return x === y ? byName(a, b) : x === null ? 1 : -1;
    return y - x || byName(a, b);
  });
}

// ----------------------------------------------------------------- keys --

export type TopAction = "up" | "down" | "top" | "bottom" | "toggle" | "sort" | "help";

/** The view after a key, given the rows as they are now. Pure; quitting is top.ts's business. */
export function applyAction(view: TopView, action: TopAction, rows: readonly VmRow[]): TopView {
  const sorted = sortRows(rows, view.sort);
  const i = sorted.findIndex((r) => r.key === view.selected);
  const at = (j: number): string | null => sorted[Math.max(0, Math.min(sorted.length - 1, j))]?.key ?? null;
  switch (action) {
    case "up":
      return { ...view, selected: at(i < 0 ? 0 : i - 1) };
    case "down":
      return { ...view, selected: at(i < 0 ? 0 : i + 1) };
    case "top":
      return { ...view, selected: at(0) };
    case "bottom":
      return { ...view, selected: at(sorted.length - 1) };
    case "toggle": {
      const key = i < 0 ? at(0) : view.selected;
      if (key === null) return view;
      const expanded = new Set(view.expanded);
      if (expanded.has(key)) expanded.delete(key);
      else expanded.add(key);
      return { ...view, selected: key, expanded };
    }
    case "sort":
      return { ...view, sort: SORT_KEYS[(SORT_KEYS.indexOf(view.sort) + 1) % SORT_KEYS.length] ?? "steal" };
    case "help":
      return { ...view, help: !view.help };
  }
}

// ----------------------------------------------------------------- text --

/* eslint-disable no-control-regex */
const ANSI = /\u001b\[[0-9;]*m/g;
const ANSI_AT_START = /^\u001b\[[0-9;]*m/;
/* eslint-enable no-control-regex */

import { safeText } from "../util/safe-text.js";

export { safeText };

/** Columns a code point takes in a terminal: 0 for combining and zero-width, 2 for wide. */
function cpWidth(cp: number, ch: string): number {
  if (cp === 0x200b || cp === 0x200c || cp === 0x200d || cp === 0xfeff || /\p{M}/u.test(ch)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd) ||
    /\p{Emoji_Presentation}/u.test(ch)
  )
    return 2;
  return 1;
}

/** Columns `s` takes on a terminal, SGR colour codes not counted. */
export function visibleWidth(s: string): number {
  let w = 0;
  for (const ch of s.replace(ANSI, "")) w += cpWidth(ch.codePointAt(0) ?? 0, ch);
  return w;
}

/** Plain text (no escapes) cut to `width` columns, ending in … when cut. */
export function truncate(s: string, width: number): string {
  if (width <= 0) return "";
  if (visibleWidth(s) <= width) return s;
  let out = "";
  let w = 0;
  for (const ch of s) {
    const cw = cpWidth(ch.codePointAt(0) ?? 0, ch);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

const padEnd = (s: string, width: number): string => s + " ".repeat(Math.max(0, width - visibleWidth(s)));
const padStart = (s: string, width: number): string => " ".repeat(Math.max(0, width - visibleWidth(s))) + s;

/** A line with SGR codes cut to `width` visible columns; colour is reset if it was cut. */
export function clipLine(line: string, width: number): string {
  if (visibleWidth(line) <= width) return line;
  let out = "";
  let w = 0;
  let i = 0;
  while (i < line.length) {
    if (line[i] === "\u001b") {
      const m = ANSI_AT_START.exec(line.slice(i));
      if (m) {
        out += m[0];
        i += m[0].length;
        continue;
      }
    }
    const ch = String.fromCodePoint(line.codePointAt(i) ?? 0x3f);
    const cw = cpWidth(ch.codePointAt(0) ?? 0, ch);
    if (w + cw > width) break;
    out += ch;
    w += cw;
    i += ch.length;
  }
  return out.includes("\u001b") ? `${out}\u001b[0m` : out;
}

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

// --------------------------------------------------------------- colour --

const SGR = {
  bold: ["1", "22"],
  reverse: ["7", "27"],
  yellow: ["33", "39"],
  red: ["31", "39"],
  magenta: ["35", "39"],
} as const;
type Style = keyof typeof SGR;

/** Steal thresholds (fractions): ≥ 5 % yellow, ≥ 20 % red; throttling in magenta. */
export const WARN = 0.05;
export const ALERT = 0.2;

function paint(on: boolean, style: Style | null, text: string): string {
  if (!on || style === null) return text;
  const [a, b] = SGR[style];
  return `\u001b[${a}m${text}\u001b[${b}m`;
}

const stealStyle = (x: number | null): Style | null =>
  x === null ? null : x >= ALERT ? "red" : x >= WARN ? "yellow" : null;
const throttleStyle = (x: number | null): Style | null => (x !== null && x >= WARN ? "magenta" : null);

// ---------------------------------------------------------------- table --

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
