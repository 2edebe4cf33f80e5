/** Host view: demand against capacity, steal now and over time, the VMs that wait most and why. */
import { platformText, type DomainNow, type NoisyNeighbours } from "../api.js";
import { TimeChart } from "../chart.js";
import { h, replace, setText, syncKeyed } from "../dom.js";
import { clock, cores, cpus, duration, pct } from "../format.js";
import { combine, domainKey, waitingSince } from "../series.js";
import { cssVar, withAlpha } from "../theme.js";
import {
  activeAlertsTable,
  card,
  code,
  emptyState,
  panel,
  timeWindow,
  updateHistoryNote,
  vmLink,
  type View,
  type ViewContext,
} from "./common.js";

const TOP = 10;

export class HostView implements View {
  readonly el: HTMLElement;
  private readonly note = h("p", { class: "history-note" });
  private readonly empty = h("div");
  private readonly cards = {
    demand: card(
      "Demand / capacity",
      "What the vCPUs would run if nothing held them back (usage + contention), against the host CPUs VMs can use",
    ),
    alloc: card(
      "vCPUs allocated",
      "Online vCPUs of running VMs against the host CPUs VMs can use (oversubscription on paper)",
    ),
    contention: card("Contention steal", "Time vCPUs waited because of other load on the host (migration helps)"),
    throttled: card("Throttled steal", "Time vCPUs waited because of their own CPU cap (migration does not help)"),
    worst: card("Worst vCPU steal", "Per-vCPU steal now: 90th percentile and maximum"),
    vms: card("Running VMs", "VMs this agent samples"),
  };
  private readonly demandChart: TimeChart;
  private readonly stealChart: TimeChart;
  private readonly waitBody = h("tbody");
  private readonly waitRows = new Map<string, HTMLTableRowElement>();
  private readonly waitTable: HTMLElement;
  private readonly waitEmpty = h("p", { class: "muted" });
  private readonly alertsBox = h("div");
  private lastAlertsSig = "";
  private readonly capacityLine = { value: 0, label: "capacity", stroke: cssVar("--capacity"), dash: [6, 4] };
  /** The stacked chart draws sums; its legend shows these. */
  private stealRaw: { contention: number[]; throttled: number[] } = { contention: [], throttled: [] };

  constructor(private readonly ctx: ViewContext) {
    const cardsRow = h("div", { class: "cards" }, ...Object.values(this.cards).map((c) => c.el));
    const demandPanel = panel("Demand vs capacity (cores)", "chart-panel");
    const stealPanel = panel("Steal: contention and throttled (cores)", "chart-panel");
    this.waitTable = h(
      "table",
      { class: "grid-table wait-table" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", null, "VM"),
          h("th", { class: "num" }, "vCPUs"),
          h("th", { class: "num", title: "Average over the VM's vCPUs" }, "Steal"),
          h("th", { class: "num" }, "Contention"),
          h("th", { class: "num" }, "Throttled"),
          h("th", { class: "num" }, "Usage"),
          h("th", null, "Waiting since"),
          h("th", null, "Noisy neighbours (cores on its CPUs)"),
        ),
      ),
      this.waitBody,
    );
    this.el = h(
      "div",
      { class: "view host-view" },
      h("div", { class: "view-head" }, h("h1", null, "Host"), this.note),
      this.empty,
      cardsRow,
      h("div", { class: "two-col" }, demandPanel, stealPanel),
      panel("VMs that wait most", "wait-panel", this.waitTable, this.waitEmpty),
      panel("Active alerts", "alerts-panel", this.alertsBox),
    );
    const c = {
      usage: cssVar("--usage"),
      demand: cssVar("--demand"),
      capacity: cssVar("--capacity"),
      contention: cssVar("--contention"),
      throttled: cssVar("--throttled"),
    };
    this.demandChart = new TimeChart(demandPanel, {
      height: 220,
      yFormat: cores,
      yAtLeast: 1,
      syncKey: "host",
      ariaLabel: "Demand, usage and capacity of the host in cores over time",
      series: [
        { label: "demand", stroke: c.demand, width: 2, fill: withAlpha(c.demand, 0.12) },
        { label: "usage", stroke: c.usage },
      ],
      hlines: [this.capacityLine],
    });
    this.stealChart = new TimeChart(stealPanel, {
      height: 220,
      yFormat: cores,
      yAtLeast: 0.1,
      syncKey: "host",
      ariaLabel: "Contention and throttled steal of all vCPUs in cores over time, stacked",
      series: [
        {
          label: "contention",
          stroke: c.contention,
          fill: withAlpha(c.contention, 0.55),
          legend: (i) => cores(this.stealRaw.contention[i] ?? NaN),
        },
        { label: "throttled", stroke: c.throttled, legend: (i) => cores(this.stealRaw.throttled[i] ?? NaN) },
      ],
      bands: [{ series: [2, 1], fill: withAlpha(c.throttled, 0.55) }],
    });
    this.update();
  }

  update(): void {
    const { app } = this.ctx;
    updateHistoryNote(this.note, app);
    const host = app.snap.host;
    const health = app.snap.health;
    const domains = app.snap.domains?.domains ?? [];

    // Empty states: what to do when there is nothing to show.
    if (app.snap.lastOkMs === null) {
      replace(
        this.empty,
        emptyState("Waiting for the agent…", "The first figures arrive after the agent's second sweep."),
      );
    } else if (health && health.status === "starting") {
      replace(
        this.empty,
        emptyState(
          "The agent is starting",
          "Rates need two sweeps: the first figures come within one sampling interval.",
        ),
      );
    } else if (domains.length === 0) {
      replace(
        this.empty,
        emptyState(
          "No running VMs found on this host",
          ["vsteal samples the vCPU threads of running VMs (source: ", health?.source ?? "unknown", ")."].join(""),
          h(
            "span",
            null,
            "Start one (",
            code("virsh start NAME"),
            "), or check that the agent looks where your VMs are: ",
            code("--source libvirt|qemu"),
            ", ",
            code("--connect URI"),
            ".",
          ),
        ),
      );
    } else replace(this.empty);

    if (host) {
      setText(this.cards.demand.value, `${cores(host.demand)} / ${cores(host.capacity)}`);
      setText(
        this.cards.demand.detail,
        host.demand_ratio > 1 ? `${pct(host.demand_ratio)}: oversubscribed` : `${pct(host.demand_ratio)} of capacity`,
      );
      this.cards.demand.el.classList.toggle("hot", host.demand_ratio > 1);
      setText(this.cards.alloc.value, `${host.vcpus_allocated} / ${cpus(host.capacity)}`);
      setText(
        this.cards.alloc.detail,
        `${host.oversubscription.toFixed(2)}× · ${host.cpus} CPUs${host.reserved_cpus ? ` (${host.reserved_cpus} reserved)` : ""}`,
      );
      setText(this.cards.contention.value, `${cores(host.contention)} cores`);
      setText(this.cards.contention.detail, "waiting for other load");
      this.cards.contention.el.classList.toggle("hot", host.contention >= 0.05);
      setText(this.cards.throttled.value, `${cores(host.throttled)} cores`);
      setText(this.cards.throttled.detail, "waiting on own CPU caps");
      setText(this.cards.worst.value, pct(host.steal_percentiles.max));
      setText(
        this.cards.worst.detail,
        `p90 ${pct(host.steal_percentiles.p90)} · p50 ${pct(host.steal_percentiles.p50)}`,
      );
      setText(this.cards.vms.value, String(host.running_domains));
      setText(this.cards.vms.detail, `${health?.vcpus ?? host.vcpus_sampled} vCPUs`);
    }

    // Charts: history, then live.
    const { from, to } = timeWindow(app);
    const hist = app.history.kind === "ok" ? app.history.data.host : undefined;
    const pts = combine(hist, app.live.host, from, to);
    const capacity = host?.capacity ?? 0;
    const x = pts.map((p) => p.t);
    this.capacityLine.value = capacity;
    this.capacityLine.label = `capacity ${cores(capacity)}`;
    this.demandChart.yAtLeast = capacity * 1.15;
    this.demandChart.setData(x, [pts.map((p) => p.demand), pts.map((p) => p.usage)], from, to);
    this.stealRaw = { contention: pts.map((p) => p.contention), throttled: pts.map((p) => p.throttled) };
    this.stealChart.setData(x, [this.stealRaw.contention, pts.map((p) => p.contention + p.throttled)], from, to);

    this.updateWaiters(domains, from, to);
    this.updateAlerts();
  }

  private updateWaiters(domains: readonly DomainNow[], from: number, to: number): void {
    const { app } = this.ctx;
    const victims = new Map<string, NoisyNeighbours>();
    for (const v of app.snap.victims?.victims ?? []) victims.set(domainKey(v), v);
    const top = [...domains].sort((a, b) => b.steal - a.steal || a.domain.localeCompare(b.domain)).slice(0, TOP);
    const hist = app.history.kind === "ok" ? app.history.data.domains : undefined;
    setText(
      this.waitEmpty,
      domains.length === 0
        ? "No VMs."
        : domains.length > TOP
          ? `The ${TOP} of ${domains.length} VMs with the most steal now.`
          : "",
    );
    this.waitTable.hidden = top.length === 0;
    syncKeyed(
      this.waitBody,
      top,
      (d) => domainKey(d),
      (d) => {
        const tr = h("tr", { data: { domain: d.domain } });
        tr.append(
          h("td", { class: "name-cell" }, vmLink(d.domain), h("span", { class: "vm-platform muted" })),
          ...Array.from({ length: 7 }, (_, i) => h("td", { class: i < 5 ? "num" : "" })),
        );
        return tr;
      },
      (tr, d) => {
        const cells = tr.cells;
        const link = cells[0]?.firstElementChild;
        if (link && link.textContent !== d.domain)
          replace(cells[0] as HTMLElement, vmLink(d.domain), h("span", { class: "vm-platform muted" }));
        // Who it is on its platform, beside libvirt's name.
        const who = platformText(d.platform);
        const whoEl = cells[0]?.querySelector(".vm-platform");
        if (whoEl) setText(whoEl, who ? ` ${who}` : "");
        setText(cells[1] as Node, `${d.vcpu_current}`);
        setText(cells[2] as Node, pct(d.steal));
        setText(cells[3] as Node, pct(d.contention));
        setText(cells[4] as Node, pct(d.throttled));
        setText(cells[5] as Node, pct(d.usage));
        tr.classList.toggle("hot", d.contention >= 0.05);
        const key = domainKey(d);
        const series = combine(hist?.get(key)?.agg, app.live.domains.get(key)?.agg, from, to);
        const since = waitingSince(series);
        setText(
          cells[6] as Node,
          since ? `${since.sinceStart ? "≥ " : ""}${duration(to - since.since)} (${clock(since.since, false)})` : "—",
        );
        const v = victims.get(key);
        const nCell = cells[7] as HTMLElement;
        const sig = v ? v.neighbours.map((n) => `${n.domain}:${cores(n.cpu_on_shared_cpus)}`).join("|") : "";
        if (nCell.dataset.sig !== sig) {
          nCell.dataset.sig = sig;
          replace(
            nCell,
            ...(v && v.neighbours.length
              ? v.neighbours
                  .slice(0, 3)
                  .flatMap((n, i) => [i ? ", " : "", vmLink(n.domain), ` ${cores(n.cpu_on_shared_cpus)}`])
              : [d.contention >= 0.01 ? "none seen (host load?)" : "—"]),
          );
        }
      },
      this.waitRows,
    );
  }

  private updateAlerts(): void {
    const a = this.ctx.app.snap.alerts;
    const sig = JSON.stringify(a?.active.map((x) => [x.rule, x.subject, x.state, x.value.toPrecision(2)]) ?? null);
    if (sig === this.lastAlertsSig) return;
    this.lastAlertsSig = sig;
    replace(
      this.alertsBox,
      a ? activeAlertsTable(a.active, "No active alerts.") : h("p", { class: "muted" }, "Alerts not loaded yet."),
    );
  }

  destroy(): void {
    this.demandChart.destroy();
    this.stealChart.destroy();
    this.el.remove();
  }
}
