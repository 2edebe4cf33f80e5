import { LibvirtUnavailableError, SourceError } from "./errors.js";
import { LibvirtSource } from "./libvirt.js";
import { QemuSource } from "./qemu.js";
import type { DomainSource } from "./source.js";
import type { MetadataPick } from "../platforms/metadata-picks.js";

export type SourceName = "libvirt" | "qemu" | "auto";

export interface SourceOptions {
  source?: SourceName;
  /** libvirt URI (--connect). */
  uri?: string;
  procRoot?: string;
  virsh?: string;
  /** Elements of each domain's `<metadata>` to report (libvirt). */
  metadataPicks?: readonly MetadataPick[];
  /** Where Proxmox's /etc/pve is (plain QEMU). */
  pveRoot?: string;
}

/**
 * Picks the source of domains: libvirt when asked for, qemu when asked for; `auto` tries
 * libvirt and falls back to plain QEMU processes when libvirt is absent or unreachable.
 */
export async function openSource(opts: SourceOptions = {}): Promise<DomainSource> {
  const which = opts.source ?? "auto";
  if (which === "qemu") return new QemuSource(opts.procRoot, opts.pveRoot);
  const lv = new LibvirtSource({
    uri: opts.uri,
    procRoot: opts.procRoot,
    virsh: opts.virsh,
    metadataPicks: opts.metadataPicks,
  });
  if (which === "libvirt") return lv;
  try {
    await lv.ping();
    return lv;
  } catch (e) {
    if (e instanceof LibvirtUnavailableError || (e instanceof SourceError && /virsh not found/.test(e.message))) {
      return new QemuSource(opts.procRoot, opts.pveRoot);
    }
    throw e;
  }
}
