/**
 * `vsteal top`'s view model (pure): the rows of the running VMs from a rates sample, their
 * order, and the view state the keys change. What they look like is top-render.ts.
 *
 * Every percentage on a VM row is the mean over the VM's sampled vCPUs (Σ over vCPUs / vCPU
 * count), so 100 % is "all its vCPUs, all the time" and CPU% + STEAL% never exceed 100 %. That
 * is what the guest's own `top` shows as `us+sy` and `st`. A vCPU row shows that vCPU alone.
 */
import { noisyNeighbours } from "../analysis/neighbours.js";
import type { VcpuAverage } from "../analysis/window.js";
import type { HostSummary } from "../analysis/host.js";
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
