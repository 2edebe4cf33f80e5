/**
 * Class 2 of the hostile-input review: durations and timers. One parser (src/util/duration.ts)
 * reads every duration — CLI options, alert rules, hosts files, the API — and bounds it by
 * Node's timer limit: a timer set beyond it fires after 1 ms.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "commander";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { parseAlertConfig } from "../../../src/alerts/config.js";
import { durationSeconds, intervalAtLeast, sampleInterval } from "../../../src/cli/args.js";
import { loadMigrateHosts } from "../../../src/migrate/hosts.js";
import { TIMER_MAX_MS, checkDuration, formatDuration, parseDurationMs } from "../../../src/util/duration.js";

const dir = mkdtempSync(join(tmpdir(), "vsteal-hostile-dur-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a duration that is a mapping or a list", () => {
  it("is refused with words, never a TypeError (fast-check found {toString: []})", () => {
    expect(checkDuration({ toString: [] })).toEqual({
      ok: false,
      reason: "expected a duration like 30s, 5m or 1h30m, or seconds like 0.5, got a mapping",
    });
    expect(checkDuration([1])).toMatchObject({ ok: false, reason: expect.stringMatching(/got a list$/) });
  });
});

describe("one duration syntax, bounded", () => {
  it("reads Prometheus durations and plain seconds alike", () => {
    expect(parseDurationMs("90s")).toBe(90_000);
    expect(parseDurationMs("1h30m")).toBe(5_400_000);
    expect(parseDurationMs("500ms")).toBe(500);
    expect(parseDurationMs("60")).toBe(60_000);
    expect(parseDurationMs("0.5")).toBe(500);
    expect(parseDurationMs(2)).toBe(2_000);
  });

  it("Node really does fire a timer past its limit at once: the bound is needed", async () => {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      const warn = process.emitWarning;
      process.emitWarning = () => undefined; // TimeoutOverflowWarning
      setTimeout(resolve, TIMER_MAX_MS + 1);
      process.emitWarning = warn;
    });
    // It fired: we are here. (No timing assert: that it returned at all is the witness.)
    expect(process.hrtime.bigint() > t0).toBe(true);
  });

  it("fast-check: whatever the text, a duration accepted is a finite number of ms within (0, 2^31 − 1]", () => {
    const texty = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc
        .tuple(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.constantFrom("", "ms", "s", "m", "h", "d", "w", ".5", "e9"))
        .map(([n, u]) => `${n}${u}`),
      fc.double().map(String),
    );
    fc.assert(
      fc.property(texty, (t) => {
        const r = checkDuration(t);
        if (r.ok) {
          expect(Number.isFinite(r.ms)).toBe(true);
          expect(r.ms).toBeGreaterThan(0);
          expect(r.ms).toBeLessThanOrEqual(TIMER_MAX_MS);
        } else {
          expect(r.reason).toMatch(/^(expected a duration like|must be)/);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("fast-check: every duration up to the limit reads back from its written form", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: TIMER_MAX_MS }),
        (ms) => checkDuration(formatDuration(ms)).ok && parseDurationMs(formatDuration(ms)) === ms,
      ),
    );
  });

  it("the CLI: --interval 30d (over the timer limit) is refused with the limit, not run every millisecond", () => {
    expect(() => durationSeconds("30d")).toThrow(InvalidArgumentError);
    expect(() => durationSeconds("30d")).toThrow(
      /must be at most 24d20h31m23s \(the longest timer Node\.js can set\), got "30d"/,
    );
    expect(() => durationSeconds("3000000")).toThrow(/must be at most/);
    expect(() => durationSeconds("1e9")).toThrow(/expected a duration/);
    expect(() => durationSeconds("0")).toThrow(/must be more than 0/);
    expect(durationSeconds("24d")).toBe(24 * 86_400);
  });

  it("the CLI: a loop's interval has a floor, so --interval 1ms cannot spend a core sweeping without pause", () => {
    expect(() => sampleInterval("1ms")).toThrow(/must be at least 100ms, got "1ms"/);
    expect(() => sampleInterval("0.05")).toThrow(/must be at least 100ms/);
    expect(sampleInterval("100ms")).toBe(0.1);
    expect(sampleInterval("5")).toBe(5);
    expect(() => intervalAtLeast(1000)("500ms")).toThrow(/must be at least 1s, got "500ms"/);
    expect(intervalAtLeast(1000)("1")).toBe(1);
    expect(() => sampleInterval("30d")).toThrow(/must be at most/);
  });

  it("the alert config: a webhook timeout or a for: beyond the limit is refused, naming file and field", () => {
    const yaml = (timeout: string, forText: string) =>
      `rules:\n  - name: r\n    metric: vcpu_contention\n    op: ">"\n    threshold: 5%\n    for: ${forText}\n    webhooks:\n      - url: http://127.0.0.1:1/x\n        timeout: ${timeout}\n`;
    expect(() => parseAlertConfig(yaml("30d", "3m"), "a.yaml")).toThrow(
      /a\.yaml:9: rules\[0\]\.webhooks\[0\]\.timeout: must be at most 10m, got "30d"/,
    );
    expect(() => parseAlertConfig(yaml("5s", "999999999s"), "a.yaml")).toThrow(
      /a\.yaml:6: rules\[0\]\.for: must be at most 24d20h31m23s/,
    );
    expect(() => parseAlertConfig(yaml("5s", "0s"), "a.yaml")).not.toThrow();
  });

  it("the migration hosts file: timeout in seconds or as a duration, bounded", () => {
    const f = join(dir, "m.yaml");
    writeFileSync(f, "timeout: 10m\n");
    expect(loadMigrateHosts(f).timeoutS).toBe(600);
    writeFileSync(f, "timeout: 600\n");
    expect(loadMigrateHosts(f).timeoutS).toBe(600);
    writeFileSync(f, "timeout: 1e12\n");
    expect(() => loadMigrateHosts(f)).toThrow(/m\.yaml:1: timeout: must be at most/);
  });
});
