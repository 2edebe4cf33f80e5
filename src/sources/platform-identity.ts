/**
 * The I/O of platform identity (parsing is in src/platforms): each new domain's XML from
 * libvirt, a Proxmox guest's config from /etc/pve. Run at discovery for domains not seen
 * before, never per sweep.
 */
import type * as FsPromises from "node:fs/promises";
import { join } from "node:path";
import { lazyBuiltin } from "../util/lazy-builtin.js";
import { pveConfigPath } from "../platforms/proxmox/identity.js";
import type { VirshResult } from "../libvirt/virsh.js";

/** Loaded when a Proxmox config is read: never by a domstats (~2 ms of its start). */
const fsp = lazyBuiltin<typeof FsPromises>("node:fs/promises");

/** Domains per virsh run. */
const XML_BATCH = 50;

/**
 * `virsh dumpxml UUID` for each UUID, in batches of one virsh run (`dumpxml A; echo SEP;
 * dumpxml B; …`, split on a random separator a domain's XML cannot predict). A domain that
 * vanished in between is simply not in the result.
 */
export async function dumpDomainXmls(
  virsh: (args: string[]) => Promise<VirshResult>,
  uuids: readonly string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < uuids.length; i += XML_BATCH) {
    const batch = uuids.slice(i, i + XML_BATCH);
    // the global Web Crypto (loaded when first used), not node:crypto at every start
    const sep = `vsteal-${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex")}`;
    const res = await virsh([batch.map((u) => `dumpxml ${u}`).join(`; echo ${sep}; `)]);
    const parts = res.stdout.split(sep);
    if (parts.length !== batch.length) continue; // not what virsh prints: read nothing rather than mismatch
    batch.forEach((u, j) => {
      const xml = parts[j]?.trim() ?? "";
      if (xml !== "") out.set(u, xml);
    });
  }
  return out;
}

/** Longest Proxmox VM config read (they are a few hundred bytes; the rest is ignored). */
const MAX_PVE_CONFIG = 64 * 1024;

/** The text of `<pveRoot>/qemu-server/<vmid>.conf`, or null when it is not there or not readable. */
export async function readPveConfig(pveRoot: string, vmid: number): Promise<string | null> {
  let fh;
  try {
    fh = await fsp().open(join(pveRoot, pveConfigPath(vmid)), "r");
    const buf = Buffer.alloc(MAX_PVE_CONFIG);
    const { bytesRead } = await fh.read(buf, 0, MAX_PVE_CONFIG, 0);
    return buf.toString("utf8", 0, bytesRead);
  } catch {
    return null; // not a Proxmox node, or /etc/pve not readable by this user
  } finally {
    await fh?.close();
  }
}
