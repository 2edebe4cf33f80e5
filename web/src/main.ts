/** The vsteal dashboard: one page, hash routes (#/host, #/heatmap, #/vm/NAME, #/fleet), live polling. */
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { h, replace, setText } from "./dom.js";
import { clock, duration } from "./format.js";
import { AppState, isRangeKey, RANGES, type RangeKey } from "./state.js";
import { Theme } from "./theme.js";
import { code, type View, type ViewContext } from "./views/common.js";
import { FleetView } from "./views/fleet.js";
import { HeatmapView } from "./views/heatmap.js";
import { HostView } from "./views/host.js";
import { VmView } from "./views/vm.js";

type Route = { name: "host" } | { name: "heatmap" } | { name: "vm"; vm: string } | { name: "fleet" };

function parseRoute(hash: string): Route {
  const m = /^#\/([a-z]+)(?:\/(.*))?$/.exec(hash);
  switch (m?.[1]) {
    case "heatmap":
      return { name: "heatmap" };
    case "fleet":
      return { name: "fleet" };
    case "vm": {
      let vm = m[2] ?? "";
      try {
        vm = decodeURIComponent(vm);
      } catch {
        /* a malformed escape: keep it as typed */
      }
      return vm ? { name: "vm", vm } : { name: "heatmap" };
    }
    default:
      return { name: "host" };
  }
}

const RANGE_KEY = "vsteal.range";
function storedRange(): RangeKey {
  try {
    const r = localStorage.getItem(RANGE_KEY);
    return isRangeKey(r) ? r : "15m";
  } catch {
    return "15m";
  }
}

function start(): void {
  const root = document.getElementById("app");
  if (!root) return;
  const theme = new Theme();
  const app = new AppState(storedRange());
  const ctx: ViewContext = {
    app,
    theme,
    navigate: (hash) => {
      if (location.hash !== hash) location.hash = hash;
    },
  };

  // Header: where we are, what to look at, which range, live or not, light or dark.
  const navLinks = {
    host: h("a", { href: "#/host" }, "Host"),
    heatmap: h("a", { href: "#/heatmap" }, "Heatmap"),
    vm: h("a", { href: "#/heatmap", class: "nav-vm" }, "VM"),
    fleet: h(
      "a",
      { href: "#/fleet", title: "Every host: hosts × time, demand against capacity, the controller's plan" },
      "Fleet",
    ),
  };
  // Until /api/v1/health says who serves the page, no view links: an agent has Host, Heatmap
  // and VM; the fleet controller has Fleet.
  for (const a of Object.values(navLinks)) a.hidden = true;
  const rangeButtons: HTMLButtonElement[] = RANGES.map((r) =>
    h(
      "button",
      {
        type: "button",
        class: "btn seg",
        "aria-pressed": r.key === app.range ? "true" : "false",
        data: { range: r.key },
        onclick: () => selectRange(r.key),
      },
      r.label,
    ),
  );
  const live = h("span", { class: "live", "aria-live": "off" });
  const themeBtn = h("button", { type: "button", class: "btn theme-toggle", onclick: () => theme.toggle() });
  const brand = h("a", { href: "#/host", class: "brand" }, "vsteal");
  const hostName = h("span", { class: "host-name", title: "The server this page is served by" }, location.host);
  const rangeGroup = h("div", { class: "range", role: "group", "aria-label": "Time range" }, ...rangeButtons);
  const header = h(
    "header",
    { class: "topbar" },
    brand,
    hostName,
    h("nav", { class: "nav", "aria-label": "Views" }, navLinks.host, navLinks.heatmap, navLinks.vm, navLinks.fleet),
    h("span", { class: "spacer" }),
    rangeGroup,
    live,
    themeBtn,
  );
  const banners = h("div", { class: "banners", "aria-live": "polite" });
  const main = h("main", { id: "view" });
  replace(root, header, banners, main);

  function selectRange(k: RangeKey): void {
    try {
      localStorage.setItem(RANGE_KEY, k);
    } catch {
      /* fine */
    }
    for (const b of rangeButtons) b.setAttribute("aria-pressed", b.dataset.range === k ? "true" : "false");
    app.setRange(k);
  }

  function updateThemeButton(): void {
    const next = theme.dark ? "light" : "dark";
    setText(themeBtn, theme.dark ? "☀ Light" : "☾ Dark");
    themeBtn.title = `Switch to the ${next} theme (now: ${theme.mode === "auto" ? "following the system" : theme.mode})`;
    themeBtn.setAttribute("aria-label", themeBtn.title);
  }

  // Views.
  let view: View | null = null;
  let route: Route = parseRoute(location.hash);
  let roleShown: string | null = null;
  /** Once the role is known: the links that make sense, and the controller opens on its fleet view. */
  function applyRole(): boolean {
    const role = app.role;
    if (role === null || role === roleShown) return false;
    roleShown = role;
    const controller = role === "controller";
    navLinks.host.hidden = controller;
    navLinks.heatmap.hidden = controller;
    navLinks.fleet.hidden = !controller;
    rangeGroup.hidden = controller;
    hostName.title = `The ${role} this page is served by`;
    brand.setAttribute("href", controller ? "#/fleet" : "#/host");
    if (controller && parseRoute(location.hash).name !== "fleet") {
      history.replaceState(null, "", "#/fleet");
    }
    mount();
    return true;
  }

  function mount(): void {
    view?.destroy();
    route = parseRoute(location.hash);
    if (app.role === "controller" && route.name !== "fleet") route = { name: "fleet" };
    view =
      route.name === "heatmap"
        ? new HeatmapView(ctx)
        : route.name === "vm"
          ? new VmView(ctx, route.vm)
          : route.name === "fleet"
            ? new FleetView(ctx)
            : new HostView(ctx);
    replace(main, view.el);
    // Charts size to their box: update once more when it is laid out.
    requestAnimationFrame(() => view?.update());
    for (const [k, a] of Object.entries(navLinks)) {
      const current = k === route.name;
      if (current) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    navLinks.vm.hidden = route.name !== "vm" || app.role === "controller";
    if (route.name === "vm") {
      setText(navLinks.vm, `VM: ${route.vm}`);
      navLinks.vm.setAttribute("href", location.hash);
    }
    document.title = `vsteal · ${route.name === "vm" ? route.vm : route.name} · ${location.host}`;
  }

  // Banners: the agent down, answering errors, libvirt unreachable, starting. Rebuilt only when
  // their content changes (a countdown ticks in place), so "Retry now" stays clickable.
  const countdown = h("span", { class: "countdown" });
  function updateBanners(): void {
    const c = app.conn;
    const last = app.snap.lastOkMs;
    const d = app.discovery;
    const starting =
      c.kind === "ok" &&
      (app.role === "controller" ? app.fleet.health?.status === "starting" : app.snap.health?.status === "starting");
    const Server = app.serverName.charAt(0).toUpperCase() + app.serverName.slice(1);
    if (c.kind === "down" || c.kind === "error")
      setText(countdown, `${Math.max(0, Math.ceil((c.retryAtMs - Date.now()) / 1000))} s`);
    const sig = JSON.stringify([c, last, c.kind === "ok" ? d?.message : null, starting]);
    if (banners.dataset.sig === sig) return;
    banners.dataset.sig = sig;
    const items: HTMLElement[] = [];
    const stale = last ? ` The figures shown are from ${clock(last)}.` : "";
    if (c.kind === "down" || c.kind === "error") {
      const retry = h("button", { type: "button", class: "btn small", onclick: () => app.retryNow() }, "Retry now");
      items.push(
        c.kind === "down"
          ? h(
              "div",
              { class: "banner error", role: "alert", data: { state: "unreachable" } },
              h("strong", null, `${Server} not reachable, retrying`),
              " in ",
              countdown,
              ` (attempt ${c.failures}).${stale} If it is restarting, this page carries on by itself; otherwise check that `,
              code(app.role === "controller" ? "vsteal controller" : "vsteal agent"),
              " is running. ",
              retry,
            )
          : h(
              "div",
              { class: "banner error", role: "alert", data: { state: "http-error" } },
              h("strong", null, `The ${app.serverName} answered ${c.status}`),
              `: ${c.message}. Retrying in `,
              countdown,
              `.${stale} `,
              retry,
            ),
      );
    }
    if (d && c.kind === "ok") {
      items.push(
        h(
          "div",
          { class: "banner warn", role: "alert", data: { state: "discovery" } },
          h("strong", null, "libvirt unreachable"),
          d.sinceMs ? ` (since ${clock(d.sinceMs)})` : "",
          ": ",
          d.message,
          ". VMs already known are still sampled, new ones are not seen. Check ",
          code("systemctl status libvirtd"),
          " and the agent's ",
          code("--connect"),
          ", or run it with ",
          code("--source qemu"),
          ".",
        ),
      );
    }
    if (c.kind === "connecting") items.push(h("div", { class: "banner info", role: "status" }, "Connecting…"));
    if (starting)
      items.push(
        h(
          "div",
          { class: "banner info", role: "status" },
          app.role === "controller"
            ? "The controller is starting: the fleet appears after its first audit."
            : "The agent is starting: the first rates come after its second sweep.",
        ),
      );
    replace(banners, ...items);
  }

  function updateLive(): void {
    const c = app.conn;
    const last = app.snap.lastOkMs;
    if (c.kind === "ok" && last && app.role === "controller") {
      const a = app.fleet.latest;
      setText(live, `● live · ${a ? `audit ${clock(a.time_ms)}` : "no audit yet"}`);
      live.className = "live ok";
      live.title = `Polling every ${duration(app.pollMs)}; controller up ${duration((app.fleet.health?.uptime_s ?? 0) * 1000)}; ${app.fleet.health?.audits ?? 0} audits`;
    } else if (c.kind === "ok" && last) {
      setText(live, `● live · ${app.snap.domains?.time ? clock(app.snap.domains.time) : ""}`);
      live.className = "live ok";
      live.title = `Polling every ${duration(app.pollMs)}; agent up ${duration((app.snap.health?.uptime_s ?? 0) * 1000)}; ${app.snap.health?.source ?? ""}`;
    } else {
      setText(live, c.kind === "connecting" ? "○ connecting" : "○ offline");
      live.className = "live down";
    }
  }

  app.subscribe(() => {
    if (!applyRole()) view?.update();
    updateBanners();
    updateLive();
  });
  theme.onChange(() => {
    updateThemeButton();
    mount(); // charts take their colours when made
  });
  window.addEventListener("hashchange", mount);
  setInterval(updateBanners, 1000);
  updateThemeButton();
  mount();
  updateBanners();
  updateLive();
  app.start();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
