/** The fleet view's panel for the selected host: its facts, its figures over the audits kept, its VMs now. */
import { platformText } from "../../api.js";
import { TimeChart } from "../../chart.js";
import { h, replace, setText } from "../../dom.js";
import type { AuditView, FleetData, Move, VmNow } from "../../fleet.js";
import { cores, cpus, pct } from "../../format.js";
import { cssVar, withAlpha } from "../../theme.js";
import { table } from "./widgets.js";

function vmRow(v: VmNow, m: Move | null): HTMLElement {
  return h(
    "tr",
    { class: v.max_contention >= 0.05 ? "hot" : "", data: { vm: v.name } },
    h(
      "td",
      { class: "name-cell", title: v.name },
      h("span", { class: "vm-name" }, v.name),
      platformText(v.platform) ? h("span", { class: "vm-platform muted" }, ` ${platformText(v.platform)}`) : null,
      v.migratable
        ? null
        : h(
            "span",
            {
              class: "badge",
              title: "migratable: false (its platform has no driver here, or the hosts file says so)",
            },
            "pinned",
          ),
    ),
    h("td", { class: "num" }, String(v.vcpus)),
    h("td", { class: "num" }, `${cores(v.demand)} cores`),
    h("td", { class: "num" }, `${cores(v.contention)} cores`),
    h("td", { class: "num" }, pct(v.max_contention)),
    h("td", { class: "num" }, `${cores(v.throttled)} cores`),
    h("td", { class: "num" }, v.cap === null ? "–" : pct(v.cap)),
    h("td", null, m ? h("span", { class: "badge move" }, `→ ${m.to}`) : ""),
  );
}

export class HostDetail {
  readonly el = h("section", { class: "panel host-detail" });
  private readonly title = h("h2", { class: "host-title" });
  private readonly facts = h("p", { class: "muted small host-facts" });
  private readonly chartBox = h("div");
  private readonly vms = h("div");
  private chart: TimeChart | null = null;
  private vmSig = "";

  constructor() {
    replace(this.el, h("div", { class: "panel-head" }, this.title, this.facts), this.chartBox, this.vms);
    this.el.hidden = true;
  }

  update(a: AuditView | null, d: FleetData | null, name: string | null, win: { from: number; to: number }): void {
    const series = d?.hosts.find((x) => x.name === name) ?? null;
    if (!name || !d || (!series && !d.current?.hosts.some((x) => x.name === name))) {
      this.el.hidden = true;
      return;
    }
    this.el.hidden = false;
    this.el.dataset.host = name;
    setText(this.title, name);
    const now = d.current?.hosts.find((x) => x.name === name) ?? null;
    setText(
      this.facts,
      now
        ? `${now.cpus} CPUs, ${now.reserved_cpus} reserved → capacity ${cpus(now.capacity)} cores · ${now.vms} VMs, ${now.vcpus} vCPUs · demand ${cores(now.demand)} cores, waiting ${cores(now.contention)} for other load, ${cores(now.throttled)} throttled${now.accepts_vms ? "" : " · maintenance: receives no VMs"}`
        : d.current
          ? "Not in the current snapshot."
          : "No current snapshot (the last audit failed): the chart shows the successful audits.",
    );
    // Series over the audits kept.
    if (!this.chart) {
      this.chart = new TimeChart(this.chartBox, {
        height: 180,
        yFormat: (v) => cores(v),
        series: [
          { label: "demand", stroke: cssVar("--demand"), width: 2 },
          { label: "contention", stroke: cssVar("--contention"), fill: withAlpha(cssVar("--contention"), 0.25) },
          { label: "throttled", stroke: cssVar("--throttled"), fill: withAlpha(cssVar("--throttled"), 0.2) },
          { label: "capacity", stroke: cssVar("--capacity"), dash: [6, 4], width: 1 },
        ],
        yAtLeast: 1,
        ariaLabel: "The host's demand, capacity and waiting over the audits kept, in cores",
      });
    }
    const pts = series?.points ?? [];
    this.chart.yAtLeast = Math.max(1, (series?.capacity ?? 0) * 1.1);
    this.chart.setData(
      pts.map((p) => p.t),
      [pts.map((p) => p.demand), pts.map((p) => p.contention), pts.map((p) => p.throttled), pts.map((p) => p.capacity)],
      win.from,
      win.to,
    );
    // Its VMs now.
    const vms = (d.current?.vms ?? [])
      .filter((v) => v.host === name)
      .sort((x, y) => y.contention - x.contention || x.name.localeCompare(y.name));
    const moves = a?.status === "ok" ? (a.plan?.moves ?? []) : [];
    const sig = JSON.stringify([name, d.current?.audit, a?.audit]);
    if (sig === this.vmSig) return;
    this.vmSig = sig;
    const incoming = moves.filter((m) => m.to === name);
    replace(
      this.vms,
      vms.length === 0
        ? h(
            "p",
            { class: "muted" },
            d.current
              ? "No VMs on this host."
              : "No current snapshot: the VMs are shown after the next successful audit.",
          )
        : table(
            [
              ["VM"],
              ["vCPUs", true],
              ["Demand", true],
              ["Waits (other load)", true],
              ["Worst vCPU", true],
              ["Throttled", true],
              ["Cap", true],
              ["Plan"],
            ],
            vms.map((v) => vmRow(v, moves.find((m) => m.vm === v.name) ?? null)),
            "vm-table",
          ),
      incoming.length
        ? h(
            "p",
            { class: "muted small" },
            "The plan moves here: ",
            ...incoming.flatMap((m, i) => [i ? ", " : "", h("span", { class: "vm-name" }, m.vm), ` from ${m.from}`]),
          )
        : null,
    );
  }

  destroy(): void {
    this.chart?.destroy();
  }
}
