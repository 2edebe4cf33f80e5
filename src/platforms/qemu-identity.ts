/**
 * The identity of a plain QEMU process, from its command line and (Proxmox) its VM config: no
 * XML here, so that a plain-QEMU host never loads the XML parser (identity.ts reads libvirt's
 * domain XML).
 */
import type { PlatformIdentity } from "../model/types.js";
import { isKubevirtArgv, kubevirtIdentity } from "./kubevirt/identity.js";
import { parsePveConfig, proxmoxIdentity, withPveConfig } from "./proxmox/identity.js";
import { Warnings } from "./values.js";

export interface IdentityResult {
  /** undefined: nothing known beyond libvirt's own name and UUID. */
  platform: PlatformIdentity | undefined;
  /** Values cut or cleaned, metadata that could not be read: one line each. */
  warnings: string[];
}

export interface QemuArgvFacts {
  /** The name discovery gave the VM (-name, else the VMID). */
  name: string;
  /** Proxmox's `-id`, or null. */
  vmid: number | null;
  /** -name as given, or null. */
  qemuName: string | null;
}

/** The identity of a plain QEMU process: Proxmox (`-id`) or KubeVirt (virt-launcher). */
export function identityFromQemuArgv(argv: readonly string[], f: QemuArgvFacts): IdentityResult {
  const w = new Warnings();
  if (f.vmid !== null) return { platform: proxmoxIdentity(f.vmid, f.qemuName, w), warnings: w.list };
  if (isKubevirtArgv(argv)) {
    const k = kubevirtIdentity(f.name);
    if (k) return { platform: k, warnings: [] };
  }
  return { platform: undefined, warnings: [] };
}

/** A Proxmox identity completed with its VM config's text (`/etc/pve/qemu-server/<vmid>.conf`). */
export function withProxmoxConfig(id: PlatformIdentity, configText: string): IdentityResult {
  const w = new Warnings();
  const c = parsePveConfig(configText, w);
  return { platform: withPveConfig(id, c), warnings: w.list.map((x) => `qemu-server/${id.id ?? "?"}.conf: ${x}`) };
}
