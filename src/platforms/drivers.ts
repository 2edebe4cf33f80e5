/**
 * Wiring for `vsteal apply` and the controller: the platforms file's APIs (made once, so a
 * token outlives a plan), and per plan a router over libvirt and the configured drivers.
 */
import type { Plan } from "../model/fleet.js";
import type { PlatformIdentity } from "../model/types.js";
import type { AuditSink } from "../migrate/audit-log.js";
import type { MigrationDriver } from "../migrate/driver.js";
import type { HostEndpoint } from "../migrate/hosts.js";
import { execVirsh, virshRun, type VirshRunner } from "../migrate/virsh.js";
import type { PlatformsConfig } from "./config.js";
import { identityFromDomainXml } from "./identity.js";
import { OpenstackApi } from "./openstack/api.js";
import { novaDriver } from "./openstack/driver.js";
import { ProxmoxApi } from "./proxmox/api.js";
import { proxmoxDriver } from "./proxmox/driver.js";
import { Owners, refusalReason, routedDriver, withOwnerDetails, type PlatformDrivers } from "./route.js";

export interface PlatformWiringOptions {
  /** The libvirt driver (default: virsh). */
  libvirt: MigrationDriver;
  /** For the domain XML probe (default: virsh). */
  runner?: VirshRunner;
  fetch?: typeof fetch;
  /** Poll interval of the platform drivers (default 2 s). */
  pollMs?: number;
  /** Read a libvirt VM's domain XML before moving it, in case the plan does not say who owns it (default true). */
  probe?: boolean;
}

/** The domain's platform identity from `virsh dumpxml` on its host, or undefined. */
export function virshProbe(
  runner: VirshRunner = execVirsh(),
): (h: HostEndpoint, uuid: string) => Promise<PlatformIdentity | undefined> {
  return async (h, uuid) => {
    const r = await virshRun(runner, h.uri, ["dumpxml", "--domain", uuid], 30_000);
    return r.code === 0 ? identityFromDomainXml(r.stdout).platform : undefined;
  };
}

export class PlatformWiring {
  private readonly nova: OpenstackApi | null;
  private readonly pve: ProxmoxApi | null;
  readonly configured: ReadonlySet<string>;

  constructor(
    readonly cfg: PlatformsConfig | null,
    private readonly o: PlatformWiringOptions,
  ) {
    const http = { timeoutMs: cfg?.requestTimeoutMs ?? 30_000, fetch: o.fetch, file: cfg?.file };
    this.nova = cfg?.openstack ? new OpenstackApi(cfg.openstack, http) : null;
    this.pve = cfg?.proxmox ? new ProxmoxApi(cfg.proxmox, http) : null;
    this.configured = new Set([...(this.nova ? ["openstack"] : []), ...(this.pve ? ["proxmox"] : [])]);
  }

  /** One line per move whose VM's owner has no driver here (nothing may start then). */
  refusals(plan: Plan): string[] {
    return plan.moves.flatMap((m) => {
      const why = m.platform ? refusalReason(m.vm, m.platform, this.configured) : null;
      return why ? [why] : [];
    });
  }

  /** The driver and audit sink for one plan's moves. */
  forPlan(plan: Plan, audit: AuditSink): { driver: MigrationDriver; audit: AuditSink } {
    const owners = new Owners(plan);
    const drivers: PlatformDrivers = {};
    if (this.nova && this.cfg?.openstack)
      drivers.openstack = novaDriver(this.nova, {
        owner: owners.get,
        hosts: this.cfg.openstack.hosts,
        pollMs: this.o.pollMs,
      });
    if (this.pve && this.cfg?.proxmox)
      drivers.proxmox = proxmoxDriver(this.pve, {
        owner: owners.get,
        nodes: this.cfg.proxmox.nodes,
        pollMs: this.o.pollMs,
      });
    return {
      driver: routedDriver({
        libvirt: this.o.libvirt,
        drivers,
        owners,
        probe: this.o.probe === false ? undefined : virshProbe(this.o.runner),
      }),
      audit: withOwnerDetails(audit, plan, owners),
    };
  }
}
