/** Small pieces the fleet view's parts share: a table, a host's name, a clickable row. */
import { h } from "../../dom.js";

export function table(head: Array<[string, boolean?]>, rows: HTMLElement[], cls = ""): HTMLElement {
  return h(
    "table",
    { class: `grid-table ${cls}` },
    h("thead", null, h("tr", null, ...head.map(([t, num]) => h("th", num ? { class: "num" } : null, t)))),
    h("tbody", null, ...rows),
  );
}

export const hostText = (name: string): HTMLElement => h("span", { class: "host-ref", title: name }, name);

/** A host's row or bar selects the host on click, Enter or Space. */
export function onActivate(el: HTMLElement, act: () => void): void {
  el.addEventListener("click", act);
  el.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      act();
    }
  });
}
