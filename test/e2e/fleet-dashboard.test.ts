/**
 * The dashboard's fleet view in headless Chromium, served by `vsteal controller` (the CLI, as a
 * user runs it) auditing a real Prometheus that scrapes three hosts. The hosts are LabHosts —
 * the real agent code on small fake /proc trees — so that which host is crowded, and so which
 * move the planner proposes, does not depend on the load of this machine: hv01 is crowded, the
 * other two are calm; one of them and one VM have names that are markup.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LabHost } from "../support/lab-host.js";
import { LabPrometheus, freePort } from "../support/lab-prometheus.js";
import { describeE2E } from "./env.js";
import { CLI, ROOT } from "./virsh.js";

const HOSTILE_VM = "<img src=x onerror=alert(1)>";
// A host name that is markup never gets this far: the snapshot builder refuses it (no snapshot,
// test/unit/hostile/names.test.ts). VM names may be anything libvirt takes.
const HOSTILE_HOST = "hv03.lab_2";
const SHOTS = join(ROOT, "test-results", "screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PlanView {
  status: string;
  plan: { moves: Array<{ vm: string; from: string; to: string; reason: string }> } | null;
  error: { message: string } | null;
}

describeE2E("the fleet view, served by the controller, in headless Chromium", () => {
  let controller: ChildProcess | null = null;
  let log = "";
  let prom: LabPrometheus | null = null;
  const lab: LabHost[] = [];
  let base = "";
  let browser: Browser | null = null;
  let page: Page;
  const consoleErrors: string[] = [];
  const dialogs: string[] = [];

  beforeAll(async () => {
    lab.push(
      await LabHost.start({
        name: "hv01",
        cpus: 4,
        vms: [
          { name: "busy-web", uuid: "1a000000-0000-4000-8000-000000000001", vcpus: 4, usage: 0.7, delay: 0.45 },
          { name: "busy-db", uuid: "1a000000-0000-4000-8000-000000000002", vcpus: 2, usage: 0.8, delay: 0.4 },
          {
            name: "capped-batch",
            uuid: "1a000000-0000-4000-8000-000000000003",
            vcpus: 1,
            usage: 0.2,
            delay: 0.3,
            throttled: 0.25,
          },
        ],
      }),
      await LabHost.start({
        name: "hv02",
        cpus: 16,
        vms: [{ name: HOSTILE_VM, uuid: "2a000000-0000-4000-8000-000000000001", vcpus: 2, usage: 0.2, delay: 0.002 }],
      }),
      await LabHost.start({
        name: HOSTILE_HOST,
        cpus: 8,
        vms: [{ name: "calm-db", uuid: "3a000000-0000-4000-8000-000000000001", vcpus: 2, usage: 0.3, delay: 0.004 }],
      }),
    );
    prom = await LabPrometheus.start({ targets: lab.map((h) => ({ address: `127.0.0.1:${h.port}`, host: h.name })) });
    await prom.waitForTargets(3, 60_000);
    await sleep(11_000); // a full 10 s window of 1 s scrapes
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    controller = spawn(
      process.execPath,
      [
        CLI,
        "controller",
        "--prometheus",
        prom.url,
        "--interval",
        "2s",
        "--window",
        "10s",
        "--state-file",
        "",
        "--web.listen-address",
        `127.0.0.1:${port}`,
      ],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    controller.stderr?.setEncoding("utf8").on("data", (d: string) => {
      log = (log + d).slice(-20_000);
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const p = (await (await fetch(`${base}/api/v1/plan`)).json()) as PlanView;
        if (p.status === "ok" && (p.plan?.moves.length ?? 0) > 0) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`the controller proposed no move within 30 s: ${log}`);
      await sleep(500);
    }
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(`${m.text()} (${m.location().url})`);
    });
    page.on("pageerror", (e) => consoleErrors.push(`uncaught: ${e.message}`));
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    controller?.kill("SIGTERM");
    await prom?.stop();
    await Promise.all(lab.map((h) => h.stop().catch(() => undefined)));
  });

  it("the controller serves the dashboard at / with the agent's CSP, and / opens the fleet view", async () => {
    const r = await fetch(`${base}/`);
    expect(r.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    expect(await r.text()).toContain('<div id="app">');
    await page.goto(`${base}/`);
    await page.locator(".fleet-view").waitFor();
    await expect.poll(() => page.evaluate("location.hash")).toBe("#/fleet");
    // Only the fleet makes sense on the controller: no host, heatmap or range switch.
    expect(await page.locator(".nav a:visible").allTextContents()).toEqual(["Fleet"]);
    expect(await page.locator(".range").isVisible()).toBe(false);
  });

  it("shows one heatmap row per host, the plan's move with its reason, and demand against capacity", async () => {
    await page.goto(`${base}/#/fleet`);
    const snap = (await (await fetch(`${base}/api/v1/snapshot`)).json()) as { hosts: Array<{ name: string }> };
    await page
      .locator(".fleet-heatmap .hm-row")
      .nth(snap.hosts.length - 1)
      .waitFor();
    const rows = await page
      .locator(".fleet-heatmap .hm-row")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-host") ?? ""));
    expect(rows.sort()).toEqual(snap.hosts.map((h) => h.name).sort());
    // The crowded host waits most: first row, selected, and its cells are painted.
    expect(rows.length).toBe(3);
    expect(await page.locator(".fleet-heatmap .hm-row").first().getAttribute("data-host")).toBe("hv01");

    const plan = (await (await fetch(`${base}/api/v1/plan`)).json()) as PlanView;
    const m = plan.plan!.moves[0]!;
    expect(m.from).toBe("hv01");
    const row = page.locator(".moves-table tr.move-row").first();
    await row.waitFor();
    expect(await row.locator(".vm-name").textContent()).toBe(m.vm);
    expect(await row.locator(".move-hosts").textContent()).toBe(`${m.from} → ${m.to}`);
    await expect
      .poll(() => row.locator(".reason").textContent())
      .toMatch(/^hv01 is (oversubscribed|contended) \(demand [\d.]+ of 4 cores/);
    expect(await page.locator(".plan-verdict").textContent()).toMatch(/predicted contention [\d.]+ → [\d.]+ cores/);
    // Demand against capacity: one bar per host, hv01 over its capacity.
    expect(await page.locator(".cap-row").count()).toBe(3);
    expect(await page.locator('.cap-row[data-host="hv01"] .cap-nums b').getAttribute("class")).toBe("over");
    await sleep(4000); // a few more audits in the heatmap
    await page.screenshot({ path: join(SHOTS, "fleet.png"), fullPage: true });
  });

  it("names that are markup are shown as text and run nothing; a row click shows that host", async () => {
    await page.goto(`${base}/#/fleet`);
    const hostRow = page.locator(`.fleet-heatmap .hm-row[data-host="${HOSTILE_HOST}"]`);
    await hostRow.waitFor();
    expect(await hostRow.locator(".hm-name").textContent()).toBe(HOSTILE_HOST);
    await page.locator('.fleet-heatmap .hm-row[data-host="hv02"]').click();
    await expect.poll(() => page.locator(".host-detail").getAttribute("data-host")).toBe("hv02");
    expect(await page.locator(".host-detail .host-title").textContent()).toBe("hv02");
    const vm = page.locator(".host-detail .vm-table tbody tr .vm-name").first();
    await vm.waitFor();
    expect(await vm.textContent()).toBe(HOSTILE_VM);
    await hostRow.click();
    await expect.poll(() => page.locator(".host-detail .host-title").textContent()).toBe(HOSTILE_HOST);
    await page.locator(".host-detail .uplot").waitFor();
    expect(await page.locator("#app img, #app b[onmouseover]").count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it("is readable in the dark theme", async () => {
    await page.goto(`${base}/#/fleet`);
    await page.locator(".moves-table").waitFor();
    await page.getByRole("button", { name: /Switch to the dark theme/ }).click();
    await page.locator(".moves-table").waitFor();
    await sleep(1000);
    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(SHOTS, "fleet-dark.png") });
    await page.getByRole("button", { name: /Switch to the light theme/ }).click();
  });

  it("a failed audit: no plan, and the reason names the missing host", async () => {
    await page.goto(`${base}/#/fleet`);
    await page.locator(".moves-table").waitFor();
    await lab[1]!.stop();
    const banner = page.locator('.banner[data-state="audit-failed"]');
    await banner.waitFor({ timeout: 40_000 });
    await expect.poll(() => banner.textContent(), { timeout: 20_000 }).toMatch(/Last audit failed — no plan.*hv02/);
    expect(await page.locator('.plan-none[data-state="no-plan"]').textContent()).toMatch(/hv02/);
    expect(await page.locator(".moves-table").count()).toBe(0);
    // The rows stay, with the figures of the successful audits.
    expect(await page.locator(".fleet-heatmap .hm-row").count()).toBe(3);
    await sleep(1500);
    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(SHOTS, "fleet-failed.png") });
  });

  it("logged no console errors and opened no dialogs", () => {
    expect(consoleErrors).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
