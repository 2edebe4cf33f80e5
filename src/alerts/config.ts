/**
 * Reading an alert config file (YAML) into validated AlertRule values. Every problem is
 * reported with the file, the line and the field, e.g.
 * `alerts.yaml:12: rules[1].for: expected a duration like "3m", got "3 minutes"`.
 * Unknown fields are errors: a typo must never silently switch a setting off.
 */
import { readFile } from "node:fs/promises";
import { ConfigError } from "../config/errors.js";
import { parseYamlConfigText } from "../config/yaml.js";
import { KNOWN_FIELDS, configSchema } from "./config-schema.js";
import type { AlertRule } from "./rules.js";

export interface LoadOptions {
  /** Where `${NAME}` in webhook URLs and header values is looked up; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Read and validate the alert config at `path`; throws ConfigError (only) when it is unusable. */
export async function loadAlertConfig(path: string, options: LoadOptions = {}): Promise<AlertRule[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^[A-Z]+: /, "") : String(err);
    throw new ConfigError(path, [{ line: null, column: null, field: "", reason: `cannot read the file: ${reason}` }]);
  }
  return parseAlertConfig(text, path, options);
}

/**
 * Validate the text of an alert config; `file` names it in messages. Throws ConfigError, and
 * nothing else, whatever the text.
 */
export function parseAlertConfig(text: string, file: string, options: LoadOptions = {}): AlertRule[] {
  return parseYamlConfigText(text, file, schemaFor(options.env ?? process.env), {
    expected: "a mapping with a `rules:` list",
    knownFieldsAt,
  });
}

const schemas = new WeakMap<object, ReturnType<typeof configSchema>>();

/** Building the schema costs a few ms: one per environment object. */
function schemaFor(env: Readonly<Record<string, string | undefined>>): ReturnType<typeof configSchema> {
  let schema = schemas.get(env);
  if (schema === undefined) {
    schema = configSchema(env);
    schemas.set(env, schema);
  }
  return schema;
}

/** Which fields the object at `path` may have. */
function knownFieldsAt(path: readonly PropertyKey[]): readonly string[] {
  if (path.length === 0) return KNOWN_FIELDS.root;
  if (path.at(-2) === "webhooks") return KNOWN_FIELDS.webhook;
  if (path.length === 2 && path[0] === "rules") return KNOWN_FIELDS.rule;
  return [];
}
