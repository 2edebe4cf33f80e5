/** Pieces more than one view uses. */
import type { ActiveAlert, AlertEvent, AlertSubject } from "../api.js";
import { h, replace, type Child } from "../dom.js";
import { clock, dateTime, duration, num3 } from "../format.js";
import { rangeMs, type AppState } from "../state.js";
import type { Theme } from "../theme.js";

export interface ViewContext {
  app: AppState;
  theme: Theme;
  navigate(hash: string): void;
}

export interface View {
  readonly el: HTMLElement;
  /** Called after every poll and every change of range. */
  update(): void;
  destroy(): void;
}

export const vmHash = (name: string): string => `#/vm/${encodeURIComponent(name)}`;

/** A VM's name as a link to its view: the name is text, whatever characters it has. */
export function vmLink(name: string): HTMLAnchorElement {
  return h("a", { href: vmHash(name), class: "vm-link", title: name }, name);
}

export function panel(title: string, cls: string, ...children: Child[]): HTMLElement {
  return h("section", { class: `panel ${cls}` }, h("h2", null, title), ...children);
}

/** An empty or error state: what happened and what to do about it. */
export function emptyState(title: string, ...lines: Child[]): HTMLElement {
  return h(
    "div",
    { class: "empty", role: "status" },
    h("p", { class: "empty-title" }, title),
    ...lines.map((l) => h("p", null, l)),
  );
}

export function code(s: string): HTMLElement {
  return h("code", null, s);
}

/** The window a view shows: the chosen range, ending now. */
export function timeWindow(app: AppState): { from: number; to: number } {
  const to = app.snap.domains?.time ?? Date.now();
  return { from: to - rangeMs(app.range), to };
}

/** Where the figures come from: the agent's history, or only what this page collected. */
export function updateHistoryNote(el: HTMLElement, app: AppState): void {
  const h0 = app.history;
  const first = app.live.firstMs;
  const collected = first === null ? "" : ` since ${clock(first)} (${duration(Date.now() - first)})`;
  el.className = "history-note";
  if (h0.kind === "ok") {
    replace(el, `History from the agent (${duration(h0.data.stepS * 1000)} resolution), then live.`);
  } else if (h0.kind === "loading") {
    replace(el, "Loading history…");
  } else {
    el.className = "history-note unavailable";
    const why = h0.kind === "disabled" ? h0.message : `the history request failed: ${h0.message}`;
    replace(
      el,
      h("strong", null, "History not available"),
      ` (${why}). Showing the live samples this page collected${collected}; they are lost on reload. `,
      h0.kind === "disabled" ? "Enable history on the agent to see the past." : "",
    );
  }
}

export function subjectText(s: AlertSubject): string {
  if (s.domain === undefined && s.uuid === undefined) return "host";
  const who = s.domain ?? s.uuid ?? "";
  return s.vcpu === undefined ? who : `${who} vCPU ${s.vcpu}`;
}

/** The subject of an alert; `ofVm`: the table is about one VM, so only the vCPU is said. */
export function subjectCell(s: AlertSubject, ofVm = false): HTMLElement {
  const td = h("td");
  if (ofVm) td.textContent = s.vcpu === undefined ? "the VM" : `vCPU ${s.vcpu}`;
  else if (s.domain !== undefined) {
    td.appendChild(vmLink(s.domain));
    if (s.vcpu !== undefined) td.appendChild(document.createTextNode(` vCPU ${s.vcpu}`));
  } else td.textContent = subjectText(s);
  return td;
}

export function activeAlertsTable(alerts: readonly ActiveAlert[], emptyText: string, ofVm = false): HTMLElement {
  if (alerts.length === 0) return h("p", { class: "muted" }, emptyText);
  return h(
    "table",
    { class: "grid-table" },
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        h("th", null, "Severity"),
        h("th", null, "Rule"),
        h("th", null, "Subject"),
        h("th", null, "State"),
        h("th", { class: "num" }, "Value"),
        h("th", { class: "num" }, "Threshold"),
        h("th", null, "Since"),
      ),
    ),
    h(
      "tbody",
      null,
      ...alerts.map((a) =>
        h(
          "tr",
          { class: `sev-${a.severity}` },
          h("td", null, h("span", { class: `badge sev-${a.severity}` }, a.severity)),
          h("td", { title: a.annotations.summary ?? "" }, a.rule),
          subjectCell(a.subject, ofVm),
          h("td", null, a.state),
          h("td", { class: "num" }, num3(a.value)),
          h("td", { class: "num" }, num3(a.threshold)),
          h(
            "td",
            null,
            `${dateTime(a.fired_at_ms ?? a.active_since_ms)} (${duration(Date.now() - a.active_since_ms)})`,
          ),
        ),
      ),
    ),
  );
}

export function alertEventsTable(events: readonly AlertEvent[], emptyText: string, ofVm = false): HTMLElement {
  if (events.length === 0) return h("p", { class: "muted" }, emptyText);
  return h(
    "table",
    { class: "grid-table" },
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        h("th", null, "When"),
        h("th", null, "Rule"),
        h("th", null, "Subject"),
        h("th", null, "Event"),
        h("th", { class: "num" }, "Value"),
        h("th", { class: "num" }, "Threshold"),
      ),
    ),
    h(
      "tbody",
      null,
      ...[...events]
        .reverse()
        .map((e) =>
          h(
            "tr",
            null,
            h("td", null, dateTime(e.at_ms)),
            h("td", { title: e.annotations.summary ?? "" }, e.rule),
            subjectCell(e.subject, ofVm),
            h(
              "td",
              null,
              h(
                "span",
                { class: `badge ev-${e.state}` },
                e.state === "resolved" && e.reason ? `resolved (${e.reason})` : e.state,
              ),
            ),
            h("td", { class: "num" }, num3(e.value)),
            h("td", { class: "num" }, num3(e.threshold)),
          ),
        ),
    ),
  );
}

/** A figure card: a label, a value and a line of detail; `hint` (a tooltip) shows "–" until a value comes. */
export interface Card {
  el: HTMLElement;
  value: HTMLElement;
  detail: HTMLElement;
}

export function card(label: string, hint?: string): Card {
  const value = h("div", { class: "card-value" }, hint === undefined ? "" : "–");
  const detail = h("div", { class: "card-detail" }, "");
  const el = h(
    "div",
    hint === undefined ? { class: "card" } : { class: "card", title: hint },
    h("div", { class: "card-label" }, label),
    value,
    detail,
  );
  return { el, value, detail };
}
