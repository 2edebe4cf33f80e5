/**
 * Moves go through the VM's owner. The router is the executor's MigrationDriver: a VM the plan
 * (or its domain XML) says a platform owns goes to that platform's driver, or is refused with
 * one clear reason when there is none; every other VM goes to libvirt.
 */
import type { FleetPlatform, FleetSnapshot, Plan } from "../model/fleet.js";
import type { PlatformIdentity } from "../model/types.js";
import type { AuditEntry, AuditSink } from "../migrate/audit-log.js";
import { HostUnreachableError, type DomainRef, type MigrationDriver } from "../migrate/driver.js";
import type { HostEndpoint, MigrateHosts } from "../migrate/hosts.js";
import { identitySummary } from "./labels.js";

export type DriverKind = "openstack" | "proxmox";
export type PlatformDrivers = Partial<Record<DriverKind, MigrationDriver>>;

export class PlatformRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlatformRefusedError";
  }
}

const who = (p: FleetPlatform): string => identitySummary(p) || p.id || "";

/** Why a VM owned by `p` cannot be moved here, or null when a driver for it is configured. */
export function refusalReason(vm: string, p: FleetPlatform, configured: ReadonlySet<string>): string | null {
  switch (p.kind) {
    case "libvirt":
      return null;
    case "kubevirt":
      return `${vm} is a KubeVirt VM (${who(p)}): KubeVirt moves it (a VirtualMachineInstanceMigration); vsteal never moves it through libvirt`;
    case "openstack":
      return configured.has("openstack")
        ? null
        : `${vm} is an OpenStack Nova instance (${who(p)}): moving it through plain libvirt would leave Nova's database pointing at the wrong host; add openstack: to the platforms file (--platforms FILE) to move it through Nova`;
    case "proxmox":
      return configured.has("proxmox")
        ? null
        : `${vm} is a Proxmox VE guest (${who(p)}): Proxmox moves it, not libvirt; add proxmox: to the platforms file (--platforms FILE) to move it through Proxmox VE`;
  }
}

/** Owners of a plan's VMs, to which the router adds what it learns from domain XML. */
export class Owners {
  private readonly m = new Map<string, FleetPlatform>();
  constructor(plan: Plan) {
    for (const mv of plan.moves) if (mv.platform && mv.platform.kind !== "libvirt") this.m.set(mv.vm, mv.platform);
  }
  readonly get = (vm: string): FleetPlatform | undefined => this.m.get(vm);
  learn(vm: string, p: FleetPlatform): void {
    this.m.set(vm, p);
  }
}

export interface RouterOptions {
  libvirt: MigrationDriver;
  drivers: PlatformDrivers;
  owners: Owners;
  /** The platform identity in a libvirt domain's XML (a plan may not say who owns a VM). */
  probe?: (h: HostEndpoint, uuid: string) => Promise<PlatformIdentity | undefined>;
}

export function routedDriver(o: RouterOptions): MigrationDriver {
  const configured = new Set(Object.keys(o.drivers));
  const byRef = new Map<string, MigrationDriver>();
  const probed = new Set<string>();
  const driverOf = (uuid: string): MigrationDriver => byRef.get(uuid) ?? o.libvirt;

  const findOwned = async (h: HostEndpoint, name: string, p: FleetPlatform): Promise<DomainRef | null> => {
    const why = refusalReason(name, p, configured);
    if (why) throw new PlatformRefusedError(why);
    const d = o.drivers[p.kind as DriverKind]!;
    const r = await d.find(h, name);
    if (r) byRef.set(r.uuid, d);
    return r;
  };

  return {
    async find(h, name) {
      const p = o.owners.get(name);
      if (p) return findOwned(h, name, p);
      if (h.uri === "")
        throw new HostUnreachableError(
          h.name,
          `${h.name}: no libvirt URI in the hosts file (add it under hosts:, or set uri_template)`,
        );
      const r = await o.libvirt.find(h, name);
      if (r && o.probe && !probed.has(r.uuid)) {
        probed.add(r.uuid);
        const id = await o.probe(h, r.uuid).catch(() => undefined);
        if (id && id.kind !== "libvirt") {
          // The plan did not say, the domain does: learn it, and go through the owner.
          const learned: FleetPlatform = {
            kind: id.kind,
            ...(id.kind === "openstack" ? { id: r.uuid } : id.id ? { id: id.id } : {}),
            ...(id.name ? { name: id.name } : {}),
            ...(id.project ? { project: id.project } : {}),
            ...(id.namespace ? { namespace: id.namespace } : {}),
          };
          o.owners.learn(name, learned);
          return findOwned(h, name, learned);
        }
      }
      return r;
    },
    domainXml: (h, uuid, inactive) => driverOf(uuid).domainXml(h, uuid, inactive),
    managesPlacement: (uuid) => driverOf(uuid) !== o.libvirt,
    migrate: (dom, from, to, xml) => driverOf(dom.uuid).migrate(dom, from, to, xml),
    jobInfo: (h, uuid) => driverOf(uuid).jobInfo(h, uuid),
    abort: (h, uuid) => driverOf(uuid).abort(h, uuid),
  };
}

/**
 * The hosts file's endpoints, and for hosts it does not list, an endpoint without a libvirt
 * URI (a Proxmox node, a Nova compute host): the router refuses libvirt moves on those.
 */
export function withPlatformHosts(hosts: MigrateHosts): MigrateHosts {
  return {
    endpoint: (host) =>
      hosts.endpoint(host) ?? { name: host, uri: "", peerUri: "", migrateUri: null, p2p: true, vmCpus: null },
    limits: hosts.limits,
    timeoutS: hosts.timeoutS,
  };
}

/** Audit entries of a move carry its VM's owner (`details.platform`). */
export function withOwnerDetails(audit: AuditSink, plan: Plan, owners?: Owners): AuditSink {
  return {
    write(e: AuditEntry) {
      const mv = e.move !== null ? plan.moves[e.move] : undefined;
      const p = mv ? (owners?.get(mv.vm) ?? mv.platform) : undefined;
      audit.write(p && p.kind !== "libvirt" ? { ...e, details: { ...(e.details ?? {}), platform: p } } : e);
    },
  };
}

/**
 * VMs whose owner has no driver here are not migratable (the planner plans around them), with
 * one note each; returns the notes.
 */
export function markUnmovable(snapshot: FleetSnapshot, configured: ReadonlySet<string>): string[] {
  const notes: string[] = [];
  for (const vm of snapshot.vms) {
    if (!vm.platform || !vm.migratable) continue;
    const why = refusalReason(vm.name, vm.platform, configured);
    if (why) {
      vm.migratable = false;
      notes.push(`not migratable: ${why}`);
    }
  }
  return notes;
}
