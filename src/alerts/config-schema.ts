/**
 * The zod schema of an alert config file (snake_case, durations and percentages as text) and
 * its transformation into AlertRule values. Messages say what was expected and quote what was
 * found; config.ts adds the file, line and field.
 */
import { z } from "zod";
import { describeValue } from "../validation/wording.js";
import { durationSchema } from "../util/duration.js";
import { headerProblem } from "../util/http-header.js";
import {
  ALERT_METRICS,
  ALERT_METRIC_NAMES,
  ALERT_SEVERITIES,
  WEBHOOK_DEFAULTS,
  defaultClearThreshold,
  type AlertRule,
  type Webhook,
} from "./rules.js";

const PERCENT = /^(-?\d+(?:\.\d+)?)\s*%$/;

/** A number, or a percentage such as "5%" (→ 0.05). */
const threshold = z.unknown().transform((v, ctx): number => {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  const m = typeof v === "string" ? PERCENT.exec(v.trim()) : null;
  if (m !== null) return Number(m[1]) / 100;
  ctx.addIssue({
    code: "custom",
    message:
      v === undefined
        ? "required field is missing"
        : `expected a number or a percentage like "5%", got ${describeValue(v)}`,
    input: v,
    params: { missing: v === undefined },
  });
  return z.NEVER;
});

/** `for`, `clear_for`: 0 allowed (at once), at most Node's timer limit. */
const duration = durationSchema({ minMs: 0 });
/** A webhook's timeout: more than 0, at most 10 minutes (an alert that late is no alert). */
const webhookTimeout = durationSchema({ maxMs: 600_000 });

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** A string in which `${NAME}` is replaced by the environment variable NAME (which must be set). */
function expanded(env: Readonly<Record<string, string | undefined>>) {
  return z.string().transform((s, ctx): string => {
    const missing: string[] = [];
    const out = s.replace(ENV_REF, (_all, name: string) => {
      const value = env[name];
      if (value === undefined) missing.push(name);
      return value ?? "";
    });
    if (missing.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `environment variable ${missing.map((n) => `\${${n}}`).join(", ")} is not set`,
        input: s,
      });
      return z.NEVER;
    }
    return out;
  });
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function webhookSchema(env: Readonly<Record<string, string | undefined>>) {
  return z
    .strictObject({
      url: expanded(env).transform((s, ctx): string => {
        let url: URL | null = null;
        try {
          url = new URL(s);
        } catch {
          url = null;
        }
        if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) {
          ctx.addIssue({ code: "custom", message: "expected an http:// or https:// URL", input: s });
          return z.NEVER;
        }
        if (url.username !== "" || url.password !== "") {
          // fetch refuses such URLs: every delivery would fail. (The input is not quoted: it holds a secret.)
          ctx.addIssue({
            code: "custom",
            message:
              'must not hold credentials (user:password@): send them as a header instead, e.g. headers: { Authorization: "Basic …" }',
            input: "[REDACTED]",
          });
          return z.NEVER;
        }
        return s;
      }),
      headers: z
        .record(
          z.string().regex(HEADER_NAME, { error: "not a valid HTTP header name" }),
          expanded(env).refine((s) => headerProblem("x", s) === null, {
            error: "a header value cannot hold line breaks or control characters",
          }),
        )
        .optional(),
      timeout: webhookTimeout.optional(),
      retries: z.number().int().min(0).max(20).optional(),
    })
    .transform((w): Webhook => ({
      url: w.url,
      headers: w.headers ?? {},
      timeoutMs: w.timeout ?? WEBHOOK_DEFAULTS.timeoutMs,
      retries: w.retries ?? WEBHOOK_DEFAULTS.retries,
    }));
}

function ruleSchema(env: Readonly<Record<string, string | undefined>>) {
  return z
    .strictObject({
      name: z.string().min(1).max(200),
      metric: z.enum(ALERT_METRIC_NAMES),
      op: z.enum([">", "<"]),
      threshold,
      for: duration,
      clear_threshold: threshold.optional(),
      clear_for: duration.optional(),
      severity: z.enum(ALERT_SEVERITIES).optional(),
      labels: z.record(z.string().regex(LABEL_NAME, { error: "not a valid label name" }), z.string()).optional(),
      annotations: z.record(z.string().min(1), z.string()).optional(),
      webhooks: z.array(webhookSchema(env)).optional(),
    })
    .superRefine((r, ctx) => {
      if (ALERT_METRICS[r.metric].fraction && (r.threshold < 0 || r.threshold > 1)) {
        ctx.addIssue({
          code: "custom",
          path: ["threshold"],
          message:
            `${r.metric} is a fraction of wall time from 0 to 1, got ${r.threshold}` +
            (r.threshold > 1 && r.threshold <= 100 ? ` (for ${r.threshold} % write "${r.threshold}%")` : ""),
        });
      }
      if (r.clear_threshold !== undefined) {
        const wrongSide = r.op === ">" ? r.clear_threshold > r.threshold : r.clear_threshold < r.threshold;
        if (wrongSide) {
          ctx.addIssue({
            code: "custom",
            path: ["clear_threshold"],
            message: `with op "${r.op}" the clear threshold must be ${r.op === ">" ? "at most" : "at least"} the threshold (${r.threshold}), got ${r.clear_threshold}`,
          });
        }
      }
    });
}

/** The whole config file. `env` is where `${NAME}` in webhook URLs and headers is looked up. */
export function configSchema(env: Readonly<Record<string, string | undefined>>) {
  const webhook = webhookSchema(env);
  return z
    .strictObject({
      /** Webhooks of every rule that lists none of its own. */
      webhooks: z.array(webhook).optional(),
      rules: z.array(ruleSchema(env)),
    })
    .superRefine((c, ctx) => {
      const seen = new Map<string, number>();
      c.rules.forEach((r, i) => {
        const first = seen.get(r.name);
        if (first !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["rules", i, "name"],
            message: `duplicate rule name ${JSON.stringify(r.name)}, first used by rules[${first}]`,
          });
        } else {
          seen.set(r.name, i);
        }
      });
    })
    .transform((c): AlertRule[] =>
      c.rules.map((r) => ({
        name: r.name,
        metric: r.metric,
        op: r.op,
        threshold: r.threshold,
        forMs: r.for,
        clearThreshold: r.clear_threshold ?? defaultClearThreshold(r.op, r.threshold),
        clearForMs: r.clear_for ?? 0,
        severity: r.severity ?? "warning",
        labels: r.labels ?? {},
        annotations: r.annotations ?? {},
        webhooks: r.webhooks ?? c.webhooks ?? [],
      })),
    );
}

/** Field names per object kind, for "did you mean" hints on unknown fields. */
export const KNOWN_FIELDS = {
  root: ["webhooks", "rules"],
  rule: [
    "name",
    "metric",
    "op",
    "threshold",
    "for",
    "clear_threshold",
    "clear_for",
    "severity",
    "labels",
    "annotations",
    "webhooks",
  ],
  webhook: ["url", "headers", "timeout", "retries"],
} as const;
