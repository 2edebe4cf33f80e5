/**
 * The platforms file (`vsteal apply --platforms FILE`, `vsteal controller --apply --platforms
 * FILE`): how to reach the platforms that own VMs, so that their VMs move through them. It
 * holds credentials: it is read by the controller and `vsteal apply` only (never by an agent),
 * secrets are never logged, and a secret may live in a file of its own (`*_file`).
 *
 * ```yaml
 * openstack:
 *   auth_url: https://keystone.example.net:5000/v3
 *   application_credential_id: 6cb5fa6a13184e6fab65ba2108adf50c
 *   application_credential_secret_file: /etc/vsteal/openstack.secret
 *   region: RegionOne                # optional: the catalog's region
 *   interface: public                # optional: public | internal | admin
 *   compute_url: https://nova.example.net:8774/v2.1   # optional: instead of the catalog's
 *   hosts: { hv01: compute-01 }      # optional: plan host → Nova compute host (default: same)
 * proxmox:
 *   url: https://pve1.example.net:8006
 *   token_id: "vsteal@pve!migrate"
 *   token_secret_file: /etc/vsteal/proxmox.secret
 *   nodes: { hv01: pve1 }            # optional: plan host → Proxmox node (default: same)
 * request_timeout: 30                # optional: seconds per API request
 * ```
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError, parseYamlConfigFile } from "../config/yaml.js";

const url = z
  .string()
  .regex(/^https?:\/\/[^\s/]+/, "expected an http(s) URL like https://keystone.example.net:5000/v3");
const names = z.record(z.string().min(1), z.string().min(1));

const openstackSchema = z.strictObject({
  auth_url: url,
  application_credential_id: z.string().min(1),
  application_credential_secret: z.string().min(1).optional(),
  application_credential_secret_file: z.string().min(1).optional(),
  region: z.string().min(1).optional(),
  interface: z.enum(["public", "internal", "admin"]).optional(),
  compute_url: url.optional(),
  hosts: names.optional(),
});

const proxmoxSchema = z.strictObject({
  url,
  token_id: z.string().regex(/^[^@\s]+@[^!\s]+![\w.-]+$/, "expected USER@REALM!TOKENID, e.g. vsteal@pve!migrate"),
  token_secret: z.string().min(1).optional(),
  token_secret_file: z.string().min(1).optional(),
  nodes: names.optional(),
});

export const platformsSchema = z.strictObject({
  openstack: openstackSchema.optional(),
  proxmox: proxmoxSchema.optional(),
  request_timeout: z.number().positive().max(600).optional(),
});

const KNOWN: Record<string, readonly string[]> = {
  "": ["openstack", "proxmox", "request_timeout"],
  openstack: Object.keys(openstackSchema.shape),
  proxmox: Object.keys(proxmoxSchema.shape),
};

/** A secret that must not be printed: `String(s)` and JSON give "[secret]". */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "[secret]";
  }
  toJSON(): string {
    return "[secret]";
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "[secret]";
  }
}

export interface OpenstackConfig {
  authUrl: string;
  credentialId: string;
  credentialSecret: Secret;
  region: string | null;
  interface: "public" | "internal" | "admin";
  computeUrl: string | null;
  /** Plan host name → Nova compute host. */
  hosts: Record<string, string>;
}

export interface ProxmoxConfig {
  url: string;
  tokenId: string;
  tokenSecret: Secret;
  nodes: Record<string, string>;
}

export interface PlatformsConfig {
  file: string;
  openstack: OpenstackConfig | null;
  proxmox: ProxmoxConfig | null;
  requestTimeoutMs: number;
}

function secret(
  file: string,
  section: string,
  inline: string | undefined,
  path: string | undefined,
  field: string,
): Secret {
  if ((inline === undefined) === (path === undefined)) {
    throw new ConfigError(file, [
      {
        line: null,
        column: null,
        field: `${section}.${field}`,
        reason: `give exactly one of ${field} and ${field}_file (a file whose first line is the secret)`,
      },
    ]);
  }
  if (inline !== undefined) return new Secret(inline);
  let text: string;
  try {
    text = readFileSync(path!, "utf8");
  } catch (e) {
    throw new ConfigError(file, [
      {
        line: null,
        column: null,
        field: `${section}.${field}_file`,
        reason: `cannot read ${path}: ${e instanceof Error ? e.message.replace(/^[A-Z]+: /, "") : String(e)}`,
      },
    ]);
  }
  const first = text.split("\n")[0]?.trim() ?? "";
  if (first === "")
    throw new ConfigError(file, [
      {
        line: null,
        column: null,
        field: `${section}.${field}_file`,
        reason: `${path} is empty: its first line must be the secret`,
      },
    ]);
  return new Secret(first);
}

/** Reads and validates the platforms file; throws ConfigError naming the file and field. */
export function loadPlatformsConfig(file: string): PlatformsConfig {
  const f = parseYamlConfigFile(file, platformsSchema, {
    expected: "a mapping with openstack: and/or proxmox:",
    knownFieldsAt: (p) => KNOWN[typeof p[0] === "string" ? p[0] : ""] ?? [],
  });
  const o = f.openstack;
  const p = f.proxmox;
  return {
    file,
    openstack: o
      ? {
          authUrl: o.auth_url.replace(/\/+$/, ""),
          credentialId: o.application_credential_id,
          credentialSecret: secret(
            file,
            "openstack",
            o.application_credential_secret,
            o.application_credential_secret_file,
            "application_credential_secret",
          ),
          region: o.region ?? null,
          interface: o.interface ?? "public",
          computeUrl: o.compute_url?.replace(/\/+$/, "") ?? null,
          hosts: o.hosts ?? {},
        }
      : null,
    proxmox: p
      ? {
          url: p.url.replace(/\/+$/, ""),
          tokenId: p.token_id,
          tokenSecret: secret(file, "proxmox", p.token_secret, p.token_secret_file, "token_secret"),
          nodes: p.nodes ?? {},
        }
      : null,
    requestTimeoutMs: (f.request_timeout ?? 30) * 1000,
  };
}
