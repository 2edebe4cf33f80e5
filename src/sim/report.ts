/**
 * The simulation report: one self-contained HTML page (inline SVG, no scripts, no CDN) with a
 * summary table and plots of fleet contention, vCPUs above the alert threshold and cumulative
 * migrations over time, one line per policy.
 */
import type { SimResult } from "./simulate.js";

const COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function niceMax(x: number): number {
  if (!(x > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

/** A line chart of several series over the same steps. */
export function lineChart(
  title: string,
  unit: string,
  series: { name: string; values: readonly number[] }[],
  stepS: number,
  step = false,
): string {
  const W = 860;
  const H = 260;
  const L = 60;
  const R = 20;
  const T = 30;
  const B = 40;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const ymax = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const x = (i: number) => L + ((W - L - R) * i) / Math.max(1, n - 1);
  const y = (v: number) => T + (H - T - B) * (1 - v / ymax);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`;
  svg += `<text x="${L}" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`;
  for (let g = 0; g <= 4; g++) {
    const v = (ymax * g) / 4;
    svg += `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`;
    svg += `<text x="${L - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${+v.toPrecision(3)}</text>`;
  }
  const totalH = (n * stepS) / 3600;
  const tickH = totalH > 72 ? 24 : totalH > 24 ? 6 : totalH > 6 ? 1 : 0.25;
  for (let h = 0; h <= totalH + 1e-9; h += tickH) {
    const i = (h * 3600) / stepS;
    svg += `<line x1="${x(i)}" x2="${x(i)}" y1="${H - B}" y2="${H - B + 4}" stroke="#888"/>`;
    svg += `<text x="${x(i)}" y="${H - B + 16}" font-size="11" text-anchor="middle">${+h.toFixed(2)} h</text>`;
  }
  svg += `<text x="14" y="${T + (H - T - B) / 2}" font-size="11" transform="rotate(-90 14 ${T + (H - T - B) / 2})" text-anchor="middle">${esc(unit)}</text>`;
  series.forEach((s, j) => {
    const c = COLOURS[j % COLOURS.length]!;
    let d = "";
    s.values.forEach((v, i) => {
      if (i === 0) d += `M${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      else if (step) d += `H${x(i).toFixed(1)}V${y(v).toFixed(1)}`;
      else d += `L${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    });
    svg += `<path d="${d}" fill="none" stroke="${c}" stroke-width="1.4" opacity="0.85"/>`;
    svg += `<rect x="${W - R - 170}" y="${T + 4 + j * 16}" width="10" height="10" fill="${c}"/><text x="${W - R - 155}" y="${T + 13 + j * 16}" font-size="11">${esc(s.name)}</text>`;
  });
  svg += `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#888"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#888"/>`;
  return `${svg}</svg>`;
}

export interface ReportMeta {
  scenario: string;
  hosts: number;
  vms: number;
  steps: number;
  stepS: number;
  everySteps: number;
  alertThreshold: number;
}

export function renderReport(meta: ReportMeta, results: readonly SimResult[]): string {
  const rows = results
    .map(
      (r) =>
        `<tr><td>${esc(r.policy)}</td><td>${r.stealCoreHours.toFixed(2)}</td><td>${r.migrations}</td>` +
        `<td>${r.migrations > 0 && results.some((b) => b.policy === "none") ? ((results.find((b) => b.policy === "none")!.stealCoreHours - r.stealCoreHours) / r.migrations).toFixed(2) : "–"}</td>` +
        `<td>${r.hoursAboveThreshold.toFixed(1)} (${(r.fractionAboveThreshold * 100).toFixed(1)} %)</td><td>${r.vcpuHoursAboveThreshold.toFixed(1)}</td><td>${r.peakContention.toFixed(2)}</td><td>${r.skippedUndo}</td></tr>`,
    )
    .join("\n");
  const chart = (title: string, unit: string, pick: (r: SimResult) => readonly number[], step = false) =>
    lineChart(
      title,
      unit,
      results.map((r) => ({ name: r.policy, values: pick(r) })),
      meta.stepS,
      step,
    );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vsteal simulation: ${esc(meta.scenario)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:920px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}svg{display:block;margin:1em 0}</style>
</head><body>
<h1>Simulation: ${esc(meta.scenario)}</h1>
<p>${meta.hosts} hosts, ${meta.vms} VMs, ${meta.steps} steps of ${meta.stepS} s (${((meta.steps * meta.stepS) / 3600).toFixed(1)} h); the controller plans every ${meta.everySteps} steps and migrates instantly. Alert threshold: ${(meta.alertThreshold * 100).toFixed(1)} % contention on any vCPU.</p>
<table><thead><tr><th>policy</th><th>steal (core-hours)</th><th>migrations</th><th>steal removed per migration vs none (core-hours)</th><th>time above threshold (h)</th><th>vCPU-hours above threshold</th><th>peak contention (cores)</th><th>moves skipped (undo)</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${chart("Fleet contention (Σ vCPU wait for other load)", "cores", (r) => r.series.contention)}
${chart("vCPUs above the alert threshold", "vCPUs", (r) => r.series.vcpusAbove)}
${chart("Migrations so far", "migrations", (r) => r.series.migrations, true)}
</body></html>
`;
}
