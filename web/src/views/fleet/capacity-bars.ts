/** The fleet view's "Demand vs capacity now" panel: one bar per host, with the plan's effect as a ghost. */
import { h, replace } from "../../dom.js";
import { demandAfter, type AuditView, type FleetData, type HostNow, type Move } from "../../fleet.js";
import { cores, cpus } from "../../format.js";
import { onActivate } from "./widgets.js";

function legend(): HTMLElement {
  return h(
    "div",
    { class: "hm-legend" },
    h("span", { class: "hm-legend-item" }, h("span", { class: "swatch demand" }), "demand"),
    h("span", { class: "hm-legend-item" }, h("span", { class: "swatch cap" }), "capacity"),
    h("span", { class: "hm-legend-item" }, h("span", { class: "swatch after" }), "after the plan"),
  );
}

export class CapacityBars {
  private readonly bars = h("div", { class: "cap-bars" });
  readonly el = h(
    "section",
    { class: "panel cap-panel" },
    h(
      "div",
      { class: "panel-head" },
      h("h2", null, "Demand vs capacity now"),
      h("span", { class: "spacer" }),
      legend(),
    ),
    this.bars,
  );

  constructor(private readonly onSelect: (host: string) => void) {}

  update(a: AuditView | null, d: FleetData | null, selected: string | null): void {
    const cur = d?.current ?? null;
    if (!cur) {
      const lastPts = (d?.hosts ?? []).filter((x) => x.points.length);
      replace(
        this.bars,
        h(
          "p",
          { class: "muted" },
          lastPts.length
            ? "No current snapshot (the last audit failed). The heatmap shows the last figures."
            : "No snapshot yet.",
        ),
      );
      return;
    }
    const moves: Move[] = a?.status === "ok" && a.audit === cur.audit ? (a.plan?.moves ?? []) : [];
    const after = demandAfter(cur.hosts, cur.vms, moves);
    const scale = Math.max(1, ...cur.hosts.map((x) => Math.max(x.demand, x.capacity, after.get(x.name) ?? 0))) * 1.05;
    const hosts = [...cur.hosts].sort(
      (x, y) => y.demand / Math.max(1, y.capacity) - x.demand / Math.max(1, x.capacity) || x.name.localeCompare(y.name),
    );
    replace(
      this.bars,
      ...hosts.map((x) =>
        this.bar(
          x,
          after.get(x.name) ?? x.demand,
          moves.some((m) => m.from === x.name || m.to === x.name),
          scale,
          selected === x.name,
        ),
      ),
    );
  }

  private bar(x: HostNow, after: number, changes: boolean, scale: number, selected: boolean): HTMLElement {
    const pctOf = (v: number): string => `${Math.min(100, (v / scale) * 100).toFixed(2)}%`;
    const fill = h("span", { class: `bar-fill${x.demand > x.capacity ? " over" : ""}` });
    fill.style.width = pctOf(x.demand);
    const cap = h("span", { class: "bar-cap", title: `capacity ${cpus(x.capacity)} cores` });
    cap.style.left = pctOf(x.capacity);
    const track = h("span", { class: "bar-track" }, fill, cap);
    if (changes) {
      const ghost = h("span", { class: "bar-after", title: `after the plan: ${cores(after)} cores` });
      ghost.style.width = pctOf(after);
      track.appendChild(ghost);
    }
    const el = h(
      "div",
      {
        class: `cap-row${selected ? " selected" : ""}`,
        role: "button",
        tabindex: 0,
        title: x.name,
        data: { host: x.name },
      },
      h(
        "span",
        { class: "cap-name" },
        x.name,
        x.accepts_vms
          ? null
          : h(
              "span",
              { class: "badge", title: "accepts_vms: false — may be emptied, receives nothing" },
              "maintenance",
            ),
      ),
      track,
      h(
        "span",
        { class: "cap-nums" },
        h("b", { class: x.demand > x.capacity ? "over" : "" }, `${cores(x.demand)} / ${cpus(x.capacity)}`),
        " cores",
        changes ? h("span", { class: "muted" }, ` → ${cores(after)}`) : null,
        h("span", { class: "muted" }, ` · waits ${cores(x.contention)}`),
      ),
    );
    onActivate(el, () => this.onSelect(x.name));
    return el;
  }
}
