/**
 * The migration hosts file (`vsteal apply --hosts FILE`, `vsteal controller --apply
 * --migrate-hosts FILE`): how to reach each host's libvirt. YAML (or JSON):
 *
 * ```yaml
 * uri_template: "qemu+ssh://{host}/system"   # hosts not listed below ({host}: the host name)
 * hosts:
 *   hv01: { uri: "qemu+tls://hv01.example.net/system", migrate_uri: "tcp://10.0.0.1" }
 *   hv02:
 *     uri: "qemu:///system"          # how vsteal (the client) reaches it
 *     peer_uri: "qemu+tcp://hv02/system"   # how a source libvirtd reaches it (p2p); default: uri
 *     p2p: false                     # as a target: client-managed migration instead of --p2p
 *     vm_cpus: "2-31"                # CPUs its VMs may use (else what its agent exports)
 * limits: { per_host: 1, fleet: 1 }  # concurrent migrations touching a host / in all
 * timeout: 600                       # per migration before its job is aborted: seconds, or "10m"
 * ```
 */
import { z } from "zod";
import { parseYamlConfigFile } from "../config/yaml.js";
import { fillHostTemplate, hostNameSchema } from "../model/host-name.js";
import { durationSchema } from "../util/duration.js";

const hostEntry = z.strictObject({
  uri: z.string().min(1).optional(),
  peer_uri: z.string().min(1).optional(),
  migrate_uri: z.string().min(1).optional(),
  p2p: z.boolean().optional(),
  vm_cpus: z
    .string()
    .regex(/^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$/, "a Linux CPU list such as 2-31 or 0,4-7")
    .optional(),
});

export const migrateHostsSchema = z.strictObject({
  uri_template: z.string().min(1).optional(),
  migrate_uri_template: z.string().min(1).optional(),
  p2p: z.boolean().optional(),
  hosts: z.record(hostNameSchema, hostEntry.nullable()).optional(),
  limits: z
    .strictObject({ per_host: z.number().int().min(1).optional(), fleet: z.number().int().min(1).optional() })
    .optional(),
  /** Seconds (600) or a duration ("10m"); at most Node's timer limit. */
  timeout: durationSchema()
    .transform((ms) => ms / 1000)
    .optional(),
});

export type MigrateHostsFile = z.infer<typeof migrateHostsSchema>;

export interface HostEndpoint {
  name: string;
  /** The client's connection URI. */
  uri: string;
  /** The destination URI a source libvirtd uses in p2p mode. */
  peerUri: string;
  migrateUri: string | null;
  /** As a target: peer-to-peer (--p2p) or client-managed. */
  p2p: boolean;
  /** The host CPUs its VMs may use (a CPU list), when the hosts file says; else the agent's. */
  vmCpus: string | null;
}

export interface MigrateHosts {
  endpoint(host: string): HostEndpoint | null;
  limits: { perHost: number; fleet: number };
  timeoutS: number | null;
}

const KNOWN: Record<string, readonly string[]> = {
  "": ["uri_template", "migrate_uri_template", "p2p", "hosts", "limits", "timeout"],
  hosts: ["uri", "peer_uri", "migrate_uri", "p2p", "vm_cpus"],
  limits: ["per_host", "fleet"],
};

export function loadMigrateHosts(path: string): MigrateHosts {
  return migrateHosts(
    parseYamlConfigFile(path, migrateHostsSchema, {
      expected: "a mapping with uri_template, hosts, limits and/or timeout",
      knownFieldsAt: (p) => KNOWN[typeof p[0] === "string" ? p[0] : ""] ?? [],
    }),
  );
}

/** Throws HostNameError when `host` is not a host name: nothing else goes into a URI. */
const fill = (tpl: string, host: string): string => fillHostTemplate(tpl, host, `host ${JSON.stringify(host)}`);

export function migrateHosts(f: MigrateHostsFile): MigrateHosts {
  return {
    endpoint(host) {
      const e = f.hosts?.[host] ?? null;
      const uri = e?.uri ?? (f.uri_template ? fill(f.uri_template, host) : null);
      if (uri === null) return null;
      return {
        name: host,
        uri,
        peerUri: e?.peer_uri ?? uri,
        migrateUri: e?.migrate_uri ?? (f.migrate_uri_template ? fill(f.migrate_uri_template, host) : null),
        p2p: e?.p2p ?? f.p2p ?? true,
        vmCpus: e?.vm_cpus ?? null,
      };
    },
    limits: { perHost: f.limits?.per_host ?? 1, fleet: f.limits?.fleet ?? 1 },
    timeoutS: f.timeout ?? null,
  };
}
