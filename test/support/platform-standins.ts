/**
 * Local HTTP stand-ins for OpenStack (Keystone v3 + Nova compute v2.1) and Proxmox VE, for the
 * tests of the platform drivers. A real Nova or Proxmox cannot run here: these replay the
 * request/response exchanges their API references document (the paths, methods, headers,
 * bodies and status codes the drivers rely on, including the error bodies), and keep the
 * platform's own record of where each VM is — the test's witness of where a VM ended.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
  reason?: string,
): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  if (reason) res.statusMessage = reason;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...extra });
  res.end(text);
}

abstract class StandIn {
  readonly requests: Recorded[] = [];
  private server: Server | null = null;
  url = "";

  protected abstract handle(req: IncomingMessage, body: string, res: ServerResponse): void;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void readBody(req).then((body) => {
        this.requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
        this.handle(req, body, res);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

// ----------------------------------------------------------------------------- OpenStack

/** How a live migration of an instance goes in the stand-in. */
export type NovaBehaviour =
  | { kind: "ok"; polls: number }
  | { kind: "no_valid_host" }
  | { kind: "conflict" }
  | { kind: "forbidden" }
  | { kind: "fails"; polls: number }
  | { kind: "never" };

interface NovaInstance {
  id: string;
  name: string;
  host: string;
  status: string;
  taskState: string | null;
  behaviour: NovaBehaviour;
  migration: { id: number; dest: string; status: string; polls: number } | null;
}

export class NovaStandIn extends StandIn {
  readonly instances = new Map<string, NovaInstance>();
  readonly migrations: Array<{
    id: number;
    instance_uuid: string;
    status: string;
    source_compute: string;
    dest_compute: string;
  }> = [];
  credential = { id: "6cb5fa6a13184e6fab65ba2108adf50c", secret: "s3cr3t-app-cred-Qx9" };
  private tokens = new Set<string>();
  private nextMigration = 4;

  add(id: string, name: string, host: string, behaviour: NovaBehaviour = { kind: "ok", polls: 2 }): void {
    this.instances.set(id, { id, name, host, status: "ACTIVE", taskState: null, behaviour, migration: null });
  }

  protected handle(req: IncomingMessage, body: string, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    const p = url.pathname;
    if (req.method === "POST" && p === "/identity/v3/auth/tokens") return this.keystone(body, res);
    const m = /^\/compute\/v2\.1(\/.*)$/.exec(p);
    if (!m) return send(res, 404, { itemNotFound: { code: 404, message: "The resource could not be found." } });
    const token = req.headers["x-auth-token"];
    if (typeof token !== "string" || !this.tokens.has(token))
      return send(res, 401, {
        error: { code: 401, title: "Unauthorized", message: "The request you have made requires authentication." },
      });
    const mv =
      /compute (\d+\.\d+)/.exec(String(req.headers["openstack-api-version"] ?? ""))?.[1] ??
      String(req.headers["x-openstack-nova-api-version"] ?? "2.1");
    const [maj, min] = mv.split(".").map(Number) as [number, number];
    const atLeast = (n: number): boolean => maj > 2 || (maj === 2 && min >= n);
    const path = m[1]!;

    if (req.method === "GET" && path === "/os-migrations") {
      const uuid = url.searchParams.get("instance_uuid");
      return send(res, 200, {
        migrations: this.migrations
          .filter((x) => !uuid || x.instance_uuid === uuid)
          .map((x) => ({ ...x, migration_type: "live-migration" })),
      });
    }
    const s = /^\/servers\/([^/]+)(\/action|\/migrations(?:\/(\d+))?)?$/.exec(path);
    if (!s) return send(res, 404, { itemNotFound: { code: 404, message: "The resource could not be found." } });
    const inst = this.instances.get(decodeURIComponent(s[1]!));
    if (!inst) return send(res, 404, { itemNotFound: { code: 404, message: `Instance ${s[1]} could not be found.` } });

    if (req.method === "GET" && !s[2]) {
      this.tick(inst);
      return send(res, 200, {
        server: {
          id: inst.id,
          name: inst.name,
          status: inst.taskState === "migrating" ? "MIGRATING" : inst.status,
          "OS-EXT-SRV-ATTR:host": inst.host,
          "OS-EXT-SRV-ATTR:hypervisor_hostname": `${inst.host}.example.net`,
          "OS-EXT-STS:task_state": inst.taskState,
          "OS-EXT-STS:vm_state": inst.status.toLowerCase(),
        },
      });
    }
    if (req.method === "POST" && s[2] === "/action") {
      let action: { "os-migrateLive"?: { host?: string | null; block_migration?: unknown } };
      try {
        action = JSON.parse(body) as typeof action;
      } catch {
        return send(res, 400, { badRequest: { code: 400, message: "Malformed request body" } });
      }
      const lm = action["os-migrateLive"];
      if (!lm) return send(res, 400, { badRequest: { code: 400, message: "There is no such action" } });
      if (lm.block_migration === "auto" && !atLeast(25))
        return send(res, 400, {
          badRequest: {
            code: 400,
            message:
              "Invalid input for field/attribute block_migration. Value: auto. 'auto' is not of type 'boolean', 'string'",
          },
        });
      const b = inst.behaviour;
      if (b.kind === "forbidden")
        return send(res, 403, {
          forbidden: {
            code: 403,
            message: "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.",
          },
        });
      if (inst.taskState !== null || b.kind === "conflict")
        return send(res, 409, {
          conflictingRequest: {
            code: 409,
            message: `Cannot 'os-migrateLive' instance ${inst.id} while it is in task_state migrating`,
          },
        });
      if (b.kind === "no_valid_host")
        return send(res, 400, {
          badRequest: { code: 400, message: `No valid host was found. Host ${lm.host} is not available.` },
        });
      const id = this.nextMigration++;
      inst.taskState = "migrating";
      inst.migration = { id, dest: lm.host ?? "", status: "running", polls: 0 };
      this.migrations.push({
        id,
        instance_uuid: inst.id,
        status: "running",
        source_compute: inst.host,
        dest_compute: lm.host ?? "",
      });
      return send(res, 202, undefined);
    }
    if (req.method === "GET" && s[2] === "/migrations") {
      if (!atLeast(23))
        return send(res, 404, { itemNotFound: { code: 404, message: "The resource could not be found." } });
      const mg = inst.migration;
      const total = 2 * 1024 ** 3;
      const done = Math.min(total, (mg?.polls ?? 0) * 300 * 1024 ** 2);
      return send(res, 200, {
        migrations:
          mg && mg.status === "running"
            ? [
                {
                  id: mg.id,
                  server_uuid: inst.id,
                  status: "running",
                  source_compute: inst.host,
                  dest_compute: mg.dest,
                  memory_total_bytes: total,
                  memory_processed_bytes: done,
                  memory_remaining_bytes: total - done,
                  disk_total_bytes: 0,
                  disk_processed_bytes: 0,
                  disk_remaining_bytes: 0,
                },
              ]
            : [],
      });
    }
    if (req.method === "DELETE" && s[2]?.startsWith("/migrations/")) {
      if (!atLeast(24))
        return send(res, 404, { itemNotFound: { code: 404, message: "The resource could not be found." } });
      const mg = inst.migration;
      if (!mg || String(mg.id) !== s[3] || mg.status !== "running")
        return send(res, 404, {
          itemNotFound: { code: 404, message: `Migration ${s[3]} for instance ${inst.id} is not in progress` },
        });
      this.finish(inst, "cancelled", false);
      return send(res, 202, undefined);
    }
    return send(res, 405, { badMethod: { code: 405, message: "The method is not allowed for the requested URL." } });
  }

  /** A poll of the server moves its migration on. */
  private tick(inst: NovaInstance): void {
    const mg = inst.migration;
    if (!mg || mg.status !== "running") return;
    mg.polls++;
    const b = inst.behaviour;
    if (b.kind === "ok" && mg.polls >= b.polls) this.finish(inst, "completed", true);
    if (b.kind === "fails" && mg.polls >= b.polls) this.finish(inst, "error", false);
  }

  private finish(inst: NovaInstance, status: string, moved: boolean): void {
    const mg = inst.migration!;
    mg.status = status;
    if (moved) inst.host = mg.dest;
    inst.taskState = null;
    const rec = this.migrations.find((x) => x.id === mg.id);
    if (rec) rec.status = status;
  }

  private keystone(body: string, res: ServerResponse): void {
    let req: {
      auth?: { identity?: { methods?: string[]; application_credential?: { id?: string; secret?: string } } };
    };
    try {
      req = JSON.parse(body) as typeof req;
    } catch {
      return send(res, 400, { error: { code: 400, title: "Bad Request", message: "Malformed JSON" } });
    }
    const ac = req.auth?.identity?.application_credential;
    if (
      !req.auth?.identity?.methods?.includes("application_credential") ||
      ac?.id !== this.credential.id ||
      ac?.secret !== this.credential.secret
    ) {
      return send(res, 401, {
        error: { code: 401, title: "Unauthorized", message: "The request you have made requires authentication." },
      });
    }
    const token = `gAAAAAB${Math.random().toString(36).slice(2)}${Date.now()}`;
    this.tokens.add(token);
    send(
      res,
      201,
      {
        token: {
          methods: ["application_credential"],
          expires_at: new Date(Date.now() + 3_600_000).toISOString(),
          application_credential: { id: ac.id, name: "vsteal", restricted: true },
          catalog: [
            {
              type: "identity",
              name: "keystone",
              endpoints: [
                { interface: "public", region: "RegionOne", region_id: "RegionOne", url: `${this.url}/identity/v3` },
              ],
            },
            {
              type: "compute",
              name: "nova",
              endpoints: [
                {
                  interface: "internal",
                  region: "RegionOne",
                  region_id: "RegionOne",
                  url: `${this.url}/wrong-internal/v2.1`,
                },
                { interface: "public", region: "RegionOne", region_id: "RegionOne", url: `${this.url}/compute/v2.1` },
              ],
            },
          ],
        },
      },
      { "X-Subject-Token": token },
    );
  }
}

// ----------------------------------------------------------------------------- Proxmox VE

export type PveBehaviour =
  { kind: "ok"; polls: number } | { kind: "task_fails"; polls: number } | { kind: "never" } | { kind: "forbidden" };

interface PveGuestState {
  vmid: number;
  name: string;
  node: string;
  status: string;
  behaviour: PveBehaviour;
}

interface PveTaskState {
  upid: string;
  node: string;
  vmid: number;
  target: string;
  polls: number;
  status: "running" | "stopped";
  exitstatus?: string;
  log: string[];
}

export class ProxmoxStandIn extends StandIn {
  readonly guests = new Map<number, PveGuestState>();
  readonly tasks = new Map<string, PveTaskState>();
  token = { id: "vsteal@pve!migrate", secret: "8f3e0c1a-5b7d-4e2f-9a6c-d4b3a2f1e0c9" };

  add(vmid: number, name: string, node: string, behaviour: PveBehaviour = { kind: "ok", polls: 2 }): void {
    this.guests.set(vmid, { vmid, name, node, status: "running", behaviour });
  }

  protected handle(req: IncomingMessage, body: string, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    const p = url.pathname.replace(/^\/api2\/json/, "");
    if (req.headers.authorization !== `PVEAPIToken=${this.token.id}=${this.token.secret}`)
      return send(res, 401, { data: null }, {}, "authentication failure");

    if (req.method === "GET" && p === "/cluster/resources") {
      const locked = (g: PveGuestState) =>
        [...this.tasks.values()].some((t) => t.vmid === g.vmid && t.status === "running");
      return send(res, 200, {
        data: [...this.guests.values()].map((g) => ({
          id: `qemu/${g.vmid}`,
          type: "qemu",
          vmid: g.vmid,
          name: g.name,
          node: g.node,
          status: g.status,
          maxcpu: 2,
          ...(locked(g) ? { lock: "migrate" } : {}),
        })),
      });
    }
    const mg = /^\/nodes\/([^/]+)\/qemu\/(\d+)\/migrate$/.exec(p);
    if (req.method === "POST" && mg) {
      const g = this.guests.get(Number(mg[2]));
      if (!g || g.node !== mg[1])
        return send(
          res,
          500,
          { data: null },
          {},
          `Configuration file 'nodes/${mg[1]}/qemu-server/${mg[2]}.conf' does not exist`,
        );
      if (g.behaviour.kind === "forbidden")
        return send(res, 403, { data: null }, {}, `Permission check failed (/vms/${g.vmid}, VM.Migrate)`);
      const form = new URLSearchParams(body);
      const target = form.get("target");
      if (!target)
        return send(
          res,
          400,
          { data: null, errors: { target: "property is missing and it is not optional" } },
          {},
          "Parameter verification failed.",
        );
      if (target === g.node)
        return send(
          res,
          400,
          { data: null, errors: { target: "target is local node." } },
          {},
          "Parameter verification failed.",
        );
      if (g.status === "running" && form.get("online") !== "1")
        return send(res, 500, { data: null }, {}, "can't migrate running VM without --online");
      const upid = `UPID:${g.node}:0000A1B2:0001C3D4:${Math.floor(Date.now() / 1000)
        .toString(16)
        .toUpperCase()}:qmigrate:${g.vmid}:${this.token.id}:`;
      this.tasks.set(upid, {
        upid,
        node: g.node,
        vmid: g.vmid,
        target,
        polls: 0,
        status: "running",
        log: [`starting migration of VM ${g.vmid} to node '${target}' (10.0.0.2)`, "starting VM on remote node"],
      });
      return send(res, 200, { data: upid });
    }
    const tk = /^\/nodes\/([^/]+)\/tasks\/([^/]+)(\/status|\/log)?$/.exec(p);
    if (tk) {
      const t = this.tasks.get(decodeURIComponent(tk[2]!));
      if (!t || t.node !== tk[1]) return send(res, 500, { data: null }, {}, "no such task");
      if (req.method === "GET" && tk[3] === "/status") {
        this.tick(t);
        return send(res, 200, {
          data: {
            upid: t.upid,
            node: t.node,
            type: "qmigrate",
            id: String(t.vmid),
            user: this.token.id,
            status: t.status,
            ...(t.exitstatus ? { exitstatus: t.exitstatus } : {}),
          },
        });
      }
      if (req.method === "GET" && tk[3] === "/log")
        return send(res, 200, {
          data: t.log.map((line, i) => ({ n: i + 1, t: `2026-12-01 15:00:0${Math.min(i, 9)} ${line}` })),
        });
      if (req.method === "DELETE" && !tk[3]) {
        if (t.status === "running") {
          t.status = "stopped";
          t.exitstatus = "interrupted by signal";
          t.log.push(
            "received interrupt",
            "aborting phase 2 - cleanup resources",
            "migrate_cancel",
            "ERROR: online migrate failure - interrupted by signal",
          );
        }
        return send(res, 200, { data: null });
      }
    }
    return send(res, 501, { data: null }, {}, `Method '${req.method} ${p}' not implemented`);
  }

  private tick(t: PveTaskState): void {
    if (t.status !== "running") return;
    t.polls++;
    const g = this.guests.get(t.vmid)!;
    t.log.push(`migration active, transferred ${Math.min(2048, t.polls * 512)}.0 MiB of 2.0 GiB VM-state, 110.3 MiB/s`);
    if (g.behaviour.kind === "ok" && t.polls >= g.behaviour.polls) {
      g.node = t.target;
      t.status = "stopped";
      t.exitstatus = "OK";
      t.log.push("migration finished successfully (duration 00:00:02)", "TASK OK");
    }
    if (g.behaviour.kind === "task_fails" && t.polls >= g.behaviour.polls) {
      t.status = "stopped";
      t.exitstatus = "migration problems";
      t.log.push(
        "ERROR: online migrate failure - VM 104 qmp command 'migrate' failed - Unable to write to socket: Broken pipe",
        "ERROR: migration finished with problems (duration 00:00:03)",
        "TASK ERROR: migration problems",
      );
    }
  }
}
