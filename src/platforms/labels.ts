/**
 * A VM's platform identity as the labels of its info series, `vsteal_domain_info{uuid, domain,
 * platform, instance_name, project_name, …} 1`: one series per VM, joined on `uuid` (and
 * `domain`, `instance`) with `group_left`, so the per-vCPU series never carry them. Pure.
 */
import type { PlatformIdentity } from "../model/types.js";

/** The label names, in the order they are written; `meta_<key>` labels follow. */
export const INFO_LABELS = [
  "platform",
  "instance_id",
  "instance_name",
  "project_name",
  "project_id",
  "user_name",
  "user_id",
  "flavor_name",
  "flavor_vcpus",
  "flavor_memory_mib",
  "namespace",
  "tags",
  "cpulimit",
  "cpuunits",
] as const;

/**
 * Label name → value for an identity; empty values left out. `undefined`: nothing known, and
 * `platform` says who runs the VM (`libvirt`, or `qemu` for a plain QEMU process).
 */
export function identityLabels(
  p: PlatformIdentity | undefined,
  unknown: "libvirt" | "qemu" = "libvirt",
): Array<[string, string]> {
  if (!p) return [["platform", unknown]];
  const v: Record<(typeof INFO_LABELS)[number], string | number | undefined> = {
    platform: p.kind,
    instance_id: p.id,
    instance_name: p.name,
    project_name: p.project,
    project_id: p.project_id,
    user_name: p.user,
    user_id: p.user_id,
    flavor_name: p.flavor,
    flavor_vcpus: p.flavor_vcpus,
    flavor_memory_mib: p.flavor_memory_mib,
    namespace: p.namespace,
    tags: p.tags?.join(";"),
    cpulimit: p.cpulimit,
    cpuunits: p.cpuunits,
  };
  const out: Array<[string, string]> = [];
  for (const k of INFO_LABELS) {
    const x = v[k];
    if (x !== undefined && x !== "") out.push([k, String(x)]);
  }
  for (const [k, x] of Object.entries(p.metadata ?? {}).sort(([a], [b]) => a.localeCompare(b)))
    out.push([`meta_${k}`, x]);
  return out;
}

/** One line a person reads: "openstack web-1 (project shop)", "proxmox 104 db", "kubevirt prod/vm-a". */
export function identitySummary(p: PlatformIdentity | undefined): string {
  if (!p || p.kind === "libvirt") return "";
  switch (p.kind) {
    case "openstack":
      return [p.name ?? p.id ?? "", p.project ? `(project ${p.project})` : ""].filter((s) => s !== "").join(" ");
    case "proxmox":
      return [`VMID ${p.id ?? "?"}`, p.name ?? ""].filter((s) => s !== "").join(" ");
    case "kubevirt":
      return `${p.namespace ?? "?"}/${p.name ?? "?"}`;
  }
}
