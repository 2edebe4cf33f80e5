import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeE2E } from "./env.js";
import { CLI, ROOT, testbed, virsh } from "./virsh.js";

/** A domain name that is also markup: it must show as these characters and run nothing. */
const HOSTILE = "<img src=x onerror=alert(1)>";
const SHOTS = join(ROOT, "test-results", "screenshots");
const CAPPED = "vsteal-test-1";
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The agent's history lives here for this test (kept across the restart the test does). */
const HISTORY_DIR = mkdtempSync(join(tmpdir(), "vsteal-dashboard-history-"));

/**
 * Starts `vsteal agent` on `port` (0: a free one, so no other test's agent answers instead) and
 * resolves with its base URL once it has rates.
 */
async function startAgent(port: number): Promise<{ child: ChildProcess; base: string }> {
  const args = [
    "agent",
    "--interval",
    "1",
    "--web.listen-address",
    `127.0.0.1:${port}`,
    "--source",
    "libvirt",
    "--discovery-interval",
    "2",
    "--history.dir",
    HISTORY_DIR,
  ];
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not say where it listens: ${stderr}`)), 20_000);
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      stderr += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once("exit", (code) => reject(new Error(`agent exited (${code}): ${stderr}`)));
  });
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${base}/api/v1/health`);
      if (r.ok && ((await r.json()) as { sweeps: number }).sweeps >= 2) return { child, base };
    } catch {
      /* not up yet */
    }
    await sleep(200);
  }
  throw new Error("agent did not start sampling");
}

/** What the test uses of a canvas (the project's tsconfig has no DOM library). */
interface Canvas2d {
  width: number;
  height: number;
  getContext(
    kind: "2d",
  ): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}

/** Painted pixels of a heatmap row, and the colour of its newest cell. */
async function rowPixels(page: Page, domain: string): Promise<{ painted: number; last: [number, number, number] }> {
  return page.locator(`.hm-row[data-domain="${domain}"] canvas`).evaluate((el) => {
    const c = el as unknown as Canvas2d;
    const d = c.getContext("2d")?.getImageData(0, 0, c.width, c.height).data ?? [];
    let painted = 0;
    for (let i = 3; i < d.length; i += 4) if ((d[i] ?? 0) > 0) painted++;
    const at = (Math.floor(c.height / 2) * c.width + c.width - 2) * 4;
    return { painted, last: [d[at] ?? 0, d[at + 1] ?? 0, d[at + 2] ?? 0] as [number, number, number] };
  });
}

function runningDomains(): string[] {
  return virsh("list", "--name")
    .split("\n")
    .filter((n) => n !== "");
}

describeE2E("the dashboard in headless Chromium, against an agent on the testbed", () => {
  let agent: ChildProcess | null = null;
  let BASE = "";
  let browser: Browser | null = null;
  let page: Page;
  let historyEnabled = false;
  const consoleErrors: string[] = [];
  const dialogs: string[] = [];
  /** While the test stops the agent on purpose, failed requests are expected. */
  let agentDownOnPurpose = false;

  beforeAll(async () => {
    testbed("up", "3");
    testbed("define", HOSTILE, "1");
    // One VM capped by its own CPU quota: its steal is throttling, the others' is contention.
    virsh("schedinfo", CAPPED, "--live", "--set", "vcpu_period=100000", "vcpu_quota=10000");
    ({ child: agent, base: BASE } = await startAgent(0));
    const index = await fetch(`${BASE}/`);
    const html = await index.text();
    if (!(index.headers.get("content-type") ?? "").startsWith("text/html") || !html.includes('<div id="app">')) {
      throw new Error("`vsteal agent` does not serve the dashboard at /: run `npm run build` (it builds dist/web)");
    }
    historyEnabled = (await fetch(`${BASE}/api/v1/history?from=now-1m`)).status !== 404;
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      const url = m.location().url;
      // Chromium logs every failed request as a console error. Two are the page working as meant:
      // the probe of a disabled history (404), and requests while this test has the agent down.
      if (!historyEnabled && url.includes("/api/v1/history") && m.text().includes("404")) return;
      if (agentDownOnPurpose && /ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET/.test(m.text())) return;
      consoleErrors.push(`${m.text()} (${url})`);
    });
    page.on("pageerror", (e) => consoleErrors.push(`uncaught: ${e.message}`));
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${BASE}/#/host`);
  });

  afterAll(async () => {
    // The testbed first: no extra VM or cap is left behind, whatever fails below.
    try {
      testbed("undefine", HOSTILE);
    } catch (e) {
      console.warn(`could not undefine ${HOSTILE}: ${String(e)}`);
    }
    try {
      virsh("schedinfo", CAPPED, "--live", "--set", "vcpu_quota=-1");
    } catch {
      /* domain gone */
    }
    await browser?.close();
    const a = agent;
    if (a && a.exitCode === null) {
      // The agent saves its history when it stops: wait for that before removing the directory.
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          a.kill("SIGKILL");
          resolve();
        }, 10_000);
        a.once("exit", () => {
          clearTimeout(t);
          resolve();
        });
        a.kill("SIGTERM");
      });
    }
    rmSync(HISTORY_DIR, { recursive: true, force: true });
  });

  it("serves the page with a strict CSP and no third-party origin", async () => {
    const r = await fetch(`${BASE}/`);
    expect(r.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    const html = await r.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script>|<style>| style=/);
  });

  it("the host view shows demand against capacity, steal, and the VMs that wait most", async () => {
    await page.goto(`${BASE}/#/host`);
    await page.locator(".wait-table tbody tr").nth(2).waitFor();
    await expect.poll(() => page.locator(".card-value").first().textContent()).toMatch(/^\d+\.\d+ \/ \d+\.\d+$/);
    const names = await page.locator(".wait-table tbody tr .vm-link").allTextContents();
    for (const n of ["vsteal-test-1", "vsteal-test-2", "vsteal-test-3"]) expect(names).toContain(n);
    await expect
      .poll(() => page.locator(".history-note").textContent())
      .toMatch(historyEnabled ? /History from the agent/ : /History not available/);
    await page.locator(".chart .uplot").first().waitFor();
    await sleep(4000); // a few live points in the charts
    await page.screenshot({ path: join(SHOTS, "host.png") });
  });

  it("the heatmap has one row per running VM", async () => {
    await page.goto(`${BASE}/#/heatmap`);
    await page.locator(".hm-row").first().waitFor();
    // Compared with what libvirt says at the same moment (other tests may start or stop VMs).
    await expect
      .poll(
        async () => {
          const rows = await page
            .locator(".hm-row")
            .evaluateAll((els) => els.map((e) => e.getAttribute("data-domain") ?? ""));
          return JSON.stringify([rows.sort(), runningDomains().sort()]);
        },
        { timeout: 20_000 },
      )
      .toMatch(/^\[(\[.*\]),\1\]$/);
    // Steal is painted; contention (red-orange) and throttling (violet) look different.
    await expect
      .poll(
        async () => {
          const d = (await (await fetch(`${BASE}/api/v1/domains/${CAPPED}`)).json()) as {
            steal: number;
            throttled: number;
          };
          return d.throttled / Math.max(d.steal, 1e-9);
        },
        { timeout: 20_000 },
      )
      .toBeGreaterThan(0.5);
    await sleep(2500);
    const busy = await rowPixels(page, "vsteal-test-3");
    const capped = await rowPixels(page, CAPPED);
    expect(busy.painted).toBeGreaterThan(0);
    expect(capped.painted).toBeGreaterThan(0);
    const blueness = ([r, , b]: [number, number, number]): number => b - r;
    expect(blueness(capped.last)).toBeGreaterThan(blueness(busy.last) + 40);
    // Zoomed in to the last two minutes, following now: the part of the range that has data.
    for (let i = 0; i < 3; i++) await page.getByRole("button", { name: "Zoom in" }).click();
    expect(await page.locator(".hm-span").textContent()).toContain("zoomed");
    await sleep(3000);
    await page.screenshot({ path: join(SHOTS, "heatmap.png") });
  });

  it("a domain named like markup is shown as text and runs nothing", async () => {
    await page.goto(`${BASE}/#/heatmap`);
    const row = page.locator(".hm-row").filter({ has: page.locator(".hm-name", { hasText: HOSTILE }) });
    await row.waitFor();
    expect(await row.locator(".hm-name").textContent()).toBe(HOSTILE);
    expect(await page.locator("#app img").count()).toBe(0);
    await row.hover({ position: { x: 600, y: 10 } });
    await page.locator(".hm-tooltip .tt-name").waitFor();
    expect(await page.locator(".hm-tooltip .tt-name").textContent()).toBe(HOSTILE);
    await row.click({ position: { x: 40, y: 10 } });
    await page.locator(".vm-title").waitFor();
    expect(await page.locator(".vm-title").textContent()).toBe(HOSTILE);
    await page.locator('.vcpu-panel[data-vcpu="0"]').waitFor();
    await page.goto(`${BASE}/#/host`);
    await page.locator(".wait-table td.name-cell .vm-link", { hasText: HOSTILE }).waitFor();
    expect(await page.locator(".wait-table td.name-cell .vm-link", { hasText: HOSTILE }).textContent()).toBe(HOSTILE);
    expect(await page.locator("#app img").count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it("a row click opens that VM with its vCPUs", async () => {
    await page.goto(`${BASE}/#/heatmap`);
    const vcpus = (
      (await (await fetch(`${BASE}/api/v1/domains/vsteal-test-3`)).json()) as { vcpus: Array<{ vcpu: number }> }
    ).vcpus.map((v) => v.vcpu);
    expect(vcpus.length).toBe(3);
    await page.locator('.hm-row[data-domain="vsteal-test-3"] canvas').click({ position: { x: 300, y: 10 } });
    await expect.poll(() => page.evaluate("location.hash")).toBe("#/vm/vsteal-test-3");
    await page.locator(".vcpu-panel").nth(2).waitFor();
    const shown = await page
      .locator(".vcpu-panel")
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-vcpu"))));
    expect(shown).toEqual(vcpus);
    expect(await page.locator(".vcpu-panel h2").first().textContent()).toMatch(/^vCPU 0 now: steal \d/);
    await expect
      .poll(() => page.locator(".neighbours-panel").textContent(), { timeout: 15_000 })
      .toMatch(/vsteal-test-[12]/);
    await sleep(3000);
    await page.screenshot({ path: join(SHOTS, "vm.png") });
  });

  it("the heatmap zooms and pans over time", async () => {
    await page.goto(`${BASE}/#/heatmap`);
    await page.locator(".hm-row").first().waitFor();
    const span = page.locator(".hm-span");
    expect(await span.textContent()).not.toContain("zoomed");
    await page.getByRole("button", { name: "Zoom in" }).click();
    expect(await span.textContent()).toContain("zoomed");
    const zoomed = await span.textContent();
    await page.getByRole("button", { name: "Pan back in time" }).click();
    expect(await span.textContent()).not.toBe(zoomed);
    await page.getByRole("button", { name: "Show the whole time range, following now" }).click();
    expect(await span.textContent()).not.toContain("zoomed");
    // Dragging over the cells pans and does not open a VM.
    await page.getByRole("button", { name: "Zoom in" }).click();
    const box = await page.locator(".hm-row canvas").first().boundingBox();
    if (!box) throw new Error("no heatmap row");
    await page.mouse.move(box.x + 400, box.y + 10);
    await page.mouse.down();
    await page.mouse.move(box.x + 200, box.y + 10, { steps: 5 });
    await page.mouse.up();
    expect(await page.evaluate("location.hash")).toBe("#/heatmap");
  });

  it("has a time range switch; the fleet view is the controller's, not the agent's", async () => {
    await page.goto(`${BASE}/#/host`);
    for (const label of ["15 min", "1 h", "24 h", "7 d"])
      await page.getByRole("button", { name: label, exact: true }).click();
    expect(await page.locator('.range [aria-pressed="true"]').textContent()).toBe("7 d");
    await page.getByRole("button", { name: "15 min", exact: true }).click();
    expect(await page.locator(".nav a:visible").allTextContents()).toEqual(["Host", "Heatmap"]);
    expect(((await (await fetch(`${BASE}/api/v1/health`)).json()) as { role: string }).role).toBe("agent");
    await page.goto(`${BASE}/#/fleet`);
    expect(await page.locator(".fleet-view").textContent()).toContain("served by a host's agent");
  });

  it("is readable in the dark theme", async () => {
    await page.goto(`${BASE}/#/host`);
    await page.locator(".wait-table tbody tr").first().waitFor();
    await page.getByRole("button", { name: /Switch to the dark theme/ }).click();
    expect(await page.evaluate("document.documentElement.dataset.theme")).toBe("dark");
    const bg = String(await page.evaluate("getComputedStyle(document.body).backgroundColor"));
    const [r = 255, g = 255, b = 255] = (bg.match(/\d+/g) ?? []).map(Number);
    expect(r + g + b).toBeLessThan(150);
    await sleep(2000);
    await page.screenshot({ path: join(SHOTS, "dark.png") });
    await page.getByRole("button", { name: /Switch to the light theme/ }).click();
  });

  it("says 'agent not reachable, retrying' while the agent restarts, and carries on", async () => {
    await page.goto(`${BASE}/#/host`);
    await page.locator(".wait-table tbody tr").first().waitFor();
    agentDownOnPurpose = true;
    const old = agent;
    await new Promise<void>((resolve) => {
      old?.once("exit", () => resolve());
      old?.kill("SIGTERM");
    });
    const banner = page.locator('.banner[data-state="unreachable"]');
    await banner.waitFor({ timeout: 20_000 });
    expect(await banner.textContent()).toMatch(/Agent not reachable, retrying in \d+ s/);
    expect(await page.locator(".live").textContent()).toContain("offline");
    agent = (await startAgent(Number(new URL(BASE).port))).child;
    await banner.waitFor({ state: "detached", timeout: 40_000 });
    agentDownOnPurpose = false;
    await page.locator(".live.ok").waitFor();
  });

  it("logged no console errors and opened no dialogs", () => {
    expect(consoleErrors).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
