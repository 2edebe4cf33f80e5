import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeE2E } from "./env.js";
import { ROOT, virshDomstats } from "./virsh.js";
import { freePort } from "../support/lab-prometheus.js";

// `npm run package` on this machine, then what an admin does with it: the npm tarball runs as
// unpacked; the .deb installs with dpkg, runs the agent as user vsteal exactly as the unit's
// ExecStart says, serves metrics and the embedded dashboard, and purges without leftovers.

const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
const DEB = join(ROOT, "dist", "pkg", `vsteal_${PKG.version}_amd64.deb`);
const TGZ = join(ROOT, "dist", "pkg", `vsteal-${PKG.version}.tgz`);
const UNIT = "/lib/systemd/system/vsteal-agent.service";
const INSTALLED = [
  "/usr/bin/vsteal",
  UNIT,
  "/etc/vsteal/alerts.yaml",
  "/usr/share/vsteal/alerts/default-rules.yaml",
  "/usr/share/vsteal/prometheus/vsteal-alerts.rules.yml",
  "/usr/share/vsteal/grafana/vsteal-dashboard.json",
  "/usr/share/doc/vsteal/copyright",
];

const has = (cmd: string, ...args: string[]): boolean => spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
const userExists = (): boolean => has("getent", "passwd", "vsteal");

/** The unit's ExecStart, its continuation lines joined, split into argv (it has no quoting). */
function execStart(unit: string): string[] {
  const joined = unit.replace(/\\\n\s*/g, " ");
  const line = /^ExecStart=(.*)$/m.exec(joined)?.[1];
  if (!line) throw new Error(`no ExecStart in ${UNIT}`);
  return line.trim().split(/\s+/);
}

/** Environment= lines of the unit, as the service gets them. */
function unitEnv(unit: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)) env[m[1]!] = m[2]!;
  return env;
}

async function waitFor<T>(what: string, f: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await f();
      if (v !== null) return v;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describeE2E("npm run package: the npm tarball and the .deb on a real host", () => {
  let userBefore = false;
  let agent: ChildProcess | null = null;
  // The agent run from a checkout (the README's first command) keeps its history in
  // /var/lib/vsteal too, as root: set aside while the package owns that path, then put back.
  const STATE = "/var/lib/vsteal";
  let stateAside: string | null = null;

  beforeAll(() => {
    if (has("dpkg", "-s", "vsteal"))
      throw new Error("a vsteal package is already installed here: remove it (dpkg --purge vsteal) before this test");
    for (const f of ["/usr/bin/vsteal", "/etc/vsteal"])
      if (existsSync(f)) throw new Error(`${f} exists and is not from a vsteal package: this test would overwrite it`);
    if (existsSync(STATE)) {
      stateAside = `${STATE}.before-package-test-${process.pid}`;
      renameSync(STATE, stateAside);
    }
    userBefore = userExists();
    execFileSync(process.execPath, [join(ROOT, "scripts", "package.mjs")], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "inherit"],
    });
  }, 600_000);

  afterAll(() => {
    agent?.kill("SIGKILL");
    if (has("dpkg", "-s", "vsteal")) spawnSync("dpkg", ["--purge", "vsteal"], { stdio: "ignore" });
    // The package leaves its system user (Debian's way); the test leaves the machine as it found it.
    if (!userBefore && userExists()) spawnSync("deluser", ["--system", "--quiet", "vsteal"], { stdio: "ignore" });
    if (stateAside !== null) {
      rmSync(STATE, { recursive: true, force: true });
      renameSync(stateAside, STATE);
    }
  });

  it("the npm tarball's vsteal runs as unpacked: no build step, no node_modules", () => {
    const dir = mkdtempSync(join(tmpdir(), "vsteal-tgz-"));
    try {
      execFileSync("tar", ["-xzf", TGZ, "-C", dir]);
      expect(existsSync(join(dir, "package", "src"))).toBe(false);
      expect(existsSync(join(dir, "package", "node_modules"))).toBe(false);
      const cli = join(dir, "package", "dist", "cli", "main.cjs");
      expect(execFileSync(process.execPath, [cli, "--version"], { encoding: "utf8" }).trim()).toBe(PKG.version);
      const r = spawnSync(process.execPath, [cli, "domstats", "--json", "--source", "qemu"], { encoding: "utf8" });
      expect(r.status).toBe(0);
      expect(Array.isArray(JSON.parse(r.stdout))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the .deb installs the program, unit, rules, dashboard and configs, and the vsteal user", () => {
    const info = execFileSync("dpkg-deb", ["--field", DEB, "Package", "Version", "Architecture", "Depends"], {
      encoding: "utf8",
    });
    expect(info).toContain(`Version: ${PKG.version}`);
    expect(info).toContain("Architecture: amd64");
    expect(info).not.toMatch(/nodejs/); // Node is inside the executable
    execFileSync("dpkg", ["-i", DEB], { stdio: ["ignore", "ignore", "inherit"] });
    for (const f of INSTALLED) expect(existsSync(f), f).toBe(true);
    expect(
      execFileSync("/usr/bin/vsteal", ["--version"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } }).trim(),
    ).toBe(PKG.version);
    // The executable's main script (the start, domstats in it) and the program it holds as an
    // asset (plan's help) both run; domstats' delays lie between libvirt's own readings.
    const before = virshDomstats();
    const running = [...before].filter(([, st]) => st.has("vcpu.0.delay")).map(([name]) => name);
    expect(running.length).toBeGreaterThan(0);
    const text = execFileSync("/usr/bin/vsteal", ["domstats", "--vcpu", ...running], { encoding: "utf8" });
    const after = virshDomstats();
    let checked = 0;
    for (const block of text.split("\n\n").filter((b) => b.trim() !== "")) {
      const name = /^Domain: '(.*)'$/m.exec(block)?.[1] ?? "";
      const b = before.get(name)!;
      const a = after.get(name)!;
      expect(/^ {2}vcpu\.current=(\d+)$/m.exec(block)?.[1], name).toBe(a.get("vcpu.current"));
      for (const m of block.matchAll(/^ {2}vcpu\.(\d+)\.delay=(\d+)$/gm)) {
        const ours = BigInt(m[2]!);
        expect(ours).toBeGreaterThanOrEqual(BigInt(b.get(`vcpu.${m[1]}.delay`)!));
        expect(ours).toBeLessThanOrEqual(BigInt(a.get(`vcpu.${m[1]}.delay`)!));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(execFileSync("/usr/bin/vsteal", ["plan", "--help"], { encoding: "utf8" })).toMatch(/^Usage: vsteal plan/);
    const pw = execFileSync("getent", ["passwd", "vsteal"], { encoding: "utf8" }).trim().split(":");
    expect(pw[6]).toMatch(/nologin|false/);
    expect(Number(pw[2])).toBeLessThan(1000); // a system user
    expect(readFileSync("/var/lib/dpkg/info/vsteal.conffiles", "utf8")).toContain("/etc/vsteal/alerts.yaml");
  });

  it("runs the agent as user vsteal the way ExecStart does; metrics agree with libvirt, the embedded dashboard is served", async () => {
    const unit = readFileSync(UNIT, "utf8");
    const argv = execStart(unit);
    expect(argv[0]).toBe("/usr/bin/vsteal");
    const port = await freePort();
    const i = argv.indexOf("--web.listen-address");
    argv[i + 1] = `127.0.0.1:${port}`; // the unit's port may be taken on a shared machine
    const before = virshDomstats();
    agent = spawn("setpriv", ["--reuid", "vsteal", "--regid", "vsteal", "--init-groups", ...argv], {
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...unitEnv(unit) },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    agent.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
    try {
      await checkAgent(port, before, () => stderr);
    } finally {
      // Stopped here whatever failed: the purge test checks that nothing of vsteal still runs.
      if (agent.exitCode === null && agent.signalCode === null) {
        const exited = new Promise((r) => agent!.once("exit", r));
        agent.kill("SIGTERM");
        await exited;
      }
      agent = null;
    }
  }, 60_000);

  async function checkAgent(port: number, before: ReturnType<typeof virshDomstats>, stderrOf: () => string) {
    const base = `http://127.0.0.1:${port}`;
    const text = await waitFor("the agent's first sweep", async () => {
      const t = await (await fetch(`${base}/metrics`)).text();
      return /^vsteal_collector_sweeps_total [1-9]/m.test(t) ? t : null;
    });
    const after = virshDomstats();
    expect(stderrOf()).not.toMatch(/warning|error/i);

    // The kernel says who runs it.
    const pid = Number(
      execFileSync("pgrep", ["-u", "vsteal", "-f", `127.0.0.1:${port}`], { encoding: "utf8" })
        .trim()
        .split("\n")[0],
    );
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    expect(uid).toBe(execFileSync("id", ["-u", "vsteal"], { encoding: "utf8" }).trim());
    expect(Number(/^vsteal_host_cpus (\d+)/m.exec(text)?.[1])).toBe(cpus().length);

    // Every running domain libvirt reported before and after: our delay lies between its readings.
    let checked = 0;
    for (const [name, b] of before) {
      const a = after.get(name);
      if (!a) continue;
      const n = Number(b.get("vcpu.current") ?? 0);
      for (let v = 0; v < n; v++) {
        const esc = name.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, "\\n");
        const line = text
          .split("\n")
          .find(
            (l) =>
              l.startsWith(`libvirt_domain_vcpu_delay_seconds_total{domain="${esc}",`) && l.includes(`vcpu="${v}"`),
          );
        const lo = b.get(`vcpu.${v}.delay`);
        const hi = a.get(`vcpu.${v}.delay`);
        if (!line || lo === undefined || hi === undefined) continue;
        const ours = Number(line.split(" ").pop());
        expect(ours).toBeGreaterThanOrEqual(Number(lo) / 1e9 - 1e-6);
        expect(ours).toBeLessThanOrEqual(Number(hi) / 1e9 + 1e-6);
        checked++;
      }
    }
    if (process.env.CI === "true") expect(checked).toBeGreaterThanOrEqual(1); // CI runs the testbed

    // The dashboard comes from inside the executable, byte for byte what the build made.
    const web = join(ROOT, "dist", "web");
    const index = await (await fetch(`${base}/`)).text();
    expect(index).toBe(readFileSync(join(web, "index.html"), "utf8"));
    const js = readdirSync(web).find((f) => /^app-.*\.js$/.test(f))!;
    const body = Buffer.from(await (await fetch(`${base}/${js}`)).arrayBuffer());
    expect(body.equals(readFileSync(join(web, js)))).toBe(true);
  }

  it("dpkg --purge removes everything but the vsteal system user", () => {
    execFileSync("dpkg", ["--purge", "vsteal"], { stdio: ["ignore", "ignore", "inherit"] });
    for (const f of [...INSTALLED, "/etc/vsteal", "/var/lib/vsteal", "/usr/share/vsteal", "/usr/share/doc/vsteal"])
      expect(existsSync(f), f).toBe(false);
    expect(has("dpkg", "-s", "vsteal")).toBe(false);
    expect(spawnSync("pgrep", ["-u", "vsteal"]).status).not.toBe(0); // nothing of it still runs
    expect(userExists()).toBe(true); // Debian leaves system users; docs/install.md says how to remove it
  });
});
