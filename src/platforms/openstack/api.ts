/**
 * The two OpenStack APIs the Nova driver needs, as their API references describe them:
 *
 * - Identity v3: `POST /v3/auth/tokens` with the `application_credential` method (id and
 *   secret); the token comes back in `X-Subject-Token`, the compute endpoint from the
 *   token's service catalog (type `compute`, the configured interface and region).
 * - Compute v2.1 at microversion 2.30 (`OpenStack-API-Version: compute 2.30`): the server
 *   (`GET /servers/{id}`, its `OS-EXT-SRV-ATTR:host` and `OS-EXT-STS:task_state`), the live
 *   migration action (`POST /servers/{id}/action` `{"os-migrateLive": {"host": …,
 *   "block_migration": "auto"}}`, 202), the server's migrations in progress (`GET
 *   /servers/{id}/migrations`, since 2.23), aborting one (`DELETE
 *   /servers/{id}/migrations/{migration_id}`, since 2.24), and `GET
 *   /os-migrations?instance_uuid=…` for how the last one ended.
 *
 * The token is kept in memory only, renewed a minute before it expires or when Nova answers
 * 401; it and the secret never appear in a message.
 */
import type { OpenstackConfig } from "../config.js";
import { apiMessage, PlatformApiError, request, type ApiAnswer } from "../http.js";

export const NOVA_MICROVERSION = "2.30";

export interface NovaServer {
  id: string;
  name: string;
  /** ACTIVE, MIGRATING, PAUSED, SHUTOFF, ERROR… */
  status: string;
  /** The compute host; absent when the credential's role may not see it. */
  host: string | undefined;
  /** "migrating" while a live migration runs; null when none. */
  taskState: string | null;
  fault: string | null;
}

export interface NovaMigration {
  id: number;
  status: string;
  sourceCompute: string | null;
  destCompute: string | null;
  processed: number | null;
  remaining: number | null;
  total: number | null;
}

interface Catalog {
  type?: string;
  endpoints?: Array<{ interface?: string; region?: string; region_id?: string; url?: string }>;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const sum = (a: number | null, b: number | null): number | null =>
  a === null && b === null ? null : (a ?? 0) + (b ?? 0);

export class OpenstackApi {
  private token: { value: string; expiresMs: number; computeUrl: string } | null = null;

  constructor(
    readonly cfg: OpenstackConfig,
    private readonly o: { timeoutMs: number; fetch?: typeof fetch; file?: string },
  ) {}

  private get where(): string {
    return this.o.file ? ` (openstack: in ${this.o.file})` : "";
  }

  /** A valid token and the compute endpoint, from Keystone when needed. */
  async auth(force = false): Promise<{ token: string; computeUrl: string }> {
    if (!force && this.token && Date.now() < this.token.expiresMs - 60_000)
      return { token: this.token.value, computeUrl: this.token.computeUrl };
    const body = JSON.stringify({
      auth: {
        identity: {
          methods: ["application_credential"],
          application_credential: { id: this.cfg.credentialId, secret: this.cfg.credentialSecret.reveal() },
        },
      },
    });
    const a = await request("Keystone", `${this.cfg.authUrl}/auth/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body,
      timeoutMs: this.o.timeoutMs,
      fetch: this.o.fetch,
    });
    if (a.status === 401 || a.status === 403) {
      throw new PlatformApiError(
        a.status,
        `Keystone refused application credential ${this.cfg.credentialId}: ${apiMessage(a)}; check application_credential_id and its secret${this.where} (expired or deleted?)`,
      );
    }
    if (a.status !== 201 && a.status !== 200)
      throw new PlatformApiError(a.status, `Keystone did not issue a token: ${apiMessage(a)}`);
    const value = a.headers.get("x-subject-token");
    if (!value)
      throw new PlatformApiError(
        a.status,
        "Keystone answered without an X-Subject-Token header: is auth_url the Identity v3 endpoint (…/v3)?",
      );
    const tok = (a.body as { token?: { expires_at?: string; catalog?: Catalog[] } } | null)?.token;
    const expires = Date.parse(tok?.expires_at ?? "");
    const computeUrl = this.cfg.computeUrl ?? this.computeFromCatalog(tok?.catalog ?? []);
    this.token = { value, expiresMs: Number.isNaN(expires) ? Date.now() + 3_600_000 : expires, computeUrl };
    return { token: value, computeUrl };
  }

  private computeFromCatalog(catalog: Catalog[]): string {
    const want = this.cfg.interface;
    for (const svc of catalog) {
      if (svc.type !== "compute") continue;
      const ep = (svc.endpoints ?? []).find(
        (e) =>
          e.interface === want &&
          (this.cfg.region === null || e.region === this.cfg.region || e.region_id === this.cfg.region),
      );
      if (ep?.url) return ep.url.replace(/\/+$/, "");
    }
    throw new PlatformApiError(
      null,
      `Keystone's catalog has no compute endpoint with interface ${want}${this.cfg.region ? ` in region ${this.cfg.region}` : ""}: set openstack.region, .interface or .compute_url${this.where}`,
    );
  }

  /** A compute API call with the token (renewed once on 401) and the microversion. */
  async compute(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<ApiAnswer> {
    for (let attempt = 0; ; attempt++) {
      const { token, computeUrl } = await this.auth(attempt > 0);
      const a = await request("the Nova compute API", `${computeUrl}${path}`, {
        method,
        headers: {
          "x-auth-token": token,
          accept: "application/json",
          "openstack-api-version": `compute ${NOVA_MICROVERSION}`,
          "x-openstack-nova-api-version": NOVA_MICROVERSION,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        timeoutMs: this.o.timeoutMs,
        fetch: this.o.fetch,
      });
      if (a.status === 401 && attempt === 0) continue; // token revoked or expired early
      if (a.status === 401 || a.status === 403) {
        throw new PlatformApiError(
          a.status,
          `Nova refused ${method} ${path.replace(/\?.*/, "")}: ${apiMessage(a)}; the application credential ${this.cfg.credentialId} needs a role that may live-migrate and see hosts (admin under Nova's default policy)`,
        );
      }
      return a;
    }
  }

  async server(id: string): Promise<NovaServer | null> {
    const a = await this.compute("GET", `/servers/${encodeURIComponent(id)}`);
    if (a.status === 404) return null;
    if (a.status !== 200) throw new PlatformApiError(a.status, `Nova could not show instance ${id}: ${apiMessage(a)}`);
    const s = (a.body as { server?: Record<string, unknown> } | null)?.server;
    if (!s || typeof s !== "object")
      throw new PlatformApiError(a.status, `Nova answered GET /servers/${id} without a server`);
    const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
    const fault = s.fault && typeof s.fault === "object" ? str((s.fault as { message?: unknown }).message) : undefined;
    return {
      id: str(s.id) ?? id,
      name: str(s.name) ?? "",
      status: str(s.status) ?? "UNKNOWN",
      host: str(s["OS-EXT-SRV-ATTR:host"]),
      taskState: str(s["OS-EXT-STS:task_state"]) ?? null,
      fault: fault ?? null,
    };
  }

  /** Asks Nova to live-migrate the instance to `host`; throws PlatformApiError when Nova refuses. */
  async liveMigrate(id: string, host: string): Promise<void> {
    const a = await this.compute("POST", `/servers/${encodeURIComponent(id)}/action`, {
      "os-migrateLive": { host, block_migration: "auto" },
    });
    if (a.status !== 202)
      throw new PlatformApiError(a.status, `Nova refused the live migration to ${host}: ${apiMessage(a)}`);
  }

  private static migration(m: Record<string, unknown>): NovaMigration {
    return {
      id: typeof m.id === "number" ? m.id : Number(m.id),
      status: typeof m.status === "string" ? m.status : "unknown",
      sourceCompute: typeof m.source_compute === "string" ? m.source_compute : null,
      destCompute: typeof m.dest_compute === "string" ? m.dest_compute : null,
      processed: sum(num(m.memory_processed_bytes), num(m.disk_processed_bytes)),
      remaining: sum(num(m.memory_remaining_bytes), num(m.disk_remaining_bytes)),
      total: sum(num(m.memory_total_bytes), num(m.disk_total_bytes)),
    };
  }

  /** The instance's live migrations in progress (Nova lists only those). */
  async migrationsInProgress(id: string): Promise<NovaMigration[]> {
    const a = await this.compute("GET", `/servers/${encodeURIComponent(id)}/migrations`);
    if (a.status !== 200)
      throw new PlatformApiError(a.status, `Nova could not list the migrations of ${id}: ${apiMessage(a)}`);
    const list = (a.body as { migrations?: unknown[] } | null)?.migrations;
    return Array.isArray(list)
      ? list.filter((m): m is Record<string, unknown> => !!m && typeof m === "object").map(OpenstackApi.migration)
      : [];
  }

  async abortMigration(id: string, migrationId: number): Promise<string | null> {
    const a = await this.compute("DELETE", `/servers/${encodeURIComponent(id)}/migrations/${migrationId}`);
    return a.status === 202 ? null : `Nova did not abort migration ${migrationId}: ${apiMessage(a)}`;
  }

  /** The newest live migration of the instance, whatever its status, or null. */
  async lastMigration(id: string): Promise<NovaMigration | null> {
    const a = await this.compute(
      "GET",
      `/os-migrations?instance_uuid=${encodeURIComponent(id)}&migration_type=live-migration`,
    );
    if (a.status !== 200) return null;
    const list = (a.body as { migrations?: unknown[] } | null)?.migrations;
    if (!Array.isArray(list)) return null;
    const ms = list
      .filter((m): m is Record<string, unknown> => !!m && typeof m === "object")
      .map(OpenstackApi.migration);
    return ms.sort((x, y) => y.id - x.id)[0] ?? null;
  }
}
