/**
 * The Proxmox VE API (`/api2/json`) the Proxmox driver needs, as its API viewer describes it,
 * with API-token auth (`Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET`):
 *
 * - `GET /cluster/resources?type=vm`: every guest with its `vmid`, `node` and `status`;
 * - `POST /nodes/{node}/qemu/{vmid}/migrate` (form: `target`, `online=1`): starts the
 *   migration as a task and answers its UPID;
 * - `GET /nodes/{node}/tasks/{upid}/status`: `status` running or stopped, `exitstatus` "OK"
 *   or the error; `GET /nodes/{node}/tasks/{upid}/log`: its lines (progress);
 * - `DELETE /nodes/{node}/tasks/{upid}`: stops the task.
 */
import type { ProxmoxConfig } from "../config.js";
import { apiMessage, PlatformApiError, request, type ApiAnswer } from "../http.js";

export interface PveGuest {
  vmid: number;
  node: string;
  status: string;
  name: string | null;
  lock: string | null;
}

export interface PveTask {
  running: boolean;
  /** "OK" when it succeeded; the error otherwise; null while running. */
  exitstatus: string | null;
}

export class ProxmoxApi {
  constructor(
    readonly cfg: ProxmoxConfig,
    private readonly o: { timeoutMs: number; fetch?: typeof fetch; file?: string },
  ) {}

  private async call(
    method: "GET" | "POST" | "DELETE",
    path: string,
    form?: Record<string, string>,
  ): Promise<ApiAnswer> {
    const a = await request("the Proxmox VE API", `${this.cfg.url}/api2/json${path}`, {
      method,
      headers: {
        authorization: `PVEAPIToken=${this.cfg.tokenId}=${this.cfg.tokenSecret.reveal()}`,
        accept: "application/json",
        ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
      timeoutMs: this.o.timeoutMs,
      fetch: this.o.fetch,
    });
    if (a.status === 401)
      throw new PlatformApiError(
        401,
        `Proxmox VE refused API token ${this.cfg.tokenId}: ${apiMessage(a)}; check token_id and its secret${this.o.file ? ` (proxmox: in ${this.o.file})` : ""}`,
      );
    if (a.status === 403)
      throw new PlatformApiError(
        403,
        `Proxmox VE denied ${method} ${path.replace(/\?.*/, "")} to token ${this.cfg.tokenId}: ${apiMessage(a)}; it needs VM.Migrate and VM.Audit on the VM (and Sys.Audit on the nodes)`,
      );
    return a;
  }

  private static data(a: ApiAnswer): unknown {
    return a.body && typeof a.body === "object" ? (a.body as { data?: unknown }).data : undefined;
  }

  async guests(): Promise<PveGuest[]> {
    const a = await this.call("GET", "/cluster/resources?type=vm");
    if (a.status !== 200)
      throw new PlatformApiError(a.status, `Proxmox VE could not list the guests: ${apiMessage(a)}`);
    const d = ProxmoxApi.data(a);
    if (!Array.isArray(d))
      throw new PlatformApiError(a.status, "Proxmox VE answered /cluster/resources without a data list");
    const out: PveGuest[] = [];
    for (const g of d) {
      if (!g || typeof g !== "object") continue;
      const r = g as Record<string, unknown>;
      if (r.type !== undefined && r.type !== "qemu") continue;
      const vmid = Number(r.vmid);
      if (!Number.isInteger(vmid) || typeof r.node !== "string") continue;
      out.push({
        vmid,
        node: r.node,
        status: typeof r.status === "string" ? r.status : "unknown",
        name: typeof r.name === "string" ? r.name : null,
        lock: typeof r.lock === "string" ? r.lock : null,
      });
    }
    return out;
  }

  /** Starts an online migration; the task's UPID. Throws PlatformApiError when Proxmox refuses. */
  async migrate(node: string, vmid: number, target: string): Promise<string> {
    const a = await this.call("POST", `/nodes/${encodeURIComponent(node)}/qemu/${vmid}/migrate`, {
      target,
      online: "1",
    });
    const upid = ProxmoxApi.data(a);
    if (a.status !== 200 || typeof upid !== "string" || !upid.startsWith("UPID:"))
      throw new PlatformApiError(
        a.status,
        `Proxmox VE refused to migrate VM ${vmid} from ${node} to ${target}: ${apiMessage(a)}`,
      );
    return upid;
  }

  async task(node: string, upid: string): Promise<PveTask> {
    const a = await this.call("GET", `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/status`);
    const d = ProxmoxApi.data(a) as { status?: unknown; exitstatus?: unknown } | undefined;
    if (a.status !== 200 || !d || typeof d !== "object")
      throw new PlatformApiError(a.status, `Proxmox VE could not show task ${upid}: ${apiMessage(a)}`);
    return { running: d.status === "running", exitstatus: typeof d.exitstatus === "string" ? d.exitstatus : null };
  }

  /** The task's log lines (the last `limit`). */
  async taskLog(node: string, upid: string, limit = 50): Promise<string[]> {
    const a = await this.call(
      "GET",
      `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/log?start=0&limit=10000`,
    );
    const d = ProxmoxApi.data(a);
    if (a.status !== 200 || !Array.isArray(d)) return [];
    return d
      .map((l) =>
        l && typeof l === "object" && typeof (l as { t?: unknown }).t === "string" ? (l as { t: string }).t : "",
      )
      .slice(-limit);
  }

  async stopTask(node: string, upid: string): Promise<string | null> {
    const a = await this.call("DELETE", `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}`);
    return a.status === 200 ? null : `Proxmox VE did not stop task ${upid}: ${apiMessage(a)}`;
  }
}

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

/** Progress from a migration task's log: the last "transferred X of Y VM-state" line. Pure. */
export function taskProgress(lines: readonly string[]): { processed: number; total: number } | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /transferred ([\d.]+) ?(B|KiB|MiB|GiB|TiB) of ([\d.]+) ?(B|KiB|MiB|GiB|TiB) VM-state/.exec(
      lines[i] ?? "",
    );
    if (m)
      return {
        processed: Math.round(Number(m[1]) * (UNITS[m[2]!] ?? 1)),
        total: Math.round(Number(m[3]) * (UNITS[m[4]!] ?? 1)),
      };
  }
  return null;
}
