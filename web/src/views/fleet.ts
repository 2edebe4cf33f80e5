/** Fleet view: a placeholder until the controller exists. No data, and no made-up data. */
import { h } from "../dom.js";
import { code, emptyState, type View } from "./common.js";

export class FleetView implements View {
  readonly el: HTMLElement;

  constructor() {
    this.el = h(
      "div",
      { class: "view fleet-view" },
      h("div", { class: "view-head" }, h("h1", null, "Fleet"), h("span", { class: "badge not-yet" }, "not yet")),
      emptyState(
        "The fleet view is not available yet",
        "It will show every host at once — which hosts are oversubscribed, which VMs wait where, and what moving them would change — when the dashboard is pointed at vsteal's controller or at the Prometheus that scrapes every agent.",
        "The controller does not exist yet, so there is nothing to show here. Until then, open each host's agent (this page shows the host it runs on), or query Prometheus directly:",
        h("span", null, code("sum by (instance) (rate(libvirt_domain_vcpu_delay_seconds_total[5m]))")),
      ),
    );
  }

  update(): void {
    /* nothing live here */
  }

  destroy(): void {
    this.el.remove();
  }
}
