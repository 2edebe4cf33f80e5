/**
 * Live migration of a Nova instance through Nova (never behind its back, which would leave
 * Nova's database pointing at the wrong host), behind the executor's MigrationDriver
 * interface, so limits, recheck, timeout, audit log and post-check are the executor's:
 *
 * - find: the instance (the plan's `platform.id`, the Nova UUID) is on host h when Nova's
 *   `OS-EXT-SRV-ATTR:host` is h's compute host (`openstack.hosts` maps plan host names);
 * - migrate: `os-migrateLive` to the target's compute host with block_migration `auto`, then
 *   the server is polled until its task state clears: done when it is on the target;
 * - jobInfo: the migration in progress (`/servers/{id}/migrations`: memory and disk bytes);
 * - abort: `DELETE /servers/{id}/migrations/{migration_id}` (Nova cancels, the instance stays).
 */
import type { DomainRef, MigrationDriver, MigrationHandle } from "../../migrate/driver.js";
import type { HostEndpoint } from "../../migrate/hosts.js";
import type { JobProgress } from "../../migrate/jobinfo.js";
import { PlatformApiError } from "../http.js";
import { sleep, stateOf, type OwnerOf } from "../owners.js";
import type { OpenstackApi } from "./api.js";

export interface NovaDriverOptions {
  owner: OwnerOf;
  /** Plan host name → Nova compute host. */
  hosts: Record<string, string>;
  /** How often the server is polled while migrating (default 2 s). */
  pollMs?: number;
}

/** Consecutive failed polls before the driver gives up watching (the migration goes on in Nova). */
const MAX_POLL_FAILURES = 5;

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function novaDriver(api: OpenstackApi, o: NovaDriverOptions): MigrationDriver {
  const computeHost = (h: { name: string }): string => o.hosts[h.name] ?? h.name;
  const pollMs = o.pollMs ?? 2000;
  const instanceOf = (vm: string): string => {
    const p = o.owner(vm);
    if (p?.kind !== "openstack" || !p.id)
      throw new Error(`${vm}: the plan gives no Nova instance id (platform.id) for it`);
    return p.id;
  };

  return {
    // Nova places the instance on the target itself (its own CPU sets): vsteal never rewrites it.
    managesPlacement: () => true,
    domainXml: () =>
      Promise.reject(new Error("Nova owns this VM's definition: vsteal does not read or rewrite its XML")),
    async find(h: HostEndpoint, name: string): Promise<DomainRef | null> {
      const id = instanceOf(name);
      const s = await api.server(id);
      if (!s) return null;
      if (s.host === undefined) {
        throw new PlatformApiError(
          200,
          `Nova does not show which host instance ${id} is on (OS-EXT-SRV-ATTR:host): the application credential needs a role that may see it (admin under Nova's default policy)`,
        );
      }
      if (s.host !== computeHost(h)) return null;
      return { uuid: id, name, state: s.taskState === "migrating" ? "migrating" : stateOf(s.status) };
    },

    migrate(dom: DomainRef, _from: HostEndpoint, to: HostEndpoint): MigrationHandle {
      const target = computeHost(to);
      let stopped = false;
      const done = (async (): Promise<{ ok: boolean; error: string }> => {
        try {
          await api.liveMigrate(dom.uuid, target);
        } catch (e) {
          return { ok: false, error: errText(e) };
        }
        let failures = 0;
        while (!stopped) {
          await sleep(pollMs);
          if (stopped) break;
          let s;
          try {
            s = await api.server(dom.uuid);
            failures = 0;
          } catch (e) {
            if (++failures >= MAX_POLL_FAILURES)
              return { ok: false, error: `lost track of the migration in Nova: ${errText(e)}` };
            continue;
          }
          if (!s) return { ok: false, error: `instance ${dom.uuid} vanished from Nova during the migration` };
          if (s.taskState !== null || s.status === "MIGRATING") continue;
          if (s.host === target && s.status === "ACTIVE") return { ok: true, error: "" };
          const m = await api.lastMigration(dom.uuid).catch(() => null);
          const how = m ? `Nova ended migration ${m.id} with status ${m.status}` : "the migration ended";
          return {
            ok: false,
            error: `${how}; instance ${s.status} on ${s.host ?? "?"}${s.fault ? ` (fault: ${s.fault})` : ""}`,
          };
        }
        return { ok: false, error: "stopped waiting for Nova" };
      })();
      return {
        command: [
          "POST",
          `/servers/${dom.uuid}/action`,
          JSON.stringify({ "os-migrateLive": { host: target, block_migration: "auto" } }),
        ],
        done,
        kill: () => {
          stopped = true;
        },
      };
    },

    async jobInfo(_h: HostEndpoint, uuid: string): Promise<JobProgress | null> {
      try {
        const m = (await api.migrationsInProgress(uuid))[0];
        return m
          ? { type: m.status, processed: m.processed, remaining: m.remaining, total: m.total, elapsedMs: null }
          : null;
      } catch {
        return null;
      }
    },

    async abort(_h: HostEndpoint, uuid: string): Promise<string | null> {
      try {
        const m = (await api.migrationsInProgress(uuid))[0];
        if (!m) return `no live migration of ${uuid} in progress in Nova`;
        return await api.abortMigration(uuid, m.id);
      } catch (e) {
        return errText(e);
      }
    },
  };
}
