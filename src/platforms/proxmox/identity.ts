/**
 * Who a Proxmox VE guest is: its VMID (`-id`, an option only Proxmox's QEMU has) and name
 * (`-name`) from the QEMU command line, plus `tags`, `cpulimit` and `cpuunits` from its config
 * `/etc/pve/qemu-server/<vmid>.conf` when that is readable. Pure.
 */
import type { PlatformIdentity } from "../../model/types.js";
import type { Warnings } from "../values.js";

/** The config file of a VMID, relative to the pmxcfs mount (/etc/pve). */
export const pveConfigPath = (vmid: number): string => `qemu-server/${vmid}.conf`;

export function proxmoxIdentity(vmid: number, name: string | null, w: Warnings): PlatformIdentity {
  const id: PlatformIdentity = { kind: "proxmox", id: String(vmid) };
  const n = w.take(name, "-name");
  if (n !== undefined) id.name = n;
  return id;
}

export interface PveConfig {
  name?: string;
  tags?: string[];
  cpulimit?: number;
  cpuunits?: number;
}

/**
 * The current configuration's `name`, `tags`, `cpulimit` and `cpuunits` (the lines before the
 * first `[snapshot]` section). Tags are separated by `;` (also `,` or spaces, as Proxmox reads
 * them). Lines that are not `key: value` are ignored.
 */
export function parsePveConfig(text: string, w: Warnings): PveConfig {
  const out: PveConfig = {};
  for (const line of text.split("\n")) {
    if (line.startsWith("[")) break; // snapshots and pending changes follow
    const m = /^([a-z][a-z0-9_-]*):\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const [, key, value = ""] = m;
    switch (key) {
      case "name": {
        const v = w.take(value, "name");
        if (v !== undefined) out.name = v;
        break;
      }
      case "tags": {
        const tags = value
          .split(/[;, ]+/)
          .filter((t) => t !== "")
          .slice(0, 64)
          .map((t, i) => w.take(t, `tags[${i}]`))
          .filter((t): t is string => t !== undefined);
        if (tags.length) out.tags = tags;
        break;
      }
      case "cpulimit": {
        const v = w.num(value, "cpulimit", 0, 8192);
        if (v !== undefined) out.cpulimit = v;
        break;
      }
      case "cpuunits": {
        const v = w.int(value, "cpuunits", 1, 262_144);
        if (v !== undefined) out.cpuunits = v;
        break;
      }
    }
  }
  return out;
}

/** The identity with what the config adds (the config's name wins over -name: it is the source). */
export function withPveConfig(id: PlatformIdentity, c: PveConfig): PlatformIdentity {
  return {
    ...id,
    ...(c.name !== undefined ? { name: c.name } : {}),
    ...(c.tags ? { tags: c.tags } : {}),
    ...(c.cpulimit !== undefined ? { cpulimit: c.cpulimit } : {}),
    ...(c.cpuunits !== undefined ? { cpuunits: c.cpuunits } : {}),
  };
}
