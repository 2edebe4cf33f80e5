/** Platform identity where people and tools meet a VM: top, alert payloads, plans, snapshots, routing. */
import { describe, expect, it } from "vitest";
import { AlertEngine } from "../alerts/engine.js";
import { DEFAULT_RULES } from "../alerts/rules.js";
import { hostSummary } from "../analysis/host.js";
import { RateWindow } from "../analysis/window.js";
import { formatPlanText } from "../cli/plan.js";
import { renderTop } from "../cli/top-render.js";
import { defaultView, vmRows } from "../cli/top-view-model.js";
import { MemoryAuditLog } from "../migrate/audit-log.js";
import { executePlan } from "../migrate/executor.js";
import { migrateHosts } from "../migrate/hosts.js";
import { formatPlanJson, parsePlan, parseSnapshot, type FleetSnapshot, type Plan } from "../model/fleet.js";
import type { DomainInfo, PlatformIdentity, RatesSample } from "../model/types.js";
import { plan } from "../planner/index.js";
import { FakeDriver } from "../../test/support/fake-driver.js";
import { markUnmovable, Owners, routedDriver, withOwnerDetails } from "./route.js";
import { platformFromInfoLabels } from "./snapshot.js";

const NOVA: PlatformIdentity = {
  kind: "openstack",
  id: "0b7c1e2d-3f4a-4b5c-8d9e-0f1a2b3c4d5e",
  name: "web-1",
  project: "shop",
  user: "alice",
};

function ratesOf(platform?: PlatformIdentity): RatesSample {
  const domain: DomainInfo = {
    name: "instance-0000a1b2",
    uuid: NOVA.id!,
    id: 3,
    state: "running",
    vcpuCurrent: 1,
    vcpuMaximum: 1,
    pid: 4242,
    source: "libvirt",
    ...(platform ? { platform } : {}),
  };
  return {
    wallMs: Date.UTC(2026, 11, 1, 12),
    intervalS: 5,
    problems: [],
    domains: [
      { domain, intervalS: 5, vcpus: [{ vcpu: 0, tid: 4243, usage: 0.5, delay: 0.3, throttled: 0, contention: 0.3 }] },
    ],
  };
}

describe("vsteal top", () => {
  it("shows the platform's name beside libvirt's, as text", () => {
    const r = ratesOf({ ...NOVA, name: "web-1\u001b[31m" });
    const w = new RateWindow(60);
    w.add(r);
    const frame = { wallMs: r.wallMs, host: hostSummary(r, 2), vms: vmRows(r, w.values(), [], 2) };
    const lines = renderTop(frame, defaultView({ width: 100 }));
    const row = lines.find((l) => l.startsWith("instance-0000a1b2"))!;
    expect(row).toMatch(/^instance-0000a1b2 \[web-1\\e\[31m \(project shop\)\] +1 /);
  });
});

describe("alert payloads", () => {
  it("a VM's alert event (the webhook's JSON body) carries its platform identity", () => {
    const engine = new AlertEngine(
      DEFAULT_RULES.filter((x) => x.metric === "vcpu_contention").map((x) => ({ ...x, forMs: 0 })),
    );
    const r = ratesOf(NOVA);
    const events = engine.evaluate({ rates: r, host: { cpus: 2, demand: 1, capacity: 2, stealTotal: 0.3 } }, r.wallMs);
    expect(events).toHaveLength(1);
    expect(events[0]!.subject).toEqual({ domain: "instance-0000a1b2", uuid: NOVA.id, vcpu: 0, platform: NOVA });
    expect(JSON.parse(JSON.stringify(events[0])).subject.platform.project).toBe("shop");
  });
});

const snapshot = (): FleetSnapshot =>
  parseSnapshot({
    version: 1,
    time: "2026-12-01T12:00:00Z",
    window_s: 300,
    hosts: [
      { name: "hv01", cpus: 4, memory_mib: 65536 },
      { name: "hv02", cpus: 16, memory_mib: 65536 },
    ],
    vms: [
      {
        name: "instance-0000a1b2",
        uuid: NOVA.id,
        host: "hv01",
        vcpus: 2,
        memory_mib: 2048,
        usage: [0.9, 0.9],
        delay: [0.4, 0.4],
        platform: { kind: "openstack", id: NOVA.id, name: "web-1", project: "shop", extra_field: "ignored" },
      },
      {
        name: "busy-2",
        host: "hv01",
        vcpus: 4,
        memory_mib: 2048,
        usage: [0.9, 0.9, 0.9, 0.9],
        delay: [0.4, 0.4, 0.4, 0.4],
      },
    ],
  });

describe("snapshots and plans", () => {
  it("the snapshot's platform is validated, the planner copies it onto the move, the plan's JSON and table keep it", () => {
    const p = plan(snapshot(), { policy: "contention" });
    const mv = p.moves.find((m) => m.vm === "instance-0000a1b2");
    expect(mv?.platform).toEqual({ kind: "openstack", id: NOVA.id, name: "web-1", project: "shop" });
    const again = parsePlan(JSON.parse(formatPlanJson(p)));
    expect(again.moves.find((m) => m.vm === "instance-0000a1b2")?.platform).toEqual(mv?.platform);
    expect(formatPlanText(p)).toMatch(
      / {2}OWNER\n(.|\n)*instance-0000a1b2 +hv01 +hv02 +openstack web-1 \(project shop\)\n/,
    );
  });

  it("refuses a malformed platform with the field", () => {
    const bad = JSON.parse(JSON.stringify(snapshot())) as { vms: Array<{ platform?: unknown }> };
    bad.vms[0]!.platform = { kind: "vmware" };
    expect(() => parseSnapshot(bad)).toThrow(
      /vms\[0\]\.platform\.kind: expected one of "openstack", "proxmox", "kubevirt", "libvirt", got "vmware"/,
    );
    bad.vms[0]!.platform = { kind: "proxmox", id: "db" };
    expect(() => parseSnapshot(bad)).toThrow(
      /vms\[0\]\.platform\.id: a proxmox VM needs its VMID as id \(digits\), got "db"/,
    );
  });

  it("the snapshot builder's platform from vsteal_domain_info labels", () => {
    expect(
      platformFromInfoLabels({ platform: "openstack", uuid: NOVA.id, instance_name: "web-1", project_name: "shop" }),
    ).toEqual({ kind: "openstack", id: NOVA.id, name: "web-1", project: "shop" });
    expect(platformFromInfoLabels({ platform: "proxmox", instance_id: "104", instance_name: "db" })).toEqual({
      kind: "proxmox",
      id: "104",
      name: "db",
    });
    expect(platformFromInfoLabels({ platform: "kubevirt", namespace: "prod", instance_name: "vm-a" })).toEqual({
      kind: "kubevirt",
      namespace: "prod",
      name: "vm-a",
    });
    expect(platformFromInfoLabels({ platform: "libvirt" })).toBeNull();
    expect(platformFromInfoLabels({ platform: "proxmox", instance_id: "x" })).toBeNull();
  });

  it("apply mode: a VM whose owner has no driver is planned around, with one note each", () => {
    const s = snapshot();
    const notes = markUnmovable(s, new Set());
    expect(notes).toEqual([
      expect.stringMatching(
        /^not migratable: instance-0000a1b2 is an OpenStack Nova instance \(web-1 \(project shop\)\): moving it through plain libvirt/,
      ),
    ]);
    expect(plan(s, { policy: "contention" }).moves.some((m) => m.vm === "instance-0000a1b2")).toBe(false);
    const t = snapshot();
    expect(markUnmovable(t, new Set(["openstack"]))).toEqual([]);
    expect(t.vms[0]!.migratable).toBe(true);
  });
});

describe("routing", () => {
  const move = (platform?: Plan["moves"][number]["platform"]): Plan => ({
    version: 1,
    moves: [{ vm: "instance-0000a1b2", from: "hv01", to: "hv02", reason: "r", ...(platform ? { platform } : {}) }],
    predicted: { steal_before: 1, steal_after: 0 },
    explanation: "",
  });
  const hosts = migrateHosts({ uri_template: "qemu+ssh://{host}/system" });

  it("a plan that does not say who owns a VM: the domain XML does, and the move goes to Nova, not libvirt", async () => {
    const p = move();
    const libvirt = new FakeDriver({ "instance-0000a1b2": "hv01" });
    const nova = new FakeDriver({ "instance-0000a1b2": "hv01" });
    const owners = new Owners(p);
    const audit = new MemoryAuditLog();
    const res = await executePlan(p, {
      planId: "t",
      hosts,
      driver: routedDriver({ libvirt, drivers: { openstack: nova }, owners, probe: async () => NOVA }),
      audit: withOwnerDetails(audit, p, owners),
      actor: "test",
      recheck: null,
      pollMs: 5,
    });
    expect(res.outcomes[0]?.result).toBe("ok");
    expect(nova.log).toEqual(["start instance-0000a1b2 hv01->hv02"]);
    expect(libvirt.log).toEqual([]);
    expect(audit.entries.find((e) => e.action === "migrate" && e.result === "ok")?.details?.platform).toEqual({
      kind: "openstack",
      id: libvirt.at.get("instance-0000a1b2")!.uuid,
      name: "web-1",
      project: "shop",
    });
  });

  it("…and without a Nova driver it is refused, not moved through libvirt", async () => {
    const p = move();
    const libvirt = new FakeDriver({ "instance-0000a1b2": "hv01" });
    const res = await executePlan(p, {
      planId: "t",
      hosts,
      driver: routedDriver({ libvirt, drivers: {}, owners: new Owners(p), probe: async () => NOVA }),
      audit: new MemoryAuditLog(),
      actor: "test",
      recheck: null,
      pollMs: 5,
    });
    expect(res.outcomes[0]?.result).toBe("failed");
    expect(res.outcomes[0]?.reason).toMatch(
      /is an OpenStack Nova instance \(web-1 \(project shop\)\): moving it through plain libvirt would leave Nova's database pointing at the wrong host/,
    );
    expect(libvirt.log).toEqual([]);
    expect(libvirt.at.get("instance-0000a1b2")?.host).toBe("hv01");
  });
});
