/**
 * The snapshot's `platform` of a VM from the labels of its `vsteal_domain_info` series (the
 * agent writes them from src/platforms/labels.ts). Pure.
 */
import type { FleetPlatform } from "../model/fleet.js";

const KINDS = new Set(["openstack", "proxmox", "kubevirt"]);

/** null for libvirt-only VMs and for labels that do not make a valid owner. */
export function platformFromInfoLabels(l: Readonly<Record<string, string | undefined>>): FleetPlatform | null {
  const kind = l.platform ?? "";
  if (!KINDS.has(kind)) return null;
  const p: FleetPlatform = { kind: kind as FleetPlatform["kind"] };
  if (l.instance_id) p.id = l.instance_id;
  if (l.instance_name) p.name = l.instance_name;
  if (l.project_name) p.project = l.project_name;
  if (l.namespace) p.namespace = l.namespace;
  // The Nova instance UUID is the domain's.
  if (kind === "openstack" && !p.id && l.uuid) p.id = l.uuid;
  if (kind === "proxmox" && !(p.id && /^\d{1,9}$/.test(p.id))) return null;
  if (kind === "kubevirt" && !(p.namespace && p.name)) return null;
  return p;
}
