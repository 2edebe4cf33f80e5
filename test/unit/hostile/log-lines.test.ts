/**
 * Names from outside reach log files too: the notifier's JSON log and the migration audit log
 * are read with tail, less and journalctl. JSON.stringify leaves C1 controls (U+009B starts a
 * terminal escape on many terminals), DEL, line separators and bidi overrides raw; jsonLine
 * escapes them while the line stays JSON that parses to the very same value.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { Notifier } from "../../../src/alerts/notifier.js";
import { FileAuditLog } from "../../../src/migrate/audit-log.js";
import { jsonLine } from "../../../src/util/json.js";

/* eslint-disable no-control-regex */
const RAW_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
/* eslint-enable no-control-regex */
const HOSTILE = "vm\u009b31m\u202egnp.exe\u2028\u0085\u007f\u001b[2J";

const dir = mkdtempSync(join(tmpdir(), "vsteal-hostile-logs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("jsonLine", () => {
  it("is JSON of the same value, with no raw control, separator or bidi character", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), fc.integer(), (s, n) => {
        const line = jsonLine({ s, n, nested: [s] });
        expect(RAW_UNSAFE.test(line)).toBe(false);
        expect(JSON.parse(line)).toEqual({ s, n, nested: [s] });
      }),
    );
  });

  it("writes bigints exactly, as stringifyExact does", () => {
    expect(jsonLine({ ns: 18446744073709551615n })).toBe('{"ns":18446744073709551615}');
  });
});

describe("log files", () => {
  it("the audit log keeps a hostile VM name exactly, escaped", () => {
    const path = join(dir, "audit.jsonl");
    new FileAuditLog(path).write({
      time: "2026-12-01T00:00:00.000Z",
      actor: "controller",
      action: "migrate",
      plan_id: "p1",
      move: 0,
      vm: HOSTILE,
      from: "a",
      to: "b",
      result: "started",
      reason: HOSTILE,
      duration_ms: null,
    });
    const text = readFileSync(path, "utf8");
    expect(RAW_UNSAFE.test(text.slice(0, -1))).toBe(false);
    expect(text).toContain("\\u009b31m\\u202egnp.exe\\u2028\\u0085\\u007f\\u001b[2J");
    expect(JSON.parse(text).vm).toBe(HOSTILE);
  });

  it("the notifier's log line escapes a hostile VM name and keeps it exactly", () => {
    const lines: string[] = [];
    const n = new Notifier({ rules: [], log: { write: (l: string) => lines.push(l) } });
    n.notify([
      {
        rule: "steal",
        subject: { kind: "vm", domain: HOSTILE } as never,
        state: "firing",
        value: 0.5,
        threshold: 0.2,
        atMs: 0,
        severity: "warning",
        labels: { domain: HOSTILE },
        annotations: {},
      },
    ]);
    expect(lines.length).toBe(1);
    expect(RAW_UNSAFE.test(lines[0]!.slice(0, -1))).toBe(false);
    expect(JSON.parse(lines[0]!).labels.domain).toBe(HOSTILE);
  });
});
