/**
 * Live migration of a Proxmox VE guest through Proxmox's API (Proxmox runs no libvirt), behind
 * the executor's MigrationDriver interface, so limits, recheck, timeout, audit log and
 * post-check are the executor's:
 *
 * - find: the guest (the plan's `platform.id`, the VMID) is on host h when
 *   `/cluster/resources` puts it on h's node (`proxmox.nodes` maps plan host names);
 * - migrate: `POST /nodes/{node}/qemu/{vmid}/migrate` with `target` and `online=1`, then the
 *   task is polled until it stops: done when its exit status is OK;
 * - jobInfo: the task log's last "transferred X of Y VM-state";
 * - abort: `DELETE /nodes/{node}/tasks/{upid}` stops the task; the guest stays on its node.
 */
import type { DomainRef, MigrationDriver, MigrationHandle } from "../../migrate/driver.js";
import type { HostEndpoint } from "../../migrate/hosts.js";
import type { JobProgress } from "../../migrate/jobinfo.js";
import { sleep, stateOf, type OwnerOf } from "../owners.js";
import { taskProgress, type ProxmoxApi } from "./api.js";

export interface ProxmoxDriverOptions {
  owner: OwnerOf;
  /** Plan host name → Proxmox node. */
  nodes: Record<string, string>;
  /** How often the task is polled (default 2 s). */
  pollMs?: number;
}

const MAX_POLL_FAILURES = 5;
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
/** DomainRef.uuid of a guest: its VMID, marked (Proxmox has no libvirt UUID to offer). */
const refId = (vmid: number): string => `proxmox-vmid-${vmid}`;

export function proxmoxDriver(api: ProxmoxApi, o: ProxmoxDriverOptions): MigrationDriver {
  const nodeOf = (h: { name: string }): string => o.nodes[h.name] ?? h.name;
  const pollMs = o.pollMs ?? 2000;
  /** Running migration tasks by DomainRef.uuid. */
  const tasks = new Map<string, { node: string; upid: string }>();
  const vmidOf = (vm: string): number => {
    const p = o.owner(vm);
    if (p?.kind !== "proxmox" || !p.id || !/^\d{1,9}$/.test(p.id))
      throw new Error(`${vm}: the plan gives no Proxmox VMID (platform.id) for it`);
    return Number(p.id);
  };

  return {
    // Proxmox VE places the instance on the target itself (its own CPU sets): vsteal never rewrites it.
    managesPlacement: () => true,
    domainXml: () =>
      Promise.reject(new Error("Proxmox VE owns this VM's definition: vsteal does not read or rewrite its XML")),
    async find(h: HostEndpoint, name: string): Promise<DomainRef | null> {
      const vmid = vmidOf(name);
      const g = (await api.guests()).find((x) => x.vmid === vmid);
      if (!g || g.node !== nodeOf(h)) return null;
      return { uuid: refId(vmid), name, state: g.lock === "migrate" ? "migrating" : stateOf(g.status) };
    },

    migrate(dom: DomainRef, from: HostEndpoint, to: HostEndpoint): MigrationHandle {
      const vmid = vmidOf(dom.name);
      const node = nodeOf(from);
      const target = nodeOf(to);
      let stopped = false;
      const done = (async (): Promise<{ ok: boolean; error: string }> => {
        let upid: string;
        try {
          upid = await api.migrate(node, vmid, target);
        } catch (e) {
          return { ok: false, error: errText(e) };
        }
        tasks.set(dom.uuid, { node, upid });
        try {
          let failures = 0;
          while (!stopped) {
            await sleep(pollMs);
            if (stopped) break;
            let t;
            try {
              t = await api.task(node, upid);
              failures = 0;
            } catch (e) {
              if (++failures >= MAX_POLL_FAILURES)
                return { ok: false, error: `lost track of task ${upid}: ${errText(e)}` };
              continue;
            }
            if (t.running) continue;
            if (t.exitstatus === "OK") return { ok: true, error: "" };
            const errs = (await api.taskLog(node, upid).catch(() => []))
              .filter((l) => /\bERROR\b/.test(l) && !/TASK ERROR/.test(l))
              .map((l) => l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, ""))
              .slice(0, 2);
            return {
              ok: false,
              error: `task ${upid} failed: ${t.exitstatus ?? "no exit status"}${errs.length ? ` (${errs.join("; ")})` : ""}`,
            };
          }
          return { ok: false, error: "stopped waiting for Proxmox VE" };
        } finally {
          tasks.delete(dom.uuid);
        }
      })();
      return {
        command: ["POST", `/nodes/${node}/qemu/${vmid}/migrate`, `target=${target}&online=1`],
        done,
        kill: () => {
          stopped = true;
        },
      };
    },

    async jobInfo(_h: HostEndpoint, uuid: string): Promise<JobProgress | null> {
      const t = tasks.get(uuid);
      if (!t) return null;
      const p = taskProgress(await api.taskLog(t.node, t.upid).catch(() => []));
      return {
        type: "running",
        processed: p?.processed ?? null,
        remaining: p ? Math.max(0, p.total - p.processed) : null,
        total: p?.total ?? null,
        elapsedMs: null,
      };
    },

    async abort(_h: HostEndpoint, uuid: string): Promise<string | null> {
      const t = tasks.get(uuid);
      if (!t) return "no migration task of this guest is running (yet)";
      try {
        return await api.stopTask(t.node, t.upid);
      } catch (e) {
        return errText(e);
      }
    },
  };
}
