/**
 * The controller's hosts file (--hosts): overrides of what the agents export (memory, reserved
 * CPUs, caps) and policy: which hosts take VMs, which VMs
 * may move, placement constraints. Every host listed here is expected: a listed host whose
 * metrics are missing stops the audit instead of being planned around.
 *
 * ```yaml
 * defaults:
 *   memory_mib: 262144       # hosts not listed below
 *   vm_memory_mib: 4096      # VMs not listed below (0: memory unknown, does not limit)
 * hosts:
 *   hv01: { memory_mib: 524288, reserved_cpus: 2 }
 *   hv09: { accepts_vms: false }   # maintenance: may be emptied, receives nothing
 * vms:
 *   db-1: { memory_mib: 65536, migratable: false }
 * constraints:
 *   max_moves: 3
 *   anti_affinity: [[db-1, db-2]]
 * ```
 */
import { z } from "zod";
import { parseYamlConfigFile } from "../config/yaml.js";
import { hostNameSchema } from "../model/host-name.js";

/** Host memory when neither the hosts file nor its defaults say: 1 TiB, so memory never limits. */
export const DEFAULT_HOST_MEMORY_MIB = 1_048_576;
/** VM memory when unknown: 0, i.e. memory is not taken into account. */
export const DEFAULT_VM_MEMORY_MIB = 0;
export const DEFAULT_MAX_MOVES = 5;

const mib = z.number().int().min(0);

const hostEntry = z
  .strictObject({
    memory_mib: mib.optional(),
    reserved_cpus: z.number().int().min(0).optional(),
    accepts_vms: z.boolean().optional(),
  })
  .nullable();

const vmEntry = z.strictObject({
  memory_mib: mib.optional(),
  migratable: z.boolean().optional(),
  cap: z.number().positive().nullable().optional(),
});

export const hostsConfigSchema = z.strictObject({
  defaults: z
    .strictObject({
      memory_mib: mib.optional(),
      vm_memory_mib: mib.optional(),
      reserved_cpus: z.number().int().min(0).optional(),
      accepts_vms: z.boolean().optional(),
      migratable: z.boolean().optional(),
    })
    .optional(),
  hosts: z.record(hostNameSchema, hostEntry).optional(),
  vms: z.record(z.string().min(1), vmEntry).optional(),
  constraints: z
    .strictObject({
      max_moves: z.number().int().min(0).optional(),
      anti_affinity: z.array(z.array(z.string().min(1)).min(2)).optional(),
    })
    .optional(),
});

export type HostsConfig = z.infer<typeof hostsConfigSchema>;

const KNOWN: Record<string, readonly string[]> = {
  "": ["defaults", "hosts", "vms", "constraints"],
  defaults: ["memory_mib", "vm_memory_mib", "reserved_cpus", "accepts_vms", "migratable"],
  hosts: ["memory_mib", "reserved_cpus", "accepts_vms"],
  vms: ["memory_mib", "migratable", "cap"],
  constraints: ["max_moves", "anti_affinity"],
};

/** Reads and validates a hosts file; throws ConfigError with file:line: field: reason. */
export function loadHostsConfig(path: string): HostsConfig {
  return parseYamlConfigFile(path, hostsConfigSchema, {
    expected: "a mapping with defaults, hosts, vms and/or constraints",
    knownFieldsAt: (p) => KNOWN[typeof p[0] === "string" ? p[0] : ""] ?? [],
  });
}
