import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadAlertConfig, parseAlertConfig } from "./config.js";
import { ConfigError } from "./errors.js";

const fixture = (name: string): string => fileURLToPath(new URL(`../../test/fixtures/alerts/${name}`, import.meta.url));

/** The messages of the ConfigError that loading `name` throws (file name cut to its base). */
async function errorsOf(name: string, env: Record<string, string> = {}): Promise<string[]> {
  const path = fixture(name);
  try {
    await loadAlertConfig(path, { env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    if (!(err instanceof ConfigError)) throw err;
    expect(err.file).toBe(path);
    return err.message.split("\n").map((l) => l.replace(path, name));
  }
  throw new Error(`${name} was accepted`);
}

describe("loadAlertConfig", () => {
  it("reads every field, fills defaults and expands ${ENV} in webhooks", async () => {
    const rules = await loadAlertConfig(fixture("full.yaml"), { env: { HOOK_PATH: "p/q", VSTEAL_TOKEN: "s3cret" } });
    expect(rules.map((r) => r.name)).toEqual([
      "VcpuContentionStealHigh",
      "VcpuThrottledHigh",
      "HostOversubscribed",
      "VmIdle",
    ]);
    const [contention, throttled, host, idle] = rules;
    const shared = {
      url: "https://alerts.example.com/hooks/p/q",
      headers: { Authorization: "Bearer s3cret" },
      timeoutMs: 2000,
      retries: 5,
    };
    expect(contention).toEqual({
      name: "VcpuContentionStealHigh",
      metric: "vcpu_contention",
      op: ">",
      threshold: 0.05,
      forMs: 180_000,
      clearThreshold: 0.04,
      clearForMs: 0,
      severity: "warning",
      labels: { team: "virt" },
      annotations: { summary: "contention steal above 5 %" },
      webhooks: [shared],
    });
    expect(throttled).toMatchObject({
      threshold: 0.5,
      forMs: 300_000,
      clearThreshold: 0.3,
      clearForMs: 60_000,
      severity: "info",
      webhooks: [],
    });
    expect(host).toMatchObject({
      metric: "host_demand_ratio",
      threshold: 1,
      forMs: 120_000,
      clearThreshold: 0.8,
      severity: "critical",
      webhooks: [{ url: "http://127.0.0.1:9/hook", headers: {}, timeoutMs: 5000, retries: 3 }],
    });
    // "<": the clear threshold lies above the threshold.
    expect(idle).toMatchObject({ op: "<", threshold: 0.01, forMs: 5_400_000, webhooks: [shared] });
    expect(idle?.clearThreshold).toBeCloseTo(0.012, 12);
  });

  it("names file, line and field of a bad duration", async () => {
    expect(await errorsOf("bad-duration.yaml")).toEqual([
      'bad-duration.yaml:12: rules[1].for: expected a duration like 30s, 5m or 1h30m, or seconds like 0.5, got "3 minutes"',
    ]);
  });

  it("refuses unknown fields, pointing at the typo and not also at the field it misspells", async () => {
    expect(await errorsOf("bad-typos.yaml")).toEqual([
      'bad-typos.yaml:5: rules[0].treshold: unknown field, did you mean "threshold"?',
      'bad-typos.yaml:7: rules[0].severty: unknown field, did you mean "severity"?',
    ]);
  });

  it("reports every bad value at once, in line order", async () => {
    expect(await errorsOf("bad-values.yaml")).toEqual([
      'bad-values.yaml:3: rules[0].metric: expected one of "vcpu_contention", "vcpu_delay", "vcpu_throttled", "vcpu_usage", "domain_contention", "host_demand_ratio", "host_steal", got "vcpu_steal"',
      'bad-values.yaml:9: rules[1].op: expected one of ">", "<", got "" (in YAML a bare > starts a folded text block: write op: ">" with quotes)',
      'bad-values.yaml:18: rules[2].severity: expected one of "info", "warning", "critical", got "urgent"',
    ]);
  });

  it("catches a fraction written as a percentage number", async () => {
    expect(await errorsOf("bad-numbers.yaml")).toEqual([
      'bad-numbers.yaml:5: rules[0].threshold: vcpu_contention is a fraction of wall time from 0 to 1, got 5 (for 5 % write "5%")',
    ]);
  });

  it("checks webhooks: scheme, environment, retries, timeout, header names", async () => {
    expect(await errorsOf("bad-webhook.yaml")).toEqual([
      "bad-webhook.yaml:2: webhooks[0].url: expected an http:// or https:// URL",
      "bad-webhook.yaml:10: rules[0].webhooks[0].url: environment variable ${MISSING_TOKEN} is not set",
      "bad-webhook.yaml:11: rules[0].webhooks[0].retries: must be at least 0, got -1",
      "bad-webhook.yaml:12: rules[0].webhooks[0].timeout: must be at most 10m, got 5000",
      'bad-webhook.yaml:14: rules[0].webhooks[0].headers["Bad Header"]: not a valid HTTP header name: "Bad Header"',
    ]);
  });

  it("refuses two rules with one name", async () => {
    expect(await errorsOf("bad-duplicate.yaml")).toEqual([
      'bad-duplicate.yaml:7: rules[1].name: duplicate rule name "A", first used by rules[0]',
    ]);
  });

  it("refuses a key given twice as a YAML error with its line", async () => {
    expect(await errorsOf("bad-yaml.yaml")).toEqual(["bad-yaml.yaml:4: not valid YAML: Map keys must be unique"]);
  });

  it("says so when the file cannot be read", async () => {
    const err = await loadAlertConfig("/nonexistent/alerts.yaml").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).toMatch(
      /^\/nonexistent\/alerts\.yaml: cannot read the file: .*no such file/,
    );
  });

  it("checks the clear threshold lies on the resolving side", () => {
    const text = [
      "rules:",
      "  - name: A",
      "    metric: host_demand_ratio",
      '    op: ">"',
      "    threshold: 1",
      "    clear_threshold: 1.2",
      "    for: 2m",
    ].join("\n");
    expect(() => parseAlertConfig(text, "a.yaml")).toThrow(
      'a.yaml:6: rules[0].clear_threshold: with op ">" the clear threshold must be at most the threshold (1), got 1.2',
    );
  });

  it("points at the rule when a required field is missing, and at the top for a non-mapping", () => {
    expect(() => parseAlertConfig("rules:\n  - name: A\n    metric: vcpu_delay\n", "a.yaml")).toThrow(
      /^a\.yaml:2: rules\[0\]\.op: required field is missing: one of ">", "<"\na\.yaml:2: rules\[0\]\.threshold: required field is missing\na\.yaml:2: rules\[0\]\.for: required field is missing: a duration like "3m"$/,
    );
    expect(() => parseAlertConfig("- a\n- b\n", "a.yaml")).toThrow(
      "a.yaml:1: expected a mapping with a `rules:` list, got a list",
    );
    expect(() => parseAlertConfig("", "a.yaml")).toThrow("a.yaml: the file is empty");
    expect(() => parseAlertConfig("rules: 3\n", "a.yaml")).toThrow("a.yaml:1: rules: expected a list, got 3");
  });

  it("points at the field's key when its value spans the following lines", () => {
    const text = [
      "rules:",
      "  - name: A",
      "    metric: vcpu_delay",
      '    op: ">"',
      "    threshold: 10%",
      "    for: 1m",
      "    annotations:",
      "      - a list, not a mapping",
    ].join("\n");
    expect(() => parseAlertConfig(text, "a.yaml")).toThrow(
      /^a\.yaml:7: rules\[0\]\.annotations: expected a mapping, got a list$/,
    );
  });

  it("refuses alias bombs", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x]",
      ...Array.from(
        { length: 8 },
        (_, i) => `${"bcdefghij"[i]}: &${"bcdefghij"[i]} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(", ")}]`,
      ),
    ].join("\n");
    expect(() => parseAlertConfig(bomb, "bomb.yaml")).toThrow(/^bomb\.yaml: not valid YAML: Excessive alias count/);
  });

  it("accepts an empty rule list", () => {
    expect(parseAlertConfig("rules: []\n", "a.yaml")).toEqual([]);
  });
});

describe("parseAlertConfig never throws anything but ConfigError naming the file", { timeout: 60_000 }, () => {
  const env = {};
  const expectConfigErrorOrRules = (text: string): void => {
    try {
      const rules = parseAlertConfig(text, "fuzz.yaml", { env });
      expect(Array.isArray(rules)).toBe(true);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      expect(err.message).toContain("fuzz.yaml");
      for (const line of err.message.split("\n")) expect(line.startsWith("fuzz.yaml")).toBe(true);
    }
  };

  it("on arbitrary text", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 300 }), expectConfigErrorOrRules), { numRuns: 500 });
  });

  it("on YAML made of YAML-ish tokens", () => {
    const token = fc.constantFrom(
      "rules:",
      "- ",
      "  ",
      "\n",
      "name: a",
      "metric: vcpu_delay",
      'op: ">"',
      "op: >",
      "threshold: 5%",
      "for: 3m",
      "for: 3 minutes",
      "webhooks:",
      "url: http://x",
      "&a ",
      "*a",
      "[",
      "]",
      "{",
      "}",
      ": ",
      "#",
      "'",
      '"',
      "!!str ",
      "!!binary ",
      "---",
      "...",
      "? ",
      "<<: *a",
      "%YAML 1.2",
    );
    fc.assert(
      fc.property(
        fc.array(token, { maxLength: 40 }).map((t) => t.join("")),
        expectConfigErrorOrRules,
      ),
      {
        numRuns: 1000,
      },
    );
  });

  it("on any JSON-like value written as YAML, and on near-valid rules", () => {
    const anyValue = fc.anything({
      maxDepth: 3,
      withNullPrototype: false,
      withMap: false,
      withSet: false,
      withBigInt: false,
    });
    const field = fc.oneof(
      anyValue,
      fc.constantFrom("3m", "5%", ">", "<", "vcpu_delay", "host_steal", 0.5, -1, "", null),
    );
    const rule = fc.dictionary(
      fc.constantFrom(
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
        "bogus",
      ),
      field,
    );
    const config = fc.oneof(anyValue, fc.record({ rules: fc.array(rule, { maxLength: 4 }) }, { requiredKeys: [] }));
    fc.assert(
      fc.property(config, (c) => {
        let text: string;
        try {
          text = stringify(c);
        } catch {
          return; // not representable as YAML: nothing to test
        }
        expectConfigErrorOrRules(text);
      }),
      { numRuns: 1000 },
    );
  });

  it("on alias bombs and deep nesting", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x]",
      ...Array.from(
        { length: 8 },
        (_, i) => `${"bcdefghij"[i]}: &${"bcdefghij"[i]} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(", ")}]`,
      ),
    ].join("\n");
    expectConfigErrorOrRules(bomb);
    expectConfigErrorOrRules("[".repeat(5000) + "]".repeat(5000));
    expectConfigErrorOrRules(`rules: ${"[".repeat(2000)}`);
  });
});

describe("default-rules.yaml", () => {
  it("parses to what the code exports as DEFAULT_RULES", async () => {
    const { DEFAULT_RULES } = await import("./rules.js");
    const text = await readFile(new URL("./default-rules.yaml", import.meta.url), "utf8");
    expect(parseAlertConfig(text, "default-rules.yaml")).toEqual(DEFAULT_RULES);
  });
});
