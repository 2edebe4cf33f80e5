import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseYamlConfigText } from "../config/yaml.js";
import { FleetValidationError, parseSnapshot } from "../model/fleet.js";
import { parsePlanOptions } from "../planner/options.js";
import { describeValue, formatPath, wordIssue } from "./wording.js";

const reasons = (f: () => unknown): string[] => {
  try {
    f();
  } catch (e) {
    if (e instanceof FleetValidationError) return e.issues.map((i) => `${i.field}: ${i.reason}`);
    throw e;
  }
  throw new Error("no error");
};

describe("one wording of validation problems", () => {
  it("words bounds, types, enums and unknown fields the same in config files, snapshots and planner options", () => {
    const schema = z.strictObject({ samples: z.number().int().min(8), mode: z.enum(["bursty", "fluid"]) });
    expect(() =>
      parseYamlConfigText("samples: 4\nmode: flud\nsampels: 1\n", "c.yaml", schema, {
        expected: "a mapping",
        knownFieldsAt: () => ["samples", "mode"],
      }),
    ).toThrow(
      [
        "c.yaml:1: samples: must be at least 8, got 4",
        'c.yaml:2: mode: expected one of "bursty", "fluid", got "flud" (did you mean "fluid"?)',
        'c.yaml:3: sampels: unknown field, did you mean "samples"?',
      ].join("\n"),
    );
    expect(reasons(() => parsePlanOptions({ model: { mode: "flud", samples: 4 }, minGian: 1 }))).toEqual([
      'options.model.mode: expected one of "bursty", "fluid", got "flud" (did you mean "fluid"?)',
      "options.model.samples: must be at least 8, got 4",
      'options.minGian: unknown field, did you mean "minGain"?',
    ]);
    expect(
      reasons(() =>
        parseSnapshot({
          version: 1,
          time: "2026-11-25T12:00:00Z",
          window_s: 300,
          hosts: [{ name: "h", cpus: 0, memory_mib: 1, accepts_vms: "yes" }],
          vms: [],
        }),
      ),
    ).toEqual(["hosts[0].cpus: must be at least 1, got 0", 'hosts[0].accepts_vms: expected true or false, got "yes"']);
  });

  it("names paths and values the way a person reads them", () => {
    expect(formatPath(["rules", 1, "labels", "team name"])).toBe('rules[1].labels["team name"]');
    expect(describeValue("x".repeat(70))).toBe(`"${"x".repeat(60)}…"`);
    expect(describeValue([1])).toBe("a list");
    const r = z.object({ a: z.number() }).safeParse({}, { reportInput: true });
    expect(r.success ? [] : wordIssue(r.error.issues[0]!, {})).toEqual([
      { path: ["a"], reason: "required field is missing", missing: true },
    ]);
  });
});
