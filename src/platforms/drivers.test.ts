/**
 * The Nova and Proxmox VE drivers through `vsteal apply`, against local HTTP stand-ins
 * (test/support/platform-standins.ts) that replay the exchanges the OpenStack and Proxmox API
 * references document — a real Nova or Proxmox cannot run here. Where the VM ends is read from
 * the stand-in's own record (the platform's database), not from vsteal's output.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { apply, type ApplyCliOptions } from "../cli/apply.js";
import type { Io } from "../cli/io.js";
import type { FleetPlatform } from "../model/fleet.js";
import { FakeDriver } from "../../test/support/fake-driver.js";
import { PlanApplier } from "../controller/apply-mode.js";
import type { AuditRecord } from "../controller/controller.js";
import { MemoryAuditLog } from "../migrate/audit-log.js";
import { migrateHosts } from "../migrate/hosts.js";
import { parseSnapshot, type Plan } from "../model/fleet.js";
import { loadPlatformsConfig } from "./config.js";
import { PlatformWiring } from "./drivers.js";
import { withPlatformHosts } from "./route.js";
import {
  NovaStandIn,
  ProxmoxStandIn,
  type NovaBehaviour,
  type PveBehaviour,
} from "../../test/support/platform-standins.js";

const NOVA_ID = "0b7c1e2d-3f4a-4b5c-8d9e-0f1a2b3c4d5e";

function captureIo(): Io & { out_: string[]; err_: string[] } {
  const out_: string[] = [];
  const err_: string[] = [];
  return { out: (t) => out_.push(t), err: (l) => err_.push(l), out_, err_ };
}

interface AuditLine {
  action: string;
  result: string;
  reason: string;
  vm: string | null;
  details?: { platform?: FleetPlatform; command?: string[] };
}

let dir: string;
let nova: NovaStandIn;
let pve: ProxmoxStandIn;

beforeAll(async () => {
  nova = await new NovaStandIn().start();
  pve = await new ProxmoxStandIn().start();
});
afterAll(async () => {
  await nova.stop();
  await pve.stop();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vsteal-platforms-"));
  nova.instances.clear();
  nova.requests.length = 0;
  pve.guests.clear();
  pve.tasks.clear();
  pve.requests.length = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function platformsFile(
  o: { openstack?: boolean; proxmox?: boolean; novaSecret?: string; pveSecret?: string; authUrl?: string } = {},
): string {
  const lines: string[] = [];
  if (o.openstack ?? true) {
    writeFileSync(join(dir, "os.secret"), `${o.novaSecret ?? nova.credential.secret}\n`);
    chmodSync(join(dir, "os.secret"), 0o600);
    lines.push(
      "openstack:",
      `  auth_url: ${o.authUrl ?? `${nova.url}/identity/v3`}`,
      `  application_credential_id: ${nova.credential.id}`,
      `  application_credential_secret_file: ${join(dir, "os.secret")}`,
      "  hosts: { hv01: compute-01, hv02: compute-02 }",
    );
  }
  if (o.proxmox ?? true) {
    lines.push(
      "proxmox:",
      `  url: ${pve.url}`,
      `  token_id: "${pve.token.id}"`,
      `  token_secret: "${o.pveSecret ?? pve.token.secret}"`,
      "  nodes: { hv01: pve1, hv02: pve2 }",
    );
  }
  lines.push("request_timeout: 5");
  writeFileSync(join(dir, "platforms.yaml"), `${lines.join("\n")}\n`);
  return join(dir, "platforms.yaml");
}

function planFile(vm: string, platform: FleetPlatform | undefined): string {
  const plan = {
    version: 1,
    moves: [{ vm, from: "hv01", to: "hv02", reason: "hv01 is oversubscribed", ...(platform ? { platform } : {}) }],
    predicted: { steal_before: 1, steal_after: 0.2 },
    explanation: "test",
  };
  writeFileSync(join(dir, "plan.json"), JSON.stringify(plan));
  writeFileSync(join(dir, "hosts.yaml"), "timeout: 60\n");
  return join(dir, "plan.json");
}

async function run(platforms: string | undefined, extra: Partial<ApplyCliOptions> = {}, libvirt = new FakeDriver({})) {
  const io = captureIo();
  const auditLog = join(dir, "audit.jsonl");
  rmSync(auditLog, { force: true });
  const code = await apply(
    join(dir, "plan.json"),
    { hosts: join(dir, "hosts.yaml"), platforms, yes: true, recheck: false, windowS: 300, auditLog, ...extra },
    io,
    { driver: libvirt, pollMs: 20 },
  );
  const audit = readFileSync(auditLog, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as AuditLine);
  const outcome = audit.find((e) => e.action === "migrate" && e.result !== "started");
  return { code, io, audit, outcome, rawAudit: readFileSync(auditLog, "utf8") };
}

const novaVm = (b: NovaBehaviour) => {
  nova.add(NOVA_ID, "web-1", "compute-01", b);
  return planFile("instance-0000a1b2", { kind: "openstack", id: NOVA_ID, name: "web-1", project: "shop" });
};

describe("OpenStack Nova driver (against a Keystone + Nova stand-in)", () => {
  it("authenticates with the application credential, live-migrates to the chosen host with block_migration auto, and checks the host after", async () => {
    novaVm({ kind: "ok", polls: 3 });
    const r = await run(platformsFile());
    expect(r.code).toBe(0);
    expect(nova.instances.get(NOVA_ID)?.host).toBe("compute-02"); // Nova's own record
    const auth = nova.requests.find((q) => q.path === "/identity/v3/auth/tokens")!;
    expect(JSON.parse(auth.body)).toEqual({
      auth: {
        identity: {
          methods: ["application_credential"],
          application_credential: { id: nova.credential.id, secret: nova.credential.secret },
        },
      },
    });
    const action = nova.requests.find((q) => q.path.endsWith("/action"))!;
    expect(action.method).toBe("POST");
    expect(action.path).toBe(`/compute/v2.1/servers/${NOVA_ID}/action`); // the public endpoint of the catalog, not the internal one
    expect(JSON.parse(action.body)).toEqual({ "os-migrateLive": { host: "compute-02", block_migration: "auto" } });
    expect(action.headers["openstack-api-version"]).toBe("compute 2.30");
    expect(r.outcome).toMatchObject({
      result: "ok",
      vm: "instance-0000a1b2",
      details: { platform: { kind: "openstack", id: NOVA_ID, name: "web-1", project: "shop" } },
    });
    // The secret is nowhere vsteal writes.
    for (const text of [r.rawAudit, r.io.out_.join(""), r.io.err_.join("\n")])
      expect(text).not.toContain(nova.credential.secret);
  });

  it("400 no valid host: failed with Nova's reason, the instance stays on its host", async () => {
    novaVm({ kind: "no_valid_host" });
    const r = await run(platformsFile());
    expect(r.code).toBe(4);
    expect(r.outcome?.result).toBe("failed");
    expect(r.outcome?.reason).toMatch(/Nova refused the live migration to compute-02: 400 No valid host was found/);
    expect(r.outcome?.reason).toMatch(/still running on hv01/);
    expect(nova.instances.get(NOVA_ID)?.host).toBe("compute-01");
  });

  it("409 conflict (instance busy): failed with Nova's reason", async () => {
    novaVm({ kind: "conflict" });
    const r = await run(platformsFile());
    expect(r.code).toBe(4);
    expect(r.outcome?.reason).toMatch(/409 Cannot 'os-migrateLive' instance .* while it is in task_state migrating/);
    expect(nova.instances.get(NOVA_ID)?.host).toBe("compute-01");
  });

  it("401: Keystone refuses the credential; no move, a clear reason without the secret", async () => {
    novaVm({ kind: "ok", polls: 1 });
    const r = await run(platformsFile({ novaSecret: "wrong-secret-123" }));
    expect(r.code).toBe(4);
    expect(r.outcome?.reason).toMatch(
      /Keystone refused application credential 6cb5fa6a13184e6fab65ba2108adf50c: 401 The request you have made requires authentication/,
    );
    expect(r.rawAudit).not.toContain("wrong-secret-123");
    expect(nova.requests.some((q) => q.path.endsWith("/action"))).toBe(false);
  });

  it("403: Nova's policy forbids the live migration", async () => {
    novaVm({ kind: "forbidden" });
    const r = await run(platformsFile());
    expect(r.code).toBe(4);
    expect(r.outcome?.reason).toMatch(
      /403 Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed/,
    );
  });

  it("a migration that never finishes: aborted through the migrations API at the timeout, the instance stays on its source", async () => {
    novaVm({ kind: "never" });
    const r = await run(platformsFile(), { timeoutS: 1 });
    expect(r.code).toBe(4);
    expect(r.outcome?.result).toBe("aborted");
    expect(r.outcome?.reason).toMatch(/timed out after 1\.0 s .*job aborted; instance-0000a1b2 still running on hv01/);
    const del = nova.requests.find((q) => q.method === "DELETE")!;
    expect(del.path).toMatch(new RegExp(`^/compute/v2.1/servers/${NOVA_ID}/migrations/\\d+$`));
    expect(nova.migrations.at(-1)?.status).toBe("cancelled");
    expect(nova.instances.get(NOVA_ID)?.host).toBe("compute-01");
  });

  it("a migration Nova ends in error: failed, with the migration's status", async () => {
    novaVm({ kind: "fails", polls: 2 });
    const r = await run(platformsFile());
    expect(r.code).toBe(4);
    expect(r.outcome?.reason).toMatch(/Nova ended migration \d+ with status error/);
  });

  it("an unreachable Keystone: failed, no move", async () => {
    novaVm({ kind: "ok", polls: 1 });
    const port = await closedPort();
    const r = await run(platformsFile({ authUrl: `http://127.0.0.1:${port}/identity/v3` }));
    expect(r.code).toBe(4);
    expect(r.outcome?.reason).toMatch(
      /Keystone is unreachable \(POST http:\/\/127\.0\.0\.1:\d+\/identity\/v3\/auth\/tokens\): ECONNREFUSED/,
    );
    expect(nova.instances.get(NOVA_ID)?.host).toBe("compute-01");
  });

  it("a Keystone that accepts the connection but never answers: the request times out, no move", async () => {
    novaVm({ kind: "ok", polls: 1 });
    const sockets: Array<{ destroy(): void }> = [];
    const silent = createServer((sock) => void sockets.push(sock)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const port = (silent.address() as { port: number }).port;
      writeFileSync(
        join(dir, "p.yaml"),
        readFileSync(platformsFile({ authUrl: `http://127.0.0.1:${port}/identity/v3` }), "utf8").replace(
          "request_timeout: 5",
          "request_timeout: 0.5",
        ),
      );
      const r = await run(join(dir, "p.yaml"));
      expect(r.code).toBe(4);
      expect(r.outcome?.reason).toMatch(
        /Keystone did not answer within 0\.5 s \(POST http:\/\/127\.0\.0\.1:\d+\/identity\/v3\/auth\/tokens\)/,
      );
      expect(nova.instances.get(NOVA_ID)?.host).toBe("compute-01");
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it("without openstack: in the platforms file, apply refuses the plan with one reason per VM and moves nothing", async () => {
    novaVm({ kind: "ok", polls: 1 });
    await expect(run(platformsFile({ openstack: false }))).rejects.toThrow(
      /refusing the plan, nothing done:\n {2}instance-0000a1b2 is an OpenStack Nova instance \(web-1 \(project shop\)\): moving it through plain libvirt would leave Nova's database pointing at the wrong host; add openstack:/,
    );
    await expect(run(undefined)).rejects.toThrow(/is an OpenStack Nova instance/);
    expect(nova.requests).toHaveLength(0);
  });
});

const pveVm = (b: PveBehaviour) => {
  pve.add(104, "db", "pve1", b);
  return planFile("db", { kind: "proxmox", id: "104", name: "db" });
};

describe("Proxmox VE driver (against a Proxmox API stand-in)", () => {
  it("migrates online to the target node with the API token, follows the task, checks the node after", async () => {
    pveVm({ kind: "ok", polls: 3 });
    const r = await run(platformsFile());
    expect(r.code).toBe(0);
    expect(pve.guests.get(104)?.node).toBe("pve2");
    const post = pve.requests.find((q) => q.method === "POST")!;
    expect(post.path).toBe("/api2/json/nodes/pve1/qemu/104/migrate");
    expect(Object.fromEntries(new URLSearchParams(post.body))).toEqual({ target: "pve2", online: "1" });
    expect(post.headers.authorization).toBe(`PVEAPIToken=${pve.token.id}=${pve.token.secret}`);
    expect(pve.requests.some((q) => /\/nodes\/pve1\/tasks\/UPID%3Apve1%3A.*\/status$/.test(q.path))).toBe(true);
    expect(r.outcome).toMatchObject({
      result: "ok",
      details: { platform: { kind: "proxmox", id: "104", name: "db" } },
    });
    for (const text of [r.rawAudit, r.io.out_.join(""), r.io.err_.join("\n")])
      expect(text).not.toContain(pve.token.secret);
  });

  it("a task that fails: failed with its exit status and error lines; the guest stays", async () => {
    pveVm({ kind: "task_fails", polls: 2 });
    const r = await run(platformsFile());
    expect(r.code).toBe(4);
    expect(r.outcome?.reason).toMatch(/task UPID:pve1:.* failed: migration problems \(.*online migrate failure/);
    expect(r.outcome?.reason).toMatch(/still running on hv01/);
    expect(pve.guests.get(104)?.node).toBe("pve1");
  });

  it("a migration that never finishes: the task is stopped at the timeout, the guest stays on its node", async () => {
    pveVm({ kind: "never" });
    const r = await run(platformsFile(), { timeoutS: 1 });
    expect(r.code).toBe(4);
    expect(r.outcome?.result).toBe("aborted");
    expect(r.outcome?.reason).toMatch(
      /timed out after 1\.0 s \(\d+\.\d MiB sent\); job aborted; db still running on hv01/,
    );
    expect(pve.requests.some((q) => q.method === "DELETE" && /\/nodes\/pve1\/tasks\/UPID/.test(q.path))).toBe(true);
    expect(pve.guests.get(104)?.node).toBe("pve1");
  });

  it("401 (wrong token) and 403 (no VM.Migrate): no move, a clear reason", async () => {
    pveVm({ kind: "ok", polls: 1 });
    let r = await run(platformsFile({ pveSecret: "00000000-bad0-bad0-bad0-000000000000" }));
    expect(r.code).toBe(4);
    expect(r.outcome?.reason).toMatch(/Proxmox VE refused API token vsteal@pve!migrate: 401 authentication failure/);
    expect(r.rawAudit).not.toContain("00000000-bad0");
    pve.guests.clear();
    pveVm({ kind: "forbidden" });
    r = await run(platformsFile());
    expect(r.outcome?.reason).toMatch(
      /Proxmox VE denied POST \/nodes\/pve1\/qemu\/104\/migrate to token vsteal@pve!migrate: 403 Permission check failed \(\/vms\/104, VM\.Migrate\)/,
    );
    expect(pve.guests.get(104)?.node).toBe("pve1");
  });

  it("without proxmox: in the platforms file, refused: Proxmox runs no libvirt", async () => {
    pveVm({ kind: "ok", polls: 1 });
    await expect(run(platformsFile({ proxmox: false }))).rejects.toThrow(
      /db is a Proxmox VE guest \(VMID 104 db\): Proxmox moves it, not libvirt/,
    );
    expect(pve.requests).toHaveLength(0);
  });
});

describe("the controller's apply mode", () => {
  it("moves a Nova instance through Nova, rechecked on a fresh snapshot, with its owner in the audit log", async () => {
    nova.add(NOVA_ID, "web-1", "compute-01", { kind: "ok", polls: 2 });
    const platform = { kind: "openstack" as const, id: NOVA_ID, name: "web-1", project: "shop" };
    const fresh = parseSnapshot({
      version: 1,
      time: new Date().toISOString(),
      window_s: 300,
      hosts: [
        { name: "hv01", cpus: 2, memory_mib: 65536 },
        { name: "hv02", cpus: 16, memory_mib: 65536 },
      ],
      vms: [
        {
          name: "instance-0000a1b2",
          uuid: NOVA_ID,
          host: "hv01",
          vcpus: 2,
          memory_mib: 2048,
          usage: [0.9, 0.9],
          delay: [0.5, 0.5],
          platform,
        },
        { name: "busy", host: "hv01", vcpus: 2, memory_mib: 2048, usage: [0.9, 0.9], delay: [0.5, 0.5] },
      ],
    });
    const log = new MemoryAuditLog();
    const wiring = new PlatformWiring(loadPlatformsConfig(platformsFile()), {
      libvirt: new FakeDriver({}),
      pollMs: 20,
      probe: false,
    });
    const applier = new PlanApplier({
      hosts: withPlatformHosts(migrateHosts({})),
      driver: new FakeDriver({}),
      platforms: wiring,
      audit: log,
      approveOver: 5,
      freshSnapshot: async () => fresh,
      minGain: 0,
    });
    const p: Plan = {
      version: 1,
      moves: [{ vm: "instance-0000a1b2", from: "hv01", to: "hv02", reason: "r", platform }],
      predicted: { steal_before: 2, steal_after: 1 },
      explanation: "",
    };
    applier.onAudit({ id: 1, status: "ok", plan: p } as AuditRecord);
    await applier.idle();
    expect(applier.records.get("audit-1")?.state).toBe("applied");
    expect(nova.instances.get(NOVA_ID)?.host).toBe("compute-02");
    expect(log.entries.find((e) => e.action === "migrate" && e.result === "ok")?.details?.platform).toEqual(platform);
  });
});

describe("routing", () => {
  it("a KubeVirt VM is always refused; a libvirt VM still goes through libvirt next to platform VMs", async () => {
    planFile("prod_vm-a", { kind: "kubevirt", namespace: "prod", name: "vm-a" });
    await expect(run(platformsFile())).rejects.toThrow(/prod_vm-a is a KubeVirt VM \(prod\/vm-a\): KubeVirt moves it/);
    planFile("plain-1", undefined);
    writeFileSync(join(dir, "hosts.yaml"), 'uri_template: "qemu+ssh://{host}/system"\n');
    const libvirt = new FakeDriver({ "plain-1": "hv01" });
    const r = await run(platformsFile(), {}, libvirt);
    expect(r.code).toBe(0);
    expect(libvirt.at.get("plain-1")?.host).toBe("hv02");
    expect(nova.requests).toHaveLength(0);
  });

  it("a libvirt VM on a host without a libvirt URI: failed, saying so", async () => {
    planFile("plain-1", undefined);
    await expect(run(platformsFile())).rejects.toThrow(
      /moves\[0\]\.from: unknown host "hv01" \(not in the hosts file .*: add it under hosts: or set uri_template\)/,
    );
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
