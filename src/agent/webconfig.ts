import { BoundedReadError, LIMITS, readFileBounded } from "../util/bounded-read.js";
import { z } from "zod";
import { parseYamlConfigFile } from "../config/yaml.js";

/**
 * The Prometheus exporter-toolkit web config (--web.config.file), the subset vsteal serves:
 * TLS and basic auth with bcrypt hashes.
 *
 *   tls_server_config:
 *     cert_file: /etc/vsteal/tls.crt
 *     key_file: /etc/vsteal/tls.key
 *   basic_auth_users:
 *     prometheus: $2y$10$…   # htpasswd -nBC 10 "" | tr -d ':\n'
 */
const webConfigSchema = z
  .object({
    tls_server_config: z
      .object({
        cert_file: z.string().min(1),
        key_file: z.string().min(1),
        client_ca_file: z.string().min(1).optional(),
        client_auth_type: z.enum(["NoClientCert", "RequireAndVerifyClientCert"]).optional(),
        min_version: z.enum(["TLS12", "TLS13"]).optional(),
      })
      .strict()
      .optional(),
    basic_auth_users: z
      .record(z.string().min(1), z.string().regex(/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/, "expected a bcrypt hash ($2y$…), e.g. from: htpasswd -nBC 10 USER"))
      .optional(),
    http_server_config: z.object({ headers: z.record(z.string(), z.string()).optional() }).strict().optional(),
  })
  .strict();

export type WebConfig = z.infer<typeof webConfigSchema>;

export interface LoadedWebConfig {
  config: WebConfig;
  tls: { cert: Buffer; key: Buffer; ca?: Buffer; requestCert: boolean; minVersion?: "TLSv1.2" | "TLSv1.3" } | null;
}

/** Reads and validates the web config; throws ConfigError naming file, line and field. */
export function loadWebConfig(path: string): LoadedWebConfig {
  const config = parseYamlConfigFile(path, webConfigSchema, { expected: "a mapping with tls_server_config and/or basic_auth_users" });
  const t = config.tls_server_config;
  const read = (field: string, file: string): Buffer => {
    try {
      return readFileBounded(file, LIMITS.pem, "the file");
    } catch (e) {
      if (e instanceof BoundedReadError) throw new Error(`${path}: tls_server_config.${field}: ${e.message}`);
      throw e;
    }
  };
  const tls = t
    ? {
        cert: read("cert_file", t.cert_file),
        key: read("key_file", t.key_file),
        ...(t.client_ca_file ? { ca: read("client_ca_file", t.client_ca_file) } : {}),
        requestCert: t.client_auth_type === "RequireAndVerifyClientCert",
        ...(t.min_version ? { minVersion: t.min_version === "TLS13" ? ("TLSv1.3" as const) : ("TLSv1.2" as const) } : {}),
      }
    : null;
  return { config, tls };
}
