/**
 * Platform identity from what a real host has:
 *
 * - real libvirt: domains defined with Nova's `<nova:instance>` metadata exactly as Nova writes
 *   it (namespaces 1.1 and 1.0), a non-ASCII domain name, KubeVirt's metadata, hostile metadata
 *   (markup, quotes, tabs and newlines, a bidi override, a 10 KB name) and a shop's own
 *   `<metadata>` element; read through a real agent (/metrics, which promtool must accept, and
 *   the JSON API) and through the libvirt source, whose virsh runs are counted: one dumpxml per
 *   new domain, none on later discoveries;
 * - fake QEMU processes (test/reliability/fake-qemu.c) with a Proxmox VE command line (as
 *   `kvm -id VMID -name … -smbios type=1,uuid=…`, a VM config in a stand-in /etc/pve) and a
 *   KubeVirt virt-launcher one, through the qemu source.
 *
 * Domains are this test's own (prefix vsteal-plat-<pid>-) and removed after.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LibvirtSource } from "../../src/sources/libvirt.js";
import { QemuSource } from "../../src/sources/qemu.js";
import { parseMetadataPick } from "../../src/platforms/metadata-picks.js";
import { fakeQemuBinary, OnlyOurs } from "../reliability/fake-qemu.js";
import { describeE2E } from "./env.js";
import { ROOT, startAgent, virsh, type RunningAgent } from "./virsh.js";

const P = `vsteal-plat-${process.pid}-`;
const FIX = join(ROOT, "test", "fixtures", "platforms");
const OPS = "http://example.com/ns/ops";
const PICK = `team={${OPS}}owner/team`;
const HUGE = "N".repeat(10_240);

interface Case {
  name: string;
  uuid: string;
  metadata: string;
  run: boolean;
}

const cases: Record<string, Case> = {
  nova11: {
    name: `${P}nova11-ünï网`,
    uuid: randomUUID(),
    metadata: readFileSync(join(FIX, "nova-1.1-metadata.xml"), "utf8"),
    run: true,
  },
  nova10: {
    name: `${P}nova10`,
    uuid: randomUUID(),
    metadata: readFileSync(join(FIX, "nova-1.0-metadata.xml"), "utf8"),
    run: false,
  },
  hostile: {
    name: `${P}hostile`,
    uuid: randomUUID(),
    metadata: `<nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:name>&lt;img src=x onerror="alert(1)"&gt; it's a \\"test\\"&#x9;tab&#xA;line&#x202E;rlo</nova:name>
      <nova:flavor name="${HUGE}"><nova:memory>lots</nova:memory><nova:vcpus>2</nova:vcpus></nova:flavor>
      <nova:owner><nova:project uuid="p1">}{"x"</nova:project></nova:owner>
    </nova:instance>
    <ops:owner xmlns:ops="${OPS}"><ops:team>storage &amp; backup</ops:team></ops:owner>`,
    run: true,
  },
  kubevirt: {
    name: `${P}kv_vm-a`,
    uuid: randomUUID(),
    metadata: `<kubevirt xmlns="http://kubevirt.io"><uid>5a1e7c3d-0000-4000-8000-000000000001</uid><graceperiod><deletionGracePeriodSeconds>30</deletionGracePeriodSeconds></graceperiod></kubevirt>`,
    run: false,
  },
  plain: { name: `${P}plain`, uuid: randomUUID(), metadata: "", run: false },
};

let tmp: string;
let agent: RunningAgent | null = null;
const defined: string[] = [];
const procs: ChildProcess[] = [];

function virshQuiet(...args: string[]): void {
  try {
    execFileSync("virsh", ["-q", "-c", "qemu:///system", ...args], { stdio: "ignore" });
  } catch {
    /* already gone */
  }
}

describeE2E("platform identity on a real host", () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "vsteal-plat-"));
    // A testbed domain as the template (its guest kernel and devices), then our own domains
    // from it, each defined with its metadata in the XML as Nova defines its instances.
    const env = { ...process.env, VSTEAL_TESTBED_PREFIX: P };
    execFileSync(join(ROOT, "scripts", "testbed"), ["define", `${P}tpl`, "1"], {
      env,
      stdio: ["ignore", "ignore", "inherit"],
    });
    const tpl = virsh("dumpxml", "--inactive", `${P}tpl`);
    virshQuiet("destroy", `${P}tpl`);
    for (const c of Object.values(cases)) {
      const esc = c.name.replace(/&/g, "&amp;").replace(/</g, "&lt;");
      const xml = tpl
        .replace(/<name>[^<]*<\/name>/, `<name>${esc}</name>`)
        .replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${c.uuid}</uuid>`)
        .replace(/<\/metadata>/, `${c.metadata}\n  </metadata>`);
      const f = join(tmp, `${c.uuid}.xml`);
      writeFileSync(f, xml);
      virsh("define", f);
      defined.push(c.uuid);
      if (c.run) virsh("start", c.uuid);
    }
  });

  afterAll(async () => {
    await agent?.stop();
    for (const p of procs) p.kill("SIGKILL");
    for (const u of defined) {
      virshQuiet("destroy", u);
      virshQuiet("undefine", u);
    }
    try {
      execFileSync(join(ROOT, "scripts", "testbed"), ["undefine", `${P}tpl`], {
        env: { ...process.env, VSTEAL_TESTBED_PREFIX: P },
        stdio: "ignore",
      });
    } catch {
      /* gone */
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  it("libvirt stored Nova's metadata as given (the witness for what follows)", () => {
    const xml = virsh("dumpxml", cases.nova11!.uuid);
    expect(xml).toContain('<nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">');
    expect(xml).toContain("<nova:name>web-1 Ünïcødé 网站</nova:name>");
  });

  it("the agent's /metrics: one vsteal_domain_info per VM with its identity, promtool accepts it; the VMs are still measured", async () => {
    agent = await startAgent([
      "--source",
      "libvirt",
      "--interval",
      "1",
      "--history.dir",
      "",
      "--domain-metadata",
      PICK,
    ]);
    await agent.sweeps(3);
    const text = await (await fetch(`${agent.url}/metrics`)).text();
    execFileSync("promtool", ["check", "metrics"], { input: text });
    const info = (c: Case): string[] =>
      text.split("\n").filter((l) => l.startsWith("vsteal_domain_info{") && l.includes(`uuid="${c.uuid}"`));
    const n11 = info(cases.nova11!);
    expect(n11).toEqual([
      `vsteal_domain_info{domain="${cases.nova11!.name}",uuid="${cases.nova11!.uuid}",platform="openstack",instance_id="${cases.nova11!.uuid}",instance_name="web-1 Ünïcødé 网站",project_name="shop",project_id="0b7c1e2d3f4a4b5c8d9e0f1a2b3c4d5e",user_name="alice",user_id="5d1a7c6bb1a54c2c9e2a0f3b4c5d6e7f",flavor_name="m1.small",flavor_vcpus="1",flavor_memory_mib="2048"} 1`,
    ]);
    expect(info(cases.nova10!)[0]).toContain(
      'platform="openstack",instance_id="' + cases.nova10!.uuid + '",instance_name="db-primary",project_name="billing"',
    );
    expect(info(cases.kubevirt!)).toEqual([
      `vsteal_domain_info{domain="${cases.kubevirt!.name}",uuid="${cases.kubevirt!.uuid}",platform="kubevirt",instance_name="vm-a",namespace="${P}kv"} 1`,
    ]);
    expect(info(cases.plain!)).toEqual([
      `vsteal_domain_info{domain="${cases.plain!.name}",uuid="${cases.plain!.uuid}",platform="libvirt"} 1`,
    ]);
    const h = info(cases.hostile!);
    expect(h).toHaveLength(1);
    expect(h[0]).toContain(
      `instance_name="<img src=x onerror=\\"alert(1)\\"> it's a \\\\\\"test\\\\\\"\uFFFDtab\uFFFDline\uFFFDrlo"`,
    );
    expect(h[0]).toContain('project_name="}{\\"x\\""');
    expect(h[0]).toContain('meta_team="storage & backup"');
    expect(/flavor_name="(N+)…"/.exec(h[0]!)?.[1]?.length).toBe(255);
    expect(h[0]).not.toContain("flavor_memory_mib");
    // Measured like any VM: the per-vCPU series are there, without identity labels.
    const vcpuLines = text
      .split("\n")
      .filter((l) => l.startsWith("libvirt_domain_vcpu_delay_seconds_total{") && l.includes(cases.hostile!.uuid));
    expect(vcpuLines).toHaveLength(1);
    expect(vcpuLines[0]).toMatch(
      new RegExp(
        `^libvirt_domain_vcpu_delay_seconds_total\\{domain="${P}hostile",uuid="${cases.hostile!.uuid}",vcpu="0"\\} \\d`,
      ),
    );
    // The warnings name the domain and the field.
    expect(agent.stderr()).toContain(`warning: ${P}hostile: nova:flavor/@name: 10240 characters long, cut to 256`);
    expect(agent.stderr()).toContain(`warning: ${P}hostile: nova:name: control characters replaced by \uFFFD`);
    expect(agent.stderr()).toMatch(
      new RegExp(`warning: ${P}hostile: nova:flavor/nova:memory: expected a whole number`),
    );
    // OpenMetrics: an info family.
    const om = await (
      await fetch(`${agent.url}/metrics`, { headers: { accept: "application/openmetrics-text; version=1.0.0" } })
    ).text();
    expect(om).toMatch(/^# TYPE vsteal_domain info$/m);
  });

  it("the JSON API carries the same identity", async () => {
    const r = (await (await fetch(`${agent!.url}/api/v1/domains`)).json()) as {
      domains: Array<{ domain: string; uuid: string; platform: unknown }>;
    };
    const d = r.domains.find((x) => x.uuid === cases.nova11!.uuid);
    expect(d?.domain).toBe(cases.nova11!.name);
    expect(d?.platform).toEqual({
      kind: "openstack",
      id: cases.nova11!.uuid,
      name: "web-1 Ünïcødé 网站",
      project: "shop",
      project_id: "0b7c1e2d3f4a4b5c8d9e0f1a2b3c4d5e",
      user: "alice",
      user_id: "5d1a7c6bb1a54c2c9e2a0f3b4c5d6e7f",
      flavor: "m1.small",
      flavor_vcpus: 1,
      flavor_memory_mib: 2048,
    });
  });

  it("the dashboard shows who each VM is beside its name, and finds VMs by it (real Chromium)", async () => {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${agent!.url}/#/heatmap`);
      const row = (c: Case) => page.locator(`.hm-row[data-domain="${c.name}"]`);
      await row(cases.nova11!).waitFor();
      expect(await row(cases.nova11!).locator(".hm-platform").textContent()).toBe(
        "openstack web-1 Ünïcødé 网站 · project shop",
      );
      expect(await row(cases.kubevirt!).locator(".hm-platform").textContent()).toBe(`kubevirt ${P}kv/vm-a`);
      // Hostile markup is text: no element made of it.
      expect(await row(cases.hostile!).locator(".hm-platform").textContent()).toContain(
        '<img src=x onerror="alert(1)">',
      );
      expect(await page.locator("#app img").count()).toBe(0);
      // Search by project, by instance name, by namespace.
      const shown = async (q: string): Promise<string[]> => {
        await page.locator(".hm-filter").fill(q);
        return (
          await page
            .locator(`.hm-row[data-domain^="${P}"]`)
            .evaluateAll((els) => els.map((e) => e.getAttribute("data-domain") ?? ""))
        ).sort();
      };
      expect(await shown("shop")).toEqual([cases.nova11!.name]);
      expect(await shown("db-primary")).toEqual([cases.nova10!.name]);
      expect(await shown(`${P}kv vm-a`)).toEqual([cases.kubevirt!.name]);
      expect(await shown("storage & backup")).toEqual([cases.hostile!.name]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it("one virsh dumpxml per new domain at discovery, none on the next discoveries", async () => {
    const log = join(tmp, "virsh.log");
    const wrapper = join(tmp, "virsh-counting");
    writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec virsh "$@"\n`);
    chmodSync(wrapper, 0o755);
    const src = new OnlyOurs(new LibvirtSource({ virsh: wrapper, metadataPicks: [parseMetadataPick(PICK)] }), P);
    const first = await src.discover();
    await src.discover();
    await src.discover();
    const runs = readFileSync(log, "utf8").trim().split("\n");
    const dumps = runs.flatMap((l) => [...l.matchAll(/dumpxml ([0-9a-f-]{36})/g)].map((m) => m[1]));
    for (const c of Object.values(cases)) expect(dumps.filter((u) => u === c.uuid)).toHaveLength(1);
    expect(runs.filter((l) => l.includes("dumpxml"))).toHaveLength(1); // all new domains in one virsh run
    expect(first.domains.find((d) => d.uuid === cases.hostile!.uuid)?.platform?.metadata).toEqual({
      team: "storage & backup",
    });
  });

  it("Proxmox and KubeVirt command lines through the qemu source", async () => {
    // Proxmox runs QEMU as /usr/bin/kvm: the fake QEMU under that name.
    const bin = join(tmp, "kvm");
    copyFileSync(fakeQemuBinary(), bin);
    chmodSync(bin, 0o755);
    const vmid = 900_000 + (process.pid % 99_999);
    const pveUuid = randomUUID();
    const pveRoot = join(tmp, "pve");
    mkdirSync(join(pveRoot, "qemu-server"), { recursive: true });
    writeFileSync(
      join(pveRoot, "qemu-server", `${vmid}.conf`),
      readFileSync(join(FIX, "pve-104.conf"), "utf8").replace("name: db", `name: ${P}db`),
    );
    const pveArgv = [
      "-id",
      String(vmid),
      "-name",
      `${P}db,debug-threads=on`,
      "-no-shutdown",
      "-chardev",
      `socket,id=qmp,path=/var/run/qemu-server/${vmid}.qmp,server=on,wait=off`,
      "-pidfile",
      `/var/run/qemu-server/${vmid}.pid`,
      "-smbios",
      `type=1,uuid=${pveUuid}`,
      "-smp",
      "2,sockets=1,cores=2,maxcpus=2",
    ];
    const kvName = `${P}kvns_vmi-fedora`;
    const kvUuid = randomUUID();
    const kvArgv = [
      "-name",
      `guest=${kvName},debug-threads=on`,
      "-uuid",
      kvUuid,
      "-smbios",
      "type=1,manufacturer=KubeVirt,product=None,family=KubeVirt",
      "-smp",
      "1",
    ];
    const started = (p: ChildProcess): Promise<void> => new Promise((r) => p.stdout!.once("data", () => r()));
    const pveProc = spawn(bin, pveArgv, { stdio: ["ignore", "pipe", "inherit"] });
    const kvProc = spawn(fakeQemuBinary(), kvArgv, { stdio: ["ignore", "pipe", "inherit"] });
    procs.push(pveProc, kvProc);
    await Promise.all([started(pveProc), started(kvProc)]);

    const src = new OnlyOurs(new QemuSource("/proc", pveRoot), P);
    const d = await src.discover();
    const pveDom = d.domains.find((x) => x.pid === pveProc.pid)!;
    expect(pveDom).toMatchObject({ name: `${P}db`, uuid: pveUuid, id: vmid, vcpus: [{ vcpu: 0 }, { vcpu: 1 }] });
    expect(pveDom.platform).toEqual({
      kind: "proxmox",
      id: String(vmid),
      name: `${P}db`,
      tags: ["prod", "db"],
      cpulimit: 1.5,
      cpuunits: 2048,
    });
    const kvDom = d.domains.find((x) => x.pid === kvProc.pid)!;
    expect(kvDom.platform).toEqual({ kind: "kubevirt", namespace: `${P}kvns`, name: "vmi-fedora" });
    expect(d.problems).toEqual([]);
  });
});
