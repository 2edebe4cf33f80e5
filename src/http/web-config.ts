import { BoundedReadError, LIMITS, readFileBounded } from "../util/bounded-read.js";
import { createSecureContext } from "node:tls";
import { z } from "zod";
import { headerProblem } from "../util/http-header.js";
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
/**
 * bcrypt costs accepted. Below 4 bcrypt itself refuses; from 15 up one login takes seconds of
 * CPU in vsteal (bcryptjs: cost 10 ≈ 0.1 s, each step doubles), a login flood keeps a core
 * busy after the clients left and blocks shutdown; above 31 bcrypt cannot compare at all.
 */
export const BCRYPT_COST = { min: 4, max: 14 } as const;

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** The cost of a bcrypt hash ("$2y$10$…" → 10). */
export function bcryptCost(hash: string): number {
  return Number(BCRYPT.exec(hash)?.[1] ?? Number.NaN);
}

const bcryptHash = z
  .string()
  .regex(BCRYPT, "expected a bcrypt hash ($2y$…), e.g. from: htpasswd -nBC 10 USER")
  .refine((h) => !BCRYPT.test(h) || (bcryptCost(h) >= BCRYPT_COST.min && bcryptCost(h) <= BCRYPT_COST.max), {
    error: (i) =>
      `bcrypt cost ${bcryptCost(String(i.input))} is outside ${BCRYPT_COST.min}–${BCRYPT_COST.max} (each step doubles the CPU of every login): make the hash with htpasswd -nBC 10 USER`,
  });

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
      .superRefine((t, ctx) => {
        if (t.client_auth_type === "RequireAndVerifyClientCert" && t.client_ca_file === undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["client_ca_file"],
            message:
              "required with client_auth_type: RequireAndVerifyClientCert (the CA that signs the client certificates); without it no client could connect",
            input: undefined,
          });
        }
      })
      .optional(),
    basic_auth_users: z.record(z.string().min(1), bcryptHash).optional(),
    http_server_config: z
      .object({
        headers: z
          .record(
            z.string().superRefine((k, ctx) => {
              const p = headerProblem(k);
              if (p !== null) ctx.addIssue({ code: "custom", message: p, input: k });
            }),
            z.string(),
          )
          .superRefine((h, ctx) => {
            for (const [k, v] of Object.entries(h)) {
              if (headerProblem(k) !== null) continue;
              const p = headerProblem(k, v);
              if (p !== null) ctx.addIssue({ code: "custom", path: [k], message: p, input: v });
            }
          })
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type WebConfig = z.infer<typeof webConfigSchema>;

const WEB_KNOWN: Readonly<Record<string, readonly string[]>> = {
  "": ["tls_server_config", "basic_auth_users", "http_server_config"],
  tls_server_config: ["cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version"],
  http_server_config: ["headers"],
};

export interface LoadedWebConfig {
  config: WebConfig;
  tls: { cert: Buffer; key: Buffer; ca?: Buffer; requestCert: boolean; minVersion?: "TLSv1.2" | "TLSv1.3" } | null;
}

/**
 * Builds a TLS context from the files now, so that a key that does not belong to the
 * certificate, or a file that is not PEM, is refused at start in words (not as OpenSSL's
 * "key values mismatch" at the first connection).
 */
function checkTls<T extends { cert: Buffer; key: Buffer; ca?: Buffer }>(
  path: string,
  t: { cert_file: string; key_file: string; client_ca_file?: string },
  files: T,
): T {
  try {
    createSecureContext({ cert: files.cert, key: files.key, ...(files.ca ? { ca: files.ca } : {}) });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const code = (e as { code?: string }).code ?? "";
    let what: string;
    if (/key values mismatch/i.test(msg) || code === "ERR_OSSL_X509_KEY_VALUES_MISMATCH")
      what = `the key in ${t.key_file} does not belong to the certificate in ${t.cert_file}`;
    else if (/PEM|no start line|bad base64|ASN1|DECODER/i.test(msg + code))
      what = `${t.cert_file}, ${t.key_file}${t.client_ca_file ? ` or ${t.client_ca_file}` : ""} is not a PEM certificate or key`;
    else what = `cannot use the certificate and key: ${msg}`;
    throw new Error(`${path}: tls_server_config: ${what}`);
  }
  return files;
}

/** Reads and validates the web config; throws ConfigError naming file, line and field. */
export function loadWebConfig(path: string): LoadedWebConfig {
  const config = parseYamlConfigFile(path, webConfigSchema, {
    expected: "a mapping with tls_server_config and/or basic_auth_users",
    knownFieldsAt: (p) => WEB_KNOWN[p.length === 0 ? "" : String(p[0])] ?? [],
  });
  const t = config.tls_server_config;
  const read = (field: string, file: string): Buffer => {
    try {
      return readFileBounded(file, LIMITS.pem, "the file");
    } catch (e) {
      if (e instanceof BoundedReadError) throw new Error(`${path}: tls_server_config.${field}: ${e.message}`);
      throw e;
    }
  };
  const tlsFiles = t
    ? {
        cert: read("cert_file", t.cert_file),
        key: read("key_file", t.key_file),
        ...(t.client_ca_file ? { ca: read("client_ca_file", t.client_ca_file) } : {}),
        requestCert: t.client_auth_type === "RequireAndVerifyClientCert",
        ...(t.min_version
          ? { minVersion: t.min_version === "TLS13" ? ("TLSv1.3" as const) : ("TLSv1.2" as const) }
          : {}),
      }
    : null;
  const tls = tlsFiles && t ? checkTls(path, t, tlsFiles) : null;
  return { config, tls };
}
